/* onednn.c: oneDNN's matmul primitive behind onednn.h. alpha is the output scale, beta (when not
 * 0) the sum post-op, bias oneDNN's (1, N) bias; transposed operands are plain "ba" layouts. A
 * packed weight is the layout oneDNN's matmul asks for when left free to choose (format "any"),
 * filled once by a reorder primitive. */
#include "onednn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef FTUNE_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
#include <pthread.h>

#define PACK_ROWS_HINT 1024 /* the row count a packed layout is chosen for (any other runs on it too) */

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

#define DNNL_CHECK(call)                        \
    do {                                        \
        dnnl_status_t s_ = (call);              \
        if (s_ != dnnl_success) die(#call, s_); \
    } while (0)

static void engine_init(void) {
    DNNL_CHECK(dnnl_engine_create(&engine, dnnl_cpu, 0));
    if (pthread_key_create(&thread_key, thread_state_free)) die("thread key", dnnl_runtime_error);
}

static ThreadState *thread_state(void) {
    pthread_once(&engine_once, engine_init);
    ThreadState *ts = pthread_getspecific(thread_key);
    if (!ts) {
        if (!(ts = calloc(1, sizeof *ts))) die("thread state", dnnl_out_of_memory);
        DNNL_CHECK(dnnl_stream_create(&ts->stream, engine, dnnl_stream_default_flags));
        pthread_setspecific(thread_key, ts);
    }
    return ts;
}

bool onednn_built(void) { return true; }

const char *onednn_isa(void) {
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

uint16_t *onednn_bf16_buffer(size_t elems) {
    ThreadState *ts = thread_state();
    if (elems > ts->cap) {
        free(ts->buf);
        if (!(ts->buf = malloc(elems * sizeof(uint16_t)))) die("activation buffer", dnnl_out_of_memory);
        ts->cap = elems;
    }
    return ts->buf;
}

static void md_2d(dnnl_memory_desc_t *md, int rows, int cols, dnnl_data_type_t t, bool trans) {
    dnnl_dims_t d = {rows, cols};
    DNNL_CHECK(dnnl_memory_desc_init_by_tag(md, 2, d, t, trans ? dnnl_ba : dnnl_ab));
}

/* C = alpha A B + bias + beta C on the given layouts. With need_brgemm, returns false without
 * running when oneDNN would run it on another implementation than its brgemm kernels (or cannot
 * run it at all): a packed weight's layout is made for those. */
static bool run_matmul(const dnnl_memory_desc_t *a_md, const dnnl_memory_desc_t *b_md, const dnnl_memory_desc_t *c_md,
                       float alpha, const void *A, const void *B, const float *bias, float beta, float *C,
                       bool need_brgemm) {
    ThreadState *ts = thread_state();
    dnnl_memory_desc_t bias_md;
    if (bias) md_2d(&bias_md, 1, (int)c_md->dims[1], dnnl_f32, false);
    dnnl_matmul_desc_t desc;
    DNNL_CHECK(dnnl_matmul_desc_init(&desc, a_md, b_md, bias ? &bias_md : NULL, c_md));
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t ops = NULL;
    if (alpha != 1.0f || beta != 0.0f) {
        DNNL_CHECK(dnnl_primitive_attr_create(&attr));
        if (alpha != 1.0f) DNNL_CHECK(dnnl_primitive_attr_set_output_scales(attr, 1, 0, &alpha));
        if (beta != 0.0f) {
            DNNL_CHECK(dnnl_post_ops_create(&ops));
            DNNL_CHECK(dnnl_post_ops_append_sum(ops, beta));
            DNNL_CHECK(dnnl_primitive_attr_set_post_ops(attr, ops));
        }
    }
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t prim;
    const char *impl = NULL;
    if (need_brgemm) {
        dnnl_status_t st = dnnl_primitive_desc_create(&pd, &desc, attr, engine, NULL);
        if (st == dnnl_success) dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
        if (st != dnnl_success || !impl || strncmp(impl, "brg", 3) != 0) {
            if (st == dnnl_success) dnnl_primitive_desc_destroy(pd);
            if (ops) dnnl_post_ops_destroy(ops);
            if (attr) dnnl_primitive_attr_destroy(attr);
            return false;
        }
    } else {
        DNNL_CHECK(dnnl_primitive_desc_create(&pd, &desc, attr, engine, NULL));
    }
    DNNL_CHECK(dnnl_primitive_create(&prim, pd));
    dnnl_memory_t mem[4];
    dnnl_exec_arg_t args[4];
    int n_args = 0;
    DNNL_CHECK(dnnl_memory_create(&mem[0], a_md, engine, (void *)A));
    DNNL_CHECK(dnnl_memory_create(&mem[1], b_md, engine, (void *)B));
    DNNL_CHECK(dnnl_memory_create(&mem[2], c_md, engine, C));
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
    if (ops) dnnl_post_ops_destroy(ops);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return true;
}

/* (rows, cols) stored row-major with ld elements a row, or transposed ((cols, rows) stored so). */
static void md_2d_ld(dnnl_memory_desc_t *md, int rows, int cols, dnnl_data_type_t t, bool trans, int ld) {
    dnnl_dims_t d = {rows, cols}, strides = {trans ? 1 : ld, trans ? ld : 1};
    DNNL_CHECK(dnnl_memory_desc_init_by_strides(md, 2, d, t, strides));
}

void onednn_matmul_ld(OnednnType t, bool a_trans, bool b_trans, int M, int N, int K, float alpha, const void *A,
                      int lda, const void *B, int ldb, const float *bias, float beta, float *C, int ldc) {
    dnnl_data_type_t dt = t == ONEDNN_BF16 ? dnnl_bf16 : dnnl_f32;
    dnnl_memory_desc_t a_md, b_md, c_md;
    md_2d_ld(&a_md, M, K, dt, a_trans, lda);
    md_2d_ld(&b_md, K, N, dt, b_trans, ldb);
    md_2d_ld(&c_md, M, N, dnnl_f32, false, ldc);
    run_matmul(&a_md, &b_md, &c_md, alpha, A, B, bias, beta, C, false);
}

void onednn_matmul(OnednnType t, bool a_trans, bool b_trans, int M, int N, int K, float alpha, const void *A,
                   const void *B, const float *bias, float beta, float *C) {
    onednn_matmul_ld(t, a_trans, b_trans, M, N, K, alpha, A, a_trans ? M : K, B, b_trans ? K : N, bias, beta, C, N);
}

struct OnednnPacked {
    const uint16_t *w;        /* the plain weight it was packed from */
    int N, K;                 /* of w */
    bool backward;            /* packed as W (dx = dy W) rather than W^T (y = x W^T) */
    dnnl_memory_desc_t md;    /* the packed layout */
    void *data;
};

OnednnPacked *onednn_pack_bf16(const uint16_t *w, int N, int K, bool backward) {
    int red = backward ? N : K, out = backward ? K : N; /* B is (red, out) */
    dnnl_memory_desc_t a_md, b_any, b_plain, c_md;
    md_2d(&a_md, PACK_ROWS_HINT, red, dnnl_bf16, false);
    md_2d(&c_md, PACK_ROWS_HINT, out, dnnl_f32, false);
    md_2d(&b_plain, red, out, dnnl_bf16, !backward);
    dnnl_dims_t d = {red, out};
    DNNL_CHECK(dnnl_memory_desc_init_by_tag(&b_any, 2, d, dnnl_bf16, dnnl_format_tag_any));
    pthread_once(&engine_once, engine_init);
    dnnl_matmul_desc_t desc;
    DNNL_CHECK(dnnl_matmul_desc_init(&desc, &a_md, &b_any, NULL, &c_md));
    dnnl_primitive_desc_t pd;
    if (dnnl_primitive_desc_create(&pd, &desc, NULL, engine, NULL) != dnnl_success) return NULL;
    OnednnPacked *p = calloc(1, sizeof *p);
    if (!p) {
        dnnl_primitive_desc_destroy(pd);
        return NULL;
    }
    *p = (OnednnPacked){.w = w, .N = N, .K = K, .backward = backward,
                        .md = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0)};
    dnnl_primitive_desc_destroy(pd);
    size_t bytes = dnnl_memory_desc_get_size(&p->md);
    if (!(p->data = aligned_alloc(64, (bytes + 63) / 64 * 64))) {
        free(p);
        return NULL;
    }
    ThreadState *ts = thread_state();
    dnnl_memory_t from, to;
    dnnl_primitive_desc_t rpd;
    dnnl_primitive_t reorder;
    DNNL_CHECK(dnnl_memory_create(&from, &b_plain, engine, (void *)w));
    DNNL_CHECK(dnnl_memory_create(&to, &p->md, engine, p->data));
    DNNL_CHECK(dnnl_reorder_primitive_desc_create(&rpd, &b_plain, engine, &p->md, engine, NULL));
    DNNL_CHECK(dnnl_primitive_create(&reorder, rpd));
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
    DNNL_CHECK(dnnl_primitive_execute(reorder, ts->stream, 2, args));
    DNNL_CHECK(dnnl_stream_wait(ts->stream));
    dnnl_primitive_destroy(reorder);
    dnnl_primitive_desc_destroy(rpd);
    dnnl_memory_destroy(from);
    dnnl_memory_destroy(to);
    return p;
}

void onednn_packed_free(OnednnPacked *p) {
    if (!p) return;
    free(p->data);
    free(p);
}

const uint16_t *onednn_packed_source(const OnednnPacked *p) { return p->w; }

void onednn_matmul_packed(const OnednnPacked *p, int M, const uint16_t *A, const float *bias, float beta, float *C) {
    int red = p->backward ? p->N : p->K, out = p->backward ? p->K : p->N;
    dnnl_memory_desc_t a_md, c_md;
    md_2d(&a_md, M, red, dnnl_bf16, false);
    md_2d(&c_md, M, out, dnnl_f32, false);
    if (!run_matmul(&a_md, &p->md, &c_md, 1.0f, A, p->data, bias, beta, C, true))
        onednn_matmul(ONEDNN_BF16, false, !p->backward, M, out, red, 1.0f, A, p->w, bias, beta, C);
}

#else /* built without oneDNN */

bool onednn_built(void) { return false; }
const char *onednn_isa(void) { return "none"; }

static void absent(void) {
    fprintf(stderr, "ftune: a oneDNN product was called in a build without oneDNN\n");
    abort();
}
uint16_t *onednn_bf16_buffer(size_t elems) {
    (void)elems;
    absent();
    return NULL;
}
void onednn_matmul(OnednnType t, bool a_trans, bool b_trans, int M, int N, int K, float alpha, const void *A,
                   const void *B, const float *bias, float beta, float *C) {
    (void)t, (void)a_trans, (void)b_trans, (void)M, (void)N, (void)K, (void)alpha, (void)A, (void)B, (void)bias,
        (void)beta, (void)C;
    absent();
}
void onednn_matmul_ld(OnednnType t, bool a_trans, bool b_trans, int M, int N, int K, float alpha, const void *A,
                      int lda, const void *B, int ldb, const float *bias, float beta, float *C, int ldc) {
    (void)t, (void)a_trans, (void)b_trans, (void)M, (void)N, (void)K, (void)alpha, (void)A, (void)lda, (void)B,
        (void)ldb, (void)bias, (void)beta, (void)C, (void)ldc;
    absent();
}
OnednnPacked *onednn_pack_bf16(const uint16_t *w, int N, int K, bool backward) {
    (void)w, (void)N, (void)K, (void)backward;
    return NULL; /* callers keep the plain weights */
}
void onednn_packed_free(OnednnPacked *p) { (void)p; }
const uint16_t *onednn_packed_source(const OnednnPacked *p) {
    (void)p;
    absent();
    return NULL;
}
void onednn_matmul_packed(const OnednnPacked *p, int M, const uint16_t *A, const float *bias, float beta, float *C) {
    (void)p, (void)M, (void)A, (void)bias, (void)beta, (void)C;
    absent();
}
#endif
