/*
 * vmadump_bench: the costs bench/vmadump_bench.sh compares, measured in
 * one process with a dirty heap of the given size.
 *
 *	vmadump_bench MB ITER		print one "name seconds" line per cost
 *	vmadump_bench MB pause		fill the heap, print the PID, wait (for criu)
 *
 * fork: fork(), the child exits, waitpid.  dump: bproc_dump to a file on
 * tmpfs.  undump: fork, bproc_undump of that file, the resumed image exits,
 * waitpid.  stream: a child undumps from a pipe while this process dumps
 * into it, the shape of a migration.  Each is the mean over ITER runs.
 */
#include <sys/wait.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bproc_dump.h"

static double
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
reap(pid_t pid)
{
	int	 st;

	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "vmadump_bench: child %d failed (status %#x)\n",
		    (int)pid, st);
		exit(1);
	}
}

int
main(int argc, char *argv[])
{
	char		 path[64];
	unsigned char	*heap;
	size_t		 i, len;
	double		 t, tfork = 0, tdump = 0, tundump = 0, tstream = 0;
	pid_t		 pid;
	int		 iter, n, fd, p[2], r;

	if (argc != 3) {
		fprintf(stderr, "usage: vmadump_bench MB ITER|pause\n");
		return 2;
	}
	len = (size_t)atoi(argv[1]) << 20;
	if ((heap = malloc(len)) == NULL)
		return 1;
	for (i = 0; i < len; i++)
		heap[i] = (unsigned char)(i * 31 + 1);
	if (strcmp(argv[2], "pause") == 0) {
		printf("%d\n", (int)getpid());
		fflush(stdout);
		for (;;)
			pause();
	}
	iter = atoi(argv[2]);
	snprintf(path, sizeof(path), "/dev/shm/vmadump_bench.%d", (int)getpid());
	for (n = 0; n < iter; n++) {
		t = now();
		if ((pid = fork()) == 0)
			_exit(0);
		reap(pid);
		tfork += now() - t;

		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		t = now();
		r = bproc_dump(fd, 0);
		if (r == BPROC_DUMP_RESUMED)
			_exit(0);
		if (r != 0) {
			perror("bproc_dump");
			return 1;
		}
		tdump += now() - t;
		close(fd);

		t = now();
		if ((pid = fork()) == 0) {
			fd = open(path, O_RDONLY);
			bproc_undump(fd);
			_exit(99);
		}
		reap(pid);
		tundump += now() - t;

		if (pipe(p) == -1)
			return 1;
		t = now();
		if ((pid = fork()) == 0) {
			close(p[1]);
			bproc_undump(p[0]);
			_exit(99);
		}
		close(p[0]);
		r = bproc_dump(p[1], 0);
		if (r == BPROC_DUMP_RESUMED)
			_exit(0);
		close(p[1]);
		reap(pid);
		tstream += now() - t;
	}
	unlink(path);
	printf("fork %.6f\ndump %.6f\nundump %.6f\nstream %.6f\n", tfork / iter,
	    tdump / iter, tundump / iter, tstream / iter);
	return 0;
}
