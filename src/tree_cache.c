/*
 * tree_cache.c
 *	  Decode an mlm.tree argument once per call site and keep it in
 *	  fn_extra, so that a per-row query over a stored snapshot reads and
 *	  detoasts it once, not once per row.
 *
 * The key is the TOAST pointer when the value is stored out of line (same
 * pointer = same immutable value); otherwise the member count, length and
 * 64-bit content hash from the header, and the bytes themselves for values
 * up to 64 kB.  Lookups start as binary searches over the id
 * index; when a call site proves busy, a hash table and a depth array are
 * built once so each later call costs O(1).
 */
#include "postgres.h"

#include "access/detoast.h"
#include "utils/memutils.h"

#include "mlm.h"
#include "tree.h"

/* in-memory values up to this size are compared bytewise, not by hash */
#define MLM_CACHE_MEMCMP_LIMIT 65536

/* lookups after which a call site builds its hash table / depth array */
#define MLM_HOT_LOOKUPS 64


/* Binary search of the byid index; -1 when absent. */
int32
MlmTreeViewFind(const MlmTreeView *v, int64 id)
{
	int32		lo = 0,
				hi = v->n - 1;

	while (lo <= hi)
	{
		int32		mid = lo + (hi - lo) / 2;
		int64		cur = v->ids[v->byid[mid]];

		if (cur == id)
			return v->byid[mid];
		if (cur < id)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

static void
BuildHash(MlmTree *t)
{
	uint64		size = 16;
	int32		i;
	MemoryContext old = MemoryContextSwitchTo(t->cxt);

	while (size < (uint64) t->v.n * 2)
		size <<= 1;
	t->hash = MlmAllocArray(size, sizeof(int32));
	memset(t->hash, 0xFF, size * sizeof(int32));
	t->hash_mask = size - 1;
	for (i = 0; i < t->v.n; i++)
	{
		uint64		h = MlmMix64((uint64) t->v.ids[i]) & t->hash_mask;

		while (t->hash[h] != -1)
			h = (h + 1) & t->hash_mask;
		t->hash[h] = i;
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	MemoryContextSwitchTo(old);
}

int32
MlmTreeFind(MlmTree *t, int64 id)
{
	if (t->hash == NULL && ++t->lookups > MLM_HOT_LOOKUPS && t->v.n > 256)
		BuildHash(t);
	if (t->hash)
	{
		uint64		h = MlmMix64((uint64) id) & t->hash_mask;
		int32		i;

		while ((i = t->hash[h]) != -1)
		{
			if (t->v.ids[i] == id)
				return i;
			h = (h + 1) & t->hash_mask;
		}
		return -1;
	}
	return MlmTreeViewFind(&t->v, id);
}

void
MlmTreeEnsureDepth(MlmTree *t)
{
	int32		i;
	MemoryContext old;

	if (t->depth)
		return;
	old = MemoryContextSwitchTo(t->cxt);
	t->depth = MlmAllocArray(Max(t->v.n, 1), sizeof(int32));
	MemoryContextSwitchTo(old);
	for (i = 0; i < t->v.n; i++)
		t->depth[i] = t->v.parent[i] < 0 ? 0 : t->depth[t->v.parent[i]] + 1;
}

int32
MlmTreeDepth(MlmTree *t, int32 i)
{
	int32		d = 0;

	if (t->depth == NULL && t->lookups > MLM_HOT_LOOKUPS)
		MlmTreeEnsureDepth(t);
	if (t->depth)
		return t->depth[i];
	while (t->v.parent[i] >= 0)
	{
		i = t->v.parent[i];
		d++;
		if ((d & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	return d;
}

void
MlmTreeEnsureChildren(MlmTree *t)
{
	int32		n = t->v.n;
	int32		i;
	int32	   *fill;
	MemoryContext old;

	if (t->child_start)
		return;
	old = MemoryContextSwitchTo(t->cxt);
	t->child_start = MlmAllocArrayZero((Size) n + 1, sizeof(int32));
	t->child_list = MlmAllocArray(Max(n, 1), sizeof(int32));
	MemoryContextSwitchTo(old);
	for (i = 0; i < n; i++)
		if (t->v.parent[i] >= 0)
			t->child_start[t->v.parent[i] + 1]++;
	for (i = 0; i < n; i++)
		t->child_start[i + 1] += t->child_start[i];
	fill = MlmAllocArray((Size) n + 1, sizeof(int32));
	memcpy(fill, t->child_start, sizeof(int32) * ((Size) n + 1));
	/* preorder makes each child list ascending by index */
	for (i = 0; i < n; i++)
		if (t->v.parent[i] >= 0)
			t->child_list[fill[t->v.parent[i]]++] = i;
	pfree(fill);
}

/* Is the cached entry the same value as this raw datum? */
static bool
KeyMatches(MlmTree *t, struct varlena *raw, MlmTreeHeader *hdr_if_inline)
{
	if (VARATT_IS_EXTERNAL_ONDISK(raw))
		return t->key_external &&
			t->key_toast_len == (int) VARSIZE_EXTERNAL(raw) &&
			memcmp(t->key_toast, raw, t->key_toast_len) == 0;
	if (t->key_external || hdr_if_inline == NULL)
		return false;
	if (t->key_checksum != hdr_if_inline->checksum ||
		t->key_n != hdr_if_inline->n ||
		t->key_len != VARSIZE(hdr_if_inline))
		return false;
	/* small values are cheap to compare whole: no reliance on the hash */
	if (t->key_len <= MLM_CACHE_MEMCMP_LIMIT)
		return memcmp(t->hdr, hdr_if_inline, t->key_len) == 0;
	return true;
}

MlmTree *
MlmTreeFromArg(FunctionCallInfo fcinfo, int argno)
{
	MemoryContext fn_mcxt = fcinfo->flinfo->fn_mcxt;
	MlmTree    *t = (MlmTree *) fcinfo->flinfo->fn_extra;
	struct varlena *raw = (struct varlena *) PG_GETARG_POINTER(argno);
	MlmTreeHeader *inline_hdr = NULL;
	MemoryContext old;

	/* a plain in-memory value: cheap to look at its header */
	if (!VARATT_IS_EXTERNAL_ONDISK(raw))
		inline_hdr = (MlmTreeHeader *) PG_DETOAST_DATUM(PointerGetDatum(raw));

	if (t && KeyMatches(t, raw, inline_hdr))
		return t;

	if (t == NULL)
	{
		t = MemoryContextAllocZero(fn_mcxt, sizeof(MlmTree));
		t->cxt = AllocSetContextCreate(fn_mcxt, "mlm tree cache",
									   ALLOCSET_DEFAULT_SIZES);
		fcinfo->flinfo->fn_extra = t;
	}
	else
	{
		MemoryContext cxt = t->cxt;

		MemoryContextReset(cxt);
		memset(t, 0, sizeof(MlmTree));
		t->cxt = cxt;
	}

	old = MemoryContextSwitchTo(t->cxt);
	if (VARATT_IS_EXTERNAL_ONDISK(raw))
	{
		t->key_external = true;
		t->key_toast_len = (int) VARSIZE_EXTERNAL(raw);
		Assert(t->key_toast_len <= (int) sizeof(t->key_toast));
		memcpy(t->key_toast, raw, t->key_toast_len);
		t->hdr = (MlmTreeHeader *) detoast_attr(raw);
	}
	else
	{
		Size		len = VARSIZE(inline_hdr);

		t->hdr = (MlmTreeHeader *) MemoryContextAllocHuge(t->cxt, len);
		memcpy(t->hdr, inline_hdr, len);
	}
	MemoryContextSwitchTo(old);

	t->key_checksum = t->hdr->checksum;
	t->key_n = t->hdr->n;
	t->key_len = VARSIZE(t->hdr);
	MlmTreeSetView(&t->v, t->hdr);
	return t;
}
