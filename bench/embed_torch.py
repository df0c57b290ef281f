#!/usr/bin/env python3
"""embed_torch.py: sentence-transformers' encode() throughput (texts/s) on the same texts and batch
sizes as build/bench_embed (1, 2, 4, ..., 256 texts a batch, each for at least 2 s, tokenization
included), on PyTorch CPU with THREADS threads. One JSON line per batch size: {"impl":
"sentence-transformers", "batch", "texts_per_s", "texts_per_cpu_s"} (the second per second of the
process's CPU time, as bench_embed reports it). Usage: embed_torch.py MODEL_DIR TEXTS_FILE [THREADS]
Needs sentence-transformers (see scripts/golden_embeddings.py for a set of versions that works)."""
import json
import sys
import time

import torch
from sentence_transformers import SentenceTransformer

MIN_SECONDS = 2.0


def main():
    model_dir, texts_path = sys.argv[1], sys.argv[2]
    threads = int(sys.argv[3]) if len(sys.argv) > 3 and int(sys.argv[3]) > 0 else None
    if threads:
        torch.set_num_threads(threads)
    with open(texts_path, encoding="utf-8") as f:
        texts = [line.rstrip("\r\n") for line in f if line.strip()]
    model = SentenceTransformer(model_dir, device="cpu")
    model.encode(texts[:8])  # warm-up
    batch = 1
    while batch <= 256:
        done, nxt, t0, c0 = 0, 0, time.perf_counter(), time.process_time()
        while time.perf_counter() - t0 < MIN_SECONDS:
            chunk = [texts[(nxt + i) % len(texts)] for i in range(batch)]
            nxt = (nxt + batch) % len(texts)
            model.encode(chunk, batch_size=batch, convert_to_numpy=True)
            done += batch
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        print(json.dumps({"impl": "sentence-transformers", "batch": batch, "texts_per_s": round(done / wall, 1),
                          "texts_per_cpu_s": round(done / cpu, 1)}), flush=True)
        batch *= 2


if __name__ == "__main__":
    main()
