/*
 * migrate_bench NODE MB ITER [NODES]: a process with MB of dirty heap
 * measures, in alternating rounds, a local fork()+_exit+waitpid and a
 * bproc_rfork(NODE) whose child exits at once on the node, reaped by
 * waitpid; one warm-up rfork first (it pushes the program and libc, which
 * later rounds find in the node's cache).  With NODES (a list, "0,1"), a
 * bproc_vrfork to them in each round too.  Prints "fork S", "rfork S"
 * and "vrfork S", mean seconds.
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

static int
vrfork_once(int n, const int *nodes, const unsigned char *heap)
{
	pid_t	pids[16];
	int	r, i, st, bad = 0;

	if ((r = bproc_vrfork(n, nodes, pids)) == -1) {
		fprintf(stderr, "migrate_bench: vrfork: %s\n", bproc_strerror());
		return -1;
	}
	if (bproc_currnode() != BPROC_NODE_MASTER)
		_exit(heap[4096] == 1 ? 0 : 1);
	for (i = 0; i < n; i++)
		if (pids[i] <= 0 || waitpid(pids[i], &st, 0) != pids[i] ||
		    !WIFEXITED(st) || WEXITSTATUS(st))
			bad++;
	if (r != n || bad) {
		fprintf(stderr, "migrate_bench: vrfork: %d of %d started, %d "
		    "bad\n", r, n, bad);
		return -1;
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	unsigned char	*heap;
	double		 t, tf = 0, tr = 0, tv = 0;
	size_t		 len;
	pid_t		 pid;
	int		 node, iter, i, nv = 0, vn[16];
	const char	*p;

	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: migrate_bench NODE MB ITER [NODES]\n");
		return 2;
	}
	for (p = argc == 5 ? argv[4] : NULL; p != NULL && nv < 16;
	    p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		vn[nv++] = atoi(p);
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
		if (nv == 0)
			continue;
		t = now();
		if (vrfork_once(nv, vn, heap) == -1)
			return 1;
		tv += now() - t;
	}
	printf("fork %.6f\nrfork %.6f\n", tf / iter, tr / iter);
	if (nv > 0)
		printf("vrfork %.6f\n", tv / iter);
	return 0;
}
