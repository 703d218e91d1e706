#!/bin/bash
# bench/mpi_bench.sh: how long an MPI launcher takes to start N ranks, one
# per node, through bpsh, against the same launcher over ssh on the peer
# harness's sshd nodes (../shared/peers, vnodes.sh), in the same run.
#
#   floor   mpiexec.hydra -launcher fork -n N /bin/true: N ranks on the
#           front end itself, no remote shell at all
#   bpsh    mpiexec.hydra -launcher ssh -launcher-exec bpssh -hosts n0,..
#           -n N /bin/true from the front end's shell, on a virtual cluster
#           with a front-end leg (docs/mpi.md)
#   ssh     the same mpiexec with `ssh -F <harness config>` as its ssh, run
#           in the harness's front-end namespace, on its bpp-n0.. nodes
#           (a new ssh connection per node, as mpiexec does by default)
#
# The rank is /bin/true: what is timed is the launch (proxies started on
# every node, connected back, the ranks run and reported), not an MPI
# program's own start or its finalize (mpich 4.0's finalize hang, docs/
# mpi.md, would stall a real one).  The three are interleaved, the order
# rotating each round, BENCH_REPS rounds (default 5) after a warm-up of
# each; the medians are printed with the ratios bpsh/ssh and bpsh/floor.
# No pass/fail: the numbers are for the reader.
#
# Needs root, mpich (mpiexec.hydra) and the peer harness (BPP_DIR, default
# ../shared/peers next to the checkout, else /work/shared/peers); without
# the harness, or when its nodes are in use (bpp-net exists), the ssh
# column is left out and says why.  BENCH_SIZES="4 16 64" overrides.
set -uo pipefail

cd "$(dirname "$(readlink -f "$0")")/.."
TOP=$PWD
BIN=$TOP/out/bin
SIZES=${BENCH_SIZES:-4 16 64}
REPS=${BENCH_REPS:-5}
RUN_TIMEOUT=120				# seconds one launch may take

say() { printf '%s\n' "$*"; }
[ "$(id -u)" = 0 ] || { say "mpi bench: skipped (needs root for virtual clusters)"; exit 0; }
command -v mpiexec.hydra >/dev/null || { say "mpi bench: skipped (no mpiexec.hydra: apt-get install mpich)"; exit 0; }
for f in "$BIN/bpssh" "$BIN/bpvcluster" "$TOP/out/boot/initramfs.cpio.gz"; do
	[ -e "$f" ] || { say "mpi bench: $f is missing (./build.sh)"; exit 1; }
done

MAXN=0
for n in $SIZES; do ((n > MAXN)) && MAXN=$n; done

tmp=$(mktemp -d /tmp/mpi-bench.XXXXXX)
chmod 755 "$tmp"
export BPVC_STATE=/run/bproc/mpibench-$$ BPVC_NETNS=bpmb$$ BPVC_NET=auto
PEERS_UP=0
cleanup() {
	"$BIN/bpvcluster" down >/dev/null 2>&1
	if ((PEERS_UP)); then
		(cd "$tmp/peers" && ./vnodes.sh down >/dev/null 2>&1)
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# The harness: a private copy, so its state file is ours, not shared/'s.
PEER_WHY=
for d in "${BPP_DIR:-}" "$TOP/../shared/peers" /work/shared/peers; do
	[ -n "$d" ] && [ -x "$d/vnodes.sh" ] && { PEER_SRC=$d; break; }
done
if [ -z "${PEER_SRC:-}" ]; then
	PEER_WHY="no peer harness (BPP_DIR)"
elif ip netns list | grep -q '^bpp-net\b'; then
	PEER_WHY="the peer harness's nodes are in use (bpp-net exists)"
else
	mkdir "$tmp/peers" && cp "$PEER_SRC/vnodes.sh" "$tmp/peers/"
	say "# peers: vnodes.sh up $MAXN (sshd nodes)"
	if (cd "$tmp/peers" && ./vnodes.sh up "$MAXN" >"$tmp/peers.log" 2>&1); then
		PEERS_UP=1
		# shellcheck disable=SC1091
		SCR=$(. "$tmp/peers/.vnodes.state" && echo "$BPP_SCRATCH")
		printf '#!/bin/sh\nexec ssh -F %s/ssh_config "$@"\n' "$SCR" >"$tmp/peer-ssh"
		chmod 755 "$tmp/peer-ssh"
	else
		PEER_WHY="vnodes.sh up failed: $(tail -n 1 "$tmp/peers.log")"
	fi
fi

say "# bpsh: bpvcluster up -n $MAXN"
out=$("$BIN/bpvcluster" up -n "$MAXN" 2>"$tmp/up.log") ||
    { sed 's/^/    /' "$tmp/up.log"; say "mpi bench: bpvcluster up failed"; exit 1; }
eval "$out"
export PATH=$BIN:$PATH

hosts() {
	local pfx=$1 n=$2 i s=
	for ((i = 0; i < n; i++)); do s+="${s:+,}$pfx$i"; done
	echo "$s"
}

# one timed launch: prints milliseconds, or "fail"
launch() {
	local what=$1 n=$2 start rc
	start=$(date +%s%N)
	case $what in
	floor)
		timeout "$RUN_TIMEOUT" mpiexec.hydra -launcher fork -wdir / \
		    -n "$n" /bin/true </dev/null >"$tmp/out" 2>&1 ;;
	bpsh)
		timeout "$RUN_TIMEOUT" mpiexec.hydra -launcher ssh \
		    -launcher-exec "$BIN/bpssh" -wdir / -hosts "$(hosts n "$n")" \
		    -n "$n" /bin/true </dev/null >"$tmp/out" 2>&1 ;;
	ssh)
		timeout "$RUN_TIMEOUT" ip netns exec bpp-net mpiexec.hydra \
		    -launcher ssh -launcher-exec "$tmp/peer-ssh" -iface br0 \
		    -wdir / -hosts "$(hosts bpp-n "$n")" -n "$n" /bin/true \
		    </dev/null >"$tmp/out" 2>&1 ;;
	esac
	rc=$?
	if [ "$rc" -ne 0 ] || [ -s "$tmp/out" ]; then
		echo fail
		sed 's/^/      /' "$tmp/out" | head -n 5 >&2
		return
	fi
	echo $((($(date +%s%N) - start) / 1000000))
}

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "-" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9]+$/ && b ~ /^[0-9]+$/ && b > 0) printf "%.2fx", a / b; else print "-" }'; }

TOOLS=(floor bpsh)
((PEERS_UP)) && TOOLS+=(ssh)
[ -n "$PEER_WHY" ] && say "# ssh column left out: $PEER_WHY"

say ""
say "MPI launch, N ranks one per node, /bin/true as the rank; median of $REPS (ms)"
printf '%5s %10s %10s %10s %10s %12s  %s\n' N floor bpsh ssh bpsh/ssh bpsh/floor failures
for n in $SIZES; do
	declare -A T=()
	fails=
	for t in "${TOOLS[@]}"; do launch "$t" "$n" >/dev/null; done	# warm-up
	for ((r = 0; r < REPS; r++)); do
		for ((k = 0; k < ${#TOOLS[@]}; k++)); do
			t=${TOOLS[$(((k + r) % ${#TOOLS[@]}))]}
			ms=$(launch "$t" "$n")
			if [ "$ms" = fail ]; then fails+="$t "; else T[$t]+=" $ms"; fi
		done
	done
	f=$(median <<<"${T[floor]:-}")
	b=$(median <<<"${T[bpsh]:-}")
	s=$(median <<<"${T[ssh]:-}")
	printf '%5s %10s %10s %10s %10s %12s  %s\n' "$n" "$f" "$b" "$s" \
	    "$(ratio "$b" "$s")" "$(ratio "$b" "$f")" "${fails:-none}"
	unset T
done
