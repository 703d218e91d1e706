/*
 * Watchers: a tool that sent CTL_WATCH is told CTL_CHANGED, coalesced,
 * after every change of the node table.
 */
#include "ctlconn.h"
#include "log.h"

struct ev_timer		 ctl_notify_timer;
static uint32_t		 generation;

/* A tool becomes a watcher: it only listens from now on. */
int
ctl_on_watch(void *arg, const struct proto_frame *f)
{
	struct ctlconn	*cc = arg;

	(void)f;
	if (cc->kind == CTL_WATCHER)
		return 0;
	if (cc->kind != CTL_TOOL) {
		ctl_kill(cc, "CTL_WATCH from a ghost");
		return -1;
	}
	if (cc->cred.uid != 0 &&
	    cc->user->n[CTL_WATCHER] >= MASTER_CTL_WATCH_PER_UID) {
		log_warnx_rl("control: uid %u pid %d: more than %d watchers "
		    "of one user; closing", (unsigned)cc->cred.uid,
		    (int)cc->cred.pid, MASTER_CTL_WATCH_PER_UID);
		ctl_kill(cc, NULL);
		return -1;
	}
	ctl_set_kind(cc, CTL_WATCHER);
	ev_timer_del(&cc->idle);
	/* it sends nothing more worth a big buffer */
	cc->c.maxframe = MASTER_CTL_WATCH_FRAME;
	return 0;
}

static void
ctl_notify_now(void *arg)
{
	unsigned char	 buf[64];
	struct wire_msg	 m;
	struct ctlconn	*cc, *next;

	(void)arg;
	generation++;
	DLIST_FOREACH_SAFE(cc, &ctls, all, next) {
		if (cc->kind != CTL_WATCHER || cc->dead)
			continue;
		/* a watcher that does not read is dropped, not buffered for */
		if (conn_pending(&cc->c) > 4096) {
			ctl_kill(cc, "watcher not reading");
			continue;
		}
		wire_msg_init(&m, buf, sizeof(buf), MSG_CTL_CHANGED, 0, 0);
		wire_put_u32(&m, A_COUNT, generation);
		if (ctl_send(cc, &m) == 0)
			ctl_flush(cc);
	}
}

/* Coalesce bursts (a status report per node per heartbeat) into one wakeup. */
void
ctl_notify(void)
{
	if (!ctl_notify_timer.armed)
		ev_timer_set(&ctl_notify_timer, MASTER_NOTIFY_MS, ctl_notify_now,
		    NULL);
}
