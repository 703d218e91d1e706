/*
 * Fuzz target for everything that reads bytes from a peer: the frame header
 * decoder, the attribute iterator and validator (proto_parse), and the
 * connection layer that cuts a byte stream into frames, plain and sealed.
 *
 * One input is pushed through five paths, because a peer controls all of
 * them:
 *  1. wire_hdr_decode + proto_parse on back-to-back frames in the buffer;
 *  2. a plain conn with the post-authentication frame limit, fed at once;
 *  3. a plain conn with the pre-authentication limit, fed 7 bytes at a time
 *     so that "need more bytes" is taken at every offset;
 *  4. a sealed conn fed the raw bytes (what an attacker without the key
 *     sends after the handshake);
 *  5. a sealed conn fed the input sealed under the test keys, so the
 *     decoder behind the AEAD sees attacker-shaped plaintext too (what a
 *     peer holding the key, or a bug in our own sender, could produce).
 *
 * conn_frame only ever reads c->in/c->inlen, so the input is placed there
 * directly on a conn whose fd is -1; conn_free then releases everything.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "conn.h"
#include "fuzz.h"
#include "proto.h"
#include "wire.h"

#define FUZZ_FEED_STEP	7		/* bytes per step in the trickle path */
#define FUZZ_MAX_FRAMES	4096		/* frames decoded per path at most */

static volatile uint64_t sink;		/* keeps the getters' reads alive */

static const unsigned char key_m2n[CONN_KEY_LEN] = {
	0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
	0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
	0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
	0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
};
static const unsigned char key_n2m[CONN_KEY_LEN] = {
	0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
	0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
	0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
	0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
};

/* Read every attribute the way a handler would, through its typed getter. */
static void
fuzz_use_attrs(const struct wire_attr *tb)
{
	uint64_t	acc = 0;
	int		a;

	for (a = 0; a < A_MAX; a++) {
		if (tb[a].data == NULL)
			continue;
		switch (attr_table[a].kind) {
		case AK_U8:
			acc += wire_get_u8(&tb[a]);
			break;
		case AK_U16:
			acc += wire_get_u16(&tb[a]);
			break;
		case AK_U32:
			acc += wire_get_u32(&tb[a]);
			break;
		case AK_U64:
			acc += wire_get_u64(&tb[a]);
			break;
		case AK_STR:
			acc += strlen(wire_get_str(&tb[a]));
			break;
		case AK_BIN:
			/* some binary attributes may be empty */
			if (tb[a].len > 0)
				acc += tb[a].data[0] + tb[a].data[tb[a].len - 1];
			break;
		}
	}
	sink += acc;
}

/* What a receiver does with one whole frame; -1 when proto_parse refused it. */
static int
fuzz_frame_body(const struct wire_hdr *h, const unsigned char *body,
    size_t blen)
{
	struct wire_attr	 tb[A_MAX], a;
	struct wire_iter	 it;
	const char		*why = NULL;
	int			 r;

	sink += strlen(msg_name(h->type));
	if ((r = proto_parse(h, body, blen, tb, &why)) == 0)
		fuzz_use_attrs(tb);
	else
		sink += strlen(why);
	/* repeated attributes are read with the iterator directly */
	wire_iter_init(&it, body, blen);
	while (wire_iter_next(&it, &a) == 1)
		sink += (uint64_t)proto_attr_ok(&a);
	return r;
}

/*
 * Path 1: frames back to back in a buffer, as a datagram reader would.
 * Returns 1 when the buffer is one or more whole frames, each of which
 * proto_parse accepts (the verdict), else 0.
 */
static int
fuzz_buffer(const unsigned char *p, size_t len, size_t maxframe)
{
	struct wire_hdr	 h;
	const char	*why = NULL;
	int		 n, ok = len > 0;

	for (n = 0; n < FUZZ_MAX_FRAMES && len > 0; n++) {
		if (wire_hdr_decode(p, len, maxframe, &h, &why) != 1)
			return 0;
		if (h.len > len)
			return 0;
		if (fuzz_frame_body(&h, p + WIRE_HDR_LEN, h.len - WIRE_HDR_LEN) == -1)
			ok = 0;
		p += h.len;
		len -= h.len;
	}
	return ok && len == 0;
}

/*
 * Paths 2-5: append the bytes to c->in step bytes at a time and take every
 * frame conn_frame hands out, stopping where a real link would be closed.
 */
static void
fuzz_conn_feed(struct conn *c, const unsigned char *p, size_t len, size_t step)
{
	struct wire_hdr		 h;
	const unsigned char	*body;
	const char		*why = NULL;
	size_t			 blen, fed = 0, n;
	int			 r, frames = 0;

	/* inlen never exceeds what was fed, so len bytes of room suffice */
	c->incap = len ? len : 1;
	if ((c->in = malloc(c->incap)) == NULL)
		return;
	while (fed < len) {
		n = len - fed < step ? len - fed : step;
		memcpy(c->in + c->inlen, p + fed, n);
		c->inlen += n;
		fed += n;
		while ((r = conn_frame(c, &h, &body, &blen, &why)) == 1) {
			fuzz_frame_body(&h, body, blen);
			if (++frames >= FUZZ_MAX_FRAMES)
				return;
		}
		if (r == -1) {
			sink += strlen(why);
			return;
		}
	}
}

static void
fuzz_conn(const unsigned char *p, size_t len, size_t maxframe, size_t step,
    int sealed)
{
	struct conn	c;

	conn_init(&c, -1, "fuzz", maxframe, 0);
	if (sealed)
		conn_seal(&c, key_m2n, key_n2m, 0);
	fuzz_conn_feed(&c, p, len, step);
	conn_free(&c);
}

/*
 * Path 5: seal the input as the node side would, one record per frame the
 * input claims to hold (or the whole input when it claims none), then open
 * it on the master side.
 */
static void
fuzz_sealed_roundtrip(const unsigned char *p, size_t len)
{
	struct conn	 tx, rx;
	struct wire_hdr	 h;
	const char	*why = NULL;
	size_t		 off = 0, rec;
	int		 n;

	conn_init(&tx, -1, "fuzz-tx", WIRE_MAX_FRAME, 4 * WIRE_MAX_FRAME);
	conn_seal(&tx, key_m2n, key_n2m, 1);
	for (n = 0; off < len && n < FUZZ_MAX_FRAMES; n++) {
		rec = len - off;
		if (wire_hdr_decode(p + off, rec, WIRE_MAX_FRAME, &h, &why) == 1 &&
		    h.len <= rec)
			rec = h.len;
		if (rec > WIRE_MAX_FRAME)
			rec = WIRE_MAX_FRAME;
		if (conn_send(&tx, p + off, rec) == -1)
			break;
		off += rec;
	}
	if (conn_pending(&tx) > 0) {
		conn_init(&rx, -1, "fuzz-rx", WIRE_MAX_FRAME, 0);
		conn_seal(&rx, key_m2n, key_n2m, 0);
		fuzz_conn_feed(&rx, tx.out + tx.outoff, conn_pending(&tx),
		    conn_pending(&tx) + 1);
		conn_free(&rx);
	}
	conn_free(&tx);
}

/*
 * Accepted: the input is whole frames that proto_parse takes (path 1,
 * with the post-authentication limit).  The other paths only must not
 * crash.
 */
int
fuzz_verdict(const uint8_t *data, size_t size)
{
	static int	ready;
	int		ok;

	if (!ready) {
		if (sodium_init() < 0)
			abort();
		ready = 1;
	}
	ok = fuzz_buffer(data, size, WIRE_MAX_FRAME);
	fuzz_conn(data, size, WIRE_MAX_FRAME, size + 1, 0);
	fuzz_conn(data, size, WIRE_PREAUTH_MAX, FUZZ_FEED_STEP, 0);
	fuzz_conn(data, size, WIRE_MAX_FRAME, size + 1, 1);
	fuzz_sealed_roundtrip(data, size);
	return ok;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_verdict(data, size);
	return 0;
}
