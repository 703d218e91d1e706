#!/bin/bash
# The whole process tree (issue 11): every process a remote process forks
# gets a ghost at its node PID, parented like on the node; signals reach
# it and its exit reaches the ghost; an exec shows in ps; a daemon that
# double-forks stays visible, owned by its user; short-lived children
# leave nothing behind; threads get no ghost and do not disturb 200 runs
# beside them; a fork bomb under ulimit -u leaves master and node serving;
# a PID taken on the node falls back to a mapping bpstat shows; a
# setsid on the node moves the ghost into a session of its own; an exec
# with a longer argv than the first shows it whole.
. "$(dirname "$0")/lib.sh"

need_root
need_image
need_cmd gcc runuser ps
need_file "$BIN/bpsh"
id nobody >/dev/null 2>&1 || skip "needs a user 'nobody'"
id daemon >/dev/null 2>&1 || skip "needs a second user, 'daemon'"

TMP=$(mktemp -d /tmp/t45.XXXXXX)
chmod 0755 "$TMP"
on_exit "rm -rf '$TMP'"
vcluster_up 4
user_tools
MYNS=$(readlink /proc/self/ns/pid)
MPID=$(cat "$BPVC_STATE/bpmaster.pid")

bpstat_p() { "$BIN/bpstat" -p "$@" 2>/dev/null; }
# ghost PID: a front-end process (our pid namespace), not a node's
ghost() { [ "$(readlink "/proc/$1/ns/pid" 2>/dev/null)" = "$MYNS" ] && alive "$1"; }
# on_node N PID: PID lives on node N (seen in its pid namespace)
on_node() { alive "$(node_pid1 "$1")" && [ -e "$(node_root "$1")/proc/$2/status" ] &&
	! grep -q '^State:[[:space:]]*Z' "$(node_root "$1")/proc/$2/status"; }
ppid_of() { ps -o ppid= -p "$1" 2>/dev/null | tr -d ' '; }
cmd_of() { ps -o args= -p "$1" 2>/dev/null; }
nfds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
vmrss() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status"; }

say "1. bpsh 0 sh -c 'sleep 100 & sleep 200 & wait': three ghosts, one tree"
"$BIN/bpsh" 0 sh -c 'sleep 100 & a=$!; sleep 200 & b=$!; echo "$a $b" >/tmp/kids;
    wait $a; echo "a=$?"; wait $b; echo "b=$?"' >"$TMP/o1" 2>&1 &
SH=$!
on_exit "kill -9 $SH"
wait_for "[ -s '$(node_root 0)/tmp/kids' ]" 10 || die "the node's sh did not start its children"
read -r A B <"$(node_root 0)/tmp/kids"
wait_for "ghost $A && ghost $B" 5
check "the sleeps' node PIDs $A and $B are ghosts on the front end" eval "ghost $A && ghost $B"
check "and processes on node 0" eval "on_node 0 $A && on_node 0 $B && on_node 0 $SH"
check "their ghosts are children of the sh's ghost $SH (ppid $(ppid_of "$A"), $(ppid_of "$B"))" \
    eval "[ '$(ppid_of "$A")' = $SH ] && [ '$(ppid_of "$B")' = $SH ]"
forest=$(ps -o pid=,args= --forest -p "$SH,$A,$B" 2>/dev/null)
check "ps --forest draws them under sh" eval "printf '%s\n' \"\$forest\" | grep -q '\\\\_ sleep 100'"
check "the ghosts show the exec'd argv (ps: '$(cmd_of "$A")')" test "$(cmd_of "$A")" = "sleep 100"
row=$(bpstat_p 0 | awk -F'\t' -v p="$A" '$1 == p')
check "bpstat -p lists $A with its PPID and command ($row)" \
    eval "printf '%s\n' \"\$row\" | awk -F'\t' -v s=$SH '\$4 == s && \$6 == \"sleep 100\" {ok=1} END {exit !ok}'"
json=$("$BIN/bpstat" -p --json | grep "\"pid\": $B,")
check "bpstat -p --json has \"ppid\": $SH for $B" eval "printf '%s' \"\$json\" | grep -q '\"ppid\": $SH,'"
kill "$A"
wait_for "! on_node 0 $A" 5
check "kill of the ghost $A ends sleep 100 on the node" eval "! on_node 0 $A"
wait_for "! ghost $A" 5
check "and its ghost is gone" eval "! ghost $A"
kill -STOP "$B"
wait_for "grep -q '^State:[[:space:]]*[tT]' '$(node_root 0)/proc/$B/status'" 5
check "kill -STOP of the ghost stops sleep 200 on the node" \
    grep -q '^State:[[:space:]]*[tT]' "$(node_root 0)/proc/$B/status"
kill -CONT "$B"
wait_for "grep -q '^State:[[:space:]]*S' '$(node_root 0)/proc/$B/status'" 5
check "kill -CONT continues it" grep -q '^State:[[:space:]]*S' "$(node_root 0)/proc/$B/status"
kill -KILL "$B"
wait_for "! alive $SH" 10
wait "$SH"
RC=$?
check "the sh's wait saw SIGTERM and SIGKILL (a=143, b=137; got $(tr '\n' ' ' <"$TMP/o1"))" \
    eval "grep -qx a=143 '$TMP/o1' && grep -qx b=137 '$TMP/o1'"
check "bpsh exits with the sh's status 0 (got $RC)" test "$RC" = 0
wait_for "[ -z \"\$(bpstat_p 0 | tail -n +2)\" ]" 5
check "no process of node 0 is left in bpstat -p" eval "[ -z \"\$(bpstat_p 0 | tail -n +2)\" ]"

say "2. a double-forking daemon, as nobody"
t0=$(now_ms)
timeout 20 runuser -u nobody -- "$UBIN/bpsh" 1 sh -c 'setsid sh -c "sleep 300 & echo \$! >/tmp/daemon" &' \
    >/dev/null 2>&1
RC=$?
check "bpsh returns at once, as a local shell would ($(( $(now_ms) - t0 )) ms, exit $RC)" \
    eval "[ $RC = 0 ] && [ $(( $(now_ms) - t0 )) -lt 5000 ]"
wait_for "[ -s '$(node_root 1)/tmp/daemon' ]" 5
D=$(cat "$(node_root 1)/tmp/daemon" 2>/dev/null)
on_exit "kill -9 $D"
check "the daemon's sleep ($D) has a ghost after bpsh returned" eval "[ -n '$D' ] && ghost $D && on_node 1 $D"
check "ps shows it owned by nobody (user $(ps -o user= -p "$D"))" test "$(ps -o user= -p "$D" | tr -d ' ')" = nobody
row=$(bpstat_p 1 | awk -F'\t' -v p="$D" '$1 == p')
check "bpstat -p lists it, user nobody ($row)" \
    eval "printf '%s\n' \"\$row\" | awk -F'\t' '\$5 == \"nobody\" && \$6 == \"sleep 300\" {ok=1} END {exit !ok}'"
check "another user (daemon) may not kill it" eval "! runuser -u daemon -- kill $D 2>/dev/null"
check "it still runs on node 1" on_node 1 "$D"
# the node's setsid made the daemon's session; its ghost follows (MSG_PGRP)
nsid=$(awk '{print $6}' "$(node_root 1)/proc/$D/stat" 2>/dev/null)
gsid=$(ps -o sid= -p "$D" | tr -d ' ')
mysid=$(ps -o sid= -p $$ | tr -d ' ')
check "its ghost is in the session the node's setsid made ($gsid; node $nsid; ours $mysid)" \
    eval "[ -n '$gsid' ] && [ '$gsid' = '$nsid' ] && [ '$gsid' != '$mysid' ]"
runuser -u nobody -- kill "$D"
wait_for "! on_node 1 $D && ! ghost $D" 5
check "its owner kills it: gone on node 1 and on the front end" eval "! on_node 1 $D && ! ghost $D"

say "3. 500 short-lived children leave nothing behind"
"$BIN/bpsh" 2 true
fds0=$(nfds "$MPID")
rss0=$(vmrss "$MPID")
"$BIN/bpsh" 2 sh -c 'for i in $(seq 500); do /bin/true; done'
RC=$?
check "the loop of 500 /bin/true ends with 0 (got $RC)" test "$RC" = 0
sleep 0.5
left=$(bpstat_p 2 | tail -n +2 | wc -l)
check "no ghost of node 2 is left (bpstat -p: $left)" test "$left" = 0
fds1=$(nfds "$MPID")
rss1=$(vmrss "$MPID")
check "bpmaster's descriptors: $fds0 before, $fds1 after" test "$fds1" -le "$fds0"
if sanitized; then
	say "  (bpmaster RSS $rss0 -> $rss1 kB: not checked under the sanitizer build)"
else
	check "bpmaster's RSS: $rss0 kB before, $rss1 kB after (at most 512 kB more)" \
	    test "$rss1" -le $((rss0 + 512))
fi
check "node 2 runs nothing but nodeinit ($(node_procs 2))" test -z "$(node_procs 2)"
# the sh's spare child ghost (spare.c) goes with it
wait_for "! pgrep -f 'for i in .(seq 500)' >/dev/null" 5
check "no ghost of the loop is left on the front end, spare included ($(pgrep -f 'for i in .(seq 500)' | tr '\n' ' '))" \
    eval "! pgrep -f 'for i in .(seq 500)' >/dev/null"

say "4. a 64-thread program while 200 bpsh runs start on its node"
gcc -O2 -pthread -o "$TMP/threads" "$TOP/tests/integration/t45_threads.c" || die "cannot build t45_threads.c"
"$BIN/bpsh" 3 "$TMP/threads" 8 >/dev/null 2>&1 &
TH=$!
on_exit "kill -9 $TH"
sleep 1
nth=$(ls "$(node_root 3)/proc/$TH/task" 2>/dev/null | wc -l)
check "the threaded program runs with its threads ($nth tasks) under one ghost" \
    eval "[ $nth -gt 32 ] && [ \$(bpstat_p 3 | tail -n +2 | wc -l) = 1 ]"
bad=0
for b in $(seq 20); do
	for i in $(seq 10); do
		n=$(( (b * 10 + i) % 7 ))
		( "$BIN/bpsh" 3 sh -c "true & wait; exit $n" >/dev/null 2>&1; r=$?
		  [ "$r" = "$n" ] || echo "run exit $r, want $n" ) >>"$TMP/o4" &
	done
	wait $(jobs -p | grep -vx "$TH")
done
check "200 runs (each forking a child) all gave their exit status ($(wc -l <"$TMP/o4") wrong)" \
    test ! -s "$TMP/o4"
wait "$TH"
RC=$?
check "the threaded program exits 42 (got $RC)" test "$RC" = 42

say "5. a fork bomb under ulimit -u (200 more) on node 2, as nobody"
# Each process that forked both children blocks opening a FIFO (no more
# forks); one whose fork failed exits, as dash does.  Opening the FIFO for
# writing releases them all.
FIFO=$(node_root 2)/tmp/bomb
rm -f "$FIFO"; mkfifo -m 0666 "$FIFO"
# the limit counts nobody's processes anywhere on this machine, ghosts too
LIM=$(( $(ps -u nobody -o pid= | wc -l) + 200 ))
# (the front end's sh is what runs: dash says -p for processes)
runuser -u nobody -- "$UBIN/bpsh" 2 sh -c 'ulimit -u '$LIM' 2>/dev/null || ulimit -p '$LIM' || exit 9;
    b() { b & b & read x </tmp/bomb; exit 0; }; b' >/dev/null 2>&1 &
BOMB=$!
on_exit "kill -9 $BOMB"
sleep 3
n=$(bpstat_p 2 | tail -n +2 | wc -l)
check "the bomb grew ($n ghosts on node 2) but stays bounded" eval "[ $n -gt 20 ] && [ $n -le 210 ]"
out=$("$BIN/bpsh" 2 echo alive 2>&1)
check "root still runs on the bombed node ('$out')" test "$out" = alive
out=$(runuser -u daemon -- "$UBIN/bpsh" 0 echo alive 2>&1)
check "another user still runs on node 0 ('$out')" test "$out" = alive
for i in $(seq 60); do
	alive "$BOMB" || [ -n "$(bpstat_p 2 | tail -n +2)" ] || break
	timeout 1 sh -c "echo >'$FIFO'" 2>/dev/null
done
wait_for "! alive $BOMB" 60
check "the bomb ends once told to" eval "! alive $BOMB"
wait_for "[ -z \"\$(bpstat_p 2 | tail -n +2)\" ] && [ -z \"\$(node_procs 2)\" ]" 20
check "every ghost of it is gone ($(bpstat_p 2 | tail -n +2 | wc -l) left), and so is every process on node 2" \
    eval "[ -z \"\$(bpstat_p 2 | tail -n +2)\" ] && [ -z \"\$(node_procs 2)\" ]"

say "6. a PID the node has taken: the child runs at another, bpstat maps it"
# An untracked sh (root's debug switch) fills node 1's PIDs from S on;
# then the front end's next PID is moved into that range (writing its
# ns_last_pid only makes its PIDs jump ahead), so the next ghosts' PIDs
# are taken on the node.
MAXP=$(cat /proc/sys/kernel/pid_max)
S=$(( $(cat /proc/sys/kernel/ns_last_pid) + 3000 ))
[ $((S + 1000)) -lt "$MAXP" ] || S=5000
BPROC_NOTRACK=1 "$BIN/bpsh" 1 sh -c "echo $((S - 1)) >/proc/sys/kernel/ns_last_pid;
    for i in \$(seq 600); do sleep 60 & done; echo >/tmp/full; wait" >/dev/null 2>&1 &
FILL=$!
on_exit "kill -9 $FILL"
wait_for "[ -e '$(node_root 1)/tmp/full' ]" 60
echo $((S + 100)) >/proc/sys/kernel/ns_last_pid
"$BIN/bpsh" 1 sh -c 'sleep 30 & echo $! >/tmp/mapped; wait' >/dev/null 2>&1 &
MS=$!
on_exit "kill -9 $MS"
wait_for "[ -s '$(node_root 1)/tmp/mapped' ]" 10
R=$(cat "$(node_root 1)/tmp/mapped" 2>/dev/null)
row=$(bpstat_p 1 | awk -F'\t' -v r="$R" '$3 == r && $6 == "sleep 30"')
G=$(printf '%s\n' "$row" | cut -f1)
say "    front-end PIDs from $((S + 101)), node PIDs $S-$((S + 599)) taken; sh's ghost $MS"
check "the child runs at node PID $R, its ghost at $G, and bpstat -p says so ($row)" \
    eval "[ -n '$G' ] && [ '$G' != '$R' ] && ghost $G && on_node 1 $R"
check "its ghost is still a child of the sh's ghost $MS" test "$(ppid_of "$G")" = "$MS"
kill "$G" 2>/dev/null
wait_for "! on_node 1 $R" 5
check "kill of the ghost $G reaches node PID $R" eval "! on_node 1 $R"
kill "$FILL" "$MS" 2>/dev/null

say "7. an exec with a longer command line shows it whole, as nobody"
runuser -u nobody -- "$UBIN/bpsh" 0 sh -c 'sleep 1; exec sh -c "sleep 30" $(seq 300)' \
    >/dev/null 2>&1 &
RU=$!
on_exit "kill -9 $RU"
# runuser waits for its child, bpsh, which became the ghost
wait_for "[ -n \"\$(pgrep -P $RU)\" ]" 10
LG=$(pgrep -P "$RU" | head -1)
want="sh -c sleep 30 $(seq 300 | tr '\n' ' ' | sed 's/ $//')"
wait_for "[ \"\$(cmd_of $LG)\" = \"\$want\" ]" 10
got=$(cmd_of "$LG")
check "ps shows all ${#want} bytes of the new argv (got ${#got}: '${got:0:30}...')" \
    test "$got" = "$want"
check "and comm is its name ($(ps -o comm= -p "$LG"))" test "$(ps -o comm= -p "$LG")" = sh
kill "$LG"
wait "$RU" 2>/dev/null

say "8. an orphan's late output reaches bpsh's stdout, as a local shell's would"
# the first process of the node session ends first; what its children
# write after that goes by their ghosts, which hold the same stdout
out=$("$BIN/bpsh" 3 sh -c '(sleep 1; echo late) & echo early' 2>&1 | tr '\n' ' ')
check "\$(bpsh 3 sh -c '(sleep 1; echo late) & echo early') is 'early late' ('$out')" \
    test "$out" = "early late "
out=$("$BIN/bpsh" 3 sh -c '(sleep 0.3; echo a; sleep 0.3; echo b >&2; sleep 0.3; echo c) & exit 3' 2>&1 | tr '\n' ' ')
check "an orphan writes three times, stderr too, after sh exited 3 ('$out')" \
    test "$out" = "a b c "
n=$("$BIN/bpsh" 3 sh -c '(sleep 0.3; seq 1 100000) & echo early' | wc -l)
check "100000 late lines, past the output window, all arrive ($n of 100001)" \
    test "$n" = 100001
miss=0
for i in $(seq 20); do
	out=$("$BIN/bpsh" 3 sh -c '(echo late) & echo early' | sort | tr '\n' ' ')
	[ "$out" = "early late " ] || miss=$((miss + 1))
done
check "a child that writes and ends as its parent ends: 20 of 20 ($miss lost)" \
    test "$miss" = 0
wait_for '[ -z "$(bpstat_p 3 | tail -n +2)" ]' 10
check "nothing of node 3 is left in bpstat -p" eval "[ -z \"\$(bpstat_p 3 | tail -n +2)\" ]"

say "9. getppid() on a node: the ghost's parent, as the process space has it"
out=$(bash -c 'echo $$; "$1" 2 sh -c "echo \$PPID"; true' t45 "$BIN/bpsh" | tr '\n' ' ')
set -- $out
check "bpsh 2 sh: its \$PPID is bpsh's parent, the shell that ran it ($out)" \
    eval "[ -n '${1:-}' ] && [ '${1:-}' = '${2:-x}' ]"
out=$("$BIN/bpsh" 2 sh -c 'sh -c "echo \$PPID"; echo $$' | tr '\n' ' ')
set -- $out
check "its child's \$PPID is the sh on the node, as the node's kernel says ($out)" \
    eval "[ -n '${1:-}' ] && [ '${1:-}' = '${2:-x}' ]"

finish
