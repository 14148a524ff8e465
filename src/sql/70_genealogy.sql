
-- ---------------------------------------------------------------------------
-- 70_genealogy.sql: a member's downline as it was paid, for pictures
-- ---------------------------------------------------------------------------

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
