#!/usr/bin/env bash
# On a terminal with no message, chat is a conversation: the second question ("And of Italy?")
# only makes sense with the first turn remembered. `script` gives the command a pseudo-terminal.
set -euo pipefail
out=$(printf 'What is the capital of France?\nAnd of Italy?\n\n' |
      script -qec "./build/ftune chat --model models/SmolLM2-135M-Instruct.Q4_1.gguf --max-tokens 20" /dev/null)
echo "$out"
grep -q "Paris" <<<"$out"
grep -q "Rome" <<<"$out"
