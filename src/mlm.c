/*
 * mlm.c
 *	  Module magic and load-time setup: the extension's settings.  Nothing
 *	  here is called by another file (the helpers live in util.c), so the
 *	  module entry point sits above every layer.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "guard.h"
#include "tree.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/* Module load: settings. */
void
_PG_init(void)
{
	MlmTreeCacheInit();
	MlmGuardInit();
	MarkGUCPrefixReserved("mlm");
}
