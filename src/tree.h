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

#include "tree_core.h"

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
	/* id -> preorder index: a direct table for dense ids, else hashing */
	int32	   *direct;
	int64		direct_min;
	uint64		direct_range;
	struct MlmIdSlot *slots;
	uint64		slot_mask;
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

/* A fresh random identity for a new tree value. */
extern uint64 MlmTreeNewStamp(void);

/* Uncached one-shot view of a detoasted snapshot. */
extern int32 MlmTreeViewFind(const MlmTreeView *v, int64 id);

#endif
