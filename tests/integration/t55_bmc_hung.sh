#!/bin/bash
# The hung-node policy (bmc_hung): `bpvcluster up -n 1 --qemu --bmc` with
# bmc_hung set; the machine then hangs (its QEMU SIGSTOPped: power on,
# nothing answers), goes down, and after bmc_hung seconds bpmaster
# power-cycles it through its BMC (ipmi_sim): the stopped VM is gone, a
# new one PXE-boots to up, and the policy leaves a node that is up alone.
. "$(dirname "$0")/lib.sh"

need_root
need_image
need_netboot
need_cmd ipmi_sim ipmitool

export BPVC_TIMEOUT=${BPVC_TIMEOUT:-120}	# TCG on a shared host: a boot took 30-60 s
UP_S=$BPVC_TIMEOUT
# longer than any boot here, or the policy cycles a node that is still
# booting after its power-on (it cannot tell booting from hung): a PXE
# boot takes 16-22 s here (t50, t55's own "up again after"), 50 s leaves
# more than twice that; T55_HUNG_S=90 on a host where boots take a minute
HUNG_S=${T55_HUNG_S:-50}
export BPVC_BMC_CONF="bmc_hung $HUNG_S"

say "# bpvcluster up -n 1 --qemu --bmc, bmc_hung $HUNG_S (kernel $KREL)"
log=$(mktemp /tmp/bproc-up.XXXXXX)
on_exit "\"$BIN/bpvcluster\" down"
on_exit "rm -f '$log'"
if ! out=$("$BIN/bpvcluster" up -n 1 --qemu --bmc 2>"$log"); then
	sed 's/^/    /' "$log"
	die "bpvcluster up -n 1 --qemu --bmc failed"
fi
eval "$out"
pass "node 0 up behind ipmi_sim"
MLOG=$BPVC_STATE/bpmaster.log
check "bpmaster announced the policy" \
    grep -q "a node down $HUNG_S s with its power on is power-cycled" "$MLOG"
out=$("$BIN/bpctl" -S 0 --power status 2>&1)
check "its BMC says: $out" test "$out" = "0: on"

q=$("$BIN/bpvcluster" status 2>/dev/null | awk '$1 == 0 { print $3 }')
say "# QEMU $q stopped"
kill -STOP "$q"
check "node 0 goes down" wait_for '[ "$(node_state 0)" = down ]' 10
start=$(now_ms)
check "bpmaster power-cycles it after $HUNG_S s" \
    wait_for 'grep -q "node 0: down for .* power-cycling it (bmc_hung $HUNG_S)" "$MLOG"' $((HUNG_S + 10))
waited=$(( $(now_ms) - start ))
check "not before (${waited} ms after it went down)" test "$waited" -ge $(( (HUNG_S - 2) * 1000 ))
if wait_for '! alive "$q"' 20; then
	pass "the stopped VM is gone (after $WAITED_MS ms)"
else
	fail "the stopped VM is gone"
	show_log "$MLOG" 15
	show_log "$BPVC_STATE/bmc0/ipmi_sim.log" 10
fi
check "node 0 is up again" wait_for '[ "$(node_state 0)" = up ]' "$UP_S"
say "    (up again after $WAITED_MS ms)"
check "bpmaster cycled it once" \
    test "$(grep -c "node 0: down for .* power-cycling it" "$MLOG")" = 1

finish
