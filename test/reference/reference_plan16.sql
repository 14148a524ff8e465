-- test/reference/reference_plan16.sql
--
-- The plain-SQL reference (test/reference/reference.sql, schema mlm_ref)
-- extended to the three rules of issue 16, written from the spec text
-- (compensation.md 5.4 "Per rank", 5.7 shares by volume, 6 "down"), with
-- numeric arithmetic only.  It adds functions named mlm_ref.p16_* and
-- changes nothing of reference.sql, so it is loaded after it:
--
--   \i test/reference/reference.sql
--   \i test/reference/reference_plan16.sql
--
-- Functions:
--   p16_round(x, scale, mode)       section 6 with "down" (toward zero)
--   p16_binary(plan, name, ...)     5.4 with rate_by_rank / amount_by_rank
--   p16_pool_lines(plan, name, ...) 5.7, every shares form
--   p16_payouts(plan, ...)          section 6 and 7 over personal,
--                                   unilevel, binary and pool bonuses
--
-- The per-rank value of a member is read at its rank (mlm_ref.by_rank at
-- member_results.rank_index): without rank_policy the paid-as rank of
-- version 2 is the qualified rank.

-- Section 6: half_up / half_even as mlm_ref.round; "down" drops the digits
-- beyond the scale (toward zero, negative amounts too).
CREATE FUNCTION mlm_ref.p16_round(x numeric, scale integer, mode text)
RETURNS numeric LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF mode = 'down' THEN
    RETURN trunc(x, scale);
  END IF;
  RETURN mlm_ref.round(x, scale, mode);
END $$;

-- Section 5.4 with per-rank values.  The pairing of a qualified member does
-- not depend on its rate or cycle amount, so mlm_ref.binary is run once
-- with the plan-wide key set to 1 and without max_carry: for a member it
-- qualified, leg = carry + paired volume (rate) or carry + cycles * a / b
-- (cycle).  Then, per member:
--   value    = rate_by_rank / amount_by_rank at its rank (section 4), or
--              the plan-wide rate / amount;
--   qualified = qualified by 5.4 and (value <> 0 when the value is per rank);
--   qualified: amount = value * paired (or cycles * value), lowered to cap,
--              carry = leg - what was paired;
--   otherwise: no pay, carry = 0 with flush_when_unqualified, else leg;
--   finally carry = min(carry, max_carry).
CREATE FUNCTION mlm_ref.p16_binary(plan jsonb, bonus_name text, members regclass,
                                   volumes regclass, carry regclass DEFAULT NULL)
RETURNS TABLE(member_id bigint, paired_base numeric, rate numeric, amount numeric,
              carry_left numeric, carry_right numeric, qualified boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_b       jsonb   := mlm_ref.bonus(plan, bonus_name, 'binary');
  v_cycle   boolean := v_b ? 'cycle';
  v_by_rank jsonb   := coalesce(v_b->'rate_by_rank', v_b #> '{cycle,amount_by_rank}');
  v_flat    numeric := coalesce((v_b->>'rate')::numeric, (v_b #>> '{cycle,amount}')::numeric);
  v_a       numeric := (v_b #>> '{cycle,left}')::numeric;
  v_bb      numeric := (v_b #>> '{cycle,right}')::numeric;
  v_cap     numeric := (v_b->>'cap')::numeric;
  v_max     numeric := (v_b->>'max_carry')::numeric;
  v_flush   boolean := coalesce((v_b->>'flush_when_unqualified')::boolean, false);
  v_one     jsonb;
  v_plan1   jsonb;
BEGIN
  -- the same bonus paying 1 plan-wide, no cap, no max_carry, no flush
  v_one := (v_b - 'rate_by_rank' - 'cap' - 'max_carry' - 'flush_when_unqualified');
  IF v_cycle THEN
    v_one := jsonb_set(v_one, '{cycle}', (v_one->'cycle') - 'amount_by_rank' || '{"amount": 1}');
  ELSE
    v_one := v_one || '{"rate": 1}';
  END IF;
  SELECT jsonb_set(plan, '{bonuses}', jsonb_agg(CASE WHEN e->>'name' = bonus_name THEN v_one ELSE e END
                                                ORDER BY o))
    INTO v_plan1
    FROM jsonb_array_elements(plan->'bonuses') WITH ORDINALITY AS x(e, o);

  RETURN QUERY
  WITH b AS (
    SELECT b.member_id, b.qualified AS q0, b.paired_base AS base,
           -- legs: the carry of the unflushed run plus what was paired
           b.carry_left  + CASE WHEN b.qualified THEN b.paired_base * CASE WHEN v_cycle THEN v_a  ELSE 1 END ELSE 0 END AS leg_l,
           b.carry_right + CASE WHEN b.qualified THEN b.paired_base * CASE WHEN v_cycle THEN v_bb ELSE 1 END ELSE 0 END AS leg_r,
           CASE WHEN v_by_rank IS NULL THEN v_flat
                ELSE mlm_ref.by_rank(plan, v_by_rank, r.rank_index) END AS val
      FROM mlm_ref.binary(v_plan1, bonus_name, members, volumes, carry) b
      JOIN mlm_ref.member_results(plan, members, volumes) r ON r.member_id = b.member_id
  ), q AS (
    SELECT b.*, b.q0 AND (v_by_rank IS NULL OR b.val <> 0) AS q FROM b
  ), o AS (
    SELECT q.member_id, q.q,
           CASE WHEN q.q THEN q.base ELSE 0 END AS base, q.val,
           CASE WHEN NOT q.q THEN 0
                WHEN v_cap IS NOT NULL AND q.base * q.val > v_cap THEN v_cap
                ELSE q.base * q.val END AS amount,
           CASE WHEN q.q THEN q.leg_l - q.base * CASE WHEN v_cycle THEN v_a  ELSE 1 END
                WHEN v_flush THEN 0 ELSE q.leg_l END AS out_l,
           CASE WHEN q.q THEN q.leg_r - q.base * CASE WHEN v_cycle THEN v_bb ELSE 1 END
                WHEN v_flush THEN 0 ELSE q.leg_r END AS out_r
      FROM q
  )
  SELECT o.member_id, o.base, o.val, o.amount,
         CASE WHEN v_max IS NULL THEN o.out_l ELSE least(o.out_l, v_max) END,
         CASE WHEN v_max IS NULL THEN o.out_r ELSE least(o.out_r, v_max) END,
         o.q
    FROM o ORDER BY o.member_id;
END $$;

-- Section 5.7: the lines of a pool, every form of shares.
--   P = pct * TotalCV truncated to the scale; nothing when P <= 0.
--   participants: active, rank >= min_rank, weight w > 0, where w is 1
--   ("equal"), the per-rank value (object by rank name), CV or GV
--   ({"by": "cv" | "gv"}).  W = sum of w.
--   In units u = 10^-scale: floor(P * w / W / u) each, computed as the
--   exact integer quotient of Pu * w by W (Pu = P / u); the remainder
--   Pu * w - floor * W over the common denominator W is compared as an
--   exact fraction; the Pu - sum(floor) leftover units go one each to the
--   largest remainders, ties to the smaller id.
CREATE FUNCTION mlm_ref.p16_pool_lines(plan jsonb, bonus_name text, members regclass,
                                       volumes regclass)
RETURNS TABLE(recipient bigint, base numeric, rate numeric, amount numeric)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_b      jsonb   := mlm_ref.bonus(plan, bonus_name, 'pool');
  v_scale  integer := coalesce((plan #>> '{currency,scale}')::integer, 2);
  v_shares jsonb   := coalesce(v_b->'shares', '"equal"');
  v_min    integer := coalesce(mlm_ref.rank_index(plan, v_b->>'min_rank'), 0);
  v_total  numeric;
  v_p      numeric;
  v_pu     numeric;
BEGIN
  SELECT coalesce(sum(v.cv), 0) INTO v_total FROM mlm_ref.volumes_of(members, volumes) v;
  v_p := trunc((v_b->>'pct')::numeric * v_total, v_scale);
  IF v_p <= 0 THEN
    RETURN;
  END IF;
  v_pu := v_p * ('1e' || v_scale)::numeric;
  RETURN QUERY
  WITH part AS (
    SELECT r.member_id AS id,
           CASE WHEN v_shares = '"equal"' THEN 1
                WHEN v_shares ? 'by' AND v_shares->>'by' = 'cv' THEN v.cv
                WHEN v_shares ? 'by' AND v_shares->>'by' = 'gv' THEN r.gv
                ELSE mlm_ref.by_rank(plan, v_shares, r.rank_index) END AS w
      FROM mlm_ref.member_results(plan, members, volumes) r
      JOIN mlm_ref.volumes_of(members, volumes) v ON v.member_id = r.member_id
     WHERE r.active AND r.rank_index >= v_min
  ), pos AS (
    SELECT * FROM part WHERE w > 0
  ), tot AS (
    SELECT sum(w) AS wt FROM pos
  ), fl AS (
    SELECT pos.id, pos.w, tot.wt, div(v_pu * pos.w, tot.wt) AS f,
           v_pu * pos.w - div(v_pu * pos.w, tot.wt) * tot.wt AS rem
      FROM pos, tot WHERE tot.wt > 0
  ), ranked AS (
    SELECT fl.*, row_number() OVER (ORDER BY fl.rem DESC, fl.id) AS k,
           v_pu - sum(fl.f) OVER () AS leftover
      FROM fl
  )
  SELECT ranked.id, v_p, ranked.w / ranked.wt,
         (ranked.f + CASE WHEN ranked.k <= ranked.leftover THEN 1 ELSE 0 END)
           * ('1e' || -v_scale)::numeric
    FROM ranked
   WHERE ranked.f + CASE WHEN ranked.k <= ranked.leftover THEN 1 ELSE 0 END <> 0
   ORDER BY 1;
END $$;

-- Sections 6 and 7 over personal, unilevel, binary (per rank too) and pool
-- bonuses: mlm_ref.payouts with p16_round ("down" too), p16_binary and
-- p16_pool_lines.  Pool amounts are at the scale already, so rounding their
-- sum changes nothing.  Rows whose (capped) amount is 0 are dropped, as in
-- mlm_ref.payouts.
CREATE FUNCTION mlm_ref.p16_payouts(plan jsonb, members regclass, volumes regclass,
                                    carry regclass DEFAULT NULL)
RETURNS TABLE(member_id bigint, bonus text, amount numeric)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_scale integer := coalesce((plan #>> '{currency,scale}')::integer, 2);
  v_mode  text    := coalesce(plan #>> '{currency,rounding}', 'half_up');
  v_unit  numeric := ('1e' || v_scale)::numeric;
  v_inv   numeric := ('1e' || -v_scale)::numeric;
  v_bn    jsonb;
  v_limit numeric;
  v_total numeric;
BEGIN
  CREATE TEMP TABLE IF NOT EXISTS _ref16_lines (recipient bigint, bonus text, amount numeric);
  CREATE TEMP TABLE IF NOT EXISTS _ref16_pay (member_id bigint, bonus text, amount numeric);
  TRUNCATE _ref16_lines, _ref16_pay;

  FOR v_bn IN SELECT e FROM jsonb_array_elements(plan->'bonuses') AS e LOOP
    CASE v_bn->>'type'
      WHEN 'personal' THEN
        INSERT INTO _ref16_lines
          SELECT l.recipient, v_bn->>'name', l.amount
            FROM mlm_ref.personal_lines(plan, v_bn->>'name', members, volumes) l;
      WHEN 'unilevel' THEN
        INSERT INTO _ref16_lines
          SELECT l.recipient, v_bn->>'name', l.amount
            FROM mlm_ref.unilevel_lines(plan, v_bn->>'name', members, volumes) l;
      WHEN 'binary' THEN
        INSERT INTO _ref16_lines
          SELECT b.member_id, v_bn->>'name', b.amount
            FROM mlm_ref.p16_binary(plan, v_bn->>'name', members, volumes, carry) b
           WHERE b.qualified AND b.amount <> 0;
      WHEN 'pool' THEN
        INSERT INTO _ref16_lines
          SELECT l.recipient, v_bn->>'name', l.amount
            FROM mlm_ref.p16_pool_lines(plan, v_bn->>'name', members, volumes) l;
      ELSE
        RAISE EXCEPTION 'mlm_ref.p16_payouts: bonus type "%" is not supported by the reference',
          v_bn->>'type';
    END CASE;
  END LOOP;

  INSERT INTO _ref16_pay (member_id, bonus, amount)
    SELECT l.recipient, l.bonus, mlm_ref.p16_round(sum(l.amount), v_scale, v_mode)
      FROM _ref16_lines l
     GROUP BY l.recipient, l.bonus;
  DELETE FROM _ref16_pay p WHERE p.amount = 0;

  IF plan ? 'cap' THEN
    v_limit := greatest(trunc((plan #>> '{cap,pct}')::numeric *
                              (SELECT coalesce(sum(v.cv), 0)
                                 FROM mlm_ref.volumes_of(members, volumes) v),
                              v_scale), 0);
    SELECT coalesce(sum(p.amount), 0) INTO v_total FROM _ref16_pay p;
    IF v_total > v_limit THEN
      UPDATE _ref16_pay p
         SET amount = round(div((p.amount * v_unit) * (v_limit * v_unit),
                                v_total * v_unit) * v_inv, v_scale);
      DELETE FROM _ref16_pay p WHERE p.amount = 0;
    END IF;
  END IF;

  RETURN QUERY SELECT p.member_id, p.bonus, p.amount FROM _ref16_pay p ORDER BY 1, 2;
END $$;
