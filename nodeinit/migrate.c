/*
 * Migration on the node: an EXEC with EXEC_F_IMAGE starts bprestore (in
 * the initramfs) instead of a program, as root, with the ghost's PID and
 * the process's stdio like any process here, tracked like any (track.c);
 * the restorer drops to the caller's uid and groups itself before the
 * image runs an instruction.  The image comes in MSG_IMAGE frames and goes
 * straight into a pipe the restorer reads (no file); the restorer says on
 * a second pipe when it has taken the image, which we report
 * (MSG_IMAGE_RESULT).  The pipe holds 1 MiB and the restorer only reads
 * until it has the image, so a write waits for it a moment at most; one
 * that waits MIG_STALL_MS ends the image (the restorer then refuses it).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "nodeinit.h"

#define MIG_RESTORE	"/sbin/bprestore"	/* in the initramfs */
#define MIG_PIPE_SZ	(1 << 20)	/* bytes the image pipe holds */
#define MIG_STALL_MS	5000	/* a full pipe this long ends the image */

struct mimage {
	pid_t		 gpid;
	int		 wfd;		/* the image pipe's write end */
	int		 afd;		/* "A" comes here once it is taken */
	struct mimage	*next;
};

static struct mimage	*images;

static struct mimage **
mig_find(pid_t gpid)
{
	struct mimage	**pp;

	for (pp = &images; *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->gpid == gpid)
			break;
	return pp;
}

void
migrate_forget(pid_t gpid)
{
	struct mimage	**pp = mig_find(gpid), *mi = *pp;

	if (mi == NULL)
		return;
	*pp = mi->next;
	if (mi->wfd >= 0)
		close(mi->wfd);
	if (mi->afd >= 0)
		close(mi->afd);
	free(mi);
}

/* Before the clone: the two pipes; child[0] the image, child[1] the "A". */
int
migrate_prepare(pid_t gpid, int child[2])
{
	struct mimage	*mi;
	int		 ip[2], ap[2];

	if ((mi = calloc(1, sizeof(*mi))) == NULL)
		return -1;
	if (pipe2(ip, O_CLOEXEC) == -1) {
		free(mi);
		return -1;
	}
	if (pipe2(ap, O_CLOEXEC) == -1) {
		close(ip[0]);
		close(ip[1]);
		free(mi);
		return -1;
	}
	(void)fcntl(ip[1], F_SETPIPE_SZ, MIG_PIPE_SZ);
	fcntl(ip[1], F_SETFL, O_NONBLOCK);
	mi->gpid = gpid;
	mi->wfd = ip[1];
	mi->afd = ap[0];
	mi->next = images;
	images = mi;
	child[0] = ip[0];
	child[1] = ap[1];
	return 0;
}

/* In the child, still root: become the restorer. */
void
migrate_exec(int child[2], uid_t uid, gid_t gid, const gid_t *groups,
    size_t ngroups)
{
	char	 f[16], a[16], u[16], g[16], gl[64 * 11 + 1];
	char	*argv[14];
	size_t	 i, off = 0;
	int	 n = 0;

	snprintf(f, sizeof(f), "%d", child[0]);
	snprintf(a, sizeof(a), "%d", child[1]);
	snprintf(u, sizeof(u), "%u", (unsigned)uid);
	snprintf(g, sizeof(g), "%u", (unsigned)gid);
	/* the restorer takes 64 groups; fewer is less privilege, not more */
	for (i = 0; i < ngroups && i < 64; i++)
		off += (size_t)snprintf(gl + off, sizeof(gl) - off, "%s%u",
		    i ? "," : "", (unsigned)groups[i]);
	fcntl(child[0], F_SETFD, 0);
	fcntl(child[1], F_SETFD, 0);
	argv[n++] = "bprestore";
	argv[n++] = "-f";
	argv[n++] = f;
	argv[n++] = "-a";
	argv[n++] = a;
	/* the cache's copy is another inode with its own mtime: size only */
	argv[n++] = "-C";
	argv[n++] = "1";
	argv[n++] = "-u";
	argv[n++] = u;
	argv[n++] = "-g";
	argv[n++] = g;
	if (off > 0) {
		argv[n++] = "-G";
		argv[n++] = gl;
	}
	argv[n] = NULL;
	execve(MIG_RESTORE, argv, (char *[]){ NULL });
}

/* After the clone, in nodeinit: the child's ends are the child's. */
void
migrate_started(int child[2])
{
	close(child[0]);
	close(child[1]);
}

static void
mig_result(pid_t gpid, int e, const char *msg)
{
	unsigned char	buf[256];
	struct wire_msg	m;

	wire_msg_init(&m, buf, sizeof(buf), MSG_IMAGE_RESULT, 0, 0);
	wire_put_u32(&m, A_PID, (uint32_t)gpid);
	wire_put_u32(&m, A_ERRNO, (uint32_t)e);
	if (msg != NULL)
		wire_put_str(&m, A_MSG, msg);
	link_send_msg(&m);
}

static int
mig_write(int fd, const unsigned char *p, size_t len)
{
	struct pollfd	pfd = { .fd = fd, .events = POLLOUT };
	ssize_t		n;

	while (len > 0) {
		if ((n = write(fd, p, len)) > 0) {
			p += n;
			len -= (size_t)n;
		} else if (n == -1 && errno == EAGAIN) {
			if (poll(&pfd, 1, MIG_STALL_MS) == 0)
				return -1;
		} else if (n == -1 && errno != EINTR)
			return -1;
	}
	return 0;
}

/* MSG_IMAGE: into the pipe; at its end, wait for the restorer's word. */
void
migrate_image(struct wire_attr *tb, const unsigned char *body, size_t blen)
{
	pid_t			 gpid = (pid_t)wire_get_u32(&tb[A_PID]);
	struct mimage		*mi = *mig_find(gpid);
	struct wire_iter	 it;
	struct wire_attr	 a;
	struct pollfd		 pfd;
	char			 c = 0;

	if (mi == NULL || mi->wfd < 0)
		return;		/* ended meanwhile */
	wire_iter_init(&it, body, blen);
	while (wire_iter_next(&it, &a) == 1)
		if (a.type == A_DATA && mig_write(mi->wfd, a.data, a.len) == -1) {
			log_warnx("process %d: the restorer does not take its "
			    "image", (int)gpid);
			mig_result(gpid, EIO, "the node's restorer stopped "
			    "reading the image");
			migrate_forget(gpid);
			return;
		}
	if (!tb[A_EOF].data)
		return;
	close(mi->wfd);
	mi->wfd = -1;
	pfd.fd = mi->afd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, MIG_STALL_MS) == 1 && read(mi->afd, &c, 1) == 1 &&
	    c == 'A')
		mig_result(gpid, 0, NULL);
	else
		mig_result(gpid, ENOEXEC, "the node's restorer refused the "
		    "image");
	migrate_forget(gpid);
}
