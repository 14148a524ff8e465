-- The decoded-snapshot caches (per call site and per backend, across
-- queries) never answer for another value: updates, rollbacks, deletes,
-- eviction under a small mlm.snapshot_cache_size, the cache switched off,
-- a cursor that outlives changes of its table, and in-memory values.
-- Everything runs in one session, so later statements see what earlier
-- ones left in the backend cache.
BEGIN;
SET LOCAL client_min_messages = warning;
SET LOCAL jit = off;
SELECT plan(21);

-- three stored (out of line) snapshots of 50,000 members with the same
-- member count and byte length but different shapes:
--   'a': chain 1 <- 2 <- ... (depth of g = g - 1)
--   'b': star around 1 (depth 1 for all but the root)
--   'c': binary heap (depth of g = floor(log2(g)))
CREATE TEMP TABLE s (name text PRIMARY KEY, t mlm.tree) ON COMMIT DROP;
INSERT INTO s SELECT 'a', mlm.tree_agg(g, NULLIF(g - 1, 0)) FROM generate_series(1, 50000) g;
INSERT INTO s SELECT 'b', mlm.tree_agg(g, CASE WHEN g > 1 THEN 1 END) FROM generate_series(1, 50000) g;
INSERT INTO s SELECT 'c', mlm.tree_agg(g, NULLIF(g / 2, 0)) FROM generate_series(1, 50000) g;
SELECT is((SELECT count(DISTINCT pg_column_size(t)) FROM s), 1::bigint, 'three snapshots of one byte length');

-- expected sums of depths over all members
--   a: sum(g - 1) = 1249975000;  b: 49999;
--   c: sum(floor(log2 g)) computed below
CREATE TEMP TABLE want ON COMMIT DROP AS
SELECT 'a'::text AS name, 1249975000::bigint AS depths
UNION ALL SELECT 'b', 49999
UNION ALL SELECT 'c', (SELECT sum(floor(log(2, g::numeric)))::bigint FROM generate_series(1, 50000) g);

-- per-row over each snapshot, twice (the second time from the backend cache)
SELECT is((SELECT sum(mlm.depth(s.t, g)) FROM s, generate_series(1, 50000) g WHERE s.name = 'a'),
          (SELECT depths FROM want WHERE name = 'a'), 'a: per-row depths');
SELECT is((SELECT sum(mlm.depth(s.t, g)) FROM s, generate_series(1, 50000) g WHERE s.name = 'a'),
          (SELECT depths FROM want WHERE name = 'a'), 'a: per-row depths again (cached)');
SELECT is((SELECT sum(mlm.depth(s.t, g)) FROM s, generate_series(1, 50000) g WHERE s.name = 'b'),
          (SELECT depths FROM want WHERE name = 'b'), 'b: per-row depths');
SELECT is((SELECT mlm.depth(t, 50000) FROM s WHERE name = 'a'), 49999, 'a: one-shot depth');
-- one call site over all three, interleaved row by row
SELECT is((SELECT count(*) FROM (SELECT name, g FROM s, generate_series(1, 3000) g ORDER BY g, name) x
           JOIN s USING (name)
           WHERE mlm.depth(s.t, x.g) <> CASE name WHEN 'a' THEN x.g - 1 WHEN 'b' THEN least(x.g - 1, 1)
                                                  ELSE floor(log(2, x.g::numeric))::int END),
          0::bigint, 'one call site over three snapshots, interleaved');

-- an update replaces the value: the next query sees the new one
UPDATE s SET t = (SELECT t FROM s WHERE name = 'b') WHERE name = 'a';
SELECT is((SELECT mlm.depth(t, 50000) FROM s WHERE name = 'a'), 1, 'after UPDATE: the new value');
SELECT is((SELECT sum(mlm.depth(s.t, g)) FROM s, generate_series(1, 50000) g WHERE s.name = 'a'),
          (SELECT depths FROM want WHERE name = 'b'), 'after UPDATE: per-row over the new value');
-- a rolled-back update leaves the old value
SAVEPOINT sp;
UPDATE s SET t = (SELECT t FROM s WHERE name = 'c') WHERE name = 'a';
SELECT is((SELECT mlm.depth(t, 50000) FROM s WHERE name = 'a'), 15, 'inside a subtransaction: its value');
ROLLBACK TO SAVEPOINT sp;
SELECT is((SELECT mlm.depth(t, 50000) FROM s WHERE name = 'a'), 1, 'after ROLLBACK TO SAVEPOINT: the previous value');
-- delete and insert a new value under the same key
DELETE FROM s WHERE name = 'a';
INSERT INTO s SELECT 'a', mlm.tree_agg(g, NULLIF(g - 1, 0)) FROM generate_series(1, 50000) g;
SELECT is((SELECT mlm.depth(t, 50000) FROM s WHERE name = 'a'), 49999, 'after DELETE and INSERT: the new value');

-- a cursor keeps answering from the value its snapshot sees while the
-- table changes and other queries churn through the cache
SET LOCAL mlm.snapshot_cache_size = '1MB';
DECLARE cur CURSOR FOR
    SELECT g, mlm.depth(s.t, g) AS d FROM s, generate_series(1, 50000) g WHERE s.name = 'a' ORDER BY g;
SELECT is((SELECT mlm.depth(t, 50000) FROM s WHERE name = 'a'), 49999, 'cache of 1MB: one-shot depth');
MOVE 10 FROM cur;
UPDATE s SET t = (SELECT t FROM s WHERE name = 'b') WHERE name = 'a';
SELECT is((SELECT sum(mlm.depth(s.t, g)) FROM s, generate_series(1, 50000) g WHERE s.name = 'c'),
          (SELECT depths FROM want WHERE name = 'c'), 'c: per-row depths while a cursor is open');
SELECT is((SELECT mlm.depth(t, 50000) FROM s WHERE name = 'a'), 1, 'the updated value, while the cursor is open');
MOVE 49980 FROM cur;
CREATE TEMP TABLE fetched ON COMMIT DROP AS SELECT 0 AS g, 0 AS d WITH NO DATA;
DO $$
DECLARE
    c refcursor := 'cur';
    r record;
BEGIN
    LOOP
        FETCH c INTO r;
        EXIT WHEN NOT FOUND;
        INSERT INTO fetched VALUES (r.g, r.d);
    END LOOP;
END
$$;
SELECT is((SELECT array_agg(d ORDER BY g) FROM fetched),
          (SELECT array_agg(g - 1 ORDER BY g) FROM generate_series(49991, 50000) g),
          'the cursor still answers from the value it started with');
CLOSE cur;

-- the backend cache switched off
SET LOCAL mlm.snapshot_cache_size = 0;
SELECT is((SELECT sum(mlm.depth(s.t, g)) FROM s, generate_series(1, 50000) g WHERE s.name = 'c'),
          (SELECT depths FROM want WHERE name = 'c'), 'cache off: per-row depths');
SELECT is((SELECT mlm.depth(t, 50000) FROM s WHERE name = 'a'), 1, 'cache off: one-shot depth');
RESET mlm.snapshot_cache_size;
SELECT is(current_setting('mlm.snapshot_cache_size'), '64MB', 'mlm.snapshot_cache_size defaults to 64MB');

-- in-memory values (not stored): per-row over values built per row, and a
-- value reused across rows
SELECT is((SELECT count(*) FROM generate_series(2, 300) k,
                LATERAL (SELECT ('{' || string_agg(CASE WHEN g = 1 THEN '1' ELSE g || ':' || (g - 1) END, ',') || '}')::mlm.tree AS t
                         FROM generate_series(1, k) g) c
           WHERE mlm.depth(c.t, k) IS DISTINCT FROM k - 1 OR mlm.contains(c.t, k + 1)),
          0::bigint, 'per-row in-memory chains of growing length: each row its own tree');
SELECT is((SELECT count(*) FROM generate_series(1, 300) k,
                LATERAL (SELECT ('{1,' || string_agg(g || ':' || CASE WHEN k % 2 = 0 THEN 1 ELSE g - 1 END, ',') || '}')::mlm.tree AS t
                         FROM generate_series(2, 500) g) c
           WHERE mlm.depth(c.t, 500) IS DISTINCT FROM CASE WHEN k % 2 = 0 THEN 1 ELSE 499 END),
          0::bigint, 'per-row in-memory trees of one length, alternating shape: each row its own tree');
SELECT is((SELECT count(*) FROM (SELECT mlm.tree_agg(g, NULLIF(g - 1, 0)) AS t FROM generate_series(1, 50000) g) c,
                generate_series(1, 50000) g
           WHERE mlm.depth(c.t, g) <> g - 1),
          0::bigint, 'one in-memory 50,000 member value over 50,000 rows');

SELECT * FROM finish();
ROLLBACK;
