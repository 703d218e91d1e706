/*
 * What fetch.c (manifests, who may push what, linking in), blob_rx.c
 * (the blobs coming in) and pending.c (the pushes under way) share;
 * nothing else includes it.
 */
#ifndef NODEINIT_FETCH_INT_H
#define NODEINIT_FETCH_INT_H

#include <sodium.h>

#include "list.h"
#include "nodeinit_int.h"

/*
 * One blob coming in for a pending exec, written to a temporary file in
 * the cache and hashed as it comes.  Its bytes may come from the master
 * link, from a relay peer, or from one and then another (a peer that
 * failed, the master feeding again): every source sends the blob from
 * some offset on, and what is below got is not written twice.
 */
struct rx {
	crypto_generichash_state hs;	/* first: libsodium's alignment */
	unsigned char		 hash[32];
	int			 fd;
	uint64_t		 got;		/* bytes written and hashed */
	uint64_t		 mseen;		/* bytes of it the master link brought */
	uint32_t		 id;		/* names this file for relay servers */
	DLIST_LINK(rx)		 link;		/* its pending's rxs */
};

DLIST_HEAD(rxlist, rx);

struct pending {
	pid_t			 gpid;
	unsigned char		*frame;		/* the EXEC, kept until files are here */
	size_t			 flen;
	struct mfile		*need;		/* files still missing */
	size_t			 nneed;
	struct rxlist		 rxs;		/* blobs being received */
	uint32_t		 unacked;	/* master-link bytes not yet acknowledged */
	DLIST_LINK(pending)	 link;		/* pendings */
};

DLIST_HEAD(pendinglist, pending);

/*
 * Whom a push is for, from the EXEC the master sent (A_UID, A_GID: the
 * caller's, from SO_PEERCRED), or the setup list (root's, for good).
 */
struct pusher {
	uid_t	uid;
	gid_t	gid;
	int	setup;
};

extern struct pendinglist	 pendings;

/* pending.c */
struct pending	*pending_find(pid_t);
void		 pending_free(struct pending *);
void		 rx_tmpname(pid_t, const unsigned char *, char *, size_t);
void		 rx_free(struct pending *, struct rx *, int);

/* fetch.c */
void		 pusher_of(pid_t, const unsigned char *, size_t, struct pusher *);
void		 cache_name(const struct mfile *, char *, size_t);
int		 copy_file(const char *, const char *, const struct mfile *);
int		 push_link(const unsigned char *, size_t, const struct pusher *,
		    pid_t, char *, size_t);
void		 setup_result(int, const char *);
void		 push_fail(struct pending *, int, const char *);

#endif
