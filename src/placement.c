/*
 * placement.c
 *	  Where does a new recruit go?  Placement of new members into the
 *	  placement tree of a snapshot: forced-matrix spillover (breadth-first
 *	  below the sponsor), binary extreme left / right, and binary weaker leg
 *	  (by members or by volume).  One call places one member or a whole
 *	  ordered batch; a batch gives exactly the slots that placing the
 *	  members one by one would.
 *
 * Slots only ever fill, so for each sponsor the breadth-first search and
 * the extreme-leg walk resume where they stopped: a batch costs amortized
 * O(1) per member for spillover and extreme placement.  Weaker-leg member
 * counts use a Fenwick tree over the snapshot's placement preorder, so a
 * count is O(log n) whatever the depth.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "forest.h"
#include "idmap.h"
#include "mlm.h"
#include "network.h"

PG_FUNCTION_INFO_V1(mlm_place_many);

#define MAX_WIDTH 20

typedef enum PlaceMethod
{
	PLACE_SPILLOVER,
	PLACE_EXTREME_LEFT,
	PLACE_EXTREME_RIGHT,
	PLACE_WEAKER_LEG
} PlaceMethod;

/* Resumable breadth-first search below one sponsor. */
typedef struct BfsState
{
	int32	   *queue;
	int32		head;
	int32		len;
	int32		cap;
} BfsState;

typedef struct Placer
{
	int32		n0;				/* members of the snapshot */
	int32		n;				/* nodes so far (snapshot + placed) */
	int32		cap;
	int			width;
	int64	   *ids;
	int32	   *parent;			/* placement parent node or -1 */
	int32	   *child;			/* width slots per node, -1 = free */
	MlmIdMap	nodes;			/* id -> node */
	/* per sponsor node: resumable searches, created on demand */
	BfsState  **bfs;
	int32	   *extreme[2];		/* last node reached going left/right */
	/* weaker leg */
	bool	   *anonymous;		/* node is a probe without an id */
	bool		by_volume;
	mlm_dec    *volume;			/* subtree CV of snapshot nodes */
	int32	   *ppre;			/* placement preorder of snapshot nodes */
	int32	   *psize;
	int32	   *fenwick;		/* new members counted at their anchor */
	int32	   *anchor;			/* nearest snapshot ancestor of a node */
	int32	   *new_size;		/* subtree size of placed nodes */
} Placer;


/* The node of a member id, or -1. */
static int32
FindNode(Placer *p, int64 id)
{
	return MlmIdMapFind(&p->nodes, id);
}

/* Make a node findable by its id. */
static void
AddToHash(Placer *p, int32 node)
{
	MlmIdMapAdd(&p->nodes, p->ids[node], node);
}

static void
FenwickAdd(Placer *p, int32 i)
{
	for (i++; i <= p->n0; i += i & -i)
		p->fenwick[i]++;
}

static int32
FenwickPrefix(Placer *p, int32 i)
{
	int32		s = 0;

	for (; i > 0; i -= i & -i)
		s += p->fenwick[i];
	return s;
}

/* Members in the placement subtree of node x, placed ones included. */
static int64
SubtreeMembers(Placer *p, int32 x)
{
	if (x >= p->n0)
		return p->new_size[x];
	return (int64) p->psize[x] +
		FenwickPrefix(p, p->ppre[x] + p->psize[x]) - FenwickPrefix(p, p->ppre[x]);
}

static void
Link(Placer *p, int32 node, int32 parent, int pos)
{
	int32		a;

	p->parent[node] = parent;
	p->child[(Size) parent * p->width + pos] = node;
	if (p->fenwick)
	{
		p->new_size[node] = 1;
		for (a = parent; a >= p->n0; a = p->parent[a])
			p->new_size[a]++;
		p->anchor[node] = parent >= p->n0 ? p->anchor[parent] : parent;
		FenwickAdd(p, p->ppre[p->anchor[node]]);
	}
}

/* First free slot in breadth-first order below s, resuming earlier work. */
static void
Spillover(Placer *p, int32 s, int32 *parent, int *pos)
{
	BfsState   *st = p->bfs[s];

	if (st == NULL)
	{
		st = palloc0(sizeof(BfsState));
		st->cap = 16;
		st->queue = palloc(sizeof(int32) * st->cap);
		st->queue[st->len++] = s;
		p->bfs[s] = st;
	}
	for (;;)
	{
		int32		u = st->queue[st->head];
		int			k;

		for (k = 0; k < p->width; k++)
			if (p->child[(Size) u * p->width + k] == -1)
			{
				*parent = u;
				*pos = k;
				return;
			}
		/* u is full: its children join the queue in position order */
		if (st->len + p->width > st->cap)
		{
			st->cap = st->cap * 2 + p->width;
			st->queue = MlmReallocArray(st->queue, st->cap, sizeof(int32));
		}
		for (k = 0; k < p->width; k++)
			st->queue[st->len++] = p->child[(Size) u * p->width + k];
		st->head++;
		CHECK_FOR_INTERRUPTS();
	}
}

/* Follow position `side` down from s to the first free slot. */
static void
Extreme(Placer *p, int32 s, int side, int32 *parent, int *pos)
{
	int32		a = p->extreme[side][s] >= 0 ? p->extreme[side][s] : s;
	int64		steps = 0;

	while (p->child[(Size) a * p->width + side] != -1)
	{
		a = p->child[(Size) a * p->width + side];
		if ((++steps & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	p->extreme[side][s] = a;
	*parent = a;
	*pos = side;
}

static void
WeakerLeg(Placer *p, int32 s, int32 *parent, int *pos)
{
	int32		l = p->child[(Size) s * p->width + 0];
	int32		r = p->child[(Size) s * p->width + 1];
	int			side;

	if (p->by_volume)
	{
		mlm_dec		vl = (l >= 0 && l < p->n0) ? p->volume[l] : 0;
		mlm_dec		vr = (r >= 0 && r < p->n0) ? p->volume[r] : 0;

		side = vr < vl ? 1 : 0;
	}
	else
	{
		int64		ml = l >= 0 ? SubtreeMembers(p, l) : 0;
		int64		mr = r >= 0 ? SubtreeMembers(p, r) : 0;

		side = mr < ml ? 1 : 0;
	}
	Extreme(p, s, side, parent, pos);
}

/* Grow the per-node arrays to hold `need` nodes. */
static void
Reserve(Placer *p, int32 need)
{
	int32		old = p->cap;
	int32		cap;
	int32		i;

	if (need <= old)
		return;
	cap = Max(need, old + old / 2);
	if (old == 0)
	{
		/* first call: allocate, so the reallocations below have a chunk */
		p->ids = MlmAllocArray(1, sizeof(int64));
		p->parent = MlmAllocArray(1, sizeof(int32));
		p->child = MlmAllocArray(1, sizeof(int32));
		p->bfs = MlmAllocArray(1, sizeof(BfsState *));
		p->anonymous = MlmAllocArray(1, sizeof(bool));
		p->extreme[0] = MlmAllocArray(1, sizeof(int32));
		p->extreme[1] = MlmAllocArray(1, sizeof(int32));
		if (p->fenwick)
		{
			p->anchor = MlmAllocArray(1, sizeof(int32));
			p->new_size = MlmAllocArray(1, sizeof(int32));
		}
	}
	p->ids = MlmReallocArray(p->ids, cap, sizeof(int64));
	p->parent = MlmReallocArray(p->parent, cap, sizeof(int32));
	p->child = MlmReallocArray(p->child, (Size) cap * p->width, sizeof(int32));
	p->bfs = MlmReallocArray(p->bfs, cap, sizeof(BfsState *));
	p->anonymous = MlmReallocArray(p->anonymous, cap, sizeof(bool));
	p->extreme[0] = MlmReallocArray(p->extreme[0], cap, sizeof(int32));
	p->extreme[1] = MlmReallocArray(p->extreme[1], cap, sizeof(int32));
	if (p->fenwick)
	{
		p->anchor = MlmReallocArray(p->anchor, cap, sizeof(int32));
		p->new_size = MlmReallocArray(p->new_size, cap, sizeof(int32));
	}
	for (i = old; i < cap; i++)
	{
		p->bfs[i] = NULL;
		p->anonymous[i] = false;
		p->extreme[0][i] = p->extreme[1][i] = -1;
	}
	memset(p->child + (Size) old * p->width, 0xFF, sizeof(int32) * (Size) (cap - old) * p->width);
	p->cap = cap;
}

/*
 * mlm.place_many(t, member_ids[], sponsor_ids[], method, width, measure,
 * volumes): slots for new members, in array order.
 */
Datum
mlm_place_many(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MlmTreeHeader *hdr;
	MlmTreeView v;
	ArrayType  *ids_arr,
			   *sp_arr;
	Datum	   *ids_d,
			   *sp_d;
	bool	   *ids_null,
			   *sp_null;
	int			nnew,
				nsp;
	char	   *method_s;
	PlaceMethod method;
	int			width;
	char	   *measure;
	Placer		p;
	int32		i;
	int			k;

	{
		static const char *const names[] = {"t", "member_ids", "sponsor_ids", "method", "width"};

		MlmRequireArgs(fcinfo, lengthof(names), names);
	}
	hdr = DatumGetMlmTreeP(PG_GETARG_DATUM(0));
	MlmTreeSetView(&v, hdr);
	method_s = text_to_cstring(PG_GETARG_TEXT_PP(3));
	width = PG_GETARG_INT32(4);
	measure = PG_ARGISNULL(5) ? "members" : text_to_cstring(PG_GETARG_TEXT_PP(5));
	if (strcmp(method_s, "spillover") == 0)
		method = PLACE_SPILLOVER;
	else if (strcmp(method_s, "extreme_left") == 0)
		method = PLACE_EXTREME_LEFT;
	else if (strcmp(method_s, "extreme_right") == 0)
		method = PLACE_EXTREME_RIGHT;
	else if (strcmp(method_s, "weaker_leg") == 0)
		method = PLACE_WEAKER_LEG;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown placement method \"%s\"", method_s),
				 errhint("Use spillover, extreme_left, extreme_right or weaker_leg.")));
	if (width < 1 || width > MAX_WIDTH)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("width must be between 1 and %d", MAX_WIDTH)));
	if (method != PLACE_SPILLOVER && width != 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("method \"%s\" places in a binary tree: width must be 2", method_s)));
	if (strcmp(measure, "members") != 0 && strcmp(measure, "volume") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown measure \"%s\"", measure),
				 errhint("Use members or volume.")));
	if (strcmp(measure, "volume") == 0 && PG_ARGISNULL(6))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("measure \"volume\" needs a volumes relation")));

	ids_arr = PG_GETARG_ARRAYTYPE_P(1);
	sp_arr = PG_GETARG_ARRAYTYPE_P(2);
	deconstruct_array(ids_arr, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &ids_d, &ids_null, &nnew);
	deconstruct_array(sp_arr, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &sp_d, &sp_null, &nsp);
	if (nnew != nsp)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("member_ids has %d elements but sponsor_ids has %d", nnew, nsp)));
	if ((int64) v.n + nnew > MLM_TREE_MAX_MEMBERS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many members to place")));

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);

	/* the placement structure of the snapshot */
	memset(&p, 0, sizeof(p));
	p.n0 = p.n = v.n;
	p.width = width;
	p.by_volume = strcmp(measure, "volume") == 0;
	if (method == PLACE_WEAKER_LEG && !p.by_volume)
		p.fenwick = MlmAllocArrayZero((Size) v.n + 1, sizeof(int32));
	Reserve(&p, Max(v.n + nnew, 1));
	for (i = 0; i < v.n; i++)
	{
		p.ids[i] = v.ids[i];
		p.parent[i] = v.pparent ? v.pparent[i] : -1;
	}
	for (i = 0; i < v.n; i++)
	{
		if (p.parent[i] < 0)
			continue;
		/* a slot the method cannot see would make its answer wrong */
		if (v.ppos[i] >= width)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("member " INT64_FORMAT " is at position %d, outside width %d",
							v.ids[i], v.ppos[i], width),
					 errhint("Place with the width the placement tree was built with.")));
		p.child[(Size) p.parent[i] * width + v.ppos[i]] = i;
	}
	MlmIdMapInitEmpty(&p.nodes, v.n + nnew);
	for (i = 0; i < v.n; i++)
		AddToHash(&p, i);

	if (method == PLACE_WEAKER_LEG)
	{
		/* placement preorder / subtree sizes (or volumes) of the snapshot */
		int32	   *order = NULL;	/* NULL: no placement, all roots */
		int32		len;

		if (v.pparent)
			order = MlmForestOrder(p.parent, v.n, &len);
		p.psize = MlmAllocArray(Max(v.n, 1), sizeof(int32));
		p.ppre = MlmAllocArray(Max(v.n, 1), sizeof(int32));
		MlmForestShape(p.parent, p.child, width, order, v.n, p.psize, p.ppre);
		if (p.by_volume)
		{
			MlmSources	src;
			MlmNet	   *vnet;

			memset(&src, 0, sizeof(src));
			src.snapshot = hdr;
			src.volumes = PG_GETARG_OID(6);
			vnet = MlmLoadNetwork(&src);
			p.volume = MlmAllocArray(Max(v.n, 1), sizeof(mlm_dec));
			for (i = 0; i < v.n; i++)
				p.volume[i] = vnet->cv[i];
			MlmForestSumUp(p.parent, order, v.n, p.volume);
		}
	}

	for (k = 0; k < nnew; k++)
	{
		int64		id;
		int32		s;
		int32		parent = -1;
		int			pos = 0;
		int32		node;
		Datum		vals[4];
		bool		nulls[4] = {0};

		if (sp_null[k])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("sponsor ids must not be null"),
					 errdetail("Element %d of the batch.", k + 1)));
		/* a null member id is an anonymous probe: placed, never a sponsor */
		id = ids_null[k] ? 0 : DatumGetInt64(ids_d[k]);
		if (!ids_null[k] && FindNode(&p, id) >= 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNIQUE_VIOLATION),
					 errmsg("member " INT64_FORMAT " is already placed", id)));
		s = FindNode(&p, DatumGetInt64(sp_d[k]));
		if (s < 0 && ids_null[k])
			ereport(ERROR,
					(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
					 errmsg("sponsor " INT64_FORMAT " is not in the tree",
							DatumGetInt64(sp_d[k]))));
		if (s < 0)
			ereport(ERROR,
					(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
					 errmsg("sponsor " INT64_FORMAT " of member " INT64_FORMAT " is not in the tree",
							DatumGetInt64(sp_d[k]), id)));
		switch (method)
		{
			case PLACE_SPILLOVER:
				Spillover(&p, s, &parent, &pos);
				break;
			case PLACE_EXTREME_LEFT:
				Extreme(&p, s, 0, &parent, &pos);
				break;
			case PLACE_EXTREME_RIGHT:
				Extreme(&p, s, 1, &parent, &pos);
				break;
			case PLACE_WEAKER_LEG:
				WeakerLeg(&p, s, &parent, &pos);
				break;
		}
		node = p.n++;
		p.ids[node] = id;
		p.anonymous[node] = ids_null[k];
		if (!ids_null[k])
			AddToHash(&p, node);
		Link(&p, node, parent, pos);

		vals[0] = Int64GetDatum(id);
		nulls[0] = ids_null[k];
		vals[1] = sp_d[k];
		/* below an anonymous probe of this batch the parent has no id */
		vals[2] = Int64GetDatum(p.ids[parent]);
		nulls[2] = p.anonymous[parent];
		vals[3] = Int32GetDatum(pos);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, vals, nulls);
		CHECK_FOR_INTERRUPTS();
	}
	return (Datum) 0;
}
