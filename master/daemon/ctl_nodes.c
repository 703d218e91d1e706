/*
 * The control socket's node requests: the node table (CTL_NODES), the
 * master's own figures (CTL_MASTER), a node's changes (CTL_SET) and its
 * power (CTL_POWER).  Replies to a snapshot are N CTL_NODE records then
 * CTL_END with the count.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ctlconn.h"
#include "log.h"

/* The link's health, for the metrics: round trip and heartbeat age. */
static void
ctl_put_link(struct wire_msg *m, const struct node *n, uint64_t now)
{
	uint32_t	rtt;

	if (n->state == NODE_DOWN)
		return;
	if ((rtt = node_rtt_us(n)) != 0)
		wire_put_u32(m, A_RTT, rtt);
	if (n->last_status)
		wire_put_u64(m, A_STATUS_AGE, now - n->last_status);
}

static void
ctl_put_node(struct wire_msg *m, const struct node *n, uint64_t now)
{
	wire_put_u32(m, A_NODE, (uint32_t)n->num);
	wire_put_u8(m, A_STATE, (uint8_t)n->state);
	wire_put_u32(m, A_UID, n->uid);
	wire_put_u32(m, A_GID, n->gid);
	wire_put_u32(m, A_MODE, n->mode);
	if (n->addr[0])
		wire_put_str(m, A_ADDR, n->addr);
	if (n->has_mac)
		wire_put(m, A_MAC, n->mac, 6);
	if (n->last_seen)
		wire_put_u64(m, A_LAST_SEEN, now - n->last_seen);
	wire_put_u8(m, A_STAGE, (uint8_t)n->stage);
	if (n->state != NODE_DOWN) {
		wire_put_u32(m, A_LOAD1, n->load[0]);
		wire_put_u32(m, A_LOAD5, n->load[1]);
		wire_put_u32(m, A_LOAD15, n->load[2]);
		wire_put_u32(m, A_CPUS, n->cpus);
		wire_put_u64(m, A_MEM_TOTAL, n->mem_total);
		wire_put_u64(m, A_MEM_FREE, n->mem_free);
		wire_put_u64(m, A_UPTIME, n->uptime);
		wire_put_u32(m, A_NPROCS, n->nprocs);
	}
	wire_put_u64(m, A_CACHE_BYTES, n->cache_bytes);
	wire_put_u64(m, A_PUSH_BYTES, n->push_bytes);
	ctl_put_link(m, n, now);
	power_put_node(m, n->num);
}

int
ctl_on_nodes(void *arg, const struct proto_frame *f)
{
	struct ctlconn	*cc = arg;
	const struct wire_hdr *h = f->h;
	unsigned char	buf[1024];
	struct wire_msg	m;
	uint64_t	now = ev_now();
	int		i;

	for (i = 0; i < numnodes; i++) {
		wire_msg_init(&m, buf, sizeof(buf), MSG_CTL_NODE, WIRE_F_REPLY,
		    h->seq);
		ctl_put_node(&m, &nodes[i], now);
		if (ctl_send(cc, &m) == -1)
			return -1;
	}
	wire_msg_init(&m, buf, sizeof(buf), MSG_CTL_END, WIRE_F_REPLY, h->seq);
	wire_put_u32(&m, A_COUNT, (uint32_t)numnodes);
	wire_put_u32(&m, A_ERRNO, 0);
	return ctl_send(cc, &m);
}

/*
 * CTL_MASTER: the daemon's own costs and sizes, for the metrics: CPU time
 * (getrusage), resident memory (/proc/self/statm), uptime, tables.
 */
int
ctl_on_master(void *arg, const struct proto_frame *pf)
{
	struct ctlconn	*cc = arg;
	const struct wire_hdr *h = pf->h;
	unsigned char	 buf[256];
	struct wire_msg	 m;
	struct rusage	 ru;
	unsigned long	 size, resident = 0;
	FILE		*f;

	memset(&ru, 0, sizeof(ru));
	getrusage(RUSAGE_SELF, &ru);
	if ((f = fopen("/proc/self/statm", "re")) != NULL) {
		if (fscanf(f, "%lu %lu", &size, &resident) != 2)
			resident = 0;
		fclose(f);
	}
	wire_msg_init(&m, buf, sizeof(buf), MSG_CTL_MASTER_INFO, WIRE_F_REPLY,
	    h->seq);
	wire_put_u32(&m, A_PID, (uint32_t)getpid());
	wire_put_u64(&m, A_UPTIME, (ev_now() - ctl_started) / 1000);
	wire_put_u64(&m, A_CPU_USER, (uint64_t)ru.ru_utime.tv_sec * 1000000 +
	    (uint64_t)ru.ru_utime.tv_usec);
	wire_put_u64(&m, A_CPU_SYS, (uint64_t)ru.ru_stime.tv_sec * 1000000 +
	    (uint64_t)ru.ru_stime.tv_usec);
	wire_put_u64(&m, A_RSS, (uint64_t)resident *
	    (uint64_t)sysconf(_SC_PAGESIZE));
	wire_put_u32(&m, A_NUMNODES, (uint32_t)numnodes);
	wire_put_u32(&m, A_NPROCS, (uint32_t)proc_count());
	wire_put_u32(&m, A_COUNT, (uint32_t)nctls);
	wire_put_u32(&m, A_HEARTBEAT, conf.heartbeat_ms);
	wire_put_u32(&m, A_TIMEOUT, conf.timeout_ms);
	return ctl_send(cc, &m);
}

/* Permission rule for node attributes: root, or the node's owner. */
int
ctl_on_set(void *arg, const struct proto_frame *f)
{
	struct ctlconn	*cc = arg;
	const struct wire_hdr *h = f->h;
	struct wire_attr *tb = f->tb;
	unsigned char	 buf[512];
	struct wire_msg	 m;
	struct node	*n = NULL;
	const char	*why = NULL;
	uint32_t	 num = wire_get_u32(&tb[A_NODE]);
	uid_t		 uid = cc->cred.uid;
	int		 e = 0;

	if (num >= (uint32_t)numnodes) {
		e = ENODEV;
		why = "No such node";
		goto reply;
	}
	n = &nodes[num];
	if (tb[A_STATE].data) {
		if (node_set_state(n, wire_get_u8(&tb[A_STATE]), uid, &why) == -1)
			e = errno;
	} else if (tb[A_HOW].data) {
		if (node_power(n, wire_get_u8(&tb[A_HOW]), uid, &why) == -1)
			e = errno;
	} else if (tb[A_MODE].data) {
		uint32_t mode = wire_get_u32(&tb[A_MODE]);

		if (uid != 0 && uid != n->uid)
			e = EPERM;
		else if (mode > 07777)
			e = EINVAL;
		else {
			log_info("node %d: mode %04o -> %04o by uid %u", n->num,
			    n->mode, mode, (unsigned)uid);
			n->mode = mode;
		}
	} else if (tb[A_UID].data) {
		if (uid != 0)
			e = EPERM;
		else {
			n->uid = wire_get_u32(&tb[A_UID]);
			log_info("node %d: owner uid %u", n->num,
			    (unsigned)n->uid);
		}
	} else if (tb[A_GID].data) {
		if (uid != 0 && uid != n->uid)
			e = EPERM;
		else {
			n->gid = wire_get_u32(&tb[A_GID]);
			log_info("node %d: group gid %u", n->num,
			    (unsigned)n->gid);
		}
	} else {
		e = EINVAL;
		why = "nothing to set";
	}
	if (e == 0) {
		ctl_notify();
		/* owners, modes and admin states outlive the master */
		if (!tb[A_HOW].data && ctl_proc_hooks->settings != NULL)
			ctl_proc_hooks->settings();
	}
reply:
	wire_msg_init(&m, buf, sizeof(buf), MSG_CTL_RESULT, WIRE_F_REPLY,
	    h->seq);
	wire_put_u32(&m, A_NODE, num);
	wire_put_u32(&m, A_ERRNO, (uint32_t)e);
	if (why != NULL)
		wire_put_str(&m, A_MSG, why);
	return ctl_send(cc, &m);
}

/* bpctl --power: the node's BMC (power.c) answers when ipmitool is done. */
int
ctl_on_power(void *arg, const struct proto_frame *f)
{
	struct ctlconn	*cc = arg;

	power_request(cc, cc->cred.uid, f->h->seq, f->tb);
	return 0;
}
