/*
 * The control socket itself: tools connect here, and the master makes a
 * ghost's connection of a socketpair (ctl_adopt).  Callers are identified
 * by SO_PEERCRED at accept time, and admitted by ctl_users.c's rules.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctlconn.h"
#include "log.h"

static int		 ctl_fd = -1;
static struct ev_listener ctl_listener;

/*
 * A ghost's connection that the master made itself: the socketpair of a
 * ghost forked for a process forked on a node (tree.c), already p's.  It
 * counts against its uid like any ghost; it is checked and traced as
 * MSG_GHOST's are (the kernel gave us its credentials with its hello),
 * unless checked is the pidfd of that check done already (a spare child
 * ghost's, spare.c; ours on success), not -1.
 */
struct ctlconn *
ctl_adopt(int fd, const struct ucred *cred, struct proc *p, int checked)
{
	struct ctlconn	*cc;
	const char	*why = NULL;
	char		 peer[64];
	int		 pidfd;

	if (ctl_admit(cred->uid) != NULL)
		return NULL;
	if ((cc = calloc(1, sizeof(*cc))) == NULL ||
	    (cc->user = ctl_user_get(cred->uid, 1)) == NULL) {
		free(cc);
		return NULL;
	}
	cc->cred = *cred;
	cc->pidfd = -1;
	cc->kind = CTL_GHOST;
	snprintf(peer, sizeof(peer), "uid %u pid %d", (unsigned)cred->uid,
	    (int)cred->pid);
	conn_init(&cc->c, fd, peer, WIRE_MAX_FRAME, MASTER_CTL_OUTMAX);
	if (ev_add(fd, EPOLLIN, ctl_event, cc) == -1) {
		conn_free(&cc->c);
		ctl_user_put(cc->user);
		free(cc);
		return NULL;
	}
	cc->user->n[CTL_GHOST]++;
	cc->user->fds++;
	DLIST_INSERT_HEAD(&ctls, cc, all);
	nctls++;
	nctl_fds++;
	cc->proc = p;
	cc->pushed = 1;
	p->ghost = cc;
	p->pidfd = -1;
	/* a spare child ghost (spare.c) was checked while it waited */
	if ((pidfd = checked) >= 0 ||
	    (pidfd = ctl_proc_hooks->check_ghost(cred->pid, cred->uid, fd,
	    &why)) != -1) {
		cc->pidfd = pidfd;
		cc->user->fds++;
		nctl_fds++;
		ctl_proc_hooks->ghost(p, pidfd);
	} else if (why != NULL)
		log_warnx_rl("control: child ghost %d: %s; untraced",
		    (int)cred->pid, why);
	return cc;
}

static void
ctl_accept(int fd, uint32_t events, void *arg)
{
	struct ctlconn	*cc;
	socklen_t	 len;
	char		 peer[64];
	int		 s;

	struct ucred	 cred;
	const char	*no;

	(void)events;
	(void)arg;
	if ((s = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1) {
		if (ev_out_of_fds(errno)) {
			log_warnx_rl("control accept: %s; not accepting for "
			    "%d ms", strerror(errno), MASTER_CTL_BACKOFF_MS);
			ev_listener_rest(&ctl_listener, MASTER_CTL_BACKOFF_MS);
		} else if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warn_rl("control accept");
		return;
	}
	len = sizeof(cred);
	if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		log_warn_rl("control: SO_PEERCRED");
		close(s);
		return;
	}
	if ((no = ctl_admit(cred.uid)) != NULL) {
		struct ctluser	*top = ctl_user_top(), *u;

		u = ctl_user_get(cred.uid, 0);
		log_warnx_rl("control: uid %u pid %d refused: %s (it holds %d "
		    "of %d; uid %u holds the most, %d)", (unsigned)cred.uid,
		    (int)cred.pid, no, u ? u->fds : 0, ctl_fd_slots(),
		    top ? (unsigned)top->uid : 0u, top ? top->fds : 0);
		close(s);
		return;
	}
	if ((cc = calloc(1, sizeof(*cc))) == NULL ||
	    (cc->user = ctl_user_get(cred.uid, 1)) == NULL) {
		free(cc);
		close(s);
		return;
	}
	cc->cred = cred;
	cc->pidfd = -1;
	cc->kind = CTL_TOOL;
	snprintf(peer, sizeof(peer), "uid %u pid %d", (unsigned)cc->cred.uid,
	    (int)cc->cred.pid);
	conn_init(&cc->c, s, peer, WIRE_MAX_FRAME, MASTER_CTL_OUTMAX);
	if (ev_add(s, EPOLLIN, ctl_event, cc) == -1) {
		conn_free(&cc->c);
		ctl_user_put(cc->user);
		free(cc);
		return;
	}
	cc->user->n[CTL_TOOL]++;
	cc->user->fds++;
	DLIST_INSERT_HEAD(&ctls, cc, all);
	nctls++;
	nctl_fds++;
	ev_timer_set(&cc->idle, MASTER_CTL_IDLE_MS, ctl_idle, cc);
}

int
ctl_listen(const struct ctl_hooks *h)
{
	struct sockaddr_un	sun;
	char			dir[sizeof(sun.sun_path)], *slash;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(conf.control) >= sizeof(sun.sun_path)) {
		log_warnx("control socket path too long");
		return -1;
	}
	strcpy(sun.sun_path, conf.control);
	strcpy(dir, conf.control);
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) == -1 && errno != EEXIST)
			log_warn("mkdir %s", dir);
	}
	ctl_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ctl_fd == -1)
		return -1;
	unlink(conf.control);
	if (bind(ctl_fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    chmod(conf.control, 0666) == -1 || listen(ctl_fd, 64) == -1) {
		log_warn("control socket %s", conf.control);
		return -1;
	}
	ctl_proc_hooks = h;
	ctl_table = &ctl_role;
	ctl_started = ev_now();
	if (ev_after(ctl_reap) == -1)
		return -1;
	return ev_listener_init(&ctl_listener, ctl_fd, ctl_accept, NULL);
}

void
ctl_shutdown(void)
{
	while (!DLIST_EMPTY(&ctls))
		ctl_close(DLIST_FIRST(&ctls));
	if (ctl_fd != -1) {
		close(ctl_fd);
		unlink(conf.control);
	}
}
