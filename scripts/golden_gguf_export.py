"""golden_gguf_export.py: llama.cpp's logits on ftune's merged F16 GGUF export, for
tests/unit/test_export_gguf.c. It exports stories260K with the committed adapter
tests/golden/gguf_export/adapter (a rank-2 LoRA ftune trained on toy sentences) merged:

    build/ftune export --model models/stories260K.gguf --adapter tests/golden/gguf_export/adapter \
        --merge --format gguf --type f16 --no-modelfile --out TMP

and writes tests/golden/gguf_export/merged_f16.json: the file's SHA-256 (the C test exports the
same file and checks it is byte-identical, so the logits belong to it) and the prompt ids, and
merged_f16_logits.bin: the logits (float32, position by position) llama.cpp (PyPI
llama-cpp-python, F32 KV cache, every position's logits) computes for them.
The C test runs ftune's forward pass on its own export and compares.

Regenerate (after `make build/ftune`):
    python3 -m pip install llama-cpp-python gguf numpy
    python3 scripts/golden_gguf_export.py
"""
import hashlib
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(ROOT, "tests"))
from gguf_export_check import load_llama_cpp  # noqa: E402  (the same llama.cpp settings as the test)
OUT = os.path.join(ROOT, "tests", "golden", "gguf_export")
# "<s>user: Tell me about toy 3.\nassistant: Toy 3 is a" in stories260K's vocabulary
PROMPT = "<s>user: Tell me about toy 3.\nassistant: Toy 3 is a"


def main():
    llama_cpp = load_llama_cpp()
    ftune = os.path.join(ROOT, "build", "ftune")
    model = os.path.join(ROOT, "models", "stories260K.gguf")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "merged-f16.gguf")
        subprocess.run([ftune, "export", "--model", model, "--adapter", os.path.join(OUT, "adapter"), "--merge",
                        "--format", "gguf", "--type", "f16", "--no-modelfile", "--out", path], check=True, cwd=ROOT)
        sha = hashlib.sha256(open(path, "rb").read()).hexdigest()
        ids = json.loads(subprocess.run([ftune, "tokenize", "--model", model, "--no-special", PROMPT], check=True,
                                        capture_output=True, text=True, cwd=ROOT).stdout)
        llm = llama_cpp.Llama(model_path=path, n_ctx=64, logits_all=True, type_k=0, type_v=0, n_threads=1, seed=0,
                              verbose=False)
        llm.eval(ids)
        logits = np.array(llm.scores[:len(ids)], dtype=np.float32)
    with open(os.path.join(OUT, "merged_f16.json"), "w") as f:
        json.dump({"sha256": sha, "ids": ids, "vocab": int(logits.shape[1]),
                   "llama_cpp_python": llama_cpp.__version__}, f)
    logits.astype("<f4").tofile(os.path.join(OUT, "merged_f16_logits.bin"))
    print("wrote", os.path.join(OUT, "merged_f16.json"), len(ids), "positions")


if __name__ == "__main__":
    main()
