# Helpers for the integration tests; source it from tests/integration/t*.sh.
#
# A test prints one line per check ("  ok: ..." or "  FAIL: ..."), and
# exits 0 when every check passed, 1 when one failed, 77 when it could not
# run (a "SKIP: reason" line says why).  Whatever a test starts it registers
# with on_exit, and the EXIT trap set here undoes it in reverse order, on
# success, failure, Ctrl-C or the runner's timeout alike.
#
# Virtual clusters of the tests live in their own state dir and network
# namespace (BPVC_STATE, BPVC_NETNS), so a test never touches a cluster a
# user has up, e.g. the demo's.

set -uo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# BPROC_OUT=out-san runs the tests against the sanitizer build (make
# SANITIZE=1, ./build.sh sanitize); relative to the checkout, or absolute.
OUTDIR=${BPROC_OUT:-out}
case $OUTDIR in /*) ;; *) OUTDIR=$TOP/$OUTDIR ;; esac
BIN=$OUTDIR/bin
# sanitized: the tests run against the sanitizer build, where ASan's
# quarantine keeps freed memory, so RSS growth says nothing about leaks.
sanitized() { [ "$OUTDIR" != "$TOP/out" ]; }
TESTBIN=$OUTDIR/tests
TNAME=$(basename "$0" .sh)
FAILS=0
CHECKS=0
_ON_EXIT=()

export BPVC_STATE=/run/bproc/test-$$
export BPVC_NETNS=bpt$$

say() { printf '%s\n' "$*"; }
pass() { CHECKS=$((CHECKS + 1)); say "  ok: $*"; }
# A failed check: recorded, and the test goes on to the next one.
fail() { CHECKS=$((CHECKS + 1)); FAILS=$((FAILS + 1)); say "  FAIL: $*"; }
# A failure the rest of the test cannot go on from.
die() { fail "$*"; exit 1; }
skip() { say "SKIP: $*"; exit 77; }
# check DESCRIPTION COMMAND...: pass or fail on the command's status.
check() {
	local what=$1
	shift
	if "$@"; then pass "$what"; else fail "$what"; fi
}

need_root() {
	[ "$(id -u)" = 0 ] || skip "needs root (namespaces, bpmaster, bpvcluster)"
}
need_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip "needs $c (./build.sh deps)"
	done
}
need_file() {
	local f
	for f in "$@"; do
		[ -e "$f" ] || skip "$f is missing (./build.sh)"
	done
}
need_image() {
	need_file "$BIN/bpmaster" "$BIN/bpstat" "$BIN/bpctl" "$BIN/bpvcluster" \
	    "$OUTDIR/libexec/bpvnode" "$OUTDIR/boot/initramfs.cpio.gz" \
	    /etc/bproc/cluster.key
}

# on_exit COMMAND: run at exit (last registered, first run).
on_exit() { _ON_EXIT+=("$*"); }
_run_exit() {
	local rc=$? i
	trap - EXIT
	for ((i = ${#_ON_EXIT[@]} - 1; i >= 0; i--)); do
		eval "${_ON_EXIT[$i]}" >/dev/null 2>&1 || true
	done
	exit "$rc"
}
trap _run_exit EXIT
trap 'say "  interrupted"; exit 1' INT TERM HUP

# alive PID: the process runs (a zombie child waiting to be reaped does not).
alive() {
	[ -e "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# wait_for CONDITION TIMEOUT_S: poll the shell condition every 0.1 s;
# 0 once true, 1 after TIMEOUT_S seconds.  WAITED_MS says how long it took.
wait_for() {
	local cond=$1 limit=$2 start
	start=$(now_ms)
	while ! eval "$cond" >/dev/null 2>&1; do
		if (( $(now_ms) - start > limit * 1000 )); then
			WAITED_MS=$(( $(now_ms) - start ))
			return 1
		fi
		sleep 0.1
	done
	WAITED_MS=$(( $(now_ms) - start ))
	return 0
}

# need_netboot: what `bpvcluster up --qemu` needs (QEMU, dnsmasq, lighttpd,
# lz4, syslinux's PXE files, a node kernel in /boot), or skip; sets KERNEL
# (the newest /boot/vmlinuz-*, bpvcluster's default) and KREL.
need_netboot() {
	need_cmd ip qemu-system-x86_64 dnsmasq lighttpd lz4
	need_file "$TOP/boot/mkboot.sh" /usr/lib/PXELINUX/pxelinux.0 \
	    /usr/lib/syslinux/modules/bios/ldlinux.c32
	KERNEL=$(ls -1 /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)
	[ -n "$KERNEL" ] || skip "no node kernel in /boot (install linux-image-amd64)"
	KREL=${KERNEL#/boot/vmlinuz-}
}

# vcluster_up N: a virtual cluster of N nodes in this test's own state dir,
# torn down at exit; exports BPROC_MASTER.
vcluster_up() {
	local out log
	log=$(mktemp /tmp/bproc-up.XXXXXX)
	on_exit "\"$BIN/bpvcluster\" down"
	if ! out=$("$BIN/bpvcluster" up -n "$1" 2>"$log"); then
		sed 's/^/    /' "$log"
		rm -f "$log"
		die "bpvcluster up -n $1 failed"
	fi
	rm -f "$log"
	eval "$out"
	[ -n "${BPROC_MASTER:-}" ] || die "bpvcluster up printed no BPROC_MASTER"
}

# node_json N: node N's line of `bpstat --json` (one object per line).
node_json() {
	"$BIN/bpstat" --json 2>/dev/null | grep -E "^\{\"node\": $1,"
}
# node_state N: node N's state word, or nothing.
node_state() {
	node_json "$1" | sed -n 's/.*"state": "\([a-z]*\)".*/\1/p'
}
# json_field LINE KEY: a scalar field of one JSON object line.
json_field() {
	printf '%s\n' "$1" | sed -n "s/.*\"$2\": \"\{0,1\}\([^\",}]*\)\"\{0,1\}[,}].*/\1/p"
}
node_pid1() { cat "$BPVC_STATE/node$1.pid" 2>/dev/null; }
# node_root N: node N's root directory, seen from the front end.
node_root() { echo "/proc/$(node_pid1 "$1")/root"; }
# JOBS: background PIDs a test started (its own bpsh and the like);
# stop_jobs SIGKILLs and reaps them (a test registers it: on_exit stop_jobs)
JOBS=()
stop_jobs() {
	local p
	for p in ${JOBS[@]+"${JOBS[@]}"}; do kill -KILL "$p" 2>/dev/null; done
	for p in ${JOBS[@]+"${JOBS[@]}"}; do wait "$p" 2>/dev/null; done
	JOBS=()
}
# pub_blob BYTES: a world-readable folder PUB under /var/tmp (a path the
# nodes' root fs has too, removed at exit) holding F, BYTES of random
# data, mode 0644; WANT is its sha256sum line.
pub_blob() {
	PUB=$(mktemp -d "/var/tmp/${TNAME}pub.XXXXXX") || die "mktemp"
	on_exit "rm -rf '$PUB'"
	chmod 0755 "$PUB"
	F=$PUB/blob
	head -c "$1" /dev/urandom >"$F" || die "cannot write $F"
	chmod 0644 "$F"
	WANT=$(sha256sum <"$F")
}
# node_procs N: "PID:comm" of every process on node N but its PID 1.
node_procs() {
	local r p out=
	r=$(node_root "$1")
	for p in $(ls "$r/proc" 2>/dev/null | grep -E '^[0-9]+$'); do
		[ "$p" = 1 ] && continue
		out+=" $p:$(cat "$r/proc/$p/comm" 2>/dev/null)"
	done
	echo "${out# }"
}

# Show the end of a log when a check failed, to save a rerun.
show_log() {
	[ -f "$1" ] || return 0
	say "    --- last lines of $1 ---"
	tail -n "${2:-20}" "$1" | sed 's/^/    /'
}

# finish: the test's exit status from its checks.
finish() {
	if ((FAILS > 0)); then
		say "$TNAME: $FAILS of $CHECKS checks failed"
		exit 1
	fi
	((CHECKS > 0)) || die "no check ran"
	say "$TNAME: all $CHECKS checks passed"
	exit 0
}

# user_tools: set UBIN to a directory whose tools an unprivileged user can
# run.  A checkout under a private directory (mktemp -d is 0700) is not
# reachable by nobody, so the tools and the ghost are copied to a 0755
# directory then, and BPROC_GHOST points the library at the copy.
user_tools() {
	UBIN=$BIN
	if runuser -u nobody -- test -x "$BIN/bpstat" 2>/dev/null &&
	    runuser -u nobody -- test -x "$OUTDIR/libexec/bpghost" 2>/dev/null; then
		return 0
	fi
	UBIN=$(mktemp -d /tmp/bproc-ubin.XXXXXX)
	on_exit "rm -rf '$UBIN'"
	chmod 0755 "$UBIN"
	cp "$BIN"/* "$OUTDIR/libexec/bpghost" "$UBIN/"
	export BPROC_GHOST=$UBIN/bpghost
}

# Driving an interactive bash in a private tmux server, as a user at a
# terminal: the test sets TM (the tmux command with its own socket), PANE,
# SHPID (the pane's bash) and PROMPT_END (the end of its prompt, a regex).
pane() { "${TM[@]}" capture-pane -p -J -S -300 -t "$PANE" 2>/dev/null; }
keys() { "${TM[@]}" send-keys -t "$PANE" "$@"; }
# line TEXT: type a command line and Enter
line() { keys -l "$1"; keys Enter; }
MARK=0
# ask CMD: run CMD in the pane followed by a marker echo with its status;
# OUT is that status, or '(no answer)'.
ask() {
	MARK=$((MARK + 1))
	line "$1; echo m$MARK=\$?"
	if wait_for 'pane | grep -q "^m$MARK="' 15; then
		OUT=$(pane | sed -n "s/^m$MARK=//p" | tail -n1)
	else
		OUT='(no answer)'
	fi
}
show_pane() { pane | sed '/^$/d' | tail -n "${1:-12}" | sed 's/^/    | /'; }
# (the prompt may follow a "^C" on the same line when the job did not die
# of SIGINT itself: bash then prints no newline)
prompt_back() { pane | sed '/^$/d; s/ *$//' | tail -n1 | grep -q "${PROMPT_END}\$"; }
# pane_kill_jobs: after a failed check, SIGKILL what the pane's bash runs
# (bpsh, ghosts: our own processes) until its prompt is back.
pane_kill_jobs() {
	local kids i
	for i in 1 2 3 4 5; do
		# everything in the pane's session but bash (a loop may start more)
		kids=$(ps -o pid= -s "$SHPID" | tr -d ' ' | grep -vx "$SHPID")
		[ -n "$kids" ] && kill -KILL $kids 2>/dev/null
		wait_for prompt_back 1 && break
	done
}
