/*
 * Node links: a node connects over TCP, proves it holds the cluster key
 * (auth.h), says HELLO with its MAC, gets its number, and from then on
 * reports status every heartbeat.  What each phase of a link takes is the
 * table below (link_routes); every frame goes through proto_dispatch.
 * Frames of processes and of the setup push go up through node_hooks.
 *
 * A failed send, a bad frame or a lost connection only marks a link dead
 * (link_fail): the caller may be walking the process table or a tool's
 * request.  The link is closed once the handler that failed it returns:
 * at the end of its own event, or by its timer, which link_fail arms to
 * fire at once, after the current batch of events.
 *
 * Anyone who can reach the node port can open links that never
 * authenticate.  They get NODE_AUTH_MS to finish the handshake, at most
 * NODE_PREAUTH_PER_ADDR of them per source address, and MASTER_LINK_PREAUTH_MAX
 * in all; at that cap the oldest link of the busiest source makes room,
 * so one source (a user's job on a node) cannot keep other nodes out.
 * What the port says about such peers is rate-limited (log_warnx_rl).
 *
 * A node's link that closes is a dead node or a lost link (node_lives):
 * the node's processes go with a dead one at once, and wait up to
 * master_grace for a lost one to come back (rejoin.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "bpmaster.h"
#include "list.h"
#include "log.h"

#define NODE_PREAUTH_PER_ADDR	4	/* unauthenticated links from one source address */
#define PREAUTH_HT		4096	/* > MASTER_LINK_PREAUTH_MAX + links awaiting close */
#define NODE_PREAUTH_MIN_MS	500	/* younger ones are never evicted to make room */
#define NODE_AUTH_MS		2000	/* to authenticate and say HELLO (a LAN needs ms) */
#define NODE_ACCEPT_BATCH	256	/* connections taken per wakeup of the listener */
#define NODE_LISTEN_BACKLOG	4096	/* the kernel caps it at net.core.somaxconn */
#define NODE_ACCEPT_PAUSE_MS	100	/* the listener rests this long when out of fds */
#define LINK_PROBE_MS		250	/* a silent node's kernel has this long to ack the probe */

/* A link's phases, as its routes name them. */
enum link_phase {
	LINK_PH_AUTH,		/* challenge sent, waiting for the response */
	LINK_PH_HELLO,		/* sealed, waiting for HELLO */
	LINK_PH_UP		/* the node's */
};

struct nodelink {
	struct conn	 c;
	int		 authed;
	int		 hello;
	int		 dead;		/* failed: closed once its handler returns */
	int		 reset;		/* the node's end closed (EOF, a reset) */
	int		 bye;		/* ... after nodeinit said it redials */
	char		 why[160];	/* what failed it */
	struct in_addr	 from;		/* the peer's address */
	uint64_t	 born;		/* ev_now() at accept */
	unsigned char	 nm[AUTH_NONCE_LEN];
	struct node	*node;
	struct ev_timer	 timer;
	uint64_t	 last_rx;
	uint64_t	 last_tx;	/* the last frame sent: a ping is needed only after silence */
	uint64_t	 probe;		/* when the silent node was probed, or 0 */
	int		 excused;	/* it lives (link_lives): 2 x timeout */
	uint64_t	 next_ping;
	DLIST_LINK(nodelink) all;	/* links */
	DLIST_LINK(nodelink) pre;	/* preauth, until HELLO */
};

DLIST_HEAD(nodelinks, nodelink);

static struct nodelinks	 links;
static struct nodelinks	 preauth;	/* links that have not said HELLO, newest first */
static int		 npreauth;
static int		 listen_fd = -1;
static struct ev_listener listener;

static void	link_close(struct nodelink *, const char *);
static void	link_event(int, uint32_t, void *);
static void	link_tick(void *);

/*
 * The one rule for a link that fails, whoever notices: mark it dead and
 * shut it down, but free nothing; callers may be walking the process
 * table.  The link's timer, due at once, closes it after the current
 * batch of events (link_tick), if its own event does not first.
 */
static void
link_fail(struct nodelink *l, const char *why)
{
	if (l->dead)
		return;
	l->dead = 1;
	snprintf(l->why, sizeof(l->why), "%s", why);
	shutdown(l->c.fd, SHUT_RDWR);
	ev_timer_set(&l->timer, 0, link_tick, l);
}

/* Queue and try to send; -1 when the link is (now) dead. */
static int
link_send(struct nodelink *l, struct wire_msg *m)
{
	size_t	len = wire_msg_finish(m);

	if (l->dead)
		return -1;
	if (len == 0) {
		link_fail(l, "message too large");
		return -1;
	}
	if (conn_send(&l->c, m->buf, len) == -1 || conn_flush(&l->c) == -1) {
		l->reset = errno == EPIPE || errno == ECONNRESET;
		link_fail(l, errno == ENOBUFS ? "output queue full" :
		    strerror(errno));
		return -1;
	}
	if (conn_pending(&l->c))
		ev_mod(l->c.fd, EPOLLIN | EPOLLOUT);
	l->last_tx = ev_now();
	return 0;
}

/* A node's link failed (setup push, process space): see link_fail. */
void
node_fail(struct node *n, const char *why)
{
	if (n->link != NULL)
		link_fail(n->link, why);
}

static void
preauth_remove(struct nodelink *l)
{
	if (l->pre.prevp == NULL)
		return;
	DLIST_REMOVE(l, pre);
	npreauth--;
}

static void
link_close(struct nodelink *l, const char *why)
{
	struct node	 *n = l->node;

	if (n != NULL) {
		log_info("node %d (%s): link closed: %s", n->num, l->c.peer, why);
		n->link = NULL;
		/* a lost link: the process space keeps what waits for it */
		if (node_hooks.lost != NULL && node_lives(n, l->bye, l->reset,
		    ev_now() - l->last_rx))
			node_hooks.lost(n, why);
		/* the process space and the setup push let go of it */
		if (node_hooks.down != NULL)
			node_hooks.down(n);
		node_transition(n, NODE_DOWN, why);
	} else
		log_warnx_rl("link %s: closed: %s", l->c.peer, why);
	preauth_remove(l);
	DLIST_REMOVE(l, all);
	ev_timer_del(&l->timer);
	ev_del(l->c.fd);
	conn_free(&l->c);
	free(l);
}

/*
 * When the next ping is due: every half timeout (the node's own limit is
 * twice the timeout, nodeinit/uplink.c), with a quarter of that either
 * way at random, so that nodes that booted together are not pinged in
 * one burst; a thousand pings cost the master CPU (their receive on the
 * node's side of the veth runs in its send, too).
 */
static uint64_t
link_jitter(void)
{
	uint32_t	every = conf.timeout_ms / 2;

	return every - every / 4 + randombytes_uniform(every / 2 + 1);
}

/*
 * Whether a node silent for the timeout lives all the same, once the
 * probe ping sent then had LINK_PROBE_MS to be answered: the master itself
 * ran behind (ev_lag: a push, a stall of the whole machine) and did not
 * read the node; or the node's kernel acknowledged something of ours
 * within the last heartbeat (the probe, or the window probes of a push):
 * the node is up and only its nodeinit is late, a thousand of them on two
 * CPUs.  A node that lost its power acknowledges nothing after the cut,
 * and the cut came at most 1.25 heartbeats after its last status (nodeinit
 * jitters them), so at least 1.75 heartbeats before its silence reaches
 * the timeout: it is closed then, LINK_PROBE_MS late.  A living one gets
 * at most twice the timeout, so a hung nodeinit is still found.
 */
static int
link_lives(const struct nodelink *l)
{
	struct tcp_info	ti;
	socklen_t	len = sizeof(ti);

	if (ev_lag() >= LINK_PROBE_MS)
		return 1;
	return getsockopt(l->c.fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 &&
	    ti.tcpi_last_ack_recv < conf.heartbeat_ms;
}

/*
 * Give back the link's buffers once empty (conn_shrink).  Small ones go
 * after every frame: an idle link then holds none between heartbeats,
 * and a thousand links share the few a round of heartbeats needs.  Those
 * a burst grew go from the heartbeat tick (big = 1), not as the queue
 * drains: a push drains it between every window of blobs, and a buffer
 * unmapped there would be mapped again at once.  What a burst grew is
 * counted towards the next trim (mem.c).
 */
static void
link_shrink(struct nodelink *l, int big)
{
	size_t	before = l->c.incap + l->c.outcap + l->c.plaincap;

	if (!big && (l->c.incap > CONN_IN_INIT || l->c.outcap > CONN_IN_INIT ||
	    l->c.plaincap > CONN_IN_INIT))
		return;
	conn_shrink(&l->c);
	if (before > 3 * CONN_IN_INIT)
		mem_release(before - (l->c.incap + l->c.outcap + l->c.plaincap));
}

static void
link_tick(void *arg)
{
	struct nodelink	*l = arg;
	unsigned char	 buf[64];
	struct wire_msg	 m;
	uint64_t	 now = ev_now(), next, allowed;
	int		 unread = 0, quiet;

	if (l->dead) {
		link_close(l, l->why);
		return;
	}
	if (!l->hello) {
		link_close(l, "did not authenticate in time");
		return;
	}
	allowed = conf.timeout_ms;
	if (now - l->last_rx >= conf.timeout_ms) {
		/* it did speak: the bytes wait in the kernel for a late master */
		if (ioctl(l->c.fd, FIONREAD, &unread) == 0 && unread > 0) {
			l->last_rx = now;
			if (l->node != NULL)
				l->node->last_seen = now;
		} else if (l->excused) {
			allowed = 2 * (uint64_t)conf.timeout_ms;
		} else if (l->probe == 0) {
			/* ask, and look again in a moment (link_lives) */
			wire_msg_init(&m, buf, sizeof(buf), MSG_PING, 0, 0);
			if (link_send(l, &m) == -1)
				return;
			l->probe = now;
			ev_timer_set(&l->timer, LINK_PROBE_MS, link_tick, l);
			return;
		} else if (now - l->probe >= LINK_PROBE_MS && link_lives(l)) {
			/* until it speaks, or twice the timeout at most */
			l->excused = 1;
			allowed = 2 * (uint64_t)conf.timeout_ms;
		} else if (now - l->probe < LINK_PROBE_MS)
			allowed = conf.timeout_ms + LINK_PROBE_MS;
	}
	if (now - l->last_rx < conf.timeout_ms)
		l->probe = l->excused = 0;
	if (now - l->last_rx >= allowed) {
		char	why[64];

		snprintf(why, sizeof(why), "no heartbeat for %llu ms",
		    (unsigned long long)(now - l->last_rx));
		link_close(l, why);
		return;
	}
	/* (before our own ping: it makes the link look busy) */
	quiet = now - l->last_tx >= conf.heartbeat_ms / 2;
	/* a link that carries frames needs no ping to stay alive */
	if (now >= l->next_ping) {
		if (now - l->last_tx >= conf.heartbeat_ms / 2) {
			wire_msg_init(&m, buf, sizeof(buf), MSG_PING, 0, 0);
			if (link_send(l, &m) == -1)
				return;
		}
		l->next_ping = now + link_jitter();
	}
	link_shrink(l, quiet);
	/* wake at the next ping or the moment the node would time out */
	next = l->next_ping;
	if (l->last_rx + allowed < next)
		next = l->last_rx + allowed;
	ev_timer_set(&l->timer, next > now ? next - now : 1, link_tick, l);
}

/*
 * The oldest unauthenticated link of the source that has the most, counted
 * in one pass through a small hash of addresses; only at the global cap.
 */
static struct nodelink *
preauth_busiest(void)
{
	static struct {
		in_addr_t	 addr;
		int		 n;
		struct nodelink	*oldest;
	}			 ht[PREAUTH_HT];
	struct nodelink		*l, *best = NULL;
	unsigned int		 h;
	int			 most = 0;

	memset(ht, 0, sizeof(ht));
	DLIST_FOREACH(l, &preauth, pre) {
		if (l->dead)
			continue;
		h = (ntohl(l->from.s_addr) * 2654435761u) % PREAUTH_HT;
		while (ht[h].n > 0 && ht[h].addr != l->from.s_addr)
			h = (h + 1) % PREAUTH_HT;
		ht[h].addr = l->from.s_addr;
		ht[h].n++;
		ht[h].oldest = l;	/* the list is newest first */
		/* ties go to the source whose oldest link is oldest */
		if (ht[h].n >= most) {
			most = ht[h].n;
			best = ht[h].oldest;
		}
	}
	return best;
}

/*
 * Room for one more unauthenticated link from addr: 0, or -1 to refuse it
 * (*why says why).  At the global cap the oldest link of the busiest
 * source goes, unless even that one is too young to have had its chance.
 */
static int
preauth_admit(struct in_addr addr, char *why, size_t whylen)
{
	struct nodelink	*l, *victim;
	int		 mine = 0;

	DLIST_FOREACH(l, &preauth, pre)
		if (!l->dead && l->from.s_addr == addr.s_addr)
			mine++;
	if (mine >= NODE_PREAUTH_PER_ADDR) {
		snprintf(why, whylen, "%d unauthenticated links from %s already",
		    mine, inet_ntoa(addr));
		return -1;
	}
	if (npreauth < MASTER_LINK_PREAUTH_MAX)
		return 0;
	victim = preauth_busiest();
	if (victim == NULL || ev_now() - victim->born < NODE_PREAUTH_MIN_MS) {
		snprintf(why, whylen, "%d unauthenticated links", npreauth);
		return -1;
	}
	link_close(victim, "evicted to make room for another source");
	return 0;
}

static void
node_admit(int s, const struct sockaddr_in *sin)
{
	struct nodelink		*l;
	struct wire_msg		 m;
	unsigned char		 buf[128];
	struct linger		 rst = { 1, 0 };
	char			 peer[64], why[96];
	int			 one = 1;

	snprintf(peer, sizeof(peer), "%s:%u", inet_ntoa(sin->sin_addr),
	    ntohs(sin->sin_port));
	if (preauth_admit(sin->sin_addr, why, sizeof(why)) == -1) {
		log_warnx_rl("link %s: refused: %s", peer, why);
		/* a reset, not a FIN: no TIME_WAIT left here per refusal */
		setsockopt(s, SOL_SOCKET, SO_LINGER, &rst, sizeof(rst));
		close(s);
		return;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		log_warn("link %s", peer);
		close(s);
		return;
	}
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	conn_init(&l->c, s, peer, WIRE_PREAUTH_MAX, 4096);
	if (ev_add(s, EPOLLIN, link_event, l) == -1) {
		log_warn("link %s", peer);
		conn_free(&l->c);
		free(l);
		return;
	}
	npreauth++;
	l->from = sin->sin_addr;
	l->born = ev_now();
	l->last_rx = ev_now();
	DLIST_INSERT_HEAD(&links, l, all);
	DLIST_INSERT_HEAD(&preauth, l, pre);
	ev_timer_set(&l->timer, NODE_AUTH_MS, link_tick, l);
	auth_nonce(l->nm);
	wire_msg_init(&m, buf, sizeof(buf), MSG_AUTH_CHALLENGE, 0, 0);
	wire_put_u32(&m, A_VERSION, BPROC_VERSION);
	wire_put(&m, A_NONCE, l->nm, AUTH_NONCE_LEN);
	link_send(l, &m);
}

static void
node_accept(int fd, uint32_t events, void *arg)
{
	struct sockaddr_in	 sin;
	socklen_t		 slen;
	int			 i, s;

	(void)events;
	(void)arg;
	/*
	 * Drain the backlog in big batches: while it is full the kernel drops
	 * every SYN, a booting node's too, which then waits a whole
	 * retransmission timeout (1 s).  The deep backlog (NODE_LISTEN_BACKLOG)
	 * is for the same reason: a flood's pending connections fit in it.
	 */
	for (i = 0; i < NODE_ACCEPT_BATCH; i++) {
		slen = sizeof(sin);
		s = accept4(fd, (struct sockaddr *)&sin, &slen,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (s >= 0) {
			node_admit(s, &sin);
			continue;
		}
		if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
			return;
		/* out of descriptors or memory: rest instead of spinning */
		log_warnx_rl("node port: accept: %s; pausing %d ms",
		    strerror(errno), NODE_ACCEPT_PAUSE_MS);
		ev_listener_rest(&listener, NODE_ACCEPT_PAUSE_MS);
		return;
	}
}

static int
link_on_auth(void *arg, const struct proto_frame *f)
{
	struct nodelink	*l = arg;
	struct wire_attr *tb = f->tb;
	unsigned char	 buf[128], km[32], kn[32];
	const unsigned char *nn = tb[A_NONCE].data;
	struct wire_msg	 m;

	if (auth_proof_check(tb[A_PROOF].data, cluster_key, AUTH_ROLE_NODE,
	    l->nm, nn) == -1) {
		link_fail(l, "authentication failed (wrong cluster key or "
		    "replayed handshake)");
		return -1;
	}
	wire_msg_init(&m, buf, sizeof(buf), MSG_AUTH_CONFIRM, 0, 0);
	auth_proof(km, cluster_key, AUTH_ROLE_MASTER, l->nm, nn);
	wire_put(&m, A_PROOF, km, AUTH_PROOF_LEN);
	if (link_send(l, &m) == -1)
		return -1;
	auth_session_keys(cluster_key, l->nm, nn, km, kn);
	conn_seal(&l->c, km, kn, 0);
	explicit_bzero(km, sizeof(km));
	explicit_bzero(kn, sizeof(kn));
	l->authed = 1;
	/* still at most a HELLO-sized frame until the node is known */
	return 0;
}

static int
link_on_hello(void *arg, const struct proto_frame *f)
{
	struct nodelink	*l = arg;
	struct wire_attr *tb = f->tb;
	unsigned char	 buf[256];
	struct wire_msg	 m;
	struct node	*n;
	char		 macs[32], host[32];

	mac_format(tb[A_MAC].data, macs, sizeof(macs));
	if ((n = discovery_node(tb[A_MAC].data)) == NULL) {
		char	why[96];

		snprintf(why, sizeof(why), "unknown MAC %s and discovery is "
		    "off", macs);
		link_fail(l, why);
		return -1;
	}
	if (n->link != NULL) {
		/* the node rebooted before we noticed: the old link is dead */
		link_close(n->link, "replaced by a new connection");
	}
	l->hello = 1;
	preauth_remove(l);
	l->node = n;
	n->link = l;
	l->c.maxframe = WIRE_MAX_FRAME;
	l->c.outmax = MASTER_LINK_OUTMAX;
	snprintf(n->addr, sizeof(n->addr), "%s", l->c.peer);
	if (strchr(n->addr, ':') != NULL)
		*strchr(n->addr, ':') = '\0';
	n->last_seen = ev_now();
	if (tb[A_STAGE].data)
		n->stage = wire_get_u8(&tb[A_STAGE]);
	log_info("node %d: connected from %s, MAC %s", n->num, l->c.peer, macs);
	node_transition(n, NODE_BOOT, "connected");
	l->next_ping = ev_now() + link_jitter();
	ev_timer_set(&l->timer, l->next_ping - ev_now(), link_tick, l);

	wire_msg_init(&m, buf, sizeof(buf), MSG_WELCOME, 0, 0);
	wire_put_u32(&m, A_NODE, (uint32_t)n->num);
	wire_put_u32(&m, A_HEARTBEAT, conf.heartbeat_ms);
	wire_put_u32(&m, A_TIMEOUT, conf.timeout_ms);
	snprintf(host, sizeof(host), "n%d", n->num);
	wire_put_str(&m, A_HOSTNAME, host);
	if (node_hooks.hello != NULL)
		node_hooks.hello(n, tb, &m);
	if (link_send(l, &m) == -1)
		return -1;
	/* the users, the setup push: what the node gets before it is up */
	return node_hooks.connected != NULL ? node_hooks.connected(n) : 0;
}

static int
link_on_status(void *arg, const struct proto_frame *f)
{
	struct nodelink	*l = arg;
	struct wire_attr *tb = f->tb;
	struct node	*n = l->node;
	int		 stage = n->stage;

	if (tb[A_LOAD1].data)
		n->load[0] = wire_get_u32(&tb[A_LOAD1]);
	if (tb[A_LOAD5].data)
		n->load[1] = wire_get_u32(&tb[A_LOAD5]);
	if (tb[A_LOAD15].data)
		n->load[2] = wire_get_u32(&tb[A_LOAD15]);
	if (tb[A_CPUS].data)
		n->cpus = wire_get_u32(&tb[A_CPUS]);
	if (tb[A_MEM_TOTAL].data)
		n->mem_total = wire_get_u64(&tb[A_MEM_TOTAL]);
	if (tb[A_MEM_FREE].data)
		n->mem_free = wire_get_u64(&tb[A_MEM_FREE]);
	if (tb[A_UPTIME].data)
		n->uptime = wire_get_u64(&tb[A_UPTIME]);
	if (tb[A_NPROCS].data)
		n->nprocs = wire_get_u32(&tb[A_NPROCS]);
	if (tb[A_CACHE_BYTES].data)
		n->cache_bytes = wire_get_u64(&tb[A_CACHE_BYTES]);
	if (tb[A_STAGE].data && wire_get_u8(&tb[A_STAGE]) < STAGE_MAX)
		n->stage = wire_get_u8(&tb[A_STAGE]);
	if (n->stage == STAGE_UP && stage != STAGE_UP && n->state == NODE_BOOT)
		node_transition(n, NODE_UP, "setup done");
	n->last_status = ev_now();
	node_changed();
	return 0;
}


/* Frames of a process on the node, or of its setup push, go up. */
static int
link_on_proc(void *arg, const struct proto_frame *f)
{
	struct nodelink	*l = arg;

	if (wire_get_u32(&f->tb[A_PID]) == PROTO_SETUP_PID)
		return node_hooks.setup != NULL ?
		    node_hooks.setup(l->node, f) : 0;
	return node_hooks.proc != NULL ? node_hooks.proc(l->node, f) : 0;
}

/* The process tree's reports (tree.c). */
static int
link_on_tree(void *arg, const struct proto_frame *f)
{
	struct nodelink	*l = arg;

	return node_hooks.tree != NULL ? node_hooks.tree(l->node, f) : 0;
}

/* kill(2) on the node of a PID elsewhere (nodekill.c). */
static int
link_on_kill(void *arg, const struct proto_frame *f)
{
	struct nodelink	*l = arg;

	return node_hooks.kill != NULL ? node_hooks.kill(l->node, f) : 0;
}

/* What a node kept across a master restart (rejoin.c). */
static int
link_on_rejoin(void *arg, const struct proto_frame *f)
{
	struct nodelink	*l = arg;

	return node_hooks.rejoin != NULL ? node_hooks.rejoin(l->node, f) : 0;
}

/* nodeinit drops the link and redials: it lives (node_lives). */
static int
link_on_bye(void *arg, const struct proto_frame *f)
{
	struct nodelink	*l = arg;

	(void)f;
	l->bye = 1;
	return 0;
}

#define LP(ph)	(1u << LINK_PH_##ph)

/* What a node link takes, and when: the whole protocol from the node. */
static const struct proto_route link_routes[MSG_MAX] = {
	[MSG_AUTH_RESPONSE] =	{ LP(AUTH), link_on_auth },
	[MSG_HELLO] =		{ LP(HELLO), link_on_hello },
	[MSG_STATUS] =		{ LP(UP), link_on_status },
	[MSG_FORK] =		{ LP(UP), link_on_tree },
	[MSG_FORKED] =		{ LP(UP), link_on_tree },
	[MSG_EXECED] =		{ LP(UP), link_on_tree },
	[MSG_PGRP] =		{ LP(UP), link_on_tree },
	[MSG_KILL] =		{ LP(UP), link_on_kill },
	[MSG_EXEC_RESULT] =	{ LP(UP), link_on_proc },
	[MSG_IO] =		{ LP(UP), link_on_proc },
	[MSG_IO_ACK] =		{ LP(UP), link_on_proc },
	[MSG_EXIT] =		{ LP(UP), link_on_proc },
	[MSG_STOPPED] =		{ LP(UP), link_on_proc },
	[MSG_NEED] =		{ LP(UP), link_on_proc },
	[MSG_BLOB_ACK] =	{ LP(UP), link_on_proc },
	[MSG_RELAY_DONE] =	{ LP(UP), link_on_proc },
	[MSG_REJOIN] =		{ LP(UP), link_on_rejoin },
	[MSG_REJOIN_END] =	{ LP(UP), link_on_rejoin },
	[MSG_IMAGE_RESULT] =	{ LP(UP), link_on_proc },
	[MSG_MOVE] =		{ LP(UP), link_on_proc },
	[MSG_IMAGE] =		{ LP(UP), link_on_proc },
	[MSG_STANDIN] =		{ LP(UP), link_on_proc },	/* standin.c */
	[MSG_BYE] =		{ LP(UP), link_on_bye },
};

static const struct proto_role link_role = { "node link", DIR_N2M, link_routes };

static unsigned int
link_phase(const struct nodelink *l)
{
	if (!l->authed)
		return LINK_PH_AUTH;
	return l->hello ? LINK_PH_UP : LINK_PH_HELLO;
}

static void
link_frame(struct nodelink *l, const struct wire_hdr *h,
    const unsigned char *body, size_t blen)
{
	char	why[PROTO_WHY_MAX];

	if (proto_dispatch(&link_role, link_phase(l), l, h, body, blen,
	    why) == -1 && why[0] != '\0')
		link_fail(l, why);
}

static void
link_input(struct nodelink *l, uint32_t events)
{
	struct wire_hdr		 h;
	const unsigned char	*body;
	const char		*why;
	size_t			 blen;
	int			 r;

	if (events & EPOLLOUT) {
		if (conn_flush(&l->c) == -1) {
			l->reset = errno == EPIPE || errno == ECONNRESET;
			link_fail(l, strerror(errno));
			return;
		}
		if (conn_pending(&l->c) == 0)
			ev_mod(l->c.fd, EPOLLIN);
		if (l->node != NULL && conn_pending(&l->c) <= MASTER_LINK_LOW)
			if (node_hooks.drained != NULL)
				node_hooks.drained(l->node->num);
		if (l->dead)
			return;
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	if ((r = conn_read(&l->c)) == -1) {
		l->reset = errno == 0 || errno == ECONNRESET;
		link_fail(l, errno ? strerror(errno) : "connection closed");
		return;
	}
	if (r == 0)
		return;
	l->last_rx = ev_now();
	if (l->node != NULL)
		l->node->last_seen = l->last_rx;
	while (!l->dead && (r = conn_frame(&l->c, &h, &body, &blen, &why)) == 1)
		link_frame(l, &h, body, blen);
	if (r == -1 && !l->dead)
		link_fail(l, why);
	if (!l->dead)
		link_shrink(l, 0);
}

static void
link_event(int fd, uint32_t events, void *arg)
{
	struct nodelink	*l = arg;

	(void)fd;
	if (!l->dead)
		link_input(l, events);
	/* the handler is done with it: nothing holds the link now */
	if (l->dead)
		link_close(l, l->why);
}

int
node_listen(void)
{
	struct sockaddr_in	sin;
	int			one = 1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)conf.listen_port);
	if (inet_pton(AF_INET, conf.listen_addr, &sin.sin_addr) != 1) {
		log_warnx("listen: bad address %s", conf.listen_addr);
		return -1;
	}
	listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (listen_fd == -1)
		return -1;
	setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(listen_fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(listen_fd, NODE_LISTEN_BACKLOG) == -1) {
		log_warn("listen %s:%d", conf.listen_addr, conf.listen_port);
		return -1;
	}
	return ev_listener_init(&listener, listen_fd, node_accept, NULL);
}

/* bpctl -R, -H, -P: root only, a connected node. */
int
node_power(struct node *n, int how, uid_t uid, const char **why)
{
	unsigned char	buf[64];
	struct wire_msg	m;
	int		to;

	if (uid != 0) {
		*why = "only root reboots, halts or powers off nodes";
		errno = EPERM;
		return -1;
	}
	switch (how) {
	case POWER_REBOOT:
		to = NODE_REBOOT;
		break;
	case POWER_HALT:
		to = NODE_HALT;
		break;
	case POWER_OFF:
		to = NODE_PWROFF;
		break;
	default:
		*why = "bad power action";
		errno = EINVAL;
		return -1;
	}
	if (n->link == NULL) {
		*why = "Node is down";
		errno = EHOSTDOWN;
		return -1;
	}
	wire_msg_init(&m, buf, sizeof(buf), MSG_POWER, 0, 0);
	wire_put_u8(&m, A_HOW, (uint8_t)how);
	if (link_send(n->link, &m) == -1) {
		*why = "node link failed";
		errno = EIO;
		return -1;
	}
	node_transition(n, to, "bpctl");
	return 0;
}

int
node_send(struct node *n, struct wire_msg *m)
{
	if (n->link == NULL || !n->link->hello)
		return -1;
	return link_send(n->link, m);
}

/* Bytes queued for node num, for ctl.c's back-pressure on its ghosts. */
size_t
node_queued(int num)
{
	if (num < 0 || num >= numnodes || nodes[num].link == NULL)
		return 0;
	return conn_pending(&nodes[num].link->c);
}

void
node_shutdown(void)
{
	while (!DLIST_EMPTY(&links))
		link_close(DLIST_FIRST(&links), "master shutting down");
	if (listen_fd != -1)
		close(listen_fd);
}

/*
 * The link's round trip as the kernel measures it (TCP's smoothed RTT, in
 * microseconds), for bpstat and the metrics: no probe of our own, so it
 * costs the node nothing.  0 when there is no link or no measure yet.
 */
uint32_t
node_rtt_us(const struct node *n)
{
	struct tcp_info	ti;
	socklen_t	len = sizeof(ti);

	if (n->link == NULL ||
	    getsockopt(n->link->c.fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == -1)
		return 0;
	return ti.tcpi_rtt;
}
