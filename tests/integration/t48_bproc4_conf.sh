#!/bin/bash
# The BProc 4 conformance suite (issue 16) on a 3-node virtual cluster:
# t48_bproc4_conf.c places a parent and its children on the front end and
# the nodes (every placement up to renaming the nodes), each child
# attached or detached (double fork), and runs each test in every
# arrangement: wait/waitpid, stop/continue seen by the parent, signal
# ping-pong, getppid and the ps tree, rfork then fork, moving the tree.
# Every arrangement must pass; each one that fails is printed with its
# reason and fails the test.  T48_CHILDREN (1-3, default 2) is the most
# children an arrangement has: 3 adds 408 arrangements per test (about
# 15 minutes on two loaded CPUs), past the runner's time limit.  This
# file runs wait, stopcont and pingpong; t48_bproc4_tree.sh sources it
# with T48_TESTS set to the other three, so each stays in the time limit.
. "$(dirname "$0")/lib.sh"

need_root
# Not in the default suite: up to 15 minutes each for this file and
# t48_bproc4_tree.sh (a failing arrangement waits out its 30 s), past the
# runner's 300 s, and a known failure today (issue 16's note: a parent
# that moves away from its children, a child moving back to its
# caller's node while its stand-in is there).  Run it with
#	BPROC_TEST_CONFORMANCE=1 BPROC_TEST_TIMEOUT=3000 tests/run.sh integration/t48_bproc4_
# (T48_TEST_TIMEOUT, default 900 s, bounds each of the three tests).
[ "${BPROC_TEST_CONFORMANCE:-0}" = 1 ] ||
	skip "the BProc 4 conformance suite is opt-in (BPROC_TEST_CONFORMANCE=1 BPROC_TEST_TIMEOUT=3000; up to 45 min, known failing arrangements: see issue 16)"
need_image
need_cmd gcc
need_file "$OUTDIR/lib/libbproc.a" "$OUTDIR/libexec/bprestore"
# The migrating processes link the plain libbproc (an ASan process's
# image would be its shadow memory): out-san/plain's, as in t47.
LIBDIR=$OUTDIR/lib
sanitized && LIBDIR=$OUTDIR/plain/lib
need_file "$LIBDIR/libbproc.a"
CHILDREN=${T48_CHILDREN:-2}
case $CHILDREN in 1 | 2 | 3) ;; *) die "T48_CHILDREN must be 1, 2 or 3" ;; esac

TMP=$(mktemp -d /tmp/t48c.XXXXXX)
chmod 0755 "$TMP"
on_exit "rm -rf '$TMP'"
gcc -O2 -std=c11 -D_GNU_SOURCE -I"$TOP/master/lib" -o "$TMP/conf" \
    "$TOP/tests/integration/t48_bproc4_conf.c" "$LIBDIR/libbproc.a" -lsodium ||
    die "cannot build t48_bproc4_conf.c"
vcluster_up 3
cd "$TMP" || die "cd $TMP"

say "arrangements of a parent and 1 to $CHILDREN children on the front end (F) and nodes a, b, c; + attached, - detached"
for t in ${T48_TESTS:-wait stopcont pingpong}; do
	timeout "${T48_TEST_TIMEOUT:-900}" "$TMP/conf" "$t" "$CHILDREN" >"$TMP/$t.out" 2>&1
	rc=$?
	summary=$(tail -n 1 "$TMP/$t.out")
	grep '^FAIL ' "$TMP/$t.out" | sed 's/^/    /'
	check "$t: every arrangement passes ($summary; rc $rc)" \
	    eval "[ $rc = 0 ] && grep -q '^$t: [0-9]* arrangements, [0-9]* passed, 0 failed\$' '$TMP/$t.out'"
done
# what failed, by cause
cat "$TMP"/*.out | sed -n 's/^FAIL [a-z]* [^ ]*: //p' |
    sed -e 's/[0-9][0-9]*/N/g' | sort | uniq -c | sort -rn | sed 's/^/  cause: /'
finish
