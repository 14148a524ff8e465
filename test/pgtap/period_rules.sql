-- test/pgtap/period_rules.sql
--
-- What a period is, so that no close computes a wrong number in silence:
--  * a timestamptz period column is cut at midnight in the source's time
--    zone, never the session's: one period closed under three session time
--    zones gives identical runs, and an order at 23:30 on the last evening
--    in the source's zone belongs to the period;
--  * a draft keeps its dates: closing it again with other dates fails,
--    naming both;
--  * finalize computes the input checksum again and refuses a draft whose
--    inputs changed since it was computed, unless told to accept them, which
--    the run records;
--  * every entry point answers a NULL argument with 22004 naming it.
-- Everything is rolled back.

\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off

BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(35);

CREATE SCHEMA pr;
CREATE TABLE pr.members AS
  SELECT i::bigint AS id, CASE WHEN i > 1 THEN i - 1 END::bigint AS sponsor_id FROM generate_series(1, 4) i;
-- orders with a time stamp: two near the end of March in Los Angeles
CREATE TABLE pr.orders (member_id bigint, pv numeric, cv numeric, ordered_at timestamptz);
INSERT INTO pr.orders VALUES
  (4, 100, 100, '2024-03-15 12:00 America/Los_Angeles'),
  (3, 200, 200, '2024-03-31 23:30 America/Los_Angeles'),   -- 2024-04-01 06:30 UTC: March in LA
  (2, 400, 400, '2024-04-01 00:30 America/Los_Angeles'),   -- April in LA, 07:30 UTC
  (4, 800, 800, '2024-02-29 23:59 America/Los_Angeles');   -- February in LA, March 1 in UTC
SELECT mlm.add_plan_version('pr', '{"ranks": [{"name": "M"}],
  "bonuses": [{"name": "u", "type": "unilevel", "rates": [0.10, 0.05]}]}') AS v \gset

SELECT lives_ok($$SELECT mlm.register_source('pr_la', 'pr.members', 'pr.orders', 'ordered_at', time_zone => 'America/Los_Angeles')$$,
                'a source records the time zone of its periods');
SELECT throws_ok($$SELECT mlm.register_source('pr_bad', 'pr.members', 'pr.orders', 'ordered_at', time_zone => 'Mars/Olympus')$$,
                 '22023', 'source "pr_bad": unknown time zone "Mars/Olympus"', 'an unknown time zone is refused');
SELECT mlm.register_source('pr_default', 'pr.members', 'pr.orders', 'ordered_at') AS s \gset
SELECT is((SELECT time_zone FROM mlm.source WHERE source_name = 'pr_default'),
          (SELECT reset_val FROM pg_settings WHERE name = 'TimeZone'),
          'without one, the database''s time zone is recorded');

-- the same period under three session time zones
CREATE TEMP TABLE runs (zone text, payouts text, checksum text, zone_of_run text);
SET LOCAL TimeZone = 'UTC';
SELECT mlm.close('pr', '2024-03', '2024-03-01', '2024-03-31', 'pr_la') AS r \gset
INSERT INTO runs SELECT 'UTC', (SELECT string_agg(member_id || ':' || amount, ',' ORDER BY member_id) FROM mlm.run_payout WHERE run_id = :r),
                        input_checksum, time_zone FROM mlm.run WHERE run_id = :r;
SET LOCAL TimeZone = 'Asia/Tokyo';
SELECT mlm.close('pr', '2024-03', '2024-03-01', '2024-03-31', 'pr_la') AS r \gset
INSERT INTO runs SELECT 'Tokyo', (SELECT string_agg(member_id || ':' || amount, ',' ORDER BY member_id) FROM mlm.run_payout WHERE run_id = :r),
                        input_checksum, time_zone FROM mlm.run WHERE run_id = :r;
SET LOCAL TimeZone = 'Pacific/Honolulu';
SELECT mlm.close('pr', '2024-03', '2024-03-01', '2024-03-31', 'pr_la') AS r \gset
INSERT INTO runs SELECT 'Honolulu', (SELECT string_agg(member_id || ':' || amount, ',' ORDER BY member_id) FROM mlm.run_payout WHERE run_id = :r),
                        input_checksum, time_zone FROM mlm.run WHERE run_id = :r;
RESET TimeZone;
SELECT is((SELECT count(DISTINCT (payouts, checksum)) FROM runs), 1::bigint,
          'a period closed under three session time zones gives identical runs');
-- March in Los Angeles: member 4's 100 and member 3's 200 (23:30 on the 31st);
-- unilevel 10% / 5%: member 3 gets 10.00 from 4, member 2 gets 5.00 from 4
-- and 20.00 from 3, member 1 gets 10.00 from 3
SELECT is((SELECT payouts FROM runs WHERE zone = 'UTC'), '1:10.00,2:25.00,3:10.00',
          'the period is cut at midnight in Los Angeles');
SELECT is((SELECT zone_of_run FROM runs WHERE zone = 'Tokyo'), 'America/Los_Angeles', 'the run records the time zone');
SELECT is((SELECT count(*) FROM mlm.preview('pr', '2024-03', '2024-03-01', '2024-03-31', 'pr_la') p
            WHERE p.kind = 'payout'), 3::bigint, 'a preview cuts the period the same way');

-- ---------------------------------------------------------------------------
-- A draft keeps its dates
-- ---------------------------------------------------------------------------
SELECT throws_ok($$SELECT mlm.close('pr', '2024-03', '2024-04-01', '2024-04-30', 'pr_la')$$,
                 '22023',
                 format('period "2024-03" of plan "pr" was closed for 2024-03-01 .. 2024-03-31 (run %s), not for 2024-04-01 .. 2024-04-30', :r),
                 'closing a draft again with other dates fails, naming both');
SELECT is((SELECT period_start || ' ' || period_end FROM mlm.run WHERE run_id = :r), '2024-03-01 2024-03-31',
          'and the draft keeps its dates');

-- ---------------------------------------------------------------------------
-- Finalize on inputs as they are now
-- ---------------------------------------------------------------------------
INSERT INTO pr.orders VALUES (4, 50, 50, '2024-03-20 10:00 America/Los_Angeles');   -- a late order
SELECT throws_ok(format('SELECT mlm.finalize(%s)', :r), '55000',
                 format('run %s is stale: the inputs of period "2024-03" of plan "pr" changed since it was computed', :r),
                 'finalize refuses a draft whose inputs changed');
SELECT is((SELECT status FROM mlm.run WHERE run_id = :r), 'draft', 'the run is still a draft');
SELECT lives_ok(format('SELECT mlm.finalize(%s, accept_changed_inputs => true)', :r),
                'finalize accepts changed inputs when told to');
SELECT is((SELECT status || ' ' || finalized_inputs_changed FROM mlm.run WHERE run_id = :r), 'final true',
          'and the run records it');
SELECT is((SELECT string_agg(member_id || ':' || amount, ',' ORDER BY member_id) FROM mlm.run_payout WHERE run_id = :r),
          '1:10.00,2:25.00,3:10.00', 'the finalized payouts are those that were computed');
-- April: nothing changes between close and finalize
SELECT mlm.close('pr', '2024-04', '2024-04-01', '2024-04-30', 'pr_la') AS r2 \gset
SELECT lives_ok(format('SELECT mlm.finalize(%s)', :r2), 'an unchanged draft is finalized');
SELECT is((SELECT finalized_inputs_changed FROM mlm.run WHERE run_id = :r2), false, 'and records that its inputs had not changed');

-- ---------------------------------------------------------------------------
-- Previews select the period when told how, and read every row otherwise
-- ---------------------------------------------------------------------------
CREATE TABLE pr.dated AS SELECT member_id, pv, cv, (ordered_at AT TIME ZONE 'America/Los_Angeles')::date AS booked,
                                to_char(ordered_at AT TIME ZONE 'America/Los_Angeles', 'YYYY-MM') AS label
                           FROM pr.orders;
SELECT is((SELECT string_agg(member_id || ':' || amount, ',' ORDER BY member_id)
             FROM mlm.payouts((SELECT definition FROM mlm.plan_version WHERE plan_name = 'pr'), 'pr.members', 'pr.orders',
                              '2024-03-01', '2024-03-31', period_column => 'ordered_at', time_zone => 'America/Los_Angeles')),
          '1:10.00,2:27.50,3:15.00',
          'a preview with a timestamptz period column and a time zone pays March in Los Angeles (the late order included)');
SELECT throws_ok($$SELECT * FROM mlm.payouts((SELECT definition FROM mlm.plan_version WHERE plan_name = 'pr'), 'pr.members', 'pr.orders',
                                             '2024-03-01', '2024-03-31', period_column => 'ordered_at')$$,
                 '22023', 'period column "ordered_at" of pr.orders is a timestamptz: a time zone is needed to cut the period',
                 'a timestamptz period column without a time zone is refused, never read in the session''s zone');
SELECT is((SELECT string_agg(member_id || ':' || amount, ',' ORDER BY member_id)
             FROM mlm.payouts((SELECT definition FROM mlm.plan_version WHERE plan_name = 'pr'), 'pr.members', 'pr.dated',
                              '2024-03-01', '2024-03-31', period_column => 'booked')),
          '1:10.00,2:27.50,3:15.00', 'a date period column selects the same rows');
SELECT is((SELECT string_agg(member_id || ':' || amount, ',' ORDER BY member_id)
             FROM mlm.payouts((SELECT definition FROM mlm.plan_version WHERE plan_name = 'pr'), 'pr.members', 'pr.dated',
                              '2024-03-01', '2024-03-31', period_column => 'label', period_label => '2024-03')),
          '1:10.00,2:27.50,3:15.00', 'so does a text period column with the label');
SELECT throws_ok($$SELECT * FROM mlm.payouts((SELECT definition FROM mlm.plan_version WHERE plan_name = 'pr'), 'pr.members', 'pr.dated',
                                             '2024-03-01', '2024-03-31', period_column => 'label')$$,
                 '22004', 'the period column "label" of pr.dated holds labels, but no period label was given',
                 'a text period column needs the label');
-- every order: member 4 950 CV (Feb, March, the late one), 3 200, 2 400
SELECT is((SELECT string_agg(member_id || ':' || amount, ',' ORDER BY member_id)
             FROM mlm.payouts((SELECT definition FROM mlm.plan_version WHERE plan_name = 'pr'), 'pr.members', 'pr.dated',
                              '2024-03-01', '2024-03-31')),
          '1:50.00,2:67.50,3:95.00', 'without a period column every row is read, February''s and April''s too');
SELECT is((SELECT total_paid || ' ' || member_rows || ' ' || volume_rows || ' ' || carry_rows || ' ' || (input_checksum IS NOT NULL)
             FROM mlm.totals((SELECT definition FROM mlm.plan_version WHERE plan_name = 'pr'), 'pr.members', 'pr.dated',
                             '2024-03-01', '2024-03-31', period_column => 'booked')),
          '52.50 4 3 0 true', 'mlm.totals is typed: total paid, member, volume and carry rows, checksum');
SELECT is((SELECT input_checksum FROM mlm.totals((SELECT definition FROM mlm.plan_version WHERE plan_name = 'pr'), 'pr.members', 'pr.dated',
                                                '2024-03-01', '2024-03-31', period_column => 'booked')),
          (SELECT input_checksum FROM mlm.totals((SELECT definition FROM mlm.plan_version WHERE plan_name = 'pr'), 'pr.members', 'pr.orders',
                                                '2024-03-01', '2024-03-31', period_column => 'ordered_at', time_zone => 'America/Los_Angeles')),
          'the checksum depends on the rows read, not on how they were selected');

-- ---------------------------------------------------------------------------
-- NULL arguments
-- ---------------------------------------------------------------------------
SELECT throws_ok($$SELECT mlm.close('pr', '2024-05', '2024-05-01', '2024-05-31', 'pr_la', with_lines => NULL)$$,
                 '22004', 'argument with_lines must not be null', 'close: with_lines');
SELECT throws_ok($$SELECT mlm.close('pr', '2024-05', '2024-05-01', '2024-05-31', 'pr_la', nowait => NULL)$$,
                 '22004', 'argument nowait must not be null', 'close: nowait');
SELECT throws_ok($$SELECT mlm.close('pr', '2024-05', NULL, '2024-05-31', 'pr_la')$$,
                 '22004', 'argument period_start must not be null', 'close: period_start');
SELECT throws_ok($$SELECT mlm.preview('pr', '2024-05', '2024-05-01', '2024-05-31', NULL)$$,
                 '22004', 'argument source must not be null', 'preview: source');
SELECT throws_ok($$SELECT mlm.finalize(NULL::bigint)$$,
                 '22004', 'argument run_id must not be null', 'finalize: run_id');
SELECT throws_ok(format('SELECT mlm.finalize(%s, NULL)', :r2),
                 '22004', 'argument accept_changed_inputs must not be null', 'finalize: accept_changed_inputs');
SELECT throws_ok($$SELECT mlm.finalize('pr', NULL)$$,
                 '22004', 'argument period_label must not be null', 'finalize: period_label');
SELECT throws_ok($$SELECT mlm.discard_draft(NULL)$$,
                 '22004', 'argument run_id must not be null', 'discard_draft: run_id');
SELECT throws_ok(format('SELECT mlm.adjust(%s, NULL, 1, %L)', :r2, 'x'),
                 '22004', 'argument member_id must not be null', 'adjust: member_id');
SELECT throws_ok(format('SELECT mlm.adjust(%s, 1, 1, NULL)', :r2),
                 '22004', 'argument reason must not be null', 'adjust: reason');
SELECT throws_ok($$SELECT * FROM mlm.run_downline(NULL, 1)$$,
                 '22004', 'argument run_id must not be null', 'run_downline: run_id');

SELECT * FROM finish();
ROLLBACK;
