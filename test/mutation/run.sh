#!/usr/bin/env bash
#
# test/mutation/run.sh - mutation testing of the suite, run by hand (not by
# test/check.sh, not in CI):
#
#     bash test/mutation/run.sh            # every mutation of mutations.txt
#     bash test/mutation/run.sh M03 M17    # only these
#
# Copies the checkout (tracked and untracked, not ignored files: the work in
# progress is tested as it is) to a scratch directory, checks that every
# mutation of test/mutation/mutations.txt applies (its pattern matches
# exactly once; one that does not is reported as NOT APPLICABLE and makes the
# exit status 1, it is never counted as killed), runs the fast phases of
# test/check.sh once without a mutation (they must pass), then for each
# mutation: applies it, runs
#     MLM_PHASES=$MLM_MUT_PHASES MLM_FAIL_FAST=1 bash test/check.sh
# (an incremental build, then regress, pgTAP and isolation, stopping at the
# first failure), restores the file.  A mutation is
#     killed     the build passed and a test failed (the first failing test
#                is named)
#     SURVIVED   every test passed
#     equivalent every test passed and mutations.txt says why the mutation
#                cannot change a result ("equiv:")
#     no build   it does not compile (warnings are errors): fix the mutation
# The table (markdown) goes to stdout and to $MLM_MUT_OUT (default
# <scratch>/results.md); each run's log stays in <scratch>/logs/ID.log.
# Exit status 0 iff every mutation was applied and none survived or failed
# to build.
#
# Environment: MLM_MUT_PHASES (default regress,pgtap,isolation),
# MLM_MUT_TIMEOUT seconds per mutation (default 900), MLM_MUT_KEEP=1 keeps
# the scratch directory.
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LIST=$REPO/test/mutation/mutations.txt
APPLY=$REPO/test/mutation/apply.pl
PHASES=${MLM_MUT_PHASES:-regress,pgtap,isolation}
TIMEOUT=${MLM_MUT_TIMEOUT:-900}

SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/mlm-mutation.XXXXXX") || exit 1
OUT=${MLM_MUT_OUT:-$SCRATCH/results.md}
mkdir -p "$SCRATCH/logs"
cleanup() {
	if [ "${MLM_MUT_KEEP:-0}" = 1 ]; then
		echo "scratch kept: $SCRATCH" >&2
	else
		rm -rf "$SCRATCH/repo"
	fi
}
trap cleanup EXIT

echo "== copying $REPO to $SCRATCH/repo"
mkdir -p "$SCRATCH/repo"
(cd "$REPO" && git ls-files -z -co --exclude-standard |
	tar --null -T - -cf -) | tar -C "$SCRATCH/repo" -xf - || exit 1
rm -f "$SCRATCH/repo"/src/*.o "$SCRATCH/repo"/src/*.bc "$SCRATCH/repo"/*.so

mapfile -t ALL < <(perl "$APPLY" "$LIST" list) || exit 1
declare -A EQUIV WHAT FILE
IDS=()
for row in "${ALL[@]}"; do
	IFS=$'\t' read -r id file what equiv <<<"$row"
	FILE[$id]=$file
	WHAT[$id]=$what
	EQUIV[$id]=$equiv
	IDS+=("$id")
done
if [ $# -gt 0 ]; then
	for id in "$@"; do
		[ -n "${FILE[$id]:-}" ] || { echo "unknown mutation $id" >&2; exit 2; }
	done
	IDS=("$@")
fi

run_check() {	# $1 = log file; exit status of check.sh
	(cd "$SCRATCH/repo" && MLM_PHASES=$PHASES MLM_FAIL_FAST=1 \
		timeout --kill-after=30 "$TIMEOUT" bash test/check.sh) >"$1" 2>&1
}

echo "== baseline (no mutation): MLM_PHASES=$PHASES"
start=$SECONDS
if ! run_check "$SCRATCH/logs/baseline.log"; then
	echo "the suite fails without any mutation; see $SCRATCH/logs/baseline.log:"
	grep -E 'FAILED' "$SCRATCH/logs/baseline.log" | head -n 20
	tail -n 3 "$SCRATCH/logs/baseline.log"
	MLM_MUT_KEEP=1
	exit 2
fi
echo "   passed: $(tail -n 1 "$SCRATCH/logs/baseline.log") in $((SECONDS - start))s"

killed=0 survived=0 equivalent=0 nobuild=0 notapplied=0
rows=()
for id in "${IDS[@]}"; do
	file=${FILE[$id]}
	log=$SCRATCH/logs/$id.log
	start=$SECONDS
	if ! why=$(perl "$APPLY" "$LIST" check "$id" "$SCRATCH/repo"); then
		result="NOT APPLICABLE"
		by="$why"
		notapplied=$((notapplied + 1))
	else
		cp -p "$SCRATCH/repo/$file" "$SCRATCH/orig"
		perl "$APPLY" "$LIST" apply "$id" "$SCRATCH/repo" || exit 1
		run_check "$log"
		rc=$?
		cp "$SCRATCH/orig" "$SCRATCH/repo/$file"
		touch "$SCRATCH/repo/$file"	# newer than the mutated build
		if grep -q '^  FAILED  build' "$log"; then
			result="no build"
			by="does not compile (see logs/$id.log)"
			nobuild=$((nobuild + 1))
		elif [ "$rc" -ne 0 ]; then
			result=killed
			by=$(grep -m1 -E '^  FAILED  ' "$log" | sed -E 's/^  FAILED  //; s/ \(.*//')
			[ -n "$by" ] || by="exit $rc: $(tail -n 1 "$log")"
			[ "$rc" -eq 124 ] && by="timed out"
			killed=$((killed + 1))
		elif [ -n "${EQUIV[$id]}" ]; then
			result=equivalent
			by=${EQUIV[$id]}
			equivalent=$((equivalent + 1))
		else
			result=SURVIVED
			by="$(tail -n 1 "$log")"
			survived=$((survived + 1))
		fi
	fi
	printf '%-5s %-10s %4ss  %s: %s\n' "$id" "$result" "$((SECONDS - start))" "${WHAT[$id]}" "$by"
	rows+=("| $id | \`$file\` | ${WHAT[$id]//|/\\|} | $result | ${by//|/\\|} |")
done

{
	echo "| id | file | mutation | result | killed by / why |"
	echo "|---|---|---|---|---|"
	printf '%s\n' "${rows[@]}"
	echo
	echo "${#IDS[@]} mutations: $killed killed, $survived survived, $equivalent equivalent, $nobuild no build, $notapplied not applicable"
} >"$OUT"
echo
cat "$OUT"
[ "$survived" -eq 0 ] && [ "$nobuild" -eq 0 ] && [ "$notapplied" -eq 0 ]
