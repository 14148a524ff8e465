-- test/pgtap/hand_cases.sql
--
-- Small cases worked out by hand from the compensation contract, each
-- checked against the engine (schema mlm) AND the plain-SQL reference
-- (test/reference/reference.sql, schema mlm_ref): the bonus types and rules
-- that the examples of test/fixtures reach only partly or not at all
-- (differential with breakaway and min_rank_by_generation, fast start at the
-- edges of its window, pools by rank and equal with remainder ties,
-- matching of two bonuses on rounded payouts, the binary cap compared with
-- the exact amount, max_leg_pct, the total cap at T = L and with a
-- negative limit).  The expected rows are written out below with the
-- working; neither implementation's output is pasted in.
--
-- Run from the repository root, in a database where pgtap and mlm are
-- installed:
--   pg_prove -d <db> test/pgtap/hand_cases.sql

\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off

BEGIN;
\i test/reference/reference.sql

SELECT plan(44);

CREATE SCHEMA hc;

-- the plans of the cases, by letter (psql variables do not reach into
-- dollar-quoted strings)
CREATE TEMP TABLE hc_plans (k text PRIMARY KEY, plan jsonb);
CREATE FUNCTION hc.p(k text) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT plan FROM hc_plans WHERE hc_plans.k = p.k
$$;

-- The engine and the reference on one period, March 2024.
CREATE FUNCTION hc.eng_lines(plan jsonb, m regclass, v regclass, carry regclass DEFAULT NULL)
RETURNS TABLE(recipient bigint, bonus text, source bigint, level integer,
              base numeric, rate numeric, amount numeric)
LANGUAGE sql AS $$
  SELECT * FROM mlm.lines(plan, m, v, '2024-03-01', '2024-03-31', carry)
$$;
CREATE FUNCTION hc.ref_lines(plan jsonb, m regclass, v regclass, carry regclass DEFAULT NULL)
RETURNS TABLE(recipient bigint, bonus text, source bigint, level integer,
              base numeric, rate numeric, amount numeric)
LANGUAGE sql AS $$
  SELECT * FROM mlm_ref.lines(plan, m, v, carry, '2024-03-31')
$$;
CREATE FUNCTION hc.eng_pay(plan jsonb, m regclass, v regclass, carry regclass DEFAULT NULL)
RETURNS TABLE(member_id bigint, bonus text, amount numeric)
LANGUAGE sql AS $$
  SELECT * FROM mlm.payouts(plan, m, v, '2024-03-01', '2024-03-31', carry)
$$;
CREATE FUNCTION hc.ref_pay(plan jsonb, m regclass, v regclass, carry regclass DEFAULT NULL)
RETURNS TABLE(member_id bigint, bonus text, amount numeric)
LANGUAGE sql AS $$
  SELECT * FROM mlm_ref.payouts(plan, m, v, carry, '2024-03-31')
$$;

------------------------------------------------------------------------------
-- Differential (5.3): the example of the contract, then breakaway,
-- generations and min_rank_by_generation
------------------------------------------------------------------------------
-- 1 sponsors 2, 2 sponsors 3, 3 sponsors 4; CV(4) = 100, no other CV.
-- Ranks by PV: R05 (5) .. R25 (25); rates R05 .05, R10 .10, R15 .15,
-- R20 .20 (R25 takes .20 from R20); breakaway rank R20; one generation at
-- .06.
CREATE TEMP TABLE d_m (id bigint, sponsor_id bigint);
INSERT INTO d_m VALUES (1, NULL), (2, 1), (3, 2), (4, 3);
CREATE TEMP TABLE d_v (member_id bigint, pv numeric, cv numeric);
INSERT INTO d_v VALUES (1, 20, 0), (2, 15, 0), (3, 10, 0), (4, 5, 100);
\set d_plan '{"ranks": [{"name": "Member"}, {"name": "R05", "min_pv": 5}, {"name": "R10", "min_pv": 10}, {"name": "R15", "min_pv": 15}, {"name": "R20", "min_pv": 20}, {"name": "R25", "min_pv": 25}], "bonuses": [{"name": "ds", "type": "differential", "rate_by_rank": {"R05": 0.05, "R10": 0.10, "R15": 0.15, "R20": 0.20}, "breakaway_rank": "R20", "generation_rates": [0.06]}]}'
INSERT INTO hc_plans VALUES ('d', :'d_plan');

-- Ranks 1 R20, 2 R15, 3 R10, 4 R05: each pays the .05 gap on 100; 1 holds
-- the breakaway rank (gen becomes 1 after it) and there is nobody above.
\set want 'VALUES (4::bigint, ''ds''::text, 4::bigint, 0, 100::numeric, 0.05::numeric, 5::numeric), (3, ''ds'', 4, 1, 100, 0.05, 5), (2, ''ds'', 4, 2, 100, 0.05, 5), (1, ''ds'', 4, 3, 100, 0.05, 5)'
SELECT bag_eq($$SELECT * FROM hc.eng_lines(hc.p('d'), 'd_m', 'd_v')$$, :'want',
  'differential, the example of 5.3: engine lines (level = depth difference)');
SELECT bag_eq($$SELECT * FROM hc.ref_lines(hc.p('d'), 'd_m', 'd_v')$$, :'want',
  'differential, the example of 5.3: reference lines');

-- 2 reaches R20 too (PV 20): 2 takes .20 - .10 = .10 (10.00) and starts
-- the generations; 1, the first breakaway member above, gets generation 1
-- (level 1, rate .06: 6.00) and no differential (.20 is paid already).
UPDATE d_v SET pv = 20 WHERE member_id = 2;
\set want 'VALUES (4::bigint, ''ds''::text, 4::bigint, 0, 100::numeric, 0.05::numeric, 5::numeric), (3, ''ds'', 4, 1, 100, 0.05, 5), (2, ''ds'', 4, 2, 100, 0.10, 10), (1, ''ds'', 4, 1, 100, 0.06, 6)'
SELECT bag_eq($$SELECT * FROM hc.eng_lines(hc.p('d'), 'd_m', 'd_v')$$, :'want',
  'differential with a breakaway generation: engine lines');
SELECT bag_eq($$SELECT * FROM hc.ref_lines(hc.p('d'), 'd_m', 'd_v')$$, :'want',
  'differential with a breakaway generation: reference lines');

-- min_rank_by_generation ["R25"]: 1 (R20) no longer gets generation 1.
\set want 'VALUES (4::bigint, ''ds''::text, 4::bigint, 0, 100::numeric, 0.05::numeric, 5::numeric), (3, ''ds'', 4, 1, 100, 0.05, 5), (2, ''ds'', 4, 2, 100, 0.10, 10)'
SELECT bag_eq($$SELECT * FROM hc.eng_lines(jsonb_set(hc.p('d'), '{bonuses,0,min_rank_by_generation}', '["R25"]'), 'd_m', 'd_v')$$,
  :'want', 'differential, min_rank_by_generation not met: engine lines');
SELECT bag_eq($$SELECT * FROM hc.ref_lines(jsonb_set(hc.p('d'), '{bonuses,0,min_rank_by_generation}', '["R25"]'), 'd_m', 'd_v')$$,
  :'want', 'differential, min_rank_by_generation not met: reference lines');

-- ... and with 1 at R25 (PV 25, rate .20 by expansion) it is paid again.
UPDATE d_v SET pv = 25 WHERE member_id = 1;
\set want 'VALUES (4::bigint, ''ds''::text, 4::bigint, 0, 100::numeric, 0.05::numeric, 5::numeric), (3, ''ds'', 4, 1, 100, 0.05, 5), (2, ''ds'', 4, 2, 100, 0.10, 10), (1, ''ds'', 4, 1, 100, 0.06, 6)'
SELECT bag_eq($$SELECT * FROM hc.eng_lines(jsonb_set(hc.p('d'), '{bonuses,0,min_rank_by_generation}', '["R25"]'), 'd_m', 'd_v')$$,
  :'want', 'differential, min_rank_by_generation met: engine lines');
SELECT bag_eq($$SELECT * FROM hc.ref_lines(jsonb_set(hc.p('d'), '{bonuses,0,min_rank_by_generation}', '["R25"]'), 'd_m', 'd_v')$$,
  :'want', 'differential, min_rank_by_generation met: reference lines');

-- An empty rate_by_rank is 0 for every rank: no line at all (4 still
-- holds no breakaway rank, 2 and 1 do, but generations are only paid on a
-- walk, and the walk pays nothing).
SELECT is_empty($$SELECT * FROM hc.eng_lines(jsonb_set(hc.p('d'), '{bonuses,0,rate_by_rank}', '{}'), 'd_m', 'd_v')
                   WHERE level = 0 OR rate <> 0.06$$,
  'differential, empty rate_by_rank: engine pays no differential line');
SELECT is_empty($$SELECT * FROM hc.ref_lines(jsonb_set(hc.p('d'), '{bonuses,0,rate_by_rank}', '{}'), 'd_m', 'd_v')
                   WHERE level = 0 OR rate <> 0.06$$,
  'differential, empty rate_by_rank: reference pays no differential line');

-- Section 10: "An optional list given empty means the same as leaving it
-- out ("generation_rates": [] is G = 0)".
SELECT lives_ok($$SELECT * FROM hc.eng_lines(jsonb_set(hc.p('d'), '{bonuses,0,generation_rates}', '[]'), 'd_m', 'd_v')$$,
  'differential, "generation_rates": [] (G = 0, section 10): the engine accepts the plan');
SELECT bag_eq($$SELECT * FROM hc.ref_lines(jsonb_set(hc.p('d'), '{bonuses,0,generation_rates}', '[]'), 'd_m', 'd_v')$$,
  $$SELECT * FROM hc.ref_lines(hc.p('d') #- '{bonuses,0,generation_rates}', 'd_m', 'd_v')$$,
  'differential, "generation_rates": [] is G = 0: reference lines as without the key');

------------------------------------------------------------------------------
-- Fast start (5.6): the edges of the window
------------------------------------------------------------------------------
-- Period end 2024-03-31, days 30, rates [.10, .05].  Root 10 (no joined);
-- 11 joined 03-01 (30 days before the end: not new), 12 joined 03-02 (29:
-- new), 13 joined 04-01 (after the end: not new), 14 under 12 joined
-- 03-31 (0 days: new), 15 inactive joined 03-15 (new: the source need not
-- be active), 16 under 15 joined 03-20 (its level 1, 15, is inactive: not
-- paid and no compression, so 10 is its level 2).
CREATE TEMP TABLE f_m (id bigint, sponsor_id bigint, active_status boolean, joined date);
INSERT INTO f_m VALUES (10, NULL, true, NULL), (11, 10, true, '2024-03-01'),
  (12, 10, true, '2024-03-02'), (13, 10, true, '2024-04-01'), (14, 12, true, '2024-03-31'),
  (15, 10, false, '2024-03-15'), (16, 15, true, '2024-03-20');
CREATE TEMP TABLE f_v (member_id bigint, pv numeric, cv numeric);
INSERT INTO f_v VALUES (11, 0, 100), (12, 0, 200), (13, 0, 300), (14, 0, 40), (15, 0, 100), (16, 0, 50);
\set f_plan '{"ranks": [{"name": "Member"}], "bonuses": [{"name": "fs", "type": "fast_start", "days": 30, "rates": [0.10, 0.05]}]}'
INSERT INTO hc_plans VALUES ('f', :'f_plan');
\set want 'VALUES (10::bigint, ''fs''::text, 12::bigint, 1, 200::numeric, 0.10::numeric, 20::numeric), (12, ''fs'', 14, 1, 40, 0.10, 4), (10, ''fs'', 14, 2, 40, 0.05, 2), (10, ''fs'', 15, 1, 100, 0.10, 10), (10, ''fs'', 16, 2, 50, 0.05, 2.5)'
SELECT bag_eq($$SELECT * FROM hc.eng_lines(hc.p('f'), 'f_m', 'f_v')$$, :'want', 'fast start window: engine lines');
SELECT bag_eq($$SELECT * FROM hc.ref_lines(hc.p('f'), 'f_m', 'f_v')$$, :'want', 'fast start window: reference lines');
\set want 'VALUES (10::bigint, ''fs''::text, 34.50::numeric), (12, ''fs'', 4.00)'
SELECT bag_eq($$SELECT * FROM hc.eng_pay(hc.p('f'), 'f_m', 'f_v')$$, :'want', 'fast start window: engine payouts');
SELECT bag_eq($$SELECT * FROM hc.ref_pay(hc.p('f'), 'f_m', 'f_v')$$, :'want', 'fast start window: reference payouts');

------------------------------------------------------------------------------
-- Pools (5.7): by rank with a remainder tie, equal with min_rank
------------------------------------------------------------------------------
-- Ranks Silver (PV 100), Gold (PV 200).  1 Gold, 2 and 3 Silver, 4 Member,
-- 5 Gold by PV but inactive.  TotalCV = 4 * 1000 + 333.33 = 4333.33, so
-- P = .01 * 4333.33 = 43.3333 truncated = 43.33 = 4333 units for each pool.
-- "pr" (min Silver, shares Silver 1, Gold 3; W = 5): 1: 4333 * 3 / 5 =
-- 2599.8 -> 2599, remainder 4/5; 2 and 3: 866.6 -> 866, remainder 3/5 each;
-- 2 units left: 1 (largest remainder) and 2 (tie with 3, smaller id):
-- 26.00, 8.67, 8.66.  "pe" (min Gold, equal): 1 alone gets 43.33.
CREATE TEMP TABLE p_m (id bigint, sponsor_id bigint, active_status boolean);
INSERT INTO p_m VALUES (1, NULL, true), (2, 1, true), (3, 1, true), (4, 2, true), (5, 3, false);
CREATE TEMP TABLE p_v (member_id bigint, pv numeric, cv numeric);
INSERT INTO p_v VALUES (1, 250, 1000), (2, 150, 1000), (3, 150, 1000), (4, 50, 1000), (5, 300, 333.33);
\set p_plan '{"ranks": [{"name": "Member"}, {"name": "Silver", "min_pv": 100}, {"name": "Gold", "min_pv": 200}], "bonuses": [{"name": "pr", "type": "pool", "pct": 0.01, "min_rank": "Silver", "shares": {"Silver": 1, "Gold": 3}}, {"name": "pe", "type": "pool", "pct": 0.01, "min_rank": "Gold", "shares": "equal"}]}'
INSERT INTO hc_plans VALUES ('p', :'p_plan');
\set want 'VALUES (1::bigint, ''pr''::text, NULL::bigint, NULL::integer, 43.33::numeric, 0.6::numeric, 26.00::numeric), (2, ''pr'', NULL, NULL, 43.33, 0.2, 8.67), (3, ''pr'', NULL, NULL, 43.33, 0.2, 8.66), (1, ''pe'', NULL, NULL, 43.33, 1, 43.33)'
SELECT bag_eq($$SELECT * FROM hc.eng_lines(hc.p('p'), 'p_m', 'p_v')$$, :'want', 'pools by rank and equal: engine lines');
SELECT bag_eq($$SELECT * FROM hc.ref_lines(hc.p('p'), 'p_m', 'p_v')$$, :'want', 'pools by rank and equal: reference lines');
\set want 'VALUES (1::bigint, ''pr''::text, 26.00::numeric), (2, ''pr'', 8.67), (3, ''pr'', 8.66), (1, ''pe'', 43.33)'
SELECT bag_eq($$SELECT * FROM hc.eng_pay(hc.p('p'), 'p_m', 'p_v')$$, :'want', 'pools by rank and equal: engine payouts');
SELECT bag_eq($$SELECT * FROM hc.ref_pay(hc.p('p'), 'p_m', 'p_v')$$, :'want', 'pools by rank and equal: reference payouts');

------------------------------------------------------------------------------
-- Matching (5.5) of two bonuses, on rounded payouts
------------------------------------------------------------------------------
-- 1 (Leader: PV 100) sponsors 2, 2 sponsors 3.  CV 2: 10.10, 3: 20.30.
-- personal .05: 2: 0.505 -> 0.51, 3: 1.015 -> 1.02 (half_up).
-- unilevel [.10]: 2 gets 2.03 (from 3), 1 gets 1.01 (from 2).
-- E(1) = 1.01, E(2) = 0.51 + 2.03 = 2.54, E(3) = 1.02.
-- match [.5, .2], min ranks [Member, Leader]: from 2: 1 gets .5 * 2.54 =
-- 1.27; from 3: 2 gets .5 * 1.02 = 0.51, 1 (Leader) .2 * 1.02 = 0.204.
-- Payouts match: 1: 1.474 -> 1.47, 2: 0.51.
CREATE TEMP TABLE m_m (id bigint, sponsor_id bigint);
INSERT INTO m_m VALUES (1, NULL), (2, 1), (3, 2);
CREATE TEMP TABLE m_v (member_id bigint, pv numeric, cv numeric);
INSERT INTO m_v VALUES (1, 100, 0), (2, 10, 10.10), (3, 10, 20.30);
\set m_plan '{"ranks": [{"name": "Member"}, {"name": "Leader", "min_pv": 100}], "bonuses": [{"name": "p", "type": "personal", "rate": 0.05}, {"name": "u", "type": "unilevel", "rates": [0.10]}, {"name": "m", "type": "matching", "of": ["p", "u"], "rates": [0.5, 0.2], "min_rank_by_generation": ["Member", "Leader"]}]}'
INSERT INTO hc_plans VALUES ('m', :'m_plan');
\set want 'VALUES (1::bigint, ''m''::text, 2::bigint, 1, 2.54::numeric, 0.5::numeric, 1.27::numeric), (2, ''m'', 3, 1, 1.02, 0.5, 0.51), (1, ''m'', 3, 2, 1.02, 0.2, 0.204)'
SELECT bag_eq($$SELECT * FROM hc.eng_lines(hc.p('m'), 'm_m', 'm_v') WHERE bonus = 'm'$$, :'want',
  'matching of two bonuses: engine lines');
SELECT bag_eq($$SELECT * FROM hc.ref_lines(hc.p('m'), 'm_m', 'm_v') WHERE bonus = 'm'$$, :'want',
  'matching of two bonuses: reference lines');
\set want 'VALUES (2::bigint, ''p''::text, 0.51::numeric), (3, ''p'', 1.02), (2, ''u'', 2.03), (1, ''u'', 1.01), (1, ''m'', 1.47), (2, ''m'', 0.51)'
SELECT bag_eq($$SELECT * FROM hc.eng_pay(hc.p('m'), 'm_m', 'm_v')$$, :'want', 'matching of two bonuses: engine payouts');
SELECT bag_eq($$SELECT * FROM hc.ref_pay(hc.p('m'), 'm_m', 'm_v')$$, :'want', 'matching of two bonuses: reference payouts');

------------------------------------------------------------------------------
-- Binary cap (5.4, 10): compared with the exact amount
------------------------------------------------------------------------------
-- 1 places its sponsored 2 left (CV 1.000001) and 3 right (CV 2).  Rate
-- 0.999999000001: paired 1.000001, exact amount 1.000001 * 0.999999000001
-- = 1.000000000000000001 (= (10^18 + 1) / 10^18), one 10^-18 above a cap
-- of 1: the line is capped to 1 (its base and rate kept); with cap 2 it
-- keeps its exact amount.  Carry-out of 1: left 0, right 0.999999.
CREATE TEMP TABLE b_m (id bigint, sponsor_id bigint, placement_id bigint, "position" integer);
INSERT INTO b_m VALUES (1, NULL, NULL, NULL), (2, 1, 1, 0), (3, 1, 1, 1);
CREATE TEMP TABLE b_v (member_id bigint, pv numeric, cv numeric);
INSERT INTO b_v VALUES (2, 0, 1.000001), (3, 0, 2);
\set b_plan '{"ranks": [{"name": "Member"}], "bonuses": [{"name": "bin", "type": "binary", "rate": 0.999999000001, "cap": 1}]}'
INSERT INTO hc_plans VALUES ('b', :'b_plan');
\set want 'VALUES (1::bigint, ''bin''::text, NULL::bigint, NULL::integer, 1.000001::numeric, 0.999999000001::numeric, 1::numeric)'
SELECT bag_eq($$SELECT * FROM hc.eng_lines(hc.p('b'), 'b_m', 'b_v')$$, :'want', 'binary cap one 10^-18 below the exact amount: engine line');
SELECT bag_eq($$SELECT * FROM hc.ref_lines(hc.p('b'), 'b_m', 'b_v')$$, :'want', 'binary cap one 10^-18 below the exact amount: reference line');
\set want 'VALUES (1::bigint, ''bin''::text, NULL::bigint, NULL::integer, 1.000001::numeric, 0.999999000001::numeric, 1.000000000000000001::numeric)'
SELECT bag_eq($$SELECT * FROM hc.eng_lines(jsonb_set(hc.p('b'), '{bonuses,0,cap}', '2'), 'b_m', 'b_v')$$, :'want', 'binary cap above the exact amount: engine line');
SELECT bag_eq($$SELECT * FROM hc.ref_lines(jsonb_set(hc.p('b'), '{bonuses,0,cap}', '2'), 'b_m', 'b_v')$$, :'want', 'binary cap above the exact amount: reference line');
SELECT bag_eq($$SELECT * FROM mlm.carry_out(hc.p('b'), 'b_m', 'b_v', '2024-03-01', '2024-03-31')$$,
  $$VALUES (1::bigint, 0::numeric, 0.999999::numeric)$$, 'binary cap: engine carry-out (the whole paired volume is used)');
SELECT bag_eq($$SELECT member_id, carry_left, carry_right FROM mlm_ref.binary(hc.p('b'), 'bin', 'b_m', 'b_v')
                 WHERE carry_left <> 0 OR carry_right <> 0$$,
  $$VALUES (1::bigint, 0::numeric, 0.999999::numeric)$$, 'binary cap: reference carry-out');
-- rate .10, cap 50: legs 600 / 700 pair 600, 60.00 capped to 50.00;
-- carry 0 / 100.
UPDATE b_v SET cv = 600 WHERE member_id = 2;
UPDATE b_v SET cv = 700 WHERE member_id = 3;
\set want 'VALUES (1::bigint, ''bin''::text, 50.00::numeric)'
SELECT bag_eq($$SELECT * FROM hc.eng_pay('{"ranks": [{"name": "M"}], "bonuses": [{"name": "bin", "type": "binary", "rate": 0.10, "cap": 50}]}', 'b_m', 'b_v')$$,
  :'want', 'binary cap 50 on 60.00: engine payout');
SELECT bag_eq($$SELECT * FROM hc.ref_pay('{"ranks": [{"name": "M"}], "bonuses": [{"name": "bin", "type": "binary", "rate": 0.10, "cap": 50}]}', 'b_m', 'b_v')$$,
  :'want', 'binary cap 50 on 60.00: reference payout');
SELECT bag_eq($$SELECT * FROM mlm.carry_out('{"ranks": [{"name": "M"}], "bonuses": [{"name": "bin", "type": "binary", "rate": 0.10, "cap": 50}]}', 'b_m', 'b_v', '2024-03-01', '2024-03-31')$$,
  $$VALUES (1::bigint, 0::numeric, 100::numeric)$$, 'binary cap 50 on 60.00: engine carry-out');

------------------------------------------------------------------------------
-- Ranks with max_leg_pct (section 4) against the engine
------------------------------------------------------------------------------
--   sponsor tree: 1 <- 2, 3, 8; 2 <- 4, 5; 3 <- 6; 6 <- 7; 4 <- 9
--   pv: 1:100 2:50 3:50 4:200 5:-30 6:60 7:500 8:1000 9:40
--   status: 8 false, 9 NULL (= true); active.min_pv 40, so 5 is inactive
--   GV: 9:40 4:240 5:-30 2:260 7:500 6:560 3:610 8:1000 1:1970
--   Silver = QGV 500 with max_leg_pct 0.5 (legs capped at 250).
--   7: Star (Silver too, Star is higher); 4: Star; 6: QGV 60 + min(500,
--   250) = 310: Member; 3: 50 + min(560, 250) = 300: Member; 9: Member;
--   2: Bronze no (4 active, 5 not), Silver 50 + 240 - 30 = 260 no (a
--   negative leg lowers QGV), Gold 1 leg no -> Member; 5, 8 inactive;
--   1: Silver 100 + 250 + 250 + 250 = 850 yes, Gold legs 2 (4 Star) and 3
--   (7 Star) yes, Star no -> Gold.
-- Without max_leg_pct 6 (560) and 3 (610) are Silver.
CREATE TEMP TABLE r_m (id bigint, sponsor_id bigint, active_status boolean);
INSERT INTO r_m VALUES (1, NULL, true), (2, 1, true), (3, 1, true), (4, 2, true),
  (5, 2, true), (6, 3, true), (7, 6, true), (8, 1, false), (9, 4, NULL);
CREATE TEMP TABLE r_v (member_id bigint, pv numeric, cv numeric);
INSERT INTO r_v VALUES (1, 100, 0), (2, 50, 0), (3, 50, 0), (4, 150, 0),
  (4, 50, 0), (5, -30, 0), (6, 60, 0), (7, 500, 0), (8, 1000, 0), (9, 40, 0);
\set r_plan '{"active": {"min_pv": 40}, "ranks": [{"name": "Member"}, {"name": "Bronze", "min_active_frontline": 2}, {"name": "Silver", "min_gv": 500, "max_leg_pct": 0.5}, {"name": "Gold", "legs_with_rank": {"rank": "Silver", "count": 2}}, {"name": "Star", "min_pv": 150}]}'
INSERT INTO hc_plans VALUES ('r', :'r_plan');
\set want 'VALUES (1::bigint, 1970::numeric, true, ''Gold''::text), (2, 260, true, ''Member''), (3, 610, true, ''Member''), (4, 240, true, ''Star''), (5, -30, false, ''Member''), (6, 560, true, ''Member''), (7, 500, true, ''Star''), (8, 1000, false, ''Member''), (9, 40, true, ''Member'')'
SELECT set_eq($$SELECT member_id, gv, active, rank FROM mlm.member_results(hc.p('r'), 'r_m', 'r_v', '2024-03-01', '2024-03-31')$$,
  :'want', 'ranks with max_leg_pct: engine');
SELECT set_eq($$SELECT member_id, gv, active, rank FROM mlm_ref.member_results(hc.p('r'), 'r_m', 'r_v')$$,
  :'want', 'ranks with max_leg_pct: reference');
\set want 'VALUES (1::bigint, ''Gold''::text), (2, ''Member''), (3, ''Silver''), (4, ''Star''), (5, ''Member''), (6, ''Silver''), (7, ''Star''), (8, ''Member''), (9, ''Member'')'
SELECT set_eq($$SELECT member_id, rank FROM mlm.member_results(hc.p('r') #- '{ranks,2,max_leg_pct}', 'r_m', 'r_v', '2024-03-01', '2024-03-31')$$,
  :'want', 'ranks, the same without max_leg_pct: engine');
SELECT set_eq($$SELECT member_id, rank FROM mlm_ref.member_results(hc.p('r') #- '{ranks,2,max_leg_pct}', 'r_m', 'r_v')$$,
  :'want', 'ranks, the same without max_leg_pct: reference');

------------------------------------------------------------------------------
-- The total cap (7): T = L exactly, and a negative limit
------------------------------------------------------------------------------
-- One member, CV 100, personal .10: T = 10.00; cap .10: L = 10.00.  The
-- cap applies only when T > L: no factor, nothing reduced.
CREATE TEMP TABLE c_m (id bigint, sponsor_id bigint, active_status boolean);
INSERT INTO c_m VALUES (1, NULL, true), (2, 1, false);
CREATE TEMP TABLE c_v (member_id bigint, pv numeric, cv numeric);
INSERT INTO c_v VALUES (1, 0, 100);
\set c_plan '{"ranks": [{"name": "M"}], "bonuses": [{"name": "p", "type": "personal", "rate": 0.10}], "cap": {"pct": 0.10}}'
INSERT INTO hc_plans VALUES ('c', :'c_plan');
SELECT ok((SELECT total_paid = 10 AND total_before_cap = 10 AND cap_limit = 10 AND cap_factor IS NULL
             FROM mlm.totals(:'c_plan', 'c_m', 'c_v', '2024-03-01', '2024-03-31')),
          'total cap at T = L: engine totals 10.00, limit 10.00, no factor');
SELECT ok((SELECT total_before_cap = 10 AND cap_limit = 10 AND cap_factor IS NULL
             FROM mlm_ref.cap_info(:'c_plan', 'c_m', 'c_v')),
          'total cap at T = L: reference cap numbers');
-- 2 (inactive, paid nothing) returns 400: TotalCV = 100 - 400 = -300, so
-- L = .10 * -300 < 0 -> 0; T = 10.00 > 0: f = 0, the payout of 1 becomes 0
-- and is not listed (section 8), 1's total is 0.
INSERT INTO c_v VALUES (2, 0, -400);
SELECT is_empty($$SELECT * FROM hc.eng_pay(hc.p('c'), 'c_m', 'c_v')$$,
  'total cap with a negative limit: the engine lists no payout capped to 0');
SELECT is_empty($$SELECT * FROM hc.ref_pay(hc.p('c'), 'c_m', 'c_v')$$,
  'total cap with a negative limit: the reference lists no payout capped to 0');
SELECT ok((SELECT total_paid = 0 AND total_before_cap = 10 AND cap_limit = 0 AND cap_factor = 0
             FROM mlm.totals(:'c_plan', 'c_m', 'c_v', '2024-03-01', '2024-03-31')),
          'total cap with a negative limit: engine totals 0, before the cap 10.00, limit 0, factor 0');
SELECT is((SELECT amount FROM mlm.member_results(:'c_plan', 'c_m', 'c_v', '2024-03-01', '2024-03-31')
            WHERE member_id = 1), 0.00,
          'total cap with a negative limit: engine member total 0');
SELECT ok((SELECT total_before_cap = 10 AND cap_limit = 0 AND cap_factor = 0
             FROM mlm_ref.cap_info(:'c_plan', 'c_m', 'c_v')),
          'total cap with a negative limit: reference cap numbers');

SELECT * FROM finish();
ROLLBACK;
