-- test/pgtap/plan_limits.sql
--
-- Plans are refused beyond documented limits (1000 levels or generations,
-- 100 ranks, 100 bonuses), with the JSON path; an optional list given empty
-- means the same as leaving it out (an empty generation_rates is G = 0, an
-- empty min_rank_by_level or min_rank_by_generation sets no rank
-- condition), while a list a bonus requires (rates, of) must not be empty;
-- the computing functions name a NULL argument (22004).

\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off

BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(16);

CREATE TEMP TABLE m AS SELECT i::bigint AS id, CASE WHEN i > 1 THEN i - 1 END::bigint AS sponsor_id
  FROM generate_series(1, 6) i;
CREATE TEMP TABLE v AS SELECT i::bigint AS member_id, (i * 50)::numeric AS pv, (i * 10)::numeric AS cv
  FROM generate_series(1, 6) i;

-- a plan with ranks that a differential and a unilevel use
CREATE FUNCTION pg_temp.plan(bonus jsonb) RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_build_object('ranks', '[{"name": "M"}, {"name": "S", "min_pv": 200}]'::jsonb,
                            'bonuses', jsonb_build_array(bonus))
$$;
CREATE FUNCTION pg_temp.paid(p jsonb) RETURNS text LANGUAGE sql AS $$
  SELECT string_agg(member_id || ':' || bonus || ':' || amount, ',' ORDER BY member_id, bonus)
    FROM mlm.payouts(p, 'm', 'v', '2024-03-01', '2024-03-31')
$$;
CREATE FUNCTION pg_temp.problems(p jsonb) RETURNS text LANGUAGE sql AS $$
  SELECT string_agg(path || ': ' || message, ' | ' ORDER BY path) FROM mlm.validate_plan(p)
$$;

-- empty optional lists
SELECT is(pg_temp.problems(pg_temp.plan('{"name": "d", "type": "differential", "rate_by_rank": {"M": 0.05, "S": 0.1},
                                          "generation_rates": [], "min_rank_by_generation": []}')),
          NULL, 'an empty generation_rates (without breakaway_rank) and min_rank_by_generation are valid');
SELECT is(pg_temp.paid(pg_temp.plan('{"name": "d", "type": "differential", "rate_by_rank": {"M": 0.05, "S": 0.1},
                                      "generation_rates": [], "min_rank_by_generation": []}')),
          pg_temp.paid(pg_temp.plan('{"name": "d", "type": "differential", "rate_by_rank": {"M": 0.05, "S": 0.1}}')),
          'and pay as if they were left out');
SELECT is(pg_temp.paid(pg_temp.plan('{"name": "u", "type": "unilevel", "rates": [0.1, 0.05], "min_rank_by_level": []}')),
          pg_temp.paid(pg_temp.plan('{"name": "u", "type": "unilevel", "rates": [0.1, 0.05]}')),
          'an empty min_rank_by_level sets no rank condition');
SELECT isnt(pg_temp.paid(pg_temp.plan('{"name": "u", "type": "unilevel", "rates": [0.1, 0.05]}')), NULL,
            '(that plan pays something)');
SELECT is(pg_temp.problems(pg_temp.plan('{"name": "u", "type": "unilevel", "rates": []}')),
          'bonuses[0].rates: rates must not be empty', 'a required list must not be empty');
SELECT is(pg_temp.problems('{"ranks": [{"name": "M"}], "bonuses": [{"name": "p", "type": "personal", "rate": 0.1},
                            {"name": "m", "type": "matching", "of": [], "rates": [0.1]}]}'),
          'bonuses[1].of: of must not be empty', 'of must not be empty');

-- limits
SELECT is(pg_temp.problems(pg_temp.plan(jsonb_build_object('name', 'u', 'type', 'unilevel',
            'rates', (SELECT jsonb_agg(0.001) FROM generate_series(1, 1000))))),
          NULL, '1000 levels are accepted');
SELECT is(pg_temp.problems(pg_temp.plan(jsonb_build_object('name', 'u', 'type', 'unilevel',
            'rates', (SELECT jsonb_agg(0.001) FROM generate_series(1, 1001))))),
          'bonuses[0].rates: rates has 1001 entries; at most 1000 are supported', '1001 levels are refused');
SELECT is(pg_temp.problems(pg_temp.plan(jsonb_build_object('name', 'u', 'type', 'unilevel',
            'rates', (SELECT jsonb_agg(0.000001) FROM generate_series(1, 1000000))))),
          'bonuses[0].rates: rates has 1000000 entries; at most 1000 are supported', 'a million rates are refused');
SELECT is(pg_temp.problems(jsonb_build_object('ranks', (SELECT jsonb_agg(jsonb_build_object('name', 'R' || i)) FROM generate_series(1, 101) i),
                                              'bonuses', '[]'::jsonb)),
          'ranks: ranks has 101 entries; at most 100 are supported', '101 ranks are refused');
SELECT is(pg_temp.problems(jsonb_build_object('ranks', '[{"name": "M"}]'::jsonb,
                                              'bonuses', (SELECT jsonb_agg(jsonb_build_object('name', 'p' || i, 'type', 'personal', 'rate', 0.01))
                                                            FROM generate_series(1, 101) i))),
          'bonuses: bonuses has 101 entries; at most 100 are supported', '101 bonuses are refused');
SELECT throws_ok($$SELECT * FROM mlm.payouts(jsonb_build_object('ranks', '[{"name": "M"}]'::jsonb, 'bonuses',
                    jsonb_build_array(jsonb_build_object('name', 'f', 'type', 'fast_start', 'days', 30,
                    'rates', (SELECT jsonb_agg(0.001) FROM generate_series(1, 5000))))), 'm', 'v', '2024-03-01', '2024-03-31')$$,
                 '22023', NULL, 'a computation refuses a plan beyond the limits');

-- NULL arguments of the computing functions
SELECT throws_ok($$SELECT * FROM mlm.payouts(NULL, 'm', 'v', '2024-03-01', '2024-03-31')$$,
                 '22004', 'argument plan must not be null', 'payouts: plan');
SELECT throws_ok($$SELECT * FROM mlm.compute('{"ranks": [{"name": "M"}], "bonuses": []}', 'm', 'v', '2024-03-01', NULL)$$,
                 '22004', 'argument period_end must not be null', 'compute: period_end');
SELECT throws_ok($$SELECT * FROM mlm.group_volume('m', NULL)$$,
                 '22004', 'argument volumes must not be null', 'group_volume: volumes');
SELECT throws_ok($$SELECT * FROM mlm.place_many((SELECT mlm.tree_agg(id, sponsor_id) FROM m), ARRAY[7], NULL)$$,
                 '22004', 'argument sponsor_ids must not be null', 'place_many: sponsor_ids');

SELECT * FROM finish();
ROLLBACK;
