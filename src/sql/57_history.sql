-- 57_history.sql: questions about closed periods.

------------------------------------------------------------------------------
-- History
------------------------------------------------------------------------------

CREATE FUNCTION @extschema@.run_downline(run_id bigint, member bigint, max_depth integer DEFAULT NULL)
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
