/* matmul_bf16.c: the oneDNN matmul calls of matmul_bf16.h. Layouts are plain (oneDNN packs B
 * itself): the forward's weights are W^T, i.e. a (K, N) matrix in "ba" order over W's rows; the
 * backward's are W itself, (N, K) in "ab" order. beta 1 is oneDNN's sum post-op. One engine for the
 * process, one stream and one conversion buffer per calling thread (released at thread exit). */
#include "matmul_bf16.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/half.h"

#if defined(__AVX512BF16__)
#include <immintrin.h>
#endif

#define CONVERT_CHUNK 4096 /* elements a thread converts at a time */

/* Rounds to nearest even like f32_to_bf16 (VCVTNEPS2BF16 does the same, NaNs quieted). */
void bf16_convert(uint16_t *dst, const float *src, size_t n) {
    long n_chunks = (long)((n + CONVERT_CHUNK - 1) / CONVERT_CHUNK);
#pragma omp parallel for schedule(static) if (n_chunks > 8)
    for (long c = 0; c < n_chunks; c++) {
        size_t i = (size_t)c * CONVERT_CHUNK, end = i + CONVERT_CHUNK < n ? i + CONVERT_CHUNK : n;
#if defined(__AVX512BF16__)
        for (; i + 16 <= end; i += 16)
            _mm256_storeu_si256((__m256i *)(dst + i), (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(src + i)));
#endif
        for (; i < end; i++) dst[i] = f32_to_bf16(src[i]);
    }
}

/* --- naive twins --- */

void bf16_matmul_ref(float *y, const float *x, const uint16_t *w, const float *bias, int n, int N, int K) {
    for (int t = 0; t < n; t++)
        for (int j = 0; j < N; j++) {
            double s = bias ? bias[j] : 0;
            for (int k = 0; k < K; k++)
                s += (double)bf16_to_f32(f32_to_bf16(x[(size_t)t * K + k])) * bf16_to_f32(w[(size_t)j * K + k]);
            y[(size_t)t * N + j] = (float)s;
        }
}

void bf16_matmul_backward_ref(float *dx, float beta, const float *dy, const uint16_t *w, int n, int N, int K) {
    for (int t = 0; t < n; t++)
        for (int k = 0; k < K; k++) {
            double s = beta ? dx[(size_t)t * K + k] : 0;
            for (int j = 0; j < N; j++)
                s += (double)bf16_to_f32(f32_to_bf16(dy[(size_t)t * N + j])) * bf16_to_f32(w[(size_t)j * K + k]);
            dx[(size_t)t * K + k] = (float)s;
        }
}

#ifdef FTUNE_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
#include <pthread.h>

static dnnl_engine_t engine;
static pthread_once_t engine_once = PTHREAD_ONCE_INIT;
static pthread_key_t thread_key;

typedef struct {
    dnnl_stream_t stream;
    uint16_t *buf; /* the bf16 copy of the activations */
    size_t cap;    /* elements of buf */
} ThreadState;

static void thread_state_free(void *p) {
    ThreadState *ts = p;
    if (ts->stream) dnnl_stream_destroy(ts->stream);
    free(ts->buf);
    free(ts);
}

static void die(const char *what, dnnl_status_t s) {
    fprintf(stderr, "ftune: oneDNN %s failed (status %d)\n", what, (int)s);
    abort();
}

#define DNNL_CHECK(call)                          \
    do {                                          \
        dnnl_status_t s_ = (call);                \
        if (s_ != dnnl_success) die(#call, s_);   \
    } while (0)

static void engine_init(void) {
    DNNL_CHECK(dnnl_engine_create(&engine, dnnl_cpu, 0));
    if (pthread_key_create(&thread_key, thread_state_free)) die("thread key", dnnl_runtime_error);
}

static ThreadState *thread_state(size_t elems) {
    pthread_once(&engine_once, engine_init);
    ThreadState *ts = pthread_getspecific(thread_key);
    if (!ts) {
        if (!(ts = calloc(1, sizeof *ts))) die("thread state", dnnl_out_of_memory);
        DNNL_CHECK(dnnl_stream_create(&ts->stream, engine, dnnl_stream_default_flags));
        pthread_setspecific(thread_key, ts);
    }
    if (elems > ts->cap) {
        free(ts->buf);
        if (!(ts->buf = malloc(elems * sizeof(uint16_t)))) die("activation buffer", dnnl_out_of_memory);
        ts->cap = elems;
    }
    return ts;
}

bool bf16_backend_built(void) { return true; }

const char *bf16_backend_isa(void) {
    switch (dnnl_get_effective_cpu_isa()) {
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx2: return "avx2";
    default: return "other";
    }
}

static void md_2d(dnnl_memory_desc_t *md, int rows, int cols, dnnl_data_type_t t, dnnl_format_tag_t tag) {
    dnnl_dims_t d = {rows, cols};
    DNNL_CHECK(dnnl_memory_desc_init_by_tag(md, 2, d, t, tag));
}

/* C (M, N) f32 = A (M, K) bf16 . B (K, N) bf16 [+ bias (1, N)] [+ C when accumulate]; B stored
 * with tag b_tag. */
static void run_matmul(ThreadState *ts, float *c, const uint16_t *a, const uint16_t *b, dnnl_format_tag_t b_tag,
                       const float *bias, bool accumulate, int M, int N, int K) {
    dnnl_memory_desc_t a_md, b_md, c_md, bias_md;
    md_2d(&a_md, M, K, dnnl_bf16, dnnl_ab);
    md_2d(&b_md, K, N, dnnl_bf16, b_tag);
    md_2d(&c_md, M, N, dnnl_f32, dnnl_ab);
    if (bias) md_2d(&bias_md, 1, N, dnnl_f32, dnnl_ab);
    dnnl_matmul_desc_t desc;
    DNNL_CHECK(dnnl_matmul_desc_init(&desc, &a_md, &b_md, bias ? &bias_md : NULL, &c_md));
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t ops = NULL;
    if (accumulate) {
        DNNL_CHECK(dnnl_primitive_attr_create(&attr));
        DNNL_CHECK(dnnl_post_ops_create(&ops));
        DNNL_CHECK(dnnl_post_ops_append_sum(ops, 1.0f));
        DNNL_CHECK(dnnl_primitive_attr_set_post_ops(attr, ops));
    }
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t prim;
    DNNL_CHECK(dnnl_primitive_desc_create(&pd, &desc, attr, engine, NULL));
    DNNL_CHECK(dnnl_primitive_create(&prim, pd));
    dnnl_memory_t mem[4];
    int n_args = 0;
    dnnl_exec_arg_t args[4];
    DNNL_CHECK(dnnl_memory_create(&mem[0], &a_md, engine, (void *)a));
    DNNL_CHECK(dnnl_memory_create(&mem[1], &b_md, engine, (void *)b));
    DNNL_CHECK(dnnl_memory_create(&mem[2], &c_md, engine, c));
    args[n_args++] = (dnnl_exec_arg_t){DNNL_ARG_SRC, mem[0]};
    args[n_args++] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, mem[1]};
    args[n_args++] = (dnnl_exec_arg_t){DNNL_ARG_DST, mem[2]};
    if (bias) {
        DNNL_CHECK(dnnl_memory_create(&mem[3], &bias_md, engine, (void *)bias));
        args[n_args++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, mem[3]};
    }
    DNNL_CHECK(dnnl_primitive_execute(prim, ts->stream, n_args, args));
    DNNL_CHECK(dnnl_stream_wait(ts->stream));
    for (int i = 0; i < n_args; i++) dnnl_memory_destroy(mem[i]);
    dnnl_primitive_destroy(prim);
    dnnl_primitive_desc_destroy(pd);
    if (attr) dnnl_primitive_attr_destroy(attr), dnnl_post_ops_destroy(ops);
}

void bf16_matmul(float *y, const float *x, const uint16_t *w, const float *bias, int n, int N, int K) {
    ThreadState *ts = thread_state((size_t)n * K);
    bf16_convert(ts->buf, x, (size_t)n * K);
    run_matmul(ts, y, ts->buf, w, dnnl_ba, bias, false, n, N, K);
}

void bf16_matmul_backward(float *dx, float beta, const float *dy, const uint16_t *w, int n, int N, int K) {
    ThreadState *ts = thread_state((size_t)n * N);
    bf16_convert(ts->buf, dy, (size_t)n * N);
    run_matmul(ts, dx, ts->buf, w, dnnl_ab, NULL, beta != 0.0f, n, K, N);
}

#else /* built without oneDNN: never selected (precision_resolve refuses bf16) */

bool bf16_backend_built(void) { return false; }
const char *bf16_backend_isa(void) { return "none"; }

static void absent(void) {
    fprintf(stderr, "ftune: the bf16 path was called in a build without oneDNN\n");
    abort();
}
void bf16_matmul(float *y, const float *x, const uint16_t *w, const float *bias, int n, int N, int K) {
    (void)y, (void)x, (void)w, (void)bias, (void)n, (void)N, (void)K;
    absent();
}
void bf16_matmul_backward(float *dx, float beta, const float *dy, const uint16_t *w, int n, int N, int K) {
    (void)dx, (void)beta, (void)dy, (void)w, (void)n, (void)N, (void)K;
    absent();
}
#endif
