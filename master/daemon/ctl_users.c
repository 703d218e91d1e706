/*
 * What each uid holds of the control socket.
 *
 * One user must not lock others out, so every connection counts against
 * its uid, whatever it is: a tool (or a half-open connection that said
 * nothing yet), a watcher, a would-be ghost between EXEC and MSG_GHOST,
 * a ghost.  A uid may hold at most as many descriptors as remain free for
 * everyone else (so one user gets at most half, two a quarter more, and
 * so on), at most MASTER_CTL_PER_UID tools and MASTER_CTL_WATCH_PER_UID
 * watchers; the slots themselves stay below the descriptor limit, and the
 * last MASTER_CTL_ROOT_SPARE of them are root's.
 */
#include <stdlib.h>
#include <sys/resource.h>

#include "ctlconn.h"
#include "log.h"

#define CTL_USER_HASH	256	/* buckets of the per-uid table */

static struct ctluser	*ctl_users[CTL_USER_HASH];
int			 nctl_fds;

static struct ctluser **
ctl_user_bucket(uid_t uid)
{
	return &ctl_users[(unsigned int)uid % CTL_USER_HASH];
}

struct ctluser *
ctl_user_get(uid_t uid, int create)
{
	struct ctluser	*u;

	for (u = *ctl_user_bucket(uid); u != NULL; u = u->next)
		if (u->uid == uid)
			return u;
	if (!create || (u = calloc(1, sizeof(*u))) == NULL)
		return NULL;
	u->uid = uid;
	u->next = *ctl_user_bucket(uid);
	*ctl_user_bucket(uid) = u;
	return u;
}

void
ctl_user_put(struct ctluser *u)
{
	struct ctluser	**pp;

	if (u->fds > 0)
		return;
	for (pp = ctl_user_bucket(u->uid); *pp != NULL; pp = &(*pp)->next)
		if (*pp == u) {
			*pp = u->next;
			break;
		}
	free(u);
}

/* Every change of kind goes through here, so the counts stay right. */
void
ctl_set_kind(struct ctlconn *cc, int kind)
{
	cc->user->n[cc->kind]--;
	cc->kind = kind;
	cc->user->n[kind]++;
}

/*
 * Descriptors the control socket may use: the limit less what node links,
 * unauthenticated links and the daemon's own files need.  Read at every
 * accept, so a limit lowered while running (prlimit) counts at once.
 */
int
ctl_fd_slots(void)
{
	struct rlimit	rl;
	long		n = MASTER_CTL_MAX;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < (rlim_t)MASTER_CTL_MAX * 2)
		n = (long)rl.rlim_cur;
	/*
	 * The node port may hold MASTER_LINK_PREAUTH_MAX unauthenticated
	 * links; under a low limit a quarter of it, so tools keep a share
	 * (the node port evicts at its own cap and rests at EMFILE).
	 */
	n -= MASTER_CTL_FD_SPARE + numnodes +
	    (MASTER_LINK_PREAUTH_MAX < n / 4 ? MASTER_LINK_PREAUTH_MAX : n / 4);
	if (n > MASTER_CTL_MAX)
		n = MASTER_CTL_MAX;
	return n < 2 * MASTER_CTL_ROOT_SPARE ? 2 * MASTER_CTL_ROOT_SPARE : (int)n;
}

/* The uid that holds the most descriptors, for the log of a refusal. */
struct ctluser *
ctl_user_top(void)
{
	struct ctluser	*u, *top = NULL;
	int		 i;

	for (i = 0; i < CTL_USER_HASH; i++)
		for (u = ctl_users[i]; u != NULL; u = u->next)
			if (top == NULL || u->fds > top->fds)
				top = u;
	return top;
}

/*
 * May uid open one more connection?  NULL if so, else why not.  Each
 * connection may cost two descriptors (a ghost's pidfd).
 */
const char *
ctl_admit(uid_t uid)
{
	struct ctluser	*u = ctl_user_get(uid, 0);
	int		 slots = ctl_fd_slots(), held = u ? u->fds : 0;
	int		 shared = slots - MASTER_CTL_ROOT_SPARE;

	if (uid == 0)
		return nctl_fds + 2 <= slots ? NULL : "no descriptors left";
	if (nctl_fds + 2 > shared)
		return "no free slots";
	/* at most what is left for everyone else */
	if (held + 2 > shared - nctl_fds)
		return "its share of the control socket is used";
	if (u != NULL && u->n[CTL_TOOL] >= MASTER_CTL_PER_UID)
		return "too many connections that are not ghosts or watchers";
	return NULL;
}
