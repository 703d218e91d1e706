/*
 * bproc-ng wire format.
 *
 * Every frame starts with a fixed 12-byte header in network byte order:
 *
 *	u32 len		whole frame, header included
 *	u16 type	MSG_* from proto.h
 *	u16 flags	WIRE_F_*
 *	u32 seq		request sequence number or stream id
 *
 * followed by a body of TLV attributes in the style of netlink/libmnl:
 * u16 len (attribute header included, padding excluded), u16 type, payload,
 * padded to a multiple of 4.  Integers inside attributes are big-endian.
 * Decoders check every length before use, skip attribute types they do not
 * know, and reject frames that are short, too long or malformed.
 */
#ifndef BPROC_WIRE_H
#define BPROC_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define WIRE_HDR_LEN	12
#define WIRE_ATTR_HDR	4
#define WIRE_ALIGN(n)	(((n) + 3u) & ~3u)
/*
 * The largest frame: an EXEC with Linux's 2 MiB of arguments and
 * environment (args.h), a manifest of up to 1 MiB and the rest of its
 * attributes.
 */
#define WIRE_MAX_FRAME	(3 * 1024 * 1024 + 64 * 1024)
#define WIRE_PREAUTH_MAX 256			/* largest frame before a node link authenticates */

#define WIRE_F_REPLY	0x0001			/* frame answers a request with the same seq */

struct wire_hdr {
	uint32_t	len;
	uint16_t	type;
	uint16_t	flags;
	uint32_t	seq;
};

/* Builder: fills a caller-provided buffer; putters fail instead of overflowing. */
struct wire_msg {
	unsigned char	*buf;
	size_t		 len;
	size_t		 cap;
	int		 overflow;	/* a put did not fit; finish fails */
};

void	wire_msg_init(struct wire_msg *, void *, size_t, uint16_t, uint16_t, uint32_t);
int	wire_put(struct wire_msg *, uint16_t, const void *, size_t);
int	wire_put_u8(struct wire_msg *, uint16_t, uint8_t);
int	wire_put_u16(struct wire_msg *, uint16_t, uint16_t);
int	wire_put_u32(struct wire_msg *, uint16_t, uint32_t);
int	wire_put_u64(struct wire_msg *, uint16_t, uint64_t);
int	wire_put_str(struct wire_msg *, uint16_t, const char *);
size_t	wire_msg_finish(struct wire_msg *);

/*
 * wire_hdr_decode: 1 with *h filled when a whole header is present and sane,
 * 0 when more bytes are needed, -1 with *why set when the frame is bad
 * (shorter than a header or longer than maxframe).
 */
int	wire_hdr_decode(const void *, size_t, size_t, struct wire_hdr *, const char **);

struct wire_attr {
	uint16_t		 type;
	uint16_t		 len;	/* payload length */
	const unsigned char	*data;
};

struct wire_iter {
	const unsigned char	*p;
	const unsigned char	*end;
};

void	wire_iter_init(struct wire_iter *, const void *, size_t);
/* 1: *a is the next attribute; 0: end of body; -1: malformed attribute. */
int	wire_iter_next(struct wire_iter *, struct wire_attr *);

uint8_t		 wire_get_u8(const struct wire_attr *);
uint16_t	 wire_get_u16(const struct wire_attr *);
uint32_t	 wire_get_u32(const struct wire_attr *);
uint64_t	 wire_get_u64(const struct wire_attr *);
const char	*wire_get_str(const struct wire_attr *);

#endif
