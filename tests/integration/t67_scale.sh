#!/bin/bash
# Scale (issue 14): a virtual cluster of T67_NODES nodes (default 256)
# comes up in parallel, with a progress line; every node is up; the
# links stay up while the cluster idles (T67_IDLE s) and through a push
# of a 1 MiB file to every node, which every node then holds with the
# right content; and bpmaster's memory after the push comes back to
# within 16 kB per node of what it was idle.  Ratios and counts only, no
# wall-clock limits: this machine is shared, and bench/scale_bench.sh has
# the timings.
. "$(dirname "$0")/lib.sh"

need_root
need_image
need_cmd ip sha256sum
need_file "$BIN/bpsh"

N=${T67_NODES:-256}
IDLE=${T67_IDLE:-15}
PER_NODE_KB=16		# the issue's bound on memory kept per node after a push
export BPVC_TIMEOUT=${BPVC_TIMEOUT:-300}

TMP=$(mktemp -d /tmp/t67.XXXXXX)
on_exit "rm -rf '$TMP'"
export HOME=$TMP	# bpsh's hash cache of this test, not root's

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$MPID/status"; }
closes() { grep -c 'link closed' "$BPVC_STATE/bpmaster.log"; }
ups() { "$BIN/bpstat" --json 2>/dev/null | grep -c '"state": "up"'; }

say "# bpvcluster up -n $N"
on_exit "\"$BIN/bpvcluster\" down"
start=$(now_ms)
if ! out=$("$BIN/bpvcluster" up -n "$N" 2>"$TMP/up.log"); then
	sed 's/^/    /' "$TMP/up.log" | tail -n 30
	die "bpvcluster up -n $N failed"
fi
eval "$out"
pass "$N nodes up in $(( $(now_ms) - start )) ms"
check "up showed its progress (\"k/$N nodes up\")" \
    grep -Eq "[0-9]+/$N nodes up" "$TMP/up.log"
check "bpstat lists $N nodes up" test "$(ups)" = "$N"
MPID=$(cat "$BPVC_STATE/bpmaster.pid")
c0=$(closes)
check "no link was lost while they came up" test "$c0" = 0

say "# $IDLE s idle"
sleep "$IDLE"
c1=$(closes)
if [ "$c1" = "$c0" ] && [ "$(ups)" = "$N" ]; then
	pass "no link lost in $IDLE s idle, $N nodes up"
else
	grep 'link closed' "$BPVC_STATE/bpmaster.log" | tail -n 5 | sed 's/^/    /'
	fail "$((c1 - c0)) links lost in $IDLE s idle; $(ups) of $N up"
fi
# idle: the trim after boot is done (mem.c), the buffers given back
sleep 2
idle=$(rss_kb)

say "# bpsh --push (1 MiB) -a true"
head -c 1M /dev/urandom >"$TMP/blob"
chmod 0644 "$TMP/blob"
sum=$(sha256sum <"$TMP/blob")
if "$BIN/bpsh" --push "$TMP/blob" -a true 2>"$TMP/push.log"; then
	pass "the push to $N nodes ran"
else
	sed 's/^/    /' "$TMP/push.log" | tail -n 10
	fail "bpsh --push -a true failed"
fi
bad=0
for ((i = 0; i < N; i++)); do
	[ "$(sha256sum <"$(node_root "$i")$TMP/blob" 2>/dev/null)" = "$sum" ] ||
	    bad=$((bad + 1))
done
check "all $N nodes hold the file with its content ($bad do not)" test "$bad" = 0
c2=$(closes)
if [ "$c2" = "$c1" ]; then
	pass "no link lost during the push"
else
	grep 'link closed' "$BPVC_STATE/bpmaster.log" | tail -n 5 | sed 's/^/    /'
	fail "$((c2 - c1)) links lost during the push"
fi

# The buffers go back at the next heartbeat tick and the trim follows:
# give it a few heartbeats, and take the lowest reading.
after=$(rss_kb)
for ((t = 0; t < 15; t++)); do
	sleep 1
	r=$(rss_kb)
	[ "$r" -lt "$after" ] && after=$r
done
kept=$(( (after - idle) * 1024 / N ))	# bytes per node
say "    bpmaster RSS: idle $idle kB, after the push $after kB: $((after - idle)) kB kept, $kept bytes per node"
if sanitized; then
	say "    (sanitizer build: ASan keeps freed memory, so no memory check)"
else
	check "bpmaster kept at most $PER_NODE_KB kB per node after the push ($kept bytes per node)" \
	    test "$kept" -le $((PER_NODE_KB * 1024))
fi
check "all $N nodes still up" test "$(ups)" = "$N"
finish
