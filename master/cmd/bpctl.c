/*
 * bpctl: change nodes' state, owner, group and mode, or reboot, halt and
 * power them off; --power switches a node's power through its BMC.
 *
 * Options run in the order given, each on every node of the set named by
 * the last -S before it, as in BProc:
 *
 *	bpctl -S 1 -m 0111 -S 2 -s unavailable
 *
 * The whole command line is checked before anything is changed, so a typo
 * in the last option does not leave the first ones half applied.  A node
 * that refuses a change is reported and the others still get it: an
 * administrator fixing forty nodes wants the thirty-nine, and the list of
 * the one that failed.  Whether a change is allowed (which states may be
 * set, who may chown) is the master's decision, not this tool's.
 *
 * Exit status: 0 ok; 1 a change failed on some node (one line
 * "<node>: <reason>" each, on stderr, or "bpctl: needs root ... nodes
 * 0-3" once for the nodes where the caller lacks the right); 2 usage
 * error; 3 bpmaster cannot be reached.
 */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bproc.h"
#include "nodeset.h"
#include "tool.h"

#define EXIT_FAILED	1	/* some node refused a change */
#define DENIED		(-2)	/* act_run: the master said EPERM, not printed yet */
#define EXIT_USAGE	2
#define MODE_MAX	07777	/* highest mode -m takes */

enum act_kind {
	ACT_SELECT,		/* -S: the nodes the next actions apply to */
	ACT_STATE,		/* -s */
	ACT_POWER,		/* -R, -H, -P */
	ACT_MODE,		/* -m */
	ACT_OWNER,		/* -u */
	ACT_GROUP,		/* -g */
	ACT_BMC			/* --power */
};

struct action {
	enum act_kind	 kind;
	char		 opt;	/* the option letter, for messages */
	const char	*arg;
	unsigned int	 val;	/* state, BPROC_POWER_*, mode, uid or gid */
};

static void	usage(int) __attribute__((noreturn));
static int	parse_mode(const char *, unsigned int *);
static int	parse_id(const char *, unsigned int *);
static void	parse_action(struct action *, int, const char *);
static void	snap_take_or_exit(struct tool_snap *);
static int	select_nodes(struct nodeset *, const char *,
		    const struct tool_snap *);
static int	act_run(const struct action *, int);
static size_t	report_missing(const struct nodeset *, const struct tool_snap *,
		    char *);
static void	node_report(int);

static int	verbose;

static void
usage(int status)
{
	static const char	synopsis[] =
	    "usage: bpctl [-v] -S nodes option... [-S nodes option...]...\n"
	    "option: -s state | -R | -H | -P | -m mode | -u user | -g group\n";

	if (status != 0) {
		fputs(synopsis, stderr);
		exit(status);
	}
	fputs(synopsis, stdout);
	fputs(
	    "  -S nodes   the nodes the following options apply to (0-3,"
	    " n[4-7], up, ...)\n"
	    "  -s state   set the state: up, unavailable, error, ...\n"
	    "  -R         reboot\n"
	    "  -H         halt\n"
	    "  -P         power off\n"
	    "  -m mode    set the permission mode, octal (0111: anyone may"
	    " run)\n"
	    "  -u user    set the owner, name or number\n"
	    "  -g group   set the group, name or number\n"
	    "  --power on|off|cycle|reset|status\n"
	    "             out-of-band, through the node's BMC (bpmaster runs\n"
	    "             ipmitool): switch its power, or print \"<node>: on\"\n"
	    "             or \"<node>: off\"; works on a hung or powered-off node\n"
	    "  -v         print \"<node>: done\" for every change made\n"
	    "Options run in order, each on the nodes of the last -S before"
	    " it.\n"
	    "exit status: 0 ok, 1 a change failed on some node, 2 usage"
	    " error,\n"
	    "3 cannot reach bpmaster\n", stdout);
	exit(status);
}

/* Octal digits only, as chmod(1) takes them; no sign, no spaces. */
static int
parse_mode(const char *s, unsigned int *mode)
{
	unsigned int	v = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '7')
			return -1;
		v = v * 8 + (unsigned int)(*s - '0');
		if (v > MODE_MAX)
			return -1;
	}
	*mode = v;
	return 0;
}

/* A decimal id; (unsigned)-1 means "leave as is" to bproc_chown, so no. */
static int
parse_id(const char *s, unsigned int *id)
{
	unsigned long long	v = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (unsigned int)(*s - '0');
		if (v >= UINT32_MAX)
			return -1;
	}
	*id = (unsigned int)v;
	return 0;
}

/*
 * --power: out-of-band power through the node's BMC.  bpmaster runs
 * ipmitool and answers when the BMC has; a node without a BMC, a BMC
 * that refuses the login or does not answer is reported as
 * "<node>: <what the master says>".
 */
#define OPT_POWER	0x100	/* getopt_long's value for --power */

static const char *const bmc_words[] = {
	[BPROC_BMC_STATUS] = "status", [BPROC_BMC_ON] = "on",
	[BPROC_BMC_OFF] = "off", [BPROC_BMC_CYCLE] = "cycle",
	[BPROC_BMC_RESET] = "reset"
};

static void
bmc_parse(struct action *a, const char *arg)
{
	unsigned int	i;

	a->kind = ACT_BMC;
	for (i = BPROC_BMC_STATUS; i <= BPROC_BMC_RESET; i++)
		if (strcmp(arg, bmc_words[i]) == 0) {
			a->val = i;
			return;
		}
	warnx("--power: '%s' is not on, off, cycle, reset or status", arg);
	usage(EXIT_USAGE);
}

static int
bmc_run(const struct action *a, int node)
{
	int	r = bproc_nodepower(node, (int)a->val);

	if (r == -1) {
		if (tool_master_unreachable(errno))
			tool_master_fail();
		if (errno == EPERM)
			return DENIED;
		fprintf(stderr, "%d: %s\n", node, bproc_strerror());
		return -1;
	}
	if (a->val == BPROC_BMC_STATUS || verbose)
		printf("%d: %s\n", node, r == BPROC_PWR_ON ? "on" :
		    r == BPROC_PWR_OFF ? "off" : "unknown");
	return 0;
}

/* Check one option's argument now, so nothing runs after a usage error. */
static void
parse_action(struct action *a, int opt, const char *arg)
{
	struct passwd	*pw;
	struct group	*gr;
	int		 st;

	memset(a, 0, sizeof(*a));
	a->opt = (char)opt;
	a->arg = arg;
	switch (opt) {
	case 'S':
		a->kind = ACT_SELECT;
		break;
	case 's':
		a->kind = ACT_STATE;
		if ((st = node_state_parse(arg)) == -1) {
			warnx("-s: unknown state '%s'", arg);
			usage(EXIT_USAGE);
		}
		a->val = (unsigned int)st;
		break;
	case 'R':
		a->kind = ACT_POWER;
		a->val = BPROC_POWER_REBOOT;
		break;
	case 'H':
		a->kind = ACT_POWER;
		a->val = BPROC_POWER_HALT;
		break;
	case 'P':
		a->kind = ACT_POWER;
		a->val = BPROC_POWER_OFF;
		break;
	case 'm':
		a->kind = ACT_MODE;
		if (parse_mode(arg, &a->val) == -1) {
			warnx("-m: '%s' is not an octal mode up to %#o", arg,
			    MODE_MAX);
			usage(EXIT_USAGE);
		}
		break;
	case 'u':
		/* a name first, as chown(1) does: a user may be called "42" */
		a->kind = ACT_OWNER;
		if ((pw = getpwnam(arg)) != NULL)
			a->val = (unsigned int)pw->pw_uid;
		else if (parse_id(arg, &a->val) == -1) {
			warnx("-u: unknown user '%s'", arg);
			usage(EXIT_USAGE);
		}
		break;
	case 'g':
		a->kind = ACT_GROUP;
		if ((gr = getgrnam(arg)) != NULL)
			a->val = (unsigned int)gr->gr_gid;
		else if (parse_id(arg, &a->val) == -1) {
			warnx("-g: unknown group '%s'", arg);
			usage(EXIT_USAGE);
		}
		break;
	case OPT_POWER:
		bmc_parse(a, arg);
		break;
	default:
		usage(EXIT_USAGE);
	}
}

/* The node table, or exit 3: nothing is done without it. */
static void
snap_take_or_exit(struct tool_snap *s)
{
	if (tool_snap_take(s) == -1)
		tool_master_fail();
}

static int
select_nodes(struct nodeset *set, const char *spec, const struct tool_snap *s)
{
	char	errbuf[256];

	if (nodeset_parse(set, spec, s->numnodes, s->states, errbuf,
	    sizeof(errbuf)) == -1) {
		warnx("-S: %s", errbuf);
		return -1;
	}
	return 0;
}

/*
 * Nodes of the set that do not exist; each is reported once however many
 * options follow it.  Returns how many the set holds.
 */
static size_t
report_missing(const struct nodeset *set, const struct tool_snap *s,
    char *reported)
{
	size_t	i, n = 0;
	int	node;

	for (i = 0; i < set->count; i++) {
		node = set->nodes[i];
		if (tool_snap_has(s, node))
			continue;
		if (!reported[node])
			fprintf(stderr, "%d: No such node\n", node);
		reported[node] = 1;
		n++;
	}
	return n;
}

/*
 * The reasons users meet most print exactly as BProc printed them ("7: No
 * such node", "2: Permission denied"); for the rest the master's detail,
 * when it has one, follows the errno text.
 */
static void
node_report(int node)
{
	int		 e = errno;
	const char	*detail = bproc_strerror();

	switch (e) {
	case ENODEV:
		fprintf(stderr, "%d: No such node\n", node);
		return;
	case EPERM:
		fprintf(stderr, "%d: Permission denied\n", node);
		return;
	}
	if (strcmp(detail, strerror(e)) != 0)
		fprintf(stderr, "%d: %s: %s\n", node, strerror(e), detail);
	else
		fprintf(stderr, "%d: %s\n", node, strerror(e));
}

/*
 * A change the master refused for want of rights, on the nodes denied[]
 * (n of them): one line for them all, saying who may make it (bpmaster
 * lets a node's owner change its mode and group, root everything).
 */
static void
denied_report(const struct action *a, int *denied, size_t n)
{
	static const char *const power[] = {
		[BPROC_POWER_REBOOT] = "reboot", [BPROC_POWER_HALT] = "halt",
		[BPROC_POWER_OFF] = "power off"
	};
	const char	*who = "root", *what = "change";
	char		 set[256];

	if (n == 0)
		return;
	switch (a->kind) {
	case ACT_MODE:
		who = "root (or the node's owner)";
		what = "change the mode of";
		break;
	case ACT_GROUP:
		who = "root (or the node's owner)";
		what = "change the group of";
		break;
	case ACT_OWNER:
		what = "change the owner of";
		break;
	case ACT_STATE:
		what = "set the state of";
		break;
	case ACT_POWER:
		what = a->val < sizeof(power) / sizeof(power[0]) &&
		    power[a->val] ? power[a->val] : "power";
		break;
	case ACT_BMC:
		what = "switch the power of";
		break;
	case ACT_SELECT:
		break;
	}
	nodeset_format(set, sizeof(set), denied, n);
	fprintf(stderr, "bpctl: needs %s to %s node%s %s\n", who, what,
	    n > 1 ? "s" : "", set);
}

/* Apply a to one node: 0 done, -1 failed (reported), DENIED (not yet). */
static int
act_run(const struct action *a, int node)
{
	int	r = -1;

	switch (a->kind) {
	case ACT_STATE:
		r = bproc_setnodestate(node, (int)a->val);
		break;
	case ACT_POWER:
		r = bproc_power(node, (int)a->val);
		break;
	case ACT_MODE:
		r = bproc_chmod(node, a->val);
		break;
	case ACT_OWNER:
		r = bproc_chown(node, (uid_t)a->val, (gid_t)-1);
		break;
	case ACT_GROUP:
		r = bproc_chown(node, (uid_t)-1, (gid_t)a->val);
		break;
	case ACT_BMC:
		return bmc_run(a, node);
	case ACT_SELECT:
		errno = EINVAL;
		break;
	}
	if (r == -1) {
		/* no point telling each node the master is gone */
		if (tool_master_unreachable(errno))
			tool_master_fail();
		if (errno == EPERM)
			return DENIED;
		node_report(node);
		return -1;
	}
	if (verbose)
		printf("%d: done\n", node);
	return 0;
}

/*
 * Check the whole command line into acts[] (as many as argc): the number
 * of actions.  Usage errors exit here, before anything is changed.
 */
static size_t
parse_args(int argc, char *argv[], struct action *acts)
{
	size_t	nacts = 0;
	int	ch, have_set = 0, acted = 0;

	static const struct option	longopts[] = {
		{ "power", required_argument, NULL, OPT_POWER },
		{ NULL, 0, NULL, 0 }
	};

	while ((ch = getopt_long(argc, argv, "hvS:s:RHPm:u:g:", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'h':
			usage(0);
		case 'v':
			verbose = 1;
			continue;
		case '?':
			usage(EXIT_USAGE);
		}
		if (ch != 'S' && !have_set) {
			if (ch == OPT_POWER)
				warnx("--power: no -S before it says which nodes");
			else
				warnx("-%c: no -S before it says which nodes", ch);
			usage(EXIT_USAGE);
		}
		if (ch == 'S' && have_set && !acted) {
			warnx("-S %s: no option follows it",
			    acts[nacts - 1].arg);
			usage(EXIT_USAGE);
		}
		parse_action(&acts[nacts++], ch, optarg);
		if (ch == 'S')
			have_set = 1;
		acted = ch != 'S';
	}
	if (optind < argc) {
		warnx("unexpected argument '%s'", argv[optind]);
		usage(EXIT_USAGE);
	}
	if (nacts == 0)
		usage(EXIT_USAGE);
	if (!acted) {
		warnx("-S %s: no option follows it", acts[nacts - 1].arg);
		usage(EXIT_USAGE);
	}
	return nacts;
}

/* Run the actions in order; 1 if some change failed, else 0. */
static int
run_actions(const struct action *acts, size_t nacts)
{
	struct nodeset	 set = { NULL, 0, 0 };
	struct tool_snap s;
	char		*reported;
	int		*denied = NULL;
	size_t		 i, j, ndenied;
	int		 failed = 0, node, r;

	if ((reported = calloc(NODESET_MAX + 1, 1)) == NULL)
		err(EXIT_FAILED, NULL);
	for (i = 0; i < nacts; i++) {
		if (acts[i].kind == ACT_SELECT) {
			/*
			 * A fresh snapshot per -S, so `-S up -s unavailable
			 * -S unavailable ...` sees what the options before
			 * it did, as it would run as two commands.
			 */
			snap_take_or_exit(&s);
			if (select_nodes(&set, acts[i].arg, &s) == -1)
				exit(EXIT_USAGE);
			if (report_missing(&set, &s, reported) > 0)
				failed = 1;
			free(denied);
			if ((denied = calloc(set.count + 1, sizeof(*denied))) ==
			    NULL)
				err(EXIT_FAILED, NULL);
			continue;
		}
		for (j = 0, ndenied = 0; j < set.count; j++) {
			node = set.nodes[j];
			if (!tool_snap_has(&s, node))
				continue;
			if ((r = act_run(&acts[i], node)) == DENIED)
				denied[ndenied++] = node;
			if (r != 0)
				failed = 1;
		}
		denied_report(&acts[i], denied, ndenied);
		/* the last action of a -S: its snapshot is done with */
		if (i + 1 == nacts || acts[i + 1].kind == ACT_SELECT)
			tool_snap_free(&s);
	}
	nodeset_free(&set);
	free(denied);
	free(reported);
	return failed;
}

int
main(int argc, char *argv[])
{
	struct action	*acts;
	struct nodeset	 set = { NULL, 0, 0 };
	struct tool_snap s;
	size_t		 nacts, i;
	int		 failed;

	if ((acts = calloc((size_t)argc, sizeof(*acts))) == NULL)
		err(EXIT_FAILED, NULL);
	nacts = parse_args(argc, argv, acts);

	/* Every node set must parse before anything is changed. */
	snap_take_or_exit(&s);
	for (i = 0; i < nacts; i++)
		if (acts[i].kind == ACT_SELECT &&
		    select_nodes(&set, acts[i].arg, &s) == -1)
			exit(EXIT_USAGE);
	tool_snap_free(&s);
	nodeset_free(&set);

	failed = run_actions(acts, nacts);
	free(acts);
	if (fflush(stdout) == EOF)
		err(EXIT_FAILED, "stdout");
	return failed ? EXIT_FAILED : 0;
}
