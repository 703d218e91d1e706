#!/bin/bash
# Push into node RAM, as ratios (no pass/fail on timings), on a 2-node
# virtual cluster (issue 4's benchmark):
#   cold push      `bpsh --no-push --push F 0 /bin/true` of a fresh 16 MB
#                  random file (only F is pushed; /bin/true is busybox),
#                  already hashed by a push of it to node 1 first:
#                  throughput = 16 MB / (time - time of the same run with
#                  nothing to push), as a share of the veth throughput
#                  measured in the same run (goal >= 50%)
#   veth floor     raw TCP from the master's namespace into the node's
#                  busybox nc (`bpsh -O /dev/null 0 nc -l -p PORT`), same
#                  bridge and veth the node link uses
#   push CPU       CPU time bpmaster and node 0's nodeinit spent per MB
#                  of the cold pushes (/proc/PID/schedstat, nanoseconds):
#                  what a push costs whatever else the machine runs
#   warm run       median `bpsh 0 /usr/bin/true` once /usr/bin/true, libc
#                  and ld.so are in the node's cache, as a ratio to
#                  `bpsh --no-push 0 /bin/true` (busybox, in the initramfs)
#
# Needs root (virtual cluster).  The cluster lives in its own state dir
# and network namespace and is torn down on exit.  PUSH_RUNS=5 (cold
# pushes), WARM_RUNS=30, VETH_MB=512 override.
set -uo pipefail

cd "$(dirname "$(readlink -f "$0")")/.."
TOP=$PWD
BIN=$TOP/out/bin
. "$TOP/bench/common.bash"
COLD_RUNS=${PUSH_RUNS:-5}
WARM_RUNS=${WARM_RUNS:-30}
VETH_MB=${VETH_MB:-512}
BLOB_MB=16
PORT=9000
GOAL_PCT=50

[ "$(id -u)" = 0 ] || { say "push bench: skipped (needs root for a virtual cluster)"; exit 0; }
for f in "$BIN/bpsh" "$BIN/bpstat" "$BIN/bpvcluster" "$TOP/out/boot/initramfs.cpio.gz"; do
	[ -e "$f" ] || { say "push bench: $f is missing (./build.sh)"; exit 1; }
done

export BPVC_STATE=/run/bproc/pushbench-$$ BPVC_NETNS=bpp$$
# a 0755 directory: the pushed files keep their front-end paths
tmp=$(mktemp -d /var/tmp/push-bench.XXXXXX)
chmod 0755 "$tmp"
export HOME=$tmp/home		# a hash cache of our own
mkdir -p "$HOME"
BGPIDS=()
cleanup() {
	local p
	for p in "${BGPIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	"$BIN/bpvcluster" down >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

push_bytes() {
	"$BIN/bpstat" --json 0 2>/dev/null | sed -n 's/.*"push_bytes": \([0-9]*\).*/\1/p'
}

say "push bench: a 2-node virtual cluster (node 1 only primes the front end's hash cache)"
out=$("$BIN/bpvcluster" up -n 2 2>"$tmp/up.log") || {
	sed 's/^/    /' "$tmp/up.log"
	say "push bench: bpvcluster up failed"
	exit 1
}
eval "$out"
addr=$("$BIN/bpstat" --json 0 | sed -n 's/.*"addr": "\([0-9.]*\)".*/\1/p')
bpsh() { "$BIN/bpsh" "$@"; }
MPID=$(cat "$BPVC_STATE/bpmaster.pid" 2>/dev/null)
NPID=$(cat "$BPVC_STATE/node0.pid" 2>/dev/null)
# cpu_ns PID: nanoseconds the process has run (0 when it cannot be read)
cpu_ns() { awk '{print $1}' "/proc/$1/schedstat" 2>/dev/null || echo 0; }

# --- veth floor: raw TCP, master namespace -> node -----------------------
veth_run() {
	local s e t
	bpsh -n -O /dev/null 0 nc -l -p "$PORT" &
	BGPIDS+=($!)
	local lpid=$!
	sleep 0.3	# let nc listen
	s=$(now_ns)
	ip netns exec "$BPVC_NETNS" bash -c \
	    "dd if=/dev/zero bs=1M count=$VETH_MB status=none >/dev/tcp/$addr/$PORT" ||
	    { kill "$lpid" 2>/dev/null; echo 0; return; }
	wait "$lpid" 2>/dev/null
	e=$(now_ns)
	awk -v b=$((VETH_MB << 20)) -v d=$((e - s)) 'BEGIN {printf "%.1f\n", b / (d / 1e9) / 1e6}'
}
v1=$(veth_run)
v2=$(veth_run)
v3=$(veth_run)
veth=$(printf '%s\n' "$v1" "$v2" "$v3" | sort -n | tail -1)
say "  veth TCP (dd | /dev/tcp -> busybox nc, $VETH_MB MB): $v1, $v2, $v3 MB/s; best $veth MB/s"

# --- cold push of 16 MB ------------------------------------------------------
bpsh --no-push 0 /bin/true	# warm the path
base=$(for i in 1 2 3 4 5; do time_ms bpsh --no-push 0 /bin/true; done | median)
rates=()
mcpu=0 ncpu=0 pushed=0
for i in $(seq 1 "$COLD_RUNS"); do
	f=$tmp/blob$i
	head -c $((BLOB_MB << 20)) /dev/urandom >"$f"
	# first to node 1: that run also hashes the file (once; the front
	# end's hash cache keeps it), so node 0's run times the transfer
	t1=$(time_ms bpsh --no-push --push "$f" 1 /bin/true)
	b0=$(push_bytes)
	m0=$(cpu_ns "$MPID")
	n0=$(cpu_ns "$NPID")
	t=$(time_ms bpsh --no-push --push "$f" 0 /bin/true)
	mcpu=$((mcpu + $(cpu_ns "$MPID") - m0))
	ncpu=$((ncpu + $(cpu_ns "$NPID") - n0))
	b1=$(push_bytes)
	pushed=$((pushed + b1 - b0))
	sent=$((b1 - b0))
	net=$(awk -v t="$t" -v b="$base" 'BEGIN {d = t - b; if (d < 0.001) d = 0.001; print d}')
	r=$(awk -v s="$sent" -v d="$net" 'BEGIN {printf "%.1f\n", s / (d / 1e3) / 1e6}')
	say "  cold push $i: node 1 (hash + push) ${t1} ms; node 0 (push) ${t} ms for $sent bytes (${net} ms over the ${base} ms of an empty run): $r MB/s"
	rates+=("$r")
	rm -f "$f"
done
push=$(printf '%s\n' "${rates[@]}" | median)
pct=$(awk -v p="$push" -v v="$veth" 'BEGIN {if (v > 0) printf "%.0f\n", 100 * p / v; else print 0}')
say "  cold push of $BLOB_MB MB: median $push MB/s = ${pct}% of veth TCP ($veth MB/s); goal >= ${GOAL_PCT}%"
awk -v m="$mcpu" -v n="$ncpu" -v b="$pushed" 'BEGIN {
	if (b > 0 && m > 0 && n > 0)
		printf("  push CPU per MB: bpmaster %.2f ms, nodeinit %.2f ms (nodeinit alone would take %.0f MB/s)\n",
		    m / 1e3 / (b / 1e3), n / 1e3 / (b / 1e3), b / (n / 1e3))
}'

# --- warm run vs a program in the initramfs -------------------------------
bpsh 0 /usr/bin/true >/dev/null 2>&1 || say "  bpsh 0 /usr/bin/true failed"
b0=$(push_bytes)
warm=$(for i in $(seq 1 "$WARM_RUNS"); do time_ms bpsh 0 /usr/bin/true; done | median)
b1=$(push_bytes)
img=$(for i in $(seq 1 "$WARM_RUNS"); do time_ms bpsh --no-push 0 /bin/true; done | median)
ratio=$(awk -v w="$warm" -v i="$img" 'BEGIN {printf "%.2f\n", w / i}')
say "  warm bpsh 0 /usr/bin/true (pushed, cached): median $warm ms over $WARM_RUNS runs; blob bytes sent: $((b1 - b0))"
say "  bpsh --no-push 0 /bin/true (initramfs busybox): median $img ms"
say "  warm run / initramfs run: ${ratio}x"
