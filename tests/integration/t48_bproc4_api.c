/*
 * A program written only against BProc 4's <sys/bproc.h>, as a BProc
 * site's tool would be: it lists the nodes, filters "allup", checks
 * access, starts a command on every node with bproc_vexecmove, finds
 * those processes in bproc_proclist and bproc_pidnode while they run,
 * and reaps them.  Then the smaller calls: status strings, addresses,
 * bproc_nodespec, the _io variants, the calls that have no meaning here,
 * and the error texts.  Each line it prints is checked by t48_bproc4.sh.
 *
 * usage: t48_bproc4_api main | io
 */
#include <sys/bproc.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char	**environ;

static int
run_main(void)
{
	struct bproc_node_set_t		 all, up, spec;
	struct bproc_proc_info_t	*pl;
	char				 status[BPROC_STATE_LEN + 1];
	char				*argv[] = { "sh", "-c",
					    "echo ran on $(hostname) rank $BPROC_RANK; sleep 3",
					    NULL };
	int				 nodes[64], pids[64], found[64];
	int				 i, j, n, np, started, st, r;

	if ((n = bproc_nodelist(&all)) < 0) {
		printf("nodelist: %s\n", bproc_strerror(errno));
		return 1;
	}
	printf("nodelist: %d nodes\n", n);
	for (i = 0; i < all.size; i++)
		printf("node %d status %s mode %o\n", all.node[i].node,
		    all.node[i].status, all.node[i].mode);
	if (bproc_nodefilter(&up, &all, "allup") != 0) {
		printf("nodefilter: %s\n", bproc_strerror(errno));
		return 1;
	}
	printf("allup: %d nodes\n", up.size);
	if (up.size > 64)
		return 1;
	for (i = 0; i < up.size; i++) {
		nodes[i] = up.node[i].node;
		if (bproc_access(nodes[i], BPROC_X_OK) != 0)
			printf("access %d: %s\n", nodes[i], bproc_strerror(errno));
	}
	fflush(stdout);
	started = bproc_vexecmove(up.size, nodes, pids, "/bin/sh", argv,
	    environ);
	printf("vexecmove: %d started\n", started);
	for (i = 0; i < up.size; i++)
		if (pids[i] < 0)
			printf("vexecmove %d: %s\n", nodes[i],
			    bproc_strerror(-pids[i]));
	/* the processes run: the master's table has each on its node */
	if ((np = bproc_proclist(BPROC_NODE_ANY, &pl)) < 0) {
		printf("proclist: %s\n", bproc_strerror(errno));
		return 1;
	}
	for (i = 0; i < up.size; i++) {
		found[i] = 0;
		for (j = 0; j < np; j++)
			if (pl[j].pid == pids[i] && pl[j].node == nodes[i])
				found[i] = 1;
		printf("proclist: pid of node %d %s, pidnode %d\n", nodes[i],
		    found[i] ? "listed" : "MISSING", bproc_pidnode(pids[i]));
	}
	free(pl);
	if (up.size > 0) {
		if ((np = bproc_proclist(nodes[0], &pl)) < 0)
			return 1;
		for (j = 0, i = 0; j < np; j++)
			if (pl[j].node != nodes[0])
				i++;
		printf("proclist %d: %s\n", nodes[0], np > 0 && i == 0 ?
		    "only that node" : "WRONG");
		free(pl);
	}
	printf("pidnode self: %d\n", bproc_pidnode(getpid()));
	r = bproc_pidnode(0x3ffffff0);
	printf("pidnode none: %d %s\n", r, bproc_strerror(errno));
	fflush(stdout);
	for (i = 0; i < up.size; i++) {
		if (pids[i] <= 0)
			continue;
		if (waitpid(pids[i], &st, 0) != pids[i])
			printf("waitpid %d: %s\n", pids[i], strerror(errno));
		else
			printf("reaped node %d: exit %d\n", nodes[i],
			    WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	}

	/* the smaller calls */
	if (up.size > 0) {
		struct sockaddr_in	sin;
		struct bproc_node_info_t ni;
		int			len = sizeof(sin);

		printf("nodestatus %d: %d '%s'\n", nodes[0],
		    bproc_nodestatus(nodes[0], status, sizeof(status)), status);
		printf("nodestatus short buffer: %d\n",
		    bproc_nodestatus(nodes[0], status, 1));
		if (bproc_nodeaddr(nodes[0], (struct sockaddr *)&sin, &len) == 0)
			printf("nodeaddr %d: family %s len %d\n", nodes[0],
			    sin.sin_family == AF_INET ? "inet" : "other", len);
		else
			printf("nodeaddr: %s\n", bproc_strerror(errno));
		if (bproc_nodeinfo(nodes[0], &ni) == 0)
			printf("nodeinfo %d: %s atime %s\n", ni.node, ni.status,
			    ni.atime > 0 ? "set" : "none");
	}
	if (bproc_nodestatus(9999, status, sizeof(status)) == -1)
		printf("nodestatus 9999: %d %s\n", errno, bproc_strerror(errno));
	if (bproc_nodespec(&spec, "n[0-1],allup") >= 0) {
		printf("nodespec:");
		for (i = 0; i < spec.size; i++)
			printf(" %d", spec.node[i].node);
		printf("\n");
		bproc_nodeset_free(&spec);
	}
	if (bproc_nodespec(&spec, "n[0-") == -1)
		printf("nodespec bad: %s\n", bproc_strerror(errno));
	if (bproc_nodechroot(0, "/") == -1)
		printf("nodechroot: %s: %s\n", errno == ENOTSUP ? "ENOTSUP" :
		    "other", bproc_strerror(errno));
	{
		struct sockaddr_in	a = { .sin_family = AF_INET };

		if (bproc_nodereconnect(0, (struct sockaddr *)&a, sizeof(a),
		    (struct sockaddr *)&a, sizeof(a)) == -1)
			printf("nodereconnect: %s: %s\n", errno == ENOTSUP ?
			    "ENOTSUP" : "other", bproc_strerror(errno));
	}
	{
		struct bproc_version_t	v;

		if (bproc_version(&v) == 0)
			printf("version: %.3s %s api %d\n", v.bproc_magic,
			    v.version_string, BPROC_API_VERSION);
	}
	{
		/* an admin's state change, seen through the notifier */
		struct bproc_node_set_t	 ns;
		struct pollfd		 pfd;
		int			 nfd = bproc_notifier();

		pfd.fd = nfd;
		pfd.events = POLLIN;
		r = bproc_nodesetstatus(1, "unavailable");
		printf("nodesetstatus 1 unavailable: %d\n", r);
		printf("notifier: %s\n", nfd >= 0 && poll(&pfd, 1, 5000) == 1 ?
		    "readable" : "SILENT");
		if (bproc_nodelist_(&ns, nfd) == 3)
			printf("nodelist_ through it: node 1 %s\n",
			    ns.node[1].status);
		bproc_nodeset_free(&ns);
		r = bproc_nodesetstatus(1, "up");
		bproc_nodestatus(1, status, sizeof(status));
		printf("nodesetstatus 1 up: %d, status %s\n", r, status);
		close(nfd);
	}
	r = bproc_nodesetstatus(0, "bogus");
	printf("nodesetstatus bogus: %d %s\n", r, bproc_strerror(errno));
	printf("strerror %d: %s\n", BE_NODEDOWN, bproc_strerror(BE_NODEDOWN));
	bproc_nodeset_free(&up);
	bproc_nodeset_free(&all);
	return 0;
}

/* The _io variants: a file opened on the node, a socket, and refusals. */
static int
run_io(int node, const char *path)
{
	struct bproc_io_t	io[2];
	int			pid, st, r;

	memset(io, 0, sizeof(io));
	io[0].fd = 1;
	io[0].type = BPROC_IO_FILE;
	io[0].d.file.flags = O_WRONLY | O_CREAT | O_APPEND;
	io[0].d.file.mode = 0600;
	snprintf(io[0].d.file.name, sizeof(io[0].d.file.name), "%s", path);
	fflush(stdout);
	if ((pid = bproc_rfork_io(node, io, 1)) < 0) {
		printf("rfork_io: %s\n", bproc_strerror(errno));
		return 1;
	}
	if (pid == 0) {
		printf("child on node %d wrote this into %s\n",
		    bproc_currnode(), path);
		fflush(stdout);
		_exit(3);
	}
	waitpid(pid, &st, 0);
	printf("rfork_io child: exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);

	/* what rexec cannot do is refused before anything runs */
	io[0].type = BPROC_IO_MEMFILE;
	r = bproc_rexec_io(node, io, 1, "/bin/true", (char *[]){ "true", NULL },
	    environ);
	printf("rexec_io memfile: %d %s\n", r, errno == ENOTSUP ? "ENOTSUP" :
	    "other");
	io[0].type = BPROC_IO_FILE;
	io[0].fd = 5;
	r = bproc_rexec_io(node, io, 1, "/bin/true", (char *[]){ "true", NULL },
	    environ);
	printf("rexec_io fd 5: %d %s\n", r, errno == ENOTSUP ? "ENOTSUP" :
	    "other");
	io[0].fd = 1;
	io[0].flags = BPROC_IO_SEND_INFO;
	r = bproc_rfork_io(node, io, 1);
	printf("rfork_io send_info: %d %s\n", r, errno == ENOTSUP ? "ENOTSUP" :
	    "other");
	io[0].flags = 0;
	io[0].d.file.flags = O_WRONLY | O_CREAT | O_TRUNC;
	io[0].d.file.mode = 0666;
	io[1] = io[0];
	io[1].fd = 1;
	r = bproc_rfork_io(node, io, 2);
	printf("rfork_io fd twice: %d %s\n", r, errno == EINVAL ? "EINVAL" :
	    "other");
	r = bproc_move(777);
	printf("move 777: %d %s\n", r, bproc_strerror(errno));
	fflush(stdout);
	/* an execmove whose stdout is a file on the node (bpsh -O) */
	snprintf(io[0].d.file.name, sizeof(io[0].d.file.name), "%s.2", path);
	bproc_execmove_io(node, io, 1, "/bin/sh",
	    (char *[]){ "sh", "-c", "echo execmove_io on $(hostname)", NULL },
	    environ);
	printf("execmove_io: %s\n", bproc_strerror(errno));
	return 1;
}

int
main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 2 && strcmp(argv[1], "main") == 0)
		return run_main();
	if (argc == 4 && strcmp(argv[1], "io") == 0)
		return run_io(atoi(argv[2]), argv[3]);
	fprintf(stderr, "usage: %s main | io NODE PATH\n", argv[0]);
	return 2;
}
