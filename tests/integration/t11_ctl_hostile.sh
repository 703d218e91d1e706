#!/bin/bash
# The control socket against a hostile user (issue 9): one unprivileged
# user floods it with 20,000 watch connections and 2,000 idle ones while a
# second user runs 100 `bpsh 0 true` and bpstat: every run of the second
# user succeeds, bpmaster's log grows by less than 1 MB and its CPU stays
# low; the same again with bpmaster's descriptors limited to 1024
# (prlimit), where accept(2) fails with EMFILE and must not spin.  Random
# bytes and huge frames close that connection only.  A plain client (not
# bpghost) that sends EXEC is refused as a ghost and never traced.
. "$(dirname "$0")/lib.sh"

need_root
need_image
need_cmd gcc setpriv prlimit useradd userdel
need_file "$BIN/bpsh" "$TOP/tests/integration/t11_client.c"

NWATCH=${T11_NWATCH:-20000}
NIDLE=${T11_NIDLE:-2000}
RUNS=${T11_RUNS:-100}
LOG_LIMIT=$((1024 * 1024))	# bytes the log may grow during one flood
CPU_LIMIT=50			# percent of one CPU bpmaster may use meanwhile

TMP=$(mktemp -d /tmp/t11.XXXXXX)
on_exit "rm -rf '$TMP'"
chmod 0755 "$TMP"

say "# build the hostile client"
if gcc -std=c11 -D_GNU_SOURCE -O2 -Wall -I"$TOP/common" -o "$TMP/t11_client" \
    "$TOP/tests/integration/t11_client.c" "$TOP/common/wire.c" \
    "$TOP/common/proto.c" 2>"$TMP/cc.log"; then
	pass "t11_client.c builds"
else
	show_log "$TMP/cc.log"
	die "cannot build t11_client.c"
fi

# The attacker is a user of its own, made for this test; the victim is nobody.
EVIL=bpt11x$$
useradd -r -M -d /nonexistent -s /usr/sbin/nologin "$EVIL" ||
	die "useradd $EVIL"
on_exit "userdel '$EVIL'"
EVIL_UID=$(id -u "$EVIL")
EVIL_GID=$(id -g "$EVIL")
# the flood comes from processes of at most 5,000 connections each
PER_PROC=5000
EVIL_FDS=$((PER_PROC + 64))
[ "$(ulimit -Hn)" = unlimited ] || [ "$(ulimit -Hn)" -ge "$EVIL_FDS" ] ||
	skip "the descriptor limit $(ulimit -Hn) is below $EVIL_FDS"
NOBODY=$(id -u nobody 2>/dev/null) || skip "needs a user 'nobody'"
NOGROUP=$(id -g nobody)
user_tools
# (an array, not a function: `"${AS_EVIL[@]}" cmd &` makes $! the command)
AS_EVIL=(prlimit --nofile="$EVIL_FDS" setpriv --reuid="$EVIL_UID"
    --regid="$EVIL_GID" --clear-groups)
as_evil() { "${AS_EVIL[@]}" "$@"; }
as_nobody() {
	setpriv --reuid="$NOBODY" --regid="$NOGROUP" --clear-groups "$@"
}
# as_nobody_t CMD...: as_nobody, killed after 20 s
as_nobody_t() {
	timeout 20 setpriv --reuid="$NOBODY" --regid="$NOGROUP" --clear-groups "$@"
}

say "# bpvcluster up -n 1"
vcluster_up 1
MPID=$(cat "$BPVC_STATE/bpmaster.pid")
MLOG=$BPVC_STATE/bpmaster.log
alive "$MPID" || die "no bpmaster"
check "nobody runs bpsh 0 true before the flood" as_nobody "$UBIN/bpsh" 0 true

# cpu_ticks: bpmaster's utime + stime, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$MPID/stat"; }
HZ=$(getconf CLK_TCK)
read -r MSOFT MHARD < <(prlimit --pid "$MPID" --nofile -o SOFT,HARD --noheadings)

# flood_round NAME: the flood and the victim's runs, then the checks.
flood_round() {
	local name=$1 log0 t0 c0 ms cpu grown ok=0 bad=0 i held w n
	local fpids=()
	say "# $name: $EVIL floods the control socket ($NWATCH watch, $NIDLE idle)"
	log0=$(stat -c %s "$MLOG")
	t0=$(now_ms)
	c0=$(cpu_ticks)
	rm -f "$TMP"/flood.*.out
	for ((w = NWATCH, i = 0; w > 0; w -= PER_PROC, i++)); do
		n=$((w < PER_PROC ? w : PER_PROC))
		"${AS_EVIL[@]}" "$TMP/t11_client" flood "$BPROC_MASTER" "$n" 0 60 \
		    >"$TMP/flood.$i.out" 2>&1 &
		fpids+=($!)
	done
	"${AS_EVIL[@]}" "$TMP/t11_client" flood "$BPROC_MASTER" 0 "$NIDLE" 60 \
	    >"$TMP/flood.idle.out" 2>&1 &
	fpids+=($!)
	# let the first pass of the flood finish
	wait_for "[ \$(cat $TMP/flood.*.out | grep -c 'connections made') -ge ${#fpids[@]} ]" 90
	say "    $(cat "$TMP"/flood.*.out | grep 'connections made' | tr '\n' ';')"
	held=$(ls "/proc/$MPID/fd" | wc -l)
	say "    bpmaster holds $held descriptors, VmRSS $(awk '/^VmRSS/ { print $2 }' "/proc/$MPID/status") kB"
	for ((i = 0; i < RUNS; i++)); do
		if as_nobody_t "$UBIN/bpsh" 0 true 2>>"$TMP/victim.err"; then
			ok=$((ok + 1))
		else
			bad=$((bad + 1))
		fi
		if ((i % 10 == 0)); then
			as_nobody_t "$UBIN/bpstat" >/dev/null 2>>"$TMP/victim.err" ||
				bad=$((bad + 1))
		fi
	done
	timeout 20 "$BIN/bpstat" >/dev/null 2>>"$TMP/victim.err" || bad=$((bad + 1))
	ms=$(( $(now_ms) - t0 ))
	cpu=$(( ( $(cpu_ticks) - c0 ) * 1000 * 100 / HZ / (ms > 0 ? ms : 1) ))
	grown=$(( $(stat -c %s "$MLOG") - log0 ))
	kill "${fpids[@]}" 2>/dev/null
	wait "${fpids[@]}" 2>/dev/null
	check "$name: all $RUNS of nobody's bpsh 0 true, bpstat and root's bpstat succeed ($ok ok, $bad failed)" \
	    test "$bad" = 0 -a "$ok" = "$RUNS"
	[ "$bad" = 0 ] || sed 's/^/    victim: /' "$TMP/victim.err" | sort | uniq -c | head -n 5
	check "$name: bpmaster's log grew by $grown bytes (< $LOG_LIMIT)" \
	    test "$grown" -lt "$LOG_LIMIT"
	check "$name: bpmaster used $cpu% of a CPU over $ms ms (< $CPU_LIMIT%)" \
	    test "$cpu" -lt "$CPU_LIMIT"
	check "$name: bpmaster is still alive" alive "$MPID"
	if [ "$grown" -ge "$LOG_LIMIT" ] || [ "$bad" != 0 ]; then
		tail -c "$grown" "$MLOG" | cut -c14- | sed 's/[0-9]\+/N/g' |
		    sort | uniq -c | sort -rn | head -n 5 | sed 's/^/    log: /'
	fi
	# the flood's connections are closed: the master lets them go
	wait_for "[ \$(ls /proc/$MPID/fd | wc -l) -lt 200 ]" 20 ||
		fail "$name: bpmaster still holds $(ls "/proc/$MPID/fd" | wc -l) descriptors after the flood"
	: >"$TMP/victim.err"
}

flood_round "flood"

if [ "${T11_NOFILE_ROUND:-1}" = 1 ]; then
	prlimit --pid "$MPID" --nofile="1024:$MHARD" || die "prlimit --pid $MPID"
	flood_round "flood at nofile 1024"
	prlimit --pid "$MPID" --nofile="$MSOFT:$MHARD" || fail "prlimit cannot restore the limit"
fi

say "# out of descriptors: accept(2) fails with EMFILE, bpmaster must not spin"
# (the soft limit only: without CAP_SYS_RESOURCE a hard one stays lowered)
n=$(( $(ls "/proc/$MPID/fd" | wc -l) + 3 ))
prlimit --pid "$MPID" --nofile="$n:$MHARD" || die "prlimit --pid $MPID"
log0=$(stat -c %s "$MLOG")
c0=$(cpu_ticks)
t0=$(now_ms)
"${AS_EVIL[@]}" "$TMP/t11_client" flood "$BPROC_MASTER" 200 0 5 >"$TMP/flood.emfile.out" 2>&1
ms=$(( $(now_ms) - t0 ))
cpu=$(( ( $(cpu_ticks) - c0 ) * 1000 * 100 / HZ / (ms > 0 ? ms : 1) ))
grown=$(( $(stat -c %s "$MLOG") - log0 ))
prlimit --pid "$MPID" --nofile="$MSOFT:$MHARD" || fail "prlimit cannot restore the limit"
say "    $(tr '\n' ';' <"$TMP/flood.emfile.out")"
check "at nofile $n: bpmaster logged that accept ran out of descriptors" \
    grep -q "control accept: Too many open files" "$MLOG"
check "at nofile $n: bpmaster used $cpu% of a CPU over $ms ms (< $CPU_LIMIT%)" \
    test "$cpu" -lt "$CPU_LIMIT"
check "at nofile $n: its log grew by $grown bytes (< $LOG_LIMIT)" \
    test "$grown" -lt "$LOG_LIMIT"
check "with its limit back, bpsh works again" as_nobody_t "$UBIN/bpsh" 0 true

say "# random bytes and huge frames close that connection only"
as_nobody "$UBIN/bpstat" -U >/dev/null 2>&1 &
WPID=$!
on_exit "kill $WPID"
sleep 0.5
check "random bytes: the master closes the connection" \
    as_evil "$TMP/t11_client" garbage "$BPROC_MASTER"
out=$(as_evil "$TMP/t11_client" huge "$BPROC_MASTER")
check "huge frames: the master closes each ($out)" test $? = 0 -a -n "$out"
check "nobody's bpstat -U watcher is still there" alive "$WPID"
check "bpsh still works" as_nobody "$UBIN/bpsh" 0 true
kill "$WPID" 2>/dev/null
wait "$WPID" 2>/dev/null

say "# a plain client that sends EXEC is not a ghost and is not traced"
"${AS_EVIL[@]}" "$TMP/t11_client" exec "$BPROC_MASTER" 0 >"$TMP/exec.out" 2>&1 &
EPID=$!
wait_for "grep -q '^ghost:\|closed before' '$TMP/exec.out' || ! alive $EPID" 15
tracer=$(sed -n 's/^TracerPid:[[:space:]]*//p' "/proc/$EPID/status" 2>/dev/null)
say "    $(tr '\n' ';' <"$TMP/exec.out")"
if grep -q '^ghost: refused' "$TMP/exec.out"; then
	pass "the plain client is refused as a ghost"
else
	fail "the plain client is refused as a ghost"
	show_log "$MLOG"
fi
check "its TracerPid is not bpmaster ($tracer, bpmaster $MPID)" \
    test -n "$tracer" -a "$tracer" != "$MPID"
wait "$EPID" 2>/dev/null
check "the refusal is logged" grep -q "not bpghost\|not the ghost" "$MLOG"
check "bpsh still works" as_nobody "$UBIN/bpsh" 0 true

finish
