-- test/pgtap/examples_v2.sql
--
-- The engine against the hand-checked examples of contract version 2
-- (copied into test/fixtures): e_ranks_across_periods (three months), f
-- (customers, the payables ledger) and g (binary by paid-as rank, pools by
-- volume, rounding down).  Every expected value is read from the fixtures'
-- expected/ files; none is the engine's own output.
--
--   1. previews with the state passed by hand (each folder's state.csv);
--   2. example e chained through the previews: month 2 on the state out
--      the engine computed for month 1, month 3 on that of month 2;
--   3. example e through three chained closes (opening state of the
--      source, finalize in order), the no-gap rule of finalize, a draft
--      previewing next month, and a plan version renaming a rank;
--   4. the validation errors of sections 12 and 13.2 and of the new plan
--      keys, each naming its members or path.

\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off

BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(5 * 8 + 2 * 8 + 14 + 4 + 16 + 5);

CREATE SCHEMA mlm_v2ex;

-- The 8 checks of one folder (ex_* and exp_* of load_example_v2.psql) on
-- the state relation st (NULL: none).
CREATE FUNCTION mlm_v2ex.check(label text, st regclass) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
  p   jsonb := (SELECT plan FROM ex_plan);
  d1  date := (SELECT period_start FROM ex_period);
  d2  date := (SELECT period_end FROM ex_period);
  tot jsonb := (SELECT totals FROM exp_totals);
  t   record;
BEGIN
  RETURN NEXT set_eq(
    format('SELECT member_id, bonus, amount FROM mlm.payouts(%L, %L, %L, %L, %L, %L)', p, 'ex_members', 'ex_volumes', d1, d2, st),
    'SELECT member_id, bonus, amount FROM exp_payouts', label || ': payouts');
  RETURN NEXT set_eq(
    format('SELECT member_id, pv, gv, active, rank, amount, qualified_rank, paid_as_rank, title_rank, grace, cpv, customers
              FROM mlm.member_results(%L, %L, %L, %L, %L, %L)', p, 'ex_members', 'ex_volumes', d1, d2, st),
    'SELECT member_id, pv, gv, active, rank, total, qualified_rank, paid_as_rank, title_rank, grace, cpv, customers FROM exp_members',
    label || ': member results with the three ranks, grace and customers');
  RETURN NEXT set_eq(
    format('SELECT member_id, bonus, source_id, level, base, round(rate, 20), amount
              FROM mlm.lines(%L, %L, %L, %L, %L, %L)', p, 'ex_members', 'ex_volumes', d1, d2, st),
    'SELECT recipient, bonus, source, level, base, round(rate, 20), amount FROM exp_lines',
    label || ': lines');
  RETURN NEXT set_eq(
    format('SELECT member_id, carry_left, carry_right FROM mlm.carry_out(%L, %L, %L, %L, %L, %L)', p, 'ex_members', 'ex_volumes', d1, d2, st),
    'SELECT member_id, carry_left, carry_right FROM exp_carry', label || ': carry out');
  RETURN NEXT set_eq(
    format('SELECT member_id, carry_left, carry_right, title_rank, paid_as_rank, grace, balance
              FROM mlm.state_out(%L, %L, %L, %L, %L, %L)', p, 'ex_members', 'ex_volumes', d1, d2, st),
    'SELECT member_id, carry_left, carry_right, title_rank, paid_as_rank, grace, balance FROM exp_state',
    label || ': state out');
  -- without payout the ledger pays what was earned (spec 13.1)
  RETURN NEXT set_eq(
    format('SELECT member_id, balance_in, earned, paid, balance_out FROM mlm.payables(%L, %L, %L, %L, %L, %L)', p, 'ex_members', 'ex_volumes', d1, d2, st),
    CASE WHEN p ? 'payout' THEN 'SELECT member_id, balance_in, earned, paid, balance_out FROM exp_payables'
         ELSE 'SELECT member_id, 0::numeric AS bi, total AS e, total AS p, 0::numeric AS bo FROM exp_members WHERE total <> 0' END,
    label || ': payables');
  SELECT * INTO t FROM mlm.totals(p, 'ex_members', 'ex_volumes', d1, d2, st);
  RETURN NEXT is(jsonb_build_object('total_cv', t.total_cv, 'total', t.total_paid, 'total_before_cap', t.total_before_cap,
                                    'bonuses', t.bonuses, 'bonuses_before_cap', t.bonuses_before_cap, 'cap_factor', t.cap_factor),
                 jsonb_build_object('total_cv', (tot->>'total_cv')::numeric, 'total', (tot->>'total')::numeric,
                                    'total_before_cap', (tot->>'total_before_cap')::numeric,
                                    'bonuses', (SELECT jsonb_object_agg(key, value::numeric) FROM jsonb_each_text(tot->'bonuses')),
                                    'bonuses_before_cap', (SELECT jsonb_object_agg(key, value::numeric) FROM jsonb_each_text(tot->'bonuses_before_cap')),
                                    'cap_factor', tot->'cap_factor'),
                 label || ': totals');
  RETURN NEXT is(ARRAY[t.balance_in, t.paid_out, t.balance_out],
                 CASE WHEN tot ? 'paid' THEN ARRAY[(tot->>'balance_in')::numeric, (tot->>'paid')::numeric, (tot->>'balance_out')::numeric]
                      ELSE ARRAY[0, (tot->>'total')::numeric, 0] END,
                 label || ': the ledger''s sums');
END $$;

CREATE FUNCTION mlm_v2ex.err(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE stmt;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  DECLARE d text;
  BEGIN
    GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
    RETURN SQLSTATE || ': ' || SQLERRM || ' / ' || coalesce(d, '');
  END;
END $$;

-- 1. each folder on its own state (5 x 8)
\set dir test/fixtures/e_ranks_across_periods/month1
\ir ../fixtures/load_example_v2.psql
SELECT mlm_v2ex.check('e month 1', :ex_state_arg);
\set dir test/fixtures/e_ranks_across_periods/month2
\ir ../fixtures/load_example_v2.psql
SELECT mlm_v2ex.check('e month 2', :ex_state_arg);
\set dir test/fixtures/e_ranks_across_periods/month3
\ir ../fixtures/load_example_v2.psql
SELECT mlm_v2ex.check('e month 3', :ex_state_arg);
\set dir test/fixtures/f_customers_ledger
\ir ../fixtures/load_example_v2.psql
SELECT mlm_v2ex.check('f', :ex_state_arg);
\set dir test/fixtures/g_rank_binary_pool_down
\ir ../fixtures/load_example_v2.psql
SELECT mlm_v2ex.check('g', :ex_state_arg);

-- 2. example e chained through the previews (2 x 3 on the engine's state)
\set dir test/fixtures/e_ranks_across_periods/month1
\ir ../fixtures/load_example_v2.psql
CREATE TEMP TABLE e_state_1 AS
  SELECT * FROM mlm.state_out((SELECT plan FROM ex_plan), 'ex_members', 'ex_volumes',
                              (SELECT period_start FROM ex_period), (SELECT period_end FROM ex_period), 'ex_state');
\set dir test/fixtures/e_ranks_across_periods/month2
\ir ../fixtures/load_example_v2.psql
SELECT mlm_v2ex.check('e month 2 on month 1''s computed state', 'e_state_1');
CREATE TEMP TABLE e_state_2 AS
  SELECT * FROM mlm.state_out((SELECT plan FROM ex_plan), 'ex_members', 'ex_volumes',
                              (SELECT period_start FROM ex_period), (SELECT period_end FROM ex_period), 'e_state_1');
\set dir test/fixtures/e_ranks_across_periods/month3
\ir ../fixtures/load_example_v2.psql
SELECT mlm_v2ex.check('e month 3 on month 2''s computed state', 'e_state_2');

-- 3. example e through three chained closes (14)
CREATE TABLE mlm_v2ex.members AS SELECT id, sponsor_id, active_status FROM ex_members;
CREATE TABLE mlm_v2ex.volumes (member_id bigint, pv numeric, cv numeric, period text);
CREATE TABLE mlm_v2ex.opening (member_id bigint, title_rank text, paid_as_rank text);
CREATE TEMP TABLE e_expected (month text, kind text, member_id bigint, a text, b text, c text, d text);
-- the expected payouts, member results and state of the loaded month
CREATE FUNCTION mlm_v2ex.expect(p_month text) RETURNS void LANGUAGE sql AS $$
  INSERT INTO e_expected
  SELECT p_month, 'payout', member_id, bonus, amount::text, NULL, NULL FROM exp_payouts
  UNION ALL SELECT p_month, 'member', member_id, rank, title_rank, qualified_rank, total::text FROM exp_members
  UNION ALL SELECT p_month, 'state', member_id, title_rank, paid_as_rank, grace::text, balance::text FROM exp_state
$$;
\set dir test/fixtures/e_ranks_across_periods/month1
\ir ../fixtures/load_example_v2.psql
INSERT INTO mlm_v2ex.opening SELECT member_id, title_rank, paid_as_rank FROM ex_state;
INSERT INTO mlm_v2ex.volumes SELECT member_id, pv, cv, '2024-01' FROM ex_volumes;
SELECT mlm_v2ex.expect('2024-01');
\set dir test/fixtures/e_ranks_across_periods/month2
\ir ../fixtures/load_example_v2.psql
INSERT INTO mlm_v2ex.volumes SELECT member_id, pv, cv, '2024-02' FROM ex_volumes;
SELECT mlm_v2ex.expect('2024-02');
\set dir test/fixtures/e_ranks_across_periods/month3
\ir ../fixtures/load_example_v2.psql
INSERT INTO mlm_v2ex.volumes SELECT member_id, pv, cv, '2024-03' FROM ex_volumes;
SELECT mlm_v2ex.expect('2024-03');
SELECT mlm.register_source('v2ex', 'mlm_v2ex.members', 'mlm_v2ex.volumes', 'period', carry => 'mlm_v2ex.opening');
SELECT mlm.add_plan_version('v2ex', (SELECT plan FROM ex_plan)) IS NOT NULL AS added \gset

-- what a run stored, in the shape of e_expected
CREATE FUNCTION mlm_v2ex.stored(p_label text) RETURNS TABLE(kind text, member_id bigint, a text, b text, c text, d text)
LANGUAGE sql AS $$
  SELECT 'payout', p.member_id, p.bonus, p.amount::text, NULL, NULL
    FROM mlm.run_payout p JOIN mlm.run r USING (run_id) WHERE r.plan_name = 'v2ex' AND r.period_label = p_label
  UNION ALL
  SELECT 'member', m.member_id, m.rank, m.title_rank, m.qualified_rank, m.amount::text
    FROM mlm.run_member m JOIN mlm.run r USING (run_id) WHERE r.plan_name = 'v2ex' AND r.period_label = p_label
  UNION ALL
  SELECT 'state', s.member_id, s.title_rank, s.paid_as_rank, s.grace::text, s.balance::text
    FROM mlm.run_state s JOIN mlm.run r USING (run_id) WHERE r.plan_name = 'v2ex' AND r.period_label = p_label
$$;

SELECT mlm.close('v2ex', '2024-01', '2024-01-01', '2024-01-31', 'v2ex') AS jan \gset
SELECT set_eq($$SELECT * FROM mlm_v2ex.stored('2024-01')$$,
              $$SELECT kind, member_id, a, b, c, d FROM e_expected WHERE month = '2024-01'$$,
              'close of January on the opening state: payouts, member results and state out as example e');
SELECT is((SELECT carry_from_run_id FROM mlm.run WHERE run_id = :jan), NULL, 'its state came from the opening relation');
SELECT lives_ok(format('SELECT mlm.finalize(%s)', :jan), 'January is finalized');
-- March closed before February: a draft on January's state (a preview of
-- a later month is allowed), but it cannot be finalized: a period is missing
SELECT mlm.close('v2ex', '2024-03', '2024-03-01', '2024-03-31', 'v2ex') AS mar \gset
SELECT is((SELECT carry_from_run_id FROM mlm.run WHERE run_id = :mar), :jan::bigint, 'a draft of March takes the state of January');
SELECT throws_ok(format('SELECT mlm.finalize(%s)', :mar), '55000', NULL,
                 'finalize refuses a draft whose state is not from the period just before');
SELECT throws_like(format('SELECT mlm.finalize(%s)', :mar),
                   '%state comes from period "2024-01"%, which ends on 2024-01-31, not on the day before 2024-03-01 starts%',
                   'and says which period its state came from');
SELECT lives_ok(format('SELECT mlm.discard_draft(%s)', :mar), 'the early draft is discarded');
SELECT mlm.close('v2ex', '2024-02', '2024-02-01', '2024-02-29', 'v2ex') AS feb \gset
SELECT set_eq($$SELECT * FROM mlm_v2ex.stored('2024-02')$$,
              $$SELECT kind, member_id, a, b, c, d FROM e_expected WHERE month = '2024-02'$$,
              'close of February on the state of January: as example e month 2');
SELECT lives_ok(format('SELECT mlm.finalize(%s)', :feb), 'February is finalized');
SELECT mlm.close('v2ex', '2024-03', '2024-03-01', '2024-03-31', 'v2ex') AS mar \gset
SELECT set_eq($$SELECT * FROM mlm_v2ex.stored('2024-03')$$,
              $$SELECT kind, member_id, a, b, c, d FROM e_expected WHERE month = '2024-03'$$,
              'close of March on the state of February: as example e month 3');
SELECT lives_ok(format('SELECT mlm.finalize(%s)', :mar), 'March is finalized: three periods chained');
SELECT is((SELECT array_agg(r.carry_from_run_id ORDER BY r.period_start) FROM mlm.run r WHERE r.plan_name = 'v2ex'),
          ARRAY[NULL, :jan, :feb]::bigint[], 'each run records the run its state came from');
-- a plan version that renames a rank the state still uses
SELECT mlm.add_plan_version('v2ex', replace((SELECT plan FROM ex_plan)::text, '"Silver"', '"Argent"')::jsonb) IS NOT NULL AS renamed \gset
INSERT INTO mlm_v2ex.volumes SELECT member_id, pv, cv, '2024-04' FROM mlm_v2ex.volumes WHERE period = '2024-03';
SELECT throws_ok($$SELECT mlm.close('v2ex', '2024-04', '2024-04-01', '2024-04-30', 'v2ex')$$, '22023',
                 'rank "Silver" of the previous state does not exist in the plan',
                 'a plan version that renamed a rank the state uses is refused, naming the rank');
SELECT is(mlm_v2ex.err($$SELECT mlm.close('v2ex', '2024-04', '2024-04-01', '2024-04-30', 'v2ex')$$),
          '22023: rank "Silver" of the previous state does not exist in the plan / Members: 2, 3, 9, 10.',
          'the error names the members whose state uses it');

-- example f closed, then April on the same volumes: the ledger's balances
-- chain through the finalized run (4); April by hand from March's balances
-- out: 3 on hold 30 + 30 = 60, 4 10 + 10 = 20 < 25, 6 6 < 25, 1 and 2 paid
\set dir test/fixtures/f_customers_ledger
\ir ../fixtures/load_example_v2.psql
CREATE TABLE mlm_v2ex.f_members AS SELECT * FROM ex_members;
CREATE TABLE mlm_v2ex.f_sales AS SELECT member_id, pv, cv, rv, '2024-03' AS period FROM ex_volumes
  UNION ALL SELECT member_id, pv, cv, rv, '2024-04' FROM ex_volumes;
CREATE TABLE mlm_v2ex.f_opening AS SELECT member_id, balance FROM ex_state;
SELECT mlm.register_source('v2f', 'mlm_v2ex.f_members', 'mlm_v2ex.f_sales', 'period', carry => 'mlm_v2ex.f_opening');
SELECT mlm.add_plan_version('v2f', (SELECT plan FROM ex_plan)) IS NOT NULL AS added \gset
SELECT mlm.finalize(mlm.close('v2f', '2024-03', '2024-03-01', '2024-03-31', 'v2f')) AS f_mar \gset
SELECT set_eq(format('SELECT member_id, balance_in, earned, paid, balance_out FROM mlm.run_payable WHERE run_id = %s', :f_mar),
              'SELECT member_id, balance_in, earned, paid, balance_out FROM exp_payables',
              'close of example f: the payables as expected');
SELECT is((SELECT ARRAY[balance_in, paid_out, balance_out, total_paid] FROM mlm.run_totals WHERE run_id = :f_mar),
          ARRAY[(SELECT (totals->>'balance_in')::numeric FROM exp_totals), (SELECT (totals->>'paid')::numeric FROM exp_totals),
                (SELECT (totals->>'balance_out')::numeric FROM exp_totals), (SELECT (totals->>'total')::numeric FROM exp_totals)],
          'run_totals: balances in, paid out, balances out and the total earned of example f');
SELECT mlm.close('v2f', '2024-04', '2024-04-01', '2024-04-30', 'v2f') AS f_apr \gset
SELECT set_eq(format('SELECT member_id, balance_in, earned, paid, balance_out FROM mlm.run_payable WHERE run_id = %s', :f_apr),
              $$VALUES (1::bigint, 0.00, 61.00, 61.00, 0.00), (2, 0.00, 30.00, 30.00, 0.00), (3, 30.00, 30.00, 0.00, 60.00),
                       (4, 10.00, 10.00, 0.00, 20.00), (6, 0.00, 6.00, 0.00, 6.00)$$,
              'April: March''s balances out are its balances in');
SELECT is((SELECT ARRAY[balance_in, paid_out, balance_out] FROM mlm.run WHERE run_id = :f_apr),
          ARRAY[40.00, 91.00, 86.00], 'April''s sums: 40.00 + 137.00 = 91.00 + 86.00');

-- 4. validation errors (16)
CREATE TABLE mlm_v2ex.m (id bigint, sponsor_id bigint, placement_id bigint, position int, member_type text);
CREATE TABLE mlm_v2ex.v (member_id bigint, pv numeric, cv numeric);
CREATE TABLE mlm_v2ex.s (member_id bigint, title_rank text, grace int, balance numeric);
\set p '{"ranks": [{"name": "Member"}, {"name": "Gold", "min_pv": 100}], "payout": {"min_payout": 10}, "bonuses": [{"name": "r", "type": "personal", "rate": 0.1}]}'
CREATE FUNCTION mlm_v2ex.run(p jsonb) RETURNS text LANGUAGE sql AS
  $$SELECT mlm_v2ex.err(format('SELECT count(*) FROM mlm.member_results(%L, %L, %L, %L, %L, %L)',
                               p, 'mlm_v2ex.m', 'mlm_v2ex.v', '2024-03-01', '2024-03-31', 'mlm_v2ex.s'))$$;
INSERT INTO mlm_v2ex.m VALUES (1, NULL, NULL, NULL, NULL), (2, 1, NULL, NULL, 'Customer'), (3, 1, NULL, NULL, 'reseller');
SELECT is(mlm_v2ex.run(:'p'), '22023: invalid member_type "Customer" / Members: 2, 3.',
          'member_type is distributor or customer, in lower case: the members are named');
TRUNCATE mlm_v2ex.m;
INSERT INTO mlm_v2ex.m VALUES (1, NULL, NULL, NULL, 'customer'), (2, 1, NULL, NULL, 'customer');
SELECT is(mlm_v2ex.run(:'p'), '22023: a customer cannot be a root of the sponsor tree / Customers without sponsor_id: 1.',
          'a customer is no root');
TRUNCATE mlm_v2ex.m;
INSERT INTO mlm_v2ex.m VALUES (1, NULL, NULL, NULL, NULL), (2, 1, NULL, NULL, 'customer'), (3, 2, NULL, NULL, 'distributor');
SELECT is(mlm_v2ex.run(:'p'), '22023: a customer can sponsor only customers / Distributors sponsored by a customer: 3.',
          'a customer sponsors only customers');
TRUNCATE mlm_v2ex.m;
INSERT INTO mlm_v2ex.m VALUES (1, NULL, NULL, NULL, NULL), (2, 1, 1, 0, 'customer');
SELECT is(mlm_v2ex.run(:'p'), '22023: a customer has no placement / Customers with a placement_id: 2.',
          'a customer has no placement');
TRUNCATE mlm_v2ex.m;
INSERT INTO mlm_v2ex.m VALUES (1, NULL, NULL, NULL, NULL), (2, 1, NULL, NULL, 'customer'), (3, 1, 2, 0, NULL);
SELECT is(mlm_v2ex.run(:'p'), '22023: a customer cannot be a placement parent / Members placed under a customer: 3.',
          'a customer is nobody''s placement parent');
TRUNCATE mlm_v2ex.m;
INSERT INTO mlm_v2ex.m VALUES (1, NULL, NULL, NULL, NULL), (2, 1, NULL, NULL, NULL), (3, 2, NULL, NULL, 'customer');
INSERT INTO mlm_v2ex.s VALUES (9, NULL, NULL, NULL);
SELECT is(mlm_v2ex.run(:'p'), '23503: state rows for ids that are not members / Unknown member ids: 9.', 'a state row of a non-member');
TRUNCATE mlm_v2ex.s;
INSERT INTO mlm_v2ex.s VALUES (1, 'Gold', 0, 0), (1, NULL, 0, 0);
SELECT is(mlm_v2ex.run(:'p'), '23505: more than one state row for a member / Member ids: 1.', 'two state rows for one member');
TRUNCATE mlm_v2ex.s;
INSERT INTO mlm_v2ex.s VALUES (1, 'Platinum', 0, 0), (3, 'Platinum', 0, 0);
SELECT is(mlm_v2ex.run(:'p'),
          '22023: rank "Platinum" of the previous state does not exist in the plan / Members: 1, 3.',
          'a rank the plan does not have, with its members');
TRUNCATE mlm_v2ex.s;
INSERT INTO mlm_v2ex.s VALUES (2, 'Gold', -1, 0);
SELECT is(mlm_v2ex.run(:'p'), '22023: negative grace in the previous state / Members: 2.', 'a negative grace');
TRUNCATE mlm_v2ex.s;
INSERT INTO mlm_v2ex.s VALUES (2, NULL, 0, 1.005);
SELECT is(mlm_v2ex.run(:'p'), '22023: a balance of the previous state has more decimals than the currency scale 2 / Members: 2.',
          'a balance must be money at the currency scale');
TRUNCATE mlm_v2ex.s;
-- a customer is no leg (spec 12), even for legs_with_rank of the first rank
TRUNCATE mlm_v2ex.m, mlm_v2ex.v, mlm_v2ex.s;
INSERT INTO mlm_v2ex.m VALUES (1, NULL, NULL, NULL, NULL), (2, 1, NULL, NULL, NULL), (3, 1, NULL, NULL, 'customer');
SELECT is((SELECT rank FROM mlm.member_results('{"ranks": [{"name": "Member"}, {"name": "Leader", "legs_with_rank": {"rank": "Member", "count": 2}}]}',
                                               'mlm_v2ex.m', 'mlm_v2ex.v', '2024-03-01', '2024-03-31') WHERE member_id = 1),
          'Member', 'legs_with_rank counts distributor legs only: one distributor and one customer below make no Leader');
-- a customer is never active, also in a plan without active.min_pv: it is
-- no active frontline member and no pool participant
INSERT INTO mlm_v2ex.v VALUES (1, 10, 100), (2, 10, 100), (3, 10, 100);
SELECT is((SELECT rank FROM mlm.member_results('{"ranks": [{"name": "Member"}, {"name": "Builder", "min_active_frontline": 2}]}',
                                               'mlm_v2ex.m', 'mlm_v2ex.v', '2024-03-01', '2024-03-31') WHERE member_id = 1),
          'Member', 'a customer is no active frontline member (no min_pv in the plan)');
SELECT set_eq($$SELECT member_id, amount FROM mlm.payouts('{"ranks": [{"name": "Member"}], "bonuses": [{"name": "pool", "type": "pool", "pct": 0.1}]}',
                                                          'mlm_v2ex.m', 'mlm_v2ex.v', '2024-03-01', '2024-03-31')$$,
              $$VALUES (1::bigint, 15.00), (2, 15.00)$$,
              'a customer shares no pool: 10% of 300 between the two distributors');
-- the v2 columns are part of the input contract: a registration checks them
CREATE TABLE mlm_v2ex.bad_m (id bigint, sponsor_id bigint, member_type integer);
SELECT throws_ok($$SELECT mlm.register_source('v2bad', 'mlm_v2ex.bad_m', 'mlm_v2ex.f_sales', 'period')$$, '42804',
                 'column "member_type" of members relation mlm_v2ex.bad_m has type integer',
                 'a registration refuses a member_type that is not text');
SELECT throws_ok($$SELECT * FROM mlm.payouts('{"ranks": [{"name": "M"}]}', 'mlm_v2ex.bad_m', 'mlm_v2ex.v', '2024-03-01', '2024-03-31')$$,
                 '42804', 'column "member_type" of members relation mlm_v2ex.bad_m has type integer',
                 'and so does a computation');
-- the plan keys, each error with its path
SELECT is((SELECT string_agg(path || ': ' || message, '; ') FROM mlm.validate_plan(
  '{"ranks": [{"name": "Member"}, {"name": "Gold"}], "bonuses": [{"name": "a", "type": "rank_advancement", "amounts": {"Member": 5, "Gold": 0}}]}')),
  'bonuses[0].amounts.Gold: amount must be greater than 0; bonuses[0].amounts.Member: amounts may not name the first rank "Member"',
  'rank_advancement: not the first rank, amounts above 0');
SELECT is((SELECT string_agg(path || ': ' || message, '; ') FROM mlm.validate_plan(
  '{"ranks": [{"name": "Member"}], "bonuses": [{"name": "a", "type": "rank_advancement", "amounts": {"Silver": 5}}]}')),
  'bonuses[0].amounts.Silver: rank "Silver" does not exist', 'rank_advancement: rank names exist');
SELECT is((SELECT string_agg(path || ': ' || message, '; ') FROM mlm.validate_plan(
  '{"ranks": [{"name": "Member"}], "rank_policy": {"grace_periods": 0}, "payout": {}}')),
  'rank_policy.grace_periods: grace_periods must be an integer between 1 and 1000; payout: missing required key "min_payout"',
  'rank_policy and payout');
SELECT is((SELECT string_agg(path || ': ' || message, '; ') FROM mlm.validate_plan(
  '{"ranks": [{"name": "Member"}, {"name": "G", "min_customer_share": 1.5, "min_customers": -1}], "bonuses": [{"name": "r", "type": "personal", "rate": 0.1, "volume": "mine"}]}')),
  'ranks[1].min_customer_share: min_customer_share must be between 0 and 1; ranks[1].min_customers: min_customers must be an integer between 0 and 2147483647; bonuses[0].volume: unknown volume "mine" (expected "all", "own" or "customer")',
  'customer requirements and the personal volume');
SELECT is((SELECT string_agg(path || ': ' || message, '; ') FROM mlm.validate_plan(
  '{"ranks": [{"name": "Member"}], "payout": {"min_payout": -1, "max": 3}}')),
  'payout: unknown key "max"; payout.min_payout: min_payout must not be negative',
  'payout: unknown keys and a negative minimum');
SELECT is(mlm.plan_summary('{"ranks": [{"name": "Member"}, {"name": "G"}], "rank_policy": {"grace_periods": 2}, "payout": {"min_payout": 25}, "bonuses": [{"name": "a", "type": "rank_advancement", "amounts": {"G": 100}}]}')
            - ARRAY['name', 'ranks', 'active', 'cap', 'currency', 'max_levels', 'binary_bonus', 'needs_placement', 'bonuses'],
          '{"payout": {"min_payout": "25"}, "rank_policy": {"grace_periods": 2}}'::jsonb,
          'plan_summary shows rank_policy and payout');

SELECT * FROM finish();
ROLLBACK;
