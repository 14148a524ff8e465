-- mlm upgrade script 0.1 -> 0.2.
-- Every change that src/sql makes to the objects of 0.1 is repeated here, in
-- the same order, so that ALTER EXTENSION mlm UPDATE reaches exactly the
-- objects of a fresh CREATE EXTENSION mlm (test/shell/upgrade.sh compares
-- the catalogs).  Payout history (runs, lines, adjustments, plan versions)
-- is carried forward untouched.
\echo Use "ALTER EXTENSION mlm UPDATE TO '0.2'" to load this file. \quit

------------------------------------------------------------------------------
-- Types and objects new in 0.2 that functions below refer to.
------------------------------------------------------------------------------

-- The computation of mlm.close, mlm.preview and mlm.totals: mlm.compute's
-- rows, and in the grand total row typed totals and the tree snapshot.
CREATE TYPE @extschema@._source_result AS (
    kind pg_catalog.text, member_id pg_catalog.int8, bonus pg_catalog.text,
    source_id pg_catalog.int8, level pg_catalog.int4, base pg_catalog.numeric,
    rate pg_catalog.numeric, amount pg_catalog.numeric, pv pg_catalog.numeric,
    gv pg_catalog.numeric, active pg_catalog.bool, rank pg_catalog.text,
    carry_left pg_catalog.numeric, carry_right pg_catalog.numeric,
    qualified_rank pg_catalog.text, paid_as_rank pg_catalog.text, title_rank pg_catalog.text,
    grace pg_catalog.int4, cpv pg_catalog.numeric, customers pg_catalog.int4, rv pg_catalog.numeric,
    member_type pg_catalog.text, balance_in pg_catalog.numeric, earned pg_catalog.numeric,
    paid pg_catalog.numeric, balance_out pg_catalog.numeric,
    carry_rows pg_catalog.int8, snapshot @extschema@.tree,
    member_rows pg_catalog.int8, volume_rows pg_catalog.int8, input_checksum pg_catalog.text,
    total_cv pg_catalog.numeric, cap_limit pg_catalog.numeric);
COMMENT ON TYPE @extschema@._source_result IS
    'a row of mlm._compute_source: the columns of mlm.period_result, and in the grand total row the input row counts and checksum, total CV, cap limit and the tree snapshot';

-- Contract v2 (ranks across periods, customers, the payables ledger): the
-- rows of mlm.compute gain the columns of member results, state and
-- payables rows (at the end, so 0.1's columns keep their places).
ALTER TYPE @extschema@.period_result
    ADD ATTRIBUTE qualified_rank pg_catalog.text, ADD ATTRIBUTE paid_as_rank pg_catalog.text,
    ADD ATTRIBUTE title_rank pg_catalog.text, ADD ATTRIBUTE grace pg_catalog.int4,
    ADD ATTRIBUTE cpv pg_catalog.numeric, ADD ATTRIBUTE customers pg_catalog.int4,
    ADD ATTRIBUTE rv pg_catalog.numeric, ADD ATTRIBUTE member_type pg_catalog.text,
    ADD ATTRIBUTE balance_in pg_catalog.numeric, ADD ATTRIBUTE earned pg_catalog.numeric,
    ADD ATTRIBUTE paid pg_catalog.numeric, ADD ATTRIBUTE balance_out pg_catalog.numeric;
COMMENT ON TYPE @extschema@.period_result IS
    'a row of mlm.compute: kind payout, member, line, carry, state, payable or total; see docs/reference.md for the columns of each kind';

-- _period_inputs takes other arguments and returns other columns in 0.2.
DROP FUNCTION @extschema@._period_inputs(text, text, date, date, bigint);

-- A source records the time zone that cuts its timestamptz periods: the
-- database's (its own setting, else the server's), as for new sources.
ALTER TABLE @extschema@.source ADD COLUMN time_zone text;
UPDATE @extschema@.source
   SET time_zone = COALESCE(
         (SELECT pg_catalog.substr(c.cfg, 10)
            FROM pg_catalog.pg_db_role_setting s, pg_catalog.unnest(s.setconfig) c(cfg)
           WHERE s.setdatabase = (SELECT d.oid FROM pg_catalog.pg_database d
                                   WHERE d.datname = pg_catalog.current_database())
             AND s.setrole = 0 AND c.cfg LIKE 'TimeZone=%'),
         (SELECT st.reset_val FROM pg_catalog.pg_settings st WHERE st.name = 'TimeZone'));
ALTER TABLE @extschema@.source ALTER COLUMN time_zone SET NOT NULL;
COMMENT ON COLUMN @extschema@.source.time_zone IS 'The time zone in which a timestamptz period column is cut at midnight (the database''s when the source was registered, unless given): periods never depend on the session''s TimeZone.';
COMMENT ON COLUMN @extschema@.source.registered_by IS 'The role that wrote the row (CURRENT_USER, set by a trigger): every close checks that it may still read the relations.';

-- A run records that time zone, and whether it was finalized on inputs that
-- had changed since it was computed (NULL for runs of 0.1).
ALTER TABLE @extschema@.run ADD COLUMN time_zone text;
ALTER TABLE @extschema@.run ADD COLUMN finalized_inputs_changed boolean;
COMMENT ON COLUMN @extschema@.run.time_zone IS 'The time zone that cut the period of a timestamptz period column (the source''s); NULL for runs made before version 0.2, which used the closing session''s.';
COMMENT ON COLUMN @extschema@.run.finalized_inputs_changed IS 'Set by finalize: true when the run was finalized on purpose although its inputs had changed since it was computed (accept_changed_inputs), false when they had not; NULL for drafts and runs finalized before version 0.2.';

-- Contract v2: member results gain the three ranks, grace, customer
-- volume, RV and the member type (NULL in the rows of earlier runs); a run
-- keeps the state it hands on and its payables ledger.  A run made before
-- 0.2 keeps its carry-out in run_carry, which the next close reads as its
-- state (_period_inputs): nothing of the history is rewritten.
ALTER TABLE @extschema@.run_member
    ADD COLUMN qualified_rank text, ADD COLUMN title_rank text, ADD COLUMN grace integer,
    ADD COLUMN cpv numeric, ADD COLUMN customers integer, ADD COLUMN rv numeric,
    ADD COLUMN member_type text;
COMMENT ON TABLE @extschema@.run_member IS
  'Member results of a run, one row per member read: own pv, gv, active, rank (the paid-as rank), amount earned after the cap (before adjustments), the qualified and title ranks, grace, customer PV and count, RV and member_type (customers have no ranks). Columns added in 0.2 are NULL in rows of earlier runs.';
ALTER TABLE @extschema@.run
    ADD COLUMN state_rows bigint, ADD COLUMN payable_rows bigint, ADD COLUMN balance_in numeric,
    ADD COLUMN paid_out numeric, ADD COLUMN balance_out numeric;
COMMENT ON COLUMN @extschema@.run.carry_from_run_id IS 'The finalized run whose state out (carry, ranks, grace, balances) was this run''s state in (NULL: the opening state of the source, or none). Finalized runs are never deleted, so no foreign key is needed (a self-reference would make pg_dump warn about circular constraints).';
COMMENT ON COLUMN @extschema@.run.paid_out IS 'What the run pays out under the payables ledger (balances in + earned, where they reach min_payout and no hold); equals total_paid for plans without payout. NULL for runs made before 0.2.';
COMMENT ON COLUMN @extschema@.run.balance_out IS 'The sum of the balances the run carries forward (owed to members when positive, owed by them when negative).';

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
SELECT pg_catalog.pg_extension_config_dump('@extschema@.run_state', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.run_payable', '');

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

-- The lines of runs made before 0.2 move into mlm.run_line_pack unchanged
-- (same numbers, same values; mlm.run_line then shows them as before): the
-- lines of one recipient and one bonus that are consecutive in line number
-- order, at most 24 to a row.  No trigger is on the new table yet, and the
-- old table is dropped with its rows only after they are all copied.
INSERT INTO @extschema@.run_line_pack
SELECT g.run_id, g.member_id, pg_catalog.min(g.line_no), g.bonus, pg_catalog.count(*)::integer,
       @extschema@._pack_lines(g.member_id, pg_catalog.array_agg(g.line_no ORDER BY g.line_no),
                               pg_catalog.array_agg(g.source_id ORDER BY g.line_no),
                               pg_catalog.array_agg(g.level ORDER BY g.line_no),
                               pg_catalog.array_agg(g.base ORDER BY g.line_no),
                               pg_catalog.array_agg(g.rate ORDER BY g.line_no),
                               pg_catalog.array_agg(g.amount ORDER BY g.line_no))
  FROM (SELECT i.*, (pg_catalog.row_number() OVER (PARTITION BY i.run_id, i.member_id, i.bonus, i.island ORDER BY i.line_no) - 1) / 24 AS chunk
          FROM (SELECT l.*, pg_catalog.row_number() OVER (PARTITION BY l.run_id, l.member_id ORDER BY l.line_no)
                          - pg_catalog.row_number() OVER (PARTITION BY l.run_id, l.member_id, l.bonus ORDER BY l.line_no) AS island
                  FROM @extschema@.run_line l) i) g
 GROUP BY g.run_id, g.member_id, g.bonus, g.island, g.chunk;
DROP TABLE @extschema@.run_line;

CREATE VIEW @extschema@.run_line AS
SELECT p.run_id, l.line_no, p.member_id, p.bonus, l.source_id, l.level, l.base, l.rate, l.amount
  FROM @extschema@.run_line_pack p
 CROSS JOIN LATERAL @extschema@._unpack_lines(p.member_id, p.first_line, p.lines, p.data) l;
COMMENT ON VIEW @extschema@.run_line IS
  'Audit lines of a run closed with with_lines => true, one row per line: (recipient, bonus, source member, level, base, rate, exact amount before rounding and cap); line_no is unique within a run and numbers the lines in the order the bonuses paid them (mlm.compute''s order). Stored packed in mlm.run_line_pack.';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.run_line_pack', '');

------------------------------------------------------------------------------
-- Functions new or changed in 0.2, in the order of the install script
-- (a close reads its inputs as their owners; mlm.source checks every row;
-- finite periods and adjustments; condition names and hints in PostgreSQL
-- style; the guard of the payout history).
------------------------------------------------------------------------------

CREATE FUNCTION @extschema@.compute(
    plan pg_catalog.jsonb, members pg_catalog.regclass, volumes pg_catalog.regclass,
    period_start pg_catalog.date, period_end pg_catalog.date,
    carry pg_catalog.regclass DEFAULT NULL, with_lines pg_catalog.bool DEFAULT false,
    kinds pg_catalog.text DEFAULT NULL,
    period_column pg_catalog.text DEFAULT NULL, period_label pg_catalog.text DEFAULT NULL,
    time_zone pg_catalog.text DEFAULT NULL)
    RETURNS SETOF @extschema@.period_result
    AS 'MODULE_PATHNAME', 'mlm_compute' LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.compute(pg_catalog.jsonb, pg_catalog.regclass, pg_catalog.regclass, pg_catalog.date, pg_catalog.date, pg_catalog.regclass, pg_catalog.bool, pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.text) IS
    'every result of one period as rows tagged by kind (payout, member, line, carry, state, payable, total); kinds = comma list of the kinds wanted (default payout, member, carry, total, and line with with_lines); carry is the previous state (carry, ranks, grace, balance); period_column selects the volume rows of the period (a text column: equal to period_label; date or timestamp: within the dates; timestamptz: cut at midnight in time_zone), without it every volume row is read';

-- The input contract of a registered source, checked without reading a
-- row: the one home of the columns and types the engine reads.
CREATE FUNCTION @extschema@._check_inputs(
    members pg_catalog.regclass, volumes pg_catalog.regclass, carry pg_catalog.regclass,
    period_column pg_catalog.text)
    RETURNS pg_catalog.text
    AS 'MODULE_PATHNAME', 'mlm_check_inputs' LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@._check_inputs(pg_catalog.regclass, pg_catalog.regclass, pg_catalog.regclass, pg_catalog.text) IS
    'internal: checks the columns of a source''s relations as a computation would (errors naming the relation and column); label when the period column holds labels, else date';

CREATE FUNCTION @extschema@._compute_source(
    plan pg_catalog.jsonb, members pg_catalog.regclass, volumes pg_catalog.regclass,
    period_column pg_catalog.text, period_label pg_catalog.text,
    period_start pg_catalog.date, period_end pg_catalog.date, time_zone pg_catalog.text,
    carry pg_catalog.regclass, with_lines pg_catalog.bool, read_as_owner pg_catalog.bool,
    kinds pg_catalog.text DEFAULT NULL)
    RETURNS SETOF @extschema@._source_result
    AS 'MODULE_PATHNAME', 'mlm_compute_source' LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@._compute_source(pg_catalog.jsonb, pg_catalog.regclass, pg_catalog.regclass, pg_catalog.text, pg_catalog.text, pg_catalog.date, pg_catalog.date, pg_catalog.text, pg_catalog.regclass, pg_catalog.bool, pg_catalog.bool, pg_catalog.text) IS
    'internal: one period (the volumes of the period selected by period_column when given; timestamptz periods cut in time_zone), for mlm.close, mlm.preview and mlm.totals; read_as_owner reads each relation as its owner in a security-restricted operation and needs the privileges of that owner';

CREATE FUNCTION @extschema@.payouts(
    plan pg_catalog.jsonb, members pg_catalog.regclass, volumes pg_catalog.regclass,
    period_start pg_catalog.date, period_end pg_catalog.date, carry pg_catalog.regclass DEFAULT NULL,
    period_column pg_catalog.text DEFAULT NULL, period_label pg_catalog.text DEFAULT NULL,
    time_zone pg_catalog.text DEFAULT NULL)
    RETURNS TABLE(member_id pg_catalog.int8, bonus pg_catalog.text, amount pg_catalog.numeric)
    AS 'MODULE_PATHNAME', 'mlm_payouts' LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.payouts(pg_catalog.jsonb, pg_catalog.regclass, pg_catalog.regclass, pg_catalog.date, pg_catalog.date, pg_catalog.regclass, pg_catalog.text, pg_catalog.text, pg_catalog.text) IS
    'preview: every non-zero payout (member, bonus, amount) after rounding and the cap; writes nothing; period_column selects the volume rows of the period (a text column: equal to period_label; date or timestamp: within the dates; timestamptz: cut at midnight in time_zone), without it every volume row is read';

CREATE FUNCTION @extschema@.member_results(
    plan pg_catalog.jsonb, members pg_catalog.regclass, volumes pg_catalog.regclass,
    period_start pg_catalog.date, period_end pg_catalog.date, carry pg_catalog.regclass DEFAULT NULL,
    period_column pg_catalog.text DEFAULT NULL, period_label pg_catalog.text DEFAULT NULL,
    time_zone pg_catalog.text DEFAULT NULL)
    RETURNS TABLE(member_id pg_catalog.int8, pv pg_catalog.numeric, gv pg_catalog.numeric, active pg_catalog.bool, rank pg_catalog.text, amount pg_catalog.numeric,
                  qualified_rank pg_catalog.text, paid_as_rank pg_catalog.text, title_rank pg_catalog.text, grace pg_catalog.int4,
                  cpv pg_catalog.numeric, customers pg_catalog.int4, rv pg_catalog.numeric, member_type pg_catalog.text)
    AS 'MODULE_PATHNAME', 'mlm_member_results' LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.member_results(pg_catalog.jsonb, pg_catalog.regclass, pg_catalog.regclass, pg_catalog.date, pg_catalog.date, pg_catalog.regclass, pg_catalog.text, pg_catalog.text, pg_catalog.text) IS
    'preview: per member own PV, GV, activity, paid-as rank name (rank), the amount earned (after the cap), the qualified, paid-as and title ranks, grace, customer PV and count, RV and member_type (customers: no ranks); carry is the previous state; period_column selects the volume rows of the period (a text column: equal to period_label; date or timestamp: within the dates; timestamptz: cut at midnight in time_zone), without it every volume row is read';

CREATE FUNCTION @extschema@.lines(
    plan pg_catalog.jsonb, members pg_catalog.regclass, volumes pg_catalog.regclass,
    period_start pg_catalog.date, period_end pg_catalog.date, carry pg_catalog.regclass DEFAULT NULL,
    period_column pg_catalog.text DEFAULT NULL, period_label pg_catalog.text DEFAULT NULL,
    time_zone pg_catalog.text DEFAULT NULL)
    RETURNS TABLE(member_id pg_catalog.int8, bonus pg_catalog.text, source_id pg_catalog.int8, level pg_catalog.int4, base pg_catalog.numeric, rate pg_catalog.numeric, amount pg_catalog.numeric)
    AS 'MODULE_PATHNAME', 'mlm_lines' LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.lines(pg_catalog.jsonb, pg_catalog.regclass, pg_catalog.regclass, pg_catalog.date, pg_catalog.date, pg_catalog.regclass, pg_catalog.text, pg_catalog.text, pg_catalog.text) IS
    'preview: the audit lines (member paid, bonus, source, level, base, rate, exact amount); period_column selects the volume rows of the period (a text column: equal to period_label; date or timestamp: within the dates; timestamptz: cut at midnight in time_zone), without it every volume row is read';

CREATE FUNCTION @extschema@.carry_out(
    plan pg_catalog.jsonb, members pg_catalog.regclass, volumes pg_catalog.regclass,
    period_start pg_catalog.date, period_end pg_catalog.date, carry pg_catalog.regclass DEFAULT NULL,
    period_column pg_catalog.text DEFAULT NULL, period_label pg_catalog.text DEFAULT NULL,
    time_zone pg_catalog.text DEFAULT NULL)
    RETURNS TABLE(member_id pg_catalog.int8, carry_left pg_catalog.numeric, carry_right pg_catalog.numeric)
    AS 'MODULE_PATHNAME', 'mlm_carry_out' LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.carry_out(pg_catalog.jsonb, pg_catalog.regclass, pg_catalog.regclass, pg_catalog.date, pg_catalog.date, pg_catalog.regclass, pg_catalog.text, pg_catalog.text, pg_catalog.text) IS
    'preview: binary carry-out of every member with a non-zero carry (the next period carry-in); period_column selects the volume rows of the period (a text column: equal to period_label; date or timestamp: within the dates; timestamptz: cut at midnight in time_zone), without it every volume row is read';

CREATE FUNCTION @extschema@.state_out(
    plan pg_catalog.jsonb, members pg_catalog.regclass, volumes pg_catalog.regclass,
    period_start pg_catalog.date, period_end pg_catalog.date, carry pg_catalog.regclass DEFAULT NULL,
    period_column pg_catalog.text DEFAULT NULL, period_label pg_catalog.text DEFAULT NULL,
    time_zone pg_catalog.text DEFAULT NULL)
    RETURNS TABLE(member_id pg_catalog.int8, carry_left pg_catalog.numeric, carry_right pg_catalog.numeric,
                  title_rank pg_catalog.text, paid_as_rank pg_catalog.text, grace pg_catalog.int4,
                  balance pg_catalog.numeric)
    AS 'MODULE_PATHNAME', 'mlm_state_out' LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.state_out(pg_catalog.jsonb, pg_catalog.regclass, pg_catalog.regclass, pg_catalog.date, pg_catalog.date, pg_catalog.regclass, pg_catalog.text, pg_catalog.text, pg_catalog.text) IS
    'preview: the state this period hands to the next (carry, title and paid-as rank names, null for the first rank, grace, balance), for every member with anything to carry; pass it as carry to the next period; carry is the previous state; period_column selects the volume rows of the period (a text column: equal to period_label; date or timestamp: within the dates; timestamptz: cut at midnight in time_zone), without it every volume row is read';

CREATE FUNCTION @extschema@.payables(
    plan pg_catalog.jsonb, members pg_catalog.regclass, volumes pg_catalog.regclass,
    period_start pg_catalog.date, period_end pg_catalog.date, carry pg_catalog.regclass DEFAULT NULL,
    period_column pg_catalog.text DEFAULT NULL, period_label pg_catalog.text DEFAULT NULL,
    time_zone pg_catalog.text DEFAULT NULL)
    RETURNS TABLE(member_id pg_catalog.int8, balance_in pg_catalog.numeric, earned pg_catalog.numeric,
                  paid pg_catalog.numeric, balance_out pg_catalog.numeric)
    AS 'MODULE_PATHNAME', 'mlm_payables' LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.payables(pg_catalog.jsonb, pg_catalog.regclass, pg_catalog.regclass, pg_catalog.date, pg_catalog.date, pg_catalog.regclass, pg_catalog.text, pg_catalog.text, pg_catalog.text) IS
    'preview: the payables ledger (balance in from the previous state, earned after the cap, paid, balance out) of every member where one of them is not zero; without the plan key payout paid = earned; carry is the previous state; period_column selects the volume rows of the period (a text column: equal to period_label; date or timestamp: within the dates; timestamptz: cut at midnight in time_zone), without it every volume row is read';

CREATE FUNCTION @extschema@.totals(
    plan pg_catalog.jsonb, members pg_catalog.regclass, volumes pg_catalog.regclass,
    period_start pg_catalog.date, period_end pg_catalog.date, carry pg_catalog.regclass DEFAULT NULL,
    period_column pg_catalog.text DEFAULT NULL, period_label pg_catalog.text DEFAULT NULL,
    time_zone pg_catalog.text DEFAULT NULL)
    RETURNS TABLE(total_cv pg_catalog.numeric, total_before_cap pg_catalog.numeric, total_paid pg_catalog.numeric,
                  cap_limit pg_catalog.numeric, cap_factor pg_catalog.numeric,
                  member_rows pg_catalog.int8, volume_rows pg_catalog.int8, carry_rows pg_catalog.int8,
                  input_checksum pg_catalog.text, bonuses pg_catalog.jsonb, bonuses_before_cap pg_catalog.jsonb,
                  balance_in pg_catalog.numeric, paid_out pg_catalog.numeric, balance_out pg_catalog.numeric)
    LANGUAGE sql STABLE PARALLEL RESTRICTED
    AS $$
    WITH t AS (SELECT c.* FROM @extschema@._compute_source(plan, members, volumes, period_column, period_label,
                                                             period_start, period_end, time_zone, carry,
                                                             false, false, 'total') c)
    SELECT o.total_cv, o.base, o.amount, o.cap_limit, o.rate, o.member_rows, o.volume_rows, o.carry_rows,
           o.input_checksum,
           (SELECT pg_catalog.jsonb_object_agg(b.bonus, b.amount) FROM t b WHERE b.bonus IS NOT NULL),
           (SELECT pg_catalog.jsonb_object_agg(b.bonus, b.base) FROM t b WHERE b.bonus IS NOT NULL),
           o.balance_in, o.paid, o.balance_out
      FROM t o WHERE o.bonus IS NULL
$$;
COMMENT ON FUNCTION @extschema@.totals(pg_catalog.jsonb, pg_catalog.regclass, pg_catalog.regclass, pg_catalog.date, pg_catalog.date, pg_catalog.regclass, pg_catalog.text, pg_catalog.text, pg_catalog.text) IS
    'preview: one typed row of the period''s totals, with the names of the run header: total CV, total before and after the cap, cap limit and factor, input row counts and checksum, per-bonus totals, and the ledger''s sums (balances in, paid out, balances out); period_column selects the volume rows of the period (a text column: equal to period_label; date or timestamp: within the dates; timestamptz: cut at midnight in time_zone), without it every volume row is read';

CREATE FUNCTION @extschema@.compute_snapshot(
    plan pg_catalog.jsonb, network @extschema@.tree, volumes pg_catalog.regclass,
    period_start pg_catalog.date, period_end pg_catalog.date,
    carry pg_catalog.regclass DEFAULT NULL, with_lines pg_catalog.bool DEFAULT false,
    kinds pg_catalog.text DEFAULT NULL,
    period_column pg_catalog.text DEFAULT NULL, period_label pg_catalog.text DEFAULT NULL,
    time_zone pg_catalog.text DEFAULT NULL)
    RETURNS SETOF @extschema@.period_result
    AS 'MODULE_PATHNAME', 'mlm_compute_snapshot' LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.compute_snapshot(pg_catalog.jsonb, @extschema@.tree, pg_catalog.regclass, pg_catalog.date, pg_catalog.date, pg_catalog.regclass, pg_catalog.bool, pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.text) IS
    'mlm.compute with the members of an mlm.tree snapshot (all active_status true, no joined dates)';

CREATE OR REPLACE FUNCTION @extschema@._refuse_change() RETURNS trigger
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

CREATE OR REPLACE FUNCTION @extschema@._run_guard() RETURNS trigger
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

-- Result rows of a finalized run are frozen.  The checks are per statement
-- (transition tables), so a close of hundreds of thousands of members pays
-- one join, not one lookup per row; for the same reason the result tables
-- have no foreign key to mlm.run (row-by-row checks doubled the time of a
-- 300k-member close): the insert check below verifies that the run exists,
-- and mlm.run refuses to delete a run that still has rows.  Inserting into a finalized run is only
-- accepted up to the row count recorded in its header: that lets pg_dump's
-- restore reload the history, and nothing else add to it.
CREATE OR REPLACE FUNCTION @extschema@._run_rows_guard() RETURNS trigger
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

-- other writers of the result tables take the rows lock (see above)
DO $locks$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['run_payout', 'run_member', 'run_carry', 'run_bonus_total'] LOOP
        EXECUTE pg_catalog.format('CREATE TRIGGER %I BEFORE INSERT ON @extschema@.%I
                          FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._run_rows_lock()', t || '_lock', t);
    END LOOP;
END
$locks$;

-- the guards of every result table on the three new ones
DO $guards$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['run_line_pack', 'run_state', 'run_payable'] LOOP
        EXECUTE pg_catalog.format('CREATE TRIGGER %I AFTER INSERT ON @extschema@.%I
                          REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
                          EXECUTE FUNCTION @extschema@._run_rows_guard()', t || '_insert', t);
        EXECUTE pg_catalog.format('CREATE TRIGGER %I AFTER DELETE ON @extschema@.%I
                          REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
                          EXECUTE FUNCTION @extschema@._run_rows_guard()', t || '_delete', t);
        EXECUTE pg_catalog.format('CREATE TRIGGER %I BEFORE UPDATE ON @extschema@.%I
                          FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._refuse_change()', t || '_update', t);
        EXECUTE pg_catalog.format('CREATE TRIGGER %I BEFORE TRUNCATE ON @extschema@.%I
                          FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._refuse_change()', t || '_truncate', t);
        EXECUTE pg_catalog.format('CREATE TRIGGER %I BEFORE INSERT ON @extschema@.%I
                          FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._run_rows_lock()', t || '_lock', t);
    END LOOP;
END
$guards$;

CREATE OR REPLACE FUNCTION @extschema@._acquire(key bigint, nowait boolean, what text) RETURNS void
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
CREATE OR REPLACE FUNCTION @extschema@._check_relation(rel regclass, role text) RETURNS void
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

-- The plan version a close or preview uses.
CREATE OR REPLACE FUNCTION @extschema@._plan_version(p_name text, p_version integer) RETURNS @extschema@.plan_version
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

CREATE OR REPLACE FUNCTION @extschema@.add_plan_version(plan_name text, definition jsonb) RETURNS integer
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

CREATE OR REPLACE FUNCTION @extschema@.plan_versions(plan_name text)
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
CREATE OR REPLACE FUNCTION @extschema@._check_period(p_plan text, p_label text, p_start date, p_end date, p_source text)
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

COMMENT ON FUNCTION @extschema@._carry_source_run(text, date) IS
  'The latest finalized run of the plan ending before the given date: its state out is the state in.';

-- run_totals shows the payables ledger's sums (columns added at the end)
CREATE OR REPLACE VIEW @extschema@.run_totals AS
SELECT r.run_id, r.plan_name, r.plan_version, r.period_label, r.period_start, r.period_end,
       r.status, r.total_cv, r.total_before_cap, r.cap_factor, r.total_paid,
       COALESCE(a.adjustments, 0) AS adjustments,
       r.total_paid + COALESCE(a.adjustments, 0) AS total,
       COALESCE(a.adjustment_count, 0) AS adjustment_count,
       r.balance_in, r.paid_out, r.balance_out
  FROM @extschema@.run r
  LEFT JOIN (SELECT ad.run_id, pg_catalog.sum(ad.amount) AS adjustments,
                    pg_catalog.count(*) AS adjustment_count
               FROM @extschema@.adjustment ad
              GROUP BY ad.run_id) a ON a.run_id = r.run_id;
COMMENT ON VIEW @extschema@.run_totals IS
  'Totals per run: paid by the run plus the adjustments posted to it; the payables ledger''s sums (balances brought in, paid out, balances owed forward; NULL for runs made before 0.2).';

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

CREATE OR REPLACE FUNCTION @extschema@.preview(
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

CREATE OR REPLACE FUNCTION @extschema@.close(
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

CREATE OR REPLACE FUNCTION @extschema@.discard_draft(run_id bigint) RETURNS void
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

CREATE OR REPLACE FUNCTION @extschema@.adjust(run_id bigint, member_id bigint, amount numeric, reason text)
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

CREATE OR REPLACE FUNCTION @extschema@.run_downline(run_id bigint, member bigint, max_depth integer DEFAULT NULL)
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

-- The downline of a member in a run's snapshot, to a depth, with the run's
-- results of each member: the rows behind the DOT and JSON exports.  The
-- sponsor tree comes from mlm.downline; the placement tree (binary and
-- matrix plans) from the snapshot's placement, level by level.  Refused
-- (54000) beyond max_nodes members, so a picture is never a 100 MB string.
CREATE FUNCTION @extschema@.run_genealogy(
    run_id bigint, member bigint, max_depth integer DEFAULT 3, tree text DEFAULT 'sponsor',
    max_nodes integer DEFAULT 2000)
RETURNS TABLE (member_id bigint, parent_id bigint, level integer, "position" integer,
               rank text, pv numeric, gv numeric, amount numeric)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    t     @extschema@.tree;
    n     bigint;
BEGIN
    PERFORM @extschema@._not_null($1, 'run_id');
    PERFORM @extschema@._not_null($2, 'member');
    PERFORM @extschema@._not_null($3, 'max_depth');
    PERFORM @extschema@._not_null($4, 'tree');
    PERFORM @extschema@._not_null($5, 'max_nodes');
    IF $3 < 0 OR $3 > 100 OR $5 < 1 THEN
        RAISE EXCEPTION 'max_depth must be between 0 and 100 and max_nodes at least 1'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF $4 NOT IN ('sponsor', 'placement') THEN
        RAISE EXCEPTION 'unknown tree "%"', $4
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Use sponsor or placement.';
    END IF;
    SELECT r.snapshot INTO t FROM @extschema@.run r WHERE r.run_id = $1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'run % does not exist', $1 USING ERRCODE = 'undefined_object';
    END IF;
    IF t IS NULL OR NOT @extschema@.contains(t, $2) THEN
        RAISE EXCEPTION 'member % is not in the snapshot of run %', $2, $1
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF $4 = 'sponsor' THEN
        n := 1 + (SELECT pg_catalog.count(*) FROM @extschema@.downline(t, $2, $3));
    ELSE
        WITH RECURSIVE pm AS MATERIALIZED (
            SELECT m.member_id, m.placement_id FROM @extschema@.members(t) m WHERE m.placement_id IS NOT NULL
        ), d(member_id, level) AS (
            SELECT $2, 0
            UNION ALL
            SELECT pm.member_id, d.level + 1 FROM d JOIN pm ON pm.placement_id = d.member_id WHERE d.level < $3
        )
        SELECT pg_catalog.count(*) INTO n FROM d;
    END IF;
    IF n > $5 THEN
        RAISE EXCEPTION 'the % downline of member % in run % to depth % has % members, more than %',
                        $4, $2, $1, $3, n, $5
            USING ERRCODE = 'program_limit_exceeded',
                  HINT = 'Ask for fewer levels, a member further down, or a larger max_nodes.';
    END IF;
    -- rows in preorder (parents first, siblings by slot), as pictures need them
    IF $4 = 'sponsor' THEN
        RETURN QUERY
        SELECT g.member_id, g.parent_id, g.level, NULL::integer, rm.rank, rm.pv, rm.gv, rm.amount
          FROM (SELECT $2 AS member_id, NULL::bigint AS parent_id, 0 AS level, 0::bigint AS ord
                UNION ALL
                SELECT d.member_id, @extschema@.parent(t, d.member_id), d.level, pg_catalog.row_number() OVER ()
                  FROM @extschema@.downline(t, $2, $3) d) g
          LEFT JOIN @extschema@.run_member rm ON rm.run_id = $1 AND rm.member_id = g.member_id
         ORDER BY g.ord;
    ELSE
        RETURN QUERY
        WITH RECURSIVE pm AS MATERIALIZED (
            SELECT m.member_id, m.placement_id, m."position" FROM @extschema@.members(t) m
             WHERE m.placement_id IS NOT NULL
        ), d(member_id, parent_id, level, "position", path) AS (
            SELECT $2, NULL::bigint, 0, NULL::integer, ARRAY[]::integer[]
            UNION ALL
            SELECT pm.member_id, pm.placement_id, d.level + 1, pm."position", d.path || pm."position"
              FROM d JOIN pm ON pm.placement_id = d.member_id WHERE d.level < $3
        )
        SELECT d.member_id, d.parent_id, d.level, d."position", rm.rank, rm.pv, rm.gv, rm.amount
          FROM d LEFT JOIN @extschema@.run_member rm ON rm.run_id = $1 AND rm.member_id = d.member_id
         ORDER BY d.path;
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.run_genealogy(bigint, bigint, integer, text, integer) IS
  'A member''s downline to max_depth levels (at most 100) in the snapshot of a run (tree sponsor or placement), in preorder, with each member''s rank, PV, GV and amount paid in that run; refused (54000) beyond max_nodes members.';

-- The same downline as nested JSON, the shape web front-ends draw:
-- {"id", "rank", "pv", "gv", "paid", "side" (placement: left, right or the
-- slot number), "children": [...]}.  Written in one pass over the rows in
-- preorder, opening and closing children lists by level: no recursion.
CREATE FUNCTION @extschema@.run_genealogy_json(
    run_id bigint, member bigint, max_depth integer DEFAULT 3, tree text DEFAULT 'sponsor',
    max_nodes integer DEFAULT 2000)
RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    g     record;
    buf   text := '';
    open  integer := -1;        -- level of the innermost node left open
    node  text;
BEGIN
    FOR g IN SELECT * FROM @extschema@.run_genealogy($1, $2, $3, $4, $5) LOOP
        -- close the nodes at this level or deeper
        IF open >= g.level THEN
            buf := buf || pg_catalog.repeat(']}', open - g.level + 1) || ', ';
        END IF;
        node := pg_catalog.jsonb_build_object(
                    'id', g.member_id, 'rank', g.rank, 'pv', g.pv, 'gv', g.gv, 'paid', g.amount,
                    'side', CASE WHEN $4 <> 'placement' OR g.level = 0 THEN NULL
                                 WHEN g."position" = 0 THEN 'left'
                                 WHEN g."position" = 1 THEN 'right'
                                 ELSE g."position"::text END)::text;
        buf := buf || pg_catalog.left(node, -1) || ', "children": [';
        open := g.level;
    END LOOP;
    IF open < 0 THEN
        RETURN NULL;
    END IF;
    RETURN (buf || pg_catalog.repeat(']}', open + 1))::jsonb;
END
$$;
COMMENT ON FUNCTION @extschema@.run_genealogy_json(bigint, bigint, integer, text, integer) IS
  'mlm.run_genealogy as nested JSON ({id, rank, pv, gv, paid, side, children}), the shape web front-ends draw.';

-- The same downline as a Graphviz DOT digraph: one node per member (id,
-- rank, PV, GV, paid), top-down; in the placement tree the children of a
-- node are drawn in slot order, an empty binary slot as an invisible node so
-- that left stays left and right stays right.
CREATE FUNCTION @extschema@.run_genealogy_dot(
    run_id bigint, member bigint, max_depth integer DEFAULT 3, tree text DEFAULT 'sponsor',
    max_nodes integer DEFAULT 2000)
RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    WITH g AS (SELECT * FROM @extschema@.run_genealogy(run_id, member, max_depth, tree, max_nodes)),
    nodes AS (
        SELECT pg_catalog.format('  m%s [label="%s\n%s\nPV %s  GV %s\npaid %s"];',
                                 g.member_id, g.member_id, COALESCE(g.rank, '-'),
                                 COALESCE(g.pv::text, '-'), COALESCE(g.gv::text, '-'),
                                 COALESCE(g.amount::text, '-')) AS line,
               0 AS part, g.level, g.parent_id, g."position", g.member_id
          FROM g
    ),
    edges AS (
        SELECT pg_catalog.format('  m%s -> m%s%s;', g.parent_id, g.member_id,
                                 CASE WHEN tree = 'placement' AND g."position" = 0 THEN ' [label="L"]'
                                      WHEN tree = 'placement' AND g."position" = 1 THEN ' [label="R"]'
                                      ELSE '' END) AS line,
               1 AS part, g.level, g.parent_id, g."position", g.member_id
          FROM g WHERE g.parent_id IS NOT NULL
    ),
    holes AS (
        -- a binary node with one child: an invisible twin holds the other slot
        SELECT pg_catalog.format('  e%s_%s [style=invis, label=""]; m%s -> e%s_%s [style=invis];',
                                 g.parent_id, 1 - g."position", g.parent_id, g.parent_id, 1 - g."position") AS line,
               1 AS part, g.level, g.parent_id, 1 - g."position" AS "position", NULL::bigint AS member_id
          FROM g
         WHERE tree = 'placement' AND g."position" IN (0, 1)
           AND NOT EXISTS (SELECT 1 FROM g s WHERE s.parent_id = g.parent_id AND s."position" = 1 - g."position")
    )
    SELECT 'digraph downline {' || E'\n'
           || '  node [shape=box, fontname="Helvetica"];' || E'\n'
           || COALESCE(pg_catalog.string_agg(x.line, E'\n' ORDER BY x.part, x.level, x.parent_id, x."position", x.member_id), '')
           || E'\n}' || E'\n'
      FROM (SELECT * FROM nodes UNION ALL SELECT * FROM edges UNION ALL SELECT * FROM holes) x;
END;
COMMENT ON FUNCTION @extschema@.run_genealogy_dot(bigint, bigint, integer, text, integer) IS
  'mlm.run_genealogy as a Graphviz DOT digraph (dot -Tsvg renders it); binary legs drawn left and right in the placement tree.';

------------------------------------------------------------------------------
-- Functions whose arguments changed: the new ones exist now; the grants
-- given on the old ones (roles of the recipe, PUBLIC revoked) carry over,
-- then the old ones go.
------------------------------------------------------------------------------

DO $do$
DECLARE
    pair text[];
    g record;
BEGIN
    FOREACH pair SLICE 1 IN ARRAY ARRAY[
        ['@extschema@.register_source(text, regclass, regclass, text, regclass, boolean)',
         '@extschema@.register_source(text, regclass, regclass, text, regclass, boolean, text)'],
        ['@extschema@.finalize(bigint)', '@extschema@.finalize(bigint, boolean)'],
        ['@extschema@.finalize(text, text)', '@extschema@.finalize(text, text, boolean)'],
        ['@extschema@.compute(jsonb, regclass, regclass, date, date, regclass, boolean, text)',
         '@extschema@.compute(jsonb, regclass, regclass, date, date, regclass, boolean, text, text, text, text)'],
        ['@extschema@.compute_snapshot(jsonb, @extschema@.tree, regclass, date, date, regclass, boolean, text)',
         '@extschema@.compute_snapshot(jsonb, @extschema@.tree, regclass, date, date, regclass, boolean, text, text, text, text)'],
        ['@extschema@.payouts(jsonb, regclass, regclass, date, date, regclass)',
         '@extschema@.payouts(jsonb, regclass, regclass, date, date, regclass, text, text, text)'],
        ['@extschema@.member_results(jsonb, regclass, regclass, date, date, regclass)',
         '@extschema@.member_results(jsonb, regclass, regclass, date, date, regclass, text, text, text)'],
        ['@extschema@.lines(jsonb, regclass, regclass, date, date, regclass)',
         '@extschema@.lines(jsonb, regclass, regclass, date, date, regclass, text, text, text)'],
        ['@extschema@.carry_out(jsonb, regclass, regclass, date, date, regclass)',
         '@extschema@.carry_out(jsonb, regclass, regclass, date, date, regclass, text, text, text)'],
        ['@extschema@.totals(jsonb, regclass, regclass, date, date, regclass)',
         '@extschema@.totals(jsonb, regclass, regclass, date, date, regclass, text, text, text)']]
    LOOP
        -- a function whose ACL was set (PUBLIC revoked, roles granted) keeps it
        IF (SELECT p.proacl IS NOT NULL FROM pg_catalog.pg_proc p
             WHERE p.oid = pair[1]::pg_catalog.regprocedure) THEN
            EXECUTE pg_catalog.format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', pair[2]);
        END IF;
        FOR g IN
            SELECT a.grantee, a.is_grantable
              FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a
             WHERE p.oid = pair[1]::pg_catalog.regprocedure AND a.privilege_type = 'EXECUTE'
               AND a.grantee <> p.proowner
        LOOP
            EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %s%s', pair[2],
                                      CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE g.grantee::regrole::text END,
                                      CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
        END LOOP;
    END LOOP;
END
$do$;
DROP FUNCTION @extschema@.register_source(text, regclass, regclass, text, regclass, boolean);
DROP FUNCTION @extschema@.finalize(text, text);
DROP FUNCTION @extschema@.finalize(bigint);
DROP FUNCTION @extschema@.compute(jsonb, regclass, regclass, date, date, regclass, boolean, text);
DROP FUNCTION @extschema@.compute_snapshot(jsonb, @extschema@.tree, regclass, date, date, regclass, boolean, text);
DROP FUNCTION @extschema@.payouts(jsonb, regclass, regclass, date, date, regclass);
DROP FUNCTION @extschema@.member_results(jsonb, regclass, regclass, date, date, regclass);
DROP FUNCTION @extschema@.lines(jsonb, regclass, regclass, date, date, regclass);
DROP FUNCTION @extschema@.carry_out(jsonb, regclass, regclass, date, date, regclass);
DROP FUNCTION @extschema@.totals(jsonb, regclass, regclass, date, date, regclass);

-- The column checks of 0.1's SQL are now those of the engine (_check_inputs).
DROP FUNCTION @extschema@._check_column(regclass, text, text, text, boolean);
DROP FUNCTION @extschema@._base_type(oid);

------------------------------------------------------------------------------
-- Reports new in 0.2 (src/sql/75_reports.sql, verbatim): income disclosure,
-- customer-volume test, commission statements, rank progress.
------------------------------------------------------------------------------
-- Shared pieces
------------------------------------------------------------------------------

-- The finalized runs of a plan whose period lies within [date_from,
-- date_to], in period order.  Drafts never count.
CREATE FUNCTION @extschema@._report_runs(plan_name text, date_from date, date_to date)
RETURNS bigint[]
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    runs   bigint[];
    drafts text;
BEGIN
    PERFORM @extschema@._not_null($1, 'plan_name');
    PERFORM @extschema@._not_null($2, 'date_from');
    PERFORM @extschema@._not_null($3, 'date_to');
    IF NOT EXISTS (SELECT 1 FROM @extschema@.plan_version p WHERE p.plan_name = $1) THEN
        RAISE EXCEPTION 'unknown plan "%"', $1
            USING ERRCODE = 'undefined_object', HINT = 'List the plans with SELECT DISTINCT plan_name FROM mlm.plan_version.';
    END IF;
    IF $2 > $3 THEN
        RAISE EXCEPTION 'date_from % is after date_to %', $2, $3
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT pg_catalog.array_agg(r.run_id ORDER BY r.period_start, r.run_id) INTO runs
      FROM @extschema@.run r
     WHERE r.plan_name = $1 AND r.status = 'final'
       AND r.period_start >= $2 AND r.period_end <= $3;
    IF runs IS NULL THEN
        SELECT pg_catalog.string_agg(pg_catalog.format('%s (run %s)', r.period_label, r.run_id), ', '
                                     ORDER BY r.period_start)
          INTO drafts
          FROM @extschema@.run r
         WHERE r.plan_name = $1 AND r.status = 'draft'
           AND r.period_start >= $2 AND r.period_end <= $3;
        RAISE EXCEPTION 'plan "%" has no finalized run within % .. %', $1, $2, $3
            USING ERRCODE = 'no_data_found',
                  DETAIL = CASE WHEN drafts IS NULL THEN 'No run of the plan has its period inside the range.'
                                ELSE 'Periods inside the range that are still drafts: ' || drafts || '.' END,
                  HINT = 'Reports count finalized runs only (mlm.finalize); a run counts when its whole period lies inside the range.';
    END IF;
    RETURN runs;
END
$$;
COMMENT ON FUNCTION @extschema@._report_runs(text, date, date) IS
  'The finalized runs of a plan whose period lies within [date_from, date_to], in period order; errors for an unknown plan (42704), date_from > date_to (22023) and no such run (P0002, naming the drafts of the range).';

-- The run a statement or a rank report reads.
CREATE FUNCTION @extschema@._report_run(run_id bigint)
RETURNS @extschema@.run
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r @extschema@.run;
BEGIN
    PERFORM @extschema@._not_null($1, 'run_id');
    SELECT x.* INTO r FROM @extschema@.run x WHERE x.run_id = $1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'run % does not exist', $1 USING ERRCODE = 'undefined_object';
    END IF;
    RETURN r;
END
$$;
COMMENT ON FUNCTION @extschema@._report_run(bigint) IS
  'The row of a run; 42704 when it does not exist.';

------------------------------------------------------------------------------
-- Income disclosure (spec 14.1)
------------------------------------------------------------------------------

-- One row per title rank of the plan version of the last run (rank order,
-- rank 0 by its name), then any other title a participant holds (a rank that
-- a later plan version renamed or removed), then 'all participants'.
-- Income per participant = its payouts (after the cap) in the runs plus the
-- adjustments posted to them (read as run_member.amount, each member's
-- payouts after the cap, which saves a pass over run_payout; the tests
-- check the result against mlm.payout_totals).  Participants: members that are distributors
-- (member_type not 'customer') in at least one run; grouped by their title
-- in the last run in which they are distributors.
CREATE FUNCTION @extschema@.income_disclosure(plan_name text, date_from date, date_to date)
RETURNS TABLE (rank_no integer, title text, participants bigint, share numeric,
               zero_earners bigint, zero_share numeric, mean numeric,
               p10 numeric, p25 numeric, median numeric, p75 numeric, p90 numeric,
               min numeric, max numeric, total numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    runs   bigint[] := @extschema@._report_runs($1, $2, $3);
    def    jsonb;
    scale  integer;
    zero_amount numeric;    -- 0 at the currency scale: the income of a member paid nothing
    names  text[];     -- every rank name of the runs' plan versions, last version's first
BEGIN
    SELECT p.definition INTO def
      FROM @extschema@.run r JOIN @extschema@.plan_version p
           ON p.plan_name = r.plan_name AND p.version = r.plan_version
     WHERE r.run_id = runs[pg_catalog.array_length(runs, 1)];
    scale := COALESCE((def #>> '{currency,scale}')::integer, 2);
    zero_amount := pg_catalog.round(0::numeric, scale);
    -- title names get numbers: the ranks of the last version in their order,
    -- then names only earlier versions had (so a title is a small integer
    -- in the aggregation below)
    SELECT pg_catalog.array_agg(x.e ->> 'name' ORDER BY x.o) INTO names
      FROM pg_catalog.jsonb_array_elements(def -> 'ranks') WITH ORDINALITY x(e, o);
    names := names || ARRAY(
        SELECT DISTINCT x.e ->> 'name'
          FROM @extschema@.run r
          JOIN @extschema@.plan_version p ON p.plan_name = r.plan_name AND p.version = r.plan_version
          CROSS JOIN LATERAL pg_catalog.jsonb_array_elements(p.definition -> 'ranks') x(e)
         WHERE r.run_id = ANY (runs) AND NOT (x.e ->> 'name') = ANY (names)
         ORDER BY 1);

    RETURN QUERY
    WITH ro AS (
        SELECT x.run_id, x.ord FROM pg_catalog.unnest(runs) WITH ORDINALITY x(run_id, ord)
    ),
    -- One pass over the runs' member rows: participants (a distributor in
    -- at least one run), their title (in the last run that has them as a
    -- distributor: the maximum of run order and title number) and what the
    -- runs paid them (run_member.amount: the sum of the member's payouts
    -- after the cap, in every run, also one where it was a customer).
    part AS (
        SELECT m.member_id,
               pg_catalog.max(ro.ord * 1000000
                              + COALESCE(pg_catalog.array_position(names, COALESCE(m.title_rank, m.rank)), 1))
                   FILTER (WHERE m.member_type IS DISTINCT FROM 'customer') % 1000000 AS tno,
               COALESCE(pg_catalog.sum(m.amount), 0) AS paid
          FROM @extschema@.run_member m
          JOIN ro ON ro.run_id = m.run_id
         GROUP BY m.member_id
    ),
    adj AS (
        SELECT a.member_id, pg_catalog.sum(a.amount) AS amount
          FROM @extschema@.adjustment a WHERE a.run_id = ANY (runs)
         GROUP BY a.member_id
    ),
    income AS (
        SELECT part.tno, part.paid + COALESCE(adj.amount, 0) + zero_amount AS amount
          FROM part LEFT JOIN adj ON adj.member_id = part.member_id
         WHERE part.tno IS NOT NULL
    ),
    -- each group's incomes sorted into an array (and all of them): the
    -- nearest-rank percentile P of N is the element at ceil(P * N / 100),
    -- computed on integers as (P * N + 99) / 100
    agg AS (
        SELECT x.tno, x.is_all, x.n, x.nz, x.total,
               x.a[1] AS lo, x.a[x.n::integer] AS hi,
               x.a[((10 * x.n + 99) / 100)::integer] AS p10, x.a[((25 * x.n + 99) / 100)::integer] AS p25,
               x.a[((50 * x.n + 99) / 100)::integer] AS p50, x.a[((75 * x.n + 99) / 100)::integer] AS p75,
               x.a[((90 * x.n + 99) / 100)::integer] AS p90
          FROM (SELECT income.tno, GROUPING(income.tno) AS is_all,
                       pg_catalog.count(*) AS n,
                       pg_catalog.count(*) FILTER (WHERE income.amount <= 0) AS nz,
                       pg_catalog.sum(income.amount) AS total,
                       pg_catalog.array_agg(income.amount ORDER BY income.amount) AS a
                  FROM income
                 GROUP BY GROUPING SETS ((income.tno), ())) x
    ),
    alln AS (SELECT agg.n FROM agg WHERE agg.is_all = 1),
    grp AS (
        -- every rank of the last version, and any other title held
        SELECT x.tno::integer AS tno, names[x.tno] AS name
          FROM pg_catalog.generate_series(1, pg_catalog.jsonb_array_length(def -> 'ranks')) x(tno)
        UNION
        SELECT agg.tno::integer, names[agg.tno] FROM agg WHERE agg.is_all = 0
    )
    SELECT o.rank_no, o.title, o.participants, o.share, o.zero_earners, o.zero_share, o.mean,
           o.p10, o.p25, o.median, o.p75, o.p90, o.min, o.max, o.total
      FROM (SELECT g.tno AS ord,
                   CASE WHEN g.tno <= pg_catalog.jsonb_array_length(def -> 'ranks') THEN g.tno - 1 END AS rank_no,
                   g.name AS title,
                   COALESCE(a.n, 0) AS participants,
                   CASE WHEN alln.n > 0 THEN pg_catalog.round(COALESCE(a.n, 0)::numeric / alln.n, 4) END AS share,
                   COALESCE(a.nz, 0) AS zero_earners,
                   CASE WHEN a.n > 0 THEN pg_catalog.round(a.nz::numeric / a.n, 4) END AS zero_share,
                   CASE WHEN a.n > 0 THEN pg_catalog.round(a.total / a.n, scale) END AS mean,
                   a.p10, a.p25, a.p50 AS median, a.p75, a.p90,
                   a.lo AS min, a.hi AS max, COALESCE(a.total, zero_amount) AS total
              FROM grp g
              LEFT JOIN agg a ON a.is_all = 0 AND a.tno = g.tno
              CROSS JOIN alln
            UNION ALL
            SELECT pg_catalog.cardinality(names) + 1, NULL::integer, 'all participants', a.n,
                   CASE WHEN a.n > 0 THEN 1.0000 END,
                   a.nz,
                   CASE WHEN a.n > 0 THEN pg_catalog.round(a.nz::numeric / a.n, 4) END,
                   CASE WHEN a.n > 0 THEN pg_catalog.round(a.total / a.n, scale) END,
                   a.p10, a.p25, a.p50, a.p75, a.p90, a.lo, a.hi,
                   COALESCE(a.total, zero_amount)
              FROM agg a WHERE a.is_all = 1) o
     ORDER BY o.ord;
END
$$;
COMMENT ON FUNCTION @extschema@.income_disclosure(text, date, date) IS
  'Income disclosure (spec 14.1) over the finalized runs of a plan whose period lies within [date_from, date_to]: per title rank of the last run''s plan version (rank order) and for all participants: participants, share, zero earners (income <= 0) and their share, mean (currency scale, half up), nearest-rank percentiles 10/25/50/75/90, min, max, total. Income = payouts after the cap + adjustments of those runs.';

------------------------------------------------------------------------------
-- Readable forms
------------------------------------------------------------------------------

-- A table as psql prints it (aligned, header centred, '|' between columns):
-- headers, per column 'l' or 'r' alignment, and the cells row by row (NULL
-- prints as nothing).  Ends with a newline.
CREATE FUNCTION @extschema@._text_table(headers text[], align text, cells text[])
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ncol  integer := pg_catalog.cardinality(headers);
    nrow  integer := COALESCE(pg_catalog.cardinality(cells), 0) / GREATEST(pg_catalog.cardinality(headers), 1);
    w     integer[];
    buf   text[] := ARRAY[]::text[];
    line  text;
    cell  text;
    c     integer;
    r     integer;
    pad   integer;
BEGIN
    FOR c IN 1 .. ncol LOOP
        w[c] := pg_catalog.length(headers[c]);
        FOR r IN 0 .. nrow - 1 LOOP
            w[c] := GREATEST(w[c], COALESCE(pg_catalog.length(cells[r * ncol + c]), 0));
        END LOOP;
    END LOOP;
    line := '';
    FOR c IN 1 .. ncol LOOP
        pad := w[c] - pg_catalog.length(headers[c]);
        line := line || CASE WHEN c > 1 THEN '|' ELSE '' END || ' '
                || pg_catalog.repeat(' ', pad / 2) || headers[c] || pg_catalog.repeat(' ', pad - pad / 2) || ' ';
    END LOOP;
    buf := buf || pg_catalog.rtrim(line);
    line := '';
    FOR c IN 1 .. ncol LOOP
        line := line || CASE WHEN c > 1 THEN '+' ELSE '' END || pg_catalog.repeat('-', w[c] + 2);
    END LOOP;
    buf := buf || line;
    FOR r IN 0 .. nrow - 1 LOOP
        line := '';
        FOR c IN 1 .. ncol LOOP
            cell := COALESCE(cells[r * ncol + c], '');
            line := line || CASE WHEN c > 1 THEN '|' ELSE '' END || ' '
                    || CASE WHEN pg_catalog.substr(align, c, 1) = 'r' THEN pg_catalog.lpad(cell, w[c])
                            ELSE pg_catalog.rpad(cell, w[c]) END || ' ';
        END LOOP;
        buf := buf || pg_catalog.rtrim(line);
    END LOOP;
    RETURN pg_catalog.array_to_string(buf, E'\n') || E'\n';
END
$$;
COMMENT ON FUNCTION @extschema@._text_table(text[], text, text[]) IS
  'Formats cells (row by row) under headers as an aligned text table, psql style; align has one l or r per column.';

-- One CSV field (RFC 4180): quoted when it holds a comma, a quote or a line
-- break; NULL is the empty field.
CREATE FUNCTION @extschema@._csv_field(v text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
RETURN CASE WHEN v IS NULL THEN ''
            WHEN v ~ '[",\r\n]' OR v <> pg_catalog.btrim(v) THEN '"' || pg_catalog.replace(v, '"', '""') || '"'
            ELSE v END;
COMMENT ON FUNCTION @extschema@._csv_field(text) IS
  'A value as one CSV field (RFC 4180 quoting; NULL is empty).';

-- The heading of the disclosure: which runs, which plan version.
CREATE FUNCTION @extschema@._disclosure_runs(plan_name text, date_from date, date_to date)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT pg_catalog.jsonb_build_object(
               'plan_name', _disclosure_runs.plan_name, 'date_from', _disclosure_runs.date_from,
               'date_to', _disclosure_runs.date_to,
               'plan_version', (pg_catalog.array_agg(r.plan_version ORDER BY r.period_start DESC))[1],
               'currency_scale', (pg_catalog.array_agg(COALESCE((p.definition #>> '{currency,scale}')::integer, 2)
                                                       ORDER BY r.period_start DESC))[1],
               'runs', pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                           'run_id', r.run_id, 'period_label', r.period_label,
                           'period_start', r.period_start, 'period_end', r.period_end,
                           'plan_version', r.plan_version) ORDER BY r.period_start))
      FROM pg_catalog.unnest(@extschema@._report_runs(_disclosure_runs.plan_name, _disclosure_runs.date_from,
                                                      _disclosure_runs.date_to)) x(run_id)
      JOIN @extschema@.run r ON r.run_id = x.run_id
      JOIN @extschema@.plan_version p ON p.plan_name = r.plan_name AND p.version = r.plan_version;
END;
COMMENT ON FUNCTION @extschema@._disclosure_runs(text, date, date) IS
  'The runs an income disclosure covers, as jsonb: plan, range, plan version and currency scale of the last run, and each run (id, label, dates, version).';

CREATE FUNCTION @extschema@.income_disclosure_text(plan_name text, date_from date, date_to date)
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    head  jsonb := @extschema@._disclosure_runs($1, $2, $3);
    cells text[];
BEGIN
    SELECT pg_catalog.array_agg(v ORDER BY o, k) INTO cells
      FROM (SELECT d.o, k.k, k.v
              FROM (SELECT x.*, pg_catalog.row_number() OVER () AS o
                      FROM @extschema@.income_disclosure($1, $2, $3) x) d
              CROSS JOIN LATERAL (VALUES
                  (1, d.title), (2, d.participants::text),
                  (3, (pg_catalog.round(d.share * 100, 2))::text),
                  (4, d.zero_earners::text),
                  (5, (pg_catalog.round(d.zero_share * 100, 2))::text),
                  (6, d.mean::text), (7, d.p10::text), (8, d.p25::text), (9, d.median::text),
                  (10, d.p75::text), (11, d.p90::text), (12, d.min::text), (13, d.max::text),
                  (14, d.total::text)) k(k, v)) c;
    RETURN pg_catalog.format(E'Income disclosure: plan "%s", %s to %s\n', $1, $2, $3)
        || pg_catalog.format(E'%s finalized run%s: %s\n',
                             pg_catalog.jsonb_array_length(head -> 'runs'),
                             CASE WHEN pg_catalog.jsonb_array_length(head -> 'runs') = 1 THEN '' ELSE 's' END,
                             (SELECT pg_catalog.string_agg(e.e ->> 'period_label', ', ' ORDER BY e.o)
                                FROM pg_catalog.jsonb_array_elements(head -> 'runs') WITH ORDINALITY e(e, o)))
        || pg_catalog.format(E'Titles as of plan version %s. Income per participant: payouts after the cap plus adjustments, summed over the runs (%s decimals). Shares in per cent; percentiles by nearest rank; zero earners: income <= 0.\n\n',
                             head ->> 'plan_version', head ->> 'currency_scale')
        || @extschema@._text_table(
               ARRAY['title', 'participants', 'share %', 'zero earners', 'zero %', 'mean', 'p10', 'p25',
                     'median', 'p75', 'p90', 'min', 'max', 'total'],
               'lrrrrrrrrrrrrr', cells);
END
$$;
COMMENT ON FUNCTION @extschema@.income_disclosure_text(text, date, date) IS
  'mlm.income_disclosure as a readable text table with a heading (plan, range, runs, plan version), shares in per cent: for psql (\pset format unaligned, \t on) or an e-mail.';

CREATE FUNCTION @extschema@.income_disclosure_csv(plan_name text, date_from date, date_to date)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT 'rank_no,title,participants,share,zero_earners,zero_share,mean,p10,p25,median,p75,p90,min,max,total' || E'\n'
           || pg_catalog.string_agg(pg_catalog.concat_ws(',',
                  @extschema@._csv_field(d.rank_no::text), @extschema@._csv_field(d.title),
                  @extschema@._csv_field(d.participants::text), @extschema@._csv_field(d.share::text),
                  @extschema@._csv_field(d.zero_earners::text), @extschema@._csv_field(d.zero_share::text),
                  @extschema@._csv_field(d.mean::text), @extschema@._csv_field(d.p10::text),
                  @extschema@._csv_field(d.p25::text), @extschema@._csv_field(d.median::text),
                  @extschema@._csv_field(d.p75::text), @extschema@._csv_field(d.p90::text),
                  @extschema@._csv_field(d.min::text), @extschema@._csv_field(d.max::text),
                  @extschema@._csv_field(d.total::text)) || E'\n', '' ORDER BY d.o)
      FROM (SELECT x.*, pg_catalog.row_number() OVER () AS o
              FROM @extschema@.income_disclosure(plan_name, date_from, date_to) x) d;
END;
COMMENT ON FUNCTION @extschema@.income_disclosure_csv(text, date, date) IS
  'mlm.income_disclosure as CSV (RFC 4180 quoting, LF line ends, a header line, shares as fractions, empty fields for NULL), for spreadsheets: psql -Atc "SELECT mlm.income_disclosure_csv(...)" > file.csv.';

CREATE FUNCTION @extschema@.income_disclosure_json(plan_name text, date_from date, date_to date)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT @extschema@._disclosure_runs(plan_name, date_from, date_to)
           || pg_catalog.jsonb_build_object(
                  'groups', pg_catalog.jsonb_agg(pg_catalog.to_jsonb(d) - 'o' - 'n' ORDER BY d.o) FILTER (WHERE d.o < d.n),
                  'all', (pg_catalog.jsonb_agg(pg_catalog.to_jsonb(d) - 'o' - 'n' - 'rank_no' - 'title')
                              FILTER (WHERE d.o = d.n)) -> 0)
      FROM (SELECT x.*, pg_catalog.row_number() OVER () AS o, pg_catalog.count(*) OVER () AS n
              FROM @extschema@.income_disclosure(plan_name, date_from, date_to) x) d;
END;
COMMENT ON FUNCTION @extschema@.income_disclosure_json(text, date, date) IS
  'mlm.income_disclosure as one jsonb document: plan_name, date_from, date_to, plan_version, currency_scale, runs [{run_id, period_label, period_start, period_end, plan_version}], groups [one object per title], all {the row of all participants}; numbers are exact JSON numbers, shares fractions.';

------------------------------------------------------------------------------
-- Customer-volume test (spec 14.2)
------------------------------------------------------------------------------

-- Company totals of runs: total PV of all members (customers included),
-- customer PV = PV of the customers + RV of the distributors, their ratio
-- (4 decimals, half up; NULL when the total PV <= 0) and whether the exact
-- ratio is > 0.5 (false when the total PV <= 0: no majority is shown).
-- Runs made before 0.2 kept neither customers nor RV: their customer PV,
-- ratio and passes are NULL.
CREATE FUNCTION @extschema@._customer_volume(runs bigint[])
RETURNS TABLE (run_id bigint, plan_name text, period_label text, period_start date, period_end date,
               status text, total_pv numeric, customer_pv numeric, ratio numeric, passes boolean)
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT r.run_id, r.plan_name, r.period_label, r.period_start, r.period_end, r.status,
           COALESCE(t.total_pv, 0),
           t.customer_pv,
           CASE WHEN t.total_pv > 0 THEN pg_catalog.round(t.customer_pv / t.total_pv, 4) END,
           CASE WHEN t.customer_pv IS NULL THEN NULL
                ELSE COALESCE(t.total_pv, 0) > 0 AND 2 * t.customer_pv > t.total_pv END
      FROM pg_catalog.unnest(runs) WITH ORDINALITY x(run_id, o)
      JOIN @extschema@.run r ON r.run_id = x.run_id
      LEFT JOIN LATERAL (
            SELECT pg_catalog.sum(m.pv) AS total_pv,
                   CASE WHEN pg_catalog.count(m.member_type) = 0 AND pg_catalog.count(*) > 0 THEN NULL
                        ELSE COALESCE(pg_catalog.sum(m.pv) FILTER (WHERE m.member_type = 'customer'), 0)
                             + COALESCE(pg_catalog.sum(m.rv) FILTER (WHERE m.member_type IS DISTINCT FROM 'customer'), 0)
                   END AS customer_pv
              FROM @extschema@.run_member m
             WHERE m.run_id = r.run_id) t ON true
     ORDER BY x.o;
END;
COMMENT ON FUNCTION @extschema@._customer_volume(bigint[]) IS
  'The company totals of the customer-volume test (spec 14.2) for the given runs, in the order given.';

CREATE FUNCTION @extschema@.customer_volume_test(run_id bigint)
RETURNS TABLE (run_id bigint, plan_name text, period_label text, period_start date, period_end date,
               status text, total_pv numeric, customer_pv numeric, ratio numeric, passes boolean)
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    -- _report_run raises 22004 / 42704 for a NULL or unknown run
    SELECT * FROM @extschema@._customer_volume(ARRAY[(@extschema@._report_run(customer_volume_test.run_id)).run_id]);
END;
COMMENT ON FUNCTION @extschema@.customer_volume_test(bigint) IS
  'Customer-volume test of one run (spec 14.2; status tells a draft): total PV of all members, customer PV (customers'' PV + distributors'' RV), ratio (4 decimals, half up; NULL when total PV <= 0) and passes (exact ratio > 0.5). NULL customer PV for runs made before 0.2.';

CREATE FUNCTION @extschema@.customer_volume_test(plan_name text, date_from date, date_to date)
RETURNS TABLE (run_id bigint, plan_name text, period_label text, period_start date, period_end date,
               status text, total_pv numeric, customer_pv numeric, ratio numeric, passes boolean)
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT * FROM @extschema@._customer_volume(@extschema@._report_runs(
        customer_volume_test.plan_name, customer_volume_test.date_from, customer_volume_test.date_to));
END;
COMMENT ON FUNCTION @extschema@.customer_volume_test(text, date, date) IS
  'The customer-volume test (spec 14.2) of every finalized run of a plan whose period lies within [date_from, date_to], in period order.';

-- Per distributor of a run: CPV + RV, PV' = PV + CPV and their ratio (4
-- decimals, half up; NULL when PV' = 0); with a threshold, only those whose
-- exact ratio is below it.
CREATE FUNCTION @extschema@.customer_volume_members(run_id bigint, threshold numeric DEFAULT NULL)
RETURNS TABLE (member_id bigint, pv numeric, cpv numeric, rv numeric, customers integer,
               customer_volume numeric, pv_with_customers numeric, ratio numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    PERFORM @extschema@._report_run($1);
    RETURN QUERY
    SELECT d.member_id, d.pv, d.cpv, d.rv, d.customers, d.cv, d.pvp,
           CASE WHEN d.pvp <> 0 THEN pg_catalog.round(d.cv / d.pvp, 4) END
      FROM (SELECT m.member_id, m.pv, m.cpv, m.rv, m.customers,
                   m.cpv + m.rv AS cv, m.pv + COALESCE(m.cpv, 0) AS pvp
              FROM @extschema@.run_member m
             WHERE m.run_id = $1 AND m.member_type IS DISTINCT FROM 'customer') d
     WHERE $2 IS NULL
        -- cv / pvp < threshold, exactly (the inequality turns with the sign)
        OR (d.pvp > 0 AND d.cv < $2 * d.pvp) OR (d.pvp < 0 AND d.cv > $2 * d.pvp)
     ORDER BY d.member_id;
END
$$;
COMMENT ON FUNCTION @extschema@.customer_volume_members(bigint, numeric) IS
  'Per distributor of a run (spec 14.2): pv, cpv, rv, customers, customer volume CPV + RV, PV'' = pv + cpv and their ratio (4 decimals, half up; NULL when PV'' = 0); with threshold, only the distributors whose exact ratio is below it. Customer columns are NULL for runs made before 0.2.';

------------------------------------------------------------------------------
-- Rank progress: what a member lacks for a rank (spec section 4)
------------------------------------------------------------------------------

-- For the distributors of a run (all of them, or one), every requirement of
-- the target rank of the run's plan version with the value needed and the
-- value the member reached in that run.  The target is the rank above the
-- member's qualified rank (the lowest rank it did not reach), or the rank
-- given.  Values are recomputed from the run's rows and its snapshot, as
-- section 4 defines them:
--   active                active(m): 1 when active, else 0 (every rank >= 1)
--   min_pv                PV'(m) = pv + cpv
--   min_gv                GV(m), or with max_leg_pct QGV = PV'(m) + sum over
--                         the distributor children c of
--                         min(GV(c), max_leg_pct * min_gv)
--   min_active_frontline  active children
--   legs_with_rank        children whose subtree holds a member whose
--                         qualified rank is the named rank or higher
--   min_customer_pv       CPV(m) + RV(m)
--   min_customer_share    (CPV(m) + RV(m)) / PV'(m), 4 decimals (met is
--                         decided exactly; never met when PV'(m) <= 0)
--   min_customers         customers(m)
CREATE FUNCTION @extschema@._rank_progress(run_id bigint, member bigint, rank text)
RETURNS TABLE (member_id bigint, qualified_rank text, target_rank text, requirement text,
               detail text, needed numeric, reached numeric, met boolean, shortfall numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    p_run    ALIAS FOR $1;
    p_member ALIAS FOR $2;
    p_target ALIAS FOR $3;
    rr       @extschema@.run;
    def      jsonb;
    target_idx integer;
    -- one member whose team is small: its legs are counted over its
    -- downline, not over every member of the run
    small    boolean := false;
BEGIN
    rr := @extschema@._report_run(p_run);
    SELECT p.definition INTO def FROM @extschema@.plan_version p
     WHERE p.plan_name = rr.plan_name AND p.version = rr.plan_version;
    IF p_target IS NOT NULL THEN
        SELECT (x.o - 1)::integer INTO target_idx
          FROM pg_catalog.jsonb_array_elements(def -> 'ranks') WITH ORDINALITY x(e, o)
         WHERE x.e ->> 'name' = p_target;
        IF target_idx IS NULL THEN
            RAISE EXCEPTION 'plan "%" version % has no rank "%"', rr.plan_name, rr.plan_version, p_target
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = 'Its ranks are ' || (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(x.e ->> 'name'), ', ')
                                                      FROM pg_catalog.jsonb_array_elements(def -> 'ranks') x(e)) || '.';
        END IF;
    END IF;
    -- The snapshot is read in the queries, never into a variable: a stored
    -- value reaches the tree functions as its TOAST pointer, which the
    -- backend's snapshot cache recognises (a variable would hold a detoasted
    -- copy, decoded again by every call site).
    IF p_member IS NOT NULL THEN
        SELECT @extschema@.subtree_size(r.snapshot, p_member) <= GREATEST(1000, @extschema@.size(r.snapshot) / 20)
          INTO small
          FROM @extschema@.run r WHERE r.run_id = p_run;
        small := COALESCE(small, true);
    END IF;
    RETURN QUERY
    -- every rank's requirements as columns (NULL: the rank does not list
    -- it) and how each is counted: read once per rank, not per member
    WITH rk0 AS (
        SELECT (x.o - 1)::integer AS idx, x.e ->> 'name' AS name,
               (x.e ->> 'min_pv')::numeric AS min_pv,
               (x.e ->> 'min_gv')::numeric AS min_gv,
               (x.e ->> 'max_leg_pct')::numeric * (x.e ->> 'min_gv')::numeric AS leg_cap,
               x.e ->> 'max_leg_pct' AS max_leg_pct,
               (x.e ->> 'min_active_frontline')::numeric AS min_frontline,
               x.e #>> '{legs_with_rank,rank}' AS legs_rank_name,
               (x.e #>> '{legs_with_rank,count}')::numeric AS legs_count,
               (x.e ->> 'min_customer_pv')::numeric AS min_customer_pv,
               (x.e ->> 'min_customer_share')::numeric AS min_customer_share,
               (x.e ->> 'min_customers')::numeric AS min_customers
          FROM pg_catalog.jsonb_array_elements(def -> 'ranks') WITH ORDINALITY x(e, o)
    ),
    rk AS (
        SELECT rk0.*, l.idx AS legs_rank,
               'active_status and PV'' >= active.min_pv'
                   || COALESCE(' (' || (def #>> '{active,min_pv}') || ')', '') AS d_active,
               CASE WHEN rk0.leg_cap IS NOT NULL
                    THEN pg_catalog.format('QGV: PV'' + each leg''s GV up to %s (max_leg_pct %s)',
                                           rk0.leg_cap, rk0.max_leg_pct)
                    ELSE 'GV' END AS d_gv,
               pg_catalog.format('legs holding a %s or higher', rk0.legs_rank_name) AS d_legs
          FROM rk0 LEFT JOIN rk0 l ON l.name = rk0.legs_rank_name
    ),
    -- the distributors asked about, with their qualified rank (the rank of
    -- runs made before 0.2) and customer volume
    mem AS (
        SELECT m.member_id, m.pv, m.gv, m.active, q.idx AS qidx, q.name AS qname,
               COALESCE(m.cpv, 0) AS cpv, COALESCE(m.rv, 0) AS rv, COALESCE(m.customers, 0) AS customers
          FROM @extschema@.run_member m
          JOIN rk q ON q.name = COALESCE(m.qualified_rank, m.rank)
         WHERE m.run_id = p_run AND (p_member IS NULL OR m.member_id = p_member)
           AND m.member_type IS DISTINCT FROM 'customer'
    ),
    tg AS (
        SELECT mem.*, x.idx AS tidx, x.name AS tname, x.min_pv, x.min_gv, x.leg_cap, x.min_frontline,
               x.legs_rank, x.legs_count, x.min_customer_pv, x.min_customer_share, x.min_customers,
               x.d_active, x.d_gv, x.d_legs
          FROM mem JOIN rk x ON x.idx = COALESCE(target_idx, mem.qidx + 1)
    ),
    -- every member of the run with its sponsor and qualified rank (all
    -- members asked: joined by hash, never looked up one by one)
    rmq AS MATERIALIZED (
        SELECT m.member_id, @extschema@.parent((SELECT s.snapshot FROM @extschema@.run s WHERE s.run_id = p_run), m.member_id) AS sponsor_id,
               m.gv, m.active, m.member_type, COALESCE(q.idx, -1) AS qidx
          FROM @extschema@.run_member m
          LEFT JOIN rk q ON q.name = COALESCE(m.qualified_rank, m.rank)
         WHERE m.run_id = p_run AND p_member IS NULL
    ),
    -- the personally sponsored members of the members asked about
    edges AS (
        SELECT rmq.member_id, rmq.sponsor_id, rmq.gv, rmq.active, rmq.member_type
          FROM rmq WHERE p_member IS NULL
        UNION ALL
        SELECT cm.member_id, p_member, cm.gv, cm.active, cm.member_type
          FROM @extschema@.children((SELECT s.snapshot FROM @extschema@.run s WHERE s.run_id = p_run), p_member) c(c)
          JOIN @extschema@.run_member cm ON cm.run_id = p_run AND cm.member_id = c.c
         WHERE p_member IS NOT NULL
    ),
    kids AS (
        SELECT tg.member_id,
               pg_catalog.count(*) FILTER (WHERE e.active) AS active_frontline,
               pg_catalog.sum(LEAST(e.gv, tg.leg_cap)) AS capped
          FROM tg
          JOIN edges e ON e.sponsor_id = tg.member_id
         WHERE e.member_type IS DISTINCT FROM 'customer'
         GROUP BY tg.member_id
    ),
    lr AS (SELECT DISTINCT tg.legs_rank AS r FROM tg WHERE tg.legs_rank IS NOT NULL),
    -- legs with rank, every member: in sponsor preorder a subtree is the
    -- positions pos .. pos + size - 1, so a running count of the members of
    -- rank >= r tells whether a subtree holds one (one pass, no recursion)
    pre AS (
        SELECT e.member_id, e.sponsor_id, e.o AS pos, @extschema@.subtree_size((SELECT s.snapshot FROM @extschema@.run s WHERE s.run_id = p_run), e.member_id) AS size,
               COALESCE(rmq.qidx, -1) AS qidx
          FROM @extschema@.members((SELECT s.snapshot FROM @extschema@.run s WHERE s.run_id = p_run)) WITH ORDINALITY e(member_id, sponsor_id, depth, placement_id, "position", o)
          LEFT JOIN rmq ON rmq.member_id = e.member_id
         WHERE p_member IS NULL AND EXISTS (SELECT 1 FROM lr)
    ),
    cum AS (
        SELECT pre.*, lr.r,
               pg_catalog.sum((pre.qidx >= lr.r)::integer) OVER (PARTITION BY lr.r ORDER BY pre.pos) AS c
          FROM pre CROSS JOIN lr
    ),
    legs AS (
        SELECT a.sponsor_id AS member_id, a.r, pg_catalog.count(*) AS n
          FROM cum a JOIN cum b ON b.r = a.r AND b.pos = a.pos + a.size - 1
         WHERE a.sponsor_id IS NOT NULL AND b.c - a.c + (a.qidx >= a.r)::integer > 0
         GROUP BY a.sponsor_id, a.r
        UNION ALL
        -- one member, small team: the legs of its downline's members of rank >= r
        SELECT p_member, lr.r, pg_catalog.count(DISTINCT @extschema@.leg((SELECT s.snapshot FROM @extschema@.run s WHERE s.run_id = p_run), p_member, d.member_id))
          FROM lr
          CROSS JOIN @extschema@.downline((SELECT s.snapshot FROM @extschema@.run s WHERE s.run_id = p_run), p_member) d
          JOIN @extschema@.run_member x ON x.run_id = p_run AND x.member_id = d.member_id
          JOIN rk q ON q.name = COALESCE(x.qualified_rank, x.rank)
         WHERE p_member IS NOT NULL AND small AND q.idx >= lr.r
         GROUP BY lr.r
        UNION ALL
        -- one member, large team: the run's members of rank >= r below it
        SELECT p_member, lr.r, pg_catalog.count(DISTINCT @extschema@.leg((SELECT s.snapshot FROM @extschema@.run s WHERE s.run_id = p_run), p_member, x.member_id))
          FROM lr
          JOIN rk q ON q.idx >= lr.r
          JOIN @extschema@.run_member x ON x.run_id = p_run AND COALESCE(x.qualified_rank, x.rank) = q.name
         WHERE p_member IS NOT NULL AND NOT small AND @extschema@.is_descendant((SELECT s.snapshot FROM @extschema@.run s WHERE s.run_id = p_run), p_member, x.member_id)
         GROUP BY lr.r
    ),
    req AS (
        SELECT tg.member_id, tg.qname, tg.tname, k.no, k.requirement, k.detail, k.needed, k.reached,
               CASE WHEN k.no = 7
                    THEN tg.pv + tg.cpv > 0 AND tg.cpv + tg.rv >= k.needed * (tg.pv + tg.cpv)
                    ELSE k.reached >= k.needed END AS met
          FROM tg
          LEFT JOIN kids ON kids.member_id = tg.member_id
          LEFT JOIN legs ON legs.member_id = tg.member_id AND legs.r = tg.legs_rank
          CROSS JOIN LATERAL (VALUES
              (1, 'active', tg.d_active, CASE WHEN tg.tidx > 0 THEN 1::numeric END,
                  CASE WHEN tg.active THEN 1 ELSE 0 END::numeric),
              (2, 'min_pv', 'PV'' = PV + customer PV', tg.min_pv, tg.pv + tg.cpv),
              (3, 'min_gv', tg.d_gv, tg.min_gv,
                  CASE WHEN tg.leg_cap IS NOT NULL THEN tg.pv + tg.cpv + COALESCE(kids.capped, 0) ELSE tg.gv END),
              (4, 'min_active_frontline', 'active personally sponsored members', tg.min_frontline,
                  COALESCE(kids.active_frontline, 0)::numeric),
              (5, 'legs_with_rank', tg.d_legs, tg.legs_count, COALESCE(legs.n, 0)::numeric),
              (6, 'min_customer_pv', 'customer PV + RV', tg.min_customer_pv, tg.cpv + tg.rv),
              (7, 'min_customer_share', '(customer PV + RV) / PV''', tg.min_customer_share,
                  CASE WHEN tg.pv + tg.cpv > 0 THEN pg_catalog.round((tg.cpv + tg.rv) / (tg.pv + tg.cpv), 4) END),
              (8, 'min_customers', 'customers with PV > 0', tg.min_customers, tg.customers::numeric)
          ) k(no, requirement, detail, needed, reached)
         WHERE k.needed IS NOT NULL
    )
    SELECT req.member_id, req.qname, req.tname, req.requirement, req.detail, req.needed, req.reached,
           COALESCE(req.met, false),
           CASE WHEN COALESCE(req.met, false) THEN 0::numeric ELSE req.needed - COALESCE(req.reached, 0) END
      FROM req
     ORDER BY req.member_id, req.no;
END
$$;
COMMENT ON FUNCTION @extschema@._rank_progress(bigint, bigint, text) IS
  'Every requirement of the target rank (the rank above the qualified rank, or the one given) for the distributors of a run (one member, or all when member is NULL): value needed, value reached, met, shortfall.';

CREATE FUNCTION @extschema@.rank_progress(run_id bigint, rank text DEFAULT NULL)
RETURNS TABLE (member_id bigint, qualified_rank text, target_rank text, requirement text,
               detail text, needed numeric, reached numeric, met boolean, shortfall numeric)
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT * FROM @extschema@._rank_progress(rank_progress.run_id, NULL::bigint, rank_progress.rank);
END;
COMMENT ON FUNCTION @extschema@.rank_progress(bigint, text) IS
  'For every distributor of a run, each requirement of its next rank (the rank above its qualified rank; or of the rank given) in the run''s plan version: value needed, value reached in the run, met, shortfall. Members at the top rank have no rows. Ask who is closest with GROUP BY member_id ... count(*) FILTER (WHERE NOT met).';

------------------------------------------------------------------------------
-- Commission statement of a member in a run
------------------------------------------------------------------------------

CREATE FUNCTION @extschema@.statement(run_id bigint, member_id bigint)
RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    p_run    ALIAS FOR $1;
    p_member ALIAS FOR $2;
    rr       @extschema@.run;
    def      jsonb;
    m        @extschema@.run_member;
    bonuses  jsonb;
    adj      jsonb;
    adj_sum  numeric;
    ledger   jsonb;
    nxt      jsonb;
    scale    integer;
BEGIN
    rr := @extschema@._report_run(p_run);
    PERFORM @extschema@._not_null(p_member, 'member_id');
    SELECT p.definition INTO def FROM @extschema@.plan_version p
     WHERE p.plan_name = rr.plan_name AND p.version = rr.plan_version;
    scale := COALESCE((def #>> '{currency,scale}')::integer, 2);
    SELECT x.* INTO m FROM @extschema@.run_member x WHERE x.run_id = p_run AND x.member_id = p_member;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'member % was not part of run %', p_member, p_run
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('Run %s (plan "%s", period "%s") read %s members.',
                                             rr.run_id, rr.plan_name, rr.period_label, rr.member_rows);
    END IF;

    -- each bonus that paid the member or has lines for it, in plan order
    SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'bonus', b.bonus,
               'type', pb.e ->> 'type',
               'amount', COALESCE(p.amount, pg_catalog.round(0::numeric, scale)),
               'line_count', l.n,
               'lines_total', l.total,
               'lines', l.lines)
             ORDER BY pb.o NULLS LAST, b.bonus)
      INTO bonuses
      FROM (SELECT x.bonus FROM @extschema@.run_payout x WHERE x.run_id = p_run AND x.member_id = p_member
            UNION
            SELECT DISTINCT x.bonus FROM @extschema@.run_line_pack x WHERE x.run_id = p_run AND x.member_id = p_member) b
      LEFT JOIN @extschema@.run_payout p ON p.run_id = p_run AND p.member_id = p_member AND p.bonus = b.bonus
      LEFT JOIN LATERAL (SELECT x.e, x.o FROM pg_catalog.jsonb_array_elements(def -> 'bonuses') WITH ORDINALITY x(e, o)
                          WHERE x.e ->> 'name' = b.bonus) pb ON true
      LEFT JOIN LATERAL (
            SELECT pg_catalog.count(*) AS n, pg_catalog.sum(x.amount) AS total,
                   pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                       'line_no', x.line_no, 'source_id', x.source_id, 'level', x.level,
                       'base', x.base, 'rate', x.rate, 'amount', x.amount) ORDER BY x.line_no) AS lines
              FROM @extschema@.run_line x
             WHERE x.run_id = p_run AND x.member_id = p_member AND x.bonus = b.bonus AND rr.with_lines) l ON true;

    SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'adjustment_id', a.adjustment_id, 'amount', a.amount, 'reason', a.reason,
               'created_at', a.created_at, 'created_by', a.created_by) ORDER BY a.adjustment_id),
           pg_catalog.sum(a.amount)
      INTO adj, adj_sum
      FROM @extschema@.adjustment a WHERE a.run_id = p_run AND a.member_id = p_member;

    -- the payables ledger (spec 13.1): kept for plans with the key payout,
    -- for members where something is not zero; without payout every amount
    -- earned is paid
    IF def ? 'payout' THEN
        SELECT pg_catalog.jsonb_build_object(
                   'payout_rule', def -> 'payout',
                   'balance_in', COALESCE(p.balance_in, pg_catalog.round(0::numeric, scale)),
                   'earned', COALESCE(p.earned, m.amount),
                   'paid', COALESCE(p.paid, pg_catalog.round(0::numeric, scale)),
                   'balance_out', COALESCE(p.balance_out, pg_catalog.round(0::numeric, scale)))
          INTO ledger
          FROM (SELECT 1) one
          LEFT JOIN @extschema@.run_payable p ON p.run_id = p_run AND p.member_id = p_member;
    ELSE
        ledger := pg_catalog.jsonb_build_object(
                      'payout_rule', NULL,
                      'balance_in', pg_catalog.round(0::numeric, scale),
                      'earned', m.amount,
                      'paid', m.amount,
                      'balance_out', pg_catalog.round(0::numeric, scale));
    END IF;

    SELECT pg_catalog.jsonb_build_object(
               'rank', pg_catalog.min(g.target_rank),
               'requirements_met', pg_catalog.count(*) FILTER (WHERE g.met),
               'requirements_total', pg_catalog.count(*),
               'requirements', pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                   'requirement', g.requirement, 'detail', g.detail, 'needed', g.needed,
                   'reached', g.reached, 'met', g.met, 'shortfall', g.shortfall)))
      INTO nxt
      FROM @extschema@._rank_progress(p_run, p_member, NULL) g
    HAVING pg_catalog.count(*) > 0;

    RETURN pg_catalog.jsonb_build_object(
        'run_id', rr.run_id, 'plan_name', rr.plan_name, 'plan_version', rr.plan_version,
        'period_label', rr.period_label, 'period_start', rr.period_start, 'period_end', rr.period_end,
        'status', rr.status, 'with_lines', rr.with_lines, 'currency_scale', scale,
        'member_id', m.member_id,
        'member_type', COALESCE(m.member_type, 'distributor'),
        'active', m.active,
        -- a run made before 0.2 has one rank: qualified = paid-as = title
        'ranks', pg_catalog.jsonb_build_object(
                     'qualified', COALESCE(m.qualified_rank, m.rank), 'paid_as', m.rank,
                     'title', COALESCE(m.title_rank, m.rank), 'grace', m.grace),
        'pv', m.pv, 'gv', m.gv,
        'customer_volume', pg_catalog.jsonb_build_object(
                     'cpv', m.cpv, 'rv', m.rv, 'customers', m.customers,
                     'pv_with_customers', m.pv + COALESCE(m.cpv, 0)),
        'bonuses', COALESCE(bonuses, '[]'::jsonb),
        'cap_factor', rr.cap_factor,
        'earned', m.amount,
        'ledger', ledger,
        'adjustments', COALESCE(adj, '[]'::jsonb),
        'adjustments_total', COALESCE(adj_sum, pg_catalog.round(0::numeric, scale)),
        'total', m.amount + COALESCE(adj_sum, 0),
        'next_rank', nxt);
END
$$;
COMMENT ON FUNCTION @extschema@.statement(bigint, bigint) IS
  'A member''s commission statement for a run, as jsonb for a back office: period, ranks (qualified, paid-as, title), PV, GV, customer volume, each bonus with its amount after the cap and its audit lines (runs closed with_lines), the cap factor, the ledger (balance in, earned, paid, balance out), adjustments, total (earned + adjustments, as mlm.payout_totals) and the requirements of the next rank with values needed and reached.';

-- The statement as text, from mlm.statement's document (so both always say
-- the same): heading, ranks and volumes, bonuses, the lines of each bonus,
-- the ledger, adjustments, the total and the next rank's requirements.
CREATE FUNCTION @extschema@.statement_text(run_id bigint, member_id bigint)
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s     jsonb := @extschema@.statement($1, $2);
    b     jsonb;
    cells text[];
    out   text;
BEGIN
    out := pg_catalog.format(E'Commission statement: member %s%s\n', s ->> 'member_id',
                             CASE WHEN s ->> 'member_type' = 'customer' THEN ' (a customer)' ELSE '' END)
        || pg_catalog.format(E'Plan "%s" version %s, period %s (%s to %s), run %s%s\n',
                             s ->> 'plan_name', s ->> 'plan_version', s ->> 'period_label',
                             s ->> 'period_start', s ->> 'period_end', s ->> 'run_id',
                             CASE WHEN s ->> 'status' = 'final' THEN ' (final)'
                                  ELSE ' (DRAFT: not final, may still change)' END)
        || E'\n'
        || pg_catalog.format(E'Ranks:    qualified %s, paid as %s, title %s%s\n',
                             COALESCE(s #>> '{ranks,qualified}', '-'), COALESCE(s #>> '{ranks,paid_as}', '-'),
                             COALESCE(s #>> '{ranks,title}', '-'),
                             CASE WHEN (s #>> '{ranks,grace}')::integer > 0
                                  THEN pg_catalog.format(' (grace period %s)', s #>> '{ranks,grace}') ELSE '' END)
        || pg_catalog.format(E'Volume:   PV %s, GV %s, %s\n', s ->> 'pv', s ->> 'gv',
                             CASE WHEN (s ->> 'active')::boolean THEN 'active' ELSE 'not active' END)
        || CASE WHEN s #> '{customer_volume,cpv}' <> 'null'::jsonb
                THEN pg_catalog.format(E'Customers: customer PV %s, retail (RV) %s, customers %s, PV with customers %s\n',
                                       s #>> '{customer_volume,cpv}', s #>> '{customer_volume,rv}',
                                       s #>> '{customer_volume,customers}', s #>> '{customer_volume,pv_with_customers}')
                ELSE '' END
        || E'\n';

    SELECT pg_catalog.array_agg(c.v ORDER BY b.o, c.k) INTO cells
      FROM pg_catalog.jsonb_array_elements(s -> 'bonuses') WITH ORDINALITY b(e, o)
      CROSS JOIN LATERAL (VALUES (1, b.e ->> 'bonus'), (2, b.e ->> 'type'), (3, b.e ->> 'line_count'),
                                 (4, b.e ->> 'lines_total'), (5, b.e ->> 'amount')) c(k, v);
    IF cells IS NULL THEN
        out := out || E'Bonuses: none\n';
    ELSE
        out := out || E'Bonuses (amount paid after rounding and the cap; lines exact, before both)\n'
            || @extschema@._text_table(ARRAY['bonus', 'type', 'lines', 'lines total', 'amount'], 'llrrr', cells);
    END IF;
    out := out || pg_catalog.format(E'Cap factor: %s\n',
                                    COALESCE(s ->> 'cap_factor', 'none (the cap did not apply)'));

    FOR b IN SELECT e FROM pg_catalog.jsonb_array_elements(s -> 'bonuses') e
              WHERE pg_catalog.jsonb_typeof(e -> 'lines') = 'array' LOOP
        SELECT pg_catalog.array_agg(c.v ORDER BY l.o, c.k) INTO cells
          FROM pg_catalog.jsonb_array_elements(b -> 'lines') WITH ORDINALITY l(e, o)
          CROSS JOIN LATERAL (VALUES (1, l.e ->> 'line_no'), (2, l.e ->> 'source_id'), (3, l.e ->> 'level'),
                                     (4, l.e ->> 'base'), (5, l.e ->> 'rate'), (6, l.e ->> 'amount')) c(k, v);
        out := out || E'\n' || pg_catalog.format(E'Lines of %s\n', b ->> 'bonus')
            || @extschema@._text_table(ARRAY['line', 'source', 'level', 'base', 'rate', 'amount'], 'rrrrrr', cells);
    END LOOP;
    IF NOT (s ->> 'with_lines')::boolean THEN
        out := out || E'(The run was closed without audit lines.)\n';
    END IF;

    out := out || E'\n'
        || pg_catalog.format(E'Earned:   %s\n', s ->> 'earned')
        || pg_catalog.format(E'Ledger:   balance in %s, earned %s, paid %s, balance out %s%s\n',
                             s #>> '{ledger,balance_in}', s #>> '{ledger,earned}', s #>> '{ledger,paid}',
                             s #>> '{ledger,balance_out}',
                             CASE WHEN s #> '{ledger,payout_rule}' = 'null'::jsonb
                                  THEN ' (the plan pays everything earned)'
                                  ELSE pg_catalog.format(' (minimum payout %s)', s #>> '{ledger,payout_rule,min_payout}') END);
    SELECT pg_catalog.array_agg(c.v ORDER BY a.o, c.k) INTO cells
      FROM pg_catalog.jsonb_array_elements(s -> 'adjustments') WITH ORDINALITY a(e, o)
      CROSS JOIN LATERAL (VALUES (1, a.e ->> 'adjustment_id'), (2, a.e ->> 'amount'), (3, a.e ->> 'reason'),
                                 (4, a.e ->> 'created_by')) c(k, v);
    IF cells IS NOT NULL THEN
        out := out || E'Adjustments\n'
            || @extschema@._text_table(ARRAY['id', 'amount', 'reason', 'by'], 'rrll', cells);
    END IF;
    out := out || pg_catalog.format(E'Total:    %s (earned %s + adjustments %s)\n',
                                    s ->> 'total', s ->> 'earned', s ->> 'adjustments_total');

    IF s -> 'next_rank' <> 'null'::jsonb THEN
        SELECT pg_catalog.array_agg(c.v ORDER BY r.o, c.k) INTO cells
          FROM pg_catalog.jsonb_array_elements(s #> '{next_rank,requirements}') WITH ORDINALITY r(e, o)
          CROSS JOIN LATERAL (VALUES (1, r.e ->> 'requirement'), (2, r.e ->> 'needed'), (3, r.e ->> 'reached'),
                                     (4, CASE WHEN (r.e ->> 'met')::boolean THEN 'yes' ELSE 'no' END),
                                     (5, r.e ->> 'detail')) c(k, v);
        out := out || E'\n'
            || pg_catalog.format(E'Next rank: %s (%s of %s requirements met)\n', s #>> '{next_rank,rank}',
                                 s #>> '{next_rank,requirements_met}', s #>> '{next_rank,requirements_total}')
            || @extschema@._text_table(ARRAY['requirement', 'needed', 'reached', 'met', 'how it is counted'],
                                       'lrrll', cells);
    ELSIF s #>> '{ranks,qualified}' IS NOT NULL THEN
        out := out || E'\nNext rank: none (the member qualified for the highest rank)\n';
    END IF;
    RETURN out;
END
$$;
COMMENT ON FUNCTION @extschema@.statement_text(bigint, bigint) IS
  'mlm.statement as readable text (for psql -At or a PDF renderer): heading, ranks, volumes, bonuses and their lines, cap factor, ledger, adjustments, total, next rank.';
