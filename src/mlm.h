/*
 * mlm.h
 *	  Small shared helpers of the mlm extension (util.c): error details
 *	  that name member ids, and huge-allocation wrappers with overflow
 *	  checks.
 */
#ifndef MLM_H
#define MLM_H

#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"

/* "ids: 1, 2, 3 and 7 more" into an errdetail; returns 0 for ereport use */
extern int	MlmErrDetailIds(const char *label, const int64 *ids, int64 nids,
							int64 total);

/*
 * NULL arguments of an SQL-callable function: 22004 naming the first of
 * the first nargs arguments (names[i] names argument i) that is NULL.
 */
extern void MlmRequireArgs(FunctionCallInfo fcinfo, int nargs, const char *const *names);

/* palloc of count * size bytes, huge-capable, overflow-checked */
extern void *MlmAllocArray(Size count, Size size);
extern void *MlmAllocArrayZero(Size count, Size size);
extern void *MlmReallocArray(void *ptr, Size count, Size size);

/* Collects up to MLM_MAX_REPORTED ids for an error detail. */
#define MLM_MAX_REPORTED 10
typedef struct MlmIdList
{
	int64		ids[MLM_MAX_REPORTED];
	int64		count;
} MlmIdList;

static inline void
MlmIdListAdd(MlmIdList *l, int64 id)
{
	if (l->count < MLM_MAX_REPORTED)
		l->ids[l->count] = id;
	l->count++;
}

/*
 * Interrupt checks by work done, not by outer iterations: a loop adds the
 * steps it took, and every MLM_WORK_QUANTUM steps (well under a
 * millisecond of work) the backend checks for cancel and
 * statement_timeout, however the work is spread over the outer loop.
 */
#define MLM_WORK_QUANTUM 32768

static inline void
MlmWorkDone(int64 *work, int64 steps)
{
	*work += steps;
	if (*work >= MLM_WORK_QUANTUM)
	{
		*work = 0;
		CHECK_FOR_INTERRUPTS();
	}
}

#define MlmIdListDetail(label, l) \
	MlmErrDetailIds((label), (l)->ids, Min((l)->count, MLM_MAX_REPORTED), (l)->count)

#endif
