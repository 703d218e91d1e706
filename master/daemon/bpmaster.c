/*
 * bpmaster: the front end's daemon.  It owns the node table and the
 * cluster's process space, talks to nodes over authenticated links and to
 * tools over a local socket, all from one epoll loop.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bpmaster.h"
#include "log.h"

static volatile sig_atomic_t quit;

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: bpmaster [-dv] [-c config]\n"
	    "       bpmaster -K keyfile\n"
	    "  -d  stay in the foreground, log to stderr\n"
	    "  -v  verbose (debug) logging\n"
	    "  -c  configuration file (default %s)\n"
	    "  -K  create the cluster key if it does not exist, then exit\n",
	    MASTER_CONF);
	exit(2);
}

static void
master_signal(int fd, uint32_t events, void *arg)
{
	struct signalfd_siginfo	si;

	(void)events;
	(void)arg;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			log_info("signal %d: shutting down", (int)si.ssi_signo);
			quit = 1;
			break;
		case SIGCHLD:
			trace_reap();
			break;
		case SIGHUP:
			log_info("SIGHUP: configuration reload is not "
			    "supported; restart bpmaster to apply changes");
			break;
		}
	}
}

/* Say what the rate-limited warnings left out, once their interval ended. */
static void
master_log_timer(void *arg)
{
	static struct ev_timer	t;

	(void)arg;
	log_rate_flush();
	ev_timer_set(&t, LOG_RATE_MS, master_log_timer, NULL);
}

/*
 * The modules below tell those above through hooks, so no file imports
 * one that imports it back: here, at the top, they are wired together.
 */
static int
master_node_connected(struct node *n)
{
	/* names for the node's ls and id, before anything runs there */
	if (users_send(n) == -1)
		return -1;
	return setup_push_start(n);
}

static void
master_node_down(struct node *n)
{
	relay_node_down(n);
	standin_node_down(n);
	proc_node_down(n);
	/* its ghosts were told; they must be read to hear it */
	ctl_resume(n->num);
	setup_push_end(n);
}

static int
master_node_proc(struct node *n, const struct proto_frame *f)
{
	/* blobs the relay tree serves never reach the tool (relay.c) */
	if (f->h->type == MSG_RELAY_DONE)
		return relay_done(n, f);
	if (f->h->type == MSG_NEED && relay_need(n, f) == 1)
		return 0;
	if (f->h->type == MSG_EXEC_RESULT)
		relay_exec_result(n, f);
	return proc_from_node(n, f->h, f->tb, f->body, f->len);
}

static int
master_node_tree(struct node *n, const struct proto_frame *f)
{
	return tree_from_node(n, f->h, f->tb, f->body, f->len);
}

static void
master_ctl_exec(struct ctlconn *cc, const struct ucred *cred,
    const struct proto_frame *f)
{
	proc_exec(cc, cred, f->tb, f->body, f->len);
}

static int
master_ctl_from_ghost(struct proc *p, const struct proto_frame *f)
{
	return proc_from_ghost(p, f->h, f->tb, f->body, f->len);
}

static void
master_ctl_ghost_gone(struct proc *p)
{
	trace_forget(p);
	proc_ghost_gone(p);
}

static const struct ctl_hooks master_ctl_hooks = {
	.exec = master_ctl_exec,
	.from_ghost = master_ctl_from_ghost,
	.ghost_gone = master_ctl_ghost_gone,
	.procs = proc_list,
	.check_ghost = trace_check_ghost,
	.ghost = trace_ghost,
	.fork_result = tree_from_ghost,
	.rejoin = rejoin_ghost,
	.settings = persist_save,
	.standin = standin_from_ctl,
	.conn_gone = power_ctl_gone,
};

static void
master_hooks(void)
{
	proc_wire_hooks();
	node_hooks.changed = ctl_notify;
	node_hooks.connected = master_node_connected;
	node_hooks.down = master_node_down;
	node_hooks.lost = rejoin_node_lost;
	node_hooks.drained = ctl_resume;
	node_hooks.setup = setup_push_frame;
	node_hooks.proc = master_node_proc;
	node_hooks.tree = master_node_tree;
	node_hooks.kill = nodekill_from_node;
	node_hooks.hello = rejoin_hello;
	node_hooks.rejoin = rejoin_from_node;
	node_hooks.setup_done = persist_apply;
}

/* The key is made once, on the first start, and never leaves root. */
static int
master_key(const char *path, int create_only)
{
	char	err[512], dir[256], *slash;

	if (access(path, F_OK) == -1 && errno == ENOENT) {
		snprintf(dir, sizeof(dir), "%s", path);
		if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
			*slash = '\0';
			if (mkdir(dir, 0755) == -1 && errno != EEXIST)
				log_warn("mkdir %s", dir);
		}
		if (auth_key_create(path, err, sizeof(err)) == -1) {
			log_warnx("cannot create cluster key: %s", err);
			return -1;
		}
		log_info("created cluster key %s", path);
	}
	if (create_only)
		return 0;
	if (auth_key_load(path, cluster_key, err, sizeof(err)) == -1) {
		log_warnx("cluster key: %s", err);
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	const char	*confpath = MASTER_CONF, *keyonly = NULL;
	sigset_t	 mask;
	int		 ch, foreground = 0, verbose = 0, sfd;

	while ((ch = getopt(argc, argv, "c:dvK:h")) != -1) {
		switch (ch) {
		case 'c':
			confpath = optarg;
			break;
		case 'd':
			foreground = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'K':
			keyonly = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	umask(022);
	log_init("bpmaster", foreground || keyonly, verbose);
	if (auth_init() == -1)
		fatalx("libsodium initialisation failed");
	if (keyonly != NULL)
		return master_key(keyonly, 1) == -1 ? 1 : 0;
	if (geteuid() != 0)
		fatalx("must run as root");
	if (conf_load(confpath, &conf) == -1)
		fatalx("bad configuration, exiting");
	if (master_key(conf.keyfile, 0) == -1)
		fatalx("no usable cluster key, exiting");
	if (!foreground && daemon(0, 0) == -1)
		fatal("daemon");

	signal(SIGPIPE, SIG_IGN);
	/* one descriptor per ghost: raise the soft limit to the hard one */
	{
		struct rlimit	rl;

		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
		    rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	if ((sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) == -1)
		fatal("signalfd");
	mem_init();
	if (ev_init() == -1 || ev_add(sfd, EPOLLIN, master_signal, NULL) == -1)
		fatal("event loop");
	master_hooks();
	if (discovery_init() == -1)
		fatalx("node table");
	setup_push_scan();
	if (node_listen() == -1)
		fatalx("cannot listen for nodes");
	trace_init();
	rejoin_init();
	if (ctl_listen(&master_ctl_hooks) == -1)
		fatalx("cannot open control socket");
	master_log_timer(NULL);
	users_init();
	if (power_init() == -1)
		fatalx("out-of-band power: fix the BMC settings");
	log_info("ready: %d nodes, node link %s:%d, control %s, discovery %s",
	    numnodes, conf.listen_addr, conf.listen_port, conf.control,
	    conf.discovery ? "on" : "off");
	notify_send("READY=1");

	ev_loop(&quit);
	notify_send("STOPPING=1");

	/*
	 * With a grace, stopping is handing over (an upgrade, a restart):
	 * nodes keep their processes and ghosts wait for the next master,
	 * as after a crash.  Closing here would end them all.
	 */
	if (conf.grace_ms == 0) {
		ctl_shutdown();
		node_shutdown();
	} else
		log_info("leaving %d processes to the next master (master_grace "
		    "%u s)", proc_count(), conf.grace_ms / 1000);
	explicit_bzero(cluster_key, sizeof(cluster_key));
	log_info("exiting");
	return 0;
}
