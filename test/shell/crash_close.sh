#!/usr/bin/env bash
#
# test/shell/crash_close.sh - a close killed with SIGKILL leaves nothing.
#
# Builds a ~300k-member binary network (MLM_CRASH_MEMBERS overrides), starts
# mlm.close() of a period in the background, waits until it is writing its
# result rows (uncommitted), kills its backend with SIGKILL, lets the server
# go through crash recovery, and then checks that
#   - the killed close did not report success,
#   - no run, payout, member, carry, line or bonus-total row exists,
#   - a new close of the same period succeeds and can be finalized.
# Exit 0 on success; non-zero with a message otherwise.
#
# Environment (exported by test/check.sh, see test/lib.sh): PGHOST, PGPORT,
# PGUSER (a superuser), PGDATA, PG_BIN, and optionally MLM_PG_OWNER,
# MLM_PG_LOG and the function as_pg_owner (the OS user that may signal the
# server's processes).  Run from anywhere; it creates and drops its own
# database.
set -uo pipefail

: "${REPO:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
if ! declare -F as_pg_owner >/dev/null && [ -f "$REPO/test/lib.sh" ]; then
	# shellcheck source=test/lib.sh
	source "$REPO/test/lib.sh"
fi
: "${PG_BIN:?PG_BIN is not set}" "${PGHOST:?PGHOST is not set}" "${PGPORT:?PGPORT is not set}"
export PGUSER=${PGUSER:-postgres}

N=${MLM_CRASH_MEMBERS:-300000}
DB=mlm_crash_close
APP=mlm_crash_close_victim
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mlm_crash.XXXXXX") || exit 1
VICTIM=

cleanup() {
	if [ -n "$VICTIM" ] && kill -0 "$VICTIM" 2>/dev/null; then
		kill "$VICTIM" 2>/dev/null
	fi
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

signal_as_owner() {
	if declare -F as_pg_owner >/dev/null; then
		as_pg_owner kill "$@"
	else
		kill "$@"
	fi
}

wait_ready() {
	local secs=$1 i
	for ((i = 0; i < secs * 10; i++)); do
		"$PG_BIN/pg_isready" -q && psql_db -c 'SELECT 1' >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# ---------------------------------------------------------------------------
say "== database $DB with $N members"
"$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d postgres \
	-c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" || die "cannot create database $DB"

psql_db -v n="$N" -v plan=crash -f "$(dirname "${BASH_SOURCE[0]}")/close_network.sql" >/dev/null || die "setup failed"

rows() {
	value "SELECT (SELECT count(*) FROM mlm.run) || ' ' || (SELECT count(*) FROM mlm.run_payout) || ' ' ||
	              (SELECT count(*) FROM mlm.run_member) || ' ' || (SELECT count(*) FROM mlm.run_carry) || ' ' ||
	              (SELECT count(*) FROM mlm.run_line) || ' ' || (SELECT count(*) FROM mlm.run_bonus_total)"
}
[ "$(rows)" = "0 0 0 0 0 0" ] || die "the new database already has run rows: $(rows)"

# ---------------------------------------------------------------------------
say "== start the close in the background"
CLOSE_SQL="SELECT 'closed run ' || mlm.close('crash', '2024-01', '2024-01-01', '2024-01-31', 'erp', with_lines => true)"
PGAPPNAME=$APP "$PG_BIN/psql" -X -At -d "$DB" -c "$CLOSE_SQL" >"$WORK/victim.out" 2>&1 &
VICTIM=$!

pid=
for ((i = 0; i < 600; i++)); do
	pid=$(value "SELECT pid FROM pg_stat_activity WHERE application_name = '$APP' AND state = 'active' AND query LIKE '%mlm.close%'" 2>/dev/null)
	[ -n "$pid" ] && break
	kill -0 "$VICTIM" 2>/dev/null || break
	sleep 0.1
done
[ -n "$pid" ] || die "the close did not show up in pg_stat_activity; its output: $(cat "$WORK/victim.out")"
say "   backend pid $pid"

# Mid-run = it is already writing result rows: the (uncommitted) heap of a
# result table has grown.  The tables are empty in this new database.
writing=
for ((i = 0; i < 1200; i++)); do
	kill -0 "$VICTIM" 2>/dev/null || break
	sz=$(value "SELECT pg_relation_size('mlm.run_payout') + pg_relation_size('mlm.run_member') + pg_relation_size('mlm.run_line_pack')" 2>/dev/null)
	if [ -n "$sz" ] && [ "$sz" -gt 0 ]; then
		writing=$sz
		break
	fi
	sleep 0.05
done
[ -n "$writing" ] || die "the close ended before it was seen writing (increase MLM_CRASH_MEMBERS); its output: $(cat "$WORK/victim.out")"
still=$(value "SELECT count(*) FROM pg_stat_activity WHERE pid = $pid AND state = 'active'")
[ "$still" = 1 ] || die "the close ended before it could be killed (increase MLM_CRASH_MEMBERS)"

say "== SIGKILL backend $pid while it writes ($writing bytes of uncommitted result rows so far)"
signal_as_owner -KILL "$pid" || die "kill -KILL $pid failed"
wait "$VICTIM"
victim_rc=$?
VICTIM=
say "   the killed psql exited with $victim_rc: $(tr '\n' ' ' <"$WORK/victim.out")"
if grep -q '^closed run' "$WORK/victim.out"; then
	die "the close reported success although its backend was killed"
fi

# ---------------------------------------------------------------------------
say "== wait for crash recovery"
sleep 0.5
if ! wait_ready 120; then
	if declare -F mlm_cluster_start >/dev/null; then
		say "   the server did not come back by itself (restart_after_crash off?); starting it"
		mlm_cluster_start || die "the server could not be restarted"
		wait_ready 120 || die "the server does not accept connections after the restart"
	else
		die "the server does not accept connections after the crash"
	fi
fi
if [ -n "${MLM_PG_LOG:-}" ] && [ -f "$MLM_PG_LOG" ] && grep -q "terminated by signal 9" "$MLM_PG_LOG"; then
	say "   server log: $(grep "terminated by signal 9" "$MLM_PG_LOG" | tail -n 1 | cut -c1-150)"
fi
[ "$(value 'SELECT pg_is_in_recovery()')" = f ] || die "the server is still in recovery"

# ---------------------------------------------------------------------------
say "== after recovery"
got=$(rows)
say "   rows (run payout member carry line bonus_total): $got"
[ "$got" = "0 0 0 0 0 0" ] || die "a killed close left rows behind: $got"
[ "$(value "SELECT count(*) FROM mlm.plan_version WHERE plan_name = 'crash'")" = 1 ] ||
	die "the plan registry lost its row"

say "== a new close of the same period"
start=$(date +%s%N)
run=$(value "SELECT mlm.close('crash', '2024-01', '2024-01-01', '2024-01-31', 'erp', with_lines => true)") ||
	die "the close after recovery failed"
took=$((($(date +%s%N) - start) / 1000000))
hdr=$(value "SELECT status || ' ' || attempt || ' ' || member_rows || ' ' || volume_rows FROM mlm.run WHERE run_id = $run")
say "   run $run: $hdr, ${took} ms"
[ "$hdr" = "draft 1 $N $N" ] || die "unexpected run header after recovery: $hdr"
[ "$(value "SELECT payout_rows = (SELECT count(*) FROM mlm.run_payout WHERE run_id = $run)
              AND member_result_rows = $N
              AND (SELECT count(*) FROM mlm.run_member WHERE run_id = $run) = $N
              AND line_rows = (SELECT count(*) FROM mlm.run_line WHERE run_id = $run)
              AND payout_rows > 0 AND line_rows > 0
            FROM mlm.run WHERE run_id = $run")" = t ] || die "the new run's rows do not match its header"
value "SELECT mlm.finalize($run)" >/dev/null || die "finalize after recovery failed"
say "   finalized"

"$PG_BIN/psql" -X -q -d postgres -c "DROP DATABASE $DB" || die "cannot drop $DB"
say "PASS: a SIGKILLed close left nothing; a new close succeeded"
exit 0
