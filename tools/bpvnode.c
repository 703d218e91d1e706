/*
 * bpvnode: the power supply of one virtual node.
 *
 *	bpvnode -i image -m mac -b bridge -v hostveth -p pidfile
 *	    [-c consolelog] -- initargs...
 *
 * bpvcluster runs one bpvnode per virtual node inside the cluster network
 * namespace.  Each power-on clones a child into fresh pid, mount, network,
 * UTS and IPC namespaces, wires it to the bridge with a veth whose node end
 * is "eth0" with the node's fixed MAC, unpacks the initramfs into a new
 * tmpfs, pivots into it and execs /init (nodeinit) as the namespace's PID 1,
 * just as the kernel would on a diskless node.
 *
 * The kernel tells us how PID 1 of a pid namespace ended (pid_namespaces(7)):
 * reboot(RESTART) kills it with SIGHUP, reboot(HALT or POWER_OFF) with
 * SIGINT.  SIGHUP powers the node on again with a fresh RAM disk; SIGINT,
 * SIGKILL (a power cut by `bpvcluster kill`) or anything else turns the
 * supply off.  SIGTERM, SIGINT or SIGHUP sent to bpvnode itself cut the
 * power too (`bpvcluster down`).
 *
 * Exit status: 0 the node was halted, powered off or had its power cut;
 * 1 setup failed or the node's PID 1 died some other way; 2 usage.
 */
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <linux/sched.h>	/* struct clone_args */

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cpio.h"

#define NODE_NICE	-5	/* the node's PID 1: see node_boot */
#define NODE_NS_FLAGS	(CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | \
			 CLONE_NEWUTS | CLONE_NEWIPC)
#define NODE_ROOT	"/tmp"		/* tmpfs mount point, in the node's own mount ns */
#define NODE_TMPFS_OPTS	"size=50%,mode=0755"	/* node RAM: at most half the front end's */
#define NODE_IFNAME	"eth0"		/* the node's NIC, as on real hardware */
#define VETH_WAIT_MS	5000		/* time an old node's netns may take to vanish */
#define REBOOT_PAUSE_MS	200		/* pause between power-off and power-on */

struct opts {
	const char	*image;
	const char	*mac;
	const char	*bridge;
	const char	*veth;
	const char	*pidfile;
	const char	*console;
	char		**initargs;
	int		 nargs;
	int		 consfd;	/* power events and the node's console */
};

static struct opts opts = { .consfd = -1 };
static char tmppid[PATH_MAX];

static void	usage(void) __attribute__((noreturn));
static void	power_log(const char *, ...) __attribute__((format(printf, 1, 2)));
static void	pidfile_remove(void);
static void	signals_setup(sigset_t *);
static int	cmd_run(char *const []);
static int	net_setup(pid_t);
static void	pidfile_write(pid_t);
static pid_t	node_clone(void);
static pid_t	node_start(unsigned int);
static int	node_wait(pid_t, const sigset_t *);
static void	node_boot(int) __attribute__((noreturn));
static void	node_fail(const char *, ...)
		    __attribute__((format(printf, 1, 2), noreturn));
static void	node_failx(const char *, ...)
		    __attribute__((format(printf, 1, 2), noreturn));
static int	image_stream(int);
static void	root_enter(void);
static void	ipv6_off(void);

static void
usage(void)
{
	fprintf(stderr, "usage: bpvnode -i image -m mac -b bridge -v hostveth "
	    "-p pidfile [-c consolelog] -- initargs...\n");
	exit(2);
}

/* One timestamped line per power event, where the node's console goes. */
static void
power_log(const char *fmt, ...)
{
	char		 stamp[32], line[512];
	struct timespec	 ts;
	struct tm	 tm;
	va_list		 ap;
	int		 fd, n;

	if (clock_gettime(CLOCK_REALTIME, &ts) == -1 ||
	    localtime_r(&ts.tv_sec, &tm) == NULL ||
	    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		strcpy(stamp, "?");
	n = snprintf(line, sizeof(line), "[%s.%03ld] bpvnode %s: ", stamp,
	    ts.tv_nsec / 1000000, opts.veth);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	n = strlen(line);
	line[n++] = '\n';
	fd = opts.consfd != -1 ? opts.consfd : STDERR_FILENO;
	/* A lost log line must not take the node down with it. */
	if (write(fd, line, n) == -1)
		warn("console log");
}

/*
 * Whenever we exit, the supply is off for good: the pid file must not name
 * a dead node.  Registered with atexit(); children leave with _exit().
 */
static void
pidfile_remove(void)
{
	if (unlink(opts.pidfile) == -1 && errno != ENOENT)
		warn("unlink %s", opts.pidfile);
	(void)unlink(tmppid);
}

/*
 * bash starts background jobs with SIGINT and SIGQUIT ignored, and ignored
 * signals survive execve: reset every disposition so neither we nor the
 * node's PID 1 inherit that.  The signals we act on stay blocked and are
 * taken synchronously with sigwaitinfo(); children unblock them.
 */
static void
signals_setup(sigset_t *set)
{
	struct sigaction sa;
	int		 sig;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (sig = 1; sig < NSIG; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		/* Realtime signals glibc reserves for itself refuse; fine. */
		(void)sigaction(sig, &sa, NULL);
	}
	sigemptyset(set);
	sigaddset(set, SIGCHLD);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, set, NULL) == -1)
		err(1, "sigprocmask");
}

/* Run a helper (ip) to completion; 0 if it exited 0. */
static int
cmd_run(char *const argv[])
{
	sigset_t empty;
	pid_t	 pid;
	int	 st;

	if ((pid = fork()) == -1) {
		warn("fork");
		return -1;
	}
	if (pid == 0) {
		sigemptyset(&empty);
		sigprocmask(SIG_SETMASK, &empty, NULL);
		execvp(argv[0], argv);
		warn("exec %s", argv[0]);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR) {
			warn("waitpid %s", argv[0]);
			return -1;
		}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		warnx("%s %s %s failed", argv[0], argv[1], argv[2]);
		return -1;
	}
	return 0;
}

/*
 * Cable the node: a veth pair whose host end joins the bridge and whose
 * other end becomes the node's eth0 with its fixed MAC.  eth0 stays down and
 * unaddressed; nodeinit configures it as it would a real NIC.  After a
 * reboot the old host end lives until the kernel has torn down the old
 * node's netns, which it does asynchronously, so wait for the name to free.
 */
static int
net_setup(pid_t pid)
{
	char	 pidstr[16];
	char	*del[] = { "ip", "link", "del", (char *)opts.veth, NULL };
	char	*add[] = { "ip", "link", "add", (char *)opts.veth, "type",
		    "veth", "peer", "name", NODE_IFNAME, "address",
		    (char *)opts.mac, "netns", pidstr, NULL };
	char	*up[] = { "ip", "link", "set", (char *)opts.veth, "master",
		    (char *)opts.bridge, "up", NULL };
	struct timespec	pause = { 0, 50 * 1000000 };
	int	 ms;

	snprintf(pidstr, sizeof(pidstr), "%d", (int)pid);
	for (ms = 0; if_nametoindex(opts.veth) != 0 && ms < VETH_WAIT_MS;
	    ms += 50)
		nanosleep(&pause, NULL);
	if (if_nametoindex(opts.veth) != 0) {
		warnx("%s still exists; deleting it", opts.veth);
		if (cmd_run(del) == -1)
			return -1;
	}
	if (cmd_run(add) == -1 || cmd_run(up) == -1)
		return -1;
	return 0;
}

/* Readers see either the old PID or the new one, never half a file. */
static void
pidfile_write(pid_t pid)
{
	char	buf[16];
	int	fd, n;

	n = snprintf(buf, sizeof(buf), "%d\n", (int)pid);
	if ((fd = open(tmppid, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644)) == -1)
		err(1, "open %s", tmppid);
	if (write(fd, buf, n) != n)
		err(1, "write %s", tmppid);
	if (close(fd) == -1)
		err(1, "close %s", tmppid);
	if (rename(tmppid, opts.pidfile) == -1)
		err(1, "rename %s", opts.pidfile);
}

/*
 * fork() into new namespaces.  clone3 without a stack behaves like fork;
 * old kernels lack it and get the same from clone.  Both bypass glibc's
 * fork handlers, which a single-threaded program does not need.
 */
static pid_t
node_clone(void)
{
	struct clone_args ca;
	long		  pid;

	memset(&ca, 0, sizeof(ca));
	ca.flags = NODE_NS_FLAGS;
	ca.exit_signal = SIGCHLD;
	pid = syscall(SYS_clone3, &ca, sizeof(ca));
	if (pid == -1 && errno == ENOSYS)
		pid = syscall(SYS_clone, NODE_NS_FLAGS | SIGCHLD, NULL, NULL,
		    NULL, NULL);
	return (pid_t)pid;
}

/*
 * Power on: the child waits on a pipe until its NIC exists and the pid
 * file names it, so nodeinit never starts without a cable.
 */
static pid_t
node_start(unsigned int boot)
{
	int	go[2], st;
	pid_t	pid;

	if (pipe2(go, O_CLOEXEC) == -1)
		err(1, "pipe");
	fflush(NULL);
	if ((pid = node_clone()) == -1)
		err(1, "clone");
	if (pid == 0) {
		close(go[1]);
		node_boot(go[0]);
	}
	close(go[0]);
	if (net_setup(pid) == -1) {
		power_log("cannot wire the node to %s; power off",
		    opts.bridge);
		kill(pid, SIGKILL);
		while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
			;
		exit(1);
	}
	pidfile_write(pid);
	power_log("power on (boot %u): PID 1 is host pid %d, %s %s on %s",
	    boot, (int)pid, NODE_IFNAME, opts.mac, opts.bridge);
	if (write(go[1], "g", 1) != 1)
		err(1, "release node");
	close(go[1]);
	return pid;
}

/*
 * Wait for the node's PID 1 to end, or for someone to cut our power.
 * Returns its wait status.
 */
static int
node_wait(pid_t pid, const sigset_t *set)
{
	siginfo_t si;
	pid_t	  r;
	int	  st;

	for (;;) {
		if (sigwaitinfo(set, &si) == -1) {
			if (errno == EINTR)
				continue;
			err(1, "sigwaitinfo");
		}
		if (si.si_signo != SIGCHLD) {
			power_log("got %s: cutting the power",
			    strsignal(si.si_signo));
			if (kill(pid, SIGKILL) == -1 && errno != ESRCH)
				warn("kill %d", (int)pid);
			while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
				;
			exit(0);
		}
		/* SIGCHLD may also be a helper we already reaped. */
		if ((r = waitpid(pid, &st, WNOHANG)) == -1)
			err(1, "waitpid");
		if (r == pid)
			return st;
	}
}

int
main(int argc, char *argv[])
{
	sigset_t	set;
	struct timespec	pause = { 0, REBOOT_PAUSE_MS * 1000000L };
	unsigned int	boot, b[6];
	char		c;
	pid_t		pid;
	int		ch, st;

	while ((ch = getopt(argc, argv, "+b:c:i:m:p:v:")) != -1) {
		switch (ch) {
		case 'b': opts.bridge = optarg; break;
		case 'c': opts.console = optarg; break;
		case 'i': opts.image = optarg; break;
		case 'm': opts.mac = optarg; break;
		case 'p': opts.pidfile = optarg; break;
		case 'v': opts.veth = optarg; break;
		default: usage();
		}
	}
	if (opts.image == NULL || opts.mac == NULL || opts.bridge == NULL ||
	    opts.veth == NULL || opts.pidfile == NULL)
		usage();
	opts.initargs = argv + optind;
	opts.nargs = argc - optind;

	if (sscanf(opts.mac, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2],
	    &b[3], &b[4], &b[5], &c) != 6 || strlen(opts.mac) != 17)
		errx(2, "%s: not a MAC address (xx:xx:xx:xx:xx:xx)", opts.mac);
	if (b[0] & 1)
		errx(2, "%s: a multicast MAC cannot be a NIC's", opts.mac);
	if (strlen(opts.veth) >= IFNAMSIZ || strlen(opts.bridge) >= IFNAMSIZ)
		errx(2, "interface names are at most %d bytes", IFNAMSIZ - 1);
	if (if_nametoindex(opts.bridge) == 0)
		errx(1, "bridge %s: no such interface (run me in the cluster "
		    "network namespace)", opts.bridge);
	if ((size_t)snprintf(tmppid, sizeof(tmppid), "%s.tmp", opts.pidfile) >=
	    sizeof(tmppid))
		errx(2, "%s: path too long", opts.pidfile);
	if (geteuid() != 0)
		errx(1, "must run as root (it makes namespaces and NICs)");
	/* Each boot opens the image afresh, like a PXE boot fetching it. */
	if (access(opts.image, R_OK) == -1)
		err(1, "%s", opts.image);
	if (opts.console != NULL && (opts.consfd = open(opts.console,
	    O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640)) == -1)
		err(1, "%s", opts.console);
	if (atexit(pidfile_remove) != 0)
		errx(1, "atexit");

	signals_setup(&set);
	for (boot = 1;; boot++) {
		pid = node_start(boot);
		st = node_wait(pid, &set);
		if (WIFSIGNALED(st) && WTERMSIG(st) == SIGHUP) {
			power_log("node rebooted");
			nanosleep(&pause, NULL);
			continue;
		}
		if (WIFSIGNALED(st) && WTERMSIG(st) == SIGINT) {
			power_log("node halted or powered off");
			exit(0);
		}
		if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) {
			power_log("power cut: PID 1 was killed");
			exit(0);
		}
		if (WIFSIGNALED(st))
			power_log("PID 1 died of %s; power off",
			    strsignal(WTERMSIG(st)));
		else
			power_log("PID 1 exited with status %d; power off",
			    WEXITSTATUS(st));
		exit(1);
	}
}

/*
 * Everything below runs in the new node, before and after it leaves the
 * front end's filesystem.  Errors go to the console log and end the node
 * with _exit(1): the parent's stdio and exit handlers are not ours to run.
 */
static void
node_fail(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
	_exit(1);
}

static void
node_failx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vwarnx(fmt, ap);
	va_end(ap);
	_exit(1);
}

/*
 * The node's network namespace speaks no IPv6 (bproc is IPv4 only): a
 * NIC that comes up with IPv6 sends its link-local announcements (DAD,
 * MLD, router solicitations) as multicast, which the bridge floods to
 * every port, so a thousand nodes booting cost a million packets.  The
 * sysctls under /proc/sys/net are the writer's namespace's, and "all"
 * reaches eth0, which is already here.
 */
static void
ipv6_off(void)
{
	static const char *const knob[] = {
		"/proc/sys/net/ipv6/conf/default/disable_ipv6",
		"/proc/sys/net/ipv6/conf/all/disable_ipv6" };
	int	fd;

	for (size_t i = 0; i < sizeof(knob) / sizeof(knob[0]); i++) {
		/* a kernel without IPv6 has no such file: nothing to do */
		if ((fd = open(knob[i], O_WRONLY | O_CLOEXEC)) == -1)
			continue;
		if (write(fd, "1", 1) != 1)
			warn("%s", knob[i]);
		close(fd);
	}
}

static void
node_boot(int go)
{
	static char	*envp[] = { "TERM=linux",
			    "PATH=/bin:/sbin:/usr/bin:/usr/sbin", NULL };
	char		**av;
	sigset_t	  empty;
	char		  c, why[PATH_MAX + 256];
	int		  fd, img, in;

	/* A node must not outlive its power supply. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1)
		node_fail("prctl");
	if (read(go, &c, 1) != 1)
		_exit(1);	/* the parent gave up; it has said why */
	close(go);
	ipv6_off();
	/*
	 * A real node's nodeinit has its CPU to itself; here a thousand share
	 * the front end's two with the tools that drive them (a push forks a
	 * ghost per node), and a nodeinit not scheduled for the master's
	 * timeout loses its link.  Three times the weight of a plain process
	 * (nice -5) keeps heartbeats flowing; what the node runs inherits it.
	 */
	if (setpriority(PRIO_PROCESS, 0, NODE_NICE) == -1)
		warn("setpriority %d", NODE_NICE);

	/* Nothing the launcher had open may leak into the node. */
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == -1 &&
	    errno != ENOSYS && errno != EINVAL)	/* before Linux 5.11 */
		node_fail("close_range");
	if (opts.consfd != -1 && (dup2(opts.consfd, STDOUT_FILENO) == -1 ||
	    dup2(opts.consfd, STDERR_FILENO) == -1))
		node_fail("dup2 console");
	if ((fd = open("/dev/null", O_RDONLY)) == -1 ||
	    dup2(fd, STDIN_FILENO) == -1)
		node_fail("/dev/null");
	if (fd != STDIN_FILENO)
		close(fd);

	/* What a freshly booted kernel calls itself. */
	if (sethostname("(none)", 6) == -1)
		node_fail("sethostname");
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1)
		node_fail("make / private");
	if ((img = open(opts.image, O_RDONLY | O_CLOEXEC)) == -1)
		node_fail("%s", opts.image);
	if (mount("rootfs", NODE_ROOT, "tmpfs", 0, NODE_TMPFS_OPTS) == -1)
		node_fail("mount tmpfs on %s", NODE_ROOT);
	in = image_stream(img);
	root_enter();

	umask(0);
	if (cpio_unpack(in, opts.image, why, sizeof(why)) == -1)
		node_failx("%s", why);
	umask(022);
	close(in);

	if ((av = calloc(opts.nargs + 2, sizeof(*av))) == NULL)
		node_fail("calloc");
	av[0] = "/init";
	memcpy(av + 1, opts.initargs, opts.nargs * sizeof(*av));
	sigemptyset(&empty);
	if (sigprocmask(SIG_SETMASK, &empty, NULL) == -1)
		node_fail("sigprocmask");
	execve("/init", av, envp);
	node_fail("exec /init from %s", opts.image);
}

/*
 * The image is gzip'd (as built) or a plain cpio.  gzip is the front end's
 * and must be done before we leave the front end's tree: a pivot_root under
 * a running gzip, or under its dynamic loader, would pull its files away.
 * So it unpacks into an anonymous memory file, which the node reads from
 * after the pivot and frees when it is done.
 */
static int
image_stream(int img)
{
	unsigned char	 magic[2];
	sigset_t	 empty;
	pid_t		 pid;
	int		 mfd, st;

	if (pread(img, magic, 2, 0) != 2)
		node_failx("%s: too short to be an image", opts.image);
	if (magic[0] != 0x1f || magic[1] != 0x8b)
		return img;
	if ((mfd = memfd_create("initramfs", MFD_CLOEXEC)) == -1)
		node_fail("memfd_create");
	if ((pid = fork()) == -1)
		node_fail("fork");
	if (pid == 0) {
		sigemptyset(&empty);
		sigprocmask(SIG_SETMASK, &empty, NULL);
		if (dup2(img, STDIN_FILENO) == -1 ||
		    dup2(mfd, STDOUT_FILENO) == -1)
			node_fail("dup2");
		execlp("gzip", "gzip", "-dc", (char *)NULL);
		node_fail("exec gzip");
	}
	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR)
			node_fail("waitpid gzip");
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		node_failx("%s: gzip -d failed", opts.image);
	if (lseek(mfd, 0, SEEK_SET) == -1)
		node_fail("lseek");
	close(img);
	return mfd;
}

/*
 * Make the tmpfs the root and drop the front end's tree, so nothing on the
 * node can reach it.  pivot_root(".", ".") stacks the old root over the new
 * one, and the lazy unmount removes it (pivot_root(2)).  A front end whose
 * own root is the initial rootfs cannot pivot; there a move plus chroot is
 * the best the kernel allows.
 */
static void
root_enter(void)
{
	if (chdir(NODE_ROOT) == -1)
		node_fail("chdir %s", NODE_ROOT);
	if (syscall(SYS_pivot_root, ".", ".") == 0) {
		if (umount2(".", MNT_DETACH) == -1)
			node_fail("detach the front end's root");
	} else if (errno == EINVAL) {
		if (mount(".", "/", NULL, MS_MOVE, NULL) == -1)
			node_fail("move the node root");
		if (chroot(".") == -1)
			node_fail("chroot");
	} else
		node_fail("pivot_root");
	if (chdir("/") == -1)
		node_fail("chdir /");
}
