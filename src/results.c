/*
 * results.c
 *	  Per-member result values of a period (see results.h).
 */
#include "postgres.h"

#include "utils/builtins.h"

#include "results.h"

/* The words and rank names the rows share. */
void
MlmOutcomeInit(MlmOutcome *o, const MlmPlan *plan, const MlmNet *net,
			   const MlmDerived *d, const MlmLedger *ledger,
			   const mlm_dec *carry_l, const mlm_dec *carry_r)
{
	int			r;

	o->plan = plan;
	o->net = net;
	o->d = d;
	o->ledger = ledger;
	o->carry_l = carry_l;
	o->carry_r = carry_r;
	o->rank_names = palloc(sizeof(Datum) * Max(plan->nranks, 1));
	for (r = 0; r < plan->nranks; r++)
		o->rank_names[r] = CStringGetTextDatum(plan->ranks[r].name);
	o->distributor = CStringGetTextDatum("distributor");
	o->customer = CStringGetTextDatum("customer");
	o->zero_volume = MlmDecToNumeric(0, MLM_VOL_SCALE, 2);
	o->zero_money = MlmDecToNumeric(0, plan->scale, plan->scale);
}

/* A volume as numeric (2 decimals at least), the shared datum for 0. */
static inline Datum
VolumeDatum(const MlmOutcome *o, mlm_dec v)
{
	return v == 0 ? o->zero_volume : MlmDecToNumeric(v, MLM_VOL_SCALE, 2);
}

/* Money at the currency scale, the shared datum for 0. */
static inline Datum
MoneyDatum(const MlmOutcome *o, mlm_dec v)
{
	return v == 0 ? o->zero_money : MlmDecToNumeric(v, o->plan->scale, o->plan->scale);
}

/*
 * pv is the member's own PV (PV' = pv + cpv), rank the paid-as rank; a
 * customer has no ranks, grace or customer volume (spec 12).
 */
void
MlmMemberValues(const MlmOutcome *o, int32 i, Datum *v, bool *nulls)
{
	const MlmNet *net = o->net;
	const MlmDerived *d = o->d;
	bool		cust = net->customer && net->customer[i];
	mlm_dec		own = net->own_pv ? net->own_pv[i] : net->pv[i];
	int			c;

	for (c = 0; c < MR_NCOLS; c++)
		nulls[c] = cust;
	v[MR_PV] = VolumeDatum(o, own);
	v[MR_GV] = VolumeDatum(o, d->gv[i]);
	v[MR_ACTIVE] = BoolGetDatum(d->active[i]);
	v[MR_AMOUNT] = MoneyDatum(o, o->ledger->earned[i]);
	v[MR_RV] = VolumeDatum(o, net->rv ? net->rv[i] : 0);
	v[MR_TYPE] = cust ? o->customer : o->distributor;
	nulls[MR_PV] = nulls[MR_GV] = nulls[MR_ACTIVE] = nulls[MR_AMOUNT] = false;
	nulls[MR_RV] = nulls[MR_TYPE] = false;
	if (cust)
		return;
	v[MR_RANK] = o->rank_names[d->paid_as[i]];
	v[MR_QUALIFIED] = o->rank_names[d->rank[i]];
	v[MR_PAID_AS] = o->rank_names[d->paid_as[i]];
	v[MR_TITLE] = o->rank_names[d->title[i]];
	v[MR_GRACE] = Int32GetDatum(d->grace ? d->grace[i] : 0);
	v[MR_CPV] = VolumeDatum(o, net->pv[i] - own);
	v[MR_CUSTOMERS] = Int32GetDatum(net->ncustomers ? net->ncustomers[i] : 0);
}

/*
 * The state out (spec 13.2): carry (binary plans), title and paid-as rank
 * (null for rank 0; a customer has no paid-as rank), grace, balance.
 */
bool
MlmStateValues(const MlmOutcome *o, int32 i, Datum *v, bool *nulls)
{
	const MlmNet *net = o->net;
	const MlmDerived *d = o->d;
	bool		cust = net->customer && net->customer[i];
	mlm_dec		cl = o->carry_l ? o->carry_l[i] : 0;
	mlm_dec		cr = o->carry_r ? o->carry_r[i] : 0;
	int			title = d->title[i];
	int			paid_as = cust ? 0 : d->paid_as[i];
	mlm_dec		bal = o->ledger->balance_out ? o->ledger->balance_out[i] : 0;

	if (cl == 0 && cr == 0 && title == 0 && paid_as == 0 &&
		(d->grace == NULL || d->grace[i] == 0) && bal == 0)
		return false;
	v[ST_CARRY_LEFT] = VolumeDatum(o, cl);
	v[ST_CARRY_RIGHT] = VolumeDatum(o, cr);
	v[ST_TITLE] = o->rank_names[title];
	v[ST_PAID_AS] = o->rank_names[paid_as];
	v[ST_GRACE] = Int32GetDatum(d->grace ? d->grace[i] : 0);
	v[ST_BALANCE] = MoneyDatum(o, bal);
	memset(nulls, false, sizeof(bool) * ST_NCOLS);
	nulls[ST_TITLE] = title == 0;
	nulls[ST_PAID_AS] = paid_as == 0;
	return true;
}

/* The payables (spec 13.1); without the ledger paid = earned. */
bool
MlmPayableValues(const MlmOutcome *o, int32 i, Datum *v, bool *nulls)
{
	const MlmLedger *lg = o->ledger;
	mlm_dec		bin = lg->balance_in ? lg->balance_in[i] : 0;
	mlm_dec		bout = lg->balance_out ? lg->balance_out[i] : 0;

	if (bin == 0 && lg->earned[i] == 0 && lg->paid[i] == 0 && bout == 0)
		return false;
	v[PY_BALANCE_IN] = MoneyDatum(o, bin);
	v[PY_EARNED] = MoneyDatum(o, lg->earned[i]);
	v[PY_PAID] = MoneyDatum(o, lg->paid[i]);
	v[PY_BALANCE_OUT] = MoneyDatum(o, bout);
	memset(nulls, false, sizeof(bool) * PY_NCOLS);
	return true;
}
