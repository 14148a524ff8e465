/*
 * bonus.h
 *	  The bonus modules (spec section 5).  Each is a pure function of the
 *	  read-only network, the derived quantities and its plan entry: it pays
 *	  into the sink it is handed and touches nothing else (the binary bonus
 *	  also writes its carry-out arrays, which the context hands it).
 */
#ifndef MLM_BONUS_H
#define MLM_BONUS_H

#include "postgres.h"
#include "utils/date.h"

#include "decimal.h"
#include "derived.h"
#include "network.h"
#include "plan.h"
#include "sink.h"

/* What a bonus may read, and the carry-out it may write. */
typedef struct MlmBonusContext
{
	const MlmPlan *plan;
	const MlmNet *net;

	/*
	 * The derived quantities as the bonuses see them: d->rank is the
	 * paid-as rank (spec 11: every rank condition of a bonus reads it);
	 * the qualified rank stays with the engine.
	 */
	const MlmDerived *d;

	/*
	 * The rank at which per-rank bonus values are read (spec 5.4: the
	 * paid-as rank of section 11).  Without rank_policy paid-as equals the
	 * qualified rank, so the engine hands d->rank; rank_policy replaces
	 * this array and nothing else.
	 */
	const int  *paid_as_rank;
	DateADT		period_end;		/* fast start */
	mlm_dec		total_cv;		/* pool, VOL scale */
	const mlm_dec *earnings;	/* matching: rounded earnings, VOL scale */
	mlm_dec    *carry_out_left; /* binary: carry-out, VOL scale */
	mlm_dec    *carry_out_right;
} MlmBonusContext;

typedef void (*MlmBonusFn) (const MlmBonusContext *cx, const MlmBonus *b,
							MlmLineSink *sink);

/* One entry of the table of bonus types, indexed by MlmBonusType. */
typedef struct MlmBonusKind
{
	MlmBonusType type;
	MlmBonusFn	fn;
	bool		on_earnings;	/* runs after the others, on their payouts */
} MlmBonusKind;

extern const MlmBonusKind MlmBonusKinds[];

extern void MlmBonusPersonal(const MlmBonusContext *cx, const MlmBonus *b, MlmLineSink *sink);
extern void MlmBonusUnilevel(const MlmBonusContext *cx, const MlmBonus *b, MlmLineSink *sink);
extern void MlmBonusMatching(const MlmBonusContext *cx, const MlmBonus *b, MlmLineSink *sink);
extern void MlmBonusFastStart(const MlmBonusContext *cx, const MlmBonus *b, MlmLineSink *sink);
extern void MlmBonusDifferential(const MlmBonusContext *cx, const MlmBonus *b, MlmLineSink *sink);
extern void MlmBonusPool(const MlmBonusContext *cx, const MlmBonus *b, MlmLineSink *sink);
extern void MlmBonusRankAdvancement(const MlmBonusContext *cx, const MlmBonus *b, MlmLineSink *sink);
extern void MlmBonusBinary(const MlmBonusContext *cx, const MlmBonus *b, MlmLineSink *sink);

#endif
