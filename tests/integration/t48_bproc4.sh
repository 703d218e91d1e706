#!/bin/bash
# BProc 4 source compatibility (issue 16), on a 3-node virtual cluster:
# 1. `make install DESTDIR=...` ships <sys/bproc.h>, and a program written
#    only against it builds with `cc prog.c $(pkg-config --cflags --libs
#    bproc)` against that installed tree and runs: node list, filter
#    "allup", vexecmove to every node, proclist and pidnode while they
#    run, status strings, nodespec, the calls with no meaning here;
# 2. the _io variants: an rfork child's stdout is a file opened on the
#    node with BProc's flags, an execmove's a file as bpsh -O makes it,
#    and what cannot be done is refused;
# 3. checkpoint/restart: a program counting to 10^9 bproc_dump()s itself
#    into a file at 5*10^8 and is killed; bproc_undump of the file on the
#    front end, and bproc_execdump on node 2, go on to the right count.
# The conformance suite is t48_bproc4_conf.sh.
. "$(dirname "$0")/lib.sh"

need_root
need_image
need_cmd gcc pkg-config make nm
need_file "$OUTDIR/libexec/bprestore"
sanitized && skip "installs and links the plain build (make install)"

TMP=$(mktemp -d /tmp/t48.XXXXXX)
chmod 0755 "$TMP"
on_exit "rm -rf '$TMP'"
DEST=$TMP/dest
has() { grep -qxF -- "$2" "$1"; }

say "1. the installed tree and a program built with pkg-config"
if ! make -s -C "$TOP" install DESTDIR="$DEST" PREFIX=/usr >"$TMP/install.log" 2>&1; then
	show_log "$TMP/install.log"
	die "make install DESTDIR=$DEST failed"
fi
check "<sys/bproc.h> is installed in include/sys" test -f "$DEST/usr/include/sys/bproc.h"
export PKG_CONFIG_PATH=$DEST/usr/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$DEST
check "pkg-config's Cflags reach it ($(pkg-config --cflags bproc))" \
    test -f "$(pkg-config --cflags bproc | sed 's/^-I//; s/ *$//')/sys/bproc.h"
SYMS=$(nm -D --defined-only "$DEST/usr/lib/libbproc.so.1" | awk '{print $3}')
both=1
for s in bproc_nodestatus bproc4_nodestatus bproc_strerror bproc4_strerror \
    bproc_proclist bproc4_proclist bproc_nodefilter _bproc_move_io bproc_execdump; do
	grep -qx "${s}@@BPROC_1" <<<"$SYMS" || { both=0; say "    missing: $s"; }
done
check "one libbproc exports both APIs (bproc_nodestatus and bproc4_nodestatus, ...)" test $both = 1
# shellcheck disable=SC2046
if ! cc -o "$TMP/api" "$TOP/tests/integration/t48_bproc4_api.c" \
    $(pkg-config --cflags --libs bproc) 2>"$TMP/cc.log"; then
	show_log "$TMP/cc.log"
	die "cc t48_bproc4_api.c \$(pkg-config --cflags --libs bproc) failed"
fi
pass "cc prog.c \$(pkg-config --cflags --libs bproc) builds a <sys/bproc.h> program"
# shellcheck disable=SC2046
cc -o "$TMP/ckpt" "$TOP/tests/integration/t48_bproc4_ckpt.c" \
    $(pkg-config --cflags --libs bproc) 2>"$TMP/cc2.log" || {
	show_log "$TMP/cc2.log"; die "cannot build t48_bproc4_ckpt.c"; }
# The installed library and restorer; the ghost is the one the build
# tree's bpmaster, which runs the cluster, accepts as its ghost.
export LD_LIBRARY_PATH=$DEST/usr/lib
export BPROC_GHOST=$OUTDIR/libexec/bpghost
export BPROC_RESTORE=$DEST/usr/libexec/bproc/bprestore
cat >"$TMP/mix.c" <<'EOF'
#include <sys/bproc.h>
#include <bproc.h>
EOF
check "including both headers in one file is refused at compile time" \
    eval "! cc -c -o /dev/null $(pkg-config --cflags bproc) '$TMP/mix.c' 2>/dev/null"

vcluster_up 3
cd "$TMP" || die "cd $TMP"
timeout 60 ./api main >"$TMP/o1" 2>&1
rc=$?
check "the program ran and exited 0 (rc $rc)" test $rc = 0
check "bproc_nodelist: 3 nodes" has "$TMP/o1" "nodelist: 3 nodes"
for n in 0 1 2; do
	check "node $n: status string 'up', mode 111" has "$TMP/o1" "node $n status up mode 111"
done
check "bproc_nodefilter 'allup': 3 nodes" has "$TMP/o1" "allup: 3 nodes"
check "bproc_vexecmove started 3" has "$TMP/o1" "vexecmove: 3 started"
for n in 0 1 2; do
	check "node $n's process ran there with its rank" has "$TMP/o1" "ran on n$n rank $n"
	check "bproc_proclist listed it on node $n, bproc_pidnode says $n" \
	    has "$TMP/o1" "proclist: pid of node $n listed, pidnode $n"
	check "its exit 0 was reaped" has "$TMP/o1" "reaped node $n: exit 0"
done
check "bproc_proclist(0, ...) lists node 0's processes only" has "$TMP/o1" "proclist 0: only that node"
check "bproc_pidnode of a front-end process: BPROC_NODE_MASTER" has "$TMP/o1" "pidnode self: -1"
check "bproc_pidnode of no process: -1, Invalid process ID" has "$TMP/o1" "pidnode none: -1 Invalid process ID"
check "bproc_nodestatus(0, buf, len): 2 'up'" has "$TMP/o1" "nodestatus 0: 2 'up'"
check "a buffer too short for the status: -1" has "$TMP/o1" "nodestatus short buffer: -1"
check "bproc_nodeaddr: an AF_INET address" has "$TMP/o1" "nodeaddr 0: family inet len 16"
check "bproc_nodeinfo: status and last-heard time" has "$TMP/o1" "nodeinfo 0: up atime set"
check "no node 9999: BE_INVALIDNODE (300), 'Invalid node number'" \
    has "$TMP/o1" "nodestatus 9999: 300 Invalid node number"
check "bproc_nodespec takes bproc-ng's syntax ('n[0-1],allup': 0 1 2)" has "$TMP/o1" "nodespec: 0 1 2"
check "and refuses a bad set with the parser's words" grep -q "^nodespec bad: bad node set 'n\[0-'" "$TMP/o1"
check "bproc_nodechroot: ENOTSUP, and says why" grep -q "^nodechroot: ENOTSUP: bproc_nodechroot (node 0): a bproc-ng node has no root" "$TMP/o1"
check "bproc_nodereconnect: ENOTSUP, and says why" grep -q "^nodereconnect: ENOTSUP: bproc_nodereconnect (node 0): nodeinit serves only" "$TMP/o1"
check "bproc_version: BPr, bproc-ng, API 4" grep -q "^version: BPr bproc-ng [0-9.]* api 4$" "$TMP/o1"
check "bproc_nodesetstatus(1, \"unavailable\"): 0" has "$TMP/o1" "nodesetstatus 1 unavailable: 0"
check "bproc_notifier's descriptor became readable" has "$TMP/o1" "notifier: readable"
check "bproc_nodelist_ through it: node 1 unavailable" has "$TMP/o1" "nodelist_ through it: node 1 unavailable"
check "bproc_nodesetstatus(1, \"up\") puts it back" has "$TMP/o1" "nodesetstatus 1 up: 0, status up"
check "bproc_nodesetstatus with a bogus state: -1, and why" has "$TMP/o1" "nodesetstatus bogus: -1 unknown node state 'bogus'"
check "bproc_strerror(BE_NODEDOWN): 'Node is down'" has "$TMP/o1" "strerror 301: Node is down"

say "2. the _io variants"
R1=$(node_root 1)
rm -f "$R1/tmp/t48io" "$R1/tmp/t48io.2"
echo "an earlier line" >"$R1/tmp/t48io"
timeout 60 ./api io 1 /tmp/t48io >"$TMP/o2" 2>&1
check "the rfork_io child exited 3 for its parent" has "$TMP/o2" "rfork_io child: exit 3"
check "its stdout went to the node's file, opened O_APPEND as asked" \
    eval "[ \"\$(cat '$R1/tmp/t48io')\" = \"\$(printf 'an earlier line\nchild on node 1 wrote this into /tmp/t48io')\" ]"
check "nothing of the child's output reached the parent's stdout" \
    eval "! grep -q 'wrote this' '$TMP/o2'"
check "rexec_io with BPROC_IO_MEMFILE: ENOTSUP" has "$TMP/o2" "rexec_io memfile: -1 ENOTSUP"
check "rexec_io of fd 5: ENOTSUP" has "$TMP/o2" "rexec_io fd 5: -1 ENOTSUP"
check "rfork_io with BPROC_IO_SEND_INFO: ENOTSUP" has "$TMP/o2" "rfork_io send_info: -1 ENOTSUP"
check "an fd named twice: EINVAL" has "$TMP/o2" "rfork_io fd twice: -1 EINVAL"
check "bproc_move(777): Invalid node number" has "$TMP/o2" "move 777: -1 Invalid node number"
check "bproc_execmove_io's stdout is the node's file" \
    eval "[ \"\$(cat '$R1/tmp/t48io.2' 2>/dev/null)\" = 'execmove_io on n1' ]"
check "and the execmove never came back" eval "! grep -q '^execmove_io:' '$TMP/o2'"

say "3. checkpoint and restart"
./ckpt count "$TMP/img" >"$TMP/o3" 2>&1 &
P=$!
on_exit "kill -9 $P"
wait_for "grep -q '^dumped at' '$TMP/o3'" 120 || { show_log "$TMP/o3"; die "no dump within 120 s"; }
check "the counter dumped itself at 5*10^8 (bproc_dump > 0: the bytes written)" \
    grep -q "^dumped at 500000000: [1-9][0-9]* bytes$" "$TMP/o3"
check "the image file holds those bytes" \
    test "$(stat -c %s "$TMP/img")" = "$(sed -n 's/^dumped at [0-9]*: \([0-9]*\) bytes$/\1/p' "$TMP/o3")"
wait_for "grep -q '^State:[[:space:]]*T' /proc/$P/status" 10
kill -9 "$P"
wait "$P" 2>/dev/null
check "and was killed before it counted further" eval "! grep -q '^count' '$TMP/o3'"
timeout 120 ./ckpt undump "$TMP/img" >"$TMP/o4" 2>&1
rc=$?
check "bproc_undump on the front end: it resumes at 5*10^8 here ($(hostname))" \
    has "$TMP/o4" "restarted at 500000000 on host $(hostname)"
check "and counts on to 10^9 with the right checksum, exit 0 (rc $rc)" \
    eval "has '$TMP/o4' 'count 1000000000 sum right' && [ $rc = 0 ]"
timeout 120 ./ckpt execdump "$TMP/img" 2 >"$TMP/o5" 2>&1
rc=$?
check "bproc_execdump on node 2: it resumes at 5*10^8 on n2" \
    has "$TMP/o5" "restarted at 500000000 on host n2"
check "and counts on to 10^9 with the right checksum, exit 0 (rc $rc)" \
    eval "has '$TMP/o5' 'count 1000000000 sum right' && [ $rc = 0 ]"
echo garbage >"$TMP/notimg"
./ckpt execdump "$TMP/notimg" 1 >"$TMP/o6" 2>&1
check "bproc_execdump of a file that is no image: refused, nothing moved" \
    has "$TMP/o6" "execdump: not a process image for this machine"

if ((FAILS > 0)); then
	for f in "$TMP"/o*; do say "    --- $f"; sed 's/^/    /' "$f"; done
	show_log "$BPVC_STATE/bpmaster.log"
fi
finish
