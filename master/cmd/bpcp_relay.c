/*
 * bpcp's relay: the source's output into the sink's stdin, both helpers'
 * messages gathered on the way, a tree committed only once its source
 * succeeded, and scp's progress bar (progress.c) for big files on a
 * terminal.
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bpcp_int.h"
#include "progress.h"

#define COMMIT		"bpcp-commit\n" /* ends a tree whose source succeeded */

/* One relay's state between its steps. */
struct relay_st {
	struct helper		*src, *dst;
	const struct hdr	*h;
	const struct loc	*sl;
	struct text		*serr, *dout, *derr;
	char			*buf;
	size_t			 have, off;	/* buf[off..off+have) to write */
	uint64_t		 moved;
	int			 rerr;
};

/* Which pollfd watches what, -1 for none. */
enum { RX_OUT, RX_IN, RX_SERR, RX_DOUT, RX_DERR, RX_N };

static int
relay_want(struct pollfd *pfd, int *np, int fd, short ev)
{
	if (fd < 0)
		return -1;
	pfd[*np] = (struct pollfd){ fd, ev, 0 };
	return (*np)++;
}

/*
 * The source is done and its last bytes went out: tell the sink.  A tree
 * is committed only if its source succeeded: tar cannot tell an archive
 * cut short at a member boundary from a whole one.
 */
static void
relay_end(struct relay_st *r)
{
	if (r->h->kind == 'D') {
		while (r->src->err >= 0 && text_read(&r->src->err, r->serr) == 0)
			;
		if (helper_wait(r->src) == 0 && r->serr->n == 0) {
			/* a sink that is gone says why itself */
			fcntl(r->dst->in, F_SETFL, 0);
			if (write(r->dst->in, COMMIT, sizeof(COMMIT) - 1) !=
			    (ssize_t)sizeof(COMMIT) - 1)
				r->rerr = 1;
		}
	}
	close(r->dst->in);
	r->dst->in = -1;
}

static void
relay_read(struct relay_st *r)
{
	char	m[1024];
	ssize_t	n;

	n = read(r->src->out, r->buf, RELAY_BUF);
	if (n > 0) {
		r->have = (size_t)n;
		r->off = 0;
		return;
	}
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n == -1 && r->src->file) {
		snprintf(m, sizeof(m), "%s: %s", r->sl->path, strerror(errno));
		loc_error(NODE_LOCAL, m);
		r->rerr = 1;
	}
	close(r->src->out);
	r->src->out = -1;
}

static void
relay_write(struct relay_st *r)
{
	ssize_t	n;

	n = write(r->dst->in, r->buf + r->off, r->have);
	if (n > 0) {
		r->off += (size_t)n;
		r->have -= (size_t)n;
		r->moved += (uint64_t)n;
	} else if (n == -1 && errno != EINTR && errno != EAGAIN) {
		/* the sink gave up; its reason follows */
		close(r->dst->in);
		r->dst->in = -1;
		r->have = 0;
		if (r->src->out >= 0) {
			close(r->src->out);
			r->src->out = -1;
		}
	}
}

/* One poll round: 0, or -1 when nothing is left to watch. */
static int
relay_step(struct relay_st *r, int timeout)
{
	struct pollfd	pfd[RX_N];
	int		ix[RX_N], np = 0;

	ix[RX_OUT] = r->have == 0 ?
	    relay_want(pfd, &np, r->src->out, POLLIN) : -1;
	ix[RX_IN] = r->have > 0 ?
	    relay_want(pfd, &np, r->dst->in, POLLOUT) : -1;
	ix[RX_SERR] = relay_want(pfd, &np, r->src->err, POLLIN);
	ix[RX_DOUT] = relay_want(pfd, &np, r->dst->out, POLLIN);
	ix[RX_DERR] = relay_want(pfd, &np, r->dst->err, POLLIN);
	if (r->have == 0 && r->src->out < 0 && r->dst->in >= 0) {
		relay_end(r);
		return 0;
	}
	if (np == 0)
		return -1;
	if (poll(pfd, (nfds_t)np, timeout) == -1) {
		if (errno == EINTR)
			return 0;
		err(BPCP_FAIL, "poll");
	}
	if (ix[RX_OUT] >= 0 && pfd[ix[RX_OUT]].revents != 0)
		relay_read(r);
	if (ix[RX_IN] >= 0 && pfd[ix[RX_IN]].revents != 0)
		relay_write(r);
	if (ix[RX_SERR] >= 0 && pfd[ix[RX_SERR]].revents != 0)
		text_read(&r->src->err, r->serr);
	if (ix[RX_DOUT] >= 0 && pfd[ix[RX_DOUT]].revents != 0)
		text_read(&r->dst->out, r->dout);
	if (ix[RX_DERR] >= 0 && pfd[ix[RX_DERR]].revents != 0)
		text_read(&r->dst->err, r->derr);
	return 0;
}

/*
 * Move the source's output (the header already taken off: buf[0..npre))
 * into the sink's stdin, gathering both helpers' messages.  A local file
 * source is read directly (src->out is the file).  Returns the number of
 * bytes moved, or -1 on a read error of a local file (printed).
 */
int64_t
relay(struct helper *src, struct helper *dst, char *buf, size_t npre,
    const struct hdr *h, const struct loc *sl, struct text *serr,
    struct text *dout, struct text *derr)
{
	struct relay_st	 r = { src, dst, h, sl, serr, dout, derr, buf, npre,
			    0, 0, 0 };
	struct progress	 bar;
	char		 name[256];
	int		 file = h->kind == 'F';

	path_base(sl->path, name, sizeof(name));
	progress_begin(&bar, name, h->size);
	fcntl(dst->in, F_SETFL, O_NONBLOCK);
	while (relay_step(&r, file && bar.on && h->size > PROGRESS_MIN ?
	    PROGRESS_MS : -1) == 0)
		if (file)
			progress_step(&bar, r.moved, h->size);
	progress_end(&bar, r.moved);
	return r.rerr ? -1 : (int64_t)r.moved;
}
