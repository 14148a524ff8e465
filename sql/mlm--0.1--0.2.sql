-- mlm upgrade script 0.1 -> 0.2.
-- Every change that src/sql makes to the objects of 0.1 is repeated here, in
-- the same order, so that ALTER EXTENSION mlm UPDATE reaches exactly the
-- objects of a fresh CREATE EXTENSION mlm (test/shell/upgrade.sh compares
-- the catalogs).  Payout history (runs, lines, adjustments, plan versions)
-- is carried forward untouched.
\echo Use "ALTER EXTENSION mlm UPDATE TO '0.2'" to load this file. \quit

------------------------------------------------------------------------------
-- Types and objects new in 0.2 that functions below refer to.
------------------------------------------------------------------------------

-- The computation of mlm.close, mlm.preview and mlm.totals: mlm.compute's
-- rows, and in the grand total row typed totals and the tree snapshot.
CREATE TYPE @extschema@._source_result AS (
    kind pg_catalog.text, member_id pg_catalog.int8, bonus pg_catalog.text,
    source_id pg_catalog.int8, level pg_catalog.int4, base pg_catalog.numeric,
    rate pg_catalog.numeric, amount pg_catalog.numeric, pv pg_catalog.numeric,
    gv pg_catalog.numeric, active pg_catalog.bool, rank pg_catalog.text,
    carry_left pg_catalog.numeric, carry_right pg_catalog.numeric,
    qualified_rank pg_catalog.text, paid_as_rank pg_catalog.text, title_rank pg_catalog.text,
    grace pg_catalog.int4, cpv pg_catalog.numeric, customers pg_catalog.int4, rv pg_catalog.numeric,
    member_type pg_catalog.text, balance_in pg_catalog.numeric, earned pg_catalog.numeric,
    paid pg_catalog.numeric, balance_out pg_catalog.numeric,
    carry_rows pg_catalog.int8, snapshot @extschema@.tree,
    member_rows pg_catalog.int8, volume_rows pg_catalog.int8, input_checksum pg_catalog.text,
    total_cv pg_catalog.numeric, cap_limit pg_catalog.numeric);
COMMENT ON TYPE @extschema@._source_result IS
    'a row of mlm._compute_source: the columns of mlm.period_result, and in the grand total row the input row counts and checksum, total CV, cap limit and the tree snapshot';

-- Contract v2 (ranks across periods, customers, the payables ledger): the
-- rows of mlm.compute gain the columns of member results, state and
-- payables rows (at the end, so 0.1's columns keep their places).
ALTER TYPE @extschema@.period_result
    ADD ATTRIBUTE qualified_rank pg_catalog.text, ADD ATTRIBUTE paid_as_rank pg_catalog.text,
    ADD ATTRIBUTE title_rank pg_catalog.text, ADD ATTRIBUTE grace pg_catalog.int4,
    ADD ATTRIBUTE cpv pg_catalog.numeric, ADD ATTRIBUTE customers pg_catalog.int4,
    ADD ATTRIBUTE rv pg_catalog.numeric, ADD ATTRIBUTE member_type pg_catalog.text,
    ADD ATTRIBUTE balance_in pg_catalog.numeric, ADD ATTRIBUTE earned pg_catalog.numeric,
    ADD ATTRIBUTE paid pg_catalog.numeric, ADD ATTRIBUTE balance_out pg_catalog.numeric;
COMMENT ON TYPE @extschema@.period_result IS
    'a row of mlm.compute: kind payout, member, line, carry, state, payable or total; see docs/reference.md for the columns of each kind';

-- _period_inputs takes other arguments and returns other columns in 0.2.
DROP FUNCTION @extschema@._period_inputs(text, text, date, date, bigint);

-- A source records the time zone that cuts its timestamptz periods: the
-- database's (its own setting, else the server's), as for new sources.
ALTER TABLE @extschema@.source ADD COLUMN time_zone text;
UPDATE @extschema@.source
   SET time_zone = COALESCE(
         (SELECT pg_catalog.substr(c.cfg, 10)
            FROM pg_catalog.pg_db_role_setting s, pg_catalog.unnest(s.setconfig) c(cfg)
           WHERE s.setdatabase = (SELECT d.oid FROM pg_catalog.pg_database d
                                   WHERE d.datname = pg_catalog.current_database())
             AND s.setrole = 0 AND c.cfg LIKE 'TimeZone=%'),
         (SELECT st.reset_val FROM pg_catalog.pg_settings st WHERE st.name = 'TimeZone'));
ALTER TABLE @extschema@.source ALTER COLUMN time_zone SET NOT NULL;
COMMENT ON COLUMN @extschema@.source.time_zone IS 'The time zone in which a timestamptz period column is cut at midnight (the database''s when the source was registered, unless given): periods never depend on the session''s TimeZone.';
COMMENT ON COLUMN @extschema@.source.registered_by IS 'The role that wrote the row (CURRENT_USER, set by a trigger): every close checks that it may still read the relations.';

-- A run records that time zone, and whether it was finalized on inputs that
-- had changed since it was computed (NULL for runs of 0.1).
ALTER TABLE @extschema@.run ADD COLUMN time_zone text;
ALTER TABLE @extschema@.run ADD COLUMN finalized_inputs_changed boolean;
COMMENT ON COLUMN @extschema@.run.time_zone IS 'The time zone that cut the period of a timestamptz period column (the source''s); NULL for runs made before version 0.2, which used the closing session''s.';
COMMENT ON COLUMN @extschema@.run.finalized_inputs_changed IS 'Set by finalize: true when the run was finalized on purpose although its inputs had changed since it was computed (accept_changed_inputs), false when they had not; NULL for drafts and runs finalized before version 0.2.';

-- Contract v2: member results gain the three ranks, grace, customer
-- volume, RV and the member type (NULL in the rows of earlier runs); a run
-- keeps the state it hands on and its payables ledger.  A run made before
-- 0.2 keeps its carry-out in run_carry, which the next close reads as its
-- state (_period_inputs): nothing of the history is rewritten.
ALTER TABLE @extschema@.run_member
    ADD COLUMN qualified_rank text, ADD COLUMN title_rank text, ADD COLUMN grace integer,
    ADD COLUMN cpv numeric, ADD COLUMN customers integer, ADD COLUMN rv numeric,
    ADD COLUMN member_type text;
COMMENT ON TABLE @extschema@.run_member IS
  'Member results of a run, one row per member read: own pv, gv, active, rank (the paid-as rank), amount earned after the cap (before adjustments), the qualified and title ranks, grace, customer PV and count, RV and member_type (customers have no ranks). Columns added in 0.2 are NULL in rows of earlier runs.';
ALTER TABLE @extschema@.run
    ADD COLUMN state_rows bigint, ADD COLUMN payable_rows bigint, ADD COLUMN balance_in numeric,
    ADD COLUMN paid_out numeric, ADD COLUMN balance_out numeric;
COMMENT ON COLUMN @extschema@.run.carry_from_run_id IS 'The finalized run whose state out (carry, ranks, grace, balances) was this run''s state in (NULL: the opening state of the source, or none). Finalized runs are never deleted, so no foreign key is needed (a self-reference would make pg_dump warn about circular constraints).';
COMMENT ON COLUMN @extschema@.run.paid_out IS 'What the run pays out under the payables ledger (balances in + earned, where they reach min_payout and no hold); equals total_paid for plans without payout. NULL for runs made before 0.2.';
COMMENT ON COLUMN @extschema@.run.balance_out IS 'The sum of the balances the run carries forward (owed to members when positive, owed by them when negative).';

CREATE TABLE @extschema@.run_state (
    run_id       bigint  NOT NULL,
    member_id    bigint  NOT NULL,
    carry_left   numeric NOT NULL,
    carry_right  numeric NOT NULL,
    title_rank   text,
    paid_as_rank text,
    grace        integer NOT NULL,
    balance      numeric NOT NULL,
    CONSTRAINT run_state_pkey PRIMARY KEY (run_id, member_id)
);
COMMENT ON TABLE @extschema@.run_state IS
  'The state a run hands to the next period of its plan: carry, title and paid-as rank names (NULL for the first rank), grace and payables balance, for every member with anything to carry. The next close of the plan reads the state of the latest finalized earlier run.';

CREATE TABLE @extschema@.run_payable (
    run_id      bigint  NOT NULL,
    member_id   bigint  NOT NULL,
    balance_in  numeric NOT NULL,
    earned      numeric NOT NULL,
    paid        numeric NOT NULL,
    balance_out numeric NOT NULL,
    CONSTRAINT run_payable_pkey PRIMARY KEY (run_id, member_id)
);
COMMENT ON TABLE @extschema@.run_payable IS
  'The payables ledger of a run of a plan with the key payout: balance in, earned after the cap, paid out and balance out, for every member where one is not zero (without payout, paid is run_member.amount and nothing is kept here).';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.run_state', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.run_payable', '');

------------------------------------------------------------------------------
-- Functions new or changed in 0.2, in the order of the install script
-- (a close reads its inputs as their owners; mlm.source checks every row;
-- finite periods and adjustments; condition names and hints in PostgreSQL
-- style; the guard of the payout history).
------------------------------------------------------------------------------

CREATE FUNCTION @extschema@.compute(
    plan pg_catalog.jsonb, members pg_catalog.regclass, volumes pg_catalog.regclass,
    period_start pg_catalog.date, period_end pg_catalog.date,
    carry pg_catalog.regclass DEFAULT NULL, with_lines pg_catalog.bool DEFAULT false,
    kinds pg_catalog.text DEFAULT NULL,
    period_column pg_catalog.text DEFAULT NULL, period_label pg_catalog.text DEFAULT NULL,
    time_zone pg_catalog.text DEFAULT NULL)
    RETURNS SETOF @extschema@.period_result
    AS 'MODULE_PATHNAME', 'mlm_compute' LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.compute(pg_catalog.jsonb, pg_catalog.regclass, pg_catalog.regclass, pg_catalog.date, pg_catalog.date, pg_catalog.regclass, pg_catalog.bool, pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.text) IS
    'every result of one period as rows tagged by kind (payout, member, line, carry, state, payable, total); kinds = comma list of the kinds wanted (default payout, member, carry, total, and line with with_lines); carry is the previous state (carry, ranks, grace, balance); period_column selects the volume rows of the period (a text column: equal to period_label; date or timestamp: within the dates; timestamptz: cut at midnight in time_zone), without it every volume row is read';

-- The input contract of a registered source, checked without reading a
-- row: the one home of the columns and types the engine reads.
CREATE FUNCTION @extschema@._check_inputs(
    members pg_catalog.regclass, volumes pg_catalog.regclass, carry pg_catalog.regclass,
    period_column pg_catalog.text)
    RETURNS pg_catalog.text
    AS 'MODULE_PATHNAME', 'mlm_check_inputs' LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@._check_inputs(pg_catalog.regclass, pg_catalog.regclass, pg_catalog.regclass, pg_catalog.text) IS
    'internal: checks the columns of a source''s relations as a computation would (errors naming the relation and column); label when the period column holds labels, else date';

CREATE FUNCTION @extschema@._compute_source(
    plan pg_catalog.jsonb, members pg_catalog.regclass, volumes pg_catalog.regclass,
    period_column pg_catalog.text, period_label pg_catalog.text,
    period_start pg_catalog.date, period_end pg_catalog.date, time_zone pg_catalog.text,
    carry pg_catalog.regclass, with_lines pg_catalog.bool, read_as_owner pg_catalog.bool,
    kinds pg_catalog.text DEFAULT NULL)
    RETURNS SETOF @extschema@._source_result
    AS 'MODULE_PATHNAME', 'mlm_compute_source' LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@._compute_source(pg_catalog.jsonb, pg_catalog.regclass, pg_catalog.regclass, pg_catalog.text, pg_catalog.text, pg_catalog.date, pg_catalog.date, pg_catalog.text, pg_catalog.regclass, pg_catalog.bool, pg_catalog.bool, pg_catalog.text) IS
    'internal: one period (the volumes of the period selected by period_column when given; timestamptz periods cut in time_zone), for mlm.close, mlm.preview and mlm.totals; read_as_owner reads each relation as its owner in a security-restricted operation and needs the privileges of that owner';

CREATE FUNCTION @extschema@.payouts(
    plan pg_catalog.jsonb, members pg_catalog.regclass, volumes pg_catalog.regclass,
    period_start pg_catalog.date, period_end pg_catalog.date, carry pg_catalog.regclass DEFAULT NULL,
    period_column pg_catalog.text DEFAULT NULL, period_label pg_catalog.text DEFAULT NULL,
    time_zone pg_catalog.text DEFAULT NULL)
    RETURNS TABLE(member_id pg_catalog.int8, bonus pg_catalog.text, amount pg_catalog.numeric)
    AS 'MODULE_PATHNAME', 'mlm_payouts' LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.payouts(pg_catalog.jsonb, pg_catalog.regclass, pg_catalog.regclass, pg_catalog.date, pg_catalog.date, pg_catalog.regclass, pg_catalog.text, pg_catalog.text, pg_catalog.text) IS
    'preview: every non-zero payout (member, bonus, amount) after rounding and the cap; writes nothing; period_column selects the volume rows of the period (a text column: equal to period_label; date or timestamp: within the dates; timestamptz: cut at midnight in time_zone), without it every volume row is read';

CREATE FUNCTION @extschema@.member_results(
    plan pg_catalog.jsonb, members pg_catalog.regclass, volumes pg_catalog.regclass,
    period_start pg_catalog.date, period_end pg_catalog.date, carry pg_catalog.regclass DEFAULT NULL,
    period_column pg_catalog.text DEFAULT NULL, period_label pg_catalog.text DEFAULT NULL,
    time_zone pg_catalog.text DEFAULT NULL)
    RETURNS TABLE(member_id pg_catalog.int8, pv pg_catalog.numeric, gv pg_catalog.numeric, active pg_catalog.bool, rank pg_catalog.text, amount pg_catalog.numeric,
                  qualified_rank pg_catalog.text, paid_as_rank pg_catalog.text, title_rank pg_catalog.text, grace pg_catalog.int4,
                  cpv pg_catalog.numeric, customers pg_catalog.int4, rv pg_catalog.numeric, member_type pg_catalog.text)
    AS 'MODULE_PATHNAME', 'mlm_member_results' LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.member_results(pg_catalog.jsonb, pg_catalog.regclass, pg_catalog.regclass, pg_catalog.date, pg_catalog.date, pg_catalog.regclass, pg_catalog.text, pg_catalog.text, pg_catalog.text) IS
    'preview: per member own PV, GV, activity, paid-as rank name (rank), the amount earned (after the cap), the qualified, paid-as and title ranks, grace, customer PV and count, RV and member_type (customers: no ranks); carry is the previous state; period_column selects the volume rows of the period (a text column: equal to period_label; date or timestamp: within the dates; timestamptz: cut at midnight in time_zone), without it every volume row is read';

CREATE FUNCTION @extschema@.lines(
    plan pg_catalog.jsonb, members pg_catalog.regclass, volumes pg_catalog.regclass,
    period_start pg_catalog.date, period_end pg_catalog.date, carry pg_catalog.regclass DEFAULT NULL,
    period_column pg_catalog.text DEFAULT NULL, period_label pg_catalog.text DEFAULT NULL,
    time_zone pg_catalog.text DEFAULT NULL)
    RETURNS TABLE(member_id pg_catalog.int8, bonus pg_catalog.text, source_id pg_catalog.int8, level pg_catalog.int4, base pg_catalog.numeric, rate pg_catalog.numeric, amount pg_catalog.numeric)
    AS 'MODULE_PATHNAME', 'mlm_lines' LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.lines(pg_catalog.jsonb, pg_catalog.regclass, pg_catalog.regclass, pg_catalog.date, pg_catalog.date, pg_catalog.regclass, pg_catalog.text, pg_catalog.text, pg_catalog.text) IS
    'preview: the audit lines (member paid, bonus, source, level, base, rate, exact amount); period_column selects the volume rows of the period (a text column: equal to period_label; date or timestamp: within the dates; timestamptz: cut at midnight in time_zone), without it every volume row is read';

CREATE FUNCTION @extschema@.carry_out(
    plan pg_catalog.jsonb, members pg_catalog.regclass, volumes pg_catalog.regclass,
    period_start pg_catalog.date, period_end pg_catalog.date, carry pg_catalog.regclass DEFAULT NULL,
    period_column pg_catalog.text DEFAULT NULL, period_label pg_catalog.text DEFAULT NULL,
    time_zone pg_catalog.text DEFAULT NULL)
    RETURNS TABLE(member_id pg_catalog.int8, carry_left pg_catalog.numeric, carry_right pg_catalog.numeric)
    AS 'MODULE_PATHNAME', 'mlm_carry_out' LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.carry_out(pg_catalog.jsonb, pg_catalog.regclass, pg_catalog.regclass, pg_catalog.date, pg_catalog.date, pg_catalog.regclass, pg_catalog.text, pg_catalog.text, pg_catalog.text) IS
    'preview: binary carry-out of every member with a non-zero carry (the next period carry-in); period_column selects the volume rows of the period (a text column: equal to period_label; date or timestamp: within the dates; timestamptz: cut at midnight in time_zone), without it every volume row is read';

CREATE FUNCTION @extschema@.state_out(
    plan pg_catalog.jsonb, members pg_catalog.regclass, volumes pg_catalog.regclass,
    period_start pg_catalog.date, period_end pg_catalog.date, carry pg_catalog.regclass DEFAULT NULL,
    period_column pg_catalog.text DEFAULT NULL, period_label pg_catalog.text DEFAULT NULL,
    time_zone pg_catalog.text DEFAULT NULL)
    RETURNS TABLE(member_id pg_catalog.int8, carry_left pg_catalog.numeric, carry_right pg_catalog.numeric,
                  title_rank pg_catalog.text, paid_as_rank pg_catalog.text, grace pg_catalog.int4,
                  balance pg_catalog.numeric)
    AS 'MODULE_PATHNAME', 'mlm_state_out' LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.state_out(pg_catalog.jsonb, pg_catalog.regclass, pg_catalog.regclass, pg_catalog.date, pg_catalog.date, pg_catalog.regclass, pg_catalog.text, pg_catalog.text, pg_catalog.text) IS
    'preview: the state this period hands to the next (carry, title and paid-as rank names, null for the first rank, grace, balance), for every member with anything to carry; pass it as carry to the next period; carry is the previous state; period_column selects the volume rows of the period (a text column: equal to period_label; date or timestamp: within the dates; timestamptz: cut at midnight in time_zone), without it every volume row is read';

CREATE FUNCTION @extschema@.payables(
    plan pg_catalog.jsonb, members pg_catalog.regclass, volumes pg_catalog.regclass,
    period_start pg_catalog.date, period_end pg_catalog.date, carry pg_catalog.regclass DEFAULT NULL,
    period_column pg_catalog.text DEFAULT NULL, period_label pg_catalog.text DEFAULT NULL,
    time_zone pg_catalog.text DEFAULT NULL)
    RETURNS TABLE(member_id pg_catalog.int8, balance_in pg_catalog.numeric, earned pg_catalog.numeric,
                  paid pg_catalog.numeric, balance_out pg_catalog.numeric)
    AS 'MODULE_PATHNAME', 'mlm_payables' LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.payables(pg_catalog.jsonb, pg_catalog.regclass, pg_catalog.regclass, pg_catalog.date, pg_catalog.date, pg_catalog.regclass, pg_catalog.text, pg_catalog.text, pg_catalog.text) IS
    'preview: the payables ledger (balance in from the previous state, earned after the cap, paid, balance out) of every member where one of them is not zero; without the plan key payout paid = earned; carry is the previous state; period_column selects the volume rows of the period (a text column: equal to period_label; date or timestamp: within the dates; timestamptz: cut at midnight in time_zone), without it every volume row is read';

CREATE FUNCTION @extschema@.totals(
    plan pg_catalog.jsonb, members pg_catalog.regclass, volumes pg_catalog.regclass,
    period_start pg_catalog.date, period_end pg_catalog.date, carry pg_catalog.regclass DEFAULT NULL,
    period_column pg_catalog.text DEFAULT NULL, period_label pg_catalog.text DEFAULT NULL,
    time_zone pg_catalog.text DEFAULT NULL)
    RETURNS TABLE(total_cv pg_catalog.numeric, total_before_cap pg_catalog.numeric, total_paid pg_catalog.numeric,
                  cap_limit pg_catalog.numeric, cap_factor pg_catalog.numeric,
                  member_rows pg_catalog.int8, volume_rows pg_catalog.int8, carry_rows pg_catalog.int8,
                  input_checksum pg_catalog.text, bonuses pg_catalog.jsonb, bonuses_before_cap pg_catalog.jsonb,
                  balance_in pg_catalog.numeric, paid_out pg_catalog.numeric, balance_out pg_catalog.numeric)
    LANGUAGE sql STABLE PARALLEL RESTRICTED
    AS $$
    WITH t AS (SELECT c.* FROM @extschema@._compute_source(plan, members, volumes, period_column, period_label,
                                                             period_start, period_end, time_zone, carry,
                                                             false, false, 'total') c)
    SELECT o.total_cv, o.base, o.amount, o.cap_limit, o.rate, o.member_rows, o.volume_rows, o.carry_rows,
           o.input_checksum,
           (SELECT pg_catalog.jsonb_object_agg(b.bonus, b.amount) FROM t b WHERE b.bonus IS NOT NULL),
           (SELECT pg_catalog.jsonb_object_agg(b.bonus, b.base) FROM t b WHERE b.bonus IS NOT NULL),
           o.balance_in, o.paid, o.balance_out
      FROM t o WHERE o.bonus IS NULL
$$;
COMMENT ON FUNCTION @extschema@.totals(pg_catalog.jsonb, pg_catalog.regclass, pg_catalog.regclass, pg_catalog.date, pg_catalog.date, pg_catalog.regclass, pg_catalog.text, pg_catalog.text, pg_catalog.text) IS
    'preview: one typed row of the period''s totals, with the names of the run header: total CV, total before and after the cap, cap limit and factor, input row counts and checksum, per-bonus totals, and the ledger''s sums (balances in, paid out, balances out); period_column selects the volume rows of the period (a text column: equal to period_label; date or timestamp: within the dates; timestamptz: cut at midnight in time_zone), without it every volume row is read';

CREATE FUNCTION @extschema@.compute_snapshot(
    plan pg_catalog.jsonb, network @extschema@.tree, volumes pg_catalog.regclass,
    period_start pg_catalog.date, period_end pg_catalog.date,
    carry pg_catalog.regclass DEFAULT NULL, with_lines pg_catalog.bool DEFAULT false,
    kinds pg_catalog.text DEFAULT NULL,
    period_column pg_catalog.text DEFAULT NULL, period_label pg_catalog.text DEFAULT NULL,
    time_zone pg_catalog.text DEFAULT NULL)
    RETURNS SETOF @extschema@.period_result
    AS 'MODULE_PATHNAME', 'mlm_compute_snapshot' LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.compute_snapshot(pg_catalog.jsonb, @extschema@.tree, pg_catalog.regclass, pg_catalog.date, pg_catalog.date, pg_catalog.regclass, pg_catalog.bool, pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.text) IS
    'mlm.compute with the members of an mlm.tree snapshot (all active_status true, no joined dates)';

CREATE OR REPLACE FUNCTION @extschema@._refuse_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION '% on %.% is not allowed: the table is append-only', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = 'object_not_in_prerequisite_state',
              HINT = CASE TG_TABLE_NAME
                       WHEN 'plan_version' THEN 'Add a new version with mlm.add_plan_version().'
                       WHEN 'adjustment' THEN 'Post a reversing adjustment with mlm.adjust().'
                       ELSE 'Rows of finalized runs are never changed.' END;
END
$$;
COMMENT ON FUNCTION @extschema@._refuse_change() IS
  'Trigger: refuses UPDATE, DELETE and TRUNCATE on append-only tables (plan_version, adjustment) and UPDATE/TRUNCATE on the result tables of runs.';

CREATE OR REPLACE FUNCTION @extschema@._run_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF OLD.status = 'final' THEN
        RAISE EXCEPTION 'run % (plan "%", period "%") is finalized and cannot be changed',
                        OLD.run_id, OLD.plan_name, OLD.period_label
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Post corrections with mlm.adjust(run_id, member_id, amount, reason).';
    END IF;
    IF TG_OP = 'DELETE' THEN
        IF EXISTS (SELECT 1 FROM @extschema@.run_payout x WHERE x.run_id = OLD.run_id)
           OR EXISTS (SELECT 1 FROM @extschema@.run_member x WHERE x.run_id = OLD.run_id)
           OR EXISTS (SELECT 1 FROM @extschema@.run_carry x WHERE x.run_id = OLD.run_id)
           OR EXISTS (SELECT 1 FROM @extschema@.run_line x WHERE x.run_id = OLD.run_id)
           OR EXISTS (SELECT 1 FROM @extschema@.run_bonus_total x WHERE x.run_id = OLD.run_id)
           OR EXISTS (SELECT 1 FROM @extschema@.run_state x WHERE x.run_id = OLD.run_id)
           OR EXISTS (SELECT 1 FROM @extschema@.run_payable x WHERE x.run_id = OLD.run_id) THEN
            RAISE EXCEPTION 'run % still has result rows', OLD.run_id
                USING ERRCODE = 'foreign_key_violation', HINT = 'Discard a draft with mlm.discard_draft(run_id).';
        END IF;
        RETURN OLD;
    END IF;
    IF NEW.run_id <> OLD.run_id OR NEW.plan_name <> OLD.plan_name
       OR NEW.period_label <> OLD.period_label THEN
        RAISE EXCEPTION 'the identity (run_id, plan_name, period_label) of run % cannot be changed', OLD.run_id
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION @extschema@._run_guard() IS
  'Trigger on mlm.run: a finalized run is frozen (no UPDATE, no DELETE); a draft keeps its identity and is deleted only without result rows.';

-- Result rows of a finalized run are frozen.  The checks are per statement
-- (transition tables), so a close of hundreds of thousands of members pays
-- one join, not one lookup per row; for the same reason the result tables
-- have no foreign key to mlm.run (row-by-row checks doubled the time of a
-- 300k-member close): the insert check below verifies that the run exists,
-- and mlm.run refuses to delete a run that still has rows.  Inserting into a finalized run is only
-- accepted up to the row count recorded in its header: that lets pg_dump's
-- restore reload the history, and nothing else add to it.
CREATE OR REPLACE FUNCTION @extschema@._run_rows_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET jit = off
AS $$
DECLARE
    rid   bigint;
    hdr   @extschema@.run;
    n     bigint;
    limit_rows bigint;
BEGIN
    IF TG_OP = 'DELETE' THEN
        FOR rid IN SELECT DISTINCT o.run_id FROM old_rows o LOOP
            SELECT r.* INTO hdr FROM @extschema@.run r WHERE r.run_id = rid;
            IF hdr.status = 'final' THEN
                RAISE EXCEPTION 'run % (plan "%", period "%") is finalized: its rows in %.% cannot be changed',
                                hdr.run_id, hdr.plan_name, hdr.period_label, TG_TABLE_SCHEMA, TG_TABLE_NAME
                    USING ERRCODE = 'object_not_in_prerequisite_state',
                          HINT = 'Post corrections with mlm.adjust(run_id, member_id, amount, reason).';
            END IF;
        END LOOP;
        RETURN NULL;
    END IF;

    FOR rid IN SELECT DISTINCT x.run_id FROM new_rows x LOOP
        SELECT r.* INTO hdr FROM @extschema@.run r WHERE r.run_id = rid;
        IF NOT FOUND THEN
            -- the run must exist (a foreign key would check row by row)
            RAISE EXCEPTION 'insert into %.% refers to run %, which does not exist',
                            TG_TABLE_SCHEMA, TG_TABLE_NAME, rid
                USING ERRCODE = 'foreign_key_violation';
        END IF;
        IF hdr.status = 'final' THEN
            limit_rows := CASE TG_TABLE_NAME
                              WHEN 'run_payout' THEN hdr.payout_rows
                              WHEN 'run_member' THEN hdr.member_result_rows
                              WHEN 'run_carry' THEN hdr.carry_out_rows
                              WHEN 'run_line' THEN hdr.line_rows
                              WHEN 'run_bonus_total' THEN hdr.bonus_rows
                              WHEN 'run_state' THEN hdr.state_rows
                              WHEN 'run_payable' THEN hdr.payable_rows END;
            EXECUTE pg_catalog.format('SELECT pg_catalog.count(*) FROM %I.%I x WHERE x.run_id = $1',
                                      TG_TABLE_SCHEMA, TG_TABLE_NAME)
              INTO n USING rid;
            IF n > COALESCE(limit_rows, 0) THEN
                RAISE EXCEPTION 'run % (plan "%", period "%") is finalized: its rows in %.% cannot be changed',
                                hdr.run_id, hdr.plan_name, hdr.period_label, TG_TABLE_SCHEMA, TG_TABLE_NAME
                    USING ERRCODE = 'object_not_in_prerequisite_state',
                          HINT = 'Post corrections with mlm.adjust(run_id, member_id, amount, reason).';
            END IF;
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@._run_rows_guard() IS
  'Statement trigger on the result tables of runs: inserted rows must belong to an existing run; refuses deleting rows of finalized runs and adding rows beyond the counts recorded in their header.';

-- The rows lock.  mlm.close writes its rows from C (src/close_write.c),
-- without these statement triggers (it checks the same once: the run
-- exists and is a draft) and without the unique checks of the primary keys,
-- whose uniqueness within a run it guarantees by construction.  That holds
-- only while nobody else writes the result tables: a close holds this
-- advisory lock shared (closes do not wait for each other), every other
-- writer (pg_restore, a correction by hand) takes it exclusively for its
-- transaction, before its first row.
CREATE FUNCTION @extschema@._run_rows_lock() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('mlm.run rows', 0));
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@._run_rows_lock() IS
  'Statement trigger before INSERT on the result tables of runs: takes the rows lock exclusively (a close holds it shared while it writes its rows without unique checks).';

-- other writers of the result tables take the rows lock (see above)
DO $locks$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['run_payout', 'run_member', 'run_carry', 'run_line', 'run_bonus_total'] LOOP
        EXECUTE pg_catalog.format('CREATE TRIGGER %I BEFORE INSERT ON @extschema@.%I
                          FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._run_rows_lock()', t || '_lock', t);
    END LOOP;
END
$locks$;

-- the guards of every result table on the two new ones
DO $guards$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['run_state', 'run_payable'] LOOP
        EXECUTE pg_catalog.format('CREATE TRIGGER %I AFTER INSERT ON @extschema@.%I
                          REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
                          EXECUTE FUNCTION @extschema@._run_rows_guard()', t || '_insert', t);
        EXECUTE pg_catalog.format('CREATE TRIGGER %I AFTER DELETE ON @extschema@.%I
                          REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
                          EXECUTE FUNCTION @extschema@._run_rows_guard()', t || '_delete', t);
        EXECUTE pg_catalog.format('CREATE TRIGGER %I BEFORE UPDATE ON @extschema@.%I
                          FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._refuse_change()', t || '_update', t);
        EXECUTE pg_catalog.format('CREATE TRIGGER %I BEFORE TRUNCATE ON @extschema@.%I
                          FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._refuse_change()', t || '_truncate', t);
        EXECUTE pg_catalog.format('CREATE TRIGGER %I BEFORE INSERT ON @extschema@.%I
                          FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._run_rows_lock()', t || '_lock', t);
    END LOOP;
END
$guards$;

CREATE OR REPLACE FUNCTION @extschema@._acquire(key bigint, nowait boolean, what text) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF nowait THEN
        IF NOT pg_catalog.pg_try_advisory_xact_lock(key) THEN
            RAISE EXCEPTION '% is being closed or finalized by another session', what
                USING ERRCODE = 'lock_not_available',
                      DETAIL = pg_catalog.format('The lock is held by backend pid %s.',
                                                 COALESCE(@extschema@._lock_holders(key), '?')),
                      HINT = 'Retry when that transaction has ended, or call without nowait to wait for it.';
        END IF;
    ELSE
        PERFORM pg_catalog.pg_advisory_xact_lock(key);
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@._acquire(bigint, boolean, text) IS
  'Takes a transaction-level advisory lock, waiting (lock_timeout applies) or failing at once with SQLSTATE 55P03 when nowait.';

-- A close reads every input relation as the relation's owner, inside a
-- security-restricted operation (the C loader does it as ANALYZE does), so
-- nothing of a table or view (view and policy functions, index and
-- statistics expressions, partition keys) runs with more privilege than its
-- owner has.  Two kinds of relation would then show a close other rows than
-- the role that registered them may see, and are refused: a relation with
-- row security enabled (its owner is exempt from the policies the reader is
-- subject to), and security_invoker views at any depth (they would check
-- their tables as their owner, not as the reader).
CREATE OR REPLACE FUNCTION @extschema@._check_relation(rel regclass, role text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    kind "char";
    rls  boolean;
    bad  regclass;
BEGIN
    SELECT c.relkind, c.relrowsecurity INTO kind, rls FROM pg_catalog.pg_class c WHERE c.oid = rel;
    IF kind IS NULL OR kind NOT IN ('r', 'p', 'v', 'm', 'f') THEN
        RAISE EXCEPTION 'the % relation % is not a table or a view', role, rel
            USING ERRCODE = 'wrong_object_type';
    END IF;
    IF rls THEN
        RAISE EXCEPTION 'the % relation % has row security enabled', role, rel
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'A close reads its inputs as their owner, who is not subject to the policies of the role that registers them.',
                  HINT = 'Register a view that selects the rows to pay.';
    END IF;
    WITH RECURSIVE deps(oid) AS (
        SELECT rel::oid
        UNION
        SELECT d.refobjid
          FROM deps
          JOIN pg_catalog.pg_rewrite rw ON rw.ev_class = deps.oid
          JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::regclass
                                     AND d.objid = rw.oid
                                     AND d.refclassid = 'pg_catalog.pg_class'::regclass
         WHERE d.refobjid <> deps.oid
    )
    SELECT c.oid::regclass INTO bad
      FROM deps JOIN pg_catalog.pg_class c ON c.oid = deps.oid
     WHERE c.relkind = 'v'
       AND EXISTS (SELECT 1 FROM pg_catalog.unnest(c.reloptions) o
                    WHERE pg_catalog.lower(o) IN ('security_invoker=true', 'security_invoker=on',
                                                  'security_invoker=1', 'security_invoker=yes'))
     LIMIT 1;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'the % relation % uses the security_invoker view %', role, rel, bad
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'A close reads its inputs as their owner; a security_invoker view would then check its tables as its owner instead of the reader.',
                  HINT = 'Register a view without security_invoker, or the tables themselves.';
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@._check_relation(regclass, text) IS
  'Refuses input relations that are not tables or views, that have row security enabled, or that read through a security_invoker view (a close reads each input as its owner).';

-- The role that registered a source must still be able to read each of its
-- relations when the period is closed: the row of mlm.source names whoever
-- wrote it (see _source_check), so a close never reads what that role
-- cannot.
CREATE FUNCTION @extschema@._check_reader(rel regclass, role text, p_source text, reader name) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF pg_catalog.to_regrole(pg_catalog.quote_ident(reader)) IS NULL THEN
        RAISE EXCEPTION 'role "%" that registered source "%" no longer exists', reader, p_source
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Register the source again with mlm.register_source(..., replace => true).';
    END IF;
    IF NOT pg_catalog.has_table_privilege(reader, rel, 'SELECT') THEN
        RAISE EXCEPTION 'role "%" that registered source "%" may not read the % relation %',
                        reader, p_source, role, rel
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Grant it SELECT, or register the source again as a role that may read it.';
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@._check_reader(regclass, text, text, name) IS
  'Checks that the role that registered a source may still read one of its relations (at every close).';

-- Checks a source's relations for a close or a preview and names what
-- mlm._compute_source reads: the registered members and volumes relations
-- (the volumes column that selects the period, and the period label for a
-- text column), and the carry-in: a temporary view of the carry-out of the
-- latest finalized earlier run, else the source's opening carry relation.
-- For a close (p_close) the role that registered the source must still be
-- able to read every relation.  The caller drops the views (list in
-- "views"); an error or a rollback removes them with the transaction.
CREATE FUNCTION @extschema@._period_inputs(
    p_source text, p_label text, p_carry_run bigint, p_close boolean,
    OUT members regclass, OUT volumes regclass, OUT carry regclass,
    OUT members_relation text, OUT volumes_relation text, OUT carry_relation text,
    OUT period_column text, OUT period_label text, OUT time_zone text, OUT views text[])
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    src    @extschema@.source;
    rel    regclass;
    ptyp   regtype;
    vname  text;
BEGIN
    SELECT s.* INTO src FROM @extschema@.source s WHERE s.source_name = p_source;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown source "%"', p_source
            USING ERRCODE = 'undefined_object',
                  HINT = 'Register it with mlm.register_source(name, members, volumes, period_column).';
    END IF;
    members := pg_catalog.to_regclass(src.members);
    volumes := pg_catalog.to_regclass(src.volumes);
    IF members IS NULL OR volumes IS NULL THEN
        RAISE EXCEPTION 'relation % of source "%" does not exist',
                        CASE WHEN members IS NULL THEN src.members ELSE src.volumes END, p_source
            USING ERRCODE = 'undefined_table',
                  HINT = 'Register the source again with mlm.register_source(..., replace => true).';
    END IF;
    views := '{}';
    members_relation := src.members;
    volumes_relation := src.volumes;
    FOREACH rel IN ARRAY ARRAY[members, volumes] LOOP
        PERFORM @extschema@._check_relation(rel, CASE WHEN rel = members THEN 'members' ELSE 'volumes' END);
        IF p_close THEN
            PERFORM @extschema@._check_reader(rel, CASE WHEN rel = members THEN 'members' ELSE 'volumes' END,
                                              p_source, src.registered_by);
        END IF;
    END LOOP;
    period_column := src.period_column;
    period_label := CASE WHEN src.period_kind = 'label' THEN p_label END;
    time_zone := src.time_zone;

    -- state in: the state out of the latest finalized earlier run (a run
    -- made before 0.2 kept only its carry-out), else the source's opening
    -- state, else none
    IF p_carry_run IS NOT NULL THEN
        vname := 'mlm_state_' || pg_catalog.replace(pg_catalog.gen_random_uuid()::text, '-', '');
        IF EXISTS (SELECT FROM @extschema@.run r
                    WHERE r.run_id = p_carry_run AND r.state_rows IS NOT NULL) THEN
            EXECUTE pg_catalog.format(
                'CREATE TEMPORARY VIEW pg_temp.%I AS
                   SELECT c.member_id, c.carry_left, c.carry_right, c.title_rank, c.paid_as_rank,
                          c.grace, c.balance
                     FROM @extschema@.run_state c WHERE c.run_id OPERATOR(pg_catalog.=) %s::pg_catalog.int8',
                vname, p_carry_run);
        ELSE
            EXECUTE pg_catalog.format(
                'CREATE TEMPORARY VIEW pg_temp.%I AS SELECT c.member_id, c.carry_left, c.carry_right
                   FROM @extschema@.run_carry c WHERE c.run_id OPERATOR(pg_catalog.=) %s::pg_catalog.int8',
                vname, p_carry_run);
        END IF;
        views := views || vname;
        carry := pg_catalog.format('pg_temp.%I', vname)::regclass;
        carry_relation := NULL;
    ELSIF src.carry IS NOT NULL THEN
        carry := pg_catalog.to_regclass(src.carry);
        IF carry IS NULL THEN
            RAISE EXCEPTION 'relation % of source "%" does not exist', src.carry, p_source
                USING ERRCODE = 'undefined_table';
        END IF;
        PERFORM @extschema@._check_relation(carry, 'carry');
        IF p_close THEN
            PERFORM @extschema@._check_reader(carry, 'carry', p_source, src.registered_by);
        END IF;
        carry_relation := src.carry;
    END IF;

    -- the columns the source was registered with may have changed since
    -- (the opening carry's too; a carry-out view of a run is ours)
    IF @extschema@._check_inputs(members, volumes, CASE WHEN carry_relation IS NOT NULL THEN carry END,
                                 src.period_column) <> src.period_kind THEN
        SELECT a.atttypid::regtype INTO ptyp
          FROM pg_catalog.pg_attribute a
         WHERE a.attrelid = volumes AND a.attname = src.period_column AND a.attnum > 0 AND NOT a.attisdropped;
        RAISE EXCEPTION 'the period column "%" of % is now of type %, but source "%" was registered with a % period column',
                        src.period_column, volumes, ptyp, p_source,
                        CASE WHEN src.period_kind = 'label' THEN 'text (label)' ELSE 'date' END
            USING ERRCODE = 'datatype_mismatch',
                  HINT = 'Register the source again with mlm.register_source(..., replace => true).';
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@._period_inputs(text, text, bigint, boolean) IS
  'Checks a source for a close or preview and returns the relations mlm._compute_source reads (members, volumes with the period column and the time zone that cuts it, state in: a temporary view of a finalized run''s state out (its carry-out for runs made before 0.2), or the opening state); the caller drops the views.';

-- The plan version a close or preview uses.
CREATE OR REPLACE FUNCTION @extschema@._plan_version(p_name text, p_version integer) RETURNS @extschema@.plan_version
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    pv @extschema@.plan_version;
BEGIN
    IF p_version IS NULL THEN
        SELECT p.* INTO pv FROM @extschema@.plan_version p
         WHERE p.plan_name = p_name ORDER BY p.version DESC LIMIT 1;
    ELSE
        SELECT p.* INTO pv FROM @extschema@.plan_version p
         WHERE p.plan_name = p_name AND p.version = p_version;
    END IF;
    IF pv.plan_name IS NULL THEN
        IF p_version IS NULL OR NOT EXISTS (SELECT 1 FROM @extschema@.plan_version p WHERE p.plan_name = p_name) THEN
            RAISE EXCEPTION 'unknown plan "%"', p_name
                USING ERRCODE = 'undefined_object', HINT = 'Add it with mlm.add_plan_version(name, definition).';
        END IF;
        RAISE EXCEPTION 'plan "%" has no version %', p_name, p_version
            USING ERRCODE = 'undefined_object', HINT = 'List its versions with mlm.plan_versions(name).';
    END IF;
    RETURN pv;
END
$$;
COMMENT ON FUNCTION @extschema@._plan_version(text, integer) IS
  'The stored plan version (the latest when version is NULL); errors for an unknown plan or version.';

CREATE OR REPLACE FUNCTION @extschema@.add_plan_version(plan_name text, definition jsonb) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    p_name ALIAS FOR $1;
    p_def  ALIAS FOR $2;
    errs   text[];
    cur    @extschema@.plan_version;
    v      integer;
BEGIN
    IF p_name IS NULL OR pg_catalog.btrim(p_name) = '' THEN
        RAISE EXCEPTION 'a plan needs a non-empty name' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_def IS NULL THEN
        RAISE EXCEPTION 'plan "%": the definition is null', p_name USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT pg_catalog.array_agg(pg_catalog.format('%s: %s', e.path, e.message))
      INTO errs FROM @extschema@.validate_plan(p_def) e;
    IF errs IS NOT NULL THEN
        RAISE EXCEPTION 'plan "%" is invalid: %', p_name, errs[1]
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.array_to_string(errs, E'\n');
    END IF;
    PERFORM pg_catalog.pg_advisory_xact_lock(@extschema@._plan_lock_key(p_name) # 1);
    SELECT p.* INTO cur FROM @extschema@.plan_version p
     WHERE p.plan_name = p_name ORDER BY p.version DESC LIMIT 1;
    IF cur.definition = p_def THEN
        RETURN cur.version;        -- unchanged definition: no new version
    END IF;
    v := COALESCE(cur.version, 0) + 1;
    INSERT INTO @extschema@.plan_version (plan_name, version, definition, created_by)
    VALUES (p_name, v, p_def, SESSION_USER);
    RETURN v;
END
$$;
COMMENT ON FUNCTION @extschema@.add_plan_version(text, jsonb) IS
  'Validates a plan definition (mlm.validate_plan; error 22023 naming the first JSON path, all problems in the detail) and stores it as the next version of the named plan; returns the version. Storing a definition equal to the current one returns the current version.';
REVOKE EXECUTE ON FUNCTION @extschema@.add_plan_version(text, jsonb) FROM PUBLIC;

CREATE OR REPLACE FUNCTION @extschema@.plan_versions(plan_name text)
RETURNS TABLE (version integer, created_at timestamptz, created_by name, is_current boolean, definition jsonb)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    IF NOT EXISTS (SELECT 1 FROM @extschema@.plan_version p WHERE p.plan_name = $1) THEN
        RAISE EXCEPTION 'unknown plan "%"', $1 USING ERRCODE = 'undefined_object';
    END IF;
    RETURN QUERY
    SELECT p.version, p.created_at, p.created_by,
           p.version = pg_catalog.max(p.version) OVER (), p.definition
      FROM @extschema@.plan_version p
     WHERE p.plan_name = $1
     ORDER BY p.version;
END
$$;
COMMENT ON FUNCTION @extschema@.plan_versions(text) IS
  'All stored versions of a plan, oldest first; is_current marks the one mlm.close uses by default.';

-- Every row of mlm.source passes these checks, whatever wrote it (the
-- function below, or a role granted INSERT or UPDATE on the table): the
-- writer must be able to read each relation, its columns must fit, the
-- names are stored schema-qualified, and registered_by is the role that
-- wrote the row (closes check at every period that it can still read them).
CREATE FUNCTION @extschema@._source_check() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    m_rel regclass;
    v_rel regclass;
    c_rel regclass;
    rel   regclass;
    kind  text;
BEGIN
    IF NEW.source_name IS NULL OR pg_catalog.btrim(NEW.source_name) = '' THEN
        RAISE EXCEPTION 'a source needs a non-empty name' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NEW.members IS NULL OR NEW.volumes IS NULL OR NEW.period_column IS NULL THEN
        RAISE EXCEPTION 'source "%": members, volumes and period_column are required', NEW.source_name
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    m_rel := pg_catalog.to_regclass(NEW.members);
    v_rel := pg_catalog.to_regclass(NEW.volumes);
    c_rel := pg_catalog.to_regclass(NEW.carry);
    IF m_rel IS NULL OR v_rel IS NULL OR (NEW.carry IS NOT NULL AND c_rel IS NULL) THEN
        RAISE EXCEPTION 'source "%": relation % does not exist', NEW.source_name,
                        CASE WHEN m_rel IS NULL THEN NEW.members WHEN v_rel IS NULL THEN NEW.volumes ELSE NEW.carry END
            USING ERRCODE = 'undefined_table',
                  HINT = 'Name relations with their schema.';
    END IF;
    FOREACH rel IN ARRAY ARRAY[m_rel, v_rel, c_rel] LOOP
        CONTINUE WHEN rel IS NULL;
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = rel AND c.relpersistence = 't') THEN
            RAISE EXCEPTION 'source "%": % is a temporary relation', NEW.source_name, rel
                USING ERRCODE = 'wrong_object_type';
        END IF;
        IF NOT pg_catalog.has_table_privilege(rel, 'SELECT') THEN
            RAISE EXCEPTION 'source "%": permission denied for relation %', NEW.source_name, rel
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'Only a role that may read a relation may register it.';
        END IF;
    END LOOP;
    PERFORM @extschema@._check_relation(m_rel, 'members');
    PERFORM @extschema@._check_relation(v_rel, 'volumes');
    IF c_rel IS NOT NULL THEN
        PERFORM @extschema@._check_relation(c_rel, 'carry');
    END IF;
    -- a position is only meaningful under a placement parent
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a WHERE a.attrelid = m_rel AND a.attname = 'position'
                  AND a.attnum > 0 AND NOT a.attisdropped)
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a WHERE a.attrelid = m_rel AND a.attname = 'placement_id'
                          AND a.attnum > 0 AND NOT a.attisdropped) THEN
        RAISE EXCEPTION 'the members relation % has a column "position" but no column "placement_id"', m_rel
            USING ERRCODE = 'undefined_column';
    END IF;
    -- the columns and their types: the engine's own contract (C)
    kind := @extschema@._check_inputs(m_rel, v_rel, c_rel, NEW.period_column);

    NEW.members := (SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) FROM pg_catalog.pg_class c
                      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = m_rel);
    NEW.volumes := (SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) FROM pg_catalog.pg_class c
                      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = v_rel);
    NEW.carry := (SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) FROM pg_catalog.pg_class c
                    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = c_rel);
    NEW.period_kind := kind;
    -- the time zone that cuts timestamptz periods: given, or the database's
    -- (its own setting, else the server's), never the session's
    IF NEW.time_zone IS NULL THEN
        SELECT pg_catalog.substr(c.cfg, 10) INTO NEW.time_zone
          FROM pg_catalog.pg_db_role_setting s, pg_catalog.unnest(s.setconfig) c(cfg)
         WHERE s.setdatabase = (SELECT d.oid FROM pg_catalog.pg_database d
                                 WHERE d.datname = pg_catalog.current_database())
           AND s.setrole = 0 AND c.cfg LIKE 'TimeZone=%';
        IF NEW.time_zone IS NULL THEN
            SELECT st.reset_val INTO NEW.time_zone FROM pg_catalog.pg_settings st WHERE st.name = 'TimeZone';
        END IF;
    END IF;
    BEGIN
        PERFORM pg_catalog.timezone(NEW.time_zone, pg_catalog.now());
    EXCEPTION WHEN invalid_parameter_value OR feature_not_supported THEN
        RAISE EXCEPTION 'source "%": unknown time zone "%"', NEW.source_name, NEW.time_zone
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use a name of pg_timezone_names, such as ''UTC'' or ''America/New_York''.';
    END;
    NEW.registered_at := pg_catalog.now();
    NEW.registered_by := CURRENT_USER;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION @extschema@._source_check() IS
  'Trigger of mlm.source: checks every written row (the writer may read each relation, columns and types fit), stores the names schema-qualified and records the writer as registered_by.';

CREATE TRIGGER source_check BEFORE INSERT OR UPDATE ON @extschema@.source
    FOR EACH ROW EXECUTE FUNCTION @extschema@._source_check();

CREATE FUNCTION @extschema@.register_source(
    source_name text, members regclass, volumes regclass, period_column text,
    carry regclass DEFAULT NULL, replace boolean DEFAULT false, time_zone text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    p_name ALIAS FOR $1;
    p_members ALIAS FOR $2;
    p_volumes ALIAS FOR $3;
    p_pcol ALIAS FOR $4;
    p_carry ALIAS FOR $5;
    p_replace ALIAS FOR $6;
    p_tz ALIAS FOR $7;
BEGIN
    IF p_name IS NULL OR pg_catalog.btrim(p_name) = '' THEN
        RAISE EXCEPTION 'a source needs a non-empty name' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_members IS NULL OR p_volumes IS NULL OR p_pcol IS NULL THEN
        RAISE EXCEPTION 'source "%": members, volumes and period_column are required', p_name
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF EXISTS (SELECT 1 FROM @extschema@.source s WHERE s.source_name = p_name) AND NOT COALESCE(p_replace, false) THEN
        RAISE EXCEPTION 'source "%" is already registered', p_name
            USING ERRCODE = 'duplicate_object', HINT = 'Pass replace => true to change it.';
    END IF;
    -- the checks are those of the table's trigger (_source_check)
    INSERT INTO @extschema@.source AS s (source_name, members, volumes, period_column, period_kind, carry, time_zone)
    VALUES (p_name, p_members::text, p_volumes::text, p_pcol, 'date', p_carry::text, p_tz)
    ON CONFLICT ON CONSTRAINT source_pkey DO UPDATE
       SET members = EXCLUDED.members, volumes = EXCLUDED.volumes,
           period_column = EXCLUDED.period_column, period_kind = EXCLUDED.period_kind,
           carry = EXCLUDED.carry, time_zone = EXCLUDED.time_zone;
END
$$;
COMMENT ON FUNCTION @extschema@.register_source(text, regclass, regclass, text, regclass, boolean, text) IS
  'Registers where an ERP''s inputs come from: members (id, sponsor_id [, placement_id, position, active_status, joined]), volumes (member_id, pv, cv [, rv] and period_column: text = period label, or date/timestamp = within the period dates) and an optional opening carry (member_id, carry_left, carry_right, used when the plan has no finalized earlier period). Columns and types are checked now; the caller must be able to read the relations, and every close checks that it still can. A timestamptz period column is cut at midnight in time_zone (default: the database''s time zone), whatever the closing session''s TimeZone. Runs with the caller''s rights (needs INSERT/UPDATE on mlm.source).';
REVOKE EXECUTE ON FUNCTION @extschema@.register_source(text, regclass, regclass, text, regclass, boolean, text) FROM PUBLIC;

-- Every entry point answers a NULL argument with SQLSTATE 22004 naming it.
CREATE FUNCTION @extschema@._not_null(val anyelement, arg text) RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF val IS NULL THEN
        RAISE EXCEPTION 'argument % must not be null', arg USING ERRCODE = 'null_value_not_allowed';
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@._not_null(anyelement, text) IS
  'Raises 22004 naming the argument when a value is NULL.';

-- Checks the arguments shared by close and preview.
CREATE OR REPLACE FUNCTION @extschema@._check_period(p_plan text, p_label text, p_start date, p_end date, p_source text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM @extschema@._not_null(p_plan, 'plan_name');
    PERFORM @extschema@._not_null(p_label, 'period_label');
    PERFORM @extschema@._not_null(p_start, 'period_start');
    PERFORM @extschema@._not_null(p_end, 'period_end');
    PERFORM @extschema@._not_null(p_source, 'source');
    IF pg_catalog.btrim(p_label) = '' THEN
        RAISE EXCEPTION 'the period label is empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT pg_catalog.isfinite(p_start) OR NOT pg_catalog.isfinite(p_end) THEN
        RAISE EXCEPTION 'period "%" must have finite dates', p_label
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('The period runs from %s to %s.', p_start, p_end);
    END IF;
    IF p_start > p_end THEN
        RAISE EXCEPTION 'period "%" starts (%) after it ends (%)', p_label, p_start, p_end
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@._check_period(text, text, date, date, text) IS
  'Argument checks shared by mlm.close and mlm.preview.';

COMMENT ON FUNCTION @extschema@._carry_source_run(text, date) IS
  'The latest finalized run of the plan ending before the given date: its state out is the state in.';

-- run_totals shows the payables ledger's sums (columns added at the end)
CREATE OR REPLACE VIEW @extschema@.run_totals AS
SELECT r.run_id, r.plan_name, r.plan_version, r.period_label, r.period_start, r.period_end,
       r.status, r.total_cv, r.total_before_cap, r.cap_factor, r.total_paid,
       COALESCE(a.adjustments, 0) AS adjustments,
       r.total_paid + COALESCE(a.adjustments, 0) AS total,
       COALESCE(a.adjustment_count, 0) AS adjustment_count,
       r.balance_in, r.paid_out, r.balance_out
  FROM @extschema@.run r
  LEFT JOIN (SELECT ad.run_id, pg_catalog.sum(ad.amount) AS adjustments,
                    pg_catalog.count(*) AS adjustment_count
               FROM @extschema@.adjustment ad
              GROUP BY ad.run_id) a ON a.run_id = r.run_id;
COMMENT ON VIEW @extschema@.run_totals IS
  'Totals per run: paid by the run plus the adjustments posted to it; the payables ledger''s sums (balances brought in, paid out, balances owed forward; NULL for runs made before 0.2).';

-- The writer of a close (src/close_write.c): computes the period exactly as
-- _compute_source does with read_as_owner => true, and writes the rows
-- straight into the run tables of the draft run_id in batches (table
-- multi-insert and index insertion, as COPY does), instead of returning
-- them as SQL rows for INSERT statements.  It checks what the result
-- tables' statement triggers check for every other writer: the run exists
-- and is a draft (locked FOR UPDATE), and the current user may write the
-- tables.  Returns the row counts and the grand total.
CREATE FUNCTION @extschema@._close_source(
    plan pg_catalog.jsonb, members pg_catalog.regclass, volumes pg_catalog.regclass,
    period_column pg_catalog.text, period_label pg_catalog.text,
    period_start pg_catalog.date, period_end pg_catalog.date, time_zone pg_catalog.text,
    carry pg_catalog.regclass, with_lines pg_catalog.bool, run_id pg_catalog.int8,
    OUT payout_rows pg_catalog.int8, OUT member_result_rows pg_catalog.int8,
    OUT carry_out_rows pg_catalog.int8, OUT line_rows pg_catalog.int8, OUT bonus_rows pg_catalog.int8,
    OUT member_rows pg_catalog.int8, OUT volume_rows pg_catalog.int8, OUT carry_rows pg_catalog.int8,
    OUT input_checksum pg_catalog.text, OUT total_cv pg_catalog.numeric,
    OUT total_before_cap pg_catalog.numeric, OUT total_paid pg_catalog.numeric,
    OUT cap_limit pg_catalog.numeric, OUT cap_factor pg_catalog.numeric,
    OUT snapshot @extschema@.tree, OUT state_rows pg_catalog.int8, OUT payable_rows pg_catalog.int8,
    OUT balance_in pg_catalog.numeric, OUT paid_out pg_catalog.numeric, OUT balance_out pg_catalog.numeric)
    RETURNS record
    AS 'MODULE_PATHNAME', 'mlm_close_source' LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@._close_source(pg_catalog.jsonb, pg_catalog.regclass, pg_catalog.regclass, pg_catalog.text, pg_catalog.text, pg_catalog.date, pg_catalog.date, pg_catalog.text, pg_catalog.regclass, pg_catalog.bool, pg_catalog.int8) IS
  'internal, for mlm.close: computes a period as mlm._compute_source(..., read_as_owner => true) and writes its rows into the run tables of the draft run_id; returns the row counts and the grand total';
REVOKE EXECUTE ON FUNCTION @extschema@._close_source(pg_catalog.jsonb, pg_catalog.regclass, pg_catalog.regclass, pg_catalog.text, pg_catalog.text, pg_catalog.date, pg_catalog.date, pg_catalog.text, pg_catalog.regclass, pg_catalog.bool, pg_catalog.int8) FROM PUBLIC;

CREATE FUNCTION @extschema@._delete_run_rows(run_id pg_catalog.int8) RETURNS pg_catalog.int8
    AS 'MODULE_PATHNAME', 'mlm_delete_run_rows' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@._delete_run_rows(pg_catalog.int8) IS
  'internal, for mlm.close and mlm.discard_draft: deletes every result row of a draft run (the run is checked to be a draft and locked); returns how many';
REVOKE EXECUTE ON FUNCTION @extschema@._delete_run_rows(pg_catalog.int8) FROM PUBLIC;

CREATE OR REPLACE FUNCTION @extschema@.preview(
    plan_name text, period_label text, period_start date, period_end date, source text,
    with_lines boolean DEFAULT false, plan_version integer DEFAULT NULL)
RETURNS SETOF @extschema@.period_result
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    plv @extschema@.plan_version;
    inp record;
BEGIN
    PERFORM @extschema@._check_period($1, $2, $3, $4, $5);
    plv := @extschema@._plan_version($1, $7);
    inp := @extschema@._period_inputs($5, $2, @extschema@._carry_source_run($1, $3), false);
    RETURN QUERY
    SELECT c.kind, c.member_id, c.bonus, c.source_id, c.level, c.base, c.rate, c.amount,
           c.pv, c.gv, c.active, c.rank, c.carry_left, c.carry_right, c.qualified_rank,
           c.paid_as_rank, c.title_rank, c.grace, c.cpv, c.customers, c.rv, c.member_type,
           c.balance_in, c.earned, c.paid, c.balance_out
      FROM @extschema@._compute_source(plv.definition, inp.members, inp.volumes, inp.period_column,
                                       inp.period_label, $3, $4, inp.time_zone, inp.carry,
                                       COALESCE($6, false), false) c;
    PERFORM @extschema@._drop_views(inp.views);
END
$$;
COMMENT ON FUNCTION @extschema@.preview(text, text, date, date, text, boolean, integer) IS
  'Computes a period exactly as mlm.close would (same plan version, source, period selection and carry-in) and returns the rows of mlm.compute (kinds payout, member, carry, total, and line when with_lines) without writing anything. Runs with the caller''s rights.';

CREATE OR REPLACE FUNCTION @extschema@.close(
    plan_name text, period_label text, period_start date, period_end date, source text,
    with_lines boolean DEFAULT false, plan_version integer DEFAULT NULL, nowait boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    p_plan    ALIAS FOR $1;
    p_label   ALIAS FOR $2;
    p_start   ALIAS FOR $3;
    p_end     ALIAS FOR $4;
    p_source  ALIAS FOR $5;
    p_lines   ALIAS FOR $6;
    p_version ALIAS FOR $7;
    p_nowait  ALIAS FOR $8;
    t_requested timestamptz := pg_catalog.clock_timestamp();
    t_started   timestamptz;
    pv       @extschema@.plan_version;
    existing @extschema@.run;
    other    @extschema@.run;
    carry_run bigint;
    v_run      bigint;
    inp      record;
    res      record;
BEGIN
    PERFORM @extschema@._check_period(p_plan, p_label, p_start, p_end, p_source);
    PERFORM @extschema@._not_null(p_lines, 'with_lines');
    PERFORM @extschema@._not_null(p_nowait, 'nowait');
    PERFORM @extschema@._acquire(@extschema@._period_lock_key(p_plan, p_label), p_nowait,
                                 pg_catalog.format('period "%s" of plan "%s"', p_label, p_plan));
    -- the rows lock, shared, before any snapshot that reads the run's rows
    -- (see _run_rows_lock): closes write without unique checks
    PERFORM pg_catalog.pg_advisory_xact_lock_shared(pg_catalog.hashtextextended('mlm.run rows', 0));
    t_started := pg_catalog.clock_timestamp();

    pv := @extschema@._plan_version(p_plan, p_version);

    SELECT r.* INTO existing FROM @extschema@.run r
     WHERE r.plan_name = p_plan AND r.period_label = p_label
       FOR UPDATE;
    IF existing.status = 'final' THEN
        RAISE EXCEPTION 'period "%" of plan "%" is finalized (run %) and cannot be closed again',
                        p_label, p_plan, existing.run_id
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Post corrections with mlm.adjust(run_id, member_id, amount, reason).';
    END IF;
    -- a period keeps its dates: a draft is never silently re-dated
    IF existing.run_id IS NOT NULL
       AND (existing.period_start <> p_start OR existing.period_end <> p_end) THEN
        RAISE EXCEPTION 'period "%" of plan "%" was closed for % .. % (run %), not for % .. %',
                        p_label, p_plan, existing.period_start, existing.period_end, existing.run_id,
                        p_start, p_end
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Close it with its own dates, or discard the draft with mlm.discard_draft(run_id) first to change them.';
    END IF;

    SELECT r.* INTO other FROM @extschema@.run r
     WHERE r.plan_name = p_plan AND r.period_label <> p_label
       AND r.period_start <= p_end AND r.period_end >= p_start
     ORDER BY r.period_start LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'period "%" (% .. %) overlaps period "%" (% .. %, run %) of plan "%"',
                        p_label, p_start, p_end, other.period_label, other.period_start,
                        other.period_end, other.run_id, p_plan
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    SELECT r.* INTO other FROM @extschema@.run r
     WHERE r.plan_name = p_plan AND r.status = 'final' AND r.period_start > p_start
     ORDER BY r.period_start LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'plan "%" has a finalized later period "%" (run %): period "%" can no longer be closed',
                        p_plan, other.period_label, other.run_id, p_label
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;

    carry_run := @extschema@._carry_source_run(p_plan, p_start);
    inp := @extschema@._period_inputs(p_source, p_label, carry_run, true);

    IF existing.run_id IS NOT NULL THEN
        -- re-run of a draft: same run_id, everything else replaced
        v_run := existing.run_id;
        PERFORM @extschema@._delete_run_rows(v_run);
        UPDATE @extschema@.run
           SET plan_version = pv.version, period_start = p_start, period_end = p_end,
               source_name = p_source, members_relation = inp.members_relation,
               volumes_relation = inp.volumes_relation, carry_relation = inp.carry_relation,
               carry_from_run_id = carry_run, with_lines = p_lines, attempt = attempt + 1,
               run_by = SESSION_USER, time_zone = inp.time_zone
         WHERE run_id = v_run;
    ELSE
        BEGIN
            INSERT INTO @extschema@.run (plan_name, plan_version, period_label, period_start, period_end,
                                         source_name, members_relation, volumes_relation, carry_relation,
                                         carry_from_run_id, with_lines, run_by, time_zone)
            VALUES (p_plan, pv.version, p_label, p_start, p_end, p_source, inp.members_relation,
                    inp.volumes_relation, inp.carry_relation, carry_run, p_lines, SESSION_USER,
                    inp.time_zone)
            RETURNING run_id INTO v_run;
        EXCEPTION WHEN unique_violation THEN
            RAISE EXCEPTION 'period "%" of plan "%" was closed by a concurrent transaction', p_label, p_plan
                USING ERRCODE = 'serialization_failure',
                      HINT = 'Retry the transaction (closes under REPEATABLE READ or SERIALIZABLE cannot see a close that committed after their snapshot).';
        END;
    END IF;

    -- One statement: every input is read with one snapshot, and every
    -- result row is written by it, straight from the engine's results.  The
    -- inputs are read as their owners (see _check_relation), the rows are
    -- written as the extension owner.
    SELECT c.* INTO res
      FROM @extschema@._close_source(pv.definition, inp.members, inp.volumes, inp.period_column,
                                     inp.period_label, p_start, p_end, inp.time_zone, inp.carry,
                                     p_lines, v_run) c;

    IF res.member_rows IS NULL THEN
        RAISE EXCEPTION 'mlm.compute returned no grand total row for period "%" of plan "%"', p_label, p_plan
            USING ERRCODE = 'internal_error';
    END IF;

    UPDATE @extschema@.run
       SET member_rows = res.member_rows, volume_rows = res.volume_rows, carry_rows = res.carry_rows,
           input_checksum = res.input_checksum, total_cv = res.total_cv,
           total_before_cap = res.total_before_cap, total_paid = res.total_paid,
           cap_limit = res.cap_limit, cap_factor = res.cap_factor,
           payout_rows = res.payout_rows, member_result_rows = res.member_result_rows,
           carry_out_rows = res.carry_out_rows, line_rows = res.line_rows, bonus_rows = res.bonus_rows,
           snapshot = res.snapshot, state_rows = res.state_rows, payable_rows = res.payable_rows,
           balance_in = res.balance_in, paid_out = res.paid_out, balance_out = res.balance_out,
           lock_wait = t_started - t_requested, started_at = t_started,
           finished_at = pg_catalog.clock_timestamp(),
           duration = pg_catalog.clock_timestamp() - t_started
     WHERE run_id = v_run;

    PERFORM @extschema@._drop_views(inp.views);
    RETURN v_run;
END
$$;
COMMENT ON FUNCTION @extschema@.close(text, text, date, date, text, boolean, integer, boolean) IS
  'Closes a period as a draft, in the calling transaction: computes it with mlm.compute (plan version pinned: the current one unless given; state in (carry, ranks, grace, balances) from the latest finalized earlier run of the plan, else the source''s opening state) and writes the run header, payouts, member results, carry-out, state out, payables (plans with payout), bonus totals, the tree snapshot and, with with_lines, the audit lines. Re-closing a draft replaces its results and keeps its run_id; a finalized period is refused. Closes of one period serialize on an advisory lock (nowait => true: fail with 55P03 instead of waiting). Returns the run_id.';
REVOKE EXECUTE ON FUNCTION @extschema@.close(text, text, date, date, text, boolean, integer, boolean) FROM PUBLIC;

-- The checksum of a period's inputs as they are now, computed as the close
-- computes it (same source, carry-in, plan version and time zone).
CREATE FUNCTION @extschema@._input_checksum(r @extschema@.run) RETURNS text
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    inp  record;
    def  jsonb;
    sum  text;
BEGIN
    SELECT p.definition INTO def FROM @extschema@.plan_version p
     WHERE p.plan_name = r.plan_name AND p.version = r.plan_version;
    inp := @extschema@._period_inputs(r.source_name, r.period_label, r.carry_from_run_id, true);
    SELECT c.input_checksum INTO sum
      FROM @extschema@._compute_source(def, inp.members, inp.volumes, inp.period_column, inp.period_label,
                                       r.period_start, r.period_end, inp.time_zone, inp.carry, false, true,
                                       'total') c
     WHERE c.kind = 'total' AND c.bonus IS NULL;
    PERFORM @extschema@._drop_views(inp.views);
    RETURN sum;
END
$$;
COMMENT ON FUNCTION @extschema@._input_checksum(@extschema@.run) IS
  'The checksum of a run''s inputs as they are now (for finalize: a draft whose inputs changed since it was computed is stale).';

CREATE FUNCTION @extschema@.finalize(run_id bigint, accept_changed_inputs boolean DEFAULT false) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    p_run ALIAS FOR $1;
    p_accept ALIAS FOR $2;
    r     @extschema@.run;
    other @extschema@.run;
    carry_run bigint;
    now_sum text;
BEGIN
    PERFORM @extschema@._not_null(p_run, 'run_id');
    PERFORM @extschema@._not_null(p_accept, 'accept_changed_inputs');
    SELECT x.* INTO r FROM @extschema@.run x WHERE x.run_id = p_run;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'run % does not exist', p_run USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM pg_catalog.pg_advisory_xact_lock(@extschema@._period_lock_key(r.plan_name, r.period_label));
    PERFORM pg_catalog.pg_advisory_xact_lock(@extschema@._plan_lock_key(r.plan_name));
    -- read again: a close or finalize may have committed while we waited
    SELECT x.* INTO r FROM @extschema@.run x WHERE x.run_id = p_run FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'run % does not exist', p_run USING ERRCODE = 'undefined_object';
    END IF;
    IF r.status = 'final' THEN
        RAISE EXCEPTION 'run % (plan "%", period "%") is already finalized', r.run_id, r.plan_name, r.period_label
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = pg_catalog.format('It was finalized at %s by %s.', r.finalized_at, r.finalized_by);
    END IF;
    SELECT x.* INTO other FROM @extschema@.run x
     WHERE x.plan_name = r.plan_name AND x.status = 'draft' AND x.period_start < r.period_start
     ORDER BY x.period_start LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'period "%" of plan "%" (run %) is an earlier draft: finalize or discard it first',
                        other.period_label, r.plan_name, other.run_id
            USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'The periods of a plan are finalized in date order.';
    END IF;
    SELECT x.* INTO other FROM @extschema@.run x
     WHERE x.plan_name = r.plan_name AND x.status = 'final' AND x.period_start > r.period_start
     ORDER BY x.period_start LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'plan "%" has a finalized later period "%" (run %): run % can no longer be finalized',
                        r.plan_name, other.period_label, other.run_id, r.run_id
            USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Discard the draft with mlm.discard_draft(run_id).';
    END IF;
    SELECT x.* INTO other FROM @extschema@.run x
     WHERE x.plan_name = r.plan_name AND x.status = 'final' AND x.run_id <> r.run_id
       AND x.period_start <= r.period_end AND x.period_end >= r.period_start
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'run % overlaps the finalized period "%" (run %) of plan "%"',
                        r.run_id, other.period_label, other.run_id, r.plan_name
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    carry_run := @extschema@._carry_source_run(r.plan_name, r.period_start);
    IF carry_run IS DISTINCT FROM r.carry_from_run_id THEN
        RAISE EXCEPTION 'run % is stale: its carry-in came from run %, but the latest finalized earlier period is now run %',
                        r.run_id, COALESCE(r.carry_from_run_id::text, '(none)'),
                        COALESCE(carry_run::text, '(none)')
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = pg_catalog.format('Close period "%s" again, then finalize it.', r.period_label);
    END IF;
    -- the state counts periods (grace, balances): no period may be skipped
    SELECT x.* INTO other FROM @extschema@.run x WHERE x.run_id = carry_run;
    IF FOUND AND other.period_end <> r.period_start - 1 THEN
        RAISE EXCEPTION 'run % cannot be finalized: its state comes from period "%" (run %), which ends on %, not on the day before % starts',
                        r.run_id, other.period_label, other.run_id, other.period_end, r.period_start
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = pg_catalog.format('Period "%s" starts on %s; the periods of a plan are finalized one after another, without gaps.',
                                             r.period_label, r.period_start),
                  HINT = 'Close and finalize the missing period first, or discard this draft.';
    END IF;
    -- the inputs as they are now: a late order or a changed genealogy makes
    -- the draft stale, unless the caller accepts that on purpose
    now_sum := @extschema@._input_checksum(r);
    IF now_sum IS DISTINCT FROM r.input_checksum AND NOT p_accept THEN
        RAISE EXCEPTION 'run % is stale: the inputs of period "%" of plan "%" changed since it was computed',
                        r.run_id, r.period_label, r.plan_name
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = pg_catalog.format('The input checksum was %s when the run was computed and is %s now.',
                                             COALESCE(r.input_checksum, '(none)'), COALESCE(now_sum, '(none)')),
                  HINT = pg_catalog.format('Close period "%s" again, then finalize it; or finalize with accept_changed_inputs => true, which the run records.', r.period_label);
    END IF;
    UPDATE @extschema@.run
       SET status = 'final', finalized_at = pg_catalog.now(), finalized_by = SESSION_USER,
           finalized_inputs_changed = now_sum IS DISTINCT FROM r.input_checksum
     WHERE run_id = r.run_id;
    RETURN r.run_id;
END
$$;
COMMENT ON FUNCTION @extschema@.finalize(bigint, boolean) IS
  'Freezes a draft run: afterwards the period cannot be closed again, its rows cannot change, and its state out (carry, ranks, grace, balances) becomes the state in of the next period. Periods of a plan are finalized in date order and without gaps (a draft whose state comes from a finalized run that does not end the day before it starts is refused); a draft whose state in is no longer the latest finalized earlier run is refused as stale, and so is a draft whose inputs changed since it was computed (the input checksum is computed again), unless accept_changed_inputs, which the run records in finalized_inputs_changed. Returns the run_id.';
REVOKE EXECUTE ON FUNCTION @extschema@.finalize(bigint, boolean) FROM PUBLIC;

CREATE FUNCTION @extschema@.finalize(plan_name text, period_label text, accept_changed_inputs boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    id bigint;
BEGIN
    PERFORM @extschema@._not_null($1, 'plan_name');
    PERFORM @extschema@._not_null($2, 'period_label');
    SELECT r.run_id INTO id FROM @extschema@.run r WHERE r.plan_name = $1 AND r.period_label = $2;
    IF id IS NULL THEN
        RAISE EXCEPTION 'period "%" of plan "%" has not been closed', $2, $1 USING ERRCODE = 'undefined_object';
    END IF;
    RETURN @extschema@.finalize(id, $3);
END
$$;
COMMENT ON FUNCTION @extschema@.finalize(text, text, boolean) IS 'mlm.finalize(run_id, accept_changed_inputs) for the run of a plan''s period.';
REVOKE EXECUTE ON FUNCTION @extschema@.finalize(text, text, boolean) FROM PUBLIC;

CREATE OR REPLACE FUNCTION @extschema@.discard_draft(run_id bigint) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    p_run ALIAS FOR $1;
    r @extschema@.run;
BEGIN
    PERFORM @extschema@._not_null(p_run, 'run_id');
    SELECT x.* INTO r FROM @extschema@.run x WHERE x.run_id = p_run;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'run % does not exist', p_run USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM pg_catalog.pg_advisory_xact_lock(@extschema@._period_lock_key(r.plan_name, r.period_label));
    SELECT x.* INTO r FROM @extschema@.run x WHERE x.run_id = p_run FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'run % does not exist', p_run USING ERRCODE = 'undefined_object';
    END IF;
    IF r.status = 'final' THEN
        RAISE EXCEPTION 'run % (plan "%", period "%") is finalized and cannot be discarded',
                        r.run_id, r.plan_name, r.period_label
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    PERFORM @extschema@._delete_run_rows(p_run);
    DELETE FROM @extschema@.run WHERE run_id = p_run;
END
$$;
COMMENT ON FUNCTION @extschema@.discard_draft(bigint) IS
  'Deletes a draft run and its rows (finalized runs are refused).';
REVOKE EXECUTE ON FUNCTION @extschema@.discard_draft(bigint) FROM PUBLIC;

CREATE OR REPLACE FUNCTION @extschema@.adjust(run_id bigint, member_id bigint, amount numeric, reason text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    p_run    ALIAS FOR $1;
    p_member ALIAS FOR $2;
    p_amount ALIAS FOR $3;
    p_reason ALIAS FOR $4;
    r     @extschema@.run;
    scale integer;
    id    bigint;
BEGIN
    PERFORM @extschema@._not_null(p_run, 'run_id');
    PERFORM @extschema@._not_null(p_member, 'member_id');
    PERFORM @extschema@._not_null(p_amount, 'amount');
    PERFORM @extschema@._not_null(p_reason, 'reason');
    SELECT x.* INTO r FROM @extschema@.run x WHERE x.run_id = p_run;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'run % does not exist', p_run USING ERRCODE = 'undefined_object';
    END IF;
    IF r.status <> 'final' THEN
        RAISE EXCEPTION 'run % (plan "%", period "%") is a draft: adjustments are posted to finalized runs only',
                        r.run_id, r.plan_name, r.period_label
            USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Fix the inputs and close the period again.';
    END IF;
    IF p_member IS NULL OR p_amount IS NULL OR p_amount = 0 THEN
        RAISE EXCEPTION 'an adjustment needs a member and a non-zero amount' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- NaN and infinities are numerics too, and an adjustment can never be
    -- deleted: refuse what no payout could be
    IF p_amount IN ('NaN'::numeric, 'Infinity'::numeric, '-Infinity'::numeric) THEN
        RAISE EXCEPTION 'adjustment amount % is not a finite number', p_amount
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF pg_catalog.abs(p_amount) >= 1e18 THEN
        RAISE EXCEPTION 'adjustment amount % is out of range', p_amount
            USING ERRCODE = 'numeric_value_out_of_range',
                  DETAIL = 'Amounts must stay below 10^18 currency units, as every amount the engine computes.';
    END IF;
    IF p_reason IS NULL OR pg_catalog.btrim(p_reason) = '' THEN
        RAISE EXCEPTION 'an adjustment needs a reason' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT COALESCE((p.definition #>> '{currency,scale}')::integer, 2) INTO scale
      FROM @extschema@.plan_version p
     WHERE p.plan_name = r.plan_name AND p.version = r.plan_version;
    IF pg_catalog.round(p_amount, scale) <> p_amount THEN
        RAISE EXCEPTION 'amount % has more than % decimals (the currency scale of plan "%")',
                        p_amount, scale, r.plan_name
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM @extschema@.run_member m WHERE m.run_id = p_run AND m.member_id = p_member) THEN
        RAISE EXCEPTION 'member % was not part of run %', p_member, p_run USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO @extschema@.adjustment (run_id, member_id, amount, reason, created_by)
    VALUES (p_run, p_member, p_amount, p_reason, SESSION_USER)
    RETURNING adjustment_id INTO id;
    RETURN id;
END
$$;
COMMENT ON FUNCTION @extschema@.adjust(bigint, bigint, numeric, text) IS
  'Posts an immutable adjustment (member, amount at the currency scale, reason) to a finalized run; returns its id. Included in mlm.payout_totals and mlm.run_totals.';
REVOKE EXECUTE ON FUNCTION @extschema@.adjust(bigint, bigint, numeric, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION @extschema@.run_downline(run_id bigint, member bigint, max_depth integer DEFAULT NULL)
RETURNS TABLE (member_id bigint, level integer)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    t @extschema@.tree;
BEGIN
    PERFORM @extschema@._not_null($1, 'run_id');
    PERFORM @extschema@._not_null($2, 'member');
    SELECT r.snapshot INTO t FROM @extschema@.run r WHERE r.run_id = $1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'run % does not exist', $1 USING ERRCODE = 'undefined_object';
    END IF;
    RETURN QUERY SELECT d.member_id, d.level FROM @extschema@.downline(t, $2, $3) d;
END
$$;
COMMENT ON FUNCTION @extschema@.run_downline(bigint, bigint, integer) IS
  'The sponsor downline of a member in the tree snapshot a run used: who was in whose downline when the period was paid.';

-- DROP EXTENSION mlm (with or without CASCADE), DROP SCHEMA of the
-- extension's schema and DROP OWNED BY its owner would delete every
-- finalized run with its payouts, lines and adjustments.  They are refused
-- while a finalized run exists, unless the session has set
-- mlm.allow_drop_history = on (after exporting the history with pg_dump).
CREATE FUNCTION @extschema@._drop_guard() RETURNS event_trigger
    AS 'MODULE_PATHNAME', 'mlm_drop_guard' LANGUAGE C;
COMMENT ON FUNCTION @extschema@._drop_guard() IS
    'event trigger: refuses DROP EXTENSION mlm, DROP SCHEMA of its schema and DROP OWNED BY its owner while finalized runs exist (override: SET mlm.allow_drop_history = on)';

CREATE EVENT TRIGGER mlm_drop_guard ON ddl_command_start
    WHEN TAG IN ('DROP EXTENSION', 'DROP SCHEMA', 'DROP OWNED')
    EXECUTE FUNCTION @extschema@._drop_guard();

-- The downline of a member in a run's snapshot, to a depth, with the run's
-- results of each member: the rows behind the DOT and JSON exports.  The
-- sponsor tree comes from mlm.downline; the placement tree (binary and
-- matrix plans) from the snapshot's placement, level by level.  Refused
-- (54000) beyond max_nodes members, so a picture is never a 100 MB string.
CREATE FUNCTION @extschema@.run_genealogy(
    run_id bigint, member bigint, max_depth integer DEFAULT 3, tree text DEFAULT 'sponsor',
    max_nodes integer DEFAULT 2000)
RETURNS TABLE (member_id bigint, parent_id bigint, level integer, "position" integer,
               rank text, pv numeric, gv numeric, amount numeric)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    t     @extschema@.tree;
    n     bigint;
BEGIN
    PERFORM @extschema@._not_null($1, 'run_id');
    PERFORM @extschema@._not_null($2, 'member');
    PERFORM @extschema@._not_null($3, 'max_depth');
    PERFORM @extschema@._not_null($4, 'tree');
    PERFORM @extschema@._not_null($5, 'max_nodes');
    IF $3 < 0 OR $3 > 100 OR $5 < 1 THEN
        RAISE EXCEPTION 'max_depth must be between 0 and 100 and max_nodes at least 1'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF $4 NOT IN ('sponsor', 'placement') THEN
        RAISE EXCEPTION 'unknown tree "%"', $4
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Use sponsor or placement.';
    END IF;
    SELECT r.snapshot INTO t FROM @extschema@.run r WHERE r.run_id = $1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'run % does not exist', $1 USING ERRCODE = 'undefined_object';
    END IF;
    IF t IS NULL OR NOT @extschema@.contains(t, $2) THEN
        RAISE EXCEPTION 'member % is not in the snapshot of run %', $2, $1
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF $4 = 'sponsor' THEN
        n := 1 + (SELECT pg_catalog.count(*) FROM @extschema@.downline(t, $2, $3));
    ELSE
        WITH RECURSIVE pm AS MATERIALIZED (
            SELECT m.member_id, m.placement_id FROM @extschema@.members(t) m WHERE m.placement_id IS NOT NULL
        ), d(member_id, level) AS (
            SELECT $2, 0
            UNION ALL
            SELECT pm.member_id, d.level + 1 FROM d JOIN pm ON pm.placement_id = d.member_id WHERE d.level < $3
        )
        SELECT pg_catalog.count(*) INTO n FROM d;
    END IF;
    IF n > $5 THEN
        RAISE EXCEPTION 'the % downline of member % in run % to depth % has % members, more than %',
                        $4, $2, $1, $3, n, $5
            USING ERRCODE = 'program_limit_exceeded',
                  HINT = 'Ask for fewer levels, a member further down, or a larger max_nodes.';
    END IF;
    -- rows in preorder (parents first, siblings by slot), as pictures need them
    IF $4 = 'sponsor' THEN
        RETURN QUERY
        SELECT g.member_id, g.parent_id, g.level, NULL::integer, rm.rank, rm.pv, rm.gv, rm.amount
          FROM (SELECT $2 AS member_id, NULL::bigint AS parent_id, 0 AS level, 0::bigint AS ord
                UNION ALL
                SELECT d.member_id, @extschema@.parent(t, d.member_id), d.level, pg_catalog.row_number() OVER ()
                  FROM @extschema@.downline(t, $2, $3) d) g
          LEFT JOIN @extschema@.run_member rm ON rm.run_id = $1 AND rm.member_id = g.member_id
         ORDER BY g.ord;
    ELSE
        RETURN QUERY
        WITH RECURSIVE pm AS MATERIALIZED (
            SELECT m.member_id, m.placement_id, m."position" FROM @extschema@.members(t) m
             WHERE m.placement_id IS NOT NULL
        ), d(member_id, parent_id, level, "position", path) AS (
            SELECT $2, NULL::bigint, 0, NULL::integer, ARRAY[]::integer[]
            UNION ALL
            SELECT pm.member_id, pm.placement_id, d.level + 1, pm."position", d.path || pm."position"
              FROM d JOIN pm ON pm.placement_id = d.member_id WHERE d.level < $3
        )
        SELECT d.member_id, d.parent_id, d.level, d."position", rm.rank, rm.pv, rm.gv, rm.amount
          FROM d LEFT JOIN @extschema@.run_member rm ON rm.run_id = $1 AND rm.member_id = d.member_id
         ORDER BY d.path;
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.run_genealogy(bigint, bigint, integer, text, integer) IS
  'A member''s downline to max_depth levels (at most 100) in the snapshot of a run (tree sponsor or placement), in preorder, with each member''s rank, PV, GV and amount paid in that run; refused (54000) beyond max_nodes members.';

-- The same downline as nested JSON, the shape web front-ends draw:
-- {"id", "rank", "pv", "gv", "paid", "side" (placement: left, right or the
-- slot number), "children": [...]}.  Written in one pass over the rows in
-- preorder, opening and closing children lists by level: no recursion.
CREATE FUNCTION @extschema@.run_genealogy_json(
    run_id bigint, member bigint, max_depth integer DEFAULT 3, tree text DEFAULT 'sponsor',
    max_nodes integer DEFAULT 2000)
RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    g     record;
    buf   text := '';
    open  integer := -1;        -- level of the innermost node left open
    node  text;
BEGIN
    FOR g IN SELECT * FROM @extschema@.run_genealogy($1, $2, $3, $4, $5) LOOP
        -- close the nodes at this level or deeper
        IF open >= g.level THEN
            buf := buf || pg_catalog.repeat(']}', open - g.level + 1) || ', ';
        END IF;
        node := pg_catalog.jsonb_build_object(
                    'id', g.member_id, 'rank', g.rank, 'pv', g.pv, 'gv', g.gv, 'paid', g.amount,
                    'side', CASE WHEN $4 <> 'placement' OR g.level = 0 THEN NULL
                                 WHEN g."position" = 0 THEN 'left'
                                 WHEN g."position" = 1 THEN 'right'
                                 ELSE g."position"::text END)::text;
        buf := buf || pg_catalog.left(node, -1) || ', "children": [';
        open := g.level;
    END LOOP;
    IF open < 0 THEN
        RETURN NULL;
    END IF;
    RETURN (buf || pg_catalog.repeat(']}', open + 1))::jsonb;
END
$$;
COMMENT ON FUNCTION @extschema@.run_genealogy_json(bigint, bigint, integer, text, integer) IS
  'mlm.run_genealogy as nested JSON ({id, rank, pv, gv, paid, side, children}), the shape web front-ends draw.';

-- The same downline as a Graphviz DOT digraph: one node per member (id,
-- rank, PV, GV, paid), top-down; in the placement tree the children of a
-- node are drawn in slot order, an empty binary slot as an invisible node so
-- that left stays left and right stays right.
CREATE FUNCTION @extschema@.run_genealogy_dot(
    run_id bigint, member bigint, max_depth integer DEFAULT 3, tree text DEFAULT 'sponsor',
    max_nodes integer DEFAULT 2000)
RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    WITH g AS (SELECT * FROM @extschema@.run_genealogy(run_id, member, max_depth, tree, max_nodes)),
    nodes AS (
        SELECT pg_catalog.format('  m%s [label="%s\n%s\nPV %s  GV %s\npaid %s"];',
                                 g.member_id, g.member_id, COALESCE(g.rank, '-'),
                                 COALESCE(g.pv::text, '-'), COALESCE(g.gv::text, '-'),
                                 COALESCE(g.amount::text, '-')) AS line,
               0 AS part, g.level, g.parent_id, g."position", g.member_id
          FROM g
    ),
    edges AS (
        SELECT pg_catalog.format('  m%s -> m%s%s;', g.parent_id, g.member_id,
                                 CASE WHEN tree = 'placement' AND g."position" = 0 THEN ' [label="L"]'
                                      WHEN tree = 'placement' AND g."position" = 1 THEN ' [label="R"]'
                                      ELSE '' END) AS line,
               1 AS part, g.level, g.parent_id, g."position", g.member_id
          FROM g WHERE g.parent_id IS NOT NULL
    ),
    holes AS (
        -- a binary node with one child: an invisible twin holds the other slot
        SELECT pg_catalog.format('  e%s_%s [style=invis, label=""]; m%s -> e%s_%s [style=invis];',
                                 g.parent_id, 1 - g."position", g.parent_id, g.parent_id, 1 - g."position") AS line,
               1 AS part, g.level, g.parent_id, 1 - g."position" AS "position", NULL::bigint AS member_id
          FROM g
         WHERE tree = 'placement' AND g."position" IN (0, 1)
           AND NOT EXISTS (SELECT 1 FROM g s WHERE s.parent_id = g.parent_id AND s."position" = 1 - g."position")
    )
    SELECT 'digraph downline {' || E'\n'
           || '  node [shape=box, fontname="Helvetica"];' || E'\n'
           || COALESCE(pg_catalog.string_agg(x.line, E'\n' ORDER BY x.part, x.level, x.parent_id, x."position", x.member_id), '')
           || E'\n}' || E'\n'
      FROM (SELECT * FROM nodes UNION ALL SELECT * FROM edges UNION ALL SELECT * FROM holes) x;
END;
COMMENT ON FUNCTION @extschema@.run_genealogy_dot(bigint, bigint, integer, text, integer) IS
  'mlm.run_genealogy as a Graphviz DOT digraph (dot -Tsvg renders it); binary legs drawn left and right in the placement tree.';

------------------------------------------------------------------------------
-- Functions whose arguments changed: the new ones exist now; the grants
-- given on the old ones (roles of the recipe, PUBLIC revoked) carry over,
-- then the old ones go.
------------------------------------------------------------------------------

DO $do$
DECLARE
    pair text[];
    g record;
BEGIN
    FOREACH pair SLICE 1 IN ARRAY ARRAY[
        ['@extschema@.register_source(text, regclass, regclass, text, regclass, boolean)',
         '@extschema@.register_source(text, regclass, regclass, text, regclass, boolean, text)'],
        ['@extschema@.finalize(bigint)', '@extschema@.finalize(bigint, boolean)'],
        ['@extschema@.finalize(text, text)', '@extschema@.finalize(text, text, boolean)'],
        ['@extschema@.compute(jsonb, regclass, regclass, date, date, regclass, boolean, text)',
         '@extschema@.compute(jsonb, regclass, regclass, date, date, regclass, boolean, text, text, text, text)'],
        ['@extschema@.compute_snapshot(jsonb, @extschema@.tree, regclass, date, date, regclass, boolean, text)',
         '@extschema@.compute_snapshot(jsonb, @extschema@.tree, regclass, date, date, regclass, boolean, text, text, text, text)'],
        ['@extschema@.payouts(jsonb, regclass, regclass, date, date, regclass)',
         '@extschema@.payouts(jsonb, regclass, regclass, date, date, regclass, text, text, text)'],
        ['@extschema@.member_results(jsonb, regclass, regclass, date, date, regclass)',
         '@extschema@.member_results(jsonb, regclass, regclass, date, date, regclass, text, text, text)'],
        ['@extschema@.lines(jsonb, regclass, regclass, date, date, regclass)',
         '@extschema@.lines(jsonb, regclass, regclass, date, date, regclass, text, text, text)'],
        ['@extschema@.carry_out(jsonb, regclass, regclass, date, date, regclass)',
         '@extschema@.carry_out(jsonb, regclass, regclass, date, date, regclass, text, text, text)'],
        ['@extschema@.totals(jsonb, regclass, regclass, date, date, regclass)',
         '@extschema@.totals(jsonb, regclass, regclass, date, date, regclass, text, text, text)']]
    LOOP
        -- a function whose ACL was set (PUBLIC revoked, roles granted) keeps it
        IF (SELECT p.proacl IS NOT NULL FROM pg_catalog.pg_proc p
             WHERE p.oid = pair[1]::pg_catalog.regprocedure) THEN
            EXECUTE pg_catalog.format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', pair[2]);
        END IF;
        FOR g IN
            SELECT a.grantee, a.is_grantable
              FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a
             WHERE p.oid = pair[1]::pg_catalog.regprocedure AND a.privilege_type = 'EXECUTE'
               AND a.grantee <> p.proowner
        LOOP
            EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %s%s', pair[2],
                                      CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE g.grantee::regrole::text END,
                                      CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
        END LOOP;
    END LOOP;
END
$do$;
DROP FUNCTION @extschema@.register_source(text, regclass, regclass, text, regclass, boolean);
DROP FUNCTION @extschema@.finalize(text, text);
DROP FUNCTION @extschema@.finalize(bigint);
DROP FUNCTION @extschema@.compute(jsonb, regclass, regclass, date, date, regclass, boolean, text);
DROP FUNCTION @extschema@.compute_snapshot(jsonb, @extschema@.tree, regclass, date, date, regclass, boolean, text);
DROP FUNCTION @extschema@.payouts(jsonb, regclass, regclass, date, date, regclass);
DROP FUNCTION @extschema@.member_results(jsonb, regclass, regclass, date, date, regclass);
DROP FUNCTION @extschema@.lines(jsonb, regclass, regclass, date, date, regclass);
DROP FUNCTION @extschema@.carry_out(jsonb, regclass, regclass, date, date, regclass);
DROP FUNCTION @extschema@.totals(jsonb, regclass, regclass, date, date, regclass);

-- The column checks of 0.1's SQL are now those of the engine (_check_inputs).
DROP FUNCTION @extschema@._check_column(regclass, text, text, text, boolean);
DROP FUNCTION @extschema@._base_type(oid);
