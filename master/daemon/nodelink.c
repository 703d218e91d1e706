/*
 * Node links: a node connects over TCP, proves it holds the cluster key
 * (auth.h), says HELLO with its MAC, gets its number, and from then on
 * reports status every heartbeat.  This file is a link's life once it is
 * accepted: sending, failing, closing, and the heartbeat that finds a
 * silent node.  The node port is nodelink_accept.c; what each phase of a
 * link takes is nodelink_routes.c's table (link_routes).
 *
 * A failed send, a bad frame or a lost connection only marks a link dead
 * (link_fail): the caller may be walking the process table or a tool's
 * request.  The link is closed once the handler that failed it returns:
 * at the end of its own event, or by its timer, which link_fail arms to
 * fire at once, after the current batch of events.
 *
 * A node's link that closes is a dead node or a lost link (node_lives):
 * the node's processes go with a dead one at once, and wait up to
 * master_grace for a lost one to come back (rejoin.c).
 */
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "nodelink.h"
#include "log.h"

#define LINK_PROBE_MS		250	/* a silent node's kernel has this long to ack the probe */

struct nodelinks	 link_all;
struct nodelinks	 link_preauth;
int			 link_npreauth;

/*
 * The one rule for a link that fails, whoever notices: mark it dead and
 * shut it down, but free nothing; callers may be walking the process
 * table.  The link's timer, due at once, closes it after the current
 * batch of events (link_tick), if its own event does not first.
 */
void
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
int
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

void
link_preauth_remove(struct nodelink *l)
{
	if (l->pre.prevp == NULL)
		return;
	DLIST_REMOVE(l, pre);
	link_npreauth--;
}

void
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
	link_preauth_remove(l);
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
uint64_t
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
void
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

void
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
