/*
 * The master link's state machine, its edges apart from the link so a
 * unit test can hold them against a table (tests/unit/test_uplink_fsm.c);
 * uplink_transition() in uplink.c is the one function that takes them.
 */
#include "nodeinit_int.h"

static const char *const uplink_state_names[LINK_NSTATES] = {
	"idle", "connecting", "auth", "hello", "up", "dead"
};

const char *
uplink_state_name(int s)
{
	return s >= 0 && s < LINK_NSTATES ? uplink_state_names[s] : "?";
}

/* Which edges the link may take; anything but idle may fail. */
int
uplink_edge_ok(int from, int to)
{
	if (to == LINK_DEAD)
		return from != LINK_IDLE && from != LINK_DEAD;
	switch (from) {
	case LINK_IDLE:
		return to == LINK_CONNECTING;
	case LINK_CONNECTING:
		return to == LINK_AUTH;
	case LINK_AUTH:
		return to == LINK_HELLO;
	case LINK_HELLO:
		return to == LINK_UP;
	case LINK_DEAD:
		return to == LINK_IDLE;
	default:	/* up ends only in dead */
		return 0;
	}
}
