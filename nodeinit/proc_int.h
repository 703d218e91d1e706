/*
 * nodeinit's process host, shared by its files: the record of a process
 * started for a ghost (proc.c keeps them), started by spawn.c, its stdio
 * carried by proc_io.c, its signals and wait statuses by proc_sig.c, a
 * master restart by proc_rejoin.c.
 */
#ifndef PROC_INT_H
#define PROC_INT_H

#include <stdint.h>
#include <sys/types.h>

#include "list.h"

struct rproc {
	pid_t		 gpid;		/* the ghost's PID: the key */
	pid_t		 pid;		/* ours; equal unless set_tid failed */
	int		 fd[3];		/* stdin (write end), stdout, stderr;
					   with a pty: a dup of the master,
					   the master, -1 */
	int		 tty;		/* runs on a pty of ours */
	uint32_t	 unacked[3];
	unsigned char	*inq;		/* stdin bytes not yet written */
	size_t		 inlen;
	int		 in_eof;	/* close stdin once inq drains */
	int		 exited;
	int		 status;
	int		 stopsig;	/* the job-control signal we turned into SIGSTOP */
	uint64_t	 slave_gone;	/* when a pty read said no one holds the slave */
	int		 empty[3];	/* the last read of the stream found nothing */
	int		 reported;	/* EXIT sent; output left goes by another ghost */
	pid_t		 relay;		/* that ghost: a living process of the session */
	uid_t		 uid;
	pid_t		 feppid;	/* its ghost's parent: what getppid() says */
	/* a master restart (grace.c) */
	int		 paused;	/* not read or reported until MSG_RESUME */
	int		 zombie;	/* EXIT sent, kept until MSG_REAP */
	uint64_t	 tx[3];		/* output bytes sent; [0]: stdin received */
	uint64_t	 indone;	/* stdin bytes written to the process */
	unsigned char	*ring[3];	/* the unacknowledged output (IO_WINDOW) */
	uint32_t	 head[3];	/* where its oldest byte is */
	DLIST_LINK(rproc) link;	/* rproc_list */
};

DLIST_HEAD(rprocs, rproc);

/* proc.c: the records, by ghost PID */
extern struct rprocs	 rproc_list;
struct rproc	*rproc_find(pid_t);
void		 rproc_add(struct rproc *);
void		 rproc_free(struct rproc *);
int		 rproc_session_lives(struct rproc *);

/* proc_io.c: what it writes goes up before its exit does */
void		 rproc_output(struct rproc *, int);
void		 rproc_finish(struct rproc *);

#endif
