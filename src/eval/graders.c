/* graders.c: the graders' public entry points (graders.h): operation and metric names,
 * string_check, the text_similarity dispatch, fuzzy_match, and the UTF-8 decoding every metric
 * reads its text through. BLEU and ROUGE live in graders_bleu.c and graders_rouge.c, the shared
 * sequence tools (LCS, n-grams, interning) in graders_seq.c. No I/O, no global state. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "../data/utf8_check.h"
#include "graders_internal.h"

#define CP_REPLACEMENT 0xFFFDu

/* ---- names ------------------------------------------------------------------------------------ */

static const char *const string_check_names[] = {"eq", "ne", "like", "ilike"};

static const struct {
    const char *name;
    SimilarityMetric metric;
} similarity_names[] = {
    {"fuzzy_match", SIM_FUZZY_MATCH}, {"bleu", SIM_BLEU},       {"rouge_1", SIM_ROUGE_1},
    {"rouge_2", SIM_ROUGE_2},         {"rouge_3", SIM_ROUGE_3}, {"rouge_4", SIM_ROUGE_4},
    {"rouge_5", SIM_ROUGE_5},         {"rouge_l", SIM_ROUGE_L},
};
#define N_SIMILARITY (sizeof similarity_names / sizeof similarity_names[0])

/* OpenAI's metrics that ftune does not implement. */
static const char *const similarity_unsupported[] = {"cosine", "gleu", "meteor"};

int grader_string_check_op(const char *name, StringCheckOp *op) {
    for (int i = 0; name && i < 4; i++)
        if (strcmp(name, string_check_names[i]) == 0) {
            *op = (StringCheckOp)i;
            return 0;
        }
    return -1;
}

const char *grader_string_check_op_name(StringCheckOp op) {
    return (unsigned)op < 4 ? string_check_names[op] : "?";
}

int grader_similarity_metric(const char *name, SimilarityMetric *m) {
    for (size_t i = 0; name && i < N_SIMILARITY; i++)
        if (strcmp(name, similarity_names[i].name) == 0) {
            *m = similarity_names[i].metric;
            return 0;
        }
    return -1;
}

int grader_similarity_metric_known(const char *name) {
    SimilarityMetric m;
    if (grader_similarity_metric(name, &m) == 0) return 1;
    for (size_t i = 0; name && i < sizeof similarity_unsupported / sizeof similarity_unsupported[0]; i++)
        if (strcmp(name, similarity_unsupported[i]) == 0) return 1;
    return 0;
}

const char *grader_similarity_metric_name(SimilarityMetric m) {
    for (size_t i = 0; i < N_SIMILARITY; i++)
        if (similarity_names[i].metric == m) return similarity_names[i].name;
    return "?";
}

/* ---- text ------------------------------------------------------------------------------------- */

int grader_utf8_decode(const char *s, const char *what, uint32_t **out, size_t *n, Err *err) {
    size_t len = strlen(s);
    /* every code point takes at most 4 bytes, so more bytes than this means too many code points */
    if (len / 4 > GRADER_TEXT_MAX_CHARS)
        return err_set(err, ERR_ARG, "%s is longer than %d characters", what, GRADER_TEXT_MAX_CHARS);
    uint32_t *cp = malloc((len + 1) * sizeof *cp);
    if (!cp) return err_set(err, ERR_NOMEM, "out of memory decoding the %s", what);
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, k = 0;
    while (i < len) {
        unsigned char c = u[i];
        if (c < 0x80) {
            cp[k++] = c;
            i++;
            continue;
        }
        size_t need;
        uint32_t v;
        unsigned char lo = 0x80, hi = 0xBF; /* the allowed range of the next byte */
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1, v = c & 0x1Fu;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2, v = c & 0x0Fu;
            if (c == 0xE0) lo = 0xA0; /* no overlong forms */
            if (c == 0xED) hi = 0x9F; /* no surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3, v = c & 0x07u;
            if (c == 0xF0) lo = 0x90; /* no overlong forms */
            if (c == 0xF4) hi = 0x8F; /* nothing past U+10FFFF */
        } else {
            cp[k++] = CP_REPLACEMENT;
            i++;
            continue;
        }
        size_t got = 1;
        while (got <= need && i + got < len && u[i + got] >= lo && u[i + got] <= hi) {
            v = v << 6 | (u[i + got] & 0x3Fu);
            lo = 0x80, hi = 0xBF;
            got++;
        }
        /* a complete sequence, or one U+FFFD for the maximal ill-formed prefix */
        cp[k++] = got > need ? v : CP_REPLACEMENT;
        i += got;
    }
    if (k > GRADER_TEXT_MAX_CHARS) {
        free(cp);
        return err_set(err, ERR_ARG, "%s is longer than %d characters", what, GRADER_TEXT_MAX_CHARS);
    }
    *out = cp;
    *n = k;
    return 0;
}

bool grader_is_py_space(uint32_t c) {
    if (c <= 0x20) return c == 0x20 || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F);
    if (c < 0x85) return false;
    return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
           c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* ---- string_check ----------------------------------------------------------------------------- */

/* 1 if input contains reference ignoring case (Unicode simple case folding), 0 if not, -1 on error. */
static int contains_caseless(const char *input, const char *reference, Err *err) {
    size_t in_len, ref_len;
    char *in = utf8_repair(input, strlen(input), &in_len);
    char *ref = utf8_repair(reference, strlen(reference), &ref_len);
    if (!in || !ref) {
        free(in);
        free(ref);
        return err_set(err, ERR_NOMEM, "out of memory in string_check ilike");
    }
    int rc = -1, errcode;
    PCRE2_SIZE erroff;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)ref, ref_len, PCRE2_LITERAL | PCRE2_CASELESS | PCRE2_UTF,
                                   &errcode, &erroff, NULL);
    pcre2_match_data *md = re ? pcre2_match_data_create_from_pattern(re, NULL) : NULL;
    if (!re) {
        PCRE2_UCHAR msg[120];
        pcre2_get_error_message(errcode, msg, sizeof msg);
        err_set(err, ERR_ARG, "string_check ilike: reference not usable at byte %zu: %s", (size_t)erroff, msg);
    } else if (!md) {
        err_set(err, ERR_NOMEM, "out of memory in string_check ilike");
    } else {
        int m = pcre2_match(re, (PCRE2_SPTR)in, in_len, 0, 0, md, NULL);
        if (m >= 0) rc = 1;
        else if (m == PCRE2_ERROR_NOMATCH) rc = 0;
        else err_set(err, ERR_NOMEM, "string_check ilike: match failed (PCRE2 error %d)", m);
    }
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    free(in);
    free(ref);
    return rc;
}

int grader_string_check(StringCheckOp op, const char *input, const char *reference, double *score, Err *err) {
    int hit;
    switch (op) {
    case STRING_CHECK_EQ: hit = strcmp(input, reference) == 0; break;
    case STRING_CHECK_NE: hit = strcmp(input, reference) != 0; break;
    case STRING_CHECK_LIKE: hit = strstr(input, reference) != NULL; break;
    case STRING_CHECK_ILIKE:
        hit = contains_caseless(input, reference, err);
        if (hit < 0) return -1;
        break;
    default: return err_set(err, ERR_ARG, "unknown string_check operation %d", (int)op);
    }
    *score = hit ? 1.0 : 0.0;
    return 0;
}

/* ---- text_similarity -------------------------------------------------------------------------- */

/* rapidfuzz's normalised Indel similarity: 1 - (na + nb - 2 LCS) / (na + nb), 1 when both empty. */
static int fuzzy_match(const uint32_t *a, size_t na, const uint32_t *b, size_t nb, double *score, Err *err) {
    size_t lcs;
    if (grader_lcs(a, na, b, nb, &lcs, err) != 0) return -1;
    size_t lensum = na + nb;
    double dist = (double)(lensum - 2 * lcs);
    *score = lensum ? 1.0 - dist / (double)lensum : 1.0;
    return 0;
}

int grader_text_similarity(SimilarityMetric m, const char *input, const char *reference, double *score, Err *err) {
    if ((unsigned)m > SIM_ROUGE_L) return err_set(err, ERR_ARG, "unknown text_similarity metric %d", (int)m);
    uint32_t *in = NULL, *ref = NULL;
    size_t n_in, n_ref;
    int rc = -1;
    if (grader_utf8_decode(input, "input", &in, &n_in, err) != 0) goto done;
    if (grader_utf8_decode(reference, "reference", &ref, &n_ref, err) != 0) goto done;
    switch (m) {
    case SIM_FUZZY_MATCH: rc = fuzzy_match(in, n_in, ref, n_ref, score, err); break;
    case SIM_BLEU: rc = grader_bleu(in, n_in, ref, n_ref, score, err); break;
    case SIM_ROUGE_L: rc = grader_rouge(0, in, n_in, ref, n_ref, score, err); break;
    default: rc = grader_rouge(1 + (int)(m - SIM_ROUGE_1), in, n_in, ref, n_ref, score, err); break;
    }
    if (rc == 0 && *score > 1.0) *score = 1.0; /* sacrebleu gives 1 + 4e-16 for identical text */
done:
    free(in);
    free(ref);
    return rc;
}
