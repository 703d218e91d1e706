/*
 * A file-system sandbox for fuzz targets whose code under test touches
 * files (nodeinit's push and users handlers, bpsh's ELF walker).  The
 * target is linked with -Wl,--wrap=NAME for each call below, so the calls
 * of the code under test come here; while fuzz_sandbox_on is set, an
 * absolute path is taken under fuzz_sandbox_root.  libFuzzer's own files
 * (corpus, artifacts) are written with the flag off and pass through.
 * /dev/null stays the host's, and /proc unless fuzz_sandbox_host_proc is
 * cleared (a walker would read /proc/kcore whole).
 *
 * This is not a security boundary (a symlink the input made can point
 * out, and a stat through it reads the host), only a guard against an
 * input that would write or walk the host's tree.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"

#define SB_PATH	(PATH_MAX + 256)	/* a rewritten path at most */

int	fuzz_sandbox_on;
int	fuzz_sandbox_host_proc = 1;
int	fuzz_sandbox_dirty;
char	fuzz_sandbox_root[256];
static size_t	rootlen;

int	__real_open(const char *, int, ...);
int	__real_stat(const char *, struct stat *);
int	__real_lstat(const char *, struct stat *);
int	__real_link(const char *, const char *);
int	__real_symlink(const char *, const char *);
int	__real_rename(const char *, const char *);
int	__real_unlink(const char *);
int	__real_mkdir(const char *, mode_t);
int	__real_chown(const char *, uid_t, gid_t);
int	__real_lchown(const char *, uid_t, gid_t);
int	__real_chmod(const char *, mode_t);
ssize_t	__real_readlink(const char *, char *, size_t);
DIR	*__real_opendir(const char *);
FILE	*__real_fopen(const char *, const char *);
int	__real_access(const char *, int);
char	*__real_realpath(const char *, char *);
int	__real_glob(const char *, int, int (*)(const char *, int), glob_t *);

int	__wrap_open(const char *, int, ...);
int	__wrap_stat(const char *, struct stat *);
int	__wrap_lstat(const char *, struct stat *);
int	__wrap_link(const char *, const char *);
int	__wrap_symlink(const char *, const char *);
int	__wrap_rename(const char *, const char *);
int	__wrap_unlink(const char *);
int	__wrap_mkdir(const char *, mode_t);
int	__wrap_chown(const char *, uid_t, gid_t);
int	__wrap_lchown(const char *, uid_t, gid_t);
int	__wrap_chmod(const char *, mode_t);
ssize_t	__wrap_readlink(const char *, char *, size_t);
DIR	*__wrap_opendir(const char *);
FILE	*__wrap_fopen(const char *, const char *);
int	__wrap_access(const char *, int);
char	*__wrap_realpath(const char *, char *);
int	__wrap_glob(const char *, int, int (*)(const char *, int), glob_t *);

/* The path the host sees for p; buf holds it when it is rewritten. */
static const char *
sb(const char *p, char *buf)
{
	if (!fuzz_sandbox_on || p == NULL || p[0] != '/')
		return p;
	if (strcmp(p, "/dev/null") == 0)
		return p;
	if (fuzz_sandbox_host_proc && (strncmp(p, "/proc/", 6) == 0 ||
	    strcmp(p, "/proc") == 0))
		return p;
	if ((size_t)snprintf(buf, SB_PATH, "%s%s", fuzz_sandbox_root, p) >=
	    SB_PATH)
		return "/nonexistent/fuzz-sandbox/path-too-long";
	return buf;
}

static void
dirty(void)
{
	if (fuzz_sandbox_on)
		fuzz_sandbox_dirty = 1;
}

/* A host path under the root back to what the code under test named. */
static void
unsb(char *p)
{
	if (!fuzz_sandbox_on || strncmp(p, fuzz_sandbox_root, rootlen) != 0)
		return;
	if (p[rootlen] == '\0')
		strcpy(p, "/");
	else if (p[rootlen] == '/')
		memmove(p, p + rootlen, strlen(p + rootlen) + 1);
}

int
__wrap_open(const char *p, int flags, ...)
{
	char	buf[SB_PATH];
	mode_t	mode = 0;
	va_list	ap;

	if (flags & (O_CREAT | O_TMPFILE)) {
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	if (flags & (O_CREAT | O_WRONLY | O_RDWR | O_TRUNC))
		dirty();
	return __real_open(sb(p, buf), flags, mode);
}

int
__wrap_stat(const char *p, struct stat *st)
{
	char	buf[SB_PATH];

	return __real_stat(sb(p, buf), st);
}

int
__wrap_lstat(const char *p, struct stat *st)
{
	char	buf[SB_PATH];

	return __real_lstat(sb(p, buf), st);
}

int
__wrap_link(const char *a, const char *b)
{
	char	ba[SB_PATH], bb[SB_PATH];

	dirty();
	return __real_link(sb(a, ba), sb(b, bb));
}

/* the target is the link's content, kept as the code wrote it */
int
__wrap_symlink(const char *target, const char *p)
{
	char	buf[SB_PATH];

	dirty();
	return __real_symlink(target, sb(p, buf));
}

int
__wrap_rename(const char *a, const char *b)
{
	char	ba[SB_PATH], bb[SB_PATH];

	dirty();
	return __real_rename(sb(a, ba), sb(b, bb));
}

int
__wrap_unlink(const char *p)
{
	char	buf[SB_PATH];

	dirty();
	return __real_unlink(sb(p, buf));
}

int
__wrap_mkdir(const char *p, mode_t mode)
{
	char	buf[SB_PATH];

	dirty();
	return __real_mkdir(sb(p, buf), mode);
}

int
__wrap_chown(const char *p, uid_t uid, gid_t gid)
{
	char	buf[SB_PATH];

	dirty();
	return __real_chown(sb(p, buf), uid, gid);
}

int
__wrap_lchown(const char *p, uid_t uid, gid_t gid)
{
	char	buf[SB_PATH];

	dirty();
	return __real_lchown(sb(p, buf), uid, gid);
}

int
__wrap_chmod(const char *p, mode_t mode)
{
	char	buf[SB_PATH];

	dirty();
	return __real_chmod(sb(p, buf), mode);
}

ssize_t
__wrap_readlink(const char *p, char *out, size_t len)
{
	char	buf[SB_PATH];

	return __real_readlink(sb(p, buf), out, len);
}

DIR *
__wrap_opendir(const char *p)
{
	char	buf[SB_PATH];

	return __real_opendir(sb(p, buf));
}

FILE *
__wrap_fopen(const char *p, const char *mode)
{
	char	buf[SB_PATH];

	if (strpbrk(mode, "wa+") != NULL)
		dirty();
	return __real_fopen(sb(p, buf), mode);
}

int
__wrap_access(const char *p, int how)
{
	char	buf[SB_PATH];

	return __real_access(sb(p, buf), how);
}

char *
__wrap_realpath(const char *p, char *out)
{
	char	buf[SB_PATH], *r;

	if ((r = __real_realpath(sb(p, buf), out)) != NULL)
		unsb(r);
	return r;
}

int
__wrap_glob(const char *pat, int flags, int (*efn)(const char *, int),
    glob_t *g)
{
	char	buf[SB_PATH];
	int	r;

	r = __real_glob(sb(pat, buf), flags, efn, g);
	if (r == 0)
		for (size_t i = 0; i < g->gl_pathc; i++)
			unsb(g->gl_pathv[g->gl_offs + i]);
	return r;
}

static int	rm_one(const char *, const struct stat *, int, struct FTW *);

static void
sandbox_remove(void)
{
	fuzz_sandbox_wipe();
	rmdir(fuzz_sandbox_root);
}

void
fuzz_sandbox_init(const char *name)
{
	char	tmpl[200];

	snprintf(tmpl, sizeof(tmpl), "/tmp/bproc-%s.XXXXXX", name);
	if (mkdtemp(tmpl) == NULL)
		err(1, "sandbox %s", tmpl);
	snprintf(fuzz_sandbox_root, sizeof(fuzz_sandbox_root), "%s", tmpl);
	rootlen = strlen(fuzz_sandbox_root);
	atexit(sandbox_remove);
}

static int
rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	if (ftw->level > 0)
		remove(p);
	return 0;
}

/* Empty the sandbox (with the flag off: these are the host's paths). */
void
fuzz_sandbox_wipe(void)
{
	int	on = fuzz_sandbox_on;

	fuzz_sandbox_on = 0;
	nftw(fuzz_sandbox_root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	fuzz_sandbox_on = on;
	fuzz_sandbox_dirty = 0;
}

/* Write a file of the sandbox's tree, its directories made as needed. */
void
fuzz_sandbox_put(const char *p, const void *data, size_t len, int mode)
{
	char	path[SB_PATH], *s;
	FILE	*f;
	int	on = fuzz_sandbox_on;

	fuzz_sandbox_on = 0;
	snprintf(path, sizeof(path), "%s%s", fuzz_sandbox_root, p);
	for (s = path + rootlen + 1; (s = strchr(s, '/')) != NULL; s++) {
		*s = '\0';
		mkdir(path, 0755);
		*s = '/';
	}
	unlink(path);
	if ((f = fopen(path, "wb")) == NULL)
		err(1, "%s", path);
	if (len && fwrite(data, 1, len, f) != len)
		err(1, "%s", path);
	if (fclose(f) == EOF)
		err(1, "%s", path);
	chmod(path, (mode_t)mode);
	fuzz_sandbox_on = on;
}
