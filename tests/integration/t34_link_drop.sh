#!/bin/bash
# A node whose link drops and comes back within master_grace keeps its
# processes while bpmaster stays up (issue 13): `bpvcluster unplug N`
# pulls the cable, `plug N` puts it back.  Output, stdin, a signal sent
# during the outage and the exit status come through once each; the
# ghosts are the same PIDs.  A cable out longer than the grace ends the
# processes on both sides with a message saying why; a node that is
# killed (its PID 1 gone) still takes its processes down at once; a
# node that comes back rebooted says it has nothing, and the ghosts
# waiting for it are told so.
. "$(dirname "$0")/lib.sh"

need_root
need_image
need_file "$BIN/bpsh"

GRACE=${T34_GRACE:-10}		# master_grace of this cluster, s
OUT_S=5				# how long the cable is out within the grace
TMP=$(mktemp -d /tmp/t34.XXXXXX)
on_exit "rm -rf '$TMP'"
on_exit stop_jobs
bpvc() { "$BIN/bpvcluster" "$@"; }
# procs_on N: the ghost PIDs bpstat -p shows on node N, sorted
procs_on() { "$BIN/bpstat" -p 2>/dev/null | awk -v n="$1" 'NR > 1 && $2 == n { print $1 }' | sort -n; }
on_exit "'$BIN/bpvcluster' plug 0 >/dev/null 2>&1; '$BIN/bpvcluster' plug 1 >/dev/null 2>&1; '$BIN/bpvcluster' plug 2 >/dev/null 2>&1"

export BPVC_MASTER_CONF="master_grace $GRACE"
say "# bpvcluster up -n 4 (master_grace $GRACE s)"
vcluster_up 4
MASTER=$(cat "$BPVC_STATE/bpmaster.pid")

say "# node 1's cable out for $OUT_S s: a counter, stdin, a signal, sleep 60"
"$BIN/bpsh" 1 sh -c 'i=0; while [ $i -lt 50 ]; do echo $i; i=$((i+1)); sleep 0.2; done' \
    >"$TMP/out" 2>"$TMP/err" &
C=$!
JOBS+=($C)
mkfifo "$TMP/in"
"$BIN/bpsh" 1 cat <"$TMP/in" >"$TMP/cat" 2>"$TMP/cat.err" &
K=$!
JOBS+=($K)
exec 7>"$TMP/in"
echo before >&7
"$BIN/bpsh" 1 sh -c 'trap "echo usr1; exit 7" USR1; while :; do sleep 0.1; done' \
    >"$TMP/sig" 2>"$TMP/sig.err" 7>&- &
U=$!
JOBS+=($U)
"$BIN/bpsh" 1 sleep 60 7>&- &
S=$!
JOBS+=($S)
wait_for '[ "$(procs_on 1 | wc -l)" -ge 4 ] && [ "$(wc -l <"$TMP/out")" -ge 5 ] && [ -s "$TMP/cat" ]' 15
bpvc unplug 1 >/dev/null 2>&1 || fail "bpvcluster unplug 1"
wait_for '[ "$(node_state 1)" = down ]' 10
check "the master sees node 1's link lost: down" test "$(node_state 1)" = down
check "its processes are still in bpstat -p while it is down" \
    eval "[ \"\$(procs_on 1 | grep -cxE '$C|$K|$U|$S')\" = 4 ]"
check "bpmaster says they wait for it" \
    grep -q "node 1: link lost.*wait for it up to master_grace" "$BPVC_STATE/bpmaster.log"
"$BIN/bpsh" 1 true 2>"$TMP/new.err"
rc=$?
check "a new bpsh 1 fails at once: status 255, '1: Node is down' (got $rc, '$(cat "$TMP/new.err")')" \
    eval "[ $rc = 255 ] && grep -qx '1: Node is down' '$TMP/new.err'"
echo during >&7
kill -USR1 "$U"
sleep "$OUT_S"
check "bpsh of the counter waits (not ended during the outage)" kill -0 "$C"
bpvc plug 1 >/dev/null 2>&1 || fail "bpvcluster plug 1"
wait_for '[ "$(node_state 1)" = up ]' 15
check "node 1 up again after the cable is back" test "$(node_state 1)" = up
echo after >&7
exec 7>&-
wait "$C"
rc=$?
check "the counter's bpsh exits 0 (got $rc; $(head -c 200 "$TMP/err"))" test "$rc" = 0
check "its output holds 0..49 in order, each once" cmp -s "$TMP/out" <(seq 0 49)
wait "$K"
rc=$?
check "stdin written during the outage arrives, once, in order (bpsh cat: $rc, $(tr '\n' ' ' <"$TMP/cat"))" \
    eval "[ $rc = 0 ] && printf 'before\nduring\nafter\n' | cmp -s - '$TMP/cat'"
wait "$U"
rc=$?
check "the SIGUSR1 sent during the outage is delivered after it (exit $rc, output '$(cat "$TMP/sig")')" \
    eval "[ $rc = 7 ] && [ \"\$(cat '$TMP/sig')\" = usr1 ]"
check "bpsh 1 sleep 60 is the same ghost ($S) in bpstat -p" eval "procs_on 1 | grep -qx $S"
kill -TERM "$S"
wait "$S"
rc=$?
check "kill -TERM after the outage: 143 (got $rc)" test "$rc" = 143
check "and the sleep is gone from node 1" eval "! node_procs 1 | grep -q sleep"
check "bpmaster did not restart" test "$(cat "$BPVC_STATE/bpmaster.pid")" = "$MASTER"
JOBS=()

say "# node 2's cable out past master_grace ($GRACE s)"
"$BIN/bpsh" 2 sleep 300 >"$TMP/g.out" 2>"$TMP/g.err" &
G=$!
JOBS+=($G)
wait_for '[ "$(procs_on 2 | wc -l)" = 1 ]' 10
bpvc unplug 2 >/dev/null 2>&1 || fail "bpvcluster unplug 2"
wait_for '! kill -0 '"$G"' 2>/dev/null' $((GRACE + 15))
wait "$G"
rc=$?
check "the ghost exits 137 (got $rc)" test "$rc" = 137
check "saying why ($(cat "$TMP/g.err"))" grep -q "^2: node 2 was out of reach longer than master_grace" "$TMP/g.err"
wait_for 'grep -q "master_grace.*ending" "$BPVC_STATE/node2.log"' 10
check "node 2 ended its process alone, saying why" grep -q "master_grace.*ending 1 processes" "$BPVC_STATE/node2.log"
check "nothing of node 2 left in bpstat -p" test -z "$(procs_on 2)"
bpvc plug 2 >/dev/null 2>&1 || fail "bpvcluster plug 2"
wait_for '[ "$(node_state 2)" = up ]' 15
check "node 2 up again, without a reboot" \
    eval "[ \"\$(node_state 2)\" = up ] && ! grep -q rebooting '$BPVC_STATE/node2.log'"
check "and no sleep left on it" eval "! node_procs 2 | grep -q sleep"
JOBS=()

say "# node 3 killed (bpvcluster kill 3): its processes go at once"
"$BIN/bpsh" 3 sleep 300 2>"$TMP/k.err" &
D=$!
JOBS+=($D)
wait_for '[ "$(procs_on 3 | wc -l)" = 1 ]' 10
bpvc kill 3 >/dev/null 2>&1 || fail "bpvcluster kill 3"
wait_for '! kill -0 '"$D"' 2>/dev/null' 10
wait "$D"
rc=$?
check "the ghost exits 137 with '3: Node is down', not after a grace (got $rc, '$(cat "$TMP/k.err")')" \
    eval "[ $rc = 137 ] && grep -qx '3: Node is down' '$TMP/k.err'"
check "bpmaster kept nothing waiting for node 3" \
    eval "! grep -q 'node 3: link lost' '$BPVC_STATE/bpmaster.log'"
bpvc start -w 3 >/dev/null 2>&1 || fail "bpvcluster start -w 3"
JOBS=()

say "# node 0 powered off while unplugged, back rebooted: its ghost is told"
"$BIN/bpsh" 0 sleep 300 2>"$TMP/r.err" &
R=$!
JOBS+=($R)
wait_for '[ "$(procs_on 0 | wc -l)" = 1 ]' 10
bpvc unplug 0 >/dev/null 2>&1 || fail "bpvcluster unplug 0"
bpvc kill 0 >/dev/null 2>&1 || fail "bpvcluster kill 0"
check "the ghost still waits (the master cannot tell a dead node behind a pulled cable)" kill -0 "$R"
bpvc start -w 0 >/dev/null 2>&1 || fail "bpvcluster start -w 0"
wait_for '! kill -0 '"$R"' 2>/dev/null' 10
wait "$R"
rc=$?
check "once node 0 is back without it, the ghost exits 137 saying so (got $rc, '$(cat "$TMP/r.err")')" \
    eval "[ $rc = 137 ] && grep -q '^0: node 0 came back without this process' '$TMP/r.err'"
JOBS=()
check "nothing left in bpstat -p" test -z "$("$BIN/bpstat" -p | tail -n +2)"
check "bpstat: all 4 nodes up" test "$("$BIN/bpstat" --json | grep -c '"state": "up"')" = 4
finish
