/*
 * vmadump_write.c: bproc_dump's output: records buffered and written to
 * the descriptor or the sink, and each mapping's pages that travel,
 * found through PAGEMAP_SCAN or /proc/self/pagemap.
 */
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bproc_dump.h"
#include "vmadump_dump.h"

/* PAGEMAP_SCAN's argument (see dump_page_region in vmadump_dump.h). */
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

/*
 * vmdump_write: all of buf to the image.  A raw syscall, not write(): a
 * sanitizer's write() would check buf, which may be its own shadow.
 */
int
vmdump_write(struct dump *d, const void *buf, size_t len)
{
	const char	*p = buf;
	ssize_t		 n;

	if (d->sink != NULL)
		return d->sink(d->sinkctx, buf, len);
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

int
vmdump_flush(struct dump *d)
{
	if (d->olen == 0)
		return 0;
	vmad_hash_add(&d->hash, d->obuf, d->olen);
	if (vmdump_write(d, d->obuf, d->olen) == -1)
		return -1;
	d->olen = 0;
	return 0;
}

/* vmdump_put: one record, a fixed part and an optional tail, padded. */
int
vmdump_put(struct dump *d, uint32_t type, const void *a, size_t alen,
    const void *b, size_t blen)
{
	struct vmad_rec	 rec;
	size_t		 len = alen + blen, total;

	if (len > VMAD_MAX_REC + VMAD_MAX_FPSTATE) {
		errno = E2BIG;
		return -1;
	}
	total = sizeof(rec) + VMAD_PAD(len);
	if (d->olen + total > DUMP_OBUF && vmdump_flush(d) == -1)
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
	if (vmdump_put(d, VMAD_REC_PAGES, &pg, sizeof(pg), NULL, 0) == -1 ||
	    vmdump_flush(d) == -1)
		return -1;
	mem = (const void *)(uintptr_t)(m->r.start + first * d->page);
	if (!m->bounce) {
		vmad_hash_add(&d->hash, mem, n * d->page);
		return vmdump_write(d, mem, n * d->page);
	}
	/* What is hashed must be what is written: copy it first. */
	for (len = n * d->page; len > 0; len -= chunk) {
		chunk = len < DUMP_COPY ? len : DUMP_COPY;
		if (dump_copy(d->copy, mem, chunk) == -1)
			return -1;
		vmad_hash_add(&d->hash, d->copy, chunk);
		if (vmdump_write(d, d->copy, chunk) == -1)
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

/* vmdump_pages: the pages of one region that must travel. */
int
vmdump_pages(struct dump *d, int pmfd, uint32_t idx)
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

