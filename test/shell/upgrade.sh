#!/usr/bin/env bash
#
# test/shell/upgrade.sh - payout history survives ALTER EXTENSION mlm UPDATE,
# and the upgraded extension equals a fresh install.
#
# In one database: install every released version in turn, starting with
# the oldest (0.1), from its frozen install script; with it register a plan
# and a source, close, finalize and adjust a period, leave a second period
# as a draft; take counts and checksums of every history table; update to
# the current version; check that the checksums are unchanged, that the
# draft can still be finalized, and that the next period closes with its
# carry-in from the run made before the upgrade.  Then compare the
# extension's catalog (test/upgrade/catalog.sql) with a fresh CREATE
# EXTENSION mlm in a second database.
#
# Environment: as every test/shell test (PGHOST, PGPORT, PGUSER, PG_BIN;
# see test/lib.sh).  Exit 0 on success.
set -uo pipefail

: "${REPO:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${PG_BIN:?PG_BIN is not set}" "${PGHOST:?PGHOST is not set}" "${PGPORT:?PGPORT is not set}"
export PGUSER=${PGUSER:-postgres}

OLD=mlm_upgrade_old
NEW=mlm_upgrade_new
RESTORED=mlm_upgrade_restored
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mlm_upgrade.XXXXXX") || exit 1
trap 'rm -rf "$WORK"' EXIT

die() {
	printf 'FAIL: %s\n' "$*" >&2
	exit 1
}
psql_in() {
	local db=$1
	shift
	"$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$db" "$@"
}
value() { psql_in "$1" -At -c "$2"; }

# versions in upgrade order, from the update paths the server sees
default=$(value postgres "SELECT default_version FROM pg_available_extensions WHERE name = 'mlm'") ||
	die "the server does not know the extension mlm"
oldest=0.1
[ "$default" != "$oldest" ] || die "default_version is still $oldest: nothing to upgrade to"
path=$(value postgres "SELECT path FROM pg_extension_update_paths('mlm') WHERE source = '$oldest' AND target = '$default'")
[ -n "$path" ] || die "no update path from $oldest to $default (pg_extension_update_paths is empty)"
echo "update path: $path"

for db in $OLD $NEW $RESTORED; do
	value postgres "DROP DATABASE IF EXISTS $db" >/dev/null
	value postgres "CREATE DATABASE $db" >/dev/null || die "CREATE DATABASE $db"
done

# --- history made with the oldest release -----------------------------------
value postgres "DROP ROLE IF EXISTS mlm_upgrade_operator" >/dev/null
psql_in $OLD -v old="$oldest" >"$WORK/old.log" 2>&1 <<'SQL' || { cat "$WORK/old.log"; die "working with version $oldest failed"; }
CREATE EXTENSION mlm VERSION :'old';
-- an operator role of the recipe: its grants must survive changed signatures
CREATE ROLE mlm_upgrade_operator NOLOGIN;
GRANT EXECUTE ON FUNCTION mlm.finalize(bigint), mlm.finalize(text, text),
                          mlm.register_source(text, regclass, regclass, text, regclass, boolean)
  TO mlm_upgrade_operator;
CREATE SCHEMA erp;
-- a complete binary tree of 63 members, placed as sponsored
CREATE TABLE erp.members AS
  SELECT i::bigint AS id, CASE WHEN i > 1 THEN i / 2 END::bigint AS sponsor_id,
         CASE WHEN i > 1 THEN i / 2 END::bigint AS placement_id,
         CASE WHEN i > 1 THEN (i % 2)::int END AS position, true AS active_status
    FROM generate_series(1, 63) i;
CREATE TABLE erp.volumes (member_id bigint, pv numeric, cv numeric, period text);
INSERT INTO erp.volumes
  SELECT i, 50 + i % 70, (i * 37) % 300, p
    FROM generate_series(1, 63) i, unnest(ARRAY['2024-01', '2024-02', '2024-03']) p;
SELECT mlm.add_plan_version('upg', '{
  "currency": {"scale": 2},
  "active": {"min_pv": 60},
  "ranks": [{"name": "Member"}, {"name": "Bronze", "min_pv": 100}],
  "bonuses": [
    {"name": "retail", "type": "personal", "rate": 0.05},
    {"name": "unilevel", "type": "unilevel", "rates": [0.10, 0.05, 0.04]},
    {"name": "binary", "type": "binary", "rate": 0.10, "cap": 500, "max_carry": 20000}
  ],
  "cap": {"pct": 0.6}
}');
SELECT mlm.register_source('erp', 'erp.members', 'erp.volumes', 'period');
SELECT mlm.close('upg', '2024-01', '2024-01-01', '2024-01-31', 'erp', with_lines => true);
SELECT mlm.finalize('upg', '2024-01');
SELECT mlm.adjust((SELECT run_id FROM mlm.run WHERE period_label = '2024-01'), 7, 12.50, 'late order');
SELECT mlm.close('upg', '2024-02', '2024-02-01', '2024-02-29', 'erp', with_lines => true);
SQL

# Counts and checksums of every history table, in a stable order.
checksums() {
	value "${1:-$OLD}" "
SELECT string_agg(t || ' ' || n || ' ' || h, E'\n' ORDER BY t) FROM (
  SELECT 'plan_version' t, count(*) n, md5(string_agg(format('%s|%s|%s', plan_name, version, definition), ',' ORDER BY plan_name, version)) h FROM mlm.plan_version
  UNION ALL SELECT 'run', count(*), md5(string_agg(format('%s|%s|%s|%s|%s|%s|%s|%s|%s|%s', run_id, plan_name, plan_version, period_label, status, input_checksum, total_paid, cap_factor, carry_from_run_id, line_rows), ',' ORDER BY run_id)) FROM mlm.run
  UNION ALL SELECT 'run_payout', count(*), md5(string_agg(format('%s|%s|%s|%s', run_id, member_id, bonus, amount), ',' ORDER BY run_id, member_id, bonus)) FROM mlm.run_payout
  UNION ALL SELECT 'run_member', count(*), md5(string_agg(format('%s|%s|%s|%s|%s|%s|%s', run_id, member_id, pv, gv, active, rank, amount), ',' ORDER BY run_id, member_id)) FROM mlm.run_member
  UNION ALL SELECT 'run_carry', count(*), md5(string_agg(format('%s|%s|%s|%s', run_id, member_id, carry_left, carry_right), ',' ORDER BY run_id, member_id)) FROM mlm.run_carry
  UNION ALL SELECT 'run_line', count(*), md5(string_agg(format('%s|%s|%s|%s|%s|%s|%s|%s|%s', run_id, line_no, member_id, bonus, source_id, level, base, rate, amount), ',' ORDER BY run_id, line_no)) FROM mlm.run_line
  UNION ALL SELECT 'run_bonus_total', count(*), md5(string_agg(format('%s|%s|%s|%s', run_id, bonus, total_before_cap, total_paid), ',' ORDER BY run_id, bonus)) FROM mlm.run_bonus_total
  UNION ALL SELECT 'adjustment', count(*), md5(string_agg(format('%s|%s|%s|%s|%s', adjustment_id, run_id, member_id, amount, reason), ',' ORDER BY adjustment_id)) FROM mlm.adjustment
  UNION ALL SELECT 'snapshot', count(*), md5(string_agg(snapshot::text, ',' ORDER BY run_id)) FROM mlm.run
) x"
}
before=$(checksums) || die "checksums before the upgrade"
echo "$before" | grep -q '^run_line [1-9]' || die "the $oldest close wrote no lines: $before"
echo "$before" | grep -q '^adjustment 1 ' || die "the $oldest adjustment is missing: $before"

# --- the upgrade ----------------------------------------------------------------
psql_in $OLD -c "ALTER EXTENSION mlm UPDATE" >"$WORK/update.log" 2>&1 ||
	{ cat "$WORK/update.log"; die "ALTER EXTENSION mlm UPDATE failed"; }
v=$(value $OLD "SELECT extversion FROM pg_extension WHERE extname = 'mlm'")
[ "$v" = "$default" ] || die "after the update the version is $v, expected $default"

after=$(checksums) || die "checksums after the upgrade"
if [ "$before" != "$after" ]; then
	diff <(echo "$before") <(echo "$after")
	die "the payout history changed during the upgrade"
fi
echo "history intact after the upgrade:"
granted=$(value $OLD "SELECT count(*) FROM pg_proc p WHERE p.pronamespace = 'mlm'::regnamespace
                       AND p.proname IN ('finalize', 'register_source')
                       AND has_function_privilege('mlm_upgrade_operator', p.oid, 'EXECUTE')")
nfuncs=$(value $OLD "SELECT count(*) FROM pg_proc p WHERE p.pronamespace = 'mlm'::regnamespace
                      AND p.proname IN ('finalize', 'register_source')")
[ "$granted" = "$nfuncs" ] && [ "$nfuncs" -gt 0 ] ||
	die "the operator's EXECUTE grants did not carry over to the new signatures ($granted of $nfuncs)"
echo "grants on functions with changed arguments carried over ($granted functions)"
# (revoked again, so that the catalogs compare equal below)
value $OLD "REVOKE EXECUTE ON FUNCTION mlm.finalize(bigint, boolean), mlm.finalize(text, text, boolean),
              mlm.register_source(text, regclass, regclass, text, regclass, boolean, text) FROM mlm_upgrade_operator" >/dev/null
echo "$before" | sed 's/^/  /'

# --- the next periods, with the upgraded extension ---------------------------
psql_in $OLD >"$WORK/next.log" 2>&1 <<'SQL' || { cat "$WORK/next.log"; die "working after the upgrade failed"; }
SELECT mlm.finalize('upg', '2024-02');
SELECT mlm.close('upg', '2024-03', '2024-03-01', '2024-03-31', 'erp');
SELECT mlm.finalize('upg', '2024-03');
SQL
got=$(value $OLD "SELECT string_agg(period_label || ':' || status || ':' || COALESCE(carry_from_run_id::text, '-'), ' ' ORDER BY period_start) FROM mlm.run") ||
	die "reading the runs"
want=$(value $OLD "SELECT string_agg(r.period_label || ':final:' || COALESCE((SELECT p.run_id::text FROM mlm.run p WHERE p.plan_name = r.plan_name AND p.period_end < r.period_start ORDER BY p.period_end DESC LIMIT 1), '-'), ' ' ORDER BY r.period_start) FROM mlm.run r")
[ "$got" = "$want" ] || die "runs after the upgrade: got '$got', expected '$want'"
# the carry-in of March is February's carry-out: the payout of binary
# depends on it, so compare March with a preview fed February's carry
diffs=$(value $OLD "
  CREATE TEMP VIEW feb_carry AS SELECT member_id, carry_left, carry_right FROM mlm.run_carry
   WHERE run_id = (SELECT run_id FROM mlm.run WHERE period_label = '2024-02');
  CREATE TEMP VIEW mar AS SELECT member_id, pv, cv FROM erp.volumes WHERE period = '2024-03';
  SELECT count(*) FROM (
    (SELECT member_id, bonus, amount FROM mlm.run_payout WHERE run_id = (SELECT run_id FROM mlm.run WHERE period_label = '2024-03')
     EXCEPT SELECT member_id, bonus, amount FROM mlm.payouts((SELECT definition FROM mlm.plan_version WHERE plan_name = 'upg'), 'erp.members', 'mar', '2024-03-01', '2024-03-31', 'feb_carry'))
    UNION ALL
    (SELECT member_id, bonus, amount FROM mlm.payouts((SELECT definition FROM mlm.plan_version WHERE plan_name = 'upg'), 'erp.members', 'mar', '2024-03-01', '2024-03-31', 'feb_carry')
     EXCEPT SELECT member_id, bonus, amount FROM mlm.run_payout WHERE run_id = (SELECT run_id FROM mlm.run WHERE period_label = '2024-03'))) d" | tail -n 1) ||
	die "comparing March with a preview"
[ "$diffs" = 0 ] || die "March differs from a preview with February's carry in $diffs payouts"
carried=$(value $OLD "SELECT count(*) FROM mlm.run_carry WHERE run_id = (SELECT run_id FROM mlm.run WHERE period_label = '2024-02') AND (carry_left <> 0 OR carry_right <> 0)")
[ "$carried" -gt 0 ] || die "February left no carry: the carry-in check proves nothing"
echo "periods closed after the upgrade: $got (carry-in checked on $carried members)"

# --- the upgraded catalog equals a fresh install ------------------------------
value $NEW "CREATE EXTENSION mlm" >/dev/null || die "CREATE EXTENSION mlm (fresh) failed"
psql_in $OLD -At -f "$REPO/test/upgrade/catalog.sql" >"$WORK/upgraded.txt" || die "describing the upgraded catalog"
psql_in $NEW -At -f "$REPO/test/upgrade/catalog.sql" >"$WORK/fresh.txt" || die "describing the fresh catalog"
[ -s "$WORK/fresh.txt" ] || die "the catalog description is empty"
if ! diff -u "$WORK/fresh.txt" "$WORK/upgraded.txt" >"$WORK/catalog.diff"; then
	head -n 80 "$WORK/catalog.diff"
	die "the upgraded extension differs from a fresh install (- fresh, + upgraded)"
fi
echo "catalog of the upgraded extension equals a fresh install ($(wc -l <"$WORK/fresh.txt") objects described)"

# --- the history survives pg_dump and pg_restore -------------------------------
history=$(checksums) || die "checksums of the upgraded database"
"$PG_BIN/pg_dump" -Fc -d $OLD -f "$WORK/history.dump" || die "pg_dump failed"
"$PG_BIN/pg_restore" --exit-on-error -d $RESTORED "$WORK/history.dump" >"$WORK/restore.log" 2>&1 ||
	{ cat "$WORK/restore.log"; die "pg_restore failed"; }
restored=$(checksums $RESTORED) || die "checksums of the restored database"
if [ "$history" != "$restored" ]; then
	diff <(echo "$history") <(echo "$restored")
	die "the restored history differs from the dumped one"
fi
echo "history intact after pg_dump and pg_restore ($(echo "$history" | awk '{n += $2} END {print n}') rows)"

for db in $OLD $NEW $RESTORED; do value postgres "DROP DATABASE $db" >/dev/null; done
value postgres "DROP ROLE mlm_upgrade_operator" >/dev/null
echo "ok"
