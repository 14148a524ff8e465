/*
 * plan_read.c
 *	  The readers of the plan parser: a plain copy of the jsonb document,
 *	  JSON paths for messages, problem reporting, and typed readers of
 *	  scalars, rank references and lists, each checking its value and
 *	  reporting at its path (see plan.c for the reporting rules).
 */
#include "postgres.h"

#include <string.h>

#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/tuplestore.h"

#include "decimal.h"
#include "plan.h"
#include "plan_int.h"

/* ------------------------------------------------------------------------
 * A plain in-memory copy of the jsonb document
 * ------------------------------------------------------------------------
 */


static JNode *
JNodeScalar(JsonbValue *v)
{
	JNode	   *n = palloc0(sizeof(JNode));

	switch (v->type)
	{
		case jbvNull:
			n->kind = JN_NULL;
			break;
		case jbvString:
			n->kind = JN_STRING;
			n->str = pnstrdup(v->val.string.val, v->val.string.len);
			break;
		case jbvNumeric:
			n->kind = JN_NUMBER;
			n->num = v->val.numeric;
			break;
		case jbvBool:
			n->kind = JN_BOOL;
			n->boolean = v->val.boolean;
			break;
		default:
			elog(ERROR, "unexpected jsonb value type %d", (int) v->type);
	}
	return n;
}

/* Build the node for a container whose BEGIN token was just read. */
static JNode *
JNodeContainer(JsonbIterator **it, JsonbIteratorToken tok, JsonbValue *v)
{
	JNode	   *n = palloc0(sizeof(JNode));
	int			cap;
	JsonbValue	kv;
	JsonbValue	vv;

	check_stack_depth();

	if (tok == WJB_BEGIN_OBJECT)
	{
		n->kind = JN_OBJECT;
		cap = Max(v->val.object.nPairs, 1);
		n->keys = palloc(sizeof(char *) * cap);
		n->vals = palloc(sizeof(JNode *) * cap);
		for (;;)
		{
			JNode	   *val;

			tok = JsonbIteratorNext(it, &kv, false);
			if (tok == WJB_END_OBJECT)
				break;
			if (tok != WJB_KEY || kv.type != jbvString)
				elog(ERROR, "unexpected jsonb iterator token %d", (int) tok);
			if (n->n >= cap)
			{
				cap *= 2;
				n->keys = repalloc(n->keys, sizeof(char *) * cap);
				n->vals = repalloc(n->vals, sizeof(JNode *) * cap);
			}
			n->keys[n->n] = pnstrdup(kv.val.string.val, kv.val.string.len);
			tok = JsonbIteratorNext(it, &vv, false);
			if (tok == WJB_VALUE)
				val = JNodeScalar(&vv);
			else
				val = JNodeContainer(it, tok, &vv);
			n->vals[n->n++] = val;
		}
	}
	else if (tok == WJB_BEGIN_ARRAY)
	{
		bool		raw = v->val.array.rawScalar;

		n->kind = JN_ARRAY;
		cap = Max(v->val.array.nElems, 1);
		n->vals = palloc(sizeof(JNode *) * cap);
		for (;;)
		{
			JNode	   *val;

			tok = JsonbIteratorNext(it, &vv, false);
			if (tok == WJB_END_ARRAY)
				break;
			if (tok == WJB_ELEM)
				val = JNodeScalar(&vv);
			else
				val = JNodeContainer(it, tok, &vv);
			if (n->n >= cap)
			{
				cap *= 2;
				n->vals = repalloc(n->vals, sizeof(JNode *) * cap);
			}
			n->vals[n->n++] = val;
		}
		if (raw && n->n == 1)
			return n->vals[0];	/* a top-level scalar */
	}
	else
		elog(ERROR, "unexpected jsonb iterator token %d", (int) tok);
	return n;
}

JNode *
PlanJNodeFromJsonb(Jsonb *jb)
{
	JsonbIterator *it = JsonbIteratorInit(&jb->root);
	JsonbValue	v;
	JsonbIteratorToken tok;

	tok = JsonbIteratorNext(&it, &v, false);
	return JNodeContainer(&it, tok, &v);
}

JNode *
PlanObjGet(const JNode *obj, const char *key)
{
	int			i;

	if (obj == NULL || obj->kind != JN_OBJECT)
		return NULL;
	for (i = 0; i < obj->n; i++)
		if (strcmp(obj->keys[i], key) == 0)
			return obj->vals[i];
	return NULL;
}

const char *
PlanKindName(JKind k)
{
	switch (k)
	{
		case JN_NULL:
			return "null";
		case JN_STRING:
			return "a string";
		case JN_NUMBER:
			return "a number";
		case JN_BOOL:
			return "a boolean";
		case JN_OBJECT:
			return "an object";
		case JN_ARRAY:
			return "an array";
	}
	return "?";
}

/* ------------------------------------------------------------------------
 * JSON paths
 * ------------------------------------------------------------------------
 */

/* A key is written ".key" when it looks like an identifier, else ["key"]. */
static bool
PlainKey(const char *key)
{
	const char *p;

	if (!((key[0] >= 'a' && key[0] <= 'z') || (key[0] >= 'A' && key[0] <= 'Z') ||
		  key[0] == '_'))
		return false;
	for (p = key; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			  (*p >= '0' && *p <= '9') || *p == '_'))
			return false;
	return true;
}

/* parent "" is the root object */
char *
PlanPathKey(const char *parent, const char *key)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, parent);
	if (PlainKey(key))
	{
		if (parent[0] != '\0')
			appendStringInfoChar(&buf, '.');
		appendStringInfoString(&buf, key);
	}
	else
	{
		if (parent[0] == '\0')
			appendStringInfoChar(&buf, '$');
		appendStringInfoChar(&buf, '[');
		escape_json(&buf, key);
		appendStringInfoChar(&buf, ']');
	}
	return buf.data;
}

char *
PlanPathIdx(const char *parent, int i)
{
	return psprintf("%s[%d]", parent[0] ? parent : "$", i);
}

static const char *
PathShow(const char *path)
{
	return path[0] ? path : "$";
}

/* ------------------------------------------------------------------------
 * Parser state and problem reporting
 * ------------------------------------------------------------------------
 */

void
PlanProblem(PState *ps, const char *path, const char *detail, const char *fmt,...)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (;;)
	{
		va_list		args;
		int			needed;

		va_start(args, fmt);
		needed = appendStringInfoVA(&buf, fmt, args);
		va_end(args);
		if (needed == 0)
			break;
		enlargeStringInfo(&buf, needed);
	}

	ps->nproblems++;
	if (ps->problems == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid plan at %s: %s", PathShow(path), buf.data),
				 detail ? errdetail_internal("%s", detail) : 0));
	else
	{
		MlmPlanProblem *p = palloc(sizeof(MlmPlanProblem));

		p->path = pstrdup(PathShow(path));
		p->message = buf.data;
		*ps->problems = lappend(*ps->problems, p);
	}
}

/* A JSON rendering of a scalar for error details ("0.5", "\"abc\""). */
static char *
ShowValue(const JNode *n)
{
	StringInfoData buf;

	switch (n->kind)
	{
		case JN_STRING:
			initStringInfo(&buf);
			escape_json(&buf, n->str);
			return buf.data;
		case JN_NUMBER:
			return numeric_normalize(n->num);
		case JN_BOOL:
			return pstrdup(n->boolean ? "true" : "false");
		case JN_NULL:
			return pstrdup("null");
		default:
			return pstrdup(PlanKindName(n->kind));
	}
}

/* A user-supplied string as a JSON string literal, for messages. */
char *
PlanQuoted(const char *s)
{
	StringInfoData buf;

	initStringInfo(&buf);
	escape_json(&buf, s ? s : "");
	return buf.data;
}

char *
PlanValueDetail(const JNode *n)
{
	return psprintf("The value is %s.", ShowValue(n));
}

/* "\"a\", \"b\" or \"c\"" */
static char *
ChoiceList(const char *const *choices, bool quote)
{
	StringInfoData buf;
	int			i;
	int			n = 0;

	while (choices[n])
		n++;
	initStringInfo(&buf);
	for (i = 0; i < n; i++)
	{
		if (i > 0)
			appendStringInfoString(&buf, i == n - 1 ? " or " : ", ");
		if (quote)
			appendStringInfo(&buf, "\"%s\"", choices[i]);
		else
			appendStringInfoString(&buf, choices[i]);
	}
	return buf.data;
}

static char *
KeyList(const char *const *keys)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	for (i = 0; keys[i]; i++)
		appendStringInfo(&buf, "%s%s", i ? ", " : "", keys[i]);
	return buf.data;
}

/* Report every key of obj that is not in the NULL-terminated list. */
void
PlanCheckKeys(PState *ps, const JNode *obj, const char *path,
		   const char *const *allowed)
{
	int			i,
				j;

	for (i = 0; i < obj->n; i++)
	{
		bool		found = false;

		for (j = 0; allowed[j]; j++)
			if (strcmp(obj->keys[i], allowed[j]) == 0)
				found = true;
		if (!found)
			PlanProblem(ps, path,
					psprintf("The keys allowed here are: %s.", KeyList(allowed)),
					"unknown key %s", PlanQuoted(obj->keys[i]));
	}
}

/* Fetch a required key; reports it missing at the object's path. */
JNode *
PlanRequireKey(PState *ps, const JNode *obj, const char *path, const char *key)
{
	JNode	   *n = PlanObjGet(obj, key);

	if (n == NULL)
		PlanProblem(ps, path, NULL, "missing required key \"%s\"", key);
	return n;
}

bool
PlanExpectKind(PState *ps, const JNode *n, JKind kind, const char *path,
			const char *label)
{
	if (n->kind == kind)
		return true;
	PlanProblem(ps, path, n->kind == JN_OBJECT || n->kind == JN_ARRAY ? NULL : PlanValueDetail(n),
			"%s must be %s, not %s", label, PlanKindName(kind), PlanKindName(n->kind));
	return false;
}

/* ------------------------------------------------------------------------
 * Scalars
 * ------------------------------------------------------------------------
 */

/* An exact decimal at the given scale, below 10^18 in magnitude. */
static bool
GetDec(PState *ps, const JNode *n, const char *path, const char *label,
		int scale, mlm_dec *out)
{
	char	   *txt;
	const char *dot;
	int			decimals;
	mlm_dec		v;

	if (!PlanExpectKind(ps, n, JN_NUMBER, path, label))
		return false;
	if (numeric_is_nan(n->num) || numeric_is_inf(n->num))
	{
		PlanProblem(ps, path, NULL, "%s must be a finite number", label);
		return false;
	}
	txt = numeric_normalize(n->num);
	dot = strchr(txt, '.');
	decimals = dot ? (int) strlen(dot + 1) : 0;
	if (decimals > scale)
	{
		PlanProblem(ps, path, psprintf("The value is %s.", txt),
				"%s has more than %d decimal places", label, scale);
		return false;
	}
	if (!MlmTextToDec(txt, scale, &v) ||
		v >= MlmPow10[18 + scale] || v <= -MlmPow10[18 + scale])
	{
		PlanProblem(ps, path,
				psprintf("The value is %s; the magnitude must be below 10^18.", txt),
				"%s is out of range", label);
		return false;
	}
	*out = v;
	return true;
}

/*
 * Is a number within [0, 1], judged on its text so that a huge value or one
 * with many decimals is still reported as out of [0, 1] when it is?
 */
static bool
TextInUnitRange(const char *txt)
{
	const char *dot = strchr(txt, '.');
	size_t		intlen = dot ? (size_t) (dot - txt) : strlen(txt);

	/* numeric_normalize: no sign on zero, no trailing fractional zeros */
	if (txt[0] == '-')
		return false;
	if (intlen == 1 && txt[0] == '0')
		return true;
	return intlen == 1 && txt[0] == '1' && dot == NULL;
}

/*
 * A fraction at MLM_RATE_SCALE: in [0, 1], or (0, 1] when !allow_zero;
 * rangemsg is the whole message when it is outside.
 */
bool
PlanGetFraction(PState *ps, const JNode *n, const char *path, const char *label,
			 bool allow_zero, const char *rangemsg, mlm_dec *out)
{
	mlm_dec		v;

	if (n->kind == JN_NUMBER && !numeric_is_nan(n->num) &&
		!numeric_is_inf(n->num) &&
		!TextInUnitRange(numeric_normalize(n->num)))
	{
		PlanProblem(ps, path, PlanValueDetail(n), "%s", rangemsg);
		return false;
	}
	if (!GetDec(ps, n, path, label, MLM_RATE_SCALE, &v))
		return false;
	if (v < 0 || v > MlmPow10[MLM_RATE_SCALE] || (!allow_zero && v == 0))
	{
		PlanProblem(ps, path, PlanValueDetail(n), "%s", rangemsg);
		return false;
	}
	*out = v;
	return true;
}

/* A rate or percentage in [0, 1]. */
bool
PlanGetRate(PState *ps, const JNode *n, const char *path, const char *label,
		 mlm_dec *out)
{
	return PlanGetFraction(ps, n, path, label, true,
						psprintf("%s must be between 0 and 1", label), out);
}

/* A money or volume amount at MLM_VOL_SCALE, optionally >= 0 or > 0. */
bool
PlanGetAmount(PState *ps, const JNode *n, const char *path, const char *label,
		   int sign, mlm_dec *out)
{
	mlm_dec		v;

	if (!GetDec(ps, n, path, label, MLM_VOL_SCALE, &v))
		return false;
	if (sign == AMT_NONNEG && v < 0)
	{
		PlanProblem(ps, path, PlanValueDetail(n), "%s must not be negative", label);
		return false;
	}
	if (sign == AMT_POSITIVE && v <= 0)
	{
		PlanProblem(ps, path, PlanValueDetail(n), "%s must be greater than 0", label);
		return false;
	}
	*out = v;
	return true;
}

bool
PlanGetInt(PState *ps, const JNode *n, const char *path, const char *label,
		int32 min, int32 max, int32 *out)
{
	char	   *txt;
	mlm_dec		v;

	if (!PlanExpectKind(ps, n, JN_NUMBER, path, label))
		return false;
	if (numeric_is_nan(n->num) || numeric_is_inf(n->num))
		txt = NULL;
	else
		txt = numeric_normalize(n->num);
	if (txt == NULL || strchr(txt, '.') != NULL ||
		!MlmTextToDec(txt, 0, &v) || v < min || v > max)
	{
		PlanProblem(ps, path, PlanValueDetail(n),
				"%s must be an integer between %d and %d", label, min, max);
		return false;
	}
	*out = (int32) v;
	return true;
}

bool
PlanGetBool(PState *ps, const JNode *n, const char *path, const char *label,
		 bool *out)
{
	if (!PlanExpectKind(ps, n, JN_BOOL, path, label))
		return false;
	*out = n->boolean;
	return true;
}

/* A string; with nonempty, "" is a problem too. */
char *
PlanGetString(PState *ps, const JNode *n, const char *path, const char *label,
		   bool nonempty)
{
	if (!PlanExpectKind(ps, n, JN_STRING, path, label))
		return NULL;
	if (nonempty && n->str[0] == '\0')
	{
		PlanProblem(ps, path, NULL, "%s must not be empty", label);
		return NULL;
	}
	return n->str;
}

/* One of a NULL-terminated list of words; index or -1. */
int
PlanGetChoice(PState *ps, const JNode *n, const char *path, const char *label,
		   const char *const *choices)
{
	int			i;

	if (!PlanExpectKind(ps, n, JN_STRING, path, label))
		return -1;
	for (i = 0; choices[i]; i++)
		if (strcmp(n->str, choices[i]) == 0)
			return i;
	PlanProblem(ps, path, NULL, "unknown %s %s (expected %s)",
			label, PlanQuoted(n->str), ChoiceList(choices, true));
	return -1;
}

/* ------------------------------------------------------------------------
 * Ranks: references and per-rank values
 * ------------------------------------------------------------------------
 */
static int
RankLookup(PState *ps, const char *name)
{
	int			i;

	for (i = 0; i < ps->nranks; i++)
		if (ps->rank_names[i] && strcmp(ps->rank_names[i], name) == 0)
			return i;
	return -1;
}

static char *
RankListDetail(PState *ps)
{
	StringInfoData buf;
	int			i;
	int			k = 0;

	initStringInfo(&buf);
	for (i = 0; i < ps->nranks; i++)
	{
		if (ps->rank_names[i] == NULL)
			continue;
		appendStringInfoString(&buf, k++ ? ", " : "The ranks are: ");
		appendStringInfoString(&buf, ps->rank_names[i]);
	}
	if (k == 0)
		return NULL;
	appendStringInfoChar(&buf, '.');
	return buf.data;
}

static void
UnknownRank(PState *ps, const char *path, const char *name)
{
	/* without a usable ranks list that was reported already: no cascade */
	if (ps->nranks == 0)
		return;
	PlanProblem(ps, path, RankListDetail(ps), "rank %s does not exist", PlanQuoted(name));
}

/* A rank name -> index; -1 after a problem. */
int
PlanGetRankRef(PState *ps, const JNode *n, const char *path, const char *label)
{
	int			r;

	if (!PlanExpectKind(ps, n, JN_STRING, path, label))
		return -1;
	r = RankLookup(ps, n->str);
	if (r < 0)
		UnknownRank(ps, path, n->str);
	return r;
}

/*
 * An object by rank name, expanded to one value per rank (spec section 4).
 * Values are rates in [0, 1], non-negative weights or non-negative amounts,
 * as kind says.
 * present[] (nranks) tells which ranks the object names.  False after a
 * problem with the object itself; bad entries are reported and taken as 0.
 */
bool
PlanGetPerRank(PState *ps, const JNode *n, const char *path, const char *label,
			   PerRankKind kind, mlm_dec **out, bool **present_out)
{
	int			nr = ps->nranks;
	mlm_dec    *vals = palloc0(sizeof(mlm_dec) * Max(nr, 1));
	bool	   *present = palloc0(sizeof(bool) * Max(nr, 1));
	mlm_dec		cur = 0;
	int			i;

	if (!PlanExpectKind(ps, n, JN_OBJECT, path, label))
		return false;
	/* an empty object is legal: every rank takes 0 (spec section 4) */
	for (i = 0; i < n->n; i++)
	{
		char	   *kp = PlanPathKey(path, n->keys[i]);
		int			r = RankLookup(ps, n->keys[i]);
		mlm_dec		v;
		bool		ok;

		if (r < 0)
		{
			UnknownRank(ps, kp, n->keys[i]);
			continue;
		}
		if (kind == PR_AMOUNT)
			ok = PlanGetAmount(ps, n->vals[i], kp, "amount", AMT_NONNEG, &v);
		else if (kind == PR_SHARE)
			ok = GetDec(ps, n->vals[i], kp, "share", MLM_RATE_SCALE, &v) &&
				(v >= 0 || (PlanProblem(ps, kp, PlanValueDetail(n->vals[i]),
									"share must not be negative"), false));
		else
			ok = PlanGetRate(ps, n->vals[i], kp, "rate", &v);
		if (ok)
		{
			vals[r] = v;
			present[r] = true;
		}
	}
	for (i = 0; i < nr; i++)
	{
		if (present[i])
			cur = vals[i];
		vals[i] = cur;
	}
	*out = vals;
	if (present_out)
		*present_out = present;
	return true;
}

/* ------------------------------------------------------------------------
 * Lists
 * ------------------------------------------------------------------------
 */

/*
 * An array of rates, non-empty when required; an optional one given empty
 * means the same as leaving it out (*count 0, no rates).  *count is the
 * array length even when some elements were bad (so lengths can still be
 * compared), -1 when the value is not an array or too long.
 */
static void
GetRateList(PState *ps, const JNode *n, const char *path, const char *label,
			bool required, mlm_dec **out, int *count)
{
	int			i;
	mlm_dec    *vals;

	*count = -1;
	*out = NULL;
	if (!PlanExpectKind(ps, n, JN_ARRAY, path, label))
		return;
	*count = n->n;
	if (n->n == 0)
	{
		if (required)
			PlanProblem(ps, path, NULL, "%s must not be empty", label);
		return;
	}
	if (n->n > MLM_PLAN_MAX_LEVELS)
	{
		PlanProblem(ps, path, NULL, "%s has %d entries; at most %d are supported",
					label, n->n, MLM_PLAN_MAX_LEVELS);
		*count = -1;
		return;
	}
	vals = palloc0(sizeof(mlm_dec) * n->n);
	for (i = 0; i < n->n; i++)
		PlanGetRate(ps, n->vals[i], PlanPathIdx(path, i), "rate", &vals[i]);
	*out = vals;
}

/* An array of rank names -> indexes (0 for bad entries); *count as above */
static void
GetRankList(PState *ps, const JNode *n, const char *path, const char *label,
			  int **out, int *count)
{
	int			i;
	int		   *vals;

	*count = -1;
	*out = NULL;
	if (!PlanExpectKind(ps, n, JN_ARRAY, path, label))
		return;
	*count = n->n;
	vals = palloc0(sizeof(int) * Max(n->n, 1));
	for (i = 0; i < n->n; i++)
	{
		int			r = PlanGetRankRef(ps, n->vals[i], PlanPathIdx(path, i), "rank");

		vals[i] = r < 0 ? 0 : r;
	}
	*out = vals;
}

static const char *
Entries(int n)
{
	return n == 1 ? "entry" : "entries";
}

/*
 * rates + optional per-level rank list of the same length, into
 * b->nrates / rates / min_rank.
 */
void
PlanGetLevels(PState *ps, MlmBonus *b, const JNode *obj, const char *bpath,
		   const char *rates_key, const char *ranks_key, bool rates_required)
{
	JNode	   *rn = rates_required ? PlanRequireKey(ps, obj, bpath, rates_key)
		: PlanObjGet(obj, rates_key);
	JNode	   *mn = ranks_key ? PlanObjGet(obj, ranks_key) : NULL;
	char	   *rpath = PlanPathKey(bpath, rates_key);
	char	   *mpath = ranks_key ? PlanPathKey(bpath, ranks_key) : NULL;
	int			nrates = -1;
	int			nmin = -1;
	mlm_dec    *rates = NULL;
	int		   *mins = NULL;

	if (rn)
		GetRateList(ps, rn, rpath, rates_key, rates_required, &rates, &nrates);
	/* an optional list given empty is the same as no list */
	if (mn && mn->kind == JN_ARRAY && mn->n == 0)
		mn = NULL;
	if (mn && nrates == 0)
		mn = NULL;				/* nothing to qualify: like no rates */
	if (mn)
	{
		if (rn == NULL && !rates_required)
		{
			PlanProblem(ps, mpath, NULL, "%s requires %s", ranks_key, rates_key);
			mn = NULL;
		}
		else
			GetRankList(ps, mn, mpath, ranks_key, &mins, &nmin);
	}
	if (mn && nrates >= 0 && nmin >= 0 && nmin != nrates)
		PlanProblem(ps, mpath, NULL, "%s has %d %s but %s has %d",
				ranks_key, nmin, Entries(nmin), rates_key, nrates);

	if (rates && nrates > 0)
	{
		b->nrates = nrates;
		b->rates = rates;
		b->min_rank = palloc0(sizeof(int) * nrates);
		if (mins && nmin == nrates)
			memcpy(b->min_rank, mins, sizeof(int) * nrates);
	}
}
