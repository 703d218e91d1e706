#!/bin/bash
# The relay tree for blobs (docs/push.md, "Tree fan-out"), as ratios: no
# pass/fail on timings.
#
#   1. What a byte costs per hop on this machine: each step nodeinit takes
#      for a relayed blob, in CPU ns per MiB (out/bench/relay_cost, best of
#      5), as a multiple of memcpy measured in the same run; then the
#      model: a leaf opens, hashes and writes each byte, a relay also reads
#      it back, frames and seals it once per child.
#   2. The same on a virtual cluster of RELAY_BENCH_NODES nodes (16): for
#      fanout 0 (no tree: the master sends every copy) and each width in
#      RELAY_BENCH_FANOUTS, cold pushes of a RELAY_BENCH_MB MiB file (16;
#      a new random file each time, median of RELAY_BENCH_RUNS = 3): wall
#      time as a ratio to fanout 0, the master's egress as a multiple of
#      the file (bpstat push_bytes), the master's CPU per MiB pushed, and
#      the nodes' CPU per MiB received (every node's PID 1, from
#      /proc/PID/schedstat), next to the model's figure.
#
# Needs root and a built tree (./build.sh); the scale benchmark can call
# it with RELAY_BENCH_NODES set.
set -uo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/bench/common.bash"
OUT=${BPROC_OUT:-$TOP/out}
BIN=$OUT/bin
N=${RELAY_BENCH_NODES:-16}
MB=${RELAY_BENCH_MB:-16}
RUNS=${RELAY_BENCH_RUNS:-3}
FANOUTS=${RELAY_BENCH_FANOUTS:-"2 4 8"}

[ "$(id -u)" = 0 ] || { say "relay_bench: needs root"; exit 77; }
[ -x "$OUT/bench/relay_cost" ] && [ -x "$BIN/bpvcluster" ] ||
	{ say "relay_bench: build first (./build.sh)"; exit 77; }

say "== relay tree: per-byte cost of each step (CPU ns per MiB, best of 5) =="
declare -A C
while read -r k v; do C[$k]=$v; done < <("$OUT/bench/relay_cost")
for k in open hash write pread copy seal socket; do
	awk -v k="$k" -v v="${C[$k]}" -v c="${C[copy]}" \
	    'BEGIN { printf "  %-7s %9.0f ns/MiB  %6.1fx memcpy\n", k, v, v / c }'
done
leaf=$(( ${C[socket]} + ${C[open]} + ${C[hash]} + ${C[write]} ))
hop=$(( ${C[pread]} + ${C[copy]} + ${C[seal]} + ${C[socket]} ))
awk -v l="$leaf" -v h="$hop" -v hs="${C[hash]}" -v s="${C[seal]}" 'BEGIN {
	printf "  per node received (socket + open + hash + write): %.2f ms/MiB (hashing %.0f%%)\n", l / 1e6, 100 * hs / l
	printf "  per child fed (pread + copy + seal + socket):     %.2f ms/MiB (sealing %.0f%%)\n", h / 1e6, 100 * s / h
	printf "  so a push costs the machine about %.2f ms of CPU per MiB per node, whatever the fanout\n", (l + h) / 1e6
}'

STATE=/run/bproc/relay-bench-$$
export BPVC_STATE=$STATE BPVC_NETNS=bprb$$
PUB=$(mktemp -d /var/tmp/relay-bench.XXXXXX)
chmod 0755 "$PUB"
cleanup() {
	"$BIN/bpvcluster" down >/dev/null 2>&1
	rm -rf "$PUB"
}
trap cleanup EXIT

cpu_ns() { awk '{print $1}' "/proc/$1/schedstat" 2>/dev/null || echo 0; }
egress() { "$BIN/bpstat" --json | sed -n 's/.*"push_bytes": \([0-9]*\).*/\1/p' | awk '{s += $1} END {print s + 0}'; }
nodes_cpu() {
	local i s=0 p
	for ((i = 0; i < N; i++)); do
		p=$(cat "$STATE/node$i.pid" 2>/dev/null) || continue
		s=$((s + $(cpu_ns "$p")))
	done
	echo "$s"
}

say ""
say "== relay tree: cold ${MB} MiB pushes to $N virtual nodes (median of $RUNS) =="
printf '  %-8s %9s %8s %9s %14s %14s\n' fanout "push ms" "/ tree-less" egress "master ms/MiB" "node ms/MiB"
base=
for f in 0 $FANOUTS; do
	export BPVC_MASTER_CONF="fanout $f"
	if ! out=$("$BIN/bpvcluster" up -n "$N" 2>/dev/null); then
		say "  fanout $f: bpvcluster up -n $N failed"
		continue
	fi
	eval "$out"
	export BPROC_MASTER
	mpid=$(cat "$STATE/bpmaster.pid")
	times=() eg=() mc=() nc=()
	for ((r = 0; r < RUNS; r++)); do
		head -c $((MB << 20)) /dev/urandom >"$PUB/blob$r"
		chmod 0644 "$PUB/blob$r"
		e0=$(egress) m0=$(cpu_ns "$mpid") n0=$(nodes_cpu)
		t=$(time_ms timeout 300 "$BIN/bpsh" --no-push --push "$PUB/blob$r" -a /bin/true) || { say "  fanout $f: push failed"; break; }
		times+=("$t")
		eg+=("$(awk -v e=$(( $(egress) - e0 )) -v b=$((MB << 20)) 'BEGIN { printf "%.2f", e / b }')")
		mc+=("$(awk -v c=$(( $(cpu_ns "$mpid") - m0 )) -v mb="$MB" 'BEGIN { printf "%.2f", c / 1e6 / mb }')")
		nc+=("$(awk -v c=$(( $(nodes_cpu) - n0 )) -v mb="$MB" -v n="$N" 'BEGIN { printf "%.2f", c / 1e6 / mb / n }')")
	done
	"$BIN/bpvcluster" down >/dev/null 2>&1
	((${#times[@]} > 0)) || continue
	t=$(printf '%s\n' "${times[@]}" | median)
	[ -n "$base" ] || base=$t
	printf '  %-8s %9.0f %8.2fx %8sx %14s %14s\n' "$f" "$t" \
	    "$(awk -v t="$t" -v b="$base" 'BEGIN { print t / b }')" \
	    "$(printf '%s\n' "${eg[@]}" | median)" \
	    "$(printf '%s\n' "${mc[@]}" | median)" \
	    "$(printf '%s\n' "${nc[@]}" | median)"
done
say "  (egress: master bytes sent / file size; node ms/MiB: all nodes' PID 1 CPU per MiB each received;"
say "   the model above says what a node's share should be: its own copy plus one child on average)"
