/*
 * bpsh: run a command on cluster nodes as if it were local.
 *
 * One node and plain I/O: bpsh turns itself into the ghost (bproc_rexec),
 * so the shell's job control, signals and exit status work on it
 * directly.  Many nodes: one ghost per node as our children; we tee our
 * stdin to them, prefix their output with -p, and exit with the highest
 * status (a signal death counts as 128+signal).
 *
 * -T gives the one remote process a pty on its node (the ghost makes our
 * terminal raw meanwhile).  It is the default for an interactive run: one
 * node named, stdin, stdout and stderr all terminals, bpsh in the terminal's
 * foreground, and no option that redirects or routes a stream, so that
 * `bpsh 0 cmd >file` or `2>/dev/null` keep their plain meaning.
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bproc.h"
#include "nodeset.h"
#include "manifest.h"
#include "bpsh_gather.h"
#include "progress.h"
#include "bpsh_rsh.h"

#define BPSH_FAIL	255		/* bpsh's own failure */
#define BPSH_NOTFOUND	127		/* the node found no such command (as sh) */
#define BPSH_NOEXEC	126		/* found, but the node could not run it */
#define LINE_MAX_BUF	(64 * 1024)	/* longest line kept whole with -p/-L */
/* -d: BProc printed the node, a tab and 69 dashes before each node */
#define BPSH_DIVIDER	"-----------------------------------" \
			"----------------------------------"

extern char **environ;

struct job {
	int		 node;
	int		 rank;
	pid_t		 pid;
	int		 in;		/* our end of its stdin, -1 if none */
	int		 out[3];	/* our ends of its stdout/stderr (1, 2) */
	char		*line[3];	/* partial lines for -p/-L */
	size_t		 linelen[3];
	struct gather_buf gbuf[3];	/* -B: all of its stdout, stderr */
	int		 done;
	int		 status;	/* our exit-status view of it */
	struct timespec	 start;
};

static int	 opt_prefix, opt_line, opt_seq, opt_div, opt_time;
static int	 opt_nullin, opt_noio, opt_batch, opt_nopush, opt_gather;
static int	 opt_tty = -1;		/* -T 1, --no-tty 0, -1 decide */
static const char *opt_in, *opt_out, *opt_err;
static int	 err_fd = STDERR_FILENO;	/* the real stderr, for errors */
static struct manifest	 manifest;	/* files pushed with the command */
static const char	*exec_file;	/* the command as the node runs it */
static int		 chld_pipe[2] = { -1, -1 };	/* SIGCHLD wakes poll */

static void __attribute__((noreturn))
usage(void)
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

static void
node_error(int node, const char *msg)
{
	dprintf(err_fd, "%d: %s\n", node, msg);
}

/*
 * bproc_rexec failed: bpmaster out of reach is bpsh's own error; the
 * node's exec of the command failing is told as a shell tells it, with
 * its status (127 not found, 126 found but not runnable); anything else
 * is the node's error.  Returns the exit status for it.
 */
static int
rexec_failed(int node)
{
	const char	*m = bproc_strerror();
	size_t		 fl = strlen(exec_file);
	int		 e = errno;
	char		 msg[512];

	if (bproc_master_error()) {
		dprintf(err_fd, "bpsh: %s\n", m);
		return BPSH_FAIL;
	}
	/* nodeinit says "<command>: <strerror>" when only the exec failed */
	if ((e == ENOENT || e == EACCES || e == ENOEXEC || e == ENOTDIR) &&
	    strncmp(m, exec_file, fl) == 0 && strncmp(m + fl, ": ", 2) == 0 &&
	    strcmp(m + fl + 2, strerror(e)) == 0) {
		if (e == ENOENT && strchr(exec_file, '/') == NULL) {
			snprintf(msg, sizeof(msg), "%s: command not found",
			    exec_file);
			m = msg;
		}
		node_error(node, m);
		return e == ENOENT || e == ENOTDIR ? BPSH_NOTFOUND : BPSH_NOEXEC;
	}
	node_error(node, bproc_node_strerror());
	return BPSH_FAIL;
}

static int
exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return BPSH_FAIL;
}

/* Write whole lines, prefixed with -p; keep the tail until its newline. */
static void
job_emit(struct job *j, int s, const char *data, size_t len, int flush)
{
	char	 pfx[16];
	size_t	 i, start = 0;
	int	 fd = s == 1 ? STDOUT_FILENO : STDERR_FILENO;

	if (opt_gather) {
		gather_add(&j->gbuf[s], data, len);
		return;
	}
	if (!opt_prefix && !opt_line) {
		write(fd, data, len);
		return;
	}
	snprintf(pfx, sizeof(pfx), "%3d: ", j->node);
	for (i = 0; i <= len; i++) {
		int	eol = i < len && data[i] == '\n';

		if (!eol && !(i == len && flush))
			continue;
		if (i == len && start == i && j->linelen[s] == 0)
			break;
		/* a complete line: kept part + this part */
		dprintf(fd, "%s%.*s%.*s%s", opt_prefix ? pfx : "",
		    (int)j->linelen[s], j->line[s] ? j->line[s] : "",
		    (int)(i - start), data + start, eol ? "\n" : "\n");
		j->linelen[s] = 0;
		start = i + 1;
	}
	if (start < len) {
		size_t	tail = len - start;

		if (j->linelen[s] + tail > LINE_MAX_BUF) {
			/* an overlong line goes out in pieces */
			dprintf(fd, "%s%.*s%.*s\n", opt_prefix ? pfx : "",
			    (int)j->linelen[s], j->line[s], (int)tail,
			    data + start);
			j->linelen[s] = 0;
			return;
		}
		if (j->line[s] == NULL &&
		    (j->line[s] = malloc(LINE_MAX_BUF)) == NULL)
			err(BPSH_FAIL, "malloc");
		memcpy(j->line[s] + j->linelen[s], data + start, tail);
		j->linelen[s] += tail;
	}
}

/* The options every remote start shares: flags, files, the push. */
static void
exec_opts(struct bproc_exec_opts *o, int rank, int tty)
{
	memset(o, 0, sizeof(*o));
	o->rank = (unsigned int)rank;
	o->flags = (opt_nullin ? BPROC_EXEC_STDIN_NULL : 0) |
	    (opt_noio ? BPROC_EXEC_NOIO : 0) | (tty ? BPROC_EXEC_TTY : 0) |
	    (getenv("BPROC_NOTRACK") ? BPROC_EXEC_NOTRACK : 0) |
	    (getenv("BPROC_NOSPARE") ? BPROC_EXEC_NOSPARE : 0);
	o->file_in = opt_in;
	o->file_out = opt_out;
	o->file_err = opt_err;
	o->files = manifest.files;
	o->nfiles = manifest.n;
}

static void
job_start(struct job *j, char **cmd, int tee_stdin)
{
	struct bproc_exec_opts	o;
	int			pin[2] = { -1, -1 }, pout[2] = { -1, -1 };
	int			perr[2] = { -1, -1 }, route;

	route = opt_prefix || opt_line || opt_gather;
	if (tee_stdin && pipe2(pin, O_CLOEXEC) == -1)
		err(BPSH_FAIL, "pipe");
	if (route && (pipe2(pout, O_CLOEXEC) == -1 ||
	    pipe2(perr, O_CLOEXEC) == -1))
		err(BPSH_FAIL, "pipe");
	clock_gettime(CLOCK_MONOTONIC, &j->start);
	if ((j->pid = fork()) == -1)
		err(BPSH_FAIL, "fork");
	if (j->pid == 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGQUIT, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		if (tee_stdin)
			dup2(pin[0], STDIN_FILENO);
		/* node errors go to the real stderr, never through -p's prefix */
		if (route && (err_fd = fcntl(STDERR_FILENO, F_DUPFD, 3)) == -1)
			err_fd = STDERR_FILENO;
		if (route) {
			dup2(pout[1], STDOUT_FILENO);
			dup2(perr[1], STDERR_FILENO);
		}
		exec_opts(&o, j->rank, 0);
		o.err_fd = err_fd != STDERR_FILENO ? err_fd : 0;
		/* one bar on the terminal: the first node's push */
		if (j->rank == 0)
			progress_push(j->node, exec_file);
		bproc_rexec_opts(j->node, exec_file, cmd, environ, &o);
		_exit(rexec_failed(j->node));
	}
	j->in = pin[1];
	j->out[1] = pout[0];
	j->out[2] = perr[0];
	if (pin[0] >= 0)
		close(pin[0]);
	if (pout[1] >= 0)
		close(pout[1]);
	if (perr[1] >= 0)
		close(perr[1]);
	if (j->in >= 0)
		fcntl(j->in, F_SETFL, O_NONBLOCK);
}

static void
job_finish(struct job *j, int status)
{
	struct timespec	now;

	j->done = 1;
	j->status = exit_code(status);
	if (j->in >= 0) {
		close(j->in);
		j->in = -1;
	}
	if (opt_time) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		dprintf(err_fd, "%d: %.3fs\n", j->node,
		    (double)(now.tv_sec - j->start.tv_sec) +
		    (double)(now.tv_nsec - j->start.tv_nsec) / 1e9);
	}
}

/* Self-pipe: an exit wakes run_jobs' poll at once. */
static void
chld_wake(int sig)
{
	int	saved = errno;

	(void)sig;
	(void)write(chld_pipe[1], "", 1);
	errno = saved;
}

static void
chld_init(void)
{
	struct sigaction	sa;

	if (pipe2(chld_pipe, O_CLOEXEC | O_NONBLOCK) == -1)
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = chld_wake;
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, NULL);
}

/* Our stdin, tee'd to every job still reading; 0 once it ended. */
static int
tee_stdin(struct job *jobs, int n, char *buf, size_t len)
{
	ssize_t	r;
	int	k;

	r = read(STDIN_FILENO, buf, len);
	for (k = 0; k < n; k++) {
		if (jobs[k].in < 0)
			continue;
		if (r <= 0) {
			close(jobs[k].in);
			jobs[k].in = -1;
			continue;
		}
		/* a node that stops reading does not stall the rest */
		fcntl(jobs[k].in, F_SETFL, 0);
		if (write(jobs[k].in, buf, (size_t)r) != r) {
			close(jobs[k].in);
			jobs[k].in = -1;
		}
	}
	return r > 0;
}

/* Output from the job stream that fd is; its end flushes the last line. */
static void
job_read(struct job *jobs, int n, int fd, char *buf, size_t len)
{
	ssize_t	r;
	int	k, s;

	for (k = 0; k < n; k++)
		for (s = 1; s <= 2; s++) {
			if (jobs[k].out[s] != fd)
				continue;
			r = read(fd, buf, len);
			if (r > 0) {
				job_emit(&jobs[k], s, buf, (size_t)r, 0);
				continue;
			}
			job_emit(&jobs[k], s, "", 0, 1);
			close(jobs[k].out[s]);
			jobs[k].out[s] = -1;
		}
}

/* Reap what exited: how many of the jobs are left. */
static int
jobs_reap(struct job *jobs, int n, int left)
{
	pid_t	pid;
	int	i, status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		for (i = 0; i < n; i++)
			if (jobs[i].pid == pid && !jobs[i].done) {
				job_finish(&jobs[i], status);
				left--;
			}
	return left;
}

/* What to poll: output streams, stdin while a job reads it, the wakeup. */
static int
jobs_pollfds(struct job *jobs, int n, int stdin_open, struct pollfd *pfd)
{
	int	i, s, np = 0, any = 0;

	for (i = 0; i < n; i++)
		for (s = 1; s <= 2; s++)
			if (jobs[i].out[s] >= 0) {
				pfd[np].fd = jobs[i].out[s];
				pfd[np++].events = POLLIN;
			}
	for (i = 0; i < n; i++)
		any |= jobs[i].in >= 0;
	if (stdin_open && any) {
		pfd[np].fd = STDIN_FILENO;
		pfd[np++].events = POLLIN;
	}
	if (chld_pipe[0] >= 0) {
		pfd[np].fd = chld_pipe[0];
		pfd[np++].events = POLLIN;
	}
	return np;
}

/*
 * Run jobs [first, first+n): tee stdin, route output, reap.  Returns when
 * every one has exited and its output is drained.
 */
static void
run_jobs(struct job *jobs, int n, int *stdin_open)
{
	struct pollfd	*pfd;
	int		 left = 0, i, np, s, busy;
	char		 buf[65536];

	if ((pfd = calloc((size_t)(3 * n + 2), sizeof(*pfd))) == NULL)
		err(BPSH_FAIL, "calloc");
	/* a job that never started ("No such node") is not waited for */
	for (i = 0; i < n; i++)
		if (!jobs[i].done)
			left++;
	for (;;) {
		/* reap first, so an exit is seen even with no output */
		left = jobs_reap(jobs, n, left);
		for (i = 0, busy = 0; i < n; i++)
			for (s = 1; s <= 2; s++)
				busy |= jobs[i].out[s] >= 0;
		if (left == 0 && !busy)
			break;
		np = jobs_pollfds(jobs, n, *stdin_open, pfd);
		/* without the self-pipe, a short timeout finds the exits */
		if (poll(pfd, (nfds_t)np, chld_pipe[0] >= 0 ? -1 : 50) == -1 &&
		    errno != EINTR)
			err(BPSH_FAIL, "poll");
		for (i = 0; i < np; i++) {
			if (!pfd[i].revents)
				continue;
			if (pfd[i].fd == chld_pipe[0])
				while (read(chld_pipe[0], buf, sizeof(buf)) > 0)
					;
			else if (pfd[i].fd == STDIN_FILENO && *stdin_open)
				*stdin_open = tee_stdin(jobs, n, buf,
				    sizeof(buf));
			else if (pfd[i].fd != STDIN_FILENO)
				job_read(jobs, n, pfd[i].fd, buf, sizeof(buf));
		}
	}
	free(pfd);
}

/* What the command line asks beyond the opt_* flags. */
struct bpsh_args {
	int		  all;		/* -a: every node up */
	int		  allnotdown;	/* -A: every node not down */
	const char	 *spec;		/* the node set */
	char		**cmd;		/* the command and its arguments */
};

static void
parse_args(int argc, char **argv, struct bpsh_args *a)
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
	    longopts, NULL)) != -1) {
		switch (ch) {
		case 'a':
			a->all = 1;
			break;
		case 'A':
			a->allnotdown = 1;
			break;
		case 'n':
			opt_nullin = 1;
			break;
		case 'N':
			opt_noio = 1;
			break;
		case 'L':
			opt_line = 1;
			break;
		case 'p':
			opt_prefix = 1;
			break;
		case 's':
			opt_seq = 1;
			break;
		case 'd':
			opt_div = opt_seq = 1;	/* BProc: -d implies -s */
			break;
		case 'B':
			opt_gather = 1;
			break;
		case 't':
			opt_time = 1;
			break;
		case 'b':
			opt_batch = atoi(optarg);
			if (opt_batch <= 0)
				errx(BPSH_FAIL, "-b: need a positive number");
			break;
		case 'I':
			opt_in = optarg;
			break;
		case 'O':
			opt_out = optarg;
			break;
		case 'E':
			opt_err = optarg;
			break;
		case 'T':
			opt_tty = 1;
			break;
		case 'Y':
			opt_tty = 0;
			break;
		case 'P':
			if (optarg[0] != '/')
				errx(BPSH_FAIL, "--push %s: give an absolute path",
				    optarg);
			manifest_add(&manifest, optarg);
			break;
		case 'X':
			opt_nopush = 1;
			break;
		default:
			usage();
		}
	}
	argv += optind;
	if (!a->all && !a->allnotdown && argv[0] == NULL)
		usage();
	a->spec = a->all ? "allup" : a->allnotdown ? "!down" : *argv++;
	a->cmd = argv;
	if (opt_gather && (opt_prefix || opt_line || opt_div))
		errx(BPSH_FAIL, "-B: not with -p, -L or -d (it prints blocks)");
}

/*
 * Called as rsh/ssh (bprsh, bpssh, --rsh): bpsh_rsh.c reads the line and
 * pushes what it runs; the node's own /bin/sh runs it.  The front end as
 * the host runs it here, as ssh to localhost would.
 */
static void
rsh_args(int argc, char **argv, struct bpsh_args *a)
{
	struct rsh_call	r;

	memset(a, 0, sizeof(*a));
	rsh_parse(argc, argv, &r, &manifest);
	if (r.local) {
		execv(r.cmd[0], r.cmd);
		err(BPSH_FAIL, "%s", r.cmd[0]);
	}
	opt_nullin = r.nullin;
	opt_tty = r.tty;
	opt_nopush = 1;		/* the node's shell; the manifest has the rest */
	a->spec = strdup(r.node);
	a->cmd = r.cmd;
}

/*
 * The nodes to run on; *numnodes is the node count they were parsed
 * against.  One node named by number ("3", "n3") needs no snapshot of
 * the cluster: the master's answer to the EXEC says "No such node" or
 * "Node is down", and bpsh saves a round trip.  A set of several takes
 * the snapshot, so that nodes past the end fail here, not in a child
 * each.
 */
static void
nodes_select(const char *spec, struct nodeset *set, int *numnodes)
{
	struct bproc_node_info	*info;
	char			 errbuf[256];
	int			*states = NULL, i;

	if (nodeset_node_parse(spec) >= 0)
		*numnodes = NODESET_MAX + 1;
	else {
		if ((*numnodes = bproc_nodelist(&info)) < 0)
			errx(BPSH_FAIL, "%s", bproc_strerror());
		if ((states = calloc((size_t)*numnodes + 1,
		    sizeof(*states))) == NULL)
			err(BPSH_FAIL, "calloc");
		for (i = 0; i < *numnodes; i++)
			states[i] = info[i].state;
		free(info);
	}
	memset(set, 0, sizeof(*set));
	if (nodeset_parse(set, spec, *numnodes, states, errbuf,
	    sizeof(errbuf)) == -1)
		errx(BPSH_FAIL, "%s", errbuf);
	free(states);
}

/* -T's rules, and whether an interactive run gets a pty by default. */
static void
tty_decide(const struct bpsh_args *a, const struct nodeset *set)
{
	if (opt_tty == 1 && (set->count != 1 || opt_prefix || opt_line ||
	    opt_time || opt_div || opt_gather))
		errx(BPSH_FAIL, "-T: one node, and none of -p, -L, -t, -d, -B");
	if (opt_tty == 1 && (opt_noio || opt_nullin))
		errx(BPSH_FAIL, "-T: not with -n or -N (no input for the pty)");
	if (opt_tty == -1)
		opt_tty = set->count == 1 && !a->all && !a->allnotdown &&
		    !opt_prefix && !opt_line && !opt_time && !opt_div &&
		    !opt_gather &&
		    !opt_nullin && !opt_noio && !opt_in && !opt_out &&
		    !opt_err && isatty(STDIN_FILENO) &&
		    isatty(STDOUT_FILENO) && isatty(STDERR_FILENO) &&
		    tcgetpgrp(STDIN_FILENO) == getpgrp();
}

/*
 * The command as the front end's PATH finds it, with what it needs,
 * goes into the nodes' RAM; a command the front end lacks is looked up
 * on the node's PATH instead.
 */
static void
cmd_prepare(const char *cmd)
{
	static char	abs[4096];

	exec_file = cmd;
	if (!opt_nopush && manifest_resolve(cmd, abs, sizeof(abs)) == 0) {
		manifest_command(&manifest, abs);
		exec_file = abs;
	}
	if (manifest.errors)
		errx(BPSH_FAIL, "cannot push %d file%s (see above)",
		    manifest.errors, manifest.errors > 1 ? "s" : "");
	hashcache_save();
}

/* One node, plain I/O: become the ghost; the shell sees it directly. */
static int
run_one(int node, int numnodes, char **cmd)
{
	struct bproc_exec_opts	o;

	if (node >= numnodes) {
		node_error(node, "No such node");
		return BPSH_FAIL;
	}
	exec_opts(&o, 0, opt_tty);
	progress_push(node, exec_file);
	bproc_rexec_opts(node, exec_file, cmd, environ, &o);
	return rexec_failed(node);
}

/* -B: every node has ended; its output in blocks, stdout then stderr. */
static void
gather_jobs(struct job *jobs, size_t n)
{
	struct gather_out	*outs;
	size_t			 k;
	int			 s;

	if ((outs = calloc(n + 1, sizeof(*outs))) == NULL)
		err(BPSH_FAIL, "calloc");
	for (s = 1; s <= 2; s++) {
		for (k = 0; k < n; k++) {
			outs[k].node = jobs[k].node;
			outs[k].data = jobs[k].gbuf[s].data;
			outs[k].len = jobs[k].gbuf[s].len;
		}
		if (gather_print(s == 1 ? STDOUT_FILENO : STDERR_FILENO,
		    outs, n) == -1)
			err(BPSH_FAIL, "gather");
	}
	for (k = 0; k < n; k++)
		for (s = 1; s <= 2; s++)
			free(jobs[k].gbuf[s].data);
	free(outs);
}

/* Many nodes (or routed output): a ghost per node, in batches. */
static int
run_many(const struct nodeset *set, int numnodes, char **cmd)
{
	struct job	*jobs;
	size_t		 k;
	int		 i, rc = 0, stdin_open, batch;

	if ((jobs = calloc(set->count, sizeof(*jobs))) == NULL)
		err(BPSH_FAIL, "calloc");
	chld_init();
	signal(SIGINT, SIG_IGN);	/* the ghosts get it and die of it */
	signal(SIGQUIT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	stdin_open = !opt_nullin && !opt_noio && !opt_in;
	batch = opt_seq ? 1 : opt_batch ? opt_batch : (int)set->count;
	for (k = 0; k < set->count; k += (size_t)batch) {
		int	nb = (int)(set->count - k) < batch ?
			    (int)(set->count - k) : batch;
		int	nrun = 0;

		for (i = 0; i < nb; i++) {
			struct job	*j = &jobs[k + (size_t)i];

			j->node = set->nodes[k + (size_t)i];
			j->rank = (int)k + i;
			j->in = j->out[1] = j->out[2] = -1;
			if (j->node >= numnodes) {
				node_error(j->node, "No such node");
				j->done = 1;
				j->status = BPSH_FAIL;
				continue;
			}
			/* BProc's divider: before each node, with its number */
			if (opt_div)
				printf("%d\t%s\n", j->node, BPSH_DIVIDER);
			fflush(stdout);
			job_start(j, cmd, stdin_open);
			nrun++;
		}
		if (nrun)
			run_jobs(&jobs[k], nb, &stdin_open);
	}
	for (k = 0; k < set->count; k++)
		if (jobs[k].status > rc)
			rc = jobs[k].status;
	if (opt_gather)
		gather_jobs(jobs, set->count);
	free(jobs);
	return rc;
}

int
main(int argc, char **argv)
{
	struct bpsh_args	a;
	struct nodeset		set;
	int			numnodes, rc;

	if (rsh_mode(argc, argv))
		rsh_args(argc, argv, &a);
	else
		parse_args(argc, argv, &a);
	nodes_select(a.spec, &set, &numnodes);
	if (a.cmd[0] == NULL)
		usage();
	if (set.count == 0)
		errx(BPSH_FAIL, "no nodes to run on");
	tty_decide(&a, &set);
	cmd_prepare(a.cmd[0]);

	if (set.count == 1 && !opt_prefix && !opt_line && !opt_time &&
	    !opt_div && !opt_gather)
		return run_one(set.nodes[0], numnodes, a.cmd);
	rc = run_many(&set, numnodes, a.cmd);
	/*
	 * Ctrl-C killed the command: die of it too, so that a calling shell
	 * stops its loop (the "wait and cooperative exit" rule).
	 */
	if (rc == 128 + SIGINT || rc == 128 + SIGQUIT) {
		signal(rc - 128, SIG_DFL);
		kill(getpid(), rc - 128);
	}
	return rc;
}
