-- 53_close_inputs.sql: locks, and the checks and selection of a source's
-- input relations for a close or a preview.

------------------------------------------------------------------------------
-- Internal helpers
------------------------------------------------------------------------------

CREATE FUNCTION @extschema@._period_lock_key(plan_name text, period_label text) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN pg_catalog.hashtextextended('mlm.period' || E'\x1f' || plan_name || E'\x1f' || period_label, 0);
COMMENT ON FUNCTION @extschema@._period_lock_key(text, text) IS
  'Advisory lock key (transaction level) of one period of one plan: taken by close, finalize and discard_draft.';

CREATE FUNCTION @extschema@._plan_lock_key(plan_name text) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN pg_catalog.hashtextextended('mlm.plan' || E'\x1f' || plan_name, 0);
COMMENT ON FUNCTION @extschema@._plan_lock_key(text) IS
  'Advisory lock key (transaction level) of a plan: taken by finalize (after the period lock) and add_plan_version.';

CREATE FUNCTION @extschema@._lock_holders(key bigint) RETURNS text
LANGUAGE sql VOLATILE STRICT
BEGIN ATOMIC
    SELECT pg_catalog.string_agg(l.pid::text, ', ' ORDER BY l.pid)
      FROM pg_catalog.pg_locks l
     WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
       AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d
                          WHERE d.datname = pg_catalog.current_database())
       AND l.classid::bigint = ((key >> 32) & 4294967295)
       AND l.objid::bigint = (key & 4294967295);
END;
COMMENT ON FUNCTION @extschema@._lock_holders(bigint) IS
  'Backend pids holding an advisory lock key (for error details).';

CREATE FUNCTION @extschema@._acquire(key bigint, nowait boolean, what text) RETURNS void
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
CREATE FUNCTION @extschema@._check_relation(rel regclass, role text) RETURNS void
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

CREATE FUNCTION @extschema@._drop_views(views text[]) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v text;
BEGIN
    FOREACH v IN ARRAY COALESCE(views, '{}') LOOP
        EXECUTE pg_catalog.format('DROP VIEW IF EXISTS pg_temp.%I', v);
    END LOOP;
END
$$;
COMMENT ON FUNCTION @extschema@._drop_views(text[]) IS 'Drops the temporary input views of a close or preview.';

-- The plan version a close or preview uses.
CREATE FUNCTION @extschema@._plan_version(p_name text, p_version integer) RETURNS @extschema@.plan_version
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

