/*
 * A remote process starts here: a tool's EXEC is checked (the node, the
 * caller's right to run there, its argument lists and manifest), sent on
 * the node's link as the kernel says who the caller is, and the process
 * recorded in the table (proc.c) under the caller's PID.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "args.h"
#include "bpmaster.h"
#include "log.h"

#define PROC_CMD_MAX	4096	/* bytes of a command line kept for bpstat -p */

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
	proc_insert(p);
	/* traced once it is bpghost and said so (ctl.c, MSG_GHOST) */
	ctl_set_proc(cc, p);
	/* the contents the relay tree may serve it (relay.c) */
	relay_exec_sent(p, buf + WIRE_HDR_LEN, m.len - WIRE_HDR_LEN);
	if (node_send(n, &m) == -1) {
		proc_fail(cc, p->pid, EHOSTDOWN, "Node is down");
		proc_forget(p);
	}
}
