-- test/pgtap/plan_v2_keys.sql
--
-- The plan keys of issue 16 (spec 5.4 "Per rank", 5.7 shares by volume,
-- 6 rounding "down"), every figure computed by hand:
--   * binary rate_by_rank and cycle amount_by_rank, read at the member's
--     rank (closest lower rank present, 0 below the lowest); a value of 0
--     at the member's rank means not qualified (no line; carry kept, or
--     flushed with flush_when_unqualified), while a plan-wide rate of 0
--     keeps the old rule (qualified, pays 0, carries what is not paired);
--   * pools split by CV and by GV: participants with a weight <= 0
--     excluded, floor units, leftover units to the largest remainders,
--     ties to the smaller id (even when it comes later in the tree);
--   * rounding "down" (toward zero) against half_up and half_even, on
--     positive and negative sums;
--   * plan_summary of the new keys, and validation errors with their paths.

\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off

BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(38);

CREATE FUNCTION pg_temp.problems(p jsonb) RETURNS text LANGUAGE sql AS $$
  SELECT string_agg(path || ': ' || message, ' | ' ORDER BY path, message) FROM mlm.validate_plan(p)
$$;

------------------------------------------------------------------------------
-- Binary by rank
--
-- Placement = sponsor tree: 1 -> 2 (L), 3 (R); 2 -> 4 (L), 5 (R);
-- 3 -> 6 (L), 7 (R).  Ranks: Member, Silver (PV >= 100), Gold (PV >= 200).
-- 1 is Gold, 2 Silver, 3 and the leaves Member.  Legs:
--   1: left 300 + 100 + 50 = 450, right 200 + 40 + 60 = 300
--   2: left 100, right 50;  3: left 40, right 60;  leaves: 0 / 0
-- 1, 2 and 3 each sponsored an active member in each leg.
------------------------------------------------------------------------------
CREATE TEMP TABLE bm (id bigint, sponsor_id bigint, placement_id bigint, position int);
INSERT INTO bm VALUES (1, NULL, NULL, NULL), (2, 1, 1, 0), (3, 1, 1, 1),
  (4, 2, 2, 0), (5, 2, 2, 1), (6, 3, 3, 0), (7, 3, 3, 1);
CREATE TEMP TABLE bv (member_id bigint, pv numeric, cv numeric);
INSERT INTO bv VALUES (1, 200, 0), (2, 100, 300), (3, 50, 200), (4, 10, 100),
  (5, 10, 50), (6, 10, 40), (7, 10, 60);

CREATE FUNCTION pg_temp.bplan(b jsonb) RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_build_object(
    'ranks', '[{"name": "Member"}, {"name": "Silver", "min_pv": 100}, {"name": "Gold", "min_pv": 200}]'::jsonb,
    'bonuses', jsonb_build_array(jsonb_build_object('name', 'bin', 'type', 'binary') || b))
$$;
CREATE FUNCTION pg_temp.blines(b jsonb) RETURNS text LANGUAGE sql AS $$
  SELECT coalesce(string_agg(format('%s:%s*%s=%s', member_id, base::numeric, rate::numeric, amount::numeric),
                             ' ' ORDER BY member_id), '')
    FROM mlm.lines(pg_temp.bplan(b), 'bm', 'bv', '2024-03-01', '2024-03-31')
$$;
CREATE FUNCTION pg_temp.bcarry(b jsonb) RETURNS text LANGUAGE sql AS $$
  SELECT coalesce(string_agg(format('%s:%s/%s', member_id, carry_left::numeric, carry_right::numeric),
                             ' ' ORDER BY member_id), '')
    FROM mlm.carry_out(pg_temp.bplan(b), 'bm', 'bv', '2024-03-01', '2024-03-31')
$$;

-- rate_by_rank: Member absent -> 0 -> 3 is not qualified
SELECT is(pg_temp.blines('{"rate_by_rank": {"Silver": 0.10, "Gold": 0.15}}'),
          '1:300.00*0.15=45.00 2:50.00*0.1=5.00',
          'rate_by_rank: Gold 15 % of 300, Silver 10 % of 50, Member (absent = 0) nothing');
SELECT is(pg_temp.bcarry('{"rate_by_rank": {"Silver": 0.10, "Gold": 0.15}}'),
          '1:150.00/0.00 2:50.00/0.00 3:40.00/60.00',
          'rate 0 at its rank: 3 is unqualified and keeps both legs');
SELECT is(pg_temp.bcarry('{"rate_by_rank": {"Silver": 0.10, "Gold": 0.15}, "flush_when_unqualified": true}'),
          '1:150.00/0.00 2:50.00/0.00',
          'and with flush_when_unqualified its legs are flushed');
SELECT is(pg_temp.blines('{"rate_by_rank": {"Member": 0.05, "Gold": 0.15}}'),
          '1:300.00*0.15=45.00 2:50.00*0.05=2.50 3:40.00*0.05=2.00',
          'a rank missing from rate_by_rank takes the closest lower rank present (Silver -> Member)');
SELECT is(pg_temp.bcarry('{"rate_by_rank": {"Member": 0.05, "Gold": 0.15}}'),
          '1:150.00/0.00 2:50.00/0.00 3:0.00/20.00',
          'qualified members carry what was not paired');
SELECT is(pg_temp.bcarry('{"rate_by_rank": {"Member": 0, "Silver": 0.10, "Gold": 0.15}, "flush_when_unqualified": true}'),
          '1:150.00/0.00 2:50.00/0.00',
          'an explicit 0 for a rank is unqualified too (flushed)');
SELECT is(pg_temp.bcarry('{"rate": 0, "flush_when_unqualified": true}'),
          '1:150.00/0.00 2:50.00/0.00 3:0.00/20.00',
          'a plan-wide rate 0 keeps the old rule: qualified, pays nothing, pairs and carries the rest');
SELECT is(pg_temp.blines('{"rate": 0}'), '', 'and makes no line');

-- cycle amount_by_rank: 100 left + 50 right
--   1 Gold: min(450/100, 300/50) = 4 cycles x 20 = 80, carries 50 / 100
--   2 Silver: min(100/100, 50/50) = 1 cycle x 10 = 10, carries 0 / 0
--   3 Member: 0 -> unqualified
SELECT is(pg_temp.blines('{"cycle": {"left": 100, "right": 50, "amount_by_rank": {"Silver": 10, "Gold": 20}}}'),
          '1:4*20=80.00 2:1*10=10.00',
          'amount_by_rank: 4 Gold cycles of 20, 1 Silver cycle of 10');
SELECT is(pg_temp.bcarry('{"cycle": {"left": 100, "right": 50, "amount_by_rank": {"Silver": 10, "Gold": 20}}}'),
          '1:50.00/100.00 3:40.00/60.00',
          'cycles use their volume; 3 (amount 0 at Member) keeps its legs');
SELECT is(pg_temp.bcarry('{"cycle": {"left": 100, "right": 50, "amount_by_rank": {"Silver": 10, "Gold": 20}},
                           "flush_when_unqualified": true}'),
          '1:50.00/100.00',
          'and loses them with flush_when_unqualified');
SELECT is(pg_temp.bcarry('{"cycle": {"left": 100, "right": 50, "amount": 0}, "flush_when_unqualified": true}'),
          '1:50.00/100.00 3:40.00/60.00',
          'a plan-wide cycle amount 0 keeps the old rule (3 is qualified, makes 0 cycles, nothing flushed)');
SELECT is((SELECT string_agg(member_id || ':' || amount, ' ' ORDER BY member_id)
             FROM mlm.payouts(pg_temp.bplan('{"rate_by_rank": {"Silver": 0.10, "Gold": 0.15}}'),
                              'bm', 'bv', '2024-03-01', '2024-03-31')),
          '1:45.00 2:5.00', 'payouts of rate_by_rank');

------------------------------------------------------------------------------
-- Pools by volume
--
-- Sponsor tree: 3 (root) -> 1, 2; 1 -> 5, 6; 2 -> 4; 6 -> 7.
-- Ranks: Member, Silver (PV >= 100): 3, 1, 2, 5, 6 are Silver.
--        PV     CV     GV
--   3    100    100    350 (100 + 150 + 100)
--   1    100    100    150 (100 + 100 + (-50))
--   2    100    200    100
--   4      0    43.45    0
--   5    100      0    100
--   6    100    -10    -50 (100 - 150)
--   7   -150      0   -150
-- TotalCV = 433.45.
-- By CV, 10 %: P = 43.345 -> 43.34 = 4334 cents; 5 (CV 0) and 6 (CV -10)
--   are excluded; W = 400: 3 gets 1083.5, 1 1083.5, 2 2167 -> floors 1083,
--   1083, 2167, one cent left, 3 and 1 tie (.5) -> 1 (smaller id, later in
--   the tree): 1 10.84, 2 21.67, 3 10.83.
-- By GV, 4.5 %: P = 19.50525 -> 19.50 = 1950 cents; 6 (GV -50) excluded;
--   W = 700: 3 975 (rem 0), 1 417 (rem 600/700), 2 278 (400/700), 5 278
--   (400/700); 1948 given, 2 left: 1, then the tie 2 / 5 -> 2:
--   3 9.75, 1 4.18, 2 2.79, 5 2.78.
------------------------------------------------------------------------------
CREATE TEMP TABLE pm (id bigint, sponsor_id bigint);
INSERT INTO pm VALUES (3, NULL), (1, 3), (2, 3), (5, 1), (6, 1), (4, 2), (7, 6);
CREATE TEMP TABLE pv_ (member_id bigint, pv numeric, cv numeric);
INSERT INTO pv_ VALUES (3, 100, 100), (1, 100, 100), (2, 100, 200), (4, 0, 43.45),
  (5, 100, 0), (6, 100, -10), (7, -150, 0);
\set pplan '{"ranks": [{"name": "Member"}, {"name": "Silver", "min_pv": 100}], "bonuses": [{"name": "by_cv", "type": "pool", "pct": 0.10, "min_rank": "Silver", "shares": {"by": "cv"}}, {"name": "by_gv", "type": "pool", "pct": 0.045, "min_rank": "Silver", "shares": {"by": "gv"}}]}'

SELECT is((SELECT string_agg(member_id || ':' || amount, ' ' ORDER BY member_id)
             FROM mlm.payouts(:'pplan', 'pm', 'pv_', '2024-03-01', '2024-03-31') WHERE bonus = 'by_cv'),
          '1:10.84 2:21.67 3:10.83', 'pool by CV: the leftover cent goes to the smaller id of a tie');
SELECT is((SELECT string_agg(member_id || ':' || amount, ' ' ORDER BY member_id)
             FROM mlm.payouts(:'pplan', 'pm', 'pv_', '2024-03-01', '2024-03-31') WHERE bonus = 'by_gv'),
          '1:4.18 2:2.79 3:9.75 5:2.78', 'pool by GV: largest remainder first, then the tie to the smaller id');
SELECT is((SELECT string_agg(format('%s:%s*%s', member_id, base::numeric, rate::numeric), ' ' ORDER BY member_id)
             FROM mlm.lines(:'pplan', 'pm', 'pv_', '2024-03-01', '2024-03-31') WHERE bonus = 'by_cv'),
          '1:43.34*0.25000000000000000000 2:43.34*0.50000000000000000000 3:43.34*0.25000000000000000000',
          'pool by CV lines: base P, rate CV / W');
SELECT is((SELECT array_agg(round(rate::numeric, 18) = round(w / 700.0, 18) ORDER BY member_id)
             FROM mlm.lines(:'pplan', 'pm', 'pv_', '2024-03-01', '2024-03-31') l
             JOIN (VALUES (1, 150), (2, 100), (3, 350), (5, 100)) g(id, w) ON g.id = l.member_id
            WHERE bonus = 'by_gv'),
          '{t,t,t,t}'::boolean[], 'pool by GV lines: rate GV / W');
SELECT is((SELECT sum(amount) FROM mlm.payouts(:'pplan', 'pm', 'pv_', '2024-03-01', '2024-03-31')),
          43.34 + 19.50, 'both pools are paid out to the cent');
SELECT is((SELECT count(*) FROM mlm.payouts(
             '{"ranks": [{"name": "Member"}, {"name": "Silver", "min_pv": 100}], "bonuses": [{"name": "p", "type": "pool", "pct": 0.10, "min_rank": "Silver", "shares": {"by": "cv"}}]}',
             'pm', 'pv_', '2024-03-01', '2024-03-31') WHERE member_id IN (5, 6)),
          0::bigint, 'participants with CV <= 0 share nothing');

------------------------------------------------------------------------------
-- Rounding down
--
-- Personal rate 1 at scale 0: the payout is the CV rounded.
--   CV      half_up  half_even  down
--   10.50     11        10        10
--   11.50     12        12        11
--  -10.50    -11       -10       -10
--   10.99     11        11        10
--  -10.99    -11       -11       -10
--    0.40    (0)       (0)       (0)   no row
-- Scale 2, rate 0.333: 10.50 -> 3.4965; -10.99 -> -3.65967.
------------------------------------------------------------------------------
CREATE TEMP TABLE rm (id bigint, sponsor_id bigint);
INSERT INTO rm SELECT i, NULL FROM generate_series(1, 6) i;
CREATE TEMP TABLE rv (member_id bigint, pv numeric, cv numeric);
INSERT INTO rv VALUES (1, 0, 10.50), (2, 0, 11.50), (3, 0, -10.50), (4, 0, 10.99), (5, 0, -10.99), (6, 0, 0.40);
CREATE FUNCTION pg_temp.rpaid(rounding text, scale int, rate numeric) RETURNS text LANGUAGE sql AS $$
  SELECT string_agg(member_id || ':' || amount, ' ' ORDER BY member_id)
    FROM mlm.payouts(jsonb_build_object('currency', jsonb_build_object('scale', scale, 'rounding', rounding),
                                        'ranks', '[{"name": "Member"}]'::jsonb,
                                        'bonuses', jsonb_build_array(jsonb_build_object(
                                          'name', 'retail', 'type', 'personal', 'rate', rate))),
                     'rm', 'rv', '2024-03-01', '2024-03-31')
$$;
SELECT is(pg_temp.rpaid('half_up', 0, 1), '1:11 2:12 3:-11 4:11 5:-11', 'half_up at scale 0');
SELECT is(pg_temp.rpaid('half_even', 0, 1), '1:10 2:12 3:-10 4:11 5:-11', 'half_even at scale 0');
SELECT is(pg_temp.rpaid('down', 0, 1), '1:10 2:11 3:-10 4:10 5:-10',
          'down at scale 0: toward zero, for negative amounts too; 0.40 makes no row');
SELECT is(pg_temp.rpaid('down', 2, 0.333), '1:3.49 2:3.82 3:-3.49 4:3.65 5:-3.65 6:0.13',
          'down at scale 2 (3.4965 -> 3.49, -3.65967 -> -3.65)');
SELECT is(pg_temp.rpaid('half_up', 2, 0.333), '1:3.50 2:3.83 3:-3.50 4:3.66 5:-3.66 6:0.13',
          'half_up at scale 2 for comparison');
SELECT is(pg_temp.rpaid('down', 6, 0.333), '1:3.496500 2:3.829500 3:-3.496500 4:3.659670 5:-3.659670 6:0.133200',
          'down changes nothing when the scale holds every digit');

------------------------------------------------------------------------------
-- plan_summary
------------------------------------------------------------------------------
SELECT is(mlm.plan_summary(pg_temp.bplan('{"rate_by_rank": {"Silver": 0.10, "Gold": 0.15}}'))->'bonuses'->0->'rate_by_rank',
          '[{"rank": "Member", "rate": "0"}, {"rank": "Silver", "rate": "0.1"}, {"rank": "Gold", "rate": "0.15"}]'::jsonb,
          'plan_summary expands binary rate_by_rank');
SELECT is(mlm.plan_summary(pg_temp.bplan('{"cycle": {"left": 100, "right": 50, "amount_by_rank": {"Silver": 10}}}'))->'bonuses'->0->'cycle',
          '{"left": "100", "right": "50", "amount_by_rank": [{"rank": "Member", "amount": "0"}, {"rank": "Silver", "amount": "10"}, {"rank": "Gold", "amount": "10"}]}'::jsonb,
          'plan_summary expands cycle amount_by_rank');
SELECT is(mlm.plan_summary(:'pplan')->'bonuses'->1->'shares', '{"by": "gv"}'::jsonb,
          'plan_summary shows shares by volume');
SELECT is(mlm.plan_summary('{"currency": {"rounding": "down"}, "ranks": [{"name": "M"}]}')->'currency',
          '{"scale": 2, "rounding": "down"}'::jsonb, 'plan_summary shows rounding down');

------------------------------------------------------------------------------
-- Validation, with paths
------------------------------------------------------------------------------
SELECT is(pg_temp.problems(pg_temp.bplan('{"rate": 0.1, "rate_by_rank": {"Gold": 0.1}}')),
          'bonuses[0]: "rate" and "rate_by_rank" may not both be given', 'rate and rate_by_rank');
SELECT is(pg_temp.problems(pg_temp.bplan('{"rate_by_rank": {"Gold": 0.1}, "cycle": {"left": 1, "right": 1, "amount": 1}}')),
          'bonuses[0]: "rate_by_rank" and "cycle" may not both be given', 'rate_by_rank and cycle');
SELECT is(pg_temp.problems(pg_temp.bplan('{}')),
          'bonuses[0]: one of "rate", "rate_by_rank" or "cycle" is required', 'none of them');
SELECT is(pg_temp.problems(pg_temp.bplan('{"rate_by_rank": {"Platinum": 0.1, "Gold": 1.5}}')),
          'bonuses[0].rate_by_rank.Gold: rate must be between 0 and 1 | '
          'bonuses[0].rate_by_rank.Platinum: rank "Platinum" does not exist',
          'rate_by_rank names existing ranks and holds rates');
SELECT is(pg_temp.problems(pg_temp.bplan('{"rate_by_rank": 0.1}')),
          'bonuses[0].rate_by_rank: rate_by_rank must be an object, not a number', 'rate_by_rank is an object');
SELECT is(pg_temp.problems(pg_temp.bplan('{"cycle": {"left": 1, "right": 1, "amount": 5, "amount_by_rank": {"Gold": 5}}}')),
          'bonuses[0].cycle: "amount" and "amount_by_rank" may not both be given', 'amount and amount_by_rank');
SELECT is(pg_temp.problems(pg_temp.bplan('{"cycle": {"left": 1, "right": 1}}')),
          'bonuses[0].cycle: one of "amount" or "amount_by_rank" is required', 'a cycle needs an amount');
SELECT is(pg_temp.problems(pg_temp.bplan('{"cycle": {"left": 1, "right": 1, "amount_by_rank": {"Gold": -5, "Iron": 1}}, "amount_by_rank": {}}')),
          'bonuses[0]: unknown key "amount_by_rank" | '
          'bonuses[0].cycle.amount_by_rank.Gold: amount must not be negative | '
          'bonuses[0].cycle.amount_by_rank.Iron: rank "Iron" does not exist',
          'amount_by_rank belongs in cycle, names existing ranks, holds amounts >= 0');
SELECT is(pg_temp.problems('{"ranks": [{"name": "M"}], "bonuses": [
            {"name": "a", "type": "pool", "pct": 0.1, "shares": {"by": "pv"}},
            {"name": "b", "type": "pool", "pct": 0.1, "shares": {"by": "cv", "M": 1}},
            {"name": "c", "type": "pool", "pct": 0.1, "shares": {"by": 1}}],
            "currency": {"rounding": "up"}}'),
          'bonuses[0].shares.by: unknown by "pv" (expected "cv" or "gv") | '
          'bonuses[1].shares: unknown key "M" | '
          'bonuses[2].shares.by: by must be a string, not a number | '
          'currency.rounding: unknown rounding "up" (expected "half_up", "half_even" or "down")',
          'shares by cv or gv only, nothing else in the object; rounding words');

SELECT * FROM finish();
ROLLBACK;
