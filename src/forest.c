/*
 * forest.c
 *	  Passes over a forest given as a parent array (see forest.h).  Each
 *	  is linear; "order" is a parents-first order of the members, NULL when
 *	  the indexes themselves are (the sponsor preorder of mlm.tree).
 */
#include "postgres.h"

#include "miscadmin.h"

#include "forest.h"
#include "mlm.h"

/*
 * Breadth-first order from the roots, by a counting sort of the members on
 * their parent: parents always precede their children.
 */
int32 *
MlmForestOrder(const int32 *parent, int32 n, int32 *len_out)
{
	int32	   *start = MlmAllocArrayZero((Size) n + 2, sizeof(int32));
	int32	   *list = MlmAllocArray(Max(n, 1), sizeof(int32));
	int32	   *order = MlmAllocArray(Max(n, 1), sizeof(int32));
	int32		i,
				k,
				len = 0;

	for (i = 0; i < n; i++)
		if (parent[i] >= 0)
			start[parent[i] + 2]++;
	for (i = 0; i < n; i++)
		start[i + 2] += start[i + 1];
	for (i = 0; i < n; i++)
	{
		if (parent[i] >= 0)
			list[start[parent[i] + 1]++] = i;
		else
			order[len++] = i;
	}
	for (k = 0; k < len; k++)
	{
		int32		u = order[k];
		int32		j;

		for (j = start[u]; j < start[u + 1]; j++)
			order[len++] = list[j];
	}
	Assert(len == n);
	pfree(start);
	pfree(list);
	*len_out = len;
	return order;
}

/*
 * Sizes bottom-up, then preorder numbers top-down: a root starts after the
 * previous root's subtree, a child after its parent and its earlier-slot
 * siblings' subtrees.  Members outside every slot keep size 1 in their
 * parent's count only if they are in child[].
 */
void
MlmForestShape(const int32 *parent, const int32 *child, int width,
			   const int32 *order, int32 n, int32 *size, int32 *pre)
{
	int32		k;
	int32		next_root = 0;

	for (k = 0; k < n; k++)
		size[k] = 1;
	for (k = n - 1; k >= 0; k--)
	{
		int32		u = order ? order[k] : k;

		if (parent[u] >= 0)
			size[parent[u]] += size[u];
	}
	for (k = 0; k < n; k++)
	{
		int32		u = order ? order[k] : k;
		int32		at;
		int			s;

		if (parent[u] < 0)
		{
			pre[u] = next_root;
			next_root += size[u];
		}
		at = pre[u] + 1;
		for (s = 0; s < width; s++)
		{
			int32		c = child[(Size) u * width + s];

			if (c >= 0)
			{
				pre[c] = at;
				at += size[c];
			}
		}
	}
	CHECK_FOR_INTERRUPTS();
}

/* One backward pass over a parents-first order. */
void
MlmForestSumUp(const int32 *parent, const int32 *order, int32 n, mlm_dec *v)
{
	int32		k;

	for (k = n - 1; k >= 0; k--)
	{
		int32		u = order ? order[k] : k;

		if (parent[u] >= 0)
			v[parent[u]] = MlmDecAdd(v[parent[u]], v[u]);
	}
}

/* Top-down: a parent's pointer is final before its children read it. */
int32 *
MlmNearestActiveAncestor(const int32 *parent, const int32 *order, int32 n,
						 const bool *active)
{
	int32	   *next = MlmAllocArray(Max(n, 1), sizeof(int32));
	int32		k;

	for (k = 0; k < n; k++)
		next[k] = -1;
	for (k = 0; k < n; k++)
	{
		int32		i = order ? order[k] : k;
		int32		p = parent[i];

		if (p >= 0)
			next[i] = active[p] ? p : next[p];
	}
	return next;
}
