#!/usr/bin/env bash
# train_speed_ab.sh: two builds of bench_train side by side, alternating runs so that both see the
# same machine conditions (e.g. a baseline built from another commit against this tree's build).
# Prints one line per run: which, wall-clock tokens/s (best step), CPU seconds per step. On a
# machine other work loads, compare the CPU seconds of 1-thread runs: wall time swings with the
# load, CPU time far less.
# Usage: bash bench/train_speed_ab.sh BASE_BENCH_TRAIN NEW_BENCH_TRAIN [THREADS] [ROUNDS] [PRECISION]
# e.g.   git worktree add /tmp/base f8cecb5 && make -C /tmp/base build/bench_train
#        bash bench/train_speed_ab.sh /tmp/base/build/bench_train build/bench_train 2 3 bf16
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=$1 NEW=$2 THREADS=${3:-2} ROUNDS=${4:-3} PREC=${5:-bf16}
MODEL=models/SmolLM2-135M-Instruct.Q4_1.gguf
field() { sed -n "s/.*\"$1\": \([0-9.]*\).*/\1/p"; }
for round in $(seq "$ROUNDS"); do
    for which in base new; do
        bin=$BASE; [ "$which" = new ] && bin=$NEW
        out=$("$bin" "$MODEL" "$THREADS" 1024 "$PREC")
        echo "round $round $which: $(echo "$out" | field tokens_per_s) tok/s, cpu $(echo "$out" | field cpu_s_per_step) s/step"
    done
done
