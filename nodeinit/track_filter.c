/*
 * The seccomp filter every remote process and its descendants run under,
 * taken by the child before its exec once nodeinit has seized it, and the
 * skipping of a call a tracee is stopped in.  No state of its own.
 */
#include <errno.h>
#include <stddef.h>
#include <unistd.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/sched.h>
#include <linux/seccomp.h>

#include "nodeinit_int.h"

/*
 * The filter every remote process and its descendants run under: the
 * calls that make a process stop for us (and setsid and setpgid, whose
 * outcome its ghost mirrors, kill and rt_sigqueueinfo of one positive
 * PID, which may name a process elsewhere: sigfwd.c, and getppid, whose
 * answer for a process nodeinit started is its ghost's parent), nothing
 * else does.  A clone(2) with CLONE_THREAD runs through (its flags are
 * its first argument); clone3's are in memory, where a filter cannot
 * look, so it always stops.  32-bit and x32 calls of the same kinds stop
 * the same way (x32's rt_sigqueueinfo has a number of its own, 524, and
 * runs through: it stays local).
 *
 * Jumps are relative in BPF; each line below names its own index (pc)
 * and its targets by label, and TF_J computes the offsets.
 */
enum {
	TF_X64_NR = 2,		/* x86-64 and x32: the call number */
	TF_X64_CLONE = 13,	/* ... clone: its flags */
	TF_I386 = 15,		/* i386 */
	TF_I386_CLONE = 26,
	TF_PID = 28,		/* kill, rt_sigqueueinfo: which PID */
	TF_ALLOW = 31,
	TF_TRACE = 32,
	TF_LEN
};
#define TF_J(pc, op, k, t, f)	BPF_JUMP(BPF_JMP | (op) | BPF_K, (k), \
				    (t) - (pc) - 1, (f) - (pc) - 1)
#define TF_EQ(pc, k, t, f)	TF_J(pc, BPF_JEQ, k, t, f)
#define TF_LD(field)		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, \
				    offsetof(struct seccomp_data, field))

static int
track_filter(void)
{
	struct sock_filter f[TF_LEN] = {
		[0] = TF_LD(arch),
		[1] = TF_EQ(1, AUDIT_ARCH_X86_64, TF_X64_NR, TF_I386),
		[2] = TF_LD(nr),
		/* x32 calls are the same numbers with one bit more */
		[3] = BPF_STMT(BPF_ALU | BPF_AND | BPF_K, ~0x40000000u),
		[4] = TF_EQ(4, __NR_fork, TF_TRACE, 5),
		[5] = TF_EQ(5, __NR_vfork, TF_TRACE, 6),
		[6] = TF_EQ(6, __NR_clone3, TF_TRACE, 7),
		[7] = TF_EQ(7, __NR_setsid, TF_TRACE, 8),
		[8] = TF_EQ(8, __NR_setpgid, TF_TRACE, 9),
		[9] = TF_EQ(9, __NR_kill, TF_PID, 10),
		[10] = TF_EQ(10, __NR_rt_sigqueueinfo, TF_PID, 11),
		[11] = TF_EQ(11, __NR_getppid, TF_TRACE, 12),
		[12] = TF_EQ(12, __NR_clone, TF_X64_CLONE, TF_ALLOW),
		[13] = TF_LD(args[0]),
		[14] = TF_J(14, BPF_JSET, CLONE_THREAD, TF_ALLOW, TF_TRACE),
		[15] = TF_EQ(15, AUDIT_ARCH_I386, 16, TF_ALLOW),
		[16] = TF_LD(nr),
		[17] = TF_EQ(17, 2, TF_TRACE, 18),	/* fork */
		[18] = TF_EQ(18, 190, TF_TRACE, 19),	/* vfork */
		[19] = TF_EQ(19, 435, TF_TRACE, 20),	/* clone3 */
		[20] = TF_EQ(20, 66, TF_TRACE, 21),	/* setsid */
		[21] = TF_EQ(21, 57, TF_TRACE, 22),	/* setpgid */
		[22] = TF_EQ(22, 37, TF_PID, 23),	/* kill */
		[23] = TF_EQ(23, 178, TF_PID, 24),	/* rt_sigqueueinfo */
		[24] = TF_EQ(24, 64, TF_TRACE, 25),	/* getppid */
		[25] = TF_EQ(25, 120, TF_I386_CLONE, TF_ALLOW),	/* clone */
		[26] = TF_LD(args[0]),
		[27] = TF_J(27, BPF_JSET, CLONE_THREAD, TF_ALLOW, TF_TRACE),
		/* the PID's low word (x86 is little-endian): 0 and below stay local */
		[28] = TF_LD(args[0]),
		[29] = TF_J(29, BPF_JSET, 0x80000000u, TF_ALLOW, 30),
		[30] = TF_EQ(30, 0, TF_ALLOW, TF_TRACE),
		[31] = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		[32] = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE),
	};
	struct sock_fprog	prog = { .len = TF_LEN, .filter = f };

	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}

/*
 * In the child, before it drops its privileges: wait until nodeinit has
 * seized us (a byte on the pipe: '1' traced, '0' not), then take the
 * filter.  Without a tracer the filter would fail every fork with ENOSYS.
 */
int
track_child(int gofd)
{
	char	c = '0';

	if (gofd < 0)
		return 0;
	while (read(gofd, &c, 1) == -1 && errno == EINTR)
		;
	close(gofd);
	if (c != '1')
		return 0;
	return track_filter();
}

/*
 * Let the queued clone at its seccomp stop fail with err instead: the
 * call is skipped (number -1) and returns what we put in its result.
 */
int
track_skip_call(pid_t tid, long ret)
{
#if defined(__x86_64__)
	struct user_regs_struct	r;

	if (ptrace(PTRACE_GETREGS, tid, NULL, &r) == 0) {
		r.orig_rax = (unsigned long long)-1;
		r.rax = (unsigned long long)ret;
		if (ptrace(PTRACE_SETREGS, tid, NULL, &r) == 0) {
			ptrace(PTRACE_CONT, tid, NULL, NULL);
			return 0;
		}
	}
#else
	(void)tid;
	(void)ret;
#endif
	return -1;
}
