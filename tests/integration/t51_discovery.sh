#!/bin/bash
# Discovery over PXE: `bpvcluster up -n 1 --qemu` with discovery on, then
# an extra QEMU machine whose MAC bpmaster has never seen
# (`bpvcluster start --mac`).  It PXE-boots with an address from dnsmasq's
# dynamic range, connects, gets the next free node number (persisted in
# the state file); bpmaster rewrites dnsmasq's hosts file and SIGHUPs it,
# so after `bpctl -R` the machine comes back with its fixed address and
# the same number, and again after a master restart (discovery now off:
# the number comes from the state file).  A second unknown machine is then
# refused, logged, and stays out of the node table and the hosts file.
. "$(dirname "$0")/lib.sh"

need_root
need_image
need_netboot

MAC1=52:54:00:ee:00:01		# discovered: becomes node 1
MAC2=52:54:00:ee:00:02		# arrives with discovery off: refused
FIXED1=10.11.0.17		# bpvcluster's boot_addr base 10.11.0.16 + 1
RANGE='^10\.11\.240\.'		# bpvcluster's dynamic range
export BPVC_DISCOVERY=on
export BPVC_TIMEOUT=${BPVC_TIMEOUT:-90}

say "# bpvcluster up -n 1 --qemu (discovery on)"
log=$(mktemp /tmp/bproc-up.XXXXXX)
on_exit "\"$BIN/bpvcluster\" down"
on_exit "rm -f '$log'"
if ! out=$("$BIN/bpvcluster" up -n 1 --qemu 2>"$log"); then
	sed 's/^/    /' "$log"
	die "bpvcluster up -n 1 --qemu failed"
fi
eval "$out"
HOSTS=$BPVC_STATE/boot/dnsmasq.hosts
MLOG=$BPVC_STATE/bpmaster.log
DLOG=$BPVC_STATE/boot/dnsmasq.log
DB=$BPVC_STATE/nodes.db

check "bpmaster wrote dnsmasq's hosts file at start" \
    grep -qx "52:54:00:bb:00:00,10.11.0.16,n0" "$HOSTS"
check "dnsmasq read it" grep -q "read $HOSTS" "$DLOG"

node_addr() { json_field "$(node_json "$1")" addr; }
node_count() { "$BIN/bpstat" --json 2>/dev/null | grep -c '^{"node"'; }
hosts_reads() { grep -c "read $HOSTS" "$DLOG"; }

say "# bpvcluster start --mac $MAC1 1 (unknown MAC)"
reads=$(hosts_reads)
"$BIN/bpvcluster" start --mac "$MAC1" 1 2>/dev/null ||
    die "bpvcluster start --mac $MAC1 1"
if ! wait_for '[ "$(node_state 1)" = up ]' 90; then
	show_log "$BPVC_STATE/node1.log"
	show_log "$MLOG"
	die "the new machine did not come up as node 1"
fi
say "    (up after $WAITED_MS ms)"
addr=$(node_addr 1)
check "it booted with an address from the dynamic range: $addr" \
    eval '[[ $addr =~ $RANGE ]]'
check "bpmaster logged the discovery" grep -q "node 1: discovered" "$MLOG"
check "node 1 is persisted in the state file" grep -qx "$MAC1 1" "$DB"
check "its hosts line is written" grep -qx "$MAC1,$FIXED1,n1" "$HOSTS"
check "dnsmasq was sent SIGHUP" grep -q "dnsmasq [0-9]*: SIGHUP" "$MLOG"
check "dnsmasq re-read the hosts file" \
    wait_for '[ "$(hosts_reads)" -gt "$reads" ]' 5

say "# bpctl -S 1 -R"
"$BIN/bpctl" -S 1 -R || fail "bpctl -S 1 -R"
check "node 1 leaves up" wait_for '[ "$(node_state 1)" != up ]' 10
check "node 1 PXE-boots back up" wait_for '[ "$(node_state 1)" = up ]' 90
say "    (up again after $WAITED_MS ms)"
check "with its fixed address $FIXED1: $(node_addr 1)" \
    test "$(node_addr 1)" = "$FIXED1"
check "dnsmasq leased it the fixed address" \
    grep -q "DHCPACK(.*) $FIXED1 $MAC1" "$DLOG"

# Restart bpmaster as bpvcluster started it, discovery off this time.
restart_master() {
	local pid ready
	pid=$(cat "$BPVC_STATE/bpmaster.pid")
	ready=$(grep -c 'ready:' "$MLOG")
	sed -i "s/^discovery .*/discovery $1/" "$BPVC_STATE/bpmaster.conf"
	kill -TERM "$pid"
	wait_for '! alive '"$pid" 10 || die "bpmaster $pid did not stop"
	setsid ip netns exec "$BPVC_NETNS" "$BIN/bpmaster" -d \
	    -c "$BPVC_STATE/bpmaster.conf" </dev/null >>"$MLOG" 2>&1 &
	echo $! >"$BPVC_STATE/bpmaster.pid"
	wait_for '[ "$(grep -c "ready:" "$MLOG")" -gt '"$ready"' ]' 10 ||
	    die "bpmaster did not say ready after the restart"
}

say "# bpmaster restart (discovery off)"
writes=$(grep -c "dhcp_hosts $HOSTS: 2 nodes" "$MLOG")
restart_master off
check "node 1 reconnects as node 1" wait_for '[ "$(node_state 1)" = up ]' 30
check "from $FIXED1" test "$(node_addr 1)" = "$FIXED1"
check "node 0 reconnects too" wait_for '[ "$(node_state 0)" = up ]' 30
check "the restarted master rewrote the hosts file from its state file" \
    test "$(grep -c "dhcp_hosts $HOSTS: 2 nodes" "$MLOG")" -gt "$writes"
check "with node 1's line" grep -qx "$MAC1,$FIXED1,n1" "$HOSTS"

say "# bpvcluster start --mac $MAC2 2 (unknown MAC, discovery off)"
"$BIN/bpvcluster" start --mac "$MAC2" 2 2>/dev/null ||
    die "bpvcluster start --mac $MAC2 2"
if wait_for 'grep -q "unknown MAC $MAC2 and discovery is off" "$MLOG"' 90
then
	pass "bpmaster refused it and logged why (after $WAITED_MS ms)"
else
	fail "bpmaster refused it and logged why"
	show_log "$BPVC_STATE/node2.log"
fi
check "it got an address from the dynamic range" \
    grep -Eq "DHCPACK\(.*\) 10\.11\.240\.[0-9]+ $MAC2" "$DLOG"
check "the node table still has 2 nodes" test "$(node_count)" = 2
check "it is not in the state file" eval '! grep -q "$MAC2" "$DB"'
check "it is not in the hosts file" eval '! grep -q "$MAC2" "$HOSTS"'
check "nodes 0 and 1 stay up" \
    test "$(node_state 0) $(node_state 1)" = "up up"

finish
