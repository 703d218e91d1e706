/*
 * The control socket's process requests: EXEC and the process table, and
 * what a process's connection says once it is the ghost (bpghost) of a
 * remote process: its stdio, signals, blobs, images, the forks of its
 * process tree.
 */
#include <errno.h>

#include "ctlconn.h"
#include "log.h"

/*
 * MSG_GHOST: the client that sent EXEC says it is now bpghost.  Only a
 * process that is the installed bpghost, runs as the connection's uid and
 * holds this very connection is traced and signalled, through a pidfd
 * taken before those checks, so a PID reused since cannot be hit.
 */
static int
ctl_ghost(struct ctlconn *cc)
{
	unsigned char	 buf[256];
	struct wire_msg	 m;
	const char	*why = "no descriptors left";
	int		 pidfd = -1;

	if (nctl_fds + 1 <= ctl_fd_slots())
		pidfd = ctl_proc_hooks->check_ghost(cc->cred.pid, cc->cred.uid,
		    cc->c.fd, &why);
	if (pidfd == -1 && why == NULL) {
		/* it ended already: a ghost, untraced, until it closes */
		ctl_set_kind(cc, CTL_GHOST);
		ev_timer_del(&cc->idle);
		return 0;
	}
	if (pidfd == -1) {
		log_warnx_rl("control: uid %u pid %d: not the ghost: %s; "
		    "refused", (unsigned)cc->cred.uid, (int)cc->cred.pid, why);
		wire_msg_init(&m, buf, sizeof(buf), MSG_EXEC_RESULT,
		    WIRE_F_REPLY, 0);
		wire_put_u32(&m, A_PID, (uint32_t)cc->cred.pid);
		wire_put_u32(&m, A_ERRNO, EPERM);
		wire_put_str(&m, A_MSG, "bpmaster: this process is not "
		    "bpghost; refused as a ghost");
		ctl_send_msg(cc, &m);
		ctl_kill(cc, NULL);
		return -1;
	}
	cc->pidfd = pidfd;
	cc->user->fds++;
	nctl_fds++;
	ctl_set_kind(cc, CTL_GHOST);
	ev_timer_del(&cc->idle);
	ctl_proc_hooks->ghost(cc->proc, pidfd);
	return 0;
}

/* MSG_GHOST from a would-be ghost (a process that ended has none). */
int
ctl_on_ghost(void *arg, const struct proto_frame *f)
{
	struct ctlconn	*cc = arg;

	(void)f;
	if (cc->kind != CTL_EXEC) {
		log_warnx_rl("control: uid %u pid %d: unexpected GHOST frame; "
		    "closing", (unsigned)cc->cred.uid, (int)cc->cred.pid);
		ctl_kill(cc, NULL);
		return -1;
	}
	return cc->proc != NULL ? ctl_ghost(cc) : 0;
}

int
ctl_on_exec(void *arg, const struct proto_frame *f)
{
	struct ctlconn	*cc = arg;

	ctl_proc_hooks->exec(cc, &cc->cred, f);
	return 0;
}

int
ctl_on_procs(void *arg, const struct proto_frame *f)
{
	ctl_proc_hooks->procs(arg, f->h->seq);
	return 0;
}

/* A ghost speaks only of its own process. */
int
ctl_on_proc(void *arg, const struct proto_frame *f)
{
	struct ctlconn	*cc = arg;

	if (ctl_proc_hooks->from_ghost(cc->proc, f) == -1) {
		log_warnx_rl("control: uid %u pid %d: %s frame too large to "
		    "relay; closing", (unsigned)cc->cred.uid, (int)cc->cred.pid,
		    msg_name(f->h->type));
		ctl_kill(cc, NULL);
		return -1;
	}
	return 0;
}

/* A child ghost could not fork (tree.c). */
int
ctl_on_fork_result(void *arg, const struct proto_frame *f)
{
	struct ctlconn	*cc = arg;

	ctl_proc_hooks->fork_result(cc->proc, f->tb);
	return 0;
}

/*
 * The tool streams blobs without reading; when its process ended
 * meanwhile (its node went down), what is still on the way is dropped,
 * so the tool reads the reason instead of a closed socket.
 */
int
ctl_on_blob(void *arg, const struct proto_frame *f)
{
	struct ctlconn	*cc = arg;

	return cc->proc != NULL ? ctl_on_proc(cc, f) : 0;
}

/*
 * An rfork from a node (standin.c): a child at home says its second hop
 * failed (a tool's connection: answered), or a ghost says it reaped a
 * child ghost (never answered: a ghost takes no MSG_STANDIN).
 */
int
ctl_on_standin(void *arg, const struct proto_frame *f)
{
	struct ctlconn	*cc = arg;

	if (ctl_proc_hooks->standin != NULL)
		ctl_proc_hooks->standin(cc, &cc->cred, cc->kind != CTL_TOOL ||
		    cc->proc != NULL || cc->pushed, f->tb);
	return 0;
}

/* A ghost of the master before us, on a new connection (rejoin.c). */
int
ctl_on_ghost_rejoin(void *arg, const struct proto_frame *f)
{
	struct ctlconn	*cc = arg;

	if (ctl_proc_hooks->rejoin == NULL || cc->kind != CTL_TOOL) {
		ctl_kill(cc, NULL);
		return -1;
	}
	return ctl_proc_hooks->rejoin(cc, &cc->cred, cc->c.fd, f->tb);
}

/*
 * A ghost of the master before us, checked (rejoin.c, trace_check_ghost's
 * pidfd): from now on p's ghost, as MSG_GHOST makes one.
 */
void
ctl_ghost_rejoined(struct ctlconn *cc, struct proc *p, int pidfd)
{
	ctl_set_proc(cc, p);
	p->ghost = cc;
	cc->pidfd = pidfd;
	cc->user->fds++;
	nctl_fds++;
	ctl_set_kind(cc, CTL_GHOST);
	ev_timer_del(&cc->idle);
	ctl_proc_hooks->ghost(p, pidfd);
}
