#!/bin/bash
# Scale (issue 14's benchmark): one run, one table, ratios.  For each N
# (default 16 64 256 1024; --quick: 4 16) a virtual cluster of N nodes:
#   up          `bpvcluster up -n N`, wall time, as a ratio to the goal
#               (256 nodes in 3 s, 1024 in 15 s: 11.7 and 14.6 ms a node)
#   idle        bpmaster's CPU over IDLE_S seconds of idle, as a share of
#               one core (goal <= 5 % at 1024), and its RSS
#   bpstat      median wall time of `bpstat` (goal <= 20 ms at 1024)
#   bpsh -a     median `bpsh -a true`, and as a ratio to the local floor
#               (fork+exec+wait of /bin/true, measured in the same run) x N
#   cold push   `bpsh --push BLOB -a true` of a fresh random file (16 MiB,
#               4 MiB at 1024 nodes; BLOB_MB), once; master egress (bytes
#               the bridge carried out of the master's namespace) as a
#               ratio to the blob (goal <= 2), master CPU per MiB pushed,
#               nodeinit CPU per MiB received (summed over the nodes), and
#               bpmaster's RSS once settled, as bytes kept per node over
#               its idle RSS (goal <= 16 kB)
# and the peers, on the same machine in the same run, from
# ../shared/peers (an sshd per namespace; PEER_MAX caps their N, 64 by
# default: a fresh ssh connection costs ~190 ms): `pdsh -R ssh true`,
# pdsh over ControlMaster connections, and `pdcp -R ssh` of the same blob;
# each as bpsh's time over the peer's.
#
#   bench/scale_bench.sh [--quick] [--nodes "16 64"] [--no-peers]
#
# Needs root (virtual clusters).  Every cluster lives in its own state dir
# and network namespace and is torn down as the run goes on, and on exit.
# Timings on this shared 2-core machine drift with what else runs; the
# ratios inside one run are what to compare.
set -uo pipefail

cd "$(dirname "$(readlink -f "$0")")/.."
TOP=$PWD
BIN=$TOP/out/bin
. "$TOP/bench/common.bash"
PEERS=$TOP/../shared/peers
[ -d "$PEERS" ] || PEERS=/work/shared/peers
NODES="16 64 256 1024"
QUICK=0
DO_PEERS=1
IDLE_S=${IDLE_S:-10}
RUNS=${RUNS:-3}			# bpsh -a and bpstat repetitions
PEER_MAX=${PEER_MAX:-64}
FLOOR_RUNS=50

while [ $# -gt 0 ]; do
	case $1 in
	--quick) QUICK=1; NODES="4 16"; IDLE_S=5; RUNS=3 ;;
	--nodes) NODES=$2; shift ;;
	--no-peers) DO_PEERS=0 ;;
	-h|--help) sed -n '2,28p' "$0"; exit 0 ;;
	*) say "usage: $0 [--quick] [--nodes \"N...\"] [--no-peers]"; exit 2 ;;
	esac
	shift
done

[ "$(id -u)" = 0 ] || { say "scale bench: skipped (needs root for virtual clusters)"; exit 0; }
for f in "$BIN/bpsh" "$BIN/bpstat" "$BIN/bpvcluster" "$TOP/out/boot/initramfs.cpio.gz"; do
	[ -e "$f" ] || { say "scale bench: $f is missing (./build.sh)"; exit 1; }
done

WORK=$(mktemp -d /tmp/scale-bench.XXXXXX)
export HOME=$WORK		# bpsh's hash cache: ours, and empty
export BPVC_STATE=/run/bproc/scale-bench-$$
export BPVC_NETNS=bpsb$$
export BPVC_TIMEOUT=${BPVC_TIMEOUT:-600}
cleanup() {
	"$BIN/bpvcluster" down >/dev/null 2>&1
	[ -f "$PEERS/.vnodes.state" ] && [ "${PEERS_UP:-0}" = 1 ] &&
	    "$PEERS/vnodes.sh" down >/dev/null 2>&1
	rm -rf "$WORK"
	rm -f /tmp/peerblob	# pdcp's copies: every peer node shares this /tmp
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# wall ms of a command, timed with bash's clock (common.bash's time_ms
# forks date twice, which here costs more than the floor it measures)
t_ms() {
	local s=$EPOCHREALTIME e
	"$@" >/dev/null 2>&1 || { echo fail; return 1; }
	e=$EPOCHREALTIME
	awk -v s="$s" -v e="$e" 'BEGIN { printf "%.3f\n", (e - s) * 1000 }'
}
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
hz=$(getconf CLK_TCK)
# the bytes that left the master's namespace onto the cluster network
egress() { ip -n "$BPVC_NETNS" -s -j link show bpbr0 |
    sed -n 's/.*"tx":{"bytes":\([0-9]*\).*/\1/p'; }
# CPU ticks of every node's nodeinit
node_ticks() {
	local i s=0 p
	for ((i = 0; i < $1; i++)); do
		p=$(cat "$BPVC_STATE/node$i.pid" 2>/dev/null) || continue
		s=$((s + $(ticks "$p")))
	done
	echo "$s"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "-"; else printf "%.2f", a / b }'; }

# the floor: a local fork+exec+wait of /bin/true
for ((r = 0; r < FLOOR_RUNS; r++)); do t_ms /bin/true; done | median >"$WORK/floor"
FLOOR=$(cat "$WORK/floor")
say "scale bench: floor (fork+exec+wait of /bin/true) $FLOOR ms; nodes: $NODES"

declare -A R
for n in $NODES; do
	blob_mb=${BLOB_MB:-16}
	[ "$n" -ge 1024 ] && blob_mb=${BLOB_MB:-4}
	say "scale bench: N = $n"
	t0=$(now_ns)
	if ! out=$("$BIN/bpvcluster" up -n "$n" 2>"$WORK/up.log"); then
		tail -n 20 "$WORK/up.log"
		say "scale bench: up -n $n failed; stopping here"
		break
	fi
	t1=$(now_ns)
	eval "$out"
	R[$n,up]=$(( (t1 - t0) / 1000000 ))
	m=$(cat "$BPVC_STATE/bpmaster.pid")
	closes0=$(grep -c 'link closed' "$BPVC_STATE/bpmaster.log")

	sleep 2
	a=$(ticks "$m"); sleep "$IDLE_S"; b=$(ticks "$m")
	R[$n,idle_cpu]=$(awk -v t=$((b - a)) -v s="$IDLE_S" -v hz="$hz" 'BEGIN { printf "%.1f", 100 * t / hz / s }')
	R[$n,idle_rss]=$(rss_kb "$m")

	for ((r = 0; r < RUNS; r++)); do t_ms "$BIN/bpstat"; done | median >"$WORK/v"
	R[$n,bpstat]=$(cat "$WORK/v")
	for ((r = 0; r < RUNS; r++)); do t_ms "$BIN/bpsh" -a true; done | median >"$WORK/v"
	R[$n,bpsh]=$(cat "$WORK/v")

	head -c "${blob_mb}M" /dev/urandom >"$WORK/blob$n"
	chmod 0644 "$WORK/blob$n"
	e0=$(egress); mt0=$(ticks "$m"); nt0=$(node_ticks "$n")
	R[$n,push]=$(t_ms "$BIN/bpsh" --push "$WORK/blob$n" -a true)
	e1=$(egress); mt1=$(ticks "$m"); nt1=$(node_ticks "$n")
	R[$n,blob]=$blob_mb
	R[$n,egress]=$(ratio $((e1 - e0)) $((blob_mb << 20)))
	R[$n,mcpu]=$(awk -v t=$((mt1 - mt0)) -v hz="$hz" -v mb=$((blob_mb * n)) 'BEGIN { printf "%.2f", 1000 * t / hz / mb }')
	R[$n,ncpu]=$(awk -v t=$((nt1 - nt0)) -v hz="$hz" -v mb=$((blob_mb * n)) 'BEGIN { printf "%.2f", 1000 * t / hz / mb }')
	low=$(rss_kb "$m")
	for ((t = 0; t < 8; t++)); do
		sleep 1
		v=$(rss_kb "$m"); [ "$v" -lt "$low" ] && low=$v
	done
	R[$n,kept]=$(( (low - R[$n,idle_rss]) * 1024 / n ))
	R[$n,lost]=$(( $(grep -c 'link closed' "$BPVC_STATE/bpmaster.log") - closes0 ))
	"$BIN/bpvcluster" down >/dev/null 2>&1
	rm -f "$WORK/blob$n"
done

# The peers: sshd per namespace (../shared/peers), pdsh and pdcp timed by
# its measure.sh, with pdcp of a blob as its extra command.
PN=
for n in $NODES; do [ "$n" -le "$PEER_MAX" ] && PN+="$n "; done
if [ "$DO_PEERS" = 1 ] && [ -n "$PN" ] && [ -x "$PEERS/measure.sh" ]; then
	say "scale bench: peers (pdsh, pdsh over ControlMaster, pdcp) for N = $PN"
	head -c "${BLOB_MB:-16}M" /dev/urandom >"$WORK/peerblob"
	chmod 0644 "$WORK/peerblob"
	chmod 0755 "$WORK"
	cat >"$WORK/pdcp.sh" <<EOF
#!/bin/bash
# pdcp of the bench's blob to bpp-n[0-(N-1)], with the peers' ssh_config
scr=\$(. "$PEERS/.vnodes.state" && echo "\$BPP_SCRATCH")
PDSH_SSH_ARGS_APPEND="-F \$scr/ssh_config" exec pdcp -R ssh -f 32 -l bppuser \\
    -w "bpp-n[0-\$((\$1 - 1))]" "$WORK/peerblob" /tmp/
EOF
	chmod 0755 "$WORK/pdcp.sh"
	PEERS_UP=1
	BPP_R_FLOOR=20 BPP_R_ONE=3 BPP_R_FAN=${PEER_RUNS:-3} \
	    BPP_EXTRA_CMD="$WORK/pdcp.sh {N}" BPP_EXTRA_LABEL=pdcp \
	    "$PEERS/measure.sh" --nodes "${PN% }" >"$WORK/peers.md" 2>"$WORK/peers.log" ||
	    { tail -n 15 "$WORK/peers.log"; say "scale bench: the peers' run failed"; }
	PEERS_UP=0
	csv=$PEERS/results/last-samples.csv
	for n in $PN; do
		for tool in pdsh pdshcm extra; do
			[ -f "$csv" ] || continue
			R[$n,$tool]=$(awk -F, -v t="$tool" -v n="$n" '$1 == t && $2 == n { print $3 / 1000 }' "$csv" | median)
		done
	done
fi

say ""
say "| N | up ms (x goal) | idle master CPU % | idle RSS kB | bpstat ms | bpsh -a true ms (x floor x N) | push MiB | push ms | egress x blob | master ms CPU/MiB | nodeinit ms CPU/MiB | kB kept/node | links lost | pdsh ms (bpsh x) | pdsh+CM ms (bpsh x) | pdcp ms (push x) |"
say "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for n in $NODES; do
	[ -n "${R[$n,up]:-}" ] || continue
	goal=$(awk -v n="$n" 'BEGIN { print (n >= 1024 ? 15000 / 1024 : 3000 / 256) * n }')
	pd=- pdc=- pc=-
	[ -n "${R[$n,pdsh]:-}" ] && pd="${R[$n,pdsh]} ($(ratio "${R[$n,bpsh]}" "${R[$n,pdsh]}"))"
	[ -n "${R[$n,pdshcm]:-}" ] && pdc="${R[$n,pdshcm]} ($(ratio "${R[$n,bpsh]}" "${R[$n,pdshcm]}"))"
	[ -n "${R[$n,extra]:-}" ] && pc="${R[$n,extra]} ($(ratio "${R[$n,push]}" "${R[$n,extra]}"))"
	say "| $n | ${R[$n,up]} ($(ratio "${R[$n,up]}" "$goal")) | ${R[$n,idle_cpu]} | ${R[$n,idle_rss]} | ${R[$n,bpstat]} | ${R[$n,bpsh]} ($(ratio "${R[$n,bpsh]}" "$(awk -v f="$FLOOR" -v n="$n" 'BEGIN { print f * n }')")) | ${R[$n,blob]} | ${R[$n,push]} | ${R[$n,egress]} | ${R[$n,mcpu]} | ${R[$n,ncpu]} | $((R[$n,kept] / 1024)).$(( (R[$n,kept] % 1024) * 10 / 1024 )) | ${R[$n,lost]} | $pd | $pdc | $pc |"
done
say ""
say "goals: up x goal <= 1; idle CPU <= 5 % at 1024; bpstat <= 20 ms at 1024; egress <= 2 x blob; kept <= 16 kB/node; links lost 0; bpsh -a at 1024 <= 1 s"
say "floor $FLOOR ms; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (a shared machine: what else ran is in the timings)"
