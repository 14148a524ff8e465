-- 50_close_tables.sql .. 57_history.sql: period close for ERP systems.
--
-- Plan registry (immutable versions), input sources, audited runs (draft ->
-- final), carry-forward, adjustments, tree snapshots, previews.  See
-- docs/period-close.md for the API, the lifecycle, the locking rules and the
-- recommended roles, and docs/security.md for who reads what.
--
-- Conventions of these files:
--  * every object is qualified with @extschema@ or pg_catalog;
--  * every plpgsql function runs with SET search_path = pg_catalog, pg_temp,
--    so no object of the caller's search_path can capture a name or operator;
--  * the functions that change state are SECURITY DEFINER and not executable
--    by PUBLIC: only the extension owner writes the tables, so every row in
--    them was produced by these functions;
--  * dynamic SQL quotes identifiers with format('%I') / regclass output and
--    literals with format('%L');
--  * errors name their condition (ERRCODE = 'object_not_in_prerequisite_state'),
--    messages start in lower case without a final period, details and hints
--    are sentences, as in the C code and PostgreSQL itself.

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
    time_zone     text        NOT NULL,
    CONSTRAINT source_pkey PRIMARY KEY (source_name),
    CONSTRAINT source_name_check CHECK (source_name <> ''),
    CONSTRAINT source_period_kind_check CHECK (period_kind IN ('label', 'date'))
);
COMMENT ON TABLE @extschema@.source IS
  'Where an ERP''s inputs come from: schema-qualified names of its members, volumes and (optional) opening-carry relations, and the volumes column that selects a period (period_kind label: equal to the period label; date: within [period_start, period_end]). Written by mlm.register_source().';
COMMENT ON COLUMN @extschema@.source.time_zone IS 'The time zone in which a timestamptz period column is cut at midnight (the database''s when the source was registered, unless given): periods never depend on the session''s TimeZone.';
COMMENT ON COLUMN @extschema@.source.registered_by IS 'The role that wrote the row (CURRENT_USER, set by a trigger): every close checks that it may still read the relations.';

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
    time_zone         text,
    finalized_inputs_changed boolean,
    state_rows        bigint,
    payable_rows      bigint,
    balance_in        numeric,
    paid_out          numeric,
    balance_out       numeric,
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
COMMENT ON COLUMN @extschema@.run.carry_from_run_id IS 'The finalized run whose state out (carry, ranks, grace, balances) was this run''s state in (NULL: the opening state of the source, or none). Finalized runs are never deleted, so no foreign key is needed (a self-reference would make pg_dump warn about circular constraints).';
COMMENT ON COLUMN @extschema@.run.snapshot IS 'The sponsor/placement tree of the members read by this run (mlm.tree): who was in whose downline when the period was paid.';
COMMENT ON COLUMN @extschema@.run.run_by IS 'SESSION_USER of the last close (the login role, also behind SET ROLE).';
COMMENT ON COLUMN @extschema@.run.lock_wait IS 'Time the last close waited for the period lock.';
COMMENT ON COLUMN @extschema@.run.time_zone IS 'The time zone that cut the period of a timestamptz period column (the source''s); NULL for runs made before version 0.2, which used the closing session''s.';
COMMENT ON COLUMN @extschema@.run.paid_out IS 'What the run pays out under the payables ledger (balances in + earned, where they reach min_payout and no hold); equals total_paid for plans without payout. NULL for runs made before 0.2.';
COMMENT ON COLUMN @extschema@.run.balance_out IS 'The sum of the balances the run carries forward (owed to members when positive, owed by them when negative).';
COMMENT ON COLUMN @extschema@.run.finalized_inputs_changed IS 'Set by finalize: true when the run was finalized on purpose although its inputs had changed since it was computed (accept_changed_inputs), false when they had not; NULL for drafts and runs finalized before version 0.2.';

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
    qualified_rank text,
    title_rank     text,
    grace          integer,
    cpv            numeric,
    customers      integer,
    rv             numeric,
    member_type    text,
    CONSTRAINT run_member_pkey PRIMARY KEY (run_id, member_id)
);
COMMENT ON TABLE @extschema@.run_member IS
  'Member results of a run, one row per member read: own pv, gv, active, rank (the paid-as rank), amount earned after the cap (before adjustments), the qualified and title ranks, grace, customer PV and count, RV and member_type (customers have no ranks). Columns added in 0.2 are NULL in rows of earlier runs.';

CREATE TABLE @extschema@.run_carry (
    run_id      bigint  NOT NULL,
    member_id   bigint  NOT NULL,
    carry_left  numeric NOT NULL,
    carry_right numeric NOT NULL,
    CONSTRAINT run_carry_pkey PRIMARY KEY (run_id, member_id)
);
COMMENT ON TABLE @extschema@.run_carry IS
  'Binary carry-out of a run (non-zero carries only). The carry-out of the latest finalized earlier period is the carry-in of the next close of the plan.';

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

-- Audit lines are stored packed: one row holds consecutive lines (in the
-- order of their line numbers) of one recipient and one bonus, encoded in
-- data (src/line_pack.h: line-number deltas, source ids relative to the
-- recipient, exact figures as scaled integers), and a row is kept below
-- the size at which it would be TOASTed (about 2 kB, some 80 lines); the
-- view mlm.run_line below shows one row per line.  A close with lines
-- writes a seventh of the rows and a sixth of the bytes it would write
-- with one row per line (docs/design.md).
CREATE FUNCTION @extschema@._unpack_lines(
    member_id pg_catalog.int8, first_line pg_catalog.int8, lines pg_catalog.int4, data pg_catalog.bytea,
    OUT line_no pg_catalog.int8, OUT source_id pg_catalog.int8, OUT level pg_catalog.int4,
    OUT base pg_catalog.numeric, OUT rate pg_catalog.numeric, OUT amount pg_catalog.numeric)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'mlm_unpack_lines' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 8;
COMMENT ON FUNCTION @extschema@._unpack_lines(pg_catalog.int8, pg_catalog.int8, pg_catalog.int4, pg_catalog.bytea) IS
  'internal, for the view mlm.run_line: the audit lines of one row of mlm.run_line_pack; corrupt data is an error (XX001)';

CREATE FUNCTION @extschema@._lines_valid(
    member_id pg_catalog.int8, first_line pg_catalog.int8, lines pg_catalog.int4, data pg_catalog.bytea)
    RETURNS pg_catalog.bool
    AS 'MODULE_PATHNAME', 'mlm_lines_valid' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@._lines_valid(pg_catalog.int8, pg_catalog.int8, pg_catalog.int4, pg_catalog.bytea) IS
  'internal, the CHECK constraint of mlm.run_line_pack: whether data reads as exactly lines audit lines, the first numbered first_line';

CREATE FUNCTION @extschema@._pack_lines(
    member_id pg_catalog.int8, line_no pg_catalog.int8[], source_id pg_catalog.int8[], level pg_catalog.int4[],
    base pg_catalog.numeric[], rate pg_catalog.numeric[], amount pg_catalog.numeric[])
    RETURNS pg_catalog.bytea
    AS 'MODULE_PATHNAME', 'mlm_pack_lines' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@._pack_lines(pg_catalog.int8, pg_catalog.int8[], pg_catalog.int8[], pg_catalog.int4[], pg_catalog.numeric[], pg_catalog.numeric[], pg_catalog.numeric[]) IS
  'internal, for the upgrade from 0.1: the data of a row of mlm.run_line_pack holding the given lines of recipient member_id (line numbers increasing; first_line is line_no[1])';

CREATE TABLE @extschema@.run_line_pack (
    run_id     bigint  NOT NULL,
    member_id  bigint  NOT NULL,
    first_line bigint  NOT NULL,
    bonus      text    NOT NULL,
    lines      integer NOT NULL,
    data       bytea   NOT NULL,
    CONSTRAINT run_line_pack_pkey PRIMARY KEY (run_id, member_id, first_line),
    -- what the close's writer builds; checked for every other writer (a
    -- restore, a hand-made row)
    CONSTRAINT run_line_pack_data_check CHECK (@extschema@._lines_valid(member_id, first_line, lines, data))
);
COMMENT ON TABLE @extschema@.run_line_pack IS
  'Audit lines of a run closed with with_lines => true, packed: consecutive lines of one recipient (member_id) and one bonus per row, the first numbered first_line, encoded in data. Read them through the view mlm.run_line.';

CREATE VIEW @extschema@.run_line AS
SELECT p.run_id, l.line_no, p.member_id, p.bonus, l.source_id, l.level, l.base, l.rate, l.amount
  FROM @extschema@.run_line_pack p
 CROSS JOIN LATERAL @extschema@._unpack_lines(p.member_id, p.first_line, p.lines, p.data) l;
COMMENT ON VIEW @extschema@.run_line IS
  'Audit lines of a run closed with with_lines => true, one row per line: (recipient, bonus, source member, level, base, rate, exact amount before rounding and cap); line_no is unique within a run and numbers the lines in the order the bonuses paid them (mlm.compute''s order). Stored packed in mlm.run_line_pack.';

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
SELECT pg_catalog.pg_extension_config_dump('@extschema@.run_line_pack', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.run_state', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.run_payable', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.run_bonus_total', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.adjustment', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.adjustment_adjustment_id_seq', '');

