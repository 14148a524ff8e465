-- Every traversal function of mlm.tree against an independent recursive CTE,
-- on random trees of several shapes (reproducible: setseed).
--
-- Shapes: random recursive (sponsor = random earlier member), preferential
-- (heavy-tailed frontlines: copying model), deep (sponsor among the last 5
-- members), chain, star, forest (several roots), sparse ids
-- (g * 7919 + random offset, odd ones negated: the sorted-index build path),
-- gapped ids (dense build path with holes and negatives), extremes (ids at
-- both ends of bigint), shuffled (dense ids in random order: sponsors'
-- ids are not below their recruits'), reverse (every sponsor's id above its
-- recruits'), and a single member.
BEGIN;
SET LOCAL client_min_messages = warning;
-- the function-heavy queries look expensive to the planner: no JIT
SET LOCAL jit = off;
SELECT setseed(0.20240917);

CREATE TEMP TABLE m (shape text, id bigint, sponsor_id bigint) ON COMMIT DROP;

CREATE FUNCTION pg_temp.gen(s text, n int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    par int[] := array_fill(NULL::int, ARRAY[n]);
    ids bigint[] := array_fill(NULL::bigint, ARRAY[n]);
    g int;
    r int;
BEGIN
    FOR g IN 2..n LOOP
        r := 1 + floor(random() * (g - 1))::int;
        par[g] := CASE s
            WHEN 'preferential' THEN CASE WHEN random() < 0.6 AND par[r] IS NOT NULL THEN par[r] ELSE r END
            WHEN 'deep' THEN g - 1 - floor(random() * least(5, g - 1))::int
            WHEN 'chain' THEN g - 1
            WHEN 'star' THEN 1
            WHEN 'forest' THEN CASE WHEN g <= 7 OR random() < 0.01 THEN NULL ELSE r END
            ELSE r
        END;
    END LOOP;
    IF s = 'shuffled' THEN
        ids := ARRAY(SELECT k::bigint FROM generate_series(1, n) k ORDER BY random());
    END IF;
    FOR g IN 1..n LOOP
        ids[g] := CASE s
            WHEN 'shuffled' THEN ids[g]
            WHEN 'reverse' THEN n + 1 - g
            WHEN 'sparse' THEN (g * 7919::bigint + floor(random() * 7919)::bigint) * CASE WHEN g % 2 = 1 THEN -1 ELSE 1 END
            WHEN 'gapped' THEN 2 * g - 3001
            WHEN 'extremes' THEN CASE g WHEN 1 THEN -9223372036854775808 WHEN 2 THEN 9223372036854775807
                                 ELSE g * 1000000007::bigint * CASE WHEN g % 2 = 1 THEN -1 ELSE 1 END END
            ELSE g
        END;
    END LOOP;
    INSERT INTO m SELECT s, ids[k], ids[par[k]] FROM generate_series(1, n) k;
END
$$;
DO $$
BEGIN
    PERFORM pg_temp.gen('random', 4000), pg_temp.gen('preferential', 4000),
            pg_temp.gen('deep', 800), pg_temp.gen('chain', 400), pg_temp.gen('star', 1500),
            pg_temp.gen('forest', 3000), pg_temp.gen('sparse', 3000),
            pg_temp.gen('gapped', 3000), pg_temp.gen('extremes', 300),
            pg_temp.gen('shuffled', 3000), pg_temp.gen('reverse', 2000),
            pg_temp.gen('single', 1);
END
$$;
CREATE INDEX ON m (shape, sponsor_id);
CREATE UNIQUE INDEX ON m (shape, id);
ANALYZE m;

-- the snapshots, stored (so out of line: the per-call-site cache keys on
-- the TOAST pointer), built from rows in random order
CREATE TEMP TABLE snap ON COMMIT DROP AS
SELECT shape, mlm.tree_agg(id, sponsor_id ORDER BY random()) AS t FROM m GROUP BY shape;

-- the reference: depth and root-first path of every member by recursive CTE
CREATE TEMP TABLE ref ON COMMIT DROP AS
WITH RECURSIVE r(shape, id, sponsor_id, depth, path) AS (
    SELECT shape, id, sponsor_id, 0, ARRAY[id] FROM m WHERE sponsor_id IS NULL
    UNION ALL
    SELECT m.shape, m.id, m.sponsor_id, r.depth + 1, r.path || m.id
    FROM r JOIN m ON m.shape = r.shape AND m.sponsor_id = r.id
)
SELECT * FROM r;
CREATE UNIQUE INDEX ON ref (shape, id);
-- ... and every (ancestor, descendant, level) pair, level 0 = itself
CREATE TEMP TABLE clo ON COMMIT DROP AS
WITH RECURSIVE c(shape, anc, des, lvl) AS (
    SELECT shape, id, id, 0 FROM m
    UNION ALL
    SELECT c.shape, c.anc, m.id, c.lvl + 1
    FROM c JOIN m ON m.shape = c.shape AND m.sponsor_id = c.des
)
SELECT * FROM c;
CREATE INDEX ON clo (shape, anc);
ANALYZE ref;
ANALYZE clo;
-- random member pairs per shape, and ids that are not members
CREATE TEMP TABLE pairs ON COMMIT DROP AS
SELECT a.shape, a.id AS a, d.id AS d
FROM (SELECT shape, id, row_number() OVER (PARTITION BY shape ORDER BY random()) AS k FROM m) a
JOIN (SELECT shape, id, row_number() OVER (PARTITION BY shape ORDER BY random()) AS k FROM m) d
  ON d.shape = a.shape AND d.k = a.k;
CREATE TEMP TABLE absent ON COMMIT DROP AS
SELECT DISTINCT m.shape, x.id
FROM m, LATERAL (VALUES (m.id + 1), (m.id - 1)) x(id)
WHERE m.id > -9223372036854775807 AND m.id < 9223372036854775806
  AND NOT EXISTS (SELECT 1 FROM m m2 WHERE m2.shape = m.shape AND m2.id = x.id);

SELECT plan(12 * 22 + 6);

-- sanity of the generated data
SELECT is((SELECT count(*) FROM ref), (SELECT count(*) FROM m), 'the CTE reaches every generated member');

CREATE FUNCTION pg_temp.check_shape(s text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    n bigint := (SELECT count(*) FROM m WHERE shape = s);
BEGIN
    RETURN NEXT is((SELECT mlm.size(t)::bigint FROM snap WHERE shape = s), n, s || ': size');
    RETURN NEXT is((SELECT array_agg(r ORDER BY o) FROM snap, mlm.roots(t) WITH ORDINALITY x(r, o) WHERE shape = s),
                   (SELECT array_agg(id ORDER BY id) FROM m WHERE shape = s AND sponsor_id IS NULL),
                   s || ': roots, by id');
    -- members(): preorder (= ordering by root-first path), sponsor, depth
    RETURN NEXT is((SELECT array_agg(x.member_id ORDER BY o) FROM snap, mlm.members(t) WITH ORDINALITY x(member_id, sponsor_id, depth, placement_id, "position", o) WHERE shape = s),
                   (SELECT array_agg(id ORDER BY path) FROM ref WHERE shape = s),
                   s || ': members() in preorder');
    RETURN NEXT is((SELECT count(*) FROM (SELECT x.* FROM snap, mlm.members(t) x WHERE snap.shape = s) x
                           FULL JOIN (SELECT * FROM ref WHERE shape = s) r ON r.id = x.member_id
                    WHERE (r.id IS NULL OR x.member_id IS NULL OR x.sponsor_id IS DISTINCT FROM r.sponsor_id
                          OR x.depth <> r.depth OR x.placement_id IS NOT NULL OR x."position" IS NOT NULL)),
                   0::bigint, s || ': members() sponsor and depth');
    RETURN NEXT is((SELECT count(*) FROM snap, ref r WHERE snap.shape = s AND r.shape = s
                    AND (mlm.depth(t, r.id) IS DISTINCT FROM r.depth
                         OR mlm.parent(t, r.id) IS DISTINCT FROM r.sponsor_id
                         OR NOT mlm.contains(t, r.id))),
                   0::bigint, s || ': depth, parent, contains of every member');
    RETURN NEXT is((SELECT count(*) FROM snap, ref r WHERE snap.shape = s AND r.shape = s
                    AND mlm.path(t, r.id) IS DISTINCT FROM r.path),
                   0::bigint, s || ': path of every member');
    RETURN NEXT is((SELECT count(*) FROM snap, (SELECT anc, count(*) AS k FROM clo WHERE shape = s GROUP BY anc) c
                    WHERE snap.shape = s AND mlm.subtree_size(t, c.anc) IS DISTINCT FROM c.k::int),
                   0::bigint, s || ': subtree_size of every member');
    RETURN NEXT is((SELECT count(*) FROM snap, m p WHERE snap.shape = s AND p.shape = s
                    AND ARRAY(SELECT mlm.children(t, p.id))
                        IS DISTINCT FROM ARRAY(SELECT c.id FROM m c WHERE c.shape = s AND c.sponsor_id = p.id ORDER BY c.id)),
                   0::bigint, s || ': children of every member, by id');
    -- upline of every member = the ancestor pairs; ordered by level
    RETURN NEXT is((SELECT count(*) FROM (
                        (SELECT d.id, u.member_id, u.level FROM snap, m d, mlm.upline(t, d.id) u WHERE snap.shape = s AND d.shape = s
                         EXCEPT ALL SELECT des, anc, lvl FROM clo WHERE shape = s AND lvl > 0)
                        UNION ALL
                        (SELECT des, anc, lvl FROM clo WHERE shape = s AND lvl > 0
                         EXCEPT ALL SELECT d.id, u.member_id, u.level FROM snap, m d, mlm.upline(t, d.id) u WHERE snap.shape = s AND d.shape = s)) x),
                   0::bigint, s || ': upline of every member');
    RETURN NEXT is((SELECT count(*) FROM snap, m d, mlm.upline(t, d.id) WITH ORDINALITY u(member_id, level, o)
                    WHERE snap.shape = s AND d.shape = s AND u.level <> u.o),
                   0::bigint, s || ': upline goes up one level a row');
    -- downline of every member = the descendant pairs, in preorder
    RETURN NEXT is((SELECT count(*) FROM (
                        (SELECT a.id, x.member_id, x.level FROM snap, m a, mlm.downline(t, a.id) x WHERE snap.shape = s AND a.shape = s
                         EXCEPT ALL SELECT anc, des, lvl FROM clo WHERE shape = s AND lvl > 0)
                        UNION ALL
                        (SELECT anc, des, lvl FROM clo WHERE shape = s AND lvl > 0
                         EXCEPT ALL SELECT a.id, x.member_id, x.level FROM snap, m a, mlm.downline(t, a.id) x WHERE snap.shape = s AND a.shape = s)) y),
                   0::bigint, s || ': downline of every member');
    RETURN NEXT is((SELECT count(*) FROM (
                        SELECT x.o, row_number() OVER (PARTITION BY a.id ORDER BY r.path) AS rn
                        FROM snap, m a, mlm.downline(t, a.id) WITH ORDINALITY x(member_id, level, o), ref r
                        WHERE snap.shape = s AND a.shape = s AND r.shape = s AND r.id = x.member_id) y
                    WHERE o <> rn),
                   0::bigint, s || ': downline in preorder');
    RETURN NEXT is((SELECT count(*) FROM (
                        (SELECT a.id, x.member_id, x.level FROM snap, m a, mlm.downline(t, a.id, 3) x WHERE snap.shape = s AND a.shape = s
                         EXCEPT ALL SELECT anc, des, lvl FROM clo WHERE shape = s AND lvl BETWEEN 1 AND 3)
                        UNION ALL
                        (SELECT anc, des, lvl FROM clo WHERE shape = s AND lvl BETWEEN 1 AND 3
                         EXCEPT ALL SELECT a.id, x.member_id, x.level FROM snap, m a, mlm.downline(t, a.id, 3) x WHERE snap.shape = s AND a.shape = s)) y),
                   0::bigint, s || ': downline with max_depth 3');
    RETURN NEXT is((SELECT count(*) FROM snap, m a WHERE snap.shape = s AND a.shape = s
                    AND (SELECT count(*) FROM mlm.downline(t, a.id, 0)) <> 0),
                   0::bigint, s || ': downline with max_depth 0 is empty');
    -- is_descendant and leg on every ancestor pair ...
    RETURN NEXT is((SELECT count(*) FROM snap, clo c, ref ra, ref rd
                    WHERE snap.shape = s AND c.shape = s AND ra.shape = s AND rd.shape = s
                      AND ra.id = c.anc AND rd.id = c.des
                      AND (mlm.is_descendant(t, c.anc, c.des) IS DISTINCT FROM (c.lvl > 0)
                           OR mlm.leg(t, c.anc, c.des) IS DISTINCT FROM
                              CASE WHEN c.lvl > 0 THEN rd.path[ra.depth + 2] END)),
                   0::bigint, s || ': is_descendant and leg on every ancestor pair');
    -- ... and on random pairs
    RETURN NEXT is((SELECT count(*) FROM snap, pairs p, ref ra, ref rd
                    WHERE snap.shape = s AND p.shape = s AND ra.shape = s AND rd.shape = s
                      AND ra.id = p.a AND rd.id = p.d
                      AND (mlm.is_descendant(t, p.a, p.d) IS DISTINCT FROM (rd.depth > ra.depth AND rd.path[ra.depth + 1] = p.a)
                           OR mlm.leg(t, p.a, p.d) IS DISTINCT FROM
                              CASE WHEN rd.depth > ra.depth AND rd.path[ra.depth + 1] = p.a THEN rd.path[ra.depth + 2] END)),
                   0::bigint, s || ': is_descendant and leg on random pairs');
    -- ids that are not members: NULL from scalar functions
    RETURN NEXT is((SELECT count(*) FROM snap, absent x WHERE snap.shape = s AND x.shape = s
                    AND (mlm.contains(t, x.id) OR mlm.depth(t, x.id) IS NOT NULL OR mlm.parent(t, x.id) IS NOT NULL
                         OR mlm.path(t, x.id) IS NOT NULL OR mlm.subtree_size(t, x.id) IS NOT NULL
                         OR mlm.is_descendant(t, x.id, x.id) IS NOT NULL OR mlm.leg(t, x.id, x.id) IS NOT NULL
                         OR mlm.placement_parent(t, x.id) IS NOT NULL)),
                   0::bigint, s || ': unknown ids give NULL');
    RETURN NEXT is((SELECT mlm.stats(t)::text FROM snap WHERE shape = s),
                   (SELECT ROW(count(*), count(*) FILTER (WHERE r.sponsor_id IS NULL),
                               count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM m c WHERE c.shape = s AND c.sponsor_id = r.id)),
                               max(r.depth), sum(r.depth)::numeric / count(*),
                               coalesce((SELECT max(k) FROM (SELECT count(*)::int AS k FROM m WHERE shape = s AND sponsor_id IS NOT NULL GROUP BY sponsor_id) f), 0))
                    FROM ref r WHERE r.shape = s)::text,
                   s || ': stats');
    -- text out/in is the identity; input order does not matter
    RETURN NEXT ok((SELECT t::text::mlm.tree::text = t::text FROM snap WHERE shape = s), s || ': text round trip');
    RETURN NEXT is((SELECT mlm.tree_agg(id, sponsor_id ORDER BY id DESC)::text FROM m WHERE shape = s),
                   (SELECT t::text FROM snap WHERE shape = s), s || ': row order does not matter');
    -- the same per-member answers from an in-memory (not stored) value
    RETURN NEXT is((SELECT count(*) FROM (SELECT mlm.tree_agg(id, sponsor_id) AS t FROM m WHERE shape = s) x, ref r
                    WHERE r.shape = s AND (mlm.depth(x.t, r.id) IS DISTINCT FROM r.depth
                                           OR mlm.parent(x.t, r.id) IS DISTINCT FROM r.sponsor_id)),
                   0::bigint, s || ': depth and parent from an in-memory value');
    -- the four-argument aggregate with no placement keeps the sponsor tree
    RETURN NEXT is((SELECT array_agg(ROW(x.member_id, x.sponsor_id, x.depth)::text ORDER BY o)
                    FROM (SELECT mlm.tree_agg(id, sponsor_id, NULL, NULL) AS t FROM m WHERE shape = s) y,
                         mlm.members(y.t) WITH ORDINALITY x(member_id, sponsor_id, depth, placement_id, "position", o)),
                   (SELECT array_agg(ROW(x.member_id, x.sponsor_id, x.depth)::text ORDER BY o)
                    FROM snap, mlm.members(t) WITH ORDINALITY x(member_id, sponsor_id, depth, placement_id, "position", o)
                    WHERE shape = s),
                   s || ': four-argument aggregate without placement');
END
$$;

SELECT pg_temp.check_shape(s)
FROM unnest(ARRAY['random', 'preferential', 'deep', 'chain', 'star', 'forest',
                  'sparse', 'gapped', 'extremes', 'shuffled', 'reverse', 'single']) s;

-- the shapes are what they claim to be
SELECT ok((SELECT (mlm.stats(t)).widest_frontline FROM snap WHERE shape = 'preferential')
          > 3 * (SELECT (mlm.stats(t)).widest_frontline FROM snap WHERE shape = 'random'),
          'preferential attachment has a much wider frontline than random');
SELECT ok((SELECT (mlm.stats(t)).max_depth FROM snap WHERE shape = 'deep') > 100
          AND (SELECT (mlm.stats(t)).max_depth FROM snap WHERE shape = 'chain') = 399
          AND (SELECT (mlm.stats(t)).roots FROM snap WHERE shape = 'forest') > 7,
          'deep, chain and forest shapes');

-- one call site fed a different tree on nearly every row (members of all
-- shapes in random order): the cache must follow the tree argument
SELECT is((SELECT count(*) FROM (SELECT * FROM ref ORDER BY random() LIMIT 3000) r
           JOIN snap s ON s.shape = r.shape
           WHERE mlm.depth(s.t, r.id) IS DISTINCT FROM r.depth
              OR mlm.path(s.t, r.id) IS DISTINCT FROM r.path),
          0::bigint, 'one call site over interleaved trees');

-- placement: a random valid placement tree (placement parent = a random
-- member of smaller id, position = rank among its placed children)
CREATE TEMP TABLE pl ON COMMIT DROP AS
SELECT id, sponsor_id, pid AS placement_id,
       CASE WHEN pid IS NOT NULL THEN (row_number() OVER (PARTITION BY pid ORDER BY random()) - 1)::int END AS "position"
FROM (SELECT id, sponsor_id,
             CASE WHEN id > 1 THEN 1 + floor(random() * (id - 1))::bigint END AS pid
      FROM m WHERE shape = 'random') x;
SELECT is((SELECT count(*) FROM (SELECT x.* FROM (SELECT mlm.tree_agg(id, sponsor_id, placement_id, "position") AS t FROM pl) y,
                                          mlm.members(y.t) x) x
                  FULL JOIN pl ON pl.id = x.member_id
           WHERE pl.id IS NULL OR x.member_id IS NULL
              OR x.sponsor_id IS DISTINCT FROM pl.sponsor_id
              OR x.placement_id IS DISTINCT FROM pl.placement_id
              OR x."position" IS DISTINCT FROM pl."position"),
          0::bigint, 'random placement: members() gives back every placement');
SELECT is((SELECT count(*) FROM (SELECT mlm.tree_agg(id, sponsor_id, placement_id, "position") AS t FROM pl) y, pl
           WHERE mlm.placement_parent(y.t, pl.id) IS DISTINCT FROM pl.placement_id
              OR mlm.depth(y.t, pl.id) IS DISTINCT FROM (SELECT depth FROM ref WHERE shape = 'random' AND ref.id = pl.id)),
          0::bigint, 'random placement: placement_parent and depth of every member');

SELECT * FROM finish();
ROLLBACK;
