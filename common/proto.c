/* The message and attribute tables, and the one validating parser. */
#include <stdio.h>
#include <string.h>

#include "proto.h"

#define RQ(a)	(1ull << (a))
#define D_M2N	DIR_M2N
#define D_N2M	DIR_N2M
#define D_T2M	DIR_T2M
#define D_M2T	DIR_M2T
#define D_N2N	DIR_N2N
#define D_ANY	(DIR_M2N | DIR_N2M | DIR_T2M | DIR_M2T)

/*
 * msg_info.required is one bit per attribute, so only attributes below 64
 * can be required (RQ of a larger one is a shift the compiler refuses);
 * the others are parsed all the same, just never required.
 */
#define RQ_BITS	64

const struct msg_info msg_table[MSG_MAX] = {
	[MSG_AUTH_CHALLENGE] = { "AUTH_CHALLENGE", 8 + 36, RQ(A_NONCE) | RQ(A_VERSION), D_M2N | D_N2N },
	[MSG_AUTH_RESPONSE] = { "AUTH_RESPONSE", 36 + 36, RQ(A_NONCE) | RQ(A_PROOF), D_N2M | D_N2N },
	[MSG_AUTH_CONFIRM] = { "AUTH_CONFIRM", 36, RQ(A_PROOF), D_M2N | D_N2N },
	[MSG_HELLO] = { "HELLO", 12, RQ(A_MAC), D_N2M },
	[MSG_WELCOME] = { "WELCOME", 24, RQ(A_NODE) | RQ(A_HEARTBEAT) | RQ(A_TIMEOUT), D_M2N },
	[MSG_STATUS] = { "STATUS", 0, 0, D_N2M },
	[MSG_PING] = { "PING", 0, 0, D_M2N | D_N2N },
	[MSG_POWER] = { "POWER", 8, RQ(A_HOW), D_M2N },
	[MSG_SETUP] = { "SETUP", 0, 0, D_M2N },
	[MSG_USERS] = { "USERS", 0, 0, D_M2N },
	[MSG_EXEC] = { "EXEC", 16, RQ(A_ARG), D_T2M | D_M2N },
	[MSG_EXEC_RESULT] = { "EXEC_RESULT", 16, RQ(A_PID) | RQ(A_ERRNO), D_N2M | D_M2T },
	[MSG_IO] = { "IO", 16, RQ(A_PID) | RQ(A_STREAM), D_ANY },
	[MSG_IO_ACK] = { "IO_ACK", 24, RQ(A_PID) | RQ(A_STREAM) | RQ(A_BYTES), D_ANY },
	[MSG_SIGNAL] = { "SIGNAL", 16, RQ(A_PID) | RQ(A_SIG), D_T2M | D_M2N },
	[MSG_EXIT] = { "EXIT", 16, RQ(A_PID) | RQ(A_STATUS), D_N2M | D_M2T },
	[MSG_STOPPED] = { "STOPPED", 16, RQ(A_PID) | RQ(A_SIG), D_N2M | D_M2T },
	[MSG_NEED] = { "NEED", 8, RQ(A_PID), D_N2M | D_M2T },
	[MSG_BLOB] = { "BLOB", 44, RQ(A_PID) | RQ(A_HASH), D_T2M | D_M2N | D_N2N },
	[MSG_BLOB_ACK] = { "BLOB_ACK", 16, RQ(A_PID) | RQ(A_BYTES), D_N2M | D_M2T },
	[MSG_GHOST] = { "GHOST", 0, 0, D_T2M },
	[MSG_CTL_NODES] = { "CTL_NODES", 0, 0, D_T2M },
	[MSG_CTL_NODE] = { "CTL_NODE", 16, RQ(A_NODE) | RQ(A_STATE), D_M2T },
	[MSG_CTL_END] = { "CTL_END", 8, RQ(A_COUNT), D_M2T },
	[MSG_CTL_WATCH] = { "CTL_WATCH", 0, 0, D_T2M },
	[MSG_CTL_CHANGED] = { "CTL_CHANGED", 0, 0, D_M2T },
	[MSG_CTL_SET] = { "CTL_SET", 8, RQ(A_NODE), D_T2M },
	[MSG_CTL_RESULT] = { "CTL_RESULT", 16, RQ(A_NODE) | RQ(A_ERRNO), D_M2T },
	[MSG_CTL_PROCS] = { "CTL_PROCS", 0, 0, D_T2M },
	[MSG_CTL_PROC] = { "CTL_PROC", 16, RQ(A_PID) | RQ(A_NODE), D_M2T },
	[MSG_FORK] = { "FORK", 0, 0, D_N2M | D_M2T },
	[MSG_FORK_RESULT] = { "FORK_RESULT", 8, RQ(A_ERRNO), D_M2N | D_T2M },
	[MSG_FORK_HELLO] = { "FORK_HELLO", 12, RQ(A_TOKEN), D_T2M },
	[MSG_FORKED] = { "FORKED", 16, RQ(A_PID) | RQ(A_PPID), D_N2M },
	[MSG_EXECED] = { "EXECED", 8, RQ(A_PID), D_N2M | D_M2T },
	[MSG_CTL_MASTER] = { "CTL_MASTER", 0, 0, D_T2M },
	[MSG_CTL_MASTER_INFO] = { "CTL_MASTER_INFO", 8, RQ(A_PID), D_M2T },
	[MSG_CTL_POWER] = { "CTL_POWER", 16, RQ(A_NODE), D_T2M },
	[MSG_REJOIN] = { "REJOIN", 16, RQ(A_PID) | RQ(A_UID), D_N2M },
	[MSG_REJOIN_END] = { "REJOIN_END", 8, RQ(A_COUNT), D_N2M },
	[MSG_GHOST_REJOIN] = { "GHOST_REJOIN", 8, RQ(A_NODE), D_T2M },
	[MSG_RESUME] = { "RESUME", 8, RQ(A_PID), D_M2N | D_M2T },
	[MSG_REAP] = { "REAP", 8, RQ(A_PID), D_M2N },
	[MSG_IMAGE] = { "IMAGE", 8, RQ(A_PID), D_ANY },
	[MSG_IMAGE_RESULT] = { "IMAGE_RESULT", 16, RQ(A_PID) | RQ(A_ERRNO), D_ANY },
	[MSG_MOVE] = { "MOVE", 8, RQ(A_PID), D_N2M | D_M2T },
	[MSG_IMAGE_ACK] = { "IMAGE_ACK", 16, RQ(A_PID) | RQ(A_BYTES), D_ANY },
	[MSG_HOLD] = { "HOLD", 8, RQ(A_PID), D_M2T | D_T2M },
	[MSG_BYE] = { "BYE", 0, 0, D_N2M },
	[MSG_RELAY] = { "RELAY", 44, RQ(A_PID) | RQ(A_HASH), D_M2N },
	[MSG_RELAY_DONE] = { "RELAY_DONE", 52, RQ(A_PID) | RQ(A_HASH) | RQ(A_ERRNO), D_N2M },
	[MSG_RELAY_GET] = { "RELAY_GET", 36, RQ(A_HASH), D_N2N },
	[MSG_RELAY_END] = { "RELAY_END", 8, RQ(A_ERRNO), D_N2N },
	[MSG_PGRP] = { "PGRP", 8, RQ(A_PID), D_N2M | D_M2T },
	[MSG_KILL] = { "KILL", 24, RQ(A_PID) | RQ(A_SIG), D_N2M },
	[MSG_KILL_RESULT] = { "KILL_RESULT", 8, RQ(A_ERRNO), D_M2N },
	[MSG_STANDIN] = { "STANDIN", 8, RQ(A_PID), D_ANY },
};

const struct attr_info attr_table[A_MAX] = {
	[A_VERSION] = { "version", AK_U32, 0, 0 },
	[A_NONCE] = { "nonce", AK_BIN, 32, 32 },
	[A_PROOF] = { "proof", AK_BIN, 32, 32 },
	[A_NODE] = { "node", AK_U32, 0, 0 },
	[A_MAC] = { "mac", AK_BIN, 6, 6 },
	[A_ADDR] = { "addr", AK_STR, 1, 64 },
	[A_STAGE] = { "stage", AK_U8, 0, 0 },
	[A_HEARTBEAT] = { "heartbeat", AK_U32, 0, 0 },
	[A_TIMEOUT] = { "timeout", AK_U32, 0, 0 },
	[A_LOAD1] = { "load1", AK_U32, 0, 0 },
	[A_LOAD5] = { "load5", AK_U32, 0, 0 },
	[A_LOAD15] = { "load15", AK_U32, 0, 0 },
	[A_CPUS] = { "cpus", AK_U32, 0, 0 },
	[A_MEM_TOTAL] = { "mem_total", AK_U64, 0, 0 },
	[A_MEM_FREE] = { "mem_free", AK_U64, 0, 0 },
	[A_UPTIME] = { "uptime", AK_U64, 0, 0 },
	[A_NPROCS] = { "nprocs", AK_U32, 0, 0 },
	[A_STATE] = { "state", AK_U8, 0, 0 },
	[A_UID] = { "uid", AK_U32, 0, 0 },
	[A_GID] = { "gid", AK_U32, 0, 0 },
	[A_MODE] = { "mode", AK_U32, 0, 0 },
	[A_LAST_SEEN] = { "last_seen", AK_U64, 0, 0 },
	[A_HOW] = { "how", AK_U8, 0, 0 },
	[A_ERRNO] = { "errno", AK_U32, 0, 0 },
	[A_COUNT] = { "count", AK_U32, 0, 0 },
	[A_HOSTNAME] = { "hostname", AK_STR, 1, 256 },
	[A_MSG] = { "msg", AK_STR, 1, 1024 },
	[A_NUMNODES] = { "numnodes", AK_U32, 0, 0 },
	[A_CACHE_BYTES] = { "cache_bytes", AK_U64, 0, 0 },
	[A_PUSH_BYTES] = { "push_bytes", AK_U64, 0, 0 },
	[A_PID] = { "pid", AK_U32, 0, 0 },
	[A_RPID] = { "rpid", AK_U32, 0, 0 },
	[A_PATH] = { "path", AK_STR, 1, 4096 },
	[A_ARG] = { "arg", AK_STR, 1, UINT16_MAX - 4 },
	[A_ENV] = { "env", AK_STR, 1, UINT16_MAX - 4 },
	[A_CWD] = { "cwd", AK_STR, 1, 4096 },
	[A_GROUPS] = { "groups", AK_BIN, 0, 65536 - 4 },
	[A_DATA] = { "data", AK_BIN, 0, UINT16_MAX - 4 },
	[A_STREAM] = { "stream", AK_U8, 0, 0 },
	[A_EOF] = { "eof", AK_U8, 0, 0 },
	[A_SIG] = { "sig", AK_U32, 0, 0 },
	[A_STATUS] = { "status", AK_U32, 0, 0 },
	[A_FLAGS] = { "flags", AK_U32, 0, 0 },
	[A_RANK] = { "rank", AK_U32, 0, 0 },
	[A_BYTES] = { "bytes", AK_U32, 0, 0 },
	[A_FILE_IN] = { "file_in", AK_STR, 1, 4096 },
	[A_FILE_OUT] = { "file_out", AK_STR, 1, 4096 },
	[A_FILE_ERR] = { "file_err", AK_STR, 1, 4096 },
	[A_MFILE] = { "mfile", AK_BIN, MFILE_FIXED + 2, MFILE_MAX },
	[A_HASH] = { "hash", AK_BIN, 32, 32 },
	[A_CACHE_BUDGET] = { "cache_budget", AK_U64, 0, 0 },
	[A_CACHE_SHARE] = { "cache_share", AK_U32, 0, 0 },
	[A_ROWS] = { "rows", AK_U16, 0, 0 },
	[A_COLS] = { "cols", AK_U16, 0, 0 },
	[A_PWENT] = { "pwent", AK_STR, 2, 4096 },
	[A_GRENT] = { "grent", AK_STR, 2, 4096 },
	[A_HOSTENT] = { "hostent", AK_STR, 2, 4096 },
	[A_PPID] = { "ppid", AK_U32, 0, 0 },
	[A_TOKEN] = { "token", AK_U64, 0, 0 },
	[A_RTT] = { "rtt", AK_U32, 0, 0 },
	[A_STATUS_AGE] = { "status_age", AK_U64, 0, 0 },
	[A_CPU_USER] = { "cpu_user", AK_U64, 0, 0 },
	[A_CPU_SYS] = { "cpu_sys", AK_U64, 0, 0 },
	[A_RSS] = { "rss", AK_U64, 0, 0 },
	[A_BMC_OP] = { "bmc_op", AK_U8, 0, 0 },
	[A_POWER] = { "power", AK_U8, 0, 0 },
	[A_GRACE] = { "grace", AK_U32, 0, 0 },
	[A_OFF_IN] = { "off_in", AK_U64, 0, 0 },
	[A_OFF_INDONE] = { "off_indone", AK_U64, 0, 0 },
	[A_OFF_OUT] = { "off_out", AK_U64, 0, 0 },
	[A_OFF_ERR] = { "off_err", AK_U64, 0, 0 },
	[A_ALONE_REBOOT] = { "alone_reboot", AK_U32, 0, 0 },
	[A_ARG_PART] = { "arg_part", AK_BIN, 1, 65528 },
	[A_OFFSET] = { "offset", AK_U64, 0, 0 },
	[A_SID] = { "sid", AK_U32, 0, 0 },
	[A_PGID] = { "pgid", AK_U32, 0, 0 },
	[A_TARGET] = { "target", AK_U32, 0, 0 },
	[A_SIGVAL] = { "sigval", AK_U64, 0, 0 },
};

static const char *const stage_names[STAGE_MAX] = {
	"none", "kernel", "network", "connected", "setup", "up"
};

const char *
msg_name(unsigned int type)
{
	if (type < MSG_MAX && msg_table[type].name != NULL)
		return msg_table[type].name;
	return "unknown";
}

const char *
stage_name(int s)
{
	if (s >= 0 && s < STAGE_MAX)
		return stage_names[s];
	return "?";
}

int
proto_attr_ok(const struct wire_attr *a)
{
	const struct attr_info	*ai;

	if (a->type >= A_MAX || attr_table[a->type].kind == AK_NONE)
		return 1;	/* unknown: skipped by readers, not an error */
	ai = &attr_table[a->type];
	switch (ai->kind) {
	case AK_U8:
		return a->len == 1;
	case AK_U16:
		return a->len == 2;
	case AK_U32:
		return a->len == 4;
	case AK_U64:
		return a->len == 8;
	case AK_STR:
		/* a string carries its NUL, and only that one */
		if (a->len < ai->minlen || a->len > ai->maxlen ||
		    a->data[a->len - 1] != '\0')
			return 0;
		return memchr(a->data, '\0', a->len) == a->data + a->len - 1;
	case AK_BIN:
		return a->len >= ai->minlen && a->len <= ai->maxlen;
	}
	return 0;
}

int
proto_parse(const struct wire_hdr *h, const void *body, size_t len,
    struct wire_attr tb[A_MAX], const char **why)
{
	const struct msg_info	*mi;
	struct wire_iter	 it;
	struct wire_attr	 a;
	uint64_t		 seen = 0;
	int			 r;

	memset(tb, 0, sizeof(*tb) * A_MAX);
	if (h->type >= MSG_MAX || msg_table[h->type].name == NULL) {
		*why = "unknown message type";
		return -1;
	}
	mi = &msg_table[h->type];
	if (len < mi->minlen) {
		*why = "message body too short";
		return -1;
	}
	wire_iter_init(&it, body, len);
	while ((r = wire_iter_next(&it, &a)) == 1) {
		if (!proto_attr_ok(&a)) {
			*why = "malformed attribute";
			return -1;
		}
		if (a.type < A_MAX && attr_table[a.type].kind != AK_NONE) {
			tb[a.type] = a;
			if (a.type < RQ_BITS)
				seen |= RQ(a.type);
		}
	}
	if (r < 0) {
		*why = "attribute overruns the frame";
		return -1;
	}
	if ((seen & mi->required) != mi->required) {
		*why = "required attribute missing";
		return -1;
	}
	return 0;
}

int
proto_dispatch(const struct proto_role *role, unsigned int phase, void *ctx,
    const struct wire_hdr *h, const unsigned char *body, size_t len,
    char *why)
{
	struct wire_attr	 tb[A_MAX];
	struct proto_frame	 f = { h, tb, body, len };
	const struct proto_route *r;
	const char		*bad;

	why[0] = '\0';
	if (proto_parse(h, body, len, tb, &bad) == -1) {
		snprintf(why, PROTO_WHY_MAX, "bad %s frame: %s",
		    msg_name(h->type), bad);
		return -1;
	}
	r = &role->routes[h->type];
	if (r->fn == NULL || !(msg_table[h->type].dirs & role->dir)) {
		snprintf(why, PROTO_WHY_MAX, "%s frame not taken on a %s",
		    msg_name(h->type), role->name);
		return -1;
	}
	if (phase >= 32 || !(r->phases & (1u << phase))) {
		snprintf(why, PROTO_WHY_MAX, "unexpected %s frame at this "
		    "point of the %s", msg_name(h->type), role->name);
		return -1;
	}
	return r->fn(ctx, &f);
}

/*
 * One manifest entry into out (MFILE_MAX bytes): hash, mode, owner, size,
 * then the path and, for a symlink (target not NULL), its target.  Returns
 * its length, or 0 when a path is too long to send.
 */
size_t
mfile_encode(unsigned char *out, const unsigned char *hash, uint32_t mode,
    uint32_t uid, uint32_t gid, uint64_t size, const char *path,
    const char *target)
{
	const uint32_t	 v[5] = { mode, uid, gid, (uint32_t)(size >> 32),
			    (uint32_t)size };
	size_t		 pl = strlen(path) + 1, tl = target ? strlen(target) + 1 : 0;
	unsigned char	*q = out + 32;
	int		 i;

	if (pl > MFILE_PATH_MAX || tl > MFILE_PATH_MAX)
		return 0;
	memcpy(out, hash, 32);
	for (i = 0; i < 5; i++, q += 4) {
		q[0] = (unsigned char)(v[i] >> 24);
		q[1] = (unsigned char)(v[i] >> 16);
		q[2] = (unsigned char)(v[i] >> 8);
		q[3] = (unsigned char)v[i];
	}
	*q++ = target ? MFILE_LINK : MFILE_REG;
	memcpy(q, path, pl);
	q += pl;
	if (tl) {
		memcpy(q, target, tl);
		q += tl;
	}
	return (size_t)(q - out);
}

static uint32_t
mfile_get32(const unsigned char *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	    ((uint32_t)p[2] << 8) | p[3];
}

/*
 * One manifest entry (an A_MFILE attribute's payload) into f.  Returns 0,
 * or -1 for an entry no receiver may act on: short, a path or target not
 * NUL-terminated inside it, an unknown type, a path that is not absolute
 * or has a ".." component (it could reach outside the tree it names).
 * The size is the sender's word: add it up with mfile_size_add.
 */
int
mfile_decode(const void *data, size_t len, struct mfile *f)
{
	const unsigned char	*p = data, *end = p + len;
	const char		*s, *c;
	size_t			 n;

	if (len < MFILE_FIXED + 2 || len > MFILE_MAX)
		return -1;
	memcpy(f->hash, p, 32);
	f->mode = mfile_get32(p + 32) & 07777;
	f->uid = mfile_get32(p + 36);
	f->gid = mfile_get32(p + 40);
	f->size = ((uint64_t)mfile_get32(p + 44) << 32) | mfile_get32(p + 48);
	f->type = p[52];
	f->target = NULL;
	s = (const char *)p + MFILE_FIXED;
	if (memchr(s, '\0', (size_t)(end - (const unsigned char *)s)) == NULL)
		return -1;
	f->path = s;
	s += strlen(s) + 1;
	if (f->type == MFILE_LINK) {
		if ((const unsigned char *)s >= end ||
		    memchr(s, '\0', (size_t)(end - (const unsigned char *)s)) == NULL)
			return -1;
		f->target = s;
	} else if (f->type != MFILE_REG)
		return -1;
	if (f->path[0] != '/')
		return -1;
	for (c = f->path; *c != '\0'; c += n) {
		c += strspn(c, "/");
		n = strcspn(c, "/");
		if (n == 2 && c[0] == '.' && c[1] == '.')
			return -1;
	}
	return 0;
}

/*
 * *sum += size, unless that passes MFILE_SIZE_MAX: then -1 and *sum
 * unchanged.  Every size off the wire is bounded before it is added, so a
 * manifest of two 2^63-byte entries cannot wrap to something that fits.
 */
int
mfile_size_add(uint64_t *sum, uint64_t size)
{
	if (size > MFILE_SIZE_MAX || *sum > MFILE_SIZE_MAX - size)
		return -1;
	*sum += size;
	return 0;
}
