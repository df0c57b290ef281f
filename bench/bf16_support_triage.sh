#!/usr/bin/env bash
# bf16_support_triage.sh: the bf16 path against the fp32 path on a real fine-tune (issue 12):
# SmolLM2-135M-Instruct on ../shared/data/support-triage with default settings and the same seed,
# once at --precision fp32 and once at bf16: training wall time, the loss curves side by side
# (largest difference of the training and validation losses at the same step), held-out exact
# label accuracy of each adapter at its own precision, and the greedy replies of fp32 and bf16
# inference on the 90 validation prompts (the fp32-trained adapter, and the base model with the
# long baseline prompt, whose prefill is the longest): how many differ, and which.
# Usage: bash bench/bf16_support_triage.sh [OUT_DIR]   (about 15 minutes on 2 cores; needs a CPU
# with AMX-BF16 or AVX512-BF16 and oneDNN)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${FTUNE_SHARED:-../shared}/data/support-triage
MODEL=models/SmolLM2-135M-Instruct.Q4_1.gguf
OUT=${1:-/tmp/ftune-bf16-triage}
make --no-print-directory all build/bench_label_accuracy >/dev/null
bash scripts/fetch_models.sh
rm -rf "$OUT" && mkdir -p "$OUT"
echo "# $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(date -u +%F)"
for p in fp32 bf16; do
    start=$(date +%s.%N)
    ./build/ftune train --model "$MODEL" --train "$DATA/train.jsonl" --validation "$DATA/validation.jsonl" \
        --precision "$p" --seed 7 --out "$OUT/$p" 2>"$OUT/train-$p.log"
    grep -m1 '^precision' "$OUT/train-$p.log" || true
    echo "{\"precision\": \"$p\", \"training_seconds\": $(echo "$(date +%s.%N) - $start" | bc)}"
done
python3 - "$OUT" <<'PY'
import csv, json, sys
out = sys.argv[1]
rows = {p: list(csv.DictReader(open(f"{out}/{p}/results.csv"))) for p in ("fp32", "bf16")}
def worst(key):
    d = [abs(float(a[key]) - float(b[key])) for a, b in zip(rows["fp32"], rows["bf16"]) if a[key] and b[key]]
    return (max(d) if d else None), len(d)
report = {"steps": len(rows["fp32"])}
for key in rows["fp32"][0]:
    if "loss" in key:
        report["max_abs_diff_" + key], report["n_" + key] = worst(key)
report["final_train_loss"] = {p: float(r[-1]["train_loss"]) for p, r in rows.items()}
print(json.dumps(report))
PY
for p in fp32 bf16; do
    ./build/bench_label_accuracy "$MODEL" "$DATA/validation.jsonl" --adapter "$OUT/$p" --precision "$p"
done
for p in fp32 bf16; do
    ./build/bench_label_accuracy "$MODEL" "$DATA/validation.jsonl" --adapter "$OUT/fp32" --precision "$p" \
        --outputs "$OUT/replies-tuned-$p.txt" >/dev/null
    ./build/bench_label_accuracy "$MODEL" "$DATA/validation.jsonl" --precision "$p" \
        --system-file "$DATA/baseline_system_prompt.txt" --outputs "$OUT/replies-base-$p.txt" >/dev/null
done
for who in tuned base; do
    echo "{\"greedy_replies\": \"$who\", \"prompts\": $(wc -l <"$OUT/replies-$who-fp32.txt"), \"differ\": $(paste -d'\t' "$OUT/replies-$who-fp32.txt" "$OUT/replies-$who-bf16.txt" | awk -F'\t' '$1 != $2' | wc -l)}"
    paste -d'\t' "$OUT/replies-$who-fp32.txt" "$OUT/replies-$who-bf16.txt" | awk -F'\t' '$1 != $2 {print "  differ (line " NR "): fp32 [" $1 "] bf16 [" $2 "]"}' | head -10
done
