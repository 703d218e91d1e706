/*
 * One logging module for daemons (bpmaster, nodeinit).  Tools use err(3).
 * Modelled on OpenBSD ntpd's log.c: log_init() chooses stderr (foreground)
 * or syslog; fatal() logs and exits, nodeinit overrides the exit path.
 */
#ifndef BPROC_LOG_H
#define BPROC_LOG_H

#include <stdarg.h>

void	log_init(const char *ident, int foreground, int debug);
void	log_setverbose(int debug);
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));

/*
 * Called by fatal()/fatalx() after logging; the default exits 1.  nodeinit
 * installs one that reboots, because PID 1 must never return.
 */
extern void (*log_fatal_hook)(void);

#endif
