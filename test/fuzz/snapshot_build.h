/*
 * snapshot_build.h
 *	  Test-only builder of valid mlm.tree snapshots (see src/tree_core.h for
 *	  the layout), shared by the fuzz target and the seed generator.
 *
 * The caller describes a forest in "build order": member b has id ids[b] and
 * sponsor parent[b] (a build index < b, or -1), optionally a placement
 * parent pparent[b] (build index < b, or -1) and position ppos[b] (unique
 * per placement parent, -1 when there is none).  snap_build() lays it out
 * as the backend would: preorder with roots and siblings ordered by id,
 * subtree sizes, byid, nroots and a stamp.
 *
 * Plain C, compiled with -DMLM_FRONTEND; links src/tree_core.c.
 */
#ifndef MLM_SNAPSHOT_BUILD_H
#define MLM_SNAPSHOT_BUILD_H

#include <stdlib.h>
#include <string.h>

#include "tree_core.h"

typedef struct SnapSpec
{
	int32		n;
	bool		placement;
	const int64 *ids;			/* unique */
	const int32 *parent;		/* build index < own index, or -1 */
	const int32 *pparent;		/* build index < own index, or -1 */
	const int32 *ppos;			/* >= 0 and unique per pparent; -1 if none */
} SnapSpec;

static const int64 *snap_sort_ids;

static int
snap_cmp_by_id(const void *a, const void *b)
{
	int64		x = snap_sort_ids[*(const int32 *) a];
	int64		y = snap_sort_ids[*(const int32 *) b];

	return (x > y) - (x < y);
}

/* Arrays of a mutable snapshot buffer (same offsets as MlmTreeSetView). */
typedef struct SnapArrays
{
	MlmTreeHeader *h;
	int64	   *ids;
	int32	   *parent;
	int32	   *size;
	int32	   *byid;
	int32	   *pparent;
	int32	   *ppos;
} SnapArrays;

static void
snap_arrays(SnapArrays *a, void *buf)
{
	MlmTreeView v;

	a->h = (MlmTreeHeader *) buf;
	MlmTreeSetView(&v, a->h);
	a->ids = (int64 *) v.ids;
	a->parent = (int32 *) v.parent;
	a->size = (int32 *) v.size;
	a->byid = (int32 *) v.byid;
	a->pparent = (int32 *) v.pparent;
	a->ppos = (int32 *) v.ppos;
}

/* Give a buffer a fixed stamp (the validator accepts any). */
static void
snap_stamp(void *buf)
{
	/* any value is valid: the stamp is an identity, not a checksum */
	((MlmTreeHeader *) buf)->stamp = UINT64_C(0x6d6c6d2d7365656e);
}

/*
 * Returns a malloc'd snapshot of exactly *len bytes (zeroed padding), or
 * NULL when out of memory or the spec is out of range.
 */
static void *
snap_build(const SnapSpec *s, size_t *len)
{
	int32		n = s->n;
	size_t		bytes = MlmTreeBytes(n, s->placement);
	char	   *buf;
	SnapArrays	a;
	int32	   *sorted,
			   *first,
			   *last,
			   *next,
			   *pre;		/* build index -> preorder index */
	int32		i,
				k,
				order = 0,
				nroots = 0;

	if (n < 0 || bytes == 0)
		return NULL;
	buf = calloc(1, bytes);
	sorted = malloc(sizeof(int32) * (n + 1));
	first = malloc(sizeof(int32) * (n + 1));
	last = malloc(sizeof(int32) * (n + 1));
	next = malloc(sizeof(int32) * (n + 1));
	pre = malloc(sizeof(int32) * (n + 1));
	if (!buf || !sorted || !first || !last || !next || !pre)
	{
		free(buf);
		buf = NULL;
		goto out;
	}

	a.h = (MlmTreeHeader *) buf;
	a.h->vl_len_ = (int32) ((uint32) bytes << 2);	/* SET_VARSIZE, 4B header */
	a.h->version = MLM_TREE_VERSION;
	a.h->flags = s->placement ? MLM_TREE_HAS_PLACEMENT : 0;
	a.h->reserved = 0;
	a.h->n = n;
	snap_arrays(&a, buf);

	/* child lists in id order: append members to their parent by rising id */
	for (i = 0; i < n; i++)
	{
		sorted[i] = i;
		first[i] = last[i] = next[i] = -1;
	}
	snap_sort_ids = s->ids;
	if (n > 1)
		qsort(sorted, n, sizeof(int32), snap_cmp_by_id);
	for (k = 0; k < n; k++)
	{
		int32		b = sorted[k];
		int32		p = s->parent[b];

		if (p < 0)
			continue;
		if (last[p] < 0)
			first[p] = b;
		else
			next[last[p]] = b;
		last[p] = b;
	}

	/* iterative preorder from each root, roots by id */
	for (k = 0; k < n; k++)
	{
		int32		r = sorted[k],
					node;

		if (s->parent[r] >= 0)
			continue;
		nroots++;
		node = r;
		pre[node] = order++;
		for (;;)
		{
			if (first[node] >= 0)
				node = first[node];
			else
			{
				while (node != r && next[node] < 0)
					node = s->parent[node];
				if (node == r)
					break;
				node = next[node];
			}
			pre[node] = order++;
		}
	}

	for (i = 0; i < n; i++)
	{
		int32		q = pre[i];

		a.ids[q] = s->ids[i];
		a.parent[q] = s->parent[i] < 0 ? -1 : pre[s->parent[i]];
		a.size[q] = 1;
		if (s->placement)
		{
			a.pparent[q] = s->pparent[i] < 0 ? -1 : pre[s->pparent[i]];
			a.ppos[q] = s->pparent[i] < 0 ? -1 : s->ppos[i];
		}
	}
	for (i = n - 1; i > 0; i--)
		if (a.parent[i] >= 0)
			a.size[a.parent[i]] += a.size[i];
	for (k = 0; k < n; k++)
		a.byid[k] = pre[sorted[k]];
	a.h->nroots = nroots;
	snap_stamp(buf);
	*len = bytes;

out:
	free(sorted);
	free(first);
	free(last);
	free(next);
	free(pre);
	return buf;
}

#endif
