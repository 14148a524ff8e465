/*
 * util.c
 *	  Helpers shared by every part of the extension: error details that name
 *	  member ids, and huge-allocation wrappers with overflow checks.
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "utils/memutils.h"

#include "mlm.h"

/* errdetail naming at most the first ids and how many more there are. */
int
MlmErrDetailIds(const char *label, const int64 *ids, int64 nids, int64 total)
{
	StringInfoData buf;
	int64		i;

	initStringInfo(&buf);
	appendStringInfo(&buf, "%s: ", label);
	for (i = 0; i < nids; i++)
		appendStringInfo(&buf, "%s" INT64_FORMAT, i ? ", " : "", ids[i]);
	if (total > nids)
		appendStringInfo(&buf, " and " INT64_FORMAT " more", total - nids);
	appendStringInfoChar(&buf, '.');
	return errdetail_internal("%s", buf.data);
}

/* count * size in bytes, or an error when it overflows or is too large. */
static Size
ArrayBytes(Size count, Size size)
{
	Size		bytes;

	if (__builtin_mul_overflow(count, size, &bytes) || !AllocHugeSizeIsValid(bytes))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("array of %zu elements is too large", count)));
	return bytes;
}

/* palloc of count * size bytes, huge-capable. */
void *
MlmAllocArray(Size count, Size size)
{
	return MemoryContextAllocHuge(CurrentMemoryContext, Max(ArrayBytes(count, size), 1));
}

/* The same, zeroed. */
void *
MlmAllocArrayZero(Size count, Size size)
{
	Size		bytes = Max(ArrayBytes(count, size), 1);
	void	   *p = MemoryContextAllocHuge(CurrentMemoryContext, bytes);

	memset(p, 0, bytes);
	return p;
}

/* repalloc to count * size bytes, huge-capable. */
void *
MlmReallocArray(void *ptr, Size count, Size size)
{
	return repalloc_huge(ptr, Max(ArrayBytes(count, size), 1));
}

/* The first NULL one of the required arguments, named in a 22004 error. */
void
MlmRequireArgs(FunctionCallInfo fcinfo, int nargs, const char *const *names)
{
	int			a;

	for (a = 0; a < nargs && a < PG_NARGS(); a++)
		if (PG_ARGISNULL(a))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("argument %s must not be null", names[a])));
}
