/*
 * A hash index: 64-bit hash -> a caller's value (an index into its own
 * array, or a pointer), open addressing with linear probing, kept at most
 * half full, removal by backward shift (no tombstones, so a table that
 * churns never slows down).  The table stores no keys: lookups give a
 * predicate that compares the caller's key with a candidate value.  It
 * allocates only its slot array, so it serves glibc tools and the static
 * musl nodeinit alike.
 *
 * Functions return -1 and set errno on failure (ENOMEM), libmnl's rule.
 */
#ifndef BPROC_HTAB_H
#define BPROC_HTAB_H

#include <stddef.h>
#include <stdint.h>

struct htab_slot {
	uint64_t	hash;
	uintptr_t	val;
	int		used;
};

struct htab {
	struct htab_slot	*slots;
	size_t			 nslots;	/* 0 or a power of two */
	size_t			 count;
};

/* Does value v hold the key the caller looks for? */
typedef int	htab_eq_fn(uintptr_t v, const void *key);

#define HTAB_INIT	{ NULL, 0, 0 }

void		htab_init(struct htab *);
void		htab_free(struct htab *);
int		htab_put(struct htab *, uint64_t, uintptr_t);
int		htab_get(const struct htab *, uint64_t, htab_eq_fn *,
		    const void *, uintptr_t *);
int		htab_del(struct htab *, uint64_t, uintptr_t);
int		htab_reserve(struct htab *, size_t);
uint64_t	htab_hash(const void *, size_t);
uint64_t	htab_mix(uint64_t, uint64_t);

#endif
