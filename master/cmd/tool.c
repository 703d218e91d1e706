/*
 * The node tools' shared part: the node-table snapshot node sets are
 * parsed against, and the report of a master that failed the tool.
 */
#include <err.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bproc.h"
#include "nodeset.h"
#include "tool.h"

static int
info_by_node(const void *a, const void *b)
{
	const struct bproc_node_info	*x = a, *y = b;

	return (x->node > y->node) - (x->node < y->node);
}

static void *
tool_calloc(size_t n, size_t size)
{
	void	*p;

	/* calloc(0) may answer NULL; callers only want a valid pointer */
	if ((p = calloc(n ? n : 1, size ? size : 1)) == NULL)
		err(1, NULL);
	return p;
}

/*
 * Take the node table: 0, or -1 with errno when the master failed us
 * (bproc_strerror() says how).  Running out of memory ends the tool.
 */
int
tool_snap_take(struct tool_snap *s)
{
	int	i, n, node;

	memset(s, 0, sizeof(*s));
	if ((n = bproc_nodelist(&s->nodes)) < 0)
		return -1;
	qsort(s->nodes, (size_t)n, sizeof(*s->nodes), info_by_node);
	/*
	 * Records with a number no node set can name, or a repeated one, can
	 * only come from a broken master; leave them out rather than index
	 * arrays with them.
	 */
	for (i = 0; i < n; i++) {
		node = s->nodes[i].node;
		if (node < 0 || node > NODESET_MAX ||
		    (s->nnodes > 0 && s->nodes[s->nnodes - 1].node == node))
			continue;
		s->nodes[s->nnodes++] = s->nodes[i];
		s->numnodes = node + 1;
	}
	s->states = tool_calloc((size_t)s->numnodes + 1, sizeof(*s->states));
	s->index = tool_calloc((size_t)s->numnodes + 1, sizeof(*s->index));
	for (i = 0; i < s->numnodes; i++)
		s->index[i] = -1;
	for (i = 0; i < s->nnodes; i++) {
		s->states[s->nodes[i].node] = s->nodes[i].state;
		s->index[s->nodes[i].node] = i;
	}
	return 0;
}

void
tool_snap_free(struct tool_snap *s)
{
	free(s->nodes);
	free(s->states);
	free(s->index);
	memset(s, 0, sizeof(*s));
}

/* Is there a node with this number in the snapshot? */
int
tool_snap_has(const struct tool_snap *s, int node)
{
	return node >= 0 && node < s->numnodes && s->index[node] >= 0;
}

/*
 * libbproc keeps a message when it has one ("cannot reach bpmaster at
 * PATH: ..."); a bare errno text gets a prefix so it is clear who failed.
 */
void
tool_master_fail(void)
{
	int		 saved = errno;
	const char	*msg = bproc_strerror();

	if (strcmp(msg, strerror(saved)) == 0)
		errx(TOOL_EXIT_MASTER, "bpmaster: %s", msg);
	errx(TOOL_EXIT_MASTER, "%s", msg);
}

/*
 * Did a node change fail because the master could not be reached at
 * all?  These are the errnos of libbproc's connect (libbproc(3),
 * ERRORS); the master answers a change with EPERM, EINVAL, ENODEV,
 * EBUSY, EHOSTDOWN or EIO, never with one of them.
 */
int
tool_master_unreachable(int e)
{
	return e == ENOENT || e == ECONNREFUSED || e == EACCES ||
	    e == ENAMETOOLONG;
}
