/*
 * A snapshot in Prometheus's text exposition format (version 0.0.4), for
 * /metrics.  Every family has its HELP and TYPE lines, base units (bytes,
 * seconds) and counters end in _total, as `promtool check metrics` wants.
 * A node that is down has no load, memory or link samples: what it last
 * reported is not its present, and an absent sample says so to PromQL.
 */
#include <stdio.h>
#include <string.h>

#include "bpweb.h"

/* A per-node value: 1 and *v when the node has one. */
typedef int	node_value_fn(const struct web_snap *, int, double *);

static void
family(struct buf *b, const char *name, const char *type, const char *help)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value, escaped as the format asks (\\, \", \n). */
static void
label_value(struct buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			buf_printf(b, "\\%c", *s);
		else if (*s == '\n')
			buf_puts(b, "\\n");
		else
			buf_add(b, s, 1);
	}
}

static int
up_node(const struct web_snap *s, int i)
{
	return s->nodes[i].state != BPROC_STATE_DOWN;
}

#define NODE_VALUE(fname, cond, expr)					\
static int								\
fname(const struct web_snap *s, int i, double *v)			\
{									\
	const struct bproc_node_info *n = &s->nodes[i];			\
									\
	(void)n;							\
	if (!(cond))							\
		return 0;						\
	*v = (expr);							\
	return 1;							\
}

NODE_VALUE(v_load1, up_node(s, i), n->load[0] / 100.0)
NODE_VALUE(v_load5, up_node(s, i), n->load[1] / 100.0)
NODE_VALUE(v_load15, up_node(s, i), n->load[2] / 100.0)
NODE_VALUE(v_cpus, up_node(s, i), n->cpus)
NODE_VALUE(v_mem_total, up_node(s, i), (double)n->mem_total)
NODE_VALUE(v_mem_free, up_node(s, i), (double)n->mem_free)
NODE_VALUE(v_uptime, up_node(s, i), (double)n->uptime)
NODE_VALUE(v_nprocs, up_node(s, i), n->nprocs)
NODE_VALUE(v_rprocs, 1, s->rprocs[i])
NODE_VALUE(v_cache, 1, (double)n->cache_bytes)
NODE_VALUE(v_push, 1, (double)n->push_bytes)
NODE_VALUE(v_seen, n->last_seen_ms != UINT64_MAX, n->last_seen_ms / 1000.0)
NODE_VALUE(v_hb, up_node(s, i) && n->status_age_ms != UINT64_MAX,
    n->status_age_ms / 1000.0)
NODE_VALUE(v_rtt, up_node(s, i) && n->rtt_us != 0, n->rtt_us / 1e6)

static const struct node_family {
	const char	*name;
	const char	*type;
	const char	*help;
	node_value_fn	*value;
} node_families[] = {
	{ "bproc_node_load1", "gauge", "1-minute load average of the node.", v_load1 },
	{ "bproc_node_load5", "gauge", "5-minute load average of the node.", v_load5 },
	{ "bproc_node_load15", "gauge", "15-minute load average of the node.", v_load15 },
	{ "bproc_node_cpus", "gauge", "CPUs of the node.", v_cpus },
	{ "bproc_node_memory_total_bytes", "gauge", "Memory of the node.", v_mem_total },
	{ "bproc_node_memory_free_bytes", "gauge", "Free memory of the node.", v_mem_free },
	{ "bproc_node_uptime_seconds", "gauge", "Time since the node booted.", v_uptime },
	{ "bproc_node_processes", "gauge",
	  "Processes on the node, as the node counts them.", v_nprocs },
	{ "bproc_node_remote_processes", "gauge",
	  "Processes of the cluster's process space running on the node (each has a ghost on the front end).",
	  v_rprocs },
	{ "bproc_node_cache_bytes", "gauge", "Bytes in the node's RAM file cache.", v_cache },
	{ "bproc_node_push_bytes_total", "counter",
	  "Bytes pushed to the node since it came up.", v_push },
	{ "bproc_node_last_seen_seconds", "gauge",
	  "Age of the last frame the master had from the node.", v_seen },
	{ "bproc_node_heartbeat_age_seconds", "gauge",
	  "Age of the node's last status report (it sends one every heartbeat).", v_hb },
	{ "bproc_node_link_rtt_seconds", "gauge",
	  "Smoothed round-trip time of the node's link to the master (TCP's).", v_rtt },
};

static void
node_families_render(struct buf *b, const struct web_snap *s)
{
	size_t	f;
	double	v;
	int	i;

	for (f = 0; f < sizeof(node_families) / sizeof(node_families[0]); f++) {
		const struct node_family *nf = &node_families[f];

		family(b, nf->name, nf->type, nf->help);
		for (i = 0; i < s->nnodes; i++)
			if (nf->value(s, i, &v))
				buf_printf(b, "%s{node=\"%d\"} %.15g\n", nf->name,
				    s->nodes[i].node, v);
	}
}

static void
states_render(struct buf *b, const struct web_snap *s)
{
	int	counts[BPROC_STATE_PWROFF + 1] = { 0 }, i, st;

	for (i = 0; i < s->nnodes; i++)
		if (s->nodes[i].state >= 0 &&
		    s->nodes[i].state <= BPROC_STATE_PWROFF)
			counts[s->nodes[i].state]++;
	family(b, "bproc_nodes", "gauge", "Nodes in each state.");
	for (st = 0; st <= BPROC_STATE_PWROFF; st++)
		buf_printf(b, "bproc_nodes{state=\"%s\"} %d\n",
		    bproc_state_name(st), counts[st]);
	family(b, "bproc_node_state", "gauge",
	    "1 for the state the node is in, 0 for the others.");
	for (i = 0; i < s->nnodes; i++)
		for (st = 0; st <= BPROC_STATE_PWROFF; st++)
			buf_printf(b, "bproc_node_state{node=\"%d\",state=\"%s\"} "
			    "%d\n", s->nodes[i].node, bproc_state_name(st),
			    s->nodes[i].state == st);
}

static void
procs_render(struct buf *b, const struct web_snap *s)
{
	int	i;

	family(b, "bproc_remote_processes", "gauge",
	    "Processes of the cluster's process space, on every node.");
	buf_printf(b, "bproc_remote_processes %d\n", s->nprocs);
	family(b, "bproc_user_remote_processes", "gauge",
	    "Processes of the cluster's process space, per user.");
	for (i = 0; i < s->nusers; i++) {
		buf_puts(b, "bproc_user_remote_processes{user=\"");
		label_value(b, s->users[i].name);
		buf_printf(b, "\",uid=\"%u\"} %d\n", (unsigned)s->users[i].uid,
		    s->users[i].nprocs);
	}
}

static void
master_render(struct buf *b, const struct web_snap *s)
{
	const struct bproc_master_info	*mi = &s->mi;

	family(b, "bproc_master_up", "gauge",
	    "1 if bpweb could read bpmaster's node table, else 0.");
	buf_printf(b, "bproc_master_up %d\n", s->master_up);
	if (!s->master_up || mi->pid == 0)
		return;
	family(b, "bproc_master_cpu_seconds_total", "counter",
	    "CPU time bpmaster used, by mode.");
	buf_printf(b, "bproc_master_cpu_seconds_total{mode=\"user\"} %.6f\n",
	    mi->cpu_user_us / 1e6);
	buf_printf(b, "bproc_master_cpu_seconds_total{mode=\"system\"} %.6f\n",
	    mi->cpu_sys_us / 1e6);
	family(b, "bproc_master_resident_memory_bytes", "gauge",
	    "Resident memory of bpmaster.");
	buf_printf(b, "bproc_master_resident_memory_bytes %llu\n",
	    (unsigned long long)mi->rss_bytes);
	family(b, "bproc_master_uptime_seconds", "gauge",
	    "Time since bpmaster began to serve.");
	buf_printf(b, "bproc_master_uptime_seconds %llu\n",
	    (unsigned long long)mi->uptime);
	family(b, "bproc_master_node_slots", "gauge",
	    "Slots of bpmaster's node table.");
	buf_printf(b, "bproc_master_node_slots %u\n", mi->numnodes);
	family(b, "bproc_master_control_connections", "gauge",
	    "Open connections to bpmaster's control socket.");
	buf_printf(b, "bproc_master_control_connections %u\n", mi->conns);
	family(b, "bproc_master_heartbeat_seconds", "gauge",
	    "Heartbeat interval of the node links.");
	buf_printf(b, "bproc_master_heartbeat_seconds %.3f\n",
	    mi->heartbeat_ms / 1000.0);
	family(b, "bproc_master_timeout_seconds", "gauge",
	    "Silence after which a node is down.");
	buf_printf(b, "bproc_master_timeout_seconds %.3f\n",
	    mi->timeout_ms / 1000.0);
}

void
metrics_render(struct buf *b, const struct web_snap *s)
{
	master_render(b, s);
	family(b, "bproc_snapshot_timestamp_seconds", "gauge",
	    "When bpweb last asked bpmaster, Unix time.");
	buf_printf(b, "bproc_snapshot_timestamp_seconds %.3f\n", s->time);
	if (!s->master_up)
		return;
	states_render(b, s);
	node_families_render(b, s);
	procs_render(b, s);
}
