/*
 * idmap.h
 *	  Member id -> index, the one id map of the loader, the snapshot cache
 *	  and placement.  Dense ids (ERP serials) take a fast path: ids that are
 *	  consecutive in row order need no table at all, ids spanning at most
 *	  three times their count a direct table (one memory access a lookup);
 *	  any other ids go into a PostgreSQL simplehash table.
 */
#ifndef MLM_IDMAP_H
#define MLM_IDMAP_H

#include "postgres.h"

struct mlm_idhash_hash;

typedef struct MlmIdMap
{
	bool		consecutive;	/* index = id - min, no table */
	int64		min;
	uint64		range;
	int32	   *direct;			/* range entries, -1 = no member */
	struct mlm_idhash_hash *hash;	/* else: simplehash */
} MlmIdMap;

/*
 * Map ids[i] -> i for n distinct ids; ascending says the ids are known to
 * increase (then consecutive ids need no table).
 */
extern void MlmIdMapBuild(MlmIdMap *map, const int64 *ids, int32 n, bool ascending);

/* An empty map that grows by MlmIdMapAdd (expected: a size hint). */
extern void MlmIdMapInitEmpty(MlmIdMap *map, int32 expected);

/* Add id -> index to a map made by MlmIdMapInitEmpty. */
extern void MlmIdMapAdd(MlmIdMap *map, int64 id, int32 index);

/* The hash-table lookup behind MlmIdMapFind. */
extern int32 MlmIdMapHashFind(const MlmIdMap *map, int64 id);

/* Free the map's tables (not the struct). */
extern void MlmIdMapFree(MlmIdMap *map);

/* The index of id, or -1; the dense paths are inline. */
static inline int32
MlmIdMapFind(const MlmIdMap *map, int64 id)
{
	uint64		off = (uint64) id - (uint64) map->min;

	if (map->consecutive)
		return off < map->range ? (int32) off : -1;
	if (map->direct)
		return off < map->range ? map->direct[off] : -1;
	return MlmIdMapHashFind(map, id);
}

#endif
