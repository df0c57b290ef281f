#!/usr/bin/env bash
# ftune chat --json-schema FILE: sampled replies are JSON documents of the schema (checked with
# python3's json); a keyword outside the subset exits 2 naming it and its place.
set -euo pipefail
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/s.json" <<'J'
{"type": "object", "properties": {"city": {"type": "string"}, "country": {"enum": ["France", "Spain"]},
 "population": {"type": ["integer", "null"]}}, "required": ["city", "country", "population"],
 "additionalProperties": false}
J
for seed in 1 2 3; do
    out=$(./build/ftune chat --model models/SmolLM2-135M-Instruct.Q4_1.gguf --json-schema "$tmp/s.json" \
          --temperature 1 --seed $seed --max-tokens 200 "What is the capital of France?" 2>/dev/null)
    python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert list(d)==["city","country","population"], d; assert d["country"] in ("France","Spain"); assert d["population"] is None or isinstance(d["population"], int)' "$out" \
        || { echo "seed $seed: not a document of the schema: '$out'"; exit 1; }
done
echo '{"type":"object","properties":{"a":{"type":"string","minLength":1}}}' >"$tmp/bad.json"
if err=$(./build/ftune chat --model models/SmolLM2-135M-Instruct.Q4_1.gguf --json-schema "$tmp/bad.json" hi 2>&1); then
    echo "accepted minLength"; exit 1
fi
grep -q "'minLength' at #/properties/a is not supported" <<<"$err" || { echo "message: $err"; exit 1; }
echo ok
