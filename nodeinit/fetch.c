/*
 * Pushing files into the node's RAM cache.  Pushed files live once per
 * content in /var/lib/bproc/cache (named by BLAKE2b hash, owner and mode)
 * and are linked in at their front-end paths, atomically (link or symlink
 * to a temporary name, then rename), so the dynamic linker finds them where
 * the front end has them.  A process waits, as a pending exec, until every
 * file it needs is here; blobs are written to a temporary file, checked against
 * their hash, and only then renamed into the cache, so nothing
 * half-written is ever run.  Files of the node's own image are never
 * replaced, but for busybox applet links (see is_applet), by root.  A
 * user's push is the user's (owner, no set-id bits) and never replaces,
 * links over or uses a file of another owner (push_may).  The master's
 * setup push list comes the same way, as the "exec" of PID 0 (PROTO_SETUP_PID).
 * Which blobs fit, stay and go is cache.c's business.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <sodium.h>

#include "fetch_int.h"
#include "log.h"
#include "nodeinit_int.h"

#define NEED_BATCH	512	/* hashes per NEED frame */


void
pusher_of(pid_t gpid, const unsigned char *body, size_t blen,
    struct pusher *pu)
{
	struct wire_iter	it;
	struct wire_attr	a;

	pu->uid = 65534;	/* no A_UID: nobody, never root */
	pu->gid = 65534;
	pu->setup = gpid == PROTO_SETUP_PID;
	if (pu->setup) {
		pu->uid = pu->gid = 0;
		return;
	}
	wire_iter_init(&it, body, blen);
	while (wire_iter_next(&it, &a) == 1) {
		if (a.type == A_UID && a.len == 4)
			pu->uid = wire_get_u32(&a);
		else if (a.type == A_GID && a.len == 4)
			pu->gid = wire_get_u32(&a);
	}
}

/*
 * An entry as this node takes it.  A user's files are the user's, without
 * set-id or sticky bits, whatever the entry says (the master made them so
 * already; the node does not depend on it).
 */
static int
mfile_parse(const struct wire_attr *a, struct mfile *f,
    const struct pusher *pu)
{
	if (mfile_decode(a->data, a->len, f) == -1)
		return -1;
	if (pu->uid != 0) {
		f->uid = pu->uid;
		f->gid = pu->gid;
		f->mode &= 0777;
	}
	return 0;
}

void
cache_name(const struct mfile *f, char *buf, size_t len)
{
	char	hex[65];

	sodium_bin2hex(hex, sizeof(hex), f->hash, 32);
	snprintf(buf, len, CACHE_DIR "/%s.%u.%u.%o", hex, f->uid, f->gid,
	    f->mode);
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
int
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

/* Is path a symlink to target? */
static int
link_is(const char *path, const char *target)
{
	char	cur[4096];
	ssize_t	n;

	return (n = readlink(path, cur, sizeof(cur))) >= 0 &&
	    (size_t)n == strlen(target) && memcmp(cur, target, (size_t)n) == 0;
}

/*
 * Who may put f at its path (docs/push.md, "Who owns what on a node").
 * Root's pushes and the setup list's replace what was pushed, a busybox
 * applet link of the image, and a file a user made on the node; the
 * image's own files stay.  A user's push replaces only the user's own
 * files: it never replaces, links over or runs a file of another user,
 * and uses a file of root's (image, push list, root's push) only as it
 * is.  Returns PM_LINK (link f in), PM_APPLET (the same, over an applet
 * link), PM_STAY (leave what is there), or -1 with msg saying why not;
 * *bp is the pushed blob a PM_STAY path serves, if any.
 */
#define PM_STAY		0
#define PM_LINK		1
#define PM_APPLET	2
#define PM_ALIAS	3	/* a user's program over an applet: run it from its blob */

static int
push_may(const struct mfile *f, const struct pusher *pu, struct blob **bp,
    char *msg, size_t msglen)
{
	struct stat	st;
	uid_t		owner;
	int		by;

	*bp = NULL;
	if (lstat(f->path, &st) == -1)
		return PM_LINK;
	by = cache_owner(f->path, &owner);
	if (pu->uid == 0) {
		if (by >= 0 || st.st_uid != 0)
			return PM_LINK;
		return is_applet(f->path, &st) ? PM_APPLET : PM_STAY;
	}
	if (by < 0) {
		/*
		 * The image's files stay; over an applet link the user's
		 * program runs from its blob (push_link); a user's file is
		 * theirs.
		 */
		if (st.st_uid == 0)
			return f->type == MFILE_REG && is_applet(f->path, &st) ?
			    PM_ALIAS : PM_STAY;
		if (st.st_uid == pu->uid)
			return PM_LINK;
		snprintf(msg, msglen, "%.200s: a file of uid %u on the node",
		    f->path, (unsigned int)st.st_uid);
		errno = EEXIST;
		return -1;
	}
	if (by == 0 && owner == pu->uid)
		return PM_LINK;
	if (by == 1 || owner == 0) {
		/* root's file, and the content we want: it serves as it is */
		if (f->type == MFILE_LINK ? S_ISLNK(st.st_mode) &&
		    link_is(f->path, f->target) :
		    (*bp = cache_serves(f->path, &st, f->hash)) != NULL)
			return PM_STAY;
		snprintf(msg, msglen, "%.200s: root's file on this node (%s), "
		    "not the front end's now: only root may replace it",
		    f->path, by == 1 ? "the push list" : "root pushed it");
		errno = EEXIST;
		return -1;
	}
	snprintf(msg, msglen, "%.200s: another user's file on this node "
	    "(uid %u pushed it)", f->path, (unsigned int)owner);
	errno = EEXIST;
	return -1;
}

/* Every entry may go where it says, or the push fails as a whole. */
static int
push_check(const unsigned char *body, size_t blen, const struct pusher *pu,
    char *msg, size_t msglen)
{
	struct wire_iter	it;
	struct wire_attr	a;
	struct mfile		f;
	struct blob		*b;

	wire_iter_init(&it, body, blen);
	while (wire_iter_next(&it, &a) == 1)
		if (a.type == A_MFILE && mfile_parse(&a, &f, pu) == 0 &&
		    push_may(&f, pu, &b, msg, msglen) == -1)
			return -1;
	return 0;
}

/*
 * Link every manifest entry in at its path, as push_may says; nothing is
 * linked unless every entry may be.
 */
int
push_link(const unsigned char *body, size_t blen, const struct pusher *pu,
    pid_t gpid, char *msg, size_t msglen)
{
	struct wire_iter	it;
	struct wire_attr	a;
	struct mfile		f;
	struct stat		st, cst;
	struct blob		*b = NULL;
	char			cname[256], tmp[4200];
	int			there, may;

	if (push_check(body, blen, pu, msg, msglen) == -1)
		return -1;
	wire_iter_init(&it, body, blen);
	while (wire_iter_next(&it, &a) == 1) {
		if (a.type != A_MFILE || mfile_parse(&a, &f, pu) == -1)
			continue;
		if ((may = push_may(&f, pu, &b, msg, msglen)) == -1)
			return -1;
		if (may == PM_STAY) {
			/* a user's process holds the root's blob it uses */
			if (b != NULL)
				cache_hold(gpid, b);
			continue;
		}
		if (may == PM_ALIAS) {
			cache_name(&f, cname, sizeof(cname));
			if (cache_hold_alias(gpid, f.path,
			    cache_find(cname)) == -1) {
				snprintf(msg, msglen, "%s: not in the cache",
				    f.path);
				errno = ENOENT;
				return -1;
			}
			continue;
		}
		there = lstat(f.path, &st) == 0;
		/* a warm exec finds its paths linked already: leave them */
		if (there && f.type == MFILE_LINK && S_ISLNK(st.st_mode) &&
		    link_is(f.path, f.target)) {
			cache_linked(f.path, NULL, pu->uid, pu->setup);
			continue;
		}
		if (there && f.type == MFILE_REG) {
			cache_name(&f, cname, sizeof(cname));
			if (stat(cname, &cst) == 0 && cst.st_ino == st.st_ino &&
			    cst.st_dev == st.st_dev && S_ISREG(st.st_mode)) {
				cache_linked(f.path, cache_find(cname), pu->uid,
				    pu->setup);
				continue;
			}
		}
		if (!there)
			mkdirs(f.path);
		snprintf(tmp, sizeof(tmp), "%s.bproc-tmp", f.path);
		unlink(tmp);
		if (f.type == MFILE_LINK) {
			b = NULL;
			if (symlink(f.target, tmp) == -1 ||
			    (pu->uid != 0 && lchown(tmp, f.uid, f.gid) == -1))
				goto fail;
		} else {
			cache_name(&f, cname, sizeof(cname));
			b = cache_find(cname);
			if (link(cname, tmp) == -1 &&
			    (errno != EXDEV || copy_file(cname, tmp, &f) == -1))
				goto fail;
		}
		if (rename(tmp, f.path) == -1)
			goto fail;
		cache_linked(f.path, b, pu->uid, pu->setup);
		if (may == PM_APPLET)
			cache_mark_applet(f.path);
	}
	return 0;
fail:
	snprintf(msg, msglen, "%s: %s", f.path, strerror(errno));
	unlink(tmp);
	return -1;
}

void
setup_result(int e, const char *msg)
{
	unsigned char	buf[512];
	struct wire_msg	m;

	wire_msg_init(&m, buf, sizeof(buf), MSG_EXEC_RESULT, 0, 0);
	wire_put_u32(&m, A_PID, PROTO_SETUP_PID);
	wire_put_u32(&m, A_ERRNO, (uint32_t)e);
	wire_put_str(&m, A_MSG, msg);
	link_send_msg(&m);
}

void
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
	cache_unhold(gpid);
	if (link_send_msg(&m) == 0 && gpid == PROTO_SETUP_PID) {
		log_warnx("setup push: %s", msg);
		link_setup_done();
	}
}

/*
 * push_give_up: a push that cannot go on forgets its pending record and
 * the holds taken for it; errno says why (e), *msg already does.
 */
static int
push_give_up(struct pending *pd, pid_t gpid, int e)
{
	if (pd != NULL) {
		free(pd->need);
		free(pd);
	}
	cache_unhold(gpid);
	errno = e;
	return -1;
}

static int
push_nomem(struct pending *pd, pid_t gpid, char *msg, size_t msglen)
{
	snprintf(msg, msglen, "node: out of memory");
	return push_give_up(pd, gpid, ENOMEM);
}

/* need_has: pd already needs a file of cache name cname. */
static int
need_has(const struct pending *pd, const char *cname)
{
	char	oname[256];
	size_t	i;

	for (i = 0; i < pd->nneed; i++) {
		cache_name(&pd->need[i], oname, sizeof(oname));
		if (strcmp(oname, cname) == 0)
			return 1;
	}
	return 0;
}

/*
 * need_collect: walk the manifest; what the cache has, or what stays as
 * it is, is held, the rest goes into pd->need, *want bytes in all.
 * Returns 0, or an errno value with *msg saying why.
 */
static int
need_collect(struct pending *pd, const unsigned char *body, size_t blen,
    const struct pusher *pu, uint64_t *want, char *msg, size_t msglen)
{
	struct wire_iter	 it;
	struct wire_attr	 a;
	struct mfile		 f, *nn;
	struct blob		*b;
	char			 cname[256];

	wire_iter_init(&it, body, blen);
	while (wire_iter_next(&it, &a) == 1) {
		if (a.type != A_MFILE)
			continue;
		if (mfile_parse(&a, &f, pu) == -1) {
			/* the path need not end in a NUL: print what is there */
			snprintf(msg, msglen, "bad manifest entry (%.*s)",
			    a.len > MFILE_FIXED ? (int)(a.len - MFILE_FIXED >
			    200 ? 200 : a.len - MFILE_FIXED) : 1,
			    a.len > MFILE_FIXED ? (const char *)a.data +
			    MFILE_FIXED : "?");
			return EINVAL;
		}
		if (f.type != MFILE_REG)
			continue;
		/* a path that stays as it is needs no blob */
		if (push_may(&f, pu, &b, msg, msglen) == PM_STAY) {
			if (b != NULL && cache_hold(pd->gpid, b) == -1)
				return ENOMEM;
			continue;
		}
		cache_name(&f, cname, sizeof(cname));
		if ((b = cache_find(cname)) != NULL) {
			if (cache_hold(pd->gpid, b) == -1)
				return ENOMEM;
			continue;
		}
		/* one entry per cache name: the same content, other modes, apart */
		if (need_has(pd, cname))
			continue;
		if ((nn = reallocarray(pd->need, pd->nneed + 1,
		    sizeof(*nn))) == NULL)
			return ENOMEM;
		pd->need = nn;
		pd->need[pd->nneed++] = f;
		/* sizes from the wire are bounded before they are added */
		if (mfile_size_add(want, f.size) == -1) {
			snprintf(msg, msglen, "manifest too large: it names "
			    "more than %llu TiB",
			    (unsigned long long)(MFILE_SIZE_MAX >> 40));
			return EFBIG;
		}
	}
	return 0;
}

/* need_keep_frame: keep the whole EXEC frame: the mfile pointers point into it. */
static int
need_keep_frame(struct pending *pd, const struct wire_hdr *h,
    const unsigned char *body)
{
	size_t	i;

	pd->flen = h->len;
	if ((pd->frame = malloc(h->len)) == NULL)
		return -1;
	memcpy(pd->frame, body - WIRE_HDR_LEN, h->len);
	for (i = 0; i < pd->nneed; i++) {
		pd->need[i].path = (const char *)pd->frame +
		    (pd->need[i].path - (const char *)(body - WIRE_HDR_LEN));
		pd->need[i].target = NULL;
	}
	return 0;
}

/* need_send: the NEED messages, NEED_BATCH hashes each, each content once. */
static void
need_send(const struct pending *pd)
{
	size_t	i;

	for (i = 0; i < pd->nneed; i += NEED_BATCH) {
		unsigned char	buf[64 + NEED_BATCH * 40];
		struct wire_msg	m;
		size_t		k, j;

		wire_msg_init(&m, buf, sizeof(buf), MSG_NEED, 0, 0);
		wire_put_u32(&m, A_PID, (uint32_t)pd->gpid);
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
}

/*
 * Called by spawn_exec for an EXEC with a manifest (and by push_setup for
 * the master's list, as gpid PROTO_SETUP_PID).  Returns 0 when every file is
 * linked in (go on with the exec), 1 when the exec waits for blobs, -1
 * when it failed (*msg says why).  Every blob the manifest names is held
 * from here on, until the process is gone.
 */
int
push_prepare(pid_t gpid, const struct wire_hdr *h, const unsigned char *body,
    size_t blen, char *msg, size_t msglen)
{
	struct pending		*pd;
	struct pusher		 pu;
	uint64_t		 want = 0;
	int			 e;

	pusher_of(gpid, body, blen, &pu);
	/* a file of another owner in the way: refused before anything moves */
	if (push_check(body, blen, &pu, msg, msglen) == -1)
		return -1;
	cache_init();
	cache_tick();
	/* holds of ended processes go now, so they never pile up */
	cache_prune(gpid);
	if ((pd = calloc(1, sizeof(*pd))) == NULL || cache_hold_new(gpid) == -1)
		return push_nomem(pd, gpid, msg, msglen);
	pd->gpid = gpid;
	if ((e = need_collect(pd, body, blen, &pu, &want, msg, msglen)) != 0)
		return e == ENOMEM ? push_nomem(pd, gpid, msg, msglen) :
		    push_give_up(pd, gpid, e);
	if (pd->nneed == 0) {
		free(pd);
		return push_link(body, blen, &pu, gpid, msg, msglen);
	}
	/* fits, maybe after eviction, or fails before anything is sent */
	if (cache_room(gpid, want, push_reserved(), msg, msglen) == -1)
		return push_give_up(pd, gpid, ENOSPC);
	if (need_keep_frame(pd, h, body) == -1)
		return push_nomem(pd, gpid, msg, msglen);
	DLIST_INSERT_HEAD(&pendings, pd, link);
	need_send(pd);
	log_debug("exec %d waits for %zu files (%llu bytes)", (int)gpid,
	    pd->nneed, (unsigned long long)want);
	return 1;
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
	char	msg[300];

	cache_set_budget(tb[A_CACHE_BUDGET].data ?
	    wire_get_u64(&tb[A_CACHE_BUDGET]) : 0, tb[A_CACHE_SHARE].data ?
	    wire_get_u32(&tb[A_CACHE_SHARE]) : 0);
	if (!tb[A_MFILE].data) {
		cache_unhold(PROTO_SETUP_PID);
		link_setup_done();
		return;
	}
	switch (push_prepare(PROTO_SETUP_PID, h, body, blen, msg, sizeof(msg))) {
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
	struct pending	*pd;

	while ((pd = DLIST_FIRST(&pendings)) != NULL) {
		cache_unhold(pd->gpid);
		pending_free(pd);
	}
}
