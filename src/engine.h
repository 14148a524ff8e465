/*
 * engine.h
 *	  One period's network in memory and the commission engine over it.
 *
 * Members are held in sponsor preorder (the mlm.tree layout): parent[i] < i,
 * so a forward loop is top-down and a backward loop is bottom-up, and every
 * per-member quantity is an array indexed by preorder position.
 */
#ifndef MLM_ENGINE_H
#define MLM_ENGINE_H

#include "postgres.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/date.h"
#include "utils/tuplestore.h"

#include "decimal.h"
#include "plan.h"
#include "tree.h"

/* Where the inputs come from. */
typedef struct MlmSources
{
	Oid			members;		/* relation with id, sponsor_id, ... */
	MlmTreeHeader *snapshot;	/* or the members of a stored mlm.tree */
	Oid			volumes;		/* relation with member_id, pv, cv[, rv] */
	Oid			carry;			/* relation with member_id, carry_left,
								 * carry_right, or InvalidOid */
	DateADT		period_start;
	DateADT		period_end;
	int			placement_width;	/* 2 for binary plans, 0 = any */
	bool		need_placement; /* plan uses the placement tree */
	/* volumes of the period only: NULL column = every row (preview) */
	const char *period_column;
	const char *period_label;	/* compared with a text period column */
	const char *time_zone;		/* cuts timestamptz periods; NULL: session */
	bool		read_as_owner;	/* read each relation as its owner (close) */
} MlmSources;

/* The network of one period. */
typedef struct MlmNet
{
	int32		n;
	MlmTreeHeader *tree;		/* validated snapshot */
	MlmTreeView v;				/* ids, parent, size, byid, pparent, ppos */
	int32	   *depth;			/* sponsor depth */
	bool	   *status;			/* active_status (null = true) */
	int32	   *joined;			/* DateADT, or MLM_NO_DATE */
	mlm_dec    *pv;				/* VOL scale, summed */
	mlm_dec    *cv;
	mlm_dec    *carry_left;		/* VOL scale, NULL without carry input */
	mlm_dec    *carry_right;
	int64		member_rows;
	int64		volume_rows;
	int64		carry_rows;
	uint64		input_hash;		/* of members, volumes and carry */
	/* placement tree order (parents first), built on demand */
	int32	   *porder;
	int32		porder_len;
} MlmNet;

#define MLM_NO_DATE PG_INT32_MIN

extern MlmNet *MlmLoadNetwork(const MlmSources *src);
extern bool MlmGroupVolumeFast(Oid members, Oid volumes, int64 **ids,
							   mlm_dec **gv, int32 *n);
extern void MlmNetPlacementOrder(MlmNet *net);

/* Quantities derived from the network and the plan (spec section 3, 4). */
typedef struct MlmDerived
{
	bool	   *active;
	int		   *rank;			/* rank index, 0 for inactive */
	mlm_dec    *gv;				/* VOL scale */
	int32	   *active_frontline;
} MlmDerived;

extern void MlmComputeDerived(const MlmPlan *plan, const MlmNet *net, MlmDerived *d);

/*
 * A sink for the audit lines and per-(member, bonus) sums of one bonus.
 * sum[] is at MLM_AMT_SCALE, indexed by member.
 */
typedef struct MlmLineSink
{
	const MlmNet *net;
	const char *bonus_name;
	mlm_dec    *sum;			/* exact sum per recipient */
	bool	   *touched;		/* recipient has at least one line */
	/* emit audit lines when set, into out */
	bool		lines;
	const struct MlmOut *out;
} MlmLineSink;

/* Record a line: recipient, source (-1 = null), level (-1 = null). */
extern void MlmEmitLine(MlmLineSink *sink, int32 recipient, int32 source,
						int32 level, mlm_dec base, int base_scale,
						mlm_dec rate, int rate_scale, mlm_dec amount);

/* The same with base and rate already as numeric datums (0 = no lines). */
extern void MlmEmitLineDatum(MlmLineSink *sink, int32 recipient, int32 source,
							 int32 level, Datum base, Datum rate, mlm_dec amount);

/* Per-bonus computations; each adds its lines to the sink. */
extern void MlmBonusPersonal(const MlmPlan *plan, const MlmBonus *b,
							 const MlmNet *net, const MlmDerived *d,
							 MlmLineSink *sink);
extern void MlmBonusUnilevel(const MlmPlan *plan, const MlmBonus *b,
							 MlmNet *net, const MlmDerived *d,
							 MlmLineSink *sink);
extern void MlmBonusMatching(const MlmPlan *plan, const MlmBonus *b,
							 const MlmNet *net, const MlmDerived *d,
							 const mlm_dec *earnings, MlmLineSink *sink);
extern void MlmBonusFastStart(const MlmPlan *plan, const MlmBonus *b,
							  const MlmNet *net, const MlmDerived *d,
							  DateADT period_end, MlmLineSink *sink);
extern void MlmBonusDifferential(const MlmPlan *plan, const MlmBonus *b,
								 const MlmNet *net, const MlmDerived *d,
								 MlmLineSink *sink);
extern void MlmBonusPool(const MlmPlan *plan, const MlmBonus *b,
						 const MlmNet *net, const MlmDerived *d,
						 mlm_dec total_cv, MlmLineSink *sink);
/* binary: also fills carry_out arrays (VOL scale) */
extern void MlmBonusBinary(const MlmPlan *plan, const MlmBonus *b,
						   MlmNet *net, const MlmDerived *d,
						   mlm_dec *carry_out_left, mlm_dec *carry_out_right,
						   MlmLineSink *sink);

/*
 * Walk the k-th ancestors of a member: with dynamic compression only
 * active ancestors count.  next[] is parent[] (none) or the nearest active
 * proper ancestor (dynamic), so one step is one array read.
 */
extern int32 *MlmNearestActiveAncestor(const int32 *parent, const int32 *order,
									   int32 norder, int32 n,
									   const bool *active);

#endif
