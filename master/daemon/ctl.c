/*
 * The control socket that tools talk to.  Callers are identified by
 * SO_PEERCRED at accept time, never by anything in a message.
 *
 * This file is a connection's life: sending, reading, throttling, the one
 * way it ends; the socket is ctl_accept.c, what each phase of a
 * connection takes ctl_routes.c's table (ctl_routes).
 *
 * A connection is closed only here, after the handler that found it bad
 * returned (ctl_reap, run by the event loop after every handler): a failed
 * send or a bad frame marks it dead, so no caller is left holding a freed
 * connection, and frames of ghosts a drained node link releases are read
 * from the same place, never from inside the node code (ctl_resume).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctlconn.h"
#include "log.h"

struct ctlconns		 ctls;
const struct ctl_hooks	*ctl_proc_hooks;
const struct proto_role	*ctl_table;
int			 nctls;
uint64_t		 ctl_started;
static int		 nthrottled;
static int		 ndead;		/* marked dead or resumed: ctl_reap's work */

static void	ctl_frames(struct ctlconn *);

/* Is the connection bpghost's yet (not the tool or library before it)? */
int
ctl_is_ghost(const struct ctlconn *cc)
{
	return cc->kind == CTL_GHOST;
}

/*
 * The one way a connection ends: marked here, closed by ctl_reap once the
 * running handler returned.  The socket is shut down at once, so the peer
 * sees the end and nothing more is read from it.
 */
void
ctl_kill(struct ctlconn *cc, const char *why)
{
	if (cc->dead)
		return;
	cc->dead = 1;
	cc->why = why;
	ndead++;
	shutdown(cc->c.fd, SHUT_RDWR);
}

void
ctl_close(struct ctlconn *cc)
{
	if (cc->why != NULL)
		log_warnx_rl("control: uid %u pid %d: %s; closing",
		    (unsigned)cc->cred.uid, (int)cc->cred.pid, cc->why);
	DLIST_REMOVE(cc, all);
	if (cc->throttled)
		nthrottled--;
	if (cc->proc != NULL)
		ctl_proc_hooks->ghost_gone(cc->proc);
	if (cc->pidfd != -1) {
		close(cc->pidfd);
		cc->user->fds--;
		nctl_fds--;
	}
	if (ctl_proc_hooks->conn_gone != NULL)
		ctl_proc_hooks->conn_gone(cc);
	ev_timer_del(&cc->idle);
	ev_del(cc->c.fd);
	conn_free(&cc->c);
	cc->user->n[cc->kind]--;
	cc->user->fds--;
	ctl_user_put(cc->user);
	free(cc);
	nctls--;
	nctl_fds--;
}

/*
 * After every handler (ev_after): read the ghosts a drained node link
 * released, then close what was marked dead.  Reading may mark more, so
 * until nothing is left.
 */
void
ctl_reap(void)
{
	struct ctlconn	*cc, *next;

	while (ndead > 0) {
		ndead = 0;
		DLIST_FOREACH(cc, &ctls, all)
			if (cc->resume && !cc->dead) {
				cc->resume = 0;
				ctl_frames(cc);
			}
		DLIST_FOREACH_SAFE(cc, &ctls, all, next)
			if (cc->dead)
				ctl_close(cc);
	}
}

/* Large buffers go back once their frames are handled (mem.c). */
static void
ctl_trim(struct ctlconn *cc)
{
	size_t	before = cc->c.incap + cc->c.outcap + cc->c.plaincap;

	conn_shrink(&cc->c);
	if (before > 3 * CONN_IN_INIT)
		mem_release(before - (cc->c.incap + cc->c.outcap +
		    cc->c.plaincap));
}

/*
 * Queue a frame.  A failure does not close here, where callers may be in
 * the middle of walking tables: the connection is marked dead.
 */
int
ctl_send(struct ctlconn *cc, struct wire_msg *m)
{
	size_t	len = wire_msg_finish(m);

	if (cc->dead)
		return -1;
	if (len == 0 || conn_send(&cc->c, m->buf, len) == -1) {
		ctl_kill(cc, "output queue full");
		return -1;
	}
	return 0;
}

/*
 * A tool that asks and does not read gets no more answers queued: its
 * requests wait in the socket until it took MASTER_CTL_OUT_HIGH.  (Ghosts
 * and watchers are bounded otherwise: flow control, a dropped watcher.)
 */
static int
ctl_backlogged(struct ctlconn *cc)
{
	return cc->kind == CTL_TOOL && conn_pending(&cc->c) > MASTER_CTL_OUT_HIGH;
}

/* Read interest unless throttled; write interest while output is queued. */
static void
ctl_interest(struct ctlconn *cc)
{
	uint32_t	ev = cc->throttled || ctl_backlogged(cc) ? 0 : EPOLLIN;

	if (conn_pending(&cc->c))
		ev |= EPOLLOUT;
	ev_mod(cc->c.fd, ev);
}

/*
 * Back-pressure for what ghosts relay to a node (blobs above all): a ghost
 * is not read while its node's link has more than MASTER_LINK_HIGH bytes
 * queued, and node.c resumes it once the link drains (ctl_resume).  The
 * check comes before each frame, so the queue ends at most one frame past
 * the mark whatever the number of ghosts pushing, and a tool that ignores
 * the blob window only waits.
 */
static int
ctl_throttle(struct ctlconn *cc)
{
	if (cc->throttled)
		return 1;
	if (cc->proc == NULL || node_queued(cc->proc->node) <= MASTER_LINK_HIGH)
		return 0;
	log_debug("ghost %d: node %d has %zu bytes queued; not read until "
	    "it drains", (int)cc->proc->pid, cc->proc->node,
	    node_queued(cc->proc->node));
	cc->throttled = 1;
	nthrottled++;
	ctl_interest(cc);
	return 1;
}

/*
 * A would-be ghost whose process started has MASTER_GHOST_WAIT_MS to exec
 * bpghost and say MSG_GHOST; a client that never does is not a ghost.
 */
static void
ctl_ghost_late(void *arg)
{
	struct ctlconn	*cc = arg;

	if (cc->kind == CTL_EXEC)
		ctl_kill(cc, "sent EXEC but never became the ghost (bpghost)");
}

int
ctl_send_msg(struct ctlconn *cc, struct wire_msg *m)
{
	if (ctl_send(cc, m) == -1)
		return -1;
	/* the process runs: the ghost's clock starts */
	if (cc->kind == CTL_EXEC && m->len >= WIRE_HDR_LEN &&
	    ((m->buf[4] << 8) | m->buf[5]) == MSG_EXEC_RESULT)
		ev_timer_set(&cc->idle, MASTER_GHOST_WAIT_MS, ctl_ghost_late,
		    cc);
	if (conn_flush(&cc->c) == -1) {
		ctl_kill(cc, NULL);
		return -1;
	}
	if (conn_pending(&cc->c))
		ctl_interest(cc);
	return 0;
}

void
ctl_set_proc(struct ctlconn *cc, struct proc *p)
{
	cc->proc = p;
	if (p != NULL) {
		cc->pushed = 1;
		if (cc->kind == CTL_TOOL) {
			p->pidfd = -1;	/* none until it is the ghost */
			/* blobs come next: frames up to a blob's */
			ctl_set_kind(cc, CTL_EXEC);
			ev_timer_del(&cc->idle);
		}
	}
}

struct proc *
ctl_get_proc(struct ctlconn *cc)
{
	return cc->proc;
}

/*
 * The caller's supplementary groups as the kernel recorded them when it
 * connected (SO_PEERGROUPS, Linux 4.13), like its uid and gid: nothing a
 * message says, and no /proc lookup that could race with the PID.  -1
 * with errno ERANGE when there are more than max, ENOPROTOOPT on a kernel
 * without it.
 */
int
ctl_peer_groups(struct ctlconn *cc, gid_t *groups, int max)
{
	socklen_t	len = (socklen_t)((size_t)max * sizeof(*groups));

	if (getsockopt(cc->c.fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == -1)
		return -1;
	return (int)(len / sizeof(*groups));
}

int
ctl_flush(struct ctlconn *cc)
{
	if (conn_flush(&cc->c) == -1) {
		ctl_kill(cc, NULL);
		return -1;
	}
	ctl_interest(cc);
	return 0;
}

static unsigned int
ctl_phase(const struct ctlconn *cc)
{
	if (cc->proc != NULL)
		return CTL_PH_PROC;
	if (cc->pushed)
		return CTL_PH_ENDED;
	return cc->kind == CTL_WATCHER ? CTL_PH_WATCHER : CTL_PH_TOOL;
}

static int
ctl_dispatch(struct ctlconn *cc, const struct wire_hdr *h,
    const unsigned char *body, size_t blen)
{
	char	why[PROTO_WHY_MAX];

	if (proto_dispatch(ctl_table, ctl_phase(cc), cc, h, body, blen,
	    why) == 0)
		return 0;
	if (why[0] != '\0') {
		log_warnx_rl("control: uid %u pid %d: %s; closing",
		    (unsigned)cc->cred.uid, (int)cc->cred.pid, why);
		ctl_kill(cc, NULL);
	}
	return -1;
}

void
ctl_event(int fd, uint32_t events, void *arg)
{
	struct ctlconn		*cc = arg;

	(void)fd;
	if (cc->dead)
		return;
	if ((events & EPOLLOUT) && ctl_flush(cc) == -1)
		return;
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	if (cc->throttled || ctl_backlogged(cc)) {
		/* a hangup is reported anyway: the ghost is gone, so is its push */
		if (events & (EPOLLHUP | EPOLLERR))
			ctl_kill(cc, NULL);
		return;
	}
	if (conn_read(&cc->c) == -1) {
		ctl_kill(cc, NULL);
		return;
	}
	ctl_frames(cc);
}

/* Dispatch the frames read so far, unless the ghost's node link is full. */
static void
ctl_frames(struct ctlconn *cc)
{
	struct wire_hdr		 h;
	const unsigned char	*body;
	const char		*why;
	size_t			 blen;
	int			 r = 0;

	while (!cc->dead && !ctl_throttle(cc) && !ctl_backlogged(cc) &&
	    (r = conn_frame(&cc->c, &h, &body, &blen, &why)) == 1) {
		if (cc->kind == CTL_TOOL)
			ev_timer_set(&cc->idle, MASTER_CTL_IDLE_MS, ctl_idle, cc);
		if (ctl_dispatch(cc, &h, body, blen) == -1)
			return;
	}
	if (cc->dead)
		return;
	if (r == -1) {
		log_warnx_rl("control: uid %u pid %d: %s; closing",
		    (unsigned)cc->cred.uid, (int)cc->cred.pid, why);
		ctl_kill(cc, NULL);
		return;
	}
	ctl_trim(cc);
	ctl_flush(cc);
}

/*
 * The link of node num drained (or closed): read its ghosts again, first
 * what they had sent before they were stopped.  Called from node.c, in
 * the middle of its work on the link: the frames are read by ctl_reap,
 * after the running handler returned.
 */
void
ctl_resume(int num)
{
	struct ctlconn	*cc;

	if (nthrottled == 0)
		return;
	DLIST_FOREACH(cc, &ctls, all) {
		if (!cc->throttled ||
		    (cc->proc != NULL && cc->proc->node != num))
			continue;
		cc->throttled = 0;
		nthrottled--;
		cc->resume = 1;
		ndead++;
		if (!cc->dead)
			ctl_interest(cc);
	}
}

/*
 * Send a frame with a descriptor attached (SCM_RIGHTS).  The descriptor
 * rides on the frame's first byte, so it goes only when nothing is queued
 * before it: 0 sent (the caller closes its copy), 1 not now (try again
 * later), -1 the connection failed.
 */
int
ctl_send_fd(struct ctlconn *cc, struct wire_msg *m, int fd)
{
	union {
		struct cmsghdr	h;
		char		b[CMSG_SPACE(sizeof(int))];
	}		 cm;
	size_t		 len = wire_msg_finish(m);
	struct iovec	 iov = { m->buf, len };
	struct msghdr	 mh;
	struct cmsghdr	*c;
	ssize_t		 n;

	if (cc->dead || len == 0)
		return -1;
	if (conn_pending(&cc->c) && conn_flush(&cc->c) == -1)
		return -1;
	if (conn_pending(&cc->c))
		return 1;
	memset(&mh, 0, sizeof(mh));
	memset(&cm, 0, sizeof(cm));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.b;
	mh.msg_controllen = sizeof(cm.b);
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	n = sendmsg(cc->c.fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 1 : -1;
	/* the rest of the frame queues as any other output */
	if ((size_t)n < len) {
		if (conn_send(&cc->c, m->buf + n, len - (size_t)n) == -1)
			return -1;
		ctl_interest(cc);
	}
	return 0;
}

void
ctl_idle(void *arg)
{
	struct ctlconn	*cc = arg;

	if (cc->kind == CTL_TOOL)
		ctl_kill(cc, "idle");
}

/* A connection refused after its answer was sent: -1, as handlers say. */
int
ctl_refuse(struct ctlconn *cc)
{
	ctl_kill(cc, NULL);
	return -1;
}
