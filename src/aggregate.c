/*
 * aggregate.c
 *	  The SQL functions that expose per-member volumes of a network:
 *	  volume summary, leg volumes and group volume (derived.c computes the
 *	  quantities, forest.c the bottom-up sums).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "derived.h"
#include "forest.h"
#include "mlm.h"
#include "network.h"

/* the largest per-level table of volume_summary (2 GB of int128) */
#define MLM_LEVEL_CELLS (1 << 27)

PG_FUNCTION_INFO_V1(mlm_volume_summary);
PG_FUNCTION_INFO_V1(mlm_volume_summary_snapshot);
PG_FUNCTION_INFO_V1(mlm_leg_volumes);
PG_FUNCTION_INFO_V1(mlm_group_volume);

/* The first two arguments (members or a tree, and volumes) are required. */
static void
RequireRelations(FunctionCallInfo fcinfo, bool snapshot)
{
	static const char *const names[] = {"members", "volumes"};
	static const char *const snapshot_names[] = {"network", "volumes"};

	MlmRequireArgs(fcinfo, lengthof(names), snapshot ? snapshot_names : names);
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
	mlm_dec		active_min_pv;
	int32		levels;
	mlm_dec    *gcv;
	int32	   *frontline;
	mlm_dec    *lv = NULL;
	int32		kept = 0;		/* levels that exist (<= levels) */
	int64		work = 0;
	MemoryContext rowcxt;
	int32		i,
				k;

	RequireRelations(fcinfo, snapshot);
	levels = PG_ARGISNULL(2) ? 0 : PG_GETARG_INT32(2);
	if (levels < 0 || levels > 1000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("levels must be between 0 and 1000")));
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	SourcesFromArgs(fcinfo, &src, snapshot);
	net = MlmLoadNetwork(&src);

	/* no ranks: only the activity rule */
	if (!PG_ARGISNULL(3))
		active_min_pv = MlmNumericToDec(PG_GETARG_NUMERIC(3), MLM_VOL_SCALE, "active_min_pv");
	MlmComputeDerived(net, PG_ARGISNULL(3) ? NULL : &active_min_pv, NULL, 0, &d);

	gcv = MlmAllocArray(Max(net->n, 1), sizeof(mlm_dec));
	frontline = MlmAllocArrayZero(Max(net->n, 1), sizeof(int32));
	memcpy(gcv, net->cv, sizeof(mlm_dec) * net->n);
	MlmForestSumUp(net->v.parent, NULL, net->n, gcv);
	for (i = 0; i < net->n; i++)
		if (net->v.parent[i] >= 0)
			frontline[net->v.parent[i]]++;
	/*
	 * per-level PV: each member adds its PV to its first `levels` ancestors.
	 * Only levels that exist are kept (no member is deeper than the deepest
	 * one), and the table is refused, not attempted, beyond
	 * MLM_LEVEL_CELLS cells: the result itself would be that large.
	 */
	if (levels > 0)
	{
		int32		maxdepth = 0;

		for (i = 0; i < net->n; i++)
			maxdepth = Max(maxdepth, net->depth[i]);
		kept = Min(levels, maxdepth);
		if ((int64) net->n * kept > MLM_LEVEL_CELLS)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("volume_summary of %d levels over %d members is too large", levels, net->n),
					 errdetail("It would hold " INT64_FORMAT " per-level volumes; at most %d are supported.",
							   (int64) net->n * kept, MLM_LEVEL_CELLS),
					 errhint("Ask for fewer levels.")));
		{
			/* zeroed a slice at a time: gigabytes must stay cancellable */
			Size		cells = (Size) net->n * Max(kept, 1);
			Size		done;

			lv = MlmAllocArray(cells, sizeof(mlm_dec));
			for (done = 0; done < cells; done += Min(cells - done, (Size) 1 << 20))
			{
				memset(lv + done, 0, Min(cells - done, (Size) 1 << 20) * sizeof(mlm_dec));
				CHECK_FOR_INTERRUPTS();
			}
		}
		for (i = 0; i < net->n; i++)
		{
			int32		a = net->v.parent[i];

			for (k = 0; k < kept && a >= 0; k++, a = net->v.parent[a])
				lv[(Size) a * kept + k] = MlmDecAdd(lv[(Size) a * kept + k], net->pv[i]);
			MlmWorkDone(&work, k + 1);
		}
	}
	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "mlm volume_summary row",
								   ALLOCSET_DEFAULT_SIZES);

	for (i = 0; i < net->n; i++)
	{
		Datum		vals[10];
		bool		nulls[10] = {0};
		MemoryContext old = MemoryContextSwitchTo(rowcxt);

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
				el[k] = MlmDecToNumeric(k < kept ? lv[(Size) i * kept + k] : 0, MLM_VOL_SCALE, 2);
			vals[9] = PointerGetDatum(construct_array(el, levels, NUMERICOID, -1, false, TYPALIGN_INT));
		}
		else
			nulls[9] = true;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, vals, nulls);
		MemoryContextSwitchTo(old);
		MemoryContextReset(rowcxt);
		MlmWorkDone(&work, 1 + levels);
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
	int32		i;

	RequireRelations(fcinfo, false);
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	SourcesFromArgs(fcinfo, &src, false);
	net = MlmLoadNetwork(&src);
	MlmComputeDerived(net, NULL, NULL, 0, &d);
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

	RequireRelations(fcinfo, false);
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
	MlmForestSumUp(net->v.parent, NULL, net->n, gv);
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
