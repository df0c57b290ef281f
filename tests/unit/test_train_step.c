/* test_train_step.c: the whole training forward/backward on the real stories260K model against
 * finite differences of the loss, for LoRA parameters of every target in the first and last
 * layer; the adapted model without training equals the base model (B = 0); a packed batch equals
 * its sequences one at a time; and a bf16 step stays within a band of the fp32 step. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "model/infer.h"
#include "tensor/ops_backward.h"
#include "tensor/precision.h"
#include "train/train_step.h"
#include "test.h"
#include "test_models.h"

static const int32_t IDS[] = {1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 268, 414, 422, 395, 274, 287, 426};
static const uint8_t MASK[] = {0, 0, 0, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1};
#define LEN ((int)(sizeof IDS / sizeof IDS[0]))

/* The loss; with training, as the training pass computes it (dropout included) while adding
 * nothing to the gradients (grad_scale 0). */
static double loss_only(TrainState *s, bool training) {
    StepStats st = {0};
    Err err = {0};
    train_sequence(s, IDS, MASK, LEN, 0.0f, training, &st, &err);
    return st.loss_sum / st.n_tokens;
}

static void check_gradients(float dropout);

TEST(train_step_gradients_match_finite_differences) { check_gradients(0.0f); }

/* With dropout the masks are a function of the seed, so the loss is still a deterministic function
 * of the parameters and finite differences apply. */
TEST(train_step_gradients_with_dropout_match_finite_differences) { check_gradients(0.2f); }

static double loss_only(TrainState *s, bool training);

static void check_gradients(float dropout) {
    Model *m = test_load_stories260k();
    if (!m) return;
    LoraConfig cfg = {2, 4.0f, dropout, LORA_ALL_TARGETS};
    Lora *lora;
    TrainState *s;
    Err err = {0};
    REQUIRE(lora_new(m, &cfg, &lora, &err) == 0);
    lora_init(lora, 5);
    Rng r;
    rng_seed(&r, 6);
    for (int i = 0; i < lora->n_layer * LORA_N_TARGETS; i++) /* B non-zero so every gradient is alive */
        for (size_t j = 0; j < (size_t)lora->pairs[i].out * cfg.rank; j++) lora->pairs[i].B[j] = (rng_uniform(&r) - 0.5f) * 0.2f;
    REQUIRE(train_state_new(m, lora, 64, 0, &s, &err) == 0);
    train_state_set_dropout_seed(s, 77);
    int n_train = 0;
    for (int t = 1; t < LEN; t++) n_train += MASK[t];
    StepStats st = {0};
    REQUIRE(train_sequence(s, IDS, MASK, LEN, 1.0f / n_train, true, &st, &err) == 0);
    CHECK_EQ_INT(st.n_tokens, n_train);
    double loss = st.loss_sum / st.n_tokens;
    CHECK(loss > 0.1 && loss < 10);
    CHECK_NEAR(loss_only(s, true), loss, 1e-6);
    if (dropout > 0) CHECK(fabs(loss_only(s, false) - loss) > 1e-4); /* evaluation runs without dropout */
    int checked = 0;
    double worst = 0;
    for (int layer = 0; layer < m->cfg.n_layer; layer += m->cfg.n_layer - 1)
        for (int t = 0; t < LORA_N_TARGETS; t++) {
            const LoraPair *p = lora_pair(lora, layer, t);
            float *params[2] = {p->A + (rng_next(&r) % (size_t)(p->in * cfg.rank)),
                                p->B + (rng_next(&r) % (size_t)(p->out * cfg.rank))};
            for (int k = 0; k < 2; k++) {
                float *x = params[k], keep = *x, eps = 1e-2f;
                *x = keep + eps;
                double lp = loss_only(s, true);
                *x = keep - eps;
                double lm = loss_only(s, true);
                *x = keep;
                double num = (lp - lm) / (2 * eps), ana = *lora_grad(lora, x);
                double err_abs = fabs(num - ana);
                if (err_abs > 2e-2 * fabs(num) + 2e-4) {
                    test_fail(__FILE__, __LINE__, "layer %d %s %s: analytic %g, numeric %g", layer,
                              lora_target_name(t), k ? "B" : "A", ana, num);
                }
                worst = fmax(worst, err_abs);
                checked++;
            }
        }
    printf("    %d LoRA parameters checked, worst |analytic - numeric| %.2g\n", checked, worst);
    train_state_free(s);
    lora_free(lora);
    model_free(m);
}

TEST(train_step_fresh_adapter_equals_base_model) {
    Model *m = test_load_stories260k();
    if (!m) return;
    LoraConfig cfg = {4, 8.0f, 0.0f, LORA_ALL_TARGETS};
    Lora *lora;
    TrainState *with, *without;
    Err err = {0};
    REQUIRE(lora_new(m, &cfg, &lora, &err) == 0);
    lora_init(lora, 1);
    REQUIRE(train_state_new(m, lora, 32, 0, &with, &err) == 0);
    REQUIRE(train_state_new(m, NULL, 32, 0, &without, &err) == 0);
    double a = loss_only(with, false), b = loss_only(without, false);
    CHECK_NEAR(a, b, 1e-6);
    /* and the training forward agrees with the inference forward's logits-based loss */
    InferState *st;
    REQUIRE(infer_new(m, 32, 2, &st, &err) == 0);
    float *logits = malloc((size_t)LEN * m->cfg.vocab * sizeof(float));
    REQUIRE(infer_forward(st, IDS, LEN, logits, &err) == 0);
    int n = 0, targets[LEN];
    float *rows = malloc((size_t)LEN * m->cfg.vocab * sizeof(float));
    for (int t = 1; t < LEN; t++)
        if (MASK[t]) {
            memcpy(rows + (size_t)n * m->cfg.vocab, logits + (size_t)(t - 1) * m->cfg.vocab, m->cfg.vocab * sizeof(float));
            targets[n++] = IDS[t];
        }
    double ref = op_cross_entropy(rows, targets, n, m->cfg.vocab, 1.0f, NULL) / n;
    CHECK_NEAR(a, ref, 1e-5);
    free(rows);
    free(logits);
    infer_free(st);
    train_state_free(with);
    train_state_free(without);
    lora_free(lora);
    model_free(m);
}

/* A packed batch (four sequences of different lengths as one set of rows, LoRA dropout on with a
 * seed per sequence) gives the loss and every LoRA gradient of the same sequences run one at a
 * time, to fp32 rounding (only the matmuls' M and so their blocking differ). */
enum { NS = 4 };

typedef struct {
    Lora *lora;
    int32_t ids[NS][32];
    uint8_t mask[NS][32];
    TrainSeq seqs[NS];
    int n_trained; /* positions */
} Batch;

/* Adapters of rank 4 on every projection of m with B non-zero too (so every factor gets a
 * gradient), and a batch of NS random sequences of different lengths, the last two thirds of each
 * trained. */
static bool batch_setup(Model *m, float dropout, uint64_t seed, Batch *b) {
    LoraConfig cfg = {4, 8.0f, dropout, LORA_ALL_TARGETS};
    Err err = {0};
    Lora **lora = &b->lora;
    if (lora_new(m, &cfg, lora, &err)) return false;
    lora_init(*lora, seed);
    Rng r;
    rng_seed(&r, seed + 1);
    for (int i = 0; i < (*lora)->n_layer * LORA_N_TARGETS; i++)
        for (size_t j = 0; j < (size_t)(*lora)->pairs[i].out * cfg.rank; j++)
            (*lora)->pairs[i].B[j] = (rng_uniform(&r) - 0.5f) * 0.2f;
    static const int lens[NS] = {17, 5, 30, 11};
    b->n_trained = 0;
    for (int s = 0; s < NS; s++) {
        for (int t = 0; t < lens[s]; t++) {
            b->ids[s][t] = 1 + (int32_t)(rng_next(&r) % (uint64_t)(m->cfg.vocab - 1));
            b->mask[s][t] = t > lens[s] / 3;
            b->n_trained += t > 0 && b->mask[s][t];
        }
        b->seqs[s] = (TrainSeq){b->ids[s], b->mask[s], lens[s], 1000 + (uint64_t)s};
    }
    return b->n_trained > 0;
}

TEST(train_step_packed_batch_equals_per_sequence_loop) {
    Model *m = test_load_stories260k();
    if (!m) return;
    Batch b;
    REQUIRE(batch_setup(m, 0.1f, 3, &b));
    Lora *lora = b.lora;
    const TrainSeq *seqs = b.seqs;
    int n_trained = b.n_trained;
    Err err = {0};
    TrainState *packed, *single;
    REQUIRE(train_state_new(m, lora, 32, 128, &packed, &err) == 0);
    REQUIRE(train_state_new(m, lora, 32, 0, &single, &err) == 0); /* 32 rows: one sequence per pass */
    float *g_single = malloc(lora->n_params * sizeof(float));
    StepStats st1 = {0}, st2 = {0};
    for (int s = 0; s < NS; s++) REQUIRE(train_batch(single, &seqs[s], 1, 1.0f / n_trained, true, &st1, &err) == 0);
    memcpy(g_single, lora->grads, lora->n_params * sizeof(float));
    memset(lora->grads, 0, lora->n_params * sizeof(float));
    REQUIRE(train_batch(packed, seqs, NS, 1.0f / n_trained, true, &st2, &err) == 0);
    CHECK_EQ_INT(st1.n_tokens, n_trained);
    CHECK_EQ_INT(st2.n_tokens, n_trained);
    CHECK_EQ_INT(st1.n_correct, st2.n_correct);
    CHECK_NEAR(st2.loss_sum, st1.loss_sum, 1e-6 * st1.loss_sum);
    double gmax = 0, diff = 0;
    for (size_t i = 0; i < lora->n_params; i++) {
        gmax = fmax(gmax, fabs(g_single[i]));
        diff = fmax(diff, fabs(g_single[i] - lora->grads[i]));
    }
    printf("    loss %.7f packed vs %.7f alone; gradients within %.2g of their max %.3g\n", st2.loss_sum / n_trained,
           st1.loss_sum / n_trained, diff, gmax);
    CHECK(gmax > 0);
    CHECK(diff <= 1e-5 * gmax);
    free(g_single);
    train_state_free(packed);
    train_state_free(single);
    lora_free(lora);
    model_free(m);
}

/* Loss (mean over trained positions) and LoRA gradients of one packed batch, at m's precision. */
static double batch_step(Model *m, Lora *lora, const TrainSeq *seqs, int n_trained, float *grads, int *correct) {
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

/* A training step on the bf16 path (base weights packed for oneDNN, the fused
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
TEST(train_step_bf16_matches_fp32_within_band) {
    Model *m = test_load_stories260k();
    if (!m) return;
    Batch b;
    REQUIRE(batch_setup(m, 0.0f, 5, &b));
    Lora *lora = b.lora;
    const TrainSeq *seqs = b.seqs;
    int n_trained = b.n_trained;
    Err err = {0};
    float *g32 = malloc(lora->n_params * sizeof(float)), *g16 = malloc(lora->n_params * sizeof(float));
    int c32, c16;
    double l32 = batch_step(m, lora, seqs, n_trained, g32, &c32);
    if (model_set_precision(m, PRECISION_BF16, NULL, &err)) {
        test_skip(err.msg);
    } else {
        double l16 = batch_step(m, lora, seqs, n_trained, g16, &c16);
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
