/*
 * sink.h
 *	  Where a bonus puts what it pays: an exact sum per (member, bonus) and,
 *	  when the caller asked for audit lines, one line per payment handed to
 *	  the caller's function.  Bonus modules see only this, never the result
 *	  rows, so they sit below the engine that owns the rows.
 */
#ifndef MLM_SINK_H
#define MLM_SINK_H

#include "postgres.h"

#include "decimal.h"

/*
 * A line's base or rate: an exact fixed-point value v at scale, shown with
 * trailing zeros trimmed down to minscale decimals; or, when num is not 0,
 * that numeric datum (a pool's share of the weights, an exact quotient).
 * The consumer decides whether it needs a numeric (MlmLineFigureNumeric):
 * the close packs the fixed-point values as they are.
 */
typedef struct MlmLineFigure
{
	mlm_dec		v;
	int			scale;
	int			minscale;
	Datum		num;
} MlmLineFigure;

/*
 * Receives one audit line: recipient and source as member indexes (source
 * -1 = none), level (-1 = none), base and rate, amount at MLM_AMT_SCALE.
 */
typedef void (*MlmLineFn) (void *arg, const char *bonus_name, int32 recipient,
						   int32 source, int32 level, const MlmLineFigure *base,
						   const MlmLineFigure *rate, mlm_dec amount);

/* The numeric datum of a figure (built in the current memory context). */
extern Datum MlmLineFigureNumeric(const MlmLineFigure *f);

typedef struct MlmLineSink
{
	const char *bonus_name;
	mlm_dec    *sum;			/* exact sum per recipient, AMT scale */
	bool	   *touched;		/* recipient has at least one line */
	int32		n;				/* members: length of sum and touched */
	MlmLineFn	line_fn;		/* NULL: no audit lines wanted */
	void	   *line_arg;
	MemoryContext line_cxt;		/* what one line allocates, reset after it */
} MlmLineSink;

/* A sink for n members; line_fn NULL when no lines are wanted. */
extern void MlmSinkInit(MlmLineSink *sink, int32 n, MlmLineFn line_fn, void *line_arg);

/* Free the sums and the line context. */
extern void MlmSinkFree(MlmLineSink *sink);

/* Empty the sums for the next bonus. */
extern void MlmSinkReset(MlmLineSink *sink, const char *bonus_name);

/* Does the caller want audit lines (worth building the datums)? */
static inline bool
MlmSinkWantsLines(const MlmLineSink *sink)
{
	return sink->line_fn != NULL;
}

/* Record a line: recipient, source (-1 = null), level (-1 = null). */
extern void MlmSinkLine(MlmLineSink *sink, int32 recipient, int32 source,
						int32 level, mlm_dec base, int base_scale,
						mlm_dec rate, int rate_scale, mlm_dec amount);

/*
 * The same with base and rate already as numeric datums (0 = no lines).
 * Datums a bonus builds for one line only belong in sink->line_cxt, which
 * is reset after the line: memory stays bounded per line, not per result.
 */
extern void MlmSinkLineDatum(MlmLineSink *sink, int32 recipient, int32 source,
							 int32 level, Datum base, Datum rate, mlm_dec amount);

#endif
