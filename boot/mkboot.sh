#!/bin/bash
# Make a network-boot tree for dnsmasq: its configuration and a TFTP root
# with the node kernel, the node image, the iPXE script, pxelinux.0 with
# its pxelinux.cfg, and iPXE's EFI binaries for UEFI firmware.  bpvcluster --qemu runs it; on a real front end run it
# once (see docs/netboot.md) and start dnsmasq with the conf it writes.
#
# usage: mkboot.sh -d DIR -i IFACE -g ROUTER -n NETMASK -r FIRST,LAST
#                  -M MASTER:PORT [-k KERNEL] [-I INITRD] [-c CMDLINE]
#                  [-H ADDR:PORT] [-z lz4|gzip] [-e snponly.efi|ipxe.efi]
#
#   DIR      where dnsmasq.conf, dnsmasq.hosts (made empty if missing; bpmaster
#            writes it) and tftp/ go
#   KERNEL   default: the newest /boot/vmlinuz-*
#   INITRD   default: out/boot/initramfs.cpio.gz next to this script
#   CMDLINE  kernel arguments before ip= and bproc.master= (default
#            "console=ttyS0 quiet")
#   -H       iPXE loads its script, the kernel and the image over HTTP from
#            ADDR:PORT: also writes DIR/lighttpd.conf serving the boot tree
#            (start it with lighttpd -f DIR/lighttpd.conf)
#   -z       how the tree's copy of the image is compressed: lz4 (default;
#            tftp/initramfs.cpio.lz4, which a kernel unpacks in half the
#            time of gzip under emulation) or gzip (tftp/initramfs.cpio.gz,
#            the image as built)
#   -e       the iPXE EFI binary UEFI firmware gets (Debian's ipxe package):
#            snponly.efi (default; drives the NIC through the firmware's own
#            UEFI driver, so any NIC the firmware can PXE-boot from works) or
#            ipxe.efi (iPXE's own NIC drivers)
#
# The image holds the cluster key, so its copy in the TFTP root is readable
# by dnsmasq's user only (dnsmasq and lighttpd drop root for it before
# serving files).
# Exit status: 0 done, 1 failure, 2 usage.
set -euo pipefail

here=$(dirname "$(readlink -f "$0")")
dir='' iface='' router='' netmask='' range='' master='' kernel='' initrd=''
cmdline="console=ttyS0 quiet" http='' zip=lz4 efi=snponly.efi
DNSMASQ_USER=${DNSMASQ_USER:-dnsmasq}
PXELINUX=${PXELINUX:-/usr/lib/PXELINUX/pxelinux.0}
LDLINUX=${LDLINUX:-/usr/lib/syslinux/modules/bios/ldlinux.c32}
IPXE_EFI_DIR=${IPXE_EFI_DIR:-/usr/lib/ipxe}	# snponly.efi, ipxe.efi

usage() { sed -n '7,28p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while getopts d:i:g:n:r:M:k:I:c:H:z:e: o; do
	case $o in
	d) dir=$OPTARG ;; i) iface=$OPTARG ;; g) router=$OPTARG ;;
	n) netmask=$OPTARG ;; r) range=$OPTARG ;; M) master=$OPTARG ;;
	k) kernel=$OPTARG ;; I) initrd=$OPTARG ;; c) cmdline=$OPTARG ;;
	H) http=$OPTARG ;; z) zip=$OPTARG ;; e) efi=$OPTARG ;;
	*) usage ;;
	esac
done
[ -n "$dir" ] && [ -n "$iface" ] && [ -n "$router" ] && [ -n "$netmask" ] &&
    [ -n "$range" ] && [ -n "$master" ] || usage
[ -n "$kernel" ] || kernel=$(ls -1 /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)
[ -n "$initrd" ] || initrd=$(readlink -m "$here/../out/boot/initramfs.cpio.gz")
case $zip in
lz4) image=initramfs.cpio.lz4 ;;
gzip) image=initramfs.cpio.gz ;;
*) usage ;;
esac
case $efi in snponly.efi|ipxe.efi) ;; *) usage ;; esac
# iPXE's boot file: the script by TFTP, or its URL; relative names in the
# script then load the same way
ipxe_boot=bproc.ipxe
if [ -n "$http" ]; then
	[[ $http =~ ^([0-9.]+):([0-9]+)$ ]] || usage
	http_addr=${BASH_REMATCH[1]} http_port=${BASH_REMATCH[2]}
	ipxe_boot=http://$http/bproc.ipxe
fi
# UEFI HTTP boot fetches the EFI binary by URL: only with -H
efi_url=${http:+http://$http/$efi}
for f in "$kernel" "$initrd" "$PXELINUX" "$LDLINUX"; do
	[ -r "$f" ] || { echo "mkboot: cannot read $f" >&2; exit 1; }
done

subst() {
	sed -e "s|@IFACE@|$iface|g" -e "s|@ROUTER@|$router|g" \
	    -e "s|@NETMASK@|$netmask|g" -e "s|@RANGE@|$range|g" \
	    -e "s|@MASTER@|$master|g" -e "s|@CMDLINE@|$cmdline|g" \
	    -e "s|@KERNEL@|vmlinuz|g" -e "s|@INITRD@|$image|g" \
	    -e "s|@STATE@|$dir|g" -e "s|@TFTP@|$dir/tftp|g" \
	    -e "s|@HOSTS@|$dir/dnsmasq.hosts|g" -e "s|@USER@|$DNSMASQ_USER|g" \
	    -e "s|@GROUP@|$(id -gn "$DNSMASQ_USER")|g" \
	    -e "s|@IPXE_BOOT@|$ipxe_boot|g" -e "s|@HTTP_ADDR@|${http_addr:-}|g" \
	    -e "s|@HTTP_PORT@|${http_port:-}|g" -e "s|@EFI_BOOT@|$efi|g" \
	    -e "s|@EFI_URL@|$efi_url|g" "$1" |
	    if [ -n "$http" ]; then
		sed 's/[[:space:]]*# @HTTP_ONLY@$//'
	    else
		sed '/# @HTTP_ONLY@$/d'
	    fi
}

mkdir -p "$dir/tftp/pxelinux.cfg"
chmod 0755 "$dir" "$dir/tftp" "$dir/tftp/pxelinux.cfg"
install -m 0644 "$kernel" "$dir/tftp/vmlinuz"
# the kernel tells the two apart by their magic numbers; lz4 -l is the
# legacy frame format, the one the kernel's unpacker reads
rm -f "$dir/tftp/initramfs.cpio.gz" "$dir/tftp/initramfs.cpio.lz4"
if [ "$zip" = lz4 ]; then
	command -v lz4 >/dev/null || { echo "mkboot: no lz4 (apt-get install lz4), or use -z gzip" >&2; exit 1; }
	(umask 077 && gzip -dcf "$initrd" | lz4 -l -9 -q - "$dir/tftp/$image")
	chown "$DNSMASQ_USER" "$dir/tftp/$image"
	chmod 0400 "$dir/tftp/$image"
else
	install -m 0400 -o "$DNSMASQ_USER" "$initrd" "$dir/tftp/$image"
fi
install -m 0644 "$PXELINUX" "$dir/tftp/pxelinux.0"
install -m 0644 "$LDLINUX" "$dir/tftp/ldlinux.c32"
# UEFI firmware's boot files; a site without the ipxe package still boots
# BIOS nodes
for f in snponly.efi ipxe.efi; do
	if [ -r "$IPXE_EFI_DIR/$f" ]; then
		install -m 0644 "$IPXE_EFI_DIR/$f" "$dir/tftp/$f"
	elif [ "$f" = "$efi" ]; then
		echo "mkboot: no $IPXE_EFI_DIR/$f (apt-get install ipxe): UEFI nodes will not boot" >&2
	fi
done
subst "$here/bproc.ipxe.in" >"$dir/tftp/bproc.ipxe"
subst "$here/pxelinux.cfg.in" >"$dir/tftp/pxelinux.cfg/default"
subst "$here/dnsmasq.conf.in" >"$dir/dnsmasq.conf"
[ -e "$dir/dnsmasq.hosts" ] || : >"$dir/dnsmasq.hosts"
if [ -n "$http" ]; then
	subst "$here/lighttpd.conf.in" >"$dir/lighttpd.conf"
	# lighttpd opens its logs after dropping root
	for f in lighttpd.log lighttpd.access.log; do
		[ -e "$dir/$f" ] || install -m 0640 -o "$DNSMASQ_USER" /dev/null "$dir/$f"
	done
	echo "mkboot: $dir/lighttpd.conf serves the boot tree at http://$http/"
fi
echo "mkboot: $dir/dnsmasq.conf, TFTP root $dir/tftp (kernel $kernel, $image $(stat -c %s "$dir/tftp/$image") bytes)"
