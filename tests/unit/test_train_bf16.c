/* test_train_bf16.c: a training step on the bf16 path (base weights packed for oneDNN, the fused
 * bf16 head, train/train_step.c) against the same step at fp32, on the real stories260K model: a
 * packed batch of four sequences, LoRA on every projection with non-zero B so that every factor
 * gets a gradient. The bf16 step rounds both operands of every base-weight product to 8
 * significant bits (a relative error up to 2^-7 per product, with fp32 sums) and its head's
 * gradient to bf16 (2^-8); those errors are independent from product to product and the five
 * layers' norms keep them from compounding, so the loss and the gradients move by a small multiple
 * of 2^-8 at most (measured here: 2.4e-4 of the loss, 1% of the gradients' norm). The checks
 * allow 2^-8 of the loss and 2^-4 of the gradients' norm (the L2 distance between the two gradient
 * vectors), and require the two steps to differ (the bf16 products really ran). Skips where this
 * CPU or build has no bf16 path. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "tensor/precision.h"
#include "train/train_step.h"
#include "test.h"
#include "test_models.h"

enum { NS = 4 };

/* Loss (mean over trained positions) and LoRA gradients of one packed batch. */
static double step(Model *m, Lora *lora, const TrainSeq *seqs, int n_trained, float *grads, int *correct) {
    TrainState *s;
    Err err = {0};
    StepStats st = {0};
    if (train_state_new(m, lora, 32, 128, &s, &err)) return NAN;
    memset(lora->grads, 0, lora->n_params * sizeof(float));
    int rc = train_batch(s, seqs, NS, 1.0f / n_trained, true, &st, &err);
    train_state_free(s);
    memcpy(grads, lora->grads, lora->n_params * sizeof(float));
    *correct = st.n_correct;
    return rc ? NAN : st.loss_sum / st.n_tokens;
}

TEST(train_step_bf16_matches_fp32_within_band) {
    Model *m = test_load_stories260k();
    if (!m) return;
    LoraConfig cfg = {4, 8.0f, 0.0f, LORA_ALL_TARGETS};
    Lora *lora;
    Err err = {0};
    REQUIRE(lora_new(m, &cfg, &lora, &err) == 0);
    lora_init(lora, 5);
    Rng r;
    rng_seed(&r, 6);
    for (int i = 0; i < lora->n_layer * LORA_N_TARGETS; i++)
        for (size_t j = 0; j < (size_t)lora->pairs[i].out * cfg.rank; j++) lora->pairs[i].B[j] = (rng_uniform(&r) - 0.5f) * 0.2f;
    static const int lens[NS] = {17, 5, 30, 11};
    int32_t ids[NS][32];
    uint8_t mask[NS][32];
    TrainSeq seqs[NS];
    int n_trained = 0;
    for (int s = 0; s < NS; s++) {
        for (int t = 0; t < lens[s]; t++) {
            ids[s][t] = 1 + (int32_t)(rng_next(&r) % (uint64_t)(m->cfg.vocab - 1));
            mask[s][t] = t > lens[s] / 3;
            n_trained += t > 0 && mask[s][t];
        }
        seqs[s] = (TrainSeq){ids[s], mask[s], lens[s], 0};
    }
    float *g32 = malloc(lora->n_params * sizeof(float)), *g16 = malloc(lora->n_params * sizeof(float));
    int c32, c16;
    double l32 = step(m, lora, seqs, n_trained, g32, &c32);
    if (model_set_precision(m, PRECISION_BF16, NULL, &err)) {
        test_skip(err.msg);
    } else {
        double l16 = step(m, lora, seqs, n_trained, g16, &c16);
        double norm = 0, dist = 0;
        for (size_t i = 0; i < lora->n_params; i++) {
            norm += (double)g32[i] * g32[i];
            dist += ((double)g16[i] - g32[i]) * ((double)g16[i] - g32[i]);
        }
        norm = sqrt(norm), dist = sqrt(dist);
        printf("    loss %.6f bf16 vs %.6f fp32 (%.2g relative); gradients %.2g of their norm apart; correct %d vs %d\n",
               l16, l32, fabs(l16 - l32) / l32, dist / norm, c16, c32);
        CHECK(fabs(l16 - l32) <= l32 / 256);
        CHECK(norm > 0 && dist <= norm / 16);
        CHECK(l16 != l32 && dist > 0);
    }
    free(g32), free(g16);
    lora_free(lora);
    model_free(m);
}
