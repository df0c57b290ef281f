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
/* The same on row strides of one's choosing: lda, ldb and ldc elements between the rows of A, B and C
 * as stored (lda >= K, or >= M when a_trans; ldb >= N, or >= K when b_trans; ldc >= N), for blocks
 * of columns of wider matrices. */
void onednn_matmul_ld(OnednnType t, bool a_trans, bool b_trans, int M, int N, int K, float alpha, const void *A,
                      int lda, const void *B, int ldb, const float *bias, float beta, float *C, int ldc);

/* A bf16 weight W (N, K), row-major, copied once into the blocked layout oneDNN's matmul picks
 * for it (about 15-30% faster products than from the plain layout, which oneDNN repacks on every
 * call), for the forward y = x W^T or, with backward, the input gradient dx = dy W. NULL where
 * oneDNN cannot (out of memory, no oneDNN): the caller keeps to the plain weight. The copy is as
 * large as W. */
typedef struct OnednnPacked OnednnPacked;
OnednnPacked *onednn_pack_bf16(const uint16_t *w, int N, int K, bool backward);
void onednn_packed_free(OnednnPacked *p); /* NULL is a no-op */
const uint16_t *onednn_packed_source(const OnednnPacked *p); /* the w it was packed from */
/* C (M, N) = A (M, K) W^T + bias (N, may be NULL) + beta C for a forward pack, C (M, K) =
 * A (M, N) W + beta C for a backward one; A in bf16, C in fp32. Where oneDNN would not run its
 * brgemm kernels on the packed layout for this M, it multiplies from the plain w instead. */
void onednn_matmul_packed(const OnednnPacked *p, int M, const uint16_t *A, const float *bias, float beta, float *C);

/* The calling thread's bf16 buffer of at least elems values (grown, never shrunk). */
uint16_t *onednn_bf16_buffer(size_t elems);

#endif
