/* forward.c: the batched inference forward pass (see forward.h) on the shared block of layer.c:
 * embeddings, every layer with scratch reused across layers, final RMSNorm, then the head on the
 * rows that want logits. */
#include "forward.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "../tensor/matmul.h"
#include "../tensor/ops.h"
#include "layer.h"

struct Forward {
    const Model *m;
    int max_rows, max_ctx, n_threads, max_threads; /* max_threads: what the scratch is sized for */
    float *arena;
    float *x;        // (R, C) residual stream
    LayerActs acts;  /* scratch shared by every layer */
    float *scores;
    float *rope_cs;  // (R, head_dim) the batch's RoPE cos and sin, once for every layer
    float *inv_freq; // (hd/2)
    int *pos;        // (R)
    RowRun *runs;    // (R)
    LoraRowBlock *lora_blocks; // (R)
};

void forward_free(Forward *f) {
    if (!f) return;
    free(f->arena);
    free(f->pos);
    free(f->runs);
    free(f->lora_blocks);
    free(f);
}

int forward_max_rows(const Forward *f) { return f->max_rows; }
int forward_threads(const Forward *f) { return f->n_threads; }

void forward_set_threads(Forward *f, int n_threads) {
    int n = ops_threads(n_threads);
    f->n_threads = n < f->max_threads ? n : f->max_threads;
}


int forward_new(const Model *m, int max_rows, int max_ctx, int n_threads, Forward **out, Err *err) {
    *out = NULL;
    const ModelConfig *c = &m->cfg;
    if (max_rows <= 0 || max_ctx <= 0) return err_set(err, ERR_ARG, "batch rows and context size must be positive");
    Forward *f = calloc(1, sizeof *f);
    if (!f) return err_set(err, ERR_NOMEM, "out of memory");
    f->m = m;
    f->max_rows = max_rows;
    f->max_ctx = max_ctx;
    f->n_threads = f->max_threads = ops_threads(n_threads);
    size_t R = max_rows, C = c->dim, F = c->ffn_dim, qd = (size_t)c->n_head * c->head_dim,
           kvd = (size_t)c->n_kv_head * c->head_dim, wide = C > qd ? C : qd;
    if (F > wide) wide = F;
    size_t score_rows = (size_t)f->n_threads * OP_ATTENTION_HEADS; /* layer.h: LayerCtx.scores */
    size_t total = R * C * 3 /* x, xn, x_mid */ + R * qd * 2 + R * kvd * 2 + R * F * 2 + score_rows * max_ctx +
                   (size_t)c->head_dim / 2 + R * c->head_dim;
    f->arena = malloc(total * sizeof(float));
    f->pos = malloc(R * sizeof(int));
    f->runs = malloc(R * sizeof(RowRun));
    f->lora_blocks = malloc(R * sizeof(LoraRowBlock));
    if (!f->arena || !f->pos || !f->runs || !f->lora_blocks) {
        forward_free(f);
        return err_set(err, ERR_NOMEM, "cannot allocate the forward scratch for %d rows and %d positions", max_rows,
                       max_ctx);
    }
    float *p = f->arena;
#define TAKE(ptr, n) do { (ptr) = p; p += (n); } while (0)
    LayerActs *a = &f->acts;
    TAKE(f->x, R * C);
    TAKE(a->xn1, R * C);
    a->xn2 = a->xn1;
    TAKE(a->x_mid, R * C);
    TAKE(a->q, R * qd);
    TAKE(a->att, R * qd);
    TAKE(a->k, R * kvd);
    TAKE(a->v, R * kvd);
    TAKE(a->gate, R * F);
    a->h = a->gate;
    TAKE(a->up, R * F);
    TAKE(f->scores, score_rows * max_ctx);
    TAKE(f->inv_freq, (size_t)c->head_dim / 2);
    TAKE(f->rope_cs, R * c->head_dim);
#undef TAKE
    rope_inv_freq(f->inv_freq, c->head_dim, c->rope_theta, m->rope_factors);
    *out = f;
    return 0;
}

/* Checks the batch and splits it into runs; -1 with err set when something is out of range. */
static int plan_runs(Forward *f, KvCache *kv, const FwdBatch *b, int n_adapters, int *n_runs, Err *err) {
    const ModelConfig *c = &f->m->cfg;
    if (b->n <= 0) return err_set(err, ERR_ARG, "no tokens to run");
    if (b->n > f->max_rows) return err_set(err, ERR_ARG, "%d rows exceed the batch size %d", b->n, f->max_rows);
    if (b->n_decode < 0 || b->n_decode > b->n)
        return err_set(err, ERR_ARG, "%d decode rows in a batch of %d", b->n_decode, b->n);
    if (kv->n_layer != c->n_layer) return err_set(err, ERR_ARG, "the cache was made for another model");
    int nr = 0;
    for (int i = 0; i < b->n; i++) {
        int tok = b->token[i], pos = b->pos[i], slot = b->seq[i], ad = b->adapter ? b->adapter[i] : -1;
        if (tok < 0 || tok >= c->vocab)
            return err_set(err, ERR_ARG, "token id %d at row %d is outside the vocabulary (%d)", tok, i, c->vocab);
        if (slot < 0 || slot >= kv->n_slots || kv->len[slot] < 0)
            return err_set(err, ERR_ARG, "row %d names sequence slot %d, which is not allocated", i, slot);
        if (ad < -1 || ad >= n_adapters) return err_set(err, ERR_ARG, "row %d names adapter %d of %d", i, ad, n_adapters);
        if (pos < 0 || pos >= kv->capacity || pos >= f->max_ctx)
            return err_set(err, ERR_ARG, "%d tokens do not fit in the context: position %d of %d", b->n, pos,
                           kv->capacity < f->max_ctx ? kv->capacity : f->max_ctx);
        RowRun *last = nr ? &f->runs[nr - 1] : NULL;
        if (last && last->slot == slot && last->pos0 + last->n == pos) {
            last->n++;
        } else {
            for (int r = 0; r < nr; r++)
                if (f->runs[r].slot == slot)
                    return err_set(err, ERR_ARG, "rows of sequence slot %d are not consecutive at row %d", slot, i);
            if (pos > kv->len[slot])
                return err_set(err, ERR_ARG, "row %d at position %d leaves a gap after the %d cached positions", i,
                               pos, kv->len[slot]);
            f->runs[nr++] = (RowRun){.row0 = i, .n = 1, .pos0 = pos, .slot = slot};
        }
        f->pos[i] = pos;
    }
    *n_runs = nr;
    return 0;
}

int forward_batch(Forward *f, KvCache *kv, const FwdBatch *b, const Lora *const *adapters, int n_adapters,
                  float *logits, Err *err) {
    const Model *m = f->m;
    const ModelConfig *c = &m->cfg;
    int n_runs = 0, C = c->dim;
    if (plan_runs(f, kv, b, n_adapters, &n_runs, err)) return -1;
    for (int r = 0; r < n_runs; r++) /* room for the rows' keys and values before anything runs */
        if (kv_slot_reserve(kv, f->runs[r].slot, f->runs[r].pos0 + f->runs[r].n, err)) return -1;
    omp_set_num_threads(f->n_threads); /* this thread's budget, whatever another engine thread uses */
    for (int a = 0; a < n_adapters; a++) {
        if (adapters[a]->n_layer != c->n_layer)
            return err_set(err, ERR_ARG, "adapter %d has %d layers, the model %d", a, adapters[a]->n_layer, c->n_layer);
    }
    LayerCtx lc = {.m = m, .n = b->n, .n_decode = b->n_decode, .runs = f->runs, .n_runs = n_runs, .kv = kv,
                   .adapters = adapters, .row_adapter = b->adapter, .n_adapters = b->adapter ? n_adapters : 0,
                   .rope_cs = f->rope_cs, .scores = f->scores};
    layer_ctx_prepare(&lc);
    lc.lora_blocks = f->lora_blocks;
    lc.n_lora_blocks = lc.uniform_adapter == -1 ? 0 : layer_lora_blocks(&lc, f->lora_blocks);
    for (int i = 0; i < b->n; i++) op_matrix_row(f->x + (size_t)i * C, &m->tok_embd, b->token[i]);
    rope_table(f->rope_cs, f->pos, f->inv_freq, b->n, c->head_dim);
    for (int l = 0; l < c->n_layer; l++) layer_forward(&lc, l, f->x, f->x, &f->acts);
    for (int r = 0; r < n_runs; r++) { /* every layer has the runs' positions now */
        const RowRun *run = &f->runs[r];
        if (kv->len[run->slot] < run->pos0 + run->n) kv->len[run->slot] = run->pos0 + run->n;
    }
    /* the head, on the rows that want logits only */
    float *xn = f->acts.xn1;
    int k = 0, k_decode = 0; /* rows with logits, and how many of them are decode rows */
    for (int i = 0; i < b->n; i++)
        if (b->logits ? b->logits[i] : i == b->n - 1) {
            memmove(f->x + (size_t)k++ * C, f->x + (size_t)i * C, C * sizeof(float));
            if (i < b->n_decode) k_decode++;
        }
    if (!k) return 0;
    op_rmsnorm(xn, f->x, m->out_norm, k, C, c->rms_eps);
    layer_matmul(logits, xn, &m->output, NULL, k, k_decode, true);
    return 0;
}
