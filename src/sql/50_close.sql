-- 50_close.sql: period close for ERP systems.
--
-- Plan registry (immutable versions), input sources, audited runs (draft ->
-- final), carry-forward, adjustments, tree snapshots, previews.  See
-- docs/period-close.md for the API, the lifecycle, the locking rules and the
-- recommended roles.
--
-- Conventions of this file:
--  * every object is qualified with @extschema@ or pg_catalog;
--  * every plpgsql function runs with SET search_path = pg_catalog, pg_temp,
--    so no object of the caller's search_path can capture a name or operator;
--  * the functions that change state are SECURITY DEFINER and not executable
--    by PUBLIC: only the extension owner writes the tables, so every row in
--    them was produced by these functions;
--  * dynamic SQL quotes identifiers with format('%I') / regclass output and
--    literals with format('%L').

------------------------------------------------------------------------------
-- Tables
------------------------------------------------------------------------------

CREATE TABLE @extschema@.plan_version (
    plan_name   text        NOT NULL,
    version     integer     NOT NULL,
    definition  jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_by  name        NOT NULL DEFAULT SESSION_USER,
    CONSTRAINT plan_version_pkey PRIMARY KEY (plan_name, version),
    CONSTRAINT plan_version_name_check CHECK (plan_name <> ''),
    CONSTRAINT plan_version_version_check CHECK (version >= 1)
);
COMMENT ON TABLE @extschema@.plan_version IS
  'Compensation plans by name, one row per immutable version (append-only: UPDATE, DELETE and TRUNCATE are refused). Add versions with mlm.add_plan_version().';

CREATE TABLE @extschema@.source (
    source_name   text        NOT NULL,
    members       text        NOT NULL,
    volumes       text        NOT NULL,
    period_column text        NOT NULL,
    period_kind   text        NOT NULL,
    carry         text,
    registered_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    registered_by name        NOT NULL DEFAULT SESSION_USER,
    CONSTRAINT source_pkey PRIMARY KEY (source_name),
    CONSTRAINT source_name_check CHECK (source_name <> ''),
    CONSTRAINT source_period_kind_check CHECK (period_kind IN ('label', 'date'))
);
COMMENT ON TABLE @extschema@.source IS
  'Where an ERP''s inputs come from: schema-qualified names of its members, volumes and (optional) opening-carry relations, and the volumes column that selects a period (period_kind label: equal to the period label; date: within [period_start, period_end]). Written by mlm.register_source().';

CREATE TABLE @extschema@.run (
    run_id            bigserial   NOT NULL,
    plan_name         text        NOT NULL,
    plan_version      integer     NOT NULL,
    period_label      text        NOT NULL,
    period_start      date        NOT NULL,
    period_end        date        NOT NULL,
    status            text        NOT NULL DEFAULT 'draft',
    source_name       text        NOT NULL,
    members_relation  text        NOT NULL,
    volumes_relation  text        NOT NULL,
    carry_relation    text,
    carry_from_run_id bigint,
    with_lines        boolean     NOT NULL,
    attempt           integer     NOT NULL DEFAULT 1,
    member_rows       bigint,
    volume_rows       bigint,
    carry_rows        bigint,
    input_checksum    text,
    total_cv          numeric,
    total_before_cap  numeric,
    total_paid        numeric,
    cap_limit         numeric,
    cap_factor        numeric,
    payout_rows       bigint,
    member_result_rows bigint,
    carry_out_rows    bigint,
    line_rows         bigint,
    bonus_rows        bigint,
    created_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    lock_wait         interval,
    started_at        timestamptz,
    finished_at       timestamptz,
    duration          interval,
    run_by            name        NOT NULL DEFAULT SESSION_USER,
    finalized_at      timestamptz,
    finalized_by      name,
    snapshot          @extschema@.tree,
    CONSTRAINT run_pkey PRIMARY KEY (run_id),
    CONSTRAINT run_period_key UNIQUE (plan_name, period_label),
    CONSTRAINT run_plan_version_fkey FOREIGN KEY (plan_name, plan_version)
        REFERENCES @extschema@.plan_version (plan_name, version),
    CONSTRAINT run_period_check CHECK (period_start <= period_end),
    CONSTRAINT run_label_check CHECK (period_label <> ''),
    CONSTRAINT run_status_check CHECK (status IN ('draft', 'final')),
    CONSTRAINT run_finalized_check CHECK ((status = 'final') = (finalized_at IS NOT NULL))
);
CREATE INDEX run_plan_period_idx ON @extschema@.run (plan_name, period_start);
COMMENT ON TABLE @extschema@.run IS
  'One row per closed period of a plan (unique per plan and period label): pinned plan version, inputs (relations, row counts, checksum), totals, cap factor, timings, who ran and who finalized it, and the genealogy snapshot used. status draft: replaced by the next mlm.close of the period; final: frozen.';
COMMENT ON COLUMN @extschema@.run.attempt IS 'How many times the period was closed; a re-run of a draft keeps run_id and increments attempt.';
COMMENT ON COLUMN @extschema@.run.carry_from_run_id IS 'The finalized run whose carry-out was this run''s carry-in (NULL: opening carry of the source, or none). Finalized runs are never deleted, so no foreign key is needed (a self-reference would make pg_dump warn about circular constraints).';
COMMENT ON COLUMN @extschema@.run.snapshot IS 'The sponsor/placement tree of the members read by this run (mlm.tree): who was in whose downline when the period was paid.';
COMMENT ON COLUMN @extschema@.run.run_by IS 'SESSION_USER of the last close (the login role, also behind SET ROLE).';
COMMENT ON COLUMN @extschema@.run.lock_wait IS 'Time the last close waited for the period lock.';

CREATE TABLE @extschema@.run_payout (
    run_id    bigint  NOT NULL,
    member_id bigint  NOT NULL,
    bonus     text    NOT NULL,
    amount    numeric NOT NULL,
    CONSTRAINT run_payout_pkey PRIMARY KEY (run_id, member_id, bonus)
);
COMMENT ON TABLE @extschema@.run_payout IS
  'Payouts of a run: (member, bonus, amount after the cap), every non-zero rounded payout. Adjustments are separate (mlm.adjustment, mlm.payout_totals).';

CREATE TABLE @extschema@.run_member (
    run_id    bigint  NOT NULL,
    member_id bigint  NOT NULL,
    pv        numeric,
    gv        numeric,
    active    boolean,
    rank      text,
    amount    numeric,
    CONSTRAINT run_member_pkey PRIMARY KEY (run_id, member_id)
);
COMMENT ON TABLE @extschema@.run_member IS
  'Member results of a run: pv, gv, active, rank name and total paid (before adjustments), one row per member read.';

CREATE TABLE @extschema@.run_carry (
    run_id      bigint  NOT NULL,
    member_id   bigint  NOT NULL,
    carry_left  numeric NOT NULL,
    carry_right numeric NOT NULL,
    CONSTRAINT run_carry_pkey PRIMARY KEY (run_id, member_id)
);
COMMENT ON TABLE @extschema@.run_carry IS
  'Binary carry-out of a run (non-zero carries only). The carry-out of the latest finalized earlier period is the carry-in of the next close of the plan.';

CREATE TABLE @extschema@.run_line (
    run_id    bigint  NOT NULL,
    line_no   bigint  NOT NULL,
    member_id bigint  NOT NULL,
    bonus     text    NOT NULL,
    source_id bigint,
    level     integer,
    base      numeric,
    rate      numeric,
    amount    numeric NOT NULL,
    -- line_no is unique within a run; leading with member_id lets the one
    -- index serve "the lines of member m in run r" as well
    CONSTRAINT run_line_pkey PRIMARY KEY (run_id, member_id, line_no)
);
COMMENT ON TABLE @extschema@.run_line IS
  'Audit lines of a run closed with with_lines => true: (recipient, bonus, source member, level, base, rate, exact amount before rounding and cap).';

CREATE TABLE @extschema@.run_bonus_total (
    run_id           bigint  NOT NULL,
    bonus            text    NOT NULL,
    total_before_cap numeric,
    total_paid       numeric,
    CONSTRAINT run_bonus_total_pkey PRIMARY KEY (run_id, bonus)
);
COMMENT ON TABLE @extschema@.run_bonus_total IS
  'Per-bonus totals of a run, before and after the cap.';

CREATE TABLE @extschema@.adjustment (
    adjustment_id bigserial   NOT NULL,
    run_id        bigint      NOT NULL,
    member_id     bigint      NOT NULL,
    amount        numeric     NOT NULL,
    reason        text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_by    name        NOT NULL DEFAULT SESSION_USER,
    CONSTRAINT adjustment_pkey PRIMARY KEY (adjustment_id),
    CONSTRAINT adjustment_run_id_fkey FOREIGN KEY (run_id) REFERENCES @extschema@.run (run_id),
    CONSTRAINT adjustment_amount_check CHECK (amount <> 0),
    CONSTRAINT adjustment_reason_check CHECK (pg_catalog.btrim(reason) <> '')
);
CREATE INDEX adjustment_run_idx ON @extschema@.adjustment (run_id, member_id);
COMMENT ON TABLE @extschema@.adjustment IS
  'Corrections to finalized runs (append-only: UPDATE, DELETE and TRUNCATE are refused; a wrong adjustment is reversed by another one). Counted in mlm.payout_totals and mlm.run_totals. Written by mlm.adjust().';

-- The data of these tables is the payment history: pg_dump must keep it.
SELECT pg_catalog.pg_extension_config_dump('@extschema@.plan_version', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.source', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.run', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.run_run_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.run_payout', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.run_member', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.run_carry', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.run_line', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.run_bonus_total', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.adjustment', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.adjustment_adjustment_id_seq', '');

------------------------------------------------------------------------------
-- Integrity triggers
------------------------------------------------------------------------------

CREATE FUNCTION @extschema@._refuse_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION '% on %.% is not allowed: the table is append-only', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = '55000',
              HINT = CASE TG_TABLE_NAME
                       WHEN 'plan_version' THEN 'add a new version with mlm.add_plan_version()'
                       WHEN 'adjustment' THEN 'post a reversing adjustment with mlm.adjust()'
                       ELSE 'rows of finalized runs are never changed' END;
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
            USING ERRCODE = '55000',
                  HINT = 'post corrections with mlm.adjust(run_id, member_id, amount, reason)';
    END IF;
    IF TG_OP = 'DELETE' THEN
        IF EXISTS (SELECT 1 FROM @extschema@.run_payout x WHERE x.run_id = OLD.run_id)
           OR EXISTS (SELECT 1 FROM @extschema@.run_member x WHERE x.run_id = OLD.run_id)
           OR EXISTS (SELECT 1 FROM @extschema@.run_carry x WHERE x.run_id = OLD.run_id)
           OR EXISTS (SELECT 1 FROM @extschema@.run_line x WHERE x.run_id = OLD.run_id)
           OR EXISTS (SELECT 1 FROM @extschema@.run_bonus_total x WHERE x.run_id = OLD.run_id) THEN
            RAISE EXCEPTION 'run % still has result rows', OLD.run_id
                USING ERRCODE = '23503', HINT = 'discard a draft with mlm.discard_draft(run_id)';
        END IF;
        RETURN OLD;
    END IF;
    IF NEW.run_id <> OLD.run_id OR NEW.plan_name <> OLD.plan_name
       OR NEW.period_label <> OLD.period_label THEN
        RAISE EXCEPTION 'the identity (run_id, plan_name, period_label) of run % cannot be changed', OLD.run_id
            USING ERRCODE = '55000';
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
                    USING ERRCODE = '55000',
                          HINT = 'post corrections with mlm.adjust(run_id, member_id, amount, reason)';
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
                USING ERRCODE = '23503';
        END IF;
        IF hdr.status = 'final' THEN
            limit_rows := CASE TG_TABLE_NAME
                              WHEN 'run_payout' THEN hdr.payout_rows
                              WHEN 'run_member' THEN hdr.member_result_rows
                              WHEN 'run_carry' THEN hdr.carry_out_rows
                              WHEN 'run_line' THEN hdr.line_rows
                              WHEN 'run_bonus_total' THEN hdr.bonus_rows END;
            EXECUTE pg_catalog.format('SELECT pg_catalog.count(*) FROM %I.%I x WHERE x.run_id = $1',
                                      TG_TABLE_SCHEMA, TG_TABLE_NAME)
              INTO n USING rid;
            IF n > COALESCE(limit_rows, 0) THEN
                RAISE EXCEPTION 'run % (plan "%", period "%") is finalized: its rows in %.% cannot be changed',
                                hdr.run_id, hdr.plan_name, hdr.period_label, TG_TABLE_SCHEMA, TG_TABLE_NAME
                    USING ERRCODE = '55000',
                          HINT = 'post corrections with mlm.adjust(run_id, member_id, amount, reason)';
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
    FOREACH t IN ARRAY ARRAY['run_payout', 'run_member', 'run_carry', 'run_line', 'run_bonus_total'] LOOP
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

------------------------------------------------------------------------------
-- Views
------------------------------------------------------------------------------

CREATE VIEW @extschema@.payout_totals AS
SELECT r.run_id, r.plan_name, r.period_label, r.status, x.member_id,
       pg_catalog.sum(x.paid) AS paid,
       pg_catalog.sum(x.adjusted) AS adjustments,
       pg_catalog.sum(x.paid) + pg_catalog.sum(x.adjusted) AS total
  FROM @extschema@.run r
  JOIN (SELECT p.run_id, p.member_id, p.amount AS paid, 0::numeric AS adjusted
          FROM @extschema@.run_payout p
        UNION ALL
        SELECT a.run_id, a.member_id, 0::numeric, a.amount
          FROM @extschema@.adjustment a) x ON x.run_id = r.run_id
 GROUP BY r.run_id, r.plan_name, r.period_label, r.status, x.member_id;
COMMENT ON VIEW @extschema@.payout_totals IS
  'What each member is owed per run: paid by the run (after the cap) plus adjustments. One row per member with a payout or an adjustment.';

CREATE VIEW @extschema@.run_totals AS
SELECT r.run_id, r.plan_name, r.plan_version, r.period_label, r.period_start, r.period_end,
       r.status, r.total_cv, r.total_before_cap, r.cap_factor, r.total_paid,
       COALESCE(a.adjustments, 0) AS adjustments,
       r.total_paid + COALESCE(a.adjustments, 0) AS total,
       COALESCE(a.adjustment_count, 0) AS adjustment_count
  FROM @extschema@.run r
  LEFT JOIN (SELECT ad.run_id, pg_catalog.sum(ad.amount) AS adjustments,
                    pg_catalog.count(*) AS adjustment_count
               FROM @extschema@.adjustment ad
              GROUP BY ad.run_id) a ON a.run_id = r.run_id;
COMMENT ON VIEW @extschema@.run_totals IS
  'Totals per run: paid by the run plus the adjustments posted to it.';

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
                USING ERRCODE = '55P03',
                      DETAIL = pg_catalog.format('lock held by backend pid %s',
                                                 COALESCE(@extschema@._lock_holders(key), '?')),
                      HINT = 'retry when that transaction has ended, or call without nowait to wait for it';
        END IF;
    ELSE
        PERFORM pg_catalog.pg_advisory_xact_lock(key);
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@._acquire(bigint, boolean, text) IS
  'Takes a transaction-level advisory lock, waiting (lock_timeout applies) or failing at once with SQLSTATE 55P03 when nowait.';

-- Base type of a column type (domains resolved).
CREATE FUNCTION @extschema@._base_type(typ oid) RETURNS oid
LANGUAGE sql STABLE STRICT PARALLEL SAFE
BEGIN ATOMIC
    WITH RECURSIVE b(oid, base, depth) AS (
        SELECT t.oid, t.typbasetype, 0 FROM pg_catalog.pg_type t WHERE t.oid = typ
        UNION ALL
        SELECT t.oid, t.typbasetype, b.depth + 1
          FROM b JOIN pg_catalog.pg_type t ON t.oid = b.base
         WHERE b.base <> 0 AND b.depth < 32
    )
    SELECT b.oid FROM b ORDER BY b.depth DESC LIMIT 1;
END;
COMMENT ON FUNCTION @extschema@._base_type(oid) IS 'The base type of a (domain) type.';

-- Checks one column of an input relation.  Returns its base type, or NULL
-- when an optional column is absent.  kind: id | int | num | bool | date |
-- period.
CREATE FUNCTION @extschema@._check_column(rel regclass, role text, col text, kind text, required boolean)
RETURNS regtype
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    typ oid;
    ok  boolean;
    expected text;
BEGIN
    SELECT @extschema@._base_type(a.atttypid) INTO typ
      FROM pg_catalog.pg_attribute a
     WHERE a.attrelid = rel AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
    IF typ IS NULL THEN
        IF required THEN
            RAISE EXCEPTION 'the % relation % has no column "%"', role, rel, col
                USING ERRCODE = '42703',
                      HINT = CASE role
                        WHEN 'members' THEN 'members need columns id, sponsor_id and may have placement_id, position, active_status, joined'
                        WHEN 'volumes' THEN 'volumes need columns member_id, pv, cv, the period column, and may have rv'
                        ELSE 'carry needs columns member_id, carry_left, carry_right' END;
        END IF;
        RETURN NULL;
    END IF;
    CASE kind
        WHEN 'id', 'int' THEN
            ok := typ IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype);
            expected := 'smallint, integer or bigint';
        WHEN 'num' THEN
            ok := typ IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype, 'numeric'::regtype);
            expected := 'numeric or an integer type';
        WHEN 'bool' THEN
            ok := typ = 'bool'::regtype;
            expected := 'boolean';
        WHEN 'date' THEN
            ok := typ IN ('date'::regtype, 'timestamp'::regtype, 'timestamptz'::regtype);
            expected := 'date, timestamp or timestamptz';
        WHEN 'period' THEN
            ok := typ IN ('text'::regtype, 'varchar'::regtype, 'bpchar'::regtype,
                          'date'::regtype, 'timestamp'::regtype, 'timestamptz'::regtype);
            expected := 'text (holding the period label) or date, timestamp, timestamptz (compared with the period dates)';
    END CASE;
    IF NOT ok THEN
        RAISE EXCEPTION 'column "%" of the % relation % has type %, expected %',
                        col, role, rel, typ::regtype, expected
            USING ERRCODE = '42804',
                  HINT = 'cast it in a view over the table and register the view';
    END IF;
    RETURN typ::regtype;
END
$$;
COMMENT ON FUNCTION @extschema@._check_column(regclass, text, text, text, boolean) IS
  'Checks that a column of an input relation exists (when required) and has a usable type; returns its base type or NULL when absent.';

-- The extension owner reads the input relations (close is SECURITY
-- DEFINER).  Functions called by a view run with the rights of the current
-- user, so a view written by a role that cannot already act as the extension
-- owner would run its code with the owner's rights.  Refuse such views (and
-- tables with row security, whose policies run the same way), at every
-- nesting level.
CREATE FUNCTION @extschema@._check_relation(rel regclass, role text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    kind "char";
    ext_owner oid;
    bad record;
BEGIN
    SELECT c.relkind INTO kind FROM pg_catalog.pg_class c WHERE c.oid = rel;
    IF kind IS NULL OR kind NOT IN ('r', 'p', 'v', 'm', 'f') THEN
        RAISE EXCEPTION 'the % relation % is not a table or a view', role, rel
            USING ERRCODE = '42809';
    END IF;
    SELECT n.nspowner INTO ext_owner
      FROM pg_catalog.pg_namespace n WHERE n.nspname = '@extschema@';
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
    SELECT c.oid::regclass AS relname, c.relkind, c.relowner::regrole AS owner INTO bad
      FROM deps JOIN pg_catalog.pg_class c ON c.oid = deps.oid
     WHERE (c.relkind = 'v' OR c.relrowsecurity)
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles ro
                        WHERE ro.oid = c.relowner AND ro.rolsuper)
       AND NOT pg_catalog.pg_has_role(c.relowner, ext_owner, 'MEMBER')
     LIMIT 1;
    IF bad.relname IS NOT NULL THEN
        RAISE EXCEPTION 'the % relation % uses %, % owned by role %',
                        role, rel, bad.relname,
                        CASE WHEN bad.relkind = 'v' THEN 'a view' ELSE 'a table with row security' END,
                        bad.owner
            USING ERRCODE = '42501',
                  DETAIL = 'closes read the inputs with the rights of the extension owner, and code in a view or a row security policy runs with the rights of the reader: only views of roles that can already act as the extension owner (or superusers) are accepted',
                  HINT = 'have the view owned by the extension owner or a superuser, or register the underlying tables';
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@._check_relation(regclass, text) IS
  'Refuses input relations that are not tables/views, and views (or tables with row security) owned by roles that could not already act as the extension owner.';

-- Checks a source's relations and builds the temporary views that present
-- exactly the period's inputs, with the spec's column names and types, to
-- mlm.compute.  Returns the views (and the relation names for the run
-- header).  The caller drops the views (drop list in "views"); an error or a
-- rollback removes them with the transaction anyway.
CREATE FUNCTION @extschema@._period_inputs(
    p_source text, p_label text, p_start date, p_end date, p_carry_run bigint,
    OUT members regclass, OUT volumes regclass, OUT carry regclass,
    OUT members_relation text, OUT volumes_relation text, OUT carry_relation text,
    OUT has_placement boolean, OUT views text[])
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    src    @extschema@.source;
    m_rel  regclass;
    v_rel  regclass;
    c_rel  regclass;
    ptyp   regtype;
    cols   text;
    cond   text;
    tag    text := pg_catalog.replace(pg_catalog.gen_random_uuid()::text, '-', '');
    vname  text;
BEGIN
    SELECT s.* INTO src FROM @extschema@.source s WHERE s.source_name = p_source;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown source "%"', p_source
            USING ERRCODE = '42704',
                  HINT = 'register it with mlm.register_source(name, members, volumes, period_column)';
    END IF;
    m_rel := pg_catalog.to_regclass(src.members);
    v_rel := pg_catalog.to_regclass(src.volumes);
    IF m_rel IS NULL OR v_rel IS NULL THEN
        RAISE EXCEPTION 'relation % of source "%" does not exist',
                        CASE WHEN m_rel IS NULL THEN src.members ELSE src.volumes END, p_source
            USING ERRCODE = '42P01', HINT = 'register the source again with mlm.register_source(..., replace => true)';
    END IF;
    views := '{}';

    -- members
    PERFORM @extschema@._check_relation(m_rel, 'members');
    PERFORM @extschema@._check_column(m_rel, 'members', 'id', 'id', true);
    PERFORM @extschema@._check_column(m_rel, 'members', 'sponsor_id', 'id', true);
    cols := 'm.id::pg_catalog.int8 AS id, m.sponsor_id::pg_catalog.int8 AS sponsor_id';
    has_placement := @extschema@._check_column(m_rel, 'members', 'placement_id', 'id', false) IS NOT NULL;
    IF has_placement THEN
        PERFORM @extschema@._check_column(m_rel, 'members', 'position', 'int', true);
        cols := cols || ', m.placement_id::pg_catalog.int8 AS placement_id, m."position"::pg_catalog.int4 AS "position"';
    END IF;
    IF @extschema@._check_column(m_rel, 'members', 'active_status', 'bool', false) IS NOT NULL THEN
        cols := cols || ', m.active_status::pg_catalog.bool AS active_status';
    END IF;
    IF @extschema@._check_column(m_rel, 'members', 'joined', 'date', false) IS NOT NULL THEN
        cols := cols || ', m.joined::pg_catalog.date AS joined';
    END IF;
    vname := 'mlm_members_' || tag;
    EXECUTE pg_catalog.format('CREATE TEMPORARY VIEW pg_temp.%I AS SELECT %s FROM %s m', vname, cols, m_rel);
    views := views || vname;
    members := pg_catalog.format('pg_temp.%I', vname)::regclass;
    members_relation := src.members;

    -- volumes of the period
    PERFORM @extschema@._check_relation(v_rel, 'volumes');
    PERFORM @extschema@._check_column(v_rel, 'volumes', 'member_id', 'id', true);
    PERFORM @extschema@._check_column(v_rel, 'volumes', 'pv', 'num', true);
    PERFORM @extschema@._check_column(v_rel, 'volumes', 'cv', 'num', true);
    cols := 'v.member_id::pg_catalog.int8 AS member_id, v.pv::pg_catalog.numeric AS pv, v.cv::pg_catalog.numeric AS cv';
    IF @extschema@._check_column(v_rel, 'volumes', 'rv', 'num', false) IS NOT NULL THEN
        cols := cols || ', v.rv::pg_catalog.numeric AS rv';
    END IF;
    ptyp := @extschema@._check_column(v_rel, 'volumes', src.period_column, 'period', true);
    IF (ptyp IN ('text'::regtype, 'varchar'::regtype, 'bpchar'::regtype)) <> (src.period_kind = 'label') THEN
        RAISE EXCEPTION 'the period column "%" of % is now of type %, but source "%" was registered with a % period column',
                        src.period_column, v_rel, ptyp, p_source,
                        CASE WHEN src.period_kind = 'label' THEN 'text (label)' ELSE 'date' END
            USING ERRCODE = '42804', HINT = 'register the source again with mlm.register_source(..., replace => true)';
    END IF;
    IF src.period_kind = 'label' THEN
        cond := pg_catalog.format('v.%I OPERATOR(pg_catalog.=) %L::pg_catalog.text', src.period_column, p_label);
    ELSIF ptyp = 'date'::regtype THEN
        cond := pg_catalog.format('v.%1$I OPERATOR(pg_catalog.>=) %2$L::pg_catalog.date AND v.%1$I OPERATOR(pg_catalog.<=) %3$L::pg_catalog.date',
                                  src.period_column, p_start, p_end);
    ELSE
        -- timestamps: [start 00:00, end + 1 day 00:00)
        cond := pg_catalog.format('v.%1$I OPERATOR(pg_catalog.>=) %2$L::%4$s AND v.%1$I OPERATOR(pg_catalog.<) %3$L::%4$s',
                                  src.period_column, p_start, p_end + 1,
                                  CASE WHEN ptyp = 'timestamp'::regtype THEN 'pg_catalog.timestamp' ELSE 'pg_catalog.timestamptz' END);
    END IF;
    vname := 'mlm_volumes_' || tag;
    EXECUTE pg_catalog.format('CREATE TEMPORARY VIEW pg_temp.%I AS SELECT %s FROM %s v WHERE %s', vname, cols, v_rel, cond);
    views := views || vname;
    volumes := pg_catalog.format('pg_temp.%I', vname)::regclass;
    volumes_relation := src.volumes;

    -- carry-in: the carry-out of the latest finalized earlier run, else the
    -- source's opening carry, else none
    IF p_carry_run IS NOT NULL THEN
        vname := 'mlm_carry_' || tag;
        EXECUTE pg_catalog.format(
            'CREATE TEMPORARY VIEW pg_temp.%I AS SELECT c.member_id, c.carry_left, c.carry_right
               FROM @extschema@.run_carry c WHERE c.run_id OPERATOR(pg_catalog.=) %s::pg_catalog.int8',
            vname, p_carry_run);
        views := views || vname;
        carry := pg_catalog.format('pg_temp.%I', vname)::regclass;
        carry_relation := NULL;
    ELSIF src.carry IS NOT NULL THEN
        c_rel := pg_catalog.to_regclass(src.carry);
        IF c_rel IS NULL THEN
            RAISE EXCEPTION 'relation % of source "%" does not exist', src.carry, p_source
                USING ERRCODE = '42P01';
        END IF;
        PERFORM @extschema@._check_relation(c_rel, 'carry');
        PERFORM @extschema@._check_column(c_rel, 'carry', 'member_id', 'id', true);
        PERFORM @extschema@._check_column(c_rel, 'carry', 'carry_left', 'num', true);
        PERFORM @extschema@._check_column(c_rel, 'carry', 'carry_right', 'num', true);
        vname := 'mlm_carry_' || tag;
        EXECUTE pg_catalog.format(
            'CREATE TEMPORARY VIEW pg_temp.%I AS SELECT c.member_id::pg_catalog.int8 AS member_id,
                    c.carry_left::pg_catalog.numeric AS carry_left, c.carry_right::pg_catalog.numeric AS carry_right
               FROM %s c', vname, c_rel);
        views := views || vname;
        carry := pg_catalog.format('pg_temp.%I', vname)::regclass;
        carry_relation := src.carry;
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@._period_inputs(text, text, date, date, bigint) IS
  'Checks a source and creates the temporary views (members, the period''s volumes, carry-in) passed to mlm.compute; the caller drops them.';

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
                USING ERRCODE = '42704', HINT = 'add it with mlm.add_plan_version(name, definition)';
        END IF;
        RAISE EXCEPTION 'plan "%" has no version %', p_name, p_version
            USING ERRCODE = '42704', HINT = 'list its versions with mlm.plan_versions(name)';
    END IF;
    RETURN pv;
END
$$;
COMMENT ON FUNCTION @extschema@._plan_version(text, integer) IS
  'The stored plan version (the latest when version is NULL); errors for an unknown plan or version.';

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
        RAISE EXCEPTION 'a plan needs a non-empty name' USING ERRCODE = '22023';
    END IF;
    IF p_def IS NULL THEN
        RAISE EXCEPTION 'plan "%": the definition is null', p_name USING ERRCODE = '22023';
    END IF;
    SELECT pg_catalog.array_agg(pg_catalog.format('%s: %s', e.path, e.message))
      INTO errs FROM @extschema@.validate_plan(p_def) e;
    IF errs IS NOT NULL THEN
        RAISE EXCEPTION 'plan "%" is invalid: %', p_name, errs[1]
            USING ERRCODE = '22023',
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
        RAISE EXCEPTION 'unknown plan "%"', $1 USING ERRCODE = '42704';
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

------------------------------------------------------------------------------
-- Sources
------------------------------------------------------------------------------

CREATE FUNCTION @extschema@.register_source(
    source_name text, members regclass, volumes regclass, period_column text,
    carry regclass DEFAULT NULL, replace boolean DEFAULT false)
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
    ptyp regtype;
    kind text;
    rel regclass;
BEGIN
    IF p_name IS NULL OR pg_catalog.btrim(p_name) = '' THEN
        RAISE EXCEPTION 'a source needs a non-empty name' USING ERRCODE = '22023';
    END IF;
    IF p_members IS NULL OR p_volumes IS NULL OR p_pcol IS NULL THEN
        RAISE EXCEPTION 'source "%": members, volumes and period_column are required', p_name
            USING ERRCODE = '22023';
    END IF;
    FOREACH rel IN ARRAY ARRAY[p_members, p_volumes, p_carry] LOOP
        CONTINUE WHEN rel IS NULL;
        IF NOT pg_catalog.has_table_privilege(rel, 'SELECT') THEN
            RAISE EXCEPTION 'source "%": permission denied for relation %', p_name, rel
                USING ERRCODE = '42501',
                      HINT = 'only a role that may read a relation may register it';
        END IF;
    END LOOP;
    PERFORM @extschema@._check_relation(p_members, 'members');
    PERFORM @extschema@._check_column(p_members, 'members', 'id', 'id', true);
    PERFORM @extschema@._check_column(p_members, 'members', 'sponsor_id', 'id', true);
    IF @extschema@._check_column(p_members, 'members', 'placement_id', 'id', false) IS NOT NULL THEN
        PERFORM @extschema@._check_column(p_members, 'members', 'position', 'int', true);
    ELSIF @extschema@._check_column(p_members, 'members', 'position', 'int', false) IS NOT NULL THEN
        RAISE EXCEPTION 'the members relation % has a column "position" but no column "placement_id"', p_members
            USING ERRCODE = '42703';
    END IF;
    PERFORM @extschema@._check_column(p_members, 'members', 'active_status', 'bool', false);
    PERFORM @extschema@._check_column(p_members, 'members', 'joined', 'date', false);

    PERFORM @extschema@._check_relation(p_volumes, 'volumes');
    PERFORM @extschema@._check_column(p_volumes, 'volumes', 'member_id', 'id', true);
    PERFORM @extschema@._check_column(p_volumes, 'volumes', 'pv', 'num', true);
    PERFORM @extschema@._check_column(p_volumes, 'volumes', 'cv', 'num', true);
    PERFORM @extschema@._check_column(p_volumes, 'volumes', 'rv', 'num', false);
    ptyp := @extschema@._check_column(p_volumes, 'volumes', p_pcol, 'period', true);
    kind := CASE WHEN ptyp IN ('text'::regtype, 'varchar'::regtype, 'bpchar'::regtype) THEN 'label' ELSE 'date' END;

    IF p_carry IS NOT NULL THEN
        PERFORM @extschema@._check_relation(p_carry, 'carry');
        PERFORM @extschema@._check_column(p_carry, 'carry', 'member_id', 'id', true);
        PERFORM @extschema@._check_column(p_carry, 'carry', 'carry_left', 'num', true);
        PERFORM @extschema@._check_column(p_carry, 'carry', 'carry_right', 'num', true);
    END IF;

    IF EXISTS (SELECT 1 FROM @extschema@.source s WHERE s.source_name = p_name) AND NOT p_replace THEN
        RAISE EXCEPTION 'source "%" is already registered', p_name
            USING ERRCODE = '42710', HINT = 'pass replace => true to change it';
    END IF;
    INSERT INTO @extschema@.source AS s (source_name, members, volumes, period_column, period_kind, carry,
                                         registered_at, registered_by)
    VALUES (p_name,
            (SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) FROM pg_catalog.pg_class c
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = p_members),
            (SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) FROM pg_catalog.pg_class c
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = p_volumes),
            p_pcol, kind,
            (SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) FROM pg_catalog.pg_class c
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = p_carry),
            pg_catalog.now(), SESSION_USER)
    ON CONFLICT ON CONSTRAINT source_pkey DO UPDATE
       SET members = EXCLUDED.members, volumes = EXCLUDED.volumes,
           period_column = EXCLUDED.period_column, period_kind = EXCLUDED.period_kind,
           carry = EXCLUDED.carry, registered_at = EXCLUDED.registered_at,
           registered_by = EXCLUDED.registered_by;
END
$$;
COMMENT ON FUNCTION @extschema@.register_source(text, regclass, regclass, text, regclass, boolean) IS
  'Registers where an ERP''s inputs come from: members (id, sponsor_id [, placement_id, position, active_status, joined]), volumes (member_id, pv, cv [, rv] and period_column: text = period label, or date/timestamp = within the period dates) and an optional opening carry (member_id, carry_left, carry_right, used when the plan has no finalized earlier period). Columns and types are checked now; the caller must be able to read the relations. Runs with the caller''s rights (needs INSERT/UPDATE on mlm.source).';
REVOKE EXECUTE ON FUNCTION @extschema@.register_source(text, regclass, regclass, text, regclass, boolean) FROM PUBLIC;

------------------------------------------------------------------------------
-- Preview, close, finalize, discard, adjust
------------------------------------------------------------------------------

-- Checks the arguments shared by close and preview.
CREATE FUNCTION @extschema@._check_period(p_plan text, p_label text, p_start date, p_end date, p_source text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_plan IS NULL OR p_label IS NULL OR p_start IS NULL OR p_end IS NULL OR p_source IS NULL THEN
        RAISE EXCEPTION 'plan_name, period_label, period_start, period_end and source are required'
            USING ERRCODE = '22004';
    END IF;
    IF pg_catalog.btrim(p_label) = '' THEN
        RAISE EXCEPTION 'the period label is empty' USING ERRCODE = '22023';
    END IF;
    IF p_start > p_end THEN
        RAISE EXCEPTION 'period "%" starts (%) after it ends (%)', p_label, p_start, p_end
            USING ERRCODE = '22023';
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@._check_period(text, text, date, date, text) IS
  'Argument checks shared by mlm.close and mlm.preview.';

-- The finalized run whose carry-out is the carry-in of a period.
CREATE FUNCTION @extschema@._carry_source_run(p_plan text, p_start date) RETURNS bigint
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT r.run_id FROM @extschema@.run r
     WHERE r.plan_name = p_plan AND r.status = 'final' AND r.period_end < p_start
     ORDER BY r.period_end DESC
     LIMIT 1;
END;
COMMENT ON FUNCTION @extschema@._carry_source_run(text, date) IS
  'The latest finalized run of the plan ending before the given date: its carry-out is the carry-in.';

CREATE FUNCTION @extschema@.preview(
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
    inp := @extschema@._period_inputs($5, $2, $3, $4, @extschema@._carry_source_run($1, $3));
    RETURN QUERY
    SELECT c.* FROM @extschema@.compute(plv.definition, inp.members, inp.volumes, $3, $4, inp.carry, $6) c;
    PERFORM @extschema@._drop_views(inp.views);
END
$$;
COMMENT ON FUNCTION @extschema@.preview(text, text, date, date, text, boolean, integer) IS
  'Computes a period exactly as mlm.close would (same plan version, source, period selection and carry-in) and returns the rows of mlm.compute (kinds payout, member, carry, total, and line when with_lines) without writing anything. Runs with the caller''s rights.';

CREATE FUNCTION @extschema@.close(
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
    PERFORM @extschema@._acquire(@extschema@._period_lock_key(p_plan, p_label), p_nowait,
                                 pg_catalog.format('period "%s" of plan "%s"', p_label, p_plan));
    t_started := pg_catalog.clock_timestamp();

    pv := @extschema@._plan_version(p_plan, p_version);

    SELECT r.* INTO existing FROM @extschema@.run r
     WHERE r.plan_name = p_plan AND r.period_label = p_label
       FOR UPDATE;
    IF existing.status = 'final' THEN
        RAISE EXCEPTION 'period "%" of plan "%" is finalized (run %) and cannot be closed again',
                        p_label, p_plan, existing.run_id
            USING ERRCODE = '55000',
                  HINT = 'post corrections with mlm.adjust(run_id, member_id, amount, reason)';
    END IF;

    SELECT r.* INTO other FROM @extschema@.run r
     WHERE r.plan_name = p_plan AND r.period_label <> p_label
       AND r.period_start <= p_end AND r.period_end >= p_start
     ORDER BY r.period_start LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'period "%" (% .. %) overlaps period "%" (% .. %, run %) of plan "%"',
                        p_label, p_start, p_end, other.period_label, other.period_start,
                        other.period_end, other.run_id, p_plan
            USING ERRCODE = '22023';
    END IF;

    SELECT r.* INTO other FROM @extschema@.run r
     WHERE r.plan_name = p_plan AND r.status = 'final' AND r.period_start > p_start
     ORDER BY r.period_start LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'plan "%" has a finalized later period "%" (run %): period "%" can no longer be closed',
                        p_plan, other.period_label, other.run_id, p_label
            USING ERRCODE = '55000';
    END IF;

    carry_run := @extschema@._carry_source_run(p_plan, p_start);
    inp := @extschema@._period_inputs(p_source, p_label, p_start, p_end, carry_run);

    IF existing.run_id IS NOT NULL THEN
        -- re-run of a draft: same run_id, everything else replaced
        v_run := existing.run_id;
        DELETE FROM @extschema@.run_line WHERE run_id = v_run;
        DELETE FROM @extschema@.run_payout WHERE run_id = v_run;
        DELETE FROM @extschema@.run_member WHERE run_id = v_run;
        DELETE FROM @extschema@.run_carry WHERE run_id = v_run;
        DELETE FROM @extschema@.run_bonus_total WHERE run_id = v_run;
        UPDATE @extschema@.run
           SET plan_version = pv.version, period_start = p_start, period_end = p_end,
               source_name = p_source, members_relation = inp.members_relation,
               volumes_relation = inp.volumes_relation, carry_relation = inp.carry_relation,
               carry_from_run_id = carry_run, with_lines = p_lines, attempt = attempt + 1,
               run_by = SESSION_USER
         WHERE run_id = v_run;
    ELSE
        BEGIN
            INSERT INTO @extschema@.run (plan_name, plan_version, period_label, period_start, period_end,
                                         source_name, members_relation, volumes_relation, carry_relation,
                                         carry_from_run_id, with_lines, run_by)
            VALUES (p_plan, pv.version, p_label, p_start, p_end, p_source, inp.members_relation,
                    inp.volumes_relation, inp.carry_relation, carry_run, p_lines, SESSION_USER)
            RETURNING run_id INTO v_run;
        EXCEPTION WHEN unique_violation THEN
            RAISE EXCEPTION 'period "%" of plan "%" was closed by a concurrent transaction', p_label, p_plan
                USING ERRCODE = '40001',
                      HINT = 'retry the transaction (closes under REPEATABLE READ or SERIALIZABLE cannot see a close that committed after their snapshot)';
        END;
    END IF;

    -- One statement: every input is read with one snapshot (mlm.compute is
    -- STABLE), and every result row is written by it.
    EXECUTE pg_catalog.format($sql$
        WITH r AS MATERIALIZED (
            SELECT c.* FROM @extschema@.compute($1, $2, $3, $4, $5, $6, $7) c
        ), ins_payout AS (
            INSERT INTO @extschema@.run_payout (run_id, member_id, bonus, amount)
            SELECT $8, r.member_id, r.bonus, r.amount FROM r WHERE r.kind = 'payout'
        ), ins_member AS (
            INSERT INTO @extschema@.run_member (run_id, member_id, pv, gv, active, rank, amount)
            SELECT $8, r.member_id, r.pv, r.gv, r.active, r.rank, r.amount FROM r WHERE r.kind = 'member'
        ), ins_carry AS (
            INSERT INTO @extschema@.run_carry (run_id, member_id, carry_left, carry_right)
            SELECT $8, r.member_id, r.carry_left, r.carry_right FROM r WHERE r.kind = 'carry'
        ), ins_line AS (
            INSERT INTO @extschema@.run_line (run_id, line_no, member_id, bonus, source_id, level, base, rate, amount)
            SELECT $8, pg_catalog.row_number() OVER (), r.member_id, r.bonus, r.source_id, r.level, r.base, r.rate, r.amount
              FROM r WHERE r.kind = 'line'
        ), ins_bonus AS (
            INSERT INTO @extschema@.run_bonus_total (run_id, bonus, total_before_cap, total_paid)
            SELECT $8, r.bonus, r.base, r.amount FROM r WHERE r.kind = 'total' AND r.bonus IS NOT NULL
        ), counts AS (
            SELECT pg_catalog.count(*) FILTER (WHERE r.kind = 'payout') AS payout_rows,
                   pg_catalog.count(*) FILTER (WHERE r.kind = 'member') AS member_result_rows,
                   pg_catalog.count(*) FILTER (WHERE r.kind = 'carry') AS carry_out_rows,
                   pg_catalog.count(*) FILTER (WHERE r.kind = 'line') AS line_rows,
                   pg_catalog.count(*) FILTER (WHERE r.kind = 'total' AND r.bonus IS NOT NULL) AS bonus_rows
              FROM r
        ), total AS (
            SELECT r.* FROM r WHERE r.kind = 'total' AND r.bonus IS NULL
        )
        SELECT counts.*,
               total.source_id AS member_rows, total.level AS volume_rows, total.rank AS input_checksum,
               total.pv AS total_cv, total.base AS total_before_cap, total.amount AS total_paid,
               total.gv AS cap_limit, total.rate AS cap_factor,
               %s AS carry_rows,
               (SELECT %s FROM %s m) AS snapshot
          FROM counts LEFT JOIN total ON true
        $sql$,
        CASE WHEN inp.carry IS NULL THEN '0::pg_catalog.int8'
             ELSE pg_catalog.format('(SELECT pg_catalog.count(*) FROM %s)', inp.carry) END,
        CASE WHEN inp.has_placement
             THEN '@extschema@.tree_agg(m.id, m.sponsor_id, m.placement_id, m."position")'
             ELSE '@extschema@.tree_agg(m.id, m.sponsor_id)' END,
        inp.members)
      INTO res
      USING pv.definition, inp.members, inp.volumes, p_start, p_end, inp.carry, p_lines, v_run;

    IF res.member_rows IS NULL THEN
        RAISE EXCEPTION 'mlm.compute returned no grand total row for period "%" of plan "%"', p_label, p_plan
            USING ERRCODE = 'XX000';
    END IF;

    UPDATE @extschema@.run
       SET member_rows = res.member_rows, volume_rows = res.volume_rows, carry_rows = res.carry_rows,
           input_checksum = res.input_checksum, total_cv = res.total_cv,
           total_before_cap = res.total_before_cap, total_paid = res.total_paid,
           cap_limit = res.cap_limit, cap_factor = res.cap_factor,
           payout_rows = res.payout_rows, member_result_rows = res.member_result_rows,
           carry_out_rows = res.carry_out_rows, line_rows = res.line_rows, bonus_rows = res.bonus_rows,
           snapshot = res.snapshot,
           lock_wait = t_started - t_requested, started_at = t_started,
           finished_at = pg_catalog.clock_timestamp(),
           duration = pg_catalog.clock_timestamp() - t_started
     WHERE run_id = v_run;

    PERFORM @extschema@._drop_views(inp.views);
    RETURN v_run;
END
$$;
COMMENT ON FUNCTION @extschema@.close(text, text, date, date, text, boolean, integer, boolean) IS
  'Closes a period as a draft, in the calling transaction: computes it with mlm.compute (plan version pinned: the current one unless given; carry-in from the latest finalized earlier run of the plan) and writes the run header, payouts, member results, carry-out, bonus totals, the tree snapshot and, with with_lines, the audit lines. Re-closing a draft replaces its results and keeps its run_id; a finalized period is refused. Closes of one period serialize on an advisory lock (nowait => true: fail with 55P03 instead of waiting). Returns the run_id.';
REVOKE EXECUTE ON FUNCTION @extschema@.close(text, text, date, date, text, boolean, integer, boolean) FROM PUBLIC;

CREATE FUNCTION @extschema@.finalize(run_id bigint) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    p_run ALIAS FOR $1;
    r     @extschema@.run;
    other @extschema@.run;
    carry_run bigint;
BEGIN
    SELECT x.* INTO r FROM @extschema@.run x WHERE x.run_id = p_run;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'run % does not exist', p_run USING ERRCODE = '42704';
    END IF;
    PERFORM pg_catalog.pg_advisory_xact_lock(@extschema@._period_lock_key(r.plan_name, r.period_label));
    PERFORM pg_catalog.pg_advisory_xact_lock(@extschema@._plan_lock_key(r.plan_name));
    -- read again: a close or finalize may have committed while we waited
    SELECT x.* INTO r FROM @extschema@.run x WHERE x.run_id = p_run FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'run % does not exist', p_run USING ERRCODE = '42704';
    END IF;
    IF r.status = 'final' THEN
        RAISE EXCEPTION 'run % (plan "%", period "%") is already finalized', r.run_id, r.plan_name, r.period_label
            USING ERRCODE = '55000',
                  DETAIL = pg_catalog.format('finalized at %s by %s', r.finalized_at, r.finalized_by);
    END IF;
    SELECT x.* INTO other FROM @extschema@.run x
     WHERE x.plan_name = r.plan_name AND x.status = 'draft' AND x.period_start < r.period_start
     ORDER BY x.period_start LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'period "%" of plan "%" (run %) is an earlier draft: finalize or discard it first',
                        other.period_label, r.plan_name, other.run_id
            USING ERRCODE = '55000', HINT = 'the periods of a plan are finalized in date order';
    END IF;
    SELECT x.* INTO other FROM @extschema@.run x
     WHERE x.plan_name = r.plan_name AND x.status = 'final' AND x.period_start > r.period_start
     ORDER BY x.period_start LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'plan "%" has a finalized later period "%" (run %): run % can no longer be finalized',
                        r.plan_name, other.period_label, other.run_id, r.run_id
            USING ERRCODE = '55000', HINT = 'discard the draft with mlm.discard_draft(run_id)';
    END IF;
    SELECT x.* INTO other FROM @extschema@.run x
     WHERE x.plan_name = r.plan_name AND x.status = 'final' AND x.run_id <> r.run_id
       AND x.period_start <= r.period_end AND x.period_end >= r.period_start
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'run % overlaps the finalized period "%" (run %) of plan "%"',
                        r.run_id, other.period_label, other.run_id, r.plan_name
            USING ERRCODE = '55000';
    END IF;
    carry_run := @extschema@._carry_source_run(r.plan_name, r.period_start);
    IF carry_run IS DISTINCT FROM r.carry_from_run_id THEN
        RAISE EXCEPTION 'run % is stale: its carry-in came from run %, but the latest finalized earlier period is now run %',
                        r.run_id, COALESCE(r.carry_from_run_id::text, '(none)'),
                        COALESCE(carry_run::text, '(none)')
            USING ERRCODE = '55000',
                  HINT = pg_catalog.format('close period "%s" again, then finalize it', r.period_label);
    END IF;
    UPDATE @extschema@.run
       SET status = 'final', finalized_at = pg_catalog.now(), finalized_by = SESSION_USER
     WHERE run_id = r.run_id;
    RETURN r.run_id;
END
$$;
COMMENT ON FUNCTION @extschema@.finalize(bigint) IS
  'Freezes a draft run: afterwards the period cannot be closed again, its rows cannot change, and its carry-out becomes the carry-in of the next period. Periods of a plan are finalized in date order; a draft whose carry-in is no longer the latest finalized earlier run is refused as stale. Returns the run_id.';
REVOKE EXECUTE ON FUNCTION @extschema@.finalize(bigint) FROM PUBLIC;

CREATE FUNCTION @extschema@.finalize(plan_name text, period_label text) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    id bigint;
BEGIN
    SELECT r.run_id INTO id FROM @extschema@.run r WHERE r.plan_name = $1 AND r.period_label = $2;
    IF id IS NULL THEN
        RAISE EXCEPTION 'period "%" of plan "%" has not been closed', $2, $1 USING ERRCODE = '42704';
    END IF;
    RETURN @extschema@.finalize(id);
END
$$;
COMMENT ON FUNCTION @extschema@.finalize(text, text) IS 'mlm.finalize(run_id) for the run of a plan''s period.';
REVOKE EXECUTE ON FUNCTION @extschema@.finalize(text, text) FROM PUBLIC;

CREATE FUNCTION @extschema@.discard_draft(run_id bigint) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    p_run ALIAS FOR $1;
    r @extschema@.run;
BEGIN
    SELECT x.* INTO r FROM @extschema@.run x WHERE x.run_id = p_run;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'run % does not exist', p_run USING ERRCODE = '42704';
    END IF;
    PERFORM pg_catalog.pg_advisory_xact_lock(@extschema@._period_lock_key(r.plan_name, r.period_label));
    SELECT x.* INTO r FROM @extschema@.run x WHERE x.run_id = p_run FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'run % does not exist', p_run USING ERRCODE = '42704';
    END IF;
    IF r.status = 'final' THEN
        RAISE EXCEPTION 'run % (plan "%", period "%") is finalized and cannot be discarded',
                        r.run_id, r.plan_name, r.period_label
            USING ERRCODE = '55000';
    END IF;
    DELETE FROM @extschema@.run_line WHERE run_id = p_run;
    DELETE FROM @extschema@.run_payout WHERE run_id = p_run;
    DELETE FROM @extschema@.run_member WHERE run_id = p_run;
    DELETE FROM @extschema@.run_carry WHERE run_id = p_run;
    DELETE FROM @extschema@.run_bonus_total WHERE run_id = p_run;
    DELETE FROM @extschema@.run WHERE run_id = p_run;
END
$$;
COMMENT ON FUNCTION @extschema@.discard_draft(bigint) IS
  'Deletes a draft run and its rows (finalized runs are refused).';
REVOKE EXECUTE ON FUNCTION @extschema@.discard_draft(bigint) FROM PUBLIC;

CREATE FUNCTION @extschema@.adjust(run_id bigint, member_id bigint, amount numeric, reason text)
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
    SELECT x.* INTO r FROM @extschema@.run x WHERE x.run_id = p_run;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'run % does not exist', p_run USING ERRCODE = '42704';
    END IF;
    IF r.status <> 'final' THEN
        RAISE EXCEPTION 'run % (plan "%", period "%") is a draft: adjustments are posted to finalized runs only',
                        r.run_id, r.plan_name, r.period_label
            USING ERRCODE = '55000', HINT = 'fix the inputs and close the period again';
    END IF;
    IF p_member IS NULL OR p_amount IS NULL OR p_amount = 0 THEN
        RAISE EXCEPTION 'an adjustment needs a member and a non-zero amount' USING ERRCODE = '22023';
    END IF;
    IF p_reason IS NULL OR pg_catalog.btrim(p_reason) = '' THEN
        RAISE EXCEPTION 'an adjustment needs a reason' USING ERRCODE = '22023';
    END IF;
    SELECT COALESCE((p.definition #>> '{currency,scale}')::integer, 2) INTO scale
      FROM @extschema@.plan_version p
     WHERE p.plan_name = r.plan_name AND p.version = r.plan_version;
    IF pg_catalog.round(p_amount, scale) <> p_amount THEN
        RAISE EXCEPTION 'amount % has more than % decimals (the currency scale of plan "%")',
                        p_amount, scale, r.plan_name
            USING ERRCODE = '22023';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM @extschema@.run_member m WHERE m.run_id = p_run AND m.member_id = p_member) THEN
        RAISE EXCEPTION 'member % was not part of run %', p_member, p_run USING ERRCODE = '22023';
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
    SELECT r.snapshot INTO t FROM @extschema@.run r WHERE r.run_id = $1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'run % does not exist', $1 USING ERRCODE = '42704';
    END IF;
    RETURN QUERY SELECT d.member_id, d.level FROM @extschema@.downline(t, $2, $3) d;
END
$$;
COMMENT ON FUNCTION @extschema@.run_downline(bigint, bigint, integer) IS
  'The sponsor downline of a member in the tree snapshot a run used: who was in whose downline when the period was paid.';
