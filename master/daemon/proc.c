/*
 * The cluster's process space on the master side.  Each remote process
 * has a ghost: a front-end process (bpghost) connected to our control
 * socket, whose PID, taken from SO_PEERCRED, names the process everywhere.
 * We check the caller may run on the node, start the process there, and
 * relay I/O, signals, stops and the exit between ghost and node.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "args.h"
#include "bpmaster.h"
#include "log.h"

#define PROC_CMD_MAX	4096	/* bytes of a command line kept for bpstat -p */

#define PROC_HASH	1024	/* buckets of the PID table */

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
	if (rejoin_waits_node(p))
		return rejoin_queue_sig(p, sig) == 0 && !p->exited ? 0 : -1;
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
	relay_proc_gone(p);
	standin_proc_gone(p);
	rejoin_reap(p);
	rejoin_free(p);
	trace_release(p);
	tree_proc_gone(p);
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
	trace_let_go(p);
	proc_free(p);
}

/* Supplementary groups of the caller, from the kernel's view of its PID. */
static int
proc_groups(pid_t pid, gid_t *groups, int max)
{
	char	 path[64], line[4096], *p, *end;
	FILE	*f;
	int	 n = 0;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "Groups:", 7) != 0)
			continue;
		for (p = line + 7; n < max; p = end) {
			unsigned long	g = strtoul(p, &end, 10);

			if (end == p)
				break;
			groups[n++] = (gid_t)g;
		}
		break;
	}
	fclose(f);
	return n;
}

/* BProc's rule: root always; else the owner, group or other x bit. */
static int
proc_may_run(const struct node *n, uid_t uid, gid_t gid, const gid_t *groups,
    int ngroups)
{
	int	i;

	if (uid == 0)
		return 1;
	if (n->uid == uid)
		return (n->mode & 0100) != 0;
	if (n->gid == gid)
		return (n->mode & 0010) != 0;
	for (i = 0; i < ngroups; i++)
		if (groups[i] == n->gid)
			return (n->mode & 0010) != 0;
	return (n->mode & 0001) != 0;
}

static void
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

/* Attributes a tool may pass through to the node as they are (A_MFILE: verify.c). */
static int
proc_passthrough(uint16_t type)
{
	switch (type) {
	case A_PATH: case A_ARG: case A_ENV: case A_CWD: case A_FLAGS:
	case A_RANK: case A_FILE_IN: case A_FILE_OUT: case A_FILE_ERR:
	case A_ROWS: case A_COLS: case A_ARG_PART:
		return 1;
	}
	return 0;
}

/* The node EXEC names, if a process may start there now; else NULL, refused. */
static struct node *
proc_exec_node(struct ctlconn *cc, const struct ucred *cred,
    struct wire_attr *tb)
{
	struct node	*n;
	uint32_t	 num;

	if (!tb[A_NODE].data) {
		proc_fail(cc, cred->pid, EINVAL, "no node given");
		return NULL;
	}
	num = wire_get_u32(&tb[A_NODE]);
	if (num >= (uint32_t)numnodes) {
		proc_fail(cc, cred->pid, ENODEV, "No such node");
		return NULL;
	}
	n = &nodes[num];
	if (n->state == NODE_DOWN || n->link == NULL) {
		proc_fail(cc, cred->pid, EHOSTDOWN, "Node is down");
		return NULL;
	}
	if (n->state != NODE_UP) {
		char	msg[64];

		snprintf(msg, sizeof(msg), "Node is %s", node_state_name(n->state));
		proc_fail(cc, cred->pid, EHOSTUNREACH, msg);
		return NULL;
	}
	return n;
}

/*
 * May the caller run a process on n: not a ghost already, no stand-in of
 * it there, and n's mode lets its uid or groups (put in groups) run.  The
 * number of groups, or -1 when it was refused.
 */
static int
proc_exec_caller(struct ctlconn *cc, const struct ucred *cred,
    struct node *n, gid_t *groups, int max)
{
	struct proc	*p;
	int		 ng;

	/* a process that came home runs before its ghost's feeder says so */
	if (ctl_get_proc(cc) == NULL && (p = proc_find(cred->pid)) != NULL)
		migrate_home_seen(p);
	if (ctl_get_proc(cc) != NULL || proc_find(cred->pid) != NULL) {
		proc_fail(cc, cred->pid, EBUSY, "this process is already a ghost");
		return -1;
	}
	if (standin_blocks(cred->pid, n->num)) {
		proc_fail(cc, cred->pid, EBUSY, "this process has a stand-in "
		    "on that node (it was rforked from there)");
		return -1;
	}
	if ((ng = ctl_peer_groups(cc, groups, max)) < 0) {
		if (errno == ERANGE) {
			proc_fail(cc, cred->pid, E2BIG,
			    "more than 4096 supplementary groups");
			return -1;
		}
		/* a kernel older than SO_PEERGROUPS: ask /proc */
		if ((ng = proc_groups(cred->pid, groups, max)) < 0) {
			proc_fail(cc, cred->pid, ESRCH, "caller vanished");
			return -1;
		}
	}
	if (!proc_may_run(n, cred->uid, cred->gid, groups, ng)) {
		proc_fail(cc, cred->pid, EACCES, "Permission denied");
		return -1;
	}
	return ng;
}

/*
 * The EXEC for the node: who runs it (as the kernel says), its parent,
 * and what the tool may pass through.  Whether the tool asked for no
 * spare child ghost is put in *nospare.
 */
static void
proc_exec_build(struct wire_msg *m, const struct ucred *cred,
    const gid_t *groups, int ng, const unsigned char *body, size_t blen,
    int *nospare)
{
	unsigned char		 gbuf[4 * 4096];
	struct wire_iter	 it;
	struct wire_attr	 a;
	pid_t			 pp;
	int			 i;

	wire_put_u32(m, A_PID, (uint32_t)cred->pid);
	wire_put_u32(m, A_UID, cred->uid);
	wire_put_u32(m, A_GID, cred->gid);
	for (i = 0; i < ng; i++) {
		gbuf[4 * i] = (unsigned char)(groups[i] >> 24);
		gbuf[4 * i + 1] = (unsigned char)(groups[i] >> 16);
		gbuf[4 * i + 2] = (unsigned char)(groups[i] >> 8);
		gbuf[4 * i + 3] = (unsigned char)groups[i];
	}
	wire_put(m, A_GROUPS, gbuf, (size_t)ng * 4);
	/* its parent here, what getppid() says there (track.c): a fact */
	if ((pp = tree_ppid_of(cred->pid)) > 0)
		wire_put_u32(m, A_PPID, (uint32_t)pp);
	wire_iter_init(&it, body, blen);
	while (wire_iter_next(&it, &a) == 1) {
		if (!proc_passthrough(a.type))
			continue;
		/* switching the process tree off is a debugging aid for root */
		if (a.type == A_FLAGS && cred->uid != 0 && proto_attr_ok(&a) &&
		    a.len == 4) {
			wire_put_u32(m, A_FLAGS,
			    wire_get_u32(&a) & ~(uint32_t)EXEC_F_NOTRACK);
			continue;
		}
		wire_put(m, a.type, a.data, a.len);
		if (a.type == A_FLAGS && proto_attr_ok(&a) && a.len == 4)
			*nospare = (wire_get_u32(&a) & EXEC_F_NOSPARE) != 0;
	}
}

/*
 * The command line as bpstat -p shows it, its first PROC_CMD_MAX bytes:
 * the arguments (pieces joined) with a space between them.
 */
static void
proc_cmdline(char *cmd, const unsigned char *body, size_t blen)
{
	struct wire_iter	 it;
	struct wire_attr	 a;
	size_t			 off = 0;

	wire_iter_init(&it, body, blen);
	while (wire_iter_next(&it, &a) == 1) {
		size_t	l;

		if (a.type != A_ARG && a.type != A_ARG_PART)
			continue;
		l = a.type == A_ARG ? strnlen(wire_get_str(&a), a.len) : a.len;
		if (l > PROC_CMD_MAX - 1 - off)
			l = PROC_CMD_MAX - 1 - off;
		memcpy(cmd + off, a.data, l);
		off += l;
		if (a.type == A_ARG && off < PROC_CMD_MAX - 1)
			cmd[off++] = ' ';
	}
	if (off > 0 && cmd[off - 1] == ' ')
		off--;
	cmd[off] = '\0';
}

void
proc_exec(struct ctlconn *cc, const struct ucred *cred, struct wire_attr *tb,
    const unsigned char *body, size_t blen)
{
	static unsigned char	 buf[WIRE_MAX_FRAME];
	struct wire_msg		 m;
	struct node		*n;
	struct proc		*p;
	gid_t			 groups[4096];
	char			 why[1024];
	struct args_sum		 sum;
	int			 ng, nospare = 0;

	if ((n = proc_exec_node(cc, cred, tb)) == NULL ||
	    (ng = proc_exec_caller(cc, cred, n, groups, 4096)) < 0)
		return;
	wire_msg_init(&m, buf, sizeof(buf), MSG_EXEC, 0, 0);
	proc_exec_build(&m, cred, groups, ng, body, blen, &nospare);
	/* the tool's lists are claims too: Linux's limits, pieces in place */
	if (args_scan(body, blen, &sum, why, sizeof(why)) == -1) {
		proc_fail(cc, cred->pid, E2BIG, why);
		return;
	}
	/* the manifest as the front end backs it, or no EXEC at all */
	if (verify_manifest(&m, cred, groups, ng, body, blen, why,
	    sizeof(why)) == -1) {
		proc_fail(cc, cred->pid, errno ? errno : EBADMSG, why);
		return;
	}
	if (wire_msg_finish(&m) == 0) {
		proc_fail(cc, cred->pid, E2BIG, "argument list too long");
		return;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->cmd = malloc(PROC_CMD_MAX)) == NULL) {
		free(p);
		proc_fail(cc, cred->pid, ENOMEM, "out of memory");
		return;
	}
	proc_cmdline(p->cmd, body, blen);
	p->pid = cred->pid;
	p->rpid = cred->pid;
	p->node = n->num;
	p->uid = cred->uid;
	p->ghost = cc;
	p->nospare = nospare;
	p->next = *proc_bucket(p->pid);
	*proc_bucket(p->pid) = p;
	nprocs++;
	/* traced once it is bpghost and said so (ctl.c, MSG_GHOST) */
	ctl_set_proc(cc, p);
	/* the contents the relay tree may serve it (relay.c) */
	relay_exec_sent(p, buf + WIRE_HDR_LEN, m.len - WIRE_HDR_LEN);
	if (node_send(n, &m) == -1) {
		proc_fail(cc, p->pid, EHOSTDOWN, "Node is down");
		proc_free(p);
	}
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
	if (migrate_ghost_gone(p))
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
		return migrate_from_ghost(p, h, tb, body, blen);
	/* held while its node is away (rejoin.c) */
	if (rejoin_from_ghost(p, h, tb))
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

/* Node -> ghost.  Returns -1 if the message is not about a process of n. */
int
proc_from_node(struct node *n, const struct wire_hdr *h, struct wire_attr *tb,
    const unsigned char *body, size_t blen)
{
	struct proc	*p = proc_find((pid_t)wire_get_u32(&tb[A_PID]));
	unsigned char	 buf[IO_CHUNK + 256];
	struct wire_msg	 m;

	(void)body;
	(void)blen;
	/* a stand-in's, on the node its child left (standin.c) */
	if (standin_from_node(n, h, tb))
		return 0;
	if (p == NULL || p->node != n->num)
		return 0;	/* raced with its end: not an error */
	if (h->type == MSG_MOVE || h->type == MSG_IMAGE)
		return migrate_from_node(n, p, h, tb, body, blen);
	if (h->type == MSG_EXEC_RESULT) {
		/* an image's second answer: the restorer took it */
		if (p->started && wire_get_u32(&tb[A_ERRNO]) == 0)
			standin_child_runs(p);
		if (wire_get_u32(&tb[A_ERRNO]) != 0)
			p->exited = 1;
		else if (tb[A_RPID].data)
			p->rpid = (pid_t)wire_get_u32(&tb[A_RPID]);
		p->started = 1;
		if (p->exited && p->ghost == NULL) {
			proc_free(p);
			return 0;
		}
		if (p->ghost == NULL) {
			/* the ghost died while the request was in flight */
			wire_msg_init(&m, buf, sizeof(buf), MSG_SIGNAL, 0, 0);
			wire_put_u32(&m, A_PID, (uint32_t)p->pid);
			wire_put_u32(&m, A_SIG, 9);
			return node_send(n, &m) == -1 ? -1 : 0;
		}
	}
	if (h->type == MSG_STOPPED) {
		p->rstopped = wire_get_u32(&tb[A_SIG]) != 0;
		standin_child_stopped(p, wire_get_u32(&tb[A_SIG]));
		log_debug("process %d on node %d %s (signal %u)", (int)p->pid,
		    n->num, p->rstopped ? "stopped" : "continued",
		    wire_get_u32(&tb[A_SIG]));
		/* a SIGSTOP the ghost cannot raise on itself without us seeing it */
		if (p->rstopped && wire_get_u32(&tb[A_SIG]) == SIGSTOP &&
		    p->ghost != NULL && trace_stop_ghost(p) == 0)
			return 0;
		/*
		 * The remote runs again, whoever continued it: so does the
		 * ghost, or it would stay stopped after a quick STOP, CONT
		 * (our SIGSTOP can land after the user's SIGCONT).  The ghost
		 * does not forward a SIGCONT that comes from us.
		 */
		if (!p->rstopped && p->ghost != NULL)
			trace_cont_ghost(p);
	}
	if (h->type == MSG_EXIT) {
		p->exited = 1;
		standin_child_exit(p, wire_get_u32(&tb[A_STATUS]));
		trace_release(p);
		log_debug("process %d on node %d ended, status 0x%x",
		    (int)p->pid, n->num, wire_get_u32(&tb[A_STATUS]));
		if (p->ghost == NULL) {
			proc_free(p);
			return 0;
		}
	}
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
	/* forward as it came; the frame is small enough by construction */
	wire_msg_init(&m, buf, sizeof(buf), h->type, 0, 0);
	{
		struct wire_iter	it;
		struct wire_attr	a;

		wire_iter_init(&it, body, blen);
		while (wire_iter_next(&it, &a) == 1)
			wire_put(&m, a.type, a.data, a.len);
	}
	/* how long the ghost waits for a master that went away (rejoin.c) */
	if (h->type == MSG_EXEC_RESULT)
		wire_put_u32(&m, A_GRACE, conf.grace_ms);
	if (ctl_send_msg(p->ghost, &m) == 0 && h->type == MSG_IO &&
	    tb[A_DATA].data && wire_get_u8(&tb[A_STREAM]) >= 1 &&
	    wire_get_u8(&tb[A_STREAM]) <= 2)
		/* what the ghost will have written: where a lost link resumes */
		p->fwd[wire_get_u8(&tb[A_STREAM])] += tb[A_DATA].len;
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
			if (p->node != n->num || rejoin_waits_node(p))
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
			wire_put_u32(&m, A_PPID, (uint32_t)tree_ppid(p));
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
