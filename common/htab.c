/*
 * The hash index of htab.h.  Linear probing keeps a lookup inside one or
 * two cache lines; the half-full bound keeps probe runs short.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "htab.h"

#define HTAB_MIN	16	/* slots of a table's first allocation */

void
htab_init(struct htab *t)
{
	memset(t, 0, sizeof(*t));
}

void
htab_free(struct htab *t)
{
	free(t->slots);
	htab_init(t);
}

static size_t
htab_home(const struct htab *t, uint64_t hash)
{
	/* the high bits mix in too: callers' hashes may vary only there */
	return (size_t)(hash ^ (hash >> 32)) & (t->nslots - 1);
}

static void
htab_place(struct htab *t, uint64_t hash, uintptr_t val)
{
	size_t	i = htab_home(t, hash);

	while (t->slots[i].used)
		i = (i + 1) & (t->nslots - 1);
	t->slots[i].hash = hash;
	t->slots[i].val = val;
	t->slots[i].used = 1;
	t->count++;
}

/* Room for want entries without growing: 0, or -1 with ENOMEM. */
int
htab_reserve(struct htab *t, size_t want)
{
	struct htab_slot	*old = t->slots;
	size_t			 n = HTAB_MIN, oldn = t->nslots, i;

	if (t->nslots > 2 * want)
		return 0;
	while (n <= 2 * want) {
		if (n > SIZE_MAX / 2 / sizeof(*old)) {
			errno = ENOMEM;
			return -1;
		}
		n *= 2;
	}
	if ((t->slots = calloc(n, sizeof(*t->slots))) == NULL) {
		t->slots = old;
		return -1;
	}
	t->nslots = n;
	t->count = 0;
	for (i = 0; i < oldn; i++)
		if (old[i].used)
			htab_place(t, old[i].hash, old[i].val);
	free(old);
	return 0;
}

/* Add val under hash (a value may be added twice; the caller checks). */
int
htab_put(struct htab *t, uint64_t hash, uintptr_t val)
{
	if (htab_reserve(t, t->count + 1) == -1)
		return -1;
	htab_place(t, hash, val);
	return 0;
}

/* 1 and *val when some value under hash satisfies eq, else 0. */
int
htab_get(const struct htab *t, uint64_t hash, htab_eq_fn *eq,
    const void *key, uintptr_t *val)
{
	size_t	i;

	if (t->nslots == 0)
		return 0;
	for (i = htab_home(t, hash); t->slots[i].used;
	    i = (i + 1) & (t->nslots - 1))
		if (t->slots[i].hash == hash && eq(t->slots[i].val, key)) {
			if (val != NULL)
				*val = t->slots[i].val;
			return 1;
		}
	return 0;
}

/*
 * Remove the entry (hash, val): 0, or -1 with ENOENT.  The entries after
 * the hole that could live in it move back, so every probe run stays
 * unbroken.
 */
int
htab_del(struct htab *t, uint64_t hash, uintptr_t val)
{
	size_t	i, j, home, mask = t->nslots - 1;

	if (t->nslots == 0) {
		errno = ENOENT;
		return -1;
	}
	for (i = htab_home(t, hash); t->slots[i].used; i = (i + 1) & mask)
		if (t->slots[i].hash == hash && t->slots[i].val == val)
			break;
	if (!t->slots[i].used) {
		errno = ENOENT;
		return -1;
	}
	for (j = (i + 1) & mask; t->slots[j].used; j = (j + 1) & mask) {
		home = htab_home(t, t->slots[j].hash);
		/* j may move to i when its home is not within (i, j] */
		if (((j - home) & mask) >= ((j - i) & mask)) {
			t->slots[i] = t->slots[j];
			i = j;
		}
	}
	t->slots[i].used = 0;
	t->count--;
	return 0;
}

/* FNV-1a, 64 bits, of len bytes. */
uint64_t
htab_hash(const void *p, size_t len)
{
	const unsigned char	*s = p;
	uint64_t		 h = 14695981039346656037ULL;

	while (len-- > 0)
		h = (h ^ *s++) * 1099511628211ULL;
	return h;
}

/* Fold one more integer key field into a hash. */
uint64_t
htab_mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
	return h * 0xff51afd7ed558ccdULL;
}
