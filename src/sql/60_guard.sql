
-- ---------------------------------------------------------------------------
-- Payout history cannot vanish by accident
-- ---------------------------------------------------------------------------

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
