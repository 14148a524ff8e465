/*
 * tree_io.c
 *	  Text and binary I/O of mlm.tree.
 *
 * Text form: {entry,entry,...} in sponsor preorder, each entry
 *	 id				a root without placement
 *	 id:sponsor		a member without placement
 *	 id:sponsor:placement:position	(sponsor/placement empty when null)
 * Input goes through the same builder (and checks) as the aggregate.
 *
 * Binary form: version byte, flags byte, int32 n, int32 nroots, then the
 * snapshot arrays in network order.  recv treats the bytes as untrusted:
 * counts are checked against the bytes present before any allocation and
 * the result goes through the plain-C validator of tree_core.c.
 */
#include "postgres.h"

#include "fmgr.h"
#include "libpq/pqformat.h"
#include "parser/scansup.h"
#include "utils/builtins.h"

#include "mlm.h"
#include "tree.h"

PG_FUNCTION_INFO_V1(mlm_tree_in);
PG_FUNCTION_INFO_V1(mlm_tree_out);
PG_FUNCTION_INFO_V1(mlm_tree_recv);
PG_FUNCTION_INFO_V1(mlm_tree_send);

static void
SyntaxError(const char *input, const char *where, const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type mlm.tree: %s", why),
			 errdetail("Near character %d.", (int) (where - input) + 1)));
}

/* Parse an optional signed 64-bit integer; *present = false when empty. */
static const char *
ParseId(const char *input, const char *p, int64 *out, bool *present)
{
	uint64		v = 0;
	bool		neg = false;
	const char *start;

	while (scanner_isspace(*p))
		p++;
	if (*p == '-')
	{
		neg = true;
		p++;
	}
	start = p;
	while (*p >= '0' && *p <= '9')
	{
		if (v > (UINT64_C(9223372036854775808) - (uint64) (*p - '0')) / 10)
			SyntaxError(input, p, "member id out of range");
		v = v * 10 + (uint64) (*p - '0');
		p++;
	}
	if (p == start)
	{
		if (neg)
			SyntaxError(input, p, "digit expected");
		*present = false;
		return p;
	}
	if (!neg && v > (uint64) PG_INT64_MAX)
		SyntaxError(input, p, "member id out of range");
	*out = neg ? (int64) (0 - v) : (int64) v;
	*present = true;
	while (scanner_isspace(*p))
		p++;
	return p;
}

Datum
mlm_tree_in(PG_FUNCTION_ARGS)
{
	const char *input = PG_GETARG_CSTRING(0);
	const char *p = input;
	MlmTreeInput in;
	int64		cap = 16;
	int64		n = 0;

	memset(&in, 0, sizeof(in));
	in.ids = palloc(cap * sizeof(int64));
	in.parents = palloc(cap * sizeof(int64));
	in.parent_null = palloc(cap * sizeof(bool));
	in.pparents = palloc(cap * sizeof(int64));
	in.pparent_null = palloc(cap * sizeof(bool));
	in.pos = palloc(cap * sizeof(int32));
	in.pos_null = palloc(cap * sizeof(bool));

	while (scanner_isspace(*p))
		p++;
	if (*p++ != '{')
		SyntaxError(input, p - 1, "\"{\" expected");
	while (scanner_isspace(*p))
		p++;
	if (*p == '}')
		p++;
	else
	{
		for (;;)
		{
			bool		present;
			int64		val;

			CHECK_FOR_INTERRUPTS();
			if (n == cap)
			{
				if (cap >= MLM_TREE_MAX_MEMBERS)
					ereport(ERROR,
							(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
							 errmsg("tree of more than %d members is too large",
									MLM_TREE_MAX_MEMBERS)));
				cap = Min(cap * 2, (int64) MLM_TREE_MAX_MEMBERS);
				in.ids = MlmReallocArray(in.ids, cap, sizeof(int64));
				in.parents = MlmReallocArray(in.parents, cap, sizeof(int64));
				in.parent_null = MlmReallocArray(in.parent_null, cap, sizeof(bool));
				in.pparents = MlmReallocArray(in.pparents, cap, sizeof(int64));
				in.pparent_null = MlmReallocArray(in.pparent_null, cap, sizeof(bool));
				in.pos = MlmReallocArray(in.pos, cap, sizeof(int32));
				in.pos_null = MlmReallocArray(in.pos_null, cap, sizeof(bool));
			}
			p = ParseId(input, p, &in.ids[n], &present);
			if (!present)
				SyntaxError(input, p, "member id expected");
			in.parent_null[n] = in.pparent_null[n] = in.pos_null[n] = true;
			if (*p == ':')
			{
				p = ParseId(input, p + 1, &in.parents[n], &present);
				in.parent_null[n] = !present;
				if (*p == ':')
				{
					p = ParseId(input, p + 1, &in.pparents[n], &present);
					in.pparent_null[n] = !present;
					if (*p != ':')
						SyntaxError(input, p, "\":\" and a position expected");
					p = ParseId(input, p + 1, &val, &present);
					if (present && (val < 0 || val > PG_INT32_MAX))
						SyntaxError(input, p, "position out of range");
					in.pos[n] = (int32) val;
					in.pos_null[n] = !present;
					in.has_placement = true;
				}
			}
			n++;
			if (*p == ',')
			{
				p++;
				continue;
			}
			if (*p == '}')
			{
				p++;
				break;
			}
			SyntaxError(input, p, "\",\" or \"}\" expected");
		}
	}
	while (scanner_isspace(*p))
		p++;
	if (*p != '\0')
		SyntaxError(input, p, "junk after \"}\"");
	in.n = n;
	PG_RETURN_POINTER(MlmTreeBuild(&in, NULL));
}

Datum
mlm_tree_out(PG_FUNCTION_ARGS)
{
	MlmTreeHeader *hdr = DatumGetMlmTreeP(PG_GETARG_DATUM(0));
	MlmTreeView v;
	StringInfoData buf;
	int32		i;

	MlmTreeSetView(&v, hdr);
	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	for (i = 0; i < v.n; i++)
	{
		if (i > 0)
			appendStringInfoChar(&buf, ',');
		appendStringInfo(&buf, INT64_FORMAT, v.ids[i]);
		if (v.pparent)
		{
			appendStringInfoChar(&buf, ':');
			if (v.parent[i] >= 0)
				appendStringInfo(&buf, INT64_FORMAT, v.ids[v.parent[i]]);
			appendStringInfoChar(&buf, ':');
			if (v.pparent[i] >= 0)
				appendStringInfo(&buf, INT64_FORMAT ":%d", v.ids[v.pparent[i]], v.ppos[i]);
			else
				appendStringInfoChar(&buf, ':');
		}
		else if (v.parent[i] >= 0)
			appendStringInfo(&buf, ":" INT64_FORMAT, v.ids[v.parent[i]]);
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	appendStringInfoChar(&buf, '}');
	PG_RETURN_CSTRING(buf.data);
}

Datum
mlm_tree_send(PG_FUNCTION_ARGS)
{
	MlmTreeHeader *hdr = DatumGetMlmTreeP(PG_GETARG_DATUM(0));
	MlmTreeView v;
	StringInfoData buf;
	int32		i;

	MlmTreeSetView(&v, hdr);
	pq_begintypsend(&buf);
	pq_sendbyte(&buf, hdr->version);
	pq_sendbyte(&buf, hdr->flags);
	pq_sendint32(&buf, v.n);
	pq_sendint32(&buf, v.nroots);
	for (i = 0; i < v.n; i++)
		pq_sendint64(&buf, v.ids[i]);
	for (i = 0; i < v.n; i++)
		pq_sendint32(&buf, v.parent[i]);
	for (i = 0; i < v.n; i++)
		pq_sendint32(&buf, v.size[i]);
	for (i = 0; i < v.n; i++)
		pq_sendint32(&buf, v.byid[i]);
	if (v.pparent)
	{
		for (i = 0; i < v.n; i++)
			pq_sendint32(&buf, v.pparent[i]);
		for (i = 0; i < v.n; i++)
			pq_sendint32(&buf, v.ppos[i]);
	}
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

static void
BadBinary(const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid binary mlm.tree: %s", why)));
}

Datum
mlm_tree_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int			version = pq_getmsgbyte(buf);
	int			flags = pq_getmsgbyte(buf);
	int32		n = pq_getmsgint(buf, 4);
	int32		nroots = pq_getmsgint(buf, 4);
	bool		placement;
	size_t		per_member;
	size_t		bytes;
	MlmTreeHeader *hdr;
	MlmTreeView v;
	MlmTreeProblem problem;
	int32		bad;
	int32		i;

	if (version != MLM_TREE_VERSION)
		BadBinary(psprintf("unsupported format version %d", version));
	if ((flags & ~MLM_TREE_HAS_PLACEMENT) != 0)
		BadBinary("unknown flags");
	if (n < 0 || n > MLM_TREE_MAX_MEMBERS)
		BadBinary("member count out of range");
	placement = (flags & MLM_TREE_HAS_PLACEMENT) != 0;
	per_member = placement ? 28 : 20;
	/* check the bytes are there before allocating anything */
	if ((size_t) (buf->len - buf->cursor) != (size_t) n * per_member)
		BadBinary(psprintf("%d members need %zu bytes, %d present",
						   n, (size_t) n * per_member, buf->len - buf->cursor));

	bytes = MlmTreeBytes(n, placement);
	hdr = (MlmTreeHeader *) MemoryContextAllocHuge(CurrentMemoryContext, bytes);
	memset(hdr, 0, bytes);
	SET_VARSIZE(hdr, bytes);
	hdr->version = (uint8) version;
	hdr->flags = (uint8) flags;
	hdr->n = n;
	hdr->nroots = nroots;
	MlmTreeSetView(&v, hdr);
	for (i = 0; i < n; i++)
		((int64 *) v.ids)[i] = pq_getmsgint64(buf);
	for (i = 0; i < n; i++)
		((int32 *) v.parent)[i] = pq_getmsgint(buf, 4);
	for (i = 0; i < n; i++)
		((int32 *) v.size)[i] = pq_getmsgint(buf, 4);
	for (i = 0; i < n; i++)
		((int32 *) v.byid)[i] = pq_getmsgint(buf, 4);
	if (placement)
	{
		for (i = 0; i < n; i++)
			((int32 *) v.pparent)[i] = pq_getmsgint(buf, 4);
		for (i = 0; i < n; i++)
			((int32 *) v.ppos)[i] = pq_getmsgint(buf, 4);
	}
	hdr->stamp = MlmTreeNewStamp();
	problem = MlmTreeValidate(hdr, bytes, &bad);
	if (problem != MLM_TREE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid binary mlm.tree: %s", MlmTreeProblemText(problem)),
				 bad >= 0 ? errdetail("At member index %d.", bad) : 0));
	PG_RETURN_POINTER(hdr);
}
