-- test/bench/binary_data.sql: a binary placement tree filled by spillover,
-- its volumes and carry-in, for test/bench/binary_bench.sh.
--
-- psql variables: n (members), mt / vt / ct (names of the members, volumes
-- and carry tables to create), seed (setseed argument, -1 .. 1).
--
-- Placement: member k > 1 sits under k / 2 at position k % 2 (breadth-first
-- spillover from the root, so the placement tree is complete: depth
-- floor(log2 n) = 19 for n = 1M).  Sponsor: the placement parent for half of
-- the members, a uniformly random earlier member for the other half.
-- Activity, volumes and joined dates as in engine_data.sql (~70% active with
-- min_pv 50).  Carry-in: one row for ~10% of the members, each side 0 ..
-- 5000 with 2 decimals, negative (-200 .. 0) for ~10% of those sides.
SET client_min_messages = warning;
SELECT setseed(:seed);

DROP TABLE IF EXISTS :"mt", :"vt", :"ct";

CREATE TABLE :"mt" AS
SELECT g::bigint AS id,
       CASE WHEN g = 1 THEN NULL
            WHEN random() < 0.5 THEN g / 2
            ELSE 1 + floor(random() * (g - 1))::bigint END AS sponsor_id,
       CASE WHEN g = 1 THEN NULL ELSE g / 2 END AS placement_id,
       CASE WHEN g = 1 THEN NULL ELSE (g % 2)::int END AS position,
       random() < 0.95 AS active_status,
       date '2024-03-31' - floor(random() * 730)::int AS joined
  FROM generate_series(1::bigint, :n) g;

CREATE TABLE :"vt" AS
SELECT id AS member_id,
       pv,
       round(pv * (0.5 + random() * 0.5)::numeric, 2) AS cv,
       round(pv * (random() * 0.3)::numeric, 2) AS rv
  FROM (SELECT id,
               round((CASE WHEN random() < 0.737 THEN 50 + random() * 150
                           ELSE random() * 50 END)::numeric, 2) AS pv
          FROM :"mt") s;

CREATE TABLE :"ct" AS
SELECT id AS member_id,
       CASE WHEN random() < 0.1 THEN -round((random() * 200)::numeric, 2)
            ELSE round((random() * 5000)::numeric, 2) END AS carry_left,
       CASE WHEN random() < 0.1 THEN -round((random() * 200)::numeric, 2)
            ELSE round((random() * 5000)::numeric, 2) END AS carry_right
  FROM :"mt"
 WHERE random() < 0.1;

ALTER TABLE :"mt" ADD PRIMARY KEY (id);
CREATE INDEX ON :"mt" (sponsor_id);
CREATE INDEX ON :"mt" (placement_id);
CREATE INDEX ON :"vt" (member_id);
ALTER TABLE :"ct" ADD PRIMARY KEY (member_id);
VACUUM ANALYZE :"mt";
VACUUM ANALYZE :"vt";
VACUUM ANALYZE :"ct";
