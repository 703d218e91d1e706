/* Daemon logging: stderr with a timestamp in the foreground, syslog otherwise. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static int		 log_foreground = 1;
static int		 log_verbose;
static const char	*log_ident = "bproc";

static void
log_exit(void)
{
	exit(1);
}

void (*log_fatal_hook)(void) = log_exit;

void
log_init(const char *ident, int foreground, int debug)
{
	log_ident = ident;
	log_foreground = foreground;
	log_verbose = debug;
	if (!foreground)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	tzset();
}

void
log_setverbose(int debug)
{
	log_verbose = debug;
}

static void
log_vwrite(int pri, const char *fmt, va_list ap, int with_errno, int saved)
{
	char	msg[1024];
	int	n;

	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0)
		return;
	if (with_errno && (size_t)n < sizeof(msg))
		snprintf(msg + n, sizeof(msg) - (size_t)n, ": %s", strerror(saved));
	if (log_foreground) {
		struct timespec	ts;
		struct tm	tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		fprintf(stderr, "%02d:%02d:%02d.%03ld %s: %s\n", tm.tm_hour,
		    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, log_ident, msg);
		fflush(stderr);
	} else
		syslog(pri, "%s", msg);
}

#define LOG_BODY(pri, with_errno) do {			\
	int	saved = errno;				\
	va_list	ap;					\
	va_start(ap, fmt);				\
	log_vwrite(pri, fmt, ap, with_errno, saved);	\
	va_end(ap);					\
	errno = saved;					\
} while (0)

void
log_warn(const char *fmt, ...)
{
	LOG_BODY(LOG_WARNING, 1);
}

void
log_warnx(const char *fmt, ...)
{
	LOG_BODY(LOG_WARNING, 0);
}

void
log_info(const char *fmt, ...)
{
	LOG_BODY(LOG_INFO, 0);
}

void
log_debug(const char *fmt, ...)
{
	if (!log_verbose)
		return;
	LOG_BODY(LOG_DEBUG, 0);
}

static struct log_rate	*log_rate_sites;

static uint64_t
log_rate_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Close the site's interval if it ended: the summary line, a new start. */
static void
log_rate_roll(struct log_rate *r, uint64_t now)
{
	if (now - r->start < LOG_RATE_MS)
		return;
	if (r->suppressed > 0)
		log_warnx("%u similar messages suppressed in %u s (\"%s\")",
		    r->suppressed, (unsigned)((now - r->start) / 1000), r->fmt);
	r->start = now;
	r->lines = 0;
	r->suppressed = 0;
}

/* 1 when this line may be written, 0 when it only counts. */
static int
log_rate_take(struct log_rate *r, const char *fmt)
{
	uint64_t	now = log_rate_now();

	if (r->fmt == NULL) {
		r->fmt = fmt;
		r->start = now;
		r->next = log_rate_sites;
		log_rate_sites = r;
	}
	log_rate_roll(r, now);
	if (r->lines >= LOG_RATE_LINES) {
		r->suppressed++;
		return 0;
	}
	r->lines++;
	return 1;
}

void
log_rate_warn(struct log_rate *r, const char *fmt, ...)
{
	/* (log_rate_take keeps errno: its summary goes through log_warnx) */
	if (log_rate_take(r, fmt))
		LOG_BODY(LOG_WARNING, 1);
}

void
log_rate_warnx(struct log_rate *r, const char *fmt, ...)
{
	/* (log_rate_take keeps errno: its summary goes through log_warnx) */
	if (log_rate_take(r, fmt))
		LOG_BODY(LOG_WARNING, 0);
}

void
log_rate_flush(void)
{
	struct log_rate	*r;
	uint64_t	 now = log_rate_now();

	for (r = log_rate_sites; r != NULL; r = r->next)
		log_rate_roll(r, now);
}

void
fatal(const char *fmt, ...)
{
	LOG_BODY(LOG_CRIT, 1);
	log_fatal_hook();
	_exit(1);
}

void
fatalx(const char *fmt, ...)
{
	LOG_BODY(LOG_CRIT, 0);
	log_fatal_hook();
	_exit(1);
}
