/*
 * dnsmasq's hosts file, written from the node table.  dnsmasq answers the
 * nodes' DHCP and TFTP; bpmaster owns which MAC is which node.  At start
 * and whenever discovery gives a MAC a number, the master rewrites the
 * file named by dhcp_hosts (one "MAC,address,n<N>" line per known node)
 * and sends SIGHUP to the dnsmasq in dnsmasq_pidfile, which re-reads it:
 * the node's next boot gets its fixed address.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bpmaster.h"
#include "log.h"

#define DNSMASQ_COMM	"dnsmasq"	/* what /proc/PID/comm must say */

static const struct boot_host *
dnsmasq_boot_host(int num)
{
	size_t	i;

	for (i = 0; i < conf.nboot_hosts; i++)
		if (conf.boot_hosts[i].node == num)
			return &conf.boot_hosts[i];
	return NULL;
}

/*
 * Node n's line, newline included, into buf.  Returns its length, 0 when
 * the node has no MAC yet, -1 when it does not fit.  A node with no
 * address (no boot_addr) gets a line without one: dnsmasq then names it
 * but leases from the dynamic range.
 */
int
dnsmasq_host_line(const struct node *n, char *buf, size_t len)
{
	const struct boot_host	*bh = dnsmasq_boot_host(n->num);
	struct in_addr		 a;
	char			 macs[32], addr[INET_ADDRSTRLEN + 1] = "";
	uint32_t		 ip = 0;
	int			 r;

	if (!n->has_mac)
		return 0;
	if (bh != NULL && bh->addr != 0)
		ip = bh->addr;
	else if (conf.boot_base != 0) {
		/* base + N must stay a unicast address below 255.255.255.255 */
		if ((uint64_t)conf.boot_base + (uint64_t)n->num < 0xffffffffu)
			ip = conf.boot_base + (uint32_t)n->num;
		else
			log_warnx("node %d: boot_addr base + %d is past "
			    "255.255.255.254; no fixed address", n->num, n->num);
	}
	if (ip != 0) {
		a.s_addr = htonl(ip);
		addr[0] = ',';
		inet_ntop(AF_INET, &a, addr + 1, sizeof(addr) - 1);
	}
	mac_format(n->mac, macs, sizeof(macs));
	r = snprintf(buf, len, "%s%s,n%d%s\n", macs, addr, n->num,
	    bh != NULL && bh->pxelinux ? ",set:pxelinux" : "");
	if (r < 0 || (size_t)r >= len)
		return -1;
	return r;
}

/*
 * Write the file next to its final name and rename it over: dnsmasq may
 * re-read it at any moment (its own SIGHUP, a restart) and must never
 * see half of it.  No fsync: the master rewrites it at every start.
 */
static int
dnsmasq_write(void)
{
	char	 tmp[sizeof(conf.dhcp_hosts) + 8], line[128];
	FILE	*f;
	int	 fd, i, len, count = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", conf.dhcp_hosts);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644)) == -1) {
		log_warn("dhcp_hosts %s", tmp);
		return -1;
	}
	/* dnsmasq reads it after dropping root: world-readable, whatever umask */
	fchmod(fd, 0644);
	if ((f = fdopen(fd, "w")) == NULL) {
		log_warn("dhcp_hosts %s", tmp);
		close(fd);
		unlink(tmp);
		return -1;
	}
	fprintf(f, "# written by bpmaster from its node table: do not edit\n");
	for (i = 0; i < numnodes; i++) {
		if ((len = dnsmasq_host_line(&nodes[i], line, sizeof(line))) <= 0)
			continue;
		fputs(line, f);
		count++;
	}
	if (fclose(f) == EOF) {
		log_warn("dhcp_hosts %s", tmp);
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, conf.dhcp_hosts) == -1) {
		log_warn("rename %s", conf.dhcp_hosts);
		unlink(tmp);
		return -1;
	}
	log_info("dhcp_hosts %s: %d nodes", conf.dhcp_hosts, count);
	return 0;
}

/*
 * SIGHUP the dnsmasq whose PID its pidfile names, but only if that PID is
 * a dnsmasq: pidfiles outlive their process and PIDs are reused.
 */
static void
dnsmasq_reload(void)
{
	char	 buf[32], path[64], comm[32], *end;
	ssize_t	 n;
	long	 pid;
	int	 fd;

	if (conf.dnsmasq_pidfile[0] == '\0')
		return;
	if ((fd = open(conf.dnsmasq_pidfile, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			log_debug("dnsmasq is not running (no %s): it reads "
			    "the hosts file when it starts", conf.dnsmasq_pidfile);
		else
			log_warn("dnsmasq_pidfile %s", conf.dnsmasq_pidfile);
		return;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0) {
		log_warnx("dnsmasq_pidfile %s: empty", conf.dnsmasq_pidfile);
		return;
	}
	buf[n] = '\0';
	errno = 0;
	pid = strtol(buf, &end, 10);
	if (errno != 0 || end == buf || (*end != '\n' && *end != '\0') ||
	    pid <= 1) {
		log_warnx("dnsmasq_pidfile %s: no PID in it",
		    conf.dnsmasq_pidfile);
		return;
	}
	snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		log_warnx("dnsmasq (pid %ld from %s) is not running", pid,
		    conf.dnsmasq_pidfile);
		return;
	}
	n = read(fd, comm, sizeof(comm) - 1);
	close(fd);
	if (n <= 0 || (size_t)n != strlen(DNSMASQ_COMM) + 1 ||
	    memcmp(comm, DNSMASQ_COMM "\n", (size_t)n) != 0) {
		log_warnx("pid %ld from %s is not dnsmasq: not signalled", pid,
		    conf.dnsmasq_pidfile);
		return;
	}
	if (kill((pid_t)pid, SIGHUP) == -1) {
		log_warn("SIGHUP dnsmasq %ld", pid);
		return;
	}
	log_info("dnsmasq %ld: SIGHUP (re-read the hosts file)", pid);
}

void
dnsmasq_update(void)
{
	if (conf.dhcp_hosts[0] == '\0')
		return;
	if (dnsmasq_write() == 0)
		dnsmasq_reload();
}
