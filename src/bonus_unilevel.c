/*
 * bonus_unilevel.c
 *	  The bonuses that walk a member's ancestors level by level: personal
 *	  (level 0), unilevel on the sponsor or placement tree with or without
 *	  dynamic compression, matching, and fast start (spec 5.1, 5.2, 5.5,
 *	  5.6).  Each walk is bounded by the plan's levels; dynamic compression
 *	  jumps through a precomputed "nearest active ancestor" pointer, so no
 *	  walk ever costs the depth of the tree.
 */
#include "postgres.h"

#include "miscadmin.h"

#include "bonus.h"
#include "forest.h"
#include "mlm.h"

/*
 * Personal: a member's volume at the rate of its rank (level 0): CV' (its
 * own and its customers'), its own CV or its customers' CV (spec 5.1, 12).
 */
void
MlmBonusPersonal(const MlmBonusContext *cx, const MlmBonus *b, MlmLineSink *sink)
{
	const MlmNet *net = cx->net;
	const MlmDerived *d = cx->d;
	int32		i;

	for (i = 0; i < net->n; i++)
	{
		mlm_dec		rate;
		mlm_dec		cv = net->cv[i];

		if (net->own_cv && b->volume == MLM_VOLUME_OWN)
			cv = net->own_cv[i];
		else if (b->volume == MLM_VOLUME_CUSTOMER)
			cv = net->own_cv ? cv - net->own_cv[i] : 0;
		if (!d->active[i] || cv == 0)
			continue;
		rate = b->rate_by_rank[d->rank[i]];
		if (rate == 0)
			continue;
		MlmSinkLine(sink, i, i, 0, cv, MLM_VOL_SCALE, rate, MLM_RATE_SCALE,
					MlmDecMul(cv, rate));
	}
}

/*
 * Pay base[x] * rates[k] to the k-th (active) ancestor of every member x
 * with a non-zero base; shared by unilevel and matching.
 */
static void
LevelWalk(const MlmBonus *b, const MlmNet *net, const MlmDerived *d,
		  const int32 *parent, const int32 *order,
		  const mlm_dec *base, MlmLineSink *sink)
{
	const int32 *next = parent;
	int32	   *owned = NULL;
	int32		x;
	int64		work = 0;

	if (b->dynamic)
		next = owned = MlmNearestActiveAncestor(parent, order, net->n, d->active);
	for (x = 0; x < net->n; x++)
	{
		int32		a;
		int			k;

		if (base[x] == 0)
			continue;
		a = next[x];
		for (k = 0; k < b->nrates && a >= 0; k++, a = next[a])
		{
			if (d->active[a] && d->rank[a] >= b->min_rank[k] && b->rates[k] != 0)
				MlmSinkLine(sink, a, x, k + 1, base[x], MLM_VOL_SCALE,
							b->rates[k], MLM_RATE_SCALE, MlmDecMul(base[x], b->rates[k]));
		}
		MlmWorkDone(&work, k + 1);
	}
	if (owned)
		pfree(owned);
}

/* Unilevel: CV paid up the sponsor or (loader-ordered) placement tree. */
void
MlmBonusUnilevel(const MlmBonusContext *cx, const MlmBonus *b, MlmLineSink *sink)
{
	const MlmNet *net = cx->net;

	if (b->placement)
	{
		if (net->v.pparent == NULL)
			return;				/* nobody is placed: no placement upline */
		Assert(net->porder != NULL);
		LevelWalk(b, net, cx->d, net->v.pparent, net->porder, net->cv, sink);
	}
	else
		LevelWalk(b, net, cx->d, net->v.parent, NULL, net->cv, sink);
}

/* Matching: the rounded earnings of the matched bonuses, paid upline. */
void
MlmBonusMatching(const MlmBonusContext *cx, const MlmBonus *b, MlmLineSink *sink)
{
	LevelWalk(b, cx->net, cx->d, cx->net->v.parent, NULL, cx->earnings, sink);
}

/* Fast start: CV of recent joiners paid up the sponsor tree, uncompressed. */
void
MlmBonusFastStart(const MlmBonusContext *cx, const MlmBonus *b, MlmLineSink *sink)
{
	const MlmNet *net = cx->net;
	const MlmDerived *d = cx->d;
	DateADT		period_end = cx->period_end;
	int32		x;
	int64		work = 0;

	for (x = 0; x < net->n; x++)
	{
		int32		joined = net->joined[x];
		int32		a;
		int			k;

		if (net->cv[x] == 0 || joined == MLM_NO_DATE || joined > period_end ||
			(int64) period_end - joined >= b->days)
			continue;
		a = net->v.parent[x];
		for (k = 0; k < b->nrates && a >= 0; k++, a = net->v.parent[a])
			if (d->active[a] && b->rates[k] != 0)
				MlmSinkLine(sink, a, x, k + 1, net->cv[x], MLM_VOL_SCALE,
							b->rates[k], MLM_RATE_SCALE, MlmDecMul(net->cv[x], b->rates[k]));
		MlmWorkDone(&work, k + 1);
	}
}
