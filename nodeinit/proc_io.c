/*
 * The stdio of a process hosted for a ghost: stdin from MSG_IO frames
 * written to its pipe or pty, stdout/stderr read into MSG_IO frames, at
 * most IO_WINDOW unacknowledged bytes per stream and nothing read while
 * the master link's backlog is above PROC_LINK_HIGH.  Its exit report
 * waits until its output is read to its end.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "log.h"
#include "nodeinit_int.h"
#include "proc_int.h"

#define PROC_LINK_HIGH	(1u << 20)	/* stop reading output above this backlog;
					   well below NODE_LINK_OUTMAX (nodeinit.h) */
#define PROC_HUP_RETRY_MS 100		/* pty with no slave open: look again */

static void	proc_keep(struct rproc *, int, const unsigned char *, size_t);

/* The exit report goes only after both output streams reached EOF. */
void
rproc_finish(struct rproc *rp)
{
	unsigned char	buf[64];
	struct wire_msg	m;

	if (rp->paused || rp->zombie)
		return;
	/* a pty's output is read to its end once the process is gone */
	if (rp->tty && rp->exited && rp->fd[1] >= 0 &&
	    rp->unacked[1] < IO_WINDOW && link_pending() < PROC_LINK_HIGH)
		rproc_output(rp, 1);
	if (rp->exited && !rp->reported && (rp->fd[1] >= 0 || rp->fd[2] >= 0) &&
	    !rp->tty && rproc_session_lives(rp)) {
		/*
		 * Gone, but processes it started still hold its pipes: once
		 * what it wrote is read, its exit is reported, as a local
		 * shell would see it; the rest goes by one of their ghosts,
		 * which hold the same output as the first ghost did.
		 */
		for (int s = 1; s <= 2; s++)
			if (rp->fd[s] >= 0 && !rp->empty[s] &&
			    rp->unacked[s] < IO_WINDOW &&
			    link_pending() < PROC_LINK_HIGH)
				rproc_output(rp, s);
		if ((rp->fd[1] < 0 || rp->empty[1]) &&
		    (rp->fd[2] < 0 || rp->empty[2])) {
			wire_msg_init(&m, buf, sizeof(buf), MSG_EXIT, 0, 0);
			wire_put_u32(&m, A_PID, (uint32_t)rp->gpid);
			wire_put_u32(&m, A_STATUS, (uint32_t)rp->status);
			link_send_msg(&m);
			rp->reported = 1;
			rp->unacked[1] = rp->unacked[2] = 0;
		}
		return;
	}
	if (rp->reported && (rp->fd[1] >= 0 || rp->fd[2] >= 0) &&
	    !rproc_session_lives(rp)) {
		/* no ghost left to print it */
		for (int s = 1; s <= 2; s++)
			if (rp->fd[s] >= 0) {
				close(rp->fd[s]);
				rp->fd[s] = -1;
			}
	}
	if (!rp->exited || rp->fd[1] >= 0 || rp->fd[2] >= 0)
		return;
	if (rp->reported) {
		rproc_free(rp);
		return;
	}
	wire_msg_init(&m, buf, sizeof(buf), MSG_EXIT, 0, 0);
	wire_put_u32(&m, A_PID, (uint32_t)rp->gpid);
	wire_put_u32(&m, A_STATUS, (uint32_t)rp->status);
	link_send_msg(&m);
	/* until the master says the ghost has it: a restart may lose it */
	if (master_proto >= BPROC_VERSION_REJOIN)
		rp->zombie = 1;
	else
		rproc_free(rp);
}

void
proc_ack(struct wire_attr *tb)
{
	struct rproc	*rp = rproc_find((pid_t)wire_get_u32(&tb[A_PID]));
	uint8_t		 s = wire_get_u8(&tb[A_STREAM]);
	uint32_t	 n = wire_get_u32(&tb[A_BYTES]);

	/* output the session's first process left, printed by another ghost */
	if (rp == NULL)
		rp = rproc_find(track_top_of((pid_t)wire_get_u32(&tb[A_PID])));
	if (rp == NULL || s < 1 || s > 2)
		return;
	if (n > rp->unacked[s])
		n = rp->unacked[s];
	rp->unacked[s] -= n;
	rp->head[s] = (rp->head[s] + n) % IO_WINDOW;
}

/*
 * Ctrl-Z typed into the pty while the process itself is in the foreground:
 * its process group is the session's own, orphaned (the parent is PID 1,
 * in another session), and the kernel discards a SIGTSTP that would stop
 * it.  Do what the terminal meant: stop the group with SIGSTOP and report
 * SIGTSTP, so the ghost stops the same way at the front end.
 */
static void
proc_tty_keys(struct rproc *rp, const unsigned char *data, size_t len)
{
	struct termios	t;

	if (rp->fd[1] < 0 || tcgetattr(rp->fd[1], &t) == -1 ||
	    !(t.c_lflag & ISIG) || t.c_cc[VSUSP] == _POSIX_VDISABLE ||
	    memchr(data, t.c_cc[VSUSP], len) == NULL)
		return;
	if (tcgetpgrp(rp->fd[1]) != rp->pid || track_catches(rp->pid, SIGTSTP))
		return;
	rp->stopsig = SIGTSTP;
	track_stopsig(rp->pid, SIGTSTP);
	if (kill(-rp->pid, SIGSTOP) == -1)
		log_warn("stop %d", (int)rp->pid);
}

/*
 * The ghost's stdin ended.  A pipe is closed; a pty cannot be, so its
 * reader gets the terminal's end of file (VEOF at the start of a line)
 * when it reads lines.
 */
static void
proc_stdin_close(struct rproc *rp)
{
	struct termios	t;

	if (rp->tty && tcgetattr(rp->fd[0], &t) == 0 && (t.c_lflag & ICANON) &&
	    t.c_cc[VEOF] != _POSIX_VDISABLE)
		(void)write(rp->fd[0], &t.c_cc[VEOF], 1);
	close(rp->fd[0]);
	rp->fd[0] = -1;
}

static void
proc_ack_stdin(struct rproc *rp, size_t n)
{
	unsigned char	buf[64];
	struct wire_msg	m;

	wire_msg_init(&m, buf, sizeof(buf), MSG_IO_ACK, 0, 0);
	wire_put_u32(&m, A_PID, (uint32_t)rp->gpid);
	wire_put_u8(&m, A_STREAM, 0);
	wire_put_u32(&m, A_BYTES, (uint32_t)n);
	link_send_msg(&m);
}

/* stdin data from the ghost; the ghost keeps within IO_WINDOW. */
void
proc_input(struct wire_attr *tb)
{
	struct rproc	*rp = rproc_find((pid_t)wire_get_u32(&tb[A_PID]));
	unsigned char	*nq;
	size_t		 len = tb[A_DATA].data ? tb[A_DATA].len : 0;

	if (rp == NULL || wire_get_u8(&tb[A_STREAM]) != 0)
		return;
	rp->tx[0] += len;
	if (rp->fd[0] < 0) {
		/* nobody reads it any more: consume so the ghost goes on */
		rp->indone += len;
		if (len)
			proc_ack_stdin(rp, len);
		return;
	}
	if (len) {
		if (rp->inlen + len > 2 * IO_WINDOW) {
			log_warnx("ghost %d overran its stdin window",
			    (int)rp->gpid);
			rp->tx[0] -= len;
			return;
		}
		if ((nq = realloc(rp->inq, rp->inlen + len)) == NULL)
			return;
		if (rp->tty)
			proc_tty_keys(rp, tb[A_DATA].data, len);
		rp->inq = nq;
		memcpy(rp->inq + rp->inlen, tb[A_DATA].data, len);
		rp->inlen += len;
	}
	if (tb[A_EOF].data && wire_get_u8(&tb[A_EOF]))
		rp->in_eof = 1;
	if (rp->in_eof && rp->inlen == 0)
		proc_stdin_close(rp);
}

void
rproc_output(struct rproc *rp, int s)
{
	unsigned char	buf[IO_CHUNK + 128];
	unsigned char	data[IO_CHUNK];
	struct wire_msg	m;
	size_t		want = IO_WINDOW - rp->unacked[s];
	ssize_t		n;

	if (want > IO_CHUNK)
		want = IO_CHUNK;
	/*
	 * Back-pressure per read, not per poll pass: many processes ready
	 * in one pass would otherwise each add a chunk past the mark, up to
	 * the link's cap (NODE_LINK_OUTMAX) that fails the link.
	 */
	if (link_pending() >= PROC_LINK_HIGH || rp->paused)
		return;
	n = read(rp->fd[s], data, want);
	if (n < 0 && errno == EINTR)
		return;
	rp->empty[s] = n < 0 && errno == EAGAIN;
	/*
	 * A pty's master reads EIO once no one holds the slave.  After the
	 * process ended, an empty master also ends the session (the read
	 * flushed what the process wrote): closing it hangs up whatever
	 * background process still holds the slave, as a login's end does.
	 */
	if (n < 0 && errno == EAGAIN && !(rp->tty && rp->exited))
		return;
	/*
	 * EIO while the process lives: it closed the slave, as a program
	 * does with its stdio just before it exits.  Closing the master now
	 * would hang it up, and it would die of SIGHUP instead of its own
	 * exit; so wait for its end, only looking again now and then (the
	 * master keeps saying POLLHUP) in case it opens the terminal again.
	 */
	if (n < 0 && errno == EIO && rp->tty && !rp->exited) {
		rp->slave_gone = now_ms();
		return;
	}
	wire_msg_init(&m, buf, sizeof(buf), MSG_IO, 0, 0);
	wire_put_u32(&m, A_PID, (uint32_t)(rp->reported &&
	    rproc_session_lives(rp) ? rp->relay : rp->gpid));
	wire_put_u8(&m, A_STREAM, (uint8_t)s);
	if (n <= 0) {
		wire_put_u8(&m, A_EOF, 1);
		close(rp->fd[s]);
		rp->fd[s] = -1;
		/* with a pty, stdin's slot holds the master open too */
		if (rp->tty && rp->fd[0] >= 0) {
			close(rp->fd[0]);
			rp->fd[0] = -1;
		}
	} else {
		wire_put(&m, A_DATA, data, (size_t)n);
		proc_keep(rp, s, data, (size_t)n);
	}
	link_send_msg(&m);
}

/*
 * A process of top's session ends (track_event.c, before its exit goes
 * up as gpid's, through track_hooks).  When top has ended and reported,
 * its output pipes go by a living member's ghost; this one may be the
 * last that holds them, and what it wrote just before its end is in the
 * pipe now.  Read it while its ghost still stands, or nothing would
 * print it: `(sleep 1; echo late) & echo early` lost "late".  What the
 * window or the link's back-pressure holds back goes by the next member,
 * as before.
 */
void
proc_session_flush(pid_t top, pid_t gpid)
{
	struct rproc	*rp = rproc_find(top);
	int		 s, k;

	if (rp == NULL || !rp->reported || rp->tty)
		return;
	rp->relay = gpid;
	for (s = 1; s <= 2; s++)
		for (k = 0; k < 16 && rp->fd[s] >= 0 && rp->unacked[s] <
		    IO_WINDOW && link_pending() < PROC_LINK_HIGH; k++) {
			rproc_output(rp, s);
			if (rp->empty[s])
				break;
		}
}

static void
proc_write_stdin(struct rproc *rp)
{
	ssize_t	n;

	n = write(rp->fd[0], rp->inq, rp->inlen);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		/* EPIPE: the process closed its stdin; drop what is queued */
		n = (ssize_t)rp->inlen;
		close(rp->fd[0]);
		rp->fd[0] = -1;
	}
	memmove(rp->inq, rp->inq + n, rp->inlen - (size_t)n);
	rp->inlen -= (size_t)n;
	rp->indone += (uint64_t)n;
	proc_ack_stdin(rp, (size_t)n);
	if (rp->fd[0] >= 0 && rp->in_eof && rp->inlen == 0)
		proc_stdin_close(rp);
}

/* Fill poll slots (3 per process); returns how many were used. */
int
proc_poll_setup(struct pollfd *pfd, int max)
{
	struct rproc	*rp;
	int		 n = 0, s, reading = link_pending() < PROC_LINK_HIGH;

	for (rp = DLIST_FIRST(&rproc_list); rp != NULL && n + 3 <= max;
	    rp = DLIST_NEXT(rp, link)) {
		for (s = 0; s < 3; s++) {
			pfd[n].fd = -1;
			pfd[n].events = 0;
			pfd[n].revents = 0;
			if (rp->fd[s] < 0 || rp->paused)
				;
			else if (s == 0 && rp->inlen > 0)
				pfd[n].events = POLLOUT;
			else if (s > 0 && reading &&
			    rp->unacked[s] < IO_WINDOW && (!rp->slave_gone ||
			    rp->exited ||
			    now_ms() - rp->slave_gone >= PROC_HUP_RETRY_MS))
				pfd[n].events = POLLIN;
			if (pfd[n].events)
				pfd[n].fd = rp->fd[s];
			n++;
		}
	}
	return n;
}

void
proc_poll_event(struct pollfd *pfd, int n)
{
	struct rproc	*rp, *next;
	int		 i = 0, s;

	for (rp = DLIST_FIRST(&rproc_list); rp != NULL && i + 3 <= n;
	    rp = next) {
		next = DLIST_NEXT(rp, link);
		for (s = 0; s < 3; s++, i++) {
			if (pfd[i].fd < 0 || pfd[i].fd != rp->fd[s] ||
			    !pfd[i].revents)
				continue;
			if (s == 0)
				proc_write_stdin(rp);
			else
				rproc_output(rp, s);
		}
		rproc_finish(rp);
	}
}

/*
 * Output sent stays here until the ghost acknowledges it: at most
 * IO_WINDOW bytes per stream, which the window bounds anyway.  After a
 * master restart it is sent again from where the ghost says it is.
 */
static void
proc_keep(struct rproc *rp, int s, const unsigned char *p, size_t n)
{
	uint32_t	at = (rp->head[s] + rp->unacked[s]) % IO_WINDOW, k;

	rp->unacked[s] += (uint32_t)n;
	rp->tx[s] += n;
	if (rp->ring[s] == NULL && (rp->ring[s] = malloc(IO_WINDOW)) == NULL)
		return;
	for (; n > 0; at = 0, p += k, n -= k) {
		k = IO_WINDOW - at < n ? IO_WINDOW - at : (uint32_t)n;
		memcpy(rp->ring[s] + at, p, k);
	}
}
