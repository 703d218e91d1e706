/* epoll + timer list; see event.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "event.h"
#include "log.h"

#define EV_BATCH	64	/* events taken per epoll_wait */
#define EV_AFTER_MAX	4	/* ev_after functions */

struct ev_slot {
	ev_fd_fn	*fn;
	void		*arg;
};

static int		 ev_fd = -1;
static struct ev_slot	*ev_slots;
static size_t		 ev_nslots;
/* the timer heap: ev_heap[0] is due first */
static struct ev_timer	**ev_heap;
static size_t		 ev_nheap, ev_heapcap;
static uint64_t		 ev_seq;
static uint64_t		 ev_lag_ms;	/* see ev_lag() */
static uint64_t		 ev_lag_at;	/* when it was measured */
static ev_after_fn	*ev_afters[EV_AFTER_MAX];
static int		 ev_nafters;

int
ev_after(ev_after_fn *fn)
{
	if (ev_nafters == EV_AFTER_MAX)
		return -1;
	ev_afters[ev_nafters++] = fn;
	return 0;
}

static void
ev_run_after(void)
{
	int	i;

	for (i = 0; i < ev_nafters; i++)
		ev_afters[i]();
}

/* The loop's clock: timers and deadlines are in its milliseconds. */
uint64_t
ev_now(void)
{
	return now_ms();
}

int
ev_init(void)
{
	ev_fd = epoll_create1(EPOLL_CLOEXEC);
	return ev_fd == -1 ? -1 : 0;
}

int
ev_add(int fd, uint32_t events, ev_fd_fn *fn, void *arg)
{
	struct epoll_event	 ee;
	struct ev_slot		*ns;
	size_t			 n;

	if (fd < 0)
		return -1;
	if ((size_t)fd >= ev_nslots) {
		n = ev_nslots ? ev_nslots : 64;
		while (n <= (size_t)fd)
			n *= 2;
		if ((ns = realloc(ev_slots, n * sizeof(*ns))) == NULL)
			return -1;
		memset(ns + ev_nslots, 0, (n - ev_nslots) * sizeof(*ns));
		ev_slots = ns;
		ev_nslots = n;
	}
	memset(&ee, 0, sizeof(ee));
	ee.events = events;
	ee.data.fd = fd;
	if (epoll_ctl(ev_fd, EPOLL_CTL_ADD, fd, &ee) == -1)
		return -1;
	ev_slots[fd].fn = fn;
	ev_slots[fd].arg = arg;
	return 0;
}

int
ev_mod(int fd, uint32_t events)
{
	struct epoll_event	ee;

	memset(&ee, 0, sizeof(ee));
	ee.events = events;
	ee.data.fd = fd;
	return epoll_ctl(ev_fd, EPOLL_CTL_MOD, fd, &ee);
}

void
ev_del(int fd)
{
	if (fd < 0 || (size_t)fd >= ev_nslots)
		return;
	epoll_ctl(ev_fd, EPOLL_CTL_DEL, fd, NULL);
	ev_slots[fd].fn = NULL;
	ev_slots[fd].arg = NULL;
}

static int
ev_before(const struct ev_timer *a, const struct ev_timer *b)
{
	return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

static void
ev_heap_put(struct ev_timer *t, size_t i)
{
	ev_heap[i] = t;
	t->slot = i;
}

/* Move the timer at slot i up or down to where it belongs. */
static void
ev_heap_fix(size_t i)
{
	struct ev_timer	*t = ev_heap[i];
	size_t		 c;

	while (i > 0 && ev_before(t, ev_heap[(i - 1) / 2])) {
		ev_heap_put(ev_heap[(i - 1) / 2], i);
		i = (i - 1) / 2;
	}
	for (;;) {
		c = 2 * i + 1;
		if (c >= ev_nheap)
			break;
		if (c + 1 < ev_nheap && ev_before(ev_heap[c + 1], ev_heap[c]))
			c++;
		if (!ev_before(ev_heap[c], t))
			break;
		ev_heap_put(ev_heap[c], i);
		i = c;
	}
	ev_heap_put(t, i);
}

void
ev_timer_del(struct ev_timer *t)
{
	size_t	i;

	if (!t->armed)
		return;
	t->armed = 0;
	i = t->slot;
	if (--ev_nheap == i)
		return;
	ev_heap_put(ev_heap[ev_nheap], i);
	ev_heap_fix(i);
}

void
ev_timer_set(struct ev_timer *t, uint64_t ms, ev_timer_fn *fn, void *arg)
{
	struct ev_timer	**nh;
	size_t		  n;

	ev_timer_del(t);
	if (ev_nheap == ev_heapcap) {
		n = ev_heapcap ? 2 * ev_heapcap : 64;
		/* nowhere to keep it: a timer lost would hang a link forever */
		if ((nh = reallocarray(ev_heap, n, sizeof(*nh))) == NULL)
			fatal("timer heap");
		ev_heap = nh;
		ev_heapcap = n;
	}
	t->when = ev_now() + ms;
	t->seq = ev_seq++;
	t->fn = fn;
	t->arg = arg;
	t->armed = 1;
	ev_heap_put(t, ev_nheap++);
	ev_heap_fix(t->slot);
}

/* A lag of ms seen now: kept if it beats the decayed one. */
static void
ev_lag_note(uint64_t now, uint64_t ms)
{
	if (ms >= ev_lag()) {
		ev_lag_ms = ms;
		ev_lag_at = now;
	}
}

uint64_t
ev_lag(void)
{
	uint64_t	since = ev_now() - ev_lag_at;

	return since >= ev_lag_ms ? 0 : ev_lag_ms - since;
}

static void
ev_run_timers(void)
{
	struct ev_timer	*t;
	uint64_t	 now = ev_now();

	if (ev_nheap > 0 && ev_heap[0]->when < now)
		ev_lag_note(now, now - ev_heap[0]->when);
	while (ev_nheap > 0 && (t = ev_heap[0])->when <= now) {
		ev_timer_del(t);
		t->fn(t->arg);
		ev_run_after();
	}
}

int
ev_out_of_fds(int e)
{
	return e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM;
}

static void
ev_listener_wake(void *arg)
{
	struct ev_listener	*l = arg;

	ev_mod(l->fd, EPOLLIN);
}

int
ev_listener_init(struct ev_listener *l, int fd, ev_fd_fn *fn, void *arg)
{
	l->fd = fd;
	l->fn = fn;
	l->arg = arg;
	l->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return ev_add(fd, EPOLLIN, fn, arg);
}

void
ev_listener_rest(struct ev_listener *l, unsigned int ms)
{
	int	s;

	if (l->spare != -1) {
		close(l->spare);
		if ((s = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC)) != -1)
			close(s);
		l->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	ev_mod(l->fd, 0);
	ev_timer_set(&l->rest, ms, ev_listener_wake, l);
}

void
ev_loop(volatile sig_atomic_t *stop)
{
	struct epoll_event	evs[EV_BATCH];
	int			n, i, timeout, fd;
	uint64_t		now;

	while (!*stop) {
		timeout = -1;
		if (ev_nheap > 0) {
			now = ev_now();
			timeout = ev_heap[0]->when <= now ? 0 :
			    (int)(ev_heap[0]->when - now);
		}
		n = epoll_wait(ev_fd, evs, EV_BATCH, timeout);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			fatal("epoll_wait");
		}
		now = ev_now();
		for (i = 0; i < n; i++) {
			fd = evs[i].data.fd;
			/* a handler earlier in this batch may have closed fd */
			if ((size_t)fd < ev_nslots && ev_slots[fd].fn != NULL) {
				ev_slots[fd].fn(fd, evs[i].events,
				    ev_slots[fd].arg);
				ev_run_after();
			}
		}
		ev_lag_note(ev_now(), ev_now() - now);
		ev_run_timers();
	}
}
