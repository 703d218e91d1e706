/*
 * The node port: a link is accepted here, sent the authentication
 * challenge and left to nodelink_routes.c's table.
 *
 * Anyone who can reach the node port can open links that never
 * authenticate.  They get NODE_AUTH_MS to finish the handshake, at most
 * NODE_PREAUTH_PER_ADDR of them per source address, and MASTER_LINK_PREAUTH_MAX
 * in all; at that cap the oldest link of the busiest source makes room,
 * so one source (a user's job on a node) cannot keep other nodes out.
 * What the port says about such peers is rate-limited (log_warnx_rl).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nodelink.h"
#include "log.h"

#define NODE_PREAUTH_PER_ADDR	4	/* unauthenticated links from one source address */
#define PREAUTH_HT		4096	/* > MASTER_LINK_PREAUTH_MAX + links awaiting close */
#define NODE_PREAUTH_MIN_MS	500	/* younger ones are never evicted to make room */
#define NODE_AUTH_MS		2000	/* to authenticate and say HELLO (a LAN needs ms) */
#define NODE_ACCEPT_BATCH	256	/* connections taken per wakeup of the listener */
#define NODE_LISTEN_BACKLOG	4096	/* the kernel caps it at net.core.somaxconn */
#define NODE_ACCEPT_PAUSE_MS	100	/* the listener rests this long when out of fds */

static int		 listen_fd = -1;
static struct ev_listener listener;

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
	DLIST_FOREACH(l, &link_preauth, pre) {
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

	DLIST_FOREACH(l, &link_preauth, pre)
		if (!l->dead && l->from.s_addr == addr.s_addr)
			mine++;
	if (mine >= NODE_PREAUTH_PER_ADDR) {
		snprintf(why, whylen, "%d unauthenticated links from %s already",
		    mine, inet_ntoa(addr));
		return -1;
	}
	if (link_npreauth < MASTER_LINK_PREAUTH_MAX)
		return 0;
	victim = preauth_busiest();
	if (victim == NULL || ev_now() - victim->born < NODE_PREAUTH_MIN_MS) {
		snprintf(why, whylen, "%d unauthenticated links", link_npreauth);
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
	link_npreauth++;
	l->from = sin->sin_addr;
	l->born = ev_now();
	l->last_rx = ev_now();
	DLIST_INSERT_HEAD(&link_all, l, all);
	DLIST_INSERT_HEAD(&link_preauth, l, pre);
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

void
node_shutdown(void)
{
	while (!DLIST_EMPTY(&link_all))
		link_close(DLIST_FIRST(&link_all), "master shutting down");
	if (listen_fd != -1)
		close(listen_fd);
}
