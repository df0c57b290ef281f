/* nearest.c: a pool of chat examples embedded once, and the nearest ones to a query (see
 * nearest.h). */
#include "nearest.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#define NEAREST_BATCH 256 /* examples embedded per call */

char *nearest_text(json_t *messages) {
    size_t cap = 1, len = 0;
    for (size_t i = 0; i < json_array_size(messages); i++) {
        json_t *m = json_array_get(messages, i), *c = json_object_get(m, "content");
        const char *role = json_string_value(json_object_get(m, "role"));
        if (role && strcmp(role, "user") == 0 && json_is_string(c)) cap += json_string_length(c) + 1;
    }
    char *out = malloc(cap);
    if (!out) return NULL;
    out[0] = 0;
    for (size_t i = 0; i < json_array_size(messages); i++) {
        json_t *m = json_array_get(messages, i), *c = json_object_get(m, "content");
        const char *role = json_string_value(json_object_get(m, "role"));
        if (!role || strcmp(role, "user") != 0 || !json_is_string(c)) continue;
        if (len) out[len++] = '\n';
        memcpy(out + len, json_string_value(c), json_string_length(c));
        len += json_string_length(c);
        out[len] = 0;
    }
    return out;
}

/* The unit vectors of n example texts into out (n x dim). */
static int embed(const NearestIndex *ix, json_t *const *examples, long n, float *out, Err *err) {
    for (long s = 0; s < n; s += NEAREST_BATCH) {
        int b = (int)(n - s < NEAREST_BATCH ? n - s : NEAREST_BATCH);
        int32_t *ids[NEAREST_BATCH] = {0};
        int n_ids[NEAREST_BATCH];
        int rc = 0;
        FtError fe = {0};
        for (int i = 0; i < b && !rc; i++) {
            char *text = nearest_text(examples[s + i]);
            if (!text) {
                for (int j = 0; j < i; j++) ft_free(ids[j]);
                return err_set(err, ERR_NOMEM, "out of memory");
            }
            rc = ft_encoder_tokenize(ix->enc, text, strlen(text), &ids[i], &n_ids[i], &fe);
            free(text);
        }
        if (!rc) rc = ft_encoder_embed(ix->enc, (const int32_t *const *)ids, n_ids, b, ix->threads, out + s * ix->dim, &fe);
        for (int i = 0; i < b; i++) ft_free(ids[i]);
        if (rc) return err_set(err, fe.code, "embedding example %ld: %s", s + 1, fe.msg);
    }
    return 0;
}

int nearest_build(const char *encoder_dir, json_t *const *examples, long n, int threads, NearestIndex *out, Err *err) {
    memset(out, 0, sizeof *out);
    out->threads = threads;
    FtError fe = {0};
    if (ft_encoder_load(encoder_dir, &out->enc, &fe)) return err_set(err, fe.code, "%s", fe.msg);
    FtEncoderInfo info;
    ft_encoder_info(out->enc, &info);
    out->dim = info.dim;
    out->vecs = malloc((size_t)(n ? n : 1) * (size_t)info.dim * sizeof(float));
    out->examples = calloc((size_t)(n ? n : 1), sizeof *out->examples);
    if (!out->vecs || !out->examples) {
        nearest_free(out);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    for (long i = 0; i < n; i++) out->examples[i] = json_incref(examples[i]);
    out->n = n;
    if (embed(out, examples, n, out->vecs, err)) {
        nearest_free(out);
        return -1;
    }
    return 0;
}

void nearest_free(NearestIndex *ix) {
    ft_encoder_free(ix->enc);
    for (long i = 0; ix->examples && i < ix->n; i++) json_decref(ix->examples[i]);
    free(ix->examples);
    free(ix->vecs);
    memset(ix, 0, sizeof *ix);
}

int nearest_find(const NearestIndex *ix, json_t *messages, int k, long skip, long *out, Err *err) {
    float *q = malloc((size_t)ix->dim * sizeof *q), *sim = malloc((size_t)(ix->n ? ix->n : 1) * sizeof *sim);
    if (!q || !sim) {
        free(q);
        free(sim);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    int rc = embed(ix, &messages, 1, q, err);
    if (!rc && ix->n) /* sim = vecs q: one matrix-vector product over the pool */
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)ix->n, ix->dim, 1.0f, ix->vecs, ix->dim, q, 1, 0.0f, sim, 1);
    int found = 0;
    for (; !rc && found < k; found++) { /* k is small: a selection pass per pick */
        long best = -1;
        for (long i = 0; i < ix->n; i++) {
            if (i == skip) continue;
            bool taken = false;
            for (int j = 0; j < found && !taken; j++) taken = out[j] == i;
            if (!taken && (best < 0 || sim[i] > sim[best])) best = i;
        }
        if (best < 0) break;
        out[found] = best;
    }
    free(q);
    free(sim);
    return rc ? -1 : found;
}
