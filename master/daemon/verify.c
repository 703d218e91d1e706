/*
 * The front end is the truth for pushed files.  A tool's manifest is a
 * claim: for a caller who is not root, every A_MFILE entry of its EXEC is
 * checked here against the front end's file at that path, opened with the
 * caller's own credentials, before anything reaches the node, and what
 * goes on to the node is what we found, not what was claimed: the caller
 * as owner (uid and gid), the front end's permission bits without set-id
 * or sticky bits.  The node checks every blob against the hash we let
 * through, so what lands is the front end's content end to end.
 *
 * Hashing a file costs reading it (in our one loop, about 1 ms per MB);
 * a cache keyed by device, inode, size, mtime and ctime makes a repeat
 * cost two open()s and two fstat()s.  Root's manifests keep their owners
 * and modes as claimed; only their sizes are bounded.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "bpmaster.h"
#include "hash.h"
#include "htab.h"
#include "log.h"

#define VERIFY_CACHE	16384	/* remembered content hashes (direct-mapped, ~1.3 MB) */

/* One file's content hash, valid while its inode state is the same. */
struct verify_hash {
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	struct timespec	 mtime, ctime;
	unsigned char	 hash[32];
	int		 valid;
};

static struct verify_hash	verify_cache[VERIFY_CACHE];
static uint64_t			verify_hits, verify_misses;

static struct verify_hash *
verify_slot(const struct stat *st)
{
	return &verify_cache[htab_mix(htab_mix(0, (uint64_t)st->st_dev),
	    (uint64_t)st->st_ino) % VERIFY_CACHE];
}

static int
verify_same(const struct verify_hash *h, const struct stat *st)
{
	return h->valid && h->dev == st->st_dev && h->ino == st->st_ino &&
	    h->size == st->st_size &&
	    h->mtime.tv_sec == st->st_mtim.tv_sec &&
	    h->mtime.tv_nsec == st->st_mtim.tv_nsec &&
	    h->ctime.tv_sec == st->st_ctim.tv_sec &&
	    h->ctime.tv_nsec == st->st_ctim.tv_nsec;
}

/* fd's content hash, from the cache when its inode state is unchanged. */
static int
verify_hash_fd(int fd, const struct stat *st, unsigned char *out)
{
	struct verify_hash		*h = verify_slot(st);
	struct stat			 after;

	if (verify_same(h, st)) {
		verify_hits++;
		memcpy(out, h->hash, 32);
		return 0;
	}
	verify_misses++;
	if (hash_fd(fd, out) == -1)
		return -1;
	/* written to while we read: no cache entry, the hash may be torn */
	if (fstat(fd, &after) == -1 || after.st_size != st->st_size ||
	    after.st_mtim.tv_nsec != st->st_mtim.tv_nsec ||
	    after.st_mtim.tv_sec != st->st_mtim.tv_sec ||
	    after.st_ctim.tv_nsec != st->st_ctim.tv_nsec ||
	    after.st_ctim.tv_sec != st->st_ctim.tv_sec)
		return 0;
	h->dev = st->st_dev;
	h->ino = st->st_ino;
	h->size = st->st_size;
	h->mtime = st->st_mtim;
	h->ctime = st->st_ctim;
	memcpy(h->hash, out, 32);
	h->valid = 1;
	return 0;
}

/*
 * Our filesystem view becomes the caller's: fsuid, fsgid and supplementary
 * groups (setfsuid to non-zero also drops the capabilities that bypass
 * permission checks).  We are single-threaded, so nothing else runs as
 * the caller meanwhile.  Returns 0, or -1 when we cannot be the caller.
 */
static gid_t	saved_groups[4096];
static int	saved_ngroups = -1;

static int
verify_become(const struct ucred *cred, const gid_t *groups, int ng)
{
	if (geteuid() != 0)
		return cred->uid == geteuid() ? 0 : -1;
	if ((saved_ngroups = getgroups(4096, saved_groups)) == -1 ||
	    setgroups((size_t)ng, groups) == -1) {
		saved_ngroups = -1;
		return -1;
	}
	setfsgid(cred->gid);
	setfsuid(cred->uid);
	if ((uid_t)setfsuid((uid_t)-1) != cred->uid ||
	    (gid_t)setfsgid((gid_t)-1) != cred->gid) {
		setfsuid(geteuid());
		setfsgid(getegid());
		setgroups((size_t)saved_ngroups, saved_groups);
		saved_ngroups = -1;
		return -1;
	}
	return 0;
}

static void
verify_unbecome(void)
{
	if (geteuid() != 0 || saved_ngroups < 0)
		return;
	setfsuid(geteuid());
	setfsgid(getegid());
	if (setgroups((size_t)saved_ngroups, saved_groups) == -1)
		fatal("verify: cannot restore our groups");
	saved_ngroups = -1;
}

/*
 * f names a regular file: it must be one at that path, that the caller can
 * read, of that size and content.  Returns 0 with *mode its permission
 * bits, or -1 with msg saying why.
 */
static int
verify_file(const struct mfile *f, uint32_t *mode, char *msg, size_t msglen)
{
	struct stat	 st, st2;
	unsigned char	 sum[32];
	char		 proc[64];
	int		 pfd, fd = -1, r = -1, e = 0;

	/* O_PATH opens nothing (no FIFO waits, no device wakes up) */
	if ((pfd = open(f->path, O_PATH | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		snprintf(msg, msglen, "%.900s: %s", f->path, strerror(errno));
		errno = EBADMSG;
		return -1;
	}
	if (fstat(pfd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size != f->size)
		goto notours;
	/* opened again for reading: the permission check is the caller's */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
	if ((fd = open(proc, O_RDONLY | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC)) == -1)
		goto syserr;
	if (fstat(fd, &st2) == -1 || st2.st_ino != st.st_ino ||
	    st2.st_dev != st.st_dev)
		goto notours;
	if (verify_hash_fd(fd, &st2, sum) == -1)
		goto syserr;
	if (sodium_memcmp(sum, f->hash, 32) != 0)
		goto notours;
	*mode = st2.st_mode & 0777;
	r = 0;
	goto out;
syserr:
	snprintf(msg, msglen, "%.900s: %s", f->path, strerror(errno));
	e = EBADMSG;
	goto out;
notours:
	snprintf(msg, msglen, "%.900s: not the front end's file", f->path);
	e = EBADMSG;
out:
	if (fd >= 0)
		close(fd);
	close(pfd);
	errno = e;
	return r;
}

/* f names a symlink: the front end must have that link, to that target. */
static int
verify_link(const struct mfile *f, char *msg, size_t msglen)
{
	char	buf[MFILE_PATH_MAX];
	ssize_t	n;

	if ((n = readlink(f->path, buf, sizeof(buf))) == -1 && errno != EINVAL) {
		snprintf(msg, msglen, "%.900s: %s", f->path, strerror(errno));
		errno = EBADMSG;
		return -1;
	}
	if (n < 0 || (size_t)n != strlen(f->target) ||
	    memcmp(buf, f->target, (size_t)n) != 0) {
		snprintf(msg, msglen, "%.900s: not the front end's symlink",
		    f->path);
		errno = EBADMSG;
		return -1;
	}
	return 0;
}

/*
 * The manifest of an EXEC (its A_MFILE attributes in body) into m, as
 * the node must take it.  First the cheap bounds for everyone (each entry
 * well-formed, the sizes' sum within MFILE_SIZE_MAX); then, for a caller
 * who is not root, each entry checked as that caller and re-encoded with
 * the caller as owner.  Returns 0, or -1 with errno and msg (nothing was
 * put in m that matters: the caller drops the frame).  A refused entry is
 * EBADMSG, not EPERM or EACCES, whose words libbproc replaces with its own.
 */
int
verify_manifest(struct wire_msg *m, const struct ucred *cred,
    const gid_t *groups, int ng, const unsigned char *body, size_t blen,
    char *msg, size_t msglen)
{
	static const unsigned char	 nohash[32];
	struct wire_iter		 it;
	struct wire_attr		 a;
	struct mfile			 f;
	unsigned char			 e[MFILE_MAX];
	uint64_t			 total = 0;
	uint32_t			 mode;
	size_t				 n = 0, el;
	int				 r = 0;

	wire_iter_init(&it, body, blen);
	while (wire_iter_next(&it, &a) == 1) {
		if (a.type != A_MFILE)
			continue;
		if (mfile_decode(a.data, a.len, &f) == -1) {
			snprintf(msg, msglen, "bad manifest entry");
			errno = EINVAL;
			return -1;
		}
		if (f.type == MFILE_REG && mfile_size_add(&total, f.size) == -1)
			goto toolarge;
		n++;
	}
	if (n == 0)
		return 0;
	if (cred->uid == 0) {
		wire_iter_init(&it, body, blen);
		while (wire_iter_next(&it, &a) == 1)
			if (a.type == A_MFILE)
				wire_put(m, A_MFILE, a.data, a.len);
		return 0;
	}
	if (verify_become(cred, groups, ng) == -1) {
		snprintf(msg, msglen, "bpmaster cannot check files as uid %u",
		    (unsigned int)cred->uid);
		errno = EBADMSG;
		return -1;
	}
	wire_iter_init(&it, body, blen);
	while (r == 0 && wire_iter_next(&it, &a) == 1) {
		if (a.type != A_MFILE || mfile_decode(a.data, a.len, &f) == -1)
			continue;
		if (f.type == MFILE_LINK) {
			if ((r = verify_link(&f, msg, msglen)) == 0 &&
			    (el = mfile_encode(e, nohash, 0777, cred->uid,
			    cred->gid, 0, f.path, f.target)) > 0)
				wire_put(m, A_MFILE, e, el);
		} else if ((r = verify_file(&f, &mode, msg, msglen)) == 0 &&
		    (el = mfile_encode(e, f.hash, mode, cred->uid, cred->gid,
		    f.size, f.path, NULL)) > 0)
			wire_put(m, A_MFILE, e, el);
	}
	{
		int	saved = errno;

		verify_unbecome();
		errno = saved;
	}
	if (r == 0)
		log_debug("verify: %zu files of uid %u checked (hash cache: "
		    "%llu hits, %llu misses)", n, (unsigned int)cred->uid,
		    (unsigned long long)verify_hits,
		    (unsigned long long)verify_misses);
	return r;
toolarge:
	snprintf(msg, msglen, "manifest too large: it names more than "
	    "%llu TiB", (unsigned long long)(MFILE_SIZE_MAX >> 40));
	errno = EFBIG;
	return -1;
}
