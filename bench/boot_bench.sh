#!/bin/bash
# Network boot: power-on to `up` of QEMU nodes (TCG) that PXE-boot (iPXE
# ROM, boot/bproc.ipxe, kernel + image over TFTP from dnsmasq or over HTTP
# from lighttpd) against the same kernel, image and command line booted
# directly (qemu -kernel/-initrd), measured in the same run, as ratios;
# then BENCH_NODES (default 4; 8 is the issue's figure) nodes powered on at
# once, direct and PXE (BENCH_PROTO, default http).  BENCH_KERNEL picks
# the node kernel (e.g. out/boot/vmlinuz-bproc from ./build.sh kernel).
# With OVMF installed, one node is also booted through UEFI (OVMF, the
# firmware's own PXE client, snponly.efi, then the same script over HTTP;
# BENCH_UEFI=0 skips it), printed beside the BIOS one.
# Each run is a `bpvcluster up --qemu` in its own state dir and network
# namespace, torn down after.  Root; SKIPPED (exit 0) without qemu/kernel.
#
# Goal (issue 5): <= 5 s per node, <= 10 s for 8 at once.
set -uo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
BIN=$TOP/out/bin
NODES=${BENCH_NODES:-4}
RUNS=${BENCH_RUNS:-2}		# single-node boots per method; the best counts
PROTO=${BENCH_PROTO:-http}	# how the N-at-once PXE nodes load the kernel
KERNEL=${BENCH_KERNEL:-$(ls -1 /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)}
export BPVC_KERNEL=$KERNEL
export BPVC_STATE=/run/bproc/bench-$$ BPVC_NETNS=bpb$$ BPVC_TIMEOUT=120

skip() { echo "boot_bench: SKIPPED: $*"; exit 0; }
[ "$(id -u)" = 0 ] || skip "needs root (namespaces, taps)"
command -v qemu-system-x86_64 >/dev/null || skip "no qemu-system-x86_64"
command -v dnsmasq >/dev/null || skip "no dnsmasq"
[ -r "$KERNEL" ] || skip "no node kernel (/boot/vmlinuz-* or BENCH_KERNEL)"
[ -x "$BIN/bpvcluster" ] && [ -r "$TOP/out/boot/initramfs.cpio.gz" ] ||
	skip "build first (./build.sh)"
trap '"$BIN/bpvcluster" down >/dev/null 2>&1; rm -f "$LOG" "$CPU_FILE"' EXIT
LOG=$(mktemp /tmp/bproc-bench.XXXXXX)
CPU_FILE=$(mktemp /tmp/bproc-bench-cpu.XXXXXX)

ms() { echo $(( $(date +%s%N) / 1000000 )); }

# boot METHOD N [PROTO]: ms from powering the N nodes on until all are up,
# then the CPU ms the N QEMU processes used by then (in $CPU_FILE).
boot() {
	local t0 t1 rc up cpu=0 f st
	: >"$LOG"
	BPVC_QEMU_BOOT=$1 BPVC_BOOT_PROTO=${3:-tftp} \
	    "$BIN/bpvcluster" up -n "$2" --qemu \
	    2> >(while IFS= read -r l; do echo "$(ms) $l"; done >>"$LOG") >/dev/null
	rc=$?
	t1=$(ms)
	# user + system time of each VM: what N boots at once cost the host
	for f in "$BPVC_STATE"/power*.pid; do
		[ -r "$f" ] && read -r -a st <"/proc/$(cat "$f")/stat" 2>/dev/null &&
		    cpu=$((cpu + (st[13] + st[14]) * 1000 / $(getconf CLK_TCK)))
	done
	echo "$cpu" >"$CPU_FILE"
	# bpmaster logs each node's "-> up" to the millisecond; `up` itself
	# only looks every 0.5 s.  The last node up ends the boot.
	up=$(awk '/: node [0-9]+: .* -> up/ { t = $1 } END { print t }' \
	    "$BPVC_STATE/bpmaster.log" 2>/dev/null)
	sleep 0.2	# let the timestamping reader finish
	"$BIN/bpvcluster" down >/dev/null 2>&1
	[ "$rc" = 0 ] || { echo "boot_bench: $1 x$2 ${3:-} failed:" >&2; cut -d' ' -f2- "$LOG" >&2; return 1; }
	t0=$(awk '/powering on/ { print $1; exit }' "$LOG")
	if [ -n "$up" ]; then
		t1=$(date -d "$up" +%s%3N)
		((t1 >= t0)) || t1=$((t1 + 86400000))	# the run crossed midnight
	fi
	echo $((t1 - t0))
}

best() {
	local m=$1 b='' t i
	for ((i = 0; i < RUNS; i++)); do
		t=$(boot "$m" 1 "${2:-tftp}") || return 1
		{ [ -z "$b" ] || [ "$t" -lt "$b" ]; } && b=$t
	done
	echo "$b"
}

ratio() { echo "$1 / $2" | bc -l; }
goal() { (($1 <= $2)) && echo within || echo OVER; }

image=$TOP/out/boot/initramfs.cpio.gz
printf 'node kernel %s (%d bytes), image %d bytes as built, booted as %s (BPVC_BOOT_ZIP), TCG, -m 256 -smp 1, %d CPUs\n' \
    "$KERNEL" "$(stat -c %s "$KERNEL")" "$(stat -c %s "$image")" \
    "${BPVC_BOOT_ZIP:-lz4}" "$(nproc)"
direct=$(best direct) || exit 1
tftp=$(best pxe tftp) || exit 1
http=
if command -v lighttpd >/dev/null; then
	http=$(best pxe http) || exit 1
fi
uefi=
if [ "${BENCH_UEFI:-1}" = 1 ] && [ -r "${BPVC_OVMF:-/usr/share/ovmf/OVMF.fd}" ] &&
    [ -n "$http" ]; then
	uefi=$(BPVC_UEFI=0 best pxe http) || exit 1
fi
printf 'power-on -> up, 1 node (best of %d):\n' "$RUNS"
printf '  direct -kernel/-initrd   %6d ms\n' "$direct"
printf '  PXE: iPXE + TFTP         %6d ms   ratio %.2f x direct (goal 5000 ms: %s)\n' \
    "$tftp" "$(ratio "$tftp" "$direct")" "$(goal "$tftp" 5000)"
if [ -n "$http" ]; then
	printf '  PXE: iPXE + HTTP         %6d ms   ratio %.2f x direct, %.2f x TFTP\n' \
	    "$http" "$(ratio "$http" "$direct")" "$(ratio "$http" "$tftp")"
else
	echo "  PXE: iPXE + HTTP         not measured (no lighttpd)"
fi
if [ -n "$uefi" ]; then
	printf '  UEFI: OVMF + snponly.efi + HTTP %6d ms   ratio %.2f x direct, %.2f x BIOS PXE (HTTP)\n' \
	    "$uefi" "$(ratio "$uefi" "$direct")" "$(ratio "$uefi" "$http")"
else
	echo "  UEFI                     not measured (no OVMF, no lighttpd, or BENCH_UEFI=0)"
fi
dmany=$(boot direct "$NODES") || exit 1
dcpu=$(cat "$CPU_FILE")
many=$(boot pxe "$NODES" "$PROTO") || exit 1
mcpu=$(cat "$CPU_FILE")
printf 'power-on -> all up, %d nodes at once:\n' "$NODES"
printf '  direct                   %6d ms   %.2f x one direct node\n' \
    "$dmany" "$(ratio "$dmany" "$direct")"
printf '  PXE (%s)               %6d ms   ratio %.2f x direct at once, %.2f x one direct node (goal for 8: 10000 ms: %s)\n' \
    "$PROTO" "$many" "$(ratio "$many" "$dmany")" "$(ratio "$many" "$direct")" \
    "$(goal "$many" 10000)"
# Emulated machines are CPU-bound: N boots cannot end before the CPU time
# they used, spread over every host CPU, has passed.
cpus=$(nproc)
printf 'CPU-bound floor (the VMs'"'"' CPU time / %d host CPUs):\n' "$cpus"
printf '  direct    %6d ms CPU for %d VMs (%d per VM): floor %6d ms, measured %.2f x floor\n' \
    "$dcpu" "$NODES" $((dcpu / NODES)) $((dcpu / cpus)) "$(ratio "$dmany" $((dcpu / cpus)))"
printf '  PXE       %6d ms CPU for %d VMs (%d per VM): floor %6d ms, measured %.2f x floor\n' \
    "$mcpu" "$NODES" $((mcpu / NODES)) $((mcpu / cpus)) "$(ratio "$many" $((mcpu / cpus)))"
