/* Unit tests for common/path.c: the paths manifests carry to nodes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "path.h"

static void
clean_is(const char *in, const char *want)
{
	char	buf[256];

	snprintf(buf, sizeof(buf), "%s", in);
	path_clean(buf);
	assert_string_equal(buf, want);
}

static void
test_clean(void **state)
{
	(void)state;
	clean_is("/usr/lib/x86_64-linux-gnu/libc.so.6",
	    "/usr/lib/x86_64-linux-gnu/libc.so.6");
	clean_is("//usr///lib/", "/usr/lib");
	clean_is("/usr/./lib/./x", "/usr/lib/x");
	clean_is("/opt/app/bin/../lib/libfoo.so.1", "/opt/app/lib/libfoo.so.1");
	clean_is("/a/b/../../c", "/c");
	/* ".." never climbs above the root */
	clean_is("/../../etc/passwd", "/etc/passwd");
	clean_is("/..", "/");
	clean_is("/", "/");
	clean_is("", "/");
	clean_is("/a/..b/c", "/a/..b/c");
	clean_is("/a/.b/./c", "/a/.b/c");
}

static void
dir_is(const char *in, const char *want)
{
	char	buf[256];

	path_dir(in, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

static void
test_dir(void **state)
{
	(void)state;
	dir_is("/usr/bin/true", "/usr/bin");
	dir_is("/true", "/");
	dir_is("true", ".");
	dir_is("/", "/");
}

static void
link_is(const char *link, const char *target, const char *want)
{
	char	buf[256];

	path_link_target(link, target, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

static void
test_link_target(void **state)
{
	(void)state;
	link_is("/lib64/ld-linux-x86-64.so.2",
	    "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
	    "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2");
	link_is("/usr/lib/libfoo.so.1", "libfoo.so.1.0", "/usr/lib/libfoo.so.1.0");
	link_is("/usr/bin/sh", "../../bin/./dash", "/bin/dash");
	link_is("/x", "y", "/y");
}

static void
base_is(const char *in, const char *want)
{
	char	buf[64];

	assert_string_equal(path_base(in, buf, sizeof(buf)), want);
}

/* bpcp names a copy after its source's last component. */
static void
test_base(void **state)
{
	(void)state;
	base_is("/usr/lib/libc.so.6", "libc.so.6");
	base_is("dir/sub/", "sub");
	base_is("dir//", "dir");
	base_is("plain", "plain");
	base_is("/", "");
	base_is(".", ".");
	base_is("a/..", "..");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clean),
		cmocka_unit_test(test_base),
		cmocka_unit_test(test_dir),
		cmocka_unit_test(test_link_target),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
