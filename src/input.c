/*
 * input.c
 *	  Load one period's network from the caller's relations (tables or
 *	  views with the spec's column names), validate it (spec section 2) and
 *	  hold it in preorder arrays.
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
#include "executor/tuptable.h"
#include "utils/acl.h"
#include "utils/snapmgr.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "forest.h"
#include "mlm.h"
#include "network.h"

#define FETCH_BATCH 10000

/* Accepted types of each kind of column. */
typedef enum ColKind
{
	COL_ID,						/* integer types, read as int8 */
	COL_INT,					/* integer types, read as int4 */
	COL_BOOL,
	COL_DATE,					/* date or timestamp(tz), read as date */
	COL_AMOUNT					/* numeric or integer, read as numeric */
} ColKind;

typedef struct ColSpec
{
	const char *name;
	ColKind		kind;
	bool		required;
} ColSpec;

static bool
TypeFits(Oid typid, ColKind kind)
{
	switch (kind)
	{
		case COL_ID:
		case COL_INT:
			return typid == INT2OID || typid == INT4OID || typid == INT8OID;
		case COL_BOOL:
			return typid == BOOLOID;
		case COL_DATE:
			return typid == DATEOID || typid == TIMESTAMPOID || typid == TIMESTAMPTZOID;
		case COL_AMOUNT:
			return typid == NUMERICOID || typid == INT2OID || typid == INT4OID || typid == INT8OID;
	}
	return false;
}

static const char *
KindText(ColKind kind)
{
	switch (kind)
	{
		case COL_ID:
		case COL_INT:
			return "an integer type";
		case COL_BOOL:
			return "boolean";
		case COL_DATE:
			return "date or timestamp";
		case COL_AMOUNT:
			return "numeric or an integer type (never floating point)";
	}
	return "?";
}

static const char *
CastOf(ColKind kind)
{
	switch (kind)
	{
		case COL_ID:
			return "pg_catalog.int8";
		case COL_INT:
			return "pg_catalog.int4";
		case COL_BOOL:
			return "pg_catalog.bool";
		case COL_DATE:
			return "pg_catalog.date";
		case COL_AMOUNT:
			return "pg_catalog.numeric";
	}
	return "?";
}

/* One input relation: its checked columns and how to read them. */
#define MAX_COLS 6
typedef struct Source
{
	Oid			relid;
	int			ncols;
	AttrNumber	attnum[MAX_COLS];	/* 0 = column absent (reads NULL) */
	Oid			type[MAX_COLS];		/* the column's type */
	AttrNumber	maxatt;
	int64		reltuples;		/* the planner's estimate, 0 if unknown */
	char	   *sql;			/* the same read as a query, for SPI */
	bool		filtered;		/* sql has a WHERE clause: no direct scan */
	Oid			owner;			/* the relation's owner */
	bool		as_owner;		/* read with the owner's rights, restricted */
} Source;

/* A row handed to the row callbacks, in the source's column order. */
typedef struct Row
{
	Datum		v[MAX_COLS];
	bool		null[MAX_COLS];
	const Oid  *type;			/* type of each value */
} Row;

/* The type a NULL placeholder of a kind of column reads as. */
static Oid
CastType(ColKind kind)
{
	switch (kind)
	{
		case COL_ID:
			return INT8OID;
		case COL_INT:
			return INT4OID;
		case COL_BOOL:
			return BOOLOID;
		case COL_DATE:
			return DATEOID;
		case COL_AMOUNT:
			return NUMERICOID;
	}
	return InvalidOid;
}

/*
 * Check a relation's columns against the specs, remember where they are,
 * and build the SELECT that reads them (absent optional columns read as
 * NULL; for the volumes, only the rows of the period when the sources name
 * a period column).  Errors name the relation and the column.  Columns of a
 * domain type are read as the domain's base type.
 */
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

static void
BecomeOwner(OwnerContext *oc, Oid owner)
{
	GetUserIdAndSecContext(&oc->save_userid, &oc->save_sec_context);
	SetUserIdAndSecContext(owner, oc->save_sec_context | SECURITY_RESTRICTED_OPERATION);
	oc->save_nestlevel = NewGUCNestLevel();
}

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

static char *PeriodCondition(TupleDesc desc, const MlmSources *period, const char *shown);

static void
PrepareSource(Source *src, Oid relid, const char *role, const ColSpec *cols, int ncols,
			  const MlmSources *how, bool volumes)
{
	Relation	rel;
	TupleDesc	desc;
	StringInfoData sql;
	char	   *relname;

	/* in messages, the name as the caller would write it */
	const char *shown;
	int			c;
	OwnerContext oc;

	Assert(ncols <= MAX_COLS);
	memset(src, 0, sizeof(Source));
	src->as_owner = how->read_as_owner;
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
	if (volumes && how->period_column != NULL)
	{
		appendStringInfo(&sql, " WHERE %s", PeriodCondition(desc, how, shown));
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
 * The WHERE condition that selects one period's volume rows: a text period
 * column equals the period label; a date or timestamp column lies within
 * [period_start, period_end + 1 day); a timestamptz column is cut at
 * midnight in the given time zone (the session's when none is given).
 * Everything is schema-qualified, so nothing of the reader's search_path
 * takes part.
 */
static char *
PeriodCondition(TupleDesc desc, const MlmSources *period, const char *shown)
{
	const char *col = quote_identifier(period->period_column);
	Form_pg_attribute found = NULL;
	Oid			typ;
	int			a,
				y1,
				m1,
				d1,
				y2,
				m2,
				d2;
	char		lo[64],
				hi[64];

	for (a = 0; a < desc->natts; a++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, a);

		if (!att->attisdropped && strcmp(NameStr(att->attname), period->period_column) == 0)
			found = att;
	}
	if (found == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("volumes relation %s has no period column \"%s\"", shown,
						period->period_column)));
	typ = getBaseType(found->atttypid);
	if (typ == TEXTOID || typ == VARCHAROID || typ == BPCHAROID)
	{
		if (period->period_label == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("the period column \"%s\" of %s holds labels, but no period label was given",
							period->period_column, shown)));
		return psprintf("%s OPERATOR(pg_catalog.=) %s::pg_catalog.text", col,
						quote_literal_cstr(period->period_label));
	}
	if (typ != DATEOID && typ != TIMESTAMPOID && typ != TIMESTAMPTZOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("period column \"%s\" of %s has type %s", period->period_column, shown,
						format_type_be(found->atttypid)),
				 errdetail("Expected text (the period label), date, timestamp or timestamptz.")));
	j2date(period->period_start + POSTGRES_EPOCH_JDATE, &y1, &m1, &d1);
	j2date(period->period_end + 1 + POSTGRES_EPOCH_JDATE, &y2, &m2, &d2);
	snprintf(lo, sizeof(lo), "pg_catalog.make_date(%d, %d, %d)", y1, m1, d1);
	snprintf(hi, sizeof(hi), "pg_catalog.make_date(%d, %d, %d)", y2, m2, d2);
	if (typ == DATEOID)
		return psprintf("%s OPERATOR(pg_catalog.>=) %s AND %s OPERATOR(pg_catalog.<) %s",
						col, lo, col, hi);
	if (typ == TIMESTAMPOID)
		return psprintf("%s OPERATOR(pg_catalog.>=) %s::pg_catalog.timestamp"
						" AND %s OPERATOR(pg_catalog.<) %s::pg_catalog.timestamp",
						col, lo, col, hi);
	if (period->time_zone == NULL)
		return psprintf("%s OPERATOR(pg_catalog.>=) %s::pg_catalog.timestamptz"
						" AND %s OPERATOR(pg_catalog.<) %s::pg_catalog.timestamptz",
						col, lo, col, hi);
	return psprintf("%s OPERATOR(pg_catalog.>=) pg_catalog.timezone(%s::pg_catalog.text, %s::pg_catalog.timestamp)"
					" AND %s OPERATOR(pg_catalog.<) pg_catalog.timezone(%s::pg_catalog.text, %s::pg_catalog.timestamp)",
					col, quote_literal_cstr(period->time_zone), lo,
					col, quote_literal_cstr(period->time_zone), hi);
}

/* The row's value of column c as int64 (ids). */
static inline int64
RowInt64(const Row *row, int c)
{
	switch (row->type[c])
	{
		case INT2OID:
			return DatumGetInt16(row->v[c]);
		case INT4OID:
			return DatumGetInt32(row->v[c]);
		default:
			return DatumGetInt64(row->v[c]);
	}
}

/* The row's value of column c as int32 (positions). */
static int32
RowInt32(const Row *row, int c, int64 member)
{
	int64		v = RowInt64(row, c);

	if (v < PG_INT32_MIN || v > PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("position of member " INT64_FORMAT " is out of range", member)));
	return (int32) v;
}

/* The row's value of column c as a date (date or timestamp columns). */
static DateADT
RowDate(const Row *row, int c)
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

static mlm_dec NumericDatumToVol(Datum d, const char *what, int64 member);

/* The row's value of column c as an amount at VOL scale. */
static mlm_dec
RowAmount(const Row *row, int c, const char *what, int64 member)
{
	if (row->type[c] == NUMERICOID)
		return NumericDatumToVol(row->v[c], what, member);
	return MlmDecMul((mlm_dec) RowInt64(row, c), MlmPow10[MLM_VOL_SCALE]);
}

/*
 * Exact numeric -> fixed point at VOL scale, reading numeric's stored form
 * directly (sign, weight, base-10000 digits): a million volume rows convert
 * in milliseconds instead of going through text.
 */
static mlm_dec
NumericDatumToVol(Datum d, const char *what, int64 member)
{
	struct varlena *num = PG_DETOAST_DATUM_PACKED(d);
	const char *p = VARDATA_ANY(num);
	Size		len = VARSIZE_ANY_EXHDR(num);
	uint16		hdr;
	bool		neg;
	int			weight;
	const char *digits;
	int			ndigits;
	int			i;
	int			exp10;
	mlm_dec		v = 0;

	memcpy(&hdr, p, sizeof(uint16));
	if ((hdr & 0xC000) == 0xC000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s of member " INT64_FORMAT " is not a finite number", what, member)));
	if ((hdr & 0xC000) == 0x8000)
	{
		neg = (hdr & 0x2000) != 0;
		weight = (int) (int16) ((hdr & 0x0040) ? (hdr | 0xFFC0) : (hdr & 0x003F));
		digits = p + sizeof(uint16);
		ndigits = (int) ((len - sizeof(uint16)) / sizeof(int16));
	}
	else
	{
		int16		w;

		neg = (hdr & 0x4000) != 0;
		memcpy(&w, p + sizeof(uint16), sizeof(int16));
		weight = w;
		digits = p + 2 * sizeof(uint16);
		ndigits = (int) ((len - 2 * sizeof(uint16)) / sizeof(int16));
	}
	if (ndigits == 0)
		return 0;
	if (weight > 8)
		goto out_of_range;
	for (i = 0; i < ndigits; i++)
	{
		int16		dg;

		memcpy(&dg, digits + i * sizeof(int16), sizeof(int16));
		if (__builtin_mul_overflow(v, (mlm_dec) 10000, &v) ||
			__builtin_add_overflow(v, (mlm_dec) dg, &v))
			goto out_of_range;
	}
	/* value = v * 10000^(weight - ndigits + 1); want it times 10^VOL */
	exp10 = 4 * (weight - ndigits + 1) + MLM_VOL_SCALE;
	if (exp10 >= 0)
	{
		if (exp10 > 38 || __builtin_mul_overflow(v, MlmPow10[exp10], &v))
			goto out_of_range;
	}
	else
	{
		if (-exp10 > 38 || v % MlmPow10[-exp10] != 0)
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("%s of member " INT64_FORMAT " has more than %d decimal places",
							what, member, MLM_VOL_SCALE)));
		v /= MlmPow10[-exp10];
	}
	if (v > MlmPow10[30])
		goto out_of_range;
	return neg ? -v : v;

out_of_range:
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("%s of member " INT64_FORMAT " is too large", what, member)));
	return 0;
}

/* Run a SELECT through a cursor, calling fn for every row. */
typedef void (*RowFn) (void *arg, const Row *row);

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

static void ScanSourceRows(const Source *src, RowFn fn, void *arg);

/*
 * Call fn for every row of a source, as its owner when the source says so
 * (see BecomeOwner).
 */
static void
ScanSource(const Source *src, RowFn fn, void *arg)
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
ScanSourceRows(const Source *src, RowFn fn, void *arg)
{
	Relation	rel = table_open(src->relid, AccessShareLock);
	Row			row;
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

/* Member rows collected before the tree is built. */
typedef struct MemberRows
{
	MemoryContext cxt;
	MlmTreeInput in;
	int64		cap;
	bool	   *status;
	int32	   *joined;
	uint64		hash;
	bool		any_placement;
	bool		descending_seen;	/* ids did not always increase */
	bool		with_placement; /* a placement value was seen: arrays kept */
	bool		ids_only;		/* the source has only id and sponsor_id */
	int64		expected;		/* planner's row estimate: first allocation */
} MemberRows;

/* Allocate (old == 0) or grow an array of elem-sized entries to cap. */
static void
GrowArray(void **p, int64 old, int64 cap, Size elem)
{
	*p = old == 0 ? MlmAllocArray(cap, elem) : MlmReallocArray(*p, cap, elem);
}

/* Make room for more member rows (doubling; the first call allocates). */
static void
MemberRowsGrow(MemberRows *m)
{
	MlmTreeInput *in = &m->in;
	int64		r = in->n;
	MemoryContext old = MemoryContextSwitchTo(m->cxt);
	int64		cap = Max(m->cap * 2, Max(m->expected, 16384));

	if (cap > MLM_TREE_MAX_MEMBERS)
	{
		cap = MLM_TREE_MAX_MEMBERS;
		if (r >= cap)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("more than %d members", MLM_TREE_MAX_MEMBERS)));
	}
	GrowArray((void **) &in->ids, m->cap, cap, sizeof(int64));
	GrowArray((void **) &in->parents, m->cap, cap, sizeof(int64));
	GrowArray((void **) &in->parent_null, m->cap, cap, sizeof(bool));
	if (!m->ids_only)
	{
		GrowArray((void **) &m->status, m->cap, cap, sizeof(bool));
		GrowArray((void **) &m->joined, m->cap, cap, sizeof(int32));
	}
	if (m->with_placement)
	{
		GrowArray((void **) &in->pparents, m->cap, cap, sizeof(int64));
		GrowArray((void **) &in->pparent_null, m->cap, cap, sizeof(bool));
		GrowArray((void **) &in->pos, m->cap, cap, sizeof(int32));
		GrowArray((void **) &in->pos_null, m->cap, cap, sizeof(bool));
	}
	m->cap = cap;
	MemoryContextSwitchTo(old);
}

static void
MemberRow(void *arg, const Row *row)
{
	MemberRows *m = (MemberRows *) arg;
	MlmTreeInput *in = &m->in;
	int64		r = in->n;

	if (r == m->cap)
		MemberRowsGrow(m);

	if (row->null[0])
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("member id must not be null"),
				 errdetail("Row " INT64_FORMAT " of the members relation has a null id.", r + 1)));
	in->ids[r] = RowInt64(row, 0);
	if (r > 0 && in->ids[r] <= in->ids[r - 1])
		m->descending_seen = true;
	in->parent_null[r] = row->null[1];
	in->parents[r] = row->null[1] ? 0 : RowInt64(row, 1);
	if (m->ids_only)
	{
		/* the source reads only id and sponsor_id */
		in->n = r + 1;
		return;
	}
	if (!m->with_placement && (!row->null[2] || !row->null[3]))
	{
		/* the first placement value: from now on keep placement arrays */
		int64		k;
		MemoryContext old = MemoryContextSwitchTo(m->cxt);

		m->with_placement = true;
		in->pparents = MlmAllocArray(m->cap, sizeof(int64));
		in->pparent_null = MlmAllocArray(m->cap, sizeof(bool));
		in->pos = MlmAllocArray(m->cap, sizeof(int32));
		in->pos_null = MlmAllocArray(m->cap, sizeof(bool));
		MemoryContextSwitchTo(old);
		for (k = 0; k < r; k++)
			in->pparent_null[k] = in->pos_null[k] = true;
	}
	if (m->with_placement)
	{
		in->pparent_null[r] = row->null[2];
		in->pparents[r] = row->null[2] ? 0 : RowInt64(row, 2);
		in->pos_null[r] = row->null[3];
		in->pos[r] = row->null[3] ? 0 : RowInt32(row, 3, in->ids[r]);
		if (!row->null[2] || !row->null[3])
			m->any_placement = true;
	}
	m->status[r] = row->null[4] ? true : DatumGetBool(row->v[4]);
	m->joined[r] = row->null[5] ? MLM_NO_DATE : RowDate(row, 5);
	m->hash += MlmMix64((uint64) in->ids[r] * 31 + (in->parent_null[r] ? 7 : (uint64) in->parents[r]) +
						((uint64) m->status[r] << 40) + ((uint64) (uint32) m->joined[r] << 20) +
						(!m->with_placement || in->pparent_null[r] ? 0 :
						 (uint64) in->pparents[r] * 131 + in->pos[r]));
	in->n = r + 1;
}

/*
 * Member id -> input row.  Dense ids (ERP serials) use a direct table, so a
 * volume table in id order is read with sequential memory access; sparse
 * ids use open addressing with the id stored in the slot.
 */
typedef struct IdMapSlot
{
	int64		id;
	int32		row;
} IdMapSlot;

typedef struct IdMap
{
	bool		consecutive;	/* row = id - min, no table */
	int32	   *direct;
	int64		min;
	uint64		range;
	IdMapSlot  *slots;
	uint64		mask;
} IdMap;

static void
IdMapBuild(IdMap *map, const int64 *ids, int32 n, bool ascending)
{
	int64		min = PG_INT64_MAX,
				max = PG_INT64_MIN;
	int32		r;

	memset(map, 0, sizeof(IdMap));
	if (ascending && n > 0 && (uint64) ids[n - 1] - (uint64) ids[0] == (uint64) n - 1)
	{
		/* ids min, min + 1, ... in row order: the row is id - min */
		map->consecutive = true;
		map->min = ids[0];
		map->range = (uint64) n;
		return;
	}
	for (r = 0; r < n; r++)
	{
		min = Min(min, ids[r]);
		max = Max(max, ids[r]);
	}
	if (n > 0 && (uint64) max - (uint64) min < (uint64) n * 3)
	{
		map->min = min;
		map->range = (uint64) max - (uint64) min + 1;
		map->direct = MlmAllocArray(map->range, sizeof(int32));
		memset(map->direct, 0xFF, map->range * sizeof(int32));
		for (r = 0; r < n; r++)
			map->direct[(uint64) ids[r] - (uint64) min] = r;
		return;
	}
	map->mask = 15;
	while (map->mask + 1 < (uint64) n * 2)
		map->mask = map->mask * 2 + 1;
	map->slots = MlmAllocArray(map->mask + 1, sizeof(IdMapSlot));
	for (r = 0; r <= (int32) Min(map->mask, (uint64) PG_INT32_MAX - 1); r++)
		map->slots[r].row = -1;
	for (r = 0; r < n; r++)
	{
		uint64		h = MlmMix64((uint64) ids[r]) & map->mask;

		while (map->slots[h].row != -1)
			h = (h + 1) & map->mask;
		map->slots[h].id = ids[r];
		map->slots[h].row = r;
	}
}

static inline int32
IdMapFind(const IdMap *map, int64 id)
{
	uint64		h;

	if (map->consecutive)
	{
		uint64		off = (uint64) id - (uint64) map->min;

		return off < map->range ? (int32) off : -1;
	}
	if (map->direct)
	{
		uint64		off = (uint64) id - (uint64) map->min;

		return off < map->range ? map->direct[off] : -1;
	}
	h = MlmMix64((uint64) id) & map->mask;
	while (map->slots[h].row != -1)
	{
		if (map->slots[h].id == id)
			return map->slots[h].row;
		h = (h + 1) & map->mask;
	}
	return -1;
}

typedef struct VolumeRows
{
	MlmNet	   *net;
	const IdMap *map;
	mlm_dec    *pv;				/* by input row */
	mlm_dec    *cv;				/* NULL when CV is not wanted */
	MlmIdList	orphans;
	uint64		hash;
} VolumeRows;

static void
VolumeRow(void *arg, const Row *row)
{
	VolumeRows *vr = (VolumeRows *) arg;
	MlmNet	   *net = vr->net;
	int64		id;
	int32		i;
	mlm_dec		pv = 0,
				cv = 0;

	net->volume_rows++;
	if (row->null[0])
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("volume row " INT64_FORMAT " has a null member_id", net->volume_rows)));
	id = RowInt64(row, 0);
	i = IdMapFind(vr->map, id);
	if (i < 0)
	{
		MlmIdListAdd(&vr->orphans, id);
		return;
	}
	if (!row->null[1])
		pv = RowAmount(row, 1, "pv", id);
	if (!row->null[2] && vr->cv)
		cv = RowAmount(row, 2, "cv", id);
	vr->pv[i] = MlmDecAdd(vr->pv[i], pv);
	if (vr->cv)
		vr->cv[i] = MlmDecAdd(vr->cv[i], cv);
	vr->hash += MlmMix64((uint64) id ^ MlmMix64((uint64) pv ^ ((uint64) (pv >> 64) << 7)) ^
						 MlmMix64((uint64) cv * 3 + (uint64) (cv >> 64)));
}

typedef struct CarryRows
{
	MlmNet	   *net;
	const IdMap *map;
	const int32 *row_to_index;
	bool	   *seen;
	MlmIdList	orphans;
	MlmIdList	dups;
	uint64		hash;
} CarryRows;

static void
CarryRow(void *arg, const Row *row)
{
	CarryRows  *cr = (CarryRows *) arg;
	MlmNet	   *net = cr->net;
	int64		id;
	int32		i;

	net->carry_rows++;
	if (row->null[0])
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("carry row " INT64_FORMAT " has a null member_id", net->carry_rows)));
	id = RowInt64(row, 0);
	i = IdMapFind(cr->map, id);
	if (i < 0)
	{
		MlmIdListAdd(&cr->orphans, id);
		return;
	}
	i = cr->row_to_index[i];
	if (cr->seen[i])
	{
		MlmIdListAdd(&cr->dups, id);
		return;
	}
	cr->seen[i] = true;
	net->carry_left[i] = row->null[1] ? 0 : RowAmount(row, 1, "carry_left", id);
	net->carry_right[i] = row->null[2] ? 0 : RowAmount(row, 2, "carry_right", id);
	cr->hash += MlmMix64((uint64) id * 17 + (uint64) net->carry_left[i] * 5 + (uint64) net->carry_right[i]);
}

/* Check placement positions against the plan's width (spec section 2, 10). */
static void
CheckPlacement(const MlmSources *src, MlmNet *net, bool any_placement)
{
	MlmIdList	bad = {{0}, 0};
	int32		i;

	if (src->need_placement && !any_placement && net->n >= 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the plan pays on the placement tree but no member has a placement_id"),
				 errhint("Fill placement_id and position in the members relation.")));
	if (src->placement_width <= 0 || net->v.pparent == NULL)
		return;
	for (i = 0; i < net->n; i++)
		if (net->v.pparent[i] >= 0 && net->v.ppos[i] >= src->placement_width)
			MlmIdListAdd(&bad, net->v.ids[i]);
	if (bad.count > 0)
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("placement position out of range 0 .. %d", src->placement_width - 1),
				 MlmIdListDetail("Members", &bad)));
}

/* The spec's columns of each input relation (spec section 1). */
static const ColSpec member_cols[] = {
	{"id", COL_ID, true},
	{"sponsor_id", COL_ID, true},
	{"placement_id", COL_ID, false},
	{"position", COL_INT, false},
	{"active_status", COL_BOOL, false},
	{"joined", COL_DATE, false},
};
static const ColSpec sponsor_cols[] = {	/* just the sponsor tree */
	{"id", COL_ID, true},
	{"sponsor_id", COL_ID, true},
};
static const ColSpec volume_cols[] = {
	{"member_id", COL_ID, true},
	{"pv", COL_AMOUNT, true},
	{"cv", COL_AMOUNT, true},
};
static const ColSpec carry_cols[] = {
	{"member_id", COL_ID, true},
	{"carry_left", COL_AMOUNT, true},
	{"carry_right", COL_AMOUNT, true},
};

MlmNet *
MlmLoadNetwork(const MlmSources *src)
{
	MemoryContext cxt = CurrentMemoryContext;
	MlmNet	   *net = palloc0(sizeof(MlmNet));
	MemberRows	mr = {0};
	VolumeRows	vr;
	Source		msrc,
				vsrc,
				csrc;
	int32	   *row_to_index;
	IdMap		map;
	int64		r;
	int32		i;

	/* column checks first, so a missing column fails before any work */
	if (src->snapshot == NULL)
		PrepareSource(&msrc, src->members, "members", member_cols, lengthof(member_cols), src, false);
	PrepareSource(&vsrc, src->volumes, "volumes", volume_cols, lengthof(volume_cols), src, true);
	if (OidIsValid(src->carry))
		PrepareSource(&csrc, src->carry, "carry", carry_cols, lengthof(carry_cols), src, false);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	if (src->snapshot)
	{
		/* members from a stored mlm.tree: all active_status true, no dates */
		MemoryContextSwitchTo(cxt);
		net->tree = MemoryContextAllocHuge(cxt, VARSIZE(src->snapshot));
		memcpy(net->tree, src->snapshot, VARSIZE(src->snapshot));
		MlmTreeSetView(&net->v, net->tree);
		net->n = net->v.n;
		net->member_rows = net->n;
		net->status = MlmAllocArray(Max(net->n, 1), sizeof(bool));
		net->joined = MlmAllocArray(Max(net->n, 1), sizeof(int32));
		row_to_index = MlmAllocArray(Max(net->n, 1), sizeof(int32));
		for (i = 0; i < net->n; i++)
		{
			net->status[i] = true;
			net->joined[i] = MLM_NO_DATE;
			row_to_index[i] = i;
			if (net->v.pparent && net->v.pparent[i] >= 0)
				mr.any_placement = true;
			mr.hash += MlmMix64((uint64) net->v.ids[i] * 31 + (uint64) net->v.parent[i]);
		}
		IdMapBuild(&map, net->v.ids, net->n, false);
	}
	else
	{
		mr.cxt = cxt;
		mr.expected = msrc.reltuples;
		MemberRowsGrow(&mr);	/* allocated even when there are no rows */
		ScanSource(&msrc, MemberRow, &mr);

		MemoryContextSwitchTo(cxt);
		/* placement arrays only when the members relation has placement */
		mr.in.has_placement = mr.any_placement;
		mr.in.ascending = !mr.descending_seen;
		net->tree = MlmTreeBuild(&mr.in, &row_to_index);
		MlmTreeSetView(&net->v, net->tree);
		net->n = net->v.n;
		net->member_rows = mr.in.n;
		net->status = MlmAllocArray(Max(net->n, 1), sizeof(bool));
		net->joined = MlmAllocArray(Max(net->n, 1), sizeof(int32));
		for (r = 0; r < mr.in.n; r++)
		{
			net->status[row_to_index[r]] = mr.status[r];
			net->joined[row_to_index[r]] = mr.joined[r];
		}
		IdMapBuild(&map, mr.in.ids, (int32) mr.in.n, !mr.descending_seen);
		pfree(mr.in.ids);
		pfree(mr.in.parents);
		pfree(mr.in.parent_null);
		if (mr.with_placement)
		{
			pfree(mr.in.pparents);
			pfree(mr.in.pparent_null);
			pfree(mr.in.pos);
			pfree(mr.in.pos_null);
		}
		pfree(mr.status);
		pfree(mr.joined);
	}
	CheckPlacement(src, net, mr.any_placement);
	if (src->need_placement && net->v.pparent != NULL)
		net->porder = MlmForestOrder(net->v.pparent, net->n, &net->porder_len);

	net->depth = MlmAllocArray(Max(net->n, 1), sizeof(int32));
	for (i = 0; i < net->n; i++)
		net->depth[i] = net->v.parent[i] < 0 ? 0 : net->depth[net->v.parent[i]] + 1;

	/* volumes are summed by input row, then moved to preorder once */
	memset(&vr, 0, sizeof(vr));
	vr.net = net;
	vr.map = &map;
	vr.pv = MlmAllocArrayZero(Max(net->n, 1), sizeof(mlm_dec));
	vr.cv = MlmAllocArrayZero(Max(net->n, 1), sizeof(mlm_dec));
	ScanSource(&vsrc, VolumeRow, &vr);
	if (vr.orphans.count > 0)
		ereport(ERROR,
				(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
				 errmsg("volume rows for ids that are not members"),
				 MlmIdListDetail("Unknown member ids", &vr.orphans)));
	MemoryContextSwitchTo(cxt);
	net->pv = MlmAllocArray(Max(net->n, 1), sizeof(mlm_dec));
	net->cv = MlmAllocArray(Max(net->n, 1), sizeof(mlm_dec));
	for (r = 0; r < net->n; r++)
	{
		net->pv[row_to_index[r]] = vr.pv[r];
		net->cv[row_to_index[r]] = vr.cv[r];
	}
	pfree(vr.pv);
	pfree(vr.cv);

	net->input_hash = MlmMix64(mr.hash) ^ MlmMix64(vr.hash + 1);
	if (OidIsValid(src->carry))
	{
		CarryRows	cr;

		MemoryContextSwitchTo(cxt);
		net->carry_left = MlmAllocArrayZero(Max(net->n, 1), sizeof(mlm_dec));
		net->carry_right = MlmAllocArrayZero(Max(net->n, 1), sizeof(mlm_dec));
		memset(&cr, 0, sizeof(cr));
		cr.net = net;
		cr.map = &map;
		cr.row_to_index = row_to_index;
		cr.seen = MlmAllocArrayZero(Max(net->n, 1), sizeof(bool));
		ScanSource(&csrc, CarryRow, &cr);
		if (cr.orphans.count > 0)
			ereport(ERROR,
					(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
					 errmsg("carry rows for ids that are not members"),
					 MlmIdListDetail("Unknown member ids", &cr.orphans)));
		if (cr.dups.count > 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNIQUE_VIOLATION),
					 errmsg("more than one carry row for a member"),
					 MlmIdListDetail("Member ids", &cr.dups)));
		pfree(cr.seen);
		net->input_hash ^= MlmMix64(cr.hash + 2);
	}

	SPI_finish();
	MemoryContextSwitchTo(cxt);
	pfree(row_to_index);
	if (map.direct)
		pfree(map.direct);
	if (map.slots)
		pfree(map.slots);
	return net;
}

/*
 * GV of every member without building a snapshot, for the common input
 * where ids arrive in increasing order and every sponsor's id is below its
 * recruit's (ERP serials): rows are then already parents-first, so one
 * backward pass over the rows sums the group volumes.  Returns false,
 * having computed nothing, for any other input: the caller then takes the
 * general path, which also reports cycles.  Orphans and volume rows of
 * non-members raise the same errors as the general path.
 */
bool
MlmGroupVolumeFast(Oid members, Oid volumes, int64 **ids_out, mlm_dec **gv_out,
				   int32 *n_out)
{
	MemoryContext cxt = CurrentMemoryContext;
	MemberRows	mr = {0};
	VolumeRows	vr;
	MlmNet		dummy;
	Source		msrc,
				vsrc;
	IdMap		map;
	int32	   *prow;
	int32		n,
				r;
	MlmIdList	orphans = {{0}, 0};

	MlmSources	how = {0};

	PrepareSource(&msrc, members, "members", sponsor_cols, lengthof(sponsor_cols), &how, false);
	PrepareSource(&vsrc, volumes, "volumes", volume_cols, lengthof(volume_cols), &how, true);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	mr.cxt = cxt;
	mr.ids_only = true;
	mr.expected = msrc.reltuples;
	MemberRowsGrow(&mr);
	ScanSource(&msrc, MemberRow, &mr);
	MemoryContextSwitchTo(cxt);
	n = (int32) mr.in.n;
	if (mr.descending_seen)
	{
		SPI_finish();
		return false;
	}

	/* sponsors: must exist, and come before their recruits */
	IdMapBuild(&map, mr.in.ids, n, true);
	prow = MlmAllocArray(Max(n, 1), sizeof(int32));
	for (r = 0; r < n; r++)
	{
		prow[r] = -1;
		if (mr.in.parent_null[r])
			continue;
		prow[r] = IdMapFind(&map, mr.in.parents[r]);
		if (prow[r] < 0)
			MlmIdListAdd(&orphans, mr.in.ids[r]);
		else if (prow[r] >= r)
		{
			SPI_finish();
			return false;
		}
	}
	if (orphans.count > 0)
		ereport(ERROR,
				(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
				 errmsg("sponsor_id is not a member of the tree"),
				 MlmIdListDetail("Members whose sponsor_id is missing", &orphans)));

	memset(&vr, 0, sizeof(vr));
	memset(&dummy, 0, sizeof(dummy));
	vr.net = &dummy;
	vr.map = &map;
	vr.pv = MlmAllocArrayZero(Max(n, 1), sizeof(mlm_dec));
	vr.cv = NULL;
	ScanSource(&vsrc, VolumeRow, &vr);
	SPI_finish();
	MemoryContextSwitchTo(cxt);
	if (vr.orphans.count > 0)
		ereport(ERROR,
				(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
				 errmsg("volume rows for ids that are not members"),
				 MlmIdListDetail("Unknown member ids", &vr.orphans)));

	MlmForestSumUp(prow, NULL, n, vr.pv);
	*ids_out = mr.in.ids;
	*gv_out = vr.pv;
	*n_out = n;
	return true;
}
