-- test/pgtap/reference_selftest.sql
--
-- Self-test of the plain-SQL reference (test/reference/reference.sql): it must
-- reproduce the hand-checked examples of test/fixtures (copied from the spec)
-- and a few more hand-computed cases for features the examples do not reach.
-- It does not use the mlm extension.
--
-- Run from the repository root:
--   pg_prove -d <db> test/pgtap/reference_selftest.sql
-- (in a database with CREATE EXTENSION pgtap).

\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off

BEGIN;
\i test/reference/reference.sql

SELECT plan(56 + 7 + 2);

------------------------------------------------------------------------------
-- Member results of every example (pv, gv, active, rank name)
------------------------------------------------------------------------------

\set dir test/fixtures/a_unilevel/none
\i test/fixtures/load_example.psql
SELECT set_eq(
  $$SELECT member_id, pv, gv, active, rank
      FROM mlm_ref.member_results((SELECT plan FROM ex_plan), 'ex_members', 'ex_volumes')$$,
  $$SELECT member_id, pv, gv, active, rank FROM exp_members$$,
  'reference member results: ' || :'dir');
SELECT bag_eq(
  $$SELECT recipient, 'unilevel'::text, source, level, base, rate, amount
      FROM mlm_ref.unilevel_lines((SELECT plan FROM ex_plan), 'unilevel', 'ex_members', 'ex_volumes')$$,
  $$SELECT recipient, bonus, source, level, base, rate, amount FROM exp_lines$$,
  'reference unilevel lines: ' || :'dir');
SELECT bag_eq(
  $$SELECT member_id, bonus, amount
      FROM mlm_ref.payouts((SELECT plan FROM ex_plan), 'ex_members', 'ex_volumes')$$,
  $$SELECT member_id, bonus, amount FROM exp_payouts$$,
  'reference payouts: ' || :'dir');
SELECT is((SELECT sum(amount) FROM mlm_ref.payouts((SELECT plan FROM ex_plan), 'ex_members', 'ex_volumes')),
          (SELECT (totals->>'total')::numeric FROM exp_totals),
          'reference total: ' || :'dir');

\set dir test/fixtures/a_unilevel/dynamic
\i test/fixtures/load_example.psql
SELECT set_eq(
  $$SELECT member_id, pv, gv, active, rank
      FROM mlm_ref.member_results((SELECT plan FROM ex_plan), 'ex_members', 'ex_volumes')$$,
  $$SELECT member_id, pv, gv, active, rank FROM exp_members$$,
  'reference member results: ' || :'dir');
SELECT bag_eq(
  $$SELECT recipient, 'unilevel'::text, source, level, base, rate, amount
      FROM mlm_ref.unilevel_lines((SELECT plan FROM ex_plan), 'unilevel', 'ex_members', 'ex_volumes')$$,
  $$SELECT recipient, bonus, source, level, base, rate, amount FROM exp_lines$$,
  'reference unilevel lines: ' || :'dir');
SELECT bag_eq(
  $$SELECT member_id, bonus, amount
      FROM mlm_ref.payouts((SELECT plan FROM ex_plan), 'ex_members', 'ex_volumes')$$,
  $$SELECT member_id, bonus, amount FROM exp_payouts$$,
  'reference payouts: ' || :'dir');
SELECT is((SELECT sum(amount) FROM mlm_ref.payouts((SELECT plan FROM ex_plan), 'ex_members', 'ex_volumes')),
          (SELECT (totals->>'total')::numeric FROM exp_totals),
          'reference total: ' || :'dir');

\set dir test/fixtures/b_differential/scenario1
\i test/fixtures/load_example.psql
SELECT set_eq(
  $$SELECT member_id, pv, gv, active, rank
      FROM mlm_ref.member_results((SELECT plan FROM ex_plan), 'ex_members', 'ex_volumes')$$,
  $$SELECT member_id, pv, gv, active, rank FROM exp_members$$,
  'reference member results: ' || :'dir');

\set dir test/fixtures/b_differential/scenario2
\i test/fixtures/load_example.psql
SELECT set_eq(
  $$SELECT member_id, pv, gv, active, rank
      FROM mlm_ref.member_results((SELECT plan FROM ex_plan), 'ex_members', 'ex_volumes')$$,
  $$SELECT member_id, pv, gv, active, rank FROM exp_members$$,
  'reference member results: ' || :'dir');

\set dir test/fixtures/c_binary
\i test/fixtures/load_example.psql
SELECT set_eq(
  $$SELECT member_id, pv, gv, active, rank
      FROM mlm_ref.member_results((SELECT plan FROM ex_plan), 'ex_members', 'ex_volumes')$$,
  $$SELECT member_id, pv, gv, active, rank FROM exp_members$$,
  'reference member results: ' || :'dir');
SELECT bag_eq(
  $$SELECT member_id, 'binary'::text, NULL::bigint, NULL::integer, paired_base, rate, amount
      FROM mlm_ref.binary((SELECT plan FROM ex_plan), 'binary', 'ex_members', 'ex_volumes', 'ex_carry')
     WHERE qualified AND amount <> 0$$,
  $$SELECT recipient, bonus, source, level, base, rate, amount FROM exp_lines$$,
  'reference binary lines: ' || :'dir');
SELECT set_eq(
  $$SELECT member_id, carry_left, carry_right
      FROM mlm_ref.binary((SELECT plan FROM ex_plan), 'binary', 'ex_members', 'ex_volumes', 'ex_carry')
     WHERE carry_left <> 0 OR carry_right <> 0$$,
  $$SELECT member_id, carry_left, carry_right FROM exp_carry$$,
  'reference carry out: ' || :'dir');
SELECT bag_eq(
  $$SELECT member_id, bonus, amount
      FROM mlm_ref.payouts((SELECT plan FROM ex_plan), 'ex_members', 'ex_volumes', 'ex_carry')$$,
  $$SELECT member_id, bonus, amount FROM exp_payouts$$,
  'reference payouts: ' || :'dir');

-- Hand-computed variants on the same network and carry-in (see README of
-- the examples, section (c)); CV 1:50 2:100 3:200 4:500 5:300 6:400 7:800.
-- (i) require_sponsored_each_leg false: member 3 now qualifies: legs
--     400 / 700+800 = 1500, paired 400, 40.00, carry (0, 1500) -> max 1200.
SELECT bag_eq(
  $$SELECT member_id, bonus, amount
      FROM mlm_ref.payouts((SELECT jsonb_set(plan, '{bonuses,0,require_sponsored_each_leg}', 'false')
                              FROM ex_plan), 'ex_members', 'ex_volumes', 'ex_carry')$$,
  $$VALUES (1::bigint, 'binary'::text, 120.00), (2, 'binary', 50.00), (3, 'binary', 40.00)$$,
  'reference binary, require_sponsored_each_leg false: payouts');
SELECT set_eq(
  $$SELECT member_id, carry_left, carry_right
      FROM mlm_ref.binary((SELECT jsonb_set(plan, '{bonuses,0,require_sponsored_each_leg}', 'false')
                             FROM ex_plan), 'binary', 'ex_members', 'ex_volumes', 'ex_carry')
     WHERE carry_left <> 0 OR carry_right <> 0$$,
  $$VALUES (1::bigint, 500::numeric, 0::numeric), (2, 0, 50), (3, 0, 1100)$$,
  'reference binary, require_sponsored_each_leg false: carry out');
-- (ii) flush_when_unqualified: member 3 (unqualified) loses its carry.
SELECT set_eq(
  $$SELECT member_id, carry_left, carry_right
      FROM mlm_ref.binary((SELECT jsonb_set(plan, '{bonuses,0,flush_when_unqualified}', 'true')
                             FROM ex_plan), 'binary', 'ex_members', 'ex_volumes', 'ex_carry')
     WHERE carry_left <> 0 OR carry_right <> 0$$,
  $$VALUES (1::bigint, 500::numeric, 0::numeric), (2, 0, 50)$$,
  'reference binary, flush_when_unqualified: carry out');
-- (iii) negative carry-in for 1: (-2000, 0): legs -1100 / 1400, paired
--       max(0, -1100) = 0, no line; carry (-1100, 1400) -> max_carry bounds
--       only from above: (-1100, 1200).
UPDATE ex_carry SET carry_left = -2000 WHERE member_id = 1;
SELECT set_eq(
  $$SELECT member_id, carry_left, carry_right
      FROM mlm_ref.binary((SELECT plan FROM ex_plan), 'binary', 'ex_members', 'ex_volumes', 'ex_carry')
     WHERE carry_left <> 0 OR carry_right <> 0$$,
  $$VALUES (1::bigint, -1100::numeric, 1200::numeric), (2, 0, 50), (3, 400, 1200)$$,
  'reference binary, negative carry-in: carry out');
SELECT bag_eq(
  $$SELECT member_id, bonus, amount
      FROM mlm_ref.payouts((SELECT plan FROM ex_plan), 'ex_members', 'ex_volumes', 'ex_carry')$$,
  $$VALUES (2::bigint, 'binary'::text, 50.00)$$,
  'reference binary, negative carry-in: payouts');
-- (iv) a unilevel on the placement tree (rates 0.10, 0.05, no compression):
--      placement 1 -> 2, 3; 2 -> 4, 5; 3 -> 6, 7 (7 is sponsored by 1).
--      1: 0.1*(100+200) + 0.05*(500+300+400+800) = 130; 2: 0.1*800 = 80;
--      3: 0.1*1200 = 120.
SELECT bag_eq(
  $$SELECT member_id, bonus, amount
      FROM mlm_ref.payouts('{"ranks": [{"name": "Member"}], "bonuses": [
              {"name": "u", "type": "unilevel", "tree": "placement", "rates": [0.10, 0.05]}]}',
            'ex_members', 'ex_volumes')$$,
  $$VALUES (1::bigint, 'u'::text, 130.00), (2, 'u', 80.00), (3, 'u', 120.00)$$,
  'reference unilevel on the placement tree: payouts');

\set dir test/fixtures/c2_binary_cycle
\i test/fixtures/load_example.psql
SELECT set_eq(
  $$SELECT member_id, pv, gv, active, rank
      FROM mlm_ref.member_results((SELECT plan FROM ex_plan), 'ex_members', 'ex_volumes')$$,
  $$SELECT member_id, pv, gv, active, rank FROM exp_members$$,
  'reference member results: ' || :'dir');
SELECT bag_eq(
  $$SELECT member_id, 'binary'::text, NULL::bigint, NULL::integer, paired_base, rate, amount
      FROM mlm_ref.binary((SELECT plan FROM ex_plan), 'binary', 'ex_members', 'ex_volumes', 'ex_carry')
     WHERE qualified AND amount <> 0$$,
  $$SELECT recipient, bonus, source, level, base, rate, amount FROM exp_lines$$,
  'reference binary lines: ' || :'dir');
SELECT set_eq(
  $$SELECT member_id, carry_left, carry_right
      FROM mlm_ref.binary((SELECT plan FROM ex_plan), 'binary', 'ex_members', 'ex_volumes', 'ex_carry')
     WHERE carry_left <> 0 OR carry_right <> 0$$,
  $$SELECT member_id, carry_left, carry_right FROM exp_carry$$,
  'reference carry out: ' || :'dir');
SELECT bag_eq(
  $$SELECT member_id, bonus, amount
      FROM mlm_ref.payouts((SELECT plan FROM ex_plan), 'ex_members', 'ex_volumes', 'ex_carry')$$,
  $$SELECT member_id, bonus, amount FROM exp_payouts$$,
  'reference payouts: ' || :'dir');
-- cycle binary without carry-in, no cap: 1: legs 900 / 1400 -> 3 cycles,
-- 120, carry (0, 500); 2: legs 500 / 300 -> 1 cycle, 40, carry (200, 0).
SELECT bag_eq(
  $$SELECT member_id, bonus, amount
      FROM mlm_ref.payouts((SELECT plan #- '{bonuses,0,cap}' FROM ex_plan), 'ex_members', 'ex_volumes')$$,
  $$VALUES (1::bigint, 'binary'::text, 120.00), (2, 'binary', 40.00)$$,
  'reference cycle binary without carry-in: payouts');
SELECT set_eq(
  $$SELECT member_id, carry_left, carry_right
      FROM mlm_ref.binary((SELECT plan #- '{bonuses,0,cap}' FROM ex_plan), 'binary', 'ex_members', 'ex_volumes')
     WHERE carry_left <> 0 OR carry_right <> 0$$,
  $$VALUES (1::bigint, 0::numeric, 500::numeric), (2, 200, 0), (3, 400, 800)$$,
  'reference cycle binary without carry-in: carry out');

\set dir test/fixtures/d_matching_pool_cap
\i test/fixtures/load_example.psql
SELECT set_eq(
  $$SELECT member_id, pv, gv, active, rank
      FROM mlm_ref.member_results((SELECT plan FROM ex_plan), 'ex_members', 'ex_volumes')$$,
  $$SELECT member_id, pv, gv, active, rank FROM exp_members$$,
  'reference member results: ' || :'dir');
SELECT bag_eq(
  $$SELECT recipient, 'personal'::text, source, level, base, rate, amount
      FROM mlm_ref.personal_lines((SELECT plan FROM ex_plan), 'personal', 'ex_members', 'ex_volumes')$$,
  $$SELECT recipient, bonus, source, level, base, rate, amount FROM exp_lines WHERE bonus = 'personal'$$,
  'reference personal lines: ' || :'dir');
-- matching, pool and the total cap
SELECT bag_eq(
  $$SELECT member_id, bonus, amount
      FROM mlm_ref.payouts((SELECT plan FROM ex_plan), 'ex_members', 'ex_volumes')$$,
  $$SELECT member_id, bonus, amount FROM exp_payouts$$,
  'reference payouts: ' || :'dir');
-- personal only, half_even, before the cap: the rounded personal payouts of
-- the example's working (9.58 in all)
SELECT bag_eq(
  $$SELECT member_id, bonus, amount
      FROM mlm_ref.payouts((SELECT (plan - 'cap' - 'bonuses')
                                   || jsonb_build_object('bonuses', jsonb_build_array(plan->'bonuses'->0))
                              FROM ex_plan), 'ex_members', 'ex_volumes')$$,
  $$VALUES (1::bigint, 'personal'::text, 5.00), (2, 'personal', 0.52), (3, 'personal', 0.54),
           (4, 'personal', 2.52), (6, 'personal', 1.00)$$,
  'reference personal payouts, half_even: d without match, pool and cap');
-- the same with cap pct 0.04: L = 0.04 * 221.00 = 8.84 < T = 9.58, each
-- payout A -> floor(A_units * 884 / 958) units: 4.61 0.47 0.49 2.32 0.92.
SELECT bag_eq(
  $$SELECT member_id, bonus, amount
      FROM mlm_ref.payouts((SELECT (plan - 'bonuses')
                                   || jsonb_build_object('bonuses', jsonb_build_array(plan->'bonuses'->0),
                                                         'cap', jsonb_build_object('pct', 0.04))
                              FROM ex_plan), 'ex_members', 'ex_volumes')$$,
  $$VALUES (1::bigint, 'personal'::text, 4.61), (2, 'personal', 0.47), (3, 'personal', 0.49),
           (4, 'personal', 2.32), (6, 'personal', 0.92)$$,
  'reference payouts with the total cap');
SELECT results_eq(
  $$SELECT total_cv, total_before_cap, cap_limit, round(cap_factor, 50)
      FROM mlm_ref.cap_info((SELECT (plan - 'bonuses')
                                    || jsonb_build_object('bonuses', jsonb_build_array(plan->'bonuses'->0),
                                                          'cap', jsonb_build_object('pct', 0.04))
                               FROM ex_plan), 'ex_members', 'ex_volumes')$$,
  $$VALUES (221.00::numeric, 9.58::numeric, 8.84::numeric, round(8.84::numeric(100, 80) / 9.58, 50))$$,
  'reference cap numbers: L, T, f');
-- no cap when T <= L (pct 0.05: L = 11.05)
SELECT bag_eq(
  $$SELECT member_id, bonus, amount
      FROM mlm_ref.payouts((SELECT (plan - 'bonuses')
                                   || jsonb_build_object('bonuses', jsonb_build_array(plan->'bonuses'->0),
                                                         'cap', jsonb_build_object('pct', 0.05))
                              FROM ex_plan), 'ex_members', 'ex_volumes')$$,
  $$VALUES (1::bigint, 'personal'::text, 5.00), (2, 'personal', 0.52), (3, 'personal', 0.54),
           (4, 'personal', 2.52), (6, 'personal', 1.00)$$,
  'reference payouts: cap not reached');

------------------------------------------------------------------------------
-- Hand-computed cases beyond the examples
------------------------------------------------------------------------------

-- Rounding (section 6, section 10: ties away from zero for negatives too)
SELECT is(mlm_ref.round(0.125, 2, 'half_up'),    0.13, 'half_up 0.125');
SELECT is(mlm_ref.round(-0.125, 2, 'half_up'),  -0.13, 'half_up -0.125');
SELECT is(mlm_ref.round(0.1249999, 2, 'half_up'), 0.12, 'half_up 0.1249999');
SELECT is(mlm_ref.round(0.125, 2, 'half_even'),  0.12, 'half_even 0.125');
SELECT is(mlm_ref.round(-0.125, 2, 'half_even'), -0.12, 'half_even -0.125');
SELECT is(mlm_ref.round(0.135, 2, 'half_even'),  0.14, 'half_even 0.135');
SELECT is(mlm_ref.round(-0.135, 2, 'half_even'), -0.14, 'half_even -0.135');
SELECT is(mlm_ref.round(0.1250001, 2, 'half_even'), 0.13, 'half_even 0.1250001');
SELECT is(mlm_ref.round(2.5, 0, 'half_even'), 2::numeric, 'half_even 2.5 at scale 0');
SELECT is(mlm_ref.round(3.5, 0, 'half_even'), 4::numeric, 'half_even 3.5 at scale 0');
SELECT is(mlm_ref.round(-0.004, 2, 'half_up'), 0.00, 'half_up -0.004 is 0');

-- floor division (cycle binary)
SELECT is(mlm_ref.floor_div(1900, 300), 6::numeric, 'floor_div 1900/300');
SELECT is(mlm_ref.floor_div(-1, 300), -1::numeric, 'floor_div -1/300');
SELECT is(mlm_ref.floor_div(599.99, 300), 1::numeric, 'floor_div 599.99/300');

-- Per-rank values (section 4): Member -> 0, Bronze 0.1, Silver (absent) ->
-- Bronze's 0.1, Gold 0.3
SELECT results_eq(
  $$SELECT j, mlm_ref.by_rank('{"ranks": [{"name": "Member"}, {"name": "Bronze"}, {"name": "Silver"}, {"name": "Gold"}]}',
                             '{"Bronze": 0.1, "Gold": 0.3}', j)
      FROM generate_series(0, 3) j ORDER BY j$$,
  $$VALUES (0, 0::numeric), (1, 0.1), (2, 0.1), (3, 0.3)$$,
  'per-rank value expansion');

-- Ranks with every requirement kind (hand-computed).
--   sponsor tree: 1 <- 2, 3, 8; 2 <- 4, 5; 3 <- 6; 6 <- 7; 4 <- 9
--   pv: 1:100 2:50 3:50 4:200 5:-30 6:60 7:500 8:1000 9:40
--   status: 8 false, 9 NULL (= true); active.min_pv 40, so 5 is inactive
--   GV: 9:40 4:240 5:-30 2:260 7:500 6:560 3:610 8:1000 1:1970
--   ranks: Member; Bronze = 2 active frontline; Silver = QGV 500 with
--   max_leg_pct 0.5 (legs capped at 250); Gold = 2 legs with Silver or more;
--   Star = pv 150.
--   7: Star (Silver too, Star is higher); 4: Star; 6, 9, 3: Member;
--   2: Bronze no (4 active, 5 not), Silver QGV 50+240-30 = 260 no, Gold 1
--      leg no -> Member; 5, 8 inactive -> Member;
--   1: Bronze yes (2, 3), Silver 100+250+250+250 = 850 yes, Gold legs 2
--      (4 Star) and 3 (7 Star) yes, Star no -> Gold.
CREATE TEMP TABLE hc_members (id bigint, sponsor_id bigint, active_status boolean);
INSERT INTO hc_members VALUES (1, NULL, true), (2, 1, true), (3, 1, true), (4, 2, true),
  (5, 2, true), (6, 3, true), (7, 6, true), (8, 1, false), (9, 4, NULL);
CREATE TEMP TABLE hc_volumes (member_id bigint, pv numeric, cv numeric, rv numeric);
INSERT INTO hc_volumes VALUES (1, 100, 0, 0), (2, 50, 0, 0), (3, 50, 0, 0), (4, 150, 0, 0),
  (4, 50, 0, 0), (5, -30, 0, 0), (6, 60, 0, 0), (7, 500, 0, 0), (8, 1000, 0, 0), (9, 40, 0, 0);
SELECT set_eq(
  $$SELECT member_id, gv, active, rank FROM mlm_ref.member_results('{
      "active": {"min_pv": 40},
      "ranks": [{"name": "Member"},
                {"name": "Bronze", "min_active_frontline": 2},
                {"name": "Silver", "min_gv": 500, "max_leg_pct": 0.5},
                {"name": "Gold", "legs_with_rank": {"rank": "Silver", "count": 2}},
                {"name": "Star", "min_pv": 150}]}', 'hc_members', 'hc_volumes')$$,
  $$VALUES (1::bigint, 1970::numeric, true, 'Gold'::text), (2, 260, true, 'Member'),
           (3, 610, true, 'Member'), (4, 240, true, 'Star'), (5, -30, false, 'Member'),
           (6, 560, true, 'Member'), (7, 500, true, 'Star'), (8, 1000, false, 'Member'),
           (9, 40, true, 'Member')$$,
  'reference ranks: every requirement kind (optional columns absent)');
-- Without max_leg_pct Silver uses GV: 6 (560) and 3 (610) reach Silver, and
-- 2 (260) does not; 1 is still Gold.  Without active.min_pv, 5 is active
-- (status true), so 2 has 2 active frontline members: Bronze.
SELECT set_eq(
  $$SELECT member_id, active, rank FROM mlm_ref.member_results('{
      "ranks": [{"name": "Member"},
                {"name": "Bronze", "min_active_frontline": 2},
                {"name": "Silver", "min_gv": 500},
                {"name": "Gold", "legs_with_rank": {"rank": "Silver", "count": 2}},
                {"name": "Star", "min_pv": 150}]}', 'hc_members', 'hc_volumes')$$,
  $$VALUES (1::bigint, true, 'Gold'::text), (2, true, 'Bronze'), (3, true, 'Silver'),
           (4, true, 'Star'), (5, true, 'Member'), (6, true, 'Silver'), (7, true, 'Star'),
           (8, false, 'Member'), (9, true, 'Member')$$,
  'reference ranks: GV without max_leg_pct, no active.min_pv');

------------------------------------------------------------------------------
-- The audit lines of every example, every bonus (pool rates w / W compared
-- as round(rate, 20) on both sides: lines.csv gives them to 60 digits)
------------------------------------------------------------------------------

\set dir test/fixtures/a_unilevel/none
\i test/fixtures/load_example.psql
SELECT bag_eq(
  $$SELECT recipient, bonus, source, level, base, round(rate, 20), amount
      FROM mlm_ref.lines((SELECT plan FROM ex_plan), 'ex_members', 'ex_volumes',
                         (SELECT CASE WHEN has_carry THEN 'ex_carry'::regclass END FROM ex_info),
                         (SELECT period_end FROM ex_period))$$,
  $$SELECT recipient, bonus, source, level, base, round(rate, 20), amount FROM exp_lines$$,
  'reference lines: ' || :'dir');

\set dir test/fixtures/a_unilevel/dynamic
\i test/fixtures/load_example.psql
SELECT bag_eq(
  $$SELECT recipient, bonus, source, level, base, round(rate, 20), amount
      FROM mlm_ref.lines((SELECT plan FROM ex_plan), 'ex_members', 'ex_volumes',
                         (SELECT CASE WHEN has_carry THEN 'ex_carry'::regclass END FROM ex_info),
                         (SELECT period_end FROM ex_period))$$,
  $$SELECT recipient, bonus, source, level, base, round(rate, 20), amount FROM exp_lines$$,
  'reference lines: ' || :'dir');

\set dir test/fixtures/b_differential/scenario1
\i test/fixtures/load_example.psql
SELECT bag_eq(
  $$SELECT recipient, bonus, source, level, base, round(rate, 20), amount
      FROM mlm_ref.lines((SELECT plan FROM ex_plan), 'ex_members', 'ex_volumes',
                         (SELECT CASE WHEN has_carry THEN 'ex_carry'::regclass END FROM ex_info),
                         (SELECT period_end FROM ex_period))$$,
  $$SELECT recipient, bonus, source, level, base, round(rate, 20), amount FROM exp_lines$$,
  'reference lines: ' || :'dir');
SELECT bag_eq(
  $$SELECT member_id, bonus, amount
      FROM mlm_ref.payouts((SELECT plan FROM ex_plan), 'ex_members', 'ex_volumes')$$,
  $$SELECT member_id, bonus, amount FROM exp_payouts$$,
  'reference payouts: ' || :'dir');

\set dir test/fixtures/b_differential/scenario2
\i test/fixtures/load_example.psql
SELECT bag_eq(
  $$SELECT recipient, bonus, source, level, base, round(rate, 20), amount
      FROM mlm_ref.lines((SELECT plan FROM ex_plan), 'ex_members', 'ex_volumes',
                         (SELECT CASE WHEN has_carry THEN 'ex_carry'::regclass END FROM ex_info),
                         (SELECT period_end FROM ex_period))$$,
  $$SELECT recipient, bonus, source, level, base, round(rate, 20), amount FROM exp_lines$$,
  'reference lines: ' || :'dir');
SELECT bag_eq(
  $$SELECT member_id, bonus, amount
      FROM mlm_ref.payouts((SELECT plan FROM ex_plan), 'ex_members', 'ex_volumes')$$,
  $$SELECT member_id, bonus, amount FROM exp_payouts$$,
  'reference payouts: ' || :'dir');

\set dir test/fixtures/c_binary
\i test/fixtures/load_example.psql
SELECT bag_eq(
  $$SELECT recipient, bonus, source, level, base, round(rate, 20), amount
      FROM mlm_ref.lines((SELECT plan FROM ex_plan), 'ex_members', 'ex_volumes',
                         (SELECT CASE WHEN has_carry THEN 'ex_carry'::regclass END FROM ex_info),
                         (SELECT period_end FROM ex_period))$$,
  $$SELECT recipient, bonus, source, level, base, round(rate, 20), amount FROM exp_lines$$,
  'reference lines: ' || :'dir');

\set dir test/fixtures/c2_binary_cycle
\i test/fixtures/load_example.psql
SELECT bag_eq(
  $$SELECT recipient, bonus, source, level, base, round(rate, 20), amount
      FROM mlm_ref.lines((SELECT plan FROM ex_plan), 'ex_members', 'ex_volumes',
                         (SELECT CASE WHEN has_carry THEN 'ex_carry'::regclass END FROM ex_info),
                         (SELECT period_end FROM ex_period))$$,
  $$SELECT recipient, bonus, source, level, base, round(rate, 20), amount FROM exp_lines$$,
  'reference lines: ' || :'dir');

\set dir test/fixtures/d_matching_pool_cap
\i test/fixtures/load_example.psql
SELECT bag_eq(
  $$SELECT recipient, bonus, source, level, base, round(rate, 20), amount
      FROM mlm_ref.lines((SELECT plan FROM ex_plan), 'ex_members', 'ex_volumes',
                         (SELECT CASE WHEN has_carry THEN 'ex_carry'::regclass END FROM ex_info),
                         (SELECT period_end FROM ex_period))$$,
  $$SELECT recipient, bonus, source, level, base, round(rate, 20), amount FROM exp_lines$$,
  'reference lines: ' || :'dir');

-- Negative payouts (clawbacks) round away from zero with half_up, to even
-- with half_even; personal rate_by_rank.
CREATE TEMP TABLE hc_m2 (id bigint, sponsor_id bigint);
INSERT INTO hc_m2 VALUES (10, NULL), (11, 10), (12, 10);
CREATE TEMP TABLE hc_v2 (member_id bigint, pv numeric, cv numeric, rv numeric);
INSERT INTO hc_v2 VALUES (10, 100, -10.50, 0), (11, 10, 10.30, 0), (11, 0, 0.20, 0), (12, 0, -10.70, 0);
SELECT bag_eq(
  $$SELECT member_id, bonus, amount FROM mlm_ref.payouts('{
      "ranks": [{"name": "Member"}, {"name": "Big", "min_pv": 100}],
      "bonuses": [{"name": "p", "type": "personal", "rate_by_rank": {"Member": 0.05, "Big": 0.15}}]}',
      'hc_m2', 'hc_v2')$$,
  $$VALUES (10::bigint, 'p'::text, -1.58), (11, 'p', 0.53), (12, 'p', -0.54)$$,
  'reference payouts: negative amounts, half_up');
SELECT bag_eq(
  $$SELECT member_id, bonus, amount FROM mlm_ref.payouts('{
      "currency": {"rounding": "half_even"},
      "ranks": [{"name": "Member"}, {"name": "Big", "min_pv": 100}],
      "bonuses": [{"name": "p", "type": "personal", "rate_by_rank": {"Member": 0.05, "Big": 0.15}}]}',
      'hc_m2', 'hc_v2')$$,
  $$VALUES (10::bigint, 'p'::text, -1.58), (11, 'p', 0.52), (12, 'p', -0.54)$$,
  'reference payouts: negative amounts, half_even');

-- Validation errors
CREATE TEMP TABLE hc_bad (id bigint, sponsor_id bigint);
INSERT INTO hc_bad VALUES (1, NULL), (2, 3), (3, 2);
SELECT throws_like($$SELECT * FROM mlm_ref.member_results('{}', 'hc_bad', 'hc_v2')$$,
  '%cycle%', 'reference rejects a sponsor cycle');
UPDATE hc_bad SET sponsor_id = 99 WHERE id = 2;
SELECT throws_like($$SELECT * FROM mlm_ref.members_of('hc_bad')$$,
  '%orphan%', 'reference rejects an orphan');
UPDATE hc_bad SET id = 1, sponsor_id = NULL WHERE id = 2;
SELECT throws_like($$SELECT * FROM mlm_ref.members_of('hc_bad')$$,
  '%duplicate%', 'reference rejects a duplicate id');
SELECT throws_like($$SELECT * FROM mlm_ref.volumes_of('hc_m2', 'hc_volumes')$$,
  '%non-member%', 'reference rejects volume rows of non-members');

SELECT * FROM finish();
ROLLBACK;
