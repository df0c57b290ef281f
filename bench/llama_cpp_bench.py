"""llama_cpp_bench.py: the same measurements as bench_infer.c, on llama.cpp through PyPI
llama-cpp-python: load time, prefill tokens/s for a prompt of N tokens (one batch), decode tokens/s
for M greedy tokens at batch 1, peak RSS. Prints one JSON object.
Usage: python3 bench/llama_cpp_bench.py MODEL [threads] [prompt_tokens] [decode_tokens]"""
import json
import random
import resource
import sys
import time

import llama_cpp
import numpy as np
from llama_cpp import Llama

model = sys.argv[1]
threads = int(sys.argv[2]) if len(sys.argv) > 2 else 2
n_prompt = int(sys.argv[3]) if len(sys.argv) > 3 else 512
n_decode = int(sys.argv[4]) if len(sys.argv) > 4 else 128

# On CPUs with AMX, this llama.cpp build's AMX weight buffers crash during decoding: they are
# turned off there (use_extra_bufts=False, so llama.cpp runs its AVX-512 kernels) and the JSON says so.
amx = "amx_tile" in open("/proc/cpuinfo").read()
if amx:
    import llama_cpp.llama_cpp as llama_cpp_c
    default_params = llama_cpp_c.llama_model_default_params

    def no_extra_bufts():
        p = default_params()
        p.use_extra_bufts = False
        return p
    llama_cpp_c.llama_model_default_params = no_extra_bufts
t0 = time.perf_counter()
llm = Llama(model_path=model, n_threads=threads, n_threads_batch=threads, n_ctx=n_prompt + n_decode + 16,
            n_batch=n_prompt, n_ubatch=n_prompt, verbose=False)
load_s = time.perf_counter() - t0
rng = random.Random(1)
ids = [100 + rng.randrange(llm.n_vocab() - 200) for _ in range(n_prompt)]
llm.eval(ids[:16])  # warm-up
prefill_best = decode_best = 1e9
for _ in range(3):
    llm.reset()
    t0 = time.perf_counter()
    llm.eval(ids)
    prefill_best = min(prefill_best, time.perf_counter() - t0)
    t0 = time.perf_counter()
    for _ in range(n_decode):
        last = llama_cpp.llama_get_logits_ith(llm.ctx, -1)  # the last evaluated token's logits
        nxt = int(np.argmax(np.ctypeslib.as_array(last, shape=(llm.n_vocab(),))))
        llm.eval([nxt])
    decode_best = min(decode_best, time.perf_counter() - t0)
print(json.dumps({
    "engine": "llama.cpp (llama-cpp-python)", "model": model, "threads": threads, "load_s": round(load_s, 3),
    "prefill_tokens": n_prompt, "prefill_tok_s": round(n_prompt / prefill_best, 1),
    "decode_tokens": n_decode, "decode_tok_s": round(n_decode / decode_best, 1),
    "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    "amx_buffers": "off (use_extra_bufts=False)" if amx else "n/a",
}))
