/* Buffered, bounded, optionally sealed frame connection; see conn.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "conn.h"

#define SEAL_HDR	4

void
conn_init(struct conn *c, int fd, const char *peer, size_t maxframe,
    size_t outmax)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	strncpy(c->peer, peer, sizeof(c->peer) - 1);
	c->maxframe = maxframe;
	c->outmax = outmax;
}

void
conn_free(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->in);
	free(c->plain);
	free(c->out);
	sodium_memzero(c->txkey, sizeof(c->txkey));
	sodium_memzero(c->rxkey, sizeof(c->rxkey));
	c->in = c->plain = c->out = NULL;
}

static size_t
conn_record_max(const struct conn *c)
{
	return c->maxframe + (c->sealed ? SEAL_HDR + CONN_TAG_LEN : 0);
}

static int
conn_reserve(unsigned char **buf, size_t *cap, size_t need)
{
	unsigned char	*nb;
	size_t		 ncap;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap : CONN_IN_INIT;
	while (ncap < need)
		ncap *= 2;
	if ((nb = realloc(*buf, ncap)) == NULL)
		return -1;
	*buf = nb;
	*cap = ncap;
	return 0;
}

int
conn_read(struct conn *c)
{
	ssize_t	n;
	size_t	room;

	if (c->inskip) {
		memmove(c->in, c->in + c->inskip, c->inlen - c->inskip);
		c->inlen -= c->inskip;
		c->inskip = 0;
	}
	/* never hold more than one record plus one read's worth */
	if (c->inlen >= conn_record_max(c) + CONN_IN_INIT)
		return 0;
	if (conn_reserve(&c->in, &c->incap, c->inlen + CONN_IN_INIT) == -1)
		return -1;
	room = c->incap - c->inlen;
	n = read(c->fd, c->in + c->inlen, room);
	if (n == 0) {
		errno = 0;
		return -1;
	}
	if (n < 0)
		return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
	c->inlen += (size_t)n;
	return 1;
}

static uint32_t
be32(const unsigned char *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	    ((uint32_t)p[2] << 8) | p[3];
}

static void
nonce_from(unsigned char n[crypto_aead_chacha20poly1305_IETF_NPUBBYTES],
    uint64_t ctr)
{
	memset(n, 0, crypto_aead_chacha20poly1305_IETF_NPUBBYTES);
	for (int i = 0; i < 8; i++)
		n[4 + i] = (unsigned char)(ctr >> (8 * (7 - i)));
}

int
conn_frame(struct conn *c, struct wire_hdr *h, const unsigned char **body,
    size_t *blen, const char **why)
{
	const unsigned char	*frame;
	size_t			 flen, avail;
	int			 r;

	if (c->inskip) {
		memmove(c->in, c->in + c->inskip, c->inlen - c->inskip);
		c->inlen -= c->inskip;
		c->inskip = 0;
	}
	avail = c->inlen;
	if (!c->sealed) {
		if ((r = wire_hdr_decode(c->in, avail, c->maxframe, h, why)) <= 0)
			return r;
		if (avail < h->len)
			return 0;
		frame = c->in;
		flen = h->len;
		c->inskip = h->len;
	} else {
		unsigned char	nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];
		unsigned long long plen;
		uint32_t	clen;

		if (avail < SEAL_HDR)
			return 0;
		clen = be32(c->in);
		if (clen < CONN_TAG_LEN + WIRE_HDR_LEN ||
		    clen > c->maxframe + CONN_TAG_LEN) {
			*why = "sealed record of bad length";
			return -1;
		}
		if (avail < SEAL_HDR + clen)
			return 0;
		if (conn_reserve(&c->plain, &c->plaincap, clen) == -1) {
			*why = "out of memory";
			return -1;
		}
		nonce_from(nonce, c->rxctr);
		if (crypto_aead_chacha20poly1305_ietf_decrypt(c->plain, &plen,
		    NULL, c->in + SEAL_HDR, clen, c->in, SEAL_HDR, nonce,
		    c->rxkey) != 0) {
			*why = "sealed record failed authentication";
			return -1;
		}
		c->rxctr++;
		c->inskip = SEAL_HDR + clen;
		frame = c->plain;
		flen = (size_t)plen;
		if ((r = wire_hdr_decode(frame, flen, c->maxframe, h, why)) < 0)
			return -1;
		if (r == 0 || h->len != flen) {
			*why = "sealed frame length mismatch";
			return -1;
		}
	}
	*body = frame + WIRE_HDR_LEN;
	*blen = flen - WIRE_HDR_LEN;
	return 1;
}

int
conn_send(struct conn *c, const void *frame, size_t len)
{
	size_t	need = len + (c->sealed ? SEAL_HDR + CONN_TAG_LEN : 0);

	if (len == 0 || len > c->maxframe) {
		errno = EMSGSIZE;
		return -1;
	}
	if (c->outlen - c->outoff + need > c->outmax) {
		errno = ENOBUFS;
		return -1;
	}
	if (c->outoff > 0 && c->outoff == c->outlen)
		c->outoff = c->outlen = 0;
	if (c->outoff > c->outcap / 2) {
		memmove(c->out, c->out + c->outoff, c->outlen - c->outoff);
		c->outlen -= c->outoff;
		c->outoff = 0;
	}
	if (conn_reserve(&c->out, &c->outcap, c->outlen + need) == -1)
		return -1;
	if (!c->sealed) {
		memcpy(c->out + c->outlen, frame, len);
	} else {
		unsigned char	 nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];
		unsigned char	*p = c->out + c->outlen;
		uint32_t	 clen = (uint32_t)(len + CONN_TAG_LEN);

		p[0] = (unsigned char)(clen >> 24);
		p[1] = (unsigned char)(clen >> 16);
		p[2] = (unsigned char)(clen >> 8);
		p[3] = (unsigned char)clen;
		nonce_from(nonce, c->txctr++);
		crypto_aead_chacha20poly1305_ietf_encrypt(p + SEAL_HDR, NULL,
		    frame, len, p, SEAL_HDR, NULL, nonce, c->txkey);
	}
	c->outlen += need;
	return 0;
}

int
conn_flush(struct conn *c)
{
	ssize_t	n;

	while (c->outoff < c->outlen) {
		n = write(c->fd, c->out + c->outoff, c->outlen - c->outoff);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			return -1;
		}
		c->outoff += (size_t)n;
	}
	c->outoff = c->outlen = 0;
	return 0;
}

size_t
conn_pending(const struct conn *c)
{
	return c->outlen - c->outoff;
}

void
conn_shrink(struct conn *c)
{
	int	in_empty = c->inlen == c->inskip;

	if (c->outoff == c->outlen && c->outcap > 0) {
		free(c->out);
		c->out = NULL;
		c->outcap = c->outoff = c->outlen = 0;
	}
	if (in_empty && c->incap > 0) {
		free(c->in);
		c->in = NULL;
		c->incap = c->inlen = c->inskip = 0;
	}
	if (in_empty && c->plaincap > 0) {
		free(c->plain);
		c->plain = NULL;
		c->plaincap = 0;
	}
}

void
conn_seal(struct conn *c, const unsigned char *k_m2n, const unsigned char *k_n2m,
    int node_side)
{
	memcpy(c->txkey, node_side ? k_n2m : k_m2n, CONN_KEY_LEN);
	memcpy(c->rxkey, node_side ? k_m2n : k_n2m, CONN_KEY_LEN);
	c->txctr = c->rxctr = 0;
	c->sealed = 1;
}
