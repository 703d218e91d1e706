/*
 * The node's link to the master (the uplink): once the network is up
 * (uplink_net.c), connect with backoff, the challenge/response handshake,
 * HELLO, then status every heartbeat (node_status.c says what is in it).  What each state takes is one table (uplink_routes),
 * read through proto_dispatch; what is for the process host and the
 * blob fetcher goes up through uplink_hooks, so this file imports neither.
 * A master that stays silent past the timeout is dropped and redialled;
 * one that stays away is grace.c's (its processes, a reboot).
 *
 * uplink_transition() alone changes the link's state: it rejects edges the
 * protocol has no use for, sets the timer each state runs under, and logs
 * old -> new.  Whatever goes wrong on the link (a failed send, a bad
 * frame, EOF) only marks it LINK_DEAD: the caller may be walking the
 * process table or holding a pending push, so nothing is freed there.  The
 * main loop calls uplink_reap() after each handler, and only that closes the
 * link and ends what hung on it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "log.h"
#include "nodeinit_int.h"

int			 node_num = -1;
struct uplink_hooks	 uplink_hooks;
int			 master_proto;	/* the master's protocol version (its challenge) */
static unsigned char	 key[AUTH_KEY_LEN];
static int		 have_key;
static unsigned char	 mac[6];
static struct conn	 lc = { .fd = -1 };
static int		 lstate = LINK_IDLE;
static unsigned char	 nm[AUTH_NONCE_LEN], nn[AUTH_NONCE_LEN];
static uint64_t		 next_try, backoff = NODE_BACKOFF_MIN;
static uint64_t		 deadline;	/* handshake or silence limit */
static int		 tcp_up;	/* the connect completed */
static uint64_t		 syn_deadline, syn_ms = NODE_SYN_MS;
static int		 was_up;	/* the dead link had been up */
static uint64_t		 next_status;
static uint64_t		 lost_since;
static uint64_t		 boot_ms;
/*
 * silence_ms: how long the master may stay silent, twice its timeout.  A
 * master busy with a push to a thousand nodes runs late with its pings,
 * and a link dropped for that costs more than it saves; a master that
 * died closes the connection (or, hung, is still found within 2 x its
 * timeout).
 */
static unsigned int	 heartbeat_ms = 1000, silence_ms = 6000;

static void
uplink_set_stage(int s)
{
	if (s != node_stage)
		log_info("boot stage %s -> %s", stage_name(node_stage),
		    stage_name(s));
	node_stage = s;
}

void
uplink_init(void)
{
	char	err[256];

	boot_ms = now_ms();
	if (auth_key_load(ncf.keyfile, key, err, sizeof(err)) == -1)
		log_warnx("cluster key: %s; cannot join a cluster", err);
	else
		have_key = 1;
	if (uplink_net_up(mac) == 0)
		uplink_set_stage(STAGE_NETWORK);
	if (ncf.master_addr[0] == '\0')
		log_warnx("no bproc.master= given; waiting forever");
	next_try = now_ms();
	lost_since = now_ms();
}

static int
uplink_transition(int to, const char *why)
{
	uint64_t	now = now_ms();
	int		from = lstate;

	if (!uplink_edge_ok(from, to)) {
		log_warnx("master link: refused %s -> %s (%s)",
		    uplink_state_name(from), uplink_state_name(to), why);
		return -1;
	}
	/* a redial every backoff is routine; the rest is news */
	if (to == LINK_DEAD)
		log_warnx("master link %s: %s -> %s (%s)", lc.peer,
		    uplink_state_name(from), uplink_state_name(to), why);
	else if (to != LINK_HELLO && to != LINK_UP)
		log_debug("master link %s -> %s (%s)", uplink_state_name(from),
		    uplink_state_name(to), why);
	else
		log_info("master link %s -> %s (%s)", uplink_state_name(from),
		    uplink_state_name(to), why);
	lstate = to;
	switch (to) {
	case LINK_CONNECTING:
		/* the whole handshake, up to WELCOME, runs under this */
		deadline = now + NODE_AUTH_MS;
		break;
	case LINK_HELLO:
		uplink_set_stage(STAGE_CONNECTED);
		break;
	case LINK_UP:
		deadline = now + silence_ms;
		next_status = now;
		backoff = NODE_BACKOFF_MIN;
		uplink_set_stage(STAGE_SETUP);
		break;
	case LINK_DEAD:
		was_up = from == LINK_UP;
		if (was_up)
			lost_since = now;
		deadline = now;		/* uplink_reap's, at once */
		break;
	case LINK_IDLE:
		if (node_stage > STAGE_NETWORK)
			uplink_set_stage(STAGE_NETWORK);
		next_try = now + backoff + randombytes_uniform(
		    (uint32_t)backoff / 2 + 1);
		backoff = backoff * 2 > NODE_BACKOFF_MAX ? NODE_BACKOFF_MAX :
		    backoff * 2;
		break;
	}
	return 0;
}

/*
 * Mark the link failed; uplink_reap() closes it once the handler is done.
 * An up link hears BYE first: the master then knows this end still
 * lives and redials, so it keeps our processes' ghosts waiting; a close
 * without it means nodeinit is gone (rejoin.c, "link lost").
 */
static void
uplink_fail(const char *why)
{
	unsigned char	buf[32];
	struct wire_msg	m;
	int		up = lstate == LINK_UP;

	if (lstate != LINK_DEAD && lstate != LINK_IDLE)
		uplink_transition(LINK_DEAD, why);
	if (up) {
		wire_msg_init(&m, buf, sizeof(buf), MSG_BYE, 0, 0);
		if (conn_send(&lc, m.buf, wire_msg_finish(&m)) == 0)
			conn_flush(&lc);
	}
}

/*
 * Close a link a handler marked dead, from the main loop, where nobody
 * holds a process record or a pending push: end the processes whose
 * ghosts went with the master, forget the pushes, and wait to redial.
 */
void
uplink_reap(void)
{
	if (lstate != LINK_DEAD)
		return;
	if (uplink_hooks.lost != NULL)
		uplink_hooks.lost(was_up);
	conn_free(&lc);
	lc.fd = -1;
	was_up = 0;
	uplink_transition(LINK_IDLE, "closed");
}

/*
 * A socket to the master with its connect under way, or -1 (logged, the
 * next try set).  Its SYN is sent anew, on a new socket, if it goes
 * unanswered for syn_ms (uplink_timer): a master whose listen backlog a
 * flood fills drops SYNs, and TCP's own retransmission waits a whole
 * second, which a booting node need not wait.
 */
static int
uplink_dial(void)
{
	struct sockaddr_in	sin;
	int			fd, one = 1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)ncf.master_port);
	if (inet_pton(AF_INET, ncf.master_addr, &sin.sin_addr) != 1) {
		log_warnx("bad master address %s", ncf.master_addr);
		next_try = now_ms() + NODE_BACKOFF_MAX;
		return -1;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		log_warn("socket");
		next_try = now_ms() + NODE_BACKOFF_MAX;
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	tcp_up = 0;
	syn_deadline = now_ms() + syn_ms;
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 &&
	    errno != EINPROGRESS) {
		log_warn("master link %s:%d", ncf.master_addr, ncf.master_port);
		close(fd);
		next_try = now_ms() + backoff;
		return -1;
	}
	return fd;
}

/* The SYN went unanswered: the same handshake deadline, a new SYN. */
static void
uplink_redial(void)
{
	int	fd;

	if (syn_ms < NODE_SYN_MAX_MS)
		syn_ms *= 2;
	if ((fd = uplink_dial()) == -1) {
		uplink_fail("cannot redial");
		return;
	}
	close(lc.fd);
	lc.fd = fd;
}

static void
uplink_connect(void)
{
	char	peer[80];
	int	fd;

	syn_ms = NODE_SYN_MS;
	if ((fd = uplink_dial()) == -1)
		return;
	snprintf(peer, sizeof(peer), "%s:%d", ncf.master_addr, ncf.master_port);
	conn_init(&lc, fd, peer, WIRE_PREAUTH_MAX, NODE_LINK_OUTMAX);
	uplink_transition(LINK_CONNECTING, peer);
}

/*
 * Queue a message and try to send it.  On failure the link is only marked
 * dead (uplink_fail): every caller may go on using what it holds, and its
 * later sends fail quietly until uplink_reap() closes the link.
 */
/* The cluster key, for relay links (relay.c); NULL when there is none. */
const unsigned char *
uplink_key(void)
{
	return have_key ? key : NULL;
}

int
link_send_msg(struct wire_msg *m)
{
	size_t	len = wire_msg_finish(m);

	if (lc.fd < 0 || lstate == LINK_DEAD)
		return -1;
	if (len == 0) {
		uplink_fail("message too large");
		return -1;
	}
	if (conn_send(&lc, m->buf, len) == -1 || conn_flush(&lc) == -1) {
		uplink_fail(errno == ENOBUFS ? "output queue full" :
		    strerror(errno));
		return -1;
	}
	return 0;
}

size_t
link_pending(void)
{
	return lc.fd >= 0 ? conn_pending(&lc) : 0;
}

static void
uplink_status(void)
{
	unsigned char	buf[512];
	struct wire_msg	m;

	wire_msg_init(&m, buf, sizeof(buf), MSG_STATUS, 0, 0);
	node_status_fill(&m, boot_ms);
	/* a quarter either way at random: nodes booted together spread out */
	if (link_send_msg(&m) == 0)
		next_status = now_ms() + heartbeat_ms - heartbeat_ms / 4 +
		    randombytes_uniform(heartbeat_ms / 2 + 1);
}

/* Setup is done: the node is up. */
void
link_setup_done(void)
{
	uplink_set_stage(STAGE_UP);
	uplink_status();
}

static int
uplink_on_challenge(void *arg, const struct proto_frame *f)
{
	struct wire_attr *tb = f->tb;
	unsigned char	buf[160], proof[AUTH_PROOF_LEN];
	struct wire_msg	m;

	master_proto = (int)wire_get_u32(&tb[A_VERSION]);
	memcpy(nm, tb[A_NONCE].data, AUTH_NONCE_LEN);
	auth_nonce(nn);
	auth_proof(proof, key, AUTH_ROLE_NODE, nm, nn);
	wire_msg_init(&m, buf, sizeof(buf), MSG_AUTH_RESPONSE, 0, 0);
	wire_put(&m, A_NONCE, nn, AUTH_NONCE_LEN);
	wire_put(&m, A_PROOF, proof, AUTH_PROOF_LEN);
	(void)arg;
	if (link_send_msg(&m) == 0)
		uplink_transition(LINK_AUTH, "challenge answered");
	return 0;
}

static int
uplink_on_confirm(void *arg, const struct proto_frame *f)
{
	struct wire_attr *tb = f->tb;
	unsigned char	buf[160], km[32], kn[32];
	struct wire_msg	m;

	if (auth_proof_check(tb[A_PROOF].data, key, AUTH_ROLE_MASTER, nm,
	    nn) == -1) {
		uplink_fail("master failed to prove the cluster key");
		return -1;
	}
	auth_session_keys(key, nm, nn, km, kn);
	conn_seal(&lc, km, kn, 1);
	sodium_memzero(km, sizeof(km));
	sodium_memzero(kn, sizeof(kn));
	lc.maxframe = WIRE_MAX_FRAME;
	uplink_transition(LINK_HELLO, "sealed");
	wire_msg_init(&m, buf, sizeof(buf), MSG_HELLO, 0, 0);
	wire_put(&m, A_MAC, mac, sizeof(mac));
	if (ncf.ip[0])
		wire_put_str(&m, A_ADDR, ncf.ip);
	wire_put_u8(&m, A_STAGE, (uint8_t)node_stage);
	wire_put_u32(&m, A_VERSION, BPROC_VERSION);
	(void)arg;
	return link_send_msg(&m);
}

/* MSG_USERS: the node's /etc files, replaced whole (userdb.c). */
static int
uplink_on_users(void *arg, const struct proto_frame *f)
{
	(void)arg;
	userdb_replace(f);
	return 0;
}

static int
uplink_on_welcome(void *arg, const struct proto_frame *f)
{
	struct wire_attr *tb = f->tb;
	const char	*host;
	char		 envnum[16];

	node_num = (int)wire_get_u32(&tb[A_NODE]);
	heartbeat_ms = wire_get_u32(&tb[A_HEARTBEAT]);
	silence_ms = wire_get_u32(&tb[A_TIMEOUT]);
	if (heartbeat_ms < 50 || silence_ms <= heartbeat_ms ||
	    silence_ms > 1000000) {
		uplink_fail("master sent bad heartbeat settings");
		return -1;
	}
	if (tb[A_HOSTNAME].data) {
		host = wire_get_str(&tb[A_HOSTNAME]);
		if (sethostname(host, strlen(host)) == -1)
			log_warn("sethostname %s", host);
	}
	silence_ms *= 2;
	snprintf(envnum, sizeof(envnum), "%d", node_num);
	setenv("BPROC_NODE", envnum, 1);
	log_info("joined the cluster as node %d", node_num);
	(void)arg;
	uplink_transition(LINK_UP, "welcome");
	uplink_status();
	if (uplink_hooks.welcome != NULL)
		uplink_hooks.welcome(f);
	return 0;
}

static int
uplink_on_ping(void *arg, const struct proto_frame *f)
{
	(void)arg;
	(void)f;
	return 0;
}

static int
uplink_on_power(void *arg, const struct proto_frame *f)
{
	(void)arg;
	node_poweroff(wire_get_u8(&f->tb[A_HOW]));
}

/* The process host's and the blob fetcher's messages go up. */
#define UPLINK_UP(name)							\
static int								\
uplink_on_##name(void *arg, const struct proto_frame *f)		\
{									\
	(void)arg;							\
	if (uplink_hooks.name != NULL)					\
		uplink_hooks.name(f);					\
	return 0;							\
}
UPLINK_UP(setup)
UPLINK_UP(exec)
UPLINK_UP(blob)
UPLINK_UP(signal)
UPLINK_UP(input)
UPLINK_UP(ack)
UPLINK_UP(fork_result)
UPLINK_UP(kill_result)
UPLINK_UP(resume)
UPLINK_UP(reap)
UPLINK_UP(image)
UPLINK_UP(relay)

#define UP(st)	(1u << LINK_##st)

/* What the master link takes, and in which state: the whole protocol. */
static const struct proto_route uplink_routes[MSG_MAX] = {
	[MSG_AUTH_CHALLENGE] =	{ UP(CONNECTING), uplink_on_challenge },
	[MSG_AUTH_CONFIRM] =	{ UP(AUTH), uplink_on_confirm },
	[MSG_WELCOME] =		{ UP(HELLO), uplink_on_welcome },
	[MSG_PING] =		{ UP(UP), uplink_on_ping },
	[MSG_USERS] =		{ UP(UP), uplink_on_users },
	[MSG_POWER] =		{ UP(UP), uplink_on_power },
	/* up once the master's push list is here (fetch.c) */
	[MSG_SETUP] =		{ UP(UP), uplink_on_setup },
	[MSG_EXEC] =		{ UP(UP), uplink_on_exec },
	[MSG_BLOB] =		{ UP(UP), uplink_on_blob },
	[MSG_SIGNAL] =		{ UP(UP), uplink_on_signal },
	[MSG_IO] =		{ UP(UP), uplink_on_input },
	[MSG_IO_ACK] =		{ UP(UP), uplink_on_ack },
	[MSG_FORK_RESULT] =	{ UP(UP), uplink_on_fork_result },
	[MSG_KILL_RESULT] =	{ UP(UP), uplink_on_kill_result },
	[MSG_RESUME] =		{ UP(UP), uplink_on_resume },
	[MSG_REAP] =		{ UP(UP), uplink_on_reap },
	[MSG_IMAGE] =		{ UP(UP), uplink_on_image },
	[MSG_IMAGE_ACK] =	{ UP(UP), uplink_on_image },
	[MSG_IMAGE_RESULT] =	{ UP(UP), uplink_on_image },
	[MSG_STANDIN] =		{ UP(UP), uplink_on_image },	/* for a stand-in (migrate.c) */
	[MSG_RELAY] =		{ UP(UP), uplink_on_relay },
};

static const struct proto_role uplink_role = { "master link", DIR_M2N,
    uplink_routes };

static void
uplink_frame(const struct wire_hdr *h, const unsigned char *body, size_t blen)
{
	char	why[PROTO_WHY_MAX];

	if (proto_dispatch(&uplink_role, (unsigned int)lstate, NULL, h, body,
	    blen, why) == -1 && why[0] != '\0')
		uplink_fail(why);
}

int
uplink_poll_setup(int *fd, short *events)
{
	uint64_t	now = now_ms(), next;

	*fd = lstate == LINK_DEAD ? -1 : lc.fd;
	*events = 0;
	if (*fd >= 0) {
		/* the process host holds data it could not place yet */
		*events = uplink_hooks.holding != NULL &&
		    uplink_hooks.holding() ? 0 : POLLIN;
		if (lstate == LINK_CONNECTING || conn_pending(&lc))
			*events |= POLLOUT;
	}
	next = lstate == LINK_IDLE ? next_try : deadline;
	if (lstate == LINK_UP && next_status < next)
		next = next_status;
	if (lstate == LINK_CONNECTING && !tcp_up && syn_deadline < next)
		next = syn_deadline;
	return next <= now ? 0 : (int)(next - now);
}

void
uplink_poll_event(short revents)
{
	struct wire_hdr		 h;
	const unsigned char	*body;
	const char		*why;
	size_t			 blen;
	int			 r;

	if (lstate == LINK_DEAD)
		return;
	if ((revents & (POLLOUT | POLLERR | POLLHUP)) &&
	    lstate == LINK_CONNECTING && !tcp_up) {
		int		e = 0;
		socklen_t	elen = sizeof(e);

		if (getsockopt(lc.fd, SOL_SOCKET, SO_ERROR, &e, &elen) == -1)
			e = errno;
		if (e != 0) {
			uplink_fail(strerror(e));
			return;
		}
		tcp_up = 1;
	}
	if (revents & POLLOUT) {
		if (conn_flush(&lc) == -1) {
			uplink_fail(strerror(errno));
			return;
		}
	}
	if (!(revents & (POLLIN | POLLHUP | POLLERR)))
		return;
	if ((r = conn_read(&lc)) == -1) {
		uplink_fail(errno ? strerror(errno) : "connection closed");
		return;
	}
	if (r == 0)
		return;
	if (lstate == LINK_UP)
		deadline = now_ms() + silence_ms;
	/* a handler that failed the link ends the batch: the rest is moot */
	while (lstate != LINK_DEAD &&
	    (r = conn_frame(&lc, &h, &body, &blen, &why)) == 1)
		uplink_frame(&h, body, blen);
	if (r == -1 && lstate != LINK_DEAD)
		uplink_fail(why);
}

void
uplink_timer(void)
{
	uint64_t	now = now_ms();
	char		unread;

	switch (lstate) {
	case LINK_IDLE:
		if (ncf.master_addr[0] == '\0' || !have_key)
			return;
		/* the grace of kept processes, a reboot (grace.c) */
		if (uplink_hooks.alone != NULL)
			uplink_hooks.alone(lost_since);
		if (now >= next_try)
			uplink_connect();
		return;
	case LINK_UP:
		/* bytes waiting in the kernel: the master spoke, we are late */
		if (now >= deadline) {
			if (recv(lc.fd, &unread, 1, MSG_PEEK | MSG_DONTWAIT) != 1) {
				uplink_fail("master silent past the timeout");
				return;
			}
			deadline = now + silence_ms;
		}
		if (now >= next_status)
			uplink_status();
		return;
	case LINK_DEAD:
		return;		/* uplink_reap's */
	default:
		if (now >= deadline)
			uplink_fail("handshake timed out");
		else if (lstate == LINK_CONNECTING && !tcp_up &&
		    now >= syn_deadline)
			uplink_redial();
	}
}
