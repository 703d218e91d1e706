/*
 * bpweb: the cluster's status as a web page and as Prometheus metrics.
 * An unprivileged daemon, a client of bpmaster's control socket like the
 * other tools: bpweb.c (options, the listening socket, the privilege drop,
 * the loop that follows the master), web_snap.c (the snapshot every
 * request is answered from), web_json.c and web_metrics.c (what a snapshot
 * looks like as JSON and in Prometheus's text format), web_http.c
 * (libmicrohttpd: the routes, server-sent events, the embedded page),
 * web_buf.c (a growable text buffer).
 */
#ifndef BPWEB_H
#define BPWEB_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bproc.h"

#define WEB_PORT		8223	/* default TCP port (BProc's 2223, plus 6000) */
#define WEB_USER		"_bproc"	/* whom to run as when started as root ... */
#define WEB_USER_FALLBACK	"nobody"	/* ... or this, if there is no _bproc */
#define WEB_REFRESH_MS		1000	/* a new snapshot at least this often */
#define WEB_MIN_GAP_MS		100	/* and at most this often, however busy */
#define WEB_RETRY_MS		1000	/* master unreachable: try again after */
#define WEB_CONN_MAX		64	/* HTTP connections at once (a thread each) */
#define WEB_CONN_PER_IP		16	/* ... from one address */
#define WEB_CONN_TIMEOUT_S	60	/* an idle HTTP connection is closed */
#define WEB_SSE_KEEPALIVE_MS	15000	/* an event stream sends a comment this often */

struct buf {
	char	*p;
	size_t	 len;
	size_t	 cap;
	int	 oom;		/* an append failed: the text is incomplete */
};

/* Remote processes of one user (uid), for the per-user counts. */
struct web_user {
	uid_t	 uid;
	char	 name[64];
	int	 nprocs;
};

/*
 * Everything the master said at one moment.  Built by the main thread,
 * read by the HTTP threads under web_lock.
 */
struct web_snap {
	uint64_t		 gen;		/* goes up with every snapshot */
	double			 time;		/* when taken, Unix seconds */
	int			 master_up;	/* the master answered */
	char			 master_err[256];	/* why not */
	struct bproc_master_info mi;
	struct bproc_node_info	*nodes;
	int			 nnodes;
	int			*rprocs;	/* remote processes per node */
	struct bproc_proc_info	*procs;
	int			 nprocs;
	struct web_user		*users;
	int			 nusers;
	char			(*owner)[64];	/* per node: owner, group names */
	char			(*group)[64];
};

/* web_buf.c */
void	buf_add(struct buf *, const char *, size_t);
void	buf_puts(struct buf *, const char *);
void	buf_printf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	buf_json_str(struct buf *, const char *);
void	buf_free(struct buf *);

/* web_snap.c */
extern pthread_mutex_t	 web_lock;
extern pthread_cond_t	 web_changed;
extern struct web_snap	*web_cur;	/* under web_lock; never NULL after init */
void	snap_init(void);
void	snap_take(void);
void	snap_master_lost(const char *);
const char *snap_status_json(size_t *);	/* under web_lock */

/* web_json.c */
void	json_status(struct buf *, const struct web_snap *);
int	json_node(struct buf *, const struct web_snap *, int);

/* web_metrics.c */
void	metrics_render(struct buf *, const struct web_snap *);

/* web_http.c */
int	http_start(int);
void	http_stop(void);

#endif
