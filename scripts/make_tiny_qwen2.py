#!/usr/bin/env python3
"""make_tiny_qwen2.py: writes a tiny random Qwen2-shaped model in Hugging Face layout.

Usage: python3 scripts/make_tiny_qwen2.py OUTDIR [--no-sharded] [--quiet]

Writes OUTDIR/{config.json, model.safetensors, tokenizer.json, tokenizer_config.json} and the
same model split in two shards with model.safetensors.index.json into OUTDIR-sharded (unless
--no-sharded). Everything is deterministic (numpy default_rng with a fixed seed, a tiny BPE
trainer over a text embedded below), so two runs give byte-identical files; their sha256 are
printed at the end. A file whose bytes are already right is not rewritten.

The model: hidden 64, intermediate 160, 2 layers, 4 heads / 2 KV heads (head_dim 16), q/k/v
biases, separate lm_head, rope_theta 1e6. Most tensors are F32; a few are stored as F16 or BF16
(see STORED_DTYPES) so that the loader's dtype conversion is exercised. Reference outputs must be
computed from the values as stored (after rounding).

The tokenizer: byte-level BPE in tokenizer.json format: the 256 byte tokens in GPT-2
byte-to-unicode order, then N_MERGES merges learned here, then <|endoftext|>, <|im_start|>,
<|im_end|>. Qwen2's split regex and ByteLevel pre-tokenizer/decoder; no normalizer (real Qwen2
adds NFC, which is a no-op on the ASCII this tokenizer was trained on).

Run-time dependencies: numpy and the Python standard library only (runs in `make test`). When
PyPI `tokenizers` is importable, the tokenizer is also checked with it (skipped otherwise).
Not a training tool: the weights are random and the model writes nonsense.
"""
import hashlib
import json
import os
import re
import struct
import sys
from collections import Counter

import numpy as np

SEED = 20240607
N_MERGES = 300

HIDDEN = 64
INTERMEDIATE = 160
N_LAYERS = 2
N_HEADS = 4
N_KV_HEADS = 2
HEAD_DIM = HIDDEN // N_HEADS
ROPE_THETA = 1000000.0
RMS_EPS = 1e-6
MAX_POS = 512

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

# Tensors not stored as F32 (the rest are F32).
STORED_DTYPES = {
    "model.embed_tokens.weight": "F16",
    "lm_head.weight": "BF16",
    "model.layers.0.mlp.up_proj.weight": "BF16",
    "model.layers.1.self_attn.v_proj.bias": "F16",
    "model.layers.1.post_attention_layernorm.weight": "BF16",
}

# Qwen2's pre-tokenizer split regex (as it appears in tokenizer.json).
QWEN2_SPLIT_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
# The same regex for ASCII-only text, for Python's re module (no \p{...}): used only to train
# the merges on TRAIN_TEXT, which is ASCII.
ASCII_SPLIT_REGEX = re.compile(
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\nA-Za-z0-9]?[A-Za-z]+|[0-9]| ?[^\sA-Za-z0-9]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
# A Unicode approximation of it for Python's re (letters = [^\W\d_], numbers = \d), used only
# by the self-check encoder below; the real split is checked against tokenizers.
UNICODE_SPLIT_REGEX = re.compile(
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|(?:[^\r\n\w]|_)?[^\W\d_]+|\d| ?(?:[^\s\w]|_)+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)

# Qwen2.5-Instruct's chat template (ChatML; default system prompt "You are Qwen, ...").
CHAT_TEMPLATE = r"""{%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
    {%- endif %}
    {{- "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>" }}
    {%- for tool in tools %}
        {{- "\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}
    {%- else %}
        {{- '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\n<tool_call>\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\n<tool_response>\n' }}
        {{- message.content }}
        {{- '\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
{%- endif %}
"""
CHAT_TEMPLATE_SHA256 = "cd8e9439f0570856fd70470bf8889ebd8b5d1107207f67a5efb46e342330527f"

# The BPE training text (ASCII English prose, a chat exchange and some C and Python code).
TRAIN_TEXT = """\
The quick brown fox jumps over the lazy dog. Once upon a time, there was a little girl who
loved to read books in the garden. Every morning she walked to the library with her brother,
and every evening they told each other the stories they had read. The library was old and
quiet, and the librarian was a kind woman who knew the name of every book on every shelf.
"What are you reading today?" she asked. "A story about the sea," the girl said. "It's about a
ship that sails around the world, and the sailors find an island where nobody has ever been."
The woman smiled. "Then you'll need the next one too. It's the second part of the story."

A language model predicts the next token from the tokens that came before it. It is trained on
a large amount of text, and then it can be fine-tuned on a smaller set of examples so that it
follows instructions, answers questions, or writes in a particular style. Fine-tuning with a
low-rank adapter changes only a small number of parameters: the base weights stay frozen, and
two thin matrices are learned for each projection. The adapter is saved in its own file, and
at inference time it is added to the base model.

User: What is the capital of France?
Assistant: The capital of France is Paris. It is also the largest city in the country.
User: How many people live there?
Assistant: About 2.1 million people live in the city itself, and more than 12 million live in
the whole metropolitan area.
User: Thanks! Can you give me three facts about the river that runs through it?
Assistant: Of course. The Seine is 777 kilometres long, it flows into the English Channel at
Le Havre, and there are 37 bridges across it in Paris.

static int tensor_matmul(const float *a, const float *b, float *out, int n, int d, int k) {
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < k; j++) {
            float sum = 0.0f;
            for (int t = 0; t < d; t++) {
                sum += a[i * d + t] * b[t * k + j];
            }
            out[i * k + j] = sum;
        }
    }
    return 0;
}

def read_config(path):
    with open(path, "r", encoding="utf-8") as f:
        config = json.load(f)
    if config.get("model_type") not in ("llama", "qwen2"):
        raise ValueError("unsupported model type: %s" % config.get("model_type"))
    return config

for step in range(1000):
    loss = model.train_step(batch)
    if step % 100 == 0:
        print(f"step {step}: loss {loss:.4f}, lr {scheduler.get_lr():.6f}")

The numbers 0 1 2 3 4 5 6 7 8 9 and 10, 20, 30, 100, 256, 1024, 4096 appear in the text.
She said: "I'd like a cup of tea, and we'll see what they've got for dinner." They're here.
Don't forget the semicolon; the compiler will complain if you do. That's all for today!
"""


# ---------------------------------------------------------------------------------------------
# Tokenizer
# ---------------------------------------------------------------------------------------------

def byte_level_alphabet():
    """GPT-2's byte-to-unicode table, as a list of (byte, char) in GPT-2's order: the printable
    bytes keep their own code point, the others map to 256, 257, ... in byte order."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    pairs = [(b, chr(b)) for b in keep]
    extra = 0
    for b in range(256):
        if b not in keep:
            pairs.append((b, chr(256 + extra)))
            extra += 1
    return pairs


def train_bpe(text, n_merges, byte_to_char):
    """Learns n_merges merges, deterministically: the most frequent adjacent pair wins, ties go
    to the lexicographically smallest pair. Words are the ASCII split-regex pieces of text."""
    words = Counter()
    for piece in ASCII_SPLIT_REGEX.findall(text):
        words["".join(byte_to_char[b] for b in piece.encode("utf-8"))] += 1
    seqs = [(list(w), c) for w, c in sorted(words.items())]
    merges = []
    for _ in range(n_merges):
        pairs = Counter()
        for syms, c in seqs:
            for i in range(len(syms) - 1):
                pairs[(syms[i], syms[i + 1])] += c
        if not pairs:
            break
        best = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        merges.append(best)
        a, b = best
        for syms, _c in seqs:
            i = 0
            while i < len(syms) - 1:
                if syms[i] == a and syms[i + 1] == b:
                    syms[i:i + 2] = [a + b]
                i += 1
    return merges


def build_tokenizer(special_tokens=SPECIAL_TOKENS, split_regex=QWEN2_SPLIT_REGEX):
    """Returns (tokenizer.json dict, vocab dict token->id, merges list, special token ids).
    special_tokens and split_regex default to Qwen2's (make_tiny_llama31.py passes Llama 3's)."""
    alphabet = byte_level_alphabet()
    byte_to_char = {b: c for b, c in alphabet}
    vocab = {}
    for _b, c in alphabet:
        vocab[c] = len(vocab)
    merges = train_bpe(TRAIN_TEXT, N_MERGES, byte_to_char)
    for a, b in merges:
        if a + b not in vocab:
            vocab[a + b] = len(vocab)
    special_ids = {}
    added = []
    for s in special_tokens:
        special_ids[s] = len(vocab) + len(added)
        added.append({"id": special_ids[s], "content": s, "single_word": False, "lstrip": False,
                      "rstrip": False, "normalized": False, "special": True})
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
                  "use_regex": False}
    tok = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {
            "type": "Sequence",
            "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": split_regex}, "behavior": "Isolated",
                 "invert": False},
                dict(byte_level),
            ],
        },
        "post_processor": dict(byte_level),
        "decoder": dict(byte_level),
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": "",
            "end_of_word_suffix": "",
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": False,
            "vocab": vocab,
            "merges": ["%s %s" % (a, b) for a, b in merges],
        },
    }
    return tok, vocab, merges, special_ids


def tokenizer_config(special_ids):
    decoder = {}
    for s in SPECIAL_TOKENS:
        decoder[str(special_ids[s])] = {"content": s, "lstrip": False, "normalized": False,
                                        "rstrip": False, "single_word": False, "special": True}
    return {
        "add_bos_token": False,
        "add_prefix_space": False,
        "added_tokens_decoder": decoder,
        "additional_special_tokens": ["<|im_start|>", "<|im_end|>"],
        "bos_token": None,
        "chat_template": CHAT_TEMPLATE,
        "clean_up_tokenization_spaces": False,
        "eos_token": "<|im_end|>",
        "errors": "replace",
        "model_max_length": MAX_POS,
        "pad_token": "<|endoftext|>",
        "split_special_tokens": False,
        "tokenizer_class": "Qwen2Tokenizer",
        "unk_token": None,
    }


def model_config(vocab_size, special_ids):
    return {
        "architectures": ["Qwen2ForCausalLM"],
        "attention_dropout": 0.0,
        "bos_token_id": special_ids["<|endoftext|>"],
        "eos_token_id": special_ids["<|im_end|>"],
        "hidden_act": "silu",
        "hidden_size": HIDDEN,
        "initializer_range": 0.02,
        "intermediate_size": INTERMEDIATE,
        "max_position_embeddings": MAX_POS,
        "max_window_layers": N_LAYERS,
        "model_type": "qwen2",
        "num_attention_heads": N_HEADS,
        "num_hidden_layers": N_LAYERS,
        "num_key_value_heads": N_KV_HEADS,
        "rms_norm_eps": RMS_EPS,
        "rope_theta": ROPE_THETA,
        "sliding_window": MAX_POS,
        "tie_word_embeddings": False,
        "torch_dtype": "float32",
        "use_cache": True,
        "use_sliding_window": False,
        "vocab_size": vocab_size,
    }


# ---------------------------------------------------------------------------------------------
# Weights and safetensors
# ---------------------------------------------------------------------------------------------

def make_weights(vocab_size, biases=True):
    """name -> float32 array (HF layout: Linear weights are (out, in)), in a fixed order; without
    biases, no q/k/v bias (Llama)."""
    rng = np.random.default_rng(SEED)
    kv = N_KV_HEADS * HEAD_DIM

    def normal(shape, scale):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    w = {}
    w["model.embed_tokens.weight"] = normal((vocab_size, HIDDEN), 0.5)
    for l in range(N_LAYERS):
        p = "model.layers.%d." % l
        w[p + "input_layernorm.weight"] = 1.0 + normal((HIDDEN,), 0.1)
        w[p + "self_attn.q_proj.weight"] = normal((HIDDEN, HIDDEN), 0.1)
        if biases:
            w[p + "self_attn.q_proj.bias"] = normal((HIDDEN,), 0.1)
        w[p + "self_attn.k_proj.weight"] = normal((kv, HIDDEN), 0.1)
        if biases:
            w[p + "self_attn.k_proj.bias"] = normal((kv,), 0.2)
        w[p + "self_attn.v_proj.weight"] = normal((kv, HIDDEN), 0.1)
        if biases:
            w[p + "self_attn.v_proj.bias"] = normal((kv,), 0.1)
        w[p + "self_attn.o_proj.weight"] = normal((HIDDEN, HIDDEN), 0.1)
        w[p + "post_attention_layernorm.weight"] = 1.0 + normal((HIDDEN,), 0.1)
        w[p + "mlp.gate_proj.weight"] = normal((INTERMEDIATE, HIDDEN), 0.1)
        w[p + "mlp.up_proj.weight"] = normal((INTERMEDIATE, HIDDEN), 0.1)
        w[p + "mlp.down_proj.weight"] = normal((HIDDEN, INTERMEDIATE), 0.08)
    w["model.norm.weight"] = 1.0 + normal((HIDDEN,), 0.1)
    w["lm_head.weight"] = normal((vocab_size, HIDDEN), 0.2)
    return w


def to_bf16_bits(x):
    """float32 array -> uint16 bfloat16 bits, round to nearest even (inputs are finite)."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return u.astype(np.uint16)


def encode_tensor(x, dtype):
    """Returns the little-endian bytes of x stored as dtype ("F32", "F16", "BF16")."""
    if dtype == "F32":
        return np.ascontiguousarray(x, dtype="<f4").tobytes()
    if dtype == "F16":
        return np.ascontiguousarray(x.astype("<f2")).tobytes()
    if dtype == "BF16":
        return to_bf16_bits(x).astype("<u2").tobytes()
    raise ValueError(dtype)


DTYPE_SIZE = {"F32": 4, "F16": 2, "BF16": 2}


def safetensors_bytes(tensors):
    """tensors: name -> (dtype, shape, raw bytes). Laid out largest dtype first, then by name
    (every tensor stays aligned to its element size); header padded with spaces to 8 bytes."""
    order = sorted(tensors, key=lambda n: (-DTYPE_SIZE[tensors[n][0]], n))
    header = {"__metadata__": {"format": "pt"}}
    offset = 0
    for n in order:
        dtype, shape, raw = tensors[n]
        header[n] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * (-len(hjson) % 8)
    return struct.pack("<Q", len(hjson)) + hjson + b"".join(tensors[n][2] for n in order)


# ---------------------------------------------------------------------------------------------
# Checks with PyPI tokenizers (optional)
# ---------------------------------------------------------------------------------------------

CHECK_TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "Hello, world! It's 2024 and we'll see 12345 tokens.\n\n  indented   spaces\ttab\r\nend",
    "Unicode: caf\u00e9, na\u00efve, \u00fcber, \u4f60\u597d\u4e16\u754c, emoji \U0001f600\U0001f680 and \u2603.",
    "def f(x):\n    return x ** 2  # comment\n",
    "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n",
]


def check_with_hf_tokenizers(tok_path, vocab, merges, special_ids):
    try:
        import tokenizers
    except ImportError:
        return "skipped (no tokenizers module)"
    t = tokenizers.Tokenizer.from_file(tok_path)
    n = len(vocab) + len(SPECIAL_TOKENS)
    assert t.get_vocab_size(with_added_tokens=True) == n, t.get_vocab_size()
    for s, i in special_ids.items():
        assert t.token_to_id(s) == i, (s, t.token_to_id(s), i)
    alphabet = byte_level_alphabet()
    assert t.token_to_id("!") == 0 and t.token_to_id("\u0100") == 188 and t.token_to_id("\u0120") == 220
    for b, c in alphabet:  # every ASCII byte alone is its own token
        if b < 0x80:
            ids = t.encode(chr(b), add_special_tokens=False).ids
            assert ids == [vocab[c]], (b, ids)
    for text in CHECK_TEXTS:
        enc = t.encode(text, add_special_tokens=False)
        dec = t.decode(enc.ids, skip_special_tokens=False)
        assert dec == text, (text, dec)
        if "<|" not in text:
            assert encode_with_merges(text, vocab, merges) == enc.ids, text
    enc = t.encode("<|im_start|>user\nhi<|im_end|>", add_special_tokens=False).ids
    assert enc[0] == special_ids["<|im_start|>"] and enc[-1] == special_ids["<|im_end|>"], enc
    # the pieces of the training text must split the same with the real regex
    pre = t.pre_tokenizer.pre_tokenize_str(TRAIN_TEXT)
    byte_to_char = dict(alphabet)
    mine = ["".join(byte_to_char[b] for b in p.encode()) for p in ASCII_SPLIT_REGEX.findall(TRAIN_TEXT)]
    assert [p for p, _ in pre] == mine, "split regex mismatch"
    return "ok (tokenizers %s)" % tokenizers.__version__


def encode_with_merges(text, vocab, merges):
    """Plain BPE by merge rank over the byte-level pieces: an independent check of the merges
    and their order against tokenizers on CHECK_TEXTS."""
    alphabet = dict(byte_level_alphabet())
    rank = {m: i for i, m in enumerate(merges)}
    pieces = UNICODE_SPLIT_REGEX.findall(text)
    ids = []
    for piece in pieces:
        syms = [alphabet[b] for b in piece.encode("utf-8")]
        while len(syms) > 1:
            best = None
            for i in range(len(syms) - 1):
                r = rank.get((syms[i], syms[i + 1]))
                if r is not None and (best is None or r < best[0]):
                    best = (r, i)
            if best is None:
                break
            i = best[1]
            syms[i:i + 2] = [syms[i] + syms[i + 1]]
        ids.extend(vocab[s] for s in syms)
    return ids


# ---------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------

def write_if_changed(path, data):
    if os.path.exists(path):
        with open(path, "rb") as f:
            if f.read() == data:
                return
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def json_bytes(obj):
    return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    flags = {a for a in argv[1:] if a.startswith("--")}
    if len(args) != 1 or flags - {"--no-sharded", "--quiet"}:
        sys.stderr.write(__doc__)
        return 2
    out = args[0].rstrip("/")
    assert hashlib.sha256(CHAT_TEMPLATE.encode()).hexdigest() == CHAT_TEMPLATE_SHA256

    tok, vocab, merges, special_ids = build_tokenizer()
    vocab_size = len(vocab) + len(SPECIAL_TOKENS)
    files = {
        "config.json": json_bytes(model_config(vocab_size, special_ids)),
        "tokenizer.json": json_bytes(tok),
        "tokenizer_config.json": json_bytes(tokenizer_config(special_ids)),
    }
    weights = make_weights(vocab_size)
    tensors = {}
    for name, x in weights.items():
        dtype = STORED_DTYPES.get(name, "F32")
        tensors[name] = (dtype, x.shape, encode_tensor(x, dtype))

    written = []
    os.makedirs(out, exist_ok=True)
    for name, data in files.items():
        write_if_changed(os.path.join(out, name), data)
        written.append(os.path.join(out, name))
    write_if_changed(os.path.join(out, "model.safetensors"), safetensors_bytes(tensors))
    written.append(os.path.join(out, "model.safetensors"))

    if "--no-sharded" not in flags:
        sdir = out + "-sharded"
        os.makedirs(sdir, exist_ok=True)
        for name, data in files.items():
            write_if_changed(os.path.join(sdir, name), data)
            written.append(os.path.join(sdir, name))
        shard_names = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
        # shard 1: embeddings and layer 0; shard 2: the other layers, final norm, lm_head
        shards = [{}, {}]
        weight_map = {}
        for name in weights:
            k = 0 if name.startswith("model.embed_tokens.") or name.startswith("model.layers.0.") else 1
            shards[k][name] = tensors[name]
            weight_map[name] = shard_names[k]
        for k in range(2):
            write_if_changed(os.path.join(sdir, shard_names[k]), safetensors_bytes(shards[k]))
            written.append(os.path.join(sdir, shard_names[k]))
        total = sum(len(t[2]) for t in tensors.values())
        index = {"metadata": {"total_size": total},
                 "weight_map": {n: weight_map[n] for n in sorted(weight_map)}}
        write_if_changed(os.path.join(sdir, "model.safetensors.index.json"), json_bytes(index))
        written.append(os.path.join(sdir, "model.safetensors.index.json"))

    check = check_with_hf_tokenizers(os.path.join(out, "tokenizer.json"), vocab, merges, special_ids)
    if "--quiet" not in flags:
        print("make_tiny_qwen2: vocab %d (256 bytes + %d merges + %d special), tokenizer check: %s"
              % (vocab_size, len(vocab) - 256, len(SPECIAL_TOKENS), check))
        for path in written:
            with open(path, "rb") as f:
                print("%s  %s" % (hashlib.sha256(f.read()).hexdigest(), path))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
