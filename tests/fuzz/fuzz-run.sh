#!/bin/bash
# A long fuzzing run of one target, gently: nice 19, a memory limit, a
# time limit, in out/fuzzrun/TARGET (its working corpus, crash
# artifacts, log, and the CPU time it used in cpu.txt).  The committed
# corpus tests/fuzz/corpus-TARGET seeds it; afterwards, fold what it found
# back in, minimized:
#
#	tests/fuzz/fuzz-run.sh TARGET [SECONDS [extra libFuzzer flags]]
#	tests/fuzz/fuzz-run.sh -merge TARGET
#
# TARGET is a libFuzzer build in out/fuzz (make fuzz): frame, mfile,
# elf, node, ctl, relay.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/../.."

if [ "${1:-}" = -merge ]; then
	t=$2 run=out/fuzzrun/$2
	corpus=tests/fuzz/corpus-$t
	[ "$t" = frame ] && corpus=tests/fuzz/corpus
	mkdir -p "$run/merged"
	# the node corpus was found with the link's failing writes off
	export FUZZ_NODE_NOFAIL=1
	# -merge=1 keeps the inputs that add coverage; named seeds stay as they are
	out/fuzz/fuzz_"$t" -merge=1 -rss_limit_mb=2048 -close_fd_mask=3 \
	    "$run/merged" "$corpus" "$run/corpus" >"$run/merge.log" 2>&1
	for f in "$run"/merged/*; do
		[ -f "$f" ] || continue
		h=$(sha1sum "$f" | cut -c1-16)
		cmp -s "$f" "$corpus/fuzz-$h" 2>/dev/null && continue
		# a named seed with the same bytes is kept under its name only
		found=0
		for g in "$corpus"/*; do
			cmp -s "$f" "$g" && { found=1; break; }
		done
		((found)) || cp "$f" "$corpus/fuzz-$h"
	done
	ls "$corpus" | wc -l
	exit 0
fi

t=$1 secs=${2:-960}
shift $(($# >= 2 ? 2 : 1))
bin=out/fuzz/fuzz_$t run=out/fuzzrun/$t
corpus=tests/fuzz/corpus-$t
[ "$t" = frame ] && corpus=tests/fuzz/corpus
[ -x "$bin" ] || { echo "$bin: not built (make fuzz)" >&2; exit 1; }
mkdir -p "$run/corpus" "$run/artifacts"
cp -n "$corpus"/* "$run/corpus/" 2>/dev/null || true
start=$(date +%s)
/usr/bin/time -f '%U user %S sys %e wall (s)' -o "$run/cpu.txt" \
    nice -n 19 "$bin" -max_total_time="$secs" -rss_limit_mb=1024 \
    -timeout=20 -print_final_stats=1 -artifact_prefix="$run/artifacts/" \
    "$@" "$run/corpus" >"$run/log" 2>&1 || true
echo "$t: $(( $(date +%s) - start )) s wall; $(cat "$run/cpu.txt" | tail -1)" \
    >>"$run/summary"
