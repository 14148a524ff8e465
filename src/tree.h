/*
 * tree.h
 *	  Backend side of the mlm.tree type: building a snapshot from (id,
 *	  parent) rows, and a per-call-site cache of the decoded snapshot.
 */
#ifndef MLM_TREE_H
#define MLM_TREE_H

#include "postgres.h"
#include "fmgr.h"
#include "lib/ilist.h"

#include "idmap.h"
#include "tree_core.h"

/* Consecutive rows of an input held in one place (see MlmTreeInput.segs). */
typedef struct MlmRowSegment
{
	const int64 *parents;		/* sponsor ids, or NULL and then ... */
	const int32 *delta;			/* ... recruit id - sponsor id */
	const bool *parent_null;
	int32		len;
} MlmRowSegment;

/* Rows to build a snapshot from (arrays of n entries, owned by caller). */
typedef struct MlmTreeInput
{
	int64		n;
	bool		ascending;		/* ids strictly increase in row order (a
								 * hint that saves the sort; set only when
								 * true) */
	int64	   *ids;			/* NULL: row r has id ids_from + r */
	int64		ids_from;
	int64	   *parents;		/* sponsor id, valid when !parent_null */
	bool	   *parent_null;
	/*
	 * Instead of parents/parent_null: the rows in id order as segments (ids
	 * implicit from ids_from, no placement), so that partial aggregate
	 * states need not be copied into one array.
	 */
	const MlmRowSegment *segs;
	int32		nsegs;
	bool		has_placement;
	int64	   *pparents;		/* placement parent id */
	bool	   *pparent_null;
	int32	   *pos;			/* position, valid when !pos_null */
	bool	   *pos_null;
} MlmTreeInput;

/*
 * Build a validated snapshot (palloc'd varlena).  Raises the errors of spec
 * section 2 naming the member ids.  When row_to_index is not NULL it
 * receives, per input row, the preorder index of that member.
 */
extern MlmTreeHeader *MlmTreeBuild(const MlmTreeInput *in, int32 **row_to_index);

#define DatumGetMlmTreeP(X) ((MlmTreeHeader *) PG_DETOAST_DATUM(X))

/*
 * A decoded snapshot with lazily built lookup structures.  Call sites hold
 * it through fn_extra; stored (out-of-line) values are also kept in a
 * backend-wide cache across queries, bounded by mlm.snapshot_cache_size.
 */
typedef struct MlmTree
{
	MemoryContext cxt;			/* owns the value and the derived arrays */
	/* identity */
	bool		key_external;
	char		key_toast[32];	/* the TOAST pointer of a stored value */
	int			key_toast_len;
	Oid			toastrelid;
	Oid			valueid;
	uint64		key_stamp;
	int32		key_n;
	Size		key_len;
	/* value */
	MlmTreeHeader *hdr;
	MlmTreeView v;
	int64		lookups;		/* id lookups served, to decide on an index */
	/* id -> preorder index, built once lookups are frequent */
	bool		indexed;
	MlmIdMap	index;
	int32	   *depth;			/* depth per preorder index, lazily */
	int32	   *child_start;	/* CSR of children, lazily (n + 1) */
	int32	   *child_list;
	/* sharing */
	int			refcount;		/* call sites using it */
	bool		cached;			/* in the backend cache */
	uint64		last_use;
	dlist_node	node;
} MlmTree;

extern void MlmTreeCacheInit(void);

/* The tree of argument argno, decoded once per call site and datum. */
extern MlmTree *MlmTreeFromArg(FunctionCallInfo fcinfo, int argno);
/* Preorder index of a member id, -1 when absent. */
extern int32 MlmTreeFind(MlmTree *t, int64 id);
/* Depth of a preorder index (edges to the root). */
extern int32 MlmTreeDepth(MlmTree *t, int32 i);
/* Make the depth array / children CSR available. */
extern void MlmTreeEnsureDepth(MlmTree *t);
extern void MlmTreeEnsureChildren(MlmTree *t);

/*
 * The decoded tree of argument argno when this call site or the backend
 * cache holds it; NULL for a stored value held by neither, with *fetches
 * pointing at the call site's count of slices read of it (tree_slice.c).
 */
extern MlmTree *MlmTreeIfDecoded(FunctionCallInfo fcinfo, int argno, int64 **fetches);

/*
 * Access to a tree argument for calls that touch a few members (one
 * upline, one lookup): a stored value that is not decoded yet is read in
 * TOAST-chunk slices; once the slices read at a call site add up, the
 * value is decoded (MlmTreeFromArg) and t is set.  The accessors below
 * work either way.
 */
#define MLM_SLICE_CACHE 16

typedef struct MlmTreeAccess
{
	MlmTree    *t;				/* decoded tree; NULL while reading slices */
	FunctionCallInfo fcinfo;
	int			argno;
	struct varlena *raw;		/* the TOAST pointer */
	Size		raw_size;		/* bytes of the value's data */
	int64	   *fetches;		/* slices read at this call site */
	int64		budget;			/* ... before the value is decoded */
	int32		n;
	Size		off_ids;		/* data offsets of the arrays */
	Size		off_parent;
	Size		off_size;
	Size		off_byid;
	bool		range_known;	/* min_id, max_id, dense set */
	bool		dense;			/* ids are exactly min_id .. max_id */
	int64		min_id;
	int64		max_id;
	int64		blk_no[MLM_SLICE_CACHE];	/* -1: empty */
	uint64		blk_used[MLM_SLICE_CACHE];
	struct varlena *blk[MLM_SLICE_CACHE];
	uint64		clock;
} MlmTreeAccess;

extern void MlmTreeAccessBegin(MlmTreeAccess *a, FunctionCallInfo fcinfo, int argno);
extern void MlmSliceEnd(MlmTreeAccess *a);
extern int32 MlmSliceFind(MlmTreeAccess *a, int64 id);
extern int64 MlmSliceId(MlmTreeAccess *a, int32 i);
extern int32 MlmSliceParent(MlmTreeAccess *a, int32 i);
extern int32 MlmSliceSize(MlmTreeAccess *a, int32 i);
extern int32 MlmSliceDepth(MlmTreeAccess *a, int32 i);

/* Free the blocks read (nothing to do for a decoded tree). */
static inline void
MlmTreeAccessEnd(MlmTreeAccess *a)
{
	if (a->raw)
		MlmSliceEnd(a);
}

static inline int32
MlmAccDepth(MlmTreeAccess *a, int32 i)
{
	return a->t ? MlmTreeDepth(a->t, i) : MlmSliceDepth(a, i);
}

static inline int32
MlmAccN(MlmTreeAccess *a)
{
	return a->t ? a->t->v.n : a->n;
}

static inline int32
MlmAccFind(MlmTreeAccess *a, int64 id)
{
	return a->t ? MlmTreeFind(a->t, id) : MlmSliceFind(a, id);
}

static inline int64
MlmAccId(MlmTreeAccess *a, int32 i)
{
	return a->t ? a->t->v.ids[i] : MlmSliceId(a, i);
}

static inline int32
MlmAccParent(MlmTreeAccess *a, int32 i)
{
	return a->t ? a->t->v.parent[i] : MlmSliceParent(a, i);
}

static inline int32
MlmAccSize(MlmTreeAccess *a, int32 i)
{
	return a->t ? a->t->v.size[i] : MlmSliceSize(a, i);
}

/* A fresh random identity for a new tree value. */
extern uint64 MlmTreeNewStamp(void);

/* Uncached one-shot view of a detoasted snapshot. */
extern int32 MlmTreeViewFind(const MlmTreeView *v, int64 id);

#endif
