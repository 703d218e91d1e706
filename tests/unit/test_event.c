/*
 * Unit tests for bpmaster's timer heap (master/daemon/event.c): timers
 * fire soonest first, equal deadlines in the order they were set, a timer
 * re-armed or deleted while others wait lands where it should, and a
 * thousand links' worth of re-arms keep the order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "event.h"

#define NT	1500	/* timers: above a thousand node links */

static struct ev_timer	 tm[NT];
static int		 fired[NT], nfired, expect;
static volatile sig_atomic_t stop;

static void
on_fire(void *arg)
{
	int	i = (int)(intptr_t)arg;

	fired[nfired++] = i;
	if (nfired == expect)
		stop = 1;
}

static void
run(int n)
{
	nfired = 0;
	expect = n;
	stop = 0;
	ev_loop(&stop);
	assert_int_equal(nfired, n);
}

/* Deadlines given in ms, in a shuffled order: they fire sorted. */
static void
test_order(void **state)
{
	int	i, j, order[NT];

	(void)state;
	for (i = 0; i < NT; i++)
		order[i] = i;
	srandom(7);
	for (i = NT - 1; i > 0; i--) {
		j = (int)(random() % (i + 1));
		int t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	/* timer k is due after k / 100 ms: 15 groups of equal deadlines */
	for (i = 0; i < NT; i++)
		ev_timer_set(&tm[order[i]], (uint64_t)order[i] / 100, on_fire,
		    (void *)(intptr_t)order[i]);
	run(NT);
	/* soonest first (the clock runs while they are set, so by when);
	 * equal deadlines in the order they were set */
	for (i = 1; i < NT; i++) {
		const struct ev_timer *a = &tm[fired[i - 1]], *b = &tm[fired[i]];

		assert_true(a->when <= b->when);
		if (a->when == b->when)
			assert_true(a->seq < b->seq);
	}
	for (i = 0; i < NT; i++)
		assert_int_equal(tm[i].armed, 0);
}

/* Deleting and re-arming in the middle of the heap. */
static void
test_del_rearm(void **state)
{
	int	i, seen[NT] = { 0 };

	(void)state;
	for (i = 0; i < NT; i++)
		ev_timer_set(&tm[i], (uint64_t)(i % 10), on_fire,
		    (void *)(intptr_t)i);
	/* every third goes, every fifth is moved to the front */
	for (i = 0; i < NT; i += 3)
		ev_timer_del(&tm[i]);
	for (i = 0; i < NT; i += 5)
		ev_timer_set(&tm[i], 0, on_fire, (void *)(intptr_t)i);
	ev_timer_del(&tm[1]);
	ev_timer_del(&tm[1]);		/* twice is harmless */
	expect = 0;
	for (i = 0; i < NT; i++)
		if (i != 1 && (i % 3 != 0 || i % 5 == 0))
			expect++;
	run(expect);
	for (i = 0; i < nfired; i++) {
		assert_int_equal(seen[fired[i]], 0);
		seen[fired[i]] = 1;
		assert_true(fired[i] != 1);
		assert_true(fired[i] % 3 != 0 || fired[i] % 5 == 0);
	}
	/* the moved ones (due at once) came before any due later */
	for (i = 1; i < nfired; i++)
		if (fired[i] % 5 == 0)
			assert_true(fired[i - 1] % 5 == 0 ||
			    tm[fired[i - 1]].when <= tm[fired[i]].when);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_del_rearm),
	};

	if (ev_init() == -1)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
