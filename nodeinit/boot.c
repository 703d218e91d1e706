/*
 * Bringing a node up: the boot arguments, the filesystems a node needs,
 * the device nodes of a virtual node, DHCP when the boot loader passed no
 * lease, and the way down (reboot(2)).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "nodeinit_int.h"

struct node_conf	ncf = {
	.master_port = BPROC_PORT,
	.iface = NODE_IFACE,
	.keyfile = NODE_KEYFILE,
};
int			node_stage = STAGE_KERNEL;

static void
copy_field(char *dst, size_t len, const char *src, size_t n)
{
	if (n >= len)
		n = len - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/*
 * ip=<client>:<server>:<gw>:<netmask>:<hostname>:<device>:<autoconf>, the
 * kernel's nfsroot form that iPXE and pxelinux (IPAPPEND 1) pass along.
 */
static void
arg_ip(const char *v)
{
	const char	*p = v, *q;
	int		 field = 0;

	for (;;) {
		q = strchr(p, ':');
		size_t n = q ? (size_t)(q - p) : strlen(p);

		switch (field) {
		case 0:
			copy_field(ncf.ip, sizeof(ncf.ip), p, n);
			break;
		case 2:
			copy_field(ncf.gw, sizeof(ncf.gw), p, n);
			break;
		case 3:
			copy_field(ncf.netmask, sizeof(ncf.netmask), p, n);
			break;
		case 5:
			if (n > 0)
				copy_field(ncf.iface, sizeof(ncf.iface), p, n);
			break;
		}
		if (q == NULL)
			break;
		p = q + 1;
		field++;
	}
}

static void
arg_one(const char *a)
{
	const char	*v;

	if ((v = strchr(a, '=')) == NULL)
		return;
	v++;
	if (strncmp(a, "bproc.master=", 13) == 0) {
		const char	*colon = strrchr(v, ':');
		size_t		 n = colon ? (size_t)(colon - v) : strlen(v);

		copy_field(ncf.master_addr, sizeof(ncf.master_addr), v, n);
		if (colon != NULL) {
			int port = atoi(colon + 1);

			if (port > 0 && port < 65536)
				ncf.master_port = port;
		}
	} else if (strncmp(a, "ip=", 3) == 0)
		arg_ip(v);
	else if (strncmp(a, "bproc.virtual=", 14) == 0)
		ncf.virt = atoi(v) != 0;
	else if (strncmp(a, "bproc.debug=", 12) == 0)
		ncf.debug = atoi(v) != 0;
	else if (strncmp(a, "bproc.key=", 10) == 0)
		copy_field(ncf.keyfile, sizeof(ncf.keyfile), v, strlen(v));
	else if (strncmp(a, "bproc.iface=", 12) == 0)
		copy_field(ncf.iface, sizeof(ncf.iface), v, strlen(v));
}

/*
 * The kernel hands dotted parameters to no one, so on a real machine we
 * read /proc/cmdline; a virtual node gets the same words as arguments.
 * The kernel gives init only the bare words of its command line (the
 * image name iPXE's EFI build puts first, for one), never a word with
 * '=': arguments count only when one of them has it.
 */
void
boot_args(int argc, char **argv)
{
	char	buf[4096], *p, *save;
	ssize_t	n;
	int	fd, i, given = 0;

	for (i = 1; i < argc; i++)
		if (strchr(argv[i], '=') != NULL)
			given = 1;
	if (given) {
		for (i = 1; i < argc; i++)
			arg_one(argv[i]);
		return;
	}
	mkdir("/proc", 0555);
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
	    NULL) == -1 && errno != EBUSY)
		log_warn("mount /proc");
	if ((fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC)) == -1) {
		log_warn("/proc/cmdline");
		return;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	for (p = strtok_r(buf, " \t\n", &save); p != NULL;
	    p = strtok_r(NULL, " \t\n", &save))
		arg_one(p);
}

static void
mount_one(const char *src, const char *dst, const char *type,
    unsigned long flags, const char *data)
{
	mkdir(dst, 0755);
	if (mount(src, dst, type, flags, data) == -1 && errno != EBUSY)
		log_warn("mount %s on %s", type, dst);
}

static void
dev_node(const char *path, mode_t mode, unsigned int maj, unsigned int min)
{
	if (mknod(path, S_IFCHR | mode, makedev(maj, min)) == -1 &&
	    errno != EEXIST)
		log_warn("mknod %s", path);
	chmod(path, mode);
}

/*
 * A virtual node gets a private /dev with only the harmless devices:
 * the front end's devtmpfs would show it every disk of the host.
 */
static void
dev_virtual(void)
{
	mount_one("dev", "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC,
	    "mode=0755,size=1m");
	dev_node("/dev/null", 0666, 1, 3);
	dev_node("/dev/zero", 0666, 1, 5);
	dev_node("/dev/full", 0666, 1, 7);
	dev_node("/dev/random", 0666, 1, 8);
	dev_node("/dev/urandom", 0666, 1, 9);
	dev_node("/dev/tty", 0666, 5, 0);
	symlink("/proc/self/fd", "/dev/fd");
	symlink("/proc/self/fd/0", "/dev/stdin");
	symlink("/proc/self/fd/1", "/dev/stdout");
	symlink("/proc/self/fd/2", "/dev/stderr");
}

void
boot_mounts(void)
{
	umask(022);
	mount_one("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
	    NULL);
	mount_one("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
	    NULL);
	if (ncf.virt)
		dev_virtual();
	else
		mount_one("devtmpfs", "/dev", "devtmpfs", MS_NOSUID,
		    "mode=0755");
	/*
	 * The node's own pty instance, for bpsh -T (nodeinit/proc_io.c): a
	 * virtual node must not share the front end's /dev/pts, and a user's
	 * slave is made 0620 and theirs when it is handed out.
	 */
	mount_one("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
	    "newinstance,ptmxmode=0666,mode=0620");
	unlink("/dev/ptmx");
	symlink("pts/ptmx", "/dev/ptmx");
	mount_one("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV,
	    "mode=1777");
	mount_one("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
	mount_one("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
	/* the key stays root-only even inside the image */
	chmod(ncf.keyfile, 0400);
	chmod("/etc/bproc", 0700);
	log_info("filesystems mounted%s", ncf.virt ? " (virtual node)" : "");
	/* a virtual node shares the front end's kernel: nothing to load */
	if (!ncf.virt)
		modules_load();
}

/*
 * udhcpc runs this on its events; it only hands the lease back on stdout,
 * so that nodeinit alone configures the NIC (over netlink, as with ip=).
 */
static const char dhcp_script[] =
    "#!/bin/sh\n"
    "# nodeinit's udhcpc script: print the lease, configure nothing\n"
    "case $1 in bound|renew)\n"
    "\techo \"" DHCP_LEASE_TAG " $ip ${subnet:-255.255.255.0} "
    "${router%% *}\" ;;\n"
    "esac\n";

static int
dhcp_write_script(void)
{
	int	fd;

	if ((fd = open(DHCP_SCRIPT, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0700)) == -1)
		return -1;
	if (write(fd, dhcp_script, sizeof(dhcp_script) - 1) !=
	    (ssize_t)(sizeof(dhcp_script) - 1)) {
		close(fd);
		return -1;
	}
	return close(fd);
}

/* "<tag> IP MASK [GW]": each word must be a dotted IPv4 address. */
static int
dhcp_parse(char *line)
{
	char		*w[4], *save, *p;
	struct in_addr	 a;
	int		 n = 0, i;

	for (p = strtok_r(line, " \t\r", &save); p != NULL && n < 4;
	    p = strtok_r(NULL, " \t\r", &save))
		w[n++] = p;
	if (n < 3 || strcmp(w[0], DHCP_LEASE_TAG) != 0)
		return -1;
	for (i = 1; i < n; i++)
		if (inet_pton(AF_INET, w[i], &a) != 1)
			return -1;
	if (nl_mask_len(w[2]) == -1)
		return -1;
	copy_field(ncf.ip, sizeof(ncf.ip), w[1], strlen(w[1]));
	copy_field(ncf.netmask, sizeof(ncf.netmask), w[2], strlen(w[2]));
	ncf.gw[0] = '\0';
	if (n == 4)
		copy_field(ncf.gw, sizeof(ncf.gw), w[3], strlen(w[3]));
	return 0;
}

/*
 * No ip= on the command line (a boot loader that passes no lease): run
 * busybox udhcpc once on the cluster NIC and take the lease it prints.
 * udhcpc quits once it has a lease (-q), so nothing renews it: the
 * cluster's DHCP server hands nodes fixed addresses.  Returns 0 with
 * ncf.ip, ncf.netmask and ncf.gw set, or -1.
 */
int
boot_dhcp(void)
{
	char		 buf[512], *nl;
	struct pollfd	 pfd;
	sigset_t	 none;
	size_t		 have = 0;
	ssize_t		 n;
	uint64_t	 deadline = now_ms() + DHCP_TIMEOUT_MS;
	pid_t		 pid;
	int		 p[2], status, found = 0;

	if (dhcp_write_script() == -1) {
		log_warn("%s", DHCP_SCRIPT);
		return -1;
	}
	if (pipe2(p, O_CLOEXEC) == -1) {
		log_warn("pipe");
		return -1;
	}
	log_info("no ip= on the command line: DHCP on %s (udhcpc)", ncf.iface);
	if ((pid = fork()) == -1) {
		log_warn("fork");
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		setsid();
		dup2(p[1], STDOUT_FILENO);
		execl(DHCP_BUSYBOX, "udhcpc", "-f", "-q", "-n", "-i", ncf.iface,
		    "-t", DHCP_TRIES, "-T", DHCP_PAUSE, "-s", DHCP_SCRIPT,
		    (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	/* udhcpc gives up by itself; the deadline only guards against a hang */
	pfd.fd = p[0];
	pfd.events = POLLIN;
	while (!found && now_ms() < deadline) {
		if (poll(&pfd, 1, (int)(deadline - now_ms())) <= 0)
			continue;
		n = read(p[0], buf + have, sizeof(buf) - 1 - have);
		if (n <= 0)
			break;
		have += (size_t)n;
		buf[have] = '\0';
		while (!found && (nl = strchr(buf, '\n')) != NULL) {
			*nl = '\0';
			found = dhcp_parse(buf) == 0;
			have -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, have + 1);
		}
		if (have == sizeof(buf) - 1)
			have = 0;	/* a line this long is not ours */
	}
	close(p[0]);
	if (!found)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	unlink(DHCP_SCRIPT);
	if (!found) {
		log_warnx("udhcpc on %s: no lease", ncf.iface);
		return -1;
	}
	log_info("udhcpc lease: %s/%s gateway %s", ncf.ip, ncf.netmask,
	    ncf.gw[0] ? ncf.gw : "none");
	return 0;
}

/* End every process, then the node; never returns. */
void
node_poweroff(int how)
{
	int	cmd, i;

	log_info("%s", how == POWER_REBOOT ? "rebooting" :
	    how == POWER_HALT ? "halting" : "powering off");
	kill(-1, SIGTERM);
	for (i = 0; i < 20; i++) {
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		if (kill(-1, 0) == -1)
			break;
		usleep(50000);
	}
	kill(-1, SIGKILL);
	sync();
	cmd = how == POWER_REBOOT ? RB_AUTOBOOT :
	    how == POWER_HALT ? RB_HALT_SYSTEM : RB_POWER_OFF;
	for (;;) {
		reboot(cmd);
		/* should not get here; try the hardest thing left */
		log_warn("reboot");
		sleep(1);
		reboot(RB_AUTOBOOT);
	}
}
