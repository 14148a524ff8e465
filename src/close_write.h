/*
 * close_write.h
 *	  Writing a close's results straight into the run tables (mlm.run_payout,
 *	  run_member, run_carry, run_line_pack, run_bonus_total) from the engine's
 *	  result arrays, in batches through the table AM's multi-insert with
 *	  index insertion, as COPY does: no SQL rows, no tuplestore, no
 *	  executor per row.  And deleting a draft's rows the same way.
 *
 * The writer is the only code that writes these tables without their
 * statement-level triggers; it checks what the triggers check, once per
 * call: the run exists and is a draft (locked FOR UPDATE, so it cannot be
 * finalized meanwhile), and the current user may INSERT (DELETE) on each
 * table.
 */
#ifndef MLM_CLOSE_WRITE_H
#define MLM_CLOSE_WRITE_H

#include "postgres.h"

#include "decimal.h"
#include "derived.h"
#include "network.h"
#include "payout.h"
#include "plan.h"
#include "results.h"
#include "sink.h"

typedef struct MlmCloseWriter MlmCloseWriter;

/*
 * Start writing the rows of run run_id into the tables of schema nsp:
 * checks the run (exists, draft, locked) and the privileges, opens the
 * tables and their indexes.
 */
extern MlmCloseWriter *MlmCloseWriterBegin(Oid nsp, int64 run_id, bool with_lines);

/* The MlmLineFn of a close: one audit line, numbered in order (packed into
 * mlm.run_line_pack rows when the writer finishes). */
extern void MlmCloseWriterLine(void *arg, const char *bonus_name, int32 recipient,
							   int32 source, int32 level, const MlmLineFigure *base,
							   const MlmLineFigure *rate, mlm_dec amount);

/* The network the line rows name (set before the bonuses run). */
extern void MlmCloseWriterSetNet(MlmCloseWriter *w, const MlmNet *net);

/*
 * Write payouts, member results, carry-out and bonus totals, flush, close
 * the tables, and return the one row of mlm._close_source (counts and the
 * grand total) built with desc, its snapshot still NULL.
 */
extern HeapTuple MlmCloseWriterFinish(MlmCloseWriter *w, TupleDesc desc,
									  const MlmOutcome *o, const MlmPayouts *pay,
									  const MlmCapResult *cap, mlm_dec total_cv);

/*
 * The result row with its snapshot: done by the caller once the
 * computation's memory is freed, so the snapshot's copy never adds to it.
 */
extern HeapTuple MlmCloseResultSnapshot(HeapTuple result, TupleDesc desc,
										const MlmTreeHeader *tree);

/* Delete every result row of a draft run; returns the number deleted. */
extern int64 MlmCloseDeleteRows(Oid nsp, int64 run_id);

#endif
