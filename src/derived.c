/*
 * derived.c
 *	  Quantities derived from the network and the plan's rules in a few
 *	  linear passes over the preorder arrays: activity, group volume,
 *	  active frontline counts and ranks (spec sections 3 and 4).
 */
#include "postgres.h"

#include "miscadmin.h"

#include "derived.h"
#include "forest.h"
#include "mlm.h"

/* Does member i meet every requirement of rank rk?  Its legs are final. */
static bool
MeetsRank(const MlmRank *rk, const MlmNet *net, const MlmDerived *d,
		  const int *maxsub, int32 i)
{
	const int32 *size = net->v.size;
	int32		c;

	if (rk->has_min_pv && net->pv[i] < rk->min_pv)
		return false;
	if (rk->has_min_active_frontline && d->active_frontline[i] < rk->min_active_frontline)
		return false;
	if (rk->has_min_gv)
	{
		if (!rk->has_max_leg_pct)
		{
			if (d->gv[i] < rk->min_gv)
				return false;
		}
		else
		{
			/* QGV at AMT scale: PV + sum of min(leg, pct * min_gv) */
			mlm_dec		cap = MlmDecMul(rk->max_leg_pct, rk->min_gv);
			mlm_dec		q = MlmDecMul(net->pv[i], MlmPow10[MLM_RATE_SCALE]);

			for (c = i + 1; c < i + size[i]; c += size[c])
			{
				mlm_dec		leg = MlmDecMul(d->gv[c], MlmPow10[MLM_RATE_SCALE]);

				q = MlmDecAdd(q, Min(leg, cap));
			}
			if (q < MlmDecMul(rk->min_gv, MlmPow10[MLM_RATE_SCALE]))
				return false;
		}
	}
	if (rk->has_legs_with_rank)
	{
		int32		legs = 0;

		for (c = i + 1; c < i + size[i] && legs < rk->legs_count; c += size[c])
			if (maxsub[c] >= rk->legs_rank)
				legs++;
		if (legs < rk->legs_count)
			return false;
	}
	return true;
}

/*
 * active and GV of every member, then active frontline and rank bottom-up
 * in one backward pass (children have larger preorder indexes than
 * parents, so a member's legs are final when it is ranked).
 */
void
MlmComputeDerived(const MlmNet *net, const mlm_dec *active_min_pv,
				  const MlmRank *ranks, int nranks, MlmDerived *d)
{
	int32		n = net->n;
	int32		i;
	int		   *maxsub;			/* highest rank in the subtree */

	d->active = MlmAllocArray(Max(n, 1), sizeof(bool));
	d->rank = MlmAllocArrayZero(Max(n, 1), sizeof(int));
	d->gv = MlmAllocArray(Max(n, 1), sizeof(mlm_dec));
	d->active_frontline = MlmAllocArrayZero(Max(n, 1), sizeof(int32));
	maxsub = MlmAllocArrayZero(Max(n, 1), sizeof(int));

	for (i = 0; i < n; i++)
	{
		d->active[i] = net->status[i] &&
			(active_min_pv == NULL || net->pv[i] >= *active_min_pv);
		d->gv[i] = net->pv[i];
	}
	MlmForestSumUp(net->v.parent, NULL, n, d->gv);
	for (i = n - 1; i >= 0; i--)
	{
		int32		p = net->v.parent[i];

		/* everything below i is final here */
		if (d->active[i] && nranks > 1)
		{
			int			j;

			for (j = nranks - 1; j >= 1; j--)
				if (MeetsRank(&ranks[j], net, d, maxsub, i))
					break;
			d->rank[i] = j;
		}
		maxsub[i] = Max(maxsub[i], d->rank[i]);
		if (p >= 0)
		{
			if (d->active[i])
				d->active_frontline[p]++;
			maxsub[p] = Max(maxsub[p], maxsub[i]);
		}
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	pfree(maxsub);
}
