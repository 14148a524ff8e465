-- ---------------------------------------------------------------------------
-- Commission engine: one period, computed from the caller's relations
-- ---------------------------------------------------------------------------

-- One row of a period's results; which columns are set depends on kind.
CREATE TYPE @extschema@.period_result AS (
    kind pg_catalog.text, member_id pg_catalog.int8, bonus pg_catalog.text,
    source_id pg_catalog.int8, level pg_catalog.int4, base pg_catalog.numeric,
    rate pg_catalog.numeric, amount pg_catalog.numeric, pv pg_catalog.numeric,
    gv pg_catalog.numeric, active pg_catalog.bool, rank pg_catalog.text,
    carry_left pg_catalog.numeric, carry_right pg_catalog.numeric,
    qualified_rank pg_catalog.text, paid_as_rank pg_catalog.text, title_rank pg_catalog.text,
    grace pg_catalog.int4, cpv pg_catalog.numeric, customers pg_catalog.int4, rv pg_catalog.numeric,
    member_type pg_catalog.text, balance_in pg_catalog.numeric, earned pg_catalog.numeric,
    paid pg_catalog.numeric, balance_out pg_catalog.numeric);
COMMENT ON TYPE @extschema@.period_result IS
    'a row of mlm.compute: kind payout, member, line, carry, state, payable or total; see docs/reference.md for the columns of each kind';

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

CREATE FUNCTION @extschema@.volume_summary(
    members pg_catalog.regclass, volumes pg_catalog.regclass,
    levels pg_catalog.int4 DEFAULT 0, active_min_pv pg_catalog.numeric DEFAULT NULL,
    OUT member_id pg_catalog.int8, OUT sponsor_id pg_catalog.int8, OUT depth pg_catalog.int4,
    OUT pv pg_catalog.numeric, OUT cv pg_catalog.numeric, OUT gv pg_catalog.numeric,
    OUT group_cv pg_catalog.numeric, OUT active pg_catalog.bool, OUT frontline pg_catalog.int4,
    OUT level_pv pg_catalog.numeric[])
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'mlm_volume_summary' LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.volume_summary(pg_catalog.regclass, pg_catalog.regclass, pg_catalog.int4, pg_catalog.numeric) IS
    'downline aggregation in one pass: depth, PV, CV, group volume (GV), group CV, activity, frontline size, PV per level 1..levels';

CREATE FUNCTION @extschema@.group_volume(
    members pg_catalog.regclass, volumes pg_catalog.regclass,
    OUT member_id pg_catalog.int8, OUT gv pg_catalog.numeric)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'mlm_group_volume' LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.group_volume(pg_catalog.regclass, pg_catalog.regclass) IS
    'group volume (GV, own PV included) of every member, in one pass';

CREATE FUNCTION @extschema@.leg_volumes(
    members pg_catalog.regclass, volumes pg_catalog.regclass,
    OUT member_id pg_catalog.int8, OUT leg_id pg_catalog.int8,
    OUT volume pg_catalog.numeric, OUT leg_members pg_catalog.int4)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'mlm_leg_volumes' LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.leg_volumes(pg_catalog.regclass, pg_catalog.regclass) IS
    'one row per member and frontline leg: the leg''s group volume and member count';

-- The same, with the members taken from a stored mlm.tree snapshot (every
-- member active_status true, no joined dates): for composing in SQL.

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

CREATE FUNCTION @extschema@.volume_summary_snapshot(
    network @extschema@.tree, volumes pg_catalog.regclass,
    levels pg_catalog.int4 DEFAULT 0, active_min_pv pg_catalog.numeric DEFAULT NULL,
    OUT member_id pg_catalog.int8, OUT sponsor_id pg_catalog.int8, OUT depth pg_catalog.int4,
    OUT pv pg_catalog.numeric, OUT cv pg_catalog.numeric, OUT gv pg_catalog.numeric,
    OUT group_cv pg_catalog.numeric, OUT active pg_catalog.bool, OUT frontline pg_catalog.int4,
    OUT level_pv pg_catalog.numeric[])
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'mlm_volume_summary_snapshot' LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.volume_summary_snapshot(@extschema@.tree, pg_catalog.regclass, pg_catalog.int4, pg_catalog.numeric) IS
    'mlm.volume_summary over the members of an mlm.tree snapshot';

CREATE FUNCTION @extschema@._decimal_selfcheck(value pg_catalog.numeric, scale pg_catalog.int4, minscale pg_catalog.int4)
    RETURNS pg_catalog.bool
    AS 'MODULE_PATHNAME', 'mlm_decimal_selfcheck' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@._decimal_selfcheck(pg_catalog.numeric, pg_catalog.int4, pg_catalog.int4) IS
    'internal test hook: true when the fast fixed-point to numeric conversion matches numeric_in byte for byte';
