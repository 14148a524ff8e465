#!/usr/bin/env bash
#
# test/bench/tree_bench.sh - benchmark of the mlm.tree snapshot against plain
# SQL (count(*) floors, plain scans, recursive CTEs) on a 1,000,000-member
# random sponsor tree and a 1,000,000-deep chain.  Run by hand; not part of
# the test suite.  Takes about 5 minutes on 2 cores.
#
#   bash test/bench/tree_bench.sh            # as root or as a normal user
#
# Knobs (environment, defaults in brackets):
#   N [1000000]          members of the random tree and of the chain
#   REPS [5]             timed runs of each query (after one untimed warm-up)
#   CTE_REPS [3]         timed runs of the recursive CTEs on the chain
#   CTE_TIMEOUT [120]    statement_timeout (s) of a CTE on the chain; a run
#                        that hits it is reported as "> 120 s"
#
# It sources test/lib.sh: builds the extension, copies the PostgreSQL 15
# server tree to a temp dir, installs the extension there, starts a
# throwaway cluster on its own socket dir and port (fsync off), then sets
# shared_buffers = 1GB, work_mem = 256MB, jit = off and restarts.  The data
# is generated once: m(id, sponsor_id) with sponsor = a random earlier
# member, primary key on id and an index on sponsor_id; chain(id,
# sponsor_id) = 1 <- 2 <- ... <- N, indexed the same way; and a table
# snapshot(name, t) holding mlm.tree_agg of each (stored out of line).
#
# Stored snapshots are kept decoded per backend across queries
# (mlm.snapshot_cache_size); the timed runs follow a warm-up, so they read
# from that cache.  The "cold" rows switch it off: every statement then
# reads the whole stored value again.
#
# Time is measured on the server: bench_once(label, sql) takes
# clock_timestamp() around EXECUTE of the query (parse + plan + execute, no
# client round trip) and records it; every query returns one row.  Parallel
# query is off (max_parallel_workers_per_gather = 0) except in the rows
# marked "parallel".  The report is a markdown table of medians and ratios.
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
N=${N:-1000000}
REPS=${REPS:-5}
CTE_REPS=${CTE_REPS:-3}
CTE_TIMEOUT=${CTE_TIMEOUT:-120}

# shellcheck source=../lib.sh
source "$REPO/test/lib.sh"

{
	mlm_find_pg_config
	mlm_build || mlm_die "build failed"
	mlm_setup
	su_psql -d postgres -c "ALTER SYSTEM SET shared_buffers = '1GB'" \
		-c "ALTER SYSTEM SET work_mem = '256MB'" -c "ALTER SYSTEM SET jit = off" \
		-c "ALTER SYSTEM SET max_parallel_workers_per_gather = 0"
	mlm_cluster_stop fast && mlm_cluster_start || mlm_die "restart failed"
} >&2

PSQL=(su_psql -d postgres -v N="$N")
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

echo "== generating data (N = $N)" >&2
gen_start=$SECONDS
"${PSQL[@]}" >&2 <<'SQL'
CREATE EXTENSION mlm;
SELECT setseed(0.42) \gset
CREATE TABLE m AS
SELECT g::bigint AS id,
       CASE WHEN g > 1 THEN 1 + floor(random() * (g - 1))::bigint END AS sponsor_id
FROM generate_series(1, :N) g;
ALTER TABLE m ADD PRIMARY KEY (id);
CREATE INDEX m_sponsor ON m (sponsor_id);
CREATE TABLE chain AS
SELECT g::bigint AS id, NULLIF(g - 1, 0)::bigint AS sponsor_id FROM generate_series(1, :N) g;
ALTER TABLE chain ADD PRIMARY KEY (id);
CREATE INDEX chain_sponsor ON chain (sponsor_id);
CREATE TABLE snapshot (name text PRIMARY KEY, t mlm.tree);
INSERT INTO snapshot SELECT 'random', mlm.tree_agg(id, sponsor_id) FROM m;
INSERT INTO snapshot SELECT 'chain', mlm.tree_agg(id, sponsor_id) FROM chain;
VACUUM ANALYZE m;
VACUUM ANALYZE chain;
VACUUM ANALYZE snapshot;

CREATE TABLE timings (label text, run int, ms float8);
-- one timed run; NULL ms when statement_timeout cancelled it
CREATE FUNCTION bench_once(p_label text, p_sql text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz := clock_timestamp();
    elapsed float8;
BEGIN
    BEGIN
        EXECUTE p_sql;
        elapsed := extract(epoch FROM clock_timestamp() - t0) * 1000;
    EXCEPTION WHEN query_canceled THEN
        elapsed := NULL;
    END;
    INSERT INTO timings
    SELECT p_label, coalesce(max(t.run), 0) + 1, elapsed FROM timings t WHERE t.label = p_label;
    RETURN elapsed;
END
$$;
SQL
echo "   ($((SECONDS - gen_start)) s)" >&2

# The members picked for the single-member queries
read -r X XSIZE D DDEPTH < <("${PSQL[@]}" -At -F ' ' <<'SQL'
WITH x AS (
    SELECT d.id, mlm.subtree_size(s.t, d.id) AS k
    FROM snapshot s, m d WHERE s.name = 'random'
    ORDER BY abs(mlm.subtree_size(s.t, d.id) - 10000), d.id LIMIT 1
), deepest AS (
    SELECT mm.member_id, mm.depth FROM snapshot s, mlm.members(s.t) mm
    WHERE s.name = 'random' ORDER BY mm.depth DESC, mm.member_id LIMIT 1
)
SELECT x.id, x.k, deepest.member_id, deepest.depth FROM x, deepest;
SQL
)
CX=$((N - N / 100))			# chain member with 1% of the chain below it
echo "== downline member $X (subtree $XSIZE), deepest member $D (depth $DDEPTH), chain member $CX" >&2

# q LABEL REPS TIMEOUT_S SQL [SETTING]: one untimed warm-up run (none when
# REPS is negative), then the timed runs, each its own statement so that
# statement_timeout applies to it; SETTING (e.g. "max_parallel_workers_per_gather
# = 2") is SET for these runs only.
SCRIPT=$MLM_TMP/bench.sql
: >"$SCRIPT"
q() {
	local label=$1 reps=$2 timeout=$3 sql=$4 setting=${5:-} i warm=1
	if [ "$reps" -lt 0 ]; then
		reps=$((-reps))
		warm=0
	fi
	{
		echo "SET statement_timeout = '${timeout}s';"
		[ -n "$setting" ] && echo "SET $setting;"
		if [ "$warm" = 1 ]; then
			echo "SELECT 1 FROM (SELECT bench_once('warmup', \$q\$$sql\$q\$)) w;"
		fi
		for ((i = 1; i <= reps; i++)); do
			echo "SELECT 1 FROM (SELECT bench_once('$label', \$q\$$sql\$q\$)) w;"
		done
		[ -n "$setting" ] && echo "RESET ${setting%%=*};"
		echo "SET statement_timeout = 0;"
	} >>"$SCRIPT"
}

CTE_DEPTHS='WITH RECURSIVE r(id, depth) AS (
    SELECT id, 0 FROM %s WHERE sponsor_id IS NULL
    UNION ALL
    SELECT c.id, r.depth + 1 FROM r JOIN %s c ON c.sponsor_id = r.id)
SELECT sum(depth) FROM r'
CTE_DOWN='WITH RECURSIVE r(id) AS (
    SELECT id FROM %s WHERE sponsor_id = %s
    UNION ALL
    SELECT c.id FROM r JOIN %s c ON c.sponsor_id = r.id)
SELECT count(*) FROM r'
CTE_UP='WITH RECURSIVE u(id, sponsor_id) AS (
    SELECT id, sponsor_id FROM %s WHERE id = %s
    UNION ALL
    SELECT c.id, c.sponsor_id FROM u JOIN %s c ON c.id = u.sponsor_id)
SELECT count(*) - 1 FROM u'

# 1. build
q build "$REPS" 0 "SELECT mlm.size(mlm.tree_agg(id, sponsor_id)) FROM m"
q count "$REPS" 0 "SELECT count(*) FROM m"
q build_par "$REPS" 0 "SELECT mlm.size(mlm.tree_agg(id, sponsor_id)) FROM m" "max_parallel_workers_per_gather = 2"
q count_par "$REPS" 0 "SELECT count(*) FROM m" "max_parallel_workers_per_gather = 2"
# 2. depth of every member
q depth_all "$REPS" 0 "SELECT sum(mlm.depth(s.t, d.id)) FROM snapshot s, m d WHERE s.name = 'random'"
q scan_all "$REPS" 0 "SELECT sum(d.id) FROM snapshot s, m d WHERE s.name = 'random'"
# shellcheck disable=SC2059
q cte_depth_all "$REPS" 0 "$(printf "$CTE_DEPTHS" m m)"
# 3. one downline of ~1% of the tree
q downline "$REPS" 0 "SELECT count(*) FROM snapshot s, mlm.downline(s.t, $X) WHERE s.name = 'random'"
# shellcheck disable=SC2059
q cte_downline "$REPS" 0 "$(printf "$CTE_DOWN" m "$X" m)"
# 4. upline of the deepest member
q upline "$REPS" 0 "SELECT count(*) FROM snapshot s, mlm.upline(s.t, $D) WHERE s.name = 'random'"
# shellcheck disable=SC2059
q cte_upline "$REPS" 0 "$(printf "$CTE_UP" m "$D" m)"
# 5. the chain
q chain_depth_all "$REPS" 0 "SELECT sum(mlm.depth(s.t, d.id)) FROM snapshot s, chain d WHERE s.name = 'chain'"
q chain_scan_all "$REPS" 0 "SELECT sum(d.id) FROM snapshot s, chain d WHERE s.name = 'chain'"
# shellcheck disable=SC2059
q chain_cte_depth_all "-$CTE_REPS" "$CTE_TIMEOUT" "$(printf "$CTE_DEPTHS" chain chain)"
q chain_downline "$REPS" 0 "SELECT count(*) FROM snapshot s, mlm.downline(s.t, $CX) WHERE s.name = 'chain'"
# shellcheck disable=SC2059
q chain_cte_downline "-$CTE_REPS" "$CTE_TIMEOUT" "$(printf "$CTE_DOWN" chain "$CX" chain)"
q chain_upline "$REPS" 0 "SELECT count(*) FROM snapshot s, mlm.upline(s.t, $N) WHERE s.name = 'chain'"
# shellcheck disable=SC2059
q chain_cte_upline "-$CTE_REPS" "$CTE_TIMEOUT" "$(printf "$CTE_UP" chain "$N" chain)"
# cold: the backend cache off, so every statement reads (detoasts) the
# stored 20 MB snapshot again and builds its id index if it gets busy
NOCACHE="mlm.snapshot_cache_size = 0"
q depth_all_cold "$REPS" 0 "SELECT sum(mlm.depth(s.t, d.id)) FROM snapshot s, m d WHERE s.name = 'random'" "$NOCACHE"
q downline_cold "$REPS" 0 "SELECT count(*) FROM snapshot s, mlm.downline(s.t, $X) WHERE s.name = 'random'" "$NOCACHE"
q upline_cold "$REPS" 0 "SELECT count(*) FROM snapshot s, mlm.upline(s.t, $D) WHERE s.name = 'random'" "$NOCACHE"
# per query cost of reading the stored snapshot: the header slice only, and
# one lookup (whole value, from the backend cache or not)
q size_only "$REPS" 0 "SELECT mlm.size(t) FROM snapshot WHERE name = 'random'"
q contains_one "$REPS" 0 "SELECT mlm.contains(t, 1) FROM snapshot WHERE name = 'random'"
q contains_one_cold "$REPS" 0 "SELECT mlm.contains(t, 1) FROM snapshot WHERE name = 'random'" "$NOCACHE"

echo "== running the measured queries ($(grep -c bench_once "$SCRIPT") runs)" >&2
run_start=$SECONDS
"${PSQL[@]}" -o /dev/null -f "$SCRIPT" >&2 || mlm_die "benchmark script failed"
echo "   ($((SECONDS - run_start)) s)" >&2

# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------
CPU=$(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -n 1)
MEM=$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
echo "Machine: $(nproc) cores ($CPU), $MEM; $("$PG_BIN/postgres" --version)"
echo "Load average (1, 5, 15 min) before the data load: $LOAD_BEFORE; after the runs: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "Settings: shared_buffers 1GB, work_mem 256MB, jit off, fsync off," \
	"max_parallel_workers_per_gather 0 (2 for the 'parallel' rows); N = $N;" \
	"$REPS timed runs after a warm-up ($CTE_REPS, no warm-up, for the chain CTEs)"
echo "Picked: downline of member $X ($XSIZE members in its subtree);" \
	"upline of member $D (depth $DDEPTH); chain downline of member $CX"
echo
"${PSQL[@]}" -At -F '|' -v cte_timeout="$CTE_TIMEOUT" <<'SQL'
WITH med AS (
    SELECT label,
           CASE WHEN bool_or(ms IS NULL) THEN NULL
                ELSE percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) END AS ms,
           bool_or(ms IS NULL) AS timed_out, count(*) AS runs
    FROM timings WHERE label <> 'warmup' GROUP BY label
), cmp(ord, what, label, base, base_label, target, max_ratio, min_speedup) AS (VALUES
    (1, 'build: tree_agg(id, sponsor_id) of ' || :N || ' rows', 'build', 'count(*) of the rows', 'count', '<= 3x count(*)', 3.0, NULL),
    (2, 'build, parallel (2 workers)', 'build_par', 'count(*), parallel', 'count_par', '<= 3x count(*)', 3.0, NULL),
    (3, 'depth of every member (' || :N || ' per-row calls)', 'depth_all', 'plain scan sum(id)', 'scan_all', '<= 3x scan', 3.0, NULL),
    (4, 'depth of every member', 'depth_all', 'recursive CTE, all depths', 'cte_depth_all', '>= 10x faster (<= 0.1x)', NULL, 10.0),
    (5, 'downline of a member with ~1% below it', 'downline', 'recursive CTE (index on sponsor_id)', 'cte_downline', '<= 2x CTE', 2.0, NULL),
    (6, 'upline of the deepest member', 'upline', 'recursive CTE up the primary key', 'cte_upline', '<= 2x CTE', 2.0, NULL),
    (7, 'chain: depth of every member', 'chain_depth_all', 'plain scan sum(id)', 'chain_scan_all', '<= 3x scan', 3.0, NULL),
    (8, 'chain: depth of every member', 'chain_depth_all', 'recursive CTE, all depths', 'chain_cte_depth_all', '>= 10x faster (<= 0.1x)', NULL, 10.0),
    (9, 'chain: downline of a member with 1% of the chain below it', 'chain_downline', 'recursive CTE', 'chain_cte_downline', '<= 2x CTE', 2.0, NULL),
    (10, 'chain: upline of the deepest member (' || :N - 1 || ' rows)', 'chain_upline', 'recursive CTE up the primary key', 'chain_cte_upline', '<= 2x CTE', 2.0, NULL),
    (11, 'cold (backend cache off): depth of every member', 'depth_all_cold', 'plain scan sum(id)', 'scan_all', '<= 3x scan', 3.0, NULL),
    (12, 'cold: depth of every member', 'depth_all_cold', 'recursive CTE, all depths', 'cte_depth_all', '>= 10x faster (<= 0.1x)', NULL, 10.0),
    (13, 'cold: downline of a member with ~1% below it', 'downline_cold', 'recursive CTE (index on sponsor_id)', 'cte_downline', '<= 2x CTE', 2.0, NULL),
    (14, 'cold: upline of the deepest member', 'upline_cold', 'recursive CTE up the primary key', 'cte_upline', '<= 2x CTE', 2.0, NULL)
)
SELECT line FROM (
    SELECT -1 AS ord, '| # | measured | median | baseline | median | ratio | target | met |' AS line
    UNION ALL SELECT 0, '|---|---|---:|---|---:|---:|---|---|'
    UNION ALL
    SELECT ord, format('| %s | %s | %s | %s | %s | %s | %s | %s |', ord, what,
                  to_char(a.ms, 'FM999990.0') || ' ms',
                  base,
                  CASE WHEN b.timed_out THEN '> ' || :cte_timeout || ' s' ELSE to_char(b.ms, 'FM999990.0') || ' ms' END,
                  CASE WHEN b.timed_out THEN '< ' || to_char(a.ms / (:cte_timeout * 1000.0), 'FM0.0000') || 'x'
                       ELSE to_char(a.ms / b.ms, 'FM99990.000') || 'x' END,
                  target,
                  CASE WHEN b.timed_out THEN 'yes'
                       WHEN max_ratio IS NOT NULL THEN CASE WHEN a.ms <= max_ratio * b.ms THEN 'yes' ELSE 'NO' END
                       ELSE CASE WHEN b.ms >= min_speedup * a.ms THEN 'yes' ELSE 'NO' END
                  END)
    FROM cmp c JOIN med a ON a.label = c.label JOIN med b ON b.label = c.base_label
) x ORDER BY ord;
SQL
echo
"${PSQL[@]}" -At -F '|' <<'SQL'
SELECT '| other | median |' UNION ALL SELECT '|---|---:|'
UNION ALL
SELECT format('| %s | %s ms |', label, to_char(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms), 'FM999990.00'))
FROM timings WHERE label IN ('size_only', 'contains_one', 'contains_one_cold') GROUP BY label;
SQL
echo
"${PSQL[@]}" -At -F '|' <<'SQL'
SELECT '| storage | bytes | bytes per member |' UNION ALL SELECT '|---|---:|---:|'
UNION ALL
SELECT format('| snapshot %s: pg_column_size (stored, out of line) | %s | %s |', name,
              pg_column_size(t), round(pg_column_size(t)::numeric / mlm.size(t), 2))
FROM snapshot
UNION ALL
SELECT format('| table m (heap) | %s | %s |', pg_relation_size('m'),
              round(pg_relation_size('m')::numeric / (SELECT count(*) FROM m), 2))
UNION ALL
SELECT format('| table m + primary key + sponsor index | %s | %s |', pg_total_relation_size('m'),
              round(pg_total_relation_size('m')::numeric / (SELECT count(*) FROM m), 2));
SQL
