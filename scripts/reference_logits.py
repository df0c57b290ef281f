#!/usr/bin/python3
"""reference_logits.py: independent PyTorch fp32 reference forward pass for the logits goldens.

Usage (from the repository root, with Debian's torch):
    /usr/bin/python3 scripts/reference_logits.py [--only NAME ...]

For each model (stories260K, smollm2, tiny_qwen2, qwen25_coder_05b) writes tests/golden/logits/<name>.json
(prompt ids, greedy continuation, per-position argmax, max |logit|, notes) and
tests/golden/logits/<name>.last.f32 (raw little-endian float32 logits of the last prompt position).
The known-output checks (stories260K greedy from BOS alone; SmolLM2 greedy on a ChatML question;
Qwen2.5-Coder against llama-cpp-python when it is importable) are printed and recorded under "sanity"
in the JSON.

The forward pass is a plain Llama/Qwen2 written here in torch (RMSNorm, RoPE, GQA causal
attention, SwiGLU MLP, optional q/k/v biases, tied or separate output head), recomputed over the
whole sequence for every generated token (no KV cache). Weights:
  - GGUF: read and dequantized with the `gguf` package (GGUFReader, gguf.quants.dequantize).
    RoPE is applied as the GGUF llama tensors are stored: q/k rows are permuted by the converter
    for interleaved-pair rotation, so pairs (2i, 2i+1) of each head are rotated. No un-permute.
    GGUF qwen2 tensors are NOT permuted by the converter (llama.cpp runs qwen2 with NEOX RoPE), so
    they are rotated rotate-half, pairs (i, i + head_dim/2), as in the Hugging Face layout; their
    q/k/v biases (blk.N.attn_{q,k,v}.bias) are added.
  - Hugging Face directory (Qwen2): read with the `safetensors` package (any dtype -> fp32), RoPE
    rotate-half (GPT-NeoX style: pairs (i, i + head_dim/2)).
RoPE angles are computed in float64 (pos * theta^(-2i/d)) and their cos/sin rounded to fp32.

Tokenization uses PyPI `tokenizers` and `jinja2`, which Debian's python lacks: they are run in a
child process of the python named by $FTUNE_TOK_PYTHON (default `python3`, the pyenv one here).
The stories260K prompt is tokenized here with a SentencePiece-style merge-by-score over the GGUF
vocabulary (checked against llama-cpp-python when it is importable in that python). For the
Qwen2.5-Coder GGUF (a "gpt2"/"qwen2" byte-level BPE vocabulary, no tokenizer.json at hand) a
Hugging Face tokenizer.json is assembled from the GGUF's tokens, merges and token types
(gguf_hf_tokenizer_json) and used through `tokenizers` the same way.
Does not test the C code itself: the C unit tests read the files written here.
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLDEN_DIR = os.path.join(REPO, "tests", "golden", "logits")
N_PROMPT = 64
N_GREEDY = 32
REL_TOL = 1e-4

STORY_TEXT = (
    "Once upon a time, there was a little boy named Tom. Tom had a red ball that he loved very much. "
    "Every day he went to the park with his mom to play. One day, he kicked the ball too hard and it "
    "flew into a big tree. Tom was sad. \"Mom, can you help me?\" he asked. His mom smiled and said, "
    "\"Let's find a long stick.\" They found a stick and got the ball down. Tom was happy again."
)

SMOLLM2_CONVERSATION = [
    {"role": "user", "content": "What is the capital of France?"},
    {"role": "assistant", "content": "The capital of France is Paris. It is known for the Eiffel Tower, "
     "the Louvre museum, and the cafes along the river Seine."},
    {"role": "user", "content": "Tell me one more fact about it, please."},
]

TINY_QWEN2_CONVERSATION = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Write a short C function that adds two numbers."},
    {"role": "assistant", "content": "static int add(int a, int b) {\n    return a + b;\n}\n"
     "It returns the sum of a and b."},
]

QWEN25_CODER_CONVERSATION = [
    {"role": "user", "content": "Write a Python function is_palindrome(s) that checks whether a string is a "
     "palindrome, ignoring case, spaces and punctuation. Keep it short and add a docstring too."},
]


# ---------------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------------

class Model:
    """Weights as fp32 torch tensors, (out, in) for linear layers; rope is "interleaved" or "neox"."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rope_cos_sin(n_pos, head_dim, theta, dtype):
    inv = theta ** (-np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)  # (D/2,)
    ang = np.arange(n_pos, dtype=np.float64)[:, None] * inv[None, :]          # (T, D/2)
    cos = torch.from_numpy(np.cos(ang)).to(dtype)[:, None, :]                 # (T, 1, D/2)
    sin = torch.from_numpy(np.sin(ang)).to(dtype)[:, None, :]
    return cos, sin


def apply_rope(x, cos, sin, style):
    """x: (T, H, D). interleaved: rotate (x[2i], x[2i+1]); neox: rotate (x[i], x[i + D/2])."""
    if style == "interleaved":
        a, b = x[..., 0::2], x[..., 1::2]
        out = torch.empty_like(x)
        out[..., 0::2] = a * cos - b * sin
        out[..., 1::2] = a * sin + b * cos
        return out
    if style == "neox":
        half = x.shape[-1] // 2
        a, b = x[..., :half], x[..., half:]
        return torch.cat([a * cos - b * sin, b * cos + a * sin], dim=-1)
    raise ValueError(style)


LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def forward(m, ids, dtype=torch.float32, lora=None):
    """ids: list of token ids (T). Returns logits (T, V) in dtype.
    lora (optional, used by scripts/reference_train.py): {(layer, name): fn}, name one of
    LORA_TARGETS; fn(h) -> (T, out) is added to that projection's output (after its bias), in the
    row order the weights of m are stored in. Without lora the computation is unchanged."""
    def w(t):
        return None if t is None else t.to(dtype)

    def proj(i, name, h, W, b=None):
        y = h @ w(W).T
        if b is not None:
            y = y + w(b)
        if lora is not None and (i, name) in lora:
            y = y + lora[(i, name)](h)
        return y

    T = len(ids)
    nh, nkv, hd = m.n_heads, m.n_kv_heads, m.head_dim
    x = w(m.embed)[torch.tensor(ids, dtype=torch.long)]  # (T, C)
    cos, sin = rope_cos_sin(T, hd, m.rope_theta, dtype)
    mask = torch.ones(T, T, dtype=torch.bool).tril()     # (T, S): s <= t
    for i, L in enumerate(m.layers):
        h = rms_norm(x, w(L["attn_norm"]), m.eps)
        q = proj(i, "q_proj", h, L["wq"], L.get("bq"))
        k = proj(i, "k_proj", h, L["wk"], L.get("bk"))
        v = proj(i, "v_proj", h, L["wv"], L.get("bv"))
        q = apply_rope(q.view(T, nh, hd), cos, sin, m.rope)    # (T, H, D)
        k = apply_rope(k.view(T, nkv, hd), cos, sin, m.rope)   # (T, KV, D)
        v = v.view(T, nkv, hd)
        rep = nh // nkv                                         # query head h uses kv head h // rep
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        att = torch.einsum("thd,shd->hts", q, k) / (hd ** 0.5)  # (H, T, S)
        att = att.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        o = torch.einsum("hts,shd->thd", att, v).reshape(T, nh * hd)
        x = x + proj(i, "o_proj", o, L["wo"])
        h = rms_norm(x, w(L["ffn_norm"]), m.eps)
        g = proj(i, "gate_proj", h, L["w_gate"])
        u = proj(i, "up_proj", h, L["w_up"])
        x = x + proj(i, "down_proj", torch.nn.functional.silu(g) * u, L["w_down"])
    x = rms_norm(x, w(m.final_norm), m.eps)
    return x @ w(m.head).T


def greedy(m, ids, n, stop=None):
    """Greedy continuation by full recompute. Returns (new ids, top1-top2 margin per step)."""
    seq = list(ids)
    out, margins = [], []
    with torch.no_grad():
        for _ in range(n):
            logits = forward(m, seq)[-1]
            top = torch.topk(logits, 2)
            nxt = int(top.indices[0])
            margins.append(float(top.values[0] - top.values[1]))
            out.append(nxt)
            seq.append(nxt)
            if stop is not None and nxt in stop:
                break
    return out, margins


# ---------------------------------------------------------------------------------------------
# Loaders
# ---------------------------------------------------------------------------------------------

def gguf_field(reader, name, default=None):
    f = reader.fields.get(name)
    if f is None:
        return default
    if hasattr(f, "contents"):
        return f.contents()
    v = f.parts[f.data[0]]
    return bytes(v).decode("utf-8") if v.dtype == np.uint8 else v[0].item()


def load_gguf(path):
    import gguf
    r = gguf.GGUFReader(path)
    arch = gguf_field(r, "general.architecture")
    assert arch in ("llama", "qwen2"), "only llama and qwen2 GGUF files are handled here, got %s" % arch
    t = {}
    for tensor in r.tensors:
        a = gguf.quants.dequantize(tensor.data, tensor.tensor_type)
        a = np.array(a, dtype=np.float32, order="C", copy=True)
        ne = [int(d) for d in tensor.shape]                # GGUF order: ne[0] is the fastest axis
        assert list(a.shape) == ne[::-1], (tensor.name, a.shape, ne)
        t[tensor.name] = torch.from_numpy(a)
    C = gguf_field(r, arch + ".embedding_length")
    nh = gguf_field(r, arch + ".attention.head_count")
    nkv = gguf_field(r, arch + ".attention.head_count_kv", nh)
    n_layers = gguf_field(r, arch + ".block_count")
    hd = C // nh
    assert gguf_field(r, arch + ".rope.dimension_count", hd) == hd
    layers = []
    for i in range(n_layers):
        p = "blk.%d." % i
        layers.append({
            "attn_norm": t[p + "attn_norm.weight"], "wq": t[p + "attn_q.weight"],
            "wk": t[p + "attn_k.weight"], "wv": t[p + "attn_v.weight"],
            "wo": t[p + "attn_output.weight"], "ffn_norm": t[p + "ffn_norm.weight"],
            "w_gate": t[p + "ffn_gate.weight"], "w_up": t[p + "ffn_up.weight"],
            "w_down": t[p + "ffn_down.weight"],
            "bq": t.get(p + "attn_q.bias"), "bk": t.get(p + "attn_k.bias"), "bv": t.get(p + "attn_v.bias"),
        })
    tied = "output.weight" not in t
    vocab = {
        "tokens": list(gguf_field(r, "tokenizer.ggml.tokens")),
        "scores": list(gguf_field(r, "tokenizer.ggml.scores") or []),
        "merges": list(gguf_field(r, "tokenizer.ggml.merges") or []),
        "token_type": list(gguf_field(r, "tokenizer.ggml.token_type") or []),
        "model": gguf_field(r, "tokenizer.ggml.model"),
        "pre": gguf_field(r, "tokenizer.ggml.pre"),
        "bos": gguf_field(r, "tokenizer.ggml.bos_token_id"),
        "eos": gguf_field(r, "tokenizer.ggml.eos_token_id"),
        "chat_template": gguf_field(r, "tokenizer.chat_template"),
    }
    types = sorted({tensor.tensor_type.name for tensor in r.tensors})
    return Model(
        embed=t["token_embd.weight"], layers=layers, final_norm=t["output_norm.weight"],
        head=t["token_embd.weight"] if tied else t["output.weight"], tied=tied,
        n_heads=nh, n_kv_heads=nkv, head_dim=hd, eps=float(gguf_field(r, arch + ".attention.layer_norm_rms_epsilon")),
        rope_theta=float(gguf_field(r, arch + ".rope.freq_base", 10000.0)),
        rope="interleaved" if arch == "llama" else "neox", arch=arch, vocab=vocab, tensor_types=types)


def load_hf(dirpath):
    from safetensors.torch import load_file
    with open(os.path.join(dirpath, "config.json")) as f:
        cfg = json.load(f)
    t = {}
    index = os.path.join(dirpath, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            for shard in sorted(set(json.load(f)["weight_map"].values())):
                t.update(load_file(os.path.join(dirpath, shard)))
    else:
        t.update(load_file(os.path.join(dirpath, "model.safetensors")))
    dtypes = sorted({str(v.dtype).replace("torch.", "") for v in t.values()})
    t = {k: v.float() for k, v in t.items()}
    C, nh = cfg["hidden_size"], cfg["num_attention_heads"]
    nkv = cfg.get("num_key_value_heads", nh)
    layers = []
    for i in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % i
        layers.append({
            "attn_norm": t[p + "input_layernorm.weight"],
            "wq": t[p + "self_attn.q_proj.weight"], "wk": t[p + "self_attn.k_proj.weight"],
            "wv": t[p + "self_attn.v_proj.weight"], "wo": t[p + "self_attn.o_proj.weight"],
            "bq": t.get(p + "self_attn.q_proj.bias"), "bk": t.get(p + "self_attn.k_proj.bias"),
            "bv": t.get(p + "self_attn.v_proj.bias"),
            "ffn_norm": t[p + "post_attention_layernorm.weight"],
            "w_gate": t[p + "mlp.gate_proj.weight"], "w_up": t[p + "mlp.up_proj.weight"],
            "w_down": t[p + "mlp.down_proj.weight"],
        })
    tied = cfg.get("tie_word_embeddings", False) or "lm_head.weight" not in t
    return Model(
        embed=t["model.embed_tokens.weight"], layers=layers, final_norm=t["model.norm.weight"],
        head=t["model.embed_tokens.weight"] if tied else t["lm_head.weight"], tied=tied,
        n_heads=nh, n_kv_heads=nkv, head_dim=C // nh, eps=float(cfg["rms_norm_eps"]),
        rope_theta=float(cfg.get("rope_theta", 10000.0)), rope="neox", tensors=t, tensor_types=dtypes)


# ---------------------------------------------------------------------------------------------
# Tokenization
# ---------------------------------------------------------------------------------------------

_TOK_CHILD = r"""
import json, sys
req = json.load(sys.stdin)
out = {}
if req.get("template") is not None:
    import jinja2
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)
    out["text"] = env.from_string(req["template"]).render(
        messages=req["messages"], add_generation_prompt=req["add_generation_prompt"], **req.get("extra", {}))
else:
    out["text"] = req.get("text")
if req.get("tokenizer"):
    import tokenizers
    tok = tokenizers.Tokenizer.from_file(req["tokenizer"])
    if out["text"] is not None:
        out["ids"] = tok.encode(out["text"], add_special_tokens=False).ids
    out["decoded"] = [tok.decode(ids, skip_special_tokens=False) for ids in req.get("decode", [])]
if req.get("llama_cpp"):
    # llama.cpp's own tokenization of the rendered text and its greedy decode of prompt_ids
    # (F32 KV cache, all logits kept), to cross-check the reference forward.
    lc = req["llama_cpp"]
    try:
        import llama_cpp
        import llama_cpp.llama_cpp as llama_cpp_c
        default_params = llama_cpp_c.llama_model_default_params

        def no_extra_bufts():  # the AMX/repacking weight buffers segfault in llama_decode on some hosts
            p = default_params()
            p.use_extra_bufts = False
            return p
        if hasattr(default_params(), "use_extra_bufts"):
            llama_cpp_c.llama_model_default_params = no_extra_bufts
        out["llama_cpp_version"] = llama_cpp.__version__
        voc = llama_cpp.Llama(model_path=lc["gguf"], vocab_only=True, verbose=False)
        out["llama_cpp_ids"] = voc.tokenize(out["text"].encode("utf-8"), add_bos=False, special=True)
        del voc
        n = len(lc["prompt_ids"])
        llm = llama_cpp.Llama(model_path=lc["gguf"], n_ctx=n + lc["n_greedy"] + 8, n_batch=512, logits_all=True,
                              type_k=0, type_v=0, seed=0, verbose=False)
        llm.eval(lc["prompt_ids"])
        scores = llm.scores[:n]
        out["llama_cpp_last_logits"] = [float(x) for x in scores[n - 1]]
        out["llama_cpp_argmax"] = [int(x) for x in scores.argmax(axis=-1)]
        gen = []
        for _ in range(lc["n_greedy"]):
            nxt = int(llm.scores[llm.n_tokens - 1].argmax())
            gen.append(nxt)
            llm.eval([nxt])
        out["llama_cpp_greedy_ids"] = gen
    except Exception as e:
        out["llama_cpp_error"] = repr(e)
if req.get("spm_gguf"):
    try:
        import llama_cpp
        llm = llama_cpp.Llama(model_path=req["spm_gguf"], vocab_only=True, verbose=False)
        out["llama_cpp_ids"] = llm.tokenize(req["spm_text"].encode("utf-8"), add_bos=True)
    except Exception as e:
        out["llama_cpp_error"] = repr(e)
json.dump(out, sys.stdout)
"""


def tok_child(**req):
    """Runs tokenizers/jinja2/llama_cpp in the python of $FTUNE_TOK_PYTHON (default python3)."""
    py = os.environ.get("FTUNE_TOK_PYTHON", "python3")
    p = subprocess.run([py, "-c", _TOK_CHILD], input=json.dumps(req), capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("tokenizer helper (%s) failed; it needs PyPI tokenizers and jinja2:\n%s" % (py, p.stderr))
    return json.loads(p.stdout)


def gguf_hf_tokenizer_json(vocab, path):
    """Writes a Hugging Face tokenizer.json for a GGUF "gpt2" vocabulary with the "qwen2"
    pre-tokenizer (the layout of Qwen2's own tokenizer.json): NFC, the Qwen2 split regex, byte-level
    BPE over the GGUF tokens and merges; CONTROL (3) and USER_DEFINED (4) tokens are added tokens
    (special for CONTROL), UNUSED (5) padding entries are left out."""
    assert vocab["model"] == "gpt2" and vocab["pre"] == "qwen2", (vocab["model"], vocab["pre"])
    toks, types = vocab["tokens"], vocab["token_type"]
    regex = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
             r"|\s*[\r\n]+|\s+(?!\S)|\s+")
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}
    doc = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [{"id": i, "content": toks[i], "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": types[i] == 3}
                         for i in range(len(toks)) if types[i] in (3, 4)],
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated", "invert": False},
            byte_level]},
        "post_processor": byte_level,
        "decoder": byte_level,
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": {toks[i]: i for i in range(len(toks)) if types[i] == 1},
                  "merges": vocab["merges"]},
    }
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False)


def render_chatml(messages, add_generation_prompt):
    """Plain ChatML, to cross-check the templates' output for simple messages."""
    s = "".join("<|im_start|>%s\n%s<|im_end|>\n" % (m["role"], m["content"]) for m in messages)
    return s + ("<|im_start|>assistant\n" if add_generation_prompt else "")


def spm_encode(text, vocab, add_bos=True):
    """SentencePiece-style BPE as llama.cpp's "llama" vocab does it: ' ' prefix, spaces -> U+2581,
    start from UTF-8 characters (bytes as <0xXX> tokens when a character is not in the vocab), then
    repeatedly merge the adjacent pair whose concatenation is a token with the highest score
    (leftmost on ties)."""
    tokens, scores = vocab["tokens"], vocab["scores"]
    index = {s: i for i, s in enumerate(tokens)}
    syms = list((" " + text).replace(" ", "\u2581"))
    while True:
        best = None
        for i in range(len(syms) - 1):
            j = index.get(syms[i] + syms[i + 1])
            if j is not None and (best is None or scores[j] > best[0]):
                best = (scores[j], i)
        if best is None:
            break
        i = best[1]
        syms[i:i + 2] = [syms[i] + syms[i + 1]]
    ids = [vocab["bos"]] if add_bos else []
    for s in syms:
        if s in index:
            ids.append(index[s])
        else:
            ids.extend(index["<0x%02X>" % b] for b in s.encode("utf-8"))
    return ids


def spm_decode(ids, vocab):
    out = b""
    for i in ids:
        s = vocab["tokens"][i]
        if len(s) == 6 and s.startswith("<0x") and s.endswith(">"):
            out += bytes([int(s[3:5], 16)])
        elif s in ("<s>", "</s>", "<unk>"):
            continue
        else:
            out += s.replace("\u2581", " ").encode("utf-8")
    return out.decode("utf-8", errors="replace")


# ---------------------------------------------------------------------------------------------
# Goldens
# ---------------------------------------------------------------------------------------------

def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def json_text(doc):
    """JSON with one top-level key per line; lists of scalars on one line, except "notes"."""
    def val(k, v):
        if k == "notes":
            return "[\n    " + ",\n    ".join(json.dumps(x, ensure_ascii=False) for x in v) + "\n  ]"
        if isinstance(v, list) and all(isinstance(x, (int, float)) for x in v):
            return json.dumps(v, separators=(",", ":"))
        return json.dumps(v, ensure_ascii=False)
    return "{\n" + ",\n".join("  %s: %s" % (json.dumps(k), val(k, v)) for k, v in doc.items()) + "\n}\n"


def write_golden(name, model_rel, m, prompt_ids, extra_notes, decode, sanity=None):
    """Computes and writes tests/golden/logits/<name>.{json,last.f32}. decode(ids) -> text."""
    assert len(prompt_ids) == N_PROMPT
    with torch.no_grad():
        logits = forward(m, prompt_ids)                         # (T, V) fp32
        logits64 = forward(m, prompt_ids, dtype=torch.float64)  # same weights, float64 math
    last = logits[-1].contiguous()
    top2 = torch.topk(logits, 2, dim=-1)
    greedy_ids, margins = greedy(m, prompt_ids, N_GREEDY, stop=None)
    max_abs = float(last.abs().max())
    os.makedirs(GOLDEN_DIR, exist_ok=True)
    f32_name = name + ".last.f32"
    last.numpy().astype("<f4").tofile(os.path.join(GOLDEN_DIR, f32_name))
    weights_rel = model_rel
    if os.path.isdir(os.path.join(REPO, model_rel)):
        weights_rel = os.path.join(model_rel, "model.safetensors")
    doc = {
        "model": model_rel,
        "model_sha256": sha256_file(os.path.join(REPO, weights_rel)),
        "model_sha256_of": weights_rel,
        "vocab_size": int(last.shape[0]),
        "prompt_ids": [int(i) for i in prompt_ids],
        "prompt_text": decode(prompt_ids),
        "last_logits_file": f32_name,
        "max_abs_logit": max_abs,
        "rel_tol": REL_TOL,
        "abs_tol": REL_TOL * max_abs,
        "greedy_ids": greedy_ids,
        "greedy_text": decode(greedy_ids),
        "greedy_top2_margin": [round(x, 6) for x in margins],
        "all_logits_argmax": [int(i) for i in top2.indices[:, 0]],
        "all_logits_top2_margin": [round(float(x), 6) for x in (top2.values[:, 0] - top2.values[:, 1])],
        "fp64_vs_fp32_max_abs_diff_all_positions": float((logits64 - logits.double()).abs().max()),
        "reference": {
            "script": "scripts/reference_logits.py",
            "torch": torch.__version__,
            "dtype": "float32",
            "rope": m.rope,
            "rope_theta": m.rope_theta,
            "rms_norm_eps": m.eps,
            "n_heads": m.n_heads,
            "n_kv_heads": m.n_kv_heads,
            "head_dim": m.head_dim,
            "n_layers": len(m.layers),
            "tied_output": m.tied,
            "stored_tensor_types": m.tensor_types,
        },
        "sanity": sanity,
        "notes": extra_notes + [
            "greedy_ids: %d greedy argmax tokens after the prompt, each by a full recompute of the "
            "sequence (no KV cache); no stop token is applied." % N_GREEDY,
            "all_logits_argmax[t]: argmax of the logits at prompt position t (next-token prediction).",
            "last_logits_file: raw little-endian float32, vocab_size values, logits at the last "
            "prompt position. Compare with abs_tol = rel_tol * max_abs_logit.",
            "*_top2_margin: top-1 minus top-2 logit; where it is below abs_tol an argmax may "
            "legitimately differ.",
        ],
    }
    with open(os.path.join(GOLDEN_DIR, name + ".json"), "w") as f:
        f.write(json_text(doc))
    print("%s: max|logit| %.4f, fp64-vs-fp32 %.2e, min greedy margin %.4f" % (
        name, max_abs, doc["fp64_vs_fp32_max_abs_diff_all_positions"], min(margins)))
    print("  prompt: %r" % doc["prompt_text"])
    print("  greedy: %r" % doc["greedy_text"])
    return doc


def do_stories():
    rel = "models/stories260K.gguf"
    m = load_gguf(os.path.join(REPO, rel))
    v = m.vocab
    ids = spm_encode(STORY_TEXT, v)
    child = tok_child(spm_gguf=os.path.join(REPO, rel), spm_text=STORY_TEXT)
    check = "llama-cpp-python not available to cross-check"
    if "llama_cpp_ids" in child:
        assert child["llama_cpp_ids"] == ids, ("spm mismatch", child["llama_cpp_ids"], ids)
        check = "identical to llama-cpp-python's Llama(vocab_only=True).tokenize(add_bos=True)"
    assert len(ids) >= N_PROMPT, len(ids)
    prompt = ids[:N_PROMPT]
    notes = [
        "prompt_ids: BOS (1) then the first 63 tokens of STORY_TEXT in scripts/reference_logits.py, "
        "tokenized with a SentencePiece merge-by-score over the GGUF vocabulary (%s)." % check,
        "Weights F32 from the GGUF; RoPE on pairs (2i, 2i+1) as the GGUF stores q/k; theta 10000 "
        "(no rope.freq_base key).",
        "Cross-checked when written: llama-cpp-python 0.3.36 with an F32 KV cache gave last-position logits "
        "within 8.1e-6 of these, and the same 64 argmaxes.",
    ]
    out, _ = greedy(m, [v["bos"]], 40)
    text = spm_decode(out, v)
    want = " Once upon a time, there was a little girl named Lily. She loved to play outside in the park."
    ok = text.startswith(want)
    print("SANITY stories260K from BOS: %r -> %s" % (text, "OK" if ok else "MISMATCH"))
    sanity = {"prompt_ids": [v["bos"]], "greedy_ids": out, "greedy_text": text, "expected_prefix": want, "ok": ok}
    write_golden("stories260K", rel, m, prompt, notes, lambda x: spm_decode(x, v), sanity)


def do_smollm2():
    rel = "models/SmolLM2-135M-Instruct.Q4_1.gguf"
    tok_path = os.path.join(REPO, "models", "smollm2-135m-instruct-tokenizer", "tokenizer.json")
    if not os.path.exists(tok_path):
        tok_path = "/work/shared/models/smollm2-135m-instruct-tokenizer/tokenizer.json"
    m = load_gguf(os.path.join(REPO, rel))
    tmpl = m.vocab["chat_template"]
    r = tok_child(tokenizer=tok_path, template=tmpl, messages=SMOLLM2_CONVERSATION, add_generation_prompt=False)
    assert r["text"] == render_chatml(
        [{"role": "system", "content": "You are a helpful AI assistant named SmolLM, trained by Hugging Face"}]
        + SMOLLM2_CONVERSATION, False), r["text"]
    ids = r["ids"]
    assert len(ids) >= N_PROMPT, len(ids)
    prompt = ids[:N_PROMPT]

    def decode(x):
        return tok_child(tokenizer=tok_path, decode=[x])["decoded"][0]

    notes = [
        "prompt_ids: the first 64 ids of SMOLLM2_CONVERSATION in scripts/reference_logits.py rendered with the "
        "GGUF's tokenizer.chat_template (default system message added) and encoded with PyPI tokenizers on "
        "models/smollm2-135m-instruct-tokenizer/tokenizer.json (no BOS added, as the template has none).",
        "Weights dequantized with gguf.quants.dequantize (Q4_1 matrices, Q8_0 token_embd, F32 norms); the "
        "output head is tied to token_embd (no output.weight). RoPE on pairs (2i, 2i+1), theta 100000.",
        "The tolerance assumes weights dequantized to fp32 and fp32 math. An engine that also quantizes the "
        "activations (llama.cpp's Q8_1 dot products) differs far more: when these files were written, "
        "llama-cpp-python 0.3.36 (F32 KV cache) gave last-position logits within 0.57 (correlation 0.9997) and "
        "63/64 equal argmaxes (position 36 differs, margin 0.08 here).",
    ]
    q = [{"role": "user", "content": "What is the capital of France?"}]
    r = tok_child(tokenizer=tok_path, template=tmpl, messages=q, add_generation_prompt=True)
    out, _ = greedy(m, r["ids"], 48, stop={2})
    text = decode(out)
    ok = "Paris" in text
    print("SANITY smollm2 %r -> %r (%s)" % (q[0]["content"], text, "OK" if ok else "NO PARIS"))
    sanity = {"messages": q, "add_generation_prompt": True, "prompt_ids": r["ids"], "greedy_ids": out,
              "greedy_text": text, "stop": "<|im_end|> (2)", "expected": "mentions Paris", "ok": ok}
    write_golden("smollm2", rel, m, prompt, notes, decode, sanity)


def do_tiny_qwen2():
    rel = "models/tiny-qwen2"
    d = os.path.join(REPO, rel)
    m = load_hf(d)
    sharded = d + "-sharded"
    shard_note = "sharded copy not present"
    if os.path.isdir(sharded):
        ms = load_hf(sharded)
        assert set(ms.tensors) == set(m.tensors)
        for k in m.tensors:
            assert torch.equal(ms.tensors[k], m.tensors[k]), k
        shard_note = "models/tiny-qwen2-sharded (2 shards + index) loads to identical tensors"
    with open(os.path.join(d, "tokenizer_config.json")) as f:
        tmpl = json.load(f)["chat_template"]
    tok_path = os.path.join(d, "tokenizer.json")
    r = tok_child(tokenizer=tok_path, template=tmpl, messages=TINY_QWEN2_CONVERSATION, add_generation_prompt=False)
    assert r["text"] == render_chatml(TINY_QWEN2_CONVERSATION, False), r["text"]
    ids = r["ids"]
    assert len(ids) >= N_PROMPT, len(ids)
    prompt = ids[:N_PROMPT]

    def decode(x):
        return tok_child(tokenizer=tok_path, decode=[x])["decoded"][0]

    notes = [
        "Tiny random model written by scripts/make_tiny_qwen2.py (deterministic). Stored dtypes: F32 except "
        "embed_tokens F16, lm_head BF16, layers.0.mlp.up_proj BF16, layers.1.self_attn.v_proj.bias F16, "
        "layers.1.post_attention_layernorm BF16; the reference uses the stored (rounded) values.",
        "prompt_ids: the first 64 ids of TINY_QWEN2_CONVERSATION in scripts/reference_logits.py rendered with "
        "the model's chat_template (tokenizer_config.json) and encoded with PyPI tokenizers on its tokenizer.json.",
        "Qwen2: q/k/v biases, separate lm_head, RoPE rotate-half (pairs (i, i+8)), theta 1e6. " + shard_note + ".",
        "Cross-checked when written: transformers 4.44.2 Qwen2ForCausalLM (fp32, eager attention) loading "
        "models/tiny-qwen2 and models/tiny-qwen2-sharded gave last-position logits within 1.5e-6, the same "
        "64 argmaxes and the same 32 greedy ids.",
    ]
    write_golden("tiny_qwen2", rel, m, prompt, notes, decode)


def do_qwen25_coder():
    import tempfile
    rel = "models/Qwen2.5-Coder-0.5B-Instruct.Q4_K_M.gguf"
    path = os.path.join(REPO, rel)
    m = load_gguf(path)
    assert m.arch == "qwen2" and m.rope == "neox" and m.layers[0]["bq"] is not None
    tmpl = m.vocab["chat_template"]
    with tempfile.TemporaryDirectory() as td:
        tok_path = os.path.join(td, "tokenizer.json")
        gguf_hf_tokenizer_json(m.vocab, tok_path)
        r = tok_child(tokenizer=tok_path, template=tmpl, messages=QWEN25_CODER_CONVERSATION, add_generation_prompt=True)
        assert r["text"] == render_chatml(
            [{"role": "system", "content": "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."}]
            + QWEN25_CODER_CONVERSATION, True), r["text"]
        prompt = r["ids"]
        assert len(prompt) == N_PROMPT, len(prompt)

        def decode(x):
            return tok_child(tokenizer=tok_path, decode=[x])["decoded"][0]

        greedy_ids, _ = greedy(m, prompt, N_GREEDY)
        greedy_text = decode(greedy_ids)
        with torch.no_grad():
            logits = forward(m, prompt)
        argmax = [int(i) for i in logits.argmax(dim=-1)]
        lc = tok_child(template=tmpl, messages=QWEN25_CODER_CONVERSATION, add_generation_prompt=True,
                       llama_cpp={"gguf": path, "prompt_ids": prompt, "n_greedy": N_GREEDY})
        sanity = {"greedy_text_is_python": "def " in greedy_text, "ok": "def " in greedy_text}
        if "llama_cpp_greedy_ids" in lc:
            assert lc["llama_cpp_ids"] == prompt, ("tokenization differs from llama.cpp", lc["llama_cpp_ids"], prompt)
            lg = lc["llama_cpp_greedy_ids"]
            same = [a == b for a, b in zip(lg, greedy_ids)]
            diff = (torch.tensor(lc["llama_cpp_last_logits"]) - logits[-1]).abs()
            ref = logits[-1].double()
            other = torch.tensor(lc["llama_cpp_last_logits"], dtype=torch.float64)
            corr = float(torch.corrcoef(torch.stack([ref, other]))[0, 1])
            sanity.update({
                "llama_cpp_python": lc["llama_cpp_version"],
                "llama_cpp_settings": "Llama(logits_all=True, type_k=type_v=F32, model use_extra_bufts=False), eval of "
                                      "prompt_ids, then greedy argmax one token at a time",
                "llama_cpp_prompt_tokenization": "identical (tokenize(text, add_bos=False, special=True))",
                "llama_cpp_last_logits_max_abs_diff": round(float(diff.max()), 6),
                "llama_cpp_last_logits_correlation": round(corr, 6),
                "llama_cpp_argmax_agreement": "%d/%d" % (sum(a == b for a, b in zip(lc["llama_cpp_argmax"], argmax)),
                                                         N_PROMPT),
                "llama_cpp_greedy_ids": lg,
                "llama_cpp_greedy_text": decode(lg),
                "llama_cpp_greedy_first_difference": None if all(same) else same.index(False),
            })
            sanity["ok"] = sanity["ok"] and lg[:8] == greedy_ids[:8]
            check = "identical to llama-cpp-python %s (vocab_only, special=True)" % lc["llama_cpp_version"]
        else:
            sanity["llama_cpp_python"] = "not available: %s" % lc.get("llama_cpp_error", "?")
            check = "llama-cpp-python not available to cross-check"
        print("SANITY qwen25_coder_05b greedy %r; llama.cpp %r (%s)" % (
            greedy_text, sanity.get("llama_cpp_greedy_text"), "OK" if sanity["ok"] else "CHECK"))
        notes = [
            "prompt_ids: QWEN25_CODER_CONVERSATION in scripts/reference_logits.py rendered with the GGUF's "
            "tokenizer.chat_template with add_generation_prompt (default Qwen system message added; exactly 64 "
            "ids, ending in '<|im_start|>assistant\\n'), encoded with PyPI tokenizers on a tokenizer.json "
            "assembled from the GGUF vocabulary and merges (gguf_hf_tokenizer_json; %s)." % check,
            "Weights dequantized with gguf.quants.dequantize: Q5_0 token_embd, q, k, o, gate, up (and v in 12 "
            "layers), Q8_0 v in the other 12 layers and output.weight, ffn_down Q6_K in 12 layers and Q4_K in 12, "
            "F32 norms and biases. The GGUF has its own "
            "output.weight (not tied, although the Hugging Face model ties it; this file is converted from the AWQ "
            "release).",
            "qwen2 GGUF: q/k rows are stored as in Hugging Face (the converter permutes only llama q/k), so RoPE "
            "is rotate-half, pairs (i, i+32) of each 64-wide head, theta 1e6; q/k/v biases added; RMSNorm eps 1e-6. "
            "Checked when written: with llama-style pairs (2i, 2i+1) instead, the last-position logits move by up to "
            "5.3 and only 41/64 argmaxes stay (llama.cpp agrees 64/64 with these, see sanity); without the biases, 0/64.",
            "The tolerance assumes weights dequantized to fp32 and fp32 math. llama.cpp quantizes the activations "
            "for its quantized dot products, so it differs far more (see sanity).",
        ]
        write_golden("qwen25_coder_05b", rel, m, prompt, notes, decode, sanity)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", nargs="*", default=None, help="stories260K smollm2 tiny_qwen2 qwen25_coder_05b")
    a = ap.parse_args()
    torch.manual_seed(0)
    jobs = {"stories260K": do_stories, "smollm2": do_smollm2, "tiny_qwen2": do_tiny_qwen2,
            "qwen25_coder_05b": do_qwen25_coder}
    for name, fn in jobs.items():
        if a.only is None or name in a.only:
            fn()


if __name__ == "__main__":
    main()
