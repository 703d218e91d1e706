#!/bin/bash
# What kill(2) from a node costs (issue 11/16), as ratios (no pass/fail on
# timings): N kill(PID, 0) in a C loop (tests/integration/t46_sigqueue.c -b)
#   frontend     on the front end, of itself: the kernel's floor
#   untracked    on node 0 with BPROC_NOTRACK=1 (no seccomp filter at
#                all): what a local kill cost before kill joined the filter
#   local        on node 0, tracked, of itself: every kill of a positive PID
#                stops for nodeinit, which finds the PID on the node and
#                lets the call run
#   forwarded    on node 0, tracked, of a front-end process: nodeinit asks
#                bpmaster, which checks and signals it, and answers
# The four run alternately, ROUNDS times, and the medians are compared.
# Needs root and gcc (a virtual cluster, torn down on exit).
# BENCH_LOOP=1000, BENCH_ROUNDS=5 override.
set -uo pipefail

cd "$(dirname "$(readlink -f "$0")")/.."
TOP=$PWD
BIN=$TOP/out/bin
N=${BENCH_LOOP:-1000}
ROUNDS=${BENCH_ROUNDS:-5}
. bench/common.bash

[ "$(id -u)" = 0 ] || { say "nodekill bench: skipped (needs root for a virtual cluster)"; exit 0; }
command -v gcc >/dev/null || { say "nodekill bench: skipped (needs gcc)"; exit 0; }
for f in "$BIN/bpsh" "$BIN/bpvcluster" "$TOP/out/boot/initramfs.cpio.gz"; do
	[ -e "$f" ] || { say "nodekill bench: $f is missing (./build.sh)"; exit 1; }
done
export BPVC_STATE=/run/bproc/bench-kill-$$ BPVC_NETNS=bpbk$$
T=$(mktemp -d /tmp/nodekill-bench.XXXXXX)
chmod 0755 "$T"
sleep 100000 &
FE=$!
trap '"$BIN/bpvcluster" down >/dev/null 2>&1; kill $FE 2>/dev/null; rm -rf "$T"' EXIT
gcc -O2 -o "$T/kl" tests/integration/t46_sigqueue.c || { say "nodekill bench: cannot build the loop"; exit 1; }
eval "$("$BIN/bpvcluster" up -n 1 2>/dev/null)" || { say "nodekill bench: bpvcluster up failed"; exit 1; }

# each prints the loop's own microseconds
"$BIN/bpsh" 0 "$T/kl" -b 1 >/dev/null	# warm: the node's cache has it
: >"$T/f"; : >"$T/u"; : >"$T/l"; : >"$T/w"
for r in $(seq "$ROUNDS"); do
	"$T/kl" -b "$N" >>"$T/f"
	BPROC_NOTRACK=1 "$BIN/bpsh" 0 "$T/kl" -b "$N" >>"$T/u"
	"$BIN/bpsh" 0 "$T/kl" -b "$N" >>"$T/l"
	"$BIN/bpsh" 0 "$T/kl" -b "$N" "$FE" >>"$T/w"
done
if grep -vqE '^[0-9]+$' "$T/f" "$T/u" "$T/l" "$T/w"; then
	say "nodekill bench: a loop failed:"; cat "$T/f" "$T/u" "$T/l" "$T/w"; exit 1
fi
f=$(median <"$T/f"); u=$(median <"$T/u"); l=$(median <"$T/l"); w=$(median <"$T/w")
say "nodekill bench: $N x kill(PID, 0), median of $ROUNDS rounds, load $(cut -d' ' -f1 /proc/loadavg)"
awk -v f="$f" -v u="$u" -v l="$l" -v w="$w" -v n="$N" 'BEGIN {
	printf "  frontend   %9.0f us  (%.2f us per kill)\n", f, f / n
	printf "  untracked  %9.0f us  (%.2f us per kill)  %.1fx front end\n", u, u / n, u / f
	printf "  local      %9.0f us  (%.2f us per kill)  %.1fx untracked: the filter stop costs %.1f us\n", l, l / n, l / u, (l - u) / n
	printf "  forwarded  %9.0f us  (%.2f us per kill)  %.1fx local\n", w, w / n, w / l
}'
