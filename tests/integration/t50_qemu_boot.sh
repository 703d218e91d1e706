#!/bin/bash
# Network boot end to end: `bpvcluster up -n 2 --qemu` makes two QEMU
# machines (TCG) with no disk that PXE-boot from dnsmasq on a bridge inside
# the test's own network namespace: node 0 through the NIC's iPXE ROM and
# boot/bproc.ipxe (kernel and image over HTTP from lighttpd), node 1
# through pxelinux.0 and pxelinux.cfg (TFTP, IPAPPEND).
# Both must pass through every boot stage to `up`; bpsh runs on them;
# bpctl -R reboots one (it PXE-boots again and comes back up); a machine
# whose power is cut (QEMU killed: no FIN) is down within the heartbeat
# timeout.
. "$(dirname "$0")/lib.sh"

need_root
need_image
need_netboot

HB_TIMEOUT_MS=3000	# bpvcluster's bpmaster.conf "timeout"
HB_MS=1000		# and "heartbeat"
export BPVC_PXELINUX=1	# node 1 boots through syslinux
export BPVC_TIMEOUT=${BPVC_TIMEOUT:-90}	# TCG: two machines share the CPUs

say "# bpvcluster up -n 2 --qemu (kernel $KREL)"
start=$(now_ms)
log=$(mktemp /tmp/bproc-up.XXXXXX)
on_exit "\"$BIN/bpvcluster\" down"
on_exit "rm -f '$log'"
if ! out=$("$BIN/bpvcluster" up -n 2 --qemu 2>"$log"); then
	sed 's/^/    /' "$log"
	die "bpvcluster up -n 2 --qemu failed"
fi
eval "$out"
pass "2 QEMU nodes up in $(( $(now_ms) - start )) ms"

DLOG=$BPVC_STATE/boot/dnsmasq.log
ALOG=$BPVC_STATE/boot/lighttpd.access.log
for f in bproc.ipxe vmlinuz initramfs.cpio.lz4; do
	check "node 0 (iPXE) fetched $f over HTTP from lighttpd" \
	    grep -q "^10.11.0.16 .*\"GET /$f HTTP/1.1\" 200 " "$ALOG"
done
lpid=$(cat "$BPVC_STATE/boot/lighttpd.pid" 2>/dev/null)
check "lighttpd dropped root for dnsmasq's user" \
    test "$(ps -o user= -p "${lpid:-0}" 2>/dev/null)" = dnsmasq
status=$(ip netns exec "$BPVC_NETNS" bash -c 'exec 3<>/dev/tcp/10.11.0.1/80 &&
    printf "GET / HTTP/1.0\r\n\r\n" >&3 && head -n 1 <&3' 2>/dev/null | tr -d '\r')
check "lighttpd lists no directory (GET / -> $status)" \
    eval '[[ $status =~ ^HTTP/1\.[01]\ (403|404) ]]'
check "bpmaster wrote node 1's hosts line with the pxelinux tag" \
    grep -qx "52:54:00:bb:00:01,10.11.0.17,n1,set:pxelinux" \
    "$BPVC_STATE/boot/dnsmasq.hosts"
check "node 1 fetched pxelinux.0 and its config over TFTP" \
    grep -q "sent .*/pxelinux.cfg/default to 10.11.0.17" "$DLOG"
for i in 0 1; do
	c=$BPVC_STATE/node$i.log
	ok=1
	for s in "kernel -> network" "network -> connected" \
	    "connected -> setup" "setup -> up"; do
		grep -q "boot stage $s" "$c" || { ok=0; say "    node $i: no '$s'"; }
	done
	check "node $i went through every boot stage" test "$ok" = 1
	check "node $i loaded its NIC modules" grep -q "kernel modules loaded" "$c"
	[ "$ok" = 1 ] || show_log "$c"
done
check "node 1's kernel got the lease from IPAPPEND" \
    eval '"$BIN/bpsh" 1 cat /proc/cmdline | grep -q "ip=10.11.0.17:10.11.0.1:10.11.0.1:255.255.0.0"'

out=$("$BIN/bpsh" 0-1 uname -r 2>&1)
check "bpsh 0-1 uname -r prints $KREL twice" \
    test "$(printf '%s\n' "$out" | grep -cx "$KREL")" = 2
comm=$("$BIN/bpsh" 1 cat /proc/1/comm 2>&1)
check "bpsh 1 cat /proc/1/comm prints nodeinit (it runs as /init): $comm" \
    test "$comm" = nodeinit
# a front-end program with several libraries the image lacks, pushed
if [ -x /usr/bin/openssl ]; then
	want=$(printf abc | openssl dgst -sha256)
	out=$(printf abc | "$BIN/bpsh" 0 openssl dgst -sha256 2>&1)
	check "bpsh 0 openssl dgst -sha256 (pushed with its $(ldd /usr/bin/openssl | grep -c '=>') libraries) matches the front end: $out" \
	    test -n "$want" -a "$out" = "$want"
fi
out=$("$BIN/bpsh" 0 cat /proc/sys/kernel/pid_max 2>&1)
check "nodeinit raised node 0's pid_max to 4194304 (got $out)" test "$out" = 4194304
# the ghost shows sh, then sleep once the node reports the exec
ghost_is_sh_or_sleep() {
	case $(ps -o comm= -p "${1:-0}" 2>/dev/null) in sh | sleep) return 0 ;; esac
	return 1
}
"$BIN/bpsh" 0 sh -c 'echo $$; exec sleep 5' >"$log.pid" 2>&1 &
bp=$!
wait_for '[ -s "$log.pid" ]' 10
rpid=$(head -n1 "$log.pid")
check "the remote process has its ghost's PID ($rpid, front end: $(ps -o comm= -p "$rpid" 2>/dev/null))" \
    ghost_is_sh_or_sleep "$rpid"
kill -KILL "$bp" 2>/dev/null
wait "$bp" 2>/dev/null
rm -f "$log.pid"

say "# bpctl -S 1 -R"
"$BIN/bpctl" -S 1 -R || fail "bpctl -S 1 -R"
check "node 1 leaves up" wait_for '[ "$(node_state 1)" != up ]' 10
check "node 1 PXE-boots again and is up" \
    wait_for '[ "$(node_state 1)" = up ]' 60
say "    (up again after $WAITED_MS ms)"

say "# bpvcluster kill 1"
"$BIN/bpvcluster" kill 1 2>/dev/null || fail "bpvcluster kill 1"
check "node 1 down within the heartbeat timeout" \
    wait_for '[ "$(node_state 1)" = down ]' $(( (HB_TIMEOUT_MS + 2 * HB_MS) / 1000 ))
say "    (down after $WAITED_MS ms; timeout $HB_TIMEOUT_MS ms)"
check "node 0 stays up" test "$(node_state 0)" = up

finish
