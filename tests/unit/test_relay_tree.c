/*
 * The relay tree's shape (master/daemon/relay_tree.c): a heap of width
 * fanout over the members in join order, and its repair when relays stop
 * serving.  Checked on every size up to 300 and every width up to 9: each
 * member but the root has a parent before it, no member has more than
 * fanout children, the depth is the heap's; after any relays fail, every
 * working member is fed by a working one or by the master, the tree has no
 * cycle, only one new root appears when the root fails, and nothing moves
 * that did not have to.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "relay_tree.h"

#define NMAX	300

static int
depth_of(const int *parent, size_t i)
{
	int	d = 0, p;

	/* a cycle would never end: bounded by the member count */
	for (p = parent[i]; p >= 0; p = parent[p]) {
		assert_true(p < (int)i);
		if (++d > NMAX)
			fail_msg("cycle through member %zu", i);
	}
	return d;
}

static void
test_build_shape(void **state)
{
	int		parent[NMAX], kids[NMAX];
	size_t		n, i;
	unsigned int	f;

	(void)state;
	for (f = 1; f <= 9; f++)
		for (n = 1; n <= NMAX; n++) {
			relay_tree_build(n, f, parent);
			memset(kids, 0, sizeof(kids));
			assert_int_equal(parent[0], -1);
			for (i = 1; i < n; i++) {
				assert_true(parent[i] >= 0 && parent[i] < (int)i);
				kids[parent[i]]++;
			}
			for (i = 0; i < n; i++)
				assert_true(kids[i] <= (int)f);
			/* the heap's depth: ceil(log_f(n(f-1)+1)) - 1 levels */
			{
				size_t	level = 1, cap = 1, sum = 1;
				int	want = 0;

				while (sum < n) {
					level *= f;
					cap = level;
					sum += cap;
					want++;
					if (f == 1 && want > NMAX)
						break;
				}
				assert_int_equal(depth_of(parent, n - 1), want);
			}
		}
}

static void
test_fanout_zero_is_all_roots(void **state)
{
	(void)state;
	assert_int_equal(relay_tree_parent(0, 0), -1);
	assert_int_equal(relay_tree_parent(5, 0), -1);
	assert_int_equal(relay_tree_parent(5, 2), 2);
	assert_int_equal(relay_tree_parent(6, 2), 2);
	assert_int_equal(relay_tree_parent(7, 2), 3);
}

/* A dead inner relay: its children go to its parent; nothing else moves. */
static void
test_dead_relay(void **state)
{
	int		parent[15], before[15];
	unsigned char	ok[15], moved[15];
	size_t		i;

	(void)state;
	relay_tree_build(15, 2, parent);
	memcpy(before, parent, sizeof(parent));
	memset(ok, 1, sizeof(ok));
	ok[1] = 0;	/* children 3 and 4 */
	assert_int_equal(relay_tree_repair(parent, ok, 15, moved), 2);
	assert_int_equal(parent[3], 0);
	assert_int_equal(parent[4], 0);
	for (i = 0; i < 15; i++)
		if (i != 3 && i != 4) {
			assert_int_equal(parent[i], before[i]);
			assert_int_equal(moved[i], 0);
		}
	/* then its parent's parent goes too: to the nearest working ancestor */
	relay_tree_build(15, 2, parent);
	ok[3] = 0;	/* 7, 8: grandparent 1 is dead too, so root 0 */
	relay_tree_repair(parent, ok, 15, moved);
	assert_int_equal(parent[7], 0);
	assert_int_equal(parent[8], 0);
	assert_int_equal(parent[4], 0);
	assert_int_equal(parent[9], 4);
}

/* The root fails: the first orphan is the one new root, the rest under it. */
static void
test_dead_root(void **state)
{
	int		parent[7];
	unsigned char	ok[7], moved[7];

	(void)state;
	relay_tree_build(7, 2, parent);
	memset(ok, 1, sizeof(ok));
	ok[0] = 0;
	assert_int_equal(relay_tree_repair(parent, ok, 7, moved), 2);
	assert_int_equal(parent[1], -1);
	assert_int_equal(parent[2], 1);
	assert_int_equal(parent[3], 1);
	assert_int_equal(moved[3], 0);
	/* a newcomer routes the same way */
	assert_int_equal(relay_tree_route(parent, ok, 6), 2);
	ok[1] = ok[2] = 0;
	assert_int_equal(relay_tree_route(parent, ok, 6), -1);
}

/*
 * A member that may not serve (it failed a child) is still fetching: when
 * its own parent fails it moves too, or it waits on a dead feed for ever
 * (seen: a node's exec of orted hung on two blobs so).
 */
static void
test_noserve_member_moves(void **state)
{
	int		parent[4] = { -1, 0, -1, 2 };
	unsigned char	ok[4] = { 1, 0, 1, 1 }, moved[4];

	(void)state;
	/* member 1 failed a child, then its parent 0 failed another */
	ok[0] = 0;
	assert_int_equal(relay_tree_repair(parent, ok, 4, moved), 1);
	assert_int_equal(moved[1], 1);
	assert_int_equal(parent[1], -1);	/* no ancestor left, no root before it */
	parent[1] = 0;
	ok[0] = 1;
	ok[2] = 0;
	parent[3] = 2;
	assert_int_equal(relay_tree_repair(parent, ok, 4, moved), 1);
	assert_int_equal(parent[3], 0);		/* the first root before it that serves */
}

/* Random failures on random trees: the invariants hold after each repair. */
static void
test_random_failures(void **state)
{
	int		parent[NMAX];
	unsigned char	ok[NMAX], moved[NMAX];
	size_t		n, i, round, roots;
	unsigned int	f, seed = 12345;

	(void)state;
	for (round = 0; round < 2000; round++) {
		seed = seed * 1103515245u + 12345u;
		n = 1 + (seed >> 8) % NMAX;
		f = 1 + (seed >> 20) % 8;
		relay_tree_build(n, f, parent);
		memset(ok, 1, n);
		for (int k = 0; k < 4; k++) {
			seed = seed * 1103515245u + 12345u;
			ok[(seed >> 8) % n] = 0;
			relay_tree_repair(parent, ok, n, moved);
			roots = 0;
			for (i = 0; i < n; i++) {
				/* fed by a member that serves, ok or not */
				depth_of(parent, i);
				assert_true(parent[i] < 0 || ok[parent[i]]);
				if (ok[i] && parent[i] < 0)
					roots++;
			}
			/* the master feeds at most one more root per failed root */
			assert_true(roots <= 1 + (size_t)k + 1);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build_shape),
		cmocka_unit_test(test_fanout_zero_is_all_roots),
		cmocka_unit_test(test_dead_relay),
		cmocka_unit_test(test_dead_root),
		cmocka_unit_test(test_random_failures),
		cmocka_unit_test(test_noserve_member_moves),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
