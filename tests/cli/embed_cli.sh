#!/usr/bin/env bash
# ftune embed: vectors equal to sentence-transformers' (tests/golden/embeddings, within the unit
# test's bound) from plain-text and JSONL input, in input order across batches; a text past the
# model's window is cut with a note; bad input is exit status 2 naming the line. Skips without
# models/all-MiniLM-L6-v2 (scripts/fetch_models.sh).
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
./build/ftune embed --model "$model" --input "$tmp/in.txt" --output "$tmp/out.txt.jsonl" --batch 3 --threads 2 \
    2>"$tmp/err" || fail "embed text: $(cat "$tmp/err")"
grep -q "line 4: 372 tokens; the model sees the first 254" "$tmp/err" || fail "no truncation note: $(cat "$tmp/err")"
./build/ftune embed --model "$model" --format jsonl <"$tmp/in.jsonl" >"$tmp/out.jsonl.jsonl" 2>/dev/null || fail "embed jsonl"
for out in "$tmp/out.txt.jsonl" "$tmp/out.jsonl.jsonl"; do
    python3 - "$golden" "$out" <<'PY' || fail "vectors of $out differ from the reference"
import json, sys
d = json.load(open(sys.argv[1]))
rows = [json.loads(l) for l in open(sys.argv[2])]
pick = [0, 3, 11, 20]
assert [r["index"] for r in rows] == [0, 1, 2, 3], [r["index"] for r in rows]
for r, i in zip(rows, pick):
    ref = d["cases"][i]["embedding"]
    assert r["tokens"] == len(d["cases"][i]["ids"]) - 2, (r["tokens"], i)
    err = max(abs(a - b) for a, b in zip(r["embedding"], ref))
    assert len(r["embedding"]) == 384 and err < 5e-6, (i, err)
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
echo ok
