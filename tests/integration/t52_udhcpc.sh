#!/bin/bash
# nodeinit's DHCP fallback: a QEMU node booted directly (-kernel/-initrd)
# with bproc.master= but no ip= on its command line
# (BPVC_QEMU_BOOT=direct-dhcp) runs busybox udhcpc on eth0, applies the
# lease over netlink, and comes up with the fixed address bpmaster gave
# its MAC in dnsmasq's hosts file.
. "$(dirname "$0")/lib.sh"

need_root
need_image
need_netboot

export BPVC_QEMU_BOOT=direct-dhcp
export BPVC_TIMEOUT=${BPVC_TIMEOUT:-90}
FIXED0=10.11.0.16

say "# BPVC_QEMU_BOOT=direct-dhcp bpvcluster up -n 1 --qemu"
log=$(mktemp /tmp/bproc-up.XXXXXX)
on_exit "\"$BIN/bpvcluster\" down"
on_exit "rm -f '$log'"
if ! out=$("$BIN/bpvcluster" up -n 1 --qemu 2>"$log"); then
	sed 's/^/    /' "$log"
	show_log "${BPVC_STATE}/node0.log"
	die "bpvcluster up -n 1 --qemu (direct-dhcp) failed"
fi
eval "$out"
pass "node 0 is up"
CON=$BPVC_STATE/node0.log

cmdline=$("$BIN/bpsh" 0 cat /proc/cmdline 2>&1)
check "its kernel command line has bproc.master= and no ip=: $cmdline" \
    eval '[[ $cmdline == *bproc.master=* && $cmdline != *ip=* ]]'
check "nodeinit fell back to udhcpc" \
    grep -q "no ip= on the command line: DHCP on eth0 (udhcpc)" "$CON"
check "and applied the lease it printed" \
    grep -q "udhcpc lease: $FIXED0/255.255.0.0 gateway 10.11.0.1" "$CON"
check "dnsmasq leased node 0 its fixed address" \
    grep -q "DHCPACK(.*) $FIXED0 52:54:00:bb:00:00" "$BPVC_STATE/boot/dnsmasq.log"
check "bpstat shows node 0 at $FIXED0" \
    test "$(json_field "$(node_json 0)" addr)" = "$FIXED0"
# /proc/net/route: destination 0, gateway 10.11.0.1 in host byte order
routes=$("$BIN/bpsh" 0 cat /proc/net/route 2>&1)
if awk '$1 == "eth0" && $2 == "00000000" && $3 == "01000B0A" { f = 1 }
    END { exit !f }' <<<"$routes"; then
	pass "its default route is the lease's router"
else
	fail "its default route is the lease's router"
	printf '%s\n' "$routes" | sed 's/^/    /'
fi
check "udhcpc is gone (it quit after the lease)" \
    eval '! "$BIN/bpsh" 0 ps | grep -q "[u]dhcpc"'

finish
