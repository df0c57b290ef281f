/* tokenizer_unicode.c: the Unicode pieces the tokenizer needs: lenient UTF-8 decoding that
 * matches llama.cpp (an invalid byte becomes U+FFFD), sanitizing text to valid UTF-8, the GPT-2
 * byte-to-unicode table, and NFC normalization (tables in tokenizer_unicode_data.c).
 * It does not classify characters (letters, digits, spaces): the PCRE2 regexes do that. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"

#define CP_REPLACEMENT 0xFFFDu
#define CP_MAX 0x10FFFFu
#define NFC_FAST_BELOW 0x300u /* code points below this never change under NFC */

/* Hangul syllable composition constants (Unicode chapter 3.12). */
#define HANGUL_SBASE 0xAC00u
#define HANGUL_LBASE 0x1100u
#define HANGUL_VBASE 0x1161u
#define HANGUL_TBASE 0x11A7u
#define HANGUL_LCOUNT 19u
#define HANGUL_VCOUNT 21u
#define HANGUL_TCOUNT 28u
#define HANGUL_NCOUNT (HANGUL_VCOUNT * HANGUL_TCOUNT)
#define HANGUL_SCOUNT (HANGUL_LCOUNT * HANGUL_NCOUNT)
#define DECOMP_MAX_DEPTH 4 /* canonical decompositions nest at most this deep */
#define DECOMP_MAX_LEN 4   /* longest full canonical decomposition of one code point */

size_t tok_utf8_len(unsigned char lead) {
    static const unsigned char by_high_nibble[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return by_high_nibble[lead >> 4]; /* llama.cpp's unicode_len_utf8: 0xF8..0xFF count as 4 */
}

static bool is_cont(unsigned char b) { return (b & 0xC0) == 0x80; }

size_t tok_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp) {
    unsigned char b = s[0];
    if (b < 0x80) {
        *cp = b;
        return 1;
    }
    if (!(b & 0x40)) goto invalid;
    if (!(b & 0x20)) {
        if (n < 2 || !is_cont(s[1])) goto invalid;
        *cp = ((uint32_t)(b & 0x1F) << 6) | (s[1] & 0x3F);
        return 2;
    }
    if (!(b & 0x10)) {
        if (n < 3 || !is_cont(s[1]) || !is_cont(s[2])) goto invalid;
        *cp = ((uint32_t)(b & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
        return 3;
    }
    if (!(b & 0x08)) {
        if (n < 4 || !is_cont(s[1]) || !is_cont(s[2]) || !is_cont(s[3])) goto invalid;
        *cp = ((uint32_t)(b & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) |
              ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
        return 4;
    }
invalid:
    *cp = CP_REPLACEMENT;
    return 1;
}

size_t tok_utf8_encode(uint32_t cp, char *out) {
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

static bool cp_ok(uint32_t cp, bool keep_surrogates) {
    return cp <= CP_MAX && (keep_surrogates || cp < 0xD800 || cp > 0xDFFF);
}

int tok_utf8_sanitize(const char *s, size_t n, bool keep_surrogates, char **out, size_t *out_len, Err *err) {
    const unsigned char *u = (const unsigned char *)s;
    /* fast path: already valid and in canonical (shortest) form */
    size_t i = 0;
    while (i < n) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        uint32_t cp;
        size_t k = tok_utf8_decode(u + i, n - i, &cp);
        char tmp[TOK_UTF8_MAX];
        if ((k == 1) || !cp_ok(cp, keep_surrogates) || tok_utf8_encode(cp, tmp) != k) break;
        i += k;
    }
    char *o = malloc(i == n ? n + 1 : 3 * n + 1);
    if (!o) return err_set(err, ERR_NOMEM, "tokenizer: out of memory sanitizing %zu bytes", n);
    memcpy(o, s, i);
    size_t m = i;
    while (i < n) {
        uint32_t cp;
        size_t k = tok_utf8_decode(u + i, n - i, &cp);
        if (!cp_ok(cp, keep_surrogates)) cp = CP_REPLACEMENT;
        m += tok_utf8_encode(cp, o + m);
        i += k;
    }
    o[m] = 0;
    *out = o;
    *out_len = m;
    return 0;
}

/* GPT-2 byte-to-unicode: the printable bytes !..~, ¡..¬, ®..ÿ stand for themselves; the 68
 * others map in byte order to U+0100, U+0101, ... */
#define BYTE_MAP_SHIFT 256u
#define BYTES_LOW_END 0x20u   /* 0x00..0x20 -> 256..288 */
#define BYTES_MID_FIRST 0x7Fu /* 0x7F..0xA0 -> 289..322 */
#define BYTES_MID_LAST 0xA0u
#define BYTE_SOFT_HYPHEN 0xADu /* -> 323 */

uint32_t tok_byte_to_cp(unsigned char b) {
    if (b <= BYTES_LOW_END) return BYTE_MAP_SHIFT + b;
    if (b >= BYTES_MID_FIRST && b <= BYTES_MID_LAST) return BYTE_MAP_SHIFT + 33 + (b - BYTES_MID_FIRST);
    if (b == BYTE_SOFT_HYPHEN) return BYTE_MAP_SHIFT + 33 + 34;
    return b;
}

int tok_cp_to_byte(uint32_t cp) {
    if (cp < BYTE_MAP_SHIFT) {
        if (cp <= BYTES_LOW_END || (cp >= BYTES_MID_FIRST && cp <= BYTES_MID_LAST) || cp == BYTE_SOFT_HYPHEN)
            return -1;
        return (int)cp;
    }
    uint32_t k = cp - BYTE_MAP_SHIFT;
    if (k <= BYTES_LOW_END) return (int)k;
    if (k < 33 + 34) return (int)(BYTES_MID_FIRST + (k - 33));
    if (k == 33 + 34) return BYTE_SOFT_HYPHEN;
    return -1;
}

/* ---- NFC ---- */

static int ccc_of(uint32_t cp) {
    if (cp < NFC_FAST_BELOW) return 0;
    int lo = 0, hi = tok_n_ccc_ranges - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (cp < tok_ccc_ranges[mid].first) hi = mid - 1;
        else if (cp > tok_ccc_ranges[mid].last) lo = mid + 1;
        else return tok_ccc_ranges[mid].ccc;
    }
    return 0;
}

static const TokDecomp *decomp_of(uint32_t cp) {
    int lo = 0, hi = tok_n_decomps - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (cp < tok_decomps[mid].cp) hi = mid - 1;
        else if (cp > tok_decomps[mid].cp) lo = mid + 1;
        else return &tok_decomps[mid];
    }
    return NULL;
}

static uint32_t compose_pair(uint32_t a, uint32_t b) {
    if (a >= HANGUL_LBASE && a < HANGUL_LBASE + HANGUL_LCOUNT && b >= HANGUL_VBASE &&
        b < HANGUL_VBASE + HANGUL_VCOUNT)
        return HANGUL_SBASE + ((a - HANGUL_LBASE) * HANGUL_VCOUNT + (b - HANGUL_VBASE)) * HANGUL_TCOUNT;
    if (a >= HANGUL_SBASE && a < HANGUL_SBASE + HANGUL_SCOUNT && (a - HANGUL_SBASE) % HANGUL_TCOUNT == 0 &&
        b > HANGUL_TBASE && b < HANGUL_TBASE + HANGUL_TCOUNT)
        return a + (b - HANGUL_TBASE);
    int lo = 0, hi = tok_n_comps - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        const TokComp *c = &tok_comps[mid];
        if (a < c->a || (a == c->a && b < c->b)) hi = mid - 1;
        else if (a > c->a || (a == c->a && b > c->b)) lo = mid + 1;
        else return c->cp;
    }
    return 0;
}

/* Appends the full canonical decomposition of cp to d (at most DECOMP_MAX_LEN code points). */
static size_t decompose(uint32_t cp, uint32_t *d, int depth) {
    if (cp >= HANGUL_SBASE && cp < HANGUL_SBASE + HANGUL_SCOUNT) {
        uint32_t s = cp - HANGUL_SBASE;
        size_t k = 0;
        d[k++] = HANGUL_LBASE + s / HANGUL_NCOUNT;
        d[k++] = HANGUL_VBASE + (s % HANGUL_NCOUNT) / HANGUL_TCOUNT;
        if (s % HANGUL_TCOUNT) d[k++] = HANGUL_TBASE + s % HANGUL_TCOUNT;
        return k;
    }
    const TokDecomp *e = cp >= 0xC0 ? decomp_of(cp) : NULL; /* nothing below U+00C0 decomposes */
    if (!e || depth >= DECOMP_MAX_DEPTH) {
        d[0] = cp;
        return 1;
    }
    size_t k = decompose(e->a, d, depth + 1);
    if (e->b) k += decompose(e->b, d + k, depth + 1);
    return k;
}

#define SHORT_RUN 16 /* runs of marks up to this long are insertion-sorted */
#define N_CLASSES 256

/* Stable sort of k non-starters by combining class: insertion sort for short runs, a counting
 * sort (O(k)) for long, Zalgo-like ones. */
static int sort_marks(uint32_t *d, size_t k) {
    if (k <= SHORT_RUN) {
        for (size_t i = 1; i < k; i++) {
            uint32_t x = d[i];
            int c = ccc_of(x);
            size_t j = i;
            while (j > 0 && ccc_of(d[j - 1]) > c) {
                d[j] = d[j - 1];
                j--;
            }
            d[j] = x;
        }
        return 0;
    }
    uint32_t *tmp = malloc(k * sizeof *tmp);
    if (!tmp) return -1;
    memcpy(tmp, d, k * sizeof *tmp);
    size_t start[N_CLASSES + 1] = {0};
    for (size_t i = 0; i < k; i++) start[ccc_of(tmp[i]) + 1]++;
    for (int c = 1; c <= N_CLASSES; c++) start[c] += start[c - 1];
    for (size_t i = 0; i < k; i++) d[start[ccc_of(tmp[i])]++] = tmp[i];
    free(tmp);
    return 0;
}

int tok_nfc(const char *s, size_t n, char **out, size_t *out_len, Err *err) {
    const unsigned char *u = (const unsigned char *)s;
    bool fast = true;
    for (size_t i = 0; i < n && fast; i++)
        if (u[i] >= 0xCC) fast = false; /* lead bytes of U+0300 and above */
    if (fast) {
        char *o = malloc(n + 1);
        if (!o) return err_set(err, ERR_NOMEM, "tokenizer: out of memory normalizing");
        memcpy(o, s, n);
        o[n] = 0;
        *out = o;
        *out_len = n;
        return 0;
    }
    /* decompose: each input code point (at least one byte) yields at most DECOMP_MAX_LEN */
    uint32_t *d = malloc((n * DECOMP_MAX_LEN + 1) * sizeof *d);
    if (!d) return err_set(err, ERR_NOMEM, "tokenizer: out of memory normalizing");
    size_t nd = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        i += tok_utf8_decode(u + i, n - i, &cp);
        nd += decompose(cp, d + nd, 0);
    }
    /* canonical ordering: a stable sort by combining class of each run of non-starters */
    for (size_t i = 0; i < nd;) {
        if (!ccc_of(d[i])) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < nd && ccc_of(d[j])) j++;
        if (sort_marks(d + i, j - i)) {
            free(d);
            return err_set(err, ERR_NOMEM, "tokenizer: out of memory normalizing");
        }
        i = j;
    }
    /* canonical composition */
    size_t nr = 0;
    long starter = -1;
    int last_ccc = 0;
    for (size_t i = 0; i < nd; i++) {
        uint32_t ch = d[i];
        int c = ccc_of(ch);
        if (starter >= 0 && (last_ccc < c || (last_ccc == 0 && (size_t)starter == nr - 1))) {
            uint32_t comp = compose_pair(d[starter], ch);
            if (comp) {
                d[starter] = comp;
                continue;
            }
        }
        if (c == 0) starter = (long)nr;
        last_ccc = c;
        d[nr++] = ch;
    }
    char *o = malloc(nr * TOK_UTF8_MAX + 1);
    if (!o) {
        free(d);
        return err_set(err, ERR_NOMEM, "tokenizer: out of memory normalizing");
    }
    size_t m = 0;
    for (size_t i = 0; i < nr; i++) m += tok_utf8_encode(d[i], o + m);
    o[m] = 0;
    free(d);
    *out = o;
    *out_len = m;
    return 0;
}
