/*
 * plan.h
 *	  A compensation plan (spec section 9) parsed from jsonb into C structs.
 *
 * Amounts and volumes are mlm_dec at MLM_VOL_SCALE, rates and fractions at
 * MLM_RATE_SCALE (see decimal.h).  Rank references are resolved to indexes
 * into plan->ranks (0 = lowest).  Per-rank values (rate_by_rank,
 * amount_by_rank, shares) are
 * expanded to one value per rank with the "closest lower rank present, else
 * 0" rule of spec section 4 already applied.
 */
#ifndef MLM_PLAN_H
#define MLM_PLAN_H

/*
 * Documented limits of a plan, far above what published plans use (a few
 * ranks, a few dozen levels): a plan beyond them is refused with its path
 * instead of costing members times a million.
 */
#define MLM_PLAN_MAX_LEVELS		1000	/* rates, generation_rates */
#define MLM_PLAN_MAX_RANKS		100
#define MLM_PLAN_MAX_BONUSES	100

#include "postgres.h"
#include "nodes/pg_list.h"
#include "utils/jsonb.h"

#include "decimal.h"

typedef enum MlmBonusType
{
	MLM_BONUS_PERSONAL,
	MLM_BONUS_UNILEVEL,
	MLM_BONUS_DIFFERENTIAL,
	MLM_BONUS_BINARY,
	MLM_BONUS_MATCHING,
	MLM_BONUS_FAST_START,
	MLM_BONUS_POOL,
	MLM_BONUS_RANK_ADVANCEMENT
} MlmBonusType;

/* Which volume a personal bonus pays on (spec 12). */
typedef enum MlmPersonalVolume
{
	MLM_VOLUME_ALL,				/* CV' = own CV + customers' CV */
	MLM_VOLUME_OWN,				/* own CV */
	MLM_VOLUME_CUSTOMER			/* customers' CV */
} MlmPersonalVolume;

/* How a pool splits (spec 5.7). */
typedef enum MlmPoolShares
{
	MLM_SHARES_EQUAL,			/* one share each */
	MLM_SHARES_RANK,			/* per-rank weights */
	MLM_SHARES_CV,				/* the participant's CV */
	MLM_SHARES_GV				/* the participant's GV */
} MlmPoolShares;

typedef struct MlmRank
{
	char	   *name;
	bool		has_min_pv;
	mlm_dec		min_pv;			/* VOL scale */
	bool		has_min_gv;
	mlm_dec		min_gv;			/* VOL scale */
	bool		has_max_leg_pct;
	mlm_dec		max_leg_pct;	/* RATE scale, fraction in (0, 1] */
	bool		has_min_active_frontline;
	int32		min_active_frontline;
	bool		has_legs_with_rank;
	int			legs_rank;		/* rank index */
	int32		legs_count;
	/* customer requirements (spec 12) */
	bool		has_min_customer_pv;
	mlm_dec		min_customer_pv;	/* VOL scale */
	bool		has_min_customer_share;
	mlm_dec		min_customer_share; /* RATE scale */
	bool		has_min_customers;
	int32		min_customers;
} MlmRank;

typedef struct MlmBonus
{
	char	   *name;
	MlmBonusType type;

	/*
	 * personal (rate or rate_by_rank), differential (rate_by_rank): nranks
	 * entries, RATE scale, always set; binary: set only with rate_by_rank
	 */
	mlm_dec    *rate_by_rank;

	/* unilevel, matching, fast_start: rates; differential: generation_rates */
	int			nrates;
	mlm_dec    *rates;			/* RATE scale */
	int		   *min_rank;		/* nrates entries: min_rank_by_level /
								 * min_rank_by_generation, 0 when absent */
	bool		dynamic;		/* compression "dynamic" */
	bool		placement;		/* unilevel tree "placement" */

	/* differential */
	int			breakaway_rank; /* rank index, -1 when absent */

	/* binary */
	bool		cycle;			/* cycle style instead of rate */
	mlm_dec		rate;			/* RATE scale (pay-leg) */
	mlm_dec		cycle_left;		/* VOL scale, > 0 */
	mlm_dec		cycle_right;	/* VOL scale, > 0 */
	mlm_dec		cycle_amount;	/* VOL scale (money), >= 0 */
	mlm_dec    *amount_by_rank; /* cycle: nranks entries, VOL scale, or NULL */
	bool		has_cap;
	mlm_dec		cap;			/* VOL scale (money); also used by no other */
	bool		has_max_carry;
	mlm_dec		max_carry;		/* VOL scale */
	bool		flush_when_unqualified;
	bool		require_sponsored_each_leg;

	/* matching */
	int			nof;
	int		   *of;				/* bonus indexes */

	/* fast_start */
	int32		days;

	/* pool */
	mlm_dec		pct;			/* RATE scale */
	int			pool_min_rank;
	MlmPoolShares shares_by;
	mlm_dec    *shares;			/* nranks entries, RATE scale, by rank only */

	/* personal: which volume */
	MlmPersonalVolume volume;

	/*
	 * rank_advancement: nranks entries, VOL scale (money), 0 = the rank pays
	 * nothing (no "closest lower rank" rule here, spec 11.1)
	 */
	mlm_dec    *advancement;
} MlmBonus;

typedef struct MlmPlan
{
	char	   *name;
	int			scale;			/* currency.scale, 0..6 */
	int			rounding;		/* MLM_ROUND_HALF_UP, _HALF_EVEN or _TRUNC
								 * ("down") */
	bool		has_active_min_pv;
	mlm_dec		active_min_pv;	/* VOL scale */
	int			nranks;			/* >= 1 */
	MlmRank    *ranks;
	int			nbonuses;
	MlmBonus   *bonuses;
	bool		has_cap;
	mlm_dec		cap_pct;		/* RATE scale */
	int			binary_bonus;	/* index of the binary bonus, -1 if none */
	bool		needs_placement;	/* binary or placement unilevel present */
	int			max_levels;		/* largest rates/generation list length */
	/* version 2 (spec 11 and 13) */
	int32		grace_periods;	/* rank_policy.grace_periods, 0 = no policy */
	bool		has_payout;		/* the payables ledger */
	mlm_dec		min_payout;		/* VOL scale (money), >= 0 */
	bool		customer_ranks; /* some rank reads customer volume */
} MlmPlan;

/* One problem found in a plan: JSON path ("bonuses[1].rates[3]") and text. */
typedef struct MlmPlanProblem
{
	char	   *path;
	char	   *message;
} MlmPlanProblem;

/*
 * Parse and validate a plan.  With problems == NULL the first problem raises
 * ERROR (SQLSTATE 22023, errmsg "invalid plan at <path>: <message>"); with a
 * list pointer, every problem found is appended (as MlmPlanProblem *) and the
 * result is NULL when there were any.
 */
extern MlmPlan *MlmPlanParse(Jsonb *plan, List **problems);

/* The plan's word for each MlmBonusType, NULL-terminated. */
extern const char *const MlmBonusTypeNames[];

/* Index of a bonus by name, -1 if none. */
extern int	MlmPlanBonusIndex(const MlmPlan *plan, const char *name);

#endif
