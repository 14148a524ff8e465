-- test/reference/reference.sql
--
-- An independent, deliberately simple reference implementation of the mlm
-- compensation semantics (the compensation contract, version 1: "the spec";
-- see the README), written from the spec text only, in plain SQL / PL/pgSQL with
-- numeric arithmetic (no float anywhere).  It is meant for small networks
-- (a few hundred members): everything is O(n * depth) or worse, computed the
-- obvious way (ancestor closure tables, bottom-up loops over depth levels, one
-- loop iteration per member for the binary bonus).
--
-- It covers: member results (PV, GV, active, rank; sections 3 and 4), every
-- bonus type of version 1 (personal 5.1, unilevel 5.2, differential with
-- breakaway 5.3, binary 5.4, matching 5.5, fast start 5.6, pool 5.7), the
-- audit lines, rounding (6), the total cap (7), and the downline aggregates
-- of the extension (volume_summary, leg_volumes).
--
-- Input convention (all functions):
--   members  regclass: columns id, sponsor_id, placement_id, position,
--            active_status, joined (placement_id, position, active_status and
--            joined may be absent: absent = NULL); active_status NULL = true.
--   volumes  regclass: member_id, pv, cv, rv; several rows per member are
--            summed; a member without rows has 0.
--   carry    regclass or NULL: member_id, carry_left, carry_right.
--   plan     jsonb in the plan language of section 9.
--   period_end  date (fast start only; NULL is an error for a plan with a
--            fast_start bonus).
--
-- The functions use session temp tables named pg_temp._ref_* as scratch
-- space, created once per session by mlm_ref._scratch() and emptied and
-- refilled by their owner function on every call (creating and dropping
-- tables on every call would exhaust the lock table in a long test
-- transaction).  Each function only uses its own scratch tables, and fills
-- them from the other functions' results before reading them, so nesting
-- is safe.
--
-- Usage: \i test/reference/reference.sql   (creates schema mlm_ref)

DO $$
DECLARE
  v_old text := current_setting('client_min_messages');
BEGIN
  IF to_regnamespace('mlm_ref') IS NOT NULL THEN
    PERFORM set_config('client_min_messages', 'warning', true);
    DROP SCHEMA mlm_ref CASCADE;
    PERFORM set_config('client_min_messages', v_old, true);
  END IF;
END $$;
CREATE SCHEMA mlm_ref;

COMMENT ON SCHEMA mlm_ref IS
  'independent plain-SQL reference of the mlm compensation spec (tests only)';

------------------------------------------------------------------------------
-- Small helpers
------------------------------------------------------------------------------

-- Column expression for an optional input column: the column cast to typ if
-- rel has it, else a typed NULL.
CREATE FUNCTION mlm_ref._col(rel regclass, col text, typ text)
RETURNS text LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_attribute a
                            WHERE a.attrelid = rel AND a.attname = col
                              AND a.attnum > 0 AND NOT a.attisdropped)
              THEN format('%I::%s', col, typ)
              ELSE format('NULL::%s', typ) END
$$;

-- Raise err (with the offending ids in the detail) when ids is not empty.
-- Section 2: "names the offending member ids (at most the first 10, and how
-- many more)".
CREATE FUNCTION mlm_ref._fail_if(ids bigint[], err text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce(cardinality(ids), 0) > 0 THEN
    RAISE EXCEPTION 'mlm_ref: %', err
      USING DETAIL = format('member ids: %s%s',
                            array_to_string(ids[1:10], ', ', 'NULL'),
                            CASE WHEN cardinality(ids) > 10
                                 THEN format(' and %s more', cardinality(ids) - 10)
                                 ELSE '' END);
  END IF;
END $$;

-- Section 4: index (0 = lowest) of a rank given by name; NULL name -> NULL.
CREATE FUNCTION mlm_ref.rank_index(plan jsonb, rank_name text)
RETURNS integer LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_j integer;
BEGIN
  IF rank_name IS NULL THEN
    RETURN NULL;
  END IF;
  SELECT (r.ord - 1)::integer INTO v_j
    FROM jsonb_array_elements(plan->'ranks') WITH ORDINALITY AS r(e, ord)
   WHERE r.e->>'name' = rank_name;
  IF v_j IS NULL THEN
    RAISE EXCEPTION 'mlm_ref: unknown rank name "%"', rank_name;
  END IF;
  RETURN v_j;
END $$;

-- Section 4, last paragraph: a per-rank value (rate_by_rank, shares) for rank
-- index j: the value of the closest rank at or below j that is present in the
-- object, 0 below the lowest one present.
CREATE FUNCTION mlm_ref.by_rank(plan jsonb, obj jsonb, j integer)
RETURNS numeric LANGUAGE sql STABLE AS $$
  SELECT coalesce(
    (SELECT (obj->>(r.e->>'name'))::numeric
       FROM jsonb_array_elements(plan->'ranks') WITH ORDINALITY AS r(e, ord)
      WHERE r.ord - 1 <= j AND obj ? (r.e->>'name')
      ORDER BY r.ord DESC
      LIMIT 1),
    0)
$$;

-- Section 5: the bonus object with the given name (and type).  A NULL name
-- picks the only bonus of that type.
CREATE FUNCTION mlm_ref.bonus(plan jsonb, bonus_name text, bonus_type text)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_b jsonb;
  v_n integer;
BEGIN
  SELECT min(b::text)::jsonb, count(*) INTO v_b, v_n
    FROM jsonb_array_elements(plan->'bonuses') AS b
   WHERE (bonus_name IS NULL OR b->>'name' = bonus_name)
     AND (bonus_name IS NOT NULL OR b->>'type' = bonus_type);
  IF v_n <> 1 THEN
    RAISE EXCEPTION 'mlm_ref: % bonuses match name % / type %', v_n, bonus_name, bonus_type;
  END IF;
  IF v_b->>'type' IS DISTINCT FROM bonus_type THEN
    RAISE EXCEPTION 'mlm_ref: bonus "%" has type %, expected %',
      bonus_name, v_b->>'type', bonus_type;
  END IF;
  RETURN v_b;
END $$;

-- Section 6: round x to `scale` decimals, "half_up" (ties away from zero, for
-- negative amounts too) or "half_even" (ties to the even last digit).
-- Written out on the absolute value: u = |x| * 10^scale, exact.
CREATE FUNCTION mlm_ref.round(x numeric, scale integer, mode text)
RETURNS numeric LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  v_f  numeric := ('1e' || scale)::numeric;   -- 10^scale, exact
  v_i  numeric := ('1e' || -scale)::numeric;  -- 10^-scale, exact
  v_u  numeric;
  v_fl numeric;
  v_r  numeric;
BEGIN
  IF mode NOT IN ('half_up', 'half_even') THEN
    RAISE EXCEPTION 'mlm_ref: unknown rounding mode "%"', mode;
  END IF;
  v_u  := abs(x) * v_f;
  v_fl := floor(v_u);
  v_r  := v_u - v_fl;                         -- 0 <= v_r < 1
  IF v_r > 0.5
     OR (v_r = 0.5 AND (mode = 'half_up' OR mod(v_fl, 2) = 1)) THEN
    v_fl := v_fl + 1;
  END IF;
  -- v_fl * 10^-scale is exact (no division); round() only fixes the
  -- display scale.
  RETURN round(sign(x) * v_fl * v_i, scale);
END $$;

-- floor(x / y) computed exactly (div() is the exact integer quotient,
-- truncated toward zero; step down when the signs differ and it is inexact).
CREATE FUNCTION mlm_ref.floor_div(x numeric, y numeric)
RETURNS numeric LANGUAGE sql IMMUTABLE AS $$
  SELECT div(x, y) - CASE WHEN mod(x, y) <> 0 AND ((x < 0) <> (y < 0)) THEN 1 ELSE 0 END
$$;

-- The scratch tables (see the header), created once per session.
CREATE FUNCTION mlm_ref._scratch()
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF to_regclass('pg_temp._ref_mr') IS NOT NULL THEN
    RETURN;
  END IF;
  -- member_results
  CREATE TEMP TABLE _ref_mr (
    id bigint, sponsor_id bigint, status boolean, pv numeric, cv numeric,
    gv numeric, active boolean, depth integer, rank_index integer,
    sub_max_rank integer);
  CREATE INDEX ON _ref_mr (id);
  CREATE INDEX ON _ref_mr (sponsor_id);
  CREATE TEMP TABLE _ref_mr_anc (member bigint, ancestor bigint, dist integer);
  CREATE INDEX ON _ref_mr_anc (ancestor);
  CREATE INDEX ON _ref_mr_anc (member);
  CREATE TEMP TABLE _ref_mr_rank (
    j integer, name text, min_pv numeric, min_gv numeric, max_leg_pct numeric,
    min_frontline numeric, legs_rank integer, legs_count numeric);
  -- personal_lines
  CREATE TEMP TABLE _ref_pl (id bigint, active boolean, cv numeric, r numeric);
  -- unilevel_lines
  CREATE TEMP TABLE _ref_ul (id bigint, active boolean, rank_index integer, cv numeric);
  CREATE INDEX ON _ref_ul (id);
  CREATE TEMP TABLE _ref_ul_level (k integer, r numeric, min_rank integer);
  CREATE TEMP TABLE _ref_ul_anc (source bigint, ancestor bigint, k integer);
  CREATE INDEX ON _ref_ul_anc (source);
  -- binary
  CREATE TEMP TABLE _ref_bin (
    id bigint, sponsor_id bigint, placement_id bigint, "position" integer,
    active boolean, cv numeric, carry_in_l numeric, carry_in_r numeric);
  CREATE INDEX ON _ref_bin (id);
  CREATE INDEX ON _ref_bin (placement_id, "position");
  CREATE TEMP TABLE _ref_bin_anc (member bigint, ancestor bigint, dist integer);
  CREATE INDEX ON _ref_bin_anc (ancestor);
  -- _level_walk (unilevel, matching, fast start): the base per member is
  -- filled by the caller
  CREATE TEMP TABLE _ref_walk_base (id bigint, base numeric);
  -- differential
  CREATE TEMP TABLE _ref_df (id bigint, active boolean, rank_index integer,
                             cv numeric, r numeric);
  CREATE INDEX ON _ref_df (id);
  CREATE TEMP TABLE _ref_df_anc (member bigint, ancestor bigint, dist integer);
  CREATE INDEX ON _ref_df_anc (member);
  -- matching
  CREATE TEMP TABLE _ref_mt_e (id bigint, e numeric);
  -- pool
  CREATE TEMP TABLE _ref_po (id bigint, w numeric, units numeric, rem numeric);
  -- payouts
  CREATE TEMP TABLE _ref_pay_lines (recipient bigint, bonus text, amount numeric);
  CREATE TEMP TABLE _ref_pay (member_id bigint, bonus text, amount numeric);
END $$;

------------------------------------------------------------------------------
-- Inputs (sections 1 and 2)
------------------------------------------------------------------------------

-- Section 1 / 2: the members relation, optional columns filled with NULL,
-- validated for: null id, duplicate id, orphan sponsor/placement, cycles in
-- either tree (a member not reachable from a root is on or below a cycle).
CREATE FUNCTION mlm_ref.members_of(members regclass)
RETURNS TABLE(id bigint, sponsor_id bigint, placement_id bigint,
              "position" integer, active_status boolean, joined date)
LANGUAGE plpgsql AS $$
DECLARE
  v_src text;
  v_bad bigint[];
  v_parent text;
BEGIN
  v_src := format('(SELECT %s AS id, %s AS sponsor_id, %s AS placement_id, '
                  '%s AS position, %s AS active_status, %s AS joined FROM %s)',
                  mlm_ref._col(members, 'id', 'bigint'),
                  mlm_ref._col(members, 'sponsor_id', 'bigint'),
                  mlm_ref._col(members, 'placement_id', 'bigint'),
                  mlm_ref._col(members, 'position', 'integer'),
                  mlm_ref._col(members, 'active_status', 'boolean'),
                  mlm_ref._col(members, 'joined', 'date'),
                  members);

  EXECUTE format('SELECT CASE WHEN count(*) > 0 THEN ARRAY[NULL::bigint] END
                    FROM %s s WHERE s.id IS NULL', v_src) INTO v_bad;
  PERFORM mlm_ref._fail_if(v_bad, 'null member id');

  EXECUTE format('SELECT array_agg(id ORDER BY id) FROM
                    (SELECT s.id FROM %s s GROUP BY s.id HAVING count(*) > 1) d',
                 v_src) INTO v_bad;
  PERFORM mlm_ref._fail_if(v_bad, 'duplicate member id');

  FOREACH v_parent IN ARRAY ARRAY['sponsor_id', 'placement_id'] LOOP
    EXECUTE format('SELECT array_agg(s.id ORDER BY s.id) FROM %1$s s
                     WHERE s.%2$I IS NOT NULL
                       AND NOT EXISTS (SELECT 1 FROM %1$s p WHERE p.id = s.%2$I)',
                   v_src, v_parent) INTO v_bad;
    PERFORM mlm_ref._fail_if(v_bad, format('orphan %s', v_parent));

    EXECUTE format('WITH RECURSIVE s AS %1$s,
                    reach(id) AS (SELECT s.id FROM s WHERE s.%2$I IS NULL
                                  UNION ALL
                                  SELECT s.id FROM s JOIN reach r ON s.%2$I = r.id)
                    SELECT array_agg(s.id ORDER BY s.id) FROM s
                     WHERE NOT EXISTS (SELECT 1 FROM reach r WHERE r.id = s.id)',
                   v_src, v_parent) INTO v_bad;
    PERFORM mlm_ref._fail_if(v_bad, format('cycle in the %s tree', v_parent));
  END LOOP;

  RETURN QUERY EXECUTE format('SELECT * FROM %s s ORDER BY s.id', v_src);
END $$;

-- Section 1: volumes summed per member, every member present (0 when it has
-- no row).  Section 2: a volume row for a non-member is an error.
CREATE FUNCTION mlm_ref.volumes_of(members regclass, volumes regclass)
RETURNS TABLE(member_id bigint, pv numeric, cv numeric, rv numeric)
LANGUAGE plpgsql AS $$
DECLARE
  v_bad bigint[];
BEGIN
  EXECUTE format('SELECT array_agg(DISTINCT v.member_id) FROM %s v
                   WHERE NOT EXISTS (SELECT 1 FROM mlm_ref.members_of(%L) m
                                      WHERE m.id = v.member_id)',
                 volumes, members) INTO v_bad;
  PERFORM mlm_ref._fail_if(v_bad, 'volume row for a non-member');

  RETURN QUERY EXECUTE format(
    'SELECT m.id,
            coalesce(sum(v.pv), 0)::numeric,
            coalesce(sum(v.cv), 0)::numeric,
            coalesce(sum(v.rv), 0)::numeric
       FROM mlm_ref.members_of(%L) m
       LEFT JOIN (SELECT %s AS member_id, %s AS pv, %s AS cv, %s AS rv FROM %s) v
              ON v.member_id = m.id
      GROUP BY m.id
      ORDER BY m.id',
    members,
    mlm_ref._col(volumes, 'member_id', 'bigint'),
    mlm_ref._col(volumes, 'pv', 'numeric'),
    mlm_ref._col(volumes, 'cv', 'numeric'),
    mlm_ref._col(volumes, 'rv', 'numeric'),
    volumes);
END $$;

-- Section 1 / 10: carry-in per member (empty when carry is NULL); a carry row
-- for a non-member, or two rows for one member, is an error.
CREATE FUNCTION mlm_ref.carry_of(members regclass, carry regclass)
RETURNS TABLE(member_id bigint, carry_left numeric, carry_right numeric)
LANGUAGE plpgsql AS $$
DECLARE
  v_bad bigint[];
BEGIN
  IF carry IS NULL THEN
    RETURN;
  END IF;
  EXECUTE format('SELECT array_agg(DISTINCT c.member_id) FROM %s c
                   WHERE NOT EXISTS (SELECT 1 FROM mlm_ref.members_of(%L) m
                                      WHERE m.id = c.member_id)',
                 carry, members) INTO v_bad;
  PERFORM mlm_ref._fail_if(v_bad, 'carry-in for a non-member');
  EXECUTE format('SELECT array_agg(member_id) FROM
                    (SELECT c.member_id FROM %s c GROUP BY 1 HAVING count(*) > 1) d',
                 carry) INTO v_bad;
  PERFORM mlm_ref._fail_if(v_bad, 'two carry-in rows for one member');

  RETURN QUERY EXECUTE format(
    'SELECT c.member_id::bigint, coalesce(c.carry_left, 0)::numeric,
            coalesce(c.carry_right, 0)::numeric
       FROM %s c ORDER BY 1', carry);
END $$;

-- Section 3: the ancestor closure of the sponsor tree (tree = 'sponsor') or
-- of the placement tree (tree = 'placement'): one row (member, ancestor, dist)
-- per member and each of its ancestors, the member itself included at
-- dist 0.  dist = number of edges from member up to ancestor, so the
-- subtree of a is {member : (member, a) in closure} and depth(m) = max dist.
CREATE FUNCTION mlm_ref.ancestors(members regclass, tree text)
RETURNS TABLE(member bigint, ancestor bigint, dist integer)
LANGUAGE sql AS $$
  WITH RECURSIVE
  m AS (SELECT mo.id,
               CASE tree WHEN 'sponsor' THEN mo.sponsor_id
                         WHEN 'placement' THEN mo.placement_id END AS parent
          FROM mlm_ref.members_of(members) mo),
  anc(member, ancestor, dist) AS (
    SELECT m.id, m.id, 0 FROM m
    UNION ALL
    SELECT a.member, m.parent, a.dist + 1
      FROM anc a JOIN m ON m.id = a.ancestor
     WHERE m.parent IS NOT NULL)
  SELECT anc.member, anc.ancestor, anc.dist FROM anc
$$;

------------------------------------------------------------------------------
-- Sections 3 and 4: member results
------------------------------------------------------------------------------

-- Section 3: PV, GV (sum of PV over the sponsor subtree), active
--   (active_status, NULL = true, and PV >= active.min_pv when that is set).
-- Section 4: rank = the highest rank j >= 1 whose own requirements the
--   member meets (0 if none; inactive members have rank 0), computed
--   bottom-up (deepest sponsor level first):
--   min_pv                PV(m) >= min_pv
--   min_gv [max_leg_pct]  QGV >= min_gv, QGV = GV(m) without max_leg_pct,
--                         else PV(m) + sum over children c of
--                         min(GV(c), max_leg_pct * min_gv)   (negative legs
--                         lower it, section 10)
--   min_active_frontline  number of active sponsored children >= n
--   legs_with_rank {rank R, count n}: at least n children c with some member
--                         of subtree(c) at rank >= R.  We keep, per member,
--                         sub_max_rank = the highest rank in its subtree.
CREATE FUNCTION mlm_ref.member_results(plan jsonb, members regclass, volumes regclass)
RETURNS TABLE(member_id bigint, pv numeric, gv numeric, active boolean,
              rank_index integer, rank text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_min_pv numeric := (plan #>> '{active,min_pv}')::numeric;
  v_lvl integer;
BEGIN
  PERFORM mlm_ref._scratch();
  TRUNCATE _ref_mr, _ref_mr_anc, _ref_mr_rank;

  INSERT INTO _ref_mr (id, sponsor_id, status, pv, cv, gv, active, depth,
                       rank_index, sub_max_rank)
    SELECT m.id, m.sponsor_id,
           coalesce(m.active_status, true) AS status,
           v.pv, v.cv,
           NULL::numeric AS gv, NULL::boolean AS active, NULL::integer AS depth,
           0 AS rank_index, 0 AS sub_max_rank
      FROM mlm_ref.members_of(members) m
      JOIN mlm_ref.volumes_of(members, volumes) v ON v.member_id = m.id;

  INSERT INTO _ref_mr_anc (member, ancestor, dist)
    SELECT * FROM mlm_ref.ancestors(members, 'sponsor');
  ANALYZE _ref_mr;
  ANALYZE _ref_mr_anc;

  -- Section 3.
  UPDATE _ref_mr m SET
    depth  = (SELECT max(a.dist) FROM _ref_mr_anc a WHERE a.member = m.id),
    gv     = (SELECT sum(x.pv) FROM _ref_mr_anc a JOIN _ref_mr x ON x.id = a.member
               WHERE a.ancestor = m.id),
    active = m.status AND (v_min_pv IS NULL OR m.pv >= v_min_pv);

  -- Section 4: the rank list, requirements by rank index j.
  INSERT INTO _ref_mr_rank (j, name, min_pv, min_gv, max_leg_pct, min_frontline,
                            legs_rank, legs_count)
    SELECT (r.ord - 1)::integer                          AS j,
           r.e->>'name'                                  AS name,
           (r.e->>'min_pv')::numeric                     AS min_pv,
           (r.e->>'min_gv')::numeric                     AS min_gv,
           (r.e->>'max_leg_pct')::numeric                AS max_leg_pct,
           (r.e->>'min_active_frontline')::numeric       AS min_frontline,
           mlm_ref.rank_index(plan, r.e #>> '{legs_with_rank,rank}') AS legs_rank,
           (r.e #>> '{legs_with_rank,count}')::numeric   AS legs_count
      FROM jsonb_array_elements(coalesce(plan->'ranks', '[]'::jsonb))
           WITH ORDINALITY AS r(e, ord);

  FOR v_lvl IN REVERSE coalesce((SELECT max(depth) FROM _ref_mr), -1) .. 0 LOOP
    UPDATE _ref_mr m SET rank_index = coalesce((
      SELECT max(r.j) FROM _ref_mr_rank r
       WHERE r.j >= 1
         AND m.active
         AND (r.min_pv IS NULL OR m.pv >= r.min_pv)
         AND (r.min_gv IS NULL OR
              (CASE WHEN r.max_leg_pct IS NULL THEN m.gv
                    ELSE m.pv + coalesce((SELECT sum(least(c.gv, r.max_leg_pct * r.min_gv))
                                            FROM _ref_mr c WHERE c.sponsor_id = m.id), 0)
               END) >= r.min_gv)
         AND (r.min_frontline IS NULL OR
              (SELECT count(*) FROM _ref_mr c
                WHERE c.sponsor_id = m.id AND c.active) >= r.min_frontline)
         AND (r.legs_rank IS NULL OR
              (SELECT count(*) FROM _ref_mr c
                WHERE c.sponsor_id = m.id AND c.sub_max_rank >= r.legs_rank)
                >= coalesce(r.legs_count, 1))
      ), 0)
    WHERE m.depth = v_lvl;

    UPDATE _ref_mr m SET sub_max_rank = greatest(m.rank_index,
      coalesce((SELECT max(c.sub_max_rank) FROM _ref_mr c WHERE c.sponsor_id = m.id), 0))
    WHERE m.depth = v_lvl;
  END LOOP;

  RETURN QUERY
    SELECT m.id, m.pv, m.gv, m.active, m.rank_index, r.name
      FROM _ref_mr m LEFT JOIN _ref_mr_rank r ON r.j = m.rank_index
     ORDER BY m.id;
END $$;

------------------------------------------------------------------------------
-- Section 5.1: personal
------------------------------------------------------------------------------

-- Every active member m with rate(m) * CV(m) != 0 gets a line (m, source m,
-- level 0, base CV(m), rate(m)); rate(m) = `rate`, or `rate_by_rank` looked
-- up by rank(m) with the expansion rule of section 4.
CREATE FUNCTION mlm_ref.personal_lines(plan jsonb, bonus_name text,
                                       members regclass, volumes regclass)
RETURNS TABLE(recipient bigint, source bigint, level integer,
              base numeric, rate numeric, amount numeric)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_b jsonb := mlm_ref.bonus(plan, bonus_name, 'personal');
BEGIN
  IF (v_b ? 'rate') = (v_b ? 'rate_by_rank') THEN
    RAISE EXCEPTION 'mlm_ref: personal bonus needs exactly one of rate, rate_by_rank';
  END IF;
  PERFORM mlm_ref._scratch();
  TRUNCATE _ref_pl;
  INSERT INTO _ref_pl (id, active, cv, r)
    SELECT r.member_id AS id, r.active, v.cv,
           CASE WHEN v_b ? 'rate' THEN (v_b->>'rate')::numeric
                ELSE mlm_ref.by_rank(plan, v_b->'rate_by_rank', r.rank_index) END AS r
      FROM mlm_ref.member_results(plan, members, volumes) r
      JOIN mlm_ref.volumes_of(members, volumes) v ON v.member_id = r.member_id;

  RETURN QUERY
    SELECT p.id, p.id, 0, p.cv, p.r, p.cv * p.r
      FROM _ref_pl p
     WHERE p.active AND p.cv * p.r <> 0
     ORDER BY p.id;
END $$;

------------------------------------------------------------------------------
-- Section 5.2: unilevel
------------------------------------------------------------------------------

-- The level walk shared by unilevel (5.2), matching (5.5) and fast start
-- (5.6).  The caller fills pg_temp._ref_walk_base(id, base) with the base of
-- every source member (CV for unilevel and fast start, E(x) for matching).
-- For each member d with base(d) != 0 and each k = 1 .. L: a_k is d's k-th
-- ancestor (compression "none") or k-th *active* ancestor ("dynamic") in the
-- sponsor or placement tree (`tree`).  When a_k exists, is active and
-- rank(a_k) >= min_ranks[k]: a line (a_k, source d, level k, base(d),
-- rate r_k).  Otherwise the level is breakage.  Zero amounts make no line.
CREATE FUNCTION mlm_ref._level_walk(plan jsonb, rates jsonb, min_ranks jsonb,
                                    comp text, tree text,
                                    members regclass, volumes regclass)
RETURNS TABLE(recipient bigint, source bigint, level integer,
              base numeric, rate numeric, amount numeric)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
  IF comp NOT IN ('none', 'dynamic') OR tree NOT IN ('sponsor', 'placement') THEN
    RAISE EXCEPTION 'mlm_ref: bad compression % or tree %', comp, tree;
  END IF;
  IF coalesce(jsonb_array_length(rates), 0) = 0 THEN
    RAISE EXCEPTION 'mlm_ref: a level walk needs a non-empty rates list';
  END IF;
  PERFORM mlm_ref._scratch();
  TRUNCATE _ref_ul, _ref_ul_level, _ref_ul_anc;

  INSERT INTO _ref_ul (id, active, rank_index, cv)
    SELECT r.member_id AS id, r.active, r.rank_index, coalesce(b.base, 0)
      FROM mlm_ref.member_results(plan, members, volumes) r
      LEFT JOIN _ref_walk_base b ON b.id = r.member_id;
  ANALYZE _ref_ul;

  -- level k: rate r_k and the minimum rank index (0 when not given)
  INSERT INTO _ref_ul_level (k, r, min_rank)
    SELECT x.k::integer AS k, x.r::numeric AS r,
           coalesce(mlm_ref.rank_index(plan, min_ranks->>(x.k::integer - 1)), 0)
             AS min_rank
      FROM jsonb_array_elements_text(rates) WITH ORDINALITY AS x(r, k);

  -- (source d, ancestor a, k): k = dist for "none"; for "dynamic" only
  -- active ancestors are numbered, nearest first.
  INSERT INTO _ref_ul_anc (source, ancestor, k)
    SELECT a.member AS source, a.ancestor,
           CASE WHEN comp = 'none' THEN a.dist
                ELSE row_number() OVER (PARTITION BY a.member ORDER BY a.dist)::integer
           END AS k
      FROM mlm_ref.ancestors(members, tree) a
      JOIN _ref_ul x ON x.id = a.ancestor
     WHERE a.dist >= 1
       AND (comp = 'none' OR x.active);
  ANALYZE _ref_ul_anc;

  RETURN QUERY
    SELECT a.ancestor, d.id, a.k, d.cv, l.r, d.cv * l.r
      FROM _ref_ul d
      JOIN _ref_ul_anc a   ON a.source = d.id
      JOIN _ref_ul_level l ON l.k = a.k
      JOIN _ref_ul x       ON x.id = a.ancestor
     WHERE d.cv <> 0
       AND x.active
       AND x.rank_index >= l.min_rank
       AND d.cv * l.r <> 0
     ORDER BY 1, 2, 3;
END $$;

-- Section 5.2: unilevel, the level walk over CV with the bonus's
-- compression, tree and min_rank_by_level.
CREATE FUNCTION mlm_ref.unilevel_lines(plan jsonb, bonus_name text,
                                       members regclass, volumes regclass)
RETURNS TABLE(recipient bigint, source bigint, level integer,
              base numeric, rate numeric, amount numeric)
LANGUAGE plpgsql AS $$
DECLARE
  v_b jsonb := mlm_ref.bonus(plan, bonus_name, 'unilevel');
BEGIN
  PERFORM mlm_ref._scratch();
  TRUNCATE _ref_walk_base;
  INSERT INTO _ref_walk_base (id, base)
    SELECT v.member_id, v.cv FROM mlm_ref.volumes_of(members, volumes) v;
  RETURN QUERY
    SELECT * FROM mlm_ref._level_walk(plan, v_b->'rates', v_b->'min_rank_by_level',
                                      coalesce(v_b->>'compression', 'none'),
                                      coalesce(v_b->>'tree', 'sponsor'), members, volumes);
END $$;

------------------------------------------------------------------------------
-- Section 5.3: differential (stairstep with breakaway)
------------------------------------------------------------------------------

-- For each member d with CV(d) != 0, walk a = d, d's parent, ... up the
-- sponsor tree with paid = 0, gen = 0 (the four steps of 5.3, literally):
--   1. gen = 0, a active, rate(a) > paid: line (a, d, level depth(d) -
--      depth(a), CV(d), rate(a) - paid); paid = rate(a)
--   2. 1 <= gen <= G, a active, rank(a) >= breakaway_rank and
--      rank(a) >= min_rank_by_generation[gen]: line (a, d, level gen, CV(d),
--      g_gen)
--   3. breakaway_rank set, a active, rank(a) >= breakaway_rank: gen += 1
--   4. stop when gen > G, or without breakaway_rank when paid = the highest
--      rate of the plan, or at the root.
-- rate(a) is rate_by_rank at rank(a) (section 4 expansion; an empty object
-- is 0 for every rank).  Zero amounts make no line.
CREATE FUNCTION mlm_ref.differential_lines(plan jsonb, bonus_name text,
                                           members regclass, volumes regclass)
RETURNS TABLE(recipient bigint, source bigint, level integer,
              base numeric, rate numeric, amount numeric)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_b     jsonb     := mlm_ref.bonus(plan, bonus_name, 'differential');
  v_br    integer   := mlm_ref.rank_index(plan, v_b->>'breakaway_rank');
  v_g     numeric[];
  v_gmin  integer[];
  v_ng    integer;
  v_max   numeric;
  v_paid  numeric;
  v_gen   integer;
  d       record;
  a       record;
BEGIN
  PERFORM mlm_ref._scratch();
  TRUNCATE _ref_df, _ref_df_anc;
  INSERT INTO _ref_df (id, active, rank_index, cv, r)
    SELECT r.member_id, r.active, r.rank_index, v.cv,
           mlm_ref.by_rank(plan, coalesce(v_b->'rate_by_rank', '{}'), r.rank_index)
      FROM mlm_ref.member_results(plan, members, volumes) r
      JOIN mlm_ref.volumes_of(members, volumes) v ON v.member_id = r.member_id;
  INSERT INTO _ref_df_anc (member, ancestor, dist)
    SELECT * FROM mlm_ref.ancestors(members, 'sponsor');
  ANALYZE _ref_df;
  ANALYZE _ref_df_anc;

  v_g := ARRAY(SELECT e.x::numeric
                 FROM jsonb_array_elements_text(coalesce(v_b->'generation_rates', '[]'))
                      WITH ORDINALITY AS e(x, o) ORDER BY e.o);
  v_gmin := ARRAY(SELECT mlm_ref.rank_index(plan, e.x)
                    FROM jsonb_array_elements_text(coalesce(v_b->'min_rank_by_generation', '[]'))
                         WITH ORDINALITY AS e(x, o) ORDER BY e.o);
  v_ng := cardinality(v_g);
  v_max := (SELECT max(mlm_ref.by_rank(plan, coalesce(v_b->'rate_by_rank', '{}'), j::integer))
              FROM generate_series(0, jsonb_array_length(plan->'ranks') - 1) AS j);

  FOR d IN SELECT * FROM _ref_df x WHERE x.cv <> 0 ORDER BY x.id LOOP
    v_paid := 0;
    v_gen := 0;
    FOR a IN SELECT x.id, x.active, x.rank_index, x.r, an.dist
               FROM _ref_df_anc an JOIN _ref_df x ON x.id = an.ancestor
              WHERE an.member = d.id
              ORDER BY an.dist LOOP
      -- 1.
      IF v_gen = 0 AND a.active AND a.r > v_paid THEN
        recipient := a.id; source := d.id; level := a.dist;
        base := d.cv; rate := a.r - v_paid; amount := d.cv * (a.r - v_paid);
        RETURN NEXT;
        v_paid := a.r;
      END IF;
      -- 2.
      IF v_gen >= 1 AND v_gen <= v_ng AND a.active AND a.rank_index >= v_br
         AND a.rank_index >= coalesce(v_gmin[v_gen], 0)
         AND d.cv * v_g[v_gen] <> 0 THEN
        recipient := a.id; source := d.id; level := v_gen;
        base := d.cv; rate := v_g[v_gen]; amount := d.cv * v_g[v_gen];
        RETURN NEXT;
      END IF;
      -- 3.
      IF v_br IS NOT NULL AND a.active AND a.rank_index >= v_br THEN
        v_gen := v_gen + 1;
      END IF;
      -- 4. (the root ends the loop)
      EXIT WHEN v_gen > v_ng;
      EXIT WHEN v_br IS NULL AND v_paid = v_max;
    END LOOP;
  END LOOP;
END $$;

------------------------------------------------------------------------------
-- Section 5.6: fast start
------------------------------------------------------------------------------

-- d is new when joined(d) <= period_end and period_end - joined(d) < days
-- (calendar days; a NULL joined date is never new).  For each new d with
-- CV(d) != 0, the k-th sponsor ancestor (no compression, no rank
-- condition) gets (a_k, d, k, CV(d), r_k) when active.
CREATE FUNCTION mlm_ref.fast_start_lines(plan jsonb, bonus_name text,
                                         members regclass, volumes regclass,
                                         period_end date)
RETURNS TABLE(recipient bigint, source bigint, level integer,
              base numeric, rate numeric, amount numeric)
LANGUAGE plpgsql AS $$
DECLARE
  v_b    jsonb   := mlm_ref.bonus(plan, bonus_name, 'fast_start');
  v_days integer := (v_b->>'days')::integer;
BEGIN
  IF period_end IS NULL THEN
    RAISE EXCEPTION 'mlm_ref: a fast_start bonus needs period_end';
  END IF;
  PERFORM mlm_ref._scratch();
  TRUNCATE _ref_walk_base;
  INSERT INTO _ref_walk_base (id, base)
    SELECT m.id, v.cv
      FROM mlm_ref.members_of(members) m
      JOIN mlm_ref.volumes_of(members, volumes) v ON v.member_id = m.id
     WHERE m.joined IS NOT NULL
       AND m.joined <= period_end
       AND period_end - m.joined < v_days;
  RETURN QUERY
    SELECT * FROM mlm_ref._level_walk(plan, v_b->'rates', NULL, 'none', 'sponsor',
                                      members, volumes);
END $$;

------------------------------------------------------------------------------
-- Section 5.7: pool
------------------------------------------------------------------------------

-- TotalCV = sum of CV of every member; P = pct * TotalCV truncated to the
-- currency scale; nothing when P <= 0.  Participants: active members with
-- rank >= min_rank (rank 0 when absent), weight w = 1 ("equal", or no
-- shares) or the per-rank value of `shares`; w <= 0 is excluded; nothing
-- when W = sum w = 0.  In units u = 10^-scale, Pu = P / u: each participant
-- gets floor(Pu * w / W) units; the Pu - sum of those left over go one each
-- to the largest remainders (Pu * w / W - floor, compared exactly: all have
-- the denominator W, so the numerators mod(Pu * w, W) are compared), ties to
-- the smaller id.  Line (m, NULL, NULL, P, w / W, units * u), none for 0.
-- The rate w / W is numeric division of w and W written without trailing
-- zeros (an inexact quotient has no single exact value to compare).
CREATE FUNCTION mlm_ref.pool_lines(plan jsonb, bonus_name text,
                                   members regclass, volumes regclass)
RETURNS TABLE(recipient bigint, source bigint, level integer,
              base numeric, rate numeric, amount numeric)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_b     jsonb   := mlm_ref.bonus(plan, bonus_name, 'pool');
  v_scale integer := coalesce((plan #>> '{currency,scale}')::integer, 2);
  v_min   integer := coalesce(mlm_ref.rank_index(plan, v_b->>'min_rank'), 0);
  v_equal boolean := coalesce(jsonb_typeof(v_b->'shares') <> 'object', true);
  v_p     numeric;
  v_pu    numeric;
  v_w     numeric;
  v_left  numeric;
BEGIN
  PERFORM mlm_ref._scratch();
  TRUNCATE _ref_po;
  v_p := trunc((v_b->>'pct')::numeric *
               (SELECT coalesce(sum(v.cv), 0) FROM mlm_ref.volumes_of(members, volumes) v),
               v_scale);
  IF v_p <= 0 THEN
    RETURN;
  END IF;
  v_pu := v_p * ('1e' || v_scale)::numeric;
  INSERT INTO _ref_po (id, w)
    SELECT r.member_id,
           CASE WHEN v_equal THEN 1
                ELSE mlm_ref.by_rank(plan, v_b->'shares', r.rank_index) END
      FROM mlm_ref.member_results(plan, members, volumes) r
     WHERE r.active AND r.rank_index >= v_min;
  DELETE FROM _ref_po p WHERE p.w <= 0;
  v_w := (SELECT coalesce(sum(p.w), 0) FROM _ref_po p);
  IF v_w = 0 THEN
    RETURN;
  END IF;
  UPDATE _ref_po p SET units = div(v_pu * p.w, v_w), rem = mod(v_pu * p.w, v_w);
  v_left := v_pu - (SELECT sum(p.units) FROM _ref_po p);
  UPDATE _ref_po p SET units = p.units + 1
   WHERE p.id IN (SELECT q.id FROM _ref_po q ORDER BY q.rem DESC, q.id LIMIT v_left::bigint);
  RETURN QUERY
    SELECT p.id, NULL::bigint, NULL::integer, v_p, trim_scale(p.w) / trim_scale(v_w),
           p.units * ('1e' || -v_scale)::numeric
      FROM _ref_po p
     WHERE p.units <> 0
     ORDER BY p.id;
END $$;

------------------------------------------------------------------------------
-- Section 5.4: binary
------------------------------------------------------------------------------

-- One row per member of the network (members outside the placement tree
-- included; their new volume is 0):
--   new(m, side)  = CV of the placement subtree of m's child at position
--                   side (0 = left, 1 = right), 0 if the slot is empty
--   leg(m, side)  = carry_in(m, side) + new(m, side)
--   qualified(m)  = active(m) and (unless require_sponsored_each_leg is
--                   false) an active member sponsored by m in each of the
--                   two placement subtrees
--   qualified, rate:  paired = max(0, min(leg_l, leg_r)); amount =
--                   rate * paired, lowered to cap; carry = leg - paired
--   qualified, cycle {left a, right b, amount x}: c = max(0,
--                   min(floor(leg_l / a), floor(leg_r / b))); amount = c * x,
--                   lowered to cap; carry_l = leg_l - c*a, carry_r = leg_r - c*b
--   not qualified: no pay; carry = 0 if flush_when_unqualified else leg
--   finally carry = min(carry, max_carry) when max_carry is set.
-- paired_base is `paired` (rate style) or `c` (cycle style), rate is the
-- plan's rate or the cycle amount x; a line exists iff qualified and
-- amount <> 0.  Unqualified rows have paired_base = 0 and amount = 0.
CREATE FUNCTION mlm_ref.binary(plan jsonb, bonus_name text, members regclass,
                               volumes regclass, carry regclass DEFAULT NULL)
RETURNS TABLE(member_id bigint, paired_base numeric, rate numeric, amount numeric,
              carry_left numeric, carry_right numeric, qualified boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_b         jsonb   := mlm_ref.bonus(plan, bonus_name, 'binary');
  v_rate      numeric := (v_b->>'rate')::numeric;
  v_cyc_l     numeric := (v_b #>> '{cycle,left}')::numeric;
  v_cyc_r     numeric := (v_b #>> '{cycle,right}')::numeric;
  v_cyc_x     numeric := (v_b #>> '{cycle,amount}')::numeric;
  v_cap       numeric := (v_b->>'cap')::numeric;
  v_max_carry numeric := (v_b->>'max_carry')::numeric;
  v_flush     boolean := coalesce((v_b->>'flush_when_unqualified')::boolean, false);
  v_req       boolean := coalesce((v_b->>'require_sponsored_each_leg')::boolean, true);
  m           record;
  v_new_l     numeric;
  v_new_r     numeric;
  v_leg_l     numeric;
  v_leg_r     numeric;
  v_q         boolean;
  v_base      numeric;
  v_amount    numeric;
  v_out_l     numeric;
  v_out_r     numeric;
BEGIN
  IF (v_b ? 'rate') = (v_b ? 'cycle') THEN
    RAISE EXCEPTION 'mlm_ref: binary bonus needs exactly one of rate, cycle';
  END IF;
  PERFORM mlm_ref._scratch();
  TRUNCATE _ref_bin, _ref_bin_anc;

  INSERT INTO _ref_bin (id, sponsor_id, placement_id, "position", active, cv,
                        carry_in_l, carry_in_r)
    SELECT mo.id, mo.sponsor_id, mo.placement_id, mo.position,
           r.active, v.cv,
           coalesce(ci.carry_left, 0)  AS carry_in_l,
           coalesce(ci.carry_right, 0) AS carry_in_r
      FROM mlm_ref.members_of(members) mo
      JOIN mlm_ref.member_results(plan, members, volumes) r ON r.member_id = mo.id
      JOIN mlm_ref.volumes_of(members, volumes) v ON v.member_id = mo.id
      LEFT JOIN mlm_ref.carry_of(members, carry) ci ON ci.member_id = mo.id;

  INSERT INTO _ref_bin_anc (member, ancestor, dist)
    SELECT * FROM mlm_ref.ancestors(members, 'placement');
  ANALYZE _ref_bin;
  ANALYZE _ref_bin_anc;

  FOR m IN SELECT * FROM _ref_bin ORDER BY id LOOP
    -- new volume: CV over the placement subtree of the child at each side
    SELECT coalesce(sum(x.cv), 0) INTO v_new_l
      FROM _ref_bin ch
      JOIN _ref_bin_anc a ON a.ancestor = ch.id
      JOIN _ref_bin x ON x.id = a.member
     WHERE ch.placement_id = m.id AND ch.position = 0;
    SELECT coalesce(sum(x.cv), 0) INTO v_new_r
      FROM _ref_bin ch
      JOIN _ref_bin_anc a ON a.ancestor = ch.id
      JOIN _ref_bin x ON x.id = a.member
     WHERE ch.placement_id = m.id AND ch.position = 1;
    v_leg_l := m.carry_in_l + v_new_l;
    v_leg_r := m.carry_in_r + v_new_r;

    v_q := m.active AND (NOT v_req OR (
             EXISTS (SELECT 1 FROM _ref_bin ch
                       JOIN _ref_bin_anc a ON a.ancestor = ch.id
                       JOIN _ref_bin s ON s.id = a.member
                      WHERE ch.placement_id = m.id AND ch.position = 0
                        AND s.sponsor_id = m.id AND s.active)
         AND EXISTS (SELECT 1 FROM _ref_bin ch
                       JOIN _ref_bin_anc a ON a.ancestor = ch.id
                       JOIN _ref_bin s ON s.id = a.member
                      WHERE ch.placement_id = m.id AND ch.position = 1
                        AND s.sponsor_id = m.id AND s.active)));

    IF v_q THEN
      IF v_rate IS NOT NULL THEN
        v_base   := greatest(0, least(v_leg_l, v_leg_r));
        v_amount := v_rate * v_base;
        v_out_l  := v_leg_l - v_base;
        v_out_r  := v_leg_r - v_base;
      ELSE
        v_base   := greatest(0, least(mlm_ref.floor_div(v_leg_l, v_cyc_l),
                                      mlm_ref.floor_div(v_leg_r, v_cyc_r)));
        v_amount := v_base * v_cyc_x;
        v_out_l  := v_leg_l - v_base * v_cyc_l;
        v_out_r  := v_leg_r - v_base * v_cyc_r;
      END IF;
      IF v_cap IS NOT NULL AND v_amount > v_cap THEN
        v_amount := v_cap;
      END IF;
    ELSE
      v_base   := 0;
      v_amount := 0;
      IF v_flush THEN
        v_out_l := 0;
        v_out_r := 0;
      ELSE
        v_out_l := v_leg_l;
        v_out_r := v_leg_r;
      END IF;
    END IF;
    IF v_max_carry IS NOT NULL THEN
      v_out_l := least(v_out_l, v_max_carry);
      v_out_r := least(v_out_r, v_max_carry);
    END IF;

    member_id   := m.id;
    paired_base := v_base;
    rate        := coalesce(v_rate, v_cyc_x);
    amount      := v_amount;
    carry_left  := v_out_l;
    carry_right := v_out_r;
    qualified   := v_q;
    RETURN NEXT;
  END LOOP;
END $$;

------------------------------------------------------------------------------
-- Section 5.5: matching, and the lines of any bonus
------------------------------------------------------------------------------

-- The exact lines of one bonus of the plan, whatever its type (section 5):
-- (recipient, source, level, base, rate, amount); binary lines have source
-- and level NULL, base the paired volume (rate style) or the number of
-- cycles, rate the plan's rate or the cycle amount.
CREATE FUNCTION mlm_ref.bonus_lines(plan jsonb, bonus_name text, members regclass,
                                    volumes regclass, carry regclass DEFAULT NULL,
                                    period_end date DEFAULT NULL)
RETURNS TABLE(recipient bigint, source bigint, level integer,
              base numeric, rate numeric, amount numeric)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_type text := (SELECT b->>'type' FROM jsonb_array_elements(plan->'bonuses') AS b
                   WHERE b->>'name' = bonus_name);
BEGIN
  CASE v_type
    WHEN 'personal' THEN
      RETURN QUERY SELECT * FROM mlm_ref.personal_lines(plan, bonus_name, members, volumes);
    WHEN 'unilevel' THEN
      RETURN QUERY SELECT * FROM mlm_ref.unilevel_lines(plan, bonus_name, members, volumes);
    WHEN 'differential' THEN
      RETURN QUERY SELECT * FROM mlm_ref.differential_lines(plan, bonus_name, members, volumes);
    WHEN 'fast_start' THEN
      RETURN QUERY SELECT * FROM mlm_ref.fast_start_lines(plan, bonus_name, members, volumes,
                                                          period_end);
    WHEN 'pool' THEN
      RETURN QUERY SELECT * FROM mlm_ref.pool_lines(plan, bonus_name, members, volumes);
    WHEN 'binary' THEN
      RETURN QUERY
        SELECT b.member_id, NULL::bigint, NULL::integer, b.paired_base, b.rate, b.amount
          FROM mlm_ref.binary(plan, bonus_name, members, volumes, carry) b
         WHERE b.qualified AND b.amount <> 0;
    WHEN 'matching' THEN
      RETURN QUERY SELECT * FROM mlm_ref.matching_lines(plan, bonus_name, members, volumes,
                                                        carry, period_end);
    ELSE
      RAISE EXCEPTION 'mlm_ref: bonus "%" has type "%", which the reference does not know',
        bonus_name, v_type;
  END CASE;
END $$;

-- Section 5.5: E(x) = sum of x's payouts of the bonuses listed in `of`, each
-- the exact sum of x's lines of that bonus rounded once (section 6), before
-- the cap.  The level walk of unilevel over E on the sponsor tree, with the
-- bonus's compression and min_rank_by_generation.
CREATE FUNCTION mlm_ref.matching_lines(plan jsonb, bonus_name text, members regclass,
                                       volumes regclass, carry regclass DEFAULT NULL,
                                       period_end date DEFAULT NULL)
RETURNS TABLE(recipient bigint, source bigint, level integer,
              base numeric, rate numeric, amount numeric)
LANGUAGE plpgsql AS $$
DECLARE
  v_b     jsonb   := mlm_ref.bonus(plan, bonus_name, 'matching');
  v_scale integer := coalesce((plan #>> '{currency,scale}')::integer, 2);
  v_mode  text    := coalesce(plan #>> '{currency,rounding}', 'half_up');
  v_of    text;
BEGIN
  IF coalesce(jsonb_array_length(v_b->'of'), 0) = 0 THEN
    RAISE EXCEPTION 'mlm_ref: matching bonus "%" has no "of"', bonus_name;
  END IF;
  PERFORM mlm_ref._scratch();
  TRUNCATE _ref_mt_e;
  FOR v_of IN SELECT x FROM jsonb_array_elements_text(v_b->'of') AS x LOOP
    IF (SELECT b->>'type' FROM jsonb_array_elements(plan->'bonuses') AS b
         WHERE b->>'name' = v_of) = 'matching' THEN
      RAISE EXCEPTION 'mlm_ref: matching bonus "%" matches the matching bonus "%"',
        bonus_name, v_of;
    END IF;
    INSERT INTO _ref_mt_e (id, e)
      SELECT l.recipient, mlm_ref.round(sum(l.amount), v_scale, v_mode)
        FROM mlm_ref.bonus_lines(plan, v_of, members, volumes, carry, period_end) l
       GROUP BY l.recipient;
  END LOOP;
  -- _ref_walk_base is filled only now: the bonuses above use it too
  TRUNCATE _ref_walk_base;
  INSERT INTO _ref_walk_base (id, base)
    SELECT e.id, sum(e.e) FROM _ref_mt_e e GROUP BY e.id;
  RETURN QUERY
    SELECT * FROM mlm_ref._level_walk(plan, v_b->'rates', v_b->'min_rank_by_generation',
                                      coalesce(v_b->>'compression', 'none'), 'sponsor',
                                      members, volumes);
END $$;

-- Section 5 / 8: every line of every bonus of the plan, tagged with the
-- bonus name.
CREATE FUNCTION mlm_ref.lines(plan jsonb, members regclass, volumes regclass,
                              carry regclass DEFAULT NULL, period_end date DEFAULT NULL)
RETURNS TABLE(recipient bigint, bonus text, source bigint, level integer,
              base numeric, rate numeric, amount numeric)
LANGUAGE plpgsql AS $$
DECLARE
  v_name text;
BEGIN
  FOR v_name IN SELECT b->>'name' FROM jsonb_array_elements(plan->'bonuses') AS b LOOP
    RETURN QUERY
      SELECT l.recipient, v_name, l.source, l.level, l.base, l.rate, l.amount
        FROM mlm_ref.bonus_lines(plan, v_name, members, volumes, carry, period_end) l;
  END LOOP;
END $$;

------------------------------------------------------------------------------
-- Sections 6 and 7: payouts
------------------------------------------------------------------------------

-- Section 6: per (member, bonus) the exact sum of its lines, rounded once to
-- currency.scale (default 2) with currency.rounding (default half_up);
-- (member, bonus) pairs that round to 0 have no row.
-- Section 7 (optional plan.cap {"pct": p}): L = p * TotalCV truncated to the
-- scale, 0 if negative; T = sum of the rounded payouts; when T > L every
-- payout A becomes A * L / T truncated toward zero to the scale (computed on
-- integer units with the exact integer quotient div()).
-- Section 8: "every non-zero rounded payout, after the cap": a payout the
-- cap truncates to 0 has no row either.
CREATE FUNCTION mlm_ref.payouts(plan jsonb, members regclass, volumes regclass,
                                carry regclass DEFAULT NULL, period_end date DEFAULT NULL)
RETURNS TABLE(member_id bigint, bonus text, amount numeric)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_scale integer := coalesce((plan #>> '{currency,scale}')::integer, 2);
  v_mode  text    := coalesce(plan #>> '{currency,rounding}', 'half_up');
  v_unit  numeric;
  v_inv   numeric;
  v_limit numeric;
  v_total numeric;
BEGIN
  v_unit := ('1e' || v_scale)::numeric;       -- units per currency unit, 10^scale
  v_inv  := ('1e' || -v_scale)::numeric;      -- 10^-scale
  PERFORM mlm_ref._scratch();
  TRUNCATE _ref_pay_lines, _ref_pay;

  INSERT INTO _ref_pay_lines
    SELECT l.recipient, l.bonus, l.amount
      FROM mlm_ref.lines(plan, members, volumes, carry, period_end) l;

  INSERT INTO _ref_pay (member_id, bonus, amount)
    SELECT l.recipient AS member_id, l.bonus,
           mlm_ref.round(sum(l.amount), v_scale, v_mode) AS amount
      FROM _ref_pay_lines l
     GROUP BY l.recipient, l.bonus;
  DELETE FROM _ref_pay p WHERE p.amount = 0;

  IF plan ? 'cap' THEN
    v_limit := greatest(trunc((plan #>> '{cap,pct}')::numeric *
                              (SELECT coalesce(sum(v.cv), 0)
                                 FROM mlm_ref.volumes_of(members, volumes) v),
                              v_scale), 0);
    SELECT coalesce(sum(p.amount), 0) INTO v_total FROM _ref_pay p;
    IF v_total > v_limit THEN
      -- A * L / T truncated toward zero, in integer units:
      -- div(A_u * L_u, T_u) with A_u = A * 10^scale etc.
      UPDATE _ref_pay p
         SET amount = round(div((p.amount * v_unit) * (v_limit * v_unit),
                                v_total * v_unit) * v_inv, v_scale);
      DELETE FROM _ref_pay p WHERE p.amount = 0;
    END IF;
  END IF;

  RETURN QUERY SELECT p.member_id, p.bonus, p.amount FROM _ref_pay p ORDER BY 1, 2;
END $$;

-- Section 7: the cap numbers (L, T, f) of a plan; cap_limit and cap_factor are NULL without plan.cap, cap_factor is
-- NULL when T <= L.  f is given as the exact fraction L / T (numerator and
-- denominator) and, for convenience, as numeric rounded to 60 digits.
CREATE FUNCTION mlm_ref.cap_info(plan jsonb, members regclass, volumes regclass,
                                 carry regclass DEFAULT NULL, period_end date DEFAULT NULL)
RETURNS TABLE(total_cv numeric, total_before_cap numeric, cap_limit numeric,
              cap_factor numeric)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_scale integer := coalesce((plan #>> '{currency,scale}')::integer, 2);
BEGIN
  total_cv := (SELECT coalesce(sum(v.cv), 0) FROM mlm_ref.volumes_of(members, volumes) v);
  -- total before the cap: the same payouts with the cap removed
  total_before_cap := (SELECT coalesce(sum(p.amount), 0)
                         FROM mlm_ref.payouts(plan - 'cap', members, volumes, carry, period_end) p);
  IF plan ? 'cap' THEN
    cap_limit := greatest(trunc((plan #>> '{cap,pct}')::numeric * total_cv, v_scale), 0);
    IF total_before_cap > cap_limit THEN
      -- floor(f * 10^61), then half-up to 60 digits, all exact
      cap_factor := div(cap_limit * ('1e61')::numeric, total_before_cap);
      cap_factor := div(cap_factor + 5, 10) * ('1e-60')::numeric;
    END IF;
  END IF;
  RETURN NEXT;
END $$;

------------------------------------------------------------------------------
-- Downline aggregates of the extension (mlm.volume_summary, mlm.leg_volumes)
------------------------------------------------------------------------------

-- mlm.volume_summary(members, volumes, levels, active_min_pv), from its
-- definition: per member its sponsor, depth (section 3), PV, CV, GV (PV of
-- the subtree), group CV (CV of the subtree), active (active_status, NULL =
-- true, and PV >= active_min_pv when given), frontline (number of sponsored
-- members) and, when levels > 0, the array of the PV of its level-k
-- descendants for k = 1 .. levels (0 for an empty level); NULL when
-- levels = 0.
CREATE FUNCTION mlm_ref.volume_summary(members regclass, volumes regclass,
                                       levels integer DEFAULT 0,
                                       active_min_pv numeric DEFAULT NULL)
RETURNS TABLE(member_id bigint, sponsor_id bigint, depth integer, pv numeric,
              cv numeric, gv numeric, group_cv numeric, active boolean,
              frontline integer, level_pv numeric[])
LANGUAGE sql AS $$
  WITH m AS (SELECT * FROM mlm_ref.members_of(members)),
  v AS (SELECT * FROM mlm_ref.volumes_of(members, volumes)),
  anc AS (SELECT * FROM mlm_ref.ancestors(members, 'sponsor'))
  SELECT m.id, m.sponsor_id,
         (SELECT max(a.dist) FROM anc a WHERE a.member = m.id)::integer,
         mv.pv, mv.cv,
         (SELECT sum(x.pv) FROM anc a JOIN v x ON x.member_id = a.member WHERE a.ancestor = m.id),
         (SELECT sum(x.cv) FROM anc a JOIN v x ON x.member_id = a.member WHERE a.ancestor = m.id),
         coalesce(m.active_status, true) AND (active_min_pv IS NULL OR mv.pv >= active_min_pv),
         (SELECT count(*) FROM m c WHERE c.sponsor_id = m.id)::integer,
         CASE WHEN levels > 0 THEN
           ARRAY(SELECT coalesce((SELECT sum(x.pv) FROM anc a JOIN v x ON x.member_id = a.member
                                   WHERE a.ancestor = m.id AND a.dist = k), 0)
                   FROM generate_series(1, levels) AS k ORDER BY k)
         END
    FROM m JOIN v mv ON mv.member_id = m.id
   ORDER BY m.id
$$;

-- mlm.leg_volumes(members, volumes): one row per member and sponsored
-- member (a leg, section 3): the leg's GV and its number of members.
CREATE FUNCTION mlm_ref.leg_volumes(members regclass, volumes regclass)
RETURNS TABLE(member_id bigint, leg_id bigint, volume numeric, leg_members integer)
LANGUAGE sql AS $$
  WITH m AS (SELECT * FROM mlm_ref.members_of(members)),
  v AS (SELECT * FROM mlm_ref.volumes_of(members, volumes)),
  anc AS (SELECT * FROM mlm_ref.ancestors(members, 'sponsor'))
  SELECT c.sponsor_id, c.id,
         (SELECT sum(x.pv) FROM anc a JOIN v x ON x.member_id = a.member WHERE a.ancestor = c.id),
         (SELECT count(*) FROM anc a WHERE a.ancestor = c.id)::integer
    FROM m c
   WHERE c.sponsor_id IS NOT NULL
   ORDER BY 1, 2
$$;
