#!/usr/bin/env python3
"""write_peft_adapter.py: writes a random LoRA adapter in the Hugging Face PEFT layout, as PEFT
itself saves one (not through ftune): adapter_config.json with PEFT's fields and
adapter_model.safetensors (8-byte little-endian header length, a JSON header, raw little-endian
tensors) with PEFT's key names base_model.model.model.layers.{i}.{self_attn|mlp}.{proj}.lora_A /
lora_B.weight. B is random and non-zero (PEFT initialises it to zero), so the adapter changes the
model's output; --b-scale sets by how much. The shapes come from `ftune info --model PATH`.
Only the standard library: the e2e tests (tests/e2e/test_adapters.py) and the load benchmark
(bench/serve_load.sh) use it. It does not train anything.

Usage: python3 scripts/write_peft_adapter.py --model models/SmolLM2-135M-Instruct.Q4_1.gguf --out DIR
         [--base-name HuggingFaceTB/SmolLM2-135M-Instruct] [--seed 0] [--rank 8] [--alpha 16]
         [--targets q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj] [--b-scale 0.05]
         [--dtype F32|BF16]
"""
import argparse
import array
import json
import os
import random
import struct
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
ALL_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def model_dims(model_path, binary=None):
    """{layers, hidden, heads, kv_heads, head_dim, ffn} of a model, read from `ftune info`."""
    binary = binary or os.environ.get("FTUNE_BIN") or os.path.join(ROOT, "build", "ftune")
    out = subprocess.run([binary, "info", "--model", model_path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         check=True).stdout.decode()
    fields = {}
    for line in out.splitlines():
        key, _, value = line.partition("  ")
        fields[key.strip()] = value.strip()
    try:
        heads = fields["attention heads"].replace(",", "").split()  # "9 query 3 key/value head dim 64"
        return {"layers": int(fields["layers"]), "hidden": int(fields["hidden size"]), "heads": int(heads[0]),
                "kv_heads": int(heads[2]), "head_dim": int(heads[-1]), "ffn": int(fields["ffn size"])}
    except (KeyError, ValueError, IndexError):
        raise SystemExit("write_peft_adapter: cannot read the model's shapes from `ftune info --model %s`:\n%s"
                         % (model_path, out))


def target_shape(dims, target):
    """(out, in) of one projection."""
    q, kv, h, f = dims["heads"] * dims["head_dim"], dims["kv_heads"] * dims["head_dim"], dims["hidden"], dims["ffn"]
    return {"q_proj": (q, h), "k_proj": (kv, h), "v_proj": (kv, h), "o_proj": (h, q),
            "gate_proj": (f, h), "up_proj": (f, h), "down_proj": (h, f)}[target]


def tensor_bytes(values, dtype):
    a = array.array("f", values)
    if sys.byteorder != "little":
        a.byteswap()
    if dtype == "F32":
        return a.tobytes()
    # BF16: the upper half of each float32, rounded to nearest even
    words = struct.unpack("<%dI" % len(a), a.tobytes())
    return struct.pack("<%dH" % len(words), *(((w + 0x7FFF + ((w >> 16) & 1)) >> 16) & 0xFFFF for w in words))


def write_safetensors(path, tensors, metadata):
    """tensors: list of (name, dtype, shape, raw bytes)."""
    header, offset = {"__metadata__": metadata}, 0
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # as the reference writer pads: data starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for _, _, _, raw in tensors:
            f.write(raw)


def write_adapter(out_dir, dims, base_name, seed=0, rank=8, alpha=16, targets=ALL_TARGETS, b_scale=0.05,
                  dtype="F32"):
    """Writes the adapter into out_dir (created); returns out_dir."""
    os.makedirs(out_dir, exist_ok=True)
    rng = random.Random(seed)
    tensors = []
    for layer in range(dims["layers"]):
        for t in targets:
            n_out, n_in = target_shape(dims, t)
            module = "base_model.model.model.layers.%d.%s.%s" % (layer, "mlp" if t in ALL_TARGETS[4:] else "self_attn", t)
            bound = n_in ** -0.5  # PEFT's kaiming-uniform bound for A
            a = [rng.uniform(-bound, bound) for _ in range(rank * n_in)]
            b = [rng.uniform(-b_scale, b_scale) for _ in range(n_out * rank)]
            tensors.append((module + ".lora_A.weight", dtype, (rank, n_in), tensor_bytes(a, dtype)))
            tensors.append((module + ".lora_B.weight", dtype, (n_out, rank), tensor_bytes(b, dtype)))
    write_safetensors(os.path.join(out_dir, "adapter_model.safetensors"), tensors, {"format": "pt"})
    config = {  # the fields PEFT 0.13 writes, in its order
        "alpha_pattern": {}, "auto_mapping": None, "base_model_name_or_path": base_name, "bias": "none",
        "fan_in_fan_out": False, "inference_mode": True, "init_lora_weights": True, "layer_replication": None,
        "layers_pattern": None, "layers_to_transform": None, "loftq_config": {}, "lora_alpha": alpha,
        "lora_dropout": 0.05, "megatron_config": None, "megatron_core": "megatron.core", "modules_to_save": None,
        "peft_type": "LORA", "r": rank, "rank_pattern": {}, "revision": None, "target_modules": sorted(targets),
        "task_type": "CAUSAL_LM", "use_dora": False, "use_rslora": False}
    with open(os.path.join(out_dir, "adapter_config.json"), "w") as f:
        json.dump(config, f, indent=2)
    return out_dir


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, help="the base model (GGUF file or Hugging Face folder)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--base-name", default="", help="base_model_name_or_path (default: the model's file name)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--alpha", type=float, default=16)
    ap.add_argument("--targets", default=",".join(ALL_TARGETS))
    ap.add_argument("--b-scale", type=float, default=0.05)
    ap.add_argument("--dtype", choices=("F32", "BF16"), default="F32")
    args = ap.parse_args()
    targets = [t for t in args.targets.split(",") if t]
    bad = [t for t in targets if t not in ALL_TARGETS]
    if bad or not targets:
        ap.error("--targets: %s not among %s" % (", ".join(bad) or "none given", ", ".join(ALL_TARGETS)))
    base = args.base_name or os.path.basename(args.model.rstrip("/"))
    write_adapter(args.out, model_dims(args.model), base, args.seed, args.rank, args.alpha, targets, args.b_scale,
                  args.dtype)


if __name__ == "__main__":
    main()
