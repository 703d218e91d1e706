/*
 * libbproc, BProc 4 layer: node sets (struct bproc_node_set_t) and
 * bproc_nodefilter, BProc's filter strings over a set already read:
 *
 *	3  n3  .3	node 3 (if the set has it)
 *	1-5  n1-n5	a range; "4-" runs to the highest node of the set
 *	all		every node of the set
 *	master		the front end (node -1, "up", mode 0111)
 *	up  allup	every node whose status is "up" ("all" is a no-op prefix)
 *	!up  notup	every node whose status is not "up"
 *
 * Terms are comma-separated and add to the result in the order written
 * (a node named twice is there twice, as in BProc).  Any other term makes
 * the whole filter fail with EINVAL and an empty result.  bproc_nodespec,
 * which reads the cluster's list first, takes bproc-ng's own node-set
 * syntax instead (bproc4_node.c).
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <sys/bproc.h>
#include "bproc4_int.h"

#define NODESET_CHUNK	64	/* entries a set grows by */

int
bproc_nodeset_init(struct bproc_node_set_t *ns, int size)
{
	ns->size = ns->alloc = 0;
	ns->node = NULL;
	if (size <= 0)
		return 0;
	if ((size_t)size > SIZE_MAX / sizeof(*ns->node) ||
	    (ns->node = calloc((size_t)size, sizeof(*ns->node))) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	ns->size = ns->alloc = size;
	return 0;
}

void
bproc_nodeset_free(struct bproc_node_set_t *ns)
{
	free(ns->node);
	ns->node = NULL;
	ns->size = ns->alloc = 0;
}

/* Room for size entries (the size kept as it is). */
int
bproc_nodeset_grow(struct bproc_node_set_t *ns, int size)
{
	struct bproc_node_info_t	*n;
	size_t				 want;

	if (size < 0) {
		errno = EINVAL;
		return -1;
	}
	if (size <= ns->alloc)
		return 0;
	want = ((size_t)size + NODESET_CHUNK - 1) / NODESET_CHUNK * NODESET_CHUNK;
	if (want > INT_MAX || want > SIZE_MAX / sizeof(*n) ||
	    (n = realloc(ns->node, want * sizeof(*n))) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	ns->node = n;
	ns->alloc = (int)want;
	return 0;
}

int
bproc_nodeset_add(struct bproc_node_set_t *ns, struct bproc_node_info_t *n)
{
	if (ns->size == INT_MAX) {
		errno = ENOMEM;
		return -1;
	}
	if (bproc_nodeset_grow(ns, ns->size + 1) == -1)
		return -1;
	ns->node[ns->size++] = *n;
	return 0;
}

int
bproc_nodeset_append(struct bproc_node_set_t *a, struct bproc_node_set_t *b)
{
	int	i, n = b->size;

	if (n > INT_MAX - a->size) {
		errno = ENOMEM;
		return -1;
	}
	if (bproc_nodeset_grow(a, a->size + n) == -1)
		return -1;
	/* b may be a itself: copy the count taken before */
	for (i = 0; i < n; i++)
		a->node[a->size++] = b->node[i];
	return 0;
}

/* A node number at s (n3, .3, 3): its length, or 0 when there is none. */
static size_t
filter_number(const char *s, size_t len, long *num)
{
	size_t	i = 0;
	long	v = 0;

	if (i < len && (s[i] == 'n' || s[i] == '.'))
		i++;
	if (i == len || !isdigit((unsigned char)s[i]))
		return 0;
	for (; i < len && isdigit((unsigned char)s[i]); i++) {
		v = v * 10 + (s[i] - '0');
		if (v > INT_MAX)
			return 0;
	}
	*num = v;
	return i;
}

static int
filter_range(struct bproc_node_set_t *out, const struct bproc_node_set_t *in,
    long lo, long hi)
{
	int	i;

	for (i = 0; i < in->size; i++)
		if (in->node[i].node >= lo && in->node[i].node <= hi &&
		    bproc_nodeset_add(out, &in->node[i]) == -1)
			return -1;
	return 0;
}

static int
filter_highest(const struct bproc_node_set_t *in)
{
	int	i, max = -1;

	for (i = 0; i < in->size; i++)
		if (in->node[i].node > max)
			max = in->node[i].node;
	return max;
}

/* One term of len bytes: 0 when it was understood, -1 otherwise. */
static int
filter_term(struct bproc_node_set_t *out, const struct bproc_node_set_t *in,
    const char *s, size_t len)
{
	struct bproc_node_info_t	 master;
	long				 lo, hi;
	size_t				 n, m;
	int				 i, invert = 0;

	if ((n = filter_number(s, len, &lo)) > 0) {
		if (n == len)
			return filter_range(out, in, lo, lo);
		if (s[n] != '-')
			return -1;
		if (n + 1 == len)
			return filter_range(out, in, lo, filter_highest(in));
		m = filter_number(s + n + 1, len - n - 1, &hi);
		if (m != len - n - 1 || hi < lo)
			return -1;
		return filter_range(out, in, lo, hi);
	}
	if (len == 6 && strncmp(s, "master", 6) == 0) {
		memset(&master, 0, sizeof(master));
		master.node = BPROC_NODE_MASTER;
		strcpy(master.status, "up");
		master.mode = 0111;
		return bproc_nodeset_add(out, &master);
	}
	if (len == 3 && strncmp(s, "all", 3) == 0)
		return filter_range(out, in, INT_MIN, INT_MAX);
	/* a state name, perhaps after "all" and then "!" or "not" */
	if (len > 3 && strncmp(s, "all", 3) == 0) {
		s += 3;
		len -= 3;
	}
	if (len > 1 && s[0] == '!') {
		invert = 1;
		s++;
		len--;
	} else if (len > 3 && strncmp(s, "not", 3) == 0) {
		invert = 1;
		s += 3;
		len -= 3;
	}
	if (len == 0 || len > BPROC_STATE_LEN || !isalpha((unsigned char)s[0]))
		return -1;
	for (n = 1; n < len; n++)
		if (!isalnum((unsigned char)s[n]) && s[n] != '_')
			return -1;
	for (i = 0; i < in->size; i++) {
		const char	*st = in->node[i].status;
		int		 match = strncmp(st, s, len) == 0 &&
				    st[len] == '\0';

		if (match != invert && bproc_nodeset_add(out, &in->node[i]) == -1)
			return -1;
	}
	return 0;
}

int
bproc_nodefilter(struct bproc_node_set_t *out, struct bproc_node_set_t *in,
    const char *str)
{
	const char	*s = str, *end;
	int		 saved;

	bproc_nodeset_init(out, 0);
	if (str == NULL || in == NULL || in->size < 0 ||
	    (in->size > 0 && in->node == NULL)) {
		errno = EINVAL;
		return -1;
	}
	while (*s != '\0') {
		if (*s == ',') {
			s++;
			continue;
		}
		end = strchr(s, ',');
		if (end == NULL)
			end = s + strlen(s);
		errno = 0;
		if (filter_term(out, in, s, (size_t)(end - s)) == -1) {
			saved = errno == ENOMEM ? ENOMEM : EINVAL;
			bproc_nodeset_free(out);
			return bproc4_fail(saved, "bad node filter '%s'", str);
		}
		s = end;
	}
	return 0;
}
