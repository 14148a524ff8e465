-- test/reference/reference.sql
--
-- An independent, deliberately simple reference implementation of the mlm
-- compensation semantics (docs: /work/shared/spec/compensation.md, "the
-- spec"), written from the spec text only, in plain SQL / PL/pgSQL with
-- numeric arithmetic (no float anywhere).  It is meant for small networks
-- (a few hundred members): everything is O(n * depth) or worse, computed the
-- obvious way (ancestor closure tables, bottom-up loops over depth levels, one
-- loop iteration per member for the binary bonus).
--
-- It covers: member results (PV, GV, active, rank; sections 3 and 4), the
-- personal (5.1), unilevel (5.2) and binary (5.4) bonuses, rounding (6) and
-- the total cap (7).  Other bonus types raise an error.
--
-- Input convention (all functions):
--   members  regclass: columns id, sponsor_id, placement_id, position,
--            active_status, joined (placement_id, position, active_status and
--            joined may be absent: absent = NULL); active_status NULL = true.
--   volumes  regclass: member_id, pv, cv, rv; several rows per member are
--            summed; a member without rows has 0.
--   carry    regclass or NULL: member_id, carry_left, carry_right.
--   plan     jsonb in the plan language of section 9.
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

-- For each member d with CV(d) != 0 and each k = 1 .. L: a_k is d's k-th
-- ancestor (compression "none") or k-th *active* ancestor ("dynamic") in the
-- sponsor or placement tree (`tree`).  When a_k exists, is active and
-- rank(a_k) >= min_rank_by_level[k]: a line (a_k, source d, level k,
-- base CV(d), rate r_k).  Otherwise the level is breakage.  Zero amounts make
-- no line.
CREATE FUNCTION mlm_ref.unilevel_lines(plan jsonb, bonus_name text,
                                       members regclass, volumes regclass)
RETURNS TABLE(recipient bigint, source bigint, level integer,
              base numeric, rate numeric, amount numeric)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_b    jsonb := mlm_ref.bonus(plan, bonus_name, 'unilevel');
  v_comp text  := coalesce(v_b->>'compression', 'none');
  v_tree text  := coalesce(v_b->>'tree', 'sponsor');
BEGIN
  IF v_comp NOT IN ('none', 'dynamic') OR v_tree NOT IN ('sponsor', 'placement') THEN
    RAISE EXCEPTION 'mlm_ref: bad unilevel compression % or tree %', v_comp, v_tree;
  END IF;
  PERFORM mlm_ref._scratch();
  TRUNCATE _ref_ul, _ref_ul_level, _ref_ul_anc;

  INSERT INTO _ref_ul (id, active, rank_index, cv)
    SELECT r.member_id AS id, r.active, r.rank_index, v.cv
      FROM mlm_ref.member_results(plan, members, volumes) r
      JOIN mlm_ref.volumes_of(members, volumes) v ON v.member_id = r.member_id;
  ANALYZE _ref_ul;

  -- level k: rate r_k and the minimum rank index (0 when not given)
  INSERT INTO _ref_ul_level (k, r, min_rank)
    SELECT x.k::integer AS k, x.r::numeric AS r,
           coalesce(mlm_ref.rank_index(plan, v_b->'min_rank_by_level'->>(x.k::integer - 1)), 0)
             AS min_rank
      FROM jsonb_array_elements_text(v_b->'rates') WITH ORDINALITY AS x(r, k);

  -- (source d, ancestor a, k): k = dist for "none"; for "dynamic" only
  -- active ancestors are numbered, nearest first.
  INSERT INTO _ref_ul_anc (source, ancestor, k)
    SELECT a.member AS source, a.ancestor,
           CASE WHEN v_comp = 'none' THEN a.dist
                ELSE row_number() OVER (PARTITION BY a.member ORDER BY a.dist)::integer
           END AS k
      FROM mlm_ref.ancestors(members, v_tree) a
      JOIN _ref_ul x ON x.id = a.ancestor
     WHERE a.dist >= 1
       AND (v_comp = 'none' OR x.active);
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
-- Sections 6 and 7: payouts
------------------------------------------------------------------------------

-- Section 6: per (member, bonus) the exact sum of its lines, rounded once to
-- currency.scale (default 2) with currency.rounding (default half_up);
-- (member, bonus) pairs that round to 0 have no row.
-- Section 7 (optional plan.cap {"pct": p}): L = p * TotalCV truncated to the
-- scale, 0 if negative; T = sum of the rounded payouts; when T > L every
-- payout A becomes A * L / T truncated toward zero to the scale (computed on
-- integer units with the exact integer quotient div()).
-- Rows whose capped amount is 0 are dropped as well: section 8's "every
-- non-zero rounded payout, after the cap" is read as "non-zero after the
-- cap" (the spec is not explicit; test/pgtap/reference_compare.sql ignores
-- zero rows on both sides).
-- Only personal, unilevel and binary bonuses are supported.
CREATE FUNCTION mlm_ref.payouts(plan jsonb, members regclass, volumes regclass,
                                carry regclass DEFAULT NULL)
RETURNS TABLE(member_id bigint, bonus text, amount numeric)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_scale integer := coalesce((plan #>> '{currency,scale}')::integer, 2);
  v_mode  text    := coalesce(plan #>> '{currency,rounding}', 'half_up');
  v_unit  numeric;
  v_inv   numeric;
  v_bn    jsonb;
  v_limit numeric;
  v_total numeric;
BEGIN
  v_unit := ('1e' || v_scale)::numeric;       -- units per currency unit, 10^scale
  v_inv  := ('1e' || -v_scale)::numeric;      -- 10^-scale
  PERFORM mlm_ref._scratch();
  TRUNCATE _ref_pay_lines, _ref_pay;

  FOR v_bn IN SELECT e FROM jsonb_array_elements(plan->'bonuses') AS e LOOP
    CASE v_bn->>'type'
      WHEN 'personal' THEN
        INSERT INTO _ref_pay_lines
          SELECT l.recipient, v_bn->>'name', l.amount
            FROM mlm_ref.personal_lines(plan, v_bn->>'name', members, volumes) l;
      WHEN 'unilevel' THEN
        INSERT INTO _ref_pay_lines
          SELECT l.recipient, v_bn->>'name', l.amount
            FROM mlm_ref.unilevel_lines(plan, v_bn->>'name', members, volumes) l;
      WHEN 'binary' THEN
        INSERT INTO _ref_pay_lines
          SELECT b.member_id, v_bn->>'name', b.amount
            FROM mlm_ref.binary(plan, v_bn->>'name', members, volumes, carry) b
           WHERE b.qualified AND b.amount <> 0;
      ELSE
        RAISE EXCEPTION 'mlm_ref.payouts: bonus type "%" is not supported by the reference',
          v_bn->>'type';
    END CASE;
  END LOOP;

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

-- Section 7: the cap numbers (L, T, f) of a plan made of the supported bonus
-- types; cap_limit and cap_factor are NULL without plan.cap, cap_factor is
-- NULL when T <= L.  f is given as the exact fraction L / T (numerator and
-- denominator) and, for convenience, as numeric rounded to 60 digits.
CREATE FUNCTION mlm_ref.cap_info(plan jsonb, members regclass, volumes regclass,
                                 carry regclass DEFAULT NULL)
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
                         FROM mlm_ref.payouts(plan - 'cap', members, volumes, carry) p);
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
