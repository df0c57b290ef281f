/* jdoc.h: a fast read-only JSON reader for one line of JSONL. It parses a whole document into a
 * flat array of nodes that point into the text (strings with escapes are decoded into a scratch
 * buffer), reusing its memory from one line to the next, so the validator's hot path neither
 * allocates nor copies. It accepts exactly what Jansson's json_loadb accepts with
 * JSON_DECODE_ANY | JSON_REJECT_DUPLICATES (RFC 8259 JSON in UTF-8; no duplicate object keys; no
 * \u0000; integers within int64; reals that do not overflow; at most JDOC_MAX_DEPTH nested
 * values), which tests/fuzz/validate.c checks against Jansson itself. It does not produce
 * Jansson's error messages (callers re-parse a rejected line with Jansson for those), does not
 * build mutable values, and does not serialise.
 *
 * A JDoc is owned by one thread at a time; nodes and strings stay valid until the next
 * jdoc_parse or jdoc_free. */
#ifndef FTUNE_JDOC_H
#define FTUNE_JDOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JDOC_MAX_DEPTH 2048            /* Jansson's JSON_PARSER_MAX_DEPTH */
#define JDOC_NONE UINT32_MAX           /* "no node" */
#define JDOC_TEXT_MAX (UINT32_MAX - 1) /* longest document (offsets are 32-bit) */
#define JDOC_ERR_MAX 128

typedef enum {
    JDOC_NULL = 0,
    JDOC_FALSE,
    JDOC_TRUE,
    JDOC_INT,
    JDOC_REAL,
    JDOC_STRING,
    JDOC_ARRAY,
    JDOC_OBJECT,
} JDocType;

typedef enum {
    JDOC_OK = 0,
    JDOC_SYNTAX = -1,   /* not JSON (or not what Jansson accepts) */
    JDOC_BAD_UTF8 = -2, /* invalid UTF-8 at err_pos */
    JDOC_TOO_MANY = -3, /* more values than max_nodes */
    JDOC_NOMEM = -4,
} JDocStatus;

typedef struct {
    uint32_t start; /* string: offset of its bytes (in text, or in scratch when in_scratch); else offset of the token */
    uint32_t len;   /* string: decoded length; number: token length; container: bytes from bracket to bracket */
    uint32_t next;  /* next sibling, or JDOC_NONE */
    uint32_t first; /* container: first child, or JDOC_NONE */
    uint32_t count; /* container: number of children (an object has two per member: key, then value) */
    uint8_t type;   /* JDocType */
    uint8_t in_scratch;
} JNode;

typedef struct JDocKey JDocKey;

typedef struct {
    const char *text; /* the document being read (not owned) */
    size_t len;
    JNode *nodes; /* nodes[0] is the root */
    uint32_t n_nodes, cap_nodes, max_nodes;
    char *scratch; /* decoded strings, each NUL-terminated */
    size_t scratch_cap;
    JDocKey *keys; /* temporary for the duplicate-key check */
    size_t keys_cap;
    size_t err_pos; /* byte offset of a parse error */
    char err_msg[JDOC_ERR_MAX];
} JDoc;

/* Prepares an empty reader that will accept at most max_nodes values per document. */
void jdoc_init(JDoc *d, uint32_t max_nodes);
void jdoc_free(JDoc *d); /* releases the buffers; the JDoc may be initialised again */

/* Parses text[0..len), which must be followed by a NUL byte (text[len] == 0). Returns JDOC_OK or a
 * negative JDocStatus with err_pos and err_msg set. */
int jdoc_parse(JDoc *d, const char *text, size_t len);

static inline JDocType jdoc_type(const JDoc *d, uint32_t n) { return (JDocType)d->nodes[n].type; }
static inline uint32_t jdoc_first(const JDoc *d, uint32_t n) { return d->nodes[n].first; }
static inline uint32_t jdoc_next(const JDoc *d, uint32_t n) { return d->nodes[n].next; }
/* Elements of an array, or members of an object. */
static inline uint32_t jdoc_size(const JDoc *d, uint32_t n) {
    return d->nodes[n].type == JDOC_OBJECT ? d->nodes[n].count / 2 : d->nodes[n].count;
}

/* The bytes of a string node (decoded; may contain any byte but NUL; not NUL-terminated when it
 * had no escapes). */
static inline const char *jdoc_str(const JDoc *d, uint32_t n, size_t *len) {
    const JNode *x = &d->nodes[n];
    *len = x->len;
    return (x->in_scratch ? d->scratch : d->text) + x->start;
}

/* The source text of a number, literal or container; for a string, its decoded bytes. */
const char *jdoc_raw(const JDoc *d, uint32_t n, size_t *len);

bool jdoc_str_eq(const JDoc *d, uint32_t n, const char *s); /* string node equal to s */

/* The value of key in an object node, or JDOC_NONE. */
uint32_t jdoc_get(const JDoc *d, uint32_t obj, const char *key);

/* An integer node's value. */
int64_t jdoc_int(const JDoc *d, uint32_t n);

/* "null", "a boolean", "a number", "a string", "a list", "an object" (for messages). */
const char *jdoc_type_phrase(JDocType t);

/* A 64-bit hash of a value that ignores whitespace, escapes and the order of object members: two
 * equal documents hash equal. */
uint64_t jdoc_hash(const JDoc *d, uint32_t n);

/* Hash building blocks, for callers that combine hashes they already have into the same value
 * jdoc_hash would give: an array is begin(count) then add() per element; an object is end() of
 * the sum of member(key hash, value hash) over its members, with count = 2 * members. */
uint64_t jdoc_hash_bytes(const void *p, size_t n, uint64_t seed);
uint64_t jdoc_hash_mix(uint64_t x);
uint64_t jdoc_hash_array_begin(uint32_t count);
uint64_t jdoc_hash_array_add(uint64_t h, uint64_t element);
uint64_t jdoc_hash_member(uint64_t key, uint64_t value);
uint64_t jdoc_hash_object_end(uint64_t member_sum, uint32_t count);

#endif
