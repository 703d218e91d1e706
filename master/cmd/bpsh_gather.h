/*
 * bpsh -B (bpsh_gather.c): identical outputs of many nodes folded into
 * one block each, under a compact node-set header.
 */
#ifndef BPROC_BPSH_GATHER_H
#define BPROC_BPSH_GATHER_H

#include <stddef.h>

/* What a node wrote on one stream so far. */
struct gather_buf {
	char	*data;
	size_t	 len, cap;
};

/* One node's whole output on one stream. */
struct gather_out {
	int		 node;
	const char	*data;
	size_t		 len;
};

/* Nodes with the same output: outs[from .. to), sorted. */
struct gather_block {
	size_t	 from, to;
	int	 first;		/* the lowest node, for the blocks' order */
};

void	gather_add(struct gather_buf *, const char *, size_t);
int	gather_print(int, struct gather_out *, size_t);

#endif
