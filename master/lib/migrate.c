/*
 * libbproc: process migration (BProc's rfork, vrfork, move, execmove).
 * The process that goes sends bpmaster an EXEC with EXEC_F_IMAGE: its
 * file mappings (program, libraries) as the push manifest, so the node's
 * RAM cache has them at the same paths, pushed only when missing; once the
 * node has started bprestore under the ghost's PID, the image itself
 * (bproc_dump, vmadump.c) follows in MSG_IMAGE frames on the same
 * connection, and the node says whether the restorer took it.  Then the
 * sender execs bpghost: it is the ghost of the process it was, with the
 * same PID.  In the image bproc_dump returns BPROC_DUMP_RESUMED, which is
 * where the process continues on the node (docs/design-notes.md,
 * "Migration").
 */
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bproc.h"
#include "bproc_dump.h"
#include "libbproc_int.h"
#include "migrate_int.h"

#define MIG_VR_AHEAD	8		/* vrfork's children on their way at once */

static pid_t	mig_rfork_wait(pid_t, int);

/*
 * rfork from a node: fork here (the child is the caller's real child on
 * this node, its ghost the caller's ghost's child); the child goes home
 * and on to node, and its copy here stays as its stand-in.  The parent
 * gets the PID once the child runs at node, or -1 and its errno.
 */
static pid_t
mig_rfork_node(int node, unsigned int rank, int *resumed)
{
	struct mig_req	 r;
	struct mig_fail	 f;
	pid_t		 pid;
	int		 p[2], ret;

	*resumed = 0;
	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	if ((pid = fork()) == -1) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		close(p[0]);
		if (libmig_home(node, p[1]) == 1) {
			/* at home; the stand-in waits on the node */
			if (node != BPROC_NODE_MASTER) {
				if (libmig_prepare(&r) == -1)
					libmig_onward_failed(errno);
				ret = libmig_go(node, &r, rank);
				libmig_release(&r);
				if (ret != 1)
					libmig_onward_failed(errno);
			}
			*resumed = 1;
			return 0;
		}
		/* still here, unchanged: the move home failed */
		memset(&f, 0, sizeof(f));
		f.e = errno;
		snprintf(f.msg, sizeof(f.msg), "%s", bproc_strerror());
		(void)write(p[1], &f, sizeof(f));
		_exit(255);
	}
	close(p[1]);
	return mig_rfork_wait(pid, p[0]);
}

/* What every call checks first: a node that is not this one, one thread. */
static int
mig_check(int node)
{
	int	n;

	libbproc_errclear();
	if (node < 0 && node != BPROC_NODE_MASTER) {
		errno = EINVAL;
		return -1;
	}
	if ((n = libmig_nthreads()) != 1) {
		if (n > 1) {
			libbproc_errmsg("a multi-threaded process cannot "
			    "migrate");
			errno = ENOTSUP;
		}
		return -1;
	}
	return 0;
}

/*
 * Fork, and send the child to node; the parent gets its PID and the read
 * end of a pipe on which a failed child writes its errno and text (none:
 * it runs there).  In the child, that runs on the node: 0, *resumed set.
 */
static pid_t
mig_rfork_start(int node, const struct mig_req *r, unsigned int rank,
    int *rfd, int *resumed)
{
	struct mig_fail	 f;
	pid_t		 pid;
	int		 p[2];

	*resumed = 0;
	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	if ((pid = fork()) == -1) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		close(p[0]);
		if (libmig_go(node, r, rank) == 1) {
			*resumed = 1;
			return 0;
		}
		memset(&f, 0, sizeof(f));
		f.e = errno;
		snprintf(f.msg, sizeof(f.msg), "%s", bproc_strerror());
		(void)write(p[1], &f, sizeof(f));
		_exit(255);
	}
	close(p[1]);
	*rfd = p[0];
	return pid;
}

/* Until the child runs on its node (its PID) or failed (-1, its errno). */
static pid_t
mig_rfork_wait(pid_t pid, int rfd)
{
	struct mig_fail	 f;
	ssize_t		 n;

	do
		n = read(rfd, &f, sizeof(f));
	while (n == -1 && errno == EINTR);
	close(rfd);
	if (n == (ssize_t)sizeof(f)) {
		waitpid(pid, NULL, 0);
		libbproc_errmsg("%s", f.msg);
		errno = f.e;
		return -1;
	}
	return pid;
}

pid_t
bproc_rfork(int node)
{
	struct mig_req	r;
	pid_t		pid;
	int		resumed, rfd = -1;

	if (node == bproc_currnode())
		return fork();
	if (mig_check(node) == -1)
		return -1;
	if (bproc_currnode() != BPROC_NODE_MASTER) {
		/* from a node: a stand-in stays here (docs/design-notes.md) */
		pid = mig_rfork_node(node, 0, &resumed);
		return resumed ? 0 : pid;
	}
	if (libmig_prepare(&r) == -1)
		return -1;
	pid = mig_rfork_start(node, &r, 0, &rfd, &resumed);
	libmig_release(&r);
	if (pid <= 0 || resumed)
		return pid;
	return mig_rfork_wait(pid, rfd);
}

/*
 * The children go out MIG_VR_AHEAD at a time, each dumping itself and
 * streaming its image to its node while the others do; the parent waits
 * for the oldest before it starts one more.
 */
int
bproc_vrfork(int n, const int *nodes, pid_t *pids)
{
	struct mig_req	r;
	pid_t		pid;
	int		i, k, started = 0, resumed, rfd[MIG_VR_AHEAD];

	if (n <= 0 || nodes == NULL || pids == NULL) {
		errno = EINVAL;
		return -1;
	}
	/* the front end goes out to nodes only (BPROC_NODE_MASTER: EINVAL) */
	for (i = 0; i < n; i++) {
		if (nodes[i] < 0 && bproc_currnode() == BPROC_NODE_MASTER) {
			errno = EINVAL;
			return -1;
		}
		if (mig_check(nodes[i]) == -1)
			return -1;
	}
	/* from a node: one child after the other, each with its stand-in */
	if (bproc_currnode() != BPROC_NODE_MASTER) {
		for (i = 0; i < n; i++) {
			if (nodes[i] == bproc_currnode())
				pid = fork();
			else
				pid = mig_rfork_node(nodes[i], (unsigned int)i,
				    &resumed);
			if (pid == 0)
				return i;
			pids[i] = pid == -1 ? -errno : pid;
			if (pid > 0)
				started++;
		}
		return started;
	}
	/* one manifest (its files hashed once) for every child */
	if (libmig_prepare(&r) == -1)
		return -1;
	for (i = 0; i < n + MIG_VR_AHEAD; i++) {
		/* the one started MIG_VR_AHEAD ago: running there, or not */
		if ((k = i - MIG_VR_AHEAD) >= 0 && k < n && pids[k] > 0) {
			pids[k] = mig_rfork_wait(pids[k], rfd[k % MIG_VR_AHEAD]);
			if (pids[k] == -1)
				pids[k] = -errno;
			else
				started++;
		}
		if (i >= n)
			continue;
		pid = mig_rfork_start(nodes[i], &r, (unsigned int)i,
		    &rfd[i % MIG_VR_AHEAD], &resumed);
		if (resumed) {
			/* the child i, on its node (the restorer closed the rest) */
			libmig_release(&r);
			return i;
		}
		pids[i] = pid == -1 ? -errno : pid;
	}
	libmig_release(&r);
	return started;
}

int
bproc_move(int node)
{
	struct mig_req	r;
	int		ret;

	if (node == bproc_currnode())
		return 0;
	if (mig_check(node) == -1)
		return -1;
	/* node to node goes through the front end: home first */
	if (bproc_currnode() != BPROC_NODE_MASTER && libmig_home(0, -1) == -1)
		return -1;
	if (node == BPROC_NODE_MASTER)
		return 0;
	if (libmig_prepare(&r) == -1)
		return -1;
	ret = libmig_go(node, &r, 0);
	libmig_release(&r);
	return ret == 1 ? 0 : -1;
}

/* BProc's execmove: the caller becomes file on node; rexec does exactly that. */
int
bproc_execmove(int node, const char *file, char *const argv[],
    char *const envp[])
{
	return bproc_rexec(node, file, argv, envp);
}

int
bproc_vexecmove(int n, const int *nodes, pid_t *pids, const char *file,
    char *const argv[], char *const envp[])
{
	return bproc_vrexec(n, nodes, file, argv, envp, pids);
}

