#!/usr/bin/env bash
# tsan.sh: the server's tests against the ThreadSanitizer build (make tsan builds build/tsan/):
# the unit tests of the store (concurrent connections and opens), keys and uploads, then e2e
# scripts through the real server (HTTP threads, the job worker's validator and trainer, the
# inference thread, the embedding thread, kill -9 and restarts): FTUNE_TSAN_SCRIPTS, default
# test_workflow test_errors test_projects test_limits test_embeddings test_vector_stores test_kill9
# (test_restart passes too but takes 5 minutes under TSan).
# Everything runs on one CPU (taskset): OpenMP teams then have one
# thread, because libgomp is not built with TSan and its barriers are invisible to it (a parallel
# loop would be reported as a race); tests/tsan.supp lists only such uninstrumented libraries.
# Fails when TSan reported anything (its reports are printed) or a test failed.
set -uo pipefail
cd "$(dirname "$0")/.."
[ -x build/tsan/ftune ] && [ -x build/tsan/unit_tests ] || { echo "FAIL: build/tsan is missing (make tsan)"; exit 1; }
logs=$(mktemp -d /tmp/ftune-tsan-XXXXXX)
export TSAN_OPTIONS="suppressions=$PWD/tests/tsan.supp log_path=$logs/tsan second_deadlock_stack=1"
pin="taskset -c 0"
status=0
start=$(date +%s)
for filter in store_ auth_ rate_limiter multipart; do
    if out=$($pin build/tsan/unit_tests "$filter" 2>&1); then
        echo "ok   tsan unit_tests $filter: $(echo "$out" | tail -n 1)"
    else
        echo "FAIL tsan unit_tests $filter"; echo "$out" | tail -n 30; status=1
    fi
done
FTUNE_BIN=build/tsan/ftune FTUNE_E2E_SCRIPTS="${FTUNE_TSAN_SCRIPTS:-test_workflow test_errors test_projects test_limits test_embeddings test_vector_stores test_kill9}" \
    $pin bash tests/cli/serve_e2e.sh || status=1
reports=$(ls "$logs" 2>/dev/null | wc -l)
if [ "$reports" -gt 0 ]; then
    echo "FAIL: ThreadSanitizer wrote $reports report file(s):"
    cat "$logs"/* | head -n 400
    status=1
fi
echo "tsan: $(( $(date +%s) - start )) s, $reports report file(s)"
[ "$status" -eq 0 ] && rm -rf "$logs"
exit "$status"
