/* test_sampler.c: greedy, seeded determinism, top-k/top-p restrictions and parameter checks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/sampler.h"
#include "test.h"

TEST(sampler_greedy_takes_argmax) {
    Sampler s;
    SamplerParams p = {0, 1, 0, 1};
    REQUIRE(sampler_init(&s, 4, &p, NULL) == 0);
    float logits[4] = {0.1f, 2.0f, 2.0f, -1};
    CHECK_EQ_INT(sampler_sample(&s, logits), 1); /* lowest index on ties */
    sampler_free(&s);
}

/* sampler_argmax gives the plain loop's answer on vocabularies with ties, -0 and +0, -inf, NaN
 * (first and elsewhere) and lengths around its 16-lane blocks. */
TEST(sampler_argmax_matches_ref) {
    enum { MAXN = 300 };
    float x[MAXN];
    uint64_t st = 7;
    int bad = 0, cases = 0;
    for (int trial = 0; trial < 400; trial++)
        for (int n = 1; n <= MAXN; n += 1 + trial % 37) {
            for (int i = 0; i < n; i++) {
                st = st * 6364136223846793005ull + 1442695040888963407ull;
                int r = (int)(st >> 58); /* 0 .. 63: few distinct values, so ties are common */
                x[i] = r < 2 ? -INFINITY : r == 2 ? NAN : r == 3 ? -0.0f : (float)(r % 9) - 4;
            }
            if (trial % 5 == 0) x[0] = NAN;
            if (trial % 7 == 0) x[n - 1] = 5;
            bad += sampler_argmax(x, n) != sampler_argmax_ref(x, n);
            cases++;
        }
    CHECK(cases > 1000);
    CHECK_EQ_INT(bad, 0);
}

static void draw(uint64_t seed, float temp, float top_p, int top_k, int32_t *out, int n) {
    Sampler s;
    SamplerParams p = {temp, top_p, top_k, seed};
    sampler_init(&s, 6, &p, NULL);
    for (int i = 0; i < n; i++) {
        float logits[6] = {1, 2, 3, 2.5f, 0, -1};
        out[i] = sampler_sample(&s, logits);
    }
    sampler_free(&s);
}

TEST(sampler_same_seed_same_draws) {
    int32_t a[200], b[200], c[200];
    draw(42, 1.0f, 1, 0, a, 200);
    draw(42, 1.0f, 1, 0, b, 200);
    draw(43, 1.0f, 1, 0, c, 200);
    CHECK(memcmp(a, b, sizeof a) == 0);
    CHECK(memcmp(a, c, sizeof a) != 0);
    int seen[6] = {0};
    for (int i = 0; i < 200; i++) seen[a[i]]++;
    CHECK(seen[2] > seen[1]); /* the most likely token is drawn most */
    CHECK(seen[0] + seen[1] + seen[3] + seen[4] + seen[5] > 0);
}

TEST(sampler_top_k_and_top_p_restrict_candidates) {
    int32_t a[300];
    draw(7, 2.0f, 1, 2, a, 300);
    for (int i = 0; i < 300; i++) CHECK(a[i] == 2 || a[i] == 3);
    /* probabilities at T=1: token 2 has ~0.42, token 3 ~0.26; top_p 0.5 keeps exactly {2, 3} */
    draw(7, 1.0f, 0.5f, 0, a, 300);
    int n2 = 0;
    for (int i = 0; i < 300; i++) {
        CHECK(a[i] == 2 || a[i] == 3);
        n2 += a[i] == 2;
    }
    CHECK(n2 > 150);
    draw(7, 1.0f, 0.01f, 0, a, 50);
    for (int i = 0; i < 50; i++) CHECK_EQ_INT(a[i], 2);
}

TEST(sampler_rejects_bad_parameters) {
    Sampler s;
    Err err = {0};
    SamplerParams p = {-1, 1, 0, 0};
    CHECK(sampler_init(&s, 4, &p, &err) == -1);
    CHECK(strstr(err.msg, "temperature") != NULL);
    SamplerParams q = {1, 0, 0, 0};
    CHECK(sampler_init(&s, 4, &q, &err) == -1);
    CHECK(strstr(err.msg, "top_p") != NULL);
}
