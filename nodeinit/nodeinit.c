/*
 * nodeinit: PID 1 of a node, on a real kernel or in a pid namespace.
 * All signals are blocked and read through a signalfd in the same poll as
 * the master link; every child is reaped with WNOHANG.  It never returns
 * from main: a fatal error ends in reboot(2).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "nodeinit_int.h"

static int	sig_fd = -1;

/*
 * The master link hands up what is not its own through uplink_hooks:
 * wired here, at the top, so neither side imports the other back.
 */
static void
node_setup(const struct proto_frame *f)
{
	push_setup(f->h, f->tb, f->body, f->len);
}

static void
node_exec(const struct proto_frame *f)
{
	spawn_exec(f->h, f->tb, f->body, f->len);
}

static void
node_blob(const struct proto_frame *f)
{
	push_blob(f->tb, f->body, f->len);
}

static void
node_relay(const struct proto_frame *f)
{
	relay_order(f->tb);
}

static void
node_signal(const struct proto_frame *f)
{
	proc_signal(f->tb);
}

static void
node_input(const struct proto_frame *f)
{
	proc_input(f->tb);
}

static void
node_ack(const struct proto_frame *f)
{
	proc_ack(f->tb);
}

static void
node_fork_result(const struct proto_frame *f)
{
	track_fork_result(f->h, f->tb);
}

/* The link is closed: the processes wait for a master (grace.c). */
static void
node_link_lost(int was_up)
{
	if (was_up)
		grace_lost();
	/* kills waiting for its answers wait for the next (sigfwd.c) */
	sigfwd_lost(grace_keeping());
	push_abort_all();
}

static void
node_welcome(const struct proto_frame *f)
{
	grace_welcome(f->tb);
}

static void
node_resume(const struct proto_frame *f)
{
	proc_resume(f->tb);
}

static void
node_reap(const struct proto_frame *f)
{
	proc_reap_one(f->tb);
}

static void
node_hooks_init(void)
{
	uplink_hooks.setup = node_setup;
	uplink_hooks.exec = node_exec;
	uplink_hooks.blob = node_blob;
	uplink_hooks.signal = node_signal;
	uplink_hooks.input = node_input;
	uplink_hooks.ack = node_ack;
	uplink_hooks.fork_result = node_fork_result;
	uplink_hooks.kill_result = sigfwd_result;
	uplink_hooks.image = migrate_image;
	uplink_hooks.relay = node_relay;
	uplink_hooks.holding = migrate_holding;
	uplink_hooks.lost = node_link_lost;
	uplink_hooks.welcome = node_welcome;
	uplink_hooks.resume = node_resume;
	uplink_hooks.reap = node_reap;
	uplink_hooks.alone = grace_tick;
	/* the cache keeps what running processes hold */
	cache_hooks.hosts = proc_hosts;
	/* the tracker tells the process host through these */
	track_hooks.fe_ppid = proc_fe_ppid;
	track_hooks.session_flush = proc_session_flush;
	/* a record that goes ends what migration kept for it */
	rproc_hooks.freed = migrate_forget;
	sigfwd_hooks.keeping = grace_keeping;
}

static void
node_fatal(void)
{
	/* PID 1 must not exit; a clean reboot is the last resort */
	sleep(1);
	node_poweroff(POWER_REBOOT);
}

static void
signal_read(void)
{
	struct signalfd_siginfo	si;

	while (read(sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			break;		/* reaped below, whoever it was */
		case SIGINT:		/* Ctrl-Alt-Del on a real console */
			log_info("SIGINT: rebooting");
			node_poweroff(POWER_REBOOT);
		case SIGUSR1:		/* busybox halt's convention */
			node_poweroff(POWER_HALT);
		case SIGUSR2:		/* busybox poweroff's */
			node_poweroff(POWER_OFF);
		case SIGTERM:		/* busybox reboot's */
			node_poweroff(POWER_REBOOT);
		default:
			log_debug("ignoring signal %d", (int)si.ssi_signo);
		}
	}
	proc_reap();
}

/*
 * Remote processes take their ghost's PID (clone3 set_tid), and the front
 * end's PIDs go up to its own pid_max, often 4194304, while a small node
 * starts at 32768: raise ours to the kernel's limit so they fit.  Not in
 * a virtual node: there it is the front end's own pid_max (global before
 * Linux 6.14, inherited by the pid namespace since), which its ghosts'
 * PIDs fit by definition and which is not ours to change.
 */
static void
pid_max_raise(void)
{
	static const char	 max[] = "4194304\n";	/* PID_MAX_LIMIT, 64-bit */
	int			 fd;

	if ((fd = open("/proc/sys/kernel/pid_max", O_WRONLY | O_CLOEXEC)) == -1 ||
	    write(fd, max, sizeof(max) - 1) != (ssize_t)sizeof(max) - 1)
		log_debug("pid_max: %s (ghost PIDs above it fall back to "
		    "any free PID)", strerror(errno));
	if (fd != -1)
		close(fd);
}

int
main(int argc, char **argv)
{
	struct pollfd	*pfd = NULL, *np;
	size_t		 cap = 0, want;
	sigset_t	 all;
	int		 timeout, rtimeout, n, mn, rn;

	log_fatal_hook = node_fatal;
	/* the kernel runs us as /init: ps on the node says who PID 1 is */
	prctl(PR_SET_NAME, "nodeinit", 0, 0, 0);
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	log_init("nodeinit", 1, 0);
	boot_args(argc, argv);
	log_setverbose(ncf.debug);
	if (getpid() != 1)
		log_warnx("not PID 1 (pid %d): running anyway", (int)getpid());
	if ((sig_fd = signalfd(-1, &all, SFD_NONBLOCK | SFD_CLOEXEC)) == -1)
		fatal("signalfd");
	if (auth_init() == -1)
		fatalx("libsodium initialisation failed");
	/* Ctrl-Alt-Del becomes SIGINT to us instead of an instant reboot */
	if (!ncf.virt)
		reboot(RB_DISABLE_CAD);
	boot_mounts();
	if (!ncf.virt)
		pid_max_raise();
	node_hooks_init();
	uplink_init();
	migrate_init();
	relay_init();

	for (;;) {
		/* slots: signals, the master link, three per hosted process */
		want = 2 + 4 * (size_t)proc_hosted_count() +
		    (size_t)migrate_poll_count() +	/* + 1 per image */
		    (size_t)relay_poll_count();
		if (want > cap) {
			if ((np = reallocarray(pfd, want, sizeof(*pfd))) == NULL) {
				log_warn("poll table");
				sleep(1);
				continue;
			}
			pfd = np;
			cap = want;
		}
		pfd[0].fd = sig_fd;
		pfd[0].events = POLLIN;
		pfd[0].revents = pfd[1].revents = 0;
		timeout = uplink_poll_setup(&pfd[1].fd, &pfd[1].events);
		n = proc_poll_setup(pfd + 2, (int)cap - 2);
		mn = migrate_poll_setup(pfd + 2 + n, (int)cap - 2 - n);
		/* (the tick first: the links it frees get no slot) */
		if ((rtimeout = relay_tick()) >= 0 &&
		    (timeout < 0 || rtimeout < timeout))
			timeout = rtimeout;
		rn = relay_poll_setup(pfd + 2 + n + mn, (int)cap - 2 - n - mn);
		if (poll(pfd, (nfds_t)(2 + n + mn + rn), timeout) == -1) {
			if (errno != EINTR)
				log_warn("poll");
			continue;
		}
		/*
		 * A handler whose send fails only marks the link dead; it
		 * is closed here, between handlers, where no one holds a
		 * process record or a pending push it would free.
		 */
		if (pfd[0].revents)
			signal_read();
		uplink_reap();
		if (pfd[1].fd >= 0 && pfd[1].revents)
			uplink_poll_event(pfd[1].revents);
		uplink_reap();
		/*
		 * A restorer's "taken" before the output of the image it
		 * restored, which can be ready in the same pass (migrate.c).
		 */
		migrate_poll_event(pfd + 2 + n, mn);
		uplink_reap();
		/* relay links: blobs from a parent, bytes for the children */
		relay_poll_event(pfd + 2 + n + mn, rn);
		uplink_reap();
		relay_tick();
		uplink_reap();
		/* slots whose descriptor changed meanwhile are skipped */
		proc_poll_event(pfd + 2, n);
		uplink_reap();
		uplink_timer();
		uplink_reap();
	}
}
