/*
 * The node's RAM file cache.  Pushed files live once per content in
 * /var/lib/bproc/cache (named by BLAKE2b hash, owner and mode) and are linked
 * in at their front-end paths, atomically (link or symlink to a temporary
 * name, then rename), so the dynamic linker finds them where the front end
 * has them.  A process waits, as a pending exec, until every file it
 * needs is here; blobs are written to a temporary file, checked against
 * their hash, and only then renamed into the cache, so nothing
 * half-written is ever run.  Files of the node's own image are never
 * replaced, but for busybox applet links (see is_applet).
 *
 * The cache has a budget (MSG_SETUP says it; half of RAM by default).  A
 * push that needs room evicts the least recently used blobs that no
 * process holds: a process holds every blob its EXEC's manifest named
 * until it is gone, because it may open any of them later (python imports
 * its pushed library lazily).  The files the master pushes at setup are
 * held for good.  Evicting a blob also removes the paths it is linked in
 * at, or those links would keep its RAM.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "log.h"
#include "nodeinit.h"

#define CACHE_DIR	"/var/lib/bproc/cache"	/* on the root fs: links need one fs */
#define NEED_BATCH	512	/* hashes per NEED frame */
#define CACHE_HT	4096	/* buckets of the blob and path tables */
#define SETUP_GPID	0	/* the pending "exec" of the setup push list */

struct mfile {
	unsigned char	 hash[32];
	uint32_t	 mode, uid, gid;
	uint64_t	 size;
	int		 type;
	const char	*path;
	const char	*target;
};

/* One cached content (for one owner and mode): a file in CACHE_DIR. */
struct blob {
	char		 name[256];	/* its path in CACHE_DIR */
	uint64_t	 size;
	uint64_t	 used;		/* lru_clock of the last exec naming it */
	int		 held;		/* scratch of cache_room */
	struct blob	*next;
};

/* A path we linked in; blob is NULL for a symlink (or once evicted). */
struct lpath {
	char		*path;
	struct blob	*blob;
	struct lpath	*next;
};

/* The blobs one exec (or the setup list) named, kept while it lives. */
struct hold {
	pid_t		 gpid;
	struct blob	**blobs;
	size_t		 n, cap;
	struct hold	*next;
};

struct pending {
	pid_t			 gpid;
	unsigned char		*frame;		/* the EXEC, kept until files are here */
	size_t			 flen;
	struct mfile		*need;		/* files still missing */
	size_t			 nneed;
	int			 fd;		/* blob being received */
	unsigned char		 cur[32];	/* its hash */
	crypto_generichash_state hs;
	uint64_t		 got;
	struct pending		*next;
};

static struct pending	*pendings;
static struct blob	*blob_ht[CACHE_HT];
static struct lpath	*path_ht[CACHE_HT];
static struct hold	*holds;
static uint64_t		 lru_clock;
uint64_t		 cache_bytes;
static uint64_t		 cache_budget;

static uint32_t
get32(const unsigned char *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	    ((uint32_t)p[2] << 8) | p[3];
}

static int
mfile_parse(const struct wire_attr *a, struct mfile *f)
{
	const unsigned char	*p = a->data, *end = a->data + a->len;
	const char		*s;

	if (a->len < MFILE_FIXED + 2)
		return -1;
	memcpy(f->hash, p, 32);
	f->mode = get32(p + 32) & 07777;
	f->uid = get32(p + 36);
	f->gid = get32(p + 40);
	f->size = ((uint64_t)get32(p + 44) << 32) | get32(p + 48);
	f->type = p[52];
	s = (const char *)p + MFILE_FIXED;
	if (memchr(s, '\0', (size_t)(end - (const unsigned char *)s)) == NULL)
		return -1;
	f->path = s;
	f->target = NULL;
	s += strlen(s) + 1;
	if (f->type == MFILE_LINK) {
		if ((const unsigned char *)s >= end ||
		    memchr(s, '\0', (size_t)(end - (const unsigned char *)s)) == NULL)
			return -1;
		f->target = s;
	} else if (f->type != MFILE_REG)
		return -1;
	/* absolute, no "..": a manifest cannot reach outside the tree it names */
	if (f->path[0] != '/' || strstr(f->path, "/../") != NULL ||
	    strcmp(f->path + strlen(f->path) - (strlen(f->path) >= 3 ? 3 : 0),
	    "/..") == 0)
		return -1;
	return 0;
}

static void
cache_name(const struct mfile *f, char *buf, size_t len)
{
	char	hex[65];

	sodium_bin2hex(hex, sizeof(hex), f->hash, 32);
	snprintf(buf, len, CACHE_DIR "/%s.%u.%u.%o", hex, f->uid, f->gid,
	    f->mode);
}

static unsigned int
ht_index(const char *s)
{
	uint32_t	h = 2166136261u;	/* FNV-1a */

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h % CACHE_HT;
}

static struct blob *
blob_find(const char *name)
{
	struct blob	*b;

	for (b = blob_ht[ht_index(name)]; b != NULL; b = b->next)
		if (strcmp(b->name, name) == 0)
			return b;
	return NULL;
}

/* A verified blob is in the cache under name: count it once. */
static struct blob *
blob_add(const char *name, uint64_t size)
{
	struct blob	*b;
	unsigned int	 i = ht_index(name);

	if ((b = blob_find(name)) != NULL)
		return b;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	snprintf(b->name, sizeof(b->name), "%s", name);
	b->size = size;
	b->used = lru_clock;
	b->next = blob_ht[i];
	blob_ht[i] = b;
	cache_bytes += size;
	return b;
}

static struct lpath *
lpath_find(const char *path)
{
	struct lpath	*lp;

	for (lp = path_ht[ht_index(path)]; lp != NULL; lp = lp->next)
		if (strcmp(lp->path, path) == 0)
			return lp;
	return NULL;
}

/* Remember that path is ours now (we may replace it) and what it holds. */
static void
lpath_set(const char *path, struct blob *b)
{
	struct lpath	*lp;
	unsigned int	 i = ht_index(path);

	if ((lp = lpath_find(path)) == NULL) {
		if ((lp = calloc(1, sizeof(*lp))) == NULL ||
		    (lp->path = strdup(path)) == NULL) {
			free(lp);
			return;
		}
		lp->next = path_ht[i];
		path_ht[i] = lp;
	}
	lp->blob = b;
}

static int
is_pushed(const char *path)
{
	return lpath_find(path) != NULL;
}

static struct hold *
hold_find(pid_t gpid)
{
	struct hold	*hd;

	for (hd = holds; hd != NULL; hd = hd->next)
		if (hd->gpid == gpid)
			return hd;
	return NULL;
}

static void
hold_drop(pid_t gpid)
{
	struct hold	**pp, *hd;

	for (pp = &holds; (hd = *pp) != NULL; pp = &hd->next)
		if (hd->gpid == gpid) {
			*pp = hd->next;
			free(hd->blobs);
			free(hd);
			return;
		}
}

/* A fresh hold for gpid: its old one belonged to a process that is gone. */
static struct hold *
hold_new(pid_t gpid)
{
	struct hold	*hd;

	hold_drop(gpid);
	if ((hd = calloc(1, sizeof(*hd))) == NULL)
		return NULL;
	hd->gpid = gpid;
	hd->next = holds;
	holds = hd;
	return hd;
}

static int
hold_add(struct hold *hd, struct blob *b)
{
	struct blob	**nb;

	if (hd == NULL || b == NULL)
		return -1;
	if (hd->n == hd->cap) {
		hd->cap = hd->cap ? hd->cap * 2 : 16;
		if ((nb = reallocarray(hd->blobs, hd->cap,
		    sizeof(*nb))) == NULL)
			return -1;
		hd->blobs = nb;
	}
	hd->blobs[hd->n++] = b;
	return 0;
}

static struct pending *
pending_find(pid_t gpid)
{
	struct pending	*pd;

	for (pd = pendings; pd != NULL && pd->gpid != gpid; pd = pd->next)
		;
	return pd;
}

/*
 * Forget holds of processes that are gone (exited, or whose exec failed
 * after its files were here).  keep is an exec being prepared: neither
 * pending nor running yet.
 */
static void
holds_prune(pid_t keep)
{
	struct hold	*hd, *next;

	for (hd = holds; hd != NULL; hd = next) {
		next = hd->next;
		if (hd->gpid != SETUP_GPID && hd->gpid != keep &&
		    pending_find(hd->gpid) == NULL && !proc_hosts(hd->gpid))
			hold_drop(hd->gpid);
	}
}

/* Mark what the live holds hold. */
static void
holds_mark(pid_t keep)
{
	struct hold	*hd;
	struct blob	*b;
	size_t		 i;

	holds_prune(keep);
	for (i = 0; i < CACHE_HT; i++)
		for (b = blob_ht[i]; b != NULL; b = b->next)
			b->held = 0;
	/* 2: held by the setup list, 1: by processes only */
	for (hd = holds; hd != NULL; hd = hd->next)
		for (i = 0; i < hd->n; i++)
			if (hd->gpid == SETUP_GPID)
				hd->blobs[i]->held = 2;
			else if (!hd->blobs[i]->held)
				hd->blobs[i]->held = 1;
}

static int
blob_older(const void *a, const void *b)
{
	const struct blob	*x = *(struct blob *const *)a;
	const struct blob	*y = *(struct blob *const *)b;

	return x->used < y->used ? -1 : x->used > y->used;
}

/*
 * Evict unheld blobs, least recently used first, until at least `free`
 * bytes are gone (or every unheld one).  held must be fresh (holds_mark).
 * Returns the bytes evicted.
 */
static uint64_t
cache_evict(uint64_t free_want)
{
	struct blob	**v = NULL, **pp, *b;
	struct lpath	*lp;
	struct timespec	 t0, t1;
	uint64_t	 freed = 0;
	size_t		 n = 0, cap = 0, k, i;

	clock_gettime(CLOCK_MONOTONIC, &t0);

	for (i = 0; i < CACHE_HT; i++)
		for (b = blob_ht[i]; b != NULL; b = b->next) {
			if (b->held)
				continue;
			if (n == cap) {
				struct blob **nv;

				cap = cap ? cap * 2 : 64;
				if ((nv = reallocarray(v, cap,
				    sizeof(*v))) == NULL) {
					free(v);
					return 0;
				}
				v = nv;
			}
			v[n++] = b;
		}
	qsort(v, n, sizeof(*v), blob_older);
	/* doomed ones are marked held = -1 for the path walk */
	for (k = 0; k < n && freed < free_want; k++) {
		v[k]->held = -1;
		freed += v[k]->size;
	}
	free(v);
	if (k == 0)
		return 0;
	for (i = 0; i < CACHE_HT; i++)
		for (lp = path_ht[i]; lp != NULL; lp = lp->next)
			if (lp->blob != NULL && lp->blob->held == -1) {
				if (unlink(lp->path) == -1 && errno != ENOENT)
					log_warn("evict %s", lp->path);
				lp->blob = NULL;
			}
	for (i = 0; i < CACHE_HT; i++)
		for (pp = &blob_ht[i]; (b = *pp) != NULL; ) {
			if (b->held != -1) {
				pp = &b->next;
				continue;
			}
			*pp = b->next;
			if (unlink(b->name) == -1 && errno != ENOENT)
				log_warn("evict %s", b->name);
			cache_bytes -= b->size;
			free(b);
		}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	log_info("cache: evicted %zu blobs, %llu bytes, in %lld us; %llu of "
	    "%llu bytes in use", k, (unsigned long long)freed,
	    (long long)(t1.tv_sec - t0.tv_sec) * 1000000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000,
	    (unsigned long long)cache_bytes, (unsigned long long)cache_budget);
	return freed;
}

/* Bytes as MB for messages: rounded, and never 0 for something. */
static unsigned long long
mb(uint64_t b)
{
	return b == 0 ? 0 : (b + (1 << 19)) >> 20 ? (b + (1 << 19)) >> 20 : 1;
}

/* Bytes that pushes under way will still add to the cache. */
static uint64_t
cache_reserved(void)
{
	struct pending	*pd;
	uint64_t	 r = 0;

	for (pd = pendings; pd != NULL; pd = pd->next)
		for (size_t i = 0; i < pd->nneed; i++)
			r += pd->need[i].size;
	return r;
}

/*
 * Make room for want more bytes for gpid's exec, evicting only if that is
 * enough; otherwise say why it does not fit and evict nothing.
 */
static int
cache_room(pid_t gpid, uint64_t want, char *msg, size_t msglen)
{
	struct blob	*b;
	uint64_t	 used = cache_bytes + cache_reserved(), held[3] = { 0 };
	size_t		 i;

	if (used + want <= cache_budget)
		return 0;
	holds_mark(gpid);
	for (i = 0; i < CACHE_HT; i++)
		for (b = blob_ht[i]; b != NULL; b = b->next)
			held[b->held] += b->size;
	if (want > cache_budget || used - held[0] + want > cache_budget) {
		char	procs[48] = "", list[48] = "";

		/* what cannot go, so the user sees whom to wait for */
		if (held[1])
			snprintf(procs, sizeof(procs), ", %llu MB held by "
			    "processes", mb(held[1]));
		if (held[2])
			snprintf(list, sizeof(list), ", %llu MB by the push list",
			    mb(held[2]));
		snprintf(msg, msglen, "node RAM cache full: %llu MB needed, "
		    "%llu of %llu MB in use%s%s", mb(want), mb(used),
		    mb(cache_budget), procs, list);
		errno = ENOSPC;
		return -1;
	}
	cache_evict(used + want - cache_budget);
	return 0;
}

/*
 * A busybox applet link of the image gives way to the front end's program
 * of the same path: `bpsh 0 xz` runs the xz the user's PATH found, not
 * busybox's.  /bin/sh stays busybox's, the node's own shell.
 */
static int
is_applet(const char *path, const struct stat *st)
{
	char	buf[32];
	ssize_t	n;

	if (!S_ISLNK(st->st_mode) || strcmp(path, "/bin/sh") == 0)
		return 0;
	if ((n = readlink(path, buf, sizeof(buf) - 1)) < 0)
		return 0;
	buf[n] = '\0';
	return strcmp(buf, "/bin/busybox") == 0;
}

static void
mkdirs(const char *path)
{
	char	buf[4096], *s;

	snprintf(buf, sizeof(buf), "%s", path);
	for (s = buf + 1; (s = strchr(s, '/')) != NULL; s++) {
		*s = '\0';
		mkdir(buf, 0755);
		*s = '/';
	}
}

/* A path on another filesystem (a tmpfs mount) gets a copy, not a link. */
static int
copy_file(const char *from, const char *to, const struct mfile *f)
{
	char	buf[65536];
	ssize_t	n;
	int	in, out, e = 0;

	if ((in = open(from, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if ((out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1) {
		close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n) {
			e = errno ? errno : EIO;
			break;
		}
	if (n < 0)
		e = errno;
	if (!e && (fchown(out, f->uid, f->gid) == -1 ||
	    fchmod(out, f->mode) == -1))
		e = errno;
	close(in);
	close(out);
	if (e) {
		unlink(to);
		errno = e;
		return -1;
	}
	return 0;
}

static void
cache_init(void)
{
	struct sysinfo	si;

	mkdirs(CACHE_DIR "/");
	if (cache_budget == 0 && sysinfo(&si) == 0)
		cache_budget = (uint64_t)si.totalram * si.mem_unit / 2;
}

/* Link every manifest entry in at its path; the image's own files stay. */
static int
push_link(const unsigned char *body, size_t blen, char *msg, size_t msglen)
{
	struct wire_iter	it;
	struct wire_attr	a;
	struct mfile		f;
	struct stat		st;
	struct blob		*b = NULL;
	char			cname[256], tmp[4200];

	wire_iter_init(&it, body, blen);
	while (wire_iter_next(&it, &a) == 1) {
		if (a.type != A_MFILE || mfile_parse(&a, &f) == -1)
			continue;
		if (lstat(f.path, &st) == 0 && !is_pushed(f.path) &&
		    !is_applet(f.path, &st))
			continue;
		mkdirs(f.path);
		snprintf(tmp, sizeof(tmp), "%s.bproc-tmp", f.path);
		unlink(tmp);
		if (f.type == MFILE_LINK) {
			b = NULL;
			if (symlink(f.target, tmp) == -1)
				goto fail;
		} else {
			cache_name(&f, cname, sizeof(cname));
			b = blob_find(cname);
			if (link(cname, tmp) == -1 &&
			    (errno != EXDEV || copy_file(cname, tmp, &f) == -1))
				goto fail;
		}
		if (rename(tmp, f.path) == -1)
			goto fail;
		lpath_set(f.path, b);
	}
	return 0;
fail:
	snprintf(msg, msglen, "%s: %s", f.path, strerror(errno));
	unlink(tmp);
	return -1;
}

static void
pending_free(struct pending *pd)
{
	struct pending	**pp;

	for (pp = &pendings; *pp != NULL; pp = &(*pp)->next)
		if (*pp == pd) {
			*pp = pd->next;
			break;
		}
	if (pd->fd >= 0) {
		close(pd->fd);
	}
	free(pd->frame);
	free(pd->need);
	free(pd);
}

static void
setup_result(int e, const char *msg)
{
	unsigned char	buf[512];
	struct wire_msg	m;

	wire_msg_init(&m, buf, sizeof(buf), MSG_EXEC_RESULT, 0, 0);
	wire_put_u32(&m, A_PID, SETUP_GPID);
	wire_put_u32(&m, A_ERRNO, (uint32_t)e);
	wire_put_str(&m, A_MSG, msg);
	link_send_msg(&m);
}

static void
push_fail(struct pending *pd, int e, const char *msg)
{
	unsigned char	buf[512];
	struct wire_msg	m;
	pid_t		gpid = pd->gpid;

	wire_msg_init(&m, buf, sizeof(buf), MSG_EXEC_RESULT, 0, 0);
	wire_put_u32(&m, A_PID, (uint32_t)gpid);
	wire_put_u32(&m, A_ERRNO, (uint32_t)e);
	wire_put_str(&m, A_MSG, msg);
	pending_free(pd);
	hold_drop(gpid);
	if (link_send_msg(&m) == 0 && gpid == SETUP_GPID) {
		log_warnx("setup push: %s", msg);
		link_setup_done();
	}
}

/*
 * Called by proc_exec for an EXEC with a manifest (and by push_setup for
 * the master's list, as gpid SETUP_GPID).  Returns 0 when every file is
 * linked in (go on with the exec), 1 when the exec waits for blobs, -1
 * when it failed (*msg says why).  Every blob the manifest names is held
 * from here on, until the process is gone.
 */
int
push_prepare(pid_t gpid, const struct wire_hdr *h, const unsigned char *body,
    size_t blen, char *msg, size_t msglen)
{
	struct wire_iter	 it;
	struct wire_attr	 a;
	struct mfile		 f, *nn;
	struct pending		*pd;
	struct hold		*hd;
	struct blob		*b;
	char			 cname[256], oname[256];
	uint64_t		 want = 0;
	size_t			 i;

	cache_init();
	lru_clock++;
	/* holds of ended processes go now, so they never pile up */
	holds_prune(gpid);
	if ((pd = calloc(1, sizeof(*pd))) == NULL ||
	    (hd = hold_new(gpid)) == NULL)
		goto nomem;
	pd->gpid = gpid;
	pd->fd = -1;
	wire_iter_init(&it, body, blen);
	while (wire_iter_next(&it, &a) == 1) {
		if (a.type != A_MFILE)
			continue;
		if (mfile_parse(&a, &f) == -1) {
			snprintf(msg, msglen, "bad manifest entry (%.200s)",
			    a.len > MFILE_FIXED ? (const char *)a.data +
			    MFILE_FIXED : "?");
			free(pd->need);
			free(pd);
			hold_drop(gpid);
			errno = EINVAL;
			return -1;
		}
		if (f.type != MFILE_REG)
			continue;
		cache_name(&f, cname, sizeof(cname));
		if ((b = blob_find(cname)) != NULL) {
			b->used = lru_clock;
			if (hold_add(hd, b) == -1)
				goto nomem;
			continue;
		}
		/* one entry per cache name: the same content, other modes, apart */
		for (i = 0; i < pd->nneed; i++) {
			cache_name(&pd->need[i], oname, sizeof(oname));
			if (strcmp(oname, cname) == 0)
				break;
		}
		if (i < pd->nneed)
			continue;
		if ((nn = reallocarray(pd->need, pd->nneed + 1,
		    sizeof(*nn))) == NULL)
			goto nomem;
		pd->need = nn;
		pd->need[pd->nneed++] = f;
		want += f.size;
	}
	if (pd->nneed == 0) {
		free(pd);
		return push_link(body, blen, msg, msglen);
	}
	/* fits, maybe after eviction, or fails before anything is sent */
	if (cache_room(gpid, want, msg, msglen) == -1) {
		free(pd->need);
		free(pd);
		hold_drop(gpid);
		errno = ENOSPC;
		return -1;
	}
	/* keep the whole EXEC frame: the mfile pointers point into it */
	pd->flen = h->len;
	if ((pd->frame = malloc(h->len)) == NULL)
		goto nomem;
	memcpy(pd->frame, body - WIRE_HDR_LEN, h->len);
	for (i = 0; i < pd->nneed; i++) {
		pd->need[i].path = (const char *)pd->frame +
		    (pd->need[i].path - (const char *)(body - WIRE_HDR_LEN));
		pd->need[i].target = NULL;
	}
	pd->next = pendings;
	pendings = pd;
	for (i = 0; i < pd->nneed; i += NEED_BATCH) {
		unsigned char	buf[64 + NEED_BATCH * 40];
		struct wire_msg	m;
		size_t		k, j;

		wire_msg_init(&m, buf, sizeof(buf), MSG_NEED, 0, 0);
		wire_put_u32(&m, A_PID, (uint32_t)gpid);
		for (k = i; k < pd->nneed && k < i + NEED_BATCH; k++) {
			/* a content asked for once, whatever its modes */
			for (j = 0; j < k; j++)
				if (memcmp(pd->need[j].hash, pd->need[k].hash,
				    32) == 0)
					break;
			if (j == k)
				wire_put(&m, A_HASH, pd->need[k].hash, 32);
		}
		link_send_msg(&m);
	}
	log_debug("exec %d waits for %zu files (%llu bytes)", (int)gpid,
	    pd->nneed, (unsigned long long)want);
	return 1;
nomem:
	if (pd != NULL) {
		free(pd->need);
		free(pd);
	}
	hold_drop(gpid);
	snprintf(msg, msglen, "node: out of memory");
	errno = ENOMEM;
	return -1;
}

static void
blob_ack(pid_t gpid, uint32_t n)
{
	unsigned char	buf[64];
	struct wire_msg	m;

	wire_msg_init(&m, buf, sizeof(buf), MSG_BLOB_ACK, 0, 0);
	wire_put_u32(&m, A_PID, (uint32_t)gpid);
	wire_put_u32(&m, A_BYTES, n);
	link_send_msg(&m);
}

/*
 * A verified blob is in tmp: file it under every cache name waiting for
 * that content (another owner or mode is another inode).  Returns 0, or -1
 * with errno.
 */
static int
blob_store(struct pending *pd, const unsigned char *hash, const char *tmp)
{
	struct hold	*hd = hold_find(pd->gpid);
	struct blob	*b;
	struct mfile	*f;
	char		 cname[256], first[256] = "";
	size_t		 i;

	for (i = 0; i < pd->nneed; ) {
		f = &pd->need[i];
		if (memcmp(f->hash, hash, 32) != 0) {
			i++;
			continue;
		}
		cache_name(f, cname, sizeof(cname));
		if (blob_find(cname) != NULL)
			;	/* another exec brought it meanwhile */
		else if (first[0] == '\0') {
			if (chown(tmp, f->uid, f->gid) == -1 ||
			    chmod(tmp, f->mode) == -1 || rename(tmp, cname) == -1)
				return -1;
			snprintf(first, sizeof(first), "%s", cname);
		} else if (copy_file(first, cname, f) == -1 && errno != EEXIST)
			return -1;
		if ((b = blob_add(cname, f->size)) == NULL) {
			errno = ENOMEM;
			return -1;
		}
		hold_add(hd, b);
		*f = pd->need[--pd->nneed];
	}
	if (first[0] == '\0')
		unlink(tmp);
	return 0;
}

void
push_blob(struct wire_attr *tb)
{
	struct pending	*pd;
	struct mfile	*f = NULL;
	pid_t		 gpid = (pid_t)wire_get_u32(&tb[A_PID]);
	unsigned char	 sum[32];
	char		 hex[65], tmp[128], msg[300];
	size_t		 i;

	if ((pd = pending_find(gpid)) == NULL)
		return;
	for (i = 0; i < pd->nneed; i++)
		if (memcmp(pd->need[i].hash, tb[A_HASH].data, 32) == 0) {
			f = &pd->need[i];
			break;
		}
	if (f == NULL) {
		push_fail(pd, EPROTO, "blob nobody asked for");
		return;
	}
	sodium_bin2hex(hex, sizeof(hex), f->hash, 32);
	snprintf(tmp, sizeof(tmp), CACHE_DIR "/.in-%d-%s", (int)gpid, hex);
	if (pd->fd >= 0 && memcmp(pd->cur, f->hash, 32) != 0) {
		push_fail(pd, EPROTO, "blobs interleaved");
		return;
	}
	if (pd->fd < 0) {
		memcpy(pd->cur, f->hash, 32);
		if ((pd->fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC |
		    O_CLOEXEC, 0600)) == -1) {
			snprintf(msg, sizeof(msg), "node cache: %s",
			    strerror(errno));
			push_fail(pd, errno, msg);
			return;
		}
		crypto_generichash_init(&pd->hs, NULL, 0, 32);
		pd->got = 0;
	}
	if (tb[A_DATA].data && tb[A_DATA].len) {
		if (pd->got + tb[A_DATA].len > f->size ||
		    write(pd->fd, tb[A_DATA].data, tb[A_DATA].len) !=
		    (ssize_t)tb[A_DATA].len) {
			unlink(tmp);
			push_fail(pd, pd->got + tb[A_DATA].len > f->size ?
			    EFBIG : errno, pd->got + tb[A_DATA].len > f->size ?
			    "file grew during push" : "node cache: write failed");
			return;
		}
		crypto_generichash_update(&pd->hs, tb[A_DATA].data,
		    tb[A_DATA].len);
		pd->got += tb[A_DATA].len;
		blob_ack(gpid, tb[A_DATA].len);
	}
	if (!tb[A_EOF].data || !wire_get_u8(&tb[A_EOF]))
		return;
	crypto_generichash_final(&pd->hs, sum, 32);
	close(pd->fd);
	pd->fd = -1;
	/* nothing half-written or changed on the way is ever run */
	if (pd->got != f->size || sodium_memcmp(sum, f->hash, 32) != 0) {
		unlink(tmp);
		snprintf(msg, sizeof(msg), "%s changed during push", f->path);
		push_fail(pd, EIO, msg);
		return;
	}
	if (blob_store(pd, sum, tmp) == -1) {
		unlink(tmp);
		snprintf(msg, sizeof(msg), "node cache: %s", strerror(errno));
		push_fail(pd, errno, msg);
		return;
	}
	if (pd->nneed > 0)
		return;
	/* every file is here: the exec goes on from the kept frame */
	{
		struct wire_hdr		 h;
		struct wire_attr	 etb[A_MAX];
		const char		*why;
		unsigned char		*frame = pd->frame;
		size_t			 flen = pd->flen;

		pd->frame = NULL;
		pending_free(pd);
		if (wire_hdr_decode(frame, flen, WIRE_MAX_FRAME, &h, &why) == 1 &&
		    proto_parse(&h, frame + WIRE_HDR_LEN, flen - WIRE_HDR_LEN,
		    etb, &why) == 0) {
			if (gpid != SETUP_GPID)
				proc_exec(&h, etb, frame + WIRE_HDR_LEN,
				    flen - WIRE_HDR_LEN);
			else {
				if (push_link(frame + WIRE_HDR_LEN,
				    flen - WIRE_HDR_LEN, msg, sizeof(msg)) == -1)
					setup_result(errno ? errno : EIO, msg);
				link_setup_done();
			}
		}
		free(frame);
	}
}

/*
 * MSG_SETUP: the cache budget, and the files the master pushes to every
 * node before it is up.  The node is up once they are linked in (or
 * their push failed, which the master hears as an EXEC_RESULT of pid 0).
 */
void
push_setup(const struct wire_hdr *h, struct wire_attr *tb,
    const unsigned char *body, size_t blen)
{
	struct sysinfo	si;
	uint64_t	ram = 0;
	char		msg[300];

	if (sysinfo(&si) == 0)
		ram = (uint64_t)si.totalram * si.mem_unit;
	if (tb[A_CACHE_BUDGET].data)
		cache_budget = wire_get_u64(&tb[A_CACHE_BUDGET]);
	else if (tb[A_CACHE_SHARE].data && wire_get_u32(&tb[A_CACHE_SHARE]) > 0 &&
	    wire_get_u32(&tb[A_CACHE_SHARE]) <= 100)
		cache_budget = ram / 100 * wire_get_u32(&tb[A_CACHE_SHARE]);
	else
		cache_budget = ram / 2;
	cache_init();
	log_info("cache budget %llu MB", mb(cache_budget));
	/* a smaller budget than before: shrink to it if we can */
	if (cache_bytes > cache_budget) {
		holds_mark(-1);
		cache_evict(cache_bytes - cache_budget);
	}
	if (!tb[A_MFILE].data) {
		hold_drop(SETUP_GPID);
		link_setup_done();
		return;
	}
	switch (push_prepare(SETUP_GPID, h, body, blen, msg, sizeof(msg))) {
	case 1:
		return;
	case -1:
		log_warnx("setup push: %s", msg);
		setup_result(errno ? errno : EIO, msg);
		break;
	}
	link_setup_done();
}

/* The link went down: forget executions that were waiting for files. */
void
push_abort_all(void)
{
	char	hex[65], tmp[128];

	while (pendings != NULL) {
		if (pendings->fd >= 0) {
			sodium_bin2hex(hex, sizeof(hex), pendings->cur, 32);
			snprintf(tmp, sizeof(tmp), CACHE_DIR "/.in-%d-%s",
			    (int)pendings->gpid, hex);
			unlink(tmp);
		}
		hold_drop(pendings->gpid);
		pending_free(pendings);
	}
}
