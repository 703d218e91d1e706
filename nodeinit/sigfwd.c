/*
 * kill(2) and rt_sigqueueinfo(2) of a PID that is not on this node.
 *
 * BProc's process space is one: a process here may signal its parent on
 * the front end or a sibling on another node by the PID it knows, which
 * this node's kernel has never heard of.  The tracking filter (track_filter.c)
 * stops both calls when they name one positive PID; at the stop we look
 * the PID up here.  A process of this node's pid namespace takes the call
 * as it is (the kernel does the rest); any other PID goes to the master
 * as a MSG_KILL naming the sender's ghost, from our own tables, and the
 * sender stays in its stop, the call skipped, until the answer's errno
 * becomes the call's result.  Nothing here waits: each stopped sender is
 * a row in the pending list, answered by sequence number.
 *
 * A master restart loses no kill: while the link is down and nodeinit
 * keeps its processes (grace.c), and until the sender's ghost is back
 * (its RESUME), a kill waits in its stop, as a fork does; it is asked of
 * the next master once that master knows the sender.  With no master to
 * come (no grace, or the grace ran out and the processes with it) the
 * answer is ESRCH.
 *
 * tkill and tgkill name threads, which have no cluster-wide name (ghosts
 * are per process): they stay local, and cost nothing (raise(3),
 * pthread_kill(3) and a Go runtime's preemption signals do not stop).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <unistd.h>

#include "list.h"
#include "log.h"
#include "nodeinit_int.h"

#define SIGFWD_MAX	4096	/* senders waiting for the master at once; past it, ESRCH */
#define SIGFWD_NSIG	64	/* the kernel's _NSIG: larger signals are EINVAL */

struct sigfwd {
	pid_t		 tid;		/* the sender, in its seccomp stop */
	pid_t		 gpid;		/* its process's ghost */
	uint32_t	 seq;		/* of its MSG_KILL; 0: not asked yet */
	pid_t		 target;
	int		 sig;
	int		 queue;		/* a sigqueue: val travels */
	long		 uid;		/* its effective uid, -1 unknown */
	uint64_t	 val;
	DLIST_LINK(sigfwd) link;	/* pending */
};

struct sigfwd_hooks	sigfwd_hooks;
static DLIST_HEAD(, sigfwd) pending = { NULL };
static int		 npending;
static uint32_t		 sigfwd_seq;
static ino_t		 own_pidns;
static dev_t		 own_pidns_dev;

/*
 * Resume the sender with its call skipped, returning 0 or -err; if the
 * registers cannot be set the call runs here after all (and fails ESRCH
 * for a PID the node does not have).
 */
static void
sigfwd_answer(pid_t tid, int err)
{
	if (track_skip_call(tid, -(long)err) == -1)
		ptrace(PTRACE_CONT, tid, NULL, NULL);
}

/* The sender's pid namespace is ours: its PIDs mean what ours do. */
static int
sigfwd_same_pidns(pid_t tid)
{
	char		path[48];
	struct stat	st;

	if (own_pidns == 0) {
		if (stat("/proc/self/ns/pid", &st) == -1)
			return 0;
		own_pidns = st.st_ino;
		own_pidns_dev = st.st_dev;
	}
	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)tid);
	if (stat(path, &st) == -1)
		return 0;
	return st.st_ino == own_pidns && st.st_dev == own_pidns_dev;
}

/* The sender's effective uid, as its /proc/PID/status says; -1 unknown. */
static long
sigfwd_euid(pid_t tid)
{
	char		 path[48], line[256], *end;
	long		 uid = -1;
	FILE		*f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	/* "Uid:\treal\teffective\t...": strtoul, as scanf would link musl's float scanner */
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "Uid:", 4) == 0) {
			(void)strtoul(line + 4, &end, 10);
			if (end != line + 4)
				uid = (long)strtoul(end, NULL, 10);
			break;
		}
	fclose(f);
	return uid;
}

static void
sigfwd_drop(struct sigfwd *d, int err)
{
	DLIST_REMOVE(d, link);
	npending--;
	sigfwd_answer(d->tid, err);
	free(d);
}

/*
 * Ask the master about a waiting kill: 0 asked (or answered: a master
 * older than MSG_KILL hears nothing and the sender gets ESRCH), -1 no
 * master link now (it stays waiting).
 */
static int
sigfwd_ask(struct sigfwd *s)
{
	unsigned char	buf[96];
	struct wire_msg	m;

	if (master_proto < BPROC_VERSION_KILL) {
		sigfwd_drop(s, ESRCH);
		return 0;
	}
	if (++sigfwd_seq == 0)
		sigfwd_seq = 1;
	wire_msg_init(&m, buf, sizeof(buf), MSG_KILL, 0, sigfwd_seq);
	wire_put_u32(&m, A_PID, (uint32_t)s->gpid);
	wire_put_u32(&m, A_TARGET, (uint32_t)s->target);
	wire_put_u32(&m, A_SIG, (uint32_t)s->sig);
	if (s->uid >= 0)
		wire_put_u32(&m, A_UID, (uint32_t)s->uid);
	if (s->queue)
		wire_put_u64(&m, A_SIGVAL, s->val);
	if (link_send_msg(&m) == -1)
		return -1;
	s->seq = sigfwd_seq;
	log_debug("kill(%d, %d) by %d (ghost %d): asked the master",
	    (int)s->target, s->sig, (int)s->tid, (int)s->gpid);
	return 0;
}

/*
 * A kill (queue 0) or rt_sigqueueinfo (queue SIGFWD_QUEUE64 or 32: the
 * siginfo's layout) stopped at its seccomp stop; args are the call's.
 * gpid is the sender's process's ghost; paused, it is not back after a
 * master restart.
 */
void
sigfwd_stop(pid_t tid, pid_t gpid, int paused, int queue,
    const uint64_t *args)
{
	struct sigfwd	*s;
	pid_t		 target = (pid_t)(int32_t)args[0];
	int		 sig = (int)(int32_t)args[1];
	long		 w;
	uint64_t	 val = 0;

	/* here (or a zombie here): the kernel's own call */
	if (target <= 0 || kill(target, 0) == 0 || errno == EPERM ||
	    !sigfwd_same_pidns(tid)) {
		ptrace(PTRACE_CONT, tid, NULL, NULL);
		return;
	}
	if (sig < 0 || sig > SIGFWD_NSIG) {
		sigfwd_answer(tid, EINVAL);
		return;
	}
	if (queue) {
		/* the kernel's rule for a siginfo sent to another process */
		errno = 0;
		w = ptrace(PTRACE_PEEKDATA, tid,
		    (void *)(uintptr_t)(args[2] + 8), NULL);
		if (w == -1 && errno != 0) {
			sigfwd_answer(tid, EFAULT);
			return;
		}
		if ((int32_t)w >= 0 || (int32_t)w == SI_TKILL) {
			sigfwd_answer(tid, EPERM);
			return;
		}
		/* si_value: after si_pid and si_uid, at 24 (20 in i386's) */
		errno = 0;
		w = ptrace(PTRACE_PEEKDATA, tid, (void *)(uintptr_t)(args[2] +
		    (queue == SIGFWD_QUEUE32 ? 20 : 24)), NULL);
		if (w == -1 && errno != 0) {
			sigfwd_answer(tid, EFAULT);
			return;
		}
		val = queue == SIGFWD_QUEUE32 ? (uint32_t)w : (uint64_t)w;
	}
	if (gpid <= 0 || npending >= SIGFWD_MAX ||
	    (s = calloc(1, sizeof(*s))) == NULL) {
		sigfwd_answer(tid, ESRCH);
		return;
	}
	s->tid = tid;
	s->gpid = gpid;
	s->target = target;
	s->sig = sig;
	s->queue = queue != 0;
	s->val = val;
	s->uid = sigfwd_euid(tid);
	DLIST_INSERT_HEAD(&pending, s, link);
	npending++;
	/* its ghost is not back after a master restart: it waits for it */
	if (paused)
		return;
	if (sigfwd_ask(s) == -1 &&
	    !(sigfwd_hooks.keeping != NULL && sigfwd_hooks.keeping()))
		sigfwd_drop(s, ESRCH);
}

static struct sigfwd *
sigfwd_take(int (*match)(const struct sigfwd *, uint32_t), uint32_t key)
{
	struct sigfwd	*s;

	DLIST_FOREACH(s, &pending, link)
		if (match(s, key)) {
			DLIST_REMOVE(s, link);
			npending--;
			return s;
		}
	return NULL;
}

static int
sigfwd_by_seq(const struct sigfwd *s, uint32_t seq)
{
	return seq != 0 && s->seq == seq;
}

static int
sigfwd_by_tid(const struct sigfwd *s, uint32_t tid)
{
	return s->tid == (pid_t)tid;
}

/* The master's answer (MSG_KILL_RESULT): the sender's call returns it. */
void
sigfwd_result(const struct proto_frame *f)
{
	struct sigfwd	*s = sigfwd_take(sigfwd_by_seq, f->h->seq);
	uint32_t	 err = wire_get_u32(&f->tb[A_ERRNO]);

	if (s == NULL) {
		log_debug("KILL_RESULT %u for no kill waiting", f->h->seq);
		return;
	}
	/* an errno kill(2) can return, or the plainest refusal */
	if (err != 0 && err != ESRCH && err != EPERM && err != EINVAL)
		err = EPERM;
	sigfwd_answer(s->tid, (int)err);
	free(s);
}

/* The sender died in its stop (track_calls.c): no one to answer. */
void
sigfwd_forget(pid_t tid)
{
	struct sigfwd	*s;

	if (npending == 0)
		return;
	while ((s = sigfwd_take(sigfwd_by_tid, (uint32_t)tid)) != NULL)
		free(s);
}

/*
 * The master link is gone and its answers with it.  keep: the processes
 * wait for the next master (grace.c), and so do their kills, asked
 * again once their ghosts are back; else no such process.
 */
void
sigfwd_lost(int keep)
{
	struct sigfwd	*s;

	if (keep) {
		DLIST_FOREACH(s, &pending, link)
			s->seq = 0;
		return;
	}
	while ((s = DLIST_FIRST(&pending)) != NULL) {
		DLIST_REMOVE(s, link);
		sigfwd_answer(s->tid, ESRCH);
		free(s);
	}
	npending = 0;
}

/* The ghost of gpid's process is back (track_fork.c): ask for its kills. */
void
sigfwd_resume(pid_t gpid)
{
	struct sigfwd	*s, *next;

	DLIST_FOREACH_SAFE(s, &pending, link, next) {
		if (s->gpid == gpid && s->seq == 0)
			sigfwd_ask(s);
	}
}
