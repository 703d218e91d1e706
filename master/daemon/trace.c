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
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bpmaster.h"
#include "log.h"

#define TRACE_GHOST_MAX	(16u << 20)	/* bytes of a ghost binary we compare */
#define TRACE_COPIES	8		/* copies of bpghost remembered as good */

/*
 * The installed bpghost: its path, identity and bytes.  A ghost is a
 * process whose executable is this file, or a byte-for-byte copy of it
 * (the tests run a copy where nobody can reach the build tree); a copy
 * found good is remembered by dev/ino/size/mtime.
 */
static char		 ghost_path[PATH_MAX];
static struct stat	 ghost_st;
static unsigned char	*ghost_bytes;
static struct stat	 ghost_copies[TRACE_COPIES];
static int		 ghost_ncopies;

static int
pidfd_open_(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static int
pidfd_kill(int pidfd, int sig)
{
	return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

static int
same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	    a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	    a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

static int
read_all(int fd, unsigned char *buf, size_t len)
{
	ssize_t	n;
	size_t	off = 0;

	while (off < len) {
		n = pread(fd, buf + off, len - off, (off_t)off);
		if (n <= 0)
			return -1;
		off += (size_t)n;
	}
	return 0;
}

/* (Re)load the installed ghost when the file changed (a new build). */
static int
trace_load_ghost(void)
{
	struct stat	 st;
	unsigned char	*b;
	int		 fd;

	if ((fd = open(ghost_path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size <= 0 || (uint64_t)st.st_size > TRACE_GHOST_MAX) {
		close(fd);
		return -1;
	}
	if (ghost_bytes != NULL && same_file(&st, &ghost_st)) {
		close(fd);
		return 0;
	}
	if ((b = malloc((size_t)st.st_size)) == NULL ||
	    read_all(fd, b, (size_t)st.st_size) == -1) {
		free(b);
		close(fd);
		return -1;
	}
	close(fd);
	free(ghost_bytes);
	ghost_bytes = b;
	ghost_st = st;
	ghost_ncopies = 0;
	return 0;
}

/*
 * Where bpghost is: BPROC_GHOST_PATH when the build says, else next to
 * us as the build tree and an install lay them out (bin/bpmaster,
 * libexec/bpghost), else MASTER_GHOST_PATH.
 */
int
trace_init(void)
{
	char	self[PATH_MAX], *slash;
	ssize_t	n;

#ifdef BPROC_GHOST_PATH
	snprintf(ghost_path, sizeof(ghost_path), "%s", BPROC_GHOST_PATH);
	if (trace_load_ghost() == 0)
		goto found;
#endif
	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) > 0) {
		self[n] = '\0';
		if ((slash = strrchr(self, '/')) != NULL) {
			*slash = '\0';
			if ((slash = strrchr(self, '/')) != NULL)
				*slash = '\0';
			if ((size_t)snprintf(ghost_path, sizeof(ghost_path),
			    "%.*s/libexec/bpghost", PATH_MAX - 32, self) <
			    sizeof(ghost_path) && trace_load_ghost() == 0)
				goto found;
		}
	}
	snprintf(ghost_path, sizeof(ghost_path), "%s", MASTER_GHOST_PATH);
	if (trace_load_ghost() == 0)
		goto found;
	log_warnx("no bpghost found (%s): no client can become a ghost",
	    ghost_path);
	return -1;
found:
	log_info("ghosts are %s", ghost_path);
	return 0;
}

/* Is the open executable fd the installed bpghost or a copy of it? */
static int
trace_is_ghost_exe(int fd)
{
	struct stat	 st;
	unsigned char	*b;
	int		 i, same;

	if (fstat(fd, &st) == -1 || trace_load_ghost() == -1)
		return 0;
	if (same_file(&st, &ghost_st))
		return 1;
	for (i = 0; i < ghost_ncopies; i++)
		if (same_file(&st, &ghost_copies[i]))
			return 1;
	if (st.st_size != ghost_st.st_size)
		return 0;
	if ((b = malloc((size_t)st.st_size)) == NULL)
		return 0;
	same = read_all(fd, b, (size_t)st.st_size) == 0 &&
	    memcmp(b, ghost_bytes, (size_t)st.st_size) == 0;
	free(b);
	if (same) {
		if (ghost_ncopies == TRACE_COPIES)
			ghost_ncopies = 0;
		ghost_copies[ghost_ncopies++] = st;
	}
	return same;
}

/* Real, effective, saved and fs uid of pid all uid? */
static int
trace_uid_is(pid_t pid, uid_t uid)
{
	char		 path[64], line[256];
	unsigned long	 u[4];
	FILE		*f;
	int		 ok = 0;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "Uid: %lu %lu %lu %lu", &u[0], &u[1], &u[2],
		    &u[3]) == 4) {
			ok = u[0] == uid && u[1] == uid && u[2] == uid &&
			    u[3] == uid;
			break;
		}
	fclose(f);
	return ok;
}

/*
 * A sock_diag socket in the network namespace of pid.  A connection's
 * accepted end belongs to the namespace of whoever connected, not ours
 * (bpvcluster runs us in a namespace of our own), and sock_diag looks
 * sockets up in its own namespace: we step into pid's for the socket()
 * call and back.
 */
static int
trace_diag_socket(pid_t pid)
{
	char	path[64];
	int	self, theirs, nl = -1;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	if ((theirs = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if ((self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) == -1) {
		close(theirs);
		return -1;
	}
	if (setns(theirs, CLONE_NEWNET) == 0) {
		nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC,
		    NETLINK_SOCK_DIAG);
		if (setns(self, CLONE_NEWNET) == -1)
			fatal("setns back to our network namespace");
	}
	close(self);
	close(theirs);
	return nl;
}

/*
 * The inode of the other end of our unix socket fd, from sock_diag
 * (UNIX_DIAG_PEER), asked in pid's namespace: 0 when the kernel cannot say.
 */
static unsigned int
trace_peer_ino(int fd, pid_t pid)
{
	struct {
		struct nlmsghdr		nlh;
		struct unix_diag_req	req;
	} rq;
	union {
		struct nlmsghdr	nlh;
		unsigned char	b[4096];
	} rsp;
	struct sockaddr_nl	 sa = { .nl_family = AF_NETLINK };
	struct stat		 st;
	struct nlmsghdr		*h;
	struct unix_diag_msg	*m;
	struct rtattr		*a;
	unsigned int		 peer = 0;
	ssize_t			 n;
	int			 nl, len;

	if (fstat(fd, &st) == -1 || (nl = trace_diag_socket(pid)) == -1)
		return 0;
	memset(&rq, 0, sizeof(rq));
	rq.nlh.nlmsg_len = sizeof(rq);
	rq.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	rq.nlh.nlmsg_flags = NLM_F_REQUEST;
	rq.req.sdiag_family = AF_UNIX;
	rq.req.udiag_states = ~0u;
	rq.req.udiag_ino = (unsigned int)st.st_ino;
	rq.req.udiag_show = UDIAG_SHOW_PEER;
	rq.req.udiag_cookie[0] = rq.req.udiag_cookie[1] = ~0u;
	if (sendto(nl, &rq, sizeof(rq), 0, (struct sockaddr *)&sa,
	    sizeof(sa)) != (ssize_t)sizeof(rq) ||
	    (n = recv(nl, &rsp, sizeof(rsp), 0)) <= 0) {
		close(nl);
		return 0;
	}
	close(nl);
	for (h = &rsp.nlh; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
		if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY)
			break;
		m = NLMSG_DATA(h);
		len = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
		for (a = (struct rtattr *)(m + 1); RTA_OK(a, len);
		    a = RTA_NEXT(a, len))
			if (a->rta_type == UNIX_DIAG_PEER &&
			    RTA_PAYLOAD(a) >= (int)sizeof(uint32_t))
				memcpy(&peer, RTA_DATA(a), sizeof(peer));
		break;
	}
	return peer;
}

/* Does pid hold a descriptor of socket inode ino? */
static int
trace_holds_socket(pid_t pid, unsigned int ino)
{
	char		 path[64], link[64], want[32];
	struct dirent	*d;
	DIR		*dir;
	ssize_t		 n;
	int		 found = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	snprintf(want, sizeof(want), "socket:[%u]", ino);
	if ((dir = opendir(path)) == NULL)
		return 0;
	while (!found && (d = readdir(dir)) != NULL) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd/%.20s", (int)pid,
		    d->d_name);
		if ((n = readlink(path, link, sizeof(link) - 1)) <= 0)
			continue;
		link[n] = '\0';
		found = strcmp(link, want) == 0;
	}
	closedir(dir);
	return found;
}

/*
 * The connection sockfd says (SO_PEERCRED, taken at connect) that pid,
 * of uid, is a ghost now.  A pidfd first, so the checks are of the
 * process the pidfd names: its executable is bpghost, it runs as uid
 * only, it holds the other end of this connection; then the pidfd must
 * still name a live process (else the PID may have been reused under the
 * checks).  Returns the pidfd, or -1 with *why; *why NULL when the
 * process has ended already (its /proc entry is a zombie's).
 */
int
trace_check_ghost(pid_t pid, uid_t uid, int sockfd, const char **why)
{
	static int	 diag_warned;
	char		 path[64];
	unsigned int	 peer;
	int		 pidfd, fd;

	if ((pidfd = pidfd_open_(pid)) == -1) {
		*why = errno == EMFILE || errno == ENFILE ?
		    "no descriptors left" : "its process is gone";
		return -1;
	}
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		/* a ghost that ended already (a quick remote) needs nothing */
		*why = errno == ENOENT ? NULL : "cannot open its executable";
		goto fail;
	}
	if (!trace_is_ghost_exe(fd)) {
		close(fd);
		*why = "its executable is not bpghost";
		goto fail;
	}
	close(fd);
	if (!trace_uid_is(pid, uid)) {
		*why = "it does not run as the connection's uid";
		goto fail;
	}
	if ((peer = trace_peer_ino(sockfd, pid)) == 0) {
		/* a kernel without unix_diag: the other checks must do */
		if (!diag_warned++)
			log_warnx("sock_diag cannot name a control "
			    "connection's peer; ghosts are checked by "
			    "executable and uid only");
	} else if (!trace_holds_socket(pid, peer)) {
		*why = "it does not hold this connection";
		goto fail;
	}
	if (pidfd_kill(pidfd, 0) == -1) {
		*why = "its process is gone";
		goto fail;
	}
	return pidfd;
fail:
	close(pidfd);
	return -1;
}

/* Is pid traced by us (TracerPid in its status)? */
static int
trace_tracer_is_us(pid_t pid)
{
	char	 path[64], line[128];
	FILE	*f;
	int	 us = 0;
	long	 t;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "TracerPid: %ld", &t) == 1) {
			us = t == (long)getpid();
			break;
		}
	fclose(f);
	return us;
}

/* A checked ghost: seize it, and signal it through its pidfd from now on. */
void
trace_ghost(struct proc *p, int pidfd)
{
	p->pidfd = pidfd;
	if (ptrace(PTRACE_SEIZE, p->pid, NULL, NULL) == -1) {
		/* a process that came home is ours still, until its detach */
		if (errno == EPERM && trace_tracer_is_us(p->pid)) {
			p->traced = 1;
			return;
		}
		log_warn_rl("ptrace seize ghost %d (SIGSTOP will not reach the "
		    "remote)", (int)p->pid);
		return;
	}
	p->traced = 1;
}

/*
 * Its connection is closing (the pidfd with it, ctl.c): no more signals.
 * ptrace requests stay safe, by PID: they reach only our own tracee.
 */
void
trace_forget(struct proc *p)
{
	p->pidfd = -1;
}

static int
trace_kill(struct proc *p, int sig)
{
	if (p->pidfd < 0 || p->ghost == NULL)
		return -1;
	return pidfd_kill(p->pidfd, sig);
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
	return trace_kill(p, SIGSTOP);
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
		trace_kill(p, SIGCONT);
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

/*
 * A ghost that became its process again (migrate.c): stop it for a
 * moment, and trace_event, which no longer finds it, lets go of it.
 */
void
trace_let_go(struct proc *p)
{
	if (p->traced)
		ptrace(PTRACE_INTERRUPT, p->pid, NULL, NULL);
	p->traced = 0;
	p->held = 0;
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
	/* not a ghost (any more): no tracee of ours, with its signal */
	if (p == NULL) {
		ptrace(PTRACE_DETACH, pid, NULL, (void *)(long)
		    ((status >> 16) == PTRACE_EVENT_STOP ? 0 : sig));
		return;
	}
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
