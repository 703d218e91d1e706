/* Unit tests for common/proto.c's manifest entries: mfile_decode, mfile_size_add. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "proto.h"

static const unsigned char	hash[32] = { 1, 2, 3 };

static void
test_roundtrip(void **state)
{
	unsigned char	e[MFILE_MAX];
	struct mfile	f;
	size_t		n;

	(void)state;
	n = mfile_encode(e, hash, 04755, 1000, 100, 123456789012ull,
	    "/usr/bin/x", NULL);
	assert_int_not_equal(n, 0);
	assert_int_equal(mfile_decode(e, n, &f), 0);
	assert_memory_equal(f.hash, hash, 32);
	assert_int_equal(f.mode, 04755);
	assert_int_equal(f.uid, 1000);
	assert_int_equal(f.gid, 100);
	assert_true(f.size == 123456789012ull);
	assert_int_equal(f.type, MFILE_REG);
	assert_string_equal(f.path, "/usr/bin/x");
	assert_null(f.target);

	n = mfile_encode(e, hash, 0777, 0, 0, 0, "/lib/libc.so", "libc.so.6");
	assert_int_equal(mfile_decode(e, n, &f), 0);
	assert_int_equal(f.type, MFILE_LINK);
	assert_string_equal(f.target, "libc.so.6");
}

static void
test_refused(void **state)
{
	unsigned char	e[MFILE_MAX];
	struct mfile	f;
	size_t		n;

	(void)state;
	/* relative, or a ".." component anywhere */
	n = mfile_encode(e, hash, 0644, 0, 0, 1, "etc/passwd", NULL);
	assert_int_equal(mfile_decode(e, n, &f), -1);
	n = mfile_encode(e, hash, 0644, 0, 0, 1, "/a/../etc/passwd", NULL);
	assert_int_equal(mfile_decode(e, n, &f), -1);
	n = mfile_encode(e, hash, 0644, 0, 0, 1, "/a/..", NULL);
	assert_int_equal(mfile_decode(e, n, &f), -1);
	n = mfile_encode(e, hash, 0644, 0, 0, 1, "/..", NULL);
	assert_int_equal(mfile_decode(e, n, &f), -1);
	/* "..." and "..x" are names like others */
	n = mfile_encode(e, hash, 0644, 0, 0, 1, "/a/.../..x", NULL);
	assert_int_equal(mfile_decode(e, n, &f), 0);
	/* a size is decoded as it is: mfile_size_add bounds it */
	n = mfile_encode(e, hash, 0644, 0, 0, 1ull << 63, "/a", NULL);
	assert_int_equal(mfile_decode(e, n, &f), 0);
	assert_true(f.size == 1ull << 63);
	/* unknown type, cut short, no NUL */
	n = mfile_encode(e, hash, 0644, 0, 0, 1, "/a", NULL);
	e[52] = 7;
	assert_int_equal(mfile_decode(e, n, &f), -1);
	e[52] = MFILE_REG;
	assert_int_equal(mfile_decode(e, n - 1, &f), -1);
	assert_int_equal(mfile_decode(e, MFILE_FIXED, &f), -1);
	n = mfile_encode(e, hash, 0777, 0, 0, 0, "/a", "b");
	assert_int_equal(mfile_decode(e, n - 1, &f), -1);
}

static void
test_size_add(void **state)
{
	uint64_t	sum = 0;

	(void)state;
	/* two entries of 2^63 bytes: the second must not wrap the sum to 0 */
	assert_int_equal(mfile_size_add(&sum, 1ull << 63), -1);
	assert_true(sum == 0);
	assert_int_equal(mfile_size_add(&sum, MFILE_SIZE_MAX - 10), 0);
	assert_int_equal(mfile_size_add(&sum, 10), 0);
	assert_true(sum == MFILE_SIZE_MAX);
	assert_int_equal(mfile_size_add(&sum, 1), -1);
	assert_int_equal(mfile_size_add(&sum, UINT64_MAX), -1);
	assert_true(sum == MFILE_SIZE_MAX);
}

int
main(void)
{
	const struct CMUnitTest	tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_size_add),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
