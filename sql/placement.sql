-- Placement at enrolment: mlm.place / mlm.place_many on small hand-made
-- trees; every expected slot is worked out in the comments from the rules
-- (docs/placement.md).  Slots are written (placement_id, position).
-- Every statement that fails is followed by \echo SQLSTATE :SQLSTATE, so the
-- expected output asserts the error's SQLSTATE as well as its message.
\pset format unaligned
\pset null '<null>'
--
-- Tree M, a forced matrix of width 3 (sponsor = placement parent here):
--
--               1
--        /      |      \
--       2       3       4
--     / | \     |
--    5  6  7    8 (at position 1: position 0 of 3 is free)
--
CREATE TEMP TABLE tm AS
SELECT '{1:::,2:1:1:0,3:1:1:1,4:1:1:2,5:2:2:0,6:2:2:1,7:2:2:2,8:3:3:1}'::mlm.tree AS t;
-- spillover from 1: 1 is full (2,3,4); breadth-first 2 (full), then 3, whose
-- lowest free position is 0 -> (3,0), a hole left of an occupied slot
SELECT p.* FROM tm, mlm.place(t, 1, 'spillover', 3) p;
-- from 2: 2 is full; its first child 5 is empty -> (5,0)
SELECT p.* FROM tm, mlm.place(t, 2, 'spillover', 3) p;
-- from 4, a leaf: the sponsor itself -> (4,0)
SELECT p.* FROM tm, mlm.place(t, 4, 'spillover', 3) p;
-- a batch under 1: 10 (3,0); 11: 3 has 10 and 8, next free is 2 -> (3,2);
-- 12, 13, 14 fill 4 -> (4,0) (4,1) (4,2); 15: level 2 in breadth-first
-- order 5,6,7,10,8,11,12,... -> (5,0); 16 is sponsored by 10, a member of
-- this batch, and goes directly under it -> (10,0); 17 again under 1:
-- 5 still has room -> (5,1)
SELECT p.* FROM tm, mlm.place_many(t, ARRAY[10, 11, 12, 13, 14, 15, 16, 17], ARRAY[1, 1, 1, 1, 1, 1, 10, 1], 'spillover', 3) p;
-- width 1 is a chain: from 1 follow the only slot down to the first free one
SELECT * FROM mlm.place('{1:::,2:1:1:0,3:2:2:0}'::mlm.tree, 1, 'spillover', 1);
-- width 20: the sponsor has 17 free positions, the lowest is 3
SELECT p.* FROM tm, mlm.place(t, 1, 'spillover', 20) p;
--
-- Tree B, binary; the sponsor tree is NOT the placement tree (everybody was
-- sponsored by 1), placement only looks at placement:
--
--            1
--          /   \
--         2     3
--        / \   /
--       4   5 6
--
CREATE TEMP TABLE tb AS
SELECT '{1:::,2:1:1:0,3:1:1:1,4:1:2:0,5:1:2:1,6:1:3:0}'::mlm.tree AS t;
-- spillover width 2 (the default) from 1: 1, 2 full; 3 has position 1 free -> (3,1)
SELECT p.* FROM tb, mlm.place(t, 1) p;
-- extreme_left from 1: 1 -> 2 -> 4, whose left is free -> (4,0)
SELECT p.* FROM tb, mlm.place(t, 1, 'extreme_left') p;
-- extreme_right from 1: 1 -> 3, right free -> (3,1)
SELECT p.* FROM tb, mlm.place(t, 1, 'extreme_right') p;
-- extreme_left from 3: 3 -> 6 -> (6,0); extreme_right from 2: 2 -> 5 -> (5,1)
SELECT p.* FROM tb, mlm.place(t, 3, 'extreme_left') p;
SELECT p.* FROM tb, mlm.place(t, 2, 'extreme_right') p;
-- extreme_left in a batch: each new member extends the left edge:
-- (4,0), then (10,0), then (11,0)
SELECT p.* FROM tb, mlm.place_many(t, ARRAY[10, 11, 12], ARRAY[1, 1, 1], 'extreme_left', 2) p;
-- weaker_leg (members) from 1: left {2,4,5} = 3, right {3,6} = 2: right is
-- weaker -> extreme_right from 1 -> (3,1)
SELECT p.* FROM tb, mlm.place(t, 1, 'weaker_leg') p;
-- from 2: {4} vs {5}, a tie goes left -> (4,0)
SELECT p.* FROM tb, mlm.place(t, 2, 'weaker_leg') p;
-- from 3: {6} = 1 vs empty = 0 -> right -> (3,1)
SELECT p.* FROM tb, mlm.place(t, 3, 'weaker_leg') p;
-- from 4: both legs empty, a tie -> left -> (4,0)
SELECT p.* FROM tb, mlm.place(t, 4, 'weaker_leg') p;
-- a weaker_leg batch under 1 (earlier members of the batch count):
--   10: 3 vs 2 -> right -> (3,1)
--   11: 3 vs 3 {3,6,10} -> tie, left -> extreme_left 1,2,4 -> (4,0)
--   12: 4 vs 3 -> right -> extreme_right 1,3,10 -> (10,1)
--   13: 4 vs 4 -> left -> extreme_left 1,2,4,11 -> (11,0)
SELECT p.* FROM tb, mlm.place_many(t, ARRAY[10, 11, 12, 13], ARRAY[1, 1, 1, 1], 'weaker_leg', 2) p;
-- weaker_leg by volume: summed CV of the legs' placement subtrees.
-- CV: 1: 500 (the sponsor's own, never counted), 2: 10, 4: 10, 5: 10 (two
-- rows 15 and -5), 3: 50, 6: -10; so left = 30, right = 40
CREATE TEMP TABLE vb (member_id bigint, pv numeric, cv numeric);
INSERT INTO vb VALUES (1, 0, 500), (2, 0, 10), (4, 0, 10), (5, 0, 15), (5, 0, -5), (3, 0, 50), (6, 0, -10);
-- from 1: the left leg (30) is weaker -> extreme_left -> (4,0), where by
-- members it went right
SELECT p.* FROM tb, mlm.place(t, 1, 'weaker_leg', 2, 'volume', 'vb') p;
-- from 2: 10 vs 10, a tie -> left -> (4,0)
SELECT p.* FROM tb, mlm.place(t, 2, 'weaker_leg', 2, 'volume', 'vb') p;
-- from 3: -10 vs an empty leg (0): the left leg is weaker -> (6,0)
SELECT p.* FROM tb, mlm.place(t, 3, 'weaker_leg', 2, 'volume', 'vb') p;
-- a batch by volume: new members have no volume.  Under 2 twice:
--   20: 10 vs 10 -> left -> (4,0); 21: left {4,20} = 10 still ties -> left,
--   extreme_left 2,4,20 -> (20,0)
SELECT p.* FROM tb, mlm.place_many(t, ARRAY[20, 21], ARRAY[2, 2], 'weaker_leg', 2, 'volume', 'vb') p;
--
-- Probes and special members
--
-- a null member id is an anonymous probe: it takes its slot, later members
-- of the batch see it.  On tree B, spillover from 1: probe (3,1), then
-- member 30: 1,2,3 full, 4 is the first with room -> (4,0)
SELECT p.* FROM tb, mlm.place_many(t, ARRAY[NULL, 30]::bigint[], ARRAY[1, 1]::bigint[], 'spillover', 2) p;
-- three probes by weaker leg (where would the next three go?):
--   probe 1: left {2,4,5} 3 vs right {3,6} 2 -> right -> (3,1)
--   probe 2: 3 vs 3 -> tie, left -> extreme_left 1,2,4 -> (4,0)
--   probe 3: 4 vs 3 -> right -> extreme_right 1,3,probe 1: below a probe,
--   so the placement_id is null (the probe has no id) -> (<null>,1)
SELECT p.* FROM tb, mlm.place_many(t, ARRAY[NULL, NULL, NULL]::bigint[], ARRAY[1, 1, 1]::bigint[], 'weaker_leg', 2) p;
-- a member without placement (9) is a placement root of its own
SELECT * FROM mlm.place('{1:::,2:1:1:0,9:1::}'::mlm.tree, 9, 'spillover', 2);
-- a snapshot built without placement: each sponsor starts its own tree
SELECT * FROM mlm.place_many('{1,2:1}'::mlm.tree, ARRAY[3, 4, 5], ARRAY[1, 1, 1], 'spillover', 2);
-- ids 0 and negative are ordinary ids
SELECT * FROM mlm.place_many('{0:::,-1:0:0:0}'::mlm.tree, ARRAY[-2, -3], ARRAY[0, 0], 'extreme_left', 2);
--
-- Errors
--
SELECT p.* FROM tb, mlm.place_many(t, ARRAY[10], ARRAY[99]) p;
\echo SQLSTATE :SQLSTATE
-- the same for mlm.place: its member is anonymous
SELECT p.* FROM tb, mlm.place(t, 99) p;
\echo SQLSTATE :SQLSTATE
SELECT p.* FROM tb, mlm.place_many(t, ARRAY[5], ARRAY[1]) p;
\echo SQLSTATE :SQLSTATE
SELECT p.* FROM tb, mlm.place_many(t, ARRAY[10, 10], ARRAY[1, 1]) p;
\echo SQLSTATE :SQLSTATE
SELECT p.* FROM tb, mlm.place_many(t, ARRAY[10, 11], ARRAY[1]) p;
\echo SQLSTATE :SQLSTATE
SELECT p.* FROM tb, mlm.place(t, 1, 'leftmost') p;
\echo SQLSTATE :SQLSTATE
SELECT p.* FROM tb, mlm.place(t, 1, 'weaker_leg', 2, 'pv') p;
\echo SQLSTATE :SQLSTATE
SELECT p.* FROM tb, mlm.place(t, 1, 'spillover', 0) p;
\echo SQLSTATE :SQLSTATE
SELECT p.* FROM tb, mlm.place(t, 1, 'spillover', 21) p;
\echo SQLSTATE :SQLSTATE
SELECT p.* FROM tb, mlm.place(t, 1, 'extreme_left', 3) p;
\echo SQLSTATE :SQLSTATE
SELECT p.* FROM tb, mlm.place(t, 1, 'weaker_leg', 2, 'volume') p;
\echo SQLSTATE :SQLSTATE
-- a snapshot with positions beyond the width asked is an error: on tree
-- M (width 3) members 4 and 7 sit at position 2; a binary method, even
-- from the leaf 4, names one of them
SELECT p.* FROM tm, mlm.place(t, 4, 'weaker_leg') p;
\echo SQLSTATE :SQLSTATE
-- spillover asked with width 2 on the same tree
SELECT p.* FROM tm, mlm.place(t, 1, 'spillover', 2) p;
\echo SQLSTATE :SQLSTATE
