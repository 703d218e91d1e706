/*
 * Unit tests for the message table and the one dispatcher (common/proto.c):
 * every message type encodes with its required attributes and parses back
 * to the same values, every type says which ways it travels, and
 * proto_dispatch refuses what a receiver's table does not take.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "proto.h"
#include "wire.h"

#define TEST_BUF	(2 * MFILE_MAX + 4096)	/* one frame of the round trip */

/* A valid payload for attribute a, by its kind; its length in *len. */
static const unsigned char *
attr_sample(unsigned int a, size_t *len)
{
	static unsigned char	buf[MFILE_MAX];
	const struct attr_info	*ai = &attr_table[a];

	memset(buf, 0, sizeof(buf));
	switch (ai->kind) {
	case AK_U8:
		*len = 1;
		break;
	case AK_U16:
		*len = 2;
		break;
	case AK_U32:
		*len = 4;
		break;
	case AK_U64:
		*len = 8;
		break;
	case AK_STR:
		*len = ai->minlen > 2 ? ai->minlen : 2;
		memset(buf, 'x', *len - 1);
		break;
	default:
		if (a == A_MFILE) {
			*len = mfile_encode(buf, buf + 2048, 0644, 1, 2, 3,
			    "/bin/x", NULL);
			break;
		}
		*len = ai->minlen;
		break;
	}
	/* a value the round trip can tell from zero */
	if (ai->kind != AK_STR && *len > 0)
		buf[*len - 1] = (unsigned char)(a + 1);
	return buf;
}

static void
test_round_trip(void **state)
{
	static unsigned char	 buf[TEST_BUF];
	struct wire_attr	 tb[A_MAX];
	struct wire_msg		 m;
	struct wire_hdr		 h;
	const unsigned char	*p;
	const char		*why;
	size_t			 len, flen;
	unsigned int		 t, a, n = 0;

	(void)state;
	for (t = 1; t < MSG_MAX; t++) {
		if (msg_table[t].name == NULL)
			continue;
		n++;
		wire_msg_init(&m, buf, sizeof(buf), (uint16_t)t, WIRE_F_REPLY,
		    1000 + t);
		for (a = 1; a < A_MAX && a < 64; a++)
			if (msg_table[t].required & (1ull << a)) {
				p = attr_sample(a, &len);
				assert_int_equal(wire_put(&m, (uint16_t)a, p,
				    len), 0);
			}
		/* bodies with a floor beyond their attributes get a message */
		while (m.len - WIRE_HDR_LEN < msg_table[t].minlen)
			wire_put_str(&m, A_MSG, "padding");
		flen = wire_msg_finish(&m);
		assert_true(flen > 0);
		assert_int_equal(wire_hdr_decode(buf, flen, WIRE_MAX_FRAME, &h,
		    &why), 1);
		assert_int_equal(h.type, t);
		assert_int_equal(h.seq, 1000 + t);
		assert_int_equal(h.flags, WIRE_F_REPLY);
		assert_int_equal(h.len, flen);
		if (proto_parse(&h, buf + WIRE_HDR_LEN, flen - WIRE_HDR_LEN, tb,
		    &why) == -1)
			fail_msg("%s: %s", msg_name(t), why);
		for (a = 1; a < A_MAX && a < 64; a++)
			if (msg_table[t].required & (1ull << a)) {
				p = attr_sample(a, &len);
				assert_non_null(tb[a].data);
				assert_int_equal(tb[a].len, len);
				assert_memory_equal(tb[a].data, p, len);
			}
		/* one byte short of its body is refused, not misread */
		h.len = (uint32_t)flen;
		if (msg_table[t].minlen > 0)
			assert_int_equal(proto_parse(&h, buf + WIRE_HDR_LEN,
			    msg_table[t].minlen - 1, tb, &why), -1);
	}
	assert_true(n >= 30);
}

/* Every message travels some way, and only the ways its comment says. */
static void
test_directions(void **state)
{
	unsigned int	t;

	(void)state;
	for (t = 1; t < MSG_MAX; t++)
		if (msg_table[t].name != NULL) {
			assert_int_not_equal(msg_table[t].dirs, 0);
			assert_int_equal(msg_table[t].dirs &
			    ~(unsigned)(DIR_M2N | DIR_N2M | DIR_T2M | DIR_M2T |
			    DIR_N2N), 0);
		}
	/* a relay link runs the node link's handshake between two nodes */
	assert_int_equal(msg_table[MSG_AUTH_RESPONSE].dirs, DIR_N2M | DIR_N2N);
	assert_int_equal(msg_table[MSG_WELCOME].dirs, DIR_M2N);
	assert_int_equal(msg_table[MSG_CTL_SET].dirs, DIR_T2M);
	assert_int_equal(msg_table[MSG_CTL_NODE].dirs, DIR_M2T);
	assert_true(msg_table[MSG_EXEC].dirs & DIR_T2M);
	assert_true(msg_table[MSG_EXEC].dirs & DIR_M2N);
	assert_false(msg_table[MSG_EXEC].dirs & DIR_N2M);
	/* what commands a node never travels a relay link (nodeinit/relay.c) */
	assert_false(msg_table[MSG_EXEC].dirs & DIR_N2N);
	assert_false(msg_table[MSG_SIGNAL].dirs & DIR_N2N);
	assert_false(msg_table[MSG_SETUP].dirs & DIR_N2N);
	assert_false(msg_table[MSG_RELAY].dirs & DIR_N2N);
	assert_int_equal(msg_table[MSG_RELAY_GET].dirs, DIR_N2N);
	assert_int_equal(msg_table[MSG_RELAY_DONE].dirs, DIR_N2M);
}

static int	calls;
static int	handler_ret;

static int
on_ping(void *arg, const struct proto_frame *f)
{
	assert_ptr_equal(arg, &calls);
	assert_int_equal(f->h->type, MSG_STATUS);
	calls++;
	return handler_ret;
}

static const struct proto_route test_routes[MSG_MAX] = {
	[MSG_STATUS] = { 1u << 2, on_ping },
	/* in the table, but it never travels to this receiver */
	[MSG_PING] = { 1u << 2, on_ping },
};

static const struct proto_role test_role = { "test link", DIR_N2M,
    test_routes };

/* A frame of type t with no attributes into buf; its header in *h. */
static size_t
frame(unsigned char *buf, size_t cap, unsigned int t, struct wire_hdr *h)
{
	struct wire_msg	 m;
	const char	*why;
	size_t		 len;

	wire_msg_init(&m, buf, cap, (uint16_t)t, 0, 0);
	len = wire_msg_finish(&m);
	assert_int_equal(wire_hdr_decode(buf, len, WIRE_MAX_FRAME, h, &why), 1);
	return len;
}

static void
test_dispatch(void **state)
{
	unsigned char	buf[256];
	char		why[PROTO_WHY_MAX];
	struct wire_hdr	h;
	size_t		len;

	(void)state;
	calls = 0;
	handler_ret = 0;
	len = frame(buf, sizeof(buf), MSG_STATUS, &h);
	/* taken in its phase */
	assert_int_equal(proto_dispatch(&test_role, 2, &calls, &h,
	    buf + WIRE_HDR_LEN, len - WIRE_HDR_LEN, why), 0);
	assert_int_equal(calls, 1);
	assert_string_equal(why, "");
	/* a handler's failure is its own: no reason */
	handler_ret = -1;
	assert_int_equal(proto_dispatch(&test_role, 2, &calls, &h,
	    buf + WIRE_HDR_LEN, len - WIRE_HDR_LEN, why), -1);
	assert_string_equal(why, "");
	assert_int_equal(calls, 2);
	/* in another phase it is refused and the handler never runs */
	assert_int_equal(proto_dispatch(&test_role, 1, &calls, &h,
	    buf + WIRE_HDR_LEN, len - WIRE_HDR_LEN, why), -1);
	assert_non_null(strstr(why, "unexpected STATUS"));
	assert_int_equal(proto_dispatch(&test_role, 40, &calls, &h,
	    buf + WIRE_HDR_LEN, len - WIRE_HDR_LEN, why), -1);
	assert_int_equal(calls, 2);
	/* the wrong way: PING goes to nodes, not from them */
	len = frame(buf, sizeof(buf), MSG_PING, &h);
	assert_int_equal(proto_dispatch(&test_role, 2, &calls, &h,
	    buf + WIRE_HDR_LEN, len - WIRE_HDR_LEN, why), -1);
	assert_non_null(strstr(why, "not taken on a test link"));
	/* not in the table */
	len = frame(buf, sizeof(buf), MSG_USERS, &h);
	assert_int_equal(proto_dispatch(&test_role, 2, &calls, &h,
	    buf + WIRE_HDR_LEN, len - WIRE_HDR_LEN, why), -1);
	assert_non_null(strstr(why, "USERS frame not taken"));
	/* unknown to the protocol */
	len = frame(buf, sizeof(buf), MSG_MAX + 3, &h);
	assert_int_equal(proto_dispatch(&test_role, 2, &calls, &h,
	    buf + WIRE_HDR_LEN, len - WIRE_HDR_LEN, why), -1);
	assert_non_null(strstr(why, "unknown message type"));
	assert_int_equal(calls, 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_directions),
		cmocka_unit_test(test_dispatch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
