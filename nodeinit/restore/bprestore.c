/*
 * bprestore: turn this process into the image read from a descriptor
 * (docs/vmadump.md).  bproc_undump() execs it in the process to replace;
 * on a node the process host starts it with the ghost's PID and the
 * caller's credentials to drop to.
 *
 *	bprestore [-v] [-C level] [-u uid] [-g gid] [-G gid,...] [-f fd]
 *
 * The image is read front to back once (a file, a pipe or a socket) and
 * all of it is checked, the hash included, while its pages are staged in
 * fresh mappings placed where the image has none: a bad or truncated
 * image is refused while nothing is lost yet (rst_image.c).  Only then
 * does rst_map.c replace the address space.  rst_state.c holds what all
 * the parts share.
 *
 * Exit status: 1 the image was refused (nothing was changed), 2 bad
 * usage, 3 the restore failed after the address space was given up.
 */
#include <sys/mman.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#include "rst.h"

/* The stack the restorer moves to; in bss, so inside the window. */
static unsigned char rst_stack[RST_STACK_LEN] __attribute__((aligned(64)));

static void
rst_usage(void)
{
	rst_say("usage: bprestore [-v] [-a fd] [-C 0-3] [-N fd] [-R | -u uid -g gid [-G gid,...]] [-f fd] [-- fallback...]");
	_exit(2);
}

/*
 * rst_open_file: reopen a referenced file and check it is the one the
 * dumper had mapped, as far as -C asks.  Regions of one file share one
 * descriptor.
 */
static void
rst_open_file(struct rst_region *g, uint32_t idx)
{
	static struct {
		const char	*path;
		int		 fd;
		int		 rw;
	}		 files[RST_MAX_FILES];
	static unsigned	 nfiles;
	struct stat	 st;
	const struct vmad_region *r = &g->r;
	int		 rw = r->kind == VMAD_R_SHARED && (r->prot & PROT_WRITE);
	unsigned	 i;

	for (i = 0; i < nfiles; i++) {
		if (files[i].rw == rw && strcmp(files[i].path, g->path) == 0) {
			g->fd = files[i].fd;
			return;
		}
	}
	if (nfiles == RST_MAX_FILES)
		rst_fail("more than %d files mapped", RST_MAX_FILES);
	if ((g->fd = open(g->path, (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC)) == -1)
		rst_fail("region %u: %s: %s", idx, g->path, strerror(errno));
	if (fstat(g->fd, &st) == -1 || !S_ISREG(st.st_mode))
		rst_fail("region %u: %s: not a regular file", idx, g->path);
	if (rst.check >= RST_CHECK_SIZE && (uint64_t)st.st_size != r->size)
		rst_fail("%s: size %lld, the image has %llu", g->path,
		    (long long)st.st_size, (unsigned long long)r->size);
	if (rst.check >= RST_CHECK_MTIME && (st.st_mtim.tv_sec != r->mtime_sec ||
	    st.st_mtim.tv_nsec != r->mtime_nsec))
		rst_fail("%s: modified since the image was made", g->path);
	if (rst.check >= RST_CHECK_INODE && (st.st_dev != r->dev ||
	    st.st_ino != r->ino))
		rst_fail("%s: not the file the image mapped (device or inode differ)",
		    g->path);
	files[nfiles].path = g->path;
	files[nfiles].fd = g->fd;
	files[nfiles].rw = rw;
	nfiles++;
}

/*
 * rst_as_user: with -u/-g, take on (on != 0) or give back the target
 * identity as the effective one only; the saved root ids let the
 * restorer come back for the privileged steps.
 */
static void
rst_as_user(int on)
{
	if (!rst.setcred)
		return;
	if (on) {
		if (setgroups(rst.setcred & 4 ? rst.ngroups : 1,
		    rst.setcred & 4 ? rst.groups : &rst.gid) == -1 ||
		    setresgid(-1, rst.gid, -1) == -1 ||
		    setresuid(-1, rst.uid, -1) == -1)
			rst_fail("taking on uid %u gid %u: %s", (unsigned)rst.uid,
			    (unsigned)rst.gid, strerror(errno));
	} else if (setresuid(-1, 0, -1) == -1 || setresgid(-1, 0, -1) == -1)
		rst_fail("back to root: %s", strerror(errno));
}

static void
rst_main(void)
{
	uint64_t	 cursor = RST_ARENA;
	uint32_t	 i;

	if (mmap((void *)(uintptr_t)RST_ARENA, RST_ARENA_LEN, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE | MAP_NORESERVE, -1,
	    0) == MAP_FAILED)
		rst_fail("arena: %s", strerror(errno));
	rst.stages = rst_arena(&cursor, RST_MAX_STAGES * sizeof(*rst.stages));
	rst.mapscap = 8u << 20;
	rst.mapsbuf = rst_arena(&cursor, rst.mapscap);
	rst.stage_cur = RST_STAGE_BASE;

	rst_read_head(&cursor);
	rst_own_maps();
	rst_check_special();
	/*
	 * Files first: a missing library should not cost reading the pages.
	 * They are opened as the user the image will run as, so an image
	 * cannot name a file its owner may not read and get it mapped.
	 */
	rst_as_user(1);
	for (i = 0; i < rst.nreg; i++)
		if (rst.reg[i].r.kind != VMAD_R_ANON)
			rst_open_file(&rst.reg[i], i);
	rst_as_user(0);
	rst_read_pages(&cursor);
	/* -a: the process host learns the image was taken (migration) */
	if (rst_accept_fd >= 0) {
		(void)write(rst_accept_fd, "A", 1);
		close(rst_accept_fd);
	}
	rst_replace();
}

/* rst_own_fpu: the xsave features this CPU and kernel put in a frame. */
static void
rst_fpu_handler(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t		*uc = ucv;
	const unsigned char	*fp = (const unsigned char *)uc->uc_mcontext.fpregs;
	uint32_t		 magic1;

	(void)sig;
	(void)si;
	if (fp == NULL)
		return;
	memcpy(&magic1, fp + 464, 4);
	if (magic1 == 0x46505853u)
		memcpy(&rst.own_xfeatures, fp + 472, 8);
	else
		rst.own_xfeatures = 3;	/* x87 and SSE, legacy frame */
}

static void
rst_own_fpu(void)
{
	struct sigaction	 sa;
	sigset_t		 one, old;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = rst_fpu_handler;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGUSR1, &sa, NULL);
	/* a ghost that becomes its process starts us with every signal blocked */
	sigemptyset(&one);
	sigaddset(&one, SIGUSR1);
	sigprocmask(SIG_UNBLOCK, &one, &old);
	raise(SIGUSR1);
	sigprocmask(SIG_SETMASK, &old, NULL);
	sa.sa_handler = SIG_DFL;
	sa.sa_flags = 0;
	sigaction(SIGUSR1, &sa, NULL);
}

static unsigned long
rst_num(const char *s, unsigned long max)
{
	char		*end;
	unsigned long	 v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s || v > max)
		rst_usage();
	return v;
}

int	__libc_start_main(int (*)(int, char **, char **), int, char **,
	    void (*)(void), void (*)(void), void (*)(void));
void	rst_start_c(long *) __attribute__((noreturn));
int	main(int, char *[], char *[]);

/* rst_start_c: argc and argv from the initial stack, then musl's start. */
void
rst_start_c(long *sp)
{
	__libc_start_main(main, (int)sp[0],
	    (char **)(sp + 1), NULL, NULL, NULL);
	_exit(127);
}

int
main(int argc, char *argv[], char *envp[])
{
	char	*p, *tok;
	int	 c, n;

	rst_envp = envp;
	rst.fd = 0;
	rst.check = RST_CHECK_INODE;
	while ((c = getopt(argc, argv, "a:C:f:g:G:N:Ru:v")) != -1) {
		switch (c) {
		case 'a':
			rst_accept_fd = (int)rst_num(optarg, 1u << 20);
			break;
		case 'C':
			rst.check = rst_num(optarg, RST_CHECK_INODE);
			break;
		case 'f':
			rst.fd = rst_num(optarg, 1u << 20);
			break;
		case 'g':
			rst.gid = rst_num(optarg, 0xfffffffeu);
			rst.setcred |= 2;
			break;
		case 'G':
			for (p = optarg; (tok = strsep(&p, ",")) != NULL;) {
				if (rst.ngroups == 64)
					rst_usage();
				rst.groups[rst.ngroups++] = rst_num(tok, 0xfffffffeu);
			}
			rst.setcred |= 4;
			break;
		case 'u':
			rst.uid = rst_num(optarg, 0xfffffffeu);
			rst.setcred |= 1;
			break;
		case 'N':
			/*
			 * nodeinit's way (nodeinit/migrate.c): the image and
			 * the verdict on one socket, files checked by size
			 * (the node's cache holds other inodes), -R.
			 */
			rst.fd = rst_accept_fd = (int)rst_num(optarg, 1u << 20);
			rst.check = RST_CHECK_SIZE;
			/* FALLTHROUGH */
		case 'R':
			/*
			 * The real ids and groups are the user's, the
			 * effective ones root's (how nodeinit starts us): drop
			 * to the real ones.  More than 64 groups: none.
			 */
			rst.uid = getuid();
			rst.gid = getgid();
			n = getgroups(64, rst.groups);
			rst.ngroups = n < 0 ? 0 : n;
			rst.setcred = 7;
			break;
		case 'v':
			rst.verbose++;
			break;
		default:
			rst_usage();
		}
	}
	if (optind < argc)
		rst_fallback = argv + optind;
	if (rst.setcred && (rst.setcred & 3) != 3)
		rst_usage();	/* -u and -g go together */
	rst.page = sysconf(_SC_PAGESIZE);
	rst_own_fpu();
	/* Nothing below may depend on the kernel's stack: it will go. */
	rst_onstack(rst_stack + sizeof(rst_stack), rst_main);
}
