#!/usr/bin/env bash
#
# test/shell/reclose.sh - a draft closed again and again, each close its own
# transaction, leaves exactly the rows a first close would.
#
# A re-close keeps the draft's rows that did not change and deletes the
# others while it reads them through the primary keys.  Once a re-close has
# committed, the rows it deleted are dead to everyone, and the next
# re-close's index scans mark their entries dead as they go: that path runs
# only across committed transactions, which the pgTAP tests (one
# transaction each) never see.  Here 20,000 members are closed eight times
# in autocommit: under two plan versions in turn (every payout changes),
# with a late order added and removed, with audit lines turned on and off.
# After each close every result table of the run must equal what
# mlm.preview computes for the same inputs and plan version.
#
# Environment: as every test/shell test (see test/lib.sh).  Exit 0 on success.
set -uo pipefail

: "${REPO:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
if ! declare -F mlm_pick_port >/dev/null; then
	# shellcheck source=test/lib.sh
	source "$REPO/test/lib.sh"
fi
: "${PG_BIN:?PG_BIN is not set}" "${PGHOST:?PGHOST is not set}" "${PGPORT:?PGPORT is not set}"
export PGUSER=${PGUSER:-postgres}
DB=mlm_reclose
die() {
	printf 'FAIL: %s\n' "$*" >&2
	exit 1
}
psql_db() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$DB" "$@"; }

"$PG_BIN/psql" -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null ||
	die "cannot create $DB"
psql_db >/dev/null <<'SQL' || die "setup failed"
CREATE EXTENSION mlm;
CREATE SCHEMA erp;
CREATE TABLE erp.members AS
  SELECT i::bigint AS id, CASE WHEN i > 1 THEN (i * 7919) % (i - 1) + 1 END::bigint AS sponsor_id,
         (i % 13 <> 0) AS active_status, date '2024-03-31' - (i % 200) AS joined
    FROM generate_series(1, 20000) i;
CREATE TABLE erp.orders AS
  SELECT i::bigint AS member_id, date '2024-03-10' + (i % 20) AS sold_on,
         ((i * 37) % 120)::numeric(10, 2) AS pv, ((i * 53) % 150)::numeric(10, 2) AS cv
    FROM generate_series(1, 20000) i;
SELECT mlm.add_plan_version('rc', '{
  "currency": {"scale": 2},
  "active": {"min_pv": 50},
  "ranks": [{"name": "Member"}, {"name": "Bronze", "min_pv": 50, "min_active_frontline": 2},
            {"name": "Silver", "min_pv": 50, "min_gv": 2000}],
  "bonuses": [
    {"name": "retail", "type": "personal", "rate": 0.05},
    {"name": "unilevel", "type": "unilevel", "compression": "dynamic", "rates": [0.10, 0.05, 0.03]},
    {"name": "stairstep", "type": "differential", "rate_by_rank": {"Bronze": 0.05, "Silver": 0.10}},
    {"name": "match", "type": "matching", "of": ["unilevel"], "rates": [0.20]},
    {"name": "fast_start", "type": "fast_start", "days": 30, "rates": [0.20]}]}');
SELECT mlm.add_plan_version('rc', jsonb_set(mlm.plan('rc'), '{bonuses,0,rate}', '0.06'));
SELECT mlm.register_source('rc', 'erp.members', 'erp.orders', 'sold_on');

-- the rows of run id that differ from mlm.preview of its period, plan
-- version, source and with_lines (0 when the close wrote what it should)
CREATE FUNCTION public.differences(id bigint) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    r mlm.run;
    n bigint;
BEGIN
    SELECT * INTO r FROM mlm.run WHERE run_id = id;
    CREATE TEMP TABLE p ON COMMIT DROP AS
    SELECT row_number() OVER () AS seq, c.*
      FROM mlm.preview(r.plan_name, r.period_label, r.period_start, r.period_end, r.source_name,
                       r.with_lines, r.plan_version) c;
    SELECT (SELECT count(*) FROM ((SELECT member_id, bonus, amount FROM p WHERE kind = 'payout'
                                   EXCEPT ALL SELECT member_id, bonus, amount FROM mlm.run_payout WHERE run_id = id)
                                  UNION ALL (SELECT member_id, bonus, amount FROM mlm.run_payout WHERE run_id = id
                                   EXCEPT ALL SELECT member_id, bonus, amount FROM p WHERE kind = 'payout')) d)
         + (SELECT count(*) FROM ((SELECT member_id, pv, gv, active, rank, amount FROM p WHERE kind = 'member'
                                   EXCEPT ALL SELECT member_id, pv, gv, active, rank, amount FROM mlm.run_member WHERE run_id = id)
                                  UNION ALL (SELECT member_id, pv, gv, active, rank, amount FROM mlm.run_member WHERE run_id = id
                                   EXCEPT ALL SELECT member_id, pv, gv, active, rank, amount FROM p WHERE kind = 'member')) d)
         + (SELECT count(*) FROM ((SELECT row_number() OVER (ORDER BY seq), member_id, bonus, source_id, level, base, rate, amount
                                     FROM p WHERE kind = 'line'
                                   EXCEPT ALL SELECT line_no, member_id, bonus, source_id, level, base, rate, amount
                                     FROM mlm.run_line WHERE run_id = id)
                                  UNION ALL (SELECT line_no, member_id, bonus, source_id, level, base, rate, amount
                                               FROM mlm.run_line WHERE run_id = id
                                   EXCEPT ALL SELECT row_number() OVER (ORDER BY seq), member_id, bonus, source_id, level, base, rate, amount
                                     FROM p WHERE kind = 'line')) d)
         + (SELECT count(*) FROM ((SELECT bonus, base, amount FROM p WHERE kind = 'total' AND bonus IS NOT NULL
                                   EXCEPT ALL SELECT bonus, total_before_cap, total_paid FROM mlm.run_bonus_total WHERE run_id = id)
                                  UNION ALL (SELECT bonus, total_before_cap, total_paid FROM mlm.run_bonus_total WHERE run_id = id
                                   EXCEPT ALL SELECT bonus, base, amount FROM p WHERE kind = 'total' AND bonus IS NOT NULL)) d)
      INTO n;
    DROP TABLE p;
    RETURN n;
END $$;
SQL

fail=0
step=0
# close VERSION LINES [SQL before]: one close in its own transaction, then
# its rows against the preview
close() {
	local version=$1 lines=$2 before=${3:-} id got
	step=$((step + 1))
	if [ -n "$before" ]; then
		psql_db -c "$before" >/dev/null || die "step $step: $before"
	fi
	id=$(psql_db -At -c "SELECT mlm.close('rc', '2024-03', '2024-03-01', '2024-03-31', 'rc',
	                                      with_lines => $lines, plan_version => $version)") ||
		die "step $step: close (version $version, lines $lines) failed"
	got=$(psql_db -At -c "SELECT attempt || ' ' || differences($id) FROM mlm.run WHERE run_id = $id") ||
		die "step $step: comparing failed"
	if [ "$got" = "$step 0" ]; then
		echo "  close $step (version $version, lines $lines${before:+, after: $before}): attempt $step, same rows as the preview"
	else
		echo "  close $step (version $version, lines $lines): attempt and differences $got, expected $step 0"
		fail=1
	fi
}
close 1 false
close 2 false
close 1 false
close 2 true
close 2 true "INSERT INTO erp.orders VALUES (19999, '2024-03-30', 500, 700)"
close 1 true "DELETE FROM erp.orders WHERE sold_on = '2024-03-30' AND pv = 500"
close 1 false
close 2 false "UPDATE erp.members SET active_status = NOT active_status WHERE id % 97 = 0"
[ "$fail" = 0 ] || die "a re-close left other rows than the preview computes"
"$PG_BIN/psql" -X -q -d postgres -c "DROP DATABASE $DB" >/dev/null
echo ok
