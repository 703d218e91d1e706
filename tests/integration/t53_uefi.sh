#!/bin/bash
# UEFI and BIOS network boot side by side from one dnsmasq:
# `BPVC_UEFI=0 bpvcluster up -n 2 --qemu` makes node 0 a QEMU machine
# with OVMF (UEFI; QEMU's NIC ROM left out, so the firmware's own UEFI
# PXE client boots, as on a server) and node 1 one with SeaBIOS and the
# NIC's iPXE ROM.  dnsmasq tags node 0 by its client architecture (option
# 93 = 7) and hands it snponly.efi by TFTP; that iPXE asks again and gets
# the script, then the kernel and the image over HTTP, as node 1's iPXE
# does.  Both reach up and run bpsh; node 0's kernel got the lease and
# the initrd= its EFI stub needs; bpctl -R reboots the UEFI node through
# its firmware and it comes back up.
. "$(dirname "$0")/lib.sh"

need_root
need_image
need_netboot
OVMF=${BPVC_OVMF:-/usr/share/ovmf/OVMF.fd}
need_file "$OVMF" /usr/lib/ipxe/snponly.efi

export BPVC_UEFI=0
export BPVC_TIMEOUT=${BPVC_TIMEOUT:-120}	# TCG: two machines share the CPUs

say "# BPVC_UEFI=0 bpvcluster up -n 2 --qemu (kernel $KREL)"
start=$(now_ms)
log=$(mktemp /tmp/bproc-up.XXXXXX)
on_exit "\"$BIN/bpvcluster\" down"
on_exit "rm -f '$log'"
if ! out=$("$BIN/bpvcluster" up -n 2 --qemu 2>"$log"); then
	sed 's/^/    /' "$log"
	die "BPVC_UEFI=0 bpvcluster up -n 2 --qemu failed"
fi
eval "$out"
pass "a UEFI and a BIOS node up in $(( $(now_ms) - start )) ms"

DLOG=$BPVC_STATE/boot/dnsmasq.log
ALOG=$BPVC_STATE/boot/lighttpd.access.log
check "node 0 runs OVMF, node 1 SeaBIOS" \
    eval 'tr "\0" " " </proc/$(cat "$BPVC_STATE/power0.pid")/cmdline | grep -q -- "-bios $OVMF" &&
        ! tr "\0" " " </proc/$(cat "$BPVC_STATE/power1.pid")/cmdline | grep -q -- "-bios"'
check "dnsmasq tagged node 0 as x86-64 UEFI (option 93)" \
    grep -q "tags: .*efi64" "$DLOG"
check "node 0's firmware got snponly.efi by TFTP" \
    grep -q "sent .*/snponly.efi to 10.11.0.16" "$DLOG"
check "node 1 (BIOS) was not given an EFI binary" \
    eval '! grep -q "efi to 10.11.0.17" "$DLOG"'
check "node 0's iPXE runs over the firmware's network driver (SNP)" \
    grep -aq "using SNP" "$BPVC_STATE/node0.log"
for i in 0 1; do
	for f in bproc.ipxe vmlinuz initramfs.cpio.lz4; do
		check "node $i fetched $f over HTTP" \
		    grep -q "^10.11.0.$((16 + i)) .*\"GET /$f HTTP/1.1\" 200 " "$ALOG"
	done
done
for i in 0 1; do
	c=$BPVC_STATE/node$i.log
	ok=1
	for s in "kernel -> network" "network -> connected" \
	    "connected -> setup" "setup -> up"; do
		grep -aq "boot stage $s" "$c" || { ok=0; say "    node $i: no '$s'"; }
	done
	check "node $i went through every boot stage" test "$ok" = 1
	[ "$ok" = 1 ] || show_log "$c"
done
cl=$("$BIN/bpsh" 0 cat /proc/cmdline 2>&1)
check "node 0's kernel got the lease and initrd= from the script: $cl" \
    eval '[[ $cl == *"initrd=initramfs.cpio.lz4"* && $cl == *"ip=10.11.0.16::10.11.0.1:255.255.0.0:n0:eth0:off"* ]]'
check "node 0 booted through EFI (/sys/firmware/efi)" \
    eval '"$BIN/bpsh" 0 test -d /sys/firmware/efi'
check "node 1 booted through the BIOS (no /sys/firmware/efi)" \
    eval '! "$BIN/bpsh" 1 test -d /sys/firmware/efi'
out=$("$BIN/bpsh" 0-1 uname -r 2>&1)
check "bpsh 0-1 uname -r prints $KREL twice" \
    test "$(printf '%s\n' "$out" | grep -cx "$KREL")" = 2

say "# bpctl -S 0 -R (the UEFI node)"
"$BIN/bpctl" -S 0 -R || fail "bpctl -S 0 -R"
check "node 0 leaves up" wait_for '[ "$(node_state 0)" != up ]' 10
check "node 0 boots through OVMF again and is up" \
    wait_for '[ "$(node_state 0)" = up ]' "$BPVC_TIMEOUT"
say "    (up again after $WAITED_MS ms)"
check "node 1 stayed up" test "$(node_state 1)" = up

finish
