/* test_peft.c: adapters in the PEFT layout: a save/load round trip is exact, the files have the
 * PEFT key names and shapes (read back with the generic safetensors reader), an adapter changes
 * what inference computes exactly as the training forward does, and bad adapters are refused
 * with the file named. */
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "core/rng.h"
#include "model/infer.h"
#include "model/peft.h"
#include "model/safetensors.h"
#include "tensor/ops_backward.h"
#include "train/train_step.h"
#include "test.h"
#include "test_models.h"

static Lora *random_lora(const Model *m, unsigned targets) {
    LoraConfig cfg = {3, 6.0f, 0.0f, targets};
    Lora *l;
    Err err = {0};
    if (lora_new(m, &cfg, &l, &err)) return NULL;
    lora_init(l, 9);
    Rng r;
    rng_seed(&r, 10);
    for (size_t i = 0; i < l->n_params; i++) l->params[i] += (rng_uniform(&r) - 0.5f) * 0.1f;
    return l;
}

TEST(peft_round_trip_and_layout) {
    Model *m = test_load_stories260k();
    if (!m) return;
    Lora *l = random_lora(m, (1u << LORA_Q) | (1u << LORA_V) | (1u << LORA_DOWN));
    Err err = {0};
    REQUIRE(system("rm -rf /tmp/ftune_test_adapter") == 0);
    REQUIRE(peft_save(l, "/tmp/ftune_test_adapter", "stories260K.gguf", &err) == 0);
    Lora *back;
    REQUIRE(peft_load(m, "/tmp/ftune_test_adapter", &back, &err) == 0);
    CHECK_EQ_INT(back->n_params, l->n_params);
    CHECK(memcmp(back->params, l->params, l->n_params * sizeof(float)) == 0);
    CHECK_EQ_INT(back->cfg.targets, l->cfg.targets);
    CHECK_NEAR(back->scale, 2.0, 0);
    SafeTensors *st;
    REQUIRE(st_open("/tmp/ftune_test_adapter/adapter_model.safetensors", &st, &err) == 0);
    CHECK_EQ_INT(st_n_tensors(st), 5 * 3 * 2);
    const StTensor *a = st_find(st, "base_model.model.model.layers.4.mlp.down_proj.lora_A.weight");
    const StTensor *b = st_find(st, "base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight");
    REQUIRE(a && b);
    CHECK(a->shape[0] == 3 && a->shape[1] == 172); /* (r, in) */
    CHECK(b->shape[0] == 32 && b->shape[1] == 3);  /* (out, r): 4 kv heads x 8 */
    CHECK(st_find(st, "base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight") == NULL);
    st_close(st);
    char *cfg;
    size_t len;
    REQUIRE(file_read_all("/tmp/ftune_test_adapter/adapter_config.json", 1 << 20, &cfg, &len, &err) == 0);
    CHECK(strstr(cfg, "\"peft_type\": \"LORA\"") && strstr(cfg, "\"r\": 3") && strstr(cfg, "\"down_proj\""));
    free(cfg);
    lora_free(back);
    lora_free(l);
    model_free(m);
}

TEST(peft_adapter_changes_inference_like_training_forward) {
    Model *m = test_load_stories260k();
    if (!m) return;
    Lora *l = random_lora(m, LORA_ALL_TARGETS);
    static const int32_t ids[] = {1, 403, 407, 261, 378, 432, 383, 286, 261, 376};
    enum { N = sizeof ids / sizeof ids[0] };
    uint8_t mask[N];
    memset(mask, 1, N);
    Err err = {0};
    InferState *st;
    REQUIRE(infer_new(m, 32, 2, &st, &err) == 0);
    int V = m->cfg.vocab;
    float *base = malloc((size_t)N * V * sizeof(float)), *adapted = malloc((size_t)N * V * sizeof(float));
    REQUIRE(infer_forward(st, ids, N, base, &err) == 0);
    REQUIRE(infer_set_lora(st, l, &err) == 0);
    REQUIRE(infer_forward(st, ids, N, adapted, &err) == 0);
    double diff = 0;
    for (int i = 0; i < N * V; i++) diff = fmax(diff, fabs(base[i] - adapted[i]));
    CHECK(diff > 1e-2); /* the adapter matters */
    /* the loss from inference logits equals the training forward's loss with the same adapter */
    int targets[N];
    for (int t = 1; t < N; t++) targets[t - 1] = ids[t];
    double infer_loss = op_cross_entropy(adapted, targets, N - 1, V, 1.0f, NULL) / (N - 1);
    TrainState *ts;
    REQUIRE(train_state_new(m, l, 16, 0, &ts, &err) == 0);
    StepStats stats = {0};
    REQUIRE(train_sequence(ts, ids, mask, N, 1.0f, false, &stats, &err) == 0);
    CHECK_NEAR(stats.loss_sum / stats.n_tokens, infer_loss, 1e-5);
    /* decoding one token at a time with the adapter gives the same last logits */
    infer_reset(st);
    for (int t = 0; t < N; t++) REQUIRE(infer_forward(st, &ids[t], 1, NULL, &err) == 0);
    double dd = 0;
    for (int i = 0; i < V; i++) dd = fmax(dd, fabs(st->logits[i] - adapted[(size_t)(N - 1) * V + i]));
    CHECK(dd < 1e-4);
    train_state_free(ts);
    free(base);
    free(adapted);
    infer_free(st);
    lora_free(l);
    model_free(m);
}

TEST(peft_bad_adapters_are_refused) {
    Model *m = test_load_stories260k();
    if (!m) return;
    Err err = {0};
    Lora *l;
    CHECK(peft_load(m, "/nonexistent/adapter", &l, &err) == -1);
    CHECK(strstr(err.msg, "/nonexistent/adapter/adapter_config.json") != NULL);
    REQUIRE(system("rm -rf /tmp/ftune_bad_adapter && mkdir -p /tmp/ftune_bad_adapter && "
                   "echo '{\"peft_type\": \"LORA\", \"r\": 2, \"lora_alpha\": 4, \"target_modules\": [\"q_proj\"]}' "
                   "> /tmp/ftune_bad_adapter/adapter_config.json") == 0);
    CHECK(peft_load(m, "/tmp/ftune_bad_adapter", &l, &err) == -1); /* no safetensors */
    CHECK(strstr(err.msg, "adapter_model.safetensors") != NULL);
    Lora *wrong = random_lora(m, 1u << LORA_Q); /* rank 3 written, config says 2 */
    REQUIRE(peft_save(wrong, "/tmp/ftune_bad_adapter2", NULL, &err) == 0);
    REQUIRE(system("cp /tmp/ftune_bad_adapter/adapter_config.json /tmp/ftune_bad_adapter2/") == 0);
    CHECK(peft_load(m, "/tmp/ftune_bad_adapter2", &l, &err) == -1);
    CHECK(strstr(err.msg, "should be [2, 64]") != NULL);
    REQUIRE(system("echo '{\"peft_type\": \"LORA\", \"r\": 2, \"target_modules\": [\"embed_tokens\"]}' "
                   "> /tmp/ftune_bad_adapter/adapter_config.json") == 0);
    CHECK(peft_load(m, "/tmp/ftune_bad_adapter", &l, &err) == -1);
    CHECK(strstr(err.msg, "embed_tokens") != NULL);
    lora_free(wrong);
    model_free(m);
}
