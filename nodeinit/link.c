/*
 * The node's link to the master: network bring-up, connect with backoff,
 * the challenge/response handshake, HELLO, then status every heartbeat.
 * A master that stays silent past the timeout is dropped and redialled;
 * one that stays away for NODE_GIVEUP_MS reboots the node.
 *
 * link_transition() alone changes the link's state: it rejects edges the
 * protocol has no use for, sets the timer each state runs under, and logs
 * old -> new.  Whatever goes wrong on the link (a failed send, a bad
 * frame, EOF) only marks it LINK_DEAD: the caller may be walking the
 * process table or holding a pending push, so nothing is freed there.  The
 * main loop calls link_reap() after each handler, and only that closes the
 * link and ends what hung on it.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/uio.h>
#include <unistd.h>

#include <sodium.h>

#include "log.h"
#include "nodeinit.h"

enum link_state {
	LINK_IDLE,		/* waiting to (re)connect */
	LINK_CONNECTING,
	LINK_AUTH,		/* challenge answered, waiting for confirm */
	LINK_HELLO,		/* sealed; waiting for WELCOME */
	LINK_UP,
	LINK_DEAD		/* failed; link_reap() closes it */
};

static const char *const link_state_names[] = {
	"idle", "connecting", "auth", "hello", "up", "dead"
};

int			 node_num = -1;
static unsigned char	 key[AUTH_KEY_LEN];
static int		 have_key;
static unsigned char	 mac[6];
static struct conn	 lc = { .fd = -1 };
static int		 lstate = LINK_IDLE;
static unsigned char	 nm[AUTH_NONCE_LEN], nn[AUTH_NONCE_LEN];
static uint64_t		 next_try, backoff = NODE_BACKOFF_MIN;
static uint64_t		 deadline;	/* handshake or silence limit */
static int		 was_up;	/* the dead link had been up */
static uint64_t		 next_status;
static uint64_t		 lost_since;
static uint64_t		 boot_ms;
static unsigned int	 heartbeat_ms = 1000, timeout_ms = 3000;

static void
link_set_stage(int s)
{
	if (s != node_stage)
		log_info("boot stage %s -> %s", stage_name(node_stage),
		    stage_name(s));
	node_stage = s;
}

static int
read_mac(const char *ifname)
{
	char	path[96], buf[32];
	ssize_t	n;
	int	fd;

	snprintf(path, sizeof(path), "/sys/class/net/%s/address", ifname);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 17)
		return -1;
	buf[17] = '\0';
	unsigned int b[6];
	if (sscanf(buf, "%2x:%2x:%2x:%2x:%2x:%2x", &b[0], &b[1], &b[2], &b[3],
	    &b[4], &b[5]) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		mac[i] = (unsigned char)b[i];
	return 0;
}

static void
net_up(void)
{
	int	plen;

	if (nl_link_up("lo") == -1)
		log_warn("lo up");
	if (nl_addr_add("lo", "127.0.0.1", 8) == -1)
		log_warn("lo address");
	if (!ncf.virt)
		modules_wait_iface(ncf.iface);
	if (read_mac(ncf.iface) == -1)
		log_warnx("%s: no MAC address (is the NIC driver loaded?)",
		    ncf.iface);
	if (nl_link_up(ncf.iface) == -1) {
		log_warn("%s up", ncf.iface);
		return;
	}
	if (ncf.ip[0] == '\0') {
		/* a virtual node's address comes on its command line */
		if (ncf.virt) {
			log_warnx("no ip= on the command line");
			return;
		}
		if (boot_dhcp() == -1)
			return;
	}
	if ((plen = nl_mask_len(ncf.netmask)) == -1) {
		log_warnx("bad netmask %s", ncf.netmask);
		return;
	}
	if (nl_addr_add(ncf.iface, ncf.ip, plen) == -1) {
		log_warn("%s address %s/%d", ncf.iface, ncf.ip, plen);
		return;
	}
	if (ncf.gw[0] != '\0' && nl_route_default(ncf.gw) == -1)
		log_warn("default route via %s", ncf.gw);
	log_info("%s %s/%d up", ncf.iface, ncf.ip, plen);
	link_set_stage(STAGE_NETWORK);
}

void
link_init(void)
{
	char	err[256];

	boot_ms = now_ms();
	if (auth_key_load(ncf.keyfile, key, err, sizeof(err)) == -1)
		log_warnx("cluster key: %s; cannot join a cluster", err);
	else
		have_key = 1;
	net_up();
	if (ncf.master_addr[0] == '\0')
		log_warnx("no bproc.master= given; waiting forever");
	next_try = now_ms();
	lost_since = now_ms();
}

/* Which edges the link may take; anything but idle may fail. */
static int
link_edge_ok(int from, int to)
{
	if (to == LINK_DEAD)
		return from != LINK_IDLE && from != LINK_DEAD;
	switch (from) {
	case LINK_IDLE:
		return to == LINK_CONNECTING;
	case LINK_CONNECTING:
		return to == LINK_AUTH;
	case LINK_AUTH:
		return to == LINK_HELLO;
	case LINK_HELLO:
		return to == LINK_UP;
	case LINK_DEAD:
		return to == LINK_IDLE;
	default:	/* up ends only in dead */
		return 0;
	}
}

static int
link_transition(int to, const char *why)
{
	uint64_t	now = now_ms();
	int		from = lstate;

	if (!link_edge_ok(from, to)) {
		log_warnx("master link: refused %s -> %s (%s)",
		    link_state_names[from], link_state_names[to], why);
		return -1;
	}
	/* a redial every backoff is routine; the rest is news */
	if (to == LINK_DEAD)
		log_warnx("master link %s: %s -> %s (%s)", lc.peer,
		    link_state_names[from], link_state_names[to], why);
	else if (to != LINK_HELLO && to != LINK_UP)
		log_debug("master link %s -> %s (%s)", link_state_names[from],
		    link_state_names[to], why);
	else
		log_info("master link %s -> %s (%s)", link_state_names[from],
		    link_state_names[to], why);
	lstate = to;
	switch (to) {
	case LINK_CONNECTING:
		/* the whole handshake, up to WELCOME, runs under this */
		deadline = now + NODE_AUTH_MS;
		break;
	case LINK_HELLO:
		link_set_stage(STAGE_CONNECTED);
		break;
	case LINK_UP:
		deadline = now + timeout_ms;
		next_status = now;
		backoff = NODE_BACKOFF_MIN;
		link_set_stage(STAGE_SETUP);
		break;
	case LINK_DEAD:
		was_up = from == LINK_UP;
		if (was_up)
			lost_since = now;
		deadline = now;		/* link_reap's, at once */
		break;
	case LINK_IDLE:
		if (node_stage > STAGE_NETWORK)
			link_set_stage(STAGE_NETWORK);
		next_try = now + backoff + randombytes_uniform(
		    (uint32_t)backoff / 2 + 1);
		backoff = backoff * 2 > NODE_BACKOFF_MAX ? NODE_BACKOFF_MAX :
		    backoff * 2;
		break;
	}
	return 0;
}

/* Mark the link failed; link_reap() closes it once the handler is done. */
static void
link_fail(const char *why)
{
	if (lstate != LINK_DEAD && lstate != LINK_IDLE)
		link_transition(LINK_DEAD, why);
}

/*
 * Close a link a handler marked dead, from the main loop, where nobody
 * holds a process record or a pending push: end the processes whose
 * ghosts went with the master, forget the pushes, and wait to redial.
 */
void
link_reap(void)
{
	if (lstate != LINK_DEAD)
		return;
	if (was_up)
		grace_lost();
	push_abort_all();
	conn_free(&lc);
	lc.fd = -1;
	was_up = 0;
	link_transition(LINK_IDLE, "closed");
}

static void
link_connect(void)
{
	struct sockaddr_in	sin;
	char			peer[80];
	int			fd, one = 1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)ncf.master_port);
	if (inet_pton(AF_INET, ncf.master_addr, &sin.sin_addr) != 1) {
		log_warnx("bad master address %s", ncf.master_addr);
		next_try = now_ms() + NODE_BACKOFF_MAX;
		return;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		log_warn("socket");
		next_try = now_ms() + NODE_BACKOFF_MAX;
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	snprintf(peer, sizeof(peer), "%s:%d", ncf.master_addr, ncf.master_port);
	conn_init(&lc, fd, peer, WIRE_PREAUTH_MAX, NODE_LINK_OUTMAX);
	link_transition(LINK_CONNECTING, peer);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 &&
	    errno != EINPROGRESS)
		link_fail(strerror(errno));
}

/*
 * Queue a message and try to send it.  On failure the link is only marked
 * dead (link_fail): every caller may go on using what it holds, and its
 * later sends fail quietly until link_reap() closes the link.
 */
int
link_send_msg(struct wire_msg *m)
{
	size_t	len = wire_msg_finish(m);

	if (lc.fd < 0 || lstate == LINK_DEAD)
		return -1;
	if (len == 0) {
		link_fail("message too large");
		return -1;
	}
	if (conn_send(&lc, m->buf, len) == -1 || conn_flush(&lc) == -1) {
		link_fail(errno == ENOBUFS ? "output queue full" :
		    strerror(errno));
		return -1;
	}
	return 0;
}

size_t
link_pending(void)
{
	return lc.fd >= 0 ? conn_pending(&lc) : 0;
}

static unsigned int
count_procs(void)
{
	struct dirent	*de;
	DIR		*d;
	unsigned int	 n = 0;

	if ((d = opendir("/proc")) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] >= '1' && de->d_name[0] <= '9')
			n++;
	closedir(d);
	return n;
}

static void
link_status(void)
{
	unsigned char	buf[512];
	struct wire_msg	m;
	struct sysinfo	si;

	wire_msg_init(&m, buf, sizeof(buf), MSG_STATUS, 0, 0);
	wire_put_u8(&m, A_STAGE, (uint8_t)node_stage);
	if (sysinfo(&si) == 0) {
		/* sysinfo loads are fixed point with 16 fractional bits */
		wire_put_u32(&m, A_LOAD1, (uint32_t)(si.loads[0] * 100 >> 16));
		wire_put_u32(&m, A_LOAD5, (uint32_t)(si.loads[1] * 100 >> 16));
		wire_put_u32(&m, A_LOAD15, (uint32_t)(si.loads[2] * 100 >> 16));
		wire_put_u64(&m, A_MEM_TOTAL, (uint64_t)si.totalram * si.mem_unit);
		wire_put_u64(&m, A_MEM_FREE, (uint64_t)(si.freeram +
		    si.bufferram) * si.mem_unit);
		/* a virtual node's machine booted long before it did */
		wire_put_u64(&m, A_UPTIME, ncf.virt ?
		    (now_ms() - boot_ms) / 1000 : (uint64_t)si.uptime);
	}
	wire_put_u32(&m, A_CPUS, (uint32_t)sysconf(_SC_NPROCESSORS_ONLN));
	wire_put_u32(&m, A_NPROCS, count_procs());
	wire_put_u64(&m, A_CACHE_BYTES, cache_bytes);
	if (link_send_msg(&m) == 0)
		next_status = now_ms() + heartbeat_ms;
}

/* Setup is done: the node is up. */
void
link_setup_done(void)
{
	link_set_stage(STAGE_UP);
	link_status();
}

static void
link_challenge(struct wire_attr *tb)
{
	unsigned char	buf[160], proof[AUTH_PROOF_LEN];
	struct wire_msg	m;

	master_proto = (int)wire_get_u32(&tb[A_VERSION]);
	memcpy(nm, tb[A_NONCE].data, AUTH_NONCE_LEN);
	auth_nonce(nn);
	auth_proof(proof, key, AUTH_ROLE_NODE, nm, nn);
	wire_msg_init(&m, buf, sizeof(buf), MSG_AUTH_RESPONSE, 0, 0);
	wire_put(&m, A_NONCE, nn, AUTH_NONCE_LEN);
	wire_put(&m, A_PROOF, proof, AUTH_PROOF_LEN);
	if (link_send_msg(&m) == 0)
		link_transition(LINK_AUTH, "challenge answered");
}

static void
link_confirm(struct wire_attr *tb)
{
	unsigned char	buf[160], km[32], kn[32];
	struct wire_msg	m;

	if (auth_proof_check(tb[A_PROOF].data, key, AUTH_ROLE_MASTER, nm,
	    nn) == -1) {
		link_fail("master failed to prove the cluster key");
		return;
	}
	auth_session_keys(key, nm, nn, km, kn);
	conn_seal(&lc, km, kn, 1);
	sodium_memzero(km, sizeof(km));
	sodium_memzero(kn, sizeof(kn));
	lc.maxframe = WIRE_MAX_FRAME;
	link_transition(LINK_HELLO, "sealed");
	wire_msg_init(&m, buf, sizeof(buf), MSG_HELLO, 0, 0);
	wire_put(&m, A_MAC, mac, sizeof(mac));
	if (ncf.ip[0])
		wire_put_str(&m, A_ADDR, ncf.ip);
	wire_put_u8(&m, A_STAGE, (uint8_t)node_stage);
	wire_put_u32(&m, A_VERSION, BPROC_VERSION);
	link_send_msg(&m);
}

/*
 * The master's users and groups (MSG_USERS): /etc/passwd and /etc/group
 * replaced whole, atomically, so names resolve on the node.  The lines
 * carry no password hashes; the master made them from its own files.
 */
static void
link_users(const unsigned char *body, size_t blen)
{
	static const char *const path[2] = { "/etc/passwd", "/etc/group" };
	static const char *const tmp[2] = { "/etc/passwd.bproc-tmp",
	    "/etc/group.bproc-tmp" };
	struct wire_iter	 it;
	struct wire_attr	 a;
	struct iovec		 iov[2];
	int			 fd[2], i, k, ok = 1;

	for (i = 0; i < 2; i++)
		fd[i] = open(tmp[i], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
		    O_NOFOLLOW, 0644);
	wire_iter_init(&it, body, blen);
	while (ok && fd[0] != -1 && fd[1] != -1 &&
	    wire_iter_next(&it, &a) == 1) {
		if (a.type != A_PWENT && a.type != A_GRENT)
			continue;
		k = a.type == A_GRENT;
		/* proto_parse checked: one NUL, at the end */
		iov[0].iov_base = (void *)a.data;
		iov[0].iov_len = a.len - 1;
		iov[1].iov_base = (void *)"\n";
		iov[1].iov_len = 1;
		ok = writev(fd[k], iov, 2) == (ssize_t)a.len;
	}
	for (i = 0; i < 2; i++) {
		if (fd[i] == -1 || fchmod(fd[i], 0644) == -1 ||
		    close(fd[i]) == -1)
			ok = 0;
		fd[i] = -1;
	}
	for (i = 0; i < 2; i++)
		if (!ok || rename(tmp[i], path[i]) == -1) {
			ok = 0;
			unlink(tmp[i]);
		}
	if (!ok)
		log_warn("users from the master: /etc/passwd, /etc/group");
}

static void
link_welcome(struct wire_attr *tb)
{
	const char	*host;
	char		 envnum[16];

	node_num = (int)wire_get_u32(&tb[A_NODE]);
	heartbeat_ms = wire_get_u32(&tb[A_HEARTBEAT]);
	timeout_ms = wire_get_u32(&tb[A_TIMEOUT]);
	if (heartbeat_ms < 50 || timeout_ms <= heartbeat_ms) {
		link_fail("master sent bad heartbeat settings");
		return;
	}
	if (tb[A_HOSTNAME].data) {
		host = wire_get_str(&tb[A_HOSTNAME]);
		if (sethostname(host, strlen(host)) == -1)
			log_warn("sethostname %s", host);
	}
	snprintf(envnum, sizeof(envnum), "%d", node_num);
	setenv("BPROC_NODE", envnum, 1);
	log_info("joined the cluster as node %d", node_num);
	link_transition(LINK_UP, "welcome");
	link_status();
	grace_welcome(tb);
}

static void
link_dispatch(struct wire_hdr *h, const unsigned char *body, size_t blen)
{
	struct wire_attr	 tb[A_MAX];
	const char		*why;
	char			 msg[96];

	if (proto_parse(h, body, blen, tb, &why) == -1) {
		snprintf(msg, sizeof(msg), "bad %s frame: %s", msg_name(h->type),
		    why);
		link_fail(msg);
		return;
	}
	switch (lstate) {
	case LINK_CONNECTING:
		if (h->type == MSG_AUTH_CHALLENGE) {
			link_challenge(tb);
			return;
		}
		break;
	case LINK_AUTH:
		if (h->type == MSG_AUTH_CONFIRM) {
			link_confirm(tb);
			return;
		}
		break;
	case LINK_HELLO:
		if (h->type == MSG_WELCOME) {
			link_welcome(tb);
			return;
		}
		break;
	case LINK_UP:
		switch (h->type) {
		case MSG_PING:
			return;
		case MSG_USERS:
			link_users(body, blen);
			return;
		case MSG_SETUP:
			/* up once the master's push list is here (push.c) */
			push_setup(h, tb, body, blen);
			return;
		case MSG_POWER:
			node_poweroff(wire_get_u8(&tb[A_HOW]));
		case MSG_EXEC:
			proc_exec(h, tb, body, blen);
			return;
		case MSG_BLOB:
			push_blob(tb, body, blen);
			return;
		case MSG_SIGNAL:
			proc_signal(tb);
			return;
		case MSG_IO:
			proc_input(tb);
			return;
		case MSG_IO_ACK:
			proc_ack(tb);
			return;
		case MSG_FORK_RESULT:
			track_fork_result(h, tb);
			return;
		case MSG_RESUME:
			proc_resume(tb);
			return;
		case MSG_REAP:
			proc_reap_one(tb);
			return;
		}
		break;
	}
	snprintf(msg, sizeof(msg), "unexpected %s frame", msg_name(h->type));
	link_fail(msg);
}

int
link_poll_setup(int *fd, short *events)
{
	uint64_t	now = now_ms(), next;

	*fd = lstate == LINK_DEAD ? -1 : lc.fd;
	*events = 0;
	if (*fd >= 0) {
		*events = POLLIN;
		if (lstate == LINK_CONNECTING || conn_pending(&lc))
			*events |= POLLOUT;
	}
	next = lstate == LINK_IDLE ? next_try : deadline;
	if (lstate == LINK_UP && next_status < next)
		next = next_status;
	return next <= now ? 0 : (int)(next - now);
}

void
link_poll_event(short revents)
{
	struct wire_hdr		 h;
	const unsigned char	*body;
	const char		*why;
	size_t			 blen;
	int			 r;

	if (lstate == LINK_DEAD)
		return;
	if (revents & POLLOUT) {
		if (conn_flush(&lc) == -1) {
			link_fail(strerror(errno));
			return;
		}
	}
	if (!(revents & (POLLIN | POLLHUP | POLLERR)))
		return;
	if ((r = conn_read(&lc)) == -1) {
		link_fail(errno ? strerror(errno) : "connection closed");
		return;
	}
	if (r == 0)
		return;
	if (lstate == LINK_UP)
		deadline = now_ms() + timeout_ms;
	/* a handler that failed the link ends the batch: the rest is moot */
	while (lstate != LINK_DEAD &&
	    (r = conn_frame(&lc, &h, &body, &blen, &why)) == 1)
		link_dispatch(&h, body, blen);
	if (r == -1 && lstate != LINK_DEAD)
		link_fail(why);
}

void
link_timer(void)
{
	uint64_t	now = now_ms();

	switch (lstate) {
	case LINK_IDLE:
		if (ncf.master_addr[0] == '\0' || !have_key)
			return;
		grace_tick(lost_since);
		if (now >= next_try)
			link_connect();
		return;
	case LINK_UP:
		if (now >= deadline) {
			link_fail("master silent past the timeout");
			return;
		}
		if (now >= next_status)
			link_status();
		return;
	case LINK_DEAD:
		return;		/* link_reap's */
	default:
		if (now >= deadline)
			link_fail("handshake timed out");
	}
}
