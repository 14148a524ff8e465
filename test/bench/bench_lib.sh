#!/usr/bin/env bash
#
# test/bench/bench_lib.sh - what engine_bench.sh and binary_bench.sh share:
# building, the throwaway cluster, timing (bench_once), peak memory and
# perf helpers, ratios. Sourced after the caller has set REPO, BENCH_DIR,
# BENCH_NAME and its knobs.
say() { printf '%s\n' "$*"; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

# Plan (b): the plan of spec section 9 without the binary bonus (and without
# binary in match.of), the benchmarks' reference plan
PLAN_B='{"name": "example-no-binary", "currency": {"scale": 2, "rounding": "half_up"}, "active": {"min_pv": 50}, "ranks": [{"name": "Member"}, {"name": "Bronze", "min_pv": 50, "min_active_frontline": 2}, {"name": "Silver", "min_pv": 50, "min_gv": 1000, "max_leg_pct": 0.5}, {"name": "Gold", "min_pv": 100, "min_gv": 5000, "max_leg_pct": 0.5, "legs_with_rank": {"rank": "Silver", "count": 2}}], "bonuses": [{"name": "retail", "type": "personal", "rate": 0.05}, {"name": "unilevel", "type": "unilevel", "compression": "dynamic", "rates": [0.10, 0.05, 0.05, 0.04, 0.03], "min_rank_by_level": ["Member", "Member", "Bronze", "Bronze", "Silver"]}, {"name": "stairstep", "type": "differential", "rate_by_rank": {"Bronze": 0.05, "Silver": 0.10, "Gold": 0.15}, "breakaway_rank": "Gold", "generation_rates": [0.04, 0.02]}, {"name": "match", "type": "matching", "of": ["unilevel"], "rates": [0.20, 0.10], "min_rank_by_generation": ["Bronze", "Silver"]}, {"name": "fast_start", "type": "fast_start", "days": 30, "rates": [0.20]}, {"name": "gold_pool", "type": "pool", "pct": 0.02, "min_rank": "Gold", "shares": "equal"}], "cap": {"pct": 0.45}}'

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
		# --- test/bench/${BENCH_NAME} ---
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

# xrow CELLS...: a markdown table row; row KEY LABEL [NOTE]: the row of a
# run_timed measurement (runs, median, min, median CPU, result, note)
xrow() { printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$@"; }
row() {
	xrow "$2" "${NREP[$1]}" "$(fmt_ms "${MED[$1]}" "${CTE_TIMEOUT:-${SQL_TIMEOUT:-600}}")" "$(fmt_ms "${MIN[$1]}" "${CTE_TIMEOUT:-${SQL_TIMEOUT:-600}}")" \
		"$(fmt_ms "${CPU[$1]:-}" "${CTE_TIMEOUT:-${SQL_TIMEOUT:-600}}")" "${RES[$1]:-}" "${3:-}"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a == "" || b == "" || a == "timeout" || b == "timeout" || b + 0 == 0) print "n/a"; else printf "%.1f", a / b}'; }
fmt_ms() { case $1 in timeout) echo "> ${2:-?} s" ;; "") echo "n/a" ;; *) printf '%.1f' "$1" ;; esac; }

