/*
 * bpsh_jobs.c: many nodes, or routed output: one ghost per node as our
 * child, in batches; our stdin tee'd to them, their output prefixed
 * (-p), line-buffered (-L) or gathered in blocks (-B), their run times
 * (-t), bpsh's status the highest of theirs.
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
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
#include "bpsh_int.h"
#include "bpsh_gather.h"

/* -d: BProc printed the node, a tab and 69 dashes before each node */
#define BPSH_DIVIDER	"-----------------------------------" \
			"----------------------------------"

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

static int		 chld_pipe[2] = { -1, -1 };	/* SIGCHLD wakes poll */

/* Write whole lines, prefixed with -p; keep the tail until its newline. */
static void
job_emit(struct job *j, int s, const char *data, size_t len, int flush)
{
	char	 pfx[16];
	size_t	 i, start = 0;
	int	 fd = s == 1 ? STDOUT_FILENO : STDERR_FILENO;

	if (bpsh_opt.gather) {
		gather_add(&j->gbuf[s], data, len);
		return;
	}
	if (!bpsh_opt.prefix && !bpsh_opt.line) {
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
		dprintf(fd, "%s%.*s%.*s%s", bpsh_opt.prefix ? pfx : "",
		    (int)j->linelen[s], j->line[s] ? j->line[s] : "",
		    (int)(i - start), data + start, eol ? "\n" : "\n");
		j->linelen[s] = 0;
		start = i + 1;
	}
	if (start < len) {
		size_t	tail = len - start;

		if (j->linelen[s] + tail > LINE_MAX_BUF) {
			/* an overlong line goes out in pieces */
			dprintf(fd, "%s%.*s%.*s\n", bpsh_opt.prefix ? pfx : "",
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

static void
job_start(struct job *j, char **cmd, int tee_stdin)
{
	struct bproc_exec_opts	o;
	int			pin[2] = { -1, -1 }, pout[2] = { -1, -1 };
	int			perr[2] = { -1, -1 }, route;

	route = bpsh_opt.prefix || bpsh_opt.line || bpsh_opt.gather;
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
		if (route &&
		    (bpsh_err_fd = fcntl(STDERR_FILENO, F_DUPFD, 3)) == -1)
			bpsh_err_fd = STDERR_FILENO;
		if (route) {
			dup2(pout[1], STDOUT_FILENO);
			dup2(perr[1], STDERR_FILENO);
		}
		bpsh_exec_opts(&o, j->rank, 0);
		o.err_fd = bpsh_err_fd != STDERR_FILENO ? bpsh_err_fd : 0;
		/* one bar on the terminal: the first node's push */
		_exit(bpsh_rexec(j->node, cmd, &o, j->rank == 0));
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
	j->status = bpsh_exit_code(status);
	if (j->in >= 0) {
		close(j->in);
		j->in = -1;
	}
	if (bpsh_opt.time) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		dprintf(bpsh_err_fd, "%d: %.3fs\n", j->node,
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
int
bpsh_run_many(const struct nodeset *set, int numnodes, char **cmd)
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
	stdin_open = !bpsh_opt.nullin && !bpsh_opt.noio && !bpsh_opt.in;
	batch = bpsh_opt.seq ? 1 : bpsh_opt.batch ? bpsh_opt.batch :
	    (int)set->count;
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
				bpsh_node_error(j->node, "No such node");
				j->done = 1;
				j->status = BPSH_FAIL;
				continue;
			}
			/* BProc's divider: before each node, with its number */
			if (bpsh_opt.div)
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
	if (bpsh_opt.gather)
		gather_jobs(jobs, set->count);
	free(jobs);
	return rc;
}
