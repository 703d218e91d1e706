/*
 * ghost_self.c: who this ghost is (its node, a child ghost or a spare,
 * bpmaster away or not) and its ways out: it dies as a process that lost
 * its remote, exits as the remote did, stops as the remote stopped.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ghost.h"

struct ghost_self	ghost_self = { .node = -1, .err_fd = STDERR_FILENO };

void __attribute__((noreturn))
ghost_die(const char *what)
{
	term_restore();
	/* one line per session is enough: the first ghost says it */
	if (!ghost_self.is_child)
		dprintf(ghost_self.err_fd, "%d: %s\n", ghost_self.node, what);
	/* a ghost that lost its process looks killed, like BProc's */
	signal(SIGKILL, SIG_DFL);
	kill(getpid(), SIGKILL);
	_exit(137);
}

void __attribute__((noreturn))
ghost_exit(uint32_t status)
{
	struct rlimit	no_core = { 0, 0 };
	sigset_t	set;
	int		sig;

	term_restore();
	if (WIFEXITED(status))
		exit(WEXITSTATUS(status));
	sig = WIFSIGNALED(status) ? WTERMSIG(status) : SIGKILL;
	/* die of the same signal, but leave no core file on the front end */
	setrlimit(RLIMIT_CORE, &no_core);
	signal(sig, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, sig);
	kill(getpid(), sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	_exit(128 + sig);
}

/* The remote stopped: stop ourselves the same way, so our parent sees it. */
void
ghost_stop(int sig)
{
	sigset_t	set;

	if (sig != SIGSTOP && sig != SIGTSTP && sig != SIGTTIN &&
	    sig != SIGTTOU)
		sig = SIGSTOP;
	/* the shell gets its terminal back as we stop; raw again on SIGCONT */
	term_restore();
	signal(sig, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, sig);
	kill(getpid(), sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	/* here after SIGCONT; catch it again from now on */
	sigprocmask(SIG_BLOCK, &set, NULL);
}
