/* test_train_golden.c: LoRA training against the PyTorch reference (scripts/reference_train.py,
 * tests/golden/train/<model>/): with the reference's initial adapter (loaded through the PEFT
 * reader) and batch, the loss, every LoRA gradient (to 1e-4 of each tensor's largest entry), and
 * the losses of five clipped AdamW steps agree, and so does the adapter after them (to a bound
 * derived from how Adam treats near-zero gradients: see visit_adapter). The same for DPO
 * (scripts/reference_dpo.py, tests/golden/dpo/<model>/): reference log-probabilities, loss,
 * rewards, gradients and five steps with the base model as reference, and the loss and gradients
 * with the initial adapter frozen as reference. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "model/peft.h"
#include "model/safetensors.h"
#include "train/adamw.h"
#include "train/dpo.h"
#include "train/train_step.h"
#include "test.h"

typedef struct {
    int n;
    int32_t *ids[8];
    uint8_t *mask[8];
    int len[8];
    int n_trained;
} Batch;

static int read_batch(json_t *g, Batch *b) {
    json_t *seqs = json_object_get(g, "sequences"), *masks = json_object_get(g, "token_masks");
    b->n = (int)json_array_size(seqs);
    b->n_trained = 0;
    if (b->n > 8 || json_array_size(masks) != (size_t)b->n) return -1;
    for (int s = 0; s < b->n; s++) {
        json_t *ids = json_array_get(seqs, s), *mask = json_array_get(masks, s);
        b->len[s] = (int)json_array_size(ids);
        b->ids[s] = malloc(b->len[s] * sizeof(int32_t));
        b->mask[s] = malloc(b->len[s]);
        for (int t = 0; t < b->len[s]; t++) {
            b->ids[s][t] = (int32_t)json_integer_value(json_array_get(ids, t));
            b->mask[s][t] = (uint8_t)json_integer_value(json_array_get(mask, t));
            b->n_trained += t > 0 && b->mask[s][t];
        }
    }
    return 0;
}

static void free_batch(Batch *b) {
    for (int s = 0; s < b->n; s++) free(b->ids[s]), free(b->mask[s]);
}

/* Loss of the batch (packed into one pass) and, with backward, its gradient accumulated in
 * lora->grads. */
static double batch_loss(TrainState *ts, const Batch *b, bool backward) {
    StepStats st = {0};
    Err err = {0};
    TrainSeq seqs[8];
    for (int s = 0; s < b->n; s++) seqs[s] = (TrainSeq){b->ids[s], b->mask[s], b->len[s], 0};
    if (train_batch(ts, seqs, b->n, 1.0f / b->n_trained, backward, &st, &err))
        test_fail(__FILE__, __LINE__, "%s", err.msg);
    return st.loss_sum / st.n_tokens;
}

/* Reads tensor `key` of an open safetensors file as fp32 (caller frees), or NULL after a failure. */
static float *read_f32(SafeTensors *st, const char *key, uint64_t n) {
    Err err = {0};
    const StTensor *t = st_find(st, key);
    if (!t || t->n_elements != n) {
        test_fail(__FILE__, __LINE__, "no tensor %s of %llu elements", key, (unsigned long long)n);
        return NULL;
    }
    float *r = malloc(n * sizeof(float));
    if (st_tensor_to_f32(t, r, &err)) test_fail(__FILE__, __LINE__, "%s", err.msg);
    return r;
}

/* Calls visit(ctx, ours, ref, grad, n) for every adapter tensor: ours inside `base` (a buffer laid
 * out as l->params), ref from ref_path and, when grads_path is given, the reference gradient from
 * it (else NULL). Returns the number of tensors visited. */
typedef void (*TensorVisit)(void *ctx, const float *ours, const float *ref, const float *grad, uint64_t n);
static int visit_adapter_tensors(const Lora *l, const float *base, const char *ref_path, const char *grads_path,
                                 TensorVisit visit, void *ctx) {
    SafeTensors *st = NULL, *gs = NULL;
    Err err = {0};
    if (st_open(ref_path, &st, &err) || (grads_path && st_open(grads_path, &gs, &err))) {
        test_fail(__FILE__, __LINE__, "%s", err.msg);
        st_close(st);
        return 0;
    }
    int n = 0;
    for (int layer = 0; layer < l->n_layer; layer++)
        for (int t = 0; t < LORA_N_TARGETS; t++) {
            const LoraPair *p = lora_pair(l, layer, t);
            for (int k = 0; k < 2 && p->A; k++) {
                char key[160];
                snprintf(key, sizeof key, "base_model.model.model.layers.%d.%s.%s.weight", layer,
                         lora_target_module(t), k ? "lora_B" : "lora_A");
                uint64_t ne = (uint64_t)p->rank * (k ? p->out : p->in);
                float *r = read_f32(st, key, ne), *g = gs ? read_f32(gs, key, ne) : NULL;
                if (r && (g || !gs)) visit(ctx, base + ((k ? p->B : p->A) - l->params), r, g, ne), n++;
                free(r);
                free(g);
            }
        }
    st_close(st);
    st_close(gs);
    if (n == 0) test_fail(__FILE__, __LINE__, "no tensors compared");
    return n;
}

/* Max |ours - ref| / max |ref| of one tensor, worst over tensors. */
static void visit_rel(void *ctx, const float *ours, const float *ref, const float *grad, uint64_t n) {
    (void)grad;
    double mx = 1e-12, diff = 0;
    for (uint64_t i = 0; i < n; i++) {
        mx = fmax(mx, fabs(ref[i]));
        diff = fmax(diff, fabs(ref[i] - ours[i]));
    }
    *(double *)ctx = fmax(*(double *)ctx, diff / mx);
}

static double worst_rel(const Lora *l, const float *base, const char *st_path) {
    double worst = 0;
    return visit_adapter_tensors(l, base, st_path, NULL, visit_rel, &worst) ? worst : 1e9;
}

/* The most one bias-corrected Adam step t (from 1) can move an element, in units of the learning
 * rate, whatever the gradients: by Cauchy-Schwarz on m_t = (1-b1) sum_k b1^(t-k) g_k against
 * v_t = (1-b2) sum_k b2^(t-k) g_k^2,
 *   |m_t / (1-b1^t)| / sqrt(v_t / (1-b2^t)) <= (1-b1) sqrt(1-b2^t) / ((1-b1^t) sqrt(1-b2))
 *                                              * sqrt(sum_{j<t} (b1^2/b2)^j).
 * (1 at t = 1: the first step is lr * sign(g).) */
static double adam_step_bound(double b1, double b2, int t) {
    double s = 0;
    for (int j = 0; j < t; j++) s += pow(b1 * b1 / b2, j);
    return (1 - b1) * sqrt(1 - pow(b2, t)) / ((1 - pow(b1, t)) * sqrt(1 - b2)) * sqrt(s);
}

/* The adapter after `steps` AdamW steps against the reference's. Adam normalises each element's
 * gradient by its own running magnitude, so an element whose gradient is near zero (at the level
 * of fp32 summation-order differences between BLAS builds and CPUs) moves by up to about lr per
 * step in a direction that rounding decides: no tolerance can make those elements agree across
 * machines. So:
 *  - every element must lie within the largest distance two runs of Adam can drift apart,
 *    2 * lr * sum_t adam_step_bound(t) (+ weight decay, negligible): catches a wrong update rule,
 *    learning rate or bias correction;
 *  - elements whose step-1 reference gradient is well above the gradient's error bound
 *    (|g| >= STABLE_GRAD x grad_tol x max|g| of its tensor) have a direction the rounding cannot
 *    flip: they must match to ADAPTER_TOL of their tensor's largest entry, as before. */
#define STABLE_GRAD 100.0
#define ADAPTER_TOL 1e-3
typedef struct {
    double grad_tol, lr;
    double worst_stable; /* relative to the tensor's largest entry, over stable elements */
    double worst_abs_lr; /* absolute, in units of lr, over all elements */
    int n_stable, n_total;
} AdapterCheck;

static void visit_adapter(void *vctx, const float *ours, const float *ref, const float *grad, uint64_t n) {
    AdapterCheck *a = vctx;
    double mx = 1e-30, gmx = 0;
    for (uint64_t i = 0; i < n; i++) mx = fmax(mx, fabs(ref[i])), gmx = fmax(gmx, fabs(grad[i]));
    for (uint64_t i = 0; i < n; i++) {
        double d = fabs(ref[i] - ours[i]);
        a->worst_abs_lr = fmax(a->worst_abs_lr, d / a->lr);
        a->n_total++;
        if (gmx > 0 && fabs(grad[i]) >= STABLE_GRAD * a->grad_tol * gmx) {
            a->worst_stable = fmax(a->worst_stable, d / mx);
            a->n_stable++;
        }
    }
}

#define GRAD_TOL 1e-4 /* gradients, relative to each tensor's largest entry */

static void check_training_golden(const char *name) {
    char path[512];
    snprintf(path, sizeof path, "tests/golden/train/%s/batch.json", name);
    json_error_t je;
    json_t *g = json_load_file(path, 0, &je);
    if (!g) { test_skip("golden missing"); return; }
    const char *model_path = json_string_value(json_object_get(g, "model"));
    if (!file_exists(model_path) && !file_is_dir(model_path)) {
        test_skip("model not fetched");
        json_decref(g);
        return;
    }
    Err err = {0};
    Model *m;
    Lora *l;
    TrainState *ts;
    Batch b;
    REQUIRE(model_load(model_path, &m, &err) == 0);
    snprintf(path, sizeof path, "tests/golden/train/%s/adapter_init", name);
    REQUIRE(peft_load(m, path, &l, &err) == 0);
    REQUIRE(read_batch(g, &b) == 0);
    int max_len = 0;
    for (int s = 0; s < b.n; s++) max_len = b.len[s] > max_len ? b.len[s] : max_len;
    REQUIRE(train_state_new(m, l, max_len, TRAIN_PACK_ROWS, &ts, &err) == 0);

    double loss = batch_loss(ts, &b, true), ref_loss = json_real_value(json_object_get(g, "loss"));
    CHECK_NEAR(loss, ref_loss, 1e-5 * ref_loss);
    snprintf(path, sizeof path, "tests/golden/train/%s/grads.safetensors", name);
    double gw = worst_rel(l, l->grads, path);
    printf("    %s: loss %.7f (reference %.7f), gradients within %.2g of each tensor's max\n", name, loss, ref_loss, gw);
    CHECK(gw < GRAD_TOL);

    json_t *adam = json_object_get(g, "adamw"), *betas = json_object_get(adam, "betas"),
           *losses = json_object_get(g, "step_losses"), *norms = json_object_get(g, "grad_norm_before_clip");
    AdamWConfig cfg = {(float)json_number_value(json_object_get(adam, "lr")),
                       (float)json_number_value(json_array_get(betas, 0)),
                       (float)json_number_value(json_array_get(betas, 1)),
                       (float)json_number_value(json_object_get(adam, "eps")),
                       (float)json_number_value(json_object_get(adam, "weight_decay")),
                       (float)json_number_value(json_object_get(adam, "clip_grad_norm"))};
    int steps = (int)json_integer_value(json_object_get(adam, "steps"));
    for (int k = 1; k <= steps; k++) {
        if (k > 1) loss = batch_loss(ts, &b, true); /* step 1 reuses the gradient above */
        CHECK_NEAR(loss, json_real_value(json_array_get(losses, k - 1)), 1e-5);
        double norm = adamw_clip_grads(l, cfg.clip_norm);
        CHECK_NEAR(norm, json_real_value(json_array_get(norms, k - 1)), 1e-4 * norm);
        adamw_step(l, &cfg, cfg.lr, k);
    }
    double final = batch_loss(ts, &b, false);
    CHECK_NEAR(final, json_real_value(json_array_get(losses, steps)), 1e-5);
    snprintf(path, sizeof path, "tests/golden/train/%s/adapter_step5/adapter_model.safetensors", name);
    char grads_path[512];
    snprintf(grads_path, sizeof grads_path, "tests/golden/train/%s/grads.safetensors", name);
    double drift_lr = 0;
    for (int k = 1; k <= steps; k++) drift_lr += 2 * adam_step_bound(cfg.beta1, cfg.beta2, k);
    AdapterCheck ac = {GRAD_TOL, cfg.lr, 0, 0, 0, 0};
    visit_adapter_tensors(l, l->params, path, grads_path, visit_adapter, &ac);
    printf("    %s: %d AdamW steps, final loss %.7f; adapter: %d of %d elements with a stable direction within "
           "%.2g of the reference, all within %.2g lr (bound %.2g lr)\n",
           name, steps, final, ac.n_stable, ac.n_total, ac.worst_stable, ac.worst_abs_lr, drift_lr);
    CHECK(ac.worst_stable < ADAPTER_TOL);
    CHECK(ac.worst_abs_lr <= drift_lr * (1 + 1e-3));
    CHECK(ac.n_stable > ac.n_total / 2); /* the tight check covers most of the adapter */
    free_batch(&b);
    train_state_free(ts);
    lora_free(l);
    model_free(m);
    json_decref(g);
}

TEST(train_golden_stories260k) { check_training_golden("stories260K"); }
TEST(train_golden_tiny_qwen2) { check_training_golden("tiny_qwen2"); }

/* ---------------------------------------------------------------- DPO */

static void read_example(json_t *side, TrainExample *e) {
    json_t *ids = json_object_get(side, "ids"), *mask = json_object_get(side, "token_mask");
    e->len = (int)json_array_size(ids);
    e->ids = malloc(e->len * sizeof(int32_t));
    e->mask = malloc(e->len);
    e->n_trained = 0;
    for (int t = 0; t < e->len; t++) {
        e->ids[t] = (int32_t)json_integer_value(json_array_get(ids, t));
        e->mask[t] = (uint8_t)json_integer_value(json_array_get(mask, t));
        e->n_trained += t > 0 && e->mask[t];
    }
}

static void read_pairs(json_t *g, TrainSet *set) {
    json_t *pairs = json_object_get(g, "pairs");
    set->n = (int)json_array_size(pairs);
    set->ex = calloc(set->n, sizeof(TrainExample));
    set->rejected = calloc(set->n, sizeof(TrainExample));
    for (int i = 0; i < set->n; i++) {
        read_example(json_array_get(json_array_get(pairs, i), 0), &set->ex[i]);
        read_example(json_array_get(json_array_get(pairs, i), 1), &set->rejected[i]);
    }
}

static void free_pairs(TrainSet *set) {
    for (int i = 0; i < set->n; i++)
        free(set->ex[i].ids), free(set->ex[i].mask), free(set->rejected[i].ids), free(set->rejected[i].mask);
    free(set->ex);
    free(set->rejected);
}

static double pair_field_sum(json_t *infos, const char *key) {
    double sum = 0;
    for (size_t i = 0; i < json_array_size(infos); i++) sum += json_real_value(json_object_get(json_array_get(infos, i), key));
    return sum;
}

/* One DPO case: ref NULL (the base model) or the frozen adapter; steps > 0 also runs the AdamW
 * steps and compares the adapter after them. */
static void check_dpo_case(const char *name, Model *m, json_t *g, const char *adapter_dir, const char *c_name,
                           bool adapter_ref) {
    json_t *c = json_object_get(json_object_get(g, "cases"), c_name), *infos = json_object_get(c, "pairs_fp64");
    float beta = (float)json_real_value(json_object_get(g, "beta"));
    Err err = {0};
    Lora *l, *ref = NULL;
    TrainSet set;
    TrainState *ts;
    REQUIRE(peft_load(m, adapter_dir, &l, &err) == 0);
    if (adapter_ref) REQUIRE(peft_load(m, adapter_dir, &ref, &err) == 0);
    read_pairs(g, &set);
    int max_len = 2, idx[8];
    for (int i = 0; i < set.n; i++) {
        max_len = set.ex[i].len > max_len ? set.ex[i].len : max_len;
        max_len = set.rejected[i].len > max_len ? set.rejected[i].len : max_len;
        idx[i] = i;
    }
    REQUIRE(set.n <= 8 && train_state_new(m, l, max_len, TRAIN_PACK_ROWS, &ts, &err) == 0);
    TrainSeq seqs[16];
    double ref_logp[16];
    REQUIRE(dpo_reference_logps(ts, l, ref, &set, seqs, 2, ref_logp, &err) == 0);
    double worst_ref = 0;
    for (int i = 0; i < set.n; i++) {
        json_t *p = json_array_get(infos, i);
        worst_ref = fmax(worst_ref, fabs(ref_logp[2 * i] - json_real_value(json_object_get(p, "ref_logp_preferred"))));
        worst_ref = fmax(worst_ref, fabs(ref_logp[2 * i + 1] - json_real_value(json_object_get(p, "ref_logp_rejected"))));
    }
    CHECK(worst_ref < 1e-4); /* sums of ~20 fp32 log-probabilities of magnitude ~2 */

    DpoStats st = {0};
    REQUIRE(dpo_batch(ts, &set, idx, set.n, ref_logp, beta, true, 0, seqs, &st, &err) == 0);
    double loss = st.loss_sum / st.n_pairs, ref_loss = json_real_value(json_object_get(c, "loss"));
    /* the loss depends on beta x (differences of log-prob sums, each within 1e-4): 1e-5 is ample */
    CHECK_NEAR(loss, ref_loss, 1e-5);
    CHECK_NEAR(st.chosen_reward_sum, pair_field_sum(infos, "reward_preferred"), 1e-5);
    CHECK_NEAR(st.rejected_reward_sum, pair_field_sum(infos, "reward_rejected"), 1e-5);
    char path[512];
    snprintf(path, sizeof path, "tests/golden/dpo/%s/grads_%s.safetensors", name, c_name);
    double gw = worst_rel(l, l->grads, path);
    printf("    %s DPO (%s): loss %.7f (reference %.7f), reference log-probs within %.2g, gradients within %.2g of "
           "each tensor's max\n", name, c_name, loss, ref_loss, worst_ref, gw);
    CHECK(gw < GRAD_TOL);

    json_t *losses = json_object_get(c, "step_losses"), *norms = json_object_get(c, "grad_norm_before_clip");
    if (losses) {
        json_t *adam = json_object_get(g, "adamw"), *betas = json_object_get(adam, "betas");
        AdamWConfig cfg = {(float)json_number_value(json_object_get(adam, "lr")),
                           (float)json_number_value(json_array_get(betas, 0)),
                           (float)json_number_value(json_array_get(betas, 1)),
                           (float)json_number_value(json_object_get(adam, "eps")),
                           (float)json_number_value(json_object_get(adam, "weight_decay")),
                           (float)json_number_value(json_object_get(adam, "clip_grad_norm"))};
        int steps = (int)json_integer_value(json_object_get(adam, "steps"));
        for (int k = 1; k <= steps; k++) {
            if (k > 1) {
                st = (DpoStats){0};
                REQUIRE(dpo_batch(ts, &set, idx, set.n, ref_logp, beta, true, 0, seqs, &st, &err) == 0);
                loss = st.loss_sum / st.n_pairs;
            }
            CHECK_NEAR(loss, json_real_value(json_array_get(losses, k - 1)), 1e-5);
            double norm = adamw_clip_grads(l, cfg.clip_norm);
            CHECK_NEAR(norm, json_real_value(json_array_get(norms, k - 1)), 1e-4 * norm);
            adamw_step(l, &cfg, cfg.lr, k);
        }
        st = (DpoStats){0};
        REQUIRE(dpo_batch(ts, &set, idx, set.n, ref_logp, beta, false, 0, seqs, &st, &err) == 0);
        double final = st.loss_sum / st.n_pairs;
        CHECK_NEAR(final, json_real_value(json_array_get(losses, steps)), 1e-5);
        char grads_path[512];
        snprintf(path, sizeof path, "tests/golden/dpo/%s/adapter_step5/adapter_model.safetensors", name);
        snprintf(grads_path, sizeof grads_path, "tests/golden/dpo/%s/grads_%s.safetensors", name, c_name);
        double drift_lr = 0;
        for (int k = 1; k <= steps; k++) drift_lr += 2 * adam_step_bound(cfg.beta1, cfg.beta2, k);
        AdapterCheck ac = {GRAD_TOL, cfg.lr, 0, 0, 0, 0};
        visit_adapter_tensors(l, l->params, path, grads_path, visit_adapter, &ac);
        printf("    %s DPO: %d AdamW steps, final loss %.7f; adapter: %d of %d elements with a stable direction "
               "within %.2g of the reference, all within %.2g lr (bound %.2g lr)\n",
               name, steps, final, ac.n_stable, ac.n_total, ac.worst_stable, ac.worst_abs_lr, drift_lr);
        CHECK(ac.worst_stable < ADAPTER_TOL);
        CHECK(ac.worst_abs_lr <= drift_lr * (1 + 1e-3));
        CHECK(ac.n_stable > ac.n_total / 2);
    }
    free_pairs(&set);
    train_state_free(ts);
    lora_free(ref);
    lora_free(l);
}

static void check_dpo_golden(const char *name) {
    char path[512];
    snprintf(path, sizeof path, "tests/golden/dpo/%s/pairs.json", name);
    json_error_t je;
    json_t *g = json_load_file(path, 0, &je);
    if (!g) { test_skip("golden missing"); return; }
    const char *model_path = json_string_value(json_object_get(g, "model"));
    if (!file_exists(model_path) && !file_is_dir(model_path)) {
        test_skip("model not fetched");
        json_decref(g);
        return;
    }
    Err err = {0};
    Model *m;
    REQUIRE(model_load(model_path, &m, &err) == 0);
    const char *adapter_dir = json_string_value(json_object_get(g, "adapter_init"));
    check_dpo_case(name, m, g, adapter_dir, "base_ref", false);
    check_dpo_case(name, m, g, adapter_dir, "adapter_ref", true);
    model_free(m);
    json_decref(g);
}

TEST(dpo_golden_stories260k) { check_dpo_golden("stories260K"); }
TEST(dpo_golden_tiny_qwen2) { check_dpo_golden("tiny_qwen2"); }
