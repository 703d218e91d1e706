/*
 * bpstat: print bpmaster's node table.
 *
 * Every view is printed from one snapshot (bproc_nodelist), so the lines of
 * one run agree with each other even while nodes come and go.  The live
 * view (-U) takes a new snapshot whenever the master says the table changed
 * and redraws at once; it polls nothing on a timer except, in the long
 * view, the last-seen ages, which it refreshes once a second while they are
 * on screen.
 *
 * -p prints the process space instead: one row per remote process
 * (bproc_proclist), BProc's "PID<TAB>Node" columns first so old scripts
 * still cut them, then the PID on the node, the owner and the command.
 *
 * Exit status: 0 ok; 1 a node named on the command line does not exist (or
 * -U lost the master, or the tool ran out of memory); 2 usage error; 3
 * bpmaster cannot be reached or closed the connection (it refuses one
 * when a user holds too many).
 */
#include <sys/ioctl.h>

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "bproc.h"
#include "nodeset.h"

#define EXIT_NONODE	1	/* a named node is missing; -U lost bpmaster */
#define EXIT_USAGE	2
#define EXIT_MASTER	3	/* bpmaster cannot be reached, or hung up */
#define TABLE_COLS_MAX	16	/* the widest view (-l) has 15 columns */
#define LIVE_TICK_MS	1000	/* -U -l: refresh of the last-seen ages */
#define LIVE_KEYBUF	64	/* keys read from the terminal at once */

enum view {
	VIEW_GROUPED = 0,	/* default: nodes alike share a line */
	VIEW_LONG,		/* -l */
	VIEW_ADDR,		/* -a */
	VIEW_JSON,		/* --json */
	VIEW_COUNT_ALL,		/* -N, -t */
	VIEW_COUNT_UP		/* -u */
};

enum sort_key {
	SORT_NODE = 0, SORT_STATE, SORT_OWNER, SORT_GROUP
};

struct bpstat {
	enum view	  view;
	int		  view_set;	/* a view flag was given */
	char		  view_flag;	/* which one, for the message */
	enum sort_key	  sort;
	char		  sort_flag;	/* the sort option given, 0 if none */
	int		  reverse;
	int		  procs;	/* -p: the process table */
	int		  live;
	char		**specs;	/* node sets from the command line */
	int		  nspecs;
};

/* One snapshot of the node table and the selection made from it. */
struct snap {
	struct bproc_node_info	 *nodes;	/* sorted by node number */
	int			  nnodes;
	int			  numnodes;	/* highest node number + 1 */
	int			  nup;
	int			 *states;	/* by node number */
	char			 *selected;	/* by index into nodes[] */
	struct bproc_node_info	**sel;		/* selected, in display order */
	size_t			  nsel;
	int			 *missing;	/* named, but no such node */
	size_t			  nmissing;
};

enum snap_result {
	SNAP_OK = 0, SNAP_MASTER, SNAP_BADSET
};

/* Cells of a text table; columns are as wide as their widest cell. */
struct table {
	size_t		  ncols;
	const char	*const *head;
	const int	 *minw;
	char		**cells;
	size_t		  ncells;
	size_t		  cap;
};

/* Nodes of the grouped view that share state, owner, group and mode. */
struct nodegroup {
	const struct bproc_node_info	*first;	/* lowest node: the key */
	int				*nodes;	/* ascending */
	size_t				 n;
	size_t				 cap;
};

struct idname {
	unsigned int	 id;
	char		*name;
};

struct idcache {
	struct idname	*ent;
	size_t		 n;
	size_t		 cap;
	int		 isgroup;
};

static void		 usage(int) __attribute__((noreturn));
static void		 master_fail(void) __attribute__((noreturn));
static void		*xcalloc(size_t, size_t);
static char		*xstrdup(const char *);
static const char	*id_name(struct idcache *, unsigned int);
static const char	*user_name(uid_t);
static const char	*group_name(gid_t);
static void		 mode_string(char *, unsigned int);
static const char	*printable(char *, size_t, const char *);
static void		 fmt_size(char *, size_t, uint64_t);
static void		 fmt_age(char *, size_t, uint64_t);
static void		 fmt_uptime(char *, size_t, uint64_t);
static int		 info_by_node(const void *, const void *);
static int		 info_cmp(const void *, const void *);
static int		 key_cmp(const struct bproc_node_info *,
			    const struct bproc_node_info *);
static int		 group_cmp(const void *, const void *);
static enum snap_result	 snap_take(struct snap *, const struct bpstat *,
			    char *, size_t);
static void		 snap_free(struct snap *);
static void		 table_init(struct table *, size_t, const char *const *,
			    const int *);
static void		 table_cell(struct table *, const char *, ...)
			    __attribute__((format(printf, 2, 3)));
static void		 table_print(FILE *, const struct table *);
static void		 table_free(struct table *);
static void		 view_grouped(FILE *, const struct snap *);
static void		 view_long(FILE *, const struct snap *);
static void		 view_addr(FILE *, const struct snap *);
static void		 view_json(FILE *, const struct snap *);
static void		 json_str(FILE *, const char *);
static void		 view_print(FILE *, const struct bpstat *,
			    const struct snap *);
static void		 set_view(struct bpstat *, enum view, char);
static int		 live_run(const struct bpstat *);
static int		 proc_cmp(const void *, const void *);
static void		 procs_text(FILE *, struct bproc_proc_info **, size_t);
static void		 procs_json(FILE *, struct bproc_proc_info **, size_t);
static int		 procs_run(const struct bpstat *);

static struct idcache	users = { NULL, 0, 0, 0 };
static struct idcache	groups = { NULL, 0, 0, 1 };
/* qsort(3) has no context argument; the comparators read these. */
static enum sort_key	sort_by = SORT_NODE;
static int		sort_reverse;

static void
usage(int status)
{
	static const char	synopsis[] =
	    "usage: bpstat [-l | -a | --json | -N | -t | -u]"
	    " [-n | -s | -O | -G] [-r]\n"
	    "              [-U] [nodes ...]\n"
	    "       bpstat -p [--json] [-n | -O] [-r] [nodes ...]\n";

	/* a mistake gets the synopsis; -h the whole story */
	if (status != 0) {
		fputs(synopsis, stderr);
		exit(status);
	}
	fputs(synopsis, stdout);
	fputs(
	    "  -l       long view: one line per node with address, boot\n"
	    "           stage, last-seen age, load, cpus, memory, uptime,\n"
	    "           processes, cache and push bytes\n"
	    "  -a       node addresses and MACs\n"
	    "  --json   JSON array, one object per node and line\n"
	    "  -N, -t   print only the number of nodes\n"
	    "  -u       print only the number of nodes that are up\n"
	    "  -n       sort by node number (default)\n"
	    "  -s       sort by state\n"
	    "  -O       sort by owner\n"
	    "  -G       sort by group\n"
	    "  -r       reverse the order\n"
	    "  -U       live view, redrawn when the node table changes;\n"
	    "           q quits\n"
	    "  -p       remote processes: PID, Node, RPID (the PID on the\n"
	    "           node, - when the same), User, Command, tab-separated;\n"
	    "           with --json one object per process; sorted by node\n"
	    "           and PID, or by user with -O\n"
	    "  nodes    node sets such as 0-3, n[0-7], up, '!down'; with -p\n"
	    "           only the processes on those nodes\n"
	    "exit status: 0 ok, 1 a named node does not exist (or -U lost\n"
	    "bpmaster), 2 usage error, 3 cannot reach bpmaster (or it\n"
	    "closed the connection)\n", stdout);
	exit(status);
}

/*
 * libbproc keeps a message when it has one ("cannot reach bpmaster at
 * PATH: ..."); a bare errno text gets a prefix so it is clear who failed.
 */
static void
master_fail(void)
{
	int		 saved = errno;
	const char	*msg = bproc_strerror();

	if (strcmp(msg, strerror(saved)) == 0)
		errx(EXIT_MASTER, "bpmaster: %s", msg);
	errx(EXIT_MASTER, "%s", msg);
}

static void *
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
	char		 num[16];
	size_t		 i;

	for (i = 0; i < c->n; i++)
		if (c->ent[i].id == id)
			return c->ent[i].name;
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
	return c->ent[c->n++].name;
}

static const char *
user_name(uid_t uid)
{
	return id_name(&users, (unsigned int)uid);
}

static const char *
group_name(gid_t gid)
{
	return id_name(&groups, (unsigned int)gid);
}

/*
 * ls(1)'s ten characters, a regular file's '-' first, as BProc printed
 * them: "---x--x--x" for 0111.  Set-id and sticky bits show as ls does.
 */
static void
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
static const char *
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
static void
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
static void
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

static void
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

static int
info_by_node(const void *a, const void *b)
{
	const struct bproc_node_info	*x = a, *y = b;

	return (x->node > y->node) - (x->node < y->node);
}

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
static int
info_cmp(const void *a, const void *b)
{
	const struct bproc_node_info	*const *pa = a, *const *pb = b;
	const struct bproc_node_info	*x = *pa, *y = *pb;
	int				 c;

	if ((c = key_cmp(x, y)) == 0)
		c = (x->node > y->node) - (x->node < y->node);
	return sort_reverse ? -c : c;
}

static int
group_cmp(const void *a, const void *b)
{
	const struct nodegroup	*x = a, *y = b;

	return info_cmp(&x->first, &y->first);
}

/*
 * Take a snapshot and select the nodes the command line names (all of
 * them when it names none).  Node sets are parsed against this snapshot's
 * states, so `bpstat up` in the live view follows the nodes as they change.
 */
static enum snap_result
snap_take(struct snap *s, const struct bpstat *bs, char *errbuf,
    size_t errlen)
{
	struct nodeset	 set = { NULL, 0, 0 };
	int		*index = NULL;
	char		*named = NULL;
	size_t		 j;
	int		 i, n, node;

	memset(s, 0, sizeof(*s));
	if ((n = bproc_nodelist(&s->nodes)) < 0)
		return SNAP_MASTER;
	qsort(s->nodes, (size_t)n, sizeof(*s->nodes), info_by_node);
	/*
	 * Records with a number no node set can name, or a repeated one, can
	 * only come from a broken master; leave them out rather than index
	 * arrays with them.
	 */
	for (i = 0; i < n; i++) {
		node = s->nodes[i].node;
		if (node < 0 || node > NODESET_MAX ||
		    (s->nnodes > 0 && s->nodes[s->nnodes - 1].node == node))
			continue;
		s->nodes[s->nnodes++] = s->nodes[i];
		s->numnodes = node + 1;
		if (s->nodes[i].state == BPROC_STATE_UP)
			s->nup++;
	}
	n = s->nnodes;
	s->states = xcalloc((size_t)s->numnodes, sizeof(*s->states));
	index = xcalloc((size_t)s->numnodes, sizeof(*index));
	for (i = 0; i < s->numnodes; i++)
		index[i] = -1;
	for (i = 0; i < n; i++) {
		s->states[s->nodes[i].node] = s->nodes[i].state;
		index[s->nodes[i].node] = i;
	}
	s->selected = xcalloc((size_t)n, 1);
	if (bs->nspecs == 0)
		memset(s->selected, 1, (size_t)n);
	else {
		named = xcalloc(NODESET_MAX + 1, 1);
		s->missing = xcalloc(NODESET_MAX + 1, sizeof(*s->missing));
	}
	for (i = 0; i < bs->nspecs; i++) {
		if (nodeset_parse(&set, bs->specs[i], s->numnodes, s->states,
		    errbuf, errlen) == -1) {
			free(index);
			free(named);
			nodeset_free(&set);
			return SNAP_BADSET;
		}
		for (j = 0; j < set.count; j++) {
			node = set.nodes[j];
			if (named[node])
				continue;
			named[node] = 1;
			if (node < s->numnodes && index[node] >= 0)
				s->selected[index[node]] = 1;
			else
				s->missing[s->nmissing++] = node;
		}
	}
	nodeset_free(&set);
	free(named);
	free(index);

	s->sel = xcalloc((size_t)n, sizeof(*s->sel));
	for (i = 0; i < n; i++)
		if (s->selected[i])
			s->sel[s->nsel++] = &s->nodes[i];
	qsort(s->sel, s->nsel, sizeof(*s->sel), info_cmp);
	return SNAP_OK;
}

static void
snap_free(struct snap *s)
{
	free(s->nodes);
	free(s->states);
	free(s->selected);
	free(s->sel);
	free(s->missing);
	memset(s, 0, sizeof(*s));
}

static void
table_init(struct table *t, size_t ncols, const char *const *head,
    const int *minw)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
	t->head = head;
	t->minw = minw;
}

/* Append one cell; rows fill left to right, ncols cells each. */
static void
table_cell(struct table *t, const char *fmt, ...)
{
	va_list	  ap;
	char	**nc;
	char	 *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		err(1, NULL);
	va_end(ap);
	if (t->ncells == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 64;
		if ((nc = reallocarray(t->cells, t->cap, sizeof(*nc))) == NULL)
			err(1, NULL);
		t->cells = nc;
	}
	t->cells[t->ncells++] = s;
}

/* Two spaces between columns; the last column is not padded. */
static void
table_print(FILE *f, const struct table *t)
{
	size_t	w[TABLE_COLS_MAX], c, i, len;

	for (c = 0; c < t->ncols; c++) {
		w[c] = strlen(t->head[c]);
		if (t->minw != NULL && w[c] < (size_t)t->minw[c])
			w[c] = (size_t)t->minw[c];
	}
	for (i = 0; i < t->ncells; i++)
		if ((len = strlen(t->cells[i])) > w[i % t->ncols])
			w[i % t->ncols] = len;
	for (c = 0; c < t->ncols; c++)
		if (c + 1 < t->ncols)
			fprintf(f, "%-*s  ", (int)w[c], t->head[c]);
		else
			fprintf(f, "%s\n", t->head[c]);
	for (i = 0; i < t->ncells; i++)
		if ((i + 1) % t->ncols != 0)
			fprintf(f, "%-*s  ", (int)w[i % t->ncols], t->cells[i]);
		else
			fprintf(f, "%s\n", t->cells[i]);
}

static void
table_free(struct table *t)
{
	size_t	i;

	for (i = 0; i < t->ncells; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof(*t));
}

/*
 * BProc's default view: nodes with the same state, owner, group and mode
 * share one line, their numbers written as ranges ("0-1,3").
 */
static void
view_grouped(FILE *f, const struct snap *s)
{
	static const char *const	head[] = {
		"Node(s)", "Status", "Mode", "User", "Group"
	};
	static const int		minw[] = { 8, 12, 10, 8, 0 };
	const struct bproc_node_info	*ni, *k;
	struct nodegroup		*g = NULL, *gp;
	struct table			 t;
	size_t				 ng = 0, cap = 0, i, j, len;
	char				 mode[11], *ranges;
	FILE				*rf;
	int				*nn;

	for (i = 0; i < (size_t)s->nnodes; i++) {
		if (!s->selected[i])
			continue;
		ni = &s->nodes[i];
		/* neighbours are usually alike: try the newest group first */
		for (j = ng; j > 0; j--) {
			k = g[j - 1].first;
			if (k->state == ni->state && k->uid == ni->uid &&
			    k->gid == ni->gid && k->mode == ni->mode)
				break;
		}
		if (j == 0) {
			if (ng == cap) {
				cap = cap ? cap * 2 : 16;
				gp = reallocarray(g, cap, sizeof(*g));
				if (gp == NULL)
					err(1, NULL);
				g = gp;
			}
			memset(&g[ng], 0, sizeof(g[ng]));
			g[ng].first = ni;
			j = ++ng;
		}
		gp = &g[j - 1];
		if (gp->n == gp->cap) {
			gp->cap = gp->cap ? gp->cap * 2 : 16;
			if ((nn = reallocarray(gp->nodes, gp->cap,
			    sizeof(*nn))) == NULL)
				err(1, NULL);
			gp->nodes = nn;
		}
		gp->nodes[gp->n++] = ni->node;
	}
	if (ng > 0)
		qsort(g, ng, sizeof(*g), group_cmp);

	table_init(&t, 5, head, minw);
	for (i = 0; i < ng; i++) {
		ranges = NULL;
		len = 0;
		if ((rf = open_memstream(&ranges, &len)) == NULL)
			err(1, NULL);
		for (j = 0; j < g[i].n; j++) {
			size_t	e = j;

			while (e + 1 < g[i].n &&
			    g[i].nodes[e + 1] == g[i].nodes[e] + 1)
				e++;
			fprintf(rf, "%s%d", j ? "," : "", g[i].nodes[j]);
			if (e > j)
				fprintf(rf, "-%d", g[i].nodes[e]);
			j = e;
		}
		if (fclose(rf) == EOF)
			err(1, NULL);
		ni = g[i].first;
		mode_string(mode, ni->mode);
		table_cell(&t, "%s", ranges);
		table_cell(&t, "%s", bproc_state_name(ni->state));
		table_cell(&t, "%s", mode);
		table_cell(&t, "%s", user_name(ni->uid));
		table_cell(&t, "%s", group_name(ni->gid));
		free(ranges);
		free(g[i].nodes);
	}
	free(g);
	table_print(f, &t);
	table_free(&t);
}

/*
 * One line per node.  A down node's load, memory and the like are what it
 * last reported, if anything; they are not its present, so they print "-".
 */
static void
view_long(FILE *f, const struct snap *s)
{
	static const char *const	head[] = {
		"Node", "State", "Addr", "User", "Group", "Mode", "Stage",
		"Seen", "Load", "Cpus", "Mem", "Uptime", "Procs", "Cache",
		"Push"
	};
	const struct bproc_node_info	*ni;
	struct table			 t;
	char				 mode[11], a[64], b[32];
	size_t				 i;
	int				 live, j;

	table_init(&t, 15, head, NULL);
	for (i = 0; i < s->nsel; i++) {
		ni = s->sel[i];
		live = ni->state != BPROC_STATE_DOWN;
		mode_string(mode, ni->mode);
		table_cell(&t, "%d", ni->node);
		table_cell(&t, "%s", bproc_state_name(ni->state));
		table_cell(&t, "%s", ni->addr[0] ?
		    printable(a, sizeof(a), ni->addr) : "-");
		table_cell(&t, "%s", user_name(ni->uid));
		table_cell(&t, "%s", group_name(ni->gid));
		table_cell(&t, "%s", mode);
		table_cell(&t, "%s", bproc_stage_name(ni->stage));
		fmt_age(a, sizeof(a), ni->last_seen_ms);
		table_cell(&t, "%s", a);
		if (!live) {
			for (j = 0; j < 7; j++)
				table_cell(&t, "-");
			continue;
		}
		table_cell(&t, "%u.%02u %u.%02u %u.%02u",
		    ni->load[0] / 100, ni->load[0] % 100,
		    ni->load[1] / 100, ni->load[1] % 100,
		    ni->load[2] / 100, ni->load[2] % 100);
		table_cell(&t, "%u", ni->cpus);
		fmt_size(a, sizeof(a), ni->mem_free);
		fmt_size(b, sizeof(b), ni->mem_total);
		table_cell(&t, "%s/%s", a, b);
		fmt_uptime(a, sizeof(a), ni->uptime);
		table_cell(&t, "%s", a);
		table_cell(&t, "%u", ni->nprocs);
		fmt_size(a, sizeof(a), ni->cache_bytes);
		table_cell(&t, "%s", a);
		fmt_size(a, sizeof(a), ni->push_bytes);
		table_cell(&t, "%s", a);
	}
	table_print(f, &t);
	table_free(&t);
}

static void
view_addr(FILE *f, const struct snap *s)
{
	static const char *const	head[] = { "Node", "Address", "MAC" };
	static const int		minw[] = { 4, 15, 0 };
	const struct bproc_node_info	*ni;
	struct table			 t;
	char				 a[sizeof(ni->addr)];
	size_t				 i;

	table_init(&t, 3, head, minw);
	for (i = 0; i < s->nsel; i++) {
		ni = s->sel[i];
		table_cell(&t, "%d", ni->node);
		table_cell(&t, "%s", ni->addr[0] ?
		    printable(a, sizeof(a), ni->addr) : "-");
		if (ni->has_mac)
			table_cell(&t, "%02x:%02x:%02x:%02x:%02x:%02x",
			    ni->mac[0], ni->mac[1], ni->mac[2], ni->mac[3],
			    ni->mac[4], ni->mac[5]);
		else
			table_cell(&t, "-");
	}
	table_print(f, &t);
	table_free(&t);
}

/* RFC 8259 string: quotes, backslashes and control characters escaped. */
static void
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

/*
 * One object per line, `"key": value` with one space, keys in a fixed
 * order: scripts grep this as well as parse it.  Numbers are the master's,
 * unrounded; unknowns are null.
 */
static void
view_json(FILE *f, const struct snap *s)
{
	const struct bproc_node_info	*ni;
	char				 mode[11];
	size_t				 i;
	int				 j;

	fputs("[\n", f);
	for (i = 0; i < s->nsel; i++) {
		ni = s->sel[i];
		fprintf(f, "{\"node\": %d, \"state\": ", ni->node);
		json_str(f, bproc_state_name(ni->state));
		fputs(", \"addr\": ", f);
		if (ni->addr[0])
			json_str(f, ni->addr);
		else
			fputs("null", f);
		if (ni->has_mac)
			fprintf(f, ", \"mac\": "
			    "\"%02x:%02x:%02x:%02x:%02x:%02x\"",
			    ni->mac[0], ni->mac[1], ni->mac[2], ni->mac[3],
			    ni->mac[4], ni->mac[5]);
		else
			fputs(", \"mac\": null", f);
		fprintf(f, ", \"uid\": %u, \"gid\": %u, \"user\": ",
		    (unsigned int)ni->uid, (unsigned int)ni->gid);
		json_str(f, user_name(ni->uid));
		fputs(", \"group\": ", f);
		json_str(f, group_name(ni->gid));
		mode_string(mode, ni->mode);
		fprintf(f, ", \"mode\": %u, \"mode_str\": \"%s\"", ni->mode,
		    mode);
		if (ni->last_seen_ms == UINT64_MAX)
			fputs(", \"last_seen\": null", f);
		else
			fprintf(f, ", \"last_seen\": %" PRIu64 ".%03u",
			    ni->last_seen_ms / 1000,
			    (unsigned int)(ni->last_seen_ms % 1000));
		fputs(", \"load\": [", f);
		for (j = 0; j < 3; j++)
			fprintf(f, "%s%u.%02u", j ? ", " : "",
			    ni->load[j] / 100, ni->load[j] % 100);
		fprintf(f, "], \"cpus\": %u, \"mem_total\": %" PRIu64
		    ", \"mem_free\": %" PRIu64 ", \"uptime\": %" PRIu64
		    ", \"nprocs\": %u, \"stage\": ",
		    ni->cpus, ni->mem_total, ni->mem_free, ni->uptime,
		    ni->nprocs);
		json_str(f, bproc_stage_name(ni->stage));
		fprintf(f, ", \"cache_bytes\": %" PRIu64
		    ", \"push_bytes\": %" PRIu64 "}%s\n",
		    ni->cache_bytes, ni->push_bytes,
		    i + 1 < s->nsel ? "," : "");
	}
	fputs("]\n", f);
}

static void
view_print(FILE *f, const struct bpstat *bs, const struct snap *s)
{
	size_t	i, n;

	switch (bs->view) {
	case VIEW_GROUPED:
		view_grouped(f, s);
		break;
	case VIEW_LONG:
		view_long(f, s);
		break;
	case VIEW_ADDR:
		view_addr(f, s);
		break;
	case VIEW_JSON:
		view_json(f, s);
		break;
	case VIEW_COUNT_ALL:
	case VIEW_COUNT_UP:
		for (i = n = 0; i < s->nsel; i++)
			if (bs->view == VIEW_COUNT_ALL ||
			    s->sel[i]->state == BPROC_STATE_UP)
				n++;
		fprintf(f, "%zu\n", n);
		break;
	}
}

/* -U: terminal state, restored on every way out (atexit, signals). */
static struct termios		tty_saved;
static int			tty_raw_on;	/* stdin is non-canonical */
static int			screen_on;	/* alternate screen in use */
static volatile sig_atomic_t	live_quit, live_redraw, live_stop;

static void	live_sig(int);
static void	tty_enter(void);
static void	tty_restore(void);
static void	live_write(const char *, size_t);
static void	live_draw(const struct bpstat *, const struct snap *, int);
static void	live_lost(const char *) __attribute__((noreturn));
static uint64_t	now_ms(void);

/* Handlers only set flags; the loop sees them when ppoll() returns EINTR. */
static void
live_sig(int sig)
{
	switch (sig) {
	case SIGWINCH:
	case SIGCONT:
		live_redraw = 1;
		break;
	case SIGTSTP:
		live_stop = 1;
		break;
	default:
		live_quit = 1;
		break;
	}
}

static void
live_write(const char *p, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		if ((n = write(STDOUT_FILENO, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return;	/* the terminal is gone: no one to tell */
		}
		p += n;
		len -= (size_t)n;
	}
}

/*
 * Keys without Enter and without echo; ISIG stays on so Ctrl-C and Ctrl-Z
 * still become signals, which the loop turns into a clean exit or stop.
 */
static void
tty_enter(void)
{
	static const char	enter[] = "\033[?1049h\033[?25l";
	struct termios		t;

	if (!tty_raw_on && isatty(STDIN_FILENO) &&
	    tcgetattr(STDIN_FILENO, &tty_saved) == 0) {
		t = tty_saved;
		t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		t.c_cc[VMIN] = 1;
		t.c_cc[VTIME] = 0;
		if (tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0)
			tty_raw_on = 1;
	}
	if (!screen_on && isatty(STDOUT_FILENO)) {
		live_write(enter, sizeof(enter) - 1);
		screen_on = 1;
	}
}

static void
tty_restore(void)
{
	static const char	leave[] = "\033[?25h\033[?1049l";

	if (screen_on) {
		live_write(leave, sizeof(leave) - 1);
		screen_on = 0;
	}
	if (tty_raw_on) {
		tcsetattr(STDIN_FILENO, TCSANOW, &tty_saved);
		tty_raw_on = 0;
	}
}

static uint64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * Draw a frame over the old one: cursor home, each line cleared before it
 * is written, the rest of the screen cleared after, all in one write, so
 * the screen does not flicker.  Lines are cut to the terminal's size,
 * since a line that wrapped or scrolled would push the frame off its home.
 */
static void
live_draw(const struct bpstat *bs, const struct snap *s, int clear)
{
	struct winsize	 ws;
	char		*body = NULL, *out = NULL, tbuf[16];
	const char	*p, *nl;
	size_t		 blen = 0, olen = 0, i, rows = 0, cols = 0, nlines;
	size_t		 row, len;
	time_t		 t = time(NULL);
	FILE		*f;

	if ((f = open_memstream(&body, &blen)) == NULL)
		err(1, NULL);
	strftime(tbuf, sizeof(tbuf), "%H:%M:%S", localtime(&t));
	fprintf(f, "bpstat: %d node%s, %d up    %s    q quits\n\n",
	    s->nnodes, s->nnodes == 1 ? "" : "s", s->nup, tbuf);
	view_print(f, bs, s);
	for (i = 0; i < s->nmissing; i++)
		fprintf(f, "%d: No such node\n", s->missing[i]);
	if (fclose(f) == EOF)
		err(1, NULL);

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 &&
	    ws.ws_col > 0) {
		rows = ws.ws_row;
		cols = ws.ws_col;
	}
	for (nlines = 0, p = body; *p != '\0'; nlines++)
		p = (nl = strchr(p, '\n')) ? nl + 1 : p + strlen(p);

	if ((f = open_memstream(&out, &olen)) == NULL)
		err(1, NULL);
	fputs(clear ? "\033[H\033[2J" : "\033[H", f);
	for (row = 0, p = body; *p != '\0'; row++) {
		len = (nl = strchr(p, '\n')) ? (size_t)(nl - p) : strlen(p);
		if (row > 0)
			putc('\n', f);
		fputs("\033[K", f);
		if (rows > 0 && row + 1 == rows && nlines > rows) {
			fprintf(f, "... %zu more lines", nlines - row);
			break;
		}
		fwrite(p, 1, cols > 0 && len > cols ? cols : len, f);
		p += len + (nl != NULL);
	}
	fputs("\033[J", f);
	if (fclose(f) == EOF)
		err(1, NULL);
	live_write(out, olen);
	free(out);
	free(body);
}

/* The master went away under the live view: say so on the normal screen. */
static void
live_lost(const char *why)
{
	tty_restore();
	errx(EXIT_NONODE, "lost bpmaster: %s", why);
}

static int
live_run(const struct bpstat *bs)
{
	static const int	sigs[] = {
		SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH, SIGTSTP, SIGCONT
	};
	struct sigaction	sa;
	sigset_t		block, orig, tstp;
	struct pollfd		pfd[2];
	struct timespec		ts, *tsp;
	struct snap		s;
	char			errbuf[256], keys[LIVE_KEYBUF];
	uint64_t		next_tick = 0, now;
	ssize_t			nk, k;
	size_t			i;
	int			wfd, r, refetch, draw, clear, stdin_open = 1;

	/*
	 * The signals stay blocked except inside ppoll(), so a flag set by a
	 * handler is always seen before the loop sleeps again.
	 */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = live_sig;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sigaction(sigs[i], &sa, NULL);
		sigaddset(&block, sigs[i]);
	}
	sigprocmask(SIG_BLOCK, &block, &orig);

	/* Watch before the first snapshot, so no change falls in between. */
	if ((wfd = bproc_watch()) == -1)
		master_fail();
	switch (snap_take(&s, bs, errbuf, sizeof(errbuf))) {
	case SNAP_OK:
		break;
	case SNAP_MASTER:
		master_fail();
	case SNAP_BADSET:
		errx(EXIT_USAGE, "%s", errbuf);
	}
	atexit(tty_restore);
	tty_enter();
	live_draw(bs, &s, 1);
	if (bs->view == VIEW_LONG)
		next_tick = now_ms() + LIVE_TICK_MS;

	while (!live_quit) {
		refetch = draw = clear = 0;
		if (live_stop) {
			/* Ctrl-Z: give the terminal back, then really stop */
			live_stop = 0;
			tty_restore();
			signal(SIGTSTP, SIG_DFL);
			sigemptyset(&tstp);
			sigaddset(&tstp, SIGTSTP);
			raise(SIGTSTP);
			sigprocmask(SIG_UNBLOCK, &tstp, NULL);
			/* ... stopped here until SIGCONT ... */
			sigprocmask(SIG_BLOCK, &tstp, NULL);
			sigaction(SIGTSTP, &sa, NULL);
			tty_enter();
			live_redraw = 1;
		}
		if (live_redraw) {
			live_redraw = 0;
			draw = clear = 1;
		}
		if (draw) {
			live_draw(bs, &s, clear);
			continue;
		}

		tsp = NULL;
		if (next_tick != 0) {
			now = now_ms();
			now = next_tick > now ? next_tick - now : 0;
			ts.tv_sec = (time_t)(now / 1000);
			ts.tv_nsec = (long)(now % 1000) * 1000000;
			tsp = &ts;
		}
		pfd[0].fd = wfd;
		pfd[0].events = POLLIN;
		pfd[1].fd = stdin_open ? STDIN_FILENO : -1;
		pfd[1].events = POLLIN;
		pfd[0].revents = pfd[1].revents = 0;
		if ((r = ppoll(pfd, 2, tsp, &orig)) == -1) {
			if (errno == EINTR)
				continue;
			tty_restore();
			err(1, "ppoll");
		}
		if (pfd[0].revents != 0) {
			/* one redraw for however many changes are queued */
			do {
				if (bproc_watch_ack(wfd) == -1)
					live_lost(bproc_strerror());
				pfd[0].revents = 0;
			} while (poll(pfd, 1, 0) == 1 && pfd[0].revents != 0);
			refetch = 1;
		}
		if (pfd[1].revents != 0) {
			nk = read(STDIN_FILENO, keys, sizeof(keys));
			if (nk <= 0 && !(nk == -1 && errno == EINTR))
				stdin_open = 0;
			for (k = 0; k < nk; k++) {
				if (keys[k] == 'q' || keys[k] == 'Q')
					live_quit = 1;
				else if (keys[k] == '\f')	/* Ctrl-L */
					live_redraw = 1;
			}
			if (live_quit)
				break;
		}
		if (r == 0 && next_tick != 0)
			refetch = 1;
		if (refetch) {
			snap_free(&s);
			switch (snap_take(&s, bs, errbuf, sizeof(errbuf))) {
			case SNAP_OK:
				break;
			case SNAP_MASTER:
				live_lost(bproc_strerror());
			case SNAP_BADSET:
				tty_restore();
				errx(EXIT_USAGE, "%s", errbuf);
			}
			if (next_tick != 0)
				next_tick = now_ms() + LIVE_TICK_MS;
			live_draw(bs, &s, 0);
		}
	}
	tty_restore();
	snap_free(&s);
	close(wfd);
	return 0;
}

/* -p: by node then PID, or by owner's name (-O); -r reverses. */
static int
proc_cmp(const void *a, const void *b)
{
	const struct bproc_proc_info	*const *pa = a, *const *pb = b;
	const struct bproc_proc_info	*x = *pa, *y = *pb;
	int				 c = 0;

	if (sort_by == SORT_OWNER)
		c = strcmp(user_name(x->uid), user_name(y->uid));
	if (c == 0)
		c = (x->node > y->node) - (x->node < y->node);
	if (c == 0)
		c = (x->pid > y->pid) - (x->pid < y->pid);
	return sort_reverse ? -c : c;
}

/*
 * BProc printed "PID\tNode" and scripts cut those two fields; the columns
 * added since come after them.  A tab or control character in a command
 * line would break the columns or reach the terminal, so it prints as '?'.
 */
static void
procs_text(FILE *f, struct bproc_proc_info **pl, size_t n)
{
	const struct bproc_proc_info	*pi;
	char				 cmd[sizeof(pi->cmd)];
	size_t				 i;

	fputs("PID\tNode\tRPID\tPPID\tUser\tCommand\n", f);
	for (i = 0; i < n; i++) {
		pi = pl[i];
		fprintf(f, "%d\t%d\t", (int)pi->pid, pi->node);
		if (pi->rpid != pi->pid)
			fprintf(f, "%d\t", (int)pi->rpid);
		else
			fputs("-\t", f);
		if (pi->ppid > 0)
			fprintf(f, "%d\t", (int)pi->ppid);
		else
			fputs("-\t", f);
		fprintf(f, "%s\t%s\n", user_name(pi->uid),
		    printable(cmd, sizeof(cmd), pi->cmd));
	}
}

/* As view_json: one object per line, keys in a fixed order. */
static void
procs_json(FILE *f, struct bproc_proc_info **pl, size_t n)
{
	const struct bproc_proc_info	*pi;
	size_t				 i;

	fputs("[\n", f);
	for (i = 0; i < n; i++) {
		pi = pl[i];
		fprintf(f, "{\"pid\": %d, \"node\": %d, \"rpid\": %d, "
		    "\"ppid\": ", (int)pi->pid, pi->node, (int)pi->rpid);
		/* a master without the process tree does not say */
		if (pi->ppid > 0)
			fprintf(f, "%d", (int)pi->ppid);
		else
			fputs("null", f);
		fprintf(f, ", \"uid\": %u, \"user\": ", (unsigned int)pi->uid);
		json_str(f, user_name(pi->uid));
		fputs(", \"cmd\": ", f);
		json_str(f, pi->cmd);
		fprintf(f, "}%s\n", i + 1 < n ? "," : "");
	}
	fputs("]\n", f);
}

/*
 * The node sets on the command line are parsed against the node table,
 * as for the other views, so `bpstat -p up` and "7: No such node" mean
 * what they mean there; with no node set the node table is not needed.
 */
static int
procs_run(const struct bpstat *bs)
{
	struct bproc_proc_info	 *list = NULL, **pl;
	struct snap		  s;
	char			  errbuf[256], *want = NULL;
	size_t			  i, n = 0;
	int			  np, rc;

	memset(&s, 0, sizeof(s));
	if (bs->nspecs > 0) {
		switch (snap_take(&s, bs, errbuf, sizeof(errbuf))) {
		case SNAP_OK:
			break;
		case SNAP_MASTER:
			master_fail();
		case SNAP_BADSET:
			errx(EXIT_USAGE, "%s", errbuf);
		}
		want = xcalloc(NODESET_MAX + 1, 1);
		for (i = 0; i < s.nsel; i++)
			want[s.sel[i]->node] = 1;
	}
	if ((np = bproc_proclist(&list)) < 0)
		master_fail();
	pl = xcalloc((size_t)np, sizeof(*pl));
	for (i = 0; i < (size_t)np; i++)
		if (want == NULL || (list[i].node >= 0 &&
		    list[i].node <= NODESET_MAX && want[list[i].node]))
			pl[n++] = &list[i];
	qsort(pl, n, sizeof(*pl), proc_cmp);
	if (bs->view == VIEW_JSON)
		procs_json(stdout, pl, n);
	else
		procs_text(stdout, pl, n);
	if (fflush(stdout) == EOF || ferror(stdout))
		err(1, "stdout");
	for (i = 0; i < s.nmissing; i++)
		fprintf(stderr, "%d: No such node\n", s.missing[i]);
	rc = s.nmissing > 0 ? EXIT_NONODE : 0;
	free(pl);
	free(list);
	free(want);
	snap_free(&s);
	return rc;
}

static void
set_view(struct bpstat *bs, enum view v, char flag)
{
	if (bs->view_set && bs->view != v) {
		if (flag == 'j' || bs->view_flag == 'j')
			warnx("--json and -%c cannot be combined",
			    flag == 'j' ? bs->view_flag : flag);
		else
			warnx("-%c and -%c cannot be combined", bs->view_flag,
			    flag);
		usage(EXIT_USAGE);
	}
	bs->view = v;
	bs->view_set = 1;
	bs->view_flag = flag;
}

int
main(int argc, char *argv[])
{
	static const struct option	longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct bpstat	bs;
	struct snap	s;
	char		errbuf[256];
	size_t		i;
	int		ch;

	memset(&bs, 0, sizeof(bs));
	while ((ch = getopt_long(argc, argv, "hlaNtunsOGrUp", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'h':
			usage(0);
		case 'l':
			set_view(&bs, VIEW_LONG, 'l');
			break;
		case 'a':
			set_view(&bs, VIEW_ADDR, 'a');
			break;
		case 'j':
			set_view(&bs, VIEW_JSON, 'j');
			break;
		case 'N':
		case 't':
			set_view(&bs, VIEW_COUNT_ALL, (char)ch);
			break;
		case 'u':
			set_view(&bs, VIEW_COUNT_UP, 'u');
			break;
		case 'n':
			bs.sort = SORT_NODE;
			bs.sort_flag = 'n';
			break;
		case 's':
			bs.sort = SORT_STATE;
			bs.sort_flag = 's';
			break;
		case 'O':
			bs.sort = SORT_OWNER;
			bs.sort_flag = 'O';
			break;
		case 'G':
			bs.sort = SORT_GROUP;
			bs.sort_flag = 'G';
			break;
		case 'r':
			bs.reverse = 1;
			break;
		case 'U':
			bs.live = 1;
			break;
		case 'p':
			bs.procs = 1;
			break;
		default:
			usage(EXIT_USAGE);
		}
	}
	bs.specs = argv + optind;
	bs.nspecs = argc - optind;
	sort_by = bs.sort;
	sort_reverse = bs.reverse;

	if (bs.procs) {
		/* the node views' flags have no meaning for processes */
		if (bs.view_set && bs.view != VIEW_JSON) {
			warnx("-p and -%c cannot be combined", bs.view_flag);
			usage(EXIT_USAGE);
		}
		if (bs.sort == SORT_STATE || bs.sort == SORT_GROUP) {
			warnx("-p sorts by node (-n) or user (-O), not -%c",
			    bs.sort_flag);
			usage(EXIT_USAGE);
		}
		if (bs.live) {
			warnx("-U shows the node table, not -p");
			usage(EXIT_USAGE);
		}
		return procs_run(&bs);
	}
	if (bs.live) {
		if (bs.view == VIEW_JSON || bs.view == VIEW_COUNT_ALL ||
		    bs.view == VIEW_COUNT_UP) {
			warnx("-U shows tables, not --json or counts");
			usage(EXIT_USAGE);
		}
		return live_run(&bs);
	}

	switch (snap_take(&s, &bs, errbuf, sizeof(errbuf))) {
	case SNAP_OK:
		break;
	case SNAP_MASTER:
		master_fail();
	case SNAP_BADSET:
		errx(EXIT_USAGE, "%s", errbuf);
	}
	view_print(stdout, &bs, &s);
	if (fflush(stdout) == EOF || ferror(stdout))
		err(1, "stdout");
	for (i = 0; i < s.nmissing; i++)
		fprintf(stderr, "%d: No such node\n", s.missing[i]);
	ch = s.nmissing > 0 ? EXIT_NONODE : 0;
	snap_free(&s);
	return ch;
}
