/*
 * rst.h: the restorer's parts (bprestore.c takes the options and
 * runs the steps in order, rst_image.c reads, checks and stages the
 * image, rst_map.c replaces the address space, rst_jump.S resumes; all
 * share rst_state.c).
 */
#ifndef RST_H
#define RST_H

#include <stdint.h>
#include <sys/types.h>

#include "vmadump.h"

/*
 * The restorer is linked at RST_BASE (-Ttext-segment) and keeps all it
 * owns, text, data, its stack and its arena, inside one window that no
 * image may use; the resumed image unmaps the window (struct vmad_resume).
 */
#define RST_BASE	0x200000000000ull	/* 32 TB: far from PIE, mmap and stack */
#define RST_WINDOW	0x100000000ull		/* 4 GB reserved for the restorer */
#define RST_ARENA	(RST_BASE + 0x80000000ull) /* metadata, in the window */
#define RST_ARENA_LEN	0x40000000ull		/* 1 GB, reserved, touched as needed */
#define RST_STAGE_BASE	0x100000000000ull	/* staging is searched upward from 16 TB */
#define RST_STACK_LEN	(256 * 1024)		/* the restorer's own stack */
#define RST_MAX_FILES	1024			/* distinct files an image maps */
#define RST_MAX_STAGES	VMAD_MAX_REGIONS	/* staging mappings */

#define RST_MADV_POPULATE_WRITE 23		/* Linux 5.14; musl 1.2.3 lacks the name */

#define RST_CHECK_NONE	0	/* -C: identity checks on referenced files */
#define RST_CHECK_SIZE	1
#define RST_CHECK_MTIME	2
#define RST_CHECK_INODE	3	/* the default: same dev, inode, size, mtime */

struct rst_region {
	struct vmad_region	 r;
	const char		*path;	/* NUL-terminated, in the arena */
	uint64_t		 stage;	/* where its pages were read, 0 if none */
	int			 fd;	/* FILE and SHARED: the reopened file */
	uint32_t		 run0;	/* its runs in rst.runs (FILE only) */
	uint32_t		 nruns;
};

struct rst_run {
	uint64_t	pgoff;
	uint64_t	npages;
};

struct rst_range {
	uint64_t	start, end;
};

/* Everything the restorer learns, in the arena or in its own bss. */
struct rst {
	int			 fd;
	int			 verbose;
	int			 check;
	int			 setcred;
	uid_t			 uid;
	gid_t			 gid;
	int			 ngroups;
	gid_t			 groups[64];
	long			 page;

	struct vmad_header	 hdr;
	struct vmad_regs	 regs;
	unsigned char		*fpstate;
	struct vmad_task	 task;
	struct vmad_sigaction	 act[VMAD_NSIG];
	struct vmad_mm		 mm;
	uint64_t		 auxv[2 * VMAD_MAX_AUXV];
	char			 cwd[4096];
	struct vmad_special	 special[VMAD_MAX_SPECIAL];
	unsigned		 nspecial;
	struct rst_region	*reg;
	uint32_t		 nreg;
	struct rst_run		*runs;
	uint64_t		 nruns, runs_cap;
	char			*pathpool;
	uint64_t		 pathlen, pathcap;
	struct rst_range	*stages;	/* our staging mappings */
	uint32_t		 nstages;
	uint64_t		 stage_cur;
	uint32_t		 stage_idx;	/* first region that may block stage_cur */
	char			*mapsbuf;	/* our own /proc/self/maps */
	uint64_t		 mapscap;
	struct vmad_special	 own[VMAD_MAX_SPECIAL];	/* our vdso and vvar */
	unsigned		 nown;
	uint64_t		 own_xfeatures;
	struct vmad_hash	 hash;
};

extern struct rst rst;
extern int	rst_destroying;		/* the old address space is going */
extern int	rst_accept_fd;		/* -a: told "A" once the image is accepted */
extern char	**rst_fallback;		/* -- CMD...: run instead when refused */
extern char	**rst_envp;

/* rst_state.c */
void	rst_fail(const char *, ...) __attribute__((noreturn, format(printf, 1, 2)));
void	rst_say(const char *, ...) __attribute__((format(printf, 1, 2)));
void	*rst_arena(uint64_t *, uint64_t);
int	rst_overlap(uint64_t, uint64_t, uint64_t, uint64_t);
uint64_t rst_stage_range(uint64_t);
/* rst_image.c */
void	rst_read_head(uint64_t *);
void	rst_read_pages(uint64_t *);
/* rst_map.c */
void	rst_own_maps(void);
void	rst_check_special(void);
void	rst_replace(void) __attribute__((noreturn));
/* rst_jump.S */
void	rst_jump(uint64_t, uint64_t) __attribute__((noreturn));
void	rst_onstack(void *, void (*)(void)) __attribute__((noreturn));

#endif /* RST_H */
