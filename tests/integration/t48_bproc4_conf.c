/*
 * The BProc 4 conformance suite (issue 16), written against <sys/bproc.h>
 * in the spirit of BProc's own tests/: an enumerator places a parent and
 * one to three children on the front end and the nodes, each child
 * attached (a direct child) or detached (made by a double fork, so it is
 * not its placer's child), and runs every test in every arrangement.
 *
 * An arrangement is written like "F:a+,b-": the parent's place, then each
 * child's, '+' attached, '-' detached.  F is the front end; a, b, c are
 * distinct nodes named in the order they first appear (nodes 0, 1, 2 of
 * the cluster).  Since nodes are interchangeable, every placement up to
 * renaming the nodes is one arrangement: 5, 15 and 51 placements for two,
 * three and four processes.
 *
 * How a process is placed: the harness forks the parent (its stdout a
 * pipe the harness reads) and the parent bproc_move()s to its place; an
 * attached child is bproc_rfork(place); a detached one is rforked by an
 * intermediate process that the parent forks and reaps at once.
 *
 * Every process prints "FAIL: ..." on a broken rule and each child
 * "done N" as its last word; an arrangement passes when its parent exits
 * 0, no FAIL was printed, every child said done, and the harness's own
 * checks (the ps tree) held, all within ARR_TIMEOUT seconds.
 *
 * usage: t48_bproc4_conf TEST [MAXCHILDREN [ARRANGEMENT]]   (TEST: wait
 *        stopcont pingpong tree rforkfork move; one line per arrangement;
 *        ARRANGEMENT runs that one only)
 */
#include <sys/bproc.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXCHILD	3	/* children one arrangement may have */
#define ARR_TIMEOUT	30	/* seconds one arrangement may take */
#define ARR_LINGER	5	/* seconds a child may outlive its parent */
#define PROC_ALARM	25	/* seconds before a stuck process dies */
#define PINGS		5	/* signal round trips per child */
#define PONG_WAIT	3	/* seconds the parent waits for each pong */
#define LINE_MAX_T48	512	/* longest line the harness reads */

struct arr {
	int	np;			/* processes: the parent and np-1 children */
	int	place[MAXCHILD + 1];	/* -1 front end, else node 0-2 */
	int	attached[MAXCHILD + 1];	/* children: 1 attached, 0 detached */
};

static const char	*test_name;
static struct arr	 cur;
static int		 self_index;	/* 0 the parent, i child i */
static int		 parent_pid;

static void
say(const char *fmt, ...)
{
	char	buf[LINE_MAX_T48];
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	(void)write(1, buf, (size_t)n);
}

#define FAILED(fmt, ...)	do {					\
	say("FAIL: [%d] " fmt, self_index, ##__VA_ARGS__);		\
	bad = 1;							\
} while (0)

static char
place_char(const struct arr *a, int i)
{
	return a->place[i] < 0 ? 'F' : (char)('a' + a->place[i]);
}

static void
arr_name(const struct arr *a, char *buf, size_t len)
{
	size_t	o;
	int	i;

	o = (size_t)snprintf(buf, len, "%c:", place_char(a, 0));
	for (i = 1; i < a->np && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%c%c", i > 1 ? "," : "",
		    place_char(a, i), a->attached[i] ? '+' : '-');
}

/* The place a process moves on to in the move test: F, a, b, c, F, ... */
static int
next_place(int p)
{
	return p == 2 ? BPROC_NODE_MASTER : p + 1;
}

/* -------------------------------------------------------------------- */
/* The children's parts                                                   */

static volatile sig_atomic_t	got_term;

static void
on_term(int sig)
{
	(void)sig;
	got_term = 1;
}

static void
child_done(int code)
{
	say("done %d", self_index);
	_exit(code);
}

static void
child_main(int i)
{
	sigset_t	 s;
	siginfo_t	 si;
	struct timespec	 ts = { 10, 0 };
	int		 bad = 0, k, st, me = getpid();
	pid_t		 f;

	self_index = i;
	alarm(PROC_ALARM);
	if (getenv("T48_DEBUG") != NULL)
		say("child %d starts on %d as %d, parent %d", i,
		    bproc_currnode(), me, getppid());
	if (strcmp(test_name, "wait") == 0) {
		usleep((useconds_t)(20000 * (cur.np - i)));
		child_done(10 + i);
	} else if (strcmp(test_name, "stopcont") == 0) {
		if (cur.attached[i]) {
			raise(SIGSTOP);
			/* the continue must be seen before the exit replaces it */
			usleep(300000);
		}
		child_done(0);
	} else if (strcmp(test_name, "pingpong") == 0) {
		sigemptyset(&s);
		sigaddset(&s, SIGUSR1);
		for (k = 0; k < PINGS; k++) {
			if (sigtimedwait(&s, &si, &ts) != SIGUSR1) {
				FAILED("ping %d did not arrive on %d", k,
				    bproc_currnode());
				child_done(1);
			}
			if (kill(parent_pid, SIGUSR2) == -1) {
				FAILED("kill(parent %d, SIGUSR2) from node %d: %s",
				    parent_pid, bproc_currnode(), strerror(errno));
				child_done(1);
			}
		}
		child_done(0);
	} else if (strcmp(test_name, "tree") == 0) {
		int	pp = getppid();

		if (cur.attached[i] && pp != parent_pid)
			FAILED("getppid() is %d, not its parent %d (child on "
			    "node %d)", pp, parent_pid, bproc_currnode());
		if (!cur.attached[i] && pp == parent_pid)
			FAILED("a detached child's getppid() is its placer %d",
			    pp);
		signal(SIGTERM, on_term);
		say("tree %d %d %d", i, me, cur.attached[i]);
		while (!got_term)
			pause();
		child_done(bad);
	} else if (strcmp(test_name, "rforkfork") == 0) {
		if ((f = fork()) == -1) {
			FAILED("fork on node %d: %s", bproc_currnode(),
			    strerror(errno));
			child_done(1);
		}
		if (f == 0)
			_exit(getppid() == me ? 7 : 8);
		if (waitpid(f, &st, 0) != f || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 7)
			FAILED("the grandchild's status %#x (8: wrong getppid)",
			    (unsigned)st);
		child_done(bad ? 1 : 20 + i);
	} else if (strcmp(test_name, "move") == 0) {
		int	to = next_place(cur.place[i]);

		if (bproc_move(to) == -1) {
			FAILED("bproc_move(%d) from %d: %s", to, cur.place[i],
			    bproc_strerror(errno));
			child_done(1);
		}
		if (bproc_currnode() != to)
			FAILED("moved to %d but runs on %d", to,
			    bproc_currnode());
		if (cur.attached[i] && getppid() != parent_pid &&
		    to == BPROC_NODE_MASTER && cur.place[0] == BPROC_NODE_MASTER)
			FAILED("home again, getppid() is %d, not %d", getppid(),
			    parent_pid);
		usleep(200000);
		child_done(bad ? 1 : 30 + i);
	}
	child_done(99);
}

/* -------------------------------------------------------------------- */
/* The parent's part                                                      */

/* Make child i at its place; its PID, or -1. */
static int
make_child(int i)
{
	int	p[2], pid, m, st;
	ssize_t	n;

	fflush(stdout);
	if (cur.attached[i]) {
		pid = bproc_rfork(cur.place[i]);
		if (pid == 0)
			child_main(i);
		if (pid < 0)
			say("FAIL: [0] bproc_rfork(%d) from %d: %s", cur.place[i],
			    cur.place[0], bproc_strerror(errno));
		return pid;
	}
	if (pipe(p) == -1)
		return -1;
	if ((m = fork()) == -1)
		return -1;
	if (m == 0) {
		close(p[0]);
		pid = bproc_rfork(cur.place[i]);
		if (pid == 0)
			child_main(i);
		if (pid < 0)
			say("FAIL: [0] the intermediate's bproc_rfork(%d) from "
			    "%d: %s", cur.place[i], cur.place[0],
			    bproc_strerror(errno));
		(void)write(p[1], &pid, sizeof(pid));
		_exit(0);
	}
	close(p[1]);
	n = read(p[0], &pid, sizeof(pid));
	close(p[0]);
	waitpid(m, &st, 0);
	return n == (ssize_t)sizeof(pid) ? pid : -1;
}

static int
expect_exit(int pid, int code, const char *what)
{
	int	st, bad = 0;

	if (waitpid(pid, &st, 0) != pid)
		FAILED("waitpid(%d) for %s: %s", pid, what, strerror(errno));
	else if (!WIFEXITED(st) || WEXITSTATUS(st) != code)
		FAILED("%s: status %#x, want exit %d", what, (unsigned)st, code);
	return bad;
}

static int
parent_main(void)
{
	int		 pid[MAXCHILD + 1], i, k, st, bad = 0, r;
	sigset_t	 s;
	siginfo_t	 si;
	struct timespec	 ts = { 10, 0 };

	alarm(PROC_ALARM);
	if (cur.place[0] != BPROC_NODE_MASTER && bproc_move(cur.place[0]) == -1) {
		say("FAIL: [0] bproc_move(%d): %s", cur.place[0],
		    bproc_strerror(errno));
		return 1;
	}
	parent_pid = getpid();
	/* the signals the tests send wait, blocked, for sigtimedwait */
	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	sigaddset(&s, SIGUSR2);
	sigprocmask(SIG_BLOCK, &s, NULL);
	for (i = 1; i < cur.np; i++)
		if ((pid[i] = make_child(i)) <= 0) {
			/* the ones made already must not wait for a test */
			while (--i > 0)
				kill(pid[i], SIGKILL);
			return 1;
		}

	if (strcmp(test_name, "wait") == 0) {
		/* waitpid on each in turn, then wait(-1) has nothing left */
		for (i = 1; i < cur.np; i++) {
			if (cur.attached[i]) {
				bad |= expect_exit(pid[i], 10 + i, "child");
				continue;
			}
			r = waitpid(pid[i], &st, WNOHANG);
			if (r != -1 || errno != ECHILD)
				FAILED("waitpid(%d) of a detached child: %d %s",
				    pid[i], r, strerror(errno));
		}
		if ((r = wait(&st)) != -1 || errno != ECHILD)
			FAILED("wait() after all: %d %s", r, strerror(errno));
	} else if (strcmp(test_name, "stopcont") == 0) {
		for (i = 1; i < cur.np; i++) {
			if (!cur.attached[i]) {
				r = waitpid(pid[i], &st, WUNTRACED | WNOHANG);
				if (r != -1 || errno != ECHILD)
					FAILED("waitpid(WUNTRACED) of a detached "
					    "child: %d %s", r, strerror(errno));
				continue;
			}
			r = waitpid(pid[i], &st, WUNTRACED);
			if (r != pid[i] || !WIFSTOPPED(st) ||
			    WSTOPSIG(st) != SIGSTOP) {
				FAILED("child %d on %d: no stop seen (%d %#x)",
				    i, cur.place[i], r, (unsigned)st);
				kill(pid[i], SIGCONT);
				continue;
			}
			if (kill(pid[i], SIGCONT) == -1)
				FAILED("kill(%d, SIGCONT): %s", pid[i],
				    strerror(errno));
			r = waitpid(pid[i], &st, WCONTINUED);
			if (r != pid[i] || !WIFCONTINUED(st))
				FAILED("child %d on %d: no continue seen (%d "
				    "%#x)", i, cur.place[i], r, (unsigned)st);
			bad |= expect_exit(pid[i], 0, "continued child");
		}
	} else if (strcmp(test_name, "pingpong") == 0) {
		/* a pong, or the attached child's death (SIGCHLD) */
		sigemptyset(&s);
		sigaddset(&s, SIGUSR2);
		sigaddset(&s, SIGCHLD);
		sigprocmask(SIG_BLOCK, &s, NULL);
		ts.tv_sec = PONG_WAIT;
		for (i = 1; i < cur.np; i++) {
			for (k = 0; k < PINGS; k++) {
				if (kill(pid[i], SIGUSR1) == -1) {
					FAILED("kill(child %d on %d, SIGUSR1) "
					    "from %d: %s", pid[i], cur.place[i],
					    cur.place[0], strerror(errno));
					break;
				}
				do
					r = sigtimedwait(&s, &si, &ts);
				while (r == SIGCHLD && si.si_pid != pid[i]);
				if (r != SIGUSR2) {
					FAILED("pong %d from child %d on %d "
					    "did not arrive%s", k, i,
					    cur.place[i], r == SIGCHLD ?
					    ": the child ended" : "");
					break;
				}
			}
			if (k < PINGS)
				kill(pid[i], SIGKILL);
			else if (cur.attached[i])
				bad |= expect_exit(pid[i], 0, "pinged child");
		}
		for (i = 1; i < cur.np; i++)
			if (cur.attached[i] && bad)
				waitpid(pid[i], &st, 0);
	} else if (strcmp(test_name, "tree") == 0) {
		say("ready %d", parent_pid);
		/* the harness checks the ps tree, then says go on */
		sigemptyset(&s);
		sigaddset(&s, SIGUSR1);
		ts.tv_sec = 30;
		if (sigtimedwait(&s, &si, &ts) != SIGUSR1)
			FAILED("the harness's go-on never came");
		for (i = 1; i < cur.np; i++) {
			if (kill(pid[i], SIGTERM) == -1)
				FAILED("kill(child %d on %d, SIGTERM) from %d: "
				    "%s", pid[i], cur.place[i], cur.place[0],
				    strerror(errno));
			if (cur.attached[i])
				bad |= expect_exit(pid[i], 0, "tree child");
		}
	} else if (strcmp(test_name, "rforkfork") == 0) {
		for (i = 1; i < cur.np; i++)
			if (cur.attached[i])
				bad |= expect_exit(pid[i], 20 + i,
				    "rfork-then-fork child");
	} else if (strcmp(test_name, "move") == 0) {
		int	to = next_place(cur.place[0]);

		if (bproc_move(to) == -1)
			FAILED("the parent's bproc_move(%d): %s", to,
			    bproc_strerror(errno));
		for (i = 1; i < cur.np; i++)
			if (cur.attached[i])
				bad |= expect_exit(pid[i], 30 + i, "moved child");
	}
	return bad;
}

/* -------------------------------------------------------------------- */
/* The harness                                                            */

/* The ps tree as the front end sees it: ghosts parented like the real. */
static int
harness_tree(const char *line, int ppid, char *why, size_t len)
{
	char	path[64], buf[1024], *p;
	int	i, pid, att, fd, pp;
	ssize_t	n;

	if (sscanf(line, "tree %d %d %d", &i, &pid, &att) != 3)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if ((fd = open(path, O_RDONLY)) == -1) {
		snprintf(why, len, "child %d (pid %d) is not in the front "
		    "end's ps", i, pid);
		return -1;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	if ((p = strrchr(buf, ')')) == NULL || sscanf(p + 2, "%*c %d", &pp) != 1)
		return 0;
	if (att && pp != ppid) {
		snprintf(why, len, "ps: child %d's ppid is %d, not %d", i, pp,
		    ppid);
		return -1;
	}
	if (!att && pp == ppid) {
		snprintf(why, len, "ps: detached child %d is its placer's", i);
		return -1;
	}
	return 0;
}

/* Every process left over (the harness is their subreaper) is ended. */
static void
reap_orphans(void)
{
	char	 path[64], buf[512], *p;
	DIR	*d;
	struct dirent *e;
	int	 fd, pp, me = getpid();
	ssize_t	 n;

	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	if ((d = opendir("/proc")) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", atoi(e->d_name));
		if ((fd = open(path, O_RDONLY)) == -1)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		buf[n > 0 ? n : 0] = '\0';
		if ((p = strrchr(buf, ')')) != NULL &&
		    sscanf(p + 2, "%*c %d", &pp) == 1 && pp == me)
			kill(atoi(e->d_name), SIGKILL);
	}
	closedir(d);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

/* Run one arrangement: 0 passed, 1 failed (why says so). */
static int
harness_run(const struct arr *a, char *why, size_t len)
{
	char		 buf[8192], line[LINE_MAX_T48];
	struct pollfd	 pfd;
	time_t		 end = time(NULL) + ARR_TIMEOUT;
	size_t		 have = 0;
	int		 p[2], pid, st, done = 0, failed = 0, tree_bad = 0;
	int		 tree_seen = 0, ppid = 0, pdone = 0, ready = 0;
	ssize_t		 n;
	char		*nl;

	why[0] = '\0';
	if (pipe(p) == -1)
		return snprintf(why, len, "pipe: %s", strerror(errno)), 1;
	if ((pid = fork()) == 0) {
		close(p[0]);
		dup2(p[1], 1);
		dup2(p[1], 2);
		close(p[1]);
		cur = *a;
		_exit(parent_main());
	}
	close(p[1]);
	pfd.fd = p[0];
	pfd.events = POLLIN;
	for (;;) {
		if (time(NULL) >= end) {
			if (pdone && !failed)
				snprintf(why, len, "children still ran %d s "
				    "after the parent ended", ARR_LINGER);
			else if (!failed)
				snprintf(why, len, "timed out after %d s",
				    ARR_TIMEOUT);
			kill(pid, SIGKILL);
			failed = 1;
			break;
		}
		if (!pdone && waitpid(pid, &st, WNOHANG) == pid) {
			pdone = 1;
			if (end > time(NULL) + ARR_LINGER)
				end = time(NULL) + ARR_LINGER;
		}
		if (poll(&pfd, 1, 200) <= 0)
			continue;
		if ((n = read(p[0], buf + have, sizeof(buf) - 1 - have)) <= 0)
			break;
		have += (size_t)n;
		buf[have] = '\0';
		while ((nl = strchr(buf, '\n')) != NULL) {
			*nl = '\0';
			{
				size_t	l = strlen(buf);

				if (l > sizeof(line) - 1)
					l = sizeof(line) - 1;
				memcpy(line, buf, l);
				line[l] = '\0';
			}
			memmove(buf, nl + 1, strlen(nl + 1) + 1);
			have = strlen(buf);
			if (getenv("T48_DEBUG") != NULL)
				fprintf(stderr, "  | %s\n", line);
			if (strncmp(line, "FAIL: ", 6) == 0) {
				if (!failed)
					snprintf(why, len, "%s", line + 6);
				failed = 1;
			} else if (strncmp(line, "done ", 5) == 0)
				done++;
			else if (sscanf(line, "ready %d", &ppid) == 1)
				ready = 1;
			else if (strncmp(line, "tree ", 5) == 0) {
				tree_seen++;
				if (!tree_bad && harness_tree(line, pid, why,
				    len) == -1)
					tree_bad = 1;
			}
			/* the parent goes on once every child said where it is */
			if (ready == 1 && tree_seen == a->np - 1) {
				kill(pid, SIGUSR1);
				ready = 2;
			}
		}
		if (have >= sizeof(buf) - 1)
			have = 0;
	}
	close(p[0]);
	if ((pdone || waitpid(pid, &st, 0) == pid) && !failed &&
	    (!WIFEXITED(st) || WEXITSTATUS(st) != 0)) {
		snprintf(why, len, "the parent's status %#x", (unsigned)st);
		failed = 1;
	}
	reap_orphans();
	if (!failed && done != a->np - 1) {
		snprintf(why, len, "%d of %d children said done", done,
		    a->np - 1);
		failed = 1;
	}
	(void)ppid;
	return failed || tree_bad;
}

/*
 * The next placement in canonical order: places are F or a node, and
 * nodes appear in order (the first node used is a, the next new one b).
 */
static int
placement_next(struct arr *a)
{
	int	i, j, max;

	for (i = a->np - 1; i >= 0; i--) {
		/* the highest node this position may take: one past those before */
		max = -1;
		for (j = 0; j < i; j++)
			if (a->place[j] > max)
				max = a->place[j];
		if (a->place[i] < max + 1 && a->place[i] < 2) {
			a->place[i]++;
			for (j = i + 1; j < a->np; j++)
				a->place[j] = BPROC_NODE_MASTER;
			return 1;
		}
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct arr	a;
	char		name[64], why[LINE_MAX_T48];
	const char	*only;
	int		maxc = MAXCHILD, nc, bits, i, total = 0, failed = 0;

	if (argc < 2 || argc > 4) {
		fprintf(stderr, "usage: %s TEST [MAXCHILDREN [ARRANGEMENT]]\n",
		    argv[0]);
		return 2;
	}
	test_name = argv[1];
	if (strcmp(test_name, "wait") && strcmp(test_name, "stopcont") &&
	    strcmp(test_name, "pingpong") && strcmp(test_name, "tree") &&
	    strcmp(test_name, "rforkfork") && strcmp(test_name, "move")) {
		fprintf(stderr, "%s: no test %s\n", argv[0], test_name);
		return 2;
	}
	if (argc >= 3)
		maxc = atoi(argv[2]);
	only = argc == 4 ? argv[3] : NULL;
	if (maxc < 1 || maxc > MAXCHILD)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	/* orphans of the front end come here, and are reaped */
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	for (nc = 1; nc <= maxc; nc++) {
		memset(&a, 0, sizeof(a));
		a.np = nc + 1;
		for (i = 0; i < a.np; i++)
			a.place[i] = BPROC_NODE_MASTER;
		do {
			for (bits = 0; bits < (1 << nc); bits++) {
				for (i = 1; i < a.np; i++)
					a.attached[i] = !(bits & (1 << (i - 1)));
				arr_name(&a, name, sizeof(name));
				if (only != NULL && strcmp(only, name) != 0)
					continue;
				total++;
				if (harness_run(&a, why, sizeof(why)) == 0)
					printf("ok %s %s\n", test_name, name);
				else {
					failed++;
					printf("FAIL %s %s: %s\n", test_name,
					    name, why);
				}
			}
		} while (placement_next(&a));
	}
	printf("%s: %d arrangements, %d passed, %d failed\n", test_name, total,
	    total - failed, failed);
	return failed ? 1 : 0;
}
