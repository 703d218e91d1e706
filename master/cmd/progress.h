/*
 * scp's progress bar on a terminal's stderr (progress.c), for the tools
 * that move big files: bpcp's copies, bpsh's pushes.
 */
#ifndef BPROC_PROGRESS_H
#define BPROC_PROGRESS_H

#include <stdint.h>

#define PROGRESS_MIN	(1024 * 1024)	/* smaller transfers show no bar */
#define PROGRESS_MS	200		/* bar redraw interval */

struct progress {
	char		 name[64];	/* what moves, cut to fit */
	uint64_t	 total;
	double		 start, drawn;
	int		 on;		/* stderr is a terminal, total big enough */
	int		 shown;		/* drawn at least once */
};

/* A bar for name; shown only on a terminal once total passes PROGRESS_MIN. */
void	progress_begin(struct progress *, const char *, uint64_t);
/* done of total bytes moved; redrawn at most every PROGRESS_MS. */
void	progress_step(struct progress *, uint64_t, uint64_t);
/* The last line, with the time taken, if the bar was shown. */
void	progress_end(struct progress *, uint64_t);
/* bpsh: a bar for the files the next bproc_rexec*() pushes to a node. */
void	progress_push(int, const char *);

#endif
