/*
 * tree_agg.c
 *	  The mlm.tree_agg aggregates: collect (id, sponsor[, placement,
 *	  position]) rows into an internal state, with combine, serialize and
 *	  deserialize functions so that parallel workers can each collect a
 *	  part, then build the snapshot once in the final function.
 */
#include "postgres.h"

#include "common/int.h"
#include "fmgr.h"
#include "libpq/pqformat.h"
#include "nodes/execnodes.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "mlm.h"
#include "tree.h"

PG_FUNCTION_INFO_V1(mlm_tree_agg_trans);
PG_FUNCTION_INFO_V1(mlm_tree_agg_trans4);
PG_FUNCTION_INFO_V1(mlm_tree_agg_combine);
PG_FUNCTION_INFO_V1(mlm_tree_agg_serial);
PG_FUNCTION_INFO_V1(mlm_tree_agg_deserial);
PG_FUNCTION_INFO_V1(mlm_tree_agg_final);

/* Largest first allocation taken from the planner's row estimate. */
#define PRESIZE_MAX		((int64) 4 * 1024 * 1024)

/*
 * A run of rows r = start_row, start_row + 1, ... whose ids are first_id,
 * first_id + 1, ...
 */
typedef struct IdRun
{
	int64		start_row;
	int64		first_id;
} IdRun;

/*
 * The rows collected so far.  Ids come in runs of consecutive values (a
 * serial key scanned in order is a single run; a parallel worker sees one
 * run per block range), so they are kept as a list of runs, not stored row
 * by row, until runs get short: then ids holds every row's id.
 */
typedef struct TreeAggState
{
	int64		n;
	int64		cap;
	bool		placement;
	int64	   *ids;			/* NULL: ids are given by runs */
	IdRun	   *runs;
	int32		nruns;
	int32		runs_cap;
	uint64		next_id;		/* the id that continues the last run */
	int64	   *parents;			/* NULL while delta holds the sponsors */
	int32	   *delta;			/* recruit id - sponsor id (a compact state
								 * from a worker, read in place) */
	bool	   *parent_null;
	int64	   *pparents;		/* only when placement */
	bool	   *pparent_null;
	int32	   *pos;
	bool	   *pos_null;
	bool		descending_seen;	/* some id was not above the previous */
	MemoryContext cxt;			/* where the arrays live */
	bool		adoptable;		/* made by deserialize: combine may keep it */
	/* partial states kept by reference: their rows follow this state's */
	struct TreeAggState **parts;
	int32		nparts;
	int32		parts_cap;
} TreeAggState;

/* Resize one array of the state to cap entries (allocate when NULL). */
static void *
Resize(void *arr, int64 cap, Size size)
{
	return arr ? MlmReallocArray(arr, cap, size) : MlmAllocArray(cap, size);
}

/*
 * Make room for need rows.  The first allocation takes the planner's row
 * estimate when there is one (bounded), so that a large input is not copied
 * through a series of doublings.
 */
static void
Grow(TreeAggState *s, int64 need, int64 hint)
{
	int64		cap = s->cap;
	MemoryContext old;

	if (need <= cap)
		return;
	if (need > MLM_TREE_MAX_MEMBERS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("tree of more than %d members is too large",
						MLM_TREE_MAX_MEMBERS),
				 errdetail("A tree value must stay below the 1 GB limit.")));
	if (cap == 0)
		cap = Min(Max(hint, 1024), PRESIZE_MAX);
	while (cap < need)
		cap = Min(cap * 2, (int64) MLM_TREE_MAX_MEMBERS);
	old = MemoryContextSwitchTo(s->cxt);
	if (s->ids)
		s->ids = Resize(s->ids, cap, sizeof(int64));
	s->parents = Resize(s->parents, cap, sizeof(int64));
	s->parent_null = Resize(s->parent_null, cap, sizeof(bool));
	if (s->placement)
	{
		s->pparents = Resize(s->pparents, cap, sizeof(int64));
		s->pparent_null = Resize(s->pparent_null, cap, sizeof(bool));
		s->pos = Resize(s->pos, cap, sizeof(int32));
		s->pos_null = Resize(s->pos_null, cap, sizeof(bool));
	}
	MemoryContextSwitchTo(old);
	s->cap = cap;
}

/* The row after the last of run k of s. */
static inline int64
RunEnd(const TreeAggState *s, int32 k)
{
	return k + 1 < s->nruns ? s->runs[k + 1].start_row : s->n;
}

/* Write the ids of the n rows of s (runs or stored) to dst. */
static void
FillIds(const TreeAggState *s, int64 *dst)
{
	int32		k;
	int64		r;

	if (s->ids)
	{
		memcpy(dst, s->ids, s->n * sizeof(int64));
		return;
	}
	for (k = 0; k < s->nruns; k++)
	{
		int64		end = RunEnd(s, k);
		uint64		id = (uint64) s->runs[k].first_id;

		for (r = s->runs[k].start_row; r < end; r++)
			dst[r] = (int64) id++;
	}
}

/* Turn a compact state's distances into sponsor ids (for copying it). */
static void
ExpandParents(TreeAggState *s)
{
	int32		k;
	int64		r;
	int64	   *parents;

	if (s->delta == NULL)
		return;
	parents = MemoryContextAllocHuge(s->cxt, Max(s->cap, 1) * sizeof(int64));
	for (k = 0; k < s->nruns; k++)
	{
		int64		end = RunEnd(s, k);
		uint64		id = (uint64) s->runs[k].first_id;

		for (r = s->runs[k].start_row; r < end; r++, id++)
			parents[r] = (int64) (id - (uint64) (int64) s->delta[r]);
	}
	pfree(s->delta);
	s->delta = NULL;
	s->parents = parents;
}

/* Store the id of every row instead of runs. */
static void
MaterializeIds(TreeAggState *s)
{
	int64	   *ids;

	if (s->ids)
		return;
	ids = MemoryContextAllocHuge(s->cxt, Max(s->cap, 1) * sizeof(int64));
	FillIds(s, ids);
	s->ids = ids;
	if (s->runs)
		pfree(s->runs);
	s->runs = NULL;
	s->nruns = s->runs_cap = 0;
}

/*
 * Row start_row begins a new run of ids at id; when runs are many and short
 * the ids are stored row by row instead (returns false then).
 */
static bool
AddRun(TreeAggState *s, int64 start_row, int64 id)
{
	if (s->nruns >= 64 && s->nruns > start_row / 8)
	{
		MaterializeIds(s);
		return false;
	}
	if (s->nruns == s->runs_cap)
	{
		s->runs_cap = Max(s->runs_cap * 2, 8);
		s->runs = s->runs ?
			repalloc(s->runs, s->runs_cap * sizeof(IdRun)) :
			MemoryContextAlloc(s->cxt, s->runs_cap * sizeof(IdRun));
	}
	s->runs[s->nruns].start_row = start_row;
	s->runs[s->nruns].first_id = id;
	s->nruns++;
	return true;
}

/* A new empty state in cxt. */
static TreeAggState *
NewState(MemoryContext cxt, bool placement)
{
	TreeAggState *s = MemoryContextAllocZero(cxt, sizeof(TreeAggState));

	s->placement = placement;
	s->cxt = cxt;
	return s;
}

/*
 * The planner's estimate of the aggregate's input rows, 0 if unknown or if
 * the rows are split into groups (each group's state would take it all).
 */
static int64
InputRowsHint(FunctionCallInfo fcinfo)
{
	PlanState  *outer;

	if (fcinfo->context == NULL || !IsA(fcinfo->context, AggState) ||
		((AggState *) fcinfo->context)->aggstrategy != AGG_PLAIN)
		return 0;
	outer = outerPlanState((AggState *) fcinfo->context);
	if (outer == NULL || outer->plan == NULL || !(outer->plan->plan_rows > 0))
		return 0;
	if (outer->plan->plan_rows >= (double) PRESIZE_MAX)
		return PRESIZE_MAX;
	return (int64) (outer->plan->plan_rows * 1.05) + 16;
}

/* Transition for tree_agg(id, sponsor_id[, placement_id, position]). */
static Datum
Trans(FunctionCallInfo fcinfo, bool placement)
{
	MemoryContext aggcxt;
	TreeAggState *s;
	int64		i;
	int64		id;

	if (PG_ARGISNULL(0))
	{
		if (!AggCheckCallContext(fcinfo, &aggcxt))
			elog(ERROR, "mlm.tree_agg called in non-aggregate context");
		s = NewState(aggcxt, placement);
	}
	else
		s = (TreeAggState *) PG_GETARG_POINTER(0);
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("member id must not be null"),
				 errdetail("Row %lld of the tree input has a null id.",
						   (long long) s->n + 1)));
	if (unlikely(s->n == s->cap))
		Grow(s, s->n + 1, s->cap == 0 ? InputRowsHint(fcinfo) : 0);
	i = s->n++;
	id = PG_GETARG_INT64(1);
	if (i > 0 && id <= (s->ids ? s->ids[i - 1] : (int64) (s->next_id - 1)))
		s->descending_seen = true;
	if (s->ids)
		s->ids[i] = id;
	else if (i == 0 || (uint64) id != s->next_id)
	{
		if (!AddRun(s, i, id))
			s->ids[i] = id;
	}
	s->next_id = (uint64) id + 1;
	s->parent_null[i] = PG_ARGISNULL(2);
	if (!PG_ARGISNULL(2))
		s->parents[i] = PG_GETARG_INT64(2);
	if (placement)
	{
		s->pparent_null[i] = PG_ARGISNULL(3);
		if (!PG_ARGISNULL(3))
			s->pparents[i] = PG_GETARG_INT64(3);
		s->pos_null[i] = PG_ARGISNULL(4);
		if (!PG_ARGISNULL(4))
			s->pos[i] = PG_GETARG_INT32(4);
	}
	PG_RETURN_POINTER(s);
}

Datum
mlm_tree_agg_trans(PG_FUNCTION_ARGS)
{
	return Trans(fcinfo, false);
}

Datum
mlm_tree_agg_trans4(PG_FUNCTION_ARGS)
{
	return Trans(fcinfo, true);
}

/* Copy the rows of b (no parts) after those of a (both made non-compact). */
static void
AppendRows(TreeAggState *a, TreeAggState *b)
{
	int32		k;

	if (b->n == 0)
		return;
	ExpandParents(a);
	ExpandParents((TreeAggState *) b);
	Grow(a, a->n + b->n, 0);
	if (a->ids == NULL && b->ids == NULL)
	{
		/* still ascending only if b's rows follow a's */
		if (b->descending_seen ||
			(a->n > 0 && b->runs[0].first_id <= (int64) (a->next_id - 1)))
			a->descending_seen = true;
		for (k = 0; k < b->nruns; k++)
		{
			IdRun		run = b->runs[k];

			if (k == 0 && a->n > 0 && (uint64) run.first_id == a->next_id)
				continue;		/* b's first run continues a's last */
			if (!AddRun(a, a->n + run.start_row, run.first_id))
				break;
		}
		a->next_id = b->next_id;
	}
	if (a->ids || b->ids)
	{
		int64		last = a->n > 0 ? (a->ids ? a->ids[a->n - 1] : (int64) (a->next_id - 1)) : 0;

		MaterializeIds(a);
		FillIds(b, a->ids + a->n);
		if (b->descending_seen || (a->n > 0 && a->ids[a->n] <= last))
			a->descending_seen = true;
		a->next_id = (uint64) a->ids[a->n + b->n - 1] + 1;
	}
	memcpy(a->parents + a->n, b->parents, b->n * sizeof(int64));
	memcpy(a->parent_null + a->n, b->parent_null, b->n * sizeof(bool));
	if (a->placement)
	{
		memcpy(a->pparents + a->n, b->pparents, b->n * sizeof(int64));
		memcpy(a->pparent_null + a->n, b->pparent_null, b->n * sizeof(bool));
		memcpy(a->pos + a->n, b->pos, b->n * sizeof(int32));
		memcpy(a->pos_null + a->n, b->pos_null, b->n * sizeof(bool));
	}
	a->n += b->n;
}

/* Copy the rows of the parts into s itself. */
static void
Flatten(TreeAggState *s)
{
	int32		k;

	for (k = 0; k < s->nparts; k++)
		AppendRows(s, s->parts[k]);
	s->nparts = 0;
}

/*
 * Add the rows of b to a (parallel partial states).  A state made by our
 * deserialize function in this same aggregate context is kept by
 * reference instead of copied: the final function reads it in place.
 */
Datum
mlm_tree_agg_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	TreeAggState *a;
	TreeAggState *b;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "mlm.tree_agg combine called in non-aggregate context");
	if (PG_ARGISNULL(1))
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	b = (TreeAggState *) PG_GETARG_POINTER(1);
	a = PG_ARGISNULL(0) ? NewState(aggcxt, b->placement) :
		(TreeAggState *) PG_GETARG_POINTER(0);
	if (b->n == 0)
		PG_RETURN_POINTER(a);
	if (b->adoptable && b->cxt == aggcxt && b->nparts == 0 && a->cxt == aggcxt)
	{
		if (a->nparts == a->parts_cap)
		{
			a->parts_cap = Max(a->parts_cap * 2, 4);
			a->parts = a->parts ?
				repalloc(a->parts, a->parts_cap * sizeof(TreeAggState *)) :
				MemoryContextAlloc(aggcxt, a->parts_cap * sizeof(TreeAggState *));
		}
		b->adoptable = false;	/* it belongs to a now */
		a->parts[a->nparts++] = b;
		PG_RETURN_POINTER(a);
	}
	Flatten(a);
	AppendRows(a, b);
	PG_RETURN_POINTER(a);
}

/* flag bits of a serialized state */
#define SER_PLACEMENT	0x01
#define SER_DESCENDING	0x02
#define SER_RUNS		0x04
#define SER_COMPACT		0x08	/* sponsors as int32 id - sponsor, nulls listed */

/* Bytes per row of a serialized state. */
static Size
SerialRowBytes(bool placement, bool runs)
{
	return (runs ? 0 : sizeof(int64)) + sizeof(int64) + 1 +
		(placement ? sizeof(int64) + 1 + sizeof(int32) + 1 : 0);
}

/* Bytes of a serialized state's fixed part: flags, n, next id, run count. */
#define SER_FIXED	(1 + sizeof(int64) + sizeof(uint64) + sizeof(int32))

/*
 * Can the rows of s (ids by runs, no placement) be sent compact: every
 * sponsor within 2^31 of its recruit's id?  Counts the null sponsors.
 */
static bool
CompactFits(const TreeAggState *s, int32 *nnull)
{
	int32		k;
	int64		r;

	*nnull = 0;
	if (s->ids || s->placement)
		return false;
	for (k = 0; k < s->nruns; k++)
	{
		int64		end = RunEnd(s, k);
		uint64		id = (uint64) s->runs[k].first_id;

		for (r = s->runs[k].start_row; r < end; r++, id++)
		{
			int64		d;

			if (s->parent_null[r])
				(*nnull)++;
			else if (pg_sub_s64_overflow((int64) id, s->parents[r], &d) ||
					 d < PG_INT32_MIN || d > PG_INT32_MAX)
				return false;
		}
	}
	return true;
}

/*
 * State -> bytea: flag byte, row count, next id, run count, the runs, then
 * the arrays (ids only when they are not given by runs).  A serial key's
 * rows go compact: the null sponsors as a list of rows, the others as the
 * int32 distance id - sponsor (half the bytes for the workers to ship).
 */
Datum
mlm_tree_agg_serial(PG_FUNCTION_ARGS)
{
	TreeAggState *s = (TreeAggState *) PG_GETARG_POINTER(0);
	Size		len;
	bytea	   *out;
	char	   *p;
	int32		nnull;
	bool		compact;

	Flatten(s);
	ExpandParents(s);
	compact = CompactFits(s, &nnull);
	len = VARHDRSZ + SER_FIXED + s->nruns * sizeof(IdRun) +
		(compact ? sizeof(int32) * (1 + (Size) nnull + (Size) s->n) :
		 SerialRowBytes(s->placement, s->ids == NULL) * (Size) s->n);
	if (len > MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("partial tree of " INT64_FORMAT " members is too large to pass between workers", s->n)));
	out = palloc(len);
	SET_VARSIZE(out, len);
	p = VARDATA(out);
	*p++ = (s->placement ? SER_PLACEMENT : 0) |
		(s->descending_seen ? SER_DESCENDING : 0) |
		(s->ids == NULL ? SER_RUNS : 0) |
		(compact ? SER_COMPACT : 0);
#define PUT(src, bytes) do { memcpy(p, (src), (bytes)); p += (bytes); } while (0)
	PUT(&s->n, sizeof(int64));
	PUT(&s->next_id, sizeof(uint64));
	PUT(&s->nruns, sizeof(int32));
	if (s->nruns > 0)
		PUT(s->runs, s->nruns * sizeof(IdRun));
	if (compact)
	{
		int32		k;
		int64		r;
		char	   *null_rows;
		char	   *delta;

		PUT(&nnull, sizeof(int32));
		null_rows = p;
		delta = p + sizeof(int32) * (Size) nnull;
		for (k = 0; k < s->nruns; k++)
		{
			int64		end = RunEnd(s, k);
			uint64		id = (uint64) s->runs[k].first_id;

			for (r = s->runs[k].start_row; r < end; r++, id++)
			{
				int32		v = 0;

				if (s->parent_null[r])
				{
					v = (int32) r;
					memcpy(null_rows, &v, sizeof(int32));
					null_rows += sizeof(int32);
					v = 0;
				}
				else
					v = (int32) ((int64) id - s->parents[r]);
				/* the bytes need not be aligned */
				memcpy(delta + sizeof(int32) * r, &v, sizeof(int32));
			}
		}
		PG_RETURN_BYTEA_P(out);
	}
	if (s->ids)
		PUT(s->ids, s->n * sizeof(int64));
	PUT(s->parents, s->n * sizeof(int64));
	PUT(s->parent_null, s->n);
	if (s->placement)
	{
		PUT(s->pparents, s->n * sizeof(int64));
		PUT(s->pparent_null, s->n);
		PUT(s->pos, s->n * sizeof(int32));
		PUT(s->pos_null, s->n);
	}
#undef PUT
	PG_RETURN_BYTEA_P(out);
}

/*
 * bytea -> state.  The bytes come from our own serial function in a
 * parallel worker, but the sizes and runs are still checked before use.
 */
Datum
mlm_tree_agg_deserial(PG_FUNCTION_ARGS)
{
	bytea	   *in = PG_GETARG_BYTEA_P(0);
	const char *p = VARDATA(in);
	Size		len = VARSIZE(in) - VARHDRSZ;
	TreeAggState *s;
	MemoryContext aggcxt;
	MemoryContext old;
	int64		n;
	int32		nruns;
	int32		nnull = 0;
	int32		k;
	uint8		flags;
	bool		runs;

	if (len < SER_FIXED)
		elog(ERROR, "invalid mlm.tree_agg partial state");
	flags = (uint8) *p++;
	runs = (flags & SER_RUNS) != 0;
	/* in the aggregate's context, so that combine can keep it */
	if (!AggCheckCallContext(fcinfo, &aggcxt))
		aggcxt = CurrentMemoryContext;
	old = MemoryContextSwitchTo(aggcxt);
	s = NewState(aggcxt, (flags & SER_PLACEMENT) != 0);
	s->adoptable = true;
	s->descending_seen = (flags & SER_DESCENDING) != 0;
#define GET(dst, bytes) do { memcpy((dst), p, (bytes)); p += (bytes); } while (0)
	GET(&n, sizeof(int64));
	GET(&s->next_id, sizeof(uint64));
	GET(&nruns, sizeof(int32));
	if (n < 0 || n > MLM_TREE_MAX_MEMBERS || nruns < 0 || nruns > n ||
		(runs && (nruns == 0) != (n == 0)) || (!runs && nruns != 0) ||
		((flags & SER_COMPACT) && (!runs || s->placement)))
		elog(ERROR, "invalid mlm.tree_agg partial state");
	if (flags & SER_COMPACT)
	{
		if (len < SER_FIXED + nruns * sizeof(IdRun) + sizeof(int32))
			elog(ERROR, "invalid mlm.tree_agg partial state");
		memcpy(&nnull, p + nruns * sizeof(IdRun), sizeof(int32));
		if (nnull < 0 || nnull > n ||
			len != SER_FIXED + nruns * sizeof(IdRun) +
			sizeof(int32) * (1 + (Size) nnull + (Size) n))
			elog(ERROR, "invalid mlm.tree_agg partial state");
	}
	else if (len != SER_FIXED + nruns * sizeof(IdRun) +
			 SerialRowBytes(s->placement, runs) * (Size) n)
		elog(ERROR, "invalid mlm.tree_agg partial state");
	if (!(flags & SER_COMPACT))
		Grow(s, Max(n, 1), 0);
	s->n = n;
	if (nruns > 0)
	{
		s->runs = palloc(nruns * sizeof(IdRun));
		s->nruns = s->runs_cap = nruns;
		GET(s->runs, nruns * sizeof(IdRun));
		for (k = 0; k < nruns; k++)
			if (k == 0 ? s->runs[k].start_row != 0 :
				s->runs[k].start_row <= s->runs[k - 1].start_row ||
				s->runs[k].start_row >= n)
				elog(ERROR, "invalid mlm.tree_agg partial state");
	}
	if (flags & SER_COMPACT)
	{
		const char *null_rows;
		int32		v;

		/* keep the distances as they came: read in place by the build */
		p += sizeof(int32);		/* nnull, read above */
		null_rows = p;
		s->cap = Max(n, 1);
		s->parent_null = palloc0(s->cap);
		s->delta = MlmAllocArray(s->cap, sizeof(int32));
		for (k = 0; k < nnull; k++)
		{
			memcpy(&v, null_rows + sizeof(int32) * k, sizeof(int32));
			if (v < 0 || v >= n)
				elog(ERROR, "invalid mlm.tree_agg partial state");
			s->parent_null[v] = true;
		}
		memcpy(s->delta, p + sizeof(int32) * (Size) nnull, sizeof(int32) * (Size) n);
		MemoryContextSwitchTo(old);
		PG_RETURN_POINTER(s);
	}
	if (!runs)
	{
		s->ids = MlmAllocArray(Max(n, 1), sizeof(int64));
		GET(s->ids, n * sizeof(int64));
	}
	GET(s->parents, n * sizeof(int64));
	GET(s->parent_null, n);
	if (s->placement)
	{
		GET(s->pparents, n * sizeof(int64));
		GET(s->pparent_null, n);
		GET(s->pos, n * sizeof(int32));
		GET(s->pos_null, n);
	}
#undef GET
	MemoryContextSwitchTo(old);
	PG_RETURN_POINTER(s);
}

/* A run of one piece (the state or one of its parts), for sorting by id. */
typedef struct RunSpan
{
	int64		first_id;
	const TreeAggState *piece;
	int64		start_row;
	int64		len;
} RunSpan;

/* qsort order of runs by first id */
static int
RunSpanCmp(const void *a, const void *b)
{
	int64		x = ((const RunSpan *) a)->first_id;
	int64		y = ((const RunSpan *) b)->first_id;

	return x < y ? -1 : x > y ? 1 : 0;
}

/*
 * When the runs of s and its parts cover min .. min + n - 1 exactly (a
 * serial key, read in order or by parallel workers in block ranges),
 * describe the rows in id order as one segment per run, in place: returns
 * the segments (and sets in->segs, ids_from), or NULL for any other input.
 */
static MlmRowSegment *
SegmentsInIdOrder(const TreeAggState *s, MlmTreeInput *in)
{
	RunSpan    *span;
	MlmRowSegment *segs;
	int32		nspans = 0;
	int32		k,
				j;
	int64		n = s->n;

	if (s->placement || s->ids)
		return NULL;
	for (k = 0; k < s->nparts; k++)
	{
		if (s->parts[k]->ids)
			return NULL;
		nspans += s->parts[k]->nruns;
		n += s->parts[k]->n;
	}
	nspans += s->nruns;
	if (n == 0 || n > MLM_TREE_MAX_MEMBERS)
		return NULL;
	span = palloc(nspans * sizeof(RunSpan));
	nspans = 0;
	for (k = -1; k < s->nparts; k++)
	{
		const TreeAggState *piece = k < 0 ? s : s->parts[k];

		for (j = 0; j < piece->nruns; j++)
		{
			RunSpan    *sp = &span[nspans++];

			sp->first_id = piece->runs[j].first_id;
			sp->piece = piece;
			sp->start_row = piece->runs[j].start_row;
			sp->len = RunEnd(piece, j) - sp->start_row;
			if ((int64) ((uint64) sp->first_id + (uint64) (sp->len - 1)) < sp->first_id)
			{
				pfree(span);
				return NULL;	/* the run wraps from the largest id around */
			}
		}
	}
	qsort(span, nspans, sizeof(RunSpan), RunSpanCmp);
	for (k = 0; k + 1 < nspans; k++)
	{
		if ((uint64) span[k].first_id + (uint64) span[k].len !=
			(uint64) span[k + 1].first_id ||
			span[k + 1].first_id <= span[k].first_id)
		{
			pfree(span);
			return NULL;		/* a gap, an overlap or a wrap */
		}
	}
	segs = palloc(nspans * sizeof(MlmRowSegment));
	for (k = 0; k < nspans; k++)
	{
		if (span[k].piece->delta)
		{
			segs[k].parents = NULL;
			segs[k].delta = span[k].piece->delta + span[k].start_row;
		}
		else
		{
			segs[k].parents = span[k].piece->parents + span[k].start_row;
			segs[k].delta = NULL;
		}
		segs[k].parent_null = span[k].piece->parent_null + span[k].start_row;
		segs[k].len = (int32) span[k].len;
	}
	memset(in, 0, sizeof(MlmTreeInput));
	in->n = n;
	in->ascending = true;
	in->ids_from = span[0].first_id;
	in->segs = segs;
	in->nsegs = nspans;
	pfree(span);
	return segs;
}

/*
 * The snapshot of the collected rows.  The state is not changed except
 * that kept parts may be copied into it, which the next call would do too.
 */
Datum
mlm_tree_agg_final(PG_FUNCTION_ARGS)
{
	TreeAggState *s;
	MlmTreeInput in;
	MlmRowSegment *segs;
	int64	   *ids = NULL;
	MlmTreeHeader *result;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "mlm.tree_agg final called in non-aggregate context");
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();		/* no rows: like other aggregates, null */
	s = (TreeAggState *) PG_GETARG_POINTER(0);

	segs = SegmentsInIdOrder(s, &in);
	if (segs)
	{
		result = MlmTreeBuild(&in, NULL);
		pfree(segs);
		PG_RETURN_POINTER(result);
	}
	Flatten(s);
	ExpandParents(s);
	memset(&in, 0, sizeof(in));
	in.n = s->n;
	in.ascending = !s->descending_seen;
	if (s->ids)
		in.ids = s->ids;
	else
	{
		/* runs that are not one range: every id, in row order */
		ids = MlmAllocArray(Max(s->n, 1), sizeof(int64));
		FillIds(s, ids);
		in.ids = ids;
	}
	in.parents = s->parents;
	in.parent_null = s->parent_null;
	if (s->placement)
	{
		in.has_placement = true;
		in.pparents = s->pparents;
		in.pparent_null = s->pparent_null;
		in.pos = s->pos;
		in.pos_null = s->pos_null;
	}
	result = MlmTreeBuild(&in, NULL);
	if (ids)
		pfree(ids);
	PG_RETURN_POINTER(result);
}
