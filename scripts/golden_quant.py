"""golden_quant.py: writes tests/golden/quant/<TYPE>.bin, one file per GGML tensor type that
ftune's tensor layer reads (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K): random
but valid raw blocks and the float32 values that PyPI `gguf` (gguf.quants.dequantize, the numpy
reference) makes of them. tests/unit/test_ops_quant.c checks that quant_dequantize gives the same
floats bit for bit.

Blocks are random bytes, except the fp16 scale fields (d, and m / dmin where the type has one),
which get a random sign, a random exponent field in [0, 22] (so zeros and subnormals occur, and
no inf or NaN) and a random mantissa; a few blocks get d = -0.0 and d = the smallest subnormal.
F16 / BF16 / F32 elements are random finite values of their type (subnormals included).

File layout (little-endian): "FTQG", u32 version (1), u32 ggml type id, u32 n (elements),
u32 nbytes (raw data), nbytes of raw blocks, then n float32.

Regenerate (deterministic: the same files for the same gguf version):
    python3 -m pip install gguf numpy     # if `import gguf` fails
    python3 scripts/golden_quant.py
"""
import os
import struct

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf.constants import GGML_QUANT_SIZES
from gguf.quants import dequantize

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "golden", "quant")
N = 2048  # elements per type: 64 blocks of 32 or 8 super-blocks of 256

# byte offsets of the fp16 scale fields inside one block
FP16_FIELDS = {
    T.Q8_0: [0], T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2],
    T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208],
}


def sane_fp16(rng, n):
    sign = rng.integers(0, 2, n, dtype=np.uint16) << 15
    exp = rng.integers(0, 23, n, dtype=np.uint16) << 10
    mant = rng.integers(0, 1024, n, dtype=np.uint16)
    return (sign | exp | mant).astype(np.uint16)


def raw_data(rng, qtype):
    if qtype == T.F32:
        bits = rng.integers(0, 2**32, N, dtype=np.uint64).astype(np.uint32)
        exp = (bits >> 23) & 0xFF
        bits = np.where(exp == 0xFF, bits & ~np.uint32(0x40000000), bits)  # finite only
        return bits.astype("<u4").view(np.uint8)
    if qtype == T.F16:
        return sane_fp16(rng, N).astype("<u2").view(np.uint8)
    if qtype == T.BF16:
        bits = rng.integers(0, 2**16, N, dtype=np.uint32).astype(np.uint16)
        exp = (bits >> 7) & 0xFF
        bits = np.where(exp == 0xFF, bits & ~np.uint16(0x4000), bits)  # finite only
        return bits.astype("<u2").view(np.uint8)
    block, size = GGML_QUANT_SIZES[qtype]
    nb = N // block
    raw = rng.integers(0, 256, (nb, size), dtype=np.uint16).astype(np.uint8)
    for off in FP16_FIELDS[qtype]:
        h = sane_fp16(rng, nb)
        h[1], h[2] = 0x8000, 0x0001  # -0.0 and the smallest subnormal
        raw[:, off:off + 2] = h.astype("<u2").view(np.uint8).reshape(nb, 2)
    return raw.reshape(-1)


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20240607)
    for qtype in [T.F32, T.F16, T.BF16, T.Q8_0, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q4_K, T.Q5_K, T.Q6_K]:
        raw = raw_data(rng, qtype)
        vals = np.asarray(dequantize(raw, qtype), dtype=np.float32).reshape(-1)
        assert vals.size == N and np.all(np.isfinite(vals)), qtype.name
        path = os.path.join(OUT, f"{qtype.name}.bin")
        with open(path, "wb") as f:
            f.write(b"FTQG" + struct.pack("<IIII", 1, int(qtype), N, raw.size))
            f.write(raw.tobytes())
            f.write(vals.astype("<f4").tobytes())
        print(f"{path}: {raw.size} bytes of blocks, {N} values")


if __name__ == "__main__":
    main()
