#!/bin/bash
# bpsh -T/--tty: a pty on the node, as ssh -t gives one.  Without a
# terminal: -T makes the pty (tty names /dev/pts/N, test -t holds on all
# three streams, one output stream, exit codes, EOF, flow, the slave is the
# caller's with mode 0620), and no pty unless asked.  In an interactive bash
# in a private tmux server: the pty is the default, a remote shell answers,
# its size follows the pane and a resize, Ctrl-C, Ctrl-\ and Ctrl-Z travel
# as bytes and act on the node, single keys reach a raw reader, and the
# terminal's settings (stty -g) are the same after an exit, a signal
# death, a stop and a node lost under the session.
. "$(dirname "$0")/lib.sh"

need_root
need_image
need_cmd tmux bash runuser
need_file "$BIN/bpsh"
NOBODY=$(id -u nobody 2>/dev/null) || skip "needs a user 'nobody'"

TM=(tmux -L "bpt43-$$")	# a private tmux server, not the user's
PANE=tt
ROWS=50
COLS=160

TMP=$(mktemp -d /tmp/t43.XXXXXX)
on_exit "rm -rf '$TMP'"

bpsh() { "$BIN/bpsh" "$@"; }
# node_comm N NAME: "PID:State" of every NAME process on node N
node_comm() {
	local r p out=
	r=$(node_root "$1")
	for p in $(ls "$r/proc" 2>/dev/null | grep -E '^[0-9]+$'); do
		[ "$(cat "$r/proc/$p/comm" 2>/dev/null)" = "$2" ] || continue
		out+=" $p:$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p; s/^State:[[:space:]]*t.*/T/p' "$r/proc/$p/status" 2>/dev/null)"
	done
	echo "${out# }"
}

PROMPT_END='tt\$'
recover() {
	pane_kill_jobs
	line "stty $(cat "$TMP/stty0" 2>/dev/null || echo sane); clear"
	wait_for prompt_back 5
}
# same_stty WHAT: the pane's terminal settings equal those saved at start
same_stty() {
	ask "stty -g >$TMP/stty.now"
	if cmp -s "$TMP/stty0" "$TMP/stty.now"; then
		pass "$WHAT: the terminal's settings are back (stty -g as before)"
	else
		fail "$WHAT: stty -g was '$(cat "$TMP/stty0")', now '$(cat "$TMP/stty.now" 2>/dev/null)'"
		recover
	fi
}

say "# bpvcluster up -n 2"
vcluster_up 2
user_tools

say "# -T without a terminal"
out=$(bpsh 0 tty </dev/null 2>&1)
rc=$?
check "no pty unless asked: bpsh 0 tty </dev/null says 'not a tty', exits 1 (got '$out', $rc)" \
    test "$out" = "not a tty" -a "$rc" = 1
out=$(bpsh -T 0 sh -c 'tty; test -t 0 && test -t 1 && test -t 2 && echo three' \
    </dev/null 2>&1 | tr -d '\r' | tr '\n' ' ')
check "bpsh -T 0: tty is a /dev/pts/N and stdin, stdout, stderr are terminals (got '$out')" \
    eval '[[ "$out" =~ ^/dev/pts/[0-9]+\ three\ $ ]]'
out=$(bpsh -T 0 sh -c 'echo out; echo err >&2' </dev/null 2>/dev/null | tr -d '\r')
check "one stream: stderr comes back on stdout with a pty (got '$(echo $out)')" \
    test "$out" = "out"$'\n'"err"
bpsh -T 0 sh -c 'exit 7' </dev/null >/dev/null 2>&1
rc=$?
check "exit code through the pty: 7 (got $rc)" test "$rc" = 7
bpsh -T 0 sh -c 'kill -TERM $$' </dev/null >/dev/null 2>&1
rc=$?
check "signal death through the pty: 143 (got $rc)" test "$rc" = 143
out=$(printf 'a\nb\nc\n' | bpsh -T 0 wc -l 2>&1 | tr -d '\r ' | tail -n1)
check "the end of stdin reaches a reader of the pty (VEOF): wc -l says 3 (got '$out')" \
    test "$out" = 3
out=$(bpsh -T 0 head -c 20000000 /dev/zero </dev/null 2>&1 | wc -c)
check "20000000 bytes through the pty, within the flow-control window (got $out)" \
    test "$out" = 20000000
out=$(runuser -u nobody -- "$UBIN/bpsh" -T 0 sh -c 'ls -ln $(tty)' </dev/null 2>&1 |
    tr -d '\r')
read -r mode _ uid _ <<<"$out"
check "the slave is the caller's (uid $NOBODY) with mode 0620, as a login's (got '$out')" \
    test "$mode" = "crw--w----" -a "$uid" = "$NOBODY"
bpsh -T 0-1 true </dev/null >/dev/null 2>"$TMP/err"
rc=$?
check "-T with two nodes is refused, 255 (got $rc: $(cat "$TMP/err"))" test "$rc" = 255
bpsh -T -n 0 true </dev/null >/dev/null 2>"$TMP/err"
rc=$?
check "-T with -n is refused, 255 (got $rc: $(cat "$TMP/err"))" test "$rc" = 255

say "# an interactive bash in tmux (${COLS}x${ROWS})"
on_exit "${TM[*]} kill-server"
"${TM[@]}" new-session -d -s "$PANE" -x "$COLS" -y "$ROWS" \
    "env -i HOME=/root TERM=screen PATH=$BIN:/usr/bin:/bin LANG=C \
    BPROC_MASTER='$BPROC_MASTER' BPVC_STATE='$BPVC_STATE' \
    BPVC_NETNS='$BPVC_NETNS' PS1='tt$ ' bash --norc --noprofile -i" ||
    die "tmux new-session"
wait_for 'pane | grep -q "^tt\\$"' 10 || { show_pane; die "no bash prompt in tmux"; }
SHPID=$("${TM[@]}" display-message -p -t "$PANE" '#{pane_pid}')
ask "set +o histexpand; cd /; stty -g >$TMP/stty0"
check "the pane runs commands (bash PID $SHPID)" test "$OUT" = 0

ask "bpsh -T 0 tty >$TMP/tty1"
out=$(tr -d '\r' <"$TMP/tty1")
check "bpsh -T 0 tty: /dev/pts/N (got '$out', status $OUT)" \
    eval '[ "$OUT" = 0 ] && [[ "$out" =~ ^/dev/pts/[0-9]+$ ]]'
ask "bpsh 0 sh -c 'test -t 0 && test -t 1 && test -t 2'"
check "a pty by default at the terminal, one node named (status '$OUT')" test "$OUT" = 0
ask "bpsh 0 sh -c 'test -t 1' | cat; (exit \${PIPESTATUS[0]})"
check "no pty by default when stdout is a pipe (status '$OUT')" test "$OUT" = 1
ask "bpsh --no-tty 0 sh -c 'test -t 0'"
check "--no-tty: no pty (status '$OUT')" test "$OUT" = 1
ask "bpsh 0 sh -c 'test -t 0' & wait \$!"
check "no pty by default for a job started in the background (status '$OUT')" \
    test "$OUT" = 1

say "# a shell on the node: bpsh 0 sh"
line "PS1='rn\$ ' bpsh 0 sh"
if wait_for 'pane | grep -q "^rn\\$"' 15; then
	pass "bpsh 0 sh: the node's shell prompts"
	line 'echo $((6*7))'
	if wait_for 'pane | grep -q "^42.\{0,1\}$"' 5; then
		pass "echo \$((6*7)) on the node prints 42"
	else
		show_pane 4
		fail "echo \$((6*7)) printed no 42"
	fi
	psize=$("${TM[@]}" display-message -p -t "$PANE" '#{pane_height} #{pane_width}')
	line 'echo size=$(stty size)'
	if wait_for 'pane | grep -q "^size=$psize"' 5; then
		pass "stty size on the node is the pane's: $psize"
	else
		show_pane 4
		fail "stty size on the node is not the pane's $psize"
	fi
	"${TM[@]}" resize-window -t "$PANE" -x 100 -y 30
	psize=$("${TM[@]}" display-message -p -t "$PANE" '#{pane_height} #{pane_width}')
	line 'echo resized=$(stty size)'
	if wait_for 'pane | grep -q "^resized=$psize"' 5; then
		pass "after tmux resize-window, stty size on the node follows: $psize"
	else
		show_pane 4
		fail "after resize-window ($psize) the node's size did not follow"
	fi
	"${TM[@]}" resize-window -t "$PANE" -x "$COLS" -y "$ROWS"
	# the node's shell runs its own job control on the pty
	line "sleep 100"
	wait_for '[ -n "$(node_comm 0 sleep)" ]' 10
	keys C-z
	if wait_for 'pane | grep -q "Stopped.*sleep 100"' 5 &&
	    [[ "$(node_comm 0 sleep)" =~ ^[0-9]+:T$ ]] &&
	    ! pane | grep -q "Stopped.*bpsh 0 sh"; then
		pass "C-z on a job of the node's shell: that shell stops it, bpsh runs on"
	else
		show_pane 4
		fail "C-z in the node's shell (sleep: $(node_comm 0 sleep))"
	fi
	line 'kill -9 %1'
	wait_for '[ -z "$(node_comm 0 sleep)" ]' 5
	keys Enter	# the node's shell notes the job's end at a prompt
	wait_for 'pane | grep -q "Killed.*sleep 100"' 5
	line "exit 3"
	if wait_for prompt_back 10; then
		ask "echo \$? >$TMP/rc.sh"
		check "exit 3 in the node's shell: bpsh exits 3 (got '$(cat "$TMP/rc.sh")')" \
		    test "$(cat "$TMP/rc.sh")" = 3
	else
		show_pane
		fail "exit 3: no local prompt"
		recover
	fi
else
	show_pane
	fail "bpsh 0 sh: no prompt from the node"
	recover
fi
WHAT="after the remote shell's exit" same_stty

say "# keys a program reads one at a time"
line "bpsh 0 bash -c 'read -n1 c; echo got=\$c'"
wait_for '[ -n "$(node_comm 0 bash)" ]' 15
sleep 0.3	# let bash reach its read
keys x
if wait_for 'pane | grep -q "got=x"' 5; then
	pass "read -n1 on the node gets a single key, no Enter (the front end is raw)"
else
	show_pane 4
	fail "read -n1 on the node got no single key"
	recover
fi
wait_for prompt_back 5

say "# Ctrl-C, Ctrl-\\ as bytes through the pty"
line "bpsh 0 sleep 100"
wait_for '[ -n "$(node_comm 0 sleep)" ]' 15 || fail "no sleep on node 0"
keys C-c
if wait_for prompt_back 10; then
	ask "echo \$? >$TMP/rc.int"
	check "C-c ends bpsh 0 sleep 100: status 130 (got '$(cat "$TMP/rc.int")')" \
	    test "$(cat "$TMP/rc.int")" = 130
else
	show_pane
	fail "C-c: no prompt"
	recover
fi
wait_for '[ -z "$(node_procs 0)" ]' 5
check "nothing left on node 0 ($(node_procs 0))" test -z "$(node_procs 0)"
WHAT="after C-c" same_stty
line "bpsh 0 sleep 100"
wait_for '[ -n "$(node_comm 0 sleep)" ]' 15 || fail "no sleep on node 0"
keys 'C-\'
if wait_for prompt_back 10; then
	ask "echo \$? >$TMP/rc.quit"
	check "C-\\ ends it with SIGQUIT: 131 (got '$(cat "$TMP/rc.quit")')" \
	    test "$(cat "$TMP/rc.quit")" = 131
else
	show_pane
	fail "C-\\: no prompt"
	recover
fi
WHAT="after C-\\" same_stty

say "# Ctrl-Z, bg, fg through the pty"
line "bpsh 0 sleep 100"
wait_for '[ -n "$(node_comm 0 sleep)" ]' 15 || fail "no sleep on node 0"
keys C-z
if wait_for 'pane | grep -q "Stopped.*bpsh 0 sleep 100"' 10; then
	pass "C-z: bash says Stopped"
else
	show_pane
	fail "C-z: bash does not say Stopped"
fi
if wait_for '[[ "$(node_comm 0 sleep)" =~ ^[0-9]+:T$ ]]' 5; then
	pass "and the remote is stopped on node 0 ($(node_comm 0 sleep))"
else
	fail "the remote is not stopped on node 0 ($(node_comm 0 sleep))"
fi
WHAT="while stopped" same_stty
line "bg"
if wait_for '[[ "$(node_comm 0 sleep)" =~ ^[0-9]+:[SR]$ ]]' 5; then
	pass "bg: the remote runs again ($(node_comm 0 sleep))"
else
	fail "bg: the remote does not run ($(node_comm 0 sleep))"
fi
WHAT="running in the background" same_stty
line "fg"
sleep 0.5
keys C-c
if wait_for prompt_back 10; then
	ask "echo \$? >$TMP/rc.fg"
	check "fg, C-c: status 130 (got '$(cat "$TMP/rc.fg")')" \
	    test "$(cat "$TMP/rc.fg")" = 130
else
	show_pane
	fail "fg, C-c: no prompt"
	recover
fi
WHAT="after fg and C-c" same_stty

say "# a remote that stops itself with SIGSTOP (the master stops the ghost)"
line "bpsh 0 sh -c 'kill -STOP \$\$; echo resumed'"
if wait_for 'pane | grep -q "Stopped.*kill -STOP"' 10; then
	pass "bash says Stopped"
else
	show_pane
	fail "bash does not see the remote's SIGSTOP"
fi
WHAT="stopped by SIGSTOP (bash restores its own)" same_stty
ask "fg"
check "fg: it resumes and ends with 0 (got '$OUT')" test "$OUT" = 0
WHAT="after fg" same_stty

say "# the node goes down under a pty session"
line "bpsh 1 sleep 100"
wait_for '[ -n "$(node_comm 1 sleep)" ]' 15 || fail "no sleep on node 1"
"$BIN/bpvcluster" kill 1 >/dev/null 2>&1 || fail "bpvcluster kill 1"
if wait_for prompt_back 15; then
	ask "echo \$? >$TMP/rc.down"
	check "bpsh exits 137 when its node is lost (got '$(cat "$TMP/rc.down")')" \
	    test "$(cat "$TMP/rc.down")" = 137
	check "and says '1: Node is down'" eval 'pane | grep -q "^1: Node is down"'
else
	show_pane
	fail "node lost: no prompt"
	recover
fi
WHAT="after the node was lost" same_stty

"${TM[@]}" kill-server
finish
