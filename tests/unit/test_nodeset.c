/*
 * Unit tests for common/nodeset.c: every grammar form, order and dedup,
 * negation, state terms, each error with its message, and specs of 100 KB,
 * since the parser takes user input straight from the command line.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nodeset.h"

#define HUGE_SPEC	(100 * 1024)	/* bytes in the "huge input" specs */
#define ERRLEN		256		/* the size tools use for messages */

/* An 8-node cluster: 0,1 up, 2 down, 3 up, 4 error, 5 boot, 6 down, 7 up. */
static const int states8[8] = {
	NODE_UP, NODE_UP, NODE_DOWN, NODE_UP,
	NODE_ERROR, NODE_BOOT, NODE_DOWN, NODE_UP
};

/*
 * Parse spec and check the result against want[0..nwant-1] in order.  The
 * call site is passed in so a failure points at the test line, not here.
 */
static void
expect_set(const char *file, int line, const char *spec, int numnodes,
    const int *states, const int *want, size_t nwant)
{
	struct nodeset	 set = { 0 };
	char		 err[ERRLEN];
	size_t		 i;

	if (nodeset_parse(&set, spec, numnodes, states, err, sizeof(err)) != 0)
		fail_msg("%s:%d: '%s' failed: %s", file, line, spec, err);
	if (set.count != nwant)
		fail_msg("%s:%d: '%s' gave %zu nodes, want %zu", file, line,
		    spec, set.count, nwant);
	for (i = 0; i < nwant; i++)
		if (set.nodes[i] != want[i])
			fail_msg("%s:%d: '%s' node[%zu] = %d, want %d", file,
			    line, spec, i, set.nodes[i], want[i]);
	assert_non_null(set.nodes);
	assert_true(set.cap >= set.count);
	nodeset_free(&set);
}

static void
expect_error(const char *file, int line, const char *spec, int numnodes,
    const int *states, const char *want)
{
	struct nodeset	 set = { 0 };
	char		 err[ERRLEN];

	memset(err, 'X', sizeof(err));
	if (nodeset_parse(&set, spec, numnodes, states, err, sizeof(err)) != -1)
		fail_msg("%s:%d: '%s' parsed, want error \"%s\"", file, line,
		    spec, want);
	if (strcmp(err, want) != 0)
		fail_msg("%s:%d: '%s' said \"%s\", want \"%s\"", file, line,
		    spec, err, want);
	/* A failed parse must leave the caller's set alone. */
	assert_null(set.nodes);
	assert_int_equal(set.count, 0);
	nodeset_free(&set);
}

#define EXPECT_SET(spec, nn, st, ...)					\
	expect_set(__FILE__, __LINE__, (spec), (nn), (st),		\
	    (const int[]){ __VA_ARGS__ },				\
	    sizeof((const int[]){ __VA_ARGS__ }) / sizeof(int))
#define EXPECT_EMPTY(spec, nn, st)					\
	expect_set(__FILE__, __LINE__, (spec), (nn), (st), NULL, 0)
#define EXPECT_ERROR(spec, nn, st, msg)					\
	expect_error(__FILE__, __LINE__, (spec), (nn), (st), (msg))

/* A string of at least HUGE_SPEC bytes: piece repeated, commas between. */
static char *
huge_repeat(const char *piece, size_t *nrep)
{
	size_t	 len = strlen(piece), n = 0, off = 0;
	char	*s;

	s = malloc(HUGE_SPEC + len + 2);
	assert_non_null(s);
	while (off < HUGE_SPEC) {
		if (n > 0)
			s[off++] = ',';
		memcpy(s + off, piece, len);
		off += len;
		n++;
	}
	s[off] = '\0';
	if (nrep != NULL)
		*nrep = n;
	return s;
}

static void
test_state_names(void **unused)
{
	static const char *const names[NODE_NSTATES] = {
		"down", "boot", "up", "error", "unavailable", "reboot",
		"halt", "pwroff"
	};
	int	 i;

	(void)unused;
	for (i = 0; i < NODE_NSTATES; i++) {
		assert_string_equal(node_state_name(i), names[i]);
		assert_int_equal(node_state_parse(names[i]), i);
	}
	assert_int_equal(NODE_DOWN, 0);
	assert_string_equal(node_state_name(-1), "?");
	assert_string_equal(node_state_name(NODE_NSTATES), "?");
	assert_string_equal(node_state_name(1 << 30), "?");
	assert_int_equal(node_state_parse("UP"), -1);
	assert_int_equal(node_state_parse("u"), -1);
	assert_int_equal(node_state_parse("upp"), -1);
	assert_int_equal(node_state_parse(""), -1);
	assert_int_equal(node_state_parse("all"), -1);
	assert_int_equal(node_state_parse(NULL), -1);
}

static void
test_node_parse(void **unused)
{
	(void)unused;
	assert_int_equal(nodeset_node_parse("0"), 0);
	assert_int_equal(nodeset_node_parse("3"), 3);
	assert_int_equal(nodeset_node_parse("n3"), 3);
	assert_int_equal(nodeset_node_parse("n0"), 0);
	assert_int_equal(nodeset_node_parse("n007"), 7);
	assert_int_equal(nodeset_node_parse("65536"), NODESET_MAX);
	assert_int_equal(nodeset_node_parse("n65536"), NODESET_MAX);
	assert_int_equal(nodeset_node_parse("65537"), -1);
	assert_int_equal(nodeset_node_parse("4294967299"), -1);
	assert_int_equal(nodeset_node_parse("99999999999999999999999"), -1);
	assert_int_equal(nodeset_node_parse(NULL), -1);
	assert_int_equal(nodeset_node_parse(""), -1);
	assert_int_equal(nodeset_node_parse("n"), -1);
	assert_int_equal(nodeset_node_parse("nn3"), -1);
	assert_int_equal(nodeset_node_parse("N3"), -1);
	assert_int_equal(nodeset_node_parse("3x"), -1);
	assert_int_equal(nodeset_node_parse("+3"), -1);
	assert_int_equal(nodeset_node_parse("-3"), -1);
	assert_int_equal(nodeset_node_parse("n-3"), -1);
	assert_int_equal(nodeset_node_parse(" 3"), -1);
	assert_int_equal(nodeset_node_parse("3 "), -1);
	assert_int_equal(nodeset_node_parse("0x3"), -1);
	assert_int_equal(nodeset_node_parse("1-3"), -1);
	assert_int_equal(nodeset_node_parse("n[3]"), -1);
	assert_int_equal(nodeset_node_parse("all"), -1);
	/* Commands that happen to look like nodes must not be nodes. */
	assert_int_equal(nodeset_node_parse("ls"), -1);
	assert_int_equal(nodeset_node_parse("nproc"), -1);
}

static void
test_single(void **unused)
{
	(void)unused;
	EXPECT_SET("0", 8, NULL, 0);
	EXPECT_SET("7", 8, NULL, 7);
	EXPECT_SET("n7", 8, NULL, 7);
	EXPECT_SET("n0", 8, NULL, 0);
	EXPECT_SET("007", 8, NULL, 7);
	EXPECT_SET("n00", 8, NULL, 0);
	EXPECT_SET("3,n5,1", 8, NULL, 3, 5, 1);
}

static void
test_range(void **unused)
{
	(void)unused;
	EXPECT_SET("0-3", 8, NULL, 0, 1, 2, 3);
	EXPECT_SET("n0-n3", 8, NULL, 0, 1, 2, 3);
	EXPECT_SET("n0-3", 8, NULL, 0, 1, 2, 3);
	EXPECT_SET("0-n3", 8, NULL, 0, 1, 2, 3);
	EXPECT_SET("5-5", 8, NULL, 5);
	EXPECT_SET("6-7,0-1", 8, NULL, 6, 7, 0, 1);
	EXPECT_SET("n2-n4,n6", 8, NULL, 2, 3, 4, 6);
}

static void
test_bracket(void **unused)
{
	struct nodeset	 set = { 0 };
	char		 err[ERRLEN];
	int		 i;

	(void)unused;
	EXPECT_SET("n[0-3,7,9-10]", 16, NULL, 0, 1, 2, 3, 7, 9, 10);
	EXPECT_SET("[0-3]", 8, NULL, 0, 1, 2, 3);
	EXPECT_SET("n[5]", 8, NULL, 5);
	EXPECT_SET("[5]", 8, NULL, 5);
	EXPECT_SET("n[3,1,2]", 8, NULL, 3, 1, 2);
	EXPECT_SET("n[1-2],0,n[6-7]", 8, NULL, 1, 2, 0, 6, 7);
	EXPECT_SET("n[00-03]", 8, NULL, 0, 1, 2, 3);
	EXPECT_SET("n[2-2]", 8, NULL, 2);

	assert_int_equal(nodeset_parse(&set, "n[0-15]", 16, NULL, err,
	    sizeof(err)), 0);
	assert_int_equal(set.count, 16);
	for (i = 0; i < 16; i++)
		assert_int_equal(set.nodes[i], i);
	nodeset_free(&set);
}

static void
test_order_dedup(void **unused)
{
	(void)unused;
	EXPECT_SET("7,3,5", 8, NULL, 7, 3, 5);
	EXPECT_SET("3,1,3,2,1", 8, NULL, 3, 1, 2);
	EXPECT_SET("0-3,2-5", 8, NULL, 0, 1, 2, 3, 4, 5);
	EXPECT_SET("5,0-7", 8, NULL, 5, 0, 1, 2, 3, 4, 6, 7);
	EXPECT_SET("n[4,4,4],4,n4", 8, NULL, 4);
	EXPECT_SET("3,all", 5, NULL, 3, 0, 1, 2, 4);
	EXPECT_SET("up,all", 8, states8, 0, 1, 3, 7, 2, 4, 5, 6);
}

static void
test_all(void **unused)
{
	(void)unused;
	EXPECT_SET("all", 4, NULL, 0, 1, 2, 3);
	EXPECT_SET("all", 8, states8, 0, 1, 2, 3, 4, 5, 6, 7);
	EXPECT_EMPTY("all", 0, NULL);
	EXPECT_SET("allup", 8, states8, 0, 1, 3, 7);
	EXPECT_SET("all,9", 2, NULL, 0, 1, 9);
}

static void
test_states(void **unused)
{
	static const int every[NODE_NSTATES] = {
		NODE_DOWN, NODE_BOOT, NODE_UP, NODE_ERROR, NODE_UNAVAILABLE,
		NODE_REBOOT, NODE_HALT, NODE_PWROFF
	};
	char	 name[32];
	int	 i;

	(void)unused;
	EXPECT_SET("up", 8, states8, 0, 1, 3, 7);
	EXPECT_SET("down", 8, states8, 2, 6);
	EXPECT_SET("boot", 8, states8, 5);
	EXPECT_SET("error", 8, states8, 4);
	EXPECT_EMPTY("unavailable", 8, states8);
	EXPECT_SET("down,boot", 8, states8, 2, 6, 5);
	EXPECT_SET("4,error,up", 8, states8, 4, 0, 1, 3, 7);
	/* Each name selects exactly the node in that state. */
	for (i = 0; i < NODE_NSTATES; i++) {
		snprintf(name, sizeof(name), "%s", node_state_name(i));
		expect_set(__FILE__, __LINE__, name, NODE_NSTATES, every,
		    &i, 1);
	}
	/* No nodes, no snapshot: nothing is in any state. */
	EXPECT_EMPTY("up", 0, NULL);
	EXPECT_EMPTY("!down", 0, NULL);
}

static void
test_negation(void **unused)
{
	(void)unused;
	EXPECT_SET("0-5,!2", 8, NULL, 0, 1, 3, 4, 5);
	EXPECT_SET("!0", 4, NULL, 1, 2, 3);
	EXPECT_SET("!n0", 4, NULL, 1, 2, 3);
	EXPECT_SET("!down", 8, states8, 0, 1, 3, 4, 5, 7);
	EXPECT_SET("!up,!error", 8, states8, 2, 5, 6);
	EXPECT_SET("all,!down", 8, states8, 0, 1, 3, 4, 5, 7);
	EXPECT_SET("!n[1-2]", 4, NULL, 0, 3);
	EXPECT_SET("![0-1,3]", 4, NULL, 2);
	EXPECT_SET("!1-2", 4, NULL, 0, 3);
	EXPECT_SET("1,2,!7", 8, NULL, 1, 2);
	EXPECT_SET("0-3,!0-65536,2", 8, NULL, 2);
	/* Named again after removal: it is a new occurrence, at the end. */
	EXPECT_SET("0-3,!1,1", 8, NULL, 0, 2, 3, 1);
	EXPECT_SET("0-3,!0,!3,3,0", 8, NULL, 1, 2, 3, 0);
	EXPECT_EMPTY("!all", 4, NULL);
	EXPECT_EMPTY("0-3,!all", 4, NULL);
	EXPECT_EMPTY("!0", 1, NULL);
	EXPECT_EMPTY("!0", 0, NULL);
	EXPECT_SET("!allup", 8, states8, 2, 4, 5, 6);
	/* Only a leading negation implies all. */
	EXPECT_SET("5,!0", 8, NULL, 5);
	/* A node outside the cluster is named explicitly, so it stays. */
	EXPECT_SET("!0,9", 2, NULL, 1, 9);
}

static void
test_beyond_cluster(void **unused)
{
	struct nodeset	 set = { 0 };
	char		 err[ERRLEN];
	size_t		 i;

	(void)unused;
	EXPECT_SET("7", 4, NULL, 7);
	EXPECT_SET("2-5", 4, NULL, 2, 3, 4, 5);
	EXPECT_SET("65536", 4, NULL, 65536);
	EXPECT_SET("n65536", 0, NULL, 65536);
	EXPECT_SET("n[65535-65536]", 0, NULL, 65535, 65536);

	/* The largest set: every nameable node, and no more. */
	assert_int_equal(nodeset_parse(&set, "0-65536", 0, NULL, err,
	    sizeof(err)), 0);
	assert_int_equal(set.count, NODESET_MAX + 1);
	assert_true(set.cap <= NODESET_MAX + 1);
	for (i = 0; i < set.count; i++)
		assert_int_equal(set.nodes[i], (int)i);
	nodeset_free(&set);

	/* A cluster of NODESET_MAX + 1 nodes can be named with all. */
	assert_int_equal(nodeset_parse(&set, "all,!0,0", NODESET_MAX + 1,
	    NULL, err, sizeof(err)), 0);
	assert_int_equal(set.count, NODESET_MAX + 1);
	assert_int_equal(set.nodes[0], 1);
	assert_int_equal(set.nodes[set.count - 1], 0);
	nodeset_free(&set);
}

static void
test_errors(void **unused)
{
	static const struct {
		const char	*spec;
		const char	*msg;
	} cases[] = {
		{ "", "bad node set '': empty" },
		{ "1,,2", "bad node set '1,,2': empty term" },
		{ ",1", "bad node set ',1': empty term" },
		{ "1,", "bad node set '1,': empty term" },
		{ ",", "bad node set ',': empty term" },
		{ "x", "bad node set 'x': not a node, range, state or 'all'" },
		{ "upp", "bad node set 'upp': not a node, range, state or 'all'" },
		{ "up3", "bad node set 'up3': not a node, range, state or 'all'" },
		{ "x[1-3]",
		    "bad node set 'x[1-3]': not a node, range, state or 'all'" },
		{ "n", "bad node set 'n': expected a node number after 'n'" },
		{ "n-3", "bad node set 'n-3': expected a node number after 'n'" },
		{ "nn3", "bad node set 'nn3': expected a node number after 'n'" },
		{ "All", "bad node set 'All': unexpected 'A'" },
		{ "N3", "bad node set 'N3': unexpected 'N'" },
		{ "3x", "bad node set '3x': unexpected 'x'" },
		{ "0x10", "bad node set '0x10': unexpected 'x'" },
		{ "1.5", "bad node set '1.5': unexpected '.'" },
		{ "1-3-5", "bad node set '1-3-5': unexpected '-'" },
		{ " 1", "bad node set ' 1': unexpected ' '" },
		{ "1 ", "bad node set '1 ': unexpected ' '" },
		{ "1, 2", "bad node set ' 2': unexpected ' '" },
		{ "1\t", "bad node set '1?': unexpected byte 0x09" },
		{ "n1\x1b[2J", "bad node set 'n1?[2J': unexpected byte 0x1b" },
		{ "1\xff", "bad node set '1?': unexpected byte 0xff" },
		{ "1-", "bad node set '1-': missing end of range" },
		{ "1-n", "bad node set '1-n': unexpected end of term" },
		{ "n1-n", "bad node set 'n1-n': unexpected end of term" },
		{ "1-x", "bad node set '1-x': unexpected 'x'" },
		{ "+3", "bad node set '+3': node numbers take no sign" },
		{ "-3", "bad node set '-3': node numbers take no sign" },
		{ "n+3", "bad node set 'n+3': expected a node number after 'n'" },
		{ "1--3", "bad node set '1--3': node numbers take no sign" },
		{ "1-+3", "bad node set '1-+3': node numbers take no sign" },
		{ "n[-1]", "bad node set 'n[-1]': node numbers take no sign" },
		{ "n[1-+2]", "bad node set 'n[1-+2]': node numbers take no sign" },
		{ "65537",
		    "bad node set '65537': node number too large (max 65536)" },
		{ "n65537",
		    "bad node set 'n65537': node number too large (max 65536)" },
		{ "4294967296",
		    "bad node set '4294967296': node number too large (max 65536)" },
		{ "99999999999999999999999",
		    "bad node set '99999999999999999999999': "
		    "node number too large (max 65536)" },
		{ "0-65537",
		    "bad node set '0-65537': node number too large (max 65536)" },
		{ "n[1,70000]",
		    "bad node set 'n[1,70000]': node number too large (max 65536)" },
		{ "3-1", "bad node set '3-1': range 3-1 runs backwards" },
		{ "n3-n1", "bad node set 'n3-n1': range 3-1 runs backwards" },
		{ "n[5-2]", "bad node set 'n[5-2]': range 5-2 runs backwards" },
		{ "n[3-", "bad node set 'n[3-': missing ']'" },
		{ "n[3", "bad node set 'n[3': missing ']'" },
		{ "n[", "bad node set 'n[': missing ']'" },
		{ "[", "bad node set '[': missing ']'" },
		{ "n[1,2", "bad node set 'n[1,2': missing ']'" },
		{ "0-3,n[3-", "bad node set 'n[3-': missing ']'" },
		{ "n[]", "bad node set 'n[]': empty brackets" },
		{ "[]", "bad node set '[]': empty brackets" },
		{ "n[1,]", "bad node set 'n[1,]': unexpected ']'" },
		{ "n[,1]", "bad node set 'n[,1]': unexpected ','" },
		{ "n[1-]", "bad node set 'n[1-]': unexpected ']'" },
		{ "n[1-3]x", "bad node set 'n[1-3]x': unexpected 'x'" },
		{ "n[1-3]]", "bad node set 'n[1-3]]': unexpected ']'" },
		{ "n[1-3][4]", "bad node set 'n[1-3][4]': unexpected '['" },
		{ "n[1-[2]]", "bad node set 'n[1-[2]]': unexpected '['" },
		{ "[[1]]", "bad node set '[[1]]': unexpected '['" },
		{ "n[n1]", "bad node set 'n[n1]': unexpected 'n'" },
		{ "n[1 2]", "bad node set 'n[1 2]': unexpected ' '" },
		{ "1]", "bad node set '1]': unexpected ']'" },
		{ "n1[2]", "bad node set 'n1[2]': unexpected '['" },
		{ "!", "bad node set '!': nothing after '!'" },
		{ "1,!", "bad node set '!': nothing after '!'" },
		{ "!,1", "bad node set '!': nothing after '!'" },
		{ "!!3", "bad node set '!!3': unexpected '!'" },
		{ "3!", "bad node set '3!': unexpected '!'" },
		{ "1,2,3y,4", "bad node set '3y': unexpected 'y'" },
	};
	size_t	 i;

	(void)unused;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_error(__FILE__, __LINE__, cases[i].spec, 8, states8,
		    cases[i].msg);
	/* No spec at all reads as an empty one. */
	EXPECT_ERROR(NULL, 8, states8, "bad node set '': empty");
}

static void
test_states_unknown(void **unused)
{
	(void)unused;
	EXPECT_ERROR("up", 4, NULL, "bad node set 'up': node states unknown");
	EXPECT_ERROR("allup", 4, NULL,
	    "bad node set 'allup': node states unknown");
	EXPECT_ERROR("!down", 4, NULL,
	    "bad node set '!down': node states unknown");
	EXPECT_ERROR("0,pwroff", 4, NULL,
	    "bad node set 'pwroff': node states unknown");
	/* Terms that need no states still work without a snapshot. */
	EXPECT_SET("all,!1", 4, NULL, 0, 2, 3);
}

static void
test_cluster_size(void **unused)
{
	(void)unused;
	EXPECT_ERROR("0", -1, NULL,
	    "bad node set '0': cluster size -1 out of range");
	EXPECT_ERROR("0", NODESET_MAX + 2, NULL,
	    "bad node set '0': cluster size 65538 out of range");
	EXPECT_SET("0", NODESET_MAX + 1, NULL, 0);
}

static void
test_failure_keeps_set(void **unused)
{
	struct nodeset	 set = { 0 };
	char		 err[ERRLEN];
	int		*before;

	(void)unused;
	assert_int_equal(nodeset_parse(&set, "4,2", 8, NULL, err,
	    sizeof(err)), 0);
	before = set.nodes;
	assert_int_equal(nodeset_parse(&set, "1,n[", 8, NULL, err,
	    sizeof(err)), -1);
	assert_ptr_equal(set.nodes, before);
	assert_int_equal(set.count, 2);
	assert_int_equal(set.nodes[0], 4);
	assert_int_equal(set.nodes[1], 2);

	/* Success replaces the contents, without leaking the old array. */
	assert_int_equal(nodeset_parse(&set, "0-2", 8, NULL, err,
	    sizeof(err)), 0);
	assert_int_equal(set.count, 3);
	assert_int_equal(set.nodes[2], 2);
	nodeset_free(&set);
	assert_null(set.nodes);
	assert_int_equal(set.count, 0);
	nodeset_free(&set);
	nodeset_free(NULL);
}

static void
test_error_buffer(void **unused)
{
	struct nodeset	 set = { 0 };
	char		 err[16];

	(void)unused;
	/* The message is cut to the buffer and always terminated. */
	memset(err, 'X', sizeof(err));
	assert_int_equal(nodeset_parse(&set, "n[3-", 8, NULL, err, 10), -1);
	assert_string_equal(err, "bad node ");
	assert_int_equal(err[10], 'X');
	memset(err, 'X', sizeof(err));
	assert_int_equal(nodeset_parse(&set, "x", 8, NULL, err, 1), -1);
	assert_int_equal(err[0], '\0');
	assert_int_equal(err[1], 'X');
	/* No buffer at all. */
	assert_int_equal(nodeset_parse(&set, "x", 8, NULL, NULL, 0), -1);
	assert_int_equal(nodeset_parse(&set, "x", 8, NULL, err, 0), -1);
	assert_int_equal(err[0], '\0');
	/* Success clears a buffer left from an earlier failure. */
	strcpy(err, "old");
	assert_int_equal(nodeset_parse(&set, "1", 8, NULL, err,
	    sizeof(err)), 0);
	assert_string_equal(err, "");
	nodeset_free(&set);
	assert_int_equal(nodeset_parse(NULL, "1", 8, NULL, err,
	    sizeof(err)), -1);
}

static void
test_huge_list(void **unused)
{
	struct nodeset	 set = { 0 };
	char		 err[ERRLEN], *spec;
	size_t		 off, i, n;

	(void)unused;
	/* 0,1,2,... up to 100 KB: every node kept, in order. */
	spec = malloc(HUGE_SPEC + 16);
	assert_non_null(spec);
	for (off = 0, n = 0; off < HUGE_SPEC; n++)
		off += (size_t)sprintf(spec + off, n > 0 ? ",%zu" : "%zu", n);
	assert_int_equal(nodeset_parse(&set, spec, 64, NULL, err,
	    sizeof(err)), 0);
	assert_int_equal(set.count, n);
	for (i = 0; i < n; i++)
		assert_int_equal(set.nodes[i], (int)i);

	/* Descending, each node named many times: first occurrence wins. */
	for (off = 0, i = 0; off < HUGE_SPEC; i++)
		off += (size_t)sprintf(spec + off, i > 0 ? ",n%zu" : "n%zu",
		    999 - i % 1000);
	assert_int_equal(nodeset_parse(&set, spec, 64, NULL, err,
	    sizeof(err)), 0);
	assert_int_equal(set.count, 1000);
	for (i = 0; i < 1000; i++)
		assert_int_equal(set.nodes[i], 999 - (int)i);

	/* The same list inside one pair of brackets. */
	off = (size_t)sprintf(spec, "n[");
	for (i = 0; off < HUGE_SPEC; i++)
		off += (size_t)sprintf(spec + off, i > 0 ? ",%zu" : "%zu",
		    i % 5000);
	strcpy(spec + off, "]");
	assert_int_equal(nodeset_parse(&set, spec, 64, NULL, err,
	    sizeof(err)), 0);
	assert_int_equal(set.count, 5000);
	assert_int_equal(set.nodes[4999], 4999);

	/* Negations one by one from all, 100 KB of them. */
	for (off = 0, n = 0; off < HUGE_SPEC; n++)
		off += (size_t)sprintf(spec + off, n > 0 ? ",!%zu" : "!%zu",
		    n);
	assert_int_equal(nodeset_parse(&set, spec, NODESET_MAX + 1, NULL,
	    err, sizeof(err)), 0);
	assert_int_equal(set.count, NODESET_MAX + 1 - n);
	assert_int_equal(set.nodes[0], (int)n);
	nodeset_free(&set);
	free(spec);
}

static void
test_huge_ranges(void **unused)
{
	struct nodeset	 set = { 0 };
	char		 err[ERRLEN], *spec;
	size_t		 i;

	(void)unused;
	/* The widest range repeated: the set stays within its bound. */
	spec = huge_repeat("0-65536", NULL);
	assert_int_equal(nodeset_parse(&set, spec, 8, NULL, err,
	    sizeof(err)), 0);
	assert_int_equal(set.count, NODESET_MAX + 1);
	assert_true(set.cap <= NODESET_MAX + 1);
	free(spec);

	spec = huge_repeat("all", NULL);
	assert_int_equal(nodeset_parse(&set, spec, NODESET_MAX + 1, NULL,
	    err, sizeof(err)), 0);
	assert_int_equal(set.count, NODESET_MAX + 1);
	for (i = 0; i < set.count; i++)
		assert_int_equal(set.nodes[i], (int)i);
	free(spec);

	/*
	 * Add everything, remove everything, over and over.  Each term costs
	 * up to NODESET_MAX + 1 steps, so this is the slowest spec per byte;
	 * 64 rounds keep the test quick under valgrind.
	 */
	spec = malloc(64 * sizeof("n[0-65536],!0-65536,7,"));
	assert_non_null(spec);
	spec[0] = '\0';
	for (i = 0; i < 64; i++)
		strcat(spec, i > 0 ? ",n[0-65536],!0-65536,7" :
		    "n[0-65536],!0-65536,7");
	assert_int_equal(nodeset_parse(&set, spec, 8, NULL, err,
	    sizeof(err)), 0);
	assert_int_equal(set.count, 1);
	assert_int_equal(set.nodes[0], 7);
	free(spec);

	spec = huge_repeat("up,!up,down", NULL);
	assert_int_equal(nodeset_parse(&set, spec, 8, states8, err,
	    sizeof(err)), 0);
	assert_int_equal(set.count, 2);
	assert_int_equal(set.nodes[0], 2);
	assert_int_equal(set.nodes[1], 6);
	free(spec);
	nodeset_free(&set);
}

static void
test_huge_errors(void **unused)
{
	struct nodeset	 set = { 0 };
	char		 err[ERRLEN], *spec;
	size_t		 i;

	(void)unused;
	spec = malloc(HUGE_SPEC + 16);
	assert_non_null(spec);

	/* One enormous garbage term: the message quotes only its start. */
	memset(spec, 'x', HUGE_SPEC);
	spec[HUGE_SPEC] = '\0';
	assert_int_equal(nodeset_parse(&set, spec, 8, NULL, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "bad node set "
	    "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...': "
	    "not a node, range, state or 'all'");

	/* Leading zeros cost nothing however many there are. */
	spec[0] = 'n';
	memset(spec + 1, '0', HUGE_SPEC - 2);
	spec[HUGE_SPEC - 1] = '7';
	assert_int_equal(nodeset_parse(&set, spec, 8, NULL, err,
	    sizeof(err)), 0);
	assert_int_equal(set.count, 1);
	assert_int_equal(set.nodes[0], 7);
	nodeset_free(&set);

	/* A 100 KB number overflows early, without wrapping around. */
	memset(spec, '9', HUGE_SPEC);
	assert_int_equal(nodeset_parse(&set, spec, 8, NULL, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "node number too large (max 65536)"));
	assert_non_null(strstr(err, "...'"));
	memset(spec, '1', HUGE_SPEC);
	spec[HUGE_SPEC - 1] = '0';
	assert_int_equal(nodeset_parse(&set, spec, 8, NULL, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "too large"));

	/* 100 KB of commas. */
	memset(spec, ',', HUGE_SPEC);
	assert_int_equal(nodeset_parse(&set, spec, 8, NULL, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "': empty term"));

	/* An unclosed bracket swallows every comma after it. */
	spec[0] = 'n';
	spec[1] = '[';
	for (i = 2; i + 2 < HUGE_SPEC; i += 2) {
		spec[i] = '1';
		spec[i + 1] = ',';
	}
	spec[i] = '1';
	spec[i + 1] = '\0';
	assert_int_equal(nodeset_parse(&set, spec, 8, NULL, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "...': missing ']'"));

	/* The last of many good terms is bad: everything is rejected. */
	for (i = 0; i + 2 < HUGE_SPEC; i += 2) {
		spec[i] = '3';
		spec[i + 1] = ',';
	}
	spec[i] = 'z';
	spec[i + 1] = '\0';
	assert_int_equal(nodeset_parse(&set, spec, 8, NULL, err,
	    sizeof(err)), -1);
	assert_string_equal(err,
	    "bad node set 'z': not a node, range, state or 'all'");
	assert_null(set.nodes);
	free(spec);
}

/* The compact form: sorted, runs as ranges, cut with "..." when long. */
static void
test_format(void **state)
{
	int	a[] = { 7, 3, 0, 1, 2, 9, 10, 3 }, one[] = { 5 }, b[] = { 1, 3 };
	char	buf[64], small[8];
	size_t	n;

	(void)state;
	n = nodeset_format(buf, sizeof(buf), a, 8);
	assert_string_equal(buf, "0-3,7,9-10");
	assert_int_equal(n, strlen("0-3,7,9-10"));
	nodeset_format(buf, sizeof(buf), one, 1);
	assert_string_equal(buf, "5");
	nodeset_format(buf, sizeof(buf), b, 2);
	assert_string_equal(buf, "1,3");
	assert_int_equal(nodeset_format(buf, sizeof(buf), NULL, 0), 0);
	assert_string_equal(buf, "");
	/* "0-3,7,9-10" in 8 bytes: what fits, then the mark */
	n = nodeset_format(small, sizeof(small), a, 8);
	assert_int_equal(n, strlen("0-3,7,9-10"));
	assert_string_equal(small, "0-3,...");
	assert_true(strlen(small) < sizeof(small));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_names),
		cmocka_unit_test(test_node_parse),
		cmocka_unit_test(test_single),
		cmocka_unit_test(test_range),
		cmocka_unit_test(test_bracket),
		cmocka_unit_test(test_order_dedup),
		cmocka_unit_test(test_all),
		cmocka_unit_test(test_states),
		cmocka_unit_test(test_negation),
		cmocka_unit_test(test_beyond_cluster),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_states_unknown),
		cmocka_unit_test(test_cluster_size),
		cmocka_unit_test(test_failure_keeps_set),
		cmocka_unit_test(test_error_buffer),
		cmocka_unit_test(test_huge_list),
		cmocka_unit_test(test_huge_ranges),
		cmocka_unit_test(test_huge_errors),
		cmocka_unit_test(test_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
