/*
 * The edge table of bpmaster's node states (node_transition,
 * master/daemon/node.c): every legal edge is taken, every other one
 * refused, and a refused edge changes nothing (test_uplink_fsm is
 * nodeinit's master link).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "bpmaster.h"

/* (the daemon's globals node.c does not own) */
struct master_conf	conf;

static int	changes;

static void
count_change(void)
{
	changes++;
}

/*
 * The node's legal edges, legal[from][to]: up, error and unavailable move
 * among themselves and to a power action; boot ends up, in error or in a
 * power action; anything may go down; the power actions only down.
 * Columns: down boot up error unavailable reboot halt pwroff.
 */
static const int	legal[NODE_NSTATES][NODE_NSTATES] = {
	[NODE_DOWN] =		{ 0, 1, 0, 0, 0, 0, 0, 0 },
	[NODE_BOOT] =		{ 1, 0, 1, 1, 0, 1, 1, 1 },
	[NODE_UP] =		{ 1, 0, 0, 1, 1, 1, 1, 1 },
	[NODE_ERROR] =		{ 1, 0, 1, 0, 1, 1, 1, 1 },
	[NODE_UNAVAILABLE] =	{ 1, 0, 1, 1, 0, 1, 1, 1 },
	[NODE_REBOOT] =		{ 1, 0, 0, 0, 0, 0, 0, 0 },
	[NODE_HALT] =		{ 1, 0, 0, 0, 0, 0, 0, 0 },
	[NODE_PWROFF] =		{ 1, 0, 0, 0, 0, 0, 0, 0 },
};

#define node_expect(from, to)	legal[from][to]

static void
test_node_edges(void **state)
{
	struct node	n;
	int		from, to, nlegal = 0;

	(void)state;
	node_hooks.changed = count_change;
	for (from = 0; from < NODE_NSTATES; from++)
		for (to = 0; to < NODE_NSTATES; to++) {
			if (from == to)
				continue;
			memset(&n, 0, sizeof(n));
			n.num = 7;
			n.state = from;
			changes = 0;
			assert_int_equal(node_edge_ok(from, to),
			    node_expect(from, to));
			if (node_expect(from, to)) {
				nlegal++;
				assert_int_equal(node_transition(&n, to,
				    "test"), 0);
				assert_int_equal(n.state, to);
				assert_int_equal(changes, 1);
			} else {
				assert_int_equal(node_transition(&n, to,
				    "test"), -1);
				assert_int_equal(n.state, from);
				assert_int_equal(changes, 0);
			}
		}
	/* 1 from down, 6 from boot and each of up/error/unavailable, 3 */
	assert_int_equal(nlegal, 1 + 6 + 3 * 6 + 3);
}

/* BProc's modes: 0100 on connect (root only), 0111 after setup. */
static void
test_node_modes(void **state)
{
	struct node	n;

	(void)state;
	memset(&n, 0, sizeof(n));
	n.state = NODE_DOWN;
	n.uid = 5;
	n.mode = 0755;
	assert_int_equal(node_transition(&n, NODE_BOOT, "test"), 0);
	assert_int_equal(n.mode, 0100);
	assert_int_equal(n.uid, 0);
	assert_int_equal(node_transition(&n, NODE_UP, "test"), 0);
	assert_int_equal(n.mode, 0111);
	n.mode = 0700;
	assert_int_equal(node_transition(&n, NODE_UNAVAILABLE, "test"), 0);
	assert_int_equal(node_transition(&n, NODE_UP, "test"), 0);
	assert_int_equal(n.mode, 0700);
	n.load[0] = n.nprocs = 3;
	assert_int_equal(node_transition(&n, NODE_DOWN, "test"), 0);
	assert_int_equal(n.load[0], 0);
	assert_int_equal(n.nprocs, 0);
	/* the same state is no edge */
	assert_int_equal(node_transition(&n, NODE_DOWN, "test"), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_node_edges),
		cmocka_unit_test(test_node_modes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
