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
 * The process tree: a fork on the node is a fork here (ghost_fork), a
 * spare child waits for the next one, an exec shows its argv
 * (ghost_args.c), setsid and setpgid are done here too (ghost_pgrp).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "ghost.h"
#include "ghost_reconnect.h"
#include "proto.h"

/* No heap, static buffers touched only as far as used (ghost_conn.c). */
static unsigned char	iobuf[IO_CHUNK + 128];	/* frames we send with data */
static unsigned char	iodata[IO_CHUNK];
static int		node = -1;
static unsigned int	flags;
static int		sig_fd = -1;
static int		stdin_open = 1;
static uint32_t		stdin_unacked;
static int		out_broken[3];
static int		err_fd = STDERR_FILENO;	/* for "<node>: <error>" lines */
static pid_t		master_pid;	/* bpmaster, from SO_PEERCRED */
static int		is_child;	/* forked for a process forked on the node */
static int		spare;		/* a spare child ghost, not taken yet */
/* a master restart (ghost_reconnect.c): -1 lost, 1 back but not resumed */
static int		away;
static uint64_t		out_rx[3];	/* output bytes written, per stream */
static uint64_t		in_acked;	/* stdin bytes the node wrote */
static int		sent_eof;	/* stdin's end went to the node */


void __attribute__((noreturn))
ghost_die(const char *what)
{
	term_restore();
	/* one line per session is enough: the first ghost says it */
	if (!is_child)
		dprintf(err_fd, "%d: %s\n", node, what);
	/* a ghost that lost its process looks killed, like BProc's */
	signal(SIGKILL, SIG_DFL);
	kill(getpid(), SIGKILL);
	_exit(137);
}

/*
 * The control connection ended without our exit: bpmaster died or is
 * being replaced.  Keep everything and wait for the next one.
 */
void
ghost_lost(void)
{
	/* a spare no fork took: no one's ghost, nothing to wait for */
	if (spare)
		_exit(0);
	if (ghost_fd >= 0)
		close(ghost_fd);
	ghost_fd = -1;
	away = -1;
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
	away = 1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &ul) == 0)
		master_pid = uc.pid;
	wire_msg_init(&m, buf, sizeof(buf), MSG_GHOST_REJOIN, 0, 0);
	wire_put_u32(&m, A_NODE, (uint32_t)node);
	wire_put_u64(&m, A_OFF_OUT, out_rx[1]);
	wire_put_u64(&m, A_OFF_ERR, out_rx[2]);
	wire_put_u32(&m, A_FLAGS, is_child ? REJOIN_F_CHILD : 0);
	ghost_send(&m);
}

static void
ghost_signal(int sig)
{
	unsigned char	buf[64];
	struct wire_msg	m;

	/* delivered once bpmaster is back, in order */
	if (away) {
		if (reconnect_queue_sig(sig) == -1)
			dprintf(err_fd, "%d: signal %d lost: too many while "
			    "bpmaster is away\n", node, sig);
		return;
	}
	wire_msg_init(&m, buf, sizeof(buf), MSG_SIGNAL, 0, 0);
	wire_put_u32(&m, A_PID, (uint32_t)getpid());
	wire_put_u32(&m, A_SIG, (uint32_t)sig);
	ghost_send(&m);
}

/*
 * A child ghost we reaped, and how it ended, or one that stopped:
 * bpmaster tells a stand-in of it on the node (an rfork from there,
 * docs/design-notes.md "Migration"), where the child may have been the
 * process itself, at home; of any other child it takes no notice.
 */
static void
ghost_child_ended(pid_t pid, int status)
{
	unsigned char	buf[64];
	struct wire_msg	m;

	if (away)
		return;
	wire_msg_init(&m, buf, sizeof(buf), MSG_STANDIN, 0, 0);
	wire_put_u32(&m, A_PID, (uint32_t)pid);
	wire_put_u32(&m, A_STATUS, (uint32_t)status);
	ghost_send(&m);
}

static void
ghost_ack(int stream, uint32_t n)
{
	unsigned char	buf[64];
	struct wire_msg	m;

	wire_msg_init(&m, buf, sizeof(buf), MSG_IO_ACK, 0, 0);
	wire_put_u32(&m, A_PID, (uint32_t)getpid());
	wire_put_u8(&m, A_STREAM, (uint8_t)stream);
	wire_put_u32(&m, A_BYTES, n);
	ghost_send(&m);
}

static void
ghost_stdin(void)
{
	unsigned char	eofbuf[64];
	struct wire_msg	m;
	size_t		want = IO_WINDOW - stdin_unacked;
	ssize_t		n;

	if (want > IO_CHUNK)
		want = IO_CHUNK;
	n = read(STDIN_FILENO, iodata, want);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	/* a pty session does not end because we lost the terminal for now */
	if (n < 0 && errno == EIO && tty_mode)
		return;
	/* an end of file alone leaves iobuf's pages untouched */
	if (n <= 0)
		wire_msg_init(&m, eofbuf, sizeof(eofbuf), MSG_IO, 0, 0);
	else
		wire_msg_init(&m, iobuf, sizeof(iobuf), MSG_IO, 0, 0);
	wire_put_u32(&m, A_PID, (uint32_t)getpid());
	wire_put_u8(&m, A_STREAM, 0);
	if (n <= 0) {
		/* EOF, or EIO for a background job reading the terminal */
		wire_put_u8(&m, A_EOF, 1);
		stdin_open = 0;
		sent_eof = 1;
	} else {
		wire_put(&m, A_DATA, iodata, (size_t)n);
		stdin_unacked += (uint32_t)n;
		stdin_keep(iodata, (size_t)n);
	}
	ghost_send(&m);
}

/* Write remote output where ours goes; blocking writes are the back-pressure. */
void
ghost_output(int stream, const unsigned char *p, size_t len)
{
	size_t	left = len;
	ssize_t	n;

	while (left > 0 && !out_broken[stream]) {
		n = write(stream, p, left);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* the reader went away: the remote writer gets SIGPIPE */
			out_broken[stream] = 1;
			if (errno == EPIPE)
				ghost_signal(SIGPIPE);
			break;
		}
		p += n;
		left -= (size_t)n;
	}
	out_rx[stream] += len;
	ghost_ack(stream, (uint32_t)len);
}

static void __attribute__((noreturn))
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
static void
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

/*
 * The node's process forked: so do we, and the child is its ghost, on
 * the socket the master sent along.  It tells the master it is there;
 * the kernel adds who it is.
 */
static void
ghost_fork(struct wire_attr *tb)
{
	unsigned char	buf[64];
	struct wire_msg	m;
	pid_t		pid;
	int		fd, e;

	if (!tb[A_TOKEN].data || (fd = conn_take_fd()) == -1)
		return;
	if ((pid = fork()) == -1) {
		e = errno;
		close(fd);
		wire_msg_init(&m, buf, sizeof(buf), MSG_FORK_RESULT, 0, 0);
		wire_put_u64(&m, A_TOKEN, wire_get_u64(&tb[A_TOKEN]));
		wire_put_u32(&m, A_ERRNO, (uint32_t)e);
		ghost_send(&m);
		return;
	}
	if (pid > 0) {
		close(fd);
		return;
	}
	/* the child: the parent's connection, input and terminal are not ours */
	close(ghost_fd);
	conn_drop_fds();
	ghost_fd = fd;
	fcntl(ghost_fd, F_SETFL, O_NONBLOCK);
	conn_reset();
	is_child = 1;
	stdin_open = 0;
	stdin_unacked = 0;
	out_rx[1] = out_rx[2] = 0;
	tty_mode = 0;
	term_raw = 0;
	/* a spare (spare.c) waits for the node's next fork to take it */
	spare = tb[A_FLAGS].data &&
	    (wire_get_u32(&tb[A_FLAGS]) & FORK_F_SPARE) != 0;
	wire_msg_init(&m, buf, sizeof(buf), MSG_FORK_HELLO, 0, 0);
	wire_put_u64(&m, A_TOKEN, wire_get_u64(&tb[A_TOKEN]));
	ghost_send(&m);
}

/*
 * The process exec'd: show its new argv as ours (ps reads
 * /proc/PID/cmdline), and its name as our comm (ghost_args.c).
 */
static void
ghost_execed(const unsigned char *body, size_t blen)
{
	static char		 words[GHOST_ARGS_MAX];
	struct wire_iter	 it;
	struct wire_attr	 a;
	const char		*base;
	size_t			 off = 0;

	wire_iter_init(&it, body, blen);
	while (wire_iter_next(&it, &a) == 1) {
		if (a.type != A_ARG || !proto_attr_ok(&a))
			continue;
		if (off + a.len > sizeof(words))
			break;
		memcpy(words + off, a.data, a.len);
		off += a.len;
	}
	if (off == 0)
		return;
	args_set(words, off);
	base = strrchr(words, '/') ? strrchr(words, '/') + 1 : words;
	prctl(PR_SET_NAME, base, 0, 0, 0);
}

/*
 * The process called setsid or setpgid on the node: the same relation
 * here, named by ghost PIDs (the master checked they are its node's).
 * The node's first session (top's, which nodeinit made) is the caller's
 * session here, and top's group the caller's job: the group our first
 * ghost is in.  What the kernel refuses here (a group of another session,
 * a leader gone) stays as it was.
 */
static void
ghost_pgrp(struct wire_attr *tb)
{
	pid_t	me = getpid(), sid, pg, top;

	sid = tb[A_SID].data ? (pid_t)wire_get_u32(&tb[A_SID]) : 0;
	pg = tb[A_PGID].data ? (pid_t)wire_get_u32(&tb[A_PGID]) : 0;
	top = tb[A_PPID].data ? (pid_t)wire_get_u32(&tb[A_PPID]) : 0;
	if (sid == me) {
		if (getsid(0) != me)
			(void)setsid();
		return;
	}
	if (pg == 0)
		return;
	if (pg == top && sid == top)
		pg = getpgid(top);
	if (pg == me)
		(void)setpgid(0, 0);
	else if (pg > 0 && pg != getpgrp())
		(void)setpgid(0, pg);
}

/*
 * The new master has our process too: send again the stdin the node did
 * not get, then the signals that came meanwhile.
 */
static void
ghost_resume(struct wire_attr *tb)
{
	const unsigned char	*p;
	unsigned char		 eofbuf[64];
	struct wire_msg		 m;
	uint64_t		 got = tb[A_OFF_IN].data ?
				    wire_get_u64(&tb[A_OFF_IN]) : 0;
	uint64_t		 done = tb[A_OFF_INDONE].data ?
				    wire_get_u64(&tb[A_OFF_INDONE]) : in_acked;
	size_t			 n;
	int			 sig;

	away = 0;
	if (done > in_acked) {
		stdin_unacked -= (uint32_t)(done - in_acked) > stdin_unacked ?
		    stdin_unacked : (uint32_t)(done - in_acked);
		in_acked = done;
	}
	while ((n = stdin_kept(got, done, &p)) > 0) {
		if (n > IO_CHUNK)
			n = IO_CHUNK;
		wire_msg_init(&m, iobuf, sizeof(iobuf), MSG_IO, 0, 0);
		wire_put_u32(&m, A_PID, (uint32_t)getpid());
		wire_put_u8(&m, A_STREAM, 0);
		wire_put(&m, A_DATA, p, n);
		ghost_send(&m);
		got += n;
	}
	if (sent_eof && !tb[A_EOF].data) {
		wire_msg_init(&m, eofbuf, sizeof(eofbuf), MSG_IO, 0, 0);
		wire_put_u32(&m, A_PID, (uint32_t)getpid());
		wire_put_u8(&m, A_STREAM, 0);
		wire_put_u8(&m, A_EOF, 1);
		ghost_send(&m);
	}
	while (!away && (sig = reconnect_next_sig()) != 0)
		ghost_signal(sig);
}

static int
ghost_on_io(void *arg, const struct proto_frame *f)
{
	uint8_t	s = wire_get_u8(&f->tb[A_STREAM]);

	(void)arg;
	if ((s == 1 || s == 2) && f->tb[A_DATA].data)
		ghost_output(s, f->tb[A_DATA].data, f->tb[A_DATA].len);
	return 0;
}

static int
ghost_on_io_ack(void *arg, const struct proto_frame *f)
{
	uint32_t	n;

	(void)arg;
	if (wire_get_u8(&f->tb[A_STREAM]) == 0) {
		n = wire_get_u32(&f->tb[A_BYTES]);
		stdin_unacked = n > stdin_unacked ? 0 : stdin_unacked - n;
		in_acked += n;
	}
	return 0;
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
	away = 1;
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

static int
ghost_on_fork(void *arg, const struct proto_frame *f)
{
	(void)arg;
	ghost_fork(f->tb);
	return 0;
}

static int
ghost_on_pgrp(void *arg, const struct proto_frame *f)
{
	(void)arg;
	ghost_pgrp(f->tb);
	return 0;
}

static int
ghost_on_execed(void *arg, const struct proto_frame *f)
{
	(void)arg;
	ghost_execed(f->body, f->len);
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
		spare = 0;
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
	if (f->tb[A_MSG].data && !is_child)
		dprintf(err_fd, "%d: %s\n", node, wire_get_str(&f->tb[A_MSG]));
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
				if (!spare && !WIFCONTINUED(st))
					ghost_child_ended(c, st);
			continue;
		}
		/* a spare has no process: what would end one ends it */
		if (spare) {
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
		if (si.ssi_signo == SIGCONT && master_pid > 0 &&
		    si.ssi_pid == (uint32_t)master_pid)
			continue;
		ghost_signal((int)si.ssi_signo);
	}
}

int
main(int argc, char **argv)
{
	struct wire_hdr		 h;
	struct pollfd		 pfd[3];
	const unsigned char	*body;
	const char		*s, *why;
	const char		*base;
	char			 bad[PROTO_WHY_MAX];
	sigset_t		 all;
	size_t			 blen;
	int			 fd, r, i, late_sigs;

	args_init(argc, argv);
	if ((s = getenv("BPROC_GHOST_FD")) == NULL) {
		fprintf(stderr, "bpghost: run by bproc_rexec(3) only\n");
		return 255;
	}
	ghost_fd = fd = atoi(s);
	node = (s = getenv("BPROC_GHOST_NODE")) ? atoi(s) : -1;
	flags = (s = getenv("BPROC_GHOST_FLAGS")) ? (unsigned)atoi(s) : 0;
	if ((s = getenv("BPROC_GHOST_ERRFD")) != NULL && atoi(s) > 2) {
		err_fd = atoi(s);
		fcntl(err_fd, F_SETFD, FD_CLOEXEC);
	}
	if (flags & (EXEC_F_NOIO | EXEC_F_STDIN_NULL))
		stdin_open = 0;
	tty_mode = (flags & EXEC_F_TTY) && !(flags & EXEC_F_NOIO);
	/* ps -o comm shows the remote command's name, not ours */
	base = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	prctl(PR_SET_NAME, base, 0, 0, 0);

	/* every catchable signal is read and forwarded; faults stay fatal */
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
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	/* where bpmaster listens, while it is there to say (before MSG_GHOST) */
	reconnect_init(fd);
	{
		struct ucred	uc;
		socklen_t	ul = sizeof(uc);

		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &ul) == 0)
			master_pid = uc.pid;
	}
	/*
	 * Tell bpmaster this process is the ghost now: it checks what we
	 * are (our executable, uid, that we hold this connection) before it
	 * traces us; until then a SIGSTOP would stop us unseen.
	 */
	{
		unsigned char	buf[WIRE_HDR_LEN + 16];
		struct wire_msg	m;

		wire_msg_init(&m, buf, sizeof(buf), MSG_GHOST, 0, 0);
		/* not again after a move home that did not happen */
		if (getenv("BPROC_GHOST_AGAIN") == NULL)
			ghost_send(&m);
	}
	/* signals are blocked by now: a SIGTTOU cannot stop us here */
	term_enter_raw();

	for (;;) {
		pfd[0].fd = sig_fd;
		pfd[0].events = POLLIN;
		pfd[1].fd = ghost_fd;
		pfd[1].events = POLLIN;
		/* a pty session reads the terminal only while it owns it */
		pfd[2].fd = (stdin_open && stdin_unacked < IO_WINDOW && !away &&
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
		late_sigs = spare && pfd[1].revents;
		if (pfd[0].revents && !late_sigs)
			ghost_signals();
		if (pfd[2].fd >= 0 && pfd[2].revents)
			ghost_stdin();
		if (!pfd[1].revents)
			continue;
		if ((r = ghost_read()) == -1) {
			ghost_lost();
			continue;
		}
		while ((r = ghost_frame(&h, &body, &blen, &why)) == 1)
			if (proto_dispatch(&ghost_role, 0, NULL, &h, body, blen,
			    bad) == -1)
				ghost_die("bad message from bpmaster");
		if (r == -1)
			ghost_die("bad message from bpmaster");
		if (pfd[0].revents && late_sigs)
			ghost_signals();
	}
}
