/*
 * libbproc, BProc 4 layer: node information (BProc's struct
 * bproc_node_info_t, its status strings), node permissions, and the
 * process table as BProc showed it.  Everything comes from bpmaster's
 * tables (bproc4_bridge.c); BProc read them from its /bpfs.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sys/bproc.h>
#include "bproc4_int.h"
#include "nodeset.h"

/* "10.0.0.3:41000" (the node link's peer) as a sockaddr_in, port 0. */
static void
node_addr(struct sockaddr *sa, const char *addr)
{
	struct sockaddr_in	 sin;
	char			 ip[64];
	char			*colon;

	memset(sa, 0, sizeof(*sa));
	sa->sa_family = AF_UNSPEC;
	snprintf(ip, sizeof(ip), "%s", addr);
	if ((colon = strrchr(ip, ':')) != NULL && strchr(ip, ':') == colon)
		*colon = '\0';
	memset(&sin, 0, sizeof(sin));
	if (inet_pton(AF_INET, ip, &sin.sin_addr) == 1) {
		sin.sin_family = AF_INET;
		memcpy(sa, &sin, sizeof(sin));
	}
}

static time_t
node_time(time_t now, uint64_t age_ms)
{
	return age_ms == UINT64_MAX ? 0 : now - (time_t)(age_ms / 1000);
}

static void
node_convert(struct bproc_node_info_t *ni, const struct bproc4_node *n,
    time_t now)
{
	memset(ni, 0, sizeof(*ni));
	ni->node = n->node;
	snprintf(ni->status, sizeof(ni->status), "%s", ng_state_name(n->state));
	ni->mode = n->mode;
	ni->user = n->uid;
	ni->group = n->gid;
	node_addr(&ni->addr, n->addr);
	ni->atime = node_time(now, n->last_seen_ms);
	ni->mtime = node_time(now, n->status_age_ms);
}

int
bproc_nodelist(struct bproc_node_set_t *ns)
{
	struct bproc4_node	*l;
	time_t			 now = time(NULL);
	int			 n, i;

	bproc_nodeset_init(ns, 0);
	if ((n = bproc4_bridge_nodes(&l)) < 0)
		return bproc4_native_fail();
	if (bproc_nodeset_init(ns, n) == -1) {
		free(l);
		return -1;
	}
	for (i = 0; i < n; i++)
		node_convert(&ns->node[i], &l[i], now);
	free(l);
	return n;
}

/*
 * BProc's notifier descriptor was its status file: reading the list
 * through it took the news.  Here it is bpmaster's change stream: what
 * is pending on it is consumed, then the list is read.
 */
int
bproc_nodelist_(struct bproc_node_set_t *ns, int fd)
{
	struct pollfd	pfd = { .fd = fd, .events = POLLIN };

	while (poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN))
		if (ng_watch_ack(fd) == -1)
			break;
	return bproc_nodelist(ns);
}

int
bproc_nodeinfo(int node, struct bproc_node_info_t *info)
{
	struct bproc_node_set_t	ns;
	int			i;

	node = bproc4_node_arg(node);
	if (node == BPROC_NODE_MASTER) {
		memset(info, 0, sizeof(*info));
		info->node = BPROC_NODE_MASTER;
		strcpy(info->status, "up");
		info->mode = 0111;
		return 0;
	}
	if (bproc_nodelist(&ns) < 0)
		return -1;
	for (i = 0; i < ns.size; i++)
		if (ns.node[i].node == node) {
			*info = ns.node[i];
			bproc_nodeset_free(&ns);
			return 0;
		}
	bproc_nodeset_free(&ns);
	return bproc4_fail(BE_INVALIDNODE, "No such node %d", node);
}

/* The status string into status[len]: its length, NUL-ended when room. */
int
bproc_nodestatus(int node, char *status, int len)
{
	struct bproc_node_info_t	ni;
	int				n;

	if (status == NULL || len <= 0)
		return bproc4_fail(EINVAL, "no room for the status");
	if (bproc_nodeinfo(node, &ni) == -1)
		return -1;
	n = (int)strlen(ni.status);
	if (n > len)
		return bproc4_fail(ERANGE, "status '%s' longer than %d bytes",
		    ni.status, len);
	memcpy(status, ni.status, (size_t)n);
	if (n < len)
		status[n] = '\0';
	return n;
}

int
bproc_nodeaddr(int node, struct sockaddr *s, int *size)
{
	struct bproc_node_info_t	ni;
	int				n;

	if (s == NULL || size == NULL || *size < 0)
		return bproc4_fail(EINVAL, "no room for the address");
	node = bproc4_node_arg(node);
	if (node == BPROC_NODE_MASTER)
		return bproc4_fail(ENOTSUP, "the front end's address on the "
		    "cluster network is not in bpmaster's tables");
	if (bproc_nodeinfo(node, &ni) == -1)
		return -1;
	if (ni.addr.sa_family != AF_INET)
		return bproc4_fail(BE_NODEDOWN, "node %d has no address yet",
		    node);
	n = (int)sizeof(struct sockaddr_in);
	memcpy(s, &ni.addr, (size_t)(n < *size ? n : *size));
	*size = n;
	return 0;
}

static int
node_check(int node)
{
	node = bproc4_node_arg(node);
	if (node < 0)
		return bproc4_fail(BE_INVALIDNODE, "node %d has no permissions "
		    "to change", node);
	return node;
}

int
bproc_chmod(int node, int mode)
{
	if ((node = node_check(node)) < 0)
		return -1;
	return ng_chmod(node, (unsigned int)mode) == -1 ?
	    bproc4_native_fail() : 0;
}

int
bproc_chown(int node, int user)
{
	if ((node = node_check(node)) < 0)
		return -1;
	return ng_chown(node, (uid_t)user, (gid_t)-1) == -1 ?
	    bproc4_native_fail() : 0;
}

int
bproc_chgrp(int node, int group)
{
	if ((node = node_check(node)) < 0)
		return -1;
	return ng_chown(node, (uid_t)-1, (gid_t)group) == -1 ?
	    bproc4_native_fail() : 0;
}

/* BPROC_X_OK: may the caller run processes there (BProc's x-bit rule). */
int
bproc_access(int node, int mode)
{
	node = bproc4_node_arg(node);
	if (node == BPROC_NODE_MASTER)
		return 0;
	if (mode & ~BPROC_X_OK)
		return bproc4_fail(EINVAL, "bproc_access knows BPROC_X_OK only");
	if (node < 0)
		return bproc4_fail(BE_INVALIDNODE, "No such node %d", node);
	return ng_access(node, mode) == -1 ? bproc4_native_fail() : 0;
}

/* The remote processes bpmaster tracks, on node or (BPROC_NODE_ANY) all. */
int
bproc_proclist(int node, struct bproc_proc_info_t **list)
{
	struct bproc4_proc		*l;
	struct bproc_proc_info_t	*o;
	int				 n, i, k = 0;

	node = bproc4_node_arg(node);
	if (list == NULL)
		return bproc4_fail(EINVAL, "no list to fill");
	if ((n = bproc4_bridge_procs(&l)) < 0)
		return bproc4_native_fail();
	if ((o = calloc(n > 0 ? (size_t)n : 1, sizeof(*o))) == NULL) {
		free(l);
		return -1;
	}
	for (i = 0; i < n; i++)
		if (node == BPROC_NODE_ANY || l[i].node == node) {
			o[k].pid = l[i].pid;
			o[k++].node = l[i].node;
		}
	free(l);
	*list = o;
	return k;
}

/*
 * Where process pid runs: its node, or BPROC_NODE_MASTER (-1, as BProc)
 * for a front-end process; -1 with errno BE_INVALIDPROC when there is no
 * such process.
 */
int
bproc_pidnode(int pid)
{
	struct bproc4_proc	*l;
	int			 n, i, node = BPROC_NODE_NONE;

	if (pid <= 0)
		return bproc4_fail(BE_INVALIDPROC, "no process %d", pid);
	if ((n = bproc4_bridge_procs(&l)) < 0)
		return bproc4_native_fail();
	for (i = 0; i < n && node == BPROC_NODE_NONE; i++)
		if (l[i].pid == pid)
			node = l[i].node;
	free(l);
	if (node != BPROC_NODE_NONE)
		return node;
	if (kill(pid, 0) == 0 || errno == EPERM) {
		errno = 0;
		return BPROC_NODE_MASTER;
	}
	return bproc4_fail(BE_INVALIDPROC, "no process %d", pid);
}

/*
 * bproc-ng's node-set syntax (nodeset.h: 0-3,7, n[0-15], all, allup,
 * state names, !TERM) over the cluster's list, in the order written.
 */
int
bproc_nodespec(struct bproc_node_set_t *ns, const char *str)
{
	struct bproc_node_set_t	 all;
	struct nodeset		 set = { 0 };
	char			 err[128];
	int			*states, i, ret = -1;

	bproc_nodeset_init(ns, 0);
	if (str == NULL)
		return bproc4_fail(EINVAL, "no node set");
	if (bproc_nodelist(&all) < 0)
		return -1;
	if ((states = calloc(all.size > 0 ? (size_t)all.size : 1,
	    sizeof(*states))) == NULL)
		goto out;
	for (i = 0; i < all.size; i++)
		states[i] = ng_state_parse(all.node[i].status);
	if (nodeset_parse(&set, str, all.size, states, err, sizeof(err)) == -1) {
		bproc4_fail(EINVAL, "%s", err);
		goto out;
	}
	for (i = 0; i < (int)set.count; i++) {
		if (set.nodes[i] >= all.size) {
			bproc4_fail(BE_INVALIDNODE, "No such node %d",
			    set.nodes[i]);
			bproc_nodeset_free(ns);
			goto out;
		}
		if (bproc_nodeset_add(ns, &all.node[set.nodes[i]]) == -1) {
			bproc_nodeset_free(ns);
			goto out;
		}
	}
	ret = ns->size;
out:
	nodeset_free(&set);
	free(states);
	bproc_nodeset_free(&all);
	return ret;
}
