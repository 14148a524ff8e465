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

#include "engine.h"
#include "mlm.h"

/*
 * next[i] = nearest proper ancestor of i (in the tree given by parent[])
 * that is active, or -1.  order lists the members parents-first (NULL means
 * 0 .. n-1, the sponsor preorder).
 */
int32 *
MlmNearestActiveAncestor(const int32 *parent, const int32 *order, int32 norder,
						 int32 n, const bool *active)
{
	int32	   *next = MlmAllocArray(Max(n, 1), sizeof(int32));
	int32		k;

	for (k = 0; k < n; k++)
		next[k] = -1;
	for (k = 0; k < (order ? norder : n); k++)
	{
		int32		i = order ? order[k] : k;
		int32		p = parent[i];

		if (p >= 0)
			next[i] = active[p] ? p : next[p];
	}
	return next;
}

void
MlmBonusPersonal(const MlmPlan *plan, const MlmBonus *b, const MlmNet *net,
				 const MlmDerived *d, MlmLineSink *sink)
{
	int32		i;

	for (i = 0; i < net->n; i++)
	{
		mlm_dec		rate;

		if (!d->active[i] || net->cv[i] == 0)
			continue;
		rate = b->rate_by_rank[d->rank[i]];
		if (rate == 0)
			continue;
		MlmEmitLine(sink, i, i, 0, net->cv[i], MLM_VOL_SCALE, rate, MLM_RATE_SCALE,
					MlmDecMul(net->cv[i], rate));
	}
}

/*
 * Pay base[x] * rates[k] to the k-th (active) ancestor of every member x
 * with a non-zero base; shared by unilevel and matching.
 */
static void
LevelWalk(const MlmBonus *b, const MlmNet *net, const MlmDerived *d,
		  const int32 *parent, const int32 *order, int32 norder,
		  const mlm_dec *base, MlmLineSink *sink)
{
	const int32 *next = parent;
	int32	   *owned = NULL;
	int32		x;

	if (b->dynamic)
		next = owned = MlmNearestActiveAncestor(parent, order, norder, net->n, d->active);
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
				MlmEmitLine(sink, a, x, k + 1, base[x], MLM_VOL_SCALE,
							b->rates[k], MLM_RATE_SCALE, MlmDecMul(base[x], b->rates[k]));
		}
		if ((x & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	if (owned)
		pfree(owned);
}

void
MlmBonusUnilevel(const MlmPlan *plan, const MlmBonus *b, MlmNet *net,
				 const MlmDerived *d, MlmLineSink *sink)
{
	if (b->placement)
	{
		if (net->v.pparent == NULL)
			return;				/* nobody is placed: no placement upline */
		MlmNetPlacementOrder(net);
		LevelWalk(b, net, d, net->v.pparent, net->porder, net->porder_len,
				  net->cv, sink);
	}
	else
		LevelWalk(b, net, d, net->v.parent, NULL, 0, net->cv, sink);
}

void
MlmBonusMatching(const MlmPlan *plan, const MlmBonus *b, const MlmNet *net,
				 const MlmDerived *d, const mlm_dec *earnings, MlmLineSink *sink)
{
	LevelWalk(b, net, d, net->v.parent, NULL, 0, earnings, sink);
}

void
MlmBonusFastStart(const MlmPlan *plan, const MlmBonus *b, const MlmNet *net,
				  const MlmDerived *d, DateADT period_end, MlmLineSink *sink)
{
	int32		x;

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
				MlmEmitLine(sink, a, x, k + 1, net->cv[x], MLM_VOL_SCALE,
							b->rates[k], MLM_RATE_SCALE, MlmDecMul(net->cv[x], b->rates[k]));
	}
}
