-- test/pgtap/placement.sql
--
-- Placement at enrolment: mlm.place and mlm.place_many against an
-- independent reference written in PL/pgSQL from the rules alone (see
-- docs/placement.md), never from src/placement.c:
--
--   spillover (width w)   breadth-first from the sponsor (the sponsor
--                         first, children visited by position); the first
--                         node with a free position among 0..w-1 gets the
--                         lowest free one.
--   extreme_left/right    follow position 0 (1) down from the sponsor to the
--                         first free slot.
--   weaker_leg            the leg (placement subtree of the sponsor's child at
--                         position 0 / 1) with fewer members (or less summed
--                         CV with measure 'volume'); empty leg = 0; a tie
--                         goes left; then extreme_left (left leg) or
--                         extreme_right (right leg) from the sponsor.
--   place_many            in array order, each member placed as if the
--                         earlier ones were already in the tree.
--
-- Parts:
--   1. mlm.place against the reference on random trees (random, holey,
--      complete, chain, forest shapes; widths 2, 3, 5; many sponsors).
--   2. mlm.place_many against the reference placing one by one.
--   3. mlm.place_many against mlm.place called one member at a time with
--      the snapshot rebuilt after each member (10,000 spillover members of
--      width 3; 2,000 each for the binary methods).
--   4. weaker_leg by volume on a hand-made tree; ties.
--   5. anonymous probes.
--   6. every error.
--   7. probes below probes, snapshots wider than the width asked, the
--      unknown-sponsor error of mlm.place.
--
-- Run from the repository root in a database with pgtap and mlm:
--   pg_prove -d <db> test/pgtap/placement.sql
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT setseed(0.3141592653);

SELECT plan(137);

-- ---------------------------------------------------------------------------
-- The reference
-- ---------------------------------------------------------------------------

-- pt: placement trees of several scenarios; vol: their volumes
CREATE TEMP TABLE pt (sc int, id bigint, sponsor_id bigint, placement_id bigint, "position" int) ON COMMIT DROP;
CREATE TEMP TABLE vol (sc int, member_id bigint, pv numeric, cv numeric) ON COMMIT DROP;

-- spillover: a queue (array) of nodes in breadth-first order, the sponsor
-- first; the children of a full node join it in position order
CREATE FUNCTION pg_temp.ref_spill(p_sc int, s bigint, w int, OUT placement_id bigint, OUT "position" int)
LANGUAGE plpgsql AS $$
DECLARE
    q bigint[] := ARRAY[s];
    head int := 1;
    u bigint;
    kids bigint[];
    taken int[];
BEGIN
    LOOP
        u := q[head];
        SELECT coalesce(array_agg(t.id ORDER BY t."position"), '{}'),
               coalesce(array_agg(t."position"), '{}')
          INTO kids, taken
          FROM pt t WHERE t.sc = p_sc AND t.placement_id = u;
        SELECT min(g) INTO "position" FROM generate_series(0, w - 1) g WHERE g <> ALL (taken);
        IF "position" IS NOT NULL THEN
            placement_id := u;
            RETURN;
        END IF;
        q := q || kids;
        head := head + 1;
    END LOOP;
END
$$;

-- extreme: follow position `side` down from s to the first free slot
CREATE FUNCTION pg_temp.ref_extreme(p_sc int, s bigint, side int, OUT placement_id bigint, OUT "position" int)
LANGUAGE plpgsql AS $$
DECLARE
    a bigint := s;
    c bigint;
BEGIN
    LOOP
        SELECT t.id INTO c FROM pt t WHERE t.sc = p_sc AND t.placement_id = a AND t."position" = side;
        EXIT WHEN NOT FOUND;
        a := c;
    END LOOP;
    placement_id := a;
    "position" := side;
END
$$;

-- the leg of s at `side`: members, or summed CV, of the placement subtree
-- of s's child there (recursive CTE); 0 for an empty leg
CREATE FUNCTION pg_temp.ref_leg(p_sc int, s bigint, side int, measure text) RETURNS numeric
LANGUAGE sql AS $$
    WITH RECURSIVE sub(id) AS (
        SELECT t.id FROM pt t WHERE t.sc = p_sc AND t.placement_id = s AND t."position" = side
        UNION ALL
        SELECT t.id FROM pt t JOIN sub ON t.sc = p_sc AND t.placement_id = sub.id
    )
    SELECT CASE measure
           WHEN 'members' THEN (SELECT count(*)::numeric FROM sub)
           ELSE (SELECT coalesce(sum(v.cv), 0) FROM sub JOIN vol v ON v.sc = p_sc AND v.member_id = sub.id)
           END
$$;

CREATE FUNCTION pg_temp.ref_weaker(p_sc int, s bigint, measure text, OUT placement_id bigint, OUT "position" int)
LANGUAGE plpgsql AS $$
DECLARE
    side int;
BEGIN
    -- the right leg only when strictly weaker: a tie goes left
    side := CASE WHEN pg_temp.ref_leg(p_sc, s, 1, measure) < pg_temp.ref_leg(p_sc, s, 0, measure) THEN 1 ELSE 0 END;
    SELECT * INTO placement_id, "position" FROM pg_temp.ref_extreme(p_sc, s, side);
END
$$;

CREATE FUNCTION pg_temp.ref_place(p_sc int, s bigint, method text, w int, measure text DEFAULT 'members',
                                  OUT placement_id bigint, OUT "position" int)
LANGUAGE plpgsql AS $$
BEGIN
    CASE method
    WHEN 'spillover' THEN SELECT * INTO placement_id, "position" FROM pg_temp.ref_spill(p_sc, s, w);
    WHEN 'extreme_left' THEN SELECT * INTO placement_id, "position" FROM pg_temp.ref_extreme(p_sc, s, 0);
    WHEN 'extreme_right' THEN SELECT * INTO placement_id, "position" FROM pg_temp.ref_extreme(p_sc, s, 1);
    WHEN 'weaker_leg' THEN SELECT * INTO placement_id, "position" FROM pg_temp.ref_weaker(p_sc, s, measure);
    END CASE;
END
$$;

-- a batch, one by one: each member goes into pt before the next is placed
CREATE FUNCTION pg_temp.ref_batch(p_sc int, ids bigint[], sps bigint[], method text, w int, measure text DEFAULT 'members')
RETURNS TABLE (k int, member_id bigint, placement_id bigint, "position" int)
LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR i IN 1 .. cardinality(ids) LOOP
        SELECT * INTO r FROM pg_temp.ref_place(p_sc, sps[i], method, w, measure);
        INSERT INTO pt VALUES (p_sc, ids[i], sps[i], r.placement_id, r."position");
        k := i; member_id := ids[i]; placement_id := r.placement_id; "position" := r."position";
        RETURN NEXT;
    END LOOP;
END
$$;

-- ---------------------------------------------------------------------------
-- Random trees
-- ---------------------------------------------------------------------------
-- gen(sc, shape, n, w): n members, ids g*4 - 40 (so 0 and negative ids
-- occur), sponsor = a random earlier member (the sponsor tree is NOT the
-- placement tree: placement must only look at the placement tree).
--   random    each member in a random free slot of a random earlier member
--             that still has one
--   holey     the same, but 40% of the members never get children: free
--             slots stay open at every depth
--   forest    random, but about 2% of the members start a new placement
--             root and 2% have no placement at all
--   complete  heap order: levels filled left to right
--   chain     each member under the previous one at a random position
CREATE FUNCTION pg_temp.gen(p_sc int, shape text, n int, w int) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    par int[] := array_fill(NULL::int, ARRAY[n]);
    pos int[] := array_fill(NULL::int, ARRAY[n]);
    used bool[] := array_fill(false, ARRAY[n * w]);
    nfree int[] := array_fill(w, ARRAY[n]);
    open int[] := ARRAY[1];
    g int; i int; r int; k int; f int[]; len int;
BEGIN
    FOR g IN 2 .. n LOOP
        IF shape = 'complete' THEN
            par[g] := (g - 2) / w + 1;
            pos[g] := (g - 2) % w;
        ELSIF shape = 'chain' THEN
            par[g] := g - 1;
            pos[g] := floor(random() * w)::int;
        ELSIF shape = 'forest' AND random() < 0.04 THEN
            -- a new root (half of them) or a member outside the placement
            -- tree: both have no placement_id; either may get children
            IF random() < 0.5 THEN
                open := open || g;
            END IF;
        ELSE
            len := cardinality(open);
            IF len = 0 THEN
                open := ARRAY[g];
                CONTINUE;
            END IF;
            i := 1 + floor(random() * len)::int;
            r := open[i];
            SELECT array_agg(x) INTO f FROM generate_series(0, w - 1) x WHERE NOT used[(r - 1) * w + x + 1];
            k := f[1 + floor(random() * cardinality(f))::int];
            par[g] := r;
            pos[g] := k;
            used[(r - 1) * w + k + 1] := true;
            nfree[r] := nfree[r] - 1;
            IF nfree[r] = 0 THEN
                open[i] := open[len];
                open := open[1 : len - 1];
            END IF;
            IF shape <> 'holey' OR random() < 0.6 THEN
                open := open || g;
            END IF;
        END IF;
    END LOOP;
    INSERT INTO pt
    SELECT p_sc, x * 4 - 40,
           CASE WHEN x > 1 THEN (1 + floor(random() * (x - 1))::int) * 4 - 40 END,
           par[x] * 4 - 40, pos[x]
      FROM generate_series(1, n) x;
END
$$;

-- scenarios: (sc, shape, members, width)
CREATE TEMP TABLE scen (sc int PRIMARY KEY, shape text, n int, w int) ON COMMIT DROP;
INSERT INTO scen VALUES
    (1, 'random', 1500, 2), (2, 'random', 1500, 3), (3, 'random', 1500, 5),
    (4, 'holey', 1500, 2), (5, 'holey', 1500, 3), (6, 'holey', 1500, 5),
    (7, 'complete', 1000, 2), (8, 'complete', 1000, 3), (9, 'complete', 1200, 5),
    (10, 'chain', 300, 2), (11, 'chain', 300, 3), (12, 'chain', 200, 5),
    (13, 'forest', 1500, 2), (14, 'forest', 1500, 3), (15, 'forest', 1500, 5),
    (16, 'random', 1, 2), (17, 'random', 1, 3);
DO $$ BEGIN PERFORM pg_temp.gen(sc, shape, n, w) FROM scen ORDER BY sc; END $$;
CREATE INDEX ON pt (sc, placement_id, "position");
-- volumes: 0 to 3 rows per member, negative ones included
INSERT INTO vol
SELECT sc, id, 1, round((random() * 200 - 60)::numeric, 2)
  FROM pt, generate_series(1, 3) WHERE random() < 0.45;
ANALYZE pt;
ANALYZE vol;

-- the volumes relation of each binary scenario (member_id, pv, cv)
DO $$
DECLARE s int;
BEGIN
    FOR s IN SELECT sc FROM scen WHERE w = 2 LOOP
        EXECUTE format('CREATE TEMP VIEW vol_%s AS SELECT member_id, pv, cv FROM vol WHERE sc = %s', s, s);
    END LOOP;
END $$;

SELECT ok((SELECT count(*) FROM pt) = (SELECT sum(n) FROM scen)
          AND (SELECT count(*) FROM pt WHERE id = 0) > 0,
          'the random scenarios are built (id 0 and negative ids included)');
SELECT ok((SELECT bool_and(c > 1) FROM (SELECT count(*) c FROM pt WHERE placement_id IS NULL AND sc IN (13, 14, 15) GROUP BY sc) x),
          'the forest scenarios have several placement roots');

-- the snapshots (placement and sponsor tree), from rows in random order
CREATE TEMP TABLE snap ON COMMIT DROP AS
SELECT sc, mlm.tree_agg(id, sponsor_id, placement_id, "position" ORDER BY random()) AS t FROM pt GROUP BY sc;

-- sponsors: every placement root and its children (long searches), plus 70
-- random members (mostly short ones near the leaves)
CREATE TEMP TABLE spon ON COMMIT DROP AS
SELECT DISTINCT sc, id FROM (
    SELECT sc, id FROM pt WHERE placement_id IS NULL
    UNION ALL
    SELECT c.sc, c.id FROM pt c JOIN pt r ON r.sc = c.sc AND r.id = c.placement_id AND r.placement_id IS NULL
    UNION ALL
    SELECT sc, id FROM (SELECT sc, id, row_number() OVER (PARTITION BY sc ORDER BY random()) rn FROM pt) x WHERE rn <= 70
) y;

-- ---------------------------------------------------------------------------
-- 1. mlm.place against the reference
-- ---------------------------------------------------------------------------
-- every method the width allows: spillover always; the binary methods (and
-- weaker_leg by volume, method 'weaker_leg/volume' here) at width 2
CREATE TEMP TABLE cmp ON COMMIT DROP AS
SELECT s.sc, m.method, sp.id AS sponsor, p.placement_id, p."position", r.placement_id AS ref_id, r."position" AS ref_pos
  FROM scen s
  JOIN snap USING (sc)
  JOIN spon sp USING (sc)
 CROSS JOIN LATERAL unnest(CASE WHEN s.w = 2
                                THEN ARRAY['spillover', 'extreme_left', 'extreme_right', 'weaker_leg', 'weaker_leg/volume']
                                ELSE ARRAY['spillover'] END) m(method)
 CROSS JOIN LATERAL mlm.place(snap.t, sp.id, split_part(m.method, '/', 1), s.w,
                              coalesce(nullif(split_part(m.method, '/', 2), ''), 'members'),
                              CASE WHEN s.w = 2 THEN format('vol_%s', s.sc)::regclass END) p
 CROSS JOIN LATERAL pg_temp.ref_place(s.sc, sp.id, split_part(m.method, '/', 1), s.w,
                                      coalesce(nullif(split_part(m.method, '/', 2), ''), 'members')) r;

SELECT is((SELECT string_agg(format('sponsor %s: got (%s,%s), rule (%s,%s)', sponsor, placement_id, "position", ref_id, ref_pos), '; ')
             FROM (SELECT * FROM cmp c WHERE c.sc = x.sc AND c.method = x.method
                      AND (c.placement_id, c."position") IS DISTINCT FROM (c.ref_id, c.ref_pos)
                    ORDER BY sponsor LIMIT 5) d),
          NULL,
          format('place %s, %s tree of %s, width %s: %s sponsors as the rule says', x.method, x.shape, x.n, x.w, x.cnt))
  FROM (SELECT c.sc, c.method, s.shape, s.n, s.w, count(*) cnt
          FROM cmp c JOIN scen s USING (sc) GROUP BY 1, 2, 3, 4, 5) x
 ORDER BY x.sc, x.method;

-- the comparisons are not trivial: many slots are not directly under the
-- sponsor, at depth > 1 below it
SELECT cmp_ok((SELECT count(*) FROM cmp c JOIN pt p ON p.sc = c.sc AND p.id = c.placement_id
                WHERE c.method = 'spillover' AND p.placement_id IS DISTINCT FROM c.sponsor AND c.placement_id <> c.sponsor),
              '>', 50::bigint, 'spillover: many slots two or more levels below the sponsor');
SELECT cmp_ok((SELECT count(*) FROM cmp WHERE method = 'weaker_leg' AND "position" = 1), '>', 50::bigint,
              'weaker_leg: the right leg is chosen often');
SELECT cmp_ok((SELECT count(*) FROM cmp a JOIN cmp b USING (sc, sponsor)
                WHERE a.method = 'weaker_leg' AND b.method = 'weaker_leg/volume'
                  AND a."position" <> b."position"), '>', 20::bigint,
              'weaker_leg: members and volume choose different legs for many sponsors');

-- ---------------------------------------------------------------------------
-- 2. mlm.place_many against the reference placing one by one
-- ---------------------------------------------------------------------------
-- 300 new members per scenario; sponsor: a random earlier new member (a
-- third of the time: new members sponsor later ones), a "hot" member near
-- a placement root (depth <= 3: big legs that collect many of the batch's
-- members), or any member of the tree.  ref_batch inserts into pt, so the
-- batch runs on copies of the scenarios (sc + 100 * method number).
CREATE TEMP TABLE hot ON COMMIT DROP AS
WITH RECURSIVE d(sc, id, depth) AS (
    SELECT sc, id, 0 FROM pt WHERE placement_id IS NULL
    UNION ALL
    SELECT pt.sc, pt.id, d.depth + 1 FROM d JOIN pt ON pt.sc = d.sc AND pt.placement_id = d.id WHERE d.depth < 3
)
SELECT sc, array_agg(id) AS a FROM d GROUP BY sc;
CREATE TEMP TABLE bat ON COMMIT DROP AS
SELECT s.sc, s.w, array_agg(9000000 + g ORDER BY g) AS ids, array_agg(sp ORDER BY g) AS sps
  FROM scen s
  JOIN hot h USING (sc)
 CROSS JOIN LATERAL (SELECT array_agg(id) AS a FROM pt WHERE pt.sc = s.sc) ta
 CROSS JOIN LATERAL (
     SELECT g, CASE WHEN g > 1 AND x.r < 1.0 / 3 THEN 9000000 + 1 + floor(random() * (g - 1))::bigint
                    WHEN x.r < 2.0 / 3 THEN h.a[1 + floor(random() * cardinality(h.a))::int]
                    ELSE ta.a[1 + floor(random() * cardinality(ta.a))::int] END AS sp
       FROM generate_series(1, 300) g, LATERAL (SELECT random() + g * 0 AS r) x) x
 WHERE s.sc IN (1, 3, 4, 5, 7, 10, 13, 16)
 GROUP BY s.sc, s.w;

CREATE TEMP TABLE bmeth (mno int, method text, measure text) ON COMMIT DROP;
INSERT INTO bmeth VALUES (1, 'spillover', 'members'), (2, 'extreme_left', 'members'),
    (3, 'extreme_right', 'members'), (4, 'weaker_leg', 'members'), (5, 'weaker_leg', 'volume');

INSERT INTO pt SELECT b.sc + 100 * m.mno, p.id, p.sponsor_id, p.placement_id, p."position"
  FROM bat b JOIN pt p USING (sc) JOIN bmeth m ON b.w = 2 OR m.mno = 1;
INSERT INTO vol SELECT b.sc + 500, v.member_id, v.pv, v.cv FROM bat b JOIN vol v USING (sc) WHERE b.w = 2;
ANALYZE pt;

SELECT is((SELECT string_agg(format('#%s (member %s, sponsor %s): got (%s,%s), rule (%s,%s)',
                                    g.k, g.member_id, g.sponsor_id, g.placement_id, g."position", r.placement_id, r."position"), '; ')
             FROM (SELECT * FROM mlm.place_many(snap.t, b.ids, b.sps, m.method, b.w, m.measure,
                                                CASE WHEN b.w = 2 THEN format('vol_%s', b.sc)::regclass END)
                                 WITH ORDINALITY AS q(member_id, sponsor_id, placement_id, "position", k)) g
             FULL JOIN pg_temp.ref_batch(b.sc + 100 * m.mno, b.ids, b.sps, m.method, b.w, m.measure) r USING (k)
            WHERE (g.member_id, g.placement_id, g."position") IS DISTINCT FROM (r.member_id, r.placement_id, r."position")),
          NULL,
          format('place_many %s%s, %s tree of %s, width %s: 300 members as placed one by one by the rule',
                 m.method, CASE WHEN m.measure = 'volume' THEN ' by volume' ELSE '' END, s.shape, s.n, b.w))
  FROM bat b JOIN scen s USING (sc) JOIN snap USING (sc) JOIN bmeth m ON b.w = 2 OR m.mno = 1
 ORDER BY b.sc, m.mno;

-- the new members really do sponsor one another and nest below each other
SELECT cmp_ok((SELECT count(*) FROM pt WHERE sc > 100 AND id >= 9000000 AND placement_id >= 9000000), '>', 600::bigint,
              'place_many: many new members are placed below earlier new members');

-- ---------------------------------------------------------------------------
-- 3. One call for the batch = mlm.place one at a time, snapshot rebuilt
-- ---------------------------------------------------------------------------
-- one_by_one(tbl, new, method, width, measure, volumes): for each row of
-- `new` (k, id, sponsor_id) in k order, build the snapshot of tbl, ask
-- mlm.place, and insert the member where it says.
CREATE FUNCTION pg_temp.one_by_one(tbl regclass, newtbl regclass, method text, w int, measure text, vols regclass)
RETURNS TABLE (k int, member_id bigint, placement_id bigint, "position" int)
LANGUAGE plpgsql AS $$
DECLARE
    t mlm.tree;
    nm record;
    r record;
BEGIN
    FOR nm IN EXECUTE format('SELECT k, id, sponsor_id FROM %s ORDER BY k', newtbl) LOOP
        EXECUTE format('SELECT mlm.tree_agg(id, sponsor_id, placement_id, "position") FROM %s', tbl) INTO t;
        SELECT * INTO r FROM mlm.place(t, nm.sponsor_id, method, w, measure, vols);
        EXECUTE format('INSERT INTO %s VALUES ($1, $2, $3, $4)', tbl) USING nm.id, nm.sponsor_id, r.placement_id, r."position";
        k := nm.k; member_id := nm.id; placement_id := r.placement_id; "position" := r."position";
        RETURN NEXT;
    END LOOP;
END
$$;

-- compares place_many on the base snapshot with one_by_one; text of the
-- first differences, NULL when equal
CREATE FUNCTION pg_temp.batch_vs_single(tbl regclass, newtbl regclass, method text, w int, measure text, vols regclass)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    t mlm.tree;
    ids bigint[];
    sps bigint[];
    res text;
BEGIN
    EXECUTE format('SELECT mlm.tree_agg(id, sponsor_id, placement_id, "position") FROM %s', tbl) INTO t;
    EXECUTE format('SELECT array_agg(id ORDER BY k), array_agg(sponsor_id ORDER BY k) FROM %s', newtbl) INTO ids, sps;
    CREATE TEMP TABLE bvs_batch ON COMMIT DROP AS
    SELECT q.* FROM mlm.place_many(t, ids, sps, method, w, measure, vols)
           WITH ORDINALITY AS q(member_id, sponsor_id, placement_id, "position", k);
    CREATE TEMP TABLE bvs_single ON COMMIT DROP AS
    SELECT * FROM pg_temp.one_by_one(tbl, newtbl, method, w, measure, vols);
    SELECT format('%s of %s/%s members differ, first: %s', count(*),
                  (SELECT count(*) FROM bvs_batch), (SELECT count(*) FROM bvs_single),
                  string_agg(format('#%s batch (%s,%s) single (%s,%s)', d.k, d.bp, d.bpos, d.sp, d.spos), '; ' ORDER BY d.k)
                      FILTER (WHERE d.rn <= 3))
      INTO res
      FROM (SELECT k, b.placement_id bp, b."position" bpos, s.placement_id sp, s."position" spos,
                   row_number() OVER (ORDER BY k) rn
              FROM bvs_batch b FULL JOIN bvs_single s USING (k)
             WHERE (b.member_id, b.placement_id, b."position") IS DISTINCT FROM (s.member_id, s.placement_id, s."position")) d
    HAVING count(*) > 0;
    DROP TABLE bvs_batch;
    DROP TABLE bvs_single;
    RETURN res;
END
$$;

-- base trees: 1,000 members (random shape, width 3 and width 2)
SELECT pg_temp.gen(1003, 'random', 1000, 3) IS NULL AS "-" \g /dev/null
SELECT pg_temp.gen(1002, 'random', 1000, 2) IS NULL AS "-" \g /dev/null
CREATE TEMP TABLE base3 ON COMMIT DROP AS SELECT id, sponsor_id, placement_id, "position" FROM pt WHERE sc = 1003;
CREATE TEMP TABLE base_el ON COMMIT DROP AS SELECT id, sponsor_id, placement_id, "position" FROM pt WHERE sc = 1002;
CREATE TEMP TABLE base_er ON COMMIT DROP AS TABLE base_el;
CREATE TEMP TABLE base_wl ON COMMIT DROP AS TABLE base_el;
CREATE TEMP TABLE base_wv ON COMMIT DROP AS TABLE base_el;
CREATE TEMP TABLE vols2 ON COMMIT DROP AS
SELECT id AS member_id, 1::numeric AS pv, round((random() * 100 - 20)::numeric, 2) AS cv
  FROM base_el, generate_series(1, 2) WHERE random() < 0.6;

-- new members: k = 1..N, id 5000000 + k; sponsor: a random base member or,
-- 60% of the time, a random earlier new member
CREATE FUNCTION pg_temp.new_members(base regclass, cnt int) RETURNS TABLE (k int, id bigint, sponsor_id bigint)
LANGUAGE plpgsql AS $$
DECLARE
    bids bigint[];
BEGIN
    EXECUTE format('SELECT array_agg(id) FROM %s', base) INTO bids;
    RETURN QUERY
    SELECT g, 5000000 + g::bigint,
           CASE WHEN g > 1 AND random() < 0.6 THEN 5000000 + 1 + floor(random() * (g - 1))::bigint
                ELSE bids[1 + floor(random() * cardinality(bids))::int] END
      FROM generate_series(1, cnt) g;
END
$$;
CREATE TEMP TABLE new3 ON COMMIT DROP AS SELECT * FROM pg_temp.new_members('base3', 10000);
CREATE TEMP TABLE new2 ON COMMIT DROP AS SELECT * FROM pg_temp.new_members('base_el', 2000);

SELECT is(pg_temp.batch_vs_single('base3', 'new3', 'spillover', 3, 'members', NULL), NULL,
          'spillover width 3: 10,000 members in one place_many = one mlm.place at a time');
SELECT is(pg_temp.batch_vs_single('base_el', 'new2', 'extreme_left', 2, 'members', NULL), NULL,
          'extreme_left: 2,000 members in one place_many = one mlm.place at a time');
SELECT is(pg_temp.batch_vs_single('base_er', 'new2', 'extreme_right', 2, 'members', NULL), NULL,
          'extreme_right: 2,000 members in one place_many = one mlm.place at a time');
SELECT is(pg_temp.batch_vs_single('base_wl', 'new2', 'weaker_leg', 2, 'members', NULL), NULL,
          'weaker_leg by members: 2,000 members in one place_many = one mlm.place at a time');
SELECT is(pg_temp.batch_vs_single('base_wv', 'new2', 'weaker_leg', 2, 'volume', 'vols2'), NULL,
          'weaker_leg by volume: 2,000 members in one place_many = one mlm.place at a time');
-- the one-by-one trees are valid placement trees (no slot used twice)
SELECT lives_ok($$SELECT mlm.tree_agg(id, sponsor_id, placement_id, "position") FROM base3$$,
                'the 11,000-member tree built one by one is a valid snapshot');
SELECT is((SELECT count(*) FROM base3 WHERE "position" NOT BETWEEN 0 AND 2), 0::bigint,
          'spillover width 3 only uses positions 0..2');
-- forced matrix: spillover from the root alone fills level by level, so
-- all the new members under one sponsor make its subtree complete
SELECT is((SELECT string_agg(format('(%s,%s)', placement_id, "position"), ' ' ORDER BY k)
             FROM mlm.place_many('{1:::}'::mlm.tree, ARRAY[2,3,4,5,6,7,8,9,10,11,12,13,14],
                                 array_fill(1::bigint, ARRAY[13]), 'spillover', 3)
                  WITH ORDINALITY q(m, s, placement_id, "position", k)),
          '(1,0) (1,1) (1,2) (2,0) (2,1) (2,2) (3,0) (3,1) (3,2) (4,0) (4,1) (4,2) (5,0)',
          'spillover width 3 from one sponsor fills a complete ternary tree in heap order');

-- ---------------------------------------------------------------------------
-- 4. weaker_leg by volume, worked out by hand
-- ---------------------------------------------------------------------------
--                 1 (CV 1000: the sponsor's own volume never counts)
--             /       \
--           2 (10)      3 (30)
--          /    \          \
--       4 (30)  5 (5)       6 (20)
--       /   \       \
--    8 (7)  9 (7)    10 (no volume row)
--
-- 4 has two rows (20 + 10); 5 has 8 and -3.
--   sponsor 1, members: left {2,4,5,8,9,10} = 6, right {3,6} = 2 -> right,
--       extreme_right from 1: 3 -> 6 -> slot (6,1)
--   sponsor 1, volume: left 10+30+5+7+7+0 = 59, right 30+20 = 50 -> right -> (6,1)
--   sponsor 2, volume: left {4,8,9} 44, right {5,10} 5 -> right,
--       extreme_right from 2: 5 -> 10 -> (10,1)
--   sponsor 2, members: left 3, right 2 -> right -> (10,1)
--   sponsor 4, volume: 7 vs 7, a tie -> left, extreme_left from 4: 8 -> (8,0)
--   sponsor 5, volume: left empty (0), right {10} with no volume (0): tie -> (5,0)
--   sponsor 3, volume: left empty 0 < right 20 -> left -> (3,0)
--   sponsor 3, members: left 0 < right 1 -> left -> (3,0)
--   sponsor 6: both legs empty, tie -> left -> (6,0)
-- With 3's CV at 40 instead (right = 60 > 59): sponsor 1 by volume goes left
-- -> extreme_left from 1: 2 -> 4 -> 8 -> (8,0), while by members it still
-- goes right.
-- A negative leg is weaker: with an extra row -45 for 6, the right leg of 3
-- is -25 and 3's left leg (empty, 0) is heavier -> (6,1) (extreme_right).
CREATE TEMP TABLE hv_m ON COMMIT DROP AS
SELECT * FROM (VALUES (1, NULL, NULL, NULL), (2, 1, 1, 0), (3, 1, 1, 1), (4, 2, 2, 0), (5, 2, 2, 1),
                      (6, 3, 3, 1), (8, 4, 4, 0), (9, 4, 4, 1), (10, 5, 5, 1))
       AS v(id, sponsor_id, placement_id, "position");
CREATE TEMP TABLE hv ON COMMIT DROP AS
SELECT mlm.tree_agg(id::bigint, sponsor_id::bigint, placement_id::bigint, "position"::int) AS t FROM hv_m;
CREATE TEMP TABLE hv_vol ON COMMIT DROP AS
SELECT member_id::bigint, pv::numeric, cv::numeric
  FROM (VALUES (1, 1, 1000), (2, 1, 10), (3, 1, 30), (4, 1, 20), (4, 0, 10), (5, 1, 8), (5, 1, -3),
               (6, 1, 20), (8, 1, 7), (9, 1, 7)) AS v(member_id, pv, cv);

SELECT is((SELECT format('(%s,%s)', placement_id, "position") FROM hv, mlm.place(t, x.s, 'weaker_leg', 2, x.measure, 'hv_vol')),
          x.want, format('weaker_leg by %s from %s: %s', x.measure, x.s, x.want))
  FROM (VALUES (1, 'members', '(6,1)'), (1, 'volume', '(6,1)'), (2, 'volume', '(10,1)'), (2, 'members', '(10,1)'),
               (4, 'volume', '(8,0)'), (5, 'volume', '(5,0)'), (3, 'volume', '(3,0)'), (3, 'members', '(3,0)'),
               (6, 'volume', '(6,0)'), (6, 'members', '(6,0)')) AS x(s, measure, want);
UPDATE hv_vol SET cv = 40 WHERE member_id = 3;
SELECT is((SELECT format('(%s,%s)', placement_id, "position") FROM hv, mlm.place(t, 1, 'weaker_leg', 2, 'volume', 'hv_vol')),
          '(8,0)', 'weaker_leg by volume from 1: a heavier right leg (60 > 59) sends the member left, to (8,0)');
SELECT is((SELECT format('(%s,%s)', placement_id, "position") FROM hv, mlm.place(t, 1, 'weaker_leg', 2, 'members', 'hv_vol')),
          '(6,1)', '... while by members it still goes right (2 < 6)');
INSERT INTO hv_vol VALUES (6, 0, -45);
SELECT is((SELECT format('(%s,%s)', placement_id, "position") FROM hv, mlm.place(t, 3, 'weaker_leg', 2, 'volume', 'hv_vol')),
          '(6,1)', 'weaker_leg by volume: a negative leg (-25) is weaker than an empty one (0)');
DELETE FROM hv_vol WHERE cv = -45;
-- a batch by volume: the new members have no volume.  Sponsor 4 twice:
--   a: 8 (7) vs 9 (7): tie -> left -> (8,0)
--   b: left {8, a} = 7 + 0 = 7 vs 7: tie again -> extreme_left: 8 -> a -> (a,0)
-- by members instead: b sees left 2 > right 1 -> (9,1)
SELECT is((SELECT string_agg(format('%s:(%s,%s)', member_id, placement_id, "position"), ' ' ORDER BY member_id)
             FROM hv, mlm.place_many(t, ARRAY[20, 21], ARRAY[4, 4], 'weaker_leg', 2, 'volume', 'hv_vol')),
          '20:(8,0) 21:(20,0)', 'weaker_leg by volume in a batch: placed members bring no volume');
SELECT is((SELECT string_agg(format('%s:(%s,%s)', member_id, placement_id, "position"), ' ' ORDER BY member_id)
             FROM hv, mlm.place_many(t, ARRAY[20, 21], ARRAY[4, 4], 'weaker_leg', 2)),
          '20:(8,0) 21:(9,1)', 'weaker_leg by members in a batch: placed members count');
-- measure defaults to members; the volumes relation is ignored by it
SELECT is((SELECT format('(%s,%s)', placement_id, "position") FROM hv, mlm.place(t, 1, 'weaker_leg')),
          '(6,1)', 'weaker_leg: measure members and width 2 are the defaults');

-- ---------------------------------------------------------------------------
-- 5. Anonymous probes
-- ---------------------------------------------------------------------------
-- a null member id is a probe: it is placed (takes its slot for the later
-- members of the batch) and reported with a null member_id
SELECT is((SELECT string_agg(format('%s:(%s,%s)', coalesce(member_id::text, 'probe'), placement_id, "position"), ' ' ORDER BY k)
             FROM mlm.place_many('{1:::,2:1:1:0}'::mlm.tree, ARRAY[NULL, 10, NULL, 11]::bigint[], ARRAY[1, 1, 1, 10]::bigint[], 'spillover', 3)
                  WITH ORDINALITY q(member_id, s, placement_id, "position", k)),
          'probe:(1,1) 10:(1,2) probe:(2,0) 11:(10,0)',
          'place_many: probes take their slots; a member placed in the batch sponsors a later one');
SELECT is((SELECT format('(%s,%s)', placement_id, "position") FROM mlm.place('{1:::,2:1:1:0,3:1:1:1}'::mlm.tree, 1)),
          '(2,0)', 'mlm.place defaults: spillover, width 2');
-- snapshot without placement data: every member stands alone
SELECT is((SELECT string_agg(format('(%s,%s)', placement_id, "position"), ' ' ORDER BY k)
             FROM mlm.place_many('{1,2:1}'::mlm.tree, ARRAY[5, 6, 7]::bigint[], ARRAY[2, 2, 2]::bigint[], 'spillover', 2)
                  WITH ORDINALITY q(m, s, placement_id, "position", k)),
          '(2,0) (2,1) (5,0)', 'a sponsor-only snapshot: the sponsor is a placement root of its own');

-- ---------------------------------------------------------------------------
-- 6. Errors
-- ---------------------------------------------------------------------------
CREATE TEMP TABLE et ON COMMIT DROP AS SELECT '{1:::,2:1:1:0,3:1:1:1}'::mlm.tree AS t;
SELECT throws_ok($$SELECT * FROM mlm.place_many((SELECT t FROM et), ARRAY[10], ARRAY[99])$$,
                 '23503', 'sponsor 99 of member 10 is not in the tree', 'place_many: unknown sponsor');
SELECT throws_ok($$SELECT * FROM mlm.place_many((SELECT t FROM et), ARRAY[10, 11], ARRAY[1, 12])$$,
                 '23503', 'sponsor 12 of member 11 is not in the tree', 'place_many: a sponsor that is placed only later in the batch');
SELECT throws_ok($$SELECT * FROM mlm.place_many((SELECT t FROM et), ARRAY[2], ARRAY[1])$$,
                 '23505', 'member 2 is already placed', 'place_many: member already in the tree');
SELECT throws_ok($$SELECT * FROM mlm.place_many((SELECT t FROM et), ARRAY[10, 10], ARRAY[1, 1])$$,
                 '23505', 'member 10 is already placed', 'place_many: member twice in the batch');
SELECT throws_ok($$SELECT * FROM mlm.place_many((SELECT t FROM et), ARRAY[10, 11], ARRAY[1])$$,
                 '2202E', 'member_ids has 2 elements but sponsor_ids has 1', 'place_many: arrays of different lengths');
SELECT throws_ok($$SELECT * FROM mlm.place((SELECT t FROM et), 1, 'zigzag')$$,
                 '22023', 'unknown placement method "zigzag"', 'unknown method');
SELECT throws_ok($$SELECT * FROM mlm.place((SELECT t FROM et), 1, 'Spillover')$$,
                 '22023', 'unknown placement method "Spillover"', 'method names are case sensitive');
SELECT throws_ok($$SELECT * FROM mlm.place((SELECT t FROM et), 1, 'weaker_leg', 2, 'cv')$$,
                 '22023', 'unknown measure "cv"', 'unknown measure');
SELECT throws_ok($$SELECT * FROM mlm.place((SELECT t FROM et), 1, 'spillover', 0)$$,
                 '22023', 'width must be between 1 and 20', 'width 0');
SELECT throws_ok($$SELECT * FROM mlm.place((SELECT t FROM et), 1, 'spillover', 21)$$,
                 '22023', 'width must be between 1 and 20', 'width 21');
SELECT throws_ok($$SELECT * FROM mlm.place((SELECT t FROM et), 1, 'spillover', -3)$$,
                 '22023', 'width must be between 1 and 20', 'negative width');
SELECT throws_ok($$SELECT * FROM mlm.place((SELECT t FROM et), 1, 'extreme_left', 3)$$,
                 '22023', 'method "extreme_left" places in a binary tree: width must be 2', 'extreme_left with width 3');
SELECT throws_ok($$SELECT * FROM mlm.place((SELECT t FROM et), 1, 'extreme_right', 1)$$,
                 '22023', 'method "extreme_right" places in a binary tree: width must be 2', 'extreme_right with width 1');
SELECT throws_ok($$SELECT * FROM mlm.place((SELECT t FROM et), 1, 'weaker_leg', 5)$$,
                 '22023', 'method "weaker_leg" places in a binary tree: width must be 2', 'weaker_leg with width 5');
SELECT throws_ok($$SELECT * FROM mlm.place((SELECT t FROM et), 1, 'weaker_leg', 2, 'volume')$$,
                 '22023', 'measure "volume" needs a volumes relation', 'measure volume without a volumes relation');
SELECT throws_ok($$SELECT * FROM mlm.place_many((SELECT t FROM et), ARRAY[10], ARRAY[NULL]::bigint[])$$,
                 '22004', 'sponsor ids must not be null', 'a null sponsor id');
SELECT throws_ok($$SELECT * FROM mlm.place_many(NULL, ARRAY[10], ARRAY[1])$$,
                 '22004', 'argument t must not be null', 'a null tree');
SELECT throws_ok($$SELECT * FROM mlm.place((SELECT t FROM et), 1, NULL)$$,
                 '22004', 'argument method must not be null', 'a null method');
SELECT throws_ok($$SELECT * FROM mlm.place((SELECT t FROM et), 1, 'weaker_leg', 2, 'volume', 'pg_class')$$,
                 '42703', 'volumes relation pg_class has no column "member_id"', 'a volumes relation without member_id');
CREATE TEMP TABLE et_vol ON COMMIT DROP AS SELECT 77::bigint AS member_id, 1::numeric AS pv, 5::numeric AS cv;
SELECT throws_ok($$SELECT * FROM mlm.place((SELECT t FROM et), 1, 'weaker_leg', 2, 'volume', 'et_vol')$$,
                 '23503', 'volume rows for ids that are not members', 'a volume row for an id outside the tree');
-- an error in the middle of a batch returns nothing
SELECT throws_ok($$SELECT * FROM mlm.place_many((SELECT t FROM et), ARRAY[10, 11, 12], ARRAY[1, 1, 42])$$,
                 '23503', 'sponsor 42 of member 12 is not in the tree', 'place_many: an error at the last member');
-- the empty batch
SELECT is((SELECT count(*) FROM mlm.place_many((SELECT t FROM et), '{}'::bigint[], '{}'::bigint[])), 0::bigint,
          'place_many: an empty batch places nobody');

-- ---------------------------------------------------------------------------
-- 7. Probes below probes, foreign widths, the anonymous sponsor error
-- ---------------------------------------------------------------------------
-- (these were bugs: a member below a probe was reported under "member 0",
-- a weaker_leg batch on a snapshot with a subtree at position 2 counted
-- members in the wrong leg, spillover skipped subtrees at positions >= w,
-- and mlm.place named its anonymous member "member 0")

-- A member placed below an anonymous probe has a null placement_id (the
-- probe has no id).  Here 0 is a real member: width 1, the probe goes
-- under member 0 (a real slot, (0,0)), member 10 under the probe.
SELECT is((SELECT string_agg(format('%s:(%s,%s)', coalesce(m::text, 'probe'), coalesce(placement_id::text, 'null'), "position"), ' ' ORDER BY k)
             FROM mlm.place_many('{1:::,0:1:1:0}'::mlm.tree, ARRAY[NULL, 10]::bigint[], ARRAY[1, 1]::bigint[], 'spillover', 1)
                  WITH ORDINALITY q(m, s, placement_id, "position", k)),
          'probe:(0,0) 10:(null,0)',
          'place_many: a member placed below a probe has a null placement_id, not the real member 0');
-- what-if: where would the next three recruits under 1 go by weaker leg?
--   probe 1: left {2,4} 2 vs right {3} 1 -> right -> extreme_right -> (3,1)
--   probe 2: 2 vs 2 -> tie, left -> extreme_left 1,2,4 -> (4,0)
--   probe 3: 3 vs 2 -> right -> extreme_right 1,3,probe 1 -> (null,1)
SELECT is((SELECT string_agg(format('(%s,%s)', coalesce(placement_id::text, 'null'), "position"), ' ' ORDER BY k)
             FROM mlm.place_many('{1:::,2:1:1:0,3:1:1:1,4:2:2:0}'::mlm.tree, ARRAY[NULL, NULL, NULL]::bigint[],
                                 ARRAY[1, 1, 1]::bigint[], 'weaker_leg', 2)
                  WITH ORDINALITY q(m, s, placement_id, "position", k)),
          '(3,1) (4,0) (null,1)', 'weaker_leg probes count in the legs; the third lands below the first');

-- A snapshot with a member at a position >= width is an error (the method
-- cannot see that slot): binary methods on a matrix, spillover with a
-- smaller width.  (Before: a weaker_leg batch on this tree answered (5,1)
-- instead of the one-by-one (20100,0) of a 40,000-member version.)
SELECT throws_ok($$SELECT * FROM mlm.place_many('{1:::,4:1:1:0,5:1:1:1,2:1:1:2,3:1:2:0}'::mlm.tree,
                                               ARRAY[10, 11], ARRAY[3, 1], 'weaker_leg', 2)$$,
                 '22023', 'member 2 is at position 2, outside width 2',
                 'weaker_leg on a snapshot with a member at position 2: an error naming it');
SELECT throws_ok($$SELECT * FROM mlm.place('{1:::,2:1:1:0,3:1:1:1,4:1:1:2,5:2:2:0,6:2:2:1}'::mlm.tree, 5, 'extreme_left')$$,
                 '22023', 'member 4 is at position 2, outside width 2',
                 'extreme_left on a width-3 matrix: an error even when the sponsor''s subtree is binary');
SELECT throws_ok($$SELECT * FROM mlm.place('{1:::,2:1:1:0,3:1:1:1,4:1:1:2,5:2:2:0,6:2:2:1,7:3:3:0,8:3:3:1}'::mlm.tree, 1, 'spillover', 2)$$,
                 '22023', 'member 4 is at position 2, outside width 2',
                 'spillover width 2 on a tree with a child at position 2: an error');
SELECT throws_ok($$SELECT * FROM mlm.place('{1:::,2:1:1:0,3:1:1:5}'::mlm.tree, 1, 'spillover', 5)$$,
                 '22023', 'member 3 is at position 5, outside width 5',
                 'spillover width 5: position 5 is outside');
-- a smaller tree width than asked is fine: spillover width 3 on a binary tree
SELECT is((SELECT format('(%s,%s)', placement_id, "position") FROM mlm.place('{1:::,2:1:1:0,3:1:1:1}'::mlm.tree, 1, 'spillover', 3)),
          '(1,2)', 'spillover width 3 on a binary tree: the sponsor''s position 2 is free');

-- mlm.place (one anonymous member): the unknown-sponsor error names no member
SELECT throws_ok($$SELECT * FROM mlm.place('{1:::,2:1:1:0}'::mlm.tree, 99)$$,
                 '23503', 'sponsor 99 is not in the tree', 'place: unknown sponsor, no "member 0" in the message');
SELECT throws_ok($$SELECT * FROM mlm.place_many('{1:::,2:1:1:0}'::mlm.tree, ARRAY[NULL]::bigint[], ARRAY[99])$$,
                 '23503', 'sponsor 99 is not in the tree', 'place_many: unknown sponsor of a probe');

SELECT * FROM finish();
ROLLBACK;
