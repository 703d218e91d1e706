/* bpmaster: shared state and the prototype block of its modules. */
#ifndef BPMASTER_H
#define BPMASTER_H

#include <stdint.h>
#include <sys/types.h>

#include "auth.h"
#include "conn.h"
#include "event.h"
#include "proto.h"

#define MASTER_CONF		"/etc/bproc/bpmaster.conf"	/* default config file */
#define MASTER_KEYFILE		"/etc/bproc/cluster.key"	/* default cluster key */
#define MASTER_STATEFILE	"/var/lib/bproc/nodes"		/* discovered MAC table */
#define MASTER_MAXNODES		4096	/* node numbers the table may hold */
#define MASTER_LINK_PREAUTH_MAX	1024	/* unauthenticated node links at once, all sources */
#define MASTER_LINK_OUTMAX	(64u << 20)	/* queued bytes per node link */
#define MASTER_LINK_HIGH	(8u << 20)	/* queued on a node link: its ghosts are not read */
#define MASTER_LINK_LOW		(2u << 20)	/* ... until it drains to this */
#define MASTER_CTL_OUTMAX	(64u << 20)	/* queued bytes per tool */
#define MASTER_CTL_MAX		16384	/* control connections, whatever the descriptor limit */
#define MASTER_CTL_FD_SPARE	64	/* descriptors kept from the control socket for files, listeners */
#define MASTER_CTL_ROOT_SPARE	16	/* the last control slots, root's alone */
#define MASTER_CTL_PER_UID	32	/* a user's tools: connections not (yet) ghosts or watchers */
#define MASTER_CTL_WATCH_PER_UID 8	/* a user's watchers (bpstat -U) */
#define MASTER_CTL_WATCH_FRAME	256	/* largest frame from a watcher */
#define MASTER_CTL_OUT_HIGH	(1u << 20)	/* queued to a tool: its next requests wait */
#define MASTER_CTL_IDLE_MS	10000	/* a tool that says nothing this long is closed */
#define MASTER_CTL_BACKOFF_MS	100	/* accept found no descriptor: the listener rests */
#define MASTER_GHOST_WAIT_MS	10000	/* after its EXEC started, a client has this long to be bpghost */
#define MASTER_GHOST_PATH	"/usr/libexec/bproc/bpghost"	/* the installed ghost, if not next to bpmaster */
#define MASTER_NOTIFY_MS	50	/* coalesce change notifications */
#define MASTER_PUSH_MAX		20000	/* files of the setup push list */
#define MASTER_FANOUT		2	/* default fanout: docs/push.md, "Tree fan-out" */
#define MASTER_FANOUT_MAX	64	/* the widest relay tree a config may ask for */

struct mac_entry {
	unsigned char	mac[6];
	int		node;
};

/* Network boot: what bpmaster tells dnsmasq about one node. */
struct boot_host {
	int		node;
	uint32_t	addr;		/* host order; 0: from boot_addr's base */
	int		pxelinux;	/* boot through pxelinux.0, not iPXE */
};

/* Out-of-band power: one node's BMC ("bmc" lines, power.c). */
struct bmc_host {
	int		node;
	char		host[64];	/* address or name ipmitool -H takes */
	char		port[8];	/* "" : IPMI's 623 */
	char		user[64];
	char		passfile[256];	/* "" : bmc_passfile's */
};

#define BMC_TIMEOUT_S	8	/* default bmc_timeout: under MASTER_CTL_IDLE_MS */
#define BMC_POLL_S	30	/* default bmc_poll: chassis status every so often */

struct master_conf {
	char		 listen_addr[64];
	int		 listen_port;
	char		 interface[32];
	char		 control[108];
	char		 keyfile[256];
	char		 statefile[256];
	int		 nodes;
	int		 discovery;
	unsigned int	 heartbeat_ms;
	unsigned int	 timeout_ms;
	/* network boot (config.c's boot block, dnsmasq.c) */
	char		 dhcp_hosts[256];	/* dnsmasq's dhcp-hostsfile; "" none */
	char		 hosts[256];	/* the nodes' /etc/hosts (users.c); "" none */
	char		 dnsmasq_pidfile[256];	/* whom to SIGHUP; "" none */
	uint32_t	 boot_base;	/* node 0's address, host order; 0 none */
	struct boot_host *boot_hosts;	/* per-node address and pxelinux */
	size_t		 nboot_hosts;
	struct mac_entry *macs;		/* from "node N MAC" lines */
	size_t		 nmacs;
	/* the node RAM cache (docs/push.md) */
	uint64_t	 cache_budget;	/* bytes; 0: cache_share decides */
	unsigned int	 cache_share;	/* percent of node RAM; 0: the node's half */
	char		**push;		/* "push PATH": files every node gets at setup */
	size_t		 npush;
	/* out-of-band power (config.c's bmc block, power.c) */
	struct bmc_host	*bmcs;
	size_t		 nbmcs;
	char		 bmc_passfile[256];	/* default password file */
	int		 bmc_cipher;		/* ipmitool -C; -1: its default */
	unsigned int	 bmc_timeout_s;		/* per ipmitool run */
	unsigned int	 bmc_poll_s;		/* 0: no polling */
	unsigned int	 bmc_hung_s;		/* 0: no hung-node policy */
	char		 bmc_ipmitool[256];	/* the program */
	/* a master restart (rejoin.c) */
	unsigned int	 grace_ms;	/* master_grace: nodes and ghosts wait this long */
	unsigned int	 alone_reboot_ms;	/* node_alone_reboot; 0 never */
	/* the relay tree for blobs (relay.c) */
	unsigned int	 fanout;	/* children per relay; 0: no tree */
};

struct nodelink;
struct setup_push;
struct ctlconn;
struct ucred;

struct proc {
	pid_t		 pid;		/* the ghost's, and the name of the process */
	pid_t		 rpid;		/* on the node, if set_tid could not match */
	int		 node;
	uid_t		 uid;
	int		 started;	/* the node answered the EXEC */
	int		 exited;
	int		 traced;	/* ptrace-seized: we see its SIGSTOPs */
	int		 rstopped;	/* the node last reported it stopped */
	int		 held;		/* ghost held in its SIGSTOP's delivery */
	int		 pidfd;		/* the checked ghost's, while traced */
	char		*cmd;
	struct ctlconn	*ghost;		/* NULL once the ghost is gone */
	struct proc	*next;
	/* tree.c: processes forked on the node */
	pid_t		 ppid;		/* the parent's ghost; 0 for the first */
	int		 child;		/* forked on the node, not started by a tool */
	int		 forked;	/* the node reported its clone */
	int		 nospare;	/* EXEC_F_NOSPARE: its ghosts keep no spare */
	struct rejoin	*rj;		/* rejoin.c: half of it is back after a restart */
	uint64_t	 fwd[3];	/* output bytes sent on to the ghost, per stream */
	int		 holding;	/* MSG_HOLDs the ghost has not answered */
	/* migrate.c */
	int		 home;		/* coming home: its image goes to the ghost */
};

struct node {
	int		 num;
	int		 state;		/* NODE_* */
	uid_t		 uid;
	gid_t		 gid;
	unsigned int	 mode;
	unsigned char	 mac[6];
	int		 has_mac;
	char		 addr[64];
	struct nodelink	*link;		/* NULL when not connected */
	uint64_t	 last_seen;	/* ev_now() of the last frame, 0 never */
	unsigned int	 load[3];
	unsigned int	 cpus;
	uint64_t	 mem_total;
	uint64_t	 mem_free;
	uint64_t	 uptime;
	unsigned int	 nprocs;
	int		 stage;
	uint64_t	 cache_bytes;
	uint64_t	 push_bytes;
	uint64_t	 last_status;	/* ev_now() of the last STATUS, 0 never */
	struct setup_push *setup;	/* setup_push.c's, while it runs */
};

/*
 * What the node table and the node links tell the modules above them
 * (the control socket, the process space, the setup push, the users)
 * without importing them: bpmaster.c fills these in at start.
 */
struct node_hooks {
	void	(*changed)(void);		/* something watchers show changed */
	int	(*connected)(struct node *);	/* welcomed: -1 if a send failed */
	void	(*down)(struct node *);		/* its link is closing */
	void	(*lost)(struct node *, const char *);	/* ... and the node
						   still lives: before down */
	void	(*drained)(int);		/* node num's link has room again */
	int	(*setup)(struct node *, const struct proto_frame *);	/* PROTO_SETUP_PID */
	int	(*proc)(struct node *, const struct proto_frame *);	/* any other process */
	int	(*tree)(struct node *, const struct proto_frame *);	/* FORK, FORKED, EXECED, PGRP */
	int	(*kill)(struct node *, const struct proto_frame *);	/* KILL (nodekill.c) */
	/* a master restart (rejoin.c, persist.c) */
	void	(*hello)(struct node *, struct wire_attr *, struct wire_msg *);
						/* HELLO; its WELCOME, to add to */
	int	(*rejoin)(struct node *, const struct proto_frame *);	/* REJOIN, REJOIN_END */
	void	(*setup_done)(struct node *);	/* boot -> up */
};

/* What the control socket hands the process space (bpmaster.c fills it in). */
struct ctl_hooks {
	void	(*exec)(struct ctlconn *, const struct ucred *,
		    const struct proto_frame *);
	int	(*from_ghost)(struct proc *, const struct proto_frame *);
	void	(*ghost_gone)(struct proc *);	/* its connection closes */
	void	(*procs)(struct ctlconn *, uint32_t);
	int	(*check_ghost)(pid_t, uid_t, int, const char **);
	void	(*ghost)(struct proc *, int);	/* checked: trace it */
	void	(*fork_result)(struct proc *, struct wire_attr *);
	int	(*rejoin)(struct ctlconn *, const struct ucred *, int,
		    struct wire_attr *);	/* MSG_GHOST_REJOIN (rejoin.c) */
	void	(*settings)(void);	/* bpctl set a node's state, owner, mode */
	void	(*standin)(struct ctlconn *, const struct ucred *, int,
		    struct wire_attr *);	/* MSG_STANDIN (standin.c) */
	void	(*conn_gone)(struct ctlconn *);	/* any connection closes
						   (power.c's waiters) */
};

extern struct master_conf	 conf;
extern struct node		*nodes;
extern int			 numnodes;
extern unsigned char		 cluster_key[AUTH_KEY_LEN];

/* config.c */
int	conf_load(const char *, struct master_conf *);
int	mac_parse(const char *, unsigned char *);
void	mac_format(const unsigned char *, char *, size_t);

/* notify.c: readiness and stopping for systemd (sd_notify's datagram) */
void	notify_send(const char *);

/* power.c */
int	power_init(void);
void	power_request(struct ctlconn *, uid_t, uint32_t, struct wire_attr *);
void	power_ctl_gone(struct ctlconn *);
void	power_put_node(struct wire_msg *, int);

/* dnsmasq.c */
void	dnsmasq_update(void);
int	dnsmasq_host_line(const struct node *, char *, size_t);

/* node.c: the node table and its states */
extern struct node_hooks	node_hooks;
int	node_grow(int);
int	node_edge_ok(int, int);
int	node_transition(struct node *, int, const char *);
int	node_set_state(struct node *, int, uid_t, const char **);
int	node_lives(const struct node *, int, int, uint64_t);
void	node_changed(void);

/* discovery.c: MACs to node numbers, and the table that persists them */
int	discovery_init(void);
struct node *discovery_node(const unsigned char *);

/* nodelink.c: the node links */
int	node_send(struct node *, struct wire_msg *);
void	node_fail(struct node *, const char *);
size_t	node_queued(int);
int	node_power(struct node *, int, uid_t, const char **);
uint32_t node_rtt_us(const struct node *);

/* nodelink_accept.c: the node port */
int	node_listen(void);
void	node_shutdown(void);

/* mem.c: memory a burst grew goes back to the system */
#define MEM_RELEASE_MIN		(256u << 10)	/* bytes freed that call for a trim */
void	mem_init(void);
void	mem_release(size_t);

/* setup_push.c: the "push" list every node gets at setup */
void	setup_push_scan(void);
int	setup_push_start(struct node *);
void	setup_push_end(struct node *);
int	setup_push_frame(struct node *, const struct proto_frame *);

/* relay.c: the relay tree for blobs */
extern uint64_t	relay_sessions_made;
void	relay_exec_sent(struct proc *, const unsigned char *, size_t);
int	relay_need(struct node *, const struct proto_frame *);
int	relay_done(struct node *, const struct proto_frame *);
void	relay_exec_result(struct node *, const struct proto_frame *);
void	relay_proc_gone(struct proc *);
void	relay_node_down(struct node *);

/* users.c: passwd and group lines for the nodes */
void	users_init(void);
int	users_send(struct node *);

/*
 * What the process table tells the features above it (migrate.c,
 * rejoin.c, relay.c, standin.c, trace.c, tree.c); proc_wire.c fills it in.
 */
struct proc_hooks {
	void	(*freed)(struct proc *);	/* its record goes */
	void	(*came_home)(struct proc *);	/* ... as it came home */
	int	(*waits_node)(const struct proc *);	/* node away: rejoin.c */
	int	(*queue_sig)(struct proc *, int);	/* ... the signal waits */
	int	(*ghost_gone)(struct proc *);	/* 1: a move home's end */
	int	(*migrate_ghost)(struct proc *, const struct wire_hdr *,
		    struct wire_attr *, const unsigned char *, size_t);
	int	(*hold_ghost)(struct proc *, const struct wire_hdr *,
		    struct wire_attr *);	/* 1: held, its node away */
	int	(*migrate_node)(struct node *, struct proc *,
		    const struct wire_hdr *, struct wire_attr *,
		    const unsigned char *, size_t);	/* MOVE, IMAGE */
	int	(*standin_node)(struct node *, const struct wire_hdr *,
		    struct wire_attr *);	/* 1: a stand-in's frame */
	void	(*runs)(struct proc *);		/* an image restored runs */
	void	(*stopped)(struct proc *, uint32_t);	/* the remote stopped */
	void	(*exited)(struct proc *, uint32_t);	/* ... or ended */
	int	(*stop_ghost)(struct proc *);	/* 0: the ghost is stopped */
	void	(*cont_ghost)(struct proc *);
	pid_t	(*ppid)(const struct proc *);	/* its parent, for bpstat */
};

/* proc.c: the process table */
extern struct proc_hooks	proc_hooks;
struct proc *proc_find(pid_t);
void	proc_insert(struct proc *);
void	proc_fail(struct ctlconn *, pid_t, int, const char *);
void	proc_ghost_gone(struct proc *);
int	proc_from_ghost(struct proc *, const struct wire_hdr *,
	    struct wire_attr *, const unsigned char *, size_t);
int	proc_from_node(struct node *, const struct wire_hdr *,
	    struct wire_attr *, const unsigned char *, size_t);
void	proc_node_down(struct node *);
void	proc_list(struct ctlconn *, uint32_t);
int	proc_count(void);
int	proc_signal_remote(struct proc *, int);

/* proc_launch.c: EXEC checked, sent and recorded */
void	proc_exec(struct ctlconn *, const struct ucred *, struct wire_attr *,
	    const unsigned char *, size_t);

/* proc_wire.c: the process table's hooks wired to the features */
void	proc_wire_hooks(void);

/* migrate.c */
int	migrate_from_ghost(struct proc *, const struct wire_hdr *,
	    struct wire_attr *, const unsigned char *, size_t);
int	migrate_from_node(struct node *, struct proc *, const struct wire_hdr *,
	    struct wire_attr *, const unsigned char *, size_t);
void	migrate_home_seen(struct proc *);
int	migrate_ghost_gone(struct proc *);
void	proc_came_home(struct proc *);

/* standin.c */
int	standin_move(struct node *, struct proc *, struct wire_attr *);
void	standin_move_failed(pid_t);
void	standin_proc_gone(struct proc *);
void	standin_came_home(struct proc *);
void	standin_child_runs(struct proc *);
void	standin_child_exit(struct proc *, uint32_t);
void	standin_child_stopped(struct proc *, uint32_t);
int	standin_blocks(pid_t, int);
void	standin_from_ctl(struct ctlconn *, const struct ucred *, int,
	    struct wire_attr *);
int	standin_from_node(struct node *, const struct wire_hdr *,
	    struct wire_attr *);
void	standin_node_down(struct node *);
void	trace_let_go(struct proc *);

/* tree.c */
int	tree_from_node(struct node *, const struct wire_hdr *,
	    struct wire_attr *, const unsigned char *, size_t);
void	tree_from_ghost(struct proc *, struct wire_attr *);
void	tree_proc_gone(struct proc *);
pid_t	tree_ppid(const struct proc *);
pid_t	tree_ppid_of(pid_t);
pid_t	tree_spare_home(struct proc *);
struct proc *proc_add(pid_t, int, uid_t, const char *);

/* nodekill.c: kill(2) from a node of a PID elsewhere */
int	nodekill_from_node(struct node *, const struct proto_frame *);

/* spare.c: child ghosts forked ahead */
int	spare_have(pid_t);
void	spare_keep(struct proc *, int, const struct ucred *);
int	spare_take(struct proc *, int *, struct ucred *, int *);
pid_t	spare_drop(pid_t, int);

/* rejoin.c: the process table rebuilt after a master restart */
#define MASTER_GRACE_MS		60000	/* master_grace's default (docs/design-notes.md) */
void	rejoin_init(void);
int	rejoin_ghost(struct ctlconn *, const struct ucred *, int,
	    struct wire_attr *);
int	rejoin_from_node(struct node *, const struct proto_frame *);
void	rejoin_hello(struct node *, struct wire_attr *, struct wire_msg *);
void	rejoin_reap(struct proc *);
void	rejoin_free(struct proc *);
void	rejoin_node_lost(struct node *, const char *);
void	rejoin_node_off(int, const char *);
int	rejoin_waits_node(const struct proc *);
int	rejoin_queue_sig(struct proc *, int);
int	rejoin_from_ghost(struct proc *, const struct wire_hdr *,
	    struct wire_attr *);
void	proc_foreach(void (*)(struct proc *, void *), void *);
void	proc_forget(struct proc *);

/* persist.c: bpctl's settings survive a restart */
void	persist_load(void);
void	persist_save(void);
void	persist_apply(struct node *);

/* verify.c */
int	verify_manifest(struct wire_msg *, const struct ucred *, const gid_t *,
	    int, const unsigned char *, size_t, char *, size_t);

/* trace.c */
int	trace_init(void);
int	trace_check_ghost(pid_t, uid_t, int, const char **);
void	trace_ghost(struct proc *, int);
void	trace_forget(struct proc *);
int	trace_stop_ghost(struct proc *);
void	trace_cont_ghost(struct proc *);
void	trace_release(struct proc *);
void	trace_reap(void);

/* ctl.c: a control connection */
int	ctl_send_msg(struct ctlconn *, struct wire_msg *);
void	ctl_set_proc(struct ctlconn *, struct proc *);
struct proc *ctl_get_proc(struct ctlconn *);
int	ctl_send_fd(struct ctlconn *, struct wire_msg *, int);
int	ctl_peer_groups(struct ctlconn *, gid_t *, int);
void	ctl_resume(int);
int	ctl_refuse(struct ctlconn *);
int	ctl_is_ghost(const struct ctlconn *);

/* ctl_accept.c: the control socket */
int	ctl_listen(const struct ctl_hooks *);
void	ctl_shutdown(void);
struct ctlconn *ctl_adopt(int, const struct ucred *, struct proc *, int);

/* ctl_watch.c: watchers told of changes */
void	ctl_notify(void);

/* ctl_proc.c: processes and their ghosts */
void	ctl_ghost_rejoined(struct ctlconn *, struct proc *, int);

#endif
