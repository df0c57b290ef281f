#!/usr/bin/python3
"""torch_train_bench.py: the PyTorch side of the LoRA training speed benchmark (bench_train.c is the
ftune side, with the same configuration). Prints one JSON object on stdout.

Usage (from the repository root, with Debian's python, which has torch, gguf and numpy):
    /usr/bin/python3 bench/torch_train_bench.py [threads] [model.gguf] [fp32|bf16]
    # default 2 threads, SmolLM2, fp32; bf16: the forward and the loss under
    # torch.autocast("cpu", dtype=torch.bfloat16) (oneDNN's bf16 kernels, AMX where the CPU has it)

Configuration:
  - SmolLM2-135M-Instruct from models/SmolLM2-135M-Instruct.Q4_1.gguf (or the GGUF named), every
    tensor dequantized to fp32 with the `gguf` package (scripts/reference_logits.load_gguf); base
    weights frozen. The forward is a batched fp32 Llama/Qwen2 written here (RMSNorm, RoPE as the
    GGUF stores q/k: interleaved pairs for llama, rotate-half for qwen2; q/k/v biases when present,
    GQA causal attention, SwiGLU MLP, output head tied to token_embd or separate).
  - LoRA rank 8, alpha 16 on q, k, v, o, gate, up, down of every layer: y = W x + (alpha/r) B (A x),
    A (r, in) and B (out, r) both small random (seeded, B non-zero), no dropout. Only A and B
    require grad.
  - One batch of 8 x 128 random in-vocabulary ids (fixed seed), causal LM loss on every position
    (mean cross-entropy of predicting token t+1 from positions <= t), one AdamW step (lr 1e-4) per
    training step (zero_grad, forward, loss, backward, optimizer step are all timed).
  - 2 warm-up steps, then 5 timed steps (FTUNE_BENCH_STEPS): best and median step time;
    tokens/s = 8*128 / best.
  - Model FLOPs utilisation: k * N * tokens/s / (measured fp32 matmul rate), N = parameters of the
    base linear layers plus the (tied) output head. 6N is the usual forward + backward estimate;
    with frozen base weights the weight-gradient matmuls are skipped, so 4N (forward 2N + input
    gradient 2N) is the work actually done (LoRA and attention-score matmuls are not counted).
    The matmul rate is torch.matmul of (1024, 576) x (576, 1536) fp32 at the same thread count,
    best of 10, measured before and after the training steps (the higher of the two is used, so a
    burst of load from other processes does not inflate the utilisation).
  - Threads: torch.set_num_threads(threads) and one interop thread. Debian's torch calls the system
    BLAS (OpenBLAS, pthreads build by default), whose thread count torch.set_num_threads does not
    set, so OPENBLAS_NUM_THREADS is set to the same number before torch is imported (unless it is
    already set in the environment).
"""
import json
import os
import resource
import statistics
import sys
import time

THREADS = int(sys.argv[1]) if len(sys.argv) > 1 else 2
os.environ.setdefault("OPENBLAS_NUM_THREADS", str(THREADS))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "scripts"))
import reference_logits as R  # noqa: E402

MODEL = sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] else os.path.join(REPO, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
PRECISION = sys.argv[3] if len(sys.argv) > 3 else "fp32"
assert PRECISION in ("fp32", "bf16"), "precision must be fp32 or bf16"
BATCH, SEQ = 8, 128
RANK, ALPHA = 8, 16
LORA_A_STD, LORA_B_STD = 0.02, 0.02
LR = 1e-4
N_WARMUP, N_TIMED = 2, int(os.environ.get("FTUNE_BENCH_STEPS", "5"))  # fewer on big models
SEED = 1234
MM_SHAPE = (1024, 576, 1536)
TARGETS = ("q", "k", "v", "o", "gate", "up", "down")


class LoraLinear(torch.nn.Module):
    """Frozen fp32 weight W (out, in) and optional bias, plus a trainable rank-r delta."""

    def __init__(self, weight, rank, alpha, gen, bias=None):
        super().__init__()
        out_f, in_f = weight.shape
        self.register_buffer("weight", weight)  # frozen: not a parameter, requires_grad False
        self.register_buffer("bias", bias)
        self.lora_A = torch.nn.Parameter(torch.randn(rank, in_f, generator=gen) * LORA_A_STD)
        self.lora_B = torch.nn.Parameter(torch.randn(out_f, rank, generator=gen) * LORA_B_STD)
        self.scale = alpha / rank

    def forward(self, x):
        return F.linear(x, self.weight, self.bias) + F.linear(F.linear(x, self.lora_A), self.lora_B) * self.scale


class Block(torch.nn.Module):
    def __init__(self, L, cfg, gen):
        super().__init__()
        self.nh, self.nkv, self.hd, self.eps, self.rope_style = cfg
        self.register_buffer("attn_norm", L["attn_norm"])
        self.register_buffer("ffn_norm", L["ffn_norm"])
        src = {"q": "wq", "k": "wk", "v": "wv", "o": "wo", "gate": "w_gate", "up": "w_up", "down": "w_down"}
        bias = {"q": L.get("bq"), "k": L.get("bk"), "v": L.get("bv")}
        for name in TARGETS:
            setattr(self, name, LoraLinear(L[src[name]], RANK, ALPHA, gen, bias.get(name)))

    def rope(self, x, cos, sin):
        """x: (B, H, T, D); rotates the pairs (2i, 2i+1) (interleaved) or (i, i + D/2) of each head."""
        if self.rope_style == "interleaved":
            x2 = x.unflatten(-1, (-1, 2))
            a, b = x2[..., 0], x2[..., 1]
            return torch.stack((a * cos - b * sin, a * sin + b * cos), dim=-1).flatten(-2)
        a, b = x.chunk(2, dim=-1)
        return torch.cat((a * cos - b * sin, a * sin + b * cos), dim=-1)

    def forward(self, x, cos, sin, mask):
        B, T, C = x.shape
        h = R.rms_norm(x, self.attn_norm, self.eps)
        q = self.q(h).view(B, T, self.nh, self.hd).transpose(1, 2)   # (B, H, T, D)
        k = self.k(h).view(B, T, self.nkv, self.hd).transpose(1, 2)  # (B, KV, T, D)
        v = self.v(h).view(B, T, self.nkv, self.hd).transpose(1, 2)
        q, k = self.rope(q, cos, sin), self.rope(k, cos, sin)
        rep = self.nh // self.nkv                                     # query head h uses kv head h // rep
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        att = (q @ k.transpose(-1, -2)) * (self.hd ** -0.5)          # (B, H, T, S)
        att = att.masked_fill(mask, float("-inf")).softmax(dim=-1)
        o = (att @ v).transpose(1, 2).reshape(B, T, C)
        x = x + self.o(o)
        h = R.rms_norm(x, self.ffn_norm, self.eps)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


class LoraLlama(torch.nn.Module):
    def __init__(self, m, gen):
        super().__init__()
        cfg = (m.n_heads, m.n_kv_heads, m.head_dim, m.eps, m.rope)
        self.eps, self.head_dim, self.theta = m.eps, m.head_dim, m.rope_theta
        self.register_buffer("embed", m.embed)  # (V, C), also the output head when tied
        self.register_buffer("head", m.head)
        self.register_buffer("final_norm", m.final_norm)
        self.blocks = torch.nn.ModuleList(Block(L, cfg, gen) for L in m.layers)

    def forward(self, ids):
        B, T = ids.shape
        cos, sin = R.rope_cos_sin(T, self.head_dim, self.theta, torch.float32)  # (T, 1, D/2)
        cos, sin = cos.transpose(0, 1), sin.transpose(0, 1)                      # (1, T, D/2)
        mask = torch.ones(T, T, dtype=torch.bool).triu(1)                        # True where s > t
        x = F.embedding(ids, self.embed)
        for blk in self.blocks:
            x = blk(x, cos, sin, mask)
        return F.linear(R.rms_norm(x, self.final_norm, self.eps), self.head)  # (B, T, V)


def matmul_gflops(threads):
    M, K, N = MM_SHAPE
    g = torch.Generator().manual_seed(SEED)
    a, b = torch.randn(M, K, generator=g), torch.randn(K, N, generator=g)
    out = torch.empty(M, N)
    torch.matmul(a, b, out=out)
    best = 1e9
    for _ in range(10):
        t0 = time.perf_counter()
        torch.matmul(a, b, out=out)
        best = min(best, time.perf_counter() - t0)
    return 2.0 * M * K * N / best / 1e9


def main():
    threads = THREADS
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    if not os.path.exists(MODEL):
        sys.exit("%s missing: run `bash scripts/fetch_models.sh` from the repository root" % MODEL)

    t0 = time.perf_counter()
    m = R.load_gguf(MODEL)
    load_s = time.perf_counter() - t0
    vocab_size = m.embed.shape[0]
    gen = torch.Generator().manual_seed(SEED)
    model = LoraLlama(m, gen)
    del m
    params = [p for p in model.parameters()]
    assert all(p.requires_grad for p in params)
    assert not any(b.requires_grad for b in model.buffers())
    n_lora = sum(p.numel() for p in params)
    n_matmul = sum(blk_lin.weight.numel() for blk in model.blocks for blk_lin in
                   (getattr(blk, t) for t in TARGETS)) + model.head.numel()  # + output head

    ids = torch.randint(0, vocab_size, (BATCH, SEQ), generator=torch.Generator().manual_seed(SEED))
    # Position t predicts ids[t+1]; the last position has no target (ignore_index), so the mean is
    # over BATCH * (SEQ - 1) predictions, without copying the shifted logits.
    targets = torch.cat([ids[:, 1:], torch.full((BATCH, 1), -100, dtype=ids.dtype)], dim=1).reshape(-1)
    opt = torch.optim.AdamW(params, lr=LR)

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=PRECISION == "bf16"):
            logits = model(ids)
            loss = F.cross_entropy(logits.view(-1, vocab_size), targets, ignore_index=-100)
        loss.backward()
        opt.step()
        return float(loss)

    rss_before_steps = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rate_before = matmul_gflops(threads)
    losses, times = [], []
    for _ in range(N_WARMUP):
        losses.append(step())
    for _ in range(N_TIMED):
        t0 = time.perf_counter()
        losses.append(step())
        times.append(time.perf_counter() - t0)

    rate_after = matmul_gflops(threads)
    rate = max(rate_before, rate_after)
    best, median = min(times), statistics.median(times)
    tok_s = BATCH * SEQ / best
    print(json.dumps({
        "engine": "pytorch", "precision": PRECISION + (" autocast" if PRECISION == "bf16" else ""),
        "torch": torch.__version__, "threads": threads,
        "batch": BATCH, "seq": SEQ,
        "step_s_best": round(best, 4), "step_s_median": round(median, 4),
        "tokens_per_s": round(tok_s, 1),
        "tokens_per_s_median": round(BATCH * SEQ / median, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "matmul_gflops": round(rate, 1),
        "mfu_4n": round(4 * n_matmul * tok_s / (rate * 1e9), 3),
        "mfu_6n": round(6 * n_matmul * tok_s / (rate * 1e9), 3),
        "n_params_matmul": n_matmul, "n_params_lora": n_lora,
        "peak_rss_before_steps_mib": round(rss_before_steps), "load_s": round(load_s, 2),
        "openblas_num_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
        "lora_rank": RANK, "lora_alpha": ALPHA, "lr": LR,
        "matmul_shape": list(MM_SHAPE),
        "matmul_gflops_before_after": [round(rate_before, 1), round(rate_after, 1)],
        "step_s_all": [round(t, 4) for t in times],
        "loss_first": round(losses[0], 4), "loss_last": round(losses[-1], 4),
        "model": os.path.relpath(MODEL, REPO),
    }))


if __name__ == "__main__":
    main()
