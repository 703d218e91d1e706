/*
 * rst_image.c: reading the image front to back and checking all of it:
 * the header, the records before the regions, the regions, the saved
 * context, then the pages into staging and the END with its hash.  A bad
 * or truncated image is refused here, while nothing is lost yet.
 */
#include <sys/mman.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "rst.h"

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

/*
 * rst_meta_rec: one record before the regions, its payload in buf, into
 * rst.  Returns 0 for a type this restorer does not know (skipped).
 */
static int
rst_meta_rec(const struct vmad_rec *rec, const unsigned char *buf,
    uint64_t *cursor)
{
	uint32_t	 len = rec->len;

	switch (rec->type) {
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
		return 0;	/* a newer dumper's record: skipped */
	}
	return 1;
}

/*
 * rst_read_records: the records up to the first REGION, which is left
 * in rec: fixed order, unknown types skipped.
 */
static void
rst_read_records(struct vmad_rec *rec, unsigned char *buf, uint64_t *cursor)
{
	unsigned	 seen = 0;
	uint32_t	 len;

	for (;;) {
		rst_rec(rec);
		len = rec->len;
		if (rec->type == VMAD_REC_REGION || rec->type == VMAD_REC_PAGES ||
		    rec->type == VMAD_REC_END)
			break;
		if (len > (rec->type == VMAD_REC_REGS ?
		    sizeof(rst.regs) + VMAD_MAX_FPSTATE : VMAD_MAX_REC))
			rst_fail("record type %u: length %u too large", rec->type, len);
		rst_hashed_payload(buf, len);
		if (!rst_meta_rec(rec, buf, cursor))
			continue;
		if (rec->type < VMAD_REC_SPECIAL) {
			if (seen & (1u << rec->type) || (seen >> rec->type) != 0)
				rst_fail("record type %u out of order", rec->type);
			seen |= 1u << rec->type;
		}
	}
	if (seen != ((1u << VMAD_REC_REGS) | (1u << VMAD_REC_TASK) |
	    (1u << VMAD_REC_SIGACT) | (1u << VMAD_REC_MM) | (1u << VMAD_REC_CWD)))
		rst_fail("the image lacks a register, task, signal, mm or cwd record");
}

/* rst_read_regions: then exactly nregions REGION records, the first in rec. */
static void
rst_read_regions(struct vmad_rec *rec, unsigned char *buf, uint64_t *cursor)
{
	rst.reg = rst_arena(cursor, (uint64_t)rst.hdr.nregions * sizeof(*rst.reg));
	for (rst.nreg = 0; rst.nreg < rst.hdr.nregions; rst.nreg++) {
		struct rst_region *g = &rst.reg[rst.nreg];

		if (rst.nreg > 0)
			rst_rec(rec);
		if (rec->type != VMAD_REC_REGION)
			rst_fail("expected %u regions, found %u", rst.hdr.nregions,
			    rst.nreg);
		if (rec->len < sizeof(g->r) || rec->len > sizeof(g->r) + 4095)
			rst_fail("region %u: bad record length", rst.nreg);
		rst_hashed_payload(buf, rec->len);
		memset(g, 0, sizeof(*g));
		memcpy(&g->r, buf, sizeof(g->r));
		g->fd = -1;
		if (g->r.path_len != rec->len - sizeof(g->r))
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

static void
rst_read_meta(uint64_t *cursor)
{
	struct vmad_rec	 rec;
	unsigned char	*buf = rst_arena(cursor, VMAD_MAX_REC + VMAD_MAX_FPSTATE + sizeof(rst.regs));

	rst_read_records(&rec, buf, cursor);
	rst_read_regions(&rec, buf, cursor);
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
void
rst_read_pages(uint64_t *cursor)
{
	struct vmad_rec		 rec;
	struct vmad_pages	 pg;
	struct vmad_end		 end;
	int64_t			 last = -1;
	uint64_t		 lastend = 0, nbytes, pages = 0;

	rst.runs_cap = (RST_ARENA + RST_ARENA_LEN - *cursor) / sizeof(struct rst_run) / 2;
	rst.runs = rst_arena(cursor, rst.runs_cap * sizeof(struct rst_run));
	for (;;) {
		rst_rec(&rec);
		if (rec.type == VMAD_REC_END)
			break;
		if (rec.type != VMAD_REC_PAGES || rec.len != sizeof(pg))
			rst_fail("expected a PAGES or END record, found type %u",
			    rec.type);
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
	if (rec.len != sizeof(end))
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
 * rst_read_head: the header, the records and regions, and the saved
 * context checked against them: all that comes before the pages.
 */
void
rst_read_head(uint64_t *cursor)
{
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

	rst_read_meta(cursor);
	rst_check_context();
}
