#!/usr/bin/env bash
# run.sh: inference benchmark, ftune beside llama.cpp on the same GGUF file and thread count,
# alternating the two engines so that both see the same machine conditions.
# Usage: bash bench/run.sh [MODEL] [THREADS]   (needs scripts/setup_reference.sh for llama.cpp)
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-models/SmolLM2-135M-Instruct.Q4_1.gguf}
THREADS=${2:-2}
make --no-print-directory build/bench_infer >/dev/null
echo "# $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(date -u +%F)"
for round in 1 2; do
    ./build/bench_infer "$MODEL" "$THREADS" 512 128
    if python3 -c "import llama_cpp" 2>/dev/null; then
        python3 bench/llama_cpp_bench.py "$MODEL" "$THREADS" 512 128
    else
        echo "# llama-cpp-python is not installed: run scripts/setup_reference.sh" >&2
    fi
done
