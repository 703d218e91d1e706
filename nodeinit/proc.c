/*
 * The node's process host.  The master asks for a process with the
 * ghost's PID; spawn.c clone3()s it with that PID (set_tid) where it is
 * free, drops to the caller's uid/gids, and execs.  stdout/stderr travel
 * to the ghost in MSG_IO frames (proc_io.c), at most IO_WINDOW
 * unacknowledged bytes per stream, so a fast writer is slowed rather
 * than buffered without bound.  With EXEC_F_TTY the process gets a pty
 * instead of pipes: its own session with the slave as controlling
 * terminal and as stdin/stdout/stderr; the master carries stdin in and
 * one output stream (stdout) out.
 * Every message names the process by its ghost PID.  This file keeps the
 * records of the processes hosted, one per ghost.
 */
#include <stdlib.h>
#include <unistd.h>

#include "nodeinit_int.h"
#include "proc_int.h"

struct rprocs		 rproc_list;
struct rproc_hooks	 rproc_hooks;
static int		 nprocs_hosted;

struct rproc *
rproc_find(pid_t gpid)
{
	struct rproc	*p;

	DLIST_FOREACH(p, &rproc_list, link)
		if (p->gpid == gpid)
			return p;
	return NULL;
}

/* Is the ghost's process still here?  Its pushed files stay cached then. */
int
proc_hosts(pid_t gpid)
{
	return rproc_find(gpid) != NULL;
}

void
rproc_add(struct rproc *rp)
{
	DLIST_INSERT_HEAD(&rproc_list, rp, link);
	nprocs_hosted++;
}

void
rproc_free(struct rproc *rp)
{
	DLIST_REMOVE(rp, link);
	if (rproc_hooks.freed != NULL)
		rproc_hooks.freed(rp->gpid);
	for (int i = 0; i < 3; i++) {
		if (rp->fd[i] >= 0)
			close(rp->fd[i]);
		free(rp->ring[i]);
	}
	free(rp->inq);
	free(rp);
	nprocs_hosted--;
}

/* EXEC_RESULT; for an image a second one is the restorer's verdict (migrate.c) */
void
proc_result(pid_t gpid, pid_t pid, int err, const char *msg)
{
	unsigned char	buf[512];
	struct wire_msg	m;

	wire_msg_init(&m, buf, sizeof(buf), MSG_EXEC_RESULT, 0, 0);
	wire_put_u32(&m, A_PID, (uint32_t)gpid);
	wire_put_u32(&m, A_ERRNO, (uint32_t)err);
	if (pid > 0 && pid != gpid)
		wire_put_u32(&m, A_RPID, (uint32_t)pid);
	if (msg != NULL)
		wire_put_str(&m, A_MSG, msg);
	link_send_msg(&m);
}

/*
 * Does a process of rp's session live on (tracked, other than rp's own)?
 * The one whose ghost relays the session's output is kept while it does.
 */
int
rproc_session_lives(struct rproc *rp)
{
	if (rp->relay != 0 && track_top_of(rp->relay) == rp->gpid)
		return 1;
	rp->relay = track_session_member(rp->gpid);
	return rp->relay != 0;
}

/*
 * What getppid() returns to the process nodeinit started for gpid: its
 * parent here is nodeinit, its parent in the process space is its ghost's
 * (the master said which in the EXEC); 0 when that is not known.
 */
pid_t
proc_fe_ppid(pid_t gpid)
{
	struct rproc	*rp = rproc_find(gpid);

	return rp != NULL && rp->feppid > 0 ? rp->feppid : 0;
}

/* Processes started for a ghost and not yet forgotten (not their children). */
int
proc_hosted_count(void)
{
	return nprocs_hosted;
}
