/*
 * source.h
 *	  Reading the caller's relations: check a relation's columns against
 *	  the spec's, then call a function for every row, with a plain table
 *	  scan when PostgreSQL's rules allow it and through an SPI cursor
 *	  otherwise, optionally as the relation's owner (a close).
 */
#ifndef MLM_SOURCE_H
#define MLM_SOURCE_H

#include "postgres.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/date.h"

#include "decimal.h"

/* Accepted types of each kind of column. */
typedef enum MlmColKind
{
	MLM_COL_ID,					/* integer types, read as int8 */
	MLM_COL_INT,				/* integer types, read as int4 */
	MLM_COL_BOOL,
	MLM_COL_DATE,				/* date or timestamp(tz), read as date */
	MLM_COL_AMOUNT,				/* numeric or integer, read as numeric */
	MLM_COL_TEXT				/* text or varchar (member types, rank names) */
} MlmColKind;

typedef struct MlmColSpec
{
	const char *name;
	MlmColKind	kind;
	bool		required;
} MlmColSpec;

/* Which volume rows belong to the period (NULL column: every row). */
typedef struct MlmPeriodFilter
{
	const char *column;
	const char *label;			/* compared with a text period column */
	DateADT		start;
	DateADT		end;
	const char *time_zone;		/* cuts timestamptz periods (required for them) */
} MlmPeriodFilter;

/* One input relation: its checked columns and how to read them. */
#define MLM_SOURCE_MAX_COLS 8
typedef struct MlmSource
{
	Oid			relid;
	int			ncols;
	AttrNumber	attnum[MLM_SOURCE_MAX_COLS];	/* 0 = column absent (reads
												 * NULL) */
	Oid			type[MLM_SOURCE_MAX_COLS];	/* the column's type */
	AttrNumber	maxatt;
	int64		reltuples;		/* the planner's estimate, 0 if unknown */
	char	   *sql;			/* the same read as a query, for SPI */
	bool		filtered;		/* sql has a WHERE clause: no direct scan */
	Oid			owner;			/* the relation's owner */
	bool		as_owner;		/* read with the owner's rights, restricted */
} MlmSource;

/* A row handed to the row callbacks, in the source's column order. */
typedef struct MlmRow
{
	Datum		v[MLM_SOURCE_MAX_COLS];
	bool		null[MLM_SOURCE_MAX_COLS];
	const Oid  *type;			/* type of each value */
} MlmRow;

typedef void (*MlmRowFn) (void *arg, const MlmRow *row);

/*
 * Check relid's columns against cols (role names the relation in errors:
 * "members", "volumes", "carry") and prepare its read; period, when not
 * NULL and naming a column, keeps only the period's rows.
 */
extern void MlmSourcePrepare(MlmSource *src, Oid relid, const char *role,
							 const MlmColSpec *cols, int ncols, bool as_owner,
							 const MlmPeriodFilter *period);

/* Does the period column of a volumes relation hold labels (text)? */
extern bool MlmSourcePeriodIsLabel(Oid relid, const char *column);

/* Call fn for every row (SPI must be connected). */
extern void MlmSourceScan(const MlmSource *src, MlmRowFn fn, void *arg);

/* The row's value of column c as int64 (ids). */
static inline int64
MlmRowInt64(const MlmRow *row, int c)
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

/* Column c as int32 (positions); errors name the member. */
extern int32 MlmRowInt32(const MlmRow *row, int c, int64 member);

/* Column c as a date (date or timestamp columns). */
extern DateADT MlmRowDate(const MlmRow *row, int c);

/*
 * Does text column c equal the len bytes at s?  Compared as stored, so a
 * short value costs no copy.
 */
static inline bool
MlmRowTextIs(const MlmRow *row, int c, const char *s, int len)
{
	text	   *t = DatumGetTextPP(row->v[c]);
	bool		eq = VARSIZE_ANY_EXHDR(t) == len && memcmp(VARDATA_ANY(t), s, len) == 0;

	if ((Pointer) t != DatumGetPointer(row->v[c]))
		pfree(t);
	return eq;
}

/* Column c as a palloc'd C string (error details only). */
extern char *MlmRowText(const MlmRow *row, int c);

/* Column c as an amount at VOL scale; errors name what and the member. */
extern mlm_dec MlmRowAmount(const MlmRow *row, int c, const char *what, int64 member);

#endif
