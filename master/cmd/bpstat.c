/*
 * bpstat: print bpmaster's node table.
 *
 * Every view is printed from one snapshot (bproc_nodelist), so the lines of
 * one run agree with each other even while nodes come and go.  The live
 * view (-U) takes a new snapshot whenever the master says the table changed
 * and redraws at once; it polls nothing on a timer except, in the long
 * view, the last-seen ages, which it refreshes once a second while they are
 * on screen.
 *
 * -p prints the process space instead: one row per remote process
 * (bproc_proclist), BProc's "PID<TAB>Node" columns first so old scripts
 * still cut them, then the PID on the node, the owner and the command.
 *
 * Exit status: 0 ok; 1 a node named on the command line does not exist (or
 * -U lost the master, or the tool ran out of memory); 2 usage error; 3
 * bpmaster cannot be reached or closed the connection (it refuses one
 * when a user holds too many).
 */
#include <err.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpstat_int.h"

static void	usage(int) __attribute__((noreturn));


static void
usage(int status)
{
	static const char	synopsis[] =
	    "usage: bpstat [-l | -a | --json | -N | -t | -u]"
	    " [-n | -s | -O | -G] [-r]\n"
	    "              [-U] [nodes ...]\n"
	    "       bpstat -p [--json] [-n | -O] [-r] [nodes ...]\n";

	/* a mistake gets the synopsis; -h the whole story */
	if (status != 0) {
		fputs(synopsis, stderr);
		exit(status);
	}
	fputs(synopsis, stdout);
	fputs(
	    "  -l       long view: one line per node with address, boot\n"
	    "           stage, last-seen age, load, cpus, memory, uptime,\n"
	    "           processes, cache and push bytes\n"
	    "  -a       node addresses and MACs\n"
	    "  --json   JSON array, one object per node and line\n"
	    "  -N, -t   print only the number of nodes\n"
	    "  -u       print only the number of nodes that are up\n"
	    "  -n       sort by node number (default)\n"
	    "  -s       sort by state\n"
	    "  -O       sort by owner\n"
	    "  -G       sort by group\n"
	    "  -r       reverse the order\n"
	    "  -U       live view, redrawn when the node table changes;\n"
	    "           q quits\n"
	    "  -p       remote processes: PID, Node, RPID (the PID on the\n"
	    "           node, - when the same), User, Command, tab-separated;\n"
	    "           with --json one object per process; sorted by node\n"
	    "           and PID, or by user with -O\n"
	    "  nodes    node sets such as 0-3, n[0-7], up, '!down'; with -p\n"
	    "           only the processes on those nodes\n"
	    "exit status: 0 ok, 1 a named node does not exist (or -U lost\n"
	    "bpmaster), 2 usage error, 3 cannot reach bpmaster (or it\n"
	    "closed the connection)\n", stdout);
	exit(status);
}

static void
set_view(struct bpstat *bs, enum view v, char flag)
{
	if (bs->view_set && bs->view != v) {
		if (flag == 'j' || bs->view_flag == 'j')
			warnx("--json and -%c cannot be combined",
			    flag == 'j' ? bs->view_flag : flag);
		else
			warnx("-%c and -%c cannot be combined", bs->view_flag,
			    flag);
		usage(EXIT_USAGE);
	}
	bs->view = v;
	bs->view_set = 1;
	bs->view_flag = flag;
}

static void
set_sort(struct bpstat *bs, enum sort_key k, char flag)
{
	bs->sort = k;
	bs->sort_flag = flag;
}

static void
parse_args(struct bpstat *bs, int argc, char *argv[])
{
	static const struct option	longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int				ch;

	memset(bs, 0, sizeof(*bs));
	while ((ch = getopt_long(argc, argv, "hlaNtunsOGrUp", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'h':
			usage(0);
		case 'l':
			set_view(bs, VIEW_LONG, 'l');
			break;
		case 'a':
			set_view(bs, VIEW_ADDR, 'a');
			break;
		case 'j':
			set_view(bs, VIEW_JSON, 'j');
			break;
		case 'N':
		case 't':
			set_view(bs, VIEW_COUNT_ALL, (char)ch);
			break;
		case 'u':
			set_view(bs, VIEW_COUNT_UP, 'u');
			break;
		case 'n':
			set_sort(bs, SORT_NODE, 'n');
			break;
		case 's':
			set_sort(bs, SORT_STATE, 's');
			break;
		case 'O':
			set_sort(bs, SORT_OWNER, 'O');
			break;
		case 'G':
			set_sort(bs, SORT_GROUP, 'G');
			break;
		case 'r':
			bs->reverse = 1;
			break;
		case 'U':
			bs->live = 1;
			break;
		case 'p':
			bs->procs = 1;
			break;
		default:
			usage(EXIT_USAGE);
		}
	}
	bs->specs = argv + optind;
	bs->nspecs = argc - optind;
}

/* The flags that do not go together, told before anything runs. */
static void
check_args(const struct bpstat *bs)
{
	if (bs->procs) {
		/* the node views' flags have no meaning for processes */
		if (bs->view_set && bs->view != VIEW_JSON) {
			warnx("-p and -%c cannot be combined", bs->view_flag);
			usage(EXIT_USAGE);
		}
		if (bs->sort == SORT_STATE || bs->sort == SORT_GROUP) {
			warnx("-p sorts by node (-n) or user (-O), not -%c",
			    bs->sort_flag);
			usage(EXIT_USAGE);
		}
		if (bs->live) {
			warnx("-U shows the node table, not -p");
			usage(EXIT_USAGE);
		}
	} else if (bs->live && (bs->view == VIEW_JSON ||
	    bs->view == VIEW_COUNT_ALL || bs->view == VIEW_COUNT_UP)) {
		warnx("-U shows tables, not --json or counts");
		usage(EXIT_USAGE);
	}
}

int
main(int argc, char *argv[])
{
	struct bpstat	bs;
	struct snap	s;
	size_t		i;
	int		rc;

	parse_args(&bs, argc, argv);
	check_args(&bs);
	sort_by = bs.sort;
	sort_reverse = bs.reverse;
	if (bs.procs)
		return procs_run(&bs);
	if (bs.live)
		return live_run(&bs);

	snap_or_exit(&s, &bs);
	view_print(stdout, &bs, &s);
	if (fflush(stdout) == EOF || ferror(stdout))
		err(1, "stdout");
	for (i = 0; i < s.nmissing; i++)
		fprintf(stderr, "%d: No such node\n", s.missing[i]);
	rc = s.nmissing > 0 ? EXIT_NONODE : 0;
	snap_release(&s);
	return rc;
}
