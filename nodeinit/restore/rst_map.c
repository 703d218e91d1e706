/*
 * rst_map.c: the restorer's second half.  The image has been read and
 * checked and its pages sit in staging mappings; here the restorer's own
 * address space (all but its window, its staging and the kernel's vDSO)
 * is unmapped, the vDSO and vvar are moved where the image had them, the
 * regions are put in place, the kernel's per-process and per-thread state
 * is set, credentials are dropped, and rt_sigreturn resumes the image.
 */
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "rst.h"

#ifndef MREMAP_MAYMOVE
#define MREMAP_MAYMOVE	1
#endif
#define RST_STACK_SLACK	(64 * 1024)	/* zero room below a restored stack */

/* The kernel's struct prctl_mm_map (linux/prctl.h), which musl lacks. */
struct rst_mm_map {
	uint64_t	start_code, end_code, start_data, end_data;
	uint64_t	start_brk, brk, start_stack;
	uint64_t	arg_start, arg_end, env_start, env_end;
	uint64_t	auxv;
	uint32_t	auxv_size;
	uint32_t	exe_fd;
};

/* The kernel's x86-64 rt_sigframe up to the siginfo, which is not read. */
struct rst_frame {
	uint64_t	pretcode;
	uint64_t	uc_flags;
	uint64_t	uc_link;
	uint64_t	ss_sp;
	uint32_t	ss_flags;
	uint32_t	ss_pad;
	uint64_t	ss_size;
	uint64_t	sc[VMAD_SC_WORDS];
	uint64_t	sigmask;
	unsigned char	info[128];
};

static uint64_t
rst_hex(const char **pp)
{
	const char	*p = *pp;
	uint64_t	 v = 0;

	for (;; p++) {
		if (*p >= '0' && *p <= '9')
			v = v * 16 + (*p - '0');
		else if (*p >= 'a' && *p <= 'f')
			v = v * 16 + (*p - 'a' + 10);
		else
			break;
	}
	*pp = p;
	return v;
}

/*
 * rst_maps: our /proc/self/maps, calling fn for each mapping with its
 * bounds and name.  Read whole before fn runs, since fn may unmap.
 */
static void
rst_maps(void (*fn)(uint64_t, uint64_t, const char *))
{
	char		*buf = rst.mapsbuf, *line, *nl;
	uint64_t	 len = 0;
	ssize_t		 n;
	int		 fd;

	if ((fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC)) == -1)
		rst_fail("/proc/self/maps: %s", strerror(errno));
	while ((n = read(fd, buf + len, rst.mapscap - 1 - len)) > 0)
		len += n;
	close(fd);
	if (n == -1 || len == rst.mapscap - 1)
		rst_fail("reading /proc/self/maps failed");
	buf[len] = '\0';
	for (line = buf; line < buf + len; line = nl + 1) {
		const char	*p = line, *name;
		uint64_t	 s, e;
		int		 field;

		if ((nl = strchr(line, '\n')) == NULL)
			nl = buf + len;
		*nl = '\0';
		s = rst_hex(&p);
		p++;
		e = rst_hex(&p);
		/* The name is the sixth field: skip perms, offset, dev, inode. */
		for (field = 0, name = p; field < 4 && *name != '\0'; field++) {
			while (*name == ' ')
				name++;
			while (*name != ' ' && *name != '\0')
				name++;
		}
		while (*name == ' ')
			name++;
		fn(s, e, name);
	}
}

static void
rst_note_own(uint64_t s, uint64_t e, const char *name)
{
	struct vmad_special	*sp;

	if (strcmp(name, "[vdso]") != 0 && strncmp(name, "[vvar", 5) != 0)
		return;
	if (rst.nown == VMAD_MAX_SPECIAL)
		rst_fail("too many vdso/vvar mappings of our own");
	sp = &rst.own[rst.nown++];
	memset(sp, 0, sizeof(*sp));
	sp->start = s;
	sp->end = e;
	strncpy(sp->name, name, sizeof(sp->name) - 1);
	if (strcmp(name, "[vdso]") == 0) {
		struct vmad_hash h;

		vmad_hash_init(&h);
		vmad_hash_add(&h, (const void *)(uintptr_t)s, e - s);
		sp->hash = vmad_hash_final(&h);
	}
}

void
rst_own_maps(void)
{
	rst.nown = 0;
	rst_maps(rst_note_own);
}

/*
 * rst_check_special: the image's code calls into the vDSO it had, at the
 * address it had, reading vvar pages at fixed offsets from it.  Ours can
 * be moved there only if it is the same code (same kernel): same names,
 * same sizes, same vDSO bytes.  Anything else is refused now, while
 * refusing costs nothing.  The FPU state must also be one this CPU can
 * load.
 */
void
rst_check_special(void)
{
	unsigned	 i, j;
	uint64_t	 xfeat = 0;

	for (i = 0; i < rst.nspecial; i++) {
		const struct vmad_special *im = &rst.special[i];

		if (im->start >= im->end || im->end > VMAD_USER_TOP ||
		    (im->start | im->end) & (uint64_t)(rst.page - 1))
			rst_fail("%s: bad bounds in the image", im->name);
		for (j = 0; j < rst.nreg; j++)
			if (im->start < rst.reg[j].r.end && rst.reg[j].r.start < im->end)
				rst_fail("%s overlaps region %u", im->name, j);
		for (j = 0; j < rst.nown; j++)
			if (strcmp(rst.own[j].name, im->name) == 0)
				break;
		if (j == rst.nown)
			rst_fail("the image needs %s, which this kernel does not map",
			    im->name);
		if (rst.own[j].end - rst.own[j].start != im->end - im->start)
			rst_fail("%s is %llu bytes here, %llu in the image (another kernel)",
			    im->name,
			    (unsigned long long)(rst.own[j].end - rst.own[j].start),
			    (unsigned long long)(im->end - im->start));
		if (im->hash != 0 && im->hash != rst.own[j].hash)
			rst_fail("%s differs from the image's (another kernel)", im->name);
	}
	if (rst.regs.fpstate_len >= 512 + 64) {
		uint32_t magic1;

		memcpy(&magic1, rst.fpstate + 464, 4);
		if (magic1 == 0x46505853u)
			memcpy(&xfeat, rst.fpstate + 472, 8);
	}
	if (xfeat & ~rst.own_xfeatures)
		rst_fail("the image's FPU state has features %#llx this CPU lacks",
		    (unsigned long long)(xfeat & ~rst.own_xfeatures));
}

static int
rst_kept(uint64_t s, uint64_t e)
{
	uint32_t	 i;

	if (s >= RST_BASE && e <= RST_BASE + RST_WINDOW)
		return 1;
	if (e > VMAD_USER_TOP)	/* [vsyscall]: not ours to unmap */
		return 1;
	for (i = 0; i < rst.nstages; i++)
		if (s >= rst.stages[i].start && e <= rst.stages[i].end)
			return 1;
	return 0;
}

static void
rst_unmap_other(uint64_t s, uint64_t e, const char *name)
{
	if (rst_kept(s, e))
		return;
	if (munmap((void *)(uintptr_t)s, e - s) == -1)
		rst_fail("unmapping %s %#llx-%#llx: %s", name, (unsigned long long)s,
		    (unsigned long long)e, strerror(errno));
}

static void *
rst_mremap(uint64_t from, uint64_t len, uint64_t to)
{
	return (void *)syscall(SYS_mremap, (void *)(uintptr_t)from, len, len,
	    MREMAP_MAYMOVE | MREMAP_FIXED, (void *)(uintptr_t)to);
}

/*
 * rst_specials: vDSO and vvar to where the image had them.  Through a
 * staging place first, since a target may be where another of ours is.
 */
static void
rst_specials_stage(uint64_t *tmp)
{
	unsigned	 i, j;

	for (i = 0; i < rst.nspecial; i++) {
		for (j = 0; strcmp(rst.own[j].name, rst.special[i].name) != 0; j++)
			;
		tmp[i] = rst_stage_range(rst.own[j].end - rst.own[j].start);
		if (rst_mremap(rst.own[j].start, rst.own[j].end - rst.own[j].start,
		    tmp[i]) == MAP_FAILED)
			rst_fail("moving our %s: %s", rst.own[j].name, strerror(errno));
	}
}

static void
rst_specials_place(const uint64_t *tmp)
{
	unsigned	 i;

	for (i = 0; i < rst.nspecial; i++)
		if (rst_mremap(tmp[i], rst.special[i].end - rst.special[i].start,
		    rst.special[i].start) == MAP_FAILED)
			rst_fail("moving %s into place: %s", rst.special[i].name,
			    strerror(errno));
}

static void *
rst_mmap(uint64_t a, uint64_t len, int prot, int flags, int fd, uint64_t off)
{
	void	*p;

	p = mmap((void *)(uintptr_t)a, len, prot, flags | MAP_FIXED_NOREPLACE, fd, off);
	if (p == MAP_FAILED && errno == ENOMEM && fd == -1)
		p = mmap((void *)(uintptr_t)a, len, prot,
		    flags | MAP_FIXED_NOREPLACE | MAP_NORESERVE, fd, off);
	if (p != MAP_FAILED && (uint64_t)(uintptr_t)p != a)
		rst_fail("the kernel placed %#llx elsewhere", (unsigned long long)a);
	return p;
}

/* rst_place: one region at its address, with its pages. */
static void
rst_place(struct rst_region *g, uint32_t idx)
{
	const struct vmad_region *r = &g->r;
	uint64_t	 len = r->end - r->start, i;
	int		 prot = r->prot;

	switch (r->kind) {
	case VMAD_R_ANON:
		if (r->flags & VMAD_RF_GROWSDOWN) {
			/*
			 * A stack must keep growing down, which a moved staging
			 * mapping would not: map it GROWSDOWN, with some room,
			 * and copy.
			 */
			uint64_t s = r->start >= RST_STACK_SLACK + (uint64_t)rst.page ?
			    r->start - RST_STACK_SLACK : r->start;

			if (rst_mmap(s, r->end - s, prot | PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN, -1, 0) ==
			    MAP_FAILED)
				rst_fail("region %u (stack): %s", idx, strerror(errno));
			if (g->stage != 0) {
				memcpy((void *)(uintptr_t)r->start,
				    (void *)(uintptr_t)g->stage, len);
				munmap((void *)(uintptr_t)g->stage, len);
			}
		} else if (g->stage != 0) {
			if (rst_mremap(g->stage, len, r->start) == MAP_FAILED)
				rst_fail("region %u: moving its pages: %s", idx,
				    strerror(errno));
		} else if (rst_mmap(r->start, len, prot, MAP_PRIVATE | MAP_ANONYMOUS,
		    -1, 0) == MAP_FAILED)
			rst_fail("region %u: %s", idx, strerror(errno));
		break;
	case VMAD_R_FILE:
		if (rst_mmap(r->start, len, prot | (g->nruns ? PROT_WRITE : 0),
		    MAP_PRIVATE, g->fd, r->offset) == MAP_FAILED)
			rst_fail("region %u: mapping %s: %s", idx, g->path,
			    strerror(errno));
		for (i = 0; i < g->nruns; i++) {
			const struct rst_run *run = &rst.runs[g->run0 + i];

			memcpy((void *)(uintptr_t)(r->start + run->pgoff * rst.page),
			    (void *)(uintptr_t)(g->stage + run->pgoff * rst.page),
			    run->npages * rst.page);
		}
		if (g->stage != 0)
			munmap((void *)(uintptr_t)g->stage, len);
		break;
	case VMAD_R_SHARED:
		if (rst_mmap(r->start, len, prot, MAP_SHARED, g->fd, r->offset) ==
		    MAP_FAILED)
			rst_fail("region %u: mapping %s shared: %s", idx, g->path,
			    strerror(errno));
		break;
	}
	if ((g->stage != 0 || r->kind == VMAD_R_FILE || (r->flags & VMAD_RF_GROWSDOWN)) &&
	    mprotect((void *)(uintptr_t)r->start, len, prot) == -1)
		rst_fail("region %u: mprotect: %s", idx, strerror(errno));
}

/*
 * rst_mm: brk and the arg/env bounds, so that the image's malloc finds
 * its heap where it left it and /proc shows its command line.  PR_SET_MM_MAP
 * needs no privilege; the single-field fallback needs CAP_SYS_RESOURCE.
 */
static uint32_t
rst_mm(void)
{
	struct rst_mm_map	 m;

	memset(&m, 0, sizeof(m));
	m.start_code = rst.mm.start_code;
	m.end_code = rst.mm.end_code;
	m.start_data = rst.mm.start_data;
	m.end_data = rst.mm.end_data;
	m.start_brk = rst.mm.start_brk;
	m.brk = rst.mm.brk;
	m.start_stack = rst.mm.start_stack;
	m.arg_start = rst.mm.arg_start;
	m.arg_end = rst.mm.arg_end;
	m.env_start = rst.mm.env_start;
	m.env_end = rst.mm.env_end;
	m.auxv = (uintptr_t)rst.auxv;
	m.auxv_size = rst.mm.auxv_words * 8;
	m.exe_fd = (uint32_t)-1;
	if (prctl(PR_SET_MM, PR_SET_MM_MAP, &m, sizeof(m), 0) == 0)
		return 0;
	m.auxv_size = 0;
	if (prctl(PR_SET_MM, PR_SET_MM_MAP, &m, sizeof(m), 0) == 0)
		return 0;
	if (rst.verbose)
		rst_say("PR_SET_MM_MAP: %s; trying brk alone", strerror(errno));
	if (prctl(PR_SET_MM, PR_SET_MM_START_BRK, m.start_brk, 0, 0) == 0 &&
	    prctl(PR_SET_MM, PR_SET_MM_BRK, m.brk, 0, 0) == 0)
		return 0;
	rst_say("warning: brk not restored (%s): the image's heap grows elsewhere",
	    strerror(errno));
	return VMAD_W_MM;
}

/* rst_task: what glibc registered with the kernel for its thread. */
static uint32_t
rst_task(void)
{
	uint32_t	 warn = 0;
	pid_t		 tid;

	if (rst.task.robust_head != 0)
		syscall(SYS_set_robust_list, (void *)(uintptr_t)rst.task.robust_head,
		    (size_t)rst.task.robust_len);
	if (rst.task.tid_addr != 0) {
		volatile uint32_t *w = (uint32_t *)(uintptr_t)rst.task.tid_addr;

		tid = syscall(SYS_set_tid_address, w);
		/* glibc caches the TID there; another libc may keep a lock. */
		if (*w == rst.task.old_tid)
			*w = tid;
	}
	if (rst.task.rseq_addr != 0 && syscall(SYS_rseq,
	    (void *)(uintptr_t)rst.task.rseq_addr, rst.task.rseq_len, 0,
	    rst.task.rseq_sig) == -1) {
		if (rst.verbose)
			rst_say("rseq: %s", strerror(errno));
		warn |= VMAD_W_RSEQ;
	}
	umask(rst.task.umask & 0777);
	return warn;
}

static void
rst_sigactions(void)
{
	int	 sig;

	for (sig = 1; sig <= VMAD_NSIG; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		if (syscall(SYS_rt_sigaction, sig, &rst.act[sig - 1], NULL, 8) == -1 &&
		    rst.verbose)
			rst_say("signal %d: %s", sig, strerror(errno));
	}
}

/* rst_creds: the caller's identity, before the image runs at all. */
static void
rst_creds(void)
{
	if (!rst.setcred)
		return;
	if (rst.setcred & 4) {
		if (setgroups(rst.ngroups, rst.groups) == -1)
			rst_fail("setgroups: %s", strerror(errno));
	} else if (setgroups(1, &rst.gid) == -1)
		rst_fail("setgroups: %s", strerror(errno));
	if (setresgid(rst.gid, rst.gid, rst.gid) == -1)
		rst_fail("setresgid: %s", strerror(errno));
	if (setresuid(rst.uid, rst.uid, rst.uid) == -1)
		rst_fail("setresuid: %s", strerror(errno));
	/* A changed identity clears dumpable; the user owns this process. */
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
}

/*
 * rst_frame: an rt_sigframe below the image's red zone, its xsave area
 * 64-byte aligned under it, as the kernel would have built it.  Returns
 * the rsp that rt_sigreturn wants (the ucontext).
 */
static uint64_t
rst_frame(void)
{
	uint64_t		 sp = rst.regs.sc[VMAD_SC_RSP] - 128, fp;
	struct rst_frame	*f;

	fp = (sp - rst.regs.fpstate_len) & ~63ull;
	f = (struct rst_frame *)(uintptr_t)(((fp - sizeof(*f)) & ~15ull) - 8);
	memset(f, 0, sizeof(*f));
	memcpy(f->sc, rst.regs.sc, sizeof(f->sc));
	f->sc[VMAD_SC_FPSTATE] = rst.regs.fpstate_len ? fp : 0;
	if (rst.regs.fpstate_len)
		memcpy((void *)(uintptr_t)fp, rst.fpstate, rst.regs.fpstate_len);
	f->uc_flags = rst.regs.uc_flags;
	f->ss_sp = rst.regs.ss_sp;
	f->ss_flags = rst.regs.ss_flags;
	f->ss_size = rst.regs.ss_size;
	f->sigmask = rst.regs.sigmask;
	return (uintptr_t)&f->uc_flags;
}

void
rst_replace(void)
{
	uint64_t	 tmp[VMAD_MAX_SPECIAL], uc;
	uint32_t	 i, warn;
	sigset_t	 all;

	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	rst_specials_stage(tmp);

	rst_destroying = 1;
	rst_maps(rst_unmap_other);
	rst_specials_place(tmp);
	for (i = 0; i < rst.nreg; i++)
		rst_place(&rst.reg[i], i);
	warn = rst_mm();
	warn |= rst_task();
	rst_sigactions();
	uc = rst_frame();
	if (rst.task.resume_addr != 0) {
		struct vmad_resume *res =
		    (struct vmad_resume *)(uintptr_t)rst.task.resume_addr;

		res->magic = VMAD_RESUME_MAGIC;
		res->unmap_start = RST_BASE;
		res->unmap_len = RST_WINDOW;
		res->warnings = warn;
	}
	if (rst.verbose)
		rst_say("resuming pid %d at %#llx", getpid(),
		    (unsigned long long)rst.regs.sc[VMAD_SC_RIP]);
	/* Descriptors other than 0-2 are not part of the image. */
	if (syscall(SYS_close_range, 3, ~0u, 0) == -1)
		for (i = 3; i < 1024; i++)
			close(i);
	rst_creds();
	/* As the user: a directory it may not enter is not its cwd. */
	if (chdir(rst.cwd) == -1 && chdir("/") == -1)
		rst_fail("chdir /: %s", strerror(errno));
	rst_jump(rst.regs.fs_base, uc);
}
