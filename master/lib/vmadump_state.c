/*
 * vmadump_state.c: the process's state as bproc_dump's records: its
 * mappings from /proc/self/maps (and what of each travels), registers,
 * thread, signal actions, mm bounds.
 */
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <asm/prctl.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bproc_dump.h"
#include "vmadump_dump.h"
#include "vmadump_int.h"

/* glibc >= 2.35 says where the thread's rseq area is; weak for older ones. */
extern const ptrdiff_t __rseq_offset __attribute__((weak));
extern const unsigned int __rseq_size __attribute__((weak));

#define RSEQ_SIG_X86	0x53053053u	/* glibc's rseq signature on x86 */
#define RSEQ_AREA_LEN	32u		/* what glibc registers */

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

/* [vdso] or [vvar...]: the restorer maps the node's own in their place. */
static int
dump_special(struct dump *d, const char *name, unsigned long start,
    unsigned long stop)
{
	struct vmad_special *sp;

	if (d->nspecial == VMAD_MAX_SPECIAL) {
		errno = ENOTSUP;
		return -1;
	}
	sp = &d->special[d->nspecial++];
	memset(sp, 0, sizeof(*sp));
	sp->start = start;
	sp->end = stop;
	strncpy(sp->name, name, sizeof(sp->name) - 1);
	if (strcmp(name, "[vdso]") == 0) {
		struct vmad_hash vh;

		vmad_hash_init(&vh);
		vmad_hash_add(&vh, (void *)start, stop - start);
		sp->hash = vmad_hash_final(&vh);
	}
	return 0;
}

/* Add m with the scratch mapping cut out, keeping either side. */
static int
dump_addcut(struct dump *d, struct dump_map *m)
{
	struct dump_map	 hi;
	uint64_t	 s0 = (uintptr_t)d->scratch;
	uint64_t	 s1 = s0 + d->scratch_len;

	hi = *m;
	if (m->r.start < s1 && m->r.end > s0) {
		if (m->r.end > s1) {
			hi.r.offset += s1 - m->r.start;
			hi.r.start = s1;
			if (dump_addmap(d, &hi) == -1)
				return -1;
		}
		m->r.end = m->r.start < s0 ? s0 : m->r.start;
	}
	return dump_addmap(d, m);
}

/* One line of /proc/self/maps (its end made a NUL) into d. */
static int
dump_mapline(struct dump *d, char *p)
{
	struct dump_map	 m;
	unsigned long	 start, stop, off, ino;
	unsigned	 maj, min;
	char		 perms[5];
	int		 pos = 0;

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
	if (strcmp(m.path, "[vdso]") == 0 || strncmp(m.path, "[vvar", 5) == 0)
		return dump_special(d, m.path, start, stop);
	if (stop > VMAD_USER_TOP)	/* [vsyscall] */
		return 0;
	if (m.path[0] == '/') {
		dump_classify(d, &m, perms[3] == 's', makedev(maj, min), ino);
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
	return dump_addcut(d, &m);
}

/*
 * vmdump_maps: /proc/self/maps into d->map, the scratch mapping cut out
 * of whatever region it merged into, the kernel's own mappings set aside.
 */
int
vmdump_maps(struct dump *d)
{
	char		*p, *end, *nl;
	size_t		 len;

	if (dump_readfile("/proc/self/maps", d->maps, d->maps_cap, &len) == -1)
		return -1;
	if (len == d->maps_cap) {
		errno = ENOBUFS;	/* the caller grows the scratch and retries */
		return -1;
	}
	d->maps[len] = '\0';
	d->nmap = d->nspecial = 0;
	for (p = d->maps, end = d->maps + len; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', end - p)) == NULL)
			nl = end;
		*nl = '\0';
		if (dump_mapline(d, p) == -1)
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

int
vmdump_regs(struct dump *d)
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
	return vmdump_put(d, VMAD_REC_REGS, &r, sizeof(r), fp, r.fpstate_len);
}

int
vmdump_task(struct dump *d)
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
	t.resume_addr = (uintptr_t)d->resume;
	um = umask(022);
	umask(um);
	t.umask = um;
	t.old_tid = gettid();
	return vmdump_put(d, VMAD_REC_TASK, &t, sizeof(t), NULL, 0);
}

int
vmdump_sigact(struct dump *d)
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
	return vmdump_put(d, VMAD_REC_SIGACT, act, sizeof(act), NULL, 0);
}

/* vmdump_mm: the mm bounds from /proc/self/stat, fields 26-28 and 45-51. */
int
vmdump_mm(struct dump *d)
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
	return vmdump_put(d, VMAD_REC_MM, &mm, sizeof(mm), auxv, len & ~7u);
}
