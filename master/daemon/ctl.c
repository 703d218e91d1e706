/*
 * The control socket that tools talk to.  Callers are identified by
 * SO_PEERCRED at accept time, never by anything in a message.  Replies to
 * a snapshot are N CTL_NODE records then CTL_END with the count.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "bpmaster.h"
#include "log.h"

struct ctlconn {
	struct conn	 c;
	struct ucred	 cred;
	int		 watching;
	int		 dead;		/* send failed: closed on the next event */
	struct proc	*proc;		/* set when this connection is a ghost */
	int		 throttled;	/* not read while its node's link is full */
	int		 pushed;	/* was a ghost: late blobs are dropped */
	struct ev_timer	 idle;		/* tools that go quiet are closed */
	struct ctlconn	*next;
};

static struct ctlconn	*ctls;
static int		 nctls;
static int		 nthrottled;
static int		 ctl_fd = -1;
static struct ev_timer	 notify_timer;
static uint32_t		 generation;

static void	ctl_idle(void *);
static void	ctl_frames(struct ctlconn *);

static void
ctl_close(struct ctlconn *cc, const char *why)
{
	struct ctlconn	**pp;

	if (why != NULL)
		log_warnx("control: uid %u pid %d: %s; closing",
		    (unsigned)cc->cred.uid, (int)cc->cred.pid, why);
	for (pp = &ctls; *pp != NULL; pp = &(*pp)->next)
		if (*pp == cc) {
			*pp = cc->next;
			break;
		}
	if (cc->throttled)
		nthrottled--;
	if (cc->proc != NULL)
		proc_ghost_gone(cc->proc);
	ev_timer_del(&cc->idle);
	ev_del(cc->c.fd);
	conn_free(&cc->c);
	free(cc);
	nctls--;
}

/*
 * Queue a frame.  A failure does not close here, where callers may be in
 * the middle of walking tables: it marks the connection and shuts the
 * socket down, and the next event on it closes it.
 */
static int
ctl_send(struct ctlconn *cc, struct wire_msg *m)
{
	size_t	len = wire_msg_finish(m);

	if (cc->dead)
		return -1;
	if (len == 0 || conn_send(&cc->c, m->buf, len) == -1) {
		log_warnx("control: uid %u pid %d: output queue full",
		    (unsigned)cc->cred.uid, (int)cc->cred.pid);
		cc->dead = 1;
		shutdown(cc->c.fd, SHUT_RDWR);
		return -1;
	}
	return 0;
}

/* Read interest unless throttled; write interest while output is queued. */
static void
ctl_interest(struct ctlconn *cc)
{
	uint32_t	ev = cc->throttled ? 0 : EPOLLIN;

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

int
ctl_send_msg(struct ctlconn *cc, struct wire_msg *m)
{
	if (ctl_send(cc, m) == -1)
		return -1;
	if (conn_flush(&cc->c) == -1) {
		cc->dead = 1;
		shutdown(cc->c.fd, SHUT_RDWR);
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
	if (p != NULL)
		cc->pushed = 1;
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

static int
ctl_flush(struct ctlconn *cc)
{
	if (conn_flush(&cc->c) == -1) {
		ctl_close(cc, NULL);
		return -1;
	}
	ctl_interest(cc);
	return 0;
}

static void
ctl_put_node(struct wire_msg *m, const struct node *n, uint64_t now)
{
	wire_put_u32(m, A_NODE, (uint32_t)n->num);
	wire_put_u8(m, A_STATE, (uint8_t)n->state);
	wire_put_u32(m, A_UID, n->uid);
	wire_put_u32(m, A_GID, n->gid);
	wire_put_u32(m, A_MODE, n->mode);
	if (n->addr[0])
		wire_put_str(m, A_ADDR, n->addr);
	if (n->has_mac)
		wire_put(m, A_MAC, n->mac, 6);
	if (n->last_seen)
		wire_put_u64(m, A_LAST_SEEN, now - n->last_seen);
	wire_put_u8(m, A_STAGE, (uint8_t)n->stage);
	if (n->state != NODE_DOWN) {
		wire_put_u32(m, A_LOAD1, n->load[0]);
		wire_put_u32(m, A_LOAD5, n->load[1]);
		wire_put_u32(m, A_LOAD15, n->load[2]);
		wire_put_u32(m, A_CPUS, n->cpus);
		wire_put_u64(m, A_MEM_TOTAL, n->mem_total);
		wire_put_u64(m, A_MEM_FREE, n->mem_free);
		wire_put_u64(m, A_UPTIME, n->uptime);
		wire_put_u32(m, A_NPROCS, n->nprocs);
	}
	wire_put_u64(m, A_CACHE_BYTES, n->cache_bytes);
	wire_put_u64(m, A_PUSH_BYTES, n->push_bytes);
}

static int
ctl_nodes(struct ctlconn *cc, const struct wire_hdr *h)
{
	unsigned char	buf[1024];
	struct wire_msg	m;
	uint64_t	now = ev_now();
	int		i;

	for (i = 0; i < numnodes; i++) {
		wire_msg_init(&m, buf, sizeof(buf), MSG_CTL_NODE, WIRE_F_REPLY,
		    h->seq);
		ctl_put_node(&m, &nodes[i], now);
		if (ctl_send(cc, &m) == -1)
			return -1;
	}
	wire_msg_init(&m, buf, sizeof(buf), MSG_CTL_END, WIRE_F_REPLY, h->seq);
	wire_put_u32(&m, A_COUNT, (uint32_t)numnodes);
	wire_put_u32(&m, A_ERRNO, 0);
	return ctl_send(cc, &m);
}

/* Permission rule for node attributes: root, or the node's owner. */
static int
ctl_set(struct ctlconn *cc, const struct wire_hdr *h, struct wire_attr *tb)
{
	unsigned char	 buf[512];
	struct wire_msg	 m;
	struct node	*n = NULL;
	const char	*why = NULL;
	uint32_t	 num = wire_get_u32(&tb[A_NODE]);
	uid_t		 uid = cc->cred.uid;
	int		 e = 0;

	if (num >= (uint32_t)numnodes) {
		e = ENODEV;
		why = "No such node";
		goto reply;
	}
	n = &nodes[num];
	if (tb[A_STATE].data) {
		e = node_set_state(n, wire_get_u8(&tb[A_STATE]), uid, &why);
	} else if (tb[A_HOW].data) {
		e = node_power(n, wire_get_u8(&tb[A_HOW]), uid, &why);
	} else if (tb[A_MODE].data) {
		uint32_t mode = wire_get_u32(&tb[A_MODE]);

		if (uid != 0 && uid != n->uid)
			e = EPERM;
		else if (mode > 07777)
			e = EINVAL;
		else {
			log_info("node %d: mode %04o -> %04o by uid %u", n->num,
			    n->mode, mode, (unsigned)uid);
			n->mode = mode;
		}
	} else if (tb[A_UID].data) {
		if (uid != 0)
			e = EPERM;
		else {
			n->uid = wire_get_u32(&tb[A_UID]);
			log_info("node %d: owner uid %u", n->num,
			    (unsigned)n->uid);
		}
	} else if (tb[A_GID].data) {
		if (uid != 0 && uid != n->uid)
			e = EPERM;
		else {
			n->gid = wire_get_u32(&tb[A_GID]);
			log_info("node %d: group gid %u", n->num,
			    (unsigned)n->gid);
		}
	} else {
		e = EINVAL;
		why = "nothing to set";
	}
	if (e == 0)
		ctl_notify();
reply:
	wire_msg_init(&m, buf, sizeof(buf), MSG_CTL_RESULT, WIRE_F_REPLY,
	    h->seq);
	wire_put_u32(&m, A_NODE, num);
	wire_put_u32(&m, A_ERRNO, (uint32_t)e);
	if (why != NULL)
		wire_put_str(&m, A_MSG, why);
	return ctl_send(cc, &m);
}

static int
ctl_dispatch(struct ctlconn *cc, struct wire_hdr *h, const unsigned char *body,
    size_t blen)
{
	struct wire_attr	 tb[A_MAX];
	const char		*why;
	char			 msg[128];

	if (proto_parse(h, body, blen, tb, &why) == -1) {
		snprintf(msg, sizeof(msg), "bad %s frame: %s",
		    msg_name(h->type), why);
		ctl_close(cc, msg);
		return -1;
	}
	/* a ghost speaks only of its own process */
	if (cc->proc != NULL) {
		switch (h->type) {
		case MSG_FORK_RESULT:
			tree_from_ghost(cc->proc, tb);
			return 0;
		case MSG_IO:
		case MSG_IO_ACK:
		case MSG_SIGNAL:
		case MSG_BLOB:
			if (proc_from_ghost(cc->proc, h, tb, body, blen) == -1) {
				snprintf(msg, sizeof(msg), "%s frame too large "
				    "to relay", msg_name(h->type));
				ctl_close(cc, msg);
				return -1;
			}
			return 0;
		}
	}
	/*
	 * The tool streams blobs without reading; when its process ended
	 * meanwhile (its node went down), what is still on the way is
	 * dropped, so the tool reads the reason instead of a closed socket.
	 */
	if (cc->proc == NULL && cc->pushed && h->type == MSG_BLOB)
		return 0;
	switch (h->type) {
	case MSG_EXEC:
		proc_exec(cc, &cc->cred, tb, body, blen);
		return 0;
	case MSG_CTL_PROCS:
		proc_list(cc, h->seq);
		return 0;
	case MSG_CTL_NODES:
		return ctl_nodes(cc, h);
	case MSG_CTL_SET:
		return ctl_set(cc, h, tb);
	case MSG_CTL_WATCH:
		cc->watching = 1;
		return 0;
	default:
		snprintf(msg, sizeof(msg), "unexpected %s frame",
		    msg_name(h->type));
		ctl_close(cc, msg);
		return -1;
	}
}

static void
ctl_event(int fd, uint32_t events, void *arg)
{
	struct ctlconn		*cc = arg;

	(void)fd;
	if (cc->dead) {
		ctl_close(cc, NULL);
		return;
	}
	if ((events & EPOLLOUT) && ctl_flush(cc) == -1)
		return;
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	if (cc->throttled) {
		/* a hangup is reported anyway: the ghost is gone, so is its push */
		if (events & (EPOLLHUP | EPOLLERR))
			ctl_close(cc, NULL);
		return;
	}
	if (conn_read(&cc->c) == -1) {
		ctl_close(cc, NULL);
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

	while (!ctl_throttle(cc) &&
	    (r = conn_frame(&cc->c, &h, &body, &blen, &why)) == 1) {
		if (cc->proc == NULL && !cc->watching)
			ev_timer_set(&cc->idle, MASTER_CTL_IDLE_MS, ctl_idle, cc);
		if (ctl_dispatch(cc, &h, body, blen) == -1)
			return;
		if (cc->dead) {
			ctl_close(cc, NULL);
			return;
		}
	}
	if (r == -1) {
		ctl_close(cc, why);
		return;
	}
	ctl_flush(cc);
}

/*
 * The link of node num drained (or closed): read its ghosts again, first
 * what they had sent before they were stopped.
 */
void
ctl_resume(int num)
{
	struct ctlconn	*cc, *next;

	if (nthrottled == 0)
		return;
	for (cc = ctls; cc != NULL; cc = next) {
		next = cc->next;
		if (!cc->throttled ||
		    (cc->proc != NULL && cc->proc->node != num))
			continue;
		cc->throttled = 0;
		nthrottled--;
		ctl_interest(cc);
		ctl_frames(cc);
	}
}

/*
 * A ghost's connection that the master made itself: the socketpair of a
 * ghost forked for a process forked on a node (tree.c).
 */
struct ctlconn *
ctl_adopt(int fd, const struct ucred *cred)
{
	struct ctlconn	*cc;
	char		 peer[64];

	if ((cc = calloc(1, sizeof(*cc))) == NULL)
		return NULL;
	cc->cred = *cred;
	snprintf(peer, sizeof(peer), "uid %u pid %d", (unsigned)cred->uid,
	    (int)cred->pid);
	conn_init(&cc->c, fd, peer, WIRE_MAX_FRAME, MASTER_CTL_OUTMAX);
	if (ev_add(fd, EPOLLIN, ctl_event, cc) == -1) {
		conn_free(&cc->c);
		free(cc);
		return NULL;
	}
	cc->next = ctls;
	ctls = cc;
	nctls++;
	return cc;
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

static int
ctl_pending_of(uid_t uid)
{
	struct ctlconn	*cc;
	int		 n = 0;

	for (cc = ctls; cc != NULL; cc = cc->next)
		if (cc->cred.uid == uid && cc->proc == NULL && !cc->watching)
			n++;
	return n;
}

static void
ctl_idle(void *arg)
{
	struct ctlconn	*cc = arg;

	if (cc->proc != NULL || cc->watching)
		return;
	ctl_close(cc, "idle");
}

static void
ctl_accept(int fd, uint32_t events, void *arg)
{
	struct ctlconn	*cc;
	socklen_t	 len;
	char		 peer[64];
	int		 s;

	(void)events;
	(void)arg;
	if ((s = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1) {
		if (errno != EAGAIN && errno != EINTR)
			log_warn("control accept");
		return;
	}
	if ((cc = calloc(1, sizeof(*cc))) == NULL) {
		close(s);
		return;
	}
	len = sizeof(cc->cred);
	if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cc->cred, &len) == -1) {
		log_warn("control: SO_PEERCRED");
		close(s);
		free(cc);
		return;
	}
	/*
	 * One user must not lock others out: root always gets in, and
	 * each other user may hold only so many connections that are not
	 * ghosts or watchers; those are also closed when idle.
	 */
	if (cc->cred.uid != 0 && (nctls >= MASTER_CTL_MAX ||
	    ctl_pending_of(cc->cred.uid) >= MASTER_CTL_PER_UID)) {
		log_warnx("control: uid %u has too many connections; refusing "
		    "one", (unsigned)cc->cred.uid);
		close(s);
		free(cc);
		return;
	}
	snprintf(peer, sizeof(peer), "uid %u pid %d", (unsigned)cc->cred.uid,
	    (int)cc->cred.pid);
	conn_init(&cc->c, s, peer, WIRE_MAX_FRAME, MASTER_CTL_OUTMAX);
	if (ev_add(s, EPOLLIN, ctl_event, cc) == -1) {
		conn_free(&cc->c);
		free(cc);
		return;
	}
	cc->next = ctls;
	ctls = cc;
	nctls++;
	ev_timer_set(&cc->idle, MASTER_CTL_IDLE_MS, ctl_idle, cc);
}

int
ctl_listen(void)
{
	struct sockaddr_un	sun;
	char			dir[sizeof(sun.sun_path)], *slash;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(conf.control) >= sizeof(sun.sun_path)) {
		log_warnx("control socket path too long");
		return -1;
	}
	strcpy(sun.sun_path, conf.control);
	strcpy(dir, conf.control);
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) == -1 && errno != EEXIST)
			log_warn("mkdir %s", dir);
	}
	ctl_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ctl_fd == -1)
		return -1;
	unlink(conf.control);
	if (bind(ctl_fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    chmod(conf.control, 0666) == -1 || listen(ctl_fd, 64) == -1) {
		log_warn("control socket %s", conf.control);
		return -1;
	}
	return ev_add(ctl_fd, EPOLLIN, ctl_accept, NULL);
}

static void
ctl_notify_now(void *arg)
{
	unsigned char	 buf[64];
	struct wire_msg	 m;
	struct ctlconn	*cc, *next;

	(void)arg;
	generation++;
	for (cc = ctls; cc != NULL; cc = next) {
		next = cc->next;
		if (!cc->watching)
			continue;
		/* a watcher that does not read is dropped, not buffered for */
		if (conn_pending(&cc->c) > 4096) {
			ctl_close(cc, "watcher not reading");
			continue;
		}
		wire_msg_init(&m, buf, sizeof(buf), MSG_CTL_CHANGED, 0, 0);
		wire_put_u32(&m, A_COUNT, generation);
		if (ctl_send(cc, &m) == 0)
			ctl_flush(cc);
	}
}

/* Coalesce bursts (a status report per node per heartbeat) into one wakeup. */
void
ctl_notify(void)
{
	if (!notify_timer.armed)
		ev_timer_set(&notify_timer, MASTER_NOTIFY_MS, ctl_notify_now,
		    NULL);
}

void
ctl_shutdown(void)
{
	while (ctls != NULL)
		ctl_close(ctls, NULL);
	if (ctl_fd != -1) {
		close(ctl_fd);
		unlink(conf.control);
	}
}
