/*
 * source.c
 *	  Reading one input relation (see source.h).  Columns are checked
 *	  against the spec's before any row is read, so a missing column fails
 *	  first; errors name the relation as the caller would write it.
 *
 * Plain tables are scanned directly; views, row security and column
 * privileges go through an SPI cursor fetched in batches, never
 * materialized whole.  Either way rows are read with the calling
 * statement's snapshot (the SQL functions are STABLE), so rows inserted
 * while a close runs are not seen.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "mlm.h"
#include "source.h"
#include "tree.h"

#define FETCH_BATCH 10000

/* Does a column of type typid fit a kind of column? */
static bool
TypeFits(Oid typid, MlmColKind kind)
{
	switch (kind)
	{
		case MLM_COL_ID:
		case MLM_COL_INT:
			return typid == INT2OID || typid == INT4OID || typid == INT8OID;
		case MLM_COL_BOOL:
			return typid == BOOLOID;
		case MLM_COL_DATE:
			return typid == DATEOID || typid == TIMESTAMPOID || typid == TIMESTAMPTZOID;
		case MLM_COL_AMOUNT:
			return typid == NUMERICOID || typid == INT2OID || typid == INT4OID || typid == INT8OID;
		case MLM_COL_TEXT:
			return typid == TEXTOID || typid == VARCHAROID;
	}
	return false;
}

/* The accepted types of a kind, for error details. */
static const char *
KindText(MlmColKind kind)
{
	switch (kind)
	{
		case MLM_COL_ID:
		case MLM_COL_INT:
			return "an integer type";
		case MLM_COL_BOOL:
			return "boolean";
		case MLM_COL_DATE:
			return "date or timestamp";
		case MLM_COL_AMOUNT:
			return "numeric or an integer type (never floating point)";
		case MLM_COL_TEXT:
			return "text or varchar";
	}
	return "?";
}

/* The cast of an absent column's NULL placeholder in the SPI query. */
static const char *
CastOf(MlmColKind kind)
{
	switch (kind)
	{
		case MLM_COL_ID:
			return "pg_catalog.int8";
		case MLM_COL_INT:
			return "pg_catalog.int4";
		case MLM_COL_BOOL:
			return "pg_catalog.bool";
		case MLM_COL_DATE:
			return "pg_catalog.date";
		case MLM_COL_AMOUNT:
			return "pg_catalog.numeric";
		case MLM_COL_TEXT:
			return "pg_catalog.text";
	}
	return "?";
}

/* The type a NULL placeholder of a kind of column reads as. */
static Oid
CastType(MlmColKind kind)
{
	switch (kind)
	{
		case MLM_COL_ID:
			return INT8OID;
		case MLM_COL_INT:
			return INT4OID;
		case MLM_COL_BOOL:
			return BOOLOID;
		case MLM_COL_DATE:
			return DATEOID;
		case MLM_COL_AMOUNT:
			return NUMERICOID;
		case MLM_COL_TEXT:
			return TEXTOID;
	}
	return InvalidOid;
}

/*
 * The identity a relation is read with.  A close (SECURITY DEFINER) reads
 * each input the way ANALYZE reads a table: as the relation's owner, inside
 * a security-restricted operation, with GUC changes undone afterwards, so
 * nothing the relation runs (view and policy functions, index, statistics
 * and partition-key expressions the planner folds) ever runs with more
 * privilege than its owner has.  An error unwinds the identity with the
 * (sub)transaction.
 */
typedef struct OwnerContext
{
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;
} OwnerContext;

/* Switch to the owner, restricted, with a GUC nest level to undo. */
static void
BecomeOwner(OwnerContext *oc, Oid owner)
{
	GetUserIdAndSecContext(&oc->save_userid, &oc->save_sec_context);
	SetUserIdAndSecContext(owner, oc->save_sec_context | SECURITY_RESTRICTED_OPERATION);
	oc->save_nestlevel = NewGUCNestLevel();
}

/* Undo BecomeOwner. */
static void
RestoreUser(const OwnerContext *oc)
{
	AtEOXact_GUC(false, oc->save_nestlevel);
	SetUserIdAndSecContext(oc->save_userid, oc->save_sec_context);
}

/* The owner of a relation, from the catalog (the relation is not opened). */
static Oid
RelationOwner(Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

static char *PeriodCondition(TupleDesc desc, const MlmPeriodFilter *period, const char *shown);

/*
 * Check a relation's columns against the specs, remember where they are,
 * and build the SELECT that reads them (absent optional columns read as
 * NULL; for the volumes, only the rows of the period when the sources name
 * a period column).  Errors name the relation and the column.  Columns of a
 * domain type are read as the domain's base type.
 */
void
MlmSourcePrepare(MlmSource *src, Oid relid, const char *role, const MlmColSpec *cols,
				 int ncols, bool as_owner, const MlmPeriodFilter *period)
{
	Relation	rel;
	TupleDesc	desc;
	StringInfoData sql;
	char	   *relname;

	/* in messages, the name as the caller would write it */
	const char *shown;
	int			c;
	OwnerContext oc;

	Assert(ncols <= MLM_SOURCE_MAX_COLS);
	memset(src, 0, sizeof(MlmSource));
	src->as_owner = as_owner;
	if (src->as_owner)
	{
		src->owner = RelationOwner(relid);
		if (!has_privs_of_role(GetUserId(), src->owner))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied to read %s relation %s as its owner",
							role, get_rel_name(relid)),
					 errdetail("Only a role with the privileges of role %s may.",
							   GetUserNameFromId(src->owner, false))));
		BecomeOwner(&oc, src->owner);
	}
	rel = relation_open(relid, AccessShareLock);
	desc = RelationGetDescr(rel);
	relname = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
										 RelationGetRelationName(rel));
	shown = RelationIsVisible(relid) ? quote_identifier(RelationGetRelationName(rel)) : relname;
	src->relid = relid;
	src->ncols = ncols;
	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT ");
	for (c = 0; c < ncols; c++)
	{
		int			a;
		Form_pg_attribute found = NULL;

		for (a = 0; a < desc->natts; a++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, a);

			if (!att->attisdropped && strcmp(NameStr(att->attname), cols[c].name) == 0)
			{
				found = att;
				break;
			}
		}
		if (c > 0)
			appendStringInfoString(&sql, ", ");
		if (found == NULL)
		{
			if (cols[c].required)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_COLUMN),
						 errmsg("%s relation %s has no column \"%s\"",
								role, shown, cols[c].name),
						 errhint("The %s relation needs the columns of the compensation spec; extra columns are ignored.", role)));
			appendStringInfo(&sql, "NULL::%s", CastOf(cols[c].kind));
			src->type[c] = CastType(cols[c].kind);
			continue;
		}
		if (!TypeFits(getBaseType(found->atttypid), cols[c].kind))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" of %s relation %s has type %s",
							cols[c].name, role, shown, format_type_be(found->atttypid)),
					 errdetail("Expected %s.", KindText(cols[c].kind))));
		appendStringInfo(&sql, "%s", quote_identifier(cols[c].name));
		src->attnum[c] = found->attnum;
		src->type[c] = getBaseType(found->atttypid);
		src->maxatt = Max(src->maxatt, found->attnum);
	}
	appendStringInfo(&sql, " FROM %s", relname);
	if (period != NULL && period->column != NULL)
	{
		appendStringInfo(&sql, " WHERE %s", PeriodCondition(desc, period, shown));
		src->filtered = true;
	}
	if (rel->rd_rel->reltuples > 0)
		src->reltuples = (int64) Min(rel->rd_rel->reltuples * 1.05 + 1024,
									 (double) MLM_TREE_MAX_MEMBERS);
	relation_close(rel, AccessShareLock);
	if (src->as_owner)
		RestoreUser(&oc);
	src->sql = sql.data;
}

/*
 * The base type of a volumes relation's period column: text (a label),
 * date, timestamp or timestamptz; errors for a missing column or another
 * type.
 */
static Oid
PeriodColumnType(TupleDesc desc, const char *column, const char *shown)
{
	Form_pg_attribute found = NULL;
	Oid			typ;
	int			a;

	for (a = 0; a < desc->natts; a++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, a);

		if (!att->attisdropped && strcmp(NameStr(att->attname), column) == 0)
			found = att;
	}
	if (found == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("volumes relation %s has no period column \"%s\"", shown, column)));
	typ = getBaseType(found->atttypid);
	if (typ != TEXTOID && typ != VARCHAROID && typ != BPCHAROID &&
		typ != DATEOID && typ != TIMESTAMPOID && typ != TIMESTAMPTZOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("period column \"%s\" of %s has type %s", column, shown,
						format_type_be(found->atttypid)),
				 errdetail("Expected text (the period label), date, timestamp or timestamptz.")));
	return typ;
}

/* Does the period column of a volumes relation hold labels (text)? */
bool
MlmSourcePeriodIsLabel(Oid relid, const char *column)
{
	Relation	rel = relation_open(relid, AccessShareLock);
	const char *shown = RelationIsVisible(relid) ? quote_identifier(RelationGetRelationName(rel)) :
		quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
								   RelationGetRelationName(rel));
	Oid			typ = PeriodColumnType(RelationGetDescr(rel), column, shown);

	relation_close(rel, AccessShareLock);
	return typ == TEXTOID || typ == VARCHAROID || typ == BPCHAROID;
}

/*
 * The WHERE condition that selects one period's volume rows: a text period
 * column equals the period label; a date or timestamp column lies within
 * [period_start, period_end + 1 day); a timestamptz column is cut at
 * midnight in the given time zone, which must be given.
 * Everything is schema-qualified, so nothing of the reader's search_path
 * takes part.
 */
static char *
PeriodCondition(TupleDesc desc, const MlmPeriodFilter *period, const char *shown)
{
	const char *col = quote_identifier(period->column);
	Oid			typ = PeriodColumnType(desc, period->column, shown);
	int			y1,
				m1,
				d1,
				y2,
				m2,
				d2;
	char		lo[64],
				hi[64];

	if (typ == TEXTOID || typ == VARCHAROID || typ == BPCHAROID)
	{
		if (period->label == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("the period column \"%s\" of %s holds labels, but no period label was given",
							period->column, shown)));
		return psprintf("%s OPERATOR(pg_catalog.=) %s::pg_catalog.text", col,
						quote_literal_cstr(period->label));
	}
	j2date(period->start + POSTGRES_EPOCH_JDATE, &y1, &m1, &d1);
	j2date(period->end + 1 + POSTGRES_EPOCH_JDATE, &y2, &m2, &d2);
	snprintf(lo, sizeof(lo), "pg_catalog.make_date(%d, %d, %d)", y1, m1, d1);
	snprintf(hi, sizeof(hi), "pg_catalog.make_date(%d, %d, %d)", y2, m2, d2);
	if (typ == DATEOID)
		return psprintf("%s OPERATOR(pg_catalog.>=) %s AND %s OPERATOR(pg_catalog.<) %s",
						col, lo, col, hi);
	if (typ == TIMESTAMPOID)
		return psprintf("%s OPERATOR(pg_catalog.>=) %s::pg_catalog.timestamp"
						" AND %s OPERATOR(pg_catalog.<) %s::pg_catalog.timestamp",
						col, lo, col, hi);
	/* where midnight falls must be said, never taken from the session */
	if (period->time_zone == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("period column \"%s\" of %s is a timestamptz: a time zone is needed to cut the period",
						period->column, shown),
				 errhint("Pass time_zone, such as 'UTC' or 'America/New_York'.")));
	return psprintf("%s OPERATOR(pg_catalog.>=) pg_catalog.timezone(%s::pg_catalog.text, %s::pg_catalog.timestamp)"
					" AND %s OPERATOR(pg_catalog.<) pg_catalog.timezone(%s::pg_catalog.text, %s::pg_catalog.timestamp)",
					col, quote_literal_cstr(period->time_zone), lo,
					col, quote_literal_cstr(period->time_zone), hi);
}

/* The row's value of column c as int32 (positions). */
int32
MlmRowInt32(const MlmRow *row, int c, int64 member)
{
	int64		v = MlmRowInt64(row, c);

	if (v < PG_INT32_MIN || v > PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("position of member " INT64_FORMAT " is out of range", member)));
	return (int32) v;
}

/* The row's value of column c as a date (date or timestamp columns). */
DateADT
MlmRowDate(const MlmRow *row, int c)
{
	switch (row->type[c])
	{
		case TIMESTAMPOID:
			return DatumGetDateADT(DirectFunctionCall1(timestamp_date, row->v[c]));
		case TIMESTAMPTZOID:
			return DatumGetDateADT(DirectFunctionCall1(timestamptz_date, row->v[c]));
		default:
			return DatumGetDateADT(row->v[c]);
	}
}

/* Column c as a C string, for error details. */
char *
MlmRowText(const MlmRow *row, int c)
{
	return TextDatumGetCString(row->v[c]);
}

/* The row's value of column c as an amount at VOL scale. */
mlm_dec
MlmRowAmount(const MlmRow *row, int c, const char *what, int64 member)
{
	mlm_dec		v = 0;

	if (row->type[c] != NUMERICOID)
		return MlmDecMul((mlm_dec) MlmRowInt64(row, c), MlmPow10[MLM_VOL_SCALE]);
	/* volumes stay below 10^24 units: sums of a million rows still fit */
	switch (MlmNumericDecode(row->v[c], MLM_VOL_SCALE, MlmPow10[30], &v))
	{
		case MLM_DEC_OK:
			break;
		case MLM_DEC_NOT_FINITE:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s of member " INT64_FORMAT " is not a finite number", what, member)));
			break;
		case MLM_DEC_TOO_PRECISE:
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("%s of member " INT64_FORMAT " has more than %d decimal places",
							what, member, MLM_VOL_SCALE)));
			break;
		case MLM_DEC_OUT_OF_RANGE:
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("%s of member " INT64_FORMAT " is too large", what, member)));
			break;
	}
	return v;
}

/*
 * Can a source be read with a plain table scan?  Only an ordinary table
 * without row security or inheritance children that the user may read as
 * a whole (and a populated materialized view): anything else (views,
 * partitioned tables, row security, column privileges, children,
 * unpopulated materialized views) goes through SPI so that PostgreSQL
 * applies every rule and reads exactly what SELECT * FROM rel reads.
 */
static bool
DirectScanAllowed(Relation rel)
{
	char		kind = rel->rd_rel->relkind;

	return (kind == RELKIND_RELATION || kind == RELKIND_MATVIEW) &&
		!rel->rd_rel->relrowsecurity &&
		!rel->rd_rel->relhassubclass &&
		RelationIsScannable(rel) &&
		pg_class_aclcheck(RelationGetRelid(rel), GetUserId(), ACL_SELECT) == ACLCHECK_OK;
}

static void ScanSourceRows(const MlmSource *src, MlmRowFn fn, void *arg);

/*
 * Call fn for every row of a source, as its owner when the source says so
 * (see BecomeOwner).
 */
void
MlmSourceScan(const MlmSource *src, MlmRowFn fn, void *arg)
{
	OwnerContext oc;

	if (!src->as_owner)
	{
		ScanSourceRows(src, fn, arg);
		return;
	}
	BecomeOwner(&oc, src->owner);
	ScanSourceRows(src, fn, arg);
	RestoreUser(&oc);
}

/*
 * The rows of a source, read with the calling statement's snapshot: a table
 * scan for plain tables (no executor, no tuple copies), else an SPI cursor
 * fetched in batches (never materialized whole).
 */
static void
ScanSourceRows(const MlmSource *src, MlmRowFn fn, void *arg)
{
	Relation	rel = table_open(src->relid, AccessShareLock);
	MlmRow			row;
	int			c;

	row.type = src->type;
	if (!src->filtered && DirectScanAllowed(rel))
	{
		TupleTableSlot *slot = table_slot_create(rel, NULL);
		TableScanDesc scan = table_beginscan(rel, GetActiveSnapshot(), 0, NULL);
		uint64		nrows = 0;

		while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
		{
			if (src->maxatt > 0)
				slot_getsomeattrs(slot, src->maxatt);
			for (c = 0; c < src->ncols; c++)
			{
				AttrNumber	a = src->attnum[c];

				row.null[c] = a == 0 || slot->tts_isnull[a - 1];
				row.v[c] = a == 0 ? (Datum) 0 : slot->tts_values[a - 1];
			}
			fn(arg, &row);
			if ((++nrows & 0xFFFF) == 0)
				CHECK_FOR_INTERRUPTS();
		}
		table_endscan(scan);
		ExecDropSingleTupleTableSlot(slot);
		table_close(rel, AccessShareLock);
		return;
	}
	table_close(rel, AccessShareLock);

	{
		SPIPlanPtr	plan = SPI_prepare(src->sql, 0, NULL);
		Portal		portal;

		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed for \"%s\": %s", src->sql,
				 SPI_result_code_string(SPI_result));
		portal = SPI_cursor_open(NULL, plan, NULL, NULL, true);
		for (;;)
		{
			uint64		i;

			SPI_cursor_fetch(portal, true, FETCH_BATCH);
			if (SPI_processed == 0)
				break;
			for (i = 0; i < SPI_processed; i++)
			{
				heap_deform_tuple(SPI_tuptable->vals[i], SPI_tuptable->tupdesc,
								  row.v, row.null);
				fn(arg, &row);
			}
			SPI_freetuptable(SPI_tuptable);
			CHECK_FOR_INTERRUPTS();
		}
		SPI_cursor_close(portal);
		SPI_freeplan(plan);
	}
}

