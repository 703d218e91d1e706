#!/bin/bash
# Out-of-band power through a simulated BMC: `bpvcluster up -n 1 --qemu
# --bmc` puts OpenIPMI's ipmi_sim (IPMI 2.0 over LAN, RMCP+) in front of
# the QEMU machine, its chassis control starting and killing QEMU, and
# gives bpmaster the "bmc" lines.  bpctl --power goes through bpmaster,
# which runs ipmitool -I lanplus: off stops the VM and the node goes down;
# on PXE-boots it back to up; cycle resets it; bpstat -l shows the BMC's
# word; a wrong password is an error naming the node; only root switches
# power; a node without a BMC says so.  The hung-node policy (off by
# default here) is t55's.
. "$(dirname "$0")/lib.sh"

need_root
need_image
need_netboot
need_cmd ipmi_sim ipmitool

HB_TIMEOUT_MS=3000	# bpvcluster's bpmaster.conf "timeout"
export BPVC_TIMEOUT=${BPVC_TIMEOUT:-120}	# TCG on a shared host: a boot took 30-60 s
UP_S=$BPVC_TIMEOUT	# what a node gets to come back up
# node 1 exists in the table but has no machine and no BMC
export BPVC_MASTER_CONF="nodes 2"

say "# bpvcluster up -n 1 --qemu --bmc (kernel $KREL)"
log=$(mktemp /tmp/bproc-up.XXXXXX)
on_exit "\"$BIN/bpvcluster\" down"
on_exit "rm -f '$log' '$log.err'"
if ! out=$("$BIN/bpvcluster" up -n 1 --qemu --bmc 2>"$log"); then
	sed 's/^/    /' "$log"
	die "bpvcluster up -n 1 --qemu --bmc failed"
fi
eval "$out"
pass "node 0 up behind ipmi_sim"
MLOG=$BPVC_STATE/bpmaster.log
sim=$(cat "$BPVC_STATE/bmc0.pid" 2>/dev/null)
check "ipmi_sim runs (pid $sim)" test "$(cat "/proc/${sim:-0}/comm" 2>/dev/null)" = ipmi_sim
check "the password file is root's, mode 0600" \
    test "$(stat -c %U:%a "$BPVC_STATE/bmc.pass")" = root:600

qemu_pid() { "$BIN/bpvcluster" status 2>/dev/null | awk '$1 == 0 { print $3 }'; }
# power_col: node 0's Power column in bpstat -l (the last one)
power_col() { "$BIN/bpstat" -l 0 2>/dev/null | awk 'NR == 2 { print $NF }'; }

out=$("$BIN/bpctl" -S 0 --power status 2>&1)
check "bpctl -S 0 --power status: $out" test "$out" = "0: on"
check "bpstat -l has a Power column, on" \
    eval '"$BIN/bpstat" -l | head -n1 | grep -q " Power$" && [ "$(power_col)" = on ]'
check "bpstat --json has \"power\": \"on\"" \
    eval '"$BIN/bpstat" --json | grep -q "\"node\": 0,.*\"power\": \"on\""'

user_tools
out=$(runuser -u nobody -- "$UBIN/bpctl" -S 0 --power off 2>&1)
check "nobody may not switch the power: $out" test "$out" = "bpctl: needs root to switch the power of node 0"
out=$(runuser -u nobody -- "$UBIN/bpctl" -S 0 --power status 2>&1)
check "nobody may ask: $out" test "$out" = "0: on"
out=$("$BIN/bpctl" -S 1 --power on 2>&1)
check "a node without a BMC says so: $out" \
    eval '[[ $out == "1: node 1 has no BMC"* ]]'

say "# bpctl -S 0 --power off"
q=$(qemu_pid)
"$BIN/bpctl" -S 0 --power off || fail "bpctl -S 0 --power off"
check "the VM stopped (QEMU $q gone)" wait_for '! alive "$q"' 10
check "node 0 down within the heartbeat timeout" \
    wait_for '[ "$(node_state 0)" = down ]' $(( HB_TIMEOUT_MS / 1000 + 3 ))
out=$("$BIN/bpctl" -S 0 --power status 2>&1)
check "--power status: $out" test "$out" = "0: off"
check "bpstat -l says off" test "$(power_col)" = off
check "bpmaster logged it" grep -q "node 0: power off through its BMC, by uid 0" "$MLOG"

say "# bpctl -S 0 --power on"
"$BIN/bpctl" -S 0 --power on || fail "bpctl -S 0 --power on"
check "node 0 PXE-boots and is up" wait_for '[ "$(node_state 0)" = up ]' "$UP_S"
say "    (up after $WAITED_MS ms)"
check "bpstat -l says on" test "$(power_col)" = on

say "# bpctl -S 0 --power cycle"
q=$(qemu_pid)
"$BIN/bpctl" -S 0 --power cycle || fail "bpctl -S 0 --power cycle"
check "the VM was reset (QEMU $q gone)" wait_for '! alive "$q"' 10
check "node 0 leaves up" wait_for '[ "$(node_state 0)" != up ]' 10
check "node 0 is up again" wait_for '[ "$(node_state 0)" = up ]' "$UP_S"
say "    (up again after $WAITED_MS ms, new QEMU $(qemu_pid))"

say "# a wrong BMC password"
cp -p "$BPVC_STATE/bmc.pass" "$log.pass"
on_exit "rm -f '$log.pass'"
echo not-the-password >"$BPVC_STATE/bmc.pass"
"$BIN/bpctl" -S 0 --power cycle >"$log" 2>"$log.err"
rc=$?
err=$(cat "$log.err")
check "bpctl exits 1 (got $rc)" test "$rc" = 1
check "the error names the node and the cause: $err" \
    eval '[[ $err == "0: BMC 127.0.0.1:6230 refused the login of user admin (wrong user or password in "*"): Error: Unable to establish IPMI v2 / RMCP+ session" ]]'
check "node 0 stays up" test "$(node_state 0)" = up
cp -p "$log.pass" "$BPVC_STATE/bmc.pass"
out=$("$BIN/bpctl" -S 0 --power status 2>&1)
check "with the right one again: $out" test "$out" = "0: on"

finish
