#!/usr/bin/env bash
# queue.sh: the job queue under many workers (bench_queue.c): N trivial jobs claimed and finished by
# 1, 2, 4 and 8 worker threads, each on its own connection, on a throwaway PostgreSQL cluster
# (tests/pg_cluster.sh: unix socket, fsync off as in the tests; so the figures are the queue's
# locking and round trips, not the disk's) and, for comparison, on SQLite (WAL, synchronous=FULL, a
# fresh data directory under /tmp). Every run checks that no job was claimed twice or never.
# Usage: bash bench/queue.sh [N_JOBS]   (default 10000)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000}
make --no-print-directory build/bench_queue >/dev/null
. tests/pg_cluster.sh
[ -n "$(pg_cluster_bindir)" ] || { echo "no PostgreSQL server binaries: scripts/setup.sh installs them"; exit 1; }
trap pg_cluster_stop EXIT
echo "# $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(date -u +%F); PostgreSQL $("$(pg_cluster_bindir)/postgres" --version | awk '{print $3}')"
pg_cluster_start
for w in 1 2 4 8; do
    pg_cluster_as "$PG_BIN/dropdb" -h "$PG_DIR" -U postgres --if-exists ftune_test
    pg_cluster_as "$PG_BIN/createdb" -h "$PG_DIR" -U postgres ftune_test
    ./build/bench_queue "$N" "$w" "$FTUNE_PG_URL"
done
for w in 1 8; do ./build/bench_queue "$N" "$w"; done
