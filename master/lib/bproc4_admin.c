/*
 * libbproc, BProc 4 layer: the administrative calls.  Reboot, halt and
 * power-off go through bpmaster as bpctl -R/-H/-P do; the synchronous
 * forms wait until the node has left the state it was in.  The version
 * is this library's, given only while a master answers; the notifier is
 * bpmaster's change stream.  BProc's slave daemon could chroot and
 * reconnect elsewhere; nodeinit has neither (its files are the front
 * end's, its master the one that booted it), so those two fail.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/bproc.h>
#include "bproc4_int.h"

#ifndef BPROC_LIB_VERSION
#define BPROC_LIB_VERSION	"1.0.0"		/* the Makefile's LIB_VERSION */
#endif
#define ADMIN_WAIT_MS	30000	/* how long a synchronous power call waits */
#define ADMIN_MAGIC	0x62706e67u	/* "bpng": bproc_version's magic */

static int
admin_power(int node, int how, int sync)
{
	struct bproc_node_info_t	 ni;
	struct timespec			 t0, t;
	struct pollfd			 pfd;
	char				 before[BPROC_STATE_LEN + 1];
	long				 left;
	int				 w = -1, ret = -1;

	node = bproc4_node_arg(node);
	if (node < 0)
		return bproc4_fail(BE_INVALIDNODE, "No such node %d", node);
	if (bproc_nodeinfo(node, &ni) == -1)
		return -1;
	memcpy(before, ni.status, sizeof(before));
	/* the change stream is opened first: no change is missed */
	if (sync && (w = ng_watch()) == -1)
		return bproc4_native_fail();
	if (ng_power(node, how) == -1) {
		bproc4_native_fail();
		goto out;
	}
	if (!sync)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (bproc_nodeinfo(node, &ni) == -1)
			goto out;
		if (strcmp(ni.status, before) != 0)
			break;
		clock_gettime(CLOCK_MONOTONIC, &t);
		left = ADMIN_WAIT_MS - ((t.tv_sec - t0.tv_sec) * 1000 +
		    (t.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0) {
			bproc4_fail(ETIMEDOUT, "node %d is still %s", node,
			    before);
			goto out;
		}
		pfd.fd = w;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, (int)left) == 1 && ng_watch_ack(w) == -1) {
			bproc4_native_fail();
			goto out;
		}
	}
	ret = 0;
out:
	if (w != -1)
		close(w);
	return ret;
}

int
bproc_nodereboot(int node)
{
	return admin_power(node, BPROC4_POWER_REBOOT, 1);
}

int
bproc_nodehalt(int node)
{
	return admin_power(node, BPROC4_POWER_HALT, 1);
}

int
bproc_nodepwroff(int node)
{
	return admin_power(node, BPROC4_POWER_OFF, 1);
}

int
bproc_nodereboot_async(int node)
{
	return admin_power(node, BPROC4_POWER_REBOOT, 0);
}

int
bproc_nodehalt_async(int node)
{
	return admin_power(node, BPROC4_POWER_HALT, 0);
}

int
bproc_nodepwroff_async(int node)
{
	return admin_power(node, BPROC4_POWER_OFF, 0);
}

/* A state name as bpctl -s takes it: up, down, error, unavailable, ... */
int
bproc_nodesetstatus(int node, char *status)
{
	int	state;

	node = bproc4_node_arg(node);
	if (node < 0)
		return bproc4_fail(BE_INVALIDNODE, "No such node %d", node);
	if (status == NULL || (state = ng_state_parse(status)) < 0)
		return bproc4_fail(EINVAL, "unknown node state '%s'",
		    status ? status : "(null)");
	return ng_setnodestate(node, state) == -1 ? bproc4_native_fail() : 0;
}

int
bproc_version(struct bproc_version_t *vers)
{
	if (vers == NULL)
		return bproc4_fail(EINVAL, "no version to fill");
	if (bproc4_bridge_master_alive() == -1)
		return bproc4_native_fail();
	memset(vers, 0, sizeof(*vers));
	memcpy(vers->bproc_magic, "BPr", 3);
	vers->arch = BPROC_ARCH_X86_64;
	vers->magic = ADMIN_MAGIC;
	snprintf(vers->version_string, sizeof(vers->version_string),
	    "bproc-ng %s", BPROC_LIB_VERSION);
	return 0;
}

/* Readable when the node table changed; bproc_nodelist_(ns, fd) reads it. */
int
bproc_notifier(void)
{
	int	fd;

	if ((fd = ng_watch()) == -1)
		return bproc4_native_fail();
	return fd;
}

int
bproc_nodechroot(int node, char *path)
{
	(void)path;
	return bproc4_fail(ENOTSUP, "bproc_nodechroot (node %d): a bproc-ng "
	    "node has no root to change, its files are the front end's", node);
}

int
bproc_nodereconnect(int node, struct sockaddr *rem, int remsize,
    struct sockaddr *loc, int locsize)
{
	(void)rem;
	(void)remsize;
	(void)loc;
	(void)locsize;
	return bproc4_fail(ENOTSUP, "bproc_nodereconnect (node %d): nodeinit "
	    "serves only the master that booted it", node);
}
