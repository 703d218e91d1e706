/*
 * libbproc's migration from a node: the process goes home, where its
 * ghost becomes it (libmig_home), and an rfork's child that moves on
 * from there leaves its stand-in on the node, its caller's real child
 * (docs/design-notes.md, "Migration").
 */
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bproc.h"
#include "bproc_dump.h"
#include "libbproc_int.h"
#include "migrate_int.h"

#define MIG_NODE_SOCK	"bproc-node"	/* nodeinit's abstract socket (nodeinit/migrate.c) */
#define MIG_HOME_WINDOW	(1u << 20)	/* image bytes unacknowledged on the way home */
#define MIG_HOME_TRIES	100		/* asks while the ghost is not ready */
#define MIG_HOME_PAUSE_US 20000		/* between them */

static int
mig_node_connect(void)
{
	struct sockaddr_un	sun;
	socklen_t		len;
	int			fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path + 1, MIG_NODE_SOCK, sizeof(MIG_NODE_SOCK) - 1);
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
	    sizeof(MIG_NODE_SOCK) - 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, len) == -1) {
		libbproc_errmsg("cannot reach this node's nodeinit: %s",
		    strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * What we wrote to our stdout and stderr pipes before a move home must
 * reach the ghost first: wait (a moment at most) until nodeinit has read
 * them; it sends what it reads on the link ahead of our MSG_MOVE.
 */
static void
mig_output_sent(void)
{
	int	fd, n, i;

	for (fd = 1; fd <= 2; fd++)
		for (i = 0; i < MIG_HOME_TRIES && ioctl(fd, FIONREAD, &n) == 0 &&
		    n > 0; i++)
			usleep(MIG_HOME_PAUSE_US / 10);
}

static void	mig_standin(int, int) __attribute__((noreturn));

/*
 * On a node: the process goes home, where its ghost becomes it (bpghost
 * runs bprestore on the image; nodeinit and bpmaster relay it).  1 at
 * home, in the image; -1 and errno here, unchanged, when the ghost did
 * not take it.  When it did, this copy has nothing left to do, unless it
 * is an rfork's child on its way to standin_to (pfd >= 0): then it stays
 * as the stand-in, pfd its caller's pipe.
 */
int
libmig_home(int standin_to, int pfd)
{
	struct mig_out	 out = { 0 };
	struct wire_attr tb[A_MAX];
	struct wire_hdr	 h;
	struct wire_msg	 m;
	unsigned char	 buf[64], f[256];
	char		 comm[16] = "";
	sigset_t	 all, old;
	int		 fd, d, e, saved, tries;

	prctl(PR_GET_NAME, comm, 0, 0, 0);
	mig_output_sent();
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	/*
	 * The ghost says when it is ready (an acknowledgement of nothing);
	 * one that is not checked yet (we arrived a moment ago) says EBUSY:
	 * ask again a little later.
	 */
	for (tries = 0;; tries++) {
		if ((fd = mig_node_connect()) == -1)
			goto fail_mask;
		wire_msg_init(&m, buf, sizeof(buf), MSG_MOVE, 0, 0);
		wire_put_u32(&m, A_PID, 0);
		wire_put_u32(&m, A_NODE, (uint32_t)(pfd >= 0 ? standin_to :
		    BPROC_NODE_MASTER));
		if (pfd >= 0)
			wire_put_u32(&m, A_FLAGS, MOVE_F_STANDIN);
		if (libbproc_send(fd, buf, wire_msg_finish(&m)) == -1 ||
		    libmig_read_frame(fd, f, sizeof(f), &h, tb) == -1)
			goto fail;
		if (h.type == MSG_IMAGE_ACK)
			break;
		e = h.type == MSG_IMAGE_RESULT && wire_get_u32(&tb[A_ERRNO]) ?
		    (int)wire_get_u32(&tb[A_ERRNO]) : EPROTO;
		if (h.type == MSG_IMAGE_RESULT)
			libbproc_result(tb);
		close(fd);
		if (e != EBUSY || tries == MIG_HOME_TRIES) {
			errno = e;
			goto fail_mask;
		}
		usleep(MIG_HOME_PAUSE_US);
	}
	out.fd = fd;
	out.chunk = IO_CHUNK;	/* the ghost reads frames of this size */
	out.window = MIG_HOME_WINDOW;
	d = libbproc_dump_sink(libmig_sink, &out, 0);
	if (d == BPROC_DUMP_RESUMED) {
		unsetenv("BPROC_NODE");
		if (comm[0] != '\0')
			prctl(PR_SET_NAME, comm, 0, 0, 0);
		sigprocmask(SIG_SETMASK, &old, NULL);
		return 1;
	}
	if (d == -1) {
		libbproc_errmsg("moving home: %s", strerror(errno));
		goto fail;
	}
	if (libmig_send_eof(fd) == -1 || libmig_verdict(fd, 0) == -1)
		goto fail;
	if (pfd >= 0)
		mig_standin(fd, pfd);
	/* the process runs on at home, under this PID; this copy ends */
	_exit(0);
fail:
	saved = errno;
	close(fd);
	errno = saved;
fail_mask:
	saved = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	errno = saved;
	return -1;
}

/*
 * Ends the stand-in as its child ended (a signal's death by that signal,
 * without a core: the core, if any, was the child's).
 */
static void __attribute__((noreturn))
mig_standin_exit(uint32_t st)
{
	struct rlimit	 no = { 0, 0 };
	sigset_t	 one;
	int		 status = (int)st, sig;

	if (WIFSIGNALED(status)) {
		sig = WTERMSIG(status);
		setrlimit(RLIMIT_CORE, &no);
		signal(sig, SIG_DFL);
		sigemptyset(&one);
		sigaddset(&one, sig);
		sigprocmask(SIG_UNBLOCK, &one, NULL);
		raise(sig);
		_exit(128 + sig);
	}
	_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 255);
}

/* Our errno and text for the caller's rfork, on pfd; this copy ends. */
static void __attribute__((noreturn))
mig_standin_failed(int pfd, int e, const char *msg)
{
	struct mig_fail	 f;

	if (pfd >= 0) {
		memset(&f, 0, sizeof(f));
		f.e = e;
		snprintf(f.msg, sizeof(f.msg), "%s", msg);
		(void)write(pfd, &f, sizeof(f));
	}
	_exit(255);
}

/* A signal we caught goes on to the child: -1 when nodeinit is lost. */
static int
mig_standin_signal(int fd, int sfd)
{
	struct signalfd_siginfo	 si;
	struct wire_msg		 m;
	unsigned char		 buf[64];

	if (read(sfd, &si, sizeof(si)) != (ssize_t)sizeof(si) ||
	    si.ssi_signo == SIGCHLD)
		return 0;
	wire_msg_init(&m, buf, sizeof(buf), MSG_STANDIN, 0, 0);
	wire_put_u32(&m, A_PID, 0);
	wire_put_u32(&m, A_SIG, si.ssi_signo);
	return libbproc_send(fd, buf, wire_msg_finish(&m));
}

/*
 * bpmaster's word of the child: it stopped, failed to get there, runs,
 * or ended.  -1 when nodeinit is lost; *pfd -1 once the caller's rfork
 * returned.
 */
static int
mig_standin_word(int fd, int *pfd)
{
	struct wire_attr	 tb[A_MAX];
	struct wire_hdr		 h;
	unsigned char		 fr[1024];
	uint32_t		 what;
	int			 e;

	if (libmig_read_frame(fd, fr, sizeof(fr), &h, tb) == -1)
		return -1;
	if (h.type != MSG_STANDIN || !tb[A_FLAGS].data)
		return 0;
	what = wire_get_u32(&tb[A_FLAGS]);
	/* the child stopped: so do we, for the caller's waitpid */
	if (what & STANDIN_F_STOP) {
		raise(SIGSTOP);
		return 0;
	}
	if (what & STANDIN_F_FAILED) {
		e = tb[A_ERRNO].data && wire_get_u32(&tb[A_ERRNO]) ?
		    (int)wire_get_u32(&tb[A_ERRNO]) : EIO;
		mig_standin_failed(*pfd, e, tb[A_MSG].data ?
		    wire_get_str(&tb[A_MSG]) : strerror(e));
	}
	/* it runs (an end first means it ran): the caller's rfork returns */
	if (*pfd >= 0) {
		close(*pfd);
		*pfd = -1;
	}
	if ((what & STANDIN_F_EXIT) && tb[A_STATUS].data)
		mig_standin_exit(wire_get_u32(&tb[A_STATUS]));
	return 0;
}

/*
 * The rfork's child moved on; this copy, the caller's real child on its
 * node, stands in for it (docs/design-notes.md, "Migration"): it says so
 * to nodeinit on the mover's connection, which it keeps, forwards every
 * signal it can catch (all are blocked: they wait in a signalfd), and
 * hears from bpmaster whether the child runs at its target (the caller's
 * rfork returns: pfd closes), did not get there (the caller's rfork
 * fails: errno and text on pfd), or ended (so does this copy, the same
 * way), or stopped (so does this copy, with SIGSTOP; the caller's
 * SIGCONT comes back here and goes on to the child).  SIGKILL of this
 * copy makes bpmaster kill the child; SIGSTOP stops it too (nodeinit
 * reports the stop).
 */
static void
mig_standin(int fd, int pfd)
{
	struct wire_msg		 m;
	struct pollfd		 p[2];
	unsigned char		 buf[64];
	sigset_t		 all;
	int			 sfd, nfd;

	/*
	 * The child's output goes through its ghost; this copy writes
	 * nothing and must not hold the session's pipes open (a bpsh, a
	 * $(...) would wait for it).
	 */
	if ((nfd = open("/dev/null", O_RDWR | O_CLOEXEC)) != -1) {
		dup2(nfd, 0);
		dup2(nfd, 1);
		dup2(nfd, 2);
		close(nfd);
	}
	sigfillset(&all);
	if ((sfd = signalfd(-1, &all, SFD_CLOEXEC)) == -1)
		_exit(255);
	wire_msg_init(&m, buf, sizeof(buf), MSG_STANDIN, 0, 0);
	wire_put_u32(&m, A_PID, 0);	/* nodeinit names us */
	if (libbproc_send(fd, buf, wire_msg_finish(&m)) == -1)
		goto lost;
	p[0].fd = fd;
	p[0].events = POLLIN;
	p[1].fd = sfd;
	p[1].events = POLLIN;
	for (;;) {
		if (poll(p, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			goto lost;
		}
		if ((p[1].revents & POLLIN) &&
		    mig_standin_signal(fd, sfd) == -1)
			goto lost;
		if (p[0].revents && mig_standin_word(fd, &pfd) == -1)
			goto lost;
	}
lost:
	if (pfd >= 0)
		mig_standin_failed(pfd, EIO, "rfork: lost this node's "
		    "nodeinit while the child moved");
	/* no word of the child will come: BProc's rule for a lost node */
	mig_standin_exit(SIGKILL);
}

/*
 * At home, an rfork's child whose stand-in waits on the node: the second
 * hop failed; bpmaster tells the stand-in (and answers before we exit, so
 * our end, which our parent's ghost reports, is not taken for the news).
 */
void __attribute__((noreturn))
libmig_onward_failed(int e)
{
	struct wire_attr	 tb[A_MAX];
	struct wire_hdr		 h;
	struct wire_msg		 m;
	unsigned char		 buf[MIG_MSGLEN + 64], f[256];
	int			 fd;

	if ((fd = libbproc_connect()) != -1) {
		wire_msg_init(&m, buf, sizeof(buf), MSG_STANDIN, 0, 0);
		wire_put_u32(&m, A_PID, (uint32_t)getpid());
		wire_put_u32(&m, A_ERRNO, (uint32_t)(e ? e : EIO));
		wire_put_str(&m, A_MSG, bproc_strerror());
		if (libbproc_send(fd, buf, wire_msg_finish(&m)) == 0)
			(void)libmig_read_frame(fd, f, sizeof(f), &h, tb);
	}
	_exit(255);
}
