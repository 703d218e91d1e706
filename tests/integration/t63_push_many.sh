#!/bin/bash
# Pushes at once and pushes of many files (issue 4's exchange: 256 KiB
# blob frames, a 4 MiB window, acks in 1 MiB steps, and bpmaster's
# back-pressure on ghosts while a node's link is full), on a 1-node
# virtual cluster, as a user would check it:
#   - 8 cold pushes to the same node at once, of 8 MiB files and one whose
#     size is no multiple of a frame, all run, and every file on the node
#     is the front end's, byte for byte;
#   - the master counted exactly those bytes (bpstat push_bytes);
#   - the same while the node stops reading for a second (SIGSTOP of its
#     PID 1 mid-push), so the master's queue for it fills: all still run;
#   - one push of 300 small files (acks that never fill a step) and one of
#     40 files of 300 KiB (acks that span files) run and arrive whole;
#   - a tool that sends a blob frame of more A_DATA pieces than a node
#     takes (t63_badblob.c) is closed by bpmaster, and the node's link
#     stays up: the next push works.
# Every bpsh runs under timeout: an ack that never comes is a failure, not
# a hang.
. "$(dirname "$0")/lib.sh"

need_root
need_image
need_cmd cmp timeout gcc
need_file "$BIN/bpsh"

TMP=$(mktemp -d /tmp/t63.XXXXXX)
on_exit "rm -rf '$TMP'"
# on the node's root fs (its /tmp is another tmpfs)
PUB=$(mktemp -d /var/tmp/t63pub.XXXXXX)
on_exit "rm -rf '$PUB'"
chmod 0755 "$PUB"
export HOME=$TMP/home
mkdir -p "$HOME"

push_bytes() { json_field "$(node_json 0)" push_bytes; }
# on_node PATH: where the node's copy of PATH is seen from here
on_node() { echo "/proc/$(node_pid1 0)/root$1"; }
# same_on_node FILE...: every FILE is on the node with the same content
same_on_node() {
	local f
	for f in "$@"; do
		cmp -s "$f" "$(on_node "$f")" || { say "    differs: $f"; return 1; }
	done
}
# push_all TAG FILE...: one `bpsh --push FILE 0 true` per file, at once;
# 0 when every one exits 0
push_all() {
	local tag=$1 f i=0 rc=0 pids=()
	shift
	for f in "$@"; do
		timeout -s KILL ${T63_TIMEOUT:-120} "$BIN/bpsh" --no-push --push "$f" 0 /bin/true \
		    >"$TMP/$tag.$i.out" 2>&1 &
		pids+=($!)
		i=$((i + 1))
	done
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" || { rc=1; show_log "$TMP/$tag.$i.out" 5; }
	done
	return $rc
}
# size_sum FILE...: their total size in bytes
size_sum() { stat -c %s "$@" | awk '{ s += $1 } END { print s + 0 }'; }

# debug logging: says when bpmaster held ghosts back
BPVC_DEBUG=1 vcluster_up 1

say "# 8 cold pushes to node 0 at once"
files=()
for i in 1 2 3 4 5 6 7; do
	head -c $((8 << 20)) /dev/urandom >"$PUB/a$i"
	files+=("$PUB/a$i")
done
# 8 MiB + a part frame + a part piece
head -c $(((8 << 20) + 300000 + 123)) /dev/urandom >"$PUB/a8"
files+=("$PUB/a8")
chmod 0644 "${files[@]}"
b0=$(push_bytes)
check "all 8 bpsh --push exit 0" push_all a "${files[@]}"
check "every file on the node is the front end's" same_on_node "${files[@]}"
b1=$(push_bytes)
want=$(size_sum "${files[@]}")
check "push_bytes grew by the files' size ($want bytes; it grew $((b1 - b0)))" \
    test "$((b1 - b0))" = "$want"

say "# 8 pushes at once while the node stops reading for a second"
files=()
for i in 1 2 3 4 5 6 7 8; do
	head -c $((8 << 20)) /dev/urandom >"$PUB/b$i"
	files+=("$PUB/b$i")
done
chmod 0644 "${files[@]}"
pid1=$(node_pid1 0)
b0=$(push_bytes)
push_all b "${files[@]}" &
all=$!
# once blob bytes flow, the node's PID 1 stops; the master keeps the rest
wait_for "[ \"\$(push_bytes)\" -gt $b0 ]" 30
kill -STOP "$pid1"
on_exit "kill -CONT $pid1"
sleep 1
kill -CONT "$pid1"
check "all 8 bpsh --push exit 0" wait "$all"
check "every file on the node is the front end's" same_on_node "${files[@]}"
check "node 0 is still up" test "$(node_state 0)" = up
if grep -q "not read until it drains" "$BPVC_STATE/bpmaster.log" 2>/dev/null; then
	say "  (bpmaster held ghosts back while the node's link was full)"
fi

say "# many small files, then files that span ack steps"
mkdir -p "$PUB/small" "$PUB/mid"
for i in $(seq 1 300); do
	head -c $((i * 37)) /dev/urandom >"$PUB/small/f$i"
done
for i in $(seq 1 40); do
	head -c $((300 << 10)) /dev/urandom >"$PUB/mid/f$i"
done
chmod -R a+rX "$PUB/small" "$PUB/mid"
check "a push of 300 small files exits 0" \
    timeout -s KILL ${T63_TIMEOUT:-120} "$BIN/bpsh" --no-push --push "$PUB/small" 0 /bin/true
check "all 300 are on the node, whole" same_on_node "$PUB"/small/f*
check "a push of 40 files of 300 KiB (12 MiB) exits 0" \
    timeout -s KILL ${T63_TIMEOUT:-120} "$BIN/bpsh" --no-push --push "$PUB/mid" 0 /bin/true
check "all 40 are on the node, whole" same_on_node "$PUB"/mid/f*

say "# a blob frame of too many pieces closes that tool, not the node link"
if gcc -std=c11 -D_GNU_SOURCE -O2 -Wall -I"$TOP/common" -o "$TMP/t63_badblob" \
    "$TOP/tests/integration/t63_badblob.c" "$TOP/common/wire.c" 2>"$TMP/cc.log"; then
	pass "t63_badblob.c builds"
else
	show_log "$TMP/cc.log"
	die "cannot build t63_badblob.c"
fi
check "bpmaster closes the tool after its frame" \
    timeout -s KILL 30 "$TMP/t63_badblob" "$BPROC_MASTER" 0
check "bpmaster says why (frame too large to relay)" \
    grep -q "BLOB frame too large to relay" "$BPVC_STATE/bpmaster.log"
check "node 0 is still up" test "$(node_state 0)" = up
head -c $((1 << 20)) /dev/urandom >"$PUB/after"
chmod 0644 "$PUB/after"
check "a push after it works" \
    timeout -s KILL ${T63_TIMEOUT:-120} "$BIN/bpsh" --no-push --push "$PUB/after" 0 /bin/true
check "and the file is on the node, whole" same_on_node "$PUB/after"

finish
