-- 55_sources.sql: where an ERP's inputs come from.

------------------------------------------------------------------------------
-- Sources
------------------------------------------------------------------------------

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

