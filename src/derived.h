/*
 * derived.h
 *	  Quantities derived from the network and the plan's rules (spec
 *	  sections 3 and 4): activity, group volume, active frontline, rank.
 *	  Computed once, read-only for the bonus modules.
 */
#ifndef MLM_DERIVED_H
#define MLM_DERIVED_H

#include "postgres.h"

#include "decimal.h"
#include "network.h"
#include "plan.h"

typedef struct MlmDerived
{
	bool	   *active;
	int		   *rank;			/* qualified rank index, 0 for inactive */
	mlm_dec    *gv;				/* VOL scale; a customer's: its own subtree's PV */
	int32	   *active_frontline;	/* freed once the ranks are known */
	/* ranks across periods (spec 11), set by MlmComputeRanksAcross */
	int		   *paid_as;		/* what every rank condition of a bonus reads */
	int		   *title;			/* highest rank reached (the qualified rank
								 * array itself without a state) */
	int32	   *grace;			/* NULL: 0 for every member */
} MlmDerived;

/*
 * Derive every quantity: active_min_pv NULL means no PV rule; ranks NULL
 * (nranks 0) means every member keeps rank 0.
 */
extern void MlmComputeDerived(const MlmNet *net, const mlm_dec *active_min_pv,
							  const MlmRank *ranks, int nranks, MlmDerived *d);

/*
 * Paid-as rank, grace and title from the qualified ranks and the previous
 * state (spec 11).  Without rank_policy paid_as is the qualified rank
 * array itself.
 */
extern void MlmComputeRanksAcross(const MlmNet *net, const MlmPlan *plan, MlmDerived *d);

#endif
