#!/usr/bin/env bash
# support_triage.sh: the real outcome of LoRA fine-tuning (issue 4): fine-tune
# SmolLM2-135M-Instruct on ../shared/data/support-triage/train.jsonl with default settings, then
# measure exact label match on validation.jsonl for the fine-tuned model and for the base model,
# prompted with the same short system message and with the bloated baseline prompt.
# Usage: bash bench/support_triage.sh [OUT_DIR]   (about 10 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${FTUNE_SHARED:-../shared}/data/support-triage
MODEL=models/SmolLM2-135M-Instruct.Q4_1.gguf
OUT=${1:-/tmp/ftune-support-triage}
make --no-print-directory all build/bench_label_accuracy >/dev/null
bash scripts/fetch_models.sh
rm -rf "$OUT"
echo "# $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(date -u +%F)"
start=$(date +%s)
./build/ftune train --model "$MODEL" --train "$DATA/train.jsonl" --validation "$DATA/validation.jsonl" --out "$OUT"
echo "{\"training_seconds\": $(( $(date +%s) - start ))}"
./build/bench_label_accuracy "$MODEL" "$DATA/validation.jsonl" --adapter "$OUT"
./build/bench_label_accuracy "$MODEL" "$DATA/validation.jsonl"
./build/bench_label_accuracy "$MODEL" "$DATA/validation.jsonl" --system-file "$DATA/baseline_system_prompt.txt"
