/*
 * close_keep.h
 *	  The rows a draft run already has in one result table, read back
 *	  beside the rows of its re-close: an old row equal to a new one is
 *	  kept, the others are deleted (close_keep.c).  Used by the close's
 *	  writer (close_write.c); knows tables only through what it is given.
 */
#ifndef MLM_CLOSE_KEEP_H
#define MLM_CLOSE_KEEP_H

#include "postgres.h"

#include "access/genam.h"
#include "executor/tuptable.h"
#include "utils/rel.h"
#include "utils/snapshot.h"

/*
 * One table's old rows.  key and sub are indexes into attno (the columns
 * the writer fills): "ordered" tables are written in the order of their
 * primary key (key, then sub: int8 columns, sub -1 for none) and both
 * streams are merged; "grouped" ones read the old rows of one key (a
 * member's payouts, the run's bonus totals: a few rows) and match a new
 * row by the equality of column sub.
 */
typedef struct MlmOldRows
{
	Relation	rel;
	TupleDesc	desc;
	const AttrNumber *attno;
	int			ncols;
	bool		grouped;
	int			key;
	int			sub;
	Snapshot	snapshot;
	MemoryContext cxt;			/* outlives the scan */
	Relation	pk;
	IndexScanDesc scan;
	TupleTableSlot *slot;		/* the next old row, when have */
	bool		have;
	struct MlmOldRow *group;	/* grouped: old rows of one key */
	int			ngroup;
	int			maxgroup;
	int64		group_key;
	bool		group_open;
	TupleTableSlot *group_slot;
	MemoryContext match_cxt;	/* group rows and detoasted values */
	int64		deleted;		/* old rows deleted so far */
	int64		work;			/* rows kept or deleted: interrupts */
} MlmOldRows;

/*
 * Start reading the rows of run_id in rel (whose primary key must lead with
 * attno[0], the run_id); allocations in cxt, reads with snapshot.
 */
extern void MlmOldRowsBegin(MlmOldRows *o, Relation rel, TupleDesc desc,
							const AttrNumber *attno, int ncols, bool grouped,
							int key, int sub, int64 run_id, Snapshot snapshot,
							MemoryContext cxt);

/*
 * The new row in slot against the old rows: true when an equal old row is
 * kept (the new one is not to be written).  Old rows ordered before it,
 * and an old row with its key but other values, are deleted on the way.
 */
extern bool MlmOldRowsKeep(MlmOldRows *o, TupleTableSlot *slot);

/*
 * Delete the old rows no new row matched and end the scan; Begin then End
 * deletes them all (a discard).  Returns how many were deleted.
 */
extern int64 MlmOldRowsEnd(MlmOldRows *o);

#endif
