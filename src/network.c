/*
 * network.c
 *	  The loader: one period's network from the caller's relations (or a
 *	  stored mlm.tree), read through source.c, checked (spec section 2),
 *	  assembled in sponsor preorder by the tree builder, with volumes and
 *	  carry-in moved to preorder positions through the id map.  Also the
 *	  group-volume fast path that needs no snapshot.
 */
#include "postgres.h"

#include "executor/spi.h"
#include "miscadmin.h"

#include "forest.h"
#include "idmap.h"
#include "mlm.h"
#include "network.h"
#include "source.h"
#include "tree.h"

/* Member rows collected before the tree is built. */
typedef struct MemberRows
{
	MemoryContext cxt;
	MlmTreeInput in;
	int64		cap;
	bool	   *status;
	int32	   *joined;
	uint64		hash;
	bool		any_placement;
	bool		descending_seen;	/* ids did not always increase */
	bool		with_placement; /* a placement value was seen: arrays kept */
	bool		ids_only;		/* the source has only id and sponsor_id */
	bool		v2;				/* member_type and payout_hold are read */
	bool	   *customer;		/* by row, with v2 */
	bool	   *hold;
	bool		any_customer;
	bool		any_hold;
	MlmIdList	bad_type;		/* member_type neither distributor nor customer */
	char	   *bad_type_text;
	int64		expected;		/* planner's row estimate: first allocation */
} MemberRows;

/* Allocate (old == 0) or grow an array of elem-sized entries to cap. */
static void
GrowArray(void **p, int64 old, int64 cap, Size elem)
{
	*p = old == 0 ? MlmAllocArray(cap, elem) : MlmReallocArray(*p, cap, elem);
}

/* Make room for more member rows (doubling; the first call allocates). */
static void
MemberRowsGrow(MemberRows *m)
{
	MlmTreeInput *in = &m->in;
	int64		r = in->n;
	MemoryContext old = MemoryContextSwitchTo(m->cxt);
	int64		cap = Max(m->cap * 2, Max(m->expected, 16384));

	if (cap > MLM_TREE_MAX_MEMBERS)
	{
		cap = MLM_TREE_MAX_MEMBERS;
		if (r >= cap)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("more than %d members", MLM_TREE_MAX_MEMBERS)));
	}
	GrowArray((void **) &in->ids, m->cap, cap, sizeof(int64));
	GrowArray((void **) &in->parents, m->cap, cap, sizeof(int64));
	GrowArray((void **) &in->parent_null, m->cap, cap, sizeof(bool));
	if (!m->ids_only)
	{
		GrowArray((void **) &m->status, m->cap, cap, sizeof(bool));
		GrowArray((void **) &m->joined, m->cap, cap, sizeof(int32));
	}
	if (m->v2)
	{
		GrowArray((void **) &m->customer, m->cap, cap, sizeof(bool));
		GrowArray((void **) &m->hold, m->cap, cap, sizeof(bool));
	}
	if (m->with_placement)
	{
		GrowArray((void **) &in->pparents, m->cap, cap, sizeof(int64));
		GrowArray((void **) &in->pparent_null, m->cap, cap, sizeof(bool));
		GrowArray((void **) &in->pos, m->cap, cap, sizeof(int32));
		GrowArray((void **) &in->pos_null, m->cap, cap, sizeof(bool));
	}
	m->cap = cap;
	MemoryContextSwitchTo(old);
}

static void
MemberRow(void *arg, const MlmRow *row)
{
	MemberRows *m = (MemberRows *) arg;
	MlmTreeInput *in = &m->in;
	int64		r = in->n;

	if (r == m->cap)
		MemberRowsGrow(m);

	if (row->null[0])
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("member id must not be null"),
				 errdetail("Row " INT64_FORMAT " of the members relation has a null id.", r + 1)));
	in->ids[r] = MlmRowInt64(row, 0);
	if (r > 0 && in->ids[r] <= in->ids[r - 1])
		m->descending_seen = true;
	in->parent_null[r] = row->null[1];
	in->parents[r] = row->null[1] ? 0 : MlmRowInt64(row, 1);
	if (m->ids_only)
	{
		/* the source reads only id and sponsor_id */
		in->n = r + 1;
		return;
	}
	if (!m->with_placement && (!row->null[2] || !row->null[3]))
	{
		/* the first placement value: from now on keep placement arrays */
		int64		k;
		MemoryContext old = MemoryContextSwitchTo(m->cxt);

		m->with_placement = true;
		in->pparents = MlmAllocArray(m->cap, sizeof(int64));
		in->pparent_null = MlmAllocArray(m->cap, sizeof(bool));
		in->pos = MlmAllocArray(m->cap, sizeof(int32));
		in->pos_null = MlmAllocArray(m->cap, sizeof(bool));
		MemoryContextSwitchTo(old);
		for (k = 0; k < r; k++)
			in->pparent_null[k] = in->pos_null[k] = true;
	}
	if (m->with_placement)
	{
		in->pparent_null[r] = row->null[2];
		in->pparents[r] = row->null[2] ? 0 : MlmRowInt64(row, 2);
		in->pos_null[r] = row->null[3];
		in->pos[r] = row->null[3] ? 0 : MlmRowInt32(row, 3, in->ids[r]);
		if (!row->null[2] || !row->null[3])
			m->any_placement = true;
	}
	m->status[r] = row->null[4] ? true : DatumGetBool(row->v[4]);
	m->joined[r] = row->null[5] ? MLM_NO_DATE : MlmRowDate(row, 5);
	m->hash += MlmMix64((uint64) in->ids[r] * 31 + (in->parent_null[r] ? 7 : (uint64) in->parents[r]) +
						((uint64) m->status[r] << 40) + ((uint64) (uint32) m->joined[r] << 20) +
						(!m->with_placement || in->pparent_null[r] ? 0 :
						 (uint64) in->pparents[r] * 131 + in->pos[r]));
	if (m->v2)
	{
		/* member_type (spec 12): distributor (also null) or customer */
		m->customer[r] = false;
		if (!row->null[6] && !MlmRowTextIs(row, 6, "distributor", 11))
		{
			if (MlmRowTextIs(row, 6, "customer", 8))
				m->customer[r] = m->any_customer = true;
			else
			{
				if (m->bad_type.count == 0)
					m->bad_type_text = MlmRowText(row, 6);
				MlmIdListAdd(&m->bad_type, in->ids[r]);
			}
		}
		m->hold[r] = !row->null[7] && DatumGetBool(row->v[7]);
		m->any_hold |= m->hold[r];
		/* only non-default values change the checksum of 0.1's inputs */
		if (m->customer[r] || m->hold[r])
			m->hash += MlmMix64((uint64) in->ids[r] * 7919 + (m->customer[r] ? 1 : 0) +
								(m->hold[r] ? 2 : 0));
	}
	in->n = r + 1;
}

typedef struct VolumeRows
{
	int64		rows;			/* volume rows read */
	const MlmIdMap *map;
	mlm_dec    *pv;				/* by input row */
	mlm_dec    *cv;				/* NULL when CV is not wanted */
	mlm_dec    *rv;				/* NULL when RV is not read */
	MlmIdList	orphans;
	uint64		hash;
} VolumeRows;

static void
VolumeRow(void *arg, const MlmRow *row)
{
	VolumeRows *vr = (VolumeRows *) arg;
	int64		id;
	int32		i;
	mlm_dec		pv = 0,
				cv = 0;

	vr->rows++;
	if (row->null[0])
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("volume row " INT64_FORMAT " has a null member_id", vr->rows)));
	id = MlmRowInt64(row, 0);
	i = MlmIdMapFind(vr->map, id);
	if (i < 0)
	{
		MlmIdListAdd(&vr->orphans, id);
		return;
	}
	if (!row->null[1])
		pv = MlmRowAmount(row, 1, "pv", id);
	if (!row->null[2] && vr->cv)
		cv = MlmRowAmount(row, 2, "cv", id);
	vr->pv[i] = MlmDecAdd(vr->pv[i], pv);
	if (vr->cv)
		vr->cv[i] = MlmDecAdd(vr->cv[i], cv);
	if (vr->rv && !row->null[3])
	{
		mlm_dec		rv = MlmRowAmount(row, 3, "rv", id);

		vr->rv[i] = MlmDecAdd(vr->rv[i], rv);
		if (rv != 0)
			vr->hash += MlmMix64((uint64) id * 104729 + (uint64) rv + (uint64) (rv >> 64));
	}
	vr->hash += MlmMix64((uint64) id ^ MlmMix64((uint64) pv ^ ((uint64) (pv >> 64) << 7)) ^
						 MlmMix64((uint64) cv * 3 + (uint64) (cv >> 64)));
}

typedef struct StateRows
{
	MlmNet	   *net;
	const MlmSources *src;
	const MlmIdMap *map;
	const int32 *row_to_index;
	bool	   *seen;
	MlmIdList	orphans;
	MlmIdList	dups;
	MlmIdList	bad_rank;		/* rank names the plan does not have */
	char	   *bad_rank_name;
	MlmIdList	bad_grace;		/* negative grace */
	int		   *rank_len;		/* strlen of each rank name */
	uint64		hash;
} StateRows;

/*
 * An array filled by input row (volumes, the state), moved to preorder
 * positions in one pass (sequential reads, independent writes): filling it
 * in preorder directly would cost a cache miss per row and array.
 */
static void *
ToPreorder(void *by_row, Size elem, const int32 *row_to_index, int32 n)
{
	char	   *out = MlmAllocArray(Max(n, 1), elem);
	const char *in = by_row;
	int32		r;

	for (r = 0; r < n; r++)
		memcpy(out + (Size) row_to_index[r] * elem, in + (Size) r * elem, elem);
	pfree(by_row);
	return out;
}

/* A rank name of the state -> rank index (null = rank 0); -1 unknown. */
static int
StateRank(const StateRows *sr, const MlmRow *row, int c)
{
	int			r;

	if (row->null[c])
		return 0;
	for (r = 0; r < sr->src->nranks; r++)
		if (MlmRowTextIs(row, c, sr->src->rank_names[r], sr->rank_len[r]))
			return r;
	return -1;
}

/*
 * One row of the previous state (spec 13.2): a member's carry, title and
 * paid-as rank, grace and balance; absent columns read as null/0.
 */
static void
StateRow(void *arg, const MlmRow *row)
{
	StateRows  *sr = (StateRows *) arg;
	MlmNet	   *net = sr->net;
	int64		id;
	int32		i;
	int			c;

	net->carry_rows++;
	if (row->null[0])
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("state row " INT64_FORMAT " has a null member_id", net->carry_rows)));
	id = MlmRowInt64(row, 0);
	i = MlmIdMapFind(sr->map, id);
	if (i < 0)
	{
		MlmIdListAdd(&sr->orphans, id);
		return;
	}
	/* by input row (ids arrive in order): moved to preorder after the scan */
	if (sr->seen[i])
	{
		MlmIdListAdd(&sr->dups, id);
		return;
	}
	sr->seen[i] = true;
	if (sr->src->use_carry)
	{
		net->carry_left[i] = row->null[1] ? 0 : MlmRowAmount(row, 1, "carry_left", id);
		net->carry_right[i] = row->null[2] ? 0 : MlmRowAmount(row, 2, "carry_right", id);
		sr->hash += MlmMix64((uint64) id * 17 + (uint64) net->carry_left[i] * 5 + (uint64) net->carry_right[i]);
	}
	if (!sr->src->customers)
		return;
	for (c = 3; c <= 4; c++)
	{
		int			r = StateRank(sr, row, c);

		if (r < 0)
		{
			if (sr->bad_rank.count == 0)
				sr->bad_rank_name = MlmRowText(row, c);
			MlmIdListAdd(&sr->bad_rank, id);
			return;
		}
		if (c == 3)
			net->title_in[i] = (int16) r;
		else
			net->paid_as_in[i] = (int16) r;
	}
	if (!row->null[5])
	{
		net->grace_in[i] = MlmRowInt32(row, 5, id);
		if (net->grace_in[i] < 0)
			MlmIdListAdd(&sr->bad_grace, id);
	}
	if (!row->null[6])
		net->balance_in[i] = MlmRowAmount(row, 6, "balance", id);
	if (net->title_in[i] || net->paid_as_in[i] || net->grace_in[i] || net->balance_in[i])
		sr->hash += MlmMix64((uint64) id * 31337 + ((uint64) net->title_in[i] << 8) +
							 ((uint64) net->paid_as_in[i] << 24) + ((uint64) net->grace_in[i] << 40) +
							 (uint64) net->balance_in[i] * 3 + (uint64) (net->balance_in[i] >> 64));
}

/* One rule of spec 12 and the members that break it. */
typedef struct CustomerRule
{
	const char *message;
	const char *label;			/* of the ids in the detail */
	const char *hint;
	MlmIdList	ids;
} CustomerRule;

/*
 * Customers (spec 12): check their rules, then fold each into its
 * attributed distributor, the nearest distributor above it, in one
 * top-down pass (a customer's sponsor comes before it in preorder).
 */
static void
FoldCustomers(MlmNet *net)
{
	int32		n = net->n;
	const int32 *parent = net->v.parent;
	const int32 *pparent = net->v.pparent;
	int32	   *dist;
	CustomerRule rules[] = {
		{"a customer cannot be a root of the sponsor tree", "Customers without sponsor_id",
		"A customer belongs to the distributor who sponsored it."},
		{"a customer can sponsor only customers", "Distributors sponsored by a customer", NULL},
		{"a customer has no placement", "Customers with a placement_id",
		"Leave placement_id and position null for customers."},
		{"a customer cannot be a placement parent", "Members placed under a customer", NULL},
	};
	int32		i;
	int			k;

	for (i = 0; i < n; i++)
	{
		int32		p = parent[i];
		bool		placed = pparent && pparent[i] >= 0;

		if (net->customer[i] && p < 0)
			MlmIdListAdd(&rules[0].ids, net->v.ids[i]);
		if (!net->customer[i] && p >= 0 && net->customer[p])
			MlmIdListAdd(&rules[1].ids, net->v.ids[i]);
		if (net->customer[i] && placed)
			MlmIdListAdd(&rules[2].ids, net->v.ids[i]);
		if (placed && net->customer[pparent[i]])
			MlmIdListAdd(&rules[3].ids, net->v.ids[i]);
	}
	for (k = 0; k < lengthof(rules); k++)
		if (rules[k].ids.count > 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s", rules[k].message),
					 rules[k].hint ? errhint("%s", rules[k].hint) : 0,
					 MlmIdListDetail(rules[k].label, &rules[k].ids)));

	net->own_pv = MlmAllocArray(Max(n, 1), sizeof(mlm_dec));
	net->own_cv = MlmAllocArray(Max(n, 1), sizeof(mlm_dec));
	net->ncustomers = MlmAllocArrayZero(Max(n, 1), sizeof(int32));
	memcpy(net->own_pv, net->pv, sizeof(mlm_dec) * n);
	memcpy(net->own_cv, net->cv, sizeof(mlm_dec) * n);
	dist = MlmAllocArray(Max(n, 1), sizeof(int32));
	for (i = 0; i < n; i++)
	{
		int32		d;

		if (!net->customer[i])
		{
			dist[i] = i;
			continue;
		}
		d = dist[i] = dist[parent[i]];
		net->ncustomer++;
		net->pv[d] = MlmDecAdd(net->pv[d], net->pv[i]);
		net->cv[d] = MlmDecAdd(net->cv[d], net->cv[i]);
		if (net->own_pv[i] > 0)
			net->ncustomers[d]++;
		net->pv[i] = net->cv[i] = 0;
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	pfree(dist);
}

/* Check placement positions against the plan's width (spec section 2, 10). */
static void
CheckPlacement(const MlmSources *src, MlmNet *net, bool any_placement)
{
	MlmIdList	bad = {{0}, 0};
	int32		i;

	if (src->need_placement && !any_placement && net->n >= 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the plan pays on the placement tree but no member has a placement_id"),
				 errhint("Fill placement_id and position in the members relation.")));
	if (src->placement_width <= 0 || net->v.pparent == NULL)
		return;
	for (i = 0; i < net->n; i++)
		if (net->v.pparent[i] >= 0 && net->v.ppos[i] >= src->placement_width)
			MlmIdListAdd(&bad, net->v.ids[i]);
	if (bad.count > 0)
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("placement position out of range 0 .. %d", src->placement_width - 1),
				 MlmIdListDetail("Members", &bad)));
}

/* The spec's columns of each input relation (spec section 1). */
static const MlmColSpec member_cols[] = {
	{"id", MLM_COL_ID, true},
	{"sponsor_id", MLM_COL_ID, true},
	{"placement_id", MLM_COL_ID, false},
	{"position", MLM_COL_INT, false},
	{"active_status", MLM_COL_BOOL, false},
	{"joined", MLM_COL_DATE, false},
	/* version 2 (spec 12): read by the engine, which folds customers */
	{"member_type", MLM_COL_TEXT, false},
	{"payout_hold", MLM_COL_BOOL, false},
};
#define MEMBER_COLS_V1 6
static const MlmColSpec sponsor_cols[] = {	/* just the sponsor tree */
	{"id", MLM_COL_ID, true},
	{"sponsor_id", MLM_COL_ID, true},
};
static const MlmColSpec volume_cols[] = {
	{"member_id", MLM_COL_ID, true},
	{"pv", MLM_COL_AMOUNT, true},
	{"cv", MLM_COL_AMOUNT, true},
	{"rv", MLM_COL_AMOUNT, false},	/* version 2: the engine's */
};
#define VOLUME_COLS_V1 3
/* the previous state (spec 13.2); 0.1's carry relation is one */
static const MlmColSpec state_cols[] = {
	{"member_id", MLM_COL_ID, true},
	{"carry_left", MLM_COL_AMOUNT, false},
	{"carry_right", MLM_COL_AMOUNT, false},
	{"title_rank", MLM_COL_TEXT, false},
	{"paid_as_rank", MLM_COL_TEXT, false},
	{"grace", MLM_COL_INT, false},
	{"balance", MLM_COL_AMOUNT, false},
};

MlmNet *
MlmLoadNetwork(const MlmSources *src)
{
	MemoryContext cxt = CurrentMemoryContext;
	MlmNet	   *net = palloc0(sizeof(MlmNet));
	MemberRows	mr = {0};
	VolumeRows	vr;
	MlmSource	msrc,
				vsrc,
				csrc;
	MlmPeriodFilter period;
	int32	   *row_to_index;
	MlmIdMap		map;
	int64		r;
	int32		i;

	/* column checks first, so a missing column fails before any work */
	period.column = src->period_column;
	period.label = src->period_label;
	period.start = src->period_start;
	period.end = src->period_end;
	period.time_zone = src->time_zone;
	if (src->snapshot == NULL)
	{
		MlmSourcePrepare(&msrc, src->members, "members", member_cols,
						 src->customers ? lengthof(member_cols) : MEMBER_COLS_V1,
						 src->read_as_owner, NULL);
	}
	MlmSourcePrepare(&vsrc, src->volumes, "volumes", volume_cols,
					 src->customers ? lengthof(volume_cols) : VOLUME_COLS_V1,
					 src->read_as_owner, &period);
	if (OidIsValid(src->carry))
		MlmSourcePrepare(&csrc, src->carry, "state", state_cols, lengthof(state_cols),
						 src->read_as_owner, NULL);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	if (src->snapshot)
	{
		/* members from a stored mlm.tree: all active_status true, no dates */
		MemoryContextSwitchTo(cxt);
		net->tree = MemoryContextAllocHuge(src->tree_cxt ? src->tree_cxt : cxt,
										   VARSIZE(src->snapshot));
		memcpy(net->tree, src->snapshot, VARSIZE(src->snapshot));
		MlmTreeSetView(&net->v, net->tree);
		net->n = net->v.n;
		net->member_rows = net->n;
		net->status = MlmAllocArray(Max(net->n, 1), sizeof(bool));
		net->joined = MlmAllocArray(Max(net->n, 1), sizeof(int32));
		row_to_index = MlmAllocArray(Max(net->n, 1), sizeof(int32));
		for (i = 0; i < net->n; i++)
		{
			net->status[i] = true;
			net->joined[i] = MLM_NO_DATE;
			row_to_index[i] = i;
			if (net->v.pparent && net->v.pparent[i] >= 0)
				mr.any_placement = true;
			mr.hash += MlmMix64((uint64) net->v.ids[i] * 31 + (uint64) net->v.parent[i]);
		}
		MlmIdMapBuild(&map, net->v.ids, net->n, false);
	}
	else
	{
		mr.cxt = cxt;
		mr.expected = msrc.reltuples;
		mr.v2 = src->customers;
		MemberRowsGrow(&mr);	/* allocated even when there are no rows */
		MlmSourceScan(&msrc, MemberRow, &mr);
		if (mr.bad_type.count > 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid member_type \"%s\"", mr.bad_type_text),
					 errhint("member_type is \"distributor\" (or null) or \"customer\", in lower case."),
					 MlmIdListDetail("Members", &mr.bad_type)));

		MemoryContextSwitchTo(cxt);
		/* placement arrays only when the members relation has placement */
		mr.in.has_placement = mr.any_placement;
		mr.in.ascending = !mr.descending_seen;
		net->tree = MlmTreeBuild(&mr.in, &row_to_index);
		if (src->tree_cxt)
		{
			/* moved now, while little else is allocated */
			MlmTreeHeader *kept = MemoryContextAllocHuge(src->tree_cxt, VARSIZE(net->tree));

			memcpy(kept, net->tree, VARSIZE(net->tree));
			pfree(net->tree);
			net->tree = kept;
		}
		MlmTreeSetView(&net->v, net->tree);
		net->n = net->v.n;
		net->member_rows = mr.in.n;
		net->status = MlmAllocArray(Max(net->n, 1), sizeof(bool));
		net->joined = MlmAllocArray(Max(net->n, 1), sizeof(int32));
		for (r = 0; r < mr.in.n; r++)
		{
			net->status[row_to_index[r]] = mr.status[r];
			net->joined[row_to_index[r]] = mr.joined[r];
		}
		if (mr.any_customer)
		{
			net->customer = MlmAllocArray(Max(net->n, 1), sizeof(bool));
			for (r = 0; r < mr.in.n; r++)
				net->customer[row_to_index[r]] = mr.customer[r];
		}
		if (mr.any_hold)
		{
			net->hold = MlmAllocArray(Max(net->n, 1), sizeof(bool));
			for (r = 0; r < mr.in.n; r++)
				net->hold[row_to_index[r]] = mr.hold[r];
		}
		if (mr.v2)
		{
			pfree(mr.customer);
			pfree(mr.hold);
		}
		MlmIdMapBuild(&map, mr.in.ids, (int32) mr.in.n, !mr.descending_seen);
		pfree(mr.in.ids);
		pfree(mr.in.parents);
		pfree(mr.in.parent_null);
		if (mr.with_placement)
		{
			pfree(mr.in.pparents);
			pfree(mr.in.pparent_null);
			pfree(mr.in.pos);
			pfree(mr.in.pos_null);
		}
		pfree(mr.status);
		pfree(mr.joined);
	}
	CheckPlacement(src, net, mr.any_placement);
	if (src->need_placement && net->v.pparent != NULL)
		net->porder = MlmForestOrder(net->v.pparent, net->n, &net->porder_len);

	net->depth = MlmAllocArray(Max(net->n, 1), sizeof(int32));
	for (i = 0; i < net->n; i++)
		net->depth[i] = net->v.parent[i] < 0 ? 0 : net->depth[net->v.parent[i]] + 1;

	/* volumes are summed by input row, then moved to preorder once */
	memset(&vr, 0, sizeof(vr));
	vr.map = &map;
	vr.pv = MlmAllocArrayZero(Max(net->n, 1), sizeof(mlm_dec));
	vr.cv = MlmAllocArrayZero(Max(net->n, 1), sizeof(mlm_dec));
	if (src->customers && vsrc.attnum[3] != 0)
		vr.rv = MlmAllocArrayZero(Max(net->n, 1), sizeof(mlm_dec));
	MlmSourceScan(&vsrc, VolumeRow, &vr);
	net->volume_rows = vr.rows;
	if (vr.orphans.count > 0)
		ereport(ERROR,
				(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
				 errmsg("volume rows for ids that are not members"),
				 MlmIdListDetail("Unknown member ids", &vr.orphans)));
	MemoryContextSwitchTo(cxt);
	net->pv = ToPreorder(vr.pv, sizeof(mlm_dec), row_to_index, net->n);
	net->cv = ToPreorder(vr.cv, sizeof(mlm_dec), row_to_index, net->n);
	if (vr.rv)
		net->rv = ToPreorder(vr.rv, sizeof(mlm_dec), row_to_index, net->n);
	if (net->customer)
		FoldCustomers(net);

	net->input_hash = MlmMix64(mr.hash) ^ MlmMix64(vr.hash + 1);
	/*
	 * A state relation with only carry columns is 0.1's carry relation, which
	 * a plan without a binary bonus ignores (spec 10), as 0.1 did.
	 */
	if (OidIsValid(src->carry) && !src->use_carry &&
		csrc.attnum[3] == 0 && csrc.attnum[4] == 0 && csrc.attnum[5] == 0 && csrc.attnum[6] == 0)
		net->carry_rows = 0;
	else if (OidIsValid(src->carry))
	{
		StateRows	sr;

		MemoryContextSwitchTo(cxt);
		if (src->use_carry)
		{
			net->carry_left = MlmAllocArrayZero(Max(net->n, 1), sizeof(mlm_dec));
			net->carry_right = MlmAllocArrayZero(Max(net->n, 1), sizeof(mlm_dec));
		}
		if (src->customers)
		{
			net->title_in = MlmAllocArrayZero(Max(net->n, 1), sizeof(int16));
			net->paid_as_in = MlmAllocArrayZero(Max(net->n, 1), sizeof(int16));
			net->grace_in = MlmAllocArrayZero(Max(net->n, 1), sizeof(int32));
			net->balance_in = MlmAllocArrayZero(Max(net->n, 1), sizeof(mlm_dec));
		}
		memset(&sr, 0, sizeof(sr));
		sr.net = net;
		sr.src = src;
		sr.map = &map;
		sr.row_to_index = row_to_index;
		sr.seen = MlmAllocArrayZero(Max(net->n, 1), sizeof(bool));
		sr.rank_len = palloc(sizeof(int) * Max(src->nranks, 1));
		for (r = 0; r < src->nranks; r++)
			sr.rank_len[r] = strlen(src->rank_names[r]);
		MlmSourceScan(&csrc, StateRow, &sr);
		MemoryContextSwitchTo(cxt);
		if (net->carry_left)
		{
			net->carry_left = ToPreorder(net->carry_left, sizeof(mlm_dec), row_to_index, net->n);
			net->carry_right = ToPreorder(net->carry_right, sizeof(mlm_dec), row_to_index, net->n);
		}
		if (net->title_in)
		{
			net->title_in = ToPreorder(net->title_in, sizeof(int16), row_to_index, net->n);
			net->paid_as_in = ToPreorder(net->paid_as_in, sizeof(int16), row_to_index, net->n);
			net->grace_in = ToPreorder(net->grace_in, sizeof(int32), row_to_index, net->n);
			net->balance_in = ToPreorder(net->balance_in, sizeof(mlm_dec), row_to_index, net->n);
		}
		if (sr.orphans.count > 0)
			ereport(ERROR,
					(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
					 errmsg("state rows for ids that are not members"),
					 MlmIdListDetail("Unknown member ids", &sr.orphans)));
		if (sr.dups.count > 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNIQUE_VIOLATION),
					 errmsg("more than one state row for a member"),
					 MlmIdListDetail("Member ids", &sr.dups)));
		if (sr.bad_rank.count > 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("rank \"%s\" of the previous state does not exist in the plan",
							sr.bad_rank_name),
					 errhint("A plan version that renames or removes a rank needs the state migrated to its rank names."),
					 MlmIdListDetail("Members", &sr.bad_rank)));
		if (sr.bad_grace.count > 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("negative grace in the previous state"),
					 MlmIdListDetail("Members", &sr.bad_grace)));
		pfree(sr.seen);
		net->input_hash ^= MlmMix64(sr.hash + 2);
	}

	SPI_finish();
	MemoryContextSwitchTo(cxt);
	pfree(row_to_index);
	MlmIdMapFree(&map);
	return net;
}

/*
 * GV of every member without building a snapshot, for the common input
 * where ids arrive in increasing order and every sponsor's id is below its
 * recruit's (ERP serials): rows are then already parents-first, so one
 * backward pass over the rows sums the group volumes.  Returns false,
 * having computed nothing, for any other input: the caller then takes the
 * general path, which also reports cycles.  Orphans and volume rows of
 * non-members raise the same errors as the general path.
 */
bool
MlmGroupVolumeFast(Oid members, Oid volumes, int64 **ids_out, mlm_dec **gv_out,
				   int32 *n_out)
{
	MemoryContext cxt = CurrentMemoryContext;
	MemberRows	mr = {0};
	VolumeRows	vr;
	MlmSource	msrc,
				vsrc;
	MlmIdMap		map;
	int32	   *prow;
	int32		n,
				r;
	MlmIdList	orphans = {{0}, 0};

	MlmSourcePrepare(&msrc, members, "members", sponsor_cols, lengthof(sponsor_cols), false, NULL);
	MlmSourcePrepare(&vsrc, volumes, "volumes", volume_cols, VOLUME_COLS_V1, false, NULL);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	mr.cxt = cxt;
	mr.ids_only = true;
	mr.expected = msrc.reltuples;
	MemberRowsGrow(&mr);
	MlmSourceScan(&msrc, MemberRow, &mr);
	MemoryContextSwitchTo(cxt);
	n = (int32) mr.in.n;
	if (mr.descending_seen)
	{
		SPI_finish();
		return false;
	}

	/* sponsors: must exist, and come before their recruits */
	MlmIdMapBuild(&map, mr.in.ids, n, true);
	prow = MlmAllocArray(Max(n, 1), sizeof(int32));
	for (r = 0; r < n; r++)
	{
		prow[r] = -1;
		if (mr.in.parent_null[r])
			continue;
		prow[r] = MlmIdMapFind(&map, mr.in.parents[r]);
		if (prow[r] < 0)
			MlmIdListAdd(&orphans, mr.in.ids[r]);
		else if (prow[r] >= r)
		{
			SPI_finish();
			return false;
		}
	}
	if (orphans.count > 0)
		ereport(ERROR,
				(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
				 errmsg("sponsor_id is not a member of the tree"),
				 MlmIdListDetail("Members whose sponsor_id is missing", &orphans)));

	memset(&vr, 0, sizeof(vr));
	vr.map = &map;
	vr.pv = MlmAllocArrayZero(Max(n, 1), sizeof(mlm_dec));
	vr.cv = NULL;
	MlmSourceScan(&vsrc, VolumeRow, &vr);
	SPI_finish();
	MemoryContextSwitchTo(cxt);
	if (vr.orphans.count > 0)
		ereport(ERROR,
				(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
				 errmsg("volume rows for ids that are not members"),
				 MlmIdListDetail("Unknown member ids", &vr.orphans)));

	MlmForestSumUp(prow, NULL, n, vr.pv);
	*ids_out = mr.in.ids;
	*gv_out = vr.pv;
	*n_out = n;
	return true;
}

/* The input contract of a registered source (see network.h). */
bool
MlmCheckInputColumns(Oid members, Oid volumes, Oid carry, const char *period_column)
{
	MlmSource	src;

	MlmSourcePrepare(&src, members, "members", member_cols, lengthof(member_cols), false, NULL);
	MlmSourcePrepare(&src, volumes, "volumes", volume_cols, lengthof(volume_cols), false, NULL);
	if (OidIsValid(carry))
		MlmSourcePrepare(&src, carry, "state", state_cols, lengthof(state_cols), false, NULL);
	return MlmSourcePeriodIsLabel(volumes, period_column);
}
