/*
 * bonus_binary.c
 *	  Binary bonus on the placement tree (spec 5.4, 10): leg volumes with
 *	  carry-in, qualification by a personally sponsored active member in
 *	  each leg, pay-leg or cycle pairing (plan-wide or by paid-as rank),
 *	  cap, flush and max_carry, and the carry-out that becomes the next
 *	  period's carry-in.
 *
 * Leg volumes come from one bottom-up pass over the placement tree;
 * "is s in the left leg of its sponsor" is an interval test on placement
 * preorder numbers, so qualification is linear too.
 */
#include "postgres.h"

#include "miscadmin.h"

#include "bonus.h"
#include "forest.h"
#include "mlm.h"

/*
 * Binary: pay the paired leg volume (or cycles) of every qualified member
 * and write its carry-out.
 */
void
MlmBonusBinary(const MlmBonusContext *cx, const MlmBonus *b, MlmLineSink *sink)
{
	const MlmNet *net = cx->net;
	const MlmDerived *d = cx->d;
	mlm_dec    *carry_out_left = cx->carry_out_left;
	mlm_dec    *carry_out_right = cx->carry_out_right;
	int32		n = net->n;
	const int32 *pp = net->v.pparent;
	int32	   *child;			/* child[2 * u + side], -1 = empty */
	mlm_dec    *sub;			/* CV of the placement subtree */
	int32	   *psize;
	int32	   *ppre;
	bool	   *has[2];
	int32		i;
	mlm_dec		cap = b->has_cap ? MlmDecRescale(b->cap, MLM_VOL_SCALE, MLM_AMT_SCALE, MLM_ROUND_TRUNC) : 0;

	child = MlmAllocArray(Max(n, 1), 2 * sizeof(int32));
	sub = MlmAllocArray(Max(n, 1), sizeof(mlm_dec));
	psize = MlmAllocArray(Max(n, 1), sizeof(int32));
	ppre = MlmAllocArray(Max(n, 1), sizeof(int32));
	has[0] = MlmAllocArrayZero(Max(n, 1), sizeof(bool));
	has[1] = MlmAllocArrayZero(Max(n, 1), sizeof(bool));
	for (i = 0; i < n; i++)
	{
		child[2 * i] = child[2 * i + 1] = -1;
		sub[i] = net->cv[i];
	}
	if (pp)
	{
		for (i = 0; i < n; i++)
			if (pp[i] >= 0 && net->v.ppos[i] < 2)
				child[2 * pp[i] + net->v.ppos[i]] = i;	/* the loader checked width 2 */
		/* bottom-up: subtree CV and sizes; top-down: preorder numbers */
		MlmForestSumUp(pp, net->porder, n, sub);
		MlmForestShape(pp, child, 2, net->porder, n, psize, ppre);
	}
	else
	{
		/* nobody is placed: every member is a leg of its own */
		for (i = 0; i < n; i++)
		{
			psize[i] = 1;
			ppre[i] = i;
		}
	}
	CHECK_FOR_INTERRUPTS();

	/* which legs hold an active member the owner sponsored */
	for (i = 0; i < n; i++)
	{
		int32		sp = net->v.parent[i];
		int			side;

		if (sp < 0 || !d->active[i])
			continue;
		for (side = 0; side < 2; side++)
		{
			int32		c = child[2 * sp + side];

			if (c >= 0 && ppre[i] >= ppre[c] && ppre[i] < ppre[c] + psize[c])
				has[side][sp] = true;
		}
	}

	for (i = 0; i < n; i++)
	{
		mlm_dec		leg[2];
		mlm_dec		out[2];
		mlm_dec		rate = b->rate;
		mlm_dec		amount_per_cycle = b->cycle_amount;
		bool		qualified;
		int			side;

		for (side = 0; side < 2; side++)
		{
			mlm_dec		in = side == 0 ? (net->carry_left ? net->carry_left[i] : 0)
				: (net->carry_right ? net->carry_right[i] : 0);

			leg[side] = MlmDecAdd(in, child[2 * i + side] >= 0 ? sub[child[2 * i + side]] : 0);
		}
		qualified = d->active[i] &&
			(!b->require_sponsored_each_leg || (has[0][i] && has[1][i]));
		/* by rank, a value of 0 at the member's rank means not qualified */
		if (b->rate_by_rank)
		{
			rate = b->rate_by_rank[cx->paid_as_rank[i]];
			qualified = qualified && rate != 0;
		}
		else if (b->amount_by_rank)
		{
			amount_per_cycle = b->amount_by_rank[cx->paid_as_rank[i]];
			qualified = qualified && amount_per_cycle != 0;
		}
		if (qualified && !b->cycle)
		{
			mlm_dec		paired = Max((mlm_dec) 0, Min(leg[0], leg[1]));
			mlm_dec		amount = MlmDecMul(paired, rate);

			if (b->has_cap && amount > cap)
				amount = cap;
			if (amount != 0)
				MlmSinkLine(sink, i, -1, -1, paired, MLM_VOL_SCALE, rate,
							MLM_RATE_SCALE, amount);
			out[0] = leg[0] - paired;
			out[1] = leg[1] - paired;
		}
		else if (qualified)
		{
			mlm_dec		c = Min(MlmDecFloorDiv(leg[0], b->cycle_left),
								MlmDecFloorDiv(leg[1], b->cycle_right));
			mlm_dec		amount;

			c = Max(c, (mlm_dec) 0);
			/* c cycles times the amount (VOL scale) -> AMT scale */
			amount = MlmDecMul(MlmDecMul(c, amount_per_cycle), MlmPow10[MLM_RATE_SCALE]);
			if (b->has_cap && amount > cap)
				amount = cap;
			if (amount != 0)
				MlmSinkLine(sink, i, -1, -1, c, 0, amount_per_cycle, MLM_VOL_SCALE, amount);
			out[0] = leg[0] - MlmDecMul(c, b->cycle_left);
			out[1] = leg[1] - MlmDecMul(c, b->cycle_right);
		}
		else if (b->flush_when_unqualified)
			out[0] = out[1] = 0;
		else
		{
			out[0] = leg[0];
			out[1] = leg[1];
		}
		if (b->has_max_carry)
		{
			out[0] = Min(out[0], b->max_carry);
			out[1] = Min(out[1], b->max_carry);
		}
		carry_out_left[i] = out[0];
		carry_out_right[i] = out[1];
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	pfree(child);
	pfree(sub);
	pfree(psize);
	pfree(ppre);
	pfree(has[0]);
	pfree(has[1]);
}
