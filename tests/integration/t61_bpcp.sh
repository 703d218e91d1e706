#!/bin/bash
# bpcp, the cluster copy tool, as a new user would try it on a 2-node
# virtual cluster (issue 4):
#   - a file front end -> node, node -> front end and node -> node, checked
#     by SHA-256 (on the node through bpsh and through /proc/<pid 1>/root);
#   - -r on a tree with nested directories, a symlink and an empty file,
#     compared by a listing of types, names, link targets and hashes;
#   - -p keeps mode and mtime (and, for root, the owner) every way, for a
#     user with umask 077 too; without -p the copy is new (umask'd mode,
#     current mtime, the caller's owner);
#   - several sources into a directory; several into a non-directory fail;
#   - a 64 MB file round-trips intact through both nodes; no progress bar
#     when stderr is not a terminal, and one on a terminal;
#   - nobody cannot copy a root-only file out of the front end, nor write
#     into a root-only node directory, nor read a root-only node file, nor
#     get a tree with an unreadable part: clear errors, exit 1, nothing at
#     the destination;
#   - a missing source, no such node and a down node give "<node>: ..."
#     errors and exit 1, and no failure leaves a partial file or a
#     temporary behind: not even bpcp killed in the middle of a copy (every
#     way), nor the source node lost in the middle of sending.
. "$(dirname "$0")/lib.sh"

need_root
need_image
need_cmd runuser sha256sum find tar
need_file "$BIN/bpcp" "$BIN/bpsh"

TMP=$(mktemp -d /tmp/t61.XXXXXX)
on_exit "rm -rf '$TMP'"
# what nobody may read lives in a world-readable directory
PUB=$(mktemp -d /var/tmp/t61pub.XXXXXX)
on_exit "rm -rf '$PUB'"
chmod 0755 "$PUB"
umask 022

bpcp() { "$BIN/bpcp" "$@"; }
bpsh() { "$BIN/bpsh" "$@"; }
hash_of() { sha256sum <"$1" | cut -d' ' -f1; }
# tree_list DIR: every entry's type, path, mode, link target, and the
# hash of each file, in a stable order
tree_list() {
	(cd "$1" && find . -mindepth 1 -printf '%y %p %m %l\n' | sort &&
	    find . -type f -exec sha256sum {} + | sort)
}
# no_temps DIR: no bpcp temporary (.bpcp.*) is left in DIR
no_temps() { [ -z "$(find "$1" -maxdepth 1 -name '.bpcp.*' 2>/dev/null)" ]; }
# as_nobody COMMAND...: run it as nobody with the cluster's environment
as_nobody() {
	runuser -u nobody -- env BPROC_MASTER="$BPROC_MASTER" \
	    ${BPROC_GHOST:+BPROC_GHOST="$BPROC_GHOST"} "$@"
}
# expect_fail DESCRIPTION PATTERN COMMAND...: exit 1, PATTERN on stderr
expect_fail() {
	local what=$1 pat=$2 msg rc
	shift 2
	msg=$("$@" 2>&1 >/dev/null)
	rc=$?
	say "    $* -> exit $rc: $(echo $msg)"
	if [ "$rc" = 1 ] && grep -qF -- "$pat" <<<"$msg"; then
		pass "$what"
	else
		fail "$what (wanted exit 1 and '$pat')"
	fi
}

say "# bpvcluster up -n 2"
vcluster_up 2
user_tools
R0=$(node_root 0)
R1=$(node_root 1)
bpsh 0 mkdir -p /tmp/in /tmp/p && bpsh 1 mkdir -p /tmp/in /tmp/p ||
    die "cannot make directories on the nodes"

say "# one file, every way"
head -c 300000 /dev/urandom >"$TMP/file"
H=$(hash_of "$TMP/file")
check "bpcp file 0:/tmp/in/ exits 0" bpcp "$TMP/file" 0:/tmp/in/
got=$(bpsh 0 sha256sum /tmp/in/file | cut -d' ' -f1)
check "node 0 has it (bpsh 0 sha256sum: $got)" test "$got" = "$H"
check "bpcp 0:/tmp/in/file n1:/tmp/in/copy (node to node) exits 0" \
    bpcp 0:/tmp/in/file n1:/tmp/in/copy
check "node 1 has the same content" test "$(hash_of "$R1/tmp/in/copy")" = "$H"
check "bpcp 1:/tmp/in/copy back to the front end exits 0" \
    bpcp 1:/tmp/in/copy "$TMP/back"
check "the front end has the same content" test "$(hash_of "$TMP/back")" = "$H"
: >"$TMP/empty"
check "an empty file goes to node 0" bpcp "$TMP/empty" 0:/tmp/in/empty
check "and is there, empty" eval "[ -f '$R0/tmp/in/empty' ] && [ ! -s '$R0/tmp/in/empty' ]"
check "no temporaries in node 0's /tmp/in" no_temps "$R0/tmp/in"

say "# several sources"
echo one >"$TMP/one"
echo two >"$TMP/two"
check "bpcp one two 1:/tmp/in exits 0" bpcp "$TMP/one" "$TMP/two" 1:/tmp/in
check "both are on node 1" eval "[ \"\$(cat '$R1/tmp/in/one' '$R1/tmp/in/two')\" = \"\$(printf 'one\ntwo')\" ]"
expect_fail "several sources into a file: 'Not a directory'" \
    "1: /tmp/in/one: Not a directory" bpcp "$TMP/one" "$TMP/two" 1:/tmp/in/one
check "the file is unchanged" test "$(cat "$R1/tmp/in/one")" = one

say "# -r: a tree with nested directories, a symlink and an empty file"
mkdir -p "$TMP/tree/a/b/c" "$TMP/tree/d"
echo top >"$TMP/tree/top"
head -c 100000 /dev/urandom >"$TMP/tree/a/b/c/deep"
: >"$TMP/tree/d/empty"
chmod 0750 "$TMP/tree/a/b"
ln -s a/b/c/deep "$TMP/tree/link"
want=$(tree_list "$TMP/tree")
check "bpcp -r tree 0:/tmp/in exits 0" bpcp -r "$TMP/tree" 0:/tmp/in
check "node 0's copy lists the same (types, modes, links, hashes)" \
    test "$(tree_list "$R0/tmp/in/tree")" = "$want"
check "bpcp -r 0:/tmp/in/tree 1:/tmp/t2 (node to node, new name) exits 0" \
    bpcp -r 0:/tmp/in/tree 1:/tmp/t2
check "node 1's copy lists the same" test "$(tree_list "$R1/tmp/t2")" = "$want"
check "bpcp -r 1:/tmp/t2 back to the front end exits 0" \
    bpcp -r 1:/tmp/t2 "$TMP/tree2"
check "the front end's copy lists the same" \
    test "$(tree_list "$TMP/tree2")" = "$want"
check "the symlink is a symlink" test "$(readlink "$TMP/tree2/link")" = a/b/c/deep
echo added >"$TMP/tree/d/new"
chmod 0711 "$R0/tmp/in/tree"
check "bpcp -r tree 0:/tmp/in again (onto the copy: merged, as cp -r) exits 0" \
    bpcp -r "$TMP/tree" 0:/tmp/in
check "the existing top directory kept its mode (711)" \
    test "$(stat -c %a "$R0/tmp/in/tree")" = 711
check "node 0's copy now has the new file too, and lists as the tree" \
    test "$(tree_list "$R0/tmp/in/tree")" = "$(tree_list "$TMP/tree")"
check "no temporaries left by the merge" no_temps "$R0/tmp/in"
rm "$TMP/tree/d/new"
expect_fail "a directory without -r: 'Is a directory'" \
    "0: /tmp/in/tree: Is a directory" bpcp 0:/tmp/in/tree "$TMP/x"
check "nothing was made" test ! -e "$TMP/x"

say "# -p keeps mode and mtime; without it the copy is new"
echo keep >"$TMP/pfile"
chmod 0604 "$TMP/pfile"
touch -d @1500000000 "$TMP/pfile"
chown nobody:nogroup "$TMP/pfile"
check "bpcp -p pfile 0:/tmp/p/ exits 0" bpcp -p "$TMP/pfile" 0:/tmp/p/
check "node 0: mode 604, mtime 1500000000, owner nobody (root keeps owners)" \
    test "$(stat -c '%a %Y %u' "$R0/tmp/p/pfile")" = "604 1500000000 65534"
check "bpcp -p 0:/tmp/p/pfile 1:/tmp/p/pfile exits 0" \
    bpcp -p 0:/tmp/p/pfile 1:/tmp/p/pfile
check "node 1: the same" \
    test "$(stat -c '%a %Y %u' "$R1/tmp/p/pfile")" = "604 1500000000 65534"
check "bpcp -p 1:/tmp/p/pfile back exits 0" bpcp -p 1:/tmp/p/pfile "$TMP/pback"
check "front end: the same" \
    test "$(stat -c '%a %Y %u' "$TMP/pback")" = "604 1500000000 65534"
check "bpcp pfile (no -p) 0:/tmp/p/plain exits 0" bpcp "$TMP/pfile" 0:/tmp/p/plain
check "without -p: root's file, current mtime" \
    eval "[ \"\$(stat -c %u '$R0/tmp/p/plain')\" = 0 ] && [ \"\$(stat -c %Y '$R0/tmp/p/plain')\" != 1500000000 ]"
touch -d @1400000000 "$TMP/tree/a/b/c/deep"
check "bpcp -rp tree 1:/tmp/p exits 0" bpcp -rp "$TMP/tree" 1:/tmp/p
check "a file deep in the tree kept its mtime and mode" \
    test "$(stat -c '%a %Y' "$R1/tmp/p/tree/a/b/c/deep")" = "$(stat -c '%a %Y' "$TMP/tree/a/b/c/deep")"
check "the tree's top kept its mode" \
    test "$(stat -c '%a' "$R1/tmp/p/tree")" = "$(stat -c '%a' "$TMP/tree")"

say "# a 64 MB file round-trips"
head -c $((64 << 20)) /dev/urandom >"$TMP/big"
H=$(hash_of "$TMP/big")
check "bpcp big 0:/tmp/big: exit 0 and nothing on stderr (not a terminal)" \
    eval "[ -z \"\$('$BIN/bpcp' '$TMP/big' 0:/tmp/big 2>&1)\" ]"
check "bpcp 0:/tmp/big 1:/tmp/big exits 0" bpcp 0:/tmp/big 1:/tmp/big
check "bpcp 1:/tmp/big back exits 0" bpcp 1:/tmp/big "$TMP/big.back"
check "node 0, node 1 and the copy back all hash as the original" \
    eval "[ \"\$(hash_of '$R0/tmp/big')\" = '$H' ] && [ \"\$(hash_of '$R1/tmp/big')\" = '$H' ] && [ \"\$(hash_of '$TMP/big.back')\" = '$H' ]"
rm -f "$R0/tmp/big" "$R1/tmp/big" "$TMP/big.back"
if command -v script >/dev/null; then
	script -qec "'$BIN/bpcp' '$TMP/big' 0:/tmp/big" /dev/null >"$TMP/tty.out" 2>&1
	check "on a terminal a progress bar ends at 100%" \
	    eval "tr '\r' '\n' <'$TMP/tty.out' | grep -q '^big  *100% '"
	rm -f "$R0/tmp/big"
fi
rm -f "$TMP/big"

say "# permissions: nobody reads and writes only what it may"
echo secret >"$PUB/secret"
chmod 0600 "$PUB/secret"
echo public >"$PUB/public"
chmod 0644 "$PUB/public"
bpsh 0 sh -c 'mkdir -p /rootonly && chmod 0700 /rootonly && echo s >/tmp/p/rootfile && chmod 0600 /tmp/p/rootfile' ||
    die "cannot set up root-only places on node 0"
expect_fail "nobody: a root-only front-end file: 'Permission denied'" \
    "bpcp: $PUB/secret: Permission denied" as_nobody "$UBIN/bpcp" "$PUB/secret" 0:/tmp/in/stolen
check "node 0 has no /tmp/in/stolen" test ! -e "$R0/tmp/in/stolen"
expect_fail "nobody: into a root-only node directory: 'Permission denied'" \
    "0: /rootonly: Permission denied" as_nobody "$UBIN/bpcp" "$PUB/public" 0:/rootonly/
check "/rootonly on node 0 is still empty" test -z "$(ls -A "$R0/rootonly")"
expect_fail "nobody: a root-only node file: 'Permission denied'" \
    "0: /tmp/p/rootfile: Permission denied" as_nobody "$UBIN/bpcp" 0:/tmp/p/rootfile "$TMP/stolen"
check "the front end has no copy" test ! -e "$TMP/stolen"
expect_fail "nobody: the node's cluster key: 'Permission denied'" \
    "Permission denied" as_nobody "$UBIN/bpcp" 0:/etc/bproc/cluster.key 1:/tmp/key
check "node 1 has no /tmp/key" test ! -e "$R1/tmp/key"
mkdir -p "$PUB/tree/open" "$PUB/tree/closed"
echo a >"$PUB/tree/open/a"
echo b >"$PUB/tree/closed/b"
chmod -R a+rX "$PUB/tree"
chmod 0700 "$PUB/tree/closed"
expect_fail "nobody: a tree with an unreadable directory fails, naming it" \
    "$PUB/tree/closed" as_nobody "$UBIN/bpcp" -r "$PUB/tree" 0:/tmp/in/nt
check "no part of that tree is on node 0" test ! -e "$R0/tmp/in/nt"
check "and no temporary" no_temps "$R0/tmp/in"
check "nobody may copy the public file into node 0's /tmp" \
    as_nobody "$UBIN/bpcp" "$PUB/public" 0:/tmp/pub
check "and the copy is nobody's" test "$(stat -c %u "$R0/tmp/pub")" = 65534

say "# a copy cut off midway leaves nothing behind"
# 20 GB sparse files: at this cluster's speed no copy of them can end
# before the kill, so what is checked is what an interruption leaves.
truncate -s 20G "$TMP/sparse" && bpsh 0 truncate -s 20G /tmp/sparse &&
    bpsh 1 truncate -s 20G /tmp/sparse || die "cannot make sparse files"
# cut_off DESCRIPTION SRC DST TEMPDIR DSTFILE: start bpcp SRC DST, wait
# for its temporary in TEMPDIR, kill bpcp; then the temporary must go and
# DSTFILE (DST as the front end sees it) must not exist
cut_off() {
	local what=$1 src=$2 dst=$3 dir=$4 file=$5 pid
	"$BIN/bpcp" "$src" "$dst" 2>"$TMP/cut.err" &
	pid=$!
	if ! wait_for "! no_temps '$dir'" 30; then
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		fail "$what: no temporary ever showed up in $dir"
		show_log "$TMP/cut.err"
		return
	fi
	kill -TERM "$pid"
	wait "$pid" 2>/dev/null
	if wait_for "no_temps '$dir'" 30 && [ ! -e "$file" ]; then
		pass "$what: temporary removed (after ${WAITED_MS} ms), no $dst"
	else
		fail "$what: a temporary or $dst is left"
	fi
}
cut_off "bpcp killed, node 0 -> front end" 0:/tmp/sparse "$TMP/cut" \
    "$TMP" "$TMP/cut"
cut_off "bpcp killed, node 0 -> node 1" 0:/tmp/sparse 1:/tmp/in/cut \
    "$R1/tmp/in" "$R1/tmp/in/cut"
cut_off "bpcp killed, front end -> node 0" "$TMP/sparse" 0:/tmp/in/cut \
    "$R0/tmp/in" "$R0/tmp/in/cut"
# node 1 lost in the middle of sending
"$BIN/bpcp" 1:/tmp/sparse "$TMP/lost" 2>"$TMP/lost.err" &
pid=$!
if wait_for "! no_temps '$TMP'" 30; then
	"$BIN/bpvcluster" kill 1 >/dev/null 2>&1
	wait "$pid"
	rc=$?
	say "    bpcp 1:/tmp/sparse ... with node 1 lost -> exit $rc: $(cat "$TMP/lost.err")"
	check "a node lost during the copy: exit 1, '1: Node is down'" \
	    eval "[ '$rc' = 1 ] && grep -q '^1: Node is down' '$TMP/lost.err'"
	check "no temporary and no $TMP/lost" \
	    eval "no_temps '$TMP' && [ ! -e '$TMP/lost' ]"
else
	kill -KILL "$pid" 2>/dev/null
	fail "the copy from node 1 never started"
fi
rm -f "$TMP/sparse"

say "# -p as a user with umask 077: modes exact; without -p, the umask applies"
mkdir -m 0777 "$PUB/nob"
as_nobody sh -c "umask 077 && mkdir -p '$PUB/nob/t/d' && echo a >'$PUB/nob/t/d/f' &&
    chmod 0765 '$PUB/nob/t/d/f' && chmod 0751 '$PUB/nob/t/d' &&
    touch -d @1400000000 '$PUB/nob/t/d/f' &&
    '$UBIN/bpcp' -rp '$PUB/nob/t' 0:/tmp/nt && '$UBIN/bpcp' -rp 0:/tmp/nt '$PUB/nob/back' &&
    '$UBIN/bpcp' -r '$PUB/nob/t' 0:/tmp/nu" ||
    fail "nobody's -rp copies failed"
check "node 0: the tree's modes and the file's mtime kept (751, 765, 1400000000)" \
    test "$(stat -c %a "$R0/tmp/nt/d") $(stat -c '%a %Y' "$R0/tmp/nt/d/f")" = "751 765 1400000000"
check "and back on the front end" \
    test "$(stat -c %a "$PUB/nob/back/d") $(stat -c '%a %Y' "$PUB/nob/back/d/f")" = "751 765 1400000000"
check "without -p, umask 077 leaves 700 and 700, owned by nobody" \
    test "$(stat -c '%a %u' "$R0/tmp/nu/d" "$R0/tmp/nu/d/f" | tr '\n' ' ')" = "700 65534 700 65534 "

say "# errors name the node and the path"
expect_fail "a missing node file" "0: /nonexistent: No such file or directory" \
    bpcp 0:/nonexistent "$TMP/none"
check "nothing at the destination" test ! -e "$TMP/none"
expect_fail "a missing front-end file" "bpcp: $TMP/nonexistent: No such file or directory" \
    bpcp "$TMP/nonexistent" 0:/tmp/in/none
expect_fail "a missing node directory" "0: /no/such: No such file or directory" \
    bpcp "$TMP/one" 0:/no/such/file
expect_fail "no such node" "7: No such node" bpcp "$TMP/one" 7:/tmp/x
wait_for '[ "$(node_state 1)" = down ]' 10 || fail "node 1 does not go down"
expect_fail "a down node as the destination" "1: Node is down" \
    bpcp "$TMP/one" 1:/tmp/x
expect_fail "a down node as the source" "1: Node is down" \
    bpcp 1:/tmp/in/one "$TMP/fromdown"
expect_fail "node to a down node" "1: Node is down" \
    bpcp 0:/tmp/in/file 1:/tmp/x
check "nothing from the down node at the destination" test ! -e "$TMP/fromdown"
mkdir -p "$TMP/multi"
expect_fail "one bad source among good ones: exit 1, the good ones copied" \
    "0: /nonexistent" bpcp "$TMP/one" 0:/nonexistent "$TMP/two" "$TMP/multi"
check "the good ones are there" eval "[ -f '$TMP/multi/one' ] && [ -f '$TMP/multi/two' ]"
check "no temporaries on the front end" \
    eval "no_temps '$TMP' && no_temps '$TMP/multi'"
check "no temporaries on node 0" eval "no_temps '$R0/tmp/in' && no_temps '$R0/tmp/p' && no_temps '$R0/tmp' && no_temps '$R0/rootonly'"

finish
