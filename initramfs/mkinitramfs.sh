#!/bin/bash
# Build the node image: busybox (static), nodeinit as /init, a skeleton
# and the cluster key, as a gzip'd newc cpio that a kernel unpacks as its
# root and bpvnode unpacks into a virtual node's tmpfs.
#
# usage: mkinitramfs.sh NODEINIT KEYFILE OUTPUT
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

tmp="$out.tmp.$$"
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
	cpio -o -H newc --owner 0:0 --quiet) | gzip -9n > "$tmp"
chmod 0600 "$tmp"
mv -f "$tmp" "$out"
echo "initramfs: $out $(stat -c %s "$out") bytes compressed" \
	"(nodeinit $(stat -c %s "$nodeinit") bytes)"
