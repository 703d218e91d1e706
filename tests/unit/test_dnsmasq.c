/*
 * Unit tests for master/dnsmasq.c and the network boot block of
 * master/config.c: each directive and its bad values, the hosts line of
 * every kind of node (base address, per-node address, pxelinux tag, no
 * address, an address past the end of IPv4), and the file write, whose
 * SIGHUP must only ever reach a process that is dnsmasq.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "bpmaster.h"
#include "log.h"

/* what node.c defines, for dnsmasq.c (conf is config.c's) */
struct node		*nodes;
int			 numnodes;

static char	tmpdir[] = "/tmp/test_dnsmasq.XXXXXX";
static char	confpath[64], hostspath[64], pidpath[64];

static void
write_file(const char *path, const char *text)
{
	FILE	*f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* conf_load of the given lines, after the directives every conf needs. */
static int
load(const char *lines)
{
	write_file(confpath, lines);
	free(conf.boot_hosts);
	free(conf.macs);
	return conf_load(confpath, &conf);
}

static char *
read_all(const char *path)
{
	static char	 buf[4096];
	FILE		*f = fopen(path, "r");
	size_t		 n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void
test_directives(void **state)
{
	(void)state;
	assert_int_equal(load("dhcp_hosts /srv/bproc/dnsmasq.hosts\n"
	    "dnsmasq_pidfile /srv/bproc/dnsmasq.pid\n"
	    "boot_addr 10.11.0.16\n"
	    "boot_addr 3 10.11.9.9\n"
	    "boot_pxelinux 1\n"
	    "boot_pxelinux 3\n"), 0);
	assert_string_equal(conf.dhcp_hosts, "/srv/bproc/dnsmasq.hosts");
	assert_string_equal(conf.dnsmasq_pidfile, "/srv/bproc/dnsmasq.pid");
	assert_int_equal(conf.boot_base, 0x0a0b0010);
	/* node 3's address and tag share one entry */
	assert_int_equal(conf.nboot_hosts, 2);
	assert_int_equal(conf.boot_hosts[0].node, 3);
	assert_int_equal(conf.boot_hosts[0].addr, 0x0a0b0909);
	assert_int_equal(conf.boot_hosts[0].pxelinux, 1);
	assert_int_equal(conf.boot_hosts[1].node, 1);
	assert_int_equal(conf.boot_hosts[1].addr, 0);
	assert_int_equal(conf.boot_hosts[1].pxelinux, 1);
}

static void
test_bad_directives(void **state)
{
	static const char *const bad[] = {
		"dhcp_hosts\n",
		"dhcp_hosts a b\n",
		"dnsmasq_pidfile\n",
		"boot_addr\n",
		"boot_addr 10.11.0\n",
		"boot_addr 300.1.1.1\n",
		"boot_addr 0.0.0.0\n",
		"boot_addr 10.11.0.16 extra\n",
		"boot_addr x 10.11.0.16\n",
		"boot_addr 4096 10.11.0.16\n",
		"boot_addr -1 10.11.0.16\n",
		"boot_pxelinux\n",
		"boot_pxelinux one\n",
		"boot_pxelinux 4096\n",
		"boot_pxelinux 1 2\n",
	};
	char	long_path[400];
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (load(bad[i]) != -1)
			fail_msg("accepted: %s", bad[i]);
	memset(long_path, 'a', sizeof(long_path));
	memcpy(long_path, "dhcp_hosts /", 12);
	long_path[sizeof(long_path) - 2] = '\n';
	long_path[sizeof(long_path) - 1] = '\0';
	assert_int_equal(load(long_path), -1);
}

/* A table of 8 nodes: 0-3 and 7 have MACs 02:00:00:00:00:0N. */
static void
table(void)
{
	int	i;

	free(nodes);
	numnodes = 8;
	nodes = calloc((size_t)numnodes, sizeof(*nodes));
	assert_non_null(nodes);
	for (i = 0; i < numnodes; i++) {
		nodes[i].num = i;
		if (i <= 3 || i == 7) {
			memset(nodes[i].mac, 0, 6);
			nodes[i].mac[0] = 2;
			nodes[i].mac[5] = (unsigned char)i;
			nodes[i].has_mac = 1;
		}
	}
}

static void
expect_line(int node, const char *want)
{
	char	buf[128];
	int	n = dnsmasq_host_line(&nodes[node], buf, sizeof(buf));

	assert_int_equal(n, (int)strlen(want));
	assert_string_equal(buf, want);
}

static void
test_host_lines(void **state)
{
	char	small[20];

	(void)state;
	table();
	assert_int_equal(load("boot_addr 10.11.0.16\nboot_addr 3 10.11.9.9\n"
	    "boot_pxelinux 1\nboot_pxelinux 4\n"), 0);
	expect_line(0, "02:00:00:00:00:00,10.11.0.16,n0\n");
	expect_line(1, "02:00:00:00:00:01,10.11.0.17,n1,set:pxelinux\n");
	expect_line(2, "02:00:00:00:00:02,10.11.0.18,n2\n");
	expect_line(3, "02:00:00:00:00:03,10.11.9.9,n3\n");
	/* no MAC yet: no line, pxelinux or not */
	assert_int_equal(dnsmasq_host_line(&nodes[4], small, sizeof(small)), 0);
	assert_int_equal(dnsmasq_host_line(&nodes[5], small, sizeof(small)), 0);
	/* too small a buffer is an error, never a cut line */
	assert_int_equal(dnsmasq_host_line(&nodes[0], small, sizeof(small)), -1);

	/* base + N past 255.255.255.254: named, but no fixed address */
	assert_int_equal(load("boot_addr 255.255.255.250\n"), 0);
	expect_line(3, "02:00:00:00:00:03,255.255.255.253,n3\n");
	expect_line(7, "02:00:00:00:00:07,n7\n");

	/* no boot_addr at all: dnsmasq names the node, the range leases */
	assert_int_equal(load("boot_pxelinux 2\n"), 0);
	expect_line(0, "02:00:00:00:00:00,n0\n");
	expect_line(2, "02:00:00:00:00:02,n2,set:pxelinux\n");
}

static void
test_write(void **state)
{
	char	text[512], *got;

	(void)state;
	table();
	snprintf(text, sizeof(text), "dhcp_hosts %s\nboot_addr 10.11.0.16\n"
	    "dnsmasq_pidfile %s\n", hostspath, pidpath);
	assert_int_equal(load(text), 0);
	write_file(hostspath, "stale\n");

	/*
	 * The pidfile names this test, which is not dnsmasq: a SIGHUP would
	 * end it (default action), so surviving is the check.
	 */
	snprintf(text, sizeof(text), "%ld\n", (long)getpid());
	write_file(pidpath, text);
	dnsmasq_update();
	got = read_all(hostspath);
	assert_string_equal(got,
	    "# written by bpmaster from its node table: do not edit\n"
	    "02:00:00:00:00:00,10.11.0.16,n0\n"
	    "02:00:00:00:00:01,10.11.0.17,n1\n"
	    "02:00:00:00:00:02,10.11.0.18,n2\n"
	    "02:00:00:00:00:03,10.11.0.19,n3\n"
	    "02:00:00:00:00:07,10.11.0.23,n7\n");
	snprintf(text, sizeof(text), "%s.tmp", hostspath);
	assert_int_equal(access(text, F_OK), -1);

	/* a discovery later: the file follows the table */
	nodes[5].mac[0] = 2;
	nodes[5].mac[5] = 5;
	nodes[5].has_mac = 1;
	write_file(pidpath, "garbage\n");
	dnsmasq_update();
	assert_non_null(strstr(read_all(hostspath),
	    "02:00:00:00:00:05,10.11.0.21,n5\n"));
	write_file(pidpath, "1\n");	/* PID 1 is never signalled */
	dnsmasq_update();
	unlink(pidpath);		/* dnsmasq not started yet: fine */
	dnsmasq_update();

	/* a process that is dnsmasq (by its comm) does get the SIGHUP */
	{
		sigset_t	hup;
		pid_t		pid;
		int		sig, status;

		sigemptyset(&hup);
		sigaddset(&hup, SIGHUP);
		sigprocmask(SIG_BLOCK, &hup, NULL);
		pid = fork();
		assert_true(pid != -1);
		if (pid == 0) {
			alarm(10);	/* never hang the suite */
			prctl(PR_SET_NAME, "dnsmasq");
			/* ready: the parent waits for our comm to change */
			_exit(sigwait(&hup, &sig) == 0 && sig == SIGHUP ? 0 : 1);
		}
		sigprocmask(SIG_UNBLOCK, &hup, NULL);
		snprintf(text, sizeof(text), "/proc/%ld/comm", (long)pid);
		while (strcmp(read_all(text), "dnsmasq\n") != 0)
			usleep(1000);
		snprintf(text, sizeof(text), "%ld\n", (long)pid);
		write_file(pidpath, text);
		dnsmasq_update();
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
		unlink(pidpath);
	}

	/* no dhcp_hosts: nothing is written */
	unlink(hostspath);
	assert_int_equal(load("boot_addr 10.11.0.16\n"), 0);
	dnsmasq_update();
	assert_int_equal(access(hostspath, F_OK), -1);
}

static int
setup(void **state)
{
	(void)state;
	log_init("test_dnsmasq", 1, 0);
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(confpath, sizeof(confpath), "%s/bpmaster.conf", tmpdir);
	snprintf(hostspath, sizeof(hostspath), "%s/dnsmasq.hosts", tmpdir);
	snprintf(pidpath, sizeof(pidpath), "%s/dnsmasq.pid", tmpdir);
	return 0;
}

static int
teardown(void **state)
{
	char	tmp[80];

	(void)state;
	unlink(confpath);
	unlink(hostspath);
	unlink(pidpath);
	snprintf(tmp, sizeof(tmp), "%s.tmp", hostspath);
	unlink(tmp);
	rmdir(tmpdir);
	free(nodes);
	free(conf.boot_hosts);
	free(conf.macs);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_directives),
		cmocka_unit_test(test_bad_directives),
		cmocka_unit_test(test_host_lines),
		cmocka_unit_test(test_write),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
