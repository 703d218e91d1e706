/*
 * bpghost's parts, from the top: bpghost.c (main, the event loop, what
 * bpmaster's frames do), ghost_move.c (the process comes home),
 * ghost_tree.c (forks, execs, sessions), ghost_stream.c (stdio and
 * signals), ghost_self.c (who the ghost is, how it ends), ghost_term.c
 * (a pty session's terminal), ghost_reconnect.c (a master restart),
 * ghost_args.c (the command line ps shows), ghost_conn.c (its connection
 * to bpmaster).
 */
#ifndef BPROC_GHOST_H
#define BPROC_GHOST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto.h"

/*
 * The largest frame the master sends a ghost: one MSG_IO of IO_CHUNK bytes
 * with its attributes (proc.c builds them in IO_CHUNK + 256).
 */
#define GHOST_MAXFRAME	(IO_CHUNK + 4096)
#define GHOST_ARGS_MAX	8192	/* bytes of a new argv shown after an exec */

/* ghost_conn.c: the connection to bpmaster */
struct ghost_conn_hooks {
	void	(*lost)(void);		/* the connection ended: wait for the next */
	void	(*die)(const char *);	/* a frame we cannot send: give up */
};
extern struct ghost_conn_hooks	conn_hooks;
extern int	ghost_fd;	/* -1 while bpmaster is away */
void	ghost_send(struct wire_msg *);
int	ghost_read(void);
int	ghost_frame(struct wire_hdr *, const unsigned char **, size_t *,
	    const char **);
void	conn_reset(void);
int	conn_take_fd(void);
void	conn_drop_fds(void);

/* ghost_args.c: our argv as ps reads it */
extern char	*arg_area;
extern size_t	 arg_len;
void	args_init(int, char **);
void	args_set(const char *, size_t);

/* ghost_term.c */
extern int	tty_mode;	/* the remote runs on a pty */
extern int	term_raw;	/* stdin's terminal is in our raw mode */
int	term_owned(void);
void	term_enter_raw(void);
void	term_restore(void);
void	term_winch(void);

/* ghost_self.c: who we are, and our ways out */
struct ghost_self {
	int	node;
	int	err_fd;		/* for "<node>: <error>" lines */
	int	is_child;	/* forked for a process forked on the node */
	int	spare;		/* a spare child ghost, not taken yet */
	/* a master restart (ghost_reconnect.c): -1 lost, 1 back but not resumed */
	int	away;
	pid_t	master_pid;	/* bpmaster, from SO_PEERCRED */
};
extern struct ghost_self	ghost_self;
void	ghost_die(const char *) __attribute__((noreturn));
void	ghost_exit(uint32_t) __attribute__((noreturn));
void	ghost_stop(int);

/* ghost_stream.c: stdio both ways, signals forwarded */
struct wire_attr;
void	stream_init(unsigned int);
int	stream_want_stdin(void);
void	stream_child_reset(void);
uint64_t stream_out_rx(int);
void	ghost_signal(int);
void	ghost_stdin(void);
void	ghost_output(int, const unsigned char *, size_t);
void	ghost_resume(struct wire_attr *);
int	ghost_on_io(void *, const struct proto_frame *);
int	ghost_on_io_ack(void *, const struct proto_frame *);

/* ghost_tree.c: forks, execs, sessions */
void	ghost_child_ended(pid_t, int);
int	ghost_on_fork(void *, const struct proto_frame *);
int	ghost_on_pgrp(void *, const struct proto_frame *);
int	ghost_on_execed(void *, const struct proto_frame *);

/* ghost_move.c */
int	ghost_on_move(void *, const struct proto_frame *);

#endif
