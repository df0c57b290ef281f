/* constrain.c: the grammar matcher and the token mask (see constrain.h). Frames live in one
 * growable array addressed by index (frame 0 is the empty stack); a state is a range of "tops"
 * (a frame index per stack). While a mask is computed, the walk down the vocabulary tree keeps one
 * state per depth and gives back what a subtree used when it moves to a sibling; after a token is
 * taken, the live frames are copied to the front so that the arrays stay as large as the state. */
#include "constrain.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    uint32_t pos;    /* element of the grammar this stack is at */
    uint32_t parent; /* the frame below (0: none) */
    uint32_t aux;    /* GE_STRING: the string automaton's state */
} Frame;

typedef struct {
    uint64_t hash;
    uint32_t *key; /* the state: each stack's (pos, aux) pairs down to the bottom, then ~0 */
    int key_len;
    uint64_t *mask;
    int n_allowed;
} CachedMask;

struct Matcher {
    const Grammar *g;
    const VocabTrie *t;
    Frame *fr;
    uint32_t n_fr, cap_fr;
    uint32_t *tops;
    uint32_t n_tops, cap_tops;
    uint32_t n_state; /* tops[0..n_state) is the current state, frames [1..n_live) hold it */
    uint32_t n_live;
    uint32_t *lvl;    // (3 * (max_depth + 1)): per depth of the walk, its tops range and frames mark
    uint32_t *remap;  // (cap_fr) frame copying
    Frame *fr2;       // (cap_fr) frame copying
    uint32_t *key;
    int key_len, key_cap;
    CachedMask cache[MATCHER_CACHE];
    int cache_next;
    bool oom;
};

/* String automaton (after the opening quote). States: */
enum { S_CHAR = 0, S_ESC, S_HEX4, S_HEX3, S_HEX2, S_HEX1, S_CONT1, S_CONT2, S_E0, S_ED, S_CONT3, S_F0, S_F4 };
#define S_CLOSE (-2)
#define S_BAD (-1)

static inline bool is_hex(unsigned c) { return (c - '0' < 10) || ((c | 32) - 'a' < 6); }

/* Next state of the string automaton on byte c: a state, S_CLOSE (the closing quote) or S_BAD. */
static inline int string_step(uint32_t s, unsigned c) {
    switch (s) {
    case S_CHAR:
        if (c == '"') return S_CLOSE;
        if (c == '\\') return S_ESC;
        if (c < 0x20) return S_BAD;
        if (c < 0x80) return S_CHAR;
        if (c >= 0xC2 && c <= 0xDF) return S_CONT1;
        if (c == 0xE0) return S_E0;
        if (c == 0xED) return S_ED;
        if (c >= 0xE1 && c <= 0xEF) return S_CONT2;
        if (c == 0xF0) return S_F0;
        if (c >= 0xF1 && c <= 0xF3) return S_CONT3;
        if (c == 0xF4) return S_F4;
        return S_BAD;
    case S_ESC:
        if (c == 'u') return S_HEX4;
        return strchr("\"\\/bfnrt", (int)c) && c ? S_CHAR : S_BAD;
    case S_HEX4: case S_HEX3: case S_HEX2: return is_hex(c) ? (int)s + 1 : S_BAD;
    case S_HEX1: return is_hex(c) ? S_CHAR : S_BAD;
    case S_CONT1: return c >= 0x80 && c <= 0xBF ? S_CHAR : S_BAD;
    case S_CONT2: return c >= 0x80 && c <= 0xBF ? S_CONT1 : S_BAD;
    case S_E0: return c >= 0xA0 && c <= 0xBF ? S_CONT1 : S_BAD;
    case S_ED: return c >= 0x80 && c <= 0x9F ? S_CONT1 : S_BAD;
    case S_CONT3: return c >= 0x80 && c <= 0xBF ? S_CONT2 : S_BAD;
    case S_F0: return c >= 0x90 && c <= 0xBF ? S_CONT2 : S_BAD;
    case S_F4: return c >= 0x80 && c <= 0x8F ? S_CONT2 : S_BAD;
    }
    return S_BAD;
}

static uint32_t frame_new(Matcher *m, uint32_t pos, uint32_t parent, uint32_t aux) {
    if (m->n_fr == m->cap_fr) {
        uint32_t cap = m->cap_fr * 2;
        Frame *f = realloc(m->fr, cap * sizeof *f);
        Frame *f2 = f ? realloc(m->fr2, cap * sizeof *f2) : NULL;
        if (f) m->fr = f;
        if (f2) m->fr2 = f2;
        uint32_t *r = f2 ? realloc(m->remap, cap * sizeof *r) : NULL;
        if (!r) {
            m->oom = true;
            return 0;
        }
        m->remap = r;
        m->cap_fr = cap;
    }
    m->fr[m->n_fr] = (Frame){pos, parent, aux};
    return m->n_fr++;
}

/* Adds top f to the state being built from tops[from..], unless an equal stack is there. */
static void top_add(Matcher *m, uint32_t from, uint32_t f) {
    const Frame *a = &m->fr[f];
    for (uint32_t i = from; i < m->n_tops; i++) {
        uint32_t o = m->tops[i];
        if (o == f) return;
        if (f && o && m->fr[o].pos == a->pos && m->fr[o].parent == a->parent && m->fr[o].aux == a->aux) return;
    }
    if (m->n_tops == m->cap_tops) {
        uint32_t *t = realloc(m->tops, 2 * m->cap_tops * sizeof *t);
        if (!t) {
            m->oom = true;
            return;
        }
        m->tops = t;
        m->cap_tops *= 2;
    }
    m->tops[m->n_tops++] = f;
}

static inline bool alt_end(const GElem *e) { return e->kind == GE_END || e->kind == GE_ALT; }

/* Expands stack f until every stack's top consumes a byte (a byte set or a string), adding those
 * (and the empty stack, when a stack is exhausted) to the state built from tops[from..]. */
static void expand(Matcher *m, uint32_t from, uint32_t f) {
    if (!f) {
        top_add(m, from, 0);
        return;
    }
    const GElem *els = m->g->elems;
    uint32_t pos = m->fr[f].pos;
    if (els[pos].kind != GE_REF) {
        top_add(m, from, f);
        return;
    }
    uint32_t parent = m->fr[f].parent;
    uint32_t base = alt_end(&els[pos + 1]) ? parent : frame_new(m, pos + 1, parent, 0); /* the continuation */
    if (m->oom) return;
    for (int32_t a = m->g->start[els[pos].arg];; a++) {
        if (alt_end(&els[a])) {
            expand(m, from, base); /* an empty alternative */
        } else {
            uint32_t nf = frame_new(m, (uint32_t)a, base, 0);
            if (m->oom) return;
            expand(m, from, nf);
            while (!alt_end(&els[a])) a++;
        }
        if (els[a].kind == GE_END) break;
    }
}

/* Advances stack f over byte c into the state built from tops[from..]. */
static inline void step(Matcher *m, uint32_t from, uint32_t f, unsigned c) {
    const Frame fr = m->fr[f];
    const GElem *e = &m->g->elems[fr.pos];
    if (e->kind == GE_STRING) {
        int s = string_step(fr.aux, c);
        if (s == S_BAD) return;
        if (s != S_CLOSE) {
            uint32_t nf = frame_new(m, fr.pos, fr.parent, (uint32_t)s);
            if (!m->oom) top_add(m, from, nf);
            return;
        }
    } else if (!byteset_has(&m->g->sets[e->arg], (unsigned char)c)) {
        return;
    }
    if (alt_end(e + 1)) {
        expand(m, from, fr.parent);
    } else {
        uint32_t nf = frame_new(m, fr.pos + 1, fr.parent, 0);
        if (!m->oom) expand(m, from, nf);
    }
}

void matcher_free(Matcher *m) {
    if (!m) return;
    for (int i = 0; i < MATCHER_CACHE; i++) {
        free(m->cache[i].key);
        free(m->cache[i].mask);
    }
    free(m->fr);
    free(m->fr2);
    free(m->remap);
    free(m->tops);
    free(m->lvl);
    free(m->key);
    free(m);
}

/* Copies the frames of the state tops[from..to) to the front; it becomes the current state. A
 * frame's parent is always older (a lower index), so copying in index order finds parents copied. */
static void compact(Matcher *m, uint32_t from, uint32_t to) {
    memset(m->remap, 0, m->n_fr * sizeof *m->remap);
    for (uint32_t i = from; i < to; i++) /* mark the live frames */
        for (uint32_t f = m->tops[i]; f && !m->remap[f]; f = m->fr[f].parent) m->remap[f] = 1;
    uint32_t n = 1;
    for (uint32_t f = 1; f < m->n_fr; f++) {
        if (!m->remap[f]) continue;
        m->fr2[n] = m->fr[f];
        m->fr2[n].parent = m->fr[f].parent ? m->remap[m->fr[f].parent] : 0;
        m->remap[f] = n++;
    }
    for (uint32_t i = from; i < to; i++) m->tops[i - from] = m->tops[i] ? m->remap[m->tops[i]] : 0;
    Frame *t = m->fr;
    m->fr = m->fr2;
    m->fr2 = t;
    m->n_fr = m->n_live = n;
    m->n_tops = m->n_state = to - from;
}

int matcher_new(const Grammar *g, const VocabTrie *t, Matcher **out, Err *err) {
    *out = NULL;
    Matcher *m = calloc(1, sizeof *m);
    if (!m) return err_set(err, ERR_NOMEM, "out of memory");
    m->g = g;
    m->t = t;
    m->cap_fr = 256;
    m->cap_tops = 256;
    m->fr = malloc(m->cap_fr * sizeof *m->fr);
    m->fr2 = malloc(m->cap_fr * sizeof *m->fr2);
    m->remap = malloc(m->cap_fr * sizeof *m->remap);
    m->tops = malloc(m->cap_tops * sizeof *m->tops);
    m->lvl = malloc(3 * ((size_t)t->max_depth + 1) * sizeof *m->lvl);
    if (!m->fr || !m->fr2 || !m->remap || !m->tops || !m->lvl) {
        matcher_free(m);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    m->n_fr = 1;
    /* the start: a stack for each alternative of the root rule */
    for (int32_t a = g->start[g->root];; a++) {
        if (alt_end(&g->elems[a])) {
            top_add(m, 0, 0);
        } else {
            expand(m, 0, frame_new(m, (uint32_t)a, 0, 0));
            while (!alt_end(&g->elems[a])) a++;
        }
        if (g->elems[a].kind == GE_END) break;
    }
    if (m->oom) {
        matcher_free(m);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    compact(m, 0, m->n_tops);
    *out = m;
    return 0;
}

int matcher_advance(Matcher *m, const char *bytes, size_t n, Err *err) {
    uint32_t from = 0, to = m->n_state;
    m->n_fr = m->n_live;
    m->n_tops = m->n_state;
    for (size_t i = 0; i < n && from < to; i++) {
        uint32_t start = m->n_tops;
        for (uint32_t k = from; k < to; k++)
            if (m->tops[k]) step(m, start, m->tops[k], (unsigned char)bytes[i]);
        from = start;
        to = m->n_tops;
    }
    if (m->oom) {
        m->oom = false;
        m->n_fr = m->n_live;
        m->n_tops = m->n_state;
        return err_set(err, ERR_NOMEM, "out of memory in the grammar matcher");
    }
    if (from == to) { /* refused: back to the state before */
        m->n_fr = m->n_live;
        m->n_tops = m->n_state;
        return 1;
    }
    if (n) compact(m, from, to);
    return 0;
}

bool matcher_accepts(Matcher *m, const char *bytes, size_t n) {
    uint32_t from = 0, to = m->n_state;
    m->n_tops = m->n_state;
    for (size_t i = 0; i < n && from < to && !m->oom; i++) {
        uint32_t start = m->n_tops;
        for (uint32_t k = from; k < to; k++)
            if (m->tops[k]) step(m, start, m->tops[k], (unsigned char)bytes[i]);
        from = start;
        to = m->n_tops;
    }
    bool ok = from < to && !m->oom;
    m->oom = false;
    m->n_fr = m->n_live;
    m->n_tops = m->n_state;
    return ok;
}

bool matcher_accepting(const Matcher *m) {
    for (uint32_t i = 0; i < m->n_state; i++)
        if (!m->tops[i]) return true;
    return false;
}

bool matcher_finished(const Matcher *m) { return m->n_state == 1 && m->tops[0] == 0; }

/* The current state as a key (each stack's frames, top first) and its hash. */
static uint64_t state_key(Matcher *m) {
    m->key_len = 0;
    for (uint32_t i = 0; i < m->n_state; i++) {
        for (uint32_t f = m->tops[i];; f = m->fr[f].parent) {
            if (m->key_len + 2 > m->key_cap) {
                int cap = m->key_cap ? 2 * m->key_cap : 64;
                uint32_t *k = realloc(m->key, (size_t)cap * sizeof *k);
                if (!k) {
                    m->oom = true;
                    return 0;
                }
                m->key = k;
                m->key_cap = cap;
            }
            if (!f) {
                m->key[m->key_len++] = ~0u;
                break;
            }
            m->key[m->key_len++] = m->fr[f].pos;
            m->key[m->key_len++] = m->fr[f].aux;
        }
    }
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < m->key_len; i++) h = (h ^ m->key[i]) * 1099511628211ull;
    return h;
}

int matcher_mask(Matcher *m, uint64_t *allowed, Err *err) {
    const VocabTrie *t = m->t;
    size_t words = ((size_t)t->vocab + 63) / 64;
    uint64_t h = state_key(m);
    if (m->oom) {
        m->oom = false;
        return err_set(err, ERR_NOMEM, "out of memory in the grammar matcher");
    }
    for (int i = 0; i < MATCHER_CACHE; i++) {
        CachedMask *c = &m->cache[i];
        if (c->mask && c->hash == h && c->key_len == m->key_len &&
            memcmp(c->key, m->key, (size_t)m->key_len * sizeof *m->key) == 0) {
            memcpy(allowed, c->mask, words * sizeof *allowed);
            return c->n_allowed;
        }
    }
    memset(allowed, 0, words * sizeof *allowed);
    uint32_t *lvl = m->lvl; /* depth d: tops [lvl[3d], lvl[3d+1]), frames used up to lvl[3d+2] */
    lvl[0] = 0;
    lvl[1] = m->n_state;
    lvl[2] = m->n_live;
    int n_allowed = 0;
    for (uint32_t i = 0; i < (uint32_t)t->n_nodes;) {
        int d = t->depth[i];
        const uint32_t *up = &lvl[3 * (d - 1)];
        m->n_tops = up[1];
        m->n_fr = up[2];
        uint32_t start = m->n_tops;
        for (uint32_t k = up[0]; k < up[1]; k++)
            if (m->tops[k]) step(m, start, m->tops[k], t->byte[i]);
        if (m->oom) break;
        if (m->n_tops == start) {
            i = t->end[i]; /* no stack takes this byte: skip every token below */
            continue;
        }
        uint32_t *here = &lvl[3 * d];
        here[0] = start;
        here[1] = m->n_tops;
        here[2] = m->n_fr;
        for (uint32_t k = t->tok_first[i]; k < t->tok_first[i + 1]; k++) {
            int32_t id = t->toks[k];
            allowed[id >> 6] |= 1ull << (id & 63);
            n_allowed++;
        }
        i++;
    }
    m->n_fr = m->n_live;
    m->n_tops = m->n_state;
    if (m->oom) {
        m->oom = false;
        return err_set(err, ERR_NOMEM, "out of memory in the grammar matcher");
    }
    CachedMask *c = &m->cache[m->cache_next];
    uint32_t *key = realloc(c->key, (size_t)m->key_len * sizeof *key + 1);
    uint64_t *mask = key ? (c->mask ? c->mask : malloc(words * sizeof *mask)) : NULL;
    if (key) c->key = key;
    if (mask) { /* a failed cache entry only costs speed */
        c->mask = mask;
        memcpy(c->key, m->key, (size_t)m->key_len * sizeof *key);
        memcpy(c->mask, allowed, words * sizeof *allowed);
        c->key_len = m->key_len;
        c->hash = h;
        c->n_allowed = n_allowed;
        m->cache_next = (m->cache_next + 1) % MATCHER_CACHE;
    }
    return n_allowed;
}
