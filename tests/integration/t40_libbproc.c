/*
 * t40_libbproc: libbproc as a C program uses it, on a 4-node cluster.
 * Built by t40_bpsh.sh into its temp dir (gcc ... out/lib/libbproc.a).
 *
 *	t40_libbproc check	run the checks; one "ok: ..." or "FAIL: ..."
 *				line each; exit 0 when all passed, else 1
 *	t40_libbproc procs	print bproc_proclist()'s rows as
 *				"PID NODE RPID UID CMD", then "count N"
 *	t40_libbproc rexec NODE CMD [ARGS...]
 *				bproc_rexec(); on failure print
 *				"rexec: <errno name>: <strerror>" and exit 255
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bproc.h"

#define NNODES	4

extern char **environ;

static int	fails;

static void
result(int ok, const char *fmt, ...)
{
	va_list	ap;

	printf("%s: ", ok ? "ok" : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!ok)
		fails++;
}

static const char *
errname(int e)
{
	switch (e) {
	case ENODEV:	return "ENODEV";
	case EHOSTDOWN:	return "EHOSTDOWN";
	case EACCES:	return "EACCES";
	case EPERM:	return "EPERM";
	case ENOENT:	return "ENOENT";
	case EINVAL:	return "EINVAL";
	case ECONNREFUSED: return "ECONNREFUSED";
	default:	return "E?";
	}
}

/* waitpid with a deadline (seconds); 0 and *status, or -1 on timeout */
static int
wait_deadline(pid_t pid, int *status, int secs)
{
	int	i;

	for (i = 0; i < secs * 100; i++) {
		pid_t	r = waitpid(pid, status, WNOHANG);

		if (r == pid)
			return 0;
		if (r == -1)
			return -1;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, status, 0);
	return -1;
}

static void
describe(char *buf, size_t len, int status)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exit %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "signal %d%s", WTERMSIG(status),
		    WCOREDUMP(status) ? " (core dumped)" : "");
	else
		snprintf(buf, len, "status 0x%x", status);
}

/* fork a child that bproc_rexec()s; the child's PID is the ghost's */
static pid_t
fork_rexec(int node, char *const argv[])
{
	pid_t	pid;

	fflush(stdout);
	if ((pid = fork()) == 0) {
		bproc_rexec(node, argv[0], argv, environ);
		_exit(200 + (errno & 31));
	}
	return pid;
}

static int
find_proc(pid_t pid, struct bproc_proc_info *out)
{
	struct bproc_proc_info	*pl;
	int			 n, i, found = 0;

	if ((n = bproc_proclist(&pl)) < 0)
		return -1;
	for (i = 0; i < n; i++)
		if (pl[i].pid == pid) {
			*out = pl[i];
			found = 1;
		}
	free(pl);
	return found;
}

static int
check(void)
{
	struct bproc_node_info	*list, ni;
	struct bproc_proc_info	 pi;
	int			 nodes[NNODES] = { 0, 1, 2, 3 };
	pid_t			 pids[NNODES], pid;
	char			 d[64], cmd[128];
	int			 n, i, ok, status, r;

	n = bproc_numnodes();
	result(n == NNODES, "bproc_numnodes() == %d (got %d)", NNODES, n);
	r = bproc_currnode();
	result(r == BPROC_NODE_MASTER,
	    "bproc_currnode() is BPROC_NODE_MASTER on the front end (got %d)",
	    r);

	n = bproc_nodelist(&list);
	ok = n == NNODES;
	for (i = 0; ok && i < n; i++)
		ok = list[i].node == i && list[i].state == BPROC_STATE_UP;
	result(ok, "bproc_nodelist() lists nodes 0-3, all up (got %d)", n);
	if (n > 0)
		free(list);
	ok = 1;
	for (i = 0; i < NNODES; i++)
		ok &= bproc_nodestatus(i) == BPROC_STATE_UP;
	result(ok, "bproc_nodestatus(0..3) == BPROC_STATE_UP");
	r = bproc_nodeinfo(2, &ni);
	result(r == 0 && ni.node == 2 && ni.state == BPROC_STATE_UP &&
	    (ni.mode & 0111) == 0111,
	    "bproc_nodeinfo(2): node 2, up, mode 0%o", r == 0 ? ni.mode : 0);
	errno = 0;
	r = bproc_nodestatus(9);
	result(r == -1, "bproc_nodestatus(9) fails (%d, %s)", r,
	    errname(errno));
	result(bproc_access(1, 1) == 0, "bproc_access(1) == 0 for root");

	/* bproc_vrexec: one ghost per node, BPROC_RANK = index */
	{
		char	*argv[] = { "sh", "-c", "exit $BPROC_RANK", NULL };

		fflush(stdout);
		n = bproc_vrexec(NNODES, nodes, "/bin/sh", argv, environ,
		    pids);
		result(n == NNODES, "bproc_vrexec on 4 nodes started %d", n);
		for (i = 0; i < NNODES; i++) {
			if (pids[i] <= 0) {
				result(0, "vrexec node %d: error %d", i,
				    -pids[i]);
				continue;
			}
			if (wait_deadline(pids[i], &status, 20) == -1) {
				result(0, "vrexec node %d: ghost %d did not "
				    "exit in 20 s", i, pids[i]);
				continue;
			}
			describe(d, sizeof(d), status);
			result(WIFEXITED(status) && WEXITSTATUS(status) == i,
			    "vrexec node %d: waitpid(ghost %d) -> %s "
			    "(want exit %d)", i, pids[i], d, i);
		}
	}

	/* bproc_rexec in a forked child: that child is the ghost */
	{
		char	*argv[] = { "sh", "-c", "exit 5", NULL };

		pid = fork_rexec(2, argv);
		r = wait_deadline(pid, &status, 20);
		describe(d, sizeof(d), status);
		result(r == 0 && WIFEXITED(status) &&
		    WEXITSTATUS(status) == 5,
		    "bproc_rexec(2, sh -c 'exit 5') in a child -> %s", d);
	}
	/* the remote runs with the ghost's PID */
	{
		char	*argv[] = { "sh", "-c", cmd, NULL };

		/* the child asks the remote to compare $$ with its own PID */
		fflush(stdout);
		if ((pid = fork()) == 0) {
			snprintf(cmd, sizeof(cmd), "test $$ = %d", (int)getpid());
			bproc_rexec(3, argv[0], argv, environ);
			_exit(200);
		}
		r = wait_deadline(pid, &status, 20);
		describe(d, sizeof(d), status);
		result(r == 0 && WIFEXITED(status) &&
		    WEXITSTATUS(status) == 0,
		    "the remote's $$ on node 3 is the ghost's PID %d (%s)",
		    (int)pid, d);
	}
	/* a signal death is mirrored: killed by the same signal, no core */
	{
		char	*argv[] = { "sh", "-c", "kill -USR1 $$", NULL };

		pid = fork_rexec(1, argv);
		r = wait_deadline(pid, &status, 20);
		describe(d, sizeof(d), status);
		result(r == 0 && WIFSIGNALED(status) &&
		    WTERMSIG(status) == SIGUSR1 && !WCOREDUMP(status),
		    "remote killed by SIGUSR1 -> ghost killed by SIGUSR1 (%s)",
		    d);
	}
	/* bproc_proclist shows a running ghost; SIGTERM to it ends both */
	{
		char	*argv[] = { "sleep", "100", NULL };
		int	 found = 0;

		pid = fork_rexec(1, argv);
		for (i = 0; i < 500 && found <= 0; i++) {
			found = find_proc(pid, &pi);
			if (found <= 0)
				usleep(10000);
		}
		result(found == 1 && pi.node == 1 && pi.uid == 0 &&
		    strstr(pi.cmd, "sleep") != NULL,
		    "bproc_proclist() lists ghost %d on node %d, rpid %d, "
		    "cmd '%s'", (int)pid, found == 1 ? pi.node : -1,
		    found == 1 ? (int)pi.rpid : -1, found == 1 ? pi.cmd : "");
		kill(pid, SIGTERM);
		r = wait_deadline(pid, &status, 20);
		describe(d, sizeof(d), status);
		result(r == 0 && WIFSIGNALED(status) &&
		    WTERMSIG(status) == SIGTERM,
		    "SIGTERM to the ghost -> %s", d);
		for (i = 0; i < 300; i++) {
			if ((found = find_proc(pid, &pi)) == 0)
				break;
			usleep(10000);
		}
		result(found == 0, "the record is gone from bproc_proclist()");
	}
	/* errors */
	{
		char	*argv[] = { "true", NULL };

		errno = 0;
		r = bproc_rexec(9, "true", argv, environ);
		result(r == -1 && errno == ENODEV,
		    "bproc_rexec(9) -> -1 ENODEV (%d %s)", r, errname(errno));
	}
	{
		char	*argv[] = { "no-such-command-t40", NULL };

		errno = 0;
		r = bproc_rexec(0, argv[0], argv, environ);
		result(r == -1 && errno == ENOENT,
		    "bproc_rexec of a missing command -> -1 ENOENT (%d %s)",
		    r, errname(errno));
	}
	return fails ? 1 : 0;
}

static int
procs(void)
{
	struct bproc_proc_info	*pl;
	int			 n, i;

	if ((n = bproc_proclist(&pl)) < 0) {
		perror("bproc_proclist");
		return 1;
	}
	for (i = 0; i < n; i++)
		printf("%d %d %d %u %s\n", (int)pl[i].pid, pl[i].node,
		    (int)pl[i].rpid, (unsigned)pl[i].uid, pl[i].cmd);
	printf("count %d\n", n);
	if (n > 0)
		free(pl);
	return 0;
}

int
main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 2 && strcmp(argv[1], "check") == 0)
		return check();
	if (argc >= 2 && strcmp(argv[1], "procs") == 0)
		return procs();
	if (argc >= 4 && strcmp(argv[1], "rexec") == 0) {
		int	e;

		bproc_rexec(atoi(argv[2]), argv[3], argv + 3, environ);
		e = errno;
		printf("rexec: %s: %s\n", errname(e), strerror(e));
		return 255;
	}
	fprintf(stderr, "usage: t40_libbproc check | procs | rexec NODE CMD...\n");
	return 2;
}
