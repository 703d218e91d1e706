/*
 * The shape of a relay tree (relay_tree.c): pure functions over member
 * positions, with no I/O, so tests/unit/test_relay_tree.c can drive them.
 * Members are numbered in the order they joined; parent[i] is the member
 * that feeds member i, or -1 when the master feeds it (a root).  Every
 * function keeps parent[i] < i, so a tree never grows a cycle, however it
 * is repaired.
 */
#ifndef BPROC_RELAY_TREE_H
#define BPROC_RELAY_TREE_H

#include <stddef.h>

/* Member i's parent in a heap of width fanout: -1 for member 0. */
int	relay_tree_parent(size_t, unsigned int);
/* parent[] for n members, fanout wide. */
void	relay_tree_build(size_t, unsigned int, int *);
/*
 * Where member i (ok or not) is fed from when ok[] says which members may
 * serve: its nearest ancestor that may, else the first member before it
 * that the master feeds and that may serve (a new root's subtree), else -1.
 */
int	relay_tree_route(const int *, const unsigned char *, size_t);
/*
 * Repair the tree in place after members stopped being ok: every member
 * whose parent is not ok (itself ok or not: one that may not serve may
 * still be fetching) moves to relay_tree_route's answer.
 * moved[i] is set for each member that moved.  Returns how many moved.
 */
size_t	relay_tree_repair(int *, const unsigned char *, size_t, unsigned char *);

#endif
