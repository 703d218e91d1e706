#!/bin/bash
# Shell job control on ghosts, as a user at a terminal does it: an
# interactive bash in a private tmux server runs `bpsh 0 sleep 100`;
# Ctrl-Z stops it (bash says Stopped, the remote is T on node 0), `bg`
# runs it on the node again, `fg` and Ctrl-C end it (the remote is gone,
# $? is 130).  Also: a remote process that stops itself shows stopped to
# bash (WUNTRACED) and `fg` continues it; Ctrl-C and Ctrl-Z on many nodes;
# and -T/--tty (a pty on the node; t43_tty checks it in depth).
. "$(dirname "$0")/lib.sh"

need_root
need_image
need_cmd tmux bash
need_file "$BIN/bpsh"

TM=(tmux -L "bpt41-$$")	# a private tmux server, not the user's
PANE=jc
PROMPT='jc$ '

TMP=$(mktemp -d /tmp/t41.XXXXXX)
on_exit "rm -rf '$TMP'"

# node_sleeps N: "PID:State" of every `sleep` on node N.
node_sleeps() {
	local r p out=
	r=$(node_root "$1")
	for p in $(ls "$r/proc" 2>/dev/null | grep -E '^[0-9]+$'); do
		[ "$(cat "$r/proc/$p/comm" 2>/dev/null)" = sleep ] || continue
		out+=" $p:$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p; s/^State:[[:space:]]*t.*/T/p' "$r/proc/$p/status" 2>/dev/null)"
	done
	echo "${out# }"
}
# all_sleeps_in STATES NODES...: every node has one sleep, in one of STATES
all_sleeps_in() {
	local st=$1 n s
	shift
	for n in "$@"; do
		s=$(node_sleeps "$n")
		[[ $s =~ ^[0-9]+:[$st]$ ]] || return 1
	done
}

PROMPT_END='jc\$'
recover() {
	pane_kill_jobs
	line "clear"
	wait_for prompt_back 5
}
# job_has_tty: the terminal's foreground process group is not bash's own
job_has_tty() {
	local t
	t=$(ps -o tpgid= -p "$SHPID" | tr -d ' ')
	[ -n "$t" ] && [ "$t" != "$SHPID" ] && [ "$t" != -1 ]
}

say "# bpvcluster up -n 4"
vcluster_up 4

say "# an interactive bash in tmux"
on_exit "${TM[*]} kill-server"
"${TM[@]}" new-session -d -s "$PANE" -x 160 -y 50 \
    "env -i HOME=/root TERM=screen PATH=$BIN:/usr/bin:/bin LANG=C \
    BPROC_MASTER='$BPROC_MASTER' PS1='$PROMPT' bash --norc --noprofile -i" ||
    die "tmux new-session"
if wait_for 'pane | grep -q "^jc\\$"' 10; then
	pass "bash prompt in tmux"
else
	show_pane
	die "no bash prompt in tmux"
fi
SHPID=$("${TM[@]}" display-message -p -t "$PANE" '#{pane_pid}')
ask 'set +o histexpand; cd /'
check "the pane runs commands (bash PID $SHPID)" test "$OUT" = 0

say "# bpsh 0 sleep 100, Ctrl-Z, bg, fg, Ctrl-C"
line "bpsh 0 sleep 100"
if wait_for '[ -n "$(node_sleeps 0)" ]' 10; then
	pass "sleep 100 runs on node 0 ($(node_sleeps 0))"
else
	show_pane
	fail "no sleep on node 0"
fi
keys C-z
if wait_for 'pane | grep -q "Stopped.*bpsh 0 sleep 100"' 10; then
	pass "C-z: bash says Stopped"
else
	show_pane
	fail "C-z: bash does not say Stopped"
fi
if wait_for 'all_sleeps_in T 0' 5; then
	pass "and the remote is stopped on node 0 ($(node_sleeps 0))"
else
	fail "the remote is not stopped on node 0 ($(node_sleeps 0))"
fi
line "bg"
if wait_for 'all_sleeps_in SR 0' 5; then
	pass "bg: the remote runs again on node 0 ($(node_sleeps 0))"
else
	show_pane
	fail "bg: the remote does not run on node 0 ($(node_sleeps 0))"
fi
ask "jobs %1 | grep -c Running"
check "bash lists the job as Running (got '$OUT')" test "$OUT" = 0
line "fg"
wait_for 'job_has_tty' 5 || fail "fg: the job never got the terminal"
keys C-c
if wait_for 'prompt_back' 10; then
	pass "fg, C-c: the bash prompt returns"
else
	show_pane
	fail "fg, C-c: no prompt"
fi
ask "echo \$? >$TMP/rc1"
check "echo \$? after C-c shows 130 (got '$(cat "$TMP/rc1" 2>/dev/null)')" \
    test "$(cat "$TMP/rc1" 2>/dev/null)" = 130
if wait_for '[ -z "$(node_procs 0)" ]' 5; then
	pass "nothing left on node 0"
else
	fail "left on node 0: $(node_procs 0)"
fi

say "# a remote process that stops itself"
line "bpsh 1 sh -c 'kill -STOP \$\$; echo resumed'"
if wait_for 'pane | grep -q "Stopped.*kill -STOP"' 10; then
	pass "bash says Stopped when the remote stops itself (WUNTRACED)"
else
	show_pane
	fail "bash does not see the remote's stop"
fi
ask "fg"
if [ "$OUT" = 0 ]; then
	pass "fg continues it and it ends with 0"
	check "and it printed 'resumed'" eval 'pane | grep -qx resumed'
else
	show_pane 4
	fail "fg does not continue the remote that stopped itself (node 1: $(node_procs 1) $(node_sleeps 1))"
	recover
fi

say "# many nodes: bpsh 0-3 sleep 100, C-z, fg, C-c"
line "bpsh 0-3 sleep 100"
if wait_for 'all_sleeps_in SR 0 1 2 3' 10; then
	pass "sleep 100 runs on nodes 0-3"
else
	show_pane
	fail "sleep 100 does not run on every node (0: $(node_sleeps 0); 3: $(node_sleeps 3))"
fi
keys C-z
if wait_for 'pane | grep -q "Stopped.*bpsh 0-3 sleep 100"' 10; then
	pass "C-z: bash says Stopped"
else
	show_pane
	fail "C-z on many nodes: bash does not say Stopped"
fi
if wait_for 'all_sleeps_in T 0 1 2 3' 5; then
	pass "and the remotes are stopped on nodes 0-3"
else
	fail "remotes not all stopped: 0: $(node_sleeps 0); 1: $(node_sleeps 1); 2: $(node_sleeps 2); 3: $(node_sleeps 3)"
fi
line "fg"
if wait_for 'all_sleeps_in SR 0 1 2 3' 5; then
	pass "fg: the remotes run again"
else
	fail "fg: remotes: 0: $(node_sleeps 0); 1: $(node_sleeps 1); 2: $(node_sleeps 2); 3: $(node_sleeps 3)"
fi
job_has_tty || fail "fg: the job does not have the terminal"
keys C-c
if wait_for 'prompt_back' 10; then
	pass "C-c: the bash prompt returns"
else
	show_pane
	fail "C-c on many nodes: no prompt"
fi
ask "echo \$? >$TMP/rc2"
check "bpsh 0-3 exits 130 after C-c (got '$(cat "$TMP/rc2" 2>/dev/null)')" \
    test "$(cat "$TMP/rc2" 2>/dev/null)" = 130
left=
for n in 0 1 2 3; do
	wait_for '[ -z "$(node_procs $n)" ]' 5 || left+=" $n: $(node_procs $n)"
done
check "nothing left on nodes 0-3${left:+ ($left)}" test -z "$left"

say "# C-c stops a shell loop of bpsh (bpsh dies of SIGINT, as bash expects)"
for nodes in 0 0-1; do
	line "for i in 1 2 3; do bpsh $nodes sleep 100; done"
	if ! wait_for '[ -n "$(node_sleeps 0)" ]' 10; then
		fail "bpsh $nodes sleep 100 did not start"
		recover
		continue
	fi
	job_has_tty
	keys C-c
	if wait_for 'prompt_back' 4; then
		pass "C-c on 'for i in 1 2 3; do bpsh $nodes sleep 100; done' ends the loop"
	else
		show_pane 3
		fail "C-c on 'for i in 1 2 3; do bpsh $nodes sleep 100; done' does not end the loop (the next bpsh runs: node 0: $(node_sleeps 0))"
		recover
	fi
	wait_for '[ -z "$(node_procs 0)" ]' 5
	line "clear"
	wait_for prompt_back 5
done

say "# -T/--tty: a pty on the node"
ask "bpsh -T 0 sh -c 'test -t 0 && test -t 1'"
check "bpsh -T 0: stdin and stdout are a terminal on the node (got '$OUT')" \
    test "$OUT" = 0
ask "bpsh 0 sh -c 'test -t 0 && test -t 1'"
check "a terminal by default when stdin is one and one node is named (got '$OUT')" \
    test "$OUT" = 0
line "bpsh -T 0 sleep 100"
wait_for '[ -n "$(node_sleeps 0)" ]' 10
keys C-c
if wait_for 'prompt_back' 10; then
	pass "-T: C-c ends the remote (the pty's ^C) and the prompt returns"
else
	show_pane
	fail "-T: C-c gives no prompt"
fi
ask "echo \$? >$TMP/rc3"
check "-T: exit 130 after C-c (got '$(cat "$TMP/rc3" 2>/dev/null)')" \
    test "$(cat "$TMP/rc3" 2>/dev/null)" = 130
wait_for '[ -z "$(node_procs 0)" ]' 5
check "-T: nothing left on node 0 ($(node_procs 0))" test -z "$(node_procs 0)"

"${TM[@]}" kill-server
finish
