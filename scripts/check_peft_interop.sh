#!/usr/bin/env bash
# check_peft_interop.sh: trains a small LoRA adapter with `ftune train` and checks that Hugging
# Face PEFT reads it as ftune does: file layout (PyPI safetensors), PEFT loading, and greedy
# continuations of `ftune chat --adapter` against PEFT's model.generate (see
# scripts/check_peft_interop.py for the details). Exits 0 when everything agrees.
#
# Needs (builds and fetches nothing itself):
#   build/ftune             make -j2 all
#   models/tiny-qwen2       bash scripts/fetch_models.sh
#   Debian's /usr/bin/python3 with torch (1.13), numpy, safetensors, plus transformers 4.44.2
#   (+ tokenizers, jinja2, huggingface_hub) in $FTUNE_TF_ENV (default /tmp/tfenv) and peft 0.13.2
#   + accelerate 0.34.2 in $FTUNE_PEFT_ENV (default /tmp/peftenv). When these are not importable
#   they are installed there with `pip install --no-deps --target` (never into the system).
# Environment: PYTHON (default /usr/bin/python3), FTUNE_PEFT_WORK (work directory, default a new
# one under /tmp, kept when the check fails), FTUNE_PEFT_KEEP=1 to keep it anyway.
set -euo pipefail
cd "$(dirname "$0")/.."

FTUNE=build/ftune
MODEL=models/tiny-qwen2
PY=${PYTHON:-/usr/bin/python3}
TF_ENV=${FTUNE_TF_ENV:-/tmp/tfenv}
PEFT_ENV=${FTUNE_PEFT_ENV:-/tmp/peftenv}

[ -x "$FTUNE" ] || { echo "check_peft_interop: $FTUNE missing: run 'make -j2 all' first" >&2; exit 2; }
[ -f "$MODEL/config.json" ] || { echo "check_peft_interop: $MODEL missing: run 'bash scripts/fetch_models.sh' first" >&2; exit 2; }

export PYTHONPATH="$TF_ENV:$PEFT_ENV${PYTHONPATH:+:$PYTHONPATH}"
if ! "$PY" -c 'import torch, safetensors, transformers, tokenizers, jinja2, peft, accelerate' 2>/dev/null; then
    echo "check_peft_interop: installing the Python packages for this check under $TF_ENV and $PEFT_ENV"
    "$PY" -m pip install -q --no-deps --target "$TF_ENV" transformers==4.44.2 tokenizers==0.19.1 \
        huggingface_hub==0.24.6 jinja2 markupsafe filelock fsspec packaging regex
    "$PY" -m pip install -q --no-deps --target "$PEFT_ENV" peft==0.13.2 accelerate==0.34.2
fi
"$PY" -c 'import sys, torch, safetensors, transformers, tokenizers, peft, accelerate
print("versions: python %s, torch %s, transformers %s, tokenizers %s, peft %s, accelerate %s, safetensors %s"
      % (sys.version.split()[0], torch.__version__, transformers.__version__, tokenizers.__version__,
         peft.__version__, accelerate.__version__, safetensors.__version__))'

WORK=${FTUNE_PEFT_WORK:-$(mktemp -d /tmp/ftune-peft-interop.XXXXXX)}
mkdir -p "$WORK"
TRAIN=$WORK/train.jsonl
ADAPTER=$WORK/adapter

# Toy task: one fixed word per topic, two phrasings each (24 examples).
"$PY" - "$TRAIN" <<'EOF'
import json, sys
topics = [("cats", "meow"), ("dogs", "woof"), ("the sea", "blue"), ("fire", "hot"), ("snow", "cold"),
          ("bees", "honey"), ("the sun", "bright"), ("rain", "wet"), ("music", "song"), ("trees", "green"),
          ("night", "dark"), ("bread", "baked")]
with open(sys.argv[1], "w") as f:
    for topic, word in topics:
        for q in (f"Tell me about {topic}.", f"One word for {topic}?"):
            f.write(json.dumps({"messages": [{"role": "system", "content": "Answer with one word."},
                                             {"role": "user", "content": q},
                                             {"role": "assistant", "content": word}]}) + "\n")
EOF

rm -rf "$ADAPTER"
echo "+ $FTUNE train --model $MODEL --train $TRAIN --out $ADAPTER --epochs 5 --seed 1"
if ! "$FTUNE" train --model "$MODEL" --train "$TRAIN" --out "$ADAPTER" --epochs 5 --seed 1 >"$WORK/train.log" 2>&1; then
    tail -20 "$WORK/train.log" >&2
    echo "check_peft_interop: ftune train failed (log: $WORK/train.log)" >&2
    exit 1
fi
tail -1 "$WORK/train.log"

rc=0
"$PY" scripts/check_peft_interop.py --model "$MODEL" --adapter "$ADAPTER" --ftune "$FTUNE" --max-tokens 20 || rc=$?
if [ "$rc" -eq 0 ] && [ "${FTUNE_PEFT_KEEP:-0}" != 1 ] && [ -z "${FTUNE_PEFT_WORK:-}" ]; then
    rm -rf "$WORK"
else
    echo "work directory kept: $WORK"
fi
exit "$rc"
