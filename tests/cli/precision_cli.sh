#!/usr/bin/env bash
# --precision on train, chat, eval and serve: a bad value is refused (exit 2) before any model is
# loaded; the choice is printed with its reason; fp32 and, where this CPU and build have it, bf16
# train an adapter and chat; where bf16 is not available an explicit bf16 is refused saying why.
set -euo pipefail
M=models/stories260K.gguf
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for cmd in "chat --model $M hi" "train --model $M --train x --out $tmp/x" "eval --data x --candidate a --model $M" \
           "serve --port 0"; do
    rc=0
    out=$(./build/ftune $cmd --precision fp16 2>&1) || rc=$?
    [ "$rc" -eq 2 ] || { echo "$cmd --precision fp16: exit $rc"; exit 1; }
    grep -q "precision 'fp16' is not one of auto, fp32 or bf16" <<<"$out" || { echo "$cmd: $out"; exit 1; }
done
./build/ftune chat --model "$M" --max-tokens 4 --precision fp32 "Once" 2>"$tmp/err" >/dev/null
grep -qx "precision: fp32 (requested)" "$tmp/err" || { echo "fp32: $(cat "$tmp/err")"; exit 1; }
./build/ftune chat --model "$M" --max-tokens 4 "Once" 2>"$tmp/err" >/dev/null
grep -Eq "^precision: (fp32|bf16) \(" "$tmp/err" || { echo "auto: $(cat "$tmp/err")"; exit 1; }
# a tiny fine-tune at each precision this machine has
for i in $(seq 1 12); do
    echo '{"messages": [{"role": "user", "content": "Once upon a time"}, {"role": "assistant", "content": "there was a cat."}]}'
done >"$tmp/train.jsonl"
if ./build/ftune chat --model "$M" --max-tokens 2 --precision bf16 "Once" >/dev/null 2>"$tmp/err"; then
    precisions="fp32 bf16"
else
    grep -q "bf16 precision is not available: " "$tmp/err" || { echo "bf16 refused without a reason: $(cat "$tmp/err")"; exit 1; }
    echo "bf16 not available here: $(cat "$tmp/err")"
    precisions="fp32"
fi
for p in $precisions; do
    ./build/ftune train --model "$M" --train "$tmp/train.jsonl" --epochs 2 --precision "$p" --out "$tmp/$p" 2>"$tmp/train-$p.log"
    grep -q "^precision: $p" "$tmp/train-$p.log" || { echo "train $p: $(cat "$tmp/train-$p.log")"; exit 1; }
    [ -f "$tmp/$p/adapter_model.safetensors" ] || { echo "no adapter at $p"; exit 1; }
    ./build/ftune chat --model "$M" --adapter "$tmp/$p" --precision "$p" --max-tokens 8 "Once upon a time" >/dev/null 2>&1
done
echo ok
