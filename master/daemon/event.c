/* epoll + timer list; see event.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

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
TQ_HEAD(ev_timerq, ev_timer);

static struct ev_timerq	 ev_timers = { NULL, &ev_timers.first };
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

uint64_t
ev_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
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

void
ev_timer_del(struct ev_timer *t)
{
	if (!t->armed)
		return;
	TQ_REMOVE(&ev_timers, t, link);
	t->armed = 0;
}

void
ev_timer_set(struct ev_timer *t, uint64_t ms, ev_timer_fn *fn, void *arg)
{
	struct ev_timer	*o;

	ev_timer_del(t);
	t->when = ev_now() + ms;
	t->fn = fn;
	t->arg = arg;
	t->armed = 1;
	/* after every timer due no later: equal deadlines keep their order */
	TQ_FOREACH(o, &ev_timers, link)
		if (o->when > t->when) {
			TQ_INSERT_BEFORE(o, t, link);
			return;
		}
	TQ_INSERT_TAIL(&ev_timers, t, link);
}

static void
ev_run_timers(void)
{
	struct ev_timer	*t;
	uint64_t	 now = ev_now();

	while ((t = TQ_FIRST(&ev_timers)) != NULL && t->when <= now) {
		TQ_REMOVE(&ev_timers, t, link);
		t->armed = 0;
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
		if (!TQ_EMPTY(&ev_timers)) {
			now = ev_now();
			timeout = TQ_FIRST(&ev_timers)->when <= now ? 0 :
			    (int)(TQ_FIRST(&ev_timers)->when - now);
		}
		n = epoll_wait(ev_fd, evs, EV_BATCH, timeout);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			fatal("epoll_wait");
		}
		for (i = 0; i < n; i++) {
			fd = evs[i].data.fd;
			/* a handler earlier in this batch may have closed fd */
			if ((size_t)fd < ev_nslots && ev_slots[fd].fn != NULL) {
				ev_slots[fd].fn(fd, evs[i].events,
				    ev_slots[fd].arg);
				ev_run_after();
			}
		}
		ev_run_timers();
	}
}
