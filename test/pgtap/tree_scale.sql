-- mlm.tree at scale: the 1,000,000-deep chain, cancelling a 1M build,
-- per-row reuse of a stored snapshot over 200,000 rows against a recursive
-- CTE, the bytes a snapshot takes, and the member limit.
BEGIN;
SET LOCAL client_min_messages = warning;
SET LOCAL jit = off;
SELECT setseed(0.5);
SELECT plan(38);

--
-- The 1,000,000-deep chain 1 <- 2 <- ... <- 1000000
--
CREATE TEMP TABLE chain ON COMMIT DROP AS
SELECT mlm.tree_agg(g, NULLIF(g - 1, 0)) AS t FROM generate_series(1, 1000000) g;
SELECT is(mlm.size(t), 1000000, 'chain: 1,000,000 members') FROM chain;
SELECT is(mlm.depth(t, 1000000), 999999, 'chain: depth of the deepest member') FROM chain;
SELECT is(mlm.depth(t, 1), 0, 'chain: depth of the root') FROM chain;
SELECT is(array_length(mlm.path(t, 1000000), 1), 1000000, 'chain: path of the deepest member has 1,000,000 ids') FROM chain;
SELECT ok(mlm.path(t, 1000000) = ARRAY(SELECT generate_series(1::bigint, 1000000)), 'chain: the path is 1 .. 1000000') FROM chain;
SELECT is(count(*), 999999::bigint, 'chain: upline of the deepest member has 999,999 rows') FROM chain, mlm.upline(t, 1000000);
SELECT is(count(*) FILTER (WHERE u.member_id + u.level <> 1000000 OR u.level <> u.o), 0::bigint,
          'chain: upline rows are (1000000 - level, level), level by level')
FROM chain, mlm.upline(t, 1000000) WITH ORDINALITY u(member_id, level, o);
SELECT is(count(*), 999999::bigint, 'chain: downline of the root has 999,999 rows') FROM chain, mlm.downline(t, 1);
SELECT is(count(*) FILTER (WHERE d.member_id <> d.level + 1 OR d.level <> d.o), 0::bigint,
          'chain: downline rows are (level + 1, level), in order')
FROM chain, mlm.downline(t, 1) WITH ORDINALITY d(member_id, level, o);
SELECT is(count(*), 10::bigint, 'chain: downline to max_depth 10') FROM chain, mlm.downline(t, 1, 10);
SELECT is(count(*), 499999::bigint, 'chain: downline from the middle') FROM chain, mlm.downline(t, 500001);
SELECT results_eq('SELECT s.* FROM chain, mlm.stats(t) s',
                  $$VALUES (1000000::bigint, 1::bigint, 1::bigint, 999999, 499999.5::numeric, 1)$$,
                  'chain: stats');
SELECT ok(mlm.subtree_size(t, 1) = 1000000 AND mlm.subtree_size(t, 500000) = 500001
          AND mlm.subtree_size(t, 1000000) = 1, 'chain: subtree sizes') FROM chain;
SELECT ok(mlm.is_descendant(t, 1, 1000000) AND NOT mlm.is_descendant(t, 1000000, 1)
          AND mlm.leg(t, 1, 1000000) = 2 AND mlm.leg(t, 999998, 1000000) = 999999
          AND mlm.parent(t, 1000000) = 999999,
          'chain: is_descendant, leg, parent across the whole depth') FROM chain;
SELECT is(ARRAY(SELECT mlm.children(t, 500000)), '{500001}'::bigint[], 'chain: children') FROM chain;
SELECT is(count(*) FILTER (WHERE m.depth <> m.member_id - 1 OR m.sponsor_id IS DISTINCT FROM NULLIF(m.member_id - 1, 0)),
          0::bigint, 'chain: members() gives every member with its depth')
FROM chain, mlm.members(t) m;
-- per-row depth of every member over the stored chain: quadratic without
-- the per-call-site cache
SELECT is(sum(mlm.depth(c.t, g)), 499999500000::bigint, 'chain: per-row depth of all 1,000,000 members')
FROM chain c, generate_series(1, 1000000) g;
SELECT is(md5(t::text),
          (SELECT md5('{1,' || string_agg(g::text || ':' || (g - 1)::text, ',' ORDER BY g) || '}')
           FROM generate_series(2, 1000000) g),
          'chain: text output') FROM chain;
SELECT is(md5(t::text::mlm.tree::text), md5(t::text), 'chain: text round trip') FROM chain;
SELECT is((SELECT md5(mlm.tree_agg(g, NULLIF(g - 1, 0) ORDER BY g DESC)::text) FROM generate_series(1, 1000000) g),
          md5(t::text), 'chain: built from rows in reverse order') FROM chain;
-- binary COPY of the chain to a file and back (recv validates 1M deep)
CREATE TEMP TABLE chain_in (t mlm.tree) ON COMMIT DROP;
DO $$
DECLARE
    f text := current_setting('data_directory') || '/mlm_tree_scale_test.copy';
BEGIN
    EXECUTE format('COPY chain TO %L (FORMAT binary)', f);
    EXECUTE format('COPY chain_in FROM %L (FORMAT binary)', f);
    EXECUTE format('COPY (SELECT 1 WHERE false) TO %L', f);
END
$$;
SELECT is((SELECT md5(t::text) FROM chain_in), md5(t::text), 'chain: binary COPY round trip') FROM chain;
SELECT is((SELECT mlm.depth(t, 1000000) FROM chain_in), 999999, 'chain: depth after binary COPY');
-- the same chain with sparse ids (the sorted-index build path)
SELECT is(mlm.depth(t, 7919000000), 999999, 'sparse chain: depth of the deepest member')
FROM (SELECT mlm.tree_agg(g * 7919, NULLIF(g - 1, 0) * 7919) AS t FROM generate_series(1::bigint, 1000000) g) s;
-- a chain in both trees: 1,000,000 deep placement too
SELECT ok(mlm.placement_parent(t, 1000000) = 999999 AND mlm.depth(t, 1000000) = 999999,
          'chain with a 1,000,000 deep placement chain')
FROM (SELECT mlm.tree_agg(g, NULLIF(g - 1, 0), NULLIF(g - 1, 0), CASE WHEN g > 1 THEN 0 END) AS t
      FROM generate_series(1, 1000000) g) s;

--
-- Size: 20 bytes per member (8 id + 4 parent + 4 subtree size + 4 id index)
-- plus a 24-byte header; 28 bytes per member with placement.
--
SELECT is(pg_column_size(mlm.tree_agg(g, NULLIF(g - 1, 0))), 20 * 1000000 + 24,
          'a 1M snapshot in memory takes 20 bytes a member + 24')
FROM generate_series(1, 1000000) g;
-- stored: uncompressed out of line (pg_column_size leaves out the 4-byte length word)
SELECT is(pg_column_size(t), 20 * 1000000 + 20, 'a stored 1M snapshot takes 20 bytes a member + header') FROM chain;
SELECT ok(pg_column_size(t) <= 24 * mlm.size(t), 'at most 24 bytes a member') FROM chain;
SELECT is(pg_column_size(mlm.tree_agg(g, NULLIF(g - 1, 0), NULLIF(g - 1, 0), CASE WHEN g > 1 THEN 0 END)),
          28 * 1000000 + 24, 'with placement: 28 bytes a member + 24')
FROM generate_series(1, 1000000) g;

--
-- Cancel: statement_timeout stops a 1M build with 57014 (query_canceled),
-- promptly; the session goes on.
--
CREATE TEMP TABLE big ON COMMIT DROP AS
SELECT g::bigint AS id, CASE WHEN g > 1 THEN 1 + floor(random() * (g - 1))::bigint END AS sponsor_id
FROM generate_series(1, 1000000) g;
CREATE TEMP TABLE bigtxt ON COMMIT DROP AS
SELECT '{' || string_agg(CASE WHEN sponsor_id IS NULL THEN (id * 7919)::text
                              ELSE (id * 7919)::text || ':' || (sponsor_id * 7919)::text END, ',') || '}' AS x
FROM big;
-- cancelled(q): the SQLSTATE q was cancelled with and whether that came
-- within 5 s; 'completed' when it ran to the end
CREATE FUNCTION pg_temp.cancelled(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz := clock_timestamp();
BEGIN
    EXECUTE q;
    RETURN 'completed';
EXCEPTION WHEN query_canceled THEN
    RETURN SQLSTATE || CASE WHEN clock_timestamp() - t0 < interval '5 s' THEN ' promptly' ELSE ' late' END;
END
$$;
SET LOCAL statement_timeout = '100ms';
-- (sparse ids: the sorted-index build path, the slower one)
SELECT is(pg_temp.cancelled('SELECT mlm.size(mlm.tree_agg(id * 7919, sponsor_id * 7919)) FROM big'), '57014 promptly',
          'statement_timeout cancels tree_agg over 1,000,000 rows');
SET LOCAL statement_timeout = '100ms';
SELECT is(pg_temp.cancelled('SELECT mlm.size(x::mlm.tree) FROM bigtxt'), '57014 promptly',
          'statement_timeout cancels reading a 1,000,000 member text value');
SET LOCAL statement_timeout = '100ms';
SELECT is(pg_temp.cancelled('SELECT count(*) FROM chain, generate_series(1, 100) g, mlm.upline(t, 1000000 - g) u'), '57014 promptly',
          'statement_timeout cancels a long traversal');
SET LOCAL statement_timeout = 0;
SELECT is(mlm.size(mlm.tree_agg(id, sponsor_id)), 1000000, 'after the cancels the same build completes') FROM big;

--
-- Per-row reuse: depth (and parent, leg, is_descendant) of each of 200,000
-- members over one stored snapshot equals a recursive CTE.
--
CREATE TEMP TABLE members ON COMMIT DROP AS SELECT * FROM big WHERE id <= 200000;
CREATE INDEX ON members (sponsor_id);
ANALYZE members;
CREATE TEMP TABLE snapshot ON COMMIT DROP AS SELECT mlm.tree_agg(id, sponsor_id) AS t FROM members;
ANALYZE snapshot;
-- depth and the frontline member of the root (1) above each member
CREATE TEMP TABLE cte ON COMMIT DROP AS
WITH RECURSIVE r(id, sponsor_id, depth, leg) AS (
    SELECT id, sponsor_id, 0, NULL::bigint FROM members WHERE sponsor_id IS NULL
    UNION ALL
    SELECT m.id, m.sponsor_id, r.depth + 1, coalesce(r.leg, m.id)
    FROM r JOIN members m ON m.sponsor_id = r.id
)
SELECT * FROM r;
SELECT is((SELECT count(*) FROM cte), 200000::bigint, 'the CTE reaches all 200,000 members');
CREATE TEMP TABLE per_row ON COMMIT DROP AS
SELECT d.id, mlm.depth(s.t, d.id) AS depth FROM snapshot s, members d;
SELECT is((SELECT count(*) FROM per_row a FULL JOIN cte c USING (id)
           WHERE a.depth IS DISTINCT FROM c.depth),
          0::bigint, 'per-row depth over a stored snapshot equals the CTE (200,000 rows)');
SELECT is((SELECT count(*) FROM snapshot s, members d JOIN cte c USING (id)
           WHERE mlm.parent(s.t, d.id) IS DISTINCT FROM c.sponsor_id
              OR mlm.leg(s.t, 1, d.id) IS DISTINCT FROM c.leg
              OR mlm.is_descendant(s.t, 1, d.id) IS DISTINCT FROM (c.depth > 0)),
          0::bigint, 'per-row parent, leg and is_descendant equal the CTE (200,000 rows)');
SELECT is((SELECT count(*) FROM (SELECT mlm.tree_agg(id, sponsor_id) AS t FROM members) s, members d JOIN cte c USING (id)
           WHERE mlm.depth(s.t, d.id) IS DISTINCT FROM c.depth),
          0::bigint, 'per-row depth over an in-memory snapshot equals the CTE (200,000 rows)');
SELECT is((SELECT sum(c.depth) FROM cte c), (SELECT sum(m.depth) FROM snapshot, mlm.members(t) m),
          'sum of depths: CTE and members()');

--
-- The member limit: 30,000,000 (program_limit_exceeded beyond)
--
-- (generate_series in the select list streams its rows)
SELECT throws_ok('SELECT mlm.size(mlm.tree_agg(g, NULL)) FROM (SELECT generate_series(1, 30000001) AS g) s',
                 '54000', 'tree of more than 30000000 members is too large',
                 '30,000,001 members: program_limit_exceeded');

SELECT * FROM finish();
ROLLBACK;
