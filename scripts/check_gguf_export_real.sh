#!/usr/bin/env bash
# check_gguf_export_real.sh: the GGUF export check of tests/cli/export_gguf.sh on a real chat model
# (default SmolLM2-135M-Instruct Q4_1, ChatML template, Llama architecture, tied embeddings): trains
# a LoRA adapter for a few steps at a high learning rate, then runs tests/gguf_export_check.py with
# every merged type (F16, Q8_0, Q4_0, Q4_K) and four prompts, two of them unlike the training data.
# Greedy text must agree between llama.cpp and ftune for the adapter GGUF, F16 and Q8_0; Q4_0 and
# Q4_K mismatches are printed (llama.cpp rounds activations to 8 bits for their products, ftune
# keeps them in fp32). About 4 minutes on 2 cores; not part of make test.
#
# Needs: build/ftune (make), the model (bash scripts/fetch_models.sh), python3 with gguf, numpy,
# jinja2 and llama-cpp-python (scripts/setup.sh, scripts/setup_reference.sh).
# Usage: bash scripts/check_gguf_export_real.sh [MODEL.gguf]
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-models/SmolLM2-135M-Instruct.Q4_1.gguf}
[ -x build/ftune ] || { echo "check_gguf_export_real: build/ftune missing: run make first" >&2; exit 2; }
[ -f "$MODEL" ] || { echo "check_gguf_export_real: $MODEL missing: run bash scripts/fetch_models.sh" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for i in $(seq 1 12); do
    printf '{"messages": [{"role": "user", "content": "Tell me about toy %d."}, {"role": "assistant", "content": "Toy %d is a red ball."}]}\n' $i $i
done >"$work/train.jsonl"
printf 'Tell me about toy 3.\nTell me about toy 7.\nWhat is the capital of France?\nWrite a haiku about the sea.\n' \
    >"$work/prompts.txt"
build/ftune train --model "$MODEL" --train "$work/train.jsonl" --epochs 2 --batch-size 4 --rank 8 --seed 3 \
    --lr-multiplier 5 --out "$work/run" >"$work/train.log" 2>&1 || { cat "$work/train.log"; exit 1; }
python3 tests/gguf_export_check.py build/ftune "$MODEL" "$work/run" "$work" --types f16,q8_0,q4_0,q4_k \
    --report-only q4_0,q4_k --prompts-file "$work/prompts.txt"
