/*
 * libbproc: VMADump in userspace.  bproc_dump() raises a signal at itself
 * and writes the image from inside the handler, where the kernel has just
 * saved every register and the whole xsave area in the signal frame: the
 * image's context is that frame with rax set to 1, so resuming it makes
 * the trap return 1 instead of 0, like the child side of fork().  The
 * format is common/vmadump.h; the restorer is nodeinit/restore/.
 */
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <asm/prctl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define DUMP_ASAN_STACK	(1024 * 1024)	/* stack below us the handler may have marked */
#endif

#include "bproc_dump.h"
#include "vmadump_dump.h"

#define DUMP_MAPS_MIN	(256 * 1024)	/* first guess at /proc/self/maps' size */
#define DUMP_PIPE_SZ	(1024 * 1024)	/* pipe buffer asked for: fs.pipe-max-size's default */


/* The restorer fills this in just before it resumes the image. */
static struct vmad_resume dump_resume;
static struct dump *volatile dump_cur;


static int
dump_nthreads(void)
{
	DIR		*d;
	struct dirent	*e;
	int		 n = 0;

	if ((d = opendir("/proc/self/task")) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* dump_image: the whole image, in the order vmadump.h gives. */
/*
 * Memory that changes while the dump runs goes through the bounce
 * buffer: our own stack (sp is in it: these frames), the TLS block
 * (errno, and the rseq fields the kernel updates), and shared memory
 * that other processes may write.
 */
static void
dump_mark_bounce(struct dump *d, uintptr_t sp)
{
	unsigned long	 fs;
	size_t		 i;

	if (syscall(SYS_arch_prctl, ARCH_GET_FS, &fs) == -1)
		fs = 0;
	for (i = 0; i < d->nmap; i++) {
		struct dump_map *m = &d->map[i];

		m->bounce = m->mode == DM_RESIDENT ||
		    (m->r.start <= sp && sp < m->r.end) ||
		    (m->r.start <= fs && fs < m->r.end);
#if defined(__SANITIZE_ADDRESS__)
		/* The sanitizer's shadow changes with every call we make. */
		m->bounce = 1;
#endif
	}
}

static int
dump_image(struct dump *d)
{
	struct vmad_header	 h;
	struct vmad_end		 e;
	char			 cwd[PATH_MAX];
	size_t			 i;
	int			 pmfd;

	if (vmdump_maps(d) == -1)
		return -1;
	dump_mark_bounce(d, (uintptr_t)&h);
	memset(&h, 0, sizeof(h));
	h.magic = VMAD_MAGIC;
	h.version = VMAD_VERSION;
	h.arch = VMAD_ARCH_X86_64;
	h.page_size = d->page;
	h.hdr_len = sizeof(h);
	h.flags = d->flags;
	h.nregions = d->nmap;
	h.pid = getpid();
	h.tid = gettid();
	if (vmdump_write(d, &h, sizeof(h)) == -1)
		return -1;
	vmad_hash_init(&d->hash);
	if (vmdump_regs(d) == -1 || vmdump_task(d) == -1 ||
	    vmdump_sigact(d) == -1 || vmdump_mm(d) == -1)
		return -1;
	if (syscall(SYS_getcwd, cwd, sizeof(cwd)) == -1 || cwd[0] != '/')
		strcpy(cwd, "/");
	if (vmdump_put(d, VMAD_REC_CWD, cwd, strlen(cwd), NULL, 0) == -1)
		return -1;
	for (i = 0; i < d->nspecial; i++)
		if (vmdump_put(d, VMAD_REC_SPECIAL, &d->special[i],
		    sizeof(d->special[i]), NULL, 0) == -1)
			return -1;
	for (i = 0; i < d->nmap; i++)
		if (vmdump_put(d, VMAD_REC_REGION, &d->map[i].r,
		    sizeof(d->map[i].r), d->map[i].path,
		    d->map[i].r.path_len) == -1)
			return -1;
	if ((pmfd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	for (i = 0; i < d->nmap; i++) {
		if (vmdump_pages(d, pmfd, i) == -1) {
			close(pmfd);
			return -1;
		}
	}
	close(pmfd);
	if (vmdump_flush(d) == -1)
		return -1;
	e.bytes = d->hash.bytes;
	e.hash = vmad_hash_final(&d->hash);
	if (vmdump_put(d, VMAD_REC_END, &e, sizeof(e), NULL, 0) == -1)
		return -1;
	/* END is not part of what it hashes: write it without adding it. */
	if (vmdump_write(d, d->obuf, d->olen) == -1)
		return -1;
	d->olen = 0;
	return 0;
}

static void
dump_handler(int sig, siginfo_t *si, void *ucv)
{
	struct dump	*d = dump_cur;
	int		 saved = errno;

	(void)sig;
	if (d == NULL || si->si_code != SI_TKILL || si->si_pid != getpid())
		return;
	dump_cur = NULL;
	d->uc = ucv;
	d->err = dump_image(d) == -1 ? (errno != 0 ? errno : EIO) : 0;
	d->done = 1;
	errno = saved;
}

/*
 * dump_trap: tgkill ourselves with an inline syscall, so that the saved
 * context's rip is the instruction right after it and its rax is what
 * this returns: 0 from the kernel here, 1 when the image is resumed.
 */
static long __attribute__((noinline))
dump_trap(int sig)
{
	long	 ret = SYS_tgkill;

	__asm__ volatile ("syscall"
	    : "+a" (ret)
	    : "D" ((long)getpid()), "S" ((long)gettid()), "d" ((long)sig)
	    : "rcx", "r11", "memory");
	return ret;
}

/* dump_pick_signal: a real-time signal nobody handles, from the top. */
static int
dump_pick_signal(struct vmad_sigaction *old)
{
	int	 sig;

	for (sig = SIGRTMAX; sig >= SIGRTMIN; sig--) {
		if (syscall(SYS_rt_sigaction, sig, NULL, old, 8) == -1)
			continue;
		if (old->handler == (uintptr_t)SIG_DFL)
			return sig;
	}
	return -1;
}

static int	dump_main(int, libbproc_sink_fn *, void *, int);

int
bproc_dump(int fd, int flags)
{
	return dump_main(fd, NULL, NULL, flags);
}

/* migrate.c: the image through sink(ctx, bytes, len), e.g. framed for bpmaster. */
int
libbproc_dump_sink(libbproc_sink_fn *sink, void *ctx, int flags)
{
	return dump_main(-1, sink, ctx, flags);
}

/*
 * One mapping outside the image for everything the handler needs: the
 * maps text, the region table (one per 40 bytes of text at most), the
 * buffers.
 */
static int
dump_scratch(struct dump *d)
{
	d->map_cap = d->maps_cap / 40 + 16;
	d->scratch_len = d->maps_cap + d->map_cap * sizeof(struct dump_map) +
	    DUMP_PM_WORDS * 9 + DUMP_OBUF + DUMP_COPY +
	    DUMP_SCAN_VEC * sizeof(struct dump_page_region) + 64;
	d->scratch_len = (d->scratch_len + d->page - 1) & ~(size_t)(d->page - 1);
	d->scratch = mmap(NULL, d->scratch_len, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (d->scratch == MAP_FAILED)
		return -1;
	d->maps = d->scratch;
	d->map = (struct dump_map *)(d->scratch + d->maps_cap + 1 + 7 -
	    ((d->maps_cap + 1 + 7) % 8));
	d->pm = (uint64_t *)(d->map + d->map_cap);
	d->obuf = (char *)d->pm + DUMP_PM_WORDS * 9;
	d->obuf += (8 - (uintptr_t)d->obuf % 8) % 8;
	d->copy = d->obuf + DUMP_OBUF;
	d->scan = (struct dump_page_region *)(d->copy + DUMP_COPY);
	return 0;
}

/* The handler on d->sig, the signal unblocked: -1 with the scratch gone. */
static int
dump_arm(struct dump *d)
{
	struct sigaction	 sa;
	sigset_t		 one;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = dump_handler;
	sa.sa_flags = SA_SIGINFO;
	sigfillset(&sa.sa_mask);
	sigprocmask(SIG_SETMASK, NULL, &d->mask);
	if (sigaction(d->sig, &sa, NULL) == -1) {
		munmap(d->scratch, d->scratch_len);
		return -1;
	}
	sigemptyset(&one);
	sigaddset(&one, d->sig);
	sigprocmask(SIG_UNBLOCK, &one, NULL);
	return 0;
}

/*
 * The restored image: the restorer set our actions and mask and left its
 * own pages behind; the scratch was never part of the image.
 */
static void
dump_resumed(void)
{
	if (dump_resume.magic == VMAD_RESUME_MAGIC)
		munmap((void *)(uintptr_t)dump_resume.unmap_start,
		    dump_resume.unmap_len);
	memset(&dump_resume, 0, sizeof(dump_resume));
}

/* What bproc_dump checks and sets up before the first try. */
static int
dump_begin(struct dump *d, int fd, libbproc_sink_fn *sink, void *ctx,
    int flags)
{
	struct stat	 st;
	int		 n;

	if ((n = dump_nthreads()) != 1) {
		errno = n == -1 ? errno : ENOTSUP;
		return -1;
	}
	if (flags & ~BPROC_DUMP_ALL) {
		errno = EINVAL;
		return -1;
	}
	/*
	 * A pipe's default 64 KB means a context switch per 16 pages; ask
	 * for the unprivileged maximum (a hint: failure changes nothing).
	 */
	if (sink == NULL && fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) &&
	    fcntl(fd, F_GETPIPE_SZ) < DUMP_PIPE_SZ)
		(void)fcntl(fd, F_SETPIPE_SZ, DUMP_PIPE_SZ);
	memset(d, 0, sizeof(*d));
	d->fd = fd;
	d->sink = sink;
	d->sinkctx = ctx;
	d->flags = flags;
	d->page = sysconf(_SC_PAGESIZE);
	d->resume = &dump_resume;
	if ((n = readlink("/proc/self/exe", d->exe, sizeof(d->exe) - 1)) > 0)
		d->exe[n] = '\0';
	if ((d->sig = dump_pick_signal(&d->oldact)) == -1) {
		errno = EBUSY;
		return -1;
	}
	d->maps_cap = DUMP_MAPS_MIN;
	return 0;
}

static int
dump_main(int fd, libbproc_sink_fn *sink, void *ctx, int flags)
{
	struct dump		 d;
	long			 ret;
	int			 err;

	if (dump_begin(&d, fd, sink, ctx, flags) == -1)
		return -1;
	for (;;) {
		if (dump_scratch(&d) == -1 || dump_arm(&d) == -1)
			return -1;
		d.done = 0;
		dump_cur = &d;
		ret = dump_trap(d.sig);
		if (ret == BPROC_DUMP_RESUMED) {
			dump_resumed();
#if defined(__SANITIZE_ADDRESS__)
			/*
			 * The handler's frames never returned here: clear the
			 * sanitizer's marks they left on the stack below us.
			 */
			__asan_unpoison_memory_region((char *)&d - DUMP_ASAN_STACK,
			    DUMP_ASAN_STACK);
#endif
			return BPROC_DUMP_RESUMED;
		}
		dump_cur = NULL;
		sigprocmask(SIG_SETMASK, &d.mask, NULL);
		syscall(SYS_rt_sigaction, d.sig, &d.oldact, NULL, 8);
		err = d.done ? d.err : (ret < 0 ? -ret : EINTR);
		munmap(d.scratch, d.scratch_len);
		if (err == ENOBUFS && d.maps_cap < (64u << 20)) {
			d.maps_cap *= 4;
			continue;
		}
		if (err != 0) {
			errno = err;
			return -1;
		}
		return 0;
	}
}
