/*
 * tree_core.c
 *	  Plain-C codec for the mlm.tree snapshot layout: size computation and
 *	  a validator for untrusted bytes (binary recv, fuzzing).
 *
 * Everything here is iterative and linear (or n log n) in the member count,
 * so a 1,000,000-deep chain is no different from a flat tree.
 */
#include "tree_core.h"

#ifdef MLM_FRONTEND
#include <stdlib.h>
#include <string.h>
#define MLM_CORE_ALLOC(sz) malloc(sz)
#define MLM_CORE_FREE(p) free(p)
#else
#include "utils/memutils.h"
#define MLM_CORE_ALLOC(sz) MemoryContextAllocExtended(CurrentMemoryContext, (sz), MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM)
#define MLM_CORE_FREE(p) pfree(p)
#endif

#define ALIGN8(x) (((x) + 7) & ~((size_t) 7))

/* Bytes of a snapshot with n members; 0 when n is out of range. */
size_t
MlmTreeBytes(int32 n, bool placement)
{
	size_t		sz;

	if (n < 0 || n > MLM_TREE_MAX_MEMBERS)
		return 0;
	sz = sizeof(MlmTreeHeader);
	sz += ALIGN8((size_t) n * sizeof(int64));
	sz += ALIGN8((size_t) n * sizeof(int32));	/* parent */
	sz += ALIGN8((size_t) n * sizeof(int32));	/* size */
	sz += ALIGN8((size_t) n * sizeof(int32));	/* byid */
	if (placement)
	{
		sz += ALIGN8((size_t) n * sizeof(int32));
		sz += ALIGN8((size_t) n * sizeof(int32));
	}
	return sz;
}

/* Where each array of an n-member value starts. */
void
MlmTreeGetOffsets(int32 n, bool placement, MlmTreeOffsets *o)
{
	size_t		nn = (size_t) (n < 0 ? 0 : n);

	o->ids = sizeof(MlmTreeHeader);
	o->parent = o->ids + ALIGN8(nn * sizeof(int64));
	o->size = o->parent + ALIGN8(nn * sizeof(int32));
	o->byid = o->size + ALIGN8(nn * sizeof(int32));
	if (placement)
	{
		o->pparent = o->byid + ALIGN8(nn * sizeof(int32));
		o->ppos = o->pparent + ALIGN8(nn * sizeof(int32));
	}
	else
		o->pparent = o->ppos = 0;
}

/* Point a view at the arrays that follow a header (no checks). */
void
MlmTreeSetView(MlmTreeView *v, const MlmTreeHeader *h)
{
	const char *base = (const char *) h;
	MlmTreeOffsets o;

	MlmTreeGetOffsets(h->n, (h->flags & MLM_TREE_HAS_PLACEMENT) != 0, &o);
	v->n = h->n;
	v->nroots = h->nroots;
	v->flags = h->flags;
	v->ids = (const int64 *) (base + o.ids);
	v->parent = (const int32 *) (base + o.parent);
	v->size = (const int32 *) (base + o.size);
	v->byid = (const int32 *) (base + o.byid);
	v->pparent = o.pparent ? (const int32 *) (base + o.pparent) : NULL;
	v->ppos = o.ppos ? (const int32 *) (base + o.ppos) : NULL;
}

const char *
MlmTreeProblemText(MlmTreeProblem p)
{
	switch (p)
	{
		case MLM_TREE_OK:
			return "valid";
		case MLM_TREE_BAD_HEADER:
			return "unsupported version, flags or member count";
		case MLM_TREE_BAD_LENGTH:
			return "byte length does not match the member count";
		case MLM_TREE_BAD_PARENT:
			return "sponsor index out of range";
		case MLM_TREE_BAD_ORDER:
			return "members are not in canonical sponsor preorder";
		case MLM_TREE_BAD_INDEX:
			return "id index is not a sorted permutation";
		case MLM_TREE_DUPLICATE_ID:
			return "duplicate member id";
		case MLM_TREE_BAD_PLACEMENT:
			return "placement parent or position out of range";
		case MLM_TREE_PLACEMENT_CYCLE:
			return "cycle in the placement tree";
		case MLM_TREE_PLACEMENT_SLOT:
			return "two members in one placement slot";
	}
	return "unknown problem";
}

/*
 * LSD radix sort of 64-bit keys carrying an int32 payload, 16 bits a pass,
 * skipping digits on which all keys agree.  Returns false when memory is
 * short.  Linear: sorting 10M member ids takes a few passes over memory.
 */
bool
MlmSortPairs(uint64 *keys, int32 *vals, int32 n)
{
	uint64	   *tkeys;
	int32	   *tvals;
	uint32	   *count;
	uint64		all_or = 0,
				all_and = ~(uint64) 0;
	int			pass;
	int32		i;

	if (n < 2)
		return true;
	for (i = 0; i < n; i++)
	{
		all_or |= keys[i];
		all_and &= keys[i];
	}
	tkeys = (uint64 *) MLM_CORE_ALLOC((size_t) n * sizeof(uint64));
	tvals = vals ? (int32 *) MLM_CORE_ALLOC((size_t) n * sizeof(int32)) : NULL;
	count = (uint32 *) MLM_CORE_ALLOC(65536 * sizeof(uint32));
	if (!tkeys || (vals && !tvals) || !count)
	{
		if (tkeys)
			MLM_CORE_FREE(tkeys);
		if (tvals)
			MLM_CORE_FREE(tvals);
		if (count)
			MLM_CORE_FREE(count);
		return false;
	}
	for (pass = 0; pass < 4; pass++)
	{
		int			shift = pass * 16;
		uint32		sum = 0;

		if ((((all_or ^ all_and) >> shift) & 0xFFFF) == 0)
			continue;			/* every key has the same digit here */
		memset(count, 0, 65536 * sizeof(uint32));
		for (i = 0; i < n; i++)
			count[(keys[i] >> shift) & 0xFFFF]++;
		for (i = 0; i < 65536; i++)
		{
			uint32		c = count[i];

			count[i] = sum;
			sum += c;
		}
		for (i = 0; i < n; i++)
		{
			uint32		d = count[(keys[i] >> shift) & 0xFFFF]++;

			tkeys[d] = keys[i];
			if (vals)
				tvals[d] = vals[i];
		}
		memcpy(keys, tkeys, (size_t) n * sizeof(uint64));
		if (vals)
			memcpy(vals, tvals, (size_t) n * sizeof(int32));
		MLM_CHECK_INTERRUPTS();
	}
	MLM_CORE_FREE(tkeys);
	if (tvals)
		MLM_CORE_FREE(tvals);
	MLM_CORE_FREE(count);
	return true;
}

/* Acyclicity and unique slots of the placement arrays of a view. */
static MlmTreeProblem
ValidatePlacement(const MlmTreeView *v, int32 *bad_index)
{
	int32		n = v->n;
	int32		i;
	uint8	   *state;
	MlmTreeProblem result = MLM_TREE_OK;

	for (i = 0; i < n; i++)
	{
		int32		pp = v->pparent[i];
		int32		pos = v->ppos[i];

		if (pp < -1 || pp >= n || pp == i ||
			(pp == -1 && pos != -1) || (pp != -1 && pos < 0))
		{
			*bad_index = i;
			return MLM_TREE_BAD_PLACEMENT;
		}
	}
	if (n == 0)
		return MLM_TREE_OK;

	state = MLM_CORE_ALLOC((size_t) n);
	if (!state)
	{
		*bad_index = -1;
		return MLM_TREE_BAD_LENGTH;
	}
	memset(state, 0, (size_t) n);

	/* 0 = unseen, 1 = on the current walk, 2 = known to reach a root */
	for (i = 0; i < n && result == MLM_TREE_OK; i++)
	{
		int32		a = i;

		while (a != -1 && state[a] == 0)
		{
			state[a] = 1;
			a = v->pparent[a];
		}
		if (a != -1 && state[a] == 1)
		{
			*bad_index = a;
			result = MLM_TREE_PLACEMENT_CYCLE;
			break;
		}
		a = i;
		while (a != -1 && state[a] == 1)
		{
			state[a] = 2;
			a = v->pparent[a];
		}
		if ((i & 0xFFFF) == 0)
			MLM_CHECK_INTERRUPTS();
	}

	/* slots: sort (parent, position) keys and look for neighbours */
	if (result == MLM_TREE_OK)
	{
		uint64	   *keys = (uint64 *) MLM_CORE_ALLOC((size_t) n * sizeof(uint64));
		int32		m = 0;

		if (!keys)
		{
			*bad_index = -1;
			result = MLM_TREE_BAD_LENGTH;
		}
		else
		{
			for (i = 0; i < n; i++)
				if (v->pparent[i] >= 0)
					keys[m++] = ((uint64) (uint32) v->pparent[i] << 32) | (uint32) v->ppos[i];
			if (!MlmSortPairs(keys, NULL, m))
			{
				*bad_index = -1;
				result = MLM_TREE_BAD_LENGTH;
				m = 0;
			}
			for (i = 1; i < m; i++)
				if (keys[i] == keys[i - 1])
				{
					*bad_index = (int32) (keys[i] >> 32);
					result = MLM_TREE_PLACEMENT_SLOT;
					break;
				}
			MLM_CORE_FREE(keys);
		}
	}

	MLM_CORE_FREE(state);
	return result;
}

/*
 * Validate untrusted snapshot bytes (starting at the varlena header).
 * Returns MLM_TREE_OK or the first problem found, with the member index
 * involved in *bad_index (-1 when none applies).  Linear apart from the
 * placement slot check.
 */
MlmTreeProblem
MlmTreeValidate(const void *data, size_t len, int32 *bad_index)
{
	const MlmTreeHeader *h = (const MlmTreeHeader *) data;
	MlmTreeView v;
	size_t		need;
	int32		n;
	int32		i;
	int32		roots = 0;
	int32	   *stack;
	int32		top;

	*bad_index = -1;
	if (len < sizeof(MlmTreeHeader))
		return MLM_TREE_BAD_LENGTH;
	if (h->version != MLM_TREE_VERSION ||
		(h->flags & ~MLM_TREE_HAS_PLACEMENT) != 0 ||
		h->reserved != 0 || h->n < 0 || h->n > MLM_TREE_MAX_MEMBERS ||
		h->nroots < 0 || h->nroots > h->n)
		return MLM_TREE_BAD_HEADER;
	need = MlmTreeBytes(h->n, (h->flags & MLM_TREE_HAS_PLACEMENT) != 0);
	if (need == 0 || need != len)
		return MLM_TREE_BAD_LENGTH;
	MlmTreeSetView(&v, h);
	n = v.n;

	/* parents come strictly before their children */
	for (i = 0; i < n; i++)
	{
		int32		p = v.parent[i];

		if (p < -1 || p >= i)
		{
			*bad_index = i;
			return MLM_TREE_BAD_PARENT;
		}
		if (p == -1)
			roots++;
	}
	if (roots != v.nroots)
		return MLM_TREE_BAD_HEADER;

	/*
	 * Preorder: simulate the DFS stack; a member's parent must be on the
	 * stack, and the recorded subtree sizes must match where each subtree
	 * actually ends.
	 */
	if (n > 0)
	{
		stack = MLM_CORE_ALLOC((size_t) n * sizeof(int32));
		if (!stack)
			return MLM_TREE_BAD_LENGTH;
		top = 0;
		for (i = 0; i <= n; i++)
		{
			int32		p = (i < n) ? v.parent[i] : -1;
			int32		prev = -1;	/* previous sibling of i, if any */

			while (top > 0 && stack[top - 1] != p)
			{
				int32		done = stack[--top];

				if (v.size[done] != i - done)
				{
					*bad_index = done;
					MLM_CORE_FREE(stack);
					return MLM_TREE_BAD_ORDER;
				}
				prev = done;
			}
			if (i == n)
				break;
			/* canonical form: roots and siblings in ascending id order */
			if (prev >= 0 && v.parent[prev] == p && v.ids[prev] >= v.ids[i])
			{
				*bad_index = i;
				MLM_CORE_FREE(stack);
				return MLM_TREE_BAD_ORDER;
			}
			if (p != -1 && top == 0)
			{
				*bad_index = i;
				MLM_CORE_FREE(stack);
				return MLM_TREE_BAD_ORDER;
			}
			stack[top++] = i;
			if ((i & 0xFFFF) == 0)
				MLM_CHECK_INTERRUPTS();
		}
		MLM_CORE_FREE(stack);
	}

	/* byid: indexes in range and ids strictly increasing => permutation */
	for (i = 0; i < n; i++)
	{
		int32		k = v.byid[i];

		if (k < 0 || k >= n)
		{
			*bad_index = i;
			return MLM_TREE_BAD_INDEX;
		}
		if (i > 0)
		{
			int64		prev = v.ids[v.byid[i - 1]];

			if (v.ids[k] == prev)
			{
				*bad_index = k;
				/* the same index twice is a broken index, not a duplicate */
				return k == v.byid[i - 1] ? MLM_TREE_BAD_INDEX : MLM_TREE_DUPLICATE_ID;
			}
			if (v.ids[k] < prev)
			{
				*bad_index = k;
				return MLM_TREE_BAD_INDEX;
			}
		}
	}

	if (v.pparent)
	{
		MlmTreeProblem pr = ValidatePlacement(&v, bad_index);

		if (pr != MLM_TREE_OK)
			return pr;
	}

	return MLM_TREE_OK;
}
