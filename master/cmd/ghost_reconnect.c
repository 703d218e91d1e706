/*
 * A ghost outlives its master (issue 13).  When the control connection
 * ends without an exit, the ghost keeps its state and connects again to
 * the same socket path (getpeername of the first connection: the path
 * bpmaster bound), every GHOST_RETRY_MS, for master_grace; then it says
 * who it is (MSG_GHOST_REJOIN, bpghost.c) and the new master resumes it.
 * Meanwhile the signals it reads are queued here, in order, and the stdin
 * it sent that the node has not acknowledged stays here, so either can go
 * (again) once the master is back.  No heap, like the rest of the ghost.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ghost_reconnect.h"
#include "proto.h"

static struct sockaddr_un	ctl_addr;
static socklen_t		ctl_addrlen;
static unsigned int		grace_ms = GHOST_GRACE_MS;
static uint64_t			lost_at, next_try;
static int			sigq[GHOST_SIGQ], nsigq;
/* stdin sent and not acknowledged: [in_tx - len, in_tx) of the stream */
static unsigned char		in_ring[IO_WINDOW];
static uint64_t			in_tx;
static size_t			in_len;

static uint64_t
ms_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The first connection tells where bpmaster listens; the env its grace. */
void
reconnect_init(int fd)
{
	const char	*s;

	ctl_addrlen = sizeof(ctl_addr);
	if (getpeername(fd, (struct sockaddr *)&ctl_addr, &ctl_addrlen) == -1 ||
	    ctl_addr.sun_family != AF_UNIX || ctl_addr.sun_path[0] == '\0')
		ctl_addrlen = 0;
	if ((s = getenv("BPROC_GHOST_GRACE")) != NULL && atoi(s) >= 0)
		grace_ms = (unsigned int)atoi(s);
}

/* The connection is gone: the grace runs from the first loss. */
void
reconnect_lost(void)
{
	if (lost_at == 0)
		lost_at = ms_now();
	next_try = ms_now() + GHOST_RETRY_MS / 2;
}

/* poll's timeout while lost: until the next try. */
int
reconnect_timeout(void)
{
	uint64_t	now = ms_now();

	return next_try > now ? (int)(next_try - now) : 0;
}

/*
 * Connect again if it is time: the new descriptor, -1 not yet (try
 * later), -2 the grace is over (*why says so) or there is no path.
 */
int
reconnect_try(const char **why)
{
	uint64_t	now = ms_now();
	int		fd;

	if (ctl_addrlen == 0 || grace_ms == 0) {
		*why = "lost contact with bpmaster";
		return -2;
	}
	if (now - lost_at > grace_ms) {
		*why = "bpmaster did not come back within master_grace; "
		    "the process is ended on the node";
		return -2;
	}
	if (now < next_try)
		return -1;
	next_try = now + GHOST_RETRY_MS;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&ctl_addr, ctl_addrlen) == -1) {
		close(fd);
		return -1;
	}
	lost_at = 0;
	return fd;
}

/* 0 queued, -1 the queue is full (the signal is dropped, said once). */
int
reconnect_queue_sig(int sig)
{
	int	i;

	/* like the kernel's, one of each standard signal pending at most */
	for (i = 0; i < nsigq && sig < 32; i++)
		if (sigq[i] == sig)
			return 0;
	if (nsigq == GHOST_SIGQ)
		return -1;
	sigq[nsigq++] = sig;
	return 0;
}

/* The oldest queued signal, or 0. */
int
reconnect_next_sig(void)
{
	int	sig;

	if (nsigq == 0)
		return 0;
	sig = sigq[0];
	memmove(sigq, sigq + 1, (size_t)--nsigq * sizeof(int));
	return sig;
}

/* stdin sent: kept until acknowledged (the window bounds it). */
void
stdin_keep(const unsigned char *p, size_t n)
{
	size_t	at = (size_t)(in_tx % IO_WINDOW), k;

	in_tx += n;
	in_len += n;
	if (in_len > IO_WINDOW)
		in_len = IO_WINDOW;
	for (; n > 0; p += k, n -= k, at = 0) {
		k = IO_WINDOW - at < n ? IO_WINDOW - at : n;
		memcpy(in_ring + at, p, k);
	}
}

/*
 * What to send again after a restart: from the node's offset got (done:
 * what it wrote and so acknowledged), one piece at a time; 0 when nothing.
 */
size_t
stdin_kept(uint64_t got, uint64_t done, const unsigned char **p)
{
	uint64_t	base = in_tx - in_len;
	size_t		at, k;

	if (done > base && done <= in_tx) {
		in_len = (size_t)(in_tx - done);
		base = done;
	}
	if (got < base || got >= in_tx)
		return 0;
	at = (size_t)(got % IO_WINDOW);
	k = (size_t)(in_tx - got);
	if (k > IO_WINDOW - at)
		k = IO_WINDOW - at;
	*p = in_ring + at;
	return k;
}
