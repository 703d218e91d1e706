/*
 * t49_rfork_node: bproc_rfork and bproc_vrfork called on a node (run by
 * t49_rfork_node.sh with bpsh).  Modes:
 *   exit T N     rfork(T); the child says where it runs and exits N
 *   term T       rfork(T); the parent kills the child with SIGTERM
 *   kill T       rfork(T); the parent SIGKILLs it (the stand-in, really)
 *   stop T       rfork(T); the child stops itself, the parent sees the
 *                stop, continues it, sees that, and its exit 5
 *   fail T       rfork(T) is expected to fail; the parent holds on 3 s
 *   orphan T     rfork(T); the parent exits at once, the child 1 s later
 *   vrfork A,B   vrfork to those; child i exits 10+i
 * T -1 is BPROC_NODE_MASTER.  Every line says what it saw; the script
 * decides what is right.
 */
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bproc.h"

static unsigned char	heap_pattern[1 << 20];

static void
status_line(const char *who, pid_t pid, int st)
{
	if (WIFEXITED(st))
		printf("%s: %d status exit %d\n", who, (int)pid, WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		printf("%s: %d status signal %d\n", who, (int)pid, WTERMSIG(st));
	else
		printf("%s: %d status 0x%x\n", who, (int)pid, st);
	fflush(stdout);
}

static void
nap_ms(long ms)
{
	struct timespec	ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static int
check_heap(void)
{
	for (size_t i = 0; i < sizeof(heap_pattern); i++)
		if (heap_pattern[i] != (unsigned char)(i * 7 + 3))
			return 0;
	return 1;
}

int
main(int argc, char **argv)
{
	const char	*mode;
	pid_t		 pid, w;
	int		 target, st, i, n, nodes[16];
	pid_t		 pids[16];
	char		*p;

	if (argc < 3) {
		fprintf(stderr, "usage: t49_rfork_node mode target [n]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (size_t k = 0; k < sizeof(heap_pattern); k++)
		heap_pattern[k] = (unsigned char)(k * 7 + 3);
	mode = argv[1];
	printf("start: node %d pid %d\n", bproc_currnode(), (int)getpid());

	if (strcmp(mode, "vrfork") == 0) {
		for (n = 0, p = argv[2]; n < 16 && *p != '\0'; n++) {
			nodes[n] = (int)strtol(p, &p, 10);
			if (*p == ',')
				p++;
		}
		w = getpid();
		i = bproc_vrfork(n, nodes, pids);
		if (i < 0) {
			printf("parent: vrfork -1 errno %d: %s\n", errno,
			    bproc_strerror());
			return 1;
		}
		if (getpid() != w) {
			/* a child: its index */
			printf("child %d on node %d heap %s\n", i,
			    bproc_currnode(), check_heap() ? "ok" : "BAD");
			_exit(10 + i);
		}
		printf("parent: %d started\n", i);
		for (int k = 0; k < n; k++) {
			if (pids[k] <= 0) {
				printf("parent: child %d failed: errno %d\n", k,
				    (int)-pids[k]);
				continue;
			}
			while (waitpid(pids[k], &st, 0) == -1 && errno == EINTR)
				;
			printf("parent: child %d pid %d ", k, (int)pids[k]);
			status_line("reaped", pids[k], st);
		}
		return 0;
	}

	target = atoi(argv[2]);
	pid = bproc_rfork(target);
	if (pid == -1) {
		printf("parent: rfork %d: -1 errno %d (%s): %s\n", target, errno,
		    strerror(errno), bproc_strerror());
		if (strcmp(mode, "fail") == 0)
			sleep(3);
		printf("parent: done\n");
		return 0;
	}
	if (pid == 0) {
		printf("child: node %d pid %d heap %s\n", bproc_currnode(),
		    (int)getpid(), check_heap() ? "ok" : "BAD");
		if (strcmp(mode, "exit") == 0)
			_exit(argc > 3 ? atoi(argv[3]) : 0);
		if (strcmp(mode, "orphan") == 0) {
			nap_ms(1000);
			_exit(0);
		}
		if (strcmp(mode, "stop") == 0) {
			raise(SIGSTOP);
			printf("child: continued\n");
			nap_ms(200);
			_exit(5);
		}
		for (;;)
			pause();
	}
	printf("parent: child %d\n", (int)pid);
	if (strcmp(mode, "orphan") == 0)
		return 0;
	if (strcmp(mode, "term") == 0 || strcmp(mode, "kill") == 0) {
		nap_ms(500);
		if (kill(pid, strcmp(mode, "term") == 0 ? SIGTERM : SIGKILL) == -1)
			printf("parent: kill: %s\n", strerror(errno));
	}
	if (strcmp(mode, "stop") == 0) {
		while ((w = waitpid(pid, &st, WUNTRACED)) == -1 && errno == EINTR)
			;
		if (w == pid && WIFSTOPPED(st))
			printf("parent: %d stopped by signal %d\n", (int)pid,
			    WSTOPSIG(st));
		else
			printf("parent: no stop (%d 0x%x)\n", (int)w, st);
		kill(pid, SIGCONT);
		while ((w = waitpid(pid, &st, WCONTINUED)) == -1 && errno == EINTR)
			;
		printf("parent: %d %s\n", (int)pid, w == pid && WIFCONTINUED(st) ?
		    "continued" : "no continue seen");
	}
	while ((w = waitpid(pid, &st, 0)) == -1 && errno == EINTR)
		;
	if (w != pid) {
		printf("parent: waitpid: %s\n", strerror(errno));
		return 1;
	}
	status_line("parent: waited", pid, st);
	printf("parent: node %d heap %s\n", bproc_currnode(),
	    check_heap() ? "ok" : "BAD");
	return 0;
}
