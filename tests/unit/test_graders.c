/* test_graders.c: the string_check and text_similarity graders (src/eval/graders.h). The
 * similarity scores are compared with tests/golden/graders/cases.jsonl, written by
 * scripts/reference_graders.py from rapidfuzz, sacrebleu and rouge-score (the reference
 * implementations graders.h follows); string_check against hand-worked cases. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "eval/graders_internal.h"
#include "test.h"

#define GOLDEN_CASES "tests/golden/graders/cases.jsonl"
/* The goldens hold 17 significant digits; the C code repeats the references' floating-point
 * operations, so only libm's last bit could differ. */
#define GRADER_TOL 1e-12

static const char *const metric_names[] = {"fuzzy_match", "bleu",    "rouge_1", "rouge_2",
                                           "rouge_3",     "rouge_4", "rouge_5", "rouge_l"};

/* A heap string from a hex field (bytes that need not be UTF-8). */
static char *from_hex(const char *hex) {
    size_t n = strlen(hex) / 2;
    char *s = malloc(n + 1);
    for (size_t i = 0; s && i < n; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        s[i] = (char)v;
    }
    if (s) s[n] = 0;
    return s;
}

static char *text_field(json_t *row, const char *name, const char *hex_name) {
    json_t *hex = json_object_get(row, hex_name);
    if (hex) return from_hex(json_string_value(hex));
    const char *s = json_string_value(json_object_get(row, name));
    return s ? strdup(s) : NULL;
}

/* GRADERS_CASES may name a larger file written by scripts/reference_graders.py --random N --out F. */
TEST(test_graders_similarity_golden) {
    const char *path = getenv("GRADERS_CASES") ? getenv("GRADERS_CASES") : test_path(GOLDEN_CASES);
    FILE *f = fopen(path, "r");
    REQUIRE(f != NULL);
    char *line = NULL;
    size_t cap = 0;
    int n_cases = 0, lineno = 0;
    double worst = 0;
    while (getline(&line, &cap, f) > 0) {
        lineno++;
        json_error_t je;
        json_t *row = json_loads(line, 0, &je);
        if (!row) {
            test_fail(__FILE__, __LINE__, "%s:%d: %s", path, lineno, je.text);
            continue;
        }
        char *input = text_field(row, "input", "input_hex"), *reference = text_field(row, "reference", "reference_hex");
        CHECK(input && reference);
        for (size_t k = 0; input && reference && k < sizeof metric_names / sizeof metric_names[0]; k++) {
            SimilarityMetric m;
            CHECK(grader_similarity_metric(metric_names[k], &m) == 0);
            CHECK(strcmp(grader_similarity_metric_name(m), metric_names[k]) == 0);
            json_t *want = json_object_get(row, metric_names[k]);
            CHECK(json_is_number(want));
            double w = json_number_value(want), got = -1;
            if (w > 1.0) w = 1.0; /* graders.h: scores above 1 by rounding become 1 */
            Err err = {0};
            if (grader_text_similarity(m, input, reference, &got, &err) != 0) {
                test_fail(__FILE__, __LINE__, "%s:%d %s: %s", path, lineno, metric_names[k], err.msg);
                continue;
            }
            if (!(fabs(got - w) <= GRADER_TOL))
                test_fail(__FILE__, __LINE__, "%s:%d %s: got %.17g, want %.17g", path, lineno,
                          metric_names[k], got, w);
            if (fabs(got - w) > worst) worst = fabs(got - w);
            CHECK(got >= 0.0 && got <= 1.0);
        }
        free(input);
        free(reference);
        json_decref(row);
        n_cases++;
    }
    free(line);
    fclose(f);
    CHECK(n_cases >= 200);
    if (worst > 0) fprintf(stderr, "    largest difference from the references: %g\n", worst);
}

/* The bit-parallel LCS against its naive twin: lengths across 64-bit word edges, small and large
 * alphabets (many symbols per word), one side empty. */
TEST(test_graders_lcs_matches_ref) {
    Rng r;
    rng_seed(&r, 15);
    static const size_t lens[] = {0, 1, 2, 63, 64, 65, 127, 128, 129, 200, 333};
    static const uint32_t alphabets[] = {1, 2, 4, 26, 1000, 0x10FFFF};
    uint32_t *a = malloc(400 * sizeof *a), *b = malloc(400 * sizeof *b);
    REQUIRE(a && b);
    int n_checked = 0;
    for (size_t ia = 0; ia < sizeof lens / sizeof lens[0]; ia++)
        for (size_t ib = 0; ib < sizeof lens / sizeof lens[0]; ib += 2)
            for (size_t k = 0; k < sizeof alphabets / sizeof alphabets[0]; k++) {
                for (size_t i = 0; i < lens[ia]; i++) a[i] = (uint32_t)(rng_next(&r) % alphabets[k]);
                for (size_t i = 0; i < lens[ib]; i++) /* half the time a noisy copy of a */
                    b[i] = (k & 1) && i < lens[ia] && rng_next(&r) % 4 ? a[i] : (uint32_t)(rng_next(&r) % alphabets[k]);
                size_t fast = 0, ref = 1;
                Err err = {0};
                CHECK(grader_lcs(a, lens[ia], b, lens[ib], &fast, &err) == 0);
                CHECK(grader_lcs_ref(a, lens[ia], b, lens[ib], &ref, &err) == 0);
                if (fast != ref)
                    test_fail(__FILE__, __LINE__, "LCS %zu x %zu, alphabet %u: %zu != %zu", lens[ia], lens[ib],
                              alphabets[k], fast, ref);
                n_checked++;
            }
    free(a);
    free(b);
    CHECK(n_checked > 300);
}

TEST(test_graders_metric_names) {
    SimilarityMetric m;
    CHECK(grader_similarity_metric("rouge_l", &m) == 0 && m == SIM_ROUGE_L);
    CHECK(grader_similarity_metric("rouge_3", &m) == 0 && m == SIM_ROUGE_3);
    CHECK(grader_similarity_metric("fuzzy_match", &m) == 0 && m == SIM_FUZZY_MATCH);
    /* OpenAI's metrics that are not implemented: known, but refused */
    const char *unsupported[] = {"cosine", "gleu", "meteor"};
    for (int i = 0; i < 3; i++) {
        CHECK(grader_similarity_metric(unsupported[i], &m) == -1);
        CHECK(grader_similarity_metric_known(unsupported[i]) == 1);
    }
    CHECK(grader_similarity_metric("rouge_6", &m) == -1 && !grader_similarity_metric_known("rouge_6"));
    CHECK(grader_similarity_metric("BLEU", &m) == -1);
    CHECK(grader_similarity_metric(NULL, &m) == -1);
    CHECK(strcmp(grader_similarity_metric_name((SimilarityMetric)99), "?") == 0);

    double score = 7;
    Err err = {0};
    CHECK(grader_text_similarity((SimilarityMetric)99, "a", "a", &score, &err) == -1);
    CHECK_EQ_INT(err.code, ERR_ARG);
}

TEST(test_graders_text_limit) {
    size_t n = GRADER_TEXT_MAX_CHARS + 1;
    char *big = malloc(n + 1);
    REQUIRE(big != NULL);
    memset(big, 'a', n);
    big[n] = 0;
    double score = 7;
    Err err = {0};
    CHECK(grader_text_similarity(SIM_FUZZY_MATCH, big, "a", &score, &err) == -1);
    CHECK_EQ_INT(err.code, ERR_ARG);
    CHECK(strstr(err.msg, "input") != NULL);
    err = (Err){0};
    CHECK(grader_text_similarity(SIM_ROUGE_L, "a", big, &score, &err) == -1);
    CHECK(strstr(err.msg, "reference") != NULL);
    /* at the limit it works: LCS of 100000 'a's with "a" */
    big[n - 1] = 0;
    CHECK(grader_text_similarity(SIM_FUZZY_MATCH, big, "a", &score, &err) == 0);
    CHECK_NEAR(score, 2.0 / (double)(GRADER_TEXT_MAX_CHARS + 1), 1e-15);
    free(big);
}

static double check_op(const char *op_name, const char *input, const char *reference) {
    StringCheckOp op;
    double score = -1;
    Err err = {0};
    if (grader_string_check_op(op_name, &op) != 0) {
        test_fail(__FILE__, __LINE__, "operation %s not parsed", op_name);
        return -1;
    }
    if (strcmp(grader_string_check_op_name(op), op_name) != 0) test_fail(__FILE__, __LINE__, "name of %s", op_name);
    if (grader_string_check(op, input, reference, &score, &err) != 0)
        test_fail(__FILE__, __LINE__, "%s failed: %s", op_name, err.msg);
    return score;
}

TEST(test_graders_string_check) {
    /* eq / ne: exact bytes */
    CHECK(check_op("eq", "Paris", "Paris") == 1.0);
    CHECK(check_op("eq", "Paris", "paris") == 0.0);
    CHECK(check_op("eq", "Paris ", "Paris") == 0.0);
    CHECK(check_op("eq", "", "") == 1.0);
    CHECK(check_op("ne", "Paris", "paris") == 1.0);
    CHECK(check_op("ne", "Paris", "Paris") == 0.0);
    CHECK(check_op("eq", "caf\xc3\xa9", "cafe\xcc\x81") == 0.0); /* no Unicode normalisation */
    /* like: the input contains the reference, case-sensitive */
    CHECK(check_op("like", "The capital is Paris.", "Paris") == 1.0);
    CHECK(check_op("like", "The capital is PARIS.", "Paris") == 0.0);
    CHECK(check_op("like", "Paris", "The capital is Paris.") == 0.0); /* not the other way round */
    CHECK(check_op("like", "anything", "") == 1.0);
    CHECK(check_op("like", "", "") == 1.0);
    CHECK(check_op("like", "", "x") == 0.0);
    CHECK(check_op("like", "100%", "%") == 1.0);   /* no SQL wildcards */
    CHECK(check_op("like", "abc", "a%c") == 0.0);  /* '%' is literal */
    CHECK(check_op("like", "abc", "a_c") == 0.0);  /* '_' is literal */
    CHECK(check_op("like", "a.c", "a.c") == 1.0);
    CHECK(check_op("like", "abc", "a.c") == 0.0);  /* no regex either */
    /* ilike: contains, ignoring case (Unicode simple case folding) */
    CHECK(check_op("ilike", "The capital is PARIS.", "paris") == 1.0);
    CHECK(check_op("ilike", "the capital is paris", "Capital Is") == 1.0);
    CHECK(check_op("ilike", "Paris", "London") == 0.0);
    CHECK(check_op("ilike", "abc", "a.c") == 0.0);
    CHECK(check_op("ilike", "a(b)[c]*+?", "(B)[C]*+?") == 1.0); /* literal, not a pattern */
    CHECK(check_op("ilike", "\xc3\x89" "COLE", "\xc3\xa9" "cole") == 1.0); /* ÉCOLE / école */
    CHECK(check_op("ilike", "\xd0\x9f\xd0\xa0\xd0\x98\xd0\x92\xd0\x95\xd0\xa2", "\xd0\xbf\xd1\x80\xd0\xb8") == 1.0); /* ПРИВЕТ / при */
    CHECK(check_op("ilike", "5 \xe2\x84\xaa", "k") == 1.0); /* KELVIN SIGN folds to k */
    CHECK(check_op("ilike", "STRASSE", "stra\xc3\x9f" "e") == 0.0); /* simple folding: ß is not ss */
    CHECK(check_op("ilike", "x", "") == 1.0);
    CHECK(check_op("ilike", "caf\xe9" " au lait", "CAF\xef\xbf\xbd") == 1.0); /* invalid byte read as U+FFFD */

    StringCheckOp op;
    CHECK(grader_string_check_op("neq", &op) == -1);
    CHECK(grader_string_check_op("EQ", &op) == -1);
    CHECK(grader_string_check_op(NULL, &op) == -1);
    CHECK(strcmp(grader_string_check_op_name((StringCheckOp)9), "?") == 0);
    double score;
    Err err = {0};
    CHECK(grader_string_check((StringCheckOp)9, "a", "a", &score, &err) == -1);
    CHECK_EQ_INT(err.code, ERR_ARG);
}
