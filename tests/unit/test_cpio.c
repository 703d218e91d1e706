/*
 * Unit tests for tools/cpio.c, bpvnode's initramfs reader: a small newc
 * archive written here unpacks into a scratch directory with its files,
 * directories, symlinks and hard links; ".." and cut-short archives are
 * refused with a reason.
 */
#include <sys/stat.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "cpio.h"

/* An archive being written into a memory file. */
struct arch {
	FILE	*f;
	char	*buf;
	size_t	 len;
};

static void
pad4(struct arch *a)
{
	long	at = ftell(a->f);

	while (at++ % 4 != 0)
		fputc('\0', a->f);
}

static void
member(struct arch *a, unsigned ino, unsigned mode, unsigned nlink,
    const char *name, const char *data, size_t size)
{
	fprintf(a->f, "070701%08x%08x%08x%08x%08x%08x%08zx%08x%08x%08x%08x"
	    "%08zx%08x", ino, mode, 0u, 0u, nlink, 1000000000u, size, 0u, 1u,
	    0u, 0u, strlen(name) + 1, 0u);
	fwrite(name, 1, strlen(name) + 1, a->f);
	pad4(a);
	fwrite(data, 1, size, a->f);
	pad4(a);
}

static void
arch_open(struct arch *a)
{
	a->buf = NULL;
	a->len = 0;
	assert_non_null(a->f = open_memstream(&a->buf, &a->len));
}

/* Close the archive, unpack it in a fresh directory: cpio_unpack's answer. */
static int
arch_unpack(struct arch *a, int trailer, size_t cut, char *err, size_t elen,
    char *dir)
{
	char	 path[64];
	FILE	*img;
	int	 r;

	if (trailer)
		member(a, 0, 0, 1, "TRAILER!!!", "", 0);
	fclose(a->f);
	if (cut > 0 && cut < a->len)
		a->len = cut;
	strcpy(dir, "/tmp/test_cpio.XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chdir(dir), 0);
	snprintf(path, sizeof(path), "%s.img", dir);
	assert_non_null(img = fopen(path, "w+"));
	assert_int_equal(fwrite(a->buf, 1, a->len, img), a->len);
	assert_int_equal(fflush(img), 0);
	rewind(img);
	err[0] = '\0';
	r = cpio_unpack(fileno(img), "img", err, elen);
	fclose(img);
	unlink(path);
	free(a->buf);
	return r;
}

static void
cleanup(const char *dir)
{
	char	cmd[128];

	assert_int_equal(chdir("/"), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static void
test_tree(void **state)
{
	struct arch	a;
	struct stat	s1, s2;
	char		dir[64], err[256], buf[64];
	ssize_t		n;

	(void)state;
	arch_open(&a);
	member(&a, 1, 040755, 2, ".", "", 0);
	member(&a, 2, 040700, 2, "./etc", "", 0);
	member(&a, 3, 0100640, 1, "etc/motd", "hello\n", 6);
	member(&a, 4, 0100755, 1, "/usr/bin/tool", "#!x", 3);	/* parents made */
	member(&a, 5, 0120777, 1, "bin", "usr/bin", 7);
	/* a hard-link pair: the data comes with the group's last member */
	member(&a, 6, 0100644, 2, "a1", "", 0);
	member(&a, 6, 0100644, 2, "a2", "same", 4);
	assert_int_equal(arch_unpack(&a, 1, 0, err, sizeof(err), dir), 0);
	assert_int_equal(stat("etc/motd", &s1), 0);
	assert_int_equal(s1.st_mode & 07777, 0640);
	assert_int_equal(s1.st_mtime, 1000000000);
	assert_int_equal(stat("etc", &s1), 0);
	assert_int_equal(s1.st_mode & 07777, 0700);
	assert_int_equal(access("usr/bin/tool", X_OK), 0);
	n = readlink("bin", buf, sizeof(buf) - 1);
	assert_int_equal(n, 7);
	buf[n] = '\0';
	assert_string_equal(buf, "usr/bin");
	assert_int_equal(stat("a1", &s1), 0);
	assert_int_equal(stat("a2", &s2), 0);
	assert_true(s1.st_ino == s2.st_ino);
	assert_int_equal(s1.st_size, 4);
	cleanup(dir);
}

static void
test_refused(void **state)
{
	struct arch	a;
	char		dir[64], err[256];

	(void)state;
	arch_open(&a);
	member(&a, 1, 0100644, 1, "x/../../escape", "no", 2);
	assert_int_equal(arch_unpack(&a, 1, 0, err, sizeof(err), dir), -1);
	assert_non_null(strstr(err, "img: refusing path"));
	cleanup(dir);

	arch_open(&a);
	member(&a, 1, 0100644, 1, "big", "0123456789abcdef", 16);
	assert_int_equal(arch_unpack(&a, 0, 120, err, sizeof(err), dir), -1);
	assert_string_equal(err, "img: truncated in big");
	cleanup(dir);

	arch_open(&a);
	member(&a, 1, 0100644, 1, "f", "", 0);
	assert_int_equal(arch_unpack(&a, 0, 0, err, sizeof(err), dir), -1);
	assert_string_equal(err, "img: truncated (no TRAILER!!!)");
	cleanup(dir);

	arch_open(&a);
	for (int i = 0; i < 8; i++)	/* a header's worth of text */
		fputs("not an archive at all\n", a.f);
	assert_int_equal(arch_unpack(&a, 0, 0, err, sizeof(err), dir), -1);
	assert_string_equal(err, "img: not a newc cpio (byte 0)");
	cleanup(dir);
}

int
main(void)
{
	const struct CMUnitTest	tests[] = {
		cmocka_unit_test(test_tree),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
