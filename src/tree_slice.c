/*
 * tree_slice.c
 *	  Read a stored mlm.tree piecewise, for calls that touch a few members.
 *
 * The upline of one member needs a few dozen array entries of a value that
 * is 20 bytes a member: decoding a 1M-member snapshot for it costs a 20 MB
 * read, while fetching only the TOAST chunks that hold those entries costs
 * about what the index lookups of a recursive CTE cost.  So a call on a
 * stored value that its call site and the backend cache do not hold decoded
 * reads chunk-sized slices through a small cache of blocks.  The slices
 * read at one call site are counted; past a budget (a per-row query, a big
 * downline) the value is decoded once as usual and the accessors switch to
 * it, in the middle of a walk if need be.
 *
 * The value was validated when it was made, but every index read here is
 * still checked against the member count before use, so a damaged value
 * gives an error, never a wild read or an endless walk.
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/heaptoast.h"

#include "mlm.h"
#include "tree.h"

/* one block = one TOAST chunk, so a block read fetches one chunk */
#define SLICE_BLOCK ((Size) TOAST_MAX_CHUNK_SIZE)

/* Decode the value now; the accessors use it from here on. */
static void
Decode(MlmTreeAccess *a)
{
	a->t = MlmTreeFromArg(a->fcinfo, a->argno);
	MlmSliceEnd(a);
}

static void
Corrupt(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("stored mlm.tree value is corrupt")));
}

void
MlmTreeAccessBegin(MlmTreeAccess *a, FunctionCallInfo fcinfo, int argno)
{
	struct varlena *raw = (struct varlena *) PG_GETARG_POINTER(argno);
	struct varatt_external ext;
	MlmTreeHeader *h;
	MlmTreeOffsets o;
	int			k;

	a->fcinfo = fcinfo;
	a->argno = argno;
	a->raw = NULL;				/* set once the blocks are initialised */
	a->t = MlmTreeIfDecoded(fcinfo, argno, &a->fetches);
	if (a->t)
		return;
	VARATT_EXTERNAL_GET_POINTER(ext, raw);
	a->raw_size = VARATT_EXTERNAL_GET_EXTSIZE(ext);
	/* about 3% of the value's chunks, at least 64 */
	a->budget = Max((int64) 64, (int64) (a->raw_size / SLICE_BLOCK / 32));
	if (VARATT_EXTERNAL_IS_COMPRESSED(ext) || *a->fetches >= a->budget)
	{
		/* a slice of a compressed value decompresses from its start */
		a->t = MlmTreeFromArg(fcinfo, argno);
		return;
	}
	for (k = 0; k < MLM_SLICE_CACHE; k++)
	{
		a->blk_no[k] = -1;
		a->blk_used[k] = 0;
		a->blk[k] = NULL;
	}
	a->clock = 0;
	a->range_known = false;
	a->raw = raw;

	h = (MlmTreeHeader *) detoast_attr_slice(raw, 0, sizeof(MlmTreeHeader) - VARHDRSZ);
	(*a->fetches)++;
	if (VARSIZE(h) != sizeof(MlmTreeHeader) || h->version != MLM_TREE_VERSION ||
		h->n < 0 || h->n > MLM_TREE_MAX_MEMBERS ||
		MlmTreeBytes(h->n, (h->flags & MLM_TREE_HAS_PLACEMENT) != 0) !=
		a->raw_size + VARHDRSZ)
		Corrupt();
	a->n = h->n;
	MlmTreeGetOffsets(h->n, (h->flags & MLM_TREE_HAS_PLACEMENT) != 0, &o);
	pfree(h);
	/* data offsets: the stored data starts after the varlena header */
	a->off_ids = o.ids - VARHDRSZ;
	a->off_parent = o.parent - VARHDRSZ;
	a->off_size = o.size - VARHDRSZ;
	a->off_byid = o.byid - VARHDRSZ;
}

void
MlmSliceEnd(MlmTreeAccess *a)
{
	int			k;

	for (k = 0; k < MLM_SLICE_CACHE; k++)
	{
		if (a->blk[k])
			pfree(a->blk[k]);
		a->blk[k] = NULL;
		a->blk_no[k] = -1;
	}
	a->raw = NULL;
}

/*
 * Copy len bytes at data offset off into dst, fetching the blocks that
 * hold them (least recently used block replaced).  Returns false when the
 * budget ran out and the value was decoded instead.
 */
static bool
ReadBytes(MlmTreeAccess *a, Size off, Size len, void *dst)
{
	char	   *out = dst;

	if (off + len > a->raw_size)
		Corrupt();
	while (len > 0)
	{
		int64		no = (int64) (off / SLICE_BLOCK);
		Size		in = off % SLICE_BLOCK;
		Size		take = Min(len, SLICE_BLOCK - in);
		int			k,
					victim = 0;

		for (k = 0; k < MLM_SLICE_CACHE; k++)
		{
			if (a->blk_no[k] == no)
				break;
			if (a->blk_used[k] < a->blk_used[victim])
				victim = k;
		}
		if (k == MLM_SLICE_CACHE)
		{
			Size		start = (Size) no * SLICE_BLOCK;

			if (*a->fetches >= a->budget)
			{
				Decode(a);
				return false;
			}
			CHECK_FOR_INTERRUPTS();
			k = victim;
			if (a->blk[k])
				pfree(a->blk[k]);
			a->blk[k] = detoast_attr_slice(a->raw, (int32) start,
										   (int32) Min(SLICE_BLOCK, a->raw_size - start));
			a->blk_no[k] = no;
			(*a->fetches)++;
		}
		a->blk_used[k] = ++a->clock;
		memcpy(out, VARDATA(a->blk[k]) + in, take);
		out += take;
		off += take;
		len -= take;
	}
	return true;
}

/* Element i of an int32 array at data offset base, index checked. */
static int32
ReadInt32(MlmTreeAccess *a, Size base, int32 i, bool *decoded)
{
	int32		v;

	if (i < 0 || i >= a->n)
		Corrupt();
	*decoded = !ReadBytes(a, base + (Size) i * sizeof(int32), sizeof(int32), &v);
	return v;
}

int64
MlmSliceId(MlmTreeAccess *a, int32 i)
{
	int64		v;

	if (i < 0 || i >= a->n)
		Corrupt();
	if (!ReadBytes(a, a->off_ids + (Size) i * sizeof(int64), sizeof(int64), &v))
		return a->t->v.ids[i];
	return v;
}

int32
MlmSliceParent(MlmTreeAccess *a, int32 i)
{
	bool		decoded;
	int32		p = ReadInt32(a, a->off_parent, i, &decoded);

	if (decoded)
		return a->t->v.parent[i];
	if (p < -1 || p >= i)
		Corrupt();
	return p;
}

int32
MlmSliceSize(MlmTreeAccess *a, int32 i)
{
	bool		decoded;
	int32		s = ReadInt32(a, a->off_size, i, &decoded);

	if (decoded)
		return a->t->v.size[i];
	if (s < 1 || s > a->n - i)
		Corrupt();
	return s;
}

/* byid[k], checked; -2 when the value was decoded meanwhile. */
static int32
SliceById(MlmTreeAccess *a, int32 k)
{
	bool		decoded;
	int32		i = ReadInt32(a, a->off_byid, k, &decoded);

	if (decoded)
		return -2;
	if (i < 0 || i >= a->n)
		Corrupt();
	return i;
}

/*
 * Preorder index of id, -1 when absent: one read when the ids are a dense
 * range (checked once from the smallest and largest id), else a binary
 * search over byid.
 */
int32
MlmSliceFind(MlmTreeAccess *a, int64 id)
{
	int32		lo,
				hi;

	if (a->n == 0)
		return -1;
	if (!a->range_known)
	{
		int32		first = SliceById(a, 0);
		int32		last = first >= 0 ? SliceById(a, a->n - 1) : -2;

		if (first == -2 || last == -2)
			return MlmTreeFind(a->t, id);
		a->min_id = MlmSliceId(a, first);
		a->max_id = MlmSliceId(a, last);
		if (a->t)
			return MlmTreeFind(a->t, id);
		a->dense = (uint64) a->max_id - (uint64) a->min_id == (uint64) a->n - 1;
		a->range_known = true;
	}
	if (id < a->min_id || id > a->max_id)
		return -1;
	if (a->dense)
	{
		int32		i = SliceById(a, (int32) ((uint64) id - (uint64) a->min_id));

		return i == -2 ? MlmTreeFind(a->t, id) : i;
	}
	lo = 0;
	hi = a->n - 1;
	while (lo <= hi)
	{
		int32		mid = lo + (hi - lo) / 2;
		int32		i = SliceById(a, mid);
		int64		cur;

		if (i == -2)
			return MlmTreeFind(a->t, id);
		cur = MlmSliceId(a, i);
		if (a->t)
			return MlmTreeFind(a->t, id);
		if (cur == id)
			return i;
		if (cur < id)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

/* Depth of preorder index i (edges up to its root), walking slices. */
int32
MlmSliceDepth(MlmTreeAccess *a, int32 i)
{
	int32		d = 0;

	for (;;)
	{
		int32		p;

		if (a->t)
			return d + MlmTreeDepth(a->t, i);	/* decoded on the way */
		p = MlmSliceParent(a, i);
		if (p < 0)
			return d;
		i = p;
		d++;
		if ((d & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
}
