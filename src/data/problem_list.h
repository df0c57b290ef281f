/* problem_list.h: the problems a validation finds, and the text helpers that describe them safely.
 * A ProblemList counts every problem but keeps at most `cap` errors and `cap` warnings (the first
 * found); at the end it lists errors before warnings, each in line order, `cap` in all. JSON paths
 * are kept as segments while checking and only formatted when a problem is reported. Client text
 * put in a message is escaped and shortened (problem_quote), so a message is always printable.
 * It does not decide what is a problem (dataset_rules.h, dataset_stats.h). A ProblemList belongs
 * to one thread. */
#ifndef FTUNE_PROBLEM_LIST_H
#define FTUNE_PROBLEM_LIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "validate.h"

#define JSON_PATH_DEPTH 8    /* segments kept; deeper paths end in "..." */
#define PROBLEM_QUOTE_MAX 40 /* bytes of client text quoted in a message or path */

typedef struct {
    const char *key; /* NULL for an index segment; not NUL-terminated */
    uint32_t key_len;
    long index;
} JsonPathSeg;

typedef struct {
    JsonPathSeg seg[JSON_PATH_DEPTH];
    int n; /* segments in use (may exceed JSON_PATH_DEPTH: the rest are dropped) */
} JsonPath;

static inline void json_path_key(JsonPath *p, const char *key, size_t len) {
    if (p->n < JSON_PATH_DEPTH) {
        p->seg[p->n].key = key;
        p->seg[p->n].key_len = (uint32_t)len;
        p->seg[p->n].index = 0;
    }
    p->n++;
}
static inline void json_path_index(JsonPath *p, long index) {
    if (p->n < JSON_PATH_DEPTH) {
        p->seg[p->n].key = NULL;
        p->seg[p->n].key_len = 0;
        p->seg[p->n].index = index;
    }
    p->n++;
}
static inline void json_path_pop(JsonPath *p) { p->n--; }

/* Formats "messages[2].role" (keys that are not plain identifiers are written ["..."]). */
void json_path_format(const JsonPath *p, char *buf, size_t cap);

/* Writes s[0..len) as a double-quoted string with JSON escapes, cut after PROBLEM_QUOTE_MAX bytes
 * (at a character boundary) with "..." added. Returns buf. */
char *problem_quote(char *buf, size_t cap, const char *s, size_t len);

typedef struct {
    ValidateProblem *errors, *warnings;
    long n_errors, n_warnings; /* kept */
    long total_errors, total_warnings;
    long cap;
    bool nomem;
} ProblemList;

void problem_list_init(ProblemList *pl, long cap);
void problem_list_free(ProblemList *pl);

/* Counts a problem and keeps it if there is room. path and message are copied (truncated to
 * their fields). */
void problem_list_add(ProblemList *pl, long line, ValidateSeverity sev, const char *code, const char *path,
                      const char *message);

/* Moves the listed problems (errors first, each severity by line, at most cap) into a new array.
 * Returns 0, or -1 when out of memory. */
int problem_list_take(ProblemList *pl, ValidateProblem **out, long *n_out);

#endif
