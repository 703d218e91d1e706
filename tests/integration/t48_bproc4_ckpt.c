/*
 * Checkpoint and restart with BProc 4's calls (<sys/bproc.h>).
 *
 *   count FILE	count to 10^9; at 5*10^8 bproc_dump() itself into FILE, say
 *		so, and stop (SIGSTOP: the test kills it there).  The image,
 *		restarted, goes on from 5*10^8 and prints the final count
 *		and a checksum of every value it counted through.
 *   undump FILE	bproc_undump() the image here (the front end).
 *   execdump FILE NODE	bproc_execdump() it on NODE.
 *
 * The checksum is computed as the loop runs, so a restarted image that
 * lost or repeated part of the count (or its registers) prints another.
 */
#include <sys/bproc.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define COUNT_END	1000000000ull	/* what the loop counts to */
#define COUNT_DUMP	500000000ull	/* where it dumps itself */

/* The checksum the loop must reach: sum of i*i mod 2^64 for i < COUNT_END. */
static uint64_t
expected_sum(void)
{
	unsigned __int128	n = COUNT_END, s;

	/* sum of i^2 for i in [0, n) = (n-1)n(2n-1)/6 */
	s = (n - 1) * n * (2 * n - 1) / 6;
	return (uint64_t)s;
}

static int
count(const char *path)
{
	volatile uint64_t	i, sum = 0;
	char			host[65] = "";
	int			fd, r;

	for (i = 0; i < COUNT_END; i++) {
		if (i == COUNT_DUMP) {
			if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC,
			    0600)) == -1) {
				printf("open %s: %s\n", path, strerror(errno));
				return 1;
			}
			r = bproc_dump(fd, BPROC_DUMP_ALL);
			if (r < 0) {
				printf("dump: %s\n", bproc_strerror(errno));
				return 1;
			}
			if (r > 0) {
				close(fd);
				printf("dumped at %llu: %d bytes\n",
				    (unsigned long long)i, r);
				fflush(stdout);
				raise(SIGSTOP);
				printf("the dumper went on\n");
				return 1;
			}
			/*
			 * r == 0: the restarted image.  Its environment is
			 * the dumper's, so the host name says where it is.
			 */
			gethostname(host, sizeof(host) - 1);
			printf("restarted at %llu on host %s\n",
			    (unsigned long long)i, host);
			fflush(stdout);
		}
		sum += i * i;
	}
	printf("count %llu sum %s\n", (unsigned long long)i,
	    sum == expected_sum() ? "right" : "WRONG");
	return 0;
}

int
main(int argc, char **argv)
{
	int	fd;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && strcmp(argv[1], "count") == 0)
		return count(argv[2]);
	if (argc >= 3 && (fd = open(argv[2], O_RDONLY)) == -1) {
		printf("open %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	if (argc == 3 && strcmp(argv[1], "undump") == 0) {
		bproc_undump(fd);
		printf("undump: %s\n", bproc_strerror(errno));
		return 1;
	}
	if (argc == 4 && strcmp(argv[1], "execdump") == 0) {
		bproc_execdump(fd, atoi(argv[3]));
		printf("execdump: %s\n", bproc_strerror(errno));
		return 1;
	}
	fprintf(stderr, "usage: %s count|undump FILE | execdump FILE NODE\n",
	    argv[0]);
	return 2;
}
