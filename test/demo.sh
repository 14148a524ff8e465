#!/usr/bin/env bash
#
# test/demo.sh - build the mlm extension, start a throwaway PostgreSQL 15
# cluster, run test/demo.sql in it with psql, stop the cluster.
#
# Nothing is installed into the system's PostgreSQL directories: the server
# tree is copied into a temp dir and the extension installed there (see
# test/lib.sh).  Missing Debian packages are installed when run as root.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export REPO
# shellcheck source=test/lib.sh
source "$REPO/test/lib.sh"

mlm_require_packages demo
mlm_find_pg_config
mlm_build || mlm_die "build failed"
mlm_setup

su_psql -d postgres -c 'CREATE DATABASE mlm_demo'
mlm_say "== demo: psql -X -f test/demo.sql"
mlm_say ""
rc=0
dot_file=$MLM_TMP/downline.dot
(cd "$REPO" && "$PG_BIN/psql" -X -v ON_ERROR_STOP=1 -v demo_dot="$dot_file" -d mlm_demo -f test/demo.sql </dev/null) || rc=$?
# the picture of section 9, next to the repository's working directory
if [ "$rc" -eq 0 ] && [ -s "$dot_file" ]; then
	if command -v dot >/dev/null 2>&1; then
		dot -Tsvg "$dot_file" -o "${TMPDIR:-/tmp}/mlm-demo-downline.svg" &&
			mlm_say "== section 9 drawn: ${TMPDIR:-/tmp}/mlm-demo-downline.svg ($(grep -c ' -> ' "$dot_file") links)"
	else
		mlm_say "== (install graphviz to draw section 9: apt-get install graphviz)"
	fi
fi
mlm_say ""
mlm_cluster_stop fast || true
mlm_cleanup
if [ "$rc" -ne 0 ]; then
	mlm_err "demo FAILED (psql exit $rc)"
	exit "$rc"
fi
mlm_say "== demo finished"
