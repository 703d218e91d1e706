/*
 * The control socket that tools talk to.  Callers are identified by
 * SO_PEERCRED at accept time, never by anything in a message.  Replies to
 * a snapshot are N CTL_NODE records then CTL_END with the count.
 *
 * One user must not lock others out, so every connection counts against
 * its uid, whatever it is: a tool (or a half-open connection that said
 * nothing yet), a watcher, a would-be ghost between EXEC and MSG_GHOST,
 * a ghost.  A uid may hold at most as many descriptors as remain free for
 * everyone else (so one user gets at most half, two a quarter more, and
 * so on), at most MASTER_CTL_PER_UID tools and MASTER_CTL_WATCH_PER_UID
 * watchers; the slots themselves stay below the descriptor limit, and the
 * last MASTER_CTL_ROOT_SPARE of them are root's.
 *
 * A connection is closed only here, after the handler that found it bad
 * returned (ctl_reap, run by the event loop after every handler): a failed
 * send or a bad frame marks it dead, so no caller is left holding a freed
 * connection, and frames of ghosts a drained node link releases are read
 * from the same place, never from inside the node code (ctl_resume).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "bpmaster.h"
#include "list.h"
#include "log.h"

enum ctl_kind {
	CTL_TOOL,		/* a tool's request, or nothing said yet */
	CTL_WATCHER,		/* CTL_WATCH: told about every change */
	CTL_EXEC,		/* sent EXEC: a process record, not yet the ghost */
	CTL_GHOST,		/* bpghost, checked (trace_check_ghost) */
	CTL_KINDS
};

/* What one uid holds; kept while it holds anything. */
struct ctluser {
	uid_t		 uid;
	int		 n[CTL_KINDS];	/* connections of each kind */
	int		 fds;		/* descriptors: connections + pidfds */
	struct ctluser	*next;
};

struct ctlconn {
	struct conn	 c;
	struct ucred	 cred;
	int		 kind;		/* CTL_* */
	int		 dead;		/* closed by ctl_reap after this handler */
	const char	*why;		/* ... and the reason it logs, if any */
	int		 resume;	/* read by ctl_reap: its node link drained */
	struct proc	*proc;		/* set when this connection is a ghost */
	int		 pidfd;		/* the ghost's (CTL_GHOST), else -1 */
	int		 throttled;	/* not read while its node's link is full */
	int		 pushed;	/* was a ghost: late blobs are dropped */
	struct ev_timer	 idle;		/* tools that go quiet are closed */
	struct ctluser	*user;
	DLIST_LINK(ctlconn) all;	/* ctls */
};

/* A connection's phases, as its routes name them (ctl_phase). */
enum ctl_phase {
	CTL_PH_TOOL,		/* a tool's requests */
	CTL_PH_WATCHER,		/* listens; may still ask for tables */
	CTL_PH_PROC,		/* sent EXEC, or the ghost: its process's frames */
	CTL_PH_ENDED		/* its process ended: late blobs are dropped */
};

DLIST_HEAD(ctlconns, ctlconn);

#define CTL_USER_HASH	256	/* buckets of the per-uid table */

static struct ctlconns	 ctls;
static const struct ctl_hooks *hooks;	/* the process space's, from ctl_listen */
static struct ctluser	*ctl_users[CTL_USER_HASH];
static int		 nctls;
static int		 nctl_fds;	/* connections + pidfds, every uid */
static int		 nthrottled;
static int		 ndead;		/* marked dead or resumed: ctl_reap's work */
static int		 ctl_fd = -1;
static struct ev_listener ctl_listener;
static struct ev_timer	 notify_timer;
static uint32_t		 generation;
static uint64_t		 ctl_started;	/* ev_now() when it began to listen */

static void	ctl_idle(void *);
static void	ctl_frames(struct ctlconn *);

static struct ctluser **
ctl_user_bucket(uid_t uid)
{
	return &ctl_users[(unsigned int)uid % CTL_USER_HASH];
}

static struct ctluser *
ctl_user_get(uid_t uid, int create)
{
	struct ctluser	*u;

	for (u = *ctl_user_bucket(uid); u != NULL; u = u->next)
		if (u->uid == uid)
			return u;
	if (!create || (u = calloc(1, sizeof(*u))) == NULL)
		return NULL;
	u->uid = uid;
	u->next = *ctl_user_bucket(uid);
	*ctl_user_bucket(uid) = u;
	return u;
}

static void
ctl_user_put(struct ctluser *u)
{
	struct ctluser	**pp;

	if (u->fds > 0)
		return;
	for (pp = ctl_user_bucket(u->uid); *pp != NULL; pp = &(*pp)->next)
		if (*pp == u) {
			*pp = u->next;
			break;
		}
	free(u);
}

/* Every change of kind goes through here, so the counts stay right. */
static void
ctl_set_kind(struct ctlconn *cc, int kind)
{
	cc->user->n[cc->kind]--;
	cc->kind = kind;
	cc->user->n[kind]++;
}

/* Is the connection bpghost's yet (not the tool or library before it)? */
int
ctl_is_ghost(const struct ctlconn *cc)
{
	return cc->kind == CTL_GHOST;
}

/*
 * Descriptors the control socket may use: the limit less what node links,
 * unauthenticated links and the daemon's own files need.  Read at every
 * accept, so a limit lowered while running (prlimit) counts at once.
 */
static int
ctl_fd_slots(void)
{
	struct rlimit	rl;
	long		n = MASTER_CTL_MAX;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < (rlim_t)MASTER_CTL_MAX * 2)
		n = (long)rl.rlim_cur;
	/*
	 * The node port may hold MASTER_LINK_PREAUTH_MAX unauthenticated
	 * links; under a low limit a quarter of it, so tools keep a share
	 * (the node port evicts at its own cap and rests at EMFILE).
	 */
	n -= MASTER_CTL_FD_SPARE + numnodes +
	    (MASTER_LINK_PREAUTH_MAX < n / 4 ? MASTER_LINK_PREAUTH_MAX : n / 4);
	if (n > MASTER_CTL_MAX)
		n = MASTER_CTL_MAX;
	return n < 2 * MASTER_CTL_ROOT_SPARE ? 2 * MASTER_CTL_ROOT_SPARE : (int)n;
}

/* The uid that holds the most descriptors, for the log of a refusal. */
static struct ctluser *
ctl_user_top(void)
{
	struct ctluser	*u, *top = NULL;
	int		 i;

	for (i = 0; i < CTL_USER_HASH; i++)
		for (u = ctl_users[i]; u != NULL; u = u->next)
			if (top == NULL || u->fds > top->fds)
				top = u;
	return top;
}

/*
 * May uid open one more connection?  NULL if so, else why not.  Each
 * connection may cost two descriptors (a ghost's pidfd).
 */
static const char *
ctl_admit(uid_t uid)
{
	struct ctluser	*u = ctl_user_get(uid, 0);
	int		 slots = ctl_fd_slots(), held = u ? u->fds : 0;
	int		 shared = slots - MASTER_CTL_ROOT_SPARE;

	if (uid == 0)
		return nctl_fds + 2 <= slots ? NULL : "no descriptors left";
	if (nctl_fds + 2 > shared)
		return "no free slots";
	/* at most what is left for everyone else */
	if (held + 2 > shared - nctl_fds)
		return "its share of the control socket is used";
	if (u != NULL && u->n[CTL_TOOL] >= MASTER_CTL_PER_UID)
		return "too many connections that are not ghosts or watchers";
	return NULL;
}

/*
 * The one way a connection ends: marked here, closed by ctl_reap once the
 * running handler returned.  The socket is shut down at once, so the peer
 * sees the end and nothing more is read from it.
 */
static void
ctl_kill(struct ctlconn *cc, const char *why)
{
	if (cc->dead)
		return;
	cc->dead = 1;
	cc->why = why;
	ndead++;
	shutdown(cc->c.fd, SHUT_RDWR);
}

static void
ctl_close(struct ctlconn *cc)
{
	if (cc->why != NULL)
		log_warnx_rl("control: uid %u pid %d: %s; closing",
		    (unsigned)cc->cred.uid, (int)cc->cred.pid, cc->why);
	DLIST_REMOVE(cc, all);
	if (cc->throttled)
		nthrottled--;
	if (cc->proc != NULL)
		hooks->ghost_gone(cc->proc);
	if (cc->pidfd != -1) {
		close(cc->pidfd);
		cc->user->fds--;
		nctl_fds--;
	}
	power_ctl_gone(cc);
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
static void
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
static int
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

static int
ctl_flush(struct ctlconn *cc)
{
	if (conn_flush(&cc->c) == -1) {
		ctl_kill(cc, NULL);
		return -1;
	}
	ctl_interest(cc);
	return 0;
}

/* The link's health, for the metrics: round trip and heartbeat age. */
static void
ctl_put_link(struct wire_msg *m, const struct node *n, uint64_t now)
{
	uint32_t	rtt;

	if (n->state == NODE_DOWN)
		return;
	if ((rtt = node_rtt_us(n)) != 0)
		wire_put_u32(m, A_RTT, rtt);
	if (n->last_status)
		wire_put_u64(m, A_STATUS_AGE, now - n->last_status);
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
	ctl_put_link(m, n, now);
	power_put_node(m, n->num);
}

static int
ctl_on_nodes(void *arg, const struct proto_frame *f)
{
	struct ctlconn	*cc = arg;
	const struct wire_hdr *h = f->h;
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

/*
 * CTL_MASTER: the daemon's own costs and sizes, for the metrics: CPU time
 * (getrusage), resident memory (/proc/self/statm), uptime, tables.
 */
static int
ctl_on_master(void *arg, const struct proto_frame *pf)
{
	struct ctlconn	*cc = arg;
	const struct wire_hdr *h = pf->h;
	unsigned char	 buf[256];
	struct wire_msg	 m;
	struct rusage	 ru;
	unsigned long	 size, resident = 0;
	FILE		*f;

	memset(&ru, 0, sizeof(ru));
	getrusage(RUSAGE_SELF, &ru);
	if ((f = fopen("/proc/self/statm", "re")) != NULL) {
		if (fscanf(f, "%lu %lu", &size, &resident) != 2)
			resident = 0;
		fclose(f);
	}
	wire_msg_init(&m, buf, sizeof(buf), MSG_CTL_MASTER_INFO, WIRE_F_REPLY,
	    h->seq);
	wire_put_u32(&m, A_PID, (uint32_t)getpid());
	wire_put_u64(&m, A_UPTIME, (ev_now() - ctl_started) / 1000);
	wire_put_u64(&m, A_CPU_USER, (uint64_t)ru.ru_utime.tv_sec * 1000000 +
	    (uint64_t)ru.ru_utime.tv_usec);
	wire_put_u64(&m, A_CPU_SYS, (uint64_t)ru.ru_stime.tv_sec * 1000000 +
	    (uint64_t)ru.ru_stime.tv_usec);
	wire_put_u64(&m, A_RSS, (uint64_t)resident *
	    (uint64_t)sysconf(_SC_PAGESIZE));
	wire_put_u32(&m, A_NUMNODES, (uint32_t)numnodes);
	wire_put_u32(&m, A_NPROCS, (uint32_t)proc_count());
	wire_put_u32(&m, A_COUNT, (uint32_t)nctls);
	wire_put_u32(&m, A_HEARTBEAT, conf.heartbeat_ms);
	wire_put_u32(&m, A_TIMEOUT, conf.timeout_ms);
	return ctl_send(cc, &m);
}

/* Permission rule for node attributes: root, or the node's owner. */
static int
ctl_on_set(void *arg, const struct proto_frame *f)
{
	struct ctlconn	*cc = arg;
	const struct wire_hdr *h = f->h;
	struct wire_attr *tb = f->tb;
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
		if (node_set_state(n, wire_get_u8(&tb[A_STATE]), uid, &why) == -1)
			e = errno;
	} else if (tb[A_HOW].data) {
		if (node_power(n, wire_get_u8(&tb[A_HOW]), uid, &why) == -1)
			e = errno;
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
	if (e == 0) {
		ctl_notify();
		/* owners, modes and admin states outlive the master */
		if (!tb[A_HOW].data && hooks->settings != NULL)
			hooks->settings();
	}
reply:
	wire_msg_init(&m, buf, sizeof(buf), MSG_CTL_RESULT, WIRE_F_REPLY,
	    h->seq);
	wire_put_u32(&m, A_NODE, num);
	wire_put_u32(&m, A_ERRNO, (uint32_t)e);
	if (why != NULL)
		wire_put_str(&m, A_MSG, why);
	return ctl_send(cc, &m);
}

/* A tool becomes a watcher: it only listens from now on. */
static int
ctl_on_watch(void *arg, const struct proto_frame *f)
{
	struct ctlconn	*cc = arg;

	(void)f;
	if (cc->kind == CTL_WATCHER)
		return 0;
	if (cc->kind != CTL_TOOL) {
		ctl_kill(cc, "CTL_WATCH from a ghost");
		return -1;
	}
	if (cc->cred.uid != 0 &&
	    cc->user->n[CTL_WATCHER] >= MASTER_CTL_WATCH_PER_UID) {
		log_warnx_rl("control: uid %u pid %d: more than %d watchers "
		    "of one user; closing", (unsigned)cc->cred.uid,
		    (int)cc->cred.pid, MASTER_CTL_WATCH_PER_UID);
		ctl_kill(cc, NULL);
		return -1;
	}
	ctl_set_kind(cc, CTL_WATCHER);
	ev_timer_del(&cc->idle);
	/* it sends nothing more worth a big buffer */
	cc->c.maxframe = MASTER_CTL_WATCH_FRAME;
	return 0;
}

/*
 * MSG_GHOST: the client that sent EXEC says it is now bpghost.  Only a
 * process that is the installed bpghost, runs as the connection's uid and
 * holds this very connection is traced and signalled, through a pidfd
 * taken before those checks, so a PID reused since cannot be hit.
 */
static int
ctl_ghost(struct ctlconn *cc)
{
	unsigned char	 buf[256];
	struct wire_msg	 m;
	const char	*why = "no descriptors left";
	int		 pidfd = -1;

	if (nctl_fds + 1 <= ctl_fd_slots())
		pidfd = hooks->check_ghost(cc->cred.pid, cc->cred.uid,
		    cc->c.fd, &why);
	if (pidfd == -1 && why == NULL) {
		/* it ended already: a ghost, untraced, until it closes */
		ctl_set_kind(cc, CTL_GHOST);
		ev_timer_del(&cc->idle);
		return 0;
	}
	if (pidfd == -1) {
		log_warnx_rl("control: uid %u pid %d: not the ghost: %s; "
		    "refused", (unsigned)cc->cred.uid, (int)cc->cred.pid, why);
		wire_msg_init(&m, buf, sizeof(buf), MSG_EXEC_RESULT,
		    WIRE_F_REPLY, 0);
		wire_put_u32(&m, A_PID, (uint32_t)cc->cred.pid);
		wire_put_u32(&m, A_ERRNO, EPERM);
		wire_put_str(&m, A_MSG, "bpmaster: this process is not "
		    "bpghost; refused as a ghost");
		ctl_send_msg(cc, &m);
		ctl_kill(cc, NULL);
		return -1;
	}
	cc->pidfd = pidfd;
	cc->user->fds++;
	nctl_fds++;
	ctl_set_kind(cc, CTL_GHOST);
	ev_timer_del(&cc->idle);
	hooks->ghost(cc->proc, pidfd);
	return 0;
}

/* MSG_GHOST from a would-be ghost (a process that ended has none). */
static int
ctl_on_ghost(void *arg, const struct proto_frame *f)
{
	struct ctlconn	*cc = arg;

	(void)f;
	if (cc->kind != CTL_EXEC) {
		log_warnx_rl("control: uid %u pid %d: unexpected GHOST frame; "
		    "closing", (unsigned)cc->cred.uid, (int)cc->cred.pid);
		ctl_kill(cc, NULL);
		return -1;
	}
	return cc->proc != NULL ? ctl_ghost(cc) : 0;
}

/* bpctl --power: the node's BMC (power.c) answers when ipmitool is done. */
static int
ctl_on_power(void *arg, const struct proto_frame *f)
{
	struct ctlconn	*cc = arg;

	power_request(cc, cc->cred.uid, f->h->seq, f->tb);
	return 0;
}

static int
ctl_on_exec(void *arg, const struct proto_frame *f)
{
	struct ctlconn	*cc = arg;

	hooks->exec(cc, &cc->cred, f);
	return 0;
}

static int
ctl_on_procs(void *arg, const struct proto_frame *f)
{
	hooks->procs(arg, f->h->seq);
	return 0;
}

/* A ghost speaks only of its own process. */
static int
ctl_on_proc(void *arg, const struct proto_frame *f)
{
	struct ctlconn	*cc = arg;

	if (hooks->from_ghost(cc->proc, f) == -1) {
		log_warnx_rl("control: uid %u pid %d: %s frame too large to "
		    "relay; closing", (unsigned)cc->cred.uid, (int)cc->cred.pid,
		    msg_name(f->h->type));
		ctl_kill(cc, NULL);
		return -1;
	}
	return 0;
}

/* A child ghost could not fork (tree.c). */
static int
ctl_on_fork_result(void *arg, const struct proto_frame *f)
{
	struct ctlconn	*cc = arg;

	hooks->fork_result(cc->proc, f->tb);
	return 0;
}

/*
 * The tool streams blobs without reading; when its process ended
 * meanwhile (its node went down), what is still on the way is dropped,
 * so the tool reads the reason instead of a closed socket.
 */
static int
ctl_on_blob(void *arg, const struct proto_frame *f)
{
	struct ctlconn	*cc = arg;

	return cc->proc != NULL ? ctl_on_proc(cc, f) : 0;
}

/*
 * An rfork from a node (standin.c): a child at home says its second hop
 * failed (a tool's connection: answered), or a ghost says it reaped a
 * child ghost (never answered: a ghost takes no MSG_STANDIN).
 */
static int
ctl_on_standin(void *arg, const struct proto_frame *f)
{
	struct ctlconn	*cc = arg;

	if (hooks->standin != NULL)
		hooks->standin(cc, &cc->cred, cc->kind != CTL_TOOL ||
		    cc->proc != NULL || cc->pushed, f->tb);
	return 0;
}

/* A ghost of the master before us, on a new connection (rejoin.c). */
static int
ctl_on_ghost_rejoin(void *arg, const struct proto_frame *f)
{
	struct ctlconn	*cc = arg;

	if (hooks->rejoin == NULL || cc->kind != CTL_TOOL) {
		ctl_kill(cc, NULL);
		return -1;
	}
	return hooks->rejoin(cc, &cc->cred, cc->c.fd, f->tb);
}

#define CP(ph)		(1u << CTL_PH_##ph)
#define CP_ASK		(CP(TOOL) | CP(WATCHER))	/* tables and node changes */

/* What the control socket takes, and when. */
static const struct proto_route ctl_routes[MSG_MAX] = {
	[MSG_CTL_NODES] =	{ CP_ASK, ctl_on_nodes },
	[MSG_CTL_PROCS] =	{ CP_ASK, ctl_on_procs },
	[MSG_CTL_SET] =		{ CP_ASK, ctl_on_set },
	[MSG_CTL_WATCH] =	{ CP_ASK, ctl_on_watch },
	[MSG_CTL_MASTER] =	{ CP_ASK, ctl_on_master },
	[MSG_CTL_POWER] =	{ CP_ASK, ctl_on_power },
	[MSG_EXEC] =		{ CP(TOOL), ctl_on_exec },
	[MSG_IO] =		{ CP(PROC), ctl_on_proc },
	[MSG_IO_ACK] =		{ CP(PROC), ctl_on_proc },
	[MSG_SIGNAL] =		{ CP(PROC), ctl_on_proc },
	[MSG_HOLD] =		{ CP(PROC), ctl_on_proc },	/* rejoin.c */
	[MSG_FORK_RESULT] =	{ CP(PROC), ctl_on_fork_result },
	/* migration (migrate.c): an image out, a move home's answers */
	[MSG_IMAGE] =		{ CP(PROC), ctl_on_proc },
	[MSG_IMAGE_ACK] =	{ CP(PROC) | CP(ENDED), ctl_on_blob },
	[MSG_IMAGE_RESULT] =	{ CP(PROC) | CP(ENDED), ctl_on_blob },
	[MSG_BLOB] =		{ CP(PROC) | CP(ENDED), ctl_on_blob },
	[MSG_GHOST] =		{ CP(PROC) | CP(ENDED), ctl_on_ghost },
	[MSG_GHOST_REJOIN] =	{ CP(TOOL), ctl_on_ghost_rejoin },
	[MSG_STANDIN] =		{ CP(TOOL) | CP(PROC) | CP(ENDED), ctl_on_standin },
};

static const struct proto_role ctl_role = { "control socket", DIR_T2M,
    ctl_routes };

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

	if (proto_dispatch(&ctl_role, ctl_phase(cc), cc, h, body, blen,
	    why) == 0)
		return 0;
	if (why[0] != '\0') {
		log_warnx_rl("control: uid %u pid %d: %s; closing",
		    (unsigned)cc->cred.uid, (int)cc->cred.pid, why);
		ctl_kill(cc, NULL);
	}
	return -1;
}

static void
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
 * A ghost's connection that the master made itself: the socketpair of a
 * ghost forked for a process forked on a node (tree.c), already p's.  It
 * counts against its uid like any ghost; it is checked and traced as
 * MSG_GHOST's are (the kernel gave us its credentials with its hello),
 * unless checked is the pidfd of that check done already (a spare child
 * ghost's, spare.c; ours on success), not -1.
 */
struct ctlconn *
ctl_adopt(int fd, const struct ucred *cred, struct proc *p, int checked)
{
	struct ctlconn	*cc;
	const char	*why = NULL;
	char		 peer[64];
	int		 pidfd;

	if (ctl_admit(cred->uid) != NULL)
		return NULL;
	if ((cc = calloc(1, sizeof(*cc))) == NULL ||
	    (cc->user = ctl_user_get(cred->uid, 1)) == NULL) {
		free(cc);
		return NULL;
	}
	cc->cred = *cred;
	cc->pidfd = -1;
	cc->kind = CTL_GHOST;
	snprintf(peer, sizeof(peer), "uid %u pid %d", (unsigned)cred->uid,
	    (int)cred->pid);
	conn_init(&cc->c, fd, peer, WIRE_MAX_FRAME, MASTER_CTL_OUTMAX);
	if (ev_add(fd, EPOLLIN, ctl_event, cc) == -1) {
		conn_free(&cc->c);
		ctl_user_put(cc->user);
		free(cc);
		return NULL;
	}
	cc->user->n[CTL_GHOST]++;
	cc->user->fds++;
	DLIST_INSERT_HEAD(&ctls, cc, all);
	nctls++;
	nctl_fds++;
	cc->proc = p;
	cc->pushed = 1;
	p->ghost = cc;
	p->pidfd = -1;
	/* a spare child ghost (spare.c) was checked while it waited */
	if ((pidfd = checked) >= 0 ||
	    (pidfd = hooks->check_ghost(cred->pid, cred->uid, fd, &why)) != -1) {
		cc->pidfd = pidfd;
		cc->user->fds++;
		nctl_fds++;
		hooks->ghost(p, pidfd);
	} else if (why != NULL)
		log_warnx_rl("control: child ghost %d: %s; untraced",
		    (int)cred->pid, why);
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

static void
ctl_idle(void *arg)
{
	struct ctlconn	*cc = arg;

	if (cc->kind == CTL_TOOL)
		ctl_kill(cc, "idle");
}

static void
ctl_accept(int fd, uint32_t events, void *arg)
{
	struct ctlconn	*cc;
	socklen_t	 len;
	char		 peer[64];
	int		 s;

	struct ucred	 cred;
	const char	*no;

	(void)events;
	(void)arg;
	if ((s = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1) {
		if (ev_out_of_fds(errno)) {
			log_warnx_rl("control accept: %s; not accepting for "
			    "%d ms", strerror(errno), MASTER_CTL_BACKOFF_MS);
			ev_listener_rest(&ctl_listener, MASTER_CTL_BACKOFF_MS);
		} else if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warn_rl("control accept");
		return;
	}
	len = sizeof(cred);
	if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		log_warn_rl("control: SO_PEERCRED");
		close(s);
		return;
	}
	if ((no = ctl_admit(cred.uid)) != NULL) {
		struct ctluser	*top = ctl_user_top(), *u;

		u = ctl_user_get(cred.uid, 0);
		log_warnx_rl("control: uid %u pid %d refused: %s (it holds %d "
		    "of %d; uid %u holds the most, %d)", (unsigned)cred.uid,
		    (int)cred.pid, no, u ? u->fds : 0, ctl_fd_slots(),
		    top ? (unsigned)top->uid : 0u, top ? top->fds : 0);
		close(s);
		return;
	}
	if ((cc = calloc(1, sizeof(*cc))) == NULL ||
	    (cc->user = ctl_user_get(cred.uid, 1)) == NULL) {
		free(cc);
		close(s);
		return;
	}
	cc->cred = cred;
	cc->pidfd = -1;
	cc->kind = CTL_TOOL;
	snprintf(peer, sizeof(peer), "uid %u pid %d", (unsigned)cc->cred.uid,
	    (int)cc->cred.pid);
	conn_init(&cc->c, s, peer, WIRE_MAX_FRAME, MASTER_CTL_OUTMAX);
	if (ev_add(s, EPOLLIN, ctl_event, cc) == -1) {
		conn_free(&cc->c);
		ctl_user_put(cc->user);
		free(cc);
		return;
	}
	cc->user->n[CTL_TOOL]++;
	cc->user->fds++;
	DLIST_INSERT_HEAD(&ctls, cc, all);
	nctls++;
	nctl_fds++;
	ev_timer_set(&cc->idle, MASTER_CTL_IDLE_MS, ctl_idle, cc);
}

int
ctl_listen(const struct ctl_hooks *h)
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
	hooks = h;
	ctl_started = ev_now();
	if (ev_after(ctl_reap) == -1)
		return -1;
	return ev_listener_init(&ctl_listener, ctl_fd, ctl_accept, NULL);
}

static void
ctl_notify_now(void *arg)
{
	unsigned char	 buf[64];
	struct wire_msg	 m;
	struct ctlconn	*cc, *next;

	(void)arg;
	generation++;
	DLIST_FOREACH_SAFE(cc, &ctls, all, next) {
		if (cc->kind != CTL_WATCHER || cc->dead)
			continue;
		/* a watcher that does not read is dropped, not buffered for */
		if (conn_pending(&cc->c) > 4096) {
			ctl_kill(cc, "watcher not reading");
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
	while (!DLIST_EMPTY(&ctls))
		ctl_close(DLIST_FIRST(&ctls));
	if (ctl_fd != -1) {
		close(ctl_fd);
		unlink(conf.control);
	}
}

/*
 * A ghost of the master before us, checked (rejoin.c, trace_check_ghost's
 * pidfd): from now on p's ghost, as MSG_GHOST makes one.
 */
void
ctl_ghost_rejoined(struct ctlconn *cc, struct proc *p, int pidfd)
{
	ctl_set_proc(cc, p);
	p->ghost = cc;
	cc->pidfd = pidfd;
	cc->user->fds++;
	nctl_fds++;
	ctl_set_kind(cc, CTL_GHOST);
	ev_timer_del(&cc->idle);
	hooks->ghost(p, pidfd);
}

/* A connection refused after its answer was sent: -1, as handlers say. */
int
ctl_refuse(struct ctlconn *cc)
{
	ctl_kill(cc, NULL);
	return -1;
}
