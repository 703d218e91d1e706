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
 *
 * This file keeps the traced tasks, by tid and by ghost PID; the rest is
 * in track_filter.c, track_fork.c, track_calls.c and track_event.c.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "nodeinit_int.h"
#include "track_int.h"

#define TRACK_HASH	256		/* buckets of the task and ghost tables */
#define TRACK_OPTS	(PTRACE_O_TRACESECCOMP | PTRACE_O_TRACEFORK | \
			 PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE | \
			 PTRACE_O_TRACEEXEC | PTRACE_O_TRACESYSGOOD | \
			 PTRACE_O_EXITKILL)

struct track_hooks	 track_hooks;	/* nodeinit.c fills it in */
static struct ttask	*by_tid[TRACK_HASH];
static struct ttask	*by_gpid[TRACK_HASH];
static int		 ntasks;

struct ttask *
tt_find(pid_t tid)
{
	struct ttask	*t;

	for (t = by_tid[(unsigned)tid % TRACK_HASH]; t != NULL; t = t->hnext)
		if (t->tid == tid)
			return t;
	return NULL;
}

struct ttask *
tt_find_gpid(pid_t gpid)
{
	struct ttask	*t;

	for (t = by_gpid[(unsigned)gpid % TRACK_HASH]; t != NULL; t = t->gnext)
		if (t->gpid == gpid)
			return t;
	return NULL;
}

struct ttask *
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

void
tt_set_gpid(struct ttask *t, pid_t gpid)
{
	t->gpid = gpid;
	t->gnext = by_gpid[(unsigned)gpid % TRACK_HASH];
	by_gpid[(unsigned)gpid % TRACK_HASH] = t;
}

/* t leaves the tables (its clone in flight, if any, is track_drop's). */
void
tt_free(struct ttask *t)
{
	struct ttask	**pp;

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
	sigfwd_forget(t->tid);
	free(t);
	ntasks--;
}

/* The leader of t's process, where the process-wide state lives. */
struct ttask *
tt_leader(struct ttask *t)
{
	struct ttask	*l;

	if (t->leader)
		return t;
	l = tt_find(t->tgid);
	return l != NULL ? l : t;
}

/* Every task goes, every process of them killed (track_kill_all). */
void
tt_free_all(void)
{
	struct ttask	*t;
	int		 i;

	for (i = 0; i < TRACK_HASH; i++)
		while ((t = by_tid[i]) != NULL) {
			if (t->leader)
				kill(t->tid, SIGKILL);
			t->queued = 0;
			by_tid[i] = t->hnext;
			free(t);
			ntasks--;
		}
	memset(by_gpid, 0, sizeof(by_gpid));
}

/* The master is gone: no process forks until its ghost is back. */
void
tt_pause_all(void)
{
	struct ttask	*t;
	int		 i;

	for (i = 0; i < TRACK_HASH; i++)
		for (t = by_gpid[i]; t != NULL; t = t->gnext)
			t->paused = 1;
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

pid_t
track_ghost_of(pid_t pid)
{
	struct ttask	*t = pid > 0 ? tt_find(pid) : NULL;

	return t != NULL && t->leader ? t->gpid : 0;
}

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
			cmdline_put(&m, t->tid);
			link_send_msg(&m);
			n++;
		}
	return n;
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
