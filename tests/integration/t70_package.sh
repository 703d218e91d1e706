#!/bin/bash
# The package an admin installs: ./build.sh deb builds bproc, libbproc1
# and libbproc-dev with dpkg-buildpackage (lintian clean of errors); they
# are unpacked into a fresh root (dpkg -x), which holds nothing of the
# build tree.  Then, in a private mount namespace whose /usr is that root's
# /usr over this machine's (an overlay: the system as it would be with the
# packages installed, seen by this test alone), everything runs from the
# installed paths only: bproc-mkimage builds the node image and a boot
# tree, the installed bpvcluster starts the installed bpmaster (which says
# READY=1 to $NOTIFY_SOCKET) and virtual nodes, bpsh from /usr/bin runs
# commands through the installed ghost, a program built with pkg-config
# bproc runs against libbproc.so.1, the man pages pass mandoc -Tlint, the
# unit passes systemd-analyze verify, and the bash completion completes
# node sets.
. "$(dirname "$0")/lib.sh"

INSIDE=${T70_INSIDE:-}
ARCH=$(dpkg --print-architecture 2>/dev/null || echo amd64)

if [ -z "$INSIDE" ]; then
	need_root
	command -v dpkg-buildpackage >/dev/null ||
	    skip "needs dpkg-buildpackage (./build.sh deps installs dpkg-dev and debhelper)"
	need_cmd dh lintian lowdown mandoc systemd-analyze unshare ip cc pkg-config
	need_file /etc/bproc/cluster.key
	TMP=$(mktemp -d /tmp/bproc-t70.XXXXXX)
	chmod 0755 "$TMP"
	on_exit "rm -rf '$TMP'"
	# the inner part's cluster, should it be killed before its own cleanup
	on_exit "'$BIN/bpvcluster' down"

	say "# ./build.sh deb"
	start=$(now_ms)
	if "$TOP/build.sh" deb >"$TMP/deb.log" 2>&1; then
		pass "./build.sh deb: packages built, lintian found no errors ($(( ($(now_ms) - start) / 1000 )) s)"
	else
		show_log "$TMP/deb.log" 30
		die "./build.sh deb failed"
	fi
	sed -n '/^==> deb: lintian/,$p' "$TMP/deb.log" | grep -E '^[EW]: ' |
	    sed 's/^/    lintian: /'
	ROOT=$TMP/root
	for p in bproc libbproc1 libbproc-dev; do
		deb=$(ls "$TOP"/out/deb/${p}_*_"$ARCH".deb 2>/dev/null | tail -n1)
		[ -n "$deb" ] || die "no $p package in out/deb"
		dpkg -x "$deb" "$ROOT" || die "dpkg -x $deb"
	done
	pass "dpkg -x bproc, libbproc1, libbproc-dev into a fresh root"
	for f in usr/bin/bpsh usr/bin/bpstat usr/bin/bpctl usr/bin/bpcp \
	    usr/bin/bpvcluster usr/sbin/bpmaster usr/sbin/bpweb usr/sbin/bproc-mkimage \
	    usr/libexec/bproc/bpghost usr/libexec/bproc/bpvnode usr/libexec/bproc/nodeinit \
	    "usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/libbproc.so.1" \
	    usr/include/bproc.h usr/include/sys/bproc.h lib/systemd/system/bpmaster.service \
	    usr/share/man/man1/bpsh.1.gz usr/share/man/man8/bpmaster.8.gz \
	    usr/share/man/man3/libbproc.3.gz \
	    usr/share/bash-completion/completions/bpsh; do
		[ -e "$ROOT/$f" ] || fail "the packages lack /$f"
	done
	pass "binaries, library, header, unit, man pages and completion are in place"
	if leaks=$(grep -rl -- "$TOP" "$ROOT"); then
		fail "the build tree's path $TOP is in: $(echo $leaks)"
	else
		pass "nothing in the installed files names the build tree ($TOP)"
	fi
	bad=0
	for m in "$ROOT"/usr/share/man/man*/*.gz; do
		out=$(gzip -dc "$m" | mandoc -Tlint -Wwarning 2>&1) && continue
		bad=1
		say "    $(basename "$m"): $out"
	done
	check "mandoc -Tlint: no warnings in the $(ls "$ROOT"/usr/share/man/man*/*.gz | wc -l) man pages" test "$bad" = 0

	# As on a merged-/usr system (Debian 12), /lib is /usr/lib.
	mkdir -p "$ROOT/usr/lib/systemd/system"
	cp -a "$ROOT"/lib/systemd/system/. "$ROOT/usr/lib/systemd/system/"

	say "# in a mount namespace whose /usr has the packages installed"
	T70_INSIDE=1 T70_ROOT=$ROOT T70_TMP=$TMP T70_STATE=$BPVC_STATE \
	    T70_NETNS=$BPVC_NETNS unshare -m --propagation private \
	    bash "$0"
	rc=$?
	case $rc in
	0) pass "every check from the installed paths passed" ;;
	*) fail "checks from the installed paths failed (exit $rc)" ;;
	esac
	finish
fi

# ---- inside: a private mount namespace ----
ROOT=$T70_ROOT TMP=$T70_TMP
export BPVC_STATE=$T70_STATE BPVC_NETNS=$T70_NETNS
unset BPROC_GHOST BPROC_MASTER
mount -t overlay overlay -o "lowerdir=$ROOT/usr:/usr" /usr ||
    die "cannot mount the packages' /usr over /usr (overlay)"
hash -r
PATH=/usr/sbin:/usr/bin:/sbin:/bin
for c in bpsh bpstat bpctl bpcp bpvcluster bpmaster bproc-mkimage; do
	p=$(command -v "$c") || { fail "$c is not on PATH"; continue; }
	case $p in /usr/bin/* | /usr/sbin/*) ;; *) fail "$c is $p" ;; esac
done
pass "the tools are the installed ones: $(command -v bpsh), $(command -v bpmaster)"

if systemd-analyze verify /usr/lib/systemd/system/bpmaster.service >"$TMP/verify.log" 2>&1; then
	pass "systemd-analyze verify bpmaster.service"
else
	show_log "$TMP/verify.log"
	fail "systemd-analyze verify bpmaster.service"
fi

say "# bproc-mkimage"
IMG=$TMP/initramfs.cpio.gz
if bproc-mkimage -o "$IMG" >"$TMP/mkimage.log" 2>&1 && [ -s "$IMG" ]; then
	pass "bproc-mkimage: $(stat -c %s "$IMG") bytes, mode $(stat -c %a "$IMG")"
else
	show_log "$TMP/mkimage.log"
	die "bproc-mkimage failed"
fi
check "the image's /init is the installed nodeinit" \
    cmp -s <(gzip -dc "$IMG" | (cd "$TMP" && cpio -i --quiet --to-stdout init)) \
    /usr/libexec/bproc/nodeinit
if [ -r /usr/lib/PXELINUX/pxelinux.0 ] && id dnsmasq >/dev/null 2>&1 &&
    ls /boot/vmlinuz-* >/dev/null 2>&1; then
	if bproc-mkimage -o "$IMG" -d "$TMP/boot" -i eth1 -g 10.11.0.1 \
	    -n 255.255.0.0 -r 10.11.240.1,10.11.240.254 -M 10.11.0.1:2223 \
	    -z gzip >"$TMP/mkboot.log" 2>&1 &&
	    [ -s "$TMP/boot/tftp/initramfs.cpio.gz" ] &&
	    [ -s "$TMP/boot/tftp/bproc.ipxe" ] && [ -s "$TMP/boot/dnsmasq.conf" ]; then
		pass "bproc-mkimage -d: boot tree with dnsmasq.conf, vmlinuz, image, iPXE script, pxelinux.0"
	else
		show_log "$TMP/mkboot.log"
		fail "bproc-mkimage -d: no boot tree"
	fi
else
	say "  (no boot-tree check: pxelinux, the dnsmasq user or /boot/vmlinuz-* is missing)"
fi

say "# the installed bpvcluster, bpmaster and bpsh"
# A datagram socket standing in for systemd's: bpmaster's first message.
cat >"$TMP/notify_recv.c" <<'EOF'
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
int main(int argc, char **argv) {
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char buf[256];
	ssize_t n;
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	strncpy(sun.sun_path, argv[1], sizeof(sun.sun_path) - 1);
	if (argc != 2 || fd == -1 || bind(fd, (void *)&sun, sizeof(sun)) == -1)
		return 1;
	alarm(60);
	if ((n = recv(fd, buf, sizeof(buf) - 1, 0)) < 0)
		return 1;
	buf[n] = '\0';
	printf("%s\n", buf);
	return 0;
}
EOF
cc -o "$TMP/notify_recv" "$TMP/notify_recv.c" || die "cannot build the notify receiver"
"$TMP/notify_recv" "$TMP/notify.sock" >"$TMP/notify.out" &
recv_pid=$!
on_exit "kill $recv_pid"
wait_for "[ -S '$TMP/notify.sock' ]" 5 || die "the notify receiver did not bind"

on_exit "bpvcluster down"
if out=$(BPVC_IMAGE=$IMG NOTIFY_SOCKET=$TMP/notify.sock bpvcluster up -n 2 2>"$TMP/up.log"); then
	eval "$out"
	pass "bpvcluster up -n 2 (installed bpvcluster, image from bproc-mkimage)"
else
	show_log "$TMP/up.log"
	die "bpvcluster up -n 2 failed"
fi
mpid=$(cat "$BPVC_STATE/bpmaster.pid" 2>/dev/null)
check "bpmaster runs from /usr/sbin/bpmaster" \
    test "$(readlink "/proc/$mpid/exe" 2>/dev/null)" = /usr/sbin/bpmaster
wait_for "grep -q . '$TMP/notify.out'" 5
check "bpmaster said READY=1 to NOTIFY_SOCKET (got: $(cat "$TMP/notify.out"))" \
    grep -qx 'READY=1' "$TMP/notify.out"
check "bpstat: nodes 0-1 up" grep -Eq '^0-1 +up ' <<<"$(bpstat 2>&1)"
out=$(bpsh -p all hostname 2>&1 | sort)
check "bpsh -p all hostname: n0 and n1 ($(echo $out))" \
    test "$out" = "$(printf '  0: n0\n  1: n1')"
bpsh 1 sleep 3 &
gpid=$!
wait_for "[ \"\$(readlink /proc/$gpid/exe)\" = /usr/libexec/bproc/bpghost ]" 5
check "the ghost of bpsh 1 sleep is /usr/libexec/bproc/bpghost (compiled-in path)" \
    test "$(readlink "/proc/$gpid/exe" 2>/dev/null)" = /usr/libexec/bproc/bpghost
wait "$gpid"
check "bpsh 1 sleep 3 exits 0" test $? = 0

cat >"$TMP/nodes.c" <<'EOF'
#include <stdio.h>
#include <bproc.h>
int main(void) { printf("%d\n", bproc_numnodes()); return 0; }
EOF
if cc -o "$TMP/nodes" "$TMP/nodes.c" $(pkg-config --cflags --libs bproc) 2>"$TMP/cc.log"; then
	check "a program built with pkg-config bproc counts 2 nodes" test "$("$TMP/nodes")" = 2
	lib=$(ldd "$TMP/nodes" | grep -o 'libbproc.so.1 => [^ ]*')
	# /lib is /usr/lib: the loader may name either
	check "it runs with the installed libbproc.so.1 ($lib)" \
	    grep -Eq "^libbproc.so.1 => (/usr)?/lib/[^/]*/libbproc.so.1$" <<<"$lib"
else
	show_log "$TMP/cc.log"
	fail "cc \$(pkg-config --cflags --libs bproc) failed"
fi

# BProc 4's header, from the same package and library
cat >"$TMP/bproc4.c" <<'EOF'
#include <stdio.h>
#include <sys/bproc.h>
int main(void) {
	struct bproc_node_set_t all, up;
	if (bproc_nodelist(&all) < 0 || bproc_nodefilter(&up, &all, "allup") != 0)
		return 1;
	printf("%d %d\n", all.size, up.size);
	return 0;
}
EOF
if cc -o "$TMP/bproc4" "$TMP/bproc4.c" $(pkg-config --cflags --libs bproc) 2>"$TMP/cc4.log"; then
	check "a <sys/bproc.h> program built with pkg-config sees 2 nodes, 2 allup" \
	    test "$("$TMP/bproc4")" = "2 2"
else
	show_log "$TMP/cc4.log"
	fail "cc <sys/bproc.h> program \$(pkg-config --cflags --libs bproc) failed"
fi

if [ -r /usr/share/bash-completion/bash_completion ]; then
	comp=$(bash -c '. /usr/share/bash-completion/bash_completion
		COMP_WORDS=(bpsh "") COMP_CWORD=1 COMP_LINE="bpsh " COMP_POINT=5
		_completion_loader bpsh; _bpsh bpsh "" bpsh; echo "${COMPREPLY[*]}"' 2>/dev/null)
	check "bash completion: bpsh <TAB> offers nodes and sets ($comp)" \
	    grep -Eq '(^| )0( |$).*(^| )1( |$)|all' <<<"$comp"
	comp=$(bash -c '. /usr/share/bash-completion/bash_completion
		COMP_WORDS=(bpctl -S 0 -s u) COMP_CWORD=4 COMP_LINE="bpctl -S 0 -s u" COMP_POINT=15
		_completion_loader bpctl; _bpctl bpctl u -s; echo "${COMPREPLY[*]}"' 2>/dev/null)
	check "bash completion: bpctl -S 0 -s u<TAB> offers unavailable, up ($comp)" \
	    test "$comp" = "up unavailable"
fi

bpvcluster down >/dev/null 2>&1
check "bpvcluster down" test ! -e "$BPVC_STATE"
finish
