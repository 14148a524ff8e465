/*
 * plan_summary.c
 *	  mlm.plan_summary: what the engine understood of a plan, as jsonb,
 *	  with defaults filled in, per-rank values expanded and decimals as
 *	  exact strings.
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

PG_FUNCTION_INFO_V1(mlm_plan_summary);

static void
JsStr(StringInfo buf, const char *s)
{
	if (s == NULL)
		appendStringInfoString(buf, "null");
	else
		escape_json(buf, s);
}

static void
JsDec(StringInfo buf, mlm_dec v, int scale)
{
	char		tmp[64];

	appendStringInfo(buf, "\"%s\"", MlmDecToText(v, scale, 0, tmp));
}

static void
JsRates(StringInfo buf, const char *key, int n, const mlm_dec *rates)
{
	int			i;

	appendStringInfo(buf, ", \"%s\": [", key);
	for (i = 0; i < n; i++)
	{
		if (i)
			appendStringInfoString(buf, ", ");
		JsDec(buf, rates[i], MLM_RATE_SCALE);
	}
	appendStringInfoChar(buf, ']');
}

static void
JsRankList(StringInfo buf, const MlmPlan *plan, const char *key, int n,
			 const int *ranks)
{
	int			i;

	appendStringInfo(buf, ", \"%s\": [", key);
	for (i = 0; i < n; i++)
	{
		if (i)
			appendStringInfoString(buf, ", ");
		JsStr(buf, plan->ranks[ranks[i]].name);
	}
	appendStringInfoChar(buf, ']');
}

static void
JsPerRank(StringInfo buf, const MlmPlan *plan, const char *key,
			const char *valkey, const mlm_dec *vals)
{
	int			i;

	appendStringInfo(buf, ", \"%s\": [", key);
	for (i = 0; i < plan->nranks; i++)
	{
		if (i)
			appendStringInfoString(buf, ", ");
		appendStringInfoString(buf, "{\"rank\": ");
		JsStr(buf, plan->ranks[i].name);
		appendStringInfo(buf, ", \"%s\": ", valkey);
		JsDec(buf, vals[i], MLM_RATE_SCALE);
		appendStringInfoChar(buf, '}');
	}
	appendStringInfoChar(buf, ']');
}

static void
JsOptAmount(StringInfo buf, const char *key, bool has, mlm_dec v)
{
	appendStringInfo(buf, ", \"%s\": ", key);
	if (has)
		JsDec(buf, v, MLM_VOL_SCALE);
	else
		appendStringInfoString(buf, "null");
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
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"name\": ");
	JsStr(&buf, plan->name);
	appendStringInfo(&buf, ", \"currency\": {\"scale\": %d, \"rounding\": \"%s\"}",
					 plan->scale,
					 plan->rounding == MLM_ROUND_HALF_EVEN ? "half_even" : "half_up");
	appendStringInfoString(&buf, ", \"active\": ");
	if (plan->has_active_min_pv)
	{
		appendStringInfoString(&buf, "{\"min_pv\": ");
		JsDec(&buf, plan->active_min_pv, MLM_VOL_SCALE);
		appendStringInfoChar(&buf, '}');
	}
	else
		appendStringInfoString(&buf, "null");

	appendStringInfoString(&buf, ", \"ranks\": [");
	for (i = 0; i < plan->nranks; i++)
	{
		MlmRank    *rk = &plan->ranks[i];

		if (i)
			appendStringInfoString(&buf, ", ");
		appendStringInfo(&buf, "{\"index\": %d, \"name\": ", i);
		JsStr(&buf, rk->name);
		if (rk->has_min_pv)
			JsOptAmount(&buf, "min_pv", true, rk->min_pv);
		if (rk->has_min_gv)
			JsOptAmount(&buf, "min_gv", true, rk->min_gv);
		if (rk->has_max_leg_pct)
		{
			appendStringInfoString(&buf, ", \"max_leg_pct\": ");
			JsDec(&buf, rk->max_leg_pct, MLM_RATE_SCALE);
		}
		if (rk->has_min_active_frontline)
			appendStringInfo(&buf, ", \"min_active_frontline\": %d",
							 rk->min_active_frontline);
		if (rk->has_legs_with_rank)
		{
			appendStringInfoString(&buf, ", \"legs_with_rank\": {\"rank\": ");
			JsStr(&buf, plan->ranks[rk->legs_rank].name);
			appendStringInfo(&buf, ", \"rank_index\": %d, \"count\": %d}",
							 rk->legs_rank, rk->legs_count);
		}
		appendStringInfoChar(&buf, '}');
	}
	appendStringInfoChar(&buf, ']');

	appendStringInfoString(&buf, ", \"bonuses\": [");
	for (i = 0; i < plan->nbonuses; i++)
	{
		MlmBonus   *b = &plan->bonuses[i];
		int			j;

		if (i)
			appendStringInfoString(&buf, ", ");
		appendStringInfo(&buf, "{\"index\": %d, \"name\": ", i);
		JsStr(&buf, b->name);
		appendStringInfo(&buf, ", \"type\": \"%s\"", MlmBonusTypeNames[b->type]);
		switch (b->type)
		{
			case MLM_BONUS_PERSONAL:
				JsPerRank(&buf, plan, "rate_by_rank", "rate", b->rate_by_rank);
				break;
			case MLM_BONUS_UNILEVEL:
				JsRates(&buf, "rates", b->nrates, b->rates);
				JsRankList(&buf, plan, "min_rank_by_level", b->nrates, b->min_rank);
				appendStringInfo(&buf, ", \"compression\": \"%s\", \"tree\": \"%s\"",
								 b->dynamic ? "dynamic" : "none",
								 b->placement ? "placement" : "sponsor");
				break;
			case MLM_BONUS_DIFFERENTIAL:
				JsPerRank(&buf, plan, "rate_by_rank", "rate", b->rate_by_rank);
				appendStringInfoString(&buf, ", \"breakaway_rank\": ");
				JsStr(&buf, b->breakaway_rank >= 0 ?
					   plan->ranks[b->breakaway_rank].name : NULL);
				JsRates(&buf, "generation_rates", b->nrates, b->rates);
				JsRankList(&buf, plan, "min_rank_by_generation", b->nrates,
							 b->min_rank);
				break;
			case MLM_BONUS_BINARY:
				if (b->cycle)
				{
					appendStringInfoString(&buf, ", \"cycle\": {\"left\": ");
					JsDec(&buf, b->cycle_left, MLM_VOL_SCALE);
					appendStringInfoString(&buf, ", \"right\": ");
					JsDec(&buf, b->cycle_right, MLM_VOL_SCALE);
					appendStringInfoString(&buf, ", \"amount\": ");
					JsDec(&buf, b->cycle_amount, MLM_VOL_SCALE);
					appendStringInfoChar(&buf, '}');
				}
				else
				{
					appendStringInfoString(&buf, ", \"rate\": ");
					JsDec(&buf, b->rate, MLM_RATE_SCALE);
				}
				JsOptAmount(&buf, "cap", b->has_cap, b->cap);
				JsOptAmount(&buf, "max_carry", b->has_max_carry, b->max_carry);
				appendStringInfo(&buf, ", \"flush_when_unqualified\": %s"
								 ", \"require_sponsored_each_leg\": %s",
								 b->flush_when_unqualified ? "true" : "false",
								 b->require_sponsored_each_leg ? "true" : "false");
				break;
			case MLM_BONUS_MATCHING:
				appendStringInfoString(&buf, ", \"of\": [");
				for (j = 0; j < b->nof; j++)
				{
					if (j)
						appendStringInfoString(&buf, ", ");
					JsStr(&buf, plan->bonuses[b->of[j]].name);
				}
				appendStringInfoChar(&buf, ']');
				JsRates(&buf, "rates", b->nrates, b->rates);
				JsRankList(&buf, plan, "min_rank_by_generation", b->nrates,
							 b->min_rank);
				appendStringInfo(&buf, ", \"compression\": \"%s\"",
								 b->dynamic ? "dynamic" : "none");
				break;
			case MLM_BONUS_FAST_START:
				appendStringInfo(&buf, ", \"days\": %d", b->days);
				JsRates(&buf, "rates", b->nrates, b->rates);
				break;
			case MLM_BONUS_POOL:
				appendStringInfoString(&buf, ", \"pct\": ");
				JsDec(&buf, b->pct, MLM_RATE_SCALE);
				appendStringInfoString(&buf, ", \"min_rank\": ");
				JsStr(&buf, plan->ranks[b->pool_min_rank].name);
				if (b->shares_equal)
					appendStringInfoString(&buf, ", \"shares\": \"equal\"");
				else
					JsPerRank(&buf, plan, "shares", "share", b->shares);
				break;
		}
		appendStringInfoChar(&buf, '}');
	}
	appendStringInfoChar(&buf, ']');

	appendStringInfoString(&buf, ", \"cap\": ");
	if (plan->has_cap)
	{
		appendStringInfoString(&buf, "{\"pct\": ");
		JsDec(&buf, plan->cap_pct, MLM_RATE_SCALE);
		appendStringInfoChar(&buf, '}');
	}
	else
		appendStringInfoString(&buf, "null");
	appendStringInfo(&buf, ", \"binary_bonus\": ");
	JsStr(&buf, plan->binary_bonus >= 0 ?
		   plan->bonuses[plan->binary_bonus].name : NULL);
	appendStringInfo(&buf, ", \"needs_placement\": %s, \"max_levels\": %d}",
					 plan->needs_placement ? "true" : "false", plan->max_levels);

	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}

