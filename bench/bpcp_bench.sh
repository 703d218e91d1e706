#!/bin/bash
# bpcp throughput, as ratios (no pass/fail on timings), on a 1-node
# virtual cluster:
#   bpcp           `bpcp F 0:/tmp/f` of a 64 MB random file: MB/s of the
#                  median of BPCP_RUNS copies
#   bpsh floor     `bpsh --no-push -O /tmp/f 0 cat < F` (the same bytes
#                  through a ghost's stdin into a node file, busybox cat,
#                  which is what bpcp's node side runs), measured in the
#                  same run; the ratio bpcp / floor is the share of the
#                  process space's stream bpcp keeps after its header,
#                  temporary file, size check and rename
#   node -> front  `bpcp 0:/tmp/f F2` against `bpsh --no-push 0 cat /tmp/f > F2`
#
# Needs root (virtual cluster).  The cluster lives in its own state dir
# and network namespace and is torn down on exit.  BPCP_RUNS=5 and
# BPCP_MB=64 override.
set -uo pipefail

cd "$(dirname "$(readlink -f "$0")")/.." || exit 1
TOP=$PWD
BIN=$TOP/out/bin
. "$TOP/bench/common.bash"
RUNS=${BPCP_RUNS:-5}
MB=${BPCP_MB:-64}

[ "$(id -u)" = 0 ] || { say "bpcp bench: skipped (needs root for a virtual cluster)"; exit 0; }
for f in "$BIN/bpcp" "$BIN/bpsh" "$BIN/bpvcluster" "$TOP/out/boot/initramfs.cpio.gz"; do
	[ -e "$f" ] || { say "bpcp bench: $f is missing (./build.sh)"; exit 1; }
done

export BPVC_STATE=/run/bproc/bpcpbench-$$ BPVC_NETNS=bpcb$$
tmp=$(mktemp -d /tmp/bpcp-bench.XXXXXX)
cleanup() {
	"$BIN/bpvcluster" down >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

mbps() { awk -v mb="$MB" -v ms="$1" 'BEGIN {printf "%.1f", (ms > 0 ? mb / (ms / 1000) : 0)}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }

say "bpcp bench: a 1-node virtual cluster, a ${MB} MB random file, $RUNS runs each"
out=$("$BIN/bpvcluster" up -n 1 2>"$tmp/up.log") || {
	sed 's/^/    /' "$tmp/up.log"
	say "bpcp bench: bpvcluster up failed"
	exit 1
}
eval "$out"
head -c $((MB << 20)) /dev/urandom >"$tmp/data"

to_bpcp() { "$BIN/bpcp" "$tmp/data" 0:/tmp/f; }
to_bpsh() { "$BIN/bpsh" --no-push -O /tmp/f 0 cat <"$tmp/data"; }
from_bpcp() { "$BIN/bpcp" 0:/tmp/f "$tmp/back"; }
from_bpsh() { "$BIN/bpsh" --no-push 0 cat /tmp/f >"$tmp/back"; }

# interleaved, so both see the same machine load
: >"$tmp/t.bpcp"; : >"$tmp/t.bpsh"; : >"$tmp/f.bpcp"; : >"$tmp/f.bpsh"
for ((i = 0; i < RUNS; i++)); do
	time_ms to_bpcp >>"$tmp/t.bpcp" || { say "bpcp bench: bpcp to node 0 failed"; exit 1; }
	time_ms to_bpsh >>"$tmp/t.bpsh" || { say "bpcp bench: bpsh -O failed"; exit 1; }
	time_ms from_bpcp >>"$tmp/f.bpcp" || { say "bpcp bench: bpcp from node 0 failed"; exit 1; }
	time_ms from_bpsh >>"$tmp/f.bpsh" || { say "bpcp bench: bpsh cat failed"; exit 1; }
done
cmp -s "$tmp/data" "$tmp/back" || { say "bpcp bench: the copy back differs"; exit 1; }

tc=$(median <"$tmp/t.bpcp") ts=$(median <"$tmp/t.bpsh")
fc=$(median <"$tmp/f.bpcp") fs=$(median <"$tmp/f.bpsh")
say "  front end -> node: bpcp $(mbps "$tc") MB/s (median ${tc} ms), bpsh -O ... cat $(mbps "$ts") MB/s (${ts} ms): ratio $(ratio "$ts" "$tc")"
say "  node -> front end: bpcp $(mbps "$fc") MB/s (median ${fc} ms), bpsh cat > file $(mbps "$fs") MB/s (${fs} ms): ratio $(ratio "$fs" "$fc")"
say "  (ratio = bpcp throughput / bpsh throughput; 1.00 is the process space's stream)"
