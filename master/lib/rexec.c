/*
 * libbproc: the process space.  bproc_rexec_opts() sends EXEC, serves the
 * blobs the node asks for (read here, as the caller), and on success turns
 * the caller into the remote process's ghost.  The ghost program (bpghost)
 * gets the open control connection, so the master sees the same PID on it
 * before and after the exec.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "bproc.h"
#include "libbproc_int.h"
#include "list.h"

#ifndef BPROC_GHOST_PATH
#define BPROC_GHOST_PATH "/usr/libexec/bproc/bpghost"
#endif
#define GHOST_ENV_MAX	6	/* BPROC_GHOST_* variables passed to bpghost */

/* bproc.h's exec flags go on the wire as they are */
_Static_assert(BPROC_EXEC_STDIN_NULL == EXEC_F_STDIN_NULL &&
    BPROC_EXEC_NOIO == EXEC_F_NOIO && BPROC_EXEC_TTY == EXEC_F_TTY,
    "BPROC_EXEC_* and EXEC_F_* differ");

/* bproc_push_progress(): who hears how a push goes, and how far it is. */
static struct {
	bproc_progress_fn	*fn;
	void			*arg;
	uint64_t		 done, total;
} progress;

void
bproc_push_progress(bproc_progress_fn *fn, void *arg)
{
	progress.fn = fn;
	progress.arg = arg;
}

/* A NEED names what the node lacks: its sizes add to what will be sent. */
static void
progress_need(const struct bproc_exec_opts *o, const unsigned char *body,
    size_t blen)
{
	struct wire_iter	it;
	struct wire_attr	a;
	size_t			k;

	wire_iter_init(&it, body, blen);
	while (wire_iter_next(&it, &a) == 1)
		for (k = 0; a.type == A_HASH && a.len == 32 && k < o->nfiles;
		    k++)
			if (o->files[k].target == NULL &&
			    memcmp(o->files[k].hash, a.data, 32) == 0) {
				progress.total += o->files[k].size;
				break;
			}
}

static void
progress_tell(int end)
{
	if (progress.fn != NULL && progress.total > 0)
		progress.fn(progress.done, progress.total, end, progress.arg);
}

/* NEED frames that arrive while an earlier one is being served. */
struct need {
	unsigned char	*body;
	size_t		 len;
	TQ_LINK(need)	 link;
};
TQ_HEAD(needq, need);

/* The state of one push: the request's files and the window's fill. */
struct push {
	int				 fd;
	const struct bproc_exec_opts	*o;
	unsigned char			*buf;	/* a WIRE_MAX_FRAME for replies */
	struct needq			 q;
	size_t				 unacked;
};

static int
needq_add(struct needq *q, const unsigned char *body, size_t len)
{
	struct need	*n;

	if ((n = calloc(1, sizeof(*n))) == NULL ||
	    (n->body = malloc(len + 1)) == NULL) {
		free(n);
		return -1;
	}
	memcpy(n->body, body, len);
	n->len = len;
	TQ_INSERT_TAIL(q, n, link);
	return 0;
}

static void
needq_drop(struct needq *q, struct need *n)
{
	TQ_REMOVE(q, n, link);
	free(n->body);
	free(n);
}

/*
 * The node acknowledges what it stored: read replies until the window
 * has room, queueing NEEDs for later.  A node that gave up answers with
 * EXEC_RESULT; its error is ours.
 */
static int
push_wait_room(struct push *p)
{
	struct wire_attr	tb[A_MAX];
	struct wire_hdr		h;
	size_t			b;

	while (p->unacked >= BLOB_WINDOW) {
		if (libbproc_recv(p->fd, p->buf, LIBBPROC_WAIT_EXEC, &h, tb) == -1)
			return -1;
		if (h.type == MSG_BLOB_ACK) {
			b = wire_get_u32(&tb[A_BYTES]);
			p->unacked = b > p->unacked ? 0 : p->unacked - b;
		} else if (h.type == MSG_NEED) {
			if (needq_add(&p->q, p->buf + WIRE_HDR_LEN,
			    h.len - WIRE_HDR_LEN) == -1)
				return -1;
			progress_need(p->o, p->buf + WIRE_HDR_LEN,
			    h.len - WIRE_HDR_LEN);
		} else if (h.type == MSG_EXEC_RESULT) {
			/* the node gave up before the files were all there */
			if (libbproc_result(tb) == 0)
				errno = EPROTO;
			return -1;
		}
	}
	return 0;
}

/* One file as BLOB frames, the last one with A_EOF. */
static int
push_file(struct push *p, const struct bproc_file *f, const void *hash)
{
	struct wire_msg	 m;
	unsigned char	*out, *data;
	size_t		 len, off, piece;
	ssize_t		 n;
	int		 ffd, ret = -1;

	if ((ffd = open(f->path, O_RDONLY | O_CLOEXEC)) == -1) {
		libbproc_errmsg("%s: %s", f->path, strerror(errno));
		return -1;
	}
	if ((out = malloc(BLOB_FRAME + BLOB_CHUNK)) == NULL)
		goto out;
	data = out + BLOB_FRAME;
	do {
		if ((n = read(ffd, data, BLOB_CHUNK)) < 0)
			goto out;
		wire_msg_init(&m, out, BLOB_FRAME, MSG_BLOB, 0, 0);
		wire_put_u32(&m, A_PID, 0);
		wire_put(&m, A_HASH, hash, 32);
		for (off = 0; off < (size_t)n; off += piece) {
			piece = (size_t)n - off;
			if (piece > BLOB_PIECE)
				piece = BLOB_PIECE;
			wire_put(&m, A_DATA, data + off, piece);
		}
		if (n == 0)
			wire_put_u8(&m, A_EOF, 1);
		/* a frame that did not fit must not count as sent */
		if ((len = wire_msg_finish(&m)) == 0) {
			libbproc_errmsg("blob frame too large");
			errno = EMSGSIZE;
			goto out;
		}
		if (libbproc_send(p->fd, out, len) == -1)
			goto out;
		p->unacked += (size_t)n;
		progress.done += (uint64_t)n;
		progress_tell(0);
		if (push_wait_room(p) == -1)
			goto out;
	} while (n > 0);
	ret = 0;
out:
	free(out);
	close(ffd);
	return ret;
}

/* Send the blobs one NEED asked for, within the acknowledgement window. */
static int
push_need(struct push *p, const unsigned char *body, size_t blen)
{
	const struct bproc_exec_opts	*o = p->o;
	struct wire_iter		 it;
	struct wire_attr		 a;
	size_t				 k;

	wire_iter_init(&it, body, blen);
	while (wire_iter_next(&it, &a) == 1) {
		if (a.type != A_HASH || a.len != 32)
			continue;
		for (k = 0; k < o->nfiles; k++)
			if (o->files[k].target == NULL &&
			    memcmp(o->files[k].hash, a.data, 32) == 0)
				break;
		if (k == o->nfiles) {
			libbproc_errmsg("node asked for a file we did not "
			    "offer");
			errno = EPROTO;
			return -1;
		}
		if (push_file(p, &o->files[k], a.data) == -1)
			return -1;
	}
	return 0;
}

/* Serve a NEED and every one that arrives while it is served. */
static int
push_serve(int fd, const struct bproc_exec_opts *o, unsigned char *buf,
    const struct wire_hdr *h)
{
	struct push	 p = { .fd = fd, .o = o, .buf = buf };
	struct need	*n, *nx;
	int		 e;

	TQ_INIT(&p.q);
	e = needq_add(&p.q, buf + WIRE_HDR_LEN, h->len - WIRE_HDR_LEN);
	progress_need(o, buf + WIRE_HDR_LEN, h->len - WIRE_HDR_LEN);
	while (e == 0 && (n = TQ_FIRST(&p.q)) != NULL) {
		e = push_need(&p, n->body, n->len);
		needq_drop(&p.q, n);
	}
	TQ_FOREACH_SAFE(n, &p.q, link, nx)
		needq_drop(&p.q, n);
	return e;
}

static void
request_files(struct wire_msg *m, const struct bproc_exec_opts *o)
{
	for (size_t k = 0; k < o->nfiles; k++) {
		const struct bproc_file	*f = &o->files[k];
		unsigned char		 e[MFILE_MAX];
		size_t			 el;

		if ((el = mfile_encode(e, f->hash, f->mode, f->uid, f->gid,
		    f->size, f->path, f->target)) > 0)
			wire_put(m, A_MFILE, e, el);
	}
}

static int
rexec_request(int fd, int node, const char *file, char *const argv[],
    char *const envp[], const struct bproc_exec_opts *o)
{
	struct wire_msg	 m;
	struct winsize	 ws;
	struct args_sum	 sum;
	unsigned char	*buf;
	char		 cwd[4096], why[256];
	size_t		 len;
	int		 i, r;

	if ((buf = malloc(WIRE_MAX_FRAME)) == NULL)
		return -1;
	wire_msg_init(&m, buf, WIRE_MAX_FRAME, MSG_EXEC, 0, 1);
	wire_put_u32(&m, A_NODE, (uint32_t)node);
	wire_put_str(&m, A_PATH, file);
	for (i = 0; argv[i] != NULL; i++)
		args_put(&m, A_ARG, argv[i]);
	for (i = 0; envp != NULL && envp[i] != NULL; i++)
		args_put(&m, A_ENV, envp[i]);
	if (getcwd(cwd, sizeof(cwd)) != NULL)
		wire_put_str(&m, A_CWD, cwd);
	wire_put_u32(&m, A_FLAGS, o->flags);
	wire_put_u32(&m, A_RANK, o->rank);
	/* the pty starts at the size of the caller's terminal, if it has one */
	if ((o->flags & BPROC_EXEC_TTY) &&
	    (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0 ||
	    ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0) &&
	    ws.ws_row && ws.ws_col) {
		wire_put_u16(&m, A_ROWS, ws.ws_row);
		wire_put_u16(&m, A_COLS, ws.ws_col);
	}
	if (o->file_in)
		wire_put_str(&m, A_FILE_IN, o->file_in);
	if (o->file_out)
		wire_put_str(&m, A_FILE_OUT, o->file_out);
	if (o->file_err)
		wire_put_str(&m, A_FILE_ERR, o->file_err);
	request_files(&m, o);
	/* Linux's limits, checked here as bpmaster and the node check them */
	if ((len = wire_msg_finish(&m)) == 0 ||
	    args_scan(buf + WIRE_HDR_LEN, len - WIRE_HDR_LEN, &sum, why,
	    sizeof(why)) == -1) {
		if (len == 0)
			libbproc_errmsg("argument list too long: the request "
			    "is over %d bytes", WIRE_MAX_FRAME);
		else
			libbproc_errmsg("%s", why);
		free(buf);
		errno = E2BIG;
		return -1;
	}
	r = libbproc_send(fd, buf, len);
	free(buf);
	return r;
}

/* master_grace from EXEC_RESULT: how long the ghost waits for a new master */
static unsigned int	ghost_grace_ms;

/* The node may first ask for files it lacks, then answers EXEC_RESULT. */
int
libbproc_exec_answer(int fd, const struct bproc_exec_opts *o)
{
	struct wire_hdr		 h;
	struct wire_attr	 tb[A_MAX];
	unsigned char		*buf;
	int			 ret = -1;

	if ((buf = malloc(WIRE_MAX_FRAME)) == NULL)
		return -1;
	for (;;) {
		if (libbproc_recv(fd, buf, LIBBPROC_WAIT_EXEC, &h, tb) == -1)
			goto out;
		if (h.type == MSG_EXEC_RESULT)
			break;
		/* (a BLOB_ACK of what push_serve sent is not news here) */
		if (h.type == MSG_NEED && push_serve(fd, o, buf, &h) == -1)
			goto out;
	}
	ret = libbproc_result(tb);
	ghost_grace_ms = tb[A_GRACE].data ? wire_get_u32(&tb[A_GRACE]) : 0;
out:
	progress_tell(1);
	free(buf);
	return ret;
}

/* The remote runs: become its ghost, showing its argv in ps. */
void
libbproc_ghost_exec(int fd, int node, char *const argv[],
    const struct bproc_exec_opts *o)
{
	char		 fdenv[32], nodeenv[32], flagenv[32], errenv[32];
	char		 graceenv[40];
	char		*genv[GHOST_ENV_MAX];
	const char	*ghost;
	int		 n = 0;

	if ((ghost = getenv("BPROC_GHOST")) == NULL || *ghost == '\0')
		ghost = BPROC_GHOST_PATH;
	snprintf(fdenv, sizeof(fdenv), "BPROC_GHOST_FD=%d", fd);
	snprintf(nodeenv, sizeof(nodeenv), "BPROC_GHOST_NODE=%d", node);
	snprintf(flagenv, sizeof(flagenv), "BPROC_GHOST_FLAGS=%u", o->flags);
	genv[n++] = fdenv;
	genv[n++] = nodeenv;
	genv[n++] = flagenv;
	if (ghost_grace_ms > 0) {
		snprintf(graceenv, sizeof(graceenv), "BPROC_GHOST_GRACE=%u",
		    ghost_grace_ms);
		genv[n++] = graceenv;
	}
	if (o->err_fd > 0) {
		snprintf(errenv, sizeof(errenv), "BPROC_GHOST_ERRFD=%d",
		    o->err_fd);
		genv[n++] = errenv;
	}
	genv[n] = NULL;
	if (fcntl(fd, F_SETFD, 0) == -1)
		return;
	execve(ghost, argv, genv);
	libbproc_errmsg("cannot run ghost %s: %s", ghost, strerror(errno));
}

int
bproc_rexec_opts(int node, const char *file, char *const argv[],
    char *const envp[], const struct bproc_exec_opts *opts)
{
	static const struct bproc_exec_opts	 none;
	const struct bproc_exec_opts		*o = opts ? opts : &none;
	sigset_t				 all, old;
	int					 fd, saved;

	libbproc_errclear();
	progress.done = progress.total = 0;
	if (node < 0 || argv == NULL || argv[0] == NULL || file == NULL) {
		errno = EINVAL;
		return -1;
	}
	/*
	 * From the request on, signals wait (blocked, pending) for the
	 * ghost, which inherits them across the exec and forwards them: a
	 * Ctrl-C or SIGCONT in this window is not lost.
	 */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	for (;;) {
		if ((fd = libbproc_connect()) == -1) {
			sigprocmask(SIG_SETMASK, &old, NULL);
			return -1;
		}
		if (rexec_request(fd, node, file, argv, envp, o) == 0 &&
		    libbproc_exec_answer(fd, o) == 0)
			libbproc_ghost_exec(fd, node, argv, o);
		/* closing the connection ends the remote process */
		saved = errno;
		close(fd);
		/*
		 * A master we waited for is back and its nodes reconnect:
		 * a node not back yet (down, or still in boot) never got
		 * the request, ask again while the wait lasts
		 * (BPROC_MASTER_WAIT).
		 */
		if ((saved != EHOSTDOWN && (saved != EHOSTUNREACH ||
		    strcmp(bproc_strerror(), "Node is boot") != 0)) ||
		    !libbproc_master_back())
			break;
		nanosleep(&(struct timespec){ 0, 200000000L }, NULL);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	errno = saved;
	return -1;
}

int
bproc_rexec(int node, const char *file, char *const argv[], char *const envp[])
{
	return bproc_rexec_opts(node, file, argv, envp, NULL);
}

int
bproc_vrexec(int n, const int *nodelist, const char *file, char *const argv[],
    char *const envp[], pid_t *pids)
{
	struct bproc_exec_opts	o;
	int			i, started = 0, st, p[2];
	pid_t			pid;

	for (i = 0; i < n; i++) {
		/* the child reports a failed rexec through a pipe */
		if (pipe2(p, O_CLOEXEC) == -1) {
			pids[i] = -errno;
			continue;
		}
		if ((pid = fork()) == -1) {
			pids[i] = -errno;
			close(p[0]);
			close(p[1]);
			continue;
		}
		if (pid == 0) {
			memset(&o, 0, sizeof(o));
			o.rank = (unsigned int)i;
			close(p[0]);
			bproc_rexec_opts(nodelist[i], file, argv, envp, &o);
			st = errno;
			write(p[1], &st, sizeof(st));
			_exit(255);
		}
		close(p[1]);
		if (read(p[0], &st, sizeof(st)) == (ssize_t)sizeof(st)) {
			waitpid(pid, NULL, 0);
			pids[i] = -st;
		} else {
			pids[i] = pid;
			started++;
		}
		close(p[0]);
	}
	return started;
}
