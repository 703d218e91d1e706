/*
 * migrate_bench NODE MB ITER: a process with MB of dirty heap measures, in
 * alternating rounds, a local fork()+_exit+waitpid and a bproc_rfork(NODE)
 * whose child exits at once on the node, reaped by waitpid; one warm-up
 * rfork first (it pushes the program and libc, which later rounds find in
 * the node's cache).  Prints "fork S" and "rfork S", mean seconds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bproc.h"

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
rfork_once(int node, const unsigned char *heap)
{
	pid_t	pid;
	int	st;

	if ((pid = bproc_rfork(node)) == 0)
		_exit(heap[4096] == 1 ? 0 : 1);
	if (pid == -1) {
		fprintf(stderr, "migrate_bench: rfork: %s\n", bproc_strerror());
		return -1;
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "migrate_bench: child status 0x%x\n", st);
		return -1;
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	unsigned char	*heap;
	double		 t, tf = 0, tr = 0;
	size_t		 len;
	pid_t		 pid;
	int		 node, iter, i;

	if (argc != 4) {
		fprintf(stderr, "usage: migrate_bench NODE MB ITER\n");
		return 2;
	}
	node = atoi(argv[1]);
	len = (size_t)atoi(argv[2]) << 20;
	iter = atoi(argv[3]);
	if ((heap = malloc(len + 8192)) == NULL)
		return 1;
	/* dirty and not zero: every page travels */
	memset(heap, 1, len + 8192);
	if (rfork_once(node, heap) == -1)
		return 1;
	for (i = 0; i < iter; i++) {
		t = now();
		if ((pid = fork()) == 0)
			_exit(0);
		waitpid(pid, NULL, 0);
		tf += now() - t;
		t = now();
		if (rfork_once(node, heap) == -1)
			return 1;
		tr += now() - t;
	}
	printf("fork %.6f\nrfork %.6f\n", tf / iter, tr / iter);
	return 0;
}
