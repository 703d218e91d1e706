/*
 * The process tree: a process forked on a node gets its ghost first.
 * nodeinit holds the clone at its seccomp stop and asks us (MSG_FORK);
 * we make a socketpair and send one end to the parent's ghost, which
 * forks: the child ghost is a real child of the parent ghost, so ps
 * --forest on the front end shows the node's tree, and the front end's
 * kernel picks its PID.  The child ghost's first frame on its socket
 * (FORK_HELLO) carries its credentials, which the kernel attaches
 * (SO_PASSCRED), so its PID is a fact, not a claim.  We answer the node
 * with that PID, the node has the clone take it where it is free, and
 * reports the PID it got (MSG_FORKED).  An exec on the node sends the new
 * argv (MSG_EXECED), which the ghost shows as its own.  A ghost that forked
 * once is asked for a spare child ghost ahead (spare.c), which the next
 * fork takes at once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bpmaster.h"
#include "list.h"
#include "log.h"

#define TREE_FORK_MS	10000	/* a parent ghost that has not forked by then: the fork fails */
#define TREE_RETRY_MS	2	/* the parent ghost's queue is busy: try again after */
#define TREE_GHOST_MS	2000	/* how long a fork waits for its parent's sender to be bpghost */
#define TREE_GHOST_RETRY_MS 5	/* and how often it looks */
#define TREE_NODE_FORKS	8	/* forks in flight per node (nodeinit has one at a time) */
#define TREE_CMD_MAX	4096	/* bytes of a command line kept after an exec */

struct forkreq {
	uint64_t	 token;
	int		 node;
	uint32_t	 seq;		/* the node's request */
	pid_t		 parent;	/* the parent's ghost */
	int		 fd;		/* our end of the child ghost's socket */
	int		 gfd;		/* its end, until the parent's ghost has it */
	int		 spare;		/* a spare for the next fork (spare.c): no node waits */
	uint64_t	 ghost_by;	/* ev_now() until which it waits for that ghost */
	struct ev_timer	 timer;
	DLIST_LINK(forkreq) link;	/* forks */
};

static DLIST_HEAD(forkreqs, forkreq) forks;

static void	tree_send_fork(void *);
static void	tree_want_spare(struct proc *);

static void
tree_reply(int node, uint32_t seq, pid_t parent, pid_t child, int err)
{
	unsigned char	buf[64];
	struct wire_msg	m;

	if (nodes[node].link == NULL)
		return;
	wire_msg_init(&m, buf, sizeof(buf), MSG_FORK_RESULT, WIRE_F_REPLY, seq);
	wire_put_u32(&m, A_PPID, (uint32_t)parent);
	if (child > 0)
		wire_put_u32(&m, A_PID, (uint32_t)child);
	wire_put_u32(&m, A_ERRNO, (uint32_t)err);
	node_send(&nodes[node], &m);
}

/* Forget a request; with err, the node's clone fails with it. */
static void
tree_done(struct forkreq *fr, int err, int close_fd)
{
	DLIST_REMOVE(fr, link);
	if (err && !fr->spare)
		tree_reply(fr->node, fr->seq, fr->parent, 0, err);
	ev_timer_del(&fr->timer);
	if (close_fd && fr->fd >= 0) {
		ev_del(fr->fd);
		close(fr->fd);
	}
	if (fr->gfd >= 0)
		close(fr->gfd);
	free(fr);
}

static void
tree_timeout(void *arg)
{
	struct forkreq	*fr = arg;

	if (fr->spare)
		log_debug("ghost %d: no spare after %d ms", (int)fr->parent,
		    TREE_FORK_MS);
	else
		log_warnx("ghost %d: no child ghost after %d ms; the fork on "
		    "node %d fails", (int)fr->parent, TREE_FORK_MS, fr->node);
	tree_done(fr, EAGAIN, 1);
}

/*
 * The child ghost on fd (its hello taken) becomes the ghost of p's new
 * child: pidfd is its check done already (a spare's), or -1 to check now.
 */
static int
tree_adopt(struct proc *p, int fd, const struct ucred *cred, int pidfd)
{
	struct proc	*child;

	if ((child = proc_add(cred->pid, p->node, p->uid, p->cmd)) == NULL ||
	    ctl_adopt(fd, cred, child, pidfd) == NULL) {
		if (child != NULL) {
			child->exited = 1;
			proc_ghost_gone(child);
		}
		if (pidfd >= 0)
			close(pidfd);
		return -1;
	}
	child->ppid = p->pid;
	child->child = 1;
	child->nospare = p->nospare;
	child->started = 1;
	log_debug("ghost %d: child ghost %d for node %d", (int)p->pid,
	    (int)child->pid, p->node);
	return 0;
}

/* The child ghost's first frame: who it is, from the kernel. */
static void
tree_hello(int fd, uint32_t events, void *arg)
{
	struct forkreq		*fr = arg;
	unsigned char		 buf[WIRE_HDR_LEN + 12];
	union {
		struct cmsghdr	h;
		char		b[CMSG_SPACE(sizeof(struct ucred))];
	}			 cm;
	struct iovec		 iov = { buf, sizeof(buf) };
	struct msghdr		 mh;
	struct cmsghdr		*c;
	struct ucred		 cred;
	struct wire_hdr		 h;
	struct wire_attr	 tb[A_MAX];
	struct proc		*p;
	const char		*why = "bad hello";
	ssize_t			 n;
	int			 have = 0;

	(void)events;
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.b;
	mh.msg_controllen = sizeof(cm.b);
	n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_WAITALL | MSG_CMSG_CLOEXEC);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
			memcpy(&cred, CMSG_DATA(c), sizeof(cred));
			have = 1;
		}
	if (n != (ssize_t)sizeof(buf) || !have ||
	    wire_hdr_decode(buf, sizeof(buf), sizeof(buf), &h, &why) != 1 ||
	    h.len != sizeof(buf) ||
	    proto_parse(&h, buf + WIRE_HDR_LEN, sizeof(buf) - WIRE_HDR_LEN, tb,
	    &why) == -1 || h.type != MSG_FORK_HELLO ||
	    wire_get_u64(&tb[A_TOKEN]) != fr->token) {
		log_warnx("ghost %d: its child's socket: %s", (int)fr->parent,
		    n == 0 ? "closed" : why);
		tree_done(fr, EAGAIN, 1);
		return;
	}
	p = proc_find(fr->parent);
	if (p == NULL || p->exited || p->node != fr->node || p->ghost == NULL) {
		tree_done(fr, ESRCH, 1);
		return;
	}
	/* whoever holds the socket must be the user's and not a ghost yet */
	if (cred.uid != p->uid || proc_find(cred.pid) != NULL) {
		log_warnx("ghost %d: child ghost hello from pid %d uid %u "
		    "refused", (int)p->pid, (int)cred.pid, (unsigned)cred.uid);
		tree_done(fr, EPERM, 1);
		return;
	}
	ev_del(fd);
	fr->fd = -1;
	if (fr->spare) {
		spare_keep(p, fd, &cred);
		tree_done(fr, 0, 0);
		return;
	}
	if (tree_adopt(p, fd, &cred, -1) == -1) {
		fr->fd = fd;
		tree_done(fr, ENOMEM, 1);
		return;
	}
	tree_reply(fr->node, fr->seq, p->pid, (pid_t)cred.pid, 0);
	tree_done(fr, 0, 0);
	/* it forks: the next one may find its ghost made already */
	tree_want_spare(p);
}

/*
 * Hand the parent's ghost its child's socket.  The descriptor rides on
 * the frame itself, so it goes only when nothing is queued before it.
 */
static void
tree_send_fork(void *arg)
{
	struct forkreq	*fr = arg;
	struct proc	*p = proc_find(fr->parent);
	unsigned char	 buf[64];
	struct wire_msg	 m;
	int		 r;

	if (p == NULL || p->exited || p->ghost == NULL) {
		tree_done(fr, ESRCH, 1);
		return;
	}
	/*
	 * A process that has just migrated can fork on the node before
	 * its sender, still libbproc on the front end, has become bpghost
	 * (the image resumes as soon as the restorer took it): wait for the
	 * ghost rather than hand libbproc a frame it does not take.
	 */
	if (!ctl_is_ghost(p->ghost) && ev_now() < fr->ghost_by) {
		ev_timer_set(&fr->timer, TREE_GHOST_RETRY_MS, tree_send_fork, fr);
		return;
	}
	wire_msg_init(&m, buf, sizeof(buf), MSG_FORK, 0, 0);
	wire_put_u64(&m, A_TOKEN, fr->token);
	if (fr->spare)
		wire_put_u32(&m, A_FLAGS, FORK_F_SPARE);
	if ((r = ctl_send_fd(p->ghost, &m, fr->gfd)) == 1) {
		ev_timer_set(&fr->timer, TREE_RETRY_MS, tree_send_fork, fr);
		return;
	}
	if (r == -1) {
		tree_done(fr, EAGAIN, 1);
		return;
	}
	close(fr->gfd);
	fr->gfd = -1;
	ev_timer_set(&fr->timer, TREE_FORK_MS, tree_timeout, fr);
}

/*
 * Ask p's ghost for a child ghost: for the node's clone seq, or a spare.
 * Returns 0, or an errno for the node.
 */
static int
tree_request(struct proc *p, uint32_t seq, int spare)
{
	struct forkreq	*fr;
	int		 sv[2], on = 1;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("socketpair for a child ghost");
		return EAGAIN;
	}
	if ((fr = calloc(1, sizeof(*fr))) == NULL ||
	    setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) == -1 ||
	    getrandom(&fr->token, sizeof(fr->token), 0) !=
	    (ssize_t)sizeof(fr->token) ||
	    ev_add(sv[0], EPOLLIN, tree_hello, fr) == -1) {
		free(fr);
		close(sv[0]);
		close(sv[1]);
		return EAGAIN;
	}
	fr->node = p->node;
	fr->seq = seq;
	fr->parent = p->pid;
	fr->fd = sv[0];
	fr->gfd = sv[1];
	fr->spare = spare;
	fr->ghost_by = ev_now() + TREE_GHOST_MS;
	DLIST_INSERT_HEAD(&forks, fr, link);
	tree_send_fork(fr);
	return 0;
}

/* p forks: have a spare child ghost ready for its next fork (spare.c). */
static void
tree_want_spare(struct proc *p)
{
	struct forkreq	*fr;

	if (p->exited || p->ghost == NULL || !ctl_is_ghost(p->ghost) ||
	    p->home || p->pidfd < 0 || p->nospare || spare_have(p->pid))
		return;
	DLIST_FOREACH(fr, &forks, link)
		if (fr->spare && fr->parent == p->pid)
			return;
	(void)tree_request(p, 0, 1);
}

/* The node's clone at its stop: its ghost now, from the spare if any. */
static void
tree_fork(struct node *n, const struct wire_hdr *h, struct wire_attr *tb)
{
	struct forkreq	*fr;
	struct proc	*p;
	struct ucred	 cred;
	unsigned char	 buf[64];
	struct wire_msg	 m;
	int		 inflight = 0, fd, pidfd, e;
	pid_t		 parent;

	if (!tb[A_PID].data) {
		tree_reply(n->num, h->seq, 0, 0, EINVAL);
		return;
	}
	parent = (pid_t)wire_get_u32(&tb[A_PID]);
	p = proc_find(parent);
	/* the node may speak only of its own, living processes */
	if (p == NULL || p->node != n->num || p->exited || p->ghost == NULL) {
		tree_reply(n->num, h->seq, parent, 0, ESRCH);
		return;
	}
	if (!p->home && spare_take(p, &fd, &cred, &pidfd) == 0) {
		if (tree_adopt(p, fd, &cred, pidfd) == -1) {
			close(fd);
		} else {
			/* the spare is a child ghost now: it leaves its wait */
			wire_msg_init(&m, buf, sizeof(buf), MSG_EXEC_RESULT, 0, 0);
			wire_put_u32(&m, A_PID, (uint32_t)cred.pid);
			wire_put_u32(&m, A_ERRNO, 0);
			ctl_send_msg(proc_find(cred.pid)->ghost, &m);
			tree_reply(n->num, h->seq, parent, (pid_t)cred.pid, 0);
			tree_want_spare(p);
			return;
		}
	}
	DLIST_FOREACH(fr, &forks, link)
		if (fr->node == n->num && !fr->spare)
			inflight++;
	if (inflight >= TREE_NODE_FORKS) {
		tree_reply(n->num, h->seq, parent, 0, EAGAIN);
		return;
	}
	if ((e = tree_request(p, h->seq, 0)) != 0)
		tree_reply(n->num, h->seq, parent, 0, e);
}

/* The node's clone ran: the child's PID there, or its failure. */
static void
tree_forked(struct node *n, struct wire_attr *tb)
{
	unsigned char	 buf[64];
	struct wire_msg	 m;
	struct proc	*c = proc_find((pid_t)wire_get_u32(&tb[A_PID]));

	if (c == NULL || c->node != n->num || !c->child || c->forked ||
	    c->ppid != (pid_t)wire_get_u32(&tb[A_PPID]))
		return;
	c->forked = 1;
	if (tb[A_ERRNO].data && wire_get_u32(&tb[A_ERRNO]) != 0) {
		/* no process after all: its ghost goes without a word */
		c->exited = 1;
		if (c->ghost != NULL) {
			wire_msg_init(&m, buf, sizeof(buf), MSG_EXIT, 0, 0);
			wire_put_u32(&m, A_PID, (uint32_t)c->pid);
			wire_put_u32(&m, A_STATUS, 0);
			ctl_send_msg(c->ghost, &m);
		}
		return;
	}
	c->rpid = tb[A_RPID].data ? (pid_t)wire_get_u32(&tb[A_RPID]) : c->pid;
}

/* An exec on the node: the new command line, for bpstat and the ghost. */
static void
tree_execed(struct node *n, const unsigned char *body, size_t blen,
    struct wire_attr *tb)
{
	static unsigned char	 buf[WIRE_MAX_FRAME];
	struct wire_msg		 m;
	struct wire_iter	 it;
	struct wire_attr	 a;
	struct proc		*p = proc_find((pid_t)wire_get_u32(&tb[A_PID]));
	char			*cmd;
	size_t			 len = 0, l;

	if (p == NULL || p->node != n->num || p->exited)
		return;
	/* its spare shows the old command: the next fork makes a new one */
	spare_drop(p->pid, 0);
	if ((cmd = malloc(TREE_CMD_MAX)) == NULL)
		return;
	cmd[0] = '\0';
	wire_msg_init(&m, buf, sizeof(buf), MSG_EXECED, 0, 0);
	wire_put_u32(&m, A_PID, (uint32_t)p->pid);
	wire_iter_init(&it, body, blen);
	while (wire_iter_next(&it, &a) == 1) {
		if (a.type != A_ARG || !proto_attr_ok(&a))
			continue;
		wire_put(&m, A_ARG, a.data, a.len);
		l = a.len - 1;
		if (len + l + 2 > TREE_CMD_MAX)
			continue;
		if (len)
			cmd[len++] = ' ';
		memcpy(cmd + len, a.data, l);
		len += l;
		cmd[len] = '\0';
	}
	free(p->cmd);
	p->cmd = cmd;
	if (p->ghost != NULL)
		ctl_send_msg(p->ghost, &m);
}

/*
 * A process on the node called setsid or setpgid: its ghost does the same
 * on the front end.  The session and group are named by their leaders'
 * ghosts, which must be the node's own processes (or 0: not mirrored).
 */
static void
tree_pgrp(struct node *n, struct wire_attr *tb)
{
	static const int	 keys[3] = { A_SID, A_PGID, A_PPID };
	unsigned char		 buf[96];
	struct wire_msg		 m;
	struct proc		*p = proc_find((pid_t)wire_get_u32(&tb[A_PID])),
				*q;
	pid_t			 v;
	int			 i;

	if (p == NULL || p->node != n->num || p->exited || p->ghost == NULL ||
	    !p->child)
		return;
	wire_msg_init(&m, buf, sizeof(buf), MSG_PGRP, 0, 0);
	wire_put_u32(&m, A_PID, (uint32_t)p->pid);
	for (i = 0; i < 3; i++) {
		v = tb[keys[i]].data ? (pid_t)wire_get_u32(&tb[keys[i]]) : 0;
		if (v != 0 && ((q = proc_find(v)) == NULL || q->node != n->num ||
		    q->uid != p->uid))
			v = 0;
		wire_put_u32(&m, keys[i], (uint32_t)v);
	}
	ctl_send_msg(p->ghost, &m);
}

/* Node -> master: FORK, FORKED, EXECED, PGRP.  Returns -1 only if the link closed. */
int
tree_from_node(struct node *n, const struct wire_hdr *h, struct wire_attr *tb,
    const unsigned char *body, size_t blen)
{
	switch (h->type) {
	case MSG_FORK:
		tree_fork(n, h, tb);
		break;
	case MSG_FORKED:
		tree_forked(n, tb);
		break;
	case MSG_EXECED:
		tree_execed(n, body, blen, tb);
		break;
	case MSG_PGRP:
		tree_pgrp(n, tb);
		break;
	}
	return 0;
}

/* A parent's ghost could not fork (out of processes on the front end). */
void
tree_from_ghost(struct proc *p, struct wire_attr *tb)
{
	struct forkreq	*fr;
	int		 err = (int)wire_get_u32(&tb[A_ERRNO]);

	if (!tb[A_TOKEN].data)
		return;
	DLIST_FOREACH(fr, &forks, link)
		if (fr->parent == p->pid &&
		    fr->token == wire_get_u64(&tb[A_TOKEN])) {
			tree_done(fr, err ? err : EAGAIN, 1);
			return;
		}
}

/* A process record goes: forks its ghost was to make fail. */
void
tree_proc_gone(struct proc *p)
{
	struct forkreq	*fr, *next;

	DLIST_FOREACH_SAFE(fr, &forks, link, next) {
		if (fr->parent == p->pid && fr->node == p->node)
			tree_done(fr, ESRCH, 1);
	}
	spare_drop(p->pid, 0);
}

struct tree_busy {
	pid_t	parent;
	int	busy;
};

static void
tree_child_leaving(struct proc *c, void *arg)
{
	struct tree_busy	*b = arg;

	if (c->ppid == b->parent && c->child && c->exited && c->ghost != NULL)
		b->busy = 1;
}

/*
 * p comes home (migrate.c): its ghost becomes the process, which must
 * find no stranger among its children.  Its spare is killed (the ghost
 * reaps it: the PID returned, 0 if none); -1 while a spare is being made,
 * which the move waits for (EBUSY, asked again).
 */
pid_t
tree_spare_home(struct proc *p)
{
	struct forkreq	*fr;
	struct tree_busy b = { p->pid, 0 };

	DLIST_FOREACH(fr, &forks, link)
		if (fr->spare && fr->parent == p->pid)
			return -1;
	/*
	 * A child whose node process ended (the process reaped it there)
	 * but whose ghost is still on its way out would be a stranger at
	 * home, a child the process never made: wait for it too.
	 */
	proc_foreach(tree_child_leaving, &b);
	if (b.busy)
		return -1;
	return spare_drop(p->pid, 1);
}

/*
 * The parent bpstat shows: the ghost's parent as the front end's kernel
 * has it (the node's parent's ghost, the caller's shell for the first
 * process, or whoever inherited an orphan), so it agrees with ps.
 */
pid_t
tree_ppid(const struct proc *p)
{
	pid_t	ppid = tree_ppid_of(p->pid);

	return ppid > 0 ? ppid : p->ppid;
}

/* The front-end parent of process pid, as its kernel says: -1 if gone. */
pid_t
tree_ppid_of(pid_t pid)
{
	char	 path[64], buf[512], *e;
	FILE	*f;
	int	 ppid = -1;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "re")) != NULL) {
		if (fgets(buf, sizeof(buf), f) != NULL &&
		    (e = strrchr(buf, ')')) != NULL &&
		    sscanf(e + 1, " %*c %d", &ppid) != 1)
			ppid = -1;
		fclose(f);
	}
	return ppid > 0 ? (pid_t)ppid : -1;
}
