#!/usr/bin/env bash
#
# test/bench/engine_bench.sh - benchmark of the plan-driven commission engine
# against plain SQL (recursive CTEs) on a 1,000,000-member random sponsor
# tree, plus deep chains and a 10,000,000-member tree.  Run by hand (not in
# CI); takes ~6 minutes on 2 quiet cores (mostly the CTE baselines and the
# 10M tree).  Figures and method: BENCHMARKS.md.
#
#   test/bench/engine_bench.sh            # as root or as a normal user
#
# Environment knobs (defaults in brackets):
#   N [1000000]        members of the main random tree
#   REPS [5]           timed runs of each engine / floor query
#   CTE_REPS [2]       timed runs of each recursive-CTE baseline
#   CTE_TIMEOUT [300]  statement_timeout (s) of a CTE run; on timeout the CTE
#                      is run on a 100k subset and extrapolated
#   BIG_N [10000000]   members of the large tree (0 skips it); skipped with a
#                      note when generating it takes more than GEN_LIMIT [180] s
#   CHAIN_N ["100000 1000000"]  lengths of the deep chains
#   PERF [1]           profile one run of (b) with perf when perf is installed
#   SUBSET_N [100000]  size of the subset for the timeout case
#   SRC [worktree]     build the working tree, or SRC=head: a clean
#                      `git archive HEAD` (uncommitted changes left out)
#
# What it does: builds the extension, copies the PostgreSQL 15 server tree to
# a temp dir, installs the extension there (make install DESTDIR=...), starts
# a throwaway cluster (private socket dir and port, shared_buffers = 1GB,
# work_mem = 256MB, fsync = off, jit = off, no parallel query), loads the
# data once, runs every query several times in one session and prints
# medians and ratios as markdown tables; the cluster and the temp dir are
# removed at the end.
#
# Time is measured on the server: bench_once(sql) takes clock_timestamp()
# before and after EXECUTE of the query (parse + plan + execute, no client
# round trip), inside a plpgsql function, and the backend's user + system CPU
# time from /proc/self/stat (robust when other jobs load the machine);
# results are aggregated in SQL so no rows go to the client.  Peak backend
# memory is read from /proc/<backend pid>/status (VmHWM); see mem_peak below.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH_DIR=$REPO/test/bench
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
N=${N:-1000000}
REPS=${REPS:-5}
CTE_REPS=${CTE_REPS:-2}
CTE_TIMEOUT=${CTE_TIMEOUT:-300}
BIG_N=${BIG_N:-10000000}
GEN_LIMIT=${GEN_LIMIT:-180}
CHAIN_N=${CHAIN_N:-"100000 1000000"}
PERF=${PERF:-1}
SRC=${SRC:-worktree}
SUBSET_N=${SUBSET_N:-100000}

BENCH_NAME=engine_bench.sh
# shellcheck source=bench_lib.sh
source "$BENCH_DIR/bench_lib.sh"
# ---------------------------------------------------------------------------
# Queries
# ---------------------------------------------------------------------------
PERIOD="'2024-03-01', '2024-03-31'"
# unilevel with dynamic compression alone, rank "Member" at every level, so
# that the recursive CTE below computes exactly the same payouts
PLAN_U='{"name": "unilevel-only", "currency": {"scale": 2, "rounding": "half_up"}, "active": {"min_pv": 50}, "ranks": [{"name": "Member"}], "bonuses": [{"name": "unilevel", "type": "unilevel", "compression": "dynamic", "rates": [0.10, 0.05, 0.05, 0.04, 0.03], "min_rank_by_level": ["Member", "Member", "Member", "Member", "Member"]}]}'

q_vs() { echo "SELECT count(*), sum(gv) FROM mlm.volume_summary('$1', '$2')"; }
q_gv() { echo "SELECT count(*), sum(gv) FROM mlm.group_volume('$1', '$2')"; }
q_floor() { echo "SELECT sum(pv) FROM $1"; }
q_payouts() { echo "SELECT count(*), sum(amount) FROM mlm.payouts('$1'::jsonb, '$2', '$3', $PERIOD)"; }

# GV of every member, bottom-up: one (ancestor, pv) row per member and
# ancestor-or-self, O(sum of depths), then summed per ancestor.
q_cte_gv_pairs() {
	cat <<-EOF
		WITH RECURSIVE vs AS (SELECT member_id, sum(pv) AS pv FROM $2 GROUP BY member_id),
		up(anc, pv) AS (
		    SELECT m.id, coalesce(vs.pv, 0) FROM $1 m LEFT JOIN vs ON vs.member_id = m.id
		    UNION ALL
		    SELECT m.sponsor_id, up.pv FROM up JOIN $1 m ON m.id = up.anc WHERE m.sponsor_id IS NOT NULL)
		SELECT count(*), sum(gv) FROM (SELECT anc, sum(pv) AS gv FROM up GROUP BY anc) g
	EOF
}
# GV of every member, top-down: the root path of every member (index scans on
# sponsor_id, one level per iteration), then unnest(path) x pv summed per
# ancestor-or-self.
q_cte_gv_paths() {
	cat <<-EOF
		WITH RECURSIVE vs AS (SELECT member_id, sum(pv) AS pv FROM $2 GROUP BY member_id),
		t(id, path) AS (
		    SELECT id, ARRAY[id] FROM $1 WHERE sponsor_id IS NULL
		    UNION ALL
		    SELECT m.id, t.path || m.id FROM t JOIN $1 m ON m.sponsor_id = t.id)
		SELECT count(*), sum(gv) FROM (
		    SELECT a, sum(coalesce(vs.pv, 0)) AS gv
		      FROM t LEFT JOIN vs ON vs.member_id = t.id, unnest(t.path) a GROUP BY a) g
	EOF
}
# Unilevel, dynamic compression, 5 levels, as a recursive CTE: every source
# with cv <> 0 walks up; k = active ancestors passed so far; the ancestor at
# the current step gets level k + 1 when active; the walk stops after the 5th
# active ancestor or at the root.  Payout = per-recipient sum rounded half up
# (round() on numeric) to 2 decimals, zero payouts dropped - exactly spec 5.2
# and 6 when every level's min rank is the lowest rank.
q_cte_unilevel() {
	cat <<-EOF
		WITH RECURSIVE
		vs AS (SELECT member_id, sum(pv) AS pv, sum(cv) AS cv FROM $2 GROUP BY member_id),
		mm AS (SELECT m.id, m.sponsor_id,
		              coalesce(m.active_status, true) AND coalesce(vs.pv, 0) >= 50 AS active,
		              coalesce(vs.cv, 0) AS cv
		         FROM $1 m LEFT JOIN vs ON vs.member_id = m.id),
		walk(cv, anc, k) AS (
		    SELECT cv, sponsor_id, 0 FROM mm WHERE cv <> 0 AND sponsor_id IS NOT NULL
		    UNION ALL
		    SELECT w.cv, a.sponsor_id, w.k + a.active::int
		      FROM walk w JOIN mm a ON a.id = w.anc
		     WHERE a.sponsor_id IS NOT NULL AND w.k + a.active::int < 5),
		lines AS (
		    SELECT w.anc AS recipient, w.cv * (ARRAY[0.10, 0.05, 0.05, 0.04, 0.03])[w.k + 1] AS amount
		      FROM walk w JOIN mm a ON a.id = w.anc WHERE a.active)
		SELECT count(*), sum(amount) FROM (
		    SELECT recipient, round(sum(amount), 2) AS amount FROM lines GROUP BY recipient) p
		 WHERE amount <> 0
	EOF
}

# ---------------------------------------------------------------------------
# Run
# ---------------------------------------------------------------------------
START=$(date +%s)
setup_cluster
say "== machine: $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GB RAM; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

say "== data: $N-member random recursive tree (test/bench/engine_data.sql)"
t0=$(date +%s.%N)
bpsql -v n="$N" -v mt=m -v vt=v -v seed=0.42 -f "$BENCH_DIR/engine_data.sql" >/dev/null
bpsql -At -c "SELECT pg_prewarm('m'), pg_prewarm('v')" >/dev/null
say "   generated in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.0f", b - a}') s"
bpsql -At -F ' ' <<-'EOF' | sed 's/^/   /'
	SELECT 'members', count(*), 'active %', round(100.0 * count(*) FILTER (WHERE active_status AND pv >= 50) / count(*), 1),
	       'new (<30 days) %', round(100.0 * count(*) FILTER (WHERE joined > date '2024-03-01') / count(*), 1)
	  FROM m JOIN v ON v.member_id = m.id;
	SELECT 'depth max', max(depth), 'mean', round(avg(depth), 2), 'sum of (depth+1)', sum(depth + 1)
	  FROM mlm.volume_summary('m', 'v');
EOF

# the first SUBSET_N members (a complete tree: sponsors have smaller ids)
make_subset() {
	bpsql >/dev/null <<-EOF
		SET client_min_messages = warning;
		CREATE TABLE IF NOT EXISTS m_sub AS SELECT * FROM m WHERE id <= $SUBSET_N;
		CREATE TABLE IF NOT EXISTS v_sub AS SELECT * FROM v WHERE member_id <= $SUBSET_N;
		CREATE INDEX IF NOT EXISTS m_sub_id ON m_sub (id);
		CREATE INDEX IF NOT EXISTS m_sub_sponsor_id ON m_sub (sponsor_id);
		CREATE INDEX IF NOT EXISTS v_sub_member_id ON v_sub (member_id);
		VACUUM ANALYZE m_sub;
		VACUUM ANALYZE v_sub;
	EOF
}

# scale KEY FACTOR NEWKEY: MED and CPU of KEY times FACTOR (extrapolation)
scale() {
	MED[$3]=$(awk -v t="${MED[$1]}" -v f="$2" 'BEGIN {printf "%.0f", t * f}')
	CPU[$3]=$(awk -v t="${CPU[$1]}" -v f="$2" 'BEGIN {printf "%.0f", t * f}')
}

say "== (a) GV of every member"
run_timed a_floor "$REPS" 600 1 "$(q_floor v)"
run_timed a_vs "$REPS" 600 1 "$(q_vs m v)"
run_timed a_gv "$REPS" 600 1 "$(q_gv m v)"
run_timed a_cte_paths "$CTE_REPS" "$CTE_TIMEOUT" 0 "$(q_cte_gv_paths m v)"
run_timed a_cte_pairs "$CTE_REPS" "$CTE_TIMEOUT" 0 "$(q_cte_gv_pairs m v)"
A_EXTRA=
if [ "${MED[a_cte_paths]}" = timeout ] || [ "${MED[a_cte_pairs]}" = timeout ]; then
	say "   a CTE hit the ${CTE_TIMEOUT} s timeout: running the CTEs on the first $SUBSET_N members"
	make_subset
	PAIRS_FULL=$(bpsql -At -c "SELECT sum(depth + 1) FROM mlm.volume_summary('m', 'v')")
	PAIRS_SUB=$(bpsql -At -c "SELECT sum(depth + 1) FROM mlm.volume_summary('m_sub', 'v_sub')")
	for c in paths pairs; do
		if [ "${MED[a_cte_$c]}" = timeout ]; then
			run_timed "a_cte_${c}_sub" "$CTE_REPS" 600 0 "$(q_cte_gv_$c m_sub v_sub)"
			scale "a_cte_${c}_sub" "$(awk -v f="$PAIRS_FULL" -v s="$PAIRS_SUB" 'BEGIN {print f / s}')" "a_cte_${c}_x"
			A_EXTRA+=$(xrow "CTE $c on the first $SUBSET_N members" "${NREP[a_cte_${c}_sub]}" \
				"$(fmt_ms "${MED[a_cte_${c}_sub]}")" "$(fmt_ms "${MIN[a_cte_${c}_sub]}")" "$(fmt_ms "${CPU[a_cte_${c}_sub]}")" \
				"${RES[a_cte_${c}_sub]}" "extrapolated to $N members by the sum of depths ($PAIRS_SUB -> $PAIRS_FULL rows): ${MED[a_cte_${c}_x]} ms wall, ${CPU[a_cte_${c}_x]} ms CPU")$'\n'
		fi
	done
fi
# best CTE: the faster of the two (extrapolated when it timed out); $1 = MED or CPU
best_cte() {
	local -n arr=$1
	local best='' k v
	shift
	for k in "$@"; do
		v=${arr[$k]:-}
		[ "$v" = timeout ] && v=${arr[${k}_x]:-}
		[ -z "$v" ] && continue
		if [ -z "$best" ] || awk -v a="$v" -v b="$best" 'BEGIN {exit !(a < b)}'; then best=$v; fi
	done
	echo "$best"
}
A_CTE=$(best_cte MED a_cte_paths a_cte_pairs)
A_CTE_CPU=$(best_cte CPU a_cte_paths a_cte_pairs)

say "== (b) spec section 9 plan without binary, tables to payout rows"
run_timed b_full "$REPS" 600 1 "$(q_payouts "$PLAN_B" m v)"
run_timed b_uni "$REPS" 600 1 "$(q_payouts "$PLAN_U" m v)"
run_timed b_cte "$CTE_REPS" "$CTE_TIMEOUT" 0 "$(q_cte_unilevel m v)"
B_EXTRA=
B_CTE=${MED[b_cte]}
B_CTE_CPU=${CPU[b_cte]}
if [ "$B_CTE" = timeout ]; then
	say "   the unilevel CTE hit the ${CTE_TIMEOUT} s timeout: running it on the first $SUBSET_N members"
	make_subset
	run_timed b_cte_sub "$CTE_REPS" 600 0 "$(q_cte_unilevel m_sub v_sub)"
	scale b_cte_sub "$(awk -v n="$N" -v s="$SUBSET_N" 'BEGIN {print n / s}')" b_cte_x
	B_CTE=${MED[b_cte_x]}
	B_CTE_CPU=${CPU[b_cte_x]}
	B_EXTRA=$(xrow "unilevel CTE on the first $SUBSET_N members" "${NREP[b_cte_sub]}" "$(fmt_ms "${MED[b_cte_sub]}")" \
		"$(fmt_ms "${MIN[b_cte_sub]}")" "$(fmt_ms "${CPU[b_cte_sub]}")" "${RES[b_cte_sub]}" \
		"extrapolated linearly (the walk stops after 5 active levels) to $N members: $B_CTE ms wall, $B_CTE_CPU ms CPU")$'\n'
fi
B_CHECK="CTE total = engine unilevel-only total: NO (${RES[b_cte]:-} vs ${RES[b_uni]})"
if [ "${MED[b_cte]}" != timeout ] && [ "${RES[b_cte]}" = "${RES[b_uni]}" ]; then
	B_CHECK="CTE total = engine unilevel-only total on all $N members: yes ${RES[b_uni]}"
elif [ "${MED[b_cte]}" = timeout ]; then
	ENG_SUB=$(bpsql -At -c "SELECT bench_once(\$bq\$$(q_payouts "$PLAN_U" m_sub v_sub)\$bq\$)" | cut -d'|' -f3)
	if [ "$ENG_SUB" = "${RES[b_cte_sub]}" ]; then
		B_CHECK="CTE total = engine unilevel-only total on the first $SUBSET_N members: yes $ENG_SUB"
	else
		B_CHECK="CTE total = engine unilevel-only total on the first $SUBSET_N members: NO ($ENG_SUB vs ${RES[b_cte_sub]})"
	fi
fi
say "   $B_CHECK"

say "== (b) peak backend memory"
mem_peak b_full "$(q_payouts "$PLAN_B" m v)"
mem_peak b_total "SELECT * FROM mlm.compute('$PLAN_B'::jsonb, 'm', 'v', $PERIOD, kinds => 'total')"
mem_peak b_full_wm4 "$(q_payouts "$PLAN_B" m v)" "SET work_mem = '4MB'"
mem_peak a_vs "$(q_vs m v)"

if [ "$PERF" = 1 ]; then
	say "== (b) profile"
	perf_profile b_full "$(q_payouts "$PLAN_B" m v)"
	say "== (a) profile"
	perf_profile a_vs "$(q_vs m v)"
fi

say "== deep chains: member k sponsored by k - 1, plan (b)"
CHAIN_ROWS=
for cn in $CHAIN_N; do
	bpsql >/dev/null <<-EOF
		SET client_min_messages = warning;
		DROP TABLE IF EXISTS mc, vc;
		CREATE TABLE mc AS SELECT id, CASE WHEN id = 1 THEN NULL ELSE id - 1 END AS sponsor_id,
		       placement_id, position, active_status, joined FROM m WHERE id <= $cn;
		CREATE TABLE vc AS SELECT * FROM v WHERE member_id <= $cn;
		VACUUM ANALYZE mc; VACUUM ANALYZE vc;
	EOF
	run_timed "chain_$cn" 3 600 1 "$(q_payouts "$PLAN_B" mc vc)"
	mem_peak "chain_$cn" "$(q_payouts "$PLAN_B" mc vc)"
	CHAIN_ROWS+=$(row "chain_$cn" "chain of $cn members (depth $((cn - 1))), plan (b)" "query's own peak memory ${MEMPEAK[chain_$cn]} MB")$'\n'
done
bpsql -c 'DROP TABLE IF EXISTS mc, vc' >/dev/null

BIG_ROWS=
if [ "$BIG_N" -gt 0 ]; then
	say "== large tree: $BIG_N members"
	t0=$(date +%s.%N)
	# every statement is limited to GEN_LIMIT s, and so is the total
	if PGOPTIONS="-c statement_timeout=${GEN_LIMIT}s" bpsql -v n="$BIG_N" -v mt=mbig -v vt=vbig -v seed=0.42 \
		-f "$BENCH_DIR/engine_data.sql" >/dev/null 2>&1 &&
		GEN_S=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.0f", b - a}') &&
		[ "$GEN_S" -le "$GEN_LIMIT" ]; then
		say "   generated in $GEN_S s"
		bpsql -At -c "SELECT pg_prewarm('mbig'), pg_prewarm('vbig')" >/dev/null
		run_timed big_full 3 600 1 "$(q_payouts "$PLAN_B" mbig vbig)"
		mem_peak big_full "$(q_payouts "$PLAN_B" mbig vbig)"
		run_timed big_vs 3 600 1 "$(q_vs mbig vbig)"
		BIG_ROWS+=$(row big_full "$BIG_N-member random tree, plan (b) (data generated in $GEN_S s)" \
			"query's own peak memory ${MEMPEAK[big_full]} MB (fresh-backend VmHWM growth ${MEMFRESH[big_full]} MB)")$'\n'
		BIG_ROWS+=$(row big_vs "$BIG_N-member random tree, volume_summary GV")$'\n'
		bpsql -c 'DROP TABLE IF EXISTS mbig, vbig' >/dev/null
	else
		say "   generating $BIG_N members took more than $GEN_LIMIT s: skipped"
		BIG_ROWS=$(xrow "$BIG_N-member random tree" "" "skipped: generating it took more than $GEN_LIMIT s" "" "" "" "")$'\n'
		bpsql -c 'DROP TABLE IF EXISTS mbig, vbig' >/dev/null 2>&1 || true
	fi
fi

# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------
pass() { awk -v a="$1" -v op="$2" -v b="$3" 'BEGIN {if (a == "n/a") {print "n/a"; exit} r = (op == ">=") ? (a + 0 >= b + 0) : (a + 0 <= b + 0); print r ? "met" : "NOT met"}'; }
# ratio of medians, wall / CPU
r2() { echo "$(ratio "$1" "$2") / $(ratio "$3" "$4")"; }
A_VS_FLOOR=$(ratio "${MED[a_vs]}" "${MED[a_floor]}")
A_VS_FLOOR_CPU=$(ratio "${CPU[a_vs]}" "${CPU[a_floor]}")
A_CTE_VS=$(ratio "$A_CTE" "${MED[a_vs]}")
A_GV_FLOOR=$(ratio "${MED[a_gv]}" "${MED[a_floor]}")
A_GV_FLOOR_CPU=$(ratio "${CPU[a_gv]}" "${CPU[a_floor]}")
A_CTE_GV=$(ratio "$A_CTE" "${MED[a_gv]}")
A_CTE_GV_CPU=$(ratio "$A_CTE_CPU" "${CPU[a_gv]}")
A_CTE_VS_CPU=$(ratio "$A_CTE_CPU" "${CPU[a_vs]}")
B_CTE_FULL=$(ratio "$B_CTE" "${MED[b_full]}")
B_CTE_FULL_CPU=$(ratio "$B_CTE_CPU" "${CPU[b_full]}")

HDR="| query | runs | median ms | min ms | median CPU ms | result (count, sum) | ratio (wall / CPU) |"
SEP="|---|---|---|---|---|---|---|"
say ""
say "## engine_bench results ($N members; server-side wall time and backend CPU time in ms; load average at end: $(cut -d' ' -f1-3 /proc/loadavg))"
say ""
say "### (a) GV of every member"
say ""
say "$HDR"
say "$SEP"
row a_floor "floor: \`SELECT sum(pv) FROM v\`" "1"
row a_gv "\`mlm.group_volume('m', 'v')\`" "$(r2 "${MED[a_gv]}" "${MED[a_floor]}" "${CPU[a_gv]}" "${CPU[a_floor]}") x floor"
row a_vs "\`mlm.volume_summary('m', 'v')\` (ten columns)" "$(r2 "${MED[a_vs]}" "${MED[a_floor]}" "${CPU[a_vs]}" "${CPU[a_floor]}") x floor"
row a_cte_paths "recursive CTE, top-down root paths + unnest" "$(r2 "${MED[a_cte_paths]}" "${MED[a_vs]}" "${CPU[a_cte_paths]}" "${CPU[a_vs]}") x volume_summary"
row a_cte_pairs "recursive CTE, bottom-up (ancestor, pv) pairs" "$(r2 "${MED[a_cte_pairs]}" "${MED[a_vs]}" "${CPU[a_cte_pairs]}" "${CPU[a_vs]}") x volume_summary"
printf '%s' "$A_EXTRA"
say ""
say "### (b) plan of spec section 9 without the binary bonus, tables to payout rows"
say ""
say "$HDR"
say "$SEP"
row b_full "engine, full plan: \`mlm.payouts(plan, 'm', 'v', ...)\`" "1"
row b_uni "engine, unilevel (dynamic, 5 levels) only" "$(r2 "${MED[b_uni]}" "${MED[b_full]}" "${CPU[b_uni]}" "${CPU[b_full]}") x full plan"
row b_cte "recursive CTE, unilevel (dynamic, 5 levels) only" "$(r2 "$B_CTE" "${MED[b_full]}" "$B_CTE_CPU" "${CPU[b_full]}") x full plan; $(r2 "$B_CTE" "${MED[b_uni]}" "$B_CTE_CPU" "${CPU[b_uni]}") x engine unilevel-only"
printf '%s' "$B_EXTRA"
printf '%s' "$CHAIN_ROWS"
printf '%s' "$BIG_ROWS"
say ""
say "$B_CHECK"
say ""
say "### peak backend memory (MB)"
say ""
say "| query | fresh backend: VmHWM - VmRSS at connect | query's own peak (VmHWM reset by clear_refs, 2nd run) |"
say "|---|---|---|"
say "| (b) payouts, work_mem 256MB | ${MEMFRESH[b_full]} | ${MEMPEAK[b_full]} |"
say "| (b) compute, kinds 'total' (no result rows) | ${MEMFRESH[b_total]} | ${MEMPEAK[b_total]} |"
say "| (b) payouts, work_mem 4MB (result tuplestore spills) | ${MEMFRESH[b_full_wm4]} | ${MEMPEAK[b_full_wm4]} |"
say "| (a) volume_summary, work_mem 256MB | ${MEMFRESH[a_vs]} | ${MEMPEAK[a_vs]} |"
say ""
say "### targets (wall time; backend CPU time in brackets)"
say ""
say "| target | measured | |"
say "|---|---|---|"
say "| (a) group_volume >= 50x faster than the best CTE | ${A_CTE_GV}x (${A_CTE_GV_CPU}x) | $(pass "$A_CTE_GV" '>=' 50) ($(pass "$A_CTE_GV_CPU" '>=' 50)) |"
say "| (a) group_volume <= 4x the floor | ${A_GV_FLOOR}x (${A_GV_FLOOR_CPU}x) | $(pass "$A_GV_FLOOR" '<=' 4) ($(pass "$A_GV_FLOOR_CPU" '<=' 4)) |"
say "| (a) volume_summary >= 50x faster than the best CTE | ${A_CTE_VS}x (${A_CTE_VS_CPU}x) | $(pass "$A_CTE_VS" '>=' 50) ($(pass "$A_CTE_VS_CPU" '>=' 50)) |"
say "| (a) volume_summary <= 4x the floor | ${A_VS_FLOOR}x (${A_VS_FLOOR_CPU}x) | $(pass "$A_VS_FLOOR" '<=' 4) ($(pass "$A_VS_FLOOR_CPU" '<=' 4)) |"
say "| (b) <= 2 s | $(fmt_ms "${MED[b_full]}") ms ($(fmt_ms "${CPU[b_full]}") ms) | $(pass "${MED[b_full]}" '<=' 2000) ($(pass "${CPU[b_full]}" '<=' 2000)) |"
say "| (b) >= 10x faster than the unilevel CTE | ${B_CTE_FULL}x (${B_CTE_FULL_CPU}x) | $(pass "$B_CTE_FULL" '>=' 10) ($(pass "$B_CTE_FULL_CPU" '>=' 10)) |"
say "| (b) peak backend memory <= 200 MB | ${MEMPEAK[b_full]} MB | $(pass "${MEMPEAK[b_full]}" '<=' 200) |"
say ""
say "total run time: $(( $(date +%s) - START )) s"
