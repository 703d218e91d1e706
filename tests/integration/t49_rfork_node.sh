#!/bin/bash
# bproc_rfork and bproc_vrfork from a node (issue 12): a process that bpsh
# runs on node 0 rforks to node 1, where the child finds itself (and its
# heap) and exits 7 for the parent's waitpid on node 0; a child that
# stops itself is seen stopped and continued by the parent; a child the parent
# kills with SIGTERM is seen killed by SIGTERM; a SIGKILL of the child's
# PID on node 0 (its stand-in) ends the child on node 1 too; an rfork to a
# down node fails with EHOSTDOWN and leaves no process, ghost or
# stand-in; an rfork to BPROC_NODE_MASTER runs the child at home; a
# vrfork from node 0 to nodes 1 and 2 gives each child its index and the
# parent their statuses.
. "$(dirname "$0")/lib.sh"

need_root
need_image
need_cmd gcc ps
need_file "$BIN/bpsh" "$OUTDIR/lib/libbproc.a" "$OUTDIR/libexec/bprestore"
# the caller links a libbproc without sanitizers (t47 says why)
LIBDIR=$OUTDIR/lib
if sanitized; then
	LIBDIR=$OUTDIR/plain/lib
	need_file "$LIBDIR/libbproc.a"
fi

TMP=$(mktemp -d /tmp/t49.XXXXXX)
chmod 0755 "$TMP"
on_exit "rm -rf '$TMP'"
vcluster_up 4
gcc -O2 -std=c11 -D_GNU_SOURCE -I"$TOP/master/lib" -o "$TMP/t49_rfork_node" \
    "$TOP/tests/integration/t49_rfork_node.c" "$LIBDIR/libbproc.a" -lsodium ||
    die "cannot build t49_rfork_node.c"
cd "$TMP" || die "cd $TMP"
M=$TMP/t49_rfork_node
has() { grep -qxF -- "$2" "$1"; }
on_node() { [ -e "$(node_root "$1")/proc/$2/status" ] &&
	! grep -q '^State:[[:space:]]*Z' "$(node_root "$1")/proc/$2/status"; }
# procs: the PIDs bpstat -p lists (one a line)
procs() { "$BIN/bpstat" -p 2>/dev/null | awk 'NR > 1 && $1 ~ /^[0-9]+$/ { print $1 }'; }

say "1. rfork from node 0 to node 1: the child exits 7"
timeout 60 "$BIN/bpsh" 0 "$M" exit 1 7 >"$TMP/o1" 2>&1
rc=$?
C=$(sed -n 's/^parent: child //p' "$TMP/o1")
P=$(sed -n 's/^start: node 0 pid //p' "$TMP/o1")
check "the parent ran on node 0 (pid $P) and rfork gave it a PID ($C)" \
    eval "[ -n '$P' ] && [ -n '$C' ] && [ '$C' != 0 ]"
check "the child runs on node 1 (bproc_currnode 1) with its heap intact" \
    has "$TMP/o1" "child: node 1 pid $C heap ok"
check "the parent's waitpid on node 0 got exit 7" has "$TMP/o1" "parent: waited: $C status exit 7"
check "the parent goes on with its heap, bpsh exits 0 (rc $rc)" \
    eval "has '$TMP/o1' 'parent: node 0 heap ok' && [ $rc = 0 ]"
wait_for "! on_node 1 $C && ! on_node 0 $C" 5
check "no copy of $C is left on node 0 (the stand-in) or node 1" \
    eval "! on_node 1 $C && ! on_node 0 $C"

say "2. the parent kills its child on node 2 with SIGTERM"
timeout 60 "$BIN/bpsh" 0 "$M" term 2 >"$TMP/o2" 2>&1
C=$(sed -n 's/^parent: child //p' "$TMP/o2")
check "the child ran on node 2" has "$TMP/o2" "child: node 2 pid $C heap ok"
check "the parent's waitpid saw it killed by SIGTERM (signal 15)" \
    has "$TMP/o2" "parent: waited: $C status signal 15"
wait_for "! on_node 2 $C" 5
check "and it is gone from node 2" eval "! on_node 2 $C"

say "3. SIGKILL of the child's PID on node 0 (its stand-in there)"
timeout 60 "$BIN/bpsh" 0 "$M" kill 1 >"$TMP/o3" 2>&1
C=$(sed -n 's/^parent: child //p' "$TMP/o3")
check "the child ran on node 1" has "$TMP/o3" "child: node 1 pid $C heap ok"
check "the parent's waitpid saw SIGKILL (signal 9)" has "$TMP/o3" "parent: waited: $C status signal 9"
wait_for "! on_node 1 $C" 5
check "the child on node 1 ended too" eval "! on_node 1 $C"

say "3b. the child stops itself (on node 2, at home); the parent sees it, continues it"
for t in 2 -1; do
	timeout 60 "$BIN/bpsh" 0 "$M" stop $t >"$TMP/o3b$t" 2>&1
	C=$(sed -n 's/^parent: child //p' "$TMP/o3b$t")
	check "at $t: the parent's waitpid(WUNTRACED) saw it stopped by SIGSTOP (19)" \
	    has "$TMP/o3b$t" "parent: $C stopped by signal 19"
	check "at $t: its SIGCONT reached the child" has "$TMP/o3b$t" "child: continued"
	check "at $t: waitpid(WCONTINUED) saw the continue, then the exit 5" \
	    eval "has '$TMP/o3b$t' 'parent: $C continued' && has '$TMP/o3b$t' 'parent: waited: $C status exit 5'"
done

say "4. rfork from node 0 to BPROC_NODE_MASTER"
timeout 60 "$BIN/bpsh" 0 "$M" exit -1 3 >"$TMP/o4" 2>&1
C=$(sed -n 's/^parent: child //p' "$TMP/o4")
check "the child runs at home (bproc_currnode -1) under its PID $C" \
    has "$TMP/o4" "child: node -1 pid $C heap ok"
check "the parent on node 0 waited for its exit 3" has "$TMP/o4" "parent: waited: $C status exit 3"
check "no copy is left on node 0" eval "! on_node 0 $C"

say "4b. the parent ends first: the orphaned stand-ins end with their children"
for t in -1 1; do
	timeout 60 "$BIN/bpsh" 0 "$M" orphan $t >"$TMP/o4b$t" 2>&1
	C=$(sed -n 's/^parent: child //p' "$TMP/o4b$t")
	wait_for "! on_node 0 $C" 10
	check "child $C at $t ended: its stand-in on node 0 is gone too" \
	    eval "[ -n '$C' ] && ! on_node 0 $C"
done

say "5. vrfork from node 0 to nodes 1 and 2"
timeout 60 "$BIN/bpsh" 0 "$M" vrfork 1,2 >"$TMP/o5" 2>&1
check "the parent started 2" has "$TMP/o5" "parent: 2 started"
for i in 0 1; do
	check "child $i ran on node $((i + 1)) with index $i" has "$TMP/o5" "child $i on node $((i + 1)) heap ok"
	check "the parent reaped child $i with status $((10 + i))" \
	    grep -q "^parent: child $i pid [0-9]* reaped: [0-9]* status exit $((10 + i))\$" "$TMP/o5"
done

say "6. rfork from node 0 to a down node"
"$BIN/bpvcluster" kill 3 >/dev/null 2>&1
wait_for "[ \"\$(node_state 3)\" = down ]" 20 || fail "node 3 did not go down"
timeout 60 "$BIN/bpsh" 0 "$M" fail 3 >"$TMP/o6" 2>&1 &
B=$!
on_exit "kill -9 $B 2>/dev/null"
wait_for "grep -q '^parent: rfork' '$TMP/o6'" 30
P=$(sed -n 's/^start: node 0 pid //p' "$TMP/o6")
check "rfork(3) is -1 EHOSTDOWN, 'Node is down'" \
    grep -q "^parent: rfork 3: -1 errno $(printf '#include <errno.h>\nEHOSTDOWN\n' | cpp -P | tail -n1) (.*): .*Node is down" "$TMP/o6"
left=$(procs | grep -vx "$P" | tr '\n' ' ')
check "bpstat -p lists only the parent $P while it holds on (others: '${left}')" \
    eval "procs | grep -qx '$P' && [ -z '$left' ]"
check "node 0 holds no other process of it (stand-in): $(node_procs 0)" \
    test "$(node_procs 0 | wc -w)" -le 1
# (a ghost keeps one spare child ghost for its next fork: at most that)
check "and its ghost has no child ghost on the front end but its spare" \
    eval "[ \"\$(ps -o pid= --ppid $P 2>/dev/null | wc -l)\" -le 1 ]"
wait "$B"
check "the parent went on and ended (bpsh rc $?)" has "$TMP/o6" "parent: done"

if ((FAILS > 0)); then
	for f in "$TMP"/o*; do say "    --- $f"; sed 's/^/    /' "$f"; done
	show_log "$BPVC_STATE/bpmaster.log" 40
fi
finish
