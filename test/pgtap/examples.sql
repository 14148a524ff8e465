-- test/pgtap/examples.sql
--
-- Acceptance tests: the engine (schema mlm) must reproduce every number of
-- every hand-checked example in test/fixtures (copied from the spec's
-- examples): payouts, member results (pv, gv, active, rank name, total),
-- binary carry-out, audit lines and totals.
--
-- Run from the repository root, in a database where pgtap and mlm are
-- installed:
--   pg_prove -d <db> test/pgtap/examples.sql
--
-- Numeric comparisons are by value (0.1 = 0.10): the set/bag comparisons use
-- numeric equality.
--
-- Rates of pool lines are w / W, which need not be a finite decimal; the
-- expected lines.csv gives them rounded to 60 digits.  We compare every line
-- rate as round(rate, 20) on both sides, i.e. the engine must give w / W
-- correct to 20 decimals (exactly, rounded or truncated at >= 21 digits all
-- pass for 1/3 and 1/6).  Non-pool rates are finite decimals of fewer than 20
-- digits, so for them round(rate, 20) is the exact value.
-- The cap factor f = L / T (totals.json gives it rounded to 60 digits and as
-- the fraction "L/T") is compared the same way: round(f, 20) on both sides,
-- plus a check that it agrees with cap_limit / total_before_cap to 1e-20.

\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off

BEGIN;

SELECT plan(7 * 13 + 2);

-- Wrappers: the engine functions on the example currently loaded by
-- test/fixtures/load_example.psql (tables ex_*); carry is ex_carry when the
-- folder has a carry.csv, else NULL (the default).
CREATE SCHEMA mlm_ex;

CREATE FUNCTION mlm_ex.args() RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  RETURN format('%L::jsonb, %L::regclass, %L::regclass, %L::date, %L::date, %s',
                (SELECT plan FROM ex_plan), 'ex_members', 'ex_volumes',
                (SELECT period_start FROM ex_period), (SELECT period_end FROM ex_period),
                (SELECT CASE WHEN has_carry THEN '''ex_carry''::regclass' ELSE 'NULL' END
                   FROM ex_info));
END $$;

CREATE FUNCTION mlm_ex.payouts()
RETURNS TABLE(member_id bigint, bonus text, amount numeric) LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY EXECUTE 'SELECT * FROM mlm.payouts(' || mlm_ex.args() || ')';
END $$;

CREATE FUNCTION mlm_ex.member_results()
RETURNS TABLE(member_id bigint, pv numeric, gv numeric, active boolean, rank text, amount numeric)
LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY EXECUTE 'SELECT r.member_id, r.pv, r.gv, r.active, r.rank, r.amount FROM mlm.member_results(' || mlm_ex.args() || ') r';
END $$;

CREATE FUNCTION mlm_ex.lines()
RETURNS TABLE(member_id bigint, bonus text, source_id bigint, level integer,
              base numeric, rate numeric, amount numeric) LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY EXECUTE 'SELECT * FROM mlm.lines(' || mlm_ex.args() || ')';
END $$;

CREATE FUNCTION mlm_ex.carry_out()
RETURNS TABLE(member_id bigint, carry_left numeric, carry_right numeric) LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY EXECUTE 'SELECT * FROM mlm.carry_out(' || mlm_ex.args() || ')';
END $$;

CREATE FUNCTION mlm_ex.totals()
RETURNS TABLE(total_cv numeric, total_before_cap numeric, total_paid numeric, cap_limit numeric,
              cap_factor numeric, member_rows bigint, volume_rows bigint, carry_rows bigint,
              input_checksum text, bonuses jsonb, bonuses_before_cap jsonb,
              balance_in numeric, paid_out numeric, balance_out numeric) LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY EXECUTE 'SELECT * FROM mlm.totals(' || mlm_ex.args() || ')';
END $$;

-- The 13 checks of one example; label = the folder.
CREATE FUNCTION mlm_ex.check(label text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  t    record;
  e    jsonb := (SELECT totals FROM exp_totals);
  v_f  numeric;
BEGIN
  RETURN NEXT bag_eq(
    'SELECT member_id, bonus, amount FROM mlm_ex.payouts()',
    'SELECT member_id, bonus, amount FROM exp_payouts',
    label || ': payouts');

  RETURN NEXT bag_eq(
    'SELECT member_id, pv, gv, active, rank, amount FROM mlm_ex.member_results()',
    'SELECT member_id, pv, gv, active, rank, total FROM exp_members',
    label || ': member results (pv, gv, active, rank, total)');

  RETURN NEXT bag_eq(
    'SELECT member_id, carry_left, carry_right FROM mlm_ex.carry_out()',
    'SELECT member_id, carry_left, carry_right FROM exp_carry',
    label || ': binary carry-out (non-zero only)');

  -- rate compared as round(rate, 20): see the header
  RETURN NEXT bag_eq(
    'SELECT member_id, bonus, source_id, level, base, round(rate, 20), amount FROM mlm_ex.lines()',
    'SELECT recipient, bonus, source, level, base, round(rate, 20), amount FROM exp_lines',
    label || ': lines');

  RETURN NEXT is(
    (SELECT count(*) FROM mlm_ex.totals()), 1::bigint,
    label || ': totals is one row');

  SELECT * INTO t FROM mlm_ex.totals();

  RETURN NEXT is(t.total_cv, (e->>'total_cv')::numeric, label || ': totals.total_cv');
  RETURN NEXT is(t.total_paid, (e->>'total')::numeric, label || ': totals.total_paid (after the cap)');
  RETURN NEXT is(t.total_before_cap, (e->>'total_before_cap')::numeric,
                 label || ': totals.total_before_cap');
  RETURN NEXT is(t.cap_limit, (e->>'cap_limit')::numeric, label || ': totals.cap_limit');
  RETURN NEXT is(round(t.cap_factor, 20), round((e->>'cap_factor')::numeric, 20),
                 label || ': totals.cap_factor, to 20 decimals');
  -- f against the exact fraction L / T (to 1e-20; both NULL without a cap)
  v_f := CASE WHEN e->>'cap_factor_exact' IS NOT NULL
              THEN split_part(e->>'cap_factor_exact', '/', 1)::numeric(200, 100)
                   / split_part(e->>'cap_factor_exact', '/', 2)::numeric END;
  RETURN NEXT ok(
    (t.cap_factor IS NULL AND v_f IS NULL)
    OR abs(t.cap_factor - v_f) < 1e-20,
    label || ': totals.cap_factor = cap_limit / total_before_cap (exact fraction) to 1e-20');

  RETURN NEXT set_eq(
    format('SELECT key, value::numeric FROM jsonb_each_text(%L::jsonb)', t.bonuses),
    format('SELECT key, value::numeric FROM jsonb_each_text(%L::jsonb)', e->'bonuses'),
    label || ': totals.bonuses (after the cap)');
  RETURN NEXT set_eq(
    format('SELECT key, value::numeric FROM jsonb_each_text(%L::jsonb)', t.bonuses_before_cap),
    format('SELECT key, value::numeric FROM jsonb_each_text(%L::jsonb)', e->'bonuses_before_cap'),
    label || ': totals.bonuses_before_cap');
END $$;

\set dir test/fixtures/a_unilevel/none
\i test/fixtures/load_example.psql
SELECT * FROM mlm_ex.check(:'dir');

\set dir test/fixtures/a_unilevel/dynamic
\i test/fixtures/load_example.psql
SELECT * FROM mlm_ex.check(:'dir');

-- The members relation may lack the optional columns (placement_id,
-- position, joined): same payouts.
CREATE TEMP TABLE ex_members_min AS SELECT id, sponsor_id, active_status FROM ex_members;
SELECT bag_eq(
  $$SELECT member_id, bonus, amount
      FROM mlm.payouts((SELECT plan FROM ex_plan), 'ex_members_min', 'ex_volumes',
                       (SELECT period_start FROM ex_period), (SELECT period_end FROM ex_period))$$,
  $$SELECT member_id, bonus, amount FROM exp_payouts$$,
  'a_unilevel/dynamic: payouts with the optional member columns absent');

\set dir test/fixtures/b_differential/scenario1
\i test/fixtures/load_example.psql
SELECT * FROM mlm_ex.check(:'dir');

\set dir test/fixtures/b_differential/scenario2
\i test/fixtures/load_example.psql
SELECT * FROM mlm_ex.check(:'dir');

\set dir test/fixtures/c_binary
\i test/fixtures/load_example.psql
SELECT * FROM mlm_ex.check(:'dir');

-- The same network without carry-in (carry argument omitted): legs
-- 1: 900 / 1400 -> 90.00, carry (0, 500); 2: 500 / 300 -> 30.00,
-- carry (200, 0); 3 unqualified: (400, 800).
SELECT bag_eq(
  $$SELECT member_id, carry_left, carry_right
      FROM mlm.carry_out((SELECT plan FROM ex_plan), 'ex_members', 'ex_volumes',
                         (SELECT period_start FROM ex_period), (SELECT period_end FROM ex_period))$$,
  $$VALUES (1::bigint, 0::numeric, 500::numeric), (2, 200, 0), (3, 400, 800)$$,
  'c_binary without carry-in: carry-out');

\set dir test/fixtures/c2_binary_cycle
\i test/fixtures/load_example.psql
SELECT * FROM mlm_ex.check(:'dir');

\set dir test/fixtures/d_matching_pool_cap
\i test/fixtures/load_example.psql
SELECT * FROM mlm_ex.check(:'dir');

SELECT * FROM finish();
ROLLBACK;
