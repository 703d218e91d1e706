#!/bin/bash
# The relay tree at 128 nodes (docs/push.md, "Tree fan-out"), kept short:
# one `bpsh --push FILE -a true` of an 8 MiB random file with the default
# fanout; every node then has the file, byte for byte (its SHA-256 is the
# front end's), and the master sent it at most twice in all (the sum of
# bpstat's push_bytes), where without the tree it sends it 128 times.
# T66_NODES sets another count.
. "$(dirname "$0")/lib.sh"

need_root
need_image
need_cmd sha256sum timeout awk
need_file "$BIN/bpsh"

N=${T66_NODES:-128}
SIZE=$((8 << 20))
pub_blob "$SIZE"

# 128 nodeinits that all relay at once share the machine's 2 CPUs with
# the master: a link can go 3 s without a frame then, which is the
# virtual cluster's artefact (a real node has its own CPU), so the links
# get the time a busy machine needs; what is checked is the tree.
export BPVC_MASTER_CONF=$'heartbeat 1000\ntimeout 20000'
t0=$(now_ms)
vcluster_up "$N"
check "all $N nodes up" wait_for '[ "$("$BIN/bpstat" --json | grep -c "\"state\": \"up\"")" = '"$N"' ]' 120
say "    up in $(( $(now_ms) - t0 )) ms"

egress() { "$BIN/bpstat" --json | sed -n 's/.*"push_bytes": \([0-9]*\).*/\1/p' | awk '{s += $1} END {print s + 0}'; }
before=$(egress)
t0=$(now_ms)
check "bpsh --push to all $N nodes runs" \
    timeout -s KILL 120 "$BIN/bpsh" --no-push --push "$F" -a /bin/true
say "    pushed in $(( $(now_ms) - t0 )) ms"
e=$(( $(egress) - before ))
say "    master egress $e bytes for a $SIZE-byte file to $N nodes"
check "master egress <= 2 x the file" [ "$e" -le $((2 * SIZE)) ]

# one sha256sum over every node's copy (forks are dear on a busy machine)
files=()
for ((i = 0; i < N; i++)); do
	files+=("/proc/$(node_pid1 "$i")/root$F")
done
sums=$(sha256sum "${files[@]}" 2>/dev/null | awk '{print $1}')
want=${WANT%% *}
bad=$((N - $(grep -cx "$want" <<<"$sums")))
((bad == 0)) || say "    $bad nodes lack the file or have other bytes"
check "every node has the file, byte for byte" [ "$bad" = 0 ]
relayed=$(grep -c "relay: node" "$BPVC_STATE/bpmaster.log")
say "    relay reroutes logged: $relayed"
finish
