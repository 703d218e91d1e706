#!/bin/bash
# The node RAM cache's budget, eviction and the master's push list (issue
# 4), on a 1-node virtual cluster whose bpmaster.conf says (through
# BPVC_MASTER_CONF)
#     cache_budget <push list + 5 MiB>
#     push <libc.so.6>  push <the ELF interpreter>  push <a directory>
# as a user would check it:
#   - the push list is on the node when it is up, and a program that needs
#     only those files runs there sending 0 blob bytes;
#   - programs A then B, 3 MiB each, together over the budget: both run, B
#     evicts A (its cache file and the path it was linked at go, cache_bytes
#     drops), and A run again is pushed again and works;
#   - while A runs (bpsh 0 progA 60 &) its blob is not evicted: B fails
#     with "node RAM cache full", before anything is sent; once A is gone
#     B runs;
#   - a push larger than the whole budget fails the same way and evicts
#     nothing;
#   - a push list larger than the budget leaves the node in error, not up;
#   - bpmaster refuses a bad cache_budget, naming the line.
# The node's files are looked at through /proc/<node PID 1>/root; cache
# names are BLAKE2b-256 (b2sum -l 256) of the content, owner and mode.
. "$(dirname "$0")/lib.sh"

need_root
need_image
need_cmd gcc readelf b2sum
need_file "$BIN/bpsh"

TMP=$(mktemp -d /tmp/t62.XXXXXX)
on_exit "rm -rf '$TMP'"
# on the node's root fs (its /tmp is another tmpfs, where paths are copies)
PUB=$(mktemp -d /var/tmp/t62pub.XXXXXX)
on_exit "rm -rf '$PUB'"
chmod 0755 "$PUB"
export HOME=$TMP/home
mkdir -p "$HOME"

bpsh() { "$BIN/bpsh" "$@"; }
push_bytes() { json_field "$(node_json 0)" push_bytes; }
cache_bytes() { json_field "$(node_json 0)" cache_bytes; }
size_of() { stat -L -c %s "$1"; }
# cache_file PATH: the name PATH's content has in the node's cache
cache_file() {
	echo "$(b2sum -l 256 <"$1" | cut -d' ' -f1).$(stat -L -c '%u.%g.%a' "$1")"
}

say "# build the programs"
# progA and progB: 3 MiB of data each, different content; progS: small.
# With an argument N they sleep N seconds before printing.
for x in A B; do
	cat >"$TMP/$x.c" <<EOF
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
char pad[3 << 20] = { '$x' };
int main(int argc, char **argv)
{
	if (argc > 1)
		sleep(atoi(argv[1]));
	printf("prog $x %c\n", *(volatile char *)&pad[0]);
	return 0;
}
EOF
	gcc -O2 -o "$PUB/prog$x" "$TMP/$x.c" 2>>"$TMP/cc.log" ||
	    { show_log "$TMP/cc.log"; die "cannot build prog$x"; }
done
mkdir -p "$PUB/small"
gcc -O2 -o "$PUB/small/progS" -x c - <<<'#include <stdio.h>
int main(void) { puts("small 42"); return 0; }' 2>>"$TMP/cc.log" ||
    { show_log "$TMP/cc.log"; die "cannot build progS"; }
pass "progA, progB ($(size_of "$PUB/progA") bytes each) and progS build"

LIBC=$(readlink -f "$(gcc -print-file-name=libc.so.6)")
INTERP=$(readelf -l "$PUB/small/progS" | sed -n 's/.*interpreter: \(.*\)]/\1/p')
check "libc ($LIBC) and the interpreter ($INTERP) are on the front end" \
    test -f "$LIBC" -a -e "$INTERP"
LIST=$(( $(size_of "$LIBC") + $(size_of "$INTERP") + $(size_of "$PUB/small/progS") ))
BUDGET=$(( LIST + (5 << 20) ))
SA=$(size_of "$PUB/progA")
SB=$(size_of "$PUB/progB")
say "    push list $LIST bytes, budget $BUDGET bytes"

export BPVC_MASTER_CONF="cache_budget $BUDGET
push $LIBC
push $INTERP
push $PUB/small"

say "# bpvcluster up -n 1, with the push list and a budget of $((BUDGET >> 20)) MiB"
vcluster_up 1
R=/proc/$(node_pid1 0)/root
C=$R/var/lib/bproc/cache

say "# the push list is there when the node is up"
check "node 0 is up" test "$(node_state 0)" = up
check "node 0 has $LIBC with the front end's content" cmp -s "$LIBC" "$R$LIBC"
check "node 0 has $INTERP" test -e "$R$INTERP"
check "node 0 has $PUB/small/progS" cmp -s "$PUB/small/progS" "$R$PUB/small/progS"
check "cache_bytes is the push list's size ($(cache_bytes) = $LIST)" \
    test "$(cache_bytes)" = "$LIST"
check "push_bytes is the push list's size ($(push_bytes) = $LIST)" \
    test "$(push_bytes)" = "$LIST"
before=$(push_bytes)
out=$(bpsh 0 "$PUB/small/progS" 2>&1)
check "bpsh 0 progS prints 'small 42' (got: $out)" test "$out" = "small 42"
check "and sent 0 blob bytes (push_bytes $before -> $(push_bytes))" \
    test "$(push_bytes)" = "$before"
# libc, the interpreter's symlink and its target, progS
check "bpmaster logged 'push list: 4 files'" \
    grep -q 'push list: 4 files' "$BPVC_STATE/bpmaster.log"

say "# A then B, together over the budget"
before=$(push_bytes)
out=$(bpsh 0 "$PUB/progA" 2>&1)
check "bpsh 0 progA prints 'prog A A' (got: $out)" test "$out" = "prog A A"
check "progA was pushed ($(( $(push_bytes) - before )) = $SA bytes)" \
    test "$(( $(push_bytes) - before ))" = "$SA"
FA=$(cache_file "$PUB/progA")
FB=$(cache_file "$PUB/progB")
check "progA is in node 0's cache and at its path" \
    test -f "$C/$FA" -a -f "$R$PUB/progA"
wait_for '[ "$(cache_bytes)" = $((LIST + SA)) ]' 5
check "cache_bytes is the push list + progA ($(cache_bytes))" \
    test "$(cache_bytes)" = $((LIST + SA))
before=$(push_bytes)
start=$(now_ms)
out=$(bpsh 0 "$PUB/progB" 2>&1)
say "    bpsh 0 progB with eviction: $(( $(now_ms) - start )) ms"
check "bpsh 0 progB prints 'prog B B' (got: $out)" test "$out" = "prog B B"
check "progB was pushed ($(( $(push_bytes) - before )) bytes)" \
    test "$(( $(push_bytes) - before ))" = "$SB"
check "progA's blob is evicted from node 0's cache" test ! -e "$C/$FA"
check "and so is its path $PUB/progA (its RAM is free)" test ! -e "$R$PUB/progA"
check "progB is in the cache and at its path" test -f "$C/$FB" -a -f "$R$PUB/progB"
check "the push list stays (libc, progS)" \
    test -f "$R$LIBC" -a -f "$R$PUB/small/progS"
wait_for '[ "$(cache_bytes)" = $((LIST + SB)) ]' 5
check "cache_bytes dropped back to the push list + progB ($(cache_bytes))" \
    test "$(cache_bytes)" = $((LIST + SB))
check "node 0's cache dir holds 4 files (libc, interpreter, progS, progB)" \
    test "$(ls -A "$C" | wc -l)" = 4
sed -n 's/.*nodeinit: \(cache: evicted.*\)/    node 0: \1/p' "$BPVC_STATE/node0.log" | tail -1

before=$(push_bytes)
out=$(bpsh 0 "$PUB/progA" 2>&1)
check "progA again prints 'prog A A' (got: $out)" test "$out" = "prog A A"
check "progA was pushed again ($(( $(push_bytes) - before )) bytes)" \
    test "$(( $(push_bytes) - before ))" = "$SA"
check "progB is evicted now" test ! -e "$C/$FB" -a ! -e "$R$PUB/progB"

say "# a blob a running process uses is not evicted"
"$BIN/bpsh" 0 "$PUB/progA" 60 >"$TMP/a.out" 2>&1 &
APID=$!
on_exit "kill $APID"
if wait_for '"$BIN/bpstat" -p | grep -q "progA 60"' 10; then
	pass "progA 60 runs on node 0 (ghost $APID)"
else
	fail "progA 60 does not show in bpstat -p"
fi
before=$(push_bytes)
msg=$(bpsh 0 "$PUB/progB" 2>&1)
rc=$?
say "    bpsh 0 progB -> exit $rc: $msg"
check "progB fails with '0: node RAM cache full: N MB needed, Y of Z MB in use' (exit 255)" \
    eval "[ '$rc' = 255 ] && grep -Eq '^0: node RAM cache full: [0-9]+ MB needed, [0-9]+ of [0-9]+ MB in use' <<<\"\$msg\""
check "nothing was sent (push_bytes $before -> $(push_bytes))" \
    test "$(push_bytes)" = "$before"
check "progA's blob and path are still there" test -f "$C/$FA" -a -f "$R$PUB/progA"
check "nothing of progB is on node 0" \
    test ! -e "$R$PUB/progB" -a ! -e "$C/$FB" -a -z "$(ls -A "$C" | grep '^\.in-')"
check "progA still runs" alive "$APID"
kill "$APID"
wait "$APID" 2>/dev/null
# the remote ends just after its ghost (the master SIGKILLs it)
wait_for '! "$BIN/bpstat" -p | grep -q "progA 60"' 10 ||
    fail "progA 60 still shows in bpstat -p after its ghost ended"
out=$(bpsh 0 "$PUB/progB" 2>&1)
check "once progA is gone, progB runs (got: $out)" test "$out" = "prog B B"
check "and progA's blob was evicted for it" test ! -e "$C/$FA"

say "# a push larger than the whole budget"
truncate -s $(( BUDGET + (1 << 20) )) "$PUB/huge"
before=$(push_bytes)
msg=$(bpsh --push "$PUB/huge" 0 true 2>&1)
rc=$?
say "    bpsh --push <$(( (BUDGET >> 20) + 1 )) MiB file> 0 true -> exit $rc: $msg"
check "it fails with 'node RAM cache full' (exit 255)" \
    eval "[ '$rc' = 255 ] && grep -q 'node RAM cache full' <<<\"\$msg\""
check "nothing was sent, nothing of it is on node 0" \
    test "$(push_bytes)" = "$before" -a ! -e "$R$PUB/huge"
check "and nothing was evicted for it (progB is still there)" \
    test -f "$C/$FB" -a -f "$R$PUB/progB"

say "# an evicted front-end program gives its busybox applet back"
if [ -x /usr/bin/xz ] && [ "$(readlink "$R/usr/bin/xz")" = /bin/busybox ]; then
	want=$(xz --version 2>/dev/null | head -1)
	out=$(bpsh 0 xz --version 2>&1 | head -1)
	check "bpsh 0 xz --version runs the front end's xz (got '$out')" \
	    test "$out" = "$want"
	check "the node's /usr/bin/xz is the pushed xz now" \
	    test "$(readlink "$R/usr/bin/xz")" != /bin/busybox
	# progA evicts progB; progB then needs xz's room (least recently used)
	bpsh 0 "$PUB/progA" >/dev/null 2>&1
	out=$(bpsh 0 "$PUB/progB" 2>&1)
	check "progA, then progB run (got: $out)" test "$out" = "prog B B"
	check "xz was evicted and /usr/bin/xz is busybox's applet link again ($(readlink "$R/usr/bin/xz"))" \
	    test "$(readlink "$R/usr/bin/xz")" = /bin/busybox
else
	say "  skip: no /usr/bin/xz on the front end or no xz applet in the image"
fi

say "# a push list larger than the budget: the node goes to error, not up"
"$BIN/bpvcluster" down >/dev/null 2>&1
msg=$(BPVC_TIMEOUT=3 BPVC_MASTER_CONF="cache_budget 1M
push $LIBC" "$BIN/bpvcluster" up -n 1 2>&1)
rc=$?
check "bpvcluster up fails (exit $rc) with node 0 in state error" \
    eval "[ '$rc' != 0 ] && grep -q 'state: error' <<<\"\$msg\""
check "the node's console says why: 'setup push: node RAM cache full'" \
    grep -q 'setup push: node RAM cache full' <<<"$msg"

say "# bpmaster refuses a bad cache_budget"
for bad in "cache_budget 0%" "cache_budget 101%" "cache_budget 12X" "push relative/path"; do
	printf 'nodes 1\n%s\n' "$bad" >"$TMP/bad.conf"
	msg=$(timeout 10 "$BIN/bpmaster" -d -c "$TMP/bad.conf" 2>&1)
	rc=$?
	check "'$bad': bpmaster exits non-zero naming line 2 (exit $rc)" \
	    eval "[ '$rc' != 0 ] && [ '$rc' != 124 ] && grep -q 'bad.conf:2' <<<\"\$msg\""
done

finish
