#!/usr/bin/env bash
#
# test/tools/include_graph.sh - the shape of the C library under src/: which
# project header each file includes, which file calls functions defined in
# which other file (pairs that call each other are listed as cycles), and
# the largest files and functions.  Plain text, for docs/architecture.md.
#
#   bash test/tools/include_graph.sh [SRC_DIR]     # default: src of this repo
#
# Functions are found the PostgreSQL way: a definition starts with its name
# in column 0 followed by "(" and ends at the next "}" in column 0.  A call
# is an identifier followed by "(" outside comments, in a file other than
# the one that defines it (a name defined in several files, e.g. a static
# helper, is not counted as a cross-file call).
set -euo pipefail

SRC=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/src}
cd "$SRC"

echo "## Includes (project headers)"
for f in *.h *.c; do
	inc=$(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f" | while read -r h; do
		if [ -f "$h" ]; then printf "%s " "$h"; fi
	done)
	printf '%-22s -> %s\n' "$f" "${inc% }"
done

# name<TAB>file of every function definition, without comments
defs=$(mktemp)
calls=$(mktemp)
trap 'rm -f "$defs" "$calls"' EXIT
for f in *.c; do
	awk -v F="$f" '/^[A-Za-z_][A-Za-z0-9_]*\(/ { n = $0; sub(/\(.*/, "", n); print n "\t" F }' "$f"
done | sort -u > "$defs"
# names defined in exactly one file
cut -f1 "$defs" | sort | uniq -u > "$calls.unique"

for f in *.c; do
	# strip comments and string literals, then list called identifiers
	perl -0777 -pe 's{/\*.*?\*/}{}gs; s{"(\\.|[^"\\])*"}{""}g' "$f" |
		{ grep -oE '\b[A-Za-z_][A-Za-z0-9_]*[[:space:]]*\(' || true; } | sed 's/[[:space:]]*($//' |
		sort -u | while read -r name; do
		printf '%s\t%s\n' "$name" "$f"
	done
done > "$calls"

echo
echo "## Cross-file calls (caller -> callee file: functions)"
join -t $'\t' <(sort "$calls.unique") <(sort "$defs") > "$calls.defs"	# name file_def
join -t $'\t' <(sort "$calls") "$calls.defs" |
	awk -F'\t' '$2 != $3 { key = $2 " -> " $3; fns[key] = fns[key] (fns[key] ? ", " : "") $1 }
		END { for (k in fns) print k ": " fns[k] }' | sort > "$calls.edges"
cat "$calls.edges"

echo
echo "## Files that call each other"
awk -F': ' '{ split($1, e, " -> "); edge[e[1] " " e[2]] = 1 }
	END { found = 0
		for (k in edge) { split(k, e, " "); if (e[1] < e[2] && ((e[2] " " e[1]) in edge)) { print e[1] " <-> " e[2]; found = 1 } }
		if (!found) print "(none)" }' "$calls.edges" | sort

echo
echo "## Largest files (lines)"
wc -l *.c *.h | grep -v ' total$' | sort -rn | head -12

echo
echo "## Largest functions (lines)"
for f in *.c; do
	awk -v F="$f" '/^[A-Za-z_][A-Za-z0-9_]*\(/ { n = $0; sub(/\(.*/, "", n); start = NR }
		/^}/ && start { print NR - start + 1 "\t" F ":" n; start = 0 }' "$f"
done | sort -rn | head -12
rm -f "$calls.unique" "$calls.defs" "$calls.edges"
