/*
 * bpstat -p: the process space, one row per remote process
 * (bproc_proclist), BProc's "PID<TAB>Node" columns first so old scripts
 * still cut them, then the PID on the node, the owner and the command.
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpstat_int.h"
#include "nodeset.h"

/* -p: by node then PID, or by owner's name (-O); -r reverses. */
static int
proc_cmp(const void *a, const void *b)
{
	const struct bproc_proc_info	*const *pa = a, *const *pb = b;
	const struct bproc_proc_info	*x = *pa, *y = *pb;
	int				 c = 0;

	if (sort_by == SORT_OWNER)
		c = strcmp(user_name(x->uid), user_name(y->uid));
	if (c == 0)
		c = (x->node > y->node) - (x->node < y->node);
	if (c == 0)
		c = (x->pid > y->pid) - (x->pid < y->pid);
	return sort_reverse ? -c : c;
}

/*
 * BProc printed "PID\tNode" and scripts cut those two fields; the columns
 * added since come after them.  A tab or control character in a command
 * line would break the columns or reach the terminal, so it prints as '?'.
 */
static void
procs_text(FILE *f, struct bproc_proc_info **pl, size_t n)
{
	const struct bproc_proc_info	*pi;
	char				 cmd[sizeof(pi->cmd)];
	size_t				 i;

	fputs("PID\tNode\tRPID\tPPID\tUser\tCommand\n", f);
	for (i = 0; i < n; i++) {
		pi = pl[i];
		fprintf(f, "%d\t%d\t", (int)pi->pid, pi->node);
		if (pi->rpid != pi->pid)
			fprintf(f, "%d\t", (int)pi->rpid);
		else
			fputs("-\t", f);
		if (pi->ppid > 0)
			fprintf(f, "%d\t", (int)pi->ppid);
		else
			fputs("-\t", f);
		fprintf(f, "%s\t%s\n", user_name(pi->uid),
		    printable(cmd, sizeof(cmd), pi->cmd));
	}
}

/* As view_json: one object per line, keys in a fixed order. */
static void
procs_json(FILE *f, struct bproc_proc_info **pl, size_t n)
{
	const struct bproc_proc_info	*pi;
	size_t				 i;

	fputs("[\n", f);
	for (i = 0; i < n; i++) {
		pi = pl[i];
		fprintf(f, "{\"pid\": %d, \"node\": %d, \"rpid\": %d, "
		    "\"ppid\": ", (int)pi->pid, pi->node, (int)pi->rpid);
		/* a master without the process tree does not say */
		if (pi->ppid > 0)
			fprintf(f, "%d", (int)pi->ppid);
		else
			fputs("null", f);
		fprintf(f, ", \"uid\": %u, \"user\": ", (unsigned int)pi->uid);
		json_str(f, user_name(pi->uid));
		fputs(", \"cmd\": ", f);
		json_str(f, pi->cmd);
		fprintf(f, "}%s\n", i + 1 < n ? "," : "");
	}
	fputs("]\n", f);
}

/*
 * The node sets on the command line are parsed against the node table,
 * as for the other views, so `bpstat -p up` and "7: No such node" mean
 * what they mean there; with no node set the node table is not needed.
 */
int
procs_run(const struct bpstat *bs)
{
	struct bproc_proc_info	 *list = NULL, **pl;
	struct snap		  s;
	char			 *want = NULL;
	size_t			  i, n = 0;
	int			  np, rc;

	memset(&s, 0, sizeof(s));
	if (bs->nspecs > 0) {
		snap_or_exit(&s, bs);
		want = xcalloc(NODESET_MAX + 1, 1);
		for (i = 0; i < s.nsel; i++)
			want[s.sel[i]->node] = 1;
	}
	if ((np = bproc_proclist(&list)) < 0)
		tool_master_fail();
	pl = xcalloc((size_t)np, sizeof(*pl));
	for (i = 0; i < (size_t)np; i++)
		if (want == NULL || (list[i].node >= 0 &&
		    list[i].node <= NODESET_MAX && want[list[i].node]))
			pl[n++] = &list[i];
	qsort(pl, n, sizeof(*pl), proc_cmp);
	if (bs->view == VIEW_JSON)
		procs_json(stdout, pl, n);
	else
		procs_text(stdout, pl, n);
	if (fflush(stdout) == EOF || ferror(stdout))
		err(1, "stdout");
	for (i = 0; i < s.nmissing; i++)
		fprintf(stderr, "%d: No such node\n", s.missing[i]);
	rc = s.nmissing > 0 ? EXIT_NONODE : 0;
	free(pl);
	free(list);
	free(want);
	snap_release(&s);
	return rc;
}
