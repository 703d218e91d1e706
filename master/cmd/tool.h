/*
 * What the node tools (bpstat, bpctl) share: one snapshot of the node
 * table, indexed by node number for node-set parsing, and how a tool says
 * that bpmaster failed it.
 */
#ifndef BPROC_TOOL_H
#define BPROC_TOOL_H

#include "bproc.h"

#define TOOL_EXIT_MASTER	3	/* bpmaster cannot be reached, or hung up */

struct tool_snap {
	struct bproc_node_info	*nodes;		/* by node number, no repeats */
	int			 nnodes;
	int			 numnodes;	/* highest node number + 1 */
	int			*states;	/* by node number */
	int			*index;		/* by node number: into nodes[], or -1 */
};

int	tool_snap_take(struct tool_snap *);
void	tool_snap_free(struct tool_snap *);
int	tool_snap_has(const struct tool_snap *, int);
void	tool_master_fail(void) __attribute__((noreturn));
int	tool_master_unreachable(int);

#endif
