#!/usr/bin/env bash
# serve_e2e.sh: the end-to-end tests of `ftune serve`: the real binary on a temporary data
# directory, driven by the official openai Python SDK (tests/e2e/test_workflow.py, test_errors.py,
# test_restart.py, test_adapters.py: --adapter models, test_aliases.py: model aliases, the job method
# object and continued training; test_batching.py: the chat scheduler; test_structured.py:
# response_format by constrained decoding; test_tools.py: tool calling on Qwen2.5-Coder-0.5B;
# test_tools_llama.py: tool calling with Llama 3.1's template on a tiny random Llama model;
# test_disk_full.py: a tmpfs filled while a job trains, skipped without root; test_data_dir.py: start-up checks of the data directory, paths
# relative to it; test_limits.py: queued jobs and request rate; test_projects.py: projects, API keys
# and the access log; test_responses.py: the Responses API; test_dpo.py: DPO jobs on preference
# data; test_embeddings.py: /v1/embeddings on all-MiniLM-L6-v2 against sentence-transformers'
# vectors, float and base64, token inputs, OpenAI's errors; test_vector_stores.py: vector stores,
# their files and hybrid search;
# test_faults.py: a sample of the fault-injection sweep, 3 failure points of each kind;
# test_kill9.py: 4 kill -9 while jobs train; make test-slow runs the whole sweep and 50 kills;
# test_pull.py: `ftune pull` against a local Hub-shaped server, a running server listing the result;
# test_console.py: the web console in headless Chromium, screenshots in build/console-screenshots/;
# test_console_evals.py: the console's Evaluations pages (Evals API runs started, watched,
# filtered, cancelled in the browser);
# test_evals.py: the Evals API and the graders endpoints; test_postgres.py: a server on PostgreSQL
# (--database), a job trained and its records kept across a restart; test_workers.py: two API nodes
# (--no-worker) and two `ftune worker`s on one PostgreSQL, a kill -9 of a worker taken over from its
# checkpoint, a cancel through another node; test_model_export.py: the
# adapter download, GET /v1/models/{model}/export)
# and by raw HTTP (test_bad_input.py). Each script starts its own server, runs
# its tests in order and stops at the first failure; this fails when any of them fails.
# FTUNE_E2E_KEEP=1 keeps the temporary directories (data and server logs) for a look afterwards.
set -uo pipefail
cd "$(dirname "$0")/../.."
fail() { echo "FAIL: $*"; exit 1; }
BIN=${FTUNE_BIN:-build/ftune}   # FTUNE_BIN: another build of the binary (e.g. with sanitizers)
[ -x "$BIN" ] || fail "$BIN is missing (make first)"
"$BIN" serve --help >/dev/null 2>&1 || fail "ftune serve --help does not exit 0"
python3 -c "import openai" 2>/dev/null || fail "the openai Python package is missing (scripts/setup.sh installs it)"
status=0
# A script's wall-clock limit, against a hang: test_batching serves 32 requests one at a time and
# then together several times over (about 5 minutes on 2 cores at bf16, where a lone sequence
# decodes slower than at fp32); the former 300 s cut a CI run short after 6 of its 8 tests had passed.
SCRIPT_TIMEOUT_S=600
SCRIPTS="test_workflow test_errors test_bad_input test_restart test_adapters test_aliases test_batching test_structured test_tools test_tools_llama test_disk_full test_data_dir test_limits test_projects test_responses test_dpo test_embeddings test_vector_stores test_faults test_kill9 test_pull test_console test_console_evals test_evals test_postgres test_workers test_model_export"
for t in ${FTUNE_E2E_SCRIPTS:-$SCRIPTS}; do   # FTUNE_E2E_SCRIPTS: only these (e.g. make tsan's)
    start=$(date +%s)
    if out=$(timeout "$SCRIPT_TIMEOUT_S" python3 "tests/e2e/$t.py" 2>&1); then
        echo "ok   e2e/$t ($(( $(date +%s) - start )) s)"
    else
        echo "FAIL e2e/$t ($(( $(date +%s) - start )) s)"
        echo "$out" | tail -n 60 | sed 's/^/    /'
        status=1
    fi
done
[ "$status" -eq 0 ] && echo ok
exit "$status"
