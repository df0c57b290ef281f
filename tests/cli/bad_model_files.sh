#!/usr/bin/env bash
# Corrupt or missing model files: a clear error naming the file, exit status 2, never a crash.
set -uo pipefail
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
expect() { # description, expected-substring, command...
    local what=$1 needle=$2
    shift 2
    out=$("$@" 2>&1)
    rc=$?
    [ $rc -eq 2 ] || fail "$what: exit status $rc, expected 2 ($out)"
    grep -qF -- "$needle" <<<"$out" || fail "$what: message '$out' lacks '$needle'"
}
head -c 2000 models/stories260K.gguf >"$tmp/truncated.gguf"
printf 'GGUX' >"$tmp/badmagic.gguf"; tail -c +5 models/stories260K.gguf >>"$tmp/badmagic.gguf"
printf '\x10\x00\x00\x00\x00\x00\x00\x00{"a":1}' >"$tmp/short.safetensors"
mkdir "$tmp/hf"; echo '{"model_type": "gpt_neox", "hidden_size": 8}' >"$tmp/hf/config.json"
mkdir "$tmp/hf2"; echo '{"model_type": "llama",' >"$tmp/hf2/config.json"
expect "truncated gguf" "truncated.gguf" ./build/ftune info --model "$tmp/truncated.gguf"
expect "bad magic" "bad magic" ./build/ftune info --model "$tmp/badmagic.gguf"
expect "missing file" "no such model" ./build/ftune chat --model "$tmp/none.gguf" hello
expect "unknown architecture" "unsupported model_type 'gpt_neox'" ./build/ftune info --model "$tmp/hf"
expect "bad config json" "config.json: line" ./build/ftune info --model "$tmp/hf2"
expect "tokenize on corrupt" "bad magic" ./build/ftune tokenize --model "$tmp/badmagic.gguf" hi
expect "bad option" "unknown option --temp" ./build/ftune chat --model models/stories260K.gguf --temp 1 hi
expect "bad number" "--top-p" ./build/ftune chat --model models/stories260K.gguf --top-p 2 hi
echo ok
