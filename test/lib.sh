# shellcheck shell=bash
#
# test/lib.sh - shell functions shared by test/demo.sh, test/check.sh and the
# shell tests under test/shell/.
#
# Sourcing this file only defines functions and a few constants; it starts
# nothing.  The scripts call, in this order:
#
#   mlm_require_packages demo|check   install / ask for the Debian packages
#   mlm_find_pg_config                sets PG_CONFIG (PostgreSQL 15)
#   mlm_build                         make WERROR=1 in the repo
#   mlm_setup                         temp dir + cleanup trap, private server
#                                     copy with the extension installed,
#                                     initdb, start; exports the test env
#   ...
#   mlm_cleanup                       stop the cluster, remove the temp dir
#                                     (also run by the EXIT/INT/TERM trap)
#
# After mlm_setup these are exported to every child process:
#   PGHOST    socket directory of the throwaway cluster ($MLM_TMP/sock)
#   PGPORT    its port (unix socket only: listen_addresses = '')
#   PGUSER    postgres (bootstrap superuser, trust auth)
#   PGDATABASE postgres
#   PGDATA    data directory ($MLM_TMP/data)
#   PG_BIN    bin dir of the private server copy (first on PATH)
#   PG_CONFIG pg_config used for the build
#   MLM_TMP   the temp dir (removed at the end)
#   MLM_PG_OWNER  OS user that owns and runs the cluster (postgres as root)
#   MLM_PG_LOG    server log file
#   REPO      repository root
# and these functions (export -f), usable directly from test/shell/*.sh
# (or `source "$REPO/test/lib.sh"` there to get all of them):
#   as_pg_owner CMD...     run CMD as the cluster's OS owner (pg_ctl, kill)
#   su_psql [ARGS...]      psql -X -q -v ON_ERROR_STOP=1 as superuser
#   mlm_cluster_start      start the cluster again (after a stop or a crash)
#   mlm_cluster_stop [MODE] stop it (fast by default; immediate, smart)
#   mlm_cluster_crash      SIGKILL the postmaster, wait for it and its children
#                          to die (then mlm_cluster_start = crash recovery)
#   mlm_postmaster_pid     print the postmaster pid (from postmaster.pid)
#   mlm_wait_ready [SECS]  wait until the server accepts connections
#   mlm_proc_state PID, mlm_proc_children PID, mlm_wait_dead SECS PID...
#                          /proc helpers (procps may be missing)

MLM_PG_MAJOR=15
MLM_DEFAULT_PG_CONFIG=/usr/lib/postgresql/$MLM_PG_MAJOR/bin/pg_config
MLM_PGXS_MK=/usr/lib/postgresql/$MLM_PG_MAJOR/lib/pgxs/src/makefiles/pgxs.mk
MLM_SERVER_H=/usr/include/postgresql/$MLM_PG_MAJOR/server/postgres.h
MLM_PGTAP_CONTROL=/usr/share/postgresql/$MLM_PG_MAJOR/extension/pgtap.control

: "${REPO:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
export REPO

mlm_say() { printf '%s\n' "$*"; }
mlm_err() { printf '%s\n' "$*" >&2; }
# mlm_die MESSAGE: fatal error.  A script may define mlm_on_die (called with
# the message before exiting) to report it its own way.
mlm_die() {
	printf 'ERROR: %s\n' "$*" >&2
	if declare -F mlm_on_die >/dev/null; then
		mlm_on_die "$*"
	fi
	exit 1
}
mlm_is_root() { [ "$(id -u)" = 0 ]; }

# ---------------------------------------------------------------------------
# Dependencies
# ---------------------------------------------------------------------------

# mlm_require_packages demo|check
# Missing packages are installed with apt-get when running as root; a non-root
# user is told the exact command and the script exits 1.
mlm_require_packages() {
	local what=${1:-demo} missing=()

	[ -x "/usr/lib/postgresql/$MLM_PG_MAJOR/bin/postgres" ] ||
		missing+=("postgresql-$MLM_PG_MAJOR")
	{ [ -f "$MLM_PGXS_MK" ] && [ -f "$MLM_SERVER_H" ]; } || missing+=("postgresql-server-dev-$MLM_PG_MAJOR")
	command -v make >/dev/null 2>&1 || missing+=(make)
	command -v gcc >/dev/null 2>&1 || missing+=(gcc)
	command -v dot >/dev/null 2>&1 || missing+=(graphviz)	# demo pictures, test/shell/genealogy.sh
	if [ "$what" = check ]; then
		[ -f "$MLM_PGTAP_CONTROL" ] || missing+=("postgresql-$MLM_PG_MAJOR-pgtap")
		command -v sqlsmith >/dev/null 2>&1 || missing+=(sqlsmith)
		command -v pg_prove >/dev/null 2>&1 ||
			missing+=(libtap-parser-sourcehandler-pgtap-perl)
		# the libFuzzer phase: clang-14 comes with server-dev, the fuzzer
		# runtime does not
		command -v clang-14 >/dev/null 2>&1 || command -v clang >/dev/null 2>&1 ||
			missing+=(clang-14)
		compgen -G '/usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-*.a' >/dev/null ||
			missing+=(libclang-rt-14-dev)
	fi
	[ ${#missing[@]} -eq 0 ] && return 0

	# de-duplicate, keep order
	local uniq=() p q seen
	for p in "${missing[@]}"; do
		seen=
		for q in "${uniq[@]}"; do [ "$p" = "$q" ] && seen=1; done
		[ -n "$seen" ] || uniq+=("$p")
	done

	if ! mlm_is_root; then
		mlm_err "Missing Debian packages: ${uniq[*]}"
		echo "sudo apt-get install -y ${uniq[*]}"
		exit 1
	fi
	mlm_say "== installing missing packages: ${uniq[*]}"
	apt-get update </dev/null || mlm_die "apt-get update failed"
	DEBIAN_FRONTEND=noninteractive apt-get install -y "${uniq[@]}" </dev/null ||
		mlm_die "apt-get install ${uniq[*]} failed"
}

# Sets and exports PG_CONFIG: the Debian PostgreSQL 15 one, else pg_config
# from PATH when that is version 15.
mlm_find_pg_config() {
	local c
	if [ -x "$MLM_DEFAULT_PG_CONFIG" ]; then
		PG_CONFIG=$MLM_DEFAULT_PG_CONFIG
	elif c=$(command -v pg_config) &&
		"$c" --version 2>/dev/null | grep -q "^PostgreSQL $MLM_PG_MAJOR\."; then
		PG_CONFIG=$c
	else
		mlm_die "no pg_config for PostgreSQL $MLM_PG_MAJOR found"
	fi
	export PG_CONFIG
}

# ---------------------------------------------------------------------------
# Build
# ---------------------------------------------------------------------------

# make with -Werror.  stdin is /dev/null: with no SQL pieces yet the install
# script rule is a bare `cat > file`, which would otherwise wait for input.
mlm_build() {
	mlm_say "== build: make PG_CONFIG=$PG_CONFIG WERROR=1"
	(cd "$REPO" && make -s PG_CONFIG="$PG_CONFIG" WERROR=1 </dev/null)
}

# ---------------------------------------------------------------------------
# Temp dir, cleanup, child processes
# ---------------------------------------------------------------------------

# Pid of a background step started by mlm_run (killed on cleanup).
MLM_CHILD=

# mlm_run SECONDS LOG CMD... : run CMD with a time limit, stdout and stderr
# to the file LOG ("-": leave them alone), and stay interruptible.
# timeout(1) puts CMD in its own process group, so Ctrl-C would not reach it;
# running it in the background and `wait`ing lets the INT/TERM trap fire at
# once, and mlm_cleanup then kills the whole group.  (The redirection is
# applied to the background job only, so that messages of a trap that fires
# during the wait still reach the terminal.)
mlm_run() {
	local secs=$1 log=$2 rc
	shift 2
	if [ "$log" = - ]; then
		timeout -k 10 "$secs" "$@" </dev/null &
	else
		timeout -k 10 "$secs" "$@" </dev/null >"$log" 2>&1 &
	fi
	MLM_CHILD=$!
	wait "$MLM_CHILD"
	rc=$?
	MLM_CHILD=
	return $rc
}

mlm_kill_child() {
	if [ -n "${MLM_CHILD:-}" ]; then
		kill -TERM -- "-$MLM_CHILD" 2>/dev/null || kill -TERM "$MLM_CHILD" 2>/dev/null
		sleep 0.5
		kill -KILL -- "-$MLM_CHILD" 2>/dev/null
		MLM_CHILD=
	fi
}

# Creates MLM_TMP and installs the cleanup trap.  As root the cluster runs as
# `postgres`, which must be able to reach the temp dir, and the socket path
# must stay short (unix socket paths are limited to ~107 bytes).
mlm_make_tmp() {
	local base=${TMPDIR:-/tmp}
	if [ ${#base} -gt 60 ] || [ ! -d "$base" ] || [ ! -w "$base" ]; then
		base=/tmp
	fi
	if mlm_is_root; then
		MLM_PG_OWNER=postgres
		id -u "$MLM_PG_OWNER" >/dev/null 2>&1 ||
			mlm_die "running as root but there is no 'postgres' user to run the server"
		runuser -u "$MLM_PG_OWNER" -- test -x "$base" 2>/dev/null || base=/tmp
	else
		MLM_PG_OWNER=$(id -un)
	fi
	MLM_TMP=$(mktemp -d "$base/mlm.XXXXXXXX") || mlm_die "mktemp failed"
	export MLM_TMP MLM_PG_OWNER
	MLM_CLEANED=
	trap 'mlm_cleanup' EXIT
	trap 'mlm_err "interrupted"; mlm_cleanup; exit 130' INT
	trap 'mlm_err "terminated"; mlm_cleanup; exit 143' TERM
	trap 'mlm_cleanup; exit 129' HUP
}

# Stop the cluster and remove the temp dir; idempotent and quiet on stdout
# (check.sh calls it before its final line).
mlm_cleanup() {
	[ -n "${MLM_CLEANED:-}" ] && return 0
	MLM_CLEANED=1
	set +e		# runs from traps: never stop half-way
	mlm_kill_child
	if [ -n "${PGDATA:-}" ] && [ -n "${MLM_TMP:-}" ] && [ -f "$PGDATA/postmaster.pid" ]; then
		mlm_cluster_stop immediate >/dev/null 2>&1
		mlm_kill_postmaster
	fi
	if [ -n "${MLM_TMP:-}" ] && [ -d "$MLM_TMP" ]; then
		rm -rf -- "$MLM_TMP"
	fi
	return 0
}

# Process state letter of PID from /proc (nothing when it is gone); a dead
# process stays "Z" until its parent - init for a postmaster started by
# pg_ctl - reaps it.  /proc rather than ps: procps is not always installed.
mlm_proc_state() {
	local line
	read -r line 2>/dev/null <"/proc/$1/stat" || return 0
	line=${line##*) }
	printf '%s\n' "${line%% *}"
}

# Pids of the children of PID.
mlm_proc_children() {
	local f line rest
	for f in /proc/[0-9]*/stat; do
		read -r line 2>/dev/null <"$f" || continue
		rest=${line##*) }
		rest=${rest#* }
		[ "${rest%% *}" = "$1" ] && printf '%s\n' "${line%% *}"
	done
	return 0
}

# Wait (up to SECS) until PIDs are gone or zombies.
mlm_wait_dead() {
	local secs=$1 i p alive
	shift
	for ((i = 0; i < secs * 10; i++)); do
		alive=
		for p in "$@"; do
			case $(mlm_proc_state "$p") in
				'' | Z) ;;
				*) alive=1 ;;
			esac
		done
		[ -z "$alive" ] && return 0
		sleep 0.1
	done
	return 1
}

# SIGKILL the postmaster (pid from postmaster.pid) and its children, by pid.
mlm_kill_postmaster() {
	local pid kids
	pid=$(mlm_postmaster_pid 2>/dev/null) || return 0
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
	kids=$(mlm_proc_children "$pid")
	# shellcheck disable=SC2086
	kill -KILL "$pid" $kids 2>/dev/null
	# shellcheck disable=SC2086
	mlm_wait_dead 10 "$pid" $kids
	return 0
}

# ---------------------------------------------------------------------------
# Cluster helpers (work from any process that has the exported env)
# ---------------------------------------------------------------------------

as_pg_owner() {
	if [ "$(id -u)" = 0 ] && [ "${MLM_PG_OWNER:-root}" != root ]; then
		# keep the cwd when the owner can enter it, else use the temp dir
		(
			runuser -u "$MLM_PG_OWNER" -- test -x "$PWD" 2>/dev/null || cd "$MLM_TMP" || cd /
			exec runuser -u "$MLM_PG_OWNER" -- "$@"
		)
	else
		"$@"
	fi
}

su_psql() {
	"$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -U postgres "$@"
}

mlm_postmaster_pid() {
	[ -f "$PGDATA/postmaster.pid" ] || return 1
	head -n 1 "$PGDATA/postmaster.pid"
}

mlm_wait_ready() {
	local secs=${1:-60} i
	for ((i = 0; i < secs * 10; i++)); do
		"$PG_BIN/pg_isready" -q -h "$PGHOST" -p "$PGPORT" -U postgres && return 0
		sleep 0.1
	done
	return 1
}

mlm_cluster_start() {
	local pid i st
	# After a crash the dead postmaster may still be an unreaped zombie for a
	# moment; its pid in postmaster.pid would make the new one refuse to start.
	if pid=$(mlm_postmaster_pid 2>/dev/null) && [ -n "$pid" ]; then
		for ((i = 0; i < 300; i++)); do
			st=$(mlm_proc_state "$pid")
			[ "$st" = Z ] || break
			sleep 0.1
		done
	fi
	if ! as_pg_owner "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$MLM_PG_LOG" -w -t 120 start \
		>"$MLM_TMP/pg_ctl.out" 2>&1; then
		cat "$MLM_TMP/pg_ctl.out" >&2
		mlm_err "could not start the cluster; end of $MLM_PG_LOG:"
		tail -n 30 "$MLM_PG_LOG" >&2
		return 1
	fi
	mlm_wait_ready 60
}

# Simulate a crash: SIGKILL the postmaster only, then wait until it and its
# children (which exit on postmaster death) are gone.  mlm_cluster_start
# afterwards runs crash recovery.
mlm_cluster_crash() {
	local pid kids
	pid=$(mlm_postmaster_pid) || { mlm_err "no postmaster.pid"; return 1; }
	kids=$(mlm_proc_children "$pid")
	kill -KILL "$pid" || return 1
	# shellcheck disable=SC2086
	mlm_wait_dead 30 "$pid" $kids
}

mlm_cluster_stop() {
	local mode=${1:-fast}
	as_pg_owner "$PG_BIN/pg_ctl" -D "$PGDATA" -m "$mode" -w -t 60 stop >/dev/null
}

# ---------------------------------------------------------------------------
# Private server copy + throwaway cluster
# ---------------------------------------------------------------------------

# A free port: nothing listening on TCP or on a socket file of that number.
mlm_pick_port() {
	local port i
	for i in $(seq 1 100); do
		port=$((5433 + RANDOM % 2000))
		if command -v ss >/dev/null 2>&1; then
			ss -Hlntx 2>/dev/null | grep -Eq "(:|\.s\.PGSQL\.)$port([^0-9]|\$)" && continue
		fi
		[ -e "/var/run/postgresql/.s.PGSQL.$port" ] && continue
		[ -e "/tmp/.s.PGSQL.$port" ] && continue
		echo "$port"
		return 0
	done
	return 1
}

# Copies the server tree to $MLM_TMP/inst (same layout under a prefix) and
# installs the extension there with DESTDIR.  PostgreSQL finds its share and
# pkglib dirs relative to the resolved path of its own binary, so the copied
# server sees mlm.control and pgtap.control without touching /usr.
mlm_install_private() {
	local bindir sharedir pkglibdir libroot
	bindir=$("$PG_CONFIG" --bindir)
	sharedir=$("$PG_CONFIG" --sharedir)
	pkglibdir=$("$PG_CONFIG" --pkglibdir)
	libroot=$(dirname "$bindir")			# /usr/lib/postgresql/15
	MLM_INST=$MLM_TMP/inst
	mkdir -p "$MLM_INST$(dirname "$libroot")" "$MLM_INST$(dirname "$sharedir")"
	cp -a "$libroot" "$MLM_INST$libroot" || return 1
	cp -a "$sharedir" "$MLM_INST$sharedir" || return 1
	case $pkglibdir in
		"$libroot"/*) ;;
		*) mkdir -p "$MLM_INST$(dirname "$pkglibdir")" &&
			cp -a "$pkglibdir" "$MLM_INST$pkglibdir" || return 1 ;;
	esac
	PG_BIN=$MLM_INST$bindir
	MLM_EXPECT_SHAREDIR=$MLM_INST$sharedir
	export PG_BIN MLM_INST
	mlm_say "== install: make install DESTDIR=$MLM_INST"
	(cd "$REPO" && make -s install DESTDIR="$MLM_INST" PG_CONFIG="$PG_CONFIG" WERROR=1 </dev/null >/dev/null)
}

# mlm_make_var NAME: value of a variable of the repo's Makefile (REGRESS...).
mlm_make_var() {
	local mk=${MLM_TMP:?}/printvar.mk
	# shellcheck disable=SC2016  # make syntax, not shell
	printf 'print-%%:\n\t@:$(info $($*))\n' >"$mk"
	make -s --no-print-directory -C "$REPO" -f Makefile -f "$mk" \
		PG_CONFIG="$PG_CONFIG" "print-$1" </dev/null
}

# mlm_setup: temp dir, private install, initdb, start, export the env.
mlm_setup() {
	mlm_make_tmp
	mlm_install_private || mlm_die "make install into $MLM_TMP/inst failed"

	PGPORT=$(mlm_pick_port) || mlm_die "no free port found"
	PGHOST=$MLM_TMP/sock
	PGDATA=$MLM_TMP/data
	MLM_PG_LOG=$MLM_TMP/postgres.log
	PGUSER=postgres
	PGDATABASE=postgres
	export PGHOST PGPORT PGDATA PGUSER PGDATABASE MLM_PG_LOG
	unset PGHOSTADDR PGSERVICE PGSERVICEFILE PGOPTIONS PGPASSWORD PGPASSFILE \
		PGSSLMODE PGCONNECT_TIMEOUT PGTARGETSESSIONATTRS PGREQUIRESSL 2>/dev/null
	export PATH="$PG_BIN:$PATH"
	mkdir -p "$PGHOST"
	if mlm_is_root; then
		chown -R "$MLM_PG_OWNER": "$MLM_TMP" || mlm_die "chown $MLM_TMP failed"
	fi

	mlm_say "== cluster: initdb in $PGDATA (port $PGPORT, socket dir $PGHOST)"
	as_pg_owner "$PG_BIN/initdb" -D "$PGDATA" -U postgres --auth=trust \
		--encoding=UTF8 --locale=C --no-sync >"$MLM_TMP/initdb.log" 2>&1 ||
		{ cat "$MLM_TMP/initdb.log" >&2; mlm_die "initdb failed"; }
	cat >>"$PGDATA/postgresql.conf" <<-EOF

		# --- throwaway test cluster (test/lib.sh) ---
		port = $PGPORT
		listen_addresses = ''
		unix_socket_directories = '$PGHOST'
		# fsync only: a killed server must still find every commit in the
		# WAL (crash-recovery tests), which synchronous_commit = off breaks
		fsync = off
		max_prepared_transactions = 10
		lc_messages = 'C'
		log_min_messages = warning
		log_line_prefix = '%m [%p] '
	EOF
	mlm_cluster_start || mlm_die "the cluster did not start"

	mlm_check_private_install
	export -f as_pg_owner su_psql mlm_cluster_start mlm_cluster_stop \
		mlm_cluster_crash mlm_postmaster_pid mlm_wait_ready mlm_err \
		mlm_proc_state mlm_proc_children mlm_wait_dead
}

# The copied server must read its own share dir; otherwise fall back to a
# system-wide `make install` (root only).
mlm_check_private_install() {
	local got want
	got=$(su_psql -d postgres -At -c "SELECT setting FROM pg_config WHERE name = 'SHAREDIR'") ||
		mlm_die "cannot query the cluster"
	want=$(cd "$MLM_EXPECT_SHAREDIR" && pwd -P)
	if [ "$got" = "$want" ] || [ "$got" = "$MLM_EXPECT_SHAREDIR" ]; then
		return 0
	fi
	# Only reached if PostgreSQL ever stops resolving its directories relative
	# to the binary: then the only way to make the extension visible is to
	# install it where the server looks.
	mlm_err "WARNING: the server copy uses SHAREDIR=$got, not $want"
	if mlm_is_root; then
		mlm_err "WARNING: falling back to a system-wide make install"
		(cd "$REPO" && make -s install PG_CONFIG="$PG_CONFIG" </dev/null >/dev/null) ||
			mlm_die "make install failed"
	else
		mlm_die "cannot install the extension privately and not root"
	fi
}
