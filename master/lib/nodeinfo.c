/*
 * libbproc: the node table and the process table as the master reports
 * them, changes to a node (state, power, owner, group, mode), the access
 * rule, and change notification for live views.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bproc.h"
#include "libbproc_int.h"

/* bproc.h's states are the wire's (nodeset.h): one list, checked here. */
_Static_assert(BPROC_STATE_DOWN == NODE_DOWN, "BPROC_STATE_DOWN");
_Static_assert(BPROC_STATE_BOOT == NODE_BOOT, "BPROC_STATE_BOOT");
_Static_assert(BPROC_STATE_UP == NODE_UP, "BPROC_STATE_UP");
_Static_assert(BPROC_STATE_ERROR == NODE_ERROR, "BPROC_STATE_ERROR");
_Static_assert(BPROC_STATE_UNAVAILABLE == NODE_UNAVAILABLE,
    "BPROC_STATE_UNAVAILABLE");
_Static_assert(BPROC_STATE_REBOOT == NODE_REBOOT, "BPROC_STATE_REBOOT");
_Static_assert(BPROC_STATE_HALT == NODE_HALT, "BPROC_STATE_HALT");
_Static_assert(BPROC_STATE_PWROFF == NODE_PWROFF, "BPROC_STATE_PWROFF");

#define NODES_MAX	(1u << 20)	/* node records one list may hold */
#define PROCS_MAX	(1u << 22)	/* process records one list may hold */

/* The link's health (a master before it sent none: unknown). */
static void
node_decode_link(struct bproc_node_info *ni, struct wire_attr tb[A_MAX])
{
	ni->status_age_ms = UINT64_MAX;
	if (tb[A_RTT].data)
		ni->rtt_us = wire_get_u32(&tb[A_RTT]);
	if (tb[A_STATUS_AGE].data)
		ni->status_age_ms = wire_get_u64(&tb[A_STATUS_AGE]);
}

static void
node_decode(void *el, struct wire_attr tb[A_MAX])
{
	struct bproc_node_info	*ni = el;

	ni->node = (int)wire_get_u32(&tb[A_NODE]);
	ni->state = wire_get_u8(&tb[A_STATE]);
	ni->last_seen_ms = UINT64_MAX;
	if (tb[A_UID].data)
		ni->uid = wire_get_u32(&tb[A_UID]);
	if (tb[A_GID].data)
		ni->gid = wire_get_u32(&tb[A_GID]);
	if (tb[A_MODE].data)
		ni->mode = wire_get_u32(&tb[A_MODE]);
	if (tb[A_ADDR].data)
		snprintf(ni->addr, sizeof(ni->addr), "%s",
		    wire_get_str(&tb[A_ADDR]));
	if (tb[A_MAC].data) {
		memcpy(ni->mac, tb[A_MAC].data, 6);
		ni->has_mac = 1;
	}
	if (tb[A_LAST_SEEN].data)
		ni->last_seen_ms = wire_get_u64(&tb[A_LAST_SEEN]);
	if (tb[A_LOAD1].data)
		ni->load[0] = wire_get_u32(&tb[A_LOAD1]);
	if (tb[A_LOAD5].data)
		ni->load[1] = wire_get_u32(&tb[A_LOAD5]);
	if (tb[A_LOAD15].data)
		ni->load[2] = wire_get_u32(&tb[A_LOAD15]);
	if (tb[A_CPUS].data)
		ni->cpus = wire_get_u32(&tb[A_CPUS]);
	if (tb[A_MEM_TOTAL].data)
		ni->mem_total = wire_get_u64(&tb[A_MEM_TOTAL]);
	if (tb[A_MEM_FREE].data)
		ni->mem_free = wire_get_u64(&tb[A_MEM_FREE]);
	if (tb[A_UPTIME].data)
		ni->uptime = wire_get_u64(&tb[A_UPTIME]);
	if (tb[A_NPROCS].data)
		ni->nprocs = wire_get_u32(&tb[A_NPROCS]);
	if (tb[A_STAGE].data)
		ni->stage = wire_get_u8(&tb[A_STAGE]);
	if (tb[A_CACHE_BYTES].data)
		ni->cache_bytes = wire_get_u64(&tb[A_CACHE_BYTES]);
	if (tb[A_PUSH_BYTES].data)
		ni->push_bytes = wire_get_u64(&tb[A_PUSH_BYTES]);
	node_decode_link(ni, tb);
	if (tb[A_POWER].data)
		ni->power = wire_get_u8(&tb[A_POWER]);
}

int
bproc_nodelist(struct bproc_node_info **listp)
{
	return libbproc_records(MSG_CTL_NODES, MSG_CTL_NODE, sizeof(**listp),
	    NODES_MAX, node_decode, (void **)listp);
}

static void
proc_decode(void *el, struct wire_attr tb[A_MAX])
{
	struct bproc_proc_info	*pi = el;

	pi->pid = (pid_t)wire_get_u32(&tb[A_PID]);
	pi->node = (int)wire_get_u32(&tb[A_NODE]);
	pi->rpid = tb[A_RPID].data ? (pid_t)wire_get_u32(&tb[A_RPID]) :
	    pi->pid;
	pi->uid = tb[A_UID].data ? wire_get_u32(&tb[A_UID]) : 0;
	pi->ppid = tb[A_PPID].data ? (pid_t)wire_get_u32(&tb[A_PPID]) : 0;
	if (tb[A_ARG].data)
		snprintf(pi->cmd, sizeof(pi->cmd), "%s",
		    wire_get_str(&tb[A_ARG]));
}

int
bproc_proclist(struct bproc_proc_info **listp)
{
	return libbproc_records(MSG_CTL_PROCS, MSG_CTL_PROC, sizeof(**listp),
	    PROCS_MAX, proc_decode, (void **)listp);
}

/* One CTL_MASTER; the reply is one CTL_MASTER_INFO. */
int
bproc_masterinfo(struct bproc_master_info *mi)
{
	unsigned char		*buf;
	struct wire_hdr		 h;
	struct wire_attr	 tb[A_MAX];
	int			 fd, ret = -1;

	libbproc_errclear();
	if ((fd = libbproc_connect()) == -1)
		return -1;
	if ((buf = malloc(WIRE_MAX_FRAME)) == NULL)
		goto out;
	if (libbproc_request(fd, MSG_CTL_MASTER) == -1 ||
	    libbproc_recv(fd, buf, LIBBPROC_WAIT_MASTER, &h, tb) == -1)
		goto out;
	memset(mi, 0, sizeof(*mi));
	mi->pid = (pid_t)wire_get_u32(&tb[A_PID]);
	if (tb[A_UPTIME].data)
		mi->uptime = wire_get_u64(&tb[A_UPTIME]);
	if (tb[A_CPU_USER].data)
		mi->cpu_user_us = wire_get_u64(&tb[A_CPU_USER]);
	if (tb[A_CPU_SYS].data)
		mi->cpu_sys_us = wire_get_u64(&tb[A_CPU_SYS]);
	if (tb[A_RSS].data)
		mi->rss_bytes = wire_get_u64(&tb[A_RSS]);
	if (tb[A_NUMNODES].data)
		mi->numnodes = wire_get_u32(&tb[A_NUMNODES]);
	if (tb[A_NPROCS].data)
		mi->nprocs = wire_get_u32(&tb[A_NPROCS]);
	if (tb[A_COUNT].data)
		mi->conns = wire_get_u32(&tb[A_COUNT]);
	if (tb[A_HEARTBEAT].data)
		mi->heartbeat_ms = wire_get_u32(&tb[A_HEARTBEAT]);
	if (tb[A_TIMEOUT].data)
		mi->timeout_ms = wire_get_u32(&tb[A_TIMEOUT]);
	ret = 0;
out:
	free(buf);
	close(fd);
	return ret;
}

int
bproc_numnodes(void)
{
	struct bproc_node_info	*l;
	int			 n;

	if ((n = bproc_nodelist(&l)) >= 0)
		free(l);
	return n;
}

int
bproc_currnode(void)
{
	const char	*s = getenv("BPROC_NODE");
	char		*end;
	long		 v;

	/* nodeinit sets BPROC_NODE in every process it starts on a node */
	if (s == NULL || *s == '\0')
		return BPROC_NODE_MASTER;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end != '\0' || v < 0 || v > INT_MAX)
		return BPROC_NODE_MASTER;
	return (int)v;
}

int
bproc_nodeinfo(int node, struct bproc_node_info *ni)
{
	struct bproc_node_info	*l;
	int			 n;

	if ((n = bproc_nodelist(&l)) < 0)
		return -1;
	if (node < 0 || node >= n) {
		free(l);
		errno = ENODEV;
		return -1;
	}
	*ni = l[node];
	free(l);
	return 0;
}

int
bproc_nodestatus(int node)
{
	struct bproc_node_info	ni;

	if (bproc_nodeinfo(node, &ni) == -1)
		return -1;
	return ni.state;
}

/* One CTL_SET with a single attribute; the reply is a CTL_RESULT. */
static int
node_set(int node, uint16_t attr, uint32_t val, int is_u8)
{
	unsigned char		 req[128];
	struct wire_msg		 m;

	libbproc_errclear();
	if (node < 0) {
		errno = ENODEV;
		return -1;
	}
	wire_msg_init(&m, req, sizeof(req), MSG_CTL_SET, 0, 1);
	wire_put_u32(&m, A_NODE, (uint32_t)node);
	if (is_u8)
		wire_put_u8(&m, attr, (uint8_t)val);
	else
		wire_put_u32(&m, attr, val);
	return libbproc_call(req, wire_msg_finish(&m), 0, NULL);
}

int
bproc_chown(int node, uid_t uid, gid_t gid)
{
	if (uid != (uid_t)-1 && node_set(node, A_UID, uid, 0) == -1)
		return -1;
	if (gid != (gid_t)-1 && node_set(node, A_GID, gid, 0) == -1)
		return -1;
	return 0;
}

int
bproc_chmod(int node, unsigned int mode)
{
	return node_set(node, A_MODE, mode & 07777, 0);
}

int
bproc_setnodestate(int node, int state)
{
	return node_set(node, A_STATE, (uint32_t)state, 1);
}

int
bproc_power(int node, int how)
{
	return node_set(node, A_HOW, (uint32_t)how, 1);
}

/*
 * BProc's access rule: root always; otherwise the owner's, group's or
 * other's x bit, the group matching the primary or a supplementary gid.
 */
int
bproc_access(int node, int mode)
{
	struct bproc_node_info	 ni;
	gid_t			 groups[NGROUPS_MAX];
	uid_t			 uid = geteuid();
	int			 ng, i, ok;

	(void)mode;
	if (bproc_nodeinfo(node, &ni) == -1)
		return -1;
	if (uid == 0)
		return 0;
	if (ni.uid == uid)
		ok = ni.mode & 0100;
	else {
		int	ingroup = (ni.gid == getegid());

		ng = getgroups(NGROUPS_MAX, groups);
		for (i = 0; i < ng && !ingroup; i++)
			ingroup = groups[i] == ni.gid;
		ok = ingroup ? (ni.mode & 0010) : (ni.mode & 0001);
	}
	if (!ok) {
		errno = EACCES;
		return -1;
	}
	return 0;
}

const char *
bproc_state_name(int s)
{
	return node_state_name(s);
}

int
bproc_state_parse(const char *s)
{
	return node_state_parse(s);
}

const char *
bproc_stage_name(int s)
{
	return stage_name(s);
}

int
bproc_watch(void)
{
	int	fd;

	libbproc_errclear();
	if ((fd = libbproc_connect()) == -1)
		return -1;
	if (libbproc_request(fd, MSG_CTL_WATCH) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

int
bproc_watch_ack(int fd)
{
	unsigned char		*buf;
	struct wire_hdr		 h;
	struct wire_attr	 tb[A_MAX];
	int			 r;

	if ((buf = malloc(WIRE_MAX_FRAME)) == NULL)
		return -1;
	r = libbproc_recv(fd, buf, LIBBPROC_WAIT_WATCH, &h, tb);
	free(buf);
	return r;
}
