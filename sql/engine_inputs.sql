-- Engine inputs: relations with the spec's column names, validated with
-- clear errors that name the relation, column or member ids.
-- Every statement that fails is followed by \echo SQLSTATE :SQLSTATE, so the
-- expected output asserts the error's SQLSTATE as well as its message.
\set VERBOSITY default
CREATE TEMP TABLE m (id bigint, sponsor_id bigint, placement_id bigint, "position" int,
                     active_status boolean, joined date, note text);
CREATE TEMP TABLE v (member_id bigint, pv numeric, cv numeric, rv numeric);
INSERT INTO m (id, sponsor_id, note) VALUES (1, NULL, 'root'), (2, 1, 'x'), (3, 2, 'y');
INSERT INTO v VALUES (2, 100, 100, 0), (3, 50, 40, 0), (3, 10, 10, 0);
\set plan '{"ranks":[{"name":"Member"}],"bonuses":[{"name":"u","type":"unilevel","rates":[0.1,0.05]}]}'

-- extra columns are ignored, absent optional columns default as the spec says
SELECT * FROM mlm.payouts(:'plan', 'm', 'v', '2024-01-01', '2024-01-31') ORDER BY 1, 2;
-- a view works like a table; optional columns may be missing altogether
CREATE TEMP VIEW m_min AS SELECT id, sponsor_id FROM m;
SELECT * FROM mlm.payouts(:'plan', 'm_min', 'v', '2024-01-01', '2024-01-31') ORDER BY 1, 2;
-- integer volume columns are fine
CREATE TEMP TABLE v_int (member_id int, pv int, cv int);
INSERT INTO v_int VALUES (3, 60, 50);
SELECT * FROM mlm.payouts(:'plan', 'm_min', 'v_int', '2024-01-01', '2024-01-31') ORDER BY 1, 2;

-- a missing required column is named
CREATE TEMP TABLE m_bad (id bigint, parent bigint);
SELECT * FROM mlm.payouts(:'plan', 'm_bad', 'v', '2024-01-01', '2024-01-31');
\echo SQLSTATE :SQLSTATE
CREATE TEMP TABLE v_bad (member_id bigint, pv numeric);
SELECT * FROM mlm.payouts(:'plan', 'm', 'v_bad', '2024-01-01', '2024-01-31');
\echo SQLSTATE :SQLSTATE
-- floating point money is refused
CREATE TEMP TABLE v_float (member_id bigint, pv numeric, cv double precision);
SELECT * FROM mlm.payouts(:'plan', 'm', 'v_float', '2024-01-01', '2024-01-31');
\echo SQLSTATE :SQLSTATE
CREATE TEMP TABLE m_text (id text, sponsor_id bigint);
SELECT * FROM mlm.payouts(:'plan', 'm_text', 'v', '2024-01-01', '2024-01-31');
\echo SQLSTATE :SQLSTATE
-- a relation that does not exist
SELECT * FROM mlm.payouts(:'plan', 'no_such_table', 'v', '2024-01-01', '2024-01-31');
\echo SQLSTATE :SQLSTATE

-- volume rows for non-members
INSERT INTO v VALUES (42, 1, 1, 0), (43, 1, 1, 0);
SELECT * FROM mlm.payouts(:'plan', 'm', 'v', '2024-01-01', '2024-01-31');
\echo SQLSTATE :SQLSTATE
DELETE FROM v WHERE member_id > 3;
-- volumes with more decimals than the engine holds exactly
INSERT INTO v VALUES (2, 0.0000001, 0, 0);
SELECT * FROM mlm.payouts(:'plan', 'm', 'v', '2024-01-01', '2024-01-31');
\echo SQLSTATE :SQLSTATE
DELETE FROM v WHERE pv = 0.0000001;
INSERT INTO v VALUES (2, 'NaN', 0, 0);
SELECT * FROM mlm.payouts(:'plan', 'm', 'v', '2024-01-01', '2024-01-31');
\echo SQLSTATE :SQLSTATE
DELETE FROM v WHERE pv = 'NaN';

-- network validation of spec section 2, naming ids
INSERT INTO m (id, sponsor_id) VALUES (4, 99);
SELECT * FROM mlm.payouts(:'plan', 'm', 'v', '2024-01-01', '2024-01-31');
\echo SQLSTATE :SQLSTATE
UPDATE m SET sponsor_id = 5 WHERE id = 4;
INSERT INTO m (id, sponsor_id) VALUES (5, 4);
SELECT * FROM mlm.payouts(:'plan', 'm', 'v', '2024-01-01', '2024-01-31');
\echo SQLSTATE :SQLSTATE
DELETE FROM m WHERE id IN (4, 5);
INSERT INTO m (id, sponsor_id) VALUES (2, 1);
SELECT * FROM mlm.payouts(:'plan', 'm', 'v', '2024-01-01', '2024-01-31');
\echo SQLSTATE :SQLSTATE
DELETE FROM m WHERE id = 2 AND note IS NULL;
INSERT INTO m (id, sponsor_id) VALUES (NULL, 1);
SELECT * FROM mlm.payouts(:'plan', 'm', 'v', '2024-01-01', '2024-01-31');
\echo SQLSTATE :SQLSTATE
DELETE FROM m WHERE id IS NULL;

-- placement: a binary plan needs width 2 and placement data
\set bplan '{"ranks":[{"name":"Member"}],"bonuses":[{"name":"b","type":"binary","rate":0.1}]}'
SELECT * FROM mlm.payouts(:'bplan', 'm', 'v', '2024-01-01', '2024-01-31');
\echo SQLSTATE :SQLSTATE
UPDATE m SET placement_id = 1, "position" = 0 WHERE id = 2;
UPDATE m SET placement_id = 1, "position" = 2 WHERE id = 3;
SELECT * FROM mlm.payouts(:'bplan', 'm', 'v', '2024-01-01', '2024-01-31');
\echo SQLSTATE :SQLSTATE
UPDATE m SET "position" = 0 WHERE id = 3;
SELECT * FROM mlm.payouts(:'bplan', 'm', 'v', '2024-01-01', '2024-01-31');
\echo SQLSTATE :SQLSTATE
UPDATE m SET "position" = NULL WHERE id = 3;
SELECT * FROM mlm.payouts(:'bplan', 'm', 'v', '2024-01-01', '2024-01-31');
\echo SQLSTATE :SQLSTATE
UPDATE m SET "position" = 1 WHERE id = 3;
-- 3 was sponsored by 2, so 1 has no sponsored member in its right leg
SELECT * FROM mlm.payouts(:'bplan', 'm', 'v', '2024-01-01', '2024-01-31') ORDER BY 1;
-- without that rule 1 pairs min(100, 50) = 50 at 0.1
SELECT * FROM mlm.payouts('{"ranks":[{"name":"Member"}],"bonuses":[{"name":"b","type":"binary","rate":0.1,"require_sponsored_each_leg":false}]}',
                          'm', 'v', '2024-01-01', '2024-01-31') ORDER BY 1;

-- carry-in: unknown members and duplicates are errors
CREATE TEMP TABLE c (member_id bigint, carry_left numeric, carry_right numeric);
INSERT INTO c VALUES (1, 10, 0), (7, 1, 1);
SELECT * FROM mlm.payouts(:'bplan', 'm', 'v', '2024-01-01', '2024-01-31', 'c');
\echo SQLSTATE :SQLSTATE
DELETE FROM c WHERE member_id = 7;
INSERT INTO c VALUES (1, 5, 5);
SELECT * FROM mlm.payouts(:'bplan', 'm', 'v', '2024-01-01', '2024-01-31', 'c');
\echo SQLSTATE :SQLSTATE
-- plans without a binary bonus ignore carry (spec 10)
SELECT count(*) FROM mlm.payouts(:'plan', 'm', 'v', '2024-01-01', '2024-01-31', 'c');

-- argument checks
SELECT * FROM mlm.payouts(:'plan', 'm', 'v', '2024-02-01', '2024-01-31');
\echo SQLSTATE :SQLSTATE
SELECT * FROM mlm.payouts(NULL, 'm', 'v', '2024-01-01', '2024-01-31');
\echo SQLSTATE :SQLSTATE
SELECT count(*) FROM mlm.compute(:'plan', 'm', 'v', '2024-01-01', '2024-01-31', kinds => 'payout,bogus');
\echo SQLSTATE :SQLSTATE
SELECT * FROM mlm.payouts('{"ranks":[{"name":"Member"}],"bonuses":[{"name":"u","type":"unilevel","rates":[1.5]}]}', 'm', 'v', '2024-01-01', '2024-01-31');
\echo SQLSTATE :SQLSTATE

-- Plain tables are read with a direct scan; tables with row security (and
-- views, and relations the user may not read whole) go through SPI so that
-- every rule applies.  Member 3's volume is hidden from the role by a policy.
CREATE ROLE regress_mlm_reader;
CREATE TABLE rls_m (id bigint, sponsor_id bigint);
INSERT INTO rls_m VALUES (1, NULL), (2, 1), (3, 2);
CREATE TABLE rls_v (member_id bigint, pv numeric, cv numeric);
INSERT INTO rls_v VALUES (2, 100, 100), (3, 50, 40);
ALTER TABLE rls_v ENABLE ROW LEVEL SECURITY;
CREATE POLICY only_2 ON rls_v FOR SELECT USING (member_id = 2);
GRANT SELECT ON rls_m, rls_v TO regress_mlm_reader;
GRANT USAGE ON SCHEMA mlm TO regress_mlm_reader;
SET ROLE regress_mlm_reader;
-- only member 2's 100 CV is visible: 1 gets 10.00 (3's 40 would add 2.00 to 1 and 4.00 to 2)
SELECT * FROM mlm.payouts(:'plan', 'rls_m', 'rls_v', '2024-01-01', '2024-01-31') ORDER BY 1, 2;
RESET ROLE;
REVOKE SELECT ON rls_m FROM regress_mlm_reader;
SET ROLE regress_mlm_reader;
SELECT * FROM mlm.payouts(:'plan', 'rls_m', 'rls_v', '2024-01-01', '2024-01-31');
\echo SQLSTATE :SQLSTATE
RESET ROLE;
DROP TABLE rls_m, rls_v;
REVOKE USAGE ON SCHEMA mlm FROM regress_mlm_reader;
DROP ROLE regress_mlm_reader;

-- mlm.group_volume: ids in increasing order take the fast path (no snapshot),
-- other inputs the general one; both give GV = own PV + downline PV.
-- 1 <- 2, 1 <- 3, 2 <- 4; PV 2: 10, 3: 5, 4: 1 + 2
CREATE TEMP TABLE gm1 (id bigint, sponsor_id bigint);
INSERT INTO gm1 VALUES (1, NULL), (2, 1), (3, 1), (4, 2);
CREATE TEMP TABLE gv1 (member_id bigint, pv numeric, cv numeric);
INSERT INTO gv1 VALUES (2, 10, 1), (3, 5, 1), (4, 1, 1), (4, 2, 1);
SELECT * FROM mlm.group_volume('gm1', 'gv1') ORDER BY 1;
-- the same members with 2 now below 4: a sponsor id above its recruit's
CREATE TEMP TABLE gm2 (id bigint, sponsor_id bigint);
INSERT INTO gm2 VALUES (1, NULL), (2, 4), (3, 1), (4, 1);
SELECT * FROM mlm.group_volume('gm2', 'gv1') ORDER BY 1;
-- the same errors on both paths
INSERT INTO gm1 VALUES (5, 99);
SELECT * FROM mlm.group_volume('gm1', 'gv1');
\echo SQLSTATE :SQLSTATE
INSERT INTO gm2 VALUES (5, 99);
SELECT * FROM mlm.group_volume('gm2', 'gv1');
\echo SQLSTATE :SQLSTATE
