-- mlm.tree_agg in parallel: the plan has a Partial Aggregate under Gather,
-- workers really run, and the result equals the serial one.
-- Every statement that fails is followed by \echo SQLSTATE :SQLSTATE, so the
-- expected output asserts the error's SQLSTATE as well as its message.
\pset format unaligned
-- 100,000 members: sponsor = a pseudo-random earlier member; placement =
-- a ternary heap (member g under (g + 1) / 3 at position (g + 1) % 3)
CREATE TABLE tree_par AS
SELECT g::bigint AS id,
       CASE WHEN g > 1 THEN 1 + (g::bigint * 7919) % (g - 1) END AS sponsor_id,
       CASE WHEN g > 1 THEN (g + 1) / 3 END::bigint AS placement_id,
       CASE WHEN g > 1 THEN (g + 1) % 3 END AS "position"
FROM generate_series(1, 100000) g;
ANALYZE tree_par;
-- serial results first
SET max_parallel_workers_per_gather = 0;
SELECT md5(mlm.tree_agg(id, sponsor_id)::text) AS serial2,
       md5(mlm.tree_agg(id, sponsor_id, placement_id, "position")::text) AS serial4
FROM tree_par \gset
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT mlm.tree_agg(id, sponsor_id) FROM tree_par;
EXPLAIN (COSTS OFF) SELECT mlm.tree_agg(id, sponsor_id, placement_id, "position") FROM tree_par;
-- workers_launched(q): the "Workers Launched" of the Gather of q
CREATE FUNCTION pg_temp.workers_launched(q text) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    plan json;
BEGIN
    EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, FORMAT JSON) ' || q INTO plan;
    RETURN (plan -> 0 -> 'Plan' -> 'Plans' -> 0 ->> 'Workers Launched')::int;
END
$$;
SELECT pg_temp.workers_launched('SELECT mlm.tree_agg(id, sponsor_id) FROM tree_par') > 0 AS workers_ran;
SELECT pg_temp.workers_launched('SELECT mlm.tree_agg(id, sponsor_id, placement_id, "position") FROM tree_par') > 0 AS workers_ran;
SELECT md5(mlm.tree_agg(id, sponsor_id)::text) = :'serial2' AS same2,
       md5(mlm.tree_agg(id, sponsor_id, placement_id, "position")::text) = :'serial4' AS same4
FROM tree_par;
SELECT (mlm.stats(t)).* FROM (SELECT mlm.tree_agg(id, sponsor_id) AS t FROM tree_par) s \gset par_
SELECT :par_members AS members, :par_roots AS roots;
SELECT mlm.size(mlm.tree_agg(id, sponsor_id, placement_id, "position")) AS size,
       mlm.placement_parent(mlm.tree_agg(id, sponsor_id, placement_id, "position"), 100000) AS pp
FROM tree_par;
-- errors found after the partial states are combined
INSERT INTO tree_par VALUES (77777, 5, NULL, NULL);
SELECT mlm.size(mlm.tree_agg(id, sponsor_id)) FROM tree_par;
\echo SQLSTATE :SQLSTATE
DELETE FROM tree_par WHERE id = 77777 AND sponsor_id = 5;
INSERT INTO tree_par VALUES (100001, 200000, NULL, NULL);
SELECT mlm.size(mlm.tree_agg(id, sponsor_id)) FROM tree_par;
\echo SQLSTATE :SQLSTATE
DELETE FROM tree_par WHERE id = 100001;
-- (member 4 already holds slot 2 of member 1; the order in which the two
-- are named depends on the workers, so only the message is shown)
INSERT INTO tree_par VALUES (100001, 1, 1, 2);
\set VERBOSITY terse
SELECT mlm.size(mlm.tree_agg(id, sponsor_id, placement_id, "position")) FROM tree_par;
\echo SQLSTATE :SQLSTATE
\set VERBOSITY default
DELETE FROM tree_par WHERE id = 100001;
-- grouped: one tree per group, each group split across workers
SELECT id % 2 AS half, mlm.size(mlm.tree_agg(id, CASE WHEN id > 2 THEN id - 2 END))
FROM tree_par GROUP BY 1 ORDER BY 1;
-- a sponsor recruited after its recruit (99999 is a leaf, 100000 is not
-- below it): the workers' compact rows cover one range, but the fast layout
-- needs sponsors first, so they are expanded for the general path
UPDATE tree_par SET sponsor_id = 100000 WHERE id = 99999;
SET max_parallel_workers_per_gather = 0;
SELECT md5(mlm.tree_agg(id, sponsor_id)::text) AS late_serial FROM tree_par \gset
SET max_parallel_workers_per_gather = 2;
SELECT pg_temp.workers_launched('SELECT mlm.tree_agg(id, sponsor_id) FROM tree_par') > 0 AS workers_ran;
SELECT md5(mlm.tree_agg(id, sponsor_id)::text) = :'late_serial' AS same_late,
       mlm.parent(mlm.tree_agg(id, sponsor_id), 99999) AS late_sponsor
FROM tree_par;
UPDATE tree_par SET sponsor_id = 1 + (99999 * 7919) % 99998 WHERE id = 99999;
-- workers send their rows compact (sponsor as an int32 distance from the
-- recruit's id); a sponsor 2^40 away does not fit, so the partial state
-- holding its recruit goes uncompacted, and the ids are no longer one range
INSERT INTO tree_par VALUES (1099511627776, NULL, NULL, NULL);
UPDATE tree_par SET sponsor_id = 1099511627776 WHERE id = 50000;
SET max_parallel_workers_per_gather = 0;
SELECT md5(mlm.tree_agg(id, sponsor_id)::text) AS far_serial FROM tree_par \gset
SET max_parallel_workers_per_gather = 2;
SELECT pg_temp.workers_launched('SELECT mlm.tree_agg(id, sponsor_id) FROM tree_par') > 0 AS workers_ran;
SELECT md5(mlm.tree_agg(id, sponsor_id)::text) = :'far_serial' AS same_far,
       mlm.parent(mlm.tree_agg(id, sponsor_id), 50000) AS far_sponsor
FROM tree_par;
RESET max_parallel_workers_per_gather;
RESET min_parallel_table_scan_size;
RESET parallel_tuple_cost;
RESET parallel_setup_cost;
DROP TABLE tree_par;
