#!/bin/bash
# Build the node image: busybox (static), nodeinit as /init, a skeleton
# and the cluster key, as a gzip'd newc cpio that a kernel unpacks as its
# root and bpvnode unpacks into a virtual node's tmpfs.
#
# usage: mkinitramfs.sh NODEINIT KEYFILE OUTPUT
#
# NIC modules: $NODE_MODULES (default below) of kernel $KVER (default: the
# newest /boot/vmlinuz-* with a /lib/modules tree), with their dependencies
# from that kernel's modules.dep.  NODE_MODULES= (empty) adds none.
set -euo pipefail

nodeinit=$1 key=$2 out=$3
busybox=${BUSYBOX:-/bin/busybox}

[ -x "$nodeinit" ] || { echo "mkinitramfs: $nodeinit missing" >&2; exit 1; }
[ -r "$key" ] || { echo "mkinitramfs: cannot read cluster key $key" >&2; exit 1; }
file -L "$busybox" 2>/dev/null | grep -q 'statically linked' ||
	{ echo "mkinitramfs: $busybox is not a static busybox (install busybox-static)" >&2; exit 1; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
umask 022
mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,etc/bproc,proc,sys,dev,tmp,run,root,home,var/tmp,lib,lib64,usr/lib}
chmod 1777 "$stage/tmp" "$stage/var/tmp"
chmod 0700 "$stage/root" "$stage/etc/bproc"
install -m 0755 "$nodeinit" "$stage/init"
install -m 0755 "$busybox" "$stage/bin/busybox"
# the process restorer for migration (nodeinit/restore/), from the same
# build as nodeinit unless $BPRESTORE names another
restore=${BPRESTORE:-$(dirname "$nodeinit")/../libexec/bprestore}
if [ -x "$restore" ]; then
	install -m 0755 "$restore" "$stage/sbin/bprestore"
else
	echo "mkinitramfs: no $restore: the image cannot take migrating processes" >&2
fi
# one symlink per applet, where busybox itself says each belongs
"$busybox" --list-full | while read -r path; do
	[ -e "$stage/$path" ] || ln -s /bin/busybox "$stage/$path"
done
install -m 0400 "$key" "$stage/etc/bproc/cluster.key"
# accounts come from the master when the node comes up; this is the floor
cat > "$stage/etc/passwd" <<PW
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PW
cat > "$stage/etc/group" <<GR
root:x:0:
nogroup:x:65534:
GR
echo "n?" > "$stage/etc/hostname"

# The modules, and bproc.load listing them dependencies first (nodeinit
# loads them in that order with finit_module(2); see nodeinit/modules.c).
modules=${NODE_MODULES-virtio_pci virtio_net e1000}
if [ -z "${KVER:-}" ]; then
	for k in $(ls -1 /boot/vmlinuz-* 2>/dev/null | sort -V -r); do
		k=${k#/boot/vmlinuz-}
		[ -f "/lib/modules/$k/modules.dep" ] && { KVER=$k; break; }
	done
fi
if [ -n "$modules" ] && [ -n "${KVER:-}" ]; then
	mdir=/lib/modules/$KVER
	mkdir -p "$stage/lib/modules"
	: > "$stage/lib/modules/bproc.load"
	for m in $modules; do
		# modules.dep names files with - or _ alike; the deps after the
		# colon are listed so that the last one loads first
		line=$(grep -E "/${m//[-_]/[-_]}\.ko(\.[gx]z|\.zst)?:" "$mdir/modules.dep" || true)
		if [ -z "$line" ]; then
			grep -qE "/${m//[-_]/[-_]}\.ko" "$mdir/modules.builtin" 2>/dev/null ||
			    echo "mkinitramfs: no module $m in $mdir" >&2
			continue
		fi
		read -r -a deps <<<"${line#*:}"
		for ((i = ${#deps[@]} - 1; i >= 0; i--)); do
			echo "${deps[i]}"
		done
		echo "${line%%:*}"
	done | awk '!seen[$0]++' | while read -r ko; do
		case $ko in *.ko) ;; *) echo "mkinitramfs: $ko: compressed modules are not supported" >&2; exit 1 ;; esac
		install -D -m 0644 "$mdir/$ko" "$stage/lib/modules/$ko"
		echo "$ko" >> "$stage/lib/modules/bproc.load"
	done
	echo "initramfs: kernel $KVER modules: $(sed 's|.*/||; s|\.ko$||' \
	    "$stage/lib/modules/bproc.load" | tr '\n' ' ')"
fi

tmp="$out.tmp.$$"
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
	cpio -o -H newc --owner 0:0 --quiet) | gzip -9n > "$tmp"
chmod 0600 "$tmp"
mv -f "$tmp" "$out"
echo "initramfs: $out $(stat -c %s "$out") bytes compressed" \
	"(nodeinit $(stat -c %s "$nodeinit") bytes)"
