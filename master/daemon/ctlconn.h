/*
 * What the control socket's files share: ctl.c a connection's life,
 * ctl_users.c what each uid may hold, ctl_accept.c the socket itself,
 * ctl_routes.c the message table and the handlers of ctl_nodes.c (node
 * tables and changes), ctl_watch.c (watchers) and ctl_proc.c (processes
 * and their ghosts).  The rest of the daemon sees struct ctlconn only
 * through bpmaster.h's ctl_* calls.
 */
#ifndef CTLCONN_H
#define CTLCONN_H

#include <sys/socket.h>

#include "bpmaster.h"
#include "list.h"

enum ctl_kind {
	CTL_TOOL,		/* a tool's request, or nothing said yet */
	CTL_WATCHER,		/* CTL_WATCH: told about every change */
	CTL_EXEC,		/* sent EXEC: a process record, not yet the ghost */
	CTL_GHOST,		/* bpghost, checked (trace_check_ghost) */
	CTL_KINDS
};

/* What one uid holds; kept while it holds anything. */
struct ctluser {
	uid_t		 uid;
	int		 n[CTL_KINDS];	/* connections of each kind */
	int		 fds;		/* descriptors: connections + pidfds */
	struct ctluser	*next;
};

struct ctlconn {
	struct conn	 c;
	struct ucred	 cred;
	int		 kind;		/* CTL_* */
	int		 dead;		/* closed by ctl_reap after this handler */
	const char	*why;		/* ... and the reason it logs, if any */
	int		 resume;	/* read by ctl_reap: its node link drained */
	struct proc	*proc;		/* set when this connection is a ghost */
	int		 pidfd;		/* the ghost's (CTL_GHOST), else -1 */
	int		 throttled;	/* not read while its node's link is full */
	int		 pushed;	/* was a ghost: late blobs are dropped */
	struct ev_timer	 idle;		/* tools that go quiet are closed */
	struct ctluser	*user;
	DLIST_LINK(ctlconn) all;	/* ctls */
};

/* A connection's phases, as its routes name them (ctl_phase). */
enum ctl_phase {
	CTL_PH_TOOL,		/* a tool's requests */
	CTL_PH_WATCHER,		/* listens; may still ask for tables */
	CTL_PH_PROC,		/* sent EXEC, or the ghost: its process's frames */
	CTL_PH_ENDED		/* its process ended: late blobs are dropped */
};

DLIST_HEAD(ctlconns, ctlconn);

extern struct ctlconns	 ctls;
/* the process space's hooks and ctl_routes.c's table, from ctl_listen */
extern const struct ctl_hooks *ctl_proc_hooks;
extern const struct proto_role *ctl_table;
extern int		 nctls;
extern int		 nctl_fds;	/* connections + pidfds, every uid */
extern uint64_t		 ctl_started;	/* ev_now() when it began to listen */
extern struct ev_timer	 ctl_notify_timer;
extern const struct proto_role ctl_role;

/* ctl.c */
void	ctl_kill(struct ctlconn *, const char *);
void	ctl_close(struct ctlconn *);
void	ctl_reap(void);
int	ctl_send(struct ctlconn *, struct wire_msg *);
int	ctl_flush(struct ctlconn *);
void	ctl_event(int, uint32_t, void *);
void	ctl_idle(void *);

/* ctl_users.c */
struct ctluser *ctl_user_get(uid_t, int);
void	ctl_user_put(struct ctluser *);
void	ctl_set_kind(struct ctlconn *, int);
int	ctl_fd_slots(void);
struct ctluser *ctl_user_top(void);
const char *ctl_admit(uid_t);

/* ctl_nodes.c */
int	ctl_on_nodes(void *, const struct proto_frame *);
int	ctl_on_master(void *, const struct proto_frame *);
int	ctl_on_set(void *, const struct proto_frame *);
int	ctl_on_power(void *, const struct proto_frame *);

/* ctl_watch.c */
int	ctl_on_watch(void *, const struct proto_frame *);

/* ctl_proc.c */
int	ctl_on_ghost(void *, const struct proto_frame *);
int	ctl_on_exec(void *, const struct proto_frame *);
int	ctl_on_procs(void *, const struct proto_frame *);
int	ctl_on_proc(void *, const struct proto_frame *);
int	ctl_on_fork_result(void *, const struct proto_frame *);
int	ctl_on_blob(void *, const struct proto_frame *);
int	ctl_on_standin(void *, const struct proto_frame *);
int	ctl_on_ghost_rejoin(void *, const struct proto_frame *);

#endif
