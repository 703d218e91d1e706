/*
 * test_vmadump: bproc_dump() and bprestore on the front end alone.  A
 * child sets up a heap, TLS, a handler, a mask, a cwd and an open file,
 * dumps itself and exits; another child undumps the image, and the
 * resumed image checks what it finds and exits 42, printing its PID and
 * identity on stdout for the parent to compare.  Then: a threaded caller,
 * truncated and corrupted images, a pipe instead of a file, a dump that
 * needs no file, and dropping to another uid.
 */
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <errno.h>
#include <grp.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "bproc_dump.h"
#include "vmadump.h"

#define HEAP_MB		64		/* the dirty heap the image carries */
#define RESUMED_EXIT	42		/* the resumed image's "all is well" */
#define NOBODY		65534

static void	 refused_as(char *[], const char *, const char *);

static char	 tdir[] = "/dev/shm/test_vmadump.XXXXXX";
static char	 image[PATH_MAX];	/* the round trip's image file */

static __thread int	 tls_int = 7;
static __thread char	 tls_str[32];
static volatile sig_atomic_t usr1_seen;

static void
usr1(int sig)
{
	(void)sig;
	usr1_seen++;
}

static unsigned char
pattern(size_t i)
{
	return (unsigned char)(i * 7 + 13 + (i >> 12));
}

/* resumed_fail: report which check failed; the code says it too. */
static void __attribute__((noreturn, format(printf, 2, 3)))
resumed_fail(int code, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	fprintf(stderr, "resumed image: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	_exit(code);
}

/*
 * victim: everything the image must carry, then bproc_dump(fd).  Returns
 * only in the resumed image, after checking it all; exits 0 on the
 * dumping side.
 */
static void
victim(int fd, int flags)
{
	struct sigaction	 sa;
	struct timespec		 t0, t1;
	sigset_t		 set;
	unsigned char		*heap;
	size_t			 i, len = (size_t)HEAP_MB << 20;
	char			 path[PATH_MAX + 16], cwd[PATH_MAX], *small, *big;
	unsigned char		*shared;
	void			*brk0;
	pid_t			 dumper = getpid();
	int			 keep, r;
	FILE			*f;

	if ((heap = malloc(len)) == NULL)
		_exit(2);
	for (i = 0; i < len; i++)
		heap[i] = pattern(i);
	tls_int = 12345;
	strcpy(tls_str, "thread-local");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = usr1;
	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if (chdir(tdir) == -1)
		_exit(3);
	snprintf(path, sizeof(path), "%s/open.txt", tdir);
	if ((keep = open(path, O_RDWR | O_CREAT, 0600)) == -1)
		_exit(4);
	/* Shared anonymous memory travels as a private copy. */
	shared = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED)
		_exit(6);
	memset(shared + 4096, 0x77, 4096);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	brk0 = sbrk(0);
	fflush(NULL);

	r = bproc_dump(fd, flags);
	if (r == 0)
		_exit(0);
	if (r != BPROC_DUMP_RESUMED) {
		fprintf(stderr, "bproc_dump: %s\n", strerror(errno));
		_exit(5);
	}

	/* The resumed image, in another process. */
	for (i = 0; i < len; i++)
		if (heap[i] != pattern(i))
			resumed_fail(10, "heap byte %zu is %u", i, heap[i]);
	for (i = 0; i < 3 * 4096; i++)
		if (shared[i] != (i / 4096 == 1 ? 0x77 : 0))
			resumed_fail(22, "shared anonymous byte %zu is %u", i, shared[i]);
	shared[0] = 1;		/* writable, private now */
	if (tls_int != 12345 || strcmp(tls_str, "thread-local") != 0)
		resumed_fail(11, "TLS lost: %d '%s'", tls_int, tls_str);
	raise(SIGUSR1);
	if (usr1_seen != 1)
		resumed_fail(12, "the SIGUSR1 handler did not run");
	sigprocmask(SIG_SETMASK, NULL, &set);
	if (!sigismember(&set, SIGUSR2) || sigismember(&set, SIGUSR1))
		resumed_fail(13, "signal mask not restored");
	if (clock_gettime(CLOCK_MONOTONIC, &t1) == -1 || t1.tv_sec < t0.tv_sec)
		resumed_fail(14, "clock_gettime");
	if (getpid() == dumper)
		resumed_fail(15, "still the dumper's PID");
	if (sbrk(0) != brk0)
		resumed_fail(16, "brk %p, was %p", sbrk(0), brk0);
	if (getcwd(cwd, sizeof(cwd)) == NULL ||
	    (strcmp(cwd, tdir) != 0 && strcmp(cwd, "/") != 0))
		resumed_fail(17, "cwd %s", cwd);
	for (i = 0; i < 1000; i++) {
		if ((small = malloc(i * 37 + 1)) == NULL)
			resumed_fail(18, "malloc");
		memset(small, 1, i * 37 + 1);
		free(small);
	}
	if ((big = malloc(32u << 20)) == NULL)
		resumed_fail(18, "big malloc");
	memset(big, 2, 32u << 20);
	free(big);
	free(heap);
	/*
	 * glibc caches the TID in the word it gave set_tid_address (its
	 * struct pthread); PI and robust futexes compare it with the
	 * kernel's.  The restorer re-registers the word and updates it.
	 */
	{
		unsigned long	 tidaddr = 0;

		if (prctl(PR_GET_TID_ADDRESS, &tidaddr) == -1 || tidaddr == 0 ||
		    *(pid_t *)tidaddr != gettid())
			resumed_fail(21, "cached TID %d, kernel's %d",
			    tidaddr ? *(pid_t *)tidaddr : -1, (int)gettid());
	}
	/* Descriptors beyond 0-2 are not carried (docs/vmadump.md). */
	if (fcntl(keep, F_GETFD) != -1)
		resumed_fail(19, "fd %d survived", keep);
	snprintf(path, sizeof(path), "%s/resumed.%d", tdir, (int)getpid());
	if ((f = fopen(path, "w+")) == NULL || fprintf(f, "ok %d\n", tls_int) < 0 ||
	    fflush(f) != 0)
		resumed_fail(20, "stdio: %s", strerror(errno));
	fclose(f);
	unlink(path);
	printf("pid=%d uid=%d cwd=%s\n", (int)getpid(), (int)getuid(), cwd);
	fflush(stdout);
	_exit(RESUMED_EXIT);
}

/* make_image: a child dumps itself into path with flags. */
static void
make_image(const char *path, int flags)
{
	pid_t	 pid;
	int	 fd, st;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	if ((pid = fork()) == 0)
		victim(fd, flags);
	close(fd);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/*
 * resume: a child undumps from fd (its stdout a pipe); returns its
 * status and the line it printed.  argv, if any, runs bprestore directly.
 */
/* The kernel's struct clone_args, version 2 (with set_tid). */
struct test_clone_args {
	uint64_t	flags, pidfd, child_tid, parent_tid, exit_signal;
	uint64_t	stack, stack_size, tls, set_tid, set_tid_size;
};

/* clone_pid: fork as PID want (clone3 set_tid), or -1 with errno. */
static pid_t
clone_pid(pid_t want)
{
	struct test_clone_args	 a;

	if (want == 0)
		return fork();
	memset(&a, 0, sizeof(a));
	a.exit_signal = SIGCHLD;
	a.set_tid = (uintptr_t)&want;
	a.set_tid_size = 1;
	return syscall(SYS_clone3, &a, sizeof(a));
}

static int
resume_as(pid_t want, int fd, char *const argv[], pid_t *pidp, char *line,
    size_t len)
{
	int	 out[2], st;
	ssize_t	 n;
	size_t	 got = 0;
	pid_t	 pid;

	assert_int_equal(pipe(out), 0);
	if ((pid = clone_pid(want)) == -1) {
		close(out[0]);
		close(out[1]);
		return -1;
	}
	if (pid == 0) {
		dup2(out[1], 1);
		close(out[0]);
		close(out[1]);
		if (fd != 0) {
			dup2(fd, 0);
			close(fd);
		}
		if (argv != NULL)
			execv(argv[0], argv);
		else
			bproc_undump(0);
		fprintf(stderr, "undump: %s\n", strerror(errno));
		_exit(99);
	}
	close(out[1]);
	while (got < len - 1 && (n = read(out[0], line + got, len - 1 - got)) > 0)
		got += n;
	line[got] = '\0';
	close(out[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	*pidp = pid;
	return st;
}

static int
resume(int fd, char *const argv[], pid_t *pidp, char *line, size_t len)
{
	return resume_as(0, fd, argv, pidp, line, len);
}

static void
check_resumed(int st, pid_t pid, const char *line, int uid)
{
	char	 want[64];

	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), RESUMED_EXIT);
	snprintf(want, sizeof(want), "pid=%d uid=%d ", (int)pid, uid);
	assert_memory_equal(line, want, strlen(want));
}

static void
test_roundtrip(void **state)
{
	char	 line[256];
	pid_t	 pid;
	int	 fd, st;

	(void)state;
	make_image(image, 0);
	fd = open(image, O_RDONLY);
	assert_true(fd >= 0);
	st = resume(fd, NULL, &pid, line, sizeof(line));
	close(fd);
	check_resumed(st, pid, line, (int)getuid());
}

/* The same image twice: an image is a checkpoint, not a one-shot. */
static void
test_twice(void **state)
{
	char	 line[256];
	pid_t	 pid;
	int	 fd, st;

	(void)state;
	fd = open(image, O_RDONLY);
	assert_true(fd >= 0);
	st = resume(fd, NULL, &pid, line, sizeof(line));
	close(fd);
	check_resumed(st, pid, line, (int)getuid());
}

/* A stream: the image comes through a pipe, read once, no seeking. */
static void
test_pipe(void **state)
{
	char	 line[256], buf[65536];
	pid_t	 pid, feeder;
	ssize_t	 n;
	int	 p[2], fd, st;

	(void)state;
	assert_int_equal(pipe(p), 0);
	if ((feeder = fork()) == 0) {
		close(p[0]);
		fd = open(image, O_RDONLY);
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			if (write(p[1], buf, n) != n)
				_exit(1);
		_exit(0);
	}
	close(p[1]);
	st = resume(p[0], NULL, &pid, line, sizeof(line));
	close(p[0]);
	check_resumed(st, pid, line, (int)getuid());
	assert_int_equal(waitpid(feeder, &st, 0), feeder);
}

/* live: dump into p[1] while a restorer reads p[0] at the same time. */
static void
live(int p[2])
{
	char	 line[256];
	pid_t	 pid, dumper;
	int	 st;

	if ((dumper = fork()) == 0) {
		close(p[0]);
		victim(p[1], 0);
	}
	close(p[1]);
	st = resume(p[0], NULL, &pid, line, sizeof(line));
	close(p[0]);
	check_resumed(st, pid, line, (int)getuid());
	assert_int_equal(waitpid(dumper, &st, 0), dumper);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void
test_live_pipe(void **state)
{
	int	 p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	live(p);
}

/* A non-blocking stream socket, as a node link might hand over. */
static void
test_live_socket(void **state)
{
	int	 p[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, p), 0);
	live(p);
}

/* BPROC_DUMP_ALL: every file's pages travel; the image needs no file. */
static void
test_dump_all(void **state)
{
	char	 path[PATH_MAX + 16], line[256];
	pid_t	 pid;
	int	 fd, st;

	(void)state;
	snprintf(path, sizeof(path), "%s/all.img", tdir);
	make_image(path, BPROC_DUMP_ALL);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	st = resume(fd, NULL, &pid, line, sizeof(line));
	close(fd);
	check_resumed(st, pid, line, (int)getuid());
	unlink(path);
}

/*
 * BPROC_DUMP_LIBS with libc in the list: libc's pages travel (a bigger
 * image), mapped anonymous on restore, and the image still runs.
 */
static void
test_dump_libs(void **state)
{
	char		 path[PATH_MAX + 16], line[256], libc[PATH_MAX];
	struct stat	 a, b;
	pid_t		 pid;
	FILE		*f;
	int		 fd, st;

	(void)state;
	libc[0] = '\0';
	if ((f = fopen("/proc/self/maps", "r")) != NULL) {
		while (fgets(line, sizeof(line), f) != NULL) {
			char *p = strchr(line, '/');

			if (p != NULL && strstr(p, "/libc.so") != NULL) {
				p[strcspn(p, "\n")] = '\0';
				snprintf(libc, sizeof(libc), "%s", p);
				break;
			}
		}
		fclose(f);
	}
	if (libc[0] == '\0') {
		skip();
		return;
	}
	assert_int_equal(bproc_libadd(libc), 0);
	snprintf(path, sizeof(path), "%s/libs.img", tdir);
	make_image(path, BPROC_DUMP_LIBS);
	bproc_libclear();
	assert_int_equal(stat(path, &a), 0);
	assert_int_equal(stat(image, &b), 0);
	print_message("# %s travelling as pages: %lld bytes more\n", libc,
	    (long long)(a.st_size - b.st_size));
	assert_true(a.st_size > b.st_size + 1000000);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	st = resume(fd, NULL, &pid, line, sizeof(line));
	close(fd);
	check_resumed(st, pid, line, (int)getuid());
	unlink(path);
}

/*
 * Issue 16's checkpoint: a loop dumps itself halfway and is gone; the
 * image resumed elsewhere finishes the count from the registers and the
 * stack it had.
 */
#define COUNT_TO	100000000ull	/* 10^8: the loop's length */

static void
test_checkpoint_count(void **state)
{
	char			 path[PATH_MAX + 16], line[256];
	volatile uint64_t	 sum = 0;
	uint64_t		 i;
	pid_t			 pid;
	int			 fd, st;

	(void)state;
	snprintf(path, sizeof(path), "%s/count.img", tdir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	if ((pid = fork()) == 0) {
		for (i = 0; i < COUNT_TO; i++) {
			if (i == COUNT_TO / 2) {
				int r = bproc_dump(fd, 0);

				if (r == 0)
					_exit(0);
				if (r != BPROC_DUMP_RESUMED)
					_exit(5);
			}
			sum += i;
		}
		printf("pid=%d uid=%d sum=%llu\n", (int)getpid(), (int)getuid(),
		    (unsigned long long)sum);
		fflush(stdout);
		_exit(RESUMED_EXIT);
	}
	close(fd);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	fd = open(path, O_RDONLY);
	st = resume(fd, NULL, &pid, line, sizeof(line));
	close(fd);
	check_resumed(st, pid, line, (int)getuid());
	snprintf(path, sizeof(path), "sum=%llu\n",
	    (unsigned long long)(COUNT_TO * (COUNT_TO - 1) / 2));
	assert_non_null(strstr(line, path));
	snprintf(path, sizeof(path), "%s/count.img", tdir);
	unlink(path);
}

/*
 * A resumed image dumps itself again (a process moved twice): the count
 * is checkpointed at a third and at two thirds, each image resumed by a
 * new process, and the last one finishes it.
 */
static void
test_chain(void **state)
{
	char			 p1[PATH_MAX + 16], p2[PATH_MAX + 16], line[256];
	volatile uint64_t	 sum = 0;
	uint64_t		 i;
	pid_t			 pid;
	int			 fd, st;

	(void)state;
	snprintf(p1, sizeof(p1), "%s/chain1.img", tdir);
	snprintf(p2, sizeof(p2), "%s/chain2.img", tdir);
	if ((pid = fork()) == 0) {
		for (i = 0; i < COUNT_TO; i++) {
			if (i == COUNT_TO / 3 || i == 2 * (COUNT_TO / 3)) {
				int r;

				/* Descriptors do not travel: open one here. */
				fd = open(i == COUNT_TO / 3 ? p1 : p2,
				    O_WRONLY | O_CREAT | O_TRUNC, 0600);
				if ((r = bproc_dump(fd, 0)) == 0)
					_exit(0);
				if (r != BPROC_DUMP_RESUMED)
					_exit(5);
			}
			sum += i;
		}
		printf("pid=%d uid=%d sum=%llu\n", (int)getpid(), (int)getuid(),
		    (unsigned long long)sum);
		fflush(stdout);
		_exit(RESUMED_EXIT);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	fd = open(p1, O_RDONLY);
	st = resume(fd, NULL, &pid, line, sizeof(line));
	close(fd);
	/* The first resumed image dumped itself again and exited 0. */
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	fd = open(p2, O_RDONLY);
	st = resume(fd, NULL, &pid, line, sizeof(line));
	close(fd);
	check_resumed(st, pid, line, (int)getuid());
	snprintf(p1, sizeof(p1), "sum=%llu\n",
	    (unsigned long long)(COUNT_TO * (COUNT_TO - 1) / 2));
	assert_non_null(strstr(line, p1));
	snprintf(p1, sizeof(p1), "%s/chain1.img", tdir);
	unlink(p1);
	unlink(p2);
}

/*
 * A 1 TB reservation with three pages written: the dump costs the pages,
 * not the size (PAGEMAP_SCAN), and the restorer can stage and place it.
 */
static void
test_sparse(void **state)
{
	char		 path[PATH_MAX + 16], line[256];
	size_t		 len = (size_t)1 << 40;
	struct stat	 sb;
	char		*p;
	pid_t		 pid;
	int		 fd, st, r;

	(void)state;
	snprintf(path, sizeof(path), "%s/sparse.img", tdir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	if ((pid = fork()) == 0) {
		p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p == MAP_FAILED)
			_exit(3);
		p[0] = 1;
		p[len / 2] = 2;
		p[len - 1] = 3;
		if ((r = bproc_dump(fd, 0)) == 0)
			_exit(0);
		if (r != BPROC_DUMP_RESUMED)
			_exit(5);
		if (p[0] != 1 || p[len / 2] != 2 || p[len - 1] != 3 || p[4096] != 0)
			resumed_fail(30, "sparse pages lost");
		printf("pid=%d uid=%d sparse\n", (int)getpid(), (int)getuid());
		fflush(stdout);
		_exit(RESUMED_EXIT);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 3) {
		skip();		/* no 1 TB of address space here */
		return;
	}
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(fstat(fd, &sb), 0);
	print_message("# 1 TB reservation, 3 pages: a %lld byte image\n",
	    (long long)sb.st_size);
	/* Pages, not the size (a sanitizer's shadow adds a few MB). */
	assert_true(sb.st_size < (32 << 20));
	lseek(fd, 0, SEEK_SET);
	st = resume(fd, NULL, &pid, line, sizeof(line));
	close(fd);
	check_resumed(st, pid, line, (int)getuid());
	unlink(path);
}

/*
 * Can nobody open this test program by its path?  An image of it names
 * it, and a restorer that runs as nobody opens it there; a build tree
 * under a directory only root can enter (a checkout in a mktemp -d) cannot
 * show that, and the tests that need it are skipped saying so.
 */
static int
nobody_reaches_self(void)
{
	char	self[PATH_MAX];
	ssize_t	n;
	pid_t	pid;
	int	st, fd;

	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) <= 0)
		return 0;
	self[n] = '\0';
	if ((pid = fork()) == 0) {
		if (setgroups(0, NULL) == -1 || setgid(NOBODY) == -1 ||
		    setuid(NOBODY) == -1)
			_exit(1);
		_exit((fd = open(self, O_RDONLY)) >= 0 ? 0 : 1);
	}
	if (pid == -1 || waitpid(pid, &st, 0) != pid)
		return 0;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 1;
	print_message("# skipped: user %d cannot open %s (a directory above it "
	    "is closed to other users)\n", NOBODY, self);
	return 0;
}

/* The restorer drops to the uid and groups it is given before resuming. */
static void
test_drop_privileges(void **state)
{
	char	 line[256], fdarg[] = "0";
	char	*argv[] = { BPROC_RESTORE_PATH_FOR_TEST, "-u", "65534", "-g", "65534",
		    "-G", "65534", "-f", fdarg, NULL };
	pid_t	 pid;
	int	 fd, st;

	(void)state;
	if (geteuid() != 0 || !nobody_reaches_self()) {
		skip();
		return;
	}
	fd = open(image, O_RDONLY);
	assert_true(fd >= 0);
	st = resume(fd, argv, &pid, line, sizeof(line));
	close(fd);
	check_resumed(st, pid, line, NOBODY);
}

/*
 * The process host starts the restorer with the ghost's PID (clone3
 * set_tid): the resumed image must see that PID, whatever the dumper's.
 */
static void
test_chosen_pid(void **state)
{
	char	 line[256], *argv[] = { BPROC_RESTORE_PATH_FOR_TEST, NULL };
	pid_t	 pid, want;
	FILE	*f;
	int	 fd, st = -1, pidmax = 32768;

	(void)state;
	if ((f = fopen("/proc/sys/kernel/pid_max", "r")) != NULL) {
		if (fscanf(f, "%d", &pidmax) != 1)
			pidmax = 32768;
		fclose(f);
	}
	fd = open(image, O_RDONLY);
	assert_true(fd >= 0);
	for (want = pidmax - 1 - getpid() % 1000; want > pidmax / 2; want -= 7) {
		lseek(fd, 0, SEEK_SET);
		if ((st = resume_as(want, fd, argv, &pid, line, sizeof(line))) != -1 ||
		    errno != EEXIST)
			break;
	}
	close(fd);
	if (st == -1) {
		print_message("# clone3 set_tid: %s\n", strerror(errno));
		skip();
		return;
	}
	assert_int_equal(pid, want);
	check_resumed(st, pid, line, (int)getuid());
}

static void *
sleeper(void *arg)
{
	(void)arg;
	pause();
	return NULL;
}

/* A second thread: ENOTSUP, nothing written, the caller carries on. */
static void
test_threads(void **state)
{
	char		 path[PATH_MAX + 16];
	struct stat	 st;
	pthread_t	 t;
	int		 fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/threads.img", tdir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(pthread_create(&t, NULL, sleeper, NULL), 0);
	errno = 0;
	assert_int_equal(bproc_dump(fd, 0), -1);
	assert_int_equal(errno, ENOTSUP);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, 0);
	pthread_cancel(t);
	pthread_join(t, NULL);
	close(fd);
	unlink(path);
}

/*
 * restore_bad: bprestore on a damaged copy of the image must exit 1 with
 * its "refused" message, never crash or resume anything.
 */
static void
restore_bad(const char *what, off_t keep, off_t flip)
{
	char	 path[PATH_MAX + 16], errpath[PATH_MAX + 16], msg[512];
	char	*argv[] = { BPROC_RESTORE_PATH_FOR_TEST, NULL };
	int	 in, out, err, st;
	char	 buf[65536];
	ssize_t	 n;
	off_t	 total = 0;
	pid_t	 pid;

	snprintf(path, sizeof(path), "%s/bad.img", tdir);
	snprintf(errpath, sizeof(errpath), "%s/bad.err", tdir);
	in = open(image, O_RDONLY);
	out = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(in >= 0 && out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0 && total < keep) {
		if (n > keep - total)
			n = keep - total;
		assert_int_equal(write(out, buf, n), n);
		total += n;
	}
	close(in);
	if (flip >= 0) {
		unsigned char c;

		assert_int_equal(pread(out, &c, 1, flip), 1);
		c ^= 0x40;
		assert_int_equal(pwrite(out, &c, 1, flip), 1);
	}
	lseek(out, 0, SEEK_SET);
	err = open(errpath, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if ((pid = fork()) == 0) {
		dup2(out, 0);
		dup2(err, 2);
		execv(argv[0], argv);
		_exit(99);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	n = pread(err, msg, sizeof(msg) - 1, 0);
	msg[n > 0 ? n : 0] = '\0';
	print_message("# %s: %s", what, msg);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 1);
	assert_non_null(strstr(msg, "image refused, nothing changed"));
	close(out);
	close(err);
	unlink(path);
	unlink(errpath);
}

static void
refused(const char *path, const char *want)
{
	char	*argv[] = { BPROC_RESTORE_PATH_FOR_TEST, NULL };

	refused_as(argv, path, want);
}

/* refused_as: bprestore argv on file path exits 1 saying want. */
static void
refused_as(char *argv[], const char *path, const char *want)
{
	char	 errpath[PATH_MAX + 16], msg[512];
	int	 in, err, st;
	ssize_t	 n;
	pid_t	 pid;

	snprintf(errpath, sizeof(errpath), "%s/refused.err", tdir);
	in = open(path, O_RDONLY);
	err = open(errpath, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(in >= 0 && err >= 0);
	if ((pid = fork()) == 0) {
		dup2(in, 0);
		dup2(err, 2);
		execv(argv[0], argv);
		_exit(99);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	n = pread(err, msg, sizeof(msg) - 1, 0);
	msg[n > 0 ? n : 0] = '\0';
	print_message("# %s", msg);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 1);
	assert_non_null(strstr(msg, want));
	assert_non_null(strstr(msg, "image refused, nothing changed"));
	close(in);
	close(err);
	unlink(errpath);
}

/*
 * A mapped file that is gone or changed refuses the image before
 * anything is lost.
 */
static void
test_changed_file(void **state)
{
	char	 data[PATH_MAX + 16], img[PATH_MAX + 16], buf[8192];
	pid_t	 pid;
	void	*p;
	int	 fd, dfd, st;

	(void)state;
	snprintf(data, sizeof(data), "%s/mapped.dat", tdir);
	snprintf(img, sizeof(img), "%s/mapped.img", tdir);
	memset(buf, 'x', sizeof(buf));
	dfd = open(data, O_RDWR | O_CREAT | O_TRUNC, 0644);
	assert_int_equal(write(dfd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	close(dfd);
	fd = open(img, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if ((pid = fork()) == 0) {
		dfd = open(data, O_RDONLY);
		p = mmap(NULL, sizeof(buf), PROT_READ, MAP_PRIVATE, dfd, 0);
		if (p == MAP_FAILED || bproc_dump(fd, 0) != 0)
			_exit(1);
		_exit(0);
	}
	close(fd);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	unlink(data);
	refused(img, "mapped.dat: No such file");
	dfd = open(data, O_RDWR | O_CREAT | O_TRUNC, 0644);
	assert_int_equal(write(dfd, buf, 100), 100);
	close(dfd);
	refused(img, "mapped.dat: size 100");
	unlink(data);
	unlink(img);
}

/*
 * Restoring for another user, the restorer opens mapped files as that
 * user: an image cannot have a file mapped that its owner may not read.
 */
static void
test_file_as_user(void **state)
{
	char	 data[PATH_MAX + 16], img[PATH_MAX + 16], buf[4096];
	char	*argv[] = { BPROC_RESTORE_PATH_FOR_TEST, "-u", "65534", "-g",
		    "65534", NULL };
	pid_t	 pid;
	void	*p;
	int	 fd, dfd, st;

	(void)state;
	if (geteuid() != 0 || !nobody_reaches_self()) {
		skip();
		return;
	}
	snprintf(data, sizeof(data), "%s/secret.dat", tdir);
	snprintf(img, sizeof(img), "%s/secret.img", tdir);
	memset(buf, 's', sizeof(buf));
	dfd = open(data, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_int_equal(write(dfd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	close(dfd);
	fd = open(img, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if ((pid = fork()) == 0) {
		dfd = open(data, O_RDONLY);
		p = mmap(NULL, sizeof(buf), PROT_READ, MAP_PRIVATE, dfd, 0);
		if (p == MAP_FAILED || bproc_dump(fd, 0) != 0)
			_exit(1);
		_exit(0);
	}
	close(fd);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	refused_as(argv, img, "secret.dat: Permission denied");
	unlink(data);
	unlink(img);
}

/*
 * An image from another kernel: its vDSO differs from ours.  Made by
 * changing the vDSO's hash in a copy of the image and sealing the copy
 * again with a correct END, so that only the vDSO rule can refuse it.
 */
static void
test_other_kernel(void **state)
{
	char			 path[PATH_MAX + 16];
	unsigned char		*img;
	struct stat		 st;
	struct vmad_rec		 rec;
	struct vmad_special	 sp;
	struct vmad_hash	 h;
	struct vmad_end		 end;
	size_t			 off = sizeof(struct vmad_header), endoff = 0;
	int			 fd, found = 0;

	(void)state;
	fd = open(image, O_RDONLY);
	assert_true(fd >= 0 && fstat(fd, &st) == 0);
	img = malloc(st.st_size);
	assert_int_equal(read(fd, img, st.st_size), st.st_size);
	close(fd);
	while (off + sizeof(rec) <= (size_t)st.st_size) {
		memcpy(&rec, img + off, sizeof(rec));
		if (rec.type == VMAD_REC_END) {
			endoff = off;
			break;
		}
		if (rec.type == VMAD_REC_SPECIAL) {
			memcpy(&sp, img + off + sizeof(rec), sizeof(sp));
			if (strcmp(sp.name, "[vdso]") == 0) {
				sp.hash ^= 1;
				memcpy(img + off + sizeof(rec), &sp, sizeof(sp));
				found = 1;
			}
		}
		off += sizeof(rec) + VMAD_PAD(rec.len);
		if (rec.type == VMAD_REC_PAGES) {
			struct vmad_pages pg;

			memcpy(&pg, img + off - sizeof(pg), sizeof(pg));
			off += (size_t)pg.npages * 4096;
		}
	}
	if (!found) {
		free(img);
		skip();		/* a kernel without a vDSO */
		return;
	}
	assert_true(endoff > 0);
	vmad_hash_init(&h);
	vmad_hash_add(&h, img + sizeof(struct vmad_header),
	    endoff - sizeof(struct vmad_header));
	end.bytes = h.bytes;
	end.hash = vmad_hash_final(&h);
	memcpy(img + endoff + sizeof(rec), &end, sizeof(end));
	snprintf(path, sizeof(path), "%s/otherkernel.img", tdir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_int_equal(write(fd, img, st.st_size), st.st_size);
	close(fd);
	free(img);
	refused(path, "[vdso] differs");
	unlink(path);
}

/* restorer_status: bprestore's wait status on the n bytes of buf. */
static int
restorer_status(const unsigned char *buf, size_t n)
{
	char	 path[PATH_MAX + 16];
	char	*argv[] = { BPROC_RESTORE_PATH_FOR_TEST, NULL };
	pid_t	 pid;
	int	 fd, st;

	snprintf(path, sizeof(path), "%s/fuzz.img", tdir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_int_equal(write(fd, buf, n), (ssize_t)n);
	lseek(fd, 0, SEEK_SET);
	if ((pid = fork()) == 0) {
		dup2(fd, 0);
		if ((fd = open("/dev/null", O_WRONLY)) >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], argv);
		_exit(99);
	}
	close(fd);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	unlink(path);
	return st;
}

/*
 * A small image with a byte changed at 96 places (most in the metadata,
 * which is parsed before END's hash can be checked) and cut at 48
 * lengths: every one is refused with exit 1, none crashes the restorer.
 */
static void
test_damage_sweep(void **state)
{
	char		 path[PATH_MAX + 16];
	unsigned char	*img, *bad;
	struct stat	 st;
	size_t		 off, k;
	pid_t		 pid;
	int		 fd, s;

	(void)state;
	snprintf(path, sizeof(path), "%s/small.img", tdir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	if ((pid = fork()) == 0)
		_exit(bproc_dump(fd, 0) == 0 ? 0 : 1);
	assert_int_equal(waitpid(pid, &s, 0), pid);
	if (WIFEXITED(s) && WEXITSTATUS(s) != 0)
		fail_msg("the small dump failed");
	assert_int_equal(fstat(fd, &st), 0);
	img = malloc(st.st_size);
	bad = malloc(st.st_size);
	assert_int_equal(pread(fd, img, st.st_size, 0), st.st_size);
	close(fd);
	unlink(path);
	for (k = 0; k < 96; k++) {
		off = k < 64 ? (k * 181 + 3) % 12000 : (k * 7919 * 13) % st.st_size;
		if (off >= (size_t)st.st_size)
			off %= st.st_size;
		memcpy(bad, img, st.st_size);
		bad[off] ^= (unsigned char)(1u << (k % 8));
		s = restorer_status(bad, st.st_size);
		if (!WIFEXITED(s) || WEXITSTATUS(s) != 1)
			fail_msg("byte %zu changed: status %#x", off, s);
	}
	for (k = 0; k < 48; k++) {
		off = (k * 2741 + 5) % st.st_size;
		s = restorer_status(img, off);
		if (!WIFEXITED(s) || WEXITSTATUS(s) != 1)
			fail_msg("cut at %zu: status %#x", off, s);
	}
	free(img);
	free(bad);
}

static void
test_bad_images(void **state)
{
	struct stat	 st;

	(void)state;
	assert_int_equal(stat(image, &st), 0);
	restore_bad("empty", 0, -1);
	restore_bad("header only", 32, -1);
	restore_bad("cut in the metadata", 2000, -1);
	restore_bad("cut in the pages", st.st_size / 2, -1);
	restore_bad("no END", st.st_size - 24, -1);
	restore_bad("bad magic", st.st_size, 0);
	restore_bad("flipped page byte", st.st_size, st.st_size / 2 + 5);
	restore_bad("flipped metadata byte", st.st_size, 100);
}

/* bproc_undump refuses a file that is not an image, and returns. */
static void
test_undump_not_image(void **state)
{
	char	 path[PATH_MAX + 16];
	int	 fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/junk", tdir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_int_equal(write(fd, "this is not a process image, not at all", 39), 39);
	lseek(fd, 0, SEEK_SET);
	errno = 0;
	assert_int_equal(bproc_undump(fd), -1);
	assert_int_equal(errno, ENOEXEC);
	close(fd);
	unlink(path);
}

static void
test_liblist(void **state)
{
	char	*list;

	(void)state;
	assert_int_equal(bproc_libadd("/lib/a.so"), 0);
	assert_int_equal(bproc_libadd("/lib/b.so"), 0);
	assert_int_equal(bproc_libadd("/lib/a.so"), 0);
	assert_int_equal(bproc_libadd("relative"), -1);
	assert_int_equal(bproc_liblist(&list), 0);
	assert_string_equal(list, "/lib/a.so");
	assert_string_equal(list + 10, "/lib/b.so");
	assert_string_equal(list + 20, "");
	free(list);
	assert_int_equal(bproc_libdel("/lib/a.so"), 0);
	assert_int_equal(bproc_libdel("/lib/a.so"), -1);
	assert_int_equal(bproc_liblist(&list), 0);
	assert_string_equal(list, "/lib/b.so");
	assert_string_equal(list + 10, "");
	free(list);
	assert_int_equal(bproc_libclear(), 0);
	assert_int_equal(bproc_liblist(&list), 0);
	assert_string_equal(list, "");
	free(list);
}

static int
setup(void **state)
{
	(void)state;
	if (mkdtemp(tdir) == NULL)
		return -1;
	/* The image resumed as nobody writes here too. */
	chmod(tdir, 01777);
	snprintf(image, sizeof(image), "%s/roundtrip.img", tdir);
	return 0;
}

static int
teardown(void **state)
{
	char	 path[PATH_MAX + 16];

	(void)state;
	unlink(image);
	snprintf(path, sizeof(path), "%s/open.txt", tdir);
	unlink(path);
	rmdir(tdir);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_liblist),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_undump_not_image),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_twice),
		cmocka_unit_test(test_pipe),
		cmocka_unit_test(test_live_pipe),
		cmocka_unit_test(test_live_socket),
		cmocka_unit_test(test_dump_all),
		cmocka_unit_test(test_dump_libs),
		cmocka_unit_test(test_checkpoint_count),
		cmocka_unit_test(test_chain),
		cmocka_unit_test(test_sparse),
		cmocka_unit_test(test_drop_privileges),
		cmocka_unit_test(test_chosen_pid),
		cmocka_unit_test(test_bad_images),
		cmocka_unit_test(test_damage_sweep),
		cmocka_unit_test(test_changed_file),
		cmocka_unit_test(test_file_as_user),
		cmocka_unit_test(test_other_kernel),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
