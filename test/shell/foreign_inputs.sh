#!/usr/bin/env bash
#
# test/shell/foreign_inputs.sh - inputs that live elsewhere compute the same.
#
# ERPs keep members and orders in partitioned tables or in another database.
# One network and one month of orders are held three ways:
#   local       plain tables;
#   partitioned the orders partitioned by month (and the members by id range);
#   foreign     both relations as postgres_fdw foreign tables served by a
#               second throwaway cluster started here.
# For each, the preview functions (mlm.payouts, mlm.member_results) and a
# period close (mlm.close, which reads its inputs as their owner) must give
# exactly the payouts of the local tables.
#
# Environment: as every test/shell test (see test/lib.sh).  Exit 0 on success.
set -uo pipefail

: "${REPO:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
if ! declare -F mlm_pick_port >/dev/null; then
	# shellcheck source=test/lib.sh
	source "$REPO/test/lib.sh"
fi
: "${PG_BIN:?PG_BIN is not set}" "${PGHOST:?PGHOST is not set}" "${PGPORT:?PGPORT is not set}"
: "${MLM_TMP:?MLM_TMP is not set}"
export PGUSER=${PGUSER:-postgres}
DB=mlm_foreign
REMOTE=$MLM_TMP/remote
RPORT=
die() {
	printf 'FAIL: %s\n' "$*" >&2
	exit 1
}
cleanup() {
	if [ -f "$REMOTE/data/postmaster.pid" ]; then
		as_pg_owner "$PG_BIN/pg_ctl" -D "$REMOTE/data" -m immediate -w stop >/dev/null 2>&1
	fi
	rm -rf "$REMOTE"
}
trap cleanup EXIT
psql_db() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
remote_psql() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$REMOTE/sock" -p "$RPORT" -U postgres "$@"; }

# --- the second cluster --------------------------------------------------------
RPORT=$(mlm_pick_port) || die "no free port"
mkdir -p "$REMOTE/sock"
[ "$(id -u)" = 0 ] && chown -R "$MLM_PG_OWNER": "$REMOTE"
as_pg_owner "$PG_BIN/initdb" -D "$REMOTE/data" -U postgres --auth=trust --no-sync >"$REMOTE/initdb.log" 2>&1 ||
	{ cat "$REMOTE/initdb.log"; die "initdb of the remote cluster failed"; }
printf "port = %s\nlisten_addresses = ''\nunix_socket_directories = '%s'\nfsync = off\n" "$RPORT" "$REMOTE/sock" \
	>>"$REMOTE/data/postgresql.conf"
as_pg_owner "$PG_BIN/pg_ctl" -D "$REMOTE/data" -l "$REMOTE/log" -w -t 60 start >/dev/null ||
	{ tail -n 20 "$REMOTE/log"; die "the remote cluster did not start"; }

# the same data, generated the same way on both sides
DATA="
CREATE SCHEMA erp;
CREATE TABLE erp.members AS
  SELECT i::bigint AS id, CASE WHEN i > 1 THEN (i * 7919) % (i - 1) + 1 END::bigint AS sponsor_id,
         (i % 11 <> 0) AS active_status, date '2024-01-01' + (i % 90) AS joined
    FROM generate_series(1, 3000) i;
CREATE TABLE erp.orders AS
  SELECT 1 + (k * 104729) % 3000 AS member_id, (k % 120)::numeric AS pv, (k % 97)::numeric + 0.25 AS cv,
         date '2024-02-01' + (k % 90) AS booked
    FROM generate_series(1, 20000) k;
"
remote_psql -d postgres -c "$DATA" >/dev/null || die "remote data"

"$PG_BIN/psql" -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null || die "CREATE DATABASE"
psql_db -c "CREATE EXTENSION mlm" -c "CREATE EXTENSION postgres_fdw" -c "$DATA" >/dev/null || die "local data"
psql_db >/dev/null <<SQL || die "partitioned and foreign relations"
-- partitioned: orders by month, members by id range
CREATE SCHEMA part;
CREATE TABLE part.members (id bigint, sponsor_id bigint, active_status boolean, joined date) PARTITION BY RANGE (id);
CREATE TABLE part.members_a PARTITION OF part.members FOR VALUES FROM (MINVALUE) TO (1500);
CREATE TABLE part.members_b PARTITION OF part.members FOR VALUES FROM (1500) TO (MAXVALUE);
INSERT INTO part.members SELECT * FROM erp.members;
CREATE TABLE part.orders (member_id integer, pv numeric, cv numeric, booked date) PARTITION BY RANGE (booked);
CREATE TABLE part.orders_2024_02 PARTITION OF part.orders FOR VALUES FROM ('2024-02-01') TO ('2024-03-01');
CREATE TABLE part.orders_2024_03 PARTITION OF part.orders FOR VALUES FROM ('2024-03-01') TO ('2024-04-01');
CREATE TABLE part.orders_rest PARTITION OF part.orders DEFAULT;
INSERT INTO part.orders SELECT * FROM erp.orders;
-- foreign: the remote cluster's copies
CREATE SERVER remote FOREIGN DATA WRAPPER postgres_fdw
  OPTIONS (host '$REMOTE/sock', port '$RPORT', dbname 'postgres');
CREATE USER MAPPING FOR CURRENT_USER SERVER remote OPTIONS (user 'postgres');
CREATE SCHEMA fdw;
IMPORT FOREIGN SCHEMA erp FROM SERVER remote INTO fdw;
ANALYZE part.members, part.orders;
SELECT mlm.add_plan_version('fi', '{
  "currency": {"scale": 2}, "active": {"min_pv": 20},
  "ranks": [{"name": "Member"}, {"name": "Silver", "min_pv": 50, "min_gv": 2000}],
  "bonuses": [
    {"name": "retail", "type": "personal", "rate": 0.05},
    {"name": "uni", "type": "unilevel", "rates": [0.10, 0.05, 0.03], "compression": "dynamic"},
    {"name": "fast", "type": "fast_start", "days": 30, "rates": [0.2]},
    {"name": "pool", "type": "pool", "pct": 0.01, "min_rank": "Silver", "shares": "equal"}],
  "cap": {"pct": 0.5}}');
SELECT mlm.register_source('local', 'erp.members', 'erp.orders', 'booked');
SELECT mlm.register_source('part', 'part.members', 'part.orders', 'booked');
SELECT mlm.register_source('fdw', 'fdw.members', 'fdw.orders', 'booked');
CREATE VIEW local_march AS SELECT member_id, pv, cv FROM erp.orders WHERE booked BETWEEN '2024-03-01' AND '2024-03-31';
CREATE VIEW part_march AS SELECT member_id, pv, cv FROM part.orders WHERE booked BETWEEN '2024-03-01' AND '2024-03-31';
CREATE VIEW fdw_march AS SELECT member_id, pv, cv FROM fdw.orders WHERE booked BETWEEN '2024-03-01' AND '2024-03-31';
SQL

digest() { psql_db -At -c "SELECT count(*) || ' ' || md5(string_agg(member_id || ':' || bonus || ':' || amount, ',' ORDER BY member_id, bonus)) FROM ($1) x"; }
plan="(SELECT definition FROM mlm.plan_version WHERE plan_name = 'fi')"
want=$(digest "SELECT * FROM mlm.payouts($plan, 'erp.members', 'local_march', '2024-03-01', '2024-03-31')") || die "local preview"
case $want in 0\ *) die "the local preview paid nothing: the comparison would prove nothing" ;; esac
echo "local tables: $want"
fail=0
for kind in part fdw; do
	got=$(digest "SELECT * FROM mlm.payouts($plan, '$kind.members', '${kind}_march', '2024-03-01', '2024-03-31')") ||
		die "$kind preview"
	[ "$got" = "$want" ] && echo "  $kind preview: same" || { echo "  $kind preview: $got"; fail=1; }
	got=$(psql_db -At -c "SELECT count(*) || ' ' || md5(string_agg(member_id || ':' || gv || ':' || rank, ',' ORDER BY member_id))
	                        FROM mlm.member_results($plan, '$kind.members', '${kind}_march', '2024-03-01', '2024-03-31')")
	exp=$(psql_db -At -c "SELECT count(*) || ' ' || md5(string_agg(member_id || ':' || gv || ':' || rank, ',' ORDER BY member_id))
	                        FROM mlm.member_results($plan, 'erp.members', 'local_march', '2024-03-01', '2024-03-31')")
	[ "$got" = "$exp" ] && echo "  $kind member results: same" || { echo "  $kind member results: $got vs $exp"; fail=1; }
done
# closes: one plan per source so that the periods do not collide
for kind in local part fdw; do
	psql_db -c "SELECT mlm.add_plan_version('fi_$kind', $plan)" \
		-c "SELECT mlm.close('fi_$kind', '2024-03', '2024-03-01', '2024-03-31', '$kind')" >/dev/null ||
		die "close of source $kind failed"
	got=$(digest "SELECT p.member_id, p.bonus, p.amount FROM mlm.run_payout p JOIN mlm.run r USING (run_id) WHERE r.plan_name = 'fi_$kind'")
	[ "$got" = "$want" ] && echo "  $kind close: same" || { echo "  $kind close: $got"; fail=1; }
done
[ "$fail" = 0 ] || die "inputs held elsewhere computed other payouts"
"$PG_BIN/psql" -X -q -d postgres -c "DROP DATABASE $DB" >/dev/null
echo ok
