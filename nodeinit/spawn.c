/*
 * Starting a process for a ghost (MSG_EXEC): its argument lists, its
 * stdio (pipes, a pty, /dev/null, the -I/-O/-E files), clone3() at the
 * ghost's PID (set_tid) where it is free, and in the child the drop to
 * the caller's uid/gids and the exec.  The exec's outcome comes back on a
 * close-on-exec pipe and goes up as EXEC_RESULT; a process that runs gets
 * its record (proc.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include <linux/sched.h>

#include "args.h"
#include "log.h"
#include "nodeinit_int.h"
#include "proc_int.h"

#define PROC_MAXARGS	65536		/* argv + envp entries at most */
#define PROC_MAXGROUPS	4096		/* supplementary groups at most */
#define PROC_ERR_FILE_SHIFT	16	/* a child's errno word: (1 + which -I/-O/-E file) above it */
#define PROC_TTY_MODE	0620		/* a login's pty: rw user, w group */

/* One EXEC on its way to a process: what the child needs, what to close. */
struct spawn {
	struct wire_attr *tb;
	pid_t		 gpid;
	uint32_t	 flags;
	uid_t		 uid;
	gid_t		 gid;
	gid_t		 groups[PROC_MAXGROUPS];
	size_t		 ngroups;
	const char	*files[3];	/* -I/-O/-E, opened by the child */
	char		**argv, **envp, *joined;
	char		 rankenv[32], nodeenv[32];
	int		 pin[2], pout[2], perr[2];
	int		 ep[2];		/* the child's errno word, or EOF at exec */
	int		 gp[2];		/* go: '1' traced, '0' not (track_filter.c) */
	int		 child_fd[3];	/* what becomes the child's 0, 1, 2 */
	int		 devnull, ptm, pts, ptm_in;
	char		 msg[300];
};

static int	spawn_image = -1;	/* EXEC_F_IMAGE: the restorer's socket (migrate.c) */

/*
 * nodeinit installs no handler and ignores nothing itself, but PID 1 of a
 * virtual node may have inherited SIG_IGN dispositions, which an exec
 * keeps.  Find them once; each child resets only those (a handler would
 * not survive the exec anyway), rather than 64 signal() calls per exec.
 */
static sigset_t	ignored;
static int	ignored_known;

static void
spawn_find_ignored(void)
{
	struct sigaction	sa;
	int			i;

	sigemptyset(&ignored);
	for (i = 1; i < NSIG; i++)
		if (sigaction(i, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
			sigaddset(&ignored, i);
	ignored_known = 1;
}

/* The child's -I/-O/-E files, opened as the user: 0, or its errno word. */
static int
spawn_child_files(const char *const files[3])
{
	int	fd, i;

	for (i = 0; i < 3; i++) {
		if (files[i] == NULL)
			continue;
		fd = open(files[i], i == 0 ? O_RDONLY :
		    O_WRONLY | O_CREAT | O_TRUNC, 0666);
		if (fd == -1 || dup2(fd, i) == -1)
			/* the file, not the command, is what is missing */
			return errno | (i + 1) << PROC_ERR_FILE_SHIFT;
		if (fd != i)
			close(fd);
	}
	return 0;
}

/* execvp's search, by the caller's PATH; returns only failed, errno set. */
static void
spawn_child_exec(const char *path, char **argv, char **envp)
{
	const char	*pathenv = NULL, *p, *q;
	char		 cand[4096];
	int		 e, i;

	if (strchr(path, '/') != NULL) {
		execve(path, argv, envp);
		return;
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
}

/* What the child execs: path, or its blob when path is an applet alias. */
static const char *
spawn_exec_path(pid_t gpid, const char *path)
{
	const char	*a = cache_alias(gpid, path);

	return a != NULL ? a : path;
}

/* Runs in the child after clone3: raw syscalls only where libc caches ids. */
static void __attribute__((noreturn))
spawn_child(struct spawn *sp)
{
	struct wire_attr	*tb = sp->tb;
	sigset_t		 none;
	uid_t			 eu;
	gid_t			 eg;
	int			 e, i;

	sigemptyset(&none);
	for (i = 1; i < NSIG; i++)
		if (sigismember(&ignored, i) == 1)
			signal(i, SIG_DFL);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setsid();
	/* a new session leader takes the pty as its controlling terminal */
	if (sp->pts >= 0 && ioctl(sp->pts, TIOCSCTTY, 0) == -1)
		goto fail;
	for (i = 0; i < 3; i++) {
		if (sp->child_fd[i] != i && dup2(sp->child_fd[i], i) == -1)
			goto fail;
	}
	/* seized by nodeinit first, then its forks stop for their ghosts */
	if (track_child(sp->gp[0]) == -1)
		goto fail;
	/*
	 * An image: real ids the user's, effective and saved still root's;
	 * the restorer does its privileged steps, then drops (migrate.c).
	 */
	eu = spawn_image >= 0 ? (uid_t)-1 : sp->uid;
	eg = spawn_image >= 0 ? (gid_t)-1 : sp->gid;
	if (syscall(SYS_setgroups, sp->ngroups, sp->groups) == -1 ||
	    syscall(SYS_setresgid, sp->gid, eg, eg) == -1 ||
	    syscall(SYS_setresuid, sp->uid, eu, eu) == -1)
		goto fail;
	if (spawn_image >= 0) {
		migrate_exec(spawn_image);
		goto fail;
	}
	if ((e = spawn_child_files(sp->files)) != 0)
		goto failed;
	if (!tb[A_CWD].data || chdir(wire_get_str(&tb[A_CWD])) == -1)
		chdir("/");
	spawn_child_exec(spawn_exec_path(sp->gpid, tb[A_PATH].data ?
	    wire_get_str(&tb[A_PATH]) : sp->argv[0]), sp->argv, sp->envp);
fail:
	e = errno;
failed:
	write(sp->ep[1], &e, sizeof(e));
	_exit(127);
}

/*
 * A pty pair for uid: the slave belongs to the user with a login's mode
 * (no tty group on a node: the user's own group), at the caller's
 * terminal size.  Both ends close on exec; the child dups the slave.
 */
static int
spawn_pty(int *ptm, int *pts, uid_t uid, gid_t gid, struct wire_attr *tb)
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

static pid_t
spawn_clone(pid_t want)
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

/* What the EXEC says besides its argument lists; -1: a bad group list. */
static int
spawn_init(struct spawn *sp, pid_t gpid, struct wire_attr *tb)
{
	size_t	i;

	memset(sp, 0, sizeof(*sp));
	sp->tb = tb;
	sp->gpid = gpid;
	sp->uid = wire_get_u32(&tb[A_UID]);
	sp->gid = wire_get_u32(&tb[A_GID]);
	sp->pin[0] = sp->pin[1] = sp->pout[0] = sp->pout[1] = -1;
	sp->perr[0] = sp->perr[1] = sp->ep[0] = sp->ep[1] = -1;
	sp->gp[0] = sp->gp[1] = -1;
	sp->devnull = sp->ptm = sp->pts = sp->ptm_in = -1;
	if (tb[A_GROUPS].data) {
		if (tb[A_GROUPS].len % 4 || tb[A_GROUPS].len / 4 > PROC_MAXGROUPS)
			return -1;
		sp->ngroups = tb[A_GROUPS].len / 4;
		for (i = 0; i < sp->ngroups; i++) {
			const unsigned char *g = tb[A_GROUPS].data + 4 * i;

			sp->groups[i] = ((gid_t)g[0] << 24) |
			    ((gid_t)g[1] << 16) | ((gid_t)g[2] << 8) | g[3];
		}
	}
	if (tb[A_FLAGS].data)
		sp->flags = wire_get_u32(&tb[A_FLAGS]);
	if (tb[A_FILE_IN].data)
		sp->files[0] = wire_get_str(&tb[A_FILE_IN]);
	if (tb[A_FILE_OUT].data)
		sp->files[1] = wire_get_str(&tb[A_FILE_OUT]);
	if (tb[A_FILE_ERR].data)
		sp->files[2] = wire_get_str(&tb[A_FILE_ERR]);
	return 0;
}

/*
 * argv and envp from the body, BPROC_RANK and BPROC_NODE added: 0, 1 when
 * the lists were refused (EXEC_RESULT sent), -1 with errno.
 */
static int
spawn_args(struct spawn *sp, const unsigned char *body, size_t blen)
{
	struct wire_attr	*tb = sp->tb;
	struct args_sum		 sum;
	int			 nenv, j, k = 0;

	/* Linux's limits, pieces joined (args.h); envp gets room for ours */
	if (args_scan(body, blen, &sum, sp->msg, sizeof(sp->msg)) == -1 ||
	    sum.nargs < 1 || sum.nargs + sum.nenv > PROC_MAXARGS) {
		proc_result(sp->gpid, 0, E2BIG, sum.nargs < 1 ?
		    "bad argument list" : sp->msg);
		return 1;
	}
	nenv = (int)sum.nenv;
	if ((sp->argv = calloc(sum.nargs + 1, sizeof(*sp->argv))) == NULL ||
	    (sp->envp = calloc(sum.nenv + 3, sizeof(*sp->envp))) == NULL ||
	    (sp->joined = malloc(sum.joined + 1)) == NULL)
		return -1;
	args_fill(body, blen, sp->argv, sp->envp, sp->joined);
	snprintf(sp->rankenv, sizeof(sp->rankenv), "BPROC_RANK=%u",
	    tb[A_RANK].data ? wire_get_u32(&tb[A_RANK]) : 0);
	snprintf(sp->nodeenv, sizeof(sp->nodeenv), "BPROC_NODE=%d", node_num);
	/* ours win over whatever the caller's environment said */
	for (j = 0; j < nenv; j++)
		if (strncmp(sp->envp[j], "BPROC_RANK=", 11) != 0 &&
		    strncmp(sp->envp[j], "BPROC_NODE=", 11) != 0)
			sp->envp[k++] = sp->envp[j];
	sp->envp[k++] = sp->rankenv;
	sp->envp[k++] = sp->nodeenv;
	sp->envp[k] = NULL;
	return 0;
}

/* The child's stdin, stdout and stderr, and the pipes of its start: 0 or -1. */
static int
spawn_stdio(struct spawn *sp)
{
	uint32_t	flags = sp->flags;

	if (pipe2(sp->ep, O_CLOEXEC) == -1 || pipe2(sp->gp, O_CLOEXEC) == -1)
		return -1;
	if (flags & (EXEC_F_NOIO | EXEC_F_STDIN_NULL)) {
		if ((sp->devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1)
			return -1;
	}
	if (flags & EXEC_F_NOIO) {
		sp->child_fd[0] = sp->child_fd[1] = sp->child_fd[2] = sp->devnull;
	} else if (flags & EXEC_F_TTY) {
		if (spawn_pty(&sp->ptm, &sp->pts, sp->uid, sp->gid, sp->tb) == -1)
			return -1;
		/* stdin goes in at the master too, through its own slot */
		if (!(flags & EXEC_F_STDIN_NULL) &&
		    (sp->ptm_in = fcntl(sp->ptm, F_DUPFD_CLOEXEC, 3)) == -1)
			return -1;
		sp->child_fd[0] = (flags & EXEC_F_STDIN_NULL) ? sp->devnull :
		    sp->pts;
		sp->child_fd[1] = sp->child_fd[2] = sp->pts;
	} else {
		if (pipe2(sp->pout, O_CLOEXEC) == -1 ||
		    pipe2(sp->perr, O_CLOEXEC) == -1)
			return -1;
		if (flags & EXEC_F_STDIN_NULL)
			sp->child_fd[0] = sp->devnull;
		else {
			if (pipe2(sp->pin, O_CLOEXEC) == -1)
				return -1;
			sp->child_fd[0] = sp->pin[0];
		}
		sp->child_fd[1] = sp->pout[1];
		sp->child_fd[2] = sp->perr[1];
	}
	return 0;
}

/* exec either closes the pipe (success: 0) or writes its errno (1: reported) */
static int
spawn_exec_failed(struct spawn *sp)
{
	struct wire_attr	*tb = sp->tb;
	ssize_t			 n;
	size_t			 i;
	int			 e;

	do
		n = read(sp->ep[0], &e, sizeof(e));
	while (n == -1 && errno == EINTR);
	if (n != (ssize_t)sizeof(e))
		return 0;
	i = (size_t)e >> PROC_ERR_FILE_SHIFT;
	e &= (1 << PROC_ERR_FILE_SHIFT) - 1;
	snprintf(sp->msg, sizeof(sp->msg), "%s: %s", i > 0 && i <= 3 ?
	    sp->files[i - 1] : tb[A_PATH].data ?
	    wire_get_str(&tb[A_PATH]) : sp->argv[0], strerror(e));
	proc_result(sp->gpid, 0, e, sp->msg);
	migrate_forget(sp->gpid);
	return 1;	/* the child's _exit is reaped as a stranger */
}

/* The process runs: its record, with the parent's ends of its stdio. */
static int
spawn_record(struct spawn *sp, pid_t pid)
{
	struct wire_attr	*tb = sp->tb;
	struct rproc		*rp;
	int			 i;

	if ((rp = calloc(1, sizeof(*rp))) == NULL) {
		kill(pid, SIGKILL);
		errno = ENOMEM;
		return -1;
	}
	rp->gpid = sp->gpid;
	rp->pid = pid;
	rp->uid = sp->uid;
	rp->feppid = tb[A_PPID].data ? (pid_t)wire_get_u32(&tb[A_PPID]) : 0;
	if (sp->ptm >= 0) {
		rp->tty = 1;
		rp->fd[0] = sp->ptm_in;
		rp->fd[1] = sp->ptm;
		rp->fd[2] = -1;
		sp->ptm_in = sp->ptm = -1;
	} else {
		rp->fd[0] = sp->pin[1];
		rp->fd[1] = sp->pout[0];
		rp->fd[2] = sp->perr[0];
		sp->pin[1] = sp->pout[0] = sp->perr[0] = -1;
	}
	for (i = 0; i < 3; i++)
		if (rp->fd[i] >= 0)
			fcntl(rp->fd[i], F_SETFL, O_NONBLOCK);
	rproc_add(rp);
	log_debug("started %s as pid %d (ghost %d)", sp->argv[0], (int)pid,
	    (int)sp->gpid);
	proc_result(sp->gpid, pid, 0, NULL);
	return 0;
}

/* clone3 at the ghost's PID, seize it, let it exec: 0, 1 (reported) or -1. */
static int
spawn_start(struct spawn *sp)
{
	pid_t	pid;
	char	go;

	if (!ignored_known)
		spawn_find_ignored();
	if ((sp->flags & EXEC_F_IMAGE) &&
	    migrate_prepare(sp->gpid, &spawn_image) == -1)
		return -1;
	pid = spawn_clone(sp->gpid);
	if (spawn_image >= 0 && pid != 0) {
		close(spawn_image);
		spawn_image = -1;
	}
	if (pid == -1)
		return -1;
	if (pid == 0)
		spawn_child(sp);
	close(sp->ep[1]);
	sp->ep[1] = -1;
	/* traced unless a root caller asked otherwise (a debug switch) */
	go = (!(sp->flags & EXEC_F_NOTRACK) &&
	    track_attach(pid, sp->gpid) == 0) ? '1' : '0';
	(void)write(sp->gp[1], &go, 1);
	if (spawn_exec_failed(sp))
		return 1;
	return spawn_record(sp, pid);
}

static void
spawn_close(struct spawn *sp)
{
	int	i;

	for (i = 0; i < 2; i++) {
		if (sp->pin[i] >= 0)
			close(sp->pin[i]);
		if (sp->pout[i] >= 0)
			close(sp->pout[i]);
		if (sp->perr[i] >= 0)
			close(sp->perr[i]);
		if (sp->ep[i] >= 0)
			close(sp->ep[i]);
		if (sp->gp[i] >= 0)
			close(sp->gp[i]);
	}
	if (sp->devnull >= 0)
		close(sp->devnull);
	if (sp->ptm >= 0)
		close(sp->ptm);
	if (sp->pts >= 0)
		close(sp->pts);
	if (sp->ptm_in >= 0)
		close(sp->ptm_in);
	free(sp->argv);
	free(sp->envp);
	free(sp->joined);
}

/* MSG_EXEC: a process for the ghost gpid, or an EXEC_RESULT saying why not. */
void
spawn_exec(const struct wire_hdr *h, struct wire_attr *tb,
    const unsigned char *body, size_t blen)
{
	struct spawn	 sp;
	struct rproc	*rp;
	pid_t		 gpid;
	int		 r, e;

	if (!tb[A_PID].data || !tb[A_UID].data || !tb[A_GID].data) {
		log_warnx("EXEC without pid/uid/gid");
		return;
	}
	gpid = (pid_t)wire_get_u32(&tb[A_PID]);
	/* an ended one whose REAP is still on the way: its PID is free again */
	if ((rp = rproc_find(gpid)) != NULL && rp->zombie)
		rproc_free(rp);
	if (rproc_find(gpid) != NULL) {
		proc_result(gpid, 0, EEXIST, "process already exists");
		return;
	}
	r = spawn_init(&sp, gpid, tb);
	/* files to push first: the exec resumes when they are all here */
	if (tb[A_MFILE].data) {
		switch (push_prepare(gpid, h, body, blen, sp.msg, sizeof(sp.msg))) {
		case 1:
			return;
		case -1:
			proc_result(gpid, 0, errno ? errno : EIO, sp.msg);
			return;
		}
	}
	if (r == -1) {
		proc_result(gpid, 0, EINVAL, "bad group list");
		return;
	}
	if ((r = spawn_args(&sp, body, blen)) == 0 &&
	    (r = spawn_stdio(&sp)) == 0)
		r = spawn_start(&sp);
	if (r == -1) {
		e = errno;
		snprintf(sp.msg, sizeof(sp.msg), "node: %s", strerror(e));
		proc_result(gpid, 0, e, sp.msg);
		migrate_forget(gpid);
	}
	spawn_close(&sp);
}
