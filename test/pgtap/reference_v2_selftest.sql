-- test/pgtap/reference_v2_selftest.sql
--
-- Self-test of the contract version 2 reference (test/reference/
-- reference_v2.sql on top of reference.sql and reference_plan16.sql): it
-- must reproduce every number of the hand-checked version 2 examples
-- copied into test/fixtures from the spec's examples:
--
--   e_ranks_across_periods/month1..3   three months chained: month 2 runs
--       on the state out that the reference computed for month 1, month 3
--       on that of month 2 (the folders' own state.csv of months 2 and 3
--       are not read), so the chain itself is checked;
--   f_customers_ledger                 customers, customer rank
--       requirements, personal `volume: customer`, the payables ledger;
--   g_rank_binary_pool_down            binary rate_by_rank at the paid-as
--       rank, pools by CV' and GV, rounding down, grace.
--
-- For each folder (13 tests): payouts, member results (pv, gv, active,
-- rank, total, qualified / paid-as / title rank, grace, cpv, customers),
-- lines (rates compared at 20 decimals: pool rates w / W are not finite
-- decimals; lines.csv prints 60 digits), carry out, state out, payables
-- (payables.csv; for (e), which has no payout key and no payables.csv, the
-- rows that 13.1 gives without payout: balance 0, paid = earned = the
-- member's total of members_out.csv), total CV, total, total before the
-- cap, per-bonus totals after and before the cap, the cap factor (none),
-- and the ledger sums of totals.json (without payout: 0, the total, 0).
-- Then a few hand-computed cases for what the examples do not reach
-- (personal `volume` own / all, a customer's carried state, matching of a
-- rank_advancement bonus) and the validation errors of sections 12 and
-- 13.2.  Every expected value is read from the fixtures or written here by
-- hand; none is the reference's own output.
--
-- It does not use the mlm extension.  Run from the repository root:
--   pg_prove -d <db> test/pgtap/reference_v2_selftest.sql
-- (in a database with CREATE EXTENSION pgtap).

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

SELECT plan(5 * 13 + 4 + 9);

CREATE SCHEMA mlm_v2st;

-- The 13 tests of one loaded folder (ex_* / exp_* of load_example_v2.psql),
-- the reference run on state `st` (NULL = no state).
CREATE FUNCTION mlm_v2st.check(label text, st regclass) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
  v_plan jsonb := (SELECT plan FROM ex_plan);
  v_tot  jsonb := (SELECT totals FROM exp_totals);
  t      record;
BEGIN
  PERFORM mlm_ref.v2_compute(v_plan, 'ex_members', 'ex_volumes', st,
                             (SELECT period_end FROM ex_period));
  DROP TABLE IF EXISTS pg_temp.st_member, pg_temp.st_payout, pg_temp.st_line,
    pg_temp.st_carry, pg_temp.st_state, pg_temp.st_payable, pg_temp.st_total;
  CREATE TEMP TABLE st_member AS SELECT * FROM _ref2_out_member;
  CREATE TEMP TABLE st_payout AS SELECT * FROM _ref2_out_payout;
  CREATE TEMP TABLE st_line AS SELECT * FROM _ref2_out_line;
  CREATE TEMP TABLE st_carry AS SELECT * FROM _ref2_out_carry;
  CREATE TEMP TABLE st_state AS SELECT * FROM _ref2_out_state;
  CREATE TEMP TABLE st_payable AS SELECT * FROM _ref2_out_payable;
  CREATE TEMP TABLE st_total AS SELECT * FROM _ref2_out_total;
  SELECT * INTO t FROM st_total;

  RETURN NEXT bag_eq('SELECT member_id, bonus, amount FROM st_payout',
                     'SELECT member_id, bonus, amount FROM exp_payouts',
                     label || ': payouts');
  RETURN NEXT set_eq(
    'SELECT member_id, pv, gv, active, rank, amount, qualified_rank, paid_as_rank,
            title_rank, grace, cpv, customers FROM st_member',
    'SELECT member_id, pv, gv, active, rank, total, qualified_rank, paid_as_rank,
            title_rank, grace, cpv, customers FROM exp_members',
    label || ': member results');
  RETURN NEXT bag_eq(
    'SELECT recipient, bonus, source, level, base, round(rate, 20), amount FROM st_line',
    'SELECT recipient, bonus, source, level, base, round(rate, 20), amount FROM exp_lines',
    label || ': lines');
  RETURN NEXT set_eq('SELECT member_id, carry_left, carry_right FROM st_carry',
                     'SELECT member_id, carry_left, carry_right FROM exp_carry',
                     label || ': carry out');
  RETURN NEXT set_eq(
    'SELECT member_id, carry_left, carry_right, title_rank, paid_as_rank, grace, balance
       FROM st_state',
    'SELECT member_id, carry_left, carry_right, title_rank, paid_as_rank, grace, balance
       FROM exp_state',
    label || ': state out');
  IF v_plan ? 'payout' THEN
    RETURN NEXT set_eq(
      'SELECT member_id, balance_in, earned, paid, balance_out FROM st_payable',
      'SELECT member_id, balance_in, earned, paid, balance_out FROM exp_payables',
      label || ': payables');
  ELSE
    RETURN NEXT set_eq(
      'SELECT member_id, balance_in, earned, paid, balance_out FROM st_payable',
      'SELECT member_id, 0 AS b_in, total AS earned, total AS paid, 0 AS b_out FROM exp_members WHERE total <> 0',
      label || ': payables (no payout key: paid = earned, no balance)');
  END IF;
  RETURN NEXT is(t.total_cv, (v_tot->>'total_cv')::numeric, label || ': total CV');
  RETURN NEXT is(t.total_paid, (v_tot->>'total')::numeric, label || ': total');
  RETURN NEXT is(t.total_before_cap, (v_tot->>'total_before_cap')::numeric,
                 label || ': total before the cap');
  RETURN NEXT set_eq(
    format('SELECT key, value::numeric FROM jsonb_each_text(%L::jsonb)', t.bonuses),
    format('SELECT key, value::numeric FROM jsonb_each_text(%L::jsonb)', v_tot->'bonuses'),
    label || ': totals per bonus');
  RETURN NEXT set_eq(
    format('SELECT key, value::numeric FROM jsonb_each_text(%L::jsonb)', t.bonuses_before_cap),
    format('SELECT key, value::numeric FROM jsonb_each_text(%L::jsonb)', v_tot->'bonuses_before_cap'),
    label || ': totals per bonus before the cap');
  RETURN NEXT ok(t.cap_factor IS NULL AND t.cap_limit IS NULL
                 AND v_tot->>'cap_factor' IS NULL AND v_tot->>'cap_limit' IS NULL,
                 label || ': no cap');
  RETURN NEXT is(ARRAY[t.balance_in, t.paid_out, t.balance_out],
                 CASE WHEN v_tot ? 'paid'
                      THEN ARRAY[(v_tot->>'balance_in')::numeric, (v_tot->>'paid')::numeric,
                                 (v_tot->>'balance_out')::numeric]
                      ELSE ARRAY[0, (v_tot->>'total')::numeric, 0] END,
                 label || ': ledger sums (balance in, paid, balance out)');
END $$;

------------------------------------------------------------------------------
-- (e) three months chained
------------------------------------------------------------------------------

\set dir test/fixtures/e_ranks_across_periods/month1
\i test/fixtures/load_example_v2.psql
SELECT * FROM mlm_v2st.check(:'dir', :ex_state_arg);
CREATE TEMP TABLE chain_state1 AS SELECT * FROM st_state;

\set dir test/fixtures/e_ranks_across_periods/month2
\i test/fixtures/load_example_v2.psql
SELECT * FROM mlm_v2st.check(:'dir' || ' (state: month 1 as computed)', 'chain_state1');
CREATE TEMP TABLE chain_state2 AS SELECT * FROM st_state;

\set dir test/fixtures/e_ranks_across_periods/month3
\i test/fixtures/load_example_v2.psql
SELECT * FROM mlm_v2st.check(:'dir' || ' (state: month 2 as computed)', 'chain_state2');

-- Hand case: month 3 with a matching bonus of the advancement (11.1: a
-- matching bonus may name it in `of`), rates [0.10, 0.05], no rank
-- condition.  The only advancement payout is 10's 100.00 (Bronze ->
-- Silver); 10's sponsor 9 (active) gets 10.00, 9's sponsor 1 gets 5.00.
SELECT bag_eq(
  $$SELECT member_id, amount FROM mlm_ref.v2_payouts(
      (SELECT jsonb_set(plan, '{bonuses}', plan->'bonuses' ||
         '[{"name": "adv_match", "type": "matching", "of": ["advancement"], "rates": [0.10, 0.05]}]')
         FROM ex_plan),
      'ex_members', 'ex_volumes', 'chain_state2') WHERE bonus = 'adv_match'$$,
  $$VALUES (9::bigint, 10.00), (1, 5.00)$$,
  'hand case: matching of rank_advancement (e month 3)');

------------------------------------------------------------------------------
-- (f) customers and the ledger
------------------------------------------------------------------------------

\set dir test/fixtures/f_customers_ledger
\i test/fixtures/load_example_v2.psql
SELECT * FROM mlm_v2st.check(:'dir', :ex_state_arg);

-- Hand cases on the same inputs: retail with `volume` "all" (0.20 x CV')
-- and "own" (0.20 x CV); every distributor is active.  CV' = 1: 100,
-- 2: 180, 3: 220, 4: 100, 5: 60, 6: 130; CV = 100, 80, 100, 50, 60, 100.
SELECT bag_eq(
  $$SELECT member_id, amount FROM mlm_ref.v2_payouts(
      (SELECT jsonb_set(plan, '{bonuses,0,volume}', '"all"') FROM ex_plan),
      'ex_members', 'ex_volumes', 'ex_state') WHERE bonus = 'retail'$$,
  $$VALUES (1::bigint, 20.00), (2, 36.00), (3, 44.00), (4, 20.00), (5, 12.00), (6, 26.00)$$,
  'hand case: personal volume all (f)');
SELECT bag_eq(
  $$SELECT member_id, amount FROM mlm_ref.v2_payouts(
      (SELECT jsonb_set(plan, '{bonuses,0,volume}', '"own"') FROM ex_plan),
      'ex_members', 'ex_volumes', 'ex_state') WHERE bonus = 'retail'$$,
  $$VALUES (1::bigint, 20.00), (2, 16.00), (3, 20.00), (4, 10.00), (5, 12.00), (6, 20.00)$$,
  'hand case: personal volume own (f)');

-- Validation errors (section 12), each on a copy of (f)'s members.
CREATE TEMP TABLE bad_members AS SELECT * FROM ex_members;
UPDATE bad_members SET member_type = 'Customer' WHERE id = 13;
SELECT throws_like($$SELECT mlm_ref.v2_compute((SELECT plan FROM ex_plan), 'bad_members', 'ex_volumes')$$,
                   '%member_type is neither distributor nor customer%',
                   'section 12: member_type other than distributor / customer');
TRUNCATE bad_members; INSERT INTO bad_members SELECT * FROM ex_members;
UPDATE bad_members SET placement_id = 2, position = 0 WHERE id = 13;
SELECT throws_like($$SELECT mlm_ref.v2_compute((SELECT plan FROM ex_plan), 'bad_members', 'ex_volumes')$$,
                   '%customer has a placement%', 'section 12: a customer with a placement');
TRUNCATE bad_members; INSERT INTO bad_members SELECT * FROM ex_members;
UPDATE bad_members SET placement_id = 11, position = 0 WHERE id = 5;
SELECT throws_like($$SELECT mlm_ref.v2_compute((SELECT plan FROM ex_plan), 'bad_members', 'ex_volumes')$$,
                   '%customer is a placement parent%', 'section 12: a customer as placement parent');
TRUNCATE bad_members; INSERT INTO bad_members SELECT * FROM ex_members;
UPDATE bad_members SET sponsor_id = 15 WHERE id = 5;
SELECT throws_like($$SELECT mlm_ref.v2_compute((SELECT plan FROM ex_plan), 'bad_members', 'ex_volumes')$$,
                   '%customer sponsors a distributor%', 'section 12: a customer sponsoring a distributor');
TRUNCATE bad_members; INSERT INTO bad_members SELECT * FROM ex_members;
UPDATE bad_members SET sponsor_id = NULL WHERE id = 16;
SELECT throws_like($$SELECT mlm_ref.v2_compute((SELECT plan FROM ex_plan), 'bad_members', 'ex_volumes')$$,
                   '%customer is a root%', 'section 12: a customer as a root');

-- State errors (section 13.2).
CREATE TEMP TABLE bad_state AS SELECT * FROM ex_state;
INSERT INTO bad_state (member_id, balance) VALUES (99, 1);
SELECT throws_like($$SELECT mlm_ref.v2_compute((SELECT plan FROM ex_plan), 'ex_members', 'ex_volumes', 'bad_state')$$,
                   '%state row for a non-member%', 'section 13.2: a state row for a non-member');
TRUNCATE bad_state; INSERT INTO bad_state SELECT * FROM ex_state;
INSERT INTO bad_state (member_id, balance) VALUES (6, 1);
SELECT throws_like($$SELECT mlm_ref.v2_compute((SELECT plan FROM ex_plan), 'ex_members', 'ex_volumes', 'bad_state')$$,
                   '%two state rows for one member%', 'section 13.2: two state rows for one member');
TRUNCATE bad_state; INSERT INTO bad_state SELECT * FROM ex_state;
INSERT INTO bad_state (member_id, title_rank) VALUES (2, 'Gold');
SELECT throws_like($$SELECT mlm_ref.v2_compute((SELECT plan FROM ex_plan), 'ex_members', 'ex_volumes', 'bad_state')$$,
                   '%state names a rank the plan does not have%', 'section 13.2: an unknown rank name');
TRUNCATE bad_state; INSERT INTO bad_state SELECT * FROM ex_state;
INSERT INTO bad_state (member_id, grace) VALUES (2, -1);
SELECT throws_like($$SELECT mlm_ref.v2_compute((SELECT plan FROM ex_plan), 'ex_members', 'ex_volumes', 'bad_state')$$,
                   '%negative grace%', 'section 13.2: a negative grace');

------------------------------------------------------------------------------
-- (g) binary by paid-as rank, pools by volume, rounding down
------------------------------------------------------------------------------

\set dir test/fixtures/g_rank_binary_pool_down
\i test/fixtures/load_example_v2.psql
SELECT * FROM mlm_v2st.check(:'dir', :ex_state_arg);

-- Hand case: customer 10 with a state row (carry (5, 7), title Silver,
-- paid-as Silver, grace 1).  Section 12: a customer's state row keeps its
-- title, paid-as NULL, grace 0, carry as a member outside the placement
-- tree (never active, so unqualified; no flush, no max_carry: the carry-in).
-- Nothing else changes (customers are no binary nodes).
INSERT INTO ex_state VALUES (10, 5, 7, 'Silver', 'Silver', 1, NULL);
SELECT set_eq(
  $$SELECT * FROM mlm_ref.v2_state_out((SELECT plan FROM ex_plan), 'ex_members', 'ex_volumes', 'ex_state')$$,
  $$SELECT * FROM exp_state UNION ALL VALUES (10::bigint, 5::numeric, 7::numeric, 'Silver', NULL, 0, 0::numeric)$$,
  'hand case: a customer''s state row (g)');

SELECT * FROM finish();
ROLLBACK;
