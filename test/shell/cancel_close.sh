#!/usr/bin/env bash
#
# test/shell/cancel_close.sh - statement_timeout aborts a big close cleanly.
#
# Builds a ~300k-member network (MLM_CANCEL_MEMBERS overrides; 1000000 is the
# size the close is specified for), measures how long a full close takes (T,
# inside a transaction that is rolled back), then runs the close with
# statement_timeout set to several fractions of T, so that the timeout hits
# it in different phases (reading the inputs, computing, writing the result
# rows).  Every one must
#   - fail with SQLSTATE 57014 (query_canceled),
#   - end well before the close would have finished,
#   - leave no run, payout, member, carry or line row and no temporary input
#     view behind, and leave the session usable;
# and afterwards a close without a timeout succeeds.  pg_cancel_backend()
# from another session (what a client's cancel request does) is checked the
# same way.  Exit 0 on success; non-zero with a message otherwise.
#
# Environment (exported by test/check.sh, see test/lib.sh): PGHOST, PGPORT,
# PGUSER (a superuser), PG_BIN.  It creates and drops its own database.
set -uo pipefail

: "${REPO:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${PG_BIN:?PG_BIN is not set}" "${PGHOST:?PGHOST is not set}" "${PGPORT:?PGPORT is not set}"
export PGUSER=${PGUSER:-postgres}

N=${MLM_CANCEL_MEMBERS:-300000}
DB=mlm_cancel_close
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mlm_cancel.XXXXXX") || exit 1
BG=
cleanup() {
	if [ -n "$BG" ] && kill -0 "$BG" 2>/dev/null; then kill "$BG" 2>/dev/null; fi
	rm -rf "$WORK"
}
trap cleanup EXIT

say() { printf '%s\n' "$*"; }
die() {
	printf 'FAIL: %s\n' "$*" >&2
	exit 1
}
psql_db() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
value() { psql_db -At -c "$1"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

CLOSE="mlm.close('cancel', '2024-01', '2024-01-01', '2024-01-31', 'erp')"

# ---------------------------------------------------------------------------
say "== database $DB with $N members"
"$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d postgres \
	-c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" 2>/dev/null || die "cannot create database $DB"
psql_db -v n="$N" -v plan=cancel -f "$(dirname "${BASH_SOURCE[0]}")/close_network.sql" >/dev/null || die "setup failed"

nothing_written() {
	[ "$(value "SELECT (SELECT count(*) FROM mlm.run) + (SELECT count(*) FROM mlm.run_payout)
	                 + (SELECT count(*) FROM mlm.run_member) + (SELECT count(*) FROM mlm.run_carry)
	                 + (SELECT count(*) FROM mlm.run_line) + (SELECT count(*) FROM mlm.run_bonus_total)")" = 0 ]
}
nothing_written || die "the new database already has run rows"

# ---------------------------------------------------------------------------
say "== full close (rolled back) to measure T"
value "BEGIN; SELECT $CLOSE; ROLLBACK" >/dev/null || die "warm-up close failed"
t0=$(now_ms)
value "BEGIN; SELECT $CLOSE; ROLLBACK" >/dev/null || die "close failed"
T=$(($(now_ms) - t0))
say "   T = ${T} ms"
[ "$T" -ge 1000 ] || die "a close of $N members takes only ${T} ms: too short to cancel reliably (raise MLM_CANCEL_MEMBERS)"
nothing_written || die "a rolled-back close left rows"

# One session: the timed-out close, then checks in the same session (its
# temporary views must be gone and it must still work).
try_timeout() {
	local ms=$1 out t1 took
	t1=$(now_ms)
	"$PG_BIN/psql" -X -q -At -d "$DB" >"$WORK/out" 2>&1 <<SQL
\\set VERBOSITY verbose
SET statement_timeout = '${ms}ms';
SELECT 'closed run ' || $CLOSE;
RESET statement_timeout;
SELECT 'leftover views ' || count(*) FROM pg_class
 WHERE relnamespace = pg_my_temp_schema() AND relname LIKE 'mlm\\_%';
SELECT 'session ok ' || 1;
SQL
	took=$(($(now_ms) - t1))
	out=$(tr '\n' ' ' <"$WORK/out")
	grep -q 'closed run' "$WORK/out" && die "timeout ${ms} ms: the close completed: $out"
	grep -q '57014' "$WORK/out" || die "timeout ${ms} ms: no query_canceled (57014) error: $out"
	grep -q 'canceling statement due to statement timeout' "$WORK/out" ||
		die "timeout ${ms} ms: unexpected error: $out"
	grep -q '^leftover views 0$' "$WORK/out" || die "timeout ${ms} ms: temporary views left behind: $out"
	grep -q '^session ok 1$' "$WORK/out" || die "timeout ${ms} ms: the session is not usable afterwards: $out"
	nothing_written || die "timeout ${ms} ms: the canceled close left rows"
	[ "$took" -lt "$T" ] || die "timeout ${ms} ms: the cancel took effect only after ${took} ms (a full close takes ${T} ms)"
	say "   statement_timeout ${ms} ms: canceled after ${took} ms (latency $((took - ms)) ms), nothing written"
}

say "== statement_timeout at fractions of T"
for pct in 5 25 50; do
	ms=$((T * pct / 100))
	[ "$ms" -lt 50 ] && ms=50
	try_timeout "$ms"
done

# ---------------------------------------------------------------------------
say "== pg_cancel_backend from another session"
PGAPPNAME=mlm_cancel_victim "$PG_BIN/psql" -X -q -At -d "$DB" -c "SELECT 'closed run ' || $CLOSE" >"$WORK/bg.out" 2>&1 &
BG=$!
pid=
for ((i = 0; i < 600; i++)); do
	pid=$(value "SELECT pid FROM pg_stat_activity WHERE application_name = 'mlm_cancel_victim' AND state = 'active' AND query LIKE '%mlm.close%'")
	[ -n "$pid" ] && break
	kill -0 "$BG" 2>/dev/null || break
	sleep 0.05
done
[ -n "$pid" ] || die "the background close did not show up: $(cat "$WORK/bg.out")"
sleep "$(awk -v t="$T" 'BEGIN { printf "%.2f", t / 2000 }')"
[ "$(value "SELECT pg_cancel_backend($pid)")" = t ] || die "pg_cancel_backend($pid) failed"
wait "$BG"
BG=
grep -q 'closed run' "$WORK/bg.out" && die "the canceled close completed"
grep -q 'canceling statement due to user request' "$WORK/bg.out" ||
	die "unexpected outcome of pg_cancel_backend: $(cat "$WORK/bg.out")"
nothing_written || die "the canceled close left rows"
say "   canceled, nothing written"

# ---------------------------------------------------------------------------
say "== a close without a timeout succeeds"
run=$(value "SELECT $CLOSE") || die "the close failed"
[ "$(value "SELECT status || ' ' || member_rows FROM mlm.run WHERE run_id = $run")" = "draft $N" ] ||
	die "unexpected run header"
say "   run $run"

"$PG_BIN/psql" -X -q -d postgres -c "DROP DATABASE $DB" || die "cannot drop $DB"
say "PASS: statement_timeout and cancel requests abort a close of $N members cleanly"
exit 0
