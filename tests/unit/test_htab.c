/*
 * Unit tests for common/htab.c: lookups through collisions, growth, and
 * removal that keeps every other entry findable (the backward shift).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "htab.h"

#define N	5000	/* enough to grow the table many times */

static int	keys[N];

static int
eq_key(uintptr_t v, const void *key)
{
	return keys[v] == *(const int *)key;
}

/* A deliberately poor hash: 8 buckets' worth of values, long runs. */
static uint64_t
weak(int k)
{
	return (uint64_t)(k % 8);
}

static int
has(const struct htab *t, int k, uint64_t (*h)(int))
{
	uintptr_t	v = UINTPTR_MAX;

	if (!htab_get(t, h(k), eq_key, &k, &v))
		return 0;
	assert_int_equal(keys[v], k);
	return 1;
}

static uint64_t
good(int k)
{
	return htab_hash(&k, sizeof(k));
}

static void
fill(struct htab *t, uint64_t (*h)(int))
{
	int	i;

	htab_init(t);
	for (i = 0; i < N; i++) {
		keys[i] = i * 7 + 1;
		assert_int_equal(htab_put(t, h(keys[i]), (uintptr_t)i), 0);
	}
	assert_int_equal(t->count, N);
	assert_true(t->nslots > 2 * N);
}

static void
test_get(void **state)
{
	struct htab	t;
	int		i, miss = 3;

	(void)state;
	fill(&t, good);
	for (i = 0; i < N; i++)
		assert_true(has(&t, keys[i], good));
	assert_false(has(&t, miss, good));	/* 3 is no i * 7 + 1 */
	htab_free(&t);
	assert_int_equal(t.nslots, 0);
	assert_false(has(&t, keys[0], good));
}

static void
test_del_collisions(void **state)
{
	struct htab	t;
	int		i;

	(void)state;
	fill(&t, weak);
	/* remove every third: the others must stay reachable */
	for (i = 0; i < N; i += 3)
		assert_int_equal(htab_del(&t, weak(keys[i]), (uintptr_t)i), 0);
	for (i = 0; i < N; i++)
		assert_int_equal(has(&t, keys[i], weak), i % 3 != 0);
	assert_int_equal(htab_del(&t, weak(keys[0]), 0), -1);
	for (i = 0; i < N; i++)
		if (i % 3 != 0)
			assert_int_equal(htab_del(&t, weak(keys[i]),
			    (uintptr_t)i), 0);
	assert_int_equal(t.count, 0);
	for (i = 0; i < N; i++)
		assert_false(has(&t, keys[i], weak));
	htab_free(&t);
}

/* Removal near the end of the slot array wraps to its start. */
static void
test_del_wrap(void **state)
{
	struct htab	t;
	uint64_t	last;
	int		i;

	(void)state;
	htab_init(&t);
	assert_int_equal(htab_reserve(&t, 4), 0);
	last = t.nslots - 1;
	for (i = 0; i < 4; i++) {
		keys[i] = i;
		assert_int_equal(htab_put(&t, last, (uintptr_t)i), 0);
	}
	keys[4] = 4;
	assert_int_equal(htab_put(&t, 0, 4), 0);
	assert_int_equal(htab_del(&t, last, 0), 0);
	for (i = 1; i < 4; i++)
		assert_true(htab_get(&t, last, eq_key, &keys[i], NULL));
	assert_true(htab_get(&t, 0, eq_key, &keys[4], NULL));
	htab_free(&t);
}

static void
test_hash(void **state)
{
	(void)state;
	/* FNV-1a 64's published values */
	assert_true(htab_hash("", 0) == 0xcbf29ce484222325ULL);
	assert_true(htab_hash("a", 1) == 0xaf63dc4c8601ec8cULL);
	assert_true(htab_hash("foobar", 6) == 0x85944171f73967e8ULL);
	assert_true(htab_mix(1, 2) != htab_mix(2, 1));
}

int
main(void)
{
	const struct CMUnitTest	tests[] = {
		cmocka_unit_test(test_get),
		cmocka_unit_test(test_del_collisions),
		cmocka_unit_test(test_del_wrap),
		cmocka_unit_test(test_hash),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
