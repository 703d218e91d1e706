/*
 * t11_client: a hostile user of bpmaster's control socket, for
 * t11_ctl_hostile.sh.  Built by the test from common/wire.c and proto.c.
 *
 *	t11_client flood SOCK NWATCH NIDLE SECONDS
 *		open NWATCH connections that each send CTL_WATCH and NIDLE
 *		that send nothing, then for SECONDS keep reopening what the
 *		master closed (at most 200 a second); prints what it held
 *	t11_client garbage SOCK	random bytes: 0 when the master closes us
 *	t11_client huge SOCK	a header claiming 2 GiB, then one of
 *				WIRE_MAX_FRAME + 1: 0 when each is closed
 *	t11_client exec SOCK NODE
 *		a plain client (not bpghost) sends EXEC of /bin/true, reads
 *		the result, then claims to be the ghost (MSG_GHOST) and
 *		prints the answer; then sleeps 3 s so the test can read its
 *		TracerPid; 0 if it was refused
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "proto.h"
#include "wire.h"

static const char	*sockpath;

static int
ctl_open(int nonblock)
{
	struct sockaddr_un	sun;
	int			s;

	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC |
	    (nonblock ? SOCK_NONBLOCK : 0), 0);
	if (s == -1)
		return -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sockpath);
	if (connect(s, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(s);
		return -1;
	}
	return s;
}

static void
send_type(int s, uint16_t type)
{
	unsigned char	buf[64];
	struct wire_msg	m;
	size_t		len;

	wire_msg_init(&m, buf, sizeof(buf), type, 0, 1);
	len = wire_msg_finish(&m);
	(void)!send(s, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
}

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Wait up to secs for the master to close s: 1 closed, 0 still open. */
static int
closed_within(int s, double secs)
{
	struct pollfd	pfd = { .fd = s, .events = POLLIN };
	char		buf[4096];
	double		end = now() + secs;
	ssize_t		n;

	while (now() < end) {
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		n = recv(s, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return 1;
	}
	return 0;
}

struct slot {
	int	fd;
	int	watch;
};

static int
flood(int nwatch, int nidle, int secs)
{
	struct slot	*sl;
	struct pollfd	*pfd;
	int		 n = nwatch + nidle, i, held, opened = 0, closed = 0;
	int		 budget;
	double		 end, tick;
	char		 buf[256];

	sl = calloc((size_t)n, sizeof(*sl));
	pfd = calloc((size_t)n, sizeof(*pfd));
	if (sl == NULL || pfd == NULL)
		return 2;
	for (i = 0; i < n; i++) {
		sl[i].watch = i < nwatch;
		sl[i].fd = -1;
	}
	/* first the whole flood, as fast as the master takes it */
	for (i = 0; i < n; i++) {
		double give_up = now() + 0.2;

		while ((sl[i].fd = ctl_open(1)) == -1 && now() < give_up &&
		    (errno == EAGAIN || errno == ECONNREFUSED))
			usleep(1000);
		if (sl[i].fd == -1)
			continue;
		opened++;
		if (sl[i].watch)
			send_type(sl[i].fd, MSG_CTL_WATCH);
	}
	printf("flood: %d of %d connections made\n", opened, n);
	fflush(stdout);
	/* then hold them, and reopen what the master closed */
	end = now() + secs;
	tick = now();
	budget = 0;
	while (now() < end) {
		for (i = 0; i < n; i++) {
			pfd[i].fd = sl[i].fd;
			pfd[i].events = POLLIN;
			pfd[i].revents = 0;
		}
		poll(pfd, (nfds_t)n, 50);
		if (now() - tick >= 0.05) {
			budget = 10;	/* 200 a second */
			tick = now();
		}
		for (i = 0; i < n; i++) {
			if (sl[i].fd >= 0 && pfd[i].revents) {
				ssize_t r = recv(sl[i].fd, buf, sizeof(buf),
				    MSG_DONTWAIT);

				if (r == 0 || (r < 0 && errno != EAGAIN)) {
					close(sl[i].fd);
					sl[i].fd = -1;
					closed++;
				}
			}
			if (sl[i].fd == -1 && budget > 0) {
				budget--;
				if ((sl[i].fd = ctl_open(1)) >= 0) {
					opened++;
					if (sl[i].watch)
						send_type(sl[i].fd,
						    MSG_CTL_WATCH);
				}
			}
		}
	}
	for (held = 0, i = 0; i < n; i++)
		if (sl[i].fd >= 0)
			held++;
	printf("flood: opened %d, closed by the master %d, held at the end "
	    "%d\n", opened, closed, held);
	return 0;
}

static int
garbage(void)
{
	unsigned char	buf[4096];
	int		s, fd, i;

	if ((s = ctl_open(0)) == -1)
		return 2;
	if ((fd = open("/dev/urandom", O_RDONLY)) == -1 ||
	    read(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
		return 2;
	close(fd);
	/* a plausible small length first, so the garbage is read as a frame */
	buf[0] = 0;
	buf[1] = 0;
	buf[2] = 0;
	buf[3] = 64;
	for (i = 0; i < 4; i++)
		(void)!send(s, buf, sizeof(buf), MSG_NOSIGNAL);
	return closed_within(s, 5) ? 0 : 1;
}

static int
huge_one(uint32_t len)
{
	unsigned char	h[WIRE_HDR_LEN] = { 0 };
	int		s;

	if ((s = ctl_open(0)) == -1)
		return 0;
	h[0] = (unsigned char)(len >> 24);
	h[1] = (unsigned char)(len >> 16);
	h[2] = (unsigned char)(len >> 8);
	h[3] = (unsigned char)len;
	h[5] = MSG_CTL_NODES;
	(void)!send(s, h, sizeof(h), MSG_NOSIGNAL);
	return closed_within(s, 5);
}

static int
huge(void)
{
	int	a = huge_one(0x80000000u), b = huge_one(WIRE_MAX_FRAME + 1);

	printf("huge: 2 GiB header %s, WIRE_MAX_FRAME+1 %s\n",
	    a ? "closed" : "NOT closed", b ? "closed" : "NOT closed");
	return a && b ? 0 : 1;
}

/* Read one frame (blocking, with a timeout): its type, or -1. */
static int
read_frame(int s, struct wire_attr *tb, unsigned char *buf, size_t cap)
{
	struct wire_hdr	 h;
	const char	*why;
	size_t		 have = 0, want = WIRE_HDR_LEN;
	ssize_t		 n;
	struct pollfd	 pfd = { .fd = s, .events = POLLIN };

	/* exactly one frame: the header, then its body (what follows stays) */
	for (;;) {
		if (have == WIRE_HDR_LEN && want == WIRE_HDR_LEN) {
			if (wire_hdr_decode(buf, have, cap, &h, &why) != 1 ||
			    h.len > cap)
				return -1;
			want = h.len;
		}
		if (have >= want)
			break;
		if (poll(&pfd, 1, 10000) <= 0)
			return -2;	/* nothing for 10 s */
		if ((n = recv(s, buf + have, want - have, 0)) <= 0)
			return -1;
		have += (size_t)n;
	}
	if (proto_parse(&h, buf + WIRE_HDR_LEN, h.len - WIRE_HDR_LEN, tb,
	    &why) == -1)
		return -1;
	return h.type;
}

static int
exec_plain(int node)
{
	static unsigned char	 buf[WIRE_MAX_FRAME];
	struct wire_attr	 tb[A_MAX];
	struct wire_msg		 m;
	size_t			 len;
	int			 s, t;

	if ((s = ctl_open(0)) == -1) {
		perror("connect");
		return 2;
	}
	wire_msg_init(&m, buf, sizeof(buf), MSG_EXEC, 0, 1);
	wire_put_u32(&m, A_NODE, (uint32_t)node);
	wire_put_str(&m, A_PATH, "/bin/true");
	wire_put_str(&m, A_ARG, "true");
	wire_put_str(&m, A_CWD, "/");
	wire_put_u32(&m, A_FLAGS, EXEC_F_NOIO);
	len = wire_msg_finish(&m);
	if (send(s, buf, len, MSG_NOSIGNAL) != (ssize_t)len)
		return 2;
	while ((t = read_frame(s, tb, buf, sizeof(buf))) != MSG_EXEC_RESULT)
		if (t < 0) {
			printf("exec: connection closed before a result\n");
			goto held;
		}
	printf("exec: result errno %u (%s)\n", wire_get_u32(&tb[A_ERRNO]),
	    tb[A_MSG].data ? wire_get_str(&tb[A_MSG]) : "");
	fflush(stdout);
	/* now pretend to be bpghost */
	send_type(s, MSG_GHOST);
	/* the process's own news (/bin/true's EXIT) may come first */
	while ((t = read_frame(s, tb, buf, sizeof(buf))) == MSG_EXIT ||
	    t == MSG_IO || t == MSG_STOPPED)
		;
	if (t == MSG_EXEC_RESULT && wire_get_u32(&tb[A_ERRNO]) != 0)
		printf("ghost: refused: %s\n", tb[A_MSG].data ?
		    wire_get_str(&tb[A_MSG]) : "(no message)");
	else if (t == -1)
		printf("ghost: refused: connection closed\n");
	else if (t == -2)
		printf("ghost: ACCEPTED (no refusal in 10 s)\n");
	else
		printf("ghost: ACCEPTED (frame type %d)\n", t);
held:
	fflush(stdout);
	/* stay for the test to read our TracerPid */
	sleep(3);
	return 0;
}

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc < 3)
		return 2;
	sockpath = argv[2];
	if (strcmp(argv[1], "flood") == 0 && argc == 6)
		return flood(atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
	if (strcmp(argv[1], "garbage") == 0)
		return garbage();
	if (strcmp(argv[1], "huge") == 0)
		return huge();
	if (strcmp(argv[1], "exec") == 0 && argc == 4)
		return exec_plain(atoi(argv[3]));
	fprintf(stderr, "usage: see the comment at the top\n");
	return 2;
}
