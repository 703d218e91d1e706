/*
 * Signals and wait statuses of the processes hosted for ghosts: a signal
 * from the ghost (MSG_SIGNAL), job-control stops made to work in the
 * orphaned process groups they sit in, SIGCHLD's reaping that reports
 * stops and exits, and the end of them all when the master is gone.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>

#include "log.h"
#include "nodeinit_int.h"
#include "proc_int.h"

void
proc_signal(struct wire_attr *tb)
{
	struct rproc	*rp = rproc_find((pid_t)wire_get_u32(&tb[A_PID]));
	uint32_t	 sig = wire_get_u32(&tb[A_SIG]);

	if (sig == 0 || sig >= NSIG)
		return;
	/* a process its ghost's process forked */
	if (rp == NULL) {
		track_signal((pid_t)wire_get_u32(&tb[A_PID]), (int)sig);
		return;
	}
	if (rp->exited)
		return;
	/*
	 * The ghost's terminal changed size: the pty tells its foreground
	 * process group (SIGWINCH), as a local resize would.
	 */
	if (sig == SIGWINCH && rp->tty && rp->fd[1] >= 0 &&
	    tb[A_ROWS].data && tb[A_COLS].data) {
		struct winsize	ws;

		memset(&ws, 0, sizeof(ws));
		ws.ws_row = wire_get_u16(&tb[A_ROWS]);
		ws.ws_col = wire_get_u16(&tb[A_COLS]);
		if (ioctl(rp->fd[1], TIOCSWINSZ, &ws) == -1)
			log_warn("pty of %d: window size", (int)rp->pid);
		return;
	}
	/*
	 * On a pty a job-control stop (proc_tty_keys) stopped the whole
	 * process group: continue all of it.
	 */
	if (sig == SIGCONT && rp->tty && kill(-rp->pid, SIGCONT) == 0)
		return;
	/*
	 * Our processes sit in an orphaned process group (their parent is
	 * PID 1, in another session), where the kernel discards TSTP, TTIN
	 * and TTOU that would stop by default.  The user at the front end
	 * did press Ctrl-Z: stop it with SIGSTOP and report their signal.
	 */
	if ((sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU) &&
	    !track_catches(rp->pid, (int)sig)) {
		rp->stopsig = (int)sig;
		track_stopsig(rp->pid, (int)sig);
		sig = SIGSTOP;
	}
	if (kill(rp->pid, (int)sig) == -1)
		log_warn("kill %d %u", (int)rp->pid, sig);
}

/* SIGCHLD: reap everything; report our processes' stops and ends. */
void
proc_reap(void)
{
	unsigned char	 buf[64];
	struct wire_msg	 m;
	struct rproc	*rp;
	int		 status;
	pid_t		 pid;

	/*
	 * A tracer that waits with WCONTINUED takes the continued state
	 * from the real parent (a shell's wait would miss it): processes
	 * we trace are seen continuing by their SIGCONT instead.
	 */
	while ((pid = waitpid(-1, &status, __WALL | WNOHANG | WUNTRACED |
	    (track_count() ? 0 : WCONTINUED))) > 0) {
		if (track_event(pid, status))
			continue;
		DLIST_FOREACH(rp, &rproc_list, link)
			if (rp->pid == pid)
				break;
		if (rp == NULL)
			continue;	/* an orphan we inherited as PID 1 */
		if (NI_WIFSTOPPED(status) || WIFCONTINUED(status)) {
			wire_msg_init(&m, buf, sizeof(buf), MSG_STOPPED, 0, 0);
			wire_put_u32(&m, A_PID, (uint32_t)rp->gpid);
			if (NI_WIFSTOPPED(status) && WSTOPSIG(status) == SIGSTOP &&
			    rp->stopsig)
				status = (rp->stopsig << 8) | 0x7f;
			rp->stopsig = 0;
			wire_put_u32(&m, A_SIG, NI_WIFSTOPPED(status) ?
			    (uint32_t)WSTOPSIG(status) : 0);
			link_send_msg(&m);
			continue;
		}
		rp->exited = 1;
		rp->status = status;
		rproc_finish(rp);
	}
}

/* The master is gone, so are the ghosts: end their processes (BProc's rule). */
void
proc_kill_all(void)
{
	struct rproc	*rp;

	track_kill_all();
	while ((rp = DLIST_FIRST(&rproc_list)) != NULL) {
		if (!rp->exited)
			kill(rp->pid, SIGKILL);
		rproc_free(rp);
	}
}
