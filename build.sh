#!/bin/bash
# bproc-ng: the one entry point.  Run ./build.sh help for the commands.
#
# Exit status: 0 success; 1 a step failed (or, for test, a test failed or
# none ran); 2 usage.
set -euo pipefail

cd "$(dirname "$(readlink -f "$0")")"

KEY=/etc/bproc/cluster.key
SAN_OUT=out-san		# make SANITIZE=1 builds here (Makefile)
# what the sanitize pass runs (tests/run.sh patterns): every unit test and
# corpus, and the integration tests that drive the daemons' handlers (bpsh,
# job control, failures, users, the process tree, kills from a node,
# migration and rfork from a node, BProc 4, pushes, forged clients).  The
# tty, bpcp, cache, many-file push and relay tests and the scale tests
# (t66's 128, t67's 256 nodes: timing and memory, which ASan changes)
# run in the plain pass only, to keep `build.sh test` within its time
# (docs/testing.md); the fuzz replays cover the relay and push decoders.
SAN_TESTS=(unit/ fuzz/ integration/t40 integration/t41 integration/t42
	integration/t44 integration/t45 integration/t46 integration/t47
	integration/t48 integration/t49 integration/t60 integration/t64)
NODEINIT=out/boot/nodeinit
IMAGE=out/boot/initramfs.cpio.gz
NODEINIT_GOAL=$((224 * 1024))	# bytes: the size goal (200 KiB until the relay links; docs/design-notes.md)
IMAGE_GOAL=$((1536 * 1024))	# bytes

# Everything needed to build, test, run and demo, from Debian 12.
# libclang-rt-14-dev holds clang's libFuzzer runtime (-fsanitize=fuzzer);
# clang only recommends it.  libmicrohttpd-dev is bpweb's HTTP server;
# prometheus (the server and promtool), chromium, nodejs (the DevTools
# driver of t80) and curl are t80's, which scrapes and views bpweb.
# Both MPI stacks (mpich, Open MPI, with their mpicc) are t90's and
# bench/mpi_bench.sh's (docs/mpi.md).
DEPS=(
	build-essential gcc make pkg-config
	musl-tools musl-dev
	libsodium-dev libelf-dev libcmocka-dev libmnl-dev
	clang libclang-rt-14-dev
	busybox-static cpio gzip lz4 file
	iproute2 procps util-linux tmux
	dnsmasq lighttpd ipxe ipxe-qemu pxelinux syslinux-common
	qemu-system-x86 linux-image-amd64
	libmicrohttpd-dev
	prometheus chromium nodejs curl fonts-dejavu-core
	ovmf openipmi ipmitool
	mpich libmpich-dev openmpi-bin libopenmpi-dev
)
# For ./build.sh deb and the package test (t70_package.sh); deps installs
# them too: Debian's packaging tools, the man pages' Markdown converter,
# and the checkers of the pages, the unit and the completion.
DEB_DEPS=(debhelper dpkg-dev lintian lowdown mandoc bash-completion systemd)
DEB_OUT=out/deb				# the .deb files, and the build's copy of the tree
# Only for ./build.sh kernel (a node kernel with its drivers built in):
# the kernel source and what its build needs.
KERNEL_DEPS=(linux-source-6.1 flex bison bc libelf-dev libssl-dev xz-utils)
KERNEL_SRC=/usr/src/linux-source-6.1.tar.xz
KERNEL_OUT=out/kernel			# source tree and build dir
KERNEL_IMAGE=out/boot/vmlinuz-bproc	# what bpvcluster BPVC_KERNEL= takes

usage() {
	cat <<EOF
usage: ./build.sh [COMMAND]

  build    (default) compile everything into out/ and, as root, make the
           cluster key ($KEY) and the node image ($IMAGE)
  deps     install the Debian packages needed to build, test and run
           (apt-get; only when something is missing)
  test     deps + build + every test (tests/run.sh), then the sanitize
           pass below; names after it pick tests (and skip the
           sanitize pass): ./build.sh test t20 nodeset
  sanitize the sanitizer build (make SANITIZE=1: ASan + UBSan, into
           $SAN_OUT/) and, against it, the unit tests, the fuzz corpus
           replays and the bpsh/push integration tests (t4*, t6*); fails
           on any sanitizer report (they are kept in $SAN_OUT/san-logs)
  demo     deps + build + a 4-node virtual cluster left running
  bench    build + the benchmarks in bench/
  kernel   a node kernel with its drivers built in, from Debian's
           linux-source-6.1 and kernel-config/bproc-node.config, into
           $KERNEL_IMAGE (installs its packages; takes long)
  deb      Debian packages (bproc, libbproc1, libbproc-dev) built with
           dpkg-buildpackage from a copy of the tree, into $DEB_OUT/,
           then lintian (installs its packages)
  clean    remove out/
  help     this text

Typical use:  sudo ./build.sh demo    sudo ./build.sh test
EOF
}

step() { printf '\n==> %s\n' "$*"; }
is_root() { [ "$(id -u)" = 0 ]; }

# install_pkgs PKG...: apt-get those not installed yet (root only).
install_pkgs() {
	local missing=() p
	if ! command -v dpkg-query >/dev/null 2>&1; then
		echo "deps: no dpkg-query: install by hand the Debian 12 packages: $*" >&2
		return 1
	fi
	for p in "$@"; do
		[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] ||
		    missing+=("$p")
	done
	if ((${#missing[@]} == 0)); then
		step "deps: all $# packages are installed"
		return 0
	fi
	if ! is_root; then
		echo "deps: missing ${missing[*]}; installing them needs root: sudo ./build.sh deps" >&2
		return 1
	fi
	step "deps: apt-get update"
	apt-get update
	step "deps: installing ${#missing[@]} packages: ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
	    "${missing[@]}"
	quiet_services "${missing[@]}"
	step "deps: done"
}

# dnsmasq, lighttpd and prometheus are programs bproc runs itself, in
# namespaces it made (bpvcluster --qemu), from its own config
# (docs/netboot.md) or a test's (t80); the system services their packages
# start when installed (DNS on port 53, HTTP on port 80, Prometheus on
# 9090) are not ours to leave running: stop and disable those we just
# installed.
quiet_services() {
	local p
	for p in "$@"; do
		case $p in
		dnsmasq | lighttpd | prometheus) ;;
		*) continue ;;
		esac
		step "deps: stopping and disabling the $p system service (bproc starts its own $p)"
		if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
			systemctl disable --now "$p" >/dev/null 2>&1 || true
		else
			invoke-rc.d "$p" stop >/dev/null 2>&1 || true
			update-rc.d "$p" disable >/dev/null 2>&1 || true
		fi
	done
}

cmd_deps() { install_pkgs "${DEPS[@]}" "${DEB_DEPS[@]}"; }

# The node kernel: tinyconfig plus kernel-config/bproc-node.config, so
# that what the fragment asks for and nothing else is built in.
cmd_kernel() {
	local src build jobs
	install_pkgs "${KERNEL_DEPS[@]}"
	[ -r "$KERNEL_SRC" ] || { echo "kernel: $KERNEL_SRC is missing (linux-source-6.1)" >&2; return 1; }
	mkdir -p "$KERNEL_OUT" out/boot
	src=$PWD/$KERNEL_OUT/$(basename "$KERNEL_SRC" .tar.xz)
	build=$PWD/$KERNEL_OUT/build
	if [ ! -f "$src/Makefile" ] || [ "$KERNEL_SRC" -nt "$src/Makefile" ]; then
		step "kernel: unpacking $KERNEL_SRC"
		rm -rf "$src"
		tar -C "$KERNEL_OUT" -xJf "$KERNEL_SRC"
		touch "$src/Makefile"
	fi
	jobs=${KERNEL_JOBS:-$(nproc)}
	step "kernel: tinyconfig + kernel-config/bproc-node.config"
	make -s -C "$src" O="$build" tinyconfig
	# -m: merge only; olddefconfig then resolves the dependencies
	(cd "$build" && "$src/scripts/kconfig/merge_config.sh" -m -O . .config \
	    "$OLDPWD/kernel-config/bproc-node.config")
	make -s -C "$src" O="$build" olddefconfig
	step "kernel: make -j$jobs bzImage (KERNEL_JOBS; this takes a while)"
	make -s -C "$src" O="$build" -j"$jobs" bzImage
	install -m 0644 "$build/arch/x86/boot/bzImage" "$KERNEL_IMAGE"
	printf 'kernel: %s, %d bytes, release %s\n' "$KERNEL_IMAGE" \
	    "$(stat -c %s "$KERNEL_IMAGE")" \
	    "$(cat "$build/include/config/kernel.release")"
	echo "Boot nodes with it: BPVC_KERNEL=$KERNEL_IMAGE out/bin/bpvcluster up --qemu"
}

# The image embeds the cluster key, so it is rebuilt whenever the key,
# nodeinit, busybox or the script is newer than it.
image_stale() {
	local f
	[ -f "$IMAGE" ] || return 0
	for f in "$NODEINIT" "$KEY" /bin/busybox initramfs/mkinitramfs.sh out/libexec/bprestore; do
		[ "$f" -nt "$IMAGE" ] && return 0
	done
	return 1
}

cmd_build() {
	local size
	step "build: make -j2"
	make -j2
	if is_root; then
		if [ ! -f "$KEY" ]; then
			step "build: creating the cluster key $KEY"
		fi
		out/bin/bpmaster -K "$KEY"
		if image_stale; then
			step "build: node image $IMAGE"
			initramfs/mkinitramfs.sh "$NODEINIT" "$KEY" "$IMAGE"
		else
			step "build: node image $IMAGE is up to date"
		fi
	else
		step "build: skipping the node image"
		echo "The node image embeds the cluster key $KEY, which is root-only:"
		echo "run sudo ./build.sh to make the key and $IMAGE."
	fi
	size=$(stat -c %s "$NODEINIT")
	printf 'nodeinit:  %d bytes (goal %d: %s)\n' "$size" "$NODEINIT_GOAL" \
	    "$( ((size <= NODEINIT_GOAL)) && echo within || echo OVER)"
	if [ -f "$IMAGE" ]; then
		size=$(stat -c %s "$IMAGE")
		printf 'initramfs: %d bytes compressed (goal %d: %s)\n' "$size" \
		    "$IMAGE_GOAL" \
		    "$( ((size <= IMAGE_GOAL)) && echo within || echo OVER)"
		# the boot tree's copy (boot/mkboot.sh -z lz4, the default)
		if command -v lz4 >/dev/null && [ -r "$IMAGE" ]; then
			size=$(gzip -dc "$IMAGE" | lz4 -l -9 -q - - | wc -c)
			printf 'initramfs: %d bytes as the boot tree'"'"'s lz4 copy (goal %d: %s)\n' \
			    "$size" "$IMAGE_GOAL" \
			    "$( ((size <= IMAGE_GOAL)) && echo within || echo OVER)"
		fi
	fi
}

cmd_test() {
	local rc=0

	cmd_deps
	cmd_build
	step "test: building the fuzz targets (clang, libFuzzer)"
	make -j2 testbins fuzz
	if ! is_root; then
		echo "Not root: the integration tests will be skipped (sudo ./build.sh test runs them)."
	fi
	step "test: tests/run.sh $*"
	tests/run.sh "$@" || rc=1
	if (($# == 0)); then
		cmd_sanitize || rc=1
	fi
	return $rc
}

# The sanitizer pass.  Every sanitized program (daemons too, whose stderr
# nobody reads) writes its report to $SAN_OUT/san-logs/<kind>.<pid>, so a
# report fails the pass even where the test it happened in did not notice.
# Leak checking is off: the tools and daemons exit without freeing.  The
# link-order check is off because the golden test LD_PRELOADs a shim of
# its own into bpstat.
# ASan's quarantine is 32 MB, not 256: a freed buffer stays resident
# there, and t40's bound on bpmaster's growth under flow control (64 MB)
# would measure the quarantine of the 3 MiB frame buffers links free.
cmd_sanitize() {
	local logs=$PWD/$SAN_OUT/san-logs rc=0 f

	step "sanitize: make SANITIZE=1 -j2 (ASan + UBSan, into $SAN_OUT/)"
	make SANITIZE=1 -j2 all testbins
	if is_root; then
		if [ ! -f "$SAN_OUT/boot/initramfs.cpio.gz" ] ||
		    [ "$SAN_OUT/boot/nodeinit" -nt "$SAN_OUT/boot/initramfs.cpio.gz" ] ||
		    [ "$KEY" -nt "$SAN_OUT/boot/initramfs.cpio.gz" ]; then
			step "sanitize: node image $SAN_OUT/boot/initramfs.cpio.gz"
			initramfs/mkinitramfs.sh "$SAN_OUT/boot/nodeinit" "$KEY" \
			    "$SAN_OUT/boot/initramfs.cpio.gz"
		fi
	fi
	rm -rf "$logs"
	mkdir -p "$logs"
	chmod 1777 "$logs"	# tools run as nobody in some tests
	step "sanitize: BPROC_OUT=$SAN_OUT tests/run.sh ${SAN_TESTS[*]}"
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:verify_asan_link_order=0:quarantine_size_mb=32:log_path=$logs/asan \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$logs/ubsan \
	BPROC_OUT=$SAN_OUT tests/run.sh "${SAN_TESTS[@]}" || rc=1
	for f in "$logs"/*; do
		[ -f "$f" ] || continue
		echo "sanitize: report in $f:"
		sed 's/^/    /' "$f"
		rc=1
	done
	if ((rc == 0)); then
		step "sanitize: clean (no sanitizer report, every test passed)"
	else
		step "sanitize: FAILED (see above)"
	fi
	return $rc
}

cmd_demo() {
	local env=
	# a cluster in another state dir (BPVC_STATE) is stopped the same way
	[ -n "${BPVC_STATE:-}" ] && env="BPVC_STATE=$BPVC_STATE "
	if ! is_root; then
		echo "demo: the virtual cluster needs root: sudo ./build.sh demo" >&2
		return 1
	fi
	cmd_deps
	cmd_build
	step "demo: stopping any virtual cluster left from before"
	out/bin/bpvcluster down >/dev/null 2>&1 || true
	step "demo: starting bpmaster and 4 virtual nodes (bpvcluster up -n 4)"
	eval "$(out/bin/bpvcluster up -n 4)"
	step "demo: out/bin/bpstat"
	out/bin/bpstat
	step "demo: out/bin/bpstat -l"
	out/bin/bpstat -l
	if [ -x out/bin/bpsh ]; then
		step "demo: out/bin/bpsh -p all hostname"
		out/bin/bpsh -p all hostname || echo "(bpsh exited with status $?)"
	else
		step "demo: out/bin/bpsh is not built yet; skipping the bpsh run"
	fi
	cat <<EOF

==> The virtual cluster is up and stays up.  Try it:

    export BPROC_MASTER=$BPROC_MASTER
    out/bin/bpstat                          # nodes and their states
    out/bin/bpstat -l                       # long view; -U for a live view
    out/bin/bpsh 0 uname -a                 # run a command on node 0
    out/bin/bpctl -S 1 -s unavailable       # take node 1 out of service
    sudo ${env}out/bin/bpvcluster kill 2          # cut node 2's power
    sudo ${env}out/bin/bpvcluster start 2         # and power it on again

Stop it with:

    sudo ${env}out/bin/bpvcluster down
EOF
}

cmd_bench() {
	local b
	cmd_build
	for b in bench/*.sh; do
		[ -f "$b" ] || continue
		step "bench: $b"
		bash "$b"
	done
}

# The packages are built in a copy of the tree (what git tracks, or all
# but out/), so debian/rules' clean cannot touch this tree's out/.
cmd_deb() {
	local ver src
	install_pkgs "${DEB_DEPS[@]}"
	ver=$(dpkg-parsechangelog -S Version)
	src=$DEB_OUT/bproc-ng-$ver
	step "deb: copying the tree to $src"
	rm -rf "$DEB_OUT"
	mkdir -p "$src"
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		git ls-files -z -c -o --exclude-standard |
		    grep -zv '^out/' | xargs -0 cp --parents -t "$src" 2>/dev/null ||
		    { git ls-files -z -c -o --exclude-standard | grep -zv '^out/' |
		    while IFS= read -r -d '' f; do [ -e "$f" ] && cp --parents -a "$f" "$src"; done; }
	else
		tar --exclude=./out -cf - . | tar -C "$src" -xf -
	fi
	step "deb: dpkg-buildpackage -b -us -uc (in $src)"
	(cd "$src" && dpkg-buildpackage -b -us -uc -j"${DEB_JOBS:-2}")
	step "deb: lintian"
	lintian --fail-on error "$DEB_OUT"/*.changes
	ls -l "$DEB_OUT"/*.deb
}

cmd_clean() {
	step "clean: make clean"
	make clean
}

case ${1:-build} in
build) cmd_build ;;
deps) cmd_deps ;;
test) shift; cmd_test "$@" ;;
sanitize) cmd_sanitize ;;
demo) cmd_demo ;;
bench) cmd_bench ;;
kernel) cmd_kernel ;;
deb) cmd_deb ;;
clean) cmd_clean ;;
-h | --help | help) usage ;;
*)
	echo "build.sh: unknown command '$1'" >&2
	usage >&2
	exit 2
	;;
esac
