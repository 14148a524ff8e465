/*
 * close_write.c
 *	  A close's rows written straight into the run tables (see
 *	  close_write.h): rows are built from the engine's result arrays into
 *	  table slots, inserted a batch at a time with table_multi_insert and
 *	  then entered into the tables' indexes (ExecInsertIndexTuples), the
 *	  way COPY FROM does it.  A re-close writes only the rows that are not
 *	  already there (close_keep.h); a discarded draft's rows are deleted
 *	  through the run_id prefix of each table's primary key.
 *
 * Every table is written in the order of its primary key, so each key
 * goes to the right edge of its index (nbtree's fast path: no descent from
 * the root, full pages): member and carry rows in ascending member id,
 * payouts merged over the bonuses in ascending member id, and audit lines,
 * numbered in the order the bonuses pay them (mlm.compute's order), sorted
 * by (member_id, line_no) in a tuplesort (maintenance_work_mem, then
 * temporary files) and packed (line_pack.h): consecutive lines of one
 * recipient and one bonus become one run_line_pack row, up to the size at
 * which a row would be TOASTed (WriteLines).
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/relscan.h"
#include "access/heapam.h"
#include "access/heaptoast.h"
#include "access/skey.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "catalog/pg_operator.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "storage/lock.h"
#include "utils/acl.h"
#include "port/pg_bitutils.h"
#include "port/pg_bswap.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/tuplesort.h"

#include "close_keep.h"
#include "close_write.h"
#include "line_pack.h"
#include "mlm.h"
#include "results.h"

/* rows buffered per table before a multi-insert (COPY uses 1000) */
#define BATCH_ROWS	1000

/* members ahead whose values are prefetched when visiting in id order */
#define PREFETCH_AHEAD 64

/* the result tables of a run and the columns the writer fills */
enum
{
	T_PAYOUT, T_MEMBER, T_CARRY, T_LINE, T_BONUS, T_STATE, T_PAYABLE, T_COUNT
};

#define MAX_COLS 14

/*
 * A packed line row stays below the size at which heap_insert would TOAST
 * it (compressing or moving its data out of line costs more than the row
 * saves): its data at most this much less the bonus name's length, the
 * rest of the row taking well under 96 bytes.
 */
#define PACK_DATA_BYTES (TOAST_TUPLE_THRESHOLD - 96)

/*
 * A line in the writer's sort is a bytea: the recipient's member id (sign
 * bit flipped) and the line number, big-endian, so that bytea order is
 * (member_id, line_no) order; the bonus's number; then the line as it is
 * packed (line_pack.h) less its line-number delta.
 */
#define LINE_KEY_BYTES	18

static const char *const TableNames[T_COUNT] = {
	"run_payout", "run_member", "run_carry", "run_line_pack", "run_bonus_total",
	"run_state", "run_payable"
};

/* run_member's columns after member_id are the member results' (results.h) */
static const char *const TableCols[T_COUNT][MAX_COLS + 1] = {
	{"run_id", "member_id", "bonus", "amount", NULL},
	{"run_id", "member_id", "pv", "gv", "active", "rank", "amount", "qualified_rank",
	"title_rank", "grace", "cpv", "customers", "rv", "member_type", NULL},
	{"run_id", "member_id", "carry_left", "carry_right", NULL},
	{"run_id", "member_id", "first_line", "bonus", "lines", "data", NULL},
	{"run_id", "bonus", "total_before_cap", "total_paid", NULL},
	{"run_id", "member_id", "carry_left", "carry_right", "title_rank", "paid_as_rank",
	"grace", "balance", NULL},
	{"run_id", "member_id", "balance_in", "earned", "paid", "balance_out", NULL}
};

/* which member-result value fills each run_member column after member_id */
static const int MemberValue[] = {
	MR_PV, MR_GV, MR_ACTIVE, MR_RANK, MR_AMOUNT, MR_QUALIFIED, MR_TITLE, MR_GRACE,
	MR_CPV, MR_CUSTOMERS, MR_RV, MR_TYPE
};

/* One result table being written. */
typedef struct OutTable
{
	Relation	rel;
	TupleDesc	desc;			/* a copy of rel's, for the slots */
	ResultRelInfo *rri;
	BulkInsertState bistate;
	int			ncols;
	AttrNumber	attno[MAX_COLS];	/* of each of TableCols, 1-based */
	bool		own_index_insert;	/* every index is a plain one (below) */
	IndexUniqueCheck *check;	/* per index: NO for unique keys led by run_id */
	TupleTableSlot *slots[BATCH_ROWS];
	int			nslots;			/* slots created */
	int			nbuf;			/* rows buffered */
	int64		rows;			/* rows of the run: written or kept */

	MlmOldRows	old;			/* a re-close: the draft's rows (close_keep.h) */
} OutTable;

/*
 * How a re-close finds the old row of a new row (close_keep.h): member,
 * carry, state and payables rows are written in ascending member id and
 * lines by (member_id, line_no), the order of their primary keys, so they
 * are merged; a member's payouts are written in the plan's order of
 * bonuses, not the index's order of their names, so they (and the bonus
 * totals) are matched by bonus name within their key.  Columns are indexes
 * into TableCols.
 */
static const struct
{
	bool		grouped;
	int			key;			/* an int8 column */
	int			sub;			/* ordered: an int8 column or -1;
								 * grouped: the column told apart by equality */
}			Match[T_COUNT] = {
	{true, 1, 2},				/* run_payout: member_id, bonus */
	{false, 1, -1},				/* run_member: member_id */
	{false, 1, -1},				/* run_carry */
	{false, 1, 2},				/* run_line_pack: member_id, first_line */
	{true, 0, 1},				/* run_bonus_total: run_id, bonus */
	{false, 1, -1},				/* run_state */
	{false, 1, -1}				/* run_payable */
};

/* a bonus name and its text datum (lines name their bonus by number) */
typedef struct BonusName
{
	const char *name;
	Datum		text;
} BonusName;

struct MlmCloseWriter
{
	int64		run_id;
	EState	   *estate;
	CommandId	cid;
	OutTable	t[T_COUNT];
	MemoryContext cxt;			/* the writer's own allocations */
	MemoryContext rowcxt;		/* values of rows being built */
	int			rowcxt_rows;
	const MlmNet *net;			/* names the members of line rows */
	Tuplesortstate *line_sort;	/* lines (LINE_KEY_BYTES), sorted by
								 * (member_id, line_no) */
	StringInfoData line_buf;	/* a line on its way into the sort */
	int64		lines;			/* lines numbered so far */
	bool		with_lines;
	BonusName  *bonus_text;		/* the bonuses lines named so far */
	int			nbonus_text;
	int			maxbonus_text;
};

/* The relation schema.name, checked to be a plain table the user may modify. */
static Oid
ResultTableOid(Oid nsp, const char *name, AclMode mode)
{
	Oid			relid = get_relname_relid(name, nsp);
	AclResult	acl;

	if (!OidIsValid(relid) || get_rel_relkind(relid) != RELKIND_RELATION)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table %s.%s is missing or is not a plain table",
						get_namespace_name(nsp), name)));
	acl = pg_class_aclcheck(relid, GetUserId(), mode);
	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_TABLE, name);
	return relid;
}

/*
 * The run must exist and be a draft; it is locked FOR UPDATE, so it stays
 * a draft until the transaction ends (finalize takes the same row lock).
 * This is what the statement triggers on the result tables check for every
 * other writer.
 */
static void
CheckDraftRun(Oid nsp, int64 run_id, const char *table)
{
	StringInfoData q;
	Oid			argtypes[1] = {INT8OID};
	Datum		args[1];
	int			rc;
	bool		isnull;
	char	   *status;
	char	   *nspname = get_namespace_name(nsp);

	initStringInfo(&q);
	appendStringInfo(&q,
					 "SELECT r.status, r.plan_name, r.period_label FROM %s.run r WHERE r.run_id OPERATOR(pg_catalog.=) $1 FOR UPDATE",
					 quote_identifier(nspname));
	args[0] = Int64GetDatum(run_id);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute_with_args(q.data, 1, argtypes, args, NULL, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading run %lld failed: %s", (long long) run_id, SPI_result_code_string(rc));
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
				 errmsg("insert into %s.%s refers to run %lld, which does not exist",
						nspname, table, (long long) run_id)));
	status = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (strcmp(status, "draft") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("run %lld (plan \"%s\", period \"%s\") is finalized: its rows in %s.%s cannot be changed",
						(long long) run_id,
						SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2),
						SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3),
						nspname, table),
				 errhint("Post corrections with mlm.adjust(run_id, member_id, amount, reason).")));
	SPI_finish();
}

/*
 * Where each column the writer fills is; any other column must be one it
 * may leave NULL (no NOT NULL, no default), so a column added to a run
 * table later cannot be skipped silently.
 */
static void
MapColumns(OutTable *t, int ti)
{
	TupleDesc	desc = RelationGetDescr(t->rel);
	bool		known[MaxHeapAttributeNumber] = {0};
	int			j,
				a;

	for (j = 0; TableCols[ti][j] != NULL; j++)
	{
		t->attno[j] = InvalidAttrNumber;
		for (a = 0; a < desc->natts; a++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, a);

			if (!att->attisdropped && strcmp(NameStr(att->attname), TableCols[ti][j]) == 0)
			{
				t->attno[j] = att->attnum;
				known[a] = true;
			}
		}
		if (t->attno[j] == InvalidAttrNumber)
			elog(ERROR, "column %s of %s is missing", TableCols[ti][j], TableNames[ti]);
	}
	t->ncols = j;
	for (a = 0; a < desc->natts; a++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, a);

		if (!att->attisdropped && !known[a] && (att->attnotnull || att->atthasdef))
			elog(ERROR, "the close writer does not know column %s of %s",
				 NameStr(att->attname), TableNames[ti]);
	}
}

/*
 * How the rows' index entries are made.  A unique index whose first column
 * is run_id (the primary keys) is unique within a run, and a close
 * guarantees that by construction: member ids, (member, bonus), line
 * numbers and bonus names are unique in its results, an old row of the
 * run with a new row's key is either kept (and the new row not written) or
 * deleted before it (close_keep.c), one close of a period runs at a time
 * (the period lock), and no other writer runs at the same time (the rows
 * lock, see TakeRowsLock).  So those entries are inserted without the
 * unique check, which on a re-close would find every old, deleted entry and
 * visit its heap tuple.  Any other index (another unique index, a partial, expression
 * or exclusion index someone added) goes through ExecInsertIndexTuples.
 */
static void
ClassifyIndexes(OutTable *t)
{
	ResultRelInfo *rri = t->rri;
	int			i;

	t->own_index_insert = true;
	t->check = palloc(sizeof(IndexUniqueCheck) * Max(rri->ri_NumIndices, 1));
	for (i = 0; i < rri->ri_NumIndices; i++)
	{
		Relation	ind = rri->ri_IndexRelationDescs[i];
		IndexInfo  *ii = rri->ri_IndexRelationInfo[i];

		if (ii->ii_Predicate != NIL || ii->ii_Expressions != NIL ||
			ii->ii_ExclusionOps != NULL || !ind->rd_index->indimmediate)
			t->own_index_insert = false;
		if (!ind->rd_index->indisunique)
			t->check[i] = UNIQUE_CHECK_NO;
		else if (ii->ii_IndexAttrNumbers[0] == t->attno[0])	/* run_id */
			t->check[i] = UNIQUE_CHECK_NO;
		else
			t->check[i] = UNIQUE_CHECK_YES;
	}
}

/* The index entries of one inserted row. */
static void
InsertIndexEntries(MlmCloseWriter *w, OutTable *t, TupleTableSlot *slot)
{
	ResultRelInfo *rri = t->rri;
	Datum		values[INDEX_MAX_KEYS];
	bool		isnull[INDEX_MAX_KEYS];
	int			i;

	if (!t->own_index_insert)
	{
		list_free(ExecInsertIndexTuples(rri, slot, w->estate, false, false, NULL, NIL));
		return;
	}
	for (i = 0; i < rri->ri_NumIndices; i++)
	{
		IndexInfo  *ii = rri->ri_IndexRelationInfo[i];

		if (!ii->ii_ReadyForInserts)
			continue;
		FormIndexDatum(ii, slot, w->estate, values, isnull);
		index_insert(rri->ri_IndexRelationDescs[i], values, isnull, &slot->tts_tid,
					 t->rel, t->check[i], false, ii);
	}
}

/*
 * The rows lock: a close holds it shared from before it reads the run
 * (mlm.close takes it first, so its snapshots see everything committed by
 * another writer), every other writer of the result tables exclusively (a
 * statement trigger, _run_rows_writer): closes never wait for each other,
 * and never write at the same time as anyone else.  Taken here as well for
 * a direct call (a no-op when mlm.close holds it).
 */
static void
TakeRowsLock(void)
{
	/* hashtextextended('mlm.run rows', 0): any deterministic collation */
	Datum		key = DirectFunctionCall2Coll(hashtextextended, C_COLLATION_OID,
											  CStringGetTextDatum("mlm.run rows"),
											  Int64GetDatum(0));

	DirectFunctionCall1(pg_advisory_xact_lock_shared_int8, key);
}

MlmCloseWriter *
MlmCloseWriterBegin(Oid nsp, int64 run_id, bool with_lines)
{
	MlmCloseWriter *w;
	MemoryContext cxt,
				old;
	Oid			relids[T_COUNT];
	int			ti;

	for (ti = 0; ti < T_COUNT; ti++)
		relids[ti] = ResultTableOid(nsp, TableNames[ti], ACL_INSERT);
	TakeRowsLock();
	CheckDraftRun(nsp, run_id, with_lines ? "run_line_pack" : "run_payout");

	cxt = AllocSetContextCreate(CurrentMemoryContext, "mlm close writer", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	w = palloc0(sizeof(MlmCloseWriter));
	w->cxt = cxt;
	w->rowcxt = AllocSetContextCreate(cxt, "mlm close rows", ALLOCSET_DEFAULT_SIZES);
	w->run_id = run_id;
	w->with_lines = with_lines;
	w->estate = CreateExecutorState();
	w->estate->es_snapshot = GetActiveSnapshot();
	w->cid = GetCurrentCommandId(true);
	for (ti = 0; ti < T_COUNT; ti++)
	{
		OutTable   *t = &w->t[ti];

		t->rel = table_open(relids[ti], RowExclusiveLock);
		MapColumns(t, ti);
		t->desc = CreateTupleDescCopy(RelationGetDescr(t->rel));
		t->rri = makeNode(ResultRelInfo);
		InitResultRelInfo(t->rri, t->rel, 1, NULL, 0);
		ExecOpenIndices(t->rri, false);
		ClassifyIndexes(t);
		t->bistate = GetBulkInsertState();
		MlmOldRowsBegin(&t->old, t->rel, t->desc, t->attno, t->ncols, Match[ti].grouped,
						Match[ti].key, Match[ti].sub, run_id, w->estate->es_snapshot, cxt);
	}
	if (with_lines)
	{
		initStringInfo(&w->line_buf);
		w->line_sort = tuplesort_begin_datum(BYTEAOID, ByteaLessOperator, InvalidOid, false,
											 maintenance_work_mem, NULL, TUPLESORT_NONE);
	}
	MemoryContextSwitchTo(old);
	return w;
}

void
MlmCloseWriterSetNet(MlmCloseWriter *w, const MlmNet *net)
{
	w->net = net;
}

/* Insert the buffered rows of a table, then their index entries. */
static void
Flush(MlmCloseWriter *w, OutTable *t)
{
	EState	   *estate = w->estate;
	MemoryContext old;
	int			i;

	if (t->nbuf == 0)
		return;
	old = MemoryContextSwitchTo(GetPerTupleMemoryContext(estate));
	table_multi_insert(t->rel, t->slots, t->nbuf, w->cid, 0, t->bistate);
	MemoryContextSwitchTo(old);
	ResetPerTupleExprContext(estate);
	for (i = 0; i < t->nbuf; i++)
	{
		if (t->rri->ri_NumIndices > 0)
		{
			InsertIndexEntries(w, t, t->slots[i]);
			ResetPerTupleExprContext(estate);
		}
		ExecClearTuple(t->slots[i]);
	}
	t->rows += t->nbuf;
	t->nbuf = 0;
	CHECK_FOR_INTERRUPTS();
}

/*
 * Buffer one row (values in the order of TableCols): stored in the next
 * slot and materialized at once, so the slot owns its copy and the values'
 * memory can be reused.
 */
static void
PutRow(MlmCloseWriter *w, int ti, const Datum *vals, const bool *nulls)
{
	OutTable   *t = &w->t[ti];
	TupleTableSlot *slot;
	int			j;

	if (t->nbuf == t->nslots)
	{
		MemoryContext old = MemoryContextSwitchTo(w->cxt);

		/*
		 * A slot of the table's AM over a copy of its descriptor: the copy is
		 * not reference-counted, so a thousand slots do not pin the
		 * relation's descriptor a thousand times in the resource owner
		 * (whose array of equal pointers then makes every other pin, e.g.
		 * the unique checks' slots, slow).
		 */
		t->slots[t->nslots++] = MakeSingleTupleTableSlot(t->desc, table_slot_callbacks(t->rel));
		MemoryContextSwitchTo(old);
	}
	slot = t->slots[t->nbuf];
	ExecClearTuple(slot);
	memset(slot->tts_isnull, true, sizeof(bool) * slot->tts_tupleDescriptor->natts);
	for (j = 0; j < t->ncols; j++)
	{
		slot->tts_values[t->attno[j] - 1] = vals[j];
		slot->tts_isnull[t->attno[j] - 1] = nulls[j];
	}
	ExecStoreVirtualTuple(slot);
	if (MlmOldRowsKeep(&t->old, slot))
	{
		ExecClearTuple(slot);
		t->rows++;
	}
	else
	{
		ExecMaterializeSlot(slot);
		if (++t->nbuf == BATCH_ROWS)
			Flush(w, t);
	}
	if (++w->rowcxt_rows >= BATCH_ROWS)
	{
		MemoryContextReset(w->rowcxt);
		w->rowcxt_rows = 0;
	}
}

/* The number of a bonus name among those lines named, and its text datum made once. */
static int32
BonusNumber(MlmCloseWriter *w, const char *name)
{
	MemoryContext old;
	int			i;

	for (i = w->nbonus_text - 1; i >= 0; i--)
		if (w->bonus_text[i].name == name)
			return i;
	if (w->nbonus_text > PG_UINT16_MAX)	/* two bytes of a line's sort key */
		elog(ERROR, "too many bonuses with audit lines");
	old = MemoryContextSwitchTo(w->cxt);
	if (w->nbonus_text == w->maxbonus_text)
	{
		w->maxbonus_text = Max(8, w->maxbonus_text * 2);
		w->bonus_text = w->bonus_text == NULL ?
			palloc(sizeof(BonusName) * w->maxbonus_text) :
			repalloc(w->bonus_text, sizeof(BonusName) * w->maxbonus_text);
	}
	w->bonus_text[w->nbonus_text].name = name;
	w->bonus_text[w->nbonus_text].text = CStringGetTextDatum(name);
	MemoryContextSwitchTo(old);
	return w->nbonus_text++;
}

void
MlmCloseWriterLine(void *arg, const char *bonus_name, int32 recipient,
				   int32 source, int32 level, const MlmLineFigure *base,
				   const MlmLineFigure *rate, mlm_dec amount)
{
	MlmCloseWriter *w = (MlmCloseWriter *) arg;
	StringInfo	buf = &w->line_buf;
	int64		member_id = w->net->v.ids[recipient];
	uint64		m = pg_hton64((uint64) member_id ^ ((uint64) 1 << 63));
	uint64		no = pg_hton64((uint64) ++w->lines);
	uint16		b = pg_hton16((uint16) BonusNumber(w, bonus_name));

	resetStringInfo(buf);
	appendStringInfoSpaces(buf, VARHDRSZ);
	appendBinaryStringInfo(buf, (char *) &m, 8);
	appendBinaryStringInfo(buf, (char *) &no, 8);
	appendBinaryStringInfo(buf, (char *) &b, 2);
	MlmLinePackBody(buf, member_id, source >= 0, source >= 0 ? w->net->v.ids[source] : 0,
					level, base, rate, amount);
	SET_VARSIZE(buf->data, buf->len);

	/* into the sort, which copies it */
	tuplesort_putdatum(w->line_sort, PointerGetDatum(buf->data), false);
	if (w->lines % BATCH_ROWS == 0)
		CHECK_FOR_INTERRUPTS();
}

/* One run_line_pack row: lines packed in data, the first numbered first_line. */
static void
PutPackRow(MlmCloseWriter *w, int64 member_id, int64 first_line, int32 bonus,
		   int32 lines, StringInfo data)
{
	Datum		v[6];
	bool		n[6] = {0};
	bytea	   *b = MemoryContextAlloc(w->rowcxt, VARHDRSZ + data->len);

	SET_VARSIZE(b, VARHDRSZ + data->len);
	memcpy(VARDATA(b), data->data, data->len);
	v[0] = Int64GetDatum(w->run_id);
	v[1] = Int64GetDatum(member_id);
	v[2] = Int64GetDatum(first_line);
	v[3] = w->bonus_text[bonus].text;
	v[4] = Int32GetDatum(lines);
	v[5] = PointerGetDatum(b);
	PutRow(w, T_LINE, v, n);
}

/*
 * The sorted lines into mlm.run_line_pack: a recipient's lines of one
 * bonus are consecutive in (member_id, line_no) order (a bonus numbers all
 * its lines before the next one runs), so a row is cut where the recipient
 * or the bonus changes or where the next line would make the row large
 * enough to be TOASTed.
 */
static void
WriteLines(MlmCloseWriter *w)
{
	StringInfoData data;
	int64		member_id = 0,
				first_line = 0,
				prev_line = 0;
	int32		bonus = -1,
				lines = 0;
	Size		limit = 0;
	Datum		d;
	bool		isnull;

	initStringInfo(&data);
	tuplesort_performsort(w->line_sort);
	while (tuplesort_getdatum(w->line_sort, true, &d, &isnull, NULL))
	{
		const char *rec = VARDATA_ANY(DatumGetPointer(d));
		Size		body = VARSIZE_ANY_EXHDR(DatumGetPointer(d)) - LINE_KEY_BYTES;
		uint64		key64;
		uint16		key16;
		int64		m,
					line_no;
		int32		b;

		memcpy(&key64, rec, 8);
		m = (int64) (pg_ntoh64(key64) ^ ((uint64) 1 << 63));
		memcpy(&key64, rec + 8, 8);
		line_no = (int64) pg_ntoh64(key64);
		memcpy(&key16, rec + 16, 2);
		b = pg_ntoh16(key16);

		/* (10: the longest varint of the line-number delta) */
		if (lines > 0 && (m != member_id || b != bonus || data.len + 10 + body > limit))
		{
			PutPackRow(w, member_id, first_line, bonus, lines, &data);
			lines = 0;
		}
		if (lines == 0)
		{
			resetStringInfo(&data);
			member_id = m;
			bonus = b;
			first_line = prev_line = line_no;
			limit = PACK_DATA_BYTES - VARSIZE_ANY(DatumGetPointer(w->bonus_text[b].text));
		}
		MlmLinePackVarint(&data, (uint64) (line_no - prev_line));
		appendBinaryStringInfo(&data, rec + LINE_KEY_BYTES, body);
		prev_line = line_no;
		lines++;
		pfree(DatumGetPointer(d));
	}
	if (lines > 0)
		PutPackRow(w, member_id, first_line, bonus, lines, &data);
	tuplesort_end(w->line_sort);
	w->line_sort = NULL;
	pfree(data.data);
}

/*
 * Payout rows (non-zero payouts) in ascending member id, with no sort: for
 * each bonus a bitmap over the members' preorder indexes marks who it paid,
 * and a running count per 64 members finds a member's place in the bonus's
 * sparse list (n/8 + n/16 bytes a bonus); then the members are visited in
 * id order (byid).
 */
typedef struct PaidBits
{
	uint64	   *bits;
	int32	   *before;			/* payouts of the members below each word */
} PaidBits;

static void
WritePayouts(MlmCloseWriter *w, const MlmPlan *plan, const MlmNet *net,
			 const MlmPayouts *pay, const Datum *bonus_names)
{
	int			nb = plan->nbonuses;
	int32		nwords = (net->n + 63) / 64;
	PaidBits   *pb = palloc0(sizeof(PaidBits) * Max(nb, 1));
	int32		k;
	int			b;

	for (b = 0; b < nb; b++)
	{
		int32		c = 0;

		if (pay[b].count == 0)
			continue;
		pb[b].bits = MlmAllocArrayZero(Max(nwords, 1), sizeof(uint64));
		pb[b].before = MlmAllocArray(Max(nwords, 1), sizeof(int32));
		for (k = 0; k < pay[b].count; k++)
			pb[b].bits[pay[b].member[k] >> 6] |= UINT64CONST(1) << (pay[b].member[k] & 63);
		for (k = 0; k < nwords; k++)
		{
			pb[b].before[k] = c;
			c += pg_popcount64(pb[b].bits[k]);
		}
	}
	for (k = 0; k < net->n; k++)
	{
		int32		i = net->v.byid[k];

		if (k + PREFETCH_AHEAD < net->n)
		{
			int32		f = net->v.byid[k + PREFETCH_AHEAD];

			for (b = 0; b < nb; b++)
				if (pb[b].bits)
				{
					__builtin_prefetch(&pb[b].bits[f >> 6]);
					__builtin_prefetch(&pb[b].before[f >> 6]);
				}
			__builtin_prefetch(&net->v.ids[f]);
		}
		for (b = 0; b < nb; b++)
		{
			uint64		word,
						bit = UINT64CONST(1) << (i & 63);
			int32		p;
			Datum		v[4];
			bool		n[4] = {0};
			MemoryContext old;

			if (pb[b].bits == NULL)
				continue;
			word = pb[b].bits[i >> 6];
			if ((word & bit) == 0)
				continue;
			p = pb[b].before[i >> 6] + pg_popcount64(word & (bit - 1));
			Assert(pay[b].member[p] == i);
			if (pay[b].units[p] == 0)
				continue;		/* truncated to zero by the cap */
			v[0] = Int64GetDatum(w->run_id);
			v[1] = Int64GetDatum(net->v.ids[i]);
			v[2] = bonus_names[b];
			old = MemoryContextSwitchTo(w->rowcxt);
			v[3] = MlmDecToNumeric(pay[b].units[p], plan->scale, plan->scale);
			MemoryContextSwitchTo(old);
			PutRow(w, T_PAYOUT, v, n);
		}
	}
	for (b = 0; b < nb; b++)
		if (pb[b].bits)
		{
			pfree(pb[b].bits);
			pfree(pb[b].before);
		}
	pfree(pb);
}

/*
 * Member rows, non-zero carry rows, state rows and (with the ledger)
 * payables rows, in ascending member id.
 */
static void
WriteMembers(MlmCloseWriter *w, const MlmOutcome *o)
{
	const MlmNet *net = o->net;
	const MlmDerived *d = o->d;
	int32		k;
	int			c;

	for (k = 0; k < net->n; k++)
	{
		int32		i = net->v.byid[k];
		Datum		mv[MR_NCOLS];
		bool		mn[MR_NCOLS];
		Datum		v[MAX_COLS];
		bool		n[MAX_COLS];
		MemoryContext old;

		/*
		 * Id order visits the preorder arrays at random: ask for the values
		 * of a member a few rows ahead.
		 */
		if (k + PREFETCH_AHEAD < net->n)
		{
			int32		f = net->v.byid[k + PREFETCH_AHEAD];

			__builtin_prefetch(&net->pv[f]);
			__builtin_prefetch(&d->gv[f]);
			__builtin_prefetch(&d->active[f]);
			__builtin_prefetch(&d->rank[f]);
			__builtin_prefetch(&d->title[f]);
			__builtin_prefetch(&o->ledger->earned[f]);
			__builtin_prefetch(&net->v.ids[f]);
			if (o->carry_l)
			{
				__builtin_prefetch(&o->carry_l[f]);
				__builtin_prefetch(&o->carry_r[f]);
			}
		}
		old = MemoryContextSwitchTo(w->rowcxt);
		v[0] = Int64GetDatum(w->run_id);
		v[1] = Int64GetDatum(net->v.ids[i]);
		n[0] = n[1] = false;
		MlmMemberValues(o, i, mv, mn);
		for (c = 0; c < lengthof(MemberValue); c++)
		{
			v[2 + c] = mv[MemberValue[c]];
			n[2 + c] = mn[MemberValue[c]];
		}
		MemoryContextSwitchTo(old);
		PutRow(w, T_MEMBER, v, n);
		/* each row's values anew: a PutRow may reset the row context */
		if (o->carry_l && (o->carry_l[i] != 0 || o->carry_r[i] != 0))
		{
			old = MemoryContextSwitchTo(w->rowcxt);
			MlmStateValues(o, i, v + 2, n + 2);
			MemoryContextSwitchTo(old);
			PutRow(w, T_CARRY, v, n);
		}
		old = MemoryContextSwitchTo(w->rowcxt);
		if (MlmStateValues(o, i, v + 2, n + 2))
		{
			MemoryContextSwitchTo(old);
			PutRow(w, T_STATE, v, n);
			old = MemoryContextSwitchTo(w->rowcxt);
		}
		if (o->plan->has_payout && MlmPayableValues(o, i, v + 2, n + 2))
		{
			MemoryContextSwitchTo(old);
			PutRow(w, T_PAYABLE, v, n);
			old = MemoryContextSwitchTo(w->rowcxt);
		}
		MemoryContextSwitchTo(old);
	}
}

/* columns of mlm._close_source's result */
enum
{
	R_PAYOUT_ROWS, R_MEMBER_RESULT_ROWS, R_CARRY_OUT_ROWS, R_LINE_ROWS, R_BONUS_ROWS,
	R_MEMBER_ROWS, R_VOLUME_ROWS, R_CARRY_ROWS, R_INPUT_CHECKSUM, R_TOTAL_CV,
	R_TOTAL_BEFORE_CAP, R_TOTAL_PAID, R_CAP_LIMIT, R_CAP_FACTOR, R_SNAPSHOT,
	R_STATE_ROWS, R_PAYABLE_ROWS, R_BALANCE_IN, R_PAID_OUT, R_BALANCE_OUT, R_NCOLS
};

HeapTuple
MlmCloseWriterFinish(MlmCloseWriter *w, TupleDesc desc, const MlmOutcome *o,
					 const MlmPayouts *pay, const MlmCapResult *cap, mlm_dec total_cv)
{
	const MlmPlan *plan = o->plan;
	const MlmNet *net = o->net;
	Datum	   *bonus_names = palloc(sizeof(Datum) * Max(plan->nbonuses, 1));
	Datum		vals[R_NCOLS];
	bool		nulls[R_NCOLS] = {0};
	mlm_dec		after = 0;
	char		hash[17];
	int			b,
				ti;

	if (desc->natts != R_NCOLS)
		elog(ERROR, "mlm._close_source must return %d columns", R_NCOLS);
	for (b = 0; b < plan->nbonuses; b++)
		bonus_names[b] = CStringGetTextDatum(plan->bonuses[b].name);

	if (w->line_sort)
		WriteLines(w);
	WritePayouts(w, plan, net, pay, bonus_names);
	WriteMembers(w, o);
	for (b = 0; b < plan->nbonuses; b++)
	{
		Datum		v[4];
		bool		n[4] = {0};

		v[0] = Int64GetDatum(w->run_id);
		v[1] = bonus_names[b];
		v[2] = MlmDecToNumeric(cap->bonus_before[b], plan->scale, plan->scale);
		v[3] = MlmDecToNumeric(cap->bonus_after[b], plan->scale, plan->scale);
		PutRow(w, T_BONUS, v, n);
		after += cap->bonus_after[b];
	}
	for (ti = 0; ti < T_COUNT; ti++)
	{
		OutTable   *t = &w->t[ti];
		int			i;

		Flush(w, t);
		MlmOldRowsEnd(&t->old);
		for (i = 0; i < t->nslots; i++)
			ExecDropSingleTupleTableSlot(t->slots[i]);
		FreeBulkInsertState(t->bistate);
		ExecCloseIndices(t->rri);
		table_close(t->rel, NoLock);
	}
	FreeExecutorState(w->estate);

	/* the counts and the grand total row of mlm.compute */
	vals[R_PAYOUT_ROWS] = Int64GetDatum(w->t[T_PAYOUT].rows);
	vals[R_MEMBER_RESULT_ROWS] = Int64GetDatum(w->t[T_MEMBER].rows);
	vals[R_CARRY_OUT_ROWS] = Int64GetDatum(w->t[T_CARRY].rows);
	vals[R_LINE_ROWS] = Int64GetDatum(w->lines);	/* lines, not packed rows */
	vals[R_BONUS_ROWS] = Int64GetDatum(w->t[T_BONUS].rows);
	vals[R_MEMBER_ROWS] = Int64GetDatum(net->member_rows);
	vals[R_VOLUME_ROWS] = Int64GetDatum(net->volume_rows);
	vals[R_CARRY_ROWS] = Int64GetDatum(net->carry_rows);
	snprintf(hash, sizeof(hash), "%016llx", (unsigned long long) net->input_hash);
	vals[R_INPUT_CHECKSUM] = CStringGetTextDatum(hash);
	vals[R_TOTAL_CV] = MlmDecToNumeric(total_cv, MLM_VOL_SCALE, 2);
	vals[R_TOTAL_BEFORE_CAP] = MlmDecToNumeric(cap->total, plan->scale, plan->scale);
	vals[R_TOTAL_PAID] = MlmDecToNumeric(after, plan->scale, plan->scale);
	nulls[R_CAP_LIMIT] = !plan->has_cap;
	if (plan->has_cap)
		vals[R_CAP_LIMIT] = MlmDecToNumeric(cap->limit, plan->scale, plan->scale);
	nulls[R_CAP_FACTOR] = !cap->capped;
	if (cap->capped)
		vals[R_CAP_FACTOR] = DirectFunctionCall2(numeric_div,
												 MlmDecToNumeric(cap->limit, plan->scale, plan->scale),
												 MlmDecToNumeric(cap->total, plan->scale, plan->scale));
	nulls[R_SNAPSHOT] = true;	/* MlmCloseResultSnapshot */
	vals[R_STATE_ROWS] = Int64GetDatum(w->t[T_STATE].rows);
	vals[R_PAYABLE_ROWS] = Int64GetDatum(w->t[T_PAYABLE].rows);
	vals[R_BALANCE_IN] = MlmDecToNumeric(o->ledger->sum_in, plan->scale, plan->scale);
	vals[R_PAID_OUT] = MlmDecToNumeric(o->ledger->sum_paid, plan->scale, plan->scale);
	vals[R_BALANCE_OUT] = MlmDecToNumeric(o->ledger->sum_out, plan->scale, plan->scale);
	MemoryContextDelete(w->cxt);
	return heap_form_tuple(desc, vals, nulls);
}

/* Put the snapshot into the result row of MlmCloseWriterFinish. */
HeapTuple
MlmCloseResultSnapshot(HeapTuple result, TupleDesc desc, const MlmTreeHeader *tree)
{
	int			col = R_SNAPSHOT + 1;
	Datum		val = PointerGetDatum(tree);
	bool		isnull = tree == NULL;

	return heap_modify_tuple_by_cols(result, desc, 1, &col, &val, &isnull);
}

/*
 * Delete the rows of a draft from every result table: the old rows of a
 * re-close that no new row matches, i.e. all of them (close_keep.h), heap
 * deletes through the run_id prefix of each primary key, no executor and
 * no transition tables (the run is checked to be a draft, which is what
 * the delete triggers check).
 */
int64
MlmCloseDeleteRows(Oid nsp, int64 run_id)
{
	int64		total = 0;
	int			ti;
	Oid			relids[T_COUNT];

	for (ti = 0; ti < T_COUNT; ti++)
		relids[ti] = ResultTableOid(nsp, TableNames[ti], ACL_DELETE);
	CheckDraftRun(nsp, run_id, "run_payout");
	for (ti = 0; ti < T_COUNT; ti++)
	{
		OutTable	t = {0};

		t.rel = table_open(relids[ti], RowExclusiveLock);
		MapColumns(&t, ti);
		MlmOldRowsBegin(&t.old, t.rel, RelationGetDescr(t.rel), t.attno, t.ncols, Match[ti].grouped,
						Match[ti].key, Match[ti].sub, run_id, GetActiveSnapshot(), CurrentMemoryContext);
		total += MlmOldRowsEnd(&t.old);
		table_close(t.rel, NoLock);
	}
	CommandCounterIncrement();
	return total;
}
