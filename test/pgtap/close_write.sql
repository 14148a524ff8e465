-- test/pgtap/close_write.sql
--
-- The close's writer (src/close_write.c, mlm._close_source and
-- mlm._delete_run_rows): the rows a close writes straight into the run
-- tables are exactly the rows mlm.compute returns for the same period
-- (payouts, member results, carry-out, audit lines numbered in mlm.compute's
-- order, bonus totals, the grand total in the header), over several batches
-- of every table; a re-close leaves exactly the rows mlm.compute returns
-- for the new inputs (also twice in one transaction, with lines dropped,
-- with members joining and volume rows removed) and keeps the rows that did
-- not change where they are (the same tuple ids: none at all are written
-- for unchanged inputs); a discard leaves none; the writer refuses
-- finalized and missing runs and is not executable by PUBLIC.
--
-- Run as a superuser in a database with pgtap and mlm:
--   pg_prove -d <db> test/pgtap/close_write.sql
-- Everything happens in one transaction that is rolled back.

\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off

BEGIN;
SET LOCAL client_min_messages = warning;

SELECT plan(59);

-- 4,000 members (more than the writer's batch of 1,000 rows in every table
-- but the bonus totals): sponsor a random earlier member, placement a
-- complete binary tree, so every kind of bonus and a carry-out are paid.
SELECT setseed(0.13);
CREATE SCHEMA erp_w;
CREATE TABLE erp_w.members AS
SELECT g::bigint AS id,
       CASE WHEN g > 1 THEN 1 + floor(random() * (g - 1))::bigint END AS sponsor_id,
       CASE WHEN g > 1 THEN (g / 2)::bigint END AS placement_id,
       CASE WHEN g > 1 THEN g % 2 END AS position,
       random() < 0.95 AS active_status,
       date '2024-03-31' - floor(random() * 400)::int AS joined
  FROM generate_series(1, 4000) g;
CREATE TABLE erp_w.volumes AS
SELECT id AS member_id, round((random() * 120)::numeric, 2) AS pv,
       round((random() * 150)::numeric, 2) AS cv, '2024-03'::text AS period
  FROM erp_w.members;
-- the same period as the relations the preview functions read
CREATE VIEW erp_w.march AS SELECT member_id, pv, cv FROM erp_w.volumes WHERE period = '2024-03';

SELECT mlm.add_plan_version('w', '{
  "currency": {"scale": 2, "rounding": "half_up"},
  "active": {"min_pv": 50},
  "ranks": [{"name": "Member"}, {"name": "Bronze", "min_pv": 50, "min_active_frontline": 2},
            {"name": "Silver", "min_pv": 50, "min_gv": 1000}],
  "bonuses": [
    {"name": "retail", "type": "personal", "rate": 0.05},
    {"name": "unilevel", "type": "unilevel", "compression": "dynamic", "rates": [0.10, 0.05, 0.03]},
    {"name": "stairstep", "type": "differential", "rate_by_rank": {"Bronze": 0.05, "Silver": 0.10}},
    {"name": "binary", "type": "binary", "rate": 0.10, "cap": 300, "max_carry": 5000},
    {"name": "match", "type": "matching", "of": ["unilevel"], "rates": [0.20, 0.10]},
    {"name": "fast_start", "type": "fast_start", "days": 30, "rates": [0.20]},
    {"name": "pool", "type": "pool", "pct": 0.02, "min_rank": "Silver", "shares": "equal"}],
  "cap": {"pct": 0.05}}');
SELECT mlm.register_source('erp_w', 'erp_w.members', 'erp_w.volumes', 'period');

-- what mlm.compute says about the period with the inputs as they are now
-- (expect: its rows in order; expect_line: the lines numbered as a close
-- numbers them)
CREATE PROCEDURE pg_temp.expect_now() LANGUAGE plpgsql AS $$
BEGIN
    DROP TABLE IF EXISTS expect, expect_line;
    CREATE TEMP TABLE expect AS
    SELECT row_number() OVER () AS seq, c.*
      FROM mlm.compute(mlm.plan('w'), 'erp_w.members', 'erp_w.march', '2024-03-01', '2024-03-31', NULL, true) c;
    CREATE TEMP TABLE expect_line AS
    SELECT row_number() OVER (ORDER BY seq) AS line_no, member_id, bonus, source_id, level, base, rate, amount
      FROM expect WHERE kind = 'line';
END $$;
CALL pg_temp.expect_now();

SELECT ok((SELECT count(*) FROM expect WHERE kind = k) > 1000, 'more than a batch of ' || k || ' rows')
  FROM unnest(ARRAY['payout', 'member', 'line']) k;
SELECT ok((SELECT count(*) FROM expect WHERE kind = 'carry') > 100, 'carry rows');

-- the close, with lines
SELECT is(mlm.close('w', '2024-03', '2024-03-01', '2024-03-31', 'erp_w', with_lines => true) > 0, true, 'closed with lines');
CREATE TEMP TABLE rid AS SELECT run_id FROM mlm.run WHERE plan_name = 'w';

-- the rows lock (see _run_rows_lock): the close holds it shared, and the
-- writer in C computes the same key as the SQL (one lock, not two)
CREATE VIEW pg_temp.my_advisory AS
SELECT mode, (classid::bigint << 32) | objid::bigint AS key
  FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND objsubid = 1;
SELECT is((SELECT string_agg(mode, ',') FROM pg_temp.my_advisory WHERE key = hashtextextended('mlm.run rows', 0)),
          'ShareLock', 'a close holds the rows lock shared');
SELECT is((SELECT count(*) FROM pg_temp.my_advisory WHERE mode = 'ShareLock'), 1::bigint,
          'the writer takes the same rows lock as mlm.close');

CREATE FUNCTION pg_temp.same_rows(what text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    q_run text; q_exp text; n bigint; m bigint;
BEGIN
    CASE what
    WHEN 'payout' THEN
        q_run := 'SELECT member_id, bonus, amount FROM mlm.run_payout WHERE run_id = (SELECT run_id FROM rid)';
        q_exp := 'SELECT member_id, bonus, amount FROM expect WHERE kind = ''payout''';
    WHEN 'member' THEN
        q_run := 'SELECT member_id, pv, gv, active, rank, amount FROM mlm.run_member WHERE run_id = (SELECT run_id FROM rid)';
        q_exp := 'SELECT member_id, pv, gv, active, rank, amount FROM expect WHERE kind = ''member''';
    WHEN 'carry' THEN
        q_run := 'SELECT member_id, carry_left, carry_right FROM mlm.run_carry WHERE run_id = (SELECT run_id FROM rid)';
        q_exp := 'SELECT member_id, carry_left, carry_right FROM expect WHERE kind = ''carry''';
    WHEN 'line' THEN
        q_run := 'SELECT line_no, member_id, bonus, source_id, level, base, rate, amount FROM mlm.run_line WHERE run_id = (SELECT run_id FROM rid)';
        q_exp := 'SELECT line_no, member_id, bonus, source_id, level, base, rate, amount FROM expect_line';
    WHEN 'total' THEN
        q_run := 'SELECT bonus, total_before_cap, total_paid FROM mlm.run_bonus_total WHERE run_id = (SELECT run_id FROM rid)';
        q_exp := 'SELECT bonus, base, amount FROM expect WHERE kind = ''total'' AND bonus IS NOT NULL';
    END CASE;
    -- equal as multisets, compared value by value (scale included, as text)
    EXECUTE format('SELECT count(*) FROM ((SELECT x::text FROM (%s) x EXCEPT ALL SELECT y::text FROM (%s) y)
                    UNION ALL (SELECT y::text FROM (%s) y EXCEPT ALL SELECT x::text FROM (%s) x)) d',
                   q_run, q_exp, q_exp, q_run) INTO n;
    EXECUTE format('SELECT count(*) FROM (%s) x', q_run) INTO m;
    RETURN format('%s rows, %s differences', m, n);
END $$;

SELECT is(pg_temp.same_rows('payout'), (SELECT count(*) FROM expect WHERE kind = 'payout') || ' rows, 0 differences', 'payouts = mlm.compute');
SELECT is(pg_temp.same_rows('member'), (SELECT count(*) FROM expect WHERE kind = 'member') || ' rows, 0 differences', 'member results = mlm.compute');
SELECT is(pg_temp.same_rows('carry'), (SELECT count(*) FROM expect WHERE kind = 'carry') || ' rows, 0 differences', 'carry-out = mlm.compute');
SELECT is(pg_temp.same_rows('line'), (SELECT count(*) FROM expect_line) || ' rows, 0 differences', 'lines = mlm.compute, numbered in its order');
SELECT is(pg_temp.same_rows('total'), '7 rows, 0 differences', 'bonus totals = mlm.compute');

SELECT is((SELECT (r.payout_rows, r.member_result_rows, r.carry_out_rows, r.line_rows, r.bonus_rows)::text
             FROM mlm.run r WHERE r.run_id = (SELECT run_id FROM rid)),
          (SELECT (count(*) FILTER (WHERE kind = 'payout'), count(*) FILTER (WHERE kind = 'member'),
                   count(*) FILTER (WHERE kind = 'carry'), count(*) FILTER (WHERE kind = 'line'),
                   count(*) FILTER (WHERE kind = 'total' AND bonus IS NOT NULL))::text FROM expect),
          'header row counts = mlm.compute');
SELECT is((SELECT (r.member_rows, r.volume_rows, r.input_checksum, r.total_cv, r.total_before_cap, r.total_paid,
                   r.cap_limit, r.cap_factor)::text
             FROM mlm.run r WHERE r.run_id = (SELECT run_id FROM rid)),
          (SELECT (t.member_rows, t.volume_rows, t.input_checksum, t.total_cv, t.total_before_cap, t.total_paid,
                   t.cap_limit, t.cap_factor)::text
             FROM mlm.totals(mlm.plan('w'), 'erp_w.members', 'erp_w.march', '2024-03-01', '2024-03-31') t),
          'header totals = mlm.totals');
SELECT is((SELECT mlm.size(snapshot) FROM mlm.run WHERE run_id = (SELECT run_id FROM rid)), 4000, 'snapshot of every member');
SELECT ok((SELECT cap_factor IS NOT NULL FROM mlm.run WHERE run_id = (SELECT run_id FROM rid)), 'the cap applied (factor recorded)');

-- the table statistics count the rows (autovacuum and the planner see them)
SELECT ok((SELECT n_tup_ins FROM pg_stat_xact_user_tables WHERE relid = 'mlm.run_line_pack'::regclass)
          >= (SELECT count(*) FROM mlm.run_line_pack WHERE run_id = (SELECT run_id FROM rid)),
          'inserted rows are counted in the statistics');

-- the lines are packed: a recipient's lines of one bonus, consecutive in
-- line number order, in as few rows as the size of a row allows (a row is
-- cut only when the next line would make it TOASTed), none moved out of line
SELECT is((SELECT count(*) FROM (
             SELECT bonus, octet_length(data) AS size,
                    lead(bonus) OVER (PARTITION BY member_id ORDER BY first_line) AS next_bonus
               FROM mlm.run_line_pack WHERE run_id = (SELECT run_id FROM rid)) x
            WHERE next_bonus = bonus AND size < 1800),
          0::bigint, 'a row of lines is cut only where the recipient or the bonus changes, or when it is full');
SELECT ok((SELECT count(*) FROM (SELECT member_id, bonus FROM mlm.run_line_pack WHERE run_id = (SELECT run_id FROM rid)
                                  GROUP BY 1, 2 HAVING count(*) > 1) x) > 0,
          'some recipients have more lines of a bonus than one row holds');
SELECT is((SELECT max(pg_column_size(p.*)) < 2032 FROM mlm.run_line_pack p WHERE run_id = (SELECT run_id FROM rid)),
          true, 'no row of lines is large enough to be TOASTed');
SELECT is(pg_relation_size((SELECT reltoastrelid FROM pg_class WHERE oid = 'mlm.run_line_pack'::regclass)),
          0::bigint, 'nothing of the lines is stored out of line');
SELECT is((SELECT count(*) FROM (
             SELECT (SELECT max(l.line_no) FROM mlm._unpack_lines(p.member_id, p.first_line, p.lines, p.data) l) AS last_line,
                    lead(p.first_line) OVER (PARTITION BY p.member_id ORDER BY p.first_line) AS next_first
               FROM mlm.run_line_pack p WHERE p.run_id = (SELECT run_id FROM rid)) x
            WHERE last_line >= next_first),
          0::bigint, 'the rows of a recipient do not interleave: each holds consecutive lines of the recipient');
SELECT is((SELECT sum(lines) FROM mlm.run_line_pack WHERE run_id = (SELECT run_id FROM rid)),
          (SELECT count(*) FROM expect_line), 'the packed rows count every line once');
SELECT ok((SELECT avg(lines) FROM mlm.run_line_pack WHERE run_id = (SELECT run_id FROM rid)) > 2,
          'several lines to a row on average');

-- a re-close of unchanged inputs keeps every row where it is: nothing is
-- deleted or inserted (the same tuple ids, in every table)
CREATE FUNCTION pg_temp.run_tids() RETURNS TABLE (t text, tid text) LANGUAGE sql AS $$
SELECT 'payout', ctid::text FROM mlm.run_payout WHERE run_id = (SELECT run_id FROM rid)
UNION ALL SELECT 'member', ctid::text FROM mlm.run_member WHERE run_id = (SELECT run_id FROM rid)
UNION ALL SELECT 'carry', ctid::text FROM mlm.run_carry WHERE run_id = (SELECT run_id FROM rid)
UNION ALL SELECT 'line', ctid::text FROM mlm.run_line_pack WHERE run_id = (SELECT run_id FROM rid)
UNION ALL SELECT 'total', ctid::text FROM mlm.run_bonus_total WHERE run_id = (SELECT run_id FROM rid)
$$;
CREATE TEMP TABLE first_tids AS SELECT * FROM pg_temp.run_tids();
CREATE TEMP TABLE first_members AS
SELECT m.member_id, m.ctid::text AS tid, m::text AS row FROM mlm.run_member m WHERE m.run_id = (SELECT run_id FROM rid);
SELECT is(mlm.close('w', '2024-03', '2024-03-01', '2024-03-31', 'erp_w', with_lines => true), (SELECT run_id FROM rid),
          're-close of unchanged inputs');
SELECT is((SELECT count(*) FROM ((SELECT * FROM first_tids EXCEPT ALL SELECT * FROM pg_temp.run_tids())
                                 UNION ALL (SELECT * FROM pg_temp.run_tids() EXCEPT ALL SELECT * FROM first_tids)) d),
          0::bigint, 'unchanged inputs: every row of every table kept in place');
SELECT ok((SELECT count(*) FROM first_tids WHERE t = 'line') > 1000, 'and they are many');
SELECT is(pg_temp.same_rows('payout'), (SELECT count(*) FROM expect WHERE kind = 'payout') || ' rows, 0 differences', 'unchanged re-close: payouts = mlm.compute');
SELECT is(pg_temp.same_rows('line'), (SELECT count(*) FROM expect_line) || ' rows, 0 differences', 'unchanged re-close: lines = mlm.compute');

-- a re-close after a late order leaves exactly the new results
INSERT INTO erp_w.volumes VALUES (17, 500, 900, '2024-03'), (3999, 80, 80, '2024-03');
CALL pg_temp.expect_now();
SELECT is(mlm.close('w', '2024-03', '2024-03-01', '2024-03-31', 'erp_w', with_lines => true), (SELECT run_id FROM rid), 're-close keeps the run_id');
SELECT is((SELECT attempt FROM mlm.run WHERE run_id = (SELECT run_id FROM rid)), 3, 'third attempt');
SELECT is(pg_temp.same_rows('payout'), (SELECT count(*) FROM expect WHERE kind = 'payout') || ' rows, 0 differences', 're-close: payouts = mlm.compute');
SELECT is(pg_temp.same_rows('member'), (SELECT count(*) FROM expect WHERE kind = 'member') || ' rows, 0 differences', 're-close: member results = mlm.compute');
SELECT is(pg_temp.same_rows('carry'), (SELECT count(*) FROM expect WHERE kind = 'carry') || ' rows, 0 differences', 're-close: carry-out = mlm.compute');
SELECT is(pg_temp.same_rows('line'), (SELECT count(*) FROM expect_line) || ' rows, 0 differences', 're-close: lines = mlm.compute');
SELECT is(pg_temp.same_rows('total'), '7 rows, 0 differences', 're-close: bonus totals = mlm.compute');
SELECT is((SELECT total_paid FROM mlm.run WHERE run_id = (SELECT run_id FROM rid)),
          (SELECT amount FROM expect WHERE kind = 'total' AND bonus IS NULL), 're-close: header total');
-- a member row stays in place exactly when its values did not change
SELECT is((SELECT count(*) FROM mlm.run_member m JOIN first_members f USING (member_id)
            WHERE m.run_id = (SELECT run_id FROM rid) AND (f.row = m::text) <> (f.tid = m.ctid::text)),
          0::bigint, 'late order: a member row is kept exactly when it did not change');
SELECT ok((SELECT count(*) FROM mlm.run_member m JOIN first_members f USING (member_id)
            WHERE m.run_id = (SELECT run_id FROM rid) AND f.tid = m.ctid::text) > 0
          AND (SELECT count(*) FROM mlm.run_member m JOIN first_members f USING (member_id)
            WHERE m.run_id = (SELECT run_id FROM rid) AND f.tid <> m.ctid::text) > 0,
          'late order: some member rows kept, some replaced');

-- and once more without lines, in the same transaction: the lines go
SELECT is(mlm.close('w', '2024-03', '2024-03-01', '2024-03-31', 'erp_w'), (SELECT run_id FROM rid), 'third close, lines off');
SELECT is((SELECT count(*) FROM mlm.run_line WHERE run_id = (SELECT run_id FROM rid)), 0::bigint, 'no lines left');
SELECT is((SELECT line_rows FROM mlm.run WHERE run_id = (SELECT run_id FROM rid)), 0::bigint, 'header: 0 lines');
SELECT is(pg_temp.same_rows('payout'), (SELECT count(*) FROM expect WHERE kind = 'payout') || ' rows, 0 differences', 'third close: payouts = mlm.compute');

-- a member joins (placed at the free right of 2000), another's volume row
-- is removed; closed again with lines
INSERT INTO erp_w.members VALUES (4001, 42, 2000, 1, true, date '2024-03-20');
INSERT INTO erp_w.volumes VALUES (4001, 300, 300, '2024-03');
DELETE FROM erp_w.volumes WHERE member_id = 5;
CALL pg_temp.expect_now();
SELECT is(mlm.close('w', '2024-03', '2024-03-01', '2024-03-31', 'erp_w', with_lines => true), (SELECT run_id FROM rid), 'fourth close, lines on');
SELECT is(pg_temp.same_rows('payout'), (SELECT count(*) FROM expect WHERE kind = 'payout') || ' rows, 0 differences', 'joined and left: payouts = mlm.compute');
SELECT is(pg_temp.same_rows('member'), (SELECT count(*) FROM expect WHERE kind = 'member') || ' rows, 0 differences', 'joined and left: member results = mlm.compute');
SELECT is(pg_temp.same_rows('carry'), (SELECT count(*) FROM expect WHERE kind = 'carry') || ' rows, 0 differences', 'joined and left: carry-out = mlm.compute');
SELECT is(pg_temp.same_rows('line'), (SELECT count(*) FROM expect_line) || ' rows, 0 differences', 'joined and left: lines = mlm.compute');
SELECT is(pg_temp.same_rows('total'), '7 rows, 0 differences', 'joined and left: bonus totals = mlm.compute');

-- a discard leaves nothing
SELECT lives_ok($$SELECT mlm.discard_draft((SELECT run_id FROM rid))$$, 'discard the draft');
SELECT is((SELECT count(*) FROM mlm.run_payout WHERE run_id = (SELECT run_id FROM rid))
        + (SELECT count(*) FROM mlm.run_member WHERE run_id = (SELECT run_id FROM rid))
        + (SELECT count(*) FROM mlm.run_carry WHERE run_id = (SELECT run_id FROM rid))
        + (SELECT count(*) FROM mlm.run_line WHERE run_id = (SELECT run_id FROM rid))
        + (SELECT count(*) FROM mlm.run_bonus_total WHERE run_id = (SELECT run_id FROM rid))
        + (SELECT count(*) FROM mlm.run WHERE run_id = (SELECT run_id FROM rid)), 0::bigint,
          'a discarded draft leaves no row');

-- the writer refuses finalized and missing runs
TRUNCATE rid;
INSERT INTO rid SELECT mlm.close('w', '2024-03', '2024-03-01', '2024-03-31', 'erp_w');
SELECT lives_ok($$SELECT mlm.finalize((SELECT run_id FROM rid))$$, 'finalize');
SELECT throws_ok($$SELECT mlm._delete_run_rows((SELECT run_id FROM rid))$$, '55000', NULL,
                 'the rows of a final run cannot be deleted through the writer');
SELECT throws_ok($$SELECT * FROM mlm._close_source(mlm.plan('w'), 'erp_w.members', 'erp_w.volumes', 'period', '2024-03',
                   '2024-03-01', '2024-03-31', NULL, NULL, false, (SELECT run_id FROM rid))$$, '55000', NULL,
                 'no rows can be added to a final run through the writer');
SELECT throws_ok($$SELECT * FROM mlm._close_source(mlm.plan('w'), 'erp_w.members', 'erp_w.volumes', 'period', '2024-03',
                   '2024-03-01', '2024-03-31', NULL, NULL, false, -1)$$, '23503', NULL,
                 'the writer refuses a run that does not exist');
SELECT is((SELECT count(*) FROM mlm.run_member WHERE run_id = (SELECT run_id FROM rid)), (SELECT count(*) FROM erp_w.members), 'the final run keeps its rows');

-- any other writer of a result table takes the rows lock exclusively
INSERT INTO rid SELECT mlm.close('w', '2024-04', '2024-04-01', '2024-04-30', 'erp_w');
INSERT INTO mlm.run_bonus_total (run_id, bonus, total_before_cap, total_paid)
SELECT max(run_id), 'by hand', 0, 0 FROM rid;
SELECT is((SELECT string_agg(mode, ',' ORDER BY mode) FROM pg_temp.my_advisory WHERE key = hashtextextended('mlm.run rows', 0)),
          'ExclusiveLock,ShareLock', 'an INSERT by hand takes the rows lock exclusively');

-- not executable by PUBLIC
CREATE ROLE cw_nobody;
SELECT ok(NOT has_function_privilege('cw_nobody', 'mlm._close_source(jsonb, regclass, regclass, text, text, date, date, text, regclass, boolean, bigint)', 'EXECUTE'),
          'PUBLIC may not execute mlm._close_source');
SELECT ok(NOT has_function_privilege('cw_nobody', 'mlm._delete_run_rows(bigint)', 'EXECUTE'),
          'PUBLIC may not execute mlm._delete_run_rows');

SELECT * FROM finish();
ROLLBACK;
