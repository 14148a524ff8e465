/*
 * bonus_pool.c
 *	  Pool bonus (spec 5.7): a share of total CV split among qualified
 *	  members by weight (equal, by rank, or the member's CV or GV), in
 *	  whole currency units, the leftover units going
 *	  to the largest remainders (ties to the smaller id), so the pool is
 *	  paid out exactly.
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/numeric.h"

#include "bonus.h"
#include "mlm.h"

typedef struct PoolShare
{
	int32		member;
	int64		id;
	mlm_dec		weight;
	mlm_dec		units;
	mlm_dec		rem;
} PoolShare;

/* Larger remainder first, ties to the smaller id. */
static int
CompareRemainder(const void *a, const void *b)
{
	const PoolShare *x = (const PoolShare *) a;
	const PoolShare *y = (const PoolShare *) b;

	if (x->rem != y->rem)
		return x->rem > y->rem ? -1 : 1;
	return x->id < y->id ? -1 : (x->id > y->id ? 1 : 0);
}

/*
 * The weight of participant i: 1, its rank's share (RATE scale), or its
 * CV or GV (VOL scale); *scale says which.
 */
static mlm_dec
PoolWeight(const MlmBonusContext *cx, const MlmBonus *b, int32 i, int *scale)
{
	*scale = MLM_RATE_SCALE;
	switch (b->shares_by)
	{
		case MLM_SHARES_EQUAL:
			return MlmPow10[MLM_RATE_SCALE];
		case MLM_SHARES_RANK:
			return b->shares[cx->d->rank[i]];
		case MLM_SHARES_CV:
			*scale = MLM_VOL_SCALE;
			return cx->net->cv[i];
		case MLM_SHARES_GV:
			*scale = MLM_VOL_SCALE;
			return cx->d->gv[i];
	}
	return 0;
}

/* Pool: a share of total CV by weight, largest remainders get the rest. */
void
MlmBonusPool(const MlmBonusContext *cx, const MlmBonus *b, MlmLineSink *sink)
{
	const MlmPlan *plan = cx->plan;
	const MlmNet *net = cx->net;
	const MlmDerived *d = cx->d;
	mlm_dec		total_cv = cx->total_cv;
	/* P in currency units, truncated */
	mlm_dec		p_units = MlmDecRescale(MlmDecMul(b->pct, total_cv), MLM_AMT_SCALE,
										plan->scale, MLM_ROUND_TRUNC);
	PoolShare  *sh;
	int32		np = 0;
	mlm_dec		w_total = 0;
	mlm_dec		given = 0;
	mlm_dec		left;
	int32		i,
				k;
	int64		work = 0;
	Datum		base;
	Datum		w_total_num;
	int			wscale = MLM_RATE_SCALE;

	if (p_units <= 0)
		return;
	sh = MlmAllocArray(Max(net->n, 1), sizeof(PoolShare));
	for (i = 0; i < net->n; i++)
	{
		mlm_dec		w;

		if (!d->active[i] || d->rank[i] < b->pool_min_rank)
			continue;
		w = PoolWeight(cx, b, i, &wscale);
		if (w <= 0)
			continue;
		sh[np].member = i;
		sh[np].id = net->v.ids[i];
		sh[np].weight = w;
		w_total = MlmDecAdd(w_total, w);
		np++;
		MlmWorkDone(&work, 1);
	}
	if (np == 0 || w_total == 0)
	{
		pfree(sh);
		return;
	}
	for (k = 0; k < np; k++)
	{
		mlm_dec		num = MlmDecMul(p_units, sh[k].weight);

		sh[k].units = num / w_total;	/* both positive: floor */
		sh[k].rem = num % w_total;
		given += sh[k].units;
	}
	left = p_units - given;
	if (left > 0)
	{
		qsort(sh, np, sizeof(PoolShare), CompareRemainder);
		for (k = 0; k < np && left > 0; k++, left--)
			sh[k].units++;
	}

	base = MlmDecToNumeric(p_units, plan->scale, plan->scale);
	w_total_num = MlmDecToNumeric(w_total, wscale, 0);
	for (k = 0; k < np; k++)
	{
		mlm_dec		amount = MlmDecRescale(sh[k].units, plan->scale, MLM_AMT_SCALE,
										   MLM_ROUND_TRUNC);

		if (amount == 0)
			continue;
		if (MlmSinkWantsLines(sink))
		{
			MemoryContext old = MemoryContextSwitchTo(sink->line_cxt);
			Datum		rate = DirectFunctionCall2(numeric_div,
												   MlmDecToNumeric(sh[k].weight, wscale, 0),
												   w_total_num);

			MemoryContextSwitchTo(old);
			MlmSinkLineDatum(sink, sh[k].member, -1, -1, base, rate, amount);
		}
		else
			MlmSinkLineDatum(sink, sh[k].member, -1, -1, (Datum) 0, (Datum) 0, amount);
		MlmWorkDone(&work, 1);
	}
	pfree(sh);
}
