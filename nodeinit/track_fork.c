/*
 * A process-creating clone stopped at its seccomp stop waits in a queue;
 * the one at its head asks the master for the child's ghost (MSG_FORK),
 * and with the ghost's PID in ns_last_pid it is let go (FORK_RESULT).
 * Its fork event names the child, which is tracked from its birth; a
 * clone that made nothing tells the master so, and the next one goes.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <unistd.h>

#include <linux/sched.h>

#include "log.h"
#include "nodeinit_int.h"
#include "track_int.h"

static struct ttask	*queue, **queue_tail = &queue;
static int		 lastpid_fd = -1;
static uint32_t		 fork_seq;
static uint32_t		 dropped_seq;	/* asked for a process that died meanwhile */

static void	track_next(void);

static void
tt_unqueue(struct ttask *t)
{
	struct ttask	**pp;

	if (!t->queued)
		return;
	for (pp = &queue; *pp != NULL; pp = &(*pp)->qnext)
		if (*pp == t) {
			*pp = t->qnext;
			break;
		}
	if (queue == NULL)
		queue_tail = &queue;
	else if (queue_tail == &t->qnext)
		for (queue_tail = &queue; *queue_tail != NULL;
		    queue_tail = &(*queue_tail)->qnext)
			;
	t->queued = 0;
	t->qnext = NULL;
}

static void
track_send_forked(pid_t gpid, pid_t ppid, pid_t rpid, int err)
{
	unsigned char	buf[96];
	struct wire_msg	m;

	wire_msg_init(&m, buf, sizeof(buf), MSG_FORKED, 0, 0);
	wire_put_u32(&m, A_PID, (uint32_t)gpid);
	wire_put_u32(&m, A_PPID, (uint32_t)ppid);
	if (rpid > 0)
		wire_put_u32(&m, A_RPID, (uint32_t)rpid);
	if (err)
		wire_put_u32(&m, A_ERRNO, (uint32_t)err);
	link_send_msg(&m);
}

static void
track_fail_clone(struct ttask *t, int err)
{
	if (track_skip_call(t->tid, -(long)err) == 0)
		return;
	/* no way to fail it here: it runs, and the child is killed at birth */
	t->cgpid = -1;
	t->qstate = TQ_RUNNING;
	ptrace(PTRACE_SYSCALL, t->tid, NULL, NULL);
}

/* Done with the head of the queue: on to the next clone. */
static void
track_pop(struct ttask *t)
{
	tt_unqueue(t);
	t->cgpid = 0;
	track_next();
}

static void
track_ask(struct ttask *t)
{
	struct ttask	*l = tt_leader(t);
	unsigned char	 buf[64];
	struct wire_msg	 m;

	t->qstate = TQ_ASKED;
	wire_msg_init(&m, buf, sizeof(buf), MSG_FORK, 0, ++fork_seq);
	wire_put_u32(&m, A_PID, (uint32_t)l->gpid);
	wire_put_u32(&m, A_FLAGS, t->cflags);
	/* no master now: the fork waits for the next (grace.c) */
	if (link_send_msg(&m) == -1)
		t->qstate = TQ_WAIT;
}

/* Start the clone at the head of the queue, if none is in flight. */
static void
track_next(void)
{
	struct ttask	*t = queue;

	if (t == NULL || t->qstate != TQ_WAIT)
		return;
	/*
	 * A clone whose process's ghost is not back after a master restart
	 * waits; the first that need not goes ahead of it, or one orphan
	 * would hold every fork of the node until the master reaps it.
	 */
	if (!t->thread && tt_leader(t)->paused) {
		struct ttask	**pp, *u;

		for (pp = &t->qnext; (u = *pp) != NULL; pp = &u->qnext)
			if (u->qstate == TQ_WAIT &&
			    (u->thread || !tt_leader(u)->paused))
				break;
		if (u == NULL)
			return;
		*pp = u->qnext;
		if (queue_tail == &u->qnext)
			queue_tail = pp;
		u->qnext = queue;
		queue = t = u;
	}
	if (t->thread) {
		t->qstate = TQ_RUNNING;
		if (ptrace(PTRACE_SYSCALL, t->tid, NULL, NULL) == -1)
			track_pop(t);
		return;
	}
	if (!tt_leader(t)->paused)
		track_ask(t);
}

/* The master's answer for the clone at the head: the ghost's PID, or no. */
void
track_fork_result(const struct wire_hdr *h, struct wire_attr *tb)
{
	struct ttask	*t = queue;
	char		 num[16];
	pid_t		 g;
	int		 n, err;

	if (dropped_seq != 0 && h->seq == dropped_seq) {
		dropped_seq = 0;
		if (tb[A_PID].data && tb[A_PPID].data)
			track_send_forked((pid_t)wire_get_u32(&tb[A_PID]),
			    (pid_t)wire_get_u32(&tb[A_PPID]), 0, ESRCH);
		return;
	}
	if (t == NULL || t->qstate != TQ_ASKED || h->seq != fork_seq ||
	    !tb[A_PPID].data || (pid_t)wire_get_u32(&tb[A_PPID]) !=
	    tt_leader(t)->gpid) {
		log_warnx("FORK_RESULT for no clone in flight");
		return;
	}
	err = (int)wire_get_u32(&tb[A_ERRNO]);
	g = tb[A_PID].data ? (pid_t)wire_get_u32(&tb[A_PID]) : 0;
	if (err != 0 || g <= 1) {
		log_debug("no ghost for a child of %d: %s", (int)tt_leader(t)->gpid,
		    strerror(err ? err : EAGAIN));
		tt_unqueue(t);
		track_fail_clone(t, err == ENOMEM || err == EAGAIN || err == 0 ?
		    EAGAIN : err);
		track_next();
		return;
	}
	t->cgpid = g;
	if (lastpid_fd < 0)
		lastpid_fd = open("/proc/sys/kernel/ns_last_pid",
		    O_WRONLY | O_CLOEXEC);
	n = snprintf(num, sizeof(num), "%d", (int)g - 1);
	if (lastpid_fd < 0 || pwrite(lastpid_fd, num, (size_t)n, 0) != n)
		log_debug("ns_last_pid: %s", strerror(errno));
	t->qstate = TQ_RUNNING;
	if (ptrace(PTRACE_SYSCALL, t->tid, NULL, NULL) == -1) {
		track_send_forked(g, tt_leader(t)->gpid, 0, ESRCH);
		track_pop(t);
	}
}

/* A clone at its seccomp stop, making flags: it waits its turn. */
void
track_enqueue(struct ttask *t, uint64_t flags)
{
	t->cflags = (uint32_t)flags;
	t->thread = (flags & CLONE_THREAD) != 0;
	t->qstate = TQ_WAIT;
	t->queued = 1;
	t->qnext = NULL;
	*queue_tail = t;
	queue_tail = &t->qnext;
	track_next();
}

/* A fork, vfork or clone event: the new task is pid. */
void
track_born(struct ttask *t, pid_t pid, int ev)
{
	struct ttask	*c, *l = tt_leader(t);
	int		 process = 0, early;

	if (queue == t && t->qstate == TQ_RUNNING && !t->thread)
		process = 1;
	else if (ev != PTRACE_EVENT_CLONE) {
		/* a process that did not stop for its ghost: it may not run */
		log_warnx("untracked fork by %d: child %d killed", (int)t->tid,
		    (int)pid);
		kill(pid, SIGKILL);
	}
	/* its first stop may have come already (TT_EARLY), or is to come */
	if ((c = tt_find(pid)) != NULL)
		early = c->state == TT_EARLY;
	else if ((c = tt_new(pid)) != NULL)
		early = 0;
	else {
		kill(pid, SIGKILL);
		goto done;
	}
	c->state = TT_NEW;
	if (process && t->cgpid == -1) {
		/* the master said no and the call could not be failed */
		kill(pid, SIGKILL);
		c->leader = 1;
	} else if (process) {
		c->leader = 1;
		c->tgid = pid;
		c->top = l->top;
		c->paused = l->paused;
		tt_set_gpid(c, t->cgpid);
		track_send_forked(t->cgpid, l->gpid, pid != t->cgpid ? pid : 0, 0);
		if (pid != t->cgpid)
			log_debug("child of %d: PID %d taken here, runs as %d",
			    (int)l->gpid, (int)t->cgpid, (int)pid);
	} else {
		/* a thread of t's process */
		c->leader = 0;
		c->tgid = t->tgid;
		c->top = l->top;
	}
	if (early) {
		c->state = TT_RUN;
		ptrace(PTRACE_CONT, pid, NULL, NULL);
	}
done:
	if (queue == t && t->qstate == TQ_RUNNING)
		track_pop(t);
}

/* The clone in flight returned without making anything. */
void
track_syscall_exit(struct ttask *t)
{
	struct track_scinfo	si;

	if (queue != t || t->qstate != TQ_RUNNING)
		return;
	memset(&si, 0, sizeof(si));
	if (ptrace(PTRACE_GET_SYSCALL_INFO, t->tid, (void *)sizeof(si), &si) > 0 &&
	    si.op == TRACK_SCI_EXIT)
		log_debug("clone of %d failed: %lld", (int)t->tid,
		    (long long)si.exit.rval);
	if (!t->thread && t->cgpid > 0)
		track_send_forked(t->cgpid, tt_leader(t)->gpid, 0,
		    si.exit.rval < 0 ? (int)-si.exit.rval : EAGAIN);
	track_pop(t);
}

/* A task is gone: so is its place in the queue, and its clone in flight. */
void
track_drop(struct ttask *t)
{
	int	head = (queue == t);

	/* a clone in flight whose maker died: its ghost must go too */
	if (head && t->qstate == TQ_ASKED)
		dropped_seq = fork_seq;
	else if (head && t->qstate == TQ_RUNNING && !t->thread && t->cgpid > 0)
		track_send_forked(t->cgpid, tt_leader(t)->gpid, 0, ESRCH);
	tt_unqueue(t);
	tt_free(t);
	if (head)
		track_next();
}

/* The master is gone: so are the ghosts; end every process we track. */
void
track_kill_all(void)
{
	sigfwd_lost(0);
	tt_free_all();
	queue = NULL;
	queue_tail = &queue;
}

/* The master is gone: no fork goes on until its process's ghost is back. */
void
track_link_lost(void)
{
	tt_pause_all();
	/* the answer to a question in flight went with the master */
	if (queue != NULL && queue->qstate == TQ_ASKED)
		queue->qstate = TQ_WAIT;
}

/* Its ghost is back: its forks may ask for theirs again. */
void
track_resume(pid_t gpid)
{
	struct ttask	*t = tt_find_gpid(gpid);

	if (t == NULL)
		return;
	t->paused = 0;
	sigfwd_resume(gpid);
	track_next();
}
