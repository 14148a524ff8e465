/*
 * gen_seeds.c
 *	  Seed corpus generator and validator self-check for the fuzz target.
 *
 *	  clang -DMLM_FRONTEND -Isrc src/tree_core.c test/fuzz/gen_seeds.c -o gen_seeds
 *	  ./gen_seeds --write test/fuzz/corpus	 (re)write the committed seeds
 *	  ./gen_seeds --check					 TAP: valid snapshots pass, each
 *											 corruption gets its problem code
 *
 * Raw seeds (raw-*) are complete snapshots, valid ones and a few with one
 * defect each; structured seeds (struct-*) use the input format described
 * in fuzz_tree.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tree_core.h"
#include "snapshot_build.h"

#define MAXM 256

typedef struct Tree
{
	int32		n;
	bool		placement;
	int64		ids[MAXM];
	int32		parent[MAXM];
	int32		pparent[MAXM];
	int32		ppos[MAXM];
} Tree;

static void *
build(const Tree *t, size_t *len)
{
	SnapSpec	s;
	void	   *buf;

	s.n = t->n;
	s.placement = t->placement;
	s.ids = t->ids;
	s.parent = t->parent;
	s.pparent = t->pparent;
	s.ppos = t->ppos;
	buf = snap_build(&s, len);
	if (!buf)
	{
		fprintf(stderr, "gen_seeds: out of memory\n");
		exit(2);
	}
	return buf;
}

static void
tree_init(Tree *t, int32 n, bool placement)
{
	int32		i;

	memset(t, 0, sizeof(*t));
	t->n = n;
	t->placement = placement;
	for (i = 0; i < n; i++)
	{
		t->ids[i] = 1000 + i;
		t->parent[i] = -1;
		t->pparent[i] = -1;
		t->ppos[i] = -1;
	}
}

/* two sponsor trees, ids not in build order: preorder != build order */
static void
tree_forest(Tree *t, bool placement)
{
	static const int64 ids[] = {50, 20, 70, 10, 30, 60, 5, 40, 90, 80};
	static const int32 par[] = {-1, 0, 0, -1, 3, 1, 1, 4, 2, 3};
	int32		i;

	tree_init(t, 10, placement);
	for (i = 0; i < 10; i++)
	{
		t->ids[i] = ids[i];
		t->parent[i] = par[i];
	}
	if (placement)
	{
		/* binary placement under member 0 and under member 3 */
		static const int32 pp[] = {-1, 0, 0, -1, 3, 1, 1, 4, 2, 2};
		static const int32 pos[] = {-1, 0, 1, -1, 0, 0, 1, 0, 0, 1};

		for (i = 0; i < 10; i++)
		{
			t->pparent[i] = pp[i];
			t->ppos[i] = pos[i];
		}
	}
}

static void
tree_chain(Tree *t, int32 n, bool placement)
{
	int32		i;

	tree_init(t, n, placement);
	for (i = 1; i < n; i++)
	{
		t->parent[i] = i - 1;
		if (placement)
		{
			t->pparent[i] = i - 1;
			t->ppos[i] = 0;
		}
	}
}

static void
tree_star(Tree *t, int32 n, bool placement)
{
	int32		i;

	tree_init(t, n, placement);
	for (i = 1; i < n; i++)
	{
		t->ids[i] = (int64) (n - i) * 7 - 100;	/* negative ids too */
		t->parent[i] = 0;
		if (placement)
		{
			/* binary heap placement: member i under (i - 1) / 2 */
			t->pparent[i] = (i - 1) / 2;
			t->ppos[i] = (i - 1) % 2;
		}
	}
}

/* ------------------------------------------------------------------ */

static int	ntests = 0;
static int	nfailed = 0;

static void
expect(const char *what, const void *buf, size_t len, MlmTreeProblem want)
{
	void	   *copy = malloc(len ? len : 1);
	int32		bad;
	MlmTreeProblem got;

	memcpy(copy, buf, len);
	got = MlmTreeValidate(copy, len, &bad);
	free(copy);
	ntests++;
	if (got == want)
		printf("ok %d - %s: %s\n", ntests, what, MlmTreeProblemText(want));
	else
	{
		nfailed++;
		printf("not ok %d - %s\n#   want: %s\n#   got:  %s (index %d)\n",
			   ntests, what, MlmTreeProblemText(want), MlmTreeProblemText(got), bad);
	}
}

/* build t, let fix() damage it, give it a new stamp, expect want */
typedef void (*Damage) (SnapArrays *a, int32 n);

static void
expect_damaged(const char *what, const Tree *t, Damage fix, bool restamp,
			   MlmTreeProblem want)
{
	size_t		len;
	char	   *buf = build(t, &len);
	SnapArrays	a;

	snap_arrays(&a, buf);
	fix(&a, t->n);
	if (restamp)
		snap_stamp(buf);
	expect(what, buf, len, want);
	free(buf);
}

static void d_version(SnapArrays *a, int32 n) { a->h->version = MLM_TREE_VERSION + 1; }
static void d_flags(SnapArrays *a, int32 n) { a->h->flags |= 0x02; }
static void d_reserved(SnapArrays *a, int32 n) { a->h->reserved = 1; }
static void d_placement_flag(SnapArrays *a, int32 n) { a->h->flags |= MLM_TREE_HAS_PLACEMENT; }
static void d_neg_n(SnapArrays *a, int32 n) { a->h->n = -1; }
static void d_huge_n(SnapArrays *a, int32 n) { a->h->n = MLM_TREE_MAX_MEMBERS + 1; }
static void d_max_n(SnapArrays *a, int32 n) { a->h->n = MLM_TREE_MAX_MEMBERS; a->h->nroots = 0; }
static void d_nroots_big(SnapArrays *a, int32 n) { a->h->nroots = n + 1; }
static void d_nroots_off(SnapArrays *a, int32 n) { a->h->nroots -= 1; }
static void d_parent_self(SnapArrays *a, int32 n) { a->parent[n - 1] = n - 1; }
static void d_parent_fwd(SnapArrays *a, int32 n) { a->parent[1] = n - 1; }
static void d_parent_m2(SnapArrays *a, int32 n) { a->parent[2] = -2; }
static void d_size(SnapArrays *a, int32 n) { a->size[0] += 1; }
static void d_size_small(SnapArrays *a, int32 n) { a->size[0] -= 1; }

/* member n-1 re-hung under member 1, whose subtree closed long before */
static void
d_not_preorder(SnapArrays *a, int32 n)
{
	a->parent[n - 1] = 1;
}

/*
 * Three single-member roots (all sizes 1) with the last one re-hung under
 * the first: every popped size is right, but the sponsor is gone from the
 * DFS stack.
 */
static void
d_sponsor_closed(SnapArrays *a, int32 n)
{
	a->parent[2] = 0;
	a->h->nroots -= 1;
}

/* swap the ids of members x and y and their byid entries (byid stays sorted) */
static void
swap_ids(SnapArrays *a, int32 n, int32 x, int32 y)
{
	int64		t = a->ids[x];
	int32		k;

	a->ids[x] = a->ids[y];
	a->ids[y] = t;
	for (k = 0; k < n; k++)
	{
		if (a->byid[k] == x)
			a->byid[k] = y;
		else if (a->byid[k] == y)
			a->byid[k] = x;
	}
}

/* the first two children of the first root change ids: siblings descend */
static void
d_siblings_unordered(SnapArrays *a, int32 n)
{
	int32		c2 = 1 + a->size[1];

	swap_ids(a, n, 1, c2);
}

/* the first two roots change ids */
static void
d_roots_unordered(SnapArrays *a, int32 n)
{
	swap_ids(a, n, 0, a->size[0]);
}

static void d_byid_range(SnapArrays *a, int32 n) { a->byid[0] = n; }
static void d_byid_neg(SnapArrays *a, int32 n) { a->byid[n - 1] = -1; }

static void
d_byid_swap(SnapArrays *a, int32 n)
{
	int32		t = a->byid[0];

	a->byid[0] = a->byid[1];
	a->byid[1] = t;
}

static void
d_byid_repeat(SnapArrays *a, int32 n)
{
	a->byid[1] = a->byid[0];
}

static void
d_dup_id(SnapArrays *a, int32 n)
{
	a->ids[a->byid[1]] = a->ids[a->byid[0]];
}

static void d_stamp(SnapArrays *a, int32 n) { a->h->stamp ^= 1; }
static void d_pp_range(SnapArrays *a, int32 n) { a->pparent[1] = n; }
static void d_pp_m2(SnapArrays *a, int32 n) { a->pparent[1] = -2; }
static void d_pp_self(SnapArrays *a, int32 n) { a->pparent[2] = 2; }
static void d_pos_missing(SnapArrays *a, int32 n) { a->ppos[1] = -1; }
static void d_pos_extra(SnapArrays *a, int32 n) { a->ppos[0] = 0; }
static void d_pos_neg(SnapArrays *a, int32 n) { a->ppos[1] = -5; }

/* placement cycle between the last two members (both non-roots) */
static void
d_pp_cycle(SnapArrays *a, int32 n)
{
	a->pparent[n - 2] = n - 1;
	a->ppos[n - 2] = 7;
	a->pparent[n - 1] = n - 2;
	a->ppos[n - 1] = 7;
}

/* root 0 placed under the deepest member of its own placement subtree */
static void
d_pp_cycle_root(SnapArrays *a, int32 n)
{
	int32		j,
				best = -1,
				best_depth = 0;

	for (j = 1; j < n; j++)
	{
		int32		x = j,
					d = 0;

		while (a->pparent[x] >= 0)
		{
			x = a->pparent[x];
			d++;
		}
		if (x == 0 && d > best_depth)
		{
			best = j;
			best_depth = d;
		}
	}
	a->pparent[0] = best;
	a->ppos[0] = 9;
}

static void
d_pp_slot(SnapArrays *a, int32 n)
{
	int32		i,
				j;

	/* give some member the slot of another one */
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			if (a->pparent[i] >= 0 && a->pparent[j] >= 0 && a->pparent[i] != j &&
				a->pparent[j] != i)
			{
				a->pparent[j] = a->pparent[i];
				a->ppos[j] = a->ppos[i];
				return;
			}
}

static void
run_checks(void)
{
	Tree		t;
	size_t		len;
	char	   *buf;
	MlmTreeHeader h;

	/* valid snapshots */
	tree_init(&t, 0, false);
	buf = build(&t, &len);
	expect("empty tree", buf, len, MLM_TREE_OK);
	free(buf);
	tree_init(&t, 0, true);
	buf = build(&t, &len);
	expect("empty tree with placement", buf, len, MLM_TREE_OK);
	free(buf);
	tree_init(&t, 1, false);
	buf = build(&t, &len);
	expect("single member", buf, len, MLM_TREE_OK);
	free(buf);
	tree_forest(&t, false);
	buf = build(&t, &len);
	expect("two-root forest, ids out of build order", buf, len, MLM_TREE_OK);
	free(buf);
	tree_forest(&t, true);
	buf = build(&t, &len);
	expect("forest with binary placement", buf, len, MLM_TREE_OK);
	free(buf);
	tree_chain(&t, 200, true);
	buf = build(&t, &len);
	expect("200-deep chain with placement", buf, len, MLM_TREE_OK);
	free(buf);
	tree_star(&t, 100, true);
	buf = build(&t, &len);
	expect("100-member star, heap placement, negative ids", buf, len, MLM_TREE_OK);
	free(buf);

	/* length */
	tree_forest(&t, true);
	buf = build(&t, &len);
	expect("8 bytes short", buf, len - 8, MLM_TREE_BAD_LENGTH);
	expect("header only", buf, sizeof(MlmTreeHeader), MLM_TREE_BAD_LENGTH);
	expect("shorter than a header", buf, sizeof(MlmTreeHeader) - 1, MLM_TREE_BAD_LENGTH);
	expect("zero bytes", buf, 0, MLM_TREE_BAD_LENGTH);
	free(buf);
	{
		char	   *big;

		buf = build(&t, &len);
		big = calloc(1, len + 8);
		memcpy(big, buf, len);
		expect("8 bytes long", big, len + 8, MLM_TREE_BAD_LENGTH);
		free(big);
		free(buf);
	}
	tree_forest(&t, false);
	expect_damaged("placement flag without placement arrays", &t, d_placement_flag, false, MLM_TREE_BAD_LENGTH);
	memset(&h, 0, sizeof(h));
	h.version = MLM_TREE_VERSION;
	h.n = MLM_TREE_MAX_MEMBERS;
	expect("30M members claimed by a bare header", &h, sizeof(h), MLM_TREE_BAD_LENGTH);

	/* header */
	tree_forest(&t, true);
	expect_damaged("unknown version", &t, d_version, true, MLM_TREE_BAD_HEADER);
	expect_damaged("unknown flag", &t, d_flags, true, MLM_TREE_BAD_HEADER);
	expect_damaged("reserved not zero", &t, d_reserved, true, MLM_TREE_BAD_HEADER);
	expect_damaged("negative n", &t, d_neg_n, false, MLM_TREE_BAD_HEADER);
	expect_damaged("n over the maximum", &t, d_huge_n, false, MLM_TREE_BAD_HEADER);
	expect_damaged("n at the maximum, short buffer", &t, d_max_n, false, MLM_TREE_BAD_LENGTH);
	expect_damaged("nroots > n", &t, d_nroots_big, true, MLM_TREE_BAD_HEADER);
	expect_damaged("nroots off by one", &t, d_nroots_off, true, MLM_TREE_BAD_HEADER);

	/* sponsor structure */
	expect_damaged("sponsor is itself", &t, d_parent_self, true, MLM_TREE_BAD_PARENT);
	expect_damaged("sponsor after member", &t, d_parent_fwd, true, MLM_TREE_BAD_PARENT);
	expect_damaged("sponsor -2", &t, d_parent_m2, true, MLM_TREE_BAD_PARENT);
	expect_damaged("subtree size too big", &t, d_size, true, MLM_TREE_BAD_ORDER);
	expect_damaged("subtree size too small", &t, d_size_small, true, MLM_TREE_BAD_ORDER);
	expect_damaged("sponsor subtree already closed", &t, d_not_preorder, true, MLM_TREE_BAD_ORDER);
	tree_init(&t, 3, false);
	expect_damaged("sponsor closed, sizes consistent", &t, d_sponsor_closed, true, MLM_TREE_BAD_ORDER);
	tree_forest(&t, true);
	expect_damaged("siblings not in id order", &t, d_siblings_unordered, true, MLM_TREE_BAD_ORDER);
	expect_damaged("roots not in id order", &t, d_roots_unordered, true, MLM_TREE_BAD_ORDER);

	/* id index */
	expect_damaged("byid out of range", &t, d_byid_range, true, MLM_TREE_BAD_INDEX);
	expect_damaged("byid negative", &t, d_byid_neg, true, MLM_TREE_BAD_INDEX);
	expect_damaged("byid not sorted", &t, d_byid_swap, true, MLM_TREE_BAD_INDEX);
	expect_damaged("byid repeats an index", &t, d_byid_repeat, true, MLM_TREE_BAD_INDEX);
	expect_damaged("duplicate member id", &t, d_dup_id, true, MLM_TREE_DUPLICATE_ID);

	/* placement */
	expect_damaged("placement parent out of range", &t, d_pp_range, true, MLM_TREE_BAD_PLACEMENT);
	expect_damaged("placement parent -2", &t, d_pp_m2, true, MLM_TREE_BAD_PLACEMENT);
	expect_damaged("placed under itself", &t, d_pp_self, true, MLM_TREE_BAD_PLACEMENT);
	expect_damaged("placement parent without position", &t, d_pos_missing, true, MLM_TREE_BAD_PLACEMENT);
	expect_damaged("position without placement parent", &t, d_pos_extra, true, MLM_TREE_BAD_PLACEMENT);
	expect_damaged("negative position", &t, d_pos_neg, true, MLM_TREE_BAD_PLACEMENT);
	expect_damaged("two-member placement cycle", &t, d_pp_cycle, true, MLM_TREE_PLACEMENT_CYCLE);
	expect_damaged("root placed inside its own placement tree", &t, d_pp_cycle_root, true, MLM_TREE_PLACEMENT_CYCLE);
	expect_damaged("two members in one slot", &t, d_pp_slot, true, MLM_TREE_PLACEMENT_SLOT);
	tree_chain(&t, 200, true);
	expect_damaged("long chain closed into a cycle", &t, d_pp_cycle_root, true, MLM_TREE_PLACEMENT_CYCLE);

	/* the stamp is an identity, not a checksum: any value is valid */
	tree_forest(&t, true);
	expect_damaged("stamp changed", &t, d_stamp, false, MLM_TREE_OK);

	printf("1..%d\n", ntests);
	if (nfailed)
		printf("# %d of %d validator checks failed\n", nfailed, ntests);
}

/* ------------------------------------------------------------------ */

static const char *outdir;

static void
put(const char *name, const void *data, size_t len)
{
	char		path[4096];
	FILE	   *f;

	snprintf(path, sizeof(path), "%s/%s", outdir, name);
	f = fopen(path, "wb");
	if (!f || (len && fwrite(data, 1, len, f) != len) || fclose(f) != 0)
	{
		fprintf(stderr, "gen_seeds: cannot write %s: %s\n", path, strerror(errno));
		exit(2);
	}
}

static void
put_tree(const char *name, const Tree *t, Damage fix)
{
	size_t		len;
	char	   *buf = build(t, &len);

	if (fix)
	{
		SnapArrays	a;

		snap_arrays(&a, buf);
		fix(&a, t->n);
		snap_stamp(buf);
	}
	put(name, buf, len);
	free(buf);
}

/* structured seed: header bytes, then member bytes, then mutation bytes */
static void
put_struct(const char *name, uint8_t flags, uint16_t n, uint64_t seed,
		   const uint8_t *member, size_t member_len, int32 members, int vary,
		   const uint8_t *tail, size_t tail_len)
{
	uint8_t		buf[8192];
	size_t		len = 0;
	int32		i;
	int			k;

	buf[len++] = flags;
	buf[len++] = n & 0xFF;
	buf[len++] = n >> 8;
	for (k = 0; k < 8; k++)
		buf[len++] = (uint8_t) (seed >> (8 * k));
	for (i = 0; i < members; i++)
	{
		memcpy(buf + len, member, member_len);
		if (vary)
			buf[len] = (uint8_t) (buf[len] + i * vary);	/* vary the sponsor */
		len += member_len;
	}
	if (tail_len)
		memcpy(buf + len, tail, tail_len);
	len += tail_len;
	put(name, buf, len);
}

static void
write_seeds(void)
{
	Tree		t;
	static const uint8_t m1[] = {0x00};
	static const uint8_t m3[] = {0x03, 0x00, 0x01};
	static const uint8_t mut_int[] = {0x05, 0x03, 0x00, 0x05, 0x09, 0x01, 0x00, 0x0C, 0x10, 0x00};
	static const uint8_t mut_hdr[] = {0x03, 0x01, 0x02, 0x00, 0x07, 0x01, 0x00};

	tree_init(&t, 0, false);
	put_tree("raw-empty", &t, NULL);
	tree_init(&t, 0, true);
	put_tree("raw-empty-placement", &t, NULL);
	tree_init(&t, 1, false);
	put_tree("raw-single", &t, NULL);
	tree_forest(&t, false);
	put_tree("raw-forest", &t, NULL);
	tree_forest(&t, true);
	put_tree("raw-forest-placement", &t, NULL);
	put_tree("raw-bad-order", &t, d_not_preorder);
	put_tree("raw-bad-byid", &t, d_byid_swap);
	put_tree("raw-siblings-unordered", &t, d_siblings_unordered);
	put_tree("raw-dup-id", &t, d_dup_id);
	put_tree("raw-placement-cycle", &t, d_pp_cycle);
	put_tree("raw-placement-slot", &t, d_pp_slot);
	{
		size_t		len;
		char	   *buf = build(&t, &len);

		((MlmTreeHeader *) buf)->stamp ^= 1;
		put("raw-other-stamp", buf, len);
		free(buf);
	}
	tree_init(&t, 3, false);
	put_tree("raw-sponsor-closed", &t, d_sponsor_closed);
	tree_chain(&t, 64, true);
	put_tree("raw-chain-64", &t, NULL);
	tree_star(&t, 40, true);
	put_tree("raw-star-40", &t, NULL);

	put_struct("struct-chain", 0x00, 60, 0, m1, 1, 60, 0, NULL, 0);
	put_struct("struct-forest", 0x00, 80, 0x1234567890ABCDEFULL, m1, 1, 80, 37, NULL, 0);
	put_struct("struct-placement", 0x01, 50, 5, m3, 3, 50, 11, NULL, 0);
	put_struct("struct-mutate-rechecksum", 0x01 | (3 << 1) | 0x10, 30, 6, m3, 3, 30, 5,
			   mut_int, sizeof(mut_int));
	put_struct("struct-mutate-header", 0x00 | (2 << 1), 20, 2, m1, 1, 20, 3,
			   mut_hdr, sizeof(mut_hdr));
	put_struct("struct-short", 0x01 | (1 << 5), 10, 3, m3, 3, 10, 1, NULL, 0);
	put_struct("struct-long", 0x00 | (2 << 5), 10, 1, m1, 1, 10, 0, NULL, 0);
}

int
main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--check") == 0)
	{
		run_checks();
		return nfailed ? 1 : 0;
	}
	if (argc == 3 && strcmp(argv[1], "--write") == 0)
	{
		outdir = argv[2];
		write_seeds();
		return 0;
	}
	fprintf(stderr, "usage: %s --check | --write DIR\n", argv[0]);
	return 2;
}
