/*
 * plan.c
 *	  Parse and validate a compensation plan (spec sections 4, 5, 9, 10)
 *	  from jsonb into the MlmPlan model of plan.h, and the SQL functions
 *	  mlm.validate_plan, mlm.check_plan and mlm.plan_summary.
 *
 * The jsonb is first copied into a small tree of JNode (objects keep their
 * keys, in jsonb order), which the checks below walk with a JSON path in
 * hand.  Every problem is reported with that path ("bonuses[1].rates[3]",
 * "$" for the root object itself) and a lowercase message.  In error mode
 * (problems == NULL) the first problem raises an ERROR; in collecting mode
 * the parser keeps going and reports everything it can.
 *
 * Within one object the order of reports is: unknown keys first (in jsonb
 * key order: shorter keys first, then bytewise), then the known keys in a
 * fixed order, a missing required key where it would have been checked.
 * User-supplied strings appear in messages as JSON string literals.  All
 * numbers are read as exact decimals (never float).
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

/* ------------------------------------------------------------------------
 * A plain in-memory copy of the jsonb document
 * ------------------------------------------------------------------------
 */
typedef enum JKind
{
	JN_NULL,
	JN_STRING,
	JN_NUMBER,
	JN_BOOL,
	JN_OBJECT,
	JN_ARRAY
} JKind;

typedef struct JNode
{
	JKind		kind;
	char	   *str;			/* JN_STRING, nul-terminated */
	Numeric		num;			/* JN_NUMBER */
	bool		boolean;		/* JN_BOOL */
	int			n;				/* JN_OBJECT pairs / JN_ARRAY elements */
	char	  **keys;			/* JN_OBJECT */
	struct JNode **vals;		/* JN_OBJECT values / JN_ARRAY elements */
} JNode;

static JNode *
jnode_scalar(JsonbValue *v)
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
jnode_container(JsonbIterator **it, JsonbIteratorToken tok, JsonbValue *v)
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
				val = jnode_scalar(&vv);
			else
				val = jnode_container(it, tok, &vv);
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
				val = jnode_scalar(&vv);
			else
				val = jnode_container(it, tok, &vv);
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

static JNode *
jnode_from_jsonb(Jsonb *jb)
{
	JsonbIterator *it = JsonbIteratorInit(&jb->root);
	JsonbValue	v;
	JsonbIteratorToken tok;

	tok = JsonbIteratorNext(&it, &v, false);
	return jnode_container(&it, tok, &v);
}

static JNode *
obj_get(const JNode *obj, const char *key)
{
	int			i;

	if (obj == NULL || obj->kind != JN_OBJECT)
		return NULL;
	for (i = 0; i < obj->n; i++)
		if (strcmp(obj->keys[i], key) == 0)
			return obj->vals[i];
	return NULL;
}

static const char *
kind_name(JKind k)
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
plain_key(const char *key)
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
static char *
path_key(const char *parent, const char *key)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, parent);
	if (plain_key(key))
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

static char *
path_idx(const char *parent, int i)
{
	return psprintf("%s[%d]", parent[0] ? parent : "$", i);
}

static const char *
path_show(const char *path)
{
	return path[0] ? path : "$";
}

/* ------------------------------------------------------------------------
 * Parser state and problem reporting
 * ------------------------------------------------------------------------
 */
typedef struct PState
{
	List	  **problems;		/* NULL: raise the first problem */
	int			nproblems;
	MlmPlan    *plan;
	/* from a silent pre-pass, so references can be resolved in any order */
	int			nranks;
	char	  **rank_names;		/* NULL where the entry has no usable name */
	int			nbonuses;
	char	  **bonus_names;
	int		   *bonus_types;	/* MlmBonusType, -1 when unknown */
} PState;

static void problem(PState *ps, const char *path, const char *detail,
					const char *fmt,...) pg_attribute_printf(4, 5);

static void
problem(PState *ps, const char *path, const char *detail, const char *fmt,...)
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
				 errmsg("invalid plan at %s: %s", path_show(path), buf.data),
				 detail ? errdetail_internal("%s", detail) : 0));
	else
	{
		MlmPlanProblem *p = palloc(sizeof(MlmPlanProblem));

		p->path = pstrdup(path_show(path));
		p->message = buf.data;
		*ps->problems = lappend(*ps->problems, p);
	}
}

/* A JSON rendering of a scalar for error details ("0.5", "\"abc\""). */
static char *
show_value(const JNode *n)
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
			return pstrdup(kind_name(n->kind));
	}
}

/* A user-supplied string as a JSON string literal, for messages. */
static char *
quoted(const char *s)
{
	StringInfoData buf;

	initStringInfo(&buf);
	escape_json(&buf, s ? s : "");
	return buf.data;
}

static char *
value_detail(const JNode *n)
{
	return psprintf("The value is %s.", show_value(n));
}

/* "\"a\", \"b\" or \"c\"" */
static char *
choice_list(const char *const *choices, bool quote)
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
key_list(const char *const *keys)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	for (i = 0; keys[i]; i++)
		appendStringInfo(&buf, "%s%s", i ? ", " : "", keys[i]);
	return buf.data;
}

/* Report every key of obj that is not in the NULL-terminated list. */
static void
check_keys(PState *ps, const JNode *obj, const char *path,
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
			problem(ps, path,
					psprintf("The keys allowed here are: %s.", key_list(allowed)),
					"unknown key %s", quoted(obj->keys[i]));
	}
}

/* Fetch a required key; reports it missing at the object's path. */
static JNode *
require_key(PState *ps, const JNode *obj, const char *path, const char *key)
{
	JNode	   *n = obj_get(obj, key);

	if (n == NULL)
		problem(ps, path, NULL, "missing required key \"%s\"", key);
	return n;
}

static bool
expect_kind(PState *ps, const JNode *n, JKind kind, const char *path,
			const char *label)
{
	if (n->kind == kind)
		return true;
	problem(ps, path, n->kind == JN_OBJECT || n->kind == JN_ARRAY ? NULL : value_detail(n),
			"%s must be %s, not %s", label, kind_name(kind), kind_name(n->kind));
	return false;
}

/* ------------------------------------------------------------------------
 * Scalars
 * ------------------------------------------------------------------------
 */

/* An exact decimal at the given scale, below 10^18 in magnitude. */
static bool
get_dec(PState *ps, const JNode *n, const char *path, const char *label,
		int scale, mlm_dec *out)
{
	char	   *txt;
	const char *dot;
	int			decimals;
	mlm_dec		v;

	if (!expect_kind(ps, n, JN_NUMBER, path, label))
		return false;
	if (numeric_is_nan(n->num) || numeric_is_inf(n->num))
	{
		problem(ps, path, NULL, "%s must be a finite number", label);
		return false;
	}
	txt = numeric_normalize(n->num);
	dot = strchr(txt, '.');
	decimals = dot ? (int) strlen(dot + 1) : 0;
	if (decimals > scale)
	{
		problem(ps, path, psprintf("The value is %s.", txt),
				"%s has more than %d decimal places", label, scale);
		return false;
	}
	if (!MlmTextToDec(txt, scale, &v) ||
		v >= MlmPow10[18 + scale] || v <= -MlmPow10[18 + scale])
	{
		problem(ps, path,
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
text_in_unit_range(const char *txt)
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
static bool
get_fraction(PState *ps, const JNode *n, const char *path, const char *label,
			 bool allow_zero, const char *rangemsg, mlm_dec *out)
{
	mlm_dec		v;

	if (n->kind == JN_NUMBER && !numeric_is_nan(n->num) &&
		!numeric_is_inf(n->num) &&
		!text_in_unit_range(numeric_normalize(n->num)))
	{
		problem(ps, path, value_detail(n), "%s", rangemsg);
		return false;
	}
	if (!get_dec(ps, n, path, label, MLM_RATE_SCALE, &v))
		return false;
	if (v < 0 || v > MlmPow10[MLM_RATE_SCALE] || (!allow_zero && v == 0))
	{
		problem(ps, path, value_detail(n), "%s", rangemsg);
		return false;
	}
	*out = v;
	return true;
}

/* A rate or percentage in [0, 1]. */
static bool
get_rate(PState *ps, const JNode *n, const char *path, const char *label,
		 mlm_dec *out)
{
	return get_fraction(ps, n, path, label, true,
						psprintf("%s must be between 0 and 1", label), out);
}

/* A money or volume amount at MLM_VOL_SCALE, optionally >= 0 or > 0. */
#define AMT_ANY			0
#define AMT_NONNEG		1
#define AMT_POSITIVE	2

static bool
get_amount(PState *ps, const JNode *n, const char *path, const char *label,
		   int sign, mlm_dec *out)
{
	mlm_dec		v;

	if (!get_dec(ps, n, path, label, MLM_VOL_SCALE, &v))
		return false;
	if (sign == AMT_NONNEG && v < 0)
	{
		problem(ps, path, value_detail(n), "%s must not be negative", label);
		return false;
	}
	if (sign == AMT_POSITIVE && v <= 0)
	{
		problem(ps, path, value_detail(n), "%s must be greater than 0", label);
		return false;
	}
	*out = v;
	return true;
}

static bool
get_int(PState *ps, const JNode *n, const char *path, const char *label,
		int32 min, int32 max, int32 *out)
{
	char	   *txt;
	mlm_dec		v;

	if (!expect_kind(ps, n, JN_NUMBER, path, label))
		return false;
	if (numeric_is_nan(n->num) || numeric_is_inf(n->num))
		txt = NULL;
	else
		txt = numeric_normalize(n->num);
	if (txt == NULL || strchr(txt, '.') != NULL ||
		!MlmTextToDec(txt, 0, &v) || v < min || v > max)
	{
		problem(ps, path, value_detail(n),
				"%s must be an integer between %d and %d", label, min, max);
		return false;
	}
	*out = (int32) v;
	return true;
}

static bool
get_bool(PState *ps, const JNode *n, const char *path, const char *label,
		 bool *out)
{
	if (!expect_kind(ps, n, JN_BOOL, path, label))
		return false;
	*out = n->boolean;
	return true;
}

/* A string; with nonempty, "" is a problem too. */
static char *
get_string(PState *ps, const JNode *n, const char *path, const char *label,
		   bool nonempty)
{
	if (!expect_kind(ps, n, JN_STRING, path, label))
		return NULL;
	if (nonempty && n->str[0] == '\0')
	{
		problem(ps, path, NULL, "%s must not be empty", label);
		return NULL;
	}
	return n->str;
}

/* One of a NULL-terminated list of words; index or -1. */
static int
get_choice(PState *ps, const JNode *n, const char *path, const char *label,
		   const char *const *choices)
{
	int			i;

	if (!expect_kind(ps, n, JN_STRING, path, label))
		return -1;
	for (i = 0; choices[i]; i++)
		if (strcmp(n->str, choices[i]) == 0)
			return i;
	problem(ps, path, NULL, "unknown %s %s (expected %s)",
			label, quoted(n->str), choice_list(choices, true));
	return -1;
}

/* ------------------------------------------------------------------------
 * Ranks: references and per-rank values
 * ------------------------------------------------------------------------
 */
static int
rank_lookup(PState *ps, const char *name)
{
	int			i;

	for (i = 0; i < ps->nranks; i++)
		if (ps->rank_names[i] && strcmp(ps->rank_names[i], name) == 0)
			return i;
	return -1;
}

static char *
rank_list_detail(PState *ps)
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
unknown_rank(PState *ps, const char *path, const char *name)
{
	/* without a usable ranks list that was reported already: no cascade */
	if (ps->nranks == 0)
		return;
	problem(ps, path, rank_list_detail(ps), "rank %s does not exist", quoted(name));
}

/* A rank name -> index; -1 after a problem. */
static int
get_rank_ref(PState *ps, const JNode *n, const char *path, const char *label)
{
	int			r;

	if (!expect_kind(ps, n, JN_STRING, path, label))
		return -1;
	r = rank_lookup(ps, n->str);
	if (r < 0)
		unknown_rank(ps, path, n->str);
	return r;
}

/*
 * An object by rank name, expanded to one value per rank (spec section 4).
 * Values are rates in [0, 1] (shares == false) or non-negative weights.
 * present[] (nranks) tells which ranks the object names.  False after a
 * problem with the object itself; bad entries are reported and taken as 0.
 */
static bool
get_per_rank(PState *ps, const JNode *n, const char *path, const char *label,
			 bool shares, mlm_dec **out, bool **present_out)
{
	int			nr = ps->nranks;
	mlm_dec    *vals = palloc0(sizeof(mlm_dec) * Max(nr, 1));
	bool	   *present = palloc0(sizeof(bool) * Max(nr, 1));
	mlm_dec		cur = 0;
	int			i;

	if (!expect_kind(ps, n, JN_OBJECT, path, label))
		return false;
	/* an empty object is legal: every rank takes 0 (spec section 4) */
	for (i = 0; i < n->n; i++)
	{
		char	   *kp = path_key(path, n->keys[i]);
		int			r = rank_lookup(ps, n->keys[i]);
		mlm_dec		v;
		bool		ok;

		if (r < 0)
		{
			unknown_rank(ps, kp, n->keys[i]);
			continue;
		}
		if (shares)
			ok = get_dec(ps, n->vals[i], kp, "share", MLM_RATE_SCALE, &v) &&
				(v >= 0 || (problem(ps, kp, value_detail(n->vals[i]),
									"share must not be negative"), false));
		else
			ok = get_rate(ps, n->vals[i], kp, "rate", &v);
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
 * A non-empty array of rates.  *count is the array length even when some
 * elements were bad (so lengths can still be compared), -1 when the value
 * is not an array.
 */
static void
get_rate_list(PState *ps, const JNode *n, const char *path, const char *label,
			  mlm_dec **out, int *count)
{
	int			i;
	mlm_dec    *vals;

	*count = -1;
	*out = NULL;
	if (!expect_kind(ps, n, JN_ARRAY, path, label))
		return;
	*count = n->n;
	if (n->n == 0)
	{
		problem(ps, path, NULL, "%s must not be empty", label);
		return;
	}
	vals = palloc0(sizeof(mlm_dec) * n->n);
	for (i = 0; i < n->n; i++)
		get_rate(ps, n->vals[i], path_idx(path, i), "rate", &vals[i]);
	*out = vals;
}

/* An array of rank names -> indexes (0 for bad entries); *count as above */
static void
get_rank_list(PState *ps, const JNode *n, const char *path, const char *label,
			  int **out, int *count)
{
	int			i;
	int		   *vals;

	*count = -1;
	*out = NULL;
	if (!expect_kind(ps, n, JN_ARRAY, path, label))
		return;
	*count = n->n;
	vals = palloc0(sizeof(int) * Max(n->n, 1));
	for (i = 0; i < n->n; i++)
	{
		int			r = get_rank_ref(ps, n->vals[i], path_idx(path, i), "rank");

		vals[i] = r < 0 ? 0 : r;
	}
	*out = vals;
}

static const char *
entries(int n)
{
	return n == 1 ? "entry" : "entries";
}

/*
 * rates + optional per-level rank list of the same length, into
 * b->nrates / rates / min_rank.
 */
static void
get_levels(PState *ps, MlmBonus *b, const JNode *obj, const char *bpath,
		   const char *rates_key, const char *ranks_key, bool rates_required)
{
	JNode	   *rn = rates_required ? require_key(ps, obj, bpath, rates_key)
		: obj_get(obj, rates_key);
	JNode	   *mn = ranks_key ? obj_get(obj, ranks_key) : NULL;
	char	   *rpath = path_key(bpath, rates_key);
	char	   *mpath = ranks_key ? path_key(bpath, ranks_key) : NULL;
	int			nrates = -1;
	int			nmin = -1;
	mlm_dec    *rates = NULL;
	int		   *mins = NULL;

	if (rn)
		get_rate_list(ps, rn, rpath, rates_key, &rates, &nrates);
	if (mn)
	{
		if (rn == NULL && !rates_required)
		{
			problem(ps, mpath, NULL, "%s requires %s", ranks_key, rates_key);
			mn = NULL;
		}
		else
			get_rank_list(ps, mn, mpath, ranks_key, &mins, &nmin);
	}
	if (mn && nrates >= 0 && nmin >= 0 && nmin != nrates)
		problem(ps, mpath, NULL, "%s has %d %s but %s has %d",
				ranks_key, nmin, entries(nmin), rates_key, nrates);

	if (rates && nrates > 0)
	{
		b->nrates = nrates;
		b->rates = rates;
		b->min_rank = palloc0(sizeof(int) * nrates);
		if (mins && nmin == nrates)
			memcpy(b->min_rank, mins, sizeof(int) * nrates);
	}
}

/* ------------------------------------------------------------------------
 * Top-level sections
 * ------------------------------------------------------------------------
 */
static const char *const root_keys[] = {
	"name", "currency", "active", "ranks", "bonuses", "cap", NULL
};
static const char *const currency_keys[] = {"scale", "rounding", NULL};
static const char *const active_keys[] = {"min_pv", NULL};
static const char *const cap_keys[] = {"pct", NULL};
static const char *const rank_keys[] = {
	"name", "min_pv", "min_gv", "max_leg_pct", "min_active_frontline",
	"legs_with_rank", NULL
};
static const char *const legs_keys[] = {"rank", "count", NULL};
static const char *const rounding_words[] = {"half_up", "half_even", NULL};
static const char *const compression_words[] = {"none", "dynamic", NULL};
static const char *const tree_words[] = {"sponsor", "placement", NULL};

/* in MlmBonusType order */
static const char *const bonus_type_words[] = {
	"personal", "unilevel", "differential", "binary", "matching",
	"fast_start", "pool", NULL
};

static const char *const *const bonus_keys[] = {
	/* personal */
	(const char *const[]) {"name", "type", "rate", "rate_by_rank", NULL},
	/* unilevel */
	(const char *const[]) {"name", "type", "rates", "compression", "tree",
	"min_rank_by_level", NULL},
	/* differential */
	(const char *const[]) {"name", "type", "rate_by_rank", "breakaway_rank",
	"generation_rates", "min_rank_by_generation", NULL},
	/* binary */
	(const char *const[]) {"name", "type", "rate", "cycle", "cap",
		"max_carry", "flush_when_unqualified", "require_sponsored_each_leg",
	NULL},
	/* matching */
	(const char *const[]) {"name", "type", "of", "rates", "compression",
	"min_rank_by_generation", NULL},
	/* fast_start */
	(const char *const[]) {"name", "type", "days", "rates", NULL},
	/* pool */
	(const char *const[]) {"name", "type", "pct", "min_rank", "shares", NULL},
};

static const char *const cycle_keys[] = {"left", "right", "amount", NULL};

static void
parse_currency(PState *ps, const JNode *n)
{
	MlmPlan    *plan = ps->plan;
	JNode	   *v;

	if (!expect_kind(ps, n, JN_OBJECT, "currency", "currency"))
		return;
	check_keys(ps, n, "currency", currency_keys);
	if ((v = obj_get(n, "scale")) != NULL)
	{
		int32		s;

		if (get_int(ps, v, "currency.scale", "scale", 0, 6, &s))
			plan->scale = s;
	}
	if ((v = obj_get(n, "rounding")) != NULL)
	{
		int			r = get_choice(ps, v, "currency.rounding", "rounding",
								   rounding_words);

		if (r >= 0)
			plan->rounding = (r == 0) ? MLM_ROUND_HALF_UP : MLM_ROUND_HALF_EVEN;
	}
}

static void
parse_active(PState *ps, const JNode *n)
{
	JNode	   *v;

	if (!expect_kind(ps, n, JN_OBJECT, "active", "active"))
		return;
	check_keys(ps, n, "active", active_keys);
	if ((v = obj_get(n, "min_pv")) != NULL &&
		get_amount(ps, v, "active.min_pv", "min_pv", AMT_ANY,
				   &ps->plan->active_min_pv))
		ps->plan->has_active_min_pv = true;
}

static void
parse_cap(PState *ps, const JNode *n)
{
	JNode	   *v;

	if (!expect_kind(ps, n, JN_OBJECT, "cap", "cap"))
		return;
	check_keys(ps, n, "cap", cap_keys);
	if ((v = require_key(ps, n, "cap", "pct")) != NULL &&
		get_rate(ps, v, "cap.pct", "pct", &ps->plan->cap_pct))
		ps->plan->has_cap = true;
}

static void
parse_rank(PState *ps, int i, const JNode *n)
{
	MlmRank    *rk = &ps->plan->ranks[i];
	char	   *path = path_idx("ranks", i);
	JNode	   *v;
	int			j;

	rk->legs_rank = -1;
	if (!expect_kind(ps, n, JN_OBJECT, path, "rank"))
		return;
	check_keys(ps, n, path, rank_keys);

	if ((v = require_key(ps, n, path, "name")) != NULL)
	{
		char	   *npath = path_key(path, "name");
		char	   *name = get_string(ps, v, npath, "name", true);

		if (name)
		{
			rk->name = name;
			for (j = 0; j < i; j++)
				if (ps->rank_names[j] && strcmp(ps->rank_names[j], name) == 0)
				{
					problem(ps, npath,
							psprintf("ranks[%d] has the same name.", j),
							"duplicate rank name %s", quoted(name));
					break;
				}
		}
	}

	if (i == 0)
	{
		/* rank 0 is everyone's starting rank: no requirements */
		for (j = 1; rank_keys[j]; j++)
			if (obj_get(n, rank_keys[j]))
				problem(ps, path_key(path, rank_keys[j]),
						"The first rank is the rank every member holds; requirements belong on higher ranks.",
						"rank 0 may not have requirements");
		return;
	}

	if ((v = obj_get(n, "min_pv")) != NULL &&
		get_amount(ps, v, path_key(path, "min_pv"), "min_pv", AMT_ANY,
				   &rk->min_pv))
		rk->has_min_pv = true;
	if ((v = obj_get(n, "min_gv")) != NULL &&
		get_amount(ps, v, path_key(path, "min_gv"), "min_gv", AMT_ANY,
				   &rk->min_gv))
		rk->has_min_gv = true;
	if ((v = obj_get(n, "max_leg_pct")) != NULL)
	{
		char	   *mp = path_key(path, "max_leg_pct");
		mlm_dec		d;

		if (obj_get(n, "min_gv") == NULL)
			problem(ps, mp, NULL, "max_leg_pct requires min_gv");
		else if (get_fraction(ps, v, mp, "max_leg_pct", false,
							  "max_leg_pct must be greater than 0 and at most 1",
							  &d))
		{
			rk->has_max_leg_pct = true;
			rk->max_leg_pct = d;
		}
	}
	if ((v = obj_get(n, "min_active_frontline")) != NULL &&
		get_int(ps, v, path_key(path, "min_active_frontline"),
				"min_active_frontline", 0, PG_INT32_MAX,
				&rk->min_active_frontline))
		rk->has_min_active_frontline = true;
	if ((v = obj_get(n, "legs_with_rank")) != NULL)
	{
		char	   *lp = path_key(path, "legs_with_rank");
		JNode	   *rn,
				   *cn;
		int			r = -1;
		int32		c = 0;
		bool		ok = true;

		if (expect_kind(ps, v, JN_OBJECT, lp, "legs_with_rank"))
		{
			check_keys(ps, v, lp, legs_keys);
			rn = require_key(ps, v, lp, "rank");
			cn = require_key(ps, v, lp, "count");
			if (rn)
				r = get_rank_ref(ps, rn, path_key(lp, "rank"), "rank");
			if (cn)
				ok = get_int(ps, cn, path_key(lp, "count"), "count", 1,
							 PG_INT32_MAX, &c);
			if (r >= 0 && cn && ok)
			{
				rk->has_legs_with_rank = true;
				rk->legs_rank = r;
				rk->legs_count = c;
			}
		}
	}
}

static void
parse_ranks(PState *ps, const JNode *n)
{
	MlmPlan    *plan = ps->plan;
	int			i;

	if (!expect_kind(ps, n, JN_ARRAY, "ranks", "ranks"))
		return;
	if (n->n == 0)
	{
		problem(ps, "ranks", NULL, "ranks must not be empty");
		return;
	}
	for (i = 0; i < n->n; i++)
		parse_rank(ps, i, n->vals[i]);
	plan->nranks = n->n;
}

/* ------------------------------------------------------------------------
 * Bonuses
 * ------------------------------------------------------------------------
 */
static void
parse_personal(PState *ps, MlmBonus *b, const JNode *n, const char *path)
{
	JNode	   *rate = obj_get(n, "rate");
	JNode	   *rbr = obj_get(n, "rate_by_rank");
	int			i;

	if (rate && rbr)
		problem(ps, path, NULL, "\"rate\" and \"rate_by_rank\" may not both be given");
	else if (!rate && !rbr)
		problem(ps, path, NULL, "one of \"rate\" or \"rate_by_rank\" is required");
	else if (rate)
	{
		mlm_dec		r;

		if (get_rate(ps, rate, path_key(path, "rate"), "rate", &r))
		{
			b->rate = r;
			b->rate_by_rank = palloc(sizeof(mlm_dec) * Max(ps->nranks, 1));
			for (i = 0; i < ps->nranks; i++)
				b->rate_by_rank[i] = r;
		}
	}
	else
		get_per_rank(ps, rbr, path_key(path, "rate_by_rank"), "rate_by_rank",
					 false, &b->rate_by_rank, NULL);
}

static void
parse_compression(PState *ps, MlmBonus *b, const JNode *n, const char *path)
{
	JNode	   *v = obj_get(n, "compression");

	if (v && get_choice(ps, v, path_key(path, "compression"), "compression",
						compression_words) == 1)
		b->dynamic = true;
}

static void
parse_unilevel(PState *ps, MlmBonus *b, const JNode *n, const char *path)
{
	JNode	   *v;

	get_levels(ps, b, n, path, "rates", "min_rank_by_level", true);
	parse_compression(ps, b, n, path);
	if ((v = obj_get(n, "tree")) != NULL &&
		get_choice(ps, v, path_key(path, "tree"), "tree", tree_words) == 1)
		b->placement = true;
}

static void
parse_differential(PState *ps, MlmBonus *b, const JNode *n, const char *path)
{
	JNode	   *rbr = require_key(ps, n, path, "rate_by_rank");
	JNode	   *v;
	char	   *rpath = path_key(path, "rate_by_rank");
	int			i;

	if (rbr && get_per_rank(ps, rbr, rpath, "rate_by_rank", false,
							&b->rate_by_rank, NULL))
	{
		/* non-decreasing along the rank order, after expansion */
		for (i = 1; i < ps->nranks; i++)
			if (b->rate_by_rank[i] < b->rate_by_rank[i - 1])
			{
				char		b1[64],
							b2[64];

				problem(ps, path_key(rpath, ps->rank_names[i]),
						psprintf("Rank %s has rate %s, less than %s for rank %s.",
								 quoted(ps->rank_names[i]),
								 MlmDecToText(b->rate_by_rank[i], MLM_RATE_SCALE, 0, b1),
								 MlmDecToText(b->rate_by_rank[i - 1], MLM_RATE_SCALE, 0, b2),
								 quoted(ps->rank_names[i - 1])),
						"rate_by_rank must not decrease along the rank order");
			}
	}

	if ((v = obj_get(n, "breakaway_rank")) != NULL)
		b->breakaway_rank = get_rank_ref(ps, v, path_key(path, "breakaway_rank"),
										 "breakaway_rank");
	if (obj_get(n, "generation_rates") && !obj_get(n, "breakaway_rank"))
		problem(ps, path_key(path, "generation_rates"), NULL,
				"generation_rates requires breakaway_rank");
	get_levels(ps, b, n, path, "generation_rates", "min_rank_by_generation",
			   false);
}

static void
parse_binary(PState *ps, MlmBonus *b, const JNode *n, const char *path)
{
	JNode	   *rate = obj_get(n, "rate");
	JNode	   *cycle = obj_get(n, "cycle");
	JNode	   *v;

	if (rate && cycle)
		problem(ps, path, NULL, "\"rate\" and \"cycle\" may not both be given");
	else if (!rate && !cycle)
		problem(ps, path, NULL, "one of \"rate\" or \"cycle\" is required");
	else if (rate)
		get_rate(ps, rate, path_key(path, "rate"), "rate", &b->rate);
	else
	{
		char	   *cp = path_key(path, "cycle");

		b->cycle = true;
		if (expect_kind(ps, cycle, JN_OBJECT, cp, "cycle"))
		{
			check_keys(ps, cycle, cp, cycle_keys);
			if ((v = require_key(ps, cycle, cp, "left")) != NULL)
				get_amount(ps, v, path_key(cp, "left"), "left", AMT_POSITIVE,
						   &b->cycle_left);
			if ((v = require_key(ps, cycle, cp, "right")) != NULL)
				get_amount(ps, v, path_key(cp, "right"), "right", AMT_POSITIVE,
						   &b->cycle_right);
			if ((v = require_key(ps, cycle, cp, "amount")) != NULL)
				get_amount(ps, v, path_key(cp, "amount"), "amount", AMT_NONNEG,
						   &b->cycle_amount);
		}
	}
	if ((v = obj_get(n, "cap")) != NULL &&
		get_amount(ps, v, path_key(path, "cap"), "cap", AMT_NONNEG, &b->cap))
		b->has_cap = true;
	if ((v = obj_get(n, "max_carry")) != NULL &&
		get_amount(ps, v, path_key(path, "max_carry"), "max_carry", AMT_NONNEG,
				   &b->max_carry))
		b->has_max_carry = true;
	if ((v = obj_get(n, "flush_when_unqualified")) != NULL)
		get_bool(ps, v, path_key(path, "flush_when_unqualified"),
				 "flush_when_unqualified", &b->flush_when_unqualified);
	if ((v = obj_get(n, "require_sponsored_each_leg")) != NULL)
		get_bool(ps, v, path_key(path, "require_sponsored_each_leg"),
				 "require_sponsored_each_leg", &b->require_sponsored_each_leg);
}

static void
parse_matching(PState *ps, MlmBonus *b, int self, const JNode *n,
			   const char *path)
{
	JNode	   *of = require_key(ps, n, path, "of");

	if (of)
	{
		char	   *op = path_key(path, "of");

		if (expect_kind(ps, of, JN_ARRAY, op, "of"))
		{
			int			i,
						j;

			if (of->n == 0)
				problem(ps, op, NULL, "of must not be empty");
			b->of = palloc0(sizeof(int) * Max(of->n, 1));
			for (i = 0; i < of->n; i++)
			{
				char	   *ep = path_idx(op, i);
				char	   *name = get_string(ps, of->vals[i], ep, "bonus name", false);
				int			k = -1;
				bool		dup = false;

				if (name == NULL)
					continue;
				for (j = 0; j < ps->nbonuses; j++)
					if (ps->bonus_names[j] && strcmp(ps->bonus_names[j], name) == 0)
					{
						k = j;
						break;
					}
				for (j = 0; j < i; j++)
					if (of->vals[j]->kind == JN_STRING &&
						strcmp(of->vals[j]->str, name) == 0)
						dup = true;
				if (k < 0)
					problem(ps, ep, NULL, "bonus %s does not exist", quoted(name));
				else if (ps->bonus_types[k] == MLM_BONUS_MATCHING)
					problem(ps, ep,
							k == self ? "A matching bonus may not match itself." :
							"A matching bonus may only match bonuses of other types.",
							"\"of\" may not name the matching bonus %s", quoted(name));
				else if (dup)
					problem(ps, ep, NULL, "bonus %s is listed twice", quoted(name));
				else
					b->of[b->nof++] = k;
			}
		}
	}
	get_levels(ps, b, n, path, "rates", "min_rank_by_generation", true);
	parse_compression(ps, b, n, path);
}

static void
parse_fast_start(PState *ps, MlmBonus *b, const JNode *n, const char *path)
{
	JNode	   *v;

	if ((v = require_key(ps, n, path, "days")) != NULL)
		get_int(ps, v, path_key(path, "days"), "days", 1, PG_INT32_MAX,
				&b->days);
	get_levels(ps, b, n, path, "rates", NULL, true);
}

static void
parse_pool(PState *ps, MlmBonus *b, const JNode *n, const char *path)
{
	JNode	   *v;

	if ((v = require_key(ps, n, path, "pct")) != NULL)
		get_rate(ps, v, path_key(path, "pct"), "pct", &b->pct);
	if ((v = obj_get(n, "min_rank")) != NULL)
	{
		int			r = get_rank_ref(ps, v, path_key(path, "min_rank"), "min_rank");

		if (r >= 0)
			b->pool_min_rank = r;
	}
	b->shares_equal = true;
	if ((v = obj_get(n, "shares")) != NULL)
	{
		char	   *sp = path_key(path, "shares");

		if (v->kind == JN_OBJECT)
		{
			if (get_per_rank(ps, v, sp, "shares", true, &b->shares, NULL))
				b->shares_equal = false;
		}
		else if (v->kind != JN_STRING || strcmp(v->str, "equal") != 0)
			problem(ps, sp, value_detail(v),
					"shares must be \"equal\" or an object by rank name");
	}
}

static int
bonus_type_of(const JNode *n)
{
	JNode	   *t = obj_get(n, "type");
	int			i;

	if (t == NULL || t->kind != JN_STRING)
		return -1;
	for (i = 0; bonus_type_words[i]; i++)
		if (strcmp(t->str, bonus_type_words[i]) == 0)
			return i;
	return -1;
}

static void
parse_bonus(PState *ps, int i, const JNode *n)
{
	MlmPlan    *plan = ps->plan;
	MlmBonus   *b = &plan->bonuses[i];
	char	   *path = path_idx("bonuses", i);
	JNode	   *v;
	int			type;
	int			j;

	b->breakaway_rank = -1;
	b->require_sponsored_each_leg = true;
	b->shares_equal = true;
	if (!expect_kind(ps, n, JN_OBJECT, path, "bonus"))
		return;

	type = bonus_type_of(n);
	if (type >= 0)
		check_keys(ps, n, path, bonus_keys[type]);

	if ((v = require_key(ps, n, path, "name")) != NULL)
	{
		char	   *npath = path_key(path, "name");
		char	   *name = get_string(ps, v, npath, "name", true);

		if (name)
		{
			b->name = name;
			for (j = 0; j < i; j++)
				if (ps->bonus_names[j] && strcmp(ps->bonus_names[j], name) == 0)
				{
					problem(ps, npath,
							psprintf("bonuses[%d] has the same name.", j),
							"duplicate bonus name %s", quoted(name));
					break;
				}
		}
	}
	if ((v = require_key(ps, n, path, "type")) != NULL)
	{
		if (get_choice(ps, v, path_key(path, "type"), "type",
					   bonus_type_words) < 0)
			return;
	}
	if (type < 0)
		return;
	b->type = (MlmBonusType) type;

	switch (b->type)
	{
		case MLM_BONUS_PERSONAL:
			parse_personal(ps, b, n, path);
			break;
		case MLM_BONUS_UNILEVEL:
			parse_unilevel(ps, b, n, path);
			break;
		case MLM_BONUS_DIFFERENTIAL:
			parse_differential(ps, b, n, path);
			break;
		case MLM_BONUS_BINARY:
			if (plan->binary_bonus >= 0)
				problem(ps, path,
						psprintf("bonuses[%d] is already a binary bonus.",
								 plan->binary_bonus),
						"only one binary bonus is allowed per plan");
			else
				plan->binary_bonus = i;
			parse_binary(ps, b, n, path);
			break;
		case MLM_BONUS_MATCHING:
			parse_matching(ps, b, i, n, path);
			break;
		case MLM_BONUS_FAST_START:
			parse_fast_start(ps, b, n, path);
			break;
		case MLM_BONUS_POOL:
			parse_pool(ps, b, n, path);
			break;
	}
}

static void
parse_bonuses(PState *ps, const JNode *n)
{
	MlmPlan    *plan = ps->plan;
	int			i;

	if (!expect_kind(ps, n, JN_ARRAY, "bonuses", "bonuses"))
		return;
	for (i = 0; i < n->n; i++)
		parse_bonus(ps, i, n->vals[i]);
	plan->nbonuses = n->n;
}

/* ------------------------------------------------------------------------
 * Entry points
 * ------------------------------------------------------------------------
 */
MlmPlan *
MlmPlanParse(Jsonb *jb, List **problems)
{
	PState		ps;
	MlmPlan    *plan;
	JNode	   *root;
	JNode	   *ranks;
	JNode	   *bonuses;
	JNode	   *v;
	int			i;

	memset(&ps, 0, sizeof(ps));
	ps.problems = problems;
	plan = palloc0(sizeof(MlmPlan));
	ps.plan = plan;
	plan->scale = 2;
	plan->rounding = MLM_ROUND_HALF_UP;
	plan->binary_bonus = -1;

	root = jnode_from_jsonb(jb);
	if (root->kind != JN_OBJECT)
	{
		problem(&ps, "", root->kind == JN_ARRAY ? NULL : value_detail(root),
				"plan must be an object, not %s", kind_name(root->kind));
		return NULL;
	}

	/* silent pre-pass: rank and bonus names, bonus types */
	ranks = obj_get(root, "ranks");
	if (ranks && ranks->kind == JN_ARRAY)
	{
		ps.nranks = ranks->n;
		ps.rank_names = palloc0(sizeof(char *) * Max(ranks->n, 1));
		for (i = 0; i < ranks->n; i++)
		{
			JNode	   *nm = obj_get(ranks->vals[i], "name");

			if (nm && nm->kind == JN_STRING && nm->str[0] != '\0')
				ps.rank_names[i] = nm->str;
		}
		plan->ranks = palloc0(sizeof(MlmRank) * Max(ranks->n, 1));
	}
	bonuses = obj_get(root, "bonuses");
	if (bonuses && bonuses->kind == JN_ARRAY)
	{
		ps.nbonuses = bonuses->n;
		ps.bonus_names = palloc0(sizeof(char *) * Max(bonuses->n, 1));
		ps.bonus_types = palloc0(sizeof(int) * Max(bonuses->n, 1));
		for (i = 0; i < bonuses->n; i++)
		{
			JNode	   *nm = obj_get(bonuses->vals[i], "name");

			if (nm && nm->kind == JN_STRING && nm->str[0] != '\0')
				ps.bonus_names[i] = nm->str;
			ps.bonus_types[i] = bonus_type_of(bonuses->vals[i]);
		}
		plan->bonuses = palloc0(sizeof(MlmBonus) * Max(bonuses->n, 1));
	}

	check_keys(&ps, root, "", root_keys);
	if (ranks == NULL)
		problem(&ps, "", NULL, "missing required key \"ranks\"");

	if ((v = obj_get(root, "name")) != NULL)
		plan->name = get_string(&ps, v, "name", "name", false);
	if ((v = obj_get(root, "currency")) != NULL)
		parse_currency(&ps, v);
	if ((v = obj_get(root, "active")) != NULL)
		parse_active(&ps, v);
	if (ranks)
		parse_ranks(&ps, ranks);
	if (bonuses)
		parse_bonuses(&ps, bonuses);
	if ((v = obj_get(root, "cap")) != NULL)
		parse_cap(&ps, v);

	if (ps.nproblems > 0)
		return NULL;

	for (i = 0; i < plan->nbonuses; i++)
	{
		MlmBonus   *b = &plan->bonuses[i];

		if (b->type == MLM_BONUS_BINARY ||
			(b->type == MLM_BONUS_UNILEVEL && b->placement))
			plan->needs_placement = true;
		if (b->nrates > plan->max_levels)
			plan->max_levels = b->nrates;
	}
	return plan;
}

int
MlmPlanBonusIndex(const MlmPlan *plan, const char *name)
{
	int			i;

	for (i = 0; i < plan->nbonuses; i++)
		if (plan->bonuses[i].name && strcmp(plan->bonuses[i].name, name) == 0)
			return i;
	return -1;
}

/* ------------------------------------------------------------------------
 * SQL functions
 * ------------------------------------------------------------------------
 */
PG_FUNCTION_INFO_V1(mlm_validate_plan);
PG_FUNCTION_INFO_V1(mlm_check_plan);
PG_FUNCTION_INFO_V1(mlm_plan_summary);

/* mlm.validate_plan(plan jsonb) RETURNS TABLE(path text, message text) */
Datum
mlm_validate_plan(PG_FUNCTION_ARGS)
{
	Jsonb	   *jb = PG_GETARG_JSONB_P(0);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	List	   *problems = NIL;
	ListCell   *lc;

	InitMaterializedSRF(fcinfo, 0);
	(void) MlmPlanParse(jb, &problems);
	foreach(lc, problems)
	{
		MlmPlanProblem *p = (MlmPlanProblem *) lfirst(lc);
		Datum		values[2];
		bool		nulls[2] = {false, false};

		values[0] = CStringGetTextDatum(p->path);
		values[1] = CStringGetTextDatum(p->message);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* mlm.check_plan(plan jsonb) RETURNS jsonb: the plan, or an error */
Datum
mlm_check_plan(PG_FUNCTION_ARGS)
{
	Jsonb	   *jb = PG_GETARG_JSONB_P(0);

	(void) MlmPlanParse(jb, NULL);
	PG_RETURN_JSONB_P(jb);
}

static void
js_str(StringInfo buf, const char *s)
{
	if (s == NULL)
		appendStringInfoString(buf, "null");
	else
		escape_json(buf, s);
}

static void
js_dec(StringInfo buf, mlm_dec v, int scale)
{
	char		tmp[64];

	appendStringInfo(buf, "\"%s\"", MlmDecToText(v, scale, 0, tmp));
}

static void
js_rates(StringInfo buf, const char *key, int n, const mlm_dec *rates)
{
	int			i;

	appendStringInfo(buf, ", \"%s\": [", key);
	for (i = 0; i < n; i++)
	{
		if (i)
			appendStringInfoString(buf, ", ");
		js_dec(buf, rates[i], MLM_RATE_SCALE);
	}
	appendStringInfoChar(buf, ']');
}

static void
js_rank_list(StringInfo buf, const MlmPlan *plan, const char *key, int n,
			 const int *ranks)
{
	int			i;

	appendStringInfo(buf, ", \"%s\": [", key);
	for (i = 0; i < n; i++)
	{
		if (i)
			appendStringInfoString(buf, ", ");
		js_str(buf, plan->ranks[ranks[i]].name);
	}
	appendStringInfoChar(buf, ']');
}

static void
js_per_rank(StringInfo buf, const MlmPlan *plan, const char *key,
			const char *valkey, const mlm_dec *vals)
{
	int			i;

	appendStringInfo(buf, ", \"%s\": [", key);
	for (i = 0; i < plan->nranks; i++)
	{
		if (i)
			appendStringInfoString(buf, ", ");
		appendStringInfoString(buf, "{\"rank\": ");
		js_str(buf, plan->ranks[i].name);
		appendStringInfo(buf, ", \"%s\": ", valkey);
		js_dec(buf, vals[i], MLM_RATE_SCALE);
		appendStringInfoChar(buf, '}');
	}
	appendStringInfoChar(buf, ']');
}

static void
js_opt_amount(StringInfo buf, const char *key, bool has, mlm_dec v)
{
	appendStringInfo(buf, ", \"%s\": ", key);
	if (has)
		js_dec(buf, v, MLM_VOL_SCALE);
	else
		appendStringInfoString(buf, "null");
}

/*
 * mlm.plan_summary(plan jsonb) RETURNS jsonb: what the engine understood,
 * defaults filled in, per-rank values expanded, decimals as exact strings.
 */
Datum
mlm_plan_summary(PG_FUNCTION_ARGS)
{
	Jsonb	   *jb = PG_GETARG_JSONB_P(0);
	MlmPlan    *plan = MlmPlanParse(jb, NULL);
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"name\": ");
	js_str(&buf, plan->name);
	appendStringInfo(&buf, ", \"currency\": {\"scale\": %d, \"rounding\": \"%s\"}",
					 plan->scale,
					 plan->rounding == MLM_ROUND_HALF_EVEN ? "half_even" : "half_up");
	appendStringInfoString(&buf, ", \"active\": ");
	if (plan->has_active_min_pv)
	{
		appendStringInfoString(&buf, "{\"min_pv\": ");
		js_dec(&buf, plan->active_min_pv, MLM_VOL_SCALE);
		appendStringInfoChar(&buf, '}');
	}
	else
		appendStringInfoString(&buf, "null");

	appendStringInfoString(&buf, ", \"ranks\": [");
	for (i = 0; i < plan->nranks; i++)
	{
		MlmRank    *rk = &plan->ranks[i];

		if (i)
			appendStringInfoString(&buf, ", ");
		appendStringInfo(&buf, "{\"index\": %d, \"name\": ", i);
		js_str(&buf, rk->name);
		if (rk->has_min_pv)
			js_opt_amount(&buf, "min_pv", true, rk->min_pv);
		if (rk->has_min_gv)
			js_opt_amount(&buf, "min_gv", true, rk->min_gv);
		if (rk->has_max_leg_pct)
		{
			appendStringInfoString(&buf, ", \"max_leg_pct\": ");
			js_dec(&buf, rk->max_leg_pct, MLM_RATE_SCALE);
		}
		if (rk->has_min_active_frontline)
			appendStringInfo(&buf, ", \"min_active_frontline\": %d",
							 rk->min_active_frontline);
		if (rk->has_legs_with_rank)
		{
			appendStringInfoString(&buf, ", \"legs_with_rank\": {\"rank\": ");
			js_str(&buf, plan->ranks[rk->legs_rank].name);
			appendStringInfo(&buf, ", \"rank_index\": %d, \"count\": %d}",
							 rk->legs_rank, rk->legs_count);
		}
		appendStringInfoChar(&buf, '}');
	}
	appendStringInfoChar(&buf, ']');

	appendStringInfoString(&buf, ", \"bonuses\": [");
	for (i = 0; i < plan->nbonuses; i++)
	{
		MlmBonus   *b = &plan->bonuses[i];
		int			j;

		if (i)
			appendStringInfoString(&buf, ", ");
		appendStringInfo(&buf, "{\"index\": %d, \"name\": ", i);
		js_str(&buf, b->name);
		appendStringInfo(&buf, ", \"type\": \"%s\"", bonus_type_words[b->type]);
		switch (b->type)
		{
			case MLM_BONUS_PERSONAL:
				js_per_rank(&buf, plan, "rate_by_rank", "rate", b->rate_by_rank);
				break;
			case MLM_BONUS_UNILEVEL:
				js_rates(&buf, "rates", b->nrates, b->rates);
				js_rank_list(&buf, plan, "min_rank_by_level", b->nrates, b->min_rank);
				appendStringInfo(&buf, ", \"compression\": \"%s\", \"tree\": \"%s\"",
								 b->dynamic ? "dynamic" : "none",
								 b->placement ? "placement" : "sponsor");
				break;
			case MLM_BONUS_DIFFERENTIAL:
				js_per_rank(&buf, plan, "rate_by_rank", "rate", b->rate_by_rank);
				appendStringInfoString(&buf, ", \"breakaway_rank\": ");
				js_str(&buf, b->breakaway_rank >= 0 ?
					   plan->ranks[b->breakaway_rank].name : NULL);
				js_rates(&buf, "generation_rates", b->nrates, b->rates);
				js_rank_list(&buf, plan, "min_rank_by_generation", b->nrates,
							 b->min_rank);
				break;
			case MLM_BONUS_BINARY:
				if (b->cycle)
				{
					appendStringInfoString(&buf, ", \"cycle\": {\"left\": ");
					js_dec(&buf, b->cycle_left, MLM_VOL_SCALE);
					appendStringInfoString(&buf, ", \"right\": ");
					js_dec(&buf, b->cycle_right, MLM_VOL_SCALE);
					appendStringInfoString(&buf, ", \"amount\": ");
					js_dec(&buf, b->cycle_amount, MLM_VOL_SCALE);
					appendStringInfoChar(&buf, '}');
				}
				else
				{
					appendStringInfoString(&buf, ", \"rate\": ");
					js_dec(&buf, b->rate, MLM_RATE_SCALE);
				}
				js_opt_amount(&buf, "cap", b->has_cap, b->cap);
				js_opt_amount(&buf, "max_carry", b->has_max_carry, b->max_carry);
				appendStringInfo(&buf, ", \"flush_when_unqualified\": %s"
								 ", \"require_sponsored_each_leg\": %s",
								 b->flush_when_unqualified ? "true" : "false",
								 b->require_sponsored_each_leg ? "true" : "false");
				break;
			case MLM_BONUS_MATCHING:
				appendStringInfoString(&buf, ", \"of\": [");
				for (j = 0; j < b->nof; j++)
				{
					if (j)
						appendStringInfoString(&buf, ", ");
					js_str(&buf, plan->bonuses[b->of[j]].name);
				}
				appendStringInfoChar(&buf, ']');
				js_rates(&buf, "rates", b->nrates, b->rates);
				js_rank_list(&buf, plan, "min_rank_by_generation", b->nrates,
							 b->min_rank);
				appendStringInfo(&buf, ", \"compression\": \"%s\"",
								 b->dynamic ? "dynamic" : "none");
				break;
			case MLM_BONUS_FAST_START:
				appendStringInfo(&buf, ", \"days\": %d", b->days);
				js_rates(&buf, "rates", b->nrates, b->rates);
				break;
			case MLM_BONUS_POOL:
				appendStringInfoString(&buf, ", \"pct\": ");
				js_dec(&buf, b->pct, MLM_RATE_SCALE);
				appendStringInfoString(&buf, ", \"min_rank\": ");
				js_str(&buf, plan->ranks[b->pool_min_rank].name);
				if (b->shares_equal)
					appendStringInfoString(&buf, ", \"shares\": \"equal\"");
				else
					js_per_rank(&buf, plan, "shares", "share", b->shares);
				break;
		}
		appendStringInfoChar(&buf, '}');
	}
	appendStringInfoChar(&buf, ']');

	appendStringInfoString(&buf, ", \"cap\": ");
	if (plan->has_cap)
	{
		appendStringInfoString(&buf, "{\"pct\": ");
		js_dec(&buf, plan->cap_pct, MLM_RATE_SCALE);
		appendStringInfoChar(&buf, '}');
	}
	else
		appendStringInfoString(&buf, "null");
	appendStringInfo(&buf, ", \"binary_bonus\": ");
	js_str(&buf, plan->binary_bonus >= 0 ?
		   plan->bonuses[plan->binary_bonus].name : NULL);
	appendStringInfo(&buf, ", \"needs_placement\": %s, \"max_levels\": %d}",
					 plan->needs_placement ? "true" : "false", plan->max_levels);

	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}
