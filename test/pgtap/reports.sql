-- test/pgtap/reports.sql
--
-- Reports over closed periods (src/sql/75_reports.sql, docs/reports.md):
--  * the income disclosure (spec 14.1) equals the same figures computed
--    independently in plain SQL (DISTINCT ON for the title, the view
--    mlm.payout_totals for the income, percentile_disc for the percentiles,
--    avg for the mean) on random networks closed and finalized with
--    mlm.close / mlm.finalize: negative volumes (clawbacks), negative and
--    positive adjustments, many zero earners and ties, drafts left out,
--    several date ranges;
--  * a hand case whose incomes are known (a personal bonus of rate 1 pays
--    each member its CV): nearest-rank positions, the mean rounded half up,
--    every rank listed, the text, CSV and JSON forms;
--  * contract v2 scenarios: customers (a quarter of the members; some
--    change type between periods), RV, titles kept above the qualified rank
--    with grace, the payables ledger with holds and a minimum payout,
--    customer rank requirements;
--  * the customer-volume test (spec 14.2) per run and per distributor
--    against plain SQL, and by hand around one half;
--  * the errors: unknown plan, from > to, no finalized run, NULLs;
--  * every member's statement of random runs reconciles with
--    mlm.payout_totals, mlm.run_payout, mlm.run_line, mlm.run_member and
--    mlm.run_payable;
--  * rank progress agrees with the engine's ranks: every member meets every
--    requirement of its own qualified rank, and misses at least one of each
--    higher rank; one member's progress (mlm.statement) equals its rows of
--    mlm.rank_progress.
-- Everything is rolled back.

\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off

BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(90);

CREATE SCHEMA rep_t;

-- ---------------------------------------------------------------------------
-- Random scenarios
-- ---------------------------------------------------------------------------
-- Scenario k: n members (ids spread out, some negative), a random recursive
-- or preferential sponsor tree, `periods` monthly periods from 2024-01 of
-- volumes from small sets (ties), some negative (returns), a fifth of the
-- members without volume; a plan with four ranks of random thresholds and
-- personal, unilevel and matching bonuses, in some scenarios a cap.  Every
-- period is closed (odd ones with lines) and finalized, except the last
-- `drafts`; random adjustments, negative ones included, on finalized runs.
CREATE FUNCTION rep_t.scenario(k integer, seed double precision, n integer, periods integer, drafts integer,
                               preferential boolean, with_cap boolean)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    p        integer;
    run      bigint;
    plan     jsonb;
    runs     bigint[] := '{}';
BEGIN
    PERFORM setseed(seed);
    EXECUTE format('CREATE TABLE rep_t.m%s (id bigint, sponsor_id bigint, active_status boolean)', k);
    EXECUTE format($q$
        INSERT INTO rep_t.m%1$s
        SELECT g * 7 - 50, CASE WHEN g > 1 THEN
                   (CASE WHEN %2$L THEN greatest(1, g - 1 - floor(power(random(), 3) * (g - 1))::integer)
                         ELSE 1 + floor(random() * (g - 1))::integer END) * 7 - 50 END,
               random() > 0.05
          FROM generate_series(1, %3$s) g$q$, k, preferential, n);
    EXECUTE format('CREATE TABLE rep_t.v%s (member_id bigint, pv numeric, cv numeric, period text)', k);
    EXECUTE format($q$
        INSERT INTO rep_t.v%1$s
        SELECT m.id,
               (ARRAY[0, 20, 50, 50, 60, 100, 100, 150, 300, -40])[1 + floor(random() * 10)::integer],
               (ARRAY[0, 10, 25, 25, 50, 80, 120, -30, -60, 200])[1 + floor(random() * 10)::integer],
               to_char(date '2024-01-01' + make_interval(months => p - 1), 'YYYY-MM')
          FROM rep_t.m%1$s m, generate_series(1, %2$s) p
         WHERE random() < 0.8$q$, k, periods);
    plan := jsonb_build_object(
        'currency', jsonb_build_object('scale', 2),
        'active', jsonb_build_object('min_pv', 50),
        'ranks', jsonb_build_array(
            jsonb_build_object('name', 'Member'),
            jsonb_build_object('name', 'Bronze', 'min_pv', 50 + 10 * floor(random() * 3),
                               'min_active_frontline', 1 + floor(random() * 2)),
            jsonb_build_object('name', 'Silver', 'min_pv', 50, 'min_gv', 200 + 100 * floor(random() * 4))
              || CASE WHEN random() < 0.7 THEN jsonb_build_object('max_leg_pct', 0.5) ELSE '{}' END,
            jsonb_build_object('name', 'Gold', 'min_pv', 100, 'min_gv', 600 + 200 * floor(random() * 3),
                               'max_leg_pct', 0.6,
                               'legs_with_rank', jsonb_build_object('rank', 'Bronze', 'count', 1 + floor(random() * 2)))),
        'bonuses', jsonb_build_array(
            jsonb_build_object('name', 'retail', 'type', 'personal', 'rate', 0.05),
            jsonb_build_object('name', 'uni', 'type', 'unilevel', 'rates', jsonb_build_array(0.10, 0.05, 0.03)),
            jsonb_build_object('name', 'match', 'type', 'matching', 'of', jsonb_build_array('uni'),
                               'rates', jsonb_build_array(0.20))))
        || CASE WHEN with_cap THEN jsonb_build_object('cap', jsonb_build_object('pct', 0.12)) ELSE '{}' END;
    PERFORM mlm.add_plan_version('rep' || k, plan);
    PERFORM mlm.register_source('rep' || k, format('rep_t.m%s', k)::regclass, format('rep_t.v%s', k)::regclass, 'period');
    FOR p IN 1 .. periods LOOP
        run := mlm.close('rep' || k, to_char(date '2024-01-01' + make_interval(months => p - 1), 'YYYY-MM'),
                         (date '2024-01-01' + make_interval(months => p - 1))::date,
                         (date '2024-01-01' + make_interval(months => p) - interval '1 day')::date,
                         'rep' || k, with_lines => p % 2 = 1);
        IF p <= periods - drafts THEN
            PERFORM mlm.finalize(run);
            runs := runs || run;
        END IF;
    END LOOP;
    -- adjustments: about one member in ten of each finalized run, some twice
    PERFORM mlm.adjust(x.run_id, x.member_id,
                       (ARRAY[-5.00, 2.50, 10.00, -0.01, -20.00, 0.05])[1 + floor(random() * 6)::integer], 'test')
       FROM (SELECT r.run_id, m.member_id FROM unnest(runs) r(run_id)
               JOIN mlm.run_member m ON m.run_id = r.run_id
              WHERE random() < 0.1
             UNION ALL
             SELECT r.run_id, m.member_id FROM unnest(runs) r(run_id)
               JOIN mlm.run_member m ON m.run_id = r.run_id
              WHERE random() < 0.03) x;
END
$$;

-- Scenario k of contract v2: a quarter of the members are customers (a
-- customer's sponsor is any earlier member, a distributor's an earlier
-- distributor), RV on distributors' volume, payout holds; a plan with a rank
-- policy (grace), a payables ledger, customer rank requirements, a retail
-- bonus on customer volume and rank advancement.  After the second period
-- some customers become distributors and some leaf distributors customers,
-- so that titles come from a member's last run as a distributor.
CREATE FUNCTION rep_t.scenario2(k integer, seed double precision, n integer, periods integer, drafts integer)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    p      integer;
    g      integer;
    run    bigint;
    dist   bigint[] := ARRAY[1];
    runs   bigint[] := '{}';
    plan   jsonb;
BEGIN
    PERFORM setseed(seed);
    EXECUTE format('CREATE TABLE rep_t.m%s (id bigint, sponsor_id bigint, active_status boolean,
                                            member_type text, payout_hold boolean)', k);
    EXECUTE format('INSERT INTO rep_t.m%s VALUES (1, NULL, true, NULL, NULL)', k);
    FOR g IN 2 .. n LOOP
        IF random() < 0.25 THEN
            EXECUTE format('INSERT INTO rep_t.m%s VALUES ($1, $2, true, ''customer'', NULL)', k)
              USING g, 1 + floor(random() * (g - 1))::bigint;
        ELSE
            EXECUTE format('INSERT INTO rep_t.m%s VALUES ($1, $2, $3, $4, $5)', k)
              USING g, dist[1 + floor(random() * cardinality(dist))::integer], random() > 0.05,
                    CASE WHEN random() < 0.5 THEN 'distributor' END, random() < 0.05;
            dist := dist || g::bigint;
        END IF;
    END LOOP;
    EXECUTE format('CREATE TABLE rep_t.v%s (member_id bigint, pv numeric, cv numeric, rv numeric, period text)', k);
    EXECUTE format($q$
        INSERT INTO rep_t.v%1$s
        SELECT m.id, x.pv, x.pv * 0.8, CASE WHEN m.member_type = 'customer' OR x.pv <= 0 THEN 0
                                            ELSE (ARRAY[0, 0, 10, 20, 40])[1 + floor(random() * 5)::integer] END,
               to_char(date '2024-01-01' + make_interval(months => p - 1), 'YYYY-MM')
          FROM rep_t.m%1$s m, generate_series(1, %2$s) p,
               LATERAL (SELECT (ARRAY[0, 20, 40, 50, 60, 100, 100, 150, -30])[1 + floor(random() * 9 + m.id * 0)::integer]::numeric AS pv) x
         WHERE random() < 0.85$q$, k, periods);
    plan := jsonb_build_object(
        'currency', jsonb_build_object('scale', 2),
        'active', jsonb_build_object('min_pv', 50),
        'rank_policy', jsonb_build_object('grace_periods', 1),
        'payout', jsonb_build_object('min_payout', 15),
        'ranks', jsonb_build_array(
            jsonb_build_object('name', 'Member'),
            jsonb_build_object('name', 'Bronze', 'min_pv', 50, 'min_customers', 1),
            jsonb_build_object('name', 'Silver', 'min_pv', 60, 'min_customer_pv', 40 + 20 * floor(random() * 3),
                               'min_gv', 250, 'max_leg_pct', 0.5),
            jsonb_build_object('name', 'Gold', 'min_pv', 60, 'min_customer_share', (ARRAY[0.2, 0.3, 0.4])[1 + floor(random() * 3)::integer],
                               'min_gv', 500, 'min_active_frontline', 2,
                               'legs_with_rank', jsonb_build_object('rank', 'Bronze', 'count', 1))),
        'bonuses', jsonb_build_array(
            jsonb_build_object('name', 'retail', 'type', 'personal', 'rate', 0.20, 'volume', 'customer'),
            jsonb_build_object('name', 'uni', 'type', 'unilevel', 'rates', jsonb_build_array(0.10, 0.05)),
            jsonb_build_object('name', 'advancement', 'type', 'rank_advancement',
                               'amounts', jsonb_build_object('Silver', 20, 'Gold', 50))));
    PERFORM mlm.add_plan_version('rep' || k, plan);
    PERFORM mlm.register_source('rep' || k, format('rep_t.m%s', k)::regclass, format('rep_t.v%s', k)::regclass, 'period');
    FOR p IN 1 .. periods LOOP
        IF p = 3 THEN
            -- customers sponsored by a distributor become distributors
            EXECUTE format($q$UPDATE rep_t.m%1$s c SET member_type = 'distributor'
                               WHERE c.member_type = 'customer' AND random() < 0.3
                                 AND EXISTS (SELECT 1 FROM rep_t.m%1$s s
                                              WHERE s.id = c.sponsor_id AND s.member_type IS DISTINCT FROM 'customer')$q$, k);
            -- distributors nobody sponsors become customers
            EXECUTE format($q$UPDATE rep_t.m%1$s d SET member_type = 'customer', payout_hold = NULL
                               WHERE d.member_type IS DISTINCT FROM 'customer' AND d.id > 1 AND random() < 0.2
                                 AND NOT EXISTS (SELECT 1 FROM rep_t.m%1$s c WHERE c.sponsor_id = d.id)$q$, k);
            EXECUTE format($q$UPDATE rep_t.v%1$s v SET rv = 0 FROM rep_t.m%1$s m
                               WHERE m.id = v.member_id AND m.member_type = 'customer'$q$, k);
        END IF;
        run := mlm.close('rep' || k, to_char(date '2024-01-01' + make_interval(months => p - 1), 'YYYY-MM'),
                         (date '2024-01-01' + make_interval(months => p - 1))::date,
                         (date '2024-01-01' + make_interval(months => p) - interval '1 day')::date,
                         'rep' || k, with_lines => p % 2 = 1);
        IF p <= periods - drafts THEN
            PERFORM mlm.finalize(run);
            runs := runs || run;
        END IF;
    END LOOP;
    PERFORM mlm.adjust(x.run_id, x.member_id,
                       (ARRAY[-5.00, 2.50, 10.00, -0.01, -20.00, 0.05])[1 + floor(random() * 6)::integer], 'test')
       FROM (SELECT r.run_id, m.member_id FROM unnest(runs) r(run_id)
               JOIN mlm.run_member m ON m.run_id = r.run_id
              WHERE random() < 0.1) x;
END
$$;

-- The income disclosure in plain SQL, from the views and run rows, without
-- anything of the extension's report code.
CREATE FUNCTION rep_t.ref_disclosure(p_plan text, p_from date, p_to date)
RETURNS TABLE (rank_no integer, title text, participants bigint, share numeric,
               zero_earners bigint, zero_share numeric, mean numeric,
               p10 numeric, p25 numeric, median numeric, p75 numeric, p90 numeric,
               min numeric, max numeric, total numeric)
LANGUAGE sql AS $$
WITH runs AS (
    SELECT run_id, period_start, plan_version FROM mlm.run
     WHERE plan_name = p_plan AND status = 'final' AND period_start >= p_from AND period_end <= p_to
),
last AS (SELECT * FROM runs ORDER BY period_start DESC LIMIT 1),
def AS (SELECT pv.definition FROM last JOIN mlm.plan_version pv ON pv.plan_name = p_plan AND pv.version = last.plan_version),
ranks AS (SELECT (x.o - 1)::integer AS rank_no, x.e ->> 'name' AS title
            FROM def, jsonb_array_elements(def.definition -> 'ranks') WITH ORDINALITY x(e, o)),
scale AS (SELECT coalesce((definition #>> '{currency,scale}')::integer, 2) AS s FROM def),
part AS (
    SELECT DISTINCT ON (m.member_id) m.member_id, coalesce(m.title_rank, m.rank) AS title
      FROM mlm.run_member m JOIN runs USING (run_id)
     WHERE coalesce(m.member_type, 'distributor') <> 'customer'
     ORDER BY m.member_id, runs.period_start DESC
),
inc AS (
    SELECT part.member_id, part.title,
           coalesce((SELECT sum(pt.total) FROM mlm.payout_totals pt JOIN runs USING (run_id)
                      WHERE pt.member_id = part.member_id), 0) AS income
      FROM part
),
n_all AS (SELECT count(*) AS n FROM inc),
g AS (
    SELECT title, count(*) AS n, count(*) FILTER (WHERE income <= 0) AS z, sum(income) AS total,
           round(avg(income), (SELECT s FROM scale)) AS mean,
           percentile_disc(0.10) WITHIN GROUP (ORDER BY income) AS p10,
           percentile_disc(0.25) WITHIN GROUP (ORDER BY income) AS p25,
           percentile_disc(0.50) WITHIN GROUP (ORDER BY income) AS p50,
           percentile_disc(0.75) WITHIN GROUP (ORDER BY income) AS p75,
           percentile_disc(0.90) WITHIN GROUP (ORDER BY income) AS p90,
           min(income) AS lo, max(income) AS hi
      FROM inc GROUP BY title
),
a AS (
    SELECT count(*) AS n, count(*) FILTER (WHERE income <= 0) AS z, coalesce(sum(income), 0) AS total,
           round(avg(income), (SELECT s FROM scale)) AS mean,
           percentile_disc(0.10) WITHIN GROUP (ORDER BY income) AS p10,
           percentile_disc(0.25) WITHIN GROUP (ORDER BY income) AS p25,
           percentile_disc(0.50) WITHIN GROUP (ORDER BY income) AS p50,
           percentile_disc(0.75) WITHIN GROUP (ORDER BY income) AS p75,
           percentile_disc(0.90) WITHIN GROUP (ORDER BY income) AS p90,
           min(income) AS lo, max(income) AS hi
      FROM inc
)
SELECT * FROM (
    SELECT ranks.rank_no, ranks.title, coalesce(g.n, 0), round(coalesce(g.n, 0)::numeric / nullif(n_all.n, 0), 4),
           coalesce(g.z, 0), round(g.z::numeric / g.n, 4), g.mean, g.p10, g.p25, g.p50, g.p75, g.p90, g.lo, g.hi,
           coalesce(g.total, 0)
      FROM ranks CROSS JOIN n_all LEFT JOIN g ON g.title = ranks.title
    UNION ALL
    SELECT NULL, 'all participants', a.n, CASE WHEN a.n > 0 THEN 1 END, a.z, round(a.z::numeric / nullif(a.n, 0), 4),
           a.mean, a.p10, a.p25, a.p50, a.p75, a.p90, a.lo, a.hi, a.total
      FROM a) x
 ORDER BY rank_no NULLS LAST
$$;

SELECT rep_t.scenario(1, 0.11, 300, 4, 1, false, false);
SELECT rep_t.scenario(2, 0.22, 250, 3, 0, true, true);
SELECT rep_t.scenario(3, 0.33, 400, 5, 2, false, true);
SELECT rep_t.scenario(4, 0.44, 120, 2, 0, true, false);
SELECT rep_t.scenario2(5, 0.55, 300, 4, 1);
SELECT rep_t.scenario2(6, 0.66, 200, 5, 0);

-- the scenarios have what the comparison is about
SELECT ok((SELECT count(*) FROM mlm.run_payout p JOIN mlm.run r USING (run_id)
            WHERE r.plan_name LIKE 'rep_' AND r.status = 'final' AND p.amount < 0) > 0,
          'the random runs have negative payouts (clawbacks)');
SELECT ok((SELECT count(*) FROM mlm.adjustment a JOIN mlm.run r USING (run_id)
            WHERE r.plan_name LIKE 'rep_' AND a.amount < 0) > 0, 'and negative adjustments');
SELECT ok((SELECT count(DISTINCT rank) FROM mlm.run_member m JOIN mlm.run r USING (run_id)
            WHERE r.plan_name LIKE 'rep_') = 4, 'and members of every rank');
SELECT ok((SELECT count(*) FROM mlm.run WHERE plan_name LIKE 'rep_' AND status = 'draft') = 4,
          'and drafts, which the reports must leave out');
SELECT ok((SELECT count(*) FROM mlm.run WHERE plan_name LIKE 'rep_' AND cap_factor IS NOT NULL) > 0,
          'and capped runs');
SELECT ok((SELECT count(*) FROM mlm.run_member m JOIN mlm.run r USING (run_id)
            WHERE r.plan_name IN ('rep5', 'rep6') AND m.title_rank IS DISTINCT FROM m.qualified_rank
              AND m.member_type = 'distributor') > 0
          AND (SELECT count(*) FROM mlm.run_member m JOIN mlm.run r USING (run_id)
                WHERE r.plan_name IN ('rep5', 'rep6') AND m.member_type = 'customer') > 0,
          'and (v2) customers and titles above the qualified rank');
SELECT ok(EXISTS (SELECT 1 FROM mlm.run_member a JOIN mlm.run_member b USING (member_id)
                     JOIN mlm.run ra ON ra.run_id = a.run_id JOIN mlm.run rb ON rb.run_id = b.run_id
                    WHERE ra.plan_name = 'rep5' AND rb.plan_name = 'rep5' AND ra.period_start < rb.period_start
                      AND a.member_type = 'distributor' AND b.member_type = 'customer')
          AND EXISTS (SELECT 1 FROM mlm.run_member a JOIN mlm.run_member b USING (member_id)
                     JOIN mlm.run ra ON ra.run_id = a.run_id JOIN mlm.run rb ON rb.run_id = b.run_id
                    WHERE ra.plan_name = 'rep5' AND rb.plan_name = 'rep5' AND ra.period_start < rb.period_start
                      AND a.member_type = 'customer' AND b.member_type = 'distributor'),
          'and members who change from distributor to customer');

-- every scenario over several ranges
SELECT results_eq(
  format($$SELECT * FROM mlm.income_disclosure(%L, %L, %L)$$, x.plan, x.f, x.t),
  format($$SELECT * FROM rep_t.ref_disclosure(%L, %L, %L)$$, x.plan, x.f, x.t),
  format('income disclosure of %s from %s to %s = plain SQL', x.plan, x.f, x.t))
  FROM (VALUES ('rep1', date '2024-01-01', date '2024-12-31'), ('rep1', '2024-02-01', '2024-03-31'),
               ('rep1', '2024-01-15', '2024-03-31'),
               ('rep2', '2024-01-01', '2024-12-31'), ('rep2', '2024-03-01', '2024-03-31'),
               ('rep3', '2023-01-01', '2025-01-01'), ('rep3', '2024-02-01', '2024-02-29'),
               ('rep3', '2024-01-01', '2024-04-30'),
               ('rep4', '2024-01-01', '2024-12-31'), ('rep4', '2024-01-01', '2024-01-31'),
               ('rep5', '2024-01-01', '2024-12-31'), ('rep5', '2024-03-01', '2024-03-31'),
               ('rep5', '2024-01-01', '2024-02-29'),
               ('rep6', '2024-01-01', '2024-12-31'), ('rep6', '2024-02-01', '2024-04-30')) x(plan, f, t);

-- the groups add up to all participants
SELECT is((SELECT count(*) FROM (
             SELECT x.plan, sum(d.participants) FILTER (WHERE d.title <> 'all participants') AS g,
                    max(d.participants) FILTER (WHERE d.title = 'all participants') AS a,
                    sum(d.total) FILTER (WHERE d.title <> 'all participants') AS gt,
                    max(d.total) FILTER (WHERE d.title = 'all participants') AS at,
                    sum(d.zero_earners) FILTER (WHERE d.title <> 'all participants') AS gz,
                    max(d.zero_earners) FILTER (WHERE d.title = 'all participants') AS az
               FROM (VALUES ('rep1'), ('rep2'), ('rep3'), ('rep4'), ('rep5'), ('rep6')) x(plan),
                    mlm.income_disclosure(x.plan, '2024-01-01', '2024-12-31') d
              GROUP BY x.plan) s
           WHERE s.g <> s.a OR s.gt <> s.at OR s.gz <> s.az), 0::bigint,
          'participants, totals and zero earners of the groups add up to the all-participants row');
SELECT is((SELECT total FROM mlm.income_disclosure('rep3', '2024-01-01', '2024-12-31') WHERE title = 'all participants'),
          (SELECT sum(t.total) FROM mlm.run_totals t WHERE t.plan_name = 'rep3' AND t.status = 'final'),
          'the total of all participants is the total of mlm.run_totals over the finalized runs');

-- ---------------------------------------------------------------------------
-- A hand case: a personal bonus of rate 1 pays each member its CV
-- ---------------------------------------------------------------------------
CREATE TABLE rep_t.hm (id bigint, sponsor_id bigint);
INSERT INTO rep_t.hm SELECT g, CASE WHEN g > 1 THEN 1 END FROM generate_series(1, 11) g;
CREATE TABLE rep_t.hv (member_id bigint, pv numeric, cv numeric, period text);
-- January: incomes -5, 0, 0, 10, 10, 10, 20, 30, 40, 50 and member 11 without volume;
-- PV >= 100 makes Silver, >= 50 Bronze
INSERT INTO rep_t.hv VALUES
  (1, 100, -5, '2024-01'), (2, 0, 0, '2024-01'), (3, 10, 0, '2024-01'), (4, 60, 10, '2024-01'),
  (5, 60, 10, '2024-01'), (6, 10, 10, '2024-01'), (7, 10, 20, '2024-01'), (8, 10, 30, '2024-01'),
  (9, 100, 40, '2024-01'), (10, 10, 50, '2024-01'),
-- February: member 1 falls back to Member but keeps its title Silver (the
-- title never falls), member 2 rises to Silver
  (1, 10, 5, '2024-02'), (2, 100, 2, '2024-02');
SELECT mlm.add_plan_version('rep_hand', '{"currency": {"scale": 2},
  "ranks": [{"name": "Member"}, {"name": "Bronze", "min_pv": 50}, {"name": "Silver", "min_pv": 100},
            {"name": "Gold", "min_pv": 1000}],
  "bonuses": [{"name": "cv", "type": "personal", "rate": 1}]}');
SELECT mlm.register_source('rep_hand', 'rep_t.hm', 'rep_t.hv', 'period');
SELECT mlm.finalize(mlm.close('rep_hand', '2024-01', '2024-01-01', '2024-01-31', 'rep_hand')) AS h1 \gset
SELECT mlm.close('rep_hand', '2024-02', '2024-02-01', '2024-02-29', 'rep_hand') AS h2 \gset

SELECT results_eq(
  $$SELECT rank_no, title, participants, share, zero_earners, zero_share, mean, p10, p25, median, p75, p90, min, max, total
      FROM mlm.income_disclosure('rep_hand', '2024-01-01', '2024-02-29')$$,
  $$VALUES (0, 'Member', 7::bigint, 0.6364, 3::bigint, 0.4286, 15.71, 0.00, 0.00, 10.00, 30.00, 50.00, 0.00, 50.00, 110.00),
           (1, 'Bronze', 2::bigint, 0.1818, 0::bigint, 0.0000, 10.00, 10.00, 10.00, 10.00, 10.00, 10.00, 10.00, 10.00, 20.00),
           (2, 'Silver', 2::bigint, 0.1818, 1::bigint, 0.5000, 17.50, -5.00, -5.00, -5.00, 40.00, 40.00, -5.00, 40.00, 35.00),
           (3, 'Gold', 0::bigint, 0.0000, 0::bigint, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0.00),
           (NULL, 'all participants', 11::bigint, 1.0000, 4::bigint, 0.3636, 15.00, 0.00, 0.00, 10.00, 30.00, 40.00, -5.00, 50.00, 165.00)$$,
  'hand case, January only (February is a draft): nearest-rank positions, every rank, Gold empty');
-- Member: 0 0 0 10 20 30 50 (N = 7): p10 at ceil(0.7) = 1, p25 at ceil(1.75) = 2,
-- median at ceil(3.5) = 4 -> 10, p75 at ceil(5.25) = 6 -> 30, p90 at 7 -> 50,
-- mean 110 / 7 = 15.714 -> 15.71; Silver: -5 40: p10, p25 and the median at 1.
-- all: -5 0 0 0 10 10 10 20 30 40 50 (N = 11): p10 at ceil(1.1) = 2 -> 0,
-- p25 at ceil(2.75) = 3 -> 0, median at 6 -> 10, p75 at ceil(8.25) = 9 -> 30,
-- p90 at ceil(9.9) = 10 -> 40; mean 165 / 11 = 15

SELECT mlm.finalize(:h2);
SELECT mlm.adjust(:h2, 11, 0.01, 'rounding test') IS NOT NULL AS adjusted \gset
SELECT results_eq(
  $$SELECT title, participants, zero_earners, mean, median, min, max, total
      FROM mlm.income_disclosure('rep_hand', '2024-01-01', '2024-02-29')$$,
  $$VALUES ('Member', 6::bigint, 1::bigint, 18.34, 10.00, 0.00, 50.00, 110.01),
           ('Bronze', 2::bigint, 0::bigint, 10.00, 10.00, 10.00, 10.00, 20.00),
           ('Silver', 3::bigint, 1::bigint, 14.00, 2.00, 0.00, 40.00, 42.00),
           ('Gold', 0::bigint, 0::bigint, NULL, NULL, NULL, NULL, 0.00),
           ('all participants', 11::bigint, 2::bigint, 15.64, 10.00, 0.00, 50.00, 172.01)$$,
  'both months: titles of February (members 4, 5 and 1 keep theirs), incomes summed (member 1: -5 + 5 = 0), adjustment included, 110.01 / 6 = 18.335 rounds half up');
SELECT results_eq(
  $$SELECT title, participants, total FROM mlm.income_disclosure('rep_hand', '2024-02-01', '2024-02-29')$$,
  $$VALUES ('Member', 6::bigint, 0.01), ('Bronze', 2::bigint, 0.00), ('Silver', 3::bigint, 7.00), ('Gold', 0::bigint, 0.00),
           ('all participants', 11::bigint, 7.01)$$,
  'February alone: every member of the run is a participant, paid or not');

-- the mean is rounded half up (ties away from zero), to the currency scale
CREATE TABLE rep_t.half_m (id bigint, sponsor_id bigint);
INSERT INTO rep_t.half_m VALUES (1, NULL), (2, 1), (3, 1), (4, 1);
CREATE TABLE rep_t.half_v (member_id bigint, pv numeric, cv numeric, period text);
INSERT INTO rep_t.half_v VALUES (1, 0, 0.01, '2024-01'), (2, 0, 0.09, '2024-01'),
                                (1, 0, -0.01, '2024-02'), (2, 0, -0.09, '2024-02'), (3, 0, 0.03, '2024-02'), (4, 0, -0.03, '2024-02'),
                                (1, 0, 0.01, '2024-03'), (2, 0, 0.04, '2024-03'), (3, 0, -0.01, '2024-04'), (4, 0, -0.04, '2024-04');
SELECT mlm.add_plan_version('rep_half', '{"currency": {"scale": 2}, "ranks": [{"name": "M"}],
  "bonuses": [{"name": "cv", "type": "personal", "rate": 1}]}');
SELECT mlm.register_source('rep_half', 'rep_t.half_m', 'rep_t.half_v', 'period');
SELECT mlm.finalize(mlm.close('rep_half', p, (p || '-01')::date, ((p || '-01')::date + interval '1 month - 1 day')::date, 'rep_half'))
  FROM unnest(ARRAY['2024-01', '2024-02', '2024-03', '2024-04']) p;
SELECT is((SELECT string_agg(mean::text, ' ') FROM mlm.income_disclosure('rep_half', '2024-01-01', '2024-01-31')),
          '0.03 0.03', 'a tie: 0.10 / 4 = 0.025 rounds half up to 0.03 (not to even)');
SELECT is((SELECT string_agg(mean::text, ' ') FROM mlm.income_disclosure('rep_half', '2024-02-01', '2024-02-29')),
          '-0.03 -0.03', '-0.10 / 4 = -0.025 rounds away from zero to -0.03');
SELECT is((SELECT mean FROM mlm.income_disclosure('rep_half', '2024-03-01', '2024-04-30') WHERE rank_no = 0),
          0.00, '(0.05 - 0.05) / 4 = 0');
SELECT is((SELECT p25::text || ' ' || median::text || ' ' || p75::text
             FROM mlm.income_disclosure('rep_half', '2024-03-01', '2024-04-30') WHERE rank_no = 0),
          '-0.04 -0.01 0.01', 'incomes 0.01, 0.04, -0.01, -0.04: p25 at 1, median at 2, p75 at 3');

-- readable forms of the hand case
SELECT is(mlm.income_disclosure_csv('rep_hand', '2024-01-01', '2024-01-31'),
$$rank_no,title,participants,share,zero_earners,zero_share,mean,p10,p25,median,p75,p90,min,max,total
0,Member,7,0.6364,3,0.4286,15.71,0.00,0.00,10.00,30.00,50.00,0.00,50.00,110.00
1,Bronze,2,0.1818,0,0.0000,10.00,10.00,10.00,10.00,10.00,10.00,10.00,10.00,20.00
2,Silver,2,0.1818,1,0.5000,17.50,-5.00,-5.00,-5.00,40.00,40.00,-5.00,40.00,35.00
3,Gold,0,0.0000,0,,,,,,,,,,0.00
,all participants,11,1.0000,4,0.3636,15.00,0.00,0.00,10.00,30.00,40.00,-5.00,50.00,165.00
$$, 'CSV: a header line, one line per row, NULL as an empty field');
SELECT is(mlm._csv_field('a "b", c'), '"a ""b"", c"', 'CSV quoting doubles quotes and quotes a field with a comma');
SELECT is(mlm.income_disclosure_text('rep_hand', '2024-01-01', '2024-01-31'),
$$Income disclosure: plan "rep_hand", 2024-01-01 to 2024-01-31
1 finalized run: 2024-01
Titles as of plan version 1. Income per participant: payouts after the cap plus adjustments, summed over the runs (2 decimals). Shares in per cent; percentiles by nearest rank; zero earners: income <= 0.

      title       | participants | share % | zero earners | zero % | mean  |  p10  |  p25  | median |  p75  |  p90  |  min  |  max  | total
------------------+--------------+---------+--------------+--------+-------+-------+-------+--------+-------+-------+-------+-------+--------
 Member           |            7 |   63.64 |            3 |  42.86 | 15.71 |  0.00 |  0.00 |  10.00 | 30.00 | 50.00 |  0.00 | 50.00 | 110.00
 Bronze           |            2 |   18.18 |            0 |   0.00 | 10.00 | 10.00 | 10.00 |  10.00 | 10.00 | 10.00 | 10.00 | 10.00 |  20.00
 Silver           |            2 |   18.18 |            1 |  50.00 | 17.50 | -5.00 | -5.00 |  -5.00 | 40.00 | 40.00 | -5.00 | 40.00 |  35.00
 Gold             |            0 |    0.00 |            0 |        |       |       |       |        |       |       |       |       |   0.00
 all participants |           11 |  100.00 |            4 |  36.36 | 15.00 |  0.00 |  0.00 |  10.00 | 30.00 | 40.00 | -5.00 | 50.00 | 165.00
$$, 'text: heading and an aligned table, shares in per cent');
SELECT is(mlm.income_disclosure_json('rep_hand', '2024-01-01', '2024-01-31') -> 'all',
          '{"participants": 11, "share": 1.0000, "zero_earners": 4, "zero_share": 0.3636, "mean": 15.00,
            "p10": 0.00, "p25": 0.00, "median": 10.00, "p75": 30.00, "p90": 40.00, "min": -5.00, "max": 50.00,
            "total": 165.00}'::jsonb, 'JSON: the all-participants object');
SELECT is((SELECT jsonb_agg(g ->> 'title') FROM jsonb_array_elements(
             mlm.income_disclosure_json('rep_hand', '2024-01-01', '2024-01-31') -> 'groups') g),
          '["Member", "Bronze", "Silver", "Gold"]'::jsonb, 'JSON: one group per rank, in rank order');
SELECT is(mlm.income_disclosure_json('rep_hand', '2024-01-01', '2024-01-31') - 'groups' - 'all',
          jsonb_build_object('plan_name', 'rep_hand', 'date_from', '2024-01-01', 'date_to', '2024-01-31',
                             'plan_version', 1, 'currency_scale', 2,
                             'runs', jsonb_build_array(jsonb_build_object('run_id', :h1, 'period_label', '2024-01',
                                 'period_start', '2024-01-01', 'period_end', '2024-01-31', 'plan_version', 1))),
          'JSON: the heading names the runs');

-- a plan version renames rank 0 (the state names no rank 0, so the state
-- needs no migration); member 11, of rank 0 in February and without state,
-- has left before March: its title is listed after the ranks of the last
-- version
SELECT mlm.add_plan_version('rep_hand', jsonb_set(mlm.plan('rep_hand'), '{ranks,0,name}', '"Associate"'));
DELETE FROM rep_t.hm WHERE id = 11;
INSERT INTO rep_t.hv VALUES (3, 10, 1, '2024-03');
SELECT mlm.finalize(mlm.close('rep_hand', '2024-03', '2024-03-01', '2024-03-31', 'rep_hand'));
SELECT results_eq(
  $$SELECT rank_no, title, participants FROM mlm.income_disclosure('rep_hand', '2024-01-01', '2024-03-31')$$,
  $$VALUES (0, 'Associate', 5::bigint), (1, 'Bronze', 2::bigint), (2, 'Silver', 3::bigint), (3, 'Gold', 0::bigint),
           (NULL::integer, 'Member', 1::bigint), (NULL::integer, 'all participants', 11::bigint)$$,
  'titles follow the plan version of the last run; a title it no longer has comes after its ranks');

-- ---------------------------------------------------------------------------
-- Errors
-- ---------------------------------------------------------------------------
SELECT throws_ok($$SELECT * FROM mlm.income_disclosure('rep_nope', '2024-01-01', '2024-12-31')$$,
                 '42704', 'unknown plan "rep_nope"', 'unknown plan: 42704');
SELECT throws_ok($$SELECT * FROM mlm.income_disclosure('rep1', '2024-12-31', '2024-01-01')$$,
                 '22023', 'date_from 2024-12-31 is after date_to 2024-01-01', 'from after to: 22023');
SELECT throws_ok($$SELECT * FROM mlm.income_disclosure('rep1', '2024-04-01', '2024-04-30')$$,
                 'P0002', 'plan "rep1" has no finalized run within 2024-04-01 .. 2024-04-30',
                 'only a draft in the range: P0002');
SELECT throws_like($$SELECT mlm.income_disclosure_text('rep1', '2024-04-01', '2024-04-30')$$,
                   '%no finalized run%', 'the text form raises the same error');
DO $$
BEGIN
    PERFORM * FROM mlm.income_disclosure('rep1', '2024-04-01', '2024-04-30');
EXCEPTION WHEN no_data_found THEN
    DECLARE d text;
    BEGIN
        GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
        CREATE TEMP TABLE err_detail AS SELECT d AS detail;
    END;
END
$$;
SELECT matches((SELECT detail FROM err_detail), '^Periods inside the range that are still drafts: 2024-04 \(run [0-9]+\)\.$',
               'the detail names the drafts of the range');
SELECT throws_ok($$SELECT * FROM mlm.income_disclosure('rep1', '2025-01-01', '2025-12-31')$$,
                 'P0002', NULL, 'no run at all in the range: P0002');
SELECT throws_ok($$SELECT * FROM mlm.income_disclosure('rep1', '2024-01-15', '2024-01-31')$$,
                 'P0002', NULL, 'a run counts only when its whole period lies in the range');
SELECT throws_ok($$SELECT * FROM mlm.income_disclosure(NULL, '2024-01-01', '2024-12-31')$$,
                 '22004', 'argument plan_name must not be null', 'NULL plan: 22004');
SELECT throws_ok($$SELECT * FROM mlm.income_disclosure('rep1', NULL, '2024-12-31')$$,
                 '22004', 'argument date_from must not be null', 'NULL date: 22004');
SELECT throws_ok($$SELECT mlm.statement(-1, 1)$$, '42704', 'run -1 does not exist', 'statement of an unknown run: 42704');
SELECT throws_ok(format('SELECT mlm.statement(%s, 123456)', :h1), '22023',
                 format('member 123456 was not part of run %s', :h1), 'statement of a member not in the run: 22023');
SELECT throws_ok(format('SELECT * FROM mlm.rank_progress(%s, %L)', :h1, 'Diamond'), '22023',
                 'plan "rep_hand" version 1 has no rank "Diamond"', 'rank progress towards an unknown rank: 22023');

-- ---------------------------------------------------------------------------
-- Statements reconcile with the run's rows
-- ---------------------------------------------------------------------------
CREATE TABLE rep_t.st AS
SELECT r.run_id, m.member_id, mlm.statement(r.run_id, m.member_id) AS s
  FROM mlm.run r JOIN mlm.run_member m USING (run_id)
 WHERE r.plan_name IN ('rep1', 'rep2', 'rep5') AND r.period_label IN ('2024-01', '2024-02');
SELECT ok((SELECT count(*) FROM rep_t.st) > 1000, 'statements of every member of six random runs, two of them v2 with customers and a ledger');
SELECT is((SELECT count(*) FROM rep_t.st
            LEFT JOIN mlm.payout_totals pt USING (run_id, member_id)
           WHERE (s ->> 'earned')::numeric <> coalesce(pt.paid, 0)
              OR (s ->> 'adjustments_total')::numeric <> coalesce(pt.adjustments, 0)
              OR (s ->> 'total')::numeric <> coalesce(pt.total, 0)), 0::bigint,
          'earned, adjustments and total of every statement equal mlm.payout_totals');
SELECT is((SELECT count(*) FROM rep_t.st
           WHERE (s ->> 'earned')::numeric
                 <> (SELECT coalesce(sum((b ->> 'amount')::numeric), 0) FROM jsonb_array_elements(s -> 'bonuses') b)),
          0::bigint, 'the bonuses of every statement add up to what it earned');
SELECT is((SELECT count(*) FROM rep_t.st CROSS JOIN LATERAL jsonb_array_elements(s -> 'bonuses') b
            LEFT JOIN mlm.run_payout p ON p.run_id = st.run_id AND p.member_id = st.member_id AND p.bonus = b ->> 'bonus'
           WHERE (b ->> 'amount')::numeric <> coalesce(p.amount, 0)), 0::bigint,
          'each bonus amount is the run''s payout');
SELECT is((SELECT count(*) FROM mlm.run_payout p JOIN rep_t.st USING (run_id, member_id)
           WHERE NOT EXISTS (SELECT 1 FROM jsonb_array_elements(st.s -> 'bonuses') b WHERE b ->> 'bonus' = p.bonus)),
          0::bigint, 'every payout is on the statement');
SELECT is((SELECT count(*) FROM rep_t.st
            JOIN mlm.run r USING (run_id), jsonb_array_elements(s -> 'bonuses') b
           WHERE r.with_lines AND ((b ->> 'line_count')::bigint, (b ->> 'lines_total')::numeric)
                 IS DISTINCT FROM (SELECT (count(*), sum(l.amount)) FROM mlm.run_line l
                                    WHERE l.run_id = st.run_id AND l.member_id = st.member_id AND l.bonus = b ->> 'bonus')),
          0::bigint, 'with lines: each bonus has the run''s lines and their exact total');
SELECT is((SELECT count(*) FROM rep_t.st
            JOIN mlm.run r USING (run_id)
            CROSS JOIN LATERAL jsonb_array_elements(s -> 'bonuses') b
            CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(b -> 'lines') = 'array' THEN b -> 'lines' ELSE '[]' END) l
            LEFT JOIN mlm.run_line x ON x.run_id = st.run_id AND x.line_no = (l ->> 'line_no')::bigint
                                    AND x.member_id = st.member_id
           WHERE (x.bonus, x.source_id, x.level, x.base, x.rate, x.amount)
                 IS DISTINCT FROM (b ->> 'bonus', (l ->> 'source_id')::bigint, (l ->> 'level')::integer,
                                   (l ->> 'base')::numeric, (l ->> 'rate')::numeric, (l ->> 'amount')::numeric)),
          0::bigint, 'every line of a statement is the run''s line');
SELECT is((SELECT count(*) FROM rep_t.st JOIN mlm.run r USING (run_id), jsonb_array_elements(s -> 'bonuses') b
           WHERE NOT r.with_lines AND b -> 'lines' <> 'null'::jsonb), 0::bigint,
          'without lines: lines are null');
SELECT is((SELECT count(*) FROM rep_t.st
            JOIN mlm.run r USING (run_id)
            JOIN mlm.run_member m USING (run_id, member_id)
           WHERE (s ->> 'pv')::numeric <> m.pv OR (s ->> 'gv')::numeric <> m.gv
              OR s #>> '{ranks,qualified}' IS DISTINCT FROM m.qualified_rank
              OR s #>> '{ranks,paid_as}' IS DISTINCT FROM m.rank OR s #>> '{ranks,title}' IS DISTINCT FROM m.title_rank
              OR (s #>> '{ranks,grace}')::integer IS DISTINCT FROM m.grace
              OR s ->> 'member_type' <> m.member_type
              OR (s #>> '{customer_volume,cpv}')::numeric IS DISTINCT FROM m.cpv
              OR (s #>> '{customer_volume,rv}')::numeric IS DISTINCT FROM m.rv
              OR (s #>> '{customer_volume,customers}')::integer IS DISTINCT FROM m.customers
              OR (s ->> 'cap_factor')::numeric IS DISTINCT FROM r.cap_factor
              OR s ->> 'period_label' <> r.period_label
              OR (s #>> '{ledger,earned}')::numeric <> m.amount), 0::bigint,
          'volumes, ranks, customer volume, cap factor, period and earnings are the run''s');
SELECT is((SELECT count(*) FROM rep_t.st JOIN mlm.run r USING (run_id)
            JOIN mlm.plan_version pv ON pv.plan_name = r.plan_name AND pv.version = r.plan_version
            LEFT JOIN mlm.run_payable p USING (run_id, member_id)
           WHERE NOT pv.definition ? 'payout'
             AND ((s #>> '{ledger,paid}')::numeric <> (s ->> 'earned')::numeric
                  OR (s #>> '{ledger,balance_in}')::numeric <> 0 OR (s #>> '{ledger,balance_out}')::numeric <> 0
                  OR p.run_id IS NOT NULL)), 0::bigint,
          'without the plan key payout the ledger pays what is earned and keeps no balance');
SELECT is((SELECT count(*) FROM rep_t.st JOIN mlm.run r USING (run_id)
            JOIN mlm.plan_version pv ON pv.plan_name = r.plan_name AND pv.version = r.plan_version
            LEFT JOIN mlm.run_payable p USING (run_id, member_id)
           WHERE pv.definition ? 'payout'
             AND ((s #>> '{ledger,balance_in}')::numeric, (s #>> '{ledger,earned}')::numeric,
                  (s #>> '{ledger,paid}')::numeric, (s #>> '{ledger,balance_out}')::numeric)
                 IS DISTINCT FROM (coalesce(p.balance_in, 0), coalesce(p.earned, 0), coalesce(p.paid, 0), coalesce(p.balance_out, 0))),
          0::bigint, 'with payout the ledger is the run''s mlm.run_payable row (zeros where it has none)');
SELECT ok((SELECT count(*) FROM rep_t.st WHERE (s #>> '{ledger,paid}')::numeric <> (s ->> 'earned')::numeric) > 0
          AND (SELECT count(*) FROM rep_t.st WHERE (s #>> '{ledger,balance_in}')::numeric <> 0) > 0,
          'the v2 runs have members paid other than earned and balances carried in');
SELECT is((SELECT count(*) FROM rep_t.st CROSS JOIN LATERAL jsonb_array_elements(s -> 'adjustments') a
            LEFT JOIN mlm.adjustment x ON x.adjustment_id = (a ->> 'adjustment_id')::bigint
           WHERE x.run_id IS DISTINCT FROM st.run_id OR x.member_id IS DISTINCT FROM st.member_id
              OR x.amount IS DISTINCT FROM (a ->> 'amount')::numeric OR x.reason IS DISTINCT FROM a ->> 'reason'),
          0::bigint, 'every adjustment listed is the member''s in that run');
SELECT is((SELECT count(*) FROM rep_t.st WHERE mlm.statement_text(run_id, member_id) NOT LIKE
             '%Total:    ' || (s ->> 'total') || ' (earned%'), 0::bigint,
          'the text statement of every member states the same total');

-- ---------------------------------------------------------------------------
-- Customer-volume test (spec 14.2) against plain SQL
-- ---------------------------------------------------------------------------
SELECT results_eq(
  $$SELECT c.run_id, c.total_pv, c.customer_pv, c.ratio, c.passes
      FROM mlm.run r, LATERAL mlm.customer_volume_test(r.run_id) c WHERE r.plan_name LIKE 'rep_' ORDER BY 1$$,
  $$SELECT x.run_id, x.t, x.c, CASE WHEN x.t > 0 THEN round(x.c / x.t, 4) END, x.t > 0 AND x.c / x.t > 0.5
      FROM (SELECT r.run_id, sum(m.pv) AS t,
                   coalesce(sum(m.pv) FILTER (WHERE m.member_type = 'customer'), 0)
                   + coalesce(sum(m.rv) FILTER (WHERE m.member_type = 'distributor'), 0) AS c
              FROM mlm.run r JOIN mlm.run_member m USING (run_id) WHERE r.plan_name LIKE 'rep_' GROUP BY r.run_id) x
     ORDER BY 1$$,
  'company totals, ratio and test of every random run (drafts included when asked by run id)');
SELECT results_eq(
  $$SELECT run_id, period_label FROM mlm.customer_volume_test('rep5', '2024-01-01', '2024-12-31')$$,
  $$SELECT run_id, period_label FROM mlm.run WHERE plan_name = 'rep5' AND status = 'final' ORDER BY period_start$$,
  'over a date range: the finalized runs only, in period order');
SELECT results_eq(
  $$SELECT r.run_id, c.member_id, c.customer_volume, c.pv_with_customers, c.ratio
      FROM mlm.run r, LATERAL mlm.customer_volume_members(r.run_id) c WHERE r.plan_name IN ('rep5', 'rep6') ORDER BY 1, 2$$,
  $$SELECT m.run_id, m.member_id, m.cpv + m.rv, m.pv + m.cpv,
           CASE WHEN m.pv + m.cpv <> 0 THEN round((m.cpv + m.rv) / (m.pv + m.cpv), 4) END
      FROM mlm.run r JOIN mlm.run_member m USING (run_id)
     WHERE r.plan_name IN ('rep5', 'rep6') AND m.member_type = 'distributor' ORDER BY 1, 2$$,
  'per distributor: CPV + RV, PV'' and their ratio');
SELECT results_eq(
  $$SELECT r.run_id, c.member_id FROM mlm.run r, LATERAL mlm.customer_volume_members(r.run_id, 0.25) c
     WHERE r.plan_name IN ('rep5', 'rep6') ORDER BY 1, 2$$,
  $$SELECT m.run_id, m.member_id FROM mlm.run r JOIN mlm.run_member m USING (run_id)
     WHERE r.plan_name IN ('rep5', 'rep6') AND m.member_type = 'distributor' AND m.pv + m.cpv <> 0
       AND (m.cpv + m.rv) / (m.pv + m.cpv) < 0.25 ORDER BY 1, 2$$,
  'with a threshold: the distributors below it');
SELECT ok((SELECT count(*) FROM mlm.run r, LATERAL mlm.customer_volume_members(r.run_id) c
            WHERE r.plan_name IN ('rep5', 'rep6') AND c.pv_with_customers < 0) > 0
          AND (SELECT count(*) FROM mlm.run r, LATERAL mlm.customer_volume_members(r.run_id) c
                WHERE r.plan_name IN ('rep5', 'rep6') AND c.ratio IS NULL) > 0,
          'the random runs have distributors with a negative PV'' and with PV'' = 0');
-- the test at and around one half, by hand
CREATE TABLE rep_t.cm (id bigint, sponsor_id bigint, member_type text);
INSERT INTO rep_t.cm VALUES (1, NULL, NULL), (2, 1, 'customer'), (3, 1, NULL);
CREATE TABLE rep_t.cvol (member_id bigint, pv numeric, cv numeric, rv numeric, period text);
INSERT INTO rep_t.cvol VALUES
  (1, 100, 100, 20, '2024-01'), (2, 80, 80, 0, '2024-01'), (3, 0, 0, 0, '2024-01'),    -- (80 + 20) / 180: 0.5556
  (1, 100, 100, 10, '2024-02'), (2, 90, 90, 0, '2024-02'), (3, 0, 0, 0, '2024-02'),    -- 100 / 190: 0.5263
  (1, 100, 100, 0, '2024-03'), (2, 100, 100, 0, '2024-03'), (3, 0, 0, 0, '2024-03'),   -- 100 / 200: exactly one half
  (1, 100, 100, 0, '2024-04'), (2, -100, -100, 0, '2024-04'), (3, 0, 0, 0, '2024-04'), -- total 0: no ratio
  (1, 3, 3, 0, '2024-05'), (2, 4, 4, 0, '2024-05'), (3, 2, 2, 1, '2024-05');           -- 5 / 9: 0.5556
SELECT mlm.add_plan_version('rep_cv', '{"ranks": [{"name": "M"}], "bonuses": [{"name": "p", "type": "personal", "rate": 0.1}]}');
SELECT mlm.register_source('rep_cv', 'rep_t.cm', 'rep_t.cvol', 'period');
SELECT mlm.finalize(mlm.close('rep_cv', p, (p || '-01')::date, ((p || '-01')::date + interval '1 month - 1 day')::date, 'rep_cv'))
  FROM unnest(ARRAY['2024-01', '2024-02', '2024-03', '2024-04', '2024-05']) p;
SELECT results_eq(
  $$SELECT period_label, total_pv, customer_pv, ratio, passes FROM mlm.customer_volume_test('rep_cv', '2024-01-01', '2024-12-31')$$,
  $$VALUES ('2024-01', 180.00, 100.00, 0.5556, true), ('2024-02', 190.00, 100.00, 0.5263, true),
           ('2024-03', 200.00, 100.00, 0.5000, false), ('2024-04', 0.00, -100.00, NULL, false),
           ('2024-05', 9.00, 5.00, 0.5556, true)$$,
  'hand case: the test needs more than half, exactly; no ratio when the total PV is not positive');
SELECT results_eq(
  $$SELECT member_id, customer_volume, pv_with_customers, ratio
      FROM mlm.customer_volume_members((SELECT run_id FROM mlm.run WHERE plan_name = 'rep_cv' AND period_label = '2024-04'))$$,
  $$VALUES (1::bigint, -100.00, 0.00, NULL::numeric), (3, 0.00, 0.00, NULL)$$,
  'a distributor whose customers returned as much as it sold has PV'' = 0 and no ratio');
SELECT is_empty(
  $$SELECT member_id, ratio FROM mlm.customer_volume_members((SELECT run_id FROM mlm.run WHERE plan_name = 'rep_cv' AND period_label = '2024-05'), 0.5)$$,
  'threshold 0.5: neither member 1 (4 / 7) nor member 3 (1 / 2, exactly at it) is below');
SELECT results_eq(
  $$SELECT member_id, ratio FROM mlm.customer_volume_members((SELECT run_id FROM mlm.run WHERE plan_name = 'rep_cv' AND period_label = '2024-05'), 0.5715)$$,
  $$VALUES (1::bigint, 0.5714), (3, 0.5000)$$,
  'threshold 0.5715: both are below (4 / 7 = 0.571428...)');
SELECT throws_ok($$SELECT * FROM mlm.customer_volume_test(-5)$$, '42704', 'run -5 does not exist', 'unknown run: 42704');
SELECT throws_ok($$SELECT * FROM mlm.customer_volume_test('rep_cv', '2025-01-01', '2025-01-31')$$, 'P0002', NULL,
                 'no finalized run in the range: P0002');

-- ---------------------------------------------------------------------------
-- Rank progress agrees with the engine's ranks
-- ---------------------------------------------------------------------------
CREATE TABLE rep_t.rp AS
SELECT r.run_id, g.*
  FROM mlm.run r, LATERAL mlm.rank_progress(r.run_id) g
 WHERE r.plan_name LIKE 'rep_';
SELECT ok((SELECT count(DISTINCT requirement) FROM rep_t.rp) = 8, 'rank progress covers every kind of requirement');
SELECT is((SELECT count(*) FROM (SELECT run_id, member_id FROM rep_t.rp GROUP BY 1, 2 HAVING bool_and(met)) x), 0::bigint,
          'no member meets every requirement of the rank above its qualified rank');
SELECT is((SELECT count(*) FROM mlm.run r JOIN mlm.run_member m USING (run_id)
           WHERE r.plan_name LIKE 'rep_' AND m.qualified_rank <> 'Gold' AND m.member_type = 'distributor'
             AND NOT EXISTS (SELECT 1 FROM rep_t.rp WHERE rp.run_id = r.run_id AND rp.member_id = m.member_id)),
          0::bigint, 'every member below the top rank has rows');
SELECT is((SELECT count(*) FROM rep_t.rp WHERE qualified_rank = 'Gold'), 0::bigint, 'members at the top rank have none');
SELECT is((SELECT count(*) FROM rep_t.rp JOIN mlm.run_member m USING (run_id, member_id)
           WHERE m.member_type = 'customer' OR rp.qualified_rank IS DISTINCT FROM m.qualified_rank), 0::bigint,
          'customers have none; the rows name the qualified rank (not the paid-as one)');
CREATE TABLE rep_t.rp_own AS
SELECT r.run_id, k.rank, g.*
  FROM mlm.run r, (VALUES ('Bronze'), ('Silver'), ('Gold')) k(rank), LATERAL mlm.rank_progress(r.run_id, k.rank) g
 WHERE r.plan_name LIKE 'rep_';
SELECT is((SELECT count(*) FROM rep_t.rp_own WHERE qualified_rank = rank AND NOT met), 0::bigint,
          'every member meets every requirement of its own qualified rank');
SELECT is((SELECT count(*) FROM (SELECT run_id, member_id, rank FROM rep_t.rp_own
                                  WHERE (SELECT array_position(ARRAY['Member', 'Bronze', 'Silver', 'Gold'], qualified_rank))
                                        < array_position(ARRAY['Member', 'Bronze', 'Silver', 'Gold'], rank)
                                  GROUP BY 1, 2, 3 HAVING bool_and(met)) x), 0::bigint,
          'and misses one of each rank above it');
SELECT ok((SELECT count(*) FROM rep_t.rp_own WHERE requirement = 'legs_with_rank' AND met AND reached > 0) > 0
          AND (SELECT count(*) FROM rep_t.rp_own WHERE requirement = 'min_gv' AND met) > 0
          AND (SELECT count(*) FROM rep_t.rp_own WHERE requirement = 'min_gv' AND NOT met) > 0,
          'the random runs meet and miss the volume and leg requirements');
SELECT is((SELECT count(*) FROM rep_t.rp_own WHERE shortfall <> CASE WHEN met THEN 0 ELSE needed - reached END), 0::bigint,
          'shortfall = needed - reached when not met, else 0');
-- one member (the statement's path: its own legs, not the whole tree's)
SELECT is((SELECT count(*) FROM rep_t.st
             CROSS JOIN LATERAL (SELECT coalesce(st.s #> '{next_rank,requirements}', '[]') AS a,
                                        coalesce((SELECT jsonb_agg(jsonb_build_object(
                                                    'requirement', rp.requirement, 'detail', rp.detail,
                                                    'needed', rp.needed, 'reached', rp.reached,
                                                    'met', rp.met, 'shortfall', rp.shortfall))
                                                    FROM rep_t.rp WHERE rp.run_id = st.run_id AND rp.member_id = st.member_id),
                                                 '[]') AS b) x
           WHERE NOT (x.a @> x.b AND x.b @> x.a AND jsonb_array_length(x.a) = jsonb_array_length(x.b))),
          0::bigint, 'each statement''s next rank has the member''s rows of mlm.rank_progress');
-- a network of 3,000: a member whose team has more than 1,000 members has
-- its legs counted over the run's ranked members, not over its downline
SELECT rep_t.scenario(7, 0.77, 3000, 1, 0, false, false);
CREATE TABLE rep_t.rp7 AS
SELECT g.* FROM mlm.run r, LATERAL mlm.rank_progress(r.run_id, 'Gold') g WHERE r.plan_name = 'rep7';
SELECT is((SELECT count(*) FROM mlm.run r JOIN mlm.run_member m USING (run_id)
           WHERE r.plan_name = 'rep7'
             AND (mlm.subtree_size(r.snapshot, m.member_id) > 1000 OR m.member_id % 97 = 0)
             AND EXISTS ((SELECT * FROM mlm._rank_progress(r.run_id, m.member_id, 'Gold'))
                         EXCEPT ALL (SELECT * FROM rep_t.rp7 WHERE rp7.member_id = m.member_id)
                         UNION ALL
                         ((SELECT * FROM rep_t.rp7 WHERE rp7.member_id = m.member_id)
                          EXCEPT ALL (SELECT * FROM mlm._rank_progress(r.run_id, m.member_id, 'Gold'))))), 0::bigint,
          'large teams (the root, over 1,000 members) and small ones: one member''s progress to Gold (legs with rank) equals its rows of mlm.rank_progress');
SELECT ok((SELECT count(*) FROM mlm.run r JOIN mlm.run_member m USING (run_id)
            WHERE r.plan_name = 'rep7' AND mlm.subtree_size(r.snapshot, m.member_id) > 1000) >= 1,
          'rep7 has members with teams over 1,000');
SELECT is((SELECT count(*) FROM rep_t.st
           WHERE (s #>> '{next_rank,requirements_met}')::bigint
                 <> (SELECT count(*) FILTER (WHERE rp.met) FROM rep_t.rp WHERE rp.run_id = st.run_id AND rp.member_id = st.member_id)),
          0::bigint, 'and counts the requirements met');
-- legs_with_rank for one member in plain SQL: its children whose subtree
-- (mlm.run_downline) holds a member of rank Bronze or higher
SELECT is((SELECT count(*) FROM rep_t.rp_own o JOIN mlm.run r USING (run_id)
           WHERE o.requirement = 'legs_with_rank' AND o.rank = 'Gold' AND r.plan_name IN ('rep2', 'rep6')
             AND o.reached <> (SELECT count(*) FROM mlm.children(r.snapshot, o.member_id) c
                                WHERE EXISTS (SELECT 1 FROM mlm.run_member x
                                               WHERE x.run_id = o.run_id AND x.qualified_rank <> 'Member'
                                                 AND (x.member_id = c OR x.member_id IN (SELECT d.member_id FROM mlm.run_downline(o.run_id, c) d))))),
          0::bigint, 'legs with rank equal a plain-SQL count over run_downline');
-- QGV in plain SQL
SELECT is((SELECT count(*) FROM rep_t.rp_own o JOIN mlm.run r USING (run_id)
            JOIN mlm.plan_version pv ON pv.plan_name = r.plan_name AND pv.version = r.plan_version
            JOIN mlm.run_member m ON m.run_id = o.run_id AND m.member_id = o.member_id
            CROSS JOIN LATERAL (SELECT e FROM jsonb_array_elements(pv.definition -> 'ranks') e WHERE e ->> 'name' = o.rank) rk
           WHERE o.requirement = 'min_gv'
             AND o.reached <> CASE WHEN rk.e ? 'max_leg_pct'
                                   THEN m.pv + m.cpv
                                        + coalesce((SELECT sum(least(c.gv, (rk.e ->> 'max_leg_pct')::numeric * (rk.e ->> 'min_gv')::numeric))
                                                      FROM mlm.run_member c
                                                     WHERE c.run_id = o.run_id AND c.member_type = 'distributor'
                                                       AND c.member_id IN (SELECT mlm.children(r.snapshot, o.member_id))), 0)
                                   ELSE m.gv END), 0::bigint,
          'QGV with the leg limit equals a plain-SQL sum over the children');

SELECT * FROM finish();
ROLLBACK;
