"""gguf_export_check.py: checks ftune's GGUF exports against llama.cpp (PyPI llama-cpp-python) and
PyPI gguf's reader. Run by tests/cli/export_gguf.sh:

    python3 tests/gguf_export_check.py FTUNE BASE.gguf ADAPTER_DIR WORKDIR [--types f16,q8_0]
                                       [--report-only TYPES] [--prompts-file FILE]

with ADAPTER_DIR a PEFT adapter ftune trained on BASE. It exports the adapter as a LoRA GGUF and
the merged model in each of --types (default F16 and Q8_0), then checks:
  1. every exported file reads the same through ftune (`ftune info --gguf`) and through
     gguf.GGUFReader: names, types, shapes, SHA-256 of the stored bytes and of the values as fp32;
  2. the adapter GGUF holds PEFT's A and B (read from adapter_model.safetensors by numpy), with
     B's rows of q and k permuted as llama.cpp's convert_hf_to_gguf.py permutes a Llama model's
     q/k rows (its formula, written here independently), and the adapter metadata llama.cpp reads;
  3. the merged F16 weights are W + alpha/r B A computed here from the base (dequantized by gguf)
     and the PEFT factors, within fp16 rounding; the source's metadata is carried over;
  4. llama.cpp with the adapter GGUF on the base (Llama(lora_path=...)) gives the same greedy text
     as `ftune chat --adapter` on every prompt, and the adapter visibly changes the base's text;
  5. llama.cpp on each merged file gives the same greedy text as `ftune chat` on the same file,
     and, for a base stored in F32/F16, llama.cpp's logits on the merged F16 file are within
     LOGIT_BOUND of its logits on the base with the adapter GGUF (the export's own error: fp16
     rounding of merged weights; on a quantized base llama.cpp's own arithmetic differs more
     between the two files than that, and the difference is printed).
With a Hugging Face folder as BASE it checks instead that llama.cpp tokenizes the GGUF metadata ftune
writes from tokenizer.json as ftune does (hard texts), and gives ftune's greedy text with the adapter
GGUF on an F32 GGUF of the base and on merged F32 and F16 files (hf_main).
Prompts are rendered as ftune renders them: the plain format for a model without a chat template,
else the model's Jinja template (tokenizer.chat_template, rendered by jinja2). Exits 1 with a
message on the first failed check; greedy mismatches of the --report-only types (Q4_0, Q4_K:
llama.cpp rounds activations to 8 bits for their products, ftune does not, so near-ties may go
either way) are printed, not failed."""
import argparse
import hashlib
import json
import os
import subprocess
import sys

import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize

PROMPTS = ["Tell me about toy 3.", "Tell me about toy 7.", "What is a ball?"]
MAX_TOKENS = 12
# max |logit difference| between the merged F16 file and base + adapter GGUF in llama.cpp, relative
# to the largest |logit|: F16 keeps 11 bits, so each merged weight moves by <= 2^-11 of itself
LOGIT_BOUND = 0.02
TARGETS = {"q_proj": "attn_q", "k_proj": "attn_k", "v_proj": "attn_v", "o_proj": "attn_output",
           "gate_proj": "ffn_gate", "up_proj": "ffn_up", "down_proj": "ffn_down"}


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def run(*args):
    p = subprocess.run(list(args), capture_output=True, text=True)
    if p.returncode != 0:
        fail(f"{' '.join(args)}: exit {p.returncode}: {p.stderr.strip()}")
    return p.stdout


def field(reader, key):
    f = reader.fields.get(key)
    return None if f is None else f.contents()


def read_safetensors(path):
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        assert t["dtype"] == "F32", name
        a, b = t["data_offsets"]
        out[name] = np.frombuffer(data[a:b], np.float32).reshape(t["shape"])
    return out


def llama_permute(w, n_head):
    """convert_hf_to_gguf.py's LlamaModel.permute of q/k rows (Hugging Face -> GGUF order)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def check_readers(ftune, path):
    lines = [l.split() for l in run(ftune, "info", "--gguf", path).splitlines() if l.startswith("tensor ")]
    ours = {l[1]: l[2:] for l in lines}
    r = GGUFReader(path)
    if len(r.tensors) != len(ours):
        fail(f"{path}: gguf reads {len(r.tensors)} tensors, ftune {len(ours)}")
    for t in r.tensors:
        raw = np.asarray(t.data).tobytes()
        values = dequantize(np.asarray(t.data), t.tensor_type).astype("<f4").tobytes()
        want = [t.tensor_type.name, ",".join(str(int(x)) for x in t.shape), hashlib.sha256(raw).hexdigest(),
                hashlib.sha256(values).hexdigest()]
        if ours.get(t.name) != want:
            fail(f"{path}: tensor {t.name}: ftune reads {ours.get(t.name)}, gguf {want}")
    return r


def check_adapter(ftune, base, adapter_dir, path):
    r = check_readers(ftune, path)
    cfg = json.load(open(os.path.join(adapter_dir, "adapter_config.json")))
    b = GGUFReader(base)
    arch = field(b, "general.architecture")
    for key, want in [("general.type", "adapter"), ("adapter.type", "lora"), ("general.architecture", arch)]:
        if field(r, key) != want:
            fail(f"{path}: {key} is {field(r, key)!r}, llama.cpp wants {want!r}")
    if abs(field(r, "adapter.lora.alpha") - cfg["lora_alpha"]) > 1e-6:
        fail(f"{path}: adapter.lora.alpha {field(r, 'adapter.lora.alpha')} != {cfg['lora_alpha']}")
    n_head, n_kv = field(b, f"{arch}.attention.head_count"), field(b, f"{arch}.attention.head_count_kv")
    peft = read_safetensors(os.path.join(adapter_dir, "adapter_model.safetensors"))
    tensors = {t.name: t for t in r.tensors}
    n = 0
    for name, a in peft.items():
        if ".lora_A." not in name:
            continue
        layer = int(name.split(".layers.")[1].split(".")[0])
        proj = name.split(".lora_A.")[0].split(".")[-1]
        bm = peft[name.replace(".lora_A.", ".lora_B.")]
        if arch == "llama" and proj in ("q_proj", "k_proj"):
            bm = llama_permute(bm, n_head if proj == "q_proj" else n_kv)
        gname = f"blk.{layer}.{TARGETS[proj]}.weight"
        ta, tb = tensors.get(gname + ".lora_a"), tensors.get(gname + ".lora_b")
        if ta is None or tb is None:
            fail(f"{path}: no {gname}.lora_a/.lora_b")
        # llama.cpp: lora_a ne = [n_in, r], lora_b ne = [r, n_out] (numpy shapes reversed)
        if list(ta.shape) != [a.shape[1], a.shape[0]] or list(tb.shape) != [bm.shape[1], bm.shape[0]]:
            fail(f"{path}: {gname}: shapes {list(ta.shape)} {list(tb.shape)}")
        if not (np.array_equal(np.asarray(ta.data), a) and np.array_equal(np.asarray(tb.data), bm)):
            fail(f"{path}: {gname}: values differ from the PEFT factors")
        n += 1
    if n == 0 or 2 * n != len(r.tensors):
        fail(f"{path}: {len(r.tensors)} tensors for {n} PEFT pairs")
    return n


def check_merged_f16(ftune, base, adapter_dir, path):
    r = check_readers(ftune, path)
    b = GGUFReader(base)
    for f in b.fields.values():
        if f.name.startswith("GGUF.") or f.name in ("general.file_type", "general.quantization_version"):
            continue
        if f.name not in r.fields or r.fields[f.name].contents() != f.contents():
            fail(f"{path}: metadata {f.name} was not carried over")
    if field(r, "general.file_type") != 1:
        fail(f"{path}: general.file_type {field(r, 'general.file_type')}, want 1 (F16)")
    cfg = json.load(open(os.path.join(adapter_dir, "adapter_config.json")))
    scale = cfg["lora_alpha"] / cfg["r"]
    arch = field(b, "general.architecture")
    n_head, n_kv = field(b, f"{arch}.attention.head_count"), field(b, f"{arch}.attention.head_count_kv")
    peft = read_safetensors(os.path.join(adapter_dir, "adapter_model.safetensors"))
    base_t = {t.name: t for t in b.tensors}
    worst = 0.0
    for t in r.tensors:
        w = dequantize(np.asarray(base_t[t.name].data), base_t[t.name].tensor_type).astype(np.float64)
        w = w.reshape(list(reversed([int(x) for x in t.shape])))
        parts = t.name.split(".")
        if len(parts) == 4 and parts[0] == "blk":
            proj = {v: k for k, v in TARGETS.items()}.get(parts[2])
            key = f"base_model.model.model.layers.{parts[1]}.{'self_attn' if proj and proj[0] in 'qkvo' else 'mlp'}.{proj}.lora_A.weight"
            if proj and key in peft:
                delta = scale * (peft[key.replace("lora_A", "lora_B")].astype(np.float64) @ peft[key].astype(np.float64))
                if arch == "llama" and proj in ("q_proj", "k_proj"):
                    delta = llama_permute(delta, n_head if proj == "q_proj" else n_kv)
                w = w + delta
        got = dequantize(np.asarray(t.data), t.tensor_type).astype(np.float64).reshape(w.shape)
        step = np.abs(w) * 2.0 ** -11 + 2.0 ** -24  # half an fp16 ulp, and its subnormal step
        worst = max(worst, float(np.max(np.abs(got - w) / step)))
    if worst > 1.0001:
        fail(f"{path}: merged weights differ from W + alpha/r B A by {worst:.3f} fp16 half-steps")
    print(f"  merged F16: every weight within {worst:.3f} of half an fp16 step of W + alpha/r B A")


def load_llama_cpp():
    """llama_cpp, its models loaded without the AMX/repacking weight buffers (they segfault in
    llama_decode on small models on some hosts, e.g. stories260K in Q8_0 on Sapphire Rapids)."""
    import llama_cpp
    import llama_cpp.llama_cpp as c
    dflt = c.llama_model_default_params
    if hasattr(dflt(), "use_extra_bufts") and not getattr(dflt, "ftune_no_extra", False):
        def no_extra():
            p = dflt()
            p.use_extra_bufts = False
            return p
        no_extra.ftune_no_extra = True
        c.llama_model_default_params = no_extra
    return llama_cpp


class LlamaCpp:
    """llama.cpp through llama-cpp-python, greedy, all logits kept."""

    def __init__(self):
        self.Llama = load_llama_cpp().Llama

    @staticmethod
    def stop_ids(llm):  # the end-of-turn tokens ftune stops at (chat_template_end_of_turn)
        return {i for i in range(llm.n_vocab()) if llm.detokenize([i], special=True) in (b"<|im_end|>", b"<|eot_id|>")} \
            if llm.metadata.get("tokenizer.chat_template") else set()

    def generate(self, model, prompt_ids, lora=None):
        kw = {"lora_path": lora} if lora else {}
        llm = self.Llama(model_path=model, n_ctx=len(prompt_ids) + MAX_TOKENS + 8, logits_all=True, n_threads=1,
                         seed=0, verbose=False, **kw)
        llm.eval(prompt_ids)
        logits = np.array(llm.scores[:len(prompt_ids)])
        out = []
        for _ in range(MAX_TOKENS):
            nxt = int(np.argmax(llm.scores[llm.n_tokens - 1]))
            if nxt == llm.token_eos() or nxt in self.stop_ids(llm):
                break
            out.append(nxt)
            llm.eval([nxt])
        text = llm.detokenize(prompt_ids + out)[len(llm.detokenize(prompt_ids)):].decode("utf-8", "replace")
        if llm.metadata.get("tokenizer.ggml.model") == "llama" and text.startswith(" "):
            # SentencePiece: ftune decodes a reply as a text of its own, without the leading space
            # the encoder would add (as sentencepiece decodes it); the token ids are the same
            text = text[1:]
        return text, logits


def chat_template(base):
    """The Jinja chat template of a GGUF file or a Hugging Face folder, or None."""
    if os.path.isdir(base):
        cfg = json.load(open(os.path.join(base, "tokenizer_config.json")))
        return cfg.get("chat_template")
    return field(GGUFReader(base), "tokenizer.chat_template")


def prompt_ids(ftune, base, prompt):
    """The prompt as ftune renders it (chat_template.h), tokenized by ftune."""
    tmpl = chat_template(base)
    if tmpl is None:  # the plain format of a model without a template
        text = f"<s>user: {prompt}\nassistant:"
    else:
        import jinja2
        text = jinja2.Environment().from_string(tmpl).render(
            messages=[{"role": "user", "content": prompt}], add_generation_prompt=True, bos_token="<s>")
    return json.loads(run(ftune, "tokenize", "--model", base, "--no-special", text))


def ftune_chat(ftune, model, prompt, adapter=None):
    args = [ftune, "chat", "--precision", "fp32", "--threads", "1", "--model", model, "--max-tokens", str(MAX_TOKENS)]
    if adapter:
        args += ["--adapter", adapter]
    return run(*args, prompt)[:-1]  # the reply and a newline


# texts whose tokenization llama.cpp must share with ftune's Hugging Face tokenizer
HARD_TEXTS = ["Hello world! 12345 don't", "  multiple   spaces\n\nnewlines\ttabs", "héllo wörld — naïve café 日本語 🌍",
              "<|im_start|>user\nhi<|im_end|>", "it's 3.14159 and 1,000,000", "'S 'LL caps ÀÉÎ", "a\r\n\r\nb  \n c"]


def hf_main(ftune, base, adapter_dir, work):
    """A Hugging Face base: the merged GGUF carries tokenizer metadata ftune wrote itself
    (tok_export_gguf), so llama.cpp must tokenize as ftune's tokenizer.json reader does; the adapter
    GGUF is checked on an F32 GGUF of the base made by ftune."""
    base_gguf, adapter = os.path.join(work, "base-f32.gguf"), os.path.join(work, "adapter.gguf")
    merged = {t: os.path.join(work, f"merged-{t}.gguf") for t in ("f32", "f16")}
    run(ftune, "export", "--model", base, "--merge", "--format", "gguf", "--type", "f32", "--no-modelfile",
        "--out", base_gguf)
    run(ftune, "export", "--model", base, "--adapter", adapter_dir, "--format", "gguf", "--out", adapter)
    for t, path in merged.items():
        run(ftune, "export", "--model", base, "--adapter", adapter_dir, "--merge", "--format", "gguf", "--type", t,
            "--no-modelfile", "--out", path)
        check_readers(ftune, path)
    check_readers(ftune, adapter)
    lc = LlamaCpp()
    voc = lc.Llama(model_path=merged["f32"], vocab_only=True, verbose=False)
    for text in HARD_TEXTS:
        ours = json.loads(run(ftune, "tokenize", "--model", base, "--no-special", text))
        theirs = voc.tokenize(text.encode(), add_bos=False, special=True)
        if ours != theirs:
            fail(f"{text!r}: ftune (tokenizer.json) {ours}, llama.cpp (exported GGUF metadata) {theirs}")
    print(f"  {len(HARD_TEXTS)} hard texts: llama.cpp tokenizes the exported metadata as ftune tokenizes tokenizer.json")
    changed = 0
    for p in PROMPTS:
        ids = prompt_ids(ftune, base, p)
        ours = ftune_chat(ftune, base, p, adapter_dir)
        with_lora, _ = lc.generate(base_gguf, ids, lora=adapter)
        plain, _ = lc.generate(base_gguf, ids)
        changed += plain != with_lora
        if with_lora != ours:
            fail(f"{p!r}: llama.cpp with the adapter GGUF says {with_lora!r}, ftune chat --adapter {ours!r}")
        for t, path in merged.items():
            text, _ = lc.generate(path, ids)
            mine = ftune_chat(ftune, path, p)
            if text != mine or (t == "f32" and text != ours):
                fail(f"{p!r}: merged {t}: llama.cpp {text!r}, ftune on it {mine!r}, ftune on the folder {ours!r}")
        print(f"  {p!r}: {ours!r} from ftune (folder + adapter) and llama.cpp (base GGUF + adapter GGUF, merged "
              "f32, f16) alike")
    if not changed:
        fail("the adapter did not change llama.cpp's greedy text on any prompt: the check proves nothing")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ftune")
    ap.add_argument("base")
    ap.add_argument("adapter_dir")
    ap.add_argument("work")
    ap.add_argument("--types", default="f16,q8_0")
    ap.add_argument("--report-only", default="", help="types whose greedy mismatches are printed, not failed")
    ap.add_argument("--prompts-file", help="one prompt a line (default: the toy prompts)")
    a = ap.parse_args()
    ftune, base, adapter_dir, work = a.ftune, a.base, a.adapter_dir, a.work
    if os.path.isdir(base):
        return hf_main(ftune, base, adapter_dir, work)
    prompts = [l.strip() for l in open(a.prompts_file) if l.strip()] if a.prompts_file else PROMPTS
    report_only = set(filter(None, a.report_only.split(",")))
    adapter = os.path.join(work, "adapter.gguf")
    run(ftune, "export", "--adapter", adapter_dir, "--model", base, "--format", "gguf", "--out", adapter)
    merged = {}
    for t in a.types.split(","):
        merged[t] = os.path.join(work, f"merged-{t}.gguf")
        run(ftune, "export", "--model", base, "--adapter", adapter_dir, "--merge", "--format", "gguf", "--type", t,
            "--no-modelfile", "--out", merged[t])
    n = check_adapter(ftune, base, adapter_dir, adapter)
    print(f"  adapter GGUF: {n} LoRA pairs equal PEFT's, q/k rows in llama.cpp's order; ftune and gguf read the same")
    if "f16" in merged:
        check_merged_f16(ftune, base, adapter_dir, merged["f16"])
    for path in merged.values():
        check_readers(ftune, path)
    print(f"  merged {', '.join(merged)}: ftune and gguf read the same tensors")
    float_base = all(t.tensor_type.name in ("F32", "F16") for t in GGUFReader(base).tensors)
    lc = LlamaCpp()
    changed, mismatches = 0, 0
    for p in prompts:
        ids = prompt_ids(ftune, base, p)
        with_lora, lora_logits = lc.generate(base, ids, lora=adapter)
        ours = ftune_chat(ftune, base, p, adapter_dir)
        if with_lora != ours:
            fail(f"{p!r}: llama.cpp with the adapter GGUF says {with_lora!r}, ftune chat --adapter {ours!r}")
        plain, _ = lc.generate(base, ids)
        changed += plain != with_lora
        same = ["base + adapter GGUF"]
        for t, path in merged.items():
            text, logits = lc.generate(path, ids)
            theirs = ftune_chat(ftune, path, p)
            if text != theirs:
                if t not in report_only:
                    fail(f"{p!r}: llama.cpp on merged {t} says {text!r}, ftune chat on it {theirs!r}")
                mismatches += 1
                print(f"  {p!r}: merged {t}: llama.cpp {text!r}, ftune {theirs!r} (reported, not failed)")
            else:
                same.append(f"merged {t}")
            if t == "f16":
                diff = float(np.max(np.abs(logits - lora_logits))) / float(np.max(np.abs(lora_logits)))
                if float_base and diff > LOGIT_BOUND:
                    fail(f"{p!r}: merged f16 logits differ from base + adapter by {diff:.4f} of the largest")
                if not float_base:
                    print(f"  {p!r}: merged f16 logits vs the quantized base + adapter in llama.cpp: {diff:.4f} of "
                          "the largest (llama.cpp's quantized products round activations: reported, not bounded)")
        print(f"  {p!r}: {ours!r} from llama.cpp and ftune alike ({', '.join(same)})")
    if not changed:
        fail("the adapter did not change llama.cpp's greedy text on any prompt: the check proves nothing")
    print(f"  the adapter changes the base model's greedy text on {changed} of {len(prompts)} prompts"
          + (f"; {mismatches} reported mismatches" if report_only else ""))


if __name__ == "__main__":
    main()
