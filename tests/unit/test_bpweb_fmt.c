/*
 * Unit tests for bpweb's renderings (master/web/web_metrics.c,
 * web_json.c, web_buf.c) from a snapshot made here: which samples a down
 * node has, label and JSON escaping, the per-user counts.  t80 checks the
 * whole with promtool, Prometheus and a browser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bpweb.h"

static struct bproc_node_info	nodes[2];
static int			rprocs[2] = { 2, 0 };
static struct bproc_proc_info	procs[2];
static struct web_user		users[1];
static char			owner[2][64] = { "root", "root" };
static char			group[2][64] = { "root", "root" };

static struct web_snap *
snap(void)
{
	static struct web_snap	s;

	memset(&s, 0, sizeof(s));
	memset(nodes, 0, sizeof(nodes));
	nodes[0].node = 0;
	nodes[0].state = BPROC_STATE_UP;
	nodes[0].load[0] = 125;
	nodes[0].cpus = 4;
	nodes[0].mem_total = 1ULL << 30;
	nodes[0].mem_free = 1ULL << 29;
	nodes[0].rtt_us = 250;
	nodes[0].status_age_ms = 400;
	nodes[0].last_seen_ms = 100;
	nodes[0].push_bytes = 12345;
	nodes[1].node = 1;
	nodes[1].state = BPROC_STATE_DOWN;
	nodes[1].load[0] = 300;		/* its last report: not shown */
	nodes[1].rtt_us = 0;
	nodes[1].status_age_ms = UINT64_MAX;
	nodes[1].last_seen_ms = UINT64_MAX;
	procs[0].pid = 4101;
	procs[0].rpid = 4101;
	procs[0].uid = 1000;
	snprintf(procs[0].cmd, sizeof(procs[0].cmd), "echo \"hi\"\tthere");
	procs[1] = procs[0];
	procs[1].pid = 4102;
	users[0].uid = 1000;
	snprintf(users[0].name, sizeof(users[0].name), "al\"ice");
	users[0].nprocs = 2;
	s.gen = 7;
	s.master_up = 1;
	s.mi.pid = 42;
	s.mi.cpu_user_us = 1500000;
	s.mi.rss_bytes = 4096;
	s.nodes = nodes;
	s.nnodes = 2;
	s.rprocs = rprocs;
	s.procs = procs;
	s.nprocs = 2;
	s.users = users;
	s.nusers = 1;
	s.owner = owner;
	s.group = group;
	return &s;
}

static void
has(const struct buf *b, const char *line)
{
	if (strstr(b->p, line) == NULL)
		fail_msg("missing: %s", line);
}

static void
lacks(const struct buf *b, const char *text)
{
	if (strstr(b->p, text) != NULL)
		fail_msg("should not be there: %s", text);
}

static void
test_metrics(void **state)
{
	struct buf	b = { 0 };

	(void)state;
	metrics_render(&b, snap());
	assert_false(b.oom);
	has(&b, "# TYPE bproc_master_up gauge\nbproc_master_up 1\n");
	has(&b, "bproc_master_cpu_seconds_total{mode=\"user\"} 1.500000\n");
	has(&b, "bproc_nodes{state=\"up\"} 1\n");
	has(&b, "bproc_nodes{state=\"down\"} 1\n");
	has(&b, "bproc_node_state{node=\"1\",state=\"down\"} 1\n");
	has(&b, "bproc_node_state{node=\"1\",state=\"up\"} 0\n");
	has(&b, "bproc_node_load1{node=\"0\"} 1.25\n");
	has(&b, "bproc_node_link_rtt_seconds{node=\"0\"} 0.00025\n");
	has(&b, "bproc_node_heartbeat_age_seconds{node=\"0\"} 0.4\n");
	has(&b, "# TYPE bproc_node_push_bytes_total counter\n");
	has(&b, "bproc_node_push_bytes_total{node=\"0\"} 12345\n");
	has(&b, "bproc_node_remote_processes{node=\"0\"} 2\n");
	has(&b, "bproc_node_remote_processes{node=\"1\"} 0\n");
	/* a down node: no load, rtt, heartbeat or last-seen it never had */
	lacks(&b, "bproc_node_load1{node=\"1\"}");
	lacks(&b, "bproc_node_link_rtt_seconds{node=\"1\"}");
	lacks(&b, "bproc_node_heartbeat_age_seconds{node=\"1\"}");
	lacks(&b, "bproc_node_last_seen_seconds{node=\"1\"}");
	has(&b, "bproc_user_remote_processes{user=\"al\\\"ice\",uid=\"1000\"} 2\n");
	buf_free(&b);
}

static void
test_master_down(void **state)
{
	struct web_snap	*s = snap();
	struct buf	 b = { 0 };

	(void)state;
	s->master_up = 0;
	metrics_render(&b, s);
	has(&b, "bproc_master_up 0\n");
	lacks(&b, "bproc_nodes{");
	lacks(&b, "bproc_master_cpu_seconds_total");
	buf_free(&b);
	snprintf(s->master_err, sizeof(s->master_err), "cannot reach bpmaster");
	json_status(&b, s);
	has(&b, "\"master\": {\"up\": false, \"error\": \"cannot reach bpmaster\"}");
	buf_free(&b);
}

static void
test_json(void **state)
{
	struct web_snap	*s = snap();
	struct buf	 b = { 0 };

	(void)state;
	json_status(&b, s);
	has(&b, "{\"gen\": 7, ");
	has(&b, "\"counts\": {\"down\": 1, \"boot\": 0, \"up\": 1,");
	has(&b, "\"users\": [{\"uid\": 1000, \"user\": \"al\\\"ice\", \"procs\": 2}]");
	has(&b, "\"load\": [1.25, 0.00, 0.00], \"cpus\": 4");
	has(&b, "\"rtt\": 0.000250, \"rprocs\": 2");
	/* down: null where its last report would be */
	has(&b, "{\"node\": 1, \"state\": \"down\", \"stage\": \"none\", \"addr\": null, "
	    "\"mac\": null");
	has(&b, "\"last_seen\": null, \"status_age\": null, \"load\": null");
	buf_free(&b);
	assert_int_equal(json_node(&b, s, 2), -1);
	buf_free(&b);
	assert_int_equal(json_node(&b, s, 0), 0);
	has(&b, "{\"pid\": 4101, \"rpid\": 4101, \"uid\": 1000, \"user\": \"al\\\"ice\", "
	    "\"cmd\": \"echo \\\"hi\\\"\\tthere\"}");
	buf_free(&b);
}

static void
test_json_str(void **state)
{
	struct buf	b = { 0 };

	(void)state;
	buf_json_str(&b, "a\\b\x01\x7f\n");
	assert_string_equal(b.p, "\"a\\\\b\\u0001\\u007f\\n\"");
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_metrics),
		cmocka_unit_test(test_master_down),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_json_str),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
