/*
 * A non-blocking stream connection carrying bproc frames: an input buffer
 * that never grows past one frame, a bounded output queue, and, once a node
 * link has authenticated, sealing of every frame with an AEAD (libsodium's
 * ChaCha20-Poly1305 IETF) under a per-direction session key and a counter
 * nonce, so frames cannot be forged, altered, replayed or reordered.
 *
 * Sealed record on the wire: u32 length of ciphertext (big-endian), then
 * ciphertext = AEAD(frame) with the length as associated data.
 */
#ifndef BPROC_CONN_H
#define BPROC_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"

#define CONN_KEY_LEN	32
#define CONN_TAG_LEN	16
#define CONN_IN_INIT	16384		/* initial input buffer */

struct conn {
	int		 fd;
	char		 peer[64];	/* for log lines */
	size_t		 maxframe;	/* frames above this close the link */

	unsigned char	*in;		/* raw bytes read, not yet consumed */
	size_t		 inlen;
	size_t		 incap;
	size_t		 inskip;	/* bytes of the last frame to drop */

	unsigned char	*plain;		/* opened frame of a sealed link */
	size_t		 plaincap;

	unsigned char	*out;		/* queued bytes, sent from outoff */
	size_t		 outoff;
	size_t		 outlen;
	size_t		 outcap;
	size_t		 outmax;	/* hard bound on queued bytes */

	int		 sealed;
	unsigned char	 txkey[CONN_KEY_LEN];
	unsigned char	 rxkey[CONN_KEY_LEN];
	uint64_t	 txctr;
	uint64_t	 rxctr;
};

void	conn_init(struct conn *, int, const char *, size_t, size_t);
void	conn_free(struct conn *);
/* Read what the socket has: 1 data read, 0 nothing (EAGAIN), -1 EOF or error (errno 0 on EOF). */
int	conn_read(struct conn *);
/*
 * Next whole frame: 1 with header and body (valid until the next call),
 * 0 when more bytes are needed, -1 with *why when the stream is bad.
 */
int	conn_frame(struct conn *, struct wire_hdr *, const unsigned char **,
	    size_t *, const char **);
/* Queue a finished frame; -1 (errno ENOBUFS) when over outmax, or on sealing failure. */
int	conn_send(struct conn *, const void *, size_t);
/* Write queued bytes: 0 ok (maybe some left), -1 error. */
int	conn_flush(struct conn *);
size_t	conn_pending(const struct conn *);
/*
 * Free the buffers that hold nothing (no queued output, no unread input,
 * no frame in use); the next read or send allocates again.  An idle link
 * then holds no buffer between its heartbeats, and one that carried a
 * push goes back to that.  Call it between frames, never while a frame
 * from conn_frame() is still being read.
 */
void	conn_shrink(struct conn *);
/* Derive both session keys and seal from now on; dir 0 = master side. */
void	conn_seal(struct conn *, const unsigned char *, const unsigned char *,
	    int);

#endif
