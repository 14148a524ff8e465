/*
 * results.h
 *	  The values of a period's per-member results (spec 8, 11 to 13): member
 *	  results with the three ranks and customer volume, the state handed to
 *	  the next period and the payables.  One home for both writers, the
 *	  engine's result rows and the close's run tables.
 */
#ifndef MLM_RESULTS_H
#define MLM_RESULTS_H

#include "postgres.h"

#include "decimal.h"
#include "derived.h"
#include "network.h"
#include "payout.h"
#include "plan.h"

/* Everything one period produced, read-only for the writers. */
typedef struct MlmOutcome
{
	const MlmPlan *plan;
	const MlmNet *net;
	const MlmDerived *d;		/* rank = qualified; paid_as, title, grace */
	const MlmLedger *ledger;
	const mlm_dec *carry_l;		/* NULL without a binary bonus */
	const mlm_dec *carry_r;
	Datum	   *rank_names;		/* text datums */
	Datum		distributor;	/* the member_type words */
	Datum		customer;
	Datum		zero_volume;	/* 0 as a volume (0.00) and as money: most */
	Datum		zero_money;		/* customer volumes, RVs and balances are 0 */
} MlmOutcome;

/* Columns of a member result, after member_id. */
enum
{
	MR_PV, MR_GV, MR_ACTIVE, MR_RANK, MR_AMOUNT, MR_QUALIFIED, MR_PAID_AS,
	MR_TITLE, MR_GRACE, MR_CPV, MR_CUSTOMERS, MR_RV, MR_TYPE, MR_NCOLS
};

/* Columns of a state row, after member_id (spec 13.2). */
enum
{
	ST_CARRY_LEFT, ST_CARRY_RIGHT, ST_TITLE, ST_PAID_AS, ST_GRACE, ST_BALANCE,
	ST_NCOLS
};

/* Columns of a payables row, after member_id (spec 13.1). */
enum
{
	PY_BALANCE_IN, PY_EARNED, PY_PAID, PY_BALANCE_OUT, PY_NCOLS
};

/* Fill the rank names and words (in the current memory context). */
extern void MlmOutcomeInit(MlmOutcome *o, const MlmPlan *plan, const MlmNet *net,
						   const MlmDerived *d, const MlmLedger *ledger,
						   const mlm_dec *carry_l, const mlm_dec *carry_r);

/* Member i's result values (numerics built in the current context). */
extern void MlmMemberValues(const MlmOutcome *o, int32 i, Datum *v, bool *nulls);

/* Member i's state out; false when it has nothing to carry. */
extern bool MlmStateValues(const MlmOutcome *o, int32 i, Datum *v, bool *nulls);

/* Member i's payables; false when all four are zero. */
extern bool MlmPayableValues(const MlmOutcome *o, int32 i, Datum *v, bool *nulls);

#endif
