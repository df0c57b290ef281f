#!/usr/bin/env bash
# serve_load.sh: load benchmark of `ftune serve` on a classifier's traffic (issue 13): builds,
# writes 3 random rank-8 PEFT adapters on every projection (scripts/write_peft_adapter.py: the
# shape of an adapter ftune trains with its defaults; their B is small, so they answer about as
# the base model does), starts the server on a temporary data directory with --models models and
# the adapters as --adapter triage-1..3, warms every model up, and runs bench/serve_load.py: short
# triage requests (support-triage's system message + one ticket, max_tokens 4, greedy) from 1, 4,
# 16, 32, 64 keep-alive clients on the base model, 32 clients spread over the base model and the 3
# adapters, and decode tokens/s for 1..32 concurrent 64-token generations. Prints the Markdown
# tables for bench/RESULTS.md (CPU model and date included) and stops the server. About 4 minutes.
# Usage: bash bench/serve_load.sh [MODEL_ID] [SECONDS] [CLIENTS] [serve_load.py options...]
#        MODEL_ID default SmolLM2-135M-Instruct.Q4_1 (models/MODEL_ID.gguf or the folder models/MODEL_ID);
#        SECONDS per triage point (default 15); CLIENTS the triage client counts (default 1,4,16,32,64);
#        e.g. `bash bench/serve_load.sh SmolLM2-135M-Instruct.Q4_1 20 32 --scenario triage,models`.
#        FTUNE_BIN=path runs that binary instead of building build/ftune; FTUNE_SHARED (default
#        ../shared) is where data/support-triage/validation.jsonl is read from.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-SmolLM2-135M-Instruct.Q4_1}
SECONDS_PER=${2:-15}
CLIENTS=${3:-1,4,16,32,64}
shift $(( $# < 3 ? $# : 3 ))
N_ADAPTERS=${N_ADAPTERS:-3}   # N_ADAPTERS=0: no --adapter models (a binary from before the flag)
TRIAGE=${FTUNE_SHARED:-../shared}/data/support-triage/validation.jsonl
MORE=${FTUNE_SHARED:-../shared}/data/banking77-intents   # more tickets: no prompt repeats within a run
[ -f "$TRIAGE" ] || { echo "serve_load: $TRIAGE is missing (set FTUNE_SHARED)"; exit 1; }
if [ -f "models/$MODEL.gguf" ]; then MODEL_PATH=models/$MODEL.gguf
elif [ -d "models/$MODEL" ]; then MODEL_PATH=models/$MODEL
else echo "serve_load: no models/$MODEL.gguf or models/$MODEL/"; exit 1; fi
if [ -n "${FTUNE_BIN:-}" ]; then BIN=$FTUNE_BIN   # an already built binary: no make
else make --no-print-directory build/ftune >/dev/null; BIN=build/ftune; fi
tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }; rm -rf "$tmp"; }
trap cleanup EXIT
adapter_flags=() adapter_ids=
for i in $(seq 1 "$N_ADAPTERS"); do
    FTUNE_BIN=$BIN python3 scripts/write_peft_adapter.py --model "$MODEL_PATH" --out "$tmp/adapter-$i" --seed "$i"
    adapter_flags+=(--adapter "triage-$i=$tmp/adapter-$i@$MODEL")
    adapter_ids+=${adapter_ids:+,}triage-$i
done
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN" serve --port "$port" --data "$tmp/data" --models models "${adapter_flags[@]}" 2>"$tmp/serve.log" &
pid=$!
for _ in $(seq 1 300); do
    curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || { echo "ftune serve exited:"; cat "$tmp/serve.log"; exit 1; }
    sleep 0.1
done
curl -fsS "http://127.0.0.1:$port/health" >/dev/null || { echo "no /health after 30 s"; tail "$tmp/serve.log"; exit 1; }
echo "# ftune serve load: model $MODEL, triage clients $CLIENTS, ${SECONDS_PER} s per point; $(date -u +%F)"
# one chat per model first, so that loading the model and the adapters is not timed
for m in "$MODEL" ${adapter_ids//,/ }; do
    curl -fsS "http://127.0.0.1:$port/v1/chat/completions" -H 'Content-Type: application/json' \
        -d "{\"model\": \"$m\", \"max_tokens\": 1, \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}" >/dev/null ||
        { echo "serve_load: the warm-up chat on $m failed:"; tail "$tmp/serve.log"; exit 1; }
done
python3 bench/serve_load.py --port "$port" --pid "$pid" --model "$MODEL" --duration "$SECONDS_PER" \
    --clients "$CLIENTS" --adapters "$adapter_ids" --triage-file "$TRIAGE" \
    --more-tickets "$MORE/train.jsonl,$MORE/validation.jsonl" "$@"
