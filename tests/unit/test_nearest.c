/* test_nearest.c: the nearest examples of a pool by sentence embeddings (retrieval/nearest.c) on
 * the real all-MiniLM-L6-v2: each paraphrased question finds the pool example it paraphrases first;
 * k orders by similarity and stops at the pool's size; skip leaves an example out; an example's
 * text is its user turns only. Skipped without models/all-MiniLM-L6-v2. */
#include <stdlib.h>
#include <string.h>

#include "retrieval/nearest.h"
#include "test.h"

static json_t *chat(const char *user, const char *answer) {
    return json_pack("[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}]", "role", "system", "content", "Label the ticket.", "role",
                     "user", "content", user, "role", "assistant", "content", answer);
}

TEST(nearest_examples_by_embedding) {
    const char *dir = test_model("models/all-MiniLM-L6-v2", "all-MiniLM-L6-v2");
    if (!dir) {
        test_skip("models/all-MiniLM-L6-v2 is missing (scripts/fetch_models.sh)");
        return;
    }
    static const char *const POOL[] = {"I was charged twice for my subscription this month.",
                                       "The app crashes every time I open the settings page.",
                                       "How do I change the email address on my account?",
                                       "My card payment was declined at the shop.",
                                       "Where is my parcel? It has not arrived yet."};
    static const char *const QUERY[] = {"Why did you bill me two times this month?",
                                        "Opening settings makes the application crash.",
                                        "I want to update the e-mail linked to my profile.",
                                        "The store refused my card when I tried to pay.",
                                        "My package still hasn't been delivered."};
    json_t *pool[5];
    for (int i = 0; i < 5; i++) pool[i] = chat(POOL[i], "x");
    NearestIndex ix;
    Err err = {0};
    int rc = nearest_build(dir, pool, 5, 1, &ix, &err);
    for (int i = 0; i < 5; i++) json_decref(pool[i]);
    if (rc) {
        test_fail(__FILE__, __LINE__, "nearest_build: %s", err.msg);
        return;
    }
    for (int q = 0; q < 5; q++) {
        json_t *m = chat(QUERY[q], "?");
        long out[8];
        int n = nearest_find(&ix, m, 1, -1, out, &err);
        CHECK(n == 1 && out[0] == q);
        n = nearest_find(&ix, m, 8, q, out, &err); /* without itself: the other four, none twice */
        CHECK_EQ_INT(n, 4);
        for (int i = 0; i < n; i++) CHECK(out[i] != q);
        json_decref(m);
    }
    char *text = nearest_text(ix.examples[0]);
    CHECK(text && strcmp(text, POOL[0]) == 0); /* user turns only */
    free(text);
    nearest_free(&ix);
}
