-- test/reference/reference_v2.sql
--
-- The plain-SQL reference (schema mlm_ref) extended to the compensation
-- contract version 2 (compensation.md sections 11 to 13: paid-as and title
-- ranks with grace, rank_advancement, customers, the payables ledger, the
-- state between periods), written from the spec text only, numeric
-- arithmetic only.  Loaded after the two earlier files:
--
--   \i test/reference/reference.sql
--   \i test/reference/reference_plan16.sql
--   \i test/reference/reference_v2.sql
--
-- How it is built (everything new is named *_v2 or v2_*):
--
--   1. mlm_ref.v2_members_of / v2_state_of read and validate the inputs
--      (section 12 customer rules, section 13.2 state rules) on top of the
--      version 1 checks (mlm_ref.members_of, volumes_of).
--   2. Customers are folded (section 12) into two scratch tables that are
--      an ordinary version 1 input: pg_temp._ref2_fm (the distributors
--      only; a distributor's sponsor is always a distributor) and
--      pg_temp._ref2_fv (per distributor PV' = PV + CPV, CV' = CV + CCV and
--      its own RV).  The sum of CV' is TotalCV (customers' CV included).
--   3. Qualified ranks (section 4 plus the customer requirements of section
--      12) are computed by mlm_ref.v2_qualify, bottom-up, on the folded
--      network; then paid-as, grace and title by section 11.
--   4. Every bonus of version 1 (and of reference_plan16.sql) is reused on
--      the folded tables.  Those functions read a member's rank from
--      mlm_ref.member_results; section 11 says that every rank condition of
--      section 5 reads the *paid-as* rank.  So this file renames the
--      version 1 function to mlm_ref.member_results_v1 and puts in its place
--      a thin mlm_ref.member_results with the same signature that returns
--      member_results_v1's rows unchanged, except while the v2 computation
--      has "armed" the paid-as table pg_temp._ref2_paid_as (non-empty): then
--      rank_index / rank are the paid-as rank from that table.  v2_compute
--      fills the table just before the bonuses and empties it right after,
--      so outside a v2 computation (and in every version 1 test) the
--      function is the version 1 one.
--      New bonus code: personal with `volume` (v2_personal_lines),
--      rank_advancement (v2_advancement_lines), matching that may name any
--      non-matching bonus and rounds "down" too (from the lines already
--      computed).  binary and pool are mlm_ref.p16_binary / p16_pool_lines.
--   5. Payouts: rounding (section 6, "down" included) and the cap (7) as in
--      p16_payouts; then the ledger (13.1), the state out (13.2) and totals.
--
-- Entry point: mlm_ref.v2_compute(plan, members, volumes, state, period_end)
-- fills the session temp tables below (emptied on every call); the wrapper
-- functions mlm_ref.v2_member_results / v2_payouts / v2_lines /
-- v2_carry_out / v2_state_out / v2_payables / v2_totals (same arguments)
-- call it and return one of them.
--
--   _ref2_out_member (member_id, pv, gv, active, rank, amount,
--                     qualified_rank, paid_as_rank, title_rank, grace, cpv,
--                     customers, rv, member_type)
--       every member; pv is the member's own PV; rank = paid-as rank; rank
--       0 by its name; customers: active false, every rank, grace, cpv and
--       customers NULL, amount 0, gv = PV of its own sponsor subtree.
--   _ref2_out_line   (recipient, bonus, source, level, base, rate, amount)
--   _ref2_out_payout (member_id, bonus, amount)   after the cap, non-zero
--   _ref2_out_carry  (member_id, carry_left, carry_right)  non-zero rows,
--                     only with a binary bonus (customers included: their
--                     carry is that of a member outside the placement tree)
--   _ref2_out_state  (member_id, carry_left, carry_right, title_rank,
--                     paid_as_rank, grace, balance)  rank 0 = NULL; rows
--                     where anything is non-zero / non-null
--   _ref2_out_payable (member_id, balance_in, earned, paid, balance_out)
--                     rows where any is non-zero
--   _ref2_out_total  one row: total_cv, total_before_cap, total_paid,
--                     cap_limit, cap_factor (60 digits, NULL unless the cap
--                     applies), bonuses, bonuses_before_cap (jsonb, every
--                     bonus of the plan), balance_in, paid_out, balance_out
--
-- Scratch space: session temp tables pg_temp._ref2_*, created once per
-- session by mlm_ref._v2_scratch() and emptied / refilled on every call
-- (creating and dropping tables per call would exhaust the lock table in a
-- long test transaction, as reference.sql explains).
--
-- Readings of the spec (see also the test files):
--   * the state out always carries the paid-as rank (= the qualified rank
--     without rank_policy), as example (f) of the spec's examples shows
--     ("state_out: 1 title/paid-as Leader"); grace is 0 without
--     rank_policy, balance 0 without payout, carry 0 without a binary bonus;
--   * the previous state's paid-as rank and grace are read only with
--     rank_policy (without it paid_as = qualified); its title is read in
--     every plan; its balance only with payout; its carry only with a binary
--     bonus;
--   * without payout: paid = earned, balances 0 (payables rows where earned
--     is non-zero);
--   * a customer's carry: leg = carry-in (no placement, never active, so
--     never qualified): carry-out = 0 with flush_when_unqualified, else the
--     carry-in, then bounded by max_carry;
--   * member results report rank 0 by its name for distributors and no
--     rank for customers; the state writes rank 0 as NULL (13.2); rv and
--     member_type are not in the spec's member results, but the engine's
--     API has them: rv = the member's own RV, member_type as read (NULL =
--     'distributor').

------------------------------------------------------------------------------
-- The paid-as hook on mlm_ref.member_results (see 4. above)
------------------------------------------------------------------------------

ALTER FUNCTION mlm_ref.member_results(jsonb, regclass, regclass)
  RENAME TO member_results_v1;

CREATE FUNCTION mlm_ref._v2_scratch()
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF to_regclass('pg_temp._ref2_paid_as') IS NOT NULL THEN
    RETURN;
  END IF;
  CREATE TEMP TABLE _ref2_paid_as (id bigint PRIMARY KEY, rank_index integer, rank text);
  -- inputs
  CREATE TEMP TABLE _ref2_m (id bigint PRIMARY KEY, sponsor_id bigint, placement_id bigint,
                             "position" integer, active_status boolean, joined date,
                             member_type text, payout_hold boolean);
  CREATE TEMP TABLE _ref2_v (member_id bigint PRIMARY KEY, pv numeric, cv numeric, rv numeric);
  CREATE TEMP TABLE _ref2_s (member_id bigint PRIMARY KEY, carry_left numeric,
                             carry_right numeric, title_index integer,
                             paid_as_index integer, grace integer, balance numeric);
  CREATE TEMP TABLE _ref2_mo (id bigint, sponsor_id bigint, placement_id bigint,
                              "position" integer, active_status boolean, joined date,
                              member_type text, payout_hold boolean);
  CREATE TEMP TABLE _ref2_so (member_id bigint, carry_left numeric, carry_right numeric,
                              title_rank text, paid_as_rank text, grace integer, balance numeric);
  CREATE TEMP TABLE _ref2_anc (member bigint, ancestor bigint, dist integer);
  CREATE INDEX ON _ref2_anc (ancestor);
  CREATE INDEX ON _ref2_anc (member);
  -- the folded network (a version 1 input)
  CREATE TEMP TABLE _ref2_fm (id bigint, sponsor_id bigint, placement_id bigint,
                              "position" integer, active_status boolean, joined date);
  CREATE TEMP TABLE _ref2_fv (member_id bigint, pv numeric, cv numeric, rv numeric);
  CREATE TEMP TABLE _ref2_fc (member_id bigint, carry_left numeric, carry_right numeric);
  -- per distributor
  CREATE TEMP TABLE _ref2_d (
    id bigint PRIMARY KEY, sponsor_id bigint, depth integer, status boolean,
    pv numeric, cv numeric, rv numeric, cpv numeric, ccv numeric, customers integer,
    pvf numeric, cvf numeric, gv numeric, active boolean,
    q integer, sub_max_q integer, p_in integer, g_in integer, t_in integer,
    paid_as integer, grace integer, title integer);
  CREATE INDEX ON _ref2_d (sponsor_id);
  CREATE TEMP TABLE _ref2_rank (
    j integer, name text, min_pv numeric, min_gv numeric, max_leg_pct numeric,
    min_frontline numeric, legs_rank integer, legs_count numeric,
    min_customer_pv numeric, min_customer_share numeric, min_customers numeric);
  -- lines and payouts
  CREATE TEMP TABLE _ref2_line (recipient bigint, bonus text, source bigint, level integer,
                                base numeric, rate numeric, amount numeric);
  CREATE TEMP TABLE _ref2_pay0 (member_id bigint, bonus text, amount numeric);
  -- outputs
  CREATE TEMP TABLE _ref2_out_member (
    member_id bigint, pv numeric, gv numeric, active boolean, rank text, amount numeric,
    qualified_rank text, paid_as_rank text, title_rank text, grace integer,
    cpv numeric, customers integer, rv numeric, member_type text);
  CREATE TEMP TABLE _ref2_out_line (recipient bigint, bonus text, source bigint, level integer,
                                    base numeric, rate numeric, amount numeric);
  CREATE TEMP TABLE _ref2_out_payout (member_id bigint, bonus text, amount numeric);
  CREATE TEMP TABLE _ref2_out_carry (member_id bigint, carry_left numeric, carry_right numeric);
  CREATE TEMP TABLE _ref2_out_state (member_id bigint, carry_left numeric, carry_right numeric,
                                     title_rank text, paid_as_rank text, grace integer,
                                     balance numeric);
  CREATE TEMP TABLE _ref2_out_payable (member_id bigint, balance_in numeric, earned numeric,
                                       paid numeric, balance_out numeric);
  CREATE TEMP TABLE _ref2_out_total (
    total_cv numeric, total_before_cap numeric, total_paid numeric, cap_limit numeric,
    cap_factor numeric, bonuses jsonb, bonuses_before_cap jsonb,
    balance_in numeric, paid_out numeric, balance_out numeric);
END $$;

-- Number of rows of a relation.
CREATE FUNCTION mlm_ref._v2_count(rel regclass)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
BEGIN
  EXECUTE format('SELECT count(*) FROM %s', rel) INTO n;
  RETURN n;
END $$;

-- Version 1's member results, with the paid-as rank in place of the
-- qualified one while _ref2_paid_as holds rows (during v2_compute only).
CREATE FUNCTION mlm_ref.member_results(plan jsonb, members regclass, volumes regclass)
RETURNS TABLE(member_id bigint, pv numeric, gv numeric, active boolean,
              rank_index integer, rank text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
  PERFORM mlm_ref._v2_scratch();
  IF NOT EXISTS (SELECT 1 FROM _ref2_paid_as) THEN
    RETURN QUERY SELECT * FROM mlm_ref.member_results_v1(plan, members, volumes);
    RETURN;
  END IF;
  RETURN QUERY
    SELECT r.member_id, r.pv, r.gv, r.active, p.rank_index, p.rank
      FROM mlm_ref.member_results_v1(plan, members, volumes) r
      JOIN _ref2_paid_as p ON p.id = r.member_id
     ORDER BY r.member_id;
  IF mlm_ref._v2_count(members) <> (SELECT count(*) FROM _ref2_paid_as) THEN
    RAISE EXCEPTION 'mlm_ref: the paid-as table does not cover the members of %', members;
  END IF;
END $$;

------------------------------------------------------------------------------
-- Inputs (sections 1, 2, 12, 13.2)
------------------------------------------------------------------------------

-- Section 12: the members with member_type ('distributor' / 'customer';
-- NULL = 'distributor'; any other value is an error) and payout_hold (NULL
-- = false), after the version 1 checks of mlm_ref.members_of.  Customer
-- rules: no placement (placement_id and position NULL) and no member's
-- placement_id; sponsors only customers; not a root.
CREATE FUNCTION mlm_ref.v2_members_of(members regclass)
RETURNS TABLE(id bigint, sponsor_id bigint, placement_id bigint, "position" integer,
              active_status boolean, joined date, member_type text, payout_hold boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_bad bigint[];
BEGIN
  PERFORM mlm_ref._v2_scratch();
  TRUNCATE _ref2_mo;
  EXECUTE format('INSERT INTO _ref2_mo
                    SELECT m.*, x.member_type, x.payout_hold
                      FROM mlm_ref.members_of(%L) m
                      JOIN (SELECT %s AS id, %s AS member_type, %s AS payout_hold FROM %s) x
                        ON x.id = m.id',
                 members,
                 mlm_ref._col(members, 'id', 'bigint'),
                 mlm_ref._col(members, 'member_type', 'text'),
                 mlm_ref._col(members, 'payout_hold', 'boolean'),
                 members);

  SELECT array_agg(m.id ORDER BY m.id) INTO v_bad FROM _ref2_mo m
   WHERE m.member_type IS NOT NULL AND m.member_type NOT IN ('distributor', 'customer');
  PERFORM mlm_ref._fail_if(v_bad, 'member_type is neither distributor nor customer');

  SELECT array_agg(m.id ORDER BY m.id) INTO v_bad FROM _ref2_mo m
   WHERE m.member_type = 'customer' AND (m.placement_id IS NOT NULL OR m.position IS NOT NULL);
  PERFORM mlm_ref._fail_if(v_bad, 'a customer has a placement');

  SELECT array_agg(m.id ORDER BY m.id) INTO v_bad FROM _ref2_mo m
   WHERE m.member_type = 'customer'
     AND EXISTS (SELECT 1 FROM _ref2_mo c WHERE c.placement_id = m.id);
  PERFORM mlm_ref._fail_if(v_bad, 'a customer is a placement parent');

  SELECT array_agg(m.id ORDER BY m.id) INTO v_bad FROM _ref2_mo m
   WHERE m.member_type = 'customer'
     AND EXISTS (SELECT 1 FROM _ref2_mo c
                  WHERE c.sponsor_id = m.id AND coalesce(c.member_type, 'distributor') <> 'customer');
  PERFORM mlm_ref._fail_if(v_bad, 'a customer sponsors a distributor');

  SELECT array_agg(m.id ORDER BY m.id) INTO v_bad FROM _ref2_mo m
   WHERE m.member_type = 'customer' AND m.sponsor_id IS NULL;
  PERFORM mlm_ref._fail_if(v_bad, 'a customer is a root');

  RETURN QUERY
    SELECT m.id, m.sponsor_id, m.placement_id, m.position, m.active_status, m.joined,
           coalesce(m.member_type, 'distributor'), coalesce(m.payout_hold, false)
      FROM _ref2_mo m ORDER BY m.id;
END $$;

-- Section 13.2: the previous state, one row per member that has one, ranks
-- as indexes (NULL name = rank 0), missing columns NULL / 0.  Errors: a row
-- for a non-member, two rows for one member, a rank name the plan does not
-- have, a negative grace.  state NULL = no state.
CREATE FUNCTION mlm_ref.v2_state_of(plan jsonb, members regclass, state regclass)
RETURNS TABLE(member_id bigint, carry_left numeric, carry_right numeric,
              title_index integer, paid_as_index integer, grace integer, balance numeric)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_bad bigint[];
BEGIN
  IF state IS NULL THEN
    RETURN;
  END IF;
  PERFORM mlm_ref._v2_scratch();
  TRUNCATE _ref2_so;
  EXECUTE format('INSERT INTO _ref2_so
                    SELECT %s AS member_id, %s AS carry_left, %s AS carry_right,
                           %s AS title_rank, %s AS paid_as_rank, %s AS grace, %s AS balance
                      FROM %s',
                 mlm_ref._col(state, 'member_id', 'bigint'),
                 mlm_ref._col(state, 'carry_left', 'numeric'),
                 mlm_ref._col(state, 'carry_right', 'numeric'),
                 mlm_ref._col(state, 'title_rank', 'text'),
                 mlm_ref._col(state, 'paid_as_rank', 'text'),
                 mlm_ref._col(state, 'grace', 'integer'),
                 mlm_ref._col(state, 'balance', 'numeric'),
                 state);

  SELECT array_agg(DISTINCT s.member_id) INTO v_bad FROM _ref2_so s
   WHERE NOT EXISTS (SELECT 1 FROM mlm_ref.members_of(members) m WHERE m.id = s.member_id);
  PERFORM mlm_ref._fail_if(v_bad, 'state row for a non-member');

  SELECT array_agg(d.member_id ORDER BY d.member_id) INTO v_bad
    FROM (SELECT s.member_id FROM _ref2_so s GROUP BY 1 HAVING count(*) > 1) d;
  PERFORM mlm_ref._fail_if(v_bad, 'two state rows for one member');

  SELECT array_agg(s.member_id ORDER BY s.member_id) INTO v_bad FROM _ref2_so s
   WHERE EXISTS (SELECT 1 FROM unnest(ARRAY[s.title_rank, s.paid_as_rank]) AS n(name)
                  WHERE n.name IS NOT NULL
                    AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(plan->'ranks') r
                                     WHERE r->>'name' = n.name));
  PERFORM mlm_ref._fail_if(v_bad, 'state names a rank the plan does not have');

  SELECT array_agg(s.member_id ORDER BY s.member_id) INTO v_bad FROM _ref2_so s
   WHERE s.grace < 0;
  PERFORM mlm_ref._fail_if(v_bad, 'negative grace in the state');

  RETURN QUERY
    SELECT s.member_id, coalesce(s.carry_left, 0), coalesce(s.carry_right, 0),
           coalesce(mlm_ref.rank_index(plan, s.title_rank), 0),
           coalesce(mlm_ref.rank_index(plan, s.paid_as_rank), 0),
           coalesce(s.grace, 0), coalesce(s.balance, 0)
      FROM _ref2_so s ORDER BY 1;
END $$;

-- The name of rank j (0 = the first rank).
CREATE FUNCTION mlm_ref.v2_rank_name(plan jsonb, j integer)
RETURNS text LANGUAGE sql STABLE AS $$
  SELECT plan->'ranks'->j->>'name'
$$;

------------------------------------------------------------------------------
-- Section 4 with the customer requirements of section 12: qualified ranks
------------------------------------------------------------------------------

-- Fills _ref2_d.q (and sub_max_q) for every distributor, bottom-up by depth.
-- A distributor qualifies for rank j >= 1 when it is active and meets every
-- requirement rank j lists (PV' for PV, section 12):
--   min_pv               PV'(m) >= x
--   min_gv [max_leg_pct] QGV >= min_gv: GV(m), or with max_leg_pct
--                        PV'(m) + sum over distributor children c of
--                        min(GV(c), max_leg_pct * min_gv)
--   min_active_frontline active distributor children >= n
--   legs_with_rank       >= n distributor children whose subtree holds a
--                        qualified rank >= R
--   min_customer_pv      CPV(m) + RV(m) >= x
--   min_customer_share   PV'(m) > 0 and (CPV + RV) / PV' >= s, compared
--                        exactly as CPV + RV >= s * PV'
--   min_customers        customers(m) >= n
-- q = the highest such j, 0 if none.
CREATE FUNCTION mlm_ref.v2_qualify(plan jsonb)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_lvl integer;
BEGIN
  TRUNCATE _ref2_rank;
  INSERT INTO _ref2_rank
    SELECT (r.ord - 1)::integer,
           r.e->>'name',
           (r.e->>'min_pv')::numeric,
           (r.e->>'min_gv')::numeric,
           (r.e->>'max_leg_pct')::numeric,
           (r.e->>'min_active_frontline')::numeric,
           mlm_ref.rank_index(plan, r.e #>> '{legs_with_rank,rank}'),
           (r.e #>> '{legs_with_rank,count}')::numeric,
           (r.e->>'min_customer_pv')::numeric,
           (r.e->>'min_customer_share')::numeric,
           (r.e->>'min_customers')::numeric
      FROM jsonb_array_elements(coalesce(plan->'ranks', '[]'::jsonb)) WITH ORDINALITY AS r(e, ord);

  FOR v_lvl IN REVERSE coalesce((SELECT max(depth) FROM _ref2_d), -1) .. 0 LOOP
    UPDATE _ref2_d m SET q = coalesce((
      SELECT max(r.j) FROM _ref2_rank r
       WHERE r.j >= 1
         AND m.active
         AND (r.min_pv IS NULL OR m.pvf >= r.min_pv)
         AND (r.min_gv IS NULL OR
              (CASE WHEN r.max_leg_pct IS NULL THEN m.gv
                    ELSE m.pvf + coalesce((SELECT sum(least(c.gv, r.max_leg_pct * r.min_gv))
                                             FROM _ref2_d c WHERE c.sponsor_id = m.id), 0)
               END) >= r.min_gv)
         AND (r.min_frontline IS NULL OR
              (SELECT count(*) FROM _ref2_d c WHERE c.sponsor_id = m.id AND c.active)
                >= r.min_frontline)
         AND (r.legs_rank IS NULL OR
              (SELECT count(*) FROM _ref2_d c
                WHERE c.sponsor_id = m.id AND c.sub_max_q >= r.legs_rank)
                >= coalesce(r.legs_count, 1))
         AND (r.min_customer_pv IS NULL OR m.cpv + m.rv >= r.min_customer_pv)
         AND (r.min_customer_share IS NULL OR
              (m.pvf > 0 AND m.cpv + m.rv >= r.min_customer_share * m.pvf))
         AND (r.min_customers IS NULL OR m.customers >= r.min_customers)
      ), 0)
    WHERE m.depth = v_lvl;

    UPDATE _ref2_d m SET sub_max_q = greatest(m.q,
      coalesce((SELECT max(c.sub_max_q) FROM _ref2_d c WHERE c.sponsor_id = m.id), 0))
    WHERE m.depth = v_lvl;
  END LOOP;
END $$;

------------------------------------------------------------------------------
-- New bonus code
------------------------------------------------------------------------------

-- Section 5.1 with section 12's `volume`: every active distributor m gets
-- (m, source m, level 0, base, rate, base * rate) with base CV'(m) ("all",
-- the default), CV(m) ("own") or CCV(m) ("customer"), rate `rate` or
-- `rate_by_rank` at the paid-as rank; none for a zero amount.
CREATE FUNCTION mlm_ref.v2_personal_lines(plan jsonb, bonus_name text)
RETURNS TABLE(recipient bigint, source bigint, level integer,
              base numeric, rate numeric, amount numeric)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_b   jsonb := mlm_ref.bonus(plan, bonus_name, 'personal');
  v_vol text  := coalesce(v_b->>'volume', 'all');
BEGIN
  IF (v_b ? 'rate') = (v_b ? 'rate_by_rank') OR v_vol NOT IN ('all', 'own', 'customer') THEN
    RAISE EXCEPTION 'mlm_ref: bad personal bonus %', v_b;
  END IF;
  RETURN QUERY
    WITH x AS (
      SELECT d.id, d.active,
             CASE v_vol WHEN 'all' THEN d.cvf WHEN 'own' THEN d.cv ELSE d.ccv END AS base,
             CASE WHEN v_b ? 'rate' THEN (v_b->>'rate')::numeric
                  ELSE mlm_ref.by_rank(plan, v_b->'rate_by_rank', d.paid_as) END AS r
        FROM _ref2_d d)
    SELECT x.id, x.id, 0, x.base, x.r, x.base * x.r
      FROM x
     WHERE x.active AND x.base * x.r <> 0
     ORDER BY x.id;
END $$;

-- Section 11.1: for each distributor whose title rises from t to
-- title > t, one line per rank j with t < j <= title that `amounts` lists:
-- (m, source m, level NULL, base amounts[j], rate 1, amounts[j]).  (A title
-- rises only with a qualified rank above t, so the member is active.)
CREATE FUNCTION mlm_ref.v2_advancement_lines(plan jsonb, bonus_name text)
RETURNS TABLE(recipient bigint, source bigint, level integer,
              base numeric, rate numeric, amount numeric)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_b jsonb := mlm_ref.bonus(plan, bonus_name, 'rank_advancement');
BEGIN
  RETURN QUERY
    SELECT d.id, d.id, NULL::integer, (v_b->'amounts'->>r.name)::numeric, 1::numeric,
           (v_b->'amounts'->>r.name)::numeric
      FROM _ref2_d d
      JOIN _ref2_rank r ON r.j > d.t_in AND r.j <= d.title
     WHERE d.active
       AND d.title > d.t_in
       AND v_b->'amounts' ? r.name
       AND (v_b->'amounts'->>r.name)::numeric <> 0
     ORDER BY d.id, r.j;
END $$;

-- Section 5.5 over the lines already computed (_ref2_line): E(x) = sum over
-- the bonuses in `of` of x's exact line sum of that bonus rounded once
-- (section 6, "down" too), before the cap; then the level walk of the
-- version 1 reference (mlm_ref._level_walk, paid-as ranks through the hook)
-- on the folded sponsor tree.
CREATE FUNCTION mlm_ref.v2_matching_lines(plan jsonb, bonus_name text)
RETURNS TABLE(recipient bigint, source bigint, level integer,
              base numeric, rate numeric, amount numeric)
LANGUAGE plpgsql AS $$
DECLARE
  v_b     jsonb   := mlm_ref.bonus(plan, bonus_name, 'matching');
  v_scale integer := coalesce((plan #>> '{currency,scale}')::integer, 2);
  v_mode  text    := coalesce(plan #>> '{currency,rounding}', 'half_up');
BEGIN
  IF coalesce(jsonb_array_length(v_b->'of'), 0) = 0 THEN
    RAISE EXCEPTION 'mlm_ref: matching bonus "%" has no "of"', bonus_name;
  END IF;
  IF EXISTS (SELECT 1 FROM jsonb_array_elements_text(v_b->'of') o(name)
               JOIN jsonb_array_elements(plan->'bonuses') b ON b->>'name' = o.name
              WHERE b->>'type' = 'matching') THEN
    RAISE EXCEPTION 'mlm_ref: matching bonus "%" names a matching bonus', bonus_name;
  END IF;
  PERFORM mlm_ref._scratch();
  TRUNCATE _ref_walk_base;
  INSERT INTO _ref_walk_base (id, base)
    SELECT e.recipient, sum(e.e)
      FROM (SELECT l.recipient, l.bonus, mlm_ref.p16_round(sum(l.amount), v_scale, v_mode) AS e
              FROM _ref2_line l
             WHERE l.bonus IN (SELECT x FROM jsonb_array_elements_text(v_b->'of') AS x)
             GROUP BY l.recipient, l.bonus) e
     GROUP BY e.recipient;
  RETURN QUERY
    SELECT * FROM mlm_ref._level_walk(plan, v_b->'rates', v_b->'min_rank_by_generation',
                                      coalesce(v_b->>'compression', 'none'), 'sponsor',
                                      'pg_temp._ref2_fm'::regclass, 'pg_temp._ref2_fv'::regclass);
END $$;

------------------------------------------------------------------------------
-- The computation of one period
------------------------------------------------------------------------------

CREATE FUNCTION mlm_ref.v2_compute(plan jsonb, members regclass, volumes regclass,
                                   state regclass DEFAULT NULL, period_end date DEFAULT NULL)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_scale   integer := coalesce((plan #>> '{currency,scale}')::integer, 2);
  v_mode    text    := coalesce(plan #>> '{currency,rounding}', 'half_up');
  v_unit    numeric := ('1e' || coalesce((plan #>> '{currency,scale}')::integer, 2))::numeric;
  v_inv     numeric := ('1e' || -coalesce((plan #>> '{currency,scale}')::integer, 2))::numeric;
  v_policy  boolean := plan ? 'rank_policy';
  v_g       integer := (plan #>> '{rank_policy,grace_periods}')::integer;
  v_payout  boolean := plan ? 'payout';
  v_min_pay numeric := (plan #>> '{payout,min_payout}')::numeric;
  v_min_pv  numeric := (plan #>> '{active,min_pv}')::numeric;
  v_binb    jsonb;
  v_bn      jsonb;
  v_fm      regclass;
  v_fv      regclass;
  v_fc      regclass;
  v_total_cv numeric;
  v_limit   numeric;
  v_before  numeric;
  v_factor  numeric;
BEGIN
  PERFORM mlm_ref._scratch();
  PERFORM mlm_ref._v2_scratch();
  TRUNCATE _ref2_paid_as, _ref2_m, _ref2_v, _ref2_s, _ref2_anc, _ref2_fm, _ref2_fv, _ref2_fc,
           _ref2_d, _ref2_line, _ref2_pay0, _ref2_out_member, _ref2_out_line,
           _ref2_out_payout, _ref2_out_carry, _ref2_out_state, _ref2_out_payable,
           _ref2_out_total;
  v_fm := 'pg_temp._ref2_fm'::regclass;
  v_fv := 'pg_temp._ref2_fv'::regclass;
  v_fc := 'pg_temp._ref2_fc'::regclass;

  -- Inputs, validated.
  INSERT INTO _ref2_m SELECT * FROM mlm_ref.v2_members_of(members);
  INSERT INTO _ref2_v SELECT * FROM mlm_ref.volumes_of(members, volumes);
  INSERT INTO _ref2_s SELECT * FROM mlm_ref.v2_state_of(plan, members, state);
  INSERT INTO _ref2_anc SELECT * FROM mlm_ref.ancestors(members, 'sponsor');
  ANALYZE _ref2_m; ANALYZE _ref2_v; ANALYZE _ref2_anc;
  SELECT b INTO v_binb FROM jsonb_array_elements(plan->'bonuses') AS b WHERE b->>'type' = 'binary';

  -- Section 12: folding.  dist(c) = the nearest distributor ancestor of a
  -- customer c (dist >= 1; a customer is never a root, and only customers
  -- sit below customers, so it exists).  Per distributor m: CPV, CCV over
  -- the customers c with dist(c) = m, customers(m) = how many have PV > 0.
  INSERT INTO _ref2_d (id, sponsor_id, depth, status, pv, cv, rv, cpv, ccv, customers,
                       pvf, cvf, gv, active)
    WITH cust AS (
      SELECT c.id,
             (SELECT a.ancestor FROM _ref2_anc a JOIN _ref2_m x ON x.id = a.ancestor
               WHERE a.member = c.id AND a.dist >= 1 AND x.member_type = 'distributor'
               ORDER BY a.dist LIMIT 1) AS dist,
             v.pv, v.cv
        FROM _ref2_m c JOIN _ref2_v v ON v.member_id = c.id
       WHERE c.member_type = 'customer'
    ), fold AS (
      SELECT cust.dist AS id, sum(cust.pv) AS cpv, sum(cust.cv) AS ccv,
             count(*) FILTER (WHERE cust.pv > 0) AS n
        FROM cust GROUP BY cust.dist
    )
    SELECT m.id, m.sponsor_id,
           (SELECT max(a.dist) FROM _ref2_anc a WHERE a.member = m.id),
           coalesce(m.active_status, true),
           v.pv, v.cv, v.rv,
           coalesce(f.cpv, 0), coalesce(f.ccv, 0), coalesce(f.n, 0)::integer,
           v.pv + coalesce(f.cpv, 0), v.cv + coalesce(f.ccv, 0),
           -- GV: the PV of the whole sponsor subtree, customers included
           (SELECT sum(y.pv) FROM _ref2_anc a JOIN _ref2_v y ON y.member_id = a.member
             WHERE a.ancestor = m.id),
           NULL
      FROM _ref2_m m
      JOIN _ref2_v v ON v.member_id = m.id
      LEFT JOIN fold f ON f.id = m.id
     WHERE m.member_type = 'distributor';
  -- Section 3 on PV': active = active_status and PV' >= active.min_pv.
  UPDATE _ref2_d d SET active = d.status AND (v_min_pv IS NULL OR d.pvf >= v_min_pv);
  ANALYZE _ref2_d;

  -- The folded network as a version 1 input.
  INSERT INTO _ref2_fm
    SELECT m.id, m.sponsor_id, m.placement_id, m.position, m.active_status, m.joined
      FROM _ref2_m m WHERE m.member_type = 'distributor';
  INSERT INTO _ref2_fv SELECT d.id, d.pvf, d.cvf, d.rv FROM _ref2_d d;
  INSERT INTO _ref2_fc
    SELECT s.member_id, s.carry_left, s.carry_right
      FROM _ref2_s s JOIN _ref2_d d ON d.id = s.member_id;
  ANALYZE _ref2_fm; ANALYZE _ref2_fv;

  -- Sections 4 and 12: qualified ranks.
  PERFORM mlm_ref.v2_qualify(plan);

  -- Section 11: paid-as, grace, title (p, g, t from the state; 0 without).
  UPDATE _ref2_d d SET
    p_in = coalesce((SELECT s.paid_as_index FROM _ref2_s s WHERE s.member_id = d.id), 0),
    g_in = coalesce((SELECT s.grace FROM _ref2_s s WHERE s.member_id = d.id), 0),
    t_in = coalesce((SELECT s.title_index FROM _ref2_s s WHERE s.member_id = d.id), 0);
  IF NOT v_policy THEN
    UPDATE _ref2_d d SET paid_as = d.q, grace = 0;
  ELSE
    UPDATE _ref2_d d SET
      paid_as = CASE WHEN d.q >= d.p_in THEN d.q                    -- rule 1
                     WHEN d.active AND d.g_in < v_g THEN d.p_in     -- rule 2
                     ELSE d.q END,                                  -- rule 3
      grace   = CASE WHEN d.q >= d.p_in THEN 0
                     WHEN d.active AND d.g_in < v_g THEN d.g_in + 1
                     ELSE 0 END;
  END IF;
  UPDATE _ref2_d d SET title = greatest(d.t_in, d.q);

  -- Section 5: the bonuses on the folded network, paid-as ranks armed.
  INSERT INTO _ref2_paid_as
    SELECT d.id, d.paid_as, mlm_ref.v2_rank_name(plan, d.paid_as) FROM _ref2_d d;
  FOR v_bn IN SELECT e FROM jsonb_array_elements(plan->'bonuses') AS e
               WHERE e->>'type' <> 'matching' LOOP
    CASE v_bn->>'type'
      WHEN 'personal' THEN
        INSERT INTO _ref2_line
          SELECT l.recipient, v_bn->>'name', l.source, l.level, l.base, l.rate, l.amount
            FROM mlm_ref.v2_personal_lines(plan, v_bn->>'name') l;
      WHEN 'unilevel' THEN
        INSERT INTO _ref2_line
          SELECT l.recipient, v_bn->>'name', l.source, l.level, l.base, l.rate, l.amount
            FROM mlm_ref.unilevel_lines(plan, v_bn->>'name', v_fm, v_fv) l;
      WHEN 'differential' THEN
        INSERT INTO _ref2_line
          SELECT l.recipient, v_bn->>'name', l.source, l.level, l.base, l.rate, l.amount
            FROM mlm_ref.differential_lines(plan, v_bn->>'name', v_fm, v_fv) l;
      WHEN 'fast_start' THEN
        -- a customer's CV is in CV' of its distributor: new when the
        -- distributor is new (section 12)
        INSERT INTO _ref2_line
          SELECT l.recipient, v_bn->>'name', l.source, l.level, l.base, l.rate, l.amount
            FROM mlm_ref.fast_start_lines(plan, v_bn->>'name', v_fm, v_fv, period_end) l;
      WHEN 'pool' THEN
        INSERT INTO _ref2_line
          SELECT l.recipient, v_bn->>'name', NULL, NULL, l.base, l.rate, l.amount
            FROM mlm_ref.p16_pool_lines(plan, v_bn->>'name', v_fm, v_fv) l;
      WHEN 'binary' THEN
        INSERT INTO _ref2_line
          SELECT b.member_id, v_bn->>'name', NULL, NULL, b.paired_base, b.rate, b.amount
            FROM mlm_ref.p16_binary(plan, v_bn->>'name', v_fm, v_fv, v_fc) b
           WHERE b.qualified AND b.amount <> 0;
        INSERT INTO _ref2_out_carry
          SELECT b.member_id, b.carry_left, b.carry_right
            FROM mlm_ref.p16_binary(plan, v_bn->>'name', v_fm, v_fv, v_fc) b;
      WHEN 'rank_advancement' THEN
        INSERT INTO _ref2_line
          SELECT l.recipient, v_bn->>'name', l.source, l.level, l.base, l.rate, l.amount
            FROM mlm_ref.v2_advancement_lines(plan, v_bn->>'name') l;
      ELSE
        RAISE EXCEPTION 'mlm_ref.v2_compute: bonus type "%" is not known', v_bn->>'type';
    END CASE;
  END LOOP;
  FOR v_bn IN SELECT e FROM jsonb_array_elements(plan->'bonuses') AS e
               WHERE e->>'type' = 'matching' LOOP
    INSERT INTO _ref2_out_line
      SELECT l.recipient, v_bn->>'name', l.source, l.level, l.base, l.rate, l.amount
        FROM mlm_ref.v2_matching_lines(plan, v_bn->>'name') l;
  END LOOP;
  TRUNCATE _ref2_paid_as;                                   -- disarmed
  INSERT INTO _ref2_line SELECT * FROM _ref2_out_line;
  TRUNCATE _ref2_out_line;
  INSERT INTO _ref2_out_line SELECT * FROM _ref2_line;

  -- A customer's carry (section 12): that of a member outside the placement
  -- tree, never active: carry-out = leg = carry-in, or 0 when flushed, then
  -- bounded by max_carry.
  IF v_binb IS NOT NULL THEN
    INSERT INTO _ref2_out_carry
      SELECT s.member_id,
             CASE WHEN coalesce((v_binb->>'flush_when_unqualified')::boolean, false) THEN 0
                  WHEN v_binb ? 'max_carry' THEN least(s.carry_left, (v_binb->>'max_carry')::numeric)
                  ELSE s.carry_left END,
             CASE WHEN coalesce((v_binb->>'flush_when_unqualified')::boolean, false) THEN 0
                  WHEN v_binb ? 'max_carry' THEN least(s.carry_right, (v_binb->>'max_carry')::numeric)
                  ELSE s.carry_right END
        FROM _ref2_s s JOIN _ref2_m m ON m.id = s.member_id
       WHERE m.member_type = 'customer';
    DELETE FROM _ref2_out_carry c WHERE c.carry_left = 0 AND c.carry_right = 0;
  END IF;

  -- Section 6: per (member, bonus) the exact line sum rounded once; no row
  -- for 0.  Section 7: the cap, A * L / T truncated toward zero.
  INSERT INTO _ref2_pay0
    SELECT l.recipient, l.bonus, mlm_ref.p16_round(sum(l.amount), v_scale, v_mode)
      FROM _ref2_line l GROUP BY l.recipient, l.bonus;
  DELETE FROM _ref2_pay0 p WHERE p.amount = 0;
  INSERT INTO _ref2_out_payout SELECT * FROM _ref2_pay0;
  v_total_cv := (SELECT coalesce(sum(v.cv), 0) FROM _ref2_v v);
  v_before   := (SELECT coalesce(sum(p.amount), 0) FROM _ref2_pay0 p);
  IF plan ? 'cap' THEN
    v_limit := greatest(trunc((plan #>> '{cap,pct}')::numeric * v_total_cv, v_scale), 0);
    IF v_before > v_limit THEN
      UPDATE _ref2_out_payout p
         SET amount = round(div((p.amount * v_unit) * (v_limit * v_unit), v_before * v_unit)
                            * v_inv, v_scale);
      DELETE FROM _ref2_out_payout p WHERE p.amount = 0;
      v_factor := div(v_limit * ('1e61')::numeric, v_before);
      v_factor := div(v_factor + 5, 10) * ('1e-60')::numeric;
    END IF;
  END IF;

  -- Member results (section 8 and 12).
  INSERT INTO _ref2_out_member
    SELECT d.id, d.pv, d.gv, d.active, mlm_ref.v2_rank_name(plan, d.paid_as),
           coalesce((SELECT sum(p.amount) FROM _ref2_out_payout p WHERE p.member_id = d.id), 0),
           mlm_ref.v2_rank_name(plan, d.q), mlm_ref.v2_rank_name(plan, d.paid_as),
           mlm_ref.v2_rank_name(plan, d.title), d.grace, d.cpv, d.customers, d.rv,
           'distributor'
      FROM _ref2_d d;
  INSERT INTO _ref2_out_member
    SELECT m.id, v.pv,
           (SELECT sum(y.pv) FROM _ref2_anc a JOIN _ref2_v y ON y.member_id = a.member
             WHERE a.ancestor = m.id),
           false, NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL, v.rv, 'customer'
      FROM _ref2_m m JOIN _ref2_v v ON v.member_id = m.id
     WHERE m.member_type = 'customer';

  -- Section 13.1: the ledger, every member.
  INSERT INTO _ref2_out_payable
    WITH e AS (
      SELECT m.id, m.payout_hold,
             CASE WHEN v_payout THEN coalesce(s.balance, 0) ELSE 0 END AS b,
             coalesce((SELECT sum(p.amount) FROM _ref2_out_payout p WHERE p.member_id = m.id), 0)
               AS earned
        FROM _ref2_m m LEFT JOIN _ref2_s s ON s.member_id = m.id
    )
    SELECT e.id, e.b, e.earned,
           CASE WHEN NOT v_payout THEN e.earned
                WHEN e.b + e.earned >= v_min_pay AND NOT e.payout_hold THEN e.b + e.earned
                ELSE 0 END,
           CASE WHEN NOT v_payout THEN 0
                WHEN e.b + e.earned >= v_min_pay AND NOT e.payout_hold THEN 0
                ELSE e.b + e.earned END
      FROM e;

  -- Section 13.2: the state out.  Carry from the binary bonus (0 without
  -- one); title (customers: unchanged); paid-as (always, see the header;
  -- customers NULL); grace (0 without rank_policy, customers 0); balance.
  INSERT INTO _ref2_out_state
    SELECT m.id,
           coalesce(c.carry_left, 0), coalesce(c.carry_right, 0),
           CASE WHEN m.member_type = 'customer'
                THEN mlm_ref.v2_rank_name(plan, nullif(coalesce(s.title_index, 0), 0))
                ELSE mlm_ref.v2_rank_name(plan, nullif(d.title, 0)) END,
           CASE WHEN m.member_type = 'customer' THEN NULL
                ELSE mlm_ref.v2_rank_name(plan, nullif(d.paid_as, 0)) END,
           coalesce(d.grace, 0),
           p.balance_out
      FROM _ref2_m m
      LEFT JOIN _ref2_d d ON d.id = m.id
      LEFT JOIN _ref2_s s ON s.member_id = m.id
      LEFT JOIN _ref2_out_carry c ON c.member_id = m.id
      JOIN _ref2_out_payable p ON p.member_id = m.id;
  DELETE FROM _ref2_out_state s
   WHERE s.carry_left = 0 AND s.carry_right = 0 AND s.title_rank IS NULL
     AND s.paid_as_rank IS NULL AND s.grace = 0 AND s.balance = 0;
  DELETE FROM _ref2_out_carry c WHERE c.carry_left = 0 AND c.carry_right = 0;
  DELETE FROM _ref2_out_payable p
   WHERE p.balance_in = 0 AND p.earned = 0 AND p.paid = 0 AND p.balance_out = 0;

  -- Totals (section 8, 13.1).
  INSERT INTO _ref2_out_total
    SELECT v_total_cv, v_before,
           (SELECT coalesce(sum(p.amount), 0) FROM _ref2_out_payout p),
           v_limit, v_factor,
           (SELECT jsonb_object_agg(b->>'name',
                     (SELECT coalesce(sum(p.amount), 0) FROM _ref2_out_payout p
                       WHERE p.bonus = b->>'name'))
              FROM jsonb_array_elements(plan->'bonuses') b),
           (SELECT jsonb_object_agg(b->>'name',
                     (SELECT coalesce(sum(p.amount), 0) FROM _ref2_pay0 p
                       WHERE p.bonus = b->>'name'))
              FROM jsonb_array_elements(plan->'bonuses') b),
           (SELECT coalesce(sum(p.balance_in), 0) FROM _ref2_out_payable p),
           (SELECT coalesce(sum(p.paid), 0) FROM _ref2_out_payable p),
           (SELECT coalesce(sum(p.balance_out), 0) FROM _ref2_out_payable p);
END $$;

------------------------------------------------------------------------------
-- Wrappers: compute, then return one result
------------------------------------------------------------------------------

CREATE FUNCTION mlm_ref.v2_member_results(plan jsonb, members regclass, volumes regclass,
                                          state regclass DEFAULT NULL, period_end date DEFAULT NULL)
RETURNS TABLE(member_id bigint, pv numeric, gv numeric, active boolean, rank text,
              amount numeric, qualified_rank text, paid_as_rank text, title_rank text,
              grace integer, cpv numeric, customers integer, rv numeric, member_type text)
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM mlm_ref.v2_compute(plan, members, volumes, state, period_end);
  RETURN QUERY SELECT * FROM _ref2_out_member o ORDER BY o.member_id;
END $$;

CREATE FUNCTION mlm_ref.v2_payouts(plan jsonb, members regclass, volumes regclass,
                                   state regclass DEFAULT NULL, period_end date DEFAULT NULL)
RETURNS TABLE(member_id bigint, bonus text, amount numeric)
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM mlm_ref.v2_compute(plan, members, volumes, state, period_end);
  RETURN QUERY SELECT * FROM _ref2_out_payout o ORDER BY 1, 2;
END $$;

CREATE FUNCTION mlm_ref.v2_lines(plan jsonb, members regclass, volumes regclass,
                                 state regclass DEFAULT NULL, period_end date DEFAULT NULL)
RETURNS TABLE(recipient bigint, bonus text, source bigint, level integer,
              base numeric, rate numeric, amount numeric)
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM mlm_ref.v2_compute(plan, members, volumes, state, period_end);
  RETURN QUERY SELECT * FROM _ref2_out_line o ORDER BY 1, 2, 3, 4;
END $$;

CREATE FUNCTION mlm_ref.v2_carry_out(plan jsonb, members regclass, volumes regclass,
                                     state regclass DEFAULT NULL, period_end date DEFAULT NULL)
RETURNS TABLE(member_id bigint, carry_left numeric, carry_right numeric)
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM mlm_ref.v2_compute(plan, members, volumes, state, period_end);
  RETURN QUERY SELECT * FROM _ref2_out_carry o ORDER BY 1;
END $$;

CREATE FUNCTION mlm_ref.v2_state_out(plan jsonb, members regclass, volumes regclass,
                                     state regclass DEFAULT NULL, period_end date DEFAULT NULL)
RETURNS TABLE(member_id bigint, carry_left numeric, carry_right numeric, title_rank text,
              paid_as_rank text, grace integer, balance numeric)
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM mlm_ref.v2_compute(plan, members, volumes, state, period_end);
  RETURN QUERY SELECT * FROM _ref2_out_state o ORDER BY 1;
END $$;

CREATE FUNCTION mlm_ref.v2_payables(plan jsonb, members regclass, volumes regclass,
                                    state regclass DEFAULT NULL, period_end date DEFAULT NULL)
RETURNS TABLE(member_id bigint, balance_in numeric, earned numeric, paid numeric,
              balance_out numeric)
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM mlm_ref.v2_compute(plan, members, volumes, state, period_end);
  RETURN QUERY SELECT * FROM _ref2_out_payable o ORDER BY 1;
END $$;

CREATE FUNCTION mlm_ref.v2_totals(plan jsonb, members regclass, volumes regclass,
                                  state regclass DEFAULT NULL, period_end date DEFAULT NULL)
RETURNS TABLE(total_cv numeric, total_before_cap numeric, total_paid numeric,
              cap_limit numeric, cap_factor numeric, bonuses jsonb, bonuses_before_cap jsonb,
              balance_in numeric, paid_out numeric, balance_out numeric)
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM mlm_ref.v2_compute(plan, members, volumes, state, period_end);
  RETURN QUERY SELECT * FROM _ref2_out_total;
END $$;
