/*
 * vmadump_dump.h: what the parts of bproc_dump share: vmadump.c (the
 * trap, the handler, the image's order), vmadump_state.c (the process's
 * state as records), vmadump_write.c (the output and the memory pages).
 */
#ifndef VMADUMP_DUMP_H
#define VMADUMP_DUMP_H

#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <ucontext.h>

#include "libbproc_int.h"
#include "vmadump.h"

#define DUMP_PM_WORDS	8192		/* pagemap entries read at a time */
#define DUMP_OBUF	(160 * 1024)	/* metadata buffered; holds the largest record */
#define DUMP_COPY	(256 * 1024)	/* bounce buffer for memory that may change */
#define DUMP_SCAN_VEC	512		/* page ranges PAGEMAP_SCAN returns at a time */

/*
 * PAGEMAP_SCAN (linux/fs.h of Linux 6.7; Debian 12's headers predate it):
 * the ranges of pages in some categories, in one call.
 */
struct dump_page_region {
	uint64_t	start, end, categories;
};

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
	libbproc_sink_fn	*sink;		/* instead of fd (migrate.c's framing) */
	void			*sinkctx;
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
	struct vmad_resume	*resume;	/* the restorer's word (vmadump.c) */
};

/* vmadump_write.c */
int	vmdump_write(struct dump *, const void *, size_t);
int	vmdump_flush(struct dump *);
int	vmdump_put(struct dump *, uint32_t, const void *, size_t, const void *,
	    size_t);
int	vmdump_pages(struct dump *, int, uint32_t);

/* vmadump_state.c */
int	vmdump_maps(struct dump *);
int	vmdump_regs(struct dump *);
int	vmdump_task(struct dump *);
int	vmdump_sigact(struct dump *);
int	vmdump_mm(struct dump *);

#endif /* VMADUMP_DUMP_H */
