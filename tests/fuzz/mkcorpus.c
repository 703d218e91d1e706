/*
 * mkcorpus: write the fuzz seed corpus, one file per case, into a folder.
 *
 *	mkcorpus DIR
 *
 * Valid frames of every message type (built with the real putters, so they
 * follow the codec as it is) and broken ones of every kind the decoders
 * must refuse: short, huge, bad attribute lengths, unknown types, overruns,
 * strings without their NUL.  The files are committed; rerun this (make
 * corpus) when the protocol grows a message.
 */
#include <err.h>
#include <stdio.h>
#include <string.h>

#include "proto.h"
#include "wire.h"

#define SEED_BUF	8192	/* largest seed frame */

static const char	*outdir;
static int		 nfiles;

static void
seed_write(const char *name, const void *p, size_t len)
{
	char	 path[4096];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s", outdir, name);
	if ((f = fopen(path, "wb")) == NULL)
		err(1, "%s", path);
	if (len && fwrite(p, 1, len, f) != len)
		err(1, "%s", path);
	if (fclose(f) == EOF)
		err(1, "%s", path);
	nfiles++;
}

static size_t
seed_finish(struct wire_msg *m)
{
	size_t	len = wire_msg_finish(m);

	if (len == 0)
		errx(1, "seed does not fit");
	return len;
}

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

/* A value of the right kind and size for any attribute in the table. */
static void
seed_generic(struct wire_msg *m, int a)
{
	unsigned char	bin[64];
	char		str[64];
	size_t		len;

	switch (attr_table[a].kind) {
	case AK_U8:
		wire_put_u8(m, (uint16_t)a, 1);
		break;
	case AK_U16:
		wire_put_u16(m, (uint16_t)a, 1);
		break;
	case AK_U32:
		wire_put_u32(m, (uint16_t)a, 1);
		break;
	case AK_U64:
		wire_put_u64(m, (uint16_t)a, 1);
		break;
	case AK_STR:
		len = attr_table[a].minlen > 2 ? attr_table[a].minlen : 2;
		if (len > sizeof(str))
			len = sizeof(str);
		memset(str, 'a', len - 1);
		str[len - 1] = '\0';
		wire_put_str(m, (uint16_t)a, str);
		break;
	case AK_BIN:
		len = attr_table[a].minlen ? attr_table[a].minlen : 4;
		if (len > sizeof(bin))
			len = sizeof(bin);
		memset(bin, 0x42, len);
		wire_put(m, (uint16_t)a, bin, len);
		break;
	}
}

static int
seed_has(const struct wire_msg *m, int a)
{
	struct wire_iter	it;
	struct wire_attr	at;

	wire_iter_init(&it, m->buf + WIRE_HDR_LEN, m->len - WIRE_HDR_LEN);
	while (wire_iter_next(&it, &at) == 1)
		if (at.type == a)
			return 1;
	return 0;
}

/*
 * Every attribute a message of this type may carry, with plausible values;
 * types added to the protocol later get their required attributes from the
 * table, so the corpus keeps one valid frame per type.
 */
static void
seed_attrs(struct wire_msg *m, int type)
{
	static const unsigned char mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
	unsigned char	nonce[32], proof[32];

	memset(nonce, 0xa5, sizeof(nonce));
	memset(proof, 0x5a, sizeof(proof));
	switch (type) {
	case MSG_AUTH_CHALLENGE:
		wire_put_u32(m, A_VERSION, BPROC_VERSION);
		wire_put(m, A_NONCE, nonce, sizeof(nonce));
		break;
	case MSG_AUTH_RESPONSE:
		wire_put(m, A_NONCE, nonce, sizeof(nonce));
		wire_put(m, A_PROOF, proof, sizeof(proof));
		break;
	case MSG_AUTH_CONFIRM:
		wire_put(m, A_PROOF, proof, sizeof(proof));
		break;
	case MSG_HELLO:
		wire_put(m, A_MAC, mac, sizeof(mac));
		wire_put_str(m, A_ADDR, "10.254.0.10");
		wire_put_u8(m, A_STAGE, STAGE_CONNECTED);
		break;
	case MSG_WELCOME:
		wire_put_u32(m, A_NODE, 3);
		wire_put_u32(m, A_HEARTBEAT, 1000);
		wire_put_u32(m, A_TIMEOUT, 3000);
		wire_put_str(m, A_HOSTNAME, "n3");
		break;
	case MSG_STATUS:
		wire_put_u32(m, A_LOAD1, 12);
		wire_put_u32(m, A_LOAD5, 34);
		wire_put_u32(m, A_LOAD15, 56);
		wire_put_u32(m, A_CPUS, 2);
		wire_put_u64(m, A_MEM_TOTAL, 24ull << 30);
		wire_put_u64(m, A_MEM_FREE, 20ull << 30);
		wire_put_u64(m, A_UPTIME, 12345);
		wire_put_u32(m, A_NPROCS, 1);
		wire_put_u8(m, A_STAGE, STAGE_UP);
		wire_put_u64(m, A_CACHE_BYTES, 4096);
		break;
	case MSG_POWER:
		wire_put_u8(m, A_HOW, POWER_REBOOT);
		break;
	case MSG_CTL_NODE:
		wire_put_u32(m, A_NODE, 1);
		wire_put_u8(m, A_STATE, NODE_UP);
		wire_put_u32(m, A_UID, 0);
		wire_put_u32(m, A_GID, 0);
		wire_put_u32(m, A_MODE, 0111);
		wire_put_str(m, A_ADDR, "10.254.0.11");
		wire_put(m, A_MAC, mac, sizeof(mac));
		wire_put_u64(m, A_LAST_SEEN, 250);
		wire_put_u8(m, A_STAGE, STAGE_UP);
		wire_put_u64(m, A_PUSH_BYTES, 0);
		break;
	case MSG_CTL_END:
		wire_put_u32(m, A_COUNT, 4);
		wire_put_u32(m, A_ERRNO, 0);
		break;
	case MSG_CTL_CHANGED:
		wire_put_u32(m, A_COUNT, 7);
		break;
	case MSG_CTL_SET:
		wire_put_u32(m, A_NODE, 1);
		wire_put_u8(m, A_STATE, NODE_UNAVAILABLE);
		break;
	case MSG_CTL_RESULT:
		wire_put_u32(m, A_NODE, 7);
		wire_put_u32(m, A_ERRNO, 19);
		wire_put_str(m, A_MSG, "No such node");
		break;
	case MSG_EXEC:
		wire_put_u32(m, A_PID, 4242);
		wire_put_u32(m, A_UID, 1000);
		wire_put_u32(m, A_GID, 1000);
		wire_put(m, A_GROUPS, "\0\0\3\xe8\0\0\0\x1b", 8);
		wire_put_str(m, A_PATH, "/bin/echo");
		wire_put_str(m, A_ARG, "echo");
		wire_put_str(m, A_ARG, "hello");
		wire_put_str(m, A_ENV, "PATH=/bin:/usr/bin");
		wire_put_str(m, A_CWD, "/");
		wire_put_u32(m, A_RANK, 0);
		break;
	case MSG_IO:
		wire_put_u32(m, A_PID, 4242);
		wire_put_u8(m, A_STREAM, 1);
		wire_put(m, A_DATA, "hello\n", 6);
		break;
	}
	/* whatever the table requires and the cases above did not put */
	for (int a = 1; a < A_MAX && a < 64; a++)
		if ((msg_table[type].required & (1ull << a)) &&
		    !seed_has(m, a))
			seed_generic(m, a);
	/* and enough body for the type's minimum length */
	while (m->len - WIRE_HDR_LEN < msg_table[type].minlen && !m->overflow)
		wire_put_u32(m, 900, 0);	/* unknown: skipped by readers */
}

static void
seed_valid(void)
{
	unsigned char	buf[SEED_BUF], two[2 * SEED_BUF];
	struct wire_msg	m;
	char		name[64];
	size_t		len, len2;
	int		t;

	for (t = 1; t < MSG_MAX; t++) {
		if (msg_table[t].name == NULL)
			continue;
		wire_msg_init(&m, buf, sizeof(buf), (uint16_t)t, 0, (uint32_t)t);
		seed_attrs(&m, t);
		len = seed_finish(&m);
		snprintf(name, sizeof(name), "valid-%s", msg_table[t].name);
		seed_write(name, buf, len);
	}
	/* a session's worth: challenge then response, back to back */
	wire_msg_init(&m, buf, sizeof(buf), MSG_AUTH_CHALLENGE, 0, 0);
	seed_attrs(&m, MSG_AUTH_CHALLENGE);
	len = seed_finish(&m);
	memcpy(two, buf, len);
	wire_msg_init(&m, buf, sizeof(buf), MSG_AUTH_RESPONSE, 0, 0);
	seed_attrs(&m, MSG_AUTH_RESPONSE);
	len2 = seed_finish(&m);
	memcpy(two + len, buf, len2);
	seed_write("valid-two-frames", two, len + len2);

	/* every attribute the table knows, in one frame */
	wire_msg_init(&m, buf, sizeof(buf), MSG_STATUS, 0, 8);
	for (t = 1; t < A_MAX; t++)
		seed_generic(&m, t);
	seed_write("valid-every-attr", buf, seed_finish(&m));

	/* an unknown attribute is skipped, not an error */
	wire_msg_init(&m, buf, sizeof(buf), MSG_STATUS, 0, 9);
	wire_put_u32(&m, 900, 42);
	wire_put_u8(&m, A_STAGE, STAGE_UP);
	seed_write("valid-unknown-attr", buf, seed_finish(&m));

	/* an empty binary attribute (an IO frame with no data) */
	wire_msg_init(&m, buf, sizeof(buf), MSG_IO, 0, 12);
	wire_put_u32(&m, A_PID, 4242);
	wire_put_u8(&m, A_STREAM, 0);
	wire_put(&m, A_DATA, NULL, 0);
	seed_write("valid-empty-bin", buf, seed_finish(&m));

	/* repeated attribute: the last one wins in tb[] */
	wire_msg_init(&m, buf, sizeof(buf), MSG_STATUS, 0, 10);
	wire_put_u32(&m, A_CPUS, 1);
	wire_put_u32(&m, A_CPUS, 2);
	seed_write("valid-repeated-attr", buf, seed_finish(&m));

	/* the last attribute may omit its padding */
	wire_msg_init(&m, buf, sizeof(buf), MSG_STATUS, 0, 11);
	wire_put_u8(&m, A_STAGE, STAGE_UP);
	len = seed_finish(&m) - 3;
	put_be32(buf, (uint32_t)len);
	seed_write("valid-unpadded-last", buf, len);

	/* a reply flag and a large sequence number */
	wire_msg_init(&m, buf, sizeof(buf), MSG_CTL_END, WIRE_F_REPLY,
	    0xffffffffu);
	seed_attrs(&m, MSG_CTL_END);
	seed_write("valid-reply-flag", buf, seed_finish(&m));

	/* longest string attribute the table allows */
	{
		char	msg[1024];

		memset(msg, 'x', sizeof(msg) - 1);
		msg[sizeof(msg) - 1] = '\0';
		wire_msg_init(&m, buf, sizeof(buf), MSG_CTL_RESULT,
		    WIRE_F_REPLY, 1);
		wire_put_u32(&m, A_NODE, 0);
		wire_put_u32(&m, A_ERRNO, 0);
		wire_put_str(&m, A_MSG, msg);
		seed_write("valid-long-msg", buf, seed_finish(&m));
	}
}

static void
seed_broken(void)
{
	unsigned char	buf[SEED_BUF];
	struct wire_msg	m;
	size_t		len;
	int		t;

	seed_write("bad-empty", "", 0);
	seed_write("bad-short-5", "\0\0\0\x0c\0", 5);

	/* header claims fewer bytes than a header */
	memset(buf, 0, WIRE_HDR_LEN);
	put_be32(buf, 4);
	put_be16(buf + 4, MSG_PING);
	seed_write("bad-len-below-header", buf, WIRE_HDR_LEN);

	/* header claims 4 GiB: must be refused before any allocation */
	put_be32(buf, 0xffffffffu);
	seed_write("bad-len-huge", buf, WIRE_HDR_LEN);

	/* one byte over the limit */
	put_be32(buf, WIRE_MAX_FRAME + 1);
	seed_write("bad-len-limit-plus-1", buf, WIRE_HDR_LEN);

	/* over the pre-authentication limit, under the general one */
	put_be32(buf, WIRE_PREAUTH_MAX + 4);
	put_be16(buf + 4, MSG_AUTH_RESPONSE);
	memset(buf + WIRE_HDR_LEN, 0, WIRE_PREAUTH_MAX + 4 - WIRE_HDR_LEN);
	seed_write("bad-over-preauth", buf, WIRE_PREAUTH_MAX + 4);

	/* header promises more than arrives */
	wire_msg_init(&m, buf, sizeof(buf), MSG_HELLO, 0, 1);
	seed_attrs(&m, MSG_HELLO);
	len = seed_finish(&m);
	seed_write("bad-truncated", buf, len - 5);

	/* unknown message types: a hole in the table, past it, and zero */
	for (t = 1; t < MSG_MAX && msg_table[t].name != NULL; t++)
		;
	wire_msg_init(&m, buf, sizeof(buf), (uint16_t)t, 0, 1);
	wire_put_u32(&m, A_NODE, 1);
	seed_write("bad-type-hole", buf, seed_finish(&m));
	wire_msg_init(&m, buf, sizeof(buf), 0xffff, 0, 1);
	seed_write("bad-type-ffff", buf, seed_finish(&m));
	wire_msg_init(&m, buf, sizeof(buf), MSG_NONE, 0, 1);
	seed_write("bad-type-none", buf, seed_finish(&m));

	/* attribute length below its own header */
	wire_msg_init(&m, buf, sizeof(buf), MSG_STATUS, 0, 1);
	wire_put_u32(&m, A_CPUS, 2);
	len = seed_finish(&m);
	put_be16(buf + WIRE_HDR_LEN, 2);
	seed_write("bad-attr-len-2", buf, len);

	/* attribute overruns the frame */
	put_be16(buf + WIRE_HDR_LEN, 400);
	seed_write("bad-attr-overrun", buf, len);

	/* three stray bytes after the last attribute */
	wire_msg_init(&m, buf, sizeof(buf), MSG_STATUS, 0, 1);
	wire_put_u32(&m, A_CPUS, 2);
	len = seed_finish(&m);
	memset(buf + len, 0xee, 3);
	put_be32(buf, (uint32_t)(len + 3));
	seed_write("bad-attr-tail", buf, len + 3);

	/* integer of the wrong size */
	wire_msg_init(&m, buf, sizeof(buf), MSG_STATUS, 0, 1);
	wire_put(&m, A_CPUS, "\0\0\2", 3);
	seed_write("bad-u32-size-3", buf, seed_finish(&m));
	wire_msg_init(&m, buf, sizeof(buf), MSG_STATUS, 0, 1);
	wire_put(&m, A_MEM_TOTAL, "\0\0\0\1", 4);
	seed_write("bad-u64-size-4", buf, seed_finish(&m));

	/* string without its NUL, with two, and empty */
	wire_msg_init(&m, buf, sizeof(buf), MSG_HELLO, 0, 1);
	wire_put(&m, A_MAC, "\2\0\0\0\0\1", 6);
	wire_put(&m, A_ADDR, "10.0.0.1", 8);
	seed_write("bad-str-no-nul", buf, seed_finish(&m));
	wire_msg_init(&m, buf, sizeof(buf), MSG_HELLO, 0, 1);
	wire_put(&m, A_MAC, "\2\0\0\0\0\1", 6);
	wire_put(&m, A_ADDR, "10.0\0.1", 8);
	seed_write("bad-str-inner-nul", buf, seed_finish(&m));
	wire_msg_init(&m, buf, sizeof(buf), MSG_HELLO, 0, 1);
	wire_put(&m, A_MAC, "\2\0\0\0\0\1", 6);
	wire_put(&m, A_ADDR, "", 0);
	seed_write("bad-str-empty", buf, seed_finish(&m));

	/* binary attribute of the wrong size */
	wire_msg_init(&m, buf, sizeof(buf), MSG_AUTH_RESPONSE, 0, 1);
	wire_put(&m, A_NONCE, buf + 100, 31);
	wire_put(&m, A_PROOF, buf + 200, 32);
	seed_write("bad-nonce-31", buf, seed_finish(&m));

	/* required attribute missing, body long enough */
	wire_msg_init(&m, buf, sizeof(buf), MSG_WELCOME, 0, 1);
	wire_put_u32(&m, A_NODE, 1);
	wire_put_u32(&m, A_HEARTBEAT, 1000);
	wire_put_u32(&m, A_CPUS, 1);
	seed_write("bad-missing-required", buf, seed_finish(&m));

	/* body shorter than the type's minimum */
	wire_msg_init(&m, buf, sizeof(buf), MSG_POWER, 0, 1);
	seed_write("bad-body-too-short", buf, seed_finish(&m));

	/* a good frame followed by garbage */
	wire_msg_init(&m, buf, sizeof(buf), MSG_PING, 0, 1);
	len = seed_finish(&m);
	memcpy(buf + len, "\xde\xad\xbe\xef\x00\x00\x00\x01garbage", 15);
	seed_write("bad-good-then-garbage", buf, len + 15);

	/* a sealed-record length prefix that is too small and too large */
	put_be32(buf, 3);
	memset(buf + 4, 0x41, 28);
	seed_write("bad-sealed-len-small", buf, 32);
	put_be32(buf, WIRE_MAX_FRAME + 17);
	seed_write("bad-sealed-len-huge", buf, 32);

	/* text a confused client might send */
	seed_write("bad-http", "GET / HTTP/1.0\r\n\r\n", 18);
}

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: mkcorpus DIR\n");
		return 2;
	}
	outdir = argv[1];
	seed_valid();
	seed_broken();
	printf("mkcorpus: %d seeds in %s\n", nfiles, outdir);
	return 0;
}
