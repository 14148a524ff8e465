#!/usr/bin/env bash
#
# test/bench/binary_bench.sh - benchmark of binary and matrix plans: a
# 1,000,000-member binary placement tree filled by spillover, carry-in for
# 10% of the members, a plan with a binary bonus, a 7-level forced matrix
# (unilevel on the placement tree) and a matching bonus of the binary,
# against a plain-SQL reference of the binary bonus (recursive CTE over the
# placement tree); and the binary bonus with a plan-wide `rate` against the
# same bonus with `rate_by_rank` (issue 16), with one rank and with three,
# the two plans of a pair paying the same so their results must be equal,
# timed in alternating rounds.  Run by hand (not in CI); takes ~2 minutes on 2 quiet
# cores.  Figures and method: BENCHMARKS.md.
#
#   test/bench/binary_bench.sh            # as root or as a normal user
#
# Environment knobs (defaults in brackets):
#   N [1000000]        members
#   REPS [5]           timed runs of each engine query
#   SQL_REPS [2]       timed runs of the SQL reference
#   SQL_TIMEOUT [600]  statement_timeout (s) of a SQL-reference run; on
#                      timeout it is run on a 100k subset and extrapolated
#   PERF [1]           profile one run of the plan with perf when installed
#   SUBSET_N [100000]  size of the subset for the timeout case
#   RBR_ROUNDS [3]     rounds of the rate / rate_by_rank pairs (each round
#                      times both plans of each pair REPS times, in
#                      alternating order); 0 skips them
#   SRC [worktree]     build the working tree, or SRC=head: a clean
#                      `git archive HEAD` (uncommitted changes left out)
#
# Cluster, timing and memory method: as in test/bench/engine_bench.sh (a
# throwaway copy of the PostgreSQL 15 server with the extension installed by
# make install DESTDIR=..., shared_buffers = 1GB, work_mem = 256MB,
# fsync = off, jit = off, no parallel query; server-side clock_timestamp()
# and backend CPU time around EXECUTE in a plpgsql function; VmHWM of the
# backend from /proc).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH_DIR=$REPO/test/bench
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
N=${N:-1000000}
REPS=${REPS:-5}
SQL_REPS=${SQL_REPS:-2}
SQL_TIMEOUT=${SQL_TIMEOUT:-600}
PERF=${PERF:-1}
SRC=${SRC:-worktree}
SUBSET_N=${SUBSET_N:-100000}
RBR_ROUNDS=${RBR_ROUNDS:-3}

BENCH_NAME=binary_bench.sh
# shellcheck source=bench_lib.sh
source "$BENCH_DIR/bench_lib.sh"
# ---------------------------------------------------------------------------
# Queries
# ---------------------------------------------------------------------------
PERIOD="'2024-03-01', '2024-03-31'"
# binary (pay-leg 10%, cap 500, max_carry 20000) + 7-level forced matrix +
# matching of the binary over 2 generations
PLAN_BIN='{"name": "binary-matrix", "currency": {"scale": 2, "rounding": "half_up"}, "active": {"min_pv": 50}, "ranks": [{"name": "Member"}], "bonuses": [{"name": "binary", "type": "binary", "rate": 0.10, "cap": 500, "max_carry": 20000}, {"name": "matrix", "type": "unilevel", "tree": "placement", "rates": [0.05, 0.05, 0.04, 0.04, 0.03, 0.03, 0.02]}, {"name": "match", "type": "matching", "of": ["binary"], "rates": [0.20, 0.10]}]}'
# the binary bonus alone, for the comparison with the SQL reference
PLAN_BO='{"name": "binary-only", "currency": {"scale": 2, "rounding": "half_up"}, "active": {"min_pv": 50}, "ranks": [{"name": "Member"}], "bonuses": [{"name": "binary", "type": "binary", "rate": 0.10, "cap": 500, "max_carry": 20000}]}'

# rate against rate_by_rank: pairs of binary-only plans that pay the same
RANKS1='[{"name": "Member"}]'
RANKS3='[{"name": "Member"}, {"name": "Silver", "min_pv": 100}, {"name": "Gold", "min_pv": 200}]'
BIN_OPTS='"cap": 500, "max_carry": 20000'
plan_bo() {	# ranks binary-key-and-value
	echo "{\"name\": \"binary-only\", \"currency\": {\"scale\": 2, \"rounding\": \"half_up\"}, \"active\": {\"min_pv\": 50}, \"ranks\": $1, \"bonuses\": [{\"name\": \"binary\", \"type\": \"binary\", $2, $BIN_OPTS}]}"
}
declare -A PAIR_PLAN=(
	[r1]=$(plan_bo "$RANKS1" '"rate": 0.10')
	[b1]=$(plan_bo "$RANKS1" '"rate_by_rank": {"Member": 0.10}')
	[r3]=$(plan_bo "$RANKS3" '"rate": 0.10')
	[b3]=$(plan_bo "$RANKS3" '"rate_by_rank": {"Member": 0.10, "Silver": 0.10, "Gold": 0.10}')
)
q_pair() {	# key
	cat <<-EOF
		SELECT count(*) FILTER (WHERE kind = 'payout') AS payouts, sum(amount) FILTER (WHERE kind = 'payout') AS paid,
		       count(*) FILTER (WHERE kind = 'carry') AS carries,
		       sum(carry_left) FILTER (WHERE kind = 'carry') AS carry_left,
		       sum(carry_right) FILTER (WHERE kind = 'carry') AS carry_right
		  FROM mlm.compute('${PAIR_PLAN[$1]}'::jsonb, 'm', 'v', $PERIOD, 'carry', kinds => 'payout,carry')
	EOF
}

q_plan() {	# members volumes carry
	echo "SELECT kind, count(*) FROM mlm.compute('$PLAN_BIN'::jsonb, '$1', '$2', $PERIOD, '$3') GROUP BY kind ORDER BY kind"
}
# binary payouts and carry-out summarized the same way as the SQL reference
q_binary_engine() {
	cat <<-EOF
		SELECT count(*) FILTER (WHERE kind = 'payout') AS payouts, sum(amount) FILTER (WHERE kind = 'payout') AS paid,
		       count(*) FILTER (WHERE kind = 'carry') AS carries,
		       sum(carry_left) FILTER (WHERE kind = 'carry') AS carry_left,
		       sum(carry_right) FILTER (WHERE kind = 'carry') AS carry_right
		  FROM mlm.compute('$PLAN_BO'::jsonb, '$1', '$2', $PERIOD, '$3', kinds => 'payout,carry')
	EOF
}
# The binary bonus in plain SQL (spec 5.4, pay-leg, cap, max_carry, no
# flush, require_sponsored_each_leg): a recursive CTE walks every member up
# the placement tree, giving one row per (member, placement ancestor) with the
# side of the ancestor the member is on (O(n * depth) rows); grouped by
# ancestor that is the new volume of each leg and whether each leg holds an
# active member the ancestor sponsored; then carry-in, pairing, cap, carry-out.
q_binary_sql() {
	cat <<-EOF
		WITH RECURSIVE
		vs AS (SELECT member_id, sum(pv) AS pv, sum(cv) AS cv FROM $2 GROUP BY member_id),
		mm AS (SELECT m.id, m.sponsor_id, m.placement_id, m.position,
		              coalesce(m.active_status, true) AND coalesce(vs.pv, 0) >= 50 AS active,
		              coalesce(vs.cv, 0) AS cv
		         FROM $1 m LEFT JOIN vs ON vs.member_id = m.id),
		up(sponsor_id, active, cv, anc, side) AS (
		    SELECT sponsor_id, active, cv, placement_id, position FROM mm WHERE placement_id IS NOT NULL
		    UNION ALL
		    SELECT up.sponsor_id, up.active, up.cv, p.placement_id, p.position
		      FROM up JOIN mm p ON p.id = up.anc WHERE p.placement_id IS NOT NULL),
		legs AS (
		    SELECT anc AS id,
		           coalesce(sum(cv) FILTER (WHERE side = 0), 0) AS new_l,
		           coalesce(sum(cv) FILTER (WHERE side = 1), 0) AS new_r,
		           coalesce(bool_or(active AND sponsor_id = anc AND side = 0), false) AS sp_l,
		           coalesce(bool_or(active AND sponsor_id = anc AND side = 1), false) AS sp_r
		      FROM up GROUP BY anc),
		calc AS (
		    SELECT mm.id, mm.active AND coalesce(l.sp_l, false) AND coalesce(l.sp_r, false) AS q,
		           coalesce(c.carry_left, 0) + coalesce(l.new_l, 0) AS leg_l,
		           coalesce(c.carry_right, 0) + coalesce(l.new_r, 0) AS leg_r
		      FROM mm LEFT JOIN legs l ON l.id = mm.id LEFT JOIN $3 c ON c.member_id = mm.id),
		paired AS (
		    SELECT id, q, leg_l, leg_r,
		           CASE WHEN q THEN greatest(0, least(leg_l, leg_r)) ELSE 0 END AS paired
		      FROM calc),
		res AS (
		    SELECT id, CASE WHEN q THEN round(least(paired * 0.10, 500), 2) ELSE 0 END AS amount,
		           least(leg_l - paired, 20000) AS carry_l, least(leg_r - paired, 20000) AS carry_r
		      FROM paired)
		SELECT count(*) FILTER (WHERE amount <> 0) AS payouts, sum(amount) FILTER (WHERE amount <> 0) AS paid,
		       count(*) FILTER (WHERE carry_l <> 0 OR carry_r <> 0) AS carries,
		       sum(carry_l) FILTER (WHERE carry_l <> 0 OR carry_r <> 0) AS carry_left,
		       sum(carry_r) FILTER (WHERE carry_l <> 0 OR carry_r <> 0) AS carry_right
		  FROM res
	EOF
}

# ---------------------------------------------------------------------------
# Run
# ---------------------------------------------------------------------------
START=$(date +%s)
setup_cluster
say "== machine: $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GB RAM; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

say "== data: $N-member binary spillover tree (test/bench/binary_data.sql)"
t0=$(date +%s.%N)
bpsql -v n="$N" -v mt=m -v vt=v -v ct=carry -v seed=0.42 -f "$BENCH_DIR/binary_data.sql" >/dev/null 2>&1
bpsql -At -c "SELECT pg_prewarm('m'), pg_prewarm('v'), pg_prewarm('carry')" >/dev/null
say "   generated in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.0f", b - a}') s"
bpsql -At -F ' ' <<-'EOF' | sed 's/^/   /'
	SELECT 'members', count(*), 'active %', round(100.0 * count(*) FILTER (WHERE active_status AND pv >= 50) / count(*), 1),
	       'sponsor = placement parent %', round(100.0 * count(*) FILTER (WHERE sponsor_id = placement_id) / count(*), 1)
	  FROM m JOIN v ON v.member_id = m.id;
	SELECT 'carry-in rows', count(*), 'negative sides', count(*) FILTER (WHERE carry_left < 0) + count(*) FILTER (WHERE carry_right < 0)
	  FROM carry;
	SELECT 'sponsor depth max', max(depth), 'mean', round(avg(depth), 2) FROM mlm.volume_summary('m', 'v');
EOF

pass() { awk -v a="$1" -v op="$2" -v b="$3" 'BEGIN {if (a == "n/a") {print "n/a"; exit} r = (op == ">=") ? (a + 0 >= b + 0) : (a + 0 <= b + 0); print r ? "met" : "NOT met"}'; }
# a ratio to 3 decimals
r3() { awk -v a="$1" -v b="$2" 'BEGIN {if (b + 0 == 0) print "n/a"; else printf "%.3f", a / b}'; }
# ratio of medians, wall / CPU
r2() { echo "$(ratio "$1" "$2") / $(ratio "$3" "$4")"; }

say "== binary + 7-level matrix + matching of binary, tables to payout and carry rows"
run_timed p_full "$REPS" 600 1 "$(q_plan m v carry)"
run_timed p_bo "$REPS" 600 1 "$(q_binary_engine m v carry)"
run_timed p_sql "$SQL_REPS" "$SQL_TIMEOUT" 0 "$(q_binary_sql m v carry)"
SQL_MS=${MED[p_sql]}
SQL_CPU=${CPU[p_sql]}
EXTRA=
CHECK=
if [ "$SQL_MS" = timeout ]; then
	say "   the SQL reference hit the ${SQL_TIMEOUT} s timeout: running it on the first $SUBSET_N members"
	bpsql >/dev/null <<-EOF
		CREATE TABLE m_sub AS SELECT * FROM m WHERE id <= $SUBSET_N;
		CREATE TABLE v_sub AS SELECT * FROM v WHERE member_id <= $SUBSET_N;
		CREATE TABLE carry_sub AS SELECT * FROM carry WHERE member_id <= $SUBSET_N;
		CREATE INDEX ON m_sub (id);
		VACUUM ANALYZE m_sub;
		VACUUM ANALYZE v_sub;
		VACUUM ANALYZE carry_sub;
	EOF
	run_timed p_sql_sub "$SQL_REPS" 3600 0 "$(q_binary_sql m_sub v_sub carry_sub)"
	run_timed p_bo_sub 3 600 1 "$(q_binary_engine m_sub v_sub carry_sub)"
	# rows of the walk: the sum over members of their placement depth, ~ n (log2 n - 1)
	F=$(awk -v n="$N" -v s="$SUBSET_N" 'BEGIN {print (n * (log(n) / log(2) - 1)) / (s * (log(s) / log(2) - 1))}')
	SQL_MS=$(awk -v t="${MED[p_sql_sub]}" -v f="$F" 'BEGIN {printf "%.0f", t * f}')
	SQL_CPU=$(awk -v t="${CPU[p_sql_sub]}" -v f="$F" 'BEGIN {printf "%.0f", t * f}')
	EXTRA=$(xrow "SQL reference on the first $SUBSET_N members" "${NREP[p_sql_sub]}" "$(fmt_ms "${MED[p_sql_sub]}")" \
		"$(fmt_ms "${MIN[p_sql_sub]}")" "$(fmt_ms "${CPU[p_sql_sub]}")" "${RES[p_sql_sub]}" \
		"extrapolated by n (log2 n - 1) to $N members: $SQL_MS ms wall, $SQL_CPU ms CPU")$'\n'
	if [ "${RES[p_sql_sub]}" = "${RES[p_bo_sub]}" ]; then
		CHECK="SQL reference = engine binary-only plan on the first $SUBSET_N members (payouts, paid, carry rows, carry left, carry right): yes ${RES[p_bo_sub]}"
	else
		CHECK="SQL reference = engine binary-only plan on the first $SUBSET_N members: NO (${RES[p_sql_sub]} vs ${RES[p_bo_sub]})"
	fi
elif [ "${RES[p_sql]}" = "${RES[p_bo]}" ]; then
	CHECK="SQL reference = engine binary-only plan on all $N members (payouts, paid, carry rows, carry left, carry right): yes ${RES[p_bo]}"
else
	CHECK="SQL reference = engine binary-only plan on all $N members: NO (${RES[p_sql]} vs ${RES[p_bo]})"
fi
say "   $CHECK"

# rate / rate_by_rank pairs: round k times both plans of each pair REPS
# times (rate first in odd rounds, rate_by_rank first in even ones); the
# figure of a plan is the median of its round medians.
declare -A PAIR_MEDS PAIR_CPUS PAIR_RES
if [ "$RBR_ROUNDS" -gt 0 ]; then
	say "== binary rate against rate_by_rank, $RBR_ROUNDS rounds"
	for ((k = 1; k <= RBR_ROUNDS; k++)); do
		for pair in 1 3; do
			order="r$pair b$pair"
			[ $((k % 2)) = 0 ] && order="b$pair r$pair"
			for key in $order; do
				run_timed "$key" "$REPS" 600 1 "$(q_pair "$key")"
				PAIR_MEDS[$key]+="${MED[$key]} "
				PAIR_CPUS[$key]+="${CPU[$key]} "
				PAIR_RES[$key]=${RES[$key]}
			done
		done
	done
	for key in r1 b1 r3 b3; do
		MED[$key]=$(printf '%s\n' ${PAIR_MEDS[$key]} | median)
		CPU[$key]=$(printf '%s\n' ${PAIR_CPUS[$key]} | median)
	done
fi

say "== peak backend memory"
mem_peak p_full "$(q_plan m v carry)"
mem_peak p_total "SELECT * FROM mlm.compute('$PLAN_BIN'::jsonb, 'm', 'v', $PERIOD, 'carry', kinds => 'total')"

if [ "$PERF" = 1 ]; then
	say "== profile of the plan"
	perf_profile p_full "$(q_plan m v carry)"
fi

# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------
R_FULL=$(ratio "$SQL_MS" "${MED[p_full]}")
R_FULL_CPU=$(ratio "$SQL_CPU" "${CPU[p_full]}")

say ""
say "## binary_bench results ($N members; server-side wall time and backend CPU time in ms; load average at end: $(cut -d' ' -f1-3 /proc/loadavg))"
say ""
say "| query | runs | median ms | min ms | median CPU ms | result | ratio (wall / CPU) |"
say "|---|---|---|---|---|---|---|"
row p_full "engine, binary + matrix + matching: \`SELECT kind, count(*) FROM mlm.compute(plan, 'm', 'v', ..., 'carry') GROUP BY kind\`" "1"
row p_bo "engine, binary bonus only (payouts and carry summarized)" "$(r2 "${MED[p_bo]}" "${MED[p_full]}" "${CPU[p_bo]}" "${CPU[p_full]}") x full plan"
row p_sql "plain SQL reference of the binary bonus (recursive CTE)" "$(r2 "$SQL_MS" "${MED[p_full]}" "$SQL_CPU" "${CPU[p_full]}") x full plan; $(r2 "$SQL_MS" "${MED[p_bo]}" "$SQL_CPU" "${CPU[p_bo]}") x engine binary-only"
printf '%s' "$EXTRA"
say ""
say "$CHECK"
say ""
say "| peak backend memory (MB) | fresh backend: VmHWM - VmRSS at connect | query's own peak (VmHWM reset by clear_refs, 2nd run) |"
say "|---|---|---|"
say "| full plan, default kinds (payout, member, carry, total) | ${MEMFRESH[p_full]} | ${MEMPEAK[p_full]} |"
say "| full plan, kinds 'total' (no result rows) | ${MEMFRESH[p_total]} | ${MEMPEAK[p_total]} |"
say ""
if [ "$RBR_ROUNDS" -gt 0 ]; then
	say "| binary-only plan ($RBR_ROUNDS rounds x $REPS runs; median of round medians) | median ms | median CPU ms | round medians ms | result | rate_by_rank / rate (wall / CPU) |"
	say "|---|---|---|---|---|---|"
	for pair in 1 3; do
		same=$([ "${PAIR_RES[r$pair]}" = "${PAIR_RES[b$pair]}" ] && echo "equal results" || echo "RESULTS DIFFER")
		say "| $pair rank(s), \`rate\` | $(fmt_ms "${MED[r$pair]}") | $(fmt_ms "${CPU[r$pair]}") | ${PAIR_MEDS[r$pair]} | ${PAIR_RES[r$pair]} | |"
		say "| $pair rank(s), \`rate_by_rank\` | $(fmt_ms "${MED[b$pair]}") | $(fmt_ms "${CPU[b$pair]}") | ${PAIR_MEDS[b$pair]} | ${PAIR_RES[b$pair]} | $(r3 "${MED[b$pair]}" "${MED[r$pair]}") / $(r3 "${CPU[b$pair]}" "${CPU[r$pair]}"); $same |"
	done
	say ""
fi
say "| target (wall time; backend CPU time in brackets) | measured | |"
say "|---|---|---|"
say "| binary + matrix + matching plan <= 2 s | $(fmt_ms "${MED[p_full]}") ms ($(fmt_ms "${CPU[p_full]}") ms) | $(pass "${MED[p_full]}" '<=' 2000) ($(pass "${CPU[p_full]}" '<=' 2000)) |"
say "| ratio SQL reference / engine full plan | ${R_FULL}x (${R_FULL_CPU}x) | |"
say ""
say "total run time: $(( $(date +%s) - START )) s"
