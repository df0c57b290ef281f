/* graders_bleu.c: sentence BLEU exactly as sacrebleu 2.x's sentence_bleu(input, [reference])
 * computes it with its defaults (graders.h), divided by 100: the 13a tokenizer (written out here
 * as loops over code points, one per regular expression of sacrebleu's TokenizerRegexp, each
 * with re.sub's leftmost, non-overlapping matching), clipped n-gram counts up to 4-grams, the
 * brevity penalty, 'exp' smoothing and the effective order, with the same floating-point
 * operations in the same order. It does not lowercase and takes a single reference. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graders_internal.h"

#define BLEU_MAX_ORDER 4
/* The longest growth of one rewriting pass below: rule 1 turns one character into three. */
#define BLEU_PASS_GROWTH 3

typedef struct {
    uint32_t *cp; /* heap */
    size_t n;
} CpBuf;

static bool is_digit(uint32_t c) { return c >= '0' && c <= '9'; }
static bool is_period_comma(uint32_t c) { return c == '.' || c == ','; }

/* sacrebleu's first rule: [\{-\~\[-\` -\&\(-\+\:-\@\/] gets a space on each side. */
static bool is_split_punct(uint32_t c) {
    return (c >= 0x7B && c <= 0x7E) || (c >= 0x5B && c <= 0x60) || (c >= 0x20 && c <= 0x26) ||
           (c >= 0x28 && c <= 0x2B) || (c >= 0x3A && c <= 0x40) || c == 0x2F;
}

/* Python's str.replace(pat, rep) in place, for an ASCII rep no longer than pat. */
static void replace_all(CpBuf *b, const char *pat, const char *rep) {
    size_t np = strlen(pat), nr = strlen(rep), o = 0, i = 0;
    while (i < b->n) {
        size_t k = 0;
        while (k < np && i + k < b->n && b->cp[i + k] == (unsigned char)pat[k]) k++;
        if (k == np) {
            for (size_t r = 0; r < nr; r++) b->cp[o++] = (unsigned char)rep[r];
            i += np;
        } else {
            b->cp[o++] = b->cp[i++];
        }
    }
    b->n = o;
}

static bool contains(const CpBuf *b, uint32_t c) {
    for (size_t i = 0; i < b->n; i++)
        if (b->cp[i] == c) return true;
    return false;
}

/* One rewriting pass (rule 1..4 of TokenizerRegexp) from b into a new buffer that replaces it. */
static int rewrite(CpBuf *b, int rule, Err *err) {
    uint32_t *o = malloc((BLEU_PASS_GROWTH * b->n + 1) * sizeof *o);
    if (!o) return err_set(err, ERR_NOMEM, "out of memory tokenizing for bleu");
    const uint32_t *s = b->cp;
    size_t n = b->n, k = 0, i = 0;
    while (i < n) {
        uint32_t c = s[i], next = i + 1 < n ? s[i + 1] : 0;
        bool pair = i + 1 < n;
        if (rule == 1 && is_split_punct(c)) { /* ' \1 ' */
            o[k++] = ' ', o[k++] = c, o[k++] = ' ';
            i++;
        } else if (rule == 2 && pair && !is_digit(c) && is_period_comma(next)) { /* '\1 \2 ' */
            o[k++] = c, o[k++] = ' ', o[k++] = next, o[k++] = ' ';
            i += 2;
        } else if (rule == 3 && pair && is_period_comma(c) && !is_digit(next)) { /* ' \1 \2' */
            o[k++] = ' ', o[k++] = c, o[k++] = ' ', o[k++] = next;
            i += 2;
        } else if (rule == 4 && pair && is_digit(c) && next == '-') { /* '\1 \2 ' */
            o[k++] = c, o[k++] = ' ', o[k++] = next, o[k++] = ' ';
            i += 2;
        } else {
            o[k++] = c;
            i++;
        }
    }
    free(b->cp);
    b->cp = o;
    b->n = k;
    return 0;
}

/* sacrebleu's BLEU._preprocess_segment with tokenize='13a' on text[0..n): *keep (heap, caller
 * frees) gets the tokenized line, tokens separated by whitespace. */
static int tokenize_13a(const uint32_t *text, size_t n, CpBuf *keep, Err *err) {
    while (n > 0 && grader_is_py_space(text[n - 1])) n--; /* sent.rstrip() */
    CpBuf b = {malloc((n + 2) * sizeof(uint32_t)), 0};
    if (!b.cp) return err_set(err, ERR_NOMEM, "out of memory tokenizing for bleu");
    memcpy(b.cp, text, n * sizeof *text);
    b.n = n;
    replace_all(&b, "<skipped>", "");
    replace_all(&b, "-\n", "");
    replace_all(&b, "\n", " ");
    if (contains(&b, '&')) {
        replace_all(&b, "&quot;", "\"");
        replace_all(&b, "&amp;", "&");
        replace_all(&b, "&lt;", "<");
        replace_all(&b, "&gt;", ">");
    }
    memmove(b.cp + 1, b.cp, b.n * sizeof *b.cp); /* f' {line} ' */
    b.cp[0] = ' ';
    b.cp[b.n + 1] = ' ';
    b.n += 2;
    for (int rule = 1; rule <= 4; rule++)
        if (rewrite(&b, rule, err) != 0) {
            free(b.cp);
            return -1;
        }
    *keep = b;
    return 0;
}

/* Appends the whitespace-separated tokens of b to toks[*nt..]; toks has room for b->n / 2 + 1. */
static void split_tokens(const CpBuf *b, GraderToken *toks, size_t *nt) {
    size_t i = 0;
    while (i < b->n) {
        while (i < b->n && grader_is_py_space(b->cp[i])) i++;
        size_t start = i;
        while (i < b->n && !grader_is_py_space(b->cp[i])) i++;
        if (i > start) toks[(*nt)++] = (GraderToken){b->cp + start, i - start};
    }
}

/* BLEU.compute_bleu for one segment, with smooth_method='exp' and effective_order=True. */
static double bleu_from_counts(const size_t *correct, const size_t *total, size_t sys_len, size_t ref_len) {
    double bp = 1.0;
    if (sys_len < ref_len) bp = sys_len > 0 ? exp(1.0 - (double)ref_len / (double)sys_len) : 0.0;
    bool any = false;
    for (int n = 0; n < BLEU_MAX_ORDER; n++) any |= correct[n] != 0;
    if (!any) return 0.0;
    double precisions[BLEU_MAX_ORDER] = {0}, smooth_mteval = 1.0;
    int eff_order = BLEU_MAX_ORDER;
    for (int n = 1; n <= BLEU_MAX_ORDER; n++) {
        if (total[n - 1] == 0) break;
        eff_order = n;
        if (correct[n - 1] == 0) {
            smooth_mteval *= 2;
            precisions[n - 1] = 100.0 / (smooth_mteval * (double)total[n - 1]);
        } else {
            precisions[n - 1] = 100.0 * (double)correct[n - 1] / (double)total[n - 1];
        }
    }
    double sum = 0.0;
    for (int n = 0; n < eff_order; n++) sum += precisions[n] == 0.0 ? -9999999999.0 : log(precisions[n]);
    return bp * exp(sum / eff_order);
}

int grader_bleu(const uint32_t *in, size_t n_in, const uint32_t *ref, size_t n_ref, double *score, Err *err) {
    CpBuf hb = {0}, rb = {0};
    GraderToken *toks = NULL;
    uint32_t *ids = NULL;
    int rc = -1;
    if (tokenize_13a(in, n_in, &hb, err) != 0 || tokenize_13a(ref, n_ref, &rb, err) != 0) goto done;
    size_t cap = hb.n / 2 + rb.n / 2 + 2, nh = 0, nt = 0;
    toks = malloc(cap * sizeof *toks);
    ids = malloc(cap * sizeof *ids);
    if (!toks || !ids) {
        err_set(err, ERR_NOMEM, "out of memory tokenizing for bleu");
        goto done;
    }
    split_tokens(&hb, toks, &nt);
    nh = nt;
    split_tokens(&rb, toks, &nt);
    if (grader_tokens_intern(toks, nt, ids, err) != 0) goto done;
    size_t correct[BLEU_MAX_ORDER], total[BLEU_MAX_ORDER], nr = nt - nh;
    for (int n = 1; n <= BLEU_MAX_ORDER; n++) {
        if (grader_ngram_matches(ids, nh, ids + nh, nr, n, &correct[n - 1], err) != 0) goto done;
        total[n - 1] = nh >= (size_t)n ? nh - (size_t)n + 1 : 0;
    }
    *score = bleu_from_counts(correct, total, nh, nr) / 100.0;
    rc = 0;
done:
    free(hb.cp);
    free(rb.cp);
    free(toks);
    free(ids);
    return rc;
}
