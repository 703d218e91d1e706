/*
 * libbproc, BProc 4 layer: the bridge to bproc-ng's tables.  This is the
 * one file of the layer that includes <bproc.h>; it hands the node and
 * process tables, and rexec with its options, to the files that include
 * <sys/bproc.h> in the plain types of bproc4_int.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bproc.h"
#include "bproc4_int.h"

_Static_assert(BPROC4_STATE_UP == BPROC_STATE_UP, "BPROC4_STATE_UP");
_Static_assert(BPROC4_POWER_REBOOT == BPROC_POWER_REBOOT &&
    BPROC4_POWER_HALT == BPROC_POWER_HALT && BPROC4_POWER_OFF == BPROC_POWER_OFF,
    "BPROC4_POWER_*");
_Static_assert(BPROC4_EXEC_NOIO == BPROC_EXEC_NOIO, "BPROC4_EXEC_NOIO");

int
bproc4_bridge_nodes(struct bproc4_node **out)
{
	struct bproc_node_info	*l;
	struct bproc4_node	*o;
	int			 n, i;

	if ((n = bproc_nodelist(&l)) < 0)
		return -1;
	if ((o = calloc(n > 0 ? (size_t)n : 1, sizeof(*o))) == NULL) {
		free(l);
		return -1;
	}
	for (i = 0; i < n; i++) {
		o[i].node = l[i].node;
		o[i].state = l[i].state;
		o[i].uid = l[i].uid;
		o[i].gid = l[i].gid;
		o[i].mode = l[i].mode;
		snprintf(o[i].addr, sizeof(o[i].addr), "%s", l[i].addr);
		o[i].last_seen_ms = l[i].last_seen_ms;
		o[i].status_age_ms = l[i].status_age_ms;
	}
	free(l);
	*out = o;
	return n;
}

int
bproc4_bridge_procs(struct bproc4_proc **out)
{
	struct bproc_proc_info	*l;
	struct bproc4_proc	*o;
	int			 n, i;

	if ((n = bproc_proclist(&l)) < 0)
		return -1;
	if ((o = calloc(n > 0 ? (size_t)n : 1, sizeof(*o))) == NULL) {
		free(l);
		return -1;
	}
	for (i = 0; i < n; i++) {
		o[i].pid = l[i].pid;
		o[i].node = l[i].node;
	}
	free(l);
	*out = o;
	return n;
}

int
bproc4_bridge_master_alive(void)
{
	struct bproc_master_info	mi;

	return bproc_masterinfo(&mi);
}

int
bproc4_bridge_rexec(int node, const char *cmd, char *const argv[],
    char *const envp[], const char *const files[3], unsigned int flags,
    unsigned int rank)
{
	struct bproc_exec_opts	o;

	memset(&o, 0, sizeof(o));
	o.flags = flags;
	o.rank = rank;
	o.file_in = files[0];
	o.file_out = files[1];
	o.file_err = files[2];
	return bproc_rexec_opts(node, cmd, argv, envp, &o);
}
