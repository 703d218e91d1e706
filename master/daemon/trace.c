/*
 * SIGSTOP cannot be caught, so a ghost cannot forward it itself.  The
 * master ptrace-seizes every ghost: a SIGSTOP sent to it arrives here as
 * a signal-delivery-stop, goes to the remote process, and the ghost is
 * held in that stop until the node reports the remote stopped; then the
 * same SIGSTOP is let through, so the ghost's parent sees the same stop.
 * Holding it, rather than sending a new SIGSTOP later, matters: a new stop
 * signal would discard a SIGCONT the user sent meanwhile, while a SIGCONT
 * that arrives during the hold cancels the held stop in the kernel and
 * stays queued for the ghost to forward.  Every other signal the ghost
 * blocks and reads itself; those never reach us.  SIGKILL shows as the
 * ghost's connection closing.
 */
#include <signal.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bpmaster.h"
#include "log.h"

void
trace_ghost(struct proc *p)
{
	if (ptrace(PTRACE_SEIZE, p->pid, NULL, NULL) == -1) {
		log_warn("ptrace seize ghost %d (SIGSTOP will not reach the "
		    "remote)", (int)p->pid);
		return;
	}
	p->traced = 1;
}

/* The remote stopped of SIGSTOP: stop the ghost for real. */
int
trace_stop_ghost(struct proc *p)
{
	if (!p->traced)
		return -1;
	if (p->held) {
		p->held = 0;
		return ptrace(PTRACE_CONT, p->pid, NULL, (void *)(long)SIGSTOP);
	}
	/* stopped on the node by someone else: a SIGSTOP of our own */
	return kill(p->pid, SIGSTOP);
}

/* The remote continued: so does the ghost (it ignores our SIGCONT). */
void
trace_cont_ghost(struct proc *p)
{
	if (p->held) {
		trace_release(p);
		return;
	}
	if (p->traced)
		kill(p->pid, SIGCONT);
}

/* Let a held ghost run on without stopping (its process ended). */
void
trace_release(struct proc *p)
{
	if (!p->held)
		return;
	p->held = 0;
	ptrace(PTRACE_CONT, p->pid, NULL, NULL);
}

/*
 * A SIGSTOP is ours when we sent it (trace_stop_ghost): the kernel says
 * who sent a signal, so no flag can go stale when a SIGCONT discards our
 * SIGSTOP before the ghost dequeues it.
 */
static int
trace_stop_is_ours(pid_t pid)
{
	siginfo_t	si;

	if (ptrace(PTRACE_GETSIGINFO, pid, NULL, &si) == -1)
		return 0;
	return si.si_code == SI_USER && si.si_pid == getpid();
}

static void
trace_event(pid_t pid, int status)
{
	struct proc	*p = proc_find(pid);
	int		 sig;

	if (WIFEXITED(status) || WIFSIGNALED(status)) {
		if (p != NULL)
			p->traced = 0;
		return;
	}
	if (!WIFSTOPPED(status))
		return;
	sig = WSTOPSIG(status);
	if ((status >> 16) == PTRACE_EVENT_STOP) {
		/*
		 * group-stop (reported with the stopping signal): stay
		 * stopped, but let SIGCONT wake it; anything else (SIGTRAP,
		 * after such a wake-up) runs on.
		 */
		if (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN ||
		    sig == SIGTTOU)
			ptrace(PTRACE_LISTEN, pid, NULL, NULL);
		else
			ptrace(PTRACE_CONT, pid, NULL, NULL);
		return;
	}
	/* a signal-delivery-stop */
	if (sig == SIGSTOP && p != NULL && !p->exited) {
		if (trace_stop_is_ours(pid)) {
			log_debug("ghost %d: our SIGSTOP, remote %s", (int)pid,
			    p->rstopped ? "stopped: stop" : "runs: dropped");
			/* stop only if the remote still is stopped */
			ptrace(PTRACE_CONT, pid, NULL,
			    (void *)(long)(p->rstopped ? sig : 0));
			return;
		}
		log_debug("ghost %d: SIGSTOP, to the remote", (int)pid);
		/*
		 * Held until the node answers (trace_stop_ghost); a remote
		 * that is stopped already sends no new stop report, so the
		 * ghost stops at once then.
		 */
		if (proc_signal_remote(p, SIGSTOP) == -1)
			ptrace(PTRACE_CONT, pid, NULL, NULL);
		else if (p->rstopped)
			ptrace(PTRACE_CONT, pid, NULL, (void *)(long)sig);
		else
			p->held = 1;
		return;
	}
	ptrace(PTRACE_CONT, pid, NULL, (void *)(long)sig);
}

/* SIGCHLD: collect the state changes of every tracee. */
void
trace_reap(void)
{
	pid_t	pid;
	int	status;

	while ((pid = waitpid(-1, &status, __WALL | WNOHANG)) > 0)
		trace_event(pid, status);
}
