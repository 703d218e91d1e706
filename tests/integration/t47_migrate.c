/*
 * t47's victim: a process that migrates itself with libbproc.
 *
 *   t47_migrate rfork NODE [WAITFILE]   64 MB heap pattern, TLS, a SIGUSR1
 *       handler and an open file, then bproc_rfork(NODE).  The child checks
 *       it all on the node, waits (when WAITFILE is given) for a SIGUSR1
 *       until that file appears in its cwd... and exits 42; the parent
 *       reports what waitpid said.
 *   t47_migrate move N1,N2,...          bproc_move through the list (-1 is
 *       BPROC_NODE_MASTER), printing where it is after each, exits 7.
 *   t47_migrate vrfork N1,N2,...        one child per node, each exits 10+i.
 *   t47_migrate threads NODE            with a second thread: ENOTSUP.
 *   t47_migrate down NODE               a move that must fail and leave us here.
 *   t47_migrate bench NODE MB COUNT     COUNT rforks of a process with MB
 *       dirty heap, and as many local fork()s, in microseconds.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bproc.h"

#define HEAP_MB	64	/* the pattern's size */

static __thread uint64_t	tls_word = 0x1122334455667788ull;
static __thread char		tls_text[32] = "thread-local";
static volatile sig_atomic_t	got_usr1;

static void
on_usr1(int sig)
{
	(void)sig;
	got_usr1++;
}

static unsigned char *
pattern_fill(size_t len)
{
	unsigned char	*p = malloc(len);

	if (p == NULL)
		exit(3);
	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)(i * 7 + (i >> 12));
	return p;
}

static int
pattern_ok(const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != (unsigned char)(i * 7 + (i >> 12)))
			return 0;
	return 1;
}

static double
now_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void
where(const char *what)
{
	char	host[64] = "?";

	gethostname(host, sizeof(host));
	printf("%s: node %d host %s pid %d\n", what, bproc_currnode(), host,
	    (int)getpid());
	fflush(stdout);
}

static int
do_rfork(int node, const char *waitfile)
{
	size_t		 len = (size_t)HEAP_MB << 20;
	unsigned char	*heap = pattern_fill(len);
	struct sigaction sa;
	struct timespec	 ts;
	char		*small, buf[64];
	pid_t		 pid;
	int		 st, fd;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	tls_word ^= 0xff;
	strcpy(tls_text, "set before rfork");
	fd = open("/proc/self/status", O_RDONLY);
	fflush(stdout);
	pid = bproc_rfork(node);
	if (pid == -1) {
		printf("rfork: -1 errno %d (%s)\n", errno, bproc_strerror());
		return 1;
	}
	if (pid == 0) {
		where("child");
		printf("child: pattern %s\n", pattern_ok(heap, len) ? "ok" : "BAD");
		printf("child: tls %s\n", tls_word == (0x1122334455667788ull ^ 0xff) &&
		    strcmp(tls_text, "set before rfork") == 0 ? "ok" : "BAD");
		raise(SIGUSR1);
		printf("child: handler %s\n", got_usr1 == 1 ? "ok" : "BAD");
		small = malloc(100);
		snprintf(small, 100, "malloc works");
		printf("child: %s\n", small);
		free(small);
		free(malloc(10 << 20));
		printf("child: clock %s\n", clock_gettime(CLOCK_REALTIME, &ts) == 0 &&
		    ts.tv_sec > 1600000000 ? "ok" : "BAD");
		printf("child: fd %d %s\n", fd, fcntl(fd, F_GETFD) == -1 ?
		    "closed" : "open");
		fflush(stdout);
		if (waitfile != NULL) {
			/* the test sends SIGUSR1 to the ghost, then makes the file */
			for (int i = 0; i < 300 && got_usr1 < 2; i++)
				usleep(100000);
			printf("child: remote SIGUSR1 %s\n", got_usr1 >= 2 ?
			    "arrived" : "MISSING");
			fflush(stdout);
		}
		exit(42);
	}
	printf("parent: child %d\n", (int)pid);
	fflush(stdout);
	snprintf(buf, sizeof(buf), "%d\n", (int)pid);
	if (waitpid(pid, &st, 0) != pid) {
		printf("parent: waitpid failed: %s\n", strerror(errno));
		return 1;
	}
	printf("parent: status %s %d\n", WIFEXITED(st) ? "exit" : "signal",
	    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	printf("parent: pattern %s\n", pattern_ok(heap, len) ? "ok" : "BAD");
	return 0;
}

static int
nodes_parse(const char *s, int *v, int max)
{
	int	n = 0;

	while (*s && n < max) {
		v[n++] = atoi(s);
		if ((s = strchr(s, ',')) == NULL)
			break;
		s++;
	}
	return n;
}

/* Two forks on the node: the second finds its ghost's spare (spare.c). */
static void
fork_twice(void)
{
	int	i;
	pid_t	c;

	for (i = 0; i < 2; i++)
		if ((c = fork()) == 0)
			_exit(0);
		else if (c > 0)
			waitpid(c, NULL, 0);
}

static int
do_move(const char *list)
{
	int		 v[16], n = nodes_parse(list, v, 16), i;
	size_t		 len = 8u << 20;
	unsigned char	*heap = pattern_fill(len);

	where("start");
	for (i = 0; i < n; i++) {
		if (bproc_move(v[i]) == -1) {
			printf("move %d: -1 errno %d (%s)\n", v[i], errno,
			    bproc_strerror());
			return 1;
		}
		where("moved");
		printf("pattern %s\n", pattern_ok(heap, len) ? "ok" : "BAD");
		fflush(stdout);
		if (bproc_currnode() == BPROC_NODE_MASTER) {
			/* the ghost's spare child ghost must not be ours now */
			pid_t	c = waitpid(-1, NULL, WNOHANG);

			printf("home children: %s\n", c == -1 && errno == ECHILD ?
			    "none" : "a stranger");
			fflush(stdout);
		} else
			fork_twice();
	}
	return 7;
}

static int
do_vrfork(const char *list)
{
	int	v[16], n = nodes_parse(list, v, 16), r, i, st, ok = 0;
	pid_t	pids[16];

	fflush(stdout);
	r = bproc_vrfork(n, v, pids);
	if (r == -1) {
		printf("vrfork: -1 errno %d\n", errno);
		return 1;
	}
	if (bproc_currnode() != BPROC_NODE_MASTER) {
		printf("child %d on node %d\n", r, bproc_currnode());
		fflush(stdout);
		exit(10 + r);
	}
	printf("parent: %d started\n", r); for (i = 0; i < n; i++) printf("pids[%d] = %d\n", i, (int)pids[i]);
	for (i = 0; i < n; i++) {
		if (pids[i] <= 0 || waitpid(pids[i], &st, 0) != pids[i])
			continue;
		printf("parent: child %d status %d\n", i, WEXITSTATUS(st));
		if (WIFEXITED(st) && WEXITSTATUS(st) == 10 + i)
			ok++;
	}
	printf("parent: %d reaped with their index\n", ok);
	return 0;
}

static void *
idle(void *arg)
{
	(void)arg;
	pause();
	return NULL;
}

static int
do_threads(int node)
{
	pthread_t	t;
	pid_t		pid;

	pthread_create(&t, NULL, idle, NULL);
	pid = bproc_rfork(node);
	printf("rfork with 2 threads: %d errno %s\n", (int)pid,
	    errno == ENOTSUP ? "ENOTSUP" : strerror(errno));
	printf("move with 2 threads: %d errno %s\n", bproc_move(node),
	    errno == ENOTSUP ? "ENOTSUP" : strerror(errno));
	where("still");
	return 0;
}

static int
do_down(int node)
{
	size_t		 len = 1u << 20;
	unsigned char	*heap = pattern_fill(len);

	if (bproc_move(node) == 0) {
		where("moved?!");
		return 1;
	}
	printf("move %d: -1 errno %d: %s\n", node, errno, bproc_node_strerror());
	where("still");
	printf("pattern %s\n", pattern_ok(heap, len) ? "ok" : "BAD");
	return 0;
}

static int
do_bench(int node, int mb, int count)
{
	unsigned char	*heap = pattern_fill((size_t)mb << 20);
	double		 t0, tr = 0, tf = 0;
	pid_t		 pid;
	int		 i, st;

	for (i = 0; i < count; i++) {
		t0 = now_us();
		if ((pid = fork()) == 0)
			_exit(0);
		waitpid(pid, &st, 0);
		tf += now_us() - t0;
		t0 = now_us();
		if ((pid = bproc_rfork(node)) == 0)
			_exit(heap[1] == 7 ? 0 : 1);
		if (pid == -1) {
			printf("rfork: %s\n", bproc_strerror());
			return 1;
		}
		waitpid(pid, &st, 0);
		tr += now_us() - t0;
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			printf("rfork child status 0x%x\n", st);
			return 1;
		}
	}
	printf("fork_us %.0f rfork_us %.0f\n", tf / count, tr / count);
	return 0;
}

int
main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 3 && strcmp(argv[1], "rfork") == 0)
		return do_rfork(atoi(argv[2]), argc > 3 ? argv[3] : NULL);
	if (argc == 3 && strcmp(argv[1], "move") == 0)
		return do_move(argv[2]);
	if (argc == 3 && strcmp(argv[1], "vrfork") == 0)
		return do_vrfork(argv[2]);
	if (argc == 3 && strcmp(argv[1], "threads") == 0)
		return do_threads(atoi(argv[2]));
	if (argc == 3 && strcmp(argv[1], "down") == 0)
		return do_down(atoi(argv[2]));
	if (argc == 5 && strcmp(argv[1], "bench") == 0)
		return do_bench(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
	fprintf(stderr, "usage: t47_migrate rfork|move|vrfork|threads|down|bench ...\n");
	return 2;
}
