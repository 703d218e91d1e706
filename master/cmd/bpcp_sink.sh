# bpcp's sink script: run as `sh -c 'eval "$BPCP_SH"' bpcp-sink ARGS...`.
# $1 busybox prefix ("" on the front end), $2 destination, $3 the name to
# use inside a destination directory, $4 kind (F/D), $5 size, $6 mode, $7
# mtime, $8 uid:gid, $9 flags (p: set mtime, o: set owner, m: several
# sources so the destination must be a directory), ${10} umask, ${11} tar
# extract options.  It writes to a temporary name in the target's
# directory (removed by the EXIT trap whatever happens) and renames it
# only once the content is complete; errors are "E reason" lines.
# Lines starting with '#' are left out of what bpcp embeds (Makefile).
BB=$1 d=$2 b=$3 k=$4 sz=$5 md=$6 mt=$7 ow=$8 fl=$9 um=${10} to=${11}
tmp= tf=
clean() {
	[ -n "$tf" ] && $BB rm -f "$tf"
	[ -n "$tmp" ] && { $BB chmod -R u+w "$tmp"; $BB rm -rf "$tmp"; } 2>/dev/null
	tf= tmp=
}
trap clean EXIT
trap 'exit 1' HUP INT TERM PIPE
e() { clean; echo "E $*"; exit 1; }
umask "$um"
case $d in -*) d=./$d ;; esac
t=$d
if [ -d "$d" ]; then
	case $d in */) t=$d$b ;; *) t=$d/$b ;; esac
else
	case $fl in *m*) e "$2: Not a directory" ;; esac
	case $d in */) m=$($BB stat "$d" 2>&1) || e "$2: ${m##*: }"
		e "$2: Not a directory" ;; esac
fi
case $t in */*) dir=${t%/*}; [ -n "$dir" ] || dir=/ ;; *) dir=. ;; esac
m=$($BB stat -L -c %F "$dir" 2>&1) || e "$dir: ${m##*: }"
[ "$m" = directory ] || e "$dir: Not a directory"
[ -w "$dir" ] && [ -x "$dir" ] || e "$dir: Permission denied"
ex=
if [ -e "$t" ]; then
	ex=1
	if [ $k = F ]; then
		[ -d "$t" ] && e "$t: Is a directory"
		[ -w "$t" ] || e "$t: Permission denied"
		case $fl in *p*) ;; *) md=$($BB stat -L -c %a "$t") ;; esac
	else
		[ -d "$t" ] || e "$t: Not a directory"
		[ -w "$t" ] && [ -x "$t" ] || e "$t: Permission denied"
	fi
fi
if [ $k = F ]; then
	tmp=$($BB mktemp "$dir/.bpcp.XXXXXX") || e "$dir: cannot make a temporary file"
	$BB cat >"$tmp" || exit 1
	got=$($BB stat -c %s "$tmp") || exit 1
	[ "$got" = "$sz" ] || e "$t: copy cut short or file changed during copy ($got of $sz bytes)"
else
	tf=$($BB mktemp "$dir/.bpcp.XXXXXX") || e "$dir: cannot make a temporary file"
	$BB cat >"$tf" || exit 1
	[ "$($BB tail -c 12 "$tf")" = bpcp-commit ] || e "$t: copy cut short"
	tmp=$($BB mktemp -d "$dir/.bpcp.XXXXXX") || e "$dir: cannot make a temporary directory"
	$BB tar $to -xf "$tf" -C "$tmp" || exit 1
	$BB rm -f "$tf"
fi
case $fl in *o*) $BB chown -h "$ow" "$tmp" || exit 1 ;; esac
if [ -n "$ex" ] && [ $k = D ]; then
	# merge into the existing tree, as cp -r does: its top keeps its
	# mode unless -p, whatever tar does with the archive's ./ entry
	em=$($BB stat -L -c %a "$t") || exit 1
	case $fl in *p*) ;; *) md=$em ;; esac
	$BB chmod "$md" "$tmp" || exit 1
	($BB tar -cf - -C "$tmp" . | $BB tar $to -xf - -C "$t") || exit 1
	[ "$($BB stat -L -c %a "$t")" = "$md" ] || $BB chmod "$md" "$t" || exit 1
	case $fl in *p*) $BB touch -d "@$mt" "$t" || exit 1 ;; esac
	exit 0
fi
$BB chmod "$md" "$tmp" || exit 1
case $fl in *p*) $BB touch -d "@$mt" "$tmp" || exit 1 ;; esac
$BB mv -f -T "$tmp" "$t" && tmp=
