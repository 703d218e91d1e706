/*
 * bpstat's snapshot: the node table (tool_snap_take) and the nodes the
 * command line selects from it, in display order.
 */
#include <err.h>
#include <stdlib.h>
#include <string.h>

#include "bpstat_int.h"
#include "nodeset.h"

/* qsort(3) has no context argument; the comparators read these. */
enum sort_key	sort_by = SORT_NODE;
int		sort_reverse;

/* Sorting compares what the user sees: state and user/group names. */
static int
key_cmp(const struct bproc_node_info *x, const struct bproc_node_info *y)
{
	switch (sort_by) {
	case SORT_STATE:
		return strcmp(bproc_state_name(x->state),
		    bproc_state_name(y->state));
	case SORT_OWNER:
		return strcmp(user_name(x->uid), user_name(y->uid));
	case SORT_GROUP:
		return strcmp(group_name(x->gid), group_name(y->gid));
	case SORT_NODE:
		break;
	}
	return 0;
}

/* For qsort of struct bproc_node_info pointers; ties go by node number. */
int
info_cmp(const void *a, const void *b)
{
	const struct bproc_node_info	*const *pa = a, *const *pb = b;
	const struct bproc_node_info	*x = *pa, *y = *pb;
	int				 c;

	if ((c = key_cmp(x, y)) == 0)
		c = (x->node > y->node) - (x->node < y->node);
	return sort_reverse ? -c : c;
}

/*
 * Take a snapshot and select the nodes the command line names (all of
 * them when it names none).  Node sets are parsed against this snapshot's
 * states, so `bpstat up` in the live view follows the nodes as they change.
 */
enum snap_result
snap_select(struct snap *s, const struct bpstat *bs, char *errbuf,
    size_t errlen)
{
	struct nodeset	 set = { NULL, 0, 0 };
	char		*named = NULL;
	size_t		 j;
	int		 i, n, node;

	memset(s, 0, sizeof(*s));
	if (tool_snap_take(&s->t) == -1)
		return SNAP_MASTER;
	n = s->t.nnodes;
	for (i = 0; i < n; i++)
		if (s->t.nodes[i].state == BPROC_STATE_UP)
			s->nup++;
	s->selected = xcalloc((size_t)n, 1);
	if (bs->nspecs == 0)
		memset(s->selected, 1, (size_t)n);
	else {
		named = xcalloc(NODESET_MAX + 1, 1);
		s->missing = xcalloc(NODESET_MAX + 1, sizeof(*s->missing));
	}
	for (i = 0; i < bs->nspecs; i++) {
		if (nodeset_parse(&set, bs->specs[i], s->t.numnodes,
		    s->t.states, errbuf, errlen) == -1) {
			free(named);
			nodeset_free(&set);
			return SNAP_BADSET;
		}
		for (j = 0; j < set.count; j++) {
			node = set.nodes[j];
			if (named[node])
				continue;
			named[node] = 1;
			if (tool_snap_has(&s->t, node))
				s->selected[s->t.index[node]] = 1;
			else
				s->missing[s->nmissing++] = node;
		}
	}
	nodeset_free(&set);
	free(named);

	s->sel = xcalloc((size_t)n, sizeof(*s->sel));
	for (i = 0; i < n; i++)
		if (s->selected[i])
			s->sel[s->nsel++] = &s->t.nodes[i];
	qsort(s->sel, s->nsel, sizeof(*s->sel), info_cmp);
	return SNAP_OK;
}

/* snap_select, or the tool's end: exit 3 for the master, 2 for a bad set. */
void
snap_or_exit(struct snap *s, const struct bpstat *bs)
{
	char	errbuf[256];

	switch (snap_select(s, bs, errbuf, sizeof(errbuf))) {
	case SNAP_OK:
		return;
	case SNAP_MASTER:
		tool_master_fail();
	case SNAP_BADSET:
		errx(EXIT_USAGE, "%s", errbuf);
	}
}

void
snap_release(struct snap *s)
{
	tool_snap_free(&s->t);
	free(s->selected);
	free(s->sel);
	free(s->missing);
	memset(s, 0, sizeof(*s));
}
