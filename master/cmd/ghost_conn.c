/*
 * ghost_conn.c: the ghost's connection to bpmaster.  A ghost is a
 * process per remote process, so it keeps its memory small: no heap at
 * all (each mapping costs page tables as well as pages), static buffers
 * that are touched only as far as used, and its own few lines of framing
 * on the unsealed local socket instead of conn.c's buffers.  The master
 * hands it a child ghost's socket with MSG_FORK (SCM_RIGHTS): those wait
 * here for the frame they came with.  This file is the ghost's lowest:
 * what a failed send means to the ghost (bpmaster lost, or a frame too
 * big to send) it tells through conn_hooks, which bpghost.c sets.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ghost.h"
#include "proto.h"

#define CONN_FDS	4	/* descriptors received and not yet taken */

int			ghost_fd = -1;	/* to bpmaster */
static unsigned char	inbuf[2 * GHOST_MAXFRAME];
static size_t		inlen, inoff;	/* bytes in inbuf, the first unread */
static int		fdq[CONN_FDS];	/* descriptors received, for MSG_FORK */
static int		nfdq;
struct ghost_conn_hooks	conn_hooks;	/* set by bpghost.c's main */

/* A new connection (a child ghost's, the next master's): nothing read. */
void
conn_reset(void)
{
	inlen = inoff = 0;
}

/* The first descriptor received, for the MSG_FORK it came with; -1 none. */
int
conn_take_fd(void)
{
	int	fd;

	if (nfdq == 0)
		return -1;
	fd = fdq[0];
	memmove(fdq, fdq + 1, (size_t)--nfdq * sizeof(int));
	return fd;
}

/* A child ghost: the parent's descriptors are not its own. */
void
conn_drop_fds(void)
{
	while (nfdq > 0)
		close(fdq[--nfdq]);
}

/* The control socket is local: a short blocking write keeps the order. */
void
ghost_send(struct wire_msg *m)
{
	const unsigned char	*p = m->buf;
	size_t			 len = wire_msg_finish(m);
	ssize_t			 n;

	if (len == 0) {
		conn_hooks.die("lost contact with bpmaster");
		return;
	}
	/* bpmaster is away: what matters is queued or sent again later */
	if (ghost_fd < 0)
		return;
	while (len > 0) {
		struct pollfd	pfd = { .fd = ghost_fd, .events = POLLOUT };

		n = send(ghost_fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			poll(&pfd, 1, -1);
			continue;
		}
		if (n <= 0) {
			conn_hooks.lost();
			return;
		}
		p += n;
		len -= (size_t)n;
	}
}

/* Read what the master sent: 1 data, 0 nothing now, -1 closed or failed. */
int
ghost_read(void)
{
	ssize_t	n;

	/* frames taken since the last read go; what is left moves up, once */
	if (inoff) {
		memmove(inbuf, inbuf + inoff, inlen - inoff);
		inlen -= inoff;
		inoff = 0;
	}
	if (inlen == sizeof(inbuf))
		return 0;
	{
		/* the master hands us a child ghost's socket with MSG_FORK */
		union {
			struct cmsghdr	h;
			char		b[CMSG_SPACE(4 * sizeof(int))];
		}		 cm;
		struct iovec	 iov = { inbuf + inlen, sizeof(inbuf) - inlen };
		struct msghdr	 mh;
		struct cmsghdr	*c;
		int		 fds[4], k, nf;

		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = cm.b;
		mh.msg_controllen = sizeof(cm.b);
		n = recvmsg(ghost_fd, &mh, MSG_CMSG_CLOEXEC);
		for (c = CMSG_FIRSTHDR(&mh); n > 0 && c != NULL;
		    c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level != SOL_SOCKET ||
			    c->cmsg_type != SCM_RIGHTS)
				continue;
			nf = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			memcpy(fds, CMSG_DATA(c), (size_t)nf * sizeof(int));
			for (k = 0; k < nf && k < 4; k++) {
				if (nfdq < CONN_FDS)
					fdq[nfdq++] = fds[k];
				else
					close(fds[k]);
			}
		}
	}
	if (n == 0)
		return -1;
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	inlen += (size_t)n;
	return 1;
}

/* The next whole frame: 1, 0 when more bytes are needed, -1 when bad. */
int
ghost_frame(struct wire_hdr *h, const unsigned char **body, size_t *blen,
    const char **why)
{
	int	r;

	if ((r = wire_hdr_decode(inbuf + inoff, inlen - inoff, GHOST_MAXFRAME,
	    h, why)) <= 0)
		return r;
	if (inlen - inoff < h->len)
		return 0;
	*body = inbuf + inoff + WIRE_HDR_LEN;
	inoff += h->len;
	*blen = h->len - WIRE_HDR_LEN;
	return 1;
}

