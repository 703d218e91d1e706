/*
 * Fuzz target for bpmaster's control-socket handlers (master/daemon/ctl.c
 * and the process space behind EXEC, master/daemon/proc.c): what any local
 * user can make the daemon do.  The input is
 *
 *	u8 setup, frames...
 *
 * fed to one connection as if read from its socket, then dispatched by
 * ctl_frames().  setup bits 0-1 pick the caller SO_PEERCRED would give
 * (0 root, 1 uid 1000, 2 uid 1001 who owns node 1, 3 nobody); bit 2 makes
 * every send to a node fail (the link died); bit 3 gives the connection a
 * 64-byte output queue, so replies overflow it.
 *
 * The connection is one end of a socketpair; what the daemon answers is
 * read from the other.  The node table is four nodes (0 up, owner root,
 * mode 0111; 1 up, owner 1001, mode 0100; 2 down; 3 booting); node.c and
 * trace.c are stubs here (no link is written, no ghost is ptraced), with
 * node.c's permission rule for states and power (root only).  ctl.c and
 * the other ctl_*.c are included so the connection can be made as
 * ctl_accept() makes one.
 *
 * Accepted means: every byte was a whole frame, the connection is still
 * open, and no reply carried an error (A_ERRNO non-zero).
 */
#include "master/daemon/ctl.c"
#include "master/daemon/ctl_accept.c"
#include "master/daemon/ctl_nodes.c"
#include "master/daemon/ctl_proc.c"
#include "master/daemon/ctl_routes.c"
#include "master/daemon/ctl_users.c"
#include "master/daemon/ctl_watch.c"

#include <fcntl.h>

#include "fuzz.h"
#include "nodeset.h"

#define FZ_NODES	4
#define FZ_GHOST_PID	4242	/* the caller's pid: no process of ours */

struct master_conf	 conf;
struct node		*nodes;
int			 numnodes;
unsigned char		 cluster_key[AUTH_KEY_LEN];

static struct node	 fz_nodes[FZ_NODES];
static int		 fz_link_dead;
static unsigned		 fz_sent;
static char		 fz_link;	/* what a node's link points at: nothing */

int
node_send(struct node *n, struct wire_msg *m)
{
	if (n->link == NULL || wire_msg_finish(m) == 0 || fz_link_dead)
		return -1;
	fz_sent++;
	return 0;
}

size_t
node_queued(int num)
{
	(void)num;
	return 0;
}

int
node_set_state(struct node *n, int state, uid_t uid, const char **why)
{
	if (uid != 0) {
		*why = "Permission denied";
		errno = EPERM;
		return -1;
	}
	if (state != NODE_UP && state != NODE_UNAVAILABLE &&
	    state != NODE_ERROR) {
		*why = "Invalid state";
		errno = EINVAL;
		return -1;
	}
	if (n->state == NODE_DOWN) {
		*why = "Node is down";
		errno = EHOSTDOWN;
		return -1;
	}
	n->state = state;
	return 0;
}

int
node_power(struct node *n, int how, uid_t uid, const char **why)
{
	(void)n;
	if (uid != 0) {
		*why = "Permission denied";
		errno = EPERM;
		return -1;
	}
	if (how < POWER_REBOOT || how > POWER_OFF) {
		*why = "Invalid power action";
		errno = EINVAL;
		return -1;
	}
	return 0;
}

uint32_t node_rtt_us(const struct node *n) { (void)n; return 0; }
int	trace_init(void) { return 0; }
int	trace_check_ghost(pid_t pid, uid_t uid, int fd, const char **why)
	    { (void)pid; (void)uid; (void)fd; (void)why; return 0; }
void	trace_ghost(struct proc *p, int fd) { (void)fd; p->traced = 0; }
void	trace_forget(struct proc *p) { (void)p; }
int	trace_stop_ghost(struct proc *p) { (void)p; return -1; }
void	trace_cont_ghost(struct proc *p) { (void)p; }
void	trace_release(struct proc *p) { (void)p; }
void	trace_let_go(struct proc *p) { (void)p; }

static void
fz_table(void)
{
	static const struct { int state; uid_t uid; unsigned mode; } t[FZ_NODES] = {
		{ NODE_UP, 0, 0111 }, { NODE_UP, 1001, 0100 },
		{ NODE_DOWN, 0, 0100 }, { NODE_BOOT, 0, 0100 },
	};

	memset(fz_nodes, 0, sizeof(fz_nodes));
	for (int i = 0; i < FZ_NODES; i++) {
		fz_nodes[i].num = i;
		fz_nodes[i].state = t[i].state;
		fz_nodes[i].uid = t[i].uid;
		fz_nodes[i].gid = t[i].uid;
		fz_nodes[i].mode = t[i].mode;
		snprintf(fz_nodes[i].addr, sizeof(fz_nodes[i].addr),
		    "10.0.0.%d", 10 + i);
		if (t[i].state != NODE_DOWN)
			fz_nodes[i].link = (struct nodelink *)&fz_link;
	}
	nodes = fz_nodes;
	numnodes = FZ_NODES;
}

/* The replies: CTL_RESULT, EXEC_RESULT or CTL_END with an error refuse. */
static unsigned
fz_refusals(int fd)
{
	static unsigned char	 buf[1 << 20];
	struct wire_hdr		 h;
	struct wire_iter	 it;
	struct wire_attr	 a;
	const char		*why;
	size_t			 len = 0, off = 0;
	ssize_t			 n;
	unsigned		 bad = 0;

	while (len < sizeof(buf) &&
	    (n = read(fd, buf + len, sizeof(buf) - len)) > 0)
		len += (size_t)n;
	while (wire_hdr_decode(buf + off, len - off, WIRE_MAX_FRAME, &h,
	    &why) == 1 && h.len <= len - off) {
		wire_iter_init(&it, buf + off + WIRE_HDR_LEN,
		    h.len - WIRE_HDR_LEN);
		while (wire_iter_next(&it, &a) == 1)
			if (a.type == A_ERRNO && a.len == 4 &&
			    wire_get_u32(&a) != 0)
				bad++;
		off += h.len;
	}
	return bad;
}

/* What bpmaster.c hands the control socket: the process space's calls. */
static void
fz_exec(struct ctlconn *cc, const struct ucred *cred,
    const struct proto_frame *f)
{
	proc_exec(cc, cred, f->tb, f->body, f->len);
}

static int
fz_from_ghost(struct proc *p, const struct proto_frame *f)
{
	return proc_from_ghost(p, f->h, f->tb, f->body, f->len);
}

static void
fz_ghost_gone(struct proc *p)
{
	trace_forget(p);
	proc_ghost_gone(p);
}

static const struct ctl_hooks fz_hooks = {
	.exec = fz_exec,
	.from_ghost = fz_from_ghost,
	.ghost_gone = fz_ghost_gone,
	.procs = proc_list,
	.check_ghost = trace_check_ghost,
	.ghost = trace_ghost,
	.fork_result = tree_from_ghost,
	.conn_gone = power_ctl_gone,
};

static int
fz_alive(const struct ctlconn *cc)
{
	const struct ctlconn	*c;

	DLIST_FOREACH(c, &ctls, all)
		if (c == cc)
			return 1;
	return 0;
}

int
fuzz_verdict(const uint8_t *data, size_t size)
{
	static const uid_t	 uids[4] = { 0, 1000, 1001, 65534 };
	static int		 ready;
	struct ctlconn		*cc;
	int			 sv[2], ok, alive;
	unsigned		 setup;

	if (!ready) {
		if (ev_init() == -1)
			abort();
		signal(SIGPIPE, SIG_IGN);
		ctl_proc_hooks = &fz_hooks;
		ctl_table = &ctl_role;
		proc_wire_hooks();
		ready = 1;
	}
	if (size < 1)
		return 0;
	setup = data[0];
	fz_table();
	fz_link_dead = (setup & 0x04) != 0;
	fz_sent = 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) == -1 || (cc = calloc(1, sizeof(*cc))) == NULL)
		abort();
	cc->cred.uid = uids[setup & 3];
	cc->cred.gid = uids[setup & 3];
	cc->cred.pid = FZ_GHOST_PID;
	/* what ctl_accept does once SO_PEERCRED said who it is */
	if ((cc->user = ctl_user_get(cc->cred.uid, 1)) == NULL)
		abort();
	cc->pidfd = -1;
	cc->kind = CTL_TOOL;
	conn_init(&cc->c, sv[0], "fuzz", WIRE_MAX_FRAME,
	    (setup & 0x08) ? 64 : MASTER_CTL_OUTMAX);
	if (ev_add(sv[0], EPOLLIN, ctl_event, cc) == -1)
		abort();
	cc->user->n[CTL_TOOL]++;
	cc->user->fds++;
	DLIST_INSERT_HEAD(&ctls, cc, all);
	nctls++;
	nctl_fds++;
	ev_timer_set(&cc->idle, MASTER_CTL_IDLE_MS, ctl_idle, cc);

	/* the bytes as conn_read would have left them */
	cc->c.incap = size > 1 ? size - 1 : 1;
	if ((cc->c.in = malloc(cc->c.incap)) == NULL)
		abort();
	memcpy(cc->c.in, data + 1, size - 1);
	cc->c.inlen = size - 1;
	ctl_frames(cc);

	alive = fz_alive(cc);
	ok = alive && !cc->dead && cc->c.inlen == cc->c.inskip;
	if (alive)
		conn_flush(&cc->c);
	ok = fz_refusals(sv[1]) == 0 && ok;

	/* every node goes down (its ghosts hear so), then the tool goes */
	for (int i = 0; i < numnodes; i++)
		proc_node_down(&nodes[i]);
	if (fz_alive(cc))
		ctl_close(cc);
	close(sv[1]);
	ev_timer_del(&ctl_notify_timer);
	return ok;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_verdict(data, size);
	return 0;
}
