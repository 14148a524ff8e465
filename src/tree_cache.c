/*
 * tree_cache.c
 *	  Decode an mlm.tree argument once and keep it, so that per-row calls
 *	  and repeated one-shot queries over a stored snapshot do not detoast
 *	  and re-index it each time.
 *
 * Two levels:
 *	- per call site (fn_extra): the tree of the last call; a stored value
 *	  is recognised by its TOAST pointer (same pointer = same immutable
 *	  value), an in-memory value by its stamp (a random identity given to
 *	  every value this extension makes), length and member count;
 *	- per backend: stored values, keyed by (toast relation, value id) and
 *	  checked against the header slice of the value (stamp, length, member
 *	  count) before reuse, kept in LRU order up to
 *	  mlm.snapshot_cache_size.  A call site pins the tree it uses; the pin is
 *	  dropped by a reset callback on the call site's memory context, so an
 *	  entry is never freed while a query still points at it.
 *
 * Lookups start as binary searches over the id index; once a tree proves
 * busy it gets an id map (idmap.h: a direct table for dense ids, else a
 * hash table) and a depth array, so each call is O(1).
 */
#include "postgres.h"

#include <limits.h>

#include "access/detoast.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "mlm.h"
#include "tree.h"

/* lookups after which a tree builds its id index and depth array */
#define MLM_HOT_LOOKUPS 64

/*
 * What fn_extra holds: the tree in use and the callback that unpins it,
 * and how many slices this call site has read of a stored value it has
 * not decoded (tree_slice.c).
 */
typedef struct MlmTreeRef
{
	MlmTree    *tree;
	MemoryContextCallback cb;
	char		slice_key[32];	/* TOAST pointer of the value read in slices */
	int			slice_key_len;
	int64		slice_fetches;
} MlmTreeRef;

static int	snapshot_cache_kb = 65536;
static MemoryContext cache_cxt = NULL;
static dlist_head cache_list = DLIST_STATIC_INIT(cache_list);
static uint64 use_clock = 0;

/* Register the mlm.snapshot_cache_size setting (from _PG_init). */
void
MlmTreeCacheInit(void)
{
	DefineCustomIntVariable("mlm.snapshot_cache_size",
							"Memory per backend for decoded mlm.tree values kept across queries.",
							"Stored snapshots used by one query are reused by the next ones "
							"without reading them again; 0 disables the cache.",
							&snapshot_cache_kb,
							65536, 0, INT_MAX / 2,
							PGC_USERSET, GUC_UNIT_KB,
							NULL, NULL, NULL);
}

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

/*
 * Build the O(1) id index (idmap.h: a direct table when the ids are dense,
 * else a hash table), in the tree's own memory context.
 */
static void
BuildIdIndex(MlmTree *t)
{
	MemoryContext old = MemoryContextSwitchTo(t->cxt);

	MlmIdMapBuild(&t->index, t->v.ids, t->v.n, false);
	t->indexed = true;
	MemoryContextSwitchTo(old);
}

/* Preorder index of a member id: binary search until the tree is busy. */
int32
MlmTreeFind(MlmTree *t, int64 id)
{
	if (!t->indexed)
	{
		if (++t->lookups <= MLM_HOT_LOOKUPS || t->v.n <= 256)
			return MlmTreeViewFind(&t->v, id);
		BuildIdIndex(t);
	}
	return MlmIdMapFind(&t->index, id);
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

/* A new tree holding a copy of (or the detoasted) value, in its own context. */
static MlmTree *
NewTree(struct varlena *raw, MlmTreeHeader *inline_hdr)
{
	MemoryContext cxt;
	MemoryContext old;
	MlmTree    *t;

	if (cache_cxt == NULL)
		cache_cxt = AllocSetContextCreate(TopMemoryContext, "mlm tree cache",
										  ALLOCSET_DEFAULT_SIZES);
	cxt = AllocSetContextCreate(cache_cxt, "mlm tree", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	t = palloc0(sizeof(MlmTree));
	t->cxt = cxt;
	if (inline_hdr == NULL)
	{
		struct varatt_external ext;

		t->key_external = true;
		t->key_toast_len = (int) VARSIZE_EXTERNAL(raw);
		Assert(t->key_toast_len <= (int) sizeof(t->key_toast));
		memcpy(t->key_toast, raw, t->key_toast_len);
		VARATT_EXTERNAL_GET_POINTER(ext, raw);
		t->toastrelid = ext.va_toastrelid;
		t->valueid = ext.va_valueid;
		t->hdr = (MlmTreeHeader *) detoast_attr(raw);
	}
	else
	{
		t->hdr = (MlmTreeHeader *) MemoryContextAllocHuge(cxt, VARSIZE(inline_hdr));
		memcpy(t->hdr, inline_hdr, VARSIZE(inline_hdr));
	}
	MemoryContextSwitchTo(old);
	t->key_stamp = t->hdr->stamp;
	t->key_n = t->hdr->n;
	t->key_len = VARSIZE(t->hdr);
	MlmTreeSetView(&t->v, t->hdr);
	return t;
}

/* Drop one pin; free a tree nobody uses that is not in the cache. */
static void
Unpin(MlmTree *t)
{
	if (t == NULL)
		return;
	Assert(t->refcount > 0);
	if (--t->refcount == 0 && !t->cached)
		MemoryContextDelete(t->cxt);
}

static void
ReleaseRef(void *arg)
{
	MlmTreeRef *ref = (MlmTreeRef *) arg;

	Unpin(ref->tree);
	ref->tree = NULL;
}

static void
UseTree(MlmTreeRef *ref, MlmTree *t)
{
	if (ref->tree == t)
		return;
	t->refcount++;
	Unpin(ref->tree);
	ref->tree = t;
}

static void
Uncache(MlmTree *t)
{
	dlist_delete(&t->node);
	t->cached = false;
	if (t->refcount == 0)
		MemoryContextDelete(t->cxt);
}

/* Evict least recently used, unpinned entries until the cache fits. */
static void
TrimCache(void)
{
	Size		limit = (Size) snapshot_cache_kb * 1024;

	for (;;)
	{
		Size		total = 0;
		MlmTree    *victim = NULL;
		dlist_iter	it;

		dlist_foreach(it, &cache_list)
		{
			MlmTree    *e = dlist_container(MlmTree, node, it.cur);

			total += MemoryContextMemAllocated(e->cxt, true);
			if (e->refcount == 0 && (victim == NULL || e->last_use < victim->last_use))
				victim = e;
		}
		if (total <= limit || victim == NULL)
			return;
		Uncache(victim);
	}
}

/*
 * A stored value from the backend cache, if one is there and its header
 * slice (length, member count, stamp) still matches: the value id
 * identifies an immutable value, and the check guards against a value id
 * reused after the old value was vacuumed away.
 */
static MlmTree *
CacheLookup(struct varlena *raw)
{
	struct varatt_external ext;
	dlist_iter	it;

	VARATT_EXTERNAL_GET_POINTER(ext, raw);
	dlist_foreach(it, &cache_list)
	{
		MlmTree    *e = dlist_container(MlmTree, node, it.cur);
		MlmTreeHeader *h;

		if (e->valueid != ext.va_valueid || e->toastrelid != ext.va_toastrelid)
			continue;
		h = (MlmTreeHeader *) detoast_attr_slice(raw, 0, sizeof(MlmTreeHeader));
		if (VARSIZE_ANY(h) >= sizeof(MlmTreeHeader) &&
			(Size) VARATT_EXTERNAL_GET_EXTSIZE(ext) + VARHDRSZ == e->key_len &&
			h->n == e->key_n && h->stamp == e->key_stamp)
		{
			pfree(h);
			return e;
		}
		pfree(h);
		Uncache(e);				/* stale: the value id was reused */
		return NULL;
	}
	return NULL;
}

/* Is the call site's tree the value of this in-memory datum? */
static bool
InlineMatches(MlmTreeRef *ref, MlmTreeHeader *hdr)
{
	MlmTree    *t = ref->tree;

	return t != NULL && !t->key_external &&
		t->key_stamp == hdr->stamp && t->key_n == hdr->n &&
		t->key_len == VARSIZE(hdr);
}

/* The call site's reference, made on first use. */
static MlmTreeRef *
GetRef(FunctionCallInfo fcinfo)
{
	MlmTreeRef *ref = (MlmTreeRef *) fcinfo->flinfo->fn_extra;

	if (ref == NULL)
	{
		ref = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(MlmTreeRef));
		ref->cb.func = ReleaseRef;
		ref->cb.arg = ref;
		MemoryContextRegisterResetCallback(fcinfo->flinfo->fn_mcxt, &ref->cb);
		fcinfo->flinfo->fn_extra = ref;
	}
	return ref;
}

/* Is the call site's tree the stored value behind this TOAST pointer? */
static bool
ExternalMatches(MlmTreeRef *ref, struct varlena *raw)
{
	MlmTree    *t = ref->tree;

	return t && t->key_external && t->key_toast_len == (int) VARSIZE_EXTERNAL(raw) &&
		memcmp(t->key_toast, raw, t->key_toast_len) == 0;
}

/* Take a tree from the backend cache for this call site. */
static MlmTree *
UseCached(MlmTreeRef *ref, MlmTree *t)
{
	t->last_use = ++use_clock;
	UseTree(ref, t);
	TrimCache();
	return t;
}

/*
 * The decoded tree of a stored value when this call site or the backend
 * cache holds it (taken for the call site), else NULL.
 */
static MlmTree *
HeldExternal(MlmTreeRef *ref, struct varlena *raw)
{
	MlmTree    *t;

	if (ExternalMatches(ref, raw))
		return ref->tree;
	t = snapshot_cache_kb > 0 ? CacheLookup(raw) : NULL;
	return t ? UseCached(ref, t) : NULL;
}

MlmTree *
MlmTreeFromArg(FunctionCallInfo fcinfo, int argno)
{
	MlmTreeRef *ref = GetRef(fcinfo);
	struct varlena *raw = (struct varlena *) PG_GETARG_POINTER(argno);
	MlmTree    *t;

	if (VARATT_IS_EXTERNAL_ONDISK(raw))
	{
		t = HeldExternal(ref, raw);
		if (t)
			return t;
		t = NewTree(raw, NULL);
		if (snapshot_cache_kb > 0 &&
			(Size) VARSIZE(t->hdr) <= (Size) snapshot_cache_kb * 1024)
		{
			t->cached = true;
			dlist_push_head(&cache_list, &t->node);
			return UseCached(ref, t);
		}
		UseTree(ref, t);
		return t;
	}
	else
	{
		MlmTreeHeader *hdr = (MlmTreeHeader *) PG_DETOAST_DATUM(PointerGetDatum(raw));

		if (InlineMatches(ref, hdr))
			return ref->tree;
		t = NewTree(raw, hdr);
		UseTree(ref, t);
		return t;
	}
}

/*
 * Slices read per stored value in this backend, for the few values read
 * that way most recently: with the backend cache on, one-shot calls of
 * many queries add up here until the value is worth decoding and caching.
 */
#define SLICE_LEDGER_SIZE 8

typedef struct SliceLedgerEntry
{
	Oid			toastrelid;
	Oid			valueid;
	int64		fetches;
	uint64		last_use;
} SliceLedgerEntry;

static SliceLedgerEntry slice_ledger[SLICE_LEDGER_SIZE];

/* The backend-wide slice count of a stored value (an entry is recycled LRU). */
static int64 *
SliceLedger(struct varlena *raw)
{
	struct varatt_external ext;
	SliceLedgerEntry *victim = &slice_ledger[0];
	int			k;

	VARATT_EXTERNAL_GET_POINTER(ext, raw);
	for (k = 0; k < SLICE_LEDGER_SIZE; k++)
	{
		SliceLedgerEntry *e = &slice_ledger[k];

		if (e->last_use > 0 && e->toastrelid == ext.va_toastrelid &&
			e->valueid == ext.va_valueid)
		{
			e->last_use = ++use_clock;
			return &e->fetches;
		}
		if (e->last_use < victim->last_use)
			victim = e;
	}
	victim->toastrelid = ext.va_toastrelid;
	victim->valueid = ext.va_valueid;
	victim->fetches = 0;
	victim->last_use = ++use_clock;
	return &victim->fetches;
}

MlmTree *
MlmTreeIfDecoded(FunctionCallInfo fcinfo, int argno, int64 **fetches)
{
	MlmTreeRef *ref = GetRef(fcinfo);
	struct varlena *raw = (struct varlena *) PG_GETARG_POINTER(argno);
	MlmTree    *t;

	if (!VARATT_IS_EXTERNAL_ONDISK(raw))
		return MlmTreeFromArg(fcinfo, argno);
	t = HeldExternal(ref, raw);
	if (t)
		return t;
	if (snapshot_cache_kb > 0 &&
		(Size) toast_raw_datum_size(PointerGetDatum(raw)) <= (Size) snapshot_cache_kb * 1024)
	{
		/* count across queries, so that a busy session ends up caching it */
		*fetches = SliceLedger(raw);
		return NULL;
	}
	if (ref->slice_key_len != (int) VARSIZE_EXTERNAL(raw) ||
		memcmp(ref->slice_key, raw, ref->slice_key_len) != 0)
	{
		ref->slice_key_len = (int) VARSIZE_EXTERNAL(raw);
		Assert(ref->slice_key_len <= (int) sizeof(ref->slice_key));
		memcpy(ref->slice_key, raw, ref->slice_key_len);
		ref->slice_fetches = 0;
	}
	*fetches = &ref->slice_fetches;
	return NULL;
}
