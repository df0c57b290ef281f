/* multipart.h: a multipart/form-data parser (RFC 7578 over RFC 2046) for `POST /v1/files`.
 * It takes the boundary out of the request's Content-Type and splits a complete body held in
 * memory into parts in one linear pass: each part's name, filename (filename* per RFC 5987 wins
 * over filename), Content-Type, and a pointer to its content inside the body. Content is binary
 * and is never copied; delimiters are the exact bytes CRLF "--" boundary. Header blocks may use
 * bare LF line endings (some clients do).
 *
 * It does not stream (the caller holds the whole body), allocate, decode Content-Transfer-Encoding
 * (deprecated by RFC 7578), percent-decode plain `filename="..."` values (browsers' %22 stays as
 * is), convert charsets other than UTF-8/US-ASCII, unfold folded header lines, or handle nested
 * multipart/mixed parts. All functions are thread-safe (no state). */
#ifndef FTUNE_MULTIPART_H
#define FTUNE_MULTIPART_H

#include <stdbool.h>
#include <stddef.h>

#include "../core/err.h"

#define MULTIPART_MAX_PARTS 16
#define MULTIPART_MAX_HEADER_BYTES 8192   /* bytes of one part's header block */
#define MULTIPART_NAME_MAX 128            /* form field name, NUL included */
#define MULTIPART_FILENAME_MAX 256        /* file name, NUL included */
#define MULTIPART_TYPE_MAX 128
#define MULTIPART_BOUNDARY_MAX 71         /* RFC 2046: 1..70 characters, NUL included */

typedef struct {
    char name[MULTIPART_NAME_MAX];          /* Content-Disposition name="..." (decoded) */
    char filename[MULTIPART_FILENAME_MAX];  /* filename="..." or filename*=UTF-8''... (decoded) */
    bool has_filename;
    char content_type[MULTIPART_TYPE_MAX];  /* "" when the part has none */
    const unsigned char *data;              /* points into the body: the part's content */
    size_t len;
} MultipartPart;

/* Extracts the boundary from a Content-Type header value such as
 * `multipart/form-data; boundary=----abc` or `multipart/form-data; boundary="a b"` (case-insensitive
 * media type and parameter name; quoted or token value; 1..70 characters per RFC 2046). ERR_FORMAT
 * with a clear message when the type is not multipart/form-data or the boundary is missing/invalid.
 * out receives the NUL-terminated boundary; size must be at least MULTIPART_BOUNDARY_MAX or the
 * boundary's length + 1 (ERR_ARG otherwise). */
int multipart_boundary(const char *content_type, char *out, size_t size, Err *err);

/* Parses a complete body. parts[0..*n_parts-1] point into body (no copies of content). ERR_FORMAT
 * with a message that says what is wrong and at which byte offset: no opening boundary, a part
 * without Content-Disposition: form-data, a header block too long or not ended by a blank line,
 * a truncated body (no closing `--boundary--`), more than max_parts parts, a name/filename too long.
 * ERR_ARG when boundary is not a valid RFC 2046 boundary. The parts stay valid as long as body.
 * On error *n_parts is 0. */
int multipart_parse(const unsigned char *body, size_t len, const char *boundary, MultipartPart *parts,
                    int max_parts, int *n_parts, Err *err);

/* The first part named name, or NULL. */
const MultipartPart *multipart_find(const MultipartPart *parts, int n, const char *name);

#endif
