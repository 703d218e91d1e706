/*
 * The node table and node states.  node_transition() alone changes a
 * node's state and logs every edge; the node link (nodelink.c), setup
 * push (setup_push.c) and discovery (discovery.c) are files of their own.
 *
 * What happens to a node must reach modules above this one (the control
 * socket's watchers, the process space) without this file importing
 * them: they hang their functions on node_hooks, which bpmaster.c fills
 * in at start.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bpmaster.h"
#include "log.h"

#define NODE_FRESH_PCT	150	/* heard within this % of a heartbeat: a reset is a death */

struct node		*nodes;
int			 numnodes;
struct node_hooks	 node_hooks;

/* Tell the watchers something they show changed. */
void
node_changed(void)
{
	if (node_hooks.changed != NULL)
		node_hooks.changed();
}

/* Which edges a node may take; anything to down is always allowed. */
int
node_edge_ok(int from, int to)
{
	if (to == NODE_DOWN)
		return 1;
	switch (from) {
	case NODE_DOWN:
		return to == NODE_BOOT;
	case NODE_BOOT:
		return to == NODE_UP || to == NODE_ERROR ||
		    to == NODE_REBOOT || to == NODE_HALT || to == NODE_PWROFF;
	case NODE_UP:
	case NODE_UNAVAILABLE:
	case NODE_ERROR:
		return to == NODE_UP || to == NODE_UNAVAILABLE ||
		    to == NODE_ERROR || to == NODE_REBOOT ||
		    to == NODE_HALT || to == NODE_PWROFF;
	default:	/* reboot, halt, pwroff end in down */
		return 0;
	}
}

int
node_transition(struct node *n, int to, const char *why)
{
	int	from = n->state;

	if (from == to)
		return 0;
	if (!node_edge_ok(from, to)) {
		log_warnx("node %d: refused %s -> %s (%s)", n->num,
		    node_state_name(from), node_state_name(to), why);
		return -1;
	}
	log_info("node %d: %s -> %s (%s)", n->num, node_state_name(from),
	    node_state_name(to), why);
	n->state = to;
	switch (to) {
	case NODE_BOOT:
		/* BProc: 0100 on connect (root only), 0111 after setup */
		n->uid = 0;
		n->gid = 0;
		n->mode = 0100;
		break;
	case NODE_UP:
		if (from == NODE_BOOT) {
			n->mode = 0111;
			/* what bpctl had set before a master restart */
			if (node_hooks.setup_done != NULL)
				node_hooks.setup_done(n);
		}
		break;
	case NODE_DOWN:
		n->stage = STAGE_NONE;
		n->load[0] = n->load[1] = n->load[2] = 0;
		n->nprocs = 0;
		n->cache_bytes = 0;
		n->push_bytes = 0;
		break;
	}
	node_changed();
	return 0;
}

/*
 * Room for nodes 0..want-1.  The table is allocated whole, once, and
 * never moves, so links and processes may point at its nodes; the pages
 * of nodes never used are never touched.
 */
int
node_grow(int want)
{
	int	i;

	if (want <= numnodes)
		return 0;
	if (want > MASTER_MAXNODES) {
		errno = ERANGE;
		return -1;
	}
	if (nodes == NULL &&
	    (nodes = calloc(MASTER_MAXNODES, sizeof(*nodes))) == NULL)
		return -1;
	for (i = numnodes; i < want; i++) {
		nodes[i].num = i;
		nodes[i].state = NODE_DOWN;
		nodes[i].mode = 0100;
	}
	numnodes = want;
	return 0;
}


/* bpctl -s: root only, a connected node that finished booting. */
int
node_set_state(struct node *n, int state, uid_t uid, const char **why)
{
	if (uid != 0) {
		*why = "only root sets node states";
		errno = EPERM;
		return -1;
	}
	if (state != NODE_UP && state != NODE_UNAVAILABLE &&
	    state != NODE_ERROR) {
		*why = "state can only be set to up, unavailable or error";
		errno = EINVAL;
		return -1;
	}
	/* (a link is the node's once it said HELLO) */
	if (n->link == NULL) {
		*why = "Node is down";
		errno = EHOSTDOWN;
		return -1;
	}
	if (n->state == NODE_BOOT) {
		*why = "node is still booting";
		errno = EBUSY;
		return -1;
	}
	if (node_transition(n, state, "bpctl") == -1) {
		*why = "transition not allowed";
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/*
 * Does a node whose link is closing still live?  Its processes then wait
 * for it (rejoin.c).  It does not when we told it to reboot, halt or
 * power off, or when its end of the connection closed (reset: EOF or a
 * reset) without a BYE while the link was sound (heard from silent_ms
 * ago, within 1.5 heartbeats): nodeinit never drops an up link without
 * one, so its process is gone (a virtual node's PID 1 killed; a node that
 * rebooted answers with a reset).  Silence, an unreachable node, or a
 * reset after a silence (a cable plugged back in after the node gave the
 * link up: our retransmission meets no socket) is a lost link.  On real
 * hardware a node that loses power looks like a pulled cable: its
 * processes wait out the grace (or its BMC says it is off, power.c).
 */
int
node_lives(const struct node *n, int bye, int reset, uint64_t silent_ms)
{
	if (n->state == NODE_REBOOT || n->state == NODE_HALT ||
	    n->state == NODE_PWROFF)
		return 0;
	if (bye || !reset)
		return 1;
	return silent_ms > (uint64_t)conf.heartbeat_ms * NODE_FRESH_PCT / 100;
}
