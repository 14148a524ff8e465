/*
 * forest.h
 *	  Walks over a forest given as a parent array (sponsor or placement
 *	  tree): a parents-first order, subtree sizes and preorder numbers with
 *	  children in slot order, bottom-up sums and nearest-active-ancestor
 *	  pointers.  The one home of these passes for the loader, the bonuses,
 *	  the volume functions and placement.
 */
#ifndef MLM_FOREST_H
#define MLM_FOREST_H

#include "postgres.h"

#include "decimal.h"

/*
 * Members of the forest in an order where every parent comes before its
 * children (breadth-first from the roots); *len receives n.  parent[i] < 0
 * marks a root.
 */
extern int32 *MlmForestOrder(const int32 *parent, int32 n, int32 *len);

/*
 * Subtree sizes and preorder numbers, children visited in slot order:
 * child[u * width + s] is the child of u in slot s or -1.  order lists the
 * members parents-first (NULL: 0 .. n-1 is already parents-first).
 */
extern void MlmForestShape(const int32 *parent, const int32 *child, int width,
						   const int32 *order, int32 n, int32 *size,
						   int32 *pre);

/*
 * Bottom-up sums: add v[i] into v[parent[i]] for every member, children
 * before parents (order as above, walked backwards), so v[i] becomes the
 * sum over i's subtree: group volume, group CV, placement leg volume.
 */
extern void MlmForestSumUp(const int32 *parent, const int32 *order, int32 n,
						   mlm_dec *v);

/*
 * next[i] = nearest proper ancestor of i that is active, or -1 (order as
 * above): with dynamic compression one step up is one array read.
 */
extern int32 *MlmNearestActiveAncestor(const int32 *parent, const int32 *order,
									   int32 n, const bool *active);

#endif
