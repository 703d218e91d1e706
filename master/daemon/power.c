/*
 * Out-of-band power: each node with a "bmc" line in bpmaster.conf has its
 * BMC driven with `ipmitool -I lanplus`, as root, when a tool asks
 * (CTL_POWER: status, on, off, cycle, reset), every bmc_poll seconds for
 * the chassis power state bpstat -l shows, and, with bmc_hung set, to
 * power-cycle a node that has stayed down that long while its BMC says
 * it is on.
 *
 * The event loop is single-threaded, so ipmitool never runs in it: each
 * run is a child spawned with its stdout and stderr on a pipe the loop
 * watches, and a timer kills it after bmc_timeout seconds.  What it
 * printed decides the outcome ("Chassis Power is on", "Chassis Power
 * Control: Up/On"); the exit status is not needed, so the SIGCHLD handler
 * (trace.c's waitpid(-1)) may reap it whenever it likes.  One run per
 * node at a time: a tool's request that finds a status poll running
 * kills it (the tool then waits for one run only, well within the control
 * socket's idle time); one that finds another request or the policy's
 * power cycle running gets EBUSY.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bpmaster.h"
#include "log.h"

#define POWER_OUT_MAX	2048	/* bytes of ipmitool output kept */
#define POWER_TICK_MS	1000	/* polls and the hung-node check */
#define POWER_JOBS_MAX	16	/* ipmitool runs at once */
#define POWER_RETRIES	"2"	/* ipmitool -R: retries per message */
#define POWER_NET_TIMEOUT "2"	/* ipmitool -N: seconds per try */

extern char	**environ;

/* Who asked for a run: a tool (its answer is due), a poll, the policy. */
enum power_origin {
	ORIGIN_TOOL, ORIGIN_POLL, ORIGIN_HUNG
};

struct power_job {
	int		 fd;		/* ipmitool's stdout and stderr */
	pid_t		 pid;
	int		 pidfd;		/* to kill it: its PID may be reaped and reused */
	int		 op;		/* BMC_OP_* */
	int		 origin;
	struct ctlconn	*cc;		/* ORIGIN_TOOL, until it goes away */
	uint32_t	 seq;
	struct ev_timer	 timer;
	char		 out[POWER_OUT_MAX];
	size_t		 outlen;
};

struct power_node {
	const struct bmc_host	*bmc;	/* NULL: no BMC */
	int		 power;		/* BMC_POWER_* */
	struct power_job *job;		/* running, or NULL */
	uint64_t	 down_since;	/* ev_now() it went down (or was powered on
					   down); 0 up, or never up */
	int		 seen_up;	/* up at least once since we started */
	uint64_t	 last_cycle;	/* the policy's last power cycle */
	uint64_t	 next_poll;
	int		 warned;	/* the last poll's failure was logged */
};

static struct power_node	*pn;
static int			 npn;
static int			 njobs;
static struct ev_timer		 tick;

static const char *const op_words[BMC_OP_MAX] = {
	[BMC_OP_STATUS] = "status", [BMC_OP_ON] = "on", [BMC_OP_OFF] = "off",
	[BMC_OP_CYCLE] = "cycle", [BMC_OP_RESET] = "reset"
};

static void	power_tick(void *);

/*
 * SIGKILL through the pidfd taken at spawn, so the signal cannot reach
 * another process that got the PID after trace.c reaped ours.
 */
static void
power_kill(struct power_job *j)
{
	if (j->pidfd != -1)
		syscall(SYS_pidfd_send_signal, j->pidfd, SIGKILL, NULL, 0);
}

static void
power_job_free(int num)
{
	struct power_job	*j = pn[num].job;

	ev_timer_del(&j->timer);
	ev_del(j->fd);
	close(j->fd);
	if (j->pidfd != -1)
		close(j->pidfd);
	free(j);
	pn[num].job = NULL;
	njobs--;
}

static const char *
power_passfile(const struct bmc_host *b)
{
	return b->passfile[0] ? b->passfile : conf.bmc_passfile;
}

/*
 * The password file must be root's and unreadable to anyone else: it is
 * the key to the node's power and console.  ipmitool reads it itself
 * (-f), so the password is never on a command line or in our memory.
 */
static int
power_check_passfile(const char *path, int node)
{
	struct stat	st;

	if (stat(path, &st) == -1) {
		log_warn("node %d: BMC password file %s", node, path);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != 0 ||
	    (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		log_warnx("node %d: BMC password file %s must be a file owned "
		    "by root with mode 0600 or 0400", node, path);
		return -1;
	}
	return 0;
}

int
power_init(void)
{
	size_t	i;
	int	n;

	if (conf.nbmcs == 0)
		return 0;
	npn = numnodes;
	if ((pn = calloc((size_t)npn, sizeof(*pn))) == NULL)
		fatal("power");
	for (i = 0; i < conf.nbmcs; i++) {
		n = conf.bmcs[i].node;
		if (n < 0 || n >= npn)
			continue;
		if (power_check_passfile(power_passfile(&conf.bmcs[i]), n) == -1)
			return -1;
		pn[n].bmc = &conf.bmcs[i];
		pn[n].power = BMC_POWER_UNKNOWN;
	}
	if (conf.bmc_hung_s)
		log_info("out-of-band power: %zu BMCs, status every %u s, a "
		    "node down %u s with its power on is power-cycled",
		    conf.nbmcs, conf.bmc_poll_s, conf.bmc_hung_s);
	else
		log_info("out-of-band power: %zu BMCs, status every %u s",
		    conf.nbmcs, conf.bmc_poll_s);
	ev_timer_set(&tick, 0, power_tick, NULL);
	return 0;
}

/* A node's power state for CTL_NODE, only where a BMC is configured. */
void
power_put_node(struct wire_msg *m, int num)
{
	if (num >= 0 && num < npn && pn[num].bmc != NULL)
		wire_put_u8(m, A_POWER, (uint8_t)pn[num].power);
}

static void
power_set_state(int num, int power)
{
	if (pn[num].power == power)
		return;
	log_info("node %d: BMC says power %s", num,
	    power == BMC_POWER_ON ? "on" :
	    power == BMC_POWER_OFF ? "off" : "unknown");
	pn[num].power = power;
	/* a lost link's processes died with the power (rejoin.c) */
	if (power == BMC_POWER_OFF)
		rejoin_node_off(num, "its BMC says power off");
	ctl_notify();
}

static void
power_reply(struct power_job *j, int num, int e, const char *msg)
{
	unsigned char	buf[1536];
	struct wire_msg	m;

	if (j->cc == NULL)
		return;
	wire_msg_init(&m, buf, sizeof(buf), MSG_CTL_RESULT, WIRE_F_REPLY,
	    j->seq);
	wire_put_u32(&m, A_NODE, (uint32_t)num);
	wire_put_u32(&m, A_ERRNO, (uint32_t)e);
	if (msg != NULL && *msg != '\0')
		wire_put_str(&m, A_MSG, msg);
	if (pn[num].power != BMC_POWER_NONE)
		wire_put_u8(&m, A_POWER, (uint8_t)pn[num].power);
	ctl_send_msg(j->cc, &m);
	j->cc = NULL;
}

/* The first line of ipmitool's output, for messages and logs. */
static void
power_first_line(const struct power_job *j, char *buf, size_t len)
{
	const char	*p = j->out, *end;

	while (*p == '\n' || *p == ' ')
		p++;
	end = strchr(p, '\n');
	snprintf(buf, len, "%.*s", (int)(end ? end - p : (long)strlen(p)), p);
	if (buf[0] == '\0')
		snprintf(buf, len, "no output");
}

/*
 * What ipmitool said, in words an administrator can act on.  A session
 * that does not come up is a wrong user or password when the BMC
 * answered (RAKP messages: ipmitool says so only with -v, but then it
 * fails at once), and an unreachable BMC when it took the whole timeout.
 */
static int
power_verdict(struct power_job *j, int num, int timed_out, char *msg,
    size_t len)
{
	const struct bmc_host	*b = pn[num].bmc;
	char			 line[256], where[96];

	snprintf(where, sizeof(where), "BMC %s%s%s", b->host,
	    b->port[0] ? ":" : "", b->port);
	if (timed_out) {
		power_set_state(num, BMC_POWER_UNKNOWN);
		snprintf(msg, len, "%s did not answer within %u s", where,
		    conf.bmc_timeout_s);
		return ETIMEDOUT;
	}
	j->out[j->outlen] = '\0';
	if (j->op == BMC_OP_STATUS) {
		if (strstr(j->out, "Chassis Power is on") != NULL) {
			power_set_state(num, BMC_POWER_ON);
			snprintf(msg, len, "on");
			return 0;
		}
		if (strstr(j->out, "Chassis Power is off") != NULL) {
			power_set_state(num, BMC_POWER_OFF);
			snprintf(msg, len, "off");
			return 0;
		}
	} else if (strstr(j->out, "Chassis Power Control:") != NULL) {
		/* what the chassis does next is what the next status says */
		power_set_state(num, j->op == BMC_OP_OFF ? BMC_POWER_OFF :
		    BMC_POWER_ON);
		/* a machine just powered on has bmc_hung seconds to boot */
		if (j->op != BMC_OP_OFF && pn[num].down_since)
			pn[num].down_since = ev_now();
		if (j->op == BMC_OP_CYCLE || j->op == BMC_OP_RESET)
			rejoin_node_off(num, "reset through its BMC");
		snprintf(msg, len, "%s", j->op == BMC_OP_OFF ? "off" : "on");
		return 0;
	}
	power_first_line(j, line, sizeof(line));
	power_set_state(num, BMC_POWER_UNKNOWN);
	if (strstr(j->out, "Unable to establish") != NULL ||
	    strstr(j->out, "RAKP") != NULL ||
	    strstr(j->out, "nauthorized") != NULL) {
		snprintf(msg, len, "%s refused the login of user %s (wrong user "
		    "or password in %s?): %s", where, b->user,
		    power_passfile(b), line);
		return EKEYREJECTED;
	}
	snprintf(msg, len, "%s: %s", where, line);
	return EIO;
}

static void
power_finish(struct power_job *j, int num, int timed_out)
{
	char	msg[1024];
	int	e;

	e = power_verdict(j, num, timed_out, msg, sizeof(msg));
	if (j->origin == ORIGIN_POLL) {
		/* a BMC that keeps failing is logged once, not every poll */
		if (e != 0 && !pn[num].warned)
			log_warnx("node %d: power status: %s", num, msg);
		else if (e == 0 && pn[num].warned)
			log_info("node %d: BMC answers again", num);
		pn[num].warned = e != 0;
	} else if (e != 0)
		log_warnx("node %d: power %s: %s", num, op_words[j->op], msg);
	else if (j->op != BMC_OP_STATUS)
		log_info("node %d: power %s done (%s)", num, op_words[j->op],
		    j->origin == ORIGIN_HUNG ? "bmc_hung" : "bpctl");
	power_reply(j, num, e, msg);
	power_job_free(num);
}

/* A status poll gives way to a tool: killed, its answer never read. */
static void
power_abort_poll(int num)
{
	power_kill(pn[num].job);
	power_job_free(num);
}

static int
power_job_node(const struct power_job *j)
{
	int	i;

	for (i = 0; i < npn; i++)
		if (pn[i].job == j)
			return i;
	return -1;
}

static void
power_read(int fd, uint32_t events, void *arg)
{
	struct power_job	*j = arg;
	ssize_t			 n;
	char			 discard[512];

	(void)events;
	for (;;) {
		if (j->outlen < sizeof(j->out) - 1)
			n = read(fd, j->out + j->outlen,
			    sizeof(j->out) - 1 - j->outlen);
		else
			n = read(fd, discard, sizeof(discard));
		if (n > 0) {
			if (j->outlen < sizeof(j->out) - 1)
				j->outlen += (size_t)n;
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		break;		/* EOF: ipmitool is done */
	}
	power_finish(j, power_job_node(j), 0);
}

static void
power_timeout(void *arg)
{
	struct power_job	*j = arg;

	power_kill(j);
	power_finish(j, power_job_node(j), 1);
}

/* Start ipmitool for op on node num; 0, or an errno. */
static int
power_spawn(int num, int op, int origin, struct ctlconn *cc, uint32_t seq)
{
	const struct bmc_host		*b = pn[num].bmc;
	struct power_job		*j;
	posix_spawn_file_actions_t	 fa;
	posix_spawnattr_t		 sa;
	sigset_t			 none, dfl;
	char				 cipher[16], *argv[24];
	int				 p[2], a = 0, r;

	if (pn[num].job != NULL)
		return EBUSY;
	if (njobs >= POWER_JOBS_MAX)
		return EAGAIN;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return ENOMEM;
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) == -1) {
		free(j);
		return errno;
	}
	argv[a++] = conf.bmc_ipmitool;
	argv[a++] = "-I";
	argv[a++] = "lanplus";
	argv[a++] = "-H";
	argv[a++] = (char *)b->host;
	if (b->port[0]) {
		argv[a++] = "-p";
		argv[a++] = (char *)b->port;
	}
	argv[a++] = "-U";
	argv[a++] = (char *)b->user;
	argv[a++] = "-f";
	argv[a++] = (char *)power_passfile(b);
	if (conf.bmc_cipher >= 0) {
		snprintf(cipher, sizeof(cipher), "%d", conf.bmc_cipher);
		argv[a++] = "-C";
		argv[a++] = cipher;
	}
	argv[a++] = "-N";
	argv[a++] = POWER_NET_TIMEOUT;
	argv[a++] = "-R";
	argv[a++] = POWER_RETRIES;
	argv[a++] = "chassis";
	argv[a++] = "power";
	argv[a++] = (char *)op_words[op];
	argv[a] = NULL;

	/*
	 * The child gets nothing blocked, the signals we ignore (SIGPIPE)
	 * back to their default, and no descriptor but 0-2.
	 */
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE);
	sigaddset(&dfl, SIGCHLD);
	posix_spawnattr_init(&sa);
	posix_spawnattr_setsigmask(&sa, &none);
	posix_spawnattr_setsigdefault(&sa, &dfl);
	posix_spawnattr_setflags(&sa, POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSID);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_adddup2(&fa, p[1], 2);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	r = posix_spawnp(&j->pid, argv[0], &fa, &sa, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&sa);
	close(p[1]);
	if (r != 0) {
		close(p[0]);
		free(j);
		log_warnx("node %d: cannot run %s: %s", num, argv[0],
		    strerror(r));
		return r;
	}
	/* nothing reaps between the spawn and here: the loop is ours */
	j->pidfd = (int)syscall(SYS_pidfd_open, j->pid, 0);
	j->fd = p[0];
	j->op = op;
	j->origin = origin;
	j->cc = cc;
	j->seq = seq;
	if (ev_add(j->fd, EPOLLIN, power_read, j) == -1) {
		power_kill(j);
		close(j->fd);
		if (j->pidfd != -1)
			close(j->pidfd);
		free(j);
		return EIO;
	}
	ev_timer_set(&j->timer, (uint64_t)conf.bmc_timeout_s * 1000,
	    power_timeout, j);
	pn[num].job = j;
	njobs++;
	log_debug("node %d: %s chassis power %s (pid %d)", num, argv[0],
	    op_words[op], (int)j->pid);
	return 0;
}

/*
 * CTL_POWER from a tool.  Asking is anyone's (bpstat -l shows the same
 * state); switching power is root's, as -R/-H/-P are.  The errno of a
 * failure is never ENOENT, EACCES or ECONNREFUSED, which tools read as
 * "bpmaster cannot be reached": a refused login is EKEYREJECTED.
 */
void
power_request(struct ctlconn *cc, uid_t uid, uint32_t seq,
    struct wire_attr *tb)
{
	struct power_job	 fake = { .cc = cc, .seq = seq };
	uint32_t		 num = wire_get_u32(&tb[A_NODE]);
	/* A_BMC_OP is past the attributes a message can require */
	int			 op = tb[A_BMC_OP].data ?
				    wire_get_u8(&tb[A_BMC_OP]) : 0, e;
	char			 msg[512];

	if (num >= (uint32_t)numnodes) {
		e = ENODEV;
		snprintf(msg, sizeof(msg), "No such node");
	} else if (op < BMC_OP_STATUS || op >= BMC_OP_MAX) {
		e = EINVAL;
		snprintf(msg, sizeof(msg), "bad power operation");
	} else if ((int)num >= npn || pn[num].bmc == NULL) {
		e = ENOTSUP;
		snprintf(msg, sizeof(msg), "node %u has no BMC (a \"bmc %u "
		    "ADDRESS USER\" line in bpmaster.conf)", num, num);
	} else if (op != BMC_OP_STATUS && uid != 0) {
		e = EPERM;
		snprintf(msg, sizeof(msg), "only root switches a node's power");
	} else {
		if (pn[num].job != NULL && pn[num].job->origin == ORIGIN_POLL)
			power_abort_poll((int)num);
		if ((e = power_spawn((int)num, op, ORIGIN_TOOL, cc, seq)) == 0) {
			if (op != BMC_OP_STATUS)
				log_info("node %u: power %s through its BMC, "
				    "by uid %u", num, op_words[op],
				    (unsigned)uid);
			return;		/* answered when ipmitool is done */
		}
		if (e == EBUSY)
			snprintf(msg, sizeof(msg), "%s", pn[num].job->origin ==
			    ORIGIN_HUNG ? "bmc_hung is power-cycling this node" :
			    "another BMC request for this node is running");
		else {
			snprintf(msg, sizeof(msg), "cannot run %s: %s",
			    conf.bmc_ipmitool, strerror(e));
			/* not ENOENT: tools take that for a missing socket */
			e = EIO;
		}
	}
	/* answered now: power_reply wants a node within the table */
	if (num >= (uint32_t)npn) {
		unsigned char	buf[512];
		struct wire_msg	m;

		wire_msg_init(&m, buf, sizeof(buf), MSG_CTL_RESULT,
		    WIRE_F_REPLY, seq);
		wire_put_u32(&m, A_NODE, num);
		wire_put_u32(&m, A_ERRNO, (uint32_t)e);
		wire_put_str(&m, A_MSG, msg);
		ctl_send_msg(cc, &m);
		return;
	}
	power_reply(&fake, (int)num, e, msg);
}

/* A tool went away: its run goes on, but nobody is told. */
void
power_ctl_gone(struct ctlconn *cc)
{
	int	i;

	for (i = 0; i < npn; i++)
		if (pn[i].job != NULL && pn[i].job->cc == cc)
			pn[i].job->cc = NULL;
}

/*
 * Once a second: a status poll for each BMC that is due, and the hung-node
 * policy, which power-cycles a node that was up, has been down bmc_hung
 * seconds (counted again from each power-on) and whose BMC says the power
 * is on (a node someone powered off stays off), at most once per bmc_hung
 * seconds.  A node never up since bpmaster started is left alone: it may
 * be booting, or broken in a way a power cycle does not mend.
 */
static void
power_tick(void *arg)
{
	uint64_t	now = ev_now(), hung = (uint64_t)conf.bmc_hung_s * 1000;
	int		i;

	(void)arg;
	for (i = 0; i < npn && i < numnodes; i++) {
		if (pn[i].bmc == NULL)
			continue;
		if (nodes[i].state != NODE_DOWN) {
			pn[i].down_since = 0;
			pn[i].seen_up = 1;
		} else if (pn[i].down_since == 0 && pn[i].seen_up)
			pn[i].down_since = now;
		if (hung && pn[i].down_since && pn[i].job == NULL &&
		    pn[i].power == BMC_POWER_ON &&
		    now - pn[i].down_since >= hung &&
		    (pn[i].last_cycle == 0 || now - pn[i].last_cycle >= hung)) {
			log_warnx("node %d: down for %llu s with its power on; "
			    "power-cycling it (bmc_hung %u)", i,
			    (unsigned long long)((now - pn[i].down_since) / 1000),
			    conf.bmc_hung_s);
			if (power_spawn(i, BMC_OP_CYCLE, ORIGIN_HUNG, NULL, 0) == 0)
				pn[i].last_cycle = now;
			continue;
		}
		if (conf.bmc_poll_s && pn[i].job == NULL && now >= pn[i].next_poll &&
		    power_spawn(i, BMC_OP_STATUS, ORIGIN_POLL, NULL, 0) == 0)
			pn[i].next_poll = now + (uint64_t)conf.bmc_poll_s * 1000;
	}
	ev_timer_set(&tick, POWER_TICK_MS, power_tick, NULL);
}
