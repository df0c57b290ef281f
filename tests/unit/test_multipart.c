/* test_multipart.c: the multipart/form-data parser behind `POST /v1/files`: the boundary from
 * Content-Type (quoted, token, case, every error), a body as httpx (the openai SDK) builds it with
 * binary content full of CR, LF, dashes and near-boundaries, preamble and epilogue, filename*
 * precedence, escapes, empty content, LF-only headers, every error message, multipart_find, and
 * 200 random bodies from a tiny encoder here that must come back byte for byte. */
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "serve/multipart.h"
#include "test.h"

#define CHECK_STR(a, b)                                                                                                \
    do {                                                                                                               \
        const char *a_ = (a), *b_ = (b);                                                                               \
        if (strcmp(a_, b_) != 0) test_fail(__FILE__, __LINE__, "'%s' != '%s'", a_, b_);                                \
    } while (0)

/* A call failed with ERR_FORMAT and exactly this message. */
#define CHECK_FORMAT_ERR(rc, e, expect)                                                                                \
    do {                                                                                                               \
        CHECK_EQ_INT(rc, -1);                                                                                          \
        CHECK_EQ_INT((e).code, ERR_FORMAT);                                                                            \
        CHECK_STR((e).msg, expect);                                                                                    \
    } while (0)

#define CHECK_BYTES(p, bytes, n)                                                                                       \
    do {                                                                                                               \
        CHECK_EQ_INT((p)->len, (n));                                                                                   \
        if ((p)->len == (size_t)(n) && memcmp((p)->data, (bytes), (n)) != 0)                                           \
            test_fail(__FILE__, __LINE__, "content of part '%s' differs", (p)->name);                                  \
    } while (0)

#define HTTPX_BOUNDARY "0f3a9c2be1d84c7a96b0e5f1a2c3d4e5"

static int parse(const char *body, size_t len, const char *boundary, MultipartPart *parts, int *n, Err *err) {
    /* An exact-size copy, so that a sanitizer build catches any read past len. */
    unsigned char *copy = malloc(len ? len : 1);
    memcpy(copy, body, len);
    int rc = multipart_parse(copy, len, boundary, parts, MULTIPART_MAX_PARTS, n, err);
    /* Content pointers must lie inside the body; rebase them onto the caller's string. */
    for (int i = 0; rc == 0 && i < *n; i++) {
        if (parts[i].data < copy || parts[i].data + parts[i].len > copy + len)
            test_fail(__FILE__, __LINE__, "part outside body");
        parts[i].data = (const unsigned char *)body + (parts[i].data - copy);
    }
    free(copy);
    return rc;
}

#define PARSE(lit, boundary, parts, n, err) parse(lit, sizeof(lit) - 1, boundary, parts, n, err)

/* ---- the boundary ---- */

TEST(multipart_boundary_forms) {
    char b[MULTIPART_BOUNDARY_MAX];
    Err err = {0};
    CHECK_EQ_INT(multipart_boundary("multipart/form-data; boundary=" HTTPX_BOUNDARY, b, sizeof b, &err), 0);
    CHECK_STR(b, HTTPX_BOUNDARY);
    CHECK_EQ_INT(
        multipart_boundary("multipart/form-data; boundary=------------------------d74496d66958873e", b, sizeof b, &err),
        0);
    CHECK_STR(b, "------------------------d74496d66958873e");
    CHECK_EQ_INT(multipart_boundary("multipart/form-data; boundary=\"a b:c\"", b, sizeof b, &err), 0);
    CHECK_STR(b, "a b:c");
    CHECK_EQ_INT(
        multipart_boundary("  Multipart/Form-Data ;charset=utf-8;  BOUNDARY = \"x\\=y\" ; foo=bar", b, sizeof b, &err),
        0);
    CHECK_STR(b, "x=y");
    CHECK_EQ_INT(multipart_boundary("multipart/form-data;boundary=abc;", b, sizeof b, &err), 0);
    CHECK_STR(b, "abc");
    char seventy[71];
    memset(seventy, 'z', 70);
    seventy[70] = 0;
    char ct[128];
    snprintf(ct, sizeof ct, "multipart/form-data; boundary=%s", seventy);
    CHECK_EQ_INT(multipart_boundary(ct, b, sizeof b, &err), 0);
    CHECK_STR(b, seventy);
}

TEST(multipart_boundary_errors) {
    char b[MULTIPART_BOUNDARY_MAX];
    Err err = {0};
    CHECK_FORMAT_ERR(multipart_boundary("application/json", b, sizeof b, &err), err,
                     "Content-Type is 'application/json', expected multipart/form-data");
    CHECK_FORMAT_ERR(multipart_boundary("multipart/mixed; boundary=abc", b, sizeof b, &err), err,
                     "Content-Type is 'multipart/mixed', expected multipart/form-data");
    CHECK_FORMAT_ERR(multipart_boundary("", b, sizeof b, &err), err,
                     "the request has no Content-Type; expected multipart/form-data");
    CHECK_FORMAT_ERR(multipart_boundary("multipart/form-data", b, sizeof b, &err), err,
                     "Content-Type multipart/form-data has no boundary parameter");
    CHECK_FORMAT_ERR(multipart_boundary("multipart/form-data; charset=utf-8", b, sizeof b, &err), err,
                     "Content-Type multipart/form-data has no boundary parameter");
    CHECK_FORMAT_ERR(multipart_boundary("multipart/form-data; boundary=\"\"", b, sizeof b, &err), err,
                     "multipart boundary must be 1 to 70 characters long (got 0)");
    CHECK_FORMAT_ERR(multipart_boundary("multipart/form-data; boundary=", b, sizeof b, &err), err,
                     "malformed parameter in Content-Type at byte 30: ''");
    CHECK_FORMAT_ERR(multipart_boundary("multipart/form-data; boundary=\"abc", b, sizeof b, &err), err,
                     "malformed parameter in Content-Type at byte 30: '\"abc'");
    CHECK_FORMAT_ERR(multipart_boundary("multipart/form-data; boundary", b, sizeof b, &err), err,
                     "malformed parameter in Content-Type at byte 29: ''");
    CHECK_FORMAT_ERR(multipart_boundary("multipart/form-data; boundary=a; boundary=b", b, sizeof b, &err), err,
                     "Content-Type has more than one boundary parameter");
    CHECK_FORMAT_ERR(multipart_boundary("multipart/form-data; boundary=a{b}", b, sizeof b, &err), err,
                     "multipart boundary has a character RFC 2046 does not allow (0x7b at 1)");
    CHECK_FORMAT_ERR(multipart_boundary("multipart/form-data; boundary=\"ab \"", b, sizeof b, &err), err,
                     "multipart boundary must not end with a space");
    char ct[160];
    snprintf(ct, sizeof ct, "multipart/form-data; boundary=%071d", 0);
    CHECK_FORMAT_ERR(multipart_boundary(ct, b, sizeof b, &err), err,
                     "multipart boundary must be 1 to 70 characters long (got 71)");
    char small[3];
    CHECK_EQ_INT(multipart_boundary("multipart/form-data; boundary=abc", small, sizeof small, &err), -1);
    CHECK_EQ_INT(err.code, ERR_ARG);
}

/* ---- bodies ---- */

/* Content with CR, LF, "--", NUL, 0xff and near-boundaries: "\r\n--0f3a" (a prefix of the boundary)
 * and "\r\n--<boundary>x" (the boundary followed by neither "--" nor a line end: content). */
static const char HTTPX_FILE[] = "{\"a\":1}\r\n--\r\n\r\n--0f3a\n\r\x00\xff--\r\n--" HTTPX_BOUNDARY "x\r\n-";

static const char HTTPX_BODY[] = "--" HTTPX_BOUNDARY "\r\n"
                                 "Content-Disposition: form-data; name=\"purpose\"\r\n"
                                 "\r\n"
                                 "fine-tune\r\n"
                                 "--" HTTPX_BOUNDARY "\r\n"
                                 "Content-Disposition: form-data; name=\"file\"; filename=\"train.jsonl\"\r\n"
                                 "Content-Type: application/octet-stream\r\n"
                                 "\r\n"
                                 "{\"a\":1}\r\n--\r\n\r\n--0f3a\n\r\x00\xff--\r\n--" HTTPX_BOUNDARY "x\r\n-"
                                 "\r\n"
                                 "--" HTTPX_BOUNDARY "--\r\n";

TEST(multipart_httpx_body) {
    MultipartPart parts[MULTIPART_MAX_PARTS];
    int n = -1;
    Err err = {0};
    int rc = PARSE(HTTPX_BODY, HTTPX_BOUNDARY, parts, &n, &err);
    if (rc) test_fail(__FILE__, __LINE__, "%s", err.msg);
    REQUIRE(rc == 0);
    REQUIRE(n == 2);
    CHECK_STR(parts[0].name, "purpose");
    CHECK(!parts[0].has_filename);
    CHECK_STR(parts[0].filename, "");
    CHECK_STR(parts[0].content_type, "");
    CHECK_BYTES(&parts[0], "fine-tune", 9);
    CHECK_STR(parts[1].name, "file");
    CHECK(parts[1].has_filename);
    CHECK_STR(parts[1].filename, "train.jsonl");
    CHECK_STR(parts[1].content_type, "application/octet-stream");
    CHECK_BYTES(&parts[1], HTTPX_FILE, sizeof HTTPX_FILE - 1);
    CHECK_EQ_INT(parts[1].data - (const unsigned char *)HTTPX_BODY, 244);
}

TEST(multipart_preamble_epilogue) {
    static const char body[] = "This is the preamble.\r\n--b\r\nignored too\r\n"
                               "--xyz  \r\n" /* transport padding */
                               "content-disposition: FORM-DATA; name=a\r\n"
                               "X-Other: whatever\r\n"
                               "\r\n"
                               "one\r\n"
                               "--xyz\r\n"
                               "Content-Disposition: form-data; name=b\r\n"
                               "\r\n"
                               "two\r\n"
                               "--xyz--\r\n"
                               "epilogue \r\n--xyz\r\nContent-Disposition: form-data; name=c\r\n\r\nnot a part";
    MultipartPart parts[MULTIPART_MAX_PARTS];
    int n = -1;
    Err err = {0};
    CHECK_EQ_INT(PARSE(body, "xyz", parts, &n, &err), 0);
    REQUIRE(n == 2);
    CHECK_STR(parts[0].name, "a");
    CHECK_BYTES(&parts[0], "one", 3);
    CHECK_STR(parts[1].name, "b");
    CHECK_BYTES(&parts[1], "two", 3);
    /* No CRLF after the close delimiter, nothing after it at all. */
    static const char bare[] = "--xyz\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--xyz--";
    CHECK_EQ_INT(PARSE(bare, "xyz", parts, &n, &err), 0);
    CHECK_EQ_INT(n, 1);
    /* Zero parts. */
    CHECK_EQ_INT(PARSE("--xyz--\r\n", "xyz", parts, &n, &err), 0);
    CHECK_EQ_INT(n, 0);
}

TEST(multipart_quoted_boundary_round_trip) {
    char b[MULTIPART_BOUNDARY_MAX];
    Err err = {0};
    REQUIRE(multipart_boundary("multipart/form-data; boundary=\"my boundary:1\"", b, sizeof b, &err) == 0);
    static const char body[] = "--my boundary:1\r\n"
                               "Content-Disposition: form-data; name=\"x\"\r\n\r\n"
                               "v\r\n--my boundary\r\n--my boundary:1--";
    MultipartPart parts[MULTIPART_MAX_PARTS];
    int n = -1;
    CHECK_EQ_INT(PARSE(body, b, parts, &n, &err), 0);
    REQUIRE(n == 1);
    CHECK_BYTES(&parts[0], "v\r\n--my boundary", 16);
}

TEST(multipart_filename_star_precedence) {
    static const char body[] =
        "--b\r\n"
        "Content-Disposition: form-data; name=\"f1\"; filename*=UTF-8''na%C3%AFve%20file.jsonl; "
        "filename=\"naive.jsonl\"\r\n"
        "\r\n1\r\n"
        "--b\r\n"
        "Content-Disposition: form-data; filename=\"plain.txt\"; FILENAME*=utf-8'en'%E2%82%AC.txt; name=f2\r\n"
        "\r\n2\r\n"
        "--b\r\n"
        "Content-Disposition: form-data; name=f3; filename*=\"UTF-8''quoted%41\"\r\n"
        "\r\n3\r\n"
        "--b--\r\n";
    MultipartPart parts[MULTIPART_MAX_PARTS];
    int n = -1;
    Err err = {0};
    int rc = PARSE(body, "b", parts, &n, &err);
    if (rc) test_fail(__FILE__, __LINE__, "%s", err.msg);
    REQUIRE(rc == 0 && n == 3);
    CHECK_STR(parts[0].filename, "na\xC3\xAFve file.jsonl");
    CHECK_STR(parts[1].name, "f2");
    CHECK_STR(parts[1].filename, "\xE2\x82\xAC.txt");
    CHECK_STR(parts[2].filename, "quotedA");
    CHECK(parts[2].has_filename);
}

TEST(multipart_quoted_escapes) {
    /* httpx escapes '\' as '\\' and '"' as %22 (decoded, as are %0D and %0A); other clients use \" */
    static const char body[] =
        "--b\r\n"
        "Content-Disposition: form-data;name=\"a\\\"q\\\\\";filename=\"C:\\\\dir\\\\x\\\"y%22.txt\"\r\n"
        "Content-Type:   text/plain; charset=utf-8  \r\n"
        "\r\n\r\n"
        "--b--";
    MultipartPart parts[MULTIPART_MAX_PARTS];
    int n = -1;
    Err err = {0};
    int rc = PARSE(body, "b", parts, &n, &err);
    if (rc) test_fail(__FILE__, __LINE__, "%s", err.msg);
    REQUIRE(rc == 0 && n == 1);
    CHECK_STR(parts[0].name, "a\"q\\");
    CHECK_STR(parts[0].filename, "C:\\dir\\x\"y\".txt"); /* %22 is the WHATWG escape of a quote */
    CHECK_STR(parts[0].content_type, "text/plain; charset=utf-8");
    CHECK_EQ_INT(parts[0].len, 0);
}

TEST(multipart_empty_content) {
    /* As clients send it (a blank line, then the delimiter's CRLF), and with the delimiter right after
     * the header block (RFC 2046 allows it; Go accepts it too). */
    static const char body[] = "--b\r\n"
                               "Content-Disposition: form-data; name=\"file\"; filename=\"empty.jsonl\"\r\n"
                               "\r\n"
                               "\r\n--b\r\n"
                               "Content-Disposition: form-data; name=\"x\"\r\n"
                               "\r\n"
                               "--b\r\n"
                               "Content-Disposition: form-data; name=\"y\"\r\n"
                               "\r\n"
                               "\r\n--b--";
    MultipartPart parts[MULTIPART_MAX_PARTS];
    int n = -1;
    Err err = {0};
    CHECK_EQ_INT(PARSE(body, "b", parts, &n, &err), 0);
    REQUIRE(n == 3);
    CHECK_STR(parts[0].filename, "empty.jsonl");
    CHECK_EQ_INT(parts[0].len, 0);
    CHECK(parts[0].data == (const unsigned char *)body + 76);
    CHECK_EQ_INT(parts[1].len, 0);
    CHECK_STR(parts[2].name, "y");
    CHECK_EQ_INT(parts[2].len, 0);
}

TEST(multipart_lf_only_headers) {
    static const char body[] = "--b\n"
                               "Content-Disposition: form-data; name=\"purpose\"\n"
                               "\n"
                               "fine-tune\r\n"
                               "--b\n"
                               "Content-Disposition: form-data; name=\"file\"; filename=\"t.jsonl\"\n"
                               "Content-Type: application/jsonl\n"
                               "\n"
                               "{}\n{}\n\r\n"
                               "--b--\n";
    MultipartPart parts[MULTIPART_MAX_PARTS];
    int n = -1;
    Err err = {0};
    int rc = PARSE(body, "b", parts, &n, &err);
    if (rc) test_fail(__FILE__, __LINE__, "%s", err.msg);
    REQUIRE(rc == 0 && n == 2);
    CHECK_BYTES(&parts[0], "fine-tune", 9);
    CHECK_STR(parts[1].content_type, "application/jsonl");
    CHECK_BYTES(&parts[1], "{}\n{}\n", 6);
}

TEST(multipart_find_by_name) {
    MultipartPart parts[MULTIPART_MAX_PARTS];
    int n = -1;
    Err err = {0};
    REQUIRE(PARSE(HTTPX_BODY, HTTPX_BOUNDARY, parts, &n, &err) == 0);
    CHECK(multipart_find(parts, n, "file") == &parts[1]);
    CHECK(multipart_find(parts, n, "purpose") == &parts[0]);
    CHECK(multipart_find(parts, n, "File") == NULL);
    CHECK(multipart_find(parts, n, "") == NULL);
    CHECK(multipart_find(parts, 1, "file") == NULL);
    CHECK(multipart_find(parts, n, NULL) == NULL);
    CHECK(multipart_find(NULL, 0, "file") == NULL);
    static const char dup[] = "--b\r\nContent-Disposition: form-data; name=k\r\n\r\n1\r\n"
                              "--b\r\nContent-Disposition: form-data; name=k\r\n\r\n2\r\n--b--";
    REQUIRE(PARSE(dup, "b", parts, &n, &err) == 0);
    const MultipartPart *k = multipart_find(parts, n, "k");
    REQUIRE(k != NULL);
    CHECK_BYTES(k, "1", 1);
}

/* ---- errors ---- */

static void check_parse_error(const char *body, size_t len, const char *expect, int line) {
    MultipartPart parts[MULTIPART_MAX_PARTS];
    int n = -1;
    Err err = {0};
    int rc = parse(body, len, "b", parts, &n, &err);
    if (rc != -1 || err.code != ERR_FORMAT || strcmp(err.msg, expect) != 0)
        test_fail(__FILE__, line, "rc %d code %d message '%s', expected '%s'", rc, err.code, err.msg, expect);
    if (n != 0) test_fail(__FILE__, line, "n_parts %d after an error", n);
}

#define CHECK_PARSE_ERR(lit, expect) check_parse_error(lit, sizeof(lit) - 1, expect, __LINE__)

#define CD_A "Content-Disposition: form-data; name=a\r\n"

TEST(multipart_parse_errors) {
    CHECK_PARSE_ERR("", "multipart body has no opening boundary '--b' (searched all 0 bytes)");
    CHECK_PARSE_ERR("hello --b\r\n", "multipart body has no opening boundary '--b' (searched all 11 bytes)");
    CHECK_PARSE_ERR("--bb\r\n" CD_A "\r\nx\r\n--bb--",
                    "multipart body has no opening boundary '--b' (searched all 57 bytes)");
    CHECK_PARSE_ERR("--b", "multipart body is truncated: it ends in its opening boundary line '--b'");
    CHECK_PARSE_ERR("preamble\r\n--b \r", "multipart body is truncated: it ends in its opening boundary line '--b'");
    CHECK_PARSE_ERR("--b\r\n" CD_A "\r\ndata",
                    "multipart body is truncated: part 1 (content from byte 47) is not followed by '--b' or the "
                    "closing '--b--'");
    CHECK_PARSE_ERR("--b\r\n" CD_A "\r\ndata\r\n--b",
                    "multipart body is truncated: part 1 (content from byte 47) is not followed by '--b' or the "
                    "closing '--b--'");
    CHECK_PARSE_ERR("--b\r\n" CD_A "\r\ndata\r\n--b-",
                    "multipart body is truncated: part 1 (content from byte 47) is not followed by '--b' or the "
                    "closing '--b--'");
    CHECK_PARSE_ERR("--b\r\n" CD_A "\r\ndata\r\n--b\r\n",
                    "part 2: header block at byte 58 is not ended by a blank line (the body ends at byte 58)");
    CHECK_PARSE_ERR("--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--",
                    "part 1 (headers at byte 5) has no Content-Disposition: form-data");
    CHECK_PARSE_ERR("--b\r\n\r\nx\r\n--b--", "part 1 (headers at byte 5) has no Content-Disposition: form-data");
    CHECK_PARSE_ERR("--b\r\nContent-Disposition: attachment; name=a\r\n\r\nx\r\n--b--",
                    "part 1: Content-Disposition at byte 26 is 'attachment', expected form-data");
    CHECK_PARSE_ERR("--b\r\nContent-Disposition: form-data; filename=a\r\n\r\nx\r\n--b--",
                    "part 1: Content-Disposition at byte 26 has no name parameter");
    CHECK_PARSE_ERR("--b\r\nContent-Disposition: form-data; name=a; name=b\r\n\r\nx\r\n--b--",
                    "part 1: Content-Disposition at byte 26 has name twice");
    CHECK_PARSE_ERR("--b\r\nContent-Disposition: form-data; name=\"a\r\n\r\nx\r\n--b--",
                    "part 1: malformed Content-Disposition parameter at byte 42");
    CHECK_PARSE_ERR("--b\r\nContent-Disposition: form-data; name\r\n\r\nx\r\n--b--",
                    "part 1: malformed Content-Disposition parameter at byte 41");
    CHECK_PARSE_ERR("--b\r\n" CD_A CD_A "\r\nx\r\n--b--", "part 1: header at byte 45 repeats Content-Disposition");
    CHECK_PARSE_ERR("--b\r\nContent-Disposition form-data\r\n\r\nx\r\n--b--",
                    "part 1: header line at byte 5 has no ':'");
    CHECK_PARSE_ERR("--b\r\n" CD_A " folded\r\n\r\nx\r\n--b--",
                    "part 1: folded header line at byte 45 is not supported");
    CHECK_PARSE_ERR("--b\r\n" CD_A "--b\r\n" CD_A "\r\nx\r\n--b--",
                    "part 1: header block at byte 5 is not ended by a blank line (a boundary follows at byte 45)");
    CHECK_PARSE_ERR(
        "--b\r\nContent-Disposition: form-data; name=\"a\\u0000\"; filename*=UTF-8''x%00y\r\n\r\nx\r\n--b--",
        "part 1: filename at byte 26 contains a NUL byte");
    static const char raw_nul[] = "--b\r\nContent-Disposition: form-data; name=\"a\0b\"\r\n\r\nx\r\n--b--";
    check_parse_error(raw_nul, sizeof raw_nul - 1, "part 1: name at byte 26 contains a NUL byte", __LINE__);
    CHECK_PARSE_ERR("--b\r\nContent-Disposition: form-data; name=a; filename*=UTF-8''x%0\r\n\r\nx\r\n--b--",
                    "part 1: filename* at byte 26 has a bad percent-encoding");
    CHECK_PARSE_ERR("--b\r\nContent-Disposition: form-data; name=a; filename*=UTF-8''x%g0\r\n\r\nx\r\n--b--",
                    "part 1: filename* at byte 26 has a bad percent-encoding");
    CHECK_PARSE_ERR("--b\r\nContent-Disposition: form-data; name=a; filename*=ISO-8859-1''caf%E9\r\n\r\nx\r\n--b--",
                    "part 1: filename* at byte 26 has charset 'ISO-8859-1', expected UTF-8");
    CHECK_PARSE_ERR("--b\r\nContent-Disposition: form-data; name=a; filename*=x.txt\r\n\r\nx\r\n--b--",
                    "part 1: filename* at byte 26 is not charset'language'value (RFC 5987)");
    CHECK_PARSE_ERR("--b\r\nContent-Disposition: form-data; name=a; filename=\"caf\xE9\"\r\n\r\nx\r\n--b--",
                    "part 1: filename at byte 26 is not valid UTF-8");
    CHECK_PARSE_ERR("--b\r\n" CD_A "Content-Type: a\r\ncontent-type: b\r\n\r\nx\r\n--b--",
                    "part 1: header at byte 62 repeats Content-Type");
}

TEST(multipart_parse_limit_errors) {
    char body[2 * MULTIPART_MAX_HEADER_BYTES + 1024];
    MultipartPart parts[MULTIPART_MAX_PARTS];
    int n = -1, k;
    Err err = {0};
    /* A header block of exactly the limit (blank line included) is fine; one byte more is not. */
    for (int extra = 0; extra <= 1; extra++) {
        int head = snprintf(body, sizeof body, "--b\r\n" CD_A "X-Long: ");
        int fill = MULTIPART_MAX_HEADER_BYTES - (head - 5) - 4 + extra;
        memset(body + head, 'x', (size_t)fill);
        k = head + fill;
        k += snprintf(body + k, sizeof body - (size_t)k, "\r\n\r\nx\r\n--b--");
        if (extra)
            check_parse_error(body, (size_t)k, "part 1: header block at byte 5 is longer than 8192 bytes", __LINE__);
        else
            CHECK_EQ_INT(parse(body, (size_t)k, "b", parts, &n, &err), 0);
    }
    /* Many short header lines. */
    k = snprintf(body, sizeof body, "--b\r\n" CD_A);
    while (k < MULTIPART_MAX_HEADER_BYTES + 100) k += snprintf(body + k, sizeof body - (size_t)k, "X: y\r\n");
    k += snprintf(body + k, sizeof body - (size_t)k, "\r\nx\r\n--b--");
    check_parse_error(body, (size_t)k, "part 1: header block at byte 5 is longer than 8192 bytes", __LINE__);

    /* Name and filename too long. */
    k = snprintf(body, sizeof body, "--b\r\nContent-Disposition: form-data; name=\"%0128d\"\r\n\r\nx\r\n--b--", 0);
    check_parse_error(body, (size_t)k, "part 1: name at byte 26 is longer than 127 bytes", __LINE__);
    k = snprintf(body, sizeof body, "--b\r\nContent-Disposition: form-data; name=\"%0127d\"\r\n\r\nx\r\n--b--", 0);
    n = -1;
    CHECK_EQ_INT(parse(body, (size_t)k, "b", parts, &n, &err), 0);
    REQUIRE(n == 1);
    CHECK_EQ_INT(strlen(parts[0].name), 127);
    k = snprintf(body, sizeof body,
                 "--b\r\nContent-Disposition: form-data; name=f; filename=\"%0256d\"\r\n\r\nx\r\n--b--", 0);
    check_parse_error(body, (size_t)k, "part 1: filename at byte 26 is longer than 255 bytes", __LINE__);
    k = snprintf(body, sizeof body, "--b\r\n" CD_A "Content-Type: %0128d\r\n\r\nx\r\n--b--", 0);
    check_parse_error(body, (size_t)k, "part 1: Content-Type at byte 59 is longer than 127 bytes", __LINE__);

    /* Too many parts: 17 with room for 16, then exactly max_parts fits. */
    k = 0;
    for (int i = 0; i < MULTIPART_MAX_PARTS + 1; i++)
        k += snprintf(body + k, sizeof body - (size_t)k,
                      "--b\r\nContent-Disposition: form-data; name=p%02d\r\n\r\nv\r\n", i);
    k += snprintf(body + k, sizeof body - (size_t)k, "--b--");
    check_parse_error(body, (size_t)k, "multipart body has more than 16 parts (part 17 starts at byte 837)", __LINE__);
    CHECK_EQ_INT(multipart_parse((const unsigned char *)body, (size_t)k, "b", parts, 2, &n, &err), -1);
    CHECK_STR(err.msg, "multipart body has more than 2 parts (part 3 starts at byte 109)");
    int cut = MULTIPART_MAX_PARTS * 52; /* each part is 52 bytes, its content's CRLF included */
    memcpy(body + cut, "--b--", 5);
    CHECK_EQ_INT(parse(body, (size_t)cut + 5, "b", parts, &n, &err), 0);
    CHECK_EQ_INT(n, 16);
    CHECK_STR(parts[15].name, "p15");

    /* A bad boundary from the caller is an argument error. */
    CHECK_EQ_INT(multipart_parse((const unsigned char *)"--b--", 5, "", parts, 16, &n, &err), -1);
    CHECK_EQ_INT(err.code, ERR_ARG);
    CHECK_EQ_INT(multipart_parse((const unsigned char *)"--b--", 5, "b\r", parts, 16, &n, &err), -1);
    CHECK_EQ_INT(err.code, ERR_ARG);
}

/* ---- random bodies through a tiny encoder ---- */

#define RT_BODIES 200
#define RT_CONTENT_MAX 400
#define RT_BODY_MAX (MULTIPART_MAX_PARTS * (RT_CONTENT_MAX + 1024) + 1024)

typedef struct {
    char name[32];
    char filename[64];
    bool has_filename, ext_filename;
    const char *type;
    unsigned char data[RT_CONTENT_MAX + 128];
    size_t len;
} RefPart;

static size_t put(unsigned char *out, size_t k, const void *s, size_t n) {
    memcpy(out + k, s, n);
    return k + n;
}

static size_t put_str(unsigned char *out, size_t k, const char *s) { return put(out, k, s, strlen(s)); }

/* A quoted-string with '"' and '\' backslash-escaped. */
static size_t put_quoted(unsigned char *out, size_t k, const char *s) {
    out[k++] = '"';
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') out[k++] = '\\';
        out[k++] = (unsigned char)*s;
    }
    out[k++] = '"';
    return k;
}

static size_t put_ext(unsigned char *out, size_t k, const char *s) {
    k = put_str(out, k, "UTF-8''");
    for (; *s; s++) k += (size_t)sprintf((char *)out + k, "%%%02X", (unsigned char)*s);
    return k;
}

static size_t encode(unsigned char *out, const char *boundary, const RefPart *p, int n, Rng *r) {
    bool lf = rng_next(r) % 4 == 0;
    const char *eol = lf ? "\n" : "\r\n";
    size_t k = 0;
    if (rng_next(r) % 3 == 0) k = put_str(out, k, "preamble\r\n--not\r\n");
    for (int i = 0; i < n; i++) {
        if (k || i) k = put_str(out, k, "\r\n");
        k = put_str(out, k, "--");
        k = put_str(out, k, boundary);
        if (rng_next(r) % 5 == 0) k = put_str(out, k, " \t");
        k = put_str(out, k, eol);
        k = put_str(out, k,
                    rng_next(r) % 2 ? "Content-Disposition: form-data; name=" : "content-disposition:form-data;name=");
        k = put_quoted(out, k, p[i].name);
        if (p[i].has_filename && p[i].ext_filename) {
            k = put_str(out, k, "; filename*=");
            k = put_ext(out, k, p[i].filename);
            k = put_str(out, k, "; filename=\"fallback.bin\"");
        } else if (p[i].has_filename) {
            k = put_str(out, k, "; filename=");
            k = put_quoted(out, k, p[i].filename);
        }
        k = put_str(out, k, eol);
        if (p[i].type) {
            k = put_str(out, k, "Content-Type: ");
            k = put_str(out, k, p[i].type);
            k = put_str(out, k, eol);
        }
        if (rng_next(r) % 4 == 0) {
            k = put_str(out, k, "X-Extra: 1");
            k = put_str(out, k, eol);
        }
        k = put_str(out, k, eol);
        k = put(out, k, p[i].data, p[i].len);
    }
    k = put_str(out, k, "\r\n--");
    k = put_str(out, k, boundary);
    k = put_str(out, k, "--");
    if (rng_next(r) % 2) k = put_str(out, k, "\r\nepilogue\r\n--");
    return k;
}

static void random_text(Rng *r, char *out, size_t max, const char *alphabet) {
    size_t n = 1 + rng_next(r) % (max - 1), a = strlen(alphabet);
    for (size_t i = 0; i < n; i++) out[i] = alphabet[rng_next(r) % a];
    out[n] = 0;
}

/* Content from single bytes and fragments: CR, LF, dashes, NUL, 0xff, a prefix of the boundary after
 * "\r\n--", and the whole boundary followed by a byte that makes it content. Boundary characters
 * other than '-' come only inside those fragments, so no real delimiter can form. */
static size_t random_content(Rng *r, unsigned char *out, const char *boundary) {
    static const char SINGLES[] = "\r\n-\t~\0\xff"; /* none of them a boundary character */
    size_t target = rng_next(r) % 8 == 0 ? 0 : rng_next(r) % RT_CONTENT_MAX, k = 0, blen = strlen(boundary);
    while (k < target) {
        switch (rng_next(r) % 6) {
        case 0: k = put_str(out, k, "--"); break;
        case 1: k = put_str(out, k, "\r\n"); break;
        case 2:
            k = put_str(out, k, "\r\n--");
            k = put(out, k, boundary, rng_next(r) % blen);
            break;
        case 3:
            k = put_str(out, k, "\r\n--");
            k = put_str(out, k, boundary);
            out[k++] = "x-\r"[rng_next(r) % 3];
            out[k++] = 'y';
            break;
        default: out[k++] = (unsigned char)SINGLES[rng_next(r) % (sizeof SINGLES - 1)];
        }
    }
    return k;
}

TEST(multipart_random_round_trip) {
    static const char *const BOUNDARIES[] = {
        HTTPX_BOUNDARY, "------------------------d74496d66958873e", "----WebKitFormBoundary7MA4YWxkTrZu0gW", "a", "x y",
        "'()+_,-./:=?"};
    static const char *const TYPES[] = {NULL, "application/octet-stream", "application/jsonl",
                                        "text/plain; charset=utf-8"};
    RefPart *ref = calloc(MULTIPART_MAX_PARTS, sizeof *ref);
    unsigned char *body = malloc(RT_BODY_MAX);
    REQUIRE(ref && body);
    Rng r;
    rng_seed(&r, 0x6d756c74u);
    int failures = 0;
    for (int t = 0; t < RT_BODIES && failures < 5; t++) {
        const char *boundary = BOUNDARIES[rng_next(&r) % 6];
        int n = (int)(rng_next(&r) % (MULTIPART_MAX_PARTS + 1));
        if (n == 0) n = 1 + t % 3;
        for (int i = 0; i < n; i++) {
            RefPart *p = &ref[i];
            random_text(&r, p->name, sizeof p->name, "abcXYZ_-09 \"\\;=");
            p->has_filename = rng_next(&r) % 2;
            p->ext_filename = rng_next(&r) % 2;
            random_text(&r, p->filename, sizeof p->filename, p->ext_filename ? "ab .;\"\\%'\xc3\xa9\r" : "ab .;\"\\%'");
            if (p->ext_filename && !p->has_filename) p->ext_filename = false;
            if (p->ext_filename) {
                /* Keep it valid UTF-8: replace a lone half of the two-byte sequence. */
                for (char *c = p->filename; *c; c++)
                    if ((unsigned char)*c == 0xc3 && (unsigned char)c[1] != 0xa9)
                        *c = 'c';
                    else if ((unsigned char)*c == 0xa9 && (c == p->filename || (unsigned char)c[-1] != 0xc3))
                        *c = 'c';
            }
            p->type = TYPES[rng_next(&r) % 4];
            p->len = random_content(&r, p->data, boundary);
        }
        size_t len = encode(body, boundary, ref, n, &r);
        REQUIRE(len <= RT_BODY_MAX);
        MultipartPart parts[MULTIPART_MAX_PARTS];
        int got = -1;
        Err err = {0};
        if (parse((const char *)body, len, boundary, parts, &got, &err) != 0) {
            test_fail(__FILE__, __LINE__, "body %d: %s", t, err.msg);
            failures++;
            continue;
        }
        bool ok = got == n;
        for (int i = 0; ok && i < n; i++) {
            const RefPart *p = &ref[i];
            ok = strcmp(parts[i].name, p->name) == 0 && parts[i].has_filename == p->has_filename &&
                 strcmp(parts[i].filename, p->has_filename ? p->filename : "") == 0 &&
                 strcmp(parts[i].content_type, p->type ? p->type : "") == 0 && parts[i].len == p->len &&
                 memcmp(parts[i].data, p->data, p->len) == 0;
            if (!ok) test_fail(__FILE__, __LINE__, "body %d part %d ('%s') differs", t, i, p->name);
        }
        if (got != n) test_fail(__FILE__, __LINE__, "body %d: %d parts, expected %d", t, got, n);
        failures += !ok;
    }
    free(ref);
    free(body);
}
