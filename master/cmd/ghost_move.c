/*
 * ghost_move.c: the process comes home (MSG_MOVE, docs/design-notes.md
 * "Migration"): the ghost becomes it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ghost.h"
#include "proto.h"

/*
 * The process comes home (MSG_MOVE, docs/design-notes.md "Migration"):
 * we become it.  A grandchild, not a child (the process must not find a
 * stranger among its children), keeps our connection, writes the image
 * that follows into a pipe and acknowledges it; we exec bprestore on that
 * pipe, same PID, same stdio, with ourselves again as its fallback should
 * it refuse the image, so the process runs on, on its node, with its
 * ghost.
 */
#ifndef BPROC_RESTORE_PATH
#define BPROC_RESTORE_PATH "/usr/libexec/bproc/bprestore"
#endif
#define GHOST_MOVE_ARGS	64	/* our argv words kept for the fallback */

static void
ghost_image_result(int e, const char *msg)
{
	unsigned char	buf[256];
	struct wire_msg	m;

	wire_msg_init(&m, buf, sizeof(buf), MSG_IMAGE_RESULT, 0, 0);
	wire_put_u32(&m, A_PID, (uint32_t)getpid());
	wire_put_u32(&m, A_ERRNO, (uint32_t)e);
	if (msg != NULL)
		wire_put_str(&m, A_MSG, msg);
	ghost_send(&m);
}

/* The sender may send got bytes more (got 0: it may start). */
static void
ghost_image_ack(size_t got)
{
	unsigned char	ack[64];
	struct wire_msg	m;

	wire_msg_init(&m, ack, sizeof(ack), MSG_IMAGE_ACK, 0, 0);
	wire_put_u32(&m, A_PID, (uint32_t)getppid());
	wire_put_u32(&m, A_BYTES, (uint32_t)got);
	ghost_send(&m);
}

/* One MSG_IMAGE's data into wfd: its bytes; the restorer gone ends us. */
static size_t
ghost_image_write(int wfd, const unsigned char *body, size_t blen)
{
	struct wire_iter	 it;
	struct wire_attr	 a;
	size_t			 got = 0;

	wire_iter_init(&it, body, blen);
	while (wire_iter_next(&it, &a) == 1) {
		const unsigned char *p = a.data;
		size_t left = a.len;
		ssize_t n;

		if (a.type != A_DATA)
			continue;
		while (left > 0) {
			if ((n = write(wfd, p, left)) <= 0) {
				if (n == -1 && errno == EINTR)
					continue;
				ghost_image_result(ENOEXEC,
				    "the front end's restorer "
				    "refused the image");
				_exit(0);
			}
			p += n;
			left -= (size_t)n;
		}
		got += a.len;
	}
	return got;
}

/* The grandchild: image frames into wfd, then the restorer's word on afd. */
static void __attribute__((noreturn))
ghost_feed(int wfd, int afd)
{
	struct wire_hdr		 h;
	struct wire_attr	 tb[A_MAX];
	struct pollfd		 pfd[2] = { { .fd = ghost_fd, .events = POLLIN },
				    { .fd = afd, .events = POLLIN } };
	const unsigned char	*body;
	const char		*why;
	size_t			 blen;
	char			 c = 0;
	int			 r, eof = 0;

	/* here: the sender may start (an acknowledgement of nothing) */
	ghost_image_ack(0);
	while (!eof) {
		if (poll(pfd, 2, -1) == -1)
			_exit(1);
		/* taken (its end came in what was written), or refused */
		if (pfd[1].revents)
			break;
		if (ghost_read() == -1)
			_exit(1);
		while (!eof && (r = ghost_frame(&h, &body, &blen, &why)) == 1) {
			if (proto_parse(&h, body, blen, tb, &why) == -1)
				_exit(1);
			/* output written before the move, still on its way */
			if (h.type == MSG_IO && tb[A_DATA].data) {
				uint8_t s = wire_get_u8(&tb[A_STREAM]);

				if (s == 1 || s == 2)
					ghost_output(s, tb[A_DATA].data,
					    tb[A_DATA].len);
				continue;
			}
			if (h.type != MSG_IMAGE)
				continue;
			ghost_image_ack(ghost_image_write(wfd, body, blen));
			eof = tb[A_EOF].data != NULL;
		}
	}
	close(wfd);
	if (read(afd, &c, 1) == 1 && c == 'A')
		ghost_image_result(0, NULL);
	else
		ghost_image_result(ENOEXEC, "the front end's restorer refused "
		    "the image");
	_exit(0);
}

static void
ghost_on_move_now(void)
{
	extern char	**environ;
	char		 f[16], a[16], self[4096], *argv[GHOST_MOVE_ARGS + 12];
	char		**env, again[] = "BPROC_GHOST_AGAIN=1";
	const char	*restore = BPROC_RESTORE_PATH;
	size_t		 off, ne;
	ssize_t		 n;
	pid_t		 pid;
	int		 ip[2], ap[2], k = 0, st;

	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) <= 0 ||
	    pipe(ip) == -1) {
		ghost_image_result(errno, "the ghost cannot take its process");
		return;
	}
	self[n] = '\0';
	if (pipe(ap) == -1) {
		close(ip[0]);
		close(ip[1]);
		ghost_image_result(errno, "the ghost cannot take its process");
		return;
	}
	(void)fcntl(ip[1], F_SETPIPE_SZ, 1 << 20);
	if ((pid = fork()) == 0) {
		if (fork() != 0)
			_exit(0);
		close(ip[0]);
		close(ap[1]);
		fcntl(ghost_fd, F_SETFL, 0);
		ghost_feed(ip[1], ap[0]);
	}
	close(ip[1]);
	close(ap[0]);
	if (pid == -1 || waitpid(pid, &st, 0) != pid) {
		close(ip[0]);
		close(ap[1]);
		ghost_image_result(ENOMEM, "the ghost cannot fork its feeder");
		return;
	}
	term_restore();
	snprintf(f, sizeof(f), "%d", ip[0]);
	snprintf(a, sizeof(a), "%d", ap[1]);
	argv[k++] = "bprestore";
	argv[k++] = "-f";
	argv[k++] = f;
	argv[k++] = "-a";
	argv[k++] = a;
	/* the node's copies of the files were other inodes: sizes only */
	argv[k++] = "-C";
	argv[k++] = "1";
	argv[k++] = "--";
	argv[k++] = self;
	/* our argv as ps shows it, for the fallback to show it too */
	for (off = strlen(arg_area) + 1; off < arg_len && arg_area[off] &&
	    k < GHOST_MOVE_ARGS + 10; off += strlen(arg_area + off) + 1)
		argv[k++] = arg_area + off;
	argv[k] = NULL;
	for (ne = 0; environ[ne] != NULL; ne++)
		;
	if ((env = calloc(ne + 2, sizeof(*env))) == NULL)
		ghost_die("out of memory");
	memcpy(env, environ, ne * sizeof(*env));
	env[ne] = again;
	/* the fallback ghost needs our connection; bprestore closes it otherwise */
	fcntl(ghost_fd, F_SETFD, 0);
	execve(restore, argv, env);
	ghost_die("cannot run bprestore");
}

int
ghost_on_move(void *arg, const struct proto_frame *f)
{
	(void)arg;
	/* our spare child ghost, killed by bpmaster: no stranger for it */
	if (f->tb[A_RPID].data)
		while (waitpid((pid_t)wire_get_u32(&f->tb[A_RPID]), NULL, 0) ==
		    -1 && errno == EINTR)
			;
	/* child ghosts that ended (bpmaster waited for them): reaped now */
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	ghost_on_move_now();
	return 0;
}

