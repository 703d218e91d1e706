/*
 * bproc-ng messages and attributes: one table (proto.c) gives each message
 * type its name, minimum body length and required attributes, and each
 * attribute type its kind, so every decoder validates the same way.
 * Each message also says which ways it travels (DIR_*).  Every receiver
 * (bpmaster's node links and control socket, nodeinit's master link,
 * bpghost, libbproc's replies) has one table of its own (struct
 * proto_role): the handler of each message it takes and the phases of its
 * connection in which it takes it, and reads every frame through
 * proto_dispatch().
 */
#ifndef BPROC_PROTO_H
#define BPROC_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "nodeset.h"
#include "wire.h"

#define BPROC_PORT		2223		/* default TCP port of the node link (BProc's) */
#define BPROC_CTL_PATH		"/run/bproc/master.sock"	/* default control socket */
#define BPROC_VERSION		3		/* protocol version in HELLO and AUTH_CHALLENGE:
						   2 added the master restart (REJOIN..REAP),
						   3 kill(2) from a node (KILL, KILL_RESULT) */
#define BPROC_RELAY_PORT	2224		/* TCP port of a node's relay listener */
#define BPROC_VERSION_REJOIN	2		/* the first version that keeps processes
						   across a master restart */
#define BPROC_VERSION_KILL	3		/* the first master that takes MSG_KILL */
/*
 * A node's setup push (the master's "push" list) runs as the "exec" of
 * this ghost PID: its NEED, BLOB, BLOB_ACK and EXEC_RESULT carry it.  No
 * process has PID 0, so it names no real one.
 */
#define PROTO_SETUP_PID		0

/* Which ways a message travels (msg_info.dirs, proto_role.dir). */
#define DIR_M2N			0x01	/* master -> node */
#define DIR_N2M			0x02	/* node -> master */
#define DIR_T2M			0x04	/* tool or ghost -> master (control socket) */
#define DIR_M2T			0x08	/* master -> tool or ghost */
#define DIR_N2N			0x10	/* node -> node: a relay link (relay.c) */

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
	MSG_SETUP,		/* m->n: cache budget, A_MFILE files to push; node
				   answers STATUS stage up once they are there */
	MSG_USERS,		/* m->n: A_PWENT, A_GRENT, A_HOSTENT repeated: passwd, group, hosts lines */
	/* the process space; A_PID is always the ghost's (front-end) PID */
	MSG_EXEC = 16,		/* t->m, m->n: start a process */
	MSG_EXEC_RESULT,	/* n->m, m->t: A_PID, A_ERRNO, A_RPID, A_MSG */
	MSG_IO,			/* any: A_PID, A_STREAM, A_DATA or A_EOF */
	MSG_IO_ACK,		/* any: A_PID, A_STREAM, A_BYTES consumed */
	MSG_SIGNAL,		/* t->m, m->n: A_PID, A_SIG (A_ROWS, A_COLS) */
	MSG_EXIT,		/* n->m, m->t: A_PID, A_STATUS (wait status) */
	MSG_STOPPED,		/* n->m, m->t: A_PID, A_SIG; A_SIG 0 = continued */
	MSG_NEED,		/* n->m->t: A_PID, A_HASH repeated: blobs to send */
	MSG_BLOB,		/* t->m->n: A_PID, A_HASH, A_DATA, A_EOF */
	MSG_BLOB_ACK,		/* n->m->t: A_PID, A_BYTES of blob data stored */
	MSG_GHOST,		/* t->m: bpghost, first thing after the exec: this
				   connection's process is now the ghost */
	/* control socket (tools <-> master) */
	MSG_CTL_NODES = 32,	/* t->m: snapshot request */
	MSG_CTL_NODE,		/* m->t: one node record */
	MSG_CTL_END,		/* m->t: A_COUNT records sent, A_ERRNO */
	MSG_CTL_WATCH,		/* t->m: send CTL_CHANGED on every change */
	MSG_CTL_CHANGED,	/* m->t: something changed, A_COUNT = generation */
	MSG_CTL_SET,		/* t->m: A_NODE and one of A_STATE, A_MODE, A_UID, A_GID, A_HOW */
	MSG_CTL_RESULT,		/* m->t: A_NODE, A_ERRNO, A_MSG */
	MSG_CTL_PROCS,		/* t->m: process table request */
	MSG_CTL_PROC,		/* m->t: A_PID, A_NODE, A_RPID, A_UID, A_ARG, A_PPID */
	/* the process tree: a process forked on a node gets a ghost first */
	MSG_FORK,		/* n->m: A_PID (the parent's ghost), A_FLAGS clone flags;
				   m->ghost: A_TOKEN, the child's socket as SCM_RIGHTS,
				   A_FLAGS FORK_F_SPARE for a spare */
	MSG_FORK_RESULT,	/* m->n: A_PPID, A_PID (the child's ghost), A_ERRNO;
				   ghost->m: A_TOKEN, A_ERRNO (its fork failed) */
	MSG_FORK_HELLO,		/* child ghost->m, first frame on its socket: A_TOKEN */
	MSG_FORKED,		/* n->m: A_PID, A_PPID, A_RPID (node PID), A_ERRNO
				   (the node's clone failed: drop the ghost) */
	MSG_EXECED,		/* n->m->ghost: A_PID, A_ARG repeated: the new argv */
	MSG_CTL_MASTER,		/* t->m: the master's own numbers */
	MSG_CTL_MASTER_INFO,	/* m->t: A_PID, A_UPTIME, A_CPU_USER, A_CPU_SYS,
				   A_RSS, A_NUMNODES, A_NPROCS, A_COUNT (control
				   connections), A_HEARTBEAT, A_TIMEOUT */
	MSG_CTL_POWER,		/* t->m: A_NODE, A_BMC_OP (checked by power.c: past
				   bit 63, it cannot be required); answered by CTL_RESULT
				   with A_POWER (out-of-band, through the BMC) */
	/* a master restart (docs/design-notes.md, "Master restart") */
	MSG_REJOIN,		/* n->m after WELCOME, per process it kept: A_PID,
				   A_RPID, A_UID, A_FLAGS REJOIN_F_*, A_STATUS,
				   A_ARG (the command), A_OFF_IN, A_OFF_INDONE */
	MSG_REJOIN_END,		/* n->m: A_COUNT REJOINs sent */
	MSG_GHOST_REJOIN,	/* ghost->m on a new connection: A_NODE, A_OFF_OUT,
				   A_OFF_ERR (bytes it wrote), A_FLAGS */
	MSG_RESUME,		/* m->n: A_PID, A_OFF_OUT, A_OFF_ERR: send on from there;
				   m->ghost: A_PID, A_OFF_IN, A_OFF_INDONE, A_EOF, A_GRACE */
	MSG_REAP,		/* m->n: A_PID: its ghost is gone (after the exit, or
				   never came back): forget it, killing it if it runs */
	/* migration (docs/design-notes.md, "Migration") */
	MSG_IMAGE,		/* t->m->n, n->m->t: A_PID, A_DATA repeated, A_EOF:
				   a process image (after the EXEC_RESULT of an
				   EXEC with EXEC_F_IMAGE, or after MSG_MOVE) */
	MSG_IMAGE_RESULT,	/* n->m->t, t->m->n: A_PID, A_ERRNO, A_MSG: the
				   restorer took the image (0) or refused it */
	MSG_MOVE,		/* n->m: A_PID, the process comes home, its image
				   follows; m->ghost: A_PID, become it */
	MSG_IMAGE_ACK,		/* t->m->n: A_PID, A_BYTES of image the ghost's
				   restorer took (a move home's window) */
	/* a node link lost while the master stays up (rejoin.c) */
	MSG_HOLD,		/* m->ghost: A_PID, its node's link is lost: hold
				   stdin and signals until MSG_RESUME; ghost->m:
				   holding, nothing of before follows */
	MSG_BYE,		/* n->m: nodeinit drops this link on purpose and
				   redials (A_MSG why): not a dead node */
	/* the relay tree for blobs (docs/push.md, "Tree fan-out") */
	MSG_RELAY,		/* m->n: A_PID, A_HASH: fetch that blob of that
				   exec from the peer A_ADDR ("ip:port"); no
				   A_ADDR: it comes on the master link */
	MSG_RELAY_DONE,		/* n->m: A_PID, A_HASH, A_ERRNO (0: stored and
				   verified), A_OFFSET bytes it had, A_MSG */
	MSG_RELAY_GET,		/* n->n, sealed: A_HASH, A_OFFSET: send that blob
				   from there on */
	MSG_RELAY_END,		/* n->n: A_ERRNO, A_MSG: the peer cannot serve it */
	MSG_PGRP,		/* n->m->ghost: A_PID's process called setsid or
				   setpgid: A_SID, A_PGID (ghost PIDs, 0 unknown),
				   A_PPID the session's first process */
	/* kill(2) from a node of a PID not on it (docs/design-notes.md) */
	MSG_KILL,		/* n->m: A_PID (the sender's ghost), A_TARGET, A_SIG,
				   A_UID (the sender's uid as the node sees it),
				   A_SIGVAL (a sigqueue's value: SI_QUEUE);
				   the sender waits for the answer, same seq */
	MSG_KILL_RESULT,	/* m->n: A_ERRNO (0, ESRCH, EPERM, EINVAL) */
	MSG_STANDIN,		/* an rfork from a node (docs/design-notes.md,
				   "Migration"): the caller's node keeps a stand-in
				   of the child, A_PID its ghost PID.  n->m (from the
				   stand-in): A_SIG forward it to the child (none: it
				   is in place); m->n: A_FLAGS STANDIN_F_*, A_ERRNO,
				   A_MSG, A_STATUS, A_SIG; t->m from the child at
				   home: A_ERRNO, A_MSG its second hop failed (m->t:
				   the answer); ghost->m: A_PID, A_STATUS a child
				   ghost it reaped */
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
	A_PID,		/* u32 ghost PID */
	A_RPID,		/* u32 PID on the node, when it differs */
	A_PATH,		/* str */
	A_ARG,		/* str, repeated: argv in order */
	A_ENV,		/* str, repeated */
	A_CWD,		/* str */
	A_GROUPS,	/* bin: u32 gids, big-endian */
	A_DATA,		/* bin */
	A_STREAM,	/* u8: 0 stdin, 1 stdout, 2 stderr */
	A_EOF,		/* u8 */
	A_SIG,		/* u32 */
	A_STATUS,	/* u32 wait(2) status */
	A_FLAGS,	/* u32 EXEC_F_* */
	A_RANK,		/* u32 BPROC_RANK */
	A_BYTES,	/* u32 */
	A_FILE_IN,	/* str: -I file opened on the node */
	A_FILE_OUT,	/* str */
	A_FILE_ERR,	/* str */
	A_MFILE,	/* bin, repeated: a manifest entry, see MFILE_* */
	A_HASH,		/* bin 32: BLAKE2b-256 of a blob */
	A_CACHE_BUDGET,	/* u64 bytes: the node RAM cache's size budget */
	A_CACHE_SHARE,	/* u32 percent of node RAM for the cache */
	A_ROWS,		/* u16: pty rows (EXEC with EXEC_F_TTY, SIGWINCH) */
	A_COLS,		/* u16: pty columns */
	A_PWENT,	/* str, repeated: an /etc/passwd line, password "x" */
	A_GRENT,	/* str, repeated: an /etc/group line, password "x" */
	A_PPID,		/* u32: the parent's ghost PID */
	A_TOKEN,	/* u64: names one fork request between master and ghosts */
	A_RTT,		/* u32 us: the node link's smoothed round trip (TCP_INFO) */
	A_STATUS_AGE,	/* u64 ms since the node's last STATUS (its heartbeat) */
	A_CPU_USER,	/* u64 us of user CPU (CTL_MASTER_INFO: bpmaster's) */
	A_CPU_SYS,	/* u64 us of system CPU */
	A_RSS,		/* u64 bytes resident */
	A_BMC_OP,	/* u8 BMC_OP_*: what CTL_POWER asks the node's BMC */
	A_POWER,	/* u8 BMC_POWER_*: chassis power as the BMC last said */
	/* 64 and up: never required (proto.c's RQ_BITS) */
	A_GRACE,	/* u32 ms: master_grace (WELCOME, EXEC_RESULT, RESUME) */
	A_OFF_IN,	/* u64: stdin bytes the node received from the ghost */
	A_OFF_INDONE,	/* u64: ... and wrote to the process */
	A_OFF_OUT,	/* u64: stdout bytes the ghost wrote out */
	A_OFF_ERR,	/* u64: stderr bytes the ghost wrote out */
	A_ALONE_REBOOT,	/* u32 ms: a node alone this long reboots; 0 never (WELCOME) */
	A_ARG_PART,	/* bin, no NUL: the first pieces of the A_ARG or A_ENV that
			   follows (a string longer than one attribute, args.h) */
	A_HOSTENT,	/* str, repeated: an /etc/hosts line (MSG_USERS) */
	A_OFFSET,	/* u64: a byte offset into a blob (RELAY_GET, RELAY_DONE) */
	A_SID,		/* u32: a session's leader, as a ghost PID (MSG_PGRP) */
	A_PGID,		/* u32: a process group's leader, likewise */
	A_TARGET,	/* u32: the PID a MSG_KILL names */
	A_SIGVAL,	/* u64: a queued signal's value (MSG_KILL) */
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

/* Out-of-band power (master/daemon/power.c); the values are bproc.h's. */
enum bmc_op {
	BMC_OP_STATUS = 1, BMC_OP_ON, BMC_OP_OFF, BMC_OP_CYCLE, BMC_OP_RESET,
	BMC_OP_MAX
};

enum bmc_power {
	BMC_POWER_NONE = 0,	/* no BMC configured: A_POWER is not sent */
	BMC_POWER_UNKNOWN,	/* configured, has not answered (yet) */
	BMC_POWER_ON,
	BMC_POWER_OFF
};

#define EXEC_F_STDIN_NULL	0x01	/* bpsh -n: stdin from /dev/null */
#define EXEC_F_NOIO		0x02	/* bpsh -N: no I/O forwarding at all */
#define EXEC_F_TTY		0x04	/* bpsh -T: a pty on the node */
#define EXEC_F_NOTRACK		0x08	/* debug, root only: no ghosts for its children */
#define EXEC_F_IMAGE		0x10	/* the process is an image (MSG_IMAGE) that
					   bprestore turns into the process */

#define EXEC_F_NOSPARE		0x20	/* debug: no spare child ghosts (spare.c) */

#define MOVE_F_STANDIN		0x01	/* MSG_MOVE A_FLAGS: an rfork from a node; the
					   node's copy stays as a stand-in and the
					   process goes on to A_NODE */
#define STANDIN_F_RUNS		0x01	/* MSG_STANDIN m->n: the child runs there */
#define STANDIN_F_FAILED	0x02	/* ... it did not get there: A_ERRNO, A_MSG */
#define STANDIN_F_EXIT		0x04	/* ... it ended: A_STATUS (wait status) */
#define STANDIN_F_STOP		0x08	/* ... it stopped (A_SIG): stop too */

#define FORK_F_SPARE		0x01	/* MSG_FORK to a ghost: the child is a spare
					   that waits for the next fork (spare.c) */

#define REJOIN_F_EXITED		0x01	/* MSG_REJOIN: it ended; A_STATUS says how */
#define REJOIN_F_CHILD		0x02	/* forked on the node (track.c), not EXECed */
#define REJOIN_F_TTY		0x04	/* runs on a pty */
#define REJOIN_F_STOPPED	0x08	/* stopped */

/*
 * A manifest entry (A_MFILE): hash[32], u32 mode, u32 uid, u32 gid,
 * u64 size, u8 type (MFILE_REG or MFILE_LINK), then the path and, for a
 * link, its target, each NUL-terminated.  Integers big-endian.  Owner and
 * mode are the front end's, so the node refuses whom the front end would.
 */
#define MFILE_REG	0
#define MFILE_LINK	1
#define MFILE_FIXED	(32 + 4 + 4 + 4 + 8 + 1)
#define MFILE_PATH_MAX	4096		/* bytes of a path or target, NUL included */
#define MFILE_MAX	(MFILE_FIXED + 2 * MFILE_PATH_MAX)	/* one whole entry */
#define MFILE_SIZE_MAX	(1ull << 48)	/* bytes a manifest may name, one file or all (256 TiB) */

/* A decoded entry; path and target point into the attribute. */
struct mfile {
	unsigned char	 hash[32];
	uint32_t	 mode, uid, gid;
	uint64_t	 size;
	int		 type;		/* MFILE_REG, MFILE_LINK */
	const char	*path;
	const char	*target;	/* NULL for MFILE_REG */
};
/*
 * Blob data travels in MSG_BLOB frames of up to BLOB_CHUNK bytes, split
 * into A_DATA attributes of at most BLOB_PIECE bytes (an attribute's length
 * is 16 bits); the node takes them in order.  Frames that large, a window
 * of several of them and acknowledgements in steps keep the per-frame
 * costs (syscalls, wakeups, acks relayed to the tool) off the transfer.
 */
#define BLOB_PIECE	65528		/* blob bytes per A_DATA: the largest 4-aligned attribute */
#define BLOB_PIECES	4		/* A_DATA attributes per MSG_BLOB */
#define BLOB_CHUNK	(BLOB_PIECES * BLOB_PIECE)	/* blob bytes per MSG_BLOB (256 KiB) */
#define BLOB_FRAME	(BLOB_CHUNK + 256)	/* largest MSG_BLOB frame: data plus attributes */
#define BLOB_WINDOW	(4 * 1024 * 1024)	/* unacknowledged blob bytes per push */
#define BLOB_ACK_STEP	(BLOB_WINDOW / 4)	/* the node acknowledges stored bytes this many at a time */

#define IO_CHUNK	(32 * 1024)	/* bytes of one MSG_IO */
#define IO_WINDOW	(256 * 1024)	/* unacknowledged bytes per stream */

struct msg_info {
	const char	*name;
	size_t		 minlen;	/* minimum body length */
	uint64_t	 required;	/* bit (1 << A_x) per required attribute */
	unsigned int	 dirs;		/* DIR_* it may travel */
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
size_t		 mfile_encode(unsigned char *, const unsigned char *, uint32_t,
		    uint32_t, uint32_t, uint64_t, const char *, const char *);
int		 mfile_decode(const void *, size_t, struct mfile *);
int		 mfile_size_add(uint64_t *, uint64_t);
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

/* A parsed frame, as a handler gets it. */
struct proto_frame {
	const struct wire_hdr	*h;
	struct wire_attr	*tb;	/* tb[A_x]: the last of each attribute */
	const unsigned char	*body;	/* for repeated attributes (wire_iter) */
	size_t			 len;
};

/* A handler: 0, or -1 when it failed the connection itself. */
typedef int	proto_fn(void *, const struct proto_frame *);

struct proto_route {
	unsigned int	 phases;	/* bit (1 << phase) per phase it is taken in */
	proto_fn	*fn;
};

/* One receiver's table: routes[type], MSG_MAX of them; no fn: not taken. */
struct proto_role {
	const char		 *name;		/* "node link", for log lines */
	unsigned int		  dir;		/* the DIR_* it receives */
	const struct proto_route *routes;
};

#define PROTO_WHY_MAX	128	/* bytes of proto_dispatch's reason */

/*
 * The one way a frame is received: parsed (proto_parse), then refused
 * unless the role takes its type, the type travels the role's way and the
 * connection is in a phase the route names; then the handler runs with
 * ctx.  Returns the handler's result, or -1 with why (PROTO_WHY_MAX
 * bytes) saying what was wrong with the frame, for the caller to close the
 * connection and log.  why is "" when a handler returned -1.
 */
int	proto_dispatch(const struct proto_role *, unsigned int, void *,
	    const struct wire_hdr *, const unsigned char *, size_t, char *);

#endif
