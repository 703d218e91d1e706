/* bpsh's rsh/ssh mode (bpsh_rsh.c): bpsh as MPI launchers call ssh. */
#ifndef BPROC_BPSH_RSH_H
#define BPROC_BPSH_RSH_H

struct manifest;

/* What an rsh/ssh command line asks of bpsh. */
struct rsh_call {
	char		  node[16];	/* the node, as bpsh's node set */
	int		  local;	/* the host is the front end itself */
	int		  nullin;	/* -n: stdin from /dev/null */
	int		  tty;		/* -t 1, -T 0, else -1 */
	char		**cmd;		/* /bin/sh -c "<words>", or /bin/sh */
};

/* Called as bprsh/bpssh (argv[0]) or with --rsh first. */
int	rsh_mode(int, char **);
/*
 * Parse the rsh/ssh command line into *r, and add to the manifest the
 * programs it will run: the command words of the command line, every
 * executable the calling launcher named by path, and BPSH_PUSH.  Exits
 * 255 with a message when the line is not one it takes.
 */
void	rsh_parse(int, char **, struct rsh_call *, struct manifest *);

#endif
