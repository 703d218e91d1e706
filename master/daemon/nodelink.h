/*
 * What the node link's files share: nodelink.c the link and its
 * heartbeat, nodelink_accept.c the node port, nodelink_routes.c the
 * link's message table.  The rest of the daemon sees struct nodelink only
 * through bpmaster.h's node_* calls.
 */
#ifndef NODELINK_H
#define NODELINK_H

#include <netinet/in.h>

#include "bpmaster.h"
#include "list.h"

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

extern struct nodelinks	 link_all;
/* links that have not said HELLO, newest first */
extern struct nodelinks	 link_preauth;
extern int		 link_npreauth;

/* nodelink.c */
void	link_fail(struct nodelink *, const char *);
int	link_send(struct nodelink *, struct wire_msg *);
void	link_close(struct nodelink *, const char *);
void	link_preauth_remove(struct nodelink *);
uint64_t link_jitter(void);
void	link_shrink(struct nodelink *, int);
void	link_tick(void *);

/* nodelink_routes.c */
void	link_event(int, uint32_t, void *);

#endif
