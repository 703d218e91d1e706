/*
 * Unit tests for the BProc 4 layer's node sets (master/lib/bproc4_nodeset.c)
 * and bproc_strerror(int) (bproc4_err.c): init/grow/add/append/free, every
 * filter term BProc had (numbers, ranges, open ranges, all, master, state
 * names with the all/!/not prefixes), order and duplicates, each refusal,
 * and the BE_* texts.  No master is involved.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <sys/bproc.h>

/* bproc4_err.c's links to the rest of libbproc, faked */
const char	*fake_ng_strerror(void) __asm__("bproc_strerror");
int		 fake_currnode(void) __asm__("bproc_currnode");

const char *
fake_ng_strerror(void)
{
	return "the master's words";
}

int
fake_currnode(void)
{
	return 5;
}

/* Nodes 0-7 (node 2 missing from the set): status by index. */
static const char *const st8[8] = {
	"up", "up", "down", "up", "error", "boot", "down", "up"
};

static void
make_set(struct bproc_node_set_t *ns)
{
	struct bproc_node_info_t	ni;
	int				i;

	assert_int_equal(bproc_nodeset_init(ns, 0), 0);
	for (i = 0; i < 8; i++) {
		if (i == 2)
			continue;
		memset(&ni, 0, sizeof(ni));
		ni.node = i;
		strcpy(ni.status, st8[i]);
		ni.mode = 0111;
		assert_int_equal(bproc_nodeset_add(ns, &ni), 0);
	}
	assert_int_equal(ns->size, 7);
}

static void
expect_filter(const char *spec, const int *want, int nwant)
{
	struct bproc_node_set_t	in, out;
	int			i;

	make_set(&in);
	if (bproc_nodefilter(&out, &in, spec) != 0)
		fail_msg("'%s' refused: %s", spec, bproc_strerror(errno));
	if (out.size != nwant)
		fail_msg("'%s': %d nodes, want %d", spec, out.size, nwant);
	for (i = 0; i < nwant; i++)
		if (out.node[i].node != want[i])
			fail_msg("'%s': [%d] is %d, want %d", spec, i,
			    out.node[i].node, want[i]);
	bproc_nodeset_free(&out);
	bproc_nodeset_free(&in);
}

#define FILTER(spec, ...) do {						\
	static const int w_[] = { __VA_ARGS__ };			\
	expect_filter(spec, w_, (int)(sizeof(w_) / sizeof(w_[0])));	\
} while (0)

static void
expect_refused(const char *spec)
{
	struct bproc_node_set_t	in, out;

	make_set(&in);
	errno = 0;
	if (bproc_nodefilter(&out, &in, spec) != -1)
		fail_msg("'%s' accepted", spec);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(out.size, 0);
	assert_null(out.node);
	if (strstr(bproc_strerror(EINVAL), "bad node filter") == NULL)
		fail_msg("'%s': no message, '%s'", spec, bproc_strerror(EINVAL));
	bproc_nodeset_free(&in);
}

static void
test_set_ops(void **state)
{
	struct bproc_node_set_t		a, b;
	struct bproc_node_info_t	ni;
	int				i;

	(void)state;
	assert_int_equal(bproc_nodeset_init(&a, 3), 0);
	assert_int_equal(a.size, 3);
	assert_true(a.alloc >= 3);
	assert_non_null(a.node);
	for (i = 0; i < 3; i++)
		assert_int_equal(a.node[i].node, 0);	/* zeroed */
	bproc_nodeset_free(&a);
	assert_int_equal(a.size, 0);
	assert_int_equal(a.alloc, 0);
	assert_null(a.node);
	bproc_nodeset_free(&a);				/* twice is harmless */

	assert_int_equal(bproc_nodeset_init(&a, 0), 0);
	assert_null(a.node);
	assert_int_equal(bproc_nodeset_init(&a, -4), 0);
	assert_int_equal(a.size, 0);
	assert_int_equal(bproc_nodeset_grow(&a, 100), 0);
	assert_true(a.alloc >= 100);
	assert_int_equal(a.size, 0);			/* grow keeps the size */
	assert_int_equal(bproc_nodeset_grow(&a, -1), -1);
	assert_int_equal(errno, EINVAL);
	for (i = 0; i < 300; i++) {
		memset(&ni, 0, sizeof(ni));
		ni.node = i;
		snprintf(ni.status, sizeof(ni.status), "s%d", i % 7);
		assert_int_equal(bproc_nodeset_add(&a, &ni), 0);
	}
	assert_int_equal(a.size, 300);
	for (i = 0; i < 300; i++)
		assert_int_equal(a.node[i].node, i);
	assert_string_equal(bproc_node_set_node(&a, 13)->status, "s6");

	make_set(&b);
	assert_int_equal(bproc_nodeset_append(&a, &b), 0);
	assert_int_equal(a.size, 307);
	assert_int_equal(a.node[300].node, 0);
	assert_int_equal(a.node[302].node, 3);
	/* a set appended to itself doubles */
	assert_int_equal(bproc_nodeset_append(&b, &b), 0);
	assert_int_equal(b.size, 14);
	assert_int_equal(b.node[7].node, 0);
	assert_int_equal(b.node[13].node, 7);
	bproc_nodeset_free(&a);
	bproc_nodeset_free(&b);
}

static void
test_filter_numbers(void **state)
{
	(void)state;
	FILTER("3", 3);
	FILTER("n3", 3);
	FILTER(".3", 3);
	FILTER("7,0", 7, 0);
	FILTER("1-4", 1, 3, 4);			/* 2 is not in the set */
	FILTER("n1-n4", 1, 3, 4);
	FILTER("5-", 5, 6, 7);			/* to the highest */
	FILTER("3,3", 3, 3);			/* BProc kept duplicates */
	FILTER("2");				/* not in the set: none */
	FILTER("9-20");
	FILTER(",,1,,", 1);
	FILTER("");
}

static void
test_filter_words(void **state)
{
	struct bproc_node_set_t	in, out;

	(void)state;
	FILTER("all", 0, 1, 3, 4, 5, 6, 7);
	FILTER("up", 0, 1, 3, 7);
	FILTER("allup", 0, 1, 3, 7);
	FILTER("down", 6);
	FILTER("alldown", 6);
	FILTER("!up", 4, 5, 6);
	FILTER("notup", 4, 5, 6);
	FILTER("all!up", 4, 5, 6);
	FILTER("boot,error", 5, 4);
	FILTER("unavailable");
	FILTER("1,allup", 1, 0, 1, 3, 7);
	FILTER("master,4", -1, 4);

	make_set(&in);
	assert_int_equal(bproc_nodefilter(&out, &in, "master"), 0);
	assert_int_equal(out.size, 1);
	assert_int_equal(out.node[0].node, BPROC_NODE_MASTER);
	assert_string_equal(out.node[0].status, "up");
	assert_int_equal(out.node[0].mode, 0111);
	bproc_nodeset_free(&out);
	/* the output is a copy: the input is untouched */
	assert_int_equal(bproc_nodefilter(&out, &in, "allup"), 0);
	out.node[0].node = 99;
	assert_int_equal(in.node[0].node, 0);
	bproc_nodeset_free(&out);
	bproc_nodeset_free(&in);

	/* an empty input set gives an empty output */
	assert_int_equal(bproc_nodeset_init(&in, 0), 0);
	assert_int_equal(bproc_nodefilter(&out, &in, "allup"), 0);
	assert_int_equal(out.size, 0);
	assert_int_equal(bproc_nodefilter(&out, &in, "1-3"), 0);
	assert_int_equal(out.size, 0);
}

static void
test_filter_refused(void **state)
{
	struct bproc_node_set_t	in, out;

	(void)state;
	expect_refused("3x");
	expect_refused("4-2");			/* backwards */
	expect_refused("1-x");
	expect_refused("-3");
	expect_refused("!");
	expect_refused("up-1");
	expect_refused("up down");
	expect_refused("n[0-3]");		/* bproc_nodespec's syntax */
	expect_refused("1,bad*term");
	expect_refused("99999999999");
	expect_refused("averyveryverylongstate");
	make_set(&in);
	assert_int_equal(bproc_nodefilter(&out, &in, NULL), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(bproc_nodefilter(&out, NULL, "all"), -1);
	bproc_nodeset_free(&in);
}

static void
test_strerror(void **state)
{
	(void)state;
	assert_string_equal(bproc_strerror(BE_INVALIDNODE), "Invalid node number");
	assert_string_equal(bproc_strerror(BE_NODEDOWN), "Node is down");
	assert_string_equal(bproc_strerror(BE_SAMENODE), "Move to same node");
	assert_string_equal(bproc_strerror(BE_SLAVEDIED), "Slave node died");
	assert_string_equal(bproc_strerror(BE_INVALIDPROC), "Invalid process ID");
	assert_int_equal(BE_INVALIDNODE, 300);
	assert_int_equal(BE_INVALIDPROC, 304);
	/* negative codes as BProc took them */
	assert_string_equal(bproc_strerror(-BE_NODEDOWN), "Node is down");
	assert_string_equal(bproc_strerror(ENOENT), strerror(ENOENT));
	/* glibc's text of an unknown code lives until the next strerror */
	{
		char	unknown[64];

		snprintf(unknown, sizeof(unknown), "%s", bproc_strerror(305));
		assert_string_equal(unknown, strerror(305));
	}
	/* the words of the last failure belong to its code only */
	expect_refused("zz*");
	assert_string_equal(bproc_strerror(EINVAL), "bad node filter 'zz*'");
	assert_string_equal(bproc_strerror(EPERM), strerror(EPERM));
	assert_string_equal(bproc_strerror(0), strerror(0));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_ops),
		cmocka_unit_test(test_filter_numbers),
		cmocka_unit_test(test_filter_words),
		cmocka_unit_test(test_filter_refused),
		cmocka_unit_test(test_strerror),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
