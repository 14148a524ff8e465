-- mlm.tree_agg when the ids arrive in runs of consecutive values (a serial
-- key read in blocks, which is what parallel workers hand over), in short
-- runs, with gaps, duplicates, orphans and around the largest bigint.
-- Every tree is compared with its canonical text computed in plain SQL:
-- preorder, roots and siblings by id, "id:sponsor".
-- Every statement that fails is followed by \echo SQLSTATE :SQLSTATE, so the
-- expected output asserts the error's SQLSTATE as well as its message.
\pset format unaligned
CREATE TABLE runs_src AS
SELECT g::bigint AS id,
       CASE WHEN g > 1 THEN 1 + (g::bigint * 7919) % (g - 1) END AS sponsor_id
FROM generate_series(1, 5000) g;
CREATE FUNCTION pg_temp.canonical() RETURNS text LANGUAGE sql AS $$
    WITH RECURSIVE r AS (
        SELECT id, sponsor_id, ARRAY[id] AS path FROM runs_src WHERE sponsor_id IS NULL
        UNION ALL
        SELECT c.id, c.sponsor_id, r.path || c.id
        FROM r JOIN runs_src c ON c.sponsor_id = r.id
    )
    SELECT '{' || string_agg(CASE WHEN sponsor_id IS NULL THEN id::text
                                  ELSE id || ':' || sponsor_id END, ',' ORDER BY path) || '}'
    FROM r
$$;
-- id order: one run
SELECT mlm.tree_agg(id, sponsor_id ORDER BY id)::text = pg_temp.canonical() AS one_run
FROM runs_src;
-- 50 runs of 100 in reverse block order: together they are 1 .. 5000
SELECT mlm.tree_agg(id, sponsor_id ORDER BY (id - 1) / 100 DESC, id)::text = pg_temp.canonical() AS blocks_reversed
FROM runs_src;
-- runs of 7, odd blocks first: too many short runs, every id is stored
SELECT mlm.tree_agg(id, sponsor_id ORDER BY (id - 1) / 7 % 2, id)::text = pg_temp.canonical() AS short_runs
FROM runs_src;
-- descending ids: runs of one
SELECT mlm.tree_agg(id, sponsor_id ORDER BY id DESC)::text = pg_temp.canonical() AS descending
FROM runs_src;
-- a sponsor after its recruit (4999 is a leaf, 5000 not below it), in blocks
UPDATE runs_src SET sponsor_id = 5000 WHERE id = 4999;
SELECT mlm.tree_agg(id, sponsor_id ORDER BY (id - 1) / 100 DESC, id)::text = pg_temp.canonical() AS late_sponsor
FROM runs_src;
-- a gap: the runs do not cover one range
DELETE FROM runs_src WHERE id = 2500;
UPDATE runs_src SET sponsor_id = 1 WHERE sponsor_id = 2500;
SELECT mlm.tree_agg(id, sponsor_id ORDER BY (id - 1) / 100 DESC, id)::text = pg_temp.canonical() AS gap
FROM runs_src;
SELECT mlm.tree_agg(id, sponsor_id ORDER BY id)::text = pg_temp.canonical() AS gap_in_order
FROM runs_src;
-- errors found through the runs
INSERT INTO runs_src VALUES (2500, 1);
INSERT INTO runs_src VALUES (300, 7);
SELECT mlm.size(mlm.tree_agg(id, sponsor_id ORDER BY (id - 1) / 100 DESC, id)) FROM runs_src;
\echo SQLSTATE :SQLSTATE
DELETE FROM runs_src WHERE id = 300 AND sponsor_id = 7;
UPDATE runs_src SET sponsor_id = 6000 WHERE id = 4321;
SELECT mlm.size(mlm.tree_agg(id, sponsor_id ORDER BY (id - 1) / 100 DESC, id)) FROM runs_src;
\echo SQLSTATE :SQLSTATE
UPDATE runs_src SET sponsor_id = 4321 WHERE id = 4322;
UPDATE runs_src SET sponsor_id = 4322 WHERE id = 4321;
SELECT mlm.size(mlm.tree_agg(id, sponsor_id ORDER BY (id - 1) / 100 DESC, id)) FROM runs_src;
\echo SQLSTATE :SQLSTATE
-- around the largest bigint: three children of 9223372036854775806, in id
-- order -9223372036854775808, -9223372036854775807, 9223372036854775807
TRUNCATE runs_src;
INSERT INTO runs_src VALUES
    (9223372036854775806, NULL),
    (9223372036854775807, 9223372036854775806),
    (-9223372036854775808, 9223372036854775806),
    (-9223372036854775807, 9223372036854775806);
SELECT pg_temp.canonical() AS tree;
SELECT mlm.tree_agg(id, sponsor_id ORDER BY id)::text = pg_temp.canonical() AS wrap_in_order
FROM runs_src;
-- one run only by wrapping around the largest id
SELECT mlm.tree_agg(id, sponsor_id ORDER BY id > 0 DESC, id)::text = pg_temp.canonical() AS one_wrapping_run
FROM runs_src;
-- 9223372036854775806 alone, then the wrapping run: they chain only by
-- wrapping, so they are not one range
SELECT mlm.tree_agg(id, sponsor_id ORDER BY id = 9223372036854775806, id > 0 DESC, id)::text
           = pg_temp.canonical() AS wrapping_runs
FROM runs_src;
DROP TABLE runs_src;
