#!/usr/bin/env bash
# embed_ab.sh: this build's sentence embeddings (build/bench_embed, at fp32 and at auto) beside
# another build's bench_embed (a baseline, e.g. one built from an earlier commit), same model, texts
# and threads as bench/embeddings.sh, alternating the three for ROUNDS rounds so that a change in the
# machine's load falls on all of them; prints each batch size's best texts/s and texts per CPU
# second of each, and the ratios to the baseline. A baseline bench_embed that predates the precision
# argument ignores it and runs fp32 (reporting no precision and no CPU rate: "-").
# Usage: bash bench/embed_ab.sh BASE_BENCH_EMBED [THREADS [ROUNDS]]   (default: every core, 2 rounds)
# A baseline from main's f8cecb5 (before the encoder's bf16 path), built beside this checkout:
#   mkdir -p /tmp/embed-base && git archive f8cecb5 | tar -x -C /tmp/embed-base &&
#   ln -sfn "$PWD/models" /tmp/embed-base/models && make -C /tmp/embed-base build/bench_embed
#   bash bench/embed_ab.sh /tmp/embed-base/build/bench_embed 2
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:?usage: bench/embed_ab.sh BASE_BENCH_EMBED [THREADS [ROUNDS]]}
threads=${2:-$(nproc)}
rounds=${3:-2}
source bench/embed_setup.sh
echo "$(wc -l <"$texts") texts, $threads threads, $rounds rounds, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
for r in $(seq 1 "$rounds"); do
    "$base" "$model" "$texts" "$threads" fp32 | sed 's/"impl": "ftune"/"impl": "base"/' >>"$out"
    ./build/bench_embed "$model" "$texts" "$threads" fp32 2>/dev/null | sed 's/"impl": "ftune"/"impl": "fp32"/' >>"$out"
    ./build/bench_embed "$model" "$texts" "$threads" auto 2>/dev/null | sed 's/"impl": "ftune"/"impl": "auto"/' >>"$out"
    echo "round $r done"
done
python3 - "$out" <<'PY'
import json, sys
best = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    b = best.setdefault((r["impl"], r["batch"]), {})
    for k in ("texts_per_s", "texts_per_cpu_s"):
        if k in r: b[k] = max(b.get(k, 0), r[k])
    if r["impl"] == "auto": best["auto_precision"] = r.get("precision", "?")
impls = ("base", "fp32", "auto")
fmt = lambda v: "%8.1f" % v if v else "%8s" % "-"
print("best of the rounds; texts/s (wall) | texts per CPU second; auto ran at %s" % best.get("auto_precision"))
print("%6s %8s %8s %8s %7s %7s | %8s %8s %8s %7s %7s" % ("batch", "base", "fp32", "auto", "fp32/b", "auto/b",
                                                       "base", "fp32", "auto", "fp32/b", "auto/b"))
for batch in sorted({k[1] for k in best if isinstance(k, tuple)}):
    cols = []
    for key in ("texts_per_s", "texts_per_cpu_s"):
        v = [best.get((i, batch), {}).get(key, 0) for i in impls]
        cols.append("%s %s %s %7s %7s" % (fmt(v[0]), fmt(v[1]), fmt(v[2]),
                                          "%6.2fx" % (v[1] / v[0]) if v[0] and v[1] else "-",
                                          "%6.2fx" % (v[2] / v[0]) if v[0] and v[2] else "-"))
    print("%6d %s | %s" % (batch, cols[0], cols[1]))
PY
