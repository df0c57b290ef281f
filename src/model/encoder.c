/* encoder.c: the encoder's forward pass over a packed batch (encoder.h) and its tokenizer entry.
 * Rows of every input are laid end to end, (R, C) with R the sum of the sequence lengths; each
 * linear layer is one matrix product over all R rows plus the bias (fp32: op_gemm, oneDNN where
 * built, else OpenBLAS; bf16: see linear), attention keeps to each sequence's own rows
 * (op_attention_full, every sequence's heads shared among the threads), then each sequence's rows
 * are pooled and normalised. Post-LayerNorm BERT: x = LN(x + Attn(x)); x = LN(x + W2 gelu(W1 x)).
 * Token type 0 everywhere (one text per input). A large batch runs in groups of at most ENCODER_BATCH_ROWS rows (whole inputs), so its
 * scratch stays bounded; scratch is each calling thread's own block, kept between calls. */
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../tensor/matmul.h"
#include "../tensor/matmul_bf16.h"
#include "../tensor/matvec_amx.h"
#include "../tensor/ops.h"
#include "encoder.h"

int encoder_tokenize(const Encoder *e, const char *text, size_t len, int32_t **ids, int *n, Err *err) {
    return tok_encode(e->tok, text, len, false, true, ids, n, err);
}

int encoder_max_text_tokens(const Encoder *e) { return e->cfg.max_seq - 2; }

typedef struct {
    float *x, *q, *k, *v, *att, *h, *scratch; /* (R, C) x5, (R, F), (threads, max T) */
    int *start, *len;                         /* each sequence's first row and row count */
} Scratch;

/* The calling thread's scratch block, grown to the largest call so far (at most ENCODER_BATCH_ROWS
 * rows' worth), kept between calls (a call's own allocation cost page faults comparable to the
 * products of a short batch) and freed when the thread exits. */
typedef struct {
    void *p;
    size_t cap;
} ThreadScratch;

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static bool scratch_key_ok;

static void thread_scratch_free(void *p) {
    ThreadScratch *t = p;
    free(t->p);
    free(t);
}

static void scratch_key_init(void) { scratch_key_ok = pthread_key_create(&scratch_key, thread_scratch_free) == 0; }

/* At least bytes of the thread's block (64-byte aligned), or NULL when out of memory. */
static void *thread_scratch(size_t bytes) {
    pthread_once(&scratch_once, scratch_key_init);
    if (!scratch_key_ok) return NULL;
    ThreadScratch *t = pthread_getspecific(scratch_key);
    if (!t) {
        if (!(t = calloc(1, sizeof *t))) return NULL;
        if (pthread_setspecific(scratch_key, t)) {
            free(t);
            return NULL;
        }
    }
    if (bytes > t->cap) {
        free(t->p);
        t->cap = 0;
        if (!(t->p = aligned_alloc(64, (bytes + 63) / 64 * 64))) return NULL;
        t->cap = bytes;
    }
    return t->p;
}

/* s's arrays carved from the thread's block: 64-byte aligned pieces of the sizes given (floats,
 * then ints). 0, or -1 when out of memory. */
static int scratch_carve(Scratch *s, size_t capC, size_t capF, size_t att_floats, int n) {
    size_t f[7] = {capC, capC, capC, capC, capC, capF, att_floats}, bytes = 0;
    for (int i = 0; i < 7; i++) bytes += (f[i] * sizeof(float) + 63) / 64 * 64;
    size_t ints = ((size_t)n * sizeof(int) + 63) / 64 * 64;
    char *p = thread_scratch(bytes + 2 * ints);
    if (!p) return -1;
    float **dst[7] = {&s->x, &s->q, &s->k, &s->v, &s->att, &s->h, &s->scratch};
    for (int i = 0; i < 7; i++) {
        *dst[i] = (float *)p;
        p += (f[i] * sizeof(float) + 63) / 64 * 64;
    }
    s->start = (int *)p;
    s->len = (int *)(p + ints);
    return 0;
}

/* y (T, N) = x (T, K) W^T + b, W (N, K). fp32: op_gemm (oneDNN's fp32 matmul where built, faster
 * than OpenBLAS at the few-row shapes of short texts), then the bias. bf16: on AMX tiles
 * (bf16_matvec_rows, which reads the bf16 copy with no per-call library set-up and gives each row
 * the same result whatever shares the batch), else oneDNN's bf16 matmul (op_matmul). */
static void linear(float *y, const float *x, const QuantMatrix *w, const float *b, int T) {
    int N = w->rows, K = w->cols;
    if (w->bf16) {
        if (amx_matvec_available()) bf16_matvec_rows(y, x, w, b, T);
        else op_matmul(y, x, w, b, T);
        return;
    }
    op_gemm(false, true, T, N, K, 1.0f, x, (const float *)w->data, 0.0f, y);
#pragma omp parallel for if ((size_t)T * N > 65536)
    for (int t = 0; t < T; t++)
        for (int n = 0; n < N; n++) y[(size_t)t * N + n] += b[n];
}

static void layer_forward(const Encoder *e, const EncoderLayer *L, Scratch *s, int R, int n) {
    const EncoderConfig *c = &e->cfg;
    int C = c->n_embd, F = c->n_ff, hd = C / c->n_head;
    linear(s->q, s->x, &L->q_w, L->q_b, R); // (R, C)
    linear(s->k, s->x, &L->k_w, L->k_b, R);
    linear(s->v, s->x, &L->v_w, L->v_b, R);
    op_attention_full(s->att, s->q, s->k, s->v, s->start, s->len, n, c->n_head, hd, s->scratch);
    linear(s->q, s->att, &L->o_w, L->o_b, R); /* q reused: the attention's output projection */
    size_t RC = (size_t)R * C;
#pragma omp parallel for simd if (parallel : RC > 65536)
    for (size_t i = 0; i < RC; i++) s->x[i] += s->q[i];
    op_layernorm(s->x, s->x, L->ln1_w, L->ln1_b, R, C, c->ln_eps);
    linear(s->h, s->x, &L->ff1_w, L->ff1_b, R); // (R, F)
    op_gelu(s->h, (size_t)R * F);
    linear(s->q, s->h, &L->ff2_w, L->ff2_b, R);
#pragma omp parallel for simd if (parallel : RC > 65536)
    for (size_t i = 0; i < RC; i++) s->x[i] += s->q[i];
    op_layernorm(s->x, s->x, L->ln2_w, L->ln2_b, R, C, c->ln_eps);
}

/* Sequence i's rows pooled (mean over every row, or its first row) and normalised into out (C). */
static void pool(const Encoder *e, const Scratch *s, int i, float *out) {
    int C = e->cfg.n_embd, T = s->len[i];
    const float *x = s->x + (size_t)s->start[i] * C;
    if (e->cfg.pooling == ENCODER_POOL_CLS) {
        memcpy(out, x, (size_t)C * sizeof(float));
    } else {
        for (int c = 0; c < C; c++) out[c] = 0;
        for (int t = 0; t < T; t++)
            for (int c = 0; c < C; c++) out[c] += x[(size_t)t * C + c];
        for (int c = 0; c < C; c++) out[c] /= (float)T;
    }
    if (!e->cfg.normalize) return;
    double ss = 0;
    for (int c = 0; c < C; c++) ss += (double)out[c] * out[c];
    float inv = (float)(1.0 / fmax(sqrt(ss), 1e-12)); /* torch.nn.functional.normalize's eps */
    for (int c = 0; c < C; c++) out[c] *= inv;
}

/* Inputs [first, first + n) whose rows start at 0 in the scratch: embeddings, layers, pooling. */
static void embed_group(const Encoder *e, const int32_t *const *ids, Scratch *s, int first, int n, float *out) {
    const EncoderConfig *c = &e->cfg;
    int C = c->n_embd, R = 0;
    for (int i = first; i < first + n; i++) { /* token + position + token type 0 */
        s->start[i] = R;
        for (int t = 0; t < s->len[i]; t++) {
            int32_t id = t == 0 ? e->cls_id : t == s->len[i] - 1 ? e->sep_id : ids[i][t - 1];
            float *row = s->x + ((size_t)R + t) * C;
            const float *te = e->tok_emb + (size_t)id * C, *pe = e->pos_emb + (size_t)t * C;
            for (int k = 0; k < C; k++) row[k] = te[k] + pe[k] + e->type_emb[k];
        }
        R += s->len[i];
    }
    op_layernorm(s->x, s->x, e->emb_ln_w, e->emb_ln_b, R, C, c->ln_eps);
    Scratch g = *s; /* the group's view: its sequences from index 0 */
    g.start = s->start + first;
    g.len = s->len + first;
    for (int l = 0; l < c->n_layer; l++) layer_forward(e, &e->layers[l], &g, R, n);
    for (int i = 0; i < n; i++) pool(e, &g, i, out + (size_t)(first + i) * C);
}

int encoder_embed(const Encoder *e, const int32_t *const *ids, const int *n_ids, int n, int n_threads, float *out,
                  Err *err) {
    if (!e || (n > 0 && (!ids || !n_ids || !out)) || n < 0) return err_set(err, ERR_ARG, "encoder_embed: missing argument");
    if (n == 0) return 0;
    const EncoderConfig *c = &e->cfg;
    int C = c->n_embd, max_text = encoder_max_text_tokens(e);
    size_t R = 0;
    int max_T = 0;
    for (int i = 0; i < n; i++) {
        if (n_ids[i] < 0 || (n_ids[i] > 0 && !ids[i])) return err_set(err, ERR_ARG, "encoder_embed: input %d has no ids", i);
        int kept = n_ids[i] < max_text ? n_ids[i] : max_text;
        for (int t = 0; t < kept; t++)
            if (ids[i][t] < 0 || ids[i][t] >= c->n_vocab)
                return err_set(err, ERR_ARG, "encoder_embed: input %d: token %d is %d, outside the vocabulary (0..%d)", i,
                               t, (int)ids[i][t], c->n_vocab - 1);
        R += (size_t)kept + 2;
        if (kept + 2 > max_T) max_T = kept + 2;
    }
    size_t cap = R < ENCODER_BATCH_ROWS ? R : ENCODER_BATCH_ROWS; /* rows of one group */
    if (cap < (size_t)max_T) cap = (size_t)max_T;
    int threads = ops_threads(n_threads);
    Scratch s;
    if (scratch_carve(&s, cap * C, cap * c->n_ff, (size_t)threads * max_T, n))
        return err_set(err, ERR_NOMEM, "encoder_embed: out of memory for %zu rows", cap);
    for (int i = 0; i < n; i++) s.len[i] = (n_ids[i] < max_text ? n_ids[i] : max_text) + 2;
    omp_set_num_threads(threads); /* this thread's budget (OpenBLAS's OpenMP build follows it) */
    for (int first = 0; first < n;) {
        int count = 0;
        size_t rows = 0;
        while (first + count < n && rows + (size_t)s.len[first + count] <= cap) rows += (size_t)s.len[first + count++];
        embed_group(e, ids, &s, first, count, out);
        first += count;
    }
    return 0;
}
