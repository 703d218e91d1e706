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

#include "list.h"

typedef void	ev_fd_fn(int, uint32_t, void *);
typedef void	ev_timer_fn(void *);
typedef void	ev_after_fn(void);

struct ev_timer {
	uint64_t	 when;		/* ms, monotonic */
	ev_timer_fn	*fn;
	void		*arg;
	TQ_LINK(ev_timer) link;		/* in the queue, soonest first */
	int		 armed;
};

/*
 * A listening socket that accept(2) may find out of descriptors or memory:
 * the connection stays in the backlog and the listener would be ready
 * again at once, a busy loop.  ev_listener_rest() gives up a spare
 * descriptor to take one waiter and close it (it hears no rather than
 * waiting), then rests the listener for a while.
 */
struct ev_listener {
	int		 fd;
	int		 spare;		/* /dev/null, given up at EMFILE; -1 none */
	ev_fd_fn	*fn;
	void		*arg;
	struct ev_timer	 rest;
};

int		ev_init(void);
int		ev_add(int, uint32_t, ev_fd_fn *, void *);
int		ev_mod(int, uint32_t);
void		ev_del(int);
void		ev_timer_set(struct ev_timer *, uint64_t, ev_timer_fn *, void *);
void		ev_timer_del(struct ev_timer *);
uint64_t	ev_now(void);
int		ev_listener_init(struct ev_listener *, int, ev_fd_fn *, void *);
void		ev_listener_rest(struct ev_listener *, unsigned int);
/* Is this accept(2) errno one of running out (EMFILE, ENFILE, ...)? */
int		ev_out_of_fds(int);
/*
 * Run fn after every fd handler and timer, once it returned: where work a
 * handler only marked (a connection to close) is done, with no caller
 * left holding what it frees.
 */
int		ev_after(ev_after_fn *);
/* Runs until *stop becomes non-zero. */
void		ev_loop(volatile sig_atomic_t *);

#endif
