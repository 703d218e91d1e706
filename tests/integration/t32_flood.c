/*
 * t32's hostile user: keep N connections open to ADDR:PORT for SECONDS,
 * never saying a word (half-open handshakes), and open a new one the moment
 * the far end closes one, as fast as it can.  Prints what it managed.
 *
 *	t32_flood ADDR PORT N SECONDS
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in	sin;

static int
dial(void)
{
	int	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	if (fd == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 &&
	    errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

int
main(int argc, char **argv)
{
	struct rlimit	 rl = { 4096, 4096 };
	struct pollfd	*pfd;
	char		 buf[4096];
	unsigned long	 opens = 0, closed = 0;
	time_t		 end;
	int		 n, i;

	if (argc != 5)
		return 2;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)atoi(argv[2]));
	if (inet_pton(AF_INET, argv[1], &sin.sin_addr) != 1)
		return 2;
	n = atoi(argv[3]);
	end = time(NULL) + atoi(argv[4]);
	setrlimit(RLIMIT_NOFILE, &rl);
	if (n < 1 || (pfd = calloc((size_t)n, sizeof(*pfd))) == NULL)
		return 2;
	for (i = 0; i < n; i++) {
		pfd[i].fd = dial();
		pfd[i].events = POLLIN;
		opens += pfd[i].fd >= 0;
	}
	while (time(NULL) < end) {
		if (poll(pfd, (nfds_t)n, 100) == -1)
			continue;
		for (i = 0; i < n; i++) {
			if (pfd[i].fd >= 0 && !pfd[i].revents)
				continue;
			if (pfd[i].fd >= 0) {
				ssize_t	r = read(pfd[i].fd, buf, sizeof(buf));

				if (r > 0 || (r == -1 && errno == EAGAIN))
					continue;	/* the challenge: ignored */
				close(pfd[i].fd);
				closed++;
			}
			pfd[i].fd = dial();
			opens += pfd[i].fd >= 0;
		}
	}
	printf("flood: %lu connections opened, %lu closed by the far end\n",
	    opens, closed);
	return 0;
}
