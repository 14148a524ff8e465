-- ---------------------------------------------------------------------------
-- Compensation plans: validation of the JSON plan language (spec sections
-- 4, 5, 9, 10); the parser itself is src/plan.c
-- ---------------------------------------------------------------------------

CREATE FUNCTION @extschema@.validate_plan(plan pg_catalog.jsonb)
RETURNS TABLE(path pg_catalog.text, message pg_catalog.text)
AS 'MODULE_PATHNAME', 'mlm_validate_plan'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@.validate_plan(pg_catalog.jsonb) IS
'every problem of a compensation plan as (JSON path, message); no rows when the plan is valid';

CREATE FUNCTION @extschema@.check_plan(plan pg_catalog.jsonb)
RETURNS pg_catalog.jsonb
AS 'MODULE_PATHNAME', 'mlm_check_plan'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@.check_plan(pg_catalog.jsonb) IS
'returns the plan unchanged when it is valid, else raises its first problem (usable in CHECK constraints)';

CREATE FUNCTION @extschema@.plan_summary(plan pg_catalog.jsonb)
RETURNS pg_catalog.jsonb
AS 'MODULE_PATHNAME', 'mlm_plan_summary'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@.plan_summary(pg_catalog.jsonb) IS
'what the engine understood of a valid plan: defaults filled in, rank references resolved, per-rank values expanded, decimals as exact strings';
