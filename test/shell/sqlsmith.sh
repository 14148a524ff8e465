#!/usr/bin/env bash
#
# test/shell/sqlsmith.sh - random SQL from a non-superuser finds no crash.
#
# Builds a database with the extension, a small network, a plan, a source,
# a finalized close, an adjustment and a draft; then runs sqlsmith as a
# plain login role (no grants beyond what PUBLIC has, plus SELECT on the
# sample tables) for SQLSMITH_SECONDS (60 when CI=true, else 20) with a
# fixed seed per run (printed).  It fails when any server process was
# terminated by a signal while it ran, or when the server no longer
# answers.  Queries that fail with an ordinary error are what fuzzing is.
#
# Environment: as every test/shell test (PGHOST, PGPORT, PGUSER, PG_BIN,
# MLM_PG_LOG; see test/lib.sh).  Needs the sqlsmith package.
set -uo pipefail

: "${REPO:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${PG_BIN:?PG_BIN is not set}" "${PGHOST:?PGHOST is not set}" "${PGPORT:?PGPORT is not set}"
export PGUSER=${PGUSER:-postgres}
DB=mlm_sqlsmith
ROLE=mlm_smith
if [ -z "${SQLSMITH_SECONDS:-}" ]; then
	if [ "${CI:-}" = true ]; then SQLSMITH_SECONDS=60; else SQLSMITH_SECONDS=20; fi
fi
SEED=${SQLSMITH_SEED:-$(( $(date +%s) % 100000 ))}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mlm_sqlsmith.XXXXXX") || exit 1
trap 'rm -rf "$WORK"' EXIT

die() {
	printf 'FAIL: %s\n' "$*" >&2
	exit 1
}
psql_db() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
command -v sqlsmith >/dev/null || die "sqlsmith is not installed (apt-get install sqlsmith)"

"$PG_BIN/psql" -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null ||
	die "CREATE DATABASE $DB"
"$PG_BIN/psql" -X -q -d postgres -c "DROP ROLE IF EXISTS $ROLE" -c "CREATE ROLE $ROLE LOGIN" >/dev/null ||
	die "CREATE ROLE $ROLE"
psql_db -v n=2000 -v plan=smith -f "$REPO/test/shell/close_network.sql" >"$WORK/setup.log" 2>&1 ||
	{ cat "$WORK/setup.log"; die "setup failed"; }
psql_db >>"$WORK/setup.log" 2>&1 <<SQL || { cat "$WORK/setup.log"; die "setup failed"; }
INSERT INTO erp.volumes SELECT member_id, pv, cv, '2024-02' FROM erp.volumes WHERE period = '2024-01';
SELECT mlm.close('smith', '2024-01', '2024-01-01', '2024-01-31', 'erp', with_lines => true);
SELECT mlm.finalize('smith', '2024-01');
SELECT mlm.adjust((SELECT run_id FROM mlm.run WHERE period_label = '2024-01'), 5, 1.25, 'fuzz');
SELECT mlm.close('smith', '2024-02', '2024-02-01', '2024-02-29', 'erp');
CREATE TABLE public.trees AS SELECT mlm.tree_agg(id, sponsor_id, placement_id, position) AS t FROM erp.members;
GRANT USAGE ON SCHEMA erp TO $ROLE;
GRANT SELECT ON ALL TABLES IN SCHEMA erp TO $ROLE;
GRANT SELECT ON public.trees TO $ROLE;
SQL

log_lines_before=$(wc -l <"${MLM_PG_LOG:-/dev/null}" 2>/dev/null || echo 0)
echo "sqlsmith as $ROLE for ${SQLSMITH_SECONDS}s, seed $SEED"
timeout --signal=INT "$SQLSMITH_SECONDS" sqlsmith --seed="$SEED" --verbose \
	--target="host=$PGHOST port=$PGPORT dbname=$DB user=$ROLE" >"$WORK/smith.log" 2>&1
tail -n 5 "$WORK/smith.log" | tr '\r' '\n' | tail -n 5

crashed=
if [ -n "${MLM_PG_LOG:-}" ] && [ -f "$MLM_PG_LOG" ]; then
	crashed=$(tail -n +"$((log_lines_before + 1))" "$MLM_PG_LOG" | grep -E 'terminated by signal|PANIC' | head -n 5)
fi
if [ -n "$crashed" ]; then
	echo "$crashed"
	grep -E -B2 -A8 'terminated by signal' "$MLM_PG_LOG" | head -n 40
	die "a server process crashed under sqlsmith (seed $SEED; rerun with SQLSMITH_SEED=$SEED)"
fi
for _ in 1 2 3 4 5 6 7 8 9 10; do
	"$PG_BIN/psql" -X -q -At -d "$DB" -c 'SELECT 1' >/dev/null 2>&1 && break
	sleep 1
done
"$PG_BIN/psql" -X -q -At -d "$DB" -c 'SELECT 1' >/dev/null 2>&1 || die "the server does not answer after sqlsmith"
"$PG_BIN/psql" -X -q -d postgres -c "DROP DATABASE $DB" -c "DROP ROLE $ROLE" >/dev/null
echo "ok: no crash"
