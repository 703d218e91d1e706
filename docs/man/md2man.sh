#!/bin/sh
# Make a man(7) page from one of the Markdown pages in docs/: lowdown
# does the Markdown, this script the man page's frame around it.
#
# usage: md2man.sh SRC.md NAME SECTION "one-line description" >PAGE
#
# A page written as a manual (`## NAME`, `## SYNOPSIS`, ...) keeps its
# sections; any other page (bpmaster.md, bpvcluster.md) gets a NAME from
# the arguments and becomes the DESCRIPTION, its `##` headings the
# subsections.  The date is the source's (SOURCE_DATE_EPOCH when set, as
# dpkg-buildpackage sets it, so that the build is reproducible).
# Exit status: 0 done, 1 failure, 2 usage.
set -eu

[ $# -eq 4 ] || { echo "usage: md2man.sh SRC.md NAME SECTION DESCRIPTION" >&2; exit 2; }
src=$1 name=$2 sect=$3 desc=$4
command -v lowdown >/dev/null || { echo "md2man: no lowdown (apt-get install lowdown)" >&2; exit 1; }
date=$(date -u -d "@${SOURCE_DATE_EPOCH:-$(stat -c %Y "$src")}" +%Y-%m-%d)
title=$(printf '%s' "$name" | tr '[:lower:]' '[:upper:]')

# Headings move up one level so that ## is a section (.SH) and ### a
# subsection (.SS); nothing inside a fenced code block is a heading.
awk -v name="$name" -v desc="$desc" '
	NR == 1 && /^# / { next }
	NR == 1 || !started { started = 1 }
	/^```/ { fence = !fence }
	!fence && /^## NAME$/ { manual = 1 }
	{ line[++n] = $0 }
	END {
		if (!manual)
			printf "# NAME\n\n%s \\- %s\n\n# DESCRIPTION\n\n", name, desc
		fence = 0
		for (i = 1; i <= n; i++) {
			s = line[i]
			if (s ~ /^```/)
				fence = !fence
			else if (!fence && manual && s ~ /^##+ /)
				s = substr(s, 2)
			printf "%s\n", s
		}
	}' "$src" |
lowdown -s -Tman --nroff-nolinks --out-no-smarty \
    -M "title=$title" -M "section=$sect" -M "date=$date" \
    -M "source=bproc-ng" -M "volume=bproc-ng" - |
# mandoc knows no \fC (lowdown's code font): code is bold, as in most
# manuals.  Headings take their text on the macro's line; a paragraph
# macro right after a heading or another paragraph macro is dropped, and
# filled text lines are folded at 80 bytes (mandoc -Tlint asks for all
# three).  The NAME line's dash is the roff \- whatis(1) looks for.
awk '
	function fold(s,    i, c) {
		while (length(s) > 80) {
			for (i = 80; i > 1; i--) {
				c = substr(s, i + 1, 1)
				if (substr(s, i, 1) == " " &&
				    substr(s, i - 1, 1) != "\\" &&
				    c != "." && c != "\047" && c != " ")
					break
			}
			if (i <= 1)
				break
			print substr(s, 1, i - 1)
			s = substr(s, i + 1)
		}
		print s
	}
	{ gsub(/\\fC/, "\\fB") }
	/^\.(SH|SS)$/ { head = $0; next }
	head != "" {
		gsub(/"/, "", $0)
		print head " \"" $0 "\""
		sect = $0; head = ""; prev = ".SH"; next
	}
	/^\.(LP|PP)$/ && prev ~ /^\.(SH|SS|LP|PP|TP|IP)/ { next }
	/^\.(EX|nf|TS)/ { nofill = 1 }
	/^\.(EE|fi|TE)/ { nofill = 0 }
	sect == "NAME" && !/^\./ { sub(/ (\342\200\224|-|\\-) /, " \\- ") }
	/^[.\047]/ || nofill { print; prev = $0; next }
	{ fold($0); prev = $0 }
	'
