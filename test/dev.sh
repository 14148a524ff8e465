#!/usr/bin/env bash
#
# test/dev.sh - run one command against a throwaway cluster with the
# extension built from this checkout, for development:
#
#     bash test/dev.sh psql -f scratch.sql
#     bash test/dev.sh bash test/shell/upgrade.sh
#
# Builds (make WERROR=1), installs privately, starts a cluster as
# test/check.sh does (see test/lib.sh), runs the command with PGHOST,
# PGPORT, PGUSER, PG_BIN and PATH set, and removes everything afterwards.
# The exit status is the command's.
set -uo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export REPO
# shellcheck source=test/lib.sh
source "$REPO/test/lib.sh"
cd "$REPO" || exit 1
[ $# -gt 0 ] || mlm_die "usage: test/dev.sh COMMAND [ARG...]"
mlm_require_packages check
mlm_find_pg_config
mlm_build >/dev/null || mlm_die "build failed"
mlm_setup >/dev/null
"$@"
rc=$?
mlm_cleanup
exit $rc
