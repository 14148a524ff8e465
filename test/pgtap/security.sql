-- test/pgtap/security.sql
--
-- Least privilege against a hostile owner of the ERP tables.  mlm.close is
-- SECURITY DEFINER (it writes the history as the extension owner); it must
-- never run anything of an input relation with more privilege than the
-- relation's owner has.  The owner of the ERP tables (sec_erp, a plain role)
-- plants a function that logs who runs it and tries to make itself a
-- superuser, behind every route a read can reach: a partial-index predicate,
-- an index expression, an expression statistics object, a partition key, a
-- column default, a trigger, a view's own function call and a row security
-- policy under a view.  An operator that may only execute mlm.close closes
-- the period; then nothing ran as a superuser, everything that ran ran as
-- sec_erp, and sec_erp is still not a superuser.  Also: the checks of
-- register_source hold for rows written directly into mlm.source, inputs
-- are read as SELECT reads them (inheritance children, unpopulated
-- materialized views), adjustments and period dates must be finite, and
-- id columns of a domain type are accepted.
--
-- Run as a superuser in a database with pgtap and mlm; everything happens in
-- one transaction that is rolled back.

\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off

BEGIN;
SET LOCAL client_min_messages = warning;

SELECT plan(37);

-- Runs a statement as a role; returns 'ok' or 'SQLSTATE: message'.
CREATE FUNCTION pg_temp.as_role(r text, stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  res text := 'ok';
BEGIN
  EXECUTE format('SET LOCAL ROLE %I', r);
  BEGIN
    EXECUTE stmt;
  EXCEPTION WHEN OTHERS THEN
    res := SQLSTATE || ': ' || SQLERRM;
  END;
  RESET ROLE;
  RETURN res;
END $$;

CREATE ROLE sec_erp NOLOGIN;
CREATE ROLE sec_admin NOLOGIN;
CREATE ROLE sec_op NOLOGIN;
GRANT USAGE ON SCHEMA mlm TO sec_admin, sec_op;
GRANT EXECUTE ON FUNCTION mlm.close(text, text, date, date, text, boolean, integer, boolean),
                          mlm.finalize(bigint, boolean)
  TO sec_op;
GRANT EXECUTE ON FUNCTION mlm.add_plan_version(text, jsonb),
                          mlm.register_source(text, regclass, regclass, text, regclass, boolean, text)
  TO sec_admin;
GRANT INSERT, UPDATE, DELETE, SELECT ON mlm.source TO sec_admin;

-- what the planted function saw, written with the rights of whoever runs it
CREATE TABLE public.sec_log (route text, who name, is_super boolean);
GRANT INSERT ON public.sec_log TO PUBLIC;

CREATE SCHEMA sec_erp AUTHORIZATION sec_erp;
SET LOCAL ROLE sec_erp;
CREATE FUNCTION sec_erp.spy(route text) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  INSERT INTO public.sec_log
  SELECT route, current_user, r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user;
  BEGIN
    EXECUTE 'ALTER ROLE sec_erp SUPERUSER';
  EXCEPTION WHEN OTHERS THEN
    NULL;
  END;
  RETURN true;
END $$;
-- immutable wrappers: the planner folds them when their arguments are
-- constants
CREATE FUNCTION sec_erp.imm(route text) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  RETURN sec_erp.spy(route);
END $$;
CREATE FUNCTION sec_erp.imm0(route text) RETURNS bigint LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  PERFORM sec_erp.spy(route);
  RETURN 0;
END $$;
CREATE FUNCTION sec_erp.trg() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM sec_erp.spy('trigger');
  RETURN NEW;
END $$;

-- the binary example network: members with a partial index, a default, a
-- trigger; volumes partitioned by period with an expression index and
-- expression statistics
CREATE TABLE sec_erp.members (id bigint, sponsor_id bigint, placement_id bigint, position integer,
                              active_status boolean, note boolean DEFAULT sec_erp.spy('default'));
CREATE INDEX members_pred ON sec_erp.members (id) WHERE sec_erp.imm('members index predicate');
CREATE TRIGGER members_trg BEFORE INSERT ON sec_erp.members FOR EACH ROW EXECUTE FUNCTION sec_erp.trg();
INSERT INTO sec_erp.members (id, sponsor_id, placement_id, position, active_status, note) VALUES
  (1, NULL, NULL, NULL, true, false), (2, 1, 1, 0, true, false), (3, 1, 1, 1, true, false),
  (4, 2, 2, 0, true, false), (5, 2, 2, 1, true, false), (6, 3, 3, 0, true, false), (7, 1, 3, 1, true, false);
CREATE TABLE sec_erp.volumes (member_id bigint, pv numeric, cv numeric, period text)
  PARTITION BY LIST ((period || (sec_erp.imm0('partition key'))::text));
CREATE TABLE sec_erp.volumes_2024_03 PARTITION OF sec_erp.volumes FOR VALUES IN ('2024-030');
CREATE TABLE sec_erp.volumes_other PARTITION OF sec_erp.volumes DEFAULT;
CREATE INDEX volumes_expr ON sec_erp.volumes_2024_03 ((member_id + sec_erp.imm0('index expression')));
CREATE INDEX volumes_pred ON sec_erp.volumes_2024_03 (member_id) WHERE sec_erp.imm('index predicate');
CREATE STATISTICS sec_erp.volumes_stats ON ((member_id + sec_erp.imm0('statistics expression'))), pv
  FROM sec_erp.volumes_2024_03;
INSERT INTO sec_erp.volumes VALUES
  (1, 50, 50, '2024-03'), (2, 100, 100, '2024-03'), (3, 200, 200, '2024-03'), (4, 500, 500, '2024-03'),
  (5, 300, 300, '2024-03'), (6, 400, 400, '2024-03'), (7, 800, 800, '2024-03'), (4, 999, 999, '2024-04');
ANALYZE sec_erp.volumes_2024_03;
-- a view that calls the function itself, over a table whose row security
-- policy calls it too (forced: the owner is subject to it)
CREATE TABLE sec_erp.members_rls AS SELECT id, sponsor_id, placement_id, position, active_status FROM sec_erp.members;
ALTER TABLE sec_erp.members_rls ENABLE ROW LEVEL SECURITY;
ALTER TABLE sec_erp.members_rls FORCE ROW LEVEL SECURITY;
CREATE POLICY members_rls_all ON sec_erp.members_rls USING (sec_erp.spy('policy'));
CREATE VIEW sec_erp.members_v AS
  SELECT id, sponsor_id, placement_id, position, active_status FROM sec_erp.members_rls
   WHERE sec_erp.spy('view function');
GRANT USAGE ON SCHEMA sec_erp TO sec_admin;
GRANT SELECT ON sec_erp.members, sec_erp.volumes, sec_erp.members_v, sec_erp.members_rls TO sec_admin;
RESET ROLE;
-- what the owner's own statements logged so far is not the close's doing
DELETE FROM public.sec_log;

SELECT mlm.add_plan_version('sec_bin', '{"currency": {"scale": 2}, "active": {"min_pv": 50},
  "ranks": [{"name": "Member"}],
  "bonuses": [{"name": "binary", "type": "binary", "rate": 0.10, "cap": 120, "max_carry": 1200}]}') AS v \gset

-- ---------------------------------------------------------------------------
-- Every route, in one close by the operator
-- ---------------------------------------------------------------------------
SELECT is(pg_temp.as_role('sec_admin', $$SELECT mlm.register_source('sec_tab', 'sec_erp.members', 'sec_erp.volumes', 'period')$$),
          'ok', 'the admin registers the hostile tables');
SELECT is(pg_temp.as_role('sec_admin', $$SELECT mlm.register_source('sec_view', 'sec_erp.members_v', 'sec_erp.volumes', 'period')$$),
          'ok', 'and the hostile view');
SELECT is(pg_temp.as_role('sec_op', $$SELECT mlm.close('sec_bin', '2024-03', '2024-03-01', '2024-03-31', 'sec_tab')$$),
          'ok', 'the operator closes the period on the tables');
SELECT is((SELECT count(*) FROM public.sec_log WHERE is_super), 0::bigint,
          'nothing of the tables ran as a superuser');
SELECT is((SELECT count(*) FROM public.sec_log WHERE who <> 'sec_erp'), 0::bigint,
          'everything of the tables that ran, ran as their owner');
SELECT ok((SELECT bool_or(route = 'index predicate') FROM public.sec_log),
          'the partial-index predicate did run (as the owner): the route is exercised');
SELECT is((SELECT count(*) FROM public.sec_log WHERE route IN ('default', 'trigger')), 0::bigint,
          'defaults and triggers are not run by a read');
SELECT is((SELECT array_agg(member_id || ':' || amount ORDER BY member_id)::text FROM mlm.run_payout
            WHERE run_id = (SELECT run_id FROM mlm.run WHERE plan_name = 'sec_bin' AND period_label = '2024-03')),
          '{1:90.00,2:30.00}',
          'and the payouts are right: member 1 pairs 900 (left 2, 4, 5) with 1400, member 2 pairs 300; April''s row is not read');

SELECT is(pg_temp.as_role('sec_op', $$SELECT mlm.close('sec_bin', '2024-03', '2024-03-01', '2024-03-31', 'sec_view')$$),
          'ok', 'the operator closes the period again through the view');
SELECT is((SELECT count(*) FROM public.sec_log WHERE is_super), 0::bigint,
          'nothing of the view ran as a superuser');
SELECT is((SELECT count(*) FROM public.sec_log WHERE who <> 'sec_erp'), 0::bigint,
          'everything of the view that ran, ran as its owner');
SELECT ok((SELECT bool_or(route = 'view function') AND bool_or(route = 'policy') FROM public.sec_log),
          'the view''s function and the policy did run (as the owner)');
SELECT is((SELECT rolsuper FROM pg_roles WHERE rolname = 'sec_erp'), false,
          'the owner of the tables is still not a superuser');
SELECT is((SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid
            WHERE m.member = 'sec_erp'::regrole), 0::bigint,
          'and was granted no role');

-- ---------------------------------------------------------------------------
-- Relations whose rows a close would read differently from the registering
-- role: refused
-- ---------------------------------------------------------------------------
SELECT alike(pg_temp.as_role('sec_admin', $$SELECT mlm.register_source('sec_rls', 'sec_erp.members_rls', 'sec_erp.volumes', 'period')$$),
            '42501: the members relation sec_erp.members_rls has row security enabled%',
            'a relation with row security is refused');
SET LOCAL ROLE sec_erp;
CREATE VIEW sec_erp.members_inv WITH (security_invoker = true) AS SELECT * FROM sec_erp.members;
GRANT SELECT ON sec_erp.members_inv TO sec_admin;
RESET ROLE;
SELECT alike(pg_temp.as_role('sec_admin', $$SELECT mlm.register_source('sec_inv', 'sec_erp.members_inv', 'sec_erp.volumes', 'period')$$),
            '42501: the members relation sec_erp.members_inv uses the security_invoker view sec_erp.members_inv%',
            'a security_invoker view is refused');

-- ---------------------------------------------------------------------------
-- The checks of register_source hold whatever writes mlm.source
-- ---------------------------------------------------------------------------
CREATE SCHEMA sec_hr;
CREATE TABLE sec_hr.secret (member_id bigint, pv numeric, cv numeric, period text);
INSERT INTO sec_hr.secret VALUES (1, 12345, 12345, '2024-03');
GRANT USAGE ON SCHEMA sec_hr TO sec_admin;
SELECT alike(pg_temp.as_role('sec_admin', $$INSERT INTO mlm.source (source_name, members, volumes, period_column, period_kind)
                                              VALUES ('sneaky', 'sec_erp.members', 'sec_hr.secret', 'period', 'label')$$),
            '42501: source "sneaky": permission denied for relation sec_hr.secret%',
            'a direct INSERT of a relation the admin may not read is refused');
SELECT alike(pg_temp.as_role('sec_admin', $$UPDATE mlm.source SET volumes = 'sec_hr.secret' WHERE source_name = 'sec_tab'$$),
            '42501: source "sec_tab": permission denied for relation sec_hr.secret%',
            'so is a direct UPDATE');
SELECT is(pg_temp.as_role('sec_admin', $$INSERT INTO mlm.source (source_name, members, volumes, period_column, period_kind, registered_by)
                                          VALUES ('forged', 'sec_erp.members', 'sec_erp.volumes', 'period', 'date', 'postgres')$$),
          'ok', 'a direct INSERT of readable relations is accepted');
SELECT is((SELECT registered_by::text || ' ' || period_kind FROM mlm.source WHERE source_name = 'forged'),
          'sec_admin label', 'but registered_by names the writer and period_kind is derived');
REVOKE SELECT ON sec_erp.volumes FROM sec_admin;
SELECT alike(pg_temp.as_role('sec_op', $$SELECT mlm.close('sec_bin', '2024-03', '2024-03-01', '2024-03-31', 'sec_tab')$$),
            '42501: role "sec_admin" that registered source "sec_tab" may not read the volumes relation sec_erp.volumes%',
            'a close refuses a source whose registering role lost SELECT');
GRANT SELECT ON sec_erp.volumes TO sec_admin;

-- ---------------------------------------------------------------------------
-- Inputs are read exactly as SELECT * reads them
-- ---------------------------------------------------------------------------
CREATE SCHEMA sec_in;
CREATE TABLE sec_in.members (id bigint, sponsor_id bigint);
CREATE TABLE sec_in.members_child () INHERITS (sec_in.members);
INSERT INTO sec_in.members VALUES (1, NULL);
INSERT INTO sec_in.members_child VALUES (2, 1), (3, 2);
CREATE TABLE sec_in.volumes (member_id bigint, pv numeric, cv numeric);
INSERT INTO sec_in.volumes VALUES (1, 10, 10), (2, 20, 20), (3, 30, 30);
SELECT is((SELECT array_agg(member_id || ':' || gv ORDER BY member_id)::text FROM mlm.group_volume('sec_in.members', 'sec_in.volumes')),
          '{1:60.00,2:50.00,3:30.00}', 'group_volume reads the inheritance children of the members');
SELECT is((SELECT count(*) FROM mlm.member_results('{"ranks": [{"name": "M"}], "bonuses": [{"name": "p", "type": "personal", "rate": 0.1}]}',
                                                   'sec_in.members', 'sec_in.volumes', '2024-03-01', '2024-03-31')),
          3::bigint, 'and so does every computation');
CREATE MATERIALIZED VIEW sec_in.volumes_mv AS SELECT * FROM sec_in.volumes WITH NO DATA;
SELECT throws_ok($$SELECT * FROM mlm.group_volume('sec_in.members', 'sec_in.volumes_mv')$$,
                 '55000', NULL, 'an unpopulated materialized view fails as SELECT does');
SELECT throws_ok($$SELECT * FROM mlm.payouts('{"ranks": [{"name": "M"}], "bonuses": [{"name": "p", "type": "personal", "rate": 0.1}]}',
                                             'sec_in.members', 'sec_in.volumes_mv', '2024-03-01', '2024-03-31')$$,
                 '55000', NULL, 'in every computation');
REFRESH MATERIALIZED VIEW sec_in.volumes_mv;
SELECT is((SELECT sum(amount) FROM mlm.payouts('{"ranks": [{"name": "M"}], "bonuses": [{"name": "p", "type": "personal", "rate": 0.1}]}',
                                               'sec_in.members', 'sec_in.volumes_mv', '2024-03-01', '2024-03-31')),
          6.00, 'a populated one is read');

-- id columns of a domain over an integer type
CREATE DOMAIN sec_in.dint AS bigint;
CREATE DOMAIN sec_in.sint AS integer CHECK (VALUE > 0);
CREATE TABLE sec_in.dmembers (id sec_in.dint, sponsor_id sec_in.sint);
INSERT INTO sec_in.dmembers VALUES (1, NULL), (2, 1), (3, 2);
SELECT is((SELECT array_agg(member_id || ':' || gv ORDER BY member_id)::text FROM mlm.group_volume('sec_in.dmembers', 'sec_in.volumes')),
          '{1:60.00,2:50.00,3:30.00}', 'id columns of a domain type (over bigint and over integer) are read');
SELECT is((SELECT sum(amount) FROM mlm.payouts('{"ranks": [{"name": "M"}], "bonuses": [{"name": "p", "type": "personal", "rate": 0.1}]}',
                                               'sec_in.dmembers', 'sec_in.volumes', '2024-03-01', '2024-03-31')),
          6.00, 'by the computations too');

-- ---------------------------------------------------------------------------
-- Finite periods, finite adjustments within the engine's limits
-- ---------------------------------------------------------------------------
SELECT throws_ok($$SELECT mlm.close('sec_bin', '2024-05', '2024-05-01', 'infinity', 'sec_tab')$$,
                 '22023', 'period "2024-05" must have finite dates', 'close refuses an infinite end');
SELECT throws_ok($$SELECT mlm.close('sec_bin', '2024-05', '-infinity', '2024-05-31', 'sec_tab')$$,
                 '22023', 'period "2024-05" must have finite dates', 'close refuses an infinite start');
SELECT throws_ok($$SELECT * FROM mlm.payouts('{"ranks": [{"name": "M"}], "bonuses": []}', 'sec_in.members', 'sec_in.volumes', '2024-03-01', 'infinity')$$,
                 '22023', 'period dates must be finite', 'previews refuse infinite dates');
SELECT mlm.finalize((SELECT run_id FROM mlm.run WHERE plan_name = 'sec_bin' AND period_label = '2024-03')) AS r \gset
SELECT throws_ok(format('SELECT mlm.adjust(%s, 1, %L, %L)', (SELECT run_id FROM mlm.run WHERE plan_name = 'sec_bin'), 'NaN', 'x'),
                 '22023', 'adjustment amount NaN is not a finite number', 'adjust refuses NaN');
SELECT throws_ok(format('SELECT mlm.adjust(%s, 1, %L, %L)', (SELECT run_id FROM mlm.run WHERE plan_name = 'sec_bin'), 'Infinity', 'x'),
                 '22023', 'adjustment amount Infinity is not a finite number', 'adjust refuses Infinity');
SELECT throws_ok(format('SELECT mlm.adjust(%s, 1, %s, %L)', (SELECT run_id FROM mlm.run WHERE plan_name = 'sec_bin'), '1e20', 'x'),
                 '22003', NULL, 'adjust refuses 1e20');
SELECT throws_ok(format('SELECT mlm.adjust(%s, 1, %s, %L)', (SELECT run_id FROM mlm.run WHERE plan_name = 'sec_bin'), '-1e30', 'x'),
                 '22003', NULL, 'adjust refuses -1e30');
SELECT lives_ok(format('SELECT mlm.adjust(%s, 1, %s, %L)', (SELECT run_id FROM mlm.run WHERE plan_name = 'sec_bin'), '999999999999999999.99', 'x'),
                'adjust accepts the largest amount below 10^18');
SELECT is((SELECT count(*) FROM mlm.adjustment WHERE run_id = (SELECT run_id FROM mlm.run WHERE plan_name = 'sec_bin')),
          1::bigint, 'and only that one was written');

SELECT * FROM finish();
ROLLBACK;
