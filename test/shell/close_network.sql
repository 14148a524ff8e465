-- test/shell/close_network.sql: the network, period volumes, plan and
-- source shared by crash_close.sh and cancel_close.sh (run with psql
-- variables n = member count and plan = the plan name).
CREATE EXTENSION mlm;
CREATE SCHEMA erp;
-- a complete binary tree: member i sits under i / 2 (left when even), and
-- i / 2 also sponsored it
CREATE TABLE erp.members AS
  SELECT i::bigint AS id,
         CASE WHEN i > 1 THEN i / 2 END::bigint AS sponsor_id,
         CASE WHEN i > 1 THEN i / 2 END::bigint AS placement_id,
         CASE WHEN i > 1 THEN (i % 2)::int END AS position,
         true AS active_status
    FROM generate_series(1, :n) i;
CREATE TABLE erp.volumes AS
  SELECT i::bigint AS member_id, (40 + i % 100)::numeric AS pv, (i % 250)::numeric AS cv,
         '2024-01'::text AS period
    FROM generate_series(1, :n) i;
ANALYZE erp.members;
ANALYZE erp.volumes;
SELECT mlm.add_plan_version(:'plan', '{
  "currency": {"scale": 2},
  "active": {"min_pv": 60},
  "ranks": [{"name": "Member"}, {"name": "Bronze", "min_pv": 100}],
  "bonuses": [
    {"name": "retail", "type": "personal", "rate": 0.05},
    {"name": "unilevel", "type": "unilevel", "rates": [0.10, 0.05, 0.04, 0.03, 0.02]},
    {"name": "binary", "type": "binary", "rate": 0.10, "cap": 500, "max_carry": 20000}
  ],
  "cap": {"pct": 0.6}
}') \gset
SELECT mlm.register_source('erp', 'erp.members', 'erp.volumes', 'period') \gset
