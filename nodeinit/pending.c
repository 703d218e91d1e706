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

struct pending	*pendings;

struct pending *
pending_find(pid_t gpid)
{
	struct pending	*pd;

	for (pd = pendings; pd != NULL && pd->gpid != gpid; pd = pd->next)
		;
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
	for (pd = pendings; pd != NULL; pd = pd->next)
		for (size_t i = 0; i < pd->nneed; i++)
			r = r > UINT64_MAX - pd->need[i].size ? UINT64_MAX :
			    r + pd->need[i].size;
	return r;
}

/* pd goes, and the blobs it was receiving with it (never half-kept). */
void
pending_free(struct pending *pd)
{
	struct pending	**pp;

	for (pp = &pendings; *pp != NULL; pp = &(*pp)->next)
		if (*pp == pd) {
			*pp = pd->next;
			break;
		}
	while (pd->rxs != NULL)
		rx_free(pd, pd->rxs, 1);
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
	struct rx	**pp;
	char		  tmp[128];

	for (pp = &pd->rxs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == rx) {
			*pp = rx->next;
			break;
		}
	if (rx->fd >= 0)
		close(rx->fd);
	if (unlink_tmp) {
		rx_tmpname(pd->gpid, rx->hash, tmp, sizeof(tmp));
		unlink(tmp);
	}
	free(rx);
}
