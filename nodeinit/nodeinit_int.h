/* nodeinit: PID 1 of a bproc-ng node.  What its files share: state and prototypes (each file says its part). */
#ifndef NODEINIT_H
#define NODEINIT_H

#include <stdint.h>
#include <sys/types.h>

/*
 * musl's WIFSTOPPED multiplies the status as an int, which overflows
 * (undefined behaviour, caught by UBSan) on a continued status (0xffff):
 * the same test, on the low byte only.
 */
#define NI_WIFSTOPPED(s)	(((unsigned int)(s) & 0xff) == 0x7f)

#include "auth.h"
#include "clock.h"
#include "conn.h"
#include "proto.h"

#define NODE_KEYFILE		"/etc/bproc/cluster.key"	/* in the initramfs */
#define NODE_IFACE		"eth0"	/* default cluster NIC */
#define NODE_BACKOFF_MIN	100	/* ms before the first reconnect */
#define NODE_BACKOFF_MAX	1000	/* ms between reconnects at most: a restarted master has its nodes back within 1.5 s */
#define NODE_AUTH_MS		5000	/* ms to finish the handshake */
#define NODE_SYN_MS		100	/* a SYN unanswered this long is sent anew (doubling) */
#define NODE_SYN_MAX_MS		2000
#define NODE_GIVEUP_MS		120000	/* ms without ever joining before rebooting */
/*
 * Bytes the master link may queue before a send fails and the link is
 * dropped.  Process output stops being read at PROC_LINK_HIGH (proc_io.c),
 * checked before every read, so output overshoots that mark by one frame
 * at most; the rest of this cap is room for what is never held back: exit
 * and stop reports, acks, status, NEED lists.  Keep it well above
 * PROC_LINK_HIGH or a slow master turns into a dropped link.
 */
#define NODE_LINK_OUTMAX	(8u << 20)
#define DHCP_BUSYBOX		"/bin/busybox"	/* its udhcpc is the DHCP fallback */
#define DHCP_SCRIPT		"/run/bproc-udhcpc"	/* udhcpc's event script */
#define DHCP_LEASE_TAG		"bproc-lease"	/* the script's line nodeinit reads */
#define DHCP_TRIES		"5"	/* udhcpc -t: DHCPDISCOVERs sent */
#define DHCP_PAUSE		"2"	/* udhcpc -T: seconds between them */
#define DHCP_TIMEOUT_MS		30000	/* ms before a silent udhcpc is killed */

struct node_conf {
	char		master_addr[64];
	int		master_port;
	char		ip[64];		/* from ip=: client address */
	char		gw[64];
	char		netmask[64];
	char		iface[32];
	char		keyfile[128];
	int		virt;		/* bproc.virtual=1: a namespace, not a machine */
	int		debug;
};

extern struct node_conf	ncf;
extern int		node_stage;
extern int		node_num;
extern int		master_proto;	/* uplink.c: the master's protocol version */

/* boot.c: command line, mounts, power, the udhcpc fallback */
void		boot_mounts(void);
void		boot_args(int, char **);
int		boot_dhcp(void);
void		node_poweroff(int) __attribute__((noreturn));

/* modules.c: the NIC's kernel modules */
void		modules_load(void);
int		modules_wait_iface(const char *);

/* netlink.c: NIC setup */
int		nl_link_up(const char *);
int		nl_addr_add(const char *, const char *, int);
int		nl_route_default(const char *);
int		nl_mask_len(const char *);

/*
 * uplink.c: the master link.  What it receives for the modules above it
 * (the process host, the blob fetcher) goes through these hooks, which
 * nodeinit.c fills in, so the link imports neither.
 */
enum uplink_state {
	LINK_IDLE,		/* waiting to (re)connect */
	LINK_CONNECTING,
	LINK_AUTH,		/* challenge answered, waiting for confirm */
	LINK_HELLO,		/* sealed; waiting for WELCOME */
	LINK_UP,
	LINK_DEAD,		/* failed; uplink_reap() closes it */
	LINK_NSTATES
};
struct proto_frame;
struct uplink_hooks {
	void	(*setup)(const struct proto_frame *);	/* MSG_SETUP */
	void	(*exec)(const struct proto_frame *);	/* MSG_EXEC */
	void	(*blob)(const struct proto_frame *);	/* MSG_BLOB */
	void	(*signal)(const struct proto_frame *);	/* MSG_SIGNAL */
	void	(*input)(const struct proto_frame *);	/* MSG_IO */
	void	(*ack)(const struct proto_frame *);	/* MSG_IO_ACK */
	void	(*fork_result)(const struct proto_frame *);	/* MSG_FORK_RESULT */
	void	(*kill_result)(const struct proto_frame *);	/* MSG_KILL_RESULT */
	void	(*image)(const struct proto_frame *);	/* MSG_IMAGE (migrate.c) */
	void	(*relay)(const struct proto_frame *);	/* MSG_RELAY (relay.c) */
	int	(*holding)(void);	/* 1: do not read the link for now */
	void	(*lost)(int);		/* the link closed; 1: it had been up */
	/* a master restart (grace.c) */
	void	(*welcome)(const struct proto_frame *);	/* MSG_WELCOME */
	void	(*resume)(const struct proto_frame *);	/* MSG_RESUME */
	void	(*reap)(const struct proto_frame *);	/* MSG_REAP */
	void	(*alone)(uint64_t);	/* idle since then, no master */
};
extern struct uplink_hooks	uplink_hooks;
void		uplink_init(void);
/* fills the poll slot for the master link; returns the timeout in ms */
int		uplink_poll_setup(int *, short *);
void		uplink_poll_event(short);
void		uplink_timer(void);
/* closes a link a handler marked dead; only the main loop calls it */
void		uplink_reap(void);
int		link_send_msg(struct wire_msg *);
const unsigned char *uplink_key(void);
size_t		link_pending(void);
void		link_setup_done(void);

/* uplink_fsm.c: the link's edges */
int		uplink_edge_ok(int, int);
const char	*uplink_state_name(int);

/* uplink_net.c: lo and the NIC, before the link dials; the MAC into the buffer */
int		uplink_net_up(unsigned char *);

/* node_status.c: what MSG_STATUS reports; the time nodeinit began */
void		node_status_fill(struct wire_msg *, uint64_t);

/* userdb.c: /etc/passwd, group and hosts from MSG_USERS */
void		userdb_replace(const struct proto_frame *);

/*
 * The process host: proc.c its records, spawn.c starts a process for a
 * ghost, proc_io.c its stdio, proc_sig.c its signals and wait statuses,
 * proc_rejoin.c a master restart.
 */
struct pollfd;
void		spawn_exec(const struct wire_hdr *, struct wire_attr *,
		    const unsigned char *, size_t);
int		proc_hosts(pid_t);
int		proc_hosted_count(void);
/* what proc.c tells the modules above it; nodeinit.c fills it in */
struct rproc_hooks {
	void	(*freed)(pid_t);	/* the record of that ghost's process is gone */
};
extern struct rproc_hooks	rproc_hooks;
void		proc_ack(struct wire_attr *);
void		proc_input(struct wire_attr *);
int		proc_poll_setup(struct pollfd *, int);
void		proc_poll_event(struct pollfd *, int);
void		proc_signal(struct wire_attr *);
void		proc_reap(void);
void		proc_kill_all(void);

/* migrate.c: an EXEC with EXEC_F_IMAGE runs bprestore on MSG_IMAGE */
int		migrate_prepare(pid_t, int *);
void		migrate_exec(int);
struct proto_frame;
void		migrate_image(const struct proto_frame *);
void		migrate_forget(pid_t);
void		proc_result(pid_t, pid_t, int, const char *);
int		migrate_holding(void);
int		migrate_poll_count(void);
void		migrate_init(void);
struct pollfd;
int		migrate_poll_setup(struct pollfd *, int);
void		migrate_poll_event(struct pollfd *, int);

/*
 * The tree of processes the remote ones create: track.c its tasks and
 * the seize, track_filter.c the seccomp filter and call skipping,
 * track_fork.c a clone that waits for its ghost, track_calls.c the other
 * calls the filter stops, track_event.c a tracee's wait statuses.  What
 * these files tell the process host goes through track_hooks, which
 * nodeinit.c fills in, so they import none of it.
 */
struct track_hooks {
	/* getppid() of the process started for a ghost: its ghost's parent, or 0 */
	pid_t	(*fe_ppid)(pid_t);
	/* a process of top's session ends as gpid: what it wrote goes by its ghost first */
	void	(*session_flush)(pid_t, pid_t);
};
extern struct track_hooks	track_hooks;
int		track_child(int);
int		track_attach(pid_t, pid_t);
int		track_event(pid_t, int);
void		track_fork_result(const struct wire_hdr *, struct wire_attr *);
void		track_stopsig(pid_t, int);
int		track_signal(pid_t, int);
pid_t		track_top_of(pid_t);
pid_t		track_session_member(pid_t);
int		track_count(void);
pid_t		track_gpid(pid_t);
void		track_kill_all(void);
int		track_catches(pid_t, int);

/* sigfwd.c: kill(2) of a PID elsewhere goes to the master */
#define SIGFWD_QUEUE64	1	/* rt_sigqueueinfo, a 64-bit siginfo */
#define SIGFWD_QUEUE32	2	/* ... an i386 one */
void		sigfwd_stop(pid_t, pid_t, int, int, const uint64_t *);
void		sigfwd_result(const struct proto_frame *);
void		sigfwd_forget(pid_t);
void		sigfwd_lost(int);
/* what sigfwd.c asks of the modules above it; nodeinit.c fills it in */
struct sigfwd_hooks {
	int	(*keeping)(void);	/* 1: processes wait for a master to come */
};
extern struct sigfwd_hooks	sigfwd_hooks;
void		sigfwd_resume(pid_t);

/* grace.c: processes outlive a master restart */
int		grace_keeping(void);
void		grace_lost(void);
void		grace_tick(uint64_t);
void		grace_welcome(struct wire_attr *);
/* cmdline.c: a process's command line as one A_ARG */
void		cmdline_put(struct wire_msg *, pid_t);
/* proc_rejoin.c and track*.c, their halves of it */
void		proc_pause_all(void);
int		proc_rejoin_report(void);
void		proc_resume(struct wire_attr *);
void		proc_reap_one(struct wire_attr *);
/* a process of top's session ends as gpid: what it wrote goes by its ghost first */
void		proc_session_flush(pid_t, pid_t);
/* getppid() of the process started for a ghost: its ghost's parent, or 0 */
pid_t		proc_fe_ppid(pid_t);
/* a tracee in its seccomp stop: the call is skipped and returns ret (0; -1 when it cannot be) */
int		track_skip_call(pid_t, long);
int		track_children(void);
void		track_link_lost(void);
int		track_rejoin_report(void);
void		track_resume(pid_t);

/* cache.c */
#define CACHE_DIR	"/var/lib/bproc/cache"	/* on the root fs: links need one fs */
struct blob;
/* what the cache asks above it; nodeinit.c fills it in */
struct cache_hooks {
	int	(*hosts)(pid_t);	/* 1: that process still runs here */
};
extern struct cache_hooks	cache_hooks;
extern uint64_t	cache_bytes;
void		cache_init(void);
void		cache_set_budget(uint64_t, unsigned int);
void		cache_tick(void);
struct blob	*cache_find(const char *);
struct blob	*cache_add(const char *, uint64_t);
int		cache_by_hash(const unsigned char *, char *, size_t, uint64_t *);
void		cache_linked(const char *, struct blob *, uid_t, int);
int		cache_owner(const char *, uid_t *);
struct stat;
struct blob	*cache_serves(const char *, const struct stat *, const unsigned char *);
void		cache_mark_applet(const char *);
int		cache_is_linked(const char *);
int		cache_hold_new(pid_t);
int		cache_hold(pid_t, struct blob *);
int		cache_hold_alias(pid_t, const char *, struct blob *);
const char	*cache_alias(pid_t, const char *);
void		cache_unhold(pid_t);
void		cache_prune(pid_t);
int		cache_room(pid_t, uint64_t, uint64_t, char *, size_t);

/* pending.c: the pushes under way */
int		push_pending(pid_t);
uint64_t	push_reserved(void);
/* fetch.c: blobs pushed to the node, the setup push; and proc.c's rest */
int		push_prepare(pid_t, const struct wire_hdr *, const unsigned char *,
		    size_t, char *, size_t);
void		push_blob(struct wire_attr *, const unsigned char *, size_t);
void		push_setup(const struct wire_hdr *, struct wire_attr *,
		    const unsigned char *, size_t);
void		push_abort_all(void);
/* blob_rx.c: what relay.c reads and feeds */
int		push_relay_feed(pid_t, const unsigned char *, struct wire_attr *,
		    const unsigned char *, size_t, uint64_t *);
int		push_relay_want(pid_t, const unsigned char *, uint64_t *);
int		push_source(const unsigned char *, char *, size_t, uint64_t *,
		    uint64_t *, uint32_t *);

/* relay.c: relay links, the node's half of the relay tree */
extern uint64_t	relay_served_bytes;
void		relay_init(void);
void		relay_order(struct wire_attr *);
int		relay_tick(void);
int		relay_poll_count(void);
int		relay_poll_setup(struct pollfd *, int);
void		relay_poll_event(struct pollfd *, int);

#endif
