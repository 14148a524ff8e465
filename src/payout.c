/*
 * payout.c
 *	  Rounding and the global cap (spec sections 6 and 7).  Money is exact
 *	  until here: a member's sum of a bonus is rounded once, and the cap
 *	  scales every rounded payout by limit / total, truncated.
 */
#include "postgres.h"

#include "mlm.h"
#include "payout.h"

/* Round each member's exact sum once (spec section 6) and keep non-zeros. */
void
MlmRoundSums(const MlmPlan *plan, const MlmLineSink *sink, const int64 *ids,
			 MlmPayouts *out)
{
	int32		n = sink->n;
	int32		i;
	int32		k = 0;

	out->count = 0;
	for (i = 0; i < n; i++)
		if (sink->touched[i] &&
			MlmDecRescale(sink->sum[i], MLM_AMT_SCALE, plan->scale, plan->rounding) != 0)
			out->count++;
	out->member = MlmAllocArray(Max(out->count, 1), sizeof(int32));
	out->units = MlmAllocArray(Max(out->count, 1), sizeof(int64));
	for (i = 0; i < n; i++)
	{
		mlm_dec		u;

		if (!sink->touched[i])
			continue;
		u = MlmDecRescale(sink->sum[i], MLM_AMT_SCALE, plan->scale, plan->rounding);
		if (u == 0)
			continue;
		if (u > PG_INT64_MAX || u < PG_INT64_MIN)
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("payout of member " INT64_FORMAT " is out of range",
							ids[i])));
		out->member[k] = i;
		out->units[k++] = (int64) u;
	}
}

/* Matching pays on rounded earnings: sum them per member at VOL scale. */
mlm_dec *
MlmMatchedEarnings(const MlmPlan *plan, const MlmBonus *b, const MlmPayouts *pay,
				   int32 n)
{
	mlm_dec    *earn = MlmAllocArrayZero(Max(n, 1), sizeof(mlm_dec));
	int			o;
	int32		k;

	for (o = 0; o < b->nof; o++)
	{
		const MlmPayouts *src = &pay[b->of[o]];

		for (k = 0; k < src->count; k++)
			earn[src->member[k]] =
				MlmDecAdd(earn[src->member[k]],
						  MlmDecRescale(src->units[k], plan->scale,
										MLM_VOL_SCALE, MLM_ROUND_TRUNC));
	}
	return earn;
}

/*
 * Totals before the cap; when they exceed cap_pct of total CV, every payout
 * becomes A * L / T exactly, truncated toward zero; then the totals after
 * and what each member is paid.
 */
void
MlmApplyCap(const MlmPlan *plan, MlmPayouts *pay, int32 n, mlm_dec total_cv,
			MlmCapResult *res)
{
	int			b;
	int32		k;

	memset(res, 0, sizeof(MlmCapResult));
	res->bonus_before = palloc0(sizeof(mlm_dec) * Max(plan->nbonuses, 1));
	res->bonus_after = palloc0(sizeof(mlm_dec) * Max(plan->nbonuses, 1));
	for (b = 0; b < plan->nbonuses; b++)
		for (k = 0; k < pay[b].count; k++)
			res->bonus_before[b] = MlmDecAdd(res->bonus_before[b], pay[b].units[k]);
	for (b = 0; b < plan->nbonuses; b++)
		res->total = MlmDecAdd(res->total, res->bonus_before[b]);
	if (plan->has_cap)
	{
		res->limit = MlmDecRescale(MlmDecMul(plan->cap_pct, total_cv), MLM_AMT_SCALE,
								   plan->scale, MLM_ROUND_TRUNC);
		if (res->limit < 0)
			res->limit = 0;
		if (res->total > res->limit)
		{
			res->capped = true;
			for (b = 0; b < plan->nbonuses; b++)
				for (k = 0; k < pay[b].count; k++)
					pay[b].units[k] = (int64) (MlmDecMul(pay[b].units[k], res->limit) / res->total);
		}
	}
	res->paid = MlmAllocArrayZero(Max(n, 1), sizeof(mlm_dec));
	for (b = 0; b < plan->nbonuses; b++)
		for (k = 0; k < pay[b].count; k++)
		{
			res->bonus_after[b] = MlmDecAdd(res->bonus_after[b], pay[b].units[k]);
			res->paid[pay[b].member[k]] = MlmDecAdd(res->paid[pay[b].member[k]], pay[b].units[k]);
		}
}

/*
 * Spec 13.1: payable = balance in + earned; paid when it reaches
 * min_payout and the member is not on hold, else carried as the balance
 * (a negative payable is never paid).  A balance in the state must be
 * money at the currency scale.
 */
void
MlmApplyLedger(const MlmPlan *plan, const MlmNet *net, const mlm_dec *earned,
			   MlmLedger *lg)
{
	int32		n = net->n;
	int32		i;
	mlm_dec    *bin;
	mlm_dec		min_units;
	MlmIdList	bad = {{0}, 0};

	memset(lg, 0, sizeof(MlmLedger));
	lg->earned = earned;
	if (!plan->has_payout)
	{
		lg->paid = (mlm_dec *) earned;
		for (i = 0; i < n; i++)
			lg->sum_paid = MlmDecAdd(lg->sum_paid, earned[i]);
		return;
	}
	bin = MlmAllocArrayZero(Max(n, 1), sizeof(mlm_dec));
	lg->paid = MlmAllocArrayZero(Max(n, 1), sizeof(mlm_dec));
	lg->balance_out = MlmAllocArrayZero(Max(n, 1), sizeof(mlm_dec));
	/* payable >= x, compared at the currency scale: x rounded up */
	min_units = MlmDecRescale(plan->min_payout, MLM_VOL_SCALE, plan->scale, MLM_ROUND_TRUNC);
	if (MlmDecRescale(min_units, plan->scale, MLM_VOL_SCALE, MLM_ROUND_TRUNC) < plan->min_payout)
		min_units++;
	for (i = 0; i < n; i++)
	{
		mlm_dec		payable;

		if (net->balance_in && net->balance_in[i] != 0)
		{
			bin[i] = MlmDecRescale(net->balance_in[i], MLM_VOL_SCALE, plan->scale, MLM_ROUND_TRUNC);
			if (MlmDecRescale(bin[i], plan->scale, MLM_VOL_SCALE, MLM_ROUND_TRUNC) != net->balance_in[i])
				MlmIdListAdd(&bad, net->v.ids[i]);
		}
		payable = MlmDecAdd(bin[i], earned[i]);
		if (payable >= min_units && !(net->hold && net->hold[i]))
			lg->paid[i] = payable;
		else
			lg->balance_out[i] = payable;
		lg->sum_in = MlmDecAdd(lg->sum_in, bin[i]);
		lg->sum_paid = MlmDecAdd(lg->sum_paid, lg->paid[i]);
		lg->sum_out = MlmDecAdd(lg->sum_out, lg->balance_out[i]);
	}
	if (bad.count > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a balance of the previous state has more decimals than the currency scale %d",
						plan->scale),
				 MlmIdListDetail("Members", &bad)));
	lg->balance_in = bin;
}
