/*
 * bonus_advancement.c
 *	  Rank advancement bonus (spec 11.1): a one-time amount for each rank a
 *	  member's title rises through this period.  The title never falls, so
 *	  each rank pays a member at most once over the periods chained through
 *	  their states.
 */
#include "postgres.h"

#include "miscadmin.h"

#include "bonus.h"

/* One line per rank between last period's title (exclusive) and this one's. */
void
MlmBonusRankAdvancement(const MlmBonusContext *cx, const MlmBonus *b, MlmLineSink *sink)
{
	const MlmNet *net = cx->net;
	const MlmDerived *d = cx->d;
	int32		i;

	for (i = 0; i < net->n; i++)
	{
		int			from = net->title_in ? net->title_in[i] : 0;
		int			j;

		if (!d->active[i] || d->title[i] <= from)
			continue;
		for (j = from + 1; j <= d->title[i]; j++)
			if (b->advancement[j] != 0)
				MlmSinkLine(sink, i, i, -1, b->advancement[j], MLM_VOL_SCALE,
							MlmPow10[MLM_RATE_SCALE], MLM_RATE_SCALE,
							MlmDecMul(b->advancement[j], MlmPow10[MLM_RATE_SCALE]));
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
}
