/*
 * bpcp: copy files and directory trees between the front end and nodes,
 * rcp style: bpcp [-p] [-r] SRC... DST, where any SRC or DST is N:path
 * (or nN:path) on node N, or a front-end path.
 *
 * Every copy is a source feeding a sink through bpcp.  The source is
 * either a front-end file bpcp reads itself, or a small shell script (the
 * node's busybox on a node, /bin/sh on the front end) that prints a one
 * line header (kind, size, mode, mtime, owner) and then the content: the
 * file's bytes, or a tar stream for -r.  The sink is the matching script
 * on the other end; it writes into a temporary name next to the
 * destination, checks that the whole content arrived (a file's size; for
 * a tree, an end marker bpcp adds only once the source's tar succeeded),
 * applies mode, owner and times, and renames.  A copy that fails anywhere
 * leaves no partial file at the destination.
 *
 * Remote scripts run through bproc_rexec_opts() with no push: the node's
 * own busybox.  They run as the caller's uid and gids like any remote
 * process, and the front-end side runs here, as the caller, so nobody
 * reads or writes what their permissions refuse.  Paths are passed as
 * arguments of a fixed script, never spliced into shell text.
 *
 * Exit status: 0 every copy succeeded; 1 one or more failed (each failure
 * is printed as "<node>: <path>: <reason>", or "bpcp: <path>: <reason>"
 * on the front end); 2 usage error.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bproc.h"

#ifndef nitems
#define nitems(a)	(sizeof(a) / sizeof((a)[0]))
#endif

#define BPCP_FAIL	1		/* some copy failed */
#define BPCP_USAGE	2
#define NODE_LOCAL	(-1)		/* a front-end path */
#define RELAY_BUF	(256 * 1024)	/* bytes moved per read */
#define HDR_MAX		256		/* longest source header line */
#define ERRBUF_MAX	8192		/* error text kept per stream */
#define PROGRESS_MIN	(1024 * 1024)	/* smaller copies show no bar */
#define PROGRESS_MS	200		/* bar redraw interval */
#define NODE_BUSYBOX	"/bin/busybox"	/* where the node image has it */
#define COMMIT		"bpcp-commit\n" /* ends a tree whose source succeeded */
#define SCRIPT_VAR	"BPCP_SH"	/* the environment variable of the script */
#define SCRIPT_RUN	"eval \"$" SCRIPT_VAR "\""	/* what sh -c runs */

/* One end of a copy: a node and a path on it. */
struct loc {
	int		 node;		/* NODE_LOCAL for the front end */
	const char	*path;
};

/* A helper process: a local shell or a remote one behind its ghost. */
struct proc {
	pid_t		 pid;
	int		 in;		/* our end of its stdin, -1 if none */
	int		 out;		/* its stdout */
	int		 err;		/* its stderr */
	int		 node;
	int		 file;		/* out is a front-end file, no process */
	int		 waited;	/* its status below is known */
	int		 ok;		/* it exited 0 */
	int		 sig;		/* the signal that ended it, or 0 */
	char		 startmsg[512];	/* why it did not start */
};

/* What the source says it is sending. */
struct hdr {
	char		 kind;		/* 'F' file, 'D' tar of a tree */
	uint64_t	 size;
	unsigned int	 mode;
	long long	 mtime;
	unsigned long	 uid, gid;
};

/* Text gathered from a helper's stderr or status output. */
struct text {
	char		 d[ERRBUF_MAX];
	size_t		 n;
};

static int		 opt_preserve, opt_recursive;
static mode_t		 cur_umask;

/*
 * The source script.  $1 is the busybox prefix ("" on the front end), $2
 * the path, $3 "1" for -r, $4 the tar options for a tree.  It prints
 * "F size mode mtime uid gid" then the bytes, "D ..." then a tar of the
 * tree's contents, or "E reason" and fails.
 */
static const char source_sh[] =
"BB=$1 p=$2 r=$3 to=$4\n"
"e() { echo \"E $*\"; exit 1; }\n"
"case $p in -*) p=./$p ;; esac\n"
"m=$($BB stat -L -c '%F|%s|%a|%Y|%u|%g' \"$p\" 2>&1) || e \"$2: ${m##*: }\"\n"
"IFS='|' read -r ty sz md mt u g <<EOF\n"
"$m\n"
"EOF\n"
"case $ty in\n"
"regular*)\n"
"	[ -r \"$p\" ] || e \"$2: Permission denied\"\n"
"	echo \"F $sz $md $mt $u $g\"\n"
"	exec $BB cat \"$p\" ;;\n"
"directory)\n"
"	[ \"$r\" = 1 ] || e \"$2: Is a directory (use -r)\"\n"
"	[ -r \"$p\" ] && [ -x \"$p\" ] || e \"$2: Permission denied\"\n"
"	echo \"D 0 $md $mt $u $g\"\n"
"	exec $BB tar $to -cf - -C \"$p\" . ;;\n"
"*)	e \"$2: not a regular file or directory\" ;;\n"
"esac\n";

/*
 * The sink script.  $1 busybox prefix, $2 destination, $3 the name to use
 * inside a destination directory, $4 kind (F/D), $5 size, $6 mode, $7
 * mtime, $8 uid:gid, $9 flags (p: set mtime, o: set owner, m: several
 * sources so the destination must be a directory), ${10} umask, ${11} tar
 * extract options.  It writes to a temporary name in the target's
 * directory (removed by the EXIT trap whatever happens) and renames it
 * only once the content is complete; errors are "E reason" lines.
 */
static const char sink_sh[] =
"BB=$1 d=$2 b=$3 k=$4 sz=$5 md=$6 mt=$7 ow=$8 fl=$9 um=${10} to=${11}\n"
"tmp= tf=\n"
"clean() {\n"
"	[ -n \"$tf\" ] && $BB rm -f \"$tf\"\n"
"	[ -n \"$tmp\" ] && { $BB chmod -R u+w \"$tmp\"; $BB rm -rf \"$tmp\"; } 2>/dev/null\n"
"	tf= tmp=\n"
"}\n"
"trap clean EXIT\n"
"trap 'exit 1' HUP INT TERM PIPE\n"
"e() { clean; echo \"E $*\"; exit 1; }\n"
"umask \"$um\"\n"
"case $d in -*) d=./$d ;; esac\n"
"t=$d\n"
"if [ -d \"$d\" ]; then\n"
"	case $d in */) t=$d$b ;; *) t=$d/$b ;; esac\n"
"else\n"
"	case $fl in *m*) e \"$2: Not a directory\" ;; esac\n"
"	case $d in */) m=$($BB stat \"$d\" 2>&1) || e \"$2: ${m##*: }\"\n"
"		e \"$2: Not a directory\" ;; esac\n"
"fi\n"
"case $t in */*) dir=${t%/*}; [ -n \"$dir\" ] || dir=/ ;; *) dir=. ;; esac\n"
"m=$($BB stat -L -c %F \"$dir\" 2>&1) || e \"$dir: ${m##*: }\"\n"
"[ \"$m\" = directory ] || e \"$dir: Not a directory\"\n"
"[ -w \"$dir\" ] && [ -x \"$dir\" ] || e \"$dir: Permission denied\"\n"
"ex=\n"
"if [ -e \"$t\" ]; then\n"
"	ex=1\n"
"	if [ $k = F ]; then\n"
"		[ -d \"$t\" ] && e \"$t: Is a directory\"\n"
"		[ -w \"$t\" ] || e \"$t: Permission denied\"\n"
"		case $fl in *p*) ;; *) md=$($BB stat -L -c %a \"$t\") ;; esac\n"
"	else\n"
"		[ -d \"$t\" ] || e \"$t: Not a directory\"\n"
"		[ -w \"$t\" ] && [ -x \"$t\" ] || e \"$t: Permission denied\"\n"
"	fi\n"
"fi\n"
"if [ $k = F ]; then\n"
"	tmp=$($BB mktemp \"$dir/.bpcp.XXXXXX\") || e \"$dir: cannot make a temporary file\"\n"
"	$BB cat >\"$tmp\" || exit 1\n"
"	got=$($BB stat -c %s \"$tmp\") || exit 1\n"
"	[ \"$got\" = \"$sz\" ] || e \"$t: copy cut short or file changed during copy ($got of $sz bytes)\"\n"
"else\n"
"	tf=$($BB mktemp \"$dir/.bpcp.XXXXXX\") || e \"$dir: cannot make a temporary file\"\n"
"	$BB cat >\"$tf\" || exit 1\n"
"	[ \"$($BB tail -c 12 \"$tf\")\" = bpcp-commit ] || e \"$t: copy cut short\"\n"
"	tmp=$($BB mktemp -d \"$dir/.bpcp.XXXXXX\") || e \"$dir: cannot make a temporary directory\"\n"
"	$BB tar $to -xf \"$tf\" -C \"$tmp\" || exit 1\n"
"	$BB rm -f \"$tf\"\n"
"fi\n"
"case $fl in *o*) $BB chown -h \"$ow\" \"$tmp\" || exit 1 ;; esac\n"
"if [ -n \"$ex\" ] && [ $k = D ]; then\n"
"	# merge into the existing tree, as cp -r does: its top keeps its\n"
"	# mode unless -p, whatever tar does with the archive's ./ entry\n"
"	em=$($BB stat -L -c %a \"$t\") || exit 1\n"
"	case $fl in *p*) ;; *) md=$em ;; esac\n"
"	$BB chmod \"$md\" \"$tmp\" || exit 1\n"
"	($BB tar -cf - -C \"$tmp\" . | $BB tar $to -xf - -C \"$t\") || exit 1\n"
"	[ \"$($BB stat -L -c %a \"$t\")\" = \"$md\" ] || $BB chmod \"$md\" \"$t\" || exit 1\n"
"	case $fl in *p*) $BB touch -d \"@$mt\" \"$t\" || exit 1 ;; esac\n"
"	exit 0\n"
"fi\n"
"$BB chmod \"$md\" \"$tmp\" || exit 1\n"
"case $fl in *p*) $BB touch -d \"@$mt\" \"$tmp\" || exit 1 ;; esac\n"
"$BB mv -f -T \"$tmp\" \"$t\" && tmp=\n";

/* The check that several sources have a directory to go to. */
static const char isdir_sh[] =
"[ -d \"$1\" ] || { echo \"E $1: Not a directory\"; exit 1; }\n";

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr,
"usage: bpcp [-pr] SRC... DST\n"
"  SRC, DST  N:path or nN:path on node N, else a front-end path\n"
"  -p        keep modes and modification times (and owners, for root)\n"
"  -r        copy directory trees\n"
"exit status: 0 all copies done; 1 one or more failed (each printed as\n"
"\"<node>: <path>: <reason>\"); 2 usage error.\n");
	exit(BPCP_USAGE);
}

/* "3:path" or "n3:path" is on node 3; anything else is a local path. */
static void
loc_parse(const char *arg, struct loc *l)
{
	const char	*p = arg;
	char		*end;
	long		 n;

	l->node = NODE_LOCAL;
	l->path = arg;
	if (*p == 'n')
		p++;
	if (*p < '0' || *p > '9')
		return;
	errno = 0;
	n = strtol(p, &end, 10);
	if (*end != ':' || errno != 0 || n > INT_MAX)
		return;
	l->node = (int)n;
	/* "3:" alone is the node's current directory, as rcp's home */
	l->path = end[1] != '\0' ? end + 1 : ".";
}

static void
loc_error(int node, const char *msg)
{
	if (node == NODE_LOCAL)
		fprintf(stderr, "bpcp: %s\n", msg);
	else
		fprintf(stderr, "%d: %s\n", node, msg);
}

/* The last path component, with trailing slashes ignored. */
static const char *
path_base(const char *path, char *buf, size_t len)
{
	size_t		 n = strlen(path);
	const char	*s;

	while (n > 1 && path[n - 1] == '/')
		n--;
	for (s = path + n; s > path && s[-1] != '/'; s--)
		;
	snprintf(buf, len, "%.*s", (int)(n - (size_t)(s - path)), s);
	return buf;
}

/*
 * Run script with args on node, or locally, as
 * `sh -c 'eval "$BPCP_SH"' name args...`: the script travels in the
 * environment, so ps and bpstat -p show the name and the arguments rather
 * than the script's text.  Its stdin is a pipe when want_in, else
 * /dev/null.  A start that fails is told through a close-on-exec pipe:
 * end of file there means the exec (of bpghost or of sh) happened.
 */
static int
proc_start(struct proc *p, int node, const char *script, char **args,
    int want_in)
{
	struct bproc_exec_opts	o;
	char			*argv[20], *envp[3];
	size_t			 i;
	int			pin[2] = { -1, -1 }, pout[2], perr[2], rep[2];
	ssize_t			r;

	memset(p, 0, sizeof(*p));
	p->node = node;
	p->in = p->out = p->err = -1;
	argv[0] = "sh";
	argv[1] = "-c";
	argv[2] = SCRIPT_RUN;
	for (i = 0; args[i] != NULL && i + 4 < nitems(argv); i++)
		argv[i + 3] = args[i];
	argv[i + 3] = NULL;
	if ((want_in && pipe2(pin, O_CLOEXEC) == -1) ||
	    pipe2(pout, O_CLOEXEC) == -1 || pipe2(perr, O_CLOEXEC) == -1 ||
	    pipe2(rep, O_CLOEXEC) == -1)
		err(BPCP_FAIL, "pipe");
	if ((p->pid = fork()) == -1)
		err(BPCP_FAIL, "fork");
	if (p->pid == 0) {
		int	nul;

		/*
		 * A local tool dies of a reader that went away, as usual.  A
		 * ghost must not: with SIGPIPE ignored it passes the signal
		 * on to the remote script, whose trap removes its temporary
		 * files first.
		 */
		if (node == NODE_LOCAL)
			signal(SIGPIPE, SIG_DFL);
		if (want_in)
			dup2(pin[0], STDIN_FILENO);
		else if ((nul = open("/dev/null", O_RDONLY)) != -1)
			dup2(nul, STDIN_FILENO);
		dup2(pout[1], STDOUT_FILENO);
		dup2(perr[1], STDERR_FILENO);
		if (node == NODE_LOCAL) {
			setenv(SCRIPT_VAR, script, 1);
			execv("/bin/sh", argv);
			dprintf(rep[1], "/bin/sh: %s", strerror(errno));
			_exit(127);
		}
		memset(&o, 0, sizeof(o));
		o.flags = want_in ? 0 : BPROC_EXEC_STDIN_NULL;
		if (asprintf(&envp[1], "%s=%s", SCRIPT_VAR, script) == -1)
			_exit(127);
		envp[0] = "PATH=/bin:/sbin:/usr/bin:/usr/sbin";
		envp[2] = NULL;
		bproc_rexec_opts(node, NODE_BUSYBOX, argv, envp, &o);
		dprintf(rep[1], "%s", bproc_node_strerror());
		_exit(127);
	}
	if (want_in)
		close(pin[0]);
	close(pout[1]);
	close(perr[1]);
	close(rep[1]);
	p->in = pin[1];
	p->out = pout[0];
	p->err = perr[0];
	r = read(rep[0], p->startmsg, sizeof(p->startmsg) - 1);
	close(rep[0]);
	if (r > 0) {
		p->startmsg[r] = '\0';
		return -1;
	}
	return 0;
}

static void
proc_close(struct proc *p)
{
	if (p->in >= 0)
		close(p->in);
	if (p->out >= 0)
		close(p->out);
	if (p->err >= 0)
		close(p->err);
	p->in = p->out = p->err = -1;
}

/* Wait for it once; 0 if it exited 0 (a file we read ourselves did). */
static int
proc_wait(struct proc *p)
{
	int	st;

	if (p->waited)
		return p->ok ? 0 : -1;
	p->waited = 1;
	p->ok = 1;
	if (p->pid <= 0)
		return 0;
	while (waitpid(p->pid, &st, 0) == -1)
		if (errno != EINTR) {
			p->ok = 0;
			return -1;
		}
	p->pid = 0;
	p->sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
	p->ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
	return p->ok ? 0 : -1;
}

static void
text_add(struct text *t, const char *d, size_t n)
{
	if (n > sizeof(t->d) - 1 - t->n)
		n = sizeof(t->d) - 1 - t->n;
	memcpy(t->d + t->n, d, n);
	t->n += n;
	t->d[t->n] = '\0';
}

/* Drain what a descriptor has now; -1 (and closed) at end of file. */
static int
text_read(int *fd, struct text *t)
{
	char	buf[4096];
	ssize_t	r;

	r = read(*fd, buf, sizeof(buf));
	if (r > 0) {
		text_add(t, buf, (size_t)r);
		return 0;
	}
	if (r == -1 && (errno == EINTR || errno == EAGAIN))
		return 0;
	close(*fd);
	*fd = -1;
	return -1;
}

/*
 * Print a helper's messages, one "<node>: " line each: "E reason" lines
 * as they are, tool messages ("cat: write error: ...") without the tool's
 * name, and tar's "./sub/x: ..." under the tree's path.  tar's closing
 * "exiting because of the errors above" lines add nothing and are left
 * out.  Returns how many lines were printed.
 */
static int
text_print(int node, const struct text *t, const char *tree)
{
	const char	*s = t->d, *nl, *c;
	char		 line[1024];
	int		 n = 0;

	while (*s != '\0') {
		size_t	len;

		nl = strchr(s, '\n');
		len = nl ? (size_t)(nl - s) : strlen(s);
		if (len > 0) {
			snprintf(line, sizeof(line), "%.*s", (int)len, s);
			c = line;
			if (c[0] == 'E' && c[1] == ' ')
				c += 2;
			else if ((nl = strstr(line, ": ")) != NULL &&
			    strcspn(line, " /") >= (size_t)(nl - line))
				c = nl + 2;
			if (tree != NULL && strncmp(c, "./", 2) == 0) {
				char	m[PATH_MAX + 1024];

				snprintf(m, sizeof(m), "%s/%s", tree, c + 2);
				loc_error(node, m);
				n++;
			} else if (strstr(c, "previous errors") == NULL) {
				loc_error(node, c);
				n++;
			}
		}
		s += len;
		if (*s == '\n')
			s++;
	}
	return n;
}

static int
hdr_parse(const char *line, struct hdr *h)
{
	unsigned long long	size;

	if (sscanf(line, "%c %llu %o %lld %lu %lu", &h->kind, &size, &h->mode,
	    &h->mtime, &h->uid, &h->gid) != 6 ||
	    (h->kind != 'F' && h->kind != 'D'))
		return -1;
	h->size = size;
	return 0;
}

static double
now_sec(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *
human(double v, char *buf, size_t len)
{
	static const char	*unit[] = { "B", "KB", "MB", "GB", "TB" };
	int			 i = 0;

	while (v >= 1024 && i < 4) {
		v /= 1024;
		i++;
	}
	snprintf(buf, len, i ? "%.1f%s" : "%.0f%s", v, unit[i]);
	return buf;
}

/* scp's bar: name, percent, bytes, rate, time left (or taken, at the end). */
static void
progress_draw(const char *name, uint64_t done, uint64_t total, double start,
    int last)
{
	char	 b1[32], b2[32];
	double	 el = now_sec() - start, rate = el > 0 ? (double)done / el : 0;
	int	 pct = total ? (int)(done * 100 / total) : 100;
	long	 eta = rate > 0 ? (long)((double)(total - done) / rate) : 0;

	if (last)
		eta = (long)el;
	fprintf(stderr, "\r%-32.32s %3d%% %9s %9s/s %3ld:%02ld%s", name, pct,
	    human((double)done, b1, sizeof(b1)), human(rate, b2, sizeof(b2)),
	    eta / 60, eta % 60, last ? "    \n" : " ETA");
}

/*
 * Move the source's output (the header already taken off: pre[0..npre))
 * into the sink's stdin, gathering both helpers' messages.  A local file
 * source is read directly (src->out is the file).  Returns the number of
 * bytes moved, or -1 on a read error of a local file (printed).
 */
static int64_t
relay(struct proc *src, struct proc *dst, char *buf, size_t npre,
    const struct hdr *h, const struct loc *sl, struct text *serr,
    struct text *dout, struct text *derr)
{
	struct pollfd	 pfd[5];
	size_t		 have = npre, off = 0;
	uint64_t	 moved = 0;
	double		 start = now_sec(), drawn = 0;
	int		 bar, i, np, rerr = 0;
	char		 name[256];
	ssize_t		 r;

	bar = h->kind == 'F' && h->size > PROGRESS_MIN && isatty(STDERR_FILENO);
	path_base(sl->path, name, sizeof(name));
	fcntl(dst->in, F_SETFL, O_NONBLOCK);
	for (;;) {
		int	ix_out = -1, ix_in = -1, ix_serr = -1;
		int	ix_dout = -1, ix_derr = -1;

		np = 0;
		if (have == 0 && src->out >= 0) {
			pfd[np] = (struct pollfd){ src->out, POLLIN, 0 };
			ix_out = np++;
		}
		if (have > 0 && dst->in >= 0) {
			pfd[np] = (struct pollfd){ dst->in, POLLOUT, 0 };
			ix_in = np++;
		}
		if (src->err >= 0) {
			pfd[np] = (struct pollfd){ src->err, POLLIN, 0 };
			ix_serr = np++;
		}
		if (dst->out >= 0) {
			pfd[np] = (struct pollfd){ dst->out, POLLIN, 0 };
			ix_dout = np++;
		}
		if (dst->err >= 0) {
			pfd[np] = (struct pollfd){ dst->err, POLLIN, 0 };
			ix_derr = np++;
		}
		/*
		 * The source is done and its last bytes went out: tell the
		 * sink.  A tree is committed only if its source succeeded:
		 * tar cannot tell an archive cut short at a member boundary
		 * from a whole one.
		 */
		if (have == 0 && src->out < 0 && dst->in >= 0) {
			if (h->kind == 'D') {
				while (src->err >= 0 &&
				    text_read(&src->err, serr) == 0)
					;
				if (proc_wait(src) == 0 && serr->n == 0) {
					/* a sink that is gone says why itself */
					fcntl(dst->in, F_SETFL, 0);
					if (write(dst->in, COMMIT, sizeof(COMMIT) -
					    1) != (ssize_t)sizeof(COMMIT) - 1)
						rerr = 1;
				}
			}
			close(dst->in);
			dst->in = -1;
			continue;
		}
		if (np == 0)
			break;
		if (poll(pfd, (nfds_t)np, bar ? PROGRESS_MS : -1) == -1) {
			if (errno == EINTR)
				continue;
			err(BPCP_FAIL, "poll");
		}
		for (i = 0; i < np; i++) {
			if (pfd[i].revents == 0)
				continue;
			if (i == ix_out) {
				r = read(src->out, buf, RELAY_BUF);
				if (r > 0) {
					have = (size_t)r;
					off = 0;
				} else if (r == 0 || (errno != EINTR &&
				    errno != EAGAIN)) {
					if (r == -1 && src->file) {
						char	m[1024];

						snprintf(m, sizeof(m), "%s: %s",
						    sl->path, strerror(errno));
						loc_error(NODE_LOCAL, m);
						rerr = 1;
					}
					close(src->out);
					src->out = -1;
				}
			} else if (i == ix_in) {
				r = write(dst->in, buf + off, have);
				if (r > 0) {
					off += (size_t)r;
					have -= (size_t)r;
					moved += (uint64_t)r;
				} else if (r == -1 && errno != EINTR &&
				    errno != EAGAIN) {
					/* the sink gave up; its reason follows */
					close(dst->in);
					dst->in = -1;
					have = 0;
					if (src->out >= 0) {
						close(src->out);
						src->out = -1;
					}
				}
			} else if (i == ix_serr)
				text_read(&src->err, serr);
			else if (i == ix_dout)
				text_read(&dst->out, dout);
			else if (i == ix_derr)
				text_read(&dst->err, derr);
		}
		if (bar && now_sec() - drawn >= PROGRESS_MS / 1000.0) {
			progress_draw(name, moved, h->size, start, 0);
			drawn = now_sec();
		}
	}
	if (bar)
		progress_draw(name, moved, h->size, start, 1);
	return rerr ? -1 : (int64_t)moved;
}

/*
 * Open a front-end file as ourselves (the user) and make its header: 0;
 * 1 for a directory with -r (the source script tars it); -1 printed.
 * O_NONBLOCK keeps a FIFO named by mistake from hanging the open.
 */
static int
local_source(const struct loc *sl, struct proc *src, struct hdr *h)
{
	struct stat	 st;
	char		 m[1024];
	int		 fd;

	memset(src, 0, sizeof(*src));
	src->in = src->out = src->err = -1;
	src->node = NODE_LOCAL;
	if ((fd = open(sl->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1 ||
	    fstat(fd, &st) == -1 || fcntl(fd, F_SETFL, 0) == -1) {
		snprintf(m, sizeof(m), "%s: %s", sl->path, strerror(errno));
		loc_error(NODE_LOCAL, m);
		if (fd != -1)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		if (S_ISDIR(st.st_mode) && opt_recursive)
			return 1;	/* a tree: the source script tars it */
		snprintf(m, sizeof(m), "%s: %s", sl->path, S_ISDIR(st.st_mode) ?
		    "Is a directory (use -r)" :
		    "not a regular file or directory");
		loc_error(NODE_LOCAL, m);
		return -1;
	}
	src->out = fd;
	src->file = 1;
	h->kind = 'F';
	h->size = (uint64_t)st.st_size;
	h->mode = st.st_mode & 07777;
	h->mtime = (long long)st.st_mtime;
	h->uid = st.st_uid;
	h->gid = st.st_gid;
	return 0;
}

/* Tar options: GNU tar on the front end, busybox tar on nodes. */
static const char *
tar_create_opts(int node)
{
	return node == NODE_LOCAL ? "--format=gnu --numeric-owner" : "";
}

static const char *
tar_extract_opts(int node)
{
	int	root = geteuid() == 0;

	if (!opt_preserve)
		return "--numeric-owner -o -m --no-same-permissions";
	if (node == NODE_LOCAL)
		return root ? "--numeric-owner -p --same-owner" :
		    "--numeric-owner -p -o";
	return root ? "--numeric-owner" : "--numeric-owner -o";
}

/*
 * A failed helper: a node that went down is the whole story (its ghosts
 * are killed, or lose the master first, whatever they were doing);
 * otherwise print what the helper said, or else how it ended.
 */
static void
proc_report(struct proc *p, const struct text *said, const char *path,
    int tree)
{
	char	m[1024];

	if (p->node != NODE_LOCAL &&
	    bproc_nodestatus(p->node) != BPROC_STATE_UP)
		snprintf(m, sizeof(m), "Node is down");
	else if (text_print(p->node, said, tree ? path : NULL) > 0)
		return;
	else if (p->sig)
		snprintf(m, sizeof(m), "%s: copy killed by signal %d", path,
		    p->sig);
	else
		snprintf(m, sizeof(m), "%s: copy failed", path);
	loc_error(p->node, m);
}

/*
 * Start the source and read its header; what came after the header is
 * left in buf[0..*got).  0, or -1 with the reason printed.
 */
static int
source_start(const struct loc *sl, struct proc *src, struct hdr *h,
    char *buf, size_t *got, struct text *serr)
{
	char	*args[6], *nl = NULL;
	ssize_t	 r;
	int	 tree = 0;

	if (sl->node == NODE_LOCAL &&
	    (tree = local_source(sl, src, h)) != 1)
		return tree;
	args[0] = "bpcp-source";
	args[1] = sl->node == NODE_LOCAL ? "" : NODE_BUSYBOX;
	args[2] = (char *)sl->path;
	args[3] = opt_recursive ? "1" : "0";
	args[4] = (char *)tar_create_opts(sl->node);
	args[5] = NULL;
	if (proc_start(src, sl->node, source_sh, args, 0) == -1) {
		loc_error(sl->node, src->startmsg);
		proc_wait(src);
		proc_close(src);
		return -1;
	}
	/* up to the header's newline; the rest is content */
	*got = 0;
	while (nl == NULL && *got < HDR_MAX) {
		r = read(src->out, buf + *got, RELAY_BUF - *got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		*got += (size_t)r;
		nl = memchr(buf, '\n', *got < HDR_MAX ? *got : HDR_MAX);
	}
	if (nl != NULL)
		*nl = '\0';
	if (nl == NULL || hdr_parse(buf, h) == -1) {
		/* no more output wanted; its stderr may say why */
		close(src->out);
		src->out = -1;
		while (src->err >= 0 && text_read(&src->err, serr) == 0)
			;
		proc_wait(src);
		if (nl != NULL && buf[0] == 'E' && buf[1] == ' ')
			loc_error(sl->node, buf + 2);
		else
			proc_report(src, serr, sl->path, 0);
		proc_close(src);
		return -1;
	}
	*got -= (size_t)(nl + 1 - buf);
	memmove(buf, nl + 1, *got);
	return 0;
}

/* Start the sink, told what is coming.  0, or -1 with the reason printed. */
static int
sink_start(const struct loc *dl, const char *base, const struct hdr *h,
    int multi, struct proc *dst)
{
	char		 size_s[32], mode_s[16], mtime_s[32], owner_s[64];
	char		 flags_s[8], umask_s[8], *args[13];
	unsigned int	 mode;

	mode = opt_preserve ? h->mode & (geteuid() == 0 ? 07777 : 0777) :
	    h->mode & 0777 & ~cur_umask;
	snprintf(size_s, sizeof(size_s), "%llu", (unsigned long long)h->size);
	snprintf(mode_s, sizeof(mode_s), "%o", mode);
	snprintf(mtime_s, sizeof(mtime_s), "%lld", h->mtime);
	snprintf(owner_s, sizeof(owner_s), "%lu:%lu", h->uid, h->gid);
	snprintf(flags_s, sizeof(flags_s), "%s%s%s", opt_preserve ? "p" : "",
	    opt_preserve && geteuid() == 0 ? "o" : "", multi ? "m" : "");
	/* with -p, tar must not take the umask off the tree's modes */
	snprintf(umask_s, sizeof(umask_s), "%03o",
	    opt_preserve ? 0 : (unsigned int)cur_umask);
	args[0] = "bpcp-sink";
	args[1] = dl->node == NODE_LOCAL ? "" : NODE_BUSYBOX;
	args[2] = (char *)dl->path;
	args[3] = (char *)base;
	args[4] = h->kind == 'F' ? "F" : "D";
	args[5] = size_s;
	args[6] = mode_s;
	args[7] = mtime_s;
	args[8] = owner_s;
	args[9] = flags_s;
	args[10] = umask_s;
	args[11] = (char *)tar_extract_opts(dl->node);
	args[12] = NULL;
	if (proc_start(dst, dl->node, sink_sh, args, 1) == -1) {
		loc_error(dl->node, dst->startmsg);
		proc_wait(dst);
		proc_close(dst);
		return -1;
	}
	return 0;
}

/* Copy one source to the destination; 0 or -1 (already reported). */
static int
copy_one(const struct loc *sl, const struct loc *dl, int multi)
{
	struct proc	 src, dst;
	struct hdr	 h;
	struct text	*serr, *dout, *derr;
	char		*buf, base[PATH_MAX];
	size_t		 got = 0;
	int		 rc = 0, s_ok, d_ok;

	if ((buf = malloc(RELAY_BUF)) == NULL ||
	    (serr = calloc(3, sizeof(*serr))) == NULL)
		err(BPCP_FAIL, "malloc");
	dout = serr + 1;
	derr = serr + 2;
	memset(&h, 0, sizeof(h));
	path_base(sl->path, base, sizeof(base));
	/* the copy needs a name of its own: not "/", ".", or ".." */
	if (base[0] == '\0' || strcmp(base, ".") == 0 ||
	    strcmp(base, "..") == 0) {
		char	m[PATH_MAX + 64];

		snprintf(m, sizeof(m), "%s: name a file or directory by its "
		    "own name", sl->path);
		loc_error(sl->node, m);
		rc = -1;
		goto out;
	}
	if (source_start(sl, &src, &h, buf, &got, serr) == -1) {
		rc = -1;
		goto out;
	}
	if (sink_start(dl, base, &h, multi, &dst) == -1) {
		proc_close(&src);
		proc_wait(&src);
		rc = -1;
		goto out;
	}
	if (relay(&src, &dst, buf, got, &h, sl, serr, dout, derr) == -1)
		rc = -1;
	proc_close(&src);
	proc_close(&dst);
	s_ok = proc_wait(&src) == 0 && serr->n == 0;
	d_ok = proc_wait(&dst) == 0;
	/*
	 * One cause, not its echoes: a source that failed explains the
	 * sink's "cut short"; a source we stopped because the sink gave up
	 * dies of SIGPIPE, and the sink says why.
	 */
	if (!s_ok && (d_ok || src.sig != SIGPIPE))
		proc_report(&src, serr, sl->path, h.kind == 'D');
	else if (!d_ok) {
		text_add(dout, derr->d, derr->n);
		proc_report(&dst, dout, dl->path, 0);
	}
	if (!s_ok || !d_ok)
		rc = -1;
out:
	free(serr);
	free(buf);
	return rc;
}

/* Several sources: the destination must be a directory. */
static int
check_dir(const struct loc *dl)
{
	struct proc	 p;
	struct text	*t;
	char		*args[] = { "bpcp-isdir", (char *)dl->path, NULL };
	int		 rc = 0;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		err(BPCP_FAIL, "malloc");
	if (proc_start(&p, dl->node, isdir_sh, args, 0) == -1) {
		loc_error(dl->node, p.startmsg);
		proc_wait(&p);
		proc_close(&p);
		free(t);
		return -1;
	}
	while (p.out >= 0 && text_read(&p.out, t) == 0)
		;
	while (p.err >= 0 && text_read(&p.err, t) == 0)
		;
	if (proc_wait(&p) == -1) {
		proc_report(&p, t, dl->path, 0);
		rc = -1;
	}
	proc_close(&p);
	free(t);
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option	 longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct loc	 dl, sl;
	int		 ch, i, failed = 0;

	while ((ch = getopt_long(argc, argv, "prh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'p':
			opt_preserve = 1;
			break;
		case 'r':
			opt_recursive = 1;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 2)
		usage();
	cur_umask = umask(0);
	umask(cur_umask);
	/* a sink that gives up must be an error return, not our death */
	signal(SIGPIPE, SIG_IGN);

	loc_parse(argv[argc - 1], &dl);
	if (argc > 2 && check_dir(&dl) == -1)
		return BPCP_FAIL;
	for (i = 0; i < argc - 1; i++) {
		loc_parse(argv[i], &sl);
		if (copy_one(&sl, &dl, argc > 2) == -1)
			failed = 1;
	}
	return failed ? BPCP_FAIL : 0;
}
