#!/usr/bin/env bash
# run.sh: inference benchmark, ftune beside llama.cpp on the same GGUF file and thread count,
# alternating the engines so that all see the same machine conditions: ftune at fp32 and, where
# the CPU and build have a bf16 path, at bf16 (prefill through oneDNN; decoding reads the stored
# weights either way).
# Usage: bash bench/run.sh [MODEL] [THREADS]   (needs scripts/setup_reference.sh for llama.cpp)
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-models/SmolLM2-135M-Instruct.Q4_1.gguf}
THREADS=${2:-2}
make --no-print-directory build/bench_infer >/dev/null
echo "# $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(date -u +%F)"
for round in 1 2; do
    ./build/bench_infer "$MODEL" "$THREADS" 512 128 fp32
    ./build/bench_infer "$MODEL" "$THREADS" 512 128 bf16 || echo "# no bf16 path here" >&2
    if python3 -c "import llama_cpp" 2>/dev/null; then
        python3 bench/llama_cpp_bench.py "$MODEL" "$THREADS" 512 128
    else
        echo "# llama-cpp-python is not installed: run scripts/setup_reference.sh" >&2
    fi
done
