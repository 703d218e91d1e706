/*
 * One logging module for daemons (bpmaster, nodeinit).  Tools use err(3).
 * Modelled on OpenBSD ntpd's log.c: log_init() chooses stderr (foreground)
 * or syslog; fatal() logs and exits, nodeinit overrides the exit path.
 */
#ifndef BPROC_LOG_H
#define BPROC_LOG_H

#include <stdarg.h>
#include <stdint.h>

void	log_init(const char *ident, int foreground, int debug);
void	log_setverbose(int debug);
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));

/*
 * Rate-limited warnings for what a peer can make happen at will (a refused
 * connection, a bad frame): each call site logs at most LOG_RATE_LINES
 * lines per LOG_RATE_MS, then counts; the next line from that site after
 * the interval, or log_rate_flush(), says how many were suppressed.  Use
 * log_warnx_rl() / log_warn_rl(): the macros give every call site a
 * bucket of its own.
 */
#define LOG_RATE_LINES	10	/* lines per call site per interval */
#define LOG_RATE_MS	10000	/* the interval, ms */

struct log_rate {
	const char	*fmt;		/* the site's format, for the summary */
	uint64_t	 start;		/* ms (monotonic) the interval began */
	unsigned int	 lines;		/* logged in this interval */
	unsigned int	 suppressed;	/* not logged in this interval */
	struct log_rate	*next;		/* every site that ever logged */
};

void	log_rate_warn(struct log_rate *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	log_rate_warnx(struct log_rate *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
/* Say what was suppressed in intervals that have ended; call now and then. */
void	log_rate_flush(void);

#define log_warnx_rl(...) do {					\
	static struct log_rate	log_rl_site_;			\
	log_rate_warnx(&log_rl_site_, __VA_ARGS__);		\
} while (0)
#define log_warn_rl(...) do {					\
	static struct log_rate	log_rl_site_;			\
	log_rate_warn(&log_rl_site_, __VA_ARGS__);		\
} while (0)

/*
 * Called by fatal()/fatalx() after logging; the default exits 1.  nodeinit
 * installs one that reboots, because PID 1 must never return.
 */
extern void (*log_fatal_hook)(void);

#endif
