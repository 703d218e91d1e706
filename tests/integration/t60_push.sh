#!/bin/bash
# Pushing programs and libraries into node RAM, as a new user would try it
# on a 2-node virtual cluster (issue 4):
#   - a program compiled here, linked against two shared libraries built
#     here (SONAME + symlink, found through DT_RUNPATH $ORIGIN/../lib), runs
#     on a node and prints the right result;
#   - Debian tools with several libraries (zstd, openssl) run on node 0;
#     the front end's xz runs, not the image's busybox applet of that name;
#   - a '#!' script whose interpreter (perl) the image lacks runs;
#   - bpsh --push /usr/lib/python3.11 0 /usr/bin/python3 -c '...' -> [42];
#   - the same command twice: the second run sends 0 blob bytes (push_bytes
#     of bpstat --json); a program changed on the front end is the new
#     content on the next run;
#   - a user who cannot read a file cannot get it pushed, and the node has
#     no such file;
#   - modes and owners are kept: a 0700 root program pushed by root is not
#     readable or runnable by nobody on the node;
#   - a file whose content changed after it was hashed (the front end's
#     hash cache fooled by a same-size, same-mtime rewrite) is refused by
#     the node, and nothing is linked in;
#   - a push larger than the cache budget fails with "node RAM cache full"
#     (the cluster's budget is 256 MiB, so the file is small enough to
#     hash in the normal suite; t62_cache tests budget and eviction).
# The checks look at the node's files through /proc/<node PID 1>/root.
. "$(dirname "$0")/lib.sh"

need_root
need_image
need_cmd gcc runuser readelf
need_file "$BIN/bpsh"

TMP=$(mktemp -d /tmp/t60.XXXXXX)
on_exit "rm -rf '$TMP'"
# files nobody must reach live in a world-readable directory
PUB=$(mktemp -d /var/tmp/t60pub.XXXXXX)
on_exit "rm -rf '$PUB'"
chmod 0755 "$PUB"
# the front end's hash cache of this test, not root's own
export HOME=$TMP/home
mkdir -p "$HOME"

bpsh() { "$BIN/bpsh" "$@"; }
push_bytes() { json_field "$(node_json "$1")" push_bytes; }
cache_bytes() { json_field "$(node_json "$1")" cache_bytes; }
# run_out DESCRIPTION EXPECTED COMMAND...: the command's stdout must be
# EXPECTED exactly and its status 0.
run_out() {
	local what=$1 want=$2 out rc
	shift 2
	out=$("$@" 2>"$TMP/err")
	rc=$?
	if [ "$rc" = 0 ] && [ "$out" = "$want" ]; then
		pass "$what"
	else
		say "    got (exit $rc): $(printf '%s' "$out" | head -c 300)"
		sed 's/^/    stderr: /' "$TMP/err" | head -5
		fail "$what"
	fi
}

say "# build a program and two shared libraries on the front end"
mkdir -p "$TMP/app/bin" "$TMP/app/lib"
cat >"$TMP/foo.c" <<'EOF'
int foo(int x) { return x * 6; }
EOF
cat >"$TMP/bar.c" <<'EOF'
int foo(int);
int bar(int x) { return foo(x) + 35; }
EOF
cat >"$TMP/prog.c" <<'EOF'
#include <stdio.h>
int foo(int); int bar(int);
int main(void) { printf("%s %d %d\n", MSG, foo(7), bar(1)); return 0; }
EOF
build_prog() {	# build_prog MESSAGE [OUTPUT RUNPATH]
	gcc -O2 -DMSG="\"$1\"" -o "${2:-$TMP/app/bin/prog}" "$TMP/prog.c" \
	    -L"$TMP/app/lib" -lbar -lfoo -Wl,--enable-new-dtags \
	    -Wl,-rpath,"${3:-\$ORIGIN/../lib}"
}
# prog2 finds the same libraries through an absolute DT_RUNPATH; the
# twice/changed checks use it, so they do not depend on $ORIGIN handling
build_prog2() { build_prog "$1" "$TMP/app/bin/prog2" "$TMP/app/lib"; }
if gcc -O2 -shared -fPIC -Wl,-soname,libfoo.so.1 \
	-o "$TMP/app/lib/libfoo.so.1.0" "$TMP/foo.c" &&
    ln -s libfoo.so.1.0 "$TMP/app/lib/libfoo.so.1" &&
    ln -s libfoo.so.1 "$TMP/app/lib/libfoo.so" &&
    gcc -O2 -shared -fPIC -Wl,-soname,libbar.so.1 -L"$TMP/app/lib" \
	-Wl,--enable-new-dtags -Wl,-rpath,'$ORIGIN' \
	-o "$TMP/app/lib/libbar.so.1.0" "$TMP/bar.c" -lfoo &&
    ln -s libbar.so.1.0 "$TMP/app/lib/libbar.so.1" &&
    ln -s libbar.so.1 "$TMP/app/lib/libbar.so" &&
    build_prog "first" 2>"$TMP/cc.log" && build_prog2 "first" 2>>"$TMP/cc.log"; then
	pass "prog, libfoo.so.1 and libbar.so.1 build"
else
	show_log "$TMP/cc.log"
	die "cannot build the test program"
fi
check "prog has DT_RUNPATH \$ORIGIN/../lib" \
    eval "readelf -d '$TMP/app/bin/prog' | grep -q 'RUNPATH.*\$ORIGIN/../lib'"
check "prog runs on the front end" test "$("$TMP/app/bin/prog")" = "first 42 41"
check "prog2 has DT_RUNPATH $TMP/app/lib" \
    eval "readelf -d '$TMP/app/bin/prog2' | grep -q 'RUNPATH.*\[$TMP/app/lib\]'"

say "# bpvcluster up -n 2 (cache budget 256 MiB: everything below fits)"
export BPVC_MASTER_CONF="cache_budget 256M"
vcluster_up 2
user_tools
R0=$(node_root 0)

say "# a program with its own libraries"
before=$(push_bytes 0)
run_out "bpsh 0 $TMP/app/bin/prog prints 'first 42 41'" "first 42 41" \
    bpsh 0 "$TMP/app/bin/prog"
after=$(push_bytes 0)
say "    push_bytes $before -> $after"
check "blob bytes were pushed ($((after - before)))" test "$after" -gt "$before"
check "libfoo.so.1 is on node 0 as a symlink, as on the front end" \
    test "$(readlink "$R0$TMP/app/lib/libfoo.so.1")" = libfoo.so.1.0
check "libbar.so.1.0 is on node 0 with the front end's content" \
    cmp -s "$TMP/app/lib/libbar.so.1.0" "$R0$TMP/app/lib/libbar.so.1.0"
# relative command names are found on the front end's PATH
run_out "PATH=$TMP/app/bin:\$PATH bpsh 1 prog finds it on the front end's PATH" \
    "first 42 41" env PATH="$TMP/app/bin:$PATH" "$BIN/bpsh" 1 prog

say "# the same command twice: the second run sends nothing"
run_out "bpsh 0 $TMP/app/bin/prog2 (absolute DT_RUNPATH) prints 'first 42 41'" \
    "first 42 41" bpsh 0 "$TMP/app/bin/prog2"
before=$(push_bytes 0)
run_out "second run of prog2 on node 0" "first 42 41" bpsh 0 "$TMP/app/bin/prog2"
after=$(push_bytes 0)
check "second run sent 0 blob bytes (push_bytes $before -> $after)" \
    test "$after" = "$before"
check "the front end's hash cache exists (~/.cache/bproc/hashes)" \
    test -s "$HOME/.cache/bproc/hashes"

say "# prog2 changes on the front end"
sleep 0.01	# a new mtime even on coarse clocks
if build_prog2 "second" 2>"$TMP/cc.log"; then
	before=$(push_bytes 0)
	run_out "the next run sees the new content ('second 42 41')" \
	    "second 42 41" bpsh 0 "$TMP/app/bin/prog2"
	after=$(push_bytes 0)
	size=$(stat -c %s "$TMP/app/bin/prog2")
	say "    push_bytes $before -> $after (prog is $size bytes)"
	check "only the changed program was sent ($((after - before)) bytes)" \
	    test "$((after - before))" = "$size"
else
	show_log "$TMP/cc.log"
	fail "cannot rebuild prog"
fi

say "# Debian tools with several libraries"
if [ -x /usr/bin/zstd ]; then
	out=$(printf 'hello zstd\n' | bpsh 0 zstd -c 2>"$TMP/err" | zstd -dc 2>/dev/null)
	check "printf | bpsh 0 zstd -c | zstd -dc round-trips ($(ldd /usr/bin/zstd | grep -c '=>') libraries)" \
	    test "$out" = "hello zstd"
	[ "$out" = "hello zstd" ] || sed 's/^/    stderr: /' "$TMP/err" | head -5
else
	say "  skip: /usr/bin/zstd is not installed"
fi
if [ -x /usr/bin/openssl ]; then
	want=$(printf abc | openssl dgst -sha256 2>/dev/null)
	out=$(printf abc | bpsh 0 openssl dgst -sha256 2>"$TMP/err")
	check "bpsh 0 openssl dgst -sha256 matches the front end ($(ldd /usr/bin/openssl | grep -c '=>') libraries)" \
	    test -n "$want" -a "$out" = "$want"
	[ "$out" = "$want" ] || sed 's/^/    stderr: /' "$TMP/err" | head -5
fi
if [ -x /usr/bin/xz ]; then
	# the image has /usr/bin/xz too, as a busybox applet: what runs must
	# be the command the front end's PATH found (DESIGN.md, step 1)
	want=$(xz --version 2>/dev/null | head -1)
	out=$(bpsh 0 xz --version 2>&1 | head -1)
	say "    front end: $want; node 0: $out"
	check "bpsh 0 xz --version runs the front end's xz (XZ Utils), not busybox" \
	    test "$out" = "$want"
fi

say "# a '#!' script whose interpreter the image lacks"
if [ -x /usr/bin/perl ]; then
	check "node 1 has no /usr/bin/perl of its own" \
	    test ! -e "$(node_root 1)/usr/bin/perl"
	printf '#!/usr/bin/perl\nprint "perl says ", 6*7, "\\n";\n' >"$TMP/app/bin/hello.pl"
	chmod 0755 "$TMP/app/bin/hello.pl"
	run_out "bpsh 1 hello.pl (#!/usr/bin/perl) prints 'perl says 42'" \
	    "perl says 42" bpsh 1 "$TMP/app/bin/hello.pl"
else
	say "  skip: no /usr/bin/perl"
fi

say "# python with --push of its standard library"
if [ -x /usr/bin/python3 ] && [ -d /usr/lib/python3.11 ]; then
	start=$(now_ms)
	run_out "bpsh --push /usr/lib/python3.11 0 /usr/bin/python3 -c 'import json; ...' prints [42]" \
	    "[42]" bpsh --push /usr/lib/python3.11 0 /usr/bin/python3 -c \
	    'import json; print(json.dumps([6*7]))'
	say "    cold: $(( $(now_ms) - start )) ms, cache_bytes of node 0: $(cache_bytes 0)"
	start=$(now_ms)
	before=$(push_bytes 0)
	run_out "and again, warm" "[42]" bpsh --push /usr/lib/python3.11 0 \
	    /usr/bin/python3 -c 'import json; print(json.dumps([6*7]))'
	check "warm python run sent 0 blob bytes ($(( $(now_ms) - start )) ms)" \
	    test "$(push_bytes 0)" = "$before"
else
	say "  skip: /usr/bin/python3 or /usr/lib/python3.11 is missing"
fi

say "# --no-push runs the node's own command"
run_out "bpsh --no-push 0 /bin/true" "" bpsh --no-push 0 /bin/true
# node 1 got prog from the PATH run above; use a path it never saw
cp "$TMP/app/bin/prog" "$TMP/app/bin/prog-unseen"
msg=$(bpsh --no-push 1 "$TMP/app/bin/prog-unseen" 2>&1)
rc=$?
# a path the node has no file at: as a shell, 127 (bpsh.1, EXIT STATUS)
check "--no-push of a program the node lacks fails as a shell would: 127, '1: PATH: No such file or directory' (exit $rc: $msg)" \
    test "$rc" = 127 -a "$msg" = "1: $TMP/app/bin/prog-unseen: No such file or directory"

say "# a user cannot push what they cannot read"
echo "top secret" >/root/t60-secretfile
chmod 0600 /root/t60-secretfile
on_exit "rm -f /root/t60-secretfile"
echo "top secret" >"$PUB/secret"
chmod 0600 "$PUB/secret"
for f in /root/t60-secretfile "$PUB/secret"; do
	msg=$(runuser -u nobody -- env BPROC_MASTER="$BPROC_MASTER" \
	    ${BPROC_GHOST:+BPROC_GHOST="$BPROC_GHOST"} \
	    "$UBIN/bpsh" --push "$f" 0 true 2>&1)
	rc=$?
	say "    nobody: bpsh --push $f 0 true -> exit $rc: $(echo $msg)"
	check "nobody cannot push $f (exit 255, 'Permission denied')" \
	    eval "[ '$rc' = 255 ] && grep -q 'Permission denied' <<<\"\$msg\""
	check "node 0 has no $f" test ! -e "$R0$f"
done

say "# modes and owners are kept"
gcc -O2 -o "$PUB/rootprog" -x c - <<<'#include <stdio.h>
int main(void){puts("root only");return 0;}' 2>"$TMP/cc.log" ||
    show_log "$TMP/cc.log"
chmod 0700 "$PUB/rootprog"
run_out "root runs a 0700 root program on node 0" "root only" bpsh 0 "$PUB/rootprog"
check "on node 0 it is 0700 root:root" \
    test "$(stat -c '%a %U %G' "$R0$PUB/rootprog" 2>&1)" = "700 root root"
nob() {
	runuser -u nobody -- env BPROC_MASTER="$BPROC_MASTER" \
	    ${BPROC_GHOST:+BPROC_GHOST="$BPROC_GHOST"} "$UBIN/bpsh" "$@"
}
msg=$(nob 0 cat "$PUB/rootprog" 2>&1 >/dev/null)
rc=$?
say "    nobody: bpsh 0 cat $PUB/rootprog -> exit $rc: $msg"
check "nobody cannot read it on node 0" test "$rc" != 0
msg=$(nob --no-push 0 "$PUB/rootprog" 2>&1)
rc=$?
say "    nobody: bpsh --no-push 0 $PUB/rootprog -> exit $rc: $msg"
check "nobody cannot run it on node 0" test "$rc" != 0 -a "$msg" != "root only"
check "no cache file of node 0 is writable by others" \
    eval "[ -z \"\$(find '$R0/var/lib/bproc/cache' -perm -0002 -type f 2>/dev/null)\" ]"

say "# a file that changed after it was hashed is refused"
# The front end hashes a file once per (dev, inode, size, mtime).  Rewrite
# it with the same size and mtime: bpsh offers the old hash, and the node
# must find that the bytes it got do not match it.
printf 'version A %s\n' "$$-$RANDOM" >"$PUB/data"
run_out "push data version A" "" bpsh --push "$PUB/data" 0 true
check "node 0 has version A" cmp -s "$PUB/data" "$R0$PUB/data"
touch -r "$PUB/data" "$TMP/stamp"
# rewrite in place (same inode; sed -i would make a new one)
printf B | dd of="$PUB/data" bs=1 seek=8 conv=notrunc status=none
touch -r "$TMP/stamp" "$PUB/data"
cache_before=$(ls "$R0/var/lib/bproc/cache" | wc -l)
msg=$(bpsh --push "$PUB/data" 1 true 2>&1)
rc=$?
say "    node 1: bpsh --push $PUB/data 1 true -> exit $rc: $msg"
check "the changed file is refused ('changed during push', exit 255)" \
    eval "[ '$rc' = 255 ] && grep -q 'changed during push' <<<\"\$msg\""
check "node 1 has no $PUB/data" test ! -e "$(node_root 1)$PUB/data"
check "no temporary file is left in node 1's cache" \
    eval "[ -z \"\$(ls -A '$(node_root 1)/var/lib/bproc/cache' | grep '^\.in-')\" ]"

say "# a push larger than the cache budget"
budget=$((256 << 20))
truncate -s $((budget + (16 << 20))) "$PUB/huge"
start=$(now_ms)
msg=$(bpsh --push "$PUB/huge" 0 true 2>&1)
rc=$?
say "    bpsh --push <$(( (budget >> 20) + 16 )) MB sparse file> 0 true -> exit $rc in $(( $(now_ms) - start )) ms: $msg"
check "a push over the budget says 'node RAM cache full' (exit 255)" \
    eval "[ '$rc' = 255 ] && grep -q 'node RAM cache full' <<<\"\$msg\""
check "and nothing of it is on node 0" test ! -e "$R0$PUB/huge"
rm -f "$PUB/huge"

finish
