-- One-shot calls on a stored snapshot that no cache holds decoded read
-- only the TOAST chunks they need (src/tree_slice.c); once the chunks read
-- at one call site pass a budget (3% of the value's chunks, at least 64)
-- the value is decoded, in the middle of a walk if need be.  Every answer
-- is compared with a recursive CTE over the rows the snapshot was built
-- from.  How much was read is taken from the scan count of the TOAST
-- table's index in this transaction: reading a whole value is one index
-- scan, reading slices is one scan per chunk.
BEGIN;
SET LOCAL client_min_messages = warning;
SET LOCAL jit = off;
SET LOCAL max_parallel_workers_per_gather = 0;
SET LOCAL mlm.snapshot_cache_size = 0;
SELECT plan(38);

-- 200,000 members, sponsor = a pseudo-random earlier member
CREATE TEMP TABLE r ON COMMIT DROP AS
SELECT g::bigint AS id,
       CASE WHEN g > 1 THEN 1 + (g::bigint * 7919) % (g - 1) END AS sponsor_id
FROM generate_series(1, 200000) g;
CREATE INDEX ON r (id);
CREATE INDEX ON r (sponsor_id);
ANALYZE r;
-- 'dense': ids 1 .. 200000; 'sparse': ids times 3 (found by binary
-- search); 'chain': 1 <- 2 <- ... <- 100000
CREATE TEMP TABLE s (name text PRIMARY KEY, t mlm.tree) ON COMMIT DROP;
INSERT INTO s SELECT 'dense', mlm.tree_agg(id, sponsor_id) FROM r;
INSERT INTO s SELECT 'sparse', mlm.tree_agg(id * 3, sponsor_id * 3) FROM r;
INSERT INTO s SELECT 'chain', mlm.tree_agg(g, NULLIF(g - 1, 0)) FROM generate_series(1, 100000) g;

-- index scans of the TOAST index of rel (default s) so far in this
-- transaction
CREATE FUNCTION pg_temp.toast_scans(rel regclass DEFAULT 's') RETURNS bigint LANGUAGE sql AS $$
    SELECT pg_stat_get_xact_numscans(i.indexrelid)
    FROM pg_class c JOIN pg_index i ON i.indrelid = c.reltoastrelid
    WHERE c.oid = rel
$$;
-- ancestors of m from the rows (level 1 = sponsor)
CREATE FUNCTION pg_temp.cte_upline(m bigint) RETURNS TABLE (member_id bigint, level int) LANGUAGE sql AS $$
    WITH RECURSIVE u(id, level) AS (
        SELECT sponsor_id, 1 FROM r WHERE id = m AND sponsor_id IS NOT NULL
        UNION ALL
        SELECT r.sponsor_id, u.level + 1 FROM u JOIN r ON r.id = u.id WHERE r.sponsor_id IS NOT NULL)
    SELECT id, level FROM u
$$;
-- descendants of m from the rows (level 1 = recruits)
CREATE FUNCTION pg_temp.cte_downline(m bigint) RETURNS TABLE (member_id bigint, level int) LANGUAGE sql AS $$
    WITH RECURSIVE d(id, level) AS (
        SELECT id, 1 FROM r WHERE sponsor_id = m
        UNION ALL
        SELECT r.id, d.level + 1 FROM d JOIN r ON r.sponsor_id = d.id)
    SELECT id, level FROM d
$$;
-- the deepest member (smallest id among the deepest) and its depth
CREATE TEMP TABLE deep ON COMMIT DROP AS
WITH RECURSIVE a(id, depth) AS (
    SELECT id, 0 FROM r WHERE sponsor_id IS NULL
    UNION ALL
    SELECT r.id, a.depth + 1 FROM a JOIN r ON r.sponsor_id = a.id)
SELECT id, depth FROM a ORDER BY depth DESC, id LIMIT 1;
-- a member with between 1,000 and 3,000 members below it
CREATE TEMP TABLE mid ON COMMIT DROP AS
SELECT m.id FROM generate_series(2, 200) m(id)
WHERE (SELECT count(*) FROM pg_temp.cte_downline(m.id)) BETWEEN 1000 AND 3000
ORDER BY m.id LIMIT 1;
SELECT ok((SELECT depth FROM deep) >= 10, 'the deepest member is at least 10 deep');
SELECT is((SELECT count(*) FROM mid), 1::bigint, 'a member with 1,000 to 3,000 below it');

-- one-shot calls, each its own statement (its own call site)
SELECT pg_temp.toast_scans() AS before \gset
SELECT is((SELECT array_agg(u.member_id ORDER BY u.level) FROM s, deep, mlm.upline(s.t, deep.id) u WHERE s.name = 'dense'),
          (SELECT array_agg(c.member_id ORDER BY c.level) FROM deep, pg_temp.cte_upline(deep.id) c),
          'dense: upline of the deepest member');
SELECT ok(pg_temp.toast_scans() - :before BETWEEN 2 AND 2 * (SELECT depth FROM deep) + 8,
          'dense: that upline read a few chunks (' || (pg_temp.toast_scans() - :before) || '), not the whole value');
SELECT is((SELECT mlm.path(s.t, deep.id) FROM s, deep WHERE s.name = 'dense'),
          (SELECT array_agg(c.member_id ORDER BY c.level DESC) || deep.id FROM deep, pg_temp.cte_upline(deep.id) c GROUP BY deep.id),
          'dense: path of the deepest member');
SELECT is((SELECT mlm.depth(s.t, deep.id) FROM s, deep WHERE s.name = 'dense'),
          (SELECT depth FROM deep), 'dense: depth of the deepest member');
SELECT is((SELECT mlm.parent(s.t, deep.id) FROM s, deep WHERE s.name = 'dense'),
          (SELECT sponsor_id FROM r, deep WHERE r.id = deep.id), 'dense: parent of the deepest member');
SELECT is((SELECT mlm.subtree_size(s.t, mid.id) FROM s, mid WHERE s.name = 'dense'),
          (SELECT count(*)::int + 1 FROM mid, pg_temp.cte_downline(mid.id)), 'dense: subtree size');
SELECT is((SELECT mlm.is_descendant(s.t, mid.id, c.member_id) FROM s, mid, pg_temp.cte_downline(mid.id) c
           WHERE s.name = 'dense' ORDER BY c.level DESC, c.member_id LIMIT 1),
          true, 'dense: is_descendant of a deepest descendant');
SELECT is((SELECT mlm.is_descendant(s.t, mid.id, deep.id) FROM s, mid, deep WHERE s.name = 'dense'),
          EXISTS (SELECT 1 FROM mid, deep, pg_temp.cte_upline(deep.id) c WHERE c.member_id = mid.id),
          'dense: is_descendant of an unrelated member');
SELECT is((SELECT mlm.contains(s.t, 200001) FROM s WHERE s.name = 'dense'), false, 'dense: contains an absent id');
SELECT is((SELECT mlm.contains(s.t, 0) FROM s WHERE s.name = 'dense'), false, 'dense: contains an id below the range');
SELECT is((SELECT mlm.depth(s.t, 200001) FROM s WHERE s.name = 'dense'), NULL, 'dense: depth of an absent id');
SELECT is((SELECT array_agg(c ORDER BY c) FROM s, mid, mlm.children(s.t, mid.id) c WHERE s.name = 'dense'),
          (SELECT array_agg(r.id ORDER BY r.id) FROM r, mid WHERE r.sponsor_id = mid.id), 'dense: children');
SELECT pg_temp.toast_scans() AS before \gset
SELECT is((SELECT array_agg(d.member_id || ':' || d.level ORDER BY d.member_id) FROM s, mid, mlm.downline(s.t, mid.id) d WHERE s.name = 'dense'),
          (SELECT array_agg(c.member_id || ':' || c.level ORDER BY c.member_id) FROM mid, pg_temp.cte_downline(mid.id) c),
          'dense: downline with levels');
SELECT ok(pg_temp.toast_scans() - :before BETWEEN 2 AND 70,
          'dense: that downline read ' || (pg_temp.toast_scans() - :before) || ' chunks, within the budget');
SELECT is((SELECT array_agg(d.member_id || ':' || d.level ORDER BY d.member_id) FROM s, mid, mlm.downline(s.t, mid.id, 2) d WHERE s.name = 'dense'),
          (SELECT array_agg(c.member_id || ':' || c.level ORDER BY c.member_id) FROM mid, pg_temp.cte_downline(mid.id) c WHERE c.level <= 2),
          'dense: downline to depth 2');

-- sparse ids: binary search through slices
SELECT is((SELECT array_agg(u.member_id ORDER BY u.level) FROM s, deep, mlm.upline(s.t, deep.id * 3) u WHERE s.name = 'sparse'),
          (SELECT array_agg(c.member_id * 3 ORDER BY c.level) FROM deep, pg_temp.cte_upline(deep.id) c),
          'sparse: upline of the deepest member');
SELECT is((SELECT mlm.depth(s.t, deep.id * 3) FROM s, deep WHERE s.name = 'sparse'),
          (SELECT depth FROM deep), 'sparse: depth');
SELECT is((SELECT mlm.contains(s.t, 3001) FROM s WHERE s.name = 'sparse'), false, 'sparse: contains an id between two members');
SELECT is((SELECT mlm.contains(s.t, 600000) FROM s WHERE s.name = 'sparse'), true, 'sparse: contains the largest id');
SELECT is((SELECT mlm.parent(s.t, 3) FROM s WHERE s.name = 'sparse'), NULL, 'sparse: the root has no parent');

-- past the budget: per-row calls and big walks decode the value once
SELECT pg_temp.toast_scans() AS before \gset
SELECT is((SELECT sum(mlm.depth(s.t, r.id)) FROM s, r WHERE s.name = 'dense' AND r.id <= 5000),
          (WITH RECURSIVE a(id, depth) AS (
               SELECT id, 0 FROM r WHERE sponsor_id IS NULL
               UNION ALL
               SELECT r.id, a.depth + 1 FROM a JOIN r ON r.sponsor_id = a.id)
           SELECT sum(depth) FROM a WHERE id <= 5000),
          'dense: depth of 5,000 members, one call each');
SELECT ok(pg_temp.toast_scans() - :before BETWEEN 2 AND 70,
          'dense: those 5,000 calls read ' || (pg_temp.toast_scans() - :before) || ' chunks and one whole value');
SELECT pg_temp.toast_scans() AS before \gset
SELECT is((SELECT count(*) FROM s, mlm.downline(s.t, 1) WHERE s.name = 'dense'), 199999::bigint,
          'dense: downline of the root (decoded on the way)');
SELECT ok(pg_temp.toast_scans() - :before <= 70, 'dense: that downline stopped reading chunks at the budget');
SELECT pg_temp.toast_scans() AS before \gset
SELECT is((SELECT count(*) FROM s, mlm.upline(s.t, 100000) WHERE s.name = 'chain'), 99999::bigint,
          'chain: upline of the deepest member (decoded on the way)');
SELECT is((SELECT min(level) || '..' || max(level) || ' ' || min(member_id) || '..' || max(member_id)
           FROM s, mlm.upline(s.t, 100000) WHERE s.name = 'chain'), '1..99999 1..99999',
          'chain: levels and members of that upline');
SELECT is((SELECT mlm.depth(s.t, 100000) FROM s WHERE s.name = 'chain'), 99999, 'chain: one-shot depth of the deepest');
SELECT ok(pg_temp.toast_scans() - :before <= 3 * 70, 'chain: those walks stopped reading chunks at the budget');

-- with the backend cache on, one-shot queries add up per value: once they
-- have read the budget in slices, the value is decoded and cached, and a
-- later query reads only the header slice that checks the cache entry
SET LOCAL mlm.snapshot_cache_size = '64MB';
CREATE FUNCTION pg_temp.upline_queries(k int) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    total bigint := 0;
    c bigint;
BEGIN
    FOR i IN 1 .. k LOOP
        EXECUTE 'SELECT count(*) FROM s, deep, mlm.upline(s.t, deep.id) WHERE s.name = ''dense''' INTO c;
        total := total + c;
    END LOOP;
    RETURN total;
END
$$;
SELECT pg_temp.toast_scans() AS before \gset
SELECT is(pg_temp.upline_queries(1), (SELECT depth::bigint FROM deep), 'cache on: a first one-shot upline');
SELECT ok(pg_temp.toast_scans() - :before BETWEEN 2 AND 2 * (SELECT depth FROM deep) + 8,
          'cache on: it read a few chunks (' || (pg_temp.toast_scans() - :before) || ')');
SELECT is(pg_temp.upline_queries(40), 40 * (SELECT depth::bigint FROM deep), 'cache on: 40 more one-shot uplines');
SELECT pg_temp.toast_scans() AS before \gset
SELECT is(pg_temp.upline_queries(1), (SELECT depth::bigint FROM deep), 'cache on: the next one');
SELECT is(pg_temp.toast_scans() - :before, 1::bigint, 'cache on: it read only the header slice (the value is cached)');
SET LOCAL mlm.snapshot_cache_size = 0;

-- a compressed stored value is read whole (a slice of it would
-- decompress from the start anyway)
CREATE TEMP TABLE z (t mlm.tree) ON COMMIT DROP;
ALTER TABLE z ALTER t SET STORAGE EXTENDED, ALTER t SET COMPRESSION lz4;
INSERT INTO z SELECT t FROM s WHERE name = 'chain';
SELECT is((SELECT pg_column_compression(t) FROM z), 'lz4', 'a compressed stored snapshot');
SELECT pg_temp.toast_scans('z') AS before \gset
SELECT is((SELECT count(*) FROM z, mlm.upline(z.t, 70000)), 69999::bigint, 'compressed: upline');
SELECT is(pg_temp.toast_scans('z') - :before, 1::bigint, 'compressed: read whole, once');

SELECT * FROM finish();
ROLLBACK;
