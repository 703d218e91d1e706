/*
 * fakenode: a protocol-level test client for bpmaster, built from the same
 * common/ code as nodeinit, that can behave well or badly on purpose.
 *
 *	fakenode [-k keyfile] [-m mac] [-n count] [-w ms] MODE TARGET
 *
 * TARGET is HOST:PORT of the node link, or the control socket's path for
 * the ctl-* modes.  Modes:
 *
 *   node        authenticate, say HELLO, report stage up and stay -w ms,
 *               answering heartbeats as nodeinit does
 *   wrongproof  answer the challenge with a proof made for another one
 *   replay      authenticate once, then send the same AUTH_RESPONSE bytes
 *               on a second connection (a recorded handshake)
 *   garbage     send -n random bytes (default 4096) before authenticating
 *   huge        send a frame header claiming 4 GiB before authenticating
 *   badattr     send an AUTH_RESPONSE whose attribute overruns the frame
 *   idle        open -n connections (default 40), send nothing, and tell
 *               which were refused at once and when the others were closed
 *   ctl-nodes   ask the control socket for its node records
 *   ctl-bad     send bad frames on new control connections and check that
 *               each is closed while an older, good connection still works
 *
 * Every mode prints what happened, one "fakenode: ..." line per event, and
 * ends with a "result: ..." line.
 *
 * Exit status: 0 the master accepted (node, replay/wrongproof when they
 * were wrongly accepted) or the ctl check passed; 3 the master closed the
 * connection (a refusal); 4 the connection was still open after -w ms;
 * 1 anything else went wrong; 2 usage.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "auth.h"
#include "conn.h"
#include "proto.h"
#include "wire.h"

#define EXIT_ACCEPTED	0
#define EXIT_ERROR	1
#define EXIT_USAGE	2
#define EXIT_REFUSED	3	/* the master closed the connection */
#define EXIT_OPEN	4	/* still open when -w ran out */
#define FN_FRAME_MAX	4096	/* largest frame this client builds */
#define FN_IDLE_MAX	1000	/* connections the idle mode may hold */
#define FN_CTL_WAIT_MS	3000	/* time the master has to close a bad ctl link */
#define RECV_CLOSED	(-1)	/* recv_frame: the peer closed the connection */
#define RECV_BAD	(-2)	/* recv_frame: the peer sent a bad frame */

static const char	*keyfile = "/etc/bproc/cluster.key";
static unsigned char	 key[AUTH_KEY_LEN];
static unsigned char	 mac[6] = { 0x02, 0xfa, 0x4e, 0x00, 0x00, 0x01 };
static int		 wait_ms = 8000;
static int		 count = -1;
static uint64_t		 t0;

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: fakenode [-k keyfile] [-m mac] [-n count] "
	    "[-w ms] MODE TARGET\n"
	    "modes: node wrongproof replay garbage huge badattr idle "
	    "ctl-nodes ctl-bad\n");
	exit(EXIT_USAGE);
}

static void __attribute__((format(printf, 1, 2)))
say(const char *fmt, ...)
{
	va_list	ap;

	printf("fakenode: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static void __attribute__((noreturn, format(printf, 2, 3)))
finish(int code, const char *fmt, ...)
{
	va_list	ap;

	printf("result: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	exit(code);
}

static uint64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static unsigned long
since(uint64_t t)
{
	return (unsigned long)(now_ms() - t);
}

static int
tcp_connect(const char *target)
{
	struct sockaddr_in	 sin;
	char			 host[128], *colon;
	int			 fd, one = 1;

	if (strlen(target) >= sizeof(host))
		finish(EXIT_USAGE, "bad target %s", target);
	strcpy(host, target);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(BPROC_PORT);
	if ((colon = strrchr(host, ':')) != NULL) {
		*colon = '\0';
		sin.sin_port = htons((uint16_t)atoi(colon + 1));
	}
	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
		finish(EXIT_USAGE, "bad address %s", host);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		finish(EXIT_ERROR, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		finish(EXIT_ERROR, "connect %s: %s", target, strerror(errno));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

static int
unix_connect(const char *path)
{
	struct sockaddr_un	sun;
	int			fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		finish(EXIT_USAGE, "socket path too long");
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		finish(EXIT_ERROR, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		finish(EXIT_ERROR, "connect %s: %s", path, strerror(errno));
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

/*
 * Next frame within timeout_ms: 1 with *h, body and tb filled; 0 timeout;
 * RECV_CLOSED when the master closed the link; RECV_BAD on a bad frame.
 */
static int
recv_frame(struct conn *c, int timeout_ms, struct wire_hdr *h,
    struct wire_attr *tb)
{
	const unsigned char	*body;
	const char		*why = NULL;
	struct pollfd		 pfd;
	uint64_t		 deadline, now;
	size_t			 blen;
	int			 r;

	deadline = now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
	for (;;) {
		if ((r = conn_frame(c, h, &body, &blen, &why)) == 1) {
			if (proto_parse(h, body, blen, tb, &why) == -1) {
				say("bad %s frame from the master: %s",
				    msg_name(h->type), why);
				return RECV_BAD;
			}
			return 1;
		}
		if (r == -1) {
			say("bad stream from the master: %s", why);
			return RECV_BAD;
		}
		if ((now = now_ms()) >= deadline)
			return 0;
		pfd.fd = c->fd;
		pfd.events = POLLIN;
		if ((r = poll(&pfd, 1, (int)(deadline - now))) == -1 &&
		    errno != EINTR)
			return RECV_CLOSED;
		if (r <= 0)
			continue;
		if (conn_read(c) == -1)
			return RECV_CLOSED;
	}
}

/* Queue and write everything; -1 when the master has gone. */
static int
send_bytes(struct conn *c, const void *p, size_t len)
{
	struct pollfd	pfd;

	if (conn_send(c, p, len) == -1)
		return -1;
	while (conn_pending(c)) {
		if (conn_flush(c) == -1)
			return -1;
		if (!conn_pending(c))
			break;
		pfd.fd = c->fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, 2000) <= 0)
			return -1;
	}
	return 0;
}

static int
send_msg(struct conn *c, struct wire_msg *m)
{
	size_t	len = wire_msg_finish(m);

	if (len == 0)
		finish(EXIT_ERROR, "frame does not fit");
	return send_bytes(c, m->buf, len);
}

/* Raw bytes, bypassing conn's checks: what a hostile peer would do. */
static int
send_raw(int fd, const void *p, size_t len)
{
	const unsigned char	*b = p;
	struct pollfd		 pfd;
	ssize_t			 n;

	while (len > 0) {
		if ((n = write(fd, b, len)) == -1) {
			if (errno != EAGAIN && errno != EINTR)
				return -1;
			pfd.fd = fd;
			pfd.events = POLLOUT;
			if (poll(&pfd, 1, 2000) <= 0)
				return -1;
			continue;
		}
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Wait up to wait_ms for the master to close the link, reading what comes. */
static void
expect_close(struct conn *c, const char *what)
{
	struct wire_attr	tb[A_MAX];
	struct wire_hdr		h;
	uint64_t		start = now_ms();
	int			r;

	for (;;) {
		r = recv_frame(c, (int)(wait_ms - (int)since(start)), &h, tb);
		if (r == RECV_CLOSED || r == RECV_BAD) {
			say("master closed the connection %lu ms after %s",
			    since(start), what);
			finish(EXIT_REFUSED, "refused");
		}
		if (r == 0 || since(start) >= (unsigned long)wait_ms)
			finish(EXIT_OPEN, "still open %d ms after %s", wait_ms,
			    what);
		say("master sent %s", msg_name(h.type));
		if (h.type == MSG_AUTH_CONFIRM)
			finish(EXIT_ACCEPTED, "accepted (master confirmed)");
	}
}

/* The local end is printed so a test can find this link in the master's log. */
static void
open_link(struct conn *c, const char *target)
{
	struct sockaddr_in	sin;
	socklen_t		slen = sizeof(sin);
	char			addr[INET_ADDRSTRLEN] = "?";

	memset(&sin, 0, sizeof(sin));
	conn_init(c, tcp_connect(target), target, WIRE_MAX_FRAME, 1u << 20);
	if (getsockname(c->fd, (struct sockaddr *)&sin, &slen) == 0)
		inet_ntop(AF_INET, &sin.sin_addr, addr, sizeof(addr));
	say("connected to %s from %s:%u", target, addr, ntohs(sin.sin_port));
}

/* Read the master's challenge; its nonce goes to nm. */
static void
get_challenge(struct conn *c, unsigned char *nm)
{
	struct wire_attr	tb[A_MAX];
	struct wire_hdr		h;
	int			r;

	if ((r = recv_frame(c, wait_ms, &h, tb)) != 1) {
		if (r == RECV_CLOSED) {
			say("master closed the connection before a challenge");
			finish(EXIT_REFUSED, "refused");
		}
		finish(EXIT_ERROR, "no AUTH_CHALLENGE from the master");
	}
	if (h.type != MSG_AUTH_CHALLENGE)
		finish(EXIT_ERROR, "expected AUTH_CHALLENGE, got %s",
		    msg_name(h.type));
	say("challenge received (protocol version %u)",
	    wire_get_u32(&tb[A_VERSION]));
	memcpy(nm, tb[A_NONCE].data, AUTH_NONCE_LEN);
}

/* Build the AUTH_RESPONSE for nm into buf; returns its length. */
static size_t
make_response(unsigned char *buf, size_t cap, const unsigned char *nm,
    unsigned char *nn)
{
	unsigned char	proof[AUTH_PROOF_LEN];
	struct wire_msg	m;

	auth_nonce(nn);
	auth_proof(proof, key, AUTH_ROLE_NODE, nm, nn);
	wire_msg_init(&m, buf, cap, MSG_AUTH_RESPONSE, 0, 0);
	wire_put(&m, A_NONCE, nn, AUTH_NONCE_LEN);
	wire_put(&m, A_PROOF, proof, AUTH_PROOF_LEN);
	return wire_msg_finish(&m);
}

/* Check the master's proof and seal; exits on refusal. */
static void
get_confirm(struct conn *c, const unsigned char *nm, const unsigned char *nn)
{
	struct wire_attr	tb[A_MAX];
	struct wire_hdr		h;
	unsigned char		km[CONN_KEY_LEN], kn[CONN_KEY_LEN];
	uint64_t		start = now_ms();
	int			r;

	if ((r = recv_frame(c, wait_ms, &h, tb)) != 1) {
		if (r == RECV_CLOSED) {
			say("master closed the connection %lu ms after "
			    "AUTH_RESPONSE", since(start));
			finish(EXIT_REFUSED, "refused");
		}
		finish(EXIT_ERROR, "no AUTH_CONFIRM from the master");
	}
	if (h.type != MSG_AUTH_CONFIRM)
		finish(EXIT_ERROR, "expected AUTH_CONFIRM, got %s",
		    msg_name(h.type));
	if (auth_proof_check(tb[A_PROOF].data, key, AUTH_ROLE_MASTER, nm,
	    nn) == -1)
		finish(EXIT_ERROR, "the master's proof is wrong");
	auth_session_keys(key, nm, nn, km, kn);
	conn_seal(c, km, kn, 1);
	say("authenticated; the master proved it holds the key");
}

static void
send_status(struct conn *c)
{
	unsigned char	buf[256];
	struct wire_msg	m;

	wire_msg_init(&m, buf, sizeof(buf), MSG_STATUS, 0, 0);
	wire_put_u32(&m, A_LOAD1, 0);
	wire_put_u32(&m, A_LOAD5, 0);
	wire_put_u32(&m, A_LOAD15, 0);
	wire_put_u32(&m, A_CPUS, 1);
	wire_put_u64(&m, A_MEM_TOTAL, 64ull << 20);
	wire_put_u64(&m, A_MEM_FREE, 32ull << 20);
	wire_put_u64(&m, A_UPTIME, since(t0) / 1000);
	wire_put_u32(&m, A_NPROCS, 1);
	wire_put_u8(&m, A_STAGE, STAGE_UP);
	if (send_msg(c, &m) == -1) {
		say("master closed the connection %lu ms after connecting",
		    since(t0));
		finish(EXIT_REFUSED, "closed");
	}
}

static void
mode_node(const char *target)
{
	struct wire_attr	tb[A_MAX];
	struct wire_hdr		h;
	struct wire_msg		m;
	struct conn		c;
	unsigned char		buf[FN_FRAME_MAX], nm[AUTH_NONCE_LEN];
	unsigned char		nn[AUTH_NONCE_LEN];
	unsigned int		hb = 1000;
	uint64_t		next;
	size_t			len;
	char			macs[32];
	int			r;

	open_link(&c, target);
	get_challenge(&c, nm);
	len = make_response(buf, sizeof(buf), nm, nn);
	if (send_bytes(&c, buf, len) == -1)
		finish(EXIT_REFUSED, "closed while sending AUTH_RESPONSE");
	get_confirm(&c, nm, nn);

	wire_msg_init(&m, buf, sizeof(buf), MSG_HELLO, 0, 0);
	wire_put(&m, A_MAC, mac, sizeof(mac));
	wire_put_u8(&m, A_STAGE, STAGE_CONNECTED);
	if (send_msg(&c, &m) == -1)
		finish(EXIT_REFUSED, "closed while sending HELLO");
	snprintf(macs, sizeof(macs), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0],
	    mac[1], mac[2], mac[3], mac[4], mac[5]);
	say("HELLO sent with MAC %s", macs);
	if ((r = recv_frame(&c, wait_ms, &h, tb)) != 1 || h.type != MSG_WELCOME) {
		if (r == RECV_CLOSED) {
			say("master closed the connection after HELLO");
			finish(EXIT_REFUSED, "refused");
		}
		finish(EXIT_ERROR, "no WELCOME from the master");
	}
	hb = wire_get_u32(&tb[A_HEARTBEAT]);
	say("welcome: node %u, heartbeat %u ms, timeout %u ms, hostname %s",
	    wire_get_u32(&tb[A_NODE]), hb, wire_get_u32(&tb[A_TIMEOUT]),
	    tb[A_HOSTNAME].data ? wire_get_str(&tb[A_HOSTNAME]) : "-");
	send_status(&c);
	next = now_ms() + hb;
	while (since(t0) < (unsigned long)wait_ms) {
		int left = (int)(next - now_ms());

		if (left < 0)
			left = 0;
		r = recv_frame(&c, left, &h, tb);
		if (r == RECV_CLOSED || r == RECV_BAD) {
			say("master closed the connection %lu ms after "
			    "connecting", since(t0));
			finish(EXIT_REFUSED, "closed");
		}
		if (r == 1 && h.type == MSG_POWER) {
			say("POWER %u received", wire_get_u8(&tb[A_HOW]));
			finish(EXIT_ACCEPTED, "accepted, then powered off");
		}
		if (now_ms() >= next) {
			send_status(&c);
			next = now_ms() + hb;
		}
	}
	conn_free(&c);
	finish(EXIT_ACCEPTED, "accepted, up for %d ms", wait_ms);
}

static void
mode_wrongproof(const char *target)
{
	struct conn	c;
	unsigned char	buf[FN_FRAME_MAX], nm[AUTH_NONCE_LEN], other[AUTH_NONCE_LEN];
	unsigned char	nn[AUTH_NONCE_LEN];
	size_t		len;

	open_link(&c, target);
	get_challenge(&c, nm);
	/* a correct proof, but for a challenge this master never sent */
	randombytes_buf(other, sizeof(other));
	len = make_response(buf, sizeof(buf), other, nn);
	if (send_bytes(&c, buf, len) == -1)
		finish(EXIT_REFUSED, "closed while sending AUTH_RESPONSE");
	say("AUTH_RESPONSE sent with a proof for another challenge");
	expect_close(&c, "AUTH_RESPONSE");
}

static void
mode_replay(const char *target)
{
	struct conn	c;
	unsigned char	rec[FN_FRAME_MAX], nm[AUTH_NONCE_LEN], nn[AUTH_NONCE_LEN];
	size_t		len;

	/* first a genuine handshake, recording what the node sent */
	open_link(&c, target);
	get_challenge(&c, nm);
	len = make_response(rec, sizeof(rec), nm, nn);
	if (send_bytes(&c, rec, len) == -1)
		finish(EXIT_ERROR, "closed while sending AUTH_RESPONSE");
	get_confirm(&c, nm, nn);
	conn_free(&c);
	say("recorded a good %zu-byte AUTH_RESPONSE; replaying it", len);

	open_link(&c, target);
	get_challenge(&c, nm);
	if (send_raw(c.fd, rec, len) == -1)
		finish(EXIT_REFUSED, "closed while replaying");
	expect_close(&c, "the replayed AUTH_RESPONSE");
}

static void
mode_garbage(const char *target)
{
	struct conn	 c;
	unsigned char	*junk;
	size_t		 n = count > 0 ? (size_t)count : 4096;

	open_link(&c, target);
	if ((junk = malloc(n)) == NULL)
		finish(EXIT_ERROR, "malloc");
	randombytes_buf(junk, n);
	/*
	 * A random length field is nearly always over the pre-auth limit;
	 * make sure, so the test says what it means.
	 */
	if (n >= 4)
		junk[0] |= 0x80;
	if (send_raw(c.fd, junk, n) == -1)
		say("master closed the connection while garbage was sent");
	else
		say("sent %zu random bytes", n);
	free(junk);
	expect_close(&c, "the garbage");
}

static void
mode_huge(const char *target)
{
	unsigned char	hdr[WIRE_HDR_LEN] = {
		0xff, 0xff, 0xff, 0xff, 0, MSG_AUTH_RESPONSE, 0, 0, 0, 0, 0, 1
	};
	struct conn	c;

	open_link(&c, target);
	if (send_raw(c.fd, hdr, sizeof(hdr)) == -1)
		finish(EXIT_REFUSED, "closed while sending");
	say("sent a header claiming a 4 GiB frame");
	expect_close(&c, "the huge header");
}

static void
mode_badattr(const char *target)
{
	unsigned char	buf[FN_FRAME_MAX], nm[AUTH_NONCE_LEN], nn[AUTH_NONCE_LEN];
	struct conn	c;
	size_t		len;

	open_link(&c, target);
	get_challenge(&c, nm);
	len = make_response(buf, sizeof(buf), nm, nn);
	/* first attribute claims 200 bytes in a 72-byte body */
	buf[WIRE_HDR_LEN] = 0;
	buf[WIRE_HDR_LEN + 1] = 200;
	if (send_raw(c.fd, buf, len) == -1)
		finish(EXIT_REFUSED, "closed while sending");
	say("sent an AUTH_RESPONSE whose attribute overruns the frame");
	expect_close(&c, "the bad attribute");
}

struct idle_link {
	int		fd;
	long		challenge_ms;	/* -1 none yet */
	long		closed_ms;	/* -1 still open */
};

static void
mode_idle(const char *target)
{
	static struct idle_link	 l[FN_IDLE_MAX];
	struct pollfd		 pfd[FN_IDLE_MAX];
	unsigned char		 buf[512];
	int			 n = count > 0 ? count : 40, i, open, np;
	int			 nchal = 0, nref = 0, nclosed = 0;
	long			 lo = -1, hi = -1;
	ssize_t			 r;

	if (n > FN_IDLE_MAX)
		finish(EXIT_USAGE, "at most %d connections", FN_IDLE_MAX);
	for (i = 0; i < n; i++) {
		l[i].fd = tcp_connect(target);
		l[i].challenge_ms = l[i].closed_ms = -1;
	}
	say("%d idle connections open %lu ms after the first", n, since(t0));
	open = n;
	while (open > 0 && since(t0) < (unsigned long)wait_ms) {
		np = 0;
		for (i = 0; i < n; i++)
			if (l[i].closed_ms < 0) {
				pfd[np].fd = l[i].fd;
				pfd[np].events = POLLIN;
				pfd[np].revents = 0;
				np++;
			}
		if (poll(pfd, (nfds_t)np, 100) == -1 && errno != EINTR)
			finish(EXIT_ERROR, "poll: %s", strerror(errno));
		for (i = 0; i < n; i++) {
			if (l[i].closed_ms >= 0)
				continue;
			r = read(l[i].fd, buf, sizeof(buf));
			if (r > 0) {
				if (l[i].challenge_ms < 0)
					l[i].challenge_ms = (long)since(t0);
				continue;
			}
			if (r == -1 && (errno == EAGAIN || errno == EINTR))
				continue;
			l[i].closed_ms = (long)since(t0);
			open--;
		}
	}
	for (i = 0; i < n; i++) {
		if (l[i].challenge_ms >= 0)
			nchal++;
		else if (l[i].closed_ms >= 0)
			nref++;
		if (l[i].challenge_ms >= 0 && l[i].closed_ms >= 0) {
			nclosed++;
			if (lo < 0 || l[i].closed_ms < lo)
				lo = l[i].closed_ms;
			if (l[i].closed_ms > hi)
				hi = l[i].closed_ms;
		}
		close(l[i].fd);
	}
	say("%d connections: %d got a challenge, %d refused at once", n,
	    nchal, nref);
	say("%d challenged connections closed for idling, after %ld to %ld ms",
	    nclosed, lo, hi);
	finish(EXIT_ACCEPTED, "challenged=%d refused=%d idle_closed=%d "
	    "idle_min_ms=%ld idle_max_ms=%ld still_open=%d", nchal, nref,
	    nclosed, lo, hi, open);
}

/* Ask for the node table; returns the record count or -1. */
static int
ctl_nodes(struct conn *c, uint32_t seq)
{
	struct wire_attr	tb[A_MAX];
	struct wire_hdr		h;
	struct wire_msg		m;
	unsigned char		buf[64];
	int			n = 0, r;

	wire_msg_init(&m, buf, sizeof(buf), MSG_CTL_NODES, 0, seq);
	if (send_msg(c, &m) == -1)
		return -1;
	while ((r = recv_frame(c, FN_CTL_WAIT_MS, &h, tb)) == 1) {
		if (h.type == MSG_CTL_NODE)
			n++;
		else if (h.type == MSG_CTL_END) {
			if (wire_get_u32(&tb[A_COUNT]) != (uint32_t)n) {
				say("CTL_END says %u records, %d came",
				    wire_get_u32(&tb[A_COUNT]), n);
				return -1;
			}
			return n;
		}
	}
	return -1;
}

static void
mode_ctl_nodes(const char *path)
{
	struct conn	c;
	int		n;

	conn_init(&c, unix_connect(path), "ctl", WIRE_MAX_FRAME, 1u << 20);
	if ((n = ctl_nodes(&c, 1)) < 0)
		finish(EXIT_ERROR, "no answer to CTL_NODES");
	say("%d node records", n);
	conn_free(&c);
	finish(EXIT_ACCEPTED, "nodes=%d", n);
}

static void
mode_ctl_bad(const char *path)
{
	static const struct {
		const char	*name;
		unsigned char	 bytes[24];
		size_t		 len;
	} bad[] = {
		{ "header shorter than a header", { 0, 0, 0, 4, 0, 32, 0, 0,
		    0, 0, 0, 1 }, 12 },
		{ "length 4 GiB", { 0xff, 0xff, 0xff, 0xff, 0, 32, 0, 0, 0, 0,
		    0, 1 }, 12 },
		{ "unknown message type", { 0, 0, 0, 12, 0x7f, 0x7f, 0, 0, 0,
		    0, 0, 1 }, 12 },
		{ "attribute overruns the frame", { 0, 0, 0, 20, 0, 37, 0, 0,
		    0, 0, 0, 1, 0, 200, 0, 4, 0, 0, 0, 1 }, 20 },
		{ "CTL_SET without its node", { 0, 0, 0, 20, 0, 37, 0, 0, 0, 0,
		    0, 1, 0, 5, 0, 18, 4, 0, 0, 0 }, 20 },
	};
	struct conn	good, b;
	size_t		i;
	int		n, fails = 0;

	conn_init(&good, unix_connect(path), "ctl-good", WIRE_MAX_FRAME,
	    1u << 20);
	if ((n = ctl_nodes(&good, 1)) < 0)
		finish(EXIT_ERROR, "the good connection got no answer");
	say("good connection: %d node records", n);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct wire_attr	tb[A_MAX];
		struct wire_hdr		h;
		uint64_t		start;
		int			r;

		conn_init(&b, unix_connect(path), "ctl-bad", WIRE_MAX_FRAME,
		    1u << 20);
		send_raw(b.fd, bad[i].bytes, bad[i].len);
		start = now_ms();
		r = recv_frame(&b, FN_CTL_WAIT_MS, &h, tb);
		if (r == RECV_CLOSED || r == RECV_BAD)
			say("bad frame (%s): connection closed after %lu ms",
			    bad[i].name, since(start));
		else {
			say("bad frame (%s): connection NOT closed",
			    bad[i].name);
			fails++;
		}
		conn_free(&b);
		if ((n = ctl_nodes(&good, (uint32_t)i + 2)) < 0) {
			say("the good connection stopped answering");
			finish(EXIT_ERROR, "the master dropped a good connection");
		}
		say("good connection still answers: %d node records", n);
	}
	conn_free(&good);
	if (fails)
		finish(EXIT_ERROR, "%d bad frames did not close their "
		    "connection", fails);
	finish(EXIT_ACCEPTED, "every bad connection closed, the good one "
	    "kept working");
}

static int
parse_mac(const char *s, unsigned char *out)
{
	unsigned int	b[6];
	char		tail;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
	    &b[4], &b[5], &tail) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		out[i] = (unsigned char)b[i];
	return 0;
}

int
main(int argc, char **argv)
{
	const char	*mode, *target;
	char		 err[512];
	int		 ch;

	while ((ch = getopt(argc, argv, "k:m:n:w:")) != -1) {
		switch (ch) {
		case 'k':
			keyfile = optarg;
			break;
		case 'm':
			if (parse_mac(optarg, mac) == -1)
				usage();
			break;
		case 'n':
			count = atoi(optarg);
			break;
		case 'w':
			wait_ms = atoi(optarg);
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 2)
		usage();
	mode = argv[optind];
	target = argv[optind + 1];
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (auth_init() == -1)
		finish(EXIT_ERROR, "libsodium initialisation failed");
	t0 = now_ms();

	if (strcmp(mode, "ctl-nodes") == 0)
		mode_ctl_nodes(target);
	if (strcmp(mode, "ctl-bad") == 0)
		mode_ctl_bad(target);
	if (strcmp(mode, "idle") == 0)
		mode_idle(target);
	if (strcmp(mode, "garbage") == 0)
		mode_garbage(target);
	if (strcmp(mode, "huge") == 0)
		mode_huge(target);
	if (auth_key_load(keyfile, key, err, sizeof(err)) == -1)
		finish(EXIT_ERROR, "%s", err);
	if (strcmp(mode, "node") == 0)
		mode_node(target);
	if (strcmp(mode, "wrongproof") == 0)
		mode_wrongproof(target);
	if (strcmp(mode, "replay") == 0)
		mode_replay(target);
	if (strcmp(mode, "badattr") == 0)
		mode_badattr(target);
	usage();
}
