/*
 * bonus_differential.c
 *	  Stairstep with breakaway (spec 5.3).
 *
 * A walk up from the source only stops at members that can change the
 * result: during the differential phase an active member whose rate beats
 * what was paid (or who holds the breakaway rank), during the generation
 * phase an active breakaway member.  Jump pointers for each distinct "paid"
 * level and for breakaway members make every walk cost at most the number
 * of distinct rates plus the generations, never the depth.
 */
#include "postgres.h"

#include "miscadmin.h"

#include "bonus.h"
#include "mlm.h"

/* qsort comparator of fixed-point values. */
static int
CompareDec(const void *a, const void *b)
{
	mlm_dec		x = *(const mlm_dec *) a;
	mlm_dec		y = *(const mlm_dec *) b;

	return x < y ? -1 : (x > y ? 1 : 0);
}

/* Stairstep: rate differences up the sponsor tree, then generations. */
void
MlmBonusDifferential(const MlmBonusContext *cx, const MlmBonus *b, MlmLineSink *sink)
{
	const MlmPlan *plan = cx->plan;
	const MlmNet *net = cx->net;
	const MlmDerived *d = cx->d;
	int32		n = net->n;
	const int32 *parent = net->v.parent;
	int			nr = plan->nranks;
	int			br = b->breakaway_rank;
	mlm_dec    *levels;			/* distinct paid levels: 0 and each rate */
	int			nlevels = 0;
	int		   *level_of_rank;
	int32	   *up0;
	int32	   *jump;
	int32	   *buf;
	int32	   *nb;
	int64		work = 0;
	mlm_dec		maxrate = 0;
	int			t,
				j;
	int32		i,
				x;

	/* the distinct values "paid" can take */
	levels = palloc(sizeof(mlm_dec) * (nr + 1));
	levels[nlevels++] = 0;
	for (j = 0; j < nr; j++)
		levels[nlevels++] = b->rate_by_rank[j];
	qsort(levels, nlevels, sizeof(mlm_dec), CompareDec);
	for (t = 1, j = 1; t < nlevels; t++)
		if (levels[t] != levels[j - 1])
			levels[j++] = levels[t];
	nlevels = j;
	maxrate = levels[nlevels - 1];
	level_of_rank = palloc(sizeof(int) * nr);
	for (j = 0; j < nr; j++)
		for (t = 0; t < nlevels; t++)
			if (levels[t] == b->rate_by_rank[j])
				level_of_rank[j] = t;

	/*
	 * Jump pointers.  up_t[i]: the nearest ancestor-or-self of i that is
	 * active and either has a rate above levels[t] or holds the breakaway
	 * rank.  A walk first stops at up_0[x]; every later stop pays (its rate
	 * is above what was paid) unless it is a breakaway member, which ends
	 * the phase, so after a stop a the next is up_t[parent[a]] for t = the
	 * level of a's own rate: jump[a], one array whatever the number of
	 * levels.  The levels' arrays are built one at a time in one buffer;
	 * the top level's (only breakaway members stop there) is nb, which the
	 * generation phase walks.  Memory: three int32 a member.
	 */
	up0 = MlmAllocArray(Max(n, 1), sizeof(int32));
	jump = MlmAllocArray(Max(n, 1), sizeof(int32));
	buf = nlevels > 1 ? MlmAllocArray(Max(n, 1), sizeof(int32)) : up0;
	for (t = 0; t < nlevels; t++)
	{
		int32	   *u = t == 0 ? up0 : buf;

		for (i = 0; i < n; i++)
		{
			bool		stop = d->active[i] &&
				(b->rate_by_rank[d->rank[i]] > levels[t] ||
				 (br >= 0 && d->rank[i] >= br));

			u[i] = stop ? i : (parent[i] >= 0 ? u[parent[i]] : -1);
		}
		for (i = 0; i < n; i++)
			if (level_of_rank[d->rank[i]] == t)
				jump[i] = parent[i] >= 0 ? u[parent[i]] : -1;
		CHECK_FOR_INTERRUPTS();
	}
	nb = br >= 0 ? buf : NULL;	/* the top level's, the last one built */

	for (x = 0; x < n; x++)
	{
		mlm_dec		cv = net->cv[x];
		mlm_dec		paid = 0;
		int			gen = 0;
		int32		a;
		int64		steps = 1;

		if (cv == 0)
			continue;
		/* differential phase (gen = 0) */
		for (a = up0[x]; a >= 0; a = jump[a])
		{
			mlm_dec		r = b->rate_by_rank[d->rank[a]];

			steps++;
			if (r > paid)
			{
				MlmSinkLine(sink, a, x, net->depth[x] - net->depth[a], cv,
							MLM_VOL_SCALE, r - paid, MLM_RATE_SCALE,
							MlmDecMul(cv, r - paid));
				paid = r;
			}
			if (br >= 0 && d->rank[a] >= br)
			{
				gen = 1;
				break;
			}
			if (br < 0 && paid == maxrate)
				break;
		}
		/* generation phase: a is the breakaway member that set gen = 1 */
		if (gen == 1)
		{
			a = parent[a] >= 0 ? nb[parent[a]] : -1;
			while (a >= 0 && gen <= b->nrates)
			{
				if (d->rank[a] >= b->min_rank[gen - 1] && b->rates[gen - 1] != 0)
					MlmSinkLine(sink, a, x, gen, cv, MLM_VOL_SCALE,
								b->rates[gen - 1], MLM_RATE_SCALE,
								MlmDecMul(cv, b->rates[gen - 1]));
				gen++;
				steps++;
				a = parent[a] >= 0 ? nb[parent[a]] : -1;
			}
		}
		MlmWorkDone(&work, steps);
	}

	pfree(up0);
	pfree(jump);
	if (buf != up0)
		pfree(buf);
	pfree(levels);
	pfree(level_of_rank);
}
