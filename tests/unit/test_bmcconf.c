/*
 * Unit tests for the out-of-band power block of master/daemon/config.c:
 * "bmc N HOST[:PORT] USER", bmc_passfile (global and per node), the
 * tunables and their bounds, and that a bmc line without any password
 * file is refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "bpmaster.h"
#include "log.h"

/* (conf is config.c's) */
static char			tmpdir[] = "/tmp/test_bmcconf.XXXXXX";
static char			confpath[64];

static int
load(const char *lines)
{
	FILE	*f = fopen(confpath, "w");

	assert_non_null(f);
	fputs(lines, f);
	assert_int_equal(fclose(f), 0);
	free(conf.bmcs);
	free(conf.macs);
	free(conf.boot_hosts);
	return conf_load(confpath, &conf);
}

static void
test_defaults(void **state)
{
	(void)state;
	assert_int_equal(load("nodes 2\n"), 0);
	assert_int_equal(conf.nbmcs, 0);
	assert_int_equal(conf.bmc_cipher, -1);
	assert_int_equal(conf.bmc_timeout_s, BMC_TIMEOUT_S);
	assert_int_equal(conf.bmc_poll_s, BMC_POLL_S);
	assert_int_equal(conf.bmc_hung_s, 0);
	assert_string_equal(conf.bmc_ipmitool, "ipmitool");
}

static void
test_directives(void **state)
{
	(void)state;
	assert_int_equal(load("nodes 2\n"
	    "bmc 0 10.12.0.10 admin\n"
	    "bmc 5 bmc-n5.mgmt:6230 ipmiadmin\n"
	    "bmc_passfile /etc/bproc/bmc.pass\n"
	    "bmc_passfile 5 /etc/bproc/bmc-n5.pass\n"
	    "bmc_cipher 3\nbmc_timeout 5\nbmc_poll 0\nbmc_hung 300\n"
	    "bmc_ipmitool /usr/local/bin/ipmitool\n"), 0);
	assert_int_equal(conf.nbmcs, 2);
	assert_int_equal(conf.nodes, 6);	/* bmc 5 extends the table */
	assert_int_equal(conf.bmcs[0].node, 0);
	assert_string_equal(conf.bmcs[0].host, "10.12.0.10");
	assert_string_equal(conf.bmcs[0].port, "");
	assert_string_equal(conf.bmcs[0].user, "admin");
	assert_string_equal(conf.bmcs[0].passfile, "");
	assert_int_equal(conf.bmcs[1].node, 5);
	assert_string_equal(conf.bmcs[1].host, "bmc-n5.mgmt");
	assert_string_equal(conf.bmcs[1].port, "6230");
	assert_string_equal(conf.bmcs[1].passfile, "/etc/bproc/bmc-n5.pass");
	assert_string_equal(conf.bmc_passfile, "/etc/bproc/bmc.pass");
	assert_int_equal(conf.bmc_cipher, 3);
	assert_int_equal(conf.bmc_timeout_s, 5);
	assert_int_equal(conf.bmc_poll_s, 0);
	assert_int_equal(conf.bmc_hung_s, 300);
	assert_string_equal(conf.bmc_ipmitool, "/usr/local/bin/ipmitool");
	/* a node's own password file is enough */
	assert_int_equal(load("bmc 1 h u\nbmc_passfile 1 /p\n"), 0);
}

static void
test_bad(void **state)
{
	static const char *const bad[] = {
		"bmc 0 10.12.0.10 admin\n",		/* no password file */
		"bmc 0 10.12.0.10\nbmc_passfile /p\n",	/* no user */
		"bmc x h u\nbmc_passfile /p\n",
		"bmc 0 h:0 u\nbmc_passfile /p\n",
		"bmc 0 h:99999 u\nbmc_passfile /p\n",
		"bmc 0 h:x u\nbmc_passfile /p\n",
		"bmc 0 :623 u\nbmc_passfile /p\n",
		"bmc 0 -oProxyCommand u\nbmc_passfile /p\n",
		"bmc 0 h -u\nbmc_passfile /p\n",
		"bmc_passfile relative/path\n",
		"bmc_passfile 0 relative\n",
		"bmc_cipher 18\n",
		"bmc_timeout 0\n",
		"bmc_timeout 10\n",		/* the control socket's idle time */
		"bmc_poll -1\n",
		"bmc_hung forever\n",
	};
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (load(bad[i]) != -1)
			fail_msg("accepted: %s", bad[i]);
	}
}

static int
setup(void **state)
{
	(void)state;
	log_init("test_bmcconf", 1, 0);
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(confpath, sizeof(confpath), "%s/bpmaster.conf", tmpdir);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	unlink(confpath);
	rmdir(tmpdir);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest	tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_directives),
		cmocka_unit_test(test_bad),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
