/*
 * mlm.h
 *	  Small shared helpers of the mlm extension (util.c): error details
 *	  that name member ids, and huge-allocation wrappers with overflow
 *	  checks.
 */
#ifndef MLM_H
#define MLM_H

#include "postgres.h"

/* "ids: 1, 2, 3 and 7 more" into an errdetail; returns 0 for ereport use */
extern int	MlmErrDetailIds(const char *label, const int64 *ids, int64 nids,
							int64 total);

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

#define MlmIdListDetail(label, l) \
	MlmErrDetailIds((label), (l)->ids, Min((l)->count, MLM_MAX_REPORTED), (l)->count)

#endif
