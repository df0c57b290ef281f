"""golden_gguf_types.py: writes tests/golden/gguf/types.gguf with PyPI `gguf` (the reference
writer and quantizer): every metadata value type (including nested arrays and an empty array),
a non-default alignment, and one tensor per supported type (F32, F16, BF16, Q8_0, Q4_0, Q4_1),
plus tests/golden/gguf/types.json with each tensor's values as dequantized by `gguf` itself.
The C test checks that ftune reads the same metadata and the same values. Deterministic."""
import json
import os

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import GGUFValueType as V
from gguf import GGUFWriter
from gguf.quants import dequantize, quantize

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "golden", "gguf")
os.makedirs(OUT, exist_ok=True)
path = os.path.join(OUT, "types.gguf")

rng = np.random.default_rng(7)
w = GGUFWriter(path, "llama")
w.add_custom_alignment(64)
w.add_uint8("test.u8", 200)
w.add_int8("test.i8", -100)
w.add_uint16("test.u16", 60000)
w.add_int16("test.i16", -30000)
w.add_uint32("test.u32", 4000000000)
w.add_int32("test.i32", -2000000000)
w.add_float32("test.f32", 1.5)
w.add_bool("test.bool", True)
w.add_string("test.string", "héllo wörld ✓")
w.add_uint64("test.u64", 2**63 + 5)
w.add_int64("test.i64", -(2**62))
w.add_float64("test.f64", 2.718281828459045)
w.add_array("test.array_i32", [1, -2, 3])
w.add_array("test.array_str", ["a", "", "ccc"])
w.add_array("test.array_f32", [0.5, -0.25])
w.add_array("test.array_nested", [[1, 2], [3]])
w.add_key_value("test.array_u8", [1, 2, 255], V.ARRAY, V.UINT8)

expected = {}
for name, qtype in [("f32", T.F32), ("f16", T.F16), ("bf16", T.BF16), ("q8_0", T.Q8_0), ("q4_0", T.Q4_0),
                    ("q4_1", T.Q4_1)]:
    values = (rng.standard_normal((3, 64)) * 0.7).astype(np.float32)
    if qtype == T.F32:
        w.add_tensor(name, values)
        stored = values
    elif qtype == T.F16:
        w.add_tensor(name, values.astype(np.float16))
        stored = values.astype(np.float16).astype(np.float32)
    else:
        raw = quantize(values, qtype)
        w.add_tensor(name, raw, raw_shape=raw.shape, raw_dtype=qtype)
        stored = dequantize(raw, qtype).astype(np.float32)
    expected[name] = {"shape_ne": [64, 3], "values": [float(x) for x in stored.reshape(-1)]}

w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
with open(os.path.join(OUT, "types.json"), "w") as f:
    json.dump(expected, f)
print("wrote", path, os.path.getsize(path), "bytes")
