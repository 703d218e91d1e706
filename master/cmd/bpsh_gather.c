/*
 * bpsh -B: gather mode, as clush -b/-B and dshbak -c.  Each node's whole
 * stdout (and, apart, its stderr) is kept until every node has ended;
 * then nodes whose output is byte for byte the same share one block,
 * headed by their node set in compact form ("0-3,7 (5)"), the blocks in
 * the order of their lowest node.  A node with no output on a stream has
 * no block there.
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nodeset.h"
#include "bpsh_gather.h"

#define GATHER_RULE	"---------------"	/* clush's block rule */

/* Keep len more bytes of a node's output (running out of memory ends bpsh). */
void
gather_add(struct gather_buf *g, const char *p, size_t len)
{
	char	*nd;
	size_t	 ncap;

	if (len == 0)
		return;
	if (g->len + len > g->cap) {
		ncap = g->cap ? g->cap : 4096;
		while (ncap < g->len + len)
			ncap *= 2;
		if ((nd = realloc(g->data, ncap)) == NULL)
			err(255, "gather");
		g->data = nd;
		g->cap = ncap;
	}
	memcpy(g->data + g->len, p, len);
	g->len += len;
}

static int
out_cmp(const void *a, const void *b)
{
	const struct gather_out	*x = a, *y = b;
	int			 c;

	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	if (x->len > 0 && (c = memcmp(x->data, y->data, x->len)) != 0)
		return c;
	return (x->node > y->node) - (x->node < y->node);
}

static int
block_cmp(const void *a, const void *b)
{
	const struct gather_block	*x = a, *y = b;

	return (x->first > y->first) - (x->first < y->first);
}

static void
write_all(int fd, const char *p, size_t len)
{
	ssize_t	n;

	while (len > 0 && (n = write(fd, p, len)) > 0) {
		p += n;
		len -= (size_t)n;
	}
}

/*
 * Fold outs[0..n-1] (sorted in place) into blocks and print them on fd.
 * Returns the number of blocks, or -1 when out of memory (nothing
 * printed then).
 */
int
gather_print(int fd, struct gather_out *outs, size_t n)
{
	struct gather_block	*b;
	size_t			 i, j, k, nb = 0;
	int			*nodes;
	char			 set[4096];

	if ((b = calloc(n + 1, sizeof(*b))) == NULL ||
	    (nodes = calloc(n + 1, sizeof(*nodes))) == NULL) {
		free(b);
		return -1;
	}
	qsort(outs, n, sizeof(*outs), out_cmp);
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && outs[j].len == outs[i].len &&
		    (outs[i].len == 0 ||
		    memcmp(outs[j].data, outs[i].data, outs[i].len) == 0); j++)
			;
		if (outs[i].len == 0)
			continue;
		b[nb].from = i;
		b[nb].to = j;
		b[nb].first = outs[i].node;	/* the lowest: sorted by node last */
		nb++;
	}
	qsort(b, nb, sizeof(*b), block_cmp);
	for (k = 0; k < nb; k++) {
		const struct gather_out	*o = &outs[b[k].from];

		for (i = b[k].from; i < b[k].to; i++)
			nodes[i - b[k].from] = outs[i].node;
		nodeset_format(set, sizeof(set), nodes, b[k].to - b[k].from);
		dprintf(fd, "%s\n%s (%zu)\n%s\n", GATHER_RULE, set,
		    b[k].to - b[k].from, GATHER_RULE);
		write_all(fd, o->data, o->len);
		if (o->data[o->len - 1] != '\n')
			write_all(fd, "\n", 1);
	}
	free(nodes);
	free(b);
	return (int)nb;
}
