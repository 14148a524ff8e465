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
    IF $2 IN ('-infinity'::date, 'infinity'::date) AND $2 = $3 THEN
        RAISE EXCEPTION 'the date range % .. % is empty', $2, $3
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

-- The run a statement or a rank report reads, with its plan version.
CREATE FUNCTION @extschema@._report_run(run_id bigint, OUT run @extschema@.run, OUT definition jsonb)
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM @extschema@._not_null($1, 'run_id');
    SELECT r.* INTO run FROM @extschema@.run r WHERE r.run_id = $1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'run % does not exist', $1 USING ERRCODE = 'undefined_object';
    END IF;
    SELECT p.definition INTO definition FROM @extschema@.plan_version p
     WHERE p.plan_name = run.plan_name AND p.version = run.plan_version;
END
$$;
COMMENT ON FUNCTION @extschema@._report_run(bigint) IS
  'A run and the definition of its plan version; 42704 when the run does not exist.';

------------------------------------------------------------------------------
-- Income disclosure (spec 14.1)
------------------------------------------------------------------------------

-- One row per title rank of the plan version of the last run (rank order,
-- rank 0 by its name), then any other title a participant holds (a rank that
-- a later plan version renamed or removed), then 'all participants'.
-- Income per participant = its payouts (after the cap) in the runs plus the
-- adjustments posted to them.  Participants: members that are distributors
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
    -- participants and their title: the title of the last run that has them
    -- as a distributor, found as the maximum of (run order, title number)
    part AS (
        SELECT m.member_id,
               pg_catalog.max(ro.ord * 1000000
                              + COALESCE(pg_catalog.array_position(names, m.rank), 1)) % 1000000 AS tno
          FROM @extschema@.run_member m
          JOIN ro ON ro.run_id = m.run_id
         GROUP BY m.member_id
    ),
    income AS (
        SELECT x.member_id, pg_catalog.sum(x.amount) AS amount
          FROM (SELECT p.member_id, p.amount FROM @extschema@.run_payout p WHERE p.run_id = ANY (runs)
                UNION ALL
                SELECT a.member_id, a.amount FROM @extschema@.adjustment a WHERE a.run_id = ANY (runs)) x
         GROUP BY x.member_id
    ),
    ranked AS (
        SELECT part.tno, COALESCE(income.amount, zero_amount) AS amount,
               pg_catalog.row_number() OVER (PARTITION BY part.tno ORDER BY COALESCE(income.amount, zero_amount)) AS gpos,
               pg_catalog.count(*) OVER (PARTITION BY part.tno) AS gn,
               pg_catalog.row_number() OVER (ORDER BY COALESCE(income.amount, zero_amount)) AS apos,
               pg_catalog.count(*) OVER () AS an
          FROM part LEFT JOIN income ON income.member_id = part.member_id
    ),
    -- nearest rank: the value at position ceil(P * N / 100), on integers
    agg AS (
        SELECT ranked.tno, GROUPING(ranked.tno) AS is_all,
               pg_catalog.count(*) AS n,
               pg_catalog.count(*) FILTER (WHERE ranked.amount <= 0) AS nz,
               pg_catalog.sum(ranked.amount) AS total,
               pg_catalog.min(ranked.amount) AS lo, pg_catalog.max(ranked.amount) AS hi,
               pg_catalog.max(ranked.amount) FILTER (WHERE ranked.gpos = (10 * ranked.gn + 99) / 100) AS g10,
               pg_catalog.max(ranked.amount) FILTER (WHERE ranked.gpos = (25 * ranked.gn + 99) / 100) AS g25,
               pg_catalog.max(ranked.amount) FILTER (WHERE ranked.gpos = (50 * ranked.gn + 99) / 100) AS g50,
               pg_catalog.max(ranked.amount) FILTER (WHERE ranked.gpos = (75 * ranked.gn + 99) / 100) AS g75,
               pg_catalog.max(ranked.amount) FILTER (WHERE ranked.gpos = (90 * ranked.gn + 99) / 100) AS g90,
               pg_catalog.max(ranked.amount) FILTER (WHERE ranked.apos = (10 * ranked.an + 99) / 100) AS a10,
               pg_catalog.max(ranked.amount) FILTER (WHERE ranked.apos = (25 * ranked.an + 99) / 100) AS a25,
               pg_catalog.max(ranked.amount) FILTER (WHERE ranked.apos = (50 * ranked.an + 99) / 100) AS a50,
               pg_catalog.max(ranked.amount) FILTER (WHERE ranked.apos = (75 * ranked.an + 99) / 100) AS a75,
               pg_catalog.max(ranked.amount) FILTER (WHERE ranked.apos = (90 * ranked.an + 99) / 100) AS a90
          FROM ranked
         GROUP BY GROUPING SETS ((ranked.tno), ())
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
                   a.g10 AS p10, a.g25 AS p25, a.g50 AS median, a.g75 AS p75, a.g90 AS p90,
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
                   a.a10, a.a25, a.a50, a.a75, a.a90, a.lo, a.hi,
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
