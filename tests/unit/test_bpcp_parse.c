/* Unit tests for master/cmd/bpcp_parse.c: operands and source headers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "bpcp_int.h"

static void
loc_is(const char *arg, int node, const char *path)
{
	struct loc	l;

	loc_parse(arg, &l);
	assert_int_equal(l.node, node);
	assert_string_equal(l.path, path);
}

static void
test_loc(void **state)
{
	(void)state;
	loc_is("3:/tmp/x", 3, "/tmp/x");
	loc_is("n12:rel/p", 12, "rel/p");
	loc_is("0:", 0, ".");		/* the node's current directory */
	loc_is("/etc/passwd", NODE_LOCAL, "/etc/passwd");
	loc_is("n:x", NODE_LOCAL, "n:x");
	loc_is("nx3:y", NODE_LOCAL, "nx3:y");
	loc_is("3x:y", NODE_LOCAL, "3x:y");
	loc_is("99999999999:y", NODE_LOCAL, "99999999999:y");
	loc_is("file:with:colons", NODE_LOCAL, "file:with:colons");
}

static void
test_hdr(void **state)
{
	struct hdr	h;

	(void)state;
	assert_int_equal(hdr_parse("F 12 644 1700000000 1000 100", &h), 0);
	assert_int_equal(h.kind, 'F');
	assert_true(h.size == 12);
	assert_int_equal(h.mode, 0644);
	assert_true(h.mtime == 1700000000);
	assert_int_equal(h.uid, 1000);
	assert_int_equal(h.gid, 100);
	assert_int_equal(hdr_parse("D 0 755 1 0 0", &h), 0);
	assert_int_equal(h.kind, 'D');
	assert_int_equal(hdr_parse("E no such file", &h), -1);
	assert_int_equal(hdr_parse("F 12 644 1700000000 1000", &h), -1);
	assert_int_equal(hdr_parse("X 1 2 3 4 5", &h), -1);
	assert_int_equal(hdr_parse("", &h), -1);
}

int
main(void)
{
	const struct CMUnitTest	tests[] = {
		cmocka_unit_test(test_loc),
		cmocka_unit_test(test_hdr),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
