#!/bin/bash
# bpsh against its peers and floors, as ratios (no pass/fail on timings):
#   bpsh 0 /bin/true     median wall time of the whole command (warm), as a
#                        ratio to a local fork+exec of /bin/true, the two run
#                        alternately so that load from elsewhere falls on
#                        both alike (goal <= 2.5x); the CPU time each part
#                        used (bpsh and its ghost, bpmaster, nodeinit); and
#                        the ratio to `ssh localhost true` when sshd runs and
#                        key auth works
#   bpsh -a true         on 4, 16 and 64 virtual nodes (separate clusters)
#   memory per ghost     200 `bpsh 0 sleep 30`: private memory of each ghost
#                        (smaps_rollup) + kernel (Slab + KernelStack +
#                        PageTables growth), vs the 64 KB goal and vs the
#                        physical floor: a static musl program that only
#                        waits, measured the same way in the same rounds
#   stop latency         kill -STOP on a ghost until the node's process is T
#   stream throughput    bpsh 0 head -c 256M /dev/zero | wc -c vs local
#
# Needs root (virtual clusters); gcc for the small timing helper.  Every
# cluster lives in its own state dir and network namespace and is torn
# down on exit.  BENCH_SIZES="4 16 64" and BENCH_RUNS=50 override.
set -uo pipefail

cd "$(dirname "$(readlink -f "$0")")/.."
TOP=$PWD
BIN=$TOP/out/bin
RUNS=${BENCH_RUNS:-50}
SIZES=${BENCH_SIZES:-4 16 64}
GHOST_GOAL_KB=64
STREAM_BYTES=268435456

say() { printf '%s\n' "$*"; }
[ "$(id -u)" = 0 ] || { say "bpsh bench: skipped (needs root for virtual clusters)"; exit 0; }
for f in "$BIN/bpsh" "$BIN/bpvcluster" "$TOP/out/boot/initramfs.cpio.gz"; do
	[ -e "$f" ] || { say "bpsh bench: $f is missing (./build.sh)"; exit 1; }
done
command -v gcc >/dev/null || { say "bpsh bench: needs gcc"; exit 1; }

tmp=$(mktemp -d /tmp/bpsh-bench.XXXXXX)
CLUSTERS=()
BGPIDS=()
cleanup() {
	local s p
	for p in "${BGPIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	for s in "${CLUSTERS[@]}"; do
		BPVC_STATE=/run/bproc/bench-$$-$s BPVC_NETNS=bpb$$-$s \
		    "$BIN/bpvcluster" down >/dev/null 2>&1
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# The helper: run a command N times (fork + exec + wait, as a shell does)
# and print the median, min, mean and max wall time, the failures and the
# median CPU time of the command (its rusage: a bpsh and its ghost are one
# process); with "pair", two commands alternately; and time SIGSTOP on a
# ghost until its remote shows T.
cat >"$tmp/bpbench.c" <<'EOF'
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

static double now_us(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}
static int cmp(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}
static void report(double *v, int n, int fails) {
	double sum = 0;
	for (int i = 0; i < n; i++) sum += v[i];
	qsort(v, n, sizeof(*v), cmp);
	printf("%.1f %.1f %.1f %.1f %d", v[n / 2], v[0], sum / n, v[n - 1], fails);
}
/* one run of cmd: wall and CPU microseconds; 0 if it exited 0 */
static int run(char **cmd, double *wall, double *cpu) {
	double t0 = now_us(); int st; struct rusage ru; pid_t p = fork();
	if (p == 0) {
		int fd = open("/dev/null", O_RDWR);
		dup2(fd, 0); dup2(fd, 1);
		execvp(cmd[0], cmd); _exit(127);
	}
	wait4(p, &st, 0, &ru);
	*wall = now_us() - t0;
	*cpu = ru.ru_utime.tv_sec * 1e6 + ru.ru_utime.tv_usec +
	    ru.ru_stime.tv_sec * 1e6 + ru.ru_stime.tv_usec;
	return !WIFEXITED(st) || WEXITSTATUS(st) != 0;
}
/* state letter of /proc/PID/status, or 0 */
static char state(const char *path) {
	char buf[512]; int fd = open(path, O_RDONLY); ssize_t r; char *s;
	if (fd < 0) return 0;
	r = read(fd, buf, sizeof(buf) - 1); close(fd);
	if (r <= 0) return 0;
	buf[r] = 0;
	if ((s = strstr(buf, "State:")) == NULL) return 0;
	for (s += 6; *s == ' ' || *s == '\t'; s++);
	return *s;
}
int main(int argc, char **argv) {
	int n, fails = 0;
	double *v;
	if (argc >= 4 && strcmp(argv[1], "time") == 0) {
		double *c;
		n = atoi(argv[2]);
		v = calloc(n, sizeof(*v));
		c = calloc(n, sizeof(*c));
		for (int i = 0; i < n; i++)
			fails += run(argv + 3, &v[i], &c[i]);
		report(v, n, fails);
		qsort(c, n, sizeof(*c), cmp);
		printf(" %.1f\n", c[n / 2]);
		return 0;
	}
	/* pair N A... -- B...: A and B alternately, a line for each */
	if (argc >= 6 && strcmp(argv[1], "pair") == 0) {
		char **b = NULL;
		double *w[2], *c[2];
		int f[2] = { 0, 0 };
		for (int i = 3; i < argc; i++)
			if (strcmp(argv[i], "--") == 0) { argv[i] = NULL; b = argv + i + 1; break; }
		if (b == NULL || *b == NULL) return 2;
		n = atoi(argv[2]);
		for (int k = 0; k < 2; k++) { w[k] = calloc(n, sizeof(double)); c[k] = calloc(n, sizeof(double)); }
		for (int i = 0; i < n; i++) {
			f[0] += run(argv + 3, &w[0][i], &c[0][i]);
			f[1] += run(b, &w[1][i], &c[1][i]);
		}
		for (int k = 0; k < 2; k++) {
			report(w[k], n, f[k]);
			qsort(c[k], n, sizeof(double), cmp);
			printf(" %.1f\n", c[k][n / 2]);
		}
		return 0;
	}
	/* stop/cont latency: SIGSTOP to the ghost until the remote is T;
	   after 50 ms (a SIGCONT sooner can be lost: see the tests), SIGCONT
	   until it is not; a second line for the CONT times */
	if (argc == 5 && strcmp(argv[1], "stoplat") == 0) {
		pid_t g = atoi(argv[3]); const char *path = argv[4];
		double *c;
		int cfails = 0;
		n = atoi(argv[2]);
		v = calloc(n, sizeof(*v));
		c = calloc(n, sizeof(*c));
		for (int i = 0; i < n; i++) {
			double t0 = now_us(), t;
			kill(g, SIGSTOP);
			while (state(path) != 'T')
				if (now_us() - t0 > 2e6) { fails++; break; }
			v[i] = now_us() - t0;
			usleep(50000);
			t = now_us();
			kill(g, SIGCONT);
			while (state(path) == 'T')
				if (now_us() - t > 2e6) { cfails++; kill(g, SIGCONT); break; }
			c[i] = now_us() - t;
			usleep(20000);
		}
		report(v, n, fails);
		printf("\n");
		report(c, n, cfails);
		printf("\n");
		return 0;
	}
	fprintf(stderr, "usage: bpbench time N cmd... | pair N cmd... -- cmd... | stoplat N ghostpid statuspath\n");
	return 2;
}
EOF
gcc -O2 -o "$tmp/bpbench" "$tmp/bpbench.c" || { say "bpsh bench: helper does not build"; exit 1; }

# cluster_up N: a cluster of N nodes of our own; sets BPROC_MASTER
cluster_up() {
	export BPVC_STATE=/run/bproc/bench-$$-$1 BPVC_NETNS=bpb$$-$1
	CLUSTERS+=("$1")
	local t0=$(date +%s%N) out
	if ! out=$("$BIN/bpvcluster" up -n "$1" 2>"$tmp/up.log"); then
		say "    bpvcluster up -n $1 failed:"
		tail -n 5 "$tmp/up.log" | sed 's/^/    /'
		return 1
	fi
	eval "$out"
	UP_MS=$(( ($(date +%s%N) - t0) / 1000000 ))
}
cluster_down() {
	BPVC_STATE=/run/bproc/bench-$$-$1 BPVC_NETNS=bpb$$-$1 \
	    "$BIN/bpvcluster" down >/dev/null 2>&1
}
# ms US: microseconds as milliseconds
ms() { awk -v u="$1" 'BEGIN { printf "%.2f", u / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }
meminfo() { awk -v k="$1:" '$1 == k { print $2 }' /proc/meminfo; }
# CPU time a process has used, in ns (its threads' run time)
cpu_ns() { awk '{ print $1 }' "/proc/$1/schedstat" 2>/dev/null || echo 0; }
per_run_ms() { awk -v ns="$1" -v n="$RUNS" 'BEGIN { printf "%.2f", ns / n / 1e6 }'; }
kernel_kb() { echo $(( $(meminfo Slab) + $(meminfo KernelStack) + $(meminfo PageTables) )); }

say "# bpsh bench ($(date '+%Y-%m-%d %H:%M'), $(uname -r), $(nproc) CPUs)"

# --- bpsh 0 /bin/true vs local fork+exec and ssh --------------------------
cluster_up 4 || exit 1
# warm: the program and its libraries are on the node, the caches filled
"$tmp/bpbench" pair 10 /bin/true -- "$BIN/bpsh" 0 /bin/true >/dev/null
mp=$(cat "$BPVC_STATE/bpmaster.pid")
np=$(cat "$BPVC_STATE/node0.pid")
m0=$(cpu_ns "$mp") n0=$(cpu_ns "$np")
{ read -r local_med local_min _ _ _ local_cpu
  read -r bpsh_med bpsh_min bpsh_mean bpsh_max bpsh_fail bpsh_cpu; } \
    < <("$tmp/bpbench" pair "$RUNS" /bin/true -- "$BIN/bpsh" 0 /bin/true)
m1=$(cpu_ns "$mp") n1=$(cpu_ns "$np")
say "local fork+exec /bin/true  median $(ms "$local_med") ms (min $(ms "$local_min")), CPU $(ms "$local_cpu") ms; $RUNS runs, alternating with bpsh's"
say "bpsh 0 /bin/true           median $(ms "$bpsh_med") ms (min $(ms "$bpsh_min"), mean $(ms "$bpsh_mean"), max $(ms "$bpsh_max")), $RUNS runs, $bpsh_fail failed"
say "  CPU per run: bpsh + ghost $(ms "$bpsh_cpu") ms, bpmaster $(per_run_ms $((m1 - m0))) ms, nodeinit $(per_run_ms $((n1 - n0))) ms (the remote /bin/true not counted)"
say "  ratio to local: $(ratio "$bpsh_med" "$local_med")x (goal <= 2.5x); best runs $(ratio "$bpsh_min" "$local_min")x"
if pgrep -x sshd >/dev/null 2>&1 &&
    timeout 10 ssh -o BatchMode=yes -o ConnectTimeout=3 localhost true >/dev/null 2>&1; then
	read -r ssh_med _ <<<"$("$tmp/bpbench" time 20 ssh -o BatchMode=yes localhost true)"
	say "ssh localhost true         median $(ms "$ssh_med") ms, 20 runs"
	say "  ratio to ssh: $(ratio "$bpsh_med" "$ssh_med")x"
else
	say "ssh localhost true         skipped: no sshd running, or no key auth to localhost"
fi

# --- stream throughput ----------------------------------------------------
t0=$(date +%s%N)
got=$(head -c "$STREAM_BYTES" /dev/zero | wc -c)
local_ns=$(( $(date +%s%N) - t0 ))
t0=$(date +%s%N)
got2=$("$BIN/bpsh" 0 head -c "$STREAM_BYTES" /dev/zero | wc -c)
bpsh_ns=$(( $(date +%s%N) - t0 ))
mbs() { awk -v b="$1" -v ns="$2" 'BEGIN { printf "%.0f", b / 1048576 / (ns / 1e9) }'; }
say "stream 256 MB: local pipe $(mbs "$got" "$local_ns") MB/s, bpsh 0 $(mbs "$got2" "$bpsh_ns") MB/s ($got2 bytes); ratio $(ratio "$local_ns" "$bpsh_ns")"

# --- stop latency -----------------------------------------------------------
"$BIN/bpsh" 0 sleep 60 >/dev/null 2>&1 &
g=$!
BGPIDS+=("$g")
root=/proc/$(cat "$BPVC_STATE/node0.pid")/root
for i in $(seq 50); do [ -e "$root/proc/$g/status" ] && break; sleep 0.1; done
{ read -r st_med st_min st_mean st_max st_fail; read -r ct_med ct_min ct_mean ct_max ct_fail; } \
    < <("$tmp/bpbench" stoplat 20 "$g" "$root/proc/$g/status")
say "kill -STOP ghost -> node process T: median $(ms "$st_med") ms (min $(ms "$st_min"), max $(ms "$st_max")), 20 runs, $st_fail timed out"
say "kill -CONT ghost -> node process runs: median $(ms "$ct_med") ms (min $(ms "$ct_min"), max $(ms "$ct_max")), 20 runs, $ct_fail timed out"
kill -KILL "$g" 2>/dev/null
wait "$g" 2>/dev/null

# --- memory per ghost ---------------------------------------------------------
# Private memory is each process's own (smaps_rollup).  Kernel memory is
# the growth of Slab + KernelStack + PageTables in /proc/meminfo, which
# everything else on the machine moves too; so every kind is measured in
# MEM_ROUNDS interleaved rounds of MEM_N processes and the median taken.
# The remote processes of a virtual cluster share the front end's kernel:
# MEM_N local `sleep 30` (the same program) stand for them and are
# subtracted.  The physical floor is a static musl program that only
# waits: the least a process costs here.
MEM_ROUNDS=${BENCH_MEM_ROUNDS:-3}
MEM_N=${BENCH_MEM_N:-200}	# processes per round: more stand out of the noise
floor=
printf '#include <unistd.h>\nint main(void) { for (;;) pause(); }\n' >"$tmp/floor.c"
if command -v musl-gcc >/dev/null &&
    musl-gcc -static -Os -s -o "$tmp/floor" "$tmp/floor.c" 2>/dev/null; then
	floor=$tmp/floor
elif gcc -static -Os -s -o "$tmp/floor" "$tmp/floor.c" 2>/dev/null; then
	floor=$tmp/floor
fi
median() { sort -n | awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : 0 }'; }

# mem_round KIND (floor, sleep, ghost): MEM_N of it up, measured, killed.
# Prints per process: kernel kB, private kB, Pss kB, VmPTE kB, bpmaster
# RSS growth kB, and how many were measured.
mem_round() {
	local kind=$1 k0 k1 m0 m1 pids=() p i n r priv=0 pss=0 pte=0 cnt=0
	sync
	m0=$(awk '/^VmRSS/ { print $2 }' "/proc/$mp/status")
	k0=$(kernel_kb)
	for i in $(seq "$MEM_N"); do
		case $kind in
		floor)	"$floor" & ;;
		sleep)	sleep 30 & ;;
		ghost)	"$BIN/bpsh" 0 sleep 30 >/dev/null 2>&1 & ;;
		esac
		pids+=($!)
		BGPIDS+=($!)
	done
	# a ghost is up once it has renamed itself after the remote command
	for i in $(seq 300); do
		n=0
		for p in "${pids[@]}"; do
			[ "$(cat "/proc/$p/comm" 2>/dev/null)" = "${kind/ghost/sleep}" ] ||
			    [ "$kind" = floor ] && n=$((n + 1))
		done
		[ "$n" = "$MEM_N" ] && break
		sleep 0.1
	done
	sleep 1
	k1=$(kernel_kb)
	m1=$(awk '/^VmRSS/ { print $2 }' "/proc/$mp/status")
	for p in "${pids[@]}"; do
		r=$(awk '/^Private_(Clean|Dirty):/ { s += $2 } /^Pss:/ { q = $2 }
		    END { print s + 0, q + 0 }' "/proc/$p/smaps_rollup" 2>/dev/null)
		[ -n "$r" ] || continue
		priv=$((priv + ${r% *})) pss=$((pss + ${r#* }))
		pte=$((pte + $(awk '/^VmPTE/ { print $2 }' "/proc/$p/status")))
		cnt=$((cnt + 1))
	done
	kill -KILL "${pids[@]}" 2>/dev/null
	wait "${pids[@]}" 2>/dev/null
	# the node ends the remote sleeps of killed ghosts: let it settle
	[ "$kind" = ghost ] && sleep 1
	awk -v k=$((k1 - k0)) -v p="$priv" -v q="$pss" -v t="$pte" \
	    -v m=$((m1 - m0)) -v n="$MEM_N" -v c="$cnt" 'BEGIN {
		d = c ? c : 1
		printf "%.0f %.0f %.0f %.0f %.1f %d\n", k / n, p / d, q / d, t / d, m / n, c }'
}

exec 3>&2 2>/dev/null	# no "Killed" notices from the shell for these
kinds="sleep ghost"
[ -n "$floor" ] && kinds="floor $kinds"
for r in $(seq "$MEM_ROUNDS"); do
	for k in $kinds; do
		mem_round "$k" >>"$tmp/mem.$k"
	done
done
exec 2>&3 3>&-
col() { awk -v c="$2" '{ print $c }' "$tmp/mem.$1" | median; }
g_k=$(col ghost 1) g_priv=$(col ghost 2) g_pss=$(col ghost 3) g_pte=$(col ghost 4)
g_m=$(col ghost 5) g_cnt=$(col ghost 6) s_k=$(col sleep 1)
g_knet=$((g_k - s_k))
g_total=$((g_priv + g_knet))
say "memory per process (median of $MEM_ROUNDS rounds of $MEM_N; ghosts of 'bpsh 0 sleep 30', $g_cnt measured):"
say "  ghost: private $g_priv kB (Pss $g_pss), kernel ~$g_knet kB ($g_k kB with its remote sleep, $s_k kB for a local one), page tables (VmPTE) $g_pte kB"
if [ -n "$floor" ]; then
	f_k=$(col floor 1) f_priv=$(col floor 2) f_pte=$(col floor 4)
	f_total=$((f_priv + f_k))
	say "  floor (static musl pause()): private $f_priv kB, kernel $f_k kB, page tables (VmPTE) $f_pte kB"
	say "  ghost total ~$g_total kB; floor $f_total kB: ratio $(ratio "$g_total" "$f_total")x; goal $GHOST_GOAL_KB kB: ratio $(ratio "$g_total" "$GHOST_GOAL_KB")x"
else
	say "  floor: skipped (no static C toolchain)"
	say "  ghost total ~$g_total kB vs goal $GHOST_GOAL_KB kB: ratio $(ratio "$g_total" "$GHOST_GOAL_KB")x"
fi
say "  bpmaster RSS growth $g_m kB per ghost"
cluster_down 4

# --- bpsh -a true on 4, 16, 64 nodes -----------------------------------------
for n in $SIZES; do
	if ! cluster_up "$n"; then
		say "bpsh -a true on $n nodes: skipped (cluster did not come up)"
		cluster_down "$n"
		continue
	fi
	runs=20
	((n >= 64)) && runs=10
	"$tmp/bpbench" time 3 "$BIN/bpsh" -a true >/dev/null
	read -r a_med a_min _ a_max a_fail _ <<<"$("$tmp/bpbench" time "$runs" "$BIN/bpsh" -a true)"
	say "bpsh -a true on $n nodes: median $(ms "$a_med") ms (min $(ms "$a_min"), max $(ms "$a_max")), $runs runs, $a_fail failed; $(awk -v a="$a_med" -v n="$n" 'BEGIN { printf "%.2f", a / n / 1000 }') ms per node; $(ratio "$a_med" "$bpsh_med")x one node; cluster up in $UP_MS ms"
	cluster_down "$n"
done
exit 0
