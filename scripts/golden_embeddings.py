#!/usr/bin/env python3
"""golden_embeddings.py: writes tests/golden/embeddings/all-MiniLM-L6-v2.json, the reference the
C tests (tests/unit/test_embed.c) compare ftune's WordPiece tokenizer and BERT encoder with.

For each text of a small hard corpus (accents, CJK, Korean, punctuation, emoji, control
characters, numbers, mixed case, a word longer than 100 characters, an empty string, a text of
more than 256 tokens) it records:
  - "ids": the ids PyPI `tokenizers` gives (Tokenizer.from_file(tokenizer.json), no truncation,
    no padding, add_special_tokens=True);
  - "model_ids": the ids sentence-transformers feeds the model (truncated at max_seq_length 256);
  - "decoded": those ids decoded back by the same tokenizer (special tokens kept);
  - "embedding": SentenceTransformer(folder).encode(text) in float32 (mean pooling over the
    attention mask, L2-normalised), batched as sentence-transformers batches.
It also records, per text, the largest difference between that float32 embedding and the same
model run in float64 ("fp32_error"): the size of float32 rounding noise in the reference itself,
from which the C test's tolerance is derived (see test_embed.c).

Reference: sentence-transformers 2.x with transformers 4.3x on PyTorch (Debian's 1.13 works):
  python3 -m venv --system-site-packages /tmp/stvenv   # under /usr/bin/python3 (python3-torch)
  /tmp/stvenv/bin/pip install 'transformers<4.40' 'sentence-transformers<3'
  /tmp/stvenv/bin/python scripts/golden_embeddings.py [models/all-MiniLM-L6-v2]
Run from the repository root (scripts/fetch_models.sh puts the model folder in models/)."""
import json
import os
import sys

import numpy as np
import sentence_transformers
import tokenizers
import torch
import transformers
from sentence_transformers import SentenceTransformer

LONG = ("The quick brown fox jumps over the lazy dog while the committee reviews quarterly "
        "earnings, refunds, chargebacks and card activations across forty-two regions. ") * 12

TEXTS = [
    "Hello world",
    "",
    " ",
    "I lost my card, can you block it?",
    "Café déjà vu: naïve façade, Ærøskøbing, Straße, ĞÜŞİÖÇ ığüşöç.",
    "机器学习是人工智能的一个分支。",
    "東京タワーとスカイツリー、どっちが高い？",
    "한국어 문장도 처리할 수 있나요?",
    "Ελληνικά: ΣΊΣΥΦΟΣ και ΟΔΥΣΣΕΑΣ",
    "Привет, мир! Как дела?",
    "مرحبا بالعالم",
    "Prices: $1,234.56 (+7.5%) on 2024-03-15 at 10:30pm; ID #A-99/3.",
    "MiXeD CaSe WoRdS and ALLCAPS and lowercase",
    "emoji 😀🚀 and symbols ©®™ → ≠ ∞ ½",
    "tabs\tand\nnewlines\r\nand\u00a0nbsp\u2003em-space\u200bzero-width\u0007bell",
    "e\u0301 combining acute, a\u030a ring, n\u0303 tilde",
    "[CLS] literal specials [SEP] and [MASK] and [unk]",
    "https://example.com/path?query=1&x=y#frag user@example.org",
    "pneumonoultramicroscopicsilicovolcanoconiosis" * 3,
    "don't won't can't I'm you're we've it's",
    LONG,
]


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else "models/all-MiniLM-L6-v2"
    out_dir = "tests/golden/embeddings"
    os.makedirs(out_dir, exist_ok=True)
    tok = tokenizers.Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    model = SentenceTransformer(folder, device="cpu")
    model.eval()
    emb32 = model.encode(TEXTS, batch_size=8, convert_to_numpy=True)
    model64 = SentenceTransformer(folder, device="cpu").double()
    with torch.no_grad():
        emb64 = model64.encode(TEXTS, batch_size=8, convert_to_numpy=True)
    cases = []
    for i, text in enumerate(TEXTS):
        ids = tok.encode(text, add_special_tokens=True).ids
        model_ids = model.tokenize([text])["input_ids"][0].tolist()
        e = emb32[i].astype(np.float32)
        cases.append({
            "text": text,
            "ids": ids,
            "model_ids": model_ids,
            "decoded": tok.decode(ids, skip_special_tokens=False),
            "fp32_error": float(np.max(np.abs(e.astype(np.float64) - emb64[i]))),
            "embedding": [float(x) for x in e],
        })
    doc = {
        "model": os.path.basename(os.path.normpath(folder)),
        "reference": f"sentence-transformers {sentence_transformers.__version__}, transformers "
                     f"{transformers.__version__}, tokenizers {tokenizers.__version__}, torch {torch.__version__}",
        "max_seq_length": model.max_seq_length,
        "dim": int(emb32.shape[1]),
        "cases": cases,
    }
    path = os.path.join(out_dir, "all-MiniLM-L6-v2.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=None, separators=(",", ":"))
        f.write("\n")
    worst = max(c["fp32_error"] for c in cases)
    print(f"{path}: {len(cases)} texts, dim {doc['dim']}, max_seq_length {doc['max_seq_length']}, "
          f"largest fp32-vs-fp64 difference {worst:.3g}; lengths {[len(c['ids']) for c in cases]}")


if __name__ == "__main__":
    main()
