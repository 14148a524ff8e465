/*
 * sink.c
 *	  The line sink of the bonus modules (see sink.h): sums exactly, and
 *	  passes each line to the caller's function only when lines are wanted,
 *	  so a run without audit lines builds no numeric datums.
 */
#include "postgres.h"

#include "utils/memutils.h"

#include "mlm.h"
#include "sink.h"

/* Allocate the per-member sums. */
void
MlmSinkInit(MlmLineSink *sink, int32 n, MlmLineFn line_fn, void *line_arg)
{
	memset(sink, 0, sizeof(MlmLineSink));
	sink->n = n;
	sink->sum = MlmAllocArray(Max(n, 1), sizeof(mlm_dec));
	sink->touched = MlmAllocArray(Max(n, 1), sizeof(bool));
	sink->line_fn = line_fn;
	sink->line_arg = line_arg;
	if (line_fn)
		sink->line_cxt = AllocSetContextCreate(CurrentMemoryContext, "mlm audit line",
											   ALLOCSET_SMALL_SIZES);
}

/* Free what MlmSinkInit allocated. */
void
MlmSinkFree(MlmLineSink *sink)
{
	pfree(sink->sum);
	pfree(sink->touched);
	if (sink->line_cxt)
		MemoryContextDelete(sink->line_cxt);
	sink->sum = NULL;
	sink->touched = NULL;
	sink->line_cxt = NULL;
}

/* Zero the sums: each bonus is rounded on its own. */
void
MlmSinkReset(MlmLineSink *sink, const char *bonus_name)
{
	memset(sink->sum, 0, sizeof(mlm_dec) * Max(sink->n, 1));
	memset(sink->touched, 0, sizeof(bool) * Max(sink->n, 1));
	sink->bonus_name = bonus_name;
}

/* The numeric of a figure: the datum given, or the fixed point trimmed. */
Datum
MlmLineFigureNumeric(const MlmLineFigure *f)
{
	if (f->num != (Datum) 0)
		return f->num;
	return MlmDecToNumeric(f->v, f->scale, f->minscale);
}

/* Add a non-zero amount to its recipient and pass the line on. */
static void
SinkAdd(MlmLineSink *sink, int32 recipient, int32 source, int32 level,
		const MlmLineFigure *base, const MlmLineFigure *rate, mlm_dec amount)
{
	sink->sum[recipient] = MlmDecAdd(sink->sum[recipient], amount);
	sink->touched[recipient] = true;
	if (sink->line_fn)
	{
		MemoryContext old = MemoryContextSwitchTo(sink->line_cxt);

		sink->line_fn(sink->line_arg, sink->bonus_name, recipient, source, level,
					  base, rate, amount);
		MemoryContextSwitchTo(old);
		MemoryContextReset(sink->line_cxt);
	}
}

/* A line whose base and rate are numeric datums. */
void
MlmSinkLineDatum(MlmLineSink *sink, int32 recipient, int32 source, int32 level,
				 Datum base, Datum rate, mlm_dec amount)
{
	MlmLineFigure b = {0, 0, 0, base};
	MlmLineFigure r = {0, 0, 0, rate};

	if (amount == 0)
		return;
	SinkAdd(sink, recipient, source, level, &b, &r, amount);
}

/* A line of fixed-point figures: nothing is built unless a consumer wants it. */
void
MlmSinkLine(MlmLineSink *sink, int32 recipient, int32 source, int32 level,
			mlm_dec base, int base_scale, mlm_dec rate, int rate_scale,
			mlm_dec amount)
{
	MlmLineFigure b = {base, base_scale, Min(base_scale, 2), (Datum) 0};
	MlmLineFigure r = {rate, rate_scale, 0, (Datum) 0};

	if (amount == 0)
		return;
	SinkAdd(sink, recipient, source, level, &b, &r, amount);
}
