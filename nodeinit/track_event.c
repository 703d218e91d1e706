/*
 * A tracee's wait statuses (proc_sig.c's reaping hands them here first):
 * group-stops listened to and reported, signals passed on, a new task's
 * first stop, fork and exec events, exits; and a signal from a ghost for
 * a process it tracks.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "nodeinit_int.h"
#include "track_int.h"

#define TRACK_CMDLINE	4096		/* bytes of /proc/PID/cmdline sent at exec */

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
		track_drop(o);
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
		if (track_hooks.session_flush != NULL)
			track_hooks.session_flush(t->top, t->gpid);
		wire_msg_init(&m, buf, sizeof(buf), MSG_EXIT, 0, 0);
		wire_put_u32(&m, A_PID, (uint32_t)t->gpid);
		wire_put_u32(&m, A_STATUS, (uint32_t)status);
		link_send_msg(&m);
	}
	track_drop(t);
}

static int
is_stopsig(int sig)
{
	return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN ||
	    sig == SIGTTOU;
}

/* A syscall-exit stop (TRACESYSGOOD), or a signal-delivery-stop. */
static void
track_trap(struct ttask *t, pid_t pid, int sig)
{
	if (sig == (SIGTRAP | 0x80)) {
		if (t->pgof)
			track_pgrp(t);
		else
			track_syscall_exit(t);
		ptrace(PTRACE_CONT, pid, NULL, NULL);
		return;
	}
	/* a signal-delivery-stop: the signal goes on as it came */
	if (sig == SIGCONT)
		track_continued(t);
	ptrace(PTRACE_CONT, pid, NULL, (void *)(long)sig);
}

/* PTRACE_EVENT_STOP: a new task's first stop, a group-stop, or its end. */
static void
track_group_stop(struct ttask *t, pid_t pid, int sig)
{
	struct ttask	*l;

	if (t->state != TT_RUN) {
		/* a new task's first stop: it may run */
		t->state = TT_RUN;
		ptrace(PTRACE_CONT, pid, NULL, NULL);
		return;
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
		return;
	}
	track_continued(t);
	ptrace(PTRACE_CONT, pid, NULL, NULL);
}

/* A tracee's ptrace stop, by its event. */
static void
track_stopped(struct ttask *t, pid_t pid, int status)
{
	unsigned long	msg;
	int		sig = WSTOPSIG(status), ev = status >> 16;

	switch (ev) {
	case 0:
		track_trap(t, pid, sig);
		return;
	case PTRACE_EVENT_STOP:
		track_group_stop(t, pid, sig);
		return;
	case PTRACE_EVENT_SECCOMP:
		track_seccomp(t);
		return;
	case PTRACE_EVENT_FORK:
	case PTRACE_EVENT_VFORK:
	case PTRACE_EVENT_CLONE:
		if (ptrace(PTRACE_GETEVENTMSG, pid, NULL, &msg) == 0)
			track_born(t, (pid_t)msg, ev);
		ptrace(PTRACE_CONT, pid, NULL, NULL);
		return;
	case PTRACE_EVENT_EXEC:
		track_exec(t);
		ptrace(PTRACE_CONT, pid, NULL, NULL);
		return;
	default:
		ptrace(PTRACE_CONT, pid, NULL, NULL);
		return;
	}
}

/*
 * One wait status of a task.  Returns 1 when it was a tracee's and is
 * dealt with, 0 when proc_sig.c's reaping takes it (not ours, or the exit of
 * a process nodeinit started itself).
 */
int
track_event(pid_t pid, int status)
{
	struct ttask	*t = tt_find(pid);
	int		 top;

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
	if (NI_WIFSTOPPED(status))
		track_stopped(t, pid, status);
	return 1;
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
	    !track_catches(t->tid, sig)) {
		t->stopsig = sig;
		sig = SIGSTOP;
	}
	if (kill(t->tid, sig) == -1)
		log_warn("kill %d %d", (int)t->tid, sig);
	return 0;
}

/* Does pid catch sig (SigCgt in /proc/pid/status)? */
int
track_catches(pid_t pid, int sig)
{
	char			 path[64], line[256];
	unsigned long long	 mask = 0;
	FILE			*f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return 0;
	/* strtoull, not sscanf: scanf would link musl's float scanner too */
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "SigCgt:", 7) == 0) {
			mask = strtoull(line + 7, NULL, 16);
			break;
		}
	fclose(f);
	return (mask >> (sig - 1)) & 1;
}
