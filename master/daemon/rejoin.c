/*
 * A master restart loses nothing (issue 13).  The old master's process
 * table is rebuilt from both halves of every process: nodes report what
 * they kept (MSG_REJOIN, after WELCOME, then MSG_REJOIN_END), ghosts
 * reconnect to the same control socket and say who they are
 * (MSG_GHOST_REJOIN).  A ghost proves itself as at first: the kernel names
 * its PID and uid (SO_PEERCRED), trace_check_ghost() checks it is bpghost
 * and holds this very socket, and it may only claim a process the node
 * reports for that PID and uid.  When both halves are here they are
 * resumed (MSG_RESUME): the node sends again the output the ghost did
 * not write, the ghost the stdin the node did not get, and the ghost's
 * queued signals follow.  A half whose other half does not come back
 * within master_grace is ended: the node's process is reaped (killed),
 * the ghost exits killed by SIGKILL with a message saying why.
 *
 * A node whose link is lost while we run (a pulled cable, a switch that
 * reboots) keeps its processes the same way, since from its side nothing
 * tells the two apart; here its ghosts are still connected, so each is
 * told to hold (MSG_HOLD: it stops reading stdin and queues its
 * signals, and answers HOLD, after which nothing it sent before can
 * come) and waits for the node as after a restart, with what we sent it
 * (proc.fwd) as its output offsets.  nodelink.c decides which closes
 * are a lost link and which a dead node (node_hooks.lost).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bpmaster.h"
#include "log.h"

#define REJOIN_GHOST_MS	3000	/* a ghost's second chance after its node came late */
#define REJOIN_TICK_MS	250	/* how often the deadlines are looked at */
#define REJOIN_SIGQ	16	/* signals kept for a process whose node is away */

/* What one half said, until the other half comes. */
struct rejoin {
	int		 has_node, has_ghost;
	uint64_t	 deadline;	/* ev_now() when the missing half is given up */
	uint64_t	 out, err;	/* the ghost: output bytes it wrote */
	uint64_t	 in, indone;	/* the node: stdin received, written */
	int		 ineof;
	int		 lost;		/* its node's link was lost, not our restart */
	int		 sigs[REJOIN_SIGQ];	/* for the node, in order */
	int		 nsigs;
};

static uint64_t		 started;	/* ev_now() of our start */
static unsigned char	 node_proto[MASTER_MAXNODES];	/* its HELLO's version */
static unsigned char	 node_done[MASTER_MAXNODES];	/* REJOIN_END seen */
static struct ev_timer	 tick;
static int		 npending;
static int		 nwaiting[MASTER_MAXNODES];	/* per node: of a lost link, not back */

static void	rejoin_tick(void *);

void
rejoin_init(void)
{
	started = ev_now();
}

static struct rejoin *
rejoin_get(struct proc *p, uint64_t deadline)
{
	if (p->rj == NULL) {
		if ((p->rj = calloc(1, sizeof(*p->rj))) == NULL)
			return NULL;
		p->rj->deadline = deadline;
		npending++;
		if (!tick.armed)
			ev_timer_set(&tick, REJOIN_TICK_MS, rejoin_tick, NULL);
	}
	return p->rj;
}

/* nwaiting counts what waits for a lost link: lost, node not back. */
static void
rejoin_count(const struct proc *p, int d)
{
	if (p->rj->lost && !p->rj->has_node && p->node >= 0 &&
	    p->node < MASTER_MAXNODES)
		nwaiting[p->node] += d;
}

void
rejoin_free(struct proc *p)
{
	if (p->rj == NULL)
		return;
	rejoin_count(p, -1);
	free(p->rj);
	p->rj = NULL;
	npending--;
}

/* The ghost's process is gone for good: it exits as if SIGKILLed, saying why. */
static void
rejoin_ghost_lost(struct ctlconn *cc, pid_t pid, const char *why)
{
	unsigned char	buf[512];
	struct wire_msg	m;

	wire_msg_init(&m, buf, sizeof(buf), MSG_EXIT, 0, 0);
	wire_put_u32(&m, A_PID, (uint32_t)pid);
	wire_put_u32(&m, A_STATUS, SIGKILL);
	wire_put_str(&m, A_MSG, why);
	ctl_send_msg(cc, &m);
}

static void
rejoin_node_msg(struct proc *p, int type)
{
	unsigned char	buf[64];
	struct wire_msg	m;

	if (p->node < 0 || p->node >= numnodes ||
	    node_proto[p->node] < BPROC_VERSION_REJOIN)
		return;
	wire_msg_init(&m, buf, sizeof(buf), type, 0, 0);
	wire_put_u32(&m, A_PID, (uint32_t)p->pid);
	if (type == MSG_RESUME && p->rj != NULL) {
		wire_put_u64(&m, A_OFF_OUT, p->rj->out);
		wire_put_u64(&m, A_OFF_ERR, p->rj->err);
	}
	node_send(&nodes[p->node], &m);
}

/* Its ghost has the exit or is gone: the node may forget an ended process. */
void
rejoin_reap(struct proc *p)
{
	if (p->exited && !p->child && p->started)
		rejoin_node_msg(p, MSG_REAP);
}

/* Both halves are here: each sends on from where the other is. */
static void
rejoin_match(struct proc *p)
{
	unsigned char	buf[128];
	struct wire_msg	m;

	log_debug("process %d on node %d: ghost and process back", (int)p->pid,
	    p->node);
	rejoin_node_msg(p, MSG_RESUME);
	p->fwd[1] = p->rj->out;
	p->fwd[2] = p->rj->err;
	for (int i = 0; i < p->rj->nsigs; i++) {
		wire_msg_init(&m, buf, sizeof(buf), MSG_SIGNAL, 0, 0);
		wire_put_u32(&m, A_PID, (uint32_t)p->pid);
		wire_put_u32(&m, A_SIG, (uint32_t)p->rj->sigs[i]);
		node_send(&nodes[p->node], &m);
	}
	wire_msg_init(&m, buf, sizeof(buf), MSG_RESUME, 0, 0);
	wire_put_u32(&m, A_PID, (uint32_t)p->pid);
	wire_put_u64(&m, A_OFF_IN, p->rj->in);
	wire_put_u64(&m, A_OFF_INDONE, p->rj->indone);
	if (p->rj->ineof)
		wire_put_u8(&m, A_EOF, 1);
	wire_put_u32(&m, A_GRACE, conf.grace_ms);
	if (p->ghost != NULL)
		ctl_send_msg(p->ghost, &m);
	rejoin_free(p);
	ctl_notify();
}

/* The command line of a ghost, which shows the remote's (bpstat -p's). */
static void
rejoin_ghost_cmd(pid_t pid, char *buf, size_t len)
{
	char	path[64];
	ssize_t	n = 0, i;
	int	fd;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1) {
		n = read(fd, buf, len - 1);
		close(fd);
	}
	if (n <= 0)
		n = snprintf(buf, len, "?");
	for (i = 0; i < n; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	while (n > 0 && buf[n - 1] == ' ')
		n--;
	buf[n] = '\0';
}

/*
 * MSG_GHOST_REJOIN on a new control connection.  Returns -1 when the
 * connection was closed.
 */
int
rejoin_ghost(struct ctlconn *cc, const struct ucred *cred, int fd,
    struct wire_attr *tb)
{
	struct proc	*p;
	const char	*why = NULL;
	char		 cmd[1001], msg[160];
	uint32_t	 num = wire_get_u32(&tb[A_NODE]);
	uint32_t	 flags = tb[A_FLAGS].data ? wire_get_u32(&tb[A_FLAGS]) : 0;
	int		 pidfd;

	if ((pidfd = trace_check_ghost(cred->pid, cred->uid, fd, &why)) == -1) {
		log_warnx_rl("control: uid %u pid %d: rejoin refused: %s",
		    (unsigned)cred->uid, (int)cred->pid, why ? why : "gone");
		rejoin_ghost_lost(cc, cred->pid, "bpmaster: not a ghost; refused");
		return ctl_refuse(cc);
	}
	p = proc_find(cred->pid);
	if (num >= (uint32_t)numnodes || (p != NULL && (p->ghost != NULL ||
	    p->node != (int)num || p->uid != cred->uid || p->rj == NULL ||
	    p->rj->has_ghost))) {
		close(pidfd);
		log_warnx_rl("control: uid %u pid %d: claims a process on node "
		    "%u that is not its own; refused", (unsigned)cred->uid,
		    (int)cred->pid, num);
		rejoin_ghost_lost(cc, cred->pid, "bpmaster: no such process of "
		    "yours after the restart");
		return ctl_refuse(cc);
	}
	if (p == NULL && node_done[num]) {
		close(pidfd);
		snprintf(msg, sizeof(msg), "process lost in the master "
		    "restart: node %u did not report it", num);
		rejoin_ghost_lost(cc, cred->pid, msg);
		return ctl_refuse(cc);
	}
	if (p == NULL) {
		/* here first: the node has until the grace ends */
		rejoin_ghost_cmd(cred->pid, cmd, sizeof(cmd));
		if ((p = proc_add(cred->pid, (int)num, cred->uid, cmd)) == NULL) {
			close(pidfd);
			return ctl_refuse(cc);
		}
		p->started = 1;
		p->child = p->forked = (flags & REJOIN_F_CHILD) != 0;
	}
	if (rejoin_get(p, started + conf.grace_ms) == NULL) {
		close(pidfd);
		return ctl_refuse(cc);
	}
	p->rj->has_ghost = 1;
	p->rj->out = tb[A_OFF_OUT].data ? wire_get_u64(&tb[A_OFF_OUT]) : 0;
	p->rj->err = tb[A_OFF_ERR].data ? wire_get_u64(&tb[A_OFF_ERR]) : 0;
	ctl_ghost_rejoined(cc, p, pidfd);
	if (p->rj->has_node)
		rejoin_match(p);
	return 0;
}

static void
rejoin_report(struct node *n, struct wire_attr *tb)
{
	pid_t		 pid = (pid_t)wire_get_u32(&tb[A_PID]);
	uid_t		 uid = wire_get_u32(&tb[A_UID]);
	uint32_t	 flags = tb[A_FLAGS].data ? wire_get_u32(&tb[A_FLAGS]) : 0;
	const char	*cmd = tb[A_ARG].data ? wire_get_str(&tb[A_ARG]) : "?";
	struct proc	*p = proc_find(pid);
	uint64_t	 dl = started + conf.grace_ms;
	char		*c;

	if (p != NULL && (p->rj == NULL || p->rj->has_node ||
	    p->node != n->num || p->uid != uid)) {
		log_warnx("node %d: reports process %d (uid %u), which is not "
		    "the one here; ending it", n->num, (int)pid, (unsigned)uid);
		if (p->rj != NULL && p->ghost != NULL && !p->rj->has_node)
			rejoin_ghost_lost(p->ghost, pid, "bpmaster: the node's "
			    "process of this PID is someone else's");
		{
			struct proc	tmp = { .pid = pid, .node = n->num };

			rejoin_node_msg(&tmp, MSG_REAP);
		}
		return;
	}
	if (p == NULL && (p = proc_add(pid, n->num, uid, cmd)) == NULL)
		return;
	if (dl < ev_now() + REJOIN_GHOST_MS)
		dl = ev_now() + REJOIN_GHOST_MS;
	if (rejoin_get(p, dl) == NULL)
		return;
	if ((c = strdup(cmd)) != NULL) {
		free(p->cmd);
		p->cmd = c;
	}
	p->rpid = tb[A_RPID].data ? (pid_t)wire_get_u32(&tb[A_RPID]) : pid;
	p->started = 1;
	p->exited = (flags & REJOIN_F_EXITED) != 0;
	p->child = p->forked = (flags & REJOIN_F_CHILD) != 0;
	p->rstopped = (flags & REJOIN_F_STOPPED) != 0;
	if (tb[A_PPID].data)
		p->ppid = (pid_t)wire_get_u32(&tb[A_PPID]);
	rejoin_count(p, -1);
	p->rj->has_node = 1;
	p->rj->in = tb[A_OFF_IN].data ? wire_get_u64(&tb[A_OFF_IN]) : 0;
	p->rj->indone = tb[A_OFF_INDONE].data ?
	    wire_get_u64(&tb[A_OFF_INDONE]) : 0;
	p->rj->ineof = tb[A_EOF].data != NULL;
	if (p->rj->has_ghost)
		rejoin_match(p);
}

/* After the node's last REJOIN: ghosts still waiting for it wait in vain. */
static void
rejoin_end_one(struct proc *p, void *arg)
{
	struct node	*n = arg;
	char		 msg[160];

	if (p->node != n->num || p->rj == NULL || p->rj->has_node)
		return;
	if (p->rj->lost)
		snprintf(msg, sizeof(msg), "node %d came back without this "
		    "process (it rebooted?)", n->num);
	else
		snprintf(msg, sizeof(msg), "process lost in the master "
		    "restart: node %d did not report it", n->num);
	p->exited = 1;
	rejoin_free(p);
	if (p->ghost != NULL)
		rejoin_ghost_lost(p->ghost, p->pid, msg);
}

/* Node -> master: MSG_REJOIN, MSG_REJOIN_END. */
int
rejoin_from_node(struct node *n, const struct proto_frame *f)
{
	struct wire_attr	*tb = f->tb;

	if (f->h->type == MSG_REJOIN) {
		rejoin_report(n, tb);
		return 0;
	}
	if (wire_get_u32(&tb[A_COUNT]) > 0)
		log_info("node %d: %u processes kept while it was away",
		    n->num, wire_get_u32(&tb[A_COUNT]));
	node_done[n->num] = 1;
	proc_foreach(rejoin_end_one, n);
	ctl_notify();
	return 0;
}

/*
 * HELLO: which protocol the node speaks decides what it is sent; its
 * WELCOME says how long nodes keep processes alone.
 */
void
rejoin_hello(struct node *n, struct wire_attr *tb, struct wire_msg *welcome)
{
	wire_put_u32(welcome, A_GRACE, conf.grace_ms);
	wire_put_u32(welcome, A_ALONE_REBOOT, conf.alone_reboot_ms);
	node_proto[n->num] = tb[A_VERSION].data ?
	    (unsigned char)wire_get_u32(&tb[A_VERSION]) : 1;
	node_done[n->num] = 0;
	/* an older node keeps nothing: it reports nothing either */
	if (node_proto[n->num] < BPROC_VERSION_REJOIN) {
		node_done[n->num] = 1;
		proc_foreach(rejoin_end_one, n);
	}
}

static void
rejoin_expire(struct proc *p, void *arg)
{
	char	msg[160];

	(void)arg;
	if (p->rj == NULL || ev_now() < p->rj->deadline)
		return;
	if (!p->rj->has_ghost) {
		log_warnx("process %d on node %d: its ghost did not come back "
		    "within master_grace; ending it", (int)p->pid, p->node);
		rejoin_free(p);
		rejoin_node_msg(p, MSG_REAP);
		p->exited = 0;		/* reaped already, and not twice */
		p->started = 0;
		proc_forget(p);
		return;
	}
	if (p->rj->lost)
		snprintf(msg, sizeof(msg), "node %d was out of reach longer "
		    "than master_grace (%u s); the process is ended there",
		    p->node, conf.grace_ms / 1000);
	else
		snprintf(msg, sizeof(msg), "node %d did not come back within "
		    "master_grace (%u s) after the master restart", p->node,
		    conf.grace_ms / 1000);
	p->exited = 1;
	rejoin_free(p);
	if (p->ghost != NULL)
		rejoin_ghost_lost(p->ghost, p->pid, msg);
}

static void
rejoin_tick(void *arg)
{
	(void)arg;
	proc_foreach(rejoin_expire, NULL);
	if (npending > 0)
		ev_timer_set(&tick, REJOIN_TICK_MS, rejoin_tick, NULL);
}

/* Does p wait for its node to report it (a restart, a lost link)? */
int
rejoin_waits_node(const struct proc *p)
{
	return p->rj != NULL && !p->rj->has_node;
}

/*
 * A signal for a process whose node is away: sent when it is back, in
 * order, one of each standard signal pending at most (the kernel's
 * rule).  -1 when it cannot be kept.
 */
int
rejoin_queue_sig(struct proc *p, int sig)
{
	int	i;

	if (p->rj == NULL)
		return -1;
	for (i = 0; i < p->rj->nsigs && sig < 32; i++)
		if (p->rj->sigs[i] == sig)
			return 0;
	if (p->rj->nsigs == REJOIN_SIGQ) {
		log_warnx_rl("process %d: signal %d lost: too many while node "
		    "%d is away", (int)p->pid, sig, p->node);
		return -1;
	}
	p->rj->sigs[p->rj->nsigs++] = sig;
	return 0;
}

/*
 * What a ghost sends while it is held: its answer to MSG_HOLD ends what
 * it sent before; stdin and acknowledgements of before are dropped (the
 * node says where its stdin is, and counts what we sent the ghost as
 * written), signals wait for the node.  1 when the frame is taken here.
 */
int
rejoin_from_ghost(struct proc *p, const struct wire_hdr *h,
    struct wire_attr *tb)
{
	if (h->type == MSG_HOLD) {
		if (p->holding > 0)
			p->holding--;
		return 1;
	}
	if (h->type == MSG_SIGNAL && p->rj != NULL) {
		rejoin_queue_sig(p, (int)wire_get_u32(&tb[A_SIG]));
		return 1;
	}
	if ((h->type == MSG_IO || h->type == MSG_IO_ACK) &&
	    (p->holding > 0 || p->rj != NULL))
		return 1;
	return 0;
}

static void
rejoin_hold(struct proc *p, void *arg)
{
	struct node	*n = arg;
	unsigned char	 buf[64];
	struct wire_msg	 m;

	if (p->node != n->num)
		return;
	if (p->rj != NULL) {
		/* half back after a restart: now the node is away again */
		rejoin_count(p, -1);
		if (p->rj->has_node) {
			p->rj->has_node = 0;
			p->rj->deadline = ev_now() + conf.grace_ms;
		}
		p->rj->lost = 1;
		rejoin_count(p, 1);
		return;
	}
	/* not started, ended, or going home: "Node is down" (proc.c) */
	if (!p->started || p->exited || p->ghost == NULL || p->home)
		return;
	if (rejoin_get(p, ev_now() + conf.grace_ms) == NULL)
		return;
	p->rj->has_ghost = 1;
	p->rj->lost = 1;
	p->rj->out = p->fwd[1];
	p->rj->err = p->fwd[2];
	rejoin_count(p, 1);
	wire_msg_init(&m, buf, sizeof(buf), MSG_HOLD, 0, 0);
	wire_put_u32(&m, A_PID, (uint32_t)p->pid);
	if (ctl_send_msg(p->ghost, &m) == 0)
		p->holding++;
}

/*
 * Node n's link is closing and n still lives (nodelink.c says): its
 * processes' ghosts wait for it, as after a restart, unless it cannot
 * keep processes (no grace, an older nodeinit).
 */
void
rejoin_node_lost(struct node *n, const char *why)
{
	if (conf.grace_ms == 0 || node_proto[n->num] < BPROC_VERSION_REJOIN)
		return;
	proc_foreach(rejoin_hold, n);
	if (nwaiting[n->num] > 0)
		log_warnx("node %d: link lost (%s); its %d processes wait for "
		    "it up to master_grace (%u s)", n->num, why,
		    nwaiting[n->num], conf.grace_ms / 1000);
}

struct rejoin_off {
	int		 num;
	char		 why[160];
};

static void
rejoin_off_one(struct proc *p, void *arg)
{
	struct rejoin_off	*o = arg;

	if (p->rj == NULL || !p->rj->lost || p->rj->has_node ||
	    p->node != o->num)
		return;
	p->exited = 1;
	rejoin_free(p);
	if (p->ghost != NULL)
		rejoin_ghost_lost(p->ghost, p->pid, o->why);
}

/*
 * Node num is off or reset, its BMC says (power.c): a lost link's
 * processes went with it, so their ghosts need not wait out the grace.
 */
void
rejoin_node_off(int num, const char *what)
{
	struct rejoin_off	o = { .num = num };

	if (num < 0 || num >= numnodes || nodes[num].link != NULL ||
	    nwaiting[num] == 0)
		return;
	log_warnx("node %d: %s: ending the %d processes that waited for it",
	    num, what, nwaiting[num]);
	snprintf(o.why, sizeof(o.why), "node %d: %s", num, what);
	proc_foreach(rejoin_off_one, &o);
}
