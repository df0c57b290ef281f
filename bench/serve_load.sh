#!/usr/bin/env bash
# serve_load.sh: load benchmark of `ftune serve`: builds, starts the server on a temporary data
# directory with --models models, runs bench/serve_load.py (32 keep-alive clients: GET /v1/models,
# then 8-token greedy chat completions on a base model), prints the Markdown rows for
# bench/RESULTS.md and stops the server.
# Usage: bash bench/serve_load.sh [MODEL_ID] [SECONDS] [CLIENTS]
#        (MODEL_ID default SmolLM2-135M-Instruct.Q4_1, i.e. models/SmolLM2-135M-Instruct.Q4_1.gguf;
#        FTUNE_BIN=path runs that binary instead of building build/ftune)
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-SmolLM2-135M-Instruct.Q4_1}
SECONDS_PER=${2:-20}
CLIENTS=${3:-32}
if [ -n "${FTUNE_BIN:-}" ]; then BIN=$FTUNE_BIN   # an already built binary: no make
else make --no-print-directory build/ftune >/dev/null; BIN=build/ftune; fi
tmp=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN" serve --port "$port" --data "$tmp/data" --models models 2>"$tmp/serve.log" &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
for _ in $(seq 1 300); do
    curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || { echo "ftune serve exited:"; cat "$tmp/serve.log"; exit 1; }
    sleep 0.1
done
curl -fsS "http://127.0.0.1:$port/health" >/dev/null || { echo "no /health after 30 s"; tail "$tmp/serve.log"; exit 1; }
echo "# ftune serve load: $CLIENTS clients, ${SECONDS_PER} s per scenario, model $MODEL; $(date -u +%F)"
# one warm-up chat so that loading the model is not timed
curl -fsS "http://127.0.0.1:$port/v1/chat/completions" -H 'Content-Type: application/json' \
    -d "{\"model\": \"$MODEL\", \"max_tokens\": 1, \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}" >/dev/null ||
    echo "warning: the warm-up chat failed (is models/$MODEL.gguf there?)"
python3 bench/serve_load.py --port "$port" --pid "$pid" --clients "$CLIENTS" --duration "$SECONDS_PER" --model "$MODEL"
