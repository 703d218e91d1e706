#!/bin/bash
# What the process tree costs (issue 11), as ratios (no pass/fail on
# timings): `sh -c 'for i in $(seq N); do /bin/true; done'`
#   local        on the front end
#   tracked      bpsh 0 ...: every /bin/true gets its ghost first (seccomp
#                stop, a round trip to the master, the parent ghost forks)
#   nospare      tracked, with BPROC_NOSPARE=1: no spare child ghost is
#                forked ahead (master/daemon/spare.c), so every fork waits
#                for the parent ghost's fork and the child's hello
#   untracked    the same with BPROC_NOTRACK=1 (root's debugging switch:
#                no seccomp filter, no ptrace, no child ghosts)
# Goal: tracked <= 2x local.  The four run alternately, ROUNDS times, and
# the medians are compared, so load from elsewhere falls on all alike.
# Needs root (a virtual cluster, torn down on exit).  BENCH_LOOP=1000,
# BENCH_ROUNDS=5 override.
set -uo pipefail

cd "$(dirname "$(readlink -f "$0")")/.."
TOP=$PWD
BIN=$TOP/out/bin
N=${BENCH_LOOP:-1000}
ROUNDS=${BENCH_ROUNDS:-5}
. bench/common.bash

[ "$(id -u)" = 0 ] || { say "proctree bench: skipped (needs root for a virtual cluster)"; exit 0; }
for f in "$BIN/bpsh" "$BIN/bpvcluster" "$TOP/out/boot/initramfs.cpio.gz"; do
	[ -e "$f" ] || { say "proctree bench: $f is missing (./build.sh)"; exit 1; }
done
export BPVC_STATE=/run/bproc/bench-tree-$$ BPVC_NETNS=bpbt$$
T=$(mktemp -d /tmp/proctree-bench.XXXXXX)
trap '"$BIN/bpvcluster" down >/dev/null 2>&1; rm -rf "$T"' EXIT
eval "$("$BIN/bpvcluster" up -n 1 2>/dev/null)" || { say "proctree bench: bpvcluster up failed"; exit 1; }

LOOP="for i in \$(seq $N); do /bin/true; done"
local_run() { sh -c "$LOOP"; }
tracked_run() { "$BIN/bpsh" 0 sh -c "$LOOP"; }
untracked_run() { BPROC_NOTRACK=1 "$BIN/bpsh" 0 sh -c "$LOOP"; }
nospare_run() { BPROC_NOSPARE=1 "$BIN/bpsh" 0 sh -c "$LOOP"; }

"$BIN/bpsh" 0 true	# warm: the node's cache has sh and true
: >"$T/l"; : >"$T/t"; : >"$T/s"; : >"$T/u"
for r in $(seq "$ROUNDS"); do
	time_ms local_run >>"$T/l"
	time_ms tracked_run >>"$T/t"
	time_ms nospare_run >>"$T/s"
	time_ms untracked_run >>"$T/u"
done
l=$(median <"$T/l"); t=$(median <"$T/t"); s=$(median <"$T/s"); u=$(median <"$T/u")
say "proctree bench: $N x /bin/true in sh, median of $ROUNDS rounds, load $(cut -d' ' -f1 /proc/loadavg)"
awk -v l="$l" -v t="$t" -v s="$s" -v u="$u" -v n="$N" 'BEGIN {
	printf "  local      %9.1f ms  (%.0f us per child)\n", l, 1000 * l / n
	printf "  tracked    %9.1f ms  (%.0f us per child)  %.2fx local (goal <= 2x)\n", t, 1000 * t / n, t / l
	printf "  nospare    %9.1f ms  (%.0f us per child)  %.2fx local; the spare saves %.0f us per child\n", s, 1000 * s / n, s / l, 1000 * (s - t) / n
	printf "  untracked  %9.1f ms  (%.0f us per child)  %.2fx local\n", u, 1000 * u / n, u / l
	printf "  tracking costs %.2fx untracked, %.0f us per child\n", t / u, 1000 * (t - u) / n
}'
