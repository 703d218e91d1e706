/*
 * libbproc: VMADump in userspace.  bproc_dump() raises a signal at itself
 * and writes the image from inside the handler, where the kernel has just
 * saved every register and the whole xsave area in the signal frame: the
 * image's context is that frame with rax set to 1, so resuming it makes
 * the trap return 1 instead of 0, like the child side of fork().  The
 * format is common/vmadump.h; the restorer is nodeinit/restore/.
 */
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/sysmacros.h>
#include <asm/prctl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define DUMP_ASAN_STACK	(1024 * 1024)	/* stack below us the handler may have marked */
#endif

#include "bproc_dump.h"
#include "vmadump.h"
#include "vmadump_int.h"

#define DUMP_MAPS_MIN	(256 * 1024)	/* first guess at /proc/self/maps' size */
#define DUMP_PM_WORDS	8192		/* pagemap entries read at a time */
#define DUMP_OBUF	(160 * 1024)	/* metadata buffered; holds the largest record */
#define DUMP_PIPE_SZ	(1024 * 1024)	/* pipe buffer asked for: fs.pipe-max-size's default */
#define DUMP_COPY	(256 * 1024)	/* bounce buffer for memory that may change */
#define RSEQ_SIG_X86	0x53053053u	/* glibc's rseq signature on x86 */
#define RSEQ_AREA_LEN	32u		/* what glibc registers */

#define DUMP_SCAN_VEC	512		/* page ranges PAGEMAP_SCAN returns at a time */

/*
 * PAGEMAP_SCAN (linux/fs.h of Linux 6.7; Debian 12's headers predate it):
 * the ranges of pages in some categories, in one call.
 */
struct dump_page_region {
	uint64_t	start, end, categories;
};
struct dump_pm_scan_arg {
	uint64_t	size, flags, start, end, walk_end, vec, vec_len, max_pages;
	uint64_t	category_inverted, category_mask, category_anyof_mask;
	uint64_t	return_mask;
};
#define DUMP_PAGEMAP_SCAN	_IOWR('f', 16, struct dump_pm_scan_arg)
#define DUMP_PAGE_IS_PRESENT	(1u << 3)
#define DUMP_PAGE_IS_SWAPPED	(1u << 4)

#define PM_PRESENT	(1ull << 63)
#define PM_SWAPPED	(1ull << 62)
#define PM_FILE		(1ull << 61)	/* page cache or shared anon page */

/* glibc >= 2.35 says where the thread's rseq area is; weak for older ones. */
extern const ptrdiff_t __rseq_offset __attribute__((weak));
extern const unsigned int __rseq_size __attribute__((weak));

/* A mapping as the dump sees it: the region record and where its path is. */
struct dump_map {
	struct vmad_region	 r;
	const char		*path;
	int			 mode;	/* DM_*: which of its pages travel */
	int			 bounce; /* changes while we dump: copy, then hash */
};

/* Which pages of a mapping travel (see dump_pages). */
enum dump_mode {
	DM_ANON,	/* present or swapped, all-zero ones left out */
	DM_COW,		/* the copies of a private file mapping */
	DM_RESIDENT,	/* shared memory travelling as private: resident pages */
	DM_ALL		/* a file travelling as pages: every page */
};

/* Everything the handler needs; none of it lives in the image's heap. */
struct dump {
	int			 fd;
	int			 flags;
	int			 sig;
	int			 err;
	int			 done;
	char			*scratch;	/* one mapping, left out of the image */
	size_t			 scratch_len;
	char			*maps;		/* /proc/self/maps text */
	size_t			 maps_cap;
	char			*obuf;
	size_t			 olen;
	char			*copy;		/* DUMP_COPY bytes */
	struct dump_page_region	*scan;		/* DUMP_SCAN_VEC of them */
	uint64_t		*pm;
	struct dump_map		*map;		/* nmap entries after the text */
	size_t			 nmap, map_cap;
	struct vmad_special	 special[VMAD_MAX_SPECIAL];
	unsigned		 nspecial;
	struct vmad_hash	 hash;
	ucontext_t		*uc;
	sigset_t		 mask;		/* the caller's, restored on resume */
	struct vmad_sigaction	 oldact;	/* the caller's action for sig */
	long			 page;
	char			 exe[PATH_MAX];
};

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

/*
 * dump_write: all of buf to the image.  A raw syscall, not write(): a
 * sanitizer's write() would check buf, which may be its own shadow.
 */
static int
dump_write(struct dump *d, const void *buf, size_t len)
{
	const char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		if ((n = syscall(SYS_write, d->fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				/* A non-blocking socket: wait for room. */
				struct pollfd pfd = { .fd = d->fd, .events = POLLOUT };

				if (poll(&pfd, 1, -1) == -1 && errno != EINTR)
					return -1;
				continue;
			}
			return -1;
		}
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		p += n;
		len -= n;
	}
	return 0;
}

static int
dump_flush(struct dump *d)
{
	if (d->olen == 0)
		return 0;
	vmad_hash_add(&d->hash, d->obuf, d->olen);
	if (dump_write(d, d->obuf, d->olen) == -1)
		return -1;
	d->olen = 0;
	return 0;
}

/* dump_put: one record, a fixed part and an optional tail, padded. */
static int
dump_put(struct dump *d, uint32_t type, const void *a, size_t alen,
    const void *b, size_t blen)
{
	struct vmad_rec	 rec;
	size_t		 len = alen + blen, total;

	if (len > VMAD_MAX_REC + VMAD_MAX_FPSTATE) {
		errno = E2BIG;
		return -1;
	}
	total = sizeof(rec) + VMAD_PAD(len);
	if (d->olen + total > DUMP_OBUF && dump_flush(d) == -1)
		return -1;
	rec.type = type;
	rec.len = len;
	memcpy(d->obuf + d->olen, &rec, sizeof(rec));
	memcpy(d->obuf + d->olen + sizeof(rec), a, alen);
	if (blen > 0)
		memcpy(d->obuf + d->olen + sizeof(rec) + alen, b, blen);
	memset(d->obuf + d->olen + sizeof(rec) + len, 0, VMAD_PAD(len) - len);
	d->olen += total;
	return 0;
}

static int
dump_readfile(const char *path, char *buf, size_t cap, size_t *lenp)
{
	size_t	 len = 0;
	ssize_t	 n;
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	while (len < cap && (n = read(fd, buf + len, cap - len)) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			close(fd);
			return -1;
		}
		len += n;
	}
	close(fd);
	*lenp = len;
	return 0;
}

/*
 * dump_classify: what travels for one file mapping.  A file that is gone
 * or replaced since it was mapped, or is not a regular file (shared anon
 * memory shows as /dev/zero, SysV segments and memfds as deleted files),
 * can only travel as pages; a regular file travels as a reference unless
 * the dump flags ask for its pages.
 */
static void
dump_classify(struct dump *d, struct dump_map *m, int shared, dev_t dev,
    ino_t ino)
{
	struct stat	 st;
	size_t		 plen = strlen(m->path);
	int		 dumpit;

	m->r.kind = VMAD_R_ANON;
	m->mode = DM_RESIDENT;
	if (plen > 10 && strcmp(m->path + plen - 10, " (deleted)") == 0)
		return;
	if (stat(m->path, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_dev != dev || st.st_ino != ino)
		return;
	if (strcmp(m->path, d->exe) == 0)
		dumpit = d->flags & BPROC_DUMP_EXEC;
	else if (vmad_liblist_has(m->path))
		dumpit = d->flags & BPROC_DUMP_LIBS;
	else
		dumpit = d->flags & BPROC_DUMP_OTHER;
	if (dumpit && !shared) {
		/* Pages past the end of the file would raise SIGBUS. */
		uint64_t eof = m->r.start + ((uint64_t)st.st_size - m->r.offset);

		if ((uint64_t)st.st_size <= m->r.offset)
			m->r.end = m->r.start;
		else if (eof < m->r.end)
			m->r.end = (eof + d->page - 1) & ~(uint64_t)(d->page - 1);
		m->mode = DM_ALL;
		return;
	}
	m->r.kind = shared ? VMAD_R_SHARED : VMAD_R_FILE;
	m->mode = DM_COW;
	m->r.dev = st.st_dev;
	m->r.ino = st.st_ino;
	m->r.size = st.st_size;
	m->r.mtime_sec = st.st_mtim.tv_sec;
	m->r.mtime_nsec = st.st_mtim.tv_nsec;
	m->r.path_len = plen;
}

static int
dump_addmap(struct dump *d, const struct dump_map *m)
{
	if (m->r.start >= m->r.end)
		return 0;
	if (d->nmap == d->map_cap || d->nmap == VMAD_MAX_REGIONS) {
		errno = ENOMEM;
		return -1;
	}
	d->map[d->nmap++] = *m;
	return 0;
}

/*
 * dump_maps: /proc/self/maps into d->map, the scratch mapping cut out of
 * whatever region it merged into, the kernel's own mappings set aside.
 */
static int
dump_maps(struct dump *d)
{
	char		*p, *end, *nl;
	size_t		 len;
	uint64_t	 s0 = (uintptr_t)d->scratch;
	uint64_t	 s1 = s0 + d->scratch_len;

	if (dump_readfile("/proc/self/maps", d->maps, d->maps_cap, &len) == -1)
		return -1;
	if (len == d->maps_cap) {
		errno = ENOBUFS;	/* the caller grows the scratch and retries */
		return -1;
	}
	d->maps[len] = '\0';
	d->nmap = d->nspecial = 0;
	for (p = d->maps, end = d->maps + len; p < end; p = nl + 1) {
		struct dump_map	 m, hi;
		unsigned long	 start, stop, off, ino;
		unsigned	 maj, min;
		char		 perms[5];
		int		 pos = 0;

		if ((nl = memchr(p, '\n', end - p)) == NULL)
			nl = end;
		*nl = '\0';
		if (sscanf(p, "%lx-%lx %4s %lx %x:%x %lu %n", &start, &stop,
		    perms, &off, &maj, &min, &ino, &pos) < 7) {
			errno = EINVAL;
			return -1;
		}
		memset(&m, 0, sizeof(m));
		m.path = p + pos;
		m.r.start = start;
		m.r.end = stop;
		m.r.offset = off;
		m.r.prot = (perms[0] == 'r' ? PROT_READ : 0) |
		    (perms[1] == 'w' ? PROT_WRITE : 0) |
		    (perms[2] == 'x' ? PROT_EXEC : 0);
		if (strcmp(m.path, "[vdso]") == 0 ||
		    strncmp(m.path, "[vvar", 5) == 0) {
			struct vmad_special *sp;

			if (d->nspecial == VMAD_MAX_SPECIAL) {
				errno = ENOTSUP;
				return -1;
			}
			sp = &d->special[d->nspecial++];
			memset(sp, 0, sizeof(*sp));
			sp->start = start;
			sp->end = stop;
			strncpy(sp->name, m.path, sizeof(sp->name) - 1);
			if (strcmp(m.path, "[vdso]") == 0) {
				struct vmad_hash vh;

				vmad_hash_init(&vh);
				vmad_hash_add(&vh, (void *)start, stop - start);
				sp->hash = vmad_hash_final(&vh);
			}
			continue;
		}
		if (stop > VMAD_USER_TOP)	/* [vsyscall] */
			continue;
		if (m.path[0] == '/') {
			dump_classify(d, &m, perms[3] == 's',
			    makedev(maj, min), ino);
		} else {
			m.r.kind = VMAD_R_ANON;
			m.mode = DM_ANON;
			if (strcmp(m.path, "[stack]") == 0)
				m.r.flags |= VMAD_RF_GROWSDOWN;
		}
		if (m.r.kind == VMAD_R_ANON) {
			m.r.offset = 0;
			m.r.path_len = 0;
		}
		/* Cut the scratch mapping out, keeping either side. */
		hi = m;
		if (m.r.start < s1 && m.r.end > s0) {
			if (m.r.end > s1) {
				hi.r.offset += s1 - m.r.start;
				hi.r.start = s1;
				if (dump_addmap(d, &hi) == -1)
					return -1;
			}
			m.r.end = m.r.start < s0 ? s0 : m.r.start;
		}
		if (dump_addmap(d, &m) == -1)
			return -1;
	}
	/* The high piece of a split went in first: keep the list sorted. */
	for (len = 1; len < d->nmap; len++) {
		if (d->map[len - 1].r.start > d->map[len].r.start) {
			struct dump_map t = d->map[len - 1];

			d->map[len - 1] = d->map[len];
			d->map[len] = t;
		}
	}
	return 0;
}

static int
dump_regs(struct dump *d)
{
	struct vmad_regs	 r;
	const unsigned char	*fp = (const unsigned char *)d->uc->uc_mcontext.fpregs;
	uint32_t		 magic1, extsize;
	unsigned long		 base;

	memset(&r, 0, sizeof(r));
	memcpy(r.sc, &d->uc->uc_mcontext, sizeof(r.sc));
	_Static_assert(sizeof(mcontext_t) == VMAD_SC_WORDS * 8,
	    "mcontext_t is not the kernel's sigcontext");
	r.sc[VMAD_SC_RAX] = BPROC_DUMP_RESUMED;
	r.sc[VMAD_SC_FPSTATE] = 0;
	r.uc_flags = d->uc->uc_flags;
	memcpy(&r.sigmask, &d->mask, sizeof(r.sigmask));
	r.ss_sp = (uintptr_t)d->uc->uc_stack.ss_sp;
	r.ss_size = d->uc->uc_stack.ss_size;
	r.ss_flags = d->uc->uc_stack.ss_flags;
	/* The software bytes at 464 say how much xsave area the frame has. */
	r.fpstate_len = 512;
	if (fp != NULL) {
		memcpy(&magic1, fp + 464, 4);
		memcpy(&extsize, fp + 468, 4);
		if (magic1 == 0x46505853u) {	/* FP_XSTATE_MAGIC1 */
			if (extsize < 512 || extsize > VMAD_MAX_FPSTATE) {
				errno = ENOTSUP;
				return -1;
			}
			r.fpstate_len = extsize;
		}
	} else
		r.fpstate_len = 0;
	if (syscall(SYS_arch_prctl, ARCH_GET_FS, &base) == -1)
		return -1;
	r.fs_base = base;
	if (syscall(SYS_arch_prctl, ARCH_GET_GS, &base) == 0)
		r.gs_base = base;
	return dump_put(d, VMAD_REC_REGS, &r, sizeof(r), fp, r.fpstate_len);
}

static int
dump_task(struct dump *d)
{
	struct vmad_task	 t;
	unsigned long		 tidaddr = 0, fs_base = 0;
	void			*head = NULL;
	size_t			 hlen = 0;
	mode_t			 um;

	memset(&t, 0, sizeof(t));
	if (prctl(PR_GET_TID_ADDRESS, &tidaddr) == 0)
		t.tid_addr = tidaddr;
	if (syscall(SYS_get_robust_list, 0, &head, &hlen) == 0) {
		t.robust_head = (uintptr_t)head;
		t.robust_len = hlen;
	}
	if (&__rseq_size != NULL && &__rseq_offset != NULL && __rseq_size > 0 &&
	    syscall(SYS_arch_prctl, ARCH_GET_FS, &fs_base) == 0) {
		t.rseq_addr = fs_base + __rseq_offset;
		t.rseq_len = __rseq_size <= RSEQ_AREA_LEN ? RSEQ_AREA_LEN :
		    (__rseq_size + RSEQ_AREA_LEN - 1) & ~(RSEQ_AREA_LEN - 1);
		t.rseq_sig = RSEQ_SIG_X86;
	}
	t.resume_addr = (uintptr_t)&dump_resume;
	um = umask(022);
	umask(um);
	t.umask = um;
	t.old_tid = gettid();
	return dump_put(d, VMAD_REC_TASK, &t, sizeof(t), NULL, 0);
}

static int
dump_sigact(struct dump *d)
{
	struct vmad_sigaction	 act[VMAD_NSIG];
	int			 sig;

	memset(act, 0, sizeof(act));
	for (sig = 1; sig <= VMAD_NSIG; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		if (sig == d->sig)
			act[sig - 1] = d->oldact;
		else if (syscall(SYS_rt_sigaction, sig, NULL, &act[sig - 1], 8) == -1)
			return -1;
	}
	return dump_put(d, VMAD_REC_SIGACT, act, sizeof(act), NULL, 0);
}

/* dump_mm: the mm bounds from /proc/self/stat, fields 26-28 and 45-51. */
static int
dump_mm(struct dump *d)
{
	struct vmad_mm	 mm;
	uint64_t	 f[52], auxv[2 * VMAD_MAX_AUXV];
	char		 buf[2048], *p;
	size_t		 len;
	int		 i;

	if (dump_readfile("/proc/self/stat", buf, sizeof(buf) - 1, &len) == -1)
		return -1;
	buf[len] = '\0';
	if ((p = strrchr(buf, ')')) == NULL) {
		errno = EINVAL;
		return -1;
	}
	/* Field 3 (the state) follows ") "; count from there. */
	p += 2;
	memset(f, 0, sizeof(f));
	for (i = 3; i <= 51 && *p != '\0'; i++) {
		if (i > 3)
			f[i] = strtoull(p, &p, 10);
		else
			p++;
		while (*p == ' ')
			p++;
	}
	memset(&mm, 0, sizeof(mm));
	mm.start_code = f[26];
	mm.end_code = f[27];
	mm.start_stack = f[28];
	mm.start_data = f[45];
	mm.end_data = f[46];
	mm.start_brk = f[47];
	mm.arg_start = f[48];
	mm.arg_end = f[49];
	mm.env_start = f[50];
	mm.env_end = f[51];
	mm.brk = syscall(SYS_brk, 0);
	if (dump_readfile("/proc/self/auxv", (char *)auxv, sizeof(auxv),
	    &len) == -1)
		len = 0;
	mm.auxv_words = len / 8;
	return dump_put(d, VMAD_REC_MM, &mm, sizeof(mm), auxv, len & ~7u);
}

static int VMAD_NO_ASAN
dump_zero(const void *page, long len)
{
	const uint64_t	*w = page;
	long		 i;

	for (i = 0; i < len / 8; i++)
		if (w[i] != 0)
			return 0;
	return 1;
}

/*
 * dump_copy: len bytes of our own memory into the bounce buffer.  Under
 * a sanitizer through process_vm_readv on ourselves, since its memcpy
 * would check the source's shadow.
 */
static int
dump_copy(void *dst, const void *src, size_t len)
{
#if defined(__SANITIZE_ADDRESS__)
	struct iovec	 l = { dst, len }, r = { (void *)(uintptr_t)src, len };

	if (process_vm_readv(getpid(), &l, 1, &r, 1, 0) != (ssize_t)len) {
		if (errno == 0)
			errno = EIO;
		return -1;
	}
#else
	memcpy(dst, src, len);
#endif
	return 0;
}

/* dump_run: one PAGES record straight from the process's memory. */
static int
dump_run(struct dump *d, uint32_t idx, uint64_t first, uint64_t n)
{
	const struct dump_map	*m = &d->map[idx];
	struct vmad_pages	 pg;
	const void		*mem;
	size_t			 len, chunk;

	if (n == 0)
		return 0;
	pg.region = idx;
	pg.npages = n;
	pg.pgoff = first;
	if (dump_put(d, VMAD_REC_PAGES, &pg, sizeof(pg), NULL, 0) == -1 ||
	    dump_flush(d) == -1)
		return -1;
	mem = (const void *)(uintptr_t)(m->r.start + first * d->page);
	if (!m->bounce) {
		vmad_hash_add(&d->hash, mem, n * d->page);
		return dump_write(d, mem, n * d->page);
	}
	/* What is hashed must be what is written: copy it first. */
	for (len = n * d->page; len > 0; len -= chunk) {
		chunk = len < DUMP_COPY ? len : DUMP_COPY;
		if (dump_copy(d->copy, mem, chunk) == -1)
			return -1;
		vmad_hash_add(&d->hash, d->copy, chunk);
		if (dump_write(d, d->copy, chunk) == -1)
			return -1;
		mem = (const char *)mem + chunk;
	}
	return 0;
}

/* A run of wanted pages being gathered: region, first page, length. */
struct dump_runstate {
	uint32_t	idx;
	uint64_t	run0, runlen;
};

/*
 * dump_span: pages [first, first + count) of one region through the
 * pagemap, each wanted page added to the run in rs.  The pagemap says
 * which pages are there without touching the others: in anonymous
 * memory a page that is present or swapped out; in a private file
 * mapping one whose present page is not the page cache's (a
 * copy-on-write copy); for shared memory travelling as private, what is
 * resident (mincore, so that it is not read page by page into
 * existence); for a file travelling whole, every page.
 */
static int
dump_span(struct dump *d, int pmfd, struct dump_runstate *rs, uint64_t first,
    uint64_t count)
{
	const struct dump_map	*m = &d->map[rs->idx];
	uint64_t		 i, j, n, pg;
	unsigned char		*inc = (unsigned char *)(d->pm + DUMP_PM_WORDS);
	int			 want;

	for (i = 0; i < count; i += n) {
		uint64_t addr = m->r.start + (first + i) * d->page;

		n = count - i < DUMP_PM_WORDS ? count - i : DUMP_PM_WORDS;
		if (pread(pmfd, d->pm, n * 8, (addr / d->page) * 8) !=
		    (ssize_t)(n * 8)) {
			if (errno == 0)
				errno = EIO;
			return -1;
		}
		if (m->mode == DM_RESIDENT &&
		    mincore((void *)(uintptr_t)addr, n * d->page, inc) == -1)
			return -1;
		for (j = 0; j < n; j++) {
			uint64_t e = d->pm[j];

			pg = first + i + j;
			if (m->mode == DM_ALL)
				want = 1;
			else if (m->mode == DM_RESIDENT)
				want = (inc[j] & 1) || (e & (PM_PRESENT | PM_SWAPPED));
			else if (m->mode == DM_ANON)
				want = (e & (PM_PRESENT | PM_SWAPPED)) != 0;
			else
				want = (e & PM_SWAPPED) ||
				    ((e & PM_PRESENT) && !(e & PM_FILE));
			if (want && m->mode == DM_ANON && (e & PM_PRESENT) &&
			    dump_zero((void *)(uintptr_t)(addr + j * d->page),
			    d->page))
				want = 0;
			if (want && rs->runlen > 0 && rs->run0 + rs->runlen == pg &&
			    rs->runlen < VMAD_MAX_RUN) {
				rs->runlen++;
				continue;
			}
			if (dump_run(d, rs->idx, rs->run0, rs->runlen) == -1)
				return -1;
			rs->run0 = pg;
			rs->runlen = want ? 1 : 0;
		}
	}
	return 0;
}

/*
 * dump_scan: the stretches of [start, end) that hold any present or
 * swapped page, through PAGEMAP_SCAN (Linux 6.7), so that a sparse
 * region (a large reservation, a sanitizer's shadow) costs its pages and
 * not its size.  Returns the count in d->scan, or -1 where the kernel
 * has no such ioctl.
 */
static int
dump_scan(struct dump *d, int pmfd, uint64_t start, uint64_t end,
    uint64_t *walk_end)
{
	struct dump_pm_scan_arg	 a;
	int			 n;

	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.start = start;
	a.end = end;
	a.vec = (uintptr_t)d->scan;
	a.vec_len = DUMP_SCAN_VEC;
	a.category_anyof_mask = DUMP_PAGE_IS_PRESENT | DUMP_PAGE_IS_SWAPPED;
	a.return_mask = DUMP_PAGE_IS_PRESENT | DUMP_PAGE_IS_SWAPPED;
	if ((n = ioctl(pmfd, DUMP_PAGEMAP_SCAN, &a)) < 0)
		return -1;
	*walk_end = a.walk_end;
	return n;
}

/* dump_pages: the pages of one region that must travel. */
static int
dump_pages(struct dump *d, int pmfd, uint32_t idx)
{
	const struct dump_map	*m = &d->map[idx];
	struct dump_runstate	 rs = { idx, 0, 0 };
	uint64_t		 npages = (m->r.end - m->r.start) / d->page;
	uint64_t		 cur = m->r.start, walk;
	int			 n, k;

	if (!(m->r.prot & PROT_READ) || m->r.kind == VMAD_R_SHARED)
		return 0;
	if (m->mode == DM_ANON || m->mode == DM_COW) {
		while (cur < m->r.end && (n = dump_scan(d, pmfd, cur, m->r.end,
		    &walk)) >= 0) {
			for (k = 0; k < n; k++)
				if (dump_span(d, pmfd, &rs,
				    (d->scan[k].start - m->r.start) / d->page,
				    (d->scan[k].end - d->scan[k].start) / d->page) == -1)
					return -1;
			if (walk <= cur)
				break;
			cur = walk;
		}
		if (cur >= m->r.end)
			return dump_run(d, idx, rs.run0, rs.runlen);
		/* No PAGEMAP_SCAN here: the rest, page by page. */
	}
	if (dump_span(d, pmfd, &rs, (cur - m->r.start) / d->page,
	    npages - (cur - m->r.start) / d->page) == -1)
		return -1;
	return dump_run(d, idx, rs.run0, rs.runlen);
}

/* dump_image: the whole image, in the order vmadump.h gives. */
static int
dump_image(struct dump *d)
{
	struct vmad_header	 h;
	struct vmad_end		 e;
	char			 cwd[PATH_MAX];
	size_t			 i;
	int			 pmfd;
	unsigned long		 fs;

	if (dump_maps(d) == -1)
		return -1;
	/*
	 * Memory that changes while the dump runs goes through the bounce
	 * buffer: our own stack (these frames), the TLS block (errno, and
	 * the rseq fields the kernel updates), and shared memory that other
	 * processes may write.
	 */
	if (syscall(SYS_arch_prctl, ARCH_GET_FS, &fs) == -1)
		fs = 0;
	for (i = 0; i < d->nmap; i++) {
		struct dump_map *m = &d->map[i];

		m->bounce = m->mode == DM_RESIDENT ||
		    (m->r.start <= (uintptr_t)&h && (uintptr_t)&h < m->r.end) ||
		    (m->r.start <= fs && fs < m->r.end);
#if defined(__SANITIZE_ADDRESS__)
		/* The sanitizer's shadow changes with every call we make. */
		m->bounce = 1;
#endif
	}
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
	if (dump_write(d, &h, sizeof(h)) == -1)
		return -1;
	vmad_hash_init(&d->hash);
	if (dump_regs(d) == -1 || dump_task(d) == -1 || dump_sigact(d) == -1 || dump_mm(d) == -1)
		return -1;
	if (syscall(SYS_getcwd, cwd, sizeof(cwd)) == -1 || cwd[0] != '/')
		strcpy(cwd, "/");
	if (dump_put(d, VMAD_REC_CWD, cwd, strlen(cwd), NULL, 0) == -1)
		return -1;
	for (i = 0; i < d->nspecial; i++)
		if (dump_put(d, VMAD_REC_SPECIAL, &d->special[i],
		    sizeof(d->special[i]), NULL, 0) == -1)
			return -1;
	for (i = 0; i < d->nmap; i++)
		if (dump_put(d, VMAD_REC_REGION, &d->map[i].r,
		    sizeof(d->map[i].r), d->map[i].path,
		    d->map[i].r.path_len) == -1)
			return -1;
	if ((pmfd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	for (i = 0; i < d->nmap; i++) {
		if (dump_pages(d, pmfd, i) == -1) {
			close(pmfd);
			return -1;
		}
	}
	close(pmfd);
	if (dump_flush(d) == -1)
		return -1;
	e.bytes = d->hash.bytes;
	e.hash = vmad_hash_final(&d->hash);
	if (dump_put(d, VMAD_REC_END, &e, sizeof(e), NULL, 0) == -1)
		return -1;
	/* END is not part of what it hashes: write it without adding it. */
	if (dump_write(d, d->obuf, d->olen) == -1)
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

int
bproc_dump(int fd, int flags)
{
	struct dump		 d;
	struct stat		 st;
	struct sigaction	 sa;
	sigset_t		 one;
	long			 ret;
	int			 n, err;

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
	if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) &&
	    fcntl(fd, F_GETPIPE_SZ) < DUMP_PIPE_SZ)
		(void)fcntl(fd, F_SETPIPE_SZ, DUMP_PIPE_SZ);
	memset(&d, 0, sizeof(d));
	d.fd = fd;
	d.flags = flags;
	d.page = sysconf(_SC_PAGESIZE);
	if ((n = readlink("/proc/self/exe", d.exe, sizeof(d.exe) - 1)) > 0)
		d.exe[n] = '\0';
	if ((d.sig = dump_pick_signal(&d.oldact)) == -1) {
		errno = EBUSY;
		return -1;
	}
	d.maps_cap = DUMP_MAPS_MIN;
	for (;;) {
		/* maps text, the region table (one per 40 bytes of text at most), buffers */
		d.map_cap = d.maps_cap / 40 + 16;
		d.scratch_len = d.maps_cap + d.map_cap * sizeof(struct dump_map) +
		    DUMP_PM_WORDS * 9 + DUMP_OBUF + DUMP_COPY +
		    DUMP_SCAN_VEC * sizeof(struct dump_page_region) + 64;
		d.scratch_len = (d.scratch_len + d.page - 1) & ~(size_t)(d.page - 1);
		d.scratch = mmap(NULL, d.scratch_len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (d.scratch == MAP_FAILED)
			return -1;
		d.maps = d.scratch;
		d.map = (struct dump_map *)(d.scratch + d.maps_cap + 1 + 7 -
		    ((d.maps_cap + 1 + 7) % 8));
		d.pm = (uint64_t *)(d.map + d.map_cap);
		d.obuf = (char *)d.pm + DUMP_PM_WORDS * 9;
		d.obuf += (8 - (uintptr_t)d.obuf % 8) % 8;
		d.copy = d.obuf + DUMP_OBUF;
		d.scan = (struct dump_page_region *)(d.copy + DUMP_COPY);

		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = dump_handler;
		sa.sa_flags = SA_SIGINFO;
		sigfillset(&sa.sa_mask);
		sigprocmask(SIG_SETMASK, NULL, &d.mask);
		if (sigaction(d.sig, &sa, NULL) == -1) {
			munmap(d.scratch, d.scratch_len);
			return -1;
		}
		sigemptyset(&one);
		sigaddset(&one, d.sig);
		sigprocmask(SIG_UNBLOCK, &one, NULL);
		d.done = 0;
		dump_cur = &d;
		ret = dump_trap(d.sig);
		if (ret == BPROC_DUMP_RESUMED) {
			/*
			 * The restored image: the restorer set our actions and
			 * mask and left its own pages behind; the scratch was
			 * never part of the image.
			 */
			if (dump_resume.magic == VMAD_RESUME_MAGIC)
				munmap((void *)(uintptr_t)dump_resume.unmap_start,
				    dump_resume.unmap_len);
			memset(&dump_resume, 0, sizeof(dump_resume));
#if defined(__SANITIZE_ADDRESS__)
			/*
			 * The handler's frames never returned here: clear the
			 * sanitizer's marks they left on the stack below us.
			 */
			__asan_unpoison_memory_region((char *)&sa - DUMP_ASAN_STACK,
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
