-- test/pgtap/reference_compare.sql
--
-- Engine (schema mlm) against the independent plain-SQL reference
-- (test/reference/reference.sql, schema mlm_ref) on random networks, volumes
-- and plans.  Every scenario is reproducible from its seed: setseed() is
-- called before the data and the plan are drawn, and all drawing happens in
-- one fixed order.
--
-- Scenarios:
--   * sponsor tree shapes: random recursive (parent = random earlier
--     member), preferential attachment (heavy-tailed: parent drawn with
--     weight 1 + its number of children), deep (parent among the last 3
--     members), pure chain, star, forest (6 roots); 200..500 members whose
--     ids are scattered over -5000 .. 5006 (0 and negative ids included) in
--     an order unrelated to the tree;
--   * volumes: 0..3 rows per member, 2 decimals, some negative, some
--     members without rows;
--   * active_status: true / false / NULL (NULL = true);
--   * plans: 1..5 ranks with random requirements of every kind (min_pv,
--     min_gv with and without max_leg_pct, min_active_frontline,
--     legs_with_rank naming any rank), personal (rate or rate_by_rank, which
--     may be empty), unilevel bonuses (compression none / dynamic / absent,
--     tree sponsor / placement / absent, 1..6 rates, random
--     min_rank_by_level), differential (rate_by_rank non-decreasing or
--     empty, breakaway_rank, 1..3 generation_rates, min_rank_by_generation),
--     fast start (days, 1..3 rates), pools (pct, min_rank, shares equal /
--     by rank with zero weights / absent), matching of 1..3 other bonuses
--     (compression, min_rank_by_generation); currency scale 0..6 and
--     rounding half_up / half_even (each key sometimes absent), active
--     min_pv, sometimes a total cap: every key of the plan language of
--     version 1.  Kind 'mixed' always draws every bonus type but binary;
--     the other kinds draw the extra bonuses sometimes;
--   * binary: placement trees of width 2 (a new member takes a free slot
--     below its sponsor, "spillover", or a random free slot anywhere; in one
--     scenario some members stay outside the placement tree), random
--     carry-in (negative too), rate or cycle style, with / without cap,
--     max_carry, flush_when_unqualified, require_sponsored_each_leg, plus a
--     personal bonus and a unilevel on the placement tree.
--
-- Compared (set equality, the first differences reported as diagnostics with
-- the seed and the plan):
--   member results (member_id, pv, gv, active, rank), per-member total,
--   payouts (member_id, bonus, amount), the audit lines, binary carry-out;
--   and for the aggregate scenarios volume_summary, leg_volumes,
--   volume_summary_snapshot and compute_snapshot (payouts, member results,
--   lines, carry-out) against the reference on the same members;
--   nothing is filtered on either side (a payout the cap truncates to 0 is
--   not listed, section 8).
-- An error raised by the engine fails the test (with the message) instead of
-- stopping the file.
--
-- Run from the repository root, in a database where pgtap and mlm are
-- installed:
--   pg_prove -d <db> test/pgtap/reference_compare.sql

\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off

BEGIN;
\i test/reference/reference.sql

SELECT plan(14 * 4 + 6 + 9 * 5 + 6 * 4 + 6 + 7 + 6 + 1);

CREATE SCHEMA mlm_rc;

CREATE TEMP TABLE rc_members (
  id bigint, sponsor_id bigint, placement_id bigint, position integer,
  active_status boolean, joined date);
CREATE TEMP TABLE rc_volumes (member_id bigint, pv numeric, cv numeric, rv numeric);
CREATE TEMP TABLE rc_carry (member_id bigint, carry_left numeric, carry_right numeric);
CREATE TEMP TABLE rc_plan (plan jsonb);
CREATE TEMP TABLE rc_drawn (plan jsonb);    -- every plan of the file

------------------------------------------------------------------------------
-- Random helpers
------------------------------------------------------------------------------

-- member index (1..n, in tree order) -> id; injective for i < 10007
CREATE FUNCTION mlm_rc.id_of(i integer) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN i IS NULL OR i <= 0 THEN NULL
              ELSE ((i::bigint * 7919) % 10007) - 5000 END
$$;

CREATE FUNCTION mlm_rc.pick(a numeric[]) RETURNS numeric LANGUAGE sql VOLATILE AS $$
  SELECT a[1 + floor(random() * cardinality(a))::integer]
$$;

CREATE FUNCTION mlm_rc.pick(a text[]) RETURNS text LANGUAGE sql VOLATILE AS $$
  SELECT a[1 + floor(random() * cardinality(a))::integer]
$$;

-- uniform integer in lo .. hi
CREATE FUNCTION mlm_rc.rint(lo integer, hi integer) RETURNS integer LANGUAGE sql VOLATILE AS $$
  SELECT lo + floor(random() * (hi - lo + 1))::integer
$$;

-- a money-like amount with 2 decimals: mostly 0 .. max (skewed to small),
-- sometimes negative (returns), sometimes a whole number
CREATE FUNCTION mlm_rc.amount(max numeric) RETURNS numeric LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  r double precision := random();
BEGIN
  IF r < 0.07 THEN
    RETURN -round((random() * 0.5 * max::double precision)::numeric, 2);
  ELSIF r < 0.15 THEN
    RETURN 0;
  ELSIF r < 0.35 THEN
    RETURN round((random() * max::double precision)::numeric, 0);
  ELSE
    RETURN round((random() ^ 2 * max::double precision)::numeric, 2);
  END IF;
END $$;

------------------------------------------------------------------------------
-- Network and volumes
------------------------------------------------------------------------------

-- Fill rc_members, rc_volumes, rc_carry.  shape: random, preferential, deep,
-- chain, star, forest.  With binary, members also get a placement (width 2):
-- 70% take a free slot on a random path below their sponsor (when the
-- sponsor is placed), the others a random free slot of the whole tree;
-- unplaced_frac of them stay outside the placement tree.
CREATE FUNCTION mlm_rc.gen_network(n integer, shape text, with_binary boolean,
                                   unplaced_frac double precision)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  parent  integer[] := array_fill(0, ARRAY[n]);
  targets integer[] := ARRAY[1];
  lchild  integer[] := array_fill(0, ARRAY[n]);
  rchild  integer[] := array_fill(0, ARRAY[n]);
  placed  boolean[] := array_fill(false, ARRAY[n]);
  ppar    integer[] := array_fill(0, ARRAY[n]);
  ppos    integer[] := array_fill(NULL::integer, ARRAY[n]);
  free    integer[] := ARRAY[2, 3];        -- slot code = index * 2 + side
  i integer; j integer; k integer; p integer; cur integer; side integer; slot integer;
  r double precision;
BEGIN
  TRUNCATE rc_members, rc_volumes, rc_carry;

  -- sponsor tree (parent index 0 = root)
  FOR i IN 2 .. n LOOP
    IF shape = 'preferential' THEN
      p := targets[1 + floor(random() * cardinality(targets))::integer];
      targets := targets || p || i;
    ELSIF shape = 'random' THEN
      p := mlm_rc.rint(1, i - 1);
    ELSIF shape = 'deep' THEN
      p := greatest(1, i - mlm_rc.rint(1, 3));
    ELSIF shape = 'chain' THEN
      p := i - 1;
    ELSIF shape = 'star' THEN
      p := 1;
    ELSIF shape = 'forest' THEN
      p := CASE WHEN i <= 6 THEN 0 ELSE mlm_rc.rint(1, i - 1) END;
    ELSE
      RAISE EXCEPTION 'unknown shape %', shape;
    END IF;
    parent[i] := p;
  END LOOP;

  -- placement tree
  IF with_binary THEN
    placed[1] := true;
    FOR i IN 2 .. n LOOP
      IF random() < unplaced_frac THEN
        CONTINUE;
      END IF;
      p := parent[i];
      IF p > 0 AND placed[p] AND random() < 0.7 THEN
        cur := p;
        LOOP
          side := mlm_rc.rint(0, 1);
          IF side = 0 AND lchild[cur] = 0 THEN lchild[cur] := i; EXIT; END IF;
          IF side = 1 AND rchild[cur] = 0 THEN rchild[cur] := i; EXIT; END IF;
          cur := CASE side WHEN 0 THEN lchild[cur] ELSE rchild[cur] END;
        END LOOP;
      ELSE
        LOOP
          k := 1 + floor(random() * cardinality(free))::integer;
          slot := free[k];
          free[k] := free[cardinality(free)];
          free := free[1 : cardinality(free) - 1];
          cur := slot / 2;
          side := slot % 2;
          IF side = 0 AND lchild[cur] = 0 THEN lchild[cur] := i; EXIT; END IF;
          IF side = 1 AND rchild[cur] = 0 THEN rchild[cur] := i; EXIT; END IF;
        END LOOP;
      END IF;
      placed[i] := true;
      ppar[i] := cur;
      ppos[i] := side;
      free := free || (i * 2) || (i * 2 + 1);
    END LOOP;
  END IF;

  FOR i IN 1 .. n LOOP
    r := random();
    INSERT INTO rc_members VALUES (
      mlm_rc.id_of(i), mlm_rc.id_of(parent[i]), mlm_rc.id_of(ppar[i]), ppos[i],
      CASE WHEN r < 0.08 THEN false WHEN r < 0.13 THEN NULL ELSE true END,
      CASE WHEN random() < 0.3 THEN NULL
           ELSE DATE '2024-03-31' - mlm_rc.rint(-10, 90) END);
  END LOOP;

  FOR i IN 1 .. n LOOP
    r := random();
    k := CASE WHEN r < 0.15 THEN 0 WHEN r < 0.65 THEN 1 WHEN r < 0.9 THEN 2 ELSE 3 END;
    FOR j IN 1 .. k LOOP
      INSERT INTO rc_volumes VALUES (
        mlm_rc.id_of(i), mlm_rc.amount(250), mlm_rc.amount(400),
        CASE WHEN random() < 0.7 THEN 0 ELSE mlm_rc.amount(50) END);
    END LOOP;
  END LOOP;

  IF with_binary THEN
    FOR i IN 1 .. n LOOP
      IF random() < 0.3 THEN
        INSERT INTO rc_carry VALUES (
          mlm_rc.id_of(i),
          CASE WHEN random() < 0.15 THEN 0 ELSE round((random() * 2800 - 300)::numeric, 2) END,
          CASE WHEN random() < 0.15 THEN 0 ELSE round((random() * 2800 - 300)::numeric, 2) END);
      END IF;
    END LOOP;
  END IF;
END $$;

------------------------------------------------------------------------------
-- Plans
------------------------------------------------------------------------------

-- A differential bonus over ranks R0 .. R(n_ranks - 1): rate_by_rank
-- non-decreasing along the ranks (it may be empty: 0 for every rank),
-- sometimes a breakaway rank with 1 .. 3 generation rates and
-- min_rank_by_generation.
CREATE FUNCTION mlm_rc.gen_differential(n_ranks integer) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  b jsonb := '{"name": "diff", "type": "differential"}';
  obj jsonb := '{}';
  arr jsonb;
  rate numeric := 0;
  g integer;
  j integer;
BEGIN
  FOR j IN 0 .. n_ranks - 1 LOOP
    IF random() < 0.6 THEN
      rate := rate + mlm_rc.pick(ARRAY[0, 0.01, 0.025, 0.05, 0.075]);
      obj := obj || jsonb_build_object('R' || j, rate);
    END IF;
  END LOOP;
  b := b || jsonb_build_object('rate_by_rank', obj);
  IF random() < 0.6 THEN
    b := b || jsonb_build_object('breakaway_rank', 'R' || mlm_rc.rint(0, n_ranks - 1));
    IF random() < 0.8 THEN
      -- 0 .. 3 generations: an empty list is G = 0 (section 10)
      g := mlm_rc.rint(0, 3);
      arr := '[]';
      FOR j IN 1 .. g LOOP
        arr := arr || jsonb_build_array(mlm_rc.pick(ARRAY[0, 0.01, 0.02, 0.03, 0.05]));
      END LOOP;
      b := b || jsonb_build_object('generation_rates', arr);
      IF random() < 0.5 THEN
        arr := '[]';
        FOR j IN 1 .. g LOOP
          arr := arr || jsonb_build_array('R' || mlm_rc.rint(0, n_ranks - 1));
        END LOOP;
        b := b || jsonb_build_object('min_rank_by_generation', arr);
      END IF;
    END IF;
  END IF;
  RETURN b;
END $$;

-- kind: 'unilevel' (personal + two unilevel bonuses on the sponsor tree),
-- 'mixed' (personal, unilevel, differential, fast start, 1 .. 2 pools and
-- 1 .. 2 matching bonuses of 1 .. 3 of the others, on the sponsor tree),
-- 'binary_rate' / 'binary_cycle' (a binary bonus, maybe with a personal
-- bonus and a unilevel on the placement tree).
CREATE FUNCTION mlm_rc.gen_plan(kind text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  rates_set numeric[] := ARRAY[0, 0.01, 0.025, 0.05, 0.075, 0.1, 0.125, 0.15, 0.2, 0.25, 0.333];
  n_ranks integer := CASE WHEN random() < 0.1 THEN 1 ELSE mlm_rc.rint(2, 5) END;
  plan jsonb := '{"name": "random plan"}';
  ranks jsonb := '[{"name": "R0"}]';
  bonuses jsonb := '[]';
  rk jsonb;
  b jsonb;
  obj jsonb;
  arr jsonb;
  comp text;
  j integer; k integer; levels integer;
  r double precision;
BEGIN
  -- currency: every scale 0 .. 6, both roundings, each key sometimes absent
  -- (scale 2, half_up)
  r := random();
  IF r < 0.85 THEN
    obj := '{}';
    IF random() < 0.85 THEN
      obj := obj || jsonb_build_object('scale', mlm_rc.rint(0, 6));
    END IF;
    IF random() < 0.8 THEN
      obj := obj || jsonb_build_object('rounding', mlm_rc.pick(ARRAY['half_up', 'half_even']));
    END IF;
    plan := plan || jsonb_build_object('currency', obj);
  END IF;

  -- activity
  IF random() < 0.8 THEN
    plan := plan || jsonb_build_object('active', jsonb_build_object(
                      'min_pv', mlm_rc.pick(ARRAY[0, 10, 20, 40, 50.5])));
  END IF;

  -- ranks R0 .. R(n-1), each with at least one requirement; min_gv is
  -- log-uniform in 50 .. 20000 so that subtrees of every size meet some
  FOR j IN 1 .. n_ranks - 1 LOOP
    rk := jsonb_build_object('name', 'R' || j);
    IF random() < 0.5 THEN
      rk := rk || jsonb_build_object('min_pv', mlm_rc.pick(ARRAY[0, 20, 50, 75.5, 100, 150]));
    END IF;
    IF random() < 0.5 THEN
      rk := rk || jsonb_build_object('min_gv',
                    round((50 * 400 ^ random())::numeric, mlm_rc.rint(-1, 1)));
      IF random() < 0.5 THEN
        rk := rk || jsonb_build_object('max_leg_pct', mlm_rc.pick(ARRAY[0.25, 0.4, 0.5, 0.6, 1]));
      END IF;
    END IF;
    IF random() < 0.35 THEN
      rk := rk || jsonb_build_object('min_active_frontline', mlm_rc.rint(1, 4));
    END IF;
    IF random() < 0.35 THEN
      rk := rk || jsonb_build_object('legs_with_rank', jsonb_build_object(
                    'rank', 'R' || mlm_rc.rint(0, n_ranks - 1),
                    'count', mlm_rc.pick(ARRAY[1, 1, 2, 2, 3])::integer));
    END IF;
    IF rk = jsonb_build_object('name', 'R' || j) THEN
      rk := rk || jsonb_build_object('min_pv', mlm_rc.pick(ARRAY[30, 60, 90, 120]));
    END IF;
    ranks := ranks || jsonb_build_array(rk);
  END LOOP;
  plan := plan || jsonb_build_object('ranks', ranks);

  -- personal
  IF random() < (CASE WHEN kind IN ('unilevel', 'mixed') THEN 0.75 ELSE 0.5 END) THEN
    b := '{"name": "personal", "type": "personal"}';
    IF random() < 0.4 THEN
      b := b || jsonb_build_object('rate', mlm_rc.pick(rates_set));
    ELSE
      obj := '{}';
      FOR j IN 0 .. n_ranks - 1 LOOP
        IF random() < 0.6 THEN
          obj := obj || jsonb_build_object('R' || j, mlm_rc.pick(rates_set));
        END IF;
      END LOOP;
      -- may be empty: 0 for every rank (section 4)
      b := b || jsonb_build_object('rate_by_rank', obj);
    END IF;
    bonuses := bonuses || jsonb_build_array(b);
  END IF;

  -- unilevel: on the sponsor tree, two bonuses with both compressions; on
  -- the placement tree for binary plans (half of them)
  FOR k IN 1 .. CASE WHEN kind = 'unilevel' THEN 2 WHEN kind = 'mixed' THEN 1
                     WHEN random() < 0.5 THEN 1 ELSE 0 END LOOP
    b := jsonb_build_object('name', 'uni' || k, 'type', 'unilevel');
    IF k = 1 THEN
      comp := mlm_rc.pick(ARRAY['none', 'dynamic', 'default']);
      IF comp <> 'default' THEN
        b := b || jsonb_build_object('compression', comp);
      END IF;
    ELSE
      b := b || jsonb_build_object('compression',
                  CASE WHEN comp = 'dynamic' THEN 'none' ELSE 'dynamic' END);
    END IF;
    IF kind LIKE 'binary%' THEN
      b := b || '{"tree": "placement"}';
    ELSIF random() < 0.3 THEN
      b := b || '{"tree": "sponsor"}';
    END IF;
    levels := mlm_rc.rint(1, 6);
    arr := '[]';
    FOR j IN 1 .. levels LOOP
      arr := arr || jsonb_build_array(mlm_rc.pick(rates_set));
    END LOOP;
    b := b || jsonb_build_object('rates', arr);
    IF random() < 0.5 THEN
      arr := '[]';
      FOR j IN 1 .. levels LOOP
        arr := arr || jsonb_build_array('R' || mlm_rc.rint(0, n_ranks - 1));
      END LOOP;
      b := b || jsonb_build_object('min_rank_by_level', arr);
    END IF;
    bonuses := bonuses || jsonb_build_array(b);
  END LOOP;

  -- binary
  IF kind LIKE 'binary%' THEN
    b := '{"name": "bin", "type": "binary"}';
    IF kind = 'binary_rate' THEN
      b := b || jsonb_build_object('rate', mlm_rc.pick(ARRAY[0.05, 0.1, 0.125, 0.15, 0.2]));
    ELSE
      b := b || jsonb_build_object('cycle', jsonb_build_object(
                  'left',   mlm_rc.pick(ARRAY[100, 150, 250.5, 300, 500]),
                  'right',  mlm_rc.pick(ARRAY[100, 200, 300, 333.33]),
                  'amount', mlm_rc.pick(ARRAY[10, 25, 33.33, 40])));
    END IF;
    IF random() < 0.4 THEN
      b := b || jsonb_build_object('cap', mlm_rc.pick(ARRAY[25, 50, 99.99, 250, 1000]));
    END IF;
    IF random() < 0.4 THEN
      b := b || jsonb_build_object('max_carry', mlm_rc.pick(ARRAY[100, 250, 1000, 2500.5, 5000]));
    END IF;
    r := random();
    IF r < 0.3 THEN
      b := b || '{"flush_when_unqualified": true}';
    ELSIF r < 0.5 THEN
      b := b || '{"flush_when_unqualified": false}';
    END IF;
    r := random();
    IF r < 0.35 THEN
      b := b || '{"require_sponsored_each_leg": false}';
    ELSIF r < 0.5 THEN
      b := b || '{"require_sponsored_each_leg": true}';
    END IF;
    bonuses := bonuses || jsonb_build_array(b);
  END IF;
  -- differential, fast start, pools (kind 'mixed': always; otherwise
  -- sometimes), then matching of some of the bonuses drawn so far
  IF kind = 'mixed' OR random() < 0.25 THEN
    bonuses := bonuses || jsonb_build_array(mlm_rc.gen_differential(n_ranks));
  END IF;
  IF kind = 'mixed' OR random() < 0.25 THEN
    b := jsonb_build_object('name', 'fast', 'type', 'fast_start',
                            'days', mlm_rc.pick(ARRAY[1, 7, 30, 45, 90])::integer);
    arr := '[]';
    FOR j IN 1 .. mlm_rc.rint(1, 3) LOOP
      arr := arr || jsonb_build_array(mlm_rc.pick(rates_set));
    END LOOP;
    bonuses := bonuses || jsonb_build_array(b || jsonb_build_object('rates', arr));
  END IF;
  FOR k IN 1 .. CASE WHEN kind = 'mixed' THEN mlm_rc.rint(1, 2)
                     WHEN random() < 0.25 THEN 1 ELSE 0 END LOOP
    b := jsonb_build_object('name', 'pool' || k, 'type', 'pool',
                            'pct', mlm_rc.pick(ARRAY[0.001, 0.005, 0.01, 0.02, 0.03]));
    IF random() < 0.7 THEN
      b := b || jsonb_build_object('min_rank', 'R' || mlm_rc.rint(0, n_ranks - 1));
    END IF;
    r := random();
    IF r < 0.3 THEN
      b := b || '{"shares": "equal"}';
    ELSIF r < 0.85 THEN
      obj := '{}';
      FOR j IN 0 .. n_ranks - 1 LOOP
        IF random() < 0.6 THEN
          obj := obj || jsonb_build_object('R' || j, mlm_rc.pick(ARRAY[0, 0.5, 1, 1, 2, 3, 7]));
        END IF;
      END LOOP;
      b := b || jsonb_build_object('shares', obj);
    END IF;   -- else no shares: equal
    bonuses := bonuses || jsonb_build_array(b);
  END LOOP;
  FOR k IN 1 .. CASE WHEN kind = 'mixed' THEN mlm_rc.rint(1, 2)
                     WHEN random() < 0.4 THEN 1 ELSE 0 END LOOP
    -- of: 1 .. 3 of the bonuses drawn so far (never a matching one)
    arr := (SELECT coalesce(jsonb_agg(x.n), '[]') FROM
              (SELECT e->>'name' AS n FROM jsonb_array_elements(bonuses) AS e
                WHERE e->>'type' <> 'matching'
                ORDER BY random() LIMIT mlm_rc.rint(1, 3)) x);
    EXIT WHEN arr = '[]';
    b := jsonb_build_object('name', 'match' || k, 'type', 'matching', 'of', arr);
    comp := mlm_rc.pick(ARRAY['none', 'dynamic', 'default']);
    IF comp <> 'default' THEN
      b := b || jsonb_build_object('compression', comp);
    END IF;
    levels := mlm_rc.rint(1, 4);
    arr := '[]';
    FOR j IN 1 .. levels LOOP
      arr := arr || jsonb_build_array(mlm_rc.pick(rates_set));
    END LOOP;
    b := b || jsonb_build_object('rates', arr);
    IF random() < 0.5 THEN
      arr := '[]';
      FOR j IN 1 .. levels LOOP
        arr := arr || jsonb_build_array('R' || mlm_rc.rint(0, n_ranks - 1));
      END LOOP;
      b := b || jsonb_build_object('min_rank_by_generation', arr);
    END IF;
    bonuses := bonuses || jsonb_build_array(b);
  END LOOP;
  plan := plan || jsonb_build_object('bonuses', bonuses);

  -- total cap
  IF random() < 0.25 THEN
    plan := plan || jsonb_build_object('cap', jsonb_build_object(
                      'pct', mlm_rc.pick(ARRAY[0.01, 0.05, 0.1, 0.2, 0.3])));
  END IF;
  RETURN plan;
END $$;

------------------------------------------------------------------------------
-- Comparison
------------------------------------------------------------------------------

-- One pgTAP test: the rows of have_sql (the engine) and of want_sql (the
-- reference) must be equal as multisets.  On failure: how many rows differ
-- and the first 10 of each side, then the context (seed, plan).  An error
-- raised while running have_sql fails the test with its message.
CREATE FUNCTION mlm_rc.same(descr text, have_sql text, want_sql text, context text)
RETURNS SETOF text LANGUAGE plpgsql SET client_min_messages = warning AS $$
DECLARE
  n_extra   bigint;
  n_missing bigint;
  r         record;
BEGIN
  DROP TABLE IF EXISTS pg_temp._rc_have, pg_temp._rc_want;
  EXECUTE 'CREATE TEMP TABLE _rc_want AS ' || want_sql;
  BEGIN
    EXECUTE 'CREATE TEMP TABLE _rc_have AS ' || have_sql;
  EXCEPTION WHEN OTHERS THEN
    RETURN NEXT fail(descr);
    RETURN NEXT diag(format('    the engine raised: %s (SQLSTATE %s)', SQLERRM, SQLSTATE));
    RETURN NEXT diag('    ' || context);
    RETURN;
  END;

  SELECT count(*) INTO n_extra
    FROM (SELECT * FROM _rc_have EXCEPT ALL SELECT * FROM _rc_want) d;
  SELECT count(*) INTO n_missing
    FROM (SELECT * FROM _rc_want EXCEPT ALL SELECT * FROM _rc_have) d;
  RETURN NEXT ok(n_extra = 0 AND n_missing = 0, descr);
  IF n_extra > 0 OR n_missing > 0 THEN
    RETURN NEXT diag(format('    %s rows only in the engine, %s rows only in the reference (first 10 of each):',
                            n_extra, n_missing));
    FOR r IN SELECT d::text AS t FROM
               (SELECT * FROM _rc_have EXCEPT ALL SELECT * FROM _rc_want) d
             ORDER BY 1 LIMIT 10 LOOP
      RETURN NEXT diag('    engine:    ' || r.t);
    END LOOP;
    FOR r IN SELECT d::text AS t FROM
               (SELECT * FROM _rc_want EXCEPT ALL SELECT * FROM _rc_have) d
             ORDER BY 1 LIMIT 10 LOOP
      RETURN NEXT diag('    reference: ' || r.t);
    END LOOP;
    RETURN NEXT diag('    ' || context);
  END IF;
END $$;

-- One scenario: draw the network, volumes and plan from seed, run the
-- reference once (results kept in rc_ref_* tables), then compare:
--   member results (pv, gv, active, rank), per-member total, payouts, and
--   for binary plans the carry-out.
-- unilevel and mixed scenarios: 4 tests; binary scenarios: 5 tests.  bin_opts, when
-- given, is merged into the drawn binary bonus (to be sure that every
-- binary option is exercised whatever the draws).
CREATE FUNCTION mlm_rc.scenario(label text, seed double precision, n integer, shape text,
                                kind text, unplaced_frac double precision DEFAULT 0,
                                bin_opts jsonb DEFAULT NULL)
RETURNS SETOF text LANGUAGE plpgsql SET client_min_messages = warning AS $$
DECLARE
  v_plan   jsonb;
  v_binary boolean := kind LIKE 'binary%';
  v_carry  text    := CASE WHEN kind LIKE 'binary%' THEN '''rc_carry''::regclass' ELSE 'NULL' END;
  v_args   text;
  v_ctx    text;
BEGIN
  PERFORM setseed(seed);
  PERFORM mlm_rc.gen_network(n, shape, v_binary, unplaced_frac);
  v_plan := mlm_rc.gen_plan(kind);
  IF bin_opts IS NOT NULL THEN
    v_plan := jsonb_set(v_plan, '{bonuses}',
      (SELECT jsonb_agg(CASE WHEN x.b->>'type' = 'binary' THEN x.b || bin_opts ELSE x.b END
                        ORDER BY x.o)
         FROM jsonb_array_elements(v_plan->'bonuses') WITH ORDINALITY AS x(b, o)));
  END IF;
  TRUNCATE rc_plan;
  INSERT INTO rc_plan VALUES (v_plan);
  INSERT INTO rc_drawn VALUES (v_plan);
  ANALYZE rc_members;
  ANALYZE rc_volumes;

  v_args := format('%L::jsonb, %L::regclass, %L::regclass, DATE %L, DATE %L, %s',
                   v_plan, 'rc_members', 'rc_volumes', '2024-03-01', '2024-03-31', v_carry);
  v_ctx := format('scenario %s: seed %s, %s members, shape %s, %s%s; plan: %s',
                  label, seed, n, shape, kind,
                  CASE WHEN unplaced_frac > 0 THEN format(', %s unplaced', unplaced_frac) ELSE '' END,
                  v_plan);

  DROP TABLE IF EXISTS pg_temp.rc_ref_mr, pg_temp.rc_ref_pay, pg_temp.rc_ref_carry,
    pg_temp.rc_ref_lines;
  CREATE TEMP TABLE rc_ref_mr AS
    SELECT * FROM mlm_ref.member_results(v_plan, 'rc_members', 'rc_volumes');
  EXECUTE format('CREATE TEMP TABLE rc_ref_pay AS
                    SELECT * FROM mlm_ref.payouts(%L::jsonb, %L, %L, %s, DATE %L)',
                 v_plan, 'rc_members', 'rc_volumes', v_carry, '2024-03-31');
  EXECUTE format('CREATE TEMP TABLE rc_ref_lines AS
                    SELECT * FROM mlm_ref.lines(%L::jsonb, %L, %L, %s, DATE %L)',
                 v_plan, 'rc_members', 'rc_volumes', v_carry, '2024-03-31');

  RETURN QUERY SELECT * FROM mlm_rc.same(
    label || ': member results (pv, gv, active, rank)',
    'SELECT member_id, pv, gv, active, rank FROM mlm.member_results(' || v_args || ')',
    'SELECT member_id, pv, gv, active, rank FROM rc_ref_mr',
    v_ctx);

  -- every row of both sides: a payout the cap truncates to 0 is not listed
  -- (section 8), so neither side is filtered
  RETURN QUERY SELECT * FROM mlm_rc.same(
    label || ': payouts',
    'SELECT member_id, bonus, amount FROM mlm.payouts(' || v_args || ')',
    'SELECT member_id, bonus, amount FROM rc_ref_pay',
    v_ctx);

  -- pool rates w / W need not be finite decimals: compared as round(rate,
  -- 20) on both sides (every other rate has at most 12 decimals)
  RETURN QUERY SELECT * FROM mlm_rc.same(
    label || ': audit lines',
    'SELECT member_id, bonus, source_id, level, base, round(rate, 20), amount
       FROM mlm.lines(' || v_args || ')',
    'SELECT recipient, bonus, source, level, base, round(rate, 20), amount FROM rc_ref_lines',
    v_ctx);

  RETURN QUERY SELECT * FROM mlm_rc.same(
    label || ': member totals',
    'SELECT member_id, amount FROM mlm.member_results(' || v_args || ')',
    'SELECT m.member_id, coalesce((SELECT sum(p.amount) FROM rc_ref_pay p
                                    WHERE p.member_id = m.member_id), 0)
       FROM rc_ref_mr m',
    v_ctx);

  IF v_binary THEN
    CREATE TEMP TABLE rc_ref_carry AS
      SELECT b.member_id, b.carry_left, b.carry_right
        FROM mlm_ref.binary(v_plan, 'bin', 'rc_members', 'rc_volumes', 'rc_carry') b
       WHERE b.carry_left <> 0 OR b.carry_right <> 0;
    RETURN QUERY SELECT * FROM mlm_rc.same(
      label || ': binary carry-out',
      'SELECT member_id, carry_left, carry_right FROM mlm.carry_out(' || v_args || ')',
      'SELECT member_id, carry_left, carry_right FROM rc_ref_carry',
      v_ctx);
  END IF;
END $$;

-- Rank-focused scenario (1 test): one network, n_plans random plans (the
-- plan drawing above, kind 'unilevel'); member results (pv, gv, active,
-- rank) of all of them compared at once as (plan number, member, ...).
CREATE FUNCTION mlm_rc.rank_scenario(label text, seed double precision, n integer,
                                     shape text, n_plans integer)
RETURNS SETOF text LANGUAGE plpgsql SET client_min_messages = warning AS $$
DECLARE
  v_plans jsonb[] := '{}';
  v_have  text    := '';
  v_ctx   text;
  k integer;
BEGIN
  PERFORM setseed(seed);
  PERFORM mlm_rc.gen_network(n, shape, false, 0);
  ANALYZE rc_members;
  ANALYZE rc_volumes;
  DROP TABLE IF EXISTS pg_temp.rc_ref_ranks;
  CREATE TEMP TABLE rc_ref_ranks (plan_no integer, member_id bigint, pv numeric,
                                  gv numeric, active boolean, rank text);
  FOR k IN 1 .. n_plans LOOP
    v_plans := v_plans || mlm_rc.gen_plan('unilevel');
    INSERT INTO rc_drawn VALUES (v_plans[k]);
    INSERT INTO rc_ref_ranks
      SELECT k, r.member_id, r.pv, r.gv, r.active, r.rank
        FROM mlm_ref.member_results(v_plans[k], 'rc_members', 'rc_volumes') r;
    v_have := v_have || CASE WHEN k > 1 THEN ' UNION ALL ' ELSE '' END
      || format('SELECT %s AS plan_no, member_id, pv, gv, active, rank
                   FROM mlm.member_results(%L::jsonb, %L::regclass, %L::regclass,
                                           DATE %L, DATE %L)',
                k, v_plans[k], 'rc_members', 'rc_volumes', '2024-03-01', '2024-03-31');
  END LOOP;
  v_ctx := format('scenario %s: seed %s, %s members, shape %s; the plans (by plan_no): %s',
                  label, seed, n, shape, array_to_string(v_plans, ' ; '));
  RETURN QUERY SELECT * FROM mlm_rc.same(
    label || format(': member results (pv, gv, active, rank) under %s random plans', n_plans),
    v_have,
    'SELECT plan_no, member_id, pv, gv, active, rank FROM rc_ref_ranks',
    v_ctx);
END $$;

-- Downline aggregates and the snapshot forms (6 tests, 7 for a binary kind):
-- mlm.volume_summary (levels as given, active_min_pv NULL or drawn),
-- mlm.leg_volumes, mlm.volume_summary_snapshot, and mlm.compute_snapshot
-- (payouts, member results, lines, binary carry-out) of a drawn plan, all
-- against the reference run on the same members with every active_status
-- true and no joined date (what a snapshot holds).
CREATE FUNCTION mlm_rc.aggregates(label text, seed double precision, n integer, shape text,
                                  kind text, levels integer)
RETURNS SETOF text LANGUAGE plpgsql SET client_min_messages = warning AS $$
DECLARE
  v_binary boolean := kind LIKE 'binary%';
  v_levels integer;
  v_min    numeric;
  v_plan   jsonb;
  v_carry  text    := CASE WHEN kind LIKE 'binary%' THEN '''rc_carry''::regclass' ELSE 'NULL' END;
  v_ctx    text;
BEGIN
  PERFORM setseed(seed);
  PERFORM mlm_rc.gen_network(n, shape, v_binary, 0);
  v_levels := levels;
  v_min := CASE WHEN random() < 0.4 THEN NULL ELSE mlm_rc.pick(ARRAY[0, 20, 50.5, 100]) END;
  v_plan := mlm_rc.gen_plan(kind);
  INSERT INTO rc_drawn VALUES (v_plan);
  ANALYZE rc_members;
  ANALYZE rc_volumes;
  v_ctx := format('scenario %s: seed %s, %s members, shape %s, levels %s, active_min_pv %s; plan: %s',
                  label, seed, n, shape, v_levels, coalesce(v_min::text, 'NULL'), v_plan);

  RETURN QUERY SELECT * FROM mlm_rc.same(
    label || format(': volume_summary (levels %s)', v_levels),
    format('SELECT * FROM mlm.volume_summary(%L, %L, %s, %L)',
           'rc_members', 'rc_volumes', v_levels, v_min),
    format('SELECT * FROM mlm_ref.volume_summary(%L, %L, %s, %L)',
           'rc_members', 'rc_volumes', v_levels, v_min),
    v_ctx);
  RETURN QUERY SELECT * FROM mlm_rc.same(
    label || ': leg_volumes',
    format('SELECT * FROM mlm.leg_volumes(%L, %L)', 'rc_members', 'rc_volumes'),
    format('SELECT * FROM mlm_ref.leg_volumes(%L, %L)', 'rc_members', 'rc_volumes'),
    v_ctx);

  DROP TABLE IF EXISTS pg_temp.rc_snap_members, pg_temp.rc_tree;
  CREATE TEMP TABLE rc_snap_members AS
    SELECT id, sponsor_id, placement_id, "position", true AS active_status, NULL::date AS joined
      FROM rc_members;
  IF v_binary THEN
    CREATE TEMP TABLE rc_tree AS
      SELECT mlm.tree_agg(id, sponsor_id, placement_id, "position") AS t FROM rc_members;
  ELSE
    CREATE TEMP TABLE rc_tree AS SELECT mlm.tree_agg(id, sponsor_id) AS t FROM rc_members;
  END IF;
  ANALYZE rc_snap_members;

  RETURN QUERY SELECT * FROM mlm_rc.same(
    label || ': volume_summary_snapshot',
    format('SELECT * FROM mlm.volume_summary_snapshot((SELECT t FROM rc_tree), %L, %s, %L)',
           'rc_volumes', v_levels, v_min),
    format('SELECT * FROM mlm_ref.volume_summary(%L, %L, %s, %L)',
           'rc_snap_members', 'rc_volumes', v_levels, v_min),
    v_ctx);

  DROP TABLE IF EXISTS pg_temp.rc_cs;
  EXECUTE format('CREATE TEMP TABLE rc_cs AS
                    SELECT * FROM mlm.compute_snapshot(%L::jsonb, (SELECT t FROM rc_tree), %L,
                                                       DATE %L, DATE %L, %s, true)',
                 v_plan, 'rc_volumes', '2024-03-01', '2024-03-31', v_carry);
  RETURN QUERY SELECT * FROM mlm_rc.same(
    label || ': compute_snapshot payouts',
    'SELECT member_id, bonus, amount FROM rc_cs WHERE kind = ''payout''',
    format('SELECT * FROM mlm_ref.payouts(%L::jsonb, %L, %L, %s, DATE %L)',
           v_plan, 'rc_snap_members', 'rc_volumes', v_carry, '2024-03-31'),
    v_ctx);
  RETURN QUERY SELECT * FROM mlm_rc.same(
    label || ': compute_snapshot member results',
    'SELECT member_id, pv, gv, active, rank FROM rc_cs WHERE kind = ''member''',
    format('SELECT member_id, pv, gv, active, rank FROM mlm_ref.member_results(%L::jsonb, %L, %L)',
           v_plan, 'rc_snap_members', 'rc_volumes'),
    v_ctx);
  RETURN QUERY SELECT * FROM mlm_rc.same(
    label || ': compute_snapshot lines',
    'SELECT member_id, bonus, source_id, level, base, round(rate, 20), amount
       FROM rc_cs WHERE kind = ''line''',
    format('SELECT recipient, bonus, source, level, base, round(rate, 20), amount
              FROM mlm_ref.lines(%L::jsonb, %L, %L, %s, DATE %L)',
           v_plan, 'rc_snap_members', 'rc_volumes', v_carry, '2024-03-31'),
    v_ctx);
  IF v_binary THEN
    RETURN QUERY SELECT * FROM mlm_rc.same(
      label || ': compute_snapshot carry-out',
      'SELECT member_id, carry_left, carry_right FROM rc_cs WHERE kind = ''carry''',
      format('SELECT member_id, carry_left, carry_right
                FROM mlm_ref.binary(%L::jsonb, %L, %L, %L, %s)
               WHERE carry_left <> 0 OR carry_right <> 0',
             v_plan, 'bin', 'rc_snap_members', 'rc_volumes', v_carry),
      v_ctx);
  END IF;
END $$;

------------------------------------------------------------------------------
-- The scenarios
------------------------------------------------------------------------------

-- personal + unilevel (3 tests each)
SELECT * FROM mlm_rc.scenario('random tree #1',   0.11, 400, 'random',       'unilevel');
SELECT * FROM mlm_rc.scenario('random tree #2',   0.12, 300, 'random',       'unilevel');
SELECT * FROM mlm_rc.scenario('random tree #3',  -0.13, 250, 'random',       'unilevel');
SELECT * FROM mlm_rc.scenario('preferential #1',  0.21, 500, 'preferential', 'unilevel');
SELECT * FROM mlm_rc.scenario('preferential #2',  0.22, 300, 'preferential', 'unilevel');
SELECT * FROM mlm_rc.scenario('deep tree #1',     0.31, 300, 'deep',         'unilevel');
SELECT * FROM mlm_rc.scenario('deep tree #2',    -0.32, 300, 'deep',         'unilevel');
SELECT * FROM mlm_rc.scenario('chain',            0.41, 200, 'chain',        'unilevel');
SELECT * FROM mlm_rc.scenario('star',             0.51, 300, 'star',         'unilevel');
SELECT * FROM mlm_rc.scenario('forest',           0.61, 400, 'forest',       'unilevel');
SELECT * FROM mlm_rc.scenario('random tree #4',   0.14, 500, 'random',       'unilevel');
SELECT * FROM mlm_rc.scenario('preferential #3', -0.23, 400, 'preferential', 'unilevel');
SELECT * FROM mlm_rc.scenario('star #2',         -0.52, 250, 'star',         'unilevel');
SELECT * FROM mlm_rc.scenario('forest #2',       -0.62, 300, 'forest',       'unilevel');

-- ranks under many plans (1 test each)
SELECT * FROM mlm_rc.rank_scenario('ranks, random tree',  0.15, 300, 'random',       8);
SELECT * FROM mlm_rc.rank_scenario('ranks, preferential', 0.25, 300, 'preferential', 8);
SELECT * FROM mlm_rc.rank_scenario('ranks, deep tree',    0.35, 200, 'deep',         8);
SELECT * FROM mlm_rc.rank_scenario('ranks, chain',        0.45, 120, 'chain',        8);
SELECT * FROM mlm_rc.rank_scenario('ranks, star',         0.55, 200, 'star',         8);
SELECT * FROM mlm_rc.rank_scenario('ranks, forest',       0.65, 300, 'forest',       8);

-- binary (4 tests each)
SELECT * FROM mlm_rc.scenario('binary rate #1',   0.71, 400, 'random',       'binary_rate');
SELECT * FROM mlm_rc.scenario('binary rate #2',   0.72, 300, 'preferential', 'binary_rate', 0,
                              '{"flush_when_unqualified": true}');
SELECT * FROM mlm_rc.scenario('binary rate #3',  -0.73, 250, 'random',       'binary_rate', 0.05);
SELECT * FROM mlm_rc.scenario('binary rate #4',   0.74, 500, 'preferential', 'binary_rate');
SELECT * FROM mlm_rc.scenario('binary rate #5',  -0.75, 200, 'deep',         'binary_rate', 0,
                              '{"require_sponsored_each_leg": false, "max_carry": 500, "cap": 60}');
SELECT * FROM mlm_rc.scenario('binary cycle #1',  0.81, 400, 'random',       'binary_cycle');
SELECT * FROM mlm_rc.scenario('binary cycle #2',  0.82, 300, 'preferential', 'binary_cycle');
SELECT * FROM mlm_rc.scenario('binary cycle #3', -0.83, 250, 'random',       'binary_cycle', 0.05);
SELECT * FROM mlm_rc.scenario('binary cycle #4',  0.84, 400, 'preferential', 'binary_cycle', 0,
                              '{"flush_when_unqualified": true, "cap": 100, "max_carry": 1000}');

-- every bonus type of version 1 at once (4 tests each)
SELECT * FROM mlm_rc.scenario('mixed #1',         0.91, 300, 'random',       'mixed');
SELECT * FROM mlm_rc.scenario('mixed #2',         0.92, 250, 'preferential', 'mixed');
SELECT * FROM mlm_rc.scenario('mixed #3',        -0.93, 200, 'deep',         'mixed');
SELECT * FROM mlm_rc.scenario('mixed #4',         0.94, 150, 'chain',        'mixed');
SELECT * FROM mlm_rc.scenario('mixed #5',         0.95, 250, 'star',         'mixed');
SELECT * FROM mlm_rc.scenario('mixed #6',        -0.96, 300, 'forest',       'mixed');

-- downline aggregates and snapshots (6 tests; 7 with binary)
SELECT * FROM mlm_rc.aggregates('aggregates #1',  0.17, 300, 'random',       'mixed',       3);
SELECT * FROM mlm_rc.aggregates('aggregates #2', -0.27, 250, 'preferential', 'binary_rate', 0);
SELECT * FROM mlm_rc.aggregates('aggregates #3',  0.37, 200, 'deep',         'mixed',       6);

-- The plans drawn above used every key of the plan language (version 1),
-- every currency scale and rounding, an empty rate_by_rank and a matching of
-- two or more bonuses (1 test).
SELECT is_empty($$
  SELECT k FROM unnest(ARRAY[
      'name', 'currency', 'active', 'ranks', 'bonuses', 'cap', 'cap.pct',
      'currency.scale=0', 'currency.scale=1', 'currency.scale=2', 'currency.scale=3',
      'currency.scale=4', 'currency.scale=5', 'currency.scale=6',
      'currency.rounding=half_up', 'currency.rounding=half_even', 'active.min_pv',
      'rank.name', 'rank.min_pv', 'rank.min_gv', 'rank.max_leg_pct', 'rank.min_active_frontline',
      'rank.legs_with_rank',
      'personal.rate', 'personal.rate_by_rank', 'personal.rate_by_rank={}',
      'unilevel.rates', 'unilevel.compression', 'unilevel.tree', 'unilevel.min_rank_by_level',
      'differential.rate_by_rank', 'differential.rate_by_rank={}', 'differential.breakaway_rank',
      'differential.generation_rates', 'differential.min_rank_by_generation',
      'binary.rate', 'binary.cycle', 'binary.cap', 'binary.max_carry',
      'binary.flush_when_unqualified', 'binary.require_sponsored_each_leg',
      'matching.of', 'matching.of>=2', 'matching.rates', 'matching.compression',
      'matching.min_rank_by_generation',
      'fast_start.days', 'fast_start.rates',
      'pool.pct', 'pool.min_rank', 'pool.shares', 'pool.shares=equal', 'pool.shares={..}']) AS k
  EXCEPT
  SELECT t.k FROM rc_drawn d, LATERAL (
      SELECT key FROM jsonb_object_keys(d.plan) AS key
      UNION ALL SELECT 'cap.' || x FROM jsonb_object_keys(coalesce(d.plan->'cap', '{}')) AS x
      UNION ALL SELECT 'currency.' || c.key || '=' || (c.value #>> '{}')
                  FROM jsonb_each(coalesce(d.plan->'currency', '{}')) AS c
      UNION ALL SELECT 'active.' || x FROM jsonb_object_keys(coalesce(d.plan->'active', '{}')) AS x
      UNION ALL SELECT 'rank.' || x FROM jsonb_array_elements(d.plan->'ranks') AS r,
                                         jsonb_object_keys(r) AS x
      UNION ALL SELECT (b->>'type') || '.' || x FROM jsonb_array_elements(d.plan->'bonuses') AS b,
                                                     jsonb_object_keys(b) AS x
      UNION ALL SELECT (b->>'type') || '.rate_by_rank={}' FROM jsonb_array_elements(d.plan->'bonuses') AS b
                 WHERE b->'rate_by_rank' = '{}'
      UNION ALL SELECT 'matching.of>=2' FROM jsonb_array_elements(d.plan->'bonuses') AS b
                 WHERE jsonb_array_length(b->'of') >= 2
      UNION ALL SELECT 'pool.shares=' || CASE jsonb_typeof(b->'shares') WHEN 'object' THEN '{..}'
                                              ELSE b->>'shares' END
                  FROM jsonb_array_elements(d.plan->'bonuses') AS b WHERE b ? 'shares') AS t(k)
$$, 'the drawn plans used every plan key, scale 0 .. 6, both roundings, empty rate_by_rank, matching of 2+ bonuses');

SELECT * FROM finish();
ROLLBACK;
