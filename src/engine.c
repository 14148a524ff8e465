/*
 * engine.c
 *	  The commission engine: load a period, derive activity, GV and ranks,
 *	  run every bonus of the plan, round once per (member, bonus), apply the
 *	  global cap, and return payouts, member results, carry-out, audit lines
 *	  and totals as rows of mlm.compute (spec sections 5 to 8).
 *
 * Money is exact: int128 fixed point (decimal.h); a line amount is the
 * exact product of its base and rate, sums are exact, and rounding happens
 * once, on the sum, as the spec says.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "engine.h"
#include "mlm.h"

PG_FUNCTION_INFO_V1(mlm_compute);
PG_FUNCTION_INFO_V1(mlm_compute_snapshot);
PG_FUNCTION_INFO_V1(mlm_payouts);
PG_FUNCTION_INFO_V1(mlm_member_results);
PG_FUNCTION_INFO_V1(mlm_lines);
PG_FUNCTION_INFO_V1(mlm_carry_out);
PG_FUNCTION_INFO_V1(mlm_compute_source);

/* columns of mlm.compute */
enum
{
	C_KIND, C_MEMBER, C_BONUS, C_SOURCE, C_LEVEL, C_BASE, C_RATE, C_AMOUNT,
	C_PV, C_GV, C_ACTIVE, C_RANK, C_CARRY_LEFT, C_CARRY_RIGHT,
	/* mlm._source_result only (set in the grand total row) */
	C_CARRY_ROWS, C_SNAPSHOT, C_NCOLS
};

/* which kinds of rows to produce */
#define K_PAYOUT	0x01
#define K_MEMBER	0x02
#define K_LINE		0x04
#define K_CARRY		0x08
#define K_TOTAL		0x10

static Datum kind_line;

/*
 * Where result rows go: a tuplestore and, for the preview functions that
 * return a few of the columns, which column of a full row each output
 * column takes (NULL: the first desc->natts columns).
 */
typedef struct MlmOut
{
	Tuplestorestate *ts;
	TupleDesc	desc;
	const int  *proj;
} MlmOut;

static void
PutRow(const MlmOut *out, Datum *vals, bool *nulls)
{
	Datum		pv[C_NCOLS];
	bool		pn[C_NCOLS];
	int			c;

	if (out->proj == NULL)
	{
		tuplestore_putvalues(out->ts, out->desc, vals, nulls);
		return;
	}
	for (c = 0; c < out->desc->natts; c++)
	{
		pv[c] = vals[out->proj[c]];
		pn[c] = nulls[out->proj[c]];
	}
	tuplestore_putvalues(out->ts, out->desc, pv, pn);
}

void
MlmEmitLineDatum(MlmLineSink *sink, int32 recipient, int32 source, int32 level,
				 Datum base, Datum rate, mlm_dec amount)
{
	if (amount == 0)
		return;
	sink->sum[recipient] = MlmDecAdd(sink->sum[recipient], amount);
	sink->touched[recipient] = true;
	if (sink->lines)
	{
		Datum		vals[C_NCOLS];
		bool		nulls[C_NCOLS];

		memset(nulls, true, sizeof(nulls));
		vals[C_KIND] = kind_line;
		vals[C_MEMBER] = Int64GetDatum(sink->net->v.ids[recipient]);
		vals[C_BONUS] = CStringGetTextDatum(sink->bonus_name);
		if (source >= 0)
			vals[C_SOURCE] = Int64GetDatum(sink->net->v.ids[source]);
		if (level >= 0)
			vals[C_LEVEL] = Int32GetDatum(level);
		vals[C_BASE] = base;
		vals[C_RATE] = rate;
		vals[C_AMOUNT] = MlmDecToNumeric(amount, MLM_AMT_SCALE, 2);
		nulls[C_KIND] = nulls[C_MEMBER] = nulls[C_BONUS] = false;
		nulls[C_SOURCE] = source < 0;
		nulls[C_LEVEL] = level < 0;
		nulls[C_BASE] = nulls[C_RATE] = nulls[C_AMOUNT] = false;
		PutRow(sink->out, vals, nulls);
	}
}

void
MlmEmitLine(MlmLineSink *sink, int32 recipient, int32 source, int32 level,
			mlm_dec base, int base_scale, mlm_dec rate, int rate_scale,
			mlm_dec amount)
{
	if (amount == 0)
		return;
	if (sink->lines)
		MlmEmitLineDatum(sink, recipient, source, level,
						 MlmDecToNumeric(base, base_scale, Min(base_scale, 2)),
						 MlmDecToNumeric(rate, rate_scale, 0), amount);
	else
		MlmEmitLineDatum(sink, recipient, source, level, (Datum) 0, (Datum) 0, amount);
}

/*
 * The non-zero rounded payouts of one bonus, in currency units: a sparse
 * list (most members earn nothing from most bonuses), so a plan with many
 * bonuses costs memory in proportion to what it pays.
 */
typedef struct Payouts
{
	int32		count;
	int32	   *member;			/* preorder indexes, ascending */
	int64	   *units;
} Payouts;

/* Round each member's exact sum once (spec section 6) and keep non-zeros. */
static void
RoundSums(const MlmPlan *plan, const MlmLineSink *sink, int32 n, Payouts *out)
{
	int32		i;
	int32		k = 0;

	out->count = 0;
	for (i = 0; i < n; i++)
		if (sink->touched[i] &&
			MlmDecRescale(sink->sum[i], MLM_AMT_SCALE, plan->scale, plan->rounding) != 0)
			out->count++;
	out->member = MlmAllocArray(Max(out->count, 1), sizeof(int32));
	out->units = MlmAllocArray(Max(out->count, 1), sizeof(int64));
	for (i = 0; i < n; i++)
	{
		mlm_dec		u;

		if (!sink->touched[i])
			continue;
		u = MlmDecRescale(sink->sum[i], MLM_AMT_SCALE, plan->scale, plan->rounding);
		if (u == 0)
			continue;
		if (u > PG_INT64_MAX || u < PG_INT64_MIN)
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("payout of member " INT64_FORMAT " is out of range",
							sink->net->v.ids[i])));
		out->member[k] = i;
		out->units[k++] = (int64) u;
	}
}

typedef struct ComputeArgs
{
	MlmPlan    *plan;
	MlmSources	src;
	int			kinds;
} ComputeArgs;

/* Run the plan and put the requested rows into the tuplestore. */
static void
Compute(ComputeArgs *args, const MlmOut *out)
{
	MlmPlan    *plan = args->plan;
	MlmNet	   *net;
	MlmDerived	d;
	MlmLineSink sink;
	int32		n;
	int32		i;
	int			b,
				pass;
	Payouts    *pay;			/* rounded payouts per bonus */
	int64	   *paid;			/* per member, after the cap */
	int32		k;
	mlm_dec    *carry_l = NULL,
			   *carry_r = NULL;
	mlm_dec		total_cv = 0;
	mlm_dec		total = 0;		/* units, before cap */
	mlm_dec		limit = 0;
	bool		capped = false;
	mlm_dec    *bonus_before;
	mlm_dec    *bonus_after;
	Datum	   *bonus_names;
	Datum	   *rank_names;
	Datum		kind_payout = CStringGetTextDatum("payout");
	Datum		kind_member = CStringGetTextDatum("member");
	Datum		kind_carry = CStringGetTextDatum("carry");
	Datum		kind_total = CStringGetTextDatum("total");

	kind_line = CStringGetTextDatum("line");
	net = MlmLoadNetwork(&args->src);
	n = net->n;
	MlmComputeDerived(plan, net, &d);
	for (i = 0; i < n; i++)
		total_cv = MlmDecAdd(total_cv, net->cv[i]);

	memset(&sink, 0, sizeof(sink));
	sink.net = net;
	sink.sum = MlmAllocArray(Max(n, 1), sizeof(mlm_dec));
	sink.touched = MlmAllocArray(Max(n, 1), sizeof(bool));
	sink.out = out;
	sink.lines = (args->kinds & K_LINE) != 0;
	pay = palloc0(sizeof(Payouts) * Max(plan->nbonuses, 1));
	if (plan->binary_bonus >= 0)
	{
		carry_l = MlmAllocArrayZero(Max(n, 1), sizeof(mlm_dec));
		carry_r = MlmAllocArrayZero(Max(n, 1), sizeof(mlm_dec));
	}

	/* non-matching bonuses first: matching pays on their rounded totals */
	for (pass = 0; pass < 2; pass++)
	{
		for (b = 0; b < plan->nbonuses; b++)
		{
			const MlmBonus *bo = &plan->bonuses[b];

			if ((bo->type == MLM_BONUS_MATCHING) != (pass == 1))
				continue;
			memset(sink.sum, 0, sizeof(mlm_dec) * Max(n, 1));
			memset(sink.touched, 0, sizeof(bool) * Max(n, 1));
			sink.bonus_name = bo->name;
			switch (bo->type)
			{
				case MLM_BONUS_PERSONAL:
					MlmBonusPersonal(plan, bo, net, &d, &sink);
					break;
				case MLM_BONUS_UNILEVEL:
					MlmBonusUnilevel(plan, bo, net, &d, &sink);
					break;
				case MLM_BONUS_DIFFERENTIAL:
					MlmBonusDifferential(plan, bo, net, &d, &sink);
					break;
				case MLM_BONUS_FAST_START:
					MlmBonusFastStart(plan, bo, net, &d, args->src.period_end, &sink);
					break;
				case MLM_BONUS_POOL:
					MlmBonusPool(plan, bo, net, &d, total_cv, &sink);
					break;
				case MLM_BONUS_BINARY:
					MlmBonusBinary(plan, bo, net, &d, carry_l, carry_r, &sink);
					break;
				case MLM_BONUS_MATCHING:
					{
						mlm_dec    *earn = MlmAllocArrayZero(Max(n, 1), sizeof(mlm_dec));
						int			o;

						for (o = 0; o < bo->nof; o++)
						{
							const Payouts *src = &pay[bo->of[o]];

							for (k = 0; k < src->count; k++)
								earn[src->member[k]] =
									MlmDecAdd(earn[src->member[k]],
											  MlmDecRescale(src->units[k], plan->scale,
															MLM_VOL_SCALE, MLM_ROUND_TRUNC));
						}
						MlmBonusMatching(plan, bo, net, &d, earn, &sink);
						pfree(earn);
					}
					break;
			}
			RoundSums(plan, &sink, n, &pay[b]);
			CHECK_FOR_INTERRUPTS();
		}
	}

	/* totals before the cap, then the cap (section 7) */
	bonus_before = palloc0(sizeof(mlm_dec) * Max(plan->nbonuses, 1));
	bonus_after = palloc0(sizeof(mlm_dec) * Max(plan->nbonuses, 1));
	pfree(sink.sum);
	pfree(sink.touched);
	for (b = 0; b < plan->nbonuses; b++)
		for (k = 0; k < pay[b].count; k++)
			bonus_before[b] = MlmDecAdd(bonus_before[b], pay[b].units[k]);
	for (b = 0; b < plan->nbonuses; b++)
		total = MlmDecAdd(total, bonus_before[b]);
	if (plan->has_cap)
	{
		limit = MlmDecRescale(MlmDecMul(plan->cap_pct, total_cv), MLM_AMT_SCALE,
							  plan->scale, MLM_ROUND_TRUNC);
		if (limit < 0)
			limit = 0;
		if (total > limit)
		{
			capped = true;
			/* A * L / T exactly, truncated toward zero */
			for (b = 0; b < plan->nbonuses; b++)
				for (k = 0; k < pay[b].count; k++)
					pay[b].units[k] = (int64) (MlmDecMul(pay[b].units[k], limit) / total);
		}
	}
	paid = MlmAllocArrayZero(Max(n, 1), sizeof(int64));
	for (b = 0; b < plan->nbonuses; b++)
		for (k = 0; k < pay[b].count; k++)
		{
			bonus_after[b] += pay[b].units[k];
			paid[pay[b].member[k]] += pay[b].units[k];
		}

	bonus_names = palloc(sizeof(Datum) * Max(plan->nbonuses, 1));
	for (b = 0; b < plan->nbonuses; b++)
		bonus_names[b] = CStringGetTextDatum(plan->bonuses[b].name);
	rank_names = palloc(sizeof(Datum) * plan->nranks);
	for (b = 0; b < plan->nranks; b++)
		rank_names[b] = CStringGetTextDatum(plan->ranks[b].name);

	/* payouts (a payout the cap truncated to zero is not listed) */
	for (b = 0; b < plan->nbonuses && (args->kinds & K_PAYOUT); b++)
	{
		for (k = 0; k < pay[b].count; k++)
		{
			Datum		vals[C_NCOLS];
			bool		nulls[C_NCOLS];

			if (pay[b].units[k] == 0)
				continue;
			memset(nulls, true, sizeof(nulls));
			vals[C_KIND] = kind_payout;
			vals[C_MEMBER] = Int64GetDatum(net->v.ids[pay[b].member[k]]);
			vals[C_BONUS] = bonus_names[b];
			vals[C_AMOUNT] = MlmDecToNumeric(pay[b].units[k], plan->scale, plan->scale);
			nulls[C_KIND] = nulls[C_MEMBER] = nulls[C_BONUS] = nulls[C_AMOUNT] = false;
			PutRow(out, vals, nulls);
			if ((k & 0x3FFF) == 0)
				CHECK_FOR_INTERRUPTS();
		}
	}

	for (i = 0; i < n; i++)
	{
		Datum		vals[C_NCOLS];
		bool		nulls[C_NCOLS];

		if (args->kinds & K_MEMBER)
		{
			memset(nulls, true, sizeof(nulls));
			vals[C_KIND] = kind_member;
			vals[C_MEMBER] = Int64GetDatum(net->v.ids[i]);
			vals[C_AMOUNT] = MlmDecToNumeric(paid[i], plan->scale, plan->scale);
			vals[C_PV] = MlmDecToNumeric(net->pv[i], MLM_VOL_SCALE, 2);
			vals[C_GV] = MlmDecToNumeric(d.gv[i], MLM_VOL_SCALE, 2);
			vals[C_ACTIVE] = BoolGetDatum(d.active[i]);
			vals[C_RANK] = rank_names[d.rank[i]];
			nulls[C_KIND] = nulls[C_MEMBER] = nulls[C_AMOUNT] = false;
			nulls[C_PV] = nulls[C_GV] = nulls[C_ACTIVE] = nulls[C_RANK] = false;
			PutRow(out, vals, nulls);
		}
		if ((args->kinds & K_CARRY) && carry_l && (carry_l[i] != 0 || carry_r[i] != 0))
		{
			memset(nulls, true, sizeof(nulls));
			vals[C_KIND] = kind_carry;
			vals[C_MEMBER] = Int64GetDatum(net->v.ids[i]);
			vals[C_CARRY_LEFT] = MlmDecToNumeric(carry_l[i], MLM_VOL_SCALE, 2);
			vals[C_CARRY_RIGHT] = MlmDecToNumeric(carry_r[i], MLM_VOL_SCALE, 2);
			nulls[C_KIND] = nulls[C_MEMBER] = nulls[C_CARRY_LEFT] = nulls[C_CARRY_RIGHT] = false;
			PutRow(out, vals, nulls);
		}
		if ((i & 0x3FFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}

	if (args->kinds & K_TOTAL)
	{
		Datum		vals[C_NCOLS];
		bool		nulls[C_NCOLS];
		mlm_dec		after = 0;
		char		hash[17];

		for (b = 0; b < plan->nbonuses; b++)
		{
			memset(nulls, true, sizeof(nulls));
			vals[C_KIND] = kind_total;
			vals[C_BONUS] = bonus_names[b];
			vals[C_AMOUNT] = MlmDecToNumeric(bonus_after[b], plan->scale, plan->scale);
			vals[C_BASE] = MlmDecToNumeric(bonus_before[b], plan->scale, plan->scale);
			nulls[C_KIND] = nulls[C_BONUS] = nulls[C_AMOUNT] = nulls[C_BASE] = false;
			PutRow(out, vals, nulls);
			after += bonus_after[b];
		}
		memset(nulls, true, sizeof(nulls));
		vals[C_KIND] = kind_total;
		vals[C_AMOUNT] = MlmDecToNumeric(after, plan->scale, plan->scale);
		vals[C_BASE] = MlmDecToNumeric(total, plan->scale, plan->scale);
		vals[C_PV] = MlmDecToNumeric(total_cv, MLM_VOL_SCALE, 2);
		vals[C_SOURCE] = Int64GetDatum(net->member_rows);
		vals[C_LEVEL] = Int32GetDatum((int32) Min(net->volume_rows, PG_INT32_MAX));
		snprintf(hash, sizeof(hash), "%016llx", (unsigned long long) net->input_hash);
		vals[C_RANK] = CStringGetTextDatum(hash);
		nulls[C_KIND] = nulls[C_AMOUNT] = nulls[C_BASE] = nulls[C_PV] = false;
		nulls[C_SOURCE] = nulls[C_LEVEL] = nulls[C_RANK] = false;
		if (out->desc->natts > C_SNAPSHOT)
		{
			vals[C_CARRY_ROWS] = Int64GetDatum(net->carry_rows);
			vals[C_SNAPSHOT] = PointerGetDatum(net->tree);
			nulls[C_CARRY_ROWS] = nulls[C_SNAPSHOT] = false;
		}
		if (plan->has_cap)
		{
			vals[C_GV] = MlmDecToNumeric(limit, plan->scale, plan->scale);
			nulls[C_GV] = false;
		}
		if (capped)
		{
			vals[C_RATE] = DirectFunctionCall2(numeric_div,
											   MlmDecToNumeric(limit, plan->scale, plan->scale),
											   MlmDecToNumeric(total, plan->scale, plan->scale));
			nulls[C_RATE] = false;
		}
		PutRow(out, vals, nulls);
	}
}

static int
ParseKinds(text *only)
{
	char	   *s = text_to_cstring(only);
	int			k = 0;
	char	   *tok;
	char	   *save;

	for (tok = strtok_r(s, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save))
	{
		if (strcmp(tok, "payout") == 0)
			k |= K_PAYOUT;
		else if (strcmp(tok, "member") == 0)
			k |= K_MEMBER;
		else if (strcmp(tok, "line") == 0)
			k |= K_LINE;
		else if (strcmp(tok, "carry") == 0)
			k |= K_CARRY;
		else if (strcmp(tok, "total") == 0)
			k |= K_TOTAL;
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown result kind \"%s\"", tok),
					 errhint("Use payout, member, line, carry or total.")));
	}
	return k;
}

/*
 * A period is a finite date range: an infinite bound would select volumes
 * for ever and block every later period of a plan.
 */
static void
CheckPeriodDates(DateADT start, DateADT end)
{
	if (DATE_NOT_FINITE(start) || DATE_NOT_FINITE(end))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("period dates must be finite"),
				 errdetail("The period runs from %s to %s.",
						   DatumGetCString(DirectFunctionCall1(date_out, DateADTGetDatum(start))),
						   DatumGetCString(DirectFunctionCall1(date_out, DateADTGetDatum(end))))));
	if (end < start)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("period_end is before period_start")));
}

/*
 * mlm.compute(plan, members, volumes, period_start, period_end, carry,
 * with_lines, kinds): every result of one period as rows tagged by kind.
 * With snapshot, the members come from an mlm.tree value instead of a
 * relation.
 */
static Datum
ComputeEntry(FunctionCallInfo fcinfo, bool snapshot, int kinds, const int *proj)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ComputeArgs args;
	MlmOut		out;
	int			a;

	for (a = 0; a < 5; a++)
		if (PG_ARGISNULL(a))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("plan, members, volumes, period_start and period_end must not be null")));
	CheckPeriodDates(PG_GETARG_DATEADT(3), PG_GETARG_DATEADT(4));
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);

	memset(&args, 0, sizeof(args));
	args.plan = MlmPlanParse(PG_GETARG_JSONB_P(0), NULL);
	if (snapshot)
		args.src.snapshot = DatumGetMlmTreeP(PG_GETARG_DATUM(1));
	else
		args.src.members = PG_GETARG_OID(1);
	args.src.volumes = PG_GETARG_OID(2);
	args.src.period_start = PG_GETARG_DATEADT(3);
	args.src.period_end = PG_GETARG_DATEADT(4);
	args.src.carry = PG_ARGISNULL(5) ? InvalidOid : PG_GETARG_OID(5);
	if (args.plan->binary_bonus < 0)
		args.src.carry = InvalidOid;	/* carry-in is ignored (spec 10) */
	args.src.placement_width = args.plan->binary_bonus >= 0 ? 2 : 0;
	args.src.need_placement = args.plan->needs_placement;
	if (kinds != 0)
		args.kinds = kinds;		/* a preview function: one kind */
	else
	{
		args.kinds = K_PAYOUT | K_MEMBER | K_CARRY | K_TOTAL;
		if (!PG_ARGISNULL(6) && PG_GETARG_BOOL(6))
			args.kinds |= K_LINE;
		if (!PG_ARGISNULL(7))
			args.kinds = ParseKinds(PG_GETARG_TEXT_PP(7));
	}
	out.ts = rsinfo->setResult;
	out.desc = rsinfo->setDesc;
	out.proj = proj;
	Compute(&args, &out);
	return (Datum) 0;
}

Datum
mlm_compute(PG_FUNCTION_ARGS)
{
	return ComputeEntry(fcinfo, false, 0, NULL);
}

Datum
mlm_compute_snapshot(PG_FUNCTION_ARGS)
{
	return ComputeEntry(fcinfo, true, 0, NULL);
}

/*
 * The preview functions: one kind of row, only its columns, straight into
 * the caller's result (no second copy through an SQL wrapper).
 */
Datum
mlm_payouts(PG_FUNCTION_ARGS)
{
	static const int proj[] = {C_MEMBER, C_BONUS, C_AMOUNT};

	return ComputeEntry(fcinfo, false, K_PAYOUT, proj);
}

Datum
mlm_member_results(PG_FUNCTION_ARGS)
{
	static const int proj[] = {C_MEMBER, C_PV, C_GV, C_ACTIVE, C_RANK, C_AMOUNT};

	return ComputeEntry(fcinfo, false, K_MEMBER, proj);
}

Datum
mlm_lines(PG_FUNCTION_ARGS)
{
	static const int proj[] = {C_MEMBER, C_BONUS, C_SOURCE, C_LEVEL, C_BASE, C_RATE, C_AMOUNT};

	return ComputeEntry(fcinfo, false, K_LINE, proj);
}

Datum
mlm_carry_out(PG_FUNCTION_ARGS)
{
	static const int proj[] = {C_MEMBER, C_CARRY_LEFT, C_CARRY_RIGHT};

	return ComputeEntry(fcinfo, false, K_CARRY, proj);
}

/*
 * mlm._compute_source(plan, members, volumes, period_column, period_label,
 * period_start, period_end, time_zone, carry, with_lines, read_as_owner):
 * the computation of mlm.close and mlm.preview.  The period's volume rows
 * are selected here (see PeriodCondition), and with read_as_owner each
 * relation is read as its owner inside a security-restricted operation, so
 * a close (SECURITY DEFINER) never runs a table's code with the extension
 * owner's rights.  The grand total row also carries the number of carry-in
 * rows and the snapshot of the members' tree.
 */
Datum
mlm_compute_source(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ComputeArgs args;
	MlmOut		out;
	int			a;
	static const int required[] = {0, 1, 2, 3, 5, 6, 10};
	static const char *const names[] = {
		"plan", "members", "volumes", "period_column", "period_label", "period_start",
		"period_end", "time_zone", "carry", "with_lines", "read_as_owner"
	};

	for (a = 0; a < lengthof(required); a++)
		if (PG_ARGISNULL(required[a]))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("argument %s must not be null", names[required[a]])));
	CheckPeriodDates(PG_GETARG_DATEADT(5), PG_GETARG_DATEADT(6));
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	if (rsinfo->setDesc->natts != C_NCOLS)
		elog(ERROR, "mlm._compute_source must return %d columns", C_NCOLS);

	memset(&args, 0, sizeof(args));
	args.plan = MlmPlanParse(PG_GETARG_JSONB_P(0), NULL);
	args.src.members = PG_GETARG_OID(1);
	args.src.volumes = PG_GETARG_OID(2);
	args.src.period_column = text_to_cstring(PG_GETARG_TEXT_PP(3));
	args.src.period_label = PG_ARGISNULL(4) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(4));
	args.src.period_start = PG_GETARG_DATEADT(5);
	args.src.period_end = PG_GETARG_DATEADT(6);
	args.src.time_zone = PG_ARGISNULL(7) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(7));
	args.src.carry = PG_ARGISNULL(8) || args.plan->binary_bonus < 0 ? InvalidOid : PG_GETARG_OID(8);
	args.src.placement_width = args.plan->binary_bonus >= 0 ? 2 : 0;
	args.src.need_placement = args.plan->needs_placement;
	args.src.read_as_owner = PG_GETARG_BOOL(10);
	args.kinds = K_PAYOUT | K_MEMBER | K_CARRY | K_TOTAL;
	if (!PG_ARGISNULL(9) && PG_GETARG_BOOL(9))
		args.kinds |= K_LINE;
	out.ts = rsinfo->setResult;
	out.desc = rsinfo->setDesc;
	out.proj = NULL;
	Compute(&args, &out);
	return (Datum) 0;
}
