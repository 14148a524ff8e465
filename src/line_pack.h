/*
 * line_pack.h
 *	  The packed form of audit lines (mlm.run_line_pack.data): the one home
 *	  of its encoding, used by the close's writer to pack lines and by the
 *	  SQL functions that unpack (the view mlm.run_line), check (the table's
 *	  CHECK constraint) and pack (the upgrade from 0.1) them.
 *
 * A packed row holds consecutive lines of one recipient and one bonus.
 * Each line is, in order:
 *
 *	 varint		line number minus the previous line's (0 for the first line,
 *				whose number is the row's first_line)
 *	 byte		flags: 1 = has a source, 2 = has a level
 *	 varint		zigzag(source_id - member_id), wrapping, if it has a source
 *	 varint		level, if it has one
 *	 3 figures	base, rate, amount, each either
 *				  byte s (0 .. MLM_AMT_SCALE), varint zigzag(v): the numeric
 *				  v / 10^s shown with exactly s decimals, or
 *				  byte 255, varint n, n bytes: the numeric's text
 *
 * Varints are little-endian base-128 (7 bits a byte, high bit = more).
 * Everything read back is checked (lengths, overflow, counts): a row the
 * writer did not build is an error, never a crash or a wrong number.
 */
#ifndef MLM_LINE_PACK_H
#define MLM_LINE_PACK_H

#include "postgres.h"

#include "lib/stringinfo.h"

#include "decimal.h"
#include "sink.h"

/* One line, decoded. */
typedef struct MlmPackedLine
{
	int64		line_no;
	bool		has_source;
	int64		source_id;
	bool		has_level;
	int32		level;
	Datum		base;			/* numeric datums */
	Datum		rate;
	Datum		amount;
} MlmPackedLine;

/*
 * Append one line after its line-number delta: everything but the delta,
 * which depends on the line before it in the row.
 */
extern void MlmLinePackBody(StringInfo buf, int64 member_id, bool has_source,
							int64 source_id, int32 level,
							const MlmLineFigure *base, const MlmLineFigure *rate,
							mlm_dec amount);

/* Append an unsigned varint (the line-number delta). */
extern void MlmLinePackVarint(StringInfo buf, uint64 v);

/* A reader over one packed row's data. */
typedef struct MlmLineReader
{
	const uint8 *p;
	const uint8 *end;
	int64		member_id;
	int64		next_line;		/* the first line's number, then the last one's */
	int32		left;			/* lines still to read */
	bool		first;
	const char *error;			/* set when the data is malformed */
} MlmLineReader;

extern void MlmLineReaderInit(MlmLineReader *r, int64 member_id, int64 first_line,
							  int32 lines, const char *data, Size len);

/*
 * The next line into *line (numerics built in the current context when
 * make_numerics, else left 0): false at the end or on malformed data
 * (r->error says what); at the end, data left over is an error too.
 */
extern bool MlmLineReaderNext(MlmLineReader *r, MlmPackedLine *line, bool make_numerics);

#endif
