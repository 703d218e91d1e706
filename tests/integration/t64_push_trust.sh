#!/bin/bash
# The front end is the truth for pushed files (issue 9), on a 1-node
# virtual cluster, tried as an unprivileged user with a client of their own:
# a bpsh built here from the tree whose manifest lies (t64_forge.c: owner,
# mode, size, hash, path or link target as the environment says).
#   - a user's push of a root-owned set-uid front-end file, with the
#     ordinary bpsh, lands on the node owned by the user, without the bit;
#   - a manifest claiming uid 0 and mode 04755 gets the user's file, not a
#     root-owned set-uid one;
#   - a claimed path whose front-end content differs, a forged hash, a
#     forged symlink target, a path the user cannot read: refused with
#     "not the front end's file" (or the reason), nothing on the node;
#   - a file root pushed, or the setup push list's, cannot be replaced by
#     the user once the front end's content moved on; another user's
#     pushed file cannot be replaced either; the error says whose it is;
#   - two entries of 2^63 bytes (the sum wraps past 2^64) are refused with
#     "manifest too large", for the user and for root;
#   - the node and the master keep serving: ordinary bpsh runs afterwards;
#     a user's pushed program is not run by another user, root's is.
. "$(dirname "$0")/lib.sh"

need_root
need_image
need_cmd gcc useradd userdel setpriv timeout cmp find
need_file "$BIN/bpsh" /usr/include/gelf.h /usr/include/sodium.h

TMP=$(mktemp -d /tmp/t64.XXXXXX)
on_exit "rm -rf '$TMP'"
chmod 0755 "$TMP"
# on the node's root fs (its /tmp is another tmpfs)
PUB=$(mktemp -d /var/tmp/t64pub.XXXXXX)
on_exit "rm -rf '$PUB'"
chmod 0755 "$PUB"
export HOME=$TMP/home
mkdir -p "$HOME"

say "# a bpsh from the tree whose manifest lies"
SRC=$TOP/master
cp "$SRC/lib/rexec.c" "$TMP/rexec.c"
# every manifest entry goes through t64_encode, which forges it
sed -i 's/(el = mfile_encode(e,/(el = t64_encode(e,/' "$TMP/rexec.c"
grep -q t64_encode "$TMP/rexec.c" || die "rexec.c has no mfile_encode call to forge"
FORGED=$TMP/bin/bpsh-forged
mkdir -p "$TMP/bin"
# bpsh's sources as the Makefile lists them (BPSH_SRC), with the forged
# rexec.c; glibc's libsodium stands in for the musl build's compat file
FORGE_SRC=()
for f in $(make -s -C "$TOP" --no-print-directory \
    --eval 'bpsh-src: ; @echo $(BPSH_SRC)' bpsh-src); do
	case $f in
	master/lib/rexec.c) FORGE_SRC+=("$TMP/rexec.c") ;;
	common/sodium_compat.c) ;;
	*) FORGE_SRC+=("$TOP/$f") ;;
	esac
done
((${#FORGE_SRC[@]} > 5)) || die "no BPSH_SRC from the Makefile"
if ! gcc -std=c11 -D_GNU_SOURCE -O1 -I"$TOP/common" -I"$SRC/lib" -I"$SRC/cmd" \
    -DBPROC_GHOST_PATH="\"$TOP/out/libexec/bpghost\"" \
    -include "$TOP/tests/integration/t64_forge.c" -o "$FORGED" \
    "${FORGE_SRC[@]}" -lelf -lsodium 2>"$TMP/cc.err"; then
	show_log "$TMP/cc.err"
	die "cannot build the forged bpsh"
fi
chmod 0755 "$TMP/bin" "$FORGED"
pass "forged bpsh built"

# The user of this test, and nobody as a second one.
EVIL=bpt64x$$
useradd -r -M -d /nonexistent -s /usr/sbin/nologin "$EVIL" || die "useradd $EVIL"
on_exit "userdel '$EVIL'"
EUID_=$(id -u "$EVIL")
EGID_=$(id -g "$EVIL")
NOBODY=$(id -u nobody 2>/dev/null) || skip "needs a user 'nobody'"
NOGROUP=$(id -g nobody)
user_tools
mkdir -p "$TMP/ehome" "$TMP/nhome"
chown "$EVIL" "$TMP/ehome"
chown nobody "$TMP/nhome"
# as_evil CMD...: as the test's user, killed after 60 s
as_evil() {
	timeout 60 setpriv --reuid="$EUID_" --regid="$EGID_" --clear-groups \
	    env HOME="$TMP/ehome" BPROC_MASTER="$BPROC_MASTER" "$@"
}
as_nobody() {
	timeout 60 setpriv --reuid="$NOBODY" --regid="$NOGROUP" --clear-groups \
	    env HOME="$TMP/nhome" BPROC_MASTER="$BPROC_MASTER" "$@"
}
# refused WHAT PATTERN CMD...: CMD exits non-zero and says PATTERN
refused() {
	local what=$1 pat=$2 rc
	shift 2
	"$@" >"$TMP/out" 2>&1
	rc=$?
	say "    exit $rc: $(head -c 300 "$TMP/out" | tr '\n' ' ')"
	if [ "$rc" != 0 ] && grep -q -- "$pat" "$TMP/out"; then
		pass "$what"
	else
		fail "$what"
	fi
}

# owner_of NODEPATH: "uid mode" of a node's file, as the node has it
R=
owner_of() { stat -c '%u %a' "$R$1" 2>/dev/null; }

# front-end files: root's, world-readable
printf 'root suid\n' >"$PUB/suid"
chmod 04755 "$PUB/suid"
printf 'setup list v1\n' >"$PUB/setupfile"
printf 'root v1\n' >"$PUB/rootfile"
printf 'shared\n' >"$PUB/shared"
printf 'secret\n' >"$PUB/secret"
chmod 0644 "$PUB/setupfile" "$PUB/rootfile" "$PUB/shared"
chmod 0600 "$PUB/secret"
# the user's own
mkdir "$PUB/evil"
printf 'evil one\n' >"$PUB/evil/one"
printf 'evil two\n' >"$PUB/evil/two"
printf 'evil three\n' >"$PUB/evil/three"
ln -s one "$PUB/evil/link"
chown -R "$EVIL:$EGID_" "$PUB/evil"
chown -h "$EVIL:$EGID_" "$PUB/evil/link"

BPVC_MASTER_CONF="push $PUB/setupfile" vcluster_up 1
R=$(node_root 0)
check "the setup list's file is on node 0" cmp -s "$PUB/setupfile" "$R$PUB/setupfile"

say "# the ordinary bpsh: a root-owned set-uid file pushed by a user"
check "the user pushes $PUB/suid" as_evil "$UBIN/bpsh" --no-push --push "$PUB/suid" 0 true
say "    on the node: $(owner_of "$PUB/suid")"
check "it is the user's on the node, mode 755 (no set-uid bit)" \
    test "$(owner_of "$PUB/suid")" = "$EUID_ 755"

say "# a manifest claiming uid 0 and mode 04755"
T64_UID=0 T64_MODE=04755 as_evil "$FORGED" --no-push --push "$PUB/evil/one" 0 true \
    >"$TMP/out" 2>&1
say "    exit $?: $(head -c 200 "$TMP/out")  on the node: $(owner_of "$PUB/evil/one")"
check "no root-owned $PUB/evil/one on the node" \
    test "$(owner_of "$PUB/evil/one" | cut -d' ' -f1)" != 0
check "no set-id file on the node's pushed paths or in its cache" \
    test -z "$(find "$R$PUB" "$R/var/lib/bproc/cache" -perm /6000 2>/dev/null)"

say "# claims the front end does not back"
T64_AS=$PUB/rootfile refused "the user's content claimed as $PUB/rootfile: not the front end's file" \
    "not the front end's file" as_evil "$FORGED" --no-push --push "$PUB/evil/two" 0 true
check "... and $PUB/rootfile is not on the node" test ! -e "$R$PUB/rootfile"
T64_HASH=1 refused "a forged hash: not the front end's file" \
    "not the front end's file" as_evil "$FORGED" --no-push --push "$PUB/evil/three" 0 true
check "... and nothing of it is on the node" test ! -e "$R$PUB/evil/three"
T64_TARGET=/etc/shadow refused "a forged symlink target: not the front end's" \
    "not the front end's" as_evil "$FORGED" --no-push --push "$PUB/evil/link" 0 true
check "... and no such link on the node" test ! -L "$R$PUB/evil/link"
T64_AS=$PUB/secret refused "a path the user cannot read: refused" \
    "$PUB/secret" as_evil "$FORGED" --no-push --push "$PUB/evil/three" 0 true
check "... and it is not on the node" test ! -e "$R$PUB/secret"

say "# files of other owners on the node"
check "root pushes $PUB/rootfile" "$BIN/bpsh" --no-push --push "$PUB/rootfile" 0 true
check "the user may use root's file while it is the front end's" \
    as_evil "$UBIN/bpsh" --no-push --push "$PUB/rootfile" 0 cat "$PUB/rootfile" >/dev/null
printf 'root v2\n' >"$PUB/rootfile"
printf 'setup list v2\n' >"$PUB/setupfile"
refused "the user cannot replace a file root pushed" "$PUB/rootfile" \
    as_evil "$UBIN/bpsh" --no-push --push "$PUB/rootfile" 0 true
check "... which is still root's first content" \
    test "$(cat "$R$PUB/rootfile" 2>/dev/null)" = "root v1" -a "$(owner_of "$PUB/rootfile")" = "0 644"
refused "the user cannot replace the setup list's file" "$PUB/setupfile" \
    as_evil "$UBIN/bpsh" --no-push --push "$PUB/setupfile" 0 true
check "... which is still the list's" \
    test "$(cat "$R$PUB/setupfile" 2>/dev/null)" = "setup list v1"
check "the user pushes $PUB/shared" as_evil "$UBIN/bpsh" --no-push --push "$PUB/shared" 0 true
refused "nobody cannot take over the user's pushed file" "$PUB/shared" \
    as_nobody "$UBIN/bpsh" --no-push --push "$PUB/shared" 0 true
check "... which is still the user's" test "$(owner_of "$PUB/shared")" = "$EUID_ 644"
check "root can replace anything pushed" "$BIN/bpsh" --no-push --push "$PUB/rootfile" 0 true
check "... and does" test "$(cat "$R$PUB/rootfile" 2>/dev/null)" = "root v2"

say "# sizes that wrap: two entries of 2^63 bytes"
T64_SIZE=9223372036854775808 refused "the user's manifest is too large" "manifest too large" \
    as_evil "$FORGED" --no-push --push "$PUB/evil/one" --push "$PUB/evil/two" 0 true
T64_SIZE=9223372036854775808 refused "root's too" "manifest too large" \
    "$FORGED" --no-push --push "$PUB/evil/one" --push "$PUB/evil/two" 0 true

say "# the node and the master keep serving"
check "node 0 is up" test "$(node_state 0)" = up
check "root: bpsh 0 echo" test "$("$BIN/bpsh" 0 echo hi 2>&1)" = hi
check "the user: bpsh 0 true" as_evil "$UBIN/bpsh" 0 true
# the user's push of /usr/bin/true and its libraries is the user's: nobody
# does not run them (the user could have changed them on the node)
refused "nobody does not run the user's pushed true" "another user's file" \
    as_nobody "$UBIN/bpsh" 0 true
check "nobody: bpsh --no-push 0 /bin/true (the image's)" as_nobody "$UBIN/bpsh" --no-push 0 /bin/true
check "root: bpsh 0 true (root's push replaces the user's)" "$BIN/bpsh" 0 true
check "nobody: bpsh 0 true, on root's files" as_nobody "$UBIN/bpsh" 0 true

finish
