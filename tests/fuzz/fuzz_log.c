/*
 * log.h for fuzz targets: every message is formatted (so a bad format
 * argument is still caught by the sanitizers) and dropped, unless
 * FUZZ_VERBOSE is set in the environment.  fatal() aborts: a handler that
 * reaches it on peer input is a finding.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuzz.h"
#include "log.h"

int	fuzz_verbose = -1;

static void	fuzz_abort(void) { abort(); }
void		(*log_fatal_hook)(void) = fuzz_abort;

static void __attribute__((format(printf, 1, 0)))
fuzz_vlog(const char *fmt, va_list ap)
{
	char	buf[1024];

	if (fuzz_verbose == -1)
		fuzz_verbose = getenv("FUZZ_VERBOSE") != NULL;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (fuzz_verbose)
		fprintf(stderr, "log: %s\n", buf);
}

#define FUZZ_LOG(name)				\
void						\
name(const char *fmt, ...)			\
{						\
	va_list	ap;				\
						\
	va_start(ap, fmt);			\
	fuzz_vlog(fmt, ap);			\
	va_end(ap);				\
}
FUZZ_LOG(log_warn)
FUZZ_LOG(log_warnx)
FUZZ_LOG(log_info)
FUZZ_LOG(log_debug)

void
fatal(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	fuzz_verbose = 1;
	fuzz_vlog(fmt, ap);
	va_end(ap);
	log_fatal_hook();
	abort();
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	fuzz_verbose = 1;
	fuzz_vlog(fmt, ap);
	va_end(ap);
	log_fatal_hook();
	abort();
}

void
log_rate_warn(struct log_rate *r, const char *fmt, ...)
{
	va_list	ap;

	(void)r;
	va_start(ap, fmt);
	fuzz_vlog(fmt, ap);
	va_end(ap);
}

void
log_rate_warnx(struct log_rate *r, const char *fmt, ...)
{
	va_list	ap;

	(void)r;
	va_start(ap, fmt);
	fuzz_vlog(fmt, ap);
	va_end(ap);
}

void
log_rate_flush(void)
{
}

void
log_init(const char *ident, int foreground, int debug)
{
	(void)ident;
	(void)foreground;
	(void)debug;
}

void
log_setverbose(int debug)
{
	(void)debug;
}
