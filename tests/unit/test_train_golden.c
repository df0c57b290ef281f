/* test_train_golden.c: LoRA training against the PyTorch reference (scripts/reference_train.py,
 * tests/golden/train/<model>/): with the reference's initial adapter (loaded through the PEFT
 * reader) and batch, the loss, every LoRA gradient (to 1e-4 of each tensor's largest entry), and
 * the losses of five clipped AdamW steps agree, and so does the adapter after them. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "model/peft.h"
#include "model/safetensors.h"
#include "train/adamw.h"
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

/* Loss of the batch and, with backward, its gradient accumulated in lora->grads. */
static double batch_loss(TrainState *ts, const Batch *b, bool backward) {
    StepStats st = {0};
    Err err = {0};
    for (int s = 0; s < b->n; s++)
        if (train_sequence(ts, b->ids[s], b->mask[s], b->len[s], 1.0f / b->n_trained, backward, &st, &err))
            test_fail(__FILE__, __LINE__, "%s", err.msg);
    return st.loss_sum / st.n_tokens;
}

/* Max |ours - ref| / max |ref| over each adapter tensor, worst over tensors. */
static double worst_rel(const Lora *l, const float *base, const char *st_path) {
    SafeTensors *st;
    Err err = {0};
    if (st_open(st_path, &st, &err)) {
        test_fail(__FILE__, __LINE__, "%s", err.msg);
        return 1e9;
    }
    double worst = 0;
    int n = 0;
    for (int layer = 0; layer < l->n_layer; layer++)
        for (int t = 0; t < LORA_N_TARGETS; t++) {
            const LoraPair *p = lora_pair(l, layer, t);
            for (int k = 0; k < 2 && p->A; k++) {
                char key[160];
                snprintf(key, sizeof key, "base_model.model.model.layers.%d.%s.%s.weight", layer, lora_target_module(t),
                         k ? "lora_B" : "lora_A");
                const StTensor *ref = st_find(st, key);
                if (!ref) {
                    test_fail(__FILE__, __LINE__, "%s: no %s", st_path, key);
                    continue;
                }
                float *r = malloc(ref->n_elements * sizeof(float));
                st_tensor_to_f32(ref, r, &err);
                const float *ours = base + ((k ? p->B : p->A) - l->params);
                double mx = 1e-12, diff = 0;
                for (uint64_t i = 0; i < ref->n_elements; i++) {
                    mx = fmax(mx, fabs(r[i]));
                    diff = fmax(diff, fabs(r[i] - ours[i]));
                }
                worst = fmax(worst, diff / mx);
                free(r);
                n++;
            }
        }
    st_close(st);
    if (n == 0) test_fail(__FILE__, __LINE__, "no tensors compared");
    return worst;
}

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
    REQUIRE(train_state_new(m, l, max_len, &ts, &err) == 0);

    double loss = batch_loss(ts, &b, true), ref_loss = json_real_value(json_object_get(g, "loss"));
    CHECK_NEAR(loss, ref_loss, 1e-5 * ref_loss);
    snprintf(path, sizeof path, "tests/golden/train/%s/grads.safetensors", name);
    double gw = worst_rel(l, l->grads, path);
    printf("    %s: loss %.7f (reference %.7f), gradients within %.2g of each tensor's max\n", name, loss, ref_loss, gw);
    CHECK(gw < 1e-4);

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
    double aw = worst_rel(l, l->params, path);
    printf("    %s: %d AdamW steps, final loss %.7f, adapter within %.2g of the reference\n", name, steps, final, aw);
    CHECK(aw < 1e-3);
    free_batch(&b);
    train_state_free(ts);
    lora_free(l);
    model_free(m);
    json_decref(g);
}

TEST(train_golden_stories260k) { check_training_golden("stories260K"); }
TEST(train_golden_tiny_qwen2) { check_training_golden("tiny_qwen2"); }
