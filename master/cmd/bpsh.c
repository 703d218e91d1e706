/*
 * bpsh: run a command on cluster nodes as if it were local.
 *
 * One node and plain I/O: bpsh turns itself into the ghost (bproc_rexec),
 * so the shell's job control, signals and exit status work on it
 * directly.  Many nodes: one ghost per node as our children; we tee our
 * stdin to them, prefix their output with -p, and exit with the highest
 * status (a signal death counts as 128+signal).
 *
 * -T gives the one remote process a pty on its node (the ghost makes our
 * terminal raw meanwhile).  It is the default for an interactive run: one
 * node named, stdin, stdout and stderr all terminals, bpsh in the terminal's
 * foreground, and no option that redirects or routes a stream, so that
 * `bpsh 0 cmd >file` or `2>/dev/null` keep their plain meaning.
 */
#include <err.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bproc.h"
#include "nodeset.h"
#include "bpsh_int.h"
#include "bpsh_rsh.h"

/*
 * The nodes to run on; *numnodes is the node count they were parsed
 * against.  One node named by number ("3", "n3") needs no snapshot of
 * the cluster: the master's answer to the EXEC says "No such node" or
 * "Node is down", and bpsh saves a round trip.  A set of several takes
 * the snapshot, so that nodes past the end fail here, not in a child
 * each.
 */
static void
nodes_select(const char *spec, struct nodeset *set, int *numnodes)
{
	struct bproc_node_info	*info;
	char			 errbuf[256];
	int			*states = NULL, i;

	if (nodeset_node_parse(spec) >= 0)
		*numnodes = NODESET_MAX + 1;
	else {
		if ((*numnodes = bproc_nodelist(&info)) < 0)
			errx(BPSH_FAIL, "%s", bproc_strerror());
		if ((states = calloc((size_t)*numnodes + 1,
		    sizeof(*states))) == NULL)
			err(BPSH_FAIL, "calloc");
		for (i = 0; i < *numnodes; i++)
			states[i] = info[i].state;
		free(info);
	}
	memset(set, 0, sizeof(*set));
	if (nodeset_parse(set, spec, *numnodes, states, errbuf,
	    sizeof(errbuf)) == -1)
		errx(BPSH_FAIL, "%s", errbuf);
	free(states);
}

int
main(int argc, char **argv)
{
	struct bpsh_args	a;
	struct nodeset		set;
	int			numnodes, rc;

	if (rsh_mode(argc, argv))
		bpsh_rsh_args(argc, argv, &a);
	else
		bpsh_parse_args(argc, argv, &a);
	nodes_select(a.spec, &set, &numnodes);
	if (a.cmd[0] == NULL)
		bpsh_usage();
	if (set.count == 0)
		errx(BPSH_FAIL, "no nodes to run on");
	bpsh_tty_decide(&a, &set);
	bpsh_cmd_prepare(a.cmd[0]);

	if (set.count == 1 && !bpsh_opt.prefix && !bpsh_opt.line &&
	    !bpsh_opt.time && !bpsh_opt.div && !bpsh_opt.gather)
		return bpsh_run_one(set.nodes[0], numnodes, a.cmd);
	rc = bpsh_run_many(&set, numnodes, a.cmd);
	/*
	 * Ctrl-C killed the command: die of it too, so that a calling shell
	 * stops its loop (the "wait and cooperative exit" rule).
	 */
	if (rc == 128 + SIGINT || rc == 128 + SIGQUIT) {
		signal(rc - 128, SIG_DFL);
		kill(getpid(), rc - 128);
	}
	return rc;
}
