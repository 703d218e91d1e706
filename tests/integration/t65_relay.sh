#!/bin/bash
# The relay tree for blobs (docs/push.md, "Tree fan-out"), with a relay
# that dies mid-transfer, on a 32-node virtual cluster with `fanout 2`:
#   - one `bpsh --push FILE -a true` of a 48 MiB random file; while it
#     runs, the test freezes the tools (SIGSTOP) once the first bytes are
#     on a node, finds a node that is both fed by a peer and feeding one
#     (an inner relay: a relay link each way) whose copy is partial, cuts
#     its power with `bpvcluster kill`, and lets the tools go on;
#   - every other node then has the whole file (its SHA-256 is the front
#     end's) or bpsh printed a clear "<node>: <error>" line for it, and
#     nothing half-written is at the path on any node;
#   - the killed node's children were routed around it (the master says
#     so in its log), and the master's egress for the push (the sum of
#     bpstat's push_bytes) is at most twice the file;
#   - a second push of another file to the 31 live nodes goes through the
#     repaired cluster whole, at most once through the master.
# Every bpsh runs under timeout: a feed that never comes is a failure.
. "$(dirname "$0")/lib.sh"

need_root
need_image
need_cmd sha256sum timeout awk
need_file "$BIN/bpsh"

N=${T65_NODES:-32}
SIZE=$((48 << 20))
pub_blob "$SIZE"

export BPVC_MASTER_CONF='fanout 2'
vcluster_up "$N"
check "all $N nodes up" wait_for '[ "$("$BIN/bpstat" --json | grep -c "\"state\": \"up\"")" = '"$N"' ]' 60

# egress: the blob bytes the master sent, over every node, down ones too
egress() { "$BIN/bpstat" --json | sed -n 's/.*"push_bytes": \([0-9]*\).*/\1/p' | awk '{s += $1} END {print s + 0}'; }
# inner_relays: the nodes with an established relay link each way (local
# port 2224: a child it feeds; remote port 2224: the parent feeding it),
# read from every node's /proc/net/tcp in one pass
inner_relays() {
	local i files=()
	for ((i = 0; i < N; i++)); do
		files+=("/proc/${PIDS[$i]}/net/tcp")
	done
	awk -v p=":$RPORT" '
	    FNR == 1 { node++ }
	    $4 == "01" && substr($2, length($2) - 4) == p { serve[node - 1] = 1 }
	    $4 == "01" && substr($3, length($3) - 4) == p { fetch[node - 1] = 1 }
	    END { for (n in serve) if (n in fetch) print n }' "${files[@]}" 2>/dev/null
}
RPORT=$(printf '%04X' 2224)
# partial N: node N's copy of the blob is still coming in
partial() {
	local f s
	for f in /proc/"${PIDS[$1]}"/root/var/lib/bproc/cache/.in-*; do
		[ -f "$f" ] || continue
		s=$(stat -c %s "$f")
		((s < SIZE)) && return 0
	done
	return 1
}

# the nodes' PID 1s and their cache's temporary files, known before the
# push: forks are slow on a machine the push keeps busy
PIDS=()
INS=()
for ((i = 0; i < N; i++)); do
	PIDS+=("$(node_pid1 "$i")")
	INS+=("/proc/${PIDS[$i]}/root/var/lib/bproc/cache/.in-*")
done
shopt -s nullglob

before=$(egress)
# (timeout makes a process group of its own: the tools are -$BPSH)
timeout -s KILL 120 "$BIN/bpsh" --no-push --push "$F" -a /bin/true >"$PUB/out" 2>&1 &
BPSH=$!
on_exit "kill -CONT -- -$BPSH 2>/dev/null; kill -KILL -- -$BPSH 2>/dev/null || true"

# Freeze the tools as soon as the first bytes land on a node: the tree
# then holds still with every copy partial (the tools, the master's queue
# and the sockets hold a few MiB of the 48 in flight, no more).
deadline=$(( $(now_ms) + 30000 ))
while (( $(now_ms) < deadline )) && kill -0 "$BPSH" 2>/dev/null; do
	# shellcheck disable=SC2206
	got=(${INS[@]})
	((${#got[@]} > 0)) && break
	sleep 0.01
done
kill -STOP -- -"$BPSH"
sleep 1	# what was in flight lands; children find their parents
VICTIM=
for i in $(inner_relays); do
	partial "$i" && { VICTIM=$i; break; }
done
if [ -z "$VICTIM" ]; then
	kill -CONT -- -"$BPSH"
	show_log "$PUB/out"
	die "found no inner relay mid-transfer (the push ended or never forwarded)"
fi
pass "node $VICTIM relays and is mid-transfer"
"$BIN/bpvcluster" kill "$VICTIM" >/dev/null 2>&1
kill -CONT -- -"$BPSH"
check "node $VICTIM is down" wait_for '[ "$(node_state '"$VICTIM"')" = down ]' 15

wait "$BPSH"
rc=$?
say "    bpsh exited $rc"
sed 's/^/    | /' "$PUB/out" | head -n 20
after=$(egress)

ok=0 err=0 bad=0
for ((i = 0; i < N; i++)); do
	[ "$i" = "$VICTIM" ] && continue
	got=$(sha256sum <"$(node_root "$i")$F" 2>/dev/null)
	if [ "$got" = "$WANT" ]; then
		ok=$((ok + 1))
	elif grep -qE "^$i: .+" "$PUB/out" && [ ! -e "$(node_root "$i")$F" ]; then
		err=$((err + 1))
	else
		bad=$((bad + 1))
		say "    node $i: neither the whole file nor an error (got ${got:0:16})"
	fi
done
check "every other node has the whole file ($ok) or a clear error ($err)" [ "$bad" = 0 ]
check "most nodes have the file" [ "$ok" -ge $((N / 2)) ]
grep -E "relay: node [0-9]+ (lost its feed from node $VICTIM |now fed by|gets its blob from the master)|node $VICTIM \(.*\): link closed" \
    "$BPVC_STATE/bpmaster.log" | head -n 6 | sed 's/^/    | /'
check "the master saw the relay fail" \
    grep -qE "lost its feed from node $VICTIM |node $VICTIM \(.*\): link closed" "$BPVC_STATE/bpmaster.log"
check "and moved its children" \
    grep -qE "relay: node [0-9]+ (now fed by node|gets its blob from the master)" "$BPVC_STATE/bpmaster.log"
e=$((after - before))
say "    master egress $e bytes for a $SIZE-byte file ($(awk -v e="$e" -v s="$SIZE" 'BEGIN { printf "%.2f", e / s }') x)"
check "master egress <= 2 x the file" [ "$e" -le $((2 * SIZE)) ]

# the repaired cluster: a second file to the live nodes, whole, once
G=$PUB/blob2
head -c $((4 << 20)) /dev/urandom >"$G"
chmod 0644 "$G"
before=$(egress)
check "a second push to the live nodes runs" \
    timeout -s KILL 60 "$BIN/bpsh" --no-push --push "$G" -a /bin/true
e=$(( $(egress) - before ))
WANT2=$(sha256sum <"$G")
bad=0
for ((i = 0; i < N; i++)); do
	[ "$i" = "$VICTIM" ] && continue
	[ "$(sha256sum <"$(node_root "$i")$G" 2>/dev/null)" = "$WANT2" ] || bad=$((bad + 1))
done
check "every live node has the second file" [ "$bad" = 0 ]
check "the second push went once through the master ($e bytes)" [ "$e" -le $((4 << 20)) ]
finish
