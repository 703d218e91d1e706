# bpcp's source script: run as `sh -c 'eval "$BPCP_SH"' bpcp-source BB PATH R TAROPTS`
# on a node (BB is its busybox) or on the front end (BB is "").  $2 is the
# path, $3 "1" for -r, $4 the tar options for a tree.  It prints
# "F size mode mtime uid gid" then the bytes, "D ..." then a tar of the
# tree's contents, or "E reason" and fails.  Paths come as arguments,
# never spliced into the text.  Lines starting with '#' are left out of
# what bpcp embeds (Makefile), so this header costs the node nothing.
BB=$1 p=$2 r=$3 to=$4
e() { echo "E $*"; exit 1; }
case $p in -*) p=./$p ;; esac
m=$($BB stat -L -c '%F|%s|%a|%Y|%u|%g' "$p" 2>&1) || e "$2: ${m##*: }"
IFS='|' read -r ty sz md mt u g <<EOF
$m
EOF
case $ty in
regular*)
	[ -r "$p" ] || e "$2: Permission denied"
	echo "F $sz $md $mt $u $g"
	exec $BB cat "$p" ;;
directory)
	[ "$r" = 1 ] || e "$2: Is a directory (use -r)"
	[ -r "$p" ] && [ -x "$p" ] || e "$2: Permission denied"
	echo "D 0 $md $mt $u $g"
	exec $BB tar $to -cf - -C "$p" . ;;
*)	e "$2: not a regular file or directory" ;;
esac
