-- 51_close_integrity.sql: triggers that keep the history append-only and
-- the rows of a finalized run frozen (conventions: 50_close_tables.sql).

------------------------------------------------------------------------------
-- Integrity triggers
------------------------------------------------------------------------------

CREATE FUNCTION @extschema@._refuse_change() RETURNS trigger
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

CREATE TRIGGER plan_version_immutable BEFORE UPDATE OR DELETE ON @extschema@.plan_version
    FOR EACH ROW EXECUTE FUNCTION @extschema@._refuse_change();
CREATE TRIGGER plan_version_no_truncate BEFORE TRUNCATE ON @extschema@.plan_version
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._refuse_change();
CREATE TRIGGER adjustment_immutable BEFORE UPDATE OR DELETE ON @extschema@.adjustment
    FOR EACH ROW EXECUTE FUNCTION @extschema@._refuse_change();
CREATE TRIGGER adjustment_no_truncate BEFORE TRUNCATE ON @extschema@.adjustment
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._refuse_change();
CREATE TRIGGER run_no_truncate BEFORE TRUNCATE ON @extschema@.run
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._refuse_change();

CREATE FUNCTION @extschema@._run_guard() RETURNS trigger
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
           OR EXISTS (SELECT 1 FROM @extschema@.run_line_pack x WHERE x.run_id = OLD.run_id)
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

CREATE TRIGGER run_frozen BEFORE UPDATE OR DELETE ON @extschema@.run
    FOR EACH ROW EXECUTE FUNCTION @extschema@._run_guard();

-- Result rows of a finalized run are frozen.  The checks are per statement
-- (transition tables), so a close of hundreds of thousands of members pays
-- one join, not one lookup per row; for the same reason the result tables
-- have no foreign key to mlm.run (row-by-row checks doubled the time of a
-- 300k-member close): the insert check below verifies that the run exists,
-- and mlm.run refuses to delete a run that still has rows.  Inserting into a finalized run is only
-- accepted up to the row count recorded in its header: that lets pg_dump's
-- restore reload the history, and nothing else add to it.
CREATE FUNCTION @extschema@._run_rows_guard() RETURNS trigger
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
                              WHEN 'run_line_pack' THEN hdr.line_rows
                              WHEN 'run_bonus_total' THEN hdr.bonus_rows
                              WHEN 'run_state' THEN hdr.state_rows
                              WHEN 'run_payable' THEN hdr.payable_rows END;
            -- (the header counts lines, which run_line_pack packs)
            EXECUTE pg_catalog.format('SELECT %s FROM %I.%I x WHERE x.run_id = $1',
                                      CASE TG_TABLE_NAME WHEN 'run_line_pack' THEN 'COALESCE(pg_catalog.sum(x.lines), 0)'
                                                         ELSE 'pg_catalog.count(*)' END,
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

-- The same four guards on every result table of a run.
DO $guards$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['run_payout', 'run_member', 'run_carry', 'run_line_pack', 'run_bonus_total',
                                'run_state', 'run_payable'] LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON @extschema@.%I
                          REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
                          EXECUTE FUNCTION @extschema@._run_rows_guard()', t || '_insert', t);
        EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON @extschema@.%I
                          REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
                          EXECUTE FUNCTION @extschema@._run_rows_guard()', t || '_delete', t);
        EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE ON @extschema@.%I
                          FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._refuse_change()', t || '_update', t);
        EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON @extschema@.%I
                          FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._refuse_change()', t || '_truncate', t);
    END LOOP;
END
$guards$;


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

DO $locks$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['run_payout', 'run_member', 'run_carry', 'run_line_pack', 'run_bonus_total',
                                'run_state', 'run_payable'] LOOP
        EXECUTE format('CREATE TRIGGER %I BEFORE INSERT ON @extschema@.%I
                          FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._run_rows_lock()', t || '_lock', t);
    END LOOP;
END
$locks$;
