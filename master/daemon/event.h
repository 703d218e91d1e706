/*
 * The master's event loop: epoll over an fd-indexed handler table, and a
 * binary heap of one-shot timers (a thousand node links re-arm theirs
 * every heartbeat: a sorted list cost O(N) per re-arm, the heap O(log N)).
 * Handlers ask for write interest only while they have something queued.
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
	uint64_t	 seq;		/* equal deadlines fire in the order set */
	ev_timer_fn	*fn;
	void		*arg;
	size_t		 slot;		/* its place in the heap */
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
/*
 * How far behind the loop has run lately, in ms: the longest a round of
 * handlers took, or a timer fired after its time, decayed by the time
 * since (a 2 s stall counts 2000 ms at once, 1000 ms a second later).
 * While the master is that far behind it has not read what nodes sent,
 * so their silence is partly its own (nodelink.c's heartbeat timeout).
 */
uint64_t	ev_lag(void);
/* Runs until *stop becomes non-zero. */
void		ev_loop(volatile sig_atomic_t *);

#endif
