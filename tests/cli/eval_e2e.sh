#!/usr/bin/env bash
# ftune eval end to end on the tiny model: a LoRA adapter trained here, then three candidates on
# a held-out set: the base model with a replacement system prompt (local), the fine-tuned adapter
# (local) and the base model served by `ftune serve` (through --base-url). The JSON and HTML
# reports are produced, the HTML renders in headless Chromium with its charts and one confusion
# heat map per candidate, --retrieve lengthens prompts by the retrieved examples and dataset
# add-context writes them into a training file, --labels keeps every reply within the training file's answers (locally
# and served), and a missing model or an unreachable endpoint fails only its own candidate (exit
# 1, the other results still reported).
set -uo pipefail
tmp=$(mktemp -d)
server=""
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
M=models/tiny-qwen2
python3 - "$tmp" <<'PY'
import json, sys
colours = ["red", "blue", "green"]
def ex(i):
    c = colours[i % 3]
    return {"messages": [{"role": "system", "content": "Answer with a colour."},
                         {"role": "user", "content": f"What colour is item {i}? It is {c}."},
                         {"role": "assistant", "content": c}]}
open(f"{sys.argv[1]}/train.jsonl", "w").write("".join(json.dumps(ex(i)) + "\n" for i in range(30)))
open(f"{sys.argv[1]}/held.jsonl", "w").write("".join(json.dumps(ex(i)) + "\n" for i in range(100, 112)))
open(f"{sys.argv[1]}/system.txt", "w").write("You label items by colour: red, blue or green.\n")
PY
./build/ftune train --model $M --train "$tmp/train.jsonl" --epochs 6 --batch-size 4 --out "$tmp/run" >/dev/null 2>&1 ||
    fail "train"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
./build/ftune serve --port "$port" --data "$tmp/data" --models models 2>"$tmp/serve.log" &
server=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done

out=$(./build/ftune eval --data "$tmp/held.jsonl" --max-tokens 4 \
      --candidate "base + prompt" --model $M --system-file "$tmp/system.txt" \
      --candidate fine-tuned --model $M --adapter "$tmp/run" \
      --candidate served --model tiny-qwen2 --base-url "http://127.0.0.1:$port/v1" --api-key unused \
      --json "$tmp/r.json" --html "$tmp/r.html" 2>"$tmp/eval.log") || fail "eval: $(cat "$tmp/eval.log")"
grep -q "^fine-tuned " <<<"$out" || fail "no table row for fine-tuned: $out"
grep -q "paired comparison" <<<"$out" || fail "no paired comparison: $out"
python3 - "$tmp/r.json" <<'PY' || fail "JSON report"
import json, sys
r = json.load(open(sys.argv[1]))
names = [c["name"] for c in r["candidates"]]
assert names == ["base + prompt", "fine-tuned", "served"], names
for c in r["candidates"]:
    assert c["n_done"] == 12 and c["n_failed"] == 0, c
    assert c["mean_prompt_tokens"] > 0, c
assert len(r["comparisons"]) == 2, r["comparisons"]
PY
python3 tests/e2e/check_html_render.py "$tmp/r.html" --confusion 3 --screenshot "$tmp/r.png" >"$tmp/check.log" 2>&1 ||
    fail "HTML render: $(cat "$tmp/check.log")"

# few-shot examples go before each prompt: the same model sees longer prompts
head -3 "$tmp/train.jsonl" >"$tmp/shots.jsonl"
./build/ftune eval --data "$tmp/held.jsonl" --max-tokens 1 --limit 3 --candidate plain --model $M \
    --candidate few-shot --model $M --fewshot "$tmp/shots.jsonl" --json "$tmp/shots.json" >/dev/null 2>&1 ||
    fail "eval --fewshot"
python3 - "$tmp/shots.json" <<'PY' || fail "few-shot prompts are not longer"
import json, sys
plain, shots = json.load(open(sys.argv[1]))["candidates"]
assert shots["mean_prompt_tokens"] > plain["mean_prompt_tokens"] + 3 * 20, (plain, shots)
PY

# retrieval: --retrieve puts the k most similar training examples before each prompt; dataset
# add-context writes them into a training file (never an example itself, their answers weight 0)
if [ -f models/all-MiniLM-L6-v2/model.safetensors ]; then
    ./build/ftune eval --data "$tmp/held.jsonl" --max-tokens 1 --limit 3 --k 2 --candidate plain --model $M \
        --candidate retrieved --model $M --retrieve "$tmp/train.jsonl" --json "$tmp/ret.json" >/dev/null 2>"$tmp/ret.log" ||
        fail "eval --retrieve: $(cat "$tmp/ret.log")"
    ./build/ftune dataset add-context --pool "$tmp/train.jsonl" --in "$tmp/train.jsonl" --out "$tmp/ctx.jsonl" --k 2 \
        2>"$tmp/ctx.log" || fail "dataset add-context: $(cat "$tmp/ctx.log")"
    python3 - "$tmp/ret.json" "$tmp/ctx.jsonl" "$tmp/train.jsonl" <<'PY' || fail "retrieval"
import json, sys
plain, ret = json.load(open(sys.argv[1]))["candidates"]
assert ret["mean_prompt_tokens"] > plain["mean_prompt_tokens"] + 2 * 15, (plain, ret)
ctx = [json.loads(l)["messages"] for l in open(sys.argv[2])]
orig = [json.loads(l)["messages"] for l in open(sys.argv[3])]
assert len(ctx) == len(orig) == 30
for c, o in zip(ctx, orig):
    assert c[0] == o[0] and c[-2:] == o[-2:], c  # system first, the example's own turns last
    extra = c[1:-2]
    assert len(extra) == 4 and [m["role"] for m in extra] == ["user", "assistant"] * 2, extra
    assert all(m.get("weight") == 0 for m in extra if m["role"] == "assistant"), extra
    assert all(m["content"] != o[1]["content"] for m in extra if m["role"] == "user"), "retrieved itself"
PY
else
    echo "skip: retrieval (models/all-MiniLM-L6-v2 is missing)"
fi

# structured output: --labels constrains every reply to one of the training file's answers, locally
# (a grammar) and through the server (a json_schema response format whose label is the answer)
./build/ftune eval --data "$tmp/held.jsonl" --max-tokens 48 --limit 6 \
    --candidate labels --model $M --labels "$tmp/train.jsonl" \
    --candidate served-labels --model tiny-qwen2 --base-url "http://127.0.0.1:$port/v1" --labels "$tmp/train.jsonl" \
    --json "$tmp/labels.json" >/dev/null 2>"$tmp/labels.log" || fail "eval --labels: $(cat "$tmp/labels.log")"
python3 - "$tmp/labels.json" <<'PY' || fail "--labels replies are not labels"
import json, sys
r = json.load(open(sys.argv[1]))
for c in r["candidates"]:
    preds = [e["results"][r["candidates"].index(c)]["prediction"] for e in r["examples"]]
    assert c["n_done"] == 6 and c["n_failed"] == 0, c
    assert all(p in ("red", "blue", "green") for p in preds), (c["name"], preds)
PY

# a candidate that cannot run fails alone: the others are still reported
out=$(./build/ftune eval --data "$tmp/held.jsonl" --max-tokens 2 --limit 3 \
      --candidate base --model $M \
      --candidate missing --model "$tmp/no-such-model" \
      --candidate offline --model tiny-qwen2 --base-url "http://127.0.0.1:9/v1" \
      --json "$tmp/partial.json" 2>"$tmp/eval2.log")
[ $? -eq 1 ] || fail "a candidate that cannot run should give exit status 1"
grep -q "missing: could not run: .*no-such-model" "$tmp/eval2.log" || fail "missing model message: $(cat "$tmp/eval2.log")"
grep -q "offline: could not run: .*127.0.0.1:9" "$tmp/eval2.log" || fail "unreachable endpoint message: $(cat "$tmp/eval2.log")"
grep -q "^base " <<<"$out" || fail "the candidate that ran is not reported: $out"
[ -s "$tmp/partial.json" ] || fail "no JSON report for a partial run"

printf '{"messages": [{"role": "user", "content": "hi"}]}\nnot json\n' >"$tmp/bad.jsonl"
out=$(./build/ftune eval --data "$tmp/bad.jsonl" --candidate a --model $M 2>&1)
[ $? -eq 2 ] || fail "a malformed held-out file should give exit status 2"
grep -q "line 2: not JSON" <<<"$out" || fail "malformed file message: $out"
echo "ok"
