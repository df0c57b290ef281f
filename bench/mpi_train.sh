#!/usr/bin/env bash
# mpi_train.sh: data-parallel training speed, 1 process against 2 MPI ranks on this machine, same
# model, data, batch and total thread count (2 ranks get half the threads each, unbound), alternated
# twice so both see the same machine conditions. Prints each run's tokens/s (all tokens processed,
# from the last progress line) and, for 2 ranks, the gradient bytes per step, the allreduce time per
# step and the time waiting for the slower rank before it (ftune's own summary line). On one machine
# the ranks share its cores, so this measures the overhead of splitting, not a speed-up; the time
# per step across machines is about compute/N + the allreduce time.
# Usage: bash bench/mpi_train.sh [THREADS] [EXAMPLES] [MODEL]   (defaults: all cores, 64 examples of
# support-triage at batch 8 = 8 steps, SmolLM2-135M-Instruct Q4_1); PRECISION=fp32|bf16|auto.
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${1:-$(nproc)}
EXAMPLES=${2:-64}
MODEL=${3:-models/SmolLM2-135M-Instruct.Q4_1.gguf}
DATA=${FTUNE_DATA:-../shared/data/support-triage/train.jsonl}
[ -f "$DATA" ] || DATA=/work/shared/data/support-triage/train.jsonl
command -v mpirun >/dev/null || { echo "mpirun is missing (apt-get install openmpi-bin libopenmpi-dev)"; exit 1; }
make --no-print-directory build/ftune >/dev/null
ldd build/ftune | grep libmpi >/dev/null || { echo "build/ftune was built without MPI"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
head -n "$EXAMPLES" "$DATA" >"$tmp/train.jsonl"
ARGS=(--model "$MODEL" --train "$tmp/train.jsonl" --epochs 1 --batch-size 8 --seed 1 --precision "${PRECISION:-auto}")
half=$(( THREADS / 2 > 0 ? THREADS / 2 : 1 ))
echo "# $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(date -u +%F); $MODEL, $EXAMPLES examples, batch 8"
for round in 1 2; do
    ./build/ftune train "${ARGS[@]}" --threads "$THREADS" --out "$tmp/one" >"$tmp/one.log" 2>&1
    echo "1 rank,  $THREADS threads: $(grep -o '[0-9]* tok/s' "$tmp/one.log" | tail -1)"
    mpirun -n 2 --oversubscribe --allow-run-as-root --bind-to none \
        ./build/ftune train "${ARGS[@]}" --threads "$half" --out "$tmp/two" >"$tmp/two.log" 2>&1
    echo "2 ranks, $half threads each: $(grep -o '[0-9]* tok/s' "$tmp/two.log" | tail -1)"
    grep '^data parallel' "$tmp/two.log"
done
