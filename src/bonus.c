/*
 * bonus.c
 *	  The table of bonus types: which module computes each type, and which
 *	  types pay on the other bonuses' payouts.  A new bonus type is a module
 *	  file, a line here and its entry in the plan parser.
 */
#include "postgres.h"

#include "bonus.h"

const MlmBonusKind MlmBonusKinds[] = {
	[MLM_BONUS_PERSONAL] = {MLM_BONUS_PERSONAL, MlmBonusPersonal, false},
	[MLM_BONUS_UNILEVEL] = {MLM_BONUS_UNILEVEL, MlmBonusUnilevel, false},
	[MLM_BONUS_DIFFERENTIAL] = {MLM_BONUS_DIFFERENTIAL, MlmBonusDifferential, false},
	[MLM_BONUS_BINARY] = {MLM_BONUS_BINARY, MlmBonusBinary, false},
	[MLM_BONUS_MATCHING] = {MLM_BONUS_MATCHING, MlmBonusMatching, true},
	[MLM_BONUS_FAST_START] = {MLM_BONUS_FAST_START, MlmBonusFastStart, false},
	[MLM_BONUS_POOL] = {MLM_BONUS_POOL, MlmBonusPool, false},
	[MLM_BONUS_RANK_ADVANCEMENT] = {MLM_BONUS_RANK_ADVANCEMENT, MlmBonusRankAdvancement, false},
};
