/*
 * vmadump.h: the process image that bproc_dump() writes and bprestore
 * reads (docs/vmadump.md).  Both toolchains include it: libbproc (glibc)
 * and the static musl restorer.
 *
 * An image is a fixed header followed by a stream of records, read front
 * to back with no seeking, so it can come from a pipe or a socket as well
 * as a file.  Every record is a vmad_rec (type, length) and its payload,
 * padded to 8 bytes.  The order is fixed: REGS, TASK, SIGACT, MM, CWD,
 * any SPECIAL, hdr.nregions REGION, any PAGES, END.  A reader may skip
 * record types it does not know before the first REGION; END carries the
 * byte count and a hash of everything after the header, and the restorer
 * refuses the image unless both match before it destroys anything.
 *
 * Integers are the host's (the image is x86-64 only); addresses are the
 * dumped process's.
 */
#ifndef VMADUMP_H
#define VMADUMP_H

#include <stdint.h>
#include <stddef.h>

#define VMAD_MAGIC	0x444d5642u	/* "BVMD" read little-endian */
#define VMAD_VERSION	1		/* bumped on any layout change */
#define VMAD_ARCH_X86_64 62		/* EM_X86_64 */

#define VMAD_MAX_REC	8192		/* largest metadata payload, bytes */
#define VMAD_MAX_FPSTATE 65536		/* largest xsave area accepted */
#define VMAD_MAX_REGIONS 65530		/* vm.max_map_count's default */
#define VMAD_MAX_SPECIAL 8		/* vdso and vvar pieces */
#define VMAD_MAX_RUN	1024		/* pages in one PAGES record */
#define VMAD_MAX_AUXV	64		/* auxv pairs carried */
#define VMAD_NSIG	64		/* sigactions carried, 1..64 */
#define VMAD_USER_TOP	0x7ffffffff000ull /* highest user address (4-level paging) */

/* The image's first bytes. */
struct vmad_header {
	uint32_t	magic;		/* VMAD_MAGIC */
	uint16_t	version;	/* VMAD_VERSION */
	uint16_t	arch;		/* VMAD_ARCH_X86_64 */
	uint32_t	page_size;	/* the dumper's, must be the restorer's */
	uint32_t	hdr_len;	/* sizeof(struct vmad_header) */
	uint32_t	flags;		/* BPROC_DUMP_* the image was made with */
	uint32_t	nregions;	/* REGION records that follow */
	uint32_t	pid;		/* the dumper's PID and TID, for reference */
	uint32_t	tid;
};

enum vmad_rec_type {
	VMAD_REC_REGS = 1,	/* struct vmad_regs + fpstate bytes */
	VMAD_REC_TASK,		/* struct vmad_task */
	VMAD_REC_SIGACT,	/* VMAD_NSIG struct vmad_sigaction */
	VMAD_REC_MM,		/* struct vmad_mm + auxv words */
	VMAD_REC_CWD,		/* the path, no NUL */
	VMAD_REC_SPECIAL,	/* struct vmad_special */
	VMAD_REC_REGION,	/* struct vmad_region + path bytes */
	VMAD_REC_PAGES,		/* struct vmad_pages, then npages pages */
	VMAD_REC_END		/* struct vmad_end, not hashed */
};

struct vmad_rec {
	uint32_t	type;		/* VMAD_REC_* */
	uint32_t	len;		/* payload bytes before padding */
};

/*
 * Registers as the kernel's x86-64 struct sigcontext (r8..r15, rdi, rsi,
 * rbp, rbx, rdx, rax, rcx, rsp, rip, eflags, cs/gs/fs/ss, err, trapno,
 * oldmask, cr2, fpstate pointer, 8 reserved), the words of a signal frame.
 * The fpstate pointer is stored as 0: the restorer points it at its copy
 * of the xsave area that follows this struct.
 */
#define VMAD_SC_WORDS	32		/* sizeof(struct sigcontext) / 8 */
#define VMAD_SC_RAX	13		/* word index of rax */
#define VMAD_SC_RSP	15		/* of rsp */
#define VMAD_SC_RIP	16		/* of rip */
#define VMAD_SC_CSGSFS	18		/* of the cs/gs/fs/ss selectors */
#define VMAD_SC_FPSTATE	23		/* of the fpstate pointer */

struct vmad_regs {
	uint64_t	sc[VMAD_SC_WORDS];
	uint64_t	uc_flags;	/* UC_FP_XSTATE and friends, as saved */
	uint64_t	sigmask;	/* the process's mask, restored last */
	uint64_t	ss_sp;		/* its sigaltstack */
	uint64_t	ss_size;
	uint32_t	ss_flags;
	uint32_t	fpstate_len;	/* bytes of xsave area that follow */
	uint64_t	fs_base;	/* TLS: ARCH_SET_FS */
	uint64_t	gs_base;	/* recorded; not restored when 0 */
};

/* Per-thread kernel state glibc registered and the restorer re-registers. */
struct vmad_task {
	uint64_t	tid_addr;	/* set_tid_address (PR_GET_TID_ADDRESS) */
	uint64_t	robust_head;	/* set_robust_list */
	uint64_t	robust_len;
	uint64_t	rseq_addr;	/* rseq area, 0 when none */
	uint32_t	rseq_len;
	uint32_t	rseq_sig;
	uint64_t	resume_addr;	/* struct vmad_resume in the image, or 0 */
	uint32_t	umask;
	uint32_t	old_tid;	/* tid_addr's word is updated if it holds this */
};

/*
 * Written by the restorer into the image just before it resumes it, so
 * the resumed bproc_dump() can unmap what is left of the restorer.
 */
struct vmad_resume {
	uint64_t	magic;		/* VMAD_RESUME_MAGIC once written */
	uint64_t	unmap_start;	/* the restorer's own window */
	uint64_t	unmap_len;
	uint32_t	warnings;	/* VMAD_W_* */
	uint32_t	pad;
};
#define VMAD_RESUME_MAGIC 0x656d75736572ull /* "resume" */
#define VMAD_W_MM	0x1		/* mm bounds (brk, arg, env) not restored */
#define VMAD_W_RSEQ	0x2		/* rseq not re-registered */

/* The kernel's struct sigaction (not libc's): handler, flags, restorer, mask. */
struct vmad_sigaction {
	uint64_t	handler;
	uint64_t	flags;
	uint64_t	restorer;
	uint64_t	mask;
};

/* The fields of struct prctl_mm_map, plus the brk the process had. */
struct vmad_mm {
	uint64_t	start_code, end_code, start_data, end_data;
	uint64_t	start_brk, brk, start_stack;
	uint64_t	arg_start, arg_end, env_start, env_end;
	uint32_t	auxv_words;	/* uint64_t words of auxv that follow */
	uint32_t	pad;
};

/* A kernel-made mapping that is not dumped: where it was, how big. */
struct vmad_special {
	uint64_t	start, end;
	uint64_t	hash;		/* vmad_hash of [vdso]'s bytes: same kernel; 0 for vvar */
	char		name[16];	/* "[vdso]", "[vvar]", "[vvar_vclock]" */
};

enum vmad_kind {
	VMAD_R_ANON = 1,	/* private memory: zero-filled, pages follow */
	VMAD_R_FILE,		/* MAP_PRIVATE of a file: re-mapped, dirty pages follow */
	VMAD_R_SHARED		/* MAP_SHARED of a file: re-mapped shared */
};
#define VMAD_RF_GROWSDOWN 0x1		/* the stack: mapped MAP_GROWSDOWN */

struct vmad_region {
	uint64_t	start, end;	/* page aligned, start < end */
	uint64_t	offset;		/* file offset of start (FILE, SHARED) */
	uint32_t	prot;		/* PROT_READ | PROT_WRITE | PROT_EXEC */
	uint16_t	kind;		/* VMAD_R_* */
	uint16_t	flags;		/* VMAD_RF_* */
	uint64_t	dev, ino, size;	/* the file as the dumper saw it */
	int64_t		mtime_sec, mtime_nsec;
	uint32_t	path_len;	/* path bytes that follow, no NUL */
	uint32_t	pad;
};

/* npages pages of one region, starting pgoff pages into it. */
struct vmad_pages {
	uint32_t	region;		/* index in the REGION records */
	uint32_t	npages;		/* 1..VMAD_MAX_RUN */
	uint64_t	pgoff;
};

struct vmad_end {
	uint64_t	bytes;		/* image bytes after the header, END excluded */
	uint64_t	hash;		/* vmad_hash of those bytes */
};

/*
 * A cheap 64-bit hash of the stream, four independent multiply lanes so
 * that it keeps up with memory bandwidth; it catches truncation and
 * corruption, it is not a cryptographic check (the cluster link has its
 * own).  Lengths are always multiples of 8 (records are padded).
 */
#define VMAD_HASH_MUL	0x9e3779b97f4a7c15ull	/* odd, golden ratio */

/*
 * The dumper reads all of its own memory, a sanitizer's shadow included,
 * which instrumented code must not do (the shadow of the shadow is not
 * mapped): the functions that do are left uninstrumented.
 */
#if defined(__SANITIZE_ADDRESS__)
#define VMAD_NO_ASAN	__attribute__((no_sanitize_address))
#else
#define VMAD_NO_ASAN
#endif

struct vmad_hash {
	uint64_t	lane[4];
	uint64_t	bytes;
};

static inline void
vmad_hash_init(struct vmad_hash *h)
{
	h->lane[0] = 1;
	h->lane[1] = 2;
	h->lane[2] = 3;
	h->lane[3] = 4;
	h->bytes = 0;
}

/* Word i of the stream goes to lane i % 4, however the stream is cut. */
static inline void VMAD_NO_ASAN
vmad_hash_add(struct vmad_hash *h, const void *buf, size_t len)
{
	const uint64_t	*w = buf;
	size_t		 i = 0, n = len / 8, k = (h->bytes / 8) & 3;
	uint64_t	 l[4] = { h->lane[0], h->lane[1], h->lane[2], h->lane[3] };

	for (; i < n && k != 0; i++, k = (k + 1) & 3)
		l[k] = (l[k] ^ w[i]) * VMAD_HASH_MUL;
	for (; i + 4 <= n; i += 4) {
		l[0] = (l[0] ^ w[i]) * VMAD_HASH_MUL;
		l[1] = (l[1] ^ w[i + 1]) * VMAD_HASH_MUL;
		l[2] = (l[2] ^ w[i + 2]) * VMAD_HASH_MUL;
		l[3] = (l[3] ^ w[i + 3]) * VMAD_HASH_MUL;
	}
	for (k = 0; i < n; i++, k++)
		l[k] = (l[k] ^ w[i]) * VMAD_HASH_MUL;
	h->lane[0] = l[0];
	h->lane[1] = l[1];
	h->lane[2] = l[2];
	h->lane[3] = l[3];
	h->bytes += len;
}

static inline uint64_t
vmad_hash_final(const struct vmad_hash *h)
{
	uint64_t	 x = h->bytes;
	int		 i;

	for (i = 0; i < 4; i++) {
		x = (x ^ h->lane[i]) * VMAD_HASH_MUL;
		x ^= x >> 29;
	}
	return x;
}

#define VMAD_PAD(n)	(((n) + 7u) & ~7u)

#endif /* VMADUMP_H */
