/*
 * plan_summary.c
 *	  mlm.plan_summary: what the engine understood of a plan, as jsonb,
 *	  with defaults filled in, per-rank values expanded and decimals as
 *	  exact strings.
 *
 * The result is built with PostgreSQL's jsonb API (pushJsonbValue), so
 * strings need no escaping by hand and the keys are ordered as jsonb
 * orders them.
 */
#include "postgres.h"

#include <string.h>

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "decimal.h"
#include "plan.h"

PG_FUNCTION_INFO_V1(mlm_plan_summary);

/* The jsonb under construction. */
typedef JsonbParseState *JsState;

/* Push a key, or nothing when key is NULL (an array element follows). */
static void
JsKey(JsState *st, const char *key)
{
	JsonbValue	k;

	if (key == NULL)
		return;
	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	pushJsonbValue(st, WJB_KEY, &k);
}

/* Push a scalar as the value of key, or as an array element (key NULL). */
static void
JsScalar(JsState *st, const char *key, JsonbValue *v)
{
	JsKey(st, key);
	pushJsonbValue(st, key ? WJB_VALUE : WJB_ELEM, v);
}

/* A string, or null for NULL. */
static void
JsStr(JsState *st, const char *key, const char *s)
{
	JsonbValue	v;

	if (s == NULL)
		v.type = jbvNull;
	else
	{
		v.type = jbvString;
		v.val.string.val = (char *) s;
		v.val.string.len = strlen(s);
	}
	JsScalar(st, key, &v);
}

static void
JsInt(JsState *st, const char *key, int64 i)
{
	JsonbValue	v;

	v.type = jbvNumeric;
	v.val.numeric = int64_to_numeric(i);
	JsScalar(st, key, &v);
}

static void
JsBool(JsState *st, const char *key, bool b)
{
	JsonbValue	v;

	v.type = jbvBool;
	v.val.boolean = b;
	JsScalar(st, key, &v);
}

/* A decimal as an exact string ("0.05"). */
static void
JsDec(JsState *st, const char *key, mlm_dec d, int scale)
{
	char		tmp[64];

	JsStr(st, key, pstrdup(MlmDecToText(d, scale, 0, tmp)));
}

/* An amount when has, else null. */
static void
JsOptAmount(JsState *st, const char *key, bool has, mlm_dec d)
{
	if (has)
		JsDec(st, key, d, MLM_VOL_SCALE);
	else
		JsStr(st, key, NULL);
}

static void
JsBegin(JsState *st, const char *key, JsonbIteratorToken tok)
{
	JsKey(st, key);
	pushJsonbValue(st, tok, NULL);
}

static void
JsEnd(JsState *st, JsonbIteratorToken tok)
{
	pushJsonbValue(st, tok, NULL);
}

/* key: [rate, ...] */
static void
JsRates(JsState *st, const char *key, int n, const mlm_dec *rates)
{
	int			i;

	JsBegin(st, key, WJB_BEGIN_ARRAY);
	for (i = 0; i < n; i++)
		JsDec(st, NULL, rates[i], MLM_RATE_SCALE);
	JsEnd(st, WJB_END_ARRAY);
}

/* key: [rank name, ...] */
static void
JsRankList(JsState *st, const MlmPlan *plan, const char *key, int n,
		   const int *ranks)
{
	int			i;

	JsBegin(st, key, WJB_BEGIN_ARRAY);
	for (i = 0; i < n; i++)
		JsStr(st, NULL, plan->ranks[ranks[i]].name);
	JsEnd(st, WJB_END_ARRAY);
}

/* key: [{"rank": name, valkey: value}, ...], one entry per rank */
static void
JsPerRank(JsState *st, const MlmPlan *plan, const char *key,
		  const char *valkey, const mlm_dec *vals, int scale)
{
	int			i;

	JsBegin(st, key, WJB_BEGIN_ARRAY);
	for (i = 0; i < plan->nranks; i++)
	{
		JsBegin(st, NULL, WJB_BEGIN_OBJECT);
		JsStr(st, "rank", plan->ranks[i].name);
		JsDec(st, valkey, vals[i], scale);
		JsEnd(st, WJB_END_OBJECT);
	}
	JsEnd(st, WJB_END_ARRAY);
}

/* One entry of "ranks". */
static void
JsRank(JsState *st, const MlmPlan *plan, int i)
{
	const MlmRank *rk = &plan->ranks[i];

	JsBegin(st, NULL, WJB_BEGIN_OBJECT);
	JsInt(st, "index", i);
	JsStr(st, "name", rk->name);
	if (rk->has_min_pv)
		JsDec(st, "min_pv", rk->min_pv, MLM_VOL_SCALE);
	if (rk->has_min_gv)
		JsDec(st, "min_gv", rk->min_gv, MLM_VOL_SCALE);
	if (rk->has_max_leg_pct)
		JsDec(st, "max_leg_pct", rk->max_leg_pct, MLM_RATE_SCALE);
	if (rk->has_min_active_frontline)
		JsInt(st, "min_active_frontline", rk->min_active_frontline);
	if (rk->has_legs_with_rank)
	{
		JsBegin(st, "legs_with_rank", WJB_BEGIN_OBJECT);
		JsStr(st, "rank", plan->ranks[rk->legs_rank].name);
		JsInt(st, "rank_index", rk->legs_rank);
		JsInt(st, "count", rk->legs_count);
		JsEnd(st, WJB_END_OBJECT);
	}
	if (rk->has_min_customer_pv)
		JsDec(st, "min_customer_pv", rk->min_customer_pv, MLM_VOL_SCALE);
	if (rk->has_min_customer_share)
		JsDec(st, "min_customer_share", rk->min_customer_share, MLM_RATE_SCALE);
	if (rk->has_min_customers)
		JsInt(st, "min_customers", rk->min_customers);
	JsEnd(st, WJB_END_OBJECT);
}

/* The keys of a binary bonus. */
static void
JsBinary(JsState *st, const MlmPlan *plan, const MlmBonus *b)
{
	if (b->cycle)
	{
		JsBegin(st, "cycle", WJB_BEGIN_OBJECT);
		JsDec(st, "left", b->cycle_left, MLM_VOL_SCALE);
		JsDec(st, "right", b->cycle_right, MLM_VOL_SCALE);
		if (b->amount_by_rank)
			JsPerRank(st, plan, "amount_by_rank", "amount", b->amount_by_rank,
					  MLM_VOL_SCALE);
		else
			JsDec(st, "amount", b->cycle_amount, MLM_VOL_SCALE);
		JsEnd(st, WJB_END_OBJECT);
	}
	else if (b->rate_by_rank)
		JsPerRank(st, plan, "rate_by_rank", "rate", b->rate_by_rank,
				  MLM_RATE_SCALE);
	else
		JsDec(st, "rate", b->rate, MLM_RATE_SCALE);
	JsOptAmount(st, "cap", b->has_cap, b->cap);
	JsOptAmount(st, "max_carry", b->has_max_carry, b->max_carry);
	JsBool(st, "flush_when_unqualified", b->flush_when_unqualified);
	JsBool(st, "require_sponsored_each_leg", b->require_sponsored_each_leg);
}

/* The keys of a pool bonus. */
static void
JsPool(JsState *st, const MlmPlan *plan, const MlmBonus *b)
{
	JsDec(st, "pct", b->pct, MLM_RATE_SCALE);
	JsStr(st, "min_rank", plan->ranks[b->pool_min_rank].name);
	switch (b->shares_by)
	{
		case MLM_SHARES_EQUAL:
			JsStr(st, "shares", "equal");
			break;
		case MLM_SHARES_RANK:
			JsPerRank(st, plan, "shares", "share", b->shares, MLM_RATE_SCALE);
			break;
		case MLM_SHARES_CV:
		case MLM_SHARES_GV:
			JsBegin(st, "shares", WJB_BEGIN_OBJECT);
			JsStr(st, "by", b->shares_by == MLM_SHARES_CV ? "cv" : "gv");
			JsEnd(st, WJB_END_OBJECT);
			break;
	}
}

/* One entry of "bonuses". */
static void
JsBonus(JsState *st, const MlmPlan *plan, int i)
{
	const MlmBonus *b = &plan->bonuses[i];
	int			j;

	JsBegin(st, NULL, WJB_BEGIN_OBJECT);
	JsInt(st, "index", i);
	JsStr(st, "name", b->name);
	JsStr(st, "type", MlmBonusTypeNames[b->type]);
	switch (b->type)
	{
		case MLM_BONUS_PERSONAL:
			JsPerRank(st, plan, "rate_by_rank", "rate", b->rate_by_rank,
					  MLM_RATE_SCALE);
			JsStr(st, "volume", b->volume == MLM_VOLUME_OWN ? "own" :
				  b->volume == MLM_VOLUME_CUSTOMER ? "customer" : "all");
			break;
		case MLM_BONUS_UNILEVEL:
			JsRates(st, "rates", b->nrates, b->rates);
			JsRankList(st, plan, "min_rank_by_level", b->nrates, b->min_rank);
			JsStr(st, "compression", b->dynamic ? "dynamic" : "none");
			JsStr(st, "tree", b->placement ? "placement" : "sponsor");
			break;
		case MLM_BONUS_DIFFERENTIAL:
			JsPerRank(st, plan, "rate_by_rank", "rate", b->rate_by_rank,
					  MLM_RATE_SCALE);
			JsStr(st, "breakaway_rank", b->breakaway_rank >= 0 ?
				  plan->ranks[b->breakaway_rank].name : NULL);
			JsRates(st, "generation_rates", b->nrates, b->rates);
			JsRankList(st, plan, "min_rank_by_generation", b->nrates,
					   b->min_rank);
			break;
		case MLM_BONUS_BINARY:
			JsBinary(st, plan, b);
			break;
		case MLM_BONUS_MATCHING:
			JsBegin(st, "of", WJB_BEGIN_ARRAY);
			for (j = 0; j < b->nof; j++)
				JsStr(st, NULL, plan->bonuses[b->of[j]].name);
			JsEnd(st, WJB_END_ARRAY);
			JsRates(st, "rates", b->nrates, b->rates);
			JsRankList(st, plan, "min_rank_by_generation", b->nrates,
					   b->min_rank);
			JsStr(st, "compression", b->dynamic ? "dynamic" : "none");
			break;
		case MLM_BONUS_FAST_START:
			JsInt(st, "days", b->days);
			JsRates(st, "rates", b->nrates, b->rates);
			break;
		case MLM_BONUS_POOL:
			JsPool(st, plan, b);
			break;
		case MLM_BONUS_RANK_ADVANCEMENT:
			JsBegin(st, "amounts", WJB_BEGIN_OBJECT);
			for (j = 1; j < plan->nranks; j++)
				if (b->advancement[j] != 0)
					JsDec(st, plan->ranks[j].name, b->advancement[j], MLM_VOL_SCALE);
			JsEnd(st, WJB_END_OBJECT);
			break;
	}
	JsEnd(st, WJB_END_OBJECT);
}

/* The word of a rounding mode. */
static const char *
RoundingWord(int mode)
{
	switch (mode)
	{
		case MLM_ROUND_HALF_EVEN:
			return "half_even";
		case MLM_ROUND_TRUNC:
			return "down";
		default:
			return "half_up";
	}
}

/*
 * mlm.plan_summary(plan jsonb) RETURNS jsonb: what the engine understood,
 * defaults filled in, per-rank values expanded, decimals as exact strings.
 */
Datum
mlm_plan_summary(PG_FUNCTION_ARGS)
{
	Jsonb	   *jb = PG_GETARG_JSONB_P(0);
	MlmPlan    *plan = MlmPlanParse(jb, NULL);
	JsonbParseState *st = NULL;
	JsonbValue *res;
	int			i;

	JsBegin(&st, NULL, WJB_BEGIN_OBJECT);
	JsStr(&st, "name", plan->name);
	JsBegin(&st, "currency", WJB_BEGIN_OBJECT);
	JsInt(&st, "scale", plan->scale);
	JsStr(&st, "rounding", RoundingWord(plan->rounding));
	JsEnd(&st, WJB_END_OBJECT);
	if (plan->has_active_min_pv)
	{
		JsBegin(&st, "active", WJB_BEGIN_OBJECT);
		JsDec(&st, "min_pv", plan->active_min_pv, MLM_VOL_SCALE);
		JsEnd(&st, WJB_END_OBJECT);
	}
	else
		JsStr(&st, "active", NULL);

	JsBegin(&st, "ranks", WJB_BEGIN_ARRAY);
	for (i = 0; i < plan->nranks; i++)
		JsRank(&st, plan, i);
	JsEnd(&st, WJB_END_ARRAY);

	JsBegin(&st, "bonuses", WJB_BEGIN_ARRAY);
	for (i = 0; i < plan->nbonuses; i++)
		JsBonus(&st, plan, i);
	JsEnd(&st, WJB_END_ARRAY);

	if (plan->has_cap)
	{
		JsBegin(&st, "cap", WJB_BEGIN_OBJECT);
		JsDec(&st, "pct", plan->cap_pct, MLM_RATE_SCALE);
		JsEnd(&st, WJB_END_OBJECT);
	}
	else
		JsStr(&st, "cap", NULL);
	if (plan->grace_periods > 0)
	{
		JsBegin(&st, "rank_policy", WJB_BEGIN_OBJECT);
		JsInt(&st, "grace_periods", plan->grace_periods);
		JsEnd(&st, WJB_END_OBJECT);
	}
	else
		JsStr(&st, "rank_policy", NULL);
	if (plan->has_payout)
	{
		JsBegin(&st, "payout", WJB_BEGIN_OBJECT);
		JsDec(&st, "min_payout", plan->min_payout, MLM_VOL_SCALE);
		JsEnd(&st, WJB_END_OBJECT);
	}
	else
		JsStr(&st, "payout", NULL);
	JsStr(&st, "binary_bonus", plan->binary_bonus >= 0 ?
		  plan->bonuses[plan->binary_bonus].name : NULL);
	JsBool(&st, "needs_placement", plan->needs_placement);
	JsInt(&st, "max_levels", plan->max_levels);
	res = pushJsonbValue(&st, WJB_END_OBJECT, NULL);

	PG_RETURN_JSONB_P(JsonbValueToJsonb(res));
}
