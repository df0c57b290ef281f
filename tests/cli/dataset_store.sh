#!/usr/bin/env bash
# dataset_store.sh: `ftune dataset add-context --store` against a real `ftune serve` with
# models/all-MiniLM-L6-v2 (skipped without it): three documents uploaded and put in a vector store
# through the official SDK, then a chat file whose questions each have one document about them:
# every written example keeps its own turns, and its leading system message (kept, or added when it
# had none) ends with the retrieved chunks, that document's first; --k bounds the chunks; an
# unknown store, a missing --base-url, --k over 50 and an unreachable server fail with a message
# naming what, and write nothing. `ftune eval --retrieve-store` on the plain file gives the prompts
# (token counts) and greedy answers of an eval of the written file.
set -uo pipefail
cd "$(dirname "$0")/../.."
[ -f models/all-MiniLM-L6-v2/model.safetensors ] || { echo "skipped: models/all-MiniLM-L6-v2 not fetched"; exit 0; }
tmp=$(mktemp -d)
server=""
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
./build/ftune serve --port "$port" --data "$tmp/data" --models models 2>"$tmp/serve.log" &
server=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
url="http://127.0.0.1:$port/v1"

vs=$(python3 - "$url" "$tmp" <<'PY'
import io, json, sys, time
import openai
c = openai.OpenAI(base_url=sys.argv[1], api_key="unused")
docs = {"refunds.md": "Refunds are paid back to the original card within five business days.",
        "shipping.txt": "Parcels ship from the warehouse every weekday and arrive in two to three days.",
        "passwords.txt": "To reset a forgotten password, open the login page and follow the reset link."}
ids = [c.files.create(file=(n, io.BytesIO(t.encode())), purpose="assistants").id for n, t in docs.items()]
vs = c.vector_stores.create(name="kb", file_ids=ids)
while c.vector_stores.retrieve(vs.id).status != "completed":
    time.sleep(0.2)
ex = [({"role": "system", "content": "You answer customers."}, "When will my refund arrive on my card?", "refunds.md"),
      (None, "How many days does shipping a parcel take?", "shipping.txt"),
      ({"role": "system", "content": "Be brief."}, "I forgot my password, how do I reset it?", "passwords.txt")]
with open(sys.argv[2] + "/in.jsonl", "w") as f, open(sys.argv[2] + "/want.json", "w") as w:
    for system, q, _ in ex:
        msgs = ([system] if system else []) + [{"role": "user", "content": q}, {"role": "assistant", "content": "ok"}]
        f.write(json.dumps({"messages": msgs}) + "\n")
    json.dump([[s["content"] if s else None, q, d] for s, q, d in ex], w)
print(vs.id)
PY
) || fail "store setup"

./build/ftune dataset add-context --store "$vs" --base-url "$url" --in "$tmp/in.jsonl" --out "$tmp/out.jsonl" --k 2 \
    2>"$tmp/log" || fail "add-context --store: $(cat "$tmp/log")"
python3 - "$tmp" <<'PY' || fail "the written file"
import json, sys
want = json.load(open(sys.argv[1] + "/want.json"))
lines = [json.loads(l) for l in open(sys.argv[1] + "/out.jsonl")]
assert len(lines) == len(want), lines
for line, (system, q, doc) in zip(lines, want):
    m = line["messages"]
    assert list(line) == ["messages"], line
    assert m[0]["role"] == "system" and [x["role"] for x in m[1:]] == ["user", "assistant"], m
    assert m[1]["content"] == q and m[2]["content"] == "ok", m
    text = m[0]["content"]
    head, _, context = text.partition("Retrieved context:")
    assert context, text
    assert head == (system + "\n\n" if system else ""), repr(head)
    hits = [h for h in context.split("\n\n") if h.strip()]
    assert len(hits) == 2 and hits[0].startswith("[" + doc + "] "), hits
PY

# `ftune eval --retrieve-store` builds the prompts add-context --store wrote: evaluating the plain
# file with it gives the same prompts (tokens) and greedy answers as evaluating the written file
ev() { ./build/ftune eval --candidate m --model tiny-qwen2 --base-url "$url" --max-tokens 6 "$@" 2>>"$tmp/eval.log" >/dev/null; }
ev --data "$tmp/out.jsonl" --json "$tmp/pre.json" || fail "eval of the written file: $(cat "$tmp/eval.log")"
ev --data "$tmp/in.jsonl" --retrieve-store "$vs" --k 2 --json "$tmp/live.json" ||
    fail "eval --retrieve-store: $(cat "$tmp/eval.log")"
python3 - "$tmp" <<'PY' || fail "eval --retrieve-store differs from the written file's eval"
import json, sys
pre, live = (json.load(open(sys.argv[1] + f)) for f in ("/pre.json", "/live.json"))
for r in (pre, live):
    c = r["candidates"][0]
    assert c["n_done"] == 3 and c["n_failed"] == 0, c
assert live["candidates"][0]["retrieve_store"], live["candidates"][0]
tokens = [r["candidates"][0]["mean_prompt_tokens"] for r in (pre, live)]
assert tokens[0] == tokens[1] and tokens[0] > 30, tokens
answers = [[e["results"][0]["prediction"] for e in r["examples"]] for r in (pre, live)]
assert answers[0] == answers[1], answers
PY
./build/ftune eval --data "$tmp/in.jsonl" --candidate m --model models/tiny-qwen2 --retrieve-store "$vs" \
    2>"$tmp/log" && fail "a local candidate without --store-url was accepted"
grep -q -- "--store-url" "$tmp/log" || fail "missing --store-url message: $(cat "$tmp/log")"

# refusals: nothing written, the cause named
rm -f "$tmp/out.jsonl"
./build/ftune dataset add-context --store vs_nope --base-url "$url" --in "$tmp/in.jsonl" --out "$tmp/out.jsonl" \
    2>"$tmp/log" && fail "an unknown store was accepted"
grep -q "vs_nope" "$tmp/log" && grep -q "example 1" "$tmp/log" || fail "unknown store message: $(cat "$tmp/log")"
./build/ftune dataset add-context --store "$vs" --in "$tmp/in.jsonl" --out "$tmp/out.jsonl" 2>"$tmp/log" &&
    fail "--store without --base-url was accepted"
grep -q "base-url" "$tmp/log" || fail "missing --base-url message: $(cat "$tmp/log")"
./build/ftune dataset add-context --store "$vs" --base-url "$url" --k 51 --in "$tmp/in.jsonl" --out "$tmp/out.jsonl" \
    2>"$tmp/log" && fail "--k 51 was accepted"
grep -q -- "--k" "$tmp/log" || fail "--k message: $(cat "$tmp/log")"
kill "$server"; wait "$server" 2>/dev/null; server=""
./build/ftune dataset add-context --store "$vs" --base-url "$url" --in "$tmp/in.jsonl" --out "$tmp/out.jsonl" \
    2>"$tmp/log" && fail "an unreachable server was accepted"
grep -q "127.0.0.1:$port" "$tmp/log" || fail "unreachable message: $(cat "$tmp/log")"
[ -e "$tmp/out.jsonl" ] && fail "a failed run wrote its output"
echo "ok: dataset add-context --store"
