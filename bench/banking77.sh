#!/usr/bin/env bash
# banking77.sh: the second, harder evaluation of issue 15: the five alternatives of `make demo`
# on the 77-intent data in ../shared/data/banking77-intents (9,618 training examples, 385 held
# out), with SmolLM2-135M-Instruct, every model run locally by `ftune eval` and `ftune train`:
#   base + long prompt            the base model with baseline_system_prompt.txt (all 77 labels)
#   + structured output           the same, its reply constrained to the training file's labels
#   base + retrieved few-shot     the base model with the K most similar training examples first
#   fine-tuned                    a LoRA adapter trained on train.jsonl (EPOCHS epochs)
#   fine-tuned + retrieval        an adapter trained on `ftune dataset add-context` output, then
#                                 evaluated with the same retrieval
# ftune eval prints the comparison (accuracy with its 95% interval, prompt tokens, latency) and
# writes report.json / report.html; this script adds the wall time of every stage.
# Usage: [EPOCHS=1] [THREADS=2] [K=3] [PRECISION=auto] [LIMIT=N] [RAG_TUNE=1] \
#        bash bench/banking77.sh [OUT_DIR]          (OUT_DIR default build/banking77)
# LIMIT=N takes the first N training and validation lines (a quick check of the script, not a
# result). RAG_TUNE=0 leaves out the fifth alternative, whose fine-tune is the longest (its
# examples carry K retrieved examples each).
# Cost (`ftune validate` prints the token counts first): the plain training file is 484k tokens an
# epoch, about 15 minutes at 560 tokens/s (30 minutes at 268 tokens/s on 1 busy thread); with K=3
# the retrieval one is 1.36M tokens an epoch (2.8x). The evaluation takes about 30 minutes on 1
# thread, two thirds of it the long-prompt candidates (600 prompt tokens, replies to the token limit).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${FTUNE_SHARED:-../shared}/data/banking77-intents
MODEL=models/SmolLM2-135M-Instruct.Q4_1.gguf
OUT=${1:-build/banking77}
EPOCHS=${EPOCHS:-1}
THREADS=${THREADS:-2}
K=${K:-3}
PRECISION=${PRECISION:-auto}
LIMIT=${LIMIT:-0}
RAG_TUNE=${RAG_TUNE:-1}
make --no-print-directory build/ftune >/dev/null
bash scripts/fetch_models.sh
rm -rf "$OUT" && mkdir -p "$OUT"
echo "# $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(date -u '+%F %H:%M') UTC"
echo "# EPOCHS=$EPOCHS THREADS=$THREADS K=$K PRECISION=$PRECISION LIMIT=$LIMIT RAG_TUNE=$RAG_TUNE"

TRAIN=$DATA/train.jsonl
VALID=$DATA/validation.jsonl
if [ "$LIMIT" -gt 0 ]; then
    head -n "$LIMIT" "$TRAIN" >"$OUT/train.jsonl"
    head -n "$LIMIT" "$VALID" >"$OUT/validation.jsonl"
    TRAIN=$OUT/train.jsonl
    VALID=$OUT/validation.jsonl
fi

STAGES=()
stage() {   # stage NAME COMMAND...: runs the command, records its wall time
    local name=$1 start
    shift
    echo "== $name"
    start=$(date +%s.%N)
    "$@"
    STAGES+=("$name|$(echo "$(date +%s.%N) - $start" | bc)")
}

stage "validate (token count)" ./build/ftune validate "$TRAIN" --model "$MODEL" --max-problems 5
stage "fine-tune ($EPOCHS epochs)" ./build/ftune train --model "$MODEL" --train "$TRAIN" --epochs "$EPOCHS" \
    --threads "$THREADS" --precision "$PRECISION" --seed 7 --out "$OUT/tuned"
if [ "$RAG_TUNE" = 1 ]; then
    stage "dataset add-context (k $K)" ./build/ftune dataset add-context --pool "$TRAIN" --in "$TRAIN" \
        --out "$OUT/train_with_context.jsonl" --k "$K" --threads "$THREADS"
    stage "validate with context" ./build/ftune validate "$OUT/train_with_context.jsonl" --model "$MODEL" \
        --max-problems 5
    stage "fine-tune + retrieval ($EPOCHS epochs)" ./build/ftune train --model "$MODEL" \
        --train "$OUT/train_with_context.jsonl" --epochs "$EPOCHS" --threads "$THREADS" \
        --precision "$PRECISION" --seed 7 --out "$OUT/tuned_rag"
fi

CANDIDATES=(--candidate "base + long prompt" --model "$MODEL" --system-file "$DATA/baseline_system_prompt.txt"
    --candidate "base + long prompt + structured output" --model "$MODEL"
    --system-file "$DATA/baseline_system_prompt.txt" --labels "$TRAIN"
    --candidate "base + retrieved few-shot" --model "$MODEL" --retrieve "$TRAIN"
    --candidate "fine-tuned" --model "$MODEL" --adapter "$OUT/tuned")
if [ "$RAG_TUNE" = 1 ]; then
    CANDIDATES+=(--candidate "fine-tuned + retrieval" --model "$MODEL" --adapter "$OUT/tuned_rag" --retrieve "$TRAIN")
fi
stage "eval ($(grep -c . "$VALID") examples, all candidates)" ./build/ftune eval --data "$VALID" "${CANDIDATES[@]}" \
    --k "$K" --threads "$THREADS" --precision "$PRECISION" --json "$OUT/report.json" --html "$OUT/report.html"

echo
echo "| stage | wall time (s) |"
echo "|---|---:|"
for s in "${STAGES[@]}"; do
    printf '| %s | %.0f |\n' "${s%%|*}" "${s##*|}"
done
python3 -c 'import json, sys
for c in json.load(open(sys.argv[1]))["candidates"]: print("|   eval: %s | %d |" % (c["name"], round(c["wall_s"])))' "$OUT/report.json"
echo
echo "reports: $OUT/report.json $OUT/report.html"
