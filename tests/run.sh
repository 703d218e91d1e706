#!/bin/bash
# The test runner: every C unit test (out/tests/test_*), the unit tests
# written as scripts (tests/unit/test_*.sh), the fuzz seed corpus through
# the replayer, then every integration test (tests/integration/t*.sh), in
# that order.
#
# Output is TAP (so `prove tests/run.sh` can drive it): the plan "1..N"
# first, each test's own output as "#" comment lines, then "ok N - name
# (T s)", "not ok N - name (T s)" or "ok N - name (T s) # SKIP reason", and
# a closing line "N passed, N failed, N skipped".
#
# Integration tests exit 0 (pass), 1 (fail) or 77 (skipped, with a
# "SKIP: reason" line); each runs under a timeout (BPROC_TEST_TIMEOUT
# seconds, default 300).  Arguments, if any, are patterns that select tests
# by name (e.g. tests/run.sh t20 nodeset).
#
# BPROC_OUT=out-san runs everything against the sanitizer build (make
# SANITIZE=1; ./build.sh sanitize), unit tests and replayers included.
#
# Exit status: 0 all ran tests passed; 1 a test failed or no test ran.
set -uo pipefail

cd "$(dirname "$(readlink -f "$0")")/.."
TIMEOUT=${BPROC_TEST_TIMEOUT:-300}
OUT=${BPROC_OUT:-out}
export BPROC_OUT=$OUT
n=0 passed=0 failed=0 skipped=0
counting=0
failures=()
filters=("$@")

selected() {
	local f
	((${#filters[@]} == 0)) && return 0
	for f in "${filters[@]}"; do
		[[ $1 == *"$f"* ]] && return 0
	done
	return 1
}

# run_test NAME COMMAND...: run one test, stream its output as comments.
run_test() {
	local name=$1 start end secs rc out reason
	shift
	selected "$name" || return 0
	n=$((n + 1))
	((counting)) && return 0
	out=$(mktemp)
	start=$(date +%s%N)
	"$@" < /dev/null 2>&1 | tee "$out" | sed -u 's/^/#   /'
	rc=${PIPESTATUS[0]}
	end=$(date +%s%N)
	secs=$(awk -v d=$((end - start)) 'BEGIN { printf "%.1f", d / 1e9 }')
	case $rc in
	0)
		passed=$((passed + 1))
		echo "ok $n - $name (${secs} s)"
		;;
	77)
		skipped=$((skipped + 1))
		reason=$(sed -n 's/^SKIP: *//p' "$out" | tail -1)
		echo "ok $n - $name (${secs} s) # SKIP ${reason:-skipped}"
		;;
	*)
		failed=$((failed + 1))
		failures+=("$name")
		case $rc in
		124 | 137) reason="timed out after ${TIMEOUT} s" ;;
		*) reason="exit status $rc" ;;
		esac
		echo "not ok $n - $name (${secs} s) # $reason"
		;;
	esac
	rm -f "$out"
}

all_tests() {
	# 1. C unit tests (cmocka): a non-zero exit is a failure.
	for t in "$OUT"/tests/test_*; do
		[ -f "$t" ] && [ -x "$t" ] || continue
		run_test "unit/$(basename "$t")" "$t"
	done

	# 1b. Unit tests written as scripts (golden files of the tools' output);
	#     same exit convention as the integration tests.
	for t in tests/unit/test_*.sh; do
		[ -f "$t" ] || continue
		run_test "unit/$(basename "$t" .sh)" timeout --kill-after=30 "$TIMEOUT" bash "$t"
	done

	# 2. Each fuzz target's corpus through its sanitizer-built replayer,
	#    which holds good-* and bad-* files to their verdicts.
	for t in frame mfile elf node ctl relay; do
		corpus=tests/fuzz/corpus-$t replay=$OUT/tests/fuzz_replay_$t
		if [ "$t" = frame ]; then
			corpus=tests/fuzz/corpus replay=$OUT/tests/fuzz_replay
		fi
		[ -d "$corpus" ] || continue
		if [ -x "$replay" ]; then
			run_test "fuzz/replay-$t" "$replay" "$corpus"
		elif selected "fuzz/replay-$t"; then
			n=$((n + 1))
			((counting)) && continue
			failed=$((failed + 1))
			failures+=("fuzz/replay-$t")
			echo "not ok $n - fuzz/replay-$t # $replay is not built (make testbins)"
		fi
	done

	# 3. Integration tests, one at a time (they share namespaces' names and
	#    the machine), each with a time limit; the runner's timeout signals the
	#    test's whole process group so the test's own cleanup trap runs.
	for t in tests/integration/t[0-9]*.sh; do
		[ -f "$t" ] || continue
		run_test "integration/$(basename "$t" .sh)" \
		    timeout --kill-after=30 "$TIMEOUT" bash "$t"
	done
}

# The plan first: count what would run, then run it.
counting=1
all_tests
counting=0
echo "1..$n"
n=0
echo "# bproc-ng tests, $(date '+%Y-%m-%d %H:%M:%S'), $(uname -r), uid $(id -u), $OUT"
all_tests

echo "#"
if ((failed > 0)); then
	echo "# failed: ${failures[*]}"
fi
if ((n == 0)); then
	echo "# no test ran (build first: ./build.sh)"
fi
echo "$passed passed, $failed failed, $skipped skipped"
((failed == 0 && n > 0))
