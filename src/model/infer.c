/* infer.c: a single sequence on the batched forward pass (see infer.h): slot 0 of a one-slot
 * cache, adapter 0 when one is set. */
#include "infer.h"

#include <stdlib.h>
#include <string.h>

#include "forward.h"
#include "kv_cache.h"
#include "lora.h"

void infer_free(InferState *s) {
    if (!s) return;
    forward_free(s->fwd);
    kv_cache_free(s->kv);
    free(s->logits);
    free(s->rows);
    free(s->want);
    free(s);
}

int infer_new(const Model *m, int max_seq, int n_threads, InferState **out, Err *err) {
    *out = NULL;
    if (max_seq <= 0) return err_set(err, ERR_ARG, "context size must be positive");
    InferState *s = calloc(1, sizeof *s);
    if (!s) return err_set(err, ERR_NOMEM, "out of memory");
    s->model = m;
    s->max_seq = max_seq;
    if (forward_new(m, INFER_MAX_CHUNK, max_seq, n_threads, &s->fwd, err) || kv_cache_new(m, 1, max_seq, &s->kv, err)) {
        infer_free(s);
        return -1;
    }
    s->n_threads = forward_threads(s->fwd);
    s->logits = malloc((size_t)m->cfg.vocab * sizeof(float));
    s->rows = malloc(3 * INFER_MAX_CHUNK * sizeof(int32_t));
    s->want = malloc(INFER_MAX_CHUNK);
    if (!s->logits || !s->rows || !s->want) {
        infer_free(s);
        return err_set(err, ERR_NOMEM, "cannot allocate the inference state for %d positions", max_seq);
    }
    kv_slot_alloc(s->kv);
    *out = s;
    return 0;
}

void infer_set_threads(InferState *s, int n_threads) {
    forward_set_threads(s->fwd, n_threads);
    s->n_threads = forward_threads(s->fwd);
}

void infer_reset(InferState *s) {
    s->pos = 0;
    kv_slot_reset(s->kv, 0);
}

int infer_set_lora(InferState *s, const Lora *lora, Err *err) {
    s->lora = NULL;
    infer_reset(s);
    if (!lora) return 0;
    if (lora->n_layer != s->model->cfg.n_layer)
        return err_set(err, ERR_ARG, "the adapter has %d layers, the model %d", lora->n_layer, s->model->cfg.n_layer);
    s->lora = lora;
    return 0;
}

/* Prompt rows (decode false) or one generated token (decode true), see forward.h's n_decode. */
static int run_rows(InferState *s, const int32_t *tokens, int n, float *all_logits, bool decode, Err *err) {
    const ModelConfig *c = &s->model->cfg;
    if (n <= 0) return err_set(err, ERR_ARG, "no tokens to run");
    if (n > s->max_seq - s->pos)
        return err_set(err, ERR_ARG, "%d tokens do not fit in the context: %d of %d positions are used", n, s->pos,
                       s->max_seq);
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= c->vocab)
            return err_set(err, ERR_ARG, "token id %d at index %d is outside the vocabulary (%d)", tokens[i], i, c->vocab);
    int32_t *pos = s->rows, *slot = s->rows + INFER_MAX_CHUNK, *adapter = s->rows + 2 * INFER_MAX_CHUNK;
    const Lora *adapters[1] = {s->lora};
    for (int done = 0; done < n;) {
        int T = n - done < INFER_MAX_CHUNK ? n - done : INFER_MAX_CHUNK;
        bool last = done + T == n;
        for (int i = 0; i < T; i++) {
            pos[i] = s->pos + i;
            slot[i] = 0;
            adapter[i] = s->lora ? 0 : -1;
            s->want[i] = all_logits || (last && i == T - 1);
        }
        FwdBatch b = {.n = T, .token = tokens + done, .pos = pos, .seq = slot, .adapter = adapter, .logits = s->want,
                      .n_decode = decode ? T : 0};
        float *out = all_logits ? all_logits + (size_t)done * c->vocab : s->logits;
        if (forward_batch(s->fwd, s->kv, &b, adapters, s->lora ? 1 : 0, all_logits || last ? out : NULL, err)) {
            kv_slot_truncate(s->kv, 0, s->pos);
            return -1;
        }
        s->pos += T;
        done += T;
    }
    if (all_logits) memcpy(s->logits, all_logits + (size_t)(n - 1) * c->vocab, (size_t)c->vocab * sizeof(float));
    return 0;
}

int infer_forward(InferState *s, const int32_t *tokens, int n, float *all_logits, Err *err) {
    return run_rows(s, tokens, n, all_logits, false, err);
}

int infer_step(InferState *s, int32_t token, Err *err) { return run_rows(s, &token, 1, NULL, true, err); }
