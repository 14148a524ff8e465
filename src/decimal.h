/*
 * decimal.h
 *	  Exact fixed-point money and volume arithmetic on int128, and the
 *	  numeric codec: numeric to fixed point (MlmNumericDecode) and back
 *	  (MlmDecToNumeric), both on numeric's stored form.
 *
 * Volumes and money amounts are held at MLM_VOL_SCALE decimals, rates and
 * fractions at MLM_RATE_SCALE, and a volume times a rate at MLM_AMT_SCALE =
 * their sum, so every product is exact, as PostgreSQL numeric would give.
 * Every operation is overflow-checked and raises numeric_value_out_of_range.
 */
#ifndef MLM_DECIMAL_H
#define MLM_DECIMAL_H

#include "postgres.h"
#include "utils/numeric.h"

/* Exact money needs a 128-bit integer: refuse to build without one. */
#ifndef HAVE_INT128
#error "mlm needs a compiler with a 128-bit integer type (HAVE_INT128)"
#endif

#define MLM_VOL_SCALE	6
#define MLM_RATE_SCALE	12
#define MLM_AMT_SCALE	(MLM_VOL_SCALE + MLM_RATE_SCALE)

typedef int128 mlm_dec;

extern const int128 MlmPow10[39];

/* Largest magnitude held anywhere: leaves headroom for sums. */
#define MLM_DEC_LIMIT (MlmPow10[36])

/*
 * The one overflow test of the fixed-point code: a * b or a + b overflows
 * int128 or leaves [-limit, limit].  The result is stored in *r either way.
 */
static inline bool
MlmDecMulOverflows(mlm_dec a, mlm_dec b, mlm_dec limit, mlm_dec *r)
{
	return __builtin_mul_overflow(a, b, r) || *r > limit || *r < -limit;
}

static inline bool
MlmDecAddOverflows(mlm_dec a, mlm_dec b, mlm_dec limit, mlm_dec *r)
{
	return __builtin_add_overflow(a, b, r) || *r > limit || *r < -limit;
}

/* Outcome of decoding a numeric, for the caller's own message. */
typedef enum MlmDecStatus
{
	MLM_DEC_OK,
	MLM_DEC_NOT_FINITE,			/* NaN or infinity */
	MLM_DEC_TOO_PRECISE,		/* more decimals than the scale */
	MLM_DEC_OUT_OF_RANGE		/* magnitude above the limit */
} MlmDecStatus;

/*
 * numeric datum (possibly short-header or toasted) -> fixed point at the
 * given scale, exactly, magnitude at most limit (at that scale).
 */
extern MlmDecStatus MlmNumericDecode(Datum num, int scale, mlm_dec limit,
									 mlm_dec *result);
/* numeric -> fixed point at the given scale; errors name "what" */
extern mlm_dec MlmNumericToDec(Numeric num, int scale, const char *what);
/* decimal text ("-12.5") -> fixed point; false when not exact or malformed */
extern bool MlmTextToDec(const char *s, int scale, mlm_dec *result);
/* fixed point -> numeric datum; trims trailing zeros down to minscale */
extern Datum MlmDecToNumeric(mlm_dec v, int scale, int minscale);
/* fixed point -> text into buf (>= 48 bytes), trimmed down to minscale */
extern char *MlmDecToText(mlm_dec v, int scale, int minscale, char *buf);

extern mlm_dec MlmDecAdd(mlm_dec a, mlm_dec b);
extern mlm_dec MlmDecMul(mlm_dec a, mlm_dec b);
/* change scale: up exactly, down rounding half_up / half_even / truncating */
extern mlm_dec MlmDecRescale(mlm_dec v, int from, int to, int mode);

#define MLM_ROUND_HALF_UP	0
#define MLM_ROUND_HALF_EVEN 1
#define MLM_ROUND_TRUNC		2

/* floor division for a positive divisor */
extern mlm_dec MlmDecFloorDiv(mlm_dec a, mlm_dec b);

#endif
