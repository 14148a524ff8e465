-- test/bench/engine_data.sql: a random recursive sponsor tree and its volumes
-- for test/bench/engine_bench.sh.
--
-- psql variables: n (members), mt / vt (names of the members and volumes
-- tables to create), seed (setseed argument, -1 .. 1).
--
-- Members 1..n; member 1 is the root, member k > 1 is sponsored by a member
-- drawn uniformly from 1..k-1 (a random recursive tree: mean depth ~ ln n,
-- 13.6 for n = 1M).  active_status is true for 95%, PV >= 50 for ~73.7%, so
-- ~70% of the members are active with active.min_pv = 50.  One volume row per
-- member with 2-decimal pv, cv (50..100% of pv) and rv; joined is spread over
-- the two years before 2024-03-31, so ~4% joined within 30 days of the period
-- end (fast start pays).
SET client_min_messages = warning;
SELECT setseed(:seed);

DROP TABLE IF EXISTS :"mt", :"vt";

CREATE TABLE :"mt" AS
SELECT g::bigint AS id,
       CASE WHEN g = 1 THEN NULL ELSE 1 + floor(random() * (g - 1))::bigint END AS sponsor_id,
       NULL::bigint AS placement_id,
       NULL::int AS position,
       random() < 0.95 AS active_status,
       date '2024-03-31' - floor(random() * 730)::int AS joined
  FROM generate_series(1, :n) g;

CREATE TABLE :"vt" AS
SELECT id AS member_id,
       pv,
       round(pv * (0.5 + random() * 0.5)::numeric, 2) AS cv,
       round(pv * (random() * 0.3)::numeric, 2) AS rv
  FROM (SELECT id,
               round((CASE WHEN random() < 0.737 THEN 50 + random() * 150
                           ELSE random() * 50 END)::numeric, 2) AS pv
          FROM :"mt") s;

ALTER TABLE :"mt" ADD PRIMARY KEY (id);
CREATE INDEX ON :"mt" (sponsor_id);
CREATE INDEX ON :"vt" (member_id);
VACUUM ANALYZE :"mt";
VACUUM ANALYZE :"vt";
