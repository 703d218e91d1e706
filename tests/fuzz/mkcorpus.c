/*
 * mkcorpus: write the fuzz seed corpus, one file per case, into a folder.
 *
 *	mkcorpus DIR			the frame target's corpus (fuzz_frame)
 *	mkcorpus -t node|ctl DIR	good-/bad- seeds of the handler targets
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

#include <sodium.h>

#include "auth.h"
#include "nodeset.h"
#include "proto.h"
#include "wire.h"

#define PROTO_SETUP_PID	0	/* nodeinit.h: the setup push list's "exec" */

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
		snprintf(name, sizeof(name), "good-%s", msg_table[t].name);
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
	seed_write("good-two-frames", two, len + len2);

	/* every attribute the table knows, in one frame */
	wire_msg_init(&m, buf, sizeof(buf), MSG_STATUS, 0, 8);
	for (t = 1; t < A_MAX; t++)
		seed_generic(&m, t);
	seed_write("good-every-attr", buf, seed_finish(&m));

	/* an unknown attribute is skipped, not an error */
	wire_msg_init(&m, buf, sizeof(buf), MSG_STATUS, 0, 9);
	wire_put_u32(&m, 900, 42);
	wire_put_u8(&m, A_STAGE, STAGE_UP);
	seed_write("good-unknown-attr", buf, seed_finish(&m));

	/* an empty binary attribute (an IO frame with no data) */
	wire_msg_init(&m, buf, sizeof(buf), MSG_IO, 0, 12);
	wire_put_u32(&m, A_PID, 4242);
	wire_put_u8(&m, A_STREAM, 0);
	wire_put(&m, A_DATA, NULL, 0);
	seed_write("good-empty-bin", buf, seed_finish(&m));

	/* repeated attribute: the last one wins in tb[] */
	wire_msg_init(&m, buf, sizeof(buf), MSG_STATUS, 0, 10);
	wire_put_u32(&m, A_CPUS, 1);
	wire_put_u32(&m, A_CPUS, 2);
	seed_write("good-repeated-attr", buf, seed_finish(&m));

	/* the last attribute may omit its padding */
	wire_msg_init(&m, buf, sizeof(buf), MSG_STATUS, 0, 11);
	wire_put_u8(&m, A_STAGE, STAGE_UP);
	len = seed_finish(&m) - 3;
	put_be32(buf, (uint32_t)len);
	seed_write("good-unpadded-last", buf, len);

	/* a reply flag and a large sequence number */
	wire_msg_init(&m, buf, sizeof(buf), MSG_CTL_END, WIRE_F_REPLY,
	    0xffffffffu);
	seed_attrs(&m, MSG_CTL_END);
	seed_write("good-reply-flag", buf, seed_finish(&m));

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
		seed_write("good-long-msg", buf, seed_finish(&m));
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


/*
 * Seeds of the handler targets (fuzz_node.c, fuzz_ctl.c): a prefix of
 * setup bytes, then frames; see each target for what the bytes mean and
 * what accepted is.  seq_* append to one input.
 */
static unsigned char	seq[1 << 16];
static size_t		seqlen;

static void
seq_start(const unsigned char *prefix, size_t n)
{
	memcpy(seq, prefix, n);
	seqlen = n;
}

static struct wire_msg	seq_m;
static unsigned char	seq_buf[SEED_BUF];

static struct wire_msg *
seq_msg(uint16_t type)
{
	wire_msg_init(&seq_m, seq_buf, sizeof(seq_buf), type, 0, 1);
	return &seq_m;
}

static void
seq_add(void)
{
	size_t	len = seed_finish(&seq_m);

	if (seqlen + len > sizeof(seq))
		errx(1, "seed too long");
	memcpy(seq + seqlen, seq_buf, len);
	seqlen += len;
}

static void
seq_write(const char *name)
{
	seed_write(name, seq, seqlen);
}

static void
put_mfile(struct wire_msg *m, const char *path, const char *target,
    const void *content, size_t clen, uint32_t mode, uint32_t uid,
    uint64_t size)
{
	unsigned char	e[MFILE_FIXED + 2 * 256];
	size_t		n = MFILE_FIXED;

	memset(e, 0, sizeof(e));
	crypto_generichash(e, 32, content, clen, NULL, 0);
	put_be32(e + 32, mode);
	put_be32(e + 36, uid);
	put_be32(e + 40, uid);
	put_be32(e + 44, (uint32_t)(size >> 32));
	put_be32(e + 48, (uint32_t)size);
	e[52] = target ? MFILE_LINK : MFILE_REG;
	memcpy(e + n, path, strlen(path) + 1);
	n += strlen(path) + 1;
	if (target) {
		memcpy(e + n, target, strlen(target) + 1);
		n += strlen(target) + 1;
	}
	wire_put(m, A_MFILE, e, n);
}

static void
put_exec(struct wire_msg *m, uint32_t pid, uint32_t uid, uint32_t flags)
{
	wire_put_u32(m, A_PID, pid);
	wire_put_u32(m, A_UID, uid);
	wire_put_u32(m, A_GID, uid);
	wire_put_u32(m, A_FLAGS, flags);
	wire_put_str(m, A_ARG, "/bin/prog");
	wire_put_str(m, A_ARG, "-x");
	wire_put_str(m, A_ENV, "PATH=/bin");
	wire_put_str(m, A_ENV, "BPROC_RANK=7");
	wire_put_str(m, A_CWD, "/tmp");
}

static void
node_blob(uint32_t pid, const char *content, int eof)
{
	struct wire_msg	*m = seq_msg(MSG_BLOB);
	unsigned char	 h[32];

	crypto_generichash(h, 32, (const unsigned char *)content,
	    strlen(content), NULL, 0);
	wire_put_u32(m, A_PID, pid);
	wire_put(m, A_HASH, h, 32);
	wire_put(m, A_DATA, content, strlen(content));
	if (eof)
		wire_put_u8(m, A_EOF, 1);
	seq_add();
}

/* setup: 0 up, |4 poll pass, |8 exits, |0x10 stops; fail: n-th write fails */
static void
seed_node(void)
{
	static const char	hello[] = "hello, node\n";
	unsigned char		p[2], nonce[AUTH_NONCE_LEN];
	struct wire_msg		*m;

	memset(nonce, 0x5a, sizeof(nonce));
#define NODE_START(setup, fail) do { p[0] = (setup); p[1] = (fail); \
	seq_start(p, 2); } while (0)

	NODE_START(0, 0);
	seq_msg(MSG_PING);
	seq_add();
	seq_write("good-ping");

	NODE_START(0x0c, 0);
	put_exec(m = seq_msg(MSG_EXEC), 100, 1000, EXEC_F_NOIO);
	seq_add();
	seq_write("good-exec-noio-exits");

	NODE_START(0x0c, 0);
	put_exec(m = seq_msg(MSG_EXEC), 101, 1000, 0);
	seq_add();
	m = seq_msg(MSG_IO);
	wire_put_u32(m, A_PID, 101);
	wire_put_u8(m, A_STREAM, 0);
	wire_put(m, A_DATA, "input\n", 6);
	seq_add();
	m = seq_msg(MSG_IO);
	wire_put_u32(m, A_PID, 101);
	wire_put_u8(m, A_STREAM, 0);
	wire_put_u8(m, A_EOF, 1);
	seq_add();
	m = seq_msg(MSG_IO_ACK);
	wire_put_u32(m, A_PID, 101);
	wire_put_u8(m, A_STREAM, 1);
	wire_put_u32(m, A_BYTES, 10);
	seq_add();
	seq_write("good-exec-pipes-stdin");

	NODE_START(0x14, 0);
	put_exec(m = seq_msg(MSG_EXEC), 102, 1000, EXEC_F_TTY);
	wire_put_u16(m, A_ROWS, 24);
	wire_put_u16(m, A_COLS, 80);
	seq_add();
	m = seq_msg(MSG_SIGNAL);
	wire_put_u32(m, A_PID, 102);
	wire_put_u32(m, A_SIG, 28);	/* SIGWINCH */
	wire_put_u16(m, A_ROWS, 50);
	wire_put_u16(m, A_COLS, 132);
	seq_add();
	m = seq_msg(MSG_IO);
	wire_put_u32(m, A_PID, 102);
	wire_put_u8(m, A_STREAM, 0);
	wire_put(m, A_DATA, "ls\n\032", 4);
	seq_add();
	m = seq_msg(MSG_SIGNAL);
	wire_put_u32(m, A_PID, 102);
	wire_put_u32(m, A_SIG, 18);	/* SIGCONT */
	seq_add();
	seq_write("good-exec-tty");

	NODE_START(0, 0);
	put_exec(m = seq_msg(MSG_EXEC), 103, 1000, 0);
	seq_add();
	m = seq_msg(MSG_SIGNAL);
	wire_put_u32(m, A_PID, 103);
	wire_put_u32(m, A_SIG, 20);	/* SIGTSTP */
	seq_add();
	m = seq_msg(MSG_SIGNAL);
	wire_put_u32(m, A_PID, 103);
	wire_put_u32(m, A_SIG, 15);
	seq_add();
	seq_write("good-exec-signals");

	/* a manifest: the exec waits for its blob, then runs */
	NODE_START(0x0c, 0);
	put_exec(m = seq_msg(MSG_EXEC), 104, 1000, 0);
	put_mfile(m, "/opt/app/bin/prog", NULL, hello, strlen(hello), 0755,
	    1000, strlen(hello));
	put_mfile(m, "/opt/app/bin/p", "prog", "", 0, 0777, 1000, 0);
	seq_add();
	node_blob(104, hello, 1);
	seq_write("good-exec-push");

	/* the same file twice: the second exec finds it cached */
	NODE_START(0x0c, 0);
	put_exec(m = seq_msg(MSG_EXEC), 105, 1000, EXEC_F_NOIO);
	put_mfile(m, "/opt/x", NULL, hello, strlen(hello), 0644, 1000,
	    strlen(hello));
	seq_add();
	node_blob(105, hello, 1);
	put_exec(m = seq_msg(MSG_EXEC), 106, 1000, EXEC_F_NOIO);
	put_mfile(m, "/opt/x", NULL, hello, strlen(hello), 0644, 1000,
	    strlen(hello));
	seq_add();
	seq_write("good-exec-push-warm");

	/* a busybox applet link gives way; the image's library stays */
	NODE_START(0, 0);
	put_exec(m = seq_msg(MSG_EXEC), 107, 1000, EXEC_F_NOIO);
	put_mfile(m, "/bin/ls", NULL, hello, strlen(hello), 0755, 1000,
	    strlen(hello));
	put_mfile(m, "/lib/libimage.so", NULL, hello, strlen(hello), 0755, 1000,
	    strlen(hello));
	seq_add();
	node_blob(107, hello, 1);
	seq_write("good-exec-push-applet");

	NODE_START(0, 0);
	m = seq_msg(MSG_SETUP);
	wire_put_u64(m, A_CACHE_BUDGET, 64u << 20);
	seq_add();
	seq_write("good-setup-empty");

	NODE_START(0, 0);
	m = seq_msg(MSG_SETUP);
	wire_put_u32(m, A_CACHE_SHARE, 25);
	put_mfile(m, "/etc/motd", NULL, hello, strlen(hello), 0644, 0,
	    strlen(hello));
	seq_add();
	node_blob(PROTO_SETUP_PID, hello, 1);
	seq_write("good-setup-push");

	NODE_START(0, 0);
	m = seq_msg(MSG_USERS);
	wire_put_str(m, A_PWENT, "root:x:0:0:root:/root:/bin/sh");
	wire_put_str(m, A_PWENT, "alice:x:1000:1000::/home/alice:/bin/sh");
	wire_put_str(m, A_GRENT, "root:x:0:");
	seq_add();
	seq_write("good-users");

	NODE_START(0, 0);
	m = seq_msg(MSG_POWER);
	wire_put_u8(m, A_HOW, POWER_REBOOT);
	seq_add();
	seq_write("good-power");

	NODE_START(1, 0);
	m = seq_msg(MSG_AUTH_CHALLENGE);
	wire_put(m, A_NONCE, nonce, sizeof(nonce));
	wire_put_u32(m, A_VERSION, BPROC_VERSION);
	seq_add();
	seq_write("good-challenge");

	NODE_START(3, 0);
	m = seq_msg(MSG_WELCOME);
	wire_put_u32(m, A_NODE, 3);
	wire_put_u32(m, A_HEARTBEAT, 1000);
	wire_put_u32(m, A_TIMEOUT, 3000);
	wire_put_str(m, A_HOSTNAME, "n3");
	seq_add();
	seq_msg(MSG_PING);
	seq_add();
	seq_write("good-welcome");

	/* refusals: the link drops, or an EXEC_RESULT says why */
	NODE_START(0, 0);
	m = seq_msg(MSG_AUTH_CHALLENGE);
	wire_put(m, A_NONCE, nonce, sizeof(nonce));
	wire_put_u32(m, A_VERSION, BPROC_VERSION);
	seq_add();
	seq_write("bad-challenge-when-up");

	NODE_START(3, 0);
	m = seq_msg(MSG_WELCOME);
	wire_put_u32(m, A_NODE, 3);
	wire_put_u32(m, A_HEARTBEAT, 10);
	wire_put_u32(m, A_TIMEOUT, 3000);
	seq_add();
	seq_write("bad-welcome-heartbeat");

	NODE_START(2, 0);
	m = seq_msg(MSG_AUTH_CONFIRM);
	wire_put(m, A_PROOF, nonce, AUTH_PROOF_LEN);
	seq_add();
	seq_write("bad-confirm-wrong-proof");

	NODE_START(0, 0);
	memcpy(seq + seqlen, "GET / HTTP/1.0\r\n\r\n", 18);
	seqlen += 18;
	seq_write("bad-not-frames");

	NODE_START(0, 0);
	seq_msg(MSG_PING);
	seq_add();
	seqlen -= 1;
	seq_write("bad-truncated-frame");

	NODE_START(0, 0);
	seq_msg(MSG_STATUS);
	seq_add();
	seq_write("bad-status-to-node");

	NODE_START(0, 1);
	put_exec(m = seq_msg(MSG_EXEC), 110, 1000, EXEC_F_NOIO);
	seq_add();
	seq_write("bad-master-gone-at-exec");

	NODE_START(0, 0);
	put_exec(m = seq_msg(MSG_EXEC), 111, 1000, 0);
	seq_add();
	put_exec(m = seq_msg(MSG_EXEC), 111, 1000, 0);
	seq_add();
	seq_write("bad-exec-twice");

	NODE_START(0, 0);
	put_exec(m = seq_msg(MSG_EXEC), 112, 1000, 0);
	put_mfile(m, "/opt/../etc/shadow", NULL, hello, strlen(hello), 0644,
	    1000, strlen(hello));
	seq_add();
	seq_write("bad-exec-mfile-dotdot");

	NODE_START(0, 0);
	m = seq_msg(MSG_EXEC);
	wire_put_u32(m, A_PID, 113);
	wire_put_u32(m, A_UID, 1000);
	wire_put_u32(m, A_GID, 1000);
	seq_add();
	seq_write("bad-exec-no-argv");

	/* an argument in pieces (args.h): joined when whole, else refused */
	NODE_START(0x0c, 0);
	put_exec(m = seq_msg(MSG_EXEC), 115, 1000, EXEC_F_NOIO);
	wire_put(m, A_ARG_PART, "long-", 5);
	wire_put_str(m, A_ARG, "argument");
	seq_add();
	seq_write("good-exec-arg-parts");

	NODE_START(0, 0);
	put_exec(m = seq_msg(MSG_EXEC), 116, 1000, EXEC_F_NOIO);
	wire_put(m, A_ARG_PART, "no-end", 6);
	seq_add();
	seq_write("bad-exec-arg-part-no-end");

	NODE_START(0, 0);
	put_exec(m = seq_msg(MSG_EXEC), 117, 1000, EXEC_F_NOIO);
	wire_put(m, A_ARG_PART, "nul\0inside", 10);
	wire_put_str(m, A_ENV, "X=1");
	seq_add();
	seq_write("bad-exec-arg-part-nul");

	/* a blob that is not the content the manifest named */
	NODE_START(0, 0);
	put_exec(m = seq_msg(MSG_EXEC), 114, 1000, 0);
	put_mfile(m, "/opt/y", NULL, hello, strlen(hello), 0755, 1000,
	    strlen(hello));
	seq_add();
	node_blob(114, "something else", 1);
	seq_write("bad-exec-blob-unasked");
#undef NODE_START
}

/*
 * Seeds that hold what issue 9 asks and today's code does not do yet:
 * kept in tests/fuzz/crashes-found until the fix lands, then moved into
 * corpus-node (mkcorpus -t node-pending DIR).
 */
static void
seed_node_pending(void)
{
	static const char	 a[] = "a", b[] = "b";
	unsigned char		 p[2] = { 0, 0 };
	struct wire_msg		*m;

	/* two files of 2^63 bytes: the sum wraps to 0 and "fits" */
	seq_start(p, 2);
	put_exec(m = seq_msg(MSG_EXEC), 120, 1000, 0);
	put_mfile(m, "/opt/a", NULL, a, 1, 0644, 1000, 1ull << 63);
	put_mfile(m, "/opt/b", NULL, b, 1, 0644, 1000, 1ull << 63);
	seq_add();
	seq_write("bad-exec-sizes-wrap");
}

/* setup: bits 0-1 the caller (root, 1000, 1001 the owner of node 1, 65534) */
static void
seed_ctl(void)
{
	unsigned char	 p[1];
	struct wire_msg	*m;

#define CTL_START(setup) do { p[0] = (setup); seq_start(p, 1); } while (0)
	CTL_START(1);
	seq_msg(MSG_CTL_NODES);
	seq_add();
	seq_write("good-nodes");

	CTL_START(1);
	seq_msg(MSG_CTL_PROCS);
	seq_add();
	seq_write("good-procs");

	CTL_START(1);
	seq_msg(MSG_CTL_WATCH);
	seq_add();
	seq_msg(MSG_CTL_NODES);
	seq_add();
	seq_write("good-watch");

	CTL_START(0);
	m = seq_msg(MSG_CTL_SET);
	wire_put_u32(m, A_NODE, 1);
	wire_put_u32(m, A_MODE, 0111);
	seq_add();
	m = seq_msg(MSG_CTL_SET);
	wire_put_u32(m, A_NODE, 1);
	wire_put_u32(m, A_UID, 1001);
	seq_add();
	m = seq_msg(MSG_CTL_SET);
	wire_put_u32(m, A_NODE, 0);
	wire_put_u8(m, A_STATE, NODE_UNAVAILABLE);
	seq_add();
	seq_write("good-set-root");

	CTL_START(2);
	m = seq_msg(MSG_CTL_SET);
	wire_put_u32(m, A_NODE, 1);
	wire_put_u32(m, A_GID, 1001);
	seq_add();
	seq_write("good-set-owner-group");

	CTL_START(1);
	put_exec(m = seq_msg(MSG_EXEC), 0, 1000, 0);
	wire_put_u32(m, A_NODE, 0);
	seq_add();
	m = seq_msg(MSG_IO);
	wire_put_u32(m, A_PID, 0);
	wire_put_u8(m, A_STREAM, 0);
	wire_put(m, A_DATA, "data\n", 5);
	seq_add();
	m = seq_msg(MSG_SIGNAL);
	wire_put_u32(m, A_PID, 0);
	wire_put_u32(m, A_SIG, 15);
	seq_add();
	seq_write("good-exec-ghost");

	/* the master checks a tool's pieces too: one without its end */
	CTL_START(1);
	put_exec(m = seq_msg(MSG_EXEC), 0, 1000, 0);
	wire_put_u32(m, A_NODE, 0);
	wire_put(m, A_ARG_PART, "no-end", 6);
	seq_add();
	seq_write("bad-exec-arg-part-no-end");

	/* root's manifest is taken as it claims */
	CTL_START(0);
	put_exec(m = seq_msg(MSG_EXEC), 0, 0, 0);
	wire_put_u32(m, A_NODE, 0);
	put_mfile(m, "/opt/x", NULL, "x", 1, 0755, 0, 0);
	seq_add();
	m = seq_msg(MSG_BLOB);
	wire_put_u32(m, A_PID, 0);
	{
		unsigned char	h[32];

		crypto_generichash(h, 32, (const unsigned char *)"x", 1,
		    NULL, 0);
		wire_put(m, A_HASH, h, 32);
	}
	wire_put(m, A_DATA, "x", 1);
	wire_put_u8(m, A_EOF, 1);
	seq_add();
	seq_write("good-exec-push");
	CTL_START(1);
	put_exec(m = seq_msg(MSG_EXEC), 0, 1000, 0);
	wire_put_u32(m, A_NODE, 0);
	put_mfile(m, "/opt/x", NULL, "x", 1, 0755, 1000, 1);
	seq_add();
	m = seq_msg(MSG_BLOB);
	wire_put_u32(m, A_PID, 0);
	{
		unsigned char	h[32];

		crypto_generichash(h, 32, (const unsigned char *)"x", 1,
		    NULL, 0);
		wire_put(m, A_HASH, h, 32);
	}
	wire_put(m, A_DATA, "x", 1);
	wire_put_u8(m, A_EOF, 1);
	seq_add();
	/* a user's manifest names a file the front end does not have */
	seq_write("bad-exec-push-not-frontend");

	CTL_START(1);
	m = seq_msg(MSG_CTL_SET);
	wire_put_u32(m, A_NODE, 1);
	wire_put_u32(m, A_MODE, 0);
	seq_add();
	seq_write("bad-set-not-owner");

	CTL_START(1);
	m = seq_msg(MSG_CTL_SET);
	wire_put_u32(m, A_NODE, 1);
	wire_put_u32(m, A_UID, 1000);
	seq_add();
	seq_write("bad-set-uid-not-root");

	CTL_START(0);
	m = seq_msg(MSG_CTL_SET);
	wire_put_u32(m, A_NODE, 4000);
	wire_put_u32(m, A_MODE, 0111);
	seq_add();
	seq_write("bad-set-no-such-node");

	CTL_START(0);
	m = seq_msg(MSG_CTL_SET);
	wire_put_u32(m, A_NODE, 0);
	wire_put_u32(m, A_MODE, 010000);
	seq_add();
	seq_write("bad-set-mode-too-big");

	CTL_START(1);
	seq_msg(MSG_PING);
	seq_add();
	seq_write("bad-unexpected-type");

	CTL_START(1);
	m = seq_msg(MSG_IO);
	wire_put_u32(m, A_PID, 1);
	wire_put_u8(m, A_STREAM, 0);
	wire_put(m, A_DATA, "x", 1);
	seq_add();
	seq_write("bad-io-not-a-ghost");

	CTL_START(3);
	put_exec(m = seq_msg(MSG_EXEC), 0, 65534, 0);
	wire_put_u32(m, A_NODE, 1);
	seq_add();
	seq_write("bad-exec-no-permission");

	CTL_START(1);
	put_exec(m = seq_msg(MSG_EXEC), 0, 1000, 0);
	wire_put_u32(m, A_NODE, 2);
	seq_add();
	seq_write("bad-exec-node-down");

	CTL_START(1);
	memcpy(seq + seqlen, "\0\0\0\x0c\0", 5);
	seqlen += 5;
	seq_write("bad-truncated");
#undef CTL_START
}

/*
 * corpus-relay (fuzz_relay.c): setup bit 0 serve, bits 1-2 the phase
 * (2 confirm, 4 sealed); the key is 32 x 0x5a, both nonces 32 x 0x4e,
 * the blob 3000 bytes under the hash 32 x 0x33.
 */
#define RL_SERVE	1
#define RL_CONFIRM	2
#define RL_SEALED	4
#define RL_SIZE		3000

static void
relay_proof(int role, unsigned char *proof)
{
	unsigned char	key[32], nonce[AUTH_NONCE_LEN];

	memset(key, 0x5a, sizeof(key));
	memset(nonce, 0x4e, sizeof(nonce));
	auth_proof(proof, key, role, nonce, nonce);
}

static void
relay_blob(unsigned char hbyte, size_t n, int eof)
{
	static unsigned char	zero[RL_SIZE + 1];
	struct wire_msg		*m = seq_msg(MSG_BLOB);
	unsigned char		 h[32];

	memset(h, hbyte, sizeof(h));
	wire_put_u32(m, A_PID, 0);
	wire_put(m, A_HASH, h, 32);
	wire_put(m, A_DATA, zero, n);
	if (eof)
		wire_put_u8(m, A_EOF, 1);
	seq_add();
}

static void
relay_get(unsigned char hbyte, uint64_t off)
{
	struct wire_msg	*m = seq_msg(MSG_RELAY_GET);
	unsigned char	 h[32];

	memset(h, hbyte, sizeof(h));
	wire_put(m, A_HASH, h, 32);
	wire_put_u64(m, A_OFFSET, off);
	seq_add();
}

static void
seed_relay(void)
{
	unsigned char	p[1], proof[AUTH_PROOF_LEN], nonce[AUTH_NONCE_LEN];
	struct wire_msg	*m;

	memset(nonce, 0x4e, sizeof(nonce));
	/* serving: the child's response, then its GET */
	p[0] = RL_SERVE;
	seq_start(p, 1);
	relay_proof(AUTH_ROLE_RELAY_CLIENT, proof);
	m = seq_msg(MSG_AUTH_RESPONSE);
	wire_put(m, A_NONCE, nonce, AUTH_NONCE_LEN);
	wire_put(m, A_PROOF, proof, AUTH_PROOF_LEN);
	seq_add();
	relay_get(0x33, 0);
	seq_write("good-serve-handshake-get");
	p[0] = RL_SERVE | RL_SEALED;
	seq_start(p, 1);
	relay_get(0x33, 1000);
	seq_write("good-serve-get-offset");
	seq_start(p, 1);
	relay_get(0x33, RL_SIZE);
	seq_write("good-serve-get-at-end");
	seq_start(p, 1);
	relay_get(0x44, 0);
	seq_write("bad-serve-get-unknown-hash");
	seq_start(p, 1);
	relay_get(0x33, RL_SIZE + 1);
	seq_write("bad-serve-get-past-end");
	seq_start(p, 1);
	relay_blob(0x33, 10, 0);
	seq_write("bad-serve-blob-to-parent");
	p[0] = RL_SERVE;
	seq_start(p, 1);
	relay_get(0x33, 0);
	seq_write("bad-serve-get-before-proof");
	seq_start(p, 1);
	memset(proof, 0, sizeof(proof));
	m = seq_msg(MSG_AUTH_RESPONSE);
	wire_put(m, A_NONCE, nonce, AUTH_NONCE_LEN);
	wire_put(m, A_PROOF, proof, AUTH_PROOF_LEN);
	seq_add();
	seq_write("bad-serve-wrong-proof");
	seq_start(p, 1);
	m = seq_msg(MSG_AUTH_RESPONSE);
	wire_put(m, A_NONCE, nonce, AUTH_NONCE_LEN);
	seq_add();
	seq_write("bad-serve-response-no-proof");

	/* fetching: the parent's challenge, confirm, the blob */
	p[0] = 0;
	seq_start(p, 1);
	m = seq_msg(MSG_AUTH_CHALLENGE);
	wire_put_u32(m, A_VERSION, BPROC_VERSION);
	wire_put(m, A_NONCE, nonce, AUTH_NONCE_LEN);
	seq_add();
	relay_proof(AUTH_ROLE_RELAY_SERVER, proof);
	m = seq_msg(MSG_AUTH_CONFIRM);
	wire_put(m, A_PROOF, proof, AUTH_PROOF_LEN);
	seq_add();
	relay_blob(0x33, 2000, 0);
	m = seq_msg(MSG_PING);
	seq_add();
	relay_blob(0x33, RL_SIZE - 2000, 1);
	seq_write("good-fetch-handshake-blob");
	p[0] = RL_CONFIRM;
	seq_start(p, 1);
	m = seq_msg(MSG_AUTH_CONFIRM);
	wire_put(m, A_PROOF, proof, AUTH_PROOF_LEN);
	seq_add();
	seq_write("good-fetch-confirm");
	seq_start(p, 1);
	memset(proof, 0, sizeof(proof));
	m = seq_msg(MSG_AUTH_CONFIRM);
	wire_put(m, A_PROOF, proof, AUTH_PROOF_LEN);
	seq_add();
	seq_write("bad-fetch-wrong-confirm");
	p[0] = 0;
	seq_start(p, 1);
	relay_blob(0x33, 10, 0);
	seq_write("bad-fetch-blob-before-handshake");
	p[0] = RL_SEALED;
	seq_start(p, 1);
	relay_blob(0x33, 1000, 0);
	m = seq_msg(MSG_PING);
	seq_add();
	seq_write("good-fetch-sealed-part");
	seq_start(p, 1);
	relay_blob(0x44, 10, 0);
	seq_write("bad-fetch-another-blob");
	seq_start(p, 1);
	relay_blob(0x33, RL_SIZE - 1, 0);
	relay_blob(0x33, 2, 1);
	seq_write("bad-fetch-past-the-size");
	seq_start(p, 1);
	relay_blob(0x33, 10, 1);
	seq_write("bad-fetch-short-eof");
	seq_start(p, 1);
	m = seq_msg(MSG_RELAY_END);
	wire_put_u32(m, A_ERRNO, 2);
	wire_put_str(m, A_MSG, "not on this node");
	seq_add();
	seq_write("bad-fetch-end");
	seq_start(p, 1);
	relay_get(0x33, 0);
	seq_write("bad-fetch-get-to-child");
	seq_start(p, 1);
	relay_blob(0x33, 100, 0);
	seqlen -= 7;
	seq_write("bad-fetch-truncated");
}

int
main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "-t") == 0) {
		outdir = argv[3];
		if (strcmp(argv[2], "node") == 0)
			seed_node();
		else if (strcmp(argv[2], "node-pending") == 0)
			seed_node_pending();
		else if (strcmp(argv[2], "ctl") == 0)
			seed_ctl();
		else if (strcmp(argv[2], "relay") == 0)
			seed_relay();
		else
			errx(2, "no seeds for target %s", argv[2]);
		printf("mkcorpus: %d seeds in %s\n", nfiles, outdir);
		return 0;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: mkcorpus DIR | -t node|ctl|relay DIR\n");
		return 2;
	}
	outdir = argv[1];
	seed_valid();
	seed_broken();
	printf("mkcorpus: %d seeds in %s\n", nfiles, outdir);
	return 0;
}
