/*
 * guard.h
 *	  The event trigger that keeps payout history from being dropped by
 *	  accident, and its setting.
 */
#ifndef MLM_GUARD_H
#define MLM_GUARD_H

/* Module load: defines mlm.allow_drop_history. */
extern void MlmGuardInit(void);

#endif
