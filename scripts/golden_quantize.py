"""golden_quantize.py: writes tests/golden/quantize/<TYPE>.bin, fp32 inputs and the bytes GGML's
reference quantizers make of them, for the types ftune writes (F16, BF16, Q8_0, Q5_0, Q4_0, Q4_K).
tests/unit/test_quantize.c checks that quant_quantize gives the same bytes.

The reference is GGML itself: quantize_row_{q8_0,q5_0,q4_0,q4_K}_ref, ggml_fp32_to_fp16_row and
ggml_fp32_to_bf16_row from the libggml-base.so that PyPI llama-cpp-python ships (through ctypes);
where PyPI gguf's numpy quantizers exist (F16, BF16, Q8_0, Q5_0, Q4_0) the script checks that they give
the same bytes. Inputs: normal values of several scales, blocks with outliers, an all-zero block,
a constant block, all-positive and all-negative blocks, tiny values (fp16 subnormals), values
near fp16's largest, and exact halves (rounding ties).

File layout (little-endian): "FTQZ", u32 version (1), u32 ggml type id, u32 n (values),
u32 nbytes, n float32 inputs, nbytes of expected blocks.

Regenerate (deterministic):
    python3 -m pip install gguf numpy llama-cpp-python
    python3 scripts/golden_quantize.py
"""
import ctypes
import os
import struct

import llama_cpp
import numpy as np
from gguf import GGMLQuantizationType as T
from gguf.quants import quantize

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "golden", "quantize")
LIB = os.path.join(os.path.dirname(llama_cpp.__file__), "lib", "libggml-base.so")
N = 4096  # 16 super-blocks of 256, 128 blocks of 32

BYTES = {T.F16: 2 * N, T.BF16: 2 * N, T.Q8_0: N // 32 * 34, T.Q5_0: N // 32 * 22, T.Q4_0: N // 32 * 18,
         T.Q4_K: N // 256 * 144}
FUNCS = {T.F16: "ggml_fp32_to_fp16_row", T.BF16: "ggml_fp32_to_bf16_row", T.Q8_0: "quantize_row_q8_0_ref",
         T.Q5_0: "quantize_row_q5_0_ref", T.Q4_0: "quantize_row_q4_0_ref", T.Q4_K: "quantize_row_q4_K_ref"}


def inputs():
    rng = np.random.default_rng(11)
    x = np.empty(N, np.float32)
    scales = [1.0, 0.02, 3e-4, 40.0]
    for b in range(N // 256):  # one flavour per super-block
        s = x[b * 256:(b + 1) * 256]
        s[:] = rng.standard_normal(256) * scales[b % 4]
        if b == 4: s[::37] *= 25  # outliers
        if b == 5: s[:32] = 0; s[32:64] = 0.75  # a zero block, a constant block
        if b == 6: s[:] = np.abs(s) + 0.1  # all positive
        if b == 7: s[:] = -np.abs(s) - 0.1  # all negative
        if b == 8: s[:] = rng.standard_normal(256) * 1e-6  # fp16 subnormals
        if b == 9: s[:] = rng.uniform(-65519, 65519, 256)  # near fp16's largest
        if b == 10: s[:] = rng.integers(-16, 16, 256) * 0.5  # ties
        if b == 11: s[::2] = 0  # sparse
    return x


def ggml(lib, qtype, x):
    out = np.zeros(BYTES[qtype], np.uint8)
    fn = getattr(lib, FUNCS[qtype])
    fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
    fn.restype = None
    fn(x.ctypes.data, out.ctypes.data, N)
    return out


def main():
    lib = ctypes.CDLL(LIB)
    os.makedirs(OUT, exist_ok=True)
    x = inputs()
    for qtype in FUNCS:
        ref = ggml(lib, qtype, x)
        if qtype != T.Q4_K:  # PyPI gguf has no Q4_K quantizer
            py = np.frombuffer(quantize(x.reshape(1, N), qtype).tobytes(), np.uint8)
            assert np.array_equal(py, ref), f"{qtype.name}: PyPI gguf and libggml disagree"
        with open(os.path.join(OUT, f"{qtype.name}.bin"), "wb") as f:
            f.write(b"FTQZ" + struct.pack("<4I", 1, int(qtype), N, len(ref)))
            f.write(x.astype("<f4").tobytes())
            f.write(ref.tobytes())
        print(qtype.name, len(ref), "bytes")


if __name__ == "__main__":
    main()
