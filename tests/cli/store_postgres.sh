#!/usr/bin/env bash
# store_postgres.sh: every store unit test (`unit_tests store`, and the auth test on the store)
# again on PostgreSQL: a throwaway cluster (tests/pg_cluster.sh), FTUNE_TEST_DATABASE pointing the
# tests at it (tests/test_database.h: one schema per test data directory), stopped afterwards. Skips
# with a message only where the PostgreSQL server binaries are absent (scripts/setup.sh installs them).
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/pg_cluster.sh
[ -x build/unit_tests ] || { echo "FAIL: build/unit_tests is missing (make build/unit_tests)"; exit 1; }
if [ -z "$(pg_cluster_bindir)" ]; then
    echo "skipped: no PostgreSQL server binaries (initdb, pg_ctl): scripts/setup.sh installs the postgresql package"
    exit 0
fi
trap pg_cluster_stop EXIT
pg_cluster_start || { echo "FAIL: cannot start a PostgreSQL cluster"; exit 1; }
status=0
for filter in store auth_; do
    out=$(FTUNE_TEST_DATABASE="$FTUNE_PG_URL" ./build/unit_tests "$filter" 2>&1)
    echo "$out" | grep -E '^(FAIL|skip)|passed,' | sed "s/^/$filter: /"
    echo "$out" | grep -qE '^[0-9]+ passed, 0 failed' || { echo "$out" | tail -n 40; status=1; }
done
exit $status
