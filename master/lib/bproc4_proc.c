/*
 * libbproc, BProc 4 layer: process creation and migration, with BProc's
 * I/O setup (struct bproc_io_t) mapped onto what bproc-ng does.
 *
 * rexec, execmove, vexecmove: the process starts on the node with its
 * stdio forwarded through the ghost.  A BPROC_IO_FILE entry for fd 0, 1
 * or 2 becomes a file opened on the node as bpsh -I/-O/-E opens it
 * (O_RDONLY for 0; O_WRONLY|O_CREAT|O_TRUNC, mode 0666, for 1 and 2); a
 * BPROC_IO_SOCKET entry for fd 0-2 is connected here, by the caller that
 * becomes the ghost, so the forwarded stream goes to that address.
 * rfork, vrfork, move: the entries are carried out where the process
 * resumes, on the node: files opened with their flags, mode and offset,
 * sockets connected, at any fd.  iolen -1 is the default forwarding;
 * iolen 0 leaves no I/O (rexec: none forwarded; migration: 0-2 become
 * /dev/null).  What bproc-ng cannot do is refused before anything is
 * done: ENOTSUP for BPROC_IO_MEMFILE, the SEND_INFO and DELAY flags, and
 * rexec entries other than the above; EINVAL for malformed ones.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sys/bproc.h>
#include "bproc4_int.h"

#define IO_REXEC	1	/* io_check: for a rexec (fds 0-2, node's rule) */
#define IO_MOVE		2	/* io_check: for a migration */

static int
io_check(const struct bproc_io_t *io, int iolen, int how)
{
	int	i, j;

	if (iolen < -1 || iolen > BPROC_IO_MAX_LEN || (iolen > 0 && io == NULL))
		return bproc4_fail(EINVAL, "bad I/O vector (length %d)", iolen);
	for (i = 0; i < iolen; i++) {
		const struct bproc_io_t	*e = &io[i];

		if (e->fd < 0)
			return bproc4_fail(EINVAL, "I/O entry %d: fd %d", i,
			    e->fd);
		for (j = 0; j < i; j++)
			if (io[j].fd == e->fd)
				return bproc4_fail(EINVAL, "I/O: fd %d twice",
				    e->fd);
		if (e->flags != 0)
			return bproc4_fail(ENOTSUP, "I/O fd %d: flags 0x%x "
			    "(SEND_INFO, DELAY) are not supported", e->fd,
			    (unsigned int)e->flags);
		if (e->type == BPROC_IO_SOCKET) {
			if (e->d.addr.sa_family != AF_INET)
				return bproc4_fail(EINVAL, "I/O fd %d: only "
				    "AF_INET sockets", e->fd);
		} else if (e->type == BPROC_IO_FILE) {
			if (memchr(e->d.file.name, '\0',
			    sizeof(e->d.file.name)) == NULL ||
			    e->d.file.name[0] == '\0')
				return bproc4_fail(EINVAL, "I/O fd %d: no file "
				    "name", e->fd);
		} else
			return bproc4_fail(ENOTSUP, "I/O fd %d: type %d is not "
			    "supported", e->fd, e->type);
		if (how == IO_MOVE)
			continue;
		/* rexec: what the node's -I/-O/-E and the ghost can do */
		if (e->fd > 2)
			return bproc4_fail(ENOTSUP, "I/O fd %d: rexec sets up "
			    "fds 0-2 only", e->fd);
		if (e->type == BPROC_IO_FILE && (e->d.file.offset != 0 ||
		    e->d.file.flags != (e->fd == 0 ? O_RDONLY :
		    (O_WRONLY | O_CREAT | O_TRUNC)) ||
		    (e->fd != 0 && e->d.file.mode != 0666)))
			return bproc4_fail(ENOTSUP, "I/O fd %d: rexec opens "
			    "'%s' only as bpsh -I/-O/-E do", e->fd,
			    e->d.file.name);
	}
	return 0;
}

static int
io_socket(const struct bproc_io_t *e)
{
	int	s;

	if ((s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(s, &e->d.addr, sizeof(struct sockaddr_in)) == -1) {
		int	saved = errno;

		close(s);
		errno = saved;
		return -1;
	}
	return s;
}

/* Put descriptor src at e->fd (src closed unless it is e->fd). */
static int
io_place(int src, int fd)
{
	if (src == fd) {
		int	fl = fcntl(fd, F_GETFD);

		return fl == -1 ? -1 : fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC);
	}
	if (dup2(src, fd) == -1) {
		close(src);
		return -1;
	}
	close(src);
	return 0;
}

/* Where a migrated process resumes: carry the entries out. */
static int
io_apply(const struct bproc_io_t *io, int iolen)
{
	int	i, fd, d;

	if (iolen == 0) {
		if ((fd = open("/dev/null", O_RDWR)) == -1)
			return bproc4_fail(errno, "/dev/null: %s",
			    strerror(errno));
		for (d = 0; d < 3; d++)
			if (fd != d)
				dup2(fd, d);
		if (fd > 2)
			close(fd);
		return 0;
	}
	for (i = 0; i < iolen; i++) {
		const struct bproc_io_t	*e = &io[i];

		if (e->type == BPROC_IO_SOCKET)
			fd = io_socket(e);
		else {
			fd = open(e->d.file.name, e->d.file.flags | O_CLOEXEC,
			    e->d.file.mode);
			if (fd != -1 && e->d.file.offset != 0 &&
			    lseek(fd, e->d.file.offset, SEEK_SET) == -1) {
				close(fd);
				fd = -1;
			}
		}
		if (fd == -1 || io_place(fd, e->fd) == -1)
			return bproc4_fail(errno, "I/O fd %d: %s", e->fd,
			    strerror(errno));
	}
	return 0;
}

/* The dump flags BProc took: every value gives the same image here. */
static int
flags_check(int flags)
{
	if (flags & ~BPROC_DUMP_ALL)
		return bproc4_fail(EINVAL, "dump flags 0x%x", (unsigned)flags);
	return 0;
}

static int
node_check(int node)
{
	node = bproc4_node_arg(node);
	if (node < BPROC_NODE_MASTER)
		return bproc4_fail(BE_INVALIDNODE, "No such node %d", node);
	return node;
}

int
_bproc_move_io(int node, struct bproc_io_t *io, int iolen, int flags)
{
	if ((node = node_check(node)) < BPROC_NODE_MASTER ||
	    io_check(io, iolen, IO_MOVE) == -1 || flags_check(flags) == -1)
		return -1;
	if (ng_move(node) == -1)
		return bproc4_native_fail();
	return iolen >= 0 ? io_apply(io, iolen) : 0;
}

int
bproc_move_io(int node, struct bproc_io_t *io, int iolen)
{
	return _bproc_move_io(node, io, iolen, BPROC_DUMP_EXEC | BPROC_DUMP_OTHER);
}

int
_bproc_move(int node, int flags)
{
	return _bproc_move_io(node, NULL, -1, flags);
}

int
bproc_move(int node)
{
	return _bproc_move_io(node, NULL, -1, BPROC_DUMP_EXEC | BPROC_DUMP_OTHER);
}

/*
 * One child per node; each child gets its index, the parent the number
 * started with pids[i] the child's PID or -errno (BProc's codes).  A
 * child whose I/O cannot be set up on its node says so and exits 127.
 */
int
_bproc_vrfork_io(int nnodes, int *nodes, int *pids, struct bproc_io_t *io,
    int iolen, int flags)
{
	int	i, node, started = 0;
	pid_t	pid;

	if (nnodes <= 0 || nodes == NULL || pids == NULL)
		return bproc4_fail(EINVAL, "no nodes to fork to");
	if (io_check(io, iolen, IO_MOVE) == -1 || flags_check(flags) == -1)
		return -1;
	for (i = 0; i < nnodes; i++)
		if (node_check(nodes[i]) < BPROC_NODE_MASTER)
			return -1;
	for (i = 0; i < nnodes; i++) {
		node = bproc4_node_arg(nodes[i]);
		if ((pid = ng_rfork(node)) == 0) {
			if (iolen >= 0 && io_apply(io, iolen) == -1) {
				dprintf(2, "bproc_vrfork: %s\n",
				    bproc_strerror(errno));
				_exit(127);
			}
			return i;
		}
		if (pid < 0) {
			bproc4_native_fail();
			pids[i] = -errno;
		} else {
			pids[i] = pid;
			started++;
		}
	}
	return started;
}

int
bproc_vrfork_io(int nnodes, int *nodes, int *pids, struct bproc_io_t *io,
    int iolen)
{
	return _bproc_vrfork_io(nnodes, nodes, pids, io, iolen,
	    BPROC_DUMP_EXEC | BPROC_DUMP_OTHER);
}

int
_bproc_vrfork(int nnodes, int *nodes, int *pids, int flags)
{
	return _bproc_vrfork_io(nnodes, nodes, pids, NULL, -1, flags);
}

int
bproc_vrfork(int nnodes, int *nodes, int *pids)
{
	return _bproc_vrfork_io(nnodes, nodes, pids, NULL, -1,
	    BPROC_DUMP_EXEC | BPROC_DUMP_OTHER);
}

int
_bproc_rfork_io(int node, struct bproc_io_t *io, int iolen, int flags)
{
	pid_t	pid;

	if ((node = node_check(node)) < BPROC_NODE_MASTER ||
	    io_check(io, iolen, IO_MOVE) == -1 || flags_check(flags) == -1)
		return -1;
	if ((pid = ng_rfork(node)) == -1)
		return bproc4_native_fail();
	if (pid == 0 && iolen >= 0 && io_apply(io, iolen) == -1) {
		dprintf(2, "bproc_rfork: %s\n", bproc_strerror(errno));
		_exit(127);
	}
	return pid;
}

int
bproc_rfork_io(int node, struct bproc_io_t *io, int iolen)
{
	return _bproc_rfork_io(node, io, iolen, BPROC_DUMP_EXEC | BPROC_DUMP_OTHER);
}

int
_bproc_rfork(int node, int flags)
{
	return _bproc_rfork_io(node, NULL, -1, flags);
}

int
bproc_rfork(int node)
{
	return _bproc_rfork_io(node, NULL, -1, BPROC_DUMP_EXEC | BPROC_DUMP_OTHER);
}

/* rexec: the node's files for FILE entries, sockets connected here. */
static int
rexec_io_run(int node, struct bproc_io_t *io, int iolen, const char *cmd,
    char *const argv[], char *const envp[], unsigned int rank)
{
	const char	*files[3] = { NULL, NULL, NULL };
	unsigned int	 flags = 0;
	int		 i, s;

	if ((node = node_check(node)) < BPROC_NODE_MASTER ||
	    io_check(io, iolen, IO_REXEC) == -1)
		return -1;
	if (node == BPROC_NODE_MASTER)
		return bproc4_fail(BE_SAMENODE, "rexec to the front end: "
		    "use execve");
	if (iolen == 0)
		flags |= BPROC4_EXEC_NOIO;
	for (i = 0; i < iolen; i++) {
		if (io[i].type == BPROC_IO_FILE) {
			files[io[i].fd] = io[i].d.file.name;
			continue;
		}
		if ((s = io_socket(&io[i])) == -1 || io_place(s, io[i].fd) == -1)
			return bproc4_fail(errno, "I/O fd %d: %s", io[i].fd,
			    strerror(errno));
	}
	bproc4_bridge_rexec(node, cmd, argv, envp, files, flags, rank);
	return bproc4_native_fail();
}

int
bproc_rexec_io(int node, struct bproc_io_t *io, int iolen, const char *cmd,
    char *const argv[], char *const envp[])
{
	return rexec_io_run(node, io, iolen, cmd, argv, envp, 0);
}

int
bproc_rexec(int node, const char *cmd, char *const argv[], char *const envp[])
{
	return rexec_io_run(node, NULL, -1, cmd, argv, envp, 0);
}

int
bproc_execmove_io(int node, struct bproc_io_t *io, int iolen, const char *cmd,
    char *const argv[], char *const envp[])
{
	return rexec_io_run(node, io, iolen, cmd, argv, envp, 0);
}

int
bproc_execmove(int node, const char *cmd, char *const argv[],
    char *const envp[])
{
	return rexec_io_run(node, NULL, -1, cmd, argv, envp, 0);
}

/*
 * One child of the caller per node, each becoming the ghost of cmd on
 * nodes[i] (BPROC_RANK i); a child that could not reports its errno on a
 * pipe.  pids[i] is its PID or -errno; the number started is returned.
 */
int
bproc_vexecmove_io(int nnodes, int *nodes, int *pids, struct bproc_io_t *io,
    int iolen, const char *cmd, char *const argv[], char *const envp[])
{
	int	i, e, p[2], started = 0;
	pid_t	pid;

	if (nnodes <= 0 || nodes == NULL || pids == NULL)
		return bproc4_fail(EINVAL, "no nodes to run on");
	if (io_check(io, iolen, IO_REXEC) == -1)
		return -1;
	for (i = 0; i < nnodes; i++) {
		if (pipe2(p, O_CLOEXEC) == -1 || (pid = fork()) == -1) {
			pids[i] = -errno;
			continue;
		}
		if (pid == 0) {
			close(p[0]);
			rexec_io_run(nodes[i], io, iolen, cmd, argv, envp,
			    (unsigned int)i);
			e = errno;
			(void)write(p[1], &e, sizeof(e));
			_exit(127);
		}
		close(p[1]);
		if (read(p[0], &e, sizeof(e)) == (ssize_t)sizeof(e)) {
			waitpid(pid, NULL, 0);
			pids[i] = -e;
		} else {
			pids[i] = pid;
			started++;
		}
		close(p[0]);
	}
	return started;
}

int
bproc_vexecmove(int nnodes, int *nodes, int *pids, const char *cmd,
    char *const argv[], char *const envp[])
{
	return bproc_vexecmove_io(nnodes, nodes, pids, NULL, -1, cmd, argv,
	    envp);
}

/*
 * BProc loaded cmd from the front end and moved the result; bproc-ng's
 * nodes run what their image and RAM cache hold, so on a node this is
 * execve(2) there (a program the node lacks is ENOENT).
 */
int
bproc_execve(const char *cmd, char *const argv[], char *const envp[])
{
	execve(cmd, argv, envp);
	return bproc4_fail(errno, "%s: %s", cmd, strerror(errno));
}
