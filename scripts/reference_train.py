#!/usr/bin/python3
"""reference_train.py: independent PyTorch reference for LoRA fine-tuning (loss, gradients, AdamW).

Usage (from the repository root, with Debian's torch):
    /usr/bin/python3 scripts/reference_train.py [--only NAME ...]     # writes the goldens
    PYTHONPATH=DIR_WITH_transformers_AND_peft /usr/bin/python3 scripts/reference_train.py --peft-check
                                                                     # checks them, writes nothing

For each model (stories260K: models/stories260K.gguf; tiny_qwen2: models/tiny-qwen2) writes
tests/golden/train/<name>/ (see tests/golden/train/README.md for every file and convention):
  adapter_init/{adapter_model.safetensors,adapter_config.json}  seeded LoRA A and B, PEFT layout
  batch.json         sequences, loss masks, initial loss, AdamW settings and per-step losses
  grads.safetensors  fp32 gradient of the initial loss w.r.t. every LoRA tensor (PEFT key names)
  grads_fp64.safetensors  the same computed in float64
  adapter_step5/adapter_model.safetensors  LoRA tensors after the 5 AdamW steps (fp32 run)
  lora_logits.json   logits with the initial adapter (argmax per position, last position of seq 0)

The model is the forward of scripts/reference_logits.py (imported) with a LoRA delta added to the
output of each of the seven projections of every layer:
    y = W x (+ b) + (alpha / r) * B (A x),   A: (r, in), B: (out, r)
A and B are in Hugging Face row order (PEFT semantics). The GGUF llama model is kept as GGUF stores
it (q/k rows permuted for interleaved-pair RoPE), so the rows of B for q_proj and k_proj are
permuted here into the stored order (hf_to_gguf_rows); the script also asserts that the model
un-permuted to HF order with rotate-half RoPE and the un-permuted adapter gives the same loss and
gradients (float64), which is the path the C code is expected to take.
Everything is computed twice, in float32 (the goldens) and float64 (the cross-check); the gaps
are recorded in batch.json under "fp32_vs_fp64".

--peft-check loads the written adapters with PyPI peft onto transformers' Qwen2ForCausalLM
(models/tiny-qwen2) and LlamaForCausalLM (built from the GGUF weights, q/k un-permuted) and
compares logits, loss and gradients with this reference. It needs transformers and peft importable
by Debian's python (e.g. pip install --no-deps --target DIR transformers==4.44.2 peft==0.13.2
accelerate==0.34.2 tokenizers==0.19.1 huggingface_hub==0.24.6 plus their small pure-python deps).
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_logits as R  # noqa: E402

REPO = R.REPO
GOLDEN_DIR = os.path.join(REPO, "tests", "golden", "train")
TARGETS = list(R.LORA_TARGETS)
RANK = 4
ALPHA = 8
SCALE = ALPHA / RANK
INIT_STD = 0.05
ADAMW = {"lr": 1e-3, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.01, "clip_grad_norm": 1.0}
N_STEPS = 5
LENGTHS = (20, 33, 47)
ATTN_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj")

# stories260K: plain story text, BOS first; trained token spans [start, end) are token indices.
STORY_SEQS = [
    ("Lily and Ben went to the beach. Ben said, \"Look, a crab!\" Lily laughed and said, \"It is funny.\"",
     [(17, 20)]),             # only 3 trained tokens: ' "', 'L', 'oo'
    ("Mom made a big cake for Sam. Sam asked, \"Can I eat it now?\" Mom smiled and said, \"After dinner, "
     "my love.\" Sam waited.",
     [(21, 32)]),             # ' "Can I eat it now?"'
    ("The little dog was hungry. He asked his friend the cat, \"Can I have some of your food?\" The cat "
     "said, \"Yes, you can share my fish.\" The dog was very happy.",
     [(6, 12), (22, 39), (44, 47)]),   # ' hungry.', ' "Can I have some of your food?"', ' "Yes'
]

# tiny_qwen2: ChatML conversations (the model's template is plain ChatML, no BOS); the trained span
# of an assistant turn is its content and <|im_end|> (not the "\n" after it), as a chat trainer does.
# Whole conversations less the final "\n": 21, 33 and 48 tokens.
QWEN_SEQS = [
    [("user", "Hi"), ("assistant", "Ok.")],
    [("user", "Add 2 and 3."), ("assistant", "2 + 3 = 5.")],
    [("user", "Hi."), ("assistant", "Hello!"), ("user", "Bye?"), ("assistant", "Bye.")],
]


# ---------------------------------------------------------------------------------------------
# Batches
# ---------------------------------------------------------------------------------------------

def spans_to_token_mask(n, spans):
    mk = [0] * n
    for a, b in spans:
        for j in range(a, min(b, n)):
            mk[j] = 1
    return mk


def stories_batch(m):
    seqs, tmasks = [], []
    for (text, spans), n in zip(STORY_SEQS, LENGTHS):
        ids = R.spm_encode(text, m.vocab, add_bos=True)
        assert len(ids) >= n, (len(ids), n)
        seqs.append(ids[:n])
        tmasks.append(spans_to_token_mask(n, spans))
    return seqs, tmasks


def qwen_batch(dirpath):
    tok = os.path.join(dirpath, "tokenizer.json")
    seqs, tmasks = [], []
    for conv, n in zip(QWEN_SEQS, LENGTHS):
        pieces = []
        for role, content in conv:
            if role == "assistant":
                pieces += [("<|im_start|>assistant\n", 0), (content + "<|im_end|>", 1), ("\n", 0)]
            else:
                pieces.append(("<|im_start|>%s\n%s<|im_end|>\n" % (role, content), 0))
        ids, mk = [], []
        for text, trained in pieces:
            p = R.tok_child(tokenizer=tok, text=text)["ids"]
            ids += p
            mk += [trained] * len(p)
        assert "".join(t for t, _ in pieces) == R.render_chatml([{"role": r, "content": c} for r, c in conv], False)
        n_last = len(R.tok_child(tokenizer=tok, text=pieces[-1][0])["ids"])
        ids, mk = ids[:-n_last], mk[:-n_last]         # drop the final "\n"
        assert abs(len(ids) - n) <= 2, (len(ids), n, conv)
        seqs.append(ids)
        tmasks.append(mk)
    return seqs, tmasks


# ---------------------------------------------------------------------------------------------
# LoRA
# ---------------------------------------------------------------------------------------------

def hf_to_gguf_rows(w, n_head):
    """Row order of a q/k projection output: HF (rotate-half) -> GGUF (interleaved pairs).
    Within each head of D rows, GGUF row 2*i + j holds HF row j*D/2 + i."""
    D = w.shape[0] // n_head
    return w.reshape(n_head, 2, D // 2, *w.shape[1:]).transpose(1, 2).reshape(w.shape)


def gguf_to_hf_rows(w, n_head):
    D = w.shape[0] // n_head
    return w.reshape(n_head, D // 2, 2, *w.shape[1:]).transpose(1, 2).reshape(w.shape)


def lora_shapes(m):
    C = m.embed.shape[1]
    F = m.layers[0]["w_gate"].shape[0]
    q, kv = m.n_heads * m.head_dim, m.n_kv_heads * m.head_dim
    io = {"q_proj": (C, q), "k_proj": (C, kv), "v_proj": (C, kv), "o_proj": (q, C),
          "gate_proj": (C, F), "up_proj": (C, F), "down_proj": (F, C)}
    return io


def module_path(i, name):
    return "model.layers.%d.%s.%s" % (i, "self_attn" if name in ATTN_MODULES else "mlp", name)


def peft_key(i, name, which):
    return "base_model.model.%s.lora_%s.weight" % (module_path(i, name), which)


def init_adapter(m, seed):
    """{(i, name): (A (r, in), B (out, r))} float32 numpy, HF row order."""
    rng = np.random.default_rng(seed)
    io = lora_shapes(m)
    ad = {}
    for i in range(len(m.layers)):
        for name in TARGETS:
            fin, fout = io[name]
            A = (rng.standard_normal((RANK, fin)) * INIT_STD).astype(np.float32)
            B = (rng.standard_normal((fout, RANK)) * INIT_STD).astype(np.float32)
            ad[(i, name)] = (A, B)
    return ad


def adapter_tensors(ad):
    """PEFT state dict {key: np.float32 array}."""
    out = {}
    for (i, name), (A, B) in ad.items():
        out[peft_key(i, name, "A")] = np.ascontiguousarray(A)
        out[peft_key(i, name, "B")] = np.ascontiguousarray(B)
    return out


def make_lora(m, params, gguf_order):
    """params: {(i, name): (A, B)} torch tensors (HF order). Returns the forward()'s lora dict."""
    lora = {}
    for (i, name), (A, B) in params.items():
        def fn(h, A=A, B=B, name=name):
            Bs = B
            if gguf_order and name == "q_proj":
                Bs = hf_to_gguf_rows(B, m.n_heads)
            elif gguf_order and name == "k_proj":
                Bs = hf_to_gguf_rows(B, m.n_kv_heads)
            return ((h @ A.T) @ Bs.T) * SCALE
        lora[(i, name)] = fn
    return lora


def to_hf_order(m):
    """The GGUF llama model with q/k rows un-permuted and rotate-half RoPE (HF layout)."""
    layers = []
    for L in m.layers:
        L2 = dict(L)
        L2["wq"] = gguf_to_hf_rows(L["wq"], m.n_heads).contiguous()
        L2["wk"] = gguf_to_hf_rows(L["wk"], m.n_kv_heads).contiguous()
        layers.append(L2)
    d = dict(m.__dict__)
    d.update(layers=layers, rope="neox")
    return R.Model(**d)


# ---------------------------------------------------------------------------------------------
# Loss and training
# ---------------------------------------------------------------------------------------------

def batch_loss(m, seqs, pmasks, lora, dtype):
    """Sum of -log p(ids[t+1] | ids[..t]) over positions t with pmask[t] = 1, over all sequences,
    divided by the number of such positions. Each sequence alone, positions from 0."""
    total, count = None, 0
    for ids, pm in zip(seqs, pmasks):
        logits = R.forward(m, ids, dtype, lora)                     # (T, V)
        logp = torch.log_softmax(logits[:-1], dim=-1)               # (T-1, V)
        tgt = torch.tensor(ids[1:], dtype=torch.long)
        nll = -logp.gather(1, tgt[:, None])[:, 0]                   # (T-1,)
        sel = torch.tensor(pm, dtype=torch.bool)
        s = nll[sel].sum()
        total = s if total is None else total + s
        count += int(sel.sum())
    return total / count


def leaf_params(ad, dtype):
    p = {}
    for key, (A, B) in ad.items():
        p[key] = (torch.tensor(A, dtype=dtype, requires_grad=True), torch.tensor(B, dtype=dtype, requires_grad=True))
    return p


def flat(params):
    return [t for key in params for t in params[key]]


def run_training(m, seqs, pmasks, ad, dtype, gguf_order):
    """Initial loss and grads, then N_STEPS of clip + AdamW on the same batch."""
    params = leaf_params(ad, dtype)
    plist = flat(params)
    opt = torch.optim.AdamW(plist, lr=ADAMW["lr"], betas=tuple(ADAMW["betas"]), eps=ADAMW["eps"],
                            weight_decay=ADAMW["weight_decay"])
    lora = make_lora(m, params, gguf_order)
    losses, norms, grads0 = [], [], None
    for step in range(N_STEPS):
        opt.zero_grad()
        loss = batch_loss(m, seqs, pmasks, lora, dtype)
        loss.backward()
        if step == 0:
            grads0 = {key: (A.grad.detach().clone(), B.grad.detach().clone()) for key, (A, B) in params.items()}
        losses.append(float(loss))
        norms.append(float(torch.nn.utils.clip_grad_norm_(plist, ADAMW["clip_grad_norm"])))
        opt.step()
    with torch.no_grad():
        losses.append(float(batch_loss(m, seqs, pmasks, lora, dtype)))
    final = {key: (A.detach().clone(), B.detach().clone()) for key, (A, B) in params.items()}
    return {"losses": losses, "norms": norms, "grads": grads0, "final": final}


def init_grads(m, seqs, pmasks, ad, dtype, gguf_order):
    params = leaf_params(ad, dtype)
    loss = batch_loss(m, seqs, pmasks, make_lora(m, params, gguf_order), dtype)
    loss.backward()
    return float(loss), {key: (A.grad.detach().clone(), B.grad.detach().clone()) for key, (A, B) in params.items()}


# ---------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------

def to_state(d):
    """{(i, name): (A, B)} torch -> {peft key: tensor}"""
    out = {}
    for (i, name), (A, B) in d.items():
        out[peft_key(i, name, "A")] = A.contiguous()
        out[peft_key(i, name, "B")] = B.contiguous()
    return out


def save_st(tensors, path):
    from safetensors.torch import save_file
    os.makedirs(os.path.dirname(path), exist_ok=True)
    save_file({k: (torch.from_numpy(v) if isinstance(v, np.ndarray) else v) for k, v in tensors.items()},
              path, metadata={"format": "pt"})
    os.chmod(path, 0o644)


def adapter_config(model_rel):
    return {
        "alpha_pattern": {},
        "auto_mapping": None,
        "base_model_name_or_path": model_rel,
        "bias": "none",
        "fan_in_fan_out": False,
        "inference_mode": True,
        "init_lora_weights": True,
        "layers_pattern": None,
        "layers_to_transform": None,
        "lora_alpha": ALPHA,
        "lora_dropout": 0.0,
        "modules_to_save": None,
        "peft_type": "LORA",
        "r": RANK,
        "rank_pattern": {},
        "revision": None,
        "target_modules": sorted(TARGETS),
        "task_type": "CAUSAL_LM",
        "use_dora": False,
        "use_rslora": False,
    }


def f32(x):
    """Shortest decimal that reads back as the same float32."""
    return float("%.9g" % float(np.float32(x)))


def gap_stats(a, b):
    """a: fp32 results, b: fp64 results; {(i,name): (A, B)} each."""
    max_abs, max_rel_tensor, max_rel_elem = 0.0, 0.0, 0.0
    for key in a:
        for x, y in zip(a[key], b[key]):
            d = (x.double() - y).abs()
            max_abs = max(max_abs, float(d.max()))
            max_rel_tensor = max(max_rel_tensor, float(d.max() / y.abs().max()))
            floor = 1e-3 * float(y.abs().max())     # elements smaller than 1e-3 of the tensor's max
            max_rel_elem = max(max_rel_elem, float((d / y.abs().clamp(min=floor)).max()))
    d = torch.cat([(x.double() - y).abs().flatten() for key in a for x, y in zip(a[key], b[key])])
    return {"max_abs": max_abs, "max_abs_over_tensor_max_abs": max_rel_tensor,
            "max_elementwise_rel_floor_1e-3_of_tensor_max": max_rel_elem,
            "median_abs": float(d.median()), "p99.9_abs": float(torch.quantile(d, 0.999)),
            "n_elements": int(d.numel()), "n_over_1e-6": int((d > 1e-6).sum()), "n_over_1e-5": int((d > 1e-5).sum())}


def json_text(doc):
    """One top-level key per line (nested values on one line), notes one per line."""
    def val(k, v):
        if k == "notes":
            return "[\n    " + ",\n    ".join(json.dumps(x, ensure_ascii=False) for x in v) + "\n  ]"
        if isinstance(v, list) and v and all(isinstance(x, list) for x in v):
            return "[\n    " + ",\n    ".join(json.dumps(x, separators=(",", ":")) for x in v) + "\n  ]"
        if isinstance(v, list):
            return json.dumps(v, separators=(",", ":"), ensure_ascii=False)
        return json.dumps(v, ensure_ascii=False)
    return "{\n" + ",\n".join("  %s: %s" % (json.dumps(k), val(k, v)) for k, v in doc.items()) + "\n}\n"


def write_all(name, model_rel, m, gguf_order, seqs, tmasks, seed, decode):
    torch.set_num_threads(1)
    out = os.path.join(GOLDEN_DIR, name)
    pmasks = [tm[1:] for tm in tmasks]
    for tm in tmasks:
        assert tm[0] == 0
    ad = init_adapter(m, seed)

    r32 = run_training(m, seqs, pmasks, ad, torch.float32, gguf_order)
    r64 = run_training(m, seqs, pmasks, ad, torch.float64, gguf_order)
    ADAMW["weight_decay"], wd = 0.0, ADAMW["weight_decay"]
    r64_nowd = run_training(m, seqs, pmasks, ad, torch.float64, gguf_order)
    ADAMW["weight_decay"] = wd
    wd_move = torch.cat([(x - y).abs().flatten() for k in r64["final"]
                         for x, y in zip(r64["final"][k], r64_nowd["final"][k])])
    loss32, loss64 = r32["losses"][0], r64["losses"][0]

    # Permutation check (GGUF only): HF-order model + HF-order adapter, rotate-half RoPE.
    perm_note = None
    if gguf_order:
        mh = to_hf_order(m)
        lh, gh = init_grads(mh, seqs, pmasks, ad, torch.float64, gguf_order=False)
        gap = gap_stats({k: (a.float(), b.float()) for k, (a, b) in gh.items()}, r64["grads"])
        dl = abs(lh - loss64)
        dg = max(float((x - y).abs().max()) for k in gh for x, y in zip(gh[k], r64["grads"][k]))
        print("  %s: HF-order (un-permuted q/k, rotate-half) vs stored-order, float64: |dloss| %.2e, "
              "max|dgrad| %.2e" % (name, dl, dg))
        assert dl < 1e-12 and dg < 1e-12, (dl, dg, gap)
        perm_note = ("The same loss and gradients (float64, within 1e-12) come from the model un-permuted to HF "
                     "order (q/k rows, rotate-half RoPE) with the adapter as stored; asserted by the script.")

    # Files
    save_st(adapter_tensors(ad), os.path.join(out, "adapter_init", "adapter_model.safetensors"))
    with open(os.path.join(out, "adapter_init", "adapter_config.json"), "w") as f:
        f.write(json.dumps(adapter_config(model_rel), indent=2, sort_keys=True) + "\n")
    save_st({k: v.float() for k, v in to_state(r32["grads"]).items()}, os.path.join(out, "grads.safetensors"))
    save_st({k: v.double() for k, v in to_state(r64["grads"]).items()}, os.path.join(out, "grads_fp64.safetensors"))
    save_st({k: v.float() for k, v in to_state(r32["final"]).items()},
            os.path.join(out, "adapter_step5", "adapter_model.safetensors"))
    with open(os.path.join(out, "adapter_step5", "adapter_config.json"), "w") as f:
        f.write(json.dumps(adapter_config(model_rel), indent=2, sort_keys=True) + "\n")

    # Logits with the initial adapter (fp32), and without (for scale).
    with torch.no_grad():
        p32 = leaf_params(ad, torch.float32)
        lora = make_lora(m, p32, gguf_order)
        lg = [R.forward(m, ids, torch.float32, lora) for ids in seqs]
        lg64 = [R.forward(m, ids, torch.float64, make_lora(m, leaf_params(ad, torch.float64), gguf_order))
                for ids in seqs]
        base0 = R.forward(m, seqs[0], torch.float32)
    last0 = lg[0][-1]
    top2 = [torch.topk(x, 2, dim=-1) for x in lg]
    logit_gap = max(float((a.double() - b).abs().max()) for a, b in zip(lg, lg64))
    ldoc = {
        "model": model_rel,
        "adapter": "adapter_init",
        "vocab_size": int(last0.shape[0]),
        "sequences": "batch.json sequences (the same ids)",
        "argmax": [[int(i) for i in t.indices[:, 0]] for t in top2],
        "top2_margin": [[round(float(x), 6) for x in (t.values[:, 0] - t.values[:, 1])] for t in top2],
        "seq0_last_logits": [f32(x) for x in last0.tolist()],
        "seq0_last_max_abs_logit": f32(last0.abs().max()),
        "seq0_last_max_abs_diff_vs_no_adapter": f32((last0 - base0[-1]).abs().max()),
        "fp64_vs_fp32_max_abs_diff_all_positions": logit_gap,
        "notes": [
            "argmax[s][t], top2_margin[s][t]: over the vocabulary at position t of sequence s (predicting "
            "token t+1), forward with the adapter_init LoRA, fp32; a margin below the tolerance allows a "
            "different argmax.",
            "seq0_last_logits: the logits of the last position of sequence 0, fp32 values (shortest decimal "
            "that reads back as the same float32).",
            "seq0_last_max_abs_diff_vs_no_adapter: how far the adapter moves those logits (so that a forward "
            "ignoring the adapter cannot pass).",
        ],
    }
    with open(os.path.join(out, "lora_logits.json"), "w") as f:
        f.write(json_text(ldoc))

    n_tr = [sum(p) for p in pmasks]
    g32, g64 = r32["grads"], r64["grads"]
    gnorm = float(torch.sqrt(sum((t.double() ** 2).sum() for k in g32 for t in g32[k])))
    doc = {
        "model": model_rel,
        "sequences": seqs,
        "masks": pmasks,
        "mask_convention": "masks[s][t] for t in 0..len-2 (length len-1): 1 means the token sequences[s][t+1] "
                           "is a trained target, predicted from position t. token_masks[s] (length len) is the "
                           "same per token: token_masks[s][j] = 1 means token j is trained; token_masks[s][0] "
                           "is always 0 and masks[s] = token_masks[s][1:].",
        "token_masks": tmasks,
        "n_trained": n_tr,
        "n_trained_total": sum(n_tr),
        "trained_text": [decode([ids[j] for j in range(len(ids)) if tm[j]]) for ids, tm in zip(seqs, tmasks)],
        "text": [decode(ids) for ids in seqs],
        "loss_definition": "sum over s and t with masks[s][t] = 1 of -log softmax(logits_s[t])[sequences[s][t+1]], "
                           "divided by n_trained_total; each sequence is run alone (no padding, causal, positions "
                           "from 0), natural log.",
        "lora": {"r": RANK, "alpha": ALPHA, "scale": SCALE, "dropout": 0.0, "targets": TARGETS,
                 "init": "numpy default_rng(%d), for layer i, for target in targets: A = normal(r, in) * %g, "
                         "B = normal(out, r) * %g, cast to float32" % (seed, INIT_STD, INIT_STD)},
        "loss": loss64,
        "loss_fp32": loss32,
        "grad_norm_initial": gnorm,
        "adamw": dict(ADAMW, steps=N_STEPS),
        "step_losses": r32["losses"],
        "grad_norm_before_clip": r32["norms"],
        "step_losses_fp64": r64["losses"],
        "grad_norm_before_clip_fp64": r64["norms"],
        "fp32_vs_fp64": {
            "loss_abs": abs(loss32 - loss64),
            "grads": gap_stats(g32, g64),
            "step_losses_max_abs": max(abs(a - b) for a, b in zip(r32["losses"], r64["losses"])),
            "grad_norms_max_rel": max(abs(a - b) / b for a, b in zip(r32["norms"], r64["norms"])),
            "adapter_step5": gap_stats(r32["final"], r64["final"]),
        },
        "weight_decay_sensitivity": {
            "final_loss_change_without_weight_decay": r64_nowd["losses"][-1] - r64["losses"][-1],
            "adapter_step5_median_abs_change_without_weight_decay": float(wd_move.median()),
            "note": "float64 runs with weight_decay 0 instead of 0.01: what a missing weight decay would change, "
                    "to compare with the fp32_vs_fp64 gaps when choosing tolerances"},
        "files": {
            "adapter_init": "adapter_init/adapter_model.safetensors (+ adapter_config.json), float32",
            "grads": "grads.safetensors: float32 gradient of loss_fp32 w.r.t. each adapter_init tensor, same keys",
            "grads_fp64": "grads_fp64.safetensors: the same gradient computed in float64 (F64)",
            "adapter_step5": "adapter_step5/adapter_model.safetensors: the adapter after the 5 steps of the fp32 run",
            "lora_logits": "lora_logits.json",
        },
        "notes": [
            "step_losses: the fp32 run's loss before step 1, ..., before step 5, then after step 5 (6 values); "
            "grad_norm_before_clip: the global L2 norm of all LoRA gradients at each of the 5 steps, before "
            "clipping. The *_fp64 twins are the same procedure in float64 from the same float32 initial values.",
            "One step: loss and gradients on the whole batch; clip: c = clip_grad_norm / (norm + 1e-6), grads *= "
            "min(c, 1) (torch.nn.utils.clip_grad_norm_); then torch.optim.AdamW (torch %s): p *= 1 - lr * "
            "weight_decay; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2; p -= lr / (1 - b1^k) * m / "
            "(sqrt(v) / sqrt(1 - b2^k) + eps), k = 1-based step; weight decay on every LoRA tensor, A and B alike."
            % torch.__version__,
            "A and B are in Hugging Face row order (PEFT). %s" % (
                "The GGUF stores q/k rows permuted for interleaved-pair RoPE; the reference keeps them so and "
                "applies B's rows permuted the same way for q_proj (8 heads) and k_proj (4 kv heads): within each "
                "head of D rows, stored row 2i + j is HF row j D/2 + i. " + perm_note
                if gguf_order else
                "tiny-qwen2 is an HF model: no permutation; q/k/v biases are in the base projections and the "
                "LoRA delta is added after them."),
            "fp32_vs_fp64.grads: max_abs is over all tensors and elements; max_abs_over_tensor_max_abs divides each "
            "tensor's max abs gap by that tensor's max |grad|; the elementwise relative gap uses a floor of 1e-3 of "
            "the tensor's max |grad| in the denominator.",
        ],
    }
    with open(os.path.join(out, "batch.json"), "w") as f:
        f.write(json_text(doc))

    fp = doc["fp32_vs_fp64"]
    print("%s: loss %.9f (fp32 %.9f), n_trained %s, |grad| %.4f" % (name, loss64, loss32, n_tr, gnorm))
    print("  step losses %s" % ["%.6f" % x for x in r32["losses"]])
    print("  grad norms  %s" % ["%.6f" % x for x in r32["norms"]])
    print("  fp32-fp64: loss %.2e, grads %s, step losses %.2e, norms rel %.2e, adapter_step5 %s, logits %.2e" % (
        fp["loss_abs"], fp["grads"], fp["step_losses_max_abs"], fp["grad_norms_max_rel"], fp["adapter_step5"],
        logit_gap))
    print("  logit shift by adapter (seq0 last): %.4f of max %.4f" % (
        ldoc["seq0_last_max_abs_diff_vs_no_adapter"], ldoc["seq0_last_max_abs_logit"]))


def do_stories():
    rel = "models/stories260K.gguf"
    m = R.load_gguf(os.path.join(REPO, rel))
    seqs, tmasks = stories_batch(m)
    write_all("stories260K", rel, m, True, seqs, tmasks, 260, lambda x: R.spm_decode(x, m.vocab))


def do_tiny_qwen2():
    rel = "models/tiny-qwen2"
    d = os.path.join(REPO, rel)
    m = R.load_hf(d)
    seqs, tmasks = qwen_batch(d)
    tok = os.path.join(d, "tokenizer.json")

    def decode(x):
        return R.tok_child(tokenizer=tok, decode=[x])["decoded"][0]
    write_all("tiny_qwen2", rel, m, False, seqs, tmasks, 2, decode)


# ---------------------------------------------------------------------------------------------
# PEFT cross-check (writes nothing)
# ---------------------------------------------------------------------------------------------

def peft_check(name):
    import transformers
    import peft
    from safetensors.torch import load_file
    torch.set_num_threads(1)
    out = os.path.join(GOLDEN_DIR, name)
    with open(os.path.join(out, "batch.json")) as f:
        doc = json.load(f)
    rel = doc["model"]
    if rel.endswith(".gguf"):
        m = R.load_gguf(os.path.join(REPO, rel))
        C, F = m.embed.shape[1], m.layers[0]["w_gate"].shape[0]
        cfg = transformers.LlamaConfig(
            vocab_size=m.embed.shape[0], hidden_size=C, intermediate_size=F, num_hidden_layers=len(m.layers),
            num_attention_heads=m.n_heads, num_key_value_heads=m.n_kv_heads, rms_norm_eps=m.eps,
            rope_theta=m.rope_theta, max_position_embeddings=512, tie_word_embeddings=False,
            attention_bias=False, mlp_bias=False, torch_dtype="float32")
        base = transformers.LlamaForCausalLM(cfg).eval()
        sd = {"model.embed_tokens.weight": m.embed, "model.norm.weight": m.final_norm, "lm_head.weight": m.head}
        for i, L in enumerate(m.layers):
            p = "model.layers.%d." % i
            sd.update({
                p + "input_layernorm.weight": L["attn_norm"],
                p + "self_attn.q_proj.weight": gguf_to_hf_rows(L["wq"], m.n_heads),
                p + "self_attn.k_proj.weight": gguf_to_hf_rows(L["wk"], m.n_kv_heads),
                p + "self_attn.v_proj.weight": L["wv"], p + "self_attn.o_proj.weight": L["wo"],
                p + "post_attention_layernorm.weight": L["ffn_norm"],
                p + "mlp.gate_proj.weight": L["w_gate"], p + "mlp.up_proj.weight": L["w_up"],
                p + "mlp.down_proj.weight": L["w_down"]})
        res = base.load_state_dict({k: v.contiguous() for k, v in sd.items()}, strict=False)
        assert not res.unexpected_keys and all("rotary" in k for k in res.missing_keys), res
        gguf_order = True
    else:
        m = R.load_hf(os.path.join(REPO, rel))
        base = transformers.AutoModelForCausalLM.from_pretrained(
            os.path.join(REPO, rel), torch_dtype=torch.float32, attn_implementation="eager").eval()
        gguf_order = False
    seqs, pmasks = doc["sequences"], doc["masks"]
    with torch.no_grad():
        base_gap = max(float((base(torch.tensor([ids])).logits[0] - R.forward(m, ids)).abs().max()) for ids in seqs)
    pm = peft.PeftModel.from_pretrained(base, os.path.join(out, "adapter_init"), is_trainable=True).eval()
    init = load_file(os.path.join(out, "adapter_init", "adapter_model.safetensors"))
    named = dict(pm.named_parameters())
    trainable = {k for k, v in named.items() if v.requires_grad}
    want = {k.replace(".weight", ".default.weight") for k in init}
    assert trainable == want, (sorted(trainable ^ want)[:5])
    for k, v in init.items():
        assert torch.equal(named[k.replace(".weight", ".default.weight")].detach(), v), k
    ad = {}
    for i in range(len(m.layers)):
        for t in TARGETS:
            ad[(i, t)] = (init[peft_key(i, t, "A")].numpy(), init[peft_key(i, t, "B")].numpy())
    p32 = leaf_params(ad, torch.float32)
    lora = make_lora(m, p32, gguf_order)
    logit_gap, total, count = 0.0, None, 0
    for ids, mk in zip(seqs, pmasks):
        lg = pm(torch.tensor([ids])).logits[0]
        with torch.no_grad():
            logit_gap = max(logit_gap, float((lg - R.forward(m, ids, torch.float32, lora)).abs().max()))
        nll = torch.nn.functional.cross_entropy(lg[:-1], torch.tensor(ids[1:]), reduction="none")
        s = nll[torch.tensor(mk, dtype=torch.bool)].sum()
        total = s if total is None else total + s
        count += sum(mk)
    loss = total / count
    loss.backward()
    g64 = load_file(os.path.join(out, "grads_fp64.safetensors"))
    gap, rel = 0.0, 0.0
    for k, v in g64.items():
        g = named[k.replace(".weight", ".default.weight")].grad.double()
        gap = max(gap, float((g - v).abs().max()))
        rel = max(rel, float((g - v).abs().max() / v.abs().max()))
    print("PEFT %s (transformers %s, peft %s): base logits gap %.2e, LoRA logits gap %.2e, loss %.9f vs %.9f "
          "(|d| %.2e), grads max abs gap %.2e (%.2e of the tensor max) vs grads_fp64" % (
              name, transformers.__version__, peft.__version__, base_gap, logit_gap, float(loss), doc["loss"],
              abs(float(loss) - doc["loss"]), gap, rel))
    ok = base_gap < 1e-4 and logit_gap < 1e-4 and abs(float(loss) - doc["loss"]) < 1e-5 and rel < 1e-4
    print("  -> %s" % ("OK" if ok else "MISMATCH"))
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", nargs="*", default=None, help="stories260K tiny_qwen2")
    ap.add_argument("--peft-check", action="store_true", help="check the written goldens with transformers + peft")
    a = ap.parse_args()
    names = ["stories260K", "tiny_qwen2"]
    names = [n for n in names if a.only is None or n in a.only]
    if a.peft_check:
        ok = all([peft_check(n) for n in names])
        sys.exit(0 if ok else 1)
    jobs = {"stories260K": do_stories, "tiny_qwen2": do_tiny_qwen2}
    for n in names:
        jobs[n]()


if __name__ == "__main__":
    main()
