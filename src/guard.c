/*
 * guard.c
 *	  Payout history cannot vanish by accident: DROP EXTENSION mlm, DROP
 *	  SCHEMA of its schema and DROP OWNED BY its owner are refused while a
 *	  finalized run exists, unless the session says so on purpose
 *	  (SET mlm.allow_drop_history = on).
 *
 * An event trigger on ddl_command_start sees the parsed DROP before
 * anything is dropped; PL/pgSQL cannot, so this is C.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "commands/event_trigger.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "nodes/parsenodes.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "catalog/pg_extension.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "guard.h"

PG_FUNCTION_INFO_V1(mlm_drop_guard);

static bool allow_drop_history = false;

/* Module load: the override setting. */
void
MlmGuardInit(void)
{
	DefineCustomBoolVariable("mlm.allow_drop_history",
							 "Allows dropping the extension mlm while it holds finalized payout runs.",
							 "Finalized runs are the payment history; export them with pg_dump first.",
							 &allow_drop_history, false, PGC_USERSET, 0,
							 NULL, NULL, NULL);
}

/* Does a DROP statement name the extension, its schema or its owner? */
static bool
DropTouchesExtension(Node *parsetree, Oid nsp, Oid owner)
{
	ListCell   *lc;

	if (IsA(parsetree, DropStmt))
	{
		DropStmt   *stmt = (DropStmt *) parsetree;
		const char *target;

		if (stmt->removeType == OBJECT_EXTENSION)
			target = "mlm";
		else if (stmt->removeType == OBJECT_SCHEMA)
			target = get_namespace_name(nsp);
		else
			return false;
		foreach(lc, stmt->objects)
		{
			Node	   *obj = (Node *) lfirst(lc);

			if (IsA(obj, String) && target != NULL && strcmp(strVal(obj), target) == 0)
				return true;
		}
		return false;
	}
	if (IsA(parsetree, DropOwnedStmt))
	{
		DropOwnedStmt *stmt = (DropOwnedStmt *) parsetree;

		foreach(lc, stmt->roles)
		{
			RoleSpec   *r = (RoleSpec *) lfirst(lc);

			if (get_rolespec_oid(r, true) == owner)
				return true;
		}
	}
	return false;
}

/*
 * mlm._drop_guard(): event trigger on ddl_command_start for DROP EXTENSION,
 * DROP SCHEMA and DROP OWNED.  Refuses the statement with SQLSTATE 2BP01
 * while finalized runs exist, naming how many and of which plans.
 */
Datum
mlm_drop_guard(PG_FUNCTION_ARGS)
{
	EventTriggerData *trigdata;
	Oid			ext;
	Oid			nsp;
	Oid			owner;
	HeapTuple	tup;
	char	   *query;
	int64		runs = 0;
	char	   *plans = NULL;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_EVENT_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("mlm._drop_guard() must be called as an event trigger")));
	trigdata = (EventTriggerData *) fcinfo->context;
	ext = get_extension_oid("mlm", true);
	if (!OidIsValid(ext) || allow_drop_history)
		PG_RETURN_VOID();
	tup = SearchSysCache1(EXTENSIONOID, ObjectIdGetDatum(ext));
	if (!HeapTupleIsValid(tup))
		PG_RETURN_VOID();
	nsp = ((Form_pg_extension) GETSTRUCT(tup))->extnamespace;
	owner = ((Form_pg_extension) GETSTRUCT(tup))->extowner;
	ReleaseSysCache(tup);
	if (!DropTouchesExtension(trigdata->parsetree, nsp, owner))
		PG_RETURN_VOID();

	query = psprintf("SELECT pg_catalog.count(*), pg_catalog.string_agg(DISTINCT r.plan_name, ', ')"
					 " FROM %s.run r WHERE r.status OPERATOR(pg_catalog.=) 'final'",
					 quote_identifier(get_namespace_name(nsp)));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute(query, true, 1) == SPI_OK_SELECT && SPI_processed == 1)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		runs = isnull ? 0 : DatumGetInt64(d);
		plans = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
		if (plans)
			plans = MemoryContextStrdup(TopTransactionContext, plans);
	}
	SPI_finish();
	if (runs > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("cannot drop the extension mlm: it holds finalized payout runs"),
				 errdetail("%s.run has " INT64_FORMAT " finalized run%s (plans: %s); dropping the extension would delete them with their payouts, lines and adjustments.",
						   get_namespace_name(nsp), runs, runs == 1 ? "" : "s", plans ? plans : "?"),
				 errhint("Export the history first (pg_dump --schema=%s), then SET mlm.allow_drop_history = on in the same session and drop again.",
						 get_namespace_name(nsp))));
	PG_RETURN_VOID();
}
