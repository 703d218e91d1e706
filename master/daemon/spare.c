/*
 * Spare child ghosts: a ghost whose process has forked on the node once
 * keeps one child ghost forked ahead, idle, introduced and checked, so
 * that the next fork on the node needs only our answer (node -> master ->
 * node) instead of the parent ghost's fork and the child's hello on the
 * clone's critical path (node -> master -> parent ghost -> child ghost ->
 * master -> node).  tree.c asks the parent's ghost for a spare as for any
 * child ghost (MSG_FORK, flagged FORK_F_SPARE) and hands the hello's
 * socket to us; here it waits until the next fork takes it, or until its
 * parent goes, when we close the socket and the spare, seeing the end of
 * its connection before it was taken, exits without a word.
 * docs/design-notes.md "The process tree" says what it costs.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bpmaster.h"
#include "list.h"
#include "log.h"

struct spare {
	pid_t		 parent;	/* the parent's ghost */
	int		 node;
	int		 fd;		/* our end of the spare's socket */
	int		 pidfd;		/* the spare, checked (trace_check_ghost) */
	struct ucred	 cred;		/* from its hello: its PID and uid */
	DLIST_LINK(spare) link;	/* spares */
};

static DLIST_HEAD(spares, spare) spares;

static void
spare_free(struct spare *s, int kill_it)
{
	DLIST_REMOVE(s, link);
	if (s->fd >= 0) {
		ev_del(s->fd);
		close(s->fd);
	}
	if (s->pidfd >= 0) {
		/* a move home must find no stranger among its children */
		if (kill_it)
			syscall(SYS_pidfd_send_signal, s->pidfd, SIGKILL, NULL, 0);
		close(s->pidfd);
	}
	free(s);
}

static struct spare *
spare_find(pid_t parent)
{
	struct spare	*s;

	DLIST_FOREACH(s, &spares, link)
		if (s->parent == parent)
			return s;
	return NULL;
}

/* A spare says nothing after its hello: anything is its end. */
static void
spare_event(int fd, uint32_t events, void *arg)
{
	struct spare	*s = arg;
	char		 c;

	(void)events;
	if (recv(fd, &c, 1, MSG_DONTWAIT | MSG_PEEK) == -1 &&
	    (errno == EAGAIN || errno == EINTR))
		return;
	log_debug("ghost %d: its spare %d went", (int)s->parent,
	    (int)s->cred.pid);
	spare_free(s, 0);
}

int
spare_have(pid_t parent)
{
	return spare_find(parent) != NULL;
}

/*
 * Keep the introduced spare of p on fd (the hello taken already): check
 * it as a ghost now, off any clone's path.  The fd is ours either way.
 */
void
spare_keep(struct proc *p, int fd, const struct ucred *cred)
{
	struct spare	*s;
	const char	*why = "out of memory";
	int		 pidfd = -1;

	if (spare_find(p->pid) != NULL ||
	    (pidfd = trace_check_ghost(cred->pid, cred->uid, fd, &why)) == -1 ||
	    (s = calloc(1, sizeof(*s))) == NULL) {
		if (why != NULL && spare_find(p->pid) == NULL)
			log_warnx_rl("ghost %d: spare %d refused: %s",
			    (int)p->pid, (int)cred->pid, why);
		if (pidfd >= 0)
			close(pidfd);
		close(fd);
		return;
	}
	s->parent = p->pid;
	s->node = p->node;
	s->fd = fd;
	s->pidfd = pidfd;
	s->cred = *cred;
	if (ev_add(fd, EPOLLIN, spare_event, s) == -1) {
		s->fd = -1;
		close(fd);
		close(pidfd);
		free(s);
		return;
	}
	DLIST_INSERT_HEAD(&spares, s, link);
	log_debug("ghost %d: spare %d ready", (int)p->pid, (int)cred->pid);
}

/*
 * The spare of p for a fork on p's node, if one is there and alive:
 * its socket, credentials and checked pidfd become the caller's.
 */
int
spare_take(struct proc *p, int *fd, struct ucred *cred, int *pidfd)
{
	struct spare	*s = spare_find(p->pid);

	if (s == NULL)
		return -1;
	if (s->node != p->node || proc_find(s->cred.pid) != NULL ||
	    syscall(SYS_pidfd_send_signal, s->pidfd, 0, NULL, 0) == -1) {
		spare_free(s, 1);
		return -1;
	}
	ev_del(s->fd);
	*fd = s->fd;
	*cred = s->cred;
	*pidfd = s->pidfd;
	s->fd = s->pidfd = -1;
	spare_free(s, 0);
	return 0;
}

/*
 * p's spare goes: closed, so it ends by itself; killed too when kill_it
 * (p comes home: its ghost becomes the process).  Its PID, 0 if none.
 */
pid_t
spare_drop(pid_t parent, int kill_it)
{
	struct spare	*s = spare_find(parent);
	pid_t		 pid;

	if (s == NULL)
		return 0;
	pid = s->cred.pid;
	spare_free(s, kill_it);
	return pid;
}
