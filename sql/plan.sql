--
-- plan: parsing and validation of the plan language (spec sections 4, 5, 9, 10)
--
-- Every statement that fails is followed by \echo SQLSTATE :SQLSTATE, so the
-- expected output asserts the error's SQLSTATE as well as its message.
\set VERBOSITY terse

-- The example plan of spec section 9, verbatim.
CREATE TEMP TABLE spec (plan jsonb NOT NULL);
INSERT INTO spec VALUES ('{
  "name": "example",
  "currency": {"scale": 2, "rounding": "half_up"},
  "active": {"min_pv": 50},
  "ranks": [
    {"name": "Member"},
    {"name": "Bronze", "min_pv": 50, "min_active_frontline": 2},
    {"name": "Silver", "min_pv": 50, "min_gv": 1000, "max_leg_pct": 0.5},
    {"name": "Gold", "min_pv": 100, "min_gv": 5000, "max_leg_pct": 0.5,
     "legs_with_rank": {"rank": "Silver", "count": 2}}
  ],
  "bonuses": [
    {"name": "retail", "type": "personal", "rate": 0.05},
    {"name": "unilevel", "type": "unilevel", "compression": "dynamic",
     "rates": [0.10, 0.05, 0.05, 0.04, 0.03],
     "min_rank_by_level": ["Member", "Member", "Bronze", "Bronze", "Silver"]},
    {"name": "stairstep", "type": "differential",
     "rate_by_rank": {"Bronze": 0.05, "Silver": 0.10, "Gold": 0.15},
     "breakaway_rank": "Gold", "generation_rates": [0.04, 0.02]},
    {"name": "binary", "type": "binary", "rate": 0.10, "cap": 5000,
     "max_carry": 20000},
    {"name": "match", "type": "matching", "of": ["unilevel", "binary"],
     "rates": [0.20, 0.10], "min_rank_by_generation": ["Bronze", "Silver"]},
    {"name": "fast_start", "type": "fast_start", "days": 30, "rates": [0.20]},
    {"name": "gold_pool", "type": "pool", "pct": 0.02, "min_rank": "Gold",
     "shares": "equal"}
  ],
  "cap": {"pct": 0.45}
}');

-- valid: no problems, and check_plan hands the plan back unchanged
SELECT count(*) AS problems FROM spec, mlm.validate_plan(plan);
SELECT mlm.check_plan(plan) = plan AS unchanged FROM spec;

-- what the engine understood
SELECT key, value FROM spec, jsonb_each(mlm.plan_summary(plan))
 WHERE key NOT IN ('ranks', 'bonuses') ORDER BY key;
SELECT r FROM spec, jsonb_array_elements(mlm.plan_summary(plan)->'ranks') AS r;
-- stairstep: rate_by_rank expanded to every rank (Member below the lowest present: 0)
SELECT e->>'rank' AS rank, e->>'rate' AS rate
  FROM spec, jsonb_array_elements(mlm.plan_summary(plan)->'bonuses'->2->'rate_by_rank') AS e;
-- retail: a flat rate is the same rate for every rank
SELECT e->>'rank' AS rank, e->>'rate' AS rate
  FROM spec, jsonb_array_elements(mlm.plan_summary(plan)->'bonuses'->0->'rate_by_rank') AS e;
SELECT b - 'rate_by_rank' AS bonus
  FROM spec, jsonb_array_elements(mlm.plan_summary(plan)->'bonuses') AS b;

-- defaults filled in
SELECT mlm.plan_summary('{"ranks": [{"name": "Member"}]}');
SELECT b FROM jsonb_array_elements(mlm.plan_summary('{
  "ranks": [{"name": "Member"}, {"name": "Star", "min_pv": 100}],
  "bonuses": [
    {"name": "uni", "type": "unilevel", "rates": [0.1, 0.05]},
    {"name": "bin", "type": "binary", "rate": 0.1},
    {"name": "pool", "type": "pool", "pct": 0.01},
    {"name": "diff", "type": "differential", "rate_by_rank": {"Star": 0.1}}
  ]}')->'bonuses') AS b;
SELECT s->'needs_placement' AS needs_placement, s->'max_levels' AS max_levels
  FROM mlm.plan_summary('{"ranks": [{"name": "Member"}],
    "bonuses": [{"name": "matrix", "type": "unilevel", "tree": "placement",
                 "rates": [0.1, 0.1, 0.1]}]}') AS s;

-- per-rank values: a missing rank takes the closest lower rank present, 0 below
SELECT s->'bonuses'->0->'rate_by_rank' AS personal, s->'bonuses'->1->'shares' AS shares
  FROM mlm.plan_summary('{
  "ranks": [{"name": "A"}, {"name": "B", "min_pv": 1}, {"name": "C", "min_pv": 2},
            {"name": "D", "min_pv": 3}, {"name": "E", "min_pv": 4}],
  "bonuses": [
    {"name": "p", "type": "personal", "rate_by_rank": {"D": 0.2, "B": 0.1}},
    {"name": "pool", "type": "pool", "pct": 0.01, "min_rank": "B",
     "shares": {"C": 3, "E": 0}}
  ]}') AS s;

-- numbers are exact decimals: 12 decimals for rates, 6 for amounts,
-- trailing zeros and exponents are fine
SELECT s->'bonuses'->0->'rate_by_rank'->0->>'rate' AS rate,
       s->'ranks'->1->>'min_pv' AS min_pv,
       s->'active'->>'min_pv' AS active_min_pv,
       s->'bonuses'->1->>'cap' AS cap
  FROM mlm.plan_summary('{"active": {"min_pv": 5e1},
    "ranks": [{"name": "Member"}, {"name": "Star", "min_pv": 0.000001}],
    "bonuses": [{"name": "p", "type": "personal", "rate": 0.123456789012},
                {"name": "b", "type": "binary", "rate": 0.10000000000000000000,
                 "cap": 1234567890.123456}]}') AS s;

-- the plans of the worked examples (spec/examples/*/plan.json)
CREATE TEMP TABLE examples (name text PRIMARY KEY, plan jsonb NOT NULL);
INSERT INTO examples VALUES
('a_unilevel/dynamic', '{
  "name": "example a (dynamic compression)",
  "currency": {"scale": 2, "rounding": "half_up"},
  "active": {"min_pv": 50},
  "ranks": [
    {"name": "Member"},
    {"name": "Bronze", "min_pv": 100}
  ],
  "bonuses": [
    {"name": "unilevel", "type": "unilevel", "compression": "dynamic",
     "rates": [0.10, 0.05, 0.03],
     "min_rank_by_level": ["Member", "Member", "Bronze"]}
  ]
}'),
('a_unilevel/none', '{
  "name": "example a (none compression)",
  "currency": {"scale": 2, "rounding": "half_up"},
  "active": {"min_pv": 50},
  "ranks": [
    {"name": "Member"},
    {"name": "Bronze", "min_pv": 100}
  ],
  "bonuses": [
    {"name": "unilevel", "type": "unilevel", "compression": "none",
     "rates": [0.10, 0.05, 0.03],
     "min_rank_by_level": ["Member", "Member", "Bronze"]}
  ]
}'),
('b_differential', '{
  "name": "example b: section 5.3 (A=1, B=2, C=3, D=4)",
  "ranks": [
    {"name": "Member"},
    {"name": "R5", "min_pv": 10},
    {"name": "R10", "min_pv": 20},
    {"name": "R15", "min_pv": 30},
    {"name": "Breakaway", "min_pv": 40}
  ],
  "bonuses": [
    {"name": "stairstep", "type": "differential",
     "rate_by_rank": {"R5": 0.05, "R10": 0.10, "R15": 0.15, "Breakaway": 0.20},
     "breakaway_rank": "Breakaway", "generation_rates": [0.06]}
  ]
}'),
('c2_binary_cycle', '{
  "name": "binary-cycle-example",
  "currency": {
    "scale": 2
  },
  "active": {
    "min_pv": 50
  },
  "ranks": [
    {
      "name": "Member"
    }
  ],
  "bonuses": [
    {
      "name": "binary",
      "type": "binary",
      "cap": 120,
      "max_carry": 1200,
      "cycle": {
        "left": 300,
        "right": 300,
        "amount": 40
      }
    }
  ]
}'),
('c_binary', '{
  "name": "example c: binary with carry-in, cap, max_carry, one unqualified member",
  "currency": {"scale": 2},
  "active": {"min_pv": 50},
  "ranks": [{"name": "Member"}],
  "bonuses": [
    {"name": "binary", "type": "binary", "rate": 0.10, "cap": 120, "max_carry": 1200}
  ]
}'),
('d_matching_pool_cap', '{
  "name": "example d: matching + pool + cap, half_even",
  "currency": {"scale": 2, "rounding": "half_even"},
  "active": {"min_pv": 10},
  "ranks": [
    {"name": "Member"},
    {"name": "Leader", "min_pv": 100}
  ],
  "bonuses": [
    {"name": "personal", "type": "personal", "rate": 0.05},
    {"name": "match", "type": "matching", "of": ["personal"], "rates": [0.50, 0.25],
     "min_rank_by_generation": ["Member", "Leader"]},
    {"name": "pool", "type": "pool", "pct": 0.03, "min_rank": "Member",
     "shares": {"Member": 1, "Leader": 2}}
  ],
  "cap": {"pct": 0.08}
}');
SELECT name, (SELECT count(*) FROM mlm.validate_plan(plan)) AS problems,
       s->'currency'->>'rounding' AS rounding, s->>'binary_bonus' AS binary_bonus,
       s->'needs_placement' AS placement, s->'max_levels' AS levels
  FROM examples, mlm.plan_summary(plan) AS s ORDER BY name;
SELECT name, b - 'name' - 'type' - 'index' AS bonus
  FROM examples,
       jsonb_array_elements(mlm.plan_summary(plan)->'bonuses') WITH ORDINALITY AS e(b, i)
 ORDER BY name, i;

--
-- one problem per kind; every message names its JSON path
--
-- unknown keys: at the root, in a rank, in a bonus, in currency, nested
SELECT mlm.check_plan('{"ranks": [{"name": "Member"}], "rtae": 1}');
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan('{"ranks": [{"name": "Member"}, {"name": "Bronze", "min_pvv": 50}]}');
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan('{"ranks": [{"name": "Member"}],
  "bonuses": [{"name": "retail", "type": "personal", "rtae": 0.05}]}');
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan('{"ranks": [{"name": "Member"}], "currency": {"scale": 2, "scael": 3}}');
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan(jsonb_set(plan, '{bonuses,1,of}', '["retail"]')) FROM spec;
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan(jsonb_set(plan, '{ranks,3,legs_with_rank,cnt}', '2')) FROM spec;
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan(jsonb_set(plan, '{cap,pcct}', '0.4')) FROM spec;
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan('{"ranks": [{"name": "Member"}], "my plan": 1}');
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan('{"ranks": [{"name": "Member"}], "ra\"nks": 1}');
\echo SQLSTATE :SQLSTATE
\set VERBOSITY default
SELECT mlm.check_plan('{"ranks": [{"name": "Member"}],
  "bonuses": [{"name": "retail", "type": "personal", "rtae": 0.05}]}');
\echo SQLSTATE :SQLSTATE
\set VERBOSITY terse

-- wrong JSON types
SELECT mlm.check_plan('[]');
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan('42');
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan('{"ranks": {"name": "Member"}}');
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan('{"name": 5, "ranks": [{"name": "Member"}]}');
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan('{"ranks": [{"name": "Member"}], "currency": "EUR"}');
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan('{"ranks": [{"name": "Member"}, {"name": "Bronze", "min_pv": null}]}');
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan(jsonb_set(plan, '{bonuses,1,rates}', '0.1')) FROM spec;
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan(jsonb_set(plan, '{bonuses,3,flush_when_unqualified}', '"yes"')) FROM spec;
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan(jsonb_set(plan, '{bonuses,5,days}', '7.5')) FROM spec;
\echo SQLSTATE :SQLSTATE
\set VERBOSITY default
SELECT mlm.check_plan(jsonb_set(plan, '{bonuses,0,rate}', '"0.05"')) FROM spec;
\echo SQLSTATE :SQLSTATE
\set VERBOSITY terse

-- names and types
SELECT mlm.check_plan('{"ranks": [{"name": "Member"}, {"min_pv": 50}]}');
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan('{"ranks": [{"name": "Member"}, {"name": "", "min_pv": 50}]}');
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan('{"ranks": [{"name": "Member"}, {"name": "Gold", "min_pv": 1},
                                  {"name": "Gold", "min_pv": 2}]}');
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan('{"ranks": [{"name": "Member"}],
  "bonuses": [{"type": "personal", "rate": 0.05}]}');
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan('{"ranks": [{"name": "Member"}],
  "bonuses": [{"name": "retail", "rate": 0.05}]}');
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan('{"ranks": [{"name": "Member"}],
  "bonuses": [{"name": "retail", "type": "persnal", "rate": 0.05}]}');
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan('{"ranks": [{"name": "Member"}],
  "bonuses": [{"name": "retail", "type": 1, "rate": 0.05}]}');
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan('{}');
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan('{"ranks": []}');
\echo SQLSTATE :SQLSTATE
\set VERBOSITY default
SELECT mlm.check_plan(jsonb_set(plan, '{bonuses,2,name}', '"unilevel"')) FROM spec;
\echo SQLSTATE :SQLSTATE
\set VERBOSITY terse

-- rank names must exist, wherever a rank is referenced
SELECT mlm.check_plan(jsonb_set(plan, '{bonuses,1,min_rank_by_level,4}', '"Platinum"')) FROM spec;
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan(jsonb_set(plan, '{bonuses,2,breakaway_rank}', '"Platinum"')) FROM spec;
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan(jsonb_set(plan, '{bonuses,2,rate_by_rank}',
                                '{"Bronze": 0.05, "Platinum": 0.2}')) FROM spec;
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan(jsonb_set(plan, '{bonuses,2,min_rank_by_generation}',
                                '["Gold", "Platinum"]')) FROM spec;
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan(jsonb_set(plan, '{bonuses,4,min_rank_by_generation,0}', '"Platinum"')) FROM spec;
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan(jsonb_set(plan, '{bonuses,6,min_rank}', '"Platinum"')) FROM spec;
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan(jsonb_set(plan, '{bonuses,6,shares}', '{"Gold": 1, "Platinum": 2}')) FROM spec;
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan(jsonb_set(plan #- '{bonuses,0,rate}', '{bonuses,0,rate_by_rank}',
                                '{"Gold Star": 0.1}')) FROM spec;
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan(jsonb_set(plan #- '{bonuses,0,rate}', '{bonuses,0,rate_by_rank}',
                                '{"Gold \"Star\"": 0.1}')) FROM spec;
\echo SQLSTATE :SQLSTATE
\set VERBOSITY default
SELECT mlm.check_plan(jsonb_set(plan, '{ranks,3,legs_with_rank,rank}', '"Platinum"')) FROM spec;
\echo SQLSTATE :SQLSTATE
\set VERBOSITY terse
-- rank names are case sensitive
SELECT mlm.check_plan(jsonb_set(plan, '{bonuses,6,min_rank}', '"gold"')) FROM spec;
\echo SQLSTATE :SQLSTATE

-- matching: "of" names existing bonuses that are not matching bonuses
SELECT mlm.check_plan(jsonb_set(plan, '{bonuses,4,of}', '["unilevel", "bnary"]')) FROM spec;
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan(jsonb_set(plan, '{bonuses,4,of}', '["unilevel", "unilevel"]')) FROM spec;
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan(jsonb_set(plan, '{bonuses,4,of}', '[]')) FROM spec;
\echo SQLSTATE :SQLSTATE
\set VERBOSITY default
SELECT mlm.check_plan(jsonb_set(plan, '{bonuses,4,of}', '["unilevel", "match"]')) FROM spec;
\echo SQLSTATE :SQLSTATE
\set VERBOSITY terse
SELECT mlm.check_plan('{"ranks": [{"name": "Member"}],
  "bonuses": [{"name": "p", "type": "personal", "rate": 0.05},
              {"name": "m1", "type": "matching", "of": ["p"], "rates": [0.1]},
              {"name": "m2", "type": "matching", "of": ["m1"], "rates": [0.1]}]}');
\echo SQLSTATE :SQLSTATE

-- list lengths
SELECT mlm.check_plan(jsonb_set(plan, '{bonuses,1,min_rank_by_level}',
                                '["Member", "Member", "Bronze", "Bronze"]')) FROM spec;
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan(jsonb_set(plan, '{bonuses,4,min_rank_by_generation}', '["Bronze"]')) FROM spec;
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan(jsonb_set(plan, '{bonuses,2,min_rank_by_generation}', '["Gold"]')) FROM spec;
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan(jsonb_set(plan, '{bonuses,1,rates}', '[]')) FROM spec;
\echo SQLSTATE :SQLSTATE

-- rates are fractions in [0, 1]; 0 is allowed
SELECT mlm.check_plan(jsonb_set(plan, '{bonuses,1,rates,3}', '-0.04')) FROM spec;
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan(jsonb_set(plan, '{bonuses,1,rates,3}', '1.5')) FROM spec;
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan(jsonb_set(plan, '{bonuses,2,generation_rates,1}', '2')) FROM spec;
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan(jsonb_set(plan, '{bonuses,2,rate_by_rank,Gold}', '1.15')) FROM spec;
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan(jsonb_set(plan, '{bonuses,6,pct}', '-0.02')) FROM spec;
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan(jsonb_set(plan, '{cap,pct}', '1.2')) FROM spec;
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan(jsonb_set(plan, '{bonuses,0,rate}', '1e30')) FROM spec;
\echo SQLSTATE :SQLSTATE
SELECT count(*) AS problems
  FROM spec, mlm.validate_plan(jsonb_set(jsonb_set(plan, '{bonuses,1,rates,3}', '0'),
                                         '{cap,pct}', '1'));

-- too many decimals, too large
SELECT mlm.check_plan(jsonb_set(plan, '{bonuses,0,rate}', '0.0500000000001')) FROM spec;
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan(jsonb_set(plan, '{ranks,1,min_pv}', '50.0000001')) FROM spec;
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan(jsonb_set(plan, '{ranks,2,min_gv}', '1e18')) FROM spec;
\echo SQLSTATE :SQLSTATE
\set VERBOSITY default
SELECT mlm.check_plan(jsonb_set(plan, '{bonuses,3,cap}', '0.0000001')) FROM spec;
\echo SQLSTATE :SQLSTATE
\set VERBOSITY terse

-- differential: rate_by_rank may not decrease along the rank order
SELECT count(*) AS problems
  FROM spec, mlm.validate_plan(jsonb_set(plan, '{bonuses,2,rate_by_rank}',
                                         '{"Bronze": 0.05, "Gold": 0.05}'));
SELECT mlm.check_plan(jsonb_set(plan, '{bonuses,2,rate_by_rank}',
                                '{"Silver": 0.10, "Gold": 0}')) FROM spec;
\echo SQLSTATE :SQLSTATE
\set VERBOSITY default
SELECT mlm.check_plan(jsonb_set(plan, '{bonuses,2,rate_by_rank}',
                                '{"Bronze": 0.05, "Silver": 0.12, "Gold": 0.10}')) FROM spec;
\echo SQLSTATE :SQLSTATE
\set VERBOSITY terse
-- generation_rates need breakaway_rank, min_rank_by_generation needs generation_rates
SELECT mlm.check_plan(plan #- '{bonuses,2,breakaway_rank}') FROM spec;
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan(jsonb_set(plan #- '{bonuses,2,generation_rates}',
                                '{bonuses,2,min_rank_by_generation}', '["Gold"]')) FROM spec;
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan(plan #- '{bonuses,2,rate_by_rank}') FROM spec;
\echo SQLSTATE :SQLSTATE

-- personal: rate XOR rate_by_rank
SELECT mlm.check_plan(jsonb_set(plan, '{bonuses,0,rate_by_rank}', '{"Gold": 0.1}')) FROM spec;
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan(plan #- '{bonuses,0,rate}') FROM spec;
\echo SQLSTATE :SQLSTATE

-- binary: exactly one of rate and cycle, one binary bonus per plan
SELECT mlm.check_plan(jsonb_set(plan, '{bonuses,3,cycle}',
                                '{"left": 300, "right": 300, "amount": 40}')) FROM spec;
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan(plan #- '{bonuses,3,rate}') FROM spec;
\echo SQLSTATE :SQLSTATE
\set VERBOSITY default
SELECT mlm.check_plan(jsonb_insert(plan, '{bonuses,-1}',
                      '{"name": "binary2", "type": "binary", "rate": 0.05}', true)) FROM spec;
\echo SQLSTATE :SQLSTATE
\set VERBOSITY terse
SELECT mlm.check_plan(jsonb_set(plan #- '{bonuses,3,rate}', '{bonuses,3,cycle}',
                                '{"left": 300, "right": 300}')) FROM spec;
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan(jsonb_set(plan #- '{bonuses,3,rate}', '{bonuses,3,cycle}',
                                '{"left": 300, "right": 0, "amount": 40}')) FROM spec;
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan(jsonb_set(plan #- '{bonuses,3,rate}', '{bonuses,3,cycle}',
                                '{"left": 300, "right": 300, "amount": -1}')) FROM spec;
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan(jsonb_set(plan, '{bonuses,3,cap}', '-5')) FROM spec;
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan(jsonb_set(plan, '{bonuses,3,max_carry}', '-1')) FROM spec;
\echo SQLSTATE :SQLSTATE

-- currency
SELECT mlm.check_plan(jsonb_set(plan, '{currency,scale}', '7')) FROM spec;
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan(jsonb_set(plan, '{currency,scale}', '-1')) FROM spec;
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan(jsonb_set(plan, '{currency,scale}', '2.5')) FROM spec;
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan(jsonb_set(plan, '{currency,rounding}', '"half_down"')) FROM spec;
\echo SQLSTATE :SQLSTATE
SELECT mlm.plan_summary(jsonb_set(plan, '{currency}', '{"scale": 0, "rounding": "half_even"}'))->'currency'
  FROM spec;

-- ranks
SELECT mlm.check_plan(jsonb_set(plan, '{ranks,0,min_pv}', '10')) FROM spec;
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan(jsonb_set(plan, '{ranks,1,max_leg_pct}', '0.5')) FROM spec;
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan(jsonb_set(plan, '{ranks,2,max_leg_pct}', '0')) FROM spec;
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan(jsonb_set(plan, '{ranks,2,max_leg_pct}', '1.5')) FROM spec;
\echo SQLSTATE :SQLSTATE
SELECT count(*) AS problems FROM spec, mlm.validate_plan(jsonb_set(plan, '{ranks,2,max_leg_pct}', '1'));
SELECT mlm.check_plan(jsonb_set(plan, '{ranks,1,min_active_frontline}', '-1')) FROM spec;
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan(jsonb_set(plan, '{ranks,3,legs_with_rank,count}', '0')) FROM spec;
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan(plan #- '{ranks,3,legs_with_rank,count}') FROM spec;
\echo SQLSTATE :SQLSTATE

-- the other bonus types
SELECT mlm.check_plan(jsonb_set(plan, '{bonuses,1,compression}', '"full"')) FROM spec;
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan(jsonb_set(plan, '{bonuses,1,tree}', '"matrix"')) FROM spec;
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan(jsonb_set(plan, '{bonuses,5,days}', '0')) FROM spec;
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan(plan #- '{bonuses,5,rates}') FROM spec;
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan(jsonb_set(plan, '{bonuses,6,shares}', '"equl"')) FROM spec;
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan(jsonb_set(plan, '{bonuses,6,shares}', '{"Gold": -1}')) FROM spec;
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan(plan #- '{bonuses,6,pct}') FROM spec;
\echo SQLSTATE :SQLSTATE
SELECT mlm.check_plan(jsonb_set(plan, '{cap}', '{}')) FROM spec;
\echo SQLSTATE :SQLSTATE

-- validate_plan reports every problem it finds, in document order
SELECT * FROM mlm.validate_plan('{
  "name": "bad",
  "currency": {"scale": 9, "rounding": "up"},
  "ranks": [{"name": "Member", "min_pv": 10}, {"name": "Gold", "min_gv": "1000"}],
  "bonuses": [
    {"name": "uni", "type": "unilevel", "rates": [0.1, 1.2], "min_rank_by_level": ["Member"]},
    {"name": "uni", "type": "matching", "of": ["uni", "nope"], "rates": [0.1]},
    {"type": "pool", "pct": 0.01, "min_rank": "Platinum"}
  ],
  "extra": true
}');
SELECT v.* FROM spec, mlm.validate_plan(jsonb_set(plan #- '{bonuses,3,rate}', '{bonuses,3,cycle}',
                                                '{"left": 0, "right": 300, "amt": 4}')) AS v;

-- the first problem is the one check_plan raises, with SQLSTATE 22023
DO $$
BEGIN
  PERFORM mlm.check_plan('{"ranks": [{"name": "Member", "min_pv": 10}], "extra": true}');
EXCEPTION WHEN invalid_parameter_value THEN
  RAISE NOTICE 'caught %: %', SQLSTATE, SQLERRM;
END
$$;

-- check_plan in a CHECK constraint
CREATE TEMP TABLE plans (name text PRIMARY KEY,
                         plan jsonb NOT NULL CHECK (mlm.check_plan(plan) IS NOT NULL));
INSERT INTO plans SELECT 'spec', plan FROM spec;
INSERT INTO plans VALUES ('typo', '{"ranks": [{"name": "Member"}],
  "bonuses": [{"name": "r", "type": "personal", "rtae": 0.05}]}');
\echo SQLSTATE :SQLSTATE
SELECT name FROM plans;
-- an empty per-rank object is legal: every rank takes 0 (spec section 4)
SELECT mlm.plan_summary('{"ranks":[{"name":"M"},{"name":"G","min_pv":1}],"bonuses":[{"name":"p","type":"personal","rate_by_rank":{}}]}')->'bonuses'->0->'rate_by_rank' AS zeros;
