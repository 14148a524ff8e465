/*
 * decimal.c
 *	  Exact int128 fixed-point helpers: the numeric codec in both
 *	  directions (stored form, no text), decimal text, checked
 *	  add/multiply and rounding (half_up, half_even, truncate).
 */
#include "postgres.h"

#include "decimal.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/numeric.h"

const int128 MlmPow10[39] = {
#define P(x) ((int128) (x))
	P(1), P(10), P(100), P(1000), P(10000), P(100000), P(1000000),
	P(10000000), P(100000000), P(1000000000), P(10000000000),
	P(100000000000), P(1000000000000), P(10000000000000),
	P(100000000000000), P(1000000000000000), P(10000000000000000),
	P(100000000000000000), P(1000000000000000000),
	P(1000000000000000000) * 10,
	P(1000000000000000000) * 100,
	P(1000000000000000000) * 1000,
	P(1000000000000000000) * 10000,
	P(1000000000000000000) * 100000,
	P(1000000000000000000) * 1000000,
	P(1000000000000000000) * 10000000,
	P(1000000000000000000) * 100000000,
	P(1000000000000000000) * 1000000000,
	P(1000000000000000000) * 10000000000,
	P(1000000000000000000) * 100000000000,
	P(1000000000000000000) * 1000000000000,
	P(1000000000000000000) * 10000000000000,
	P(1000000000000000000) * 100000000000000,
	P(1000000000000000000) * 1000000000000000,
	P(1000000000000000000) * 10000000000000000,
	P(1000000000000000000) * 100000000000000000,
	P(1000000000000000000) * 1000000000000000000,
	P(1000000000000000000) * 1000000000000000000 * 10,
	P(1000000000000000000) * 1000000000000000000 * 100,
#undef P
};

/* The error of every overflowing operation. */
static void
OutOfRange(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("amount out of range for exact commission arithmetic"),
			 errhint("Values must stay below 10^18 currency units.")));
}

/* Checked addition. */
mlm_dec
MlmDecAdd(mlm_dec a, mlm_dec b)
{
	mlm_dec		r;

	if (MlmDecAddOverflows(a, b, MLM_DEC_LIMIT, &r))
		OutOfRange();
	return r;
}

/* Checked multiplication (scales add up: the caller keeps track). */
mlm_dec
MlmDecMul(mlm_dec a, mlm_dec b)
{
	mlm_dec		r;

	if (MlmDecMulOverflows(a, b, MLM_DEC_LIMIT, &r))
		OutOfRange();
	return r;
}

/* Division rounding toward minus infinity. */
mlm_dec
MlmDecFloorDiv(mlm_dec a, mlm_dec b)
{
	mlm_dec		q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

/* Change of scale, exact upwards, rounded by mode downwards. */
mlm_dec
MlmDecRescale(mlm_dec v, int from, int to, int mode)
{
	mlm_dec		div,
				q,
				r,
				half;
	bool		neg;

	if (to == from)
		return v;
	if (to > from)
		return MlmDecMul(v, MlmPow10[to - from]);
	div = MlmPow10[from - to];
	neg = v < 0;
	if (neg)
		v = -v;
	q = v / div;
	r = v % div;
	if (mode != MLM_ROUND_TRUNC)
	{
		half = div / 2;
		if (r > half || (r == half && (mode == MLM_ROUND_HALF_UP || (q & 1))))
			q++;
	}
	return neg ? -q : q;
}

/*
 * Parse plain decimal text exactly at a scale: optional sign, digits,
 * optional fraction, optional exponent (jsonb and numeric_out never emit
 * one for ordinary values, but numeric input allows it).
 */
bool
MlmTextToDec(const char *s, int scale, mlm_dec *result)
{
	bool		neg = false;
	mlm_dec		v = 0;
	int			frac = -1;		/* digits after the point, -1 before it */
	int			ndigits = 0;
	int			exp = 0;
	int			shift;

	while (*s == ' ')
		s++;
	if (*s == '-' || *s == '+')
		neg = (*s++ == '-');
	for (; *s; s++)
	{
		if (*s >= '0' && *s <= '9')
		{
			if (frac >= 0)
				frac++;
			if (v == 0 && *s == '0')
			{
				ndigits += (frac >= 0) ? 0 : 0;
				continue;
			}
			if (++ndigits > 37)
				return false;
			v = v * 10 + (*s - '0');
		}
		else if (*s == '.' && frac < 0)
			frac = 0;
		else
			break;
	}
	if (*s == 'e' || *s == 'E')
	{
		char	   *end;
		long		e = strtol(s + 1, &end, 10);

		if (end == s + 1 || e > 40 || e < -40)
			return false;
		exp = (int) e;
		s = end;
	}
	while (*s == ' ')
		s++;
	if (*s != '\0')
		return false;
	if (frac < 0)
		frac = 0;
	/* value = v * 10^(exp - frac); we want v * 10^(scale + exp - frac) */
	shift = scale + exp - frac;
	if (shift < 0)
	{
		if (-shift > 38 || v % MlmPow10[-shift] != 0)
			return false;		/* more decimals than the scale holds */
		v /= MlmPow10[-shift];
	}
	else if (shift > 0)
	{
		if (shift > 38 || MlmDecMulOverflows(v, MlmPow10[shift], MLM_DEC_LIMIT, &v))
			return false;
	}
	if (v > MLM_DEC_LIMIT)
		return false;
	*result = neg ? -v : v;
	return true;
}

/*
 * Read numeric's stored form directly (sign, weight, base-10000 digits):
 * a million volume rows convert in milliseconds instead of going through
 * text.
 */
MlmDecStatus
MlmNumericDecode(Datum d, int scale, mlm_dec limit, mlm_dec *result)
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
		return MLM_DEC_NOT_FINITE;
	if ((hdr & 0xC000) == 0x8000)
	{
		/* short format: sign, display scale and weight in one word */
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
	*result = 0;
	if (ndigits == 0)
		return MLM_DEC_OK;
	/* 10000^10 is above every limit; weight 9 is left to the checks below */
	if (weight > 9)
		return MLM_DEC_OUT_OF_RANGE;
	for (i = 0; i < ndigits; i++)
	{
		int16		dg;

		memcpy(&dg, digits + i * sizeof(int16), sizeof(int16));
		if (__builtin_mul_overflow(v, (mlm_dec) 10000, &v) ||
			__builtin_add_overflow(v, (mlm_dec) dg, &v))
			return MLM_DEC_OUT_OF_RANGE;
	}
	/* value = v * 10000^(weight - ndigits + 1); want it times 10^scale */
	exp10 = 4 * (weight - ndigits + 1) + scale;
	if (exp10 >= 0)
	{
		if (exp10 > 38 || __builtin_mul_overflow(v, MlmPow10[exp10], &v))
			return MLM_DEC_OUT_OF_RANGE;
	}
	else
	{
		if (-exp10 > 38 || v % MlmPow10[-exp10] != 0)
			return MLM_DEC_TOO_PRECISE;
		v /= MlmPow10[-exp10];
	}
	if (v > limit)
		return MLM_DEC_OUT_OF_RANGE;
	*result = neg ? -v : v;
	return MLM_DEC_OK;
}

/* A numeric argument as fixed point, or an error naming it. */
mlm_dec
MlmNumericToDec(Numeric num, int scale, const char *what)
{
	mlm_dec		v = 0;

	switch (MlmNumericDecode(NumericGetDatum(num), scale, MLM_DEC_LIMIT, &v))
	{
		case MLM_DEC_OK:
			break;
		case MLM_DEC_NOT_FINITE:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must be a finite number", what)));
			break;
		case MLM_DEC_TOO_PRECISE:
		case MLM_DEC_OUT_OF_RANGE:
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("%s %s cannot be held exactly", what, numeric_normalize(num)),
					 errdetail("At most %d decimal places and 10^18 in magnitude are supported.", scale)));
			break;
	}
	return v;
}

char *
MlmDecToText(mlm_dec v, int scale, int minscale, char *buf)
{
	char		digits[48];
	int			nd = 0;
	bool		neg = v < 0;
	unsigned __int128 u = neg ? -(unsigned __int128) v : (unsigned __int128) v;
	char	   *p = buf;
	int			i;
	int			keep;

	do
	{
		digits[nd++] = '0' + (int) (u % 10);
		u /= 10;
	} while (u != 0);
	while (nd <= scale)
		digits[nd++] = '0';
	/* trailing fractional zeros to drop, keeping at least minscale */
	keep = scale;
	while (keep > minscale && digits[scale - keep] == '0')
		keep--;
	if (neg)
		*p++ = '-';
	for (i = nd - 1; i >= scale; i--)
		*p++ = digits[i];
	if (keep > 0)
	{
		*p++ = '.';
		for (i = scale - 1; i >= scale - keep; i--)
			*p++ = digits[i];
	}
	*p = '\0';
	return buf;
}

/*
 * Fixed point -> numeric datum, built directly in numeric's stored form
 * (base-10000 digits, short header when it fits), exactly as numeric_in
 * would build it for the trimmed decimal text, without the text detour.
 */
Datum
MlmDecToNumeric(mlm_dec v, int scale, int minscale)
{
	bool		neg = v < 0;
	unsigned __int128 u = neg ? -(unsigned __int128) v : (unsigned __int128) v;
	unsigned __int128 ip,
				fp;
	int			ds = scale;
	int			pad;
	int16		ig[12],
				fg[8],
				digits[20];
	int			ni = 0,
				nf = 0,
				n = 0,
				i,
				weight;
	char	   *result;
	Size		len;

	if ((u >> 64) == 0)
	{
		/* the common case: 64-bit arithmetic, several times faster */
		uint64		u64 = (uint64) u;
		uint64		ip64,
					fp64;

		while (ds > minscale && u64 % 10 == 0)
		{
			u64 /= 10;
			ds--;
		}
		ip64 = u64 / (uint64) MlmPow10[ds];
		fp64 = u64 % (uint64) MlmPow10[ds];
		pad = (4 - ds % 4) % 4;
		ip = ip64;
		fp = (unsigned __int128) fp64 * (uint64) MlmPow10[pad];
		if ((fp >> 64) == 0)
		{
			fp64 = (uint64) fp;
			for (i = 0; i < (ds + pad) / 4; i++)
			{
				fg[nf++] = (int16) (fp64 % 10000);
				fp64 /= 10000;
			}
		}
		else
		{
			for (i = 0; i < (ds + pad) / 4; i++)
			{
				fg[nf++] = (int16) (fp % 10000);
				fp /= 10000;
			}
		}
		while (ip64 > 0)
		{
			ig[ni++] = (int16) (ip64 % 10000);
			ip64 /= 10000;
		}
	}
	else
	{
		while (ds > minscale && u % 10 == 0)
		{
			u /= 10;
			ds--;
		}
		ip = u / (unsigned __int128) MlmPow10[ds];
		fp = u % (unsigned __int128) MlmPow10[ds];
		pad = (4 - ds % 4) % 4;
		fp *= (unsigned __int128) MlmPow10[pad];
		for (i = 0; i < (ds + pad) / 4; i++)
		{
			fg[nf++] = (int16) (fp % 10000);
			fp /= 10000;
		}
		while (ip > 0)
		{
			ig[ni++] = (int16) (ip % 10000);
			ip /= 10000;
		}
	}
	for (i = ni - 1; i >= 0; i--)
		digits[n++] = ig[i];
	for (i = nf - 1; i >= 0; i--)
		digits[n++] = fg[i];
	weight = ni - 1;
	/* strip leading and trailing zero digits, as numeric does */
	i = 0;
	while (i < n && digits[i] == 0)
	{
		i++;
		weight--;
	}
	while (n > i && digits[n - 1] == 0)
		n--;
	n -= i;
	if (n == 0)
	{
		weight = 0;
		neg = false;
	}
	if (ds <= 63 && weight <= 63 && weight >= -64)
	{
		uint16		hdr;

		len = VARHDRSZ + sizeof(uint16) + n * sizeof(int16);
		result = palloc(len);
		SET_VARSIZE(result, len);
		hdr = 0x8000 | (neg ? 0x2000 : 0) | (uint16) (ds << 7) |
			(weight < 0 ? 0x0040 : 0) | (uint16) (weight & 0x003F);
		memcpy(result + VARHDRSZ, &hdr, sizeof(uint16));
		memcpy(result + VARHDRSZ + sizeof(uint16), digits + i, n * sizeof(int16));
	}
	else
	{
		uint16		sd = (neg ? 0x4000 : 0) | (uint16) (ds & 0x3FFF);
		int16		w = (int16) weight;

		len = VARHDRSZ + 2 * sizeof(uint16) + n * sizeof(int16);
		result = palloc(len);
		SET_VARSIZE(result, len);
		memcpy(result + VARHDRSZ, &sd, sizeof(uint16));
		memcpy(result + VARHDRSZ + sizeof(uint16), &w, sizeof(int16));
		memcpy(result + VARHDRSZ + 2 * sizeof(uint16), digits + i, n * sizeof(int16));
	}
	return PointerGetDatum(result);
}

/* The slow, obviously right path, kept for the self-check function. */
static Datum
DecToNumericViaText(mlm_dec v, int scale, int minscale)
{
	char		buf[64];

	MlmDecToText(v, scale, minscale, buf);
	return DirectFunctionCall3(numeric_in, CStringGetDatum(buf),
							   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
}

PG_FUNCTION_INFO_V1(mlm_decimal_selfcheck);

/*
 * mlm._decimal_selfcheck(numeric, scale, minscale): round-trips a value
 * through the fixed-point conversions and reports whether the direct
 * numeric builder gives the same bytes as numeric_in (used by the tests).
 */
Datum
mlm_decimal_selfcheck(PG_FUNCTION_ARGS)
{
	Numeric		num = PG_GETARG_NUMERIC(0);
	int32		scale = PG_GETARG_INT32(1);
	int32		minscale = PG_GETARG_INT32(2);
	mlm_dec		v;
	Datum		a,
				b;

	if (scale < 0 || scale > 18 || minscale < 0 || minscale > scale)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("scale must be 0..18 and minscale 0..scale")));
	v = MlmNumericToDec(num, scale, "value");
	a = MlmDecToNumeric(v, scale, minscale);
	b = DecToNumericViaText(v, scale, minscale);
	PG_RETURN_BOOL(VARSIZE(DatumGetPointer(a)) == VARSIZE(DatumGetPointer(b)) &&
				   memcmp(DatumGetPointer(a), DatumGetPointer(b), VARSIZE(DatumGetPointer(a))) == 0);
}
