/* bench_graders.c: the time of one text_similarity grade (src/eval/graders.h) per metric, for a
 * short answer (8 words), a paragraph (200 words) and a long text (5,000 words, about 30,000
 * characters; fuzzy_match's LCS is then about 0.3e9 word operations), the input a noisy copy of
 * the reference. Prints one JSON object per line: metric, words, grades/s, microseconds per grade.
 * The reference implementations' speed for comparison: scripts/reference_graders.py's libraries
 * timed by the same shapes in bench/graders_reference.py.
 * Usage: build/bench_graders [SECONDS_PER_CASE] (default 0.5). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/rng.h"
#include "eval/graders.h"

static const char *const vocab[] = {"the",     "customer", "was",   "charged", "twice",  "for",  "subscription",
                                    "refund",  "password", "reset", "link",    "email",  "3.14", "1,000",
                                    "state-of-the-art", "café", "東京", "&amp;", "(see",  "below).", "Yes!"};
#define N_VOCAB (sizeof vocab / sizeof vocab[0])

static char *make_text(Rng *r, int words, const char *copy_of) {
    size_t cap = (size_t)words * 24 + 1, len = 0;
    char *s = malloc(cap);
    const char *p = copy_of;
    for (int i = 0; i < words; i++) {
        const char *w;
        char buf[64];
        if (copy_of) { /* the next word of copy_of, replaced one time in five */
            size_t n = strcspn(p, " ");
            snprintf(buf, sizeof buf, "%.*s", (int)n, p);
            p += n + (p[n] == ' ');
            w = rng_next(r) % 5 ? buf : vocab[rng_next(r) % N_VOCAB];
        } else {
            w = vocab[rng_next(r) % N_VOCAB];
        }
        len += (size_t)snprintf(s + len, cap - len, "%s%s", i ? " " : "", w);
    }
    return s;
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 0.5;
    static const char *const metrics[] = {"fuzzy_match", "bleu", "rouge_1", "rouge_2", "rouge_l"};
    static const int sizes[] = {8, 200, 5000};
    Rng r;
    rng_seed(&r, 7);
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        char *ref = make_text(&r, sizes[k], NULL), *in = make_text(&r, sizes[k], ref);
        for (size_t m = 0; m < sizeof metrics / sizeof metrics[0]; m++) {
            SimilarityMetric metric;
            if (grader_similarity_metric(metrics[m], &metric) != 0) return 1;
            long n = 0;
            double t0 = clock_now_s(), t, score = 0;
            do {
                Err err = {0};
                if (grader_text_similarity(metric, in, ref, &score, &err) != 0) {
                    fprintf(stderr, "%s: %s\n", metrics[m], err.msg);
                    return 1;
                }
                n++;
                t = clock_now_s() - t0;
            } while (t < seconds);
            printf("{\"metric\": \"%s\", \"words\": %d, \"chars\": %zu, \"score\": %.6f, \"grades_per_s\": %.1f, "
                   "\"us_per_grade\": %.2f}\n",
                   metrics[m], sizes[k], strlen(ref), score, n / t, 1e6 * t / n);
        }
        free(ref);
        free(in);
    }
    return 0;
}
