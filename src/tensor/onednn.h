/* onednn.h: the one place ftune calls oneDNN (libdnnl): its matmul primitive, in bf16 for the
 * base-weight products of the bf16 path (matmul_bf16.h) and in fp32 for the skinny products of
 * LoRA's factors (matmul.h's op_gemm), where it runs about twice as fast as OpenBLAS's sgemm at
 * LoRA's shapes (bench/RESULTS.md). Layouts are plain row-major, transposed operands are described
 * as such (oneDNN packs them itself); primitives are made per shape through oneDNN's primitive
 * cache. One engine for the process, one stream and one bf16 conversion buffer per calling thread
 * (released at thread exit); the thread count is the calling thread's OpenMP team size. Without
 * oneDNN at build time onednn_built() is false and the other functions must not be called. */
#ifndef FTUNE_ONEDNN_H
#define FTUNE_ONEDNN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Whether ftune was built with oneDNN. */
bool onednn_built(void);
/* oneDNN's effective instruction set on this CPU ("avx512_core_amx", "avx512_core_bf16",
 * "avx2", ...), or "none" without oneDNN. */
const char *onednn_isa(void);

typedef enum { ONEDNN_F32, ONEDNN_BF16 } OnednnType;

/* C (M, N) = alpha op(A) op(B) + bias (N, may be NULL) + beta C, C in fp32, A and B of type t:
 * op(A) is (M, K), stored (K, M) when a_trans; op(B) is (K, N), stored (N, K) when b_trans. */
void onednn_matmul(OnednnType t, bool a_trans, bool b_trans, int M, int N, int K, float alpha, const void *A,
                   const void *B, const float *bias, float beta, float *C);

/* The calling thread's bf16 buffer of at least elems values (grown, never shrunk). */
uint16_t *onednn_bf16_buffer(size_t elems);

#endif
