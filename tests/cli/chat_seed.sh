#!/usr/bin/env bash
# Sampling with a seed is reproducible; another seed gives another text; stdin works as the message.
set -euo pipefail
chat() { ./build/ftune chat --model models/SmolLM2-135M-Instruct.Q4_1.gguf --max-tokens 24 --temperature 1.0 "$@"; }
a=$(chat --seed 7 "Tell me a story.")
b=$(chat --seed 7 "Tell me a story.")
c=$(chat --seed 8 "Tell me a story.")
[ "$a" = "$b" ] || { echo "same seed, different text: '$a' vs '$b'"; exit 1; }
[ "$a" != "$c" ] || { echo "different seeds gave the same text: '$a'"; exit 1; }
d=$(echo "What is the capital of France?" | ./build/ftune chat --model models/SmolLM2-135M-Instruct.Q4_1.gguf --max-tokens 16)
grep -q Paris <<<"$d" || { echo "stdin message: '$d'"; exit 1; }
ids=$(./build/ftune tokenize --model models/SmolLM2-135M-Instruct.Q4_1.gguf "<|im_start|>user")
[ "$ids" = "[1, 4093]" ] || { echo "tokenize: $ids"; exit 1; }
echo ok
