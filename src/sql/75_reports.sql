-- ---------------------------------------------------------------------------
-- 75_reports.sql: compliance reports and commission statements over runs
-- ---------------------------------------------------------------------------
--
-- Read-only questions about closed periods (spec section 14 and the back
-- office): the income disclosure of a plan over a date range, the
-- customer-volume test of a run, a member's commission statement and every
-- member's progress towards its next rank.  See docs/reports.md.
--
-- Conventions as in 50..57: objects qualified with @extschema@ or
-- pg_catalog, search_path pinned, errors with condition names, ids in the
-- message or the detail.  Every function here only reads: they run with the
-- caller's rights (SELECT on the mlm tables is needed, as for the views) and
-- are STABLE.  Money is numeric throughout; shares and ratios are rounded
-- half up (ties away from zero, PostgreSQL's round(numeric, n)) to 4
-- decimals, means to the plan's currency scale; percentiles are nearest
-- rank, computed on integers (never percentile_disc, whose fraction is a
-- float8).

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
