-- test/pgtap/matrix.sql
--
-- Forced matrix payout: a unilevel bonus with "tree": "placement" (spec
-- 5.2) on a width-3 matrix built by spillover (mlm.place_many), compared
-- with an independent SQL computation of 5.2 on the placement tree:
--
--   for each member d with CV(d) != 0, a_k = the k-th placement ancestor
--   (compression none) or the k-th ACTIVE placement ancestor (dynamic:
--   inactive ones are skipped and do not count as a level); for k = 1..L a
--   line (a_k, d, k, CV(d), r_k) when a_k exists, is active, has
--   rank >= min_rank_by_level[k] and the amount is not zero.
--   payout = sum of a member's lines of the bonus, rounded half_up to 2
--   decimals, non-zero only.
--
-- Random data (reproducible: setseed): 3,000 members in two roots, sponsor
-- = a random earlier member, inactive statuses, PV under the active
-- minimum, several volume rows per member, negative and zero CV; ranks by
-- min_pv.  Also the placement errors of spec sections 2 and 10.
--
-- Run from the repository root in a database with pgtap and mlm:
--   pg_prove -d <db> test/pgtap/matrix.sql
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT setseed(0.2718281828);

SELECT plan(26);

-- ---------------------------------------------------------------------------
-- Random network: sponsor tree, then the matrix by spillover (width 3)
-- ---------------------------------------------------------------------------
-- ids g - 5 (0 and negative ids occur); g = 1, 2 are roots
CREATE TEMP TABLE mx_spon ON COMMIT DROP AS
SELECT g::bigint - 5 AS id,
       CASE WHEN g > 2 THEN (1 + floor(random() * (g - 1))::bigint) - 5 END AS sponsor_id
  FROM generate_series(1, 3000) g;

-- each member is placed by spillover below its sponsor, in id order (a
-- sponsor always comes first), in one place_many call
CREATE TEMP TABLE mx_members ON COMMIT DROP AS
SELECT s.id, s.sponsor_id, p.placement_id, p."position",
       random() >= 0.12 AS active_status, NULL::date AS joined
  FROM mx_spon s
  LEFT JOIN mlm.place_many((SELECT mlm.tree_agg(id, NULL::bigint, NULL::bigint, NULL::int) FROM mx_spon WHERE sponsor_id IS NULL),
                           (SELECT array_agg(id ORDER BY id) FROM mx_spon WHERE sponsor_id IS NOT NULL),
                           (SELECT array_agg(sponsor_id ORDER BY id) FROM mx_spon WHERE sponsor_id IS NOT NULL),
                           'spillover', 3) p ON p.member_id = s.id;

-- volumes: 0 to 3 rows per member, each with pv 0..75, cv -30..200 (a tenth of the
-- rows have cv 0), rv 0..10
CREATE TEMP TABLE mx_volumes ON COMMIT DROP AS
SELECT id AS member_id,
       round((random() * 75)::numeric, 2) AS pv,
       CASE WHEN random() < 0.1 THEN 0 ELSE round((random() * 230 - 30)::numeric, 2) END AS cv,
       round((random() * 10)::numeric, 2) AS rv
  FROM mx_members, generate_series(1, 3)
 WHERE random() < 0.55;

SELECT is((SELECT count(*) FROM mx_members WHERE placement_id IS NULL), 2::bigint,
          'the matrix: only the two roots have no placement_id');
SELECT is((SELECT count(*) FROM mx_members WHERE "position" NOT BETWEEN 0 AND 2), 0::bigint,
          'the matrix: positions 0..2');
-- spillover puts every member in its sponsor's placement subtree
SELECT is((WITH RECURSIVE up(id, sponsor_id, a) AS (
               SELECT id, sponsor_id, placement_id FROM mx_members WHERE sponsor_id IS NOT NULL
               UNION ALL
               SELECT up.id, up.sponsor_id, m.placement_id FROM up JOIN mx_members m ON m.id = up.a
                WHERE up.a <> up.sponsor_id AND m.placement_id IS NOT NULL)
           SELECT count(DISTINCT id) FROM up WHERE a = sponsor_id), 2998::bigint,
          'the matrix: every member is placed below its sponsor');
SELECT cmp_ok((SELECT count(*) FROM mx_members m JOIN mx_members p ON p.id = m.placement_id
                WHERE m.sponsor_id <> m.placement_id), '>', 500::bigint,
              'the matrix: many members are placed below someone else than their sponsor (spillover)');

-- ---------------------------------------------------------------------------
-- The reference (spec 5.2 on the placement or sponsor tree), from the plan
-- ---------------------------------------------------------------------------
-- the reference reads its members and volumes through these views
CREATE TEMP VIEW ref_m AS SELECT id, sponsor_id, placement_id, "position", active_status FROM mx_members;
CREATE TEMP VIEW ref_v AS SELECT member_id, pv, cv FROM mx_volumes;

-- per member: PV, CV (sums over the rows), active, rank index
CREATE FUNCTION pg_temp.ref_member(plan jsonb)
RETURNS TABLE (id bigint, pv numeric, cv numeric, active boolean, rnk int)
LANGUAGE sql AS $$
    WITH v AS (SELECT member_id, sum(pv) pv, sum(cv) cv FROM ref_v GROUP BY member_id),
         m AS (SELECT m.id, coalesce(v.pv, 0) pv, coalesce(v.cv, 0) cv,
                      m.active_status AND (plan #> '{active,min_pv}' IS NULL
                                           OR coalesce(v.pv, 0) >= (plan #>> '{active,min_pv}')::numeric) AS active
                 FROM ref_m m LEFT JOIN v ON v.member_id = m.id)
    SELECT m.id, m.pv, m.cv, m.active,
           CASE WHEN NOT m.active THEN 0 ELSE
               coalesce((SELECT max(r.ord - 1)::int FROM jsonb_array_elements(plan -> 'ranks') WITH ORDINALITY r(j, ord)
                          WHERE m.pv >= coalesce((r.j ->> 'min_pv')::numeric, 0)), 0) END
      FROM m
$$;

-- lines of the unilevel bonus number b (0-based) of the plan
CREATE FUNCTION pg_temp.ref_lines(plan jsonb, b int)
RETURNS TABLE (member_id bigint, bonus text, source_id bigint, level int, base numeric, rate numeric, amount numeric)
LANGUAGE plpgsql AS $$
DECLARE
    bon jsonb := plan -> 'bonuses' -> b;
BEGIN
    -- members with their parent in the bonus's tree
    CREATE TEMP TABLE ref_mem ON COMMIT DROP AS
    SELECT rm.*, CASE WHEN bon ->> 'tree' = 'placement' THEN m.placement_id ELSE m.sponsor_id END AS up
      FROM pg_temp.ref_member(plan) rm JOIN ref_m m USING (id);
    CREATE UNIQUE INDEX ON ref_mem (id);
    ANALYZE ref_mem;
    RETURN QUERY
    WITH RECURSIVE
    rates AS (SELECT x.k::int AS k, x.r::text::numeric AS r FROM jsonb_array_elements(bon -> 'rates') WITH ORDINALITY x(r, k)),
    minr AS (SELECT x.k::int AS k, (SELECT (ro.ord - 1)::int FROM jsonb_array_elements(plan -> 'ranks') WITH ORDINALITY ro(rj, ord)
                                    WHERE ro.rj ->> 'name' = x.n) AS mr
               FROM jsonb_array_elements_text(bon -> 'min_rank_by_level') WITH ORDINALITY x(n, k)),
    -- every ancestor of every source with CV != 0, with its distance
    anc (src, a, dist) AS (
        SELECT m.id, m.up, 1 FROM ref_mem m WHERE m.cv <> 0 AND m.up IS NOT NULL
        UNION ALL
        SELECT anc.src, m.up, anc.dist + 1 FROM anc JOIN ref_mem m ON m.id = anc.a WHERE m.up IS NOT NULL
    ),
    -- its level: the distance, or (dynamic) the rank among the active ones
    lvl AS (
        SELECT anc.src, anc.a,
               CASE WHEN bon ->> 'compression' = 'dynamic'
                    THEN CASE WHEN ma.active THEN row_number() OVER (PARTITION BY anc.src, ma.active ORDER BY anc.dist) END
                    ELSE anc.dist END AS k
          FROM anc JOIN ref_mem ma ON ma.id = anc.a
    )
    SELECT lvl.a, bon ->> 'name', lvl.src, lvl.k::int, s.cv, rates.r, s.cv * rates.r
      FROM lvl
      JOIN rates ON rates.k = lvl.k
      JOIN ref_mem s ON s.id = lvl.src
      JOIN ref_mem ma ON ma.id = lvl.a
      LEFT JOIN minr ON minr.k = lvl.k
     WHERE ma.active AND ma.rnk >= coalesce(minr.mr, 0) AND s.cv * rates.r <> 0;
    DROP TABLE ref_mem;
END
$$;

CREATE FUNCTION pg_temp.ref_all_lines(plan jsonb)
RETURNS TABLE (member_id bigint, bonus text, source_id bigint, level int, base numeric, rate numeric, amount numeric)
LANGUAGE sql AS $$
    SELECT l.* FROM generate_series(0, jsonb_array_length(plan -> 'bonuses') - 1) b, pg_temp.ref_lines(plan, b) l
$$;

CREATE FUNCTION pg_temp.ref_payouts(plan jsonb)
RETURNS TABLE (member_id bigint, bonus text, amount numeric)
LANGUAGE sql AS $$
    SELECT member_id, bonus, round(sum(amount), 2)
      FROM pg_temp.ref_all_lines(plan) GROUP BY 1, 2 HAVING round(sum(amount), 2) <> 0
$$;

-- ---------------------------------------------------------------------------
-- Plans
-- ---------------------------------------------------------------------------
CREATE TEMP TABLE mx_plans (no int, descr text, plan jsonb) ON COMMIT DROP;
INSERT INTO mx_plans VALUES
(1, 'matrix, compression none, 7 levels', $${
  "name": "matrix none", "active": {"min_pv": 20}, "ranks": [{"name": "Member"}],
  "bonuses": [{"name": "matrix", "type": "unilevel", "tree": "placement", "compression": "none",
               "rates": [0.10, 0.05, 0.04, 0.03, 0.02, 0.01, 0.005]}]}$$),
(2, 'matrix, compression dynamic, 7 levels', $${
  "name": "matrix dynamic", "active": {"min_pv": 20}, "ranks": [{"name": "Member"}],
  "bonuses": [{"name": "matrix", "type": "unilevel", "tree": "placement", "compression": "dynamic",
               "rates": [0.10, 0.05, 0.04, 0.03, 0.02, 0.01, 0.005]}]}$$),
(3, 'matrix dynamic with min_rank_by_level', $${
  "name": "matrix dynamic ranks", "active": {"min_pv": 20},
  "ranks": [{"name": "Member"}, {"name": "Pro", "min_pv": 60}, {"name": "Star", "min_pv": 110}],
  "bonuses": [{"name": "matrix", "type": "unilevel", "tree": "placement", "compression": "dynamic",
               "rates": [0.08, 0.06, 0.05, 0.04, 0.03, 0.02],
               "min_rank_by_level": ["Member", "Pro", "Member", "Star", "Pro", "Star"]}]}$$),
(4, 'matrix none with min_rank_by_level and a zero rate, next to a sponsor unilevel', $${
  "name": "matrix none ranks", "active": {"min_pv": 20},
  "ranks": [{"name": "Member"}, {"name": "Pro", "min_pv": 60}, {"name": "Star", "min_pv": 110}],
  "bonuses": [{"name": "matrix", "type": "unilevel", "tree": "placement",
               "rates": [0.07, 0, 0.05, 0.04, 0.03],
               "min_rank_by_level": ["Pro", "Member", "Member", "Star", "Pro"]},
              {"name": "uni", "type": "unilevel", "compression": "dynamic", "rates": [0.03, 0.02, 0.01]}]}$$),
(5, 'matrix dynamic without an active minimum (active = active_status)', $${
  "name": "matrix status only", "ranks": [{"name": "Member"}],
  "currency": {"scale": 2, "rounding": "half_up"},
  "bonuses": [{"name": "m", "type": "unilevel", "tree": "placement", "compression": "dynamic",
               "rates": [0.033, 0.021, 0.017, 0.011, 0.007, 0.003, 0.001, 0.001, 0.001, 0.001]}]}$$);

CREATE TEMP TABLE mx_got ON COMMIT DROP AS
SELECT p.no, l.* FROM mx_plans p, mlm.lines(p.plan, 'mx_members', 'mx_volumes', '2024-01-01', '2024-01-31') l;
CREATE TEMP TABLE mx_want ON COMMIT DROP AS
SELECT p.no, l.* FROM mx_plans p, pg_temp.ref_all_lines(p.plan) l;

CREATE FUNCTION pg_temp.diff_lines(p_no int) RETURNS text LANGUAGE sql AS $$
    WITH g AS (SELECT member_id, bonus, source_id, level, base, rate, amount FROM mx_got WHERE no = p_no),
         w AS (SELECT member_id, bonus, source_id, level, base, rate, amount FROM mx_want WHERE no = p_no),
         d AS ((SELECT 'engine only' side, * FROM (TABLE g EXCEPT ALL TABLE w) x)
               UNION ALL
               (SELECT 'reference only', * FROM (TABLE w EXCEPT ALL TABLE g) y))
    SELECT format('%s lines differ (engine %s, reference %s), e.g. %s', count(*),
                  (SELECT count(*) FROM g), (SELECT count(*) FROM w),
                  (SELECT string_agg(format('%s: %s', side, row(member_id, bonus, source_id, level, base, rate, amount)), '; ')
                     FROM (SELECT * FROM d ORDER BY source_id, level LIMIT 4) e))
      FROM d HAVING count(*) > 0
$$;

CREATE FUNCTION pg_temp.diff_payouts(plan jsonb) RETURNS text LANGUAGE sql AS $$
    WITH g AS (SELECT member_id, bonus, amount FROM mlm.payouts(plan, 'mx_members', 'mx_volumes', '2024-01-01', '2024-01-31')),
         w AS (SELECT member_id, bonus, amount FROM pg_temp.ref_payouts(plan)),
         d AS ((SELECT 'engine only' side, * FROM (TABLE g EXCEPT ALL TABLE w) x)
               UNION ALL
               (SELECT 'reference only', * FROM (TABLE w EXCEPT ALL TABLE g) y))
    SELECT format('%s payouts differ (engine %s, reference %s), e.g. %s', count(*),
                  (SELECT count(*) FROM g), (SELECT count(*) FROM w),
                  (SELECT string_agg(format('%s: %s', side, row(member_id, bonus, amount)), '; ')
                     FROM (SELECT * FROM d ORDER BY member_id LIMIT 4) e))
      FROM d HAVING count(*) > 0
$$;

SELECT is(pg_temp.diff_lines(p.no), NULL,
          format('lines: %s (%s lines) = spec 5.2 on the placement tree', p.descr,
                 (SELECT count(*) FROM mx_want w WHERE w.no = p.no)))
  FROM mx_plans p ORDER BY p.no;
SELECT is(pg_temp.diff_payouts(p.plan), NULL,
          format('payouts: %s (%s payouts) = the rounded sums of the reference lines', p.descr,
                 (SELECT count(*) FROM pg_temp.ref_payouts(p.plan))))
  FROM mx_plans p ORDER BY p.no;

-- ---------------------------------------------------------------------------
-- A small matrix worked out by hand (checks the reference's reading too)
-- ---------------------------------------------------------------------------
-- placement (width 3)          sponsor tree: 7 was sponsored by 3, the
--         1                    others by 1 (so the sponsor tree differs)
--      /  |  \
--     2   3   4                active.min_pv 20; PV/CV:
--    / \                         1: 30/0   2: 30/0   5: 10/30 (inactive)
--   5   6                        6: 40/40  7: 50/100  3, 4: none (inactive)
--   |
--   7                          rates [0.10, 0.05, 0.02]
--
-- none:    7 -> a1 = 5 (inactive: breakage), a2 = 2: 5.00, a3 = 1: 2.00
--          6 -> 2: 4.00, 1: 2.00;  5 (an inactive source pays) -> 2: 3.00, 1: 1.50
--          payouts 1: 5.50, 2: 12.00
-- dynamic: 7 -> active ancestors 2 (level 1): 10.00, 1 (level 2): 5.00
--          6 and 5 as above: payouts 1: 8.50, 2: 17.00
CREATE TEMP TABLE hm_members ON COMMIT DROP AS
SELECT id::bigint, sponsor_id::bigint, placement_id::bigint, "position"::int, true AS active_status, NULL::date AS joined
  FROM (VALUES (1, NULL, NULL, NULL), (2, 1, 1, 0), (3, 1, 1, 1), (4, 1, 1, 2), (5, 1, 2, 0), (6, 1, 2, 1), (7, 3, 5, 0))
       AS v(id, sponsor_id, placement_id, "position");
CREATE TEMP TABLE hm_volumes ON COMMIT DROP AS
SELECT member_id::bigint, pv::numeric, cv::numeric, 0::numeric AS rv
  FROM (VALUES (1, 30, 0), (2, 30, 0), (5, 10, 30), (6, 40, 40), (7, 50, 100)) AS v(member_id, pv, cv);
SELECT results_eq(
    $$SELECT member_id, amount FROM mlm.payouts('{"name": "hm", "active": {"min_pv": 20}, "ranks": [{"name": "M"}],
        "bonuses": [{"name": "matrix", "type": "unilevel", "tree": "placement", "rates": [0.10, 0.05, 0.02]}]}',
        'hm_members', 'hm_volumes', '2024-01-01', '2024-01-31') ORDER BY member_id$$,
    $$VALUES (1::bigint, 5.50::numeric), (2, 12.00)$$,
    'hand-made matrix, compression none: 1 gets 5.50, 2 gets 12.00');
SELECT results_eq(
    $$SELECT member_id, amount FROM mlm.payouts('{"name": "hm", "active": {"min_pv": 20}, "ranks": [{"name": "M"}],
        "bonuses": [{"name": "matrix", "type": "unilevel", "tree": "placement", "compression": "dynamic",
                     "rates": [0.10, 0.05, 0.02]}]}',
        'hm_members', 'hm_volumes', '2024-01-01', '2024-01-31') ORDER BY member_id$$,
    $$VALUES (1::bigint, 8.50::numeric), (2, 17.00)$$,
    'hand-made matrix, compression dynamic: 1 gets 8.50, 2 gets 17.00');
SELECT results_eq(
    $$SELECT member_id, source_id, level, base, rate, amount FROM mlm.lines('{"name": "hm", "active": {"min_pv": 20}, "ranks": [{"name": "M"}],
        "bonuses": [{"name": "matrix", "type": "unilevel", "tree": "placement", "compression": "dynamic",
                     "rates": [0.10, 0.05, 0.02]}]}',
        'hm_members', 'hm_volumes', '2024-01-01', '2024-01-31') ORDER BY source_id, level$$,
    $$VALUES (2::bigint, 5::bigint, 1, 30::numeric, 0.10::numeric, 3.00::numeric), (1, 5, 2, 30, 0.05, 1.50),
             (2, 6, 1, 40, 0.10, 4.00), (1, 6, 2, 40, 0.05, 2.00),
             (2, 7, 1, 100, 0.10, 10.00), (1, 7, 2, 100, 0.05, 5.00)$$,
    'hand-made matrix, compression dynamic: the lines of 7 skip the inactive 5 (2 is level 1)');
-- the reference agrees with the hand on the same example
CREATE OR REPLACE TEMP VIEW ref_m AS SELECT id, sponsor_id, placement_id, "position", active_status FROM hm_members;
CREATE OR REPLACE TEMP VIEW ref_v AS SELECT member_id, pv, cv FROM hm_volumes;
SELECT results_eq(
    $$SELECT member_id, bonus, amount FROM pg_temp.ref_payouts('{"name": "hm", "active": {"min_pv": 20}, "ranks": [{"name": "M"}],
        "bonuses": [{"name": "matrix", "type": "unilevel", "tree": "placement", "rates": [0.10, 0.05, 0.02]},
                    {"name": "matrix_dyn", "type": "unilevel", "tree": "placement", "compression": "dynamic", "rates": [0.10, 0.05, 0.02]}]}')
      ORDER BY bonus, member_id$$,
    $$VALUES (1::bigint, 'matrix', 5.50::numeric), (2, 'matrix', 12.00), (1, 'matrix_dyn', 8.50), (2, 'matrix_dyn', 17.00)$$,
    'the reference computes the hand-made example as the hand does');

-- ---------------------------------------------------------------------------
-- Placement errors of the engine (spec sections 2 and 10)
-- ---------------------------------------------------------------------------
-- SQLSTATE: message / detail of the error of a query, 'no error' without one
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    st text;
    msg text;
    det text;
BEGIN
    EXECUTE q;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
    RETURN st || ': ' || msg || ' / ' || coalesce(det, '');
END
$$;
CREATE TEMP TABLE no_vol (member_id bigint, pv numeric, cv numeric, rv numeric) ON COMMIT DROP;
CREATE TEMP TABLE e_members (id bigint, sponsor_id bigint, placement_id bigint, "position" int,
                             active_status boolean, joined date) ON COMMIT DROP;
\set matrix_plan '{"name": "e", "ranks": [{"name": "M"}], "bonuses": [{"name": "m", "type": "unilevel", "tree": "placement", "rates": [0.1]}]}'
\set binary_plan '{"name": "e", "ranks": [{"name": "M"}], "bonuses": [{"name": "b", "type": "binary", "rate": 0.1}]}'

-- a placement unilevel on 2+ members, none of whom has a placement_id
INSERT INTO e_members VALUES (1, NULL, NULL, NULL, true, NULL), (2, 1, NULL, NULL, true, NULL), (3, 2, NULL, NULL, true, NULL);
SELECT throws_ok(format($$SELECT * FROM mlm.payouts(%L, 'e_members', 'no_vol', '2024-01-01', '2024-01-31')$$, :'matrix_plan'),
                 '22023', 'the plan pays on the placement tree but no member has a placement_id',
                 'a placement unilevel on members without any placement_id is an error');
SELECT throws_ok(format($$SELECT * FROM mlm.lines(%L, 'e_members', 'no_vol', '2024-01-01', '2024-01-31')$$, :'matrix_plan'),
                 '22023', 'the plan pays on the placement tree but no member has a placement_id',
                 '... for the lines too');
-- ... while a single member without placement is fine (nothing to place)
DELETE FROM e_members WHERE id > 1;
SELECT lives_ok(format($$SELECT * FROM mlm.payouts(%L, 'e_members', 'no_vol', '2024-01-01', '2024-01-31')$$, :'matrix_plan'),
                'a placement unilevel on a single member without placement is not an error');
-- a matrix position may be any integer >= 0 without a binary bonus
DELETE FROM e_members;
INSERT INTO e_members VALUES (1, NULL, NULL, NULL, true, NULL), (2, 1, 1, 7, true, NULL);
INSERT INTO no_vol VALUES (2, 10, 100, 0);
SELECT results_eq(format($$SELECT member_id, amount FROM mlm.payouts(%L, 'e_members', 'no_vol', '2024-01-01', '2024-01-31')$$, :'matrix_plan'),
                  $$VALUES (1::bigint, 10.00::numeric)$$,
                  'a placement unilevel accepts position 7 (no binary bonus: no width)');
DELETE FROM no_vol;
-- positions >= 2 with a binary bonus: an error naming the member
DELETE FROM e_members;
INSERT INTO e_members VALUES (1, NULL, NULL, NULL, true, NULL), (2, 1, 1, 0, true, NULL),
                             (3, 1, 1, 2, true, NULL), (4, 1, 1, 1, true, NULL);
SELECT is(pg_temp.err(format($$SELECT * FROM mlm.payouts(%L, 'e_members', 'no_vol', '2024-01-01', '2024-01-31')$$, :'binary_plan')),
          '23514: placement position out of range 0 .. 1 / Members: 3.',
          'a binary bonus with a member at position 2: an error naming member 3');
-- the width-3 matrix under a binary bonus: the first 10 offenders and the count of the rest
-- (any 10 of them: the spec asks for at most the first 10, in no order)
SELECT is((SELECT format('%s / %s named, %s at position >= 2 / %s more', split_part(e, ' / ', 1),
                         cardinality(ids), (SELECT count(*) FROM mx_members WHERE id = ANY (ids) AND "position" >= 2),
                         substring(e FROM 'and ([0-9]+) more'))
             FROM (SELECT e, string_to_array(substring(e FROM 'Members: ([-0-9, ]+?)( and|\.)'), ', ')::bigint[] AS ids
                     FROM pg_temp.err(format($$SELECT * FROM mlm.payouts(%L, 'mx_members', 'mx_volumes', '2024-01-01', '2024-01-31')$$, :'binary_plan')) e) x),
          format('23514: placement position out of range 0 .. 1 / 10 named, 10 at position >= 2 / %s more',
                 (SELECT count(*) - 10 FROM mx_members WHERE "position" >= 2)),
          'the random width-3 matrix under a binary bonus: an error naming members at position 2, and how many more');
-- two members in one slot
DELETE FROM e_members;
INSERT INTO e_members VALUES (1, NULL, NULL, NULL, true, NULL), (2, 1, 1, 0, true, NULL), (3, 1, 1, 0, true, NULL);
SELECT is(pg_temp.err(format($$SELECT * FROM mlm.payouts(%L, 'e_members', 'no_vol', '2024-01-01', '2024-01-31')$$, :'matrix_plan')),
          '23505: two members in one placement slot / Members sharing a slot: 2, 3.',
          'two members in one matrix slot: an error naming both');
SELECT is(pg_temp.err(format($$SELECT * FROM mlm.payouts(%L, 'e_members', 'no_vol', '2024-01-01', '2024-01-31')$$, :'binary_plan')),
          '23505: two members in one placement slot / Members sharing a slot: 2, 3.',
          'two members in one binary slot: an error naming both');

SELECT * FROM finish();
ROLLBACK;
