/* quantize.h: fp32 values into GGML's storage types, the reverse of quant_dequantize
 * (ops_quant.h), for writing GGUF files: F32, F16, BF16 (rounded to nearest even), and the block
 * types Q8_0, Q5_0, Q4_0 and Q4_K as GGML's reference quantizers (quantize_row_*_ref, no importance
 * matrix) make them, bit for bit (tests/golden/quantize/, made by scripts/golden_quantize.py with
 * PyPI gguf's quants and llama-cpp-python's libggml). Single-threaded, no SIMD: an export pass
 * runs it once per tensor. */
#ifndef FTUNE_QUANTIZE_H
#define FTUNE_QUANTIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Whether quant_quantize writes this type. */
bool quant_can_quantize(uint32_t type);

/* out (quant_row_bytes(type, n) bytes) = x (n values), n a multiple of quant_block_elems(type). */
void quant_quantize(uint32_t type, const float *x, size_t n, unsigned char *out);

#endif
