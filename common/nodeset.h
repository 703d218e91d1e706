/*
 * Node states and the node-set parser that bpsh, bpctl and bpstat share.
 *
 * A node set is a comma-separated list of terms, no whitespace:
 *
 *	7  n7			one node (leading zeros allowed: n007 is 7)
 *	0-3  n0-n3  n0-3	an inclusive range
 *	n[0-3,7,9-10]  [0-3]	pdsh/ClusterShell brackets
 *	all  allup		every node; every node that is up
 *	up  down  boot ...	every node in that state
 *	!TERM			remove TERM's nodes from the set so far; when
 *				the first term is negated the set starts as all
 *
 * The result keeps the order the user wrote, without duplicates: the first
 * occurrence wins, and a node removed by `!` and named again goes to the
 * end.  Numbers past the cluster's size are kept (the tool reports "No such
 * node" per node); numbers past NODESET_MAX are a parse error.
 */
#ifndef BPROC_NODESET_H
#define BPROC_NODESET_H

#include <stddef.h>

/* On the wire as A_STATE (u8): append only, never renumber. */
enum node_state {
	NODE_DOWN = 0,		/* not connected (BProc: reserved slot) */
	NODE_BOOT,		/* connected, setup running */
	NODE_UP,
	NODE_ERROR,
	NODE_UNAVAILABLE,	/* set by the administrator */
	NODE_REBOOT,		/* transient, on the way down */
	NODE_HALT,
	NODE_PWROFF,
	NODE_NSTATES
};

#define NODESET_MAX	65536	/* highest node count a set can name */

struct nodeset {
	int	*nodes;		/* in the order written, duplicates removed */
	size_t	 count;
	size_t	 cap;		/* never more than NODESET_MAX + 1 */
};

/* "down", "boot", "up", ...; "?" when out of range. */
const char	*node_state_name(int);
/* Inverse of node_state_name (exact, lower case); -1 when unknown. */
int		 node_state_parse(const char *);

/*
 * Parse spec against a cluster of numnodes nodes (0 .. NODESET_MAX + 1)
 * whose states are states[0 .. numnodes - 1].  states may be NULL when
 * there is no snapshot; then allup and state names are an error (unless
 * numnodes is 0, when they name no node).  On success returns 0 and replaces
 * the contents of set (zero-initialised by the caller, or filled by an
 * earlier nodeset_parse); the set may be empty (`!all`, or `down` when
 * nothing is down).  On failure returns -1, leaves set untouched and
 * writes a one-line message to err (if errlen > 0), such as
 * "bad node set 'n[3-': missing ']'".
 */
int		 nodeset_parse(struct nodeset *, const char *spec, int numnodes,
		    const int *states, char *err, size_t errlen);
void		 nodeset_free(struct nodeset *);
/* One node name, "3" or "n3"; -1 when s is not one (as in `bpsh 3 cmd`). */
int		 nodeset_node_parse(const char *s);
/*
 * nodes[0 .. n-1] (sorted in place) in compact form, "0-3,7", into buf
 * (len bytes, "..." at the end when cut); returns the whole form's length.
 */
size_t		 nodeset_format(char *buf, size_t len, int *nodes, size_t n);

#endif
