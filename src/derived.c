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
	if (rk->has_min_customers &&
		(net->ncustomers ? net->ncustomers[i] : 0) < rk->min_customers)
		return false;
	if (rk->has_min_customer_pv || rk->has_min_customer_share)
	{
		/* customer volume: the customers' PV and the member's own RV */
		mlm_dec		cvol = net->rv ? net->rv[i] : 0;

		if (net->own_pv)
			cvol = MlmDecAdd(cvol, net->pv[i] - net->own_pv[i]);
		if (rk->has_min_customer_pv && cvol < rk->min_customer_pv)
			return false;
		/* (CPV + RV) / PV' >= s, compared exactly: no division */
		if (rk->has_min_customer_share &&
			(net->pv[i] <= 0 ||
			 MlmDecMul(cvol, MlmPow10[MLM_RATE_SCALE]) <
			 MlmDecMul(rk->min_customer_share, net->pv[i])))
			return false;
	}
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
				mlm_dec		leg;

				if (net->customer && net->customer[c])
					continue;	/* a customer is no leg (spec 12) */
				leg = MlmDecMul(d->gv[c], MlmPow10[MLM_RATE_SCALE]);

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
			if (maxsub[c] >= rk->legs_rank && !(net->customer && net->customer[c]))
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
		/* a customer is never active (spec 12) */
		d->active[i] = net->status[i] &&
			(active_min_pv == NULL || net->pv[i] >= *active_min_pv) &&
			!(net->customer && net->customer[i]);
		d->gv[i] = net->pv[i];
	}
	MlmForestSumUp(net->v.parent, NULL, n, d->gv);
	if (net->customer)
	{
		/*
		 * A customer's folded PV is 0, so its GV is still 0 here: report the
		 * PV of its own subtree (customers only) instead, summed bottom-up
		 * among customers.
		 */
		for (i = n - 1; i >= 0; i--)
		{
			int32		p = net->v.parent[i];

			if (!net->customer[i])
				continue;
			d->gv[i] = MlmDecAdd(d->gv[i], net->own_pv[i]);
			if (p >= 0 && net->customer[p])
				d->gv[p] = MlmDecAdd(d->gv[p], d->gv[i]);
		}
	}
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
	/* only the rank conditions read it: 4 bytes a member less from here on */
	pfree(d->active_frontline);
	d->active_frontline = NULL;
}

/*
 * Spec 11: with the previous state's paid-as rank p, grace g and title t,
 * paid_as = qualified when it reaches p, else p held while active and
 * g < G, else qualified; title = max(t, qualified).  Customers have no
 * rank: their title is kept as the state had it.
 */
void
MlmComputeRanksAcross(const MlmNet *net, const MlmPlan *plan, MlmDerived *d)
{
	int32		n = net->n;
	int32		i;

	/*
	 * Without a title in the state the title is the qualified rank, and
	 * without grace to give nobody's grace count is above 0 (NULL): the
	 * arrays are shared or absent, not filled.
	 */
	d->title = net->title_in ? MlmAllocArray(Max(n, 1), sizeof(int)) : d->rank;
	d->grace = NULL;
	d->paid_as = d->rank;
	if (plan->grace_periods > 0 && net->paid_as_in)
	{
		d->paid_as = MlmAllocArray(Max(n, 1), sizeof(int));
		d->grace = MlmAllocArrayZero(Max(n, 1), sizeof(int32));
	}
	for (i = 0; i < n; i++)
	{
		int			q = d->rank[i];
		int			t = net->title_in ? net->title_in[i] : 0;

		/* a state rank beyond this plan's ranks was refused by the loader */
		if (d->title != d->rank)
			d->title[i] = Max(t, q);
		if (d->paid_as != d->rank)
		{
			int			p = net->paid_as_in[i];
			int32		g = net->grace_in[i];

			if (q >= p)
				d->paid_as[i] = q;
			else if (d->active[i] && g < plan->grace_periods)
			{
				d->paid_as[i] = p;
				d->grace[i] = g + 1;
			}
			else
				d->paid_as[i] = q;
		}
	}
}
