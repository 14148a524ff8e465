/*
 * network.h
 *	  One period's network in memory, as the loader builds it from the
 *	  caller's relations (or a stored mlm.tree): read-only for every layer
 *	  above.
 *
 * Members are held in sponsor preorder (the mlm.tree layout): parent[i] < i,
 * so a forward loop is top-down and a backward loop is bottom-up, and every
 * per-member quantity is an array indexed by preorder position.
 */
#ifndef MLM_NETWORK_H
#define MLM_NETWORK_H

#include "postgres.h"
#include "utils/date.h"

#include "decimal.h"
#include "tree.h"

/* Where the inputs come from. */
typedef struct MlmSources
{
	Oid			members;		/* relation with id, sponsor_id, ... */
	MlmTreeHeader *snapshot;	/* or the members of a stored mlm.tree */
	Oid			volumes;		/* relation with member_id, pv, cv[, rv] */
	Oid			carry;			/* the previous state (spec 13.2): member_id
								 * and any of carry_left, carry_right,
								 * title_rank, paid_as_rank, grace, balance;
								 * or InvalidOid */
	DateADT		period_start;
	DateADT		period_end;
	int			placement_width;	/* 2 for binary plans, 0 = any */
	bool		need_placement; /* plan uses the placement tree */
	/* volumes of the period only: NULL column = every row (preview) */
	const char *period_column;
	const char *period_label;	/* compared with a text period column */
	const char *time_zone;		/* cuts timestamptz periods (required for them) */
	bool		read_as_owner;	/* read each relation as its owner (close) */
	/*
	 * Where the snapshot (MlmNet.tree) is allocated, when it must outlive
	 * the computation's other memory (a close frees that before it returns
	 * the snapshot); NULL: the current context, like everything else.
	 */
	MemoryContext tree_cxt;
	/*
	 * The engine (not the aggregates): read member_type, payout_hold and rv,
	 * fold customers into their distributors (spec 12), and read the
	 * state's rank names against these.
	 */
	bool		customers;
	bool		use_carry;		/* the state's carry columns count (binary) */
	int			nranks;
	char	  **rank_names;
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

	/*
	 * Customers (spec 12), folded by the loader: pv and cv above are PV' and
	 * CV' (a distributor's own volume and its customers'; 0 for a customer).
	 * All NULL when no member is a customer: then pv and cv are the own
	 * volumes.
	 */
	bool	   *customer;
	mlm_dec    *own_pv;			/* the member's own PV and CV */
	mlm_dec    *own_cv;
	int32	   *ncustomers;		/* customers with PV > 0 folded into it */
	int32		ncustomer;		/* customers in the network */
	bool	   *hold;			/* payout_hold, NULL when nobody has one */
	mlm_dec    *rv;				/* VOL scale, NULL without an rv column */

	/* the previous state (spec 13.2), NULL without a state relation */
	int16	   *title_in;		/* rank indexes, 0 when absent */
	int16	   *paid_as_in;
	int32	   *grace_in;
	mlm_dec    *balance_in;		/* VOL scale */
	int64		member_rows;
	int64		volume_rows;
	int64		carry_rows;
	uint64		input_hash;		/* of members, volumes and carry */
	/* placement tree parents-first (NULL without placement or need) */
	int32	   *porder;
	int32		porder_len;
} MlmNet;

#define MLM_NO_DATE PG_INT32_MIN

/* Read, check and assemble the network (spec sections 1, 2). */
extern MlmNet *MlmLoadNetwork(const MlmSources *src);

/*
 * The input contract alone, without reading a row: the columns of the
 * members, volumes and (optional) carry relations, and the type of the
 * volumes' period column (returns true when it holds labels).  The same
 * checks, with the same errors, as a computation makes.
 */
extern bool MlmCheckInputColumns(Oid members, Oid volumes, Oid carry,
								 const char *period_column);

/*
 * GV of every member straight from the rows when ids arrive ascending and
 * sponsors come first; false (nothing computed) otherwise.
 */
extern bool MlmGroupVolumeFast(Oid members, Oid volumes, int64 **ids,
							   mlm_dec **gv, int32 *n);

#endif
