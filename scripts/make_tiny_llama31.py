#!/usr/bin/env python3
"""make_tiny_llama31.py: writes a tiny random Llama-architecture model in Hugging Face layout with a
Llama-3-style tokenizer and Llama 3.1's real chat template, for tool-calling tests of the Llama 3.1+
template (tests/e2e/test_tools_llama.py).

Usage: python3 scripts/make_tiny_llama31.py OUTDIR [--quiet]

Writes OUTDIR/{config.json, model.safetensors, tokenizer.json, tokenizer_config.json}. The pieces
are scripts/make_tiny_qwen2.py's (the same deterministic BPE trained on the same text, the same
random weights generator and safetensors writer), with Llama's differences: no q/k/v biases,
LlamaForCausalLM, rope_theta 500000, Llama 3's pre-tokenizer regex (digits in runs of up to three)
and its special tokens <|begin_of_text|>, <|end_of_text|>, <|start_header_id|>,
<|end_header_id|>, <|eom_id|>, <|eot_id|>, <|python_tag|>. tokenizer_config.json carries
bos <|begin_of_text|>, eos <|eot_id|> and the chat template of meta-llama/Llama-3.1-8B-Instruct
read from tests/data/chat_templates/llama3.1-8b-instruct.jinja (see SOURCES.md there).

Run-time dependencies: numpy and the Python standard library. Deterministic: two runs give
byte-identical files; a file whose bytes are already right is not rewritten. The weights are
random: the model writes nonsense and never calls a tool unless constrained to.
"""
import hashlib
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_tiny_qwen2 as base  # noqa: E402  (the shared tokenizer, weights and file writers)

TEMPLATE_FILE = os.path.join(os.path.dirname(HERE), "tests/data/chat_templates/llama3.1-8b-instruct.jinja")
TEMPLATE_SHA256 = "e10ca381b1ccc5cf9db52e371f3b6651576caee0a630b452e2816b2d404d4b65"

SPECIAL_TOKENS = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
                  "<|eom_id|>", "<|eot_id|>", "<|python_tag|>"]
LLAMA3_SPLIT_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
ROPE_THETA = 500000.0
MAX_POS = 4096  # more than the Qwen model: the tools turn alone is some 600 tokens of this small vocabulary


def tokenizer_config(special_ids, template):
    decoder = {str(special_ids[s]): {"content": s, "lstrip": False, "normalized": False, "rstrip": False,
                                     "single_word": False, "special": True} for s in SPECIAL_TOKENS}
    return {
        "added_tokens_decoder": decoder,
        "bos_token": "<|begin_of_text|>",
        "chat_template": template,
        "clean_up_tokenization_spaces": True,
        "eos_token": "<|eot_id|>",
        "model_input_names": ["input_ids", "attention_mask"],
        "model_max_length": MAX_POS,
        "tokenizer_class": "PreTrainedTokenizerFast",
    }


def model_config(vocab_size, special_ids):
    return {
        "architectures": ["LlamaForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": special_ids["<|begin_of_text|>"],
        "eos_token_id": special_ids["<|eot_id|>"],
        "head_dim": base.HEAD_DIM,
        "hidden_act": "silu",
        "hidden_size": base.HIDDEN,
        "initializer_range": 0.02,
        "intermediate_size": base.INTERMEDIATE,
        "max_position_embeddings": MAX_POS,
        "mlp_bias": False,
        "model_type": "llama",
        "num_attention_heads": base.N_HEADS,
        "num_hidden_layers": base.N_LAYERS,
        "num_key_value_heads": base.N_KV_HEADS,
        "rms_norm_eps": base.RMS_EPS,
        "rope_theta": ROPE_THETA,
        "tie_word_embeddings": False,
        "torch_dtype": "float32",
        "use_cache": True,
        "vocab_size": vocab_size,
    }


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    flags = {a for a in argv[1:] if a.startswith("--")}
    if len(args) != 1 or flags - {"--quiet"}:
        sys.stderr.write(__doc__)
        return 2
    out = args[0].rstrip("/")
    with open(TEMPLATE_FILE, encoding="utf-8", newline="") as f:
        template = f.read()
    if hashlib.sha256(template.encode()).hexdigest() != TEMPLATE_SHA256:
        sys.exit("make_tiny_llama31: %s is not the recorded Llama 3.1 template" % TEMPLATE_FILE)

    tok, vocab, _merges, special_ids = base.build_tokenizer(SPECIAL_TOKENS, LLAMA3_SPLIT_REGEX)
    vocab_size = len(vocab) + len(SPECIAL_TOKENS)
    files = {
        "config.json": base.json_bytes(model_config(vocab_size, special_ids)),
        "tokenizer.json": base.json_bytes(tok),
        "tokenizer_config.json": base.json_bytes(tokenizer_config(special_ids, template)),
    }
    tensors = {name: ("F32", x.shape, base.encode_tensor(x, "F32"))
               for name, x in base.make_weights(vocab_size, biases=False).items()}
    os.makedirs(out, exist_ok=True)
    written = []
    for name, data in files.items():
        base.write_if_changed(os.path.join(out, name), data)
        written.append(os.path.join(out, name))
    base.write_if_changed(os.path.join(out, "model.safetensors"), base.safetensors_bytes(tensors))
    written.append(os.path.join(out, "model.safetensors"))
    if "--quiet" not in flags:
        print("make_tiny_llama31: vocab %d (256 bytes + %d merges + %d special)"
              % (vocab_size, len(vocab) - 256, len(SPECIAL_TOKENS)))
        for path in written:
            with open(path, "rb") as f:
                print("%s  %s" % (hashlib.sha256(f.read()).hexdigest(), path))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
