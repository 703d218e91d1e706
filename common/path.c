/*
 * Lexical path clean-up.  Symlink targets in a manifest are resolved
 * against the node's real directories, which the manifest itself creates,
 * so the lexical form is what the node will find.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "htab.h"
#include "path.h"

/* Collapse "//", "/./" and "dir/.." in place; "" becomes "/". */
void
path_clean(char *p)
{
	char	*out = p, *in = p, *seg;

	while (*in) {
		while (*in == '/')
			in++;
		seg = in;
		while (*in && *in != '/')
			in++;
		if (in == seg || (in - seg == 1 && seg[0] == '.'))
			continue;
		if (in - seg == 2 && seg[0] == '.' && seg[1] == '.') {
			while (out > p && *--out != '/')
				;
			continue;
		}
		*out++ = '/';
		memmove(out, seg, (size_t)(in - seg));
		out += in - seg;
	}
	if (out == p)
		*out++ = '/';
	*out = '\0';
}

/* The directory part of path ("/" for "/x", "." for "x"). */
void
path_dir(const char *path, char *out, size_t len)
{
	const char	*s = strrchr(path, '/');

	if (s == NULL)
		snprintf(out, len, ".");
	else if (s == path)
		snprintf(out, len, "/");
	else
		snprintf(out, len, "%.*s", (int)(s - path), path);
}

/*
 * Where the symlink at path with this target points, as a clean absolute
 * path (a relative target is taken from the link's directory).
 */
void
path_link_target(const char *path, const char *target, char *out, size_t len)
{
	char	dir[4096];

	if (target[0] == '/')
		snprintf(out, len, "%s", target);
	else {
		path_dir(path, dir, sizeof(dir));
		snprintf(out, len, "%s/%s", dir, target);
	}
	path_clean(out);
}

/* The last path component, trailing slashes ignored ("" for "/"). */
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

/* A string's hash, for the path-keyed tables of master and node. */
uint32_t
path_hash(const char *s)
{
	return (uint32_t)htab_hash(s, strlen(s));
}
