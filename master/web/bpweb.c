/*
 * bpweb: the cluster's status page and Prometheus metrics, over HTTP.
 *
 * It is a client of bpmaster like bpstat: it reads the node table through
 * libbproc, is told of changes through bproc_watch(), and answers every
 * request from its last snapshot (web_snap.c).  It needs no privilege: as
 * OpenBSD's daemons do, when started as root it binds its socket, then
 * drops to an unprivileged user (_bproc, else nobody; -u) for good before
 * it reads a byte from the network, and it refuses to serve as root.  It
 * does not chroot: libbproc opens the master's control socket by path for
 * every request, and the user and group names come from the passwd and
 * group files.  It stays in the foreground and logs to stderr, as a
 * service manager wants.
 *
 * Exit status: 0 on SIGTERM or SIGINT; 1 when it cannot start (a bad
 * address, a port in use, no user to become); 2 usage.
 */
#include <errno.h>
#include <grp.h>
#include <netdb.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bpweb.h"
#include "clock.h"
#include "log.h"

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: bpweb [-v] [-l [addr]:port] [-u user]\n"
	    "  -l  where to listen (default 127.0.0.1:%d; :port for every "
	    "address, [::1]:port for IPv6, port 0 picks one)\n"
	    "  -u  the user to run as when started as root (default %s, "
	    "else %s)\n"
	    "  -v  verbose (debug) logging\n", WEB_PORT, WEB_USER,
	    WEB_USER_FALLBACK);
	exit(2);
}

/* "host:port", "[v6]:port" or ":port" into a bound, listening socket. */
static int
listen_on(const char *spec)
{
	struct addrinfo	 hints, *res, *ai;
	char		 host[256], *port;
	int		 fd = -1, one = 1, e;

	snprintf(host, sizeof(host), "%s", spec);
	if ((port = strrchr(host, ':')) == NULL)
		fatalx("-l %s: no port (host:port, :port)", spec);
	*port++ = '\0';
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((e = getaddrinfo(host[0] ? host : NULL, port, &hints, &res)) != 0)
		fatalx("-l %s: %s", spec, gai_strerror(e));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd == -1)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, 64) == 0)
			break;
		e = errno;
		close(fd);
		fd = -1;
		errno = e;
	}
	freeaddrinfo(res);
	if (fd == -1)
		fatal("-l %s", spec);
	return fd;
}

/* The address we listen on, as a URL's host:port. */
static void
listen_name(int fd, char *out, size_t len)
{
	struct sockaddr_storage	ss;
	socklen_t		sl = sizeof(ss);
	char			h[NI_MAXHOST], p[NI_MAXSERV];

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == -1 ||
	    getnameinfo((struct sockaddr *)&ss, sl, h, sizeof(h), p, sizeof(p),
	    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(out, len, "?");
		return;
	}
	snprintf(out, len, ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", h,
	    p);
}

/*
 * Root's part ends here: become the user for good (groups, gid, uid, all
 * three ids of each), check that root cannot come back, and forbid any
 * gain of privilege through exec.
 */
static void
priv_drop(const char *user)
{
	struct passwd	*pw;
	const char	*name = user ? user : WEB_USER;

	if (geteuid() != 0) {
		if (user != NULL)
			log_warnx("-u %s: not root, so running as uid %u",
			    user, (unsigned)geteuid());
		return;
	}
	if ((pw = getpwnam(name)) == NULL && user == NULL)
		pw = getpwnam(name = WEB_USER_FALLBACK);
	if (pw == NULL)
		fatalx("no user %s to run as (-u)", name);
	if (pw->pw_uid == 0)
		fatalx("user %s is root: bpweb does not serve as root", name);
	if (setgroups(1, &pw->pw_gid) == -1 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1)
		fatal("dropping privileges to %s", name);
	if (setuid(0) != -1 || geteuid() == 0 || getuid() == 0)
		fatalx("could become root again after dropping to %s", name);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		log_warn("PR_SET_NO_NEW_PRIVS");
	if (chdir("/") == -1)
		fatal("chdir /");
}

/* Signals come through a signalfd; every thread has them blocked. */
static int
signals_init(void)
{
	sigset_t	set;
	int		fd;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0 ||
	    (fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) == -1)
		fatal("signalfd");
	return fd;
}

/* 1 to go on, 0 on SIGTERM or SIGINT. */
static int
signals_read(int fd)
{
	struct signalfd_siginfo	si;

	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
			log_info("signal %d: shutting down", (int)si.ssi_signo);
			return 0;
		}
	}
	return 1;
}

/*
 * Follow the master: a new snapshot when it says something changed (at
 * most every WEB_MIN_GAP_MS), and every WEB_REFRESH_MS anyway, since ages
 * grow and the process table changes without a notification.  When the
 * master goes away the page says so, and bpweb tries again every
 * WEB_RETRY_MS.
 */
static void
follow(int sigfd)
{
	struct pollfd	pfd[2];
	uint64_t	now, last = 0, retry = 0, due;
	int		watch = -1, dirty = 0, timeout;

	for (;;) {
		now = now_ms();
		if (watch == -1 && now >= retry) {
			if ((watch = bproc_watch()) == -1) {
				log_debug("master: %s", bproc_strerror());
				snap_master_lost(bproc_strerror());
				retry = now + WEB_RETRY_MS;
			} else {
				log_info("following bpmaster");
				dirty = 1;
			}
		}
		if (watch != -1 && ((dirty && now >= last + WEB_MIN_GAP_MS) ||
		    now >= last + WEB_REFRESH_MS)) {
			snap_take();
			last = now;
			dirty = 0;
		}
		if (watch == -1)
			due = retry;
		else
			due = dirty ? last + WEB_MIN_GAP_MS : last + WEB_REFRESH_MS;
		timeout = due > now ? (int)(due - now) : 0;
		pfd[0].fd = sigfd;
		pfd[0].events = POLLIN;
		pfd[1].fd = watch;
		pfd[1].events = POLLIN;
		if (poll(pfd, 2, timeout) == -1) {
			if (errno == EINTR)
				continue;
			fatal("poll");
		}
		if ((pfd[0].revents & POLLIN) && !signals_read(sigfd))
			return;
		if (watch != -1 && pfd[1].revents) {
			if (bproc_watch_ack(watch) == -1) {
				log_warnx("lost bpmaster: %s", bproc_strerror());
				snap_master_lost(bproc_strerror());
				close(watch);
				watch = -1;
				retry = now_ms() + WEB_RETRY_MS;
			} else
				dirty = 1;
		}
	}
}

int
main(int argc, char **argv)
{
	const char	*spec = NULL, *user = NULL, *master;
	char		 where[128], defspec[32];
	int		 ch, fd, sigfd, verbose = 0;

	/* the page says a master is away at once; libbproc would wait for it */
	setenv("BPROC_MASTER_WAIT", "0", 0);
	while ((ch = getopt(argc, argv, "hl:u:v")) != -1) {
		switch (ch) {
		case 'l':
			spec = optarg;
			break;
		case 'u':
			user = optarg;
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	log_init("bpweb", 1, verbose);
	snprintf(defspec, sizeof(defspec), "127.0.0.1:%d", WEB_PORT);
	fd = listen_on(spec ? spec : defspec);
	priv_drop(user);
	if (geteuid() == 0)
		fatalx("still root: bpweb does not serve as root");
	sigfd = signals_init();
	snap_init();
	if (http_start(fd) == -1)
		fatalx("libmicrohttpd would not start");
	listen_name(fd, where, sizeof(where));
	master = getenv("BPROC_MASTER");
	log_info("serving http://%s/ as uid %u; bpmaster at %s", where,
	    (unsigned)geteuid(), master && *master ? master : "/run/bproc/master.sock");
	follow(sigfd);
	http_stop();
	return 0;
}
