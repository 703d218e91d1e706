/*
 * bpghost: the front-end stand-in of a process running on a node.
 * bproc_rexec() execs it with the remote argv (so ps shows the remote
 * command) and the control connection on BPROC_GHOST_FD.  It forwards
 * every signal it can catch, carries stdio both ways within the flow
 * control windows, mirrors the remote's stops, and ends exactly as the
 * remote did: the same exit code, or killed by the same signal.
 * SIGKILL cannot be caught: the master sees our connection close and
 * kills the remote process.
 *
 * With a pty on the node (EXEC_F_TTY) we are the far end of ssh -t
 * (ghost_term.c): the terminal's own settings come back on every way out
 * but SIGKILL (and a SIGSTOP the master holds us in: the shell restores
 * its modes for a stopped job, and we check again when continued).
 * The process tree is ghost_tree.c's, stdio and signals ghost_stream.c's;
 * this file is main (its setup) and the event loop, and what each frame
 * from bpmaster does (ghost_routes).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ghost.h"
#include "ghost_reconnect.h"
#include "proto.h"

static int		sig_fd = -1;

/*
 * The control connection ended without our exit: bpmaster died or is
 * being replaced.  Keep everything and wait for the next one.
 */
static void
ghost_lost(void)
{
	/* a spare no fork took: no one's ghost, nothing to wait for */
	if (ghost_self.spare)
		_exit(0);
	if (ghost_fd >= 0)
		close(ghost_fd);
	ghost_fd = -1;
	ghost_self.away = -1;
	conn_reset();
	reconnect_lost();
}

/* Connected again: say who we are and where our streams are. */
static void
ghost_rejoin(int fd)
{
	unsigned char	buf[128];
	struct wire_msg	m;
	struct ucred	uc;
	socklen_t	ul = sizeof(uc);

	ghost_fd = fd;
	ghost_self.away = 1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &ul) == 0)
		ghost_self.master_pid = uc.pid;
	wire_msg_init(&m, buf, sizeof(buf), MSG_GHOST_REJOIN, 0, 0);
	wire_put_u32(&m, A_NODE, (uint32_t)ghost_self.node);
	wire_put_u64(&m, A_OFF_OUT, stream_out_rx(1));
	wire_put_u64(&m, A_OFF_ERR, stream_out_rx(2));
	wire_put_u32(&m, A_FLAGS, ghost_self.is_child ? REJOIN_F_CHILD : 0);
	ghost_send(&m);
}

/*
 * Our node's link is lost, the master stays (rejoin.c): hold as while
 * the master is away, stdin unread and signals queued, until MSG_RESUME.
 * The answer tells the master that nothing we sent before follows.
 */
static int
ghost_on_hold(void *arg, const struct proto_frame *f)
{
	unsigned char	buf[64];
	struct wire_msg	m;

	(void)arg;
	(void)f;
	ghost_self.away = 1;
	wire_msg_init(&m, buf, sizeof(buf), MSG_HOLD, 0, 0);
	wire_put_u32(&m, A_PID, (uint32_t)getpid());
	ghost_send(&m);
	return 0;
}

static int
ghost_on_resume(void *arg, const struct proto_frame *f)
{
	(void)arg;
	ghost_resume(f->tb);
	return 0;
}

static int
ghost_on_stopped(void *arg, const struct proto_frame *f)
{
	(void)arg;
	if (wire_get_u32(&f->tb[A_SIG]) != 0)
		ghost_stop((int)wire_get_u32(&f->tb[A_SIG]));
	return 0;
}

/*
 * bpmaster did not take us for the ghost (see ctl.c); or, for a spare,
 * a fork on the node took us: we are its ghost from now on.
 */
static int
ghost_on_result(void *arg, const struct proto_frame *f)
{
	(void)arg;
	if (wire_get_u32(&f->tb[A_ERRNO]) == 0)
		ghost_self.spare = 0;
	else
		ghost_die(f->tb[A_MSG].data ? wire_get_str(&f->tb[A_MSG]) :
		    "bpmaster refused the ghost");
	return 0;
}

static int
ghost_on_exit(void *arg, const struct proto_frame *f)
{
	(void)arg;
	term_restore();
	if (f->tb[A_MSG].data && !ghost_self.is_child)
		dprintf(ghost_self.err_fd, "%d: %s\n", ghost_self.node,
		    wire_get_str(&f->tb[A_MSG]));
	ghost_exit(wire_get_u32(&f->tb[A_STATUS]));
}

/* The push is over when the ghost starts; what is left of it is moot. */
static int
ghost_on_late_push(void *arg, const struct proto_frame *f)
{
	(void)arg;
	(void)f;
	return 0;
}

/* What the ghost takes from bpmaster (one phase: it is the ghost). */
static const struct proto_route ghost_routes[MSG_MAX] = {
	[MSG_IO] =		{ 1, ghost_on_io },
	[MSG_IO_ACK] =		{ 1, ghost_on_io_ack },
	[MSG_STOPPED] =		{ 1, ghost_on_stopped },
	[MSG_FORK] =		{ 1, ghost_on_fork },
	[MSG_EXECED] =		{ 1, ghost_on_execed },
	[MSG_PGRP] =		{ 1, ghost_on_pgrp },
	[MSG_EXEC_RESULT] =	{ 1, ghost_on_result },
	[MSG_EXIT] =		{ 1, ghost_on_exit },
	[MSG_NEED] =		{ 1, ghost_on_late_push },
	[MSG_BLOB_ACK] =	{ 1, ghost_on_late_push },
	[MSG_RESUME] =		{ 1, ghost_on_resume },
	[MSG_HOLD] =		{ 1, ghost_on_hold },
	[MSG_MOVE] =		{ 1, ghost_on_move },
	/* a move home the restorer refused: the rest of its image */
	[MSG_IMAGE] =		{ 1, ghost_on_late_push },
};

static const struct proto_role ghost_role = { "ghost", DIR_M2T, ghost_routes };

static void
ghost_signals(void)
{
	struct signalfd_siginfo	si;
	pid_t			c;
	int			st;

	while (read(sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGCHLD) {
			/* our child ghosts: their parent on the node waits too */
			while ((c = waitpid(-1, &st, WNOHANG | WUNTRACED |
			    WCONTINUED)) > 0)
				if (!ghost_self.spare && !WIFCONTINUED(st))
					ghost_child_ended(c, st);
			continue;
		}
		/* a spare has no process: what would end one ends it */
		if (ghost_self.spare) {
			if (si.ssi_signo == SIGCONT || si.ssi_signo == SIGWINCH ||
			    si.ssi_signo == SIGURG || si.ssi_signo == SIGTSTP ||
			    si.ssi_signo == SIGTTIN || si.ssi_signo == SIGTTOU)
				continue;
			_exit(0);
		}
		if (tty_mode && si.ssi_signo == SIGWINCH) {
			term_winch();
			continue;
		}
		/* continued (fg, bg): take the terminal if it is ours now */
		if (tty_mode && si.ssi_signo == SIGCONT) {
			term_enter_raw();
			if (term_raw)
				term_winch();
		}
		/* bpmaster continues us when the remote continued: not news */
		if (si.ssi_signo == SIGCONT && ghost_self.master_pid > 0 &&
		    si.ssi_pid == (uint32_t)ghost_self.master_pid)
			continue;
		ghost_signal((int)si.ssi_signo);
	}
}

/* The environment bproc_rexec set: our connection, node, flags, stderr. */
static int
ghost_env(void)
{
	const char	*s;
	unsigned int	 flags;
	int		 fd;

	if ((s = getenv("BPROC_GHOST_FD")) == NULL) {
		fprintf(stderr, "bpghost: run by bproc_rexec(3) only\n");
		exit(255);
	}
	ghost_fd = fd = atoi(s);
	ghost_self.node = (s = getenv("BPROC_GHOST_NODE")) ? atoi(s) : -1;
	flags = (s = getenv("BPROC_GHOST_FLAGS")) ? (unsigned)atoi(s) : 0;
	if ((s = getenv("BPROC_GHOST_ERRFD")) != NULL && atoi(s) > 2) {
		ghost_self.err_fd = atoi(s);
		fcntl(ghost_self.err_fd, F_SETFD, FD_CLOEXEC);
	}
	stream_init(flags);
	tty_mode = (flags & EXEC_F_TTY) && !(flags & EXEC_F_NOIO);
	return fd;
}

/* Every catchable signal is read and forwarded; faults stay fatal. */
static void
ghost_block_signals(void)
{
	sigset_t	all;
	int		i;

	/*
	 * Undo inherited SIG_IGN (a background job ignores INT and QUIT) so
	 * those reach us; leave the rest alone: resetting SIGCONT to SIG_DFL
	 * would discard one that is pending since before the exec.
	 */
	for (i = 1; i < NSIG; i++) {
		struct sigaction	sa;

		if (sigaction(i, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
			signal(i, SIG_DFL);
	}
	sigfillset(&all);
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGILL);
	sigdelset(&all, SIGFPE);
	sigdelset(&all, SIGABRT);
	sigprocmask(SIG_BLOCK, &all, NULL);
	if ((sig_fd = signalfd(-1, &all, SFD_NONBLOCK | SFD_CLOEXEC)) == -1)
		ghost_die("signalfd failed");
}

/*
 * Tell bpmaster this process is the ghost now: it checks what we are
 * (our executable, uid, that we hold this connection) before it traces
 * us; until then a SIGSTOP would stop us unseen.
 */
static void
ghost_hello(int fd)
{
	unsigned char	buf[WIRE_HDR_LEN + 16];
	struct wire_msg	m;
	struct ucred	uc;
	socklen_t	ul = sizeof(uc);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &ul) == 0)
		ghost_self.master_pid = uc.pid;
	wire_msg_init(&m, buf, sizeof(buf), MSG_GHOST, 0, 0);
	/* not again after a move home that did not happen */
	if (getenv("BPROC_GHOST_AGAIN") == NULL)
		ghost_send(&m);
}

/* Every whole frame bpmaster sent, each to its route. */
static void
ghost_frames(void)
{
	struct wire_hdr		 h;
	const unsigned char	*body;
	const char		*why;
	char			 bad[PROTO_WHY_MAX];
	size_t			 blen;
	int			 r;

	while ((r = ghost_frame(&h, &body, &blen, &why)) == 1)
		if (proto_dispatch(&ghost_role, 0, NULL, &h, body, blen,
		    bad) == -1)
			ghost_die("bad message from bpmaster");
	if (r == -1)
		ghost_die("bad message from bpmaster");
}

static void __attribute__((noreturn))
ghost_loop(void)
{
	struct pollfd	 pfd[3];
	const char	*why;
	int		 r, late_sigs;

	for (;;) {
		pfd[0].fd = sig_fd;
		pfd[0].events = POLLIN;
		pfd[1].fd = ghost_fd;
		pfd[1].events = POLLIN;
		/* a pty session reads the terminal only while it owns it */
		pfd[2].fd = (stream_want_stdin() &&
		    (!tty_mode || !isatty(STDIN_FILENO) || term_owned())) ?
		    STDIN_FILENO : -1;
		pfd[2].events = POLLIN;
		if (poll(pfd, 3, ghost_fd < 0 ? reconnect_timeout() : -1) == -1) {
			if (errno == EINTR)
				continue;
			ghost_die("poll failed");
		}
		if (ghost_fd < 0) {
			if ((r = reconnect_try(&why)) == -2)
				ghost_die(why);
			if (r >= 0)
				ghost_rejoin(r);
		}
		/*
		 * A spare reads the master first: a fork that took it
		 * (its word is sent before the node hears of the ghost)
		 * makes the signal one to forward.
		 */
		late_sigs = ghost_self.spare && pfd[1].revents;
		if (pfd[0].revents && !late_sigs)
			ghost_signals();
		if (pfd[2].fd >= 0 && pfd[2].revents)
			ghost_stdin();
		if (!pfd[1].revents)
			continue;
		if (ghost_read() == -1) {
			ghost_lost();
			continue;
		}
		ghost_frames();
		if (pfd[0].revents && late_sigs)
			ghost_signals();
	}
}

int
main(int argc, char **argv)
{
	const char	*base;
	int		 fd;

	args_init(argc, argv);
	conn_hooks.lost = ghost_lost;
	conn_hooks.die = ghost_die;
	fd = ghost_env();
	/* ps -o comm shows the remote command's name, not ours */
	base = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	prctl(PR_SET_NAME, base, 0, 0, 0);
	ghost_block_signals();
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	/* where bpmaster listens, while it is there to say (before MSG_GHOST) */
	reconnect_init(fd);
	ghost_hello(fd);
	/* signals are blocked by now: a SIGTTOU cannot stop us here */
	term_enter_raw();
	ghost_loop();
}
