/*
 * What bpctl set survives a master restart, as the node numbers do: the
 * state an admin gave (unavailable, error), owner, group and mode, one
 * line per node that differs from BProc's defaults, in conf.statefile's
 * sibling ".admin": "NODE STATE UID GID MODE".  Saved at every change
 * (atomically, like the MAC table); applied when the node is up again.
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "bpmaster.h"
#include "log.h"

struct persist_entry {
	int		 set;
	int		 state;
	uid_t		 uid;
	gid_t		 gid;
	unsigned int	 mode;
};

static struct persist_entry	saved[MASTER_MAXNODES];

static void
persist_path(char *buf, size_t len, const char *suffix)
{
	snprintf(buf, len, "%s.admin%s", conf.statefile, suffix);
}

void
persist_load(void)
{
	char	 path[300], line[128];
	FILE	*f;
	int	 num, st;
	unsigned int uid, gid, mode;

	persist_path(path, sizeof(path), "");
	if ((f = fopen(path, "re")) == NULL) {
		if (errno != ENOENT)
			log_warn("%s", path);
		return;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%d %d %u %u %o", &num, &st, &uid, &gid,
		    &mode) != 5 || num < 0 || num >= MASTER_MAXNODES ||
		    mode > 07777) {
			log_warnx("%s: ignoring bad line", path);
			continue;
		}
		saved[num] = (struct persist_entry){ 1, st, uid, gid, mode };
	}
	fclose(f);
}

/* After a bpctl change: the table as it is now. */
void
persist_save(void)
{
	char	 path[300], tmp[310];
	FILE	*f;
	int	 i, st;

	persist_path(path, sizeof(path), "");
	persist_path(tmp, sizeof(tmp), ".tmp");
	if ((f = fopen(tmp, "we")) == NULL) {
		log_warn("%s", tmp);
		return;
	}
	for (i = 0; i < numnodes && i < MASTER_MAXNODES; i++) {
		struct node	*n = &nodes[i];

		/* only what an admin chose; a down node keeps its line */
		if (n->state == NODE_UP || n->state == NODE_UNAVAILABLE ||
		    n->state == NODE_ERROR) {
			st = n->state == NODE_UP ? NODE_UP : n->state;
			saved[i] = (struct persist_entry){ 1, st, n->uid,
			    n->gid, n->mode };
			if (st == NODE_UP && n->uid == 0 && n->gid == 0 &&
			    n->mode == 0111)
				saved[i].set = 0;
		}
		if (saved[i].set)
			fprintf(f, "%d %d %u %u %o\n", i, saved[i].state,
			    (unsigned)saved[i].uid, (unsigned)saved[i].gid,
			    saved[i].mode);
	}
	if (fflush(f) == EOF || fsync(fileno(f)) == -1) {
		log_warn("%s", tmp);
		fclose(f);
		return;
	}
	fclose(f);
	if (rename(tmp, path) == -1)
		log_warn("rename %s", path);
}

/* The node finished setup: what bpctl had set before the restart. */
void
persist_apply(struct node *n)
{
	struct persist_entry	*e;

	if (n->num >= MASTER_MAXNODES || !(e = &saved[n->num])->set)
		return;
	n->uid = e->uid;
	n->gid = e->gid;
	n->mode = e->mode;
	if (e->state == NODE_UNAVAILABLE || e->state == NODE_ERROR)
		node_transition(n, e->state, "as bpctl left it");
	log_info("node %d: owner %u, group %u, mode %04o, as bpctl left them",
	    n->num, (unsigned)n->uid, (unsigned)n->gid, n->mode);
}
