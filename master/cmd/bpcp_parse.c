/*
 * bpcp's pure parsing: "N:path" operands and the source's header line.
 * No I/O, so the unit tests take it alone.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpcp_int.h"

/* "3:path" or "n3:path" is on node 3; anything else is a local path. */
void
loc_parse(const char *arg, struct loc *l)
{
	const char	*p = arg;
	char		*end;
	long		 n;

	l->node = NODE_LOCAL;
	l->path = arg;
	if (*p == 'n')
		p++;
	if (*p < '0' || *p > '9')
		return;
	errno = 0;
	n = strtol(p, &end, 10);
	if (*end != ':' || errno != 0 || n > INT_MAX)
		return;
	l->node = (int)n;
	/* "3:" alone is the node's current directory, as rcp's home */
	l->path = end[1] != '\0' ? end + 1 : ".";
}

/* "F size mode mtime uid gid" (or "D ..."), as the source script prints. */
int
hdr_parse(const char *line, struct hdr *h)
{
	unsigned long long	size;

	if (sscanf(line, "%c %llu %o %lld %lu %lu", &h->kind, &size, &h->mode,
	    &h->mtime, &h->uid, &h->gid) != 6 ||
	    (h->kind != 'F' && h->kind != 'D'))
		return -1;
	h->size = size;
	return 0;
}
