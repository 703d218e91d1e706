/*
 * The cluster's process space on the master side.  Each remote process
 * has a ghost: a front-end process (bpghost) connected to our control
 * socket, whose PID, taken from SO_PEERCRED, names the process everywhere.
 * This file is the process table, and the relay of I/O, signals, stops
 * and the exit between ghost and node; a process starts in proc_launch.c.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "bpmaster.h"
#include "log.h"

#define PROC_HASH	1024	/* buckets of the PID table */

struct proc_hooks	 proc_hooks;	/* proc_wire.c fills it in */
static struct proc	*proc_hash[PROC_HASH];
static int		 nprocs;

static struct proc **
proc_bucket(pid_t pid)
{
	return &proc_hash[(unsigned int)pid % PROC_HASH];
}

struct proc *
proc_find(pid_t pid)
{
	struct proc	*p;

	for (p = *proc_bucket(pid); p != NULL; p = p->next)
		if (p->pid == pid)
			return p;
	return NULL;
}

int
proc_signal_remote(struct proc *p, int sig)
{
	unsigned char	buf[64];
	struct wire_msg	m;

	/* its node is away (rejoin.c): the signal goes when it is back */
	if (proc_hooks.waits_node(p))
		return proc_hooks.queue_sig(p, sig) == 0 && !p->exited ? 0 : -1;
	if (nodes[p->node].link == NULL)
		return -1;
	wire_msg_init(&m, buf, sizeof(buf), MSG_SIGNAL, 0, 0);
	wire_put_u32(&m, A_PID, (uint32_t)p->pid);
	wire_put_u32(&m, A_SIG, (uint32_t)sig);
	if (node_send(&nodes[p->node], &m) == -1)
		return -1;
	/* the node answers with a stop or an exit only for a started one */
	return p->started && !p->exited ? 0 : -1;
}

static void
proc_free(struct proc *p)
{
	struct proc	**pp;

	for (pp = proc_bucket(p->pid); *pp != NULL; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	proc_hooks.freed(p);
	if (p->ghost != NULL)
		ctl_set_proc(p->ghost, NULL);
	free(p->cmd);
	free(p);
	nprocs--;
}

/* The process came home (migrate.c): its ghost is the process itself now. */
void
proc_came_home(struct proc *p)
{
	proc_hooks.came_home(p);
	proc_free(p);
}

/* EXEC refused (proc_launch.c), or the node went down before it ran. */
void
proc_fail(struct ctlconn *cc, pid_t pid, int e, const char *msg)
{
	unsigned char	buf[512];
	struct wire_msg	m;

	wire_msg_init(&m, buf, sizeof(buf), MSG_EXEC_RESULT, WIRE_F_REPLY, 0);
	wire_put_u32(&m, A_PID, (uint32_t)pid);
	wire_put_u32(&m, A_ERRNO, (uint32_t)e);
	wire_put_str(&m, A_MSG, msg);
	ctl_send_msg(cc, &m);
}

/* A process record in the table (proc_launch.c fills it). */
void
proc_insert(struct proc *p)
{
	p->next = *proc_bucket(p->pid);
	*proc_bucket(p->pid) = p;
	nprocs++;
}

/* The ghost went away (exited, or was SIGKILLed): end the remote too. */
void
proc_ghost_gone(struct proc *p)
{
	unsigned char	buf[64];
	struct wire_msg	m;
	struct node	*n = &nodes[p->node];

	p->ghost = NULL;
	if (p->exited) {
		proc_free(p);
		return;
	}
	/* its move home's end, whose word did not come first (migrate.c) */
	if (proc_hooks.ghost_gone(p))
		return;
	/* keep the record until the node reports the exit */
	if (n->link != NULL) {
		wire_msg_init(&m, buf, sizeof(buf), MSG_SIGNAL, 0, 0);
		wire_put_u32(&m, A_PID, (uint32_t)p->pid);
		wire_put_u32(&m, A_SIG, 9);
		node_send(n, &m);
	} else
		proc_free(p);
}

/*
 * Ghost -> node: stdin, acks for stdout/stderr, signals, and the blobs the
 * tool sends before it becomes the ghost.  Returns -1 when the frame cannot
 * be relayed (a blob frame over BLOB_CHUNK or BLOB_PIECES): the caller
 * closes the ghost, whose oversized frame must not reach, or break, the
 * node link.
 */
int
proc_from_ghost(struct proc *p, const struct wire_hdr *h, struct wire_attr *tb,
    const unsigned char *body, size_t blen)
{
	/* static: a blob frame is too large for the stack; one loop, one user */
	static unsigned char	 buf[BLOB_FRAME];
	struct wire_msg		 m;
	struct wire_iter	 it;
	struct wire_attr	 a;
	struct node		*n = &nodes[p->node];
	size_t			 data = 0, pieces = 0;

	if (h->type == MSG_IMAGE || h->type == MSG_IMAGE_ACK ||
	    h->type == MSG_IMAGE_RESULT)
		return proc_hooks.migrate_ghost(p, h, tb, body, blen);
	/* held while its node is away (rejoin.c) */
	if (proc_hooks.hold_ghost(p, h, tb))
		return 0;
	if (p->exited || n->link == NULL)
		return 0;
	wire_msg_init(&m, buf, sizeof(buf), h->type, 0, 0);
	/* the ghost speaks only for itself, whatever A_PID it wrote */
	wire_put_u32(&m, A_PID, (uint32_t)p->pid);
	switch (h->type) {
	case MSG_IO:
		wire_put_u8(&m, A_STREAM, 0);
		if (tb[A_DATA].data)
			wire_put(&m, A_DATA, tb[A_DATA].data, tb[A_DATA].len);
		if (tb[A_EOF].data)
			wire_put_u8(&m, A_EOF, wire_get_u8(&tb[A_EOF]));
		break;
	case MSG_IO_ACK:
		wire_put_u8(&m, A_STREAM, wire_get_u8(&tb[A_STREAM]));
		wire_put_u32(&m, A_BYTES, wire_get_u32(&tb[A_BYTES]));
		break;
	case MSG_SIGNAL:
		log_debug("ghost %d: signal %u, to the remote", (int)p->pid,
		    wire_get_u32(&tb[A_SIG]));
		wire_put_u32(&m, A_SIG, wire_get_u32(&tb[A_SIG]));
		/* a tty ghost's SIGWINCH carries the new size for the pty */
		if (tb[A_ROWS].data && tb[A_COLS].data) {
			wire_put_u16(&m, A_ROWS, wire_get_u16(&tb[A_ROWS]));
			wire_put_u16(&m, A_COLS, wire_get_u16(&tb[A_COLS]));
		}
		break;
	case MSG_BLOB:
		/* only while the node is still collecting files */
		if (p->started)
			return 0;
		wire_put(&m, A_HASH, tb[A_HASH].data, 32);
		/* every A_DATA, in order, as many as the node takes */
		wire_iter_init(&it, body, blen);
		while (wire_iter_next(&it, &a) == 1) {
			if (a.type != A_DATA || a.len == 0)
				continue;
			data += a.len;
			if (data > BLOB_CHUNK || ++pieces > BLOB_PIECES)
				return -1;
			wire_put(&m, A_DATA, a.data, a.len);
		}
		if (tb[A_EOF].data)
			wire_put_u8(&m, A_EOF, wire_get_u8(&tb[A_EOF]));
		break;
	default:
		return 0;
	}
	if (m.overflow)
		return -1;
	n->push_bytes += data;
	node_send(n, &m);
	return 0;
}

/*
 * EXEC_RESULT from the node: the process runs (or an image's second
 * answer: the restorer took it), or it failed.  1 when the frame ends
 * here, -1 on a failed send, 0 to relay it to the ghost.
 */
static int
proc_node_result(struct node *n, struct proc *p, struct wire_attr *tb)
{
	unsigned char	 buf[64];
	struct wire_msg	 m;

	if (p->started && wire_get_u32(&tb[A_ERRNO]) == 0)
		proc_hooks.runs(p);
	if (wire_get_u32(&tb[A_ERRNO]) != 0)
		p->exited = 1;
	else if (tb[A_RPID].data)
		p->rpid = (pid_t)wire_get_u32(&tb[A_RPID]);
	p->started = 1;
	if (p->exited && p->ghost == NULL) {
		proc_free(p);
		return 1;
	}
	if (p->ghost == NULL) {
		/* the ghost died while the request was in flight */
		wire_msg_init(&m, buf, sizeof(buf), MSG_SIGNAL, 0, 0);
		wire_put_u32(&m, A_PID, (uint32_t)p->pid);
		wire_put_u32(&m, A_SIG, 9);
		return node_send(n, &m) == -1 ? -1 : 1;
	}
	return 0;
}

/* MSG_STOPPED: the ghost stops and runs as the remote does (1: done). */
static int
proc_node_stopped(struct node *n, struct proc *p, struct wire_attr *tb)
{
	p->rstopped = wire_get_u32(&tb[A_SIG]) != 0;
	proc_hooks.stopped(p, wire_get_u32(&tb[A_SIG]));
	log_debug("process %d on node %d %s (signal %u)", (int)p->pid,
	    n->num, p->rstopped ? "stopped" : "continued",
	    wire_get_u32(&tb[A_SIG]));
	/* a SIGSTOP the ghost cannot raise on itself without us seeing it */
	if (p->rstopped && wire_get_u32(&tb[A_SIG]) == SIGSTOP &&
	    p->ghost != NULL && proc_hooks.stop_ghost(p) == 0)
		return 1;
	/*
	 * The remote runs again, whoever continued it: so does the
	 * ghost, or it would stay stopped after a quick STOP, CONT
	 * (our SIGSTOP can land after the user's SIGCONT).  The ghost
	 * does not forward a SIGCONT that comes from us.
	 */
	if (!p->rstopped && p->ghost != NULL)
		proc_hooks.cont_ghost(p);
	return 0;
}

/* MSG_EXIT: the process ended; 1 when no ghost is left to tell. */
static int
proc_node_exit(struct node *n, struct proc *p, struct wire_attr *tb)
{
	p->exited = 1;
	proc_hooks.exited(p, wire_get_u32(&tb[A_STATUS]));
	log_debug("process %d on node %d ended, status 0x%x",
	    (int)p->pid, n->num, wire_get_u32(&tb[A_STATUS]));
	if (p->ghost == NULL) {
		proc_free(p);
		return 1;
	}
	return 0;
}

/* The frame to the ghost, as it came; small enough by construction. */
static void
proc_node_relay(struct proc *p, const struct wire_hdr *h,
    struct wire_attr *tb, const unsigned char *body, size_t blen)
{
	unsigned char		 buf[IO_CHUNK + 256];
	struct wire_msg		 m;
	struct wire_iter	 it;
	struct wire_attr	 a;

	wire_msg_init(&m, buf, sizeof(buf), h->type, 0, 0);
	wire_iter_init(&it, body, blen);
	while (wire_iter_next(&it, &a) == 1)
		wire_put(&m, a.type, a.data, a.len);
	/* how long the ghost waits for a master that went away (rejoin.c) */
	if (h->type == MSG_EXEC_RESULT)
		wire_put_u32(&m, A_GRACE, conf.grace_ms);
	if (ctl_send_msg(p->ghost, &m) == 0 && h->type == MSG_IO &&
	    tb[A_DATA].data && wire_get_u8(&tb[A_STREAM]) >= 1 &&
	    wire_get_u8(&tb[A_STREAM]) <= 2)
		/* what the ghost will have written: where a lost link resumes */
		p->fwd[wire_get_u8(&tb[A_STREAM])] += tb[A_DATA].len;
}

/* Node -> ghost.  Returns -1 if the message is not about a process of n. */
int
proc_from_node(struct node *n, const struct wire_hdr *h, struct wire_attr *tb,
    const unsigned char *body, size_t blen)
{
	struct proc	*p = proc_find((pid_t)wire_get_u32(&tb[A_PID]));
	unsigned char	 buf[256];
	struct wire_msg	 m;
	int		 r;

	/* a stand-in's, on the node its child left (standin.c) */
	if (proc_hooks.standin_node(n, h, tb))
		return 0;
	if (p == NULL || p->node != n->num)
		return 0;	/* raced with its end: not an error */
	if (h->type == MSG_MOVE || h->type == MSG_IMAGE)
		return proc_hooks.migrate_node(n, p, h, tb, body, blen);
	if (h->type == MSG_EXEC_RESULT &&
	    (r = proc_node_result(n, p, tb)) != 0)
		return r == -1 ? -1 : 0;
	if (h->type == MSG_STOPPED && proc_node_stopped(n, p, tb))
		return 0;
	if (h->type == MSG_EXIT && proc_node_exit(n, p, tb))
		return 0;
	if (p->ghost == NULL) {
		/* output for a ghost that is gone: consume it so the node goes on */
		if (h->type == MSG_IO && tb[A_DATA].data) {
			wire_msg_init(&m, buf, sizeof(buf), MSG_IO_ACK, 0, 0);
			wire_put_u32(&m, A_PID, (uint32_t)p->pid);
			wire_put_u8(&m, A_STREAM, wire_get_u8(&tb[A_STREAM]));
			wire_put_u32(&m, A_BYTES, tb[A_DATA].len);
			node_send(n, &m);
		}
		return 0;
	}
	proc_node_relay(p, h, tb, body, blen);
	return 0;
}

/* The node is gone: every ghost of it exits killed by SIGKILL (BProc). */
void
proc_node_down(struct node *n)
{
	unsigned char	 buf[128];
	struct wire_msg	 m;
	struct proc	*p, *next;
	int		 i;

	for (i = 0; i < PROC_HASH; i++)
		for (p = proc_hash[i]; p != NULL; p = next) {
			next = p->next;
			/* waiting for the node to come back (rejoin.c) */
			if (p->node != n->num || proc_hooks.waits_node(p))
				continue;
			if (p->ghost != NULL) {
				wire_msg_init(&m, buf, sizeof(buf), MSG_EXIT,
				    0, 0);
				wire_put_u32(&m, A_PID, (uint32_t)p->pid);
				wire_put_u32(&m, A_STATUS, 9);	/* killed by SIGKILL */
				wire_put_str(&m, A_MSG, "Node is down");
				if (!p->started)
					proc_fail(p->ghost, p->pid, EHOSTDOWN,
					    "Node is down");
				else
					ctl_send_msg(p->ghost, &m);
			}
			proc_free(p);
		}
}

void
proc_list(struct ctlconn *cc, uint32_t seq)
{
	unsigned char	 buf[4096];
	struct wire_msg	 m;
	struct proc	*p;
	uint32_t	 count = 0;
	int		 i;

	for (i = 0; i < PROC_HASH; i++)
		for (p = proc_hash[i]; p != NULL; p = p->next) {
			if (p->exited)
				continue;
			wire_msg_init(&m, buf, sizeof(buf), MSG_CTL_PROC,
			    WIRE_F_REPLY, seq);
			wire_put_u32(&m, A_PID, (uint32_t)p->pid);
			wire_put_u32(&m, A_NODE, (uint32_t)p->node);
			wire_put_u32(&m, A_RPID, (uint32_t)p->rpid);
			wire_put_u32(&m, A_UID, p->uid);
			wire_put_u32(&m, A_PPID, (uint32_t)proc_hooks.ppid(p));
			/* long command lines are cut for the listing */
			if (strlen(p->cmd) > 1000)
				p->cmd[1000] = '\0';
			wire_put_str(&m, A_ARG, p->cmd);
			if (ctl_send_msg(cc, &m) == -1)
				return;
			count++;
		}
	wire_msg_init(&m, buf, sizeof(buf), MSG_CTL_END, WIRE_F_REPLY, seq);
	wire_put_u32(&m, A_COUNT, count);
	wire_put_u32(&m, A_ERRNO, 0);
	ctl_send_msg(cc, &m);
}

int
proc_count(void)
{
	return nprocs;
}

/* A process record for a ghost made by the master (tree.c). */
struct proc *
proc_add(pid_t pid, int node, uid_t uid, const char *cmd)
{
	struct proc	*p;

	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->cmd = strdup(cmd)) == NULL) {
		free(p);
		return NULL;
	}
	p->pid = pid;
	p->rpid = pid;
	p->node = node;
	p->uid = uid;
	p->pidfd = -1;
	p->next = *proc_bucket(pid);
	*proc_bucket(pid) = p;
	nprocs++;
	return p;
}

/* fn on every process; fn may free the one it is given. */
void
proc_foreach(void (*fn)(struct proc *, void *), void *arg)
{
	struct proc	*p, *next;
	int		 i;

	for (i = 0; i < PROC_HASH; i++)
		for (p = proc_hash[i]; p != NULL; p = next) {
			next = p->next;
			fn(p, arg);
		}
}

void
proc_forget(struct proc *p)
{
	proc_free(p);
}
