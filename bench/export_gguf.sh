#!/usr/bin/env bash
# export_gguf.sh: time of `ftune export` to GGUF for one model: the merged model in each type
# (dequantize, merge the adapter, quantize: F16, Q8_0, Q4_0, Q4_K) and the adapter alone, with an
# adapter of rank 8 on all seven projections trained for one step (its values do not change the
# time), each export run twice and the faster kept, and the file size.
# Usage: bash bench/export_gguf.sh [MODEL.gguf] [THREADS]   (default SmolLM2-135M-Instruct Q4_1, 2)
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-models/SmolLM2-135M-Instruct.Q4_1.gguf}
export OMP_NUM_THREADS=${2:-2}
make --no-print-directory build/ftune >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for i in $(seq 1 10); do
    printf '{"messages": [{"role": "user", "content": "Item %d?"}, {"role": "assistant", "content": "Item %d is blue."}]}\n' $i $i
done >"$work/train.jsonl"
build/ftune train --model "$MODEL" --train "$work/train.jsonl" --epochs 1 --batch-size 16 --rank 8 \
    --out "$work/run" >/dev/null 2>&1
echo "# $(lscpu | sed -n 's/^Model name: *//p'), $OMP_NUM_THREADS threads; $(date -u +%F); $MODEL"
best() { # the faster of two runs of "$@", in seconds
    local b=""
    for _ in 1 2; do
        local s=$(date +%s.%N)
        "$@" >/dev/null 2>&1
        local t=$(echo "$(date +%s.%N) - $s" | bc)
        if [ -z "$b" ] || [ "$(echo "$t < $b" | bc)" = 1 ]; then b=$t; fi
    done
    printf '%.2f' "$b"
}
printf '%-10s %8s %10s\n' export seconds MiB
t=$(best build/ftune export --model "$MODEL" --adapter "$work/run" --format gguf --out "$work/adapter.gguf")
printf '%-10s %8s %10.1f\n' adapter "$t" "$(echo "$(stat -c %s "$work/adapter.gguf") / 1048576" | bc -l)"
for type in f16 q8_0 q4_0 q4_k; do
    t=$(best build/ftune export --model "$MODEL" --adapter "$work/run" --merge --format gguf --type $type \
        --no-modelfile --out "$work/m.gguf")
    printf '%-10s %8s %10.1f\n' "$type" "$t" "$(echo "$(stat -c %s "$work/m.gguf") / 1048576" | bc -l)"
done
