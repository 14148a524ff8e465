-- test/pgtap/limits.sql
--
-- The range limit of the exact arithmetic: every operation that can go out
-- of range stops with SQLSTATE 22003 (numeric_value_out_of_range) and the
-- engine's message, and the values at the limit itself still compute.
-- Volumes and carry hold at most 6 decimals and 10^24 in magnitude; sums
-- of volumes stay below 10^30; an amount (a line, the sum of a member's
-- lines for a bonus, pct * TotalCV of a pool or of the total cap) stays
-- within 10^18 currency units; a rounded payout must fit in 64-bit
-- currency units (10^18 / 10^scale .. 9.2 * 10^18 / 10^scale).
--
-- Run from the repository root, in a database where pgtap and mlm are
-- installed:
--   pg_prove -d <db> test/pgtap/limits.sql

\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off

BEGIN;

SELECT plan(28);

-- 1 sponsors 2, 3 and 4; 2 and 3 are 1's left and right in the placement
-- tree; everybody joined in the period (fast start).
CREATE TEMP TABLE lm_m (id bigint, sponsor_id bigint, placement_id bigint, "position" integer,
                        joined date);
INSERT INTO lm_m VALUES (1, NULL, NULL, NULL, '2024-03-10'), (2, 1, 1, 0, '2024-03-10'),
  (3, 1, 1, 1, '2024-03-10'), (4, 1, NULL, NULL, '2024-03-10');
CREATE TEMP TABLE lm_v (member_id bigint, pv numeric, cv numeric);
CREATE TEMP TABLE lm_c (member_id bigint, carry_left numeric, carry_right numeric);

CREATE SCHEMA lm;
-- payouts of a plan with the given bonuses (ranks: one), March 2024
CREATE FUNCTION lm.pay(bonuses jsonb, extra jsonb DEFAULT '{}', carry regclass DEFAULT NULL)
RETURNS TABLE(member_id bigint, bonus text, amount numeric) LANGUAGE sql AS $$
  SELECT * FROM mlm.payouts(jsonb_build_object('ranks', '[{"name": "M"}]'::jsonb, 'bonuses', bonuses) || extra,
                            'lm_m', 'lm_v', '2024-03-01', '2024-03-31', carry)
$$;

------------------------------------------------------------------------------
-- Inputs
------------------------------------------------------------------------------
INSERT INTO lm_v VALUES (2, 0, 1000000000000000000000000);
SELECT lives_ok($$SELECT * FROM lm.pay('[]')$$, 'a volume of 10^24 is accepted');
TRUNCATE lm_v;
INSERT INTO lm_v VALUES (2, 0, 1000000000000000000000000.000001);
SELECT throws_ok($$SELECT * FROM lm.pay('[]')$$, '22003', 'cv of member 2 is too large',
  'a volume above 10^24: 22003');
SELECT throws_ok($$SELECT * FROM mlm.volume_summary('lm_m', 'lm_v')$$, '22003', 'cv of member 2 is too large',
  'volume_summary, a volume above 10^24: 22003');
TRUNCATE lm_v;
INSERT INTO lm_v VALUES (3, -1e25, 0);
SELECT throws_ok($$SELECT * FROM lm.pay('[]')$$, '22003', 'pv of member 3 is too large',
  'a negative volume below -10^24: 22003');
TRUNCATE lm_v;
INSERT INTO lm_v VALUES (2, 0, 1.0000001);
SELECT throws_ok($$SELECT * FROM lm.pay('[]')$$, '22003', 'cv of member 2 has more than 6 decimal places',
  'a volume with 7 decimals: 22003');
TRUNCATE lm_v;
INSERT INTO lm_c VALUES (1, 1e25, 0);
SELECT throws_ok($$SELECT * FROM lm.pay('[{"name": "b", "type": "binary", "rate": 0.5}]', '{}', 'lm_c')$$,
  '22003', 'carry_left of member 1 is too large', 'a carry-in above 10^24: 22003');

------------------------------------------------------------------------------
-- Sums of volumes (10^30): 1,000,001 rows of 10^24 for one member
------------------------------------------------------------------------------
INSERT INTO lm_v SELECT 4, 1e24, 0 FROM generate_series(1, 1000001);
SELECT throws_ok($$SELECT * FROM mlm.member_results('{"ranks": [{"name": "M"}]}', 'lm_m', 'lm_v', '2024-03-01', '2024-03-31')$$,
  '22003', 'amount out of range for exact commission arithmetic',
  'a member''s PV summed over its volume rows above 10^30: 22003');
-- 600,000 rows each for 4 and 1: each PV 6 * 10^29, GV(1) = 1.2 * 10^30
DELETE FROM lm_v WHERE ctid IN (SELECT ctid FROM lm_v LIMIT 400001);
INSERT INTO lm_v SELECT 1, 1e24, 0 FROM generate_series(1, 600000);
SELECT throws_ok($$SELECT * FROM mlm.volume_summary('lm_m', 'lm_v')$$,
  '22003', 'amount out of range for exact commission arithmetic',
  'volume_summary, a group volume above 10^30: 22003');
SELECT throws_ok($$SELECT * FROM mlm.member_results('{"ranks": [{"name": "M"}]}', 'lm_m', 'lm_v', '2024-03-01', '2024-03-31')$$,
  '22003', 'amount out of range for exact commission arithmetic',
  'member results, a group volume above 10^30: 22003');
TRUNCATE lm_v, lm_c;

------------------------------------------------------------------------------
-- Amounts (10^18): a line of each bonus type, the sum of lines, pools and
-- the total cap on pct * TotalCV
------------------------------------------------------------------------------
-- exactly 10^18 computes (scale 0: 10^18 units fit in 64 bits) ...
INSERT INTO lm_v VALUES (2, 0, 1000000000000000000);
SELECT results_eq($$SELECT amount FROM lm.pay('[{"name": "p", "type": "personal", "rate": 1}]', '{"currency": {"scale": 0}}')$$,
  $$VALUES (1000000000000000000::numeric)$$, 'a line of exactly 10^18 is paid');
-- ... 10^-6 more does not
UPDATE lm_v SET cv = 1000000000000000000.000001;
SELECT throws_ok($$SELECT * FROM lm.pay('[{"name": "p", "type": "personal", "rate": 1}]', '{"currency": {"scale": 0}}')$$,
  '22003', 'amount out of range for exact commission arithmetic', 'personal: a line above 10^18: 22003');
TRUNCATE lm_v;
INSERT INTO lm_v VALUES (2, 0, 1e19), (3, 0, 1e19);
SELECT throws_ok($$SELECT * FROM lm.pay('[{"name": "u", "type": "unilevel", "rates": [0.5]}]')$$,
  '22003', 'amount out of range for exact commission arithmetic', 'unilevel: a line above 10^18: 22003');
SELECT throws_ok($$SELECT * FROM lm.pay('[{"name": "d", "type": "differential", "rate_by_rank": {"M": 0.5}}]')$$,
  '22003', 'amount out of range for exact commission arithmetic', 'differential: a line above 10^18: 22003');
SELECT throws_ok($$SELECT * FROM lm.pay('[{"name": "f", "type": "fast_start", "days": 30, "rates": [0.5]}]')$$,
  '22003', 'amount out of range for exact commission arithmetic', 'fast start: a line above 10^18: 22003');
SELECT throws_ok($$SELECT * FROM lm.pay('[{"name": "b", "type": "binary", "rate": 0.5}]')$$,
  '22003', 'amount out of range for exact commission arithmetic', 'binary (rate): a line above 10^18: 22003');
SELECT throws_ok($$SELECT * FROM lm.pay('[{"name": "b", "type": "binary", "cycle": {"left": 1, "right": 1, "amount": 1}}]')$$,
  '22003', 'amount out of range for exact commission arithmetic', 'binary (cycle): a line above 10^18: 22003');
SELECT throws_ok($$SELECT * FROM lm.pay('[{"name": "pool", "type": "pool", "pct": 0.5}]')$$,
  '22003', 'amount out of range for exact commission arithmetic', 'pool: pct * TotalCV above 10^18: 22003');
SELECT throws_ok($$SELECT * FROM lm.pay('[{"name": "p", "type": "personal", "rate": 0.00001}]', '{"cap": {"pct": 0.5}}')$$,
  '22003', 'amount out of range for exact commission arithmetic', 'total cap: pct * TotalCV above 10^18: 22003');
-- matching: two payouts of 9 * 10^17 (scale 0) make E = 1.8 * 10^18
TRUNCATE lm_v;
INSERT INTO lm_v VALUES (2, 0, 1e18);
SELECT throws_ok($$SELECT * FROM lm.pay('[{"name": "p", "type": "personal", "rate": 0.9}, {"name": "q", "type": "personal", "rate": 0.9}, {"name": "x", "type": "matching", "of": ["p", "q"], "rates": [1]}]', '{"currency": {"scale": 0}}')$$,
  '22003', 'amount out of range for exact commission arithmetic', 'matching: a line above 10^18: 22003');
SELECT results_eq($$SELECT sum(amount) FROM lm.pay('[{"name": "p", "type": "personal", "rate": 0.9}, {"name": "q", "type": "personal", "rate": 0.9}, {"name": "x", "type": "matching", "of": ["p", "q"], "rates": [0.5]}]', '{"currency": {"scale": 0}}')$$,
  $$VALUES (2700000000000000000::numeric)$$, 'matching just below: payouts 9 * 10^17 + 9 * 10^17 + 9 * 10^17');
-- three lines of 6 * 10^17 for one member: each in range, their sum not
TRUNCATE lm_v;
INSERT INTO lm_v VALUES (2, 0, 6e17), (3, 0, 6e17), (4, 0, 6e17);
SELECT throws_ok($$SELECT * FROM lm.pay('[{"name": "u", "type": "unilevel", "rates": [1]}]')$$,
  '22003', 'amount out of range for exact commission arithmetic', 'a member''s sum of lines above 10^18: 22003');
SELECT results_eq($$SELECT amount FROM lm.pay('[{"name": "u", "type": "unilevel", "rates": [0.5]}]', '{"currency": {"scale": 0}}')$$,
  $$VALUES (900000000000000000::numeric)$$, 'the same at half the rate: 9 * 10^17');

------------------------------------------------------------------------------
-- Rounded payouts in 64-bit currency units
------------------------------------------------------------------------------
TRUNCATE lm_v;
INSERT INTO lm_v VALUES (2, 0, 2e17);
SELECT throws_ok($$SELECT * FROM lm.pay('[{"name": "p", "type": "personal", "rate": 0.5}]')$$,
  '22003', 'payout of member 2 is out of range', 'a payout of 10^17 at scale 2 (10^19 units): 22003');
SELECT results_eq($$SELECT amount FROM lm.pay('[{"name": "p", "type": "personal", "rate": 0.5}]', '{"currency": {"scale": 0}}')$$,
  $$VALUES (100000000000000000::numeric)$$, 'the same payout at scale 0');
UPDATE lm_v SET cv = 2e13;
SELECT throws_ok($$SELECT * FROM lm.pay('[{"name": "p", "type": "personal", "rate": 0.5}]', '{"currency": {"scale": 6}}')$$,
  '22003', 'payout of member 2 is out of range', 'a payout of 10^13 at scale 6 (10^19 units): 22003');

-- Two payouts of 5 * 10^12 at scale 6 (5 * 10^18 units each) fit; the
-- member's total of 10^13 (10^19 units) must be exact or an error.
UPDATE lm_v SET cv = 1e13;
SELECT results_eq($$SELECT sum(amount) FROM lm.pay('[{"name": "p", "type": "personal", "rate": 0.5}, {"name": "q", "type": "personal", "rate": 0.5}]', '{"currency": {"scale": 6}}')$$,
  $$VALUES (10000000000000::numeric)$$, 'two payouts of 5 * 10^12 at scale 6');
SELECT results_eq($$SELECT total_paid FROM mlm.totals('{"currency": {"scale": 6}, "ranks": [{"name": "M"}], "bonuses": [{"name": "p", "type": "personal", "rate": 0.5}, {"name": "q", "type": "personal", "rate": 0.5}]}', 'lm_m', 'lm_v', '2024-03-01', '2024-03-31')$$,
  $$VALUES (10000000000000::numeric)$$, 'their total in mlm.totals');
SELECT results_eq($$SELECT amount FROM mlm.member_results('{"currency": {"scale": 6}, "ranks": [{"name": "M"}], "bonuses": [{"name": "p", "type": "personal", "rate": 0.5}, {"name": "q", "type": "personal", "rate": 0.5}]}', 'lm_m', 'lm_v', '2024-03-01', '2024-03-31') WHERE member_id = 2$$,
  $$VALUES (10000000000000::numeric)$$, 'the member total of those two payouts (or 22003), not a wrapped-around number');

SELECT * FROM finish();
ROLLBACK;
