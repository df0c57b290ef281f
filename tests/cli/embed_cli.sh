#!/usr/bin/env bash
# ftune embed: vectors equal to sentence-transformers' (tests/golden/embeddings, within the unit
# test's bound: 5e-6 at --precision fp32; at bf16, where this CPU has it, test_embed.c's bf16 bounds)
# from plain-text and JSONL input, in input order across batches; a text past the model's window is
# cut with a note; the precision is printed; bad input is exit status 2 naming the line. Skips
# without models/all-MiniLM-L6-v2 (scripts/fetch_models.sh).
set -uo pipefail
model=models/all-MiniLM-L6-v2
[ -f "$model/model.safetensors" ] || { echo "skip: $model not fetched"; exit 0; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
golden=tests/golden/embeddings/all-MiniLM-L6-v2.json
# golden cases 0, 3, 11 and the long one (20) as lines and as JSONL
python3 - "$golden" "$tmp" <<'PY' || fail "could not write the inputs"
import json, sys
d = json.load(open(sys.argv[1]))
pick = [0, 3, 11, 20]
with open(sys.argv[2] + "/in.txt", "w") as f:
    for i in pick: f.write(d["cases"][i]["text"] + "\n")
with open(sys.argv[2] + "/in.jsonl", "w") as f:
    for i in pick: f.write(json.dumps({"text": d["cases"][i]["text"], "id": i}) + "\n")
PY
./build/ftune embed --model "$model" --input "$tmp/in.txt" --output "$tmp/out.txt.fp32" --batch 3 --threads 2 \
    --precision fp32 2>"$tmp/err" || fail "embed text: $(cat "$tmp/err")"
grep -q "line 4: 372 tokens; the model sees the first 254" "$tmp/err" || fail "no truncation note: $(cat "$tmp/err")"
grep -qx "precision: fp32 (requested)" "$tmp/err" || fail "no precision line: $(cat "$tmp/err")"
./build/ftune embed --model "$model" --format jsonl --precision fp32 <"$tmp/in.jsonl" >"$tmp/out.jsonl.fp32" 2>/dev/null ||
    fail "embed jsonl"
outs="$tmp/out.txt.fp32 $tmp/out.jsonl.fp32"
if ./build/ftune embed --model "$model" --input "$tmp/in.txt" --output "$tmp/out.txt.bf16" --batch 3 --precision bf16 \
    2>"$tmp/err"; then
    outs="$outs $tmp/out.txt.bf16"
else
    grep -q "bf16 precision is not available: " "$tmp/err" || fail "bf16 refused without a reason: $(cat "$tmp/err")"
    echo "bf16 not available here (skipped): $(grep -m1 "not available" "$tmp/err")"
fi
./build/ftune embed --model "$model" --input "$tmp/in.txt" >/dev/null 2>"$tmp/err" || fail "embed at auto"
grep -Eq "^precision: (fp32|bf16) \(" "$tmp/err" || fail "auto: $(cat "$tmp/err")"
for out in $outs; do
    python3 - "$golden" "$out" <<'PY' || fail "vectors of $out differ from the reference"
import json, math, sys
d = json.load(open(sys.argv[1]))
rows = [json.loads(l) for l in open(sys.argv[2])]
pick = [0, 3, 11, 20]
bf16 = sys.argv[2].endswith(".bf16")
assert [r["index"] for r in rows] == [0, 1, 2, 3], [r["index"] for r in rows]
for r, i in zip(rows, pick):
    ref, got = d["cases"][i]["embedding"], r["embedding"]
    assert r["tokens"] == len(d["cases"][i]["ids"]) - 2, (r["tokens"], i)
    err = max(abs(a - b) for a, b in zip(got, ref))
    cos = sum(a * b for a, b in zip(got, ref)) / math.sqrt(sum(a * a for a in got) * sum(b * b for b in ref))
    assert len(got) == 384 and (err < 1e-2 and cos > 1 - 5e-4 if bf16 else err < 5e-6), (i, err, cos)
PY
done
expect2() { # description, expected-substring, command...
    local what=$1 needle=$2
    shift 2
    out=$("$@" 2>&1)
    rc=$?
    [ $rc -eq 2 ] || fail "$what: exit status $rc, expected 2 ($out)"
    grep -qF -- "$needle" <<<"$out" || fail "$what: message '$out' lacks '$needle'"
}
printf 'fine\nbad \xff byte\n' >"$tmp/bad.txt"
printf '{"text": "ok"}\n{"txt": "no"}\n' >"$tmp/bad.jsonl"
expect2 "invalid UTF-8" "line 2: not valid UTF-8" ./build/ftune embed --model "$model" --input "$tmp/bad.txt"
expect2 "jsonl without text" 'line 2: no string field "text"' ./build/ftune embed --model "$model" --format jsonl --input "$tmp/bad.jsonl"
expect2 "bad format" "--format must be text or jsonl" ./build/ftune embed --model "$model" --format csv --input "$tmp/bad.txt"
expect2 "missing input" "cannot open --input" ./build/ftune embed --model "$model" --input "$tmp/none.txt"
expect2 "a decoder model" "model_type" ./build/ftune embed --model models/tiny-qwen2 --input "$tmp/in.txt"
expect2 "bad precision" "precision 'fp16' is not one of auto, fp32 or bf16" ./build/ftune embed --model "$model" --precision fp16 --input "$tmp/in.txt"
echo ok
