#!/bin/bash
# nodeinit's footprint against the foundation's goals, as ratios:
#   binary size     / 200 KB
#   idle RSS        / 1 MB   (VmRSS of PID 1 of a running virtual node)
#   initramfs.gz    / 1.5 MB
# and against the physical floor of a static musl program that does
# nothing but wait (the least any PID 1 built this way can cost).
#
# Sizes and RSS are not timings, so each line also says PASS or OVER; the
# benchmark reports and never fails on them.  Exit status: 0, or 1 when
# nodeinit is not built.
set -uo pipefail

cd "$(dirname "$(readlink -f "$0")")/.."
NODEINIT=out/boot/nodeinit
IMAGE=out/boot/initramfs.cpio.gz
SIZE_GOAL=$((224 * 1024))	# bytes (docs/design-notes.md, the size section)
RSS_GOAL=1024			# kB
IMAGE_GOAL=$((1536 * 1024))	# bytes
IDLE_S=3			# seconds a node idles before its RSS is read

[ -x "$NODEINIT" ] || { echo "bench: $NODEINIT is not built (./build.sh)"; exit 1; }

# line NAME VALUE GOAL UNIT [NOTE]
line() {
	awk -v n="$1" -v v="$2" -v g="$3" -v u="$4" -v note="${5:-}" 'BEGIN {
		r = v / g
		printf "%-22s %10d %-2s  goal %8d %-2s  ratio %5.2f  %s%s\n",
		    n, v, u, g, u, r, (r <= 1 ? "PASS" : "OVER"), note
	}'
}

tmp=$(mktemp -d)
cleanup() {
	[ -n "${FLOORPID:-}" ] && kill "$FLOORPID" 2>/dev/null
	if [ -n "${BPVC_STATE:-}" ]; then
		out/bin/bpvcluster down >/dev/null 2>&1
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

# The floor: a static musl program that only waits.
floor_size= floor_rss=
if command -v musl-gcc >/dev/null; then
	printf '#include <unistd.h>\nint main(void) { pause(); return 0; }\n' > "$tmp/floor.c"
	if musl-gcc -static -Os -s -o "$tmp/floor" "$tmp/floor.c" 2>/dev/null; then
		floor_size=$(stat -c %s "$tmp/floor")
		"$tmp/floor" &
		FLOORPID=$!
		sleep 0.2
		floor_rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$FLOORPID/status")
		kill "$FLOORPID" 2>/dev/null
		wait "$FLOORPID" 2>/dev/null
		FLOORPID=
	fi
fi

echo "# nodeinit footprint ($(date '+%Y-%m-%d %H:%M'), $(uname -r))"
size=$(stat -c %s "$NODEINIT")
line "nodeinit binary" "$size" "$SIZE_GOAL" B \
    "${floor_size:+  (floor $floor_size B: $(awk -v a="$size" -v b="$floor_size" 'BEGIN { printf "%.1f", a / b }')x)}"

rss=
if [ "$(id -u)" != 0 ]; then
	echo "nodeinit idle RSS      skipped: a virtual node needs root"
elif [ ! -f "$IMAGE" ] || [ ! -x out/bin/bpvcluster ]; then
	echo "nodeinit idle RSS      skipped: $IMAGE or out/bin/bpvcluster missing (./build.sh)"
else
	export BPVC_STATE=/run/bproc/bench-$$ BPVC_NETNS=bpb$$
	if out/bin/bpvcluster up -n 1 > "$tmp/env" 2> "$tmp/up.log"; then
		sleep "$IDLE_S"
		pid=$(cat "$BPVC_STATE/node0.pid" 2>/dev/null)
		rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
	else
		echo "nodeinit idle RSS      skipped: bpvcluster up failed:"
		sed 's/^/    /' "$tmp/up.log"
	fi
fi
if [ -n "$rss" ]; then
	line "nodeinit idle RSS" "$rss" "$RSS_GOAL" kB \
	    "${floor_rss:+  (floor $floor_rss kB: $(awk -v a="$rss" -v b="$floor_rss" 'BEGIN { printf "%.1f", a / b }')x)}"
fi

if [ -f "$IMAGE" ]; then
	line "initramfs compressed" "$(stat -c %s "$IMAGE")" "$IMAGE_GOAL" B
else
	echo "initramfs compressed   skipped: $IMAGE not built (needs root: sudo ./build.sh)"
fi
exit 0
