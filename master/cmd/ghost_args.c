/*
 * The ghost's command line, as ps reads it: /proc/PID/cmdline is the
 * bytes between the kernel's arg_start and arg_end of our memory.  At
 * first that is our own argv, which bproc_rexec() made the remote argv;
 * when the process execs on the node the new argv is written there.  A
 * longer one than the first does not fit: then it goes into a page of
 * its own and the kernel is told where it is now, with
 * prctl(PR_SET_MM, PR_SET_MM_MAP), which, unlike the single
 * PR_SET_MM_ARG_START and _END (CAP_SYS_RESOURCE), needs no privilege
 * as long as it does not change the executable (exe_fd -1): the other
 * fields are given back as /proc/self/stat has them.  A kernel without
 * CONFIG_CHECKPOINT_RESTORE refuses it, and the command line is cut to
 * the first one's room, as it was before.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>


#include "ghost.h"

#define ARGS_STAT_MAX	1024	/* bytes of /proc/self/stat we read */
#define ARGS_AREA_MIN	4096	/* the least room mapped for a long argv */

static char	*arg_base;	/* our first argv: arg_start at exec */
static size_t	 arg_room;	/* its length, NULs included */
static char	*own;		/* the page(s) mapped for a longer argv */
static size_t	 own_room;

char	*arg_area;
size_t	 arg_len;

void
args_init(int argc, char **argv)
{
	if (argc <= 0)
		return;
	arg_base = arg_area = argv[0];
	arg_room = arg_len = (size_t)(argv[argc - 1] +
	    strlen(argv[argc - 1]) + 1 - argv[0]);
}

/* Fields 26.. of /proc/self/stat (after "pid (comm) "), by number. */
static int
args_stat(unsigned long *v, int max)
{
	char	 buf[ARGS_STAT_MAX], *p, *e;
	ssize_t	 n;
	int	 fd, i;

	if ((fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL)
		return -1;
	/* field 3 is the state letter; numbers from field 4 on */
	p += 4;
	for (i = 4; i < max; i++) {
		v[i] = strtoul(p, &e, 10);
		if (e == p)
			return -1;
		p = e;
	}
	return 0;
}

/* Tell the kernel our command line is [start, start + len). */
static int
args_move(char *start, size_t len)
{
	struct prctl_mm_map	m;
	unsigned long		v[52];

	if (args_stat(v, 52) == -1)
		return -1;
	memset(&m, 0, sizeof(m));
	m.start_code = v[26];
	m.end_code = v[27];
	m.start_stack = v[28];
	m.start_data = v[45];
	m.end_data = v[46];
	m.start_brk = v[47];
	m.brk = (uint64_t)syscall(SYS_brk, 0);
	m.arg_start = (uintptr_t)start;
	m.arg_end = (uintptr_t)start + len;
	m.env_start = v[50];
	m.env_end = v[51];
	m.exe_fd = (uint32_t)-1;
	return prctl(PR_SET_MM, PR_SET_MM_MAP, &m, sizeof(m), 0);
}

/*
 * Show argv (n words of total bytes, each with its NUL, one after the
 * other in words) as our command line.
 */
void
args_set(const char *words, size_t total)
{
	char	*to = arg_base;
	size_t	 room = arg_room;

	if (arg_base == NULL || arg_room < 2 || total == 0)
		return;
	if (total > arg_room) {
		if (own_room < total) {
			size_t	 want = total < ARGS_AREA_MIN ? ARGS_AREA_MIN :
				    (total + 4095) & ~(size_t)4095;
			char	*p = mmap(NULL, want, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

			if (p != MAP_FAILED) {
				if (own != NULL)
					munmap(own, own_room);
				own = p;
				own_room = want;
			}
		}
		if (own_room >= total) {
			to = own;
			room = own_room;
		}
	}
	if (total <= room) {
		memcpy(to, words, total);
		if (args_move(to, total) == 0) {
			arg_area = to;
			arg_len = total;
			return;
		}
		if (to != arg_base) {
			/* no PR_SET_MM_MAP here: cut to the first room */
			to = arg_base;
			room = arg_room;
		}
	}
	/* the first room, padded with NULs where the kernel reads it */
	if (total > room)
		total = room;
	memcpy(to, words, total);
	memset(to + total, 0, room - total);
	to[room - 1] = '\0';
	arg_area = arg_base;
	arg_len = arg_room;
}
