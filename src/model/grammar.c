/* grammar.c: building byte-level grammars and checking them (see grammar.h). */
#include "grammar.h"

#include <stdlib.h>
#include <string.h>

void grammar_init(Grammar *g) {
    memset(g, 0, sizeof *g);
    g->root = -1;
}

void grammar_free(Grammar *g) {
    if (!g) return;
    for (int i = 0; i < g->n_rules; i++) free(g->origin[i]);
    free(g->origin);
    free(g->start);
    free(g->elems);
    free(g->sets);
    memset(g, 0, sizeof *g);
}

/* Makes room for one more item of size sz in *p (n used, *cap allocated). */
static int grow(void **p, int n, int *cap, size_t sz) {
    if (n < *cap) return 0;
    int c = *cap ? *cap * 2 : 16;
    void *q = realloc(*p, (size_t)c * sz);
    if (!q) return -1;
    *p = q;
    *cap = c;
    return 0;
}

int grammar_declare(Grammar *g, const char *origin, Err *err) {
    if (g->n_rules == g->cap_rules) {
        int c = g->cap_rules ? g->cap_rules * 2 : 16;
        int32_t *st = realloc(g->start, (size_t)c * sizeof *st);
        if (st) g->start = st;
        char **or = st ? realloc(g->origin, (size_t)c * sizeof *or) : NULL;
        if (!or) return err_set(err, ERR_NOMEM, "out of memory");
        g->origin = or;
        g->cap_rules = c;
    }
    g->start[g->n_rules] = -1;
    g->origin[g->n_rules] = origin ? strdup(origin) : NULL;
    return g->n_rules++;
}

int grammar_define(Grammar *g, int r, GBody *b, Err *err) {
    if ((long)g->n_elems + b->n + 1 > GRAMMAR_MAX_ELEMS)
        return err_set(err, ERR_ARG, "the response format compiles to more than %d grammar elements", GRAMMAR_MAX_ELEMS);
    while (g->cap_elems < g->n_elems + b->n + 1)
        if (grow((void **)&g->elems, g->cap_elems, &g->cap_elems, sizeof *g->elems))
            return err_set(err, ERR_NOMEM, "out of memory");
    g->start[r] = g->n_elems;
    if (b->n) memcpy(g->elems + g->n_elems, b->e, (size_t)b->n * sizeof *b->e);
    g->n_elems += b->n;
    g->elems[g->n_elems++] = (GElem){GE_END, 0};
    b->n = 0;
    return 0;
}

int grammar_set(Grammar *g, const ByteSet *s, Err *err) {
    for (int i = 0; i < g->n_sets; i++)
        if (memcmp(&g->sets[i], s, sizeof *s) == 0) return i;
    if (grow((void **)&g->sets, g->n_sets, &g->cap_sets, sizeof *g->sets)) return err_set(err, ERR_NOMEM, "out of memory");
    g->sets[g->n_sets] = *s;
    return g->n_sets++;
}

int grammar_set_range(Grammar *g, unsigned char lo, unsigned char hi, Err *err) {
    ByteSet s = {{0}};
    for (int c = lo; c <= hi; c++) s.bits[c >> 6] |= 1ull << (c & 63);
    return grammar_set(g, &s, err);
}

int gbody_push(GBody *b, GElemKind kind, uint32_t arg, Err *err) {
    if (grow((void **)&b->e, b->n, &b->cap, sizeof *b->e)) return err_set(err, ERR_NOMEM, "out of memory");
    b->e[b->n++] = (GElem){kind, arg};
    return 0;
}

int gbody_alt(GBody *b, Err *err) { return gbody_push(b, GE_ALT, 0, err); }

int gbody_ref(GBody *b, int rule, Err *err) { return gbody_push(b, GE_REF, (uint32_t)rule, err); }

int gbody_bytes(Grammar *g, GBody *b, const char *s, size_t n, Err *err) {
    for (size_t i = 0; i < n; i++) {
        int set = grammar_set_range(g, (unsigned char)s[i], (unsigned char)s[i], err);
        if (set < 0 || gbody_push(b, GE_SET, (uint32_t)set, err)) return -1;
    }
    return 0;
}

void gbody_free(GBody *b) {
    if (!b) return;
    free(b->e);
    memset(b, 0, sizeof *b);
}

/* Can rule r match the empty string, given what is known of the others (nullable[]). */
static bool rule_nullable(const Grammar *g, int r, const bool *nullable) {
    for (int i = g->start[r];; i++) { /* each alternative: nullable when all its elements are */
        bool all = true;
        for (; g->elems[i].kind != GE_ALT && g->elems[i].kind != GE_END; i++)
            if (g->elems[i].kind != GE_REF || !nullable[g->elems[i].arg]) all = false;
        if (all) return true;
        if (g->elems[i].kind == GE_END) return false;
    }
}

/* Depth-first search for a cycle through the rules each rule can reach before consuming a byte.
 * state: 0 unvisited, 1 on the path, 2 done. Returns the rule closing a cycle, or -1. */
static int left_cycle(const Grammar *g, int r, const bool *nullable, uint8_t *state) {
    if (state[r] == 1) return r;
    if (state[r] == 2) return -1;
    state[r] = 1;
    for (int i = g->start[r]; g->elems[i].kind != GE_END; i++) {
        if (g->elems[i].kind == GE_ALT) continue;
        /* the leftmost elements of this alternative, up to the first that must consume */
        for (; g->elems[i].kind == GE_REF; i++) {
            int hit = left_cycle(g, (int)g->elems[i].arg, nullable, state);
            if (hit >= 0) return hit;
            if (!nullable[g->elems[i].arg]) break;
        }
        while (g->elems[i].kind != GE_ALT && g->elems[i].kind != GE_END) i++;
        if (g->elems[i].kind == GE_END) break;
    }
    state[r] = 2;
    return -1;
}

int grammar_check(const Grammar *g, Err *err) {
    if (g->root < 0 || g->root >= g->n_rules) return err_set(err, ERR_ARG, "the grammar has no root rule");
    for (int r = 0; r < g->n_rules; r++)
        if (g->start[r] < 0)
            return err_set(err, ERR_ARG, "rule %s is referenced but never defined", g->origin[r] ? g->origin[r] : "?");
    bool *nullable = calloc((size_t)g->n_rules, sizeof *nullable);
    uint8_t *state = calloc((size_t)g->n_rules, 1);
    if (!nullable || !state) {
        free(nullable);
        free(state);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    for (bool changed = true; changed;) { /* least fixed point */
        changed = false;
        for (int r = 0; r < g->n_rules; r++)
            if (!nullable[r] && rule_nullable(g, r, nullable)) nullable[r] = changed = true;
    }
    int hit = -1;
    for (int r = 0; r < g->n_rules && hit < 0; r++) hit = left_cycle(g, r, nullable, state);
    free(nullable);
    free(state);
    if (hit >= 0)
        return err_set(err, ERR_ARG, "%s refers to itself before any text is produced (left recursion)",
                       g->origin[hit] ? g->origin[hit] : "a rule");
    return 0;
}

int grammar_choices(Grammar *g, const char *const *choices, int n, Err *err) {
    grammar_init(g);
    if (n <= 0) return err_set(err, ERR_ARG, "no choices to constrain the reply to");
    GBody b = {0};
    int root = grammar_declare(g, "choices", err), rc = root < 0 ? -1 : 0;
    for (int i = 0; !rc && i < n; i++)
        rc = (i && gbody_alt(&b, err)) || gbody_bytes(g, &b, choices[i], strlen(choices[i]), err) ? -1 : 0;
    if (!rc) rc = grammar_define(g, root, &b, err);
    gbody_free(&b);
    if (rc) return -1;
    g->root = root;
    return grammar_check(g, err);
}
