/*
 * The pushes under way: each exec waiting for files is a pending record
 * (fetch.c makes it, blob_rx.c fills it), with the blobs it is receiving
 * into temporary files.  Here they are found, counted and freed whole,
 * for fetch.c, blob_rx.c and cache.c alike; nothing here calls up.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <sodium.h>

#include "fetch_int.h"

struct pendinglist	 pendings;

struct pending *
pending_find(pid_t gpid)
{
	struct pending	*pd;

	DLIST_FOREACH(pd, &pendings, link)
		if (pd->gpid == gpid)
			break;
	return pd;
}

/* Is gpid's exec still waiting for files?  (cache.c: it holds them.) */
int
push_pending(pid_t gpid)
{
	return pending_find(gpid) != NULL;
}

/* Bytes that pushes under way will still add to the cache. */
uint64_t
push_reserved(void)
{
	struct pending	*pd;
	uint64_t	 r = 0;

	/* each pending's sum is bounded (push_prepare); their sum saturates */
	DLIST_FOREACH(pd, &pendings, link)
		for (size_t i = 0; i < pd->nneed; i++)
			r = r > UINT64_MAX - pd->need[i].size ? UINT64_MAX :
			    r + pd->need[i].size;
	return r;
}

/* pd goes, and the blobs it was receiving with it (never half-kept). */
void
pending_free(struct pending *pd)
{
	DLIST_REMOVE(pd, link);
	while (!DLIST_EMPTY(&pd->rxs))
		rx_free(pd, DLIST_FIRST(&pd->rxs), 1);
	free(pd->frame);
	free(pd->need);
	free(pd);
}

/* rx_tmpname: where gpid's blob of that hash is written until it is whole. */
void
rx_tmpname(pid_t gpid, const unsigned char *hash, char *buf, size_t len)
{
	char	hex[65];

	sodium_bin2hex(hex, sizeof(hex), hash, 32);
	snprintf(buf, len, CACHE_DIR "/.in-%d-%s", (int)gpid, hex);
}

/* rx goes; its temporary file too, unless it was renamed into the cache. */
void
rx_free(struct pending *pd, struct rx *rx, int unlink_tmp)
{
	char	tmp[128];

	DLIST_REMOVE(rx, link);
	if (rx->fd >= 0)
		close(rx->fd);
	if (unlink_tmp) {
		rx_tmpname(pd->gpid, rx->hash, tmp, sizeof(tmp));
		unlink(tmp);
	}
	free(rx);
}
