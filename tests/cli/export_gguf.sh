#!/usr/bin/env bash
# ftune export to GGUF on stories260K (Llama architecture: q/k rows permuted): a LoRA adapter
# trained for a few steps at a high learning rate is exported as an adapter GGUF and merged into
# F16, Q8_0, Q4_0 and Q4_K (its rows of 64 fall back to Q5_0) GGUFs; tests/gguf_export_check.py
# checks them with llama.cpp (llama-cpp-python) and PyPI gguf's reader (same tensors, same greedy
# text as ftune, required for the adapter, F16 and Q8_0, printed for Q4_0/Q4_K; logits bound); the same from a
# Hugging Face folder (tiny-qwen2), whose GGUF tokenizer metadata ftune writes itself. Then the
# refusals: an unknown --type, a Modelfile for a model whose template has no Ollama translation,
# --type without --merge --format gguf.
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
python3 tests/gguf_export_check.py ./build/ftune $M "$tmp/run" "$tmp" --types f16,q8_0,q4_0,q4_k --report-only q4_0,q4_k ||
    fail "gguf_export_check.py"
# a Hugging Face base (tiny Qwen2: q/k/v biases, no q/k permutation): the GGUF tokenizer metadata is
# ftune's own (tok_export_gguf)
mkdir -p "$tmp/hf"
out=$(./build/ftune train --model models/tiny-qwen2 --train "$tmp/train.jsonl" --epochs 3 --batch-size 4 --rank 4 \
      --seed 3 --lr-multiplier 10 --precision fp32 --out "$tmp/hf/run" 2>&1) || fail "train tiny-qwen2: $out"
python3 tests/gguf_export_check.py ./build/ftune models/tiny-qwen2 "$tmp/hf/run" "$tmp/hf" 2>&1 | grep -v n_ctx_train
[ "${PIPESTATUS[0]}" -eq 0 ] || fail "gguf_export_check.py on tiny-qwen2"

# the adapter's recorded base model is used when --model is left out
./build/ftune export --adapter "$tmp/run" --format gguf --out "$tmp/a2.gguf" 2>/dev/null || fail "export without --model"
cmp -s "$tmp/a2.gguf" "$tmp/adapter.gguf" || fail "export without --model wrote another file"

out=$(./build/ftune export --model $M --adapter "$tmp/run" --merge --format gguf --type q3_k --out "$tmp/x.gguf" 2>&1)
[ $? -eq 2 ] && grep -q "unknown GGUF type 'q3_k'" <<<"$out" || fail "bad --type: $out"
out=$(./build/ftune export --model $M --merge --format gguf --out "$tmp/x.gguf" 2>&1)
[ $? -eq 2 ] && grep -q "no Ollama translation" <<<"$out" || fail "Modelfile of a plain template: $out"
[ ! -e "$tmp/x.gguf" ] || fail "a refused export left a file"
out=$(./build/ftune export --model $M --adapter "$tmp/run" --format gguf --type f16 --out "$tmp/x.gguf" 2>&1)
[ $? -eq 2 ] && grep -q -- "--type applies to --merge --format gguf" <<<"$out" || fail "--type on an adapter: $out"
exit 0
