/*
 * Node links and node states.  A node connects over TCP, proves it holds
 * the cluster key (auth.h), says HELLO with its MAC, gets its number, and
 * from then on reports status every heartbeat.  node_transition() alone
 * changes a node's state and logs every edge.
 *
 * Setup is where the master pushes the files of its "push" list to the
 * node (BProc's libraries): MSG_SETUP carries the cache budget and their
 * manifest, the node answers NEED with the hashes it lacks, and we stream
 * those as BLOB frames under PID 0, through the same exchange bpsh uses.
 * The node is up once they are linked in.
 *
 * A failed send, a bad frame or a lost connection only marks a link dead
 * (link_fail): the caller may be walking the process table or a tool's
 * request.  The link is closed once the handler that failed it returns:
 * at the end of its own event, or by its timer, which link_fail arms to
 * fire at once, after the current batch of events.
 *
 * Anyone who can reach the node port can open links that never
 * authenticate.  They get NODE_AUTH_MS to finish the handshake, at most
 * NODE_PREAUTH_PER_ADDR of them per source address, and NODE_PREAUTH_MAX
 * in all; at that cap the oldest link of the busiest source makes room,
 * so one source (a user's job on a node) cannot keep other nodes out.
 * What the port says about such peers is rate-limited (port_log).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "bpmaster.h"
#include "log.h"
#include "path.h"

#define PUSH_GPID	0	/* the PID setup's NEED, BLOB and result carry */
#define PUSH_HT		8192	/* buckets of the push list's path index */
#define PUSH_RESCAN_MS	1000	/* the push list is rescanned at most this often */
#define NODE_PREAUTH_MAX	1024	/* unauthenticated links at once, all sources */
#define NODE_PREAUTH_PER_ADDR	4	/* ... from one source address */
#define PREAUTH_HT		4096	/* > NODE_PREAUTH_MAX + links awaiting close */
#define NODE_PREAUTH_MIN_MS	500	/* younger ones are never evicted to make room */
#define NODE_AUTH_MS		2000	/* to authenticate and say HELLO (a LAN needs ms) */
#define NODE_ACCEPT_BATCH	256	/* connections taken per wakeup of the listener */
#define NODE_LISTEN_BACKLOG	4096	/* the kernel caps it at net.core.somaxconn */
#define NODE_ACCEPT_PAUSE_MS	100	/* the listener rests this long when out of fds */
#define NODE_LOG_BURST		10	/* port_log lines per window ... */
#define NODE_LOG_WINDOW_MS	10000	/* ... the rest are counted */

struct nodelink {
	struct conn	 c;
	int		 authed;
	int		 hello;
	int		 dead;		/* failed: closed once its handler returns */
	char		 why[160];	/* what failed it */
	struct in_addr	 from;		/* the peer's address */
	uint64_t	 born;		/* ev_now() at accept */
	unsigned char	 nm[AUTH_NONCE_LEN];
	struct node	*node;
	struct ev_timer	 timer;
	uint64_t	 last_rx;
	uint64_t	 next_ping;
	/* the setup push: hashes the node asked for, sent in order */
	unsigned char	(*sp_need)[32];
	size_t		 sp_nneed;
	size_t		 sp_next;
	int		 sp_fd;		/* the file being sent, or -1 */
	uint32_t	 sp_unacked;
	struct nodelink	*next;
	struct nodelink	*pnext;		/* in the preauth list until HELLO */
};

/* One file of the "push" list as the master hashed it. */
struct spfile {
	char		*path;
	char		*target;	/* a symlink's, else NULL */
	uint32_t	 mode, uid, gid;
	uint64_t	 size;
	dev_t		 dev;
	ino_t		 ino;
	long long	 mtime;
	unsigned char	 hash[32];
};

struct node		*nodes;
int			 numnodes;
static struct nodelink	*links;
static struct nodelink	*preauth;	/* links that have not said HELLO */
static struct spfile	*spf, *spf_old;
static size_t		 nspf, nspf_old;
static uint64_t		 push_list_bytes;
static size_t		 spf_ht[PUSH_HT];	/* index + 1 of a chain's first */
static size_t		 spf_chain[MASTER_PUSH_MAX];	/* index + 1 of the next */
static int		 npreauth;
static int		 listen_fd = -1;
static struct ev_timer	 listen_timer;

/* port_log's kinds of line, each rate-limited on its own */
enum port_log_kind {
	PORT_REFUSED,		/* connections turned away at accept */
	PORT_CLOSED,		/* unauthenticated links closed */
	PORT_NKINDS
};
static const char *const port_log_what[PORT_NKINDS] = {
	"refused connections", "closed unauthenticated links"
};
static struct {
	struct ev_timer	 timer;
	unsigned int	 logged, suppressed;
	uint64_t	 window;
}			 port_logs[PORT_NKINDS];

static void	link_close(struct nodelink *, const char *);
static void	link_fail(struct nodelink *, const char *);
static void	link_event(int, uint32_t, void *);
static void	link_tick(void *);

static void
port_log_flush(void *arg)
{
	enum port_log_kind	k = (enum port_log_kind)(uintptr_t)arg;

	if (port_logs[k].suppressed > 0)
		log_warnx("node port: %u more lines about %s suppressed in %d s",
		    port_logs[k].suppressed, port_log_what[k],
		    NODE_LOG_WINDOW_MS / 1000);
	port_logs[k].suppressed = port_logs[k].logged = 0;
	port_logs[k].window = ev_now();
}

/*
 * Log a line about an unauthenticated peer, NODE_LOG_BURST of a kind per
 * window at most: anyone who reaches the port can cause them, and must
 * not fill the disk.  What is left out is counted and said at the
 * window's end.  (Local on purpose; common/log.c's rate limiting may take
 * it over.)
 */
static void __attribute__((format(printf, 2, 3)))
port_log(enum port_log_kind k, const char *fmt, ...)
{
	char	 buf[256];
	va_list	 ap;
	void	*arg = (void *)(uintptr_t)k;

	if (ev_now() - port_logs[k].window >= NODE_LOG_WINDOW_MS) {
		ev_timer_del(&port_logs[k].timer);
		port_log_flush(arg);
	}
	if (port_logs[k].logged >= NODE_LOG_BURST) {
		if (port_logs[k].suppressed++ == 0)
			ev_timer_set(&port_logs[k].timer, port_logs[k].window +
			    NODE_LOG_WINDOW_MS - ev_now(), port_log_flush, arg);
		return;
	}
	port_logs[k].logged++;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_warnx("%s", buf);
}

/* Which edges a node may take; anything to down is always allowed. */
static int
node_edge_ok(int from, int to)
{
	if (to == NODE_DOWN)
		return 1;
	switch (from) {
	case NODE_DOWN:
		return to == NODE_BOOT;
	case NODE_BOOT:
		return to == NODE_UP || to == NODE_ERROR ||
		    to == NODE_REBOOT || to == NODE_HALT || to == NODE_PWROFF;
	case NODE_UP:
	case NODE_UNAVAILABLE:
	case NODE_ERROR:
		return to == NODE_UP || to == NODE_UNAVAILABLE ||
		    to == NODE_ERROR || to == NODE_REBOOT ||
		    to == NODE_HALT || to == NODE_PWROFF;
	default:	/* reboot, halt, pwroff end in down */
		return 0;
	}
}

int
node_transition(struct node *n, int to, const char *why)
{
	int	from = n->state;

	if (from == to)
		return 0;
	if (!node_edge_ok(from, to)) {
		log_warnx("node %d: refused %s -> %s (%s)", n->num,
		    node_state_name(from), node_state_name(to), why);
		return -1;
	}
	log_info("node %d: %s -> %s (%s)", n->num, node_state_name(from),
	    node_state_name(to), why);
	n->state = to;
	switch (to) {
	case NODE_BOOT:
		/* BProc: 0100 on connect (root only), 0111 after setup */
		n->uid = 0;
		n->gid = 0;
		n->mode = 0100;
		break;
	case NODE_UP:
		if (from == NODE_BOOT) {
			n->mode = 0111;
			persist_apply(n);
		}
		break;
	case NODE_DOWN:
		n->stage = STAGE_NONE;
		n->load[0] = n->load[1] = n->load[2] = 0;
		n->nprocs = 0;
		n->cache_bytes = 0;
		n->push_bytes = 0;
		break;
	}
	ctl_notify();
	return 0;
}

static int
node_grow(int want)
{
	struct node	*nn;
	int		 i;

	if (want <= numnodes)
		return 0;
	if (want > MASTER_MAXNODES)
		return -1;
	if ((nn = reallocarray(nodes, (size_t)want, sizeof(*nn))) == NULL)
		return -1;
	memset(nn + numnodes, 0, (size_t)(want - numnodes) * sizeof(*nn));
	for (i = numnodes; i < want; i++) {
		nn[i].num = i;
		nn[i].state = NODE_DOWN;
		nn[i].mode = 0100;
	}
	nodes = nn;
	numnodes = want;
	/* links point at nodes by address: re-aim them after realloc */
	for (i = 0; i < numnodes; i++)
		if (nodes[i].link != NULL)
			nodes[i].link->node = &nodes[i];
	return 0;
}

/* Discovered MACs persist in conf.statefile: "MAC NODE" per line. */
static void
node_state_load(void)
{
	char		 line[128], macs[32];
	unsigned char	 mac[6];
	FILE		*f;
	int		 num;

	if ((f = fopen(conf.statefile, "re")) == NULL) {
		if (errno != ENOENT)
			log_warn("%s", conf.statefile);
		return;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%31s %d", macs, &num) != 2 ||
		    mac_parse(macs, mac) == -1 || num < 0 ||
		    num >= MASTER_MAXNODES) {
			log_warnx("%s: ignoring bad line", conf.statefile);
			continue;
		}
		if (node_grow(num + 1) == -1)
			continue;
		memcpy(nodes[num].mac, mac, 6);
		nodes[num].has_mac = 1;
	}
	fclose(f);
}

static void
node_state_save(void)
{
	char	 tmp[300], macs[32];
	FILE	*f;
	int	 i;

	snprintf(tmp, sizeof(tmp), "%s.tmp", conf.statefile);
	if ((f = fopen(tmp, "we")) == NULL) {
		log_warn("%s", tmp);
		return;
	}
	for (i = 0; i < numnodes; i++)
		if (nodes[i].has_mac) {
			mac_format(nodes[i].mac, macs, sizeof(macs));
			fprintf(f, "%s %d\n", macs, i);
		}
	if (fflush(f) == EOF || fsync(fileno(f)) == -1) {
		log_warn("%s", tmp);
		fclose(f);
		return;
	}
	fclose(f);
	if (rename(tmp, conf.statefile) == -1)
		log_warn("rename %s", conf.statefile);
}

int
node_table_init(void)
{
	size_t	i;

	if (node_grow(conf.nodes) == -1)
		return -1;
	node_state_load();
	persist_load();
	node_push_scan();
	/* the config file wins over what discovery remembered */
	for (i = 0; i < conf.nmacs; i++) {
		struct node *n = &nodes[conf.macs[i].node];

		memcpy(n->mac, conf.macs[i].mac, 6);
		n->has_mac = 1;
	}
	/* dnsmasq learns the table as it is now, discoveries included */
	dnsmasq_update();
	return 0;
}

static struct node *
node_by_mac(const unsigned char *mac)
{
	int	i;

	for (i = 0; i < numnodes; i++)
		if (nodes[i].has_mac && memcmp(nodes[i].mac, mac, 6) == 0)
			return &nodes[i];
	if (!conf.discovery)
		return NULL;
	for (i = 0; i < numnodes; i++)
		if (!nodes[i].has_mac)
			break;
	if (i == numnodes && node_grow(numnodes + 1) == -1)
		return NULL;
	memcpy(nodes[i].mac, mac, 6);
	nodes[i].has_mac = 1;
	log_info("node %d: discovered", i);
	node_state_save();
	/* its next boot gets the node's fixed address */
	dnsmasq_update();
	ctl_notify();
	return &nodes[i];
}

/*
 * The one rule for a link that fails, whoever notices: mark it dead and
 * shut it down, but free nothing; callers may be walking the process
 * table.  The link's timer, due at once, closes it after the current
 * batch of events (link_tick), if its own event does not first.
 */
static void
link_fail(struct nodelink *l, const char *why)
{
	if (l->dead)
		return;
	l->dead = 1;
	snprintf(l->why, sizeof(l->why), "%s", why);
	shutdown(l->c.fd, SHUT_RDWR);
	ev_timer_set(&l->timer, 0, link_tick, l);
}

/* Queue and try to send; -1 when the link is (now) dead. */
static int
link_send(struct nodelink *l, struct wire_msg *m)
{
	size_t	len = wire_msg_finish(m);

	if (l->dead)
		return -1;
	if (len == 0) {
		link_fail(l, "message too large");
		return -1;
	}
	if (conn_send(&l->c, m->buf, len) == -1 || conn_flush(&l->c) == -1) {
		link_fail(l, errno == ENOBUFS ? "output queue full" :
		    strerror(errno));
		return -1;
	}
	if (conn_pending(&l->c))
		ev_mod(l->c.fd, EPOLLIN | EPOLLOUT);
	return 0;
}

/*
 * The setup push list.  node_push_scan() walks the "push" paths (files,
 * symlinks with their targets, directory trees) and hashes each regular
 * file, reusing the hash of a file whose device, inode, size and mtime
 * did not change since the last scan; it runs at start and whenever a node
 * connects, so an edited file is the new content on the next boot.
 */
static void	push_scan_path(const char *, int);

static unsigned int
push_ht_index(const char *s)
{
	return path_hash(s) % PUSH_HT;
}

/* A new entry, or NULL when path is in the list already (or too many). */
static struct spfile *
push_new(const char *path)
{
	struct spfile	*f;
	unsigned int	 h = push_ht_index(path);

	/* overlapping lines and shared link targets name a file twice */
	for (size_t i = spf_ht[h]; i != 0; i = spf_chain[i - 1])
		if (strcmp(spf[i - 1].path, path) == 0)
			return NULL;
	if (nspf >= MASTER_PUSH_MAX) {
		log_warnx("push %s: more than %d files in the push list",
		    path, MASTER_PUSH_MAX);
		return NULL;
	}
	if ((f = reallocarray(spf, nspf + 1, sizeof(*spf))) == NULL)
		return NULL;
	spf = f;
	f = &spf[nspf];
	memset(f, 0, sizeof(*f));
	if ((f->path = strdup(path)) == NULL)
		return NULL;
	spf_chain[nspf] = spf_ht[h];
	spf_ht[h] = ++nspf;
	return f;
}

/* Take back the entry push_new just made. */
static void
push_unnew(struct spfile *f)
{
	spf_ht[push_ht_index(f->path)] = spf_chain[nspf - 1];
	free(f->path);
	free(f->target);
	nspf--;
}

static int
push_hash(struct spfile *f, const char *path)
{
	crypto_generichash_state	 hs;
	unsigned char			 buf[65536];
	ssize_t				 n;
	int				 fd;

	/* an unchanged tree scans in the same order: try that slot first */
	for (size_t k = 0; k <= nspf_old; k++) {
		size_t		 i = k == 0 ? (size_t)(f - spf) : k - 1;
		struct spfile	*o = &spf_old[i];

		if (i >= nspf_old)
			continue;
		if (o->target == NULL && o->dev == f->dev && o->ino == f->ino &&
		    o->size == f->size && o->mtime == f->mtime) {
			memcpy(f->hash, o->hash, 32);
			return 0;
		}
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return -1;
	crypto_generichash_init(&hs, NULL, 0, 32);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		crypto_generichash_update(&hs, buf, (size_t)n);
	close(fd);
	if (n < 0)
		return -1;
	crypto_generichash_final(&hs, f->hash, 32);
	return 0;
}

static void
push_scan_path(const char *path, int depth)
{
	struct spfile	*f;
	struct stat	 st;
	struct dirent	*de;
	DIR		*d;
	char		 target[4096], abs[8300];
	ssize_t		 n;

	if (depth > 64 || strlen(path) >= 4096)
		return;
	if (lstat(path, &st) == -1) {
		log_warn("push %s", path);
		return;
	}
	if (S_ISDIR(st.st_mode)) {
		if ((d = opendir(path)) == NULL) {
			log_warn("push %s", path);
			return;
		}
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(abs, sizeof(abs), "%s/%s",
			    strcmp(path, "/") == 0 ? "" : path, de->d_name);
			push_scan_path(abs, depth + 1);
		}
		closedir(d);
		return;
	}
	if (!S_ISLNK(st.st_mode) && !S_ISREG(st.st_mode))
		return;
	if ((f = push_new(path)) == NULL)
		return;
	f->mode = st.st_mode & 07777;
	f->uid = st.st_uid;
	f->gid = st.st_gid;
	f->size = (uint64_t)st.st_size;
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->mtime = (long long)st.st_mtim.tv_sec * 1000000000LL +
	    st.st_mtim.tv_nsec;
	if (S_ISREG(st.st_mode)) {
		if (push_hash(f, path) == -1) {
			log_warn("push %s", path);
			push_unnew(f);
		}
		return;
	}
	/* a symlink goes as one, and brings its target (SONAME links) */
	if ((n = readlink(path, target, sizeof(target) - 1)) < 0 ||
	    (target[n] = '\0', (f->target = strdup(target)) == NULL)) {
		log_warn("push %s", path);
		push_unnew(f);
		return;
	}
	f->mode = 0777;
	f->size = 0;
	path_link_target(path, target, abs, sizeof(abs));
	push_scan_path(abs, depth + 1);
}

void
node_push_scan(void)
{
	static uint64_t	last;
	uint64_t	bytes = 0;
	size_t		i;

	/* a boot storm scans once, not once per node */
	if (last != 0 && ev_now() - last < PUSH_RESCAN_MS)
		return;
	last = ev_now();
	memset(spf_ht, 0, sizeof(spf_ht));
	for (i = 0; i < nspf_old; i++) {
		free(spf_old[i].path);
		free(spf_old[i].target);
	}
	free(spf_old);
	spf_old = spf;
	nspf_old = nspf;
	spf = NULL;
	nspf = 0;
	for (i = 0; i < conf.npush; i++) {
		char	p[4096];

		snprintf(p, sizeof(p), "%s", conf.push[i]);
		path_clean(p);
		push_scan_path(p, 0);
	}
	for (i = 0; i < nspf; i++)
		bytes += spf[i].size;
	/* said at start and when it changes, not at every connect */
	if (conf.npush > 0 && (nspf != nspf_old || bytes != push_list_bytes))
		log_info("push list: %zu files, %llu bytes", nspf,
		    (unsigned long long)bytes);
	push_list_bytes = bytes;
}

/* MSG_SETUP: the cache budget and the push list's manifest (A_MFILE). */
static int
push_setup_send(struct nodelink *l)
{
	static unsigned char	 buf[WIRE_MAX_FRAME];
	unsigned char		 e[MFILE_MAX];
	struct wire_msg		 m;
	size_t			 i, el, sent = 0;

	node_push_scan();
	wire_msg_init(&m, buf, sizeof(buf), MSG_SETUP, 0, 0);
	if (conf.cache_budget)
		wire_put_u64(&m, A_CACHE_BUDGET, conf.cache_budget);
	else if (conf.cache_share)
		wire_put_u32(&m, A_CACHE_SHARE, conf.cache_share);
	for (i = 0; i < nspf; i++) {
		const struct spfile	*f = &spf[i];

		if ((el = mfile_encode(e, f->hash, f->mode, f->uid, f->gid,
		    f->size, f->path, f->target)) == 0)
			continue;
		/* leave room for the frame's seal: the rest waits for bpsh */
		if (m.len + WIRE_ALIGN(WIRE_ATTR_HDR + el) >
		    WIRE_MAX_FRAME - 4096) {
			log_warnx("node %d: push list too long for one frame: "
			    "%zu of %zu files sent", l->node->num, sent, nspf);
			break;
		}
		wire_put(&m, A_MFILE, e, el);
		sent++;
	}
	return link_send(l, &m);
}

static void
push_reset(struct nodelink *l)
{
	if (l->sp_fd >= 0)
		close(l->sp_fd);
	l->sp_fd = -1;
	free(l->sp_need);
	l->sp_need = NULL;
	l->sp_nneed = l->sp_next = 0;
	l->sp_unacked = 0;
}

/* Send what the node asked for, at most BLOB_WINDOW bytes unacknowledged. */
static void
push_pump(struct nodelink *l)
{
	static unsigned char	 buf[BLOB_FRAME], data[BLOB_CHUNK];
	struct wire_msg		 m;
	const unsigned char	*hash;
	ssize_t			 n;
	size_t			 i, off, piece;

	while (!l->dead && l->sp_unacked < BLOB_WINDOW &&
	    l->sp_next < l->sp_nneed) {
		hash = l->sp_need[l->sp_next];
		if (l->sp_fd < 0) {
			for (i = 0; i < nspf; i++)
				if (spf[i].target == NULL &&
				    memcmp(spf[i].hash, hash, 32) == 0)
					break;
			/* gone since the scan: an empty blob fails it clearly */
			if (i == nspf || (l->sp_fd = open(spf[i].path,
			    O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
				log_warnx("node %d: push %s: %s", l->node->num,
				    i == nspf ? "file" : spf[i].path,
				    i == nspf ? "no longer in the list" :
				    strerror(errno));
		}
		n = l->sp_fd >= 0 ? read(l->sp_fd, data, sizeof(data)) : 0;
		wire_msg_init(&m, buf, sizeof(buf), MSG_BLOB, 0, 0);
		wire_put_u32(&m, A_PID, PUSH_GPID);
		wire_put(&m, A_HASH, hash, 32);
		if (n > 0) {
			for (off = 0; off < (size_t)n; off += piece) {
				piece = (size_t)n - off;
				if (piece > BLOB_PIECE)
					piece = BLOB_PIECE;
				wire_put(&m, A_DATA, data + off, piece);
			}
			l->sp_unacked += (uint32_t)n;
			l->node->push_bytes += (uint64_t)n;
		} else {
			wire_put_u8(&m, A_EOF, 1);
			if (l->sp_fd >= 0)
				close(l->sp_fd);
			l->sp_fd = -1;
			l->sp_next++;
		}
		if (link_send(l, &m) == -1)
			return;
	}
}

/* NEED, BLOB_ACK and EXEC_RESULT of the setup push (PID 0). */
static int
push_from_node(struct nodelink *l, const struct wire_hdr *h,
    struct wire_attr *tb, const unsigned char *body, size_t blen)
{
	struct wire_iter	 it;
	struct wire_attr	 a;
	unsigned char		(*nn)[32];
	uint32_t		 b;
	char			 why[300];

	switch (h->type) {
	case MSG_NEED:
		wire_iter_init(&it, body, blen);
		while (wire_iter_next(&it, &a) == 1) {
			if (a.type != A_HASH)
				continue;
			if (l->sp_nneed >= MASTER_PUSH_MAX ||
			    (nn = reallocarray(l->sp_need, l->sp_nneed + 1,
			    sizeof(*nn))) == NULL) {
				link_fail(l, "setup push: too many NEEDs");
				return -1;
			}
			l->sp_need = nn;
			memcpy(l->sp_need[l->sp_nneed++], a.data, 32);
		}
		push_pump(l);
		return 0;
	case MSG_BLOB_ACK:
		b = wire_get_u32(&tb[A_BYTES]);
		l->sp_unacked = b > l->sp_unacked ? 0 : l->sp_unacked - b;
		push_pump(l);
		return 0;
	case MSG_EXEC_RESULT:
		push_reset(l);
		if (wire_get_u32(&tb[A_ERRNO]) == 0)
			return 0;
		snprintf(why, sizeof(why), "setup push failed: %s",
		    tb[A_MSG].data ? wire_get_str(&tb[A_MSG]) : "?");
		log_warnx("node %d: %s", l->node->num, why);
		node_transition(l->node, NODE_ERROR, why);
		return 0;
	}
	return 0;
}

static void
preauth_remove(struct nodelink *l)
{
	struct nodelink	**pp;

	for (pp = &preauth; *pp != NULL; pp = &(*pp)->pnext)
		if (*pp == l) {
			*pp = l->pnext;
			npreauth--;
			break;
		}
	l->pnext = NULL;
}

static void
link_close(struct nodelink *l, const char *why)
{
	struct nodelink	**pp;
	struct node	 *n = l->node;

	if (n != NULL) {
		log_info("node %d (%s): link closed: %s", n->num, l->c.peer, why);
		n->link = NULL;
		proc_node_down(n);
		/* its ghosts were told; they must be read to hear it */
		ctl_resume(n->num);
		node_transition(n, NODE_DOWN, why);
	} else
		port_log(PORT_CLOSED, "link %s: closed: %s", l->c.peer, why);
	if (!l->hello)
		preauth_remove(l);
	for (pp = &links; *pp != NULL; pp = &(*pp)->next)
		if (*pp == l) {
			*pp = l->next;
			break;
		}
	push_reset(l);
	ev_timer_del(&l->timer);
	ev_del(l->c.fd);
	conn_free(&l->c);
	free(l);
}

static void
link_tick(void *arg)
{
	struct nodelink	*l = arg;
	unsigned char	 buf[64];
	struct wire_msg	 m;
	uint64_t	 now = ev_now(), next;

	if (l->dead) {
		link_close(l, l->why);
		return;
	}
	if (!l->hello) {
		link_close(l, "did not authenticate in time");
		return;
	}
	if (now - l->last_rx >= conf.timeout_ms) {
		char	why[64];

		snprintf(why, sizeof(why), "no heartbeat for %llu ms",
		    (unsigned long long)(now - l->last_rx));
		link_close(l, why);
		return;
	}
	if (now >= l->next_ping) {
		wire_msg_init(&m, buf, sizeof(buf), MSG_PING, 0, 0);
		if (link_send(l, &m) == -1)
			return;
		l->next_ping = now + conf.heartbeat_ms;
	}
	/* wake at the next ping or the moment the node would time out */
	next = l->next_ping;
	if (l->last_rx + conf.timeout_ms < next)
		next = l->last_rx + conf.timeout_ms;
	ev_timer_set(&l->timer, next > now ? next - now : 1, link_tick, l);
}

/*
 * The oldest unauthenticated link of the source that has the most, counted
 * in one pass through a small hash of addresses; only at the global cap.
 */
static struct nodelink *
preauth_busiest(void)
{
	static struct {
		in_addr_t	 addr;
		int		 n;
		struct nodelink	*oldest;
	}			 ht[PREAUTH_HT];
	struct nodelink		*l, *best = NULL;
	unsigned int		 h;
	int			 most = 0;

	memset(ht, 0, sizeof(ht));
	for (l = preauth; l != NULL; l = l->pnext) {
		if (l->dead)
			continue;
		h = (ntohl(l->from.s_addr) * 2654435761u) % PREAUTH_HT;
		while (ht[h].n > 0 && ht[h].addr != l->from.s_addr)
			h = (h + 1) % PREAUTH_HT;
		ht[h].addr = l->from.s_addr;
		ht[h].n++;
		ht[h].oldest = l;	/* the list is newest first */
		/* ties go to the source whose oldest link is oldest */
		if (ht[h].n >= most) {
			most = ht[h].n;
			best = ht[h].oldest;
		}
	}
	return best;
}

/*
 * Room for one more unauthenticated link from addr: 0, or -1 to refuse it
 * (*why says why).  At the global cap the oldest link of the busiest
 * source goes, unless even that one is too young to have had its chance.
 */
static int
preauth_admit(struct in_addr addr, char *why, size_t whylen)
{
	struct nodelink	*l, *victim;
	int		 mine = 0;

	for (l = preauth; l != NULL; l = l->pnext)
		if (!l->dead && l->from.s_addr == addr.s_addr)
			mine++;
	if (mine >= NODE_PREAUTH_PER_ADDR) {
		snprintf(why, whylen, "%d unauthenticated links from %s already",
		    mine, inet_ntoa(addr));
		return -1;
	}
	if (npreauth < NODE_PREAUTH_MAX)
		return 0;
	victim = preauth_busiest();
	if (victim == NULL || ev_now() - victim->born < NODE_PREAUTH_MIN_MS) {
		snprintf(why, whylen, "%d unauthenticated links", npreauth);
		return -1;
	}
	link_close(victim, "evicted to make room for another source");
	return 0;
}

static void
node_admit(int s, const struct sockaddr_in *sin)
{
	struct nodelink		*l;
	struct wire_msg		 m;
	unsigned char		 buf[128];
	struct linger		 rst = { 1, 0 };
	char			 peer[64], why[96];
	int			 one = 1;

	snprintf(peer, sizeof(peer), "%s:%u", inet_ntoa(sin->sin_addr),
	    ntohs(sin->sin_port));
	if (preauth_admit(sin->sin_addr, why, sizeof(why)) == -1) {
		port_log(PORT_REFUSED, "link %s: refused: %s", peer, why);
		/* a reset, not a FIN: no TIME_WAIT left here per refusal */
		setsockopt(s, SOL_SOCKET, SO_LINGER, &rst, sizeof(rst));
		close(s);
		return;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		log_warn("link %s", peer);
		close(s);
		return;
	}
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	conn_init(&l->c, s, peer, WIRE_PREAUTH_MAX, 4096);
	if (ev_add(s, EPOLLIN, link_event, l) == -1) {
		log_warn("link %s", peer);
		conn_free(&l->c);
		free(l);
		return;
	}
	npreauth++;
	l->from = sin->sin_addr;
	l->born = ev_now();
	l->sp_fd = -1;
	l->last_rx = ev_now();
	l->next = links;
	links = l;
	l->pnext = preauth;
	preauth = l;
	ev_timer_set(&l->timer, NODE_AUTH_MS, link_tick, l);
	auth_nonce(l->nm);
	wire_msg_init(&m, buf, sizeof(buf), MSG_AUTH_CHALLENGE, 0, 0);
	wire_put_u32(&m, A_VERSION, BPROC_VERSION);
	wire_put(&m, A_NONCE, l->nm, AUTH_NONCE_LEN);
	link_send(l, &m);
}

static void
node_listen_resume(void *arg)
{
	(void)arg;
	ev_mod(listen_fd, EPOLLIN);
}

static void
node_accept(int fd, uint32_t events, void *arg)
{
	struct sockaddr_in	 sin;
	socklen_t		 slen;
	int			 i, s;

	(void)events;
	(void)arg;
	/*
	 * Drain the backlog in big batches: while it is full the kernel drops
	 * every SYN, a booting node's too, which then waits a whole
	 * retransmission timeout (1 s).  The deep backlog (NODE_LISTEN_BACKLOG)
	 * is for the same reason: a flood's pending connections fit in it.
	 */
	for (i = 0; i < NODE_ACCEPT_BATCH; i++) {
		slen = sizeof(sin);
		s = accept4(fd, (struct sockaddr *)&sin, &slen,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (s >= 0) {
			node_admit(s, &sin);
			continue;
		}
		if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
			return;
		/*
		 * Out of descriptors or memory: the connection stays in the
		 * backlog and the listener would wake us at once, forever.
		 * Rest it a moment instead of spinning.
		 */
		port_log(PORT_REFUSED, "node port: accept: %s; pausing %d ms",
		    strerror(errno), NODE_ACCEPT_PAUSE_MS);
		ev_mod(listen_fd, 0);
		ev_timer_set(&listen_timer, NODE_ACCEPT_PAUSE_MS,
		    node_listen_resume, NULL);
		return;
	}
}

static int
link_auth(struct nodelink *l, struct wire_attr *tb)
{
	unsigned char	 buf[128], km[32], kn[32];
	const unsigned char *nn = tb[A_NONCE].data;
	struct wire_msg	 m;

	if (auth_proof_check(tb[A_PROOF].data, cluster_key, AUTH_ROLE_NODE,
	    l->nm, nn) == -1) {
		link_fail(l, "authentication failed (wrong cluster key or "
		    "replayed handshake)");
		return -1;
	}
	wire_msg_init(&m, buf, sizeof(buf), MSG_AUTH_CONFIRM, 0, 0);
	auth_proof(km, cluster_key, AUTH_ROLE_MASTER, l->nm, nn);
	wire_put(&m, A_PROOF, km, AUTH_PROOF_LEN);
	if (link_send(l, &m) == -1)
		return -1;
	auth_session_keys(cluster_key, l->nm, nn, km, kn);
	conn_seal(&l->c, km, kn, 0);
	explicit_bzero(km, sizeof(km));
	explicit_bzero(kn, sizeof(kn));
	l->authed = 1;
	/* still at most a HELLO-sized frame until the node is known */
	return 0;
}

static int
link_hello(struct nodelink *l, struct wire_attr *tb)
{
	unsigned char	 buf[256];
	struct wire_msg	 m;
	struct node	*n;
	char		 macs[32], host[32];

	mac_format(tb[A_MAC].data, macs, sizeof(macs));
	if ((n = node_by_mac(tb[A_MAC].data)) == NULL) {
		char	why[96];

		snprintf(why, sizeof(why), "unknown MAC %s and discovery is "
		    "off", macs);
		link_fail(l, why);
		return -1;
	}
	if (n->link != NULL) {
		/* the node rebooted before we noticed: the old link is dead */
		link_close(n->link, "replaced by a new connection");
	}
	l->hello = 1;
	preauth_remove(l);
	l->node = n;
	n->link = l;
	l->c.maxframe = WIRE_MAX_FRAME;
	l->c.outmax = MASTER_LINK_OUTMAX;
	snprintf(n->addr, sizeof(n->addr), "%s", l->c.peer);
	if (strchr(n->addr, ':') != NULL)
		*strchr(n->addr, ':') = '\0';
	n->last_seen = ev_now();
	if (tb[A_STAGE].data)
		n->stage = wire_get_u8(&tb[A_STAGE]);
	log_info("node %d: connected from %s, MAC %s", n->num, l->c.peer, macs);
	rejoin_hello(n, tb);
	node_transition(n, NODE_BOOT, "connected");
	ev_timer_set(&l->timer, conf.heartbeat_ms, link_tick, l);

	wire_msg_init(&m, buf, sizeof(buf), MSG_WELCOME, 0, 0);
	wire_put_u32(&m, A_NODE, (uint32_t)n->num);
	wire_put_u32(&m, A_HEARTBEAT, conf.heartbeat_ms);
	wire_put_u32(&m, A_TIMEOUT, conf.timeout_ms);
	snprintf(host, sizeof(host), "n%d", n->num);
	wire_put_str(&m, A_HOSTNAME, host);
	rejoin_welcome(&m);
	if (link_send(l, &m) == -1)
		return -1;
	/* names for the node's ls and id, before anything runs there */
	if (users_send(n) == -1)
		return -1;
	push_reset(l);
	return push_setup_send(l);
}

static void
link_status(struct nodelink *l, struct wire_attr *tb)
{
	struct node	*n = l->node;
	int		 stage = n->stage;

	if (tb[A_LOAD1].data)
		n->load[0] = wire_get_u32(&tb[A_LOAD1]);
	if (tb[A_LOAD5].data)
		n->load[1] = wire_get_u32(&tb[A_LOAD5]);
	if (tb[A_LOAD15].data)
		n->load[2] = wire_get_u32(&tb[A_LOAD15]);
	if (tb[A_CPUS].data)
		n->cpus = wire_get_u32(&tb[A_CPUS]);
	if (tb[A_MEM_TOTAL].data)
		n->mem_total = wire_get_u64(&tb[A_MEM_TOTAL]);
	if (tb[A_MEM_FREE].data)
		n->mem_free = wire_get_u64(&tb[A_MEM_FREE]);
	if (tb[A_UPTIME].data)
		n->uptime = wire_get_u64(&tb[A_UPTIME]);
	if (tb[A_NPROCS].data)
		n->nprocs = wire_get_u32(&tb[A_NPROCS]);
	if (tb[A_CACHE_BYTES].data)
		n->cache_bytes = wire_get_u64(&tb[A_CACHE_BYTES]);
	if (tb[A_STAGE].data && wire_get_u8(&tb[A_STAGE]) < STAGE_MAX)
		n->stage = wire_get_u8(&tb[A_STAGE]);
	if (n->stage == STAGE_UP && stage != STAGE_UP && n->state == NODE_BOOT)
		node_transition(n, NODE_UP, "setup done");
	n->last_status = ev_now();
	ctl_notify();
}

/* Returns -1 when the link was closed. */
static int
link_dispatch(struct nodelink *l, struct wire_hdr *h, const unsigned char *body,
    size_t blen)
{
	struct wire_attr	 tb[A_MAX];
	const char		*why;
	char			 msg[128];

	if (proto_parse(h, body, blen, tb, &why) == -1) {
		snprintf(msg, sizeof(msg), "bad %s frame: %s", msg_name(h->type),
		    why);
		link_fail(l, msg);
		return -1;
	}
	/* each phase accepts exactly its own messages */
	if (!l->authed) {
		if (h->type != MSG_AUTH_RESPONSE)
			goto unexpected;
		return link_auth(l, tb);
	}
	if (!l->hello) {
		if (h->type != MSG_HELLO)
			goto unexpected;
		return link_hello(l, tb);
	}
	switch (h->type) {
	case MSG_STATUS:
		link_status(l, tb);
		return 0;
	case MSG_FORK:
	case MSG_FORKED:
	case MSG_EXECED:
		return tree_from_node(l->node, h, tb, body, blen);
	case MSG_REJOIN:
	case MSG_REJOIN_END:
		return rejoin_from_node(l->node, h, tb);
	case MSG_EXEC_RESULT:
		if (wire_get_u32(&tb[A_PID]) == PUSH_GPID)
			return push_from_node(l, h, tb, body, blen);
		/* FALLTHROUGH */
	case MSG_IO:
	case MSG_IO_ACK:
	case MSG_EXIT:
	case MSG_STOPPED:
	case MSG_NEED:
	case MSG_BLOB_ACK:
		if (wire_get_u32(&tb[A_PID]) == PUSH_GPID)
			return push_from_node(l, h, tb, body, blen);
		return proc_from_node(l->node, h, tb, body, blen);
	default:
		goto unexpected;
	}
unexpected:
	snprintf(msg, sizeof(msg), "unexpected %s frame", msg_name(h->type));
	link_fail(l, msg);
	return -1;
}

/* Flush, read and dispatch; whatever goes wrong only fails the link. */
static void
link_input(struct nodelink *l, uint32_t events)
{
	struct wire_hdr		 h;
	const unsigned char	*body;
	const char		*why;
	size_t			 blen;
	int			 r;

	if (events & EPOLLOUT) {
		if (conn_flush(&l->c) == -1) {
			link_fail(l, strerror(errno));
			return;
		}
		if (conn_pending(&l->c) == 0)
			ev_mod(l->c.fd, EPOLLIN);
		if (l->node != NULL && conn_pending(&l->c) <= MASTER_LINK_LOW)
			ctl_resume(l->node->num);
		if (l->dead)
			return;
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	if ((r = conn_read(&l->c)) == -1) {
		link_fail(l, errno ? strerror(errno) : "connection closed");
		return;
	}
	if (r == 0)
		return;
	l->last_rx = ev_now();
	if (l->node != NULL)
		l->node->last_seen = l->last_rx;
	while (!l->dead && (r = conn_frame(&l->c, &h, &body, &blen, &why)) == 1)
		link_dispatch(l, &h, body, blen);
	if (r == -1 && !l->dead)
		link_fail(l, why);
}

static void
link_event(int fd, uint32_t events, void *arg)
{
	struct nodelink	*l = arg;

	(void)fd;
	if (!l->dead)
		link_input(l, events);
	/* the handler is done with it: nothing holds the link now */
	if (l->dead)
		link_close(l, l->why);
}

int
node_listen(void)
{
	struct sockaddr_in	sin;
	int			one = 1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)conf.listen_port);
	if (inet_pton(AF_INET, conf.listen_addr, &sin.sin_addr) != 1) {
		log_warnx("listen: bad address %s", conf.listen_addr);
		return -1;
	}
	listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (listen_fd == -1)
		return -1;
	setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(listen_fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(listen_fd, NODE_LISTEN_BACKLOG) == -1) {
		log_warn("listen %s:%d", conf.listen_addr, conf.listen_port);
		return -1;
	}
	return ev_add(listen_fd, EPOLLIN, node_accept, NULL);
}

int
node_set_state(struct node *n, int state, uid_t uid, const char **why)
{
	if (uid != 0) {
		*why = "only root sets node states";
		return EPERM;
	}
	if (state != NODE_UP && state != NODE_UNAVAILABLE &&
	    state != NODE_ERROR) {
		*why = "state can only be set to up, unavailable or error";
		return EINVAL;
	}
	if (n->link == NULL || !n->link->hello) {
		*why = "Node is down";
		return EHOSTDOWN;
	}
	if (n->state == NODE_BOOT) {
		*why = "node is still booting";
		return EBUSY;
	}
	if (node_transition(n, state, "bpctl") == -1) {
		*why = "transition not allowed";
		return EINVAL;
	}
	return 0;
}

int
node_power(struct node *n, int how, uid_t uid, const char **why)
{
	unsigned char	buf[64];
	struct wire_msg	m;
	int		to;

	if (uid != 0) {
		*why = "only root reboots, halts or powers off nodes";
		return EPERM;
	}
	switch (how) {
	case POWER_REBOOT:
		to = NODE_REBOOT;
		break;
	case POWER_HALT:
		to = NODE_HALT;
		break;
	case POWER_OFF:
		to = NODE_PWROFF;
		break;
	default:
		*why = "bad power action";
		return EINVAL;
	}
	if (n->link == NULL || !n->link->hello) {
		*why = "Node is down";
		return EHOSTDOWN;
	}
	wire_msg_init(&m, buf, sizeof(buf), MSG_POWER, 0, 0);
	wire_put_u8(&m, A_HOW, (uint8_t)how);
	if (link_send(n->link, &m) == -1) {
		*why = "node link failed";
		return EIO;
	}
	node_transition(n, to, "bpctl");
	return 0;
}

int
node_send(struct node *n, struct wire_msg *m)
{
	if (n->link == NULL || !n->link->hello)
		return -1;
	return link_send(n->link, m);
}

/* Bytes queued for node num, for ctl.c's back-pressure on its ghosts. */
size_t
node_queued(int num)
{
	if (num < 0 || num >= numnodes || nodes[num].link == NULL)
		return 0;
	return conn_pending(&nodes[num].link->c);
}

void
node_shutdown(void)
{
	while (links != NULL)
		link_close(links, "master shutting down");
	if (listen_fd != -1)
		close(listen_fd);
}

/*
 * The link's round trip as the kernel measures it (TCP's smoothed RTT, in
 * microseconds), for bpstat and the metrics: no probe of our own, so it
 * costs the node nothing.  0 when there is no link or no measure yet.
 */
uint32_t
node_rtt_us(const struct node *n)
{
	struct tcp_info	ti;
	socklen_t	len = sizeof(ti);

	if (n->link == NULL || !n->link->hello ||
	    getsockopt(n->link->c.fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == -1)
		return 0;
	return ti.tcpi_rtt;
}
