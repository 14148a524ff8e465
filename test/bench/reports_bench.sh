#!/usr/bin/env bash
#
# test/bench/reports_bench.sh - what the reports of docs/reports.md cost on
# a year of history: the income disclosure over twelve finalized runs of N
# members (default 1,000,000), and the commission statement of a member
# with 10,001 audit lines.  Run by hand; not part of the test suite.
#
#   bash test/bench/reports_bench.sh                # N = 1,000,000
#   N=100000 REPS=3 bash test/bench/reports_bench.sh
#
# Knobs: N [1000000] members, PERIODS [12] months closed and finalized,
# REPS [3] timed runs of each report (after one untimed warm-up),
# FRONT [10000] personally sponsored members of member 1, ADJ [N / 100]
# adjustments spread over the runs, SRC [worktree] (or head: git archive
# HEAD), PG_CONFIG.
#
# Data: member 1 sponsors members 2 .. FRONT + 1, every later member has a
# random earlier sponsor (a random recursive tree); ~3 % inactive.  Volumes
# come from a view, one row per member and month, values drawn from a hash
# of (member, month): ~15 % of the rows zero, ~5 % negative (returns), so
# there are zero earners, clawbacks and ties.  The plan: four ranks (PV,
# active frontline, QGV with a leg limit, legs with rank), a 5 % personal
# bonus and a one-level 10 % unilevel, so that member 1 has exactly
# FRONT + 1 lines in the period closed with lines (the last one).  Every
# period is closed with mlm.close and finalized with mlm.finalize; the times
# of those are printed too.  Each report is timed on the server
# (clock_timestamp() around the query, result rows counted: see
# bench_lib.sh); medians of REPS runs, backend CPU beside.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH_DIR=$REPO/test/bench
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
N=${N:-1000000}
PERIODS=${PERIODS:-12}
REPS=${REPS:-3}
FRONT=${FRONT:-10000}
ADJ=${ADJ:-$((N / 100))}
SRC=${SRC:-worktree}
[ "$FRONT" -lt "$N" ] || FRONT=$((N - 1))

BENCH_NAME=reports_bench.sh
# shellcheck source=bench_lib.sh
source "$BENCH_DIR/bench_lib.sh"

setup_cluster
say "== data: N = $N members, $PERIODS periods, member 1 sponsors $FRONT"
t0=$SECONDS
bpsql -v N="$N" -v PERIODS="$PERIODS" -v FRONT="$FRONT" <<'SQL'
SELECT setseed(0.14);
CREATE TABLE member AS
SELECT g::bigint AS id,
       CASE WHEN g = 1 THEN NULL
            WHEN g <= :FRONT + 1 THEN 1
            ELSE 1 + floor(random() * (g - 1))::bigint END AS sponsor_id,
       g = 1 OR random() > 0.03 AS active_status
  FROM generate_series(1, :N) g;
ALTER TABLE member ADD PRIMARY KEY (id);
CREATE TABLE month AS
SELECT p, to_char(date '2024-01-01' + make_interval(months => p - 1), 'YYYY-MM') AS label,
       (date '2024-01-01' + make_interval(months => p - 1))::date AS first_day,
       (date '2024-01-01' + make_interval(months => p) - interval '1 day')::date AS last_day
  FROM generate_series(1, :PERIODS) p;
-- one volume row per member and month, from a hash: no 12 x N table to store
CREATE VIEW volume AS
SELECT m.id AS member_id,
       CASE WHEN m.id = 1 THEN 100
            WHEN h % 100 < 15 THEN 0 WHEN h % 100 < 20 THEN -((h / 100) % 60) ELSE 20 + (h / 100) % 110 END::numeric AS pv,
       CASE WHEN m.id <= :FRONT + 1 THEN 1 + (h / 100) % 120   -- member 1's frontline: one line each
            WHEN h % 100 < 15 THEN 0 WHEN h % 100 < 20 THEN -((h / 100) % 50) ELSE (h / 100) % 120 END::numeric AS cv,
       mo.label AS period
  FROM member m CROSS JOIN month mo
  CROSS JOIN LATERAL (SELECT abs(hashint8(m.id * 100 + mo.p)::bigint) AS h) x;
VACUUM ANALYZE member;
VACUUM ANALYZE month;
SELECT mlm.add_plan_version('bench', $plan$
{
  "currency": {"scale": 2},
  "active": {"min_pv": 50},
  "ranks": [
    {"name": "Member"},
    {"name": "Bronze", "min_pv": 50, "min_active_frontline": 2},
    {"name": "Silver", "min_pv": 50, "min_gv": 1000, "max_leg_pct": 0.5},
    {"name": "Gold", "min_pv": 100, "min_gv": 5000, "max_leg_pct": 0.5,
     "legs_with_rank": {"rank": "Silver", "count": 2}}
  ],
  "bonuses": [
    {"name": "retail", "type": "personal", "rate": 0.05},
    {"name": "unilevel", "type": "unilevel", "rates": [0.10]}
  ]
}$plan$) \gset
SELECT mlm.register_source('erp', 'member', 'volume', 'period') \gset
CREATE TABLE close_time (p int, label text, close_ms numeric, finalize_ms numeric, members bigint, lines bigint);
SQL
say "   generated in $((SECONDS - t0)) s"

say "== closing and finalizing $PERIODS periods (the last with audit lines)"
for p in $(seq 1 "$PERIODS"); do
	bpsql -v p="$p" -v periods="$PERIODS" <<'SQL'
SELECT set_config('bench.p', :'p', false), set_config('bench.periods', :'periods', false) \gset
DO $$
DECLARE
  mo record; t0 timestamptz; t1 timestamptz; id bigint;
BEGIN
  SELECT * INTO mo FROM month WHERE p = current_setting('bench.p')::int;
  t0 := clock_timestamp();
  id := mlm.close('bench', mo.label, mo.first_day, mo.last_day, 'erp',
                  with_lines => mo.p = current_setting('bench.periods')::int);
  t1 := clock_timestamp();
  PERFORM mlm.finalize(id);
  INSERT INTO close_time
  SELECT mo.p, mo.label, round(extract(epoch FROM t1 - t0) * 1000), round(extract(epoch FROM clock_timestamp() - t1) * 1000),
         r.member_rows, r.line_rows
    FROM mlm.run r WHERE r.run_id = id;
END $$;
SELECT format('   %s: close %s ms, finalize %s ms, %s members, %s lines', label, close_ms, finalize_ms, members, lines)
  FROM close_time WHERE p = :p \g (format=unaligned tuples_only=on)
SQL
done
say "== $ADJ adjustments, a fifth of them negative"
bpsql -v adj="$ADJ" -v n="$N" <<'SQL'
SELECT setseed(0.5) \gset
SELECT count(mlm.adjust(r.run_id, 1 + floor(random() * :n)::bigint,
                        CASE WHEN random() < 0.2 THEN -5.00 ELSE 2.50 END, 'bench'))
  FROM generate_series(1, :adj) g, LATERAL (SELECT run_id FROM mlm.run ORDER BY random() + g * 0 LIMIT 1) r
 \g (format=unaligned tuples_only=on)
VACUUM ANALYZE mlm.run_member;
VACUUM ANALYZE mlm.run_payout;
VACUUM ANALYZE mlm.run_line_pack;
VACUUM ANALYZE mlm.adjustment;
SELECT format('   history: %s runs, %s member rows, %s payouts, %s lines, %s adjustments; mlm tables %s',
              (SELECT count(*) FROM mlm.run), (SELECT count(*) FROM mlm.run_member),
              (SELECT count(*) FROM mlm.run_payout), (SELECT count(*) FROM mlm.run_line),
              (SELECT count(*) FROM mlm.adjustment),
              pg_size_pretty((SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c
                               JOIN pg_namespace n ON n.oid = c.relnamespace
                              WHERE n.nspname = 'mlm' AND c.relkind = 'r')::bigint))
 \g (format=unaligned tuples_only=on)
SQL
LAST=$(bpsql -At -c "SELECT max(run_id) FROM mlm.run")
FROM=2024-01-01
TO=2024-12-31
[ "$PERIODS" -le 12 ] || TO=2099-12-31
say "   member 1 in run $LAST: $(bpsql -At -c "SELECT count(*) FROM mlm.run_line WHERE run_id = $LAST AND member_id = 1") lines"
LEAF=$(bpsql -At -c "SELECT max(member_id) FROM mlm.run_member WHERE run_id = $LAST")

say "== timing (median of $REPS after a warm-up; wall ms on the server, backend cpu)"
run_timed disclosure "$REPS" 3600 1 "SELECT count(*) FROM mlm.income_disclosure('bench', '$FROM', '$TO')"
run_timed disclosure_text "$REPS" 3600 1 "SELECT length(mlm.income_disclosure_text('bench', '$FROM', '$TO'))"
run_timed disclosure_1run "$REPS" 3600 1 "SELECT count(*) FROM mlm.income_disclosure('bench', '$FROM', '2024-01-31')"
run_timed statement_10k "$REPS" 600 1 "SELECT jsonb_array_length(s -> 'bonuses'), length(s::text) FROM mlm.statement($LAST, 1) s"
run_timed statement_text_10k "$REPS" 600 1 "SELECT length(mlm.statement_text($LAST, 1))"
run_timed statement_leaf "$REPS" 600 1 "SELECT length(mlm.statement($LAST, $LEAF)::text)"
run_timed rank_progress_all "$REPS" 3600 1 "SELECT count(*) FROM mlm.rank_progress($LAST)"

echo
echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); $("$PGBIN/postgres" --version); load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "N = $N members, $PERIODS finalized runs, $ADJ adjustments; medians of $REPS runs"
echo
echo "| report | median | cpu | result |"
echo "|---|---:|---:|---|"
for k in disclosure disclosure_text disclosure_1run statement_10k statement_text_10k statement_leaf rank_progress_all; do
	printf '| %s | %s ms | %s ms | %s |\n' "$k" "$(fmt_ms "${MED[$k]}")" "$(fmt_ms "${CPU[$k]}")" "${RES[$k]}"
done
echo
bpsql -At -c "SELECT format('closes: median %s ms, finalize median %s ms (lines off); with lines: close %s ms',
                  percentile_disc(0.5) WITHIN GROUP (ORDER BY close_ms) FILTER (WHERE lines = 0),
                  percentile_disc(0.5) WITHIN GROUP (ORDER BY finalize_ms) FILTER (WHERE lines = 0),
                  max(close_ms) FILTER (WHERE lines > 0)) FROM close_time"
