/*
 * A snapshot as JSON for the page and for scripts: /api/status is the
 * whole cluster (every node's tile, the counts, the master), /api/node/N
 * one node with its processes.  Keys of a node are bpstat --json's where
 * they mean the same; ages are seconds, sizes bytes.
 */
#include <stdio.h>
#include <string.h>

#include "bpweb.h"

static void
json_age(struct buf *b, const char *key, uint64_t ms)
{
	if (ms == UINT64_MAX)
		buf_printf(b, ", \"%s\": null", key);
	else
		buf_printf(b, ", \"%s\": %.3f", key, (double)ms / 1000.0);
}

static void
mode_str(unsigned int mode, char out[11])
{
	static const char	rwx[] = "rwxrwxrwx";
	int			i;

	out[0] = '-';
	for (i = 0; i < 9; i++)
		out[i + 1] = (mode & (0400u >> i)) ? rwx[i] : '-';
	out[10] = '\0';
}

/* One node's object: what its tile and its detail show. */
static void
json_node_obj(struct buf *b, const struct web_snap *s, int i)
{
	const struct bproc_node_info	*n = &s->nodes[i];
	char				 mode[11];
	int				 down = n->state == BPROC_STATE_DOWN;

	mode_str(n->mode, mode);
	buf_printf(b, "{\"node\": %d, \"state\": \"%s\", \"stage\": \"%s\"",
	    n->node, bproc_state_name(n->state), bproc_stage_name(n->stage));
	buf_puts(b, ", \"addr\": ");
	if (n->addr[0])
		buf_json_str(b, n->addr);
	else
		buf_puts(b, "null");
	if (n->has_mac)
		buf_printf(b, ", \"mac\": \"%02x:%02x:%02x:%02x:%02x:%02x\"",
		    n->mac[0], n->mac[1], n->mac[2], n->mac[3], n->mac[4],
		    n->mac[5]);
	else
		buf_puts(b, ", \"mac\": null");
	buf_puts(b, ", \"user\": ");
	buf_json_str(b, s->owner[i]);
	buf_puts(b, ", \"group\": ");
	buf_json_str(b, s->group[i]);
	buf_printf(b, ", \"mode_str\": \"%s\"", mode);
	json_age(b, "last_seen", n->last_seen_ms);
	json_age(b, "status_age", n->status_age_ms);
	/* what a down node last reported is not its present */
	if (down)
		buf_puts(b, ", \"load\": null, \"cpus\": null, \"mem_total\": null, "
		    "\"mem_free\": null, \"uptime\": null, \"nprocs\": null");
	else
		buf_printf(b, ", \"load\": [%.2f, %.2f, %.2f], \"cpus\": %u, "
		    "\"mem_total\": %llu, \"mem_free\": %llu, \"uptime\": %llu, "
		    "\"nprocs\": %u", n->load[0] / 100.0, n->load[1] / 100.0,
		    n->load[2] / 100.0, n->cpus,
		    (unsigned long long)n->mem_total,
		    (unsigned long long)n->mem_free,
		    (unsigned long long)n->uptime, n->nprocs);
	if (n->rtt_us && !down)
		buf_printf(b, ", \"rtt\": %.6f", n->rtt_us / 1e6);
	else
		buf_puts(b, ", \"rtt\": null");
	buf_printf(b, ", \"rprocs\": %d, \"cache_bytes\": %llu, "
	    "\"push_bytes\": %llu}", s->rprocs[i],
	    (unsigned long long)n->cache_bytes,
	    (unsigned long long)n->push_bytes);
}

static void
json_master(struct buf *b, const struct web_snap *s)
{
	const struct bproc_master_info	*mi = &s->mi;

	buf_printf(b, "\"master\": {\"up\": %s", s->master_up ? "true" : "false");
	buf_puts(b, ", \"error\": ");
	if (s->master_up)
		buf_puts(b, "null");
	else
		buf_json_str(b, s->master_err);
	if (s->master_up && mi->pid)
		buf_printf(b, ", \"pid\": %d, \"uptime\": %llu, \"cpu\": %.3f, "
		    "\"rss\": %llu, \"conns\": %u, \"heartbeat_ms\": %u, "
		    "\"timeout_ms\": %u", (int)mi->pid,
		    (unsigned long long)mi->uptime,
		    (double)(mi->cpu_user_us + mi->cpu_sys_us) / 1e6,
		    (unsigned long long)mi->rss_bytes, mi->conns,
		    mi->heartbeat_ms, mi->timeout_ms);
	buf_puts(b, "}");
}

void
json_status(struct buf *b, const struct web_snap *s)
{
	int	counts[BPROC_STATE_PWROFF + 1] = { 0 }, i, first;

	buf_printf(b, "{\"gen\": %llu, \"time\": %.3f, ",
	    (unsigned long long)s->gen, s->time);
	json_master(b, s);
	for (i = 0; i < s->nnodes; i++)
		if (s->nodes[i].state >= 0 &&
		    s->nodes[i].state <= BPROC_STATE_PWROFF)
			counts[s->nodes[i].state]++;
	buf_puts(b, ",\n\"counts\": {");
	for (i = 0, first = 1; i <= BPROC_STATE_PWROFF; i++, first = 0)
		buf_printf(b, "%s\"%s\": %d", first ? "" : ", ",
		    bproc_state_name(i), counts[i]);
	buf_printf(b, "}, \"nprocs\": %d,\n\"users\": [", s->nprocs);
	for (i = 0; i < s->nusers; i++) {
		buf_printf(b, "%s{\"uid\": %u, \"user\": ", i ? ", " : "",
		    (unsigned)s->users[i].uid);
		buf_json_str(b, s->users[i].name);
		buf_printf(b, ", \"procs\": %d}", s->users[i].nprocs);
	}
	buf_puts(b, "],\n\"nodes\": [");
	for (i = 0; i < s->nnodes; i++) {
		buf_puts(b, i ? ",\n" : "\n");
		json_node_obj(b, s, i);
	}
	buf_puts(b, "\n]}\n");
}

/* One node and its processes; -1 if there is no such node. */
int
json_node(struct buf *b, const struct web_snap *s, int node)
{
	char	name[64];
	int	i, first = 1;

	if (node < 0 || node >= s->nnodes)
		return -1;
	buf_printf(b, "{\"gen\": %llu, \"node\": ", (unsigned long long)s->gen);
	json_node_obj(b, s, node);
	buf_puts(b, ",\n\"procs\": [");
	for (i = 0; i < s->nprocs; i++) {
		const struct bproc_proc_info *p = &s->procs[i];
		int	j;

		if (p->node != node)
			continue;
		snprintf(name, sizeof(name), "%u", (unsigned)p->uid);
		for (j = 0; j < s->nusers; j++)
			if (s->users[j].uid == p->uid)
				snprintf(name, sizeof(name), "%s",
				    s->users[j].name);
		buf_printf(b, "%s\n{\"pid\": %d, \"rpid\": %d, \"uid\": %u, "
		    "\"user\": ", first ? "" : ",", (int)p->pid, (int)p->rpid,
		    (unsigned)p->uid);
		buf_json_str(b, name);
		buf_puts(b, ", \"cmd\": ");
		buf_json_str(b, p->cmd);
		buf_puts(b, "}");
		first = 0;
	}
	buf_puts(b, "\n]}\n");
	return 0;
}
