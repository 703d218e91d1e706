/*
 * bpstat's parts: bpstat.c (options, main), bpstat_snap.c (the snapshot
 * and the selection made from it, sorting), bpstat_fmt.c (cells: names,
 * modes, sizes, ages, JSON strings), bpstat_table.c (the column layout),
 * bpstat_view.c (the node views), bpstat_live.c (-U), bpstat_procs.c (-p).
 */
#ifndef BPROC_BPSTAT_INT_H
#define BPROC_BPSTAT_INT_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "bproc.h"
#include "tool.h"

#define EXIT_NONODE	1	/* a named node is missing; -U lost bpmaster */
#define EXIT_USAGE	2
#define EXIT_MASTER	TOOL_EXIT_MASTER /* bpmaster cannot be reached, or hung up */
#define TABLE_COLS_MAX	16	/* the widest view (-l) has 15 columns */

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
	struct tool_snap	  t;		/* the table, by node number */
	int			  nup;
	char			 *selected;	/* by index into t.nodes[] */
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

/* bpstat_snap.c */
extern enum sort_key	sort_by;
extern int		sort_reverse;
enum snap_result snap_select(struct snap *, const struct bpstat *, char *,
		    size_t);
void		 snap_or_exit(struct snap *, const struct bpstat *);
void		 snap_release(struct snap *);
int		 info_cmp(const void *, const void *);

/* bpstat_fmt.c */
void		*xcalloc(size_t, size_t);
const char	*user_name(uid_t);
const char	*group_name(gid_t);
void		 mode_string(char *, unsigned int);
const char	*printable(char *, size_t, const char *);
void		 fmt_size(char *, size_t, uint64_t);
void		 fmt_age(char *, size_t, uint64_t);
void		 fmt_uptime(char *, size_t, uint64_t);
void		 fmt_mac(char *, size_t, const unsigned char *);
void		 json_str(FILE *, const char *);

/* bpstat_table.c */
void		 table_init(struct table *, size_t, const char *const *,
		    const int *);
void		 table_cell(struct table *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
void		 table_print(FILE *, const struct table *);
void		 table_free(struct table *);

/* bpstat_view.c */
void		 view_print(FILE *, const struct bpstat *, const struct snap *);

/* bpstat_live.c */
int		 live_run(const struct bpstat *);

/* bpstat_procs.c */
int		 procs_run(const struct bpstat *);

#endif
