#!/usr/bin/env bash
#
# test/shell/doc_test.sh - every SQL example of README.md and docs/*.md runs
# as written.
#
# For each file (README.md first, then docs/*.md in name order) the fenced
# code blocks are taken in order and run by one psql session in a fresh
# database of the test cluster (so the blocks of one file run top to bottom,
# as a reader would paste them; temporary tables and psql variables carry
# over from one block to the next, nothing carries over between files).
# Fences, at the start of a line:
#
#   ```sql            run; any error fails the test (ON_ERROR_STOP)
#   ```sql-error      run; its LAST statement must fail (the test fails if it
#                     succeeds); use it to show an error message
#   ```text output    directly after a sql or sql-error block (blank lines
#                     between are allowed): the block's psql output, compared
#                     line by line (trailing blanks ignored; the
#                     "psql:FILE:LINE: " prefix of errors and notices is
#                     removed).  psql runs with -X -q, so command tags such
#                     as INSERT 0 1 are not printed, and SHOW_CONTEXT is
#                     never (no CONTEXT lines under errors).
#   anything else     (```text, ```sh, ```json, ```) not run
#
# Roles created by a file are dropped after it (they are cluster-wide).
#
# Environment: as every test/shell test (PGHOST, PGPORT, PGUSER, PG_BIN; see
# test/lib.sh); DOC_FILES overrides the list of files (paths relative to the
# repository root); DOCTEST_KEEP=1 keeps the work directory (each block's
# actual output is in <dir>/<file>/out.N, to paste into a text output block).
# Exit 0 when every file ran cleanly.
set -uo pipefail

: "${REPO:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${PG_BIN:?PG_BIN is not set}" "${PGHOST:?PGHOST is not set}" "${PGPORT:?PGPORT is not set}"
export PGUSER=${PGUSER:-postgres}
cd "$REPO" || exit 1

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mlm_doctest.XXXXXX") || exit 1
chmod 755 "$WORK"
if [ -n "${DOCTEST_KEEP:-}" ]; then
	echo "work directory kept: $WORK"
else
	trap 'rm -rf "$WORK"' EXIT
fi

if [ -n "${DOC_FILES:-}" ]; then
	read -r -a files <<<"$DOC_FILES"
else
	files=(README.md)
	for f in docs/*.md; do [ -e "$f" ] && files+=("$f"); done
fi

sql() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -At -d postgres "$@"; }

# extract FILE OUTDIR: OUTDIR/script.sql, OUTDIR/blocks (N kind line),
# OUTDIR/expect.N for blocks followed by an output block.
extract() {
	awk -v out="$2" -v src="$1" '
		function flush_pending() { pending = 0 }
		BEGIN { n = 0; inblock = 0; pending = 0
			script = out "/script.sql"; blocks = out "/blocks"
			printf "\\set SHOW_CONTEXT never\n" > script; printf "" > blocks }
		{
			if (!inblock) {
				if ($0 ~ /^```/) {
					info = substr($0, 4); sub(/[ \t]+$/, "", info)
					inblock = 1; start = NR
					if (info == "sql" || info == "sql-error") {
						kind = info; n++
						printf "%d %s %d\n", n, kind, NR >> blocks
						printf "\\echo @@doctest block %d@@\n", n >> script
						if (kind == "sql-error") printf "\\set ON_ERROR_STOP 0\n" >> script
						else printf "\\set ON_ERROR_STOP 1\n" >> script
						pending = 0
					} else if (info == "text output" && pending) {
						kind = "output"; expect = out "/expect." n
						printf "" > expect
						pending = 0
					} else {
						kind = "skip"; pending = 0
					}
				} else if ($0 !~ /^[ \t]*$/) {
					pending = 0
				}
				next
			}
			if ($0 ~ /^```[ \t]*$/) {
				inblock = 0
				if (kind == "sql-error") {
					printf "\n\\if :ERROR\n\\echo @@doctest failed-as-expected@@\n\\else\n\\echo @@doctest did-not-fail@@\n\\endif\n\\set ON_ERROR_STOP 1\n" >> script
				}
				if (kind == "sql" || kind == "sql-error") { printf "\n" >> script; pending = 1 }
				next
			}
			if (kind == "sql" || kind == "sql-error") print >> script
			else if (kind == "output") print >> expect
		}
		END {
			if (inblock) { printf "%s:%d: unterminated code fence\n", src, start > "/dev/stderr"; exit 2 }
			printf "\\echo @@doctest end@@\n" >> script
		}' "$1"
}

# normalize FILE: drop psql location prefixes and trailing blanks, and
# leading/trailing empty lines
normalize() {
	sed -E -e 's/^psql:[^ ]*:[0-9]+: //' -e 's/[ \t]+$//' "$1" |
		awk '{ line[NR] = $0 } END {
			s = 1; while (s <= NR && line[s] == "") s++
			e = NR; while (e >= s && line[e] == "") e--
			for (i = s; i <= e; i++) print line[i] }'
}

failed=0
total_blocks=0
roles_before=$(sql -c "SELECT rolname FROM pg_roles ORDER BY 1") || { echo "FAIL: cannot query the cluster"; exit 1; }

for f in "${files[@]}"; do
	[ -f "$f" ] || { echo "FAIL: $f does not exist"; failed=1; continue; }
	dir=$WORK/$(echo "$f" | tr '/.' '__')
	mkdir -p "$dir"
	if ! extract "$f" "$dir"; then
		failed=1
		continue
	fi
	nblocks=$(wc -l <"$dir/blocks")
	if [ "$nblocks" -eq 0 ]; then
		echo "$f: no sql blocks"
		continue
	fi
	total_blocks=$((total_blocks + nblocks))
	db=doctest_$(basename "$f" .md | tr -c 'a-zA-Z0-9_\n' '_' | tr 'A-Z' 'a-z')
	sql -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null ||
		{ echo "FAIL: CREATE DATABASE $db"; failed=1; continue; }

	"$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$db" -f "$dir/script.sql" >"$dir/log" 2>&1 </dev/null
	rc=$?

	# split the log at the block markers: out.N
	awk -v d="$dir" '
		/^@@doctest block [0-9]+@@$/ { n = $3; sub(/@@$/, "", n); cur = d "/out." n; printf "" > cur; next }
		/^@@doctest end@@$/ { cur = ""; next }
		cur != "" { print >> cur }' "$dir/log"

	file_failed=0
	last=0
	while read -r n kind line; do
		[ -f "$dir/out.$n" ] || break
		last=$n
		if [ "$kind" = sql-error ]; then
			if grep -q '^@@doctest did-not-fail@@$' "$dir/out.$n"; then
				echo "FAIL: $f:$line: the sql-error block did not fail"
				file_failed=1
			fi
			grep -v '^@@doctest ' "$dir/out.$n" >"$dir/out.$n.tmp"
			mv "$dir/out.$n.tmp" "$dir/out.$n"
		fi
		if [ -f "$dir/expect.$n" ]; then
			if ! diff -u <(normalize "$dir/expect.$n") <(normalize "$dir/out.$n") >"$dir/diff.$n"; then
				echo "FAIL: $f:$line: output differs from the text output block after it (- documented, + actual):"
				sed 's/^/    /' "$dir/diff.$n" | head -n 60
				file_failed=1
			fi
		fi
	done <"$dir/blocks"

	if [ "$rc" -ne 0 ]; then
		line=$(awk -v n="$last" '$1 == n { print $3 }' "$dir/blocks")
		echo "FAIL: $f:${line:-?}: the sql block starting at line ${line:-?} failed (psql exit $rc); its output:"
		sed 's/^/    /' "$dir/out.$last" 2>/dev/null | tail -n 30
		file_failed=1
	elif ! grep -q '^@@doctest end@@$' "$dir/log"; then
		echo "FAIL: $f: psql stopped before the end"
		tail -n 20 "$dir/log" | sed 's/^/    /'
		file_failed=1
	fi

	sql -c "DROP DATABASE IF EXISTS $db" >/dev/null || { echo "FAIL: DROP DATABASE $db"; file_failed=1; }
	roles_now=$(sql -c "SELECT rolname FROM pg_roles ORDER BY 1")
	new_roles=$(comm -13 <(echo "$roles_before") <(echo "$roles_now"))
	for r in $new_roles; do
		sql -c "DROP ROLE \"$r\"" >/dev/null || { echo "FAIL: DROP ROLE $r (created by $f)"; file_failed=1; }
	done

	if [ "$file_failed" -eq 0 ]; then
		echo "ok   $f ($nblocks sql blocks, $(ls "$dir" | grep -c '^expect\.') with checked output)"
	else
		failed=1
	fi
done

echo "$total_blocks sql blocks in ${#files[@]} files"
exit $failed
