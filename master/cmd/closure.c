/*
 * The closure cache: what a command needed last time, so that a warm
 * bpsh neither parses ELF nor reads ld.so.conf.  An entry holds the
 * manifest (paths, links, modes, hashes) and the inode state of every path
 * the walk depended on: each pushed file and link, each ld.so.conf file and
 * include directory, and each place a library lookup searched in vain (a
 * library that appears earlier in the search order must win, as with
 * ld.so).  The entry is used only if every one of those is unchanged and
 * every file is still readable by the user; otherwise the walk runs again
 * and replaces it.  Walks that are hard to check (directories, paths with
 * "..", missing libraries, --push) are never cached.
 *
 * One file per command in ~/.cache/bproc/closures, named by a hash of the
 * key (command path and LD_LIBRARY_PATH), which is also stored in full.
 * The format is this machine's byte order: the cache is per user and
 * local, and anything that does not decode exactly is ignored.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bproc.h"
#include "htab.h"
#include "manifest.h"

#define CLOSURE_MAGIC	0x4250434cU	/* "BPCL" */
#define CLOSURE_VERSION	1
#define CLOSURE_MAXLEN	(4u << 20)	/* bytes of one entry file at most */
#define CLOSURE_MAXREC	100000		/* deps or files in one entry */

struct dep {
	char		*path;
	int		 present;	/* lstat found it (else: must stay absent) */
	uint64_t	 dev, ino;
	int64_t		 size, mtime, ctime;
	uint32_t	 mode, uid, gid;
};

static struct dep	*deps;
static size_t		 ndeps;
static int		 recording, spoiled;

/* A buffer being written: grows, remembers a failure. */
struct obuf {
	unsigned char	*p;
	size_t		 len, cap;
	int		 bad;
};

/* A buffer being read: every get checks what is left. */
struct ibuf {
	const unsigned char	*p;
	size_t			 left;
};

static void
dep_fill(struct dep *d, const struct stat *st)
{
	d->present = st != NULL;
	if (st == NULL)
		return;
	d->dev = (uint64_t)st->st_dev;
	d->ino = (uint64_t)st->st_ino;
	d->size = (int64_t)st->st_size;
	d->mtime = (int64_t)st->st_mtim.tv_sec * 1000000000 +
	    st->st_mtim.tv_nsec;
	/* ctime too: chmod, chown and ACL changes leave mtime alone */
	d->ctime = (int64_t)st->st_ctim.tv_sec * 1000000000 +
	    st->st_ctim.tv_nsec;
	d->mode = st->st_mode;
	d->uid = st->st_uid;
	d->gid = st->st_gid;
}

static int
dep_same(const struct dep *a, const struct dep *b)
{
	if (a->present != b->present)
		return 0;
	return !a->present || (a->dev == b->dev && a->ino == b->ino &&
	    a->size == b->size && a->mtime == b->mtime &&
	    a->ctime == b->ctime && a->mode == b->mode && a->uid == b->uid &&
	    a->gid == b->gid);
}

static void
deps_clear(void)
{
	for (size_t i = 0; i < ndeps; i++)
		free(deps[i].path);
	free(deps);
	deps = NULL;
	ndeps = 0;
}

void
closure_record(const char *path, const struct stat *st)
{
	struct dep	*nd;

	if (!recording || spoiled)
		return;
	if (ndeps >= CLOSURE_MAXREC || (nd = reallocarray(deps, ndeps + 1,
	    sizeof(*deps))) == NULL) {
		spoiled = 1;
		return;
	}
	deps = nd;
	memset(&deps[ndeps], 0, sizeof(deps[ndeps]));
	if ((deps[ndeps].path = strdup(path)) == NULL) {
		spoiled = 1;
		return;
	}
	dep_fill(&deps[ndeps++], st);
}

void
closure_spoil(void)
{
	spoiled = 1;
}

/* The key, and the entry's file name from its FNV-1a hash. */
static int
closure_key(const char *cmd, char *key, size_t keylen, size_t *klen,
    char *path, size_t pathlen)
{
	const char	*home = getenv("HOME"), *llp = getenv("LD_LIBRARY_PATH");
	int		 n;

	/* no shared fallback directory: only the user's own cache is trusted */
	if (home == NULL || *home != '/')
		return -1;
	n = snprintf(key, keylen, "%s%c%s", cmd, '\0', llp ? llp : "");
	if (n < 0 || (size_t)n >= keylen)
		return -1;
	*klen = (size_t)n;
	n = snprintf(path, pathlen, "%s/.cache/bproc/closures/%016llx", home,
	    (unsigned long long)htab_hash(key, *klen));
	return n < 0 || (size_t)n >= pathlen ? -1 : 0;
}

static void
put(struct obuf *o, const void *v, size_t len)
{
	unsigned char	*np;
	size_t		 cap;

	/* memcpy from NULL is undefined even for no bytes (a file's target) */
	if (o->bad || len == 0)
		return;
	if (o->len + len > CLOSURE_MAXLEN) {
		o->bad = 1;
		return;
	}
	if (o->len + len > o->cap) {
		for (cap = o->cap ? o->cap : 4096; cap < o->len + len; cap *= 2)
			;
		if ((np = realloc(o->p, cap)) == NULL) {
			o->bad = 1;
			return;
		}
		o->p = np;
		o->cap = cap;
	}
	memcpy(o->p + o->len, v, len);
	o->len += len;
}

static void
put32(struct obuf *o, uint32_t v)
{
	put(o, &v, sizeof(v));
}

static void
put64(struct obuf *o, uint64_t v)
{
	put(o, &v, sizeof(v));
}

static void
putstr(struct obuf *o, const char *s)
{
	size_t	len = s ? strlen(s) : 0;

	put32(o, (uint32_t)len);
	put(o, s, len);
}

static const void *
get(struct ibuf *b, size_t len)
{
	const void	*p = b->p;

	if (len > b->left)
		return NULL;
	b->p += len;
	b->left -= len;
	return p;
}

/* n bytes into v, as they were written (host order: the cache is ours). */
static int
getn(struct ibuf *b, void *v, size_t n)
{
	const void	*p = get(b, n);

	if (p == NULL)
		return -1;
	memcpy(v, p, n);
	return 0;
}

static int
get32(struct ibuf *b, uint32_t *v)
{
	return getn(b, v, sizeof(*v));
}

static int
get64(struct ibuf *b, uint64_t *v)
{
	return getn(b, v, sizeof(*v));
}

/* A string of 0 (if empty_ok) to PATH_MAX - 1 bytes without NUL, copied. */
static int
getstr(struct ibuf *b, char *out, int empty_ok)
{
	const char	*s;
	uint32_t	 len;

	if (get32(b, &len) == -1 || len >= PATH_MAX || (len == 0 && !empty_ok) ||
	    (s = get(b, len)) == NULL || memchr(s, '\0', len) != NULL)
		return -1;
	memcpy(out, s, len);
	out[len] = '\0';
	return 0;
}

static int
read_file(const char *path, unsigned char **buf, size_t *len)
{
	struct stat	 st;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	/* ours and written by us alone: an entry decides what is pushed */
	if (fstat(fd, &st) == -1 || st.st_uid != geteuid() ||
	    (st.st_mode & 022) || st.st_size <= 0 ||
	    (uint64_t)st.st_size > CLOSURE_MAXLEN ||
	    (*buf = malloc((size_t)st.st_size)) == NULL) {
		close(fd);
		return -1;
	}
	n = read(fd, *buf, (size_t)st.st_size);
	close(fd);
	if (n != st.st_size) {
		free(*buf);
		return -1;
	}
	*len = (size_t)n;
	return 0;
}

/* Check every dependency of the entry against the file system now. */
static int
closure_check_deps(struct ibuf *b)
{
	char		 path[PATH_MAX];
	struct dep	 d, now;
	struct stat	 st;
	uint32_t	 n, present;
	uint64_t	 v[5];

	if (get32(b, &n) == -1 || n > CLOSURE_MAXREC)
		return -1;
	while (n-- > 0) {
		memset(&d, 0, sizeof(d));
		memset(&now, 0, sizeof(now));
		if (get32(b, &present) == -1 || present > 1)
			return -1;
		d.present = (int)present;
		for (int i = 0; i < 5; i++)
			if (get64(b, &v[i]) == -1)
				return -1;
		d.dev = v[0];
		d.ino = v[1];
		d.size = (int64_t)v[2];
		d.mtime = (int64_t)v[3];
		d.ctime = (int64_t)v[4];
		if (get32(b, &d.mode) == -1 || get32(b, &d.uid) == -1 ||
		    get32(b, &d.gid) == -1 || getstr(b, path, 0) == -1)
			return -1;
		if (lstat(path, &st) == 0)
			dep_fill(&now, &st);
		else if (errno == ENOENT || errno == ENOTDIR)
			dep_fill(&now, NULL);
		else
			return -1;
		if (!dep_same(&d, &now))
			return -1;
	}
	return 0;
}

/* The entry's files into m (empty so far); -1 leaves m empty. */
static int
closure_files(struct ibuf *b, struct manifest *m)
{
	struct bproc_file	*f;
	char			 path[PATH_MAX], target[PATH_MAX];
	char			 cur[PATH_MAX];
	const unsigned char	*hash;
	struct stat		 st;
	ssize_t			 len;
	uint32_t		 n, type, mode, uid, gid;
	uint64_t		 size;

	if (get32(b, &n) == -1 || n == 0 || n > CLOSURE_MAXREC ||
	    (m->files = calloc(n, sizeof(*m->files))) == NULL)
		return -1;
	m->cap = n;
	while (n-- > 0) {
		if (get32(b, &type) == -1 || type > 1 || get32(b, &mode) == -1 ||
		    get32(b, &uid) == -1 || get32(b, &gid) == -1 ||
		    get64(b, &size) == -1 || (hash = get(b, 32)) == NULL ||
		    getstr(b, path, 0) == -1 || getstr(b, target, 1) == -1 ||
		    path[0] != '/' || (type == 1) != (target[0] != '\0'))
			goto fail;
		/*
		 * What the entry says of each file is what the file is now,
		 * and it is still readable by us: nobody pushes what they
		 * cannot read.
		 */
		if (lstat(path, &st) == -1)
			goto fail;
		if (type == 0 && (!S_ISREG(st.st_mode) ||
		    (st.st_mode & 07777) != mode || st.st_uid != uid ||
		    st.st_gid != gid || (uint64_t)st.st_size != size ||
		    access(path, R_OK) == -1))
			goto fail;
		if (type == 1 && (!S_ISLNK(st.st_mode) ||
		    (len = readlink(path, cur, sizeof(cur))) < 0 ||
		    (size_t)len != strlen(target) ||
		    memcmp(cur, target, (size_t)len) != 0))
			goto fail;
		f = &m->files[m->n++];
		f->mode = mode;
		f->uid = uid;
		f->gid = gid;
		f->size = size;
		memcpy(f->hash, hash, 32);
		if ((f->path = strdup(path)) == NULL ||
		    (type == 1 && (f->target = strdup(target)) == NULL))
			goto fail;
	}
	if (b->left != 0)
		goto fail;
	return 0;
fail:
	for (size_t i = 0; i < m->n; i++) {
		free(m->files[i].path);
		free(m->files[i].target);
	}
	free(m->files);
	m->files = NULL;
	m->n = m->cap = 0;
	return -1;
}

int
closure_load(const char *cmd, struct manifest *m)
{
	char		 key[2 * PATH_MAX], path[PATH_MAX];
	unsigned char	*buf = NULL;
	const void	*k;
	struct ibuf	 b;
	size_t		 klen, len;
	uint32_t	 magic, version, l;
	int		 r = -1;

	if (m->n != 0 || closure_key(cmd, key, sizeof(key), &klen, path,
	    sizeof(path)) == -1 || read_file(path, &buf, &len) == -1)
		return -1;
	b.p = buf;
	b.left = len;
	if (get32(&b, &magic) == -1 || magic != CLOSURE_MAGIC ||
	    get32(&b, &version) == -1 || version != CLOSURE_VERSION ||
	    get32(&b, &l) == -1 || l != klen || (k = get(&b, l)) == NULL ||
	    memcmp(k, key, klen) != 0)
		goto out;
	if (closure_check_deps(&b) == -1 || closure_files(&b, m) == -1)
		goto out;
	r = 0;
out:
	free(buf);
	return r;
}

void
closure_begin(void)
{
	deps_clear();
	recording = 1;
	spoiled = 0;
}

void
closure_end(const char *cmd, const struct manifest *m)
{
	char		 key[2 * PATH_MAX], path[PATH_MAX], tmp[PATH_MAX + 32];
	char		*slash;
	struct obuf	 o;
	size_t		 klen, i;
	int		 fd;

	if (!recording)
		return;
	recording = 0;
	memset(&o, 0, sizeof(o));
	if (spoiled || m->errors || m->n == 0 ||
	    closure_key(cmd, key, sizeof(key), &klen, path, sizeof(path)) == -1)
		goto out;
	put32(&o, CLOSURE_MAGIC);
	put32(&o, CLOSURE_VERSION);
	put32(&o, (uint32_t)klen);
	put(&o, key, klen);
	put32(&o, (uint32_t)ndeps);
	for (i = 0; i < ndeps; i++) {
		put32(&o, (uint32_t)deps[i].present);
		put64(&o, deps[i].dev);
		put64(&o, deps[i].ino);
		put64(&o, (uint64_t)deps[i].size);
		put64(&o, (uint64_t)deps[i].mtime);
		put64(&o, (uint64_t)deps[i].ctime);
		put32(&o, deps[i].mode);
		put32(&o, deps[i].uid);
		put32(&o, deps[i].gid);
		putstr(&o, deps[i].path);
	}
	put32(&o, (uint32_t)m->n);
	for (i = 0; i < m->n; i++) {
		const struct bproc_file	*f = &m->files[i];

		put32(&o, f->target != NULL);
		put32(&o, f->mode);
		put32(&o, f->uid);
		put32(&o, f->gid);
		put64(&o, f->size);
		put(&o, f->hash, 32);
		putstr(&o, f->path);
		putstr(&o, f->target);
	}
	if (o.bad)
		goto out;
	for (slash = path + 1; (slash = strchr(slash, '/')) != NULL; slash++) {
		*slash = '\0';
		mkdir(path, 0700);
		*slash = '/';
	}
	/* written whole under a temporary name, then renamed into place */
	snprintf(tmp, sizeof(tmp), "%s.%d", path, (int)getpid());
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1)
		goto out;
	if (write(fd, o.p, o.len) != (ssize_t)o.len) {
		close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);
	if (rename(tmp, path) == -1)
		unlink(tmp);
out:
	free(o.p);
	deps_clear();
}
