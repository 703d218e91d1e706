/*
 * bpstat's cells: user and group names (looked up once per id), ls-style
 * modes, sizes, ages, MACs and JSON strings.  Pure formatting.
 */
#include <err.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpstat_int.h"
#include "htab.h"

struct idname {
	unsigned int	 id;
	char		*name;
};

struct idcache {
	struct idname	*ent;
	size_t		 n;
	size_t		 cap;
	struct htab	 index;		/* id -> index into ent */
	int		 isgroup;
};

static struct idcache	users = { .isgroup = 0 };
static struct idcache	groups = { .isgroup = 1 };

void *
xcalloc(size_t n, size_t size)
{
	void	*p;

	/* calloc(0) may answer NULL; callers only want a valid pointer */
	if ((p = calloc(n ? n : 1, size ? size : 1)) == NULL)
		err(1, NULL);
	return p;
}

static char *
xstrdup(const char *s)
{
	char	*p;

	if ((p = strdup(s)) == NULL)
		err(1, NULL);
	return p;
}

/* What id_eq looks for: an id in one cache. */
struct idkey {
	const struct idcache	*c;
	unsigned int		 id;
};

static int
id_eq(uintptr_t v, const void *key)
{
	const struct idkey	*k = key;

	return k->c->ent[v].id == k->id;
}

/*
 * Names are looked up once per id: a live view redraws often, and a
 * getpwuid() through LDAP per node and redraw would be slow.
 */
static const char *
id_name(struct idcache *c, unsigned int id)
{
	struct idname	*ne;
	struct passwd	*pw;
	struct group	*gr;
	const char	*name = NULL;
	struct idkey	 key = { c, id };
	uint64_t	 h = htab_mix(0, id);
	uintptr_t	 v;
	char		 num[16];

	if (htab_get(&c->index, h, id_eq, &key, &v))
		return c->ent[v].name;
	if (c->isgroup) {
		if ((gr = getgrgid((gid_t)id)) != NULL)
			name = gr->gr_name;
	} else if ((pw = getpwuid((uid_t)id)) != NULL)
		name = pw->pw_name;
	if (name == NULL) {
		snprintf(num, sizeof(num), "%u", id);
		name = num;
	}
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 16;
		if ((ne = reallocarray(c->ent, c->cap, sizeof(*ne))) == NULL)
			err(1, NULL);
		c->ent = ne;
	}
	c->ent[c->n].id = id;
	c->ent[c->n].name = xstrdup(name);
	if (htab_put(&c->index, h, c->n) == -1)
		err(1, NULL);
	return c->ent[c->n++].name;
}

const char *
user_name(uid_t uid)
{
	return id_name(&users, (unsigned int)uid);
}

const char *
group_name(gid_t gid)
{
	return id_name(&groups, (unsigned int)gid);
}

/*
 * ls(1)'s ten characters, a regular file's '-' first, as BProc printed
 * them: "---x--x--x" for 0111.  Set-id and sticky bits show as ls does.
 */
void
mode_string(char *buf, unsigned int mode)
{
	static const char	rwx[] = "rwx";
	int			i;

	buf[0] = '-';
	for (i = 0; i < 9; i++)
		buf[i + 1] = (mode & (0400u >> i)) ? rwx[i % 3] : '-';
	if (mode & 04000)
		buf[3] = (mode & 0100) ? 's' : 'S';
	if (mode & 02000)
		buf[6] = (mode & 0010) ? 's' : 'S';
	if (mode & 01000)
		buf[9] = (mode & 0001) ? 't' : 'T';
	buf[10] = '\0';
}

/*
 * A node reports its own address; a control character in it must not
 * reach the terminal as one.
 */
const char *
printable(char *buf, size_t len, const char *s)
{
	size_t	i;

	for (i = 0; s[i] != '\0' && i + 1 < len; i++)
		buf[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ?
		    '?' : s[i];
	buf[i] = '\0';
	return buf;
}

/* Binary units as free -h prints them: 512B, 4.0K, 1.2G, 38G. */
void
fmt_size(char *buf, size_t len, uint64_t v)
{
	static const char	units[] = "BKMGTPE";
	double			d = (double)v;
	int			u = 0;

	if (v < 1024) {
		snprintf(buf, len, "%" PRIu64 "B", v);
		return;
	}
	while (d >= 1024 && u < 6) {
		d /= 1024;
		u++;
	}
	snprintf(buf, len, d < 9.95 ? "%.1f%c" : "%.0f%c", d, units[u]);
}

/* Last-seen age: tenths of a second while it is fresh, then coarser. */
void
fmt_age(char *buf, size_t len, uint64_t ms)
{
	if (ms == UINT64_MAX)
		snprintf(buf, len, "-");
	else if (ms < 60000)
		snprintf(buf, len, "%u.%us", (unsigned int)(ms / 1000),
		    (unsigned int)(ms % 1000 / 100));
	else
		fmt_uptime(buf, len, ms / 1000);
}

void
fmt_uptime(char *buf, size_t len, uint64_t s)
{
	if (s < 60)
		snprintf(buf, len, "%" PRIu64 "s", s);
	else if (s < 3600)
		snprintf(buf, len, "%" PRIu64 "m%02" PRIu64 "s", s / 60,
		    s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%" PRIu64 "h%02" PRIu64 "m", s / 3600,
		    s % 3600 / 60);
	else
		snprintf(buf, len, "%" PRIu64 "d%02" PRIu64 "h", s / 86400,
		    s % 86400 / 3600);
}

/* aa:bb:cc:dd:ee:ff */
void
fmt_mac(char *buf, size_t len, const unsigned char *m)
{
	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2],
	    m[3], m[4], m[5]);
}

/* RFC 8259 string: quotes, backslashes and control characters escaped. */
void
json_str(FILE *f, const char *s)
{
	const unsigned char	*p;

	putc('"', f);
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\b':
			fputs("\\b", f);
			break;
		case '\f':
			fputs("\\f", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				fprintf(f, "\\u%04x", *p);
			else
				putc(*p, f);
		}
	}
	putc('"', f);
}
