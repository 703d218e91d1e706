/*
 * A master restart loses nothing (issue 13): when the master link of a
 * node that was up drops, its processes keep running for master_grace
 * (bpmaster.conf, sent in WELCOME).  Each is paused towards the link:
 * its output is not read, so its writers block on a full pipe and nothing
 * is dropped, and its forks wait at their seccomp stop.  Output already
 * sent stays in a ring until the ghost acknowledges it (proc_io.c), so
 * what was lost with the old master is sent again from the offset the
 * ghost names.  When a master welcomes us again, each process is reported
 * (MSG_REJOIN) and resumed once its ghost is back (MSG_RESUME); the master
 * ends those whose ghost is not (MSG_REAP).  A node alone past the grace
 * ends its processes; it reboots only when the master asked for that
 * (A_ALONE_REBOOT), or when it never joined any master (a PXE retry).
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "nodeinit_int.h"

#define GRACE_DEFAULT_MS	60000	/* master_grace until a master says otherwise */

static unsigned int	grace_ms = GRACE_DEFAULT_MS;
static unsigned int	alone_reboot_ms;	/* 0: never */
static uint64_t		alone_since;
static int		keeping;	/* processes kept for a master to come */

int
grace_keeping(void)
{
	return keeping;
}

/* The link that was up is gone: keep what runs. */
void
grace_lost(void)
{
	int	n = proc_hosted_count() + track_children();

	if (n == 0 || grace_ms == 0)
		return;
	proc_pause_all();
	track_link_lost();
	if (!keeping)
		log_warnx("master link lost: keeping %d processes for %u s", n,
		    grace_ms / 1000);
	keeping = 1;
	alone_since = now_ms();
}

/* From the idle link's timer: the grace ran out, or time to reboot. */
void
grace_tick(uint64_t lost_since)
{
	uint64_t	now = now_ms();

	if (keeping && now - alone_since > grace_ms) {
		log_warnx("no master for %u s (master_grace): ending %d "
		    "processes", grace_ms / 1000, proc_hosted_count() +
		    track_children());
		keeping = 0;
		proc_kill_all();
	}
	if (node_num < 0 ? now - lost_since > NODE_GIVEUP_MS :
	    alone_reboot_ms != 0 && now - lost_since > alone_reboot_ms) {
		log_warnx("no master for %u s: rebooting", (unsigned)((now -
		    lost_since) / 1000));
		node_poweroff(POWER_REBOOT);
	}
}

/* WELCOME: the master's settings; what we kept is reported to it. */
void
grace_welcome(struct wire_attr *tb)
{
	unsigned char	buf[64];
	struct wire_msg	m;
	int		n;

	if (tb[A_GRACE].data)
		grace_ms = wire_get_u32(&tb[A_GRACE]);
	alone_reboot_ms = tb[A_ALONE_REBOOT].data ?
	    wire_get_u32(&tb[A_ALONE_REBOOT]) : 0;
	if (master_proto < BPROC_VERSION_REJOIN && keeping) {
		log_warnx("master speaks protocol %d, which cannot adopt "
		    "processes: ending %d", master_proto, proc_hosted_count() +
		    track_children());
		keeping = 0;
		proc_kill_all();
	}
	if (master_proto < BPROC_VERSION_REJOIN)
		return;
	/* the end of the report says "nothing else" even when it was nothing */
	n = keeping ? proc_rejoin_report() + track_rejoin_report() : 0;
	keeping = 0;
	wire_msg_init(&m, buf, sizeof(buf), MSG_REJOIN_END, 0, 0);
	wire_put_u32(&m, A_COUNT, (uint32_t)n);
	link_send_msg(&m);
	if (n > 0)
		log_info("reported %d processes to the master", n);
}
