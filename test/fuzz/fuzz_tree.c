/*
 * fuzz_tree.c
 *	  libFuzzer target for MlmTreeValidate() (src/tree_core.c), the check
 *	  applied to untrusted mlm.tree snapshot bytes.
 *
 * Build (test/check.sh does this):
 *	  clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
 *		  -DMLM_FRONTEND -Isrc src/tree_core.c test/fuzz/fuzz_tree.c -o fuzz_tree
 *	  ./fuzz_tree -max_total_time=20 corpus-run test/fuzz/corpus
 *
 * Every input is used twice:
 *
 * 1. Raw: the bytes are copied into a fresh malloc'd (so 8-byte aligned,
 *	  exactly sized for ASan) buffer and validated as a snapshot.
 *
 * 2. Structured: the bytes describe a forest that is laid out as a *valid*
 *	  snapshot (snapshot_build.h), optionally corrupted, then validated.
 *	  This gets past the cheap header/length checks into the preorder,
 *	  byid and placement checks.  Format (missing bytes read 0):
 *		byte 0	   flags: bit 0 placement arrays; bits 1-3 number of
 *				   mutations; bit 4 give the mutated value a new stamp;
 *				   bits 5-6 length: 1 = 8 bytes short, 2 = 8 bytes long
 *		bytes 1-2  n (little endian) modulo MAX_N + 1, at most 16 + 4 times
 *				   the number of bytes after the seed
 *		bytes 3-10 id seed (low 2 bits choose the id scheme)
 *		per member i: sponsor byte c: root if i == 0 or c == 0xFF, else
 *				   parent = i - 1 - c % i (0 = chain to the previous one);
 *				   with placement also a placement byte q (same rule, 0xFF
 *				   = none) and a gap byte for the slot position
 *		then per mutation: kind byte and 3-4 argument bytes
 *	  An uncorrupted build must validate as OK (an oracle for false
 *	  rejections).
 *
 * Whenever the validator answers OK, walk_tree() uses the snapshot the way
 * the backend does and abort()s on anything out of range, so a hole in the
 * validator becomes a crash here; that includes the canonical order (roots
 * and the children of each member in ascending id order).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tree_core.h"
#include "snapshot_build.h"

#define MAX_N 2000

#define CHECK(cond) \
	do { \
		if (!(cond)) \
		{ \
			fprintf(stderr, "fuzz_tree: accepted snapshot breaks invariant: %s (%s:%d)\n", \
					#cond, __FILE__, __LINE__); \
			abort(); \
		} \
	} while (0)

/* ------------------------------------------------------------------ */
/* Walk an accepted snapshot like the backend does.                    */
/* ------------------------------------------------------------------ */

static int
cmp_u64(const void *a, const void *b)
{
	uint64		x = *(const uint64 *) a,
				y = *(const uint64 *) b;

	return (x > y) - (x < y);
}

/* binary search through byid, as member lookups by id do */
static int32
find_by_id(const MlmTreeView *v, int64 id)
{
	int32		lo = 0,
				hi = v->n - 1;

	while (lo <= hi)
	{
		int32		mid = lo + (hi - lo) / 2;
		int32		k = v->byid[mid];
		int64		x;

		CHECK(k >= 0 && k < v->n);
		x = v->ids[k];
		if (x == id)
			return k;
		if (x < id)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

static void
walk_tree(const void *buf, size_t len)
{
	const MlmTreeHeader *h = (const MlmTreeHeader *) buf;
	MlmTreeView v;
	int32		n,
				i,
				j,
				roots;
	int32	   *depth;

	CHECK(len >= sizeof(MlmTreeHeader));
	CHECK(h->n >= 0 && h->n <= MLM_TREE_MAX_MEMBERS);
	CHECK(MlmTreeBytes(h->n, (h->flags & MLM_TREE_HAS_PLACEMENT) != 0) == len);
	MlmTreeSetView(&v, h);
	n = v.n;
	CHECK(v.nroots >= 0 && v.nroots <= n);

	/* subtree ranges inside [0, n) */
	for (i = 0; i < n; i++)
		CHECK(v.size[i] >= 1 && v.size[i] <= n - i);

	/* sponsors come first and contain their members' subtrees */
	depth = malloc(sizeof(int32) * (n + 1));
	CHECK(depth != NULL);
	for (i = 0; i < n; i++)
	{
		int32		p = v.parent[i];

		CHECK(p >= -1 && p < i);
		if (p >= 0)
		{
			CHECK(i > p && i < p + v.size[p]);
			CHECK(i + v.size[i] <= p + v.size[p]);
			depth[i] = depth[p] + 1;
		}
		else
			depth[i] = 0;
	}

	/* enumerate children by skipping subtrees; they must tile the range */
	for (i = 0; i < n; i++)
	{
		int32		end = i + v.size[i];
		int64		prev_id = 0;
		bool		have_prev = false;

		for (j = i + 1; j < end; j += v.size[j])
		{
			CHECK(v.parent[j] == i);
			CHECK(depth[j] == depth[i] + 1);
			CHECK(!have_prev || v.ids[j] > prev_id);	/* canonical order */
			prev_id = v.ids[j];
			have_prev = true;
		}
		CHECK(j == end);
	}

	/* roots tile the whole array */
	roots = 0;
	for (j = 0, i = -1; j < n; i = j, j += v.size[j])
	{
		CHECK(v.parent[j] == -1);
		CHECK(i < 0 || v.ids[j] > v.ids[i]);	/* canonical order */
		roots++;
	}
	CHECK(j == n);
	CHECK(roots == v.nroots);
	free(depth);

	/* byid: a permutation sorted by id; every id is found where it is */
	for (i = 0; i < n; i++)
	{
		int32		k = v.byid[i];

		CHECK(k >= 0 && k < n);
		if (i > 0)
			CHECK(v.ids[v.byid[i - 1]] < v.ids[k]);
	}
	for (i = 0; i < n; i++)
		CHECK(find_by_id(&v, v.ids[i]) == i);

	/* placement: indexes in range, chains end at a root, slots unique */
	if (h->flags & MLM_TREE_HAS_PLACEMENT)
	{
		uint64	   *keys;
		int32		m = 0;

		CHECK(v.pparent != NULL && v.ppos != NULL);
		for (i = 0; i < n; i++)
		{
			int32		pp = v.pparent[i];
			int32		a,
						steps = 0;

			CHECK(pp >= -1 && pp < n && pp != i);
			CHECK((pp == -1) == (v.ppos[i] == -1));
			CHECK(pp == -1 || v.ppos[i] >= 0);
			/* walk up (bounded: a cycle would exceed n steps) */
			for (a = i; a != -1; a = v.pparent[a])
			{
				CHECK(a >= 0 && a < n);
				CHECK(++steps <= n);
			}
		}
		keys = malloc(sizeof(uint64) * (n + 1));
		CHECK(keys != NULL);
		for (i = 0; i < n; i++)
			if (v.pparent[i] >= 0)
				keys[m++] = ((uint64) (uint32) v.pparent[i] << 32) | (uint32) v.ppos[i];
		qsort(keys, m, sizeof(uint64), cmp_u64);
		for (i = 1; i < m; i++)
			CHECK(keys[i] != keys[i - 1]);
		free(keys);
	}
	else
		CHECK(v.pparent == NULL && v.ppos == NULL);

}

/* Validate a copy of (data, len); on OK walk it. */
static MlmTreeProblem
validate_copy(const void *data, size_t len)
{
	void	   *buf = malloc(len ? len : 1);
	int32		bad = -2;
	MlmTreeProblem pr;

	if (!buf)
		return MLM_TREE_BAD_LENGTH;
	if (len)
		memcpy(buf, data, len);
	pr = MlmTreeValidate(buf, len, &bad);
	CHECK(bad >= -1);
	if (pr == MLM_TREE_OK)
	{
		CHECK(bad == -1);
		walk_tree(buf, len);
	}
	else
	{
		const MlmTreeHeader *h = (const MlmTreeHeader *) buf;

		/* a reported member index must exist */
		if (bad != -1)
			CHECK(len >= sizeof(MlmTreeHeader) && bad < h->n);
		CHECK(MlmTreeProblemText(pr) != NULL);
	}
	free(buf);
	return pr;
}

/* ------------------------------------------------------------------ */
/* Structured pass                                                     */
/* ------------------------------------------------------------------ */

typedef struct Reader
{
	const uint8_t *p;
	size_t		left;
} Reader;

static uint8_t
rd8(Reader *r)
{
	if (r->left == 0)
		return 0;
	r->left--;
	return *r->p++;
}

static uint16_t
rd16(Reader *r)
{
	uint16_t	lo = rd8(r);

	return (uint16_t) (lo | (uint16_t) rd8(r) << 8);
}

static uint64_t
rd64(Reader *r)
{
	uint64_t	x = 0;
	int			i;

	for (i = 0; i < 8; i++)
		x |= (uint64_t) rd8(r) << (8 * i);
	return x;
}

/* distinct ids for distinct i: every scheme is a bijection on uint64 */
static int64
make_id(int32 i, uint64_t seed)
{
	uint64_t	x = (uint64_t) i;
	uint64_t	stride = ((seed >> 2) & 0xFF) + 1;

	switch (seed & 3)
	{
		case 0:
			x ^= seed;
			x *= UINT64_C(0x9E3779B97F4A7C15);
			x ^= x >> 31;
			x *= UINT64_C(0xBF58476D1CE4E5B9);
			break;
		case 1:
			x = (seed >> 16) + x * stride;
			break;
		case 2:
			x = (seed >> 16) - x * stride;
			break;
		default:
			x ^= (seed >> 2) & 0x7FF;
			break;
	}
	return (int64) x;
}

static int32
pick_value(uint8_t sel, int32 n, int32 idx, Reader *r)
{
	switch (sel % 14)
	{
		case 0: return -2;
		case 1: return -1;
		case 2: return 0;
		case 3: return 1;
		case 4: return (int32) ((uint32) n - 1);
		case 5: return n;
		case 6: return (int32) ((uint32) n + 1);
		case 7: return idx;
		case 8: return (int32) ((uint32) idx - 1);
		case 9: return (int32) ((uint32) idx + 1);
		case 10: return INT32_MIN;
		case 11: return INT32_MAX;
		case 12: return (int32) (rd16(r) % (n + 2)) - 1;
		default: return (int32) ((uint32) rd16(r) | (uint32) rd16(r) << 16);
	}
}

/* a: the arrays as laid out for the original header (which may be mutated) */
static void
mutate(char *buf, size_t len, const SnapArrays *ap, int32 n, bool placement,
	   Reader *r)
{
	SnapArrays	a = *ap;
	uint8_t		kind = rd8(r);
	int32	   *arrs[5];
	int			narr;

	arrs[0] = a.parent;
	arrs[1] = a.size;
	arrs[2] = a.byid;
	arrs[3] = placement ? a.pparent : a.parent;
	arrs[4] = placement ? a.ppos : a.size;
	narr = 5;

	switch (kind & 3)
	{
		case 0:					/* any byte */
			{
				size_t		off = rd16(r) % len;

				buf[off] = (char) rd8(r);
				break;
			}
		case 1:					/* one int32 entry to an edge value */
			if (n > 0)
			{
				int32	   *arr = arrs[(kind >> 2) % narr];
				int32		idx = rd16(r) % n;

				arr[idx] = pick_value(rd8(r), n, idx, r);
			}
			break;
		case 2:					/* swap two entries of one array */
			if (n > 1)
			{
				int			which = (kind >> 2) % (narr + 1);
				int32		x = rd16(r) % n,
							y = rd16(r) % n;

				if (which == narr)
				{
					/*
					 * swap two ids and their byid entries: byid stays
					 * sorted and only the canonical order can catch it
					 */
					int64		t = a.ids[x];
					int32		k;

					a.ids[x] = a.ids[y];
					a.ids[y] = t;
					for (k = 0; k < n; k++)
					{
						if (a.byid[k] == x)
							a.byid[k] = y;
						else if (a.byid[k] == y)
							a.byid[k] = x;
					}
				}
				else
				{
					int32	   *arr = arrs[which];
					int32		t = arr[x];

					arr[x] = arr[y];
					arr[y] = t;
				}
			}
			break;
		default:				/* header fields or ids */
			switch ((kind >> 2) % 6)
			{
				case 0:
					a.h->nroots = pick_value(rd8(r), n, a.h->nroots, r);
					break;
				case 1:
					a.h->version = rd8(r);
					break;
				case 2:
					a.h->flags = rd8(r);
					break;
				case 3:
					a.h->reserved = rd16(r);
					break;
				case 4:
					if (n > 0)
					{
						int32		x = rd16(r) % n,
									y = rd16(r) % n;

						a.ids[x] = a.ids[y] + (int64) (int8_t) rd8(r);
					}
					break;
				default:
					a.h->n = pick_value(rd8(r), n, n, r);
					break;
			}
			break;
	}
}

static void
structured(const uint8_t *data, size_t size)
{
	Reader		r = {data, size};
	uint8_t		flags = rd8(&r);
	bool		placement = (flags & 1) != 0;
	int			nmut = (flags >> 1) & 7;
	bool		restamp = (flags & 0x10) != 0;
	int			lenmode = (flags >> 5) & 3;
	int32		n = rd16(&r) % (MAX_N + 1);
	uint64_t	seed = rd64(&r);
	int32		cap = 16 + 4 * (int32) (r.left < MAX_N ? r.left : MAX_N);
	int64	   *ids = malloc(sizeof(int64) * (n + 1));
	int32	   *parent = malloc(sizeof(int32) * (n + 1));
	int32	   *pparent = malloc(sizeof(int32) * (n + 1));
	int32	   *ppos = malloc(sizeof(int32) * (n + 1));
	int32	   *lastpos = malloc(sizeof(int32) * (n + 1));
	SnapSpec	spec;
	SnapArrays	arrays;
	char	   *buf;
	size_t		len;
	int32		i;
	int			m;

	CHECK(ids && parent && pparent && ppos && lastpos);
	if (n > cap)
		n = cap;				/* small inputs make small trees: fast runs */
	for (i = 0; i < n; i++)
	{
		uint8_t		c = rd8(&r);

		ids[i] = make_id(i, seed);
		parent[i] = (i == 0 || c == 0xFF) ? -1 : i - 1 - c % i;
		lastpos[i] = -1;
		pparent[i] = -1;
		ppos[i] = -1;
		if (placement)
		{
			uint8_t		q = rd8(&r);
			uint8_t		gap = rd8(&r);

			if (i > 0 && q != 0xFF)
			{
				int32		pp = i - 1 - q % i;

				pparent[i] = pp;
				ppos[i] = lastpos[pp] + 1 + (gap & 3);
				lastpos[pp] = ppos[i];
			}
		}
	}
	spec.n = n;
	spec.placement = placement;
	spec.ids = ids;
	spec.parent = parent;
	spec.pparent = pparent;
	spec.ppos = ppos;
	buf = snap_build(&spec, &len);
	CHECK(buf != NULL);

	/* oracle: what the builder lays out is a valid snapshot */
	{
		int32		bad;
		MlmTreeProblem pr = MlmTreeValidate(buf, len, &bad);

		if (pr != MLM_TREE_OK)
		{
			fprintf(stderr, "fuzz_tree: valid snapshot (n=%d, placement=%d) rejected: %s at %d\n",
					n, (int) placement, MlmTreeProblemText(pr), bad);
			abort();
		}
		walk_tree(buf, len);
	}

	snap_arrays(&arrays, buf);
	for (m = 0; m < nmut; m++)
		mutate(buf, len, &arrays, n, placement, &r);
	if (restamp && nmut > 0)
		snap_stamp(buf);		/* a new stamp changes nothing validated */

	if (lenmode == 1 && len >= 8)
		validate_copy(buf, len - 8);
	else if (lenmode == 2)
	{
		char	   *big = calloc(1, len + 8);

		CHECK(big != NULL);
		memcpy(big, buf, len);
		validate_copy(big, len + 8);
		free(big);
	}
	else
		validate_copy(buf, len);

	free(buf);
	free(ids);
	free(parent);
	free(pparent);
	free(ppos);
	free(lastpos);
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	validate_copy(data, size);
	structured(data, size);
	return 0;
}
