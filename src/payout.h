/*
 * payout.h
 *	  From exact sums to money (spec sections 6 and 7): each member's sum of
 *	  a bonus rounded once, the matched earnings, the totals and the global
 *	  cap.
 */
#ifndef MLM_PAYOUT_H
#define MLM_PAYOUT_H

#include "postgres.h"

#include "decimal.h"
#include "network.h"
#include "plan.h"
#include "sink.h"

/*
 * The non-zero rounded payouts of one bonus, in currency units: a sparse
 * list (most members earn nothing from most bonuses), so a plan with many
 * bonuses costs memory in proportion to what it pays.
 */
typedef struct MlmPayouts
{
	int32		count;
	int32	   *member;			/* preorder indexes, ascending */
	int64	   *units;
} MlmPayouts;

/* The cap's outcome and the totals of a run, in currency units. */
typedef struct MlmCapResult
{
	mlm_dec	   *bonus_before;	/* per bonus, before the cap */
	mlm_dec	   *bonus_after;	/* per bonus, after it */
	mlm_dec		total;			/* all bonuses before the cap */
	mlm_dec		limit;			/* the cap, when the plan has one */
	bool		capped;			/* the cap scaled the payouts down */
	mlm_dec    *paid;			/* per member, after the cap (exact: a sum of
								 * 64-bit payouts may exceed 64 bits) */
} MlmCapResult;

/* Round the sink's sums of one bonus; ids name a member out of range. */
extern void MlmRoundSums(const MlmPlan *plan, const MlmLineSink *sink,
						 const int64 *ids, MlmPayouts *out);

/* The rounded earnings of the bonuses a matching bonus matches, VOL scale. */
extern mlm_dec *MlmMatchedEarnings(const MlmPlan *plan, const MlmBonus *b,
								   const MlmPayouts *pay, int32 n);

/* Totals, then the global cap applied to pay in place (spec section 7). */
extern void MlmApplyCap(const MlmPlan *plan, MlmPayouts *pay, int32 n,
						mlm_dec total_cv, MlmCapResult *res);

/*
 * The payables ledger (spec 13.1), in currency units: what each member is
 * paid this period and what it owes or is owed forward.  Without the plan
 * key payout, paid is the earnings and no balance is kept.
 */
typedef struct MlmLedger
{
	const mlm_dec *balance_in;	/* NULL without payout */
	const mlm_dec *earned;		/* after the cap */
	mlm_dec    *paid;
	mlm_dec    *balance_out;	/* NULL without payout */
	mlm_dec		sum_in;
	mlm_dec		sum_paid;
	mlm_dec		sum_out;
} MlmLedger;

/* Pay out what reaches min_payout and is not on hold, keep the rest. */
extern void MlmApplyLedger(const MlmPlan *plan, const MlmNet *net,
						   const mlm_dec *earned, MlmLedger *lg);

#endif
