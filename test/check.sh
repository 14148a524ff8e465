#!/usr/bin/env bash
#
# test/check.sh - build the mlm extension and run every test against a
# throwaway PostgreSQL 15 cluster.  The last line printed is
# "N passed, N failed"; the exit status is 0 iff nothing failed.
#
# Phases (each result is counted):
#   a. build      make WERROR=1 (a compile warning fails the build)
#   b. pg_regress sql/NAME.sql vs expected/NAME.out: the Makefile's REGRESS
#                 and REGRESS_OPTS, in database contrib_regression
#   c. pgTAP      test/pgtap/*.sql via pg_prove in database mlm_tap, which
#                 has `CREATE EXTENSION pgtap; CREATE EXTENSION mlm;`; psql's
#                 cwd is the repo root (\copy test/fixtures/... works).  Each
#                 assertion counts; a file that dies counts at least 1 failure.
#   d. isolation  pg_isolation_regress layout:
#                     test/isolation/specs/NAME.spec
#                     test/isolation/expected/NAME.out
#                 run in a fresh database mlm_isolation with mlm loaded.
#                 (A .spec directly in test/isolation/ is reported as failed:
#                 pg_isolation_regress only reads specs/.)
#   e. shell      test/shell/*.sh, each run with bash from the repo root with
#                 the env documented in test/lib.sh (PGHOST, PGPORT, PGUSER,
#                 PGDATA, PG_BIN, MLM_TMP, REPO, ...); exit 0 = pass.  A test
#                 that leaves the cluster down gets it restarted.
#   f. fuzz       validator self-checks (test/fuzz/gen_seeds.c --check, one
#                 result per check) and the libFuzzer target
#                 test/fuzz/fuzz_tree.c for FUZZ_SECONDS (60 when CI=true,
#                 else 20) over test/fuzz/corpus; crashes are saved as
#                 test/fuzz/crash-*.
#
# pg_regress and pg_isolation_regress are run WITHOUT --use-existing: that
# flag makes them skip creating the test database, and with it the
# --load-extension step; without it they drop/create their own database in
# our (already running) cluster, which is what we want.
#
# Environment: FUZZ_SECONDS, CI;
#   MLM_PHASES   comma list of the phases to run after the build, out of
#                regress,pgtap,isolation,shell,fuzz (default: all of them);
#                test/mutation/run.sh uses MLM_PHASES=regress,pgtap,isolation
#   MLM_FAIL_FAST=1  stop at the first failure (after the failing phase, or
#                the failing pgTAP file) instead of running the rest.  Needs root or the Debian packages
# postgresql-server-dev-15 postgresql-15-pgtap
# libtap-parser-sourcehandler-pgtap-perl libclang-rt-14-dev.
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export REPO
# shellcheck source=test/lib.sh
source "$REPO/test/lib.sh"
cd "$REPO" || exit 1
shopt -s nullglob

PASSED=0
FAILED=0

pass() { PASSED=$((PASSED + 1)); printf '  ok      %s\n' "$*"; }
fail() { FAILED=$((FAILED + 1)); printf '  FAILED  %s\n' "$*"; }
phase() { printf '\n=== %s   [%ds]\n' "$*" "$SECONDS"; }
indent() { sed 's/^/    | /'; }

# Stop everything, then the totals as the very last line.
finish() {
	mlm_cleanup
	echo
	echo "$PASSED passed, $FAILED failed"
	if [ "$FAILED" -eq 0 ]; then exit 0; fi
	exit 1
}

# A fatal setup error (mlm_die) still ends with the totals line.
mlm_on_die() {
	FAILED=$((FAILED + 1))
	printf '  FAILED  setup: %s\n' "$1"
	finish
}

# Make sure the server is up before a phase that needs it.
ensure_cluster() {
	mlm_wait_ready 2 && return 0
	echo "  (the cluster is down: restarting it; end of the server log:)"
	tail -n 8 "$MLM_PG_LOG" 2>/dev/null | indent
	mlm_kill_postmaster
	mlm_cluster_start
}

# Counts pg_regress / pg_isolation_regress result lines of a log; prints them.
# PG 15 format: "test NAME ... ok 12 ms", "     NAME ... FAILED 40 ms" (in a
# parallel group), "... failed (ignored)".
count_regress_log() {
	local log=$1 label=$2 line name status
	while IFS= read -r line; do
		if [[ $line =~ ^(test[[:space:]]+|[[:space:]]+)([^[:space:]]+)[[:space:]]+\.\.\.[[:space:]]+(ok|FAILED|failed[[:space:]]\(ignored\)) ]]; then
			name=${BASH_REMATCH[2]}
			status=${BASH_REMATCH[3]}
			case $status in
				ok) pass "$label $name" ;;
				FAILED) fail "$label $name" ;;
				*) pass "$label $name (failure ignored by schedule)" ;;
			esac
		fi
	done <"$log"
}

MLM_PHASES=${MLM_PHASES:-regress,pgtap,isolation,shell,fuzz}
for p in ${MLM_PHASES//,/ }; do
	case $p in
		regress | pgtap | isolation | shell | fuzz) ;;
		*) echo "MLM_PHASES: unknown phase \"$p\" (known: regress,pgtap,isolation,shell,fuzz)" >&2; exit 2 ;;
	esac
done
# want PHASE: is PHASE in MLM_PHASES?  Prints a note when it is skipped.
want() {
	case ",$MLM_PHASES," in
		*",$1,"*) return 0 ;;
	esac
	echo "  (skipped: not in MLM_PHASES=$MLM_PHASES)"
	return 1
}
# With MLM_FAIL_FAST=1, stop at the first failure.
fail_fast() {
	if [ "${MLM_FAIL_FAST:-0}" = 1 ] && [ "$FAILED" -gt 0 ]; then
		echo "  (MLM_FAIL_FAST: stopping at the first failure)"
		finish
	fi
}

FUZZ_SECONDS=${FUZZ_SECONDS:-}
if [ -z "$FUZZ_SECONDS" ]; then
	if [ "${CI:-}" = true ]; then FUZZ_SECONDS=60; else FUZZ_SECONDS=20; fi
fi

# ---------------------------------------------------------------------------
phase "dependencies"
mlm_require_packages check
mlm_find_pg_config
echo "  PG_CONFIG=$PG_CONFIG ($("$PG_CONFIG" --version))"
PGXS_SRC=$(dirname "$(dirname "$("$PG_CONFIG" --pgxs)")")	# .../pgxs/src

# ---------------------------------------------------------------------------
phase "a. build (make WERROR=1)"
if ! mlm_build; then
	echo "  FAILED  build"
	echo
	echo "0 passed, 1 failed"
	exit 1
fi
pass "build without warnings"

# ---------------------------------------------------------------------------
phase "cluster"
mlm_setup
echo "  PGHOST=$PGHOST PGPORT=$PGPORT PGUSER=$PGUSER PGDATA=$PGDATA"
echo "  PG_BIN=$PG_BIN"

# ---------------------------------------------------------------------------
phase "b. pg_regress (sql/*.sql vs expected/*.out)"
REGRESS_TESTS=$(mlm_make_var REGRESS) || mlm_die "cannot read REGRESS from the Makefile"
REGRESS_OPTS=$(mlm_make_var REGRESS_OPTS) || mlm_die "cannot read REGRESS_OPTS from the Makefile"
if ! want regress; then
	:
elif [ -z "${REGRESS_TESTS// /}" ]; then
	echo "  (no regression tests)"
else
	ensure_cluster
	out=$MLM_TMP/regress
	mkdir -p "$out"
	echo "  tests: $REGRESS_TESTS"
	# shellcheck disable=SC2086  # word lists from the Makefile
	mlm_run 900 "$out/pg_regress.log" "$PGXS_SRC/test/regress/pg_regress" \
		--inputdir="$REPO" --outputdir="$out" --bindir="$PG_BIN" \
		--host="$PGHOST" --port="$PGPORT" --user=postgres \
		--dbname=contrib_regression $REGRESS_OPTS $REGRESS_TESTS
	rc=$?
	before=$FAILED
	count_regress_log "$out/pg_regress.log" "regress"
	if [ "$rc" -ne 0 ] && [ "$FAILED" -eq "$before" ]; then
		fail "pg_regress run (exit $rc$([ "$rc" -eq 124 ] && echo ', timed out'))"
		tail -n 40 "$out/pg_regress.log" | indent
	fi
	if [ -s "$out/regression.diffs" ]; then
		echo "  --- regression.diffs (first 200 lines)"
		head -n 200 "$out/regression.diffs" | indent
	fi
fi

# ---------------------------------------------------------------------------
phase "c. pgTAP (test/pgtap/*.sql)"
fail_fast
tap_files=(test/pgtap/*.sql)
if ! want pgtap; then
	:
elif [ ${#tap_files[@]} -eq 0 ]; then
	echo "  (no pgTAP tests)"
else
	ensure_cluster
	out=$MLM_TMP/pgtap
	mkdir -p "$out"
	if ! {
		su_psql -d postgres -c 'CREATE DATABASE mlm_tap' &&
			su_psql -d mlm_tap -c 'CREATE EXTENSION pgtap' -c 'CREATE EXTENSION mlm'
	} >"$out/setup.log" 2>&1; then
		indent <"$out/setup.log"
		for f in "${tap_files[@]}"; do
			fail "$f (database mlm_tap could not be set up)"
		done
	else
		for f in "${tap_files[@]}"; do
			log=$out/$(basename "$f" .sql).log
			mlm_run 600 "$log" pg_prove --norc --nocolor --verbose --merge \
				--psql-bin "$PG_BIN/psql" --host "$PGHOST" --port "$PGPORT" \
				--username postgres --dbname mlm_tap "$f"
			rc=$?
			# top-level TAP lines only (indented ones are subtests); a
			# "not ok ... # TODO" is an expected failure
			read -r ok notok todo plan < <(awk '
				/^ok [0-9]/ { ok++ }
				/^not ok [0-9]/ { if ($0 ~ /# *TODO/) todo++; else notok++ }
				/^1\.\.[0-9]+/ { sub(/^1\.\./, ""); plan = $0 + 0 }
				END { printf "%d %d %d %d\n", ok, notok, todo, plan }' "$log")
			ran=$((ok + notok + todo))
			bad=$notok
			[ "$plan" -gt "$ran" ] && bad=$((bad + plan - ran))
			[ "$rc" -ne 0 ] && [ "$bad" -eq 0 ] && bad=1
			good=$((ok + todo))
			PASSED=$((PASSED + good))
			FAILED=$((FAILED + bad))
			if [ "$bad" -eq 0 ]; then
				printf '  ok      %s (%d assertions%s)\n' "$f" "$good" \
					"$([ "$todo" -gt 0 ] && echo ", $todo TODO")"
			else
				why=""
				[ "$plan" -gt "$ran" ] && why="; planned $plan, ran $ran"
				[ "$rc" -eq 124 ] && why="$why; timed out"
				printf '  FAILED  %s (%d passed, %d failed%s)\n' "$f" "$good" "$bad" "$why"
				grep -E '^not ok [0-9]' "$log" | grep -v '# *TODO' | head -n 30 | indent
				echo "    --- end of output"
				tail -n 40 "$log" | indent
			fi
			fail_fast
		done
	fi
fi

# ---------------------------------------------------------------------------
phase "d. isolation (test/isolation/specs/*.spec)"
misplaced=(test/isolation/*.spec)
for f in "${misplaced[@]}"; do
	fail "$f: pg_isolation_regress reads test/isolation/specs/NAME.spec and expected/NAME.out"
done
specs=(test/isolation/specs/*.spec)
fail_fast
if ! want isolation; then
	:
elif [ ${#specs[@]} -eq 0 ]; then
	echo "  (no isolation tests)"
else
	ensure_cluster
	out=$MLM_TMP/isolation
	mkdir -p "$out"
	names=()
	for f in "${specs[@]}"; do names+=("$(basename "$f" .spec)"); done
	mlm_run 900 "$out/isolation.log" "$PGXS_SRC/test/isolation/pg_isolation_regress" \
		--inputdir="$REPO/test/isolation" --outputdir="$out" --bindir="$PG_BIN" \
		--host="$PGHOST" --port="$PGPORT" --user=postgres \
		--dbname=mlm_isolation --load-extension=mlm "${names[@]}"
	rc=$?
	before=$FAILED
	count_regress_log "$out/isolation.log" "isolation"
	if [ "$rc" -ne 0 ] && [ "$FAILED" -eq "$before" ]; then
		fail "pg_isolation_regress run (exit $rc$([ "$rc" -eq 124 ] && echo ', timed out'))"
		tail -n 40 "$out/isolation.log" | indent
	fi
	if [ -s "$out/regression.diffs" ]; then
		echo "  --- regression.diffs (first 200 lines)"
		head -n 200 "$out/regression.diffs" | indent
	fi
fi

# ---------------------------------------------------------------------------
phase "e. shell tests (test/shell/*.sh)"
shell_tests=(test/shell/*.sh)
fail_fast
if ! want shell; then
	:
elif [ ${#shell_tests[@]} -eq 0 ]; then
	echo "  (no shell tests)"
else
	out=$MLM_TMP/shell
	mkdir -p "$out"
	for f in "${shell_tests[@]}"; do
		ensure_cluster
		log=$out/$(basename "$f" .sh).log
		start=$SECONDS
		mlm_run 600 "$log" bash "$f"
		rc=$?
		took=$((SECONDS - start))
		if [ "$rc" -eq 0 ]; then
			pass "$f (${took}s)"
		else
			fail "$f (exit $rc$([ "$rc" -eq 124 ] && echo ', timed out'), ${took}s)"
			tail -n 50 "$log" | indent
		fi
		fail_fast
	done
fi

# A crash anywhere above shows in the server log (informational: a shell
# test may kill server processes on purpose).
if grep -qE 'terminated by signal|PANIC' "$MLM_PG_LOG" 2>/dev/null; then
	echo
	echo "  note: the server log reports killed or crashed server processes:"
	grep -E -A2 'terminated by signal|PANIC' "$MLM_PG_LOG" | head -n 40 | indent
fi
mlm_cluster_stop fast >/dev/null 2>&1

# ---------------------------------------------------------------------------
phase "f. fuzz (validator of untrusted tree snapshots)"
fail_fast
want fuzz || finish
CLANG=$(command -v clang-14 || command -v clang)
out=$MLM_TMP/fuzz
mkdir -p "$out/corpus"
if "$CLANG" -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=all \
	-DMLM_FRONTEND -Isrc src/tree_core.c test/fuzz/gen_seeds.c \
	-o "$out/gen_seeds" >"$out/build-seeds.log" 2>&1; then
	mlm_run 120 "$out/check.log" "$out/gen_seeds" --check
	rc=$?
	while IFS= read -r line; do
		case $line in
			"ok "*) pass "validator: ${line#ok * - }" ;;
			"not ok "*) fail "validator: ${line#not ok * - }" ;;
			"#"*) echo "    $line" ;;
		esac
	done <"$out/check.log"
	if [ "$rc" -ne 0 ] && ! grep -q '^not ok' "$out/check.log"; then
		fail "validator self-check (exit $rc)"
		tail -n 30 "$out/check.log" | indent
	fi
else
	fail "build test/fuzz/gen_seeds.c"
	indent <"$out/build-seeds.log"
fi

echo "  fuzzing for ${FUZZ_SECONDS}s"
if "$CLANG" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-DMLM_FRONTEND -Isrc src/tree_core.c test/fuzz/fuzz_tree.c \
	-o "$out/fuzz_tree" >"$out/build.log" 2>&1; then
	mlm_run $((FUZZ_SECONDS + 120)) "$out/fuzz.log" "$out/fuzz_tree" \
		-max_total_time="$FUZZ_SECONDS" -timeout=25 -rss_limit_mb=2048 \
		-max_len=16384 -print_final_stats=1 \
		-artifact_prefix="$REPO/test/fuzz/" \
		"$out/corpus" test/fuzz/corpus
	rc=$?
	runs=$(grep -Eo 'Done [0-9]+ runs in [0-9]+ second' "$out/fuzz.log" | tail -n 1)
	if [ "$rc" -eq 0 ] && ! grep -qE '^==[0-9]+==ERROR|runtime error:|^SUMMARY: ' "$out/fuzz.log"; then
		pass "fuzz_tree: no crash (${runs:-no stats})"
	else
		fail "fuzz_tree (exit $rc)"
		grep -E -A 30 '^==[0-9]+==ERROR|runtime error:|fuzz_tree: |deadly signal' "$out/fuzz.log" | head -n 60 | indent
		echo "    --- end of output"
		tail -n 15 "$out/fuzz.log" | indent
		echo "    reproduce: $CLANG -g -O1 -fsanitize=fuzzer,address,undefined -DMLM_FRONTEND -Isrc src/tree_core.c test/fuzz/fuzz_tree.c -o /tmp/fuzz_tree && /tmp/fuzz_tree test/fuzz/crash-<hash>"
	fi
else
	fail "build test/fuzz/fuzz_tree.c"
	indent <"$out/build.log"
fi

finish
