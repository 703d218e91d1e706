/*
 * rst_state.c: what every part of the restorer shares: the state it
 * learns (struct rst), how it reports and fails, its arena and the
 * staging mappings placed where the image has nothing.  bprestore.c
 * (options and order), rst_image.c (reading) and rst_map.c (replacing)
 * all call down to here; nothing here calls up.
 */
#include <sys/mman.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "rst.h"

struct rst rst;
int	rst_destroying;		/* set once the old address space is going */
int	rst_accept_fd = -1;	/* -a: told "A" once the image is accepted */
char	**rst_fallback;		/* -- CMD...: run instead when refused */
char	**rst_envp;

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

void *
rst_arena(uint64_t *cursor, uint64_t len)
{
	void	*p = (void *)(uintptr_t)*cursor;

	*cursor += (len + 63) & ~63ull;
	if (*cursor > RST_ARENA + RST_ARENA_LEN)
		rst_fail("image too large for the restorer's arena");
	return p;
}

int
rst_overlap(uint64_t a0, uint64_t a1, uint64_t b0, uint64_t b1)
{
	return a0 < b1 && b0 < a1;
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
