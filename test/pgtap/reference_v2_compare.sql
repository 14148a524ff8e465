-- test/pgtap/reference_v2_compare.sql
--
-- Engine (schema mlm, contract version 2) against the plain-SQL reference of
-- contract version 2 (test/reference/reference_v2.sql on top of
-- reference.sql and reference_plan16.sql) on random networks run over
-- several chained periods.  Every scenario is reproducible from its seed
-- (setseed() before anything is drawn; all drawing in one fixed order).
--
-- Scenarios (a network, a plan and an opening state; then P periods):
--   * networks of 200..300 members, ids scattered over -5000 .. 5006;
--     ~30% customers (member_type 'customer'), some of them sponsored by
--     customers (customer chains), every customer below a distributor;
--     distributors' member_type 'distributor' or NULL; one or two roots;
--     active_status true / false / NULL; payout_hold true / false / NULL;
--     joined dates around the periods (fast start); in the binary scenario
--     a width-2 placement tree of the distributors (spillover below the
--     sponsor, a few distributors unplaced), customers never placed;
--   * volumes drawn anew each period: 0..2 rows per member, some negative
--     (returns), rv on some distributors; between periods some members'
--     active_status and payout_hold change;
--   * plans: 3..5 ranks with random requirements of every kind, the
--     customer ones included (min_customer_pv, min_customer_share,
--     min_customers); rank_policy grace 1 or 2; payout min_payout; personal
--     (rate or rate_by_rank, volume all / own / customer / absent),
--     unilevel, differential, fast_start, rank_advancement, matching naming
--     the advancement, pools (equal, by rank, by cv, by gv), sometimes a
--     total cap; rounding half_up / half_even / down.  The binary scenario:
--     binary (rate or rate_by_rank, cap, max_carry, flush, sponsoring rule)
--     with the advancement, a pool, a matching of both and sometimes a
--     unilevel on the placement tree (forced matrix); a cycle binary
--     (amount or amount_by_rank) under a total cap that binds.  Two
--     scenarios (one binary) without rank_policy and payout (titles still
--     carry).
--   * the opening state: random titles, paid-as ranks, grace (0..3, above G
--     too), balances (negative too), carries, also on customers.
--
-- Periods are chained: period k's state in is period k-1's state out, the
-- reference's for the reference and the engine's (mlm.state_out) for the
-- engine, which reads it through the preview functions' carry argument
-- (carry => state relation).  When the engine cannot produce a state out,
-- the reference's is used for its next period (and a diagnostic says so).
--
-- Compared per period, row for row (the first differences reported with
-- the seed, the period and the plan): member results (member_id, pv, gv,
-- active, rank, amount, qualified_rank, paid_as_rank, title_rank, grace,
-- cpv, customers, and the API's rv and member_type, NULL read as
-- 'distributor'), payouts, audit lines (rates at 20 decimals), carry out,
-- state out, payables, totals (total CV, before / after the cap, cap limit
-- and factor at 20 decimals, per bonus after / before the cap, balance in,
-- paid out, balance out).  Invariants checked on the engine's chain:
-- titles never fall (state out against state in, the opening state
-- included); each rank's advancement is paid at most once per member over
-- the chain, and never for a rank at or below the opening title; per member
-- paid + balance_out - balance_in = earned, earned = the member's amount.
--
-- Run from the repository root, in a database where pgtap and mlm are
-- installed:
--   pg_prove -d <db> test/pgtap/reference_v2_compare.sql
-- With PGOPTIONS='-c mlm_rv2.stats=on' each period also prints a line of
-- what it exercised (customers, ranks, grace, payouts per bonus, held
-- balances, state and carry rows, the cap factor).  About 10 s.

\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off

BEGIN;
SET LOCAL client_min_messages = warning;
\i test/reference/reference.sql
\i test/reference/reference_plan16.sql
\i test/reference/reference_v2.sql

-- 5 scenarios: 4 + 4 + 3 + 3 + 3 periods of 7 tests, 3 invariants each
SELECT plan((4 + 4 + 3 + 3 + 3) * 7 + 5 * 3);

CREATE SCHEMA mlm_rv2;

CREATE TEMP TABLE rv_members (
  id bigint, sponsor_id bigint, placement_id bigint, position integer,
  active_status boolean, joined date, member_type text, payout_hold boolean);
CREATE TEMP TABLE rv_volumes (member_id bigint, pv numeric, cv numeric, rv numeric);
CREATE TEMP TABLE rv_state0 (member_id bigint, carry_left numeric, carry_right numeric,
                             title_rank text, paid_as_rank text, grace integer, balance numeric);
CREATE TEMP TABLE rv_ref_state (LIKE rv_state0);
CREATE TEMP TABLE rv_eng_state (LIKE rv_state0);
-- the engine's chain, for the invariants (k = period, 0 = opening state)
CREATE TEMP TABLE rv_hist_state (k integer, member_id bigint, title_index integer);
CREATE TEMP TABLE rv_hist_adv (k integer, member_id bigint, base numeric);
CREATE TEMP TABLE rv_hist_pay (k integer, member_id bigint, balance_in numeric, earned numeric,
                               paid numeric, balance_out numeric);
CREATE TEMP TABLE rv_hist_amount (k integer, member_id bigint, amount numeric);
-- one period's results: the reference's (copies of its outputs) and the
-- engine's state out; created once and refilled (dropping and creating
-- tables in one long transaction would exhaust the lock table)
DO $$ BEGIN PERFORM mlm_ref._v2_scratch(); END $$;
CREATE TEMP TABLE rv_r_member (LIKE _ref2_out_member);
CREATE TEMP TABLE rv_r_payout (LIKE _ref2_out_payout);
CREATE TEMP TABLE rv_r_line (LIKE _ref2_out_line);
CREATE TEMP TABLE rv_r_carry (LIKE _ref2_out_carry);
CREATE TEMP TABLE rv_r_state (LIKE _ref2_out_state);
CREATE TEMP TABLE rv_r_payable (LIKE _ref2_out_payable);
CREATE TEMP TABLE rv_r_total (LIKE _ref2_out_total);
CREATE TEMP TABLE rv_e_state (LIKE rv_state0);

------------------------------------------------------------------------------
-- Random helpers
------------------------------------------------------------------------------

CREATE FUNCTION mlm_rv2.id_of(i integer) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN i IS NULL OR i <= 0 THEN NULL
              ELSE ((i::bigint * 7919) % 10007) - 5000 END
$$;

CREATE FUNCTION mlm_rv2.rint(lo integer, hi integer) RETURNS integer LANGUAGE sql VOLATILE AS $$
  SELECT lo + floor(random() * (hi - lo + 1))::integer
$$;

CREATE FUNCTION mlm_rv2.pick(a numeric[]) RETURNS numeric LANGUAGE sql VOLATILE AS $$
  SELECT a[1 + floor(random() * cardinality(a))::integer]
$$;

CREATE FUNCTION mlm_rv2.pick(a text[]) RETURNS text LANGUAGE sql VOLATILE AS $$
  SELECT a[1 + floor(random() * cardinality(a))::integer]
$$;

-- 2 decimals, mostly 0 .. max, sometimes negative (a return) or 0 or whole
CREATE FUNCTION mlm_rv2.amount(max numeric) RETURNS numeric LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  r double precision := random();
BEGIN
  IF r < 0.07 THEN
    RETURN -round((random() * 0.5 * max::double precision)::numeric, 2);
  ELSIF r < 0.13 THEN
    RETURN 0;
  ELSIF r < 0.35 THEN
    RETURN round((random() * max::double precision)::numeric, 0);
  ELSE
    RETURN round((random() * max::double precision)::numeric, 2);
  END IF;
END $$;

------------------------------------------------------------------------------
-- Network, volumes, opening state
------------------------------------------------------------------------------

-- n members in index order 1..n (parents before children): member 1 is a
-- distributor root, member 2 sometimes another; a customer's sponsor is an
-- earlier customer (40%, a chain) or an earlier distributor; a
-- distributor's sponsor an earlier distributor.  With binary, the
-- distributors are placed (95%) by a random walk down from their sponsor
-- (from member 1 for a root or an unplaced sponsor) to a free slot.
CREATE FUNCTION mlm_rv2.gen_network(n integer, with_binary boolean) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  cust    boolean[] := array_fill(false, ARRAY[n]);
  parent  integer[] := array_fill(0, ARRAY[n]);
  lchild  integer[] := array_fill(0, ARRAY[n]);
  rchild  integer[] := array_fill(0, ARRAY[n]);
  placed  boolean[] := array_fill(false, ARRAY[n]);
  ppar    integer[] := array_fill(0, ARRAY[n]);
  ppos    integer[] := array_fill(NULL::integer, ARRAY[n]);
  dists   integer[] := ARRAY[1];
  custs   integer[] := '{}';
  i integer; p integer; cur integer; side integer;
  r double precision;
BEGIN
  TRUNCATE rv_members;
  FOR i IN 2 .. n LOOP
    IF i = 2 AND random() < 0.5 THEN
      parent[i] := 0;                                  -- a second root
      dists := dists || i;
    ELSIF random() < 0.3 THEN
      cust[i] := true;
      IF cardinality(custs) > 0 AND random() < 0.4 THEN
        parent[i] := custs[1 + floor(random() * cardinality(custs))::integer];
      ELSE
        parent[i] := dists[1 + floor(random() * cardinality(dists))::integer];
      END IF;
      custs := custs || i;
    ELSE
      parent[i] := dists[1 + floor(random() * cardinality(dists))::integer];
      dists := dists || i;
    END IF;
  END LOOP;

  IF with_binary THEN
    placed[1] := true;
    FOR i IN 2 .. n LOOP
      CONTINUE WHEN cust[i] OR random() < 0.05;
      p := parent[i];
      cur := CASE WHEN p > 0 AND placed[p] THEN p ELSE 1 END;
      LOOP
        side := mlm_rv2.rint(0, 1);
        IF side = 0 AND lchild[cur] = 0 THEN lchild[cur] := i; EXIT; END IF;
        IF side = 1 AND rchild[cur] = 0 THEN rchild[cur] := i; EXIT; END IF;
        cur := CASE side WHEN 0 THEN lchild[cur] ELSE rchild[cur] END;
      END LOOP;
      placed[i] := true;
      ppar[i] := cur;
      ppos[i] := side;
    END LOOP;
  END IF;

  FOR i IN 1 .. n LOOP
    r := random();
    INSERT INTO rv_members VALUES (
      mlm_rv2.id_of(i), mlm_rv2.id_of(parent[i]), mlm_rv2.id_of(ppar[i]), ppos[i],
      CASE WHEN r < 0.06 THEN false WHEN r < 0.11 THEN NULL ELSE true END,
      CASE WHEN random() < 0.3 THEN NULL ELSE DATE '2024-01-31' + mlm_rv2.rint(-60, 100) END,
      CASE WHEN cust[i] THEN 'customer' WHEN random() < 0.2 THEN NULL ELSE 'distributor' END,
      CASE WHEN random() < 0.1 THEN true WHEN random() < 0.2 THEN NULL ELSE false END);
  END LOOP;
END $$;

-- One period's volumes, and some changes of status and hold.
CREATE FUNCTION mlm_rv2.gen_period() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE rv_volumes;
  INSERT INTO rv_volumes
    SELECT m.id, mlm_rv2.amount(180), mlm_rv2.amount(180),
           CASE WHEN m.member_type IS DISTINCT FROM 'customer' AND random() < 0.3
                THEN round((random() * 60)::numeric, 2) END
      FROM rv_members m, generate_series(1, 2) g
     WHERE random() < 0.55;
  UPDATE rv_members SET active_status = NOT coalesce(active_status, true) WHERE random() < 0.04;
  UPDATE rv_members SET payout_hold = NOT coalesce(payout_hold, false) WHERE random() < 0.08;
END $$;

-- The opening state: ~35% of the members, ranks of the plan (NULL = 0).
CREATE FUNCTION mlm_rv2.gen_state(plan jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  nr integer := jsonb_array_length(plan->'ranks');
BEGIN
  TRUNCATE rv_state0;
  INSERT INTO rv_state0
    SELECT m.id,
           CASE WHEN random() < 0.5 THEN mlm_rv2.amount(300) END,
           CASE WHEN random() < 0.5 THEN mlm_rv2.amount(300) END,
           nullif(plan->'ranks'->mlm_rv2.rint(0, nr - 1)->>'name', plan->'ranks'->0->>'name'),
           CASE WHEN random() < 0.7 THEN plan->'ranks'->mlm_rv2.rint(0, nr - 1)->>'name' END,
           CASE WHEN random() < 0.6 THEN 0 ELSE mlm_rv2.rint(0, 3) END,
           CASE WHEN random() < 0.5 THEN mlm_rv2.amount(60) END
      FROM rv_members m
     WHERE random() < 0.35;
END $$;

------------------------------------------------------------------------------
-- Plans
------------------------------------------------------------------------------

-- A per-rank object over some of the ranks R0 .. R(nr-1), values from vals.
CREATE FUNCTION mlm_rv2.per_rank(nr integer, vals numeric[]) RETURNS jsonb LANGUAGE sql VOLATILE AS $$
  SELECT coalesce(jsonb_object_agg('R' || j, vals[1 + floor(random() * cardinality(vals))::integer]),
                  '{}'::jsonb)
    FROM generate_series(0, nr - 1) j WHERE random() < 0.7
$$;

-- A list of n rank names (min_rank_by_level and the like).
CREATE FUNCTION mlm_rv2.rank_list(nr integer, n integer) RETURNS jsonb LANGUAGE sql VOLATILE AS $$
  SELECT jsonb_agg('R' || mlm_rv2.rint(0, nr - 1) ORDER BY g) FROM generate_series(1, n) g
$$;

-- kind: 'mix' (every bonus type but binary), 'binary', 'plain' (mix
-- without rank_policy and payout), 'binary_plain' (binary without them),
-- 'binary_cycle' (a cycle binary, amount or amount_by_rank, and a total
-- cap that binds).
CREATE FUNCTION mlm_rv2.gen_plan(kind text) RETURNS jsonb LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  nr      integer := mlm_rv2.rint(3, 5);
  ranks   jsonb   := '[{"name": "R0"}]';
  rk      jsonb;
  bonuses jsonb   := '[]';
  b       jsonb;
  amounts jsonb   := '{}';
  acc     numeric;
  plan    jsonb;
  k       integer;
BEGIN
  FOR k IN 1 .. nr - 1 LOOP
    rk := jsonb_build_object('name', 'R' || k);
    IF random() < 0.8 THEN rk := rk || jsonb_build_object('min_pv', k * 25 + mlm_rv2.rint(0, 25)); END IF;
    IF random() < 0.5 THEN
      rk := rk || jsonb_build_object('min_gv', k * k * 120 + mlm_rv2.rint(0, 200));
      IF random() < 0.4 THEN rk := rk || jsonb_build_object('max_leg_pct', mlm_rv2.pick('{0.5, 0.6}'::numeric[])); END IF;
    END IF;
    IF random() < 0.25 THEN rk := rk || jsonb_build_object('min_active_frontline', mlm_rv2.rint(1, 3)); END IF;
    IF k >= 2 AND random() < 0.25 THEN
      rk := rk || jsonb_build_object('legs_with_rank', jsonb_build_object('rank', 'R' || mlm_rv2.rint(1, k),
                                                                         'count', mlm_rv2.rint(1, 2)));
    END IF;
    IF random() < 0.35 THEN rk := rk || jsonb_build_object('min_customer_pv', mlm_rv2.rint(10, 80)); END IF;
    IF random() < 0.25 THEN rk := rk || jsonb_build_object('min_customer_share', mlm_rv2.pick('{0.1, 0.2, 0.3, 0.5}'::numeric[])); END IF;
    IF random() < 0.35 THEN rk := rk || jsonb_build_object('min_customers', mlm_rv2.rint(1, 2)); END IF;
    ranks := ranks || rk;
    -- advancement amounts: distinct per rank (the invariant identifies the
    -- rank by the amount), the first rank never listed
    IF k = 1 OR random() < 0.8 THEN
      amounts := amounts || jsonb_build_object('R' || k, 100 * k + mlm_rv2.rint(0, 9) * 5);
    END IF;
  END LOOP;

  -- personal
  b := jsonb_build_object('name', 'retail', 'type', 'personal');
  IF random() < 0.5 THEN
    b := b || jsonb_build_object('rate', mlm_rv2.pick('{0.05, 0.1, 0.125, 0.2}'::numeric[]));
  ELSE
    b := b || jsonb_build_object('rate_by_rank', mlm_rv2.per_rank(nr, '{0, 0.05, 0.1, 0.15, 0.2}'));
  END IF;
  IF random() < 0.75 THEN
    b := b || jsonb_build_object('volume', mlm_rv2.pick('{all, own, customer}'::text[]));
  END IF;
  bonuses := bonuses || b;
  bonuses := bonuses || jsonb_build_object('name', 'adv', 'type', 'rank_advancement', 'amounts', amounts);

  IF kind LIKE 'binary%' THEN
    b := jsonb_build_object('name', 'bin', 'type', 'binary');
    IF kind LIKE '%cycle' THEN
      b := b || jsonb_build_object('cycle', jsonb_build_object(
                 'left', mlm_rv2.pick('{50, 100, 75.5}'::numeric[]),
                 'right', mlm_rv2.pick('{50, 100, 120}'::numeric[])));
      IF random() < 0.6 THEN
        b := jsonb_set(b, '{cycle,amount_by_rank}', mlm_rv2.per_rank(nr, '{0, 5, 10, 12.345}'));
      ELSE
        b := jsonb_set(b, '{cycle,amount}', to_jsonb(mlm_rv2.pick('{10, 12.5}'::numeric[])));
      END IF;
    ELSIF random() < 0.6 THEN
      b := b || jsonb_build_object('rate_by_rank', mlm_rv2.per_rank(nr, '{0, 0.05, 0.08, 0.1, 0.12}'));
    ELSE
      b := b || jsonb_build_object('rate', mlm_rv2.pick('{0.05, 0.1}'::numeric[]));
    END IF;
    IF random() < 0.3 THEN b := b || jsonb_build_object('cap', mlm_rv2.rint(20, 80)); END IF;
    IF random() < 0.4 THEN b := b || jsonb_build_object('max_carry', mlm_rv2.rint(200, 900)); END IF;
    IF random() < 0.4 THEN b := b || '{"flush_when_unqualified": true}'; END IF;
    IF random() < 0.3 THEN b := b || '{"require_sponsored_each_leg": false}'; END IF;
    bonuses := bonuses || b;
    bonuses := bonuses || jsonb_build_object('name', 'match', 'type', 'matching',
                                             'of', '["bin", "adv"]'::jsonb, 'rates', '[0.1, 0.05]'::jsonb,
                                             'min_rank_by_generation', mlm_rv2.rank_list(nr, 2));
    IF random() < 0.5 THEN                               -- a forced matrix
      bonuses := bonuses || jsonb_build_object('name', 'uni_pl', 'type', 'unilevel', 'tree', 'placement',
                                               'compression', mlm_rv2.pick('{none, dynamic}'::text[]),
                                               'rates', '[0.04, 0.02]'::jsonb,
                                               'min_rank_by_level', mlm_rv2.rank_list(nr, 2));
    END IF;
    bonuses := bonuses || jsonb_build_object('name', 'pool', 'type', 'pool',
                                             'pct', mlm_rv2.pick('{0.01, 0.02, 0.03}'::numeric[]),
                                             'min_rank', 'R' || mlm_rv2.rint(1, nr - 1),
                                             'shares', jsonb_build_object('by', mlm_rv2.pick('{cv, gv}'::text[])));
  ELSE
    bonuses := bonuses || jsonb_build_object('name', 'uni', 'type', 'unilevel',
                                             'compression', mlm_rv2.pick('{none, dynamic}'::text[]),
                                             'rates', '[0.1, 0.05, 0.03]'::jsonb,
                                             'min_rank_by_level', mlm_rv2.rank_list(nr, 3));
    -- differential: non-decreasing rates by rank
    acc := 0;
    rk := '{}';
    FOR k IN 0 .. nr - 1 LOOP
      acc := acc + mlm_rv2.pick('{0, 0.02, 0.05}'::numeric[]);
      IF random() < 0.8 THEN rk := rk || jsonb_build_object('R' || k, acc); END IF;
    END LOOP;
    b := jsonb_build_object('name', 'diff', 'type', 'differential', 'rate_by_rank', rk);
    IF random() < 0.6 THEN
      b := b || jsonb_build_object('breakaway_rank', 'R' || mlm_rv2.rint(1, nr - 1),
                                   'generation_rates', '[0.03, 0.01]'::jsonb);
      IF random() < 0.5 THEN
        b := b || jsonb_build_object('min_rank_by_generation', mlm_rv2.rank_list(nr, 2));
      END IF;
    END IF;
    bonuses := bonuses || b;
    bonuses := bonuses || jsonb_build_object('name', 'fast', 'type', 'fast_start',
                                             'days', mlm_rv2.rint(30, 60), 'rates', '[0.1, 0.05]'::jsonb);
    bonuses := bonuses || (jsonb_build_object('name', 'match', 'type', 'matching',
                                             'of', CASE WHEN random() < 0.5 THEN '["adv"]'::jsonb
                                                        ELSE '["adv", "uni", "retail"]'::jsonb END,
                                             'rates', '[0.1, 0.05]'::jsonb,
                                             'compression', mlm_rv2.pick('{none, dynamic}'::text[]))
                        || CASE WHEN random() < 0.5
                                THEN jsonb_build_object('min_rank_by_generation', mlm_rv2.rank_list(nr, 2))
                                ELSE '{}'::jsonb END);
    bonuses := bonuses || jsonb_build_object('name', 'pool_a', 'type', 'pool',
                                             'pct', mlm_rv2.pick('{0.01, 0.02, 0.03}'::numeric[]),
                                             'min_rank', 'R' || mlm_rv2.rint(0, nr - 1),
                                             'shares', CASE WHEN random() < 0.5 THEN '"equal"'::jsonb
                                                            ELSE mlm_rv2.per_rank(nr, '{0, 1, 2, 3.5}') END);
    bonuses := bonuses || jsonb_build_object('name', 'pool_b', 'type', 'pool',
                                             'pct', mlm_rv2.pick('{0.01, 0.02}'::numeric[]),
                                             'min_rank', 'R' || mlm_rv2.rint(1, nr - 1),
                                             'shares', jsonb_build_object('by', mlm_rv2.pick('{cv, gv}'::text[])));
  END IF;

  plan := jsonb_build_object(
    'name', 'v2 random ' || kind,
    'currency', jsonb_build_object('scale', 2, 'rounding', mlm_rv2.pick('{half_up, half_even, down}'::text[])),
    'active', jsonb_build_object('min_pv', mlm_rv2.rint(10, 40)),
    'ranks', ranks,
    'bonuses', bonuses);
  IF kind NOT LIKE '%plain' THEN
    plan := plan || jsonb_build_object('rank_policy', jsonb_build_object('grace_periods', mlm_rv2.rint(1, 2)),
                                       'payout', jsonb_build_object('min_payout', mlm_rv2.pick('{0, 10, 25, 50}'::numeric[])));
  END IF;
  IF kind LIKE '%cycle' THEN
    plan := plan || '{"cap": {"pct": 0.08}}';             -- binds
  ELSIF random() < 0.3 THEN
    plan := plan || jsonb_build_object('cap', jsonb_build_object('pct', mlm_rv2.pick('{0.2, 0.35, 0.5}'::numeric[])));
  END IF;
  RETURN plan;
END $$;

------------------------------------------------------------------------------
-- Comparison
------------------------------------------------------------------------------

-- One test: the rows of have_sql (the engine) and want_sql (the
-- reference) as bags (EXCEPT ALL both ways, run as queries: no table is
-- created); an engine error fails the test with its message.
CREATE FUNCTION mlm_rv2.same(descr text, have_sql text, want_sql text, context text)
RETURNS SETOF text LANGUAGE plpgsql SET client_min_messages = warning AS $$
DECLARE
  n_extra   bigint;
  n_missing bigint;
  r         record;
BEGIN
  BEGIN
    EXECUTE format('SELECT count(*) FROM ((%s) EXCEPT ALL (%s)) d', have_sql, want_sql) INTO n_extra;
    EXECUTE format('SELECT count(*) FROM ((%s) EXCEPT ALL (%s)) d', want_sql, have_sql) INTO n_missing;
  EXCEPTION WHEN OTHERS THEN
    RETURN NEXT fail(descr);
    RETURN NEXT diag(format('    the engine raised: %s (SQLSTATE %s)', SQLERRM, SQLSTATE));
    RETURN NEXT diag('    ' || context);
    RETURN;
  END;
  RETURN NEXT ok(n_extra = 0 AND n_missing = 0, descr);
  IF n_extra > 0 OR n_missing > 0 THEN
    RETURN NEXT diag(format('    %s rows only in the engine, %s rows only in the reference (first 10 of each):',
                            n_extra, n_missing));
    FOR r IN EXECUTE format('SELECT d::text AS t FROM ((%s) EXCEPT ALL (%s)) d ORDER BY 1 LIMIT 10',
                            have_sql, want_sql) LOOP
      RETURN NEXT diag('    engine:    ' || r.t);
    END LOOP;
    FOR r IN EXECUTE format('SELECT d::text AS t FROM ((%s) EXCEPT ALL (%s)) d ORDER BY 1 LIMIT 10',
                            want_sql, have_sql) LOOP
      RETURN NEXT diag('    reference: ' || r.t);
    END LOOP;
    RETURN NEXT diag('    ' || context);
  END IF;
END $$;

-- Rank name -> index in the plan (NULL -> 0).
CREATE FUNCTION mlm_rv2.rix(plan jsonb, name text) RETURNS integer LANGUAGE sql IMMUTABLE AS $$
  SELECT coalesce((SELECT (r.o - 1)::integer FROM jsonb_array_elements(plan->'ranks') WITH ORDINALITY r(e, o)
                    WHERE r.e->>'name' = name), 0)
$$;

-- One scenario: P periods of 7 tests, then 3 invariants.
CREATE FUNCTION mlm_rv2.scenario(label text, seed double precision, n integer, kind text,
                                 periods integer)
RETURNS SETOF text LANGUAGE plpgsql SET client_min_messages = warning AS $$
DECLARE
  v_plan  jsonb;
  v_start date;
  v_end   date;
  v_args  text;
  v_ctx   text;
  v_names text;
  v_bad   text;
  k       integer;
  v_got   integer := 0;
BEGIN
  PERFORM setseed(seed);
  PERFORM mlm_rv2.gen_network(n, kind LIKE 'binary%');
  v_plan := mlm_rv2.gen_plan(kind);
  PERFORM mlm_rv2.gen_state(v_plan);
  TRUNCATE rv_ref_state, rv_eng_state, rv_hist_state, rv_hist_adv, rv_hist_pay, rv_hist_amount;
  INSERT INTO rv_ref_state SELECT * FROM rv_state0;
  INSERT INTO rv_eng_state SELECT * FROM rv_state0;
  INSERT INTO rv_hist_state SELECT 0, s.member_id, mlm_rv2.rix(v_plan, s.title_rank) FROM rv_state0 s;
  v_names := (SELECT string_agg(format('(%L)', b->>'name'), ', ')
                FROM jsonb_array_elements(v_plan->'bonuses') b);

  FOR k IN 1 .. periods LOOP
    v_start := DATE '2024-01-01' + make_interval(months => k - 1);
    v_end   := (v_start + interval '1 month' - interval '1 day')::date;
    PERFORM mlm_rv2.gen_period();
    ANALYZE rv_members; ANALYZE rv_volumes;
    v_ctx := format('scenario %s: seed %s, %s members, kind %s, period %s of %s (%s .. %s); plan: %s',
                    label, seed, n, kind, k, periods, v_start, v_end, v_plan);
    v_args := format('%L::jsonb, %L::regclass, %L::regclass, DATE %L, DATE %L, carry => %L::regclass',
                     v_plan, 'rv_members', 'rv_volumes', v_start, v_end, 'rv_eng_state');

    -- the reference, on its own chain
    PERFORM mlm_ref.v2_compute(v_plan, 'rv_members', 'rv_volumes', 'rv_ref_state', v_end);
    TRUNCATE rv_r_member, rv_r_payout, rv_r_line, rv_r_carry, rv_r_state, rv_r_payable,
             rv_r_total;
    INSERT INTO rv_r_member SELECT * FROM _ref2_out_member;
    INSERT INTO rv_r_payout SELECT * FROM _ref2_out_payout;
    INSERT INTO rv_r_line SELECT * FROM _ref2_out_line;
    INSERT INTO rv_r_carry SELECT * FROM _ref2_out_carry;
    INSERT INTO rv_r_state SELECT * FROM _ref2_out_state;
    INSERT INTO rv_r_payable SELECT * FROM _ref2_out_payable;
    INSERT INTO rv_r_total SELECT * FROM _ref2_out_total;

    -- what the period exercises (the reference's numbers), on request
    IF current_setting('mlm_rv2.stats', true) = 'on' THEN
    RETURN NEXT diag(format(
      '    %s, period %s (reference): %s members, %s customers (%s with PV > 0); ranks qualified / paid-as '
      '/ title > 0: %s / %s / %s; %s in grace; payouts by bonus %s; %s advancement lines; '
      'payables: %s rows, %s held or below min_payout, %s negative; %s state rows; %s carry rows; '
      'cap factor %s',
      label, k, (SELECT count(*) FROM rv_r_member),
      (SELECT count(*) FROM rv_r_member WHERE member_type = 'customer'),
      (SELECT count(*) FROM rv_r_member WHERE member_type = 'customer' AND pv > 0),
      (SELECT count(*) FROM rv_r_member WHERE qualified_rank <> 'R0'),
      (SELECT count(*) FROM rv_r_member WHERE paid_as_rank <> 'R0'),
      (SELECT count(*) FROM rv_r_member WHERE title_rank <> 'R0'),
      (SELECT count(*) FROM rv_r_member WHERE grace > 0),
      (SELECT jsonb_object_agg(x.bonus, x.n) FROM (SELECT bonus, count(*) AS n FROM rv_r_payout GROUP BY 1) x),
      (SELECT count(*) FROM rv_r_line WHERE bonus = 'adv'),
      (SELECT count(*) FROM rv_r_payable),
      (SELECT count(*) FROM rv_r_payable WHERE balance_out <> 0),
      (SELECT count(*) FROM rv_r_payable WHERE balance_out < 0),
      (SELECT count(*) FROM rv_r_state), (SELECT count(*) FROM rv_r_carry),
      coalesce(round((SELECT cap_factor FROM rv_r_total), 6)::text, 'none')));
    END IF;

    RETURN QUERY SELECT * FROM mlm_rv2.same(
      format('%s, period %s: member results', label, k),
      'SELECT member_id, pv, gv, active, rank, amount, qualified_rank, paid_as_rank, title_rank,
              grace, cpv, customers, rv, coalesce(member_type, ''distributor'') AS member_type
         FROM mlm.member_results(' || v_args || ')',
      'SELECT member_id, pv, gv, active, rank, amount, qualified_rank, paid_as_rank, title_rank,
              grace, cpv, customers, rv, member_type FROM rv_r_member',
      v_ctx);
    RETURN QUERY SELECT * FROM mlm_rv2.same(
      format('%s, period %s: payouts', label, k),
      'SELECT member_id, bonus, amount FROM mlm.payouts(' || v_args || ')',
      'SELECT member_id, bonus, amount FROM rv_r_payout',
      v_ctx);
    RETURN QUERY SELECT * FROM mlm_rv2.same(
      format('%s, period %s: audit lines', label, k),
      'SELECT member_id, bonus, source_id, level, base, round(rate, 20) AS rate, amount
         FROM mlm.lines(' || v_args || ')',
      'SELECT recipient, bonus, source, level, base, round(rate, 20) AS rate, amount FROM rv_r_line',
      v_ctx);
    RETURN QUERY SELECT * FROM mlm_rv2.same(
      format('%s, period %s: carry out', label, k),
      'SELECT member_id, carry_left, carry_right FROM mlm.carry_out(' || v_args || ')',
      'SELECT member_id, carry_left, carry_right FROM rv_r_carry',
      v_ctx);
    RETURN QUERY SELECT * FROM mlm_rv2.same(
      format('%s, period %s: state out', label, k),
      'SELECT member_id, carry_left, carry_right, title_rank, paid_as_rank, grace, balance
         FROM mlm.state_out(' || v_args || ')',
      'SELECT member_id, carry_left, carry_right, title_rank, paid_as_rank, grace, balance
         FROM rv_r_state',
      v_ctx);
    RETURN QUERY SELECT * FROM mlm_rv2.same(
      format('%s, period %s: payables', label, k),
      'SELECT member_id, balance_in, earned, paid, balance_out FROM mlm.payables(' || v_args || ')',
      'SELECT member_id, balance_in, earned, paid, balance_out FROM rv_r_payable',
      v_ctx);
    RETURN QUERY SELECT * FROM mlm_rv2.same(
      format('%s, period %s: totals', label, k),
      'SELECT t.total_cv, t.total_before_cap, t.total_paid, t.cap_limit,
              round(t.cap_factor, 20) AS cap_factor, b.name,
              coalesce((t.bonuses->>b.name)::numeric, 0) AS bonus_total,
              coalesce((t.bonuses_before_cap->>b.name)::numeric, 0) AS bonus_before_cap,
              t.balance_in, t.paid_out, t.balance_out
         FROM mlm.totals(' || v_args || ') t, (VALUES ' || v_names || ') b(name)',
      'SELECT t.total_cv, t.total_before_cap, t.total_paid, t.cap_limit,
              round(t.cap_factor, 20) AS cap_factor, b.name,
              coalesce((t.bonuses->>b.name)::numeric, 0) AS bonus_total,
              coalesce((t.bonuses_before_cap->>b.name)::numeric, 0) AS bonus_before_cap,
              t.balance_in, t.paid_out, t.balance_out
         FROM rv_r_total t, (VALUES ' || v_names || ') b(name)',
      v_ctx);

    -- the engine's chain: its state out is its next state in; its outputs
    -- are kept for the invariants
    BEGIN
      TRUNCATE rv_e_state;
      EXECUTE 'INSERT INTO rv_e_state
                 SELECT member_id, carry_left, carry_right, title_rank, paid_as_rank, grace, balance
                   FROM mlm.state_out(' || v_args || ')';
      EXECUTE format('INSERT INTO rv_hist_adv SELECT %s, member_id, base FROM mlm.lines(%s)
                       WHERE bonus = %L', k, v_args, 'adv');
      EXECUTE format('INSERT INTO rv_hist_pay SELECT %s, member_id, balance_in, earned, paid, balance_out
                        FROM mlm.payables(%s)', k, v_args);
      EXECUTE format('INSERT INTO rv_hist_amount SELECT %s, member_id, amount
                        FROM mlm.member_results(%s)', k, v_args);
      TRUNCATE rv_eng_state;
      INSERT INTO rv_eng_state SELECT * FROM rv_e_state;
      v_got := v_got + 1;
    EXCEPTION WHEN OTHERS THEN
      RETURN NEXT diag(format('    %s, period %s: the engine''s state out failed (%s); its next period runs on the reference''s state',
                              label, k, SQLERRM));
      TRUNCATE rv_eng_state;
      INSERT INTO rv_eng_state SELECT * FROM rv_r_state;
    END;
    INSERT INTO rv_hist_state SELECT k, s.member_id, mlm_rv2.rix(v_plan, s.title_rank) FROM rv_eng_state s;
    TRUNCATE rv_ref_state;
    INSERT INTO rv_ref_state SELECT * FROM rv_r_state;
  END LOOP;

  -- Invariants on the engine's chain.
  v_ctx := format('scenario %s: seed %s, %s members, kind %s; plan: %s', label, seed, n, kind, v_plan);
  -- 11: title(m) = max(t, qualified) never falls (a member absent from a
  -- state has title 0)
  SELECT string_agg(format('member %s: period %s title %s after %s', a.member_id, b.k,
                           coalesce(b.title_index, 0), a.title_index), '; ')
    INTO v_bad
    FROM rv_hist_state a
    LEFT JOIN rv_hist_state b ON b.member_id = a.member_id AND b.k = a.k + 1
   WHERE a.k < periods AND coalesce(b.title_index, 0) < a.title_index;
  RETURN NEXT ok(v_got = periods AND v_bad IS NULL,
                 format('%s: titles never fall over %s periods (engine)', label, periods));
  IF v_bad IS NOT NULL OR v_got < periods THEN
    RETURN NEXT diag(format('    %s of %s periods ran; %s; %s', v_got, periods, v_bad, v_ctx));
  END IF;
  -- 11.1: each rank's advancement at most once per member over the chain,
  -- never for a rank at or below the opening title (amounts are distinct
  -- per rank, so the base names the rank)
  SELECT string_agg(format('member %s: %s', x.member_id, x.why), '; ')
    INTO v_bad
    FROM (SELECT h.member_id, format('amount %s paid %s times', h.base, count(*)) AS why
            FROM rv_hist_adv h GROUP BY h.member_id, h.base HAVING count(*) > 1
          UNION ALL
          SELECT h.member_id, format('amount %s in period %s, opening title %s', h.base, h.k, s.title_index)
            FROM rv_hist_adv h
            JOIN rv_hist_state s ON s.k = 0 AND s.member_id = h.member_id
            JOIN jsonb_each_text((SELECT b->'amounts' FROM jsonb_array_elements(v_plan->'bonuses') b
                                   WHERE b->>'name' = 'adv')) a(rank, amount)
              ON a.amount::numeric = h.base
           WHERE mlm_rv2.rix(v_plan, a.rank) <= s.title_index) x;
  RETURN NEXT ok(v_got = periods AND v_bad IS NULL,
                 format('%s: each rank''s advancement paid at most once per member (engine, %s lines)',
                        label, (SELECT count(*) FROM rv_hist_adv)));
  IF v_bad IS NOT NULL OR v_got < periods THEN
    RETURN NEXT diag(format('    %s of %s periods ran; %s; %s', v_got, periods, v_bad, v_ctx));
  END IF;
  -- 13.1: paid + balance_out - balance_in = earned = the member's amount,
  -- and every member with a non-zero amount has a payables row
  SELECT string_agg(format('period %s member %s: %s', x.k, x.member_id, x.why), '; ')
    INTO v_bad
    FROM (SELECT p.k, p.member_id,
                 format('in %s earned %s paid %s out %s amount %s', p.balance_in, p.earned, p.paid,
                        p.balance_out, a.amount) AS why
            FROM rv_hist_pay p
            LEFT JOIN rv_hist_amount a ON a.k = p.k AND a.member_id = p.member_id
           WHERE p.paid + p.balance_out - p.balance_in <> p.earned
              OR p.earned IS DISTINCT FROM coalesce(a.amount, 0)
          UNION ALL
          SELECT a.k, a.member_id, format('amount %s without a payables row', a.amount)
            FROM rv_hist_amount a
           WHERE a.amount <> 0
             AND NOT EXISTS (SELECT 1 FROM rv_hist_pay p WHERE p.k = a.k AND p.member_id = a.member_id)
           ORDER BY 1, 2 LIMIT 10) x;
  RETURN NEXT ok(v_got = periods AND v_bad IS NULL,
                 format('%s: paid + balance_out - balance_in = earned per member (engine)', label));
  IF v_bad IS NOT NULL OR v_got < periods THEN
    RETURN NEXT diag(format('    %s of %s periods ran; %s; %s', v_got, periods, v_bad, v_ctx));
  END IF;
END $$;

SELECT * FROM mlm_rv2.scenario('A mix', 0.3131, 300, 'mix', 4);
SELECT * FROM mlm_rv2.scenario('B binary', 0.8383, 280, 'binary', 4);
SELECT * FROM mlm_rv2.scenario('C plain', 0.9090, 220, 'plain', 3);
SELECT * FROM mlm_rv2.scenario('D binary plain', 0.2222, 240, 'binary_plain', 3);
SELECT * FROM mlm_rv2.scenario('E cycle, cap', 0.7070, 240, 'binary_cycle', 3);

SELECT * FROM finish();
ROLLBACK;
