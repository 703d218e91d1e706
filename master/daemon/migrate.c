/*
 * Migration on the master: the image of a process that moves to a node
 * (MSG_IMAGE, after the EXEC with EXEC_F_IMAGE started bprestore there)
 * is relayed from its would-be ghost to the node as it comes, like a
 * blob: the same frame bounds, the same back-pressure (ctl.c stops
 * reading a ghost while its node's link holds more than MASTER_LINK_HIGH).
 * The node's verdict (MSG_IMAGE_RESULT) goes back through proc.c like any
 * report about the process.  The manifest of the image's files was
 * checked in proc_exec like any other (verify.c).
 */
#include <string.h>

#include "bpmaster.h"
#include "log.h"

/* -1 when the frame cannot be relayed (too large): the caller closes it. */
int
migrate_from_ghost(struct proc *p, const struct wire_hdr *h,
    struct wire_attr *tb, const unsigned char *body, size_t blen)
{
	static unsigned char	 buf[BLOB_FRAME];
	struct wire_msg		 m;
	struct wire_iter	 it;
	struct wire_attr	 a;
	struct node		*n = &nodes[p->node];
	size_t			 data = 0, pieces = 0;

	(void)h;
	/* only for a started process, and never once it has ended */
	if (!p->started || p->exited || n->link == NULL)
		return 0;
	wire_msg_init(&m, buf, sizeof(buf), MSG_IMAGE, 0, 0);
	wire_put_u32(&m, A_PID, (uint32_t)p->pid);
	wire_iter_init(&it, body, blen);
	while (wire_iter_next(&it, &a) == 1) {
		if (a.type != A_DATA || a.len == 0)
			continue;
		data += a.len;
		if (data > BLOB_CHUNK || ++pieces > BLOB_PIECES)
			return -1;
		wire_put(&m, A_DATA, a.data, a.len);
	}
	if (tb[A_EOF].data) {
		wire_put_u8(&m, A_EOF, 1);
		log_debug("process %d: image sent on to node %d", (int)p->pid,
		    p->node);
	}
	if (m.overflow)
		return -1;
	n->push_bytes += data;
	node_send(n, &m);
	return 0;
}
