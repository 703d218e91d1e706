#!/bin/bash
# nodeinit as PID 1 of a virtual node, seen from inside the node: it is
# PID 1, it reaps orphans, signals it has no use for do not kill it (and
# busybox's reboot convention, SIGTERM, reboots the node cleanly), the node
# sees none of the front end's files, and its name and address are set.
. "$(dirname "$0")/lib.sh"

need_root
need_image
need_cmd nsenter

vcluster_up 1
P=$(node_pid1 0)
[ -n "$P" ] && alive "$P" || die "no PID 1 for node 0 in $BPVC_STATE/node0.pid"
say "# node 0: PID 1 is $P on the front end"

# in_node CMD...: run a busybox command line inside node 0's namespaces.
in_node() { nsenter -t "$P" -a /bin/busybox sh -c "$*"; }
# ns_pids: front-end PIDs of the processes in node 0's pid namespace.
ns_pids() {
	local ns f p
	ns=$(readlink "/proc/$P/ns/pid")
	for f in /proc/[0-9]*/ns/pid; do
		[ "$(readlink "$f" 2>/dev/null)" = "$ns" ] || continue
		p=${f#/proc/}
		echo "${p%%/*}"
	done
}
zombies() {
	local p n=0
	for p in $(ns_pids); do
		grep -q '^State:[[:space:]]*Z' "/proc/$p/status" 2>/dev/null && n=$((n + 1))
	done
	echo "$n"
}

say "# nodeinit is PID 1"
check "NSpid of the node's init ends in 1" \
    grep -Eq '^NSpid:[[:space:]]+'"$P"'[[:space:]]+1$' "/proc/$P/status"
check "inside the node, PID 1 runs /init" \
    test "$(in_node 'readlink /proc/1/exe')" = /init
check "ps on the node names PID 1 nodeinit" \
    test "$(in_node 'cat /proc/1/comm')" = nodeinit
check "the front end's PID 1 is out of sight" \
    test "$(in_node 'cat /proc/1/cmdline | tr "\0" " "' | cut -d' ' -f1)" = /init

say "# orphans are reaped"
# the sleeps live 2 s; their subshells exit at once, but on a loaded
# machine not all within a fixed nap: look again for up to 1.5 s
n=$(in_node 'i=0; while [ $i -lt 20 ]; do (sleep 2 &); i=$((i + 1)); done
	t=0; while [ $t -lt 15 ]; do
		sleep 0.1; t=$((t + 1)); c=0
		for p in /proc/[0-9]*; do
			[ "$(cat $p/comm 2>/dev/null)" = sleep ] || continue
			grep -q "^PPid:[[:space:]]*1$" $p/status && c=$((c + 1))
		done
		[ $c -ge 20 ] && break
	done; echo $c' 2>&1 | tail -1)
check "20 orphans were adopted by PID 1 ($n seen with PPid 1)" test "$n" -ge 20
if wait_for '[ "$(zombies)" = 0 ] && ! ps -o comm= --ppid "$P" | grep -q sleep' 5; then
	pass "no zombies left in the node ${WAITED_MS} ms later"
else
	fail "$(zombies) zombies left in the node"
fi

say "# signals from inside the node"
# (SIGUSR1, SIGUSR2, SIGTERM and SIGINT mean halt, power-off and reboot:
# busybox's convention, so they are not sent here)
for sig in HUP QUIT PIPE ALRM WINCH CONT TSTP TTIN TTOU URG VTALRM PROF SYS \
    KILL STOP 34 50 64; do
	in_node "kill -$sig 1" 2>/dev/null
done
sleep 0.5
check "PID 1 survives HUP QUIT PIPE ALRM WINCH CONT TSTP TTIN TTOU URG VTALRM PROF SYS KILL STOP and RT signals" \
    alive "$P"
check "PID 1 is not stopped" \
    eval "! grep -Eq '^State:[[:space:]]*T' /proc/$P/status"
check "node 0 still up" test "$(node_state 0)" = up
check "and still answers heartbeats 4 s later" \
    eval 'sleep 4; [ "$(node_state 0)" = up ]'
check "bpmaster saw no reconnect" \
    test "$(grep -c 'node 0: connected' "$BPVC_STATE/bpmaster.log")" = 1

say "# SIGTERM (busybox reboot) reboots the node cleanly"
in_node 'kill -TERM 1'
if wait_for "! alive $P" 5; then
	pass "PID 1 ended ${WAITED_MS} ms after SIGTERM (a reboot)"
else
	fail "PID 1 ignored SIGTERM"
fi
if wait_for '[ "$(node_state 0)" = up ] && [ -n "$(node_pid1 0)" ] && [ "$(node_pid1 0)" != "$P" ]' 30; then
	pass "node 0 rebooted and is up again after ${WAITED_MS} ms"
else
	fail "node 0 did not come back after SIGTERM (state $(node_state 0))"
	show_log "$BPVC_STATE/node0.log"
fi
P=$(node_pid1 0)

say "# the node's root is its own RAM disk"
root_fs() { in_node 'cat /proc/mounts' | awk '$2 == "/" { print $3 }' | tail -1; }
check "the root is a tmpfs ($(root_fs))" test "$(root_fs)" = tmpfs
for f in /usr/lib/x86_64-linux-gnu /usr/bin/gcc /etc/os-release /etc/debian_version \
    /work /lib/x86_64-linux-gnu/libc.so.6 /usr/share /var/lib/dpkg "$TOP"; do
	check "no front-end $f in the node" eval "in_node '[ ! -e \"$f\" ]'"
done
check "the node's /home is empty" test -z "$(in_node 'ls -A /home')"
check "no front-end filesystem is mounted in the node" \
    eval "! in_node 'cat /proc/self/mountinfo' | grep -Eq ' /work| /etc/bproc/cluster.key|/run/bproc'"
check "the node's key is root-only (mode 0400)" \
    test "$(in_node 'stat -c %a /etc/bproc/cluster.key')" = 400

say "# name and address"
check "hostname is n0" test "$(in_node hostname)" = n0
addr=$(in_node 'ip -4 -o addr show dev eth0' | awk '{ print $4 }')
check "eth0 has 10.11.0.16/16 ($addr)" test "$addr" = 10.11.0.16/16
check "eth0 has the node's MAC" \
    test "$(in_node 'cat /sys/class/net/eth0/address')" = 52:54:00:bb:00:00
check "the node reaches the master" \
    eval "in_node 'ping -c 1 -W 2 10.11.0.1' >/dev/null"
finish
