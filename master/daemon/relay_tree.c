/*
 * The relay tree's shape (relay_tree.h).  A heap: member i hangs under
 * member (i - 1) / fanout, so the tree is as shallow as the width allows
 * (depth log_fanout N), members join in the order their NEED came and
 * never wait for a later one, and a parent is always ahead of its
 * children in the stream, which is what lets a relay forward while it
 * receives.  A relay that fails hands its children to its own nearest
 * working ancestor: they go on from the bytes they have, so routing
 * around a dead relay costs the master nothing.  Only when no ancestor is
 * left (the root itself failed) does the master feed again, one new root
 * that the other orphans hang under: one more blob's worth at most.
 */
#include <string.h>

#include "relay_tree.h"

int
relay_tree_parent(size_t i, unsigned int fanout)
{
	if (i == 0 || fanout == 0)
		return -1;
	return (int)((i - 1) / fanout);
}

void
relay_tree_build(size_t n, unsigned int fanout, int *parent)
{
	size_t	i;

	for (i = 0; i < n; i++)
		parent[i] = relay_tree_parent(i, fanout);
}

int
relay_tree_route(const int *parent, const unsigned char *ok, size_t i)
{
	size_t	j;
	int	p;

	for (p = parent[i]; p >= 0 && !ok[p]; p = parent[p])
		;
	if (p >= 0)
		return p;
	/* the root is gone: the first new root before i takes its place */
	for (j = 0; j < i; j++)
		if (ok[j] && parent[j] < 0)
			return (int)j;
	return -1;
}

size_t
relay_tree_repair(int *parent, const unsigned char *ok, size_t n,
    unsigned char *moved)
{
	size_t	i, nmoved = 0;
	int	p;

	memset(moved, 0, n);
	/*
	 * In join order: an earlier orphan is a root by the time a later
	 * asks.  A member that may not serve (it failed a child) may still
	 * be fetching: it moves too, or it waits on a parent that is gone.
	 */
	for (i = 0; i < n; i++) {
		if (parent[i] < 0 || ok[parent[i]])
			continue;
		p = relay_tree_route(parent, ok, i);
		if (p != parent[i]) {
			parent[i] = p;
			moved[i] = 1;
			nmoved++;
		}
	}
	return nmoved;
}
