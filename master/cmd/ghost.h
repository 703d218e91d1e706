/*
 * bpghost's parts: bpghost.c (the stand-in: signals, stdio, stops, exit,
 * forks), ghost_conn.c (its connection to bpmaster), ghost_args.c (the
 * command line ps shows), ghost_term.c (a pty
 * session's terminal), ghost_move.c (the process comes home),
 * ghost_reconnect.c (a master restart).
 */
#ifndef BPROC_GHOST_H
#define BPROC_GHOST_H

#include <stddef.h>

#include "proto.h"

/*
 * The largest frame the master sends a ghost: one MSG_IO of IO_CHUNK bytes
 * with its attributes (proc.c builds them in IO_CHUNK + 256).
 */
#define GHOST_MAXFRAME	(IO_CHUNK + 4096)
#define GHOST_ARGS_MAX	8192	/* bytes of a new argv shown after an exec */

/* bpghost.c */
void	ghost_output(int, const unsigned char *, size_t);
void	ghost_lost(void);
void	ghost_die(const char *) __attribute__((noreturn));

/* ghost_conn.c: the connection to bpmaster */
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

/* ghost_move.c */
int	ghost_on_move(void *, const struct proto_frame *);

#endif
