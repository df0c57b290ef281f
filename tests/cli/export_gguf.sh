#!/usr/bin/env bash
# ftune export to GGUF on stories260K (Llama architecture: q/k rows permuted): a LoRA adapter
# trained for a few steps at a high learning rate is exported as an adapter GGUF and merged into
# F16 and Q8_0 GGUFs; tests/gguf_export_check.py checks them with llama.cpp (llama-cpp-python) and
# PyPI gguf's reader (same tensors, same greedy text as ftune, logits bound). Then the refusals:
# an unknown --type, a merged GGUF from a Hugging Face directory, a Modelfile for a model whose
# template has no Ollama translation, --type without --merge --format gguf.
set -uo pipefail
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
M=models/stories260K.gguf
for i in $(seq 1 12); do
    printf '{"messages": [{"role": "user", "content": "Tell me about toy %d."}, {"role": "assistant", "content": "Toy %d is a red ball."}]}\n' $i $i
done >"$tmp/train.jsonl"
out=$(./build/ftune train --model $M --train "$tmp/train.jsonl" --epochs 3 --batch-size 4 --rank 4 --seed 3 \
      --lr-multiplier 10 --precision fp32 --out "$tmp/run" 2>&1) || fail "train: $out"
python3 tests/gguf_export_check.py ./build/ftune $M "$tmp/run" "$tmp" || fail "gguf_export_check.py"

# the adapter's recorded base model is used when --model is left out
./build/ftune export --adapter "$tmp/run" --format gguf --out "$tmp/a2.gguf" 2>/dev/null || fail "export without --model"
cmp -s "$tmp/a2.gguf" "$tmp/adapter.gguf" || fail "export without --model wrote another file"

out=$(./build/ftune export --model $M --adapter "$tmp/run" --merge --format gguf --type q3_k --out "$tmp/x.gguf" 2>&1)
[ $? -eq 2 ] && grep -q "unknown GGUF type 'q3_k'" <<<"$out" || fail "bad --type: $out"
out=$(./build/ftune export --model models/tiny-qwen2 --merge --format gguf --out "$tmp/x.gguf" 2>&1)
[ $? -eq 2 ] && grep -q "Hugging Face directory" <<<"$out" || fail "merged GGUF from a HF directory: $out"
out=$(./build/ftune export --model $M --merge --format gguf --out "$tmp/x.gguf" 2>&1)
[ $? -eq 2 ] && grep -q "no Ollama translation" <<<"$out" || fail "Modelfile of a plain template: $out"
[ ! -e "$tmp/x.gguf" ] || fail "a refused export left a file"
out=$(./build/ftune export --model $M --adapter "$tmp/run" --format gguf --type f16 --out "$tmp/x.gguf" 2>&1)
[ $? -eq 2 ] && grep -q -- "--type applies to --merge --format gguf" <<<"$out" || fail "--type on an adapter: $out"
exit 0
