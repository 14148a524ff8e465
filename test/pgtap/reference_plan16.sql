-- test/pgtap/reference_plan16.sql
--
-- Engine (schema mlm) against the plain-SQL reference of issue 16's rules
-- (test/reference/reference.sql + test/reference/reference_plan16.sql,
-- functions mlm_ref.p16_*) on random networks: binary rate_by_rank and
-- cycle amount_by_rank (some ranks at 0, so some members are unqualified
-- by rank, with and without flush), plan-wide rate / amount too, pools
-- split equally, by rank, by CV and by GV, rounding half_up / half_even /
-- down at scales 0 .. 6, sometimes a total cap.
--
-- Each scenario is reproducible from its seed (setseed() before anything
-- is drawn).  Networks: 60..160 members, ids scattered over -5000 .. 5006,
-- sponsor = a random earlier member, placement = a random walk down from
-- the sponsor to a free slot (width 2); volumes with 2 decimals, some
-- negative; random carry-in; some members inactive.
--
-- Compared exactly (no tolerance on money): payouts (member, bonus,
-- amount) and binary carry-out (non-zero rows); the first differences are
-- reported as diagnostics with the seed and the plan.
--
-- Run from the repository root, in a database where pgtap and mlm are
-- installed:
--   pg_prove -d <db> test/pgtap/reference_plan16.sql

\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off

BEGIN;
SET LOCAL client_min_messages = warning;
\i test/reference/reference.sql
\i test/reference/reference_plan16.sql

SELECT plan(12 * 2);

CREATE SCHEMA mlm_r16;

CREATE TEMP TABLE r16_members (id bigint, sponsor_id bigint, placement_id bigint,
                               position integer, active_status boolean);
CREATE TEMP TABLE r16_volumes (member_id bigint, pv numeric, cv numeric);
CREATE TEMP TABLE r16_carry (member_id bigint, carry_left numeric, carry_right numeric);

CREATE FUNCTION mlm_r16.id_of(i integer) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN i IS NULL OR i <= 0 THEN NULL ELSE ((i::bigint * 7919) % 10007) - 5000 END
$$;

CREATE FUNCTION mlm_r16.rint(lo integer, hi integer) RETURNS integer LANGUAGE sql VOLATILE AS $$
  SELECT lo + floor(random() * (hi - lo + 1))::integer
$$;

-- 2 decimals, mostly 0 .. max, sometimes negative or 0
CREATE FUNCTION mlm_r16.amount(max numeric) RETURNS numeric LANGUAGE sql VOLATILE AS $$
  SELECT CASE WHEN r < 0.08 THEN -round((random() * 0.4 * max::float8)::numeric, 2)
              WHEN r < 0.15 THEN 0
              ELSE round((random() * max::float8)::numeric, 2) END
    FROM (SELECT random() AS r) x
$$;

-- a random network of n members, every one placed
CREATE FUNCTION mlm_r16.gen_network(n integer) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  lchild integer[] := array_fill(0, ARRAY[n]);
  rchild integer[] := array_fill(0, ARRAY[n]);
  p integer; cur integer; side integer; i integer;
BEGIN
  TRUNCATE r16_members, r16_volumes, r16_carry;
  INSERT INTO r16_members VALUES (mlm_r16.id_of(1), NULL, NULL, NULL, true);
  FOR i IN 2 .. n LOOP
    p := mlm_r16.rint(1, i - 1);
    cur := p;
    LOOP
      side := mlm_r16.rint(0, 1);
      IF side = 0 AND lchild[cur] = 0 THEN lchild[cur] := i; EXIT; END IF;
      IF side = 1 AND rchild[cur] = 0 THEN rchild[cur] := i; EXIT; END IF;
      cur := CASE side WHEN 0 THEN lchild[cur] ELSE rchild[cur] END;
    END LOOP;
    INSERT INTO r16_members VALUES (mlm_r16.id_of(i), mlm_r16.id_of(p), mlm_r16.id_of(cur), side,
                                    random() >= 0.1);
  END LOOP;
  INSERT INTO r16_volumes
    SELECT mlm_r16.id_of(g.k), mlm_r16.amount(200), mlm_r16.amount(300)
      FROM generate_series(1, n) g(k) WHERE random() < 0.85;
  INSERT INTO r16_volumes
    SELECT mlm_r16.id_of(g.k), mlm_r16.amount(50), mlm_r16.amount(50)
      FROM generate_series(1, n) g(k) WHERE random() < 0.2;
  INSERT INTO r16_carry
    SELECT mlm_r16.id_of(g.k), mlm_r16.amount(500), mlm_r16.amount(500)
      FROM generate_series(1, n) g(k) WHERE random() < 0.3;
END $$;

-- a per-rank object over some of the ranks (0 .. nr-1), values from vals
CREATE FUNCTION mlm_r16.per_rank(nr integer, vals numeric[]) RETURNS jsonb LANGUAGE sql VOLATILE AS $$
  SELECT coalesce(jsonb_object_agg('R' || j, vals[1 + floor(random() * cardinality(vals))::integer]),
                  '{}'::jsonb)
    FROM generate_series(0, nr - 1) j WHERE random() < 0.7
$$;

-- a random plan using the three keys; kind 0 .. 3 = binary rate,
-- rate_by_rank, cycle amount, cycle amount_by_rank
CREATE FUNCTION mlm_r16.gen_plan(kind integer, rounding text, scale integer)
RETURNS jsonb LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  nr integer := mlm_r16.rint(1, 4);
  ranks jsonb := '[{"name": "R0"}]';
  bin jsonb;
  pools jsonb := '[]';
  k integer;
  shares jsonb;
  plan jsonb;
BEGIN
  FOR k IN 1 .. nr - 1 LOOP
    ranks := ranks || jsonb_build_object('name', 'R' || k, 'min_pv', k * 40 + mlm_r16.rint(0, 30));
  END LOOP;
  -- binary: rate, rate_by_rank, cycle amount or cycle amount_by_rank
  k := kind;
  bin := jsonb_build_object('name', 'bin', 'type', 'binary');
  IF k = 0 THEN
    bin := bin || jsonb_build_object('rate', (ARRAY[0, 0.05, 0.1, 0.125])[mlm_r16.rint(1, 4)]);
  ELSIF k = 1 THEN
    bin := bin || jsonb_build_object('rate_by_rank', mlm_r16.per_rank(nr, '{0, 0.03, 0.07, 0.1, 0.125}'));
  ELSE
    bin := bin || jsonb_build_object('cycle', jsonb_build_object('left', (ARRAY[50, 100, 75.5])[mlm_r16.rint(1, 3)],
                                                                'right', (ARRAY[50, 100, 120])[mlm_r16.rint(1, 3)]));
    IF k = 2 THEN
      bin := jsonb_set(bin, '{cycle,amount}', to_jsonb((ARRAY[0, 10, 12.5])[mlm_r16.rint(1, 3)]));
    ELSE
      bin := jsonb_set(bin, '{cycle,amount_by_rank}', mlm_r16.per_rank(nr, '{0, 5, 10, 12.345}'));
    END IF;
  END IF;
  IF random() < 0.5 THEN bin := bin || '{"flush_when_unqualified": true}'; END IF;
  IF random() < 0.3 THEN bin := bin || '{"require_sponsored_each_leg": false}'; END IF;
  IF random() < 0.3 THEN bin := bin || jsonb_build_object('cap', mlm_r16.rint(5, 60)); END IF;
  IF random() < 0.3 THEN bin := bin || jsonb_build_object('max_carry', mlm_r16.rint(100, 800)); END IF;
  -- pools: one by volume, one of any form
  FOR k IN 1 .. 2 LOOP
    shares := CASE WHEN k = 1 OR random() < 0.5
                   THEN jsonb_build_object('by', (ARRAY['cv', 'gv'])[mlm_r16.rint(1, 2)])
                   WHEN random() < 0.5 THEN '"equal"'::jsonb
                   ELSE mlm_r16.per_rank(nr, '{0, 1, 2.5, 3}') END;
    pools := pools || jsonb_build_object('name', 'pool' || k, 'type', 'pool',
                                         'pct', (ARRAY[0.01, 0.02, 0.0333, 0.05])[mlm_r16.rint(1, 4)],
                                         'min_rank', 'R' || mlm_r16.rint(0, nr - 1),
                                         'shares', shares);
  END LOOP;
  plan := jsonb_build_object(
    'currency', jsonb_build_object('scale', scale, 'rounding', rounding),
    'active', jsonb_build_object('min_pv', mlm_r16.rint(0, 30)),
    'ranks', ranks,
    'bonuses', jsonb_build_array(
        bin,
        jsonb_build_object('name', 'retail', 'type', 'personal', 'rate', (ARRAY[0.0333, 0.05, 0.125])[mlm_r16.rint(1, 3)]))
      || pools);
  IF random() < 0.25 THEN
    plan := plan || jsonb_build_object('cap', jsonb_build_object('pct', (ARRAY[0.05, 0.1, 0.3])[mlm_r16.rint(1, 3)]));
  END IF;
  RETURN plan;
END $$;

-- Rows of a in b's complement and the reverse, as text (at most 5 each).
CREATE FUNCTION mlm_r16.diff(a text, b text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  r text;
BEGIN
  EXECUTE format('SELECT string_agg(x, E''\n'') FROM (
                    (SELECT ''engine only: '' || t::text AS x FROM (%s EXCEPT %s) t LIMIT 5)
                    UNION ALL
                    (SELECT ''reference only: '' || t::text FROM (%s EXCEPT %s) t LIMIT 5)) d',
                 a, b, b, a) INTO r;
  RETURN r;
END $$;

-- One scenario: two tests (payouts, carry-out).
CREATE FUNCTION mlm_r16.scenario(seed double precision, n integer, kind integer,
                                 rounding text, scale integer) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
  v_plan jsonb;
  d text;
  e text;
BEGIN
  PERFORM setseed(seed);
  PERFORM mlm_r16.gen_network(n);
  v_plan := mlm_r16.gen_plan(kind, rounding, scale);
  BEGIN
    d := mlm_r16.diff(
      format($q$SELECT member_id, bonus, amount FROM mlm.payouts(%L::jsonb, 'r16_members', 'r16_volumes',
                  '2024-03-01', '2024-03-31', 'r16_carry') WHERE amount <> 0$q$, v_plan),
      format($q$SELECT member_id, bonus, amount FROM mlm_ref.p16_payouts(%L::jsonb, 'r16_members', 'r16_volumes',
                  'r16_carry') WHERE amount <> 0$q$, v_plan));
  EXCEPTION WHEN OTHERS THEN
    e := SQLERRM;
  END;
  RETURN NEXT ok(d IS NULL AND e IS NULL, format('seed %s, %s members, %s, %s at scale %s: payouts', seed, n,
                                         (ARRAY['rate', 'rate_by_rank', 'cycle amount', 'cycle amount_by_rank'])[kind + 1],
                                         rounding, scale));
  IF d IS NOT NULL OR e IS NOT NULL THEN
    RETURN NEXT diag(coalesce(e, d) || E'\nplan: ' || v_plan::text);
  END IF;
  d := NULL;
  BEGIN
    d := mlm_r16.diff(
      format($q$SELECT member_id, carry_left, carry_right FROM mlm.carry_out(%L::jsonb, 'r16_members',
                  'r16_volumes', '2024-03-01', '2024-03-31', 'r16_carry')$q$, v_plan),
      format($q$SELECT member_id, carry_left, carry_right FROM mlm_ref.p16_binary(%L::jsonb, 'bin',
                  'r16_members', 'r16_volumes', 'r16_carry')
                 WHERE carry_left <> 0 OR carry_right <> 0$q$, v_plan));
  EXCEPTION WHEN OTHERS THEN
    e := SQLERRM;
  END;
  RETURN NEXT ok(d IS NULL AND e IS NULL, format('seed %s: carry-out', seed));
  IF d IS NOT NULL OR e IS NOT NULL THEN
    RETURN NEXT diag(coalesce(e, d) || E'\nplan: ' || v_plan::text);
  END IF;
END $$;

SELECT * FROM mlm_r16.scenario( 0.161,  60, 1, 'down',      0);
SELECT * FROM mlm_r16.scenario( 0.162, 100, 1, 'half_up',   2);
SELECT * FROM mlm_r16.scenario( 0.163, 160, 1, 'half_even', 3);
SELECT * FROM mlm_r16.scenario(-0.164,  80, 1, 'down',      6);
SELECT * FROM mlm_r16.scenario( 0.165, 120, 1, 'down',      1);
SELECT * FROM mlm_r16.scenario(-0.166, 150, 3, 'down',      2);
SELECT * FROM mlm_r16.scenario( 0.167,  70, 3, 'half_up',   0);
SELECT * FROM mlm_r16.scenario( 0.168, 140, 3, 'half_even', 5);
SELECT * FROM mlm_r16.scenario(-0.169, 100, 3, 'down',      4);
SELECT * FROM mlm_r16.scenario( 0.170,  90, 0, 'down',      2);
SELECT * FROM mlm_r16.scenario( 0.171, 130, 2, 'half_up',   6);
SELECT * FROM mlm_r16.scenario(-0.172, 160, 0, 'half_even', 1);

SELECT * FROM finish();
ROLLBACK;
