#!/usr/bin/env bash
# train_speed.sh: LoRA training speed, ftune beside PyTorch (same model, rank 8 on all seven
# projections, batch 8 x 128 tokens, one AdamW step per batch, same thread count), alternating the
# engines so that all see the same machine conditions: ftune at fp32 and bf16 (where the CPU and
# build have a bf16 path), PyTorch at fp32 and under bf16 autocast.
# Usage: bash bench/train_speed.sh [THREADS]   (PyTorch: Debian's python3-torch, see
# scripts/setup_reference.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${1:-2}
MODEL=models/SmolLM2-135M-Instruct.Q4_1.gguf
make --no-print-directory build/bench_train >/dev/null
bash scripts/fetch_models.sh
echo "# $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(date -u +%F)"
for round in 1 2; do
    ./build/bench_train "$MODEL" "$THREADS" 1024 fp32
    ./build/bench_train "$MODEL" "$THREADS" 1024 bf16 || echo "# no bf16 path here" >&2
    /usr/bin/python3 bench/torch_train_bench.py "$THREADS" "" fp32
    if grep -qwE "avx512_bf16|amx_bf16" /proc/cpuinfo || [ "${FTUNE_BENCH_TORCH_BF16:-0}" = 1 ]; then
        /usr/bin/python3 bench/torch_train_bench.py "$THREADS" "" bf16
    else # emulated there: one step took 252 s on an AMD EPYC (Zen 3), against 6 s at fp32
        echo "# PyTorch bf16 autocast skipped: this CPU has neither AVX512-BF16 nor AMX (FTUNE_BENCH_TORCH_BF16=1 runs it)"
    fi
done
