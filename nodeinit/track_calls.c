/*
 * The calls the filter stops other than a clone's: getppid() of a
 * process nodeinit started answers its ghost's parent, kill() and
 * rt_sigqueueinfo() of one PID go to sigfwd.c (it may be elsewhere), and
 * setsid() and setpgid() are reported where they leave the process, for
 * its ghost to follow.  A clone's stop is queued (track_fork.c).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>

#include <linux/audit.h>
#include <linux/sched.h>

#include "nodeinit_int.h"
#include "track_int.h"

/*
 * A process nodeinit started has nodeinit for its parent here; in the
 * process space its parent is its ghost's.  Anyone else's parent is a
 * process of this node, as the kernel says.
 */
static void
track_call_getppid(struct ttask *t)
{
	pid_t	pp = tt_leader(t)->gpid == tt_leader(t)->top &&
	    track_hooks.fe_ppid != NULL ?
	    track_hooks.fe_ppid(tt_leader(t)->gpid) : 0;

	if (pp <= 0 || track_skip_call(t->tid, pp) == -1)
		ptrace(PTRACE_CONT, t->tid, NULL, NULL);
}

/* setsid or setpgid: what it did is known at its exit, reported then */
static void
track_call_pgrp(struct ttask *t, const struct track_scinfo *si)
{
	t->pgof = si->seccomp.nr == __NR_setpgid || si->seccomp.nr == 57 ?
	    (pid_t)si->seccomp.args[0] : 0;
	if (t->pgof <= 0)
		t->pgof = t->tgid;
	if (ptrace(PTRACE_SYSCALL, t->tid, NULL, NULL) == -1)
		t->pgof = 0;
}

/* What a clone makes (its flags): 0, or -1 when it fails by itself. */
static int
track_clone_flags(struct ttask *t, const struct track_scinfo *si,
    uint64_t *flags)
{
	long	w;

	*flags = 0;
	if ((si->arch == AUDIT_ARCH_X86_64 && si->seccomp.nr == __NR_clone3) ||
	    (si->arch == AUDIT_ARCH_I386 && si->seccomp.nr == 435)) {
		errno = 0;
		w = ptrace(PTRACE_PEEKDATA, t->tid,
		    (void *)(uintptr_t)si->seccomp.args[0], NULL);
		if (w == -1 && errno != 0)
			return -1;	/* a bad pointer */
		*flags = (uint64_t)w;
	} else if ((si->arch == AUDIT_ARCH_X86_64 &&
	    si->seccomp.nr == __NR_clone) ||
	    (si->arch == AUDIT_ARCH_I386 && si->seccomp.nr == 120))
		*flags = si->seccomp.args[0];
	else if (si->seccomp.nr == __NR_vfork || si->seccomp.nr == 190)
		*flags = CLONE_VM | CLONE_VFORK;
	return 0;
}

/* A tracee at its seccomp stop: which call, and what becomes of it. */
void
track_seccomp(struct ttask *t)
{
	struct track_scinfo	si;
	uint64_t		flags;
	int			x64;

	memset(&si, 0, sizeof(si));
	if (ptrace(PTRACE_GET_SYSCALL_INFO, t->tid, (void *)sizeof(si), &si) <= 0 ||
	    si.op != TRACK_SCI_SECCOMP) {
		ptrace(PTRACE_CONT, t->tid, NULL, NULL);
		return;
	}
	si.seccomp.nr &= ~(uint64_t)0x40000000;	/* x32 */
	x64 = si.arch == AUDIT_ARCH_X86_64;
	if (si.seccomp.nr == (x64 ? __NR_getppid : 64))
		track_call_getppid(t);
	else if (x64 ? si.seccomp.nr == __NR_kill ||
	    si.seccomp.nr == __NR_rt_sigqueueinfo :
	    si.seccomp.nr == 37 || si.seccomp.nr == 178)
		sigfwd_stop(t->tid, tt_leader(t)->gpid, tt_leader(t)->paused,
		    x64 ?
		    (si.seccomp.nr == __NR_rt_sigqueueinfo ? SIGFWD_QUEUE64 : 0) :
		    (si.seccomp.nr == 178 ? SIGFWD_QUEUE32 : 0),
		    si.seccomp.args);
	else if (x64 ? si.seccomp.nr == __NR_setsid ||
	    si.seccomp.nr == __NR_setpgid :
	    si.seccomp.nr == 66 || si.seccomp.nr == 57)
		track_call_pgrp(t, &si);
	else if (track_clone_flags(t, &si, &flags) == -1)
		/* a bad pointer: the call fails by itself */
		ptrace(PTRACE_CONT, t->tid, NULL, NULL);
	else
		track_enqueue(t, flags);
}

/*
 * A setsid or setpgid returned: where its process is now, for its ghost
 * to follow (MSG_PGRP).  The first process of a session is left out: its
 * session is the one nodeinit made it, the caller's here.
 */
void
track_pgrp(struct ttask *t)
{
	unsigned char	 buf[96];
	struct wire_msg	 m;
	struct ttask	*p = tt_find(t->pgof);

	t->pgof = 0;
	if (p == NULL || !p->leader || p->gpid == p->top)
		return;
	wire_msg_init(&m, buf, sizeof(buf), MSG_PGRP, 0, 0);
	wire_put_u32(&m, A_PID, (uint32_t)p->gpid);
	wire_put_u32(&m, A_SID, (uint32_t)track_ghost_of(getsid(p->tid)));
	wire_put_u32(&m, A_PGID, (uint32_t)track_ghost_of(getpgid(p->tid)));
	wire_put_u32(&m, A_PPID, (uint32_t)p->top);
	link_send_msg(&m);
}
