#!/bin/bash
# bpsh against its peers and floors, as ratios (no pass/fail on timings):
#   bpsh 0 /bin/true     median wall time of the whole command (warm), as a
#                        ratio to a local fork+exec of /bin/true measured in
#                        the same run (goal <= 2.5x), and to `ssh localhost
#                        true` when sshd runs and key auth works
#   bpsh -a true         on 4, 16 and 64 virtual nodes (separate clusters)
#   memory per ghost     50 `bpsh 0 sleep 30`: private memory of each ghost
#                        (smaps_rollup) + kernel (Slab + KernelStack +
#                        PageTables growth), vs the 64 KB goal
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
NGHOSTS=50
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
# and print the median, min and mean wall time; and time SIGSTOP on a
# ghost until its remote shows T.
cat >"$tmp/bpbench.c" <<'EOF'
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	printf("%.1f %.1f %.1f %.1f %d\n", v[n / 2], v[0], sum / n, v[n - 1], fails);
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
		n = atoi(argv[2]);
		v = calloc(n, sizeof(*v));
		for (int i = 0; i < n; i++) {
			double t0 = now_us(); int st; pid_t p = fork();
			if (p == 0) {
				int fd = open("/dev/null", O_RDWR);
				dup2(fd, 0); dup2(fd, 1);
				execvp(argv[3], argv + 3); _exit(127);
			}
			waitpid(p, &st, 0);
			v[i] = now_us() - t0;
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) fails++;
		}
		report(v, n, fails);
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
		report(c, n, cfails);
		return 0;
	}
	fprintf(stderr, "usage: bpbench time N cmd... | stoplat N ghostpid statuspath\n");
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
kernel_kb() { echo $(( $(meminfo Slab) + $(meminfo KernelStack) + $(meminfo PageTables) )); }

say "# bpsh bench ($(date '+%Y-%m-%d %H:%M'), $(uname -r), $(nproc) CPUs)"

# --- bpsh 0 /bin/true vs local fork+exec and ssh --------------------------
cluster_up 4 || exit 1
"$tmp/bpbench" time 10 "$BIN/bpsh" 0 /bin/true >/dev/null	# warm up
"$tmp/bpbench" time 10 /bin/true >/dev/null
read -r local_med local_min _ <<<"$("$tmp/bpbench" time "$RUNS" /bin/true)"
read -r bpsh_med bpsh_min bpsh_mean bpsh_max bpsh_fail <<<"$("$tmp/bpbench" time "$RUNS" "$BIN/bpsh" 0 /bin/true)"
say "local fork+exec /bin/true  median $(ms "$local_med") ms (min $(ms "$local_min")), $RUNS runs"
say "bpsh 0 /bin/true           median $(ms "$bpsh_med") ms (min $(ms "$bpsh_min"), mean $(ms "$bpsh_mean"), max $(ms "$bpsh_max")), $RUNS runs, $bpsh_fail failed"
say "  ratio to local: $(ratio "$bpsh_med" "$local_med")x (goal <= 2.5x)"
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
# The remote processes of a virtual cluster share the front end's kernel,
# so the kernel growth of 50 ghosts includes 50 remote sleeps; 50 local
# sleeps measured alongside estimate that part, which is subtracted.
exec 3>&2 2>/dev/null	# no "Killed" notices from the shell for these
sync
mp=$(cat "$BPVC_STATE/bpmaster.pid")
m0=$(awk '/^VmRSS/ { print $2 }' "/proc/$mp/status")
k0=$(kernel_kb)
locs=()
for i in $(seq "$NGHOSTS"); do sleep 30 & locs+=($!); BGPIDS+=($!); done
sleep 1
kl=$(( $(kernel_kb) - k0 ))
kill "${locs[@]}" 2>/dev/null
wait "${locs[@]}" 2>/dev/null
sleep 1
k0=$(kernel_kb)
ghosts=()
for i in $(seq "$NGHOSTS"); do
	"$BIN/bpsh" 0 sleep 30 >/dev/null 2>&1 &
	ghosts+=($!)
	BGPIDS+=($!)
done
for i in $(seq 100); do
	n=0
	for g in "${ghosts[@]}"; do
		[ "$(cat "/proc/$g/comm" 2>/dev/null)" = sleep ] && n=$((n + 1))
	done
	[ "$n" = "$NGHOSTS" ] && break
	sleep 0.1
done
sleep 1
k1=$(kernel_kb)
m1=$(awk '/^VmRSS/ { print $2 }' "/proc/$mp/status")
priv=0 pss=0 cnt=0
for g in "${ghosts[@]}"; do
	r=$(awk '/^Private_(Clean|Dirty):/ { s += $2 } END { print s + 0 }' "/proc/$g/smaps_rollup" 2>/dev/null)
	p=$(awk '/^Pss:/ { print $2 }' "/proc/$g/smaps_rollup" 2>/dev/null)
	[ -n "$r" ] || continue
	priv=$((priv + r)) pss=$((pss + ${p:-0})) cnt=$((cnt + 1))
done
kill -KILL "${ghosts[@]}" 2>/dev/null
wait "${ghosts[@]}" 2>/dev/null
exec 2>&3 3>&-
kg=$((k1 - k0))
per_priv=$(awk -v a="$priv" -v n="$cnt" 'BEGIN { printf "%.0f", n ? a / n : 0 }')
per_pss=$(awk -v a="$pss" -v n="$cnt" 'BEGIN { printf "%.0f", n ? a / n : 0 }')
per_k=$(awk -v a="$kg" -v n="$NGHOSTS" 'BEGIN { printf "%.0f", a / n }')
per_kl=$(awk -v a="$kl" -v n="$NGHOSTS" 'BEGIN { printf "%.0f", a / n }')
per_knet=$(awk -v a="$kg" -v b="$kl" -v n="$NGHOSTS" 'BEGIN { printf "%.0f", (a - b) / n }')
per_m=$(awk -v a="$m1" -v b="$m0" -v n="$NGHOSTS" 'BEGIN { printf "%.1f", (a - b) / n }')
total=$((per_priv + per_knet))
say "memory per ghost ($cnt of $NGHOSTS ghosts of 'bpsh 0 sleep 30' measured):"
say "  private (Private_Clean + Private_Dirty)  $per_priv kB   (Pss $per_pss kB)"
say "  kernel (Slab + KernelStack + PageTables) $per_k kB with the remote process; a local sleep costs $per_kl kB -> ~$per_knet kB for the ghost"
say "  bpmaster RSS growth                      $per_m kB per ghost"
say "  ghost total ~$total kB vs goal $GHOST_GOAL_KB kB: ratio $(ratio "$total" "$GHOST_GOAL_KB")x"
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
	read -r a_med a_min _ a_max a_fail <<<"$("$tmp/bpbench" time "$runs" "$BIN/bpsh" -a true)"
	say "bpsh -a true on $n nodes: median $(ms "$a_med") ms (min $(ms "$a_min"), max $(ms "$a_max")), $runs runs, $a_fail failed; $(awk -v a="$a_med" -v n="$n" 'BEGIN { printf "%.2f", a / n / 1000 }') ms per node; $(ratio "$a_med" "$bpsh_med")x one node; cluster up in $UP_MS ms"
	cluster_down "$n"
done
exit 0
