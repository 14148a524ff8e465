/*
 * plan.c
 *	  Parse and validate a compensation plan (spec sections 4, 5, 9, 10)
 *	  from jsonb into the MlmPlan model of plan.h, section by section with
 *	  the readers of plan_read.c, and the SQL functions mlm.validate_plan
 *	  and mlm.check_plan (mlm.plan_summary is in plan_summary.c).
 *
 * The jsonb is first copied into a small tree of JNode (objects keep their
 * keys, in jsonb order), which the checks below walk with a JSON path in
 * hand.  Every problem is reported with that path ("bonuses[1].rates[3]",
 * "$" for the root object itself) and a lowercase message.  In error mode
 * (problems == NULL) the first problem raises an ERROR; in collecting mode
 * the parser keeps going and reports everything it can.
 *
 * Within one object the order of reports is: unknown keys first (in jsonb
 * key order: shorter keys first, then bytewise), then the known keys in a
 * fixed order, a missing required key where it would have been checked.
 * User-supplied strings appear in messages as JSON string literals.  All
 * numbers are read as exact decimals (never float).
 */
#include "postgres.h"

#include <string.h>

#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/tuplestore.h"

#include "decimal.h"
#include "plan.h"
#include "plan_int.h"

/* ------------------------------------------------------------------------
 * Top-level sections
 * ------------------------------------------------------------------------
 */
static const char *const root_keys[] = {
	"name", "currency", "active", "ranks", "bonuses", "cap", "rank_policy",
	"payout", NULL
};
static const char *const rank_policy_keys[] = {"grace_periods", NULL};
static const char *const payout_keys[] = {"min_payout", NULL};
static const char *const volume_words[] = {"all", "own", "customer", NULL};
static const char *const currency_keys[] = {"scale", "rounding", NULL};
static const char *const active_keys[] = {"min_pv", NULL};
static const char *const cap_keys[] = {"pct", NULL};
static const char *const rank_keys[] = {
	"name", "min_pv", "min_gv", "max_leg_pct", "min_active_frontline",
	"legs_with_rank", "min_customer_pv", "min_customer_share", "min_customers",
	NULL
};
static const char *const legs_keys[] = {"rank", "count", NULL};
static const char *const rounding_words[] = {"half_up", "half_even", "down", NULL};
static const int rounding_modes[] = {
	MLM_ROUND_HALF_UP, MLM_ROUND_HALF_EVEN, MLM_ROUND_TRUNC
};
static const char *const share_by_keys[] = {"by", NULL};
static const char *const share_by_words[] = {"cv", "gv", NULL};
static const char *const compression_words[] = {"none", "dynamic", NULL};
static const char *const tree_words[] = {"sponsor", "placement", NULL};

/* in MlmBonusType order */
const char *const MlmBonusTypeNames[] = {
	"personal", "unilevel", "differential", "binary", "matching",
	"fast_start", "pool", "rank_advancement", NULL
};

static const char *const *const bonus_keys[] = {
	/* personal */
	(const char *const[]) {"name", "type", "rate", "rate_by_rank", "volume", NULL},
	/* unilevel */
	(const char *const[]) {"name", "type", "rates", "compression", "tree",
	"min_rank_by_level", NULL},
	/* differential */
	(const char *const[]) {"name", "type", "rate_by_rank", "breakaway_rank",
	"generation_rates", "min_rank_by_generation", NULL},
	/* binary */
	(const char *const[]) {"name", "type", "rate", "rate_by_rank", "cycle", "cap",
		"max_carry", "flush_when_unqualified", "require_sponsored_each_leg",
	NULL},
	/* matching */
	(const char *const[]) {"name", "type", "of", "rates", "compression",
	"min_rank_by_generation", NULL},
	/* fast_start */
	(const char *const[]) {"name", "type", "days", "rates", NULL},
	/* pool */
	(const char *const[]) {"name", "type", "pct", "min_rank", "shares", NULL},
	/* rank_advancement */
	(const char *const[]) {"name", "type", "amounts", NULL},
};

static const char *const cycle_keys[] = {
	"left", "right", "amount", "amount_by_rank", NULL
};

static void
ParseCurrency(PState *ps, const JNode *n)
{
	MlmPlan    *plan = ps->plan;
	JNode	   *v;

	if (!PlanExpectKind(ps, n, JN_OBJECT, "currency", "currency"))
		return;
	PlanCheckKeys(ps, n, "currency", currency_keys);
	if ((v = PlanObjGet(n, "scale")) != NULL)
	{
		int32		s;

		if (PlanGetInt(ps, v, "currency.scale", "scale", 0, 6, &s))
			plan->scale = s;
	}
	if ((v = PlanObjGet(n, "rounding")) != NULL)
	{
		int			r = PlanGetChoice(ps, v, "currency.rounding", "rounding",
								   rounding_words);

		if (r >= 0)
			plan->rounding = rounding_modes[r];
	}
}

static void
ParseActive(PState *ps, const JNode *n)
{
	JNode	   *v;

	if (!PlanExpectKind(ps, n, JN_OBJECT, "active", "active"))
		return;
	PlanCheckKeys(ps, n, "active", active_keys);
	if ((v = PlanObjGet(n, "min_pv")) != NULL &&
		PlanGetAmount(ps, v, "active.min_pv", "min_pv", AMT_ANY,
				   &ps->plan->active_min_pv))
		ps->plan->has_active_min_pv = true;
}

static void
ParseCap(PState *ps, const JNode *n)
{
	JNode	   *v;

	if (!PlanExpectKind(ps, n, JN_OBJECT, "cap", "cap"))
		return;
	PlanCheckKeys(ps, n, "cap", cap_keys);
	if ((v = PlanRequireKey(ps, n, "cap", "pct")) != NULL &&
		PlanGetRate(ps, v, "cap.pct", "pct", &ps->plan->cap_pct))
		ps->plan->has_cap = true;
}

/* rank_policy (spec 11): {"grace_periods": G}, G >= 1. */
static void
ParseRankPolicy(PState *ps, const JNode *n)
{
	JNode	   *v;

	if (!PlanExpectKind(ps, n, JN_OBJECT, "rank_policy", "rank_policy"))
		return;
	PlanCheckKeys(ps, n, "rank_policy", rank_policy_keys);
	if ((v = PlanRequireKey(ps, n, "rank_policy", "grace_periods")) != NULL)
		PlanGetInt(ps, v, "rank_policy.grace_periods", "grace_periods", 1, 1000,
				   &ps->plan->grace_periods);
}

/* payout (spec 13.1): {"min_payout": x}, x >= 0 money. */
static void
ParsePayout(PState *ps, const JNode *n)
{
	JNode	   *v;

	if (!PlanExpectKind(ps, n, JN_OBJECT, "payout", "payout"))
		return;
	PlanCheckKeys(ps, n, "payout", payout_keys);
	if ((v = PlanRequireKey(ps, n, "payout", "min_payout")) != NULL &&
		PlanGetAmount(ps, v, "payout.min_payout", "min_payout", AMT_NONNEG,
					  &ps->plan->min_payout))
		ps->plan->has_payout = true;
}

static void
ParseRank(PState *ps, int i, const JNode *n)
{
	MlmRank    *rk = &ps->plan->ranks[i];
	char	   *path = PlanPathIdx("ranks", i);
	JNode	   *v;
	int			j;

	rk->legs_rank = -1;
	if (!PlanExpectKind(ps, n, JN_OBJECT, path, "rank"))
		return;
	PlanCheckKeys(ps, n, path, rank_keys);

	if ((v = PlanRequireKey(ps, n, path, "name")) != NULL)
	{
		char	   *npath = PlanPathKey(path, "name");
		char	   *name = PlanGetString(ps, v, npath, "name", true);

		if (name)
		{
			rk->name = name;
			for (j = 0; j < i; j++)
				if (ps->rank_names[j] && strcmp(ps->rank_names[j], name) == 0)
				{
					PlanProblem(ps, npath,
							psprintf("ranks[%d] has the same name.", j),
							"duplicate rank name %s", PlanQuoted(name));
					break;
				}
		}
	}

	if (i == 0)
	{
		/* rank 0 is everyone's starting rank: no requirements */
		for (j = 1; rank_keys[j]; j++)
			if (PlanObjGet(n, rank_keys[j]))
				PlanProblem(ps, PlanPathKey(path, rank_keys[j]),
						"The first rank is the rank every member holds; requirements belong on higher ranks.",
						"rank 0 may not have requirements");
		return;
	}

	if ((v = PlanObjGet(n, "min_pv")) != NULL &&
		PlanGetAmount(ps, v, PlanPathKey(path, "min_pv"), "min_pv", AMT_ANY,
				   &rk->min_pv))
		rk->has_min_pv = true;
	if ((v = PlanObjGet(n, "min_gv")) != NULL &&
		PlanGetAmount(ps, v, PlanPathKey(path, "min_gv"), "min_gv", AMT_ANY,
				   &rk->min_gv))
		rk->has_min_gv = true;
	if ((v = PlanObjGet(n, "max_leg_pct")) != NULL)
	{
		char	   *mp = PlanPathKey(path, "max_leg_pct");
		mlm_dec		d;

		if (PlanObjGet(n, "min_gv") == NULL)
			PlanProblem(ps, mp, NULL, "max_leg_pct requires min_gv");
		else if (PlanGetFraction(ps, v, mp, "max_leg_pct", false,
							  "max_leg_pct must be greater than 0 and at most 1",
							  &d))
		{
			rk->has_max_leg_pct = true;
			rk->max_leg_pct = d;
		}
	}
	if ((v = PlanObjGet(n, "min_active_frontline")) != NULL &&
		PlanGetInt(ps, v, PlanPathKey(path, "min_active_frontline"),
				"min_active_frontline", 0, PG_INT32_MAX,
				&rk->min_active_frontline))
		rk->has_min_active_frontline = true;
	if ((v = PlanObjGet(n, "min_customer_pv")) != NULL &&
		PlanGetAmount(ps, v, PlanPathKey(path, "min_customer_pv"), "min_customer_pv",
					  AMT_ANY, &rk->min_customer_pv))
		rk->has_min_customer_pv = ps->plan->customer_ranks = true;
	if ((v = PlanObjGet(n, "min_customer_share")) != NULL &&
		PlanGetFraction(ps, v, PlanPathKey(path, "min_customer_share"),
						"min_customer_share", true,
						"min_customer_share must be between 0 and 1",
						&rk->min_customer_share))
		rk->has_min_customer_share = ps->plan->customer_ranks = true;
	if ((v = PlanObjGet(n, "min_customers")) != NULL &&
		PlanGetInt(ps, v, PlanPathKey(path, "min_customers"), "min_customers", 0,
				   PG_INT32_MAX, &rk->min_customers))
		rk->has_min_customers = ps->plan->customer_ranks = true;
	if ((v = PlanObjGet(n, "legs_with_rank")) != NULL)
	{
		char	   *lp = PlanPathKey(path, "legs_with_rank");
		JNode	   *rn,
				   *cn;
		int			r = -1;
		int32		c = 0;
		bool		ok = true;

		if (PlanExpectKind(ps, v, JN_OBJECT, lp, "legs_with_rank"))
		{
			PlanCheckKeys(ps, v, lp, legs_keys);
			rn = PlanRequireKey(ps, v, lp, "rank");
			cn = PlanRequireKey(ps, v, lp, "count");
			if (rn)
				r = PlanGetRankRef(ps, rn, PlanPathKey(lp, "rank"), "rank");
			if (cn)
				ok = PlanGetInt(ps, cn, PlanPathKey(lp, "count"), "count", 1,
							 PG_INT32_MAX, &c);
			if (r >= 0 && cn && ok)
			{
				rk->has_legs_with_rank = true;
				rk->legs_rank = r;
				rk->legs_count = c;
			}
		}
	}
}

static void
ParseRanks(PState *ps, const JNode *n)
{
	MlmPlan    *plan = ps->plan;
	int			i;

	if (!PlanExpectKind(ps, n, JN_ARRAY, "ranks", "ranks"))
		return;
	if (n->n == 0)
	{
		PlanProblem(ps, "ranks", NULL, "ranks must not be empty");
		return;
	}
	if (n->n > MLM_PLAN_MAX_RANKS)
	{
		PlanProblem(ps, "ranks", NULL, "ranks has %d entries; at most %d are supported",
					n->n, MLM_PLAN_MAX_RANKS);
		return;
	}
	for (i = 0; i < n->n; i++)
		ParseRank(ps, i, n->vals[i]);
	plan->nranks = n->n;
}

/* ------------------------------------------------------------------------
 * Bonuses
 * ------------------------------------------------------------------------
 */
static void
ParsePersonal(PState *ps, MlmBonus *b, const JNode *n, const char *path)
{
	JNode	   *rate = PlanObjGet(n, "rate");
	JNode	   *rbr = PlanObjGet(n, "rate_by_rank");
	int			i;

	if (rate && rbr)
		PlanProblem(ps, path, NULL, "\"rate\" and \"rate_by_rank\" may not both be given");
	else if (!rate && !rbr)
		PlanProblem(ps, path, NULL, "one of \"rate\" or \"rate_by_rank\" is required");
	else if (rate)
	{
		mlm_dec		r;

		if (PlanGetRate(ps, rate, PlanPathKey(path, "rate"), "rate", &r))
		{
			b->rate = r;
			b->rate_by_rank = palloc(sizeof(mlm_dec) * Max(ps->nranks, 1));
			for (i = 0; i < ps->nranks; i++)
				b->rate_by_rank[i] = r;
		}
	}
	else
		PlanGetPerRank(ps, rbr, PlanPathKey(path, "rate_by_rank"), "rate_by_rank",
					   PR_RATE, &b->rate_by_rank, NULL);
	if ((rate = PlanObjGet(n, "volume")) != NULL)
	{
		int			k = PlanGetChoice(ps, rate, PlanPathKey(path, "volume"), "volume",
									  volume_words);

		if (k >= 0)
			b->volume = (MlmPersonalVolume) k;
	}
}

/*
 * rank_advancement (spec 11.1): amounts by rank name, each > 0; a rank not
 * named pays nothing, and the first rank cannot be named (no member rises
 * to it).
 */
static void
ParseRankAdvancement(PState *ps, MlmBonus *b, const JNode *n, const char *path)
{
	JNode	   *am = PlanRequireKey(ps, n, path, "amounts");
	char	   *ap = PlanPathKey(path, "amounts");
	int			i;

	b->advancement = palloc0(sizeof(mlm_dec) * Max(ps->nranks, 1));
	if (am == NULL || !PlanExpectKind(ps, am, JN_OBJECT, ap, "amounts"))
		return;
	for (i = 0; i < am->n; i++)
	{
		char	   *kp = PlanPathKey(ap, am->keys[i]);
		int			r = PlanGetRankRef(ps, &(JNode) {.kind = JN_STRING, .str = am->keys[i]},
									   kp, "rank");
		mlm_dec		v;

		if (r < 0)
			continue;
		if (r == 0)
		{
			PlanProblem(ps, kp, "Every member holds the first rank from the start; nobody advances to it.",
						"amounts may not name the first rank %s", PlanQuoted(am->keys[i]));
			continue;
		}
		if (PlanGetAmount(ps, am->vals[i], kp, "amount", AMT_POSITIVE, &v))
			b->advancement[r] = v;
	}
}

static void
ParseCompression(PState *ps, MlmBonus *b, const JNode *n, const char *path)
{
	JNode	   *v = PlanObjGet(n, "compression");

	if (v && PlanGetChoice(ps, v, PlanPathKey(path, "compression"), "compression",
						compression_words) == 1)
		b->dynamic = true;
}

static void
ParseUnilevel(PState *ps, MlmBonus *b, const JNode *n, const char *path)
{
	JNode	   *v;

	PlanGetLevels(ps, b, n, path, "rates", "min_rank_by_level", true);
	ParseCompression(ps, b, n, path);
	if ((v = PlanObjGet(n, "tree")) != NULL &&
		PlanGetChoice(ps, v, PlanPathKey(path, "tree"), "tree", tree_words) == 1)
		b->placement = true;
}

static void
ParseDifferential(PState *ps, MlmBonus *b, const JNode *n, const char *path)
{
	JNode	   *rbr = PlanRequireKey(ps, n, path, "rate_by_rank");
	JNode	   *v;
	char	   *rpath = PlanPathKey(path, "rate_by_rank");
	int			i;

	if (rbr && PlanGetPerRank(ps, rbr, rpath, "rate_by_rank", PR_RATE,
							&b->rate_by_rank, NULL))
	{
		/* non-decreasing along the rank order, after expansion */
		for (i = 1; i < ps->nranks; i++)
			if (b->rate_by_rank[i] < b->rate_by_rank[i - 1])
			{
				char		b1[64],
							b2[64];

				PlanProblem(ps, PlanPathKey(rpath, ps->rank_names[i]),
						psprintf("Rank %s has rate %s, less than %s for rank %s.",
								 PlanQuoted(ps->rank_names[i]),
								 MlmDecToText(b->rate_by_rank[i], MLM_RATE_SCALE, 0, b1),
								 MlmDecToText(b->rate_by_rank[i - 1], MLM_RATE_SCALE, 0, b2),
								 PlanQuoted(ps->rank_names[i - 1])),
						"rate_by_rank must not decrease along the rank order");
			}
	}

	if ((v = PlanObjGet(n, "breakaway_rank")) != NULL)
		b->breakaway_rank = PlanGetRankRef(ps, v, PlanPathKey(path, "breakaway_rank"),
										 "breakaway_rank");
	if ((v = PlanObjGet(n, "generation_rates")) != NULL &&
		!(v->kind == JN_ARRAY && v->n == 0) && !PlanObjGet(n, "breakaway_rank"))
		PlanProblem(ps, PlanPathKey(path, "generation_rates"), NULL,
				"generation_rates requires breakaway_rank");
	PlanGetLevels(ps, b, n, path, "generation_rates", "min_rank_by_generation",
			   false);
}

/*
 * Exactly one of the keys of a NULL-terminated list present in obj: its
 * index, or -1 after reporting none or two of them at path.
 */
static int
OneOf(PState *ps, const JNode *obj, const char *path, const char *const *keys)
{
	int			found = -1;
	int			i;

	for (i = 0; keys[i]; i++)
	{
		if (PlanObjGet(obj, keys[i]) == NULL)
			continue;
		if (found >= 0)
		{
			PlanProblem(ps, path, NULL, "\"%s\" and \"%s\" may not both be given",
						keys[found], keys[i]);
			return -1;
		}
		found = i;
	}
	if (found < 0)
	{
		StringInfoData buf;

		initStringInfo(&buf);
		for (i = 0; keys[i]; i++)
			appendStringInfo(&buf, "%s\"%s\"",
							 i == 0 ? "" : (keys[i + 1] ? ", " : " or "), keys[i]);
		PlanProblem(ps, path, NULL, "one of %s is required", buf.data);
	}
	return found;
}

static const char *const binary_pay_keys[] = {"rate", "rate_by_rank", "cycle", NULL};
static const char *const cycle_pay_keys[] = {"amount", "amount_by_rank", NULL};

/*
 * Binary: rate, rate_by_rank or cycle (with amount or amount_by_rank),
 * then the options.
 */
static void
ParseBinary(PState *ps, MlmBonus *b, const JNode *n, const char *path)
{
	JNode	   *v;

	switch (OneOf(ps, n, path, binary_pay_keys))
	{
		case 0:
			PlanGetRate(ps, PlanObjGet(n, "rate"), PlanPathKey(path, "rate"), "rate",
						&b->rate);
			break;
		case 1:
			PlanGetPerRank(ps, PlanObjGet(n, "rate_by_rank"),
						   PlanPathKey(path, "rate_by_rank"), "rate_by_rank",
						   PR_RATE, &b->rate_by_rank, NULL);
			break;
		case 2:
			{
				JNode	   *cycle = PlanObjGet(n, "cycle");
				char	   *cp = PlanPathKey(path, "cycle");

				b->cycle = true;
				if (!PlanExpectKind(ps, cycle, JN_OBJECT, cp, "cycle"))
					break;
				PlanCheckKeys(ps, cycle, cp, cycle_keys);
				if ((v = PlanRequireKey(ps, cycle, cp, "left")) != NULL)
					PlanGetAmount(ps, v, PlanPathKey(cp, "left"), "left", AMT_POSITIVE,
								  &b->cycle_left);
				if ((v = PlanRequireKey(ps, cycle, cp, "right")) != NULL)
					PlanGetAmount(ps, v, PlanPathKey(cp, "right"), "right", AMT_POSITIVE,
								  &b->cycle_right);
				switch (OneOf(ps, cycle, cp, cycle_pay_keys))
				{
					case 0:
						PlanGetAmount(ps, PlanObjGet(cycle, "amount"),
									  PlanPathKey(cp, "amount"), "amount", AMT_NONNEG,
									  &b->cycle_amount);
						break;
					case 1:
						PlanGetPerRank(ps, PlanObjGet(cycle, "amount_by_rank"),
									   PlanPathKey(cp, "amount_by_rank"),
									   "amount_by_rank", PR_AMOUNT,
									   &b->amount_by_rank, NULL);
						break;
				}
			}
			break;
	}
	if ((v = PlanObjGet(n, "cap")) != NULL &&
		PlanGetAmount(ps, v, PlanPathKey(path, "cap"), "cap", AMT_NONNEG, &b->cap))
		b->has_cap = true;
	if ((v = PlanObjGet(n, "max_carry")) != NULL &&
		PlanGetAmount(ps, v, PlanPathKey(path, "max_carry"), "max_carry", AMT_NONNEG,
				   &b->max_carry))
		b->has_max_carry = true;
	if ((v = PlanObjGet(n, "flush_when_unqualified")) != NULL)
		PlanGetBool(ps, v, PlanPathKey(path, "flush_when_unqualified"),
				 "flush_when_unqualified", &b->flush_when_unqualified);
	if ((v = PlanObjGet(n, "require_sponsored_each_leg")) != NULL)
		PlanGetBool(ps, v, PlanPathKey(path, "require_sponsored_each_leg"),
				 "require_sponsored_each_leg", &b->require_sponsored_each_leg);
}

static void
ParseMatching(PState *ps, MlmBonus *b, int self, const JNode *n,
			   const char *path)
{
	JNode	   *of = PlanRequireKey(ps, n, path, "of");

	if (of)
	{
		char	   *op = PlanPathKey(path, "of");

		if (PlanExpectKind(ps, of, JN_ARRAY, op, "of"))
		{
			int			i,
						j;

			if (of->n == 0)
				PlanProblem(ps, op, NULL, "of must not be empty");
			b->of = palloc0(sizeof(int) * Max(of->n, 1));
			for (i = 0; i < of->n; i++)
			{
				char	   *ep = PlanPathIdx(op, i);
				char	   *name = PlanGetString(ps, of->vals[i], ep, "bonus name", false);
				int			k = -1;
				bool		dup = false;

				if (name == NULL)
					continue;
				for (j = 0; j < ps->nbonuses; j++)
					if (ps->bonus_names[j] && strcmp(ps->bonus_names[j], name) == 0)
					{
						k = j;
						break;
					}
				for (j = 0; j < i; j++)
					if (of->vals[j]->kind == JN_STRING &&
						strcmp(of->vals[j]->str, name) == 0)
						dup = true;
				if (k < 0)
					PlanProblem(ps, ep, NULL, "bonus %s does not exist", PlanQuoted(name));
				else if (ps->bonus_types[k] == MLM_BONUS_MATCHING)
					PlanProblem(ps, ep,
							k == self ? "A matching bonus may not match itself." :
							"A matching bonus may only match bonuses of other types.",
							"\"of\" may not name the matching bonus %s", PlanQuoted(name));
				else if (dup)
					PlanProblem(ps, ep, NULL, "bonus %s is listed twice", PlanQuoted(name));
				else
					b->of[b->nof++] = k;
			}
		}
	}
	PlanGetLevels(ps, b, n, path, "rates", "min_rank_by_generation", true);
	ParseCompression(ps, b, n, path);
}

static void
ParseFastStart(PState *ps, MlmBonus *b, const JNode *n, const char *path)
{
	JNode	   *v;

	if ((v = PlanRequireKey(ps, n, path, "days")) != NULL)
		PlanGetInt(ps, v, PlanPathKey(path, "days"), "days", 1, PG_INT32_MAX,
				&b->days);
	PlanGetLevels(ps, b, n, path, "rates", NULL, true);
}

static void
ParsePool(PState *ps, MlmBonus *b, const JNode *n, const char *path)
{
	JNode	   *v;

	if ((v = PlanRequireKey(ps, n, path, "pct")) != NULL)
		PlanGetRate(ps, v, PlanPathKey(path, "pct"), "pct", &b->pct);
	if ((v = PlanObjGet(n, "min_rank")) != NULL)
	{
		int			r = PlanGetRankRef(ps, v, PlanPathKey(path, "min_rank"), "min_rank");

		if (r >= 0)
			b->pool_min_rank = r;
	}
	b->shares_by = MLM_SHARES_EQUAL;
	if ((v = PlanObjGet(n, "shares")) != NULL)
	{
		char	   *sp = PlanPathKey(path, "shares");
		JNode	   *by = PlanObjGet(v, "by");

		if (by != NULL)
		{
			/* the volume form: {"by": "cv" | "gv"} (spec 5.7) */
			int			k;

			PlanCheckKeys(ps, v, sp, share_by_keys);
			k = PlanGetChoice(ps, by, PlanPathKey(sp, "by"), "by", share_by_words);
			if (k >= 0)
				b->shares_by = k == 0 ? MLM_SHARES_CV : MLM_SHARES_GV;
		}
		else if (v->kind == JN_OBJECT)
		{
			if (PlanGetPerRank(ps, v, sp, "shares", PR_SHARE, &b->shares, NULL))
				b->shares_by = MLM_SHARES_RANK;
		}
		else if (v->kind != JN_STRING || strcmp(v->str, "equal") != 0)
			PlanProblem(ps, sp, PlanValueDetail(v),
					"shares must be \"equal\", an object by rank name or {\"by\": \"cv\" | \"gv\"}");
	}
}

static int
BonusTypeOf(const JNode *n)
{
	JNode	   *t = PlanObjGet(n, "type");
	int			i;

	if (t == NULL || t->kind != JN_STRING)
		return -1;
	for (i = 0; MlmBonusTypeNames[i]; i++)
		if (strcmp(t->str, MlmBonusTypeNames[i]) == 0)
			return i;
	return -1;
}

static void
ParseBonus(PState *ps, int i, const JNode *n)
{
	MlmPlan    *plan = ps->plan;
	MlmBonus   *b = &plan->bonuses[i];
	char	   *path = PlanPathIdx("bonuses", i);
	JNode	   *v;
	int			type;
	int			j;

	b->breakaway_rank = -1;
	b->require_sponsored_each_leg = true;
	b->shares_by = MLM_SHARES_EQUAL;
	if (!PlanExpectKind(ps, n, JN_OBJECT, path, "bonus"))
		return;

	type = BonusTypeOf(n);
	if (type >= 0)
		PlanCheckKeys(ps, n, path, bonus_keys[type]);

	if ((v = PlanRequireKey(ps, n, path, "name")) != NULL)
	{
		char	   *npath = PlanPathKey(path, "name");
		char	   *name = PlanGetString(ps, v, npath, "name", true);

		if (name)
		{
			b->name = name;
			for (j = 0; j < i; j++)
				if (ps->bonus_names[j] && strcmp(ps->bonus_names[j], name) == 0)
				{
					PlanProblem(ps, npath,
							psprintf("bonuses[%d] has the same name.", j),
							"duplicate bonus name %s", PlanQuoted(name));
					break;
				}
		}
	}
	if ((v = PlanRequireKey(ps, n, path, "type")) != NULL)
	{
		if (PlanGetChoice(ps, v, PlanPathKey(path, "type"), "type",
					   MlmBonusTypeNames) < 0)
			return;
	}
	if (type < 0)
		return;
	b->type = (MlmBonusType) type;

	switch (b->type)
	{
		case MLM_BONUS_PERSONAL:
			ParsePersonal(ps, b, n, path);
			break;
		case MLM_BONUS_UNILEVEL:
			ParseUnilevel(ps, b, n, path);
			break;
		case MLM_BONUS_DIFFERENTIAL:
			ParseDifferential(ps, b, n, path);
			break;
		case MLM_BONUS_BINARY:
			if (plan->binary_bonus >= 0)
				PlanProblem(ps, path,
						psprintf("bonuses[%d] is already a binary bonus.",
								 plan->binary_bonus),
						"only one binary bonus is allowed per plan");
			else
				plan->binary_bonus = i;
			ParseBinary(ps, b, n, path);
			break;
		case MLM_BONUS_MATCHING:
			ParseMatching(ps, b, i, n, path);
			break;
		case MLM_BONUS_FAST_START:
			ParseFastStart(ps, b, n, path);
			break;
		case MLM_BONUS_POOL:
			ParsePool(ps, b, n, path);
			break;
		case MLM_BONUS_RANK_ADVANCEMENT:
			ParseRankAdvancement(ps, b, n, path);
			break;
	}
}

static void
ParseBonuses(PState *ps, const JNode *n)
{
	MlmPlan    *plan = ps->plan;
	int			i;

	if (!PlanExpectKind(ps, n, JN_ARRAY, "bonuses", "bonuses"))
		return;
	if (n->n > MLM_PLAN_MAX_BONUSES)
	{
		PlanProblem(ps, "bonuses", NULL, "bonuses has %d entries; at most %d are supported",
					n->n, MLM_PLAN_MAX_BONUSES);
		return;
	}
	for (i = 0; i < n->n; i++)
		ParseBonus(ps, i, n->vals[i]);
	plan->nbonuses = n->n;
}

/* ------------------------------------------------------------------------
 * Entry points
 * ------------------------------------------------------------------------
 */
MlmPlan *
MlmPlanParse(Jsonb *jb, List **problems)
{
	PState		ps;
	MlmPlan    *plan;
	JNode	   *root;
	JNode	   *ranks;
	JNode	   *bonuses;
	JNode	   *v;
	int			i;

	memset(&ps, 0, sizeof(ps));
	ps.problems = problems;
	plan = palloc0(sizeof(MlmPlan));
	ps.plan = plan;
	plan->scale = 2;
	plan->rounding = MLM_ROUND_HALF_UP;
	plan->binary_bonus = -1;

	root = PlanJNodeFromJsonb(jb);
	if (root->kind != JN_OBJECT)
	{
		PlanProblem(&ps, "", root->kind == JN_ARRAY ? NULL : PlanValueDetail(root),
				"plan must be an object, not %s", PlanKindName(root->kind));
		return NULL;
	}

	/* silent pre-pass: rank and bonus names, bonus types */
	ranks = PlanObjGet(root, "ranks");
	if (ranks && ranks->kind == JN_ARRAY)
	{
		ps.nranks = ranks->n;
		ps.rank_names = palloc0(sizeof(char *) * Max(ranks->n, 1));
		for (i = 0; i < ranks->n; i++)
		{
			JNode	   *nm = PlanObjGet(ranks->vals[i], "name");

			if (nm && nm->kind == JN_STRING && nm->str[0] != '\0')
				ps.rank_names[i] = nm->str;
		}
		plan->ranks = palloc0(sizeof(MlmRank) * Max(ranks->n, 1));
	}
	bonuses = PlanObjGet(root, "bonuses");
	if (bonuses && bonuses->kind == JN_ARRAY)
	{
		ps.nbonuses = bonuses->n;
		ps.bonus_names = palloc0(sizeof(char *) * Max(bonuses->n, 1));
		ps.bonus_types = palloc0(sizeof(int) * Max(bonuses->n, 1));
		for (i = 0; i < bonuses->n; i++)
		{
			JNode	   *nm = PlanObjGet(bonuses->vals[i], "name");

			if (nm && nm->kind == JN_STRING && nm->str[0] != '\0')
				ps.bonus_names[i] = nm->str;
			ps.bonus_types[i] = BonusTypeOf(bonuses->vals[i]);
		}
		plan->bonuses = palloc0(sizeof(MlmBonus) * Max(bonuses->n, 1));
	}

	PlanCheckKeys(&ps, root, "", root_keys);
	if (ranks == NULL)
		PlanProblem(&ps, "", NULL, "missing required key \"ranks\"");

	if ((v = PlanObjGet(root, "name")) != NULL)
		plan->name = PlanGetString(&ps, v, "name", "name", false);
	if ((v = PlanObjGet(root, "currency")) != NULL)
		ParseCurrency(&ps, v);
	if ((v = PlanObjGet(root, "active")) != NULL)
		ParseActive(&ps, v);
	if (ranks)
		ParseRanks(&ps, ranks);
	if (bonuses)
		ParseBonuses(&ps, bonuses);
	if ((v = PlanObjGet(root, "cap")) != NULL)
		ParseCap(&ps, v);
	if ((v = PlanObjGet(root, "rank_policy")) != NULL)
		ParseRankPolicy(&ps, v);
	if ((v = PlanObjGet(root, "payout")) != NULL)
		ParsePayout(&ps, v);

	if (ps.nproblems > 0)
		return NULL;

	for (i = 0; i < plan->nbonuses; i++)
	{
		MlmBonus   *b = &plan->bonuses[i];

		if (b->type == MLM_BONUS_BINARY ||
			(b->type == MLM_BONUS_UNILEVEL && b->placement))
			plan->needs_placement = true;
		if (b->nrates > plan->max_levels)
			plan->max_levels = b->nrates;
	}
	return plan;
}

int
MlmPlanBonusIndex(const MlmPlan *plan, const char *name)
{
	int			i;

	for (i = 0; i < plan->nbonuses; i++)
		if (plan->bonuses[i].name && strcmp(plan->bonuses[i].name, name) == 0)
			return i;
	return -1;
}

/* ------------------------------------------------------------------------
 * SQL functions
 * ------------------------------------------------------------------------
 */
PG_FUNCTION_INFO_V1(mlm_validate_plan);
PG_FUNCTION_INFO_V1(mlm_check_plan);

/* mlm.validate_plan(plan jsonb) RETURNS TABLE(path text, message text) */
Datum
mlm_validate_plan(PG_FUNCTION_ARGS)
{
	Jsonb	   *jb = PG_GETARG_JSONB_P(0);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	List	   *problems = NIL;
	ListCell   *lc;

	InitMaterializedSRF(fcinfo, 0);
	(void) MlmPlanParse(jb, &problems);
	foreach(lc, problems)
	{
		MlmPlanProblem *p = (MlmPlanProblem *) lfirst(lc);
		Datum		values[2];
		bool		nulls[2] = {false, false};

		values[0] = CStringGetTextDatum(p->path);
		values[1] = CStringGetTextDatum(p->message);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* mlm.check_plan(plan jsonb) RETURNS jsonb: the plan, or an error */
Datum
mlm_check_plan(PG_FUNCTION_ARGS)
{
	Jsonb	   *jb = PG_GETARG_JSONB_P(0);

	(void) MlmPlanParse(jb, NULL);
	PG_RETURN_JSONB_P(jb);
}

