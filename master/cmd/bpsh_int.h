/*
 * bpsh_int.h, between bpsh's parts: bpsh.c (main, the nodes),
 * bpsh_opts.c (the command line), bpsh_exec.c (what each remote start
 * shares, and its errors), bpsh_jobs.c (many nodes: a ghost per node,
 * their stdio routed), bpsh_rsh.c (called as rsh/ssh), bpsh_gather.c
 * (-B's blocks).
 */
#ifndef BPROC_BPSH_INT_H
#define BPROC_BPSH_INT_H

#include "manifest.h"

#define BPSH_FAIL	255		/* bpsh's own failure */
#define BPSH_NOTFOUND	127		/* the node found no such command (as sh) */
#define BPSH_NOEXEC	126		/* found, but the node could not run it */
#define LINE_MAX_BUF	(64 * 1024)	/* longest line kept whole with -p/-L */

/* The options; -T and --no-tty set tty, which is -1 until decided. */
struct bpsh_opts {
	int		 prefix, line, seq, div, time;
	int		 nullin, noio, batch, nopush, gather;
	int		 tty;		/* -T 1, --no-tty 0, -1 decide */
	const char	*in, *out, *err;
	struct manifest	 manifest;	/* files pushed with the command */
};

/* What the command line asks beyond the opt_* flags. */
struct bpsh_args {
	int		  all;		/* -a: every node up */
	int		  allnotdown;	/* -A: every node not down */
	const char	 *spec;		/* the node set */
	char		**cmd;		/* the command and its arguments */
};

struct bproc_exec_opts;
struct nodeset;

/* bpsh_opts.c */
extern struct bpsh_opts	bpsh_opt;
void	bpsh_usage(void) __attribute__((noreturn));
void	bpsh_parse_args(int, char **, struct bpsh_args *);
void	bpsh_rsh_args(int, char **, struct bpsh_args *);
void	bpsh_tty_decide(const struct bpsh_args *, const struct nodeset *);

/* bpsh_exec.c */
extern int	bpsh_err_fd;	/* the real stderr, for errors */
void	bpsh_node_error(int, const char *);
int	bpsh_rexec_failed(int);
int	bpsh_exit_code(int);
void	bpsh_exec_opts(struct bproc_exec_opts *, int, int);
void	bpsh_cmd_prepare(const char *);
int	bpsh_rexec(int, char **, struct bproc_exec_opts *, int);
int	bpsh_run_one(int, int, char **);

/* bpsh_jobs.c */
int	bpsh_run_many(const struct nodeset *, int, char **);

#endif
