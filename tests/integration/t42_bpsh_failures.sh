#!/bin/bash
# bpsh when things go wrong, and who may do what, on a 4-node virtual
# cluster: users run as themselves (uid, gid, groups), the node's
# owner/group/mode decide who may run there, a remote user process cannot
# read the cluster key or signal the node's PID 1, a user cannot signal
# another user's ghost; errors per node ("9: No such node", "3: Node is
# down", "0: Permission denied", "0: cmd: command not found" exit 127);
# messages without a master, bpctl as a user, bpstat -U into a pipe;
# arguments up to Linux's limits; a node that is lost
# kills its ghosts (137) within the heartbeat timeout; a ghost killed while
# its request is in flight leaves nothing on the node.
. "$(dirname "$0")/lib.sh"

need_root
need_image
need_cmd runuser setpriv
need_file "$BIN/bpsh"

HB_TIMEOUT_MS=3000	# bpvcluster's bpmaster.conf "timeout"
HB_MS=1000		# and "heartbeat"
NOBODY=$(id -u nobody 2>/dev/null) || skip "needs a user 'nobody'"
NOGROUP=$(id -g nobody)

TMP=$(mktemp -d /tmp/t42.XXXXXX)
chmod 755 "$TMP"
on_exit "rm -rf '$TMP'"

# (background jobs run "$BIN/bpsh" itself, so $! is the ghost)
bpsh() { "$BIN/bpsh" "$@"; }
bpctl() { "$BIN/bpctl" "$@"; }
# rc COMMAND...: RC is its status; the shell's job messages are silenced.
rc() { { "$@" 2>&3 3>&-; } 3>&2 2>/dev/null; RC=$?; }
quiet() { { "$@"; } 2>/dev/null; }
as_nobody() { runuser -u nobody -- "$@"; }
# (in the background: setpriv, which execs in place where runuser forks,
# and no shell function, so that $! is the ghost)
# run_err OUT ERR COMMAND...: stdout to $TMP/OUT, stderr to $TMP/ERR
run_err() {
	local o=$1 e=$2
	shift 2
	rc "$@" >"$TMP/$o" 2>"$TMP/$e"
}

node_status_field() {
	sed -n "s/^$3:[[:space:]]*//p" "$(node_root "$1")/proc/$2/status" 2>/dev/null |
	    tr -s ' \t' ' ' | sed 's/ $//'
}

say "# bpvcluster up -n 4"
vcluster_up 4
user_tools	# nobody runs the tools: a copy it can reach if the checkout is private

say "# users run as themselves"
out=$(as_nobody "$UBIN/bpsh" 0 id -u 2>&1)
check "runuser -u nobody -- bpsh 0 id -u -> $NOBODY (got '$out')" test "$out" = "$NOBODY"
out=$(as_nobody "$UBIN/bpsh" 0 id -g 2>&1)
check "and id -g -> $NOGROUP (got '$out')" test "$out" = "$NOGROUP"
want=$(setpriv --reuid="$NOBODY" --regid="$NOGROUP" --groups=100,4242 id -G)
out=$(setpriv --reuid="$NOBODY" --regid="$NOGROUP" --groups=100,4242 \
    "$UBIN/bpsh" 0 id -G 2>&1)
check "supplementary groups go along (id -G '$want', remote '$out')" \
    test "$out" = "$want"
setpriv --reuid="$NOBODY" --regid="$NOGROUP" --init-groups \
    "$UBIN/bpsh" 0 sleep 30 >/dev/null 2>&1 &
BP=$!
if wait_for '[ -n "$(node_status_field 0 "$BP" Uid)" ]' 10; then
	uids=$(node_status_field 0 "$BP" Uid)
	gids=$(node_status_field 0 "$BP" Gid)
	check "the remote runs with uid $NOBODY real/effective/saved/fs ($uids)" \
	    test "$uids" = "$NOBODY $NOBODY $NOBODY $NOBODY"
	check "and gid $NOGROUP ($gids)" \
	    test "$gids" = "$NOGROUP $NOGROUP $NOGROUP $NOGROUP"
	caps=$(node_status_field 0 "$BP" CapEff)
	check "and no capabilities (CapEff $caps)" test "$caps" = 0000000000000000
else
	fail "nobody's sleep 30 never showed on node 0 as PID $BP ($(node_procs 0))"
fi

say "# a user cannot signal another user's ghost"
"$UBIN/bpsh" 0 sleep 30 >/dev/null 2>&1 &
RP=$!
wait_for '[ -n "$(node_status_field 0 "$RP" State)" ]' 10
msg=$(as_nobody kill -TERM "$RP" 2>&1)
r=$?
check "nobody: kill -TERM on root's ghost fails ($msg)" \
    test "$r" -ne 0 -a -n "$(printf '%s' "$msg" | grep -i 'not permitted')"
sleep 0.3
check "root's ghost still runs" alive "$RP"
check "and its remote on node 0 too" test -n "$(node_status_field 0 "$RP" State)"
check "nobody may signal its own ghost" as_nobody kill -TERM "$BP"
quiet rc wait "$BP"
check "nobody's ghost died of TERM, 143 (got $RC)" test "$RC" = 143
kill -KILL "$RP"
quiet wait "$RP"
wait_for '[ -z "$(node_procs 0)" ]' 5 || fail "left on node 0: $(node_procs 0)"

say "# a remote user process and the node's secrets"
key=/etc/bproc/cluster.key
check "the node has $key" test -f "$(node_root 0)$key"
run_err o e as_nobody "$UBIN/bpsh" 0 cat "$key"
check "nobody on node 0 cannot read $key (exit $RC: $(cat "$TMP/e"))" \
    test "$RC" -ne 0 -a ! -s "$TMP/o"
run_err o e as_nobody "$UBIN/bpsh" 0 sh -c 'kill -0 1'
check "nobody on node 0 cannot signal PID 1 (exit $RC: $(cat "$TMP/e"))" \
    test "$RC" -ne 0
run_err o e as_nobody "$UBIN/bpsh" 0 sh -c 'kill -TERM 1; kill -KILL 1'
check "nor kill it (exit $RC)" test "$RC" -ne 0
check "node 0 is still up" test "$(node_state 0)" = up

say "# node permissions: owner, group, mode"
check "bpctl -S 0 -m 0100" bpctl -S 0 -m 0100
run_err o e as_nobody "$UBIN/bpsh" 0 id -u
check "mode 0100: nobody gets '0: Permission denied' (got '$(cat "$TMP/e")')" \
    test "$(cat "$TMP/e")" = "0: Permission denied"
check "and bpsh fails with 255 (got $RC)" test "$RC" = 255
check "and nothing ran (stdout '$(cat "$TMP/o")')" test ! -s "$TMP/o"
check "root still may (mode 0100)" test "$(bpsh 0 id -u)" = 0
check "bpctl -S 0 -u nobody" bpctl -S 0 -u nobody
out=$(as_nobody "$UBIN/bpsh" 0 id -u 2>&1)
check "owner nobody: bpsh 0 id -u works again (got '$out')" test "$out" = "$NOBODY"
check "bpctl -S 0 -u root -g 4242 -m 0010" bpctl -S 0 -u root -g 4242 -m 0010
out=$(setpriv --reuid="$NOBODY" --regid="$NOGROUP" --groups=4242 \
    "$UBIN/bpsh" 0 id -u 2>&1)
check "group 4242, mode 0010: a member (supplementary) may run (got '$out')" \
    test "$out" = "$NOBODY"
run_err o e setpriv --reuid="$NOBODY" --regid="$NOGROUP" --groups=100 \
    "$UBIN/bpsh" 0 id -u
check "a non-member may not (exit $RC: $(cat "$TMP/e"))" \
    test "$RC" = 255 -a "$(cat "$TMP/e")" = "0: Permission denied"
check "bpctl -S 0 -u root -g root -m 0111" bpctl -S 0 -u root -g root -m 0111
out=$(as_nobody "$UBIN/bpsh" 0 id -u 2>&1)
check "mode 0111 again: nobody may run (got '$out')" test "$out" = "$NOBODY"

say "# errors per node"
run_err o e bpsh 9 true
check "bpsh 9 true -> '9: No such node' (got '$(cat "$TMP/e")')" \
    test "$(cat "$TMP/e")" = "9: No such node"
check "and exit 255 (got $RC)" test "$RC" = 255
out=$(bpsh n2 hostname 2>&1)
check "bpsh n2 hostname -> n2 (got '$out')" test "$out" = n2
# a set that runs past the last node: the nodes that exist run, the others
# are errors, and bpsh ends (it once waited for the jobs that never began)
run_err o e timeout -s KILL 20 "$UBIN/bpsh" -p 0-5 hostname
check "bpsh -p 0-5 hostname on 4 nodes: exit 255 (got $RC)" test "$RC" = 255
check "and says '4: No such node' and '5: No such node' (got '$(tr '\n' '|' <"$TMP/e")')" \
    sh -c "grep -qx '4: No such node' '$TMP/e' && grep -qx '5: No such node' '$TMP/e'"
check "and nodes 0-3 ran (got '$(tr '\n' '|' <"$TMP/o")')" \
    test "$(sort "$TMP/o" | tr '\n' ' ')" = "  0: n0   1: n1   2: n2   3: n3 "
run_err o e bpsh 0 no-such-command-t42
say "    bpsh 0 no-such-command-t42 -> exit $RC: $(cat "$TMP/e")"
check "a missing command: '0: no-such-command-t42: command not found', as a shell says it" \
    test "$(cat "$TMP/e")" = "0: no-such-command-t42: command not found"
check "and exit 127, as a shell's (got $RC)" test "$RC" = 127
run_err o e bpsh 1 /no/such/dir/prog
check "a missing path: '1: /no/such/dir/prog: No such file or directory' (got '$(cat "$TMP/e")')" \
    test "$(cat "$TMP/e")" = "1: /no/such/dir/prog: No such file or directory"
check "and exit 127 (got $RC)" test "$RC" = 127
run_err o e bpsh 1 /etc/hostname
check "a file that is no program: '1: /etc/hostname: Permission denied' (got '$(cat "$TMP/e")')" \
    test "$(cat "$TMP/e")" = "1: /etc/hostname: Permission denied"
check "and exit 126 (got $RC)" test "$RC" = 126
run_err o e bpsh -p 0-1 no-such-command-t42
say "    bpsh -p 0-1 no-such-command-t42 -> exit $RC: $(tr '\n' '|' <"$TMP/e")"
check "many nodes: one 'command not found' line per node" \
    test "$(sort "$TMP/e" | tr '\n' '|')" = "0: no-such-command-t42: command not found|1: no-such-command-t42: command not found|"
check "and exit 127 (got $RC)" test "$RC" = 127
run_err o e bpsh -a no-such-command-t42
check "bpsh -a: per node too, exit 127 (got $RC, $(grep -c 'command not found' "$TMP/e") lines)" \
    test "$RC" = 127 -a "$(grep -c 'command not found' "$TMP/e")" = 4
run_err o e bpsh -I /no/such/input 0 cat
check "-I of a missing file names the file: '0: /no/such/input: No such file or directory' (got '$(cat "$TMP/e")')" \
    test "$(cat "$TMP/e")" = "0: /no/such/input: No such file or directory"
check "and is no 'command not found' (exit 255, got $RC)" test "$RC" = 255

say "# messages as a new user sees them"
NOSOCK=$TMP/no-master.sock
for tool in bpsh bpstat bpctl bpcp; do
	case $tool in
	bpsh) args="0 true" ;;
	bpstat) args= ;;
	bpctl) args="-S 0 -m 0111" ;;
	bpcp) args="/etc/hostname 0:/tmp/t42.cp" ;;
	esac
	run_err o e env BPROC_MASTER="$NOSOCK" "$UBIN/$tool" $args
	msg=$(cat "$TMP/e")
	say "    $tool $args (no master) -> exit $RC: $msg"
	check "$tool without a master: '$tool: cannot reach bpmaster at $NOSOCK: No such file or directory (...)'" \
	    grep -q "^$tool: cannot reach bpmaster at $NOSOCK: No such file or directory (" "$TMP/e"
	check "$tool: and says what to do (bpvcluster env, BPROC_MASTER)" \
	    sh -c "grep -q 'eval \"\$(bpvcluster env)\"' '$TMP/e' && grep -q BPROC_MASTER '$TMP/e'"
	check "$tool: one line, no '0:' in front" test "$(wc -l <"$TMP/e")" = 1
done
run_err o e as_nobody "$UBIN/bpctl" -S 1 -m 0111
check "bpctl as nobody: 'bpctl: needs root (or the node's owner) to change the mode of node 1' (got '$(cat "$TMP/e")')" \
    test "$(cat "$TMP/e")" = "bpctl: needs root (or the node's owner) to change the mode of node 1"
check "and exit 1 (got $RC)" test "$RC" = 1
run_err o e as_nobody "$UBIN/bpctl" -S 0-3 -s unavailable
check "bpctl -S 0-3 -s unavailable as nobody: one line for the set (got '$(cat "$TMP/e")')" \
    test "$(cat "$TMP/e")" = "bpctl: needs root to set the state of nodes 0-3"
check "and nothing changed (node 1: $(node_state 1))" test "$(node_state 1)" = up
start=$(now_ms)
out=$(timeout 20 "$UBIN/bpstat" -U | head -3)
ms=$(( $(now_ms) - start ))
check "bpstat -U | head -3 ends (${ms} ms) with plain lines" \
    sh -c "[ $ms -lt 10000 ] && [ \"\$(printf '%s\n' '$out' | wc -l)\" = 3 ] && ! printf '%s' '$out' | grep -q \"\$(printf '\033')\""

say "# bpsh's limits are Linux's: 128 KiB per argument, 2 MiB in all"
a100=$(head -c 102400 /dev/zero | tr '\0' a)
out=$(bpsh 0 sh -c 'printf %s "$1" | md5sum' sh "$a100" 2>&1)
check "a 100 KiB argument arrives whole (md5 ${out%% *})" \
    test "$out" = "$(printf %s "$a100" | md5sum)"
a128=$(head -c 131071 /dev/zero | tr '\0' b)
out=$(bpsh 0 sh -c 'echo ${#1}' sh "$a128" 2>&1)
check "an argument of 131071 bytes, Linux's longest, arrives (got ${#out}-char reply '$(printf %.40s "$out")')" \
    test "$out" = 131071
v=$(head -c 100000 /dev/zero | tr '\0' e)
out=$(env $(for i in $(seq 10); do printf 'T42_BIG%d=%s ' "$i" "$v"; done) \
    "$BIN/bpsh" 0 sh -c 'n=0; for i in 1 2 3 4 5 6 7 8 9 10; do
	eval "n=\$((n + \${#T42_BIG$i}))"; done
    echo $n $(printf %s "$1$2$3$4$5" | wc -c)' sh "$a100" "$a100" "$a100" "$a100" "$a100" 2>&1)
check "1.5 MiB of environment and arguments arrive (1000000 + 512000 bytes, got '$(printf %.60s "$out")')" \
    test "$out" = "1000000 512000"
# more than Linux allows: bpsh with a bigger stack may hold it, the node may not
(ulimit -s 65536 && env $(for i in $(seq 22); do printf 'T42_BIG%d=%s ' "$i" "$v"; done) \
    "$BIN/bpsh" 0 true) >"$TMP/o" 2>"$TMP/e"
RC=$?
check "2.2 MB of environment is refused: '0: argument list too long: ...' (got '$(cat "$TMP/e")')" \
    grep -q '^0: argument list too long: more than 2097152 bytes' "$TMP/e"
check "and exit 255 (got $RC)" test "$RC" = 255

say "# ghosts killed while their request is in flight"
left=
for i in $(seq 0 19); do
	"$UBIN/bpsh" 0 sleep 100 >/dev/null 2>&1 &
	p=$!
	# from 0 to ~19 ms after the start: before, during and after the EXEC
	[ "$i" -gt 0 ] && sleep "0.0$(printf %02d "$i")"
	if ((i % 2)); then kill -TERM "$p"; else kill -KILL "$p"; fi
	quiet wait "$p"
done
if wait_for '[ -z "$(node_procs 0)" ]' 5; then
	pass "20 ghosts killed 0-19 ms after the start: nothing left on node 0"
else
	fail "left on node 0 after 20 early kills: $(node_procs 0)"
fi

say "# node loss: bpsh 3 sleep 100 & (x3), bpsh 2 sleep 100 &; bpvcluster kill 3"
# each bpsh runs in the foreground of a subshell that notes its status and
# the time it ended (and keeps the shell's "Killed" notice out of the log)
P3=()
for i in 1 2 3; do
	(
		"$UBIN/bpsh" 3 sleep 100 >/dev/null 2>"$TMP/loss$i.err"
		echo "$? $(now_ms)" >"$TMP/loss$i.rc"
	) 2>/dev/null &
	P3+=($!)
done
"$UBIN/bpsh" 2 sleep 100 >/dev/null 2>&1 &
P2=$!
wait_for '[ "$(node_procs 3 | wc -w)" = 3 ] && [ -n "$(node_procs 2)" ]' 10 ||
    fail "the sleeps did not start (node 3: $(node_procs 3); node 2: $(node_procs 2))"
start=$(now_ms)
"$BIN/bpvcluster" kill 3 2>/dev/null || fail "bpvcluster kill 3"
limit=$((HB_TIMEOUT_MS + HB_MS + 1000))
for i in 0 1 2; do
	if wait_for '[ -s "$TMP/loss$((i + 1)).rc" ]' $((limit / 1000 + 5)); then
		read -r r end <"$TMP/loss$((i + 1)).rc"
		ms=$((end - start))
		check "ghost $((i + 1)) of node 3 exits 137 (got $r) ${ms} ms after the power cut (limit ${limit} ms)" \
		    test "$r" = 137 -a "$ms" -le "$limit"
	else
		fail "ghost $((i + 1)) of node 3 still runs $((limit / 1000 + 5)) s after the power cut"
		kids=$(ps -o pid= --ppid "${P3[$i]}")
		[ -n "$kids" ] && kill -KILL $kids
	fi
	quiet wait "${P3[$i]}"
	err=$(cat "$TMP/loss$((i + 1)).err")
	check "and printed '3: Node is down' on stderr (got '$err')" \
	    test "$err" = "3: Node is down"
done
check "node 2's ghost is not touched" alive "$P2"
kill -TERM "$P2"
quiet wait "$P2"
wait_for '[ "$(node_state 3)" = down ]' 10
start=$(now_ms)
run_err o e bpsh 3 true
ms=$(( $(now_ms) - start ))
check "a request to down node 3 fails at once (${ms} ms) with '3: Node is down' (got '$(cat "$TMP/e")')" \
    test "$(cat "$TMP/e")" = "3: Node is down" -a "$ms" -lt 1000
check "and exit 255 (got $RC)" test "$RC" = 255
run_err o e bpsh -p 0-3 hostname
say "    bpsh -p 0-3 hostname with node 3 down -> exit $RC; stderr: $(tr '\n' '|' <"$TMP/e")"
check "many nodes: the up ones run (got $(sort "$TMP/o" | tr '\n' '|'))" \
    test "$(sort "$TMP/o" | tr '\n' '|')" = "  0: n0|  1: n1|  2: n2|"
check "many nodes: node 3's error is the line '3: Node is down'" \
    grep -qx '3: Node is down' "$TMP/e"
check "and the exit status is 255 (got $RC)" test "$RC" = 255
out=$(bpsh -a hostname | sort | tr '\n' ' ')
check "bpsh -a skips the down node (got '$out')" test "$out" = "n0 n1 n2 "
"$BIN/bpvcluster" start -w 3 >/dev/null 2>&1 || fail "bpvcluster start -w 3"
out=$(bpsh 3 hostname 2>&1)
check "node 3 back up: bpsh 3 hostname -> n3 (got '$out')" test "$out" = n3
finish
