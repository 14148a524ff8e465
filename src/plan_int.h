/*
 * plan_int.h
 *	  Inside the plan parser: the in-memory copy of the jsonb document
 *	  (JNode), the parser state with its problem list, and the readers of
 *	  plan_read.c (JSON paths, scalars, rank references, lists) that the
 *	  section parsers of plan.c use.  Not for use outside plan*.c.
 */
#ifndef MLM_PLAN_INT_H
#define MLM_PLAN_INT_H

#include "postgres.h"
#include "utils/jsonb.h"

#include "plan.h"

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

/* what the values of a per-rank object are (PlanGetPerRank) */
typedef enum PerRankKind
{
	PR_RATE,					/* rates in [0, 1], RATE scale */
	PR_SHARE,					/* weights >= 0, RATE scale */
	PR_AMOUNT					/* money >= 0, VOL scale */
} PerRankKind;

/* what PlanGetAmount accepts */
#define AMT_ANY			0
#define AMT_NONNEG		1
#define AMT_POSITIVE	2

extern JNode *PlanJNodeFromJsonb(Jsonb *jb);
extern JNode *PlanObjGet(const JNode *obj, const char *key);
extern JNode *PlanRequireKey(PState *ps, const JNode *obj, const char *path, const char *key);
extern bool PlanExpectKind(PState *ps, const JNode *n, JKind kind, const char *path, const char *label);
extern bool PlanGetAmount(PState *ps, const JNode *n, const char *path, const char *label,    int sign, mlm_dec *out);
extern bool PlanGetBool(PState *ps, const JNode *n, const char *path, const char *label,  bool *out);
extern bool PlanGetFraction(PState *ps, const JNode *n, const char *path, const char *label,  bool allow_zero, const char *rangemsg, mlm_dec *out);
extern bool PlanGetInt(PState *ps, const JNode *n, const char *path, const char *label, int32 min, int32 max, int32 *out);
extern bool PlanGetPerRank(PState *ps, const JNode *n, const char *path, const char *label,  PerRankKind kind, mlm_dec **out, bool **present_out);
extern bool PlanGetRate(PState *ps, const JNode *n, const char *path, const char *label,  mlm_dec *out);
extern char *PlanGetString(PState *ps, const JNode *n, const char *path, const char *label,    bool nonempty);
extern char *PlanPathIdx(const char *parent, int i);
extern char *PlanPathKey(const char *parent, const char *key);
extern char *PlanQuoted(const char *s);
extern char *PlanValueDetail(const JNode *n);
extern const char *PlanKindName(JKind k);
extern int PlanGetChoice(PState *ps, const JNode *n, const char *path, const char *label,    const char *const *choices);
extern int PlanGetRankRef(PState *ps, const JNode *n, const char *path, const char *label);
extern void PlanCheckKeys(PState *ps, const JNode *obj, const char *path,    const char *const *allowed);
extern void PlanGetLevels(PState *ps, MlmBonus *b, const JNode *obj, const char *bpath,    const char *rates_key, const char *ranks_key, bool rates_required);
extern void PlanProblem(PState *ps, const char *path, const char *detail,
						const char *fmt,...) pg_attribute_printf(4, 5);

#endif
