/*
 * libbproc: client side of bpmaster's control socket.  Requests are
 * synchronous: one frame out, records back until CTL_END or CTL_RESULT.
 * The master identifies us by SO_PEERCRED; no request carries our uid.
 * This part holds the connection, the framing, the record loop that the
 * node and process lists share, and the error text.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "bproc.h"
#include "clock.h"
#include "libbproc_int.h"

#define LIBBPROC_WAIT_S		10	/* BPROC_MASTER_WAIT's default: a restart takes 1-3 s */
#define LIBBPROC_WAIT_MAX_S	3600	/* the most BPROC_MASTER_WAIT may ask */
#define LIBBPROC_RETRY_MS	200	/* between connects while the master is away */
#define LIBBPROC_RETRIES	3	/* a table asked again after the master closed */

static char	bproc_errmsg[512];
static int	bproc_master_err;	/* the last error was bpmaster's, not a node's */

const char *
bproc_strerror(void)
{
	return bproc_errmsg[0] ? bproc_errmsg : strerror(errno);
}

const char *
bproc_node_strerror(void)
{
	if (errno == EACCES || errno == EPERM)
		return "Permission denied";
	if (errno == ENODEV)
		return "No such node";
	if (errno == EHOSTDOWN)
		return "Node is down";
	return bproc_strerror();
}

int
bproc_master_error(void)
{
	return bproc_master_err;
}

void
libbproc_errclear(void)
{
	bproc_errmsg[0] = '\0';
	bproc_master_err = 0;
}

void
libbproc_errmsg(const char *fmt, ...)
{
	va_list	ap;
	int	saved = errno;

	va_start(ap, fmt);
	vsnprintf(bproc_errmsg, sizeof(bproc_errmsg), fmt, ap);
	va_end(ap);
	errno = saved;
}

/* The master's own words (A_MSG), when a reply carries them. */
static void
master_words(const struct wire_attr *msg)
{
	if (msg->data != NULL)
		libbproc_errmsg("%s", wire_get_str(msg));
}

/* A CTL_RESULT or EXEC_RESULT: the master's words kept, its errno ours. */
int
libbproc_result(struct wire_attr tb[A_MAX])
{
	int	e;

	master_words(&tb[A_MSG]);
	if ((e = (int)wire_get_u32(&tb[A_ERRNO])) != 0) {
		errno = e;
		return -1;
	}
	return 0;
}

static const char *
master_path(void)
{
	const char	*p = getenv("BPROC_MASTER");

	return (p != NULL && *p != '\0') ? p : BPROC_CTL_PATH;
}

/*
 * What to do about a master that is not there, for the one who sees the
 * error: a new user's first run, or a shell whose BPROC_MASTER is stale.
 */
static const char *
connect_hint(int e)
{
	const char	*p = getenv("BPROC_MASTER");

	if (e != ENOENT && e != ECONNREFUSED)
		return "";
	if (p != NULL && *p != '\0')
		return " (is the cluster of BPROC_MASTER up? for the running "
		    "virtual cluster: eval \"$(bpvcluster env)\"; unset "
		    "BPROC_MASTER for the system's bpmaster)";
	return " (is bpmaster running? start it: bpmaster, or systemctl "
	    "start bpmaster; for a virtual cluster: eval \"$(bpvcluster env)\", "
	    "or set BPROC_MASTER to its socket)";
}

/* How long a call waits for a master that does not answer: BPROC_MASTER_WAIT. */
static unsigned int
master_wait_s(void)
{
	const char	*s = getenv("BPROC_MASTER_WAIT");
	char		*end;
	unsigned long	 v;

	if (s == NULL || *s == '\0')
		return LIBBPROC_WAIT_S;
	v = strtoul(s, &end, 10);
	return *end == '\0' && v <= LIBBPROC_WAIT_MAX_S ? (unsigned int)v :
	    LIBBPROC_WAIT_S;
}

/* A signal that ends the caller is pending (it may block them all). */
static int
master_wait_cut(void)
{
	sigset_t	pend;

	return sigpending(&pend) == 0 && (sigismember(&pend, SIGINT) == 1 ||
	    sigismember(&pend, SIGTERM) == 1 || sigismember(&pend, SIGHUP) == 1 ||
	    sigismember(&pend, SIGQUIT) == 1);
}

/* When the wait that found the master back would have ended (ms). */
static uint64_t	back_until;

/*
 * The master we waited for is back, and the wait is not over: its nodes
 * may still be reconnecting, so "Node is down" is worth asking again.
 */
int
libbproc_master_back(void)
{
	return back_until != 0 && now_ms() < back_until && !master_wait_cut();
}

/*
 * Connect to the master.  One that is there but does not answer (its
 * socket left by a master that died, nobody listening: it restarts) is
 * waited for, like slurmctld by Slurm's commands: up to
 * BPROC_MASTER_WAIT seconds (default LIBBPROC_WAIT_S, 0 fails at once),
 * saying so once on stderr, and no longer than until a signal that
 * would end the caller is pending.  No socket at all is a setup to fix
 * (a new user, a stale BPROC_MASTER), said at once with what to do;
 * unless it is the moment a new master binds its socket, in a wait.
 */
int
libbproc_connect(void)
{
	struct sockaddr_un	 sun;
	const char		*path = master_path();
	unsigned int		 wait_s = master_wait_s();
	uint64_t		 until = 0;
	struct timespec		 nap = { 0, LIBBPROC_RETRY_MS * 1000000L };
	char			 waited[48] = "";
	int			 fd, saved;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		libbproc_errmsg("cannot reach bpmaster at %.64s...: a socket "
		    "path has at most %zu bytes", path, sizeof(sun.sun_path) - 1);
		bproc_master_err = 1;
		errno = ENAMETOOLONG;
		return -1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, path);
	for (;;) {
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
			return -1;
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			if (until != 0)
				back_until = until;
			return fd;
		}
		saved = errno;
		close(fd);
		if ((saved != ECONNREFUSED && saved != EAGAIN &&
		    (saved != ENOENT || until == 0)) || wait_s == 0)
			break;
		if (until == 0) {
			until = now_ms() + (uint64_t)wait_s * 1000;
			fprintf(stderr, "%s: bpmaster is not answering at %s; "
			    "waiting up to %u s (BPROC_MASTER_WAIT)\n",
			    program_invocation_short_name, path, wait_s);
		} else if (now_ms() >= until) {
			snprintf(waited, sizeof(waited), " (waited %u s)",
			    wait_s);
			break;
		}
		if (master_wait_cut()) {
			saved = EINTR;
			break;
		}
		nanosleep(&nap, NULL);
	}
	libbproc_errmsg("cannot reach bpmaster at %s: %s%s%s", path,
	    strerror(saved), waited, connect_hint(saved));
	bproc_master_err = 1;
	errno = saved;
	return -1;
}

/*
 * The master may close our connection at any time (it refuses one when a
 * user holds too many, and it may be restarting); that must be an error
 * the tool can print, never a SIGPIPE that kills it without a word.
 */
static void
master_closed(void)
{
	libbproc_errmsg("bpmaster closed the connection (%s)", master_path());
	bproc_master_err = 1;
}

/* Sockets only: send(2) with MSG_NOSIGNAL, so a closed peer is EPIPE. */
int
libbproc_send(int fd, const void *buf, size_t len)
{
	const unsigned char	*p = buf;
	ssize_t			 n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EPIPE || errno == ECONNRESET)
				master_closed();
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
read_all(int fd, void *buf, size_t len)
{
	unsigned char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		n = read(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ECONNRESET)
				master_closed();
			return -1;
		}
		if (n == 0) {
			master_closed();
			errno = ECONNRESET;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* A reply the reader waits for: its attributes are the reader's. */
static int
libbproc_take(void *arg, const struct proto_frame *f)
{
	memcpy(arg, f->tb, sizeof(*f->tb) * A_MAX);
	return 0;
}

#define LW(w)	(1u << LIBBPROC_WAIT_##w)

/* The replies libbproc takes, and which wait takes each. */
static const struct proto_route libbproc_routes[MSG_MAX] = {
	[MSG_CTL_NODE] =	{ LW(NODES), libbproc_take },
	[MSG_CTL_PROC] =	{ LW(PROCS), libbproc_take },
	[MSG_CTL_END] =		{ LW(NODES) | LW(PROCS), libbproc_take },
	[MSG_CTL_RESULT] =	{ LW(RESULT), libbproc_take },
	[MSG_CTL_CHANGED] =	{ LW(WATCH), libbproc_take },
	[MSG_CTL_MASTER_INFO] =	{ LW(MASTER), libbproc_take },
	[MSG_NEED] =		{ LW(EXEC), libbproc_take },
	[MSG_BLOB_ACK] =	{ LW(EXEC), libbproc_take },
	[MSG_EXEC_RESULT] =	{ LW(EXEC) | LW(IMAGE), libbproc_take },
	/* a migration's verdict, and what the restorer says before it */
	[MSG_IMAGE_RESULT] =	{ LW(IMAGE), libbproc_take },
	[MSG_IMAGE_ACK] =	{ LW(IMAGE), libbproc_take },
	[MSG_IO] =		{ LW(IMAGE), libbproc_take },
	[MSG_EXIT] =		{ LW(IMAGE), libbproc_take },
};

static const struct proto_role libbproc_role = { "bpmaster reply", DIR_M2T,
    libbproc_routes };

/*
 * Read one control frame into buf (WIRE_MAX_FRAME bytes); 0 when it is a
 * well-formed reply of the kind wait expects, its attributes in tb.
 */
int
libbproc_recv(int fd, unsigned char *buf, unsigned int wait,
    struct wire_hdr *h, struct wire_attr tb[A_MAX])
{
	const char	*bad = NULL;
	char		 why[PROTO_WHY_MAX];

	if (read_all(fd, buf, WIRE_HDR_LEN) == -1)
		return -1;
	if (wire_hdr_decode(buf, WIRE_HDR_LEN, WIRE_MAX_FRAME, h, &bad) != 1) {
		snprintf(why, sizeof(why), "%s", bad ? bad : "?");
		goto bad;
	}
	if (read_all(fd, buf + WIRE_HDR_LEN, h->len - WIRE_HDR_LEN) == -1)
		return -1;
	if (proto_dispatch(&libbproc_role, wait, tb, h, buf + WIRE_HDR_LEN,
	    h->len - WIRE_HDR_LEN, why) == -1)
		goto bad;
	return 0;
bad:
	libbproc_errmsg("bad reply from bpmaster: %s", why);
	bproc_master_err = 1;
	errno = EPROTO;
	return -1;
}

/* Send a request that has no attributes. */
int
libbproc_request(int fd, uint16_t type)
{
	unsigned char	req[64];
	struct wire_msg	m;
	size_t		len;

	wire_msg_init(&m, req, sizeof(req), type, 0, 1);
	len = wire_msg_finish(&m);
	return libbproc_send(fd, req, len);
}

/*
 * One request answered by one CTL_RESULT, on a connection of its own: the
 * result's errno, or 0.  Where u8attr is non-zero and the result carries
 * it, *u8val gets its value (it is left alone otherwise).
 */
int
libbproc_call(const void *req, size_t len, uint16_t u8attr, int *u8val)
{
	unsigned char		*buf;
	struct wire_hdr		 h;
	struct wire_attr	 tb[A_MAX];
	int			 fd, ret = -1;

	if ((fd = libbproc_connect()) == -1)
		return -1;
	if ((buf = malloc(WIRE_MAX_FRAME)) == NULL)
		goto out;
	if (libbproc_send(fd, req, len) == -1 ||
	    libbproc_recv(fd, buf, LIBBPROC_WAIT_RESULT, &h, tb) == -1)
		goto out;
	if ((ret = libbproc_result(tb)) == 0 && u8attr != 0 &&
	    tb[u8attr].data != NULL)
		*u8val = wire_get_u8(&tb[u8attr]);
out:
	free(buf);
	close(fd);
	return ret;
}

/* CTL_END closes a list: its errno, and the count must match what came. */
static int
records_end(struct wire_attr tb[A_MAX], size_t n)
{
	if (tb[A_ERRNO].data && wire_get_u32(&tb[A_ERRNO])) {
		errno = (int)wire_get_u32(&tb[A_ERRNO]);
		return -1;
	}
	if (wire_get_u32(&tb[A_COUNT]) != n) {
		errno = EPROTO;
		return -1;
	}
	return 0;
}

/*
 * One list request: send req, decode each rec record into an element of
 * elsize bytes (at most max of them) until CTL_END.  *listp is malloc'd;
 * returns the number of records.
 */
int
libbproc_records(uint16_t req, uint16_t rec, size_t elsize, size_t max,
    libbproc_decode_fn *decode, void **listp)
{
	struct wire_hdr		 h;
	struct wire_attr	 tb[A_MAX];
	unsigned char		*buf, *list = NULL, *nl;
	size_t			 n = 0, cap = 0;
	int			 fd, ret = -1, tries = 0;

	libbproc_errclear();
	if ((buf = malloc(WIRE_MAX_FRAME)) == NULL)
		return -1;
again:
	if ((fd = libbproc_connect()) == -1) {
		free(buf);
		return -1;
	}
	if (libbproc_request(fd, req) == -1)
		goto lost;
	for (;;) {
		if (libbproc_recv(fd, buf, rec == MSG_CTL_NODE ?
		    LIBBPROC_WAIT_NODES : LIBBPROC_WAIT_PROCS, &h, tb) == -1)
			goto lost;
		if (h.type == MSG_CTL_END) {
			if (records_end(tb, n) == -1)
				goto out;
			break;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			if (cap > max ||
			    (nl = reallocarray(list, cap, elsize)) == NULL) {
				errno = ENOMEM;
				goto out;
			}
			list = nl;
		}
		memset(list + n * elsize, 0, elsize);
		decode(list + n * elsize, tb);
		n++;
	}
	*listp = list;
	list = NULL;
	ret = (int)n;
	goto out;
lost:
	/*
	 * The master went away before its answer was whole (a restart):
	 * a table is safe to ask again, of the next master.
	 */
	if ((errno == ECONNRESET || errno == EPIPE) &&
	    tries++ < LIBBPROC_RETRIES) {
		close(fd);
		n = 0;
		libbproc_errclear();
		goto again;
	}
out:
	free(list);
	free(buf);
	close(fd);
	return ret;
}
