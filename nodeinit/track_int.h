/*
 * The node's process tracking, shared by its files: a traced task
 * (track.c keeps them and seizes a process started), the filter and the
 * skipping of a call (track_filter.c), the clone that waits for its ghost
 * (track_fork.c), the other calls the filter stops (track_calls.c), a
 * tracee's wait statuses (track_event.c).
 */
#ifndef TRACK_INT_H
#define TRACK_INT_H

#include <stdint.h>
#include <sys/types.h>

/* PTRACE_GET_SYSCALL_INFO's answer (linux/ptrace.h, which musl's clashes with) */
struct track_scinfo {
	uint8_t		op;
	uint8_t		pad[3];
	uint32_t	arch;
	uint64_t	ip;
	uint64_t	sp;
	union {
		struct {
			uint64_t	nr;
			uint64_t	args[6];
		} entry;
		struct {
			int64_t		rval;
			uint8_t		is_error;
		} exit;
		struct {
			uint64_t	nr;
			uint64_t	args[6];
			uint32_t	ret_data;
		} seccomp;
	};
};
#define TRACK_SCI_EXIT		2
#define TRACK_SCI_SECCOMP	3

enum tt_state {
	TT_EARLY,	/* a new task stopped before its parent's event named it */
	TT_NEW,		/* named; its first stop is still to come */
	TT_RUN
};

enum tq_state {
	TQ_WAIT,	/* queued at its seccomp stop */
	TQ_ASKED,	/* the master is making the ghost */
	TQ_RUNNING	/* resumed into the clone: its event or its failure next */
};

/* One traced task: a process's leader or one of its threads. */
struct ttask {
	pid_t		 tid;
	pid_t		 tgid;		/* the process: its leader's tid */
	pid_t		 gpid;		/* the process's ghost (leaders) */
	pid_t		 top;		/* ghost of the session's first process */
	int		 leader;
	int		 state;		/* TT_* */
	int		 stopped;	/* reported group-stopped */
	int		 stopsig;	/* the job-control signal we turned into SIGSTOP */
	int		 execs;		/* exec events seen */
	int		 paused;	/* its ghost is not back yet (grace.c): forks wait */
	/* a clone waiting at its seccomp stop */
	int		 queued;
	int		 qstate;	/* TQ_* */
	int		 thread;	/* it makes a thread: no ghost */
	uint32_t	 cflags;
	pid_t		 cgpid;		/* the child's ghost, once made */
	pid_t		 pgof;		/* in setsid/setpgid: the process it changes */
	struct ttask	*hnext;		/* by tid */
	struct ttask	*gnext;		/* by ghost PID, leaders only */
	struct ttask	*qnext;
};

/* track.c: the tasks, by tid and by ghost PID */
struct ttask	*tt_find(pid_t);
struct ttask	*tt_find_gpid(pid_t);
struct ttask	*tt_new(pid_t);
void		 tt_set_gpid(struct ttask *, pid_t);
void		 tt_free(struct ttask *);
void		 tt_free_all(void);
void		 tt_pause_all(void);
struct ttask	*tt_leader(struct ttask *);
pid_t		 track_ghost_of(pid_t);

/* track_fork.c: the queue of clones, one in flight at a time */
void		 track_enqueue(struct ttask *, uint64_t);
void		 track_born(struct ttask *, pid_t, int);
void		 track_syscall_exit(struct ttask *);
void		 track_drop(struct ttask *);

/* track_calls.c: the filter's other stops */
void		 track_seccomp(struct ttask *);
void		 track_pgrp(struct ttask *);

#endif
