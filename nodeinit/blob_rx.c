/*
 * Blobs coming in for pending execs (fetch.c made them wait): each is
 * written to a temporary file in the cache, hashed as it comes, and only
 * once its size and BLAKE2b-256 match the manifest is it given its owner
 * and mode and renamed into the cache.  Nothing half-written is ever run
 * or cached as complete.
 *
 * A blob comes from the master link (MSG_BLOB, the tool's bytes) or from
 * a relay peer (relay.c, the relay tree of docs/push.md), or first from
 * one and then from another when a peer fails.  Each source sends from an
 * offset on; bytes below what is written already are dropped, so a new
 * source goes on where the last one stopped, and the hash covers each
 * byte once.  While a blob comes in, relay.c serves its temporary file to
 * this node's children in the tree (push_source): the forwarding starts
 * with the first bytes, not once the whole blob is here.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fetch_int.h"
#include "log.h"

static uint32_t	rx_ids;		/* names each temporary file for relay.c */

static void
blob_ack(pid_t gpid, uint32_t n)
{
	unsigned char	buf[64];
	struct wire_msg	m;

	wire_msg_init(&m, buf, sizeof(buf), MSG_BLOB_ACK, 0, 0);
	wire_put_u32(&m, A_PID, (uint32_t)gpid);
	wire_put_u32(&m, A_BYTES, n);
	link_send_msg(&m);
}

/*
 * A verified blob is in tmp: file it under every cache name waiting for
 * that content (another owner or mode is another inode).  Returns 0, or -1
 * with errno.
 */
static int
blob_store(struct pending *pd, const unsigned char *hash, const char *tmp)
{
	struct blob	*b;
	struct mfile	*f;
	char		 cname[256], first[256] = "";
	size_t		 i;

	for (i = 0; i < pd->nneed; ) {
		f = &pd->need[i];
		if (memcmp(f->hash, hash, 32) != 0) {
			i++;
			continue;
		}
		cache_name(f, cname, sizeof(cname));
		if (cache_find(cname) != NULL)
			;	/* another exec brought it meanwhile */
		else if (first[0] == '\0') {
			if (chown(tmp, f->uid, f->gid) == -1 ||
			    chmod(tmp, f->mode) == -1 || rename(tmp, cname) == -1)
				return -1;
			snprintf(first, sizeof(first), "%s", cname);
		} else if (copy_file(first, cname, f) == -1 && errno != EEXIST)
			return -1;
		if ((b = cache_add(cname, f->size)) == NULL) {
			errno = ENOMEM;
			return -1;
		}
		cache_hold(pd->gpid, b);
		*f = pd->need[--pd->nneed];
	}
	if (first[0] == '\0')
		unlink(tmp);
	return 0;
}

static struct rx *
rx_find(struct pending *pd, const unsigned char *hash)
{
	struct rx	*rx;

	DLIST_FOREACH(rx, &pd->rxs, link)
		if (memcmp(rx->hash, hash, 32) == 0)
			break;
	return rx;
}

static struct rx *
rx_new(struct pending *pd, const unsigned char *hash)
{
	struct rx	*rx;
	char		 tmp[128];

	/* its hash state wants libsodium's alignment, more than malloc's */
	if ((rx = aligned_alloc(64, (sizeof(*rx) + 63) & ~(size_t)63)) == NULL)
		return NULL;
	memset(rx, 0, sizeof(*rx));
	memcpy(rx->hash, hash, 32);
	rx_tmpname(pd->gpid, hash, tmp, sizeof(tmp));
	if ((rx->fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1) {
		free(rx);
		return NULL;
	}
	crypto_generichash_init(&rx->hs, NULL, 0, 32);
	rx->id = ++rx_ids ? rx_ids : ++rx_ids;
	DLIST_INSERT_HEAD(&pd->rxs, rx, link);
	return rx;
}

/* Every file is here: the exec goes on from the kept frame. */
static void
pending_ready(struct pending *pd)
{
	struct wire_hdr		 h;
	struct wire_attr	 etb[A_MAX];
	struct pusher		 pu;
	const char		*why;
	unsigned char		*frame = pd->frame;
	size_t			 flen = pd->flen;
	pid_t			 gpid = pd->gpid;
	char			 msg[300];

	pd->frame = NULL;
	pending_free(pd);
	if (wire_hdr_decode(frame, flen, WIRE_MAX_FRAME, &h, &why) == 1 &&
	    proto_parse(&h, frame + WIRE_HDR_LEN, flen - WIRE_HDR_LEN,
	    etb, &why) == 0) {
		if (gpid != PROTO_SETUP_PID)
			spawn_exec(&h, etb, frame + WIRE_HDR_LEN,
			    flen - WIRE_HDR_LEN);
		else {
			pusher_of(PROTO_SETUP_PID, frame + WIRE_HDR_LEN,
			    flen - WIRE_HDR_LEN, &pu);
			if (push_link(frame + WIRE_HDR_LEN, flen - WIRE_HDR_LEN,
			    &pu, PROTO_SETUP_PID, msg, sizeof(msg)) == -1)
				setup_result(errno ? errno : EIO, msg);
			link_setup_done();
		}
	}
	free(frame);
}

/*
 * The frame's A_DATA pieces, which start at offset *off of the blob, go
 * into rx: what is below rx->got is there already.  A source that skips
 * ahead of rx->got, or sends more than the manifest's size, fails the
 * push.  Returns the frame's data bytes, or -1 with msg.
 */
static ssize_t
rx_write(struct rx *rx, const struct mfile *f, const unsigned char *body,
    size_t blen, uint64_t *off, char *msg, size_t msglen)
{
	struct wire_iter	 it;
	struct wire_attr	 a;
	struct iovec		 iov[BLOB_PIECES];
	size_t			 i, niov = 0, len = 0, all = 0, cut;
	uint64_t		 end;

	wire_iter_init(&it, body, blen);
	while (wire_iter_next(&it, &a) == 1) {
		if (a.type != A_DATA || a.len == 0)
			continue;
		if (niov == BLOB_PIECES) {
			snprintf(msg, msglen, "blob frame of too many pieces");
			errno = EPROTO;
			return -1;
		}
		all += a.len;
		/* the part of this piece that is new: [end, *off + a.len) */
		end = rx->got + len;
		if (*off + a.len <= end) {
			*off += a.len;
			continue;
		}
		if (*off > end) {
			snprintf(msg, msglen, "%s: blob stream skipped %llu "
			    "bytes", f->path, (unsigned long long)(*off - end));
			errno = EPROTO;
			return -1;
		}
		cut = (size_t)(end - *off);
		iov[niov].iov_base = (void *)(uintptr_t)(a.data + cut);
		iov[niov++].iov_len = a.len - cut;
		len += a.len - cut;
		*off += a.len;
		if (rx->got + len > f->size) {
			snprintf(msg, msglen, "file grew during push");
			errno = EFBIG;
			return -1;
		}
	}
	if (len == 0)
		return (ssize_t)all;
	if (writev(rx->fd, iov, (int)niov) != (ssize_t)len) {
		snprintf(msg, msglen, "node cache: write failed");
		return -1;
	}
	for (i = 0; i < niov; i++)
		crypto_generichash_update(&rx->hs, iov[i].iov_base,
		    iov[i].iov_len);
	rx->got += len;
	return (ssize_t)all;
}

/*
 * rx has all its bytes: verify and store it.  Returns 0 (stored; pd may
 * be gone, its exec under way) or -1 (pd failed and is gone).
 */
static int
rx_finish(struct pending *pd, struct rx *rx, const struct mfile *f)
{
	unsigned char	sum[32];
	char		tmp[128], msg[300];

	crypto_generichash_final(&rx->hs, sum, 32);
	close(rx->fd);
	rx->fd = -1;
	rx_tmpname(pd->gpid, rx->hash, tmp, sizeof(tmp));
	/* nothing half-written or changed on the way is ever run */
	if (rx->got != f->size || sodium_memcmp(sum, f->hash, 32) != 0) {
		snprintf(msg, sizeof(msg), "%s changed during push", f->path);
		push_fail(pd, EIO, msg);
		return -1;
	}
	if (blob_store(pd, sum, tmp) == -1) {
		snprintf(msg, sizeof(msg), "node cache: %s", strerror(errno));
		push_fail(pd, errno, msg);
		return -1;
	}
	rx_free(pd, rx, 0);
	if (pd->nneed == 0)
		pending_ready(pd);
	return 0;
}

static ssize_t
frame_data(const unsigned char *body, size_t blen)
{
	struct wire_iter	it;
	struct wire_attr	a;
	ssize_t			n = 0;

	wire_iter_init(&it, body, blen);
	while (wire_iter_next(&it, &a) == 1)
		if (a.type == A_DATA)
			n += a.len;
	return n;
}

static struct mfile *
need_find(struct pending *pd, const unsigned char *hash)
{
	size_t	i;

	for (i = 0; i < pd->nneed; i++)
		if (memcmp(pd->need[i].hash, hash, 32) == 0)
			return &pd->need[i];
	return NULL;
}

/*
 * Data for blob hash of gpid from some source, at *off.  Returns 1 when
 * the blob is stored (or was not wanted any more), 0 when more is to
 * come, -1 when the push failed (the master has its EXEC_RESULT).
 */
static int
rx_feed(pid_t gpid, const unsigned char *hash, const unsigned char *body,
    size_t blen, int eof, uint64_t *off, int master)
{
	struct pending	*pd;
	struct mfile	*f;
	struct rx	*rx;
	ssize_t		 n;
	char		 msg[300];

	if ((pd = pending_find(gpid)) == NULL)
		return 1;
	if ((f = need_find(pd, hash)) == NULL) {
		/*
		 * A source that came too late: another one brought it.  The
		 * tool still hears of these bytes, or it would wait for room
		 * in its window and never send what else this exec needs.
		 */
		if (rx_find(pd, hash) == NULL && cache_by_hash(hash, msg,
		    sizeof(msg), &(uint64_t){ 0 }) == 0) {
			if (master && (n = frame_data(body, blen)) > 0)
				blob_ack(gpid, (uint32_t)n);
			return 1;
		}
		push_fail(pd, EPROTO, "blob nobody asked for");
		return -1;
	}
	if ((rx = rx_find(pd, hash)) == NULL &&
	    (rx = rx_new(pd, hash)) == NULL) {
		snprintf(msg, sizeof(msg), "node cache: %s", strerror(errno));
		push_fail(pd, errno, msg);
		return -1;
	}
	if ((n = rx_write(rx, f, body, blen, off, msg, sizeof(msg))) == -1) {
		push_fail(pd, errno ? errno : EIO, msg);
		return -1;
	}
	if (master && n > 0) {
		/*
		 * Acknowledge in steps, not per frame: the sender waits only
		 * with a whole window unacknowledged, and a step is a
		 * fraction of it, so it always hears back in time.
		 */
		pd->unacked += (uint32_t)n;
		if (pd->unacked >= BLOB_ACK_STEP) {
			blob_ack(gpid, pd->unacked);
			pd->unacked = 0;
		}
	}
	/* a peer's stream ends at the size; the master's says so */
	if (!eof && (master || rx->got < f->size))
		return 0;
	return rx_finish(pd, rx, f) == 0 ? 1 : -1;
}

/* MSG_BLOB on the master link: the tool's bytes, from 0 (or on from a peer's). */
void
push_blob(struct wire_attr *tb, const unsigned char *body, size_t blen)
{
	struct pending	*pd;
	struct rx	*rx;
	pid_t		 gpid = (pid_t)wire_get_u32(&tb[A_PID]);
	uint64_t	 off;
	int		 eof = tb[A_EOF].data && wire_get_u8(&tb[A_EOF]);

	if ((pd = pending_find(gpid)) == NULL)
		return;
	rx = rx_find(pd, tb[A_HASH].data);
	off = rx != NULL ? rx->mseen : 0;
	rx_feed(gpid, tb[A_HASH].data, body, blen, eof, &off, 1);
	/* (rx is gone once the blob is stored or the push failed) */
	if ((pd = pending_find(gpid)) != NULL &&
	    (rx = rx_find(pd, tb[A_HASH].data)) != NULL)
		rx->mseen = off;
}

/*
 * A relay peer's MSG_BLOB for gpid (relay.c), whose data starts at *off.
 * Returns as rx_feed does.
 */
int
push_relay_feed(pid_t gpid, const unsigned char *hash, struct wire_attr *tb,
    const unsigned char *body, size_t blen, uint64_t *off)
{
	return rx_feed(gpid, hash, body, blen,
	    tb[A_EOF].data && wire_get_u8(&tb[A_EOF]), off, 0);
}

/*
 * Where a fetch of hash for gpid goes on from: 0 when it is wanted, with
 * *off the bytes already here; -1 when gpid no longer waits for it.
 */
int
push_relay_want(pid_t gpid, const unsigned char *hash, uint64_t *off)
{
	struct pending	*pd = pending_find(gpid);
	struct rx	*rx;

	if (pd == NULL || need_find(pd, hash) == NULL)
		return -1;
	*off = (rx = rx_find(pd, hash)) != NULL ? rx->got : 0;
	return 0;
}

/*
 * What this node can serve of a content (relay.c): the path of a file
 * holding it, the bytes of it there now, its whole size, and an id that
 * changes if that file is not the one it was (0 once it is in the cache).
 * Returns 0, or -1 when the node has none of it.
 */
int
push_source(const unsigned char *hash, char *path, size_t len,
    uint64_t *avail, uint64_t *size, uint32_t *id)
{
	struct pending	*pd, *best = NULL;
	struct rx	*rx, *brx = NULL;
	struct mfile	*f;

	/* (what is coming in first: a relay asks this at every pass) */
	DLIST_FOREACH(pd, &pendings, link)
		if ((rx = rx_find(pd, hash)) != NULL &&
		    (brx == NULL || rx->got > brx->got)) {
			brx = rx;
			best = pd;
		}
	if (brx == NULL && cache_by_hash(hash, path, len, size) == 0) {
		*avail = *size;
		*id = 0;
		return 0;
	}
	if (brx == NULL) {
		/*
		 * Wanted here but not begun: the child that asks this early
		 * waits on the file the first bytes will go to.
		 */
		DLIST_FOREACH(pd, &pendings, link)
			if (need_find(pd, hash) != NULL)
				break;
		if (pd == NULL || (brx = rx_new(pd, hash)) == NULL)
			return -1;
		best = pd;
	}
	if ((f = need_find(best, hash)) == NULL)
		return -1;
	rx_tmpname(best->gpid, hash, path, len);
	*avail = brx->got;
	*size = f->size;
	*id = brx->id;
	return 0;
}
