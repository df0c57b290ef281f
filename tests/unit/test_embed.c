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
#include "tensor/precision.h"
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

/* The golden cases' text tokens (ids, n_ids: heap) and reference vectors (ref (n, dim)), checking
 * the model's view of each ([CLS] + the first max_seq - 2 text tokens + [SEP]) against model_ids. */
typedef struct {
    int n, dim;
    int32_t **ids;
    int *n_ids;
    float *ref;
} Cases;

static void cases_load(const Encoder *e, json_t *root, Cases *cs) {
    Err err = {0};
    json_t *cases = json_object_get(root, "cases");
    int n = (int)json_array_size(cases), dim = e->cfg.n_embd;
    *cs = (Cases){n, dim, calloc((size_t)n, sizeof(int32_t *)), calloc((size_t)n, sizeof(int)),
                  malloc((size_t)n * dim * sizeof(float))};
    for (int i = 0; i < n; i++) {
        json_t *c = json_array_get(cases, i);
        const char *text = json_string_value(json_object_get(c, "text"));
        if (encoder_tokenize(e, text, strlen(text), &cs->ids[i], &cs->n_ids[i], &err))
            test_fail(__FILE__, __LINE__, "%s", err.msg);
        int n_model;
        int32_t *model_ids = json_ids(json_object_get(c, "model_ids"), &n_model);
        int kept = cs->n_ids[i] < encoder_max_text_tokens(e) ? cs->n_ids[i] : encoder_max_text_tokens(e);
        CHECK_EQ_INT(kept + 2, n_model);
        CHECK(n_model >= 2 && model_ids[0] == e->cls_id && model_ids[n_model - 1] == e->sep_id &&
              !memcmp(model_ids + 1, cs->ids[i], (size_t)(n_model - 2) * sizeof(int32_t)));
        free(model_ids);
        json_t *v = json_object_get(c, "embedding");
        REQUIRE((int)json_array_size(v) == dim);
        for (int k = 0; k < dim; k++) cs->ref[(size_t)i * dim + k] = (float)json_real_value(json_array_get(v, k));
    }
}

static void cases_free(Cases *cs) {
    for (int i = 0; i < cs->n; i++) free(cs->ids[i]);
    free(cs->ids), free(cs->n_ids), free(cs->ref);
}

/* got (n, dim) against the references: the largest component difference and the smallest cosine
 * over the cases into *max_abs, *min_cos; fails naming the first case beyond either bound. */
static void check_vectors(const Cases *cs, const float *got, double bound_abs, double bound_cos, double *max_abs,
                          double *min_cos) {
    *max_abs = 0, *min_cos = 1;
    for (int i = 0; i < cs->n; i++) {
        double mx, c;
        compare(got + (size_t)i * cs->dim, cs->ref + (size_t)i * cs->dim, cs->dim, &mx, &c);
        *max_abs = fmax(*max_abs, mx), *min_cos = fmin(*min_cos, c);
        if (mx > bound_abs || c < bound_cos)
            test_fail(__FILE__, __LINE__, "case %d: max abs error %.3g (bound %g), cosine 1 - %.3g (bound 1 - %.3g)", i,
                      mx, bound_abs, 1 - c, 1 - bound_cos);
    }
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
    CHECK(e->precision == PRECISION_FP32);
    Cases cs;
    cases_load(e, root, &cs);
    int n = cs.n;
    float *got = malloc((size_t)n * dim * sizeof(float)), *one = malloc((size_t)dim * sizeof(float));
    if (encoder_embed(e, (const int32_t *const *)cs.ids, cs.n_ids, n, 2, got, &err)) test_fail(__FILE__, __LINE__, "%s", err.msg);
    double worst, min_cos;
    check_vectors(&cs, got, EMBED_MAX_ABS, EMBED_MIN_COS, &worst, &min_cos);
    printf("    largest difference from sentence-transformers: %.3g\n", worst);
    /* an input alone gives its vector within the same bound (another packing, other sgemm shapes) */
    for (int i = 0; i < n; i += 5) {
        if (encoder_embed(e, (const int32_t *const *)&cs.ids[i], &cs.n_ids[i], 1, 1, one, &err))
            test_fail(__FILE__, __LINE__, "%s", err.msg);
        double mx, c;
        compare(one, cs.ref + (size_t)i * dim, dim, &mx, &c);
        if (mx > EMBED_MAX_ABS) test_fail(__FILE__, __LINE__, "case %d alone: max abs error %.3g", i, mx);
    }
    int32_t bad = e->cfg.n_vocab;
    const int32_t *bad_ids = &bad;
    int one_id = 1;
    CHECK(encoder_embed(e, &bad_ids, &one_id, 1, 1, one, &err) == -1 && err.code == ERR_ARG &&
          strstr(err.msg, "outside the vocabulary"));
    cases_free(&cs);
    free(got), free(one);
    encoder_free(e);
    json_decref(root);
}

/* At bf16 (encoder_set_precision) the 36 layer products round both operands to bf16, unit roundoff
 * b = 2^-8: each product x.w = sum_k x_k w_k then carries relative errors within +-b on each
 * factor, uniformly spread, so a standard deviation of sqrt(2/3) b = 3.2e-3 on each term; with
 * terms of both signs that is about 3.2e-3 of the result, whatever the reduction length K (K
 * enters the worst case, (2b + b^2) sum_k |x_k w_k| plus the fp32 accumulation's (K + 2) u
 * sum_k |x_k w_k|, u = 2^-24, which test_matmul_bf16.c holds each product kernel to). Four products follow each other in a layer (q/k/v,
 * output, FF1, FF2), 24 in the 6 layers: relative errors adding as independent give about
 * sqrt(24) x 3.2e-3 = 1.6e-2 on the hidden states, so 1 - cosine about (1.6e-2)^2 / 2 = 1.2e-4 and
 * components of a unit 384-vector (rms 0.051) off by about 8e-4. The bounds allow 4x (1 - cos) and
 * 12x the component error (a maximum over 384): 5e-4 and 1e-2. A weight product that is not the
 * layer's (transposed, another layer's, a dropped bias) moves the cosine by 1e-2 or more. Against
 * the fp32 path the same bounds hold (it is within 5e-6 of the references). On AMX tiles each
 * input's vector has the same bits alone as within the batch (every product is row-invariant
 * there; attention, LayerNorm and pooling are per sequence or per row). */
#define EMBED_BF16_MAX_ABS 1e-2
#define EMBED_BF16_MIN_COS (1 - 5e-4)

TEST(embed_bf16_within_bound_of_fp32_and_references) {
    const char *dir = model_dir();
    if (!dir) return;
    Precision got_p;
    Err err = {0};
    if (precision_resolve(PRECISION_BF16, &got_p, NULL, &err)) {
        test_skip(err.msg); /* e.g. an AVX2-only CPU: the encoder runs fp32 there */
        return;
    }
    json_t *root = golden_cases();
    REQUIRE(root);
    Encoder *e = NULL;
    if (encoder_load(dir, &e, &err)) test_fail(__FILE__, __LINE__, "%s", err.msg);
    REQUIRE(e);
    Cases cs;
    cases_load(e, root, &cs);
    int n = cs.n, dim = cs.dim;
    float *f32 = malloc((size_t)n * dim * sizeof(float)), *b16 = malloc((size_t)n * dim * sizeof(float));
    float *one = malloc((size_t)dim * sizeof(float));
    REQUIRE(encoder_embed(e, (const int32_t *const *)cs.ids, cs.n_ids, n, 2, f32, &err) == 0);
    char why[PRECISION_WHY_MAX];
    REQUIRE(encoder_set_precision(e, PRECISION_BF16, why, &err) == 0);
    CHECK(e->precision == PRECISION_BF16 && e->bf16 && e->layers[0].q_w.bf16);
    REQUIRE(encoder_embed(e, (const int32_t *const *)cs.ids, cs.n_ids, n, 2, b16, &err) == 0);
    double mx, mc;
    check_vectors(&cs, b16, EMBED_BF16_MAX_ABS, EMBED_BF16_MIN_COS, &mx, &mc);
    printf("    %s: against sentence-transformers max abs %.3g, cosine >= %.7f (1 - %.2g)\n", why, mx, mc, 1 - mc);
    memcpy(cs.ref, f32, (size_t)n * dim * sizeof(float)); /* now against this build's fp32 path */
    check_vectors(&cs, b16, EMBED_BF16_MAX_ABS, EMBED_BF16_MIN_COS, &mx, &mc);
    printf("    bf16 against fp32: max abs %.3g, cosine >= %.7f\n", mx, mc);
    bool invariant = e->layers[0].q_w.amx_tiles != NULL;
    if (!invariant) printf("    (no AMX tiles here: alone-versus-batch checked within the bound, not bit for bit)\n");
    for (int i = 0; i < n; i += 4) {
        REQUIRE(encoder_embed(e, (const int32_t *const *)&cs.ids[i], &cs.n_ids[i], 1, 1, one, &err) == 0);
        double a, c;
        compare(one, b16 + (size_t)i * dim, dim, &a, &c);
        if (invariant ? memcmp(one, b16 + (size_t)i * dim, (size_t)dim * sizeof(float)) != 0 : a > EMBED_BF16_MAX_ABS)
            test_fail(__FILE__, __LINE__, "case %d alone differs from its vector in the batch by %.3g", i, a);
    }
    /* back to fp32: the copies are dropped and the reference path's vectors come back bit for bit */
    REQUIRE(encoder_set_precision(e, PRECISION_FP32, NULL, &err) == 0);
    CHECK(e->precision == PRECISION_FP32 && !e->bf16 && !e->layers[0].q_w.bf16 && !e->layers[0].ff2_w.amx_tiles);
    REQUIRE(encoder_embed(e, (const int32_t *const *)cs.ids, cs.n_ids, n, 2, b16, &err) == 0);
    CHECK(memcmp(b16, f32, (size_t)n * dim * sizeof(float)) == 0);
    cases_free(&cs);
    free(f32), free(b16), free(one);
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
