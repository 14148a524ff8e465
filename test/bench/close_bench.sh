#!/usr/bin/env bash
#
# test/bench/close_bench.sh - what a period close costs beyond the
# computation: the same 1,000,000-member period computed in memory
# (mlm.compute, rows counted, nothing written) and closed with audit lines
# off and on (every result row written, in one transaction).  Run by hand;
# not part of the test suite.  About 5 minutes on 2 cores.
#
#   bash test/bench/close_bench.sh
#
# Knobs: N [1000000] members, REPS [3] timed runs of each step, MEM [1]
# measure the backend's peak memory during a close (0: skip), TIMING [1]
# (0: only generate the data and measure memory, e.g. N=10000000 MEM=1
# TIMING=0).
#
# Data as in the engine benchmark: a random recursive sponsor tree (sponsor
# = a random earlier member), ~70 % active (PV drawn around the 50 PV
# activity rule), one sale row per member in the period, joined dates that
# put some members in their first 30 days; the plan of spec section 9 minus
# the binary bonus (personal, 5-level dynamic unilevel, stairstep with
# breakaway and generations, matching, fast start, pool, cap 45 %).
# Time is taken on the server with clock_timestamp() around each statement
# (in a plpgsql function), medians of REPS runs; a CHECKPOINT (not timed)
# before each run and before the close with lines lets the server recycle
# its WAL segments as a running server does, instead of creating and
# zero-filling new ones for the lines' WAL.  Each run discards the
# draft, closes the period (a first close) and closes it again three times
# (the re-close path): with the same inputs, after one late order, and
# under a second version of the plan that changes every payout; the close
# with lines runs under a second name of the same plan (periods of one plan
# may not overlap) and its draft is discarded after each run.
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
N=${N:-1000000}
REPS=${REPS:-3}
MEM=${MEM:-1}
TIMING=${TIMING:-1}

# shellcheck source=../lib.sh
source "$REPO/test/lib.sh"

{
	mlm_find_pg_config
	mlm_build || mlm_die "build failed"
	mlm_setup
	su_psql -d postgres -c "ALTER SYSTEM SET shared_buffers = '1GB'" \
		-c "ALTER SYSTEM SET jit = off" -c "ALTER SYSTEM SET max_wal_size = '8GB'"
	mlm_cluster_stop fast && mlm_cluster_start || mlm_die "restart failed"
} >&2

PSQL=(su_psql -d postgres -v N="$N" -v REPS="$REPS")
echo "== generating data (N = $N)" >&2
"${PSQL[@]}" >&2 <<'SQL'
CREATE EXTENSION mlm;
SELECT setseed(0.42) \gset
CREATE TABLE member AS
SELECT g::bigint AS id,
       CASE WHEN g > 1 THEN 1 + floor(random() * (g - 1))::bigint END AS sponsor_id,
       random() < 0.97 AS active_status,
       date '2024-03-31' - floor(random() * 720)::int AS joined
  FROM generate_series(1, :N) g;
CREATE TABLE sale AS
SELECT id AS member_id, date '2024-03-15' AS sold_on,
       round(((20 + random() * 60) * (random() < 0.75)::int + random() * 40)::numeric, 2) AS pv,
       round((random() * 120)::numeric, 2) AS cv
  FROM member;
VACUUM ANALYZE member;
VACUUM ANALYZE sale;
SELECT mlm.add_plan_version('bench', $plan$
{
  "currency": {"scale": 2, "rounding": "half_up"},
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
    {"name": "unilevel", "type": "unilevel", "compression": "dynamic",
     "rates": [0.10, 0.05, 0.05, 0.04, 0.03],
     "min_rank_by_level": ["Member", "Member", "Bronze", "Bronze", "Silver"]},
    {"name": "stairstep", "type": "differential",
     "rate_by_rank": {"Bronze": 0.05, "Silver": 0.10, "Gold": 0.15},
     "breakaway_rank": "Gold", "generation_rates": [0.04, 0.02]},
    {"name": "match", "type": "matching", "of": ["unilevel"],
     "rates": [0.20, 0.10], "min_rank_by_generation": ["Bronze", "Silver"]},
    {"name": "fast_start", "type": "fast_start", "days": 30, "rates": [0.20]},
    {"name": "gold_pool", "type": "pool", "pct": 0.02, "min_rank": "Gold", "shares": "equal"}
  ],
  "cap": {"pct": 0.45}
}$plan$);
SELECT mlm.add_plan_version('bench_lines', mlm.plan('bench'));
-- version 2 of 'bench' pays retail at 6 %: closing the draft under the other
-- version changes every payout and every member's amount
SELECT mlm.add_plan_version('bench', jsonb_set(mlm.plan('bench'), '{bonuses,0,rate}', '0.06'));
SELECT mlm.register_source('erp', 'member', 'sale', 'sold_on');
CREATE VIEW march AS SELECT member_id, pv, cv FROM sale
 WHERE sold_on BETWEEN '2024-03-01' AND '2024-03-31';
CREATE TABLE timing (step text, run int, ms numeric, rows_written bigint);
-- one timed close of March: its time (on the server) and the rows its run holds
CREATE FUNCTION timed_close(step text, r int, plan text, version int, lines boolean) RETURNS bigint
LANGUAGE plpgsql AS $f$
DECLARE t0 timestamptz; id bigint; w bigint;
BEGIN
  t0 := clock_timestamp();
  id := mlm.close(plan, '2024-03', '2024-03-01', '2024-03-31', 'erp', with_lines => lines, plan_version => version);
  SELECT payout_rows + member_result_rows + carry_out_rows + line_rows + bonus_rows + state_rows + payable_rows INTO w
    FROM mlm.run WHERE run_id = id;
  INSERT INTO timing VALUES (step, r, extract(epoch FROM clock_timestamp() - t0) * 1000, w);
  RETURN id;
END $f$;
SQL

# Peak memory of the backend during a close, lines off (a first close of
# its own period, then discarded): /proc/PID/status sampled every 50 ms
# from the shell while the close runs.  RssAnon is the backend's private
# memory; VmRSS adds the shared_buffers pages it touched.  Reported as the
# growth over the fresh backend (MB).
mem_close() {
	local f=$MLM_TMP/mem.samples pid
	rm -f "$f"
	"${PSQL[@]}" -q -At >/dev/null <<-SQL
		SELECT pg_backend_pid() AS pid \gset
		\setenv BPID :pid
		\setenv MEMF $f
		\! awk '/^(RssAnon|VmRSS):/ {printf "fresh %s %s\\n", \$1, \$2}' /proc/\$BPID/status >>\$MEMF
		\! (while kill -0 \$BPID 2>/dev/null && [ ! -e \$MEMF.stop ]; do awk '/^(RssAnon|VmRSS):/ {printf "run %s %s\\n", \$1, \$2}' /proc/\$BPID/status >>\$MEMF 2>/dev/null; sleep 0.05; done) &
		SELECT clock_timestamp() AS t0 \gset
		SELECT mlm.discard_draft(mlm.close('bench', '2024-04', '2024-04-01', '2024-04-30', 'erp'));
		\! touch \$MEMF.stop; sleep 0.2
		SELECT round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) * 1000) AS ms \gset
		\setenv MS :ms
		\! echo "time \$MS" >>\$MEMF
	SQL
	awk '$1 == "fresh" {b[$2] = $3} $1 == "run" && $3 > m[$2] {m[$2] = $3}
	     $1 == "time" {t = $2}
	     END {printf "peak backend memory during a close, lines off: private (RssAnon) +%.0f MB, VmRSS +%.0f MB (with the shared buffers it touched); the close and its discard took %s ms\n",
	                 (m["RssAnon:"] - b["RssAnon:"]) / 1024, (m["VmRSS:"] - b["VmRSS:"]) / 1024, t}' "$f"
}

if [ "$TIMING" = 0 ]; then
	REPS=0
fi
echo "== timing" >&2
for r in $(seq 1 "$REPS"); do
	"${PSQL[@]}" -q >&2 <<SQL
CHECKPOINT;
DO \$\$
DECLARE t0 timestamptz; n bigint;
BEGIN
  t0 := clock_timestamp();
  SELECT count(*) INTO n FROM mlm.compute(mlm.plan('bench', 1), 'member', 'march', '2024-03-01', '2024-03-31');
  INSERT INTO timing VALUES ('compute in memory (rows counted, lines off)', $r,
    extract(epoch FROM clock_timestamp() - t0) * 1000, 0);
  t0 := clock_timestamp();
  SELECT count(*) INTO n FROM mlm.compute(mlm.plan('bench', 1), 'member', 'march', '2024-03-01', '2024-03-31', NULL, true);
  INSERT INTO timing VALUES ('compute in memory (rows counted, lines on)', $r,
    extract(epoch FROM clock_timestamp() - t0) * 1000, 0);
END \$\$;
SELECT mlm.discard_draft(r.run_id) FROM mlm.run r WHERE r.plan_name = 'bench' AND r.status = 'draft';
SELECT timed_close('close, lines off (first)', $r, 'bench', 1, false);
-- re-closes of that draft: with the same inputs (every row kept), after
-- one late order of a deep member (the rows of its upline change), and
-- under the other plan version (every payout and member row changes)
SELECT timed_close('close, lines off (re-close, same inputs)', $r, 'bench', 1, false);
INSERT INTO sale VALUES ((SELECT max(id) FROM member), date '2024-03-20', 100, 100);
SELECT timed_close('close, lines off (re-close, one late order)', $r, 'bench', 1, false);
DELETE FROM sale WHERE sold_on = date '2024-03-20';
SELECT timed_close('close, lines off (re-close, every row changed)', $r, 'bench', 2, false);
CHECKPOINT;
SELECT mlm.discard_draft(timed_close('close, lines on', $r, 'bench_lines', 1, true));
SQL
done

echo
echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); $("$PG_BIN/postgres" --version)"
echo "N = $N members; medians of $REPS runs; load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
"${PSQL[@]}" -X -A -F ' | ' -t <<'SQL'
WITH m AS (
  SELECT step, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric AS ms, max(rows_written) AS rows
    FROM timing GROUP BY step),
c AS (SELECT ms FROM m WHERE step = 'compute in memory (rows counted, lines off)'),
cl AS (SELECT ms FROM m WHERE step = 'compute in memory (rows counted, lines on)')
SELECT line FROM (
  SELECT 0 AS o, '' AS k, '| step | median | rows written | vs compute alone | µs per row written |' AS line
  UNION ALL SELECT 1, '', '|---|---:|---:|---:|---:|'
  UNION ALL
  SELECT 2, m.step, format('| %s | %s ms | %s | %s | %s |', m.step, round(m.ms), m.rows,
         round(m.ms / CASE WHEN m.step LIKE '%lines on%' THEN cl.ms ELSE c.ms END, 2) || 'x',
         CASE WHEN m.rows > 0 THEN round((m.ms - CASE WHEN m.step LIKE '%lines on%' THEN cl.ms ELSE c.ms END) * 1000 / m.rows, 2)::text ELSE '' END)
    FROM m, c, cl) x
 ORDER BY o, k;
SQL
if [ "$MEM" = 1 ]; then
	echo "== peak memory" >&2
	"${PSQL[@]}" -q -c "INSERT INTO sale SELECT member_id, date '2024-04-15', pv, cv FROM sale WHERE sold_on = date '2024-03-15'" >/dev/null
	echo
	mem_close
fi
mlm_cluster_stop fast >/dev/null 2>&1
mlm_cleanup
