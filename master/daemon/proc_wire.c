/*
 * The process table (proc.c) is below the features that keep state per
 * process: it tells them through proc_hooks, which this file fills in,
 * so proc.c imports none of them.  bpmaster.c (and the fuzz target that
 * links the process space) calls proc_wire_hooks once at start.
 */
#include <sys/socket.h>

#include "bpmaster.h"

/* Its record goes: everything kept per process lets go of it. */
static void
proc_wire_freed(struct proc *p)
{
	relay_proc_gone(p);
	standin_proc_gone(p);
	rejoin_reap(p);
	rejoin_free(p);
	trace_release(p);
	tree_proc_gone(p);
}

/* The remote ended: a stand-in's parent hears, the ghost is let go. */
static void
proc_wire_exited(struct proc *p, uint32_t status)
{
	standin_child_exit(p, status);
	trace_release(p);
}

void
proc_wire_hooks(void)
{
	proc_hooks.freed = proc_wire_freed;
	proc_hooks.came_home = trace_let_go;
	proc_hooks.waits_node = rejoin_waits_node;
	proc_hooks.queue_sig = rejoin_queue_sig;
	proc_hooks.ghost_gone = migrate_ghost_gone;
	proc_hooks.migrate_ghost = migrate_from_ghost;
	proc_hooks.hold_ghost = rejoin_from_ghost;
	proc_hooks.migrate_node = migrate_from_node;
	proc_hooks.standin_node = standin_from_node;
	proc_hooks.runs = standin_child_runs;
	proc_hooks.stopped = standin_child_stopped;
	proc_hooks.exited = proc_wire_exited;
	proc_hooks.stop_ghost = trace_stop_ghost;
	proc_hooks.cont_ghost = trace_cont_ghost;
	proc_hooks.ppid = tree_ppid;
}
