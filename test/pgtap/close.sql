-- test/pgtap/close.sql
--
-- Period close (src/sql/50_close.sql): plan registry, sources, the run
-- lifecycle draft -> re-run -> finalize -> re-run refused -> next period picks
-- up the carry -> adjustments in the totals, every error path, immutability,
-- previews that write nothing, search_path safety and least privilege.
--
-- Run from the repository root, in a database where pgtap and mlm are
-- installed, as a superuser (the test creates roles, inside its transaction):
--   pg_prove -d <db> test/pgtap/close.sql
--
-- Everything happens in one transaction that is rolled back.  The binary
-- example (c) of the spec supplies the numbers: with its opening carry the
-- carry-out is 1 (500, 0), 2 (0, 50), 3 (400, 1200) and the payouts are
-- 1: 120.00 (capped), 2: 50.00.  Closing the next period with the same
-- volumes and that carry-in gives, by the rules of spec section 5.4:
--   member 1: legs 500+900 = 1400 and 0+1400 = 1400, 140.00 capped to 120.00,
--             carry (0, 0);
--   member 2: legs 0+500 = 500 and 50+300 = 350, 35.00, carry (150, 0);
--   member 3: not qualified, (400+400, 1200+800) = (800, 2000), max_carry
--             1200: carry (800, 1200).

\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off

BEGIN;
SET LOCAL client_min_messages = warning;

SELECT plan(155 + 15);

-- ---------------------------------------------------------------------------
-- Inputs: the binary example as ERP tables
-- ---------------------------------------------------------------------------
-- the compensation contract's example (c) (test/fixtures/c_binary), inline so
-- that the test depends on no loader
CREATE TEMP TABLE ex_members (id bigint, sponsor_id bigint, placement_id bigint, position integer,
                              active_status boolean, joined date);
INSERT INTO ex_members VALUES
  (1, NULL, NULL, NULL, true, NULL), (2, 1, 1, 0, true, NULL), (3, 1, 1, 1, true, NULL),
  (4, 2, 2, 0, true, NULL), (5, 2, 2, 1, true, NULL), (6, 3, 3, 0, true, NULL), (7, 1, 3, 1, true, NULL);
CREATE TEMP TABLE ex_volumes (member_id bigint, pv numeric, cv numeric, rv numeric);
INSERT INTO ex_volumes VALUES
  (1, 50, 50, 0), (2, 100, 100, 0), (3, 200, 200, 0), (4, 500, 500, 0), (5, 300, 300, 0),
  (6, 400, 400, 0), (7, 800, 800, 0);
CREATE TEMP TABLE ex_carry (member_id bigint, carry_left numeric, carry_right numeric);
INSERT INTO ex_carry VALUES (1, 1000, 0), (2, 0, 250), (3, 0, 700);
\set plan_c '{"name": "example c: binary with carry-in, cap, max_carry, one unqualified member", "currency": {"scale": 2}, "active": {"min_pv": 50}, "ranks": [{"name": "Member"}], "bonuses": [{"name": "binary", "type": "binary", "rate": 0.10, "cap": 120, "max_carry": 1200}]}'

CREATE SCHEMA erp_t;
CREATE TABLE erp_t.members AS SELECT * FROM ex_members;
CREATE TABLE erp_t.volumes AS SELECT v.*, '2024-03'::text AS period FROM ex_volumes v;
CREATE TABLE erp_t.opening AS SELECT * FROM ex_carry;
-- same ERP with dated volume rows (period chosen by date)
CREATE TABLE erp_t.orders AS SELECT v.member_id, v.pv, v.cv, date '2024-03-15' AS booked FROM ex_volumes v;
INSERT INTO erp_t.orders VALUES (7, 1000, 1000, date '2024-04-01');   -- outside March
-- broken relations for the registration errors
CREATE TABLE erp_t.vol_nocv (member_id bigint, pv numeric, period text);
CREATE TABLE erp_t.vol_textcv (member_id bigint, pv numeric, cv text, period text);
CREATE TABLE erp_t.mem_nosponsor (id bigint, parent bigint);
CREATE TABLE erp_t.vol_floatperiod (member_id bigint, pv numeric, cv numeric, period float8);

-- helper: number of rows in every table the close writes
CREATE FUNCTION erp_t.written() RETURNS bigint LANGUAGE sql AS $$
  SELECT (SELECT count(*) FROM mlm.run) + (SELECT count(*) FROM mlm.run_payout)
       + (SELECT count(*) FROM mlm.run_member) + (SELECT count(*) FROM mlm.run_carry)
       + (SELECT count(*) FROM mlm.run_line) + (SELECT count(*) FROM mlm.run_bonus_total)
       + (SELECT count(*) FROM mlm.adjustment)
$$;
-- helper: temporary input views left in this session
CREATE FUNCTION erp_t.leftover_views() RETURNS bigint LANGUAGE sql AS $$
  SELECT count(*) FROM pg_class
   WHERE relnamespace = pg_my_temp_schema() AND relkind = 'v' AND relname LIKE 'mlm\_%'
$$;

-- ---------------------------------------------------------------------------
-- Objects
-- ---------------------------------------------------------------------------
SELECT has_table('mlm', 'plan_version', 'table mlm.plan_version');
SELECT has_table('mlm', 'source', 'table mlm.source');
SELECT has_table('mlm', 'run', 'table mlm.run');
SELECT has_table('mlm', 'run_payout', 'table mlm.run_payout');
SELECT has_table('mlm', 'run_member', 'table mlm.run_member');
SELECT has_table('mlm', 'run_carry', 'table mlm.run_carry');
SELECT has_view('mlm', 'run_line', 'view mlm.run_line (one row per line)');
SELECT has_table('mlm', 'run_line_pack', 'table mlm.run_line_pack (the lines, packed)');
SELECT has_table('mlm', 'adjustment', 'table mlm.adjustment');
SELECT has_view('mlm', 'payout_totals', 'view mlm.payout_totals');
SELECT has_view('mlm', 'run_totals', 'view mlm.run_totals');
SELECT is(
  (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e'
    WHERE n.nspname = 'mlm' AND p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'plpgsql')
      AND p.prorettype <> 'trigger'::regtype
      AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%')),
  0::bigint, 'every plpgsql function of the close pins its search_path');
SELECT is(
  (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = 'mlm' AND p.proname IN ('close', 'finalize', 'adjust', 'discard_draft',
                                              'add_plan_version', 'register_source')
      AND has_function_privilege('public', p.oid, 'EXECUTE')),
  0::bigint, 'PUBLIC cannot execute the mutating functions');
SELECT is(
  (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'mlm' AND c.relkind IN ('r', 'v') AND obj_description(c.oid, 'pg_class') IS NULL),
  0::bigint, 'every table and view is commented');
SELECT is(
  (SELECT string_agg(p.oid::regprocedure::text, ', ') FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = 'mlm' AND obj_description(p.oid, 'pg_proc') IS NULL
      AND p.proname IN ('add_plan_version', 'plan', 'plan_versions', 'register_source', 'preview', 'close',
                        'finalize', 'discard_draft', 'adjust', 'run_downline', '_refuse_change', '_run_guard',
                        '_run_rows_guard', '_period_lock_key', '_plan_lock_key', '_lock_holders', '_acquire',
                        '_base_type', '_check_column', '_check_relation', '_period_inputs', '_drop_views',
                        '_plan_version', '_check_period', '_carry_source_run')),
  NULL, 'every function of the close is commented');
SELECT is(
  (SELECT string_agg(p.proname, ', ') FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = 'mlm' AND p.prosecdef
      AND (p.proconfig IS NULL OR NOT 'search_path=pg_catalog, pg_temp' = ANY (p.proconfig))),
  NULL, 'SECURITY DEFINER functions run with search_path = pg_catalog, pg_temp');

-- ---------------------------------------------------------------------------
-- Plan registry
-- ---------------------------------------------------------------------------
SELECT is(mlm.add_plan_version('close_bin', :'plan_c'::jsonb), 1, 'first version of a plan is 1');
SELECT is(mlm.add_plan_version('close_bin', :'plan_c'::jsonb), 1, 'the same definition again makes no new version');
SELECT is(mlm.add_plan_version('close_bin', jsonb_set(:'plan_c'::jsonb, '{bonuses,0,cap}', '100')), 2,
          'a new definition makes version 2');
SELECT is(mlm.plan('close_bin') #>> '{bonuses,0,cap}', '100', 'mlm.plan(name) reads the current version');
SELECT is(mlm.plan('close_bin', 1), :'plan_c'::jsonb, 'mlm.plan(name, 1): old versions stay readable');
SELECT results_eq(
  $$SELECT version, is_current FROM mlm.plan_versions('close_bin')$$,
  $$VALUES (1, false), (2, true)$$, 'mlm.plan_versions lists the versions, oldest first');
-- version 3 = the example again, so that the current version is the example
SELECT is(mlm.add_plan_version('close_bin', :'plan_c'::jsonb), 3, 're-adding an older definition makes version 3');
SELECT throws_like(
  $$SELECT mlm.add_plan_version('close_bad', '{"ranks": [{"name": "M"}], "bonuses": [{"name": "b", "type": "binary", "rate": 0.1, "caps": 5}]}')$$,
  'plan "close_bad" is invalid: bonuses[0]%', 'an invalid plan is rejected, naming the JSON path');
SELECT throws_ok(
  $$SELECT mlm.add_plan_version('close_bad', '{"ranks": [{"name": "M"}], "bonuses": [{"name": "b", "type": "binary", "rate": 0.1, "caps": 5}]}')$$,
  '22023', NULL, 'an unknown key: SQLSTATE 22023');
SELECT throws_ok(
  $$SELECT mlm.add_plan_version('close_bad', '{"bonuses": [{"name": "b", "type": "nope"}]}')$$,
  '22023', NULL, 'an invalid plan is rejected with SQLSTATE 22023');
SELECT ok(NOT EXISTS (SELECT 1 FROM mlm.plan_version WHERE plan_name = 'close_bad'), 'nothing stored for a rejected plan');
SELECT throws_ok($$SELECT mlm.plan('close_nope')$$, '42704', 'unknown plan "close_nope"', 'mlm.plan: unknown plan');
SELECT throws_ok($$SELECT mlm.plan('close_bin', 9)$$, '42704', 'plan "close_bin" has no version 9', 'mlm.plan: unknown version');
SELECT throws_ok($$SELECT * FROM mlm.plan_versions('close_nope')$$, '42704', 'unknown plan "close_nope"', 'mlm.plan_versions: unknown plan');
SELECT throws_ok($$UPDATE mlm.plan_version SET definition = '{}' WHERE plan_name = 'close_bin'$$,
                 '55000', NULL, 'plan versions cannot be updated');
SELECT throws_ok($$DELETE FROM mlm.plan_version WHERE plan_name = 'close_bin'$$,
                 '55000', NULL, 'plan versions cannot be deleted');
SELECT throws_ok($$TRUNCATE mlm.plan_version CASCADE$$, '55000', NULL, 'plan versions cannot be truncated');

-- ---------------------------------------------------------------------------
-- Sources
-- ---------------------------------------------------------------------------
SELECT lives_ok($$SELECT mlm.register_source('close_erp', 'erp_t.members', 'erp_t.volumes', 'period', 'erp_t.opening')$$,
                'register a source (label period column, opening carry)');
SELECT is((SELECT period_kind || ' ' || members || ' ' || volumes || ' ' || carry FROM mlm.source WHERE source_name = 'close_erp'),
          'label erp_t.members erp_t.volumes erp_t.opening', 'the source stores qualified names and the period kind');
SELECT lives_ok($$SELECT mlm.register_source('close_erp_dated', 'erp_t.members', 'erp_t.orders', 'booked', 'erp_t.opening')$$,
                'register a source whose period is chosen by a date column');
SELECT is((SELECT period_kind FROM mlm.source WHERE source_name = 'close_erp_dated'), 'date', 'a date column makes a date source');
SELECT throws_ok($$SELECT mlm.register_source('close_erp', 'erp_t.members', 'erp_t.volumes', 'period')$$,
                 '42710', 'source "close_erp" is already registered', 'registering a name twice needs replace => true');
SELECT throws_ok($$SELECT mlm.register_source('close_x', 'erp_t.members', 'erp_t.vol_nocv', 'period')$$,
                 '42703', 'volumes relation erp_t.vol_nocv has no column "cv"', 'missing column: error at registration naming it');
SELECT throws_ok($$SELECT mlm.register_source('close_x', 'erp_t.mem_nosponsor', 'erp_t.volumes', 'period')$$,
                 '42703', 'members relation erp_t.mem_nosponsor has no column "sponsor_id"', 'missing members column');
SELECT throws_ok($$SELECT mlm.register_source('close_x', 'erp_t.members', 'erp_t.volumes', 'month')$$,
                 '42703', 'volumes relation erp_t.volumes has no period column "month"', 'missing period column');
SELECT throws_ok($$SELECT mlm.register_source('close_x', 'erp_t.members', 'erp_t.vol_textcv', 'period')$$,
                 '42804', 'column "cv" of volumes relation erp_t.vol_textcv has type text',
                 'a column of the wrong type is refused');
SELECT throws_ok($$SELECT mlm.register_source('close_x', 'erp_t.members', 'erp_t.vol_floatperiod', 'period')$$,
                 '42804', NULL, 'a period column that is neither text nor a date is refused');
SELECT throws_ok($$SELECT mlm.register_source('close_x', 'erp_t.members', 'erp_t.nope', 'period')$$,
                 '42P01', NULL, 'an unknown relation is refused');
SELECT ok(NOT EXISTS (SELECT 1 FROM mlm.source WHERE source_name = 'close_x'), 'nothing stored for a refused source');

-- ---------------------------------------------------------------------------
-- Preview: computes, writes nothing
-- ---------------------------------------------------------------------------
SELECT erp_t.written() AS written_before \gset
SELECT set_eq(
  $$SELECT member_id, bonus, amount FROM mlm.preview('close_bin', '2024-03', '2024-03-01', '2024-03-31', 'close_erp') WHERE kind = 'payout'$$,
  $$VALUES (1::bigint, 'binary', 120.00), (2, 'binary', 50.00)$$, 'preview returns the payouts');
SELECT set_eq(
  $$SELECT member_id, carry_left, carry_right FROM mlm.preview('close_bin', '2024-03', '2024-03-01', '2024-03-31', 'close_erp') WHERE kind = 'carry'$$,
  $$VALUES (1::bigint, 500::numeric, 0::numeric), (2, 0, 50), (3, 400, 1200)$$, 'preview uses the opening carry of the source');
SELECT is(erp_t.written(), :written_before::bigint, 'preview writes no row');
SELECT is(erp_t.leftover_views(), 0::bigint, 'preview leaves no temporary view behind');
SELECT set_eq(
  $$SELECT member_id, bonus, amount FROM mlm.preview('close_bin', '2024-03', '2024-03-01', '2024-03-31', 'close_erp_dated') WHERE kind = 'payout'$$,
  $$VALUES (1::bigint, 'binary', 120.00), (2, 'binary', 50.00)$$,
  'a date source selects the rows within the period dates (the April row is left out)');

-- ---------------------------------------------------------------------------
-- Close errors (before any run exists)
-- ---------------------------------------------------------------------------
SELECT throws_ok($$SELECT mlm.close('close_nope', '2024-03', '2024-03-01', '2024-03-31', 'close_erp')$$,
                 '42704', 'unknown plan "close_nope"', 'close: unknown plan');
SELECT throws_ok($$SELECT mlm.close('close_bin', '2024-03', '2024-03-01', '2024-03-31', 'close_erp', plan_version => 7)$$,
                 '42704', 'plan "close_bin" has no version 7', 'close: unknown plan version');
SELECT throws_ok($$SELECT mlm.close('close_bin', '2024-03', '2024-03-01', '2024-03-31', 'nope')$$,
                 '42704', 'unknown source "nope"', 'close: unknown source');
SELECT throws_ok($$SELECT mlm.close('close_bin', '2024-03', '2024-03-31', '2024-03-01', 'close_erp')$$,
                 '22023', 'period "2024-03" starts (2024-03-31) after it ends (2024-03-01)', 'close: start after end');
SELECT throws_ok($$SELECT mlm.close('close_bin', '', '2024-03-01', '2024-03-31', 'close_erp')$$,
                 '22023', 'the period label is empty', 'close: empty label');
SELECT throws_ok($$SELECT mlm.close('close_bin', NULL, '2024-03-01', '2024-03-31', 'close_erp')$$,
                 '22004', NULL, 'close: null arguments');
CREATE TABLE erp_t.tmpvol AS SELECT * FROM erp_t.volumes;
SELECT mlm.register_source('close_tmp', 'erp_t.members', 'erp_t.tmpvol', 'period');
ALTER TABLE erp_t.tmpvol DROP COLUMN cv;
SELECT throws_ok($$SELECT mlm.close('close_bin', '2024-03', '2024-03-01', '2024-03-31', 'close_tmp')$$,
                 '42703', 'volumes relation erp_t.tmpvol has no column "cv"', 'close re-checks the columns of its source');
DROP TABLE erp_t.tmpvol;
-- the period column changed type after the source was registered
CREATE TABLE erp_t.vol_retype AS SELECT * FROM erp_t.volumes;
SELECT mlm.register_source('close_retype', 'erp_t.members', 'erp_t.vol_retype', 'period');
ALTER TABLE erp_t.vol_retype ALTER COLUMN period TYPE date USING (period || '-01')::date;
SELECT throws_ok($$SELECT mlm.close('close_bin', '2024-03', '2024-03-01', '2024-03-31', 'close_retype')$$,
                 '42804', 'the period column "period" of erp_t.vol_retype is now of type date, but source "close_retype" was registered with a text (label) period column',
                 'close: a period column whose type changed since the registration is refused');
SELECT throws_ok($$SELECT mlm.close('close_bin', '2024-03', '2024-03-01', '2024-03-31', 'close_tmp')$$,
                 '42P01', 'relation erp_t.tmpvol of source "close_tmp" does not exist', 'close: a relation of the source was dropped');
SELECT is(erp_t.written(), :written_before::bigint, 'failed closes write nothing');

-- ---------------------------------------------------------------------------
-- Lifecycle: draft
-- ---------------------------------------------------------------------------
SELECT mlm.close('close_bin', '2024-03', '2024-03-01', '2024-03-31', 'close_erp') AS run1 \gset
SELECT results_eq(
  format($$SELECT status, attempt, plan_version, member_rows, volume_rows, carry_rows, total_paid, total_cv,
                  payout_rows, member_result_rows, carry_out_rows, line_rows, carry_from_run_id, carry_relation, with_lines
             FROM mlm.run WHERE run_id = %s$$, :run1),
  $$VALUES ('draft', 1, 3, 7::bigint, 7::bigint, 3::bigint, 170.00, 2350::numeric, 2::bigint, 7::bigint, 3::bigint, 0::bigint,
            NULL::bigint, 'erp_t.opening', false)$$,
  'the draft header records plan version, input counts, totals and where the carry came from');
SELECT ok((SELECT input_checksum IS NOT NULL AND run_by = session_user AND started_at <= finished_at
                  AND duration >= '0'::interval AND lock_wait >= '0'::interval
             FROM mlm.run WHERE run_id = :run1), 'the header records checksum, who ran it and timings');
-- timings: the close ran inside this transaction, after it started; its
-- duration is its own run time (started -> finished, the lock wait not
-- included), well under a minute for seven members; nobody held the lock
SELECT ok((SELECT started_at >= now() AND finished_at <= clock_timestamp()
                  AND duration >= finished_at - started_at
                  AND duration - (finished_at - started_at) < interval '50 milliseconds'
                  AND duration < interval '1 minute' AND lock_wait < interval '1 second'
             FROM mlm.run WHERE run_id = :run1),
          'run timings: started in this transaction, duration = finished - started, no lock wait');
-- the row counts of the header are the rows written
SELECT results_eq(
  format($$SELECT payout_rows, member_result_rows, carry_out_rows, line_rows, bonus_rows FROM mlm.run WHERE run_id = %s$$, :run1),
  format($$SELECT (SELECT count(*) FROM mlm.run_payout WHERE run_id = %1$s),
                  (SELECT count(*) FROM mlm.run_member WHERE run_id = %1$s),
                  (SELECT count(*) FROM mlm.run_carry WHERE run_id = %1$s),
                  (SELECT count(*) FROM mlm.run_line WHERE run_id = %1$s),
                  (SELECT count(*) FROM mlm.run_bonus_total WHERE run_id = %1$s)$$, :run1),
  'header row counts = the result rows stored');
-- ... and the input counts are those of the inputs
SELECT results_eq(
  format($$SELECT member_rows, volume_rows, carry_rows FROM mlm.run WHERE run_id = %s$$, :run1),
  $$SELECT (SELECT count(*) FROM erp_t.members), (SELECT count(*) FROM erp_t.volumes WHERE period = '2024-03'),
           (SELECT count(*) FROM erp_t.opening)$$,
  'header input counts = the rows of the members, the period''s volumes and the carry-in');
-- the checksum is 16 hex digits of the inputs: a second close of the same
-- inputs (below) gets the same one, a changed volume a different one
SELECT input_checksum AS checksum1 FROM mlm.run WHERE run_id = :run1 \gset
SELECT matches(:'checksum1'::text, '^[0-9a-f]{16}$', 'the input checksum is 16 hex digits');
SELECT set_eq(format('SELECT member_id, bonus, amount FROM mlm.run_payout WHERE run_id = %s', :run1),
              $$VALUES (1::bigint, 'binary', 120.00), (2, 'binary', 50.00)$$, 'draft payouts');
SELECT set_eq(format('SELECT member_id, carry_left, carry_right FROM mlm.run_carry WHERE run_id = %s', :run1),
              $$VALUES (1::bigint, 500::numeric, 0::numeric), (2, 0, 50), (3, 400, 1200)$$, 'draft carry-out (example c)');
SELECT is((SELECT count(*) FROM mlm.run_member WHERE run_id = :run1), 7::bigint, 'one member result per member');
SELECT is((SELECT amount FROM mlm.run_member WHERE run_id = :run1 AND member_id = 1), 120.00, 'member result: total paid');
SELECT set_eq(format('SELECT bonus, total_paid FROM mlm.run_bonus_total WHERE run_id = %s', :run1),
              $$VALUES ('binary', 170.00)$$, 'bonus totals');
SELECT is(mlm.size((SELECT snapshot FROM mlm.run WHERE run_id = :run1)), 7, 'the run keeps the tree snapshot');
SELECT set_eq(format('SELECT member_id FROM mlm.run_downline(%s, 2)', :run1), $$VALUES (4::bigint), (5)$$,
              'run_downline answers from the snapshot');
SELECT is(erp_t.leftover_views(), 0::bigint, 'close leaves no temporary view behind');
SELECT throws_ok($$INSERT INTO mlm.run_payout VALUES (-1, 1, 'binary', 1.00)$$, '23503',
                 'insert into mlm.run_payout refers to run -1, which does not exist', 'result rows need an existing run');
SELECT throws_ok(format('DELETE FROM mlm.run WHERE run_id = %s', :run1), '23503',
                 format('run %s still has result rows', :run1), 'a run header is not deleted under its rows');

-- ---------------------------------------------------------------------------
-- Re-run of the draft: replaces it, same run_id
-- ---------------------------------------------------------------------------
INSERT INTO erp_t.volumes VALUES (5, 100, 100, 0, '2024-03');
-- member 1: left 1000 + 1000 = 2000, right 1400: carry (600, 0); member 2:
-- left 500, right 250 + 400 = 650: 50.00, carry (0, 150)
SELECT is(mlm.close('close_bin', '2024-03', '2024-03-01', '2024-03-31', 'close_erp'), :run1::bigint,
          're-closing a draft keeps its run_id');
SELECT is((SELECT count(*) FROM mlm.run WHERE plan_name = 'close_bin' AND period_label = '2024-03'), 1::bigint,
          'still one run for the period');
SELECT is((SELECT attempt FROM mlm.run WHERE run_id = :run1), 2, 'attempt counts the closes');
SELECT set_eq(format('SELECT member_id, carry_left, carry_right FROM mlm.run_carry WHERE run_id = %s', :run1),
              $$VALUES (1::bigint, 600::numeric, 0::numeric), (2, 0, 150), (3, 400, 1200)$$, 'the re-run replaced the results');
SELECT is((SELECT volume_rows FROM mlm.run WHERE run_id = :run1), 8::bigint, 'the header is replaced too');
SELECT isnt((SELECT input_checksum FROM mlm.run WHERE run_id = :run1), :'checksum1'::text,
            'another volume row: another input checksum');
SELECT results_eq(
  format($$SELECT payout_rows, member_result_rows, carry_out_rows, bonus_rows FROM mlm.run WHERE run_id = %s$$, :run1),
  format($$SELECT (SELECT count(*) FROM mlm.run_payout WHERE run_id = %1$s),
                  (SELECT count(*) FROM mlm.run_member WHERE run_id = %1$s),
                  (SELECT count(*) FROM mlm.run_carry WHERE run_id = %1$s),
                  (SELECT count(*) FROM mlm.run_bonus_total WHERE run_id = %1$s)$$, :run1),
  're-closed header row counts = the result rows stored');
DELETE FROM erp_t.volumes WHERE member_id = 5 AND cv = 100;
SELECT is(mlm.close('close_bin', '2024-03', '2024-03-01', '2024-03-31', 'close_erp', with_lines => true, nowait => true),
          :run1::bigint, 'third close, with audit lines (nowait on a free period does not wait)');
SELECT set_eq(format('SELECT member_id, carry_left, carry_right FROM mlm.run_carry WHERE run_id = %s', :run1),
              $$VALUES (1::bigint, 500::numeric, 0::numeric), (2, 0, 50), (3, 400, 1200)$$, 'back to the example''s carry-out');
SELECT set_eq(format('SELECT member_id, bonus, base, amount FROM mlm.run_line WHERE run_id = %s', :run1),
              $$VALUES (1::bigint, 'binary', 1400::numeric, 120::numeric), (2, 'binary', 500, 50)$$, 'audit lines are stored on request');
SELECT is((SELECT line_rows FROM mlm.run WHERE run_id = :run1), 2::bigint, 'line count in the header');
SELECT is((SELECT input_checksum FROM mlm.run WHERE run_id = :run1), :'checksum1'::text,
          'the same inputs again: the same input checksum');
SELECT throws_ok(format('SELECT mlm.adjust(%s, 1, 5.00, %L)', :run1, 'bonus'), '55000',
                 format('run %s (plan "close_bin", period "2024-03") is a draft: adjustments are posted to finalized runs only', :run1),
                 'adjusting a draft is refused');

-- ---------------------------------------------------------------------------
-- Finalize
-- ---------------------------------------------------------------------------
SELECT is(mlm.finalize(:run1), :run1::bigint, 'finalize returns the run id');
SELECT ok((SELECT status = 'final' AND finalized_by = session_user AND finalized_at IS NOT NULL
             FROM mlm.run WHERE run_id = :run1), 'the run is final, with who and when');
SELECT throws_ok(format('SELECT mlm.finalize(%s)', :run1), '55000',
                 format('run %s (plan "close_bin", period "2024-03") is already finalized', :run1), 'finalize twice is refused');
SELECT throws_ok($$SELECT mlm.finalize('close_bin', '2024-03')$$, '55000', NULL, 'finalize by period twice is refused');
SELECT throws_ok($$SELECT mlm.close('close_bin', '2024-03', '2024-03-01', '2024-03-31', 'close_erp')$$, '55000',
                 format('period "2024-03" of plan "close_bin" is finalized (run %s) and cannot be closed again', :run1),
                 're-running a finalized period is refused');
SELECT throws_ok(format('SELECT mlm.discard_draft(%s)', :run1), '55000', NULL, 'a finalized run cannot be discarded');
SELECT throws_ok($$SELECT mlm.finalize(-1)$$, '42704', 'run -1 does not exist', 'finalize: unknown run');
SELECT throws_ok($$SELECT mlm.discard_draft(-1)$$, '42704', 'run -1 does not exist', 'discard_draft: unknown run');
SELECT throws_ok($$SELECT * FROM mlm.preview('close_bin', '2024-03', '2024-03-01', '2024-03-31', 'nope')$$,
                 '42704', 'unknown source "nope"', 'preview: unknown source');
SELECT throws_ok($$SELECT * FROM mlm.preview('close_nope', '2024-03', '2024-03-01', '2024-03-31', 'close_erp')$$,
                 '42704', 'unknown plan "close_nope"', 'preview: unknown plan');
SELECT throws_ok($$SELECT mlm.finalize('close_bin', '1999-01')$$, '42704',
                 'period "1999-01" of plan "close_bin" has not been closed', 'finalize: unknown period');
-- frozen rows, even for the table owner
SELECT throws_ok(format('UPDATE mlm.run SET total_paid = 0 WHERE run_id = %s', :run1), '55000', NULL,
                 'the header of a finalized run cannot be updated');
SELECT throws_ok(format('DELETE FROM mlm.run WHERE run_id = %s', :run1), '55000', NULL,
                 'a finalized run cannot be deleted');
SELECT throws_ok(format('UPDATE mlm.run_payout SET amount = 1 WHERE run_id = %s', :run1), '55000', NULL,
                 'payouts cannot be updated');
SELECT throws_ok(format('DELETE FROM mlm.run_payout WHERE run_id = %s', :run1), '55000', NULL,
                 'payouts of a finalized run cannot be deleted');
SELECT throws_ok(format('DELETE FROM mlm.run_carry WHERE run_id = %s', :run1), '55000', NULL,
                 'carry of a finalized run cannot be deleted');
SELECT throws_ok(format('INSERT INTO mlm.run_payout VALUES (%s, 3, %L, 1.00)', :run1, 'binary'), '55000', NULL,
                 'no payout can be added to a finalized run');
SELECT throws_ok($$TRUNCATE mlm.run_payout$$, '55000', NULL, 'payouts cannot be truncated');
-- the packed lines: a line more than the header counts is refused, and so
-- is a row whose arrays disagree (what a restore or a hand-made row must meet)
SELECT throws_ok(format($$INSERT INTO mlm.run_line_pack VALUES (%s, 3, 99, 'binary', 1, '\x0000000000000202')$$, :run1),
                 '55000', NULL, 'no line can be added to a finalized run');
SELECT throws_ok(format($$DELETE FROM mlm.run_line_pack WHERE run_id = %s$$, :run1), '55000', NULL,
                 'lines of a finalized run cannot be deleted');
SELECT throws_ok($$INSERT INTO mlm.run_line_pack VALUES (-1, 3, 99, 'binary', 2, '\x0000000000000202')$$,
                 '23514', NULL, 'a row of lines whose data holds fewer lines than it says is refused');
SELECT throws_ok($$INSERT INTO mlm.run_line_pack VALUES (-1, 3, 98, 'binary', 1, '\x00ff')$$,
                 '23514', NULL, 'a row of lines whose data is corrupt is refused');
SELECT is((SELECT count(*) FROM mlm.run_line WHERE run_id = :run1), 2::bigint, 'the finalized lines are intact');
SELECT is((SELECT sum(amount) FROM mlm.run_payout WHERE run_id = :run1), 170.00, 'the finalized payouts are intact');

-- ---------------------------------------------------------------------------
-- Next period: carry-in from the finalized run
-- ---------------------------------------------------------------------------
INSERT INTO erp_t.volumes SELECT member_id, pv, cv, rv, '2024-04' FROM ex_volumes;
SELECT throws_ok($$SELECT mlm.close('close_bin', '2024-04', '2024-03-15', '2024-04-30', 'close_erp')$$, '22023',
                 format('period "2024-04" (2024-03-15 .. 2024-04-30) overlaps period "2024-03" (2024-03-01 .. 2024-03-31, run %s) of plan "close_bin"', :run1),
                 'overlapping periods are refused');
SELECT mlm.close('close_bin', '2024-04', '2024-04-01', '2024-04-30', 'close_erp') AS run2 \gset
SELECT isnt(:run2::bigint, :run1::bigint, 'a new period gets a new run');
SELECT results_eq(format('SELECT carry_from_run_id, carry_relation, carry_rows FROM mlm.run WHERE run_id = %s', :run2),
                  format('VALUES (%s::bigint, NULL::text, 3::bigint)', :run1),
                  'the carry-in comes from the previous finalized run, not from the opening carry');
SELECT set_eq(format('SELECT member_id, bonus, amount FROM mlm.run_payout WHERE run_id = %s', :run2),
              $$VALUES (1::bigint, 'binary', 120.00), (2, 'binary', 35.00)$$, 'next period payouts use the carry-in');
SELECT set_eq(format('SELECT member_id, carry_left, carry_right FROM mlm.run_carry WHERE run_id = %s', :run2),
              $$VALUES (2::bigint, 150::numeric, 0::numeric), (3, 800, 1200)$$, 'next period carry-out');
SELECT throws_ok($$SELECT mlm.close('close_bin', '2024-02', '2024-02-01', '2024-02-29', 'close_erp')$$, '55000',
                 format('plan "close_bin" has a finalized later period "2024-03" (run %s): period "2024-02" can no longer be closed', :run1),
                 'a period before a finalized one cannot be closed');

-- ---------------------------------------------------------------------------
-- Adjustments
-- ---------------------------------------------------------------------------
SELECT mlm.adjust(:run1, 2, 10.50, 'late order #4711') AS adj1 \gset
SELECT ok(:adj1::bigint > 0, 'adjust returns the adjustment id');
SELECT results_eq(format('SELECT paid, adjustments, total FROM mlm.payout_totals WHERE run_id = %s AND member_id = 2', :run1),
                  $$VALUES (50.00, 10.50, 60.50)$$, 'the adjustment appears in the member''s payout total');
SELECT results_eq(format('SELECT total_paid, adjustments, total, adjustment_count FROM mlm.run_totals WHERE run_id = %s', :run1),
                  $$VALUES (170.00, 10.50, 180.50, 1::bigint)$$, 'the adjustment appears in the run total');
SELECT lives_ok(format('SELECT mlm.adjust(%s, 2, -10.50, %L)', :run1, 'reverses adjustment ' || :adj1),
                'a wrong adjustment is reversed by another one');
SELECT is((SELECT total FROM mlm.run_totals WHERE run_id = :run1), 170.00, 'reversal nets out');
SELECT throws_ok(format('UPDATE mlm.adjustment SET amount = 1 WHERE adjustment_id = %s', :adj1), '55000', NULL,
                 'adjustments cannot be updated');
SELECT throws_ok(format('DELETE FROM mlm.adjustment WHERE adjustment_id = %s', :adj1), '55000', NULL,
                 'adjustments cannot be deleted');
SELECT throws_ok(format('SELECT mlm.adjust(%s, 2, 0, %L)', :run1, 'x'), '22023', NULL, 'a zero adjustment is refused');
SELECT throws_ok(format('SELECT mlm.adjust(%s, 2, 1.005, %L)', :run1, 'x'), '22023',
                 'amount 1.005 has more than 2 decimals (the currency scale of plan "close_bin")', 'amounts keep the currency scale');
SELECT throws_ok(format('SELECT mlm.adjust(%s, 2, 1, %L)', :run1, ' '), '22023', 'an adjustment needs a reason', 'a reason is required');
SELECT throws_ok(format('SELECT mlm.adjust(%s, 99, 1, %L)', :run1, 'x'), '22023',
                 format('member 99 was not part of run %s', :run1), 'only members of the run can be adjusted');
SELECT throws_ok($$SELECT mlm.adjust(-1, 2, 1, 'x')$$, '42704', 'run -1 does not exist', 'adjust: unknown run');

-- ---------------------------------------------------------------------------
-- Finalize order and stale carry
-- ---------------------------------------------------------------------------
INSERT INTO erp_t.volumes SELECT member_id, pv, cv, rv, '2024-05' FROM ex_volumes;
INSERT INTO erp_t.volumes SELECT member_id, pv, cv, rv, '2024-06' FROM ex_volumes;
SELECT mlm.close('close_bin', '2024-06', '2024-06-01', '2024-06-30', 'close_erp') AS run4 \gset
SELECT throws_ok(format('SELECT mlm.finalize(%s)', :run4), '55000',
                 format('period "2024-04" of plan "close_bin" (run %s) is an earlier draft: finalize or discard it first', :run2),
                 'periods are finalized in date order');
SELECT lives_ok(format('SELECT mlm.finalize(%s)', :run2), 'finalize April');
SELECT mlm.close('close_bin', '2024-05', '2024-05-01', '2024-05-31', 'close_erp') AS run3 \gset
SELECT lives_ok(format('SELECT mlm.finalize(%s)', :run3), 'finalize May (carry from April)');
SELECT throws_ok(format('SELECT mlm.finalize(%s)', :run4), '55000',
                 format('run %s is stale: its carry-in came from run %s, but the latest finalized earlier period is now run %s', :run4, :run1, :run3),
                 'a draft computed before the previous period was finalized is stale');
SELECT is(mlm.close('close_bin', '2024-06', '2024-06-01', '2024-06-30', 'close_erp'), :run4::bigint, 're-close June');
SELECT is((SELECT carry_from_run_id FROM mlm.run WHERE run_id = :run4), :run3::bigint, 'June now takes its carry from May');
SELECT lives_ok(format('SELECT mlm.finalize(%s)', :run4), 'then it can be finalized');

SELECT mlm.close('close_bin', '2024-07', '2024-07-01', '2024-07-31', 'close_erp') AS run5 \gset
SELECT lives_ok(format('SELECT mlm.discard_draft(%s)', :run5), 'a draft can be discarded');
SELECT ok(NOT EXISTS (SELECT 1 FROM mlm.run WHERE run_id = :run5), 'the discarded draft is gone');
SELECT is((SELECT count(*) FROM mlm.run_member WHERE run_id = :run5), 0::bigint, 'with its rows');

-- An ERP without members yet: an empty run, not an error.
CREATE TABLE erp_t.no_members (id bigint, sponsor_id bigint);
CREATE TABLE erp_t.no_volumes (member_id bigint, pv numeric, cv numeric, period text);
SELECT mlm.register_source('close_empty', 'erp_t.no_members', 'erp_t.no_volumes', 'period');
SELECT mlm.add_plan_version('close_empty', '{"ranks": [{"name": "M"}], "bonuses": [{"name": "r", "type": "personal", "rate": 0.1}]}') \gset
SELECT mlm.close('close_empty', '2031-01', '2031-01-01', '2031-01-31', 'close_empty') AS run_empty \gset
SELECT results_eq(format('SELECT member_rows, volume_rows, total_paid, payout_rows FROM mlm.run WHERE run_id = %s', :run_empty),
                  $$VALUES (0::bigint, 0::bigint, 0::numeric, 0::bigint)$$, 'a close of an empty network is an empty run');
SELECT lives_ok(format('SELECT mlm.discard_draft(%s)', :run_empty), 'and can be discarded');

-- A computation that fails (a volume row of a non-member, spec section 2)
-- writes nothing.
INSERT INTO erp_t.volumes VALUES (999, 1, 1, 0, '2024-08');
SELECT erp_t.written() AS written_before \gset
SELECT throws_ok($$SELECT mlm.close('close_bin', '2024-08', '2024-08-01', '2024-08-31', 'close_erp')$$,
                 '23503', 'volume rows for ids that are not members', 'a close whose inputs are invalid fails');
SELECT is(erp_t.written(), :written_before::bigint, 'and writes nothing');
-- the periods of a plan are finalized without gaps (the state counts
-- periods): July and August, before September is closed below
DELETE FROM erp_t.volumes WHERE member_id = 999;
SELECT mlm.finalize(mlm.close('close_bin', '2024-07', '2024-07-01', '2024-07-31', 'close_erp')) IS NOT NULL AS july \gset
SELECT mlm.finalize(mlm.close('close_bin', '2024-08', '2024-08-01', '2024-08-31', 'close_erp')) IS NOT NULL AS august \gset

-- ---------------------------------------------------------------------------
-- search_path safety: a hostile schema first on the path changes nothing
-- ---------------------------------------------------------------------------
CREATE SCHEMA close_evil;
CREATE FUNCTION close_evil.texteq(text, text) RETURNS boolean LANGUAGE plpgsql AS
  $$BEGIN RAISE EXCEPTION 'captured by close_evil'; END$$;
CREATE OPERATOR close_evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = close_evil.texteq);
CREATE FUNCTION close_evil.int8eq(bigint, bigint) RETURNS boolean LANGUAGE plpgsql AS
  $$BEGIN RAISE EXCEPTION 'captured by close_evil'; END$$;
CREATE OPERATOR close_evil.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = close_evil.int8eq);
CREATE TABLE close_evil.run (run_id bigint);
CREATE TABLE close_evil.source (source_name text);
CREATE FUNCTION close_evil.now() RETURNS timestamptz LANGUAGE plpgsql AS
  $$BEGIN RAISE EXCEPTION 'captured by close_evil'; END$$;
-- runs a statement with the hostile schema before pg_catalog
CREATE FUNCTION erp_t.with_evil_path(stmt text) RETURNS text LANGUAGE plpgsql
SET search_path = close_evil, pg_catalog, public AS $$
BEGIN
  EXECUTE stmt;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLERRM;
END $$;
SELECT is(erp_t.with_evil_path($$SELECT 1 WHERE 'a'::text = 'a'::text$$), 'captured by close_evil',
          'the hostile schema does capture unqualified operators');
SELECT is(erp_t.with_evil_path($$SELECT mlm.close('close_bin', '2024-09', '2024-09-01', '2024-09-30', 'close_erp')$$),
          'ok', 'close is immune to the caller''s search_path');
SELECT is(erp_t.with_evil_path($$SELECT count(*) FROM mlm.preview('close_bin', '2024-09', '2024-09-01', '2024-09-30', 'close_erp')$$),
          'ok', 'preview is immune to the caller''s search_path');
SELECT is(erp_t.with_evil_path($$SELECT mlm.plan('close_bin')$$), 'ok', 'plan is immune to the caller''s search_path');
SELECT is(erp_t.with_evil_path($$SELECT count(*) FROM mlm.plan_versions('close_bin')$$), 'ok',
          'plan_versions is immune to the caller''s search_path');
SELECT is(erp_t.with_evil_path($$SELECT mlm.register_source('close_erp', 'erp_t.members', 'erp_t.volumes', 'period', 'erp_t.opening', replace => true)$$),
          'ok', 'register_source is immune to the caller''s search_path');

-- ---------------------------------------------------------------------------
-- Least privilege (roles as in docs/security.md, created in this
-- transaction)
-- ---------------------------------------------------------------------------
CREATE ROLE close_t_reader NOLOGIN;
GRANT USAGE ON SCHEMA mlm TO close_t_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA mlm TO close_t_reader;
CREATE ROLE close_t_operator NOLOGIN IN ROLE close_t_reader;
GRANT EXECUTE ON FUNCTION mlm.close(text, text, date, date, text, boolean, integer, boolean),
                          mlm.finalize(bigint, boolean), mlm.finalize(text, text, boolean),
                          mlm.adjust(bigint, bigint, numeric, text), mlm.discard_draft(bigint)
  TO close_t_operator;
CREATE ROLE close_t_outsider NOLOGIN;
GRANT USAGE ON SCHEMA erp_t TO close_t_reader;

-- runs a statement as a role; returns 'ok' or the SQLSTATE (pgTAP's own
-- bookkeeping stays with the superuser)
CREATE FUNCTION erp_t.as_role(r text, stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  res text := 'ok';
BEGIN
  EXECUTE format('SET LOCAL ROLE %I', r);
  BEGIN
    EXECUTE stmt;
  EXCEPTION WHEN OTHERS THEN
    res := SQLSTATE;
  END;
  RESET ROLE;
  RETURN res;
END $$;

SELECT is(erp_t.as_role('close_t_reader', format('SELECT total FROM mlm.run_totals WHERE run_id = %s', :run1)), 'ok',
          'the reader reads the totals');
SELECT is(erp_t.as_role('close_t_reader', 'SELECT count(*) FROM mlm.payout_totals'), 'ok', 'the reader reads the payouts');
SELECT is(erp_t.as_role('close_t_reader', $$SELECT mlm.close('close_bin', '2024-10', '2024-10-01', '2024-10-31', 'close_erp')$$),
          '42501', 'the reader cannot close');
SELECT is(erp_t.as_role('close_t_reader', $$SELECT mlm.finalize('close_bin', '2024-09')$$), '42501', 'the reader cannot finalize');
SELECT is(erp_t.as_role('close_t_reader', format('SELECT mlm.adjust(%s, 2, 1, %L)', :run1, 'x')), '42501', 'the reader cannot adjust');
SELECT is(erp_t.as_role('close_t_reader', $$SELECT mlm.add_plan_version('close_bin', '{}')$$), '42501',
          'the reader cannot add plan versions');
SELECT is(erp_t.as_role('close_t_reader', 'DELETE FROM mlm.run_payout'), '42501', 'the reader cannot write the tables');
SELECT is(erp_t.as_role('close_t_operator', $$SELECT mlm.close('close_bin', '2024-10', '2024-10-01', '2024-10-31', 'close_erp')$$),
          'ok', 'the operator closes (through the function)');
SELECT is(erp_t.as_role('close_t_operator', $$SELECT mlm.finalize('close_bin', '2024-09')$$), 'ok', 'the operator finalizes');
SELECT is((SELECT run_by FROM mlm.run WHERE plan_name = 'close_bin' AND period_label = '2024-10'), session_user,
          'run_by is the login role');
SELECT is(erp_t.as_role('close_t_operator', format('INSERT INTO mlm.run_payout VALUES (%s, 3, %L, 1.00)', :run1, 'forged')),
          '42501', 'the operator cannot write the tables directly');
SELECT is(erp_t.as_role('close_t_operator', $$SELECT mlm.add_plan_version('close_bin', '{}')$$), '42501',
          'the operator cannot add plan versions');
SELECT is(erp_t.as_role('close_t_operator', $$SELECT mlm.register_source('close_y', 'erp_t.members', 'erp_t.volumes', 'period')$$),
          '42501', 'the operator cannot register sources');
SELECT is(erp_t.as_role('close_t_outsider', 'SELECT count(*) FROM mlm.run_payout'), '42501', 'a role without grants reads nothing');

CREATE ROLE close_t_admin NOLOGIN IN ROLE close_t_operator;
GRANT EXECUTE ON FUNCTION mlm.add_plan_version(text, jsonb),
                          mlm.register_source(text, regclass, regclass, text, regclass, boolean, text)
  TO close_t_admin;
GRANT INSERT, UPDATE, DELETE ON mlm.source TO close_t_admin;
GRANT SELECT ON erp_t.members, erp_t.volumes TO close_t_admin;
SELECT is(erp_t.as_role('close_t_admin', $$SELECT mlm.register_source('close_adm', 'erp_t.members', 'erp_t.volumes', 'period')$$),
          'ok', 'the admin registers sources');
SELECT is(erp_t.as_role('close_t_admin', $$SELECT mlm.register_source('close_adm2', 'erp_t.members', 'erp_t.volumes', 'period', 'erp_t.opening')$$),
          '42501', 'but only relations it may read');
SELECT is(erp_t.as_role('close_t_admin', format('SELECT mlm.add_plan_version(%L, %L)', 'close_adm', :'plan_c')),
          'ok', 'the admin adds plan versions');
SELECT is((SELECT created_by FROM mlm.plan_version WHERE plan_name = 'close_adm'), session_user,
          'created_by is the login role');

-- A view of any owner is accepted: a close reads it as its owner (see
-- test/pgtap/security.sql), so its code never runs with more rights.
CREATE VIEW erp_t.outsider_volumes AS SELECT * FROM erp_t.volumes;
ALTER VIEW erp_t.outsider_volumes OWNER TO close_t_outsider;
SELECT lives_ok($$SELECT mlm.register_source('close_x', 'erp_t.members', 'erp_t.outsider_volumes', 'period')$$,
                'views owned by untrusted roles are accepted as inputs');

SELECT * FROM finish();
ROLLBACK;
