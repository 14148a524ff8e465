/*
 * engine.c
 *	  The commission engine's SQL functions: load a period (network.c),
 *	  derive activity, GV and ranks (derived.c), run every bonus of the plan
 *	  through the table of bonus types (bonus.c), round once per (member,
 *	  bonus) and apply the global cap (payout.c), and return payouts, member
 *	  results, carry-out, audit lines and totals as rows of mlm.compute
 *	  (spec sections 5 to 8).  Nothing below calls back into this file.
 *
 * Money is exact: int128 fixed point (decimal.h); a line amount is the
 * exact product of its base and rate, sums are exact, and rounding happens
 * once, on the sum, as the spec says.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"

#include "bonus.h"
#include "close_write.h"
#include "derived.h"
#include "mlm.h"
#include "network.h"
#include "payout.h"
#include "plan.h"
#include "results.h"
#include "sink.h"
#include "tree.h"

PG_FUNCTION_INFO_V1(mlm_compute);
PG_FUNCTION_INFO_V1(mlm_compute_snapshot);
PG_FUNCTION_INFO_V1(mlm_payouts);
PG_FUNCTION_INFO_V1(mlm_member_results);
PG_FUNCTION_INFO_V1(mlm_lines);
PG_FUNCTION_INFO_V1(mlm_carry_out);
PG_FUNCTION_INFO_V1(mlm_state_out);
PG_FUNCTION_INFO_V1(mlm_payables);
PG_FUNCTION_INFO_V1(mlm_compute_source);
PG_FUNCTION_INFO_V1(mlm_check_inputs);
PG_FUNCTION_INFO_V1(mlm_close_source);
PG_FUNCTION_INFO_V1(mlm_delete_run_rows);

/* columns of mlm.compute */
enum
{
	C_KIND, C_MEMBER, C_BONUS, C_SOURCE, C_LEVEL, C_BASE, C_RATE, C_AMOUNT,
	C_PV, C_GV, C_ACTIVE, C_RANK, C_CARRY_LEFT, C_CARRY_RIGHT,
	/* since 0.2 (contract v2): member results, state and payables */
	C_QUALIFIED_RANK, C_PAID_AS_RANK, C_TITLE_RANK, C_GRACE, C_CPV, C_CUSTOMERS,
	C_RV, C_MEMBER_TYPE, C_BALANCE_IN, C_EARNED, C_PAID, C_BALANCE_OUT,
	/* mlm._source_result only: the typed grand total */
	C_CARRY_ROWS, C_SNAPSHOT, C_MEMBER_ROWS, C_VOLUME_ROWS, C_INPUT_CHECKSUM,
	C_TOTAL_CV, C_CAP_LIMIT, C_NCOLS
};

/* which kinds of rows to produce */
#define K_PAYOUT	0x01
#define K_MEMBER	0x02
#define K_LINE		0x04
#define K_CARRY		0x08
#define K_TOTAL		0x10
#define K_STATE		0x20
#define K_PAYABLE	0x40

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
	MemoryContext row_cxt;		/* what one row allocates, reset after it */
	bool		total_v01;		/* the grand total row as 0.1's compute had it */
} MlmOut;

/* The audit-line writer handed to the sink: the network names the ids. */
typedef struct LineRows
{
	const MlmOut *out;
	const MlmNet *net;
	Datum		kind_line;
} LineRows;

typedef struct ComputeArgs
{
	MlmPlan    *plan;
	MlmSources	src;
	int			kinds;
	/* a close: rows go to the run tables, the result row here */
	MlmCloseWriter *writer;
	TupleDesc	close_desc;
	HeapTuple	close_result;
	MlmTreeHeader *close_tree;	/* net->tree, in src.tree_cxt */
} ComputeArgs;

/* Put one full row, projected for the preview functions. */
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

/* MlmLineFn of the engine: one "line" row per payment. */
static void
PutLineRow(void *arg, const char *bonus_name, int32 recipient, int32 source,
		   int32 level, const MlmLineFigure *base, const MlmLineFigure *rate,
		   mlm_dec amount)
{
	LineRows   *lr = (LineRows *) arg;
	Datum		vals[C_NCOLS];
	bool		nulls[C_NCOLS];

	memset(nulls, true, sizeof(nulls));
	vals[C_KIND] = lr->kind_line;
	vals[C_MEMBER] = Int64GetDatum(lr->net->v.ids[recipient]);
	vals[C_BONUS] = CStringGetTextDatum(bonus_name);
	if (source >= 0)
		vals[C_SOURCE] = Int64GetDatum(lr->net->v.ids[source]);
	if (level >= 0)
		vals[C_LEVEL] = Int32GetDatum(level);
	vals[C_BASE] = MlmLineFigureNumeric(base);
	vals[C_RATE] = MlmLineFigureNumeric(rate);
	vals[C_AMOUNT] = MlmDecToNumeric(amount, MLM_AMT_SCALE, 2);
	nulls[C_KIND] = nulls[C_MEMBER] = nulls[C_BONUS] = false;
	nulls[C_SOURCE] = source < 0;
	nulls[C_LEVEL] = level < 0;
	nulls[C_BASE] = nulls[C_RATE] = nulls[C_AMOUNT] = false;
	PutRow(lr->out, vals, nulls);
}

/*
 * Every bonus of the plan through the table of bonus types, each into the
 * sink and rounded: the bonuses that pay on earnings (matching) run last,
 * on the others' rounded payouts.  No bonus of that second pass and nothing
 * after the bonuses reads CV or joined dates: they are freed before it, so
 * the matched earnings take CV's room instead of adding to the peak.
 */
static MlmPayouts *
RunBonuses(const MlmPlan *plan, MlmBonusContext *cx, MlmLineSink *sink, MlmNet *net)
{
	int32		n = cx->net->n;
	MlmPayouts *pay = palloc0(sizeof(MlmPayouts) * Max(plan->nbonuses, 1));
	int			b,
				pass;

	for (pass = 0; pass < 2; pass++)
	{
		if (pass == 1)
		{
			pfree(net->cv);
			net->cv = NULL;
			pfree(net->joined);
			net->joined = NULL;
		}
		for (b = 0; b < plan->nbonuses; b++)
		{
			const MlmBonus *bo = &plan->bonuses[b];
			const MlmBonusKind *kind = &MlmBonusKinds[bo->type];
			mlm_dec    *earn = NULL;

			if (kind->on_earnings != (pass == 1))
				continue;
			MlmSinkReset(sink, bo->name);
			if (kind->on_earnings)
				cx->earnings = earn = MlmMatchedEarnings(plan, bo, pay, n);
			kind->fn(cx, bo, sink);
			if (earn)
			{
				pfree(earn);
				cx->earnings = NULL;
			}
			MlmRoundSums(plan, sink, cx->net->v.ids, &pay[b]);
			CHECK_FOR_INTERRUPTS();
		}
	}
	return pay;
}

/* "payout" rows (a payout the cap truncated to zero is not listed). */
static void
PutPayoutRows(const MlmOut *out, const MlmPlan *plan, const MlmNet *net,
			  const MlmPayouts *pay, const Datum *bonus_names)
{
	Datum		kind_payout = CStringGetTextDatum("payout");
	int			b;
	int32		k;

	for (b = 0; b < plan->nbonuses; b++)
	{
		for (k = 0; k < pay[b].count; k++)
		{
			Datum		vals[C_NCOLS];
			bool		nulls[C_NCOLS];

			MemoryContext old;

			if (pay[b].units[k] == 0)
				continue;
			old = MemoryContextSwitchTo(out->row_cxt);
			memset(nulls, true, sizeof(nulls));
			vals[C_KIND] = kind_payout;
			vals[C_MEMBER] = Int64GetDatum(net->v.ids[pay[b].member[k]]);
			vals[C_BONUS] = bonus_names[b];
			vals[C_AMOUNT] = MlmDecToNumeric(pay[b].units[k], plan->scale, plan->scale);
			nulls[C_KIND] = nulls[C_MEMBER] = nulls[C_BONUS] = nulls[C_AMOUNT] = false;
			PutRow(out, vals, nulls);
			MemoryContextSwitchTo(old);
			MemoryContextReset(out->row_cxt);
			if ((k & 0x3FFF) == 0)
				CHECK_FOR_INTERRUPTS();
		}
	}
}

/* Where each member-result value goes in a full row. */
static const int MemberCol[MR_NCOLS] = {
	[MR_PV] = C_PV,[MR_GV] = C_GV,[MR_ACTIVE] = C_ACTIVE,[MR_RANK] = C_RANK,
	[MR_AMOUNT] = C_AMOUNT,[MR_QUALIFIED] = C_QUALIFIED_RANK,
	[MR_PAID_AS] = C_PAID_AS_RANK,[MR_TITLE] = C_TITLE_RANK,[MR_GRACE] = C_GRACE,
	[MR_CPV] = C_CPV,[MR_CUSTOMERS] = C_CUSTOMERS,[MR_RV] = C_RV,
	[MR_TYPE] = C_MEMBER_TYPE
};
static const int StateCol[ST_NCOLS] = {
	[ST_CARRY_LEFT] = C_CARRY_LEFT,[ST_CARRY_RIGHT] = C_CARRY_RIGHT,
	[ST_TITLE] = C_TITLE_RANK,[ST_PAID_AS] = C_PAID_AS_RANK,[ST_GRACE] = C_GRACE,
	[ST_BALANCE] = C_BALANCE_OUT
};
static const int PayableCol[PY_NCOLS] = {
	[PY_BALANCE_IN] = C_BALANCE_IN,[PY_EARNED] = C_EARNED,[PY_PAID] = C_PAID,
	[PY_BALANCE_OUT] = C_BALANCE_OUT
};

/* One row of a kind from values in results.h order placed by cols[]. */
static void
PutKindRow(const MlmOut *out, Datum kind, int64 id, const Datum *v, const bool *nulls,
		   const int *cols, int ncols)
{
	Datum		vals[C_NCOLS];
	bool		rn[C_NCOLS];
	int			c;

	memset(rn, true, sizeof(rn));
	vals[C_KIND] = kind;
	vals[C_MEMBER] = Int64GetDatum(id);
	rn[C_KIND] = rn[C_MEMBER] = false;
	for (c = 0; c < ncols; c++)
	{
		vals[cols[c]] = v[c];
		rn[cols[c]] = nulls[c];
	}
	PutRow(out, vals, rn);
}

/* "member", non-zero "carry", "state" and "payable" rows, member by member. */
static void
PutMemberRows(const MlmOut *out, int kinds, const MlmOutcome *o)
{
	Datum		kind_member = CStringGetTextDatum("member");
	Datum		kind_carry = CStringGetTextDatum("carry");
	Datum		kind_state = CStringGetTextDatum("state");
	Datum		kind_payable = CStringGetTextDatum("payable");
	const MlmNet *net = o->net;
	int32		i;

	for (i = 0; i < net->n; i++)
	{
		Datum		v[MR_NCOLS];
		bool		nulls[MR_NCOLS];
		MemoryContext old = MemoryContextSwitchTo(out->row_cxt);

		if (kinds & K_MEMBER)
		{
			MlmMemberValues(o, i, v, nulls);
			PutKindRow(out, kind_member, net->v.ids[i], v, nulls, MemberCol, MR_NCOLS);
		}
		if ((kinds & K_CARRY) && o->carry_l && (o->carry_l[i] != 0 || o->carry_r[i] != 0) &&
			MlmStateValues(o, i, v, nulls))
			PutKindRow(out, kind_carry, net->v.ids[i], v, nulls, StateCol, 2);
		if ((kinds & K_STATE) && MlmStateValues(o, i, v, nulls))
			PutKindRow(out, kind_state, net->v.ids[i], v, nulls, StateCol, ST_NCOLS);
		if ((kinds & K_PAYABLE) && MlmPayableValues(o, i, v, nulls))
			PutKindRow(out, kind_payable, net->v.ids[i], v, nulls, PayableCol, PY_NCOLS);
		MemoryContextSwitchTo(old);
		MemoryContextReset(out->row_cxt);
		if ((i & 0x3FFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
}

/*
 * "total" rows: one per bonus and the grand total, each with the amount
 * after the cap (amount), before it (base) and, in the grand total, the
 * cap's ratio (rate) when it applied.  mlm._compute_source's grand total
 * also has its own typed columns: input counts and checksum, total CV, the
 * cap limit, the snapshot.
 */
static void
PutTotalRows(const MlmOut *out, const MlmPlan *plan, const MlmNet *net,
			 const MlmCapResult *cap, const MlmLedger *lg, mlm_dec total_cv,
			 const Datum *bonus_names)
{
	Datum		kind_total = CStringGetTextDatum("total");
	Datum		vals[C_NCOLS];
	bool		nulls[C_NCOLS];
	mlm_dec		after = 0;
	char		hash[17];
	int			b;

	for (b = 0; b < plan->nbonuses; b++)
	{
		memset(nulls, true, sizeof(nulls));
		vals[C_KIND] = kind_total;
		vals[C_BONUS] = bonus_names[b];
		vals[C_AMOUNT] = MlmDecToNumeric(cap->bonus_after[b], plan->scale, plan->scale);
		vals[C_BASE] = MlmDecToNumeric(cap->bonus_before[b], plan->scale, plan->scale);
		nulls[C_KIND] = nulls[C_BONUS] = nulls[C_AMOUNT] = nulls[C_BASE] = false;
		PutRow(out, vals, nulls);
		after += cap->bonus_after[b];
	}
	memset(nulls, true, sizeof(nulls));
	vals[C_KIND] = kind_total;
	vals[C_AMOUNT] = MlmDecToNumeric(after, plan->scale, plan->scale);
	vals[C_BASE] = MlmDecToNumeric(cap->total, plan->scale, plan->scale);
	nulls[C_KIND] = nulls[C_AMOUNT] = nulls[C_BASE] = false;
	/* the ledger's sums (spec 13.1) */
	vals[C_BALANCE_IN] = MlmDecToNumeric(lg->sum_in, plan->scale, plan->scale);
	vals[C_EARNED] = vals[C_AMOUNT];
	vals[C_PAID] = MlmDecToNumeric(lg->sum_paid, plan->scale, plan->scale);
	vals[C_BALANCE_OUT] = MlmDecToNumeric(lg->sum_out, plan->scale, plan->scale);
	nulls[C_BALANCE_IN] = nulls[C_EARNED] = nulls[C_PAID] = nulls[C_BALANCE_OUT] = false;
	snprintf(hash, sizeof(hash), "%016llx", (unsigned long long) net->input_hash);
	if (out->total_v01)
	{
		/*
		 * mlm.compute as declared by version 0.1 (its close reads these): total
		 * CV in pv, input row counts in source_id and level, the checksum in
		 * rank, the cap limit in gv.
		 */
		vals[C_PV] = MlmDecToNumeric(total_cv, MLM_VOL_SCALE, 2);
		vals[C_SOURCE] = Int64GetDatum(net->member_rows);
		vals[C_LEVEL] = Int32GetDatum((int32) Min(net->volume_rows, PG_INT32_MAX));
		vals[C_RANK] = CStringGetTextDatum(hash);
		nulls[C_PV] = nulls[C_SOURCE] = nulls[C_LEVEL] = nulls[C_RANK] = false;
		if (plan->has_cap)
		{
			vals[C_GV] = MlmDecToNumeric(cap->limit, plan->scale, plan->scale);
			nulls[C_GV] = false;
		}
	}
	if (out->desc->natts == C_NCOLS)
	{
		vals[C_CARRY_ROWS] = Int64GetDatum(net->carry_rows);
		vals[C_SNAPSHOT] = PointerGetDatum(net->tree);
		vals[C_MEMBER_ROWS] = Int64GetDatum(net->member_rows);
		vals[C_VOLUME_ROWS] = Int64GetDatum(net->volume_rows);
		vals[C_INPUT_CHECKSUM] = CStringGetTextDatum(hash);
		vals[C_TOTAL_CV] = MlmDecToNumeric(total_cv, MLM_VOL_SCALE, 2);
		nulls[C_CARRY_ROWS] = nulls[C_SNAPSHOT] = nulls[C_MEMBER_ROWS] = false;
		nulls[C_VOLUME_ROWS] = nulls[C_INPUT_CHECKSUM] = nulls[C_TOTAL_CV] = false;
		if (plan->has_cap)
		{
			vals[C_CAP_LIMIT] = MlmDecToNumeric(cap->limit, plan->scale, plan->scale);
			nulls[C_CAP_LIMIT] = false;
		}
	}
	if (cap->capped)
	{
		vals[C_RATE] = DirectFunctionCall2(numeric_div,
										   MlmDecToNumeric(cap->limit, plan->scale, plan->scale),
										   MlmDecToNumeric(cap->total, plan->scale, plan->scale));
		nulls[C_RATE] = false;
	}
	PutRow(out, vals, nulls);
}

/*
 * Run the plan and put the requested rows into the tuplestore: load,
 * derive, run the bonuses, round and cap, then the rows of each kind.
 */
static void
Compute(ComputeArgs *args, const MlmOut *out)
{
	MlmPlan    *plan = args->plan;
	MlmNet	   *net;
	MlmDerived	d;
	MlmLineSink sink;
	MlmBonusContext cx;
	LineRows	lr;
	MlmPayouts *pay;
	MlmCapResult cap;
	MlmLedger	ledger;
	MlmOutcome	oc;
	MlmDerived	bd;
	Datum	   *bonus_names;
	mlm_dec		total_cv = 0;
	int32		n,
				i;
	int			b;

	net = MlmLoadNetwork(&args->src);
	n = net->n;
	MlmComputeDerived(net, plan->has_active_min_pv ? &plan->active_min_pv : NULL,
					  plan->ranks, plan->nranks, &d);
	MlmComputeRanksAcross(net, plan, &d);
	/* activity is in d.active now */
	pfree(net->status);
	net->status = NULL;
	/* the bonuses read the paid-as rank wherever they read a rank (spec 11) */
	bd = d;
	bd.rank = d.paid_as;
	for (i = 0; i < n; i++)
		total_cv = MlmDecAdd(total_cv, net->cv[i]);

	lr.out = out;
	lr.net = net;
	lr.kind_line = CStringGetTextDatum("line");
	if (args->writer)
	{
		MlmCloseWriterSetNet(args->writer, net);
		MlmSinkInit(&sink, n, (args->kinds & K_LINE) ? MlmCloseWriterLine : NULL, args->writer);
	}
	else
		MlmSinkInit(&sink, n, (args->kinds & K_LINE) ? PutLineRow : NULL, &lr);
	memset(&cx, 0, sizeof(cx));
	cx.plan = plan;
	cx.net = net;
	cx.d = &bd;
	cx.paid_as_rank = d.paid_as;
	cx.period_end = args->src.period_end;
	cx.total_cv = total_cv;
	if (plan->binary_bonus >= 0)
	{
		cx.carry_out_left = MlmAllocArrayZero(Max(n, 1), sizeof(mlm_dec));
		cx.carry_out_right = MlmAllocArrayZero(Max(n, 1), sizeof(mlm_dec));
	}
	pay = RunBonuses(plan, &cx, &sink, net);
	MlmSinkFree(&sink);
	MlmApplyCap(plan, pay, n, total_cv, &cap);
	MlmApplyLedger(plan, net, cap.paid, &ledger);
	MlmOutcomeInit(&oc, plan, net, &d, &ledger, cx.carry_out_left, cx.carry_out_right);
	if (args->writer)
	{
		args->close_result = MlmCloseWriterFinish(args->writer, args->close_desc, &oc,
												  pay, &cap, total_cv);
		args->close_tree = net->tree;
		return;
	}

	bonus_names = palloc(sizeof(Datum) * Max(plan->nbonuses, 1));
	for (b = 0; b < plan->nbonuses; b++)
		bonus_names[b] = CStringGetTextDatum(plan->bonuses[b].name);
	if (args->kinds & K_PAYOUT)
		PutPayoutRows(out, plan, net, pay, bonus_names);
	PutMemberRows(out, args->kinds, &oc);
	if (args->kinds & K_TOTAL)
		PutTotalRows(out, plan, net, &cap, &ledger, total_cv, bonus_names);
}

/*
 * What the plan asks of the loader: placement, customers (always: a
 * member_type column folds them), the state's carry only for a binary plan
 * (spec 10), its rank names against the plan's.
 */
static void
PlanSources(ComputeArgs *args)
{
	MlmPlan    *plan = args->plan;
	int			r;

	args->src.placement_width = plan->binary_bonus >= 0 ? 2 : 0;
	args->src.need_placement = plan->needs_placement;
	args->src.customers = true;
	args->src.use_carry = plan->binary_bonus >= 0;
	args->src.nranks = plan->nranks;
	args->src.rank_names = palloc(sizeof(char *) * Max(plan->nranks, 1));
	for (r = 0; r < plan->nranks; r++)
		args->src.rank_names[r] = plan->ranks[r].name;
}

/* Where the rows of a set-returning call go. */
static void
OutInit(MlmOut *out, ReturnSetInfo *rsinfo, const int *proj, bool total_v01)
{
	out->ts = rsinfo->setResult;
	out->desc = rsinfo->setDesc;
	out->proj = proj;
	out->row_cxt = AllocSetContextCreate(CurrentMemoryContext, "mlm result row",
										 ALLOCSET_SMALL_SIZES);
	out->total_v01 = total_v01;
}

/* The result kinds named by the "kinds" argument ("payout, line"). */
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
		else if (strcmp(tok, "state") == 0)
			k |= K_STATE;
		else if (strcmp(tok, "payable") == 0)
			k |= K_PAYABLE;
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown result kind \"%s\"", tok),
					 errhint("Use payout, member, line, carry, state, payable or total.")));
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
 * The optional period selection of the computing functions, from argument
 * a on: period_column, period_label, time_zone (declared since 0.2; a
 * database still on 0.1 passes fewer arguments and reads every row).
 * Without a period column every volume row is read.
 */
static void
PeriodArgs(FunctionCallInfo fcinfo, int a, MlmSources *src)
{
	if (a <= 0 || PG_NARGS() <= a || PG_ARGISNULL(a))
		return;
	src->period_column = text_to_cstring(PG_GETARG_TEXT_PP(a));
	if (PG_NARGS() > a + 1 && !PG_ARGISNULL(a + 1))
		src->period_label = text_to_cstring(PG_GETARG_TEXT_PP(a + 1));
	if (PG_NARGS() > a + 2 && !PG_ARGISNULL(a + 2))
		src->time_zone = text_to_cstring(PG_GETARG_TEXT_PP(a + 2));
}

/*
 * mlm.compute(plan, members, volumes, period_start, period_end, carry,
 * with_lines, kinds): every result of one period as rows tagged by kind.
 * With snapshot, the members come from an mlm.tree value instead of a
 * relation.
 */
static Datum
ComputeEntry(FunctionCallInfo fcinfo, bool snapshot, int kinds, const int *proj,
			 int period_arg)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ComputeArgs args;
	MlmOut		out;
	static const char *const names[] = {"plan", "members", "volumes", "period_start", "period_end"};
	static const char *const snapshot_names[] = {"plan", "network", "volumes", "period_start", "period_end"};

	MlmRequireArgs(fcinfo, lengthof(names), snapshot ? snapshot_names : names);
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
	PlanSources(&args);
	PeriodArgs(fcinfo, period_arg, &args.src);
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
	/* compute and compute_snapshot declared by 0.1 have 8 arguments */
	OutInit(&out, rsinfo, proj, kinds == 0 && PG_NARGS() <= period_arg);
	Compute(&args, &out);
	return (Datum) 0;
}

Datum
mlm_compute(PG_FUNCTION_ARGS)
{
	return ComputeEntry(fcinfo, false, 0, NULL, 8);
}

Datum
mlm_compute_snapshot(PG_FUNCTION_ARGS)
{
	return ComputeEntry(fcinfo, true, 0, NULL, 8);
}

/*
 * The preview functions: one kind of row, only its columns, straight into
 * the caller's result (no second copy through an SQL wrapper).
 */
Datum
mlm_payouts(PG_FUNCTION_ARGS)
{
	static const int proj[] = {C_MEMBER, C_BONUS, C_AMOUNT};

	return ComputeEntry(fcinfo, false, K_PAYOUT, proj, 6);
}

Datum
mlm_member_results(PG_FUNCTION_ARGS)
{
	static const int proj[] = {C_MEMBER, C_PV, C_GV, C_ACTIVE, C_RANK, C_AMOUNT,
		C_QUALIFIED_RANK, C_PAID_AS_RANK, C_TITLE_RANK, C_GRACE, C_CPV, C_CUSTOMERS,
	C_RV, C_MEMBER_TYPE};

	return ComputeEntry(fcinfo, false, K_MEMBER, proj, 6);
}

Datum
mlm_lines(PG_FUNCTION_ARGS)
{
	static const int proj[] = {C_MEMBER, C_BONUS, C_SOURCE, C_LEVEL, C_BASE, C_RATE, C_AMOUNT};

	return ComputeEntry(fcinfo, false, K_LINE, proj, 6);
}

Datum
mlm_carry_out(PG_FUNCTION_ARGS)
{
	static const int proj[] = {C_MEMBER, C_CARRY_LEFT, C_CARRY_RIGHT};

	return ComputeEntry(fcinfo, false, K_CARRY, proj, 6);
}

Datum
mlm_state_out(PG_FUNCTION_ARGS)
{
	static const int proj[] = {C_MEMBER, C_CARRY_LEFT, C_CARRY_RIGHT, C_TITLE_RANK,
	C_PAID_AS_RANK, C_GRACE, C_BALANCE_OUT};

	return ComputeEntry(fcinfo, false, K_STATE, proj, 6);
}

Datum
mlm_payables(PG_FUNCTION_ARGS)
{
	static const int proj[] = {C_MEMBER, C_BALANCE_IN, C_EARNED, C_PAID, C_BALANCE_OUT};

	return ComputeEntry(fcinfo, false, K_PAYABLE, proj, 6);
}

static void SourceArgs(FunctionCallInfo fcinfo, ComputeArgs *args, const char *const *names,
					   const int *required, int nrequired);

/*
 * mlm._compute_source(plan, members, volumes, period_column, period_label,
 * period_start, period_end, time_zone, carry, with_lines, read_as_owner,
 * kinds): the computation of mlm.close, mlm.preview and mlm.totals.  The
 * period's volume rows are selected here (see PeriodCondition), and with
 * read_as_owner each relation is read as its owner inside a
 * security-restricted operation, so a close (SECURITY DEFINER) never runs a
 * table's code with the extension owner's rights.  The grand total row has
 * typed columns: input counts and checksum, total CV, cap limit, snapshot.
 */
Datum
mlm_compute_source(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ComputeArgs args;
	MlmOut		out;
	static const int required[] = {0, 1, 2, 5, 6, 10};
	static const char *const names[] = {
		"plan", "members", "volumes", "period_column", "period_label", "period_start",
		"period_end", "time_zone", "carry", "with_lines", "read_as_owner", "kinds"
	};

	SourceArgs(fcinfo, &args, names, required, lengthof(required));
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	if (rsinfo->setDesc->natts != C_NCOLS)
		elog(ERROR, "mlm._compute_source must return %d columns", C_NCOLS);
	args.src.read_as_owner = PG_GETARG_BOOL(10);
	if (PG_NARGS() > 11 && !PG_ARGISNULL(11))
		args.kinds = ParseKinds(PG_GETARG_TEXT_PP(11));
	OutInit(&out, rsinfo, NULL, false);
	Compute(&args, &out);
	return (Datum) 0;
}

/*
 * mlm._check_inputs(members, volumes, carry, period_column): the input
 * contract of a source, checked without reading a row, with the errors a
 * computation would raise; 'label' when the period column holds labels,
 * else 'date'.  The one home of the contract: registration and every close
 * call it.
 */
Datum
mlm_check_inputs(PG_FUNCTION_ARGS)
{
	static const char *const names[] = {"members", "volumes"};

	MlmRequireArgs(fcinfo, lengthof(names), names);
	if (PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("argument period_column must not be null")));
	PG_RETURN_TEXT_P(cstring_to_text(MlmCheckInputColumns(PG_GETARG_OID(0), PG_GETARG_OID(1),
														  PG_ARGISNULL(2) ? InvalidOid : PG_GETARG_OID(2),
														  text_to_cstring(PG_GETARG_TEXT_PP(3)))
									 ? "label" : "date"));
}

/*
 * The first ten arguments of mlm._compute_source and mlm._close_source:
 * (plan, members, volumes, period_column, period_label, period_start,
 * period_end, time_zone, carry, with_lines); required[] names those that
 * must not be NULL.
 */
static void
SourceArgs(FunctionCallInfo fcinfo, ComputeArgs *args, const char *const *names,
		   const int *required, int nrequired)
{
	int			a;

	for (a = 0; a < nrequired; a++)
		if (PG_ARGISNULL(required[a]))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("argument %s must not be null", names[required[a]])));
	CheckPeriodDates(PG_GETARG_DATEADT(5), PG_GETARG_DATEADT(6));
	memset(args, 0, sizeof(ComputeArgs));
	args->plan = MlmPlanParse(PG_GETARG_JSONB_P(0), NULL);
	args->src.members = PG_GETARG_OID(1);
	args->src.volumes = PG_GETARG_OID(2);
	args->src.period_column = PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3));
	args->src.period_label = PG_ARGISNULL(4) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(4));
	args->src.period_start = PG_GETARG_DATEADT(5);
	args->src.period_end = PG_GETARG_DATEADT(6);
	args->src.time_zone = PG_ARGISNULL(7) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(7));
	args->src.carry = PG_ARGISNULL(8) ? InvalidOid : PG_GETARG_OID(8);
	PlanSources(args);
	args->kinds = K_PAYOUT | K_MEMBER | K_CARRY | K_TOTAL;
	if (!PG_ARGISNULL(9) && PG_GETARG_BOOL(9))
		args->kinds |= K_LINE;
}

/*
 * mlm._close_source(plan, members, volumes, period_column, period_label,
 * period_start, period_end, time_zone, carry, with_lines, run_id): the
 * computation of mlm.close, its rows written straight into the run tables
 * of draft run_id (close_write.c); returns one row with the row counts and
 * the grand total.  Always reads as the relations' owners (a close).
 */
Datum
mlm_close_source(PG_FUNCTION_ARGS)
{
	ComputeArgs args;
	TupleDesc	desc;
	MemoryContext call_cxt,
				engine_cxt;
	MlmTreeHeader *tree;
	HeapTuple	result;
	static const int required[] = {0, 1, 2, 3, 5, 6, 9, 10};
	static const char *const names[] = {
		"plan", "members", "volumes", "period_column", "period_label", "period_start",
		"period_end", "time_zone", "carry", "with_lines", "run_id"
	};

	SourceArgs(fcinfo, &args, names, required, lengthof(required));
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "mlm._close_source must return a row");
	args.src.read_as_owner = true;
	args.close_desc = BlessTupleDesc(desc);

	/*
	 * Everything of the computation goes into its own context, deleted
	 * before the snapshot is copied into the result row: the copy (20 bytes
	 * a member) then never adds to the computation's peak.
	 */
	call_cxt = CurrentMemoryContext;
	engine_cxt = AllocSetContextCreate(call_cxt, "mlm close", ALLOCSET_DEFAULT_SIZES);
	args.src.tree_cxt = call_cxt;
	MemoryContextSwitchTo(engine_cxt);
	args.writer = MlmCloseWriterBegin(get_func_namespace(fcinfo->flinfo->fn_oid),
									  PG_GETARG_INT64(10), (args.kinds & K_LINE) != 0);
	Compute(&args, NULL);
	MemoryContextSwitchTo(call_cxt);
	result = heap_copytuple(args.close_result);	/* a few counts and totals */
	tree = args.close_tree;
	MemoryContextDelete(engine_cxt);
	result = MlmCloseResultSnapshot(result, args.close_desc, tree);
	if (tree)
		pfree(tree);
	PG_RETURN_DATUM(HeapTupleGetDatum(result));
}

/*
 * mlm._delete_run_rows(run_id): delete every result row of a draft run
 * (a re-close or a discard); returns how many.
 */
Datum
mlm_delete_run_rows(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("argument run_id must not be null")));
	PG_RETURN_INT64(MlmCloseDeleteRows(get_func_namespace(fcinfo->flinfo->fn_oid),
									   PG_GETARG_INT64(0)));
}
