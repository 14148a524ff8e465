#!/usr/bin/env bash
# test/shell/tree_dump.sh - a real pg_dump / pg_restore of mlm.tree values.
#
# Fills a database with tables holding trees (small, with placement, empty,
# NULL, ids at both ends of bigint, a 300,000 member random tree, a 100,000
# deep chain, arrays of trees, a materialized view built by mlm.tree_agg, a
# CHECK constraint calling mlm functions), dumps it with $PG_BIN/pg_dump in
# custom, directory (parallel) and plain formats (plain also with --inserts),
# restores each into a new database with pg_restore or psql, and compares
# every value: send bytes, text, stats.
#
# Runs against the cluster of the test harness (PG_BIN, PGHOST, PGPORT,
# PGUSER exported by test/lib.sh's mlm_setup); run by hand without them it
# builds the extension and starts its own throwaway cluster through
# test/lib.sh.  Prints TAP; exits non-zero when a check fails.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OWN_CLUSTER=
if [ -z "${PG_BIN:-}" ] || [ -z "${PGHOST:-}" ]; then
	OWN_CLUSTER=1
	# shellcheck source=../lib.sh
	source "$HERE/../lib.sh"
	mlm_find_pg_config
	mlm_build >&2
	mlm_setup >&2
fi

PSQL=("$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -U "${PGUSER:-postgres}")
tag=$$
SRC=mlm_tree_dump_src_$tag
DBS=("$SRC")
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mlm_tree_dump.XXXXXX")
chmod 755 "$WORK"

cleanup() {
	local db
	for db in "${DBS[@]}"; do
		"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
	done
	rm -rf -- "$WORK"
	# our own throwaway cluster (this trap replaced the one of mlm_setup)
	if [ -n "$OWN_CLUSTER" ]; then
		mlm_cleanup
	fi
}
trap cleanup EXIT

n=0
failed=0
# check DESCRIPTION COMMAND...: one TAP line for the exit status of COMMAND
check() {
	local desc=$1
	shift
	n=$((n + 1))
	if "$@"; then
		echo "ok $n - $desc"
	else
		echo "not ok $n - $desc"
		failed=$((failed + 1))
	fi
}

echo "1..16"

fill_source() {
	"${PSQL[@]}" -d postgres -c "CREATE DATABASE $SRC" &&
	"${PSQL[@]}" -o /dev/null -d "$SRC" <<'SQL'
CREATE EXTENSION mlm;
SELECT setseed(0.25);
CREATE TABLE members (id bigint PRIMARY KEY, sponsor_id bigint);
INSERT INTO members
SELECT g, CASE WHEN g > 1 THEN 1 + floor(random() * (g - 1))::bigint END
FROM generate_series(1, 300000) g;
CREATE TABLE trees (
    k int PRIMARY KEY,
    t mlm.tree CHECK (t IS NULL OR mlm.size(t) >= 0),
    note text
);
INSERT INTO trees VALUES
    (1, '{1,2:1,3:1}', 'small'),
    (2, '{1:::,2:1:1:0,4:2:2:0,3:1:1:1,5:1:2:1}', 'placement'),
    (3, '{}', 'empty'),
    (4, NULL, 'null'),
    (5, '{-9223372036854775808,7:-9223372036854775808,-1:7,9223372036854775807}', 'extreme ids'),
    (6, '{1:::,2:1::,3::1:0,4:3:3:7}', 'partial placement');
INSERT INTO trees SELECT 7, mlm.tree_agg(id, sponsor_id), 'random 300k' FROM members;
INSERT INTO trees
SELECT 8, mlm.tree_agg(g * 7919, NULLIF(g - 1, 0) * 7919), 'chain 100k, sparse ids'
FROM generate_series(1::bigint, 100000) g;
INSERT INTO trees
SELECT 9, mlm.tree_agg(id, sponsor_id, CASE WHEN id > 1 THEN (id + 1) / 3 END,
                       CASE WHEN id > 1 THEN ((id + 1) % 3)::int END), 'random 300k + ternary placement'
FROM members;
CREATE TABLE tree_arrays (k int PRIMARY KEY, ts mlm.tree[]);
INSERT INTO tree_arrays VALUES
    (1, ARRAY['{1}'::mlm.tree, '{1,2:1}', '{}', NULL, '{1:::,2:1:1:0}']),
    (2, '{}');
CREATE MATERIALIZED VIEW member_tree AS
SELECT mlm.tree_agg(id, sponsor_id) AS t FROM members;
SQL
}
check "source database filled" fill_source || true

# digest DB: one line per value, computed in the database
digest() {
	"${PSQL[@]}" -d "$1" -At <<'SQL'
SELECT 'trees ' || k || ' ' || coalesce(md5(mlm.tree_send(t)), 'null') || ' '
       || coalesce(md5(t::text), 'null') || ' ' || coalesce(mlm.stats(t)::text, 'null') || ' ' || note
FROM trees ORDER BY k;
SELECT 'arrays ' || k || ' ' || md5(ts::text) || ' '
       || coalesce((SELECT string_agg(coalesce(md5(mlm.tree_send(x)), 'null'), ',' ORDER BY o)
                    FROM unnest(ts) WITH ORDINALITY u(x, o)), '')
FROM tree_arrays ORDER BY k;
SELECT 'mv ' || md5(mlm.tree_send(t)) || ' ' || mlm.stats(t)::text FROM member_tree;
SELECT 'depths ' || sum(mlm.depth(t.t, m.id)) FROM trees t, members m WHERE t.k = 7;
SQL
}

source_digest() {
	digest "$SRC" >"$WORK/src.txt" &&
	[ "$(wc -l <"$WORK/src.txt")" -eq 13 ] &&
	grep -q '^trees 7 [0-9a-f]\{32\} ' "$WORK/src.txt"
}
check "source digest has every value" source_digest

# restore_check NAME: compare the digest of database NAME with the source
restore_check() {
	digest "$1" >"$WORK/$1.txt"
	if diff -u "$WORK/src.txt" "$WORK/$1.txt" >&2; then
		return 0
	fi
	return 1
}

newdb() {
	DBS+=("$1")
	"${PSQL[@]}" -d postgres -c "CREATE DATABASE $1"
}

# custom format -> pg_restore into a new database
DST=mlm_tree_dump_custom_$tag
check "pg_dump -Fc" "$PG_BIN/pg_dump" -Fc -f "$WORK/dump.custom" "$SRC"
newdb "$DST"
check "pg_restore of the custom dump" \
	"$PG_BIN/pg_restore" --exit-on-error -d "$DST" "$WORK/dump.custom"
check "custom dump: every tree restored equal (bytes, text, stats)" restore_check "$DST"

# directory format, dumped and restored with 2 jobs
DST=mlm_tree_dump_dir_$tag
check "pg_dump -Fd -j 2" "$PG_BIN/pg_dump" -Fd -j 2 -f "$WORK/dump.dir" "$SRC"
newdb "$DST"
check "pg_restore -j 2 of the directory dump" \
	"$PG_BIN/pg_restore" --exit-on-error -j 2 -d "$DST" "$WORK/dump.dir"
check "directory dump: every tree restored equal" restore_check "$DST"

# plain SQL, replayed by psql
DST=mlm_tree_dump_plain_$tag
check "pg_dump -Fp" "$PG_BIN/pg_dump" -Fp -f "$WORK/dump.sql" "$SRC"
newdb "$DST"
check "psql replays the plain dump" "${PSQL[@]}" -o /dev/null -d "$DST" -f "$WORK/dump.sql"
check "plain dump through psql: every tree restored equal" restore_check "$DST"

# plain SQL with INSERT statements (tree literals in SQL text; 1000 rows
# a statement so that the 300,000 members load quickly)
DST=mlm_tree_dump_inserts_$tag
check "pg_dump --inserts" \
	"$PG_BIN/pg_dump" -Fp --inserts --rows-per-insert=1000 -f "$WORK/dump_inserts.sql" "$SRC"
check "the --inserts dump holds the tree as its text literal" \
	grep -qF "(1, '{1,2:1,3:1}', 'small')" "$WORK/dump_inserts.sql"
newdb "$DST"
check "psql replays the --inserts dump" "${PSQL[@]}" -o /dev/null -d "$DST" -f "$WORK/dump_inserts.sql"
check "--inserts dump through psql: every tree restored equal" restore_check "$DST"

# the restored snapshots answer queries like the originals
traversal_check() {
	local got
	got=$("${PSQL[@]}" -d "mlm_tree_dump_custom_$tag" -At -c \
		"SELECT mlm.depth(t, 100000 * 7919) || ' ' || mlm.placement_parent((SELECT t FROM trees WHERE k = 9), 300000)
		 FROM trees WHERE k = 8")
	[ "$got" = "99999 100000" ] || { echo "# got: $got" >&2; return 1; }
}
check "restored snapshots answer traversals" traversal_check

if [ "$failed" -ne 0 ]; then
	echo "# $failed of $n checks failed" >&2
	exit 1
fi
