/*
 * Migration on the master (docs/design-notes.md, "Migration").
 *
 * Out to a node: the tool's EXEC with EXEC_F_IMAGE went through proc_exec
 * like any (its manifest, the image's files, checked by verify.c); once
 * the node started bprestore and answered, the image (MSG_IMAGE) is
 * relayed to the node as it comes, like a blob: the same frame bounds,
 * the same back-pressure (ctl.c stops reading a ghost while its node's
 * link holds more than MASTER_LINK_HIGH).  The node's verdict
 * (MSG_IMAGE_RESULT) goes back through proc.c like any report.
 *
 * Home from a node: the node says MSG_MOVE for one of its processes; we
 * tell its ghost, which becomes the process by running bprestore on the
 * image that follows (node -> us -> ghost, in frames the ghost's buffer
 * takes, within a window the ghost acknowledges: MSG_IMAGE_ACK goes back
 * to the node).  The ghost's MSG_IMAGE_RESULT goes to the node too; when
 * it took the image, the record goes: the process is a local one again,
 * and what the node says of its old copy is no one's business.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bpmaster.h"
#include "log.h"

/* Copy a frame's attributes, with our A_PID first. */
static int
mig_copy(struct wire_msg *m, uint16_t type, pid_t pid,
    const unsigned char *body, size_t blen, size_t maxdata)
{
	struct wire_iter	it;
	struct wire_attr	a;
	size_t			data = 0, pieces = 0;

	wire_msg_init(m, m->buf, m->cap, type, 0, 0);
	wire_put_u32(m, A_PID, (uint32_t)pid);
	wire_iter_init(&it, body, blen);
	while (wire_iter_next(&it, &a) == 1) {
		if (a.type == A_PID || !proto_attr_ok(&a))
			continue;
		if (a.type == A_DATA) {
			data += a.len;
			if (data > maxdata || ++pieces > BLOB_PIECES)
				return -1;
		}
		wire_put(m, a.type, a.data, a.len);
	}
	return m->overflow ? -1 : (int)data;
}

static void
mig_node_result(struct node *n, pid_t pid, int e, const char *msg)
{
	unsigned char	buf[256];
	struct wire_msg	m;

	wire_msg_init(&m, buf, sizeof(buf), MSG_IMAGE_RESULT, 0, 0);
	wire_put_u32(&m, A_PID, (uint32_t)pid);
	wire_put_u32(&m, A_ERRNO, (uint32_t)e);
	wire_put_str(&m, A_MSG, msg);
	node_send(n, &m);
}

static void
mig_home_done(struct proc *p)
{
	log_info("process %d came home from node %d", (int)p->pid, p->node);
	standin_came_home(p);
	proc_came_home(p);
}

/*
 * The ghost's PID itself asks for something a ghost never asks (proc.c:
 * an EXEC): the image runs, at home, before the feeder's word came.  The
 * node's copy hears it now; the feeder's word, later, finds no one.
 */
void
migrate_home_seen(struct proc *p)
{
	if (!p->home)
		return;
	if (nodes[p->node].link != NULL)
		mig_node_result(&nodes[p->node], p->pid, 0, "home");
	mig_home_done(p);
}

/*
 * The ghost's connection closed during a move home.  Its restorer keeps
 * that connection for its fallback (the ghost again) unless it took the
 * image, so when the ghost's PID still runs, not a zombie, the process
 * runs at home: the same as its feeder's word, which did not come first
 * (a stand-in on the node must not be killed for it).  1 when so.
 */
int
migrate_ghost_gone(struct proc *p)
{
	char	 path[64], buf[512], *e;
	FILE	*f;
	int	 alive = 0;

	if (!p->home || p->exited)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)p->pid);
	if ((f = fopen(path, "re")) != NULL) {
		if (fgets(buf, sizeof(buf), f) != NULL &&
		    (e = strrchr(buf, ')')) != NULL && e[1] == ' ' &&
		    e[2] != 'Z' && e[2] != 'X')
			alive = 1;
		fclose(f);
	}
	if (!alive)
		return 0;
	log_debug("process %d: its ghost's connection closed during its move "
	    "home, and it runs: it is home", (int)p->pid);
	migrate_home_seen(p);
	return 1;
}

/* -1 when the frame cannot be relayed (too large): the caller closes it. */
int
migrate_from_ghost(struct proc *p, const struct wire_hdr *h,
    struct wire_attr *tb, const unsigned char *body, size_t blen)
{
	static unsigned char	 buf[BLOB_FRAME];
	struct wire_msg		 m = { .buf = buf, .cap = sizeof(buf) };
	struct node		*n = &nodes[p->node];
	int			 data;

	if (p->exited || n->link == NULL)
		return 0;
	if (h->type == MSG_IMAGE) {
		/* out: only once the node's restorer runs, never coming home */
		if (!p->started || p->home)
			return 0;
		if ((data = mig_copy(&m, MSG_IMAGE, p->pid, body, blen,
		    BLOB_CHUNK)) == -1)
			return -1;
		n->push_bytes += (uint64_t)data;
		if (tb[A_EOF].data)
			log_debug("process %d: image sent on to node %d",
			    (int)p->pid, p->node);
		node_send(n, &m);
		return 0;
	}
	/* home: the ghost's window and verdict, for the node's sender */
	if (!p->home || mig_copy(&m, h->type, p->pid, body, blen, 0) == -1)
		return 0;
	node_send(n, &m);
	if (h->type == MSG_IMAGE_RESULT) {
		if (wire_get_u32(&tb[A_ERRNO]) != 0) {
			log_warnx("process %d: its ghost refused its image "
			    "from node %d", (int)p->pid, p->node);
			p->home = 0;
			standin_move_failed(p->pid);
			return 0;
		}
		mig_home_done(p);
	}
	return 0;
}

int
migrate_from_node(struct node *n, struct proc *p, const struct wire_hdr *h,
    struct wire_attr *tb, const unsigned char *body, size_t blen)
{
	static unsigned char	 buf[IO_CHUNK + 1024];
	struct wire_msg		 m = { .buf = buf, .cap = sizeof(buf) };
	pid_t			 spare;

	if (h->type == MSG_MOVE) {
		/* only a checked, traced ghost may become its process */
		if (p->ghost == NULL || !p->started || p->exited ||
		    p->pidfd < 0 || p->home) {
			mig_node_result(n, p->pid, EBUSY, "bpmaster: this "
			    "process has no ghost that can take it");
			return 0;
		}
		/* its spare child ghost goes first (a new one: ask again) */
		if ((spare = tree_spare_home(p)) == -1) {
			mig_node_result(n, p->pid, EBUSY, "bpmaster: its ghost "
			    "is forking");
			return 0;
		}
		/* an rfork from the node: its copy there stays (standin.c) */
		if (tb[A_FLAGS].data &&
		    (wire_get_u32(&tb[A_FLAGS]) & MOVE_F_STANDIN) &&
		    standin_move(n, p, tb) == -1) {
			mig_node_result(n, p->pid, EINVAL, "bpmaster: no such "
			    "place to rfork to");
			return 0;
		}
		p->home = 1;
		wire_msg_init(&m, buf, sizeof(buf), MSG_MOVE, 0, 0);
		wire_put_u32(&m, A_PID, (uint32_t)p->pid);
		/* the ghost reaps it before it becomes the process */
		if (spare > 0)
			wire_put_u32(&m, A_RPID, (uint32_t)spare);
		ctl_send_msg(p->ghost, &m);
		return 0;
	}
	/* the image home, in frames the ghost's buffer holds */
	if (!p->home || p->ghost == NULL ||
	    mig_copy(&m, MSG_IMAGE, p->pid, body, blen, IO_CHUNK) == -1)
		return 0;
	ctl_send_msg(p->ghost, &m);
	return 0;
}
