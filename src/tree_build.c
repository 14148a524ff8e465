/*
 * tree_build.c
 *	  Build a validated mlm.tree snapshot from (id, sponsor[, placement,
 *	  position]) rows: index the ids (direct table or radix sort), resolve
 *	  parents, then breadth-first passes for sizes and preorder positions.  Linear in the member count and free of recursion, so a
 *	  1,000,000-deep chain builds like any other shape.
 */
#include "postgres.h"

#include "miscadmin.h"

#include "mlm.h"
#include "tree.h"

static void
OutOfMemory(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_OUT_OF_MEMORY),
			 errmsg("out of memory while building a tree")));
}

/*
 * How member ids map to input rows.  When the ids are dense (ERP serials:
 * the id range is at most a few times the member count) a direct table is
 * both the sort and the lookup; otherwise ids are radix-sorted and parents
 * resolved by a sorted merge.
 */
typedef struct IdIndex
{
	int32	   *rows;			/* rows in ascending id order */
	bool		identity;		/* rows[k] == k: input came in id order */
	bool		consecutive;	/* and the ids are min, min + 1, ...: row =
								 * id - min, no table at all */
	/* dense ids */
	int32	   *slot;			/* row of id (min + i), -1 if none */
	int64		min;
	uint64		range;
	/* sparse ids */
	uint64	   *keys;			/* MLM_ID_KEY of rows[k] */
} IdIndex;

static void
DuplicateError(MlmIdList *dups)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNIQUE_VIOLATION),
			 errmsg("duplicate member id in tree input"),
			 MlmIdListDetail("Duplicate ids", dups)));
}

/* Index the ids of the rows; raises the duplicate-id error. */
static void
IndexIds(const MlmTreeInput *in, IdIndex *ix)
{
	int32		n = (int32) in->n;
	int64		min = PG_INT64_MAX,
				max = PG_INT64_MIN;
	MlmIdList	dups = {{0}, 0};
	int32		k;

	memset(ix, 0, sizeof(IdIndex));
	ix->rows = MlmAllocArray(Max(n, 1), sizeof(int32));
	if (in->ascending && n > 0)
	{
		/* strictly increasing ids: sorted and unique as they are */
		min = in->ids[0];
		max = in->ids[n - 1];
		ix->identity = true;
		for (k = 0; k < n; k++)
			ix->rows[k] = k;
		ix->min = min;
		if ((uint64) max - (uint64) min == (uint64) n - 1)
		{
			ix->consecutive = true;
			ix->range = (uint64) n;
			return;
		}
		if ((uint64) max - (uint64) min < (uint64) n * 3)
		{
			ix->range = (uint64) max - (uint64) min + 1;
			ix->slot = MlmAllocArray(ix->range, sizeof(int32));
			memset(ix->slot, 0xFF, ix->range * sizeof(int32));
			for (k = 0; k < n; k++)
				ix->slot[(uint64) in->ids[k] - (uint64) min] = k;
			return;
		}
		ix->keys = MlmAllocArray(n, sizeof(uint64));
		for (k = 0; k < n; k++)
			ix->keys[k] = MLM_ID_KEY(in->ids[k]);
		return;
	}
	for (k = 0; k < n; k++)
	{
		min = Min(min, in->ids[k]);
		max = Max(max, in->ids[k]);
	}
	if (n > 0 && (uint64) max - (uint64) min < (uint64) n * 3)
	{
		uint64		i;
		int32		m = 0;

		ix->min = min;
		ix->range = (uint64) max - (uint64) min + 1;
		ix->slot = MlmAllocArray(ix->range, sizeof(int32));
		memset(ix->slot, 0xFF, ix->range * sizeof(int32));
		for (k = 0; k < n; k++)
		{
			int32	   *sl = &ix->slot[(uint64) in->ids[k] - (uint64) min];

			/* -2 marks an id already reported, so each is named once */
			if (*sl >= 0)
			{
				MlmIdListAdd(&dups, in->ids[k]);
				*sl = -2;
			}
			else if (*sl == -1)
				*sl = k;
		}
		if (dups.count > 0)
			DuplicateError(&dups);
		for (i = 0; i < ix->range; i++)
			if (ix->slot[i] >= 0)
				ix->rows[m++] = ix->slot[i];
		return;
	}

	ix->keys = MlmAllocArray(Max(n, 1), sizeof(uint64));
	for (k = 0; k < n; k++)
	{
		ix->keys[k] = MLM_ID_KEY(in->ids[k]);
		ix->rows[k] = k;
	}
	if (!MlmSortPairs(ix->keys, ix->rows, n))
		OutOfMemory();
	for (k = 1; k < n; k++)
		if (ix->keys[k] == ix->keys[k - 1] &&
			(k == 1 || ix->keys[k - 1] != ix->keys[k - 2]))
			MlmIdListAdd(&dups, in->ids[ix->rows[k]]);
	if (dups.count > 0)
		DuplicateError(&dups);
}

static void
FreeIndex(IdIndex *ix)
{
	pfree(ix->rows);
	if (ix->slot)
		pfree(ix->slot);
	if (ix->keys)
		pfree(ix->keys);
}

/*
 * Resolve parent ids to row numbers.  Rows whose parent is null get -1; a
 * parent id that is not a member raises the orphan error.
 */
static int32 *
ResolveParents(const MlmTreeInput *in, const IdIndex *ix,
			   const int64 *parents, const bool *isnull, const char *what)
{
	int32		n = (int32) in->n;
	int32	   *result = MlmAllocArray(Max(n, 1), sizeof(int32));
	int32		k,
				j;
	MlmIdList	orphans = {{0}, 0};

	if (ix->consecutive)
	{
		for (k = 0; k < n; k++)
		{
			uint64		off = (uint64) parents[k] - (uint64) ix->min;

			result[k] = -1;
			if (isnull[k])
				continue;
			if (off < ix->range)
				result[k] = (int32) off;
			else
				MlmIdListAdd(&orphans, in->ids[k]);
		}
	}
	else if (ix->slot)
	{
		for (k = 0; k < n; k++)
		{
			uint64		off = (uint64) parents[k] - (uint64) ix->min;

			result[k] = -1;
			if (isnull[k])
				continue;
			if (off < ix->range && ix->slot[off] >= 0)
				result[k] = ix->slot[off];
			else
				MlmIdListAdd(&orphans, in->ids[k]);
		}
	}
	else
	{
		uint64	   *pkeys = MlmAllocArray(Max(n, 1), sizeof(uint64));
		int32	   *prows = MlmAllocArray(Max(n, 1), sizeof(int32));
		int32		m = 0;

		for (k = 0; k < n; k++)
		{
			result[k] = -1;
			if (!isnull[k])
			{
				pkeys[m] = MLM_ID_KEY(parents[k]);
				prows[m++] = k;
			}
		}
		if (!MlmSortPairs(pkeys, prows, m))
			OutOfMemory();
		j = 0;
		for (k = 0; k < m; k++)
		{
			while (j < n && ix->keys[j] < pkeys[k])
				j++;
			if (j < n && ix->keys[j] == pkeys[k])
				result[prows[k]] = ix->rows[j];
			else
				MlmIdListAdd(&orphans, in->ids[prows[k]]);
			if ((k & 0xFFFF) == 0)
				CHECK_FOR_INTERRUPTS();
		}
		pfree(pkeys);
		pfree(prows);
	}
	if (orphans.count > 0)
		ereport(ERROR,
				(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
				 errmsg("%s is not a member of the tree", what),
				 MlmIdListDetail(psprintf("Members whose %s is missing", what), &orphans)));
	return result;
}

/* Raise the cycle error for the rows that no root reaches. */
static void
ReportCycle(const MlmTreeInput *in, int32 *mark, const int32 *parent_row,
			const char *tree_name)
{
	int32		n = (int32) in->n;
	int32		r,
				x;
	MlmIdList	cyc = {{0}, 0};

	for (r = 0; r < n; r++)
		if (mark[r] == -1)
			break;
	Assert(r < n);
	/* walk up until a row repeats: that row lies on the cycle */
	x = r;
	while (mark[x] == -1)
	{
		mark[x] = -2;
		x = parent_row[x];
	}
	r = x;
	do
	{
		MlmIdListAdd(&cyc, in->ids[x]);
		x = parent_row[x];
		CHECK_FOR_INTERRUPTS();
	} while (x != r);
	ereport(ERROR,
			(errcode(ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION),
			 errmsg("cycle in the %s tree", tree_name),
			 MlmIdListDetail("Members on the cycle", &cyc)));
}

/* Check the placement columns and fill pparent/ppos of the snapshot. */
static void
BuildPlacement(const MlmTreeInput *in, const IdIndex *ix,
			   const int32 *pre, int32 *pparent, int32 *ppos)
{
	int32		n = (int32) in->n;
	int32	   *prow;
	int32	   *mark;
	MlmIdList	bad = {{0}, 0};
	int32		r,
				k;
	uint64	   *slot;
	int32	   *slot_row;
	int32		m = 0;

	for (r = 0; r < n; r++)
		if (in->pparent_null[r] != in->pos_null[r])
			MlmIdListAdd(&bad, in->ids[r]);
	if (bad.count > 0)
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("placement_id and position must be both set or both null"),
				 MlmIdListDetail("Members", &bad)));
	for (r = 0; r < n; r++)
		if (!in->pos_null[r] && in->pos[r] < 0)
			MlmIdListAdd(&bad, in->ids[r]);
	if (bad.count > 0)
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("placement position must not be negative"),
				 MlmIdListDetail("Members", &bad)));

	prow = ResolveParents(in, ix, in->pparents, in->pparent_null,
						  "placement_id");

	/* acyclic: 0 unseen, 1 on the current walk, 2 reaches a root */
	mark = MlmAllocArrayZero(Max(n, 1), sizeof(int32));
	for (r = 0; r < n; r++)
	{
		int32		a = r;

		while (a != -1 && mark[a] == 0)
		{
			mark[a] = 1;
			a = prow[a];
		}
		if (a != -1 && mark[a] == 1)
		{
			MlmIdList	cyc = {{0}, 0};
			int32		x = a;

			do
			{
				MlmIdListAdd(&cyc, in->ids[x]);
				x = prow[x];
				CHECK_FOR_INTERRUPTS();
			} while (x != a);
			ereport(ERROR,
					(errcode(ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION),
					 errmsg("cycle in the placement tree"),
					 MlmIdListDetail("Members on the cycle", &cyc)));
		}
		for (a = r; a != -1 && mark[a] == 1; a = prow[a])
			mark[a] = 2;
		if ((r & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	pfree(mark);

	/* one member per (placement parent, position) slot */
	slot = MlmAllocArray(Max(n, 1), sizeof(uint64));
	slot_row = MlmAllocArray(Max(n, 1), sizeof(int32));
	for (r = 0; r < n; r++)
		if (prow[r] >= 0)
		{
			slot[m] = ((uint64) (uint32) prow[r] << 32) | (uint32) in->pos[r];
			slot_row[m++] = r;
		}
	if (!MlmSortPairs(slot, slot_row, m))
		OutOfMemory();
	for (k = 1; k < m; k++)
		if (slot[k] == slot[k - 1])
		{
			if (k == 1 || slot[k - 1] != slot[k - 2])
				MlmIdListAdd(&bad, in->ids[slot_row[k - 1]]);
			MlmIdListAdd(&bad, in->ids[slot_row[k]]);
		}
	if (bad.count > 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNIQUE_VIOLATION),
				 errmsg("two members in one placement slot"),
				 MlmIdListDetail("Members sharing a slot", &bad)));
	pfree(slot);
	pfree(slot_row);

	for (r = 0; r < n; r++)
	{
		pparent[pre[r]] = prow[r] >= 0 ? pre[prow[r]] : -1;
		ppos[pre[r]] = prow[r] >= 0 ? in->pos[r] : -1;
	}
	pfree(prow);
}

/*
 * Preorder positions and subtree sizes (by input row) in the general case:
 * a breadth-first order over the children lists gives subtree sizes
 * bottom-up, then each child's position is its parent's plus one plus the
 * sizes of its earlier siblings.  Every pass is a sequential scan with
 * independent random accesses, which the CPU overlaps, instead of a pointer
 * chase per member.  Rows that no root reaches raise the cycle error.
 */
static void
BreadthFirstOrder(const MlmTreeInput *in, const int32 *rows, const int32 *parent_row,
				  int32 *pre, int32 *size, int32 *nroots_out)
{
	int32		n = (int32) in->n;
	int32	   *start;
	int32	   *list;
	int32	   *queue;
	int32		qlen = 0;
	int32		nroots;
	int32		next_root_pos = 0;
	int32		k,
				r;

	/* children of every row in id order (CSR); roots first in the queue */
	start = MlmAllocArrayZero((Size) n + 2, sizeof(int32));
	list = MlmAllocArray(Max(n, 1), sizeof(int32));
	queue = MlmAllocArray(Max(n, 1), sizeof(int32));
	for (r = 0; r < n; r++)
		if (parent_row[r] >= 0)
			start[parent_row[r] + 2]++;
	for (r = 0; r < n; r++)
		start[r + 2] += start[r + 1];
	for (k = 0; k < n; k++)
	{
		int32		c = rows[k];
		int32		p = parent_row[c];

		if (p >= 0)
			list[start[p + 1]++] = c;
		else
			queue[qlen++] = c;
	}
	/* now start[p] .. start[p + 1] is the child list of p, in id order */
	nroots = qlen;
	*nroots_out = nroots;

	/* breadth-first order: parents before children */
	for (k = 0; k < qlen; k++)
	{
		int32		u = queue[k];
		int32		j;

		for (j = start[u]; j < start[u + 1]; j++)
			queue[qlen++] = list[j];
		if ((k & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	if (qlen < n)
	{
		/* rows no root reaches lie on or hang below a cycle */
		for (r = 0; r < n; r++)
			pre[r] = 0;
		for (k = 0; k < qlen; k++)
			pre[queue[k]] = 1;
		for (r = 0; r < n; r++)
			pre[r] = pre[r] ? 0 : -1;
		ReportCycle(in, pre, parent_row, "sponsor");
	}

	/* subtree sizes bottom-up */
	for (r = 0; r < n; r++)
		size[r] = 1;
	for (k = n - 1; k >= nroots; k--)
	{
		int32		u = queue[k];

		size[parent_row[u]] += size[u];
	}
	CHECK_FOR_INTERRUPTS();

	/* preorder positions top-down */
	for (k = 0; k < n; k++)
	{
		int32		u = queue[k];
		int32		pos;
		int32		j;

		if (k < nroots)
		{
			pre[u] = next_root_pos;
			next_root_pos += size[u];
		}
		pos = pre[u] + 1;
		for (j = start[u]; j < start[u + 1]; j++)
		{
			int32		c = list[j];

			pre[c] = pos;
			pos += size[c];
		}
		if ((k & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	pfree(queue);
	pfree(list);
	pfree(start);
}

/*
 * The fast path for the common case where every sponsor has a smaller id
 * than its recruits (ERP serial ids): id order is then already parents
 * first, so sizes are one backward pass and positions one forward pass in
 * id order, with no children lists.  Returns false (and computes nothing)
 * when some sponsor's id is not smaller.
 */
static bool
AscendingOrder(const MlmTreeInput *in, const IdIndex *ix, const int32 *parent_row,
			   int32 *pre, int32 *size, int32 *nroots_out)
{
	int32		n = (int32) in->n;
	const int32 *rows = ix->rows;
	int32	   *rank_of_row;
	const int32 *rparent;
	int32	   *rsize;
	int32	   *rpre;
	int32	   *cursor;
	int32		next_root_pos = 0;
	int32		nroots = 0;
	int32		k;

	if (ix->identity)
	{
		/* input in id order: ranks are rows */
		for (k = 0; k < n; k++)
			if (parent_row[k] >= k)
				return false;
		rparent = parent_row;
	}
	else
	{
		int32	   *rp_by_rank = MlmAllocArray(Max(n, 1), sizeof(int32));

		rank_of_row = MlmAllocArray(Max(n, 1), sizeof(int32));
		for (k = 0; k < n; k++)
			rank_of_row[rows[k]] = k;
		for (k = 0; k < n; k++)
		{
			int32		pr = parent_row[rows[k]];
			int32		rp = pr >= 0 ? rank_of_row[pr] : -1;

			if (rp >= k)
			{
				pfree(rank_of_row);
				pfree(rp_by_rank);
				return false;
			}
			rp_by_rank[k] = rp;
		}
		pfree(rank_of_row);
		rparent = rp_by_rank;
	}

	/* in id order already, ranks are rows: work in the output arrays */
	rsize = ix->identity ? size : MlmAllocArray(Max(n, 1), sizeof(int32));
	for (k = 0; k < n; k++)
		rsize[k] = 1;
	for (k = n - 1; k >= 0; k--)
		if (rparent[k] >= 0)
			rsize[rparent[k]] += rsize[k];
	CHECK_FOR_INTERRUPTS();

	/* cursor[p]: where the next child of p goes (children come by id) */
	rpre = ix->identity ? pre : MlmAllocArray(Max(n, 1), sizeof(int32));
	cursor = MlmAllocArray(Max(n, 1), sizeof(int32));
	for (k = 0; k < n; k++)
	{
		int32		rp = rparent[k];

		if (rp < 0)
		{
			rpre[k] = next_root_pos;
			next_root_pos += rsize[k];
			nroots++;
		}
		else
		{
			rpre[k] = cursor[rp];
			cursor[rp] += rsize[k];
		}
		cursor[k] = rpre[k] + 1;
	}
	if (!ix->identity)
	{
		for (k = 0; k < n; k++)
		{
			pre[rows[k]] = rpre[k];
			size[rows[k]] = rsize[k];
		}
		pfree(rsize);
		pfree(rpre);
		pfree((int32 *) rparent);
	}
	pfree(cursor);
	*nroots_out = nroots;
	return true;
}

/*
 * A random 64-bit identity for a new tree value.  Only this extension makes
 * tree values (build, text input, binary input), so equal stamps mean a
 * copy of the same value: the caches key on it instead of on a content
 * hash, which crafted ids could forge.
 */
uint64
MlmTreeNewStamp(void)
{
	uint64		stamp;

	if (!pg_strong_random(&stamp, sizeof(stamp)))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random tree stamp")));
	return stamp;
}

/*
 * Row (in id order) of the sponsor of row r, held at index j of segment sg,
 * as an unsigned offset from min: at least r when the sponsor is not an
 * earlier row (an orphan, a later row, or a wrap).
 */
static inline uint64
SegSponsorRow(const MlmRowSegment *sg, int32 j, int32 r, int64 min)
{
	if (sg->delta)
		return (uint64) ((int64) r - (int64) sg->delta[j]);
	return (uint64) sg->parents[j] - (uint64) min;
}

/*
 * The layout straight from the rows, for the most common input of all:
 * ids min, min + 1, ... in row order (an ERP serial key; the rows may come
 * as segments, e.g. the partial states of parallel workers), every
 * sponsor's id below its recruit's, no placement.  A row's sponsor is then
 * the row (sponsor - min) and rows are parents-first, so three passes do
 * it: subtree sizes bottom-up (held in byid[]), preorder positions
 * top-down (byid[r] becomes the position of row r, and parent[] and size[]
 * are written at it), then the ids.  Until the ids are written, the id
 * array is scratch holding (position, next child position) of each row
 * side by side, so that a recruit finds both of its sponsor's in one cache
 * line.  No other memory is allocated.  Returns NULL (nothing done) for any
 * other input, and for orphans: the general path then reports them.
 */
static MlmTreeHeader *
BuildConsecutive(const MlmTreeInput *in, size_t bytes, int32 **row_to_index)
{
	int32		n = (int32) in->n;
	int64		min;
	MlmTreeHeader *hdr;
	MlmTreeView v;
	int32	   *pos;
	int32	   *scratch;
	int32	   *parent;
	int32	   *size;
	int64	   *ids;
	int32		r;
	int32		j;
	int32		k;
	int32		nroots = 0;
	int32		next_root = 0;
	MlmRowSegment one;
	const MlmRowSegment *segs = in->segs;
	int32		nsegs = in->nsegs;

	if (!in->ascending || in->has_placement || n == 0)
		return NULL;
	if (in->ids)
	{
		if ((uint64) in->ids[n - 1] - (uint64) in->ids[0] != (uint64) n - 1)
			return NULL;
		min = in->ids[0];
	}
	else
		min = in->ids_from;
	if (segs == NULL)
	{
		one.parents = in->parents;
		one.delta = NULL;
		one.parent_null = in->parent_null;
		one.len = n;
		segs = &one;
		nsegs = 1;
	}

	hdr = (MlmTreeHeader *) MemoryContextAllocHuge(CurrentMemoryContext, bytes);
	memset(hdr, 0, sizeof(MlmTreeHeader));
	SET_VARSIZE(hdr, bytes);
	hdr->version = MLM_TREE_VERSION;
	hdr->n = n;
	MlmTreeSetView(&v, hdr);
	ids = (int64 *) v.ids;
	parent = (int32 *) v.parent;
	size = (int32 *) v.size;
	pos = (int32 *) v.byid;
	scratch = (int32 *) v.ids;	/* 2 int32 per row inside ids[] */

	/*
	 * subtree sizes, bottom-up, in pos[]; an orphan or a sponsor that is not
	 * an earlier row (row 0 has none) sends the input to the general path
	 */
	for (r = 0; r < n; r++)
		pos[r] = 1;
	r = n;
	for (k = nsegs - 1; k >= 0; k--)
	{
		const MlmRowSegment *sg = &segs[k];

		for (j = sg->len - 1; j >= 0; j--)
		{
			uint64		p;

			r--;
			if (sg->parent_null[j])
				continue;
			p = SegSponsorRow(sg, j, r, min);
			if (p >= (uint64) r)
			{
				pfree(hdr);
				return NULL;
			}
			pos[p] += pos[r];
		}
		CHECK_FOR_INTERRUPTS();
	}
	/* positions top-down; a sponsor's position is final before its rows */
	r = 0;
	for (k = 0; k < nsegs; k++)
	{
		const MlmRowSegment *sg = &segs[k];

		for (j = 0; j < sg->len; j++, r++)
		{
			int32		sz = pos[r];
			int32		at;

			if (sg->parent_null[j])
			{
				at = next_root;
				next_root += sz;
				nroots++;
				parent[at] = -1;
			}
			else
			{
				int32		p = (int32) SegSponsorRow(sg, j, r, min);

				at = scratch[2 * p + 1];
				scratch[2 * p + 1] = at + sz;
				parent[at] = scratch[2 * p];
			}
			size[at] = sz;
			scratch[2 * r] = at;
			scratch[2 * r + 1] = at + 1;
			pos[r] = at;
		}
		CHECK_FOR_INTERRUPTS();
	}
	/* the scratch is done with: now the ids */
	for (r = 0; r < n; r++)
		ids[pos[r]] = min + r;
	if (n % 2 == 1)
	{
		parent[n] = 0;
		size[n] = 0;
		pos[n] = 0;
	}
	hdr->nroots = nroots;
	hdr->stamp = MlmTreeNewStamp();
	if (row_to_index)
	{
		*row_to_index = MlmAllocArray(Max(n, 1), sizeof(int32));
		memcpy(*row_to_index, pos, sizeof(int32) * n);
	}
	return hdr;
}

/*
 * Rows whose ids are exactly min .. min + n - 1 in any order (what the
 * workers of a parallel aggregate hand over for a serial key) are put in id
 * order by placing each at id - min: one pass, no sort.  False when the ids
 * are not such a set (gaps or duplicates): the general path then sorts them
 * and reports duplicates.
 */
static bool
SortConsecutive(const MlmTreeInput *in, MlmTreeInput *out)
{
	int32		n = (int32) in->n;
	int64		min = PG_INT64_MAX,
				max = PG_INT64_MIN;
	int32		r;

	for (r = 0; r < n; r++)
	{
		min = Min(min, in->ids[r]);
		max = Max(max, in->ids[r]);
	}
	if (n == 0 || (uint64) max - (uint64) min != (uint64) n - 1)
		return false;
	memset(out, 0, sizeof(MlmTreeInput));
	out->n = n;
	out->ascending = true;
	out->ids = MlmAllocArray(n, sizeof(int64));
	out->parents = MlmAllocArray(n, sizeof(int64));
	out->parent_null = MlmAllocArray(n, sizeof(bool));
	for (r = 0; r < n; r++)
		out->ids[r] = PG_INT64_MIN;
	for (r = 0; r < n; r++)
	{
		uint64		k = (uint64) in->ids[r] - (uint64) min;

		if (out->ids[k] != PG_INT64_MIN || in->ids[r] == PG_INT64_MIN)
		{
			/* a duplicate: let the general path report it */
			pfree(out->ids);
			pfree(out->parents);
			pfree(out->parent_null);
			return false;
		}
		out->ids[k] = in->ids[r];
		out->parents[k] = in->parents[r];
		out->parent_null[k] = in->parent_null[r];
	}
	return true;
}

/*
 * Build the snapshot: index the ids, resolve sponsors, compute preorder
 * positions (AscendingOrder, else BreadthFirstOrder), then lay out the
 * arrays and the placement tree.
 */
MlmTreeHeader *
MlmTreeBuild(const MlmTreeInput *in, int32 **row_to_index)
{
	int32		n;
	IdIndex		ix;
	int32	   *rows;
	int32	   *parent_row;
	int32	   *pre;
	int32	   *size;
	int32		k,
				r;
	int32		nroots = 0;
	size_t		bytes;
	MlmTreeHeader *hdr;
	MlmTreeView v;
	MlmTreeInput local;
	int64	   *own_ids = NULL;
	int64	   *own_parents = NULL;
	bool	   *own_parent_null = NULL;

	if (in->n > MLM_TREE_MAX_MEMBERS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("tree of " INT64_FORMAT " members is too large", in->n),
				 errdetail("A tree holds at most %d members so that it stays below the 1 GB value limit.",
						   MLM_TREE_MAX_MEMBERS)));
	n = (int32) in->n;
	bytes = MlmTreeBytes(n, in->has_placement);
	if (bytes == 0 || bytes > MLM_MAX_VARLENA)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("tree of %d members is too large", n)));

	if (in->segs)
	{
		int64		total = 0;

		for (k = 0; k < in->nsegs; k++)
			total += in->segs[k].len;
		if (total != in->n || !in->ascending || in->ids || in->has_placement)
			elog(ERROR, "invalid segmented tree input");
	}
	hdr = BuildConsecutive(in, bytes, row_to_index);
	if (hdr)
		return hdr;
	if (in->segs)
	{
		/* segments the fast path did not take: one array of each */
		int64		at = 0;

		local = *in;
		local.segs = NULL;
		local.nsegs = 0;
		local.parents = own_parents = MlmAllocArray(Max(n, 1), sizeof(int64));
		local.parent_null = own_parent_null = MlmAllocArray(Max(n, 1), sizeof(bool));
		for (k = 0; k < in->nsegs; k++)
		{
			const MlmRowSegment *sg = &in->segs[k];

			if (sg->delta)
			{
				for (r = 0; r < sg->len; r++)
					own_parents[at + r] = (int64) ((uint64) in->ids_from +
												   (uint64) (at + r) -
												   (uint64) (int64) sg->delta[r]);
			}
			else
				memcpy(own_parents + at, sg->parents, sg->len * sizeof(int64));
			memcpy(own_parent_null + at, sg->parent_null, sg->len * sizeof(bool));
			at += sg->len;
		}
		in = &local;
	}
	if (in->ids == NULL)
	{
		/* implicit ids (ids_from + row) that the fast path did not take */
		if (in != &local)
			local = *in;
		local.ids = own_ids = MlmAllocArray(Max(n, 1), sizeof(int64));
		for (r = 0; r < n; r++)
			own_ids[r] = (int64) ((uint64) in->ids_from + (uint64) r);
		in = &local;
	}
	if (!in->ascending && !in->has_placement && row_to_index == NULL)
	{
		/* consecutive ids out of order (a parallel scan): put them in order */
		MlmTreeInput sorted;

		if (SortConsecutive(in, &sorted))
		{
			hdr = BuildConsecutive(&sorted, bytes, NULL);
			pfree(sorted.ids);
			pfree(sorted.parents);
			pfree(sorted.parent_null);
			if (hdr)
				return hdr;
		}
	}

	IndexIds(in, &ix);
	rows = ix.rows;
	parent_row = ResolveParents(in, &ix, in->parents, in->parent_null,
								"sponsor_id");

	pre = MlmAllocArray(Max(n, 1), sizeof(int32));
	size = MlmAllocArray(Max(n, 1), sizeof(int32));
	if (!AscendingOrder(in, &ix, parent_row, pre, size, &nroots))
		BreadthFirstOrder(in, rows, parent_row, pre, size, &nroots);

	hdr = (MlmTreeHeader *) MemoryContextAllocHuge(CurrentMemoryContext, bytes);
	memset(hdr, 0, sizeof(MlmTreeHeader));
	SET_VARSIZE(hdr, bytes);
	hdr->version = MLM_TREE_VERSION;
	hdr->flags = in->has_placement ? MLM_TREE_HAS_PLACEMENT : 0;
	hdr->n = n;
	hdr->nroots = nroots;
	MlmTreeSetView(&v, hdr);
	/* every array is written below; zero the 4-byte padding after odd ones */
	if (n % 2 == 1)
	{
		((int32 *) v.parent)[n] = 0;
		((int32 *) v.size)[n] = 0;
		((int32 *) v.byid)[n] = 0;
		if (in->has_placement)
		{
			((int32 *) v.pparent)[n] = 0;
			((int32 *) v.ppos)[n] = 0;
		}
	}

	for (r = 0; r < n; r++)
	{
		int32		at = pre[r];

		((int64 *) v.ids)[at] = in->ids[r];
		((int32 *) v.parent)[at] = parent_row[r] >= 0 ? pre[parent_row[r]] : -1;
		((int32 *) v.size)[at] = size[r];
		if ((r & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	for (k = 0; k < n; k++)
		((int32 *) v.byid)[k] = pre[rows[k]];	/* = pre[k] in id-order input */
	pfree(size);
	pfree(parent_row);

	if (in->has_placement)
		BuildPlacement(in, &ix, pre, (int32 *) v.pparent, (int32 *) v.ppos);
	FreeIndex(&ix);

	hdr->stamp = MlmTreeNewStamp();
	if (row_to_index)
		*row_to_index = pre;
	else
		pfree(pre);
	if (own_ids)
		pfree(own_ids);
	if (own_parents)
	{
		pfree(own_parents);
		pfree(own_parent_null);
	}
	return hdr;
}
