#!/bin/bash
# Issue 10's shape rules, checked on the tree so they stay kept:
#  - no source file over 700 lines in master/ or nodeinit/ (tests, tools and
#    generated files aside);
#  - no function over 100 lines anywhere in master/, nodeinit/, common/,
#    tools/ (style(9): a function's braces stand alone in column 0, so the
#    body is the lines from its name to the "}" in column 0);
#  - every external (non-static) function name defined once across those
#    trees, main aside, so a name says which file holds it.
# Exit 0 when all hold, 1 with one line per breach otherwise.
set -uo pipefail
cd "$(dirname "$(readlink -f "$0")")/../.."

MAX_FILE=700	# lines per file in master/ and nodeinit/
MAX_FUNC=100	# lines per function, name line to closing brace
bad=0

mapfile -t files < <(find master nodeinit -type f \( -name '*.c' -o -name '*.h' \) | sort)
((${#files[@]} > 20)) || { echo "test_structure: only ${#files[@]} sources found"; exit 1; }
for f in "${files[@]}"; do
	n=$(wc -l <"$f")
	if ((n > MAX_FILE)); then
		echo "file over $MAX_FILE lines: $f ($n)"
		bad=1
	fi
done

mapfile -t csrc < <(find master nodeinit common tools -type f -name '*.c' | sort)

# One awk pass over every C file: function lengths and external names.
out=$(awk -v maxf="$MAX_FUNC" '
	FNR == 1 { prev = ""; name = "" }
	/^[A-Za-z_][A-Za-z0-9_]*\(/ && prev !~ /^(#|[ \t]*$)/ {
		cand = $0; sub(/\(.*/, "", cand)
		candline = FNR; candstatic = (prev ~ /^static/ || $0 ~ /^static/)
	}
	/^\{/ && cand != "" { name = cand; start = candline; isstatic = candstatic; cand = "" }
	/^\}/ && name != "" {
		len = FNR - start + 1
		if (len > maxf) printf "LONG %s %s %d\n", FILENAME, name, len
		if (!isstatic && name != "main") printf "EXT %s %s\n", name, FILENAME
		name = ""
	}
	/;[ \t]*$/ && name == "" { cand = "" }
	{ prev = $0 }
' "${csrc[@]}")

while read -r kind a b c; do
	case $kind in
	LONG) echo "function over $MAX_FUNC lines: $a $b() ($c)"; bad=1 ;;
	esac
done <<<"$out"

# BProc 4's names: sys/bproc.h renames bproc_X to bproc4_X in the files
# that include it (docs/libbproc.3.md), so the symbol is the macro's.
renames=$(awk '/^#define[ \t]+bproc_[a-z_]+[ \t]+bproc4_[a-z_]+/ { print $2, $3 }' master/lib/sys/bproc.h)
mapfile -t macrofiles < <(grep -l '"sys/bproc.h"\|<sys/bproc.h>' master/lib/*.c)
out=$(awk -v files="${macrofiles[*]}" '
	BEGIN { n = split(files, fl, " "); for (i = 1; i <= n; i++) inc[fl[i]] = 1 }
	NR == FNR { ren[$1] = $2; next }
	$1 == "EXT" && inc[$3] && ($2 in ren) { $2 = ren[$2] }
	{ print }
' <(echo "$renames") - <<<"$out")

dups=$(awk '$1 == "EXT" { n[$2]++; w[$2] = w[$2] " " $3 } END { for (k in n) if (n[k] > 1) print k ":" w[k] }' <<<"$out" | sort)
if [ -n "$dups" ]; then
	while read -r line; do echo "external name defined twice: $line"; done <<<"$dups"
	bad=1
fi

nfunc=$(grep -c '^EXT' <<<"$out")
((nfunc > 100)) || { echo "test_structure: only $nfunc external functions seen: the scan is broken"; exit 1; }
((bad == 0)) && echo "structure: ${#files[@]} files within $MAX_FILE lines, functions within $MAX_FUNC, $nfunc external names unique"
exit "$bad"
