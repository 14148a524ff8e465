-- 54_plan_registry.sql: immutable plan versions.

------------------------------------------------------------------------------
-- Plan registry
------------------------------------------------------------------------------

CREATE FUNCTION @extschema@.add_plan_version(plan_name text, definition jsonb) RETURNS integer
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

CREATE FUNCTION @extschema@.plan(plan_name text, version integer DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN (@extschema@._plan_version($1, $2)).definition;
END
$$;
COMMENT ON FUNCTION @extschema@.plan(text, integer) IS
  'The definition of a plan version (the current, i.e. latest, one when version is NULL).';

CREATE FUNCTION @extschema@.plan_versions(plan_name text)
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

