#!/bin/bash
# kill(2) from a node reaches processes elsewhere (issue 11/16): from node
# 1, a kill of a front-end process of the same user arrives (its trap
# runs), a kill of a process on node 2 by its PID arrives and ends it, a
# kill of another user's process fails EPERM and leaves it alone, a
# nonexistent PID fails ESRCH, kill -0 answers, sigqueue(3) goes the same
# way (and a forged SI_USER siginfo is refused as the kernel would), root
# may signal root's front-end process; local kills stay local and work;
# 2000 forwarded kills from 20 shells at once leave nodeinit and the
# master serving (bpstat answers during the flood); a kill while the
# master is away waits in its stop and arrives through the next master.
. "$(dirname "$0")/lib.sh"

need_root
need_image
need_cmd gcc runuser
need_file "$BIN/bpsh"
id nobody >/dev/null 2>&1 || skip "needs a user 'nobody'"
id daemon >/dev/null 2>&1 || skip "needs a second user, 'daemon'"

TMP=$(mktemp -d /tmp/t46.XXXXXX)
chmod 0755 "$TMP"
on_exit "rm -rf '$TMP'"
on_exit stop_jobs
W=$TMP/w		# where nobody's processes write
mkdir "$W" && chmod 0777 "$W"
gcc -O2 -o "$TMP/sq" "$TOP/tests/integration/t46_sigqueue.c" || die "cannot build t46_sigqueue.c"
chmod 0755 "$TMP/sq"
vcluster_up 3
user_tools
MPID=$(cat "$BPVC_STATE/bpmaster.pid")
N1=$(node_pid1 1)

# nbpsh N CMD: sh -c CMD on node N as nobody, its output (stderr too)
nbpsh() { timeout 30 runuser -u nobody -- "$UBIN/bpsh" "$1" sh -c "$2" 2>&1; }
# a process nobody runs on the front end: it notes every SIGUSR1
runuser -u nobody -- bash -c "trap 'echo usr1 >>$W/seen' USR1; echo \$\$ >$W/fe.pid;
    while :; do sleep 0.1; done" &
JOBS+=($!)
wait_for "[ -s '$W/fe.pid' ]" 5 || die "nobody's front-end bash did not start"
FE=$(cat "$W/fe.pid")
on_exit "kill -KILL $FE"
# one of root's
sleep 1000 &
ROOTFE=$!
JOBS+=($ROOTFE)

say "1. from node 1, nobody signals nobody's front-end process $FE"
out=$(nbpsh 1 "kill -USR1 $FE 2>&1; echo rc=\$?")
check "kill -USR1 $FE from node 1 returns 0 (got: $(echo $out))" eval "printf '%s\n' \"\$out\" | grep -qx rc=0"
wait_for "[ -s '$W/seen' ]" 5
check "the front-end process saw SIGUSR1 (its trap ran)" test -s "$W/seen"
out=$(nbpsh 1 "kill -0 $FE 2>&1; echo rc=\$?")
check "kill -0 $FE from node 1 returns 0 (got: $(echo $out))" eval "printf '%s\n' \"\$out\" | grep -qx rc=0"
check "and the process lives on" alive "$FE"

say "2. from node 1, nobody signals a process of nobody on node 2 by its PID"
runuser -u nobody -- "$UBIN/bpsh" 2 sh -c 'trap "echo got-usr1" USR1; echo $$ >/tmp/t46.pid;
    while :; do sleep 0.1; done' >"$TMP/n2.out" 2>&1 &
JOBS+=($!)
N2P=$(node_root 2)/tmp/t46.pid
wait_for "[ -s '$N2P' ]" 10 || die "the sh on node 2 did not start"
R=$(cat "$N2P")
on_exit "kill -KILL $R"
check "its PID $R is not on node 1" test ! -e "$(node_root 1)/proc/$R"
out=$(nbpsh 1 "kill -USR1 $R 2>&1; echo rc=\$?")
check "kill -USR1 $R from node 1 returns 0 (got: $(echo $out))" eval "printf '%s\n' \"\$out\" | grep -qx rc=0"
wait_for "grep -q got-usr1 '$TMP/n2.out'" 5
check "the sh on node 2 saw SIGUSR1 (its trap ran)" grep -q got-usr1 "$TMP/n2.out"
out=$(nbpsh 1 "kill -TERM $R 2>&1; echo rc=\$?")
check "kill -TERM $R from node 1 returns 0 (got: $(echo $out))" eval "printf '%s\n' \"\$out\" | grep -qx rc=0"
wait_for "! [ -e '$(node_root 2)/proc/$R' ]" 5
check "and ends it on node 2" test ! -e "$(node_root 2)/proc/$R"
wait_for "! alive $R" 5
check "and its ghost" eval "! alive $R"

say "3. another user's processes: EPERM, and they are unharmed"
out=$(nbpsh 1 "kill -USR1 $ROOTFE 2>&1; echo rc=\$?")
check "nobody's kill -USR1 of root's front-end $ROOTFE fails EPERM (got: $(echo $out))" \
    eval "printf '%s\n' \"\$out\" | grep -q 'not permitted' && printf '%s\n' \"\$out\" | grep -qx rc=1"
out=$(nbpsh 1 "kill -0 $ROOTFE 2>&1; echo rc=\$?")
check "nobody's kill -0 of it fails EPERM too, as the kernel's (got: $(echo $out))" \
    eval "printf '%s\n' \"\$out\" | grep -q 'not permitted'"
check "root's process lives on" alive "$ROOTFE"
# (on node 0: nobody's sh on node 2 is a file daemon may not run there)
runuser -u daemon -- "$UBIN/bpsh" 0 sh -c 'echo $$ >/tmp/t46d.pid; exec sleep 1000' >"$TMP/d.out" 2>&1 &
JOBS+=($!)
DP=$(node_root 0)/tmp/t46d.pid
dsleep() { [ -s "$DP" ] && grep -q sleep "$(node_root 0)/proc/$(cat "$DP")/comm"; }
wait_for dsleep 10 || { show_log "$TMP/d.out"; die "daemon's sleep on node 0 did not start"; }
D=$(cat "$DP")
on_exit "kill -KILL $D"
out=$(nbpsh 1 "kill -KILL $D 2>&1; echo rc=\$?")
check "nobody's kill -KILL of daemon's $D on node 0 fails EPERM (got: $(echo $out))" \
    eval "printf '%s\n' \"\$out\" | grep -q 'not permitted' && printf '%s\n' \"\$out\" | grep -qx rc=1"
sleep 0.3
check "daemon's sleep lives on, on node 0 and as a ghost" \
    eval "[ -e '$(node_root 0)/proc/$D' ] && alive $D"

say "4. a PID that is nowhere: ESRCH; the master's own PID: EPERM"
P=$(($(cat /proc/sys/kernel/pid_max) - 46))
while [ -e "/proc/$P" ] || [ -e "$(node_root 1)/proc/$P" ]; do P=$((P - 1)); done
out=$(nbpsh 1 "kill -0 $P 2>&1; echo rc=\$?; kill -USR1 $P 2>&1; echo rc=\$?")
check "kill -0 and kill -USR1 of $P fail ESRCH (got: $(echo $out))" \
    eval "[ \$(printf '%s\n' \"\$out\" | grep -c 'No such process') = 2 ] && [ \$(printf '%s\n' \"\$out\" | grep -cx rc=1) = 2 ]"
out=$(timeout 30 "$BIN/bpsh" 1 sh -c "kill -0 $MPID 2>&1; echo rc=\$?" 2>&1)
check "even root's kill -0 of bpmaster ($MPID) fails EPERM (got: $(echo $out))" \
    eval "printf '%s\n' \"\$out\" | grep -q 'not permitted'"

say "5. sigqueue(3) from node 1"
rm -f "$W/seen"
out=$(timeout 30 runuser -u nobody -- "$UBIN/bpsh" 1 "$TMP/sq" "$FE" 10 2>&1)
check "sigqueue($FE, SIGUSR1) returns 0 (got: $(echo $out))" test "$out" = rc=0
wait_for "[ -s '$W/seen' ]" 5
check "and the front-end process saw it" test -s "$W/seen"
# a waiter on the front end reads the siginfo: the sender's ghost, uid and value
runuser -u nobody -- "$TMP/sq" -w "$W/wait.pid" 12 >"$W/wait.out" 2>&1 &
JOBS+=($!)
wait_for "[ -s '$W/wait.pid' ]" 5 || die "the front-end waiter did not start"
WP=$(cat "$W/wait.pid")
on_exit "kill -KILL $WP"
timeout 30 runuser -u nobody -- "$UBIN/bpsh" 1 sh -c "echo \$\$ >/tmp/t46s.pid; exec $TMP/sq $WP 12" >"$TMP/sq.out" 2>&1
SQP=$(cat "$(node_root 1)/tmp/t46s.pid" 2>/dev/null)
wait_for "[ -s '$W/wait.out' ]" 5
check "sigqueue($WP, SIGUSR2, 46) from node 1 returns 0 ($(cat "$TMP/sq.out"))" grep -qx rc=0 "$TMP/sq.out"
check "and the waiter's siginfo is SI_QUEUE from the sender's ghost $SQP, uid nobody's, value 46 ($(cat "$W/wait.out"))" \
    test "$(cat "$W/wait.out")" = "code=queue pid=$SQP uid=$(id -u nobody) value=46"
out=$(timeout 30 runuser -u nobody -- "$UBIN/bpsh" 1 "$TMP/sq" "$ROOTFE" 10 2>&1)
check "sigqueue of root's process fails EPERM (got: $(echo $out))" test "$out" = "rc=-1 EPERM"
out=$(timeout 30 runuser -u nobody -- "$UBIN/bpsh" 1 "$TMP/sq" -u "$FE" 10 2>&1)
check "rt_sigqueueinfo with a forged SI_USER fails EPERM, as the kernel's (got: $(echo $out))" \
    test "$out" = "rc=-1 EPERM"
out=$(timeout 30 runuser -u nobody -- "$UBIN/bpsh" 1 "$TMP/sq" "$P" 10 2>&1)
check "sigqueue of a PID nowhere fails ESRCH (got: $(echo $out))" test "$out" = "rc=-1 ESRCH"

say "6. root on node 1 signals root's front-end process"
out=$(timeout 30 "$BIN/bpsh" 1 sh -c "kill -USR1 $ROOTFE 2>&1; echo rc=\$?" 2>&1)
check "root's kill -USR1 $ROOTFE returns 0 (got: $(echo $out))" eval "printf '%s\n' \"\$out\" | grep -qx rc=0"
wait "$ROOTFE" 2>/dev/null
RC=$?
check "and sleep died of SIGUSR1 (status $RC)" test "$RC" = 138

say "7. local kills stay local"
out=$(nbpsh 1 'sleep 100 & p=$!; kill $p; echo rc=$?; wait $p; echo st=$?; kill -0 $$; echo self=$?; kill -0 0; echo grp=$?')
check "a kill of a child on the node ends it (got: $(echo $out))" \
    eval "printf '%s\n' \"\$out\" | grep -qx rc=0 && printf '%s\n' \"\$out\" | grep -qx st=143"
check "kill -0 of itself and of its group answer 0" \
    eval "printf '%s\n' \"\$out\" | grep -qx self=0 && printf '%s\n' \"\$out\" | grep -qx grp=0"
t_tr=$(timeout 60 "$BIN/bpsh" 1 "$TMP/sq" -b 1000 2>&1)
t_un=$(BPROC_NOTRACK=1 timeout 60 "$BIN/bpsh" 1 "$TMP/sq" -b 1000 2>&1)
t_fw=$(timeout 60 "$BIN/bpsh" 1 "$TMP/sq" -b 1000 "$FE" 2>&1)
say "  1000 kill(getpid(), 0) on node 1: ${t_tr} us tracked, ${t_un} us untracked (no filter);"
say "  1000 kill($FE, 0) forwarded to the front end: ${t_fw} us (bench/nodekill_bench.sh has the ratios)"
check "1000 local and 1000 forwarded kill -0 all succeeded (numbers: $t_tr, $t_un, $t_fw)" \
    eval "[[ '$t_tr' =~ ^[0-9]+\$ && '$t_un' =~ ^[0-9]+\$ && '$t_fw' =~ ^[0-9]+\$ ]]"

say "8. a flood: 2000 forwarded kills from 20 shells at once on node 1"
rm -f "$W/seen"
runuser -u nobody -- "$UBIN/bpsh" 1 sh -c 'for j in $(seq 20); do
	(n=0; i=0; while [ $i -lt 100 ]; do kill -0 '"$FE"' || n=$((n+1)); i=$((i+1)); done; echo fails=$n) &
    done; wait' >"$TMP/flood.out" 2>&1 &
FL=$!
JOBS+=($FL)
max=0 polls=0
while alive "$FL"; do
	s=$(now_ms)
	timeout 10 "$BIN/bpstat" -p >/dev/null 2>&1 || max=99999
	d=$(($(now_ms) - s))
	((d > max)) && max=$d
	polls=$((polls + 1))
	sleep 0.05
done
wait "$FL"
check "every shell's 100 kills succeeded ($(grep -c '^fails=0$' "$TMP/flood.out") of 20 say fails=0)" \
    test "$(grep -c '^fails=0$' "$TMP/flood.out")" = 20
check "bpstat answered during the flood ($polls polls, slowest ${max} ms)" test "$max" -lt 3000
check "nodeinit of node 1 is the same PID 1 ($N1)" test "$(node_pid1 1)" = "$N1"
check "node 1 is up" test "$(node_state 1)" = up
out=$(nbpsh 1 "echo alive; kill -0 $FE 2>&1; echo rc=\$?")
check "and serves: a new bpsh runs and its kill still reaches $FE (got: $(echo $out))" \
    eval "printf '%s\n' \"\$out\" | grep -qx alive && printf '%s\n' \"\$out\" | grep -qx rc=0"
check "the master is the same process" alive "$MPID"

say "9. a kill while the master is away waits for the next master, and arrives"
N1R=$(node_root 1)
rm -f "$N1R/tmp/t46go" "$N1R/tmp/t46.rc" "$N1R/tmp/t46w.pid" "$W/seen"
# (it spins on builtins: a fork there would wait for the master too)
runuser -u nobody -- "$UBIN/bpsh" 1 sh -c 'echo $$ >/tmp/t46w.pid
    while [ ! -e /tmp/t46go ]; do :; done
    kill -USR1 '"$FE"' >/tmp/t46.err 2>&1; echo rc=$? >/tmp/t46.rc' >/dev/null 2>&1 &
JOBS+=($!)
wait_for "[ -s '$N1R/tmp/t46w.pid' ]" 10 || die "the waiting sh on node 1 did not start"
on_exit "kill -KILL $(cat "$N1R/tmp/t46w.pid")"
"$BIN/bpvcluster" kill master >/dev/null 2>&1 || fail "bpvcluster kill master"
sleep 0.2
: >"$N1R/tmp/t46go"
sleep 1.5
check "with no master the kill -USR1 $FE waits (no answer after 1.5 s: $(cat "$N1R/tmp/t46.rc" 2>/dev/null))" \
    test ! -e "$N1R/tmp/t46.rc"
check "and has not arrived" test ! -e "$W/seen"
"$BIN/bpvcluster" start master >/dev/null 2>&1 || fail "bpvcluster start master"
wait_for "[ -s '$N1R/tmp/t46.rc' ]" 20
check "once the next master is up it returns 0 ($(cat "$N1R/tmp/t46.rc" "$N1R/tmp/t46.err" 2>/dev/null | tr '\n' ' '))" \
    grep -qx rc=0 "$N1R/tmp/t46.rc"
wait_for "[ -s '$W/seen' ]" 5
check "and the front-end process saw SIGUSR1" test -s "$W/seen"
out=$(nbpsh 1 "kill -0 $FE 2>&1; echo rc=\$?")
check "a new kill is forwarded at once (got: $(echo $out))" \
    eval "printf '%s\n' \"\$out\" | grep -qx rc=0"
finish
