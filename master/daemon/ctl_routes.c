/*
 * What the control socket takes, and when: one route per message type,
 * with the phases of a connection (ctl_phase) that may send it.  ctl.c
 * dispatches through it (ctl_table, set by ctl_listen).
 */
#include "ctlconn.h"

#define CP(ph)		(1u << CTL_PH_##ph)
#define CP_ASK		(CP(TOOL) | CP(WATCHER))	/* tables and node changes */

/* What the control socket takes, and when. */
static const struct proto_route ctl_routes[MSG_MAX] = {
	[MSG_CTL_NODES] =	{ CP_ASK, ctl_on_nodes },
	[MSG_CTL_PROCS] =	{ CP_ASK, ctl_on_procs },
	[MSG_CTL_SET] =		{ CP_ASK, ctl_on_set },
	[MSG_CTL_WATCH] =	{ CP_ASK, ctl_on_watch },
	[MSG_CTL_MASTER] =	{ CP_ASK, ctl_on_master },
	[MSG_CTL_POWER] =	{ CP_ASK, ctl_on_power },
	[MSG_EXEC] =		{ CP(TOOL), ctl_on_exec },
	[MSG_IO] =		{ CP(PROC), ctl_on_proc },
	[MSG_IO_ACK] =		{ CP(PROC), ctl_on_proc },
	[MSG_SIGNAL] =		{ CP(PROC), ctl_on_proc },
	[MSG_HOLD] =		{ CP(PROC), ctl_on_proc },	/* rejoin.c */
	[MSG_FORK_RESULT] =	{ CP(PROC), ctl_on_fork_result },
	/* migration (migrate.c): an image out, a move home's answers */
	[MSG_IMAGE] =		{ CP(PROC), ctl_on_proc },
	[MSG_IMAGE_ACK] =	{ CP(PROC) | CP(ENDED), ctl_on_blob },
	[MSG_IMAGE_RESULT] =	{ CP(PROC) | CP(ENDED), ctl_on_blob },
	[MSG_BLOB] =		{ CP(PROC) | CP(ENDED), ctl_on_blob },
	[MSG_GHOST] =		{ CP(PROC) | CP(ENDED), ctl_on_ghost },
	[MSG_GHOST_REJOIN] =	{ CP(TOOL), ctl_on_ghost_rejoin },
	[MSG_STANDIN] =		{ CP(TOOL) | CP(PROC) | CP(ENDED), ctl_on_standin },
};

const struct proto_role ctl_role = { "control socket", DIR_T2M,
    ctl_routes };
