#!/usr/bin/env bash
# `ftune validate` as a command: exit status 2 for inputs it cannot read (missing file, directory,
# bad model, bad options), 0/1 for valid/invalid data, the --json report, the note when no model
# is given, and token statistics with a model on the real support-triage dataset when it is here.
set -uo pipefail
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
run() { out=$("$@" 2>&1); rc=$?; }
corpus=tests/data/validate

run ./build/ftune validate "$tmp/none.jsonl"
[[ $rc == 2 ]] || fail "missing file: exit $rc"
grep -q "none.jsonl: No such file" <<<"$out" || fail "missing file message: $out"
run ./build/ftune validate "$tmp"
[[ $rc == 2 ]] || fail "directory: exit $rc"
grep -q "is a directory" <<<"$out" || fail "directory message: $out"
run ./build/ftune validate "$corpus/valid_basic.jsonl" --model "$tmp/none.gguf"
[[ $rc == 2 ]] || fail "missing model: exit $rc"
grep -q "no such model" <<<"$out" || fail "missing model message: $out"
run ./build/ftune validate "$corpus/valid_basic.jsonl" --method rl
[[ $rc == 2 ]] || fail "bad method: exit $rc"
run ./build/ftune validate "$corpus/valid_basic.jsonl" --max-problems -1
[[ $rc == 2 ]] || fail "bad --max-problems: exit $rc"
run ./build/ftune validate "$corpus/valid_basic.jsonl" --frobnicate
[[ $rc == 2 ]] || fail "unknown option: exit $rc"
run ./build/ftune validate
[[ $rc == 2 ]] || fail "no file: exit $rc"
run ./build/ftune validate --help
[[ $rc == 0 ]] && grep -q "usage: ftune validate" <<<"$out" || fail "--help: $rc $out"

run ./build/ftune validate "$corpus/valid_tools.jsonl"
[[ $rc == 0 ]] || fail "valid file: exit $rc: $out"
grep -qx "valid: 11 examples" <<<"$out" || fail "verdict: $out"
grep -q "^token counts: not computed" <<<"$out" || fail "no note about token counts: $out"

run ./build/ftune validate "$corpus/unknown_role.jsonl" --json
[[ $rc == 1 ]] || fail "--json invalid: exit $rc"
python3 - "$out" <<'PY' || fail "--json report: $out"
import json, sys
r = json.loads(sys.argv[1])
assert r["valid"] is False and r["errors"] == 1 and r["examples"] == 11, r
p = r["problems"][0]
assert (p["line"], p["path"], p["code"]) == (7, "messages[2].role", "unknown_role"), p
assert p["text"] == 'line 7: messages[2].role: unknown role "assistnat"', p
assert r["statistics"]["tokens_per_example"] is None and r["model"] is None
assert r["statistics"]["n_epochs"] == 10
PY

model=models/SmolLM2-135M-Instruct.Q4_1.gguf
data=../shared/data/support-triage/train.jsonl
if [[ -e $model && -e $data ]]; then
    run ./build/ftune validate "$data" --model "$model"
    [[ $rc == 0 ]] || fail "support-triage: exit $rc: $out"
    grep -q "^  tokens  " <<<"$out" || fail "no token statistics: $out"
    grep -q "^epochs (auto): 3; tokens trained: " <<<"$out" || fail "no trained tokens: $out"
    grep -qx "valid: 300 examples" <<<"$out" || fail "verdict: $out"
    run ./build/ftune validate "$data" --model "$model" --max-length 50 --max-problems 3
    [[ $rc == 0 ]] || fail "--max-length: exit $rc"
    grep -q "^examples over 50 tokens (truncated): [1-9]" <<<"$out" || fail "--max-length: $out"
    grep -q "more not listed" <<<"$out" || fail "cap not reported: $out"
else
    echo "skip: $model or $data missing"
fi
echo ok
