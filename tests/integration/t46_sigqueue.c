/*
 * t46's sender of queued signals: "t46_sigqueue PID SIG" calls
 * sigqueue(3) (rt_sigqueueinfo with SI_QUEUE); "t46_sigqueue -u PID SIG"
 * calls rt_sigqueueinfo with si_code SI_USER, which the kernel refuses
 * (EPERM) for another process.  Prints "rc=0" or "rc=-1 NAME" (NAME the
 * errno's symbol) and exits 0 either way: the caller reads the line.
 * "t46_sigqueue -b N [PID]" times N kill(PID, 0) (PID: its own) and
 * prints the microseconds they took, or "fail NAME" if one failed
 * (t46, bench/nodekill_bench.sh).  "t46_sigqueue -w FILE SIG" waits
 * for SIG (its PID in FILE first) and prints what its siginfo says:
 * "code=C pid=P uid=U value=V" (C: "queue" for SI_QUEUE, "user" for
 * SI_USER, else the number).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static const char *
ename(int e)
{
	switch (e) {
	case EPERM: return "EPERM";
	case ESRCH: return "ESRCH";
	case EINVAL: return "EINVAL";
	case EFAULT: return "EFAULT";
	default: return strerror(e);
	}
}

int
main(int argc, char **argv)
{
	union sigval	 v = { .sival_int = 46 };
	siginfo_t	 si;
	int		 raw = 0, rc;

	if (argc >= 3 && strcmp(argv[1], "-b") == 0) {
		struct timespec	a, b;
		pid_t		pid = argc > 3 ? atoi(argv[3]) : getpid();
		long		i, n = atol(argv[2]);

		clock_gettime(CLOCK_MONOTONIC, &a);
		for (i = 0; i < n; i++)
			if (kill(pid, 0) == -1) {
				printf("fail %s\n", ename(errno));
				return 0;
			}
		clock_gettime(CLOCK_MONOTONIC, &b);
		printf("%lld\n", ((long long)(b.tv_sec - a.tv_sec) * 1000000000LL +
		    (b.tv_nsec - a.tv_nsec)) / 1000);
		return 0;
	}
	if (argc == 4 && strcmp(argv[1], "-w") == 0) {
		sigset_t	 set;
		FILE		*f;
		char		 code[16];

		sigemptyset(&set);
		sigaddset(&set, atoi(argv[3]));
		sigprocmask(SIG_BLOCK, &set, NULL);
		if ((f = fopen(argv[2], "w")) == NULL)
			return 1;
		fprintf(f, "%d\n", (int)getpid());
		fclose(f);
		if (sigwaitinfo(&set, &si) == -1)
			return 1;
		if (si.si_code == SI_QUEUE)
			strcpy(code, "queue");
		else if (si.si_code == SI_USER)
			strcpy(code, "user");
		else
			snprintf(code, sizeof(code), "%d", si.si_code);
		printf("code=%s pid=%d uid=%u value=%d\n", code, (int)si.si_pid,
		    (unsigned)si.si_uid, si.si_value.sival_int);
		return 0;
	}
	if (argc > 1 && strcmp(argv[1], "-u") == 0) {
		raw = 1;
		argc--;
		argv++;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: t46_sigqueue [-u] PID SIG\n");
		return 2;
	}
	if (raw) {
		memset(&si, 0, sizeof(si));
		si.si_signo = atoi(argv[2]);
		si.si_code = SI_USER;
		rc = (int)syscall(SYS_rt_sigqueueinfo, atoi(argv[1]),
		    atoi(argv[2]), &si);
	} else
		rc = sigqueue(atoi(argv[1]), atoi(argv[2]), v);
	if (rc == 0)
		printf("rc=0\n");
	else
		printf("rc=-1 %s\n", ename(errno));
	return 0;
}
