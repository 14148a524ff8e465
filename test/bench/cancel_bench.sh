#!/usr/bin/env bash
#
# test/bench/cancel_bench.sh - how soon a cancel takes effect, and what the
# audit lines cost in memory.  Run by hand; not part of the test suite.
#
#   bash test/bench/cancel_bench.sh
#
# Knobs: N [1000000] members of the random tree and the chain, LEVELS
# [1000] levels of the deep plan, TIMEOUT_MS [200] statement_timeout,
# MEM [1] also measure the peak private memory of the backend during a
# close of the random tree with and without audit lines (a plan of about 10
# lines a member), at default settings (work_mem 4MB).
#
# Every statement below runs with statement_timeout = TIMEOUT_MS on the
# worst shapes (the random tree, the chain, a LEVELS-level plan whose walks
# never end early) and is cancelled by it; the time from the statement's
# start to the error, minus the timeout, is the latency of the cancel.
# The target is under 1 s for every one.
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH_DIR=$REPO/test/bench
BENCH_NAME=cancel_bench.sh
N=${N:-1000000}
LEVELS=${LEVELS:-1000}
TIMEOUT_MS=${TIMEOUT_MS:-200}
MEM=${MEM:-1}
SRC=${SRC:-worktree}
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
# shellcheck source=test/bench/bench_lib.sh
source "$BENCH_DIR/bench_lib.sh"

setup_cluster
say "== data: random tree and chain of $N members, one sale each; a $LEVELS-level plan"
bpsql <<EOF >/dev/null
CREATE TABLE rnd AS
  SELECT i::bigint AS id, CASE WHEN i > 1 THEN 1 + (hashint8(i) & 2147483647) % (i - 1) END::bigint AS sponsor_id,
         CASE WHEN i > 1 THEN (i / 2)::bigint END AS placement_id, CASE WHEN i > 1 THEN (i % 2)::int END AS position,
         true AS active_status, date '2024-03-20' AS joined
    FROM generate_series(1, $N) i;
CREATE TABLE chain AS
  SELECT i::bigint AS id, CASE WHEN i > 1 THEN i - 1 END::bigint AS sponsor_id,
         true AS active_status, date '2024-03-20' AS joined
    FROM generate_series(1, $N) i;
CREATE TABLE vol AS SELECT i::bigint AS member_id, 100::numeric AS pv, 10::numeric AS cv FROM generate_series(1, $N) i;
CREATE TABLE trees AS SELECT 'rnd' AS name, mlm.tree_agg(id, sponsor_id, placement_id, position) AS t FROM rnd
  UNION ALL SELECT 'chain', mlm.tree_agg(id, sponsor_id) FROM chain;
ANALYZE;
CREATE TABLE plans (name text PRIMARY KEY, def jsonb);
INSERT INTO plans SELECT 'unilevel', jsonb_build_object('ranks', '[{"name": "M"}]'::jsonb, 'bonuses',
  jsonb_build_array(jsonb_build_object('name', 'u', 'type', 'unilevel', 'rates', (SELECT jsonb_agg(0.001) FROM generate_series(1, $LEVELS)))));
INSERT INTO plans SELECT 'fast_start', jsonb_build_object('ranks', '[{"name": "M"}]'::jsonb, 'bonuses',
  jsonb_build_array(jsonb_build_object('name', 'f', 'type', 'fast_start', 'days', 30, 'rates', (SELECT jsonb_agg(0.001) FROM generate_series(1, $LEVELS)))));
INSERT INTO plans SELECT 'matching', jsonb_build_object('ranks', '[{"name": "M"}]'::jsonb, 'bonuses',
  jsonb_build_array(jsonb_build_object('name', 'p', 'type', 'personal', 'rate', 0.5),
                    jsonb_build_object('name', 'm', 'type', 'matching', 'of', jsonb_build_array('p'), 'rates', (SELECT jsonb_agg(0.001) FROM generate_series(1, $LEVELS)))));
INSERT INTO plans VALUES ('differential', '{"ranks": [{"name": "M"}, {"name": "S", "min_pv": 1000}],
  "bonuses": [{"name": "d", "type": "differential", "rate_by_rank": {"M": 0.01, "S": 0.2}}]}');
INSERT INTO plans VALUES ('binary', '{"ranks": [{"name": "M"}], "bonuses": [{"name": "b", "type": "binary", "rate": 0.1}]}');
SELECT mlm.add_plan_version('deep', (SELECT def FROM plans WHERE name = 'unilevel'));
CREATE TABLE volp AS SELECT v.*, p AS period FROM vol v, unnest(ARRAY['2024-03', '2024-04', '2024-05']) p;
SELECT mlm.register_source('chain', 'chain', 'volp', 'period');
SELECT mlm.register_source('rnd', 'rnd', 'volp', 'period');
-- the plan of the memory measurement: about 12 audit lines a member
SELECT mlm.add_plan_version('wide', '{"active": {"min_pv": 50}, "ranks": [{"name": "M"}],
  "bonuses": [{"name": "p", "type": "personal", "rate": 0.05},
              {"name": "u", "type": "unilevel", "rates": [0.05, 0.04, 0.03, 0.02, 0.01, 0.01, 0.01, 0.01], "compression": "dynamic"},
              {"name": "m", "type": "matching", "of": ["u"], "rates": [0.1, 0.05, 0.02]}]}');
-- the time from the statement's start to the cancel
CREATE FUNCTION cancel_ms(q text) RETURNS text LANGUAGE plpgsql AS \$f\$
DECLARE
	t0 timestamptz := statement_timestamp();
BEGIN
	EXECUTE q;
	RETURN 'finished in ' || round((extract(epoch FROM clock_timestamp() - t0) * 1000)::numeric) || ' ms';
EXCEPTION WHEN query_canceled THEN
	RETURN round((extract(epoch FROM clock_timestamp() - t0) * 1000)::numeric)::text;
END
\$f\$;
EOF

declare -a NAMES=() SQLS=()
add() { NAMES+=("$1"); SQLS+=("$2"); }
P="(SELECT def FROM plans WHERE name = "
add "tree build, random" "SELECT mlm.tree_agg(id, sponsor_id, placement_id, position) FROM rnd"
add "tree build, chain" "SELECT mlm.tree_agg(id, sponsor_id) FROM chain"
add "downline of the chain's root" "SELECT count(*) FROM mlm.downline((SELECT t FROM trees WHERE name = 'chain'), 1)"
add "upline of the chain's end" "SELECT count(*) FROM mlm.upline((SELECT t FROM trees WHERE name = 'chain'), $N)"
add "depth of every member, chain" "SELECT sum(mlm.depth((SELECT t FROM trees WHERE name = 'chain'), id)) FROM chain"
add "members of the random tree" "SELECT count(*) FROM mlm.members((SELECT t FROM trees WHERE name = 'rnd'))"
add "group_volume, chain" "SELECT count(*) FROM mlm.group_volume('chain', 'vol')"
VS_LEVELS=$(( LEVELS < 134217728 / N ? LEVELS : 134217728 / N ))
add "volume_summary levels $VS_LEVELS, chain" "SELECT count(*) FROM mlm.volume_summary('chain', 'vol', $VS_LEVELS)"
add "compute, unilevel $LEVELS levels, chain" "SELECT count(*) FROM mlm.compute(${P}'unilevel'), 'chain', 'vol', '2024-03-01', '2024-03-31')"
add "compute with lines, same" "SELECT count(*) FROM mlm.compute(${P}'unilevel'), 'chain', 'vol', '2024-03-01', '2024-03-31', NULL, true)"
add "mlm.lines, same" "SELECT count(*) FROM mlm.lines(${P}'unilevel'), 'chain', 'vol', '2024-03-01', '2024-03-31')"
add "fast start $LEVELS levels, chain" "SELECT count(*) FROM mlm.payouts(${P}'fast_start'), 'chain', 'vol', '2024-03-01', '2024-03-31')"
add "matching $LEVELS generations, chain" "SELECT count(*) FROM mlm.payouts(${P}'matching'), 'chain', 'vol', '2024-03-01', '2024-03-31')"
add "differential, chain" "SELECT count(*) FROM mlm.payouts(${P}'differential'), 'chain', 'vol', '2024-03-01', '2024-03-31')"
add "binary, random" "SELECT count(*) FROM mlm.payouts(${P}'binary'), 'rnd', 'vol', '2024-03-01', '2024-03-31')"
add "place_many 20000 recruits, random" "SELECT count(*) FROM mlm.place_many((SELECT t FROM trees WHERE name = 'rnd'), (SELECT array_agg(g) FROM generate_series($N + 1, $N + 20000) g), (SELECT array_agg(1::bigint) FROM generate_series(1, 20000)), 'spillover', 2)"
add "close with lines, $LEVELS-level plan, chain" "SELECT mlm.close('deep', '2024-03', '2024-03-01', '2024-03-31', 'chain', with_lines => true)"

say ""
say "== cancel latency: statement_timeout = ${TIMEOUT_MS} ms ($(date -u +%Y-%m-%d), $(nproc) cores, N = $N)"
say ""
say "| statement | cancelled after | latency |"
say "|---|---:|---:|"
worst=0
for i in "${!NAMES[@]}"; do
	res=$(bpsql -At -c "SET statement_timeout = '${TIMEOUT_MS}ms'" -c "SELECT cancel_ms(\$q\$${SQLS[$i]}\$q\$)" | tail -n 1)
	case $res in
		finished*) say "| ${NAMES[$i]} | $res | (not cancelled) |" ;;
		*)
			lat=$((res - TIMEOUT_MS))
			[ "$lat" -gt "$worst" ] && worst=$lat
			say "| ${NAMES[$i]} | $res ms | $lat ms |"
			;;
	esac
done
say ""
say "worst latency: $worst ms"

# anon_peak KEY SQL: the peak of the backend's private memory (RssAnon of
# /proc/PID/status, sampled every 20 ms) while SQL runs in a fresh session
# with default settings: shared buffers the backend touches are not counted
# (VmHWM would count them, and a close that writes ten million rows touches
# a lot of them).
declare -A ANON
anon_peak() {
	local key=$1 sql=$2 app=mlm_probe_$1 pid= bpid peak=0 v
	bpsql -At -c "SET application_name = '$app'" -c "SET work_mem = '4MB'" -c "$sql" >/dev/null &
	bpid=$!
	for _ in $(seq 1 200); do
		pid=$(bpsql -At -c "SELECT pid FROM pg_stat_activity WHERE application_name = '$app'")
		[ -n "$pid" ] && break
		sleep 0.02
	done
	while kill -0 "$bpid" 2>/dev/null; do
		v=$(awk '/^RssAnon:/ {print $2}' "/proc/$pid/status" 2>/dev/null)
		[ -n "$v" ] && [ "$v" -gt "$peak" ] && peak=$v
		sleep 0.02
	done
	wait "$bpid"
	ANON[$key]=$((peak / 1024))
	say "   $key: peak private memory (RssAnon) ${ANON[$key]} MB"
}

if [ "$MEM" = 1 ]; then
	say ""
	say "== peak private memory of a close of the random tree, $N members, default settings"
	anon_peak close_nolines "SELECT mlm.close('wide', '2024-04', '2024-04-01', '2024-04-30', 'rnd', with_lines => false)"
	anon_peak close_lines "SELECT mlm.close('wide', '2024-05', '2024-05-01', '2024-05-31', 'rnd', with_lines => true)"
	say "   lines written: $(bpsql -At -c "SELECT line_rows FROM mlm.run WHERE plan_name = 'wide' AND period_label = '2024-05'")"
	say ""
	say "| close | peak private memory of the backend |"
	say "|---|---:|"
	say "| lines off | ${ANON[close_nolines]} MB |"
	say "| lines on | ${ANON[close_lines]} MB |"
	say "ratio lines on / off: $(ratio "${ANON[close_lines]}" "${ANON[close_nolines]}")"
fi
