/*
 * aggregate.c
 *	  Downline aggregation in one pass over the preorder arrays: active
 *	  flags, group volume, frontline counts, ranks (spec sections 3 and 4),
 *	  and the SQL functions that expose per-member volumes.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "engine.h"
#include "mlm.h"

PG_FUNCTION_INFO_V1(mlm_volume_summary);
PG_FUNCTION_INFO_V1(mlm_volume_summary_snapshot);
PG_FUNCTION_INFO_V1(mlm_leg_volumes);
PG_FUNCTION_INFO_V1(mlm_group_volume);

/* Does member i meet every requirement of rank j?  Children are done. */
static bool
MeetsRank(const MlmRank *rk, const MlmNet *net, const MlmDerived *d,
		  const int *maxsub, int32 i)
{
	const int32 *size = net->v.size;
	int32		c;

	if (rk->has_min_pv && net->pv[i] < rk->min_pv)
		return false;
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
				mlm_dec		leg = MlmDecMul(d->gv[c], MlmPow10[MLM_RATE_SCALE]);

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
			if (maxsub[c] >= rk->legs_rank)
				legs++;
		if (legs < rk->legs_count)
			return false;
	}
	return true;
}

/*
 * active, GV, active frontline and rank of every member, bottom-up in one
 * backward pass (children have larger preorder indexes than parents).
 */
void
MlmComputeDerived(const MlmPlan *plan, const MlmNet *net, MlmDerived *d)
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
		d->active[i] = net->status[i] &&
			(!plan || !plan->has_active_min_pv || net->pv[i] >= plan->active_min_pv);
		d->gv[i] = net->pv[i];
	}
	for (i = n - 1; i >= 0; i--)
	{
		int32		p = net->v.parent[i];

		/* everything below i is final here */
		if (plan && d->active[i])
		{
			int			j;

			for (j = plan->nranks - 1; j >= 1; j--)
				if (MeetsRank(&plan->ranks[j], net, d, maxsub, i))
					break;
			d->rank[i] = j;
		}
		maxsub[i] = Max(maxsub[i], d->rank[i]);
		if (p >= 0)
		{
			d->gv[p] = MlmDecAdd(d->gv[p], d->gv[i]);
			if (d->active[i])
				d->active_frontline[p]++;
			maxsub[p] = Max(maxsub[p], maxsub[i]);
		}
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	pfree(maxsub);
}

/* The first two arguments (members or a tree, and volumes) are required. */
static void
RequireRelations(FunctionCallInfo fcinfo)
{
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("members and volumes relations must not be null")));
}

/* Sources from the SQL arguments members (or a tree), volumes. */
static void
SourcesFromArgs(FunctionCallInfo fcinfo, MlmSources *src, bool snapshot)
{
	memset(src, 0, sizeof(MlmSources));
	if (snapshot)
		src->snapshot = DatumGetMlmTreeP(PG_GETARG_DATUM(0));
	else
		src->members = PG_GETARG_OID(0);
	src->volumes = PG_GETARG_OID(1);
	src->carry = InvalidOid;
}

/*
 * mlm.volume_summary(members, volumes, levels, active_min_pv): per member
 * depth, PV, CV, GV, group CV, frontline and active frontline counts, and
 * the PV of each level 1..levels below it.
 */
static Datum
VolumeSummary(FunctionCallInfo fcinfo, bool snapshot)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MlmSources	src;
	MlmNet	   *net;
	MlmDerived	d;
	MlmPlan		plan;
	int32		levels;
	mlm_dec    *gcv;
	int32	   *frontline;
	mlm_dec    *lv = NULL;
	int32		i,
				k;

	RequireRelations(fcinfo);
	levels = PG_ARGISNULL(2) ? 0 : PG_GETARG_INT32(2);
	if (levels < 0 || levels > 1000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("levels must be between 0 and 1000")));
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	SourcesFromArgs(fcinfo, &src, snapshot);
	net = MlmLoadNetwork(&src);

	/* a minimal plan: only the activity rule */
	memset(&plan, 0, sizeof(plan));
	plan.nranks = 1;
	if (!PG_ARGISNULL(3))
	{
		plan.has_active_min_pv = true;
		plan.active_min_pv = MlmNumericToDec(PG_GETARG_NUMERIC(3), MLM_VOL_SCALE, "active_min_pv");
	}
	MlmComputeDerived(&plan, net, &d);

	gcv = MlmAllocArray(Max(net->n, 1), sizeof(mlm_dec));
	frontline = MlmAllocArrayZero(Max(net->n, 1), sizeof(int32));
	memcpy(gcv, net->cv, sizeof(mlm_dec) * net->n);
	for (i = net->n - 1; i >= 0; i--)
	{
		int32		p = net->v.parent[i];

		if (p >= 0)
		{
			gcv[p] = MlmDecAdd(gcv[p], gcv[i]);
			frontline[p]++;
		}
	}
	/* per-level PV: each member adds its PV to its first `levels` ancestors */
	if (levels > 0)
	{
		lv = MlmAllocArrayZero((Size) net->n * levels, sizeof(mlm_dec));
		for (i = 0; i < net->n; i++)
		{
			int32		a = net->v.parent[i];

			for (k = 0; k < levels && a >= 0; k++, a = net->v.parent[a])
				lv[(Size) a * levels + k] = MlmDecAdd(lv[(Size) a * levels + k], net->pv[i]);
			if ((i & 0xFFFF) == 0)
				CHECK_FOR_INTERRUPTS();
		}
	}

	for (i = 0; i < net->n; i++)
	{
		Datum		vals[10];
		bool		nulls[10] = {0};

		vals[0] = Int64GetDatum(net->v.ids[i]);
		if (net->v.parent[i] >= 0)
			vals[1] = Int64GetDatum(net->v.ids[net->v.parent[i]]);
		else
			nulls[1] = true;
		vals[2] = Int32GetDatum(net->depth[i]);
		vals[3] = MlmDecToNumeric(net->pv[i], MLM_VOL_SCALE, 2);
		vals[4] = MlmDecToNumeric(net->cv[i], MLM_VOL_SCALE, 2);
		vals[5] = MlmDecToNumeric(d.gv[i], MLM_VOL_SCALE, 2);
		vals[6] = MlmDecToNumeric(gcv[i], MLM_VOL_SCALE, 2);
		vals[7] = BoolGetDatum(d.active[i]);
		vals[8] = Int32GetDatum(frontline[i]);
		if (levels > 0)
		{
			Datum	   *el = palloc(sizeof(Datum) * levels);

			for (k = 0; k < levels; k++)
				el[k] = MlmDecToNumeric(lv[(Size) i * levels + k], MLM_VOL_SCALE, 2);
			vals[9] = PointerGetDatum(construct_array(el, levels, NUMERICOID, -1, false, TYPALIGN_INT));
		}
		else
			nulls[9] = true;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, vals, nulls);
		if ((i & 0x3FFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	return (Datum) 0;
}

Datum
mlm_volume_summary(PG_FUNCTION_ARGS)
{
	return VolumeSummary(fcinfo, false);
}

Datum
mlm_volume_summary_snapshot(PG_FUNCTION_ARGS)
{
	return VolumeSummary(fcinfo, true);
}

/* mlm.leg_volumes(members, volumes): one row per (member, frontline leg). */
Datum
mlm_leg_volumes(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MlmSources	src;
	MlmNet	   *net;
	MlmDerived	d;
	MlmPlan		plan;
	int32		i;

	RequireRelations(fcinfo);
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	SourcesFromArgs(fcinfo, &src, false);
	net = MlmLoadNetwork(&src);
	memset(&plan, 0, sizeof(plan));
	plan.nranks = 1;
	MlmComputeDerived(&plan, net, &d);
	for (i = 0; i < net->n; i++)
	{
		int32		p = net->v.parent[i];
		Datum		vals[4];
		bool		nulls[4] = {0};

		if (p < 0)
			continue;
		vals[0] = Int64GetDatum(net->v.ids[p]);
		vals[1] = Int64GetDatum(net->v.ids[i]);
		vals[2] = MlmDecToNumeric(d.gv[i], MLM_VOL_SCALE, 2);
		vals[3] = Int32GetDatum(net->v.size[i]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, vals, nulls);
		if ((i & 0x3FFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	return (Datum) 0;
}

/*
 * mlm.group_volume(members, volumes): just the GV of every member, for the
 * common question that needs no more (two columns instead of ten).
 */
Datum
mlm_group_volume(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MlmSources	src;
	MlmNet	   *net;
	mlm_dec    *gv;
	int32		i;

	RequireRelations(fcinfo);
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	{
		int64	   *ids;
		int32		n;

		if (MlmGroupVolumeFast(PG_GETARG_OID(0), PG_GETARG_OID(1), &ids, &gv, &n))
		{
			for (i = 0; i < n; i++)
			{
				Datum		vals[2];
				bool		nulls[2] = {false, false};

				vals[0] = Int64GetDatum(ids[i]);
				vals[1] = MlmDecToNumeric(gv[i], MLM_VOL_SCALE, 2);
				tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, vals, nulls);
				if ((i & 0x3FFF) == 0)
					CHECK_FOR_INTERRUPTS();
			}
			return (Datum) 0;
		}
	}
	SourcesFromArgs(fcinfo, &src, false);
	net = MlmLoadNetwork(&src);
	gv = MlmAllocArray(Max(net->n, 1), sizeof(mlm_dec));
	memcpy(gv, net->pv, sizeof(mlm_dec) * net->n);
	for (i = net->n - 1; i > 0; i--)
		if (net->v.parent[i] >= 0)
			gv[net->v.parent[i]] = MlmDecAdd(gv[net->v.parent[i]], gv[i]);
	for (i = 0; i < net->n; i++)
	{
		Datum		vals[2];
		bool		nulls[2] = {false, false};

		vals[0] = Int64GetDatum(net->v.ids[i]);
		vals[1] = MlmDecToNumeric(gv[i], MLM_VOL_SCALE, 2);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, vals, nulls);
		if ((i & 0x3FFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	return (Datum) 0;
}
