/* test_model_golden.c: the forward pass against the PyTorch reference (scripts/reference_logits.py)
 * on real models: final logits of a 64-token prompt within 1e-4 of the largest reference logit,
 * the argmax at every prompt position, and a 32-token greedy continuation, token for token. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "model/infer.h"
#include "model/sampler.h"
#include "test.h"

static const char *local_model(const char *rel) {
    /* goldens name models by their path under the repository (models/...) */
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s", rel);
    return file_exists(buf) || file_is_dir(buf) ? buf : NULL;
}

/* Compares the model at model_override (or the golden's own model) with golden `name`. */
static void check_golden(const char *name, const char *model_override) {
    char path[512];
    snprintf(path, sizeof path, "tests/golden/logits/%s.json", name);
    json_error_t je;
    json_t *g = json_load_file(path, 0, &je);
    if (!g) {
        test_skip("golden file missing");
        return;
    }
    const char *model_path = local_model(model_override ? model_override : json_string_value(json_object_get(g, "model")));
    if (!model_path) {
        test_skip("model not fetched (run scripts/fetch_models.sh)");
        json_decref(g);
        return;
    }
    Err err = {0};
    Model *m = NULL;
    if (model_load(model_path, &m, &err)) {
        test_fail(__FILE__, __LINE__, "%s", err.msg);
        json_decref(g);
        return;
    }
    json_t *prompt = json_object_get(g, "prompt_ids"), *greedy = json_object_get(g, "greedy_ids"),
           *argmaxes = json_object_get(g, "all_logits_argmax");
    int n = (int)json_array_size(prompt), n_greedy = (int)json_array_size(greedy), V = m->cfg.vocab;
    int32_t *ids = malloc((n + n_greedy) * sizeof(int32_t));
    for (int i = 0; i < n; i++) ids[i] = (int32_t)json_integer_value(json_array_get(prompt, i));
    InferState *st;
    CHECK(infer_new(m, n + n_greedy + 1, 2, &st, &err) == 0);
    float *all = malloc((size_t)n * V * sizeof(float));
    CHECK(infer_forward(st, ids, n, all, &err) == 0);

    char ref_path[512];
    snprintf(ref_path, sizeof ref_path, "tests/golden/logits/%s",
             json_string_value(json_object_get(g, "last_logits_file")));
    char *raw;
    size_t raw_len;
    REQUIRE(file_read_all(ref_path, 64u << 20, &raw, &raw_len, &err) == 0);
    REQUIRE(raw_len == (size_t)V * 4);
    const float *ref = (const float *)raw, *last = all + (size_t)(n - 1) * V;
    double max_ref = 0, max_diff = 0;
    for (int i = 0; i < V; i++) {
        if (fabs(ref[i]) > max_ref) max_ref = fabs(ref[i]);
        if (fabs(ref[i] - last[i]) > max_diff) max_diff = fabs(ref[i] - last[i]);
    }
    printf("    %s: max |logit diff| %.3g, relative to max |logit| %.3g\n", name, max_diff, max_diff / max_ref);
    CHECK(max_diff <= 1e-4 * max_ref);
    CHECK(memcmp(last, st->logits, (size_t)V * sizeof(float)) == 0);
    for (int t = 0; t < n && t < (int)json_array_size(argmaxes); t++)
        CHECK_EQ_INT(sampler_argmax(all + (size_t)t * V, V), json_integer_value(json_array_get(argmaxes, t)));

    /* greedy continuation, decoding one token at a time through the KV cache */
    for (int i = 0; i < n_greedy; i++) {
        int32_t next = sampler_argmax(st->logits, V);
        CHECK_EQ_INT(next, json_integer_value(json_array_get(greedy, i)));
        if (test_failed_now()) break;
        ids[n + i] = next;
        CHECK(infer_forward(st, &next, 1, NULL, &err) == 0);
    }
    free(raw);
    free(all);
    free(ids);
    infer_free(st);
    model_free(m);
    json_decref(g);
}

TEST(golden_logits_stories260k) { check_golden("stories260K", NULL); }
TEST(golden_logits_smollm2_q4_1) { check_golden("smollm2", NULL); }
TEST(golden_logits_tiny_qwen2) { check_golden("tiny_qwen2", NULL); }
TEST(golden_logits_tiny_qwen2_sharded) { check_golden("tiny_qwen2", "models/tiny-qwen2-sharded"); }
TEST(golden_logits_qwen25_coder_05b_q4_k_m) { check_golden("qwen25_coder_05b", NULL); }
