/*
 * The edge table of nodeinit's master link (uplink_edge_ok,
 * nodeinit/uplink_fsm.c): idle -> connecting -> auth -> hello -> up, any
 * of them but idle may fail to dead, dead goes back to idle; nothing else.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "nodeinit_int.h"

/* nodeinit's link: idle -> connecting -> auth -> hello -> up; dead -> idle. */
static void
test_uplink_edges(void **state)
{
	static const int	next[LINK_NSTATES] = {
		[LINK_IDLE] = LINK_CONNECTING,
		[LINK_CONNECTING] = LINK_AUTH,
		[LINK_AUTH] = LINK_HELLO,
		[LINK_HELLO] = LINK_UP,
		[LINK_UP] = -1,
		[LINK_DEAD] = LINK_IDLE,
	};
	int			from, to, legal, want;

	(void)state;
	for (from = 0; from < LINK_NSTATES; from++)
		for (to = 0; to < LINK_NSTATES; to++) {
			legal = to == next[from] || (to == LINK_DEAD &&
			    from != LINK_IDLE && from != LINK_DEAD);
			want = uplink_edge_ok(from, to);
			if (want != legal)
				fail_msg("uplink %d -> %d: %d, want %d", from,
				    to, want, legal);
		}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uplink_edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
