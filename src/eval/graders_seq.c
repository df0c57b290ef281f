/* graders_seq.c: sequence tools the text_similarity metrics share (graders_internal.h): the
 * length of a longest common subsequence, token interning and clipped n-gram overlap counts.
 * The LCS is the bit-parallel algorithm of Allison and Dix (1986) / Hyyro (2004): V starts all
 * ones over the positions of a; for each symbol c of b, U = V & Match(c), V = (V + U) | (V - U);
 * the LCS is the number of zero bits of V. Multi-word additions and subtractions are done one
 * 64-bit word of a at a time over all of b, keeping the carry and the borrow into the next word
 * per position of b, so that only the match masks of 64 symbols are set at once (memory O(na + nb)
 * whatever the alphabet); symbols are renamed to dense ranks first so that a mask is one array
 * access. No I/O, no global state. */
#include <stdlib.h>
#include <string.h>

#include "graders_internal.h"

#define LCS_WORD_BITS 64

static int u32_cmp(const void *x, const void *y) {
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
    return a < b ? -1 : a > b;
}

/* Renames the symbols of s[0..n) to their ranks in the sorted distinct alphabet[0..k). */
static void to_ranks(const uint32_t *s, size_t n, const uint32_t *alphabet, size_t k, uint32_t *ranks) {
    for (size_t i = 0; i < n; i++) {
        size_t lo = 0, hi = k; /* alphabet[lo] == s[i] at the end: s[i] is in it */
        while (hi - lo > 1) {
            size_t mid = lo + (hi - lo) / 2;
            if (alphabet[mid] <= s[i]) lo = mid;
            else hi = mid;
        }
        ranks[i] = (uint32_t)lo;
    }
}

int grader_lcs(const uint32_t *a, size_t na, const uint32_t *b, size_t nb, size_t *lcs, Err *err) {
    if (na > nb) { /* fewer words of a: a the shorter */
        const uint32_t *t = a;
        a = b, b = t;
        size_t tn = na;
        na = nb, nb = tn;
    }
    *lcs = 0;
    if (na == 0) return 0;
    /* symbols renamed to dense ranks so that a match mask is one array access */
    uint32_t *alphabet = malloc(2 * (na + nb) * sizeof *alphabet);
    uint64_t *masks = calloc(na + nb, sizeof *masks);
    unsigned char *carry = calloc(2 * nb, 1); /* carry and borrow into the current word, per b[j] */
    if (!alphabet || !masks || !carry) {
        free(alphabet);
        free(masks);
        free(carry);
        return err_set(err, ERR_NOMEM, "out of memory for a longest common subsequence");
    }
    uint32_t *ra = alphabet + na + nb, *rb = ra + na;
    unsigned char *borrow = carry + nb;
    memcpy(alphabet, a, na * sizeof *a);
    memcpy(alphabet + na, b, nb * sizeof *b);
    qsort(alphabet, na + nb, sizeof *alphabet, u32_cmp);
    size_t k = 0;
    for (size_t i = 0; i < na + nb; i++)
        if (k == 0 || alphabet[i] != alphabet[k - 1]) alphabet[k++] = alphabet[i];
    to_ranks(a, na, alphabet, k, ra);
    to_ranks(b, nb, alphabet, k, rb);
    size_t total = 0;
    for (size_t w0 = 0; w0 < na; w0 += LCS_WORD_BITS) {
        size_t bits = na - w0 < LCS_WORD_BITS ? na - w0 : LCS_WORD_BITS;
        for (size_t i = 0; i < bits; i++) masks[ra[w0 + i]] |= (uint64_t)1 << i;
        uint64_t v = ~(uint64_t)0;
        for (size_t j = 0; j < nb; j++) {
            uint64_t u = v & masks[rb[j]];
            uint64_t x = v + u;
            uint64_t sum = x + carry[j];
            unsigned char c_out = (x < v) | (sum < x);
            uint64_t d = v - u;
            uint64_t diff = d - borrow[j];
            unsigned char b_out = (v < u) | (d < borrow[j]);
            v = sum | diff;
            carry[j] = c_out;
            borrow[j] = b_out;
        }
        for (size_t i = 0; i < bits; i++) masks[ra[w0 + i]] = 0;
        uint64_t low = bits == LCS_WORD_BITS ? ~(uint64_t)0 : (((uint64_t)1 << bits) - 1);
        total += (size_t)__builtin_popcountll(~v & low);
    }
    free(alphabet);
    free(masks);
    free(carry);
    *lcs = total;
    return 0;
}

int grader_lcs_ref(const uint32_t *a, size_t na, const uint32_t *b, size_t nb, size_t *lcs, Err *err) {
    size_t *row = calloc(nb + 1, sizeof *row); /* row[j]: LCS of a[0..i) and b[0..j) */
    if (!row) return err_set(err, ERR_NOMEM, "out of memory for a longest common subsequence");
    for (size_t i = 1; i <= na; i++) {
        size_t diag = 0; /* row[j - 1] of the previous i */
        for (size_t j = 1; j <= nb; j++) {
            size_t up = row[j];
            row[j] = a[i - 1] == b[j - 1] ? diag + 1 : (up > row[j - 1] ? up : row[j - 1]);
            diag = up;
        }
    }
    *lcs = row[nb];
    free(row);
    return 0;
}

/* ---- interning -------------------------------------------------------------------------------- */

static int token_cmp(const GraderToken *x, const GraderToken *y) {
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    for (size_t i = 0; i < x->len; i++)
        if (x->p[i] != y->p[i]) return x->p[i] < y->p[i] ? -1 : 1;
    return 0;
}

static int token_index_cmp(const void *pa, const void *pb, void *ctx) {
    const GraderToken *toks = ctx;
    return token_cmp(&toks[*(const size_t *)pa], &toks[*(const size_t *)pb]);
}

int grader_tokens_intern(const GraderToken *toks, size_t n, uint32_t *ids, Err *err) {
    if (n == 0) return 0;
    size_t *order = malloc(n * sizeof *order);
    if (!order) return err_set(err, ERR_NOMEM, "out of memory interning %zu tokens", n);
    for (size_t i = 0; i < n; i++) order[i] = i;
    qsort_r(order, n, sizeof *order, token_index_cmp, (void *)toks);
    uint32_t id = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && token_cmp(&toks[order[i - 1]], &toks[order[i]]) != 0) id++;
        ids[order[i]] = id;
    }
    free(order);
    return 0;
}

/* ---- n-grams ---------------------------------------------------------------------------------- */

typedef struct {
    uint32_t id[GRADER_NGRAM_MAX]; /* unused tail zero */
} NGram;

static int ngram_cmp(const void *pa, const void *pb) {
    const NGram *x = pa, *y = pb;
    for (int i = 0; i < GRADER_NGRAM_MAX; i++)
        if (x->id[i] != y->id[i]) return x->id[i] < y->id[i] ? -1 : 1;
    return 0;
}

/* The sorted n-grams of s (*count of them, possibly 0; *out NULL then). */
static int ngrams_sorted(const uint32_t *s, size_t n, int order, NGram **out, size_t *count, Err *err) {
    *out = NULL;
    *count = n >= (size_t)order ? n - (size_t)order + 1 : 0;
    if (*count == 0) return 0;
    NGram *g = calloc(*count, sizeof *g);
    if (!g) return err_set(err, ERR_NOMEM, "out of memory counting %zu n-grams", *count);
    for (size_t i = 0; i < *count; i++) memcpy(g[i].id, s + i, (size_t)order * sizeof *s);
    qsort(g, *count, sizeof *g, ngram_cmp);
    *out = g;
    return 0;
}

int grader_ngram_matches(const uint32_t *a, size_t na, const uint32_t *b, size_t nb, int order,
                         size_t *matches, Err *err) {
    if (order < 1 || order > GRADER_NGRAM_MAX) return err_set(err, ERR_ARG, "n-gram order %d out of range", order);
    NGram *ga, *gb;
    size_t ca, cb;
    *matches = 0;
    if (ngrams_sorted(a, na, order, &ga, &ca, err) != 0) return -1;
    if (ngrams_sorted(b, nb, order, &gb, &cb, err) != 0) {
        free(ga);
        return -1;
    }
    size_t i = 0, j = 0, m = 0;
    while (i < ca && j < cb) {
        int c = ngram_cmp(&ga[i], &gb[j]);
        if (c < 0) {
            i++;
        } else if (c > 0) {
            j++;
        } else { /* equal runs: count each side, keep the smaller */
            size_t ri = i + 1, rj = j + 1;
            while (ri < ca && ngram_cmp(&ga[ri], &ga[i]) == 0) ri++;
            while (rj < cb && ngram_cmp(&gb[rj], &gb[j]) == 0) rj++;
            m += ri - i < rj - j ? ri - i : rj - j;
            i = ri, j = rj;
        }
    }
    free(ga);
    free(gb);
    *matches = m;
    return 0;
}
