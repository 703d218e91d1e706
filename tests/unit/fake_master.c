/*
 * fake_master: a stand-in for bpmaster's control socket, so the tools'
 * output can be tested without a cluster.  It serves a fixed six-node
 * table through the real codec (wire.c, proto.c):
 *
 *	CTL_NODES	the table, then CTL_END
 *	CTL_SET		applies the change and answers CTL_RESULT; node 2 is
 *			"someone else's" and refuses everything with EPERM,
 *			unknown nodes get ENODEV, odd states EINVAL
 *	CTL_WATCH	CTL_CHANGED after every change
 *	CTL_PROCS	a fixed process table, then CTL_END
 *
 * usage: fake_master [-r] [-c secs] PATH
 *	-c secs		every secs seconds node 1 flips between up and error
 *			and node 0's load rises, and watchers are told
 *	-r		refuse every connection: accept it and close it at
 *			once, as bpmaster does when a user holds too many
 *
 * It prints "ready" once it listens and runs until killed.  Nothing here
 * is bpmaster's policy; it only has to be predictable.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <err.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proto.h"

#define FM_NODES	6	/* nodes in the fixture */
#define FM_CLIENTS	64	/* connections served at once */
#define FM_EPERM_NODE	2	/* refuses every change */

struct fm_node {
	int		state;
	unsigned int	uid, gid, mode;
	const char	*addr;		/* NULL: never seen */
	unsigned char	mac[6];
	int		has_mac;
	uint64_t	last_seen;	/* ms; UINT64_MAX: never */
	unsigned int	load[3];
	unsigned int	cpus;
	uint64_t	mem_total, mem_free, uptime;
	unsigned int	nprocs;
	int		stage;
	uint64_t	cache, push;
};

#define GB	(1024ull * 1024 * 1024)
#define MB	(1024ull * 1024)

/*
 * Nodes 0, 1 and 3 are alike, so the grouped view shows "0-1,3"; node 4
 * belongs to a uid and gid no test machine has, so they print as numbers;
 * node 5's address carries characters JSON must escape.
 */
static struct fm_node	nodes[FM_NODES] = {
	{ NODE_UP, 0, 0, 0111, "10.0.0.10", { 0x52, 0x54, 0, 0xbb, 0, 1 }, 1,
	  400, { 12, 5, 1 }, 4, 3.8 * GB, 1.2 * GB, 273600, 12, STAGE_UP,
	  4 * MB, 12 * MB },
	{ NODE_UP, 0, 0, 0111, "10.0.0.11", { 0x52, 0x54, 0, 0xbb, 0, 2 }, 1,
	  1500, { 200, 150, 75 }, 8, 15.5 * GB, 9 * GB, 4000, 40, STAGE_UP,
	  0, 0 },
	{ NODE_DOWN, 0, 0, 0100, NULL, { 0 }, 0,
	  UINT64_MAX, { 0 }, 0, 0, 0, 0, 0, STAGE_NONE, 0, 0 },
	{ NODE_UP, 0, 0, 0111, "10.0.0.13", { 0x52, 0x54, 0, 0xbb, 0, 4 }, 1,
	  62000, { 0, 0, 0 }, 1, 512 * MB, 100 * MB, 59, 1, STAGE_UP,
	  1000, 2048 },
	{ NODE_UNAVAILABLE, 3999999, 3999999, 0110, "10.0.0.14",
	  { 0x52, 0x54, 0, 0xbb, 0, 5 }, 1,
	  90061000, { 100, 100, 100 }, 2, 2 * GB, 1 * GB, 90061, 3, STAGE_UP,
	  0, 0 },
	{ NODE_BOOT, 0, 0, 0100, "10.0.0.15 \"x\"\\\t", { 0x52, 0x54, 0, 0xbb,
	  0, 6 }, 1, 0, { 0 }, 1, 1 * GB, 1 * GB, 3, 1, STAGE_SETUP, 0, 0 },
};

/*
 * The process table, in no particular order (bpstat sorts it).  Node 3's
 * process got another PID on its node; as with node 4's owner, the uids
 * other than 0 exist on no test machine, so they print as numbers; one
 * command line carries characters JSON must escape and a terminal must
 * not see raw; node 5 has no processes.
 */
struct fm_proc {
	unsigned int	 pid, node, rpid, uid;
	const char	*cmd;
	unsigned int	 ppid;		/* 0: not sent, as an older master */
};

static const struct fm_proc	procs[] = {
	{ 4242, 1, 4242, 0, "sleep 100", 4241 },
	{ 4101, 0, 4101, 0, "sh -c echo $$; sleep 5", 4000 },
	{ 4300, 3, 17, 3999998, "/usr/bin/id -u", 4299 },
	{ 4102, 0, 4102, 3999999, "awk {print \"x\"}\tdone", 4101 },
	{ 5000, 4, 5000, 0, "md5sum \033[2J/dev/zero", 1 },
	{ 4243, 1, 4243, 0, "cat", 0 },
};
#define FM_PROCS	(sizeof(procs) / sizeof(procs[0]))

static int	clients[FM_CLIENTS];	/* -1: free */
static int	watching[FM_CLIENTS];

static int
write_all(int fd, const void *buf, size_t len)
{
	const unsigned char	*p = buf;
	ssize_t			 n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
read_all(int fd, void *buf, size_t len)
{
	unsigned char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		if ((n = read(fd, p, len)) <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
send_msg(int fd, struct wire_msg *m)
{
	size_t	len = wire_msg_finish(m);

	return len == 0 ? -1 : write_all(fd, m->buf, len);
}

static int
send_nodes(int fd, uint32_t seq)
{
	unsigned char	buf[512];
	struct wire_msg	m;
	int		i;

	for (i = 0; i < FM_NODES; i++) {
		struct fm_node	*n = &nodes[i];

		wire_msg_init(&m, buf, sizeof(buf), MSG_CTL_NODE, WIRE_F_REPLY,
		    seq);
		wire_put_u32(&m, A_NODE, (uint32_t)i);
		wire_put_u8(&m, A_STATE, (uint8_t)n->state);
		wire_put_u32(&m, A_UID, n->uid);
		wire_put_u32(&m, A_GID, n->gid);
		wire_put_u32(&m, A_MODE, n->mode);
		if (n->addr != NULL)
			wire_put_str(&m, A_ADDR, n->addr);
		if (n->has_mac)
			wire_put(&m, A_MAC, n->mac, 6);
		if (n->last_seen != UINT64_MAX)
			wire_put_u64(&m, A_LAST_SEEN, n->last_seen);
		wire_put_u32(&m, A_LOAD1, n->load[0]);
		wire_put_u32(&m, A_LOAD5, n->load[1]);
		wire_put_u32(&m, A_LOAD15, n->load[2]);
		wire_put_u32(&m, A_CPUS, n->cpus);
		wire_put_u64(&m, A_MEM_TOTAL, n->mem_total);
		wire_put_u64(&m, A_MEM_FREE, n->mem_free);
		wire_put_u64(&m, A_UPTIME, n->uptime);
		wire_put_u32(&m, A_NPROCS, n->nprocs);
		wire_put_u8(&m, A_STAGE, (uint8_t)n->stage);
		wire_put_u64(&m, A_CACHE_BYTES, n->cache);
		wire_put_u64(&m, A_PUSH_BYTES, n->push);
		if (send_msg(fd, &m) == -1)
			return -1;
	}
	wire_msg_init(&m, buf, sizeof(buf), MSG_CTL_END, WIRE_F_REPLY, seq);
	wire_put_u32(&m, A_COUNT, FM_NODES);
	wire_put_u32(&m, A_ERRNO, 0);
	return send_msg(fd, &m);
}

static int
send_procs(int fd, uint32_t seq)
{
	unsigned char	buf[1200];
	struct wire_msg	m;
	size_t		i;

	for (i = 0; i < FM_PROCS; i++) {
		wire_msg_init(&m, buf, sizeof(buf), MSG_CTL_PROC, WIRE_F_REPLY,
		    seq);
		wire_put_u32(&m, A_PID, procs[i].pid);
		wire_put_u32(&m, A_NODE, procs[i].node);
		wire_put_u32(&m, A_RPID, procs[i].rpid);
		wire_put_u32(&m, A_UID, procs[i].uid);
		if (procs[i].ppid)
			wire_put_u32(&m, A_PPID, procs[i].ppid);
		wire_put_str(&m, A_ARG, procs[i].cmd);
		if (send_msg(fd, &m) == -1)
			return -1;
	}
	wire_msg_init(&m, buf, sizeof(buf), MSG_CTL_END, WIRE_F_REPLY, seq);
	wire_put_u32(&m, A_COUNT, FM_PROCS);
	wire_put_u32(&m, A_ERRNO, 0);
	return send_msg(fd, &m);
}

static void
notify(void)
{
	static uint32_t	gen;
	unsigned char	buf[64];
	struct wire_msg	m;
	int		i;

	gen++;
	for (i = 0; i < FM_CLIENTS; i++) {
		if (clients[i] == -1 || !watching[i])
			continue;
		wire_msg_init(&m, buf, sizeof(buf), MSG_CTL_CHANGED, 0, 0);
		wire_put_u32(&m, A_COUNT, gen);
		if (send_msg(clients[i], &m) == -1) {
			close(clients[i]);
			clients[i] = -1;
		}
	}
}

/* Returns the errno of the change; *msg may carry detail for the tool. */
static int
apply_set(struct wire_attr tb[A_MAX], const char **msg)
{
	uint32_t	node = wire_get_u32(&tb[A_NODE]);
	struct fm_node	*n;
	int		st;

	*msg = NULL;
	if (node >= FM_NODES)
		return ENODEV;
	if (node == FM_EPERM_NODE)
		return EPERM;
	n = &nodes[node];
	if (tb[A_STATE].data != NULL) {
		st = wire_get_u8(&tb[A_STATE]);
		if (st != NODE_UP && st != NODE_UNAVAILABLE &&
		    st != NODE_ERROR) {
			*msg = "only up, unavailable and error can be set";
			return EINVAL;
		}
		if (n->state == NODE_DOWN) {
			*msg = "node is down";
			return EINVAL;
		}
		n->state = st;
	} else if (tb[A_MODE].data != NULL)
		n->mode = wire_get_u32(&tb[A_MODE]) & 07777;
	else if (tb[A_UID].data != NULL)
		n->uid = wire_get_u32(&tb[A_UID]);
	else if (tb[A_GID].data != NULL)
		n->gid = wire_get_u32(&tb[A_GID]);
	else if (tb[A_HOW].data != NULL) {
		switch (wire_get_u8(&tb[A_HOW])) {
		case POWER_REBOOT:
			n->state = NODE_REBOOT;
			break;
		case POWER_HALT:
			n->state = NODE_HALT;
			break;
		case POWER_OFF:
			n->state = NODE_PWROFF;
			break;
		default:
			return EINVAL;
		}
	} else
		return EINVAL;
	return 0;
}

/* One request from client slot i; -1 closes the connection. */
static int
serve(int i)
{
	static unsigned char	 buf[WIRE_MAX_FRAME];
	unsigned char		 out[1200];
	struct wire_hdr		 h;
	struct wire_attr	 tb[A_MAX];
	struct wire_msg		 m;
	const char		*why, *msg;
	int			 fd = clients[i], e;

	if (read_all(fd, buf, WIRE_HDR_LEN) == -1 ||
	    wire_hdr_decode(buf, WIRE_HDR_LEN, WIRE_MAX_FRAME, &h, &why) != 1 ||
	    read_all(fd, buf + WIRE_HDR_LEN, h.len - WIRE_HDR_LEN) == -1 ||
	    proto_parse(&h, buf + WIRE_HDR_LEN, h.len - WIRE_HDR_LEN, tb,
	    &why) == -1)
		return -1;
	switch (h.type) {
	case MSG_CTL_NODES:
		return send_nodes(fd, h.seq);
	case MSG_CTL_PROCS:
		return send_procs(fd, h.seq);
	case MSG_CTL_WATCH:
		watching[i] = 1;
		return 0;
	case MSG_CTL_SET:
		e = apply_set(tb, &msg);
		wire_msg_init(&m, out, sizeof(out), MSG_CTL_RESULT,
		    WIRE_F_REPLY, h.seq);
		wire_put_u32(&m, A_NODE, wire_get_u32(&tb[A_NODE]));
		wire_put_u32(&m, A_ERRNO, (uint32_t)e);
		if (msg != NULL)
			wire_put_str(&m, A_MSG, msg);
		if (send_msg(fd, &m) == -1)
			return -1;
		if (e == 0)
			notify();
		return 0;
	}
	return -1;
}

static void
tick(void)
{
	nodes[1].state = nodes[1].state == NODE_UP ? NODE_ERROR : NODE_UP;
	nodes[0].load[0] += 1;
	notify();
}

int
main(int argc, char *argv[])
{
	struct sockaddr_un	 sun;
	struct pollfd		 pfd[FM_CLIENTS + 1];
	struct timespec		 now;
	time_t			 next = 0;
	int			 ch, lfd, i, n, every = 0, timeout;
	int			 refuse = 0;

	while ((ch = getopt(argc, argv, "c:r")) != -1) {
		switch (ch) {
		case 'c':
			every = atoi(optarg);
			break;
		case 'r':
			refuse = 1;
			break;
		default:
			goto usage;
		}
	}
	if (argc - optind != 1)
		goto usage;
	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < FM_CLIENTS; i++)
		clients[i] = -1;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(argv[optind]) >= sizeof(sun.sun_path))
		errx(1, "%s: path too long", argv[optind]);
	strcpy(sun.sun_path, argv[optind]);
	unlink(sun.sun_path);
	if ((lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(lfd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(lfd, 16) == -1)
		err(1, "%s", sun.sun_path);
	printf("ready\n");
	fflush(stdout);

	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		timeout = -1;
		if (every > 0) {
			if (next == 0)
				next = now.tv_sec + every;
			if (now.tv_sec >= next) {
				tick();
				next = now.tv_sec + every;
			}
			timeout = (int)(next - now.tv_sec) * 1000;
		}
		pfd[0].fd = lfd;
		pfd[0].events = POLLIN;
		for (i = 0; i < FM_CLIENTS; i++) {
			pfd[i + 1].fd = clients[i];
			pfd[i + 1].events = POLLIN;
		}
		if ((n = poll(pfd, FM_CLIENTS + 1, timeout)) == -1) {
			if (errno == EINTR)
				continue;
			err(1, "poll");
		}
		for (i = 0; i < FM_CLIENTS; i++) {
			if (pfd[i + 1].revents == 0 || clients[i] == -1)
				continue;
			if (serve(i) == -1) {
				close(clients[i]);
				clients[i] = -1;
				watching[i] = 0;
			}
		}
		if (pfd[0].revents & POLLIN) {
			int	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

			if (refuse && fd != -1) {
				close(fd);
				continue;
			}
			for (i = 0; fd != -1 && i < FM_CLIENTS; i++)
				if (clients[i] == -1) {
					clients[i] = fd;
					watching[i] = 0;
					break;
				}
			if (fd != -1 && i == FM_CLIENTS)
				close(fd);
		}
	}
usage:
	fprintf(stderr, "usage: fake_master [-r] [-c secs] PATH\n");
	return 2;
}
