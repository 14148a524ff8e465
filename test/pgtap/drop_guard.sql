-- test/pgtap/drop_guard.sql
--
-- Payout history cannot vanish by accident (src/guard.c): while a finalized
-- run exists, DROP EXTENSION mlm (with and without CASCADE), DROP SCHEMA mlm
-- CASCADE and DROP OWNED BY the extension's owner are refused with SQLSTATE
-- 2BP01 and a message that says how to proceed; drafts alone do not block;
-- SET mlm.allow_drop_history = on lets the drop through on purpose.  Other
-- DROPs are not affected.  Everything is rolled back.

\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off

BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(12);

CREATE SCHEMA guard_erp;
CREATE TABLE guard_erp.members AS SELECT i::bigint AS id, CASE WHEN i > 1 THEN i - 1 END::bigint AS sponsor_id
  FROM generate_series(1, 5) i;
CREATE TABLE guard_erp.volumes AS SELECT i::bigint AS member_id, 100::numeric AS pv, 100::numeric AS cv,
  '2024-01'::text AS period FROM generate_series(1, 5) i;
SELECT mlm.add_plan_version('guard', '{"ranks": [{"name": "M"}],
  "bonuses": [{"name": "u", "type": "unilevel", "rates": [0.1]}]}') AS v \gset
SELECT mlm.register_source('guard', 'guard_erp.members', 'guard_erp.volumes', 'period') AS s \gset
SELECT mlm.close('guard', '2024-01', '2024-01-01', '2024-01-31', 'guard') AS run \gset

-- Tries a DROP in a subtransaction that is always undone; returns
-- 'dropped' (the extension was gone afterwards), 'kept', or the SQLSTATE.
CREATE FUNCTION pg_temp.try_drop(stmt text, allow boolean) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  BEGIN
    IF allow THEN
      PERFORM set_config('mlm.allow_drop_history', 'on', true);
    END IF;
    EXECUTE stmt;
    RAISE EXCEPTION USING ERRCODE = 'P0099',
      MESSAGE = CASE WHEN EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'mlm') THEN 'kept' ELSE 'dropped' END;
  EXCEPTION
    WHEN SQLSTATE 'P0099' THEN RETURN SQLERRM;
    WHEN OTHERS THEN RETURN SQLSTATE;
  END;
END $$;

SELECT is(pg_temp.try_drop('DROP EXTENSION mlm CASCADE', false), 'dropped',
          'with only a draft run the extension can be dropped');
SELECT is((SELECT count(*) FROM mlm.run), 1::bigint, '(that drop was undone)');

SELECT mlm.finalize(:run) AS f \gset
SELECT throws_ok('DROP EXTENSION mlm', '2BP01',
                 'cannot drop the extension mlm: it holds finalized payout runs',
                 'DROP EXTENSION is refused while a finalized run exists');
SELECT throws_ok('DROP EXTENSION mlm CASCADE', '2BP01', NULL, 'so is DROP EXTENSION ... CASCADE');
SELECT throws_ok('DROP EXTENSION IF EXISTS pgtap_nothing, mlm CASCADE', '2BP01', NULL,
                 'and a list that names it');
SELECT throws_ok('DROP SCHEMA mlm CASCADE', '2BP01', NULL, 'so is DROP SCHEMA mlm CASCADE');
SELECT throws_ok(format('DROP OWNED BY %I', (SELECT extowner::regrole::text FROM pg_extension WHERE extname = 'mlm')),
                 '2BP01', NULL, 'so is DROP OWNED BY the extension owner');

-- the message names the runs and the way out
CREATE FUNCTION pg_temp.drop_error() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  d text;
  h text;
BEGIN
  DROP EXTENSION mlm;
  RETURN 'dropped';
EXCEPTION WHEN dependent_objects_still_exist THEN
  GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT;
  RETURN d || ' | ' || h;
END $$;
SELECT is(pg_temp.drop_error(),
          'mlm.run has 1 finalized run (plans: guard); dropping the extension would delete them with their payouts, lines and adjustments. | Export the history first (pg_dump --schema=mlm), then SET mlm.allow_drop_history = on in the same session and drop again.',
          'the detail counts the finalized runs and the hint says how to proceed');

SELECT lives_ok('DROP SCHEMA guard_erp CASCADE', 'other drops are not affected');
SELECT is((SELECT count(*) FROM mlm.run WHERE status = 'final'), 1::bigint, 'the history is intact');

SELECT is(pg_temp.try_drop('DROP EXTENSION mlm CASCADE', true), 'dropped',
          'with mlm.allow_drop_history = on the drop goes through');
SELECT is(pg_temp.try_drop('DROP SCHEMA mlm CASCADE', true), 'dropped',
          'DROP SCHEMA too');

SELECT * FROM finish();
ROLLBACK;
