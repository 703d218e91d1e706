#!/bin/bash
# Process migration (issue 12): bproc_rfork puts a copy of a process with
# a 64 MB heap, TLS, a signal handler and an open file on node 1, where it
# finds them all and exits 42 for its parent's waitpid, shown by ps as the
# parent's child, reached by kill -USR1 on its ghost; bproc_move takes a
# process to node 2, node 3 and home, its output and exit code arriving
# as before; bproc_vrfork starts 4 children with their indexes; a
# multi-threaded caller gets ENOTSUP; a move to a down node fails and the
# process runs on; a Python interpreter rforks through ctypes.
. "$(dirname "$0")/lib.sh"

need_root
need_image
need_cmd gcc ps
need_file "$BIN/bpsh" "$OUTDIR/lib/libbproc.a" "$OUTDIR/libexec/bprestore"
# The migrating callers link a libbproc without sanitizers even in the
# sanitizer pass: an ASan process's image would be its shadow memory
# (terabytes of reserved address space), and an ASan libbproc.so cannot
# be dlopened into python.  out-san/plain's execs the sanitized bpghost
# and bprestore; the daemons, nodeinit and bpsh are the sanitized ones.
LIBDIR=$OUTDIR/lib
if sanitized; then
	LIBDIR=$OUTDIR/plain/lib
	need_file "$LIBDIR/libbproc.a" "$LIBDIR/libbproc.so"
fi

TMP=$(mktemp -d /tmp/t47.XXXXXX)
chmod 0755 "$TMP"
on_exit "rm -rf '$TMP'"
vcluster_up 4
gcc -O2 -std=c11 -D_GNU_SOURCE -I"$TOP/master/lib" -o "$TMP/t47_migrate" \
    "$TOP/tests/integration/t47_migrate.c" "$LIBDIR/libbproc.a" -lsodium -lpthread ||
    die "cannot build t47_migrate.c"
cd "$TMP" || die "cd $TMP"
M=$TMP/t47_migrate
MYNS=$(readlink /proc/self/ns/pid)
ppid_of() { ps -o ppid= -p "$1" 2>/dev/null | tr -d ' '; }
ghost() { [ "$(readlink "/proc/$1/ns/pid" 2>/dev/null)" = "$MYNS" ] && alive "$1"; }
on_node() { [ -e "$(node_root "$1")/proc/$2/status" ] &&
	! grep -q '^State:[[:space:]]*Z' "$(node_root "$1")/proc/$2/status"; }
has() { grep -qxF -- "$2" "$1"; }

say "1. bproc_rfork(1) of a process with a 64 MB heap, TLS, a SIGUSR1 handler, an open file"
"$M" rfork 1 wait >"$TMP/o1" 2>&1 &
P=$!
on_exit "kill -9 $P"
wait_for "grep -q '^child: fd' '$TMP/o1'" 30 || { sed 's/^/    /' "$TMP/o1"; die "the child did not report"; }
C=$(sed -n 's/^parent: child //p' "$TMP/o1")
check "rfork returned the child's PID $C to the parent" test -n "$C"
check "the child runs on node 1 (bproc_currnode 1, hostname n1) as PID $C" \
    has "$TMP/o1" "child: node 1 host n1 pid $C"
for w in pattern tls handler clock; do
	check "the child finds its $w intact" has "$TMP/o1" "child: $w ok"
done
check "malloc and stdio work in the child" has "$TMP/o1" "child: malloc works"
check "descriptors above 2 are closed in the child" has "$TMP/o1" "child: fd 3 closed"
check "its ghost $C is a front-end process, the parent's child (ps ppid $(ppid_of "$C"))" \
    eval "ghost $C && [ '$(ppid_of "$C")' = $P ]"
check "and process $C lives on node 1" on_node 1 "$C"
kill -USR1 "$C"
wait "$P"
rc=$?
check "kill -USR1 on the ghost reached the handler on the node" has "$TMP/o1" "child: remote SIGUSR1 arrived"
check "the parent's waitpid got the child's 42" has "$TMP/o1" "parent: status exit 42"
check "the parent's own heap is intact, and it exits 0 (rc $rc)" \
    eval "has '$TMP/o1' 'parent: pattern ok' && [ $rc = 0 ]"
wait_for "! on_node 1 $C" 5
check "nothing is left on node 1" eval "! on_node 1 $C"

say "2. bproc_move(2), bproc_move(3), bproc_move(BPROC_NODE_MASTER)"
"$M" move 2,3,-1 >"$TMP/o2" 2>&1
rc=$?
P2=$(sed -n 's/^start: node -1 host [^ ]* pid //p' "$TMP/o2")
check "the exit code 7 reaches the shell (got $rc)" test "$rc" = 7
check "the process ran on node 2 under its PID $P2" grep -q "^moved: node 2 host n2 pid $P2\$" "$TMP/o2"
check "then on node 3" grep -q "^moved: node 3 host n3 pid $P2\$" "$TMP/o2"
check "then home again" grep -q "^moved: node -1 host .* pid $P2\$" "$TMP/o2"
check "its heap travelled each time (pattern ok x3) and its output arrived" \
    test "$(grep -c '^pattern ok$' "$TMP/o2")" = 3
check "no copy is left on node 2 or 3" eval "! on_node 2 $P2 && ! on_node 3 $P2"
# it forked twice on each node, so its ghost had a spare child ghost
check "at home it has no stranger among its children (the ghost's spare went)" \
    grep -qx "home children: none" "$TMP/o2"
grep -q "came home" "$BPVC_STATE/bpmaster.log" && pass "bpmaster logged the moves home" ||
    fail "bpmaster logged no move home"

ok=0
for i in 1 2 3 4 5; do
	"$M" move 2,3,1,-1 >"$TMP/o2.$i" 2>&1
	[ $? = 7 ] && [ "$(grep -c '^pattern ok$' "$TMP/o2.$i")" = 4 ] && ok=$((ok + 1))
done
check "five more tours 2, 3, 1, home: every line and exit code arrived ($ok of 5)" test "$ok" = 5
left() { ps -eo stat=,comm=,args= | awk -v m="$M move" '$1 !~ /Z/ && $2 == "t47_migrate" && index($0, m)' | grep -c .; }
wait_for "[ \"\$(left)\" = 0 ]" 5
check "and nothing of them is left running on the front end" test "$(left)" = 0

say "3. bproc_vrfork to nodes 0-3"
"$M" vrfork 0,1,2,3 >"$TMP/o3" 2>&1
check "the parent started 4" has "$TMP/o3" "parent: 4 started"
for i in 0 1 2 3; do
	check "child $i ran on node $i with index $i" has "$TMP/o3" "child $i on node $i"
done
check "the parent reaped all 4 with their statuses 10+index" has "$TMP/o3" "parent: 4 reaped with their index"

say "4. a multi-threaded caller"
"$M" threads 1 >"$TMP/o4" 2>&1
check "bproc_rfork: ENOTSUP" has "$TMP/o4" "rfork with 2 threads: -1 errno ENOTSUP"
check "bproc_move: ENOTSUP" has "$TMP/o4" "move with 2 threads: -1 errno ENOTSUP"
check "and it runs on at home" grep -q "^still: node -1 " "$TMP/o4"

say "5. a Python interpreter rforks through ctypes"
if command -v python3 >/dev/null; then
	cat >"$TMP/t47.py" <<'PY'
import ctypes, hashlib, json, os, sys, decimal
lib = ctypes.CDLL(sys.argv[1], use_errno=True)
lib.bproc_strerror.restype = ctypes.c_char_p
big = bytearray(os.urandom(1 << 20)) * 32
digest = hashlib.sha256(big).hexdigest()
table = {i: str(i) * 3 for i in range(100000)}
sys.stdout.flush()
pid = lib.bproc_rfork(int(sys.argv[2]))
if pid < 0:
    print("rfork failed:", lib.bproc_strerror().decode())
    sys.exit(1)
if pid == 0:
    ok = hashlib.sha256(big).hexdigest() == digest and table[99999] == "99999" * 3
    print("child: node %d host %s heap %s %s %s" % (lib.bproc_currnode(),
        os.uname().nodename, "ok" if ok else "BAD", json.dumps([1, 2]),
        decimal.Decimal(1) / 8))
    sys.stdout.flush()
    os._exit(5)
_, st = os.waitpid(pid, 0)
print("parent: status %d heap %s" % (os.WEXITSTATUS(st),
    "ok" if hashlib.sha256(big).hexdigest() == digest else "BAD"))
PY
	timeout 60 python3 "$TMP/t47.py" "$LIBDIR/libbproc.so" 2 >"$TMP/o5" 2>&1
	check "the child interpreter runs on node 2 with its 32 MB object and modules" \
	    has "$TMP/o5" "child: node 2 host n2 heap ok [1, 2] 0.125"
	check "the parent interpreter runs on and reaps status 5" has "$TMP/o5" "parent: status 5 heap ok"
else
	say "  (no python3: skipped)"
fi

say "6. a move to a down node"
"$BIN/bpvcluster" kill 3 >/dev/null 2>&1
wait_for "[ \"\$(node_state 3)\" = down ]" 20 || fail "node 3 did not go down"
"$M" down 3 >"$TMP/o6" 2>&1
rc=$?
check "bproc_move(3) fails with 'Node is down'" grep -q "^move 3: -1 errno [0-9]*: Node is down" "$TMP/o6"
check "and the process runs on at home with its heap (rc $rc)" \
    eval "grep -q '^still: node -1 ' '$TMP/o6' && has '$TMP/o6' 'pattern ok' && [ $rc = 0 ]"
"$M" down 9 >"$TMP/o7" 2>&1
check "bproc_move(9): No such node" grep -q "No such node" "$TMP/o7"

if ((FAILS > 0)); then
	for f in "$TMP"/o*; do say "    --- $f"; sed 's/^/    /' "$f"; done
	show_log "$BPVC_STATE/bpmaster.log"
fi
finish
