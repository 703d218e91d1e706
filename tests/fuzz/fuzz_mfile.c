/*
 * Fuzz target for the node's manifest parser, nodeinit/fetch.c
 * mfile_parse(): the input is the payload of one A_MFILE attribute, as
 * an EXEC or SETUP from the master carries it.  Accepted means
 * mfile_parse() returned 0; then what it filled in must hold what the rest
 * of fetch.c relies on, or the target aborts:
 *  - the path is absolute, NUL-terminated inside the payload, without a
 *    ".." component;
 *  - the type is MFILE_REG (no target) or MFILE_LINK (a NUL-terminated
 *    target inside the payload, after the path);
 *  - the mode has no bits beyond 07777.
 *
 * fetch.c is included whole so that its static parser is reachable
 * without a hook in it.
 */
#include "nodeinit/fetch.c"

#include "fuzz.h"

/*
 * What fetch.c calls in link.c and proc.c; nothing of it runs here.  The
 * real cache.c and pending.c are linked (only called, never reached,
 * from here).
 */
int	link_send_msg(struct wire_msg *m) { (void)m; return 0; }
void	link_setup_done(void) { }
void	spawn_exec(const struct wire_hdr *h, struct wire_attr *tb,
	    const unsigned char *b, size_t l) { (void)h; (void)tb; (void)b; (void)l; }

static int
inside(const void *p, const unsigned char *buf, size_t len)
{
	return (const unsigned char *)p >= buf &&
	    (const unsigned char *)p < buf + len;
}

static int
has_dotdot(const char *p)
{
	const char	*s;

	for (s = p; (s = strstr(s, "..")) != NULL; s++)
		if ((s == p || s[-1] == '/') && (s[2] == '/' || s[2] == '\0'))
			return 1;
	return 0;
}

int
fuzz_verdict(const uint8_t *data, size_t size)
{
	struct wire_attr	a;
	struct mfile		f;
	size_t			n;

	memset(&a, 0, sizeof(a));
	a.type = A_MFILE;
	a.data = data;
	a.len = size;
	if (size > UINT16_MAX)
		return 0;	/* an attribute's length is 16 bits */
	if (mfile_parse(&a, &f, &(struct pusher){ 0, 0, 0 }) == -1)
		return 0;
	if (f.path == NULL || !inside(f.path, data, size) || f.path[0] != '/')
		abort();
	n = strnlen(f.path, (size_t)(data + size - (const uint8_t *)f.path));
	if ((const uint8_t *)f.path + n >= data + size || has_dotdot(f.path))
		abort();
	if (f.mode & ~07777u)
		abort();
	if (f.type == MFILE_REG) {
		if (f.target != NULL)
			abort();
	} else if (f.type == MFILE_LINK) {
		if (f.target == NULL || !inside(f.target, data, size) ||
		    f.target <= f.path)
			abort();
		n = strnlen(f.target,
		    (size_t)(data + size - (const uint8_t *)f.target));
		if ((const uint8_t *)f.target + n >= data + size)
			abort();
	} else
		abort();
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_verdict(data, size);
	return 0;
}
