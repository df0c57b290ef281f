#!/usr/bin/env bash
# embeddings.sh: texts/s of ftune's sentence embeddings (build/bench_embed) beside
# sentence-transformers on PyTorch (bench/embed_torch.py), same model (models/all-MiniLM-L6-v2),
# same short texts (the user messages of ../shared/data/support-triage/train.jsonl), same thread
# count, batches of 1..256 texts, in one run; prints a table with the ratio of wall-time rates, and
# of rates per CPU second (less moved by other work on a shared machine). About a minute.
# Usage: bash bench/embeddings.sh [THREADS [PRECISION]]   (default: every core; auto: bf16 where
# the CPU has AMX, as ftune embed and ftune serve choose; fp32 is the reference path)
#   FTUNE_ST_PYTHON: a python with sentence-transformers (default python3), e.g. a venv made as
#   scripts/golden_embeddings.py says.
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-$(nproc)}
precision=${2:-auto}
py=${FTUNE_ST_PYTHON:-python3}
source bench/embed_setup.sh
echo "$(wc -l <"$texts") texts, $threads threads, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
./build/bench_embed "$model" "$texts" "$threads" "$precision" | tee -a "$out"
"$py" bench/embed_torch.py "$model" "$texts" "$threads" | tee -a "$out"
python3 - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
by, prec = {}, ""
for r in rows:
    by.setdefault(r["batch"], {})[r["impl"]] = r
    prec = r.get("precision", prec) if r["impl"] == "ftune" else prec
print("ftune at %s" % prec)
print("%6s %14s %24s %7s %11s" % ("batch", "ftune texts/s", "sentence-transformers", "ratio", "cpu ratio"))
for b in sorted(by):
    f, s = by[b].get("ftune"), by[b].get("sentence-transformers")
    ratio = lambda k: f[k] / s[k] if f and s and f.get(k) and s.get(k) else 0
    print("%6d %14.1f %24.1f %6.2fx %10.2fx" % (b, f["texts_per_s"] if f else 0, s["texts_per_s"] if s else 0,
                                             ratio("texts_per_s"), ratio("texts_per_cpu_s")))
PY
