/*
 * Unit tests for master/cmd/bpstat_fmt.c: the cells bpstat prints (the
 * golden files check whole views; these pin each format's edges).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bpstat_int.h"

static void
size_is(uint64_t v, const char *want)
{
	char	buf[32];

	fmt_size(buf, sizeof(buf), v);
	assert_string_equal(buf, want);
}

static void
test_size(void **state)
{
	(void)state;
	size_is(0, "0B");
	size_is(1023, "1023B");
	size_is(1024, "1.0K");
	size_is(10137, "9.9K");
	size_is(10240, "10K");
	size_is(3ULL << 30, "3.0G");
	size_is(38ULL << 30, "38G");
	size_is(UINT64_MAX, "16E");
}

static void
age_is(uint64_t ms, const char *want)
{
	char	buf[32];

	fmt_age(buf, sizeof(buf), ms);
	assert_string_equal(buf, want);
}

static void
test_age(void **state)
{
	char	buf[32];

	(void)state;
	age_is(UINT64_MAX, "-");
	age_is(0, "0.0s");
	age_is(1234, "1.2s");
	age_is(59999, "59.9s");
	age_is(60000, "1m00s");
	fmt_uptime(buf, sizeof(buf), 3599);
	assert_string_equal(buf, "59m59s");
	fmt_uptime(buf, sizeof(buf), 3600 * 5 + 60 * 7);
	assert_string_equal(buf, "5h07m");
	fmt_uptime(buf, sizeof(buf), 86400 * 3 + 3600 * 2);
	assert_string_equal(buf, "3d02h");
}

static void
mode_is(unsigned int m, const char *want)
{
	char	buf[11];

	mode_string(buf, m);
	assert_string_equal(buf, want);
}

static void
test_mode(void **state)
{
	(void)state;
	mode_is(0111, "---x--x--x");
	mode_is(0755, "-rwxr-xr-x");
	mode_is(04755, "-rwsr-xr-x");
	mode_is(04644, "-rwSr--r--");
	mode_is(02010, "------s---");
	mode_is(01001, "---------t");
	mode_is(01000, "---------T");
}

static void
test_printable_mac(void **state)
{
	const unsigned char	mac[6] = { 0x52, 0x54, 0, 0x12, 0xab, 0xff };
	char			buf[32];

	(void)state;
	assert_string_equal(printable(buf, sizeof(buf), "10.0.0.3"),
	    "10.0.0.3");
	assert_string_equal(printable(buf, sizeof(buf), "a\033[2Jb\x7f"),
	    "a?[2Jb?");
	assert_string_equal(printable(buf, 4, "abcdef"), "abc");
	fmt_mac(buf, sizeof(buf), mac);
	assert_string_equal(buf, "52:54:00:12:ab:ff");
}

static void
test_json(void **state)
{
	char	*out = NULL;
	size_t	 len = 0;
	FILE	*f;

	(void)state;
	assert_non_null(f = open_memstream(&out, &len));
	json_str(f, "a\"b\\c\n\t\x01\x7f\xc3\xa9");
	fclose(f);
	assert_string_equal(out,
	    "\"a\\\"b\\\\c\\n\\t\\u0001\\u007f\xc3\xa9\"");
	free(out);
}

/* Names are cached: the same pointer comes back for the same id. */
static void
test_names(void **state)
{
	const char	*a, *b;

	(void)state;
	a = user_name(0);
	assert_string_equal(a, "root");
	b = user_name(0);
	assert_ptr_equal(a, b);
	assert_string_equal(user_name(4000000001u), "4000000001");
	assert_string_equal(group_name(0), "root");
	for (unsigned int id = 5000; id < 5100; id++) {
		char	num[16];

		snprintf(num, sizeof(num), "%u", id + 3000000000u);
		assert_string_equal(group_name(id + 3000000000u), num);
	}
	assert_string_equal(group_name(0), "root");
}

int
main(void)
{
	const struct CMUnitTest	tests[] = {
		cmocka_unit_test(test_size),
		cmocka_unit_test(test_age),
		cmocka_unit_test(test_mode),
		cmocka_unit_test(test_printable_mac),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
