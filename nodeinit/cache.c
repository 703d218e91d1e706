/*
 * The node's RAM file cache: the blobs in CACHE_DIR, the paths they are
 * linked in at, and who holds them.  fetch.c fills it; this file decides
 * what fits and what goes, and who linked each path in.
 *
 * The cache has a budget (MSG_SETUP says it; half of RAM by default).  A
 * push that needs room evicts the least recently used blobs that nothing
 * holds: a process holds every blob its EXEC's manifest named until it is
 * gone, because it may open any of them later (python imports its pushed
 * library lazily), and the files the master pushes at setup are held for
 * good.  Evicting a blob also removes the paths it is linked in at, or
 * those links would keep its RAM.  A push that cannot fit even then fails
 * before anything is sent, and evicts nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "list.h"
#include "log.h"
#include "nodeinit_int.h"
#include "path.h"

#define CACHE_HT	4096	/* buckets of the blob and path tables */

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
	int		 applet;	/* it replaced a busybox applet link */
	uid_t		 owner;		/* whose push linked it (fetch.c's push_may) */
	int		 setup;		/* the setup list's */
	struct lpath	*next;
};

/* The blobs one exec (or the setup list) named, kept while it lives. */
struct hold {
	pid_t		 gpid;
	struct blob	**blobs;
	size_t		 n, cap;
	/*
	 * A user's program pushed over a busybox applet link of the image
	 * does not replace the link (root and others run the image's applet
	 * there); this process runs the program from its blob instead.
	 */
	char		*alias_path;
	struct blob	*alias;
	DLIST_LINK(hold) link;	/* holds */
};

static struct blob	*blob_ht[CACHE_HT];
static struct lpath	*path_ht[CACHE_HT];
static DLIST_HEAD(, hold) holds = { NULL };
static uint64_t		 lru_clock;
uint64_t		 cache_bytes;
static uint64_t		 cache_budget;
struct cache_hooks	 cache_hooks;

static unsigned int
ht_index(const char *s)
{
	return path_hash(s) % CACHE_HT;
}

struct blob *
cache_find(const char *name)
{
	struct blob	*b;

	for (b = blob_ht[ht_index(name)]; b != NULL; b = b->next)
		if (strcmp(b->name, name) == 0)
			return b;
	return NULL;
}

/* A verified blob is in the cache under name: count it once. */
struct blob *
cache_add(const char *name, uint64_t size)
{
	struct blob	*b;
	unsigned int	 i = ht_index(name);

	if ((b = cache_find(name)) != NULL)
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

/*
 * A cached blob of that content, whatever its owner and mode, for a relay
 * link to serve (relay.c): its size, and its path in buf.  -1 if none.
 */
int
cache_by_hash(const unsigned char *hash, char *buf, size_t len,
    uint64_t *size)
{
	struct blob	*b;
	char		 hex[65];
	size_t		 i, dl = sizeof(CACHE_DIR);

	sodium_bin2hex(hex, sizeof(hex), hash, 32);
	for (i = 0; i < CACHE_HT; i++)
		for (b = blob_ht[i]; b != NULL; b = b->next)
			if (strncmp(b->name + dl, hex, 64) == 0 &&
			    b->name[dl + 64] == '.') {
				snprintf(buf, len, "%s", b->name);
				*size = b->size;
				return 0;
			}
	return -1;
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

/*
 * Remember that path is ours now (we may replace it), what it holds, and
 * whose push put it there (owner, or the setup list).
 */
void
cache_linked(const char *path, struct blob *b, uid_t owner, int setup)
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
	lp->owner = owner;
	lp->setup = setup;
}

/*
 * Whose push linked path: -1 nobody's (the image's, or made on the node),
 * 0 the push of *owner, 1 the setup list's.
 */
int
cache_owner(const char *path, uid_t *owner)
{
	struct lpath	*lp = lpath_find(path);

	if (lp == NULL)
		return -1;
	*owner = lp->owner;
	return lp->setup ? 1 : 0;
}

/*
 * The blob path (whose lstat is st) is linked to, if it has content hash:
 * then whoever wants that content at that path finds it there.  NULL if
 * not, or if it is a copy (another filesystem) we cannot vouch for.
 */
struct blob *
cache_serves(const char *path, const struct stat *st, const unsigned char *hash)
{
	struct lpath	*lp = lpath_find(path);
	struct stat	 bst;
	char		 hex[65];
	size_t		 n = strlen(CACHE_DIR "/");

	if (lp == NULL || lp->blob == NULL || !S_ISREG(st->st_mode))
		return NULL;
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", hash[i]);
	if (strncmp(lp->blob->name + n, hex, 64) != 0 ||
	    lp->blob->name[n + 64] != '.' || stat(lp->blob->name, &bst) == -1 ||
	    bst.st_ino != st->st_ino || bst.st_dev != st->st_dev)
		return NULL;
	return lp->blob;
}

/* path was a busybox applet link of the image: eviction puts it back. */
void
cache_mark_applet(const char *path)
{
	struct lpath	*lp;

	if ((lp = lpath_find(path)) != NULL)
		lp->applet = 1;
}

int
cache_is_linked(const char *path)
{
	return lpath_find(path) != NULL;
}

static struct hold *
hold_find(pid_t gpid)
{
	struct hold	*hd;

	DLIST_FOREACH(hd, &holds, link)
		if (hd->gpid == gpid)
			return hd;
	return NULL;
}

void
cache_unhold(pid_t gpid)
{
	struct hold	*hd = hold_find(gpid);

	if (hd == NULL)
		return;
	DLIST_REMOVE(hd, link);
	free(hd->blobs);
	free(hd->alias_path);
	free(hd);
}

/* A fresh hold for gpid: its old one belonged to a process that is gone. */
int
cache_hold_new(pid_t gpid)
{
	struct hold	*hd;

	cache_unhold(gpid);
	if ((hd = calloc(1, sizeof(*hd))) == NULL)
		return -1;
	hd->gpid = gpid;
	DLIST_INSERT_HEAD(&holds, hd, link);
	return 0;
}

/* gpid's exec uses b: it stays while gpid lives, and counts as used now. */
int
cache_hold(pid_t gpid, struct blob *b)
{
	struct hold	*hd = hold_find(gpid);
	struct blob	**nb;

	if (hd == NULL || b == NULL)
		return -1;
	b->used = lru_clock;
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

/*
 * Forget holds of processes that are gone (exited, or whose exec failed
 * after its files were here).  keep is an exec being prepared: neither
 * pending nor running yet.  Whether a process still runs is the process
 * host's to say (cache_hooks.hosts, nodeinit.c sets it).
 */
void
cache_prune(pid_t keep)
{
	struct hold	*hd, *next;

	DLIST_FOREACH_SAFE(hd, &holds, link, next) {
		if (hd->gpid != PROTO_SETUP_PID && hd->gpid != keep &&
		    !push_pending(hd->gpid) && (cache_hooks.hosts == NULL ||
		    !cache_hooks.hosts(hd->gpid)))
			cache_unhold(hd->gpid);
	}
}

/* Mark what the live holds hold. */
static void
holds_mark(pid_t keep)
{
	struct hold	*hd;
	struct blob	*b;
	size_t		 i;

	cache_prune(keep);
	for (i = 0; i < CACHE_HT; i++)
		for (b = blob_ht[i]; b != NULL; b = b->next)
			b->held = 0;
	/* 2: held by the setup list, 1: by processes only */
	DLIST_FOREACH(hd, &holds, link)
		for (i = 0; i < hd->n; i++)
			if (hd->gpid == PROTO_SETUP_PID)
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
				else if (lp->applet &&
				    symlink("/bin/busybox", lp->path) == -1)
					log_warn("evict %s: busybox link",
					    lp->path);
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

/*
 * Make room for want more bytes for gpid's exec (reserved are on their
 * way for others), evicting only if that is enough; otherwise say why it
 * does not fit and evict nothing.
 */
int
cache_room(pid_t gpid, uint64_t want, uint64_t reserved, char *msg,
    size_t msglen)
{
	struct blob	*b;
	uint64_t	 used, held[3] = { 0 };
	size_t		 i;

	/* the sums saturate: no size from the wire wraps them into "fits" */
	used = cache_bytes > UINT64_MAX - reserved ? UINT64_MAX :
	    cache_bytes + reserved;
	if (want <= cache_budget && used <= cache_budget - want)
		return 0;
	holds_mark(gpid);
	for (i = 0; i < CACHE_HT; i++)
		for (b = blob_ht[i]; b != NULL; b = b->next)
			held[b->held] += b->size;
	if (want > cache_budget || used - held[0] > cache_budget - want) {
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

/* A new exec (or the setup list) names blobs: it is the most recent use. */
void
cache_tick(void)
{
	lru_clock++;
}

void
cache_init(void)
{
	struct sysinfo	si;

	mkdir("/var/lib", 0755);
	mkdir("/var/lib/bproc", 0755);
	mkdir(CACHE_DIR, 0755);
	if (cache_budget == 0 && sysinfo(&si) == 0)
		cache_budget = (uint64_t)si.totalram * si.mem_unit / 2;
}

/*
 * The budget MSG_SETUP said: bytes, else a share of RAM (percent), else
 * half of it.  A smaller one than the cache holds shrinks it if it can.
 */
void
cache_set_budget(uint64_t bytes, unsigned int share)
{
	struct sysinfo	si;
	uint64_t	ram = 0;

	if (sysinfo(&si) == 0)
		ram = (uint64_t)si.totalram * si.mem_unit;
	if (bytes)
		cache_budget = bytes;
	else if (share > 0 && share <= 100)
		cache_budget = ram / 100 * share;
	else
		cache_budget = ram / 2;
	cache_init();
	log_info("cache budget %llu MB", mb(cache_budget));
	if (cache_bytes > cache_budget) {
		holds_mark(-1);
		cache_evict(cache_bytes - cache_budget);
	}
}

/*
 * gpid runs path from blob b instead of what the image has there (an
 * applet link a user's push may not replace).  One per process: the
 * command; a library at an applet path would be the image's anyway.
 */
int
cache_hold_alias(pid_t gpid, const char *path, struct blob *b)
{
	struct hold	*hd = hold_find(gpid);
	char		*p;

	if (hd == NULL || b == NULL || cache_hold(gpid, b) == -1)
		return -1;
	if ((p = strdup(path)) == NULL)
		return -1;
	free(hd->alias_path);
	hd->alias_path = p;
	hd->alias = b;
	return 0;
}

/* The blob file gpid should exec for path, or NULL to exec path itself. */
const char *
cache_alias(pid_t gpid, const char *path)
{
	struct hold	*hd = hold_find(gpid);

	if (hd == NULL || hd->alias_path == NULL ||
	    strcmp(hd->alias_path, path) != 0)
		return NULL;
	return hd->alias->name;
}
