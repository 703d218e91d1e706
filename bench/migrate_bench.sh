#!/bin/bash
# Migration against its floors and its peer, as ratios (no pass/fail on
# timings), on a 2-node virtual cluster (issue 12's benchmark):
#   vrfork         bproc_vrfork to nodes 0 and 1 of the 1 MB process, as a
#                  ratio to one rfork of it (children go out together: ~1x;
#                  one after the other would be ~2x)
#   rfork          bproc_rfork(0) of a process with a 1 MB and a 64 MB
#                  dirty heap, the child exiting at once on the node and
#                  reaped by the parent's waitpid (out/bench/migrate_bench,
#                  one process measuring itself after a warm-up rfork that
#                  puts its program and libc in the node's cache), as a
#                  ratio to a local fork()+exit+wait of the same process
#   node rfork     the 1 MB process run on node 0 by bpsh, rforking to
#                  node 1 (through the front end, a stand-in left on node
#                  0 that the parent's waitpid reaps), as a ratio to the
#                  front end's rfork of it
#   veth floor     raw TCP from the master's namespace into node 0's busybox
#                  nc, same bridge and veth the node link uses (as in
#                  push_bench.sh); the rfork's bytes (bpstat's push_bytes
#                  of node 0 over the rounds) at that rate is the floor
#   criu           Debian's criu dump to tmpfs + restore of the same process
#                  shape (out/bench/vmadump_bench MB pause), locally: criu
#                  cannot run on a node (not in the initramfs), so this is
#                  its best case; otherwise the reason it does not run
#
# Needs root (virtual cluster).  MIG_ITER="20 5" (rounds per size),
# VETH_MB=256 override.
set -uo pipefail

cd "$(dirname "$(readlink -f "$0")")/.."
TOP=$PWD
BIN=$TOP/out/bin
. "$TOP/bench/common.bash"
HELPER=$TOP/out/bench/migrate_bench
VICTIM=$TOP/out/bench/vmadump_bench
SIZES=(1 64)
ITERS=(${MIG_ITER:-20 5})
VETH_MB=${VETH_MB:-256}
PORT=9000
CRIU_RUNS=3

[ "$(id -u)" = 0 ] || { say "migrate bench: skipped (needs root for a virtual cluster)"; exit 0; }
for f in "$HELPER" "$BIN/bpvcluster" "$TOP/out/boot/initramfs.cpio.gz"; do
	[ -e "$f" ] || { say "migrate bench: $f is missing (./build.sh)"; exit 1; }
done

export BPVC_STATE=/run/bproc/migbench-$$ BPVC_NETNS=bpm$$
tmp=$(mktemp -d /dev/shm/migrate-bench.XXXXXX)
BGPIDS=()
victim=
cleanup() {
	local p
	for p in "${BGPIDS[@]}" $victim; do kill -KILL "$p" 2>/dev/null; done
	"$BIN/bpvcluster" down >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "-" }'; }
ms() { awk -v s="$1" 'BEGIN { printf "%.2f", s * 1000 }'; }
push_bytes() {
	"$BIN/bpstat" --json 0 2>/dev/null | sed -n 's/.*"push_bytes": \([0-9]*\).*/\1/p'
}

say "migrate bench: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg); a 2-node virtual cluster"
out=$("$BIN/bpvcluster" up -n 2 2>"$tmp/up.log") || {
	sed 's/^/    /' "$tmp/up.log"
	say "migrate bench: bpvcluster up failed"
	exit 1
}
eval "$out"
addr=$("$BIN/bpstat" --json 0 | sed -n 's/.*"addr": "\([0-9.]*\)".*/\1/p')

# --- veth floor: raw TCP, master namespace -> node 0 -------------------------
veth_run() {
	local s e lpid
	"$BIN/bpsh" -n -O /dev/null 0 nc -l -p "$PORT" &
	lpid=$!
	BGPIDS+=($lpid)
	sleep 0.3	# let nc listen
	s=$(now_ns)
	ip netns exec "$BPVC_NETNS" bash -c \
	    "dd if=/dev/zero bs=1M count=$VETH_MB status=none >/dev/tcp/$addr/$PORT" ||
	    { kill "$lpid" 2>/dev/null; echo 0; return; }
	wait "$lpid" 2>/dev/null
	e=$(now_ns)
	awk -v b=$((VETH_MB << 20)) -v d=$((e - s)) 'BEGIN {printf "%.1f\n", b / (d / 1e9) / 1e6}'
}
veth=$(for _ in 1 2 3; do veth_run; done | sort -n | tail -1)
say "  veth TCP (dd | /dev/tcp -> busybox nc, $VETH_MB MB): best of 3 $veth MB/s"

# criu_round MB: criu dump + restore of a paused helper: "dump_s restore_s" or "fail: why"
criu_round() {
	local mb=$1 dir=$tmp/criu.$1 pid s e d r rpid
	rm -rf "$dir"
	mkdir -p "$dir"
	setsid "$VICTIM" "$mb" pause >"$dir/pid" 2>/dev/null </dev/null &
	victim=$!
	for _ in $(seq 100); do [ -s "$dir/pid" ] && break; sleep 0.05; done
	pid=$(cat "$dir/pid")
	s=$(now_ns)
	if ! criu dump -t "$pid" -D "$dir" -o dump.log >/dev/null 2>&1; then
		echo "fail: criu dump: $(grep -i error "$dir/dump.log" | grep -v util.c | head -1)"
		return
	fi
	e=$(now_ns)
	d=$((e - s))
	wait "$victim" 2>/dev/null
	victim=
	s=$(now_ns)
	if ! criu restore -D "$dir" -d -o restore.log --pidfile "$dir/rpid" >/dev/null 2>&1; then
		echo "fail: criu restore: $(grep -i error "$dir/restore.log" | grep -v util.c | head -1)"
		return
	fi
	e=$(now_ns)
	r=$((e - s))
	rpid=$(cat "$dir/rpid" 2>/dev/null)
	[ -n "$rpid" ] && kill -9 "$rpid" 2>/dev/null
	awk -v d=$d -v r=$r 'BEGIN { printf "%.6f %.6f\n", d / 1e9, r / 1e9 }'
}

cd "$tmp"
for i in "${!SIZES[@]}"; do
	mb=${SIZES[$i]}
	it=${ITERS[$i]:-5}
	b0=$(push_bytes)
	vr=
	[ "$mb" = 1 ] && vr=0,1
	res=$("$HELPER" 0 "$mb" "$it" $vr 2>&1) || { say "  ${mb} MB: $res"; continue; }
	b1=$(push_bytes)
	fork=$(awk '$1 == "fork" { print $2 }' <<<"$res")
	rfork=$(awk '$1 == "rfork" { print $2 }' <<<"$res")
	# bytes one rfork moved: the rounds' and the warm-up's image, less the
	# warm-up's pushed files (a warm-up of its own measures those)
	bytes=$(( (b1 - b0) / (it + 1) ))
	# node 0's bytes: a vrfork round sent one more image there
	[ -n "$vr" ] && bytes=$(( (b1 - b0) / (2 * it + 1) ))
	vrfork=$(awk '$1 == "vrfork" { print $2 }' <<<"$res")
	floor=$(awk -v b="$bytes" -v v="$veth" 'BEGIN { if (v > 0) printf "%.6f", b / (v * 1e6); else print 0 }')
	share=$(awk -v f="$floor" -v r="$rfork" 'BEGIN { if (r > 0) printf "%.0f", 100 * f / r; else print 0 }')
	say ""
	say "${mb} MB dirty heap ($it rounds; local fork+exit+wait $(ms "$fork") ms):"
	say "  rfork+exit+wait      $(ms "$rfork") ms   $(ratio "$rfork" "$fork")x fork"
	[ "$mb" = 1 ] && rfork1=$rfork
	[ -n "$vrfork" ] && say "  vrfork to 0,1         $(ms "$vrfork") ms   $(ratio "$vrfork" "$rfork")x one rfork (2 children, both reaped)"
	say "  bytes moved          $((bytes / 1024)) KB per rfork; at veth speed $(ms "$floor") ms: rfork runs at ${share}% of veth TCP"
	if ! command -v criu >/dev/null; then
		say "  criu: not installed (apt-get install -y criu)"
		continue
	fi
	ok=0 sum=0 why=
	for _ in $(seq $CRIU_RUNS); do
		r=$(criu_round "$mb")
		case $r in fail*) why=$r; break ;; esac
		sum=$(awk -v a="$sum" -v b="$r" 'BEGIN { split(b, x, " "); print a + x[1] + x[2] }')
		ok=$((ok + 1))
	done
	if [ "$ok" = 0 ]; then
		say "  criu: $why"
		continue
	fi
	tot=$(awk -v a="$sum" -v n=$ok 'BEGIN { print a / n }')
	say "  criu dump+restore    $(ms "$tot") ms (local, tmpfs; $ok rounds)   criu/rfork $(ratio "$tot" "$rfork")x"
done

# --- rfork from a node: the 1 MB process on node 0 rforks to node 1 ---------
if [ -n "${rfork1:-}" ]; then
	res=$("$BIN/bpsh" 0 "$HELPER" 1 1 "${ITERS[0]}" 2>&1)
	nrfork=$(awk '$1 == "rfork" { print $2 }' <<<"$res")
	if [ -n "$nrfork" ]; then
		say ""
		say "rfork from node 0 to node 1 (1 MB, ${ITERS[0]} rounds; home and out, a stand-in on node 0):"
		say "  rfork+exit+wait      $(ms "$nrfork") ms   $(ratio "$nrfork" "$rfork1")x the front end's rfork"
	else
		say "  rfork from a node: $res"
	fi
fi
