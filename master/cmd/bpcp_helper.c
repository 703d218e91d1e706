/*
 * bpcp's helpers: the source and sink scripts as processes (a local
 * shell, or a remote one behind its ghost), the text they say on stdout
 * and stderr, and how a failed one is reported.
 */
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bproc.h"
#include "bpcp_int.h"

#define SCRIPT_VAR	"BPCP_SH"	/* the environment variable of the script */
#define SCRIPT_RUN	"eval \"$" SCRIPT_VAR "\""	/* what sh -c runs */

void
loc_error(int node, const char *msg)
{
	if (node == NODE_LOCAL)
		fprintf(stderr, "bpcp: %s\n", msg);
	else
		fprintf(stderr, "%d: %s\n", node, msg);
}

/*
 * Run script with args on node, or locally, as
 * `sh -c 'eval "$BPCP_SH"' name args...`: the script travels in the
 * environment, so ps and bpstat -p show the name and the arguments rather
 * than the script's text.  Its stdin is a pipe when want_in, else
 * /dev/null.  A start that fails is told through a close-on-exec pipe:
 * end of file there means the exec (of bpghost or of sh) happened; a
 * failed start is reported here, and its process reaped.  The report's
 * first byte says whose failure it was: M bpmaster's (printed as bpcp's
 * own), N the node's, L the local shell's.
 */
int
helper_start(struct helper *p, int node, const char *script, char **args,
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
			dprintf(rep[1], "L/bin/sh: %s", strerror(errno));
			_exit(127);
		}
		memset(&o, 0, sizeof(o));
		o.flags = want_in ? 0 : BPROC_EXEC_STDIN_NULL;
		if (asprintf(&envp[1], "%s=%s", SCRIPT_VAR, script) == -1)
			_exit(127);
		envp[0] = "PATH=/bin:/sbin:/usr/bin:/usr/sbin";
		envp[2] = NULL;
		bproc_rexec_opts(node, NODE_BUSYBOX, argv, envp, &o);
		/* bpmaster's failure is bpcp's own, not the node's */
		if (bproc_master_error())
			dprintf(rep[1], "M%s", bproc_strerror());
		else
			dprintf(rep[1], "N%s", bproc_node_strerror());
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
		/* it did not start: say why, and leave nothing behind */
		p->startmsg[r] = '\0';
		loc_error(p->startmsg[0] == 'M' ? NODE_LOCAL : node,
		    p->startmsg + 1);
		helper_wait(p);
		helper_close(p);
		return -1;
	}
	return 0;
}

void
helper_close(struct helper *p)
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
int
helper_wait(struct helper *p)
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

void
text_add(struct text *t, const char *d, size_t n)
{
	if (n > sizeof(t->d) - 1 - t->n)
		n = sizeof(t->d) - 1 - t->n;
	memcpy(t->d + t->n, d, n);
	t->n += n;
	t->d[t->n] = '\0';
}

/* Drain what a descriptor has now; -1 (and closed) at end of file. */
int
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

/*
 * A failed helper: a node that went down is the whole story (its ghosts
 * are killed, or lose the master first, whatever they were doing);
 * otherwise print what the helper said, or else how it ended.
 */
void
helper_report(struct helper *p, const struct text *said, const char *path,
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
