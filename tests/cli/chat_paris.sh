#!/usr/bin/env bash
# The real SmolLM2-135M-Instruct answers the capital of France with Paris (greedy).
set -euo pipefail
out=$(./build/ftune chat --model models/SmolLM2-135M-Instruct.Q4_1.gguf --max-tokens 32 "What is the capital of France?")
echo "$out"
grep -q "Paris" <<<"$out"
