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
 * image is refused while nothing is lost yet.  Only then does rst_map.c
 * replace the address space.
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

#include "bprestore.h"

struct rst rst;
/* The stack the restorer moves to; in bss, so inside the window. */
static unsigned char rst_stack[RST_STACK_LEN] __attribute__((aligned(64)));
int	rst_destroying;		/* set once the old address space is going */

void
rst_say(const char *fmt, ...)
{
	char	 buf[512];
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	(void)write(2, "bprestore: ", 11);
	(void)write(2, buf, n);
}

static int	rst_accept_fd = -1;	/* -a: told "A" once the image is accepted */
static char	**rst_fallback;		/* -- CMD...: run instead when refused */
static char	**rst_envp;

void
rst_fail(const char *fmt, ...)
{
	char	 buf[512];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	rst_say("%s%s", buf, rst_destroying ? " (after the address space was given up)" :
	    " (image refused, nothing changed)");
	/* a ghost coming home that cannot be its process stays the ghost */
	if (!rst_destroying && rst_fallback != NULL) {
		close(rst.fd);
		if (rst_accept_fd >= 0)
			close(rst_accept_fd);
		execve(rst_fallback[0], rst_fallback, rst_envp);
		rst_say("%s: %s", rst_fallback[0], strerror(errno));
	}
	_exit(rst_destroying ? 3 : 1);
}

static void
rst_usage(void)
{
	rst_say("usage: bprestore [-v] [-a fd] [-C 0-3] [-N fd] [-R | -u uid -g gid [-G gid,...]] [-f fd] [-- fallback...]");
	_exit(2);
}

static void
rst_read(void *buf, uint64_t len)
{
	unsigned char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		n = read(rst.fd, p, len > (1u << 30) ? (1u << 30) : len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN) {
			/* A non-blocking socket from the process host: wait. */
			struct pollfd pfd = { .fd = rst.fd, .events = POLLIN };

			(void)poll(&pfd, 1, -1);
			continue;
		}
		if (n == -1)
			rst_fail("reading the image: %s", strerror(errno));
		if (n == 0)
			rst_fail("the image is truncated");
		p += n;
		len -= n;
	}
}

/*
 * rst_payload: a record's payload and its padding into buf, which has
 * room for both; the padding must be zero, as the dumper wrote it.
 */
static void
rst_payload(void *buf, uint32_t len)
{
	unsigned char	*p = buf;
	uint32_t	 i;

	rst_read(buf, VMAD_PAD(len));
	for (i = len; i < VMAD_PAD(len); i++)
		if (p[i] != 0)
			rst_fail("nonzero record padding");
}

static void *
rst_arena(uint64_t *cursor, uint64_t len)
{
	void	*p = (void *)(uintptr_t)*cursor;

	*cursor += (len + 63) & ~63ull;
	if (*cursor > RST_ARENA + RST_ARENA_LEN)
		rst_fail("image too large for the restorer's arena");
	return p;
}

static int
rst_overlap(uint64_t a0, uint64_t a1, uint64_t b0, uint64_t b1)
{
	return a0 < b1 && b0 < a1;
}

static void
rst_check_region(const struct vmad_region *r, uint32_t idx)
{
	uint64_t	 pm = rst.page - 1;

	if (r->start >= r->end || (r->start & pm) || (r->end & pm) ||
	    r->end > VMAD_USER_TOP || r->start < (uint64_t)rst.page)
		rst_fail("region %u: bad bounds %#llx-%#llx", idx,
		    (unsigned long long)r->start, (unsigned long long)r->end);
	if (r->prot & ~(uint32_t)(PROT_READ | PROT_WRITE | PROT_EXEC))
		rst_fail("region %u: bad protection %#x", idx, r->prot);
	if (r->kind != VMAD_R_ANON && r->kind != VMAD_R_FILE &&
	    r->kind != VMAD_R_SHARED)
		rst_fail("region %u: unknown kind %u", idx, r->kind);
	if (r->flags & ~VMAD_RF_GROWSDOWN)
		rst_fail("region %u: unknown flags %#x", idx, r->flags);
	if ((r->kind == VMAD_R_ANON) != (r->path_len == 0))
		rst_fail("region %u: a path where none belongs or none where one does", idx);
	if (r->path_len >= sizeof(rst.cwd))
		rst_fail("region %u: path too long", idx);
	if (r->kind != VMAD_R_ANON && (r->offset & pm))
		rst_fail("region %u: unaligned file offset", idx);
	if (idx > 0 && r->start < rst.reg[idx - 1].r.end)
		rst_fail("region %u: overlaps or is out of order", idx);
	if (rst_overlap(r->start, r->end, RST_BASE, RST_BASE + RST_WINDOW))
		rst_fail("region %u: inside the restorer's window %#llx-%#llx", idx,
		    RST_BASE, RST_BASE + RST_WINDOW);
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
 * rst_stage: a fresh mapping of len bytes for a region's pages, above
 * RST_STAGE_BASE where neither the image nor the restorer has anything.
 * The image's regions are sorted, so one forward pass finds the gaps.
 */
uint64_t
rst_stage_range(uint64_t len)
{
	uint64_t	 guard = rst.page, a;
	unsigned	 i;
	void		*p;

	if (rst.nstages == RST_MAX_STAGES)
		rst_fail("too many staged regions");
	for (;;) {
		a = rst.stage_cur;
		while (rst.stage_idx < rst.nreg &&
		    rst.reg[rst.stage_idx].r.end <= a)
			rst.stage_idx++;
		if (rst.stage_idx < rst.nreg &&
		    rst.reg[rst.stage_idx].r.start < a + len + guard) {
			rst.stage_cur = rst.reg[rst.stage_idx].r.end + guard;
			continue;
		}
		/* Nor the restorer's window, nor where vDSO and vvar will go. */
		if (rst_overlap(a, a + len + guard, RST_BASE, RST_BASE + RST_WINDOW)) {
			rst.stage_cur = RST_BASE + RST_WINDOW + guard;
			continue;
		}
		for (i = 0; i < rst.nspecial; i++)
			if (rst_overlap(a, a + len + guard, rst.special[i].start,
			    rst.special[i].end))
				break;
		if (i < rst.nspecial) {
			rst.stage_cur = rst.special[i].end + guard;
			continue;
		}
		if (a + len + guard > VMAD_USER_TOP)
			rst_fail("no room to stage %llu bytes", (unsigned long long)len);
		p = mmap((void *)(uintptr_t)a, len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
		/*
		 * A large sparse region (a reservation with a few pages in
		 * it) is more than overcommit grants at once: stage it
		 * unaccounted, as such regions usually were.
		 */
		if (p == MAP_FAILED && errno == ENOMEM)
			p = mmap((void *)(uintptr_t)a, len, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE |
			    MAP_NORESERVE, -1, 0);
		if (p == MAP_FAILED && errno == EEXIST) {
			/* Something of ours (the kernel's stack, the vdso): step over. */
			rst.stage_cur += 1ull << 30;
			continue;
		}
		if (p == MAP_FAILED)
			rst_fail("staging %llu bytes: %s", (unsigned long long)len,
			    strerror(errno));
		rst.stage_cur = a + len + guard;
		rst.stages[rst.nstages].start = a;
		rst.stages[rst.nstages].end = a + len;
		rst.nstages++;
		return a;
	}
}

static void
rst_rec(struct vmad_rec *rec)
{
	rst_read(rec, sizeof(*rec));
	if (rec->type != VMAD_REC_END)
		vmad_hash_add(&rst.hash, rec, sizeof(*rec));
}

/* rst_hashed_payload: a payload into buf, then into the hash. */
static void
rst_hashed_payload(void *buf, uint32_t len)
{
	rst_payload(buf, len);
	vmad_hash_add(&rst.hash, buf, VMAD_PAD(len));
}

static void
rst_read_meta(uint64_t *cursor)
{
	struct vmad_rec	 rec;
	unsigned char	*buf = rst_arena(cursor, VMAD_MAX_REC + VMAD_MAX_FPSTATE + sizeof(rst.regs));
	unsigned	 seen = 0;
	uint32_t	 len;

	/* Up to the first REGION: fixed order, unknown types skipped. */
	for (;;) {
		rst_rec(&rec);
		len = rec.len;
		if (rec.type == VMAD_REC_REGION || rec.type == VMAD_REC_PAGES ||
		    rec.type == VMAD_REC_END)
			break;
		if (len > (rec.type == VMAD_REC_REGS ?
		    sizeof(rst.regs) + VMAD_MAX_FPSTATE : VMAD_MAX_REC))
			rst_fail("record type %u: length %u too large", rec.type, len);
		rst_hashed_payload(buf, len);
		switch (rec.type) {
		case VMAD_REC_REGS:
			if (len < sizeof(rst.regs))
				rst_fail("REGS too short");
			memcpy(&rst.regs, buf, sizeof(rst.regs));
			if (rst.regs.fpstate_len != len - sizeof(rst.regs))
				rst_fail("REGS: fpstate length %u does not fit the record",
				    rst.regs.fpstate_len);
			rst.fpstate = rst_arena(cursor, rst.regs.fpstate_len);
			memcpy(rst.fpstate, buf + sizeof(rst.regs), rst.regs.fpstate_len);
			break;
		case VMAD_REC_TASK:
			if (len != sizeof(rst.task))
				rst_fail("TASK has the wrong length");
			memcpy(&rst.task, buf, len);
			break;
		case VMAD_REC_SIGACT:
			if (len != sizeof(rst.act))
				rst_fail("SIGACT has the wrong length");
			memcpy(rst.act, buf, len);
			break;
		case VMAD_REC_MM:
			if (len < sizeof(rst.mm))
				rst_fail("MM too short");
			memcpy(&rst.mm, buf, sizeof(rst.mm));
			if (rst.mm.auxv_words > 2 * VMAD_MAX_AUXV ||
			    len != sizeof(rst.mm) + rst.mm.auxv_words * 8)
				rst_fail("MM: bad auxv length");
			memcpy(rst.auxv, buf + sizeof(rst.mm), rst.mm.auxv_words * 8);
			break;
		case VMAD_REC_CWD:
			if (len == 0 || len >= sizeof(rst.cwd) || memchr(buf, 0, len))
				rst_fail("CWD: bad path");
			memcpy(rst.cwd, buf, len);
			rst.cwd[len] = '\0';
			break;
		case VMAD_REC_SPECIAL:
			if (len != sizeof(struct vmad_special) ||
			    rst.nspecial == VMAD_MAX_SPECIAL)
				rst_fail("SPECIAL: bad record");
			memcpy(&rst.special[rst.nspecial], buf, len);
			rst.special[rst.nspecial].name[15] = '\0';
			rst.nspecial++;
			break;
		default:
			continue;	/* a newer dumper's record: skipped */
		}
		if (rec.type < VMAD_REC_SPECIAL) {
			if (seen & (1u << rec.type) || (seen >> rec.type) != 0)
				rst_fail("record type %u out of order", rec.type);
			seen |= 1u << rec.type;
		}
	}
	if (seen != ((1u << VMAD_REC_REGS) | (1u << VMAD_REC_TASK) |
	    (1u << VMAD_REC_SIGACT) | (1u << VMAD_REC_MM) | (1u << VMAD_REC_CWD)))
		rst_fail("the image lacks a register, task, signal, mm or cwd record");

	/* Then exactly nregions REGION records. */
	rst.reg = rst_arena(cursor, (uint64_t)rst.hdr.nregions * sizeof(*rst.reg));
	for (rst.nreg = 0; rst.nreg < rst.hdr.nregions; rst.nreg++) {
		struct rst_region *g = &rst.reg[rst.nreg];

		if (rst.nreg > 0)
			rst_rec(&rec);
		if (rec.type != VMAD_REC_REGION)
			rst_fail("expected %u regions, found %u", rst.hdr.nregions,
			    rst.nreg);
		if (rec.len < sizeof(g->r) || rec.len > sizeof(g->r) + 4095)
			rst_fail("region %u: bad record length", rst.nreg);
		rst_hashed_payload(buf, rec.len);
		memset(g, 0, sizeof(*g));
		memcpy(&g->r, buf, sizeof(g->r));
		g->fd = -1;
		if (g->r.path_len != rec.len - sizeof(g->r))
			rst_fail("region %u: path length does not fit", rst.nreg);
		rst_check_region(&g->r, rst.nreg);
		if (g->r.path_len > 0) {
			char *p = rst_arena(cursor, g->r.path_len + 1);

			memcpy(p, buf + sizeof(g->r), g->r.path_len);
			p[g->r.path_len] = '\0';
			if (strlen(p) != g->r.path_len || p[0] != '/')
				rst_fail("region %u: bad path", rst.nreg);
			g->path = p;
		}
	}
}

/* rst_find: the region holding [a, a + len), or NULL. */
static struct rst_region *
rst_find(uint64_t a, uint64_t len)
{
	uint32_t	 lo = 0, hi = rst.nreg;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (rst.reg[mid].r.end <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < rst.nreg && rst.reg[lo].r.start <= a &&
	    a + len <= rst.reg[lo].r.end)
		return &rst.reg[lo];
	return NULL;
}

/* rst_check_context: the saved context must land in the image. */
static void
rst_check_context(void)
{
	struct rst_region	*g;
	uint64_t		 rsp = rst.regs.sc[VMAD_SC_RSP];
	uint64_t		 rip = rst.regs.sc[VMAD_SC_RIP];
	uint64_t		 need = 128 + rst.regs.fpstate_len + 1024;

	if ((g = rst_find(rip, 1)) == NULL || !(g->r.prot & PROT_EXEC))
		rst_fail("the saved rip %#llx is not in executable memory",
		    (unsigned long long)rip);
	if ((g = rst_find(rsp - 1, 1)) == NULL || !(g->r.prot & PROT_WRITE) ||
	    (rsp - need < g->r.start && !(g->r.flags & VMAD_RF_GROWSDOWN)))
		rst_fail("the saved rsp %#llx is not in a usable stack",
		    (unsigned long long)rsp);
	if (rst.regs.fs_base >= VMAD_USER_TOP)
		rst_fail("the saved fs base is not a user address");
	if (rst.task.resume_addr != 0 && ((g = rst_find(rst.task.resume_addr,
	    sizeof(struct vmad_resume))) == NULL || !(g->r.prot & PROT_WRITE)))
		rst_fail("the resume record is not in writable memory");
	if (rst.task.tid_addr != 0 && ((g = rst_find(rst.task.tid_addr, 4)) == NULL ||
	    !(g->r.prot & PROT_WRITE)))
		rst.task.tid_addr = 0;
	if (rst.regs.fpstate_len != 0 && rst.regs.fpstate_len < 512)
		rst_fail("the saved FPU state is too short");
}

/*
 * rst_read_pages: the PAGES records into staging and END.  Anonymous
 * regions are staged whole, so they can later be moved into place with
 * one mremap; a file region's copies are staged the same way and their
 * runs remembered, to be copied over the file's pages.
 */
static void
rst_read_pages(struct vmad_rec *rec, uint64_t *cursor)
{
	struct vmad_pages	 pg;
	struct vmad_end		 end;
	int64_t			 last = -1;
	uint64_t		 lastend = 0, nbytes, pages = 0;

	rst.runs_cap = (RST_ARENA + RST_ARENA_LEN - *cursor) / sizeof(struct rst_run) / 2;
	rst.runs = rst_arena(cursor, rst.runs_cap * sizeof(struct rst_run));
	for (;;) {
		rst_rec(rec);
		if (rec->type == VMAD_REC_END)
			break;
		if (rec->type != VMAD_REC_PAGES || rec->len != sizeof(pg))
			rst_fail("expected a PAGES or END record, found type %u",
			    rec->type);
		rst_hashed_payload(&pg, sizeof(pg));
		if (pg.region >= rst.nreg || pg.npages == 0 ||
		    pg.npages > VMAD_MAX_RUN)
			rst_fail("PAGES: bad region %u or count %u", pg.region,
			    pg.npages);
		struct rst_region *g = &rst.reg[pg.region];
		uint64_t npg = (g->r.end - g->r.start) / rst.page;

		if ((int64_t)pg.region < last || (pg.region == last &&
		    pg.pgoff < lastend) || pg.pgoff > npg ||
		    pg.npages > npg - pg.pgoff)
			rst_fail("PAGES: region %u pages %llu+%u out of order or range",
			    pg.region, (unsigned long long)pg.pgoff, pg.npages);
		if (g->r.kind == VMAD_R_SHARED)
			rst_fail("PAGES for a shared file mapping");
		last = pg.region;
		lastend = pg.pgoff + pg.npages;
		if (g->stage == 0)
			g->stage = rst_stage_range(g->r.end - g->r.start);
		if (g->r.kind == VMAD_R_FILE) {
			if (rst.nruns == rst.runs_cap)
				rst_fail("too many page runs");
			if (g->nruns == 0)
				g->run0 = rst.nruns;
			rst.runs[rst.nruns].pgoff = pg.pgoff;
			rst.runs[rst.nruns].npages = pg.npages;
			rst.nruns++;
			g->nruns++;
		}
		nbytes = (uint64_t)pg.npages * rst.page;
		void *dst = (void *)(uintptr_t)(g->stage + pg.pgoff * rst.page);
		/* One fault for the run rather than one per page read into. */
		(void)madvise(dst, nbytes, RST_MADV_POPULATE_WRITE);
		rst_read(dst, nbytes);
		vmad_hash_add(&rst.hash, dst, nbytes);
		pages += pg.npages;
	}
	if (rec->len != sizeof(end))
		rst_fail("END has the wrong length");
	rst_payload(&end, sizeof(end));
	if (end.bytes != rst.hash.bytes || end.hash != vmad_hash_final(&rst.hash))
		rst_fail("the image is corrupt (%llu bytes, hash %#llx; END says %llu, %#llx)",
		    (unsigned long long)rst.hash.bytes,
		    (unsigned long long)vmad_hash_final(&rst.hash),
		    (unsigned long long)end.bytes, (unsigned long long)end.hash);
	if (rst.verbose)
		rst_say("image: %u regions, %llu pages staged, %llu bytes", rst.nreg,
		    (unsigned long long)pages, (unsigned long long)end.bytes);
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
	struct vmad_rec	 rec;
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

	rst_read(&rst.hdr, sizeof(rst.hdr));
	if (rst.hdr.magic != VMAD_MAGIC)
		rst_fail("not a process image (bad magic %#x)", rst.hdr.magic);
	if (rst.hdr.version != VMAD_VERSION || rst.hdr.hdr_len != sizeof(rst.hdr))
		rst_fail("image version %u, this restorer reads %u", rst.hdr.version,
		    VMAD_VERSION);
	if (rst.hdr.arch != VMAD_ARCH_X86_64)
		rst_fail("image for machine %u, not x86-64", rst.hdr.arch);
	if (rst.hdr.page_size != (uint32_t)rst.page)
		rst_fail("image page size %u, ours %ld", rst.hdr.page_size, rst.page);
	if (rst.hdr.nregions == 0 || rst.hdr.nregions > VMAD_MAX_REGIONS)
		rst_fail("image has %u regions", rst.hdr.nregions);
	vmad_hash_init(&rst.hash);

	rst_read_meta(&cursor);
	rst_check_context();
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
	rst_read_pages(&rec, &cursor);
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
