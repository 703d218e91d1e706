/*
 * The master's event loop: epoll over an fd-indexed handler table, and a
 * sorted list of one-shot timers (redis ae.c's shape).  Handlers ask for
 * write interest only while they have something queued.
 */
#ifndef BPROC_EVENT_H
#define BPROC_EVENT_H

#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>

typedef void	ev_fd_fn(int, uint32_t, void *);
typedef void	ev_timer_fn(void *);
typedef void	ev_after_fn(void);

struct ev_timer {
	uint64_t	 when;		/* ms, monotonic */
	ev_timer_fn	*fn;
	void		*arg;
	struct ev_timer	*next;
	int		 armed;
};

int		ev_init(void);
int		ev_add(int, uint32_t, ev_fd_fn *, void *);
int		ev_mod(int, uint32_t);
void		ev_del(int);
void		ev_timer_set(struct ev_timer *, uint64_t, ev_timer_fn *, void *);
void		ev_timer_del(struct ev_timer *);
uint64_t	ev_now(void);
/*
 * Run fn after every fd handler and timer, once it returned: where work a
 * handler only marked (a connection to close) is done, with no caller
 * left holding what it frees.
 */
int		ev_after(ev_after_fn *);
/* Runs until *stop becomes non-zero. */
void		ev_loop(volatile sig_atomic_t *);

#endif
