-- 52_close_views.sql: totals over runs and adjustments.

------------------------------------------------------------------------------
-- Views
------------------------------------------------------------------------------

CREATE VIEW @extschema@.payout_totals AS
SELECT r.run_id, r.plan_name, r.period_label, r.status, x.member_id,
       pg_catalog.sum(x.paid) AS paid,
       pg_catalog.sum(x.adjusted) AS adjustments,
       pg_catalog.sum(x.paid) + pg_catalog.sum(x.adjusted) AS total
  FROM @extschema@.run r
  JOIN (SELECT p.run_id, p.member_id, p.amount AS paid, 0::numeric AS adjusted
          FROM @extschema@.run_payout p
        UNION ALL
        SELECT a.run_id, a.member_id, 0::numeric, a.amount
          FROM @extschema@.adjustment a) x ON x.run_id = r.run_id
 GROUP BY r.run_id, r.plan_name, r.period_label, r.status, x.member_id;
COMMENT ON VIEW @extschema@.payout_totals IS
  'What each member is owed per run: paid by the run (after the cap) plus adjustments. One row per member with a payout or an adjustment.';

CREATE VIEW @extschema@.run_totals AS
SELECT r.run_id, r.plan_name, r.plan_version, r.period_label, r.period_start, r.period_end,
       r.status, r.total_cv, r.total_before_cap, r.cap_factor, r.total_paid,
       COALESCE(a.adjustments, 0) AS adjustments,
       r.total_paid + COALESCE(a.adjustments, 0) AS total,
       COALESCE(a.adjustment_count, 0) AS adjustment_count,
       r.balance_in, r.paid_out, r.balance_out
  FROM @extschema@.run r
  LEFT JOIN (SELECT ad.run_id, pg_catalog.sum(ad.amount) AS adjustments,
                    pg_catalog.count(*) AS adjustment_count
               FROM @extschema@.adjustment ad
              GROUP BY ad.run_id) a ON a.run_id = r.run_id;
COMMENT ON VIEW @extschema@.run_totals IS
  'Totals per run: paid by the run plus the adjustments posted to it; the payables ledger''s sums (balances brought in, paid out, balances owed forward; NULL for runs made before 0.2).';

