/*
 * Migration on the node: an EXEC with EXEC_F_IMAGE starts bprestore (in
 * the initramfs) instead of a program, as root, with the ghost's PID and
 * the process's stdio like any process here, tracked like any (track.c);
 * the restorer drops to the caller's uid and groups itself before the
 * image runs an instruction.  The image comes in MSG_IMAGE frames and goes
 * straight into a pipe the restorer reads (no file); the restorer says on
 * a second pipe when it has taken the image, which we report
 * (MSG_IMAGE_RESULT).  Nothing here waits: what the pipe does not take is
 * held, and the master link is not read while anything is held (TCP then
 * slows the sender), so the main loop goes on serving the restorer's
 * ptrace stops, which are ours to resume.  An image held MIG_STALL_MS is
 * ended (the restorer then refuses it).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/socket.h>
#include <sys/un.h>

#include "log.h"
#include "nodeinit.h"

#define MIG_RESTORE	"/sbin/bprestore"	/* in the initramfs */
#define MIG_PIPE_SZ	(1 << 20)	/* bytes the image pipe holds */
#define MIG_STALL_MS	5000	/* image held this long, untaken: it ends */
#define MIG_SOCK	"bproc-node"	/* abstract socket processes move through */
#define MIG_LOCAL_MAX	16	/* processes moving home at once */
#define MIG_LOCAL_HIGH	(1u << 20)	/* link backlog: movers are not read */

struct mimage {
	pid_t		 gpid;
	int		 wfd;		/* the image pipe's write end */
	int		 afd;		/* "A" comes here once it is taken */
	int		 eof;		/* the last frame came: close wfd when drained */
	unsigned char	*q;		/* what the pipe did not take yet */
	size_t		 qlen;
	uint64_t	 since;		/* when the pipe last took something */
	struct mimage	*next;
};

static struct mimage	*images;

/*
 * A process of ours that moves home (libbproc's bproc_move on a node):
 * its frames go up named by its ghost's PID, the ghost's answers come
 * back down.  Who it is comes from the kernel (SO_PEERCRED), never from
 * what it says.
 */
struct mlocal {
	struct conn	 c;
	pid_t		 gpid;
	struct mlocal	*next;
};

static struct mlocal	*locals;
static int		 nlocals;
static int		 mig_lfd = -1;

static struct mimage **
mig_find(pid_t gpid)
{
	struct mimage	**pp;

	for (pp = &images; *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->gpid == gpid)
			break;
	return pp;
}

void
migrate_forget(pid_t gpid)
{
	struct mimage	**pp = mig_find(gpid), *mi = *pp;

	if (mi == NULL)
		return;
	*pp = mi->next;
	if (mi->wfd >= 0)
		close(mi->wfd);
	if (mi->afd >= 0)
		close(mi->afd);
	free(mi->q);
	free(mi);
}

/* Before the clone: the two pipes; child[0] the image, child[1] the "A". */
int
migrate_prepare(pid_t gpid, int child[2])
{
	struct mimage	*mi;
	int		 ip[2], ap[2];

	if ((mi = calloc(1, sizeof(*mi))) == NULL)
		return -1;
	if (pipe2(ip, O_CLOEXEC) == -1) {
		free(mi);
		return -1;
	}
	if (pipe2(ap, O_CLOEXEC) == -1) {
		close(ip[0]);
		close(ip[1]);
		free(mi);
		return -1;
	}
	(void)fcntl(ip[1], F_SETPIPE_SZ, MIG_PIPE_SZ);
	fcntl(ip[1], F_SETFL, O_NONBLOCK);
	fcntl(ap[0], F_SETFL, O_NONBLOCK);
	mi->gpid = gpid;
	mi->wfd = ip[1];
	mi->afd = ap[0];
	mi->next = images;
	images = mi;
	child[0] = ip[0];
	child[1] = ap[1];
	return 0;
}

/* In the child, still root: become the restorer. */
void
migrate_exec(int child[2], uid_t uid, gid_t gid, const gid_t *groups,
    size_t ngroups)
{
	char	 f[16], a[16], u[16], g[16], gl[64 * 11 + 1];
	char	*argv[14];
	size_t	 i, off = 0;
	int	 n = 0;

	snprintf(f, sizeof(f), "%d", child[0]);
	snprintf(a, sizeof(a), "%d", child[1]);
	snprintf(u, sizeof(u), "%u", (unsigned)uid);
	snprintf(g, sizeof(g), "%u", (unsigned)gid);
	/* the restorer takes 64 groups; fewer is less privilege, not more */
	for (i = 0; i < ngroups && i < 64; i++)
		off += (size_t)snprintf(gl + off, sizeof(gl) - off, "%s%u",
		    i ? "," : "", (unsigned)groups[i]);
	fcntl(child[0], F_SETFD, 0);
	fcntl(child[1], F_SETFD, 0);
	argv[n++] = "bprestore";
	argv[n++] = "-f";
	argv[n++] = f;
	argv[n++] = "-a";
	argv[n++] = a;
	/* the cache's copy is another inode with its own mtime: size only */
	argv[n++] = "-C";
	argv[n++] = "1";
	argv[n++] = "-u";
	argv[n++] = u;
	argv[n++] = "-g";
	argv[n++] = g;
	if (off > 0) {
		argv[n++] = "-G";
		argv[n++] = gl;
	}
	argv[n] = NULL;
	execve(MIG_RESTORE, argv, (char *[]){ NULL });
}

/* After the clone, in nodeinit: the child's ends are the child's. */
void
migrate_started(int child[2])
{
	close(child[0]);
	close(child[1]);
}

static void
mig_result(pid_t gpid, int e, const char *msg)
{
	unsigned char	buf[256];
	struct wire_msg	m;

	wire_msg_init(&m, buf, sizeof(buf), MSG_IMAGE_RESULT, 0, 0);
	wire_put_u32(&m, A_PID, (uint32_t)gpid);
	wire_put_u32(&m, A_ERRNO, (uint32_t)e);
	if (msg != NULL)
		wire_put_str(&m, A_MSG, msg);
	link_send_msg(&m);
}

/* Write what is held; -1 when the restorer is gone. */
static int
mig_drain(struct mimage *mi)
{
	ssize_t	n;

	while (mi->qlen > 0) {
		if ((n = write(mi->wfd, mi->q, mi->qlen)) == -1)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		memmove(mi->q, mi->q + n, mi->qlen - (size_t)n);
		mi->qlen -= (size_t)n;
		mi->since = now_ms();
	}
	if (mi->eof && mi->wfd >= 0) {
		close(mi->wfd);
		mi->wfd = -1;
	}
	return 0;
}

static void
mig_fail(struct mimage *mi, int e, const char *msg)
{
	log_warnx("process %d: %s", (int)mi->gpid, msg);
	mig_result(mi->gpid, e, msg);
	migrate_forget(mi->gpid);
}

/* MSG_IMAGE: into the pipe, what it does not take held for later. */
static void
mig_feed(struct wire_attr *tb, const unsigned char *body, size_t blen)
{
	struct mimage		*mi = *mig_find((pid_t)wire_get_u32(&tb[A_PID]));
	struct wire_iter	 it;
	struct wire_attr	 a;
	unsigned char		*nq;

	if (mi == NULL || mi->wfd < 0)
		return;		/* ended meanwhile */
	if (mi->qlen == 0)
		mi->since = now_ms();
	wire_iter_init(&it, body, blen);
	while (wire_iter_next(&it, &a) == 1) {
		const unsigned char	*p = a.data;
		size_t			 len = a.len;
		ssize_t			 n;

		if (a.type != A_DATA || len == 0)
			continue;
		/* straight from the frame while the pipe has room: no copy */
		while (mi->qlen == 0 && len > 0 &&
		    (n = write(mi->wfd, p, len)) > 0) {
			p += n;
			len -= (size_t)n;
			mi->since = now_ms();
		}
		if (len == 0)
			continue;
		if ((nq = realloc(mi->q, mi->qlen + len)) == NULL) {
			mig_fail(mi, ENOMEM, "node: out of memory for the image");
			return;
		}
		mi->q = nq;
		memcpy(mi->q + mi->qlen, p, len);
		mi->qlen += len;
	}
	if (tb[A_EOF].data)
		mi->eof = 1;
	if (mig_drain(mi) == -1)
		mig_fail(mi, ENOEXEC, "the node's restorer refused the image");
}

/* Is image data held?  The master link is not read meanwhile. */
int
migrate_holding(void)
{
	struct mimage	*mi;

	for (mi = images; mi != NULL; mi = mi->next)
		if (mi->qlen > 0)
			return 1;
	return 0;
}

static void	mig_accept(void);
static int	mig_local_frames(struct mlocal *);
static void	mig_local_free(struct mlocal *);

/*
 * The listener, one slot per mover (not read while the link is backed
 * up), two per image: the pipe while data is held, the restorer's word.
 */
int
migrate_poll_setup(struct pollfd *pfd, int max)
{
	struct mimage	*mi, *next;
	struct mlocal	*ml;
	int		 n = 0;

	if (max < 1 + MIG_LOCAL_MAX)
		return 0;
	pfd[n].fd = mig_lfd;
	pfd[n].events = POLLIN;
	pfd[n++].revents = 0;
	for (ml = locals; ml != NULL; ml = ml->next) {
		pfd[n].fd = ml->c.fd;
		pfd[n].events = (link_pending() < MIG_LOCAL_HIGH ? POLLIN : 0) |
		    (conn_pending(&ml->c) ? POLLOUT : 0);
		pfd[n++].revents = 0;
	}
	while (n < 1 + MIG_LOCAL_MAX) {
		pfd[n].fd = -1;
		pfd[n++].revents = 0;
	}

	for (mi = images; mi != NULL && n + 2 <= max; mi = next) {
		next = mi->next;
		if (mi->qlen > 0 && now_ms() - mi->since > MIG_STALL_MS) {
			mig_fail(mi, EIO, "the node's restorer stopped reading "
			    "the image");
			continue;
		}
		pfd[n].fd = mi->qlen > 0 ? mi->wfd : -1;
		pfd[n].events = POLLOUT;
		pfd[n++].revents = 0;
		pfd[n].fd = mi->afd;
		pfd[n].events = POLLIN;
		pfd[n++].revents = 0;
	}
	return n;
}

void
migrate_poll_event(struct pollfd *pfd, int n)
{
	struct mimage	*mi, *next;
	struct mlocal	*ml, *mnext;
	int		 i = 0, k;
	char		 c = 0;

	if (n < 1 + MIG_LOCAL_MAX)
		return;
	if (pfd[0].fd >= 0 && pfd[0].revents)
		mig_accept();
	/* slots of movers that went meanwhile no longer match: skipped */
	for (k = 1; k <= MIG_LOCAL_MAX; k++) {
		if (pfd[k].fd < 0 || !pfd[k].revents)
			continue;
		for (ml = locals; ml != NULL; ml = mnext) {
			mnext = ml->next;
			if (ml->c.fd != pfd[k].fd)
				continue;
			if (((pfd[k].revents & POLLOUT) &&
			    conn_flush(&ml->c) == -1) ||
			    ((pfd[k].revents & (POLLIN | POLLHUP | POLLERR)) &&
			    (conn_read(&ml->c) == -1 ||
			    mig_local_frames(ml) == -1)))
				mig_local_free(ml);
			break;
		}
	}
	i = 1 + MIG_LOCAL_MAX;

	for (mi = images; mi != NULL && i + 2 <= n; mi = next, i += 2) {
		next = mi->next;
		if (pfd[i].fd >= 0 && pfd[i].fd == mi->wfd && pfd[i].revents &&
		    mig_drain(mi) == -1) {
			mig_fail(mi, ENOEXEC, "the node's restorer refused the "
			    "image");
			continue;
		}
		if (pfd[i + 1].fd != mi->afd || !pfd[i + 1].revents)
			continue;
		if (read(mi->afd, &c, 1) == 1 && c == 'A') {
			mig_result(mi->gpid, 0, NULL);
			migrate_forget(mi->gpid);
		} else
			mig_fail(mi, ENOEXEC, "the node's restorer refused "
			    "the image");
	}
}

/* The abstract socket (the node's network namespace is the node's own). */
void
migrate_init(void)
{
	struct sockaddr_un	sun;
	socklen_t		len;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path + 1, MIG_SOCK, sizeof(MIG_SOCK) - 1);
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
	    sizeof(MIG_SOCK) - 1);
	if ((mig_lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1 ||
	    bind(mig_lfd, (struct sockaddr *)&sun, len) == -1 ||
	    listen(mig_lfd, MIG_LOCAL_MAX) == -1) {
		log_warn("migration socket (bproc_move home will fail)");
		if (mig_lfd >= 0)
			close(mig_lfd);
		mig_lfd = -1;
	}
}

static void
mig_local_free(struct mlocal *ml)
{
	struct mlocal	**pp;

	for (pp = &locals; *pp != NULL; pp = &(*pp)->next)
		if (*pp == ml) {
			*pp = ml->next;
			break;
		}
	close(ml->c.fd);
	conn_free(&ml->c);
	free(ml);
	nlocals--;
}

static void
mig_accept(void)
{
	struct mlocal	*ml;
	struct ucred	 uc;
	socklen_t	 ul = sizeof(uc);
	pid_t		 gpid;
	int		 fd;

	if ((fd = accept4(mig_lfd, NULL, NULL, SOCK_NONBLOCK |
	    SOCK_CLOEXEC)) == -1)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &ul) == -1 ||
	    (gpid = track_gpid(uc.pid)) <= 0 || nlocals >= MIG_LOCAL_MAX ||
	    (ml = calloc(1, sizeof(*ml))) == NULL) {
		close(fd);
		return;
	}
	conn_init(&ml->c, fd, "mover", IO_CHUNK + 1024, 1u << 20);
	ml->gpid = gpid;
	ml->next = locals;
	locals = ml;
	nlocals++;
}

/* Up: MOVE and the image, as the ghost's process, nothing else. */
static int
mig_local_frames(struct mlocal *ml)
{
	static unsigned char	 buf[IO_CHUNK + 1024];
	struct wire_hdr		 h;
	struct wire_iter	 it;
	struct wire_attr	 a;
	struct wire_msg		 m;
	const unsigned char	*body;
	const char		*why;
	size_t			 blen;
	int			 r;

	while ((r = conn_frame(&ml->c, &h, &body, &blen, &why)) == 1) {
		if (h.type != MSG_MOVE && h.type != MSG_IMAGE)
			return -1;
		if (h.type == MSG_MOVE)
			proc_drain(ml->gpid);
		wire_msg_init(&m, buf, sizeof(buf), h.type, 0, 0);
		wire_put_u32(&m, A_PID, (uint32_t)ml->gpid);
		wire_iter_init(&it, body, blen);
		while (wire_iter_next(&it, &a) == 1)
			if (a.type != A_PID && proto_attr_ok(&a))
				wire_put(&m, a.type, a.data, a.len);
		if (m.overflow || link_send_msg(&m) == -1)
			return -1;
	}
	return r;
}

/* Down: the ghost's window and verdict, to the mover. */
static void
mig_to_local(const struct proto_frame *f)
{
	pid_t			 gpid = (pid_t)wire_get_u32(&f->tb[A_PID]);
	unsigned char		 buf[512];
	struct wire_iter	 it;
	struct wire_attr	 a;
	struct wire_msg		 m;
	struct mlocal		*ml;
	size_t			 len;

	for (ml = locals; ml != NULL; ml = ml->next)
		if (ml->gpid == gpid)
			break;
	if (ml == NULL)
		return;
	wire_msg_init(&m, buf, sizeof(buf), f->h->type, 0, 0);
	wire_iter_init(&it, f->body, f->len);
	while (wire_iter_next(&it, &a) == 1)
		wire_put(&m, a.type, a.data, a.len);
	if ((len = wire_msg_finish(&m)) == 0 ||
	    conn_send(&ml->c, buf, len) == -1 || conn_flush(&ml->c) == -1)
		mig_local_free(ml);
}

/*
 * The process ended: if its restorer's word is still unread, report it
 * now, before the exit (the main loop may see the exit first).
 */
void
migrate_settle(pid_t gpid)
{
	struct mimage	*mi = *mig_find(gpid);
	char		 c = 0;

	if (mi == NULL)
		return;
	if (read(mi->afd, &c, 1) == 1 && c == 'A')
		mig_result(gpid, 0, NULL);
	else
		mig_result(gpid, ENOEXEC, "the node's restorer refused the "
		    "image");
	migrate_forget(gpid);
}

/* From the master: an image for our restorer, or a mover's answers. */
void
migrate_image(const struct proto_frame *f)
{
	if (f->h->type == MSG_IMAGE)
		mig_feed(f->tb, f->body, f->len);
	else
		mig_to_local(f);
}
