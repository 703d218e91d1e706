/*
 * bpcp's pure parsing: "N:path" operands, the source's header line, and
 * a path's last component.  No I/O, so the unit tests take it alone.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpcp.h"

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

/* The last path component, with trailing slashes ignored. */
const char *
path_base(const char *path, char *buf, size_t len)
{
	size_t		 n = strlen(path);
	const char	*s;

	while (n > 1 && path[n - 1] == '/')
		n--;
	for (s = path + n; s > path && s[-1] != '/'; s--)
		;
	snprintf(buf, len, "%.*s", (int)(n - (size_t)(s - path)), s);
	return buf;
}

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
