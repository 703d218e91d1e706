/*
 * kill(2) from a node of a PID that is not on it (nodeinit/sigfwd.c):
 * the node asks us, naming the sender by its ghost, and the sender waits
 * in its stop for our errno.
 *
 * Every PID of the cluster's process space is a front-end PID: a remote
 * process's is its ghost's, and the rest (a bpsh's caller, the parent of
 * a bproc_rfork'ed child) are plain front-end processes.  So the signal
 * goes to the front-end process of that PID, through a pidfd: a ghost
 * forwards what it gets to its remote process exactly as when a user on
 * the front end signals it (SIGSTOP through trace.c, SIGKILL as the
 * ghost's end, a node away as the ghost's queue), and a plain process
 * simply gets it.
 *
 * We are root, so the kernel would let anything through: the permission
 * check is ours, the kernel's rule for the sender's uid.  That uid is the
 * one our record of the sender holds (the uid its EXEC ran as); the node
 * also says what uid the process has now, and both must pass, so a node
 * cannot raise a sender's rights and a process that dropped root on its
 * node does not keep root's.  Root may signal any process; anyone else
 * one whose real or saved uid is theirs.  bpmaster itself is not part of
 * the process space.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bpmaster.h"
#include "log.h"

#define NODEKILL_NSIG	64	/* the kernel's _NSIG */

static void
nodekill_reply(struct node *n, uint32_t seq, int err)
{
	unsigned char	buf[64];
	struct wire_msg	m;

	wire_msg_init(&m, buf, sizeof(buf), MSG_KILL_RESULT, WIRE_F_REPLY, seq);
	wire_put_u32(&m, A_ERRNO, (uint32_t)err);
	node_send(n, &m);
}

/* The real and saved uids of a front-end process; -1 if it is gone. */
static int
nodekill_uids(pid_t pid, uid_t *ruid, uid_t *suid)
{
	char		 path[64], line[256], *p, *end;
	unsigned long	 v[3];
	FILE		*f;
	int		 i, ok = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "Uid:", 4) != 0)
			continue;
		for (i = 0, p = line + 4; i < 3; i++, p = end) {
			v[i] = strtoul(p, &end, 10);
			if (end == p)
				break;
		}
		if (i == 3) {
			*ruid = (uid_t)v[0];
			*suid = (uid_t)v[2];
			ok = 0;
		}
		break;
	}
	fclose(f);
	return ok;
}

/* The kernel's kill_ok_by_cred, for a sender of one uid. */
static int
nodekill_may(uid_t uid, uid_t ruid, uid_t suid)
{
	return uid == 0 || uid == ruid || uid == suid;
}

/*
 * A kill's signal comes from us (SI_USER, our PID: the kernel lets no one
 * write an SI_USER siginfo for another process); a sigqueue's is the
 * sender's own: SI_QUEUE, its value, and as si_pid and si_uid the
 * sender's ghost and uid, what it would be in one machine.
 */
static int
nodekill_send(int pidfd, int sig, const struct proc *sender,
    const struct wire_attr *tb)
{
	siginfo_t	si;

	if (!tb[A_SIGVAL].data || sig == 0)
		return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
	memset(&si, 0, sizeof(si));
	si.si_signo = sig;
	si.si_code = SI_QUEUE;
	si.si_pid = sender->pid;
	si.si_uid = sender->uid;
	si.si_value.sival_ptr = (void *)(uintptr_t)wire_get_u64(&tb[A_SIGVAL]);
	return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, &si, 0);
}

/* MSG_KILL: the node's claim checked, the signal sent, the errno back. */
int
nodekill_from_node(struct node *n, const struct proto_frame *f)
{
	struct wire_attr *tb = f->tb;
	struct proc	*sender;
	pid_t		 spid, target;
	uid_t		 ruid, suid, nuid;
	int		 sig, pidfd, err = 0;

	spid = (pid_t)wire_get_u32(&tb[A_PID]);
	sig = (int)wire_get_u32(&tb[A_SIG]);
	if (!tb[A_TARGET].data) {
		nodekill_reply(n, f->h->seq, EINVAL);
		return 0;
	}
	target = (pid_t)wire_get_u32(&tb[A_TARGET]);
	/* the sender is a process of this node, or the node says nothing */
	if ((sender = proc_find(spid)) == NULL || sender->node != n->num) {
		log_debug("node %d: kill by %d, not a process of it", n->num,
		    (int)spid);
		nodekill_reply(n, f->h->seq, ESRCH);
		return 0;
	}
	nuid = tb[A_UID].data ? (uid_t)wire_get_u32(&tb[A_UID]) : sender->uid;
	if (target <= 0 || sig < 0 || sig > NODEKILL_NSIG) {
		nodekill_reply(n, f->h->seq, EINVAL);
		return 0;
	}
	if (target == getpid()) {
		nodekill_reply(n, f->h->seq, EPERM);
		return 0;
	}
	/*
	 * The pidfd first, the uids then, the signal through the pidfd: if
	 * the PID was reused between the first two, the pidfd's process is
	 * gone and the send fails ESRCH, never reaching the newcomer.
	 */
	if ((pidfd = (int)syscall(SYS_pidfd_open, target, 0)) == -1) {
		nodekill_reply(n, f->h->seq, ESRCH);
		return 0;
	}
	if (nodekill_uids(target, &ruid, &suid) == -1)
		err = ESRCH;
	else if (!nodekill_may(sender->uid, ruid, suid) ||
	    !nodekill_may(nuid, ruid, suid))
		err = EPERM;
	else if (nodekill_send(pidfd, sig, sender, tb) == -1)
		err = errno;
	close(pidfd);
	log_debug("node %d: kill(%d, %d) by %d (uid %u/%u): %s", n->num,
	    (int)target, sig, (int)spid, (unsigned)sender->uid, (unsigned)nuid,
	    err ? strerror(err) : "sent");
	nodekill_reply(n, f->h->seq, err);
	return 0;
}
