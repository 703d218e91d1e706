/* Frame header and TLV attribute codec; see wire.h for the format. */
#include <arpa/inet.h>
#include <string.h>

#include "wire.h"

static void
put_be16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

static void
put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint16_t
get_be16(const unsigned char *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t
get_be32(const unsigned char *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	    ((uint32_t)p[2] << 8) | p[3];
}

void
wire_msg_init(struct wire_msg *m, void *buf, size_t cap, uint16_t type,
    uint16_t flags, uint32_t seq)
{
	m->buf = buf;
	m->cap = cap > WIRE_MAX_FRAME ? WIRE_MAX_FRAME : cap;
	m->len = WIRE_HDR_LEN;
	m->overflow = cap < WIRE_HDR_LEN;
	if (m->overflow)
		return;
	put_be32(m->buf, 0);
	put_be16(m->buf + 4, type);
	put_be16(m->buf + 6, flags);
	put_be32(m->buf + 8, seq);
}

int
wire_put(struct wire_msg *m, uint16_t type, const void *data, size_t len)
{
	size_t	alen, total;

	if (m->overflow)
		return -1;
	if (len > UINT16_MAX - WIRE_ATTR_HDR) {
		m->overflow = 1;
		return -1;
	}
	alen = WIRE_ATTR_HDR + len;
	total = WIRE_ALIGN(alen);
	if (total > m->cap - m->len) {
		m->overflow = 1;
		return -1;
	}
	put_be16(m->buf + m->len, (uint16_t)alen);
	put_be16(m->buf + m->len + 2, type);
	if (len)
		memcpy(m->buf + m->len + WIRE_ATTR_HDR, data, len);
	memset(m->buf + m->len + alen, 0, total - alen);
	m->len += total;
	return 0;
}

int
wire_put_u8(struct wire_msg *m, uint16_t type, uint8_t v)
{
	return wire_put(m, type, &v, 1);
}

int
wire_put_u16(struct wire_msg *m, uint16_t type, uint16_t v)
{
	unsigned char	b[2];

	put_be16(b, v);
	return wire_put(m, type, b, sizeof(b));
}

int
wire_put_u32(struct wire_msg *m, uint16_t type, uint32_t v)
{
	unsigned char	b[4];

	put_be32(b, v);
	return wire_put(m, type, b, sizeof(b));
}

int
wire_put_u64(struct wire_msg *m, uint16_t type, uint64_t v)
{
	unsigned char	b[8];

	put_be32(b, (uint32_t)(v >> 32));
	put_be32(b + 4, (uint32_t)v);
	return wire_put(m, type, b, sizeof(b));
}

/* Strings travel with their NUL so that readers can use them in place. */
int
wire_put_str(struct wire_msg *m, uint16_t type, const char *s)
{
	return wire_put(m, type, s, strlen(s) + 1);
}

size_t
wire_msg_finish(struct wire_msg *m)
{
	if (m->overflow)
		return 0;
	put_be32(m->buf, (uint32_t)m->len);
	return m->len;
}

int
wire_hdr_decode(const void *buf, size_t avail, size_t maxframe,
    struct wire_hdr *h, const char **why)
{
	const unsigned char	*p = buf;

	if (avail < WIRE_HDR_LEN)
		return 0;
	h->len = get_be32(p);
	h->type = get_be16(p + 4);
	h->flags = get_be16(p + 6);
	h->seq = get_be32(p + 8);
	if (h->len < WIRE_HDR_LEN) {
		*why = "frame shorter than its header";
		return -1;
	}
	if (h->len > maxframe) {
		*why = "frame longer than the limit";
		return -1;
	}
	return 1;
}

void
wire_iter_init(struct wire_iter *it, const void *body, size_t len)
{
	it->p = body;
	it->end = it->p + len;
}

int
wire_iter_next(struct wire_iter *it, struct wire_attr *a)
{
	size_t	left = (size_t)(it->end - it->p);
	size_t	alen;

	if (left == 0)
		return 0;
	if (left < WIRE_ATTR_HDR)
		return -1;
	alen = get_be16(it->p);
	if (alen < WIRE_ATTR_HDR || alen > left)
		return -1;
	a->len = (uint16_t)(alen - WIRE_ATTR_HDR);
	a->type = get_be16(it->p + 2);
	a->data = it->p + WIRE_ATTR_HDR;
	/* The last attribute may omit its padding; anything else must be aligned. */
	if (WIRE_ALIGN(alen) >= left)
		it->p = it->end;
	else
		it->p += WIRE_ALIGN(alen);
	return 1;
}

uint8_t
wire_get_u8(const struct wire_attr *a)
{
	return a->data[0];
}

uint16_t
wire_get_u16(const struct wire_attr *a)
{
	return get_be16(a->data);
}

uint32_t
wire_get_u32(const struct wire_attr *a)
{
	return get_be32(a->data);
}

uint64_t
wire_get_u64(const struct wire_attr *a)
{
	return ((uint64_t)get_be32(a->data) << 32) | get_be32(a->data + 4);
}

const char *
wire_get_str(const struct wire_attr *a)
{
	return (const char *)a->data;
}
