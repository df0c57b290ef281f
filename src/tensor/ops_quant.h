/* ops_quant.h: GGML's quantized block formats (Q8_0, Q4_0, Q4_1; 32 weights a block): their
 * dequantization to fp32, and matrix-vector products straight from the blocks for single-token
 * decoding, where reading fp32 weights is memory-bound (a Q4_1 row is 6.4x smaller). The matvec
 * uses the same values as the dequantization; only the order of summation differs. Each kernel
 * has a naive _ref twin. Type ids equal GGML's, so GGUF tensor types pass straight through. */
#ifndef FTUNE_OPS_QUANT_H
#define FTUNE_OPS_QUANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { QUANT_Q4_0 = 2, QUANT_Q4_1 = 3, QUANT_Q8_0 = 8 };
#define QUANT_BLOCK 32

/* A read-only weight matrix W (rows, cols) in a block type; rows are contiguous. */
typedef struct {
    uint32_t type;              /* QUANT_Q8_0, QUANT_Q4_0 or QUANT_Q4_1 */
    const unsigned char *data;  /* rows * cols/32 blocks */
    int rows, cols;
} QuantMatrix;

bool quant_type_supported(uint32_t type);
size_t quant_block_bytes(uint32_t type); /* 34, 18, 20 */

/* out (n) = the n values (n a multiple of 32) stored in the blocks at src. */
void quant_dequantize(uint32_t type, const unsigned char *src, size_t n, float *out);

/* y (rows) = W x (cols) + bias (rows, may be NULL). */
void op_matvec_quant(float *y, const float *x, const QuantMatrix *w, const float *bias);
void op_matvec_quant_ref(float *y, const float *x, const QuantMatrix *w, const float *bias);

#endif
