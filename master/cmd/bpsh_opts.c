/*
 * bpsh_opts.c: bpsh's command line: its options, or an rsh/ssh call's
 * (bpsh_rsh.c), and -T's rules.
 */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


#include "bproc.h"
#include "nodeset.h"
#include "bpsh_int.h"
#include "bpsh_rsh.h"

struct bpsh_opts	bpsh_opt = { .tty = -1 };

void __attribute__((noreturn))
bpsh_usage(void)
{
	fprintf(stderr,
"usage: bpsh [-aAnNLpsdtBT] [-b N] [-I file] [-O file] [-E file] nodes command [args...]\n"
"       bpsh -a|-A [options] command [args...]\n"
"  nodes   3, n3, 0-3,7, n[0-15], all, allup, up, '!down'\n"
"  -a      every node that is up          -A  every node not down\n"
"  -n      stdin from /dev/null           -N  no I/O forwarding\n"
"  -L      line-buffer output             -p  prefix lines with the node number\n"
"  -s      one node after another         -d  -s, a divider line before each node\n"
"  -b N    at most N nodes at once        -t  print each node's run time\n"
"  -B, --gather   fold identical output of many nodes into one block\n"
"  -I/-O/-E file  stdin/stdout/stderr from/to a file opened on the node\n"
"  -T, --tty      a pty on the (one) node; the default when stdin, stdout\n"
"                 and stderr are a terminal   --no-tty  never a pty\n"
"  --push PATH    also push PATH (file or directory) into node RAM\n"
"  --no-push      push nothing; run the node's own command\n"
"exit status: the remote command's; 128+N if it died of signal N; the\n"
"highest over many nodes; 255 if bpsh itself failed (the node's error is\n"
"printed as \"<node>: <error>\").\n");
	exit(BPSH_FAIL);
}

/* One option of the command line (getopt's ch). */
static void
parse_opt(int ch, struct bpsh_args *a)
{
	switch (ch) {
	case 'a':
		a->all = 1;
		return;
	case 'A':
		a->allnotdown = 1;
		return;
	case 'n':
		bpsh_opt.nullin = 1;
		return;
	case 'N':
		bpsh_opt.noio = 1;
		return;
	case 'L':
		bpsh_opt.line = 1;
		return;
	case 'p':
		bpsh_opt.prefix = 1;
		return;
	case 's':
		bpsh_opt.seq = 1;
		return;
	case 'd':
		bpsh_opt.div = bpsh_opt.seq = 1;	/* BProc: -d implies -s */
		return;
	case 'B':
		bpsh_opt.gather = 1;
		return;
	case 't':
		bpsh_opt.time = 1;
		return;
	case 'b':
		bpsh_opt.batch = atoi(optarg);
		if (bpsh_opt.batch <= 0)
			errx(BPSH_FAIL, "-b: need a positive number");
		return;
	case 'I':
		bpsh_opt.in = optarg;
		return;
	case 'O':
		bpsh_opt.out = optarg;
		return;
	case 'E':
		bpsh_opt.err = optarg;
		return;
	case 'T':
		bpsh_opt.tty = 1;
		return;
	case 'Y':
		bpsh_opt.tty = 0;
		return;
	case 'P':
		if (optarg[0] != '/')
			errx(BPSH_FAIL, "--push %s: give an absolute path",
			    optarg);
		manifest_add(&bpsh_opt.manifest, optarg);
		return;
	case 'X':
		bpsh_opt.nopush = 1;
		return;
	default:
		bpsh_usage();
	}
}

void
bpsh_parse_args(int argc, char **argv, struct bpsh_args *a)
{
	static const struct option	 longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "tty", no_argument, NULL, 'T' },
		{ "no-tty", no_argument, NULL, 'Y' },
		{ "push", required_argument, NULL, 'P' },
		{ "no-push", no_argument, NULL, 'X' },
		{ "gather", no_argument, NULL, 'B' },
		{ NULL, 0, NULL, 0 }
	};
	int				 ch;

	memset(a, 0, sizeof(*a));
	while ((ch = getopt_long(argc, argv, "+aAnNLpsdtBb:I:O:E:hT",
	    longopts, NULL)) != -1)
		parse_opt(ch, a);
	argv += optind;
	if (!a->all && !a->allnotdown && argv[0] == NULL)
		bpsh_usage();
	a->spec = a->all ? "allup" : a->allnotdown ? "!down" : *argv++;
	a->cmd = argv;
	if (bpsh_opt.gather &&
	    (bpsh_opt.prefix || bpsh_opt.line || bpsh_opt.div))
		errx(BPSH_FAIL, "-B: not with -p, -L or -d (it prints blocks)");
}

/*
 * Called as rsh/ssh (bprsh, bpssh, --rsh): bpsh_rsh.c reads the line and
 * pushes what it runs; the node's own /bin/sh runs it.  The front end as
 * the host runs it here, as ssh to localhost would.
 */
void
bpsh_rsh_args(int argc, char **argv, struct bpsh_args *a)
{
	struct rsh_call	r;

	memset(a, 0, sizeof(*a));
	rsh_parse(argc, argv, &r, &bpsh_opt.manifest);
	if (r.local) {
		execv(r.cmd[0], r.cmd);
		err(BPSH_FAIL, "%s", r.cmd[0]);
	}
	bpsh_opt.nullin = r.nullin;
	bpsh_opt.tty = r.tty;
	bpsh_opt.nopush = 1;		/* the node's shell; the manifest has the rest */
	a->spec = strdup(r.node);
	a->cmd = r.cmd;
}

/* -T's rules, and whether an interactive run gets a pty by default. */
void
bpsh_tty_decide(const struct bpsh_args *a, const struct nodeset *set)
{
	struct bpsh_opts	*o = &bpsh_opt;

	if (o->tty == 1 && (set->count != 1 || o->prefix || o->line ||
	    o->time || o->div || o->gather))
		errx(BPSH_FAIL, "-T: one node, and none of -p, -L, -t, -d, -B");
	if (o->tty == 1 && (o->noio || o->nullin))
		errx(BPSH_FAIL, "-T: not with -n or -N (no input for the pty)");
	if (o->tty == -1)
		o->tty = set->count == 1 && !a->all && !a->allnotdown &&
		    !o->prefix && !o->line && !o->time && !o->div &&
		    !o->gather &&
		    !o->nullin && !o->noio && !o->in && !o->out &&
		    !o->err && isatty(STDIN_FILENO) &&
		    isatty(STDOUT_FILENO) && isatty(STDERR_FILENO) &&
		    tcgetpgrp(STDIN_FILENO) == getpgrp();
}
