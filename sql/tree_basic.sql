-- mlm.tree basics: text I/O and every traversal function on small
-- hand-made trees whose answers are worked out in the comments.
-- Every statement that fails is followed by \echo SQLSTATE :SQLSTATE, so the
-- expected output asserts the error's SQLSTATE as well as its message.
\pset format unaligned
\pset null '<null>'
--
-- Tree A (sponsor tree only), three roots, ids out of order, a negative id:
--
--    -4          10                 20
--     |       /   |   \              |
--     0      3    11   12            21
--           / \         |
--          5   7        13
--                        |
--                        14
--
-- Preorder (roots by id, children by id):
--   -4, 0, 10, 3, 5, 7, 11, 12, 13, 14, 20, 21
CREATE TEMP TABLE ta AS
SELECT '{14:13, 5:3,10,21:20,3:10,0:-4,7:3,12:10, 13:12,20,-4,11:10}'::mlm.tree AS t;
-- text output is canonical: preorder, spaces gone
SELECT t FROM ta;
-- and reads back to the same value
SELECT t::text::mlm.tree::text = t::text AS same FROM ta;
-- entries may also spell out the empty placement fields (id:sponsor::)
SELECT '{ 1 , 2 : 1 }'::mlm.tree, '{1:,2:1}'::mlm.tree, '{1:::,2:1::}'::mlm.tree;
SELECT mlm.size(t) FROM ta;
SELECT mlm.roots(t) FROM ta;
-- contains / parent: scalar, NULL for unknown ids
SELECT mlm.contains(t, 13) AS c13, mlm.contains(t, -4) AS cm4, mlm.contains(t, 99) AS c99,
       mlm.parent(t, 13) AS p13, mlm.parent(t, 0) AS p0, mlm.parent(t, 10) AS p10,
       mlm.parent(t, 99) AS p99
FROM ta;
-- children: frontline by id; a leaf has none; unknown id is an error
SELECT mlm.children(t, 10) FROM ta;
SELECT count(*) FROM ta, mlm.children(t, 14);
SELECT mlm.children(t, 99) FROM ta;
\echo SQLSTATE :SQLSTATE
-- depth: root 0, NULL for an unknown id
SELECT mlm.depth(t, 10) AS d10, mlm.depth(t, 3) AS d3, mlm.depth(t, 5) AS d5,
       mlm.depth(t, 14) AS d14, mlm.depth(t, 0) AS d0, mlm.depth(t, -4) AS dm4,
       mlm.depth(t, 99) AS d99
FROM ta;
-- path: root first
SELECT mlm.path(t, 14) AS p14, mlm.path(t, 10) AS p10, mlm.path(t, 0) AS p0,
       mlm.path(t, 99) AS p99
FROM ta;
-- upline: sponsor at level 1 up to the root; empty for a root
SELECT u.* FROM ta, mlm.upline(t, 14) u;
SELECT count(*) FROM ta, mlm.upline(t, 10);
SELECT * FROM ta, mlm.upline(t, 99);
\echo SQLSTATE :SQLSTATE
-- downline: preorder with levels
SELECT d.* FROM ta, mlm.downline(t, 10) d;
SELECT d.* FROM ta, mlm.downline(t, 10, 1) d;
SELECT d.* FROM ta, mlm.downline(t, 10, 2) d;
SELECT count(*) FROM ta, mlm.downline(t, 10, 0);
SELECT count(*) FROM ta, mlm.downline(t, 14);
SELECT d.* FROM ta, mlm.downline(t, -4) d;
SELECT * FROM ta, mlm.downline(t, 10, -1);
\echo SQLSTATE :SQLSTATE
SELECT * FROM ta, mlm.downline(t, 99);
\echo SQLSTATE :SQLSTATE
-- downline is called on null input: a null tree or id gives no rows
SELECT count(*) FROM mlm.downline(NULL, 1);
SELECT count(*) FROM ta, mlm.downline(t, NULL);
-- a null max_depth means unlimited
SELECT count(*) FROM ta, mlm.downline(t, 10, NULL);
-- is_descendant: strictly below
SELECT mlm.is_descendant(t, 10, 14) AS a, mlm.is_descendant(t, 10, 10) AS b,
       mlm.is_descendant(t, 14, 10) AS c, mlm.is_descendant(t, 3, 13) AS d,
       mlm.is_descendant(t, 10, 21) AS e, mlm.is_descendant(t, -4, 0) AS f,
       mlm.is_descendant(t, 10, 99) AS g, mlm.is_descendant(t, 99, 10) AS h
FROM ta;
-- subtree_size includes the member itself
SELECT mlm.subtree_size(t, 10) AS s10, mlm.subtree_size(t, 3) AS s3,
       mlm.subtree_size(t, 14) AS s14, mlm.subtree_size(t, -4) AS sm4,
       mlm.subtree_size(t, 20) AS s20, mlm.subtree_size(t, 99) AS s99
FROM ta;
-- leg: the frontline member of the ancestor whose leg holds the descendant
SELECT mlm.leg(t, 10, 14) AS a, mlm.leg(t, 10, 5) AS b, mlm.leg(t, 10, 11) AS c,
       mlm.leg(t, 12, 14) AS d, mlm.leg(t, 10, 10) AS e, mlm.leg(t, 3, 14) AS f,
       mlm.leg(t, 10, 99) AS g, mlm.leg(t, -4, 0) AS h
FROM ta;
-- stats: 12 members, 3 roots, leaves 0 5 7 11 14 21, max depth 3,
-- mean depth 14/12, widest frontline 3 (member 10)
SELECT (mlm.stats(t)).* FROM ta;
-- members: preorder with sponsor and depth, no placement
SELECT m.* FROM ta, mlm.members(t) m;
-- leg over a call site that becomes busy (> 64 lookups switches to the
-- children index): legs of 10 for every descendant, repeated
SELECT d.member_id, mlm.leg(ta.t, 10, d.member_id) AS leg, count(*)
FROM ta, mlm.downline(ta.t, 10) d, generate_series(1, 20) g
GROUP BY 1, 2 ORDER BY 1;

--
-- The aggregate gives the same tree as the text input
--
SELECT mlm.tree_agg(id, sponsor_id)::text = (SELECT t::text FROM ta) AS same
FROM (VALUES (14, 13), (5, 3), (10, NULL), (21, 20), (3, 10), (0, -4), (7, 3),
             (12, 10), (13, 12), (20, NULL), (-4, NULL), (11, 10)) v(id, sponsor_id);
-- no rows: null, like other aggregates
SELECT mlm.tree_agg(id, sponsor_id) IS NULL AS is_null
FROM (VALUES (1::bigint, NULL::bigint)) v(id, sponsor_id) WHERE false;
-- one tree per group
SELECT g, mlm.tree_agg(id, sponsor_id)
FROM (VALUES ('x', 1, NULL), ('y', 1, NULL), ('x', 2, 1), ('y', 3, 1), ('y', 2, 3))
     v(g, id, sponsor_id)
GROUP BY g ORDER BY g;
-- as a window aggregate: growing trees, every prefix (by id) is valid
SELECT id, mlm.tree_agg(id, sponsor_id) OVER (ORDER BY id) AS t
FROM (VALUES (1, NULL), (2, 1), (3, 1), (4, 2), (5, 4)) v(id, sponsor_id);

--
-- The empty tree
--
SELECT '{}'::mlm.tree AS a, ' { } '::mlm.tree AS b;
SELECT mlm.size('{}'), mlm.contains('{}', 1), mlm.depth('{}', 1), mlm.path('{}', 1);
SELECT count(*) FROM mlm.roots('{}');
SELECT (mlm.stats('{}')).*;
SELECT count(*) FROM mlm.members('{}');
SELECT * FROM mlm.downline('{}', 1);
\echo SQLSTATE :SQLSTATE

--
-- Tree B: sponsor and placement (a binary placement tree with spillover)
--
--   sponsor:  1 -> 2, 3, 5;  2 -> 4
--   placement: 2 under 1 at 0, 3 under 1 at 1, 4 under 2 at 0,
--              5 under 2 at 1 (sponsored by 1, placed below 2)
--
CREATE TEMP TABLE tb AS
SELECT '{1:::,2:1:1:0,3:1:1:1,4:2:2:0,5:1:2:1}'::mlm.tree AS t;
-- sponsor preorder 1, 2, 4, 3, 5
SELECT t FROM tb;
SELECT m.* FROM tb, mlm.members(t) m;
SELECT mlm.placement_parent(t, 5) AS pp5, mlm.placement_parent(t, 4) AS pp4,
       mlm.placement_parent(t, 3) AS pp3, mlm.placement_parent(t, 1) AS pp1,
       mlm.placement_parent(t, 99) AS pp99,
       mlm.parent(t, 5) AS p5, mlm.depth(t, 5) AS d5
FROM tb;
-- traversals follow the sponsor tree
SELECT d.* FROM tb, mlm.downline(t, 2) d;
SELECT u.* FROM tb, mlm.upline(t, 5) u;
-- a sponsor-only tree has no placement parents
SELECT mlm.placement_parent(t, 0) FROM ta;
-- the four-argument aggregate builds the same value
SELECT mlm.tree_agg(id, sponsor_id, placement_id, "position")::text = (SELECT t::text FROM tb) AS same
FROM (VALUES (5, 1, 2, 1), (4, 2, 2, 0), (3, 1, 1, 1), (2, 1, 1, 0),
             (1, NULL, NULL, NULL)) v(id, sponsor_id, placement_id, "position");
-- members without placement, a sponsor root placed below another member
SELECT '{1:::,2:1::,3::1:0,4:3:3:7}'::mlm.tree AS t;
SELECT m.* FROM mlm.members('{1:::,2:1::,3::1:0,4:3:3:7}') m;
SELECT mlm.roots('{1:::,2:1::,3::1:0,4:3:3:7}');
-- rows of both forms mix: the short ones have no placement
SELECT '{1,2:1,3:1:1:0}'::mlm.tree AS t;
-- a four-argument aggregate whose placement columns are all null still
-- carries (empty) placement
SELECT mlm.tree_agg(id, sponsor_id, NULL::bigint, NULL::int)
FROM (VALUES (1, NULL), (2, 1)) v(id, sponsor_id);

--
-- ids at the ends of bigint
--
SELECT '{9223372036854775807,-9223372036854775808:9223372036854775807,0:-9223372036854775808}'::mlm.tree AS t;
SELECT mlm.path('{9223372036854775807,-9223372036854775808:9223372036854775807,0:-9223372036854775808}', 0);
SELECT mlm.depth('{9223372036854775807,-9223372036854775808:9223372036854775807,0:-9223372036854775808}', -9223372036854775808);

--
-- One call site fed two different trees, row after row: each row must get
-- the answers of its own tree.  These two have the same member count and
-- byte length (and had the same header checksum under an early, weak
-- checksum: the cache must not rest on the checksum alone).
--
SELECT k, mlm.contains(t, 3) AS has3, mlm.contains(t, 131075) AS has131075,
       mlm.depth(t, 131075) AS d, mlm.parent(t, 3) AS p3
FROM (VALUES (1, '{1,2:1,3:2}'::mlm.tree), (2, '{1,2:1,131075:1}'::mlm.tree)) v(k, t);
CREATE TEMP TABLE tc (k int, t mlm.tree);
INSERT INTO tc VALUES (1, '{1,2:1,3:2}'), (2, '{1,2:1,131075:1}'), (3, '{1,2:1,3:2}');
SELECT k, mlm.contains(t, 3) AS has3, mlm.path(t, 131075) AS p FROM tc ORDER BY k;
-- The same with the content hash forged: the last id of the second tree,
-- 6564910770762117165, is solved for so that both trees have the header
-- checksum of commit 3176981 (a 64-bit mix is invertible: not a defence),
-- and each row's value is built in per-row memory, so both values can
-- sit at one address.  Each row must still get its own tree's answers.
SELECT k, mlm.contains(x::mlm.tree, 1000000000000000) AS has_1e15, mlm.contains(x::mlm.tree, 5) AS has5,
       mlm.parent(x::mlm.tree, 1000000000000000) AS p
FROM (VALUES (1, '{1,2:1,1000000000000000:2}'), (2, '{1,5:1,6564910770762117165:5}')) v(k, x);
SELECT k, mlm.contains(x::mlm.tree, 5) AS has5
FROM (VALUES (1, '{1,2:1,1000000000000000:2}'), (2, '{1,5:1,6564910770762117165:5}')) v(k, x);

-- any whitespace (newlines, tabs) may separate entries of the text form
SELECT E'{ 1,\n\t2:1 ,3 : 1}'::mlm.tree AS t;
