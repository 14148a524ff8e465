#!/usr/bin/env bash
#
# test/bench/binary_bench.sh - benchmark of binary and matrix plans: a
# 1,000,000-member binary placement tree filled by spillover, carry-in for
# 10% of the members, a plan with a binary bonus, a 7-level forced matrix
# (unilevel on the placement tree) and a matching bonus of the binary,
# against a plain-SQL reference of the binary bonus (recursive CTE over the
# placement tree).  Run by hand (not in CI); takes ~2 minutes on 2 quiet
# cores.  Figures and method: test/BENCH_NOTES.md.
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

say() { printf '%s\n' "$*"; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------
# Throwaway cluster
# ---------------------------------------------------------------------------
T=
PGBIN=
PORT=
PG_OWNER=$(id -un)
cleanup() {
	set +e
	if [ -n "$T" ] && [ -d "$T" ]; then
		if [ -f "$T/data/postmaster.pid" ]; then
			as_owner "$PGBIN/pg_ctl" -D "$T/data" -m immediate -w -t 60 stop >/dev/null 2>&1
		fi
		rm -rf -- "$T"
	fi
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM

as_owner() {
	if [ "$(id -u)" = 0 ]; then
		(cd "$T" && runuser -u "$PG_OWNER" -- "$@")
	else
		"$@"
	fi
}

setup_cluster() {
	local libroot sharedir
	[ -x "$PG_CONFIG" ] || die "no pg_config at $PG_CONFIG (set PG_CONFIG)"
	libroot=$(dirname "$("$PG_CONFIG" --bindir)")	# /usr/lib/postgresql/15
	sharedir=$("$PG_CONFIG" --sharedir)				# /usr/share/postgresql/15
	[ "$(id -u)" = 0 ] && PG_OWNER=postgres
	T=$(mktemp -d /tmp/mlmbench.XXXXXX)
	chmod 755 "$T"
	BUILD_DIR=$REPO
	if [ "$SRC" = head ]; then
		BUILD_DIR=$T/src
		mkdir -p "$BUILD_DIR"
		git -C "$REPO" archive HEAD | tar -x -C "$BUILD_DIR"
		say "== source: git archive HEAD ($(git -C "$REPO" rev-parse --short HEAD)) in $BUILD_DIR"
	else
		say "== source: working tree $REPO (HEAD $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$REPO" diff --quiet HEAD -- src 2>/dev/null || echo ', src/ has uncommitted changes'))"
	fi
	say "== build: make PG_CONFIG=$PG_CONFIG"
	make -s -C "$BUILD_DIR" PG_CONFIG="$PG_CONFIG" </dev/null >/dev/null
	say "== private server copy and make install DESTDIR=$T/inst"
	mkdir -p "$T/inst$(dirname "$libroot")" "$T/inst$(dirname "$sharedir")" "$T/sock"
	cp -a "$libroot" "$T/inst$libroot"
	cp -a "$sharedir" "$T/inst$sharedir"
	make -s -C "$BUILD_DIR" install DESTDIR="$T/inst" PG_CONFIG="$PG_CONFIG" </dev/null >/dev/null
	PGBIN=$T/inst$libroot/bin
	PORT=$((20000 + RANDOM % 10000))
	[ "$(id -u)" = 0 ] && chown -R "$PG_OWNER": "$T"
	as_owner "$PGBIN/initdb" -D "$T/data" -U postgres --auth=trust --encoding=UTF8 \
		--locale=C --no-sync >"$T/initdb.log" 2>&1 || { cat "$T/initdb.log"; die "initdb failed"; }
	cat >>"$T/data/postgresql.conf" <<-EOF
		# --- test/bench/binary_bench.sh ---
		port = $PORT
		listen_addresses = ''
		unix_socket_directories = '$T/sock'
		shared_buffers = 1GB
		work_mem = 256MB
		maintenance_work_mem = 1GB
		fsync = off
		synchronous_commit = off
		full_page_writes = off
		max_wal_size = 20GB
		checkpoint_timeout = 1h
		jit = off
		max_parallel_workers_per_gather = 0
		lc_messages = 'C'
	EOF
	as_owner "$PGBIN/pg_ctl" -D "$T/data" -l "$T/postgres.log" -w -t 120 start >/dev/null ||
		{ tail -n 30 "$T/postgres.log"; die "the cluster did not start"; }
	say "== cluster: $T/data, socket dir $T/sock, port $PORT"
	bpsql -d postgres -c 'CREATE DATABASE mlm_bench' >/dev/null
	bpsql <<-'EOF' >/dev/null
		CREATE EXTENSION mlm;
		CREATE EXTENSION pg_prewarm;
		-- user + system CPU time of this backend, in clock ticks
		CREATE FUNCTION bench_cpu_ticks() RETURNS bigint LANGUAGE sql AS $f$
			SELECT f[12]::bigint + f[13]::bigint
			  FROM string_to_array(split_part(pg_read_file('/proc/self/stat'), ') ', 2), ' ') f
		$f$;
		-- server-side wall time and backend CPU time of one query:
		-- 'ms|cpu ticks|result' (result = the query's rows as text),
		-- 'timeout||' when statement_timeout fires
		CREATE FUNCTION bench_once(q text) RETURNS text LANGUAGE plpgsql AS $f$
		DECLARE
			t0 timestamptz;
			c0 bigint;
			res text;
		BEGIN
			c0 := bench_cpu_ticks();
			t0 := clock_timestamp();
			EXECUTE 'SELECT string_agg(x::text, '' '') FROM (' || q || ') x' INTO res;
			RETURN round((extract(epoch FROM clock_timestamp() - t0) * 1000)::numeric, 1)
				|| '|' || (bench_cpu_ticks() - c0) || '|' || coalesce(res, '');
		EXCEPTION WHEN query_canceled THEN
			RETURN 'timeout||';
		END
		$f$;
	EOF
}

bpsql() {
	"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$T/sock" -p "$PORT" -U postgres -d mlm_bench "$@"
}

# ---------------------------------------------------------------------------
# Measurement
# ---------------------------------------------------------------------------
declare -A MED MIN RES NREP
median() { sort -g | awk '{a[NR] = $1} END {if (NR == 0) print ""; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

# run_timed KEY REPS TIMEOUT_S WARMUP(0/1) SQL
# Runs SQL REPS times in one session (after one untimed warm-up run when
# WARMUP = 1); sets MED[KEY], MIN[KEY] (wall ms; "timeout" if any run hit the
# statement timeout), CPU[KEY] (median backend CPU ms), RES[KEY] (result rows
# as text), NREP[KEY].
TICK_MS=$(awk -v t="$(getconf CLK_TCK 2>/dev/null || echo 100)" 'BEGIN {print 1000 / t}')
declare -A CPU
run_timed() {
	local key=$1 reps=$2 to=$3 warm=$4 sql=$5 script i out tag ms cpu res times=() cpus=() tmo=0
	script="SET statement_timeout = '${to}s';"$'\n'
	[ "$warm" = 1 ] && script+="SELECT 'warm|' || bench_once(\$bq\$${sql}\$bq\$);"$'\n'
	for ((i = 1; i <= reps; i++)); do
		script+="SELECT 'rep|' || bench_once(\$bq\$${sql}\$bq\$);"$'\n'
	done
	out=$(printf '%s' "$script" | bpsql -At)
	while IFS='|' read -r tag ms cpu res; do
		case $tag in
			warm) RES[$key]=$res ;;
			rep)
				if [ "$ms" = timeout ]; then
					tmo=1
					say "   $key: timeout after ${to} s"
				else
					cpu=$(awk -v c="$cpu" -v t="$TICK_MS" 'BEGIN {print c * t}')
					times+=("$ms")
					cpus+=("$cpu")
					RES[$key]=$res
					say "   $key: $ms ms (cpu $cpu ms)  $res"
				fi
				;;
		esac
	done <<<"$out"
	NREP[$key]=$reps
	if [ "$tmo" = 1 ]; then
		MED[$key]=timeout
		MIN[$key]=timeout
		CPU[$key]=timeout
	else
		MED[$key]=$(printf '%s\n' "${times[@]}" | median)
		MIN[$key]=$(printf '%s\n' "${times[@]}" | sort -g | head -n 1)
		CPU[$key]=$(printf '%s\n' "${cpus[@]}" | median)
	fi
}

# mem_peak KEY SQL: peak memory of a backend running SQL.  In a fresh
# session: VmRSS before; VmHWM after a first run (growth includes the
# shared_buffers pages of the tables the backend maps for the first time);
# then the high-water mark is reset (echo 5 > /proc/PID/clear_refs) and the
# growth of VmHWM over VmRSS during a second run is the peak of the memory
# the query itself allocates.  Sets MEMFRESH[KEY], MEMPEAK[KEY] (MB).
# SETUP (optional) is a statement run first in the session (e.g. SET work_mem).
declare -A MEMFRESH MEMPEAK
mem_peak() {
	local key=$1 sql=$2 setup=${3:-SELECT 1} f=$T/mem.$1
	rm -f "$f"
	bpsql -At >/dev/null <<-EOF
		$setup;
		SELECT pg_backend_pid() AS pid \gset
		\setenv BPID :pid
		\setenv MEMF $f
		\! awk '/^(VmHWM|VmRSS):/ {print "fresh", \$1, \$2}' /proc/\$BPID/status >>\$MEMF
		SELECT count(*) FROM ($sql) x;
		\! awk '/^(VmHWM|VmRSS):/ {print "run1", \$1, \$2}' /proc/\$BPID/status >>\$MEMF
		\! echo 5 >/proc/\$BPID/clear_refs 2>/dev/null && awk '/^(VmHWM|VmRSS):/ {print "reset", \$1, \$2}' /proc/\$BPID/status >>\$MEMF
		SELECT count(*) FROM ($sql) x;
		\! awk '/^(VmHWM|VmRSS):/ {print "run2", \$1, \$2}' /proc/\$BPID/status >>\$MEMF
	EOF
	MEMFRESH[$key]=$(awk '$1 == "fresh" && $2 == "VmRSS:" {b = $3} $1 == "run1" && $2 == "VmHWM:" {a = $3} END {printf "%.0f", (a - b) / 1024}' "$f")
	if grep -q '^reset' "$f"; then
		MEMPEAK[$key]=$(awk '$1 == "reset" && $2 == "VmHWM:" {b = $3} $1 == "run2" && $2 == "VmHWM:" {a = $3} END {printf "%.0f", (a - b) / 1024}' "$f")
	else
		MEMPEAK[$key]="n/a (clear_refs not writable)"
	fi
	say "   $key: VmHWM growth, fresh backend: ${MEMFRESH[$key]} MB; peak of the query's own memory: ${MEMPEAK[$key]} MB"
}

# perf_profile KEY SQL: perf record -g of the backend during one run of SQL,
# then the functions with the largest inclusive share.
perf_profile() {
	local key=$1 sql=$2 d=$T/perf.$1
	command -v perf >/dev/null 2>&1 || { say "   (perf not installed: no profile)"; return 0; }
	bpsql -At >/dev/null <<-EOF
		SELECT count(*) FROM ($sql) x;
		SELECT pg_backend_pid() AS pid \gset
		\setenv BPID :pid
		\setenv PERFD $d
		\! perf record -F 999 -g -p \$BPID -o \$PERFD.data >/dev/null 2>&1 & echo \$! >\$PERFD.pid; sleep 1
		SELECT count(*) FROM ($sql) x;
		\! kill -INT \$(cat \$PERFD.pid) 2>/dev/null; while kill -0 \$(cat \$PERFD.pid) 2>/dev/null; do sleep 0.1; done
	EOF
	say "   perf report --children, user-space symbols: inclusive %, self %, symbol"
	perf report -i "$d.data" --children --sort symbol -g none 2>/dev/null |
		awk '/%/ && $3 == "[.]" && $4 !~ /^(0x|PostgresMain|PostmasterMain|__libc_start|main$|PortalRun|standard_ExecutorRun|ExecMakeTableFunctionResult)/ {
			printf "      %-8s %-8s %s\n", $1, $2, $4
		}' | head -n 25 || true
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a == "" || b == "" || a == "timeout" || b == "timeout" || b + 0 == 0) print "n/a"; else printf "%.1f", a / b}'; }
fmt_ms() { case $1 in timeout) echo "> ${2:-?} s" ;; "") echo "n/a" ;; *) printf '%.1f' "$1" ;; esac; }

# ---------------------------------------------------------------------------
# Queries
# ---------------------------------------------------------------------------
PERIOD="'2024-03-01', '2024-03-31'"
# binary (pay-leg 10%, cap 500, max_carry 20000) + 7-level forced matrix +
# matching of the binary over 2 generations
PLAN_BIN='{"name": "binary-matrix", "currency": {"scale": 2, "rounding": "half_up"}, "active": {"min_pv": 50}, "ranks": [{"name": "Member"}], "bonuses": [{"name": "binary", "type": "binary", "rate": 0.10, "cap": 500, "max_carry": 20000}, {"name": "matrix", "type": "unilevel", "tree": "placement", "rates": [0.05, 0.05, 0.04, 0.04, 0.03, 0.03, 0.02]}, {"name": "match", "type": "matching", "of": ["binary"], "rates": [0.20, 0.10]}]}'
# the binary bonus alone, for the comparison with the SQL reference
PLAN_BO='{"name": "binary-only", "currency": {"scale": 2, "rounding": "half_up"}, "active": {"min_pv": 50}, "ranks": [{"name": "Member"}], "bonuses": [{"name": "binary", "type": "binary", "rate": 0.10, "cap": 500, "max_carry": 20000}]}'

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

# xrow LABEL RUNS MEDIAN MIN CPU RESULT NOTE: a table row built by hand
xrow() { printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$@"; }
# row KEY LABEL [NOTE]: a table row of a run_timed measurement
row() {
	xrow "$2" "${NREP[$1]}" "$(fmt_ms "${MED[$1]}" "$SQL_TIMEOUT")" "$(fmt_ms "${MIN[$1]}" "$SQL_TIMEOUT")" \
		"$(fmt_ms "${CPU[$1]:-}" "$SQL_TIMEOUT")" "${RES[$1]:-}" "${3:-}"
}
pass() { awk -v a="$1" -v op="$2" -v b="$3" 'BEGIN {if (a == "n/a") {print "n/a"; exit} r = (op == ">=") ? (a + 0 >= b + 0) : (a + 0 <= b + 0); print r ? "met" : "NOT met"}'; }
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
say "| target (wall time; backend CPU time in brackets) | measured | |"
say "|---|---|---|"
say "| binary + matrix + matching plan <= 2 s | $(fmt_ms "${MED[p_full]}") ms ($(fmt_ms "${CPU[p_full]}") ms) | $(pass "${MED[p_full]}" '<=' 2000) ($(pass "${CPU[p_full]}" '<=' 2000)) |"
say "| ratio SQL reference / engine full plan | ${R_FULL}x (${R_FULL_CPU}x) | |"
say ""
say "total run time: $(( $(date +%s) - START )) s"
