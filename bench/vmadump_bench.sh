#!/bin/bash
# The process image against its peers, as ratios (no pass/fail on timings):
#   dump, undump, stream   for a process with a 1 MB and a 64 MB dirty heap
#                          (out/bench/vmadump_bench, one process measuring
#                          itself): bproc_dump to tmpfs; bproc_undump of
#                          that file in a fresh child until the resumed
#                          image exits; a child undumping from a pipe while
#                          the process dumps into it (a migration's shape);
#                          each as a ratio to a local fork()+exit+wait of
#                          the same process, measured in the same rounds
#   tmpfs write floor      dd of as many bytes to tmpfs, the floor a dump
#                          to a file can reach on this machine
#   criu                   Debian's criu dump (to tmpfs) + restore of the
#                          same process (vmadump_bench MB pause), when criu
#                          is installed and works here; otherwise the reason
#
# BENCH_SIZES="1 64" and BENCH_ITER="20 5" override (iterations per size).
set -uo pipefail

cd "$(dirname "$(readlink -f "$0")")/.."
TOP=$PWD
. bench/common.bash
HELPER=$TOP/out/bench/vmadump_bench
SIZES=(${BENCH_SIZES:-1 64})
ITERS=(${BENCH_ITER:-20 5})
CRIU_RUNS=3

[ -x "$HELPER" ] || { say "vmadump bench: $HELPER is missing (make)"; exit 1; }
tmp=$(mktemp -d /dev/shm/vmadump-bench.XXXXXX)
victim=
cleanup() {
	[ -n "$victim" ] && kill -9 "$victim" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "-" }'; }
ms() { awk -v s="$1" 'BEGIN { printf "%.2f", s * 1000 }'; }

# criu_round MB: one criu dump + restore of a paused helper; prints
# "dump_s restore_s image_bytes" or "fail: reason".
criu_round() {
	local mb=$1 dir=$tmp/criu.$1 pid s e d r rpid
	rm -rf "$dir"
	mkdir -p "$dir"
	setsid "$HELPER" "$mb" pause >"$dir/pid" 2>/dev/null </dev/null &
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
	awk -v d=$d -v r=$r -v b="$(du -sb "$dir" | cut -f1)" \
	    'BEGIN { printf "%.6f %.6f %d\n", d / 1e9, r / 1e9, b }'
}

say "vmadump bench: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
for i in "${!SIZES[@]}"; do
	mb=${SIZES[$i]}
	it=${ITERS[$i]:-5}
	out=$("$HELPER" "$mb" "$it") || { say "vmadump bench: ${mb} MB: helper failed"; continue; }
	fork=$(awk '$1 == "fork" { print $2 }' <<<"$out")
	dump=$(awk '$1 == "dump" { print $2 }' <<<"$out")
	undump=$(awk '$1 == "undump" { print $2 }' <<<"$out")
	stream=$(awk '$1 == "stream" { print $2 }' <<<"$out")
	dd_ms=$(time_ms dd if=/dev/zero of="$tmp/dd" bs=1M count="$mb")
	rm -f "$tmp/dd"
	say ""
	say "${mb} MB dirty heap ($it rounds; local fork+exit+wait $(ms "$fork") ms):"
	say "  dump to tmpfs        $(ms "$dump") ms   $(ratio "$dump" "$fork")x fork   (dd of ${mb} MB to tmpfs, its start included: ${dd_ms} ms)"
	say "  undump (exec+restore) $(ms "$undump") ms   $(ratio "$undump" "$fork")x fork"
	say "  dump+undump          $(ms "$(awk -v a="$dump" -v b="$undump" 'BEGIN { print a + b }')") ms   $(ratio "$(awk -v a="$dump" -v b="$undump" 'BEGIN { print a + b }')" "$fork")x fork"
	say "  stream through pipe  $(ms "$stream") ms   $(ratio "$stream" "$fork")x fork"
	if ! command -v criu >/dev/null; then
		say "  criu: not installed (apt-get install -y criu)"
		continue
	fi
	cd_sum=0 cr_sum=0 ok=0 why=
	for _ in $(seq $CRIU_RUNS); do
		res=$(criu_round "$mb")
		case $res in
		fail*) why=$res; break ;;
		esac
		read -r cd cr bytes <<<"$res"
		cd_sum=$(awk -v a="$cd_sum" -v b="$cd" 'BEGIN { print a + b }')
		cr_sum=$(awk -v a="$cr_sum" -v b="$cr" 'BEGIN { print a + b }')
		ok=$((ok + 1))
	done
	if [ "$ok" = 0 ]; then
		say "  criu: $why"
		continue
	fi
	cd=$(awk -v a="$cd_sum" -v n=$ok 'BEGIN { print a / n }')
	cr=$(awk -v a="$cr_sum" -v n=$ok 'BEGIN { print a / n }')
	tot=$(awk -v a="$cd" -v b="$cr" 'BEGIN { print a + b }')
	ours=$(awk -v a="$dump" -v b="$undump" 'BEGIN { print a + b }')
	say "  criu dump+restore    $(ms "$tot") ms ($(ms "$cd") + $(ms "$cr"), image $((bytes / 1024)) KB, $ok rounds)   criu/vmadump $(ratio "$tot" "$ours")x"
done
