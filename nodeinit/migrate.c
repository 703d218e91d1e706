/*
 * Migration on the node (docs/design-notes.md, "Migration").
 *
 * In: an EXEC with EXEC_F_IMAGE starts bprestore (in the initramfs)
 * instead of a program, with the ghost's PID and the process's stdio
 * like any process here, tracked like any (track*.c).  Its real ids are
 * the caller's, its effective ones root's: it does the privileged steps,
 * then drops to the real ids before the image runs an instruction
 * (`-N fd`: `-f fd -a fd -C 1 -R`, see bprestore.c).
 * The image comes in MSG_IMAGE frames and goes straight into a socket
 * the restorer reads (no file); on the same socket it answers "A" once it
 * has taken the image, which we report (a second EXEC_RESULT).  Nothing here
 * waits: what the socket does not take is held, and the master link is
 * not read meanwhile (TCP then slows the sender), so the main loop goes
 * on serving the restorer's ptrace stops, which are ours to resume.  An
 * image held MIG_STALL_MS is ended (the restorer then refuses it).
 *
 * Home: a process of ours that calls bproc_move(BPROC_NODE_MASTER)
 * connects to the abstract socket MIG_SOCK; its MSG_MOVE and image go up
 * named by its ghost's PID (who it is comes from the kernel, SO_PEERCRED
 * and track.c, never from what it says), the ghost's answers come down.
 * One mover at a time; others wait in the listen backlog.
 *
 * Stand-ins (an rfork from this node): a mover whose image went home
 * says MSG_STANDIN and stays, the caller's child here, while the process
 * goes on elsewhere.  Its connection leaves the mover's slot for a table
 * of stand-ins: what it says (MSG_STANDIN only: a signal for the child)
 * goes up named by its ghost PID, the master's word of the child (runs,
 * failed, ended) comes down to it.
 */
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "list.h"
#include "log.h"
#include "nodeinit_int.h"

#define MIG_RESTORE	"/sbin/bprestore"	/* in the initramfs */
#define MIG_SOCK_BUF	(1 << 20)	/* bytes the image socket holds */
#define MIG_STALL_MS	5000	/* image held this long, untaken: it ends */
#define MIG_SOCK	"bproc-node"	/* abstract socket processes move through */
#define MIG_LOCAL_HIGH	(1u << 20)	/* link backlog: the mover is not read */
#define MIG_REFUSED	"the node's restorer refused the image"
#define MIG_STANDINS	64	/* stand-ins (rfork from here) at once */

struct mimage {
	pid_t		 gpid;
	int		 fd;		/* ours of the restorer's socket */
	int		 eof;		/* the last frame came */
	unsigned char	*q;		/* what the socket did not take yet */
	size_t		 qlen;
	uint64_t	 since;		/* when it last took something */
	DLIST_LINK(mimage) link;
};

static DLIST_HEAD(, mimage) images = { NULL };
static int		 mig_lfd = -1;	/* the movers' listener */
static struct conn	 mover;		/* the one mover, fd -1 when none */
static pid_t		 mover_gpid;
static struct conn	 standin[MIG_STANDINS];
static pid_t		 standin_gpid[MIG_STANDINS];	/* 0: a free slot */
static int		 nstandin;	/* slots up to the last one used */
static int		 standin_polled;	/* of them in the poll table */

static int	mig_standin_frames(int);

static struct mimage *
mig_find(pid_t gpid)
{
	struct mimage	*mi;

	DLIST_FOREACH(mi, &images, link)
		if (mi->gpid == gpid)
			break;
	return mi;
}

void
migrate_forget(pid_t gpid)
{
	struct mimage	*mi = mig_find(gpid);

	if (mi == NULL)
		return;
	DLIST_REMOVE(mi, link);
	close(mi->fd);
	free(mi->q);
	free(mi);
}

/* Before the clone: the socket; *child is the restorer's end. */
int
migrate_prepare(pid_t gpid, int *child)
{
	struct mimage	*mi;
	int		 sp[2], sz = MIG_SOCK_BUF;

	if ((mi = calloc(1, sizeof(*mi))) == NULL)
		return -1;
	/* raw calls here and below: musl's wrappers carry fallbacks we do not need */
	if (syscall(SYS_socketpair, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
	    sp) == -1) {
		free(mi);
		return -1;
	}
	(void)setsockopt(sp[0], SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz));
	fcntl(sp[0], F_SETFL, O_NONBLOCK);
	mi->gpid = gpid;
	mi->fd = sp[0];
	DLIST_INSERT_HEAD(&images, mi, link);
	*child = sp[1];
	return 0;
}

/* In the child, its ids set (spawn.c): become the restorer. */
void
migrate_exec(int child)
{
	char	 f[16];
	char	*argv[] = { "bprestore", "-N", f, NULL };

	snprintf(f, sizeof(f), "%d", child);
	fcntl(child, F_SETFD, 0);
	execve(MIG_RESTORE, argv, (char *[]){ NULL });
}

static void
mig_fail(struct mimage *mi, int e, const char *msg)
{
	proc_result(mi->gpid, 0, e, msg);
	migrate_forget(mi->gpid);
}

/* Write what is held; -1 when the restorer is gone. */
static int
mig_drain(struct mimage *mi)
{
	ssize_t	n;

	while (mi->qlen > 0) {
		if ((n = send(mi->fd, mi->q, mi->qlen, MSG_NOSIGNAL)) == -1)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		memmove(mi->q, mi->q + n, mi->qlen - (size_t)n);
		mi->qlen -= (size_t)n;
		mi->since = now_ms();
	}
	return 0;
}

/* MSG_IMAGE: into the socket, what it does not take held for later. */
static void
mig_feed(struct wire_attr *tb, const unsigned char *body, size_t blen)
{
	struct mimage		*mi = mig_find((pid_t)wire_get_u32(&tb[A_PID]));
	struct wire_iter	 it;
	struct wire_attr	 a;
	unsigned char		*nq;

	if (mi == NULL || mi->eof)
		return;		/* ended meanwhile */
	if (mi->qlen == 0)
		mi->since = now_ms();
	wire_iter_init(&it, body, blen);
	while (wire_iter_next(&it, &a) == 1) {
		if (a.type != A_DATA || a.len == 0)
			continue;
		if ((nq = realloc(mi->q, mi->qlen + a.len)) == NULL) {
			mig_fail(mi, ENOMEM, "node: out of memory");
			return;
		}
		mi->q = nq;
		memcpy(mi->q + mi->qlen, a.data, a.len);
		mi->qlen += a.len;
	}
	mi->eof = tb[A_EOF].data != NULL;
	if (mig_drain(mi) == -1)
		mig_fail(mi, ENOEXEC, MIG_REFUSED);
}

/* Is image data held?  The master link is not read meanwhile. */
int
migrate_holding(void)
{
	struct mimage	*mi;

	DLIST_FOREACH(mi, &images, link)
		if (mi->qlen > 0)
			return 1;
	return 0;
}

/* The abstract socket (the node's network namespace is the node's own). */
void
migrate_init(void)
{
	struct sockaddr_un	sun = { .sun_family = AF_UNIX };

	mover.fd = -1;
	memcpy(sun.sun_path + 1, MIG_SOCK, sizeof(MIG_SOCK) - 1);
	if ((mig_lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1 || bind(mig_lfd, (struct sockaddr *)&sun,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
	    sizeof(MIG_SOCK))) == -1 || listen(mig_lfd, 16) == -1)
		log_warn("%s", MIG_SOCK);
}

static void
mig_mover_end(void)
{
	close(mover.fd);
	conn_free(&mover);
	mover.fd = -1;
}

static void
mig_accept(void)
{
	struct ucred	uc;
	socklen_t	ul = sizeof(uc);
	int		fd;

	if ((fd = (int)syscall(SYS_accept4, mig_lfd, NULL, NULL, SOCK_NONBLOCK |
	    SOCK_CLOEXEC)) == -1)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &ul) == -1 ||
	    (mover_gpid = track_gpid(uc.pid)) <= 0) {
		close(fd);
		return;
	}
	conn_init(&mover, fd, "mover", IO_CHUNK + 256, 16384);
}

static void
mig_standin_end(int i)
{
	conn_free(&standin[i]);
	memset(&standin[i], 0, sizeof(standin[i]));
	standin_gpid[i] = 0;
	while (nstandin > 0 && standin_gpid[nstandin - 1] == 0)
		nstandin--;
}

/* The mover stays as a stand-in: its connection moves to a slot. */
static int
mig_standin_take(void)
{
	int	i;

	for (i = 0; i < MIG_STANDINS && standin_gpid[i] != 0; i++)
		;
	if (i == MIG_STANDINS)
		return -1;	/* it hears EOF: its rfork fails */
	standin[i] = mover;
	standin_gpid[i] = mover_gpid;
	memset(&mover, 0, sizeof(mover));
	mover.fd = -1;
	if (i >= nstandin)
		nstandin = i + 1;
	/* frames it sent behind that one are read now */
	if (mig_standin_frames(i) == -1)
		mig_standin_end(i);
	return 0;
}

/* Up from a stand-in: MSG_STANDIN only, named by its ghost PID. */
/*
 * A frame from a process of ours goes up named as its ghost: its A_PID,
 * which the caller checked comes first, is overwritten in place with g.
 */
static int
mig_send_as(const struct wire_hdr *h, const unsigned char *body, pid_t g)
{
	unsigned char	*f = (unsigned char *)body - WIRE_HDR_LEN;
	unsigned char	*v = f + WIRE_HDR_LEN + WIRE_ATTR_HDR;
	struct wire_msg	 m;

	v[0] = (unsigned char)(g >> 24);
	v[1] = (unsigned char)(g >> 16);
	v[2] = (unsigned char)(g >> 8);
	v[3] = (unsigned char)g;
	m.buf = f;
	m.len = m.cap = h->len;
	m.overflow = 0;
	return link_send_msg(&m);
}

static int
mig_standin_frames(int i)
{
	struct wire_attr	 tb[A_MAX];
	struct wire_hdr		 h;
	const unsigned char	*body;
	const char		*why;
	size_t			 blen;
	pid_t			 g = standin_gpid[i];
	int			 r;

	while ((r = conn_frame(&standin[i], &h, &body, &blen, &why)) == 1) {
		if (h.type != MSG_STANDIN ||
		    proto_parse(&h, body, blen, tb, &why) == -1 ||
		    tb[A_PID].data != body + WIRE_ATTR_HDR ||
		    mig_send_as(&h, body, g) == -1)
			return -1;
	}
	return r;
}

/* Slots the stand-ins need in the main loop's poll table. */
int
migrate_poll_count(void)
{
	return 1 + nstandin;
}

/*
 * Up: MOVE and the image, checked like any frame and named as the
 * ghost's process (its A_PID, which must come first, overwritten).
 */
static int
mig_mover_frames(void)
{
	struct wire_attr	 tb[A_MAX];
	struct wire_hdr		 h;
	const unsigned char	*body;
	const char		*why;
	size_t			 blen;
	int			 r;

	while ((r = conn_frame(&mover, &h, &body, &blen, &why)) == 1) {
		if ((h.type != MSG_MOVE && h.type != MSG_IMAGE &&
		    h.type != MSG_STANDIN) ||
		    proto_parse(&h, body, blen, tb, &why) == -1 ||
		    tb[A_PID].data != body + WIRE_ATTR_HDR ||
		    mig_send_as(&h, body, mover_gpid) == -1)
			return -1;
		if (h.type == MSG_STANDIN)
			return mig_standin_take();
	}
	return r;
}

/* From the master: an image for our restorer, or the mover's answers. */
void
migrate_image(const struct proto_frame *f)
{
	struct wire_msg	m;
	int		i;

	if (f->h->type == MSG_IMAGE) {
		mig_feed(f->tb, f->body, f->len);
		return;
	}
	m.buf = (unsigned char *)f->body - WIRE_HDR_LEN;
	m.len = m.cap = f->h->len;
	m.overflow = 0;
	if (f->h->type == MSG_STANDIN) {
		for (i = 0; i < nstandin; i++)
			if (standin_gpid[i] != 0 && standin_gpid[i] ==
			    (pid_t)wire_get_u32(&f->tb[A_PID])) {
				if (conn_send(&standin[i], m.buf, m.len) == -1 ||
				    conn_flush(&standin[i]) == -1)
					mig_standin_end(i);
				return;
			}
		/* not in place yet (the master's word came first): the mover's */
	}
	if (mover.fd < 0 || wire_get_u32(&f->tb[A_PID]) != (uint32_t)mover_gpid)
		return;
	if (conn_send(&mover, m.buf, wire_msg_finish(&m)) == -1 ||
	    conn_flush(&mover) == -1)
		mig_mover_end();
}

/*
 * Slots: the listener, or the mover while there is one (not read while
 * the link is backed up); one per image, its socket: room while data is
 * held, the restorer's word.
 */
int
migrate_poll_setup(struct pollfd *pfd, int max)
{
	struct mimage	*mi, *next;
	int		 n = 1, i;

	(void)max;	/* the main loop's table has room for us (nodeinit.c) */
	pfd[0].fd = mover.fd >= 0 ? mover.fd : mig_lfd;
	/* (the mover's answers are small: they never wait for room) */
	pfd[0].events = mover.fd < 0 || link_pending() < MIG_LOCAL_HIGH ?
	    POLLIN : 0;
	pfd[0].revents = 0;
	for (i = 0; i < nstandin; i++) {
		pfd[n].fd = standin_gpid[i] != 0 ? standin[i].fd : -1;
		pfd[n].events = POLLIN;
		pfd[n++].revents = 0;
	}
	standin_polled = nstandin;
	DLIST_FOREACH_SAFE(mi, &images, link, next) {
		if (mi->qlen > 0 && now_ms() - mi->since > MIG_STALL_MS) {
			mig_fail(mi, EIO, MIG_REFUSED);
			continue;
		}
		pfd[n].fd = mi->fd;
		pfd[n].events = POLLIN | (mi->qlen > 0 ? POLLOUT : 0);
		pfd[n++].revents = 0;
	}
	return n;
}

void
migrate_poll_event(struct pollfd *pfd, int n)
{
	struct mimage	*mi, *next;
	int		 i = 1, k;
	char		 c = 0;

	if (n < 1)
		return;
	/* the stand-ins first, as set up (one that ends frees its slot only) */
	for (k = 0; k < standin_polled && i < n; k++, i++)
		if (pfd[i].revents && standin_gpid[k] != 0 &&
		    pfd[i].fd == standin[k].fd &&
		    (conn_read(&standin[k]) == -1 ||
		    mig_standin_frames(k) == -1))
			mig_standin_end(k);
	if (pfd[0].revents && pfd[0].fd == mig_lfd && mover.fd < 0)
		mig_accept();
	else if (pfd[0].revents && pfd[0].fd == mover.fd &&
	    (conn_read(&mover) == -1 || mig_mover_frames() == -1))
		mig_mover_end();
	/* slots whose image went meanwhile no longer match: skipped */
	for (mi = DLIST_FIRST(&images); mi != NULL && i < n; mi = next, i++) {
		next = DLIST_NEXT(mi, link);
		if (pfd[i].fd != mi->fd || !pfd[i].revents)
			continue;
		if (pfd[i].revents & POLLIN) {
			if (read(mi->fd, &c, 1) == 1 && c == 'A') {
				proc_result(mi->gpid, 0, 0, NULL);
				migrate_forget(mi->gpid);
			} else
				mig_fail(mi, ENOEXEC, MIG_REFUSED);
		} else if (mig_drain(mi) == -1)
			mig_fail(mi, ENOEXEC, MIG_REFUSED);
	}
}
