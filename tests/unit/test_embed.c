/* test_embed.c: the WordPiece tokenizer and the BERT encoder against the committed reference
 * tests/golden/embeddings/all-MiniLM-L6-v2.json (scripts/golden_embeddings.py: PyPI tokenizers and
 * sentence-transformers on PyTorch), on models/all-MiniLM-L6-v2 (scripts/fetch_models.sh; the
 * tests skip without it). Token ids must be identical, decoded text too. Vectors: the reference's
 * own float32 noise (its largest difference from a float64 run of the same model, "fp32_error",
 * 1.9e-7 over these texts) is what two correct float32 implementations differ by when they sum in
 * other orders (OpenBLAS's sgemm against PyTorch's, K = 384 and 1536; erff; the pooling sum); the
 * test allows 25 times that, 5e-6 on any component of a unit vector, plus cosine > 1 - 1e-9. A
 * wrong weight, a missed LayerNorm bias or GELU in its tanh form moves components by 1e-4 or more. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/encoder.h"
#include "test.h"
#include "text/tokenizer.h"

#define GOLDEN "tests/golden/embeddings/all-MiniLM-L6-v2.json"
#define EMBED_MAX_ABS 5e-6
#define EMBED_MIN_COS (1 - 1e-9)

static const char *model_dir(void) {
    const char *p = test_model("models/all-MiniLM-L6-v2/model.safetensors", "all-MiniLM-L6-v2/model.safetensors");
    if (!p) {
        test_skip("models/all-MiniLM-L6-v2 not available (scripts/fetch_models.sh)");
        return NULL;
    }
    static char dir[4096];
    snprintf(dir, sizeof dir, "%s", p);
    *strrchr(dir, '/') = 0;
    return dir;
}

static json_t *golden_cases(void) {
    json_error_t je;
    json_t *root = json_load_file(test_path(GOLDEN), 0, &je);
    if (!root) test_fail(__FILE__, __LINE__, "%s: %s", GOLDEN, je.text);
    return root;
}

static int32_t *json_ids(json_t *arr, int *n) {
    *n = (int)json_array_size(arr);
    int32_t *ids = malloc(((size_t)*n + 1) * sizeof *ids);
    for (int i = 0; i < *n; i++) ids[i] = (int32_t)json_integer_value(json_array_get(arr, i));
    return ids;
}

TEST(embed_wordpiece_ids_equal_reference) {
    const char *dir = model_dir();
    if (!dir) return;
    json_t *root = golden_cases();
    REQUIRE(root);
    char path[4200];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    Tokenizer *t = NULL;
    Err err = {0};
    if (tok_load_hf(path, NULL, &t, &err)) test_fail(__FILE__, __LINE__, "%s", err.msg);
    REQUIRE(t);
    CHECK(strcmp(tok_model_name(t), "WordPiece") == 0);
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(root, "cases"), i, c) {
        const char *text = json_string_value(json_object_get(c, "text"));
        int n_ref, n;
        int32_t *ref = json_ids(json_object_get(c, "ids"), &n_ref), *ids = NULL;
        if (tok_encode(t, text, strlen(text), true, true, &ids, &n, &err)) test_fail(__FILE__, __LINE__, "%s", err.msg);
        bool same = ids && n == n_ref && !memcmp(ids, ref, (size_t)n * sizeof *ids);
        if (!same) test_fail(__FILE__, __LINE__, "case %zu (\"%.40s\"): %d ids, reference %d or different", i, text, n, n_ref);
        char *dec = NULL;
        if (tok_decode(t, ref, n_ref, false, &dec, NULL, &err)) test_fail(__FILE__, __LINE__, "%s", err.msg);
        const char *want = json_string_value(json_object_get(c, "decoded"));
        if (dec && strcmp(dec, want)) test_fail(__FILE__, __LINE__, "case %zu decodes to \"%s\", reference \"%s\"", i, dec, want);
        free(dec);
        free(ids);
        free(ref);
    }
    tok_free(t);
    json_decref(root);
}

/* max |a - b| and cosine of two n-vectors */
static void compare(const float *a, const float *b, int n, double *max_abs, double *cos) {
    double dot = 0, na = 0, nb = 0, mx = 0;
    for (int i = 0; i < n; i++) {
        dot += (double)a[i] * b[i];
        na += (double)a[i] * a[i];
        nb += (double)b[i] * b[i];
        if (fabs((double)a[i] - b[i]) > mx) mx = fabs((double)a[i] - b[i]);
    }
    *max_abs = mx;
    *cos = dot / sqrt(na * nb);
}

TEST(embed_vectors_match_sentence_transformers) {
    const char *dir = model_dir();
    if (!dir) return;
    json_t *root = golden_cases();
    REQUIRE(root);
    Encoder *e = NULL;
    Err err = {0};
    if (encoder_load(dir, &e, &err)) test_fail(__FILE__, __LINE__, "%s", err.msg);
    REQUIRE(e);
    int dim = e->cfg.n_embd;
    CHECK_EQ_INT(dim, json_integer_value(json_object_get(root, "dim")));
    CHECK_EQ_INT(e->cfg.max_seq, json_integer_value(json_object_get(root, "max_seq_length")));
    json_t *cases = json_object_get(root, "cases");
    int n = (int)json_array_size(cases);
    int32_t **ids = calloc((size_t)n, sizeof *ids);
    int *n_ids = calloc((size_t)n, sizeof *n_ids);
    float *ref = malloc((size_t)n * dim * sizeof(float)), *got = malloc((size_t)n * dim * sizeof(float));
    float *one = malloc((size_t)dim * sizeof(float));
    for (int i = 0; i < n; i++) {
        json_t *c = json_array_get(cases, i);
        const char *text = json_string_value(json_object_get(c, "text"));
        if (encoder_tokenize(e, text, strlen(text), &ids[i], &n_ids[i], &err)) test_fail(__FILE__, __LINE__, "%s", err.msg);
        /* the model sees [CLS] + the first max_seq - 2 text tokens + [SEP], as model_ids */
        int n_model;
        int32_t *model_ids = json_ids(json_object_get(c, "model_ids"), &n_model);
        int kept = n_ids[i] < encoder_max_text_tokens(e) ? n_ids[i] : encoder_max_text_tokens(e);
        CHECK_EQ_INT(kept + 2, n_model);
        CHECK(n_model >= 2 && model_ids[0] == e->cls_id && model_ids[n_model - 1] == e->sep_id &&
              !memcmp(model_ids + 1, ids[i], (size_t)(n_model - 2) * sizeof(int32_t)));
        free(model_ids);
        json_t *v = json_object_get(c, "embedding");
        REQUIRE((int)json_array_size(v) == dim);
        for (int k = 0; k < dim; k++) ref[(size_t)i * dim + k] = (float)json_real_value(json_array_get(v, k));
    }
    if (encoder_embed(e, (const int32_t *const *)ids, n_ids, n, 2, got, &err)) test_fail(__FILE__, __LINE__, "%s", err.msg);
    double worst = 0;
    for (int i = 0; i < n; i++) {
        double mx, cs;
        compare(got + (size_t)i * dim, ref + (size_t)i * dim, dim, &mx, &cs);
        if (mx > worst) worst = mx;
        if (mx > EMBED_MAX_ABS || cs < EMBED_MIN_COS)
            test_fail(__FILE__, __LINE__, "case %d: max abs error %.3g (bound %g), cosine 1 - %.3g", i, mx, EMBED_MAX_ABS,
                      1 - cs);
    }
    printf("    largest difference from sentence-transformers: %.3g\n", worst);
    /* an input alone gives its vector within the same bound (another packing, other sgemm shapes) */
    for (int i = 0; i < n; i += 5) {
        if (encoder_embed(e, (const int32_t *const *)&ids[i], &n_ids[i], 1, 1, one, &err))
            test_fail(__FILE__, __LINE__, "%s", err.msg);
        double mx, cs;
        compare(one, ref + (size_t)i * dim, dim, &mx, &cs);
        if (mx > EMBED_MAX_ABS) test_fail(__FILE__, __LINE__, "case %d alone: max abs error %.3g", i, mx);
    }
    int32_t bad = e->cfg.n_vocab;
    const int32_t *bad_ids = &bad;
    int one_id = 1;
    CHECK(encoder_embed(e, &bad_ids, &one_id, 1, 1, one, &err) == -1 && err.code == ERR_ARG &&
          strstr(err.msg, "outside the vocabulary"));
    for (int i = 0; i < n; i++) free(ids[i]);
    free(ids), free(n_ids), free(ref), free(got), free(one);
    encoder_free(e);
    json_decref(root);
}

TEST(embed_load_refuses_what_it_cannot_run) {
    Encoder *e = NULL;
    Err err = {0};
    CHECK(encoder_load("tests/no-such-dir", &e, &err) == -1 && err.code == ERR_IO && !e);
    /* a decoder folder: config.json says llama */
    const char *tiny = "models/tiny-qwen2";
    if (access(tiny, R_OK) == 0) {
        CHECK(encoder_load(tiny, &e, &err) == -1 && err.code == ERR_UNSUPPORTED && strstr(err.msg, "model_type") && !e);
    }
}
