/*
 * The setup push: the files of the "push" list (BProc's libraries) that
 * every node gets while it boots.  MSG_SETUP carries the cache budget and
 * their manifest, the node answers NEED with the hashes it lacks, and we
 * stream those as BLOB frames under PROTO_SETUP_PID, through the same
 * exchange bpsh uses.  The node is up once they are linked in (its STATUS
 * says so).
 *
 * setup_push_scan() walks the "push" paths (files, symlinks with their
 * targets, directory trees) and hashes each regular file, reusing the
 * hash of a file whose device, inode, size and mtime did not change since
 * the last scan; it runs at start and whenever a node connects, so an
 * edited file is the new content on the next boot.  Both lookups (a path
 * already listed, a file hashed last time) go through htab indexes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


#include "bpmaster.h"
#include "hash.h"
#include "htab.h"
#include "log.h"
#include "path.h"

#define PUSH_RESCAN_MS	1000	/* the push list is rescanned at most this often */

/* One file of the "push" list as the master hashed it. */
struct spfile {
	char		*path;
	char		*target;	/* a symlink's, else NULL */
	uint32_t	 mode, uid, gid;
	uint64_t	 size;
	dev_t		 dev;
	ino_t		 ino;
	long long	 mtime;
	unsigned char	 hash[32];
};

/* A node's setup push: the hashes it asked for, sent in order. */
struct setup_push {
	unsigned char	(*need)[32];
	size_t		 nneed;
	size_t		 next;
	int		 fd;		/* the file being sent, or -1 */
	uint32_t	 unacked;
};

static struct spfile	*spf, *spf_old;
static size_t		 nspf, nspf_old;
static uint64_t		 push_list_bytes;
static struct htab	 spf_paths = HTAB_INIT;	/* path -> index into spf */
static struct htab	 spf_inodes = HTAB_INIT;	/* inode state -> index into spf_old */
static struct htab	 spf_contents = HTAB_INIT;	/* content hash -> index into spf */

static void	setup_push_path(const char *, int);

static uint64_t
spf_inode_hash(const struct spfile *f)
{
	uint64_t	h = htab_mix((uint64_t)f->dev, (uint64_t)f->ino);

	return htab_mix(htab_mix(h, f->size), (uint64_t)f->mtime);
}

static int
spf_path_eq(uintptr_t v, const void *key)
{
	return strcmp(spf[v].path, key) == 0;
}

static int
spf_content_eq(uintptr_t v, const void *key)
{
	return spf[v].target == NULL && memcmp(spf[v].hash, key, 32) == 0;
}

static uint64_t
spf_content_hash(const unsigned char *hash)
{
	return htab_hash(hash, 32);
}

static int
spf_inode_eq(uintptr_t v, const void *key)
{
	const struct spfile	*o = &spf_old[v], *f = key;

	return o->target == NULL && o->dev == f->dev && o->ino == f->ino &&
	    o->size == f->size && o->mtime == f->mtime;
}

/* A new entry, or NULL when path is in the list already (or too many). */
static struct spfile *
spf_new(const char *path)
{
	struct spfile	*f;
	uint64_t	 h = htab_hash(path, strlen(path));
	uintptr_t	 v;

	/* overlapping lines and shared link targets name a file twice */
	if (htab_get(&spf_paths, h, spf_path_eq, path, &v))
		return NULL;
	if (nspf >= MASTER_PUSH_MAX) {
		log_warnx("push %s: more than %d files in the push list",
		    path, MASTER_PUSH_MAX);
		return NULL;
	}
	if ((f = reallocarray(spf, nspf + 1, sizeof(*spf))) == NULL)
		return NULL;
	spf = f;
	f = &spf[nspf];
	memset(f, 0, sizeof(*f));
	if ((f->path = strdup(path)) == NULL)
		return NULL;
	if (htab_put(&spf_paths, h, nspf) == -1) {
		free(f->path);
		return NULL;
	}
	nspf++;
	return f;
}

/* Take back the entry spf_new just made. */
static void
spf_unnew(struct spfile *f)
{
	htab_del(&spf_paths, htab_hash(f->path, strlen(f->path)), nspf - 1);
	free(f->path);
	free(f->target);
	nspf--;
}

static int
spf_hash(struct spfile *f, const char *path)
{
	uintptr_t			 v;
	int				 fd, r;

	if (htab_get(&spf_inodes, spf_inode_hash(f), spf_inode_eq, f, &v)) {
		memcpy(f->hash, spf_old[v].hash, 32);
		goto indexed;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return -1;
	r = hash_fd(fd, f->hash);
	close(fd);
	if (r == -1)
		return -1;
indexed:
	/* (a failure only means setup_push_pump does not find it) */
	htab_put(&spf_contents, spf_content_hash(f->hash), (uintptr_t)(f - spf));
	return 0;
}

static void
setup_push_dir(const char *path, int depth)
{
	struct dirent	*de;
	DIR		*d;
	char		 abs[8300];

	if ((d = opendir(path)) == NULL) {
		log_warn("push %s", path);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(abs, sizeof(abs), "%s/%s",
		    strcmp(path, "/") == 0 ? "" : path, de->d_name);
		setup_push_path(abs, depth + 1);
	}
	closedir(d);
}

static void
setup_push_path(const char *path, int depth)
{
	struct spfile	*f;
	struct stat	 st;
	char		 target[4096], abs[8300];
	ssize_t		 n;

	if (depth > 64 || strlen(path) >= 4096)
		return;
	if (lstat(path, &st) == -1) {
		log_warn("push %s", path);
		return;
	}
	if (S_ISDIR(st.st_mode)) {
		setup_push_dir(path, depth);
		return;
	}
	if (!S_ISLNK(st.st_mode) && !S_ISREG(st.st_mode))
		return;
	if ((f = spf_new(path)) == NULL)
		return;
	f->mode = st.st_mode & 07777;
	f->uid = st.st_uid;
	f->gid = st.st_gid;
	f->size = (uint64_t)st.st_size;
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->mtime = (long long)st.st_mtim.tv_sec * 1000000000LL +
	    st.st_mtim.tv_nsec;
	if (S_ISREG(st.st_mode)) {
		if (spf_hash(f, path) == -1) {
			log_warn("push %s", path);
			spf_unnew(f);
		}
		return;
	}
	/* a symlink goes as one, and brings its target (SONAME links) */
	if ((n = readlink(path, target, sizeof(target) - 1)) < 0 ||
	    (target[n] = '\0', (f->target = strdup(target)) == NULL)) {
		log_warn("push %s", path);
		spf_unnew(f);
		return;
	}
	f->mode = 0777;
	f->size = 0;
	path_link_target(path, target, abs, sizeof(abs));
	setup_push_path(abs, depth + 1);
}

/* Last scan's list becomes the one whose hashes this scan may reuse. */
static void
spf_rotate(void)
{
	size_t	i;

	for (i = 0; i < nspf_old; i++) {
		free(spf_old[i].path);
		free(spf_old[i].target);
	}
	free(spf_old);
	spf_old = spf;
	nspf_old = nspf;
	spf = NULL;
	nspf = 0;
	htab_free(&spf_paths);
	htab_free(&spf_inodes);
	htab_free(&spf_contents);
	for (i = 0; i < nspf_old; i++)
		if (spf_old[i].target == NULL &&
		    htab_put(&spf_inodes, spf_inode_hash(&spf_old[i]), i) == -1)
			break;	/* (only an optimisation: hash again) */
}

void
setup_push_scan(void)
{
	static uint64_t	last;
	uint64_t	bytes = 0;
	size_t		i;

	/* a boot storm scans once, not once per node */
	if (last != 0 && ev_now() - last < PUSH_RESCAN_MS)
		return;
	last = ev_now();
	spf_rotate();
	for (i = 0; i < conf.npush; i++) {
		char	p[4096];

		snprintf(p, sizeof(p), "%s", conf.push[i]);
		path_clean(p);
		setup_push_path(p, 0);
	}
	for (i = 0; i < nspf; i++)
		bytes += spf[i].size;
	/* said at start and when it changes, not at every connect */
	if (conf.npush > 0 && (nspf != nspf_old || bytes != push_list_bytes))
		log_info("push list: %zu files, %llu bytes", nspf,
		    (unsigned long long)bytes);
	push_list_bytes = bytes;
}

/* MSG_SETUP: the cache budget and the push list's manifest (A_MFILE). */
int
setup_push_start(struct node *n)
{
	static unsigned char	 buf[WIRE_MAX_FRAME];
	unsigned char		 e[MFILE_MAX];
	struct wire_msg		 m;
	size_t			 i, el, sent = 0;

	setup_push_end(n);
	if ((n->setup = calloc(1, sizeof(*n->setup))) == NULL)
		return -1;
	n->setup->fd = -1;
	setup_push_scan();
	wire_msg_init(&m, buf, sizeof(buf), MSG_SETUP, 0, 0);
	if (conf.cache_budget)
		wire_put_u64(&m, A_CACHE_BUDGET, conf.cache_budget);
	else if (conf.cache_share)
		wire_put_u32(&m, A_CACHE_SHARE, conf.cache_share);
	for (i = 0; i < nspf; i++) {
		const struct spfile	*f = &spf[i];

		if ((el = mfile_encode(e, f->hash, f->mode, f->uid, f->gid,
		    f->size, f->path, f->target)) == 0)
			continue;
		/* leave room for the frame's seal: the rest waits for bpsh */
		if (m.len + WIRE_ALIGN(WIRE_ATTR_HDR + el) >
		    WIRE_MAX_FRAME - 4096) {
			log_warnx("node %d: push list too long for one frame: "
			    "%zu of %zu files sent", n->num, sent, nspf);
			break;
		}
		wire_put(&m, A_MFILE, e, el);
		sent++;
	}
	return node_send(n, &m);
}

/* The node's push is over (or its link closed): forget it. */
void
setup_push_end(struct node *n)
{
	struct setup_push	*sp = n->setup;

	if (sp == NULL)
		return;
	if (sp->fd >= 0)
		close(sp->fd);
	free(sp->need);
	free(sp);
	n->setup = NULL;
}

/* A file of the list by content hash: its index, or nspf. */
static size_t
spf_by_hash(const unsigned char *hash)
{
	uintptr_t	v;

	if (htab_get(&spf_contents, spf_content_hash(hash), spf_content_eq,
	    hash, &v))
		return v;
	return nspf;
}

/* Send what the node asked for, at most BLOB_WINDOW bytes unacknowledged. */
static void
setup_push_pump(struct node *n)
{
	static unsigned char	 buf[BLOB_FRAME], data[BLOB_CHUNK];
	struct setup_push	*sp = n->setup;
	struct wire_msg		 m;
	const unsigned char	*hash;
	ssize_t			 got;
	size_t			 i, off, piece;

	while (n->setup == sp && sp->unacked < BLOB_WINDOW &&
	    sp->next < sp->nneed) {
		hash = sp->need[sp->next];
		if (sp->fd < 0) {
			i = spf_by_hash(hash);
			/* gone since the scan: an empty blob fails it clearly */
			if (i == nspf || (sp->fd = open(spf[i].path,
			    O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
				log_warnx("node %d: push %s: %s", n->num,
				    i == nspf ? "file" : spf[i].path,
				    i == nspf ? "no longer in the list" :
				    strerror(errno));
		}
		got = sp->fd >= 0 ? read(sp->fd, data, sizeof(data)) : 0;
		wire_msg_init(&m, buf, sizeof(buf), MSG_BLOB, 0, 0);
		wire_put_u32(&m, A_PID, PROTO_SETUP_PID);
		wire_put(&m, A_HASH, hash, 32);
		if (got > 0) {
			for (off = 0; off < (size_t)got; off += piece) {
				piece = (size_t)got - off;
				if (piece > BLOB_PIECE)
					piece = BLOB_PIECE;
				wire_put(&m, A_DATA, data + off, piece);
			}
			sp->unacked += (uint32_t)got;
			n->push_bytes += (uint64_t)got;
		} else {
			wire_put_u8(&m, A_EOF, 1);
			if (sp->fd >= 0)
				close(sp->fd);
			sp->fd = -1;
			sp->next++;
		}
		if (node_send(n, &m) == -1)
			return;
	}
}

static int
setup_push_need(struct node *n, const struct proto_frame *f)
{
	struct setup_push	*sp = n->setup;
	struct wire_iter	 it;
	struct wire_attr	 a;
	unsigned char		(*nn)[32];

	wire_iter_init(&it, f->body, f->len);
	while (wire_iter_next(&it, &a) == 1) {
		if (a.type != A_HASH)
			continue;
		if (sp->nneed >= MASTER_PUSH_MAX ||
		    (nn = reallocarray(sp->need, sp->nneed + 1,
		    sizeof(*nn))) == NULL) {
			node_fail(n, "setup push: too many NEEDs");
			return -1;
		}
		sp->need = nn;
		memcpy(sp->need[sp->nneed++], a.data, 32);
	}
	setup_push_pump(n);
	return 0;
}

/* NEED, BLOB_ACK and EXEC_RESULT of the setup push (PROTO_SETUP_PID). */
int
setup_push_frame(struct node *n, const struct proto_frame *f)
{
	struct wire_attr	*tb = f->tb;
	uint32_t		 b;
	char			 why[300];

	if (f->h->type == MSG_EXEC_RESULT) {
		setup_push_end(n);
		if (wire_get_u32(&tb[A_ERRNO]) == 0)
			return 0;
		snprintf(why, sizeof(why), "setup push failed: %s",
		    tb[A_MSG].data ? wire_get_str(&tb[A_MSG]) : "?");
		log_warnx("node %d: %s", n->num, why);
		node_transition(n, NODE_ERROR, why);
		return 0;
	}
	/* (a push that ended: what the node still says is moot) */
	if (n->setup == NULL)
		return 0;
	if (f->h->type == MSG_NEED)
		return setup_push_need(n, f);
	if (f->h->type == MSG_BLOB_ACK) {
		b = wire_get_u32(&tb[A_BYTES]);
		n->setup->unacked = b > n->setup->unacked ? 0 :
		    n->setup->unacked - b;
		setup_push_pump(n);
	}
	return 0;
}
