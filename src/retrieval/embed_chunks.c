/* embed_chunks.c: embeddings of token sequences of any length (retrieval.h): windows of the
 * model's length embedded in one batched call, then averaged per sequence (weighted by their
 * tokens) and normalised again. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "retrieval.h"

int retrieval_embed(const FtEncoder *enc, const int32_t *const *ids, const int *n_ids, int n, int n_threads,
                    float *out, Err *err) {
    FtEncoderInfo info;
    ft_encoder_info(enc, &info);
    int W = info.max_tokens, dim = info.dim;
    long total = 0;
    for (int i = 0; i < n; i++) total += n_ids[i] > 0 ? (n_ids[i] + W - 1) / W : 1;
    const int32_t **win = malloc((size_t)total * sizeof *win);
    int *win_n = malloc((size_t)total * sizeof *win_n);
    float *vecs = malloc((size_t)total * dim * sizeof *vecs);
    if (!win || !win_n || !vecs) {
        free(win), free(win_n), free(vecs);
        return err_set(err, ERR_NOMEM, "out of memory for %ld windows", total);
    }
    long k = 0;
    for (int i = 0; i < n; i++) {
        int at = 0;
        do {
            win[k] = ids[i] + at;
            win_n[k++] = n_ids[i] - at < W ? n_ids[i] - at : W;
            at += W;
        } while (at < n_ids[i]);
    }
    FtError fe = {0};
    int rc = ft_encoder_embed(enc, win, win_n, (int)total, n_threads, vecs, &fe);
    if (rc) err_set(err, fe.code, "%s", fe.msg);
    for (int i = 0, w = 0; !rc && i < n; i++) {
        float *o = out + (size_t)i * dim;
        memset(o, 0, (size_t)dim * sizeof *o);
        int windows = n_ids[i] > 0 ? (n_ids[i] + W - 1) / W : 1;
        for (int j = 0; j < windows; j++, w++) {
            float weight = win_n[w] > 0 ? (float)win_n[w] : 1.0f;
            for (int c = 0; c < dim; c++) o[c] += weight * vecs[(size_t)w * dim + c];
        }
        double ss = 0;
        for (int c = 0; c < dim; c++) ss += (double)o[c] * o[c];
        float inv = ss > 0 ? (float)(1.0 / sqrt(ss)) : 0.0f;
        for (int c = 0; c < dim; c++) o[c] *= inv;
    }
    free(win), free(win_n), free(vecs);
    return rc ? -1 : 0;
}
