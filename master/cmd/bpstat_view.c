/*
 * bpstat's node views, each printed from one snapshot: grouped (BProc's
 * default), long, addresses, JSON, and the counts.
 */
#include <err.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpstat_int.h"
#include "nodeset.h"

/* Nodes of the grouped view that share state, owner, group and mode. */
struct nodegroup {
	const struct bproc_node_info	*first;	/* lowest node: the key */
	int				*nodes;	/* ascending */
	size_t				 n;
	size_t				 cap;
};

static int
group_cmp(const void *a, const void *b)
{
	const struct nodegroup	*x = a, *y = b;

	return info_cmp(&x->first, &y->first);
}

/*
 * BProc's default view: nodes with the same state, owner, group and mode
 * share one line, their numbers written as ranges ("0-1,3").
 */
static void
view_grouped(FILE *f, const struct snap *s)
{
	static const char *const	head[] = {
		"Node(s)", "Status", "Mode", "User", "Group"
	};
	static const int		minw[] = { 8, 12, 10, 8, 0 };
	const struct bproc_node_info	*ni, *k;
	struct nodegroup		*g = NULL, *gp;
	struct table			 t;
	size_t				 ng = 0, cap = 0, i, j, len;
	char				 mode[11], *ranges;
	int				*nn;

	for (i = 0; i < (size_t)s->t.nnodes; i++) {
		if (!s->selected[i])
			continue;
		ni = &s->t.nodes[i];
		/* neighbours are usually alike: try the newest group first */
		for (j = ng; j > 0; j--) {
			k = g[j - 1].first;
			if (k->state == ni->state && k->uid == ni->uid &&
			    k->gid == ni->gid && k->mode == ni->mode)
				break;
		}
		if (j == 0) {
			if (ng == cap) {
				cap = cap ? cap * 2 : 16;
				gp = reallocarray(g, cap, sizeof(*g));
				if (gp == NULL)
					err(1, NULL);
				g = gp;
			}
			memset(&g[ng], 0, sizeof(g[ng]));
			g[ng].first = ni;
			j = ++ng;
		}
		gp = &g[j - 1];
		if (gp->n == gp->cap) {
			gp->cap = gp->cap ? gp->cap * 2 : 16;
			if ((nn = reallocarray(gp->nodes, gp->cap,
			    sizeof(*nn))) == NULL)
				err(1, NULL);
			gp->nodes = nn;
		}
		gp->nodes[gp->n++] = ni->node;
	}
	if (ng > 0)
		qsort(g, ng, sizeof(*g), group_cmp);

	table_init(&t, 5, head, minw);
	for (i = 0; i < ng; i++) {
		/* the compact form of common/nodeset.c, sized first */
		len = nodeset_format(NULL, 0, g[i].nodes, g[i].n) + 1;
		if ((ranges = malloc(len)) == NULL)
			err(1, NULL);
		nodeset_format(ranges, len, g[i].nodes, g[i].n);
		ni = g[i].first;
		mode_string(mode, ni->mode);
		table_cell(&t, "%s", ranges);
		table_cell(&t, "%s", bproc_state_name(ni->state));
		table_cell(&t, "%s", mode);
		table_cell(&t, "%s", user_name(ni->uid));
		table_cell(&t, "%s", group_name(ni->gid));
		free(ranges);
		free(g[i].nodes);
	}
	free(g);
	table_print(f, &t);
	table_free(&t);
}

/* Chassis power as the node's BMC last said (bpctl --power). */
static const char *
power_word(int power)
{
	switch (power) {
	case BPROC_PWR_ON:
		return "on";
	case BPROC_PWR_OFF:
		return "off";
	case BPROC_PWR_NONE:
		return "-";
	}
	return "?";
}

/*
 * One line per node.  A down node's load, memory and the like are what it
 * last reported, if anything; they are not its present, so they print "-".
 * The Power column (the BMC's word) is there only when some node has a
 * BMC configured.
 */
static void
view_long(FILE *f, const struct snap *s)
{
	static const char *const	head[] = {
		"Node", "State", "Addr", "User", "Group", "Mode", "Stage",
		"Seen", "Load", "Cpus", "Mem", "Uptime", "Procs", "Cache",
		"Push", "Power"
	};
	const struct bproc_node_info	*ni;
	struct table			 t;
	char				 mode[11], a[64], b[32];
	size_t				 i;
	int				 live, j, power = 0;

	for (i = 0; i < s->nsel; i++)
		if (s->sel[i]->power != BPROC_PWR_NONE)
			power = 1;
	table_init(&t, power ? 16 : 15, head, NULL);
	for (i = 0; i < s->nsel; i++) {
		ni = s->sel[i];
		live = ni->state != BPROC_STATE_DOWN;
		mode_string(mode, ni->mode);
		table_cell(&t, "%d", ni->node);
		table_cell(&t, "%s", bproc_state_name(ni->state));
		table_cell(&t, "%s", ni->addr[0] ?
		    printable(a, sizeof(a), ni->addr) : "-");
		table_cell(&t, "%s", user_name(ni->uid));
		table_cell(&t, "%s", group_name(ni->gid));
		table_cell(&t, "%s", mode);
		table_cell(&t, "%s", bproc_stage_name(ni->stage));
		fmt_age(a, sizeof(a), ni->last_seen_ms);
		table_cell(&t, "%s", a);
		if (!live) {
			for (j = 0; j < 7; j++)
				table_cell(&t, "-");
			if (power)
				table_cell(&t, "%s", power_word(ni->power));
			continue;
		}
		table_cell(&t, "%u.%02u %u.%02u %u.%02u",
		    ni->load[0] / 100, ni->load[0] % 100,
		    ni->load[1] / 100, ni->load[1] % 100,
		    ni->load[2] / 100, ni->load[2] % 100);
		table_cell(&t, "%u", ni->cpus);
		fmt_size(a, sizeof(a), ni->mem_free);
		fmt_size(b, sizeof(b), ni->mem_total);
		table_cell(&t, "%s/%s", a, b);
		fmt_uptime(a, sizeof(a), ni->uptime);
		table_cell(&t, "%s", a);
		table_cell(&t, "%u", ni->nprocs);
		fmt_size(a, sizeof(a), ni->cache_bytes);
		table_cell(&t, "%s", a);
		fmt_size(a, sizeof(a), ni->push_bytes);
		table_cell(&t, "%s", a);
		if (power)
			table_cell(&t, "%s", power_word(ni->power));
	}
	table_print(f, &t);
	table_free(&t);
}

static void
view_addr(FILE *f, const struct snap *s)
{
	static const char *const	head[] = { "Node", "Address", "MAC" };
	static const int		minw[] = { 4, 15, 0 };
	const struct bproc_node_info	*ni;
	struct table			 t;
	char				 a[sizeof(ni->addr)], mac[18];
	size_t				 i;

	table_init(&t, 3, head, minw);
	for (i = 0; i < s->nsel; i++) {
		ni = s->sel[i];
		table_cell(&t, "%d", ni->node);
		table_cell(&t, "%s", ni->addr[0] ?
		    printable(a, sizeof(a), ni->addr) : "-");
		if (ni->has_mac)
			fmt_mac(mac, sizeof(mac), ni->mac);
		table_cell(&t, "%s", ni->has_mac ? mac : "-");
	}
	table_print(f, &t);
	table_free(&t);
}

/*
 * One object per line, `"key": value` with one space, keys in a fixed
 * order: scripts grep this as well as parse it.  Numbers are the master's,
 * unrounded; unknowns are null.
 */
static void
view_json(FILE *f, const struct snap *s)
{
	const struct bproc_node_info	*ni;
	char				 mode[11], mac[18];
	size_t				 i;
	int				 j;

	fputs("[\n", f);
	for (i = 0; i < s->nsel; i++) {
		ni = s->sel[i];
		fprintf(f, "{\"node\": %d, \"state\": ", ni->node);
		json_str(f, bproc_state_name(ni->state));
		fputs(", \"addr\": ", f);
		if (ni->addr[0])
			json_str(f, ni->addr);
		else
			fputs("null", f);
		if (ni->has_mac) {
			fmt_mac(mac, sizeof(mac), ni->mac);
			fprintf(f, ", \"mac\": \"%s\"", mac);
		} else
			fputs(", \"mac\": null", f);
		fprintf(f, ", \"uid\": %u, \"gid\": %u, \"user\": ",
		    (unsigned int)ni->uid, (unsigned int)ni->gid);
		json_str(f, user_name(ni->uid));
		fputs(", \"group\": ", f);
		json_str(f, group_name(ni->gid));
		mode_string(mode, ni->mode);
		fprintf(f, ", \"mode\": %u, \"mode_str\": \"%s\"", ni->mode,
		    mode);
		if (ni->last_seen_ms == UINT64_MAX)
			fputs(", \"last_seen\": null", f);
		else
			fprintf(f, ", \"last_seen\": %" PRIu64 ".%03u",
			    ni->last_seen_ms / 1000,
			    (unsigned int)(ni->last_seen_ms % 1000));
		fputs(", \"load\": [", f);
		for (j = 0; j < 3; j++)
			fprintf(f, "%s%u.%02u", j ? ", " : "",
			    ni->load[j] / 100, ni->load[j] % 100);
		fprintf(f, "], \"cpus\": %u, \"mem_total\": %" PRIu64
		    ", \"mem_free\": %" PRIu64 ", \"uptime\": %" PRIu64
		    ", \"nprocs\": %u, \"stage\": ",
		    ni->cpus, ni->mem_total, ni->mem_free, ni->uptime,
		    ni->nprocs);
		json_str(f, bproc_stage_name(ni->stage));
		fprintf(f, ", \"cache_bytes\": %" PRIu64
		    ", \"push_bytes\": %" PRIu64, ni->cache_bytes,
		    ni->push_bytes);
		/* only for a node with a BMC, like -l's column */
		if (ni->power != BPROC_PWR_NONE)
			fprintf(f, ", \"power\": \"%s\"", power_word(ni->power));
		fprintf(f, "}%s\n", i + 1 < s->nsel ? "," : "");
	}
	fputs("]\n", f);
}

void
view_print(FILE *f, const struct bpstat *bs, const struct snap *s)
{
	size_t	i, n;

	switch (bs->view) {
	case VIEW_GROUPED:
		view_grouped(f, s);
		break;
	case VIEW_LONG:
		view_long(f, s);
		break;
	case VIEW_ADDR:
		view_addr(f, s);
		break;
	case VIEW_JSON:
		view_json(f, s);
		break;
	case VIEW_COUNT_ALL:
	case VIEW_COUNT_UP:
		for (i = n = 0; i < s->nsel; i++)
			if (bs->view == VIEW_COUNT_ALL ||
			    s->sel[i]->state == BPROC_STATE_UP)
				n++;
		fprintf(f, "%zu\n", n);
		break;
	}
}
