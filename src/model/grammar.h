/* grammar.h: a context-free grammar over bytes, the compiled form of a response format (a JSON
 * Schema, or "any JSON object") that constrained decoding runs (constrain.h). A grammar is a list
 * of rules; a rule is a list of alternatives; an alternative is a sequence of elements: a byte set,
 * a reference to a rule, or a JSON string's content (the bytes after the opening quote up to and
 * including the closing quote: escapes and UTF-8 checked, matched by a small automaton so that
 * long strings cost one stack frame). Left recursion is refused when the grammar is checked (the
 * matcher expands rules depth-first and would never end). It knows nothing of JSON Schema
 * (json_schema.c builds grammars) nor of tokens (constrain.c walks them). */
#ifndef FTUNE_GRAMMAR_H
#define FTUNE_GRAMMAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/err.h"

#define GRAMMAR_MAX_ELEMS (1 << 22) /* elements of one grammar: bounds what a schema may compile to */

typedef enum {
    GE_END = 0, /* ends a rule's last alternative */
    GE_ALT,     /* ends an alternative; another follows */
    GE_SET,     /* one byte of the set arg */
    GE_REF,     /* rule arg */
    GE_STRING,  /* a JSON string's content and its closing quote */
} GElemKind;

typedef struct {
    uint32_t kind; /* GElemKind */
    uint32_t arg;  /* GE_SET: set index; GE_REF: rule index */
} GElem;

typedef struct {
    uint64_t bits[4];
} ByteSet;

static inline bool byteset_has(const ByteSet *s, unsigned char c) { return (s->bits[c >> 6] >> (c & 63)) & 1; }

typedef struct {
    GElem *elems;     // (n_elems) every rule's alternatives, each rule's ending with GE_END
    int n_elems, cap_elems;
    int32_t *start;   // (n_rules) index of each rule's first element, -1 while only declared
    char **origin;    // (n_rules) what each rule stands for (a schema path), for error messages; may be NULL
    int n_rules, cap_rules;
    ByteSet *sets;    // (n_sets)
    int n_sets, cap_sets;
    int root;
} Grammar;

/* A rule body being built: alternatives separated by GE_ALT (no final GE_END). */
typedef struct {
    GElem *e;
    int n, cap;
} GBody;

void grammar_init(Grammar *g);
void grammar_free(Grammar *g); /* NULL is a no-op */
/* Declares a new rule (its body comes later with grammar_define) and returns its index, -1 on
 * ERR_NOMEM. origin (may be NULL) is copied. */
int grammar_declare(Grammar *g, const char *origin, Err *err);
/* Sets rule r's body (consumed and reset). ERR_NOMEM, or ERR_ARG past GRAMMAR_MAX_ELEMS. */
int grammar_define(Grammar *g, int r, GBody *b, Err *err);
/* Index of a byte set holding bytes lo..hi, shared with an equal set already made; -1 on ERR_NOMEM. */
int grammar_set_range(Grammar *g, unsigned char lo, unsigned char hi, Err *err);
int grammar_set(Grammar *g, const ByteSet *s, Err *err);

/* Appending to a body; each returns 0 or -1 (ERR_NOMEM). */
int gbody_push(GBody *b, GElemKind kind, uint32_t arg, Err *err);
int gbody_alt(GBody *b, Err *err);                                    /* ends an alternative */
int gbody_ref(GBody *b, int rule, Err *err);
int gbody_bytes(Grammar *g, GBody *b, const char *s, size_t n, Err *err); /* these exact bytes */
void gbody_free(GBody *b);

/* A grammar whose documents are exactly the n choices (their bytes, no quoting): the reply is one
 * of a set of labels. ERR_ARG for no choices. */
int grammar_choices(Grammar *g, const char *const *choices, int n, Err *err);

/* Checks that every rule is defined and that no rule can reach itself without consuming a byte
 * (left recursion): ERR_ARG naming the rule's origin. Also finds which rules can match nothing. */
int grammar_check(const Grammar *g, Err *err);

#endif
