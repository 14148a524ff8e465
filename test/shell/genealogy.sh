#!/usr/bin/env bash
#
# test/shell/genealogy.sh - pictures of a downline as it was paid.
#
# Closes a period of a 2000-member binary network and exports downlines of
# the run's snapshot: mlm.run_genealogy_dot must parse (dot -Tsvg exits 0)
# and have as many nodes and edges as the downline has members and links
# (mlm.downline / the placement children, counted independently), with an
# invisible twin for each empty binary slot; mlm.run_genealogy_json must
# hold every member of the downline once, with its rank, PV and GV from
# mlm.run_member, its children's sides left and right; beyond max_nodes
# the export is refused (54000).
#
# Environment: as every test/shell test (see test/lib.sh); needs graphviz.
set -uo pipefail

: "${REPO:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${PG_BIN:?PG_BIN is not set}" "${PGHOST:?PGHOST is not set}" "${PGPORT:?PGPORT is not set}"
export PGUSER=${PGUSER:-postgres}
DB=mlm_genealogy
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mlm_genealogy.XXXXXX") || exit 1
trap 'rm -rf "$WORK"' EXIT
die() {
	printf 'FAIL: %s\n' "$*" >&2
	exit 1
}
psql_db() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
value() { psql_db -At -c "$1"; }
command -v dot >/dev/null || die "graphviz is not installed (apt-get install graphviz)"

"$PG_BIN/psql" -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null || die "CREATE DATABASE"
psql_db -v n=2000 -v plan=pics -f "$REPO/test/shell/close_network.sql" >/dev/null || die "setup"
# member 7 loses its right placement child (15 leaves the placement tree):
# an empty slot to draw
value "UPDATE erp.members SET placement_id = NULL, position = NULL WHERE id = 15" >/dev/null
run=$(value "SELECT mlm.close('pics', '2024-01', '2024-01-01', '2024-01-31', 'erp')") || die "close"

fail=0
check() { # label got want
	if [ "$2" = "$3" ]; then echo "ok   $1 ($2)"; else echo "FAIL $1: got $2, want $3"; fail=1; fi
}
for spec in "sponsor 1 4" "sponsor 5 6" "placement 2 4" "placement 3 3"; do
	read -r tree m depth <<<"$spec"
	value "SELECT mlm.run_genealogy_dot($run, $m, $depth, '$tree')" >"$WORK/g.dot" || die "dot export $spec"
	dot -Tsvg "$WORK/g.dot" -o "$WORK/g.svg" 2>"$WORK/dot.err" || { cat "$WORK/dot.err"; die "dot -Tsvg failed on $spec"; }
	nodes=$(grep -cE '^  m[0-9]+ \[label=' "$WORK/g.dot")
	edges=$(grep -cE '^  m[0-9]+ -> m[0-9]+' "$WORK/g.dot")
	svg_nodes=$(grep -c 'class="node"' "$WORK/g.svg")
	if [ "$tree" = sponsor ]; then
		want=$(value "SELECT 1 + count(*) FROM mlm.downline((SELECT snapshot FROM mlm.run WHERE run_id = $run), $m, $depth)")
	else
		want=$(value "WITH RECURSIVE d(id, l) AS (SELECT $m::bigint, 0 UNION ALL
		                SELECT e.id, d.l + 1 FROM d JOIN erp.members e ON e.placement_id = d.id WHERE d.l < $depth)
		              SELECT count(*) FROM d")
		holes=$(value "WITH RECURSIVE d(id, l) AS (SELECT $m::bigint, 0 UNION ALL
		                 SELECT e.id, d.l + 1 FROM d JOIN erp.members e ON e.placement_id = d.id WHERE d.l < $depth)
		               SELECT count(*) FROM d WHERE d.l < $depth
		                  AND (SELECT count(*) FROM erp.members e WHERE e.placement_id = d.id) = 1")
		check "$spec: invisible twins for empty slots" "$(grep -c 'style=invis, label=""' "$WORK/g.dot")" "$holes"
	fi
	check "$spec: DOT nodes" "$nodes" "$want"
	check "$spec: DOT edges" "$edges" "$((want - 1))"
	check "$spec: nodes drawn in the SVG (invisible twins are not)" "$svg_nodes" "$want"
	got=$(value "SELECT count(*) FROM jsonb_path_query(mlm.run_genealogy_json($run, $m, $depth, '$tree'), 'strict \$.**.id')")
	check "$spec: JSON nodes" "$got" "$want"
done
# JSON values are the run's
bad=$(value "SELECT count(*) FROM jsonb_path_query(mlm.run_genealogy_json($run, 2, 3, 'placement'), 'strict \$.**?(@.id != null)') j,
             mlm.run_member rm WHERE rm.run_id = $run AND rm.member_id = (j->>'id')::bigint
               AND (rm.rank IS DISTINCT FROM j->>'rank' OR rm.pv <> (j->>'pv')::numeric OR rm.gv <> (j->>'gv')::numeric
                    OR rm.amount <> (j->>'paid')::numeric)")
check "JSON rank, PV, GV and paid equal mlm.run_member" "$bad" 0
sides=$(value "SELECT string_agg(c->>'side', ',' ORDER BY ord) FROM jsonb_array_elements(mlm.run_genealogy_json($run, 2, 1, 'placement')->'children') WITH ORDINALITY a(c, ord)")
check "binary legs are left then right" "$sides" "left,right"
err=$(psql_db -v VERBOSITY=verbose -c "SELECT mlm.run_genealogy_dot($run, 1, 12, max_nodes => 1000)" 2>&1 >/dev/null | sed -n 's/^ERROR:  \([0-9A-Z]\{5\}\):.*/\1/p')
check "beyond max_nodes the export is refused" "$err" 54000
[ "$fail" = 0 ] || die "genealogy exports differ from the downline"
"$PG_BIN/psql" -X -q -d postgres -c "DROP DATABASE $DB" >/dev/null
echo ok
