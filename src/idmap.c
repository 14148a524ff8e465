/*
 * idmap.c
 *	  The id map (see idmap.h): dense fast paths, else a simplehash table
 *	  keyed by the id and hashed with MlmMix64.
 */
#include "postgres.h"

#include "miscadmin.h"

#include "idmap.h"
#include "mlm.h"
#include "tree_core.h"

typedef struct MlmIdEntry
{
	int64		id;
	int32		index;
	char		status;			/* simplehash's slot state */
} MlmIdEntry;

#define SH_PREFIX mlm_idhash
#define SH_ELEMENT_TYPE MlmIdEntry
#define SH_KEY_TYPE int64
#define SH_KEY id
#define SH_HASH_KEY(tb, key) ((uint32) MlmMix64((uint64) (key)))
#define SH_EQUAL(tb, a, b) ((a) == (b))
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/*
 * Choose the representation: no table for consecutive ascending ids, a
 * direct table when the id span is small, else a hash table sized for n.
 */
void
MlmIdMapBuild(MlmIdMap *map, const int64 *ids, int32 n, bool ascending)
{
	int64		min = PG_INT64_MAX,
				max = PG_INT64_MIN;
	int32		r;

	memset(map, 0, sizeof(MlmIdMap));
	if (ascending && n > 0 && (uint64) ids[n - 1] - (uint64) ids[0] == (uint64) n - 1)
	{
		/* ids min, min + 1, ... in row order: the index is id - min */
		map->consecutive = true;
		map->min = ids[0];
		map->range = (uint64) n;
		return;
	}
	for (r = 0; r < n; r++)
	{
		min = Min(min, ids[r]);
		max = Max(max, ids[r]);
	}
	if (n > 0 && (uint64) max - (uint64) min < (uint64) n * 3)
	{
		map->min = min;
		map->range = (uint64) max - (uint64) min + 1;
		map->direct = MlmAllocArray(map->range, sizeof(int32));
		memset(map->direct, 0xFF, map->range * sizeof(int32));
		for (r = 0; r < n; r++)
			map->direct[(uint64) ids[r] - (uint64) min] = r;
		return;
	}
	MlmIdMapInitEmpty(map, n);
	for (r = 0; r < n; r++)
	{
		MlmIdMapAdd(map, ids[r], r);
		if ((r & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
}

/* A hash-only map in the current memory context. */
void
MlmIdMapInitEmpty(MlmIdMap *map, int32 expected)
{
	memset(map, 0, sizeof(MlmIdMap));
	map->hash = mlm_idhash_create(CurrentMemoryContext, Max(expected, 16), NULL);
}

/* Insert (or overwrite) one id. */
void
MlmIdMapAdd(MlmIdMap *map, int64 id, int32 index)
{
	bool		found;
	MlmIdEntry *e;

	Assert(map->hash != NULL);
	e = mlm_idhash_insert(map->hash, id, &found);
	e->index = index;
}

/* Out of line: the hash path is the slow one anyway. */
int32
MlmIdMapHashFind(const MlmIdMap *map, int64 id)
{
	MlmIdEntry *e = mlm_idhash_lookup(map->hash, id);

	return e ? e->index : -1;
}

/* Release the tables; the map is empty afterwards. */
void
MlmIdMapFree(MlmIdMap *map)
{
	if (map->direct)
		pfree(map->direct);
	if (map->hash)
		mlm_idhash_destroy(map->hash);
	memset(map, 0, sizeof(MlmIdMap));
}
