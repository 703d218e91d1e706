/*
 * bpsh_exec.c: what every remote start shares (the exec options, the
 * command as the node runs it, pushed with what it needs), how a failed
 * start is told, and the one-node run, where bpsh becomes the ghost.
 */
#include <err.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>


#include "bproc.h"
#include "bpsh_int.h"
#include "progress.h"

extern char **environ;

int		 bpsh_err_fd = STDERR_FILENO;	/* the real stderr, for errors */
static const char	*exec_file;	/* the command as the node runs it */

void
bpsh_node_error(int node, const char *msg)
{
	dprintf(bpsh_err_fd, "%d: %s\n", node, msg);
}

/*
 * bproc_rexec failed: bpmaster out of reach is bpsh's own error; the
 * node's exec of the command failing is told as a shell tells it, with
 * its status (127 not found, 126 found but not runnable); anything else
 * is the node's error.  Returns the exit status for it.
 */
int
bpsh_rexec_failed(int node)
{
	const char	*m = bproc_strerror();
	size_t		 fl = strlen(exec_file);
	int		 e = errno;
	char		 msg[512];

	if (bproc_master_error()) {
		dprintf(bpsh_err_fd, "bpsh: %s\n", m);
		return BPSH_FAIL;
	}
	/* nodeinit says "<command>: <strerror>" when only the exec failed */
	if ((e == ENOENT || e == EACCES || e == ENOEXEC || e == ENOTDIR) &&
	    strncmp(m, exec_file, fl) == 0 && strncmp(m + fl, ": ", 2) == 0 &&
	    strcmp(m + fl + 2, strerror(e)) == 0) {
		if (e == ENOENT && strchr(exec_file, '/') == NULL) {
			snprintf(msg, sizeof(msg), "%s: command not found",
			    exec_file);
			m = msg;
		}
		bpsh_node_error(node, m);
		return e == ENOENT || e == ENOTDIR ? BPSH_NOTFOUND : BPSH_NOEXEC;
	}
	bpsh_node_error(node, bproc_node_strerror());
	return BPSH_FAIL;
}

int
bpsh_exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return BPSH_FAIL;
}

/* The options every remote start shares: flags, files, the push. */
void
bpsh_exec_opts(struct bproc_exec_opts *o, int rank, int tty)
{
	memset(o, 0, sizeof(*o));
	o->rank = (unsigned int)rank;
	o->flags = (bpsh_opt.nullin ? BPROC_EXEC_STDIN_NULL : 0) |
	    (bpsh_opt.noio ? BPROC_EXEC_NOIO : 0) | (tty ? BPROC_EXEC_TTY : 0) |
	    (getenv("BPROC_NOTRACK") ? BPROC_EXEC_NOTRACK : 0) |
	    (getenv("BPROC_NOSPARE") ? BPROC_EXEC_NOSPARE : 0);
	o->file_in = bpsh_opt.in;
	o->file_out = bpsh_opt.out;
	o->file_err = bpsh_opt.err;
	o->files = bpsh_opt.manifest.files;
	o->nfiles = bpsh_opt.manifest.n;
}

/*
 * The command as the front end's PATH finds it, with what it needs,
 * goes into the nodes' RAM; a command the front end lacks is looked up
 * on the node's PATH instead.
 */
void
bpsh_cmd_prepare(const char *cmd)
{
	static char	abs[4096];

	exec_file = cmd;
	if (!bpsh_opt.nopush && manifest_resolve(cmd, abs, sizeof(abs)) == 0) {
		manifest_command(&bpsh_opt.manifest, abs);
		exec_file = abs;
	}
	if (bpsh_opt.manifest.errors)
		errx(BPSH_FAIL, "cannot push %d file%s (see above)",
		    bpsh_opt.manifest.errors,
		    bpsh_opt.manifest.errors > 1 ? "s" : "");
	hashcache_save();
}

/* Start cmd on node (the push's bar with bar): the status it failed with. */
int
bpsh_rexec(int node, char **cmd, struct bproc_exec_opts *o, int bar)
{
	if (bar)
		progress_push(node, exec_file);
	bproc_rexec_opts(node, exec_file, cmd, environ, o);
	return bpsh_rexec_failed(node);
}

/* One node, plain I/O: become the ghost; the shell sees it directly. */
int
bpsh_run_one(int node, int numnodes, char **cmd)
{
	struct bproc_exec_opts	o;

	if (node >= numnodes) {
		bpsh_node_error(node, "No such node");
		return BPSH_FAIL;
	}
	bpsh_exec_opts(&o, 0, bpsh_opt.tty);
	return bpsh_rexec(node, cmd, &o, 1);
}
