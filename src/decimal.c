/*
 * decimal.c
 *	  Exact int128 fixed-point helpers: conversion from and to numeric,
 *	  checked add/multiply and rounding (half_up, half_even, truncate).
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

/* Largest magnitude we accept anywhere: leaves headroom for sums. */
#define MLM_DEC_LIMIT (MlmPow10[36])

static void
OutOfRange(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("amount out of range for exact commission arithmetic"),
			 errhint("Values must stay below 10^18 currency units.")));
}

mlm_dec
MlmDecAdd(mlm_dec a, mlm_dec b)
{
	mlm_dec		r;

	if (__builtin_add_overflow(a, b, &r) || r > MLM_DEC_LIMIT || r < -MLM_DEC_LIMIT)
		OutOfRange();
	return r;
}

mlm_dec
MlmDecMul(mlm_dec a, mlm_dec b)
{
	mlm_dec		r;

	if (__builtin_mul_overflow(a, b, &r) || r > MLM_DEC_LIMIT || r < -MLM_DEC_LIMIT)
		OutOfRange();
	return r;
}

mlm_dec
MlmDecFloorDiv(mlm_dec a, mlm_dec b)
{
	mlm_dec		q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

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
		if (shift > 38 || __builtin_mul_overflow(v, MlmPow10[shift], &v))
			return false;
	}
	if (v > MLM_DEC_LIMIT)
		return false;
	*result = neg ? -v : v;
	return true;
}

mlm_dec
MlmNumericToDec(Numeric num, int scale, const char *what)
{
	char	   *txt;
	mlm_dec		v;

	if (numeric_is_nan(num) || numeric_is_inf(num))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a finite number", what)));
	txt = numeric_normalize(num);
	if (!MlmTextToDec(txt, scale, &v))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s %s cannot be held exactly", what, txt),
				 errdetail("At most %d decimal places and 10^18 in magnitude are supported.", scale)));
	pfree(txt);
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

Datum
MlmDecToNumeric(mlm_dec v, int scale, int minscale)
{
	char		buf[64];

	MlmDecToText(v, scale, minscale, buf);
	return DirectFunctionCall3(numeric_in, CStringGetDatum(buf),
							   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
}
