/*
 * close_keep.c
 *	  A re-close keeps what did not change (see close_keep.h).  The rows of
 *	  the draft's earlier close are read through the run_id prefix of the
 *	  table's primary key, in key order, beside the new rows: an old row
 *	  whose key and values equal a new row's stays where it is (nothing
 *	  written, no index entry), an old row with no equal new row is
 *	  deleted, and only new rows without an equal old row are written.
 *	  What readers see is the same as with delete and insert: the old rows
 *	  until the transaction commits, then exactly the new ones; a re-close
 *	  of unchanged inputs writes nothing but the run header.  Correctness
 *	  does not depend on the two orders agreeing: a new row that finds no
 *	  old row is written, an old row that finds none is deleted.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/relscan.h"
#include "access/skey.h"
#include "access/stratnum.h"
#include "access/tableam.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "close_keep.h"

/* an old row of a grouped table, read ahead */
typedef struct MlmOldRow
{
	HeapTuple	tuple;
	bool		used;			/* matched by a new row */
} MlmOldRow;

static void OldNext(MlmOldRows *o);

/* Start reading the run's old rows of a table (close_keep.h). */
void
MlmOldRowsBegin(MlmOldRows *o, Relation rel, TupleDesc desc, const AttrNumber *attno,
				int ncols, bool grouped, int key, int sub, int64 run_id,
				Snapshot snapshot, MemoryContext cxt)
{
	Oid			pkey = RelationGetPrimaryKeyIndex(rel);
	ScanKeyData skey;
	MemoryContext old = MemoryContextSwitchTo(cxt);

	memset(o, 0, sizeof(MlmOldRows));
	o->rel = rel;
	o->desc = desc;
	o->attno = attno;
	o->ncols = ncols;
	o->grouped = grouped;
	o->key = key;
	o->sub = sub;
	o->snapshot = snapshot;
	o->cxt = cxt;
	if (!OidIsValid(pkey))
		elog(ERROR, "%s has no primary key", RelationGetRelationName(rel));
	o->pk = index_open(pkey, RowExclusiveLock);
	if (o->pk->rd_index->indkey.values[0] != attno[0])	/* run_id */
		elog(ERROR, "the primary key of %s does not start with run_id", RelationGetRelationName(rel));
	ScanKeyInit(&skey, 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(run_id));
	o->scan = index_beginscan(rel, o->pk, snapshot, 1, 0);
	index_rescan(o->scan, &skey, 1, NULL, 0);
	o->slot = table_slot_create(rel, NULL);
	o->group_slot = MakeSingleTupleTableSlot(desc, &TTSOpsHeapTuple);
	o->match_cxt = AllocSetContextCreate(cxt, "mlm close old rows", ALLOCSET_SMALL_SIZES);
	MemoryContextSwitchTo(old);
	OldNext(o);
}

/*
 * Advance to the next old row (have false at the end), in the writer's
 * long-lived context: the index scan allocates state as it goes (the btree's list
 * of items to mark dead), which must outlive the contexts reset per row.
 */
static void
OldNext(MlmOldRows *o)
{
	MemoryContext old = MemoryContextSwitchTo(o->cxt);

	o->have = index_getnext_slot(o->scan, ForwardScanDirection, o->slot);
	MemoryContextSwitchTo(old);
}

/* The int8 value of column c (of TableCols) of a row. */
static int64
RowInt8(MlmOldRows *o, TupleTableSlot *slot, int c)
{
	bool		isnull;
	Datum		d = slot_getattr(slot, o->attno[c], &isnull);

	if (isnull)
		elog(ERROR, "a row of a run table has a null key");
	return DatumGetInt64(d);
}

/* One old row dealt with (kept or deleted); every so often, interrupts. */
static void
Progress(MlmOldRows *o)
{
	if ((++o->work & 0x3FFF) == 0)
		CHECK_FOR_INTERRUPTS();
}

/* Delete an old row. */
static void
DeleteOld(MlmOldRows *o, ItemPointer tid)
{
	simple_table_tuple_delete(o->rel, tid, o->snapshot);
	o->deleted++;
	Progress(o);
}

/* Delete the old row at hand and read the next. */
static void
DropOld(MlmOldRows *o)
{
	DeleteOld(o, &o->slot->tts_tid);
	OldNext(o);
}

/*
 * Whether column c (of TableCols) holds the same value in both rows: equal
 * bytes, whatever the varlena header (a stored short value against one
 * just built).
 */
static bool
SameValue(MlmOldRows *o, TupleTableSlot *a, TupleTableSlot *b, int c)
{
	AttrNumber	att = o->attno[c];
	Form_pg_attribute form = TupleDescAttr(o->desc, att - 1);
	bool		anull,
				bnull;
	Datum		x = slot_getattr(a, att, &anull);
	Datum		y = slot_getattr(b, att, &bnull);
	struct varlena *vx,
			   *vy;

	if (anull || bnull)
		return anull && bnull;
	if (form->attlen != -1)
		return datumIsEqual(x, y, form->attbyval, form->attlen);
	vx = pg_detoast_datum_packed((struct varlena *) DatumGetPointer(x));
	vy = pg_detoast_datum_packed((struct varlena *) DatumGetPointer(y));
	return VARSIZE_ANY_EXHDR(vx) == VARSIZE_ANY_EXHDR(vy) &&
		memcmp(VARDATA_ANY(vx), VARDATA_ANY(vy), VARSIZE_ANY_EXHDR(vx)) == 0;
}

/* Whether two rows agree on every column the writer fills. */
static bool
SameRow(MlmOldRows *o, TupleTableSlot *a, TupleTableSlot *b)
{
	MemoryContext old = MemoryContextSwitchTo(o->match_cxt);
	bool		same = true;
	int			c;

	for (c = 0; c < o->ncols && same; c++)
		same = SameValue(o, a, b, c);
	MemoryContextSwitchTo(old);
	return same;
}

/* A grouped table: delete the old rows of the group no new row matched. */
static void
CloseGroup(MlmOldRows *o)
{
	int			i;

	for (i = 0; i < o->ngroup; i++)
		if (!o->group[i].used)
			DeleteOld(o, &o->group[i].tuple->t_self);
	o->ngroup = 0;
	o->group_open = false;
	ExecClearTuple(o->group_slot);
	MemoryContextReset(o->match_cxt);
}

/* The new row against the old rows (close_keep.h). */
bool
MlmOldRowsKeep(MlmOldRows *o, TupleTableSlot *slot)
{
	int64		key = RowInt8(o, slot, o->key);
	int			i;

	if (!o->grouped)
	{
		int			sub = o->sub;
		int64		subkey = sub >= 0 ? RowInt8(o, slot, sub) : 0;

		while (o->have)
		{
			int64		okey = RowInt8(o, o->slot, o->key);
			int64		osub = sub >= 0 ? RowInt8(o, o->slot, sub) : 0;

			if (okey > key || (okey == key && osub > subkey))
				break;
			if (okey == key && osub == subkey)
			{
				bool		same = SameRow(o, o->slot, slot);

				MemoryContextReset(o->match_cxt);
				if (same)
				{
					Progress(o);
					OldNext(o);
				}
				else
					DropOld(o);
				return same;
			}
			DropOld(o);
		}
		return false;
	}

	/* grouped: read the old rows of this key once */
	if (!o->group_open || o->group_key != key)
	{
		MemoryContext old;

		CloseGroup(o);
		while (o->have && RowInt8(o, o->slot, o->key) < key)
			DropOld(o);
		while (o->have && RowInt8(o, o->slot, o->key) == key)
		{
			if (o->ngroup == o->maxgroup)
			{
				/* a member's payouts: as many as the plan has bonuses */
				int			newmax = Max(8, o->maxgroup * 2);

				o->group = o->group == NULL
					? MemoryContextAlloc(o->cxt, sizeof(MlmOldRow) * newmax)
					: repalloc(o->group, sizeof(MlmOldRow) * newmax);
				o->maxgroup = newmax;
			}
			old = MemoryContextSwitchTo(o->match_cxt);
			o->group[o->ngroup].tuple = ExecCopySlotHeapTuple(o->slot);
			MemoryContextSwitchTo(old);
			o->group[o->ngroup++].used = false;
			OldNext(o);
		}
		o->group_key = key;
		o->group_open = true;
	}
	for (i = 0; i < o->ngroup; i++)
	{
		MemoryContext old;
		bool		same;

		if (o->group[i].used)
			continue;
		ExecStoreHeapTuple(o->group[i].tuple, o->group_slot, false);
		old = MemoryContextSwitchTo(o->match_cxt);
		same = SameValue(o, o->group_slot, slot, o->sub);
		MemoryContextSwitchTo(old);
		if (!same)
			continue;
		o->group[i].used = true;
		same = SameRow(o, o->group_slot, slot);
		if (same)
			Progress(o);
		else
			DeleteOld(o, &o->group[i].tuple->t_self);
		return same;
	}
	return false;
}

/* Delete the old rows no new row matched and end the scan. */
int64
MlmOldRowsEnd(MlmOldRows *o)
{
	if (o->grouped)
		CloseGroup(o);
	while (o->have)
		DropOld(o);
	index_endscan(o->scan);
	ExecDropSingleTupleTableSlot(o->slot);
	ExecDropSingleTupleTableSlot(o->group_slot);
	index_close(o->pk, NoLock);
	MemoryContextDelete(o->match_cxt);
	return o->deleted;
}

