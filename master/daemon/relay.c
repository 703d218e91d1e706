/*
 * The relay tree for blobs (docs/push.md, "Tree fan-out").  Without it
 * every node's NEED goes to its own tool and the master carries one copy
 * of a blob per node.  With it, the first node that NEEDs a content is
 * the root of a session for that content: its NEED goes to its tool as
 * before (the master carries the blob once).  Every later node that NEEDs
 * the same content joins the session's tree (relay_tree.c, `fanout`
 * wide) and is told, by MSG_RELAY, to fetch it from its parent node over
 * a relay link (nodeinit/relay.c), which forwards what it has while it
 * still receives the rest.  The master's egress per push is one blob,
 * and a second only when a root fails (relay_tree.h).
 *
 * What a node says is a claim: a NEED is served by the tree only for a
 * content the EXEC's manifest, as the master sent it, names (relay_allow);
 * anything else goes to the tool, which refuses what it did not offer.  A
 * RELAY_DONE counts only from a member the master put in that session.
 *
 * A member settles when its node says RELAY_DONE (0: stored and verified),
 * when the EXEC's result comes (its files are all there, or it failed),
 * or when its process or its node is gone.  A relay that failed a child,
 * died, or whose exec failed stops serving, and its children go to their
 * nearest working ancestor and carry on from the bytes they have.  A
 * session outlives its last member by RELAY_LINGER_MS, for latecomers to
 * fetch from nodes that have the blob (but root's: relay_route_one).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpmaster.h"
#include "list.h"
#include "log.h"
#include "relay_tree.h"

#define RELAY_ALLOW_HT		1024	/* buckets of the table of manifests in flight */
#define RELAY_LINGER_MS		5000	/* a settled session still serves latecomers */
#define RELAY_REROUTE_MAX	8	/* moves of one member before its tool feeds it */
/*
 * Blobs smaller than this go from the tool, never through the tree: a
 * relay link costs a connection, a handshake and a round trip, more than
 * the master's one frame of the blob, and a program with hundreds of
 * small libraries (Open MPI's orted: 218 of its 259 files under 64 KiB)
 * would open hundreds of links per node at once.
 */
#define RELAY_MIN_BYTES		BLOB_CHUNK

enum rm_state { RM_FETCHING, RM_DONE, RM_FAILED };

struct rmember {
	int		 node;
	pid_t		 pid;
	int		 state;		/* RM_* */
	int		 noserve;	/* a child found it failing: no more children */
	unsigned int	 moves;
};

struct rsess {
	unsigned char	 hash[32];
	struct rmember	*m;
	int		*parent;	/* relay_tree.h */
	size_t		 n, cap;
	uint64_t	 settled;	/* ev_now() when the last member settled, 0: not */
	DLIST_LINK(rsess) link;	/* sessions */
};

/* The contents an EXEC's manifest named, until its result. */
struct rallow {
	pid_t		 pid;
	unsigned char	(*h)[32];
	size_t		 n;
	struct rallow	*next;
};

static DLIST_HEAD(rsesses, rsess) sessions;
static struct rallow	*allow_ht[RELAY_ALLOW_HT];
static struct ev_timer	 linger_timer;
uint64_t		 relay_sessions_made;	/* for the log and bench */

static struct rallow **
allow_bucket(pid_t pid)
{
	return &allow_ht[(unsigned int)pid % RELAY_ALLOW_HT];
}

static int
hash_cmp(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

/* The EXEC for p goes to the node: remember which contents it names. */
void
relay_exec_sent(struct proc *p, const unsigned char *body, size_t blen)
{
	struct wire_iter	 it;
	struct wire_attr	 a;
	struct rallow		*ra;
	struct mfile		 f;
	size_t			 n = 0;

	if (conf.fanout == 0)
		return;
	wire_iter_init(&it, body, blen);
	while (wire_iter_next(&it, &a) == 1)
		if (a.type == A_MFILE)
			n++;
	if (n == 0 || (ra = calloc(1, sizeof(*ra))) == NULL)
		return;
	if ((ra->h = calloc(n, 32)) == NULL) {
		free(ra);
		return;		/* (then its NEEDs go to the tool: no tree) */
	}
	wire_iter_init(&it, body, blen);
	while (wire_iter_next(&it, &a) == 1)
		if (a.type == A_MFILE && mfile_decode(a.data, a.len, &f) == 0 &&
		    f.type == MFILE_REG && f.size >= RELAY_MIN_BYTES)
			memcpy(ra->h[ra->n++], f.hash, 32);
	qsort(ra->h, ra->n, 32, hash_cmp);
	ra->pid = p->pid;
	ra->next = *allow_bucket(p->pid);
	*allow_bucket(p->pid) = ra;
}

static struct rallow *
allow_find(pid_t pid)
{
	struct rallow	*ra;

	for (ra = *allow_bucket(pid); ra != NULL && ra->pid != pid;
	    ra = ra->next)
		;
	return ra;
}

static void
allow_drop(pid_t pid)
{
	struct rallow	**pp, *ra;

	for (pp = allow_bucket(pid); (ra = *pp) != NULL; pp = &ra->next)
		if (ra->pid == pid) {
			*pp = ra->next;
			free(ra->h);
			free(ra);
			return;
		}
}

static int
allowed(pid_t pid, const unsigned char *hash)
{
	struct rallow	*ra = allow_find(pid);

	return ra != NULL && bsearch(hash, ra->h, ra->n, 32, hash_cmp) != NULL;
}

static struct rsess *
sess_find(const unsigned char *hash)
{
	struct rsess	*s;

	DLIST_FOREACH(s, &sessions, link)
		if (memcmp(s->hash, hash, 32) == 0)
			break;
	return s;
}

/* May member i feed others now? */
static int
member_ok(const struct rmember *m)
{
	return m->state != RM_FAILED && !m->noserve &&
	    nodes[m->node].link != NULL;
}

static void
relay_tell(const struct rsess *s, size_t i)
{
	unsigned char	 buf[160];
	struct wire_msg	 m;
	char		 addr[80];
	int		 p = s->parent[i];

	wire_msg_init(&m, buf, sizeof(buf), MSG_RELAY, 0, 0);
	wire_put_u32(&m, A_PID, (uint32_t)s->m[i].pid);
	wire_put(&m, A_HASH, s->hash, 32);
	if (p >= 0) {
		snprintf(addr, sizeof(addr), "%s:%d",
		    nodes[s->m[p].node].addr, BPROC_RELAY_PORT);
		wire_put_str(&m, A_ADDR, addr);
	}
	node_send(&nodes[s->m[i].node], &m);
}

/* Ask member i's own tool for the blob: the master feeds it. */
static void
relay_from_tool(struct rsess *s, size_t i)
{
	unsigned char	 buf[128];
	struct wire_msg	 m;
	struct proc	*p = proc_find(s->m[i].pid);

	s->parent[i] = -1;
	if (p == NULL || p->ghost == NULL || p->node != s->m[i].node) {
		s->m[i].state = RM_FAILED;	/* nobody to feed it: its exec fails */
		return;
	}
	log_info("relay: node %d gets its blob from the master",
	    s->m[i].node);
	relay_tell(s, i);	/* (drops any peer it was fetching from) */
	wire_msg_init(&m, buf, sizeof(buf), MSG_NEED, 0, 0);
	wire_put_u32(&m, A_PID, (uint32_t)p->pid);
	wire_put(&m, A_HASH, s->hash, 32);
	ctl_send_msg(p->ghost, &m);
}

static void sess_settle_check(struct rsess *);

/* Members stopped serving: move their children, tell the ones that moved. */
static void
sess_repair(struct rsess *s)
{
	unsigned char	*ok, *moved;
	size_t		 i;
	int		 again;

	if ((ok = malloc(2 * s->n)) == NULL)
		return;
	moved = ok + s->n;
	do {
		again = 0;
		for (i = 0; i < s->n; i++)
			ok[i] = member_ok(&s->m[i]);
		relay_tree_repair(s->parent, ok, s->n, moved);
		for (i = 0; i < s->n; i++) {
			if (!moved[i] || s->m[i].state != RM_FETCHING)
				continue;
			if (s->parent[i] < 0 ||
			    ++s->m[i].moves > RELAY_REROUTE_MAX) {
				relay_from_tool(s, i);
				/* a member with no tool failed: route again */
				if (s->m[i].state == RM_FAILED)
					again = 1;
			} else {
				log_info("relay: node %d now fed by node %d",
				    s->m[i].node, s->m[s->parent[i]].node);
				relay_tell(s, i);
			}
		}
	} while (again);
	free(ok);
	sess_settle_check(s);
}

static void
sess_free(struct rsess *s)
{
	DLIST_REMOVE(s, link);
	free(s->m);
	free(s->parent);
	free(s);
}

static void
relay_linger(void *arg)
{
	struct rsess	*s, *next;
	uint64_t	 now = ev_now(), soonest = 0;

	(void)arg;
	DLIST_FOREACH_SAFE(s, &sessions, link, next) {
		if (s->settled == 0)
			continue;
		if (now - s->settled >= RELAY_LINGER_MS)
			sess_free(s);
		else if (soonest == 0 || s->settled < soonest)
			soonest = s->settled;
	}
	if (soonest)
		ev_timer_set(&linger_timer, soonest + RELAY_LINGER_MS - now,
		    relay_linger, NULL);
}

static void
sess_settle_check(struct rsess *s)
{
	size_t	i;

	for (i = 0; i < s->n; i++)
		if (s->m[i].state == RM_FETCHING)
			return;
	if (s->settled == 0) {
		s->settled = ev_now();
		ev_timer_set(&linger_timer, RELAY_LINGER_MS, relay_linger,
		    NULL);
	}
}

static struct rsess *
sess_new(const unsigned char *hash)
{
	struct rsess	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	memcpy(s->hash, hash, 32);
	DLIST_INSERT_HEAD(&sessions, s, link);
	relay_sessions_made++;
	return s;
}

/* Member (node, pid) joins s: its index, or -1. */
static int
sess_join(struct rsess *s, int node, pid_t pid)
{
	struct rmember	*nm;
	int		*np;
	size_t		 cap;

	if (s->n == s->cap) {
		cap = s->cap ? 2 * s->cap : 8;
		if ((nm = reallocarray(s->m, cap, sizeof(*nm))) == NULL)
			return -1;
		s->m = nm;
		if ((np = reallocarray(s->parent, cap, sizeof(*np))) == NULL)
			return -1;
		s->parent = np;
		s->cap = cap;
	}
	memset(&s->m[s->n], 0, sizeof(s->m[s->n]));
	s->m[s->n].node = node;
	s->m[s->n].pid = pid;
	s->m[s->n].state = RM_FETCHING;
	s->parent[s->n] = relay_tree_parent(s->n, conf.fanout);
	s->settled = 0;
	return (int)s->n++;
}

static int
sess_member(const struct rsess *s, int node, pid_t pid)
{
	size_t	i;

	for (i = 0; i < s->n; i++)
		if (s->m[i].node == node && (pid < 0 || s->m[i].pid == pid))
			return (int)i;
	return -1;
}

/*
 * Where hash goes for p on node n: 1 when the tree serves it (RELAY sent),
 * 0 when the tool must (a new root, or no tree for it).
 */
static int
relay_route_one(struct node *n, struct proc *p, const unsigned char *hash)
{
	struct rsess	*s;
	unsigned char	*ok;
	size_t		 j;
	int		 i;

	if (!allowed(p->pid, hash))
		return 0;
	/*
	 * A settled session serves latecomers from nodes that have the blob,
	 * for the content its hash names.  For a user that is the front
	 * end's file now (verify.c checked it); root's manifest is not
	 * checked, so root's latecomer gets what its own tool reads: a file
	 * rewritten since, under a stale hash, fails as it did without the
	 * tree instead of arriving as it was.
	 */
	if ((s = sess_find(hash)) != NULL && s->settled && p->uid == 0) {
		sess_free(s);
		s = NULL;
	}
	if (s == NULL) {
		if ((s = sess_new(hash)) == NULL || sess_join(s, n->num,
		    p->pid) == -1)
			return 0;
		s->parent[0] = -1;
		return 0;
	}
	/* a second exec of one node fetching it: its tool sends it */
	if (sess_member(s, n->num, -1) >= 0 ||
	    (i = sess_join(s, n->num, p->pid)) == -1)
		return 0;
	if ((ok = malloc(s->n)) == NULL) {
		s->parent[i] = -1;
		return 0;
	}
	for (j = 0; j < s->n; j++)
		ok[j] = member_ok(&s->m[j]);
	s->parent[i] = relay_tree_route(s->parent, ok, (size_t)i);
	free(ok);
	if (s->parent[i] < 0)
		return 0;	/* nothing to fetch from: a root again */
	relay_tell(s, (size_t)i);
	return 1;
}

/*
 * A node's NEED: the contents the tree serves leave the list, the rest go
 * to the tool.  Returns 1 when it dealt with the frame, 0 for the caller
 * to forward it as it came.
 */
int
relay_need(struct node *n, const struct proto_frame *f)
{
	static unsigned char	 buf[WIRE_MAX_FRAME];
	struct wire_msg		 m;
	struct wire_iter	 it;
	struct wire_attr	 a;
	struct proc		*p = proc_find((pid_t)wire_get_u32(&f->tb[A_PID]));
	size_t			 tool = 0;

	if (conf.fanout == 0 || p == NULL || p->node != n->num ||
	    p->ghost == NULL || p->started)
		return 0;
	wire_msg_init(&m, buf, sizeof(buf), MSG_NEED, 0, 0);
	wire_put_u32(&m, A_PID, (uint32_t)p->pid);
	wire_iter_init(&it, f->body, f->len);
	while (wire_iter_next(&it, &a) == 1) {
		if (a.type != A_HASH || a.len != 32)
			continue;
		if (relay_route_one(n, p, a.data) == 0) {
			wire_put(&m, A_HASH, a.data, 32);
			tool++;
		}
	}
	if (tool > 0)
		ctl_send_msg(p->ghost, &m);
	return 1;
}

/* Member i is settled: as state, and its children move if it failed. */
static void
member_settle(struct rsess *s, size_t i, int state)
{
	if (s->m[i].state != RM_FETCHING && state != RM_FAILED)
		return;
	s->m[i].state = state;
	sess_repair(s);
}

/* MSG_RELAY_DONE: a member's fetch from its peer ended. */
int
relay_done(struct node *n, const struct proto_frame *f)
{
	struct wire_attr	*tb = f->tb;
	struct rsess		*s = sess_find(tb[A_HASH].data);
	uint32_t		 e = wire_get_u32(&tb[A_ERRNO]);
	int			 i, p;

	if (s == NULL || (i = sess_member(s, n->num,
	    (pid_t)wire_get_u32(&tb[A_PID]))) < 0)
		return 0;	/* not (or no longer) ours: a late word */
	if (e == 0) {
		member_settle(s, (size_t)i, RM_DONE);
		return 0;
	}
	p = s->parent[i];
	log_info("relay: node %d lost its feed from node %d at %llu bytes: %s",
	    n->num, p >= 0 ? s->m[p].node : -1, tb[A_OFFSET].data ?
	    (unsigned long long)wire_get_u64(&tb[A_OFFSET]) : 0ULL,
	    tb[A_MSG].data ? wire_get_str(&tb[A_MSG]) : strerror((int)e));
	if (s->m[i].state != RM_FETCHING || p < 0)
		return 0;
	/* the parent failed one child: it feeds no one any more */
	s->m[p].noserve = 1;
	sess_repair(s);
	return 0;
}

/* An EXEC_RESULT from n: what p fetched is settled, one way or the other. */
void
relay_exec_result(struct node *n, const struct proto_frame *f)
{
	pid_t		 pid = (pid_t)wire_get_u32(&f->tb[A_PID]);
	int		 state = wire_get_u32(&f->tb[A_ERRNO]) ? RM_FAILED : RM_DONE;
	struct rsess	*s, *next;
	int		 i;

	allow_drop(pid);
	DLIST_FOREACH_SAFE(s, &sessions, link, next) {
		if ((i = sess_member(s, n->num, pid)) >= 0)
			member_settle(s, (size_t)i, state);
	}
}

/* p's record goes: what it was still fetching fails (its node may be gone). */
void
relay_proc_gone(struct proc *p)
{
	struct rsess	*s;
	int		 i;

	allow_drop(p->pid);
	DLIST_FOREACH(s, &sessions, link)
		if ((i = sess_member(s, p->node, p->pid)) >= 0 &&
		    s->m[i].state == RM_FETCHING)
			member_settle(s, (size_t)i, RM_FAILED);
}

/* n's link closed: none of its members feeds anyone now. */
void
relay_node_down(struct node *n)
{
	struct rsess	*s;
	size_t		 i;
	int		 any;

	DLIST_FOREACH(s, &sessions, link) {
		any = 0;
		for (i = 0; i < s->n; i++)
			if (s->m[i].node == n->num) {
				s->m[i].state = RM_FAILED;
				any = 1;
			}
		if (any)
			sess_repair(s);
	}
}
