/* fuzz multipart: mutated multipart/form-data bodies through multipart_parse and mutated
 * Content-Type values through multipart_boundary, under ASan/UBSan. Each input is copied into a
 * buffer of exactly its length, so any read past len is caught. Mutations: multipart tokens
 * (CRLF, dashes, the boundary, quotes, escapes, percent-encodings) inserted, byte ranges deleted,
 * chunks of other seeds spliced in, chunks of the input repeated (many parts), and fuzz_mutate's
 * flips and truncations. Checks, besides "no crash": parts lie inside the body, strings are
 * terminated, and every accepted body re-encoded canonically parses back to the same parts.
 * Exits 1 on a broken invariant. Usage: build/fuzz_multipart [ITERATIONS] (default 2000). */
#include "serve/multipart.h"
#include "fuzz_util.h"

#define SEED 0x6d70617274u
#define BUF_CAP 65536
#define MUTATIONS_MAX 6
#define CHUNK_MAX 128
#define REPEAT_MAX 24
#define CONTENT_TYPE_CAP 4096

#define B "bNd:1"

typedef struct {
    const char *boundary;
    const char *body;
    size_t len;
} Seed;

#define SEED_OF(boundary, lit)                                                                                         \
    { boundary, lit, sizeof(lit) - 1 }

static const Seed SEEDS[] = {
    SEED_OF("0f3a9c2be1d84c7a96b0e5f1a2c3d4e5", /* httpx, as the openai SDK sends it */
            "--0f3a9c2be1d84c7a96b0e5f1a2c3d4e5\r\n"
            "Content-Disposition: form-data; name=\"purpose\"\r\n\r\n"
            "fine-tune\r\n"
            "--0f3a9c2be1d84c7a96b0e5f1a2c3d4e5\r\n"
            "Content-Disposition: form-data; name=\"file\"; filename=\"train.jsonl\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n"
            "{\"messages\":[]}\r\n--0f3a\r\n\x00\xff--\r\n"
            "--0f3a9c2be1d84c7a96b0e5f1a2c3d4e5--\r\n"),
    SEED_OF(B, /* curl-like, with preamble, padding and epilogue */
            "preamble\r\n--" B "  \r\n"
            "content-disposition: form-data; name=purpose\r\n\r\nfine-tune\r\n--" B "\r\n"
            "Content-Disposition: form-data; filename*=UTF-8''na%C3%AFve.jsonl; name=\"file\"; filename=\"a\\\"b\"\r\n"
            "Content-Type: text/plain; charset=utf-8\r\nX-Other: 1\r\n\r\n"
            "line1\nline2\r\n--" B "x\r\n\r\n--" B "--\r\nepilogue\r\n--" B "\r\n"),
    SEED_OF(B, /* LF-only headers, empty contents, delimiter right after a header block */
            "--" B "\nContent-Disposition: form-data; name=a\n\n\r\n--" B "\n"
            "Content-Disposition: form-data; name=b; filename=\"\"\n\n--" B "\n"
            "Content-Disposition: form-data; name=\"c\\\\\"\n\n-\r\n--" B "--"),
    SEED_OF(B, "--" B "--"),
};
#define N_SEEDS (int)(sizeof SEEDS / sizeof SEEDS[0])

static const char *const CONTENT_TYPES[] = {
    "multipart/form-data; boundary=" B,
    "Multipart/Form-Data; charset=utf-8; BOUNDARY=\"" B "\"",
    "multipart/form-data;boundary=\"a\\\"b\";x=y",
    "multipart/form-data; boundary=------------------------d74496d66958873e",
};
#define N_CONTENT_TYPES (int)(sizeof CONTENT_TYPES / sizeof CONTENT_TYPES[0])

static const char *const TOKENS[] = {
    "\r\n",
    "\n",
    "\r",
    "--",
    "\r\n--" B,
    "\r\n--" B "--",
    "--" B "\r\n",
    "\r\n\r\n",
    "\"",
    "\\",
    ";",
    "=",
    ":",
    " ",
    "\t",
    "%",
    "%00",
    "%C3%A9",
    "%ff",
    "'",
    "filename*=UTF-8''",
    "filename=\"",
    "name=",
    "; name=x",
    "Content-Disposition: form-data; name=x\r\n",
    "Content-Type: ",
    "form-data",
    "boundary=",
    "\xff",
    "\xc3",
};
#define N_TOKENS (int)(sizeof TOKENS / sizeof TOKENS[0])

/* Inserts src[0..n) at buf[at]; returns the new length (unchanged when it would not fit). */
static size_t insert(unsigned char *buf, size_t len, size_t cap, size_t at, const void *src, size_t n) {
    if (len + n > cap || at > len) return len;
    memmove(buf + at + n, buf + at, len - at);
    memcpy(buf + at, src, n);
    return len + n;
}

static size_t mutate(Rng *r, unsigned char *buf, size_t len, size_t cap, int max_mut) {
    int n_mut = 1 + (int)(rng_next(r) % (unsigned)max_mut);
    for (int k = 0; k < n_mut; k++) {
        size_t at = rng_next(r) % (len + 1);
        switch (rng_next(r) % 5) {
        case 0: {
            const char *t = TOKENS[rng_next(r) % N_TOKENS];
            len = insert(buf, len, cap, at, t, *t ? strlen(t) : 1);
            break;
        }
        case 1: { /* delete a range */
            size_t n = 1 + rng_next(r) % 16;
            if (at + n <= len) memmove(buf + at, buf + at + n, len - at - n), len -= n;
            break;
        }
        case 2: { /* splice in a chunk of a seed */
            const Seed *s = &SEEDS[rng_next(r) % N_SEEDS];
            size_t from = rng_next(r) % s->len, n = rng_next(r) % CHUNK_MAX;
            if (from + n > s->len) n = s->len - from;
            len = insert(buf, len, cap, at, s->body + from, n);
            break;
        }
        case 3: { /* repeat a chunk of the input: many parts, long header blocks */
            if (!len) break;
            size_t from = rng_next(r) % len, n = 1 + rng_next(r) % (CHUNK_MAX * 4);
            if (from + n > len) n = len - from;
            int times = 1 + (int)(rng_next(r) % REPEAT_MAX);
            unsigned char chunk[CHUNK_MAX * 4];
            memcpy(chunk, buf + from, n);
            for (int i = 0; i < times; i++) len = insert(buf, len, cap, at, chunk, n);
            break;
        }
        default:
            if (len) len = fuzz_mutate(r, buf, len, cap, 0);
        }
    }
    return len;
}

/* ---- re-encoding, for the round-trip check ---- */

static size_t put(unsigned char *out, size_t k, size_t cap, const void *s, size_t n) {
    if (k + n > cap) return cap + 1;
    memcpy(out + k, s, n);
    return k + n;
}

static size_t put_str(unsigned char *out, size_t k, size_t cap, const char *s) {
    return put(out, k, cap, s, strlen(s));
}

static size_t encode(unsigned char *out, size_t cap, const char *boundary, const MultipartPart *p, int n) {
    size_t k = 0;
    char tmp[4 * MULTIPART_FILENAME_MAX];
    for (int i = 0; i < n; i++) {
        k = put_str(out, k, cap, i ? "\r\n--" : "--");
        k = put_str(out, k, cap, boundary);
        k = put_str(out, k, cap, "\r\nContent-Disposition: form-data; name=\"");
        for (const char *c = p[i].name; *c; c++) {
            if (*c == '"' || *c == '\\') k = put(out, k, cap, "\\", 1);
            k = put(out, k, cap, c, 1);
        }
        k = put_str(out, k, cap, "\"");
        if (p[i].has_filename) {
            size_t t = 0;
            for (const unsigned char *c = (const unsigned char *)p[i].filename; *c; c++)
                t += (size_t)snprintf(tmp + t, sizeof tmp - t, "%%%02X", *c);
            k = put_str(out, k, cap, "; filename*=UTF-8''");
            k = put(out, k, cap, tmp, t);
        }
        k = put_str(out, k, cap, "\r\n");
        if (p[i].content_type[0]) {
            k = put_str(out, k, cap, "Content-Type: ");
            k = put_str(out, k, cap, p[i].content_type);
            k = put_str(out, k, cap, "\r\n");
        }
        k = put_str(out, k, cap, "\r\n");
        k = put(out, k, cap, p[i].data, p[i].len);
    }
    k = put_str(out, k, cap, n ? "\r\n--" : "--");
    k = put_str(out, k, cap, boundary);
    return put_str(out, k, cap, "--");
}

static bool same_part(const MultipartPart *a, const MultipartPart *b) {
    return strcmp(a->name, b->name) == 0 && a->has_filename == b->has_filename &&
           strcmp(a->filename, b->filename) == 0 && strcmp(a->content_type, b->content_type) == 0 && a->len == b->len &&
           memcmp(a->data, b->data, a->len) == 0;
}

/* The invariants of an accepted body; returns 1 when one is broken. */
static int check_parts(const unsigned char *body, size_t len, const char *boundary, const MultipartPart *parts, int n,
                       int max_parts, unsigned char *scratch, long iter) {
    if (n < 0 || n > max_parts)
        return fprintf(stderr, "fuzz multipart: %d parts (max %d) at %ld\n", n, max_parts, iter), 1;
    for (int i = 0; i < n; i++) {
        const MultipartPart *p = &parts[i];
        bool inside = p->data >= body && p->len <= len && (size_t)(p->data - body) <= len - p->len;
        bool terminated = memchr(p->name, 0, sizeof p->name) && memchr(p->filename, 0, sizeof p->filename) &&
                          memchr(p->content_type, 0, sizeof p->content_type);
        if (!inside || !terminated || (!p->has_filename && p->filename[0]))
            return fprintf(stderr, "fuzz multipart: bad part %d at iteration %ld\n", i, iter), 1;
    }
    size_t n2 = encode(scratch, BUF_CAP, boundary, parts, n);
    if (n2 > BUF_CAP) return 0;
    MultipartPart again[MULTIPART_MAX_PARTS];
    int m = 0;
    Err err = {0};
    if (multipart_parse(scratch, n2, boundary, again, MULTIPART_MAX_PARTS, &m, &err) != 0 || m != n)
        return fprintf(stderr, "fuzz multipart: re-encoded body not parsed back at %ld: %s\n", iter, err.msg), 1;
    for (int i = 0; i < n; i++)
        if (!same_part(&parts[i], &again[i]))
            return fprintf(stderr, "fuzz multipart: part %d differs after re-encoding at %ld\n", i, iter), 1;
    return 0;
}

static int fuzz_body(Rng *r, unsigned char *buf, unsigned char *scratch, long iter, long *accepted) {
    const Seed *s = &SEEDS[rng_next(r) % N_SEEDS];
    memcpy(buf, s->body, s->len);
    size_t len = mutate(r, buf, s->len, BUF_CAP, MUTATIONS_MAX);
    unsigned char *exact = malloc(len ? len : 1);
    memcpy(exact, buf, len);
    MultipartPart parts[MULTIPART_MAX_PARTS];
    int max_parts = rng_next(r) % 4 ? MULTIPART_MAX_PARTS : (int)(rng_next(r) % (MULTIPART_MAX_PARTS + 1));
    int n = -1, bad = 0;
    Err err = {0};
    int rc = multipart_parse(len ? exact : NULL, len, s->boundary, parts, max_parts, &n, &err);
    if (rc == 0) {
        (*accepted)++;
        bad = check_parts(exact, len, s->boundary, parts, n, max_parts, scratch, iter);
    } else if (n != 0 || err.code != ERR_FORMAT || !err.msg[0]) {
        fprintf(stderr, "fuzz multipart: error without a message or with parts at %ld\n", iter);
        bad = 1;
    }
    free(exact);
    return bad;
}

static int fuzz_content_type(Rng *r, unsigned char *buf, long iter, long *accepted) {
    const char *ct = CONTENT_TYPES[rng_next(r) % N_CONTENT_TYPES];
    size_t len = strlen(ct);
    memcpy(buf, ct, len);
    len = mutate(r, buf, len, CONTENT_TYPE_CAP, 2);
    char *exact = malloc(len + 1);
    memcpy(exact, buf, len);
    exact[len] = 0;
    char b[MULTIPART_BOUNDARY_MAX];
    Err err = {0};
    int bad = 0;
    if (multipart_boundary(exact, b, sizeof b, &err) == 0) {
        (*accepted)++;
        size_t n = strnlen(b, sizeof b);
        if (n < 1 || n >= sizeof b || b[n - 1] == ' ') {
            fprintf(stderr, "fuzz multipart: bad boundary from '%s' at %ld\n", exact, iter);
            bad = 1;
        }
        /* A valid boundary must be usable for parsing. */
        MultipartPart parts[2];
        int np = 0;
        static const unsigned char body[] = "--x--";
        if (multipart_parse(body, sizeof body - 1, b, parts, 2, &np, &err) != 0 && err.code != ERR_FORMAT) {
            fprintf(stderr, "fuzz multipart: boundary '%s' rejected by multipart_parse: %s\n", b, err.msg);
            bad = 1;
        }
    } else if (err.code != ERR_FORMAT || !err.msg[0]) {
        fprintf(stderr, "fuzz multipart: boundary error without a message at %ld\n", iter);
        bad = 1;
    }
    free(exact);
    return bad;
}

int main(int argc, char **argv) {
    long iters = fuzz_iterations(argc, argv);
    unsigned char *buf = malloc(BUF_CAP), *scratch = malloc(BUF_CAP);
    Rng r;
    rng_seed(&r, SEED);
    long bodies = 0, bodies_ok = 0, types = 0, types_ok = 0;
    int broken = 0;
    for (long i = 0; i < iters && broken < 10; i++) {
        if (i % 4 == 3) {
            types++;
            broken += fuzz_content_type(&r, buf, i, &types_ok);
        } else {
            bodies++;
            broken += fuzz_body(&r, buf, scratch, i, &bodies_ok);
        }
    }
    printf("fuzz multipart: %ld bodies (%ld accepted), %ld Content-Types (%ld accepted), %d broken invariants\n",
           bodies, bodies_ok, types, types_ok, broken);
    free(buf);
    free(scratch);
    return broken ? 1 : 0;
}
