/*
 * bpsh in rsh/ssh mode: what MPI launchers (mpich's Hydra, Open MPI's
 * plm_rsh) and pdsh-like tools pass to the remote shell they are given.
 * Called as bprsh or bpssh (symlinks to bpsh), or as `bpsh --rsh ...`,
 * it takes ssh's command line:
 *
 *	bpssh [ssh options] [user@]host [ssh options] [word ...]
 *
 * ssh's options are taken and ignored, except -n (stdin from
 * /dev/null), -t and -T (a pty or none) and -l (which must name the
 * caller: bpsh runs as who calls it).  The host is a node ("n3", "3",
 * "n3.anything", or a name that resolves to a node's address) or the
 * front end itself ("localhost", its hostname), where the command runs
 * locally as ssh to localhost would.  The words are joined with spaces,
 * as ssh does, and run by the node's /bin/sh -c; with no words, the
 * node's /bin/sh.
 *
 * The node has none of the front end's programs until they are pushed,
 * so the programs the command line runs are found on the front end and
 * pushed with their libraries: the command word of each simple command
 * in the line (after VAR=value assignments and `exec`/`env`), every
 * executable file the calling launcher named by a path in its own argv
 * (the MPI program: `mpiexec -n 4 ./hello`), and BPSH_PUSH's paths.
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "bproc.h"
#include "nodeset.h"
#include "manifest.h"
#include "bpsh_rsh.h"

#define RSH_FAIL	255		/* as bpsh's own failures */
#define RSH_LINE_MAX	(2 * 1024 * 1024)	/* longest joined command line */
#define RSH_ARGV_MAX	(256 * 1024)	/* launcher argv read from /proc */
#define RSH_WORD_MAX	4096		/* longest command word looked at */

static const char	*prog = "bpssh";
static char		 self[4096];	/* how the launcher found us, or "" */

static const char *
base_name(const char *s)
{
	const char	*p = strrchr(s, '/');

	return p ? p + 1 : s;
}

int
rsh_mode(int argc, char **argv)
{
	const char	*b = base_name(argv[0]);

	if (strcmp(b, "bprsh") == 0 || strcmp(b, "bpssh") == 0)
		return 1;
	return argc > 1 && strcmp(argv[1], "--rsh") == 0;
}

/* -l user and user@host: bpsh runs as its caller, so only the caller. */
static void
check_user(const char *user)
{
	struct passwd	*pw;
	char		*end;
	unsigned long	 uid;

	if ((pw = getpwnam(user)) != NULL && pw->pw_uid == getuid())
		return;
	uid = strtoul(user, &end, 10);
	if (*user != '\0' && *end == '\0' && uid == (unsigned long)getuid())
		return;
	errx(RSH_FAIL, "user %s: bpsh runs commands as you only", user);
}

/* The front end itself: localhost, or our own name (short or long). */
static int
host_is_local(const char *host)
{
	char	me[256];
	size_t	n;

	if (strcmp(host, "localhost") == 0 || strcmp(host, "127.0.0.1") == 0)
		return 1;
	if (gethostname(me, sizeof(me)) == -1)
		return 0;
	me[sizeof(me) - 1] = '\0';
	if (strcmp(host, me) == 0)
		return 1;
	n = strcspn(me, ".");
	return strlen(host) == n && strncmp(host, me, n) == 0;
}

/* A name that resolves (IPv4) to an address a node has: that node. */
static int
host_node_by_addr(const char *host)
{
	struct addrinfo		 hints, *res, *ai;
	struct bproc_node_info	*info;
	char			 a[INET_ADDRSTRLEN];
	int			 n, i, node = -1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, NULL, &hints, &res) != 0)
		return -1;
	if ((n = bproc_nodelist(&info)) < 0) {
		freeaddrinfo(res);
		errx(RSH_FAIL, "%s", bproc_strerror());
	}
	for (ai = res; ai != NULL && node < 0; ai = ai->ai_next) {
		if (inet_ntop(AF_INET, &((struct sockaddr_in *)
		    (void *)ai->ai_addr)->sin_addr, a, sizeof(a)) == NULL)
			continue;
		for (i = 0; i < n && node < 0; i++)
			if (strcmp(info[i].addr, a) == 0)
				node = info[i].node;
	}
	free(info);
	freeaddrinfo(res);
	return node;
}

/* [user@]host: the node (or the front end) it names. */
static void
parse_host(char *host, struct rsh_call *r)
{
	char	*at, *dot, shortname[64];
	int	 node;

	if ((at = strrchr(host, '@')) != NULL) {
		*at = '\0';
		check_user(host);
		host = at + 1;
	}
	if ((node = nodeset_node_parse(host)) < 0 &&
	    (dot = strchr(host, '.')) != NULL &&
	    (size_t)(dot - host) < sizeof(shortname)) {
		/* n3.cluster: the node's name with a domain */
		memcpy(shortname, host, (size_t)(dot - host));
		shortname[dot - host] = '\0';
		node = nodeset_node_parse(shortname);
	}
	if (node < 0 && host_is_local(host)) {
		r->local = 1;
		return;
	}
	if (node < 0)
		node = host_node_by_addr(host);
	if (node < 0)
		errx(RSH_FAIL, "%s: not a node (n0, 0, n0.domain, or a name "
		    "that resolves to a node's address)", host);
	snprintf(r->node, sizeof(r->node), "%d", node);
}

/*
 * ssh's options: the flags, those that take a value, and the few that
 * mean something here.  Returns the next index past the option words.
 */
static int
parse_opts(int argc, char **argv, int i, struct rsh_call *r, int *done)
{
	static const char	flags[] = "46AaCfGgKkMNnqsTtVvXxYy";
	static const char	withval[] = "BbcDEeFIiJLlmOopQRSWw";
	const char		*p;

	for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
		if (strcmp(argv[i], "--") == 0) {
			*done = 1;
			return i + 1;
		}
		for (p = argv[i] + 1; *p != '\0'; p++) {
			if (strchr(withval, *p) != NULL) {
				const char	*val = p[1] ? p + 1 : argv[++i];

				if (val == NULL || i >= argc)
					errx(RSH_FAIL, "option -%c needs a value",
					    *p);
				if (*p == 'l')
					check_user(val);
				break;
			}
			if (strchr(flags, *p) == NULL)
				errx(RSH_FAIL, "unknown ssh option -%c", *p);
			if (*p == 'n')
				r->nullin = 1;
			else if (*p == 't')
				r->tty = 1;
			else if (*p == 'T')
				r->tty = 0;
		}
	}
	return i;
}

/* Join the words with spaces, as ssh sends them to the remote shell. */
static char *
join_words(char **w, int n)
{
	size_t	len = 1;
	char	*s;
	int	i;

	for (i = 0; i < n; i++)
		len += strlen(w[i]) + 1;
	if (len > RSH_LINE_MAX)
		errx(RSH_FAIL, "command line longer than %d bytes",
		    RSH_LINE_MAX);
	if ((s = malloc(len)) == NULL)
		err(RSH_FAIL, "malloc");
	s[0] = '\0';
	for (i = 0; i < n; i++) {
		if (i > 0)
			strcat(s, " ");
		strcat(s, w[i]);
	}
	return s;
}

/* A word that only sets a variable: NAME=value. */
static int
is_assignment(const char *w)
{
	const char	*p = w;

	if (!(*p == '_' || (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')))
		return 0;
	while (*p == '_' || (*p >= 'A' && *p <= 'Z') ||
	    (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'))
		p++;
	return *p == '=';
}

/*
 * What a launcher's daemon loads with dlopen, which no ELF walk sees:
 * Open MPI's orted reads its MCA components (and PMIx's) from folders
 * beside the libraries it links, and its help and parameter files.  The
 * folders are found from where the closure has libopen-pal, so another
 * prefix works too; those that do not exist are left out.
 */
static const char *const orted_plugins[] = {
	"openmpi/lib/openmpi3", "pmix2/lib", "../../share/openmpi",
	"../../share/pmix", "../../../etc/openmpi", NULL
};

static void
push_plugins(struct manifest *m, size_t from)
{
	char		 dir[4096], path[4200], real[PATH_MAX], *slash;
	struct stat	 st;
	size_t		 i;
	int		 k;

	for (i = from; i < m->n; i++)
		if (strstr(base_name(m->files[i].path), "libopen-pal.so") ==
		    base_name(m->files[i].path))
			break;
	if (i == m->n || strlen(m->files[i].path) >= sizeof(dir))
		return;
	strcpy(dir, m->files[i].path);
	if ((slash = strrchr(dir, '/')) == NULL)
		return;
	*slash = '\0';
	for (k = 0; orted_plugins[k] != NULL; k++) {
		snprintf(path, sizeof(path), "%s/%s", dir, orted_plugins[k]);
		if (realpath(path, real) == NULL || stat(real, &st) == -1 ||
		    !S_ISDIR(st.st_mode))
			continue;
		manifest_add(m, real);
	}
}

/* A command word the front end has: push it with its closure. */
static void
push_command(struct manifest *m, const char *w)
{
	char	abs[4096];
	size_t	from = m->n;

	if (strpbrk(w, "$`*?[~") != NULL)
		return;		/* the node's shell expands it: unknown here */
	if (strcmp(w, "exec") == 0 || strcmp(w, "env") == 0 ||
	    strcmp(w, "export") == 0 || strcmp(w, "cd") == 0)
		return;
	if (manifest_resolve(w, abs, sizeof(abs)) != 0)
		return;
	manifest_command(m, abs);
	if (strcmp(base_name(abs), "orted") == 0) {
		push_plugins(m, from);
		/* orted checks that its plm_rsh_agent (us) exists on its node */
		if (self[0] != '\0')
			manifest_add(m, self);
	}
}

/*
 * The command words of a shell line, quotes removed: the first word of
 * each simple command that is not an assignment (after `exec` and `env`,
 * the word that follows).  Expansions are not done; a word with one is
 * left to the node.
 */
static void
push_line_commands(struct manifest *m, const char *line)
{
	char		 w[RSH_WORD_MAX];
	size_t		 n = 0;
	const char	*p;
	int		 cmdpos = 1, inword = 0, over = 0;
	char		 q = 0;

	for (p = line;; p++) {
		int	end = *p == '\0';
		int	sep = !q && !end && strchr(";&|()\n", *p) != NULL;
		int	space = !q && !end && (*p == ' ' || *p == '\t');

		if (!end && !sep && !space) {
			if (q == 0 && (*p == '\'' || *p == '"'))
				q = *p;
			else if (q != 0 && *p == q)
				q = 0;
			else if (*p == '\\' && q != '\'' && p[1] != '\0') {
				p++;
				if (n < sizeof(w) - 1)
					w[n++] = *p;
				else
					over = 1;
			} else if (n < sizeof(w) - 1)
				w[n++] = *p;
			else
				over = 1;
			inword = 1;
			continue;
		}
		if (inword && cmdpos) {
			w[n] = '\0';
			if (over)
				cmdpos = 0;
			else if (!is_assignment(w)) {
				push_command(m, w);
				cmdpos = strcmp(w, "exec") == 0 ||
				    strcmp(w, "env") == 0;
			}
		}
		inword = over = 0;
		n = 0;
		if (sep)
			cmdpos = 1;
		if (end)
			break;
	}
}

/*
 * The launcher that called us (mpiexec, mpirun) names the MPI program in
 * its own argv; each word there that is a path to an executable file
 * (relative to the launcher's working directory) is pushed.
 */
static void
push_launcher_args(struct manifest *m)
{
	char		 path[64], cwd[4096], file[8192], *buf, *w;
	struct stat	 st;
	ssize_t		 len, k;
	int		 fd, first = 1;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)getppid());
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return;
	if ((buf = malloc(RSH_ARGV_MAX + 1)) == NULL)
		err(RSH_FAIL, "malloc");
	len = 0;
	while (len < RSH_ARGV_MAX &&
	    (k = read(fd, buf + len, RSH_ARGV_MAX - (size_t)len)) > 0)
		len += k;
	close(fd);
	buf[len] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/cwd", (int)getppid());
	if ((k = readlink(path, cwd, sizeof(cwd) - 1)) <= 0) {
		free(buf);
		return;
	}
	cwd[k] = '\0';
	for (w = buf; w < buf + len; w += strlen(w) + 1) {
		if (first || strchr(w, '/') == NULL) {
			first = 0;	/* the launcher itself, or no path */
			continue;
		}
		if (w[0] == '/')
			snprintf(file, sizeof(file), "%s", w);
		else if ((size_t)snprintf(file, sizeof(file), "%s/%s", cwd,
		    w) >= sizeof(file))
			continue;
		if (stat(file, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(file, X_OK) == 0)
			manifest_command(m, file);
	}
	free(buf);
}

/* BPSH_PUSH: colon-separated absolute paths, pushed as --push pushes. */
static void
push_env(struct manifest *m)
{
	const char	*e = getenv("BPSH_PUSH");
	char		*copy, *p, *save = NULL;

	if (e == NULL || *e == '\0')
		return;
	if ((copy = strdup(e)) == NULL)
		err(RSH_FAIL, "strdup");
	for (p = strtok_r(copy, ":", &save); p != NULL;
	    p = strtok_r(NULL, ":", &save)) {
		if (p[0] != '/')
			errx(RSH_FAIL, "BPSH_PUSH: %s: give absolute paths", p);
		manifest_add(m, p);
	}
	free(copy);
}

void
rsh_parse(int argc, char **argv, struct rsh_call *r, struct manifest *m)
{
	static char	*shcmd[4];
	int		 i = 1, done = 0;
	char		*line;

	memset(r, 0, sizeof(*r));
	r->tty = -1;
	if (argc > 1 && strcmp(argv[1], "--rsh") == 0)
		i = 2;
	else
		prog = base_name(argv[0]);
	if (manifest_resolve(argv[0], self, sizeof(self)) != 0)
		self[0] = '\0';
	i = parse_opts(argc, argv, i, r, &done);
	if (i >= argc)
		errx(RSH_FAIL, "usage: %s [ssh options] [user@]host [command "
		    "...]", prog);
	parse_host(argv[i++], r);
	if (!done)
		i = parse_opts(argc, argv, i, r, &done);
	shcmd[0] = (char *)"/bin/sh";
	if (i >= argc) {
		shcmd[1] = NULL;	/* no command: the node's shell */
		r->cmd = shcmd;
		return;
	}
	line = join_words(argv + i, argc - i);
	shcmd[1] = (char *)"-c";
	shcmd[2] = line;
	shcmd[3] = NULL;
	r->cmd = shcmd;
	if (r->local)
		return;
	push_line_commands(m, line);
	push_launcher_args(m);
	push_env(m);
}
