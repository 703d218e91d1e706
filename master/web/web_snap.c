/*
 * The snapshot bpweb answers from.  The main thread asks the master (the
 * node table, the process table, the master's own numbers), builds a new
 * snapshot without holding the lock, then swaps it in, renders the status
 * JSON once for every viewer and wakes the event streams.  So a hundred
 * open pages cost the master what one does.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bpweb.h"
#include "log.h"

pthread_mutex_t		 web_lock = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t		 web_changed = PTHREAD_COND_INITIALIZER;
struct web_snap		*web_cur;
static struct buf	 status_json;	/* web_cur as JSON, under web_lock */
static uint64_t		 generation;

static void
snap_free(struct web_snap *s)
{
	if (s == NULL)
		return;
	free(s->nodes);
	free(s->rprocs);
	free(s->procs);
	free(s->users);
	free(s->owner);
	free(s->group);
	free(s);
}

static double
now_unix(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
uid_name(uid_t uid, char *out, size_t len)
{
	struct passwd	*pw = getpwuid(uid);

	if (pw != NULL)
		snprintf(out, len, "%s", pw->pw_name);
	else
		snprintf(out, len, "%u", (unsigned)uid);
}

static void
gid_name(gid_t gid, char *out, size_t len)
{
	struct group	*gr = getgrgid(gid);

	if (gr != NULL)
		snprintf(out, len, "%s", gr->gr_name);
	else
		snprintf(out, len, "%u", (unsigned)gid);
}

/* Count each process on its node and for its user. */
static int
snap_count(struct web_snap *s)
{
	int	i, j;

	if ((s->rprocs = calloc((size_t)s->nnodes + 1, sizeof(int))) == NULL ||
	    (s->users = calloc((size_t)s->nprocs + 1,
	    sizeof(*s->users))) == NULL)
		return -1;
	for (i = 0; i < s->nprocs; i++) {
		const struct bproc_proc_info *p = &s->procs[i];

		if (p->node >= 0 && p->node < s->nnodes)
			s->rprocs[p->node]++;
		for (j = 0; j < s->nusers && s->users[j].uid != p->uid; j++)
			;
		if (j == s->nusers) {
			s->users[j].uid = p->uid;
			uid_name(p->uid, s->users[j].name,
			    sizeof(s->users[j].name));
			s->nusers++;
		}
		s->users[j].nprocs++;
	}
	return 0;
}

static int
snap_names(struct web_snap *s)
{
	int	i;

	if ((s->owner = calloc((size_t)s->nnodes + 1, 64)) == NULL ||
	    (s->group = calloc((size_t)s->nnodes + 1, 64)) == NULL)
		return -1;
	for (i = 0; i < s->nnodes; i++) {
		uid_name(s->nodes[i].uid, s->owner[i], 64);
		gid_name(s->nodes[i].gid, s->group[i], 64);
	}
	return 0;
}

/* Swap s in (it may be NULL: out of memory, keep the old one). */
static void
snap_publish(struct web_snap *s)
{
	struct web_snap	*old;

	if (s == NULL)
		return;
	pthread_mutex_lock(&web_lock);
	old = web_cur;
	s->gen = ++generation;
	web_cur = s;
	status_json.len = 0;
	status_json.oom = 0;
	json_status(&status_json, s);
	pthread_cond_broadcast(&web_changed);
	pthread_mutex_unlock(&web_lock);
	snap_free(old);
}

static struct web_snap *
snap_new(void)
{
	struct web_snap	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->time = now_unix();
	return s;
}

void
snap_init(void)
{
	snap_master_lost("not asked yet");
}

/* The master is gone (or never was): a snapshot that says so. */
void
snap_master_lost(const char *why)
{
	struct web_snap	*s;

	if ((s = snap_new()) == NULL)
		return;
	snprintf(s->master_err, sizeof(s->master_err), "%s", why);
	snap_publish(s);
}

/*
 * A new snapshot.  The node table comes first and decides; the process
 * table and the master's numbers are extras that a failure leaves empty.
 */
void
snap_take(void)
{
	struct web_snap	*s;
	int		 n;

	if ((s = snap_new()) == NULL)
		return;
	if ((n = bproc_nodelist(&s->nodes)) < 0) {
		snprintf(s->master_err, sizeof(s->master_err), "%s",
		    bproc_strerror());
		snap_publish(s);
		return;
	}
	s->nnodes = n;
	s->master_up = 1;
	if ((n = bproc_proclist(&s->procs)) >= 0)
		s->nprocs = n;
	else
		log_debug("process table: %s", bproc_strerror());
	if (bproc_masterinfo(&s->mi) == -1)
		log_debug("master info: %s", bproc_strerror());
	if (snap_count(s) == -1 || snap_names(s) == -1) {
		log_warnx("snapshot: out of memory");
		snap_free(s);
		return;
	}
	snap_publish(s);
}

const char *
snap_status_json(size_t *len)
{
	*len = status_json.len;
	return status_json.oom ? NULL : status_json.p;
}
