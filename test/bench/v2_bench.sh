#!/usr/bin/env bash
#
# test/bench/v2_bench.sh - what contract v2 costs: plan (b) of
# engine_bench.sh against the same plan with the version 2 keys (grace of
# two periods, a rank-advancement bonus, min_payout) on the same members with
# 30% of them customers, payout holds and a random opening state, side by
# side in one session, on the 1M random tree and on a 1M-deep chain (whose
# last 30% is one chain of customers); then three monthly closes of the v2
# plan chained through their states (close + finalize each).  Run by hand
# (not in CI); about 5 minutes on 2 cores.  Figures: BENCHMARKS.md.
#
#   test/bench/v2_bench.sh            # as root or as a normal user
#
# Environment knobs (defaults in brackets):
#   N [1000000]   members of the random tree and of the chain
#   REPS [3]      timed runs of each query
#   CHAIN [1]     also the deep chain
#   CLOSES [1]    also the three chained closes
#   SRC [worktree]  or head: a clean `git archive HEAD`
#
# Time is measured on the server (bench_once of bench_lib.sh: wall and
# backend CPU time of parse + plan + execute); ratios are of medians.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH_DIR=$REPO/test/bench
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
N=${N:-1000000}
REPS=${REPS:-3}
CHAIN=${CHAIN:-1}
CLOSES=${CLOSES:-1}
SRC=${SRC:-worktree}

BENCH_NAME=v2_bench.sh
# shellcheck source=bench_lib.sh
source "$BENCH_DIR/bench_lib.sh"

PERIOD="'2024-03-01', '2024-03-31'"
# plan (b) (bench_lib.sh) with the version 2 keys
PLAN_V2=$(printf '%s' "$PLAN_B" | sed 's/"cap": {"pct": 0.45}}$/"cap": {"pct": 0.45}, "rank_policy": {"grace_periods": 2}, "payout": {"min_payout": 25}}/; s/\], "cap"/, {"name": "advancement", "type": "rank_advancement", "amounts": {"Silver": 100, "Gold": 500}}], "cap"/')

q_payouts() { echo "SELECT count(*), sum(amount) FROM mlm.payouts('$1'::jsonb, '$2', '$3', $PERIOD${4:+, '$4'})"; }
q_payables() { echo "SELECT count(*), sum(paid) FROM mlm.payables('$1'::jsonb, '$2', '$3', $PERIOD${4:+, '$4'})"; }

# The v2 inputs of a members table $1 (volumes $2): $1_v2 with member_type
# and payout_hold, and $1_st, a random opening state.  Customers: on the
# random tree 60% of the leaves (about 30% of all members; a leaf sponsors
# nobody, so every customer rule holds); on a chain the last 30% (one
# customer chain below a distributor).
make_v2() {
	local m=$1 chain=$2
	bpsql >/dev/null <<-EOF
		SET client_min_messages = warning;
		SELECT setseed(0.17);
		DROP TABLE IF EXISTS ${m}_v2, ${m}_st;
		CREATE TABLE ${m}_v2 AS
		SELECT m.*,
		       CASE WHEN $chain THEN m.id > 0.7 * $N
		            ELSE NOT EXISTS (SELECT 1 FROM $m c WHERE c.sponsor_id = m.id) AND random() < 0.6
		       END AS customer,
		       random() < 0.02 AS payout_hold
		  FROM $m m;
		ALTER TABLE ${m}_v2 ADD COLUMN member_type text;
		UPDATE ${m}_v2 SET member_type = CASE WHEN customer THEN 'customer' ELSE 'distributor' END;
		ALTER TABLE ${m}_v2 DROP COLUMN customer;
		-- half the members bring a state: a title, a paid-as rank, grace, a balance
		CREATE TABLE ${m}_st AS
		SELECT id AS member_id,
		       (ARRAY[NULL, 'Bronze', 'Silver', 'Gold'])[1 + floor(random() * 4)::int] AS title_rank,
		       (ARRAY[NULL, 'Bronze', 'Silver', 'Gold'])[1 + floor(random() * 4)::int] AS paid_as_rank,
		       floor(random() * 3)::int AS grace,
		       round((random() * 100 - 50)::numeric, 2) AS balance
		  FROM $m WHERE random() < 0.5;
		VACUUM ANALYZE ${m}_v2; VACUUM ANALYZE ${m}_st;
	EOF
	bpsql -At -c "SELECT 'customers: ' || count(*) FILTER (WHERE member_type = 'customer') || ' of ' || count(*) FROM ${m}_v2; SELECT 'state rows: ' || count(*) FROM ${m}_st"
}

START=$(date +%s)
setup_cluster
say "== machine: $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GB RAM; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
say "== data: $N-member random recursive tree (test/bench/engine_data.sql)"
bpsql -v n="$N" -v mt=m -v vt=v -v seed=0.42 -f "$BENCH_DIR/engine_data.sql" >/dev/null
make_v2 m false | sed 's/^/   /'
bpsql -At -c "SELECT pg_prewarm('m'), pg_prewarm('v'), pg_prewarm('m_v2'), pg_prewarm('m_st')" >/dev/null

say "== random tree: plan (b) and plan (b) with the v2 keys"
run_timed r_b "$REPS" 900 1 "$(q_payouts "$PLAN_B" m v)"
run_timed r_v2 "$REPS" 900 1 "$(q_payouts "$PLAN_V2" m_v2 v m_st)"
run_timed r_v2_pay "$REPS" 900 1 "$(q_payables "$PLAN_V2" m_v2 v m_st)"

if [ "$CHAIN" = 1 ]; then
	say "== deep chain: member k sponsored by k - 1"
	bpsql >/dev/null <<-EOF
		SET client_min_messages = warning;
		CREATE TABLE mc AS SELECT id, CASE WHEN id = 1 THEN NULL ELSE id - 1 END AS sponsor_id,
		       placement_id, position, active_status, joined FROM m;
		VACUUM ANALYZE mc;
	EOF
	make_v2 mc true | sed 's/^/   /'
	run_timed c_b "$REPS" 900 1 "$(q_payouts "$PLAN_B" mc v)"
	run_timed c_v2 "$REPS" 900 1 "$(q_payouts "$PLAN_V2" mc_v2 v mc_st)"
fi

CLOSE_ROWS=
if [ "$CLOSES" = 1 ]; then
	say "== three monthly closes of the v2 plan, chained through their states"
	bpsql >/dev/null <<-EOF
		SET client_min_messages = warning;
		SELECT setseed(0.5);
		CREATE TABLE sale AS
		SELECT v.member_id, p.period, round(v.pv * (0.5 + random())::numeric, 2) AS pv, round(v.cv * (0.5 + random())::numeric, 2) AS cv
		  FROM v, (VALUES ('2024-01'), ('2024-02'), ('2024-03')) p(period);
		VACUUM ANALYZE sale;
		SELECT mlm.register_source('bench', 'm_v2', 'sale', 'period', carry => 'm_st');
		SELECT mlm.add_plan_version('bench', '$PLAN_V2'::jsonb);
		CREATE FUNCTION close_month(label text, d1 date, d2 date) RETURNS text LANGUAGE plpgsql AS \$f\$
		DECLARE t0 timestamptz; t1 timestamptz; t2 timestamptz; r bigint;
		BEGIN
		  t0 := clock_timestamp();
		  r := mlm.close('bench', label, d1, d2, 'bench');
		  t1 := clock_timestamp();
		  PERFORM mlm.finalize(r);
		  t2 := clock_timestamp();
		  RETURN format('%s|%s|%s', round(extract(epoch FROM t1 - t0) * 1000), round(extract(epoch FROM t2 - t1) * 1000),
		                (SELECT format('%s state rows, %s payables, paid out %s, balances out %s',
		                               state_rows, payable_rows, paid_out, balance_out) FROM mlm.run WHERE run_id = r));
		END \$f\$;
	EOF
	for mo in "2024-01 2024-01-01 2024-01-31" "2024-02 2024-02-01 2024-02-29" "2024-03 2024-03-01 2024-03-31"; do
		set -- $mo
		out=$(bpsql -At -c "SELECT close_month('$1', '$2', '$3')")
		IFS='|' read -r c_ms f_ms what <<<"$out"
		say "   $1: close $c_ms ms, finalize $f_ms ms; $what"
		CLOSE_ROWS+=$(xrow "close of $1 (state from $( [ "$1" = 2024-01 ] && echo 'the opening state' || echo 'the month before'))" 1 "$c_ms" "" "" "$what" "finalize $f_ms ms")$'\n'
	done
fi

HDR="| query | runs | median ms | min ms | median CPU ms | result | note |"
SEP="|---|---|---|---|---|---|---|"
say ""
say "## v2_bench results ($N members; server-side wall and backend CPU time; load average at end: $(cut -d' ' -f1-3 /proc/loadavg); $(($(date +%s) - START)) s in all)"
say ""
say "$HDR"
say "$SEP"
row r_b "random tree, plan (b): \`mlm.payouts\`" "1"
row r_v2 "random tree, plan (b) + v2 keys, 30% customers, random state" "$(ratio "${MED[r_v2]}" "${MED[r_b]}") x plan (b) (CPU $(ratio "${CPU[r_v2]}" "${CPU[r_b]}") x)"
row r_v2_pay "random tree, the same, \`mlm.payables\`" "$(ratio "${MED[r_v2_pay]}" "${MED[r_b]}") x plan (b)"
if [ "$CHAIN" = 1 ]; then
	row c_b "chain of $N, plan (b)" "1"
	row c_v2 "chain of $N (last 30% one customer chain), plan (b) + v2 keys" "$(ratio "${MED[c_v2]}" "${MED[c_b]}") x plan (b) (CPU $(ratio "${CPU[c_v2]}" "${CPU[c_b]}") x)"
fi
printf '%s' "$CLOSE_ROWS"
