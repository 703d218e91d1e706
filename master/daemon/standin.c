/*
 * Stand-ins: bproc_rfork from a node (docs/design-notes.md, "Migration").
 *
 * The caller C forks on its node N; the child (ghost PID g, a child of
 * C's ghost) moves home with MOVE_F_STANDIN and on to its target, while
 * its copy on N stays as C's real child there: the stand-in.  We keep
 * one record per stand-in and tell N what becomes of the child: it runs
 * there (the second EXEC_RESULT of its image, or at once for a child
 * that stays at home), it did not get there (the child says so from home,
 * MSG_STANDIN with A_ERRNO), or it ended (C's ghost reaped g, whether g
 * was the ghost of the child or, at home, the child itself, and says
 * how).  What N says of the stand-in goes to the child: a signal it
 * caught (MSG_STANDIN A_SIG), a SIGSTOP that stopped it, its own end
 * (SIGKILL: the child ends too).  Each is a claim checked here: the
 * record names the node, the user, the parent ghost and the child.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bpmaster.h"
#include "list.h"
#include "log.h"

#define STANDIN_MAX	4096	/* stand-ins at once, all nodes */
#define STANDIN_HOME	(-1)	/* BPROC_NODE_MASTER (bproc.h): the front end */

enum standin_state {
	SI_MOVING,		/* on its way: home, then the target */
	SI_RUNS,		/* runs at the target; N was told */
	SI_OVER			/* failed or ended; N was told */
};

struct standin {
	pid_t		 pid;		/* the child's ghost PID */
	int		 node;		/* N, the stand-in's */
	int		 target;	/* a node, or -1 (STANDIN_HOME) */
	uid_t		 uid;
	pid_t		 parent;	/* C's ghost, which reaps g */
	int		 home;		/* its move home is done */
	int		 orphan;	/* the stand-in ended while it moved */
	int		 mirror;	/* told to stop: its stop is not news */
	int		 pidfd;		/* a child at home, to see its end; else -1 */
	int		 state;		/* SI_* */
	DLIST_LINK(standin) link;	/* standins */
};

static DLIST_HEAD(standins, standin) standins;
static int		 nstandins;

static void	standin_stop(struct standin *, uint32_t);

static struct standin *
standin_find(pid_t pid)
{
	struct standin	*s;

	DLIST_FOREACH(s, &standins, link)
		if (s->pid == pid)
			return s;
	return NULL;
}

static void
standin_free(struct standin *s)
{
	DLIST_REMOVE(s, link);
	if (s->pidfd >= 0) {
		ev_del(s->pidfd);
		close(s->pidfd);
	}
	free(s);
	nstandins--;
}

/* To N: the child runs, failed or ended. */
static void
standin_tell(struct standin *s, uint32_t what, int e, const char *msg,
    uint32_t status)
{
	unsigned char	buf[512];
	struct wire_msg	m;

	if (nodes[s->node].link == NULL)
		return;
	wire_msg_init(&m, buf, sizeof(buf), MSG_STANDIN, 0, 0);
	wire_put_u32(&m, A_PID, (uint32_t)s->pid);
	wire_put_u32(&m, A_FLAGS, what);
	wire_put_u32(&m, A_ERRNO, (uint32_t)e);
	wire_put_u32(&m, A_STATUS, status);
	if (msg != NULL)
		wire_put_str(&m, A_MSG, msg);
	node_send(&nodes[s->node], &m);
	s->state = what == STANDIN_F_RUNS ? SI_RUNS : SI_OVER;
	log_debug("stand-in %d on node %d: child %s", (int)s->pid, s->node,
	    what == STANDIN_F_RUNS ? "runs" : what == STANDIN_F_EXIT ?
	    "ended" : "failed");
}

/*
 * Is the child at home still the user's?  (A child that stayed home is
 * a local process: we signal it as its user could, through the pidfd
 * taken when it came home, which no other process can have; its parent
 * may be gone, the caller having ended.)
 */
static int
standin_home_child(const struct standin *s)
{
	char	 path[64], line[256];
	FILE	*f;
	long	 ruid = -1, suid = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)s->pid);
	if ((f = fopen(path, "re")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "Uid:", 4) == 0 &&
		    sscanf(line + 4, "%ld %*d %ld", &ruid, &suid) != 2)
			ruid = suid = -1;
	}
	fclose(f);
	return s->pidfd >= 0 && (ruid == (long)s->uid || suid == (long)s->uid);
}

/* A signal for the child, wherever it runs. */
static void
standin_signal_child(struct standin *s, int sig)
{
	struct proc	*p;

	if (s->state != SI_RUNS || sig <= 0 || sig >= 65)
		return;
	if (s->target == STANDIN_HOME) {
		if (standin_home_child(s))
			(void)syscall(SYS_pidfd_send_signal, s->pidfd, sig,
			    NULL, 0);
		return;
	}
	if ((p = proc_find(s->pid)) != NULL && p->node == s->target &&
	    p->uid == s->uid)
		(void)proc_signal_remote(p, sig);
}

/*
 * MSG_MOVE with MOVE_F_STANDIN from n for p: 0 and a record, or -1 (a
 * target that is not another place).
 */
int
standin_move(struct node *n, struct proc *p, struct wire_attr *tb)
{
	struct standin	*s;
	int		 target;

	if (!tb[A_NODE].data)
		return -1;
	target = (int)wire_get_u32(&tb[A_NODE]);
	if ((target != STANDIN_HOME &&
	    (target < 0 || target >= numnodes)) || target == n->num ||
	    nstandins >= STANDIN_MAX)
		return -1;
	if ((s = standin_find(p->pid)) != NULL) {
		/* a retry of the same move (the ghost was busy) */
		if (s->home || s->node != n->num)
			return -1;
	} else {
		if ((s = calloc(1, sizeof(*s))) == NULL)
			return -1;
		s->pidfd = -1;
		DLIST_INSERT_HEAD(&standins, s, link);
		nstandins++;
	}
	s->pid = p->pid;
	s->node = n->num;
	s->target = target;
	s->uid = p->uid;
	s->parent = tree_ppid(p);
	s->state = SI_MOVING;
	log_debug("process %d: rfork from node %d to %d, a stand-in stays",
	    (int)p->pid, n->num, target);
	return 0;
}

/* Its ghost refused the image: the move failed, the node's copy runs on. */
void
standin_move_failed(pid_t pid)
{
	struct standin	*s = standin_find(pid);

	if (s != NULL && !s->home)
		standin_free(s);
}

/* p's record goes: a move home that never came to an end goes with it. */
void
standin_proc_gone(struct proc *p)
{
	struct standin	*s = standin_find(p->pid);

	if (s != NULL && !s->home && s->node == p->node)
		standin_free(s);
}

/*
 * A child at home ended.  Its parent's ghost reaps it and says how; with
 * that ghost gone (the caller ended), no one will: the stand-in, an
 * orphan on its node now, ends as BProc's lost processes did.
 */
static void
standin_home_end(int fd, uint32_t events, void *arg)
{
	struct standin	*s = arg;
	char		 path[64];

	(void)events;
	ev_del(fd);
	close(fd);
	s->pidfd = -1;
	snprintf(path, sizeof(path), "/proc/%d", (int)s->parent);
	if (s->state == SI_OVER || access(path, F_OK) == 0)
		return;
	standin_tell(s, STANDIN_F_EXIT, 0, NULL, SIGKILL);
}

/* The process came home; a child that stays there runs now. */
void
standin_came_home(struct proc *p)
{
	struct standin	*s = standin_find(p->pid);

	if (s == NULL || s->home || s->node != p->node)
		return;
	s->home = 1;
	if (s->target != STANDIN_HOME || s->state != SI_MOVING)
		return;
	standin_tell(s, STANDIN_F_RUNS, 0, NULL, 0);
	if ((s->pidfd = (int)syscall(SYS_pidfd_open, s->pid, 0)) >= 0 &&
	    ev_add(s->pidfd, EPOLLIN, standin_home_end, s) == -1) {
		close(s->pidfd);
		s->pidfd = -1;
	}
}

/* Its end, as its target node saw it (C's ghost may be gone). */
void
standin_child_exit(struct proc *p, uint32_t status)
{
	struct standin	*s = standin_find(p->pid);

	if (s != NULL && s->home && s->state == SI_RUNS &&
	    s->target == p->node)
		standin_tell(s, STANDIN_F_EXIT, 0, NULL, status);
}

/* p's image was taken on its node (its second EXEC_RESULT). */
void
standin_child_runs(struct proc *p)
{
	struct standin	*s = standin_find(p->pid);

	if (s == NULL || !s->home || s->state != SI_MOVING ||
	    s->target != p->node || s->uid != p->uid)
		return;
	if (s->orphan) {
		/* no one waits for it on N: it ends as its stand-in did */
		(void)proc_signal_remote(p, SIGKILL);
		standin_free(s);
		return;
	}
	standin_tell(s, STANDIN_F_RUNS, 0, NULL, 0);
}

/* The child stopped where it runs: its stand-in stops too, for waitpid. */
void
standin_child_stopped(struct proc *p, uint32_t sig)
{
	struct standin	*s = standin_find(p->pid);

	if (s == NULL || !s->home || s->state != SI_RUNS ||
	    s->target != p->node || sig == 0)
		return;
	standin_stop(s, sig);
}

/* Tell the stand-in to stop as its child did. */
static void
standin_stop(struct standin *s, uint32_t sig)
{
	unsigned char	 buf[64];
	struct wire_msg	 m;

	if (nodes[s->node].link == NULL)
		return;
	wire_msg_init(&m, buf, sizeof(buf), MSG_STANDIN, 0, 0);
	wire_put_u32(&m, A_PID, (uint32_t)s->pid);
	wire_put_u32(&m, A_FLAGS, STANDIN_F_STOP);
	wire_put_u32(&m, A_SIG, sig);
	node_send(&nodes[s->node], &m);
	s->mirror = 1;
}

/* An EXEC to node of pid's: not where its stand-in is (one PID, one task). */
int
standin_blocks(pid_t pid, int node)
{
	struct standin	*s = standin_find(pid);

	return s != NULL && s->node == node;
}

/*
 * From the control socket: the child at home whose second hop failed
 * (its own PID, A_ERRNO), or C's ghost that reaped the child (A_PID,
 * A_STATUS).
 */
void
standin_from_ctl(struct ctlconn *cc, const struct ucred *cred, int ghost,
    struct wire_attr *tb)
{
	unsigned char	 buf[64];
	struct wire_msg	 m;
	struct standin	*s;
	uint32_t	 e;
	int		 ok = 0;

	if (!ghost) {
		if ((s = standin_find(cred->pid)) != NULL && s->home &&
		    s->uid == cred->uid && s->state == SI_MOVING &&
		    tb[A_ERRNO].data && (e = wire_get_u32(&tb[A_ERRNO])) != 0) {
			standin_tell(s, STANDIN_F_FAILED, (int)e,
			    tb[A_MSG].data ? wire_get_str(&tb[A_MSG]) : NULL, 0);
			ok = 1;
		}
		/* it waits for this before it exits: its end is not news then */
		wire_msg_init(&m, buf, sizeof(buf), MSG_STANDIN, WIRE_F_REPLY, 0);
		wire_put_u32(&m, A_PID, (uint32_t)cred->pid);
		wire_put_u32(&m, A_ERRNO, ok ? 0 : ESRCH);
		ctl_send_msg(cc, &m);
		return;
	}
	/* only C's ghost, for a child it has reaped (g is gone) */
	if ((s = standin_find((pid_t)wire_get_u32(&tb[A_PID]))) == NULL ||
	    s->parent != cred->pid || s->uid != cred->uid ||
	    !tb[A_STATUS].data || s->state == SI_OVER)
		return;
	/* a child at home stopped (one elsewhere: its node says so) */
	if (WIFSTOPPED((int)wire_get_u32(&tb[A_STATUS]))) {
		if (s->target == STANDIN_HOME && s->state == SI_RUNS &&
		    standin_home_child(s))
			standin_stop(s, (uint32_t)WSTOPSIG((int)
			    wire_get_u32(&tb[A_STATUS])));
		return;
	}
	if (kill(s->pid, 0) == 0 || errno != ESRCH)
		return;
	standin_tell(s, STANDIN_F_EXIT, 0, NULL, wire_get_u32(&tb[A_STATUS]));
}

/*
 * From node n about pid: 1 when it is a stand-in's (n's, after its move
 * home), handled here; 0 for proc.c.
 */
int
standin_from_node(struct node *n, const struct wire_hdr *h,
    struct wire_attr *tb)
{
	struct standin	*s = standin_find((pid_t)wire_get_u32(&tb[A_PID]));
	unsigned char	 buf[64];
	struct wire_msg	 m;

	if (s == NULL || s->node != n->num || !s->home)
		return 0;
	switch (h->type) {
	case MSG_STANDIN:
		if (tb[A_SIG].data)
			standin_signal_child(s, (int)wire_get_u32(&tb[A_SIG]));
		break;
	case MSG_STOPPED:
		/* SIGSTOP cannot be caught: the stand-in's stop is the news */
		if (wire_get_u32(&tb[A_SIG]) != SIGSTOP)
			break;
		if (s->mirror)
			s->mirror = 0;	/* it stopped as its child did */
		else
			standin_signal_child(s, SIGSTOP);
		break;
	case MSG_IO:
		/* a stand-in writes nothing; whatever came, taken */
		if (!tb[A_DATA].data)
			break;
		wire_msg_init(&m, buf, sizeof(buf), MSG_IO_ACK, 0, 0);
		wire_put_u32(&m, A_PID, (uint32_t)s->pid);
		wire_put_u8(&m, A_STREAM, wire_get_u8(&tb[A_STREAM]));
		wire_put_u32(&m, A_BYTES, tb[A_DATA].len);
		node_send(n, &m);
		break;
	case MSG_EXIT:
		/* killed before the child ended (SIGKILL): so is the child */
		if (s->state == SI_RUNS) {
			log_info("stand-in %d on node %d ended first (status "
			    "0x%x): its child is killed", (int)s->pid, n->num,
			    wire_get_u32(&tb[A_STATUS]));
			standin_signal_child(s, SIGKILL);
		} else if (s->state == SI_MOVING) {
			/* on its way: killed once it arrives */
			s->orphan = 1;
			break;
		}
		standin_free(s);
		break;
	default:
		break;
	}
	return 1;
}

/* Node n is gone: its stand-ins with it (their callers went too). */
void
standin_node_down(struct node *n)
{
	struct standin	*s, *next;

	DLIST_FOREACH_SAFE(s, &standins, link, next) {
		if (s->node == n->num)
			standin_free(s);
	}
}
