/*
 * A newc ("070701") cpio reader, the format the kernel unpacks into a real
 * node's rootfs (init/initramfs.c), with the same rules: leading "./" and
 * "/" dropped, missing parents made, hard links joined by inode number with
 * the data on the group's last member, zero padding between concatenated
 * archives.  bpvnode runs it after the node left the front end's tree, so
 * even a hostile symlink in the image can only point into the node's own
 * tmpfs; every length is checked all the same, and ".." is refused.
 *
 * Every function returns -1 with the reason in in->err on failure.
 */
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cpio.h"
#include "htab.h"

#define NEWC_HDRLEN	110		/* "070701" + 13 fields of 8 hex digits */
#define NEWC_MAXLINKS	4096		/* hard-link groups remembered per image */
#define NEWC_BUF	65536		/* bytes read from the image at once */

/* The first member of a hard-link group, which the others link to. */
struct newc_link {
	uint32_t	ino, maj, min;
	char		*name;
};

struct newc_in {
	int			 fd;
	const char		*image;		/* for messages */
	char			*err;
	size_t			 errlen;
	size_t			 off, len;
	uint64_t		 pos;		/* bytes consumed; padding is relative */
	struct newc_link	*links;
	size_t			 nlinks;
	struct htab		 linkidx;	/* (ino, maj, min) -> links[] */
	unsigned char		 buf[NEWC_BUF];
};

enum {
	NEWC_INO, NEWC_MODE, NEWC_UID, NEWC_GID, NEWC_NLINK, NEWC_MTIME,
	NEWC_SIZE, NEWC_MAJ, NEWC_MIN, NEWC_RMAJ, NEWC_RMIN, NEWC_NAMESIZE,
	NEWC_CHECK, NEWC_NFIELDS
};

static int	newc_failx(struct newc_in *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static int	newc_fail(struct newc_in *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

/* A reason of the image's own: "<image>: <what>". */
static int
newc_failx(struct newc_in *in, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	n = snprintf(in->err, in->errlen, "%s: ", in->image);
	if (n < 0 || (size_t)n >= in->errlen)
		n = 0;
	va_start(ap, fmt);
	vsnprintf(in->err + n, in->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

/* A system call that failed: "<what>: <strerror>". */
static int
newc_fail(struct newc_in *in, const char *fmt, ...)
{
	va_list	ap;
	int	e = errno, n;

	va_start(ap, fmt);
	n = vsnprintf(in->err, in->errlen, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < in->errlen)
		snprintf(in->err + n, in->errlen - (size_t)n, ": %s",
		    strerror(e));
	return -1;
}

/* Refill the buffer: 1, 0 at end of input, -1. */
static int
newc_fill(struct newc_in *in)
{
	ssize_t	n;

	while ((n = read(in->fd, in->buf, sizeof(in->buf))) == -1)
		if (errno != EINTR)
			return newc_fail(in, "read %s", in->image);
	in->off = 0;
	in->len = (size_t)n;
	return n > 0;
}

/* Make sure the buffer holds something; where says what was cut short. */
static int
newc_more(struct newc_in *in, const char *where)
{
	int	r;

	if (in->off < in->len)
		return 0;
	if ((r = newc_fill(in)) == 1)
		return 0;
	if (r == 0 && where == NULL)
		return newc_failx(in, "truncated at byte %llu",
		    (unsigned long long)in->pos);
	if (r == 0)
		return newc_failx(in, "truncated in %s", where);
	return -1;
}

static int
newc_read(struct newc_in *in, void *dst, size_t n)
{
	unsigned char	*p = dst;
	size_t		 k;

	while (n > 0) {
		if (newc_more(in, NULL) == -1)
			return -1;
		k = in->len - in->off < n ? in->len - in->off : n;
		memcpy(p, in->buf + in->off, k);
		in->off += k;
		in->pos += k;
		p += k;
		n -= k;
	}
	return 0;
}

/* Copy n bytes of input to fd, or drop them when fd is -1. */
static int
newc_copy(struct newc_in *in, int fd, uint64_t n, const char *path)
{
	ssize_t	w;
	size_t	k;

	while (n > 0) {
		if (newc_more(in, path) == -1)
			return -1;
		k = in->len - in->off < n ? in->len - in->off : n;
		while (fd != -1 && k > 0) {
			if ((w = write(fd, in->buf + in->off, k)) == -1) {
				if (errno == EINTR)
					continue;
				return newc_fail(in, "write %s (node RAM disk)",
				    path);
			}
			in->off += w;
			in->pos += w;
			n -= w;
			k -= w;
		}
		in->off += k;
		in->pos += k;
		n -= k;
	}
	return 0;
}

static int
newc_align(struct newc_in *in)
{
	return newc_copy(in, -1, (4 - in->pos % 4) % 4, "padding");
}

/* Skip zero padding: 1 when a header follows, 0 at the end, -1. */
static int
newc_zeros(struct newc_in *in)
{
	int	r;

	for (;;) {
		if (in->off == in->len && (r = newc_fill(in)) != 1)
			return r;
		while (in->off < in->len && in->buf[in->off] == '\0') {
			in->off++;
			in->pos++;
		}
		if (in->off < in->len)
			return 1;
	}
}

static int
newc_hex(struct newc_in *in, const char *s, uint64_t pos, uint32_t *out)
{
	uint32_t v = 0;
	int	 i;

	for (i = 0; i < 8; i++) {
		if (s[i] >= '0' && s[i] <= '9')
			v = v << 4 | (uint32_t)(s[i] - '0');
		else if (s[i] >= 'a' && s[i] <= 'f')
			v = v << 4 | (uint32_t)(s[i] - 'a' + 10);
		else if (s[i] >= 'A' && s[i] <= 'F')
			v = v << 4 | (uint32_t)(s[i] - 'A' + 10);
		else
			return newc_failx(in, "bad header at byte %llu",
			    (unsigned long long)pos);
	}
	*out = v;
	return 0;
}

/* Drop leading "/" and "./"; refuse "..".  "" means the root itself. */
static char *
newc_path(struct newc_in *in, char *name)
{
	char	*p = name, *c;

	for (;;) {
		if (*p == '/')
			p++;
		else if (p[0] == '.' && p[1] == '/')
			p += 2;
		else
			break;
	}
	if (strcmp(p, ".") == 0)
		p += 1;
	for (c = p;; c++) {
		if (c[0] == '.' && c[1] == '.' &&
		    (c[2] == '/' || c[2] == '\0')) {
			newc_failx(in, "refusing path %s", name);
			return NULL;
		}
		if ((c = strchr(c, '/')) == NULL)
			break;
	}
	return p;
}

/* cpio -d: make missing parent directories. */
static int
newc_parents(struct newc_in *in, char *path)
{
	char	*s;

	for (s = strchr(path, '/'); s != NULL; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (*path != '\0' && mkdir(path, 0755) == -1 &&
		    errno != EEXIST) {
			newc_fail(in, "mkdir %s", path);
			*s = '/';
			return -1;
		}
		*s = '/';
	}
	return 0;
}

static int
newc_meta(struct newc_in *in, const char *path, const uint32_t *f,
    int chmodok)
{
	struct timespec	ts[2];

	if (lchown(path, f[NEWC_UID], f[NEWC_GID]) == -1)
		return newc_fail(in, "chown %s", path);
	/* After chown, which clears set-id bits. */
	if (chmodok && chmod(path, f[NEWC_MODE] & 07777) == -1)
		return newc_fail(in, "chmod %s", path);
	ts[0].tv_sec = ts[1].tv_sec = f[NEWC_MTIME];
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	if (utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) == -1)
		return newc_fail(in, "utimensat %s", path);
	return 0;
}

static uint64_t
link_hash(const uint32_t *f)
{
	return htab_mix(htab_mix(htab_mix(0, f[NEWC_INO]), f[NEWC_MAJ]),
	    f[NEWC_MIN]);
}

/* What link_eq looks for: a header's fields in one reader's groups. */
struct link_key {
	const struct newc_in	*in;
	const uint32_t		*f;
};

static int
link_eq(uintptr_t v, const void *key)
{
	const struct link_key	*k = key;
	const struct newc_link	*l = &k->in->links[v];

	return l->ino == k->f[NEWC_INO] && l->maj == k->f[NEWC_MAJ] &&
	    l->min == k->f[NEWC_MIN];
}

/*
 * The group a file with several links belongs to: *first is set when
 * this is its first member (which is created; the others link to it).
 */
static int
newc_link_find(struct newc_in *in, const char *path, const uint32_t *f,
    struct newc_link **lp)
{
	struct link_key	 key = { in, f };
	struct newc_link *nl;
	uint64_t	 h = link_hash(f);
	uintptr_t	 v;

	*lp = NULL;
	if (htab_get(&in->linkidx, h, link_eq, &key, &v)) {
		*lp = &in->links[v];
		return 0;
	}
	if (in->nlinks == NEWC_MAXLINKS)
		return newc_failx(in, "too many hard links");
	if ((nl = reallocarray(in->links, in->nlinks + 1,
	    sizeof(*nl))) == NULL)
		return newc_fail(in, "reallocarray");
	in->links = nl;
	nl = &in->links[in->nlinks];
	nl->ino = f[NEWC_INO];
	nl->maj = f[NEWC_MAJ];
	nl->min = f[NEWC_MIN];
	if ((nl->name = strdup(path)) == NULL)
		return newc_fail(in, "strdup");
	if (htab_put(&in->linkidx, h, in->nlinks) == -1)
		return newc_fail(in, "htab_put");
	in->nlinks++;
	return 0;
}

static int
newc_file(struct newc_in *in, const char *path, const uint32_t *f)
{
	struct newc_link *l = NULL;
	int		  fd;

	if (f[NEWC_NLINK] > 1 && newc_link_find(in, path, f, &l) == -1)
		return -1;
	if (unlink(path) == -1 && errno != ENOENT)
		return newc_fail(in, "unlink %s", path);
	if (l != NULL) {
		if (link(l->name, path) == -1)
			return newc_fail(in, "link %s to %s", path, l->name);
		fd = open(path, O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC);
	} else
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0600);
	if (fd == -1)
		return newc_fail(in, "create %s", path);
	if (newc_copy(in, fd, f[NEWC_SIZE], path) == -1) {
		close(fd);
		return -1;
	}
	if (close(fd) == -1)
		return newc_fail(in, "close %s", path);
	return newc_meta(in, path, f, 1);
}

static int
newc_symlink(struct newc_in *in, const char *path, const uint32_t *f)
{
	char	target[PATH_MAX];

	if (f[NEWC_SIZE] == 0 || f[NEWC_SIZE] >= sizeof(target))
		return newc_failx(in, "bad symlink %s", path);
	if (newc_read(in, target, f[NEWC_SIZE]) == -1)
		return -1;
	target[f[NEWC_SIZE]] = '\0';
	if (strlen(target) != f[NEWC_SIZE])
		return newc_failx(in, "bad symlink %s", path);
	if (unlink(path) == -1 && errno != ENOENT)
		return newc_fail(in, "unlink %s", path);
	if (symlink(target, path) == -1)
		return newc_fail(in, "symlink %s", path);
	return newc_meta(in, path, f, 0);
}

static int
newc_special(struct newc_in *in, const char *path, const uint32_t *f)
{
	if (f[NEWC_SIZE] != 0)
		return newc_failx(in, "special file %s has data", path);
	if (unlink(path) == -1 && errno != ENOENT)
		return newc_fail(in, "unlink %s", path);
	if (mknod(path, f[NEWC_MODE] & (S_IFMT | 07777),
	    makedev(f[NEWC_RMAJ], f[NEWC_RMIN])) == -1)
		return newc_fail(in, "mknod %s", path);
	return newc_meta(in, path, f, 1);
}

static int
newc_entry(struct newc_in *in, char *name, const uint32_t *f)
{
	struct stat	 sb;
	char		*path;
	uint32_t	 mode = f[NEWC_MODE];

	if ((path = newc_path(in, name)) == NULL)
		return -1;
	if (*path == '\0') {
		/* The kernel gives the root the archive's "." mode. */
		if (S_ISDIR(mode) && newc_meta(in, ".", f, 1) == -1)
			return -1;
		return newc_copy(in, -1, f[NEWC_SIZE], name);
	}
	if (newc_parents(in, path) == -1)
		return -1;
	switch (mode & S_IFMT) {
	case S_IFREG:
		return newc_file(in, path, f);
	case S_IFDIR:
		if (mkdir(path, 0700) == -1 && (errno != EEXIST ||
		    lstat(path, &sb) == -1 || !S_ISDIR(sb.st_mode)))
			return newc_fail(in, "mkdir %s", path);
		if (newc_copy(in, -1, f[NEWC_SIZE], path) == -1)
			return -1;
		return newc_meta(in, path, f, 1);
	case S_IFLNK:
		return newc_symlink(in, path, f);
	case S_IFCHR:
	case S_IFBLK:
	case S_IFIFO:
	case S_IFSOCK:
		return newc_special(in, path, f);
	default:
		return newc_failx(in, "%s has unknown type %o", path,
		    mode & S_IFMT);
	}
}

/* One header and its name; 1 for a member, 0 for a TRAILER!!!. */
static int
newc_header(struct newc_in *in, uint32_t *f, char *name, size_t namelen)
{
	char		hdr[NEWC_HDRLEN];
	uint64_t	at = in->pos;
	int		i;

	if (at % 4 != 0)
		return newc_failx(in, "misaligned header at byte %llu",
		    (unsigned long long)at);
	if (newc_read(in, hdr, sizeof(hdr)) == -1)
		return -1;
	if (memcmp(hdr, "070701", 6) != 0 && memcmp(hdr, "070702", 6) != 0)
		return newc_failx(in, "not a newc cpio (byte %llu)",
		    (unsigned long long)at);
	for (i = 0; i < NEWC_NFIELDS; i++)
		if (newc_hex(in, hdr + 6 + 8 * i, at, &f[i]) == -1)
			return -1;
	if (f[NEWC_NAMESIZE] < 2 || f[NEWC_NAMESIZE] > namelen)
		return newc_failx(in, "bad name size at byte %llu",
		    (unsigned long long)at);
	if (newc_read(in, name, f[NEWC_NAMESIZE]) == -1)
		return -1;
	if (name[f[NEWC_NAMESIZE] - 1] != '\0' ||
	    strlen(name) != f[NEWC_NAMESIZE] - 1)
		return newc_failx(in, "bad name at byte %llu",
		    (unsigned long long)at);
	if (newc_align(in) == -1)
		return -1;
	return strcmp(name, "TRAILER!!!") != 0;
}

static int
newc_members(struct newc_in *in)
{
	uint32_t	f[NEWC_NFIELDS];
	char		name[PATH_MAX];
	int		r, inarchive = 0, entries = 0;

	while ((r = newc_zeros(in)) == 1) {
		if ((r = newc_header(in, f, name, sizeof(name))) == -1)
			return -1;
		if (r == 0) {
			if (newc_copy(in, -1, f[NEWC_SIZE], name) == -1)
				return -1;
			inarchive = 0;
		} else {
			if (newc_entry(in, name, f) == -1)
				return -1;
			inarchive = 1;
			entries++;
		}
		if (newc_align(in) == -1)
			return -1;
	}
	if (r == -1)
		return -1;
	if (inarchive)
		return newc_failx(in, "truncated (no TRAILER!!!)");
	if (entries == 0)
		return newc_failx(in, "the image is empty");
	return 0;
}

int
cpio_unpack(int fd, const char *name, char *err, size_t errlen)
{
	struct newc_in	*in;
	size_t		 i;
	int		 r;

	if ((in = calloc(1, sizeof(*in))) == NULL) {
		snprintf(err, errlen, "calloc: %s", strerror(errno));
		return -1;
	}
	in->fd = fd;
	in->image = name;
	in->err = err;
	in->errlen = errlen;
	htab_init(&in->linkidx);
	r = newc_members(in);
	for (i = 0; i < in->nlinks; i++)
		free(in->links[i].name);
	free(in->links);
	htab_free(&in->linkidx);
	free(in);
	return r;
}
