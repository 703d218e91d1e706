/*
 * ghost_tree.c: the ghost's share of the process tree.  A fork on the
 * node is a fork here (ghost_fork), a spare child waits for the next
 * one, an exec shows its argv (ghost_args.c), setsid and setpgid are done
 * here too (ghost_pgrp), and a child ghost that ended or stopped is news
 * for the node (ghost_child_ended).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "ghost.h"
#include "proto.h"

/*
 * A child ghost we reaped, and how it ended, or one that stopped:
 * bpmaster tells a stand-in of it on the node (an rfork from there,
 * docs/design-notes.md "Migration"), where the child may have been the
 * process itself, at home; of any other child it takes no notice.
 */
void
ghost_child_ended(pid_t pid, int status)
{
	unsigned char	buf[64];
	struct wire_msg	m;

	if (ghost_self.away)
		return;
	wire_msg_init(&m, buf, sizeof(buf), MSG_STANDIN, 0, 0);
	wire_put_u32(&m, A_PID, (uint32_t)pid);
	wire_put_u32(&m, A_STATUS, (uint32_t)status);
	ghost_send(&m);
}

/*
 * The node's process forked: so do we, and the child is its ghost, on
 * the socket the master sent along.  It tells the master it is there;
 * the kernel adds who it is.
 */
static void
ghost_fork(struct wire_attr *tb)
{
	unsigned char	buf[64];
	struct wire_msg	m;
	pid_t		pid;
	int		fd, e;

	if (!tb[A_TOKEN].data || (fd = conn_take_fd()) == -1)
		return;
	if ((pid = fork()) == -1) {
		e = errno;
		close(fd);
		wire_msg_init(&m, buf, sizeof(buf), MSG_FORK_RESULT, 0, 0);
		wire_put_u64(&m, A_TOKEN, wire_get_u64(&tb[A_TOKEN]));
		wire_put_u32(&m, A_ERRNO, (uint32_t)e);
		ghost_send(&m);
		return;
	}
	if (pid > 0) {
		close(fd);
		return;
	}
	/* the child: the parent's connection, input and terminal are not ours */
	close(ghost_fd);
	conn_drop_fds();
	ghost_fd = fd;
	fcntl(ghost_fd, F_SETFL, O_NONBLOCK);
	conn_reset();
	ghost_self.is_child = 1;
	stream_child_reset();
	tty_mode = 0;
	term_raw = 0;
	/* a spare (spare.c) waits for the node's next fork to take it */
	ghost_self.spare = tb[A_FLAGS].data &&
	    (wire_get_u32(&tb[A_FLAGS]) & FORK_F_SPARE) != 0;
	wire_msg_init(&m, buf, sizeof(buf), MSG_FORK_HELLO, 0, 0);
	wire_put_u64(&m, A_TOKEN, wire_get_u64(&tb[A_TOKEN]));
	ghost_send(&m);
}

/*
 * The process exec'd: show its new argv as ours (ps reads
 * /proc/PID/cmdline), and its name as our comm (ghost_args.c).
 */
static void
ghost_execed(const unsigned char *body, size_t blen)
{
	static char		 words[GHOST_ARGS_MAX];
	struct wire_iter	 it;
	struct wire_attr	 a;
	const char		*base;
	size_t			 off = 0;

	wire_iter_init(&it, body, blen);
	while (wire_iter_next(&it, &a) == 1) {
		if (a.type != A_ARG || !proto_attr_ok(&a))
			continue;
		if (off + a.len > sizeof(words))
			break;
		memcpy(words + off, a.data, a.len);
		off += a.len;
	}
	if (off == 0)
		return;
	args_set(words, off);
	base = strrchr(words, '/') ? strrchr(words, '/') + 1 : words;
	prctl(PR_SET_NAME, base, 0, 0, 0);
}

/*
 * The process called setsid or setpgid on the node: the same relation
 * here, named by ghost PIDs (the master checked they are its node's).
 * The node's first session (top's, which nodeinit made) is the caller's
 * session here, and top's group the caller's job: the group our first
 * ghost is in.  What the kernel refuses here (a group of another session,
 * a leader gone) stays as it was.
 */
static void
ghost_pgrp(struct wire_attr *tb)
{
	pid_t	me = getpid(), sid, pg, top;

	sid = tb[A_SID].data ? (pid_t)wire_get_u32(&tb[A_SID]) : 0;
	pg = tb[A_PGID].data ? (pid_t)wire_get_u32(&tb[A_PGID]) : 0;
	top = tb[A_PPID].data ? (pid_t)wire_get_u32(&tb[A_PPID]) : 0;
	if (sid == me) {
		if (getsid(0) != me)
			(void)setsid();
		return;
	}
	if (pg == 0)
		return;
	if (pg == top && sid == top)
		pg = getpgid(top);
	if (pg == me)
		(void)setpgid(0, 0);
	else if (pg > 0 && pg != getpgrp())
		(void)setpgid(0, pg);
}

int
ghost_on_fork(void *arg, const struct proto_frame *f)
{
	(void)arg;
	ghost_fork(f->tb);
	return 0;
}

int
ghost_on_pgrp(void *arg, const struct proto_frame *f)
{
	(void)arg;
	ghost_pgrp(f->tb);
	return 0;
}

int
ghost_on_execed(void *arg, const struct proto_frame *f)
{
	(void)arg;
	ghost_execed(f->body, f->len);
	return 0;
}

