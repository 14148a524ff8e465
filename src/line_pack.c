/*
 * line_pack.c
 *	  Packed audit lines (see line_pack.h for the format): the encoder the
 *	  close's writer uses, the checked reader, and the SQL functions
 *	  mlm._unpack_lines (behind the view mlm.run_line), mlm._lines_valid
 *	  (the CHECK constraint of mlm.run_line_pack) and mlm._pack_lines (the
 *	  upgrade of 0.1's one-row-per-line table).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"

#include "line_pack.h"
#include "mlm.h"

PG_FUNCTION_INFO_V1(mlm_unpack_lines);
PG_FUNCTION_INFO_V1(mlm_lines_valid);
PG_FUNCTION_INFO_V1(mlm_pack_lines);

#define FLAG_SOURCE		1
#define FLAG_LEVEL		2

#define FIG_NULL		254		/* a NULL base or rate (only from 0.1's rows) */
#define FIG_TEXT		255

/* the longest numeric text a figure holds: numeric_in never fails on it */
#define FIG_TEXT_MAX	1024
#define FIG_DIGITS_MAX	1000

/* An unsigned varint of up to 128 bits (at most 19 bytes). */
static void
PackVarint128(StringInfo buf, unsigned __int128 v)
{
	uint8		b[19];
	int			n = 0;

	do
	{
		b[n] = (uint8) (v & 0x7F);
		v >>= 7;
		if (v != 0)
			b[n] |= 0x80;
		n++;
	} while (v != 0);
	appendBinaryStringInfo(buf, (char *) b, n);
}

void
MlmLinePackVarint(StringInfo buf, uint64 v)
{
	PackVarint128(buf, v);
}

/* A fixed-point figure: v at scale s, shown with exactly s decimals. */
static void
PackDec(StringInfo buf, mlm_dec v, int s)
{
	unsigned __int128 z = ((unsigned __int128) v << 1) ^ (unsigned __int128) (v >> 127);

	appendStringInfoChar(buf, (char) s);
	PackVarint128(buf, z);
}

/*
 * Is s a numeric text numeric_in reads without error: [-]digits[.digits]
 * with at most FIG_DIGITS_MAX digits either side, NaN, or [-]Infinity?
 */
static bool
NumericTextOk(const char *s, int len)
{
	int			i = 0,
				ni = 0,
				nf = 0;

	if ((len == 3 && memcmp(s, "NaN", 3) == 0) ||
		(len == 8 && memcmp(s, "Infinity", 8) == 0) ||
		(len == 9 && memcmp(s, "-Infinity", 9) == 0))
		return true;
	if (i < len && s[i] == '-')
		i++;
	while (i < len && s[i] >= '0' && s[i] <= '9')
		i++, ni++;
	if (i < len && s[i] == '.')
	{
		i++;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++, nf++;
		if (nf == 0)
			return false;
	}
	return i == len && ni > 0 && ni <= FIG_DIGITS_MAX && nf <= FIG_DIGITS_MAX;
}

/* A numeric datum as a figure: fixed point when it fits, else its text. */
static void
PackNumeric(StringInfo buf, Datum num)
{
	char	   *text = DatumGetCString(DirectFunctionCall1(numeric_out, num));
	int			len = strlen(text);
	const char *dot = strchr(text, '.');
	int			s = dot ? (int) (len - (dot - text) - 1) : 0;
	mlm_dec		v;

	if (s <= MLM_AMT_SCALE && MlmTextToDec(text, s, &v))
		PackDec(buf, v, s);
	else
	{
		if (len > FIG_TEXT_MAX || !NumericTextOk(text, len))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("numeric value %.40s... is too long for an audit line", text)));
		appendStringInfoChar(buf, (char) FIG_TEXT);
		MlmLinePackVarint(buf, (uint64) len);
		appendBinaryStringInfo(buf, text, len);
	}
	pfree(text);
}

/*
 * A figure: trimmed like MlmDecToNumeric, or a numeric's; NULL for a NULL
 * figure (a base or rate of 0.1's rows).
 */
static void
PackFigure(StringInfo buf, const MlmLineFigure *f)
{
	mlm_dec		v;
	int			s;

	if (f == NULL)
	{
		appendStringInfoChar(buf, (char) FIG_NULL);
		return;
	}
	if (f->num != (Datum) 0)
	{
		PackNumeric(buf, f->num);
		return;
	}
	v = f->v;
	s = f->scale;
	/*
	 * Trailing zeros off.  128-bit division is slow: 8 digits at a time
	 * until the value fits in 64 bits (an amount carries 16 zeros or so).
	 */
	while ((v < PG_INT64_MIN || v > PG_INT64_MAX) && s - 8 >= f->minscale &&
		   v % 100000000 == 0)
	{
		v /= 100000000;
		s -= 8;
	}
	if (v >= PG_INT64_MIN && v <= PG_INT64_MAX)
	{
		int64		x = (int64) v;

		while (s - 4 >= f->minscale && x % 10000 == 0)
		{
			x /= 10000;
			s -= 4;
		}
		while (s > f->minscale && x % 10 == 0)
		{
			x /= 10;
			s--;
		}
		v = x;
	}
	else
		while (s > f->minscale && v % 10 == 0)
		{
			v /= 10;
			s--;
		}
	if (s < 0 || s > MLM_AMT_SCALE)
		PackNumeric(buf, MlmDecToNumeric(f->v, f->scale, f->minscale));
	else
		PackDec(buf, v, s);
}

/* A line after its line-number delta, its base, rate and amount in fig. */
static void
PackBody(StringInfo buf, int64 member_id, bool has_source, int64 source_id,
		 int32 level, const MlmLineFigure *const fig[3])
{
	int			f;

	appendStringInfoChar(buf, (char) ((has_source ? FLAG_SOURCE : 0) | (level >= 0 ? FLAG_LEVEL : 0)));
	if (has_source)
	{
		int64		d = (int64) ((uint64) source_id - (uint64) member_id);

		MlmLinePackVarint(buf, ((uint64) d << 1) ^ (uint64) (d >> 63));
	}
	if (level >= 0)
		MlmLinePackVarint(buf, (uint64) level);
	for (f = 0; f < 3; f++)
		PackFigure(buf, fig[f]);
}

void
MlmLinePackBody(StringInfo buf, int64 member_id, bool has_source, int64 source_id,
				int32 level, const MlmLineFigure *base, const MlmLineFigure *rate,
				mlm_dec amount)
{
	MlmLineFigure a = {amount, MLM_AMT_SCALE, 2, (Datum) 0};
	const MlmLineFigure *const fig[3] = {base, rate, &a};

	PackBody(buf, member_id, has_source, source_id, level, fig);
}

void
MlmLineReaderInit(MlmLineReader *r, int64 member_id, int64 first_line, int32 lines,
				  const char *data, Size len)
{
	r->p = (const uint8 *) data;
	r->end = (const uint8 *) data + len;
	r->member_id = member_id;
	r->next_line = first_line;
	r->left = lines;
	r->first = true;
	r->error = lines < 1 ? "a row holds at least one line" : NULL;
}

/* An unsigned varint of at most bits bits (64 or 128). */
static bool
ReadVarint(MlmLineReader *r, int bits, unsigned __int128 *v)
{
	unsigned __int128 x = 0;
	int			shift = 0;

	for (;;)
	{
		uint8		b;

		if (r->p >= r->end)
		{
			r->error = "the data ends inside a number";
			return false;
		}
		b = *r->p++;
		if (shift + 7 > bits && (b & 0x7F) >> (bits - shift) != 0)
		{
			r->error = "a number is out of range";
			return false;
		}
		x |= (unsigned __int128) (b & 0x7F) << shift;
		if ((b & 0x80) == 0)
			break;
		shift += 7;
		if (shift >= bits)
		{
			r->error = "a number is out of range";
			return false;
		}
	}
	*v = x;
	return true;
}

/* One figure into *out (a numeric, or 0 when not make); *isnull for FIG_NULL. */
static bool
ReadFigure(MlmLineReader *r, bool make, bool null_ok, Datum *out, bool *isnull)
{
	uint8		tag;
	unsigned __int128 u;

	*out = (Datum) 0;
	*isnull = false;
	if (r->p >= r->end)
	{
		r->error = "the data ends before a figure";
		return false;
	}
	tag = *r->p++;
	if (tag == FIG_NULL)
	{
		if (!null_ok)
		{
			r->error = "an amount is null";
			return false;
		}
		*isnull = true;
		return true;
	}
	if (tag == FIG_TEXT)
	{
		int			len;
		char	   *s;

		if (!ReadVarint(r, 64, &u))
			return false;
		if (u > FIG_TEXT_MAX || u > (unsigned __int128) (r->end - r->p))
		{
			r->error = "a figure's text is longer than the data";
			return false;
		}
		len = (int) u;
		if (!NumericTextOk((const char *) r->p, len))
		{
			r->error = "a figure's text is not a number";
			return false;
		}
		if (make)
		{
			s = pnstrdup((const char *) r->p, len);
			*out = DirectFunctionCall3(numeric_in, CStringGetDatum(s),
									   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
			pfree(s);
		}
		r->p += len;
		return true;
	}
	if (tag > MLM_AMT_SCALE)
	{
		r->error = "a figure has an unknown form";
		return false;
	}
	if (!ReadVarint(r, 128, &u))
		return false;
	if (make)
	{
		mlm_dec		v = (mlm_dec) (u >> 1) ^ -(mlm_dec) (u & 1);

		*out = MlmDecToNumeric(v, tag, tag);
	}
	return true;
}

bool
MlmLineReaderNext(MlmLineReader *r, MlmPackedLine *line, bool make_numerics)
{
	unsigned __int128 u;
	uint8		flags;
	bool		isnull;

	if (r->error)
		return false;
	if (r->left == 0)
	{
		if (r->p != r->end)
			r->error = "the data goes on after the last line";
		return false;
	}
	if (!ReadVarint(r, 64, &u))
		return false;
	if (r->first ? u != 0 : (u == 0 || u > (unsigned __int128) (PG_INT64_MAX - r->next_line)))
	{
		r->error = r->first ? "the first line's number is not the row's first_line"
			: "a line number does not increase or is out of range";
		return false;
	}
	r->next_line += (int64) u;
	r->first = false;
	line->line_no = r->next_line;
	if (r->p >= r->end)
	{
		r->error = "the data ends inside a line";
		return false;
	}
	flags = *r->p++;
	if (flags & ~(FLAG_SOURCE | FLAG_LEVEL))
	{
		r->error = "a line has unknown flags";
		return false;
	}
	line->has_source = (flags & FLAG_SOURCE) != 0;
	line->source_id = 0;
	if (line->has_source)
	{
		uint64		z;

		if (!ReadVarint(r, 64, &u))
			return false;
		z = (uint64) u;
		line->source_id = (int64) ((uint64) r->member_id + (uint64) ((int64) (z >> 1) ^ -(int64) (z & 1)));
	}
	line->has_level = (flags & FLAG_LEVEL) != 0;
	line->level = 0;
	if (line->has_level)
	{
		if (!ReadVarint(r, 64, &u))
			return false;
		if (u > PG_INT32_MAX)
		{
			r->error = "a level is out of range";
			return false;
		}
		line->level = (int32) u;
	}
	if (!ReadFigure(r, make_numerics, true, &line->base, &isnull))
		return false;
	if (isnull)
		line->base = (Datum) 0;
	if (!ReadFigure(r, make_numerics, true, &line->rate, &isnull))
		return false;
	if (isnull)
		line->rate = (Datum) 0;
	if (!ReadFigure(r, make_numerics, false, &line->amount, &isnull))
		return false;
	r->left--;
	return true;
}

/*
 * mlm._unpack_lines(member_id, first_line, lines, data): the lines of one
 * packed row; corrupt data is an error (XX001) naming the member and line.
 * A NULL base or rate (only from 0.1's rows) comes back NULL.
 */
Datum
mlm_unpack_lines(PG_FUNCTION_ARGS)
{
	int64		member_id = PG_GETARG_INT64(0);
	int64		first_line = PG_GETARG_INT64(1);
	int32		lines = PG_GETARG_INT32(2);
	bytea	   *data = PG_GETARG_BYTEA_PP(3);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MlmLineReader r;
	MlmPackedLine line;
	int32		n = 0;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	MlmLineReaderInit(&r, member_id, first_line, lines, VARDATA_ANY(data), VARSIZE_ANY_EXHDR(data));
	while (MlmLineReaderNext(&r, &line, true))
	{
		Datum		v[6];
		bool		nl[6] = {0};

		v[0] = Int64GetDatum(line.line_no);
		v[1] = Int64GetDatum(line.source_id);
		nl[1] = !line.has_source;
		v[2] = Int32GetDatum(line.level);
		nl[2] = !line.has_level;
		v[3] = line.base;
		nl[3] = line.base == (Datum) 0;
		v[4] = line.rate;
		nl[4] = line.rate == (Datum) 0;
		v[5] = line.amount;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, nl);
		if (++n % 1024 == 0)
			CHECK_FOR_INTERRUPTS();
	}
	if (r.error)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("packed audit lines of member %lld are corrupt", (long long) member_id),
				 errdetail("Line %d of %d of the row with first_line %lld: %s.",
						   n + 1, lines, (long long) first_line, r.error)));
	PG_RETURN_NULL();
}

/*
 * mlm._lines_valid(member_id, first_line, lines, data): whether the data
 * reads as exactly that many lines (the CHECK constraint of
 * mlm.run_line_pack, for rows the close's writer did not build).
 */
Datum
mlm_lines_valid(PG_FUNCTION_ARGS)
{
	bytea	   *data = PG_GETARG_BYTEA_PP(3);
	MlmLineReader r;
	MlmPackedLine line;
	int32		n = 0;

	MlmLineReaderInit(&r, PG_GETARG_INT64(0), PG_GETARG_INT64(1), PG_GETARG_INT32(2),
					  VARDATA_ANY(data), VARSIZE_ANY_EXHDR(data));
	while (MlmLineReaderNext(&r, &line, false))
		if (++n % 1024 == 0)
			CHECK_FOR_INTERRUPTS();
	PG_RETURN_BOOL(r.error == NULL);
}

/* The elements of a one-dimensional array argument, checked to have n of them. */
static void
ArrayArg(FunctionCallInfo fcinfo, int argno, const char *name, Oid elemtype,
		 int *n, Datum **elems, bool **nulls)
{
	ArrayType  *a = PG_GETARG_ARRAYTYPE_P(argno);
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			count;

	if (ARR_NDIM(a) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be a one-dimensional array", name)));
	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(a, elemtype, typlen, typbyval, typalign, elems, nulls, &count);
	if (*n < 0)
		*n = count;
	else if (count != *n)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s has %d elements, line_no has %d", name, count, *n)));
}

/*
 * mlm._pack_lines(member_id, line_no[], source_id[], level[], base[],
 * rate[], amount[]): the data of a packed row holding those lines, whose
 * first_line is line_no[1].  Used by the upgrade from 0.1.
 */
Datum
mlm_pack_lines(PG_FUNCTION_ARGS)
{
	static const char *const names[] = {"member_id", "line_no", "source_id", "level",
	"base", "rate", "amount"};
	int64		member_id;
	Datum	   *no,
			   *src,
			   *lvl,
			   *fig[3];
	bool	   *no_n,
			   *src_n,
			   *lvl_n,
			   *fig_n[3];
	int			n = -1,
				i,
				f;
	MlmLineFigure nums[3] = {{0}};
	const MlmLineFigure *line_fig[3];
	StringInfoData buf;
	bytea	   *result;

	MlmRequireArgs(fcinfo, 7, names);
	member_id = PG_GETARG_INT64(0);
	ArrayArg(fcinfo, 1, "line_no", INT8OID, &n, &no, &no_n);
	ArrayArg(fcinfo, 2, "source_id", INT8OID, &n, &src, &src_n);
	ArrayArg(fcinfo, 3, "level", INT4OID, &n, &lvl, &lvl_n);
	for (f = 0; f < 3; f++)
		ArrayArg(fcinfo, 4 + f, names[4 + f], NUMERICOID, &n, &fig[f], &fig_n[f]);
	if (n < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a packed row holds at least one line")));
	initStringInfo(&buf);
	for (i = 0; i < n; i++)
	{
		if (no_n[i] || fig_n[2][i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("line %d has a null line_no or amount", i + 1)));
		if (i > 0 && DatumGetInt64(no[i]) <= DatumGetInt64(no[i - 1]))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the line numbers of a packed row must increase"),
					 errdetail("Line number %lld follows %lld.",
							   (long long) DatumGetInt64(no[i]), (long long) DatumGetInt64(no[i - 1]))));
		if (!lvl_n[i] && DatumGetInt32(lvl[i]) < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("line %lld has a negative level", (long long) DatumGetInt64(no[i]))));
		for (f = 0; f < 3; f++)
		{
			nums[f].num = fig[f][i];
			line_fig[f] = fig_n[f][i] ? NULL : &nums[f];
		}
		MlmLinePackVarint(&buf, i == 0 ? 0 : (uint64) (DatumGetInt64(no[i]) - DatumGetInt64(no[i - 1])));
		PackBody(&buf, member_id, !src_n[i], src_n[i] ? 0 : DatumGetInt64(src[i]),
				 lvl_n[i] ? -1 : DatumGetInt32(lvl[i]), line_fig);
	}
	result = (bytea *) palloc(VARHDRSZ + buf.len);
	SET_VARSIZE(result, VARHDRSZ + buf.len);
	memcpy(VARDATA(result), buf.data, buf.len);
	PG_RETURN_BYTEA_P(result);
}
