/*
 * The process tree on the node: every process a remote process creates
 * gets a ghost on the front end before it runs, with the same PID.
 *
 * Each process nodeinit starts installs, before its exec, a seccomp
 * filter (inherited by every descendant) that stops fork, vfork, clone3
 * and clone without CLONE_THREAD for its tracer, and nodeinit seizes it
 * with the fork/clone/exec events, so its children are traced from birth.
 * At the stop of a process-creating clone we ask the master for the
 * child's ghost; the master has the parent's ghost fork it, so the front
 * end's kernel picks the PID; we write that PID - 1 to ns_last_pid and let
 * the clone go.  Clones on the node are taken one at a time, so no other
 * process of ours takes the PID meanwhile (a thread made with clone(2)
 * is not stopped, and the node's kernel threads are not ours: either may
 * take it, and then the child runs at another PID, a mapping the master
 * records).  PTRACE_EVENT_FORK gives the child's real PID.
 *
 * As tracer we see every stop first: signal-delivery-stops get their
 * signal back, group-stops are listened to (PTRACE_LISTEN) and reported to
 * the master, exits are reported (the node parent's wait sees the same
 * status a moment later), and an exec sends the new argv for the ghost.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/sched.h>
#include <linux/seccomp.h>

#include "log.h"
#include "nodeinit.h"

#define TRACK_HASH	256		/* buckets of the task and ghost tables */
#define TRACK_CMDLINE	4096		/* bytes of /proc/PID/cmdline sent at exec */
#define TRACK_OPTS	(PTRACE_O_TRACESECCOMP | PTRACE_O_TRACEFORK | \
			 PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE | \
			 PTRACE_O_TRACEEXEC | PTRACE_O_TRACESYSGOOD | \
			 PTRACE_O_EXITKILL)

/* PTRACE_GET_SYSCALL_INFO's answer (linux/ptrace.h, which musl's clashes with) */
struct track_scinfo {
	uint8_t		op;
	uint8_t		pad[3];
	uint32_t	arch;
	uint64_t	ip;
	uint64_t	sp;
	union {
		struct {
			uint64_t	nr;
			uint64_t	args[6];
		} entry;
		struct {
			int64_t		rval;
			uint8_t		is_error;
		} exit;
		struct {
			uint64_t	nr;
			uint64_t	args[6];
			uint32_t	ret_data;
		} seccomp;
	};
};
#define TRACK_SCI_EXIT		2
#define TRACK_SCI_SECCOMP	3

enum tt_state {
	TT_EARLY,	/* a new task stopped before its parent's event named it */
	TT_NEW,		/* named; its first stop is still to come */
	TT_RUN
};

enum tq_state {
	TQ_WAIT,	/* queued at its seccomp stop */
	TQ_ASKED,	/* the master is making the ghost */
	TQ_RUNNING	/* resumed into the clone: its event or its failure next */
};

/* One traced task: a process's leader or one of its threads. */
struct ttask {
	pid_t		 tid;
	pid_t		 tgid;		/* the process: its leader's tid */
	pid_t		 gpid;		/* the process's ghost (leaders) */
	pid_t		 top;		/* ghost of the session's first process */
	int		 leader;
	int		 state;		/* TT_* */
	int		 stopped;	/* reported group-stopped */
	int		 stopsig;	/* the job-control signal we turned into SIGSTOP */
	int		 execs;		/* exec events seen */
	int		 paused;	/* its ghost is not back yet (grace.c): forks wait */
	/* a clone waiting at its seccomp stop */
	int		 queued;
	int		 qstate;	/* TQ_* */
	int		 thread;	/* it makes a thread: no ghost */
	uint32_t	 cflags;
	pid_t		 cgpid;		/* the child's ghost, once made */
	pid_t		 pgof;		/* in setsid/setpgid: the process it changes */
	struct ttask	*hnext;		/* by tid */
	struct ttask	*gnext;		/* by ghost PID, leaders only */
	struct ttask	*qnext;
};

static struct ttask	*by_tid[TRACK_HASH];
static struct ttask	*by_gpid[TRACK_HASH];
static struct ttask	*queue, **queue_tail = &queue;
static int		 lastpid_fd = -1;
static uint32_t		 fork_seq;
static uint32_t		 dropped_seq;	/* asked for a process that died meanwhile */
static int		 ntasks;

static void	track_next(void);
static void	track_send_forked(pid_t, pid_t, pid_t, int);
static struct ttask *tt_leader(struct ttask *);

static struct ttask *
tt_find(pid_t tid)
{
	struct ttask	*t;

	for (t = by_tid[(unsigned)tid % TRACK_HASH]; t != NULL; t = t->hnext)
		if (t->tid == tid)
			return t;
	return NULL;
}

static struct ttask *
tt_find_gpid(pid_t gpid)
{
	struct ttask	*t;

	for (t = by_gpid[(unsigned)gpid % TRACK_HASH]; t != NULL; t = t->gnext)
		if (t->gpid == gpid)
			return t;
	return NULL;
}

static struct ttask *
tt_new(pid_t tid)
{
	struct ttask	*t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->tid = t->tgid = tid;
	t->hnext = by_tid[(unsigned)tid % TRACK_HASH];
	by_tid[(unsigned)tid % TRACK_HASH] = t;
	ntasks++;
	return t;
}

static void
tt_set_gpid(struct ttask *t, pid_t gpid)
{
	t->gpid = gpid;
	t->gnext = by_gpid[(unsigned)gpid % TRACK_HASH];
	by_gpid[(unsigned)gpid % TRACK_HASH] = t;
}

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
tt_free(struct ttask *t)
{
	struct ttask	**pp;
	int		  head = (queue == t);

	for (pp = &by_tid[(unsigned)t->tid % TRACK_HASH]; *pp != NULL;
	    pp = &(*pp)->hnext)
		if (*pp == t) {
			*pp = t->hnext;
			break;
		}
	if (t->gpid) {
		for (pp = &by_gpid[(unsigned)t->gpid % TRACK_HASH]; *pp != NULL;
		    pp = &(*pp)->gnext)
			if (*pp == t) {
				*pp = t->gnext;
				break;
			}
	}
	/* a clone in flight whose maker died: its ghost must go too */
	if (head && t->qstate == TQ_ASKED)
		dropped_seq = fork_seq;
	else if (head && t->qstate == TQ_RUNNING && !t->thread && t->cgpid > 0)
		track_send_forked(t->cgpid, tt_leader(t)->gpid, 0, ESRCH);
	tt_unqueue(t);
	sigfwd_forget(t->tid);
	free(t);
	ntasks--;
	if (head)
		track_next();
}

/* The leader of t's process, where the process-wide state lives. */
static struct ttask *
tt_leader(struct ttask *t)
{
	struct ttask	*l;

	if (t->leader)
		return t;
	l = tt_find(t->tgid);
	return l != NULL ? l : t;
}

/*
 * The filter every remote process and its descendants run under: the
 * calls that make a process stop for us (and setsid and setpgid, whose
 * outcome its ghost mirrors, kill and rt_sigqueueinfo of one positive
 * PID, which may name a process elsewhere: sigfwd.c, and getppid, whose
 * answer for a process nodeinit started is its ghost's parent), nothing
 * else does.  A clone(2) with CLONE_THREAD runs through (its flags are
 * its first argument); clone3's are in memory, where a filter cannot
 * look, so it always stops.  32-bit and x32 calls of the same kinds stop
 * the same way (x32's rt_sigqueueinfo has a number of its own, 524, and
 * runs through: it stays local).
 *
 * Jumps are relative in BPF; each line below names its own index (pc)
 * and its targets by label, and TF_J computes the offsets.
 */
enum {
	TF_X64_NR = 2,		/* x86-64 and x32: the call number */
	TF_X64_CLONE = 13,	/* ... clone: its flags */
	TF_I386 = 15,		/* i386 */
	TF_I386_CLONE = 26,
	TF_PID = 28,		/* kill, rt_sigqueueinfo: which PID */
	TF_ALLOW = 31,
	TF_TRACE = 32,
	TF_LEN
};
#define TF_J(pc, op, k, t, f)	BPF_JUMP(BPF_JMP | (op) | BPF_K, (k), \
				    (t) - (pc) - 1, (f) - (pc) - 1)
#define TF_EQ(pc, k, t, f)	TF_J(pc, BPF_JEQ, k, t, f)
#define TF_LD(field)		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, \
				    offsetof(struct seccomp_data, field))

static int
track_filter(void)
{
	struct sock_filter f[TF_LEN] = {
		[0] = TF_LD(arch),
		[1] = TF_EQ(1, AUDIT_ARCH_X86_64, TF_X64_NR, TF_I386),
		[2] = TF_LD(nr),
		/* x32 calls are the same numbers with one bit more */
		[3] = BPF_STMT(BPF_ALU | BPF_AND | BPF_K, ~0x40000000u),
		[4] = TF_EQ(4, __NR_fork, TF_TRACE, 5),
		[5] = TF_EQ(5, __NR_vfork, TF_TRACE, 6),
		[6] = TF_EQ(6, __NR_clone3, TF_TRACE, 7),
		[7] = TF_EQ(7, __NR_setsid, TF_TRACE, 8),
		[8] = TF_EQ(8, __NR_setpgid, TF_TRACE, 9),
		[9] = TF_EQ(9, __NR_kill, TF_PID, 10),
		[10] = TF_EQ(10, __NR_rt_sigqueueinfo, TF_PID, 11),
		[11] = TF_EQ(11, __NR_getppid, TF_TRACE, 12),
		[12] = TF_EQ(12, __NR_clone, TF_X64_CLONE, TF_ALLOW),
		[13] = TF_LD(args[0]),
		[14] = TF_J(14, BPF_JSET, CLONE_THREAD, TF_ALLOW, TF_TRACE),
		[15] = TF_EQ(15, AUDIT_ARCH_I386, 16, TF_ALLOW),
		[16] = TF_LD(nr),
		[17] = TF_EQ(17, 2, TF_TRACE, 18),	/* fork */
		[18] = TF_EQ(18, 190, TF_TRACE, 19),	/* vfork */
		[19] = TF_EQ(19, 435, TF_TRACE, 20),	/* clone3 */
		[20] = TF_EQ(20, 66, TF_TRACE, 21),	/* setsid */
		[21] = TF_EQ(21, 57, TF_TRACE, 22),	/* setpgid */
		[22] = TF_EQ(22, 37, TF_PID, 23),	/* kill */
		[23] = TF_EQ(23, 178, TF_PID, 24),	/* rt_sigqueueinfo */
		[24] = TF_EQ(24, 64, TF_TRACE, 25),	/* getppid */
		[25] = TF_EQ(25, 120, TF_I386_CLONE, TF_ALLOW),	/* clone */
		[26] = TF_LD(args[0]),
		[27] = TF_J(27, BPF_JSET, CLONE_THREAD, TF_ALLOW, TF_TRACE),
		/* the PID's low word (x86 is little-endian): 0 and below stay local */
		[28] = TF_LD(args[0]),
		[29] = TF_J(29, BPF_JSET, 0x80000000u, TF_ALLOW, 30),
		[30] = TF_EQ(30, 0, TF_ALLOW, TF_TRACE),
		[31] = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		[32] = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE),
	};
	struct sock_fprog	prog = { .len = TF_LEN, .filter = f };

	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}

/*
 * In the child, before it drops its privileges: wait until nodeinit has
 * seized us (a byte on the pipe: '1' traced, '0' not), then take the
 * filter.  Without a tracer the filter would fail every fork with ENOSYS.
 */
int
track_child(int gofd)
{
	char	c = '0';

	if (gofd < 0)
		return 0;
	while (read(gofd, &c, 1) == -1 && errno == EINTR)
		;
	close(gofd);
	if (c != '1')
		return 0;
	return track_filter();
}

/* Seize a process we just started (gpid: its ghost); 0 or -1. */
int
track_attach(pid_t pid, pid_t gpid)
{
	struct ttask	*t;

	if (ptrace(PTRACE_SEIZE, pid, NULL, (void *)(long)TRACK_OPTS) == -1) {
		log_warn("ptrace seize %d: its children get no ghosts", (int)pid);
		return -1;
	}
	if ((t = tt_new(pid)) == NULL) {
		ptrace(PTRACE_DETACH, pid, NULL, NULL);
		return -1;
	}
	t->leader = 1;
	t->state = TT_RUN;
	t->top = gpid;
	tt_set_gpid(t, gpid);
	return 0;
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

/*
 * Let the queued clone at its seccomp stop fail with err instead: the
 * call is skipped (number -1) and returns what we put in its result.
 */
int
track_skip_call(pid_t tid, long ret)
{
#if defined(__x86_64__)
	struct user_regs_struct	r;

	if (ptrace(PTRACE_GETREGS, tid, NULL, &r) == 0) {
		r.orig_rax = (unsigned long long)-1;
		r.rax = (unsigned long long)ret;
		if (ptrace(PTRACE_SETREGS, tid, NULL, &r) == 0) {
			ptrace(PTRACE_CONT, tid, NULL, NULL);
			return 0;
		}
	}
#else
	(void)tid;
	(void)ret;
#endif
	return -1;
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

/* A clone stopped at its seccomp stop: what it makes, then queue it. */
static void
track_seccomp(struct ttask *t)
{
	struct track_scinfo	si;
	uint64_t		flags = 0;
	long			w;

	memset(&si, 0, sizeof(si));
	if (ptrace(PTRACE_GET_SYSCALL_INFO, t->tid, (void *)sizeof(si), &si) <= 0 ||
	    si.op != TRACK_SCI_SECCOMP) {
		ptrace(PTRACE_CONT, t->tid, NULL, NULL);
		return;
	}
	si.seccomp.nr &= ~(uint64_t)0x40000000;	/* x32 */
	if (si.seccomp.nr == (si.arch == AUDIT_ARCH_X86_64 ? __NR_getppid : 64)) {
		/*
		 * A process nodeinit started has nodeinit for its parent here;
		 * in the process space its parent is its ghost's.  Anyone
		 * else's parent is a process of this node, as the kernel says.
		 */
		pid_t	pp = tt_leader(t)->gpid == tt_leader(t)->top ?
		    proc_fe_ppid(tt_leader(t)->gpid) : 0;

		if (pp <= 0 || track_skip_call(t->tid, pp) == -1)
			ptrace(PTRACE_CONT, t->tid, NULL, NULL);
		return;
	}
	if (si.arch == AUDIT_ARCH_X86_64 ?
	    si.seccomp.nr == __NR_kill || si.seccomp.nr == __NR_rt_sigqueueinfo :
	    si.seccomp.nr == 37 || si.seccomp.nr == 178) {
		sigfwd_stop(t->tid, tt_leader(t)->gpid, tt_leader(t)->paused,
		    si.arch == AUDIT_ARCH_X86_64 ?
		    (si.seccomp.nr == __NR_rt_sigqueueinfo ? SIGFWD_QUEUE64 : 0) :
		    (si.seccomp.nr == 178 ? SIGFWD_QUEUE32 : 0),
		    si.seccomp.args);
		return;
	}
	if (si.arch == AUDIT_ARCH_X86_64 ?
	    si.seccomp.nr == __NR_setsid || si.seccomp.nr == __NR_setpgid :
	    si.seccomp.nr == 66 || si.seccomp.nr == 57) {
		/* what it did is known at its exit: report it then */
		t->pgof = si.seccomp.nr == __NR_setpgid || si.seccomp.nr == 57 ?
		    (pid_t)si.seccomp.args[0] : 0;
		if (t->pgof <= 0)
			t->pgof = t->tgid;
		if (ptrace(PTRACE_SYSCALL, t->tid, NULL, NULL) == -1)
			t->pgof = 0;
		return;
	}
	if ((si.arch == AUDIT_ARCH_X86_64 && si.seccomp.nr == __NR_clone3) ||
	    (si.arch == AUDIT_ARCH_I386 && si.seccomp.nr == 435)) {
		errno = 0;
		w = ptrace(PTRACE_PEEKDATA, t->tid,
		    (void *)(uintptr_t)si.seccomp.args[0], NULL);
		if (w == -1 && errno != 0) {
			/* a bad pointer: the call fails by itself */
			ptrace(PTRACE_CONT, t->tid, NULL, NULL);
			return;
		}
		flags = (uint64_t)w;
	} else if ((si.arch == AUDIT_ARCH_X86_64 && si.seccomp.nr == __NR_clone) ||
	    (si.arch == AUDIT_ARCH_I386 && si.seccomp.nr == 120))
		flags = si.seccomp.args[0];
	else if (si.seccomp.nr == __NR_vfork || si.seccomp.nr == 190)
		flags = CLONE_VM | CLONE_VFORK;
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
static void
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
static void
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

/* A ghost PID for a node PID: its process's, 0 if not ours. */
static pid_t
track_ghost_of(pid_t pid)
{
	struct ttask	*t = pid > 0 ? tt_find(pid) : NULL;

	return t != NULL && t->leader ? t->gpid : 0;
}

/*
 * A setsid or setpgid returned: where its process is now, for its ghost
 * to follow (MSG_PGRP).  The first process of a session is left out: its
 * session is the one nodeinit made it, the caller's here.
 */
static void
track_pgrp(struct ttask *t)
{
	unsigned char	 buf[96];
	struct wire_msg	 m;
	struct ttask	*p = tt_find(t->pgof);

	t->pgof = 0;
	if (p == NULL || !p->leader || p->gpid == p->top)
		return;
	wire_msg_init(&m, buf, sizeof(buf), MSG_PGRP, 0, 0);
	wire_put_u32(&m, A_PID, (uint32_t)p->gpid);
	wire_put_u32(&m, A_SID, (uint32_t)track_ghost_of(getsid(p->tid)));
	wire_put_u32(&m, A_PGID, (uint32_t)track_ghost_of(getpgid(p->tid)));
	wire_put_u32(&m, A_PPID, (uint32_t)p->top);
	link_send_msg(&m);
}

static void
track_report_stop(struct ttask *l, int sig)
{
	unsigned char	buf[64];
	struct wire_msg	m;

	wire_msg_init(&m, buf, sizeof(buf), MSG_STOPPED, 0, 0);
	wire_put_u32(&m, A_PID, (uint32_t)l->gpid);
	wire_put_u32(&m, A_SIG, (uint32_t)sig);
	link_send_msg(&m);
}

static void
track_continued(struct ttask *t)
{
	struct ttask	*l = tt_leader(t);

	if (!l->stopped)
		return;
	l->stopped = 0;
	track_report_stop(l, 0);
}

/* The new argv of an exec, for the ghost's command line. */
static void
track_exec(struct ttask *t)
{
	static unsigned char	 buf[TRACK_CMDLINE + 1024];
	char			 path[64], cmd[TRACK_CMDLINE];
	struct wire_msg		 m;
	unsigned long		 old = 0;
	struct ttask		*o;
	ssize_t			 n;
	size_t			 i, s;
	int			 fd;

	/* a thread that execs takes its leader's place; its own tid is gone */
	if (ptrace(PTRACE_GETEVENTMSG, t->tid, NULL, &old) == 0 &&
	    (pid_t)old != t->tid && (o = tt_find((pid_t)old)) != NULL &&
	    o != t)
		tt_free(o);
	if (t->execs++ == 0 && t->gpid == t->top)
		return;		/* the exec nodeinit itself made */
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)t->tid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return;
	n = read(fd, cmd, sizeof(cmd) - 1);
	close(fd);
	if (n <= 0)
		return;
	if (cmd[n - 1] != '\0')
		cmd[n++] = '\0';
	wire_msg_init(&m, buf, sizeof(buf), MSG_EXECED, 0, 0);
	wire_put_u32(&m, A_PID, (uint32_t)t->gpid);
	for (i = 0; i < (size_t)n; i = s + 1) {
		s = i + strlen(cmd + i);
		wire_put_str(&m, A_ARG, cmd + i);
	}
	link_send_msg(&m);
}

static void
track_exited(struct ttask *t, int status)
{
	unsigned char	buf[64];
	struct wire_msg	m;

	if (t->leader && t->gpid && t->gpid != t->top) {
		proc_session_flush(t->top, t->gpid);
		wire_msg_init(&m, buf, sizeof(buf), MSG_EXIT, 0, 0);
		wire_put_u32(&m, A_PID, (uint32_t)t->gpid);
		wire_put_u32(&m, A_STATUS, (uint32_t)status);
		link_send_msg(&m);
	}
	tt_free(t);
}

static int
is_stopsig(int sig)
{
	return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN ||
	    sig == SIGTTOU;
}

/*
 * One wait status of a task.  Returns 1 when it was a tracee's and is
 * dealt with, 0 when proc.c's reaping takes it (not ours, or the exit of
 * a process nodeinit started itself).
 */
int
track_event(pid_t pid, int status)
{
	struct ttask	*t = tt_find(pid), *l;
	unsigned long	 msg;
	int		 sig, ev, top;

	if (t == NULL) {
		/* a new task's first stop before its parent's event */
		if (NI_WIFSTOPPED(status) && (status >> 16) == PTRACE_EVENT_STOP &&
		    (t = tt_new(pid)) != NULL) {
			t->state = TT_EARLY;
			return 1;
		}
		return 0;
	}
	if (WIFEXITED(status) || WIFSIGNALED(status)) {
		top = t->leader && t->gpid == t->top;
		track_exited(t, status);
		return !top;
	}
	if (!NI_WIFSTOPPED(status))
		return 1;
	sig = WSTOPSIG(status);
	ev = status >> 16;
	switch (ev) {
	case 0:
		if (sig == (SIGTRAP | 0x80)) {
			if (t->pgof)
				track_pgrp(t);
			else
				track_syscall_exit(t);
			ptrace(PTRACE_CONT, pid, NULL, NULL);
			return 1;
		}
		/* a signal-delivery-stop: the signal goes on as it came */
		if (sig == SIGCONT)
			track_continued(t);
		ptrace(PTRACE_CONT, pid, NULL, (void *)(long)sig);
		return 1;
	case PTRACE_EVENT_STOP:
		if (t->state != TT_RUN) {
			/* a new task's first stop: it may run */
			t->state = TT_RUN;
			ptrace(PTRACE_CONT, pid, NULL, NULL);
			return 1;
		}
		if (is_stopsig(sig)) {
			l = tt_leader(t);
			ptrace(PTRACE_LISTEN, pid, NULL, NULL);
			if (l == t && !l->stopped) {
				l->stopped = 1;
				if (sig == SIGSTOP && l->stopsig)
					sig = l->stopsig;
				l->stopsig = 0;
				track_report_stop(l, sig);
			}
			return 1;
		}
		track_continued(t);
		ptrace(PTRACE_CONT, pid, NULL, NULL);
		return 1;
	case PTRACE_EVENT_SECCOMP:
		track_seccomp(t);
		return 1;
	case PTRACE_EVENT_FORK:
	case PTRACE_EVENT_VFORK:
	case PTRACE_EVENT_CLONE:
		if (ptrace(PTRACE_GETEVENTMSG, pid, NULL, &msg) == 0)
			track_born(t, (pid_t)msg, ev);
		ptrace(PTRACE_CONT, pid, NULL, NULL);
		return 1;
	case PTRACE_EVENT_EXEC:
		track_exec(t);
		ptrace(PTRACE_CONT, pid, NULL, NULL);
		return 1;
	default:
		ptrace(PTRACE_CONT, pid, NULL, NULL);
		return 1;
	}
}

/* The stop signal we turned a TSTP/TTIN/TTOU into, for the report. */
void
track_stopsig(pid_t pid, int sig)
{
	struct ttask	*t = tt_find(pid);

	if (t != NULL)
		t->stopsig = sig;
}

/* A signal from the ghost of a process we track; 0, or -1 if unknown. */
int
track_signal(pid_t gpid, int sig)
{
	struct ttask	*t = tt_find_gpid(gpid);

	if (t == NULL)
		return -1;
	/* the process group is orphaned here, as the first one's is */
	if ((sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU) &&
	    !proc_catches(t->tid, sig)) {
		t->stopsig = sig;
		sig = SIGSTOP;
	}
	if (kill(t->tid, sig) == -1)
		log_warn("kill %d %d", (int)t->tid, sig);
	return 0;
}

/* The ghost PID of the session's first process, for a process of it. */
pid_t
track_top_of(pid_t gpid)
{
	struct ttask	*t = tt_find_gpid(gpid);

	return t != NULL ? t->top : 0;
}

/*
 * A living process of top's session other than top itself, whose ghost
 * can print what the session still writes after top is gone; 0 if none.
 */
pid_t
track_session_member(pid_t top)
{
	struct ttask	*t;
	int		 i;

	for (i = 0; i < TRACK_HASH; i++)
		for (t = by_gpid[i]; t != NULL; t = t->gnext)
			if (t->top == top && t->gpid != top && t->leader)
				return t->gpid;
	return 0;
}

int
track_count(void)
{
	return ntasks;
}

/* The master is gone: so are the ghosts; end every process we track. */
void
track_kill_all(void)
{
	struct ttask	*t;
	int		 i;

	sigfwd_lost(0);
	for (i = 0; i < TRACK_HASH; i++)
		while ((t = by_tid[i]) != NULL) {
			if (t->leader)
				kill(t->tid, SIGKILL);
			queue = NULL;
			queue_tail = &queue;
			t->queued = 0;
			by_tid[i] = t->hnext;
			free(t);
			ntasks--;
		}
	memset(by_gpid, 0, sizeof(by_gpid));
	queue = NULL;
	queue_tail = &queue;
}

/* Processes forked on the node (the first of each session is proc.c's). */
int
track_children(void)
{
	struct ttask	*t;
	int		 i, n = 0;

	for (i = 0; i < TRACK_HASH; i++)
		for (t = by_gpid[i]; t != NULL; t = t->gnext)
			n += t->leader && t->gpid != t->top;
	return n;
}

/* The master is gone: no fork goes on until its process's ghost is back. */
void
track_link_lost(void)
{
	struct ttask	*t;
	int		 i;

	for (i = 0; i < TRACK_HASH; i++)
		for (t = by_gpid[i]; t != NULL; t = t->gnext)
			t->paused = 1;
	/* the answer to a question in flight went with the master */
	if (queue != NULL && queue->qstate == TQ_ASKED)
		queue->qstate = TQ_WAIT;
}

int
track_rejoin_report(void)
{
	unsigned char	 buf[1200];
	struct wire_msg	 m;
	struct ttask	*t;
	struct stat	 st;
	char		 path[32];
	int		 i, n = 0;

	for (i = 0; i < TRACK_HASH; i++)
		for (t = by_gpid[i]; t != NULL; t = t->gnext) {
			if (!t->leader || t->gpid == t->top)
				continue;
			snprintf(path, sizeof(path), "/proc/%d", (int)t->tid);
			wire_msg_init(&m, buf, sizeof(buf), MSG_REJOIN, 0, 0);
			wire_put_u32(&m, A_PID, (uint32_t)t->gpid);
			wire_put_u32(&m, A_RPID, (uint32_t)t->tid);
			wire_put_u32(&m, A_PPID, (uint32_t)t->top);
			wire_put_u32(&m, A_UID, stat(path, &st) == 0 ?
			    st.st_uid : 65534);
			wire_put_u32(&m, A_FLAGS, REJOIN_F_CHILD |
			    (t->stopped ? REJOIN_F_STOPPED : 0));
			grace_put_cmd(&m, t->tid);
			link_send_msg(&m);
			n++;
		}
	return n;
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

/* The ghost PID of a tracked process (its leader's), 0 if none (migrate.c). */
pid_t
track_gpid(pid_t tid)
{
	struct ttask	*t = tt_find(tid);

	if (t == NULL || (t = tt_leader(t)) == NULL)
		return 0;
	return t->gpid;
}
