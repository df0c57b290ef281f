/* test_ftune_precision.c: precision through the public API (ftune.h): parsing, the model's
 * description, and a prompt of 24 tokens decoded at fp32 and at bf16 on stories260K. The bf16
 * logits must differ from fp32 (the bf16 products really ran) and stay close: every product
 * carries a relative rounding of at most 2^-7 (both operands to 8 significant bits), so with the
 * fp32 norms between layers the logits of this 5-layer model move by a few of 2^-7 of their scale;
 * the check allows 2^-4 of the largest logit. Skips the bf16 half where the CPU or build has no
 * bf16 path, saying why. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ftune.h"
#include "test.h"

enum { N_PROMPT = 24 };

/* The logits of every position of the prompt (N_PROMPT, vocab) at model m's current precision. */
static int decode_prompt(FtModel *m, float *logits, FtError *err) {
    FtEngine *e = NULL;
    FtCache *c = NULL;
    int slot, rc = -1;
    int32_t tok[N_PROMPT], pos[N_PROMPT], seq[N_PROMPT];
    uint8_t want[N_PROMPT];
    for (int i = 0; i < N_PROMPT; i++) tok[i] = 1 + (i * 37) % 500, pos[i] = i, want[i] = 1;
    if (!ft_engine_new(m, N_PROMPT, 64, 2, &e, err) && !ft_cache_new(m, 1, 64, &c, err) &&
        !ft_cache_seq_alloc(c, &slot, err)) {
        for (int i = 0; i < N_PROMPT; i++) seq[i] = slot;
        FtBatch b = {N_PROMPT, tok, pos, seq, NULL, want, 0};
        rc = ft_engine_decode(e, c, &b, NULL, 0, logits, err);
    }
    ft_cache_free(c);
    ft_engine_free(e);
    return rc;
}

TEST(ftune_api_precision) {
    FtPrecision p;
    FtError err = {0};
    CHECK(ft_precision_parse("fp32", &p, &err) == 0 && p == FT_PRECISION_FP32);
    CHECK(ft_precision_parse("half", &p, &err) == -1 && err.code == FT_ERR_ARG && strstr(err.msg, "'half'"));
    const char *path = test_model("models/stories260K/stories260K.gguf", "stories260K.gguf");
    if (!path) {
        test_skip("stories260K.gguf not available");
        return;
    }
    FtModel *m = NULL;
    REQUIRE(ft_model_load(path, &m, &err) == 0);
    FtModelInfo info;
    ft_model_info(m, &info);
    CHECK(strcmp(info.precision, "fp32") == 0);
    CHECK(ft_model_set_precision(m, (FtPrecision)7, NULL, &err) == -1 && err.code == FT_ERR_ARG);
    char why[FT_PRECISION_WHY_MAX];
    REQUIRE(ft_model_set_precision(m, FT_PRECISION_AUTO, why, &err) == 0);
    ft_model_info(m, &info);
    printf("    auto: %s\n", why);
    CHECK(strncmp(why, info.precision, 4) == 0);

    int V = 512;
    float *f32 = malloc((size_t)N_PROMPT * V * sizeof(float)), *b16 = malloc((size_t)N_PROMPT * V * sizeof(float));
    REQUIRE(ft_model_set_precision(m, FT_PRECISION_FP32, NULL, &err) == 0);
    REQUIRE(decode_prompt(m, f32, &err) == 0);
    if (ft_model_set_precision(m, FT_PRECISION_BF16, why, &err)) {
        CHECK(err.code == FT_ERR_UNSUPPORTED);
        test_skip(err.msg);
    } else {
        ft_model_info(m, &info);
        CHECK(strcmp(info.precision, "bf16") == 0);
        REQUIRE(decode_prompt(m, b16, &err) == 0);
        double worst = 0, scale = 0;
        for (int i = 0; i < N_PROMPT * V; i++) {
            worst = fmax(worst, fabs(f32[i] - b16[i]));
            scale = fmax(scale, fabs(f32[i]));
        }
        printf("    bf16 vs fp32 logits: worst |difference| %.3g, %.4f of the largest logit %.3g\n", worst,
               worst / scale, scale);
        CHECK(worst > 0);
        CHECK(worst <= scale / 16);
    }
    free(f32), free(b16);
    ft_model_free(m);
}
