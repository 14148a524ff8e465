/*
 * bonus_binary.c
 *	  Binary bonus on the placement tree (spec 5.4, 10): leg volumes with
 *	  carry-in, qualification by a personally sponsored active member in
 *	  each leg, pay-leg or cycle pairing, cap, flush and max_carry, and the
 *	  carry-out that becomes the next period's carry-in.
 *
 * Leg volumes come from one bottom-up pass over the placement tree;
 * "is s in the left leg of its sponsor" is an interval test on placement
 * preorder numbers, so qualification is linear too.
 */
#include "postgres.h"

#include "miscadmin.h"

#include "engine.h"
#include "mlm.h"

void
MlmBonusBinary(const MlmPlan *plan, const MlmBonus *b, MlmNet *net,
			   const MlmDerived *d, mlm_dec *carry_out_left,
			   mlm_dec *carry_out_right, MlmLineSink *sink)
{
	int32		n = net->n;
	const int32 *pp = net->v.pparent;
	int32	   *child[2];
	mlm_dec    *sub;			/* CV of the placement subtree */
	int32	   *psize;
	int32	   *ppre;
	bool	   *has[2];
	int32		k,
				i;
	int32		next_root = 0;
	mlm_dec		cap = b->has_cap ? MlmDecRescale(b->cap, MLM_VOL_SCALE, MLM_AMT_SCALE, MLM_ROUND_TRUNC) : 0;

	MlmNetPlacementOrder(net);
	child[0] = MlmAllocArray(Max(n, 1), sizeof(int32));
	child[1] = MlmAllocArray(Max(n, 1), sizeof(int32));
	sub = MlmAllocArray(Max(n, 1), sizeof(mlm_dec));
	psize = MlmAllocArray(Max(n, 1), sizeof(int32));
	ppre = MlmAllocArray(Max(n, 1), sizeof(int32));
	has[0] = MlmAllocArrayZero(Max(n, 1), sizeof(bool));
	has[1] = MlmAllocArrayZero(Max(n, 1), sizeof(bool));
	for (i = 0; i < n; i++)
	{
		child[0][i] = child[1][i] = -1;
		sub[i] = net->cv[i];
		psize[i] = 1;
	}
	for (i = 0; i < n; i++)
		if (pp && pp[i] >= 0 && net->v.ppos[i] < 2)
			child[net->v.ppos[i]][pp[i]] = i;	/* the loader checked width 2 */

	/* bottom-up: subtree CV and sizes; top-down: preorder numbers */
	for (k = n - 1; k >= 0; k--)
	{
		int32		u = net->porder ? net->porder[k] : k;

		if (pp && pp[u] >= 0)
		{
			sub[pp[u]] = MlmDecAdd(sub[pp[u]], sub[u]);
			psize[pp[u]] += psize[u];
		}
	}
	for (k = 0; k < n; k++)
	{
		int32		u = net->porder ? net->porder[k] : k;
		int32		pos;

		if (!pp || pp[u] < 0)
		{
			ppre[u] = next_root;
			next_root += psize[u];
		}
		pos = ppre[u] + 1;
		if (child[0][u] >= 0)
		{
			ppre[child[0][u]] = pos;
			pos += psize[child[0][u]];
		}
		if (child[1][u] >= 0)
			ppre[child[1][u]] = pos;
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
			int32		c = child[side][sp];

			if (c >= 0 && ppre[i] >= ppre[c] && ppre[i] < ppre[c] + psize[c])
				has[side][sp] = true;
		}
	}

	for (i = 0; i < n; i++)
	{
		mlm_dec		leg[2];
		mlm_dec		out[2];
		bool		qualified;
		int			side;

		for (side = 0; side < 2; side++)
		{
			mlm_dec		in = side == 0 ? (net->carry_left ? net->carry_left[i] : 0)
				: (net->carry_right ? net->carry_right[i] : 0);

			leg[side] = MlmDecAdd(in, child[side][i] >= 0 ? sub[child[side][i]] : 0);
		}
		qualified = d->active[i] &&
			(!b->require_sponsored_each_leg || (has[0][i] && has[1][i]));
		if (qualified && !b->cycle)
		{
			mlm_dec		paired = Max((mlm_dec) 0, Min(leg[0], leg[1]));
			mlm_dec		amount = MlmDecMul(paired, b->rate);

			if (b->has_cap && amount > cap)
				amount = cap;
			if (amount != 0)
				MlmEmitLine(sink, i, -1, -1, paired, MLM_VOL_SCALE, b->rate,
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
			amount = MlmDecMul(MlmDecMul(c, b->cycle_amount), MlmPow10[MLM_RATE_SCALE]);
			if (b->has_cap && amount > cap)
				amount = cap;
			if (amount != 0)
				MlmEmitLine(sink, i, -1, -1, c, 0, b->cycle_amount, MLM_VOL_SCALE, amount);
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
	pfree(child[0]);
	pfree(child[1]);
	pfree(sub);
	pfree(psize);
	pfree(ppre);
	pfree(has[0]);
	pfree(has[1]);
}
