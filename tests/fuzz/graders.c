/* fuzz graders: random and mutated texts (fragments that stress the BLEU and ROUGE tokenizers,
 * invalid UTF-8, long runs) through every string_check operation and text_similarity metric
 * (src/eval/graders.h) under ASan/UBSan, on exact-size heap copies. Checked: every call succeeds
 * with a score in [0, 1] (string_check 0 or 1, eq and ne opposite, like implies ilike on valid
 * UTF-8); a text
 * scores 1 against itself on fuzzy_match and eq; fuzzy_match and the ROUGE F-measures do not
 * depend on the order of the two texts. Usage: build/fuzz_graders [ITERATIONS] (default 2000). */
#include <math.h>
#include <stdbool.h>

#include "fuzz_util.h"
#include "data/utf8_check.h"
#include "eval/graders.h"

#define SEED 0x67a0du
#define TEXT_MAX 1024

static const char *const fragments[] = {
    ".", ",", "-", "1", "4.5", "6,7", "a", "B", "word", "&", "&amp;", "&quot;", "&lt;", "<skipped>", "-\n", "\n",
    " ", "\xc2\xa0", "\xe2\x80\x83", "!", "'", "(", "/", "\xc3\xa9", "\xc3\x89", "\xc4\xb0", "\xe2\x84\xaa",
    "\xe6\x9d\xb1", "\xf0\x9f\x98\x80", "\xff", "\xe2\x82", "\xed\xa0\x80", "\xc0\xaf", "\xf4\x90\x80\x80", "x"};
#define N_FRAGMENTS (sizeof fragments / sizeof fragments[0])

static size_t random_text(Rng *r, unsigned char *buf) {
    size_t len = 0, n = rng_next(r) % 60;
    for (size_t i = 0; i < n; i++) {
        const char *f = fragments[rng_next(r) % N_FRAGMENTS];
        size_t fl = strlen(f), reps = rng_next(r) % 16 == 0 ? 1 + rng_next(r) % 40 : 1;
        for (size_t k = 0; k < reps && len + fl < TEXT_MAX; k++, len += fl) memcpy(buf + len, f, fl);
    }
    return fuzz_mutate(r, buf, len, TEXT_MAX - 1, 0);
}

/* An exact-size NUL-terminated heap copy (stops at an embedded NUL like any C string). */
static char *exact_copy(const unsigned char *buf, size_t len) {
    char *s = malloc(len + 1);
    if (!s) abort();
    memcpy(s, buf, len);
    s[len] = 0;
    return s;
}

static void fail(const char *what, const char *a, const char *b) {
    fprintf(stderr, "fuzz_graders: %s\n  input: %s\n  reference: %s\n", what, a, b);
    abort();
}

static double similarity(SimilarityMetric m, const char *a, const char *b) {
    double s = -1;
    Err err = {0};
    if (grader_text_similarity(m, a, b, &s, &err) != 0) fail(err.msg, a, b);
    if (!(s >= 0.0 && s <= 1.0)) fail("similarity out of [0, 1]", a, b);
    return s;
}

static double check(StringCheckOp op, const char *a, const char *b) {
    double s = -1;
    Err err = {0};
    if (grader_string_check(op, a, b, &s, &err) != 0) fail(err.msg, a, b);
    if (s != 0.0 && s != 1.0) fail("string_check not 0 or 1", a, b);
    return s;
}

int main(int argc, char **argv) {
    long iters = fuzz_iterations(argc, argv);
    Rng r;
    rng_seed(&r, SEED);
    unsigned char *ba = malloc(TEXT_MAX), *bb = malloc(TEXT_MAX);
    if (!ba || !bb) return 1;
    for (long i = 0; i < iters; i++) {
        size_t la = random_text(&r, ba), lb;
        if (rng_next(&r) % 3 == 0) { /* a variant of the input as reference */
            memcpy(bb, ba, la);
            lb = fuzz_mutate(&r, bb, la, TEXT_MAX - 1, 0);
        } else {
            lb = random_text(&r, bb);
        }
        char *a = exact_copy(ba, la), *b = exact_copy(bb, lb);
        for (int m = SIM_FUZZY_MATCH; m <= SIM_ROUGE_L; m++) {
            double ab = similarity((SimilarityMetric)m, a, b);
            if (m == SIM_BLEU) continue; /* BLEU's brevity penalty makes it one-sided */
            if (fabs(ab - similarity((SimilarityMetric)m, b, a)) > 1e-15) fail("not symmetric", a, b);
        }
        if (similarity(SIM_FUZZY_MATCH, a, a) != 1.0) fail("fuzzy_match of a text with itself is not 1", a, a);
        double eq = check(STRING_CHECK_EQ, a, b), ne = check(STRING_CHECK_NE, a, b);
        double like = check(STRING_CHECK_LIKE, a, b), ilike = check(STRING_CHECK_ILIKE, a, b);
        if (eq + ne != 1.0) fail("eq and ne agree", a, b);
        /* on invalid UTF-8 a byte prefix of a character can match under like, not under ilike */
        bool valid = utf8_find_invalid(a, strlen(a)) == strlen(a) && utf8_find_invalid(b, strlen(b)) == strlen(b);
        if (valid && like > ilike) fail("like without ilike", a, b);
        if (check(STRING_CHECK_EQ, a, a) != 1.0 || check(STRING_CHECK_ILIKE, a, a) != 1.0) fail("a text is not itself", a, a);
        free(a);
        free(b);
    }
    free(ba);
    free(bb);
    printf("fuzz_graders: %ld inputs\n", iters);
    return 0;
}
