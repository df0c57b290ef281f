#!/usr/bin/env bash
# qwen05b.sh: the bigger model, Qwen2.5-Coder-0.5B-Instruct Q4_K_M, beside llama.cpp (load, prefill
# 512 tokens, decode 128, peak RSS: same GGUF, same threads) and beside PyTorch (LoRA training,
# rank 8 on all projections, batch 8 x 128, fp32, 2 timed steps each), alternating the engines.
# Usage: bash bench/qwen05b.sh [THREADS]   (needs scripts/setup_reference.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${1:-2}
MODEL=models/Qwen2.5-Coder-0.5B-Instruct.Q4_K_M.gguf
make --no-print-directory build/bench_infer build/bench_train >/dev/null
bash scripts/fetch_models.sh
echo "# $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(date -u +%F)"
for round in 1 2; do
    ./build/bench_infer "$MODEL" "$THREADS" 512 128
    python3 bench/llama_cpp_bench.py "$MODEL" "$THREADS" 512 128
done
FTUNE_BENCH_STEPS=2 ./build/bench_train "$MODEL" "$THREADS"
FTUNE_BENCH_STEPS=2 /usr/bin/python3 bench/torch_train_bench.py "$THREADS" "$MODEL"
