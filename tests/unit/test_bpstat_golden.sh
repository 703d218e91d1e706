#!/bin/bash
# Golden-file tests of bpstat and bpctl against tests/unit/fake_master.c,
# a stand-in for bpmaster's control socket with a fixed six-node table.
# Each case runs one command and compares its stdout, stderr and exit
# status with tests/golden/<case>.out.  Prints TAP.  Exit status as the
# integration tests': 0 every case passed, 1 one failed, 77 it could not
# run (a "SKIP: reason" line says why, for tests/run.sh).
#
#	OUT=dir		where the build put bin/ and tests/ (default:
#			$BPROC_OUT, else out)
#	UPDATE_GOLDEN=1	rewrite the golden files from what the tools print
#			(review the diff before committing it)
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUT:-${BPROC_OUT:-out}}
case $OUT in /*) ;; *) OUT=$ROOT/$OUT ;; esac
GOLDEN=$ROOT/tests/golden
BPSTAT=$OUT/bin/bpstat
BPCTL=$OUT/bin/bpctl
CFLAGS="-std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -I$ROOT/common"

skip_all() {
	echo "1..0 # SKIP $*"
	echo "SKIP: $*"
	exit 77
}

[ -x "$BPSTAT" ] && [ -x "$BPCTL" ] ||
	skip_all "build $BPSTAT and $BPCTL first (make)"

TMP=$(mktemp -d /tmp/bpgolden.XXXXXX) || exit 1
MASTER_PID=
cleanup() {
	[ -n "$MASTER_PID" ] && kill "$MASTER_PID" 2>/dev/null
	[ -n "${TMUX_SOCK:-}" ] && tmux -L "$TMUX_SOCK" kill-server 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# The Makefile builds the fake master into $OUT/tests; failing that, build
# a private copy so the test does not depend on a rule being there.
FAKE=$OUT/tests/fake_master
if [ ! -x "$FAKE" ]; then
	FAKE=$TMP/fake_master
	${CC:-cc} $CFLAGS -o "$FAKE" "$ROOT/tests/unit/fake_master.c" \
	    "$ROOT/common/wire.c" "$ROOT/common/proto.c" \
	    "$ROOT/common/nodeset.c" 2>"$TMP/cc.log" ||
		skip_all "cannot build fake_master: $(head -1 "$TMP/cc.log")"
fi

# start_master: a fresh fake master (a fresh table) on $TMP/master.sock.
start_master() {
	local i

	[ -n "$MASTER_PID" ] && kill "$MASTER_PID" 2>/dev/null &&
		wait "$MASTER_PID" 2>/dev/null
	rm -f "$TMP/master.log"
	"$FAKE" "$@" "$TMP/master.sock" >"$TMP/master.log" 2>&1 &
	MASTER_PID=$!
	for i in $(seq 50); do
		grep -q '^ready$' "$TMP/master.log" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "Bail out! fake_master did not start: $(cat "$TMP/master.log")"
	exit 1
}
export BPROC_MASTER=$TMP/master.sock

N=0
FAILED=0
ok() {
	N=$((N + 1))
	echo "ok $N - $*"
}
not_ok() {
	N=$((N + 1))
	FAILED=$((FAILED + 1))
	echo "not ok $N - $*"
}

# golden NAME TOOL ARGS...: run TOOL (bpstat or bpctl) and compare.
# With PRELOAD=lib set, the tool (only) runs with LD_PRELOAD=lib.
golden() {
	local name=$1 tool=$2 rc
	shift 2

	(cd "$OUT/bin" && exec env ${PRELOAD:+LD_PRELOAD=$PRELOAD} \
	    "./$tool" "$@") >"$TMP/stdout" 2>"$TMP/stderr"
	rc=$?
	{
		echo "\$ $tool${*:+ $*}"
		cat "$TMP/stdout"
		echo "[stderr]"
		# getopt names the program by its path; the socket is in $TMP
		sed -e "s|\./$tool:|$tool:|" -e "s|$TMP|TMP|g" "$TMP/stderr"
		echo "[exit $rc]"
	} >"$TMP/got"
	if [ "${UPDATE_GOLDEN:-0}" = 1 ]; then
		mkdir -p "$GOLDEN"
		cp "$TMP/got" "$GOLDEN/$name.out"
	fi
	if [ ! -f "$GOLDEN/$name.out" ]; then
		not_ok "$name: no golden file $GOLDEN/$name.out"
	elif diff -u "$GOLDEN/$name.out" "$TMP/got" >"$TMP/diff"; then
		ok "$name: $tool $*"
	else
		not_ok "$name: $tool $*"
		sed 's/^/# /' "$TMP/diff"
	fi
}

start_master
golden bpstat_default		bpstat
golden bpstat_long		bpstat -l
golden bpstat_addr		bpstat -a
golden bpstat_json		bpstat --json
golden bpstat_count		bpstat -N
golden bpstat_count_t		bpstat -t 0-3
golden bpstat_count_up		bpstat -u
golden bpstat_sort_state	bpstat -s
golden bpstat_sort_state_rev	bpstat -s -r
golden bpstat_sort_owner	bpstat -O
golden bpstat_sort_group_rev	bpstat -G -r
golden bpstat_reverse		bpstat -r
golden bpstat_long_sorted	bpstat -l -s
golden bpstat_set_range		bpstat 0-3
golden bpstat_set_state		bpstat up
golden bpstat_set_not_down	bpstat -a '!down'
golden bpstat_set_brackets	bpstat -l 'n[4-5]' 0
golden bpstat_no_such_node	bpstat 7,1,n9
golden bpstat_bad_set		bpstat 'n[3-'
golden bpstat_two_views		bpstat -l -a
golden bpstat_live_json		bpstat -U --json
golden bpstat_bad_option	bpstat -x
golden bpstat_help		bpstat -h

# -p: the process table (the fake master's six processes, unsorted)
golden bpstat_procs		bpstat -p
golden bpstat_procs_json	bpstat -p --json
golden bpstat_procs_set		bpstat -p 1,n3
golden bpstat_procs_state	bpstat -p up
golden bpstat_procs_owner_rev	bpstat -p -O -r
golden bpstat_procs_no_such_node	bpstat -p 0,7
golden bpstat_procs_bad_set	bpstat -p 'n[1'
golden bpstat_procs_long	bpstat -p -l
golden bpstat_procs_sort_state	bpstat -p -s
golden bpstat_procs_live	bpstat -p -U

# JSON must parse, and scripts grep it by `"state": "up"`.
if command -v python3 >/dev/null; then
	if "$BPSTAT" --json | python3 -c '
import json, sys
a = json.load(sys.stdin)
assert len(a) == 6 and a[5]["addr"] == "10.0.0.15 \"x\"\\\t", a[5]
assert a[2]["mac"] is None and a[2]["last_seen"] is None
assert list(a[0])[:4] == ["node", "state", "addr", "mac"]
'; then
		ok "bpstat --json parses"
	else
		not_ok "bpstat --json parses"
	fi
else
	ok "bpstat --json parses # SKIP no python3"
fi
if [ "$("$BPSTAT" --json | grep -c '"state": "up"')" = 3 ]; then
	ok "bpstat --json greps by \"state\": \"up\""
else
	not_ok "bpstat --json greps by \"state\": \"up\""
fi
if command -v python3 >/dev/null; then
	if "$BPSTAT" -p --json | python3 -c '
import json, sys
a = json.load(sys.stdin)
assert len(a) == 6, a
assert list(a[0]) == ["pid", "node", "rpid", "ppid", "uid", "user", "cmd"], a[0]
assert a[1]["cmd"] == "awk {print \"x\"}\tdone", a[1]
assert a[4]["pid"] == 4300 and a[4]["rpid"] == 17, a[4]
assert a[5]["cmd"] == "md5sum \x1b[2J/dev/zero", a[5]
'; then
		ok "bpstat -p --json parses"
	else
		not_ok "bpstat -p --json parses"
	fi
else
	ok "bpstat -p --json parses # SKIP no python3"
fi
# BProc's scripts cut the first two tab-separated fields.
if [ "$("$BPSTAT" -p | cut -f1,2 | head -3 | tr '\t\n' ':,')" = \
    "PID:Node,4101:0,4102:0," ]; then
	ok "bpstat -p: PID and Node are the first two tab-separated fields"
else
	not_ok "bpstat -p: PID and Node are the first two tab-separated fields"
fi

# bpctl changes the table: each run below sees the ones before it.
start_master
golden bpctl_in_order		bpctl -S 1 -m 0101 -S 4 -s up -u root -g 0 -v
golden bpctl_after_in_order	bpstat
golden bpctl_errors		bpctl -S 0-3,7,8 -m 0111 -s unavailable
golden bpctl_einval		bpctl -S 1 -s down
golden bpctl_eperm_verbose	bpctl -v -S 2,4 -g 3999999
golden bpctl_power		bpctl -S up -R -v -S 5 -P
golden bpctl_after_all		bpstat -l
golden bpctl_no_set		bpctl -m 0111
golden bpctl_set_without_option	bpctl -S 1 -S 2 -m 1
golden bpctl_bad_mode		bpctl -S 1 -m 8
golden bpctl_big_mode		bpctl -S 1 -m 010000
golden bpctl_bad_state		bpctl -S 1 -s bogus
golden bpctl_bad_user		bpctl -S 1 -u no-such-user-here
golden bpctl_bad_set		bpctl -S 'n[1' -m 1
golden bpctl_extra_arg		bpctl -S 1 -m 1 extra
golden bpctl_no_args		bpctl

kill "$MASTER_PID" 2>/dev/null
wait "$MASTER_PID" 2>/dev/null
MASTER_PID=
# a master that is not answering (its socket left, nobody listening):
# libbproc waits BPROC_MASTER_WAIT seconds, saying so once
BPROC_MASTER_WAIT=1 golden bpstat_unreachable	bpstat
# no socket at all, as a new user meets it: the message says what to do,
# at once (no master to wait for)
BPROC_MASTER=$TMP/no-such.sock golden bpstat_no_master bpstat
BPROC_MASTER=$TMP/no-such.sock golden bpctl_no_master bpctl -S 1 -m 0111
BPROC_MASTER_WAIT=0 golden bpctl_unreachable	bpctl -S 1 -m 0111
BPROC_MASTER_WAIT=0 golden bpstat_procs_unreachable	bpstat -p

# A master that accepts and at once closes (bpmaster does so when a user
# holds too many connections) is an error with exit 3, never a silent
# death by SIGPIPE (exit 141).  The preloaded connect() waits until the
# master has closed, so the request is written to a closed socket.
start_master -r
golden bpstat_refused		bpstat
golden bpstat_procs_refused	bpstat -p
golden bpstat_live_refused	bpstat -U
cat >"$TMP/slowconnect.c" <<'EOF'
#include <dlfcn.h>
#include <sys/socket.h>
#include <unistd.h>

int	connect(int, const struct sockaddr *, socklen_t);

int
connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	int	(*real)(int, const struct sockaddr *, socklen_t);
	int	r;

	*(void **)&real = dlsym(RTLD_NEXT, "connect");
	r = real(fd, sa, len);
	usleep(200000);
	return r;
}
EOF
if ${CC:-cc} $CFLAGS -shared -fPIC -o "$TMP/slowconnect.so" \
    "$TMP/slowconnect.c" -ldl 2>"$TMP/cc.log"; then
	PRELOAD=$TMP/slowconnect.so golden bpstat_refused_sigpipe bpstat
	PRELOAD=$TMP/slowconnect.so golden bpstat_procs_refused_sigpipe \
	    bpstat -p
else
	ok "bpstat_refused_sigpipe # SKIP cannot build the connect() shim"
	ok "bpstat_procs_refused_sigpipe # SKIP cannot build the connect() shim"
fi
kill "$MASTER_PID" 2>/dev/null
wait "$MASTER_PID" 2>/dev/null
MASTER_PID=

# -U into a pipe or a file: snapshots as plain lines, one per interval
# in which the table changed (the fake master flips node 1 each second),
# and a reader that goes away ends it, also while nothing changes.
start_master -c 1
(cd "$OUT/bin" && timeout 4 ./bpstat -U) >"$TMP/plain" 2>"$TMP/plain.err"
rc=$?
n=$(grep -c '^bpstat: 6 nodes, [23] up ' "$TMP/plain")
if [ "$rc" = 124 ] && [ "$n" -ge 3 ] && [ "$n" -le 5 ] &&
    ! grep -q "$(printf '\033')" "$TMP/plain" && [ ! -s "$TMP/plain.err" ]; then
	ok "bpstat -U >file: $n snapshots in 4 s as plain lines"
else
	not_ok "bpstat -U >file: $n snapshots in 4 s (exit $rc), plain lines"
	sed 's/^/# /' "$TMP/plain" "$TMP/plain.err" | cat -v | head -20
fi
start=$(date +%s%N)
out=$( (cd "$OUT/bin" && timeout 10 ./bpstat -U) | head -3)
ms=$(( ($(date +%s%N) - start) / 1000000 ))
if [ "$(printf '%s\n' "$out" | sed -n 2p)" = "$(sed -n 2p "$GOLDEN/bpstat_default.out")" ] &&
    [ "$ms" -lt 5000 ]; then
	ok "bpstat -U | head -3 ends (${ms} ms)"
else
	not_ok "bpstat -U | head -3 ends (${ms} ms; got '$out')"
fi
# a reader that leaves while the table stands still: without -c the fake
# master never changes, so only the pipe's end can end bpstat
start_master
start=$(date +%s%N)
(cd "$OUT/bin" && timeout 10 ./bpstat -U) | head -1 >/dev/null
rc=${PIPESTATUS[0]}
ms=$(( ($(date +%s%N) - start) / 1000000 ))
if [ "$rc" != 124 ] && [ "$ms" -lt 5000 ]; then
	ok "bpstat -U | head -1 on a still table ends (${ms} ms, exit $rc)"
else
	not_ok "bpstat -U | head -1 on a still table ends (${ms} ms, exit $rc)"
fi
kill "$MASTER_PID" 2>/dev/null
wait "$MASTER_PID" 2>/dev/null
MASTER_PID=

# The live view: drawn at once, redrawn when the table changes (the fake
# master flips node 1 between up and error every second with -c 1), left
# with q or Ctrl-C with the terminal mode given back.
if command -v tmux >/dev/null; then
	# A tmux server of our own: the user's is none of our business, and
	# one server for all sessions cannot race a server that is exiting.
	TMUX_SOCK=bpgolden$$
	T="tmux -L $TMUX_SOCK"
	unset TMUX

	# live_wait SESSION FILE ERE: capture until ERE shows, for 5 s at most
	live_wait() {
		local i

		for i in $(seq 50); do
			$T capture-pane -p -t "$1" >"$2" 2>/dev/null
			grep -Eq "$3" "$2" && return 0
			sleep 0.1
		done
		return 1
	}
	# check NAME FILE ERE...: ok when every ERE is in FILE
	check() {
		local name=$1 file=$2 re
		shift 2

		for re in "$@"; do
			if ! grep -Eq -- "$re" "$file"; then
				not_ok "$name"
				sed 's/^/# /' "$file"
				return
			fi
		done
		ok "$name"
	}
	LIVE_TAIL='echo EXIT=$?; stty -a; sleep 60'

	start_master -c 1
	$T new-session -d -s q -x 100 -y 20 "'$BPSTAT' -U; $LIVE_TAIL"
	live_wait q "$TMP/live1" '^Node\(s\)'
	check "bpstat -U draws the table" "$TMP/live1" '^Node\(s\)' \
	    '^5  *boot'
	# node 1 shows as "0-1,3  up" while up and as "1  error" while not
	if grep -q '^1  *error' "$TMP/live1"; then
		live_wait q "$TMP/live2" '^0-1,3  *up'
	else
		live_wait q "$TMP/live2" '^1  *error'
	fi
	check "bpstat -U redraws on change" "$TMP/live2" '^Node\(s\)'
	$T send-keys -t q q
	live_wait q "$TMP/live3" 'icanon'
	check "bpstat -U leaves with q, terminal restored" "$TMP/live3" \
	    '^EXIT=0' '[^-]icanon' '[^-]echo '

	$T new-session -d -s int -x 100 -y 20 "'$BPSTAT' -U -l; $LIVE_TAIL"
	live_wait int "$TMP/live4" '^Node '
	$T send-keys -t int C-c
	live_wait int "$TMP/live4" 'icanon'
	check "bpstat -U -l leaves with Ctrl-C, terminal restored" \
	    "$TMP/live4" '^EXIT=0' '[^-]icanon' '[^-]echo '

	$T new-session -d -s lost -x 100 -y 20 "BPROC_MASTER_WAIT=1 '$BPSTAT' -U; $LIVE_TAIL"
	live_wait lost "$TMP/live5" '^Node\(s\)'
	kill "$MASTER_PID"
	wait "$MASTER_PID" 2>/dev/null
	MASTER_PID=
	live_wait lost "$TMP/live5" 'icanon'
	check "bpstat -U waits for a next master, then says so and exits 1" \
	    "$TMP/live5" '^bpstat: lost bpmaster' '^EXIT=1' '[^-]icanon'
	$T kill-server 2>/dev/null
else
	for t in "draws the table" "redraws on change" "leaves with q" \
	    "leaves with Ctrl-C" "waits for a next master, then says so and exits 1"; do
		ok "bpstat -U $t # SKIP no tmux"
	done
fi

echo "1..$N"
[ "$FAILED" = 0 ]
