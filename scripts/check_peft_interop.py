#!/usr/bin/python3
"""check_peft_interop.py: does a LoRA adapter written by `ftune train` mean the same thing to
Hugging Face PEFT as it does to `ftune chat --adapter`?

Run by scripts/check_peft_interop.sh (which trains the adapter); usable on its own:
    PYTHONPATH=/tmp/tfenv:/tmp/peftenv /usr/bin/python3 scripts/check_peft_interop.py \
        --model models/tiny-qwen2 --adapter /tmp/DIR [--ftune build/ftune]

Checks, in order (any failure exits 1):
 1. The files, read with PyPI `safetensors` alone: adapter_config.json is a LORA config; the
    tensor keys are exactly base_model.model.model.layers.N.<self_attn|mlp>.<target>.lora_{A,B}.weight
    for every layer and every target_modules entry; A is [r, in] and B is [out, r] with in/out
    taken from the base model's own weight of that module; fp32, finite; B is not all zero (PEFT
    initialises B to zero, so a trained adapter has moved it).
 2. PEFT (PeftModel.from_pretrained on a transformers Qwen2ForCausalLM in fp32) loads it with no
    missing or unexpected LoRA keys, every lora_A/lora_B it holds equals the file's tensor
    bit for bit, its scaling is lora_alpha / r, and one adapted projection computes
    W x + b + (alpha/r) B A x (checked against a hand computation).
 3. Greedy decoding, per prompt, rendered with the model's chat template (tokenizer_config.json,
    through transformers' jinja2 renderer): PEFT model.generate(do_sample=False,
    max_new_tokens=N) against `ftune chat --model M --adapter D --max-tokens N PROMPT` (temperature
    0 is ftune's default), compared as bytes (ftune prints raw bytes; the ids are decoded here
    through the byte-level BPE table so that partial UTF-8 sequences of a random model compare
    exactly). The same with the adapter disabled against ftune without --adapter, and the adapter
    must change the greedy output of at least one prompt (otherwise the check proves nothing).
    Prompt ids from the rendered text are also compared with `ftune tokenize`.
    On a difference: the first differing token position, PEFT's top-2 logit margin there, and
    which deliberately wrong variant of the adapter (scale 1, scale r/alpha, A rows reversed,
    adapter off) would reproduce ftune's text, to tell a near tie from a layout bug.
 4. The other direction: PEFT's save_pretrained of the loaded adapter (written next to it, as
    ADAPTER.peft-resaved) is read by `ftune chat --adapter` and must give PEFT's greedy texts.
"""
import argparse
import json
import math
import os
import subprocess
import sys

import torch

DEFAULT_PROMPTS = [
    # (system or None, user message)
    ("Answer with one word.", "Tell me about cats."),
    ("Answer with one word.", "One word for fire?"),
    ("Answer with one word.", "Tell me about the sea."),
    ("Answer with one word.", "Tell me about horses."),
    (None, "What is the capital of France?"),
    (None, "Hello! How are you today?"),
]


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def bytes_decoder():
    """Inverse of the GPT-2 byte-to-unicode table used by byte-level BPE vocabularies."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


class ByteDecoder:
    def __init__(self, model_dir):
        tj = json.load(open(os.path.join(model_dir, "tokenizer.json"), encoding="utf-8"))
        if tj["model"]["type"] != "BPE" or (tj.get("decoder") or {}).get("type") != "ByteLevel":
            raise SystemExit("check_peft_interop: expects a byte-level BPE tokenizer.json")
        self.id_to_tok = {i: t for t, i in tj["model"]["vocab"].items()}
        self.special = {a["id"] for a in tj.get("added_tokens", []) if a.get("special")}
        for a in tj.get("added_tokens", []):
            self.id_to_tok[a["id"]] = a["content"]
        self.inv = bytes_decoder()

    def decode(self, ids):
        out = bytearray()
        for i in ids:
            if i in self.special:
                continue  # ftune decodes with special tokens skipped
            out += bytes(self.inv[c] for c in self.id_to_tok[i])
        return bytes(out)


def run(cmd):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        fail(f"{' '.join(cmd)} exited {r.returncode}: {r.stderr.decode(errors='replace').strip()}")
    return r.stdout


def ftune_chat(ftune, model, adapter, system, user, max_tokens):
    cmd = [ftune, "chat", "--model", model, "--max-tokens", str(max_tokens), "--temperature", "0"]
    if adapter:
        cmd += ["--adapter", adapter]
    if system is not None:
        cmd += ["--system", system]
    out = run(cmd + [user])
    return out[:-1] if out.endswith(b"\n") else out  # chat ends the reply with one newline


# ---------------------------------------------------------------------------------------------
# 1. the files

def check_files(model_dir, adapter_dir):
    from safetensors import safe_open

    cfg = json.load(open(os.path.join(adapter_dir, "adapter_config.json")))
    mcfg = json.load(open(os.path.join(model_dir, "config.json")))
    if cfg.get("peft_type") != "LORA" or cfg.get("task_type") != "CAUSAL_LM":
        fail(f"adapter_config: peft_type {cfg.get('peft_type')} task_type {cfg.get('task_type')}")
    r, alpha = cfg["r"], cfg["lora_alpha"]
    if cfg.get("use_rslora") or cfg.get("use_dora") or cfg.get("fan_in_fan_out") or cfg.get("bias") != "none":
        fail("adapter_config: unexpected rslora/dora/fan_in_fan_out/bias settings for an ftune adapter")
    targets = cfg["target_modules"]
    if isinstance(targets, str) or not targets:
        fail(f"adapter_config: target_modules {targets!r}: expected a list")
    parent = {"q_proj": "self_attn", "k_proj": "self_attn", "v_proj": "self_attn", "o_proj": "self_attn",
              "gate_proj": "mlp", "up_proj": "mlp", "down_proj": "mlp"}

    # base weights' shapes (out, in), from the model's own safetensors file(s)
    base_shapes = {}
    idx = os.path.join(model_dir, "model.safetensors.index.json")
    files = sorted(set(json.load(open(idx))["weight_map"].values())) if os.path.exists(idx) else ["model.safetensors"]
    for fn in files:
        with safe_open(os.path.join(model_dir, fn), framework="pt") as f:
            for k in f.keys():
                base_shapes[k] = tuple(f.get_slice(k).get_shape())

    expected = {}
    for layer in range(mcfg["num_hidden_layers"]):
        for t in targets:
            mod = f"model.layers.{layer}.{parent[t]}.{t}"
            out_f, in_f = base_shapes[mod + ".weight"]
            expected[f"base_model.model.{mod}.lora_A.weight"] = (r, in_f)
            expected[f"base_model.model.{mod}.lora_B.weight"] = (out_f, r)

    tensors = {}
    with safe_open(os.path.join(adapter_dir, "adapter_model.safetensors"), framework="pt") as f:
        meta = f.metadata() or {}
        for k in f.keys():
            tensors[k] = f.get_tensor(k)
    if meta.get("format") != "pt":
        fail(f"adapter_model.safetensors metadata {meta}: PEFT/transformers expect format=pt")
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        fail(f"adapter keys: missing {missing[:4]}... ({len(missing)}), unexpected {extra[:4]}... ({len(extra)})")
    n_zero_b = 0
    for k, shape in expected.items():
        t = tensors[k]
        if tuple(t.shape) != shape:
            fail(f"{k}: shape {tuple(t.shape)}, expected {shape} from adapter_config r={r} and the base weight")
        if t.dtype != torch.float32:
            fail(f"{k}: dtype {t.dtype}, expected float32")
        if not torch.isfinite(t).all():
            fail(f"{k}: non-finite values")
        if k.endswith("lora_B.weight") and not t.any():
            n_zero_b += 1
    n_b = len(expected) // 2
    if n_zero_b == n_b:
        fail("every lora_B is zero: the adapter is the identity (training did not move it)")
    max_b = max(tensors[k].abs().max().item() for k in expected if k.endswith("lora_B.weight"))
    print(f"files: {len(tensors)} tensors, keys and shapes match adapter_config (r={r}, lora_alpha={alpha}, "
          f"{len(targets)} targets x {mcfg['num_hidden_layers']} layers), fp32, finite; "
          f"lora_B non-zero in {n_b - n_zero_b}/{n_b} modules, max |B| {max_b:.3g}")
    return cfg, tensors


# ---------------------------------------------------------------------------------------------
# 2. PEFT's view of it

def load_peft(model_dir, adapter_dir, cfg, tensors):
    from peft import PeftModel
    from transformers import AutoTokenizer, Qwen2ForCausalLM

    torch.manual_seed(0)
    base = Qwen2ForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32)
    base.eval()
    model = PeftModel.from_pretrained(base, adapter_dir, is_trainable=False)
    model.eval()
    tok = AutoTokenizer.from_pretrained(model_dir)

    sd = model.state_dict()
    scale_expected = cfg["lora_alpha"] / cfg["r"]
    n = 0
    for k, t in tensors.items():
        pk = k.replace(".lora_A.weight", ".lora_A.default.weight").replace(".lora_B.weight", ".lora_B.default.weight")
        if pk not in sd:
            fail(f"PEFT model has no parameter {pk} for file key {k}")
        if not torch.equal(sd[pk], t):
            fail(f"PEFT's {pk} differs from the file's {k} (max |diff| {(sd[pk] - t).abs().max().item():.3g})")
        n += 1
    lora_params = [k for k in sd if ".lora_" in k]
    if len(lora_params) != n:
        fail(f"PEFT holds {len(lora_params)} LoRA parameters, the file {n}")
    mods = [m for name, m in model.named_modules() if hasattr(m, "scaling") and isinstance(m.scaling, dict)
            and "default" in m.scaling]
    if not mods:
        fail("PEFT wrapped no module")
    for m in mods:
        if not math.isclose(m.scaling["default"], scale_expected, rel_tol=1e-6):
            fail(f"PEFT scaling {m.scaling['default']}, expected lora_alpha/r = {scale_expected}")

    # one projection by hand: q_proj of layer 0 (has a bias in Qwen2)
    q = model.base_model.model.model.layers[0].self_attn.q_proj
    x = torch.randn(3, q.in_features, generator=torch.Generator().manual_seed(1))
    pre = "base_model.model.model.layers.0.self_attn.q_proj"
    a, b = tensors[pre + ".lora_A.weight"], tensors[pre + ".lora_B.weight"]
    w, bias = q.base_layer.weight, q.base_layer.bias
    with torch.no_grad():
        want = x @ w.T + (bias if bias is not None else 0) + scale_expected * (x @ a.T) @ b.T
        got = q(x)
        delta = scale_expected * (x @ a.T) @ b.T
    err = (got - want).abs().max().item()
    if err > 1e-5 * max(1.0, want.abs().max().item()):
        fail(f"PEFT q_proj output differs from W x + b + (alpha/r) B A x by {err:.3g}")
    print(f"peft: {n} LoRA tensors loaded, equal to the file bit for bit; {len(mods)} modules wrapped, "
          f"scaling {scale_expected:g} = lora_alpha/r; layer-0 q_proj = W x + b + (alpha/r) B A x "
          f"(|err| {err:.1e}, |delta| up to {delta.abs().max().item():.3g})")
    return model, tok


# ---------------------------------------------------------------------------------------------
# 3. greedy decoding against ftune

def render(tok, system, user):
    msgs = ([{"role": "system", "content": system}] if system is not None else []) + [{"role": "user", "content": user}]
    return tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)


def stop_ids(tok, model_dir):
    ids = {tok.eos_token_id}
    im_end = tok.convert_tokens_to_ids("<|im_end|>")
    if im_end is not None and im_end != tok.unk_token_id:
        ids.add(im_end)
    return sorted(i for i in ids if i is not None)


@torch.no_grad()
def greedy(model, prompt_ids, max_new, stops, pad):
    inp = torch.tensor([prompt_ids])
    out = model.generate(input_ids=inp, attention_mask=torch.ones_like(inp), max_new_tokens=max_new,
                         do_sample=False, num_beams=1, eos_token_id=stops, pad_token_id=pad)
    ids = out[0, len(prompt_ids):].tolist()
    for j, i in enumerate(ids):  # cut at the first stop id (ftune neither prints nor counts it as text)
        if i in stops:
            return ids[:j]
    return ids


@torch.no_grad()
def margins(model, prompt_ids, gen_ids):
    """top1 - top2 logit at each generated position (teacher-forced on gen_ids)."""
    seq = torch.tensor([prompt_ids + gen_ids])
    logits = model(input_ids=seq).logits[0, len(prompt_ids) - 1:len(prompt_ids) - 1 + len(gen_ids) + 1]
    top = logits.topk(2, dim=-1)
    return [(top.values[i, 0] - top.values[i, 1]).item() for i in range(top.values.shape[0])], top.indices


def first_diff_token(dec, ids, text):
    """Index of the first generated token whose bytes stop matching text; None if ids reproduce text."""
    acc = b""
    for j, i in enumerate(ids):
        acc += dec.decode([i])
        if not text.startswith(acc):
            return j
    return None if acc == text else len(ids)


def diagnose(model, dec, tok, prompt_ids, ref_ids, ftune_text, stops, pad, max_new, cfg, variants=True):
    j = first_diff_token(dec, ref_ids, ftune_text)
    m, idx = margins(model, prompt_ids, ref_ids)
    j_eff = min(j, len(m) - 1)
    top2 = [tok.convert_ids_to_tokens(int(t)) for t in idx[j_eff]]
    print(f"    first differing generated token: position {j}; PEFT top-2 there {top2} margin {m[j_eff]:.4g} "
          f"(smallest margin over the first {j_eff + 1} positions: {min(m[:j_eff + 1]):.4g})")
    if not variants:
        return m[j_eff]
    # which wrong reading of the adapter would produce ftune's text?
    sd = model.state_dict()
    saved = {k: sd[k].clone() for k in sd if ".lora_" in k}
    scale = cfg["lora_alpha"] / cfg["r"]
    variants = {
        "scale 1 instead of alpha/r": lambda k, t: t / scale if ".lora_B." in k else t,
        "scale r/alpha instead of alpha/r": lambda k, t: t / (scale * scale) if ".lora_B." in k else t,
        "A rows reversed (rank order)": lambda k, t: t.flip(0) if ".lora_A." in k else t,
        "adapter ignored": lambda k, t: torch.zeros_like(t) if ".lora_B." in k else t,
    }
    hits = []
    for name, fn in variants.items():
        with torch.no_grad():
            for k, t in saved.items():
                sd[k].copy_(fn(k, t))
        if dec.decode(greedy(model, prompt_ids, max_new, stops, pad)) == ftune_text:
            hits.append(name)
    with torch.no_grad():
        for k, t in saved.items():
            sd[k].copy_(t)
    print(f"    wrong readings that reproduce ftune's text: {hits if hits else 'none'}")
    return m[j_eff]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--adapter", required=True)
    ap.add_argument("--ftune", default="build/ftune")
    ap.add_argument("--max-tokens", type=int, default=20)
    ap.add_argument("--near-tie", type=float, default=1e-3,
                    help="a top-2 margin below this at the first difference counts as a near tie (reported, still a failure)")
    args = ap.parse_args()
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    import transformers
    transformers.logging.set_verbosity_error()

    cfg, tensors = check_files(args.model, args.adapter)
    model, tok = load_peft(args.model, args.adapter, cfg, tensors)
    dec = ByteDecoder(args.model)
    stops = stop_ids(tok, args.model)
    pad = tok.pad_token_id if tok.pad_token_id is not None else stops[0]

    n_ok = n_changed = 0
    failures = []
    min_margin = math.inf
    lora_texts = []
    for system, user in DEFAULT_PROMPTS:
        prompt = render(tok, system, user)
        prompt_ids = tok(prompt, add_special_tokens=False)["input_ids"]
        ft_prompt_ids = json.loads(run([args.ftune, "tokenize", "--model", args.model, "--no-special", prompt]))
        if ft_prompt_ids != prompt_ids:
            fail(f"prompt ids differ between transformers and `ftune tokenize` for {user!r}")

        with model.disable_adapter():
            base_ids = greedy(model, prompt_ids, args.max_tokens, stops, pad)
        lora_ids = greedy(model, prompt_ids, args.max_tokens, stops, pad)
        base_txt, lora_txt = dec.decode(base_ids), dec.decode(lora_ids)
        lora_texts.append(lora_txt)
        ft_base = ftune_chat(args.ftune, args.model, None, system, user, args.max_tokens)
        ft_lora = ftune_chat(args.ftune, args.model, args.adapter, system, user, args.max_tokens)
        m, _ = margins(model, prompt_ids, lora_ids)
        m = m[:len(lora_ids)] or [math.inf]
        min_margin = min(min_margin, min(m))

        changed = base_ids != lora_ids
        n_changed += changed
        ok_base, ok_lora = ft_base == base_txt, ft_lora == lora_txt
        tag = "ok" if ok_base and ok_lora else "DIFF"
        print(f"[{tag}] {user!r}{' (system: ' + repr(system) + ')' if system else ''}: "
              f"adapter {'changes' if changed else 'does NOT change'} the output; "
              f"smallest top-2 margin on PEFT's path {min(m):.3g}")
        print(f"    peft+lora {lora_ids}")
        print(f"    peft+lora {lora_txt!r}\n    ftune+lora {ft_lora!r}")
        if changed:
            print(f"    base      {base_txt!r}")
        if not ok_base:
            print(f"    base differs: peft {base_txt!r} vs ftune {ft_base!r}")
            with model.disable_adapter():
                diagnose(model, dec, tok, prompt_ids, base_ids, ft_base, stops, pad, args.max_tokens, cfg, False)
            failures.append(f"base: {user!r}")
        if not ok_lora:
            mg = diagnose(model, dec, tok, prompt_ids, lora_ids, ft_lora, stops, pad, args.max_tokens, cfg)
            kind = "near tie" if mg < args.near_tie else "real difference"
            failures.append(f"adapter ({kind}, margin {mg:.3g}): {user!r}")
        n_ok += ok_base and ok_lora

    # 4. the other direction: what PEFT's save_pretrained writes, read back by ftune
    resaved = args.adapter.rstrip("/") + ".peft-resaved"
    model.save_pretrained(resaved)
    rcfg = json.load(open(os.path.join(resaved, "adapter_config.json")))
    n_back = 0
    for (system, user), want in zip(DEFAULT_PROMPTS, lora_texts):
        got = ftune_chat(args.ftune, args.model, resaved, system, user, args.max_tokens)
        n_back += got == want
        if got != want:
            failures.append(f"PEFT-saved adapter read by ftune: {user!r}: {got!r} vs {want!r}")
    print(f"round trip: PEFT save_pretrained -> {resaved} ("
          f"lora_alpha {rcfg.get('lora_alpha')!r}, target_modules {sorted(rcfg.get('target_modules') or [])}); "
          f"ftune chat --adapter on it reproduces {n_back}/{len(DEFAULT_PROMPTS)} PEFT greedy texts")

    n = len(DEFAULT_PROMPTS)
    print(f"summary: {n_ok}/{n} prompts agree (ftune chat vs PEFT greedy, {args.max_tokens} tokens, with and without "
          f"the adapter); the adapter changes the greedy output of {n_changed}/{n} prompts; "
          f"smallest PEFT top-2 logit margin along the adapter's greedy paths {min_margin:.3g}")
    if failures:
        fail("; ".join(failures))
    if n_changed == 0:
        fail("the adapter changes no prompt's greedy output: the comparison would not test the adapter")
    print("PASS")


if __name__ == "__main__":
    main()
