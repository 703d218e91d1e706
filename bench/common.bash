# Helpers the benchmarks share; source it from bench/*.sh (it is not one).

say() { printf '%s\n' "$*"; }
now_ns() { date +%s%N; }
# median of the numbers on stdin (the mean of the middle two for an even count)
median() { sort -n | awk '{a[NR]=$1} END {if (NR == 0) print 0; else if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
# time_ms COMMAND...: run it (output discarded), print its wall time in ms,
# or "fail" (and status 1) when it failed
time_ms() {
	local s e
	s=$(now_ns)
	"$@" >/dev/null 2>&1 || { echo fail; return 1; }
	e=$(now_ns)
	awk -v d=$((e - s)) 'BEGIN {printf "%.3f\n", d / 1e6}'
}
