/*
 * tree_core.h
 *	  On-disk layout of an mlm.tree snapshot and its plain-C codec.
 *
 * This header and tree_core.c have no backend dependency when compiled with
 * MLM_FRONTEND, so the decoder/validator can be fuzzed directly.
 *
 * Layout (all integers native-endian, arrays 8-byte aligned):
 *
 *	MlmTreeHeader	 24 bytes
 *	int64 ids[n]	 member ids in sponsor-tree preorder (roots by id,
 *					 children by id)
 *	int32 parent[n]	 preorder index of the sponsor, -1 for a root;
 *					 always parent[i] < i
 *	int32 size[n]	 subtree size: subtree(i) = [i, i + size[i])
 *	int32 byid[n]	 preorder indexes sorted by id (binary search)
 *	if MLM_TREE_HAS_PLACEMENT:
 *	int32 pparent[n] preorder index of the placement parent, -1 if none
 *	int32 ppos[n]	 position under pparent, -1 if none
 *
 * 20 bytes per member for the sponsor structure, 28 with placement.
 */
#ifndef MLM_TREE_CORE_H
#define MLM_TREE_CORE_H

#ifdef MLM_FRONTEND
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
typedef int32_t int32;
typedef int64_t int64;
typedef uint8_t uint8;
typedef uint16_t uint16;
typedef uint32_t uint32;
typedef uint64_t uint64;
#define MLM_CHECK_INTERRUPTS() ((void) 0)
#else
#include "postgres.h"
#include "miscadmin.h"
#define MLM_CHECK_INTERRUPTS() CHECK_FOR_INTERRUPTS()
#endif

#define MLM_TREE_VERSION		1
#define MLM_TREE_HAS_PLACEMENT	0x01

/* Largest member count: keeps every datum below the 1 GB varlena limit. */
#define MLM_TREE_MAX_MEMBERS	((int32) 30000000)
#define MLM_MAX_VARLENA			((size_t) 0x3FFFFFFF)

typedef struct MlmTreeHeader
{
	int32		vl_len_;		/* varlena header (do not touch directly) */
	uint8		version;		/* MLM_TREE_VERSION */
	uint8		flags;			/* MLM_TREE_HAS_* */
	uint16		reserved;		/* zero */
	int32		n;				/* number of members */
	int32		nroots;			/* number of sponsor roots */
	uint64		stamp;			/* random identity of this value, set whenever
								 * a value is made (build, input, recv): the
								 * cache key; cannot be forged through SQL */
} MlmTreeHeader;

/* Pointers into a flat snapshot; nothing is owned. */
typedef struct MlmTreeView
{
	int32		n;
	int32		nroots;
	uint8		flags;
	const int64 *ids;
	const int32 *parent;
	const int32 *size;
	const int32 *byid;
	const int32 *pparent;		/* NULL without placement */
	const int32 *ppos;
} MlmTreeView;

/* Problems the codec and builder can report. */
typedef enum MlmTreeProblem
{
	MLM_TREE_OK = 0,
	MLM_TREE_BAD_HEADER,		/* version, flags, reserved, count */
	MLM_TREE_BAD_LENGTH,		/* byte count does not match n */
	MLM_TREE_BAD_PARENT,		/* parent index out of range / not before */
	MLM_TREE_BAD_ORDER,			/* not a preorder, wrong sizes */
	MLM_TREE_BAD_INDEX,			/* byid not a sorted permutation */
	MLM_TREE_DUPLICATE_ID,
	MLM_TREE_BAD_PLACEMENT,		/* placement index/position invalid */
	MLM_TREE_PLACEMENT_CYCLE,
	MLM_TREE_PLACEMENT_SLOT		/* two members in one slot */
} MlmTreeProblem;

/* A 64-bit finalizer (murmur3's): every input bit affects every output
 * bit.  Used by every id hash table. */
static inline uint64
MlmMix64(uint64 x)
{
	x ^= x >> 33;
	x *= UINT64_C(0xff51afd7ed558ccd);
	x ^= x >> 33;
	x *= UINT64_C(0xc4ceb34fe1a85ec3);
	x ^= x >> 33;
	return x;
}

extern size_t MlmTreeBytes(int32 n, bool placement);
extern void MlmTreeSetView(MlmTreeView *v, const MlmTreeHeader *h);

/* Byte offsets of the arrays from the start of a value (header included). */
typedef struct MlmTreeOffsets
{
	size_t		ids;
	size_t		parent;
	size_t		size;
	size_t		byid;
	size_t		pparent;		/* 0 without placement */
	size_t		ppos;
} MlmTreeOffsets;
extern void MlmTreeGetOffsets(int32 n, bool placement, MlmTreeOffsets *o);
extern MlmTreeProblem MlmTreeValidate(const void *data, size_t len,
									  int32 *bad_index);
extern bool MlmSortPairs(uint64 *keys, int32 *vals, int32 n);

/* order-preserving map of a signed id to an unsigned sort key */
#define MLM_ID_KEY(id) ((uint64) (id) ^ (UINT64_C(1) << 63))
extern const char *MlmTreeProblemText(MlmTreeProblem p);

#endif
