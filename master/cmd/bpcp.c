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

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bproc.h"
#include "bpcp_int.h"
#include "bpcp_sh.h"	/* the scripts, from bpcp_*.sh (Makefile) */

static int		 opt_preserve, opt_recursive;
static mode_t		 cur_umask;

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

/*
 * Open a front-end file as ourselves (the user) and make its header: 0;
 * 1 for a directory with -r (the source script tars it); -1 printed.
 * O_NONBLOCK keeps a FIFO named by mistake from hanging the open.
 */
static int
local_source(const struct loc *sl, struct helper *src, struct hdr *h)
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
 * Start the source and read its header; what came after the header is
 * left in buf[0..*got).  0, or -1 with the reason printed.
 */
static int
source_start(const struct loc *sl, struct helper *src, struct hdr *h,
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
	if (helper_start(src, sl->node, bpcp_source, args, 0) == -1)
		return -1;
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
		helper_wait(src);
		if (nl != NULL && buf[0] == 'E' && buf[1] == ' ')
			loc_error(sl->node, buf + 2);
		else
			helper_report(src, serr, sl->path, 0);
		helper_close(src);
		return -1;
	}
	*got -= (size_t)(nl + 1 - buf);
	memmove(buf, nl + 1, *got);
	return 0;
}

/* Start the sink, told what is coming.  0, or -1 with the reason printed. */
static int
sink_start(const struct loc *dl, const char *base, const struct hdr *h,
    int multi, struct helper *dst)
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
	if (helper_start(dst, dl->node, bpcp_sink, args, 1) == -1)
		return -1;
	return 0;
}

/* Copy one source to the destination; 0 or -1 (already reported). */
static int
copy_one(const struct loc *sl, const struct loc *dl, int multi)
{
	struct helper	 src, dst;
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
		helper_close(&src);
		helper_wait(&src);
		rc = -1;
		goto out;
	}
	if (relay(&src, &dst, buf, got, &h, sl, serr, dout, derr) == -1)
		rc = -1;
	helper_close(&src);
	helper_close(&dst);
	s_ok = helper_wait(&src) == 0 && serr->n == 0;
	d_ok = helper_wait(&dst) == 0;
	/*
	 * One cause, not its echoes: a source that failed explains the
	 * sink's "cut short"; a source we stopped because the sink gave up
	 * dies of SIGPIPE, and the sink says why.
	 */
	if (!s_ok && (d_ok || src.sig != SIGPIPE))
		helper_report(&src, serr, sl->path, h.kind == 'D');
	else if (!d_ok) {
		text_add(dout, derr->d, derr->n);
		helper_report(&dst, dout, dl->path, 0);
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
	struct helper	 p;
	struct text	*t;
	char		*args[] = { "bpcp-isdir", (char *)dl->path, NULL };
	int		 rc = 0;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		err(BPCP_FAIL, "malloc");
	if (helper_start(&p, dl->node, bpcp_isdir, args, 0) == -1) {
		free(t);
		return -1;
	}
	while (p.out >= 0 && text_read(&p.out, t) == 0)
		;
	while (p.err >= 0 && text_read(&p.err, t) == 0)
		;
	if (helper_wait(&p) == -1) {
		helper_report(&p, t, dl->path, 0);
		rc = -1;
	}
	helper_close(&p);
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
