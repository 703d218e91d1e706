/*
 * bproc-ng messages and attributes: one table (proto.c) gives each message
 * type its name, minimum body length and required attributes, and each
 * attribute type its kind, so every decoder validates the same way.
 * Handlers live with the role that receives the message (master/, nodeinit/).
 */
#ifndef BPROC_PROTO_H
#define BPROC_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "nodeset.h"
#include "wire.h"

#define BPROC_PORT		2223		/* default TCP port of the node link (BProc's) */
#define BPROC_CTL_PATH		"/run/bproc/master.sock"	/* default control socket */
#define BPROC_VERSION		1		/* protocol version in HELLO */

enum msg_type {
	MSG_NONE = 0,
	/* node link, before authentication (plain frames) */
	MSG_AUTH_CHALLENGE,	/* m->n: A_NONCE, A_VERSION */
	MSG_AUTH_RESPONSE,	/* n->m: A_NONCE, A_PROOF */
	MSG_AUTH_CONFIRM,	/* m->n: A_PROOF */
	/* node link, authenticated and sealed */
	MSG_HELLO,		/* n->m: A_MAC, A_ADDR, A_STAGE */
	MSG_WELCOME,		/* m->n: A_NODE, A_HEARTBEAT, A_TIMEOUT */
	MSG_STATUS,		/* n->m: load, memory, uptime, stage */
	MSG_PING,		/* m->n: heartbeat */
	MSG_POWER,		/* m->n: A_HOW */
	MSG_SETUP,		/* m->n: setup data; node answers STATUS stage up */
	/* control socket (tools <-> master) */
	MSG_CTL_NODES = 32,	/* t->m: snapshot request */
	MSG_CTL_NODE,		/* m->t: one node record */
	MSG_CTL_END,		/* m->t: A_COUNT records sent, A_ERRNO */
	MSG_CTL_WATCH,		/* t->m: send CTL_CHANGED on every change */
	MSG_CTL_CHANGED,	/* m->t: something changed, A_COUNT = generation */
	MSG_CTL_SET,		/* t->m: A_NODE and one of A_STATE, A_MODE, A_UID, A_GID, A_HOW */
	MSG_CTL_RESULT,		/* m->t: A_NODE, A_ERRNO, A_MSG */
	MSG_MAX
};

enum attr_type {
	A_UNSPEC = 0,
	A_VERSION,	/* u32 */
	A_NONCE,	/* bin 32 */
	A_PROOF,	/* bin 32 */
	A_NODE,		/* u32 */
	A_MAC,		/* bin 6 */
	A_ADDR,		/* str */
	A_STAGE,	/* u8 STAGE_* */
	A_HEARTBEAT,	/* u32 ms */
	A_TIMEOUT,	/* u32 ms */
	A_LOAD1,	/* u32 load * 100 */
	A_LOAD5,	/* u32 */
	A_LOAD15,	/* u32 */
	A_CPUS,		/* u32 */
	A_MEM_TOTAL,	/* u64 bytes */
	A_MEM_FREE,	/* u64 bytes */
	A_UPTIME,	/* u64 seconds */
	A_NPROCS,	/* u32 */
	A_STATE,	/* u8 NODE_* */
	A_UID,		/* u32 */
	A_GID,		/* u32 */
	A_MODE,		/* u32 */
	A_LAST_SEEN,	/* u64 ms since the last frame from the node */
	A_HOW,		/* u8 POWER_* */
	A_ERRNO,	/* u32 */
	A_COUNT,	/* u32 */
	A_HOSTNAME,	/* str */
	A_MSG,		/* str */
	A_NUMNODES,	/* u32 */
	A_CACHE_BYTES,	/* u64 */
	A_PUSH_BYTES,	/* u64 */
	A_MAX
};

enum attr_kind {
	AK_NONE = 0, AK_U8, AK_U16, AK_U32, AK_U64, AK_STR, AK_BIN
};

enum boot_stage {
	STAGE_NONE = 0, STAGE_KERNEL, STAGE_NETWORK, STAGE_CONNECTED,
	STAGE_SETUP, STAGE_UP, STAGE_MAX
};

enum power_how {
	POWER_REBOOT = 1, POWER_HALT, POWER_OFF
};

struct msg_info {
	const char	*name;
	size_t		 minlen;	/* minimum body length */
	uint64_t	 required;	/* bit (1 << A_x) per required attribute */
};

struct attr_info {
	const char	*name;
	uint8_t		 kind;
	uint16_t	 minlen;	/* AK_BIN/AK_STR payload bounds */
	uint16_t	 maxlen;
};

extern const struct msg_info	msg_table[MSG_MAX];
extern const struct attr_info	attr_table[A_MAX];

const char	*msg_name(unsigned int);
const char	*stage_name(int);

/*
 * Validate a frame's body for its type: known type, minimum length, every
 * known attribute well-formed, required attributes present.  tb[A_x] holds
 * the last occurrence of each known attribute (data NULL when absent).
 * Returns 0, or -1 with *why naming the problem.
 */
int	proto_parse(const struct wire_hdr *, const void *, size_t,
	    struct wire_attr tb[A_MAX], const char **);
/* Same check for one attribute; repeated attributes are read with wire_iter. */
int	proto_attr_ok(const struct wire_attr *);

#endif
