-- test/demo.sql: the walk-through run by test/demo.sh (psql -X -f).
-- A sample network of 100,000 distributors, the example plan of the spec,
-- two month-end closes with carry-forward, the questions a DBA asks and the
-- compliance reports (income disclosure, statement, rank progress).
\set ON_ERROR_STOP on
\pset footer off
\timing off
\o /dev/null
SELECT setseed(0.42);
\o

\echo '=== 1. CREATE EXTENSION mlm'
CREATE EXTENSION mlm;

\echo ''
\echo '=== 2. An ERP: 100,000 distributors, each recruited by an earlier one'
CREATE TABLE distributor (
    id            bigint PRIMARY KEY,
    name          text,
    sponsor_id    bigint,
    placement_id  bigint,
    "position"    integer,
    active_status boolean NOT NULL DEFAULT true,
    joined        date
);
-- preferential recruiting: recent recruiters recruit more
INSERT INTO distributor (id, name, sponsor_id, active_status, joined)
SELECT g, 'Distributor ' || g,
       CASE WHEN g = 1 THEN NULL
            ELSE greatest(1, g - 1 - floor(power(random(), 3) * (g - 1))::bigint) END,
       random() > 0.05,
       date '2024-03-31' - (100000 - g) / 300
  FROM generate_series(1, 100000) g;

\echo '--- binary placement at enrolment: every recruit goes to the weaker leg of its sponsor'
WITH snapshot AS (SELECT mlm.tree_agg(id, NULL::bigint, NULL::bigint, NULL::integer) AS t
                    FROM distributor WHERE id = 1),
     batch AS (SELECT array_agg(id ORDER BY id) AS ids, array_agg(sponsor_id ORDER BY id) AS sponsors
                 FROM distributor WHERE id > 1)
UPDATE distributor d SET placement_id = p.placement_id, "position" = p."position"
  FROM snapshot, batch, mlm.place_many(snapshot.t, batch.ids, batch.sponsors, 'weaker_leg') p
 WHERE d.id = p.member_id;

-- orders of two months
CREATE TABLE sale (id bigserial PRIMARY KEY, member_id bigint NOT NULL, sold_on date NOT NULL,
                   pv numeric(12,2) NOT NULL, cv numeric(12,2) NOT NULL);
INSERT INTO sale (member_id, sold_on, pv, cv)
SELECT 1 + floor(random() * 100000)::bigint, date '2024-03-01' + floor(random() * 61)::int,
       round((20 + random() * 60)::numeric, 2), round((15 + random() * 50)::numeric, 2)
  FROM generate_series(1, 250000);
ANALYZE distributor; ANALYZE sale;

\echo ''
\echo '=== 3. A genealogy snapshot (mlm.tree) and its shape'
CREATE TABLE genealogy AS
  SELECT date '2024-03-31' AS taken_on, mlm.tree_agg(id, sponsor_id, placement_id, "position") AS t
    FROM distributor;
SELECT taken_on, mlm.size(t) AS members, pg_size_pretty(pg_column_size(t)::bigint) AS stored
  FROM genealogy;
SELECT s.* FROM genealogy, mlm.stats(t) s;

\echo ''
\echo '--- the three levels below distributor 2, and how many there are per level'
SELECT level, count(*) AS members, min(member_id) AS first_id
  FROM genealogy, mlm.downline(t, 2, 3) GROUP BY level ORDER BY level;

\echo '--- the upline of distributor 99999 (first 5 levels) and its path from the root'
SELECT u.level, u.member_id, d.name
  FROM genealogy, mlm.upline(t, 99999) u JOIN distributor d ON d.id = u.member_id
 WHERE u.level <= 5 ORDER BY u.level;
SELECT mlm.path(t, 99999) AS path_from_root FROM genealogy;

\echo '--- per-row use joins back to the ERP tables: the deepest distributors'
SELECT d.id, d.name, mlm.depth(g.t, d.id) AS depth
  FROM genealogy g, distributor d ORDER BY 3 DESC, 1 LIMIT 5;

\echo ''
\echo '=== 4. The compensation plan of spec section 9, stored as version 1'
SELECT mlm.add_plan_version('example', $plan$
{
  "name": "example",
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
    {"name": "binary", "type": "binary", "rate": 0.10, "cap": 5000,
     "max_carry": 20000},
    {"name": "match", "type": "matching", "of": ["unilevel", "binary"],
     "rates": [0.20, 0.10], "min_rank_by_generation": ["Bronze", "Silver"]},
    {"name": "fast_start", "type": "fast_start", "days": 30, "rates": [0.20]},
    {"name": "gold_pool", "type": "pool", "pct": 0.02, "min_rank": "Gold",
     "shares": "equal"}
  ],
  "cap": {"pct": 0.45}
}$plan$) AS version;

\echo '--- a plan editor asks what is wrong with a draft plan (nothing is raised)'
SELECT * FROM mlm.validate_plan('{"ranks":[{"name":"Member"}],
  "bonuses":[{"name":"uni","type":"unilevel","rates":[0.1,1.5],"compresion":"dynamic"}]}');

\echo ''
\echo '=== 5. The ERP registers where members and period volumes come from'
CREATE VIEW period_volume AS
  SELECT member_id, sold_on, pv, cv FROM sale;
\o /dev/null
SELECT mlm.register_source('erp', 'distributor', 'period_volume', 'sold_on');
\o
SELECT source_name, members, volumes, period_column, period_kind FROM mlm.source;

\echo ''
\echo '=== 6. March: preview (writes nothing), then close as a draft'
SELECT kind, count(*) AS rows FROM mlm.preview('example', '2024-03', '2024-03-01', '2024-03-31', 'erp')
 GROUP BY kind ORDER BY kind;
SELECT mlm.close('example', '2024-03', '2024-03-01', '2024-03-31', 'erp') AS march_run \gset
\x on
SELECT run_id, plan_name, plan_version, period_label, period_start, period_end, status,
       source_name, attempt, member_rows, volume_rows, input_checksum, total_cv,
       total_before_cap, cap_limit, cap_factor, total_paid, payout_rows,
       member_result_rows, carry_out_rows, duration, run_by,
       pg_size_pretty(pg_column_size(snapshot)::bigint) AS snapshot_kept
  FROM mlm.run WHERE run_id = :march_run;
\x off

\echo '--- top earners of March per bonus'
SELECT bonus, member_id, amount
  FROM (SELECT p.bonus, p.member_id, p.amount,
               row_number() OVER (PARTITION BY p.bonus ORDER BY p.amount DESC, p.member_id) AS rn
          FROM mlm.run_payout p WHERE p.run_id = :march_run) x
 WHERE rn <= 3 ORDER BY bonus, amount DESC;

\echo '--- ranks reached in March'
SELECT rank, count(*) AS members FROM mlm.run_member WHERE run_id = :march_run GROUP BY rank ORDER BY count(*) DESC;

\echo '--- late orders arrive; the draft is re-run, then frozen'
INSERT INTO sale (member_id, sold_on, pv, cv) VALUES (2, '2024-03-31', 500, 400);
SELECT mlm.close('example', '2024-03', '2024-03-01', '2024-03-31', 'erp') AS march_run \gset
SELECT mlm.finalize(:march_run) AS finalized_run;
\echo '--- a finalized period cannot be re-run (the error is expected)'
\set ON_ERROR_STOP off
SELECT mlm.close('example', '2024-03', '2024-03-01', '2024-03-31', 'erp');
\set ON_ERROR_STOP on
\echo '--- corrections after finalize are adjustments, never edits'
SELECT mlm.adjust(:march_run, 2, -25.00, 'returned order #1234') AS adjustment_id;

\echo ''
\echo '=== 7. April: the binary carry-in is taken from March automatically'
SELECT mlm.close('example', '2024-04', '2024-04-01', '2024-04-30', 'erp') AS april_run \gset
SELECT r.period_label, r.status, count(c.*) AS members_with_carry_out,
       sum(c.carry_left) AS carry_left, sum(c.carry_right) AS carry_right
  FROM mlm.run r LEFT JOIN mlm.run_carry c USING (run_id)
 GROUP BY r.run_id, r.period_label, r.status ORDER BY r.run_id;

\echo '--- payout totals per run, adjustments included'
SELECT * FROM mlm.run_totals ORDER BY 1;

\echo ''
\echo '=== 8. Years later: who was in the downline of distributor 2 when March was paid?'
SELECT count(*) AS downline_in_march FROM mlm.run_downline(:march_run, 2);

\echo ''
\echo '=== 9. A picture of it: distributor 2 and two placement levels below, as March paid them (the drawing has three)'
SELECT member_id, parent_id, level, "position", rank, pv, gv, amount
  FROM mlm.run_genealogy(:march_run, 2, 2, 'placement');
\set QUIET on
\o :demo_dot
\pset format unaligned
\pset tuples_only on
SELECT mlm.run_genealogy_dot(:march_run, 2, 3, 'placement');
\pset format aligned
\pset tuples_only off
\o
\set QUIET off
\echo 'Graphviz DOT written; test/demo.sh renders it with dot -Tsvg when graphviz is installed.'

\echo ''
\echo '=== 10. Compliance: April is approved; the income disclosure of March and April (finalized runs only)'
SELECT mlm.finalize(:april_run) AS finalized_run;
\set QUIET on
\pset format unaligned
\pset tuples_only on
SELECT mlm.income_disclosure_text('example', '2024-03-01', '2024-04-30');
\pset format aligned
\pset tuples_only off
\set QUIET off
\echo '--- the statement of distributor 2 for March, as an ERP back office receives it (abridged)'
SELECT s -> 'ranks' AS ranks, s -> 'earned' AS earned, s -> 'adjustments_total' AS adjustments, s -> 'total' AS total,
       s #> '{next_rank,rank}' AS next_rank,
       s #> '{next_rank,requirements_met}' AS met, s #> '{next_rank,requirements_total}' AS of
  FROM mlm.statement(:march_run, 2) s;
\echo '--- who in April is closest to Gold: every Gold requirement met but one'
SELECT member_id, qualified_rank, string_agg(requirement || ' ' || reached || ' of ' || needed, ', ') FILTER (WHERE NOT met) AS missing
  FROM mlm.rank_progress(:april_run, 'Gold')
 WHERE qualified_rank <> 'Gold'
 GROUP BY member_id, qualified_rank
HAVING count(*) FILTER (WHERE NOT met) = 1
 ORDER BY min(shortfall) FILTER (WHERE NOT met) / max(needed) FILTER (WHERE NOT met), member_id
 LIMIT 5;
