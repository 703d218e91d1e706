/*
 * libbproc: the C API of bproc-ng (BProc's, kept where it made sense).
 * Link with -lbproc (pkg-config bproc).  Every call talks to bpmaster over
 * its control socket: $BPROC_MASTER, else /run/bproc/master.sock.  Calls
 * return -1 and set errno on failure unless said otherwise.
 */
#ifndef BPROC_H
#define BPROC_H

#include <stdint.h>
#include <sys/types.h>

#define BPROC_NODE_MASTER	(-1)	/* bproc_currnode() on the front end */
#define BPROC_NODE_NONE		(-2)

/* Node states, as bpstat prints them. */
#define BPROC_STATE_DOWN	0
#define BPROC_STATE_BOOT	1
#define BPROC_STATE_UP		2
#define BPROC_STATE_ERROR	3
#define BPROC_STATE_UNAVAILABLE	4
#define BPROC_STATE_REBOOT	5
#define BPROC_STATE_HALT	6
#define BPROC_STATE_PWROFF	7

#define BPROC_POWER_REBOOT	1
#define BPROC_POWER_HALT	2
#define BPROC_POWER_OFF		3

/* Out-of-band power, through the node's BMC (bproc_nodepower). */
#define BPROC_BMC_STATUS	1
#define BPROC_BMC_ON		2
#define BPROC_BMC_OFF		3
#define BPROC_BMC_CYCLE		4
#define BPROC_BMC_RESET		5
/* Chassis power as the BMC says (bproc_node_info.power). */
#define BPROC_PWR_NONE		0	/* the node has no BMC configured */
#define BPROC_PWR_UNKNOWN	1	/* its BMC has not answered */
#define BPROC_PWR_ON		2
#define BPROC_PWR_OFF		3

struct bproc_node_info {
	int		node;
	int		state;		/* BPROC_STATE_* */
	uid_t		uid;		/* owner */
	gid_t		gid;
	unsigned int	mode;		/* x bits: who may run here */
	char		addr[64];	/* node link address, "" if never seen */
	unsigned char	mac[6];
	int		has_mac;
	uint64_t	last_seen_ms;	/* age of the last frame; UINT64_MAX never */
	unsigned int	load[3];	/* load averages * 100 */
	unsigned int	cpus;
	uint64_t	mem_total;	/* bytes */
	uint64_t	mem_free;
	uint64_t	uptime;		/* seconds */
	unsigned int	nprocs;
	int		stage;		/* boot stage, see bproc_stage_name */
	uint64_t	cache_bytes;	/* node RAM cache in use */
	uint64_t	push_bytes;	/* blob bytes pushed since it came up */
	unsigned int	rtt_us;		/* link round trip (TCP's); 0 unknown */
	uint64_t	status_age_ms;	/* age of its last status report
					   (heartbeat); UINT64_MAX none */
	int		power;		/* BPROC_PWR_*: the BMC's last answer */
};

int		 bproc_numnodes(void);
int		 bproc_currnode(void);
int		 bproc_nodestatus(int);
int		 bproc_nodeinfo(int, struct bproc_node_info *);
/* *list is malloc'd (free it); returns the number of nodes. */
int		 bproc_nodelist(struct bproc_node_info **);
int		 bproc_chown(int, uid_t, gid_t);	/* (uid_t)-1/(gid_t)-1: leave */
int		 bproc_chmod(int, unsigned int);
int		 bproc_access(int, int);		/* 0 if the caller may run there */
int		 bproc_setnodestate(int, int);
int		 bproc_power(int, int);			/* BPROC_POWER_* */
/*
 * BPROC_BMC_*: ask node's BMC (bpmaster runs ipmitool), or switch its
 * power (root only).  Returns BPROC_PWR_ON or BPROC_PWR_OFF as the BMC
 * said, or -1 with errno and bproc_strerror() saying what the BMC did.
 */
int		 bproc_nodepower(int, int);
const char	*bproc_state_name(int);
int		 bproc_state_parse(const char *);
const char	*bproc_stage_name(int);

/* The master daemon's own numbers (bproc_masterinfo). */
struct bproc_master_info {
	pid_t		pid;
	uint64_t	uptime;		/* seconds since it began to listen */
	uint64_t	cpu_user_us;	/* CPU time it used */
	uint64_t	cpu_sys_us;
	uint64_t	rss_bytes;	/* resident memory */
	unsigned int	numnodes;	/* slots of the node table */
	unsigned int	nprocs;		/* remote processes it tracks */
	unsigned int	conns;		/* control connections open */
	unsigned int	heartbeat_ms;
	unsigned int	timeout_ms;
};
int		 bproc_masterinfo(struct bproc_master_info *);

/*
 * Change notification for live views: bproc_watch() returns a descriptor
 * that becomes readable when anything in the node table changes;
 * bproc_watch_ack() consumes the notification (returns 0, or -1 when the
 * master went away).
 */
int		 bproc_watch(void);
int		 bproc_watch_ack(int);

/*
 * Process space.  bproc_rexec() starts file (resolved on the node's PATH
 * unless it holds a '/') with argv and envp on node, and turns the caller
 * into its ghost, like execve(2): no return on success, -1 with errno on
 * failure.  bproc_vrexec() forks one ghost per node (children of the
 * caller) and fills pids[i] with each ghost's PID, or -errno; it returns
 * the number started.  BPROC_RANK is i on nodes[i].
 */
/* A file to push into the node's RAM before the process starts. */
struct bproc_file {
	char		*path;		/* where it appears on the node */
	char		*target;	/* symlink target, NULL for a file */
	unsigned int	 mode;
	uid_t		 uid;
	gid_t		 gid;
	uint64_t	 size;
	unsigned char	 hash[32];	/* BLAKE2b-256 of the content */
};

struct bproc_exec_opts {
	unsigned int	 flags;		/* BPROC_EXEC_* */
	const struct bproc_file *files;	/* pushed on demand (the node asks) */
	size_t		 nfiles;
	unsigned int	 rank;
	const char	*file_in;	/* opened on the node, as the caller */
	const char	*file_out;
	const char	*file_err;
	int		 err_fd;	/* >0: where the ghost prints node errors */
};
#define BPROC_EXEC_STDIN_NULL	0x01	/* stdin from /dev/null */
#define BPROC_EXEC_NOIO		0x02	/* no I/O forwarding at all */
/*
 * A pseudo-terminal on the node: the process's stdin, stdout and stderr
 * (one stream back) and its controlling terminal, sized like the caller's
 * terminal on stdin; the ghost puts that terminal in raw mode while the
 * process runs in the foreground and forwards its size changes.
 */
#define BPROC_EXEC_TTY		0x04
/*
 * Debugging aid, honoured for root only: what the process forks on the
 * node gets no ghost (bpsh does it when BPROC_NOTRACK is set).
 */
#define BPROC_EXEC_NOTRACK	0x08
/*
 * Debugging aid for benchmarks: the process's ghosts keep no spare child
 * ghost (bpsh does it when BPROC_NOSPARE is set; docs/design-notes.md).
 */
#define BPROC_EXEC_NOSPARE	0x20

int	bproc_rexec(int, const char *, char *const[], char *const[]);
int	bproc_rexec_opts(int, const char *, char *const[], char *const[],
	    const struct bproc_exec_opts *);
int	bproc_vrexec(int, const int *, const char *, char *const[],
	    char *const[], pid_t *);
/*
 * Hear how the files of a bproc_rexec*() go to the node: fn(done, total,
 * end, arg) after each piece sent, bytes of the files the node asked for
 * (total grows as it asks), and once with end 1 when the node answered.
 * Not called when the node had everything.  NULL stops it.  bpsh draws
 * its --push progress bar with it.
 */
typedef void	bproc_progress_fn(uint64_t, uint64_t, int, void *);
void	bproc_push_progress(bproc_progress_fn *, void *);

/*
 * Migration (BProc's).  bproc_rfork() is fork(2) with the child on node:
 * the parent gets the child's PID (its ghost, a child of the caller), the
 * child 0, or -1 and errno.  bproc_vrfork() does it for nodes[0..n-1]:
 * pids[i] is the child's PID or -errno; the parent gets the number
 * started, each child its index i.  bproc_move() makes the caller go on
 * on node (0), its front-end process staying as the ghost; on failure -1
 * and the caller runs on where it was.  bproc_execmove() and
 * bproc_vexecmove() are bproc_rexec() and bproc_vrexec().  Only a
 * single-threaded caller may migrate (else ENOTSUP); descriptors 0-2
 * become the forwarded stdio, the others are closed in the new process.
 */
pid_t	bproc_rfork(int node);
int	bproc_vrfork(int n, const int *nodes, pid_t *pids);
int	bproc_move(int node);
int	bproc_execmove(int node, const char *file, char *const argv[], char *const envp[]);
int	bproc_vexecmove(int n, const int *nodes, pid_t *pids, const char *file, char *const argv[], char *const envp[]);

struct bproc_proc_info {
	pid_t		pid;		/* the ghost's PID on the front end */
	pid_t		rpid;		/* PID on the node (equal unless taken) */
	int		node;
	uid_t		uid;
	char		cmd[1024];
	pid_t		ppid;		/* its parent's PID on the front end */
};
/* *list is malloc'd; returns the number of remote processes. */
int	bproc_proclist(struct bproc_proc_info **);

/*
 * The last error text from the master, for tools that print it
 * ("Permission denied" is errno's; this adds detail when there is some).
 */
const char	*bproc_strerror(void);
/*
 * After a failed bproc_rexec*(): what tools print after "<node>: ", in
 * BProc's words for the node errors ("Permission denied", "No such node",
 * "Node is down"), else bproc_strerror().
 */
const char	*bproc_node_strerror(void);
/*
 * Non-zero when the last failed call failed because of bpmaster itself:
 * it could not be reached (bproc_strerror() then says what to do), it
 * closed the connection, or its reply was bad; zero when a node or the
 * request was the cause.  Tools print the former as their own error
 * ("bpsh: ..."), the latter after "<node>: ".
 */
int		 bproc_master_error(void);

#endif
