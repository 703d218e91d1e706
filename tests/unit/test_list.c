/* Unit tests for common/list.h: order, removal anywhere, safe loops. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <cmocka.h>

#include "list.h"

struct item {
	int			v;
	DLIST_LINK(item)	dl;
	TQ_LINK(item)		tq;
};

DLIST_HEAD(ilist, item);
TQ_HEAD(iqueue, item);

/* The values of a queue in order, as a number: 1,2,3 is 123. */
static int
tq_digits(struct iqueue *q)
{
	struct item	*it;
	int		 n = 0;

	TQ_FOREACH(it, q, tq)
		n = n * 10 + it->v;
	return n;
}

static int
dl_digits(struct ilist *l)
{
	struct item	*it;
	int		 n = 0;

	DLIST_FOREACH(it, l, dl)
		n = n * 10 + it->v;
	return n;
}

static void
test_tq_order(void **state)
{
	struct item	it[4] = { { .v = 1 }, { .v = 2 }, { .v = 3 }, { .v = 4 } };
	struct iqueue	q;

	(void)state;
	TQ_INIT(&q);
	assert_true(TQ_EMPTY(&q));
	TQ_INSERT_TAIL(&q, &it[1], tq);
	TQ_INSERT_TAIL(&q, &it[2], tq);
	TQ_INSERT_HEAD(&q, &it[0], tq);
	assert_int_equal(tq_digits(&q), 123);
	assert_ptr_equal(TQ_FIRST(&q), &it[0]);
	assert_ptr_equal(TQ_NEXT(&it[2], tq), NULL);
	/* removing the last must move the tail, or the next append is lost */
	TQ_REMOVE(&q, &it[2], tq);
	TQ_INSERT_TAIL(&q, &it[3], tq);
	assert_int_equal(tq_digits(&q), 124);
	TQ_REMOVE(&q, &it[0], tq);
	assert_int_equal(tq_digits(&q), 24);
	TQ_REMOVE(&q, &it[1], tq);
	TQ_REMOVE(&q, &it[3], tq);
	assert_true(TQ_EMPTY(&q));
	/* an emptied queue appends at its head again */
	TQ_INSERT_TAIL(&q, &it[2], tq);
	assert_int_equal(tq_digits(&q), 3);
}

static void
test_tq_insert_head_empty(void **state)
{
	struct item	a = { .v = 5 }, b = { .v = 6 };
	struct iqueue	q;

	(void)state;
	TQ_INIT(&q);
	TQ_INSERT_HEAD(&q, &a, tq);
	TQ_INSERT_TAIL(&q, &b, tq);
	assert_int_equal(tq_digits(&q), 56);
}

static void
test_dlist(void **state)
{
	struct item	it[3] = { { .v = 1 }, { .v = 2 }, { .v = 3 } };
	struct ilist	l;

	(void)state;
	DLIST_INIT(&l);
	DLIST_INSERT_HEAD(&l, &it[2], dl);
	DLIST_INSERT_HEAD(&l, &it[1], dl);
	DLIST_INSERT_HEAD(&l, &it[0], dl);
	assert_int_equal(dl_digits(&l), 123);
	DLIST_REMOVE(&it[1], dl);
	assert_int_equal(dl_digits(&l), 13);
	DLIST_REMOVE(&it[0], dl);
	assert_ptr_equal(DLIST_FIRST(&l), &it[2]);
	DLIST_REMOVE(&it[2], dl);
	assert_true(DLIST_EMPTY(&l));
}

/* The _SAFE loop lets the body free what it visits. */
static void
test_safe_free(void **state)
{
	struct iqueue	 q;
	struct ilist	 l;
	struct item	*it, *nx;
	int		 i, seen = 0;

	(void)state;
	TQ_INIT(&q);
	DLIST_INIT(&l);
	for (i = 1; i <= 5; i++) {
		assert_non_null(it = calloc(1, sizeof(*it)));
		it->v = i;
		TQ_INSERT_TAIL(&q, it, tq);
		DLIST_INSERT_HEAD(&l, it, dl);
	}
	assert_int_equal(tq_digits(&q), 12345);
	assert_int_equal(dl_digits(&l), 54321);
	/* drop the even ones from both lists, keep walking */
	TQ_FOREACH_SAFE(it, &q, tq, nx)
		if (it->v % 2 == 0) {
			TQ_REMOVE(&q, it, tq);
			DLIST_REMOVE(it, dl);
			free(it);
		}
	assert_int_equal(tq_digits(&q), 135);
	assert_int_equal(dl_digits(&l), 531);
	DLIST_FOREACH_SAFE(it, &l, dl, nx) {
		DLIST_REMOVE(it, dl);
		TQ_REMOVE(&q, it, tq);
		free(it);
		seen++;
	}
	assert_int_equal(seen, 3);
	assert_true(DLIST_EMPTY(&l));
	assert_true(TQ_EMPTY(&q));
}

int
main(void)
{
	const struct CMUnitTest	tests[] = {
		cmocka_unit_test(test_tq_order),
		cmocka_unit_test(test_tq_insert_head_empty),
		cmocka_unit_test(test_dlist),
		cmocka_unit_test(test_safe_free),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
