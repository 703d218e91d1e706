/*
 * The node's process host.  The master asks for a process with the
 * ghost's PID; we clone3() it with that PID (set_tid) where it is free,
 * drop to the caller's uid/gids, and exec.  stdout/stderr travel to the
 * ghost in MSG_IO frames, at most IO_WINDOW unacknowledged bytes per
 * stream, so a fast writer is slowed rather than buffered without bound.
 * With EXEC_F_TTY the process gets a pty instead of pipes: its own session
 * with the slave as controlling terminal and as stdin/stdout/stderr; the
 * master carries stdin in and one output stream (stdout) out.
 * Every message names the process by its ghost PID.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <linux/sched.h>

#include "args.h"
#include "log.h"
#include "nodeinit.h"

#define PROC_MAXARGS	65536		/* argv + envp entries at most */
#define PROC_ERR_FILE_SHIFT	16	/* a child's errno word: (1 + which -I/-O/-E file) above it */
#define PROC_LINK_HIGH	(1u << 20)	/* stop reading output above this backlog;
					   well below NODE_LINK_OUTMAX (nodeinit.h) */
#define PROC_TTY_MODE	0620		/* a login's pty: rw user, w group */
#define PROC_HUP_RETRY_MS 100		/* pty with no slave open: look again */

struct rproc {
	pid_t		 gpid;		/* the ghost's PID: the key */
	pid_t		 pid;		/* ours; equal unless set_tid failed */
	int		 fd[3];		/* stdin (write end), stdout, stderr;
					   with a pty: a dup of the master,
					   the master, -1 */
	int		 tty;		/* runs on a pty of ours */
	uint32_t	 unacked[3];
	unsigned char	*inq;		/* stdin bytes not yet written */
	size_t		 inlen;
	int		 in_eof;	/* close stdin once inq drains */
	int		 exited;
	int		 status;
	int		 stopsig;	/* the job-control signal we turned into SIGSTOP */
	uint64_t	 slave_gone;	/* when a pty read said no one holds the slave */
	int		 empty[3];	/* the last read of the stream found nothing */
	int		 reported;	/* EXIT sent; output left goes by another ghost */
	pid_t		 relay;		/* that ghost: a living process of the session */
	uid_t		 uid;
	pid_t		 feppid;	/* its ghost's parent: what getppid() says */
	/* a master restart (grace.c) */
	int		 paused;	/* not read or reported until MSG_RESUME */
	int		 zombie;	/* EXIT sent, kept until MSG_REAP */
	uint64_t	 tx[3];		/* output bytes sent; [0]: stdin received */
	uint64_t	 indone;	/* stdin bytes written to the process */
	unsigned char	*ring[3];	/* the unacknowledged output (IO_WINDOW) */
	uint32_t	 head[3];	/* where its oldest byte is */
	struct rproc	*next;
};

static struct rproc	*procs;
static int		 nprocs_hosted;
static int		 proc_image = -1;	/* EXEC_F_IMAGE: the restorer's socket (migrate.c) */

static void	proc_output(struct rproc *, int);
static void	proc_keep(struct rproc *, int, const unsigned char *, size_t);

static struct rproc *
proc_find(pid_t gpid)
{
	struct rproc	*p;

	for (p = procs; p != NULL; p = p->next)
		if (p->gpid == gpid)
			return p;
	return NULL;
}

/* Is the ghost's process still here?  Its pushed files stay cached then. */
int
proc_hosts(pid_t gpid)
{
	return proc_find(gpid) != NULL;
}

static void
proc_free(struct rproc *rp)
{
	struct rproc	**pp;

	for (pp = &procs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == rp) {
			*pp = rp->next;
			break;
		}
	migrate_forget(rp->gpid);
	for (int i = 0; i < 3; i++) {
		if (rp->fd[i] >= 0)
			close(rp->fd[i]);
		free(rp->ring[i]);
	}
	free(rp->inq);
	free(rp);
	nprocs_hosted--;
}

/* EXEC_RESULT; for an image a second one is the restorer's verdict (migrate.c) */
void
proc_result(pid_t gpid, pid_t pid, int err, const char *msg)
{
	unsigned char	buf[512];
	struct wire_msg	m;

	wire_msg_init(&m, buf, sizeof(buf), MSG_EXEC_RESULT, 0, 0);
	wire_put_u32(&m, A_PID, (uint32_t)gpid);
	wire_put_u32(&m, A_ERRNO, (uint32_t)err);
	if (pid > 0 && pid != gpid)
		wire_put_u32(&m, A_RPID, (uint32_t)pid);
	if (msg != NULL)
		wire_put_str(&m, A_MSG, msg);
	link_send_msg(&m);
}

/*
 * Does a process of rp's session live on (tracked, other than rp's own)?
 * The one whose ghost relays the session's output is kept while it does.
 */
static int
proc_session_lives(struct rproc *rp)
{
	if (rp->relay != 0 && track_top_of(rp->relay) == rp->gpid)
		return 1;
	rp->relay = track_session_member(rp->gpid);
	return rp->relay != 0;
}

/* The exit report goes only after both output streams reached EOF. */
static void
proc_maybe_finish(struct rproc *rp)
{
	unsigned char	buf[64];
	struct wire_msg	m;

	if (rp->paused || rp->zombie)
		return;
	/* a pty's output is read to its end once the process is gone */
	if (rp->tty && rp->exited && rp->fd[1] >= 0 &&
	    rp->unacked[1] < IO_WINDOW && link_pending() < PROC_LINK_HIGH)
		proc_output(rp, 1);
	if (rp->exited && !rp->reported && (rp->fd[1] >= 0 || rp->fd[2] >= 0) &&
	    !rp->tty && proc_session_lives(rp)) {
		/*
		 * Gone, but processes it started still hold its pipes: once
		 * what it wrote is read, its exit is reported, as a local
		 * shell would see it; the rest goes by one of their ghosts,
		 * which hold the same output as the first ghost did.
		 */
		for (int s = 1; s <= 2; s++)
			if (rp->fd[s] >= 0 && !rp->empty[s] &&
			    rp->unacked[s] < IO_WINDOW &&
			    link_pending() < PROC_LINK_HIGH)
				proc_output(rp, s);
		if ((rp->fd[1] < 0 || rp->empty[1]) &&
		    (rp->fd[2] < 0 || rp->empty[2])) {
			wire_msg_init(&m, buf, sizeof(buf), MSG_EXIT, 0, 0);
			wire_put_u32(&m, A_PID, (uint32_t)rp->gpid);
			wire_put_u32(&m, A_STATUS, (uint32_t)rp->status);
			link_send_msg(&m);
			rp->reported = 1;
			rp->unacked[1] = rp->unacked[2] = 0;
		}
		return;
	}
	if (rp->reported && (rp->fd[1] >= 0 || rp->fd[2] >= 0) &&
	    !proc_session_lives(rp)) {
		/* no ghost left to print it */
		for (int s = 1; s <= 2; s++)
			if (rp->fd[s] >= 0) {
				close(rp->fd[s]);
				rp->fd[s] = -1;
			}
	}
	if (!rp->exited || rp->fd[1] >= 0 || rp->fd[2] >= 0)
		return;
	if (rp->reported) {
		proc_free(rp);
		return;
	}
	wire_msg_init(&m, buf, sizeof(buf), MSG_EXIT, 0, 0);
	wire_put_u32(&m, A_PID, (uint32_t)rp->gpid);
	wire_put_u32(&m, A_STATUS, (uint32_t)rp->status);
	link_send_msg(&m);
	/* until the master says the ghost has it: a restart may lose it */
	if (master_proto >= BPROC_VERSION_REJOIN)
		rp->zombie = 1;
	else
		proc_free(rp);
}

/*
 * nodeinit installs no handler and ignores nothing itself, but PID 1 of a
 * virtual node may have inherited SIG_IGN dispositions, which an exec
 * keeps.  Find them once; each child resets only those (a handler would
 * not survive the exec anyway), rather than 64 signal() calls per exec.
 */
static sigset_t	ignored;
static int	ignored_known;

static void
proc_find_ignored(void)
{
	struct sigaction	sa;
	int			i;

	sigemptyset(&ignored);
	for (i = 1; i < NSIG; i++)
		if (sigaction(i, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
			sigaddset(&ignored, i);
	ignored_known = 1;
}

/* Runs in the child after clone3: raw syscalls only where libc caches ids. */
static void __attribute__((noreturn))
proc_child(int errfd, int gofd, int *child_fd, int ttyfd, uid_t uid, gid_t gid,
    gid_t *groups, size_t ngroups, const char *cwd, const char *path,
    char **argv, char **envp, const char *files[3])
{
	sigset_t	 none;
	const char	*pathenv = NULL, *p, *q;
	char		 cand[4096];
	uid_t		 eu;
	gid_t		 eg;
	int		 e, i;

	sigemptyset(&none);
	for (i = 1; i < NSIG; i++)
		if (sigismember(&ignored, i) == 1)
			signal(i, SIG_DFL);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setsid();
	/* a new session leader takes the pty as its controlling terminal */
	if (ttyfd >= 0 && ioctl(ttyfd, TIOCSCTTY, 0) == -1)
		goto fail;
	for (i = 0; i < 3; i++) {
		if (child_fd[i] != i && dup2(child_fd[i], i) == -1)
			goto fail;
	}
	/* seized by nodeinit first, then its forks stop for their ghosts */
	if (track_child(gofd) == -1)
		goto fail;
	/*
	 * An image: real ids the user's, effective and saved still root's;
	 * the restorer does its privileged steps, then drops (migrate.c).
	 */
	eu = proc_image >= 0 ? (uid_t)-1 : uid;
	eg = proc_image >= 0 ? (gid_t)-1 : gid;
	if (syscall(SYS_setgroups, ngroups, groups) == -1 ||
	    syscall(SYS_setresgid, gid, eg, eg) == -1 ||
	    syscall(SYS_setresuid, uid, eu, eu) == -1)
		goto fail;
	if (proc_image >= 0) {
		migrate_exec(proc_image);
		goto fail;
	}
	/* -I/-O/-E files are opened as the user, on the node */
	for (i = 0; i < 3; i++) {
		int fd;

		if (files[i] == NULL)
			continue;
		fd = open(files[i], i == 0 ? O_RDONLY :
		    O_WRONLY | O_CREAT | O_TRUNC, 0666);
		if (fd == -1 || dup2(fd, i) == -1) {
			/* the file, not the command, is what is missing */
			e = errno | (i + 1) << PROC_ERR_FILE_SHIFT;
			goto failed;
		}
		if (fd != i)
			close(fd);
	}
	if (cwd == NULL || chdir(cwd) == -1)
		chdir("/");
	if (strchr(path, '/') != NULL) {
		execve(path, argv, envp);
		goto fail;
	}
	for (i = 0; envp[i] != NULL; i++)
		if (strncmp(envp[i], "PATH=", 5) == 0)
			pathenv = envp[i] + 5;
	if (pathenv == NULL)
		pathenv = "/bin:/sbin:/usr/bin:/usr/sbin";
	e = ENOENT;
	for (p = pathenv; ; p = q + 1) {
		q = strchr(p, ':');
		size_t n = q ? (size_t)(q - p) : strlen(p);

		if (n == 0)
			snprintf(cand, sizeof(cand), "%s", path);
		else
			snprintf(cand, sizeof(cand), "%.*s/%s", (int)n, p, path);
		execve(cand, argv, envp);
		if (errno != ENOENT && errno != ENOTDIR)
			e = errno;
		if (q == NULL)
			break;
	}
	errno = e;
fail:
	e = errno;
failed:
	write(errfd, &e, sizeof(e));
	_exit(127);
}

/*
 * A pty pair for uid: the slave belongs to the user with a login's mode
 * (no tty group on a node: the user's own group), at the caller's
 * terminal size.  Both ends close on exec; the child dups the slave.
 */
static int
proc_pty(int *ptm, int *pts, uid_t uid, gid_t gid, struct wire_attr *tb)
{
	struct winsize	ws;
	char		name[64];
	int		m, s = -1, e;

	if ((m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC)) == -1)
		return -1;
	if (unlockpt(m) == -1)
		goto fail;
	/* TIOCGPTPEER names the slave by the master, not by a path */
	s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (s == -1 && (ptsname_r(m, name, sizeof(name)) != 0 ||
	    (s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC)) == -1))
		goto fail;
	if (fchown(s, uid, gid) == -1 || fchmod(s, PROC_TTY_MODE) == -1)
		goto fail;
	if (tb[A_ROWS].data && tb[A_COLS].data) {
		memset(&ws, 0, sizeof(ws));
		ws.ws_row = wire_get_u16(&tb[A_ROWS]);
		ws.ws_col = wire_get_u16(&tb[A_COLS]);
		if (ioctl(m, TIOCSWINSZ, &ws) == -1)
			goto fail;
	}
	*ptm = m;
	*pts = s;
	return 0;
fail:
	e = errno;
	close(m);
	if (s >= 0)
		close(s);
	errno = e;
	return -1;
}

/* What the child execs: path, or its blob when path is an applet alias. */
static const char *
proc_exec_path(pid_t gpid, const char *path)
{
	const char	*a = cache_alias(gpid, path);

	return a != NULL ? a : path;
}

static pid_t
proc_clone(pid_t want)
{
	struct clone_args	ca;
	pid_t			tid = want;
	long			r;

	memset(&ca, 0, sizeof(ca));
	ca.exit_signal = SIGCHLD;
	ca.set_tid = (uint64_t)(uintptr_t)&tid;
	ca.set_tid_size = 1;
	r = syscall(SYS_clone3, &ca, sizeof(ca));
	if (r == -1 && (errno == EEXIST || errno == EINVAL || errno == EPERM ||
	    errno == ENOSYS)) {
		/* that PID is taken here: take any, and report the mapping */
		memset(&ca, 0, sizeof(ca));
		ca.exit_signal = SIGCHLD;
		r = syscall(SYS_clone3, &ca, sizeof(ca));
	}
	return (pid_t)r;
}

void
proc_exec(const struct wire_hdr *h, struct wire_attr *tb,
    const unsigned char *body, size_t blen)
{
	struct rproc	*rp;
	char		**argv = NULL, **envp = NULL, rankenv[32], nodeenv[32];
	char		*joined = NULL;
	struct args_sum	 sum;
	const char	*files[3] = { NULL, NULL, NULL };
	gid_t		 groups[4096];
	size_t		 ngroups = 0, i;
	int		 pin[2] = { -1, -1 }, pout[2] = { -1, -1 };
	int		 perr[2] = { -1, -1 }, ep[2] = { -1, -1 }, child_fd[3];
	int		 gp[2] = { -1, -1 };
	int		 nenv, e, devnull = -1, ptm = -1, pts = -1, ptm_in = -1;
	uint32_t	 flags = 0;
	pid_t		 gpid, pid;
	ssize_t		 n;
	char		 msg[300];

	if (!tb[A_PID].data || !tb[A_UID].data || !tb[A_GID].data) {
		log_warnx("EXEC without pid/uid/gid");
		return;
	}
	gpid = (pid_t)wire_get_u32(&tb[A_PID]);
	/* an ended one whose REAP is still on the way: its PID is free again */
	if ((rp = proc_find(gpid)) != NULL && rp->zombie)
		proc_free(rp);
	if (proc_find(gpid) != NULL) {
		proc_result(gpid, 0, EEXIST, "process already exists");
		return;
	}
	/* files to push first: the exec resumes when they are all here */
	if (tb[A_MFILE].data) {
		switch (push_prepare(gpid, h, body, blen, msg, sizeof(msg))) {
		case 1:
			return;
		case -1:
			proc_result(gpid, 0, errno ? errno : EIO, msg);
			return;
		}
	}
	if (tb[A_GROUPS].data) {
		if (tb[A_GROUPS].len % 4 || tb[A_GROUPS].len / 4 > 4096) {
			proc_result(gpid, 0, EINVAL, "bad group list");
			return;
		}
		ngroups = tb[A_GROUPS].len / 4;
		for (i = 0; i < ngroups; i++) {
			const unsigned char *g = tb[A_GROUPS].data + 4 * i;

			groups[i] = ((gid_t)g[0] << 24) | ((gid_t)g[1] << 16) |
			    ((gid_t)g[2] << 8) | g[3];
		}
	}
	if (tb[A_FLAGS].data)
		flags = wire_get_u32(&tb[A_FLAGS]);
	if (tb[A_FILE_IN].data)
		files[0] = wire_get_str(&tb[A_FILE_IN]);
	if (tb[A_FILE_OUT].data)
		files[1] = wire_get_str(&tb[A_FILE_OUT]);
	if (tb[A_FILE_ERR].data)
		files[2] = wire_get_str(&tb[A_FILE_ERR]);
	/* Linux's limits, pieces joined (args.h); envp gets room for ours */
	if (args_scan(body, blen, &sum, msg, sizeof(msg)) == -1 ||
	    sum.nargs < 1 || sum.nargs + sum.nenv > PROC_MAXARGS) {
		proc_result(gpid, 0, E2BIG, sum.nargs < 1 ? "bad argument list" :
		    msg);
		goto out;
	}
	nenv = (int)sum.nenv;
	if ((argv = calloc(sum.nargs + 1, sizeof(*argv))) == NULL ||
	    (envp = calloc(sum.nenv + 3, sizeof(*envp))) == NULL ||
	    (joined = malloc(sum.joined + 1)) == NULL)
		goto syserr;
	args_fill(body, blen, argv, envp, joined);
	snprintf(rankenv, sizeof(rankenv), "BPROC_RANK=%u",
	    tb[A_RANK].data ? wire_get_u32(&tb[A_RANK]) : 0);
	snprintf(nodeenv, sizeof(nodeenv), "BPROC_NODE=%d", node_num);
	/* ours win over whatever the caller's environment said */
	{
		int	j, k = 0;

		for (j = 0; j < nenv; j++)
			if (strncmp(envp[j], "BPROC_RANK=", 11) != 0 &&
			    strncmp(envp[j], "BPROC_NODE=", 11) != 0)
				envp[k++] = envp[j];
		envp[k++] = rankenv;
		envp[k++] = nodeenv;
		envp[k] = NULL;
	}

	if (pipe2(ep, O_CLOEXEC) == -1 || pipe2(gp, O_CLOEXEC) == -1)
		goto syserr;
	if (flags & (EXEC_F_NOIO | EXEC_F_STDIN_NULL)) {
		if ((devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1)
			goto syserr;
	}
	if (flags & EXEC_F_NOIO) {
		child_fd[0] = child_fd[1] = child_fd[2] = devnull;
	} else if (flags & EXEC_F_TTY) {
		if (proc_pty(&ptm, &pts, wire_get_u32(&tb[A_UID]),
		    wire_get_u32(&tb[A_GID]), tb) == -1)
			goto syserr;
		/* stdin goes in at the master too, through its own slot */
		if (!(flags & EXEC_F_STDIN_NULL) &&
		    (ptm_in = fcntl(ptm, F_DUPFD_CLOEXEC, 3)) == -1)
			goto syserr;
		child_fd[0] = (flags & EXEC_F_STDIN_NULL) ? devnull : pts;
		child_fd[1] = child_fd[2] = pts;
	} else {
		if (pipe2(pout, O_CLOEXEC) == -1 || pipe2(perr, O_CLOEXEC) == -1)
			goto syserr;
		if (flags & EXEC_F_STDIN_NULL)
			child_fd[0] = devnull;
		else {
			if (pipe2(pin, O_CLOEXEC) == -1)
				goto syserr;
			child_fd[0] = pin[0];
		}
		child_fd[1] = pout[1];
		child_fd[2] = perr[1];
	}
	if (!ignored_known)
		proc_find_ignored();
	if ((flags & EXEC_F_IMAGE) && migrate_prepare(gpid, &proc_image) == -1)
		goto syserr;
	pid = proc_clone(gpid);
	if (proc_image >= 0 && pid != 0) {
		close(proc_image);
		proc_image = -1;
	}
	if (pid == -1)
		goto syserr;
	if (pid == 0)
		proc_child(ep[1], gp[0], child_fd, pts, wire_get_u32(&tb[A_UID]),
		    wire_get_u32(&tb[A_GID]), groups, ngroups,
		    tb[A_CWD].data ? wire_get_str(&tb[A_CWD]) : NULL,
		    proc_exec_path(gpid, tb[A_PATH].data ?
		    wire_get_str(&tb[A_PATH]) : argv[0]), argv, envp, files);
	close(ep[1]);
	ep[1] = -1;
	/* traced unless a root caller asked otherwise (a debug switch) */
	{
		char	go = (!(flags & EXEC_F_NOTRACK) &&
		    track_attach(pid, gpid) == 0) ? '1' : '0';

		(void)write(gp[1], &go, 1);
	}
	/* exec either closes the pipe (success) or writes its errno */
	do
		n = read(ep[0], &e, sizeof(e));
	while (n == -1 && errno == EINTR);
	if (n == (ssize_t)sizeof(e)) {
		i = (size_t)e >> PROC_ERR_FILE_SHIFT;
		e &= (1 << PROC_ERR_FILE_SHIFT) - 1;
		snprintf(msg, sizeof(msg), "%s: %s", i > 0 && i <= 3 ?
		    files[i - 1] : tb[A_PATH].data ?
		    wire_get_str(&tb[A_PATH]) : argv[0], strerror(e));
		proc_result(gpid, 0, e, msg);
		migrate_forget(gpid);
		goto out;	/* the child's _exit is reaped as a stranger */
	}
	if ((rp = calloc(1, sizeof(*rp))) == NULL) {
		kill(pid, SIGKILL);
		errno = ENOMEM;
		goto syserr;
	}
	rp->gpid = gpid;
	rp->pid = pid;
	rp->uid = wire_get_u32(&tb[A_UID]);
	rp->feppid = tb[A_PPID].data ? (pid_t)wire_get_u32(&tb[A_PPID]) : 0;
	if (ptm >= 0) {
		rp->tty = 1;
		rp->fd[0] = ptm_in;
		rp->fd[1] = ptm;
		rp->fd[2] = -1;
		ptm_in = ptm = -1;
	} else {
		rp->fd[0] = pin[1];
		rp->fd[1] = pout[0];
		rp->fd[2] = perr[0];
		pin[1] = pout[0] = perr[0] = -1;
	}
	for (i = 0; i < 3; i++)
		if (rp->fd[i] >= 0)
			fcntl(rp->fd[i], F_SETFL, O_NONBLOCK);
	rp->next = procs;
	procs = rp;
	nprocs_hosted++;
	log_debug("started %s as pid %d (ghost %d)", argv[0], (int)pid,
	    (int)gpid);
	proc_result(gpid, pid, 0, NULL);
	goto out;
syserr:
	e = errno;
	snprintf(msg, sizeof(msg), "node: %s", strerror(e));
	proc_result(gpid, 0, e, msg);
	migrate_forget(gpid);
out:
	for (i = 0; i < 2; i++) {
		if (pin[i] >= 0)
			close(pin[i]);
		if (pout[i] >= 0)
			close(pout[i]);
		if (perr[i] >= 0)
			close(perr[i]);
		if (ep[i] >= 0)
			close(ep[i]);
		if (gp[i] >= 0)
			close(gp[i]);
	}
	if (devnull >= 0)
		close(devnull);
	if (ptm >= 0)
		close(ptm);
	if (pts >= 0)
		close(pts);
	if (ptm_in >= 0)
		close(ptm_in);
	free(argv);
	free(envp);
	free(joined);
}

/* Does pid catch sig (SigCgt in /proc/pid/status)? */
int
proc_catches(pid_t pid, int sig)
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

void
proc_signal(struct wire_attr *tb)
{
	struct rproc	*rp = proc_find((pid_t)wire_get_u32(&tb[A_PID]));
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
	    !proc_catches(rp->pid, (int)sig)) {
		rp->stopsig = (int)sig;
		track_stopsig(rp->pid, (int)sig);
		sig = SIGSTOP;
	}
	if (kill(rp->pid, (int)sig) == -1)
		log_warn("kill %d %u", (int)rp->pid, sig);
}

void
proc_ack(struct wire_attr *tb)
{
	struct rproc	*rp = proc_find((pid_t)wire_get_u32(&tb[A_PID]));
	uint8_t		 s = wire_get_u8(&tb[A_STREAM]);
	uint32_t	 n = wire_get_u32(&tb[A_BYTES]);

	/* output the session's first process left, printed by another ghost */
	if (rp == NULL)
		rp = proc_find(track_top_of((pid_t)wire_get_u32(&tb[A_PID])));
	if (rp == NULL || s < 1 || s > 2)
		return;
	if (n > rp->unacked[s])
		n = rp->unacked[s];
	rp->unacked[s] -= n;
	rp->head[s] = (rp->head[s] + n) % IO_WINDOW;
}

/*
 * Ctrl-Z typed into the pty while the process itself is in the foreground:
 * its process group is the session's own, orphaned (the parent is PID 1,
 * in another session), and the kernel discards a SIGTSTP that would stop
 * it.  Do what the terminal meant: stop the group with SIGSTOP and report
 * SIGTSTP, so the ghost stops the same way at the front end.
 */
static void
proc_tty_keys(struct rproc *rp, const unsigned char *data, size_t len)
{
	struct termios	t;

	if (rp->fd[1] < 0 || tcgetattr(rp->fd[1], &t) == -1 ||
	    !(t.c_lflag & ISIG) || t.c_cc[VSUSP] == _POSIX_VDISABLE ||
	    memchr(data, t.c_cc[VSUSP], len) == NULL)
		return;
	if (tcgetpgrp(rp->fd[1]) != rp->pid || proc_catches(rp->pid, SIGTSTP))
		return;
	rp->stopsig = SIGTSTP;
	track_stopsig(rp->pid, SIGTSTP);
	if (kill(-rp->pid, SIGSTOP) == -1)
		log_warn("stop %d", (int)rp->pid);
}

/*
 * The ghost's stdin ended.  A pipe is closed; a pty cannot be, so its
 * reader gets the terminal's end of file (VEOF at the start of a line)
 * when it reads lines.
 */
static void
proc_stdin_close(struct rproc *rp)
{
	struct termios	t;

	if (rp->tty && tcgetattr(rp->fd[0], &t) == 0 && (t.c_lflag & ICANON) &&
	    t.c_cc[VEOF] != _POSIX_VDISABLE)
		(void)write(rp->fd[0], &t.c_cc[VEOF], 1);
	close(rp->fd[0]);
	rp->fd[0] = -1;
}

static void
proc_ack_stdin(struct rproc *rp, size_t n)
{
	unsigned char	buf[64];
	struct wire_msg	m;

	wire_msg_init(&m, buf, sizeof(buf), MSG_IO_ACK, 0, 0);
	wire_put_u32(&m, A_PID, (uint32_t)rp->gpid);
	wire_put_u8(&m, A_STREAM, 0);
	wire_put_u32(&m, A_BYTES, (uint32_t)n);
	link_send_msg(&m);
}

/* stdin data from the ghost; the ghost keeps within IO_WINDOW. */
void
proc_input(struct wire_attr *tb)
{
	struct rproc	*rp = proc_find((pid_t)wire_get_u32(&tb[A_PID]));
	unsigned char	*nq;
	size_t		 len = tb[A_DATA].data ? tb[A_DATA].len : 0;

	if (rp == NULL || wire_get_u8(&tb[A_STREAM]) != 0)
		return;
	rp->tx[0] += len;
	if (rp->fd[0] < 0) {
		/* nobody reads it any more: consume so the ghost goes on */
		rp->indone += len;
		if (len)
			proc_ack_stdin(rp, len);
		return;
	}
	if (len) {
		if (rp->inlen + len > 2 * IO_WINDOW) {
			log_warnx("ghost %d overran its stdin window",
			    (int)rp->gpid);
			rp->tx[0] -= len;
			return;
		}
		if ((nq = realloc(rp->inq, rp->inlen + len)) == NULL)
			return;
		if (rp->tty)
			proc_tty_keys(rp, tb[A_DATA].data, len);
		rp->inq = nq;
		memcpy(rp->inq + rp->inlen, tb[A_DATA].data, len);
		rp->inlen += len;
	}
	if (tb[A_EOF].data && wire_get_u8(&tb[A_EOF]))
		rp->in_eof = 1;
	if (rp->in_eof && rp->inlen == 0)
		proc_stdin_close(rp);
}

static void
proc_output(struct rproc *rp, int s)
{
	unsigned char	buf[IO_CHUNK + 128];
	unsigned char	data[IO_CHUNK];
	struct wire_msg	m;
	size_t		want = IO_WINDOW - rp->unacked[s];
	ssize_t		n;

	if (want > IO_CHUNK)
		want = IO_CHUNK;
	/*
	 * Back-pressure per read, not per poll pass: many processes ready
	 * in one pass would otherwise each add a chunk past the mark, up to
	 * the link's cap (NODE_LINK_OUTMAX) that fails the link.
	 */
	if (link_pending() >= PROC_LINK_HIGH || rp->paused)
		return;
	n = read(rp->fd[s], data, want);
	if (n < 0 && errno == EINTR)
		return;
	rp->empty[s] = n < 0 && errno == EAGAIN;
	/*
	 * A pty's master reads EIO once no one holds the slave.  After the
	 * process ended, an empty master also ends the session (the read
	 * flushed what the process wrote): closing it hangs up whatever
	 * background process still holds the slave, as a login's end does.
	 */
	if (n < 0 && errno == EAGAIN && !(rp->tty && rp->exited))
		return;
	/*
	 * EIO while the process lives: it closed the slave, as a program
	 * does with its stdio just before it exits.  Closing the master now
	 * would hang it up, and it would die of SIGHUP instead of its own
	 * exit; so wait for its end, only looking again now and then (the
	 * master keeps saying POLLHUP) in case it opens the terminal again.
	 */
	if (n < 0 && errno == EIO && rp->tty && !rp->exited) {
		rp->slave_gone = now_ms();
		return;
	}
	wire_msg_init(&m, buf, sizeof(buf), MSG_IO, 0, 0);
	wire_put_u32(&m, A_PID, (uint32_t)(rp->reported &&
	    proc_session_lives(rp) ? rp->relay : rp->gpid));
	wire_put_u8(&m, A_STREAM, (uint8_t)s);
	if (n <= 0) {
		wire_put_u8(&m, A_EOF, 1);
		close(rp->fd[s]);
		rp->fd[s] = -1;
		/* with a pty, stdin's slot holds the master open too */
		if (rp->tty && rp->fd[0] >= 0) {
			close(rp->fd[0]);
			rp->fd[0] = -1;
		}
	} else {
		wire_put(&m, A_DATA, data, (size_t)n);
		proc_keep(rp, s, data, (size_t)n);
	}
	link_send_msg(&m);
}

/*
 * What getppid() returns to the process nodeinit started for gpid: its
 * parent here is nodeinit, its parent in the process space is its ghost's
 * (the master said which in the EXEC); 0 when that is not known.
 */
pid_t
proc_fe_ppid(pid_t gpid)
{
	struct rproc	*rp = proc_find(gpid);

	return rp != NULL && rp->feppid > 0 ? rp->feppid : 0;
}

/*
 * A process of top's session ends (track.c, before its exit goes up as
 * gpid's).  When top has ended and reported, its output pipes go by a
 * living member's ghost; this one may be the last that holds them, and
 * what it wrote just before its end is in the pipe now.  Read it while
 * its ghost still stands, or nothing would print it: `(sleep 1; echo
 * late) & echo early` lost "late".  What the window or the link's
 * back-pressure holds back goes by the next member, as before.
 */
void
proc_session_flush(pid_t top, pid_t gpid)
{
	struct rproc	*rp = proc_find(top);
	int		 s, k;

	if (rp == NULL || !rp->reported || rp->tty)
		return;
	rp->relay = gpid;
	for (s = 1; s <= 2; s++)
		for (k = 0; k < 16 && rp->fd[s] >= 0 && rp->unacked[s] <
		    IO_WINDOW && link_pending() < PROC_LINK_HIGH; k++) {
			proc_output(rp, s);
			if (rp->empty[s])
				break;
		}
}

static void
proc_write_stdin(struct rproc *rp)
{
	ssize_t	n;

	n = write(rp->fd[0], rp->inq, rp->inlen);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		/* EPIPE: the process closed its stdin; drop what is queued */
		n = (ssize_t)rp->inlen;
		close(rp->fd[0]);
		rp->fd[0] = -1;
	}
	memmove(rp->inq, rp->inq + n, rp->inlen - (size_t)n);
	rp->inlen -= (size_t)n;
	rp->indone += (uint64_t)n;
	proc_ack_stdin(rp, (size_t)n);
	if (rp->fd[0] >= 0 && rp->in_eof && rp->inlen == 0)
		proc_stdin_close(rp);
}

int
proc_count(void)
{
	return nprocs_hosted;
}

/* Fill poll slots (3 per process); returns how many were used. */
int
proc_poll_setup(struct pollfd *pfd, int max)
{
	struct rproc	*rp;
	int		 n = 0, s, reading = link_pending() < PROC_LINK_HIGH;

	for (rp = procs; rp != NULL && n + 3 <= max; rp = rp->next) {
		for (s = 0; s < 3; s++) {
			pfd[n].fd = -1;
			pfd[n].events = 0;
			pfd[n].revents = 0;
			if (rp->fd[s] < 0 || rp->paused)
				;
			else if (s == 0 && rp->inlen > 0)
				pfd[n].events = POLLOUT;
			else if (s > 0 && reading &&
			    rp->unacked[s] < IO_WINDOW && (!rp->slave_gone ||
			    rp->exited ||
			    now_ms() - rp->slave_gone >= PROC_HUP_RETRY_MS))
				pfd[n].events = POLLIN;
			if (pfd[n].events)
				pfd[n].fd = rp->fd[s];
			n++;
		}
	}
	return n;
}

void
proc_poll_event(struct pollfd *pfd, int n)
{
	struct rproc	*rp, *next;
	int		 i = 0, s;

	for (rp = procs; rp != NULL && i + 3 <= n; rp = next) {
		next = rp->next;
		for (s = 0; s < 3; s++, i++) {
			if (pfd[i].fd < 0 || pfd[i].fd != rp->fd[s] ||
			    !pfd[i].revents)
				continue;
			if (s == 0)
				proc_write_stdin(rp);
			else
				proc_output(rp, s);
		}
		proc_maybe_finish(rp);
	}
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
		for (rp = procs; rp != NULL && rp->pid != pid; rp = rp->next)
			;
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
		proc_maybe_finish(rp);
	}
}

/* The master is gone, so are the ghosts: end their processes (BProc's rule). */
void
proc_kill_all(void)
{
	struct rproc	*rp;

	track_kill_all();
	while ((rp = procs) != NULL) {
		if (!rp->exited)
			kill(rp->pid, SIGKILL);
		proc_free(rp);
	}
}

/*
 * Output sent stays here until the ghost acknowledges it: at most
 * IO_WINDOW bytes per stream, which the window bounds anyway.  After a
 * master restart it is sent again from where the ghost says it is.
 */
static void
proc_keep(struct rproc *rp, int s, const unsigned char *p, size_t n)
{
	uint32_t	at = (rp->head[s] + rp->unacked[s]) % IO_WINDOW, k;

	rp->unacked[s] += (uint32_t)n;
	rp->tx[s] += n;
	if (rp->ring[s] == NULL && (rp->ring[s] = malloc(IO_WINDOW)) == NULL)
		return;
	for (; n > 0; at = 0, p += k, n -= k) {
		k = IO_WINDOW - at < n ? IO_WINDOW - at : (uint32_t)n;
		memcpy(rp->ring[s] + at, p, k);
	}
}

/* The master link is gone: nothing goes out until the ghost is back. */
void
proc_pause_all(void)
{
	struct rproc	*rp;

	for (rp = procs; rp != NULL; rp = rp->next)
		rp->paused = 1;
}

/* To a new master, after WELCOME: what we host, one REJOIN each. */
int
proc_rejoin_report(void)
{
	unsigned char	 buf[1400];
	struct wire_msg	 m;
	struct rproc	*rp;
	int		 n = 0;

	for (rp = procs; rp != NULL; rp = rp->next, n++) {
		wire_msg_init(&m, buf, sizeof(buf), MSG_REJOIN, 0, 0);
		wire_put_u32(&m, A_PID, (uint32_t)rp->gpid);
		wire_put_u32(&m, A_RPID, (uint32_t)rp->pid);
		wire_put_u32(&m, A_UID, rp->uid);
		wire_put_u32(&m, A_FLAGS, (rp->exited ? REJOIN_F_EXITED : 0) |
		    (rp->tty ? REJOIN_F_TTY : 0));
		wire_put_u32(&m, A_STATUS, (uint32_t)rp->status);
		grace_put_cmd(&m, rp->pid);
		wire_put_u64(&m, A_OFF_IN, rp->tx[0]);
		wire_put_u64(&m, A_OFF_INDONE, rp->indone);
		if (rp->in_eof || rp->fd[0] < 0)
			wire_put_u8(&m, A_EOF, 1);
		link_send_msg(&m);
	}
	return n;
}

/*
 * The ghost is back: send again what it did not write, from its offset
 * (A_OFF_OUT, A_OFF_ERR), and go on; an exit it missed goes last.
 */
void
proc_resume(struct wire_attr *tb)
{
	unsigned char	 buf[IO_CHUNK + 128];
	struct wire_msg	 m;
	pid_t		 gpid = (pid_t)wire_get_u32(&tb[A_PID]);
	struct rproc	*rp = proc_find(gpid);
	uint64_t	 got, base;
	uint32_t	 k;
	int		 s;

	track_resume(gpid);
	if (rp == NULL)
		return;
	for (s = 1; s <= 2; s++) {
		got = tb[s == 1 ? A_OFF_OUT : A_OFF_ERR].data ?
		    wire_get_u64(&tb[s == 1 ? A_OFF_OUT : A_OFF_ERR]) : 0;
		base = rp->tx[s] - rp->unacked[s];
		if (got < base || got > rp->tx[s])
			got = base;	/* not ours to send again */
		k = (uint32_t)(got - base);
		rp->unacked[s] -= k;
		rp->head[s] = (rp->head[s] + k) % IO_WINDOW;
		for (base = 0; rp->ring[s] != NULL && base < rp->unacked[s];
		    base += k) {
			uint32_t at = (uint32_t)((rp->head[s] + base) % IO_WINDOW);

			k = rp->unacked[s] - (uint32_t)base;
			if (k > IO_CHUNK)
				k = IO_CHUNK;
			if (k > IO_WINDOW - at)
				k = IO_WINDOW - at;
			wire_msg_init(&m, buf, sizeof(buf), MSG_IO, 0, 0);
			wire_put_u32(&m, A_PID, (uint32_t)rp->gpid);
			wire_put_u8(&m, A_STREAM, (uint8_t)s);
			wire_put(&m, A_DATA, rp->ring[s] + at, k);
			link_send_msg(&m);
		}
	}
	rp->paused = 0;
	if (rp->zombie) {
		wire_msg_init(&m, buf, sizeof(buf), MSG_EXIT, 0, 0);
		wire_put_u32(&m, A_PID, (uint32_t)rp->gpid);
		wire_put_u32(&m, A_STATUS, (uint32_t)rp->status);
		link_send_msg(&m);
	}
}

/* The ghost has the exit, or never came back: forget the process. */
void
proc_reap_one(struct wire_attr *tb)
{
	pid_t		 gpid = (pid_t)wire_get_u32(&tb[A_PID]);
	struct rproc	*rp = proc_find(gpid);

	if (rp == NULL) {
		track_signal(gpid, SIGKILL);
		return;
	}
	if (!rp->exited)
		kill(rp->pid, SIGKILL);
	/*
	 * Its ghost has the exit, but processes it started still write to
	 * its pipes, printed by their own ghosts: the pipes stay until they
	 * close (proc_maybe_finish frees it then).  Freeing it here closed
	 * them under the writers, whose next line died of SIGPIPE.
	 */
	else if (rp->reported && !rp->tty && (rp->fd[1] >= 0 ||
	    rp->fd[2] >= 0) && proc_session_lives(rp))
		return;
	proc_free(rp);
}
