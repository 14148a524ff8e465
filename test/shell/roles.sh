#!/usr/bin/env bash
#
# test/shell/roles.sh - the roles recipe of docs/period-close.md works as
# written, for people who log in.
#
# Takes the ERP setup block and the recipe block out of
# docs/period-close.md (the sql blocks that follow "## Roles" and the first
# sql block of the file), runs them as a superuser, and then connects as the
# login roles of the recipe:
#   erp_plans     (admin)    adds a plan version and registers the source;
#   erp_monthend  (operator) previews, closes and finalizes a period, and
#                            may not add plans or write the tables;
#   erp_reports   (reader)   reads the totals, and may not close.
# The roles are dropped at the end (they are cluster-wide).
#
# Environment: as every test/shell test (see test/lib.sh).  Exit 0 on success.
set -uo pipefail

: "${REPO:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${PG_BIN:?PG_BIN is not set}" "${PGHOST:?PGHOST is not set}" "${PGPORT:?PGPORT is not set}"
export PGUSER=${PGUSER:-postgres}
DB=mlm_roles
DOC=$REPO/docs/period-close.md
ROLES="erp_reports erp_monthend erp_plans mlm_admin mlm_operator mlm_reader"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mlm_roles.XXXXXX") || exit 1

die() {
	printf 'FAIL: %s\n' "$*" >&2
	exit 1
}
drop_all() {
	"$PG_BIN/psql" -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1
	for r in $ROLES; do "$PG_BIN/psql" -X -q -d postgres -c "DROP ROLE IF EXISTS $r" >/dev/null 2>&1; done
}
trap 'drop_all; rm -rf "$WORK"' EXIT
as() {
	local role=$1
	shift
	"$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -At -U "$role" -d "$DB" "$@"
}
# the SQLSTATE of a statement run as a role ('ok' when it succeeds)
state_as() {
	local out
	out=$(as "$1" -v VERBOSITY=verbose -c "$2" 2>&1 >/dev/null)
	out=$(printf '%s\n' "$out" | sed -n 's/^ERROR:  \([0-9A-Z]\{5\}\):.*/\1/p' | head -n 1)
	echo "${out:-ok}"
}

# the n-th ```sql block of the file, and the first one after a heading
block() {
	awk -v want="$2" -v after="$3" '
		after != "" && $0 == after { armed = 1; next }
		/^```sql$/ { if (after == "" || armed) { n++; if (n == want) { on = 1; next } } }
		/^```/ { on = 0 }
		on { print }' "$1"
}
block "$DOC" 1 "" >"$WORK/setup.sql"
block "$DOC" 1 "## Roles" >"$WORK/recipe.sql"
grep -q 'CREATE ROLE mlm_operator' "$WORK/recipe.sql" || die "no recipe found after '## Roles' in $DOC"
grep -q 'CREATE TABLE erp.member' "$WORK/setup.sql" || die "no ERP setup block at the top of $DOC"

drop_all
"$PG_BIN/psql" -X -q -d postgres -c "CREATE DATABASE $DB" >/dev/null || die "CREATE DATABASE"
"$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d $DB -f "$WORK/setup.sql" >/dev/null || die "the ERP setup block failed"
"$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d $DB -f "$WORK/recipe.sql" >"$WORK/recipe.log" 2>&1 ||
	{ cat "$WORK/recipe.log"; die "the recipe failed as written"; }
echo "recipe ran as written ($(grep -c 'CREATE ROLE' "$WORK/recipe.sql") roles)"

# the admin
as erp_plans -c "SELECT mlm.add_plan_version('gold', '{\"currency\": {\"scale\": 2}, \"active\": {\"min_pv\": 50},
  \"ranks\": [{\"name\": \"Member\"}], \"bonuses\": [{\"name\": \"retail\", \"type\": \"personal\", \"rate\": 0.05},
  {\"name\": \"binary\", \"type\": \"binary\", \"rate\": 0.10, \"max_carry\": 1000}]}')" >/dev/null ||
	die "erp_plans cannot add a plan version"
as erp_plans -c "SELECT mlm.register_source('erp', 'erp.member', 'erp.volume', 'period')" >/dev/null ||
	die "erp_plans cannot register the source"
echo "erp_plans: added a plan version and registered the source"

# the operator
n=$(as erp_monthend -c "SELECT count(*) FROM mlm.preview('gold', '2024-01', '2024-01-01', '2024-01-31', 'erp') WHERE kind = 'payout'") ||
	die "erp_monthend cannot preview"
[ "$n" -gt 0 ] || die "the preview of erp_monthend paid nothing"
run=$(as erp_monthend -c "SELECT mlm.close('gold', '2024-01', '2024-01-01', '2024-01-31', 'erp')") ||
	die "erp_monthend cannot close"
as erp_monthend -c "SELECT mlm.finalize($run)" >/dev/null || die "erp_monthend cannot finalize"
paid=$(as erp_monthend -c "SELECT count(*) FROM mlm.run_payout WHERE run_id = $run")
[ "$paid" = "$n" ] || die "the close wrote $paid payouts, the preview showed $n"
who=$(as erp_monthend -c "SELECT run_by || ' ' || finalized_by FROM mlm.run WHERE run_id = $run")
[ "$who" = "erp_monthend erp_monthend" ] || die "run_by / finalized_by are '$who'"
[ "$(state_as erp_monthend "SELECT mlm.add_plan_version('gold', '{}')")" = 42501 ] ||
	die "erp_monthend may add plan versions"
[ "$(state_as erp_monthend "DELETE FROM mlm.run_payout")" = 42501 ] || die "erp_monthend may write the tables"
echo "erp_monthend: previewed ($n payouts), closed and finalized run $run; may not add plans or write tables"

# the reader
total=$(as erp_reports -c "SELECT total FROM mlm.run_totals WHERE run_id = $run") || die "erp_reports cannot read the totals"
[ -n "$total" ] || die "erp_reports sees no totals"
[ "$(state_as erp_reports "SELECT mlm.close('gold', '2024-02', '2024-02-01', '2024-02-29', 'erp')")" = 42501 ] ||
	die "erp_reports may close"
echo "erp_reports: reads the totals ($total); may not close"
echo ok
