# pg_cluster.sh: a throwaway PostgreSQL cluster for the tests that need one. Sourced
# (tests/cli/store_postgres.sh) or run (tests/e2e/test_postgres.py: `bash tests/pg_cluster.sh start`
# prints the URI and the directory on two lines; `... stop DIR` stops it). pg_cluster_start makes a throwaway cluster in a
# temporary directory (initdb, trust authentication, no TCP: a unix socket in that directory),
# starts it (pg_ctl -w), creates database ftune_test and exports FTUNE_PG_URL
# (postgresql:///ftune_test?host=DIR&user=postgres); pg_cluster_stop stops it and removes the
# directory. PostgreSQL refuses to run as root: as root the cluster is run by the postgres user
# (runuser), its directory owned by it. pg_cluster_bindir prints the server's bin directory, or
# nothing when PostgreSQL is not installed (scripts/setup.sh installs it).
pg_cluster_bindir() {
    local d
    for d in "$(pg_config --bindir 2>/dev/null)" $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ] && { echo "$d"; return; }
    done
}

pg_cluster_as() { # runs "$@" as the cluster's owner
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_cluster_start() {
    PG_BIN=$(pg_cluster_bindir)
    [ -n "$PG_BIN" ] || return 2
    PG_DIR=$(mktemp -d /tmp/ftune_pg_XXXXXX)
    [ "$(id -u)" = 0 ] && chown postgres: "$PG_DIR"
    pg_cluster_as "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 --locale=C >"$PG_DIR/initdb.log" 2>&1 ||
        { cat "$PG_DIR/initdb.log"; return 1; }
    pg_cluster_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
        -o "-c listen_addresses='' -c unix_socket_directories='$PG_DIR' -c fsync=off" start >/dev/null ||
        { cat "$PG_DIR/server.log"; return 1; }
    pg_cluster_as "$PG_BIN/createdb" -h "$PG_DIR" -U postgres ftune_test || return 1
    export FTUNE_PG_URL="postgresql:///ftune_test?host=$PG_DIR&user=postgres"
}

pg_cluster_stop() {
    [ -n "${PG_DIR:-}" ] || return 0
    pg_cluster_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1
    rm -rf "$PG_DIR"
    PG_DIR=
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    case "${1:-}" in
    start) pg_cluster_start && printf '%s\n%s\n' "$FTUNE_PG_URL" "$PG_DIR" ;;
    stop) PG_BIN=$(pg_cluster_bindir) PG_DIR=${2:?the cluster directory} pg_cluster_stop ;;
    bindir) pg_cluster_bindir ;;
    *) echo "usage: bash tests/pg_cluster.sh start | stop DIR | bindir" >&2; exit 2 ;;
    esac
fi
