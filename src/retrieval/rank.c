/* rank.c: hybrid ranking of a store's chunks (retrieval.h): the cosine of every chunk in one
 * matrix-vector product over the contiguous (n, dim) block (op_linear: OpenBLAS sgemv), fused with
 * the BM25 scores of the full-text hits as a weighted sum of the two normalised scores, then the
 * best k kept in order, among the allowed ids when there is a list of them (a search's filters).
 * ids must be ascending (as store_vs_vectors gives them), and so must the allowed ids. */
#include <stdlib.h>

#include "../tensor/ops.h"
#include "retrieval.h"

typedef struct {
    int64_t id;
    double score;
} FtsHit;

static int by_id(const void *a, const void *b) {
    int64_t x = ((const FtsHit *)a)->id, y = ((const FtsHit *)b)->id;
    return x < y ? -1 : x > y;
}

static bool better(const RankHit *a, const RankHit *b) { return a->score > b->score || (a->score == b->score && a->id < b->id); }

int retrieval_rank(const float *vecs, const int64_t *ids, int n, int dim, const float *q, const int64_t *fts_ids,
                   const double *fts_scores, int n_fts, const int64_t *allow, int n_allow, int k, RankHit *out,
                   float *scratch) {
    if (n <= 0 || k <= 0) return 0;
    op_linear(scratch, q, vecs, NULL, 1, dim, n); /* (1, n) = q (1, dim) vecs^T */
    double best = 0;
    FtsHit *fts = malloc((size_t)(n_fts > 0 ? n_fts : 1) * sizeof *fts);
    if (!fts) n_fts = 0; /* out of memory: the cosine alone */
    for (int j = 0; j < n_fts; j++) {
        fts[j] = (FtsHit){fts_ids[j], fts_scores[j]};
        if (fts_scores[j] > best) best = fts_scores[j];
    }
    qsort(fts, (size_t)n_fts, sizeof *fts, by_id); /* ids are ascending too: one merge walk */
    int kept = 0;
    for (int i = 0, j = 0, a = 0; i < n; i++) {
        if (allow) { /* both ascending: one merge walk */
            while (a < n_allow && allow[a] < ids[i]) a++;
            if (a == n_allow || allow[a] != ids[i]) continue;
        }
        RankHit h = {ids[i], 0, scratch[i] > 0 ? scratch[i] : 0, 0};
        while (j < n_fts && fts[j].id < ids[i]) j++;
        if (j < n_fts && fts[j].id == ids[i] && best > 0 && fts[j].score > 0) h.lexical = (float)(fts[j].score / best);
        h.score = (float)(RETRIEVAL_SEMANTIC_WEIGHT * h.semantic + RETRIEVAL_LEXICAL_WEIGHT * h.lexical);
        if (kept == k && !better(&h, &out[k - 1])) continue;
        int at = kept < k ? kept++ : k - 1; /* insertion into the sorted top k */
        while (at > 0 && better(&h, &out[at - 1])) {
            out[at] = out[at - 1];
            at--;
        }
        out[at] = h;
    }
    free(fts);
    return kept;
}
