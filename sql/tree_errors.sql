-- mlm.tree validation errors: every check of the builder, through the text
-- input and through the aggregate, with SQLSTATE, message and detail.
-- The detail names at most 10 member ids, then "and N more".
\pset format unaligned
\pset tuples_only on
-- try(q): run q and print "SQLSTATE message" and the detail, or "ok"
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    st text;
    msg text;
    det text;
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                            det = PG_EXCEPTION_DETAIL;
    RETURN st || ' ' || msg || coalesce(E'\n    ' || nullif(det, ''), '');
END
$$;
-- a valid baseline
SELECT pg_temp.try($$SELECT '{1,2:1,3:2}'::mlm.tree$$);

--
-- null id (23502): only the aggregate can see one
--
SELECT pg_temp.try($$SELECT mlm.tree_agg(id, s) FROM (VALUES (1, NULL), (NULL, 1)) v(id, s)$$);
SELECT pg_temp.try($$SELECT mlm.tree_agg(id, s) FROM (VALUES (NULL::int, NULL::int)) v(id, s)$$);
SELECT pg_temp.try($$SELECT mlm.tree_agg(id, s, p, pos) FROM (VALUES (1, NULL, NULL, NULL), (2, 1, 1, 0), (NULL, 1, 1, 1)) v(id, s, p, pos)$$);

--
-- duplicate ids (23505), dense ids (direct table) and sparse ids (sorted)
--
SELECT pg_temp.try($$SELECT '{1,2:1,2:1}'::mlm.tree$$);
SELECT pg_temp.try($$SELECT '{1,2:1,3:2,2:3,3:1}'::mlm.tree$$);
-- an id three times is still one duplicate id
SELECT pg_temp.try($$SELECT '{1,2:1,2:1,2:1,3:1,3:1}'::mlm.tree$$);
SELECT pg_temp.try($$SELECT '{1000000,5000000:1000000,5000000:1000000}'::mlm.tree$$);
SELECT pg_temp.try($$SELECT '{1000000,5000000:1000000,5000000:1000000,5000000:1000000}'::mlm.tree$$);
SELECT pg_temp.try($$SELECT '{-7,-7}'::mlm.tree$$);
-- more than 10: ids 1..20 twice
SELECT pg_temp.try($$SELECT mlm.tree_agg((g - 1) % 20 + 1, NULL) FROM generate_series(1, 40) g$$);
-- sparse ids 1000003 * (1..20) twice
SELECT pg_temp.try($$SELECT mlm.tree_agg(((g - 1) % 20 + 1) * 1000003, NULL) FROM generate_series(1, 40) g$$);
-- through the four-argument aggregate
SELECT pg_temp.try($$SELECT mlm.tree_agg(id, s, p, pos) FROM (VALUES (1, NULL, NULL, NULL), (2, 1, 1, 0), (2, 1, 1, 1)) v(id, s, p, pos)$$);

--
-- sponsor not a member (23503)
--
SELECT pg_temp.try($$SELECT '{1,2:1,3:7}'::mlm.tree$$);
SELECT pg_temp.try($$SELECT '{1,2:1,3:7,4:8,5:-1}'::mlm.tree$$);
-- sparse ids: reported in sponsor id order
SELECT pg_temp.try($$SELECT '{1000000,5:99,3:98}'::mlm.tree$$);
-- more than 10: members 2..26 point at a missing sponsor 1000
SELECT pg_temp.try($$SELECT mlm.tree_agg(g, CASE WHEN g > 1 THEN 1000 END) FROM generate_series(1, 26) g$$);
SELECT pg_temp.try($$SELECT mlm.tree_agg(g * 7919, CASE WHEN g > 1 THEN 1000 END) FROM generate_series(1, 26) g$$);

--
-- cycles (23000): the detail lists the members on the cycle
--
SELECT pg_temp.try($$SELECT '{1:1}'::mlm.tree$$);
SELECT pg_temp.try($$SELECT '{1:2,2:1}'::mlm.tree$$);
SELECT pg_temp.try($$SELECT '{1,2:3,3:4,4:2}'::mlm.tree$$);
-- a member hanging below a cycle is not on it
SELECT pg_temp.try($$SELECT '{1,5:2,2:3,3:4,4:2}'::mlm.tree$$);
SELECT pg_temp.try($$SELECT '{1000000,-5:-3,-3:7000000,7000000:-5,6:1000000}'::mlm.tree$$);
-- a cycle of 30 beside a valid root
SELECT pg_temp.try($$SELECT mlm.tree_agg(id, s) FROM (SELECT g AS id, g % 30 + 1 AS s FROM generate_series(1, 30) g UNION ALL SELECT 100, NULL) v$$);

--
-- placement: both columns or neither (23514)
--
-- position without placement_id
SELECT pg_temp.try($$SELECT '{1:::,2:1::0}'::mlm.tree$$);
-- placement_id without position
SELECT pg_temp.try($$SELECT '{1:::,2:1:1:}'::mlm.tree$$);
SELECT pg_temp.try($$SELECT mlm.tree_agg(id, s, p, pos) FROM (VALUES (1, NULL, NULL, NULL), (2, 1, 1, NULL), (3, 1, NULL, 0)) v(id, s, p, pos)$$);
SELECT pg_temp.try($$SELECT mlm.tree_agg(g, NULLIF(g - 1, 0), NULLIF(g - 1, 0), NULL) FROM generate_series(1, 15) g$$);
-- negative position (the text form cannot spell one)
SELECT pg_temp.try($$SELECT mlm.tree_agg(id, s, p, pos) FROM (VALUES (1, NULL, NULL, NULL), (2, 1, 1, -1)) v(id, s, p, pos)$$);
-- two members in one slot (23505)
SELECT pg_temp.try($$SELECT '{1:::,2:1:1:0,3:1:1:0}'::mlm.tree$$);
SELECT pg_temp.try($$SELECT '{1:::,2:1:1:0,3:1:1:0,4:1:1:1,5:2:1:0}'::mlm.tree$$);
SELECT pg_temp.try($$SELECT mlm.tree_agg(g, NULLIF(1, g), NULLIF(1, g), CASE WHEN g > 1 THEN 0 END) FROM generate_series(1, 16) g$$);
-- placement parent not a member (23503)
SELECT pg_temp.try($$SELECT '{1:::,2:1:9:0}'::mlm.tree$$);
SELECT pg_temp.try($$SELECT mlm.tree_agg(g, NULLIF(1, g), CASE WHEN g > 1 THEN -g END, CASE WHEN g > 1 THEN 0 END) FROM generate_series(1, 13) g$$);
-- placement cycles (23000); the sponsor tree is fine
SELECT pg_temp.try($$SELECT '{1:::,2:1:2:0}'::mlm.tree$$);
SELECT pg_temp.try($$SELECT '{1:::,2:1:3:0,3:1:2:0}'::mlm.tree$$);
SELECT pg_temp.try($$SELECT '{1:::,2:1:1:0,3:1:5:0,4:1:3:0,5:1:4:0}'::mlm.tree$$);
-- a placement cycle through the sponsor root
SELECT pg_temp.try($$SELECT '{1::2:0,2:1:1:0}'::mlm.tree$$);
-- sponsor problems are reported before placement problems
SELECT pg_temp.try($$SELECT '{1:::,2:1:2:0,3:9:1:0}'::mlm.tree$$);

--
-- text syntax (22P02), with the character position
--
SELECT pg_temp.try($$SELECT '1,2'::mlm.tree$$);
SELECT pg_temp.try($$SELECT ''::mlm.tree$$);
SELECT pg_temp.try($$SELECT '{1,2'::mlm.tree$$);
SELECT pg_temp.try($$SELECT '{1,,2}'::mlm.tree$$);
SELECT pg_temp.try($$SELECT '{a}'::mlm.tree$$);
SELECT pg_temp.try($$SELECT '{1 2}'::mlm.tree$$);
SELECT pg_temp.try($$SELECT '{1:2:3}'::mlm.tree$$);
SELECT pg_temp.try($$SELECT '{1:2:3:x}'::mlm.tree$$);
SELECT pg_temp.try($$SELECT '{1:2:3:4:5}'::mlm.tree$$);
SELECT pg_temp.try($$SELECT '{1:::-1}'::mlm.tree$$);
SELECT pg_temp.try($$SELECT '{1:1:1:2147483648}'::mlm.tree$$);
SELECT pg_temp.try($$SELECT '{9223372036854775808}'::mlm.tree$$);
SELECT pg_temp.try($$SELECT '{99999999999999999999}'::mlm.tree$$);
SELECT pg_temp.try($$SELECT '{-}'::mlm.tree$$);
SELECT pg_temp.try($$SELECT '{--1}'::mlm.tree$$);
SELECT pg_temp.try($$SELECT '{1} x'::mlm.tree$$);
-- the largest position is fine
SELECT pg_temp.try($$SELECT '{1:::,2:1:1:2147483647}'::mlm.tree$$);

--
-- set-returning functions on an unknown member (22023); scalar ones give NULL
--
SELECT pg_temp.try($$SELECT mlm.children('{1}', 2)$$);
SELECT pg_temp.try($$SELECT mlm.upline('{1}', 2)$$);
SELECT pg_temp.try($$SELECT mlm.downline('{1}', 2)$$);
SELECT pg_temp.try($$SELECT mlm.downline('{1}', 1, -1)$$);
