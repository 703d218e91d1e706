#!/bin/bash
# Users and groups on the nodes (issue 5, "initramfs/"): bpmaster sends its
# /etc/passwd and /etc/group to each node when it connects, every line
# without its password field, and again when either file changes, so
# `bpsh 0 id` shows names.  The test runs in a private mount namespace
# with copies of the two files bind-mounted over them, so it adds users
# (one with a password hash in its line, a comment, a broken line) without
# touching the machine's own files; bpmaster, started from here, sees the
# copies.
if [ -z "${T44_IN_NS:-}" ]; then
	[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
	command -v unshare >/dev/null || { echo "SKIP: needs unshare"; exit 77; }
	T44_IN_NS=1 exec unshare -m --propagation private bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"

need_root
need_image
need_cmd setpriv mount

TMP=$(mktemp -d /tmp/t44.XXXXXX)
on_exit "rm -rf '$TMP'"
cp /etc/passwd "$TMP/passwd"
cp /etc/group "$TMP/group"
printf '%s\n' '# a comment line' \
    'bptest:$6$salt$notarealhashbutshapedlikeone:4321:4321:BP Test:/home/bptest:/bin/sh' \
    'broken:line' >>"$TMP/passwd"
printf '%s\n' 'bpgrp:$6$grouphash:4321:bptest' >>"$TMP/group"
mount --bind "$TMP/passwd" /etc/passwd || die "bind-mount /etc/passwd"
mount --bind "$TMP/group" /etc/group || die "bind-mount /etc/group"
pass "a private /etc/passwd with bptest (uid 4321) and /etc/group with bpgrp"

say "# bpvcluster up -n 1"
vcluster_up 1
user_tools
R=$(node_root 0)

say "# the node's /etc/passwd and /etc/group"
check "bptest's line is on node 0, password field 'x'" \
    grep -qx 'bptest:x:4321:4321:BP Test:/home/bptest:/bin/sh' "$R/etc/passwd"
check "bpgrp's line is on node 0, password field 'x'" \
    grep -qx 'bpgrp:x:4321:bptest' "$R/etc/group"
check "root is there" grep -q '^root:x:0:0:' "$R/etc/passwd"
check "no password hash reached the node" \
    sh -c "! grep -q '\\\$6\\\$' '$R/etc/passwd' '$R/etc/group'"
check "comment and broken lines are left out" \
    sh -c "! grep -qE '^(#|broken)' '$R/etc/passwd'"
check "both are root's, mode 0644" \
    test "$(stat -c '%a %u' "$R/etc/passwd" "$R/etc/group" | sort -u)" = "644 0"

say "# bpsh 0 id as uid 4321 shows names"
mkdir "$TMP/home" && chown 4321:4321 "$TMP/home"
out=$(cd / && setpriv --reuid=4321 --regid=4321 --clear-groups \
    env HOME="$TMP/home" "$UBIN/bpsh" 0 id 2>&1)
check "uid 4321: bpsh 0 id -> 'uid=4321(bptest) gid=4321(bpgrp) groups=4321(bpgrp)' (got '$out')" \
    test "$out" = "uid=4321(bptest) gid=4321(bpgrp) groups=4321(bpgrp)"

say "# a user added on the front end reaches the node"
echo 'bpnew:x:4322:4321:New:/:/bin/sh' >>"$TMP/passwd"
start=$(now_ms)
if wait_for "grep -q '^bpnew:x:4322:' '$R/etc/passwd'" 15; then
	pass "bpnew is on node 0 after $(( $(now_ms) - start )) ms"
else
	fail "bpnew did not reach node 0 in 15 s"
fi
check "bpmaster logged the change" \
    grep -q 'users: /etc/passwd or /etc/group changed; sent to 1 nodes' \
    "$BPVC_STATE/bpmaster.log"
check "node 0 is still up" test "$(node_state 0)" = up

finish
