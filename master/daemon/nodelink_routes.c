/*
 * What a node link takes in each of its phases (link_routes): the
 * handshake, status reports, and the frames of processes, of the process
 * tree and of the setup push, which go up through node_hooks.  Every
 * frame goes through proto_dispatch.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nodelink.h"
#include "log.h"

/* A link's phases, as its routes name them. */
enum link_phase {
	LINK_PH_AUTH,		/* challenge sent, waiting for the response */
	LINK_PH_HELLO,		/* sealed, waiting for HELLO */
	LINK_PH_UP		/* the node's */
};

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
	link_preauth_remove(l);
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

void
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
