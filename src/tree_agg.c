/*
 * tree_agg.c
 *	  The mlm.tree_agg aggregates: collect (id, sponsor[, placement,
 *	  position]) rows into an internal state, with combine, serialize and
 *	  deserialize functions so that parallel workers can each collect a
 *	  part, then build the snapshot once in the final function.
 */
#include "postgres.h"

#include "fmgr.h"
#include "libpq/pqformat.h"
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

/* null flags of a row */
#define F_PARENT_NULL	0x01
#define F_PPARENT_NULL	0x02
#define F_POS_NULL		0x04

typedef struct TreeAggState
{
	int64		n;
	int64		cap;
	bool		placement;
	int64	   *ids;
	int64	   *parents;
	int64	   *pparents;		/* only when placement */
	int32	   *pos;
	uint8	   *flags;
	bool		descending_seen;	/* some id was not above the previous */
	MemoryContext cxt;			/* where the arrays live */
} TreeAggState;

static void
Grow(TreeAggState *s, int64 need)
{
	int64		cap = s->cap;

	if (need <= cap)
		return;
	if (need > MLM_TREE_MAX_MEMBERS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("tree of more than %d members is too large",
						MLM_TREE_MAX_MEMBERS),
				 errdetail("A tree value must stay below the 1 GB limit.")));
	while (cap < need)
		cap = Min(Max(cap * 2, 1024), (int64) MLM_TREE_MAX_MEMBERS);
	if (s->cap == 0)
	{
		s->ids = MlmAllocArray(cap, sizeof(int64));
		s->parents = MlmAllocArray(cap, sizeof(int64));
		s->flags = MlmAllocArray(cap, sizeof(uint8));
		if (s->placement)
		{
			s->pparents = MlmAllocArray(cap, sizeof(int64));
			s->pos = MlmAllocArray(cap, sizeof(int32));
		}
	}
	else
	{
		s->ids = MlmReallocArray(s->ids, cap, sizeof(int64));
		s->parents = MlmReallocArray(s->parents, cap, sizeof(int64));
		s->flags = MlmReallocArray(s->flags, cap, sizeof(uint8));
		if (s->placement)
		{
			s->pparents = MlmReallocArray(s->pparents, cap, sizeof(int64));
			s->pos = MlmReallocArray(s->pos, cap, sizeof(int32));
		}
	}
	s->cap = cap;
}

/* The state of a transition call, created in the aggregate context. */
static TreeAggState *
GetState(FunctionCallInfo fcinfo, bool placement)
{
	MemoryContext aggcxt;
	TreeAggState *s;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "mlm.tree_agg called in non-aggregate context");
	if (!PG_ARGISNULL(0))
		return (TreeAggState *) PG_GETARG_POINTER(0);
	s = MemoryContextAllocZero(aggcxt, sizeof(TreeAggState));
	s->placement = placement;
	s->cxt = aggcxt;
	return s;
}

/* Transition for tree_agg(id, sponsor_id). */
static Datum
Trans(FunctionCallInfo fcinfo, bool placement)
{
	MemoryContext old;
	TreeAggState *s;
	int64		i;
	uint8		f = 0;

	s = PG_ARGISNULL(0) ? GetState(fcinfo, placement) :
		(TreeAggState *) PG_GETARG_POINTER(0);
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("member id must not be null"),
				 errdetail("Row %lld of the tree input has a null id.",
						   (long long) s->n + 1)));
	if (unlikely(s->n == s->cap))
	{
		old = MemoryContextSwitchTo(s->cxt);
		Grow(s, s->n + 1);
		MemoryContextSwitchTo(old);
	}
	i = s->n++;
	s->ids[i] = PG_GETARG_INT64(1);
	if (i > 0 && s->ids[i] <= s->ids[i - 1])
		s->descending_seen = true;
	if (PG_ARGISNULL(2))
		f |= F_PARENT_NULL;
	else
		s->parents[i] = PG_GETARG_INT64(2);
	if (placement)
	{
		if (PG_ARGISNULL(3))
			f |= F_PPARENT_NULL;
		else
			s->pparents[i] = PG_GETARG_INT64(3);
		if (PG_ARGISNULL(4))
			f |= F_POS_NULL;
		else
			s->pos[i] = PG_GETARG_INT32(4);
	}
	s->flags[i] = f;
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

/* Append the rows of b to a (parallel partial states). */
Datum
mlm_tree_agg_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	MemoryContext old;
	TreeAggState *a;
	TreeAggState *b;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "mlm.tree_agg combine called in non-aggregate context");
	if (PG_ARGISNULL(1))
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	b = (TreeAggState *) PG_GETARG_POINTER(1);
	old = MemoryContextSwitchTo(aggcxt);
	if (PG_ARGISNULL(0))
	{
		a = palloc0(sizeof(TreeAggState));
		a->placement = b->placement;
		a->cxt = aggcxt;
	}
	else
		a = (TreeAggState *) PG_GETARG_POINTER(0);
	Grow(a, a->n + b->n);
	MemoryContextSwitchTo(old);
	/* still ascending only if b's rows follow a's */
	if (b->descending_seen || (a->n > 0 && b->n > 0 && b->ids[0] <= a->ids[a->n - 1]))
		a->descending_seen = true;
	memcpy(a->ids + a->n, b->ids, b->n * sizeof(int64));
	memcpy(a->parents + a->n, b->parents, b->n * sizeof(int64));
	memcpy(a->flags + a->n, b->flags, b->n * sizeof(uint8));
	if (a->placement)
	{
		memcpy(a->pparents + a->n, b->pparents, b->n * sizeof(int64));
		memcpy(a->pos + a->n, b->pos, b->n * sizeof(int32));
	}
	a->n += b->n;
	PG_RETURN_POINTER(a);
}

/* State -> bytea: flag byte (placement, not ascending), count, arrays. */
Datum
mlm_tree_agg_serial(PG_FUNCTION_ARGS)
{
	TreeAggState *s = (TreeAggState *) PG_GETARG_POINTER(0);
	Size		per = sizeof(int64) * 2 + 1 + (s->placement ? sizeof(int64) + sizeof(int32) : 0);
	Size		len = VARHDRSZ + 1 + sizeof(int64) + per * (Size) s->n;
	bytea	   *out;
	char	   *p;

	if (len > MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("partial tree of " INT64_FORMAT " members is too large to pass between workers", s->n)));
	out = palloc(len);
	SET_VARSIZE(out, len);
	p = VARDATA(out);
	*p++ = (s->placement ? 1 : 0) | (s->descending_seen ? 2 : 0);
	memcpy(p, &s->n, sizeof(int64));
	p += sizeof(int64);
#define PUT(arr, sz) do { memcpy(p, (arr), (sz) * s->n); p += (sz) * s->n; } while (0)
	PUT(s->ids, sizeof(int64));
	PUT(s->parents, sizeof(int64));
	PUT(s->flags, 1);
	if (s->placement)
	{
		PUT(s->pparents, sizeof(int64));
		PUT(s->pos, sizeof(int32));
	}
#undef PUT
	PG_RETURN_BYTEA_P(out);
}

Datum
mlm_tree_agg_deserial(PG_FUNCTION_ARGS)
{
	bytea	   *in = PG_GETARG_BYTEA_P(0);
	const char *p = VARDATA(in);
	Size		len = VARSIZE(in) - VARHDRSZ;
	TreeAggState *s = palloc0(sizeof(TreeAggState));
	int64		n;
	Size		per;

	s->cxt = CurrentMemoryContext;

	if (len < 1 + sizeof(int64))
		elog(ERROR, "invalid mlm.tree_agg partial state");
	s->placement = (*p & 1) != 0;
	s->descending_seen = (*p++ & 2) != 0;
	memcpy(&n, p, sizeof(int64));
	p += sizeof(int64);
	per = sizeof(int64) * 2 + 1 + (s->placement ? sizeof(int64) + sizeof(int32) : 0);
	if (n < 0 || n > MLM_TREE_MAX_MEMBERS || len != 1 + sizeof(int64) + per * (Size) n)
		elog(ERROR, "invalid mlm.tree_agg partial state");
	Grow(s, Max(n, 1));
	s->n = n;
#define GET(arr, sz) do { memcpy((arr), p, (sz) * n); p += (sz) * n; } while (0)
	GET(s->ids, sizeof(int64));
	GET(s->parents, sizeof(int64));
	GET(s->flags, 1);
	if (s->placement)
	{
		GET(s->pparents, sizeof(int64));
		GET(s->pos, sizeof(int32));
	}
#undef GET
	PG_RETURN_POINTER(s);
}

Datum
mlm_tree_agg_final(PG_FUNCTION_ARGS)
{
	TreeAggState *s;
	MlmTreeInput in;
	int64		i;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "mlm.tree_agg final called in non-aggregate context");
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();		/* no rows: like other aggregates, null */
	s = (TreeAggState *) PG_GETARG_POINTER(0);

	memset(&in, 0, sizeof(in));
	in.n = s->n;
	in.ascending = !s->descending_seen;
	in.ids = s->ids;
	in.parents = s->parents;
	in.parent_null = MlmAllocArray(Max(s->n, 1), sizeof(bool));
	for (i = 0; i < s->n; i++)
		in.parent_null[i] = (s->flags[i] & F_PARENT_NULL) != 0;
	if (s->placement)
	{
		in.has_placement = true;
		in.pparents = s->pparents;
		in.pos = s->pos;
		in.pparent_null = MlmAllocArray(Max(s->n, 1), sizeof(bool));
		in.pos_null = MlmAllocArray(Max(s->n, 1), sizeof(bool));
		for (i = 0; i < s->n; i++)
		{
			in.pparent_null[i] = (s->flags[i] & F_PPARENT_NULL) != 0;
			in.pos_null[i] = (s->flags[i] & F_POS_NULL) != 0;
		}
	}
	PG_RETURN_POINTER(MlmTreeBuild(&in, NULL));
}
