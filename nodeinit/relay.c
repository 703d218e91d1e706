/*
 * Relay links: the node's half of the relay tree for blobs (docs/push.md,
 * "Tree fan-out"; the master's half is master/daemon/relay.c).  The
 * master tells a node, by MSG_RELAY, to fetch a blob of a pending exec
 * from a peer node; the node connects to the peer's relay port, both
 * prove the cluster key under the relay labels (auth.h), and the sealed
 * link carries one RELAY_GET (content hash, offset) and the blob back as
 * MSG_BLOB frames.  The bytes go into the same receive path as the
 * master's (blob_rx.c), so they are hashed and checked against the
 * manifest's hash before anything is stored or run.
 *
 * The serving side reads the blob from this node's own file of it, while
 * it is still coming in (the temporary file) or from the cache once it is
 * whole, and sends each byte as soon as it is here: a relay forwards while
 * it receives.  It never queues more than RELAY_QUEUE per child, so a slow
 * child holds back only itself, and it says PING while it waits for bytes,
 * so a child can tell a parent that waits from one that is gone.
 *
 * What a relay link can do is small by construction: the serving side
 * takes only the handshake and RELAY_GET, the fetching side only the
 * handshake, BLOB, RELAY_END and PING (two tables below), and a fetch
 * exists only because the master's sealed link asked for it, for a blob
 * the master's manifest named.  A feed that stalls (RELAY_STALL_MS without
 * a frame) or fails is reported to the master (RELAY_DONE with an errno),
 * which routes this node to another parent; the bytes already here stay
 * and the next parent sends from there.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "list.h"
#include "log.h"
#include "nodeinit_int.h"

#define RELAY_LINKS_MAX		128	/* relay links at once, both kinds */
#define RELAY_QUEUE		(1u << 20)	/* bytes queued to one child at most */
#define RELAY_AUTH_MS		5000	/* to connect and prove the key (a busy peer is slow) */
#define RELAY_STALL_MS		5000	/* a feed silent this long has failed: 10 PINGs missed */
#define RELAY_KEEPALIVE_MS	500	/* a parent waiting for bytes says PING this often */
#define RELAY_IDLE_MS		30000	/* a child that reads nothing this long is dropped */

enum rl_phase {
	RL_CONNECTING,		/* fetch: connect() under way */
	RL_AUTH,		/* serve: challenge sent; fetch: waiting for it */
	RL_CONFIRM,		/* fetch: response sent */
	RL_SEALED		/* keys in use */
};

struct rlink {
	struct conn	 c;
	int		 serve;		/* we serve it (accepted); else we fetch */
	int		 phase;		/* RL_* */
	int		 dead;
	unsigned char	 ns[AUTH_NONCE_LEN], nc[AUTH_NONCE_LEN];
	uint64_t	 born, last_rx, last_tx;
	unsigned char	 hash[32];
	uint64_t	 off;		/* fetch: next byte to come; serve: to send */
	/* fetch */
	pid_t		 gpid;
	/* serve */
	int		 fd;		/* the file it reads, -1 before the GET */
	uint64_t	 size;
	uint32_t	 id;
	int		 ended;		/* its last frame is queued */
	DLIST_LINK(rlink) link;	/* rlinks */
};

static DLIST_HEAD(, rlink) rlinks = { NULL };
static int		 nrlinks;
static int		 listen_fd = -1;
uint64_t		 relay_served_bytes;	/* sent to children, for the bench */

static void
rl_free(struct rlink *l)
{
	DLIST_REMOVE(l, link);
	if (l->fd >= 0)
		close(l->fd);
	conn_free(&l->c);
	free(l);
	nrlinks--;
}

static struct rlink *
rl_new(int fd, const char *peer, int serve)
{
	struct rlink	*l;
	int		 one = 1;

	if (nrlinks >= RELAY_LINKS_MAX || (l = calloc(1, sizeof(*l))) == NULL) {
		close(fd);
		return NULL;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	conn_init(&l->c, fd, peer, WIRE_PREAUTH_MAX, RELAY_QUEUE + 2 * BLOB_FRAME);
	l->serve = serve;
	l->fd = -1;
	l->born = l->last_rx = l->last_tx = now_ms();
	DLIST_INSERT_HEAD(&rlinks, l, link);
	nrlinks++;
	return l;
}

/* Both sides, once the proofs passed: the link's keys, sealed from now on. */
static void
rl_seal(struct rlink *l, const unsigned char *key, int client)
{
	unsigned char	ks[32], kc[32];

	auth_relay_keys(key, l->ns, l->nc, ks, kc);
	conn_seal(&l->c, ks, kc, client);
	explicit_bzero(ks, sizeof(ks));
	explicit_bzero(kc, sizeof(kc));
	l->c.maxframe = WIRE_MAX_FRAME;
	l->phase = RL_SEALED;
}

static int
rl_send(struct rlink *l, struct wire_msg *m)
{
	size_t	len = wire_msg_finish(m);

	if (len == 0 || conn_send(&l->c, m->buf, len) == -1 ||
	    conn_flush(&l->c) == -1) {
		log_info("relay %s: %s", l->c.peer, strerror(errno));
		l->dead = 1;
		return -1;
	}
	l->last_tx = now_ms();
	return 0;
}

/* A fetch ended without the blob: the master routes this node anew. */
static void
fetch_fail(struct rlink *l, int e, const char *why)
{
	unsigned char	buf[512];
	struct wire_msg	m;
	char		msg[200];

	if (l->dead)
		return;
	l->dead = 1;
	snprintf(msg, sizeof(msg), "relay %s: %s", l->c.peer, why);
	log_info("%s at %llu bytes", msg, (unsigned long long)l->off);
	wire_msg_init(&m, buf, sizeof(buf), MSG_RELAY_DONE, 0, 0);
	wire_put_u32(&m, A_PID, (uint32_t)l->gpid);
	wire_put(&m, A_HASH, l->hash, 32);
	wire_put_u32(&m, A_ERRNO, (uint32_t)(e ? e : EIO));
	wire_put_u64(&m, A_OFFSET, l->off);
	wire_put_str(&m, A_MSG, msg);
	link_send_msg(&m);
}

static void
fetch_done(struct rlink *l)
{
	unsigned char	buf[128];
	struct wire_msg	m;

	l->dead = 1;
	wire_msg_init(&m, buf, sizeof(buf), MSG_RELAY_DONE, 0, 0);
	wire_put_u32(&m, A_PID, (uint32_t)l->gpid);
	wire_put(&m, A_HASH, l->hash, 32);
	wire_put_u32(&m, A_ERRNO, 0);
	wire_put_u64(&m, A_OFFSET, l->off);
	link_send_msg(&m);
}

static void
serve_end(struct rlink *l, int e, const char *why)
{
	unsigned char	buf[256];
	struct wire_msg	m;

	wire_msg_init(&m, buf, sizeof(buf), MSG_RELAY_END, 0, 0);
	wire_put_u32(&m, A_ERRNO, (uint32_t)e);
	wire_put_str(&m, A_MSG, why);
	l->ended = 1;
	rl_send(l, &m);
}

/* Serving side: the child proved the key; prove it back and seal. */
static int
serve_on_response(void *arg, const struct proto_frame *f)
{
	struct rlink	*l = arg;
	unsigned char	 buf[128], proof[AUTH_PROOF_LEN];
	const unsigned char *key = uplink_key();
	struct wire_msg	 m;

	memcpy(l->nc, f->tb[A_NONCE].data, AUTH_NONCE_LEN);
	if (key == NULL || auth_proof_check(f->tb[A_PROOF].data, key,
	    AUTH_ROLE_RELAY_CLIENT, l->ns, l->nc) == -1) {
		log_warnx("relay child %s: failed to prove the cluster key",
		    l->c.peer);
		l->dead = 1;
		return -1;
	}
	auth_proof(proof, key, AUTH_ROLE_RELAY_SERVER, l->ns, l->nc);
	wire_msg_init(&m, buf, sizeof(buf), MSG_AUTH_CONFIRM, 0, 0);
	wire_put(&m, A_PROOF, proof, AUTH_PROOF_LEN);
	if (rl_send(l, &m) == -1)
		return -1;
	/* blob frames out; in, a GET is all it takes (serve_on_get) */
	rl_seal(l, key, 0);
	return 0;
}

static int
serve_on_get(void *arg, const struct proto_frame *f)
{
	struct rlink	*l = arg;
	uint64_t	 avail;
	char		 path[128];

	if (l->fd >= 0 || l->ended) {
		l->dead = 1;	/* one blob per link */
		return -1;
	}
	memcpy(l->hash, f->tb[A_HASH].data, 32);
	l->off = f->tb[A_OFFSET].data ? wire_get_u64(&f->tb[A_OFFSET]) : 0;
	if (push_source(l->hash, path, sizeof(path), &avail, &l->size,
	    &l->id) == -1) {
		serve_end(l, ENOENT, "not on this node");
		return 0;
	}
	if (l->off > l->size) {
		serve_end(l, EINVAL, "offset past the end");
		return 0;
	}
	if ((l->fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		serve_end(l, errno, strerror(errno));
		return 0;
	}
	return 0;
}

/* Fetching side: the parent's challenge; answer it. */
static int
fetch_on_challenge(void *arg, const struct proto_frame *f)
{
	struct rlink	*l = arg;
	unsigned char	 buf[160], proof[AUTH_PROOF_LEN];
	const unsigned char *key = uplink_key();
	struct wire_msg	 m;

	if (key == NULL) {
		fetch_fail(l, EACCES, "no cluster key");
		return -1;
	}
	memcpy(l->ns, f->tb[A_NONCE].data, AUTH_NONCE_LEN);
	auth_nonce(l->nc);
	auth_proof(proof, key, AUTH_ROLE_RELAY_CLIENT, l->ns, l->nc);
	wire_msg_init(&m, buf, sizeof(buf), MSG_AUTH_RESPONSE, 0, 0);
	wire_put(&m, A_NONCE, l->nc, AUTH_NONCE_LEN);
	wire_put(&m, A_PROOF, proof, AUTH_PROOF_LEN);
	l->phase = RL_CONFIRM;
	return rl_send(l, &m);
}

static int
fetch_on_confirm(void *arg, const struct proto_frame *f)
{
	struct rlink	*l = arg;
	unsigned char	 buf[128];
	const unsigned char *key = uplink_key();
	struct wire_msg	 m;

	if (key == NULL || auth_proof_check(f->tb[A_PROOF].data, key,
	    AUTH_ROLE_RELAY_SERVER, l->ns, l->nc) == -1) {
		fetch_fail(l, EACCES, "peer failed to prove the cluster key");
		return -1;
	}
	rl_seal(l, key, 1);
	wire_msg_init(&m, buf, sizeof(buf), MSG_RELAY_GET, 0, 0);
	wire_put(&m, A_HASH, l->hash, 32);
	wire_put_u64(&m, A_OFFSET, l->off);
	return rl_send(l, &m);
}

static int
fetch_on_blob(void *arg, const struct proto_frame *f)
{
	struct rlink	*l = arg;
	int		 r;

	if (memcmp(f->tb[A_HASH].data, l->hash, 32) != 0) {
		fetch_fail(l, EPROTO, "sent another blob");
		return -1;
	}
	r = push_relay_feed(l->gpid, l->hash, f->tb, f->body, f->len, &l->off);
	if (r == 1)
		fetch_done(l);
	else if (r == -1)
		l->dead = 1;	/* the exec failed; the master has heard */
	return 0;
}

static int
fetch_on_end(void *arg, const struct proto_frame *f)
{
	struct rlink	*l = arg;

	fetch_fail(l, (int)wire_get_u32(&f->tb[A_ERRNO]), f->tb[A_MSG].data ?
	    wire_get_str(&f->tb[A_MSG]) : "cannot serve it");
	return 0;
}

static int
fetch_on_ping(void *arg, const struct proto_frame *f)
{
	(void)arg;
	(void)f;
	return 0;	/* (last_rx says it is alive) */
}

#define RP(ph)	(1u << RL_##ph)

static const struct proto_route serve_routes[MSG_MAX] = {
	[MSG_AUTH_RESPONSE] =	{ RP(AUTH), serve_on_response },
	[MSG_RELAY_GET] =	{ RP(SEALED), serve_on_get },
};
static const struct proto_route fetch_routes[MSG_MAX] = {
	[MSG_AUTH_CHALLENGE] =	{ RP(AUTH), fetch_on_challenge },
	[MSG_AUTH_CONFIRM] =	{ RP(CONFIRM), fetch_on_confirm },
	[MSG_BLOB] =		{ RP(SEALED), fetch_on_blob },
	[MSG_RELAY_END] =	{ RP(SEALED), fetch_on_end },
	[MSG_PING] =		{ RP(SEALED), fetch_on_ping },
};
static const struct proto_role serve_role = { "relay child", DIR_N2N,
    serve_routes };
static const struct proto_role fetch_role = { "relay parent", DIR_N2N,
    fetch_routes };

static void
rl_input(struct rlink *l)
{
	struct wire_hdr		 h;
	const unsigned char	*body;
	const char		*why = "connection closed";
	char			 pwhy[PROTO_WHY_MAX];
	size_t			 blen;
	int			 r;

	if ((r = conn_read(&l->c)) == -1) {
		if (errno)
			why = strerror(errno);
		goto bad;
	}
	if (r == 0)
		return;
	l->last_rx = now_ms();
	while (!l->dead &&
	    (r = conn_frame(&l->c, &h, &body, &blen, &why)) == 1)
		if (proto_dispatch(l->serve ? &serve_role : &fetch_role,
		    (unsigned int)l->phase, l, &h, body, blen, pwhy) == -1 &&
		    pwhy[0] != '\0') {
			why = pwhy;
			goto bad;
		}
	if (r != -1 || l->dead)
		return;
bad:
	/* a bad frame or a lost peer ends that link, nothing else */
	if (l->serve) {
		log_info("relay child %s: %s", l->c.peer, why);
		l->dead = 1;
	}
	else
		fetch_fail(l, EIO, why);
}

/* MSG_RELAY from the master: fetch that blob from that peer, or stop. */
void
relay_order(struct wire_attr *tb)
{
	struct sockaddr_in	 sin;
	struct rlink		*l;
	pid_t			 gpid = (pid_t)wire_get_u32(&tb[A_PID]);
	const unsigned char	*hash = tb[A_HASH].data;
	char			 host[64], *colon;
	uint64_t		 off;
	int			 fd;

	DLIST_FOREACH(l, &rlinks, link)
		if (!l->serve && l->gpid == gpid && memcmp(l->hash, hash,
		    32) == 0)
			l->dead = 1;	/* the master moved it: no report */
	if (!tb[A_ADDR].data || push_relay_want(gpid, hash, &off) == -1)
		return;
	snprintf(host, sizeof(host), "%s", wire_get_str(&tb[A_ADDR]));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	if ((colon = strrchr(host, ':')) == NULL)
		sin.sin_port = htons(BPROC_RELAY_PORT);
	else {
		*colon = '\0';
		sin.sin_port = htons((uint16_t)atoi(colon + 1));
	}
	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1 ||
	    (fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1 ||
	    (l = rl_new(fd, wire_get_str(&tb[A_ADDR]), 0)) == NULL) {
		struct rlink	tmp;

		memset(&tmp, 0, sizeof(tmp));
		tmp.gpid = gpid;
		memcpy(tmp.hash, hash, 32);
		snprintf(tmp.c.peer, sizeof(tmp.c.peer), "%s", host);
		fetch_fail(&tmp, errno ? errno : EINVAL, "cannot connect");
		return;
	}
	l->gpid = gpid;
	memcpy(l->hash, hash, 32);
	l->off = off;
	l->phase = RL_CONNECTING;
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0)
		l->phase = RL_AUTH;
	else if (errno != EINPROGRESS)
		fetch_fail(l, errno, strerror(errno));
}

static void
relay_accept(void)
{
	struct sockaddr_in	 sin;
	struct rlink		*l;
	unsigned char		 buf[128];
	struct wire_msg		 m;
	socklen_t		 slen = sizeof(sin);
	char			 peer[64];
	int			 s;

	while ((s = accept4(listen_fd, (struct sockaddr *)&sin, &slen,
	    SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		snprintf(peer, sizeof(peer), "%s:%u", inet_ntoa(sin.sin_addr),
		    ntohs(sin.sin_port));
		slen = sizeof(sin);
		if (uplink_key() == NULL) {
			close(s);
			continue;
		}
		if ((l = rl_new(s, peer, 1)) == NULL)
			continue;
		l->phase = RL_AUTH;
		auth_nonce(l->ns);
		wire_msg_init(&m, buf, sizeof(buf), MSG_AUTH_CHALLENGE, 0, 0);
		wire_put_u32(&m, A_VERSION, BPROC_VERSION);
		wire_put(&m, A_NONCE, l->ns, AUTH_NONCE_LEN);
		rl_send(l, &m);
	}
}

void
relay_init(void)
{
	struct sockaddr_in	sin;
	int			one = 1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(BPROC_RELAY_PORT);
	if ((listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1 ||
	    setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one,
	    sizeof(one)) == -1 ||
	    bind(listen_fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(listen_fd, 64) == -1) {
		/* children then fetch elsewhere: the master routes them */
		log_warn("relay port %d", BPROC_RELAY_PORT);
		if (listen_fd >= 0)
			close(listen_fd);
		listen_fd = -1;
	}
}

/* Send a child what its parent has of the blob now, up to RELAY_QUEUE. */
static void
serve_pump(struct rlink *l, uint64_t now)
{
	static unsigned char	 frame[BLOB_FRAME], data[BLOB_CHUNK];
	struct wire_msg		 m;
	uint64_t		 avail, size;
	uint32_t		 id;
	size_t			 want, off, piece;
	ssize_t			 got;
	char			 path[128];

	if (l->fd < 0 || l->ended)
		return;
	if (push_source(l->hash, path, sizeof(path), &avail, &size, &id) == -1 ||
	    size != l->size || (id != l->id && id != 0)) {
		serve_end(l, EIO, "the blob is gone from this node");
		return;
	}
	l->id = id;
	while (!l->dead && l->off < avail && conn_pending(&l->c) < RELAY_QUEUE) {
		want = avail - l->off > BLOB_CHUNK ? BLOB_CHUNK :
		    (size_t)(avail - l->off);
		if ((got = pread(l->fd, data, want, (off_t)l->off)) <= 0) {
			serve_end(l, EIO, "cannot read the blob");
			return;
		}
		wire_msg_init(&m, frame, sizeof(frame), MSG_BLOB, 0, 0);
		wire_put_u32(&m, A_PID, 0);
		wire_put(&m, A_HASH, l->hash, 32);
		for (off = 0; off < (size_t)got; off += piece) {
			piece = (size_t)got - off > BLOB_PIECE ? BLOB_PIECE :
			    (size_t)got - off;
			wire_put(&m, A_DATA, data + off, piece);
		}
		l->off += (uint64_t)got;
		relay_served_bytes += (uint64_t)got;
		if (l->off == l->size && id == 0) {
			wire_put_u8(&m, A_EOF, 1);
			l->ended = 1;
		}
		rl_send(l, &m);
	}
	/* whole, verified and sent: the end, which even an empty blob needs */
	if (!l->dead && !l->ended && l->off == l->size && id == 0) {
		wire_msg_init(&m, frame, sizeof(frame), MSG_BLOB, 0, 0);
		wire_put_u32(&m, A_PID, 0);
		wire_put(&m, A_HASH, l->hash, 32);
		wire_put_u8(&m, A_EOF, 1);
		l->ended = 1;
		rl_send(l, &m);
	}
	if (!l->dead && !l->ended && now - l->last_tx >= RELAY_KEEPALIVE_MS) {
		wire_msg_init(&m, frame, sizeof(frame), MSG_PING, 0, 0);
		rl_send(l, &m);
	}
}

/*
 * After every pass of the main loop: children get what came in, stalled
 * feeds and finished or dead links go.  Returns the poll timeout it needs.
 */
int
relay_tick(void)
{
	struct rlink	*l, *next;
	uint64_t	 now = now_ms(), off;

	DLIST_FOREACH_SAFE(l, &rlinks, link, next) {
		if (!l->dead && l->serve) {
			if (l->phase != RL_SEALED ? now - l->born > RELAY_AUTH_MS :
			    conn_pending(&l->c) > 0 && now - l->last_rx >
			    RELAY_IDLE_MS && now - l->last_tx > RELAY_IDLE_MS)
				l->dead = 1;
			else
				serve_pump(l, now);
			if (l->ended && conn_pending(&l->c) == 0)
				l->dead = 1;
		} else if (!l->dead) {
			if (push_relay_want(l->gpid, l->hash, &off) == -1)
				l->dead = 1;	/* here, or no longer wanted */
			else if (l->phase != RL_SEALED &&
			    now - l->born > RELAY_AUTH_MS)
				fetch_fail(l, ETIMEDOUT, "no handshake");
			else if (l->phase == RL_SEALED &&
			    now - l->last_rx > RELAY_STALL_MS)
				fetch_fail(l, ETIMEDOUT, "stalled");
		}
		if (l->dead)
			rl_free(l);
	}
	return !DLIST_EMPTY(&rlinks) ? RELAY_KEEPALIVE_MS / 2 : -1;
}

/* Poll slots: the listener and each link.  Returns how many it filled. */
int
relay_poll_setup(struct pollfd *pfd, int max)
{
	struct rlink	*l;
	int		 n = 0;

	if (listen_fd >= 0 && n < max) {
		pfd[n].fd = listen_fd;
		pfd[n].events = nrlinks < RELAY_LINKS_MAX ? POLLIN : 0;
		pfd[n++].revents = 0;
	}
	for (l = DLIST_FIRST(&rlinks); l != NULL && n < max;
	    l = DLIST_NEXT(l, link)) {
		pfd[n].fd = l->c.fd;
		pfd[n].events = l->phase == RL_CONNECTING ? POLLOUT :
		    POLLIN | (conn_pending(&l->c) > 0 ? POLLOUT : 0);
		pfd[n++].revents = 0;
	}
	return n;
}

int
relay_poll_count(void)
{
	return 1 + nrlinks;
}

void
relay_poll_event(struct pollfd *pfd, int n)
{
	struct rlink	*l;
	int		 i, e;
	socklen_t	 elen = sizeof(e);

	for (i = 0; i < n; i++) {
		if (pfd[i].revents == 0)
			continue;
		if (pfd[i].fd == listen_fd) {
			relay_accept();
			continue;
		}
		/* (a link freed or made meanwhile: its slot is skipped) */
		DLIST_FOREACH(l, &rlinks, link)
			if (l->c.fd == pfd[i].fd)
				break;
		if (l == NULL || l->dead)
			continue;
		if (l->phase == RL_CONNECTING) {
			if (getsockopt(l->c.fd, SOL_SOCKET, SO_ERROR, &e,
			    &elen) == -1 || e != 0) {
				fetch_fail(l, e ? e : errno, strerror(e ? e :
				    errno));
				continue;
			}
			l->phase = RL_AUTH;
			l->last_rx = now_ms();
			continue;
		}
		if ((pfd[i].revents & POLLOUT) && conn_flush(&l->c) == -1) {
			if (l->serve)
				l->dead = 1;
			else
				fetch_fail(l, errno, strerror(errno));
			continue;
		}
		if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
			rl_input(l);
	}
}
