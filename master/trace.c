/*
 * SIGSTOP cannot be caught, so a ghost cannot forward it itself.  The
 * master ptrace-seizes every ghost: a SIGSTOP sent to it arrives here as
 * a signal-delivery-stop, goes to the remote process, and is suppressed;
 * the ghost stops only when the node reports the remote stopped, so the
 * ghost's parent sees the same stop.  Every other signal the ghost blocks
 * and reads itself; those never reach us.  SIGKILL shows as the ghost's
 * connection closing.
 */
#include <signal.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

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
	p->expect_stop = 1;
	return kill(p->pid, SIGSTOP);
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
		if (p->expect_stop) {
			p->expect_stop = 0;
			ptrace(PTRACE_CONT, pid, NULL, (void *)(long)sig);
			return;
		}
		proc_signal_remote(p, SIGSTOP);
		ptrace(PTRACE_CONT, pid, NULL, NULL);
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
