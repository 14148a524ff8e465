-- 56_close.sql: preview, close, finalize, discard and adjust a period.

------------------------------------------------------------------------------
-- Preview, close, finalize, discard, adjust
------------------------------------------------------------------------------

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
CREATE FUNCTION @extschema@._check_period(p_plan text, p_label text, p_start date, p_end date, p_source text)
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
  'The latest finalized run of the plan ending before the given date: its state out is the state in.';

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
  'internal, for mlm.close: computes a period as mlm._compute_source(..., read_as_owner => true) and writes its rows into the run tables of the draft run_id (rows of an earlier close of the draft that equal new ones are kept, the others deleted); returns the row counts and the grand total';
REVOKE EXECUTE ON FUNCTION @extschema@._close_source(pg_catalog.jsonb, pg_catalog.regclass, pg_catalog.regclass, pg_catalog.text, pg_catalog.text, pg_catalog.date, pg_catalog.date, pg_catalog.text, pg_catalog.regclass, pg_catalog.bool, pg_catalog.int8) FROM PUBLIC;

CREATE FUNCTION @extschema@._delete_run_rows(run_id pg_catalog.int8) RETURNS pg_catalog.int8
    AS 'MODULE_PATHNAME', 'mlm_delete_run_rows' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@._delete_run_rows(pg_catalog.int8) IS
  'internal, for mlm.close and mlm.discard_draft: deletes every result row of a draft run (the run is checked to be a draft and locked); returns how many';
REVOKE EXECUTE ON FUNCTION @extschema@._delete_run_rows(pg_catalog.int8) FROM PUBLIC;

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
        -- re-run of a draft: same run_id, everything else replaced (the
        -- writer keeps the old rows that are equal to new ones and deletes
        -- the others, see _close_source)
        v_run := existing.run_id;
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

CREATE FUNCTION @extschema@.discard_draft(run_id bigint) RETURNS void
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

