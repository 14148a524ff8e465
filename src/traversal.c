/*
 * traversal.c
 *	  Read-only queries over an mlm.tree snapshot.
 *
 * The preorder layout makes a subtree the contiguous range [i, i+size[i]),
 * so descendant tests are O(1), a downline is O(answer) and children are
 * found by jumping over sibling subtrees.  Scalar functions return NULL for
 * an id that is not in the tree (so joins against a newer member table do
 * not fail); set-returning functions raise an error instead, so that an
 * empty downline always means a leaf.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/tuplestore.h"

#include "mlm.h"
#include "tree.h"

PG_FUNCTION_INFO_V1(mlm_tree_size);
PG_FUNCTION_INFO_V1(mlm_tree_roots);
PG_FUNCTION_INFO_V1(mlm_tree_contains);
PG_FUNCTION_INFO_V1(mlm_tree_parent);
PG_FUNCTION_INFO_V1(mlm_tree_children);
PG_FUNCTION_INFO_V1(mlm_tree_depth);
PG_FUNCTION_INFO_V1(mlm_tree_path);
PG_FUNCTION_INFO_V1(mlm_tree_upline);
PG_FUNCTION_INFO_V1(mlm_tree_downline);
PG_FUNCTION_INFO_V1(mlm_tree_is_descendant);
PG_FUNCTION_INFO_V1(mlm_tree_subtree_size);
PG_FUNCTION_INFO_V1(mlm_tree_leg);
PG_FUNCTION_INFO_V1(mlm_tree_stats);
PG_FUNCTION_INFO_V1(mlm_tree_members);
PG_FUNCTION_INFO_V1(mlm_tree_placement_parent);

/* Preorder index of an id or an error for set-returning functions. */
static int32
FindOrError(MlmTreeAccess *a, int64 id)
{
	int32		i = MlmAccFind(a, id);

	if (i < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("member " INT64_FORMAT " is not in the tree", id)));
	return i;
}

Datum
mlm_tree_size(PG_FUNCTION_ARGS)
{
	/* the header is enough: fetch only its slice of a toasted value */
	MlmTreeHeader *hdr = (MlmTreeHeader *)
		PG_DETOAST_DATUM_SLICE(PG_GETARG_DATUM(0), 0, sizeof(MlmTreeHeader));

	PG_RETURN_INT32(hdr->n);
}

Datum
mlm_tree_roots(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MlmTree    *t;
	int32		i;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	t = MlmTreeFromArg(fcinfo, 0);
	for (i = 0; i < t->v.n; i += t->v.size[i])
	{
		Datum		val = Int64GetDatum(t->v.ids[i]);
		bool		isnull = false;

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &val, &isnull);
		CHECK_FOR_INTERRUPTS();
	}
	return (Datum) 0;
}

Datum
mlm_tree_contains(PG_FUNCTION_ARGS)
{
	MlmTreeAccess a;
	bool		found;

	MlmTreeAccessBegin(&a, fcinfo, 0);
	found = MlmAccFind(&a, PG_GETARG_INT64(1)) >= 0;
	MlmTreeAccessEnd(&a);
	PG_RETURN_BOOL(found);
}

Datum
mlm_tree_parent(PG_FUNCTION_ARGS)
{
	MlmTreeAccess a;
	int32		i;
	int32		p;
	int64		id;

	MlmTreeAccessBegin(&a, fcinfo, 0);
	i = MlmAccFind(&a, PG_GETARG_INT64(1));
	p = i < 0 ? -1 : MlmAccParent(&a, i);
	if (p < 0)
	{
		MlmTreeAccessEnd(&a);
		PG_RETURN_NULL();
	}
	id = MlmAccId(&a, p);
	MlmTreeAccessEnd(&a);
	PG_RETURN_INT64(id);
}

Datum
mlm_tree_children(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MlmTreeAccess a;
	int32		i,
				c,
				end;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	MlmTreeAccessBegin(&a, fcinfo, 0);
	i = FindOrError(&a, PG_GETARG_INT64(1));
	end = i + MlmAccSize(&a, i);
	for (c = i + 1; c < end; c += MlmAccSize(&a, c))
	{
		Datum		val = Int64GetDatum(MlmAccId(&a, c));
		bool		isnull = false;

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &val, &isnull);
		CHECK_FOR_INTERRUPTS();
	}
	MlmTreeAccessEnd(&a);
	return (Datum) 0;
}

Datum
mlm_tree_depth(PG_FUNCTION_ARGS)
{
	MlmTreeAccess a;
	int32		i;
	int32		d;

	MlmTreeAccessBegin(&a, fcinfo, 0);
	i = MlmAccFind(&a, PG_GETARG_INT64(1));
	d = i < 0 ? -1 : MlmAccDepth(&a, i);
	MlmTreeAccessEnd(&a);
	if (d < 0)
		PG_RETURN_NULL();
	PG_RETURN_INT32(d);
}

Datum
mlm_tree_path(PG_FUNCTION_ARGS)
{
	MlmTreeAccess a;
	int32		i;
	int32		len,
				m,
				k;
	Datum	   *elems;

	MlmTreeAccessBegin(&a, fcinfo, 0);
	i = MlmAccFind(&a, PG_GETARG_INT64(1));
	if (i < 0)
	{
		MlmTreeAccessEnd(&a);
		PG_RETURN_NULL();
	}
	len = MlmAccDepth(&a, i) + 1;
	elems = MlmAllocArray(len, sizeof(Datum));
	for (m = i, k = len - 1; m >= 0 && k >= 0; m = MlmAccParent(&a, m), k--)
	{
		elems[k] = Int64GetDatum(MlmAccId(&a, m));
		if ((k & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	MlmTreeAccessEnd(&a);
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, len, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

Datum
mlm_tree_upline(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MlmTreeAccess a;
	int32		m,
				level = 0;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	MlmTreeAccessBegin(&a, fcinfo, 0);
	m = FindOrError(&a, PG_GETARG_INT64(1));
	for (m = MlmAccParent(&a, m); m >= 0; m = MlmAccParent(&a, m))
	{
		Datum		vals[2];
		bool		nulls[2] = {false, false};

		vals[0] = Int64GetDatum(MlmAccId(&a, m));
		vals[1] = Int32GetDatum(++level);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, vals, nulls);
		if ((level & 0x3FFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	MlmTreeAccessEnd(&a);
	return (Datum) 0;
}

/*
 * Downline of a member in preorder with levels; subtrees below max_depth
 * are jumped over, so the cost is the answer size.
 */
Datum
mlm_tree_downline(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MlmTreeAccess a;
	int32		i,
				j,
				end;
	int32		max_depth = PG_INT32_MAX;
	int32	   *level;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		return (Datum) 0;
	if (!PG_ARGISNULL(2))
	{
		max_depth = PG_GETARG_INT32(2);
		if (max_depth < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("max_depth must not be negative")));
	}
	MlmTreeAccessBegin(&a, fcinfo, 0);
	i = FindOrError(&a, PG_GETARG_INT64(1));
	end = i + MlmAccSize(&a, i);
	/* level[j - i]: depth below i, filled top-down (parent comes first) */
	level = MlmAllocArray(end - i, sizeof(int32));
	level[0] = 0;
	for (j = i + 1; j < end;)
	{
		int32		p = MlmAccParent(&a, j);
		int32		lv;

		if (p < i)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("stored mlm.tree value is corrupt")));
		lv = level[p - i] + 1;
		if (lv > max_depth)
		{
			j += MlmAccSize(&a, j);
			continue;
		}
		level[j - i] = lv;
		{
			Datum		vals[2];
			bool		nulls[2] = {false, false};

			vals[0] = Int64GetDatum(MlmAccId(&a, j));
			vals[1] = Int32GetDatum(lv);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, vals, nulls);
		}
		if ((j & 0x3FFF) == 0)
			CHECK_FOR_INTERRUPTS();
		j++;
	}
	pfree(level);
	MlmTreeAccessEnd(&a);
	return (Datum) 0;
}

Datum
mlm_tree_is_descendant(PG_FUNCTION_ARGS)
{
	MlmTreeAccess a;
	int32		anc;
	int32		d;
	bool		result;

	MlmTreeAccessBegin(&a, fcinfo, 0);
	anc = MlmAccFind(&a, PG_GETARG_INT64(1));
	d = anc < 0 ? -1 : MlmAccFind(&a, PG_GETARG_INT64(2));
	if (anc < 0 || d < 0)
	{
		MlmTreeAccessEnd(&a);
		PG_RETURN_NULL();
	}
	result = d > anc && d < anc + MlmAccSize(&a, anc);
	MlmTreeAccessEnd(&a);
	PG_RETURN_BOOL(result);
}

Datum
mlm_tree_subtree_size(PG_FUNCTION_ARGS)
{
	MlmTreeAccess a;
	int32		i;
	int32		size;

	MlmTreeAccessBegin(&a, fcinfo, 0);
	i = MlmAccFind(&a, PG_GETARG_INT64(1));
	size = i < 0 ? -1 : MlmAccSize(&a, i);
	MlmTreeAccessEnd(&a);
	if (size < 0)
		PG_RETURN_NULL();
	PG_RETURN_INT32(size);
}

/*
 * The frontline member of a through whose leg d hangs: binary search over
 * a's children (ascending preorder indexes) once the call site is busy,
 * sibling jumps before that.
 */
Datum
mlm_tree_leg(PG_FUNCTION_ARGS)
{
	MlmTree    *t = MlmTreeFromArg(fcinfo, 0);
	int32		a = MlmTreeFind(t, PG_GETARG_INT64(1));
	int32		d = MlmTreeFind(t, PG_GETARG_INT64(2));
	int32		c;

	if (a < 0 || d < 0 || !(d > a && d < a + t->v.size[a]))
		PG_RETURN_NULL();
	if (t->lookups > 64)
		MlmTreeEnsureChildren(t);
	if (t->child_start)
	{
		int32		lo = t->child_start[a],
					hi = t->child_start[a + 1] - 1;

		/* last child with index <= d */
		while (lo < hi)
		{
			int32		mid = lo + (hi - lo + 1) / 2;

			if (t->child_list[mid] <= d)
				lo = mid;
			else
				hi = mid - 1;
		}
		c = t->child_list[lo];
	}
	else
	{
		for (c = a + 1; c + t->v.size[c] <= d; c += t->v.size[c])
			CHECK_FOR_INTERRUPTS();
	}
	PG_RETURN_INT64(t->v.ids[c]);
}

Datum
mlm_tree_stats(PG_FUNCTION_ARGS)
{
	MlmTree    *t = MlmTreeFromArg(fcinfo, 0);
	TupleDesc	tupdesc;
	Datum		vals[6];
	bool		nulls[6] = {false, false, false, false, false, false};
	int32		n = t->v.n;
	int32		i;
	int64		leaves = 0,
				depth_sum = 0;
	int32		max_depth = 0,
				widest = 0;
	int32	   *nchildren;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "mlm.stats must return a composite");
	MlmTreeEnsureDepth(t);
	nchildren = MlmAllocArrayZero(Max(n, 1), sizeof(int32));
	for (i = 0; i < n; i++)
	{
		if (t->v.size[i] == 1)
			leaves++;
		depth_sum += t->depth[i];
		max_depth = Max(max_depth, t->depth[i]);
		if (t->v.parent[i] >= 0)
		{
			int32		c = ++nchildren[t->v.parent[i]];

			widest = Max(widest, c);
		}
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	pfree(nchildren);
	vals[0] = Int64GetDatum(n);
	vals[1] = Int64GetDatum(t->v.nroots);
	vals[2] = Int64GetDatum(leaves);
	vals[3] = Int32GetDatum(max_depth);
	if (n > 0)
		vals[4] = DirectFunctionCall2(numeric_div,
									  NumericGetDatum(int64_to_numeric(depth_sum)),
									  NumericGetDatum(int64_to_numeric(n)));
	else
		nulls[4] = true;
	vals[5] = Int32GetDatum(widest);
	tupdesc = BlessTupleDesc(tupdesc);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, vals, nulls)));
}

/* Every member with sponsor, depth and placement: unpack a snapshot. */
Datum
mlm_tree_members(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MlmTree    *t;
	int32		i;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	t = MlmTreeFromArg(fcinfo, 0);
	MlmTreeEnsureDepth(t);
	for (i = 0; i < t->v.n; i++)
	{
		Datum		vals[5];
		bool		nulls[5] = {false, false, false, false, false};

		vals[0] = Int64GetDatum(t->v.ids[i]);
		if (t->v.parent[i] >= 0)
			vals[1] = Int64GetDatum(t->v.ids[t->v.parent[i]]);
		else
			nulls[1] = true;
		vals[2] = Int32GetDatum(t->depth[i]);
		if (t->v.pparent && t->v.pparent[i] >= 0)
		{
			vals[3] = Int64GetDatum(t->v.ids[t->v.pparent[i]]);
			vals[4] = Int32GetDatum(t->v.ppos[i]);
		}
		else
			nulls[3] = nulls[4] = true;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, vals, nulls);
		if ((i & 0x3FFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	return (Datum) 0;
}

Datum
mlm_tree_placement_parent(PG_FUNCTION_ARGS)
{
	MlmTree    *t = MlmTreeFromArg(fcinfo, 0);
	int32		i = MlmTreeFind(t, PG_GETARG_INT64(1));

	if (i < 0 || t->v.pparent == NULL || t->v.pparent[i] < 0)
		PG_RETURN_NULL();
	PG_RETURN_INT64(t->v.ids[t->v.pparent[i]]);
}
