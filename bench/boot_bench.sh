#!/bin/bash
# Network boot: power-on to `up` of QEMU nodes (TCG) that PXE-boot (iPXE
# ROM, dnsmasq TFTP, boot/bproc.ipxe) against the same kernel, image and
# command line booted directly (qemu -kernel/-initrd), measured in the same
# run, as a ratio; then BENCH_NODES (default 4) PXE nodes powered on at once.
# Each run is a `bpvcluster up --qemu` in its own state dir and network
# namespace, torn down after.  Root; SKIPPED (exit 0) without qemu/kernel.
#
# Goal (issue 5): <= 5 s per node, <= 10 s for 8 at once.
set -uo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
BIN=$TOP/out/bin
NODES=${BENCH_NODES:-4}
RUNS=${BENCH_RUNS:-2}		# single-node boots per method; the best counts
export BPVC_STATE=/run/bproc/bench-$$ BPVC_NETNS=bpb$$ BPVC_TIMEOUT=120

skip() { echo "boot_bench: SKIPPED: $*"; exit 0; }
[ "$(id -u)" = 0 ] || skip "needs root (namespaces, taps)"
command -v qemu-system-x86_64 >/dev/null || skip "no qemu-system-x86_64"
command -v dnsmasq >/dev/null || skip "no dnsmasq"
ls /boot/vmlinuz-* >/dev/null 2>&1 || skip "no kernel in /boot"
[ -x "$BIN/bpvcluster" ] && [ -r "$TOP/out/boot/initramfs.cpio.gz" ] ||
	skip "build first (./build.sh)"
trap '"$BIN/bpvcluster" down >/dev/null 2>&1; rm -f "$LOG"' EXIT
LOG=$(mktemp /tmp/bproc-bench.XXXXXX)

ms() { echo $(( $(date +%s%N) / 1000000 )); }

# boot METHOD N: ms from powering the N nodes on until all are up.
boot() {
	local t0 t1 rc
	: >"$LOG"
	BPVC_QEMU_BOOT=$1 "$BIN/bpvcluster" up -n "$2" --qemu \
	    2> >(while IFS= read -r l; do echo "$(ms) $l"; done >>"$LOG") >/dev/null
	rc=$?
	t1=$(ms)
	sleep 0.2	# let the timestamping reader finish
	"$BIN/bpvcluster" down >/dev/null 2>&1
	[ "$rc" = 0 ] || { echo "boot_bench: $1 x$2 failed:" >&2; cut -d' ' -f2- "$LOG" >&2; return 1; }
	t0=$(awk '/powering on/ { print $1; exit }' "$LOG")
	echo $((t1 - t0))
}

best() {
	local m=$1 b='' t i
	for ((i = 0; i < RUNS; i++)); do
		t=$(boot "$m" 1) || return 1
		{ [ -z "$b" ] || [ "$t" -lt "$b" ]; } && b=$t
	done
	echo "$b"
}

kernel=$(ls -1 /boot/vmlinuz-* | sort -V | tail -n 1)
image=$TOP/out/boot/initramfs.cpio.gz
printf 'node kernel %s (%d bytes), image %d bytes, TCG, -m 256 -smp 1\n' \
    "$kernel" "$(stat -c %s "$kernel")" "$(stat -c %s "$image")"
direct=$(best direct) || exit 1
pxe=$(best pxe) || exit 1
printf 'power-on -> up, 1 node (best of %d):\n' "$RUNS"
printf '  direct -kernel/-initrd   %6d ms\n' "$direct"
printf '  PXE: iPXE + TFTP         %6d ms   ratio %.2f x direct (goal 5000 ms: %s)\n' \
    "$pxe" "$(echo "$pxe / $direct" | bc -l)" \
    "$( ((pxe <= 5000)) && echo within || echo OVER)"
many=$(boot pxe "$NODES") || exit 1
dmany=$(boot direct "$NODES") || exit 1
printf 'power-on -> all up, %d nodes at once (%d CPUs on this host):\n' "$NODES" "$(nproc)"
printf '  direct                   %6d ms\n' "$dmany"
printf '  PXE                      %6d ms   ratio %.2f x direct, %.2f x one PXE node\n' \
    "$many" "$(echo "$many / $dmany" | bc -l)" "$(echo "$many / $pxe" | bc -l)"
echo "HTTP under iPXE: not measured (dnsmasq serves no HTTP; see docs/netboot.md)"
