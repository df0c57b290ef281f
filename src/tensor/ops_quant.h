/* ops_quant.h: typed weights in GGML's storage types, read where they lie (a GGUF mapping): plain
 * F32 / F16 / BF16, the 32-weight blocks Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 and the 256-weight
 * super-blocks Q4_K, Q5_K, Q6_K. For each: dequantization to fp32 (bit-identical to PyPI gguf's
 * numpy reference, checked against golden files) and the matrix-vector product straight from the
 * stored bytes for single-token decoding, where reading the weights is what takes the time (a
 * Q4_K row is 7x smaller than fp32). The matvec keeps x in fp32 and uses the same weight values as
 * the dequantization: only the order of rounding and summation differs (bound in
 * test_ops_quant.c). Each kernel has a naive _ref twin. Type ids equal GGML's, so GGUF tensor
 * types pass straight through. Layouts: ops_quant.c (32-blocks) and ops_quant_k.c (K-quants).
 *
 * n (dequantize) and cols (matvec) must be multiples of quant_block_elems(type); an unsupported
 * type writes NaNs (check quant_type_supported first). */
#ifndef FTUNE_OPS_QUANT_H
#define FTUNE_OPS_QUANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    QUANT_F32 = 0,
    QUANT_F16 = 1,
    QUANT_Q4_0 = 2,
    QUANT_Q4_1 = 3,
    QUANT_Q5_0 = 6,
    QUANT_Q5_1 = 7,
    QUANT_Q8_0 = 8,
    QUANT_Q4_K = 12,
    QUANT_Q5_K = 13,
    QUANT_Q6_K = 14,
    QUANT_BF16 = 30,
};
#define QUANT_BLOCK 32   /* weights in a Q8_0 / Q4_0 / Q4_1 / Q5_0 / Q5_1 block, and in a K sub-block */
#define QUANT_BLOCK_K 256 /* weights in a Q4_K / Q5_K / Q6_K super-block */

/* A read-only weight matrix W (rows, cols) in one of the types above; rows are contiguous, each
 * quant_row_bytes(type, cols) bytes. */
typedef struct {
    uint32_t type;              /* QUANT_* */
    const unsigned char *data;  /* rows * quant_row_bytes(type, cols) bytes */
    int rows, cols;
    const uint16_t *bf16;       /* (rows, cols) the same weights in bf16 for the bf16 compute path
                                 * (matmul_bf16.h), or NULL: fp32 arithmetic */
    const uint16_t *amx_tiles;  /* bf16 in the AMX kernel's tile layout (amx_pack_tiles, made once for
                                 * a weight multiplied often), or NULL: laid out on each call */
} QuantMatrix;

bool quant_type_supported(uint32_t type);
size_t quant_block_elems(uint32_t type); /* 1 (F32, F16, BF16), 32 or 256; 0 if unsupported */
size_t quant_block_bytes(uint32_t type); /* bytes of one block: F32 4, Q4_K 144, ...; 0 if unsupported */
/* Bytes of n consecutive values (n a multiple of quant_block_elems). */
size_t quant_row_bytes(uint32_t type, size_t n);

/* out (n) = the n values stored at src. */
void quant_dequantize(uint32_t type, const unsigned char *src, size_t n, float *out);

/* y (rows) = W x (cols) + bias (rows, may be NULL). Rows are split across OpenMP threads. */
void op_matvec_quant(float *y, const float *x, const QuantMatrix *w, const float *bias);
/* op_matvec_quant for n rows of x (y (n, rows)): each weight row is read once, while it is in
 * cache, for every x row, and each y value is computed exactly as op_matvec_quant computes it, so
 * that a row's result does not depend on n or on the other rows. */
void op_matvec_rows(float *y, const float *x, const QuantMatrix *w, const float *bias, int n);
void op_matvec_quant_ref(float *y, const float *x, const QuantMatrix *w, const float *bias);

#endif
