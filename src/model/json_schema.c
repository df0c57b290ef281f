/* json_schema.c: JSON Schema (OpenAI's strict subset) and json_object mode compiled to byte
 * grammars (see json_schema.h). One rule per schema node; $ref targets get one rule each, declared
 * before they are compiled so that recursive schemas close on themselves. */
#include "json_schema.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATH_MAX_LEN 256

typedef struct {
    char *ref;
    int rule;
} RefRule;

typedef struct {
    Grammar *g;
    json_t *doc;
    bool strict;
    Err *err;
    int ws, string, number, integer, boolean, null; /* shared rules, -1 until made */
    RefRule *refs;
    int n_refs, cap_refs;
    int depth;
} Compiler;

/* Keywords of the subset; annotations (description, title, $schema, $comment) are accepted and
 * have no effect. Anything else is refused by name. */
static const char *const KNOWN[] = {"type",    "properties", "required", "additionalProperties", "items",
                                    "minItems", "maxItems",  "enum",     "const",                "anyOf",
                                    "$ref",     "$defs",     "definitions", "description",       "title",
                                    "$schema",  "$comment"};

static int unsupported(Compiler *c, const char *path, const char *keyword, const char *why) {
    return err_set(c->err, ERR_UNSUPPORTED, "'%s' at %s is not supported%s", keyword, path, why);
}

/* path + "/" + key (JSON pointer escaping ~ and /), truncated to PATH_MAX_LEN. */
static void path_join(char *out, const char *path, const char *key) {
    size_t n = (size_t)snprintf(out, PATH_MAX_LEN, "%s/", path);
    for (const char *k = key; *k && n + 3 < PATH_MAX_LEN; k++) {
        if (*k == '~' || *k == '/') {
            out[n++] = '~';
            out[n++] = *k == '~' ? '0' : '1';
        } else {
            out[n++] = *k;
        }
    }
    out[n < PATH_MAX_LEN ? n : PATH_MAX_LEN - 1] = 0;
}

static int body_lit(Compiler *c, GBody *b, const char *s) { return gbody_bytes(c->g, b, s, strlen(s), c->err); }

/* A new rule with the body b (consumed). */
static int rule_from(Compiler *c, const char *origin, GBody *b) {
    int r = grammar_declare(c->g, origin, c->err);
    if (r < 0 || grammar_define(c->g, r, b, c->err)) return -1;
    return r;
}

/* ws ::= "" | " " | "\n" ind_SCHEMA_MAX_INDENT;  ind_k ::= "" | " " ind_(k-1) */
static int ws_rule(Compiler *c) {
    if (c->ws >= 0) return c->ws;
    GBody b = {0};
    int ind = rule_from(c, "whitespace", &b); /* ind_0: empty */
    for (int k = 1; ind >= 0 && k <= SCHEMA_MAX_INDENT; k++) {
        if (gbody_alt(&b, c->err) || body_lit(c, &b, " ") || gbody_ref(&b, ind, c->err)) ind = -1;
        else ind = rule_from(c, "whitespace", &b);
    }
    if (ind >= 0 && !gbody_alt(&b, c->err) && !body_lit(c, &b, " ") && !gbody_alt(&b, c->err) &&
        !body_lit(c, &b, "\n") && !gbody_ref(&b, ind, c->err))
        c->ws = rule_from(c, "whitespace", &b);
    gbody_free(&b);
    return c->ws;
}

/* digits_k ::= "" | [0-9] digits_(k-1): up to k more digits. */
static int digits_rule(Compiler *c, int k) {
    GBody b = {0};
    int r = rule_from(c, "digits", &b), d = grammar_set_range(c->g, '0', '9', c->err);
    for (int i = 1; r >= 0 && i <= k; i++) {
        if (d < 0 || gbody_alt(&b, c->err) || gbody_push(&b, GE_SET, (uint32_t)d, c->err) || gbody_ref(&b, r, c->err))
            r = -1;
        else
            r = rule_from(c, "digits", &b);
    }
    gbody_free(&b);
    return r;
}

/* integer ::= "-"? ("0" | [1-9] digits);  number ::= integer ("." [0-9] digits)? ([eE] [+-]? [0-9] digits)? */
static int number_rule(Compiler *c, bool integer) {
    if (integer ? c->integer >= 0 : c->number >= 0) return integer ? c->integer : c->number;
    GBody b = {0};
    int digits = digits_rule(c, SCHEMA_MAX_DIGITS - 1), exp_digits = digits_rule(c, 2);
    int d09 = grammar_set_range(c->g, '0', '9', c->err), d19 = grammar_set_range(c->g, '1', '9', c->err);
    ByteSet es = {{0}}, sign = {{0}};
    es.bits['e' >> 6] |= 1ull << ('e' & 63);
    es.bits['E' >> 6] |= 1ull << ('E' & 63);
    sign.bits['+' >> 6] |= 1ull << ('+' & 63);
    sign.bits['-' >> 6] |= 1ull << ('-' & 63);
    int ee = grammar_set(c->g, &es, c->err);
    int sg = grammar_set(c->g, &sign, c->err);
    int r = -1;
    if (digits < 0 || exp_digits < 0 || d09 < 0 || d19 < 0 || ee < 0 || sg < 0) goto done;
    /* nat ::= "0" | [1-9] digits */
    if (body_lit(c, &b, "0") || gbody_alt(&b, c->err) || gbody_push(&b, GE_SET, (uint32_t)d19, c->err) ||
        gbody_ref(&b, digits, c->err))
        goto done;
    int nat = rule_from(c, "integer", &b);
    if (nat < 0 || body_lit(c, &b, "-") || gbody_ref(&b, nat, c->err) || gbody_alt(&b, c->err) || gbody_ref(&b, nat, c->err))
        goto done;
    int in = rule_from(c, "integer", &b);
    if (in < 0) goto done;
    c->integer = in;
    if (integer) {
        r = in;
        goto done;
    }
    /* frac ::= "" | "." [0-9] digits;  exp ::= "" | [eE] sign [0-9] digits;  sign ::= "" | [+-] */
    if (gbody_alt(&b, c->err) || body_lit(c, &b, ".") || gbody_push(&b, GE_SET, (uint32_t)d09, c->err) ||
        gbody_ref(&b, digits, c->err))
        goto done;
    int frac = rule_from(c, "number", &b);
    if (frac < 0 || gbody_alt(&b, c->err) || gbody_push(&b, GE_SET, (uint32_t)sg, c->err)) goto done;
    int sgn = rule_from(c, "number", &b);
    if (sgn < 0 || gbody_alt(&b, c->err) || gbody_push(&b, GE_SET, (uint32_t)ee, c->err) || gbody_ref(&b, sgn, c->err) ||
        gbody_push(&b, GE_SET, (uint32_t)d09, c->err) || gbody_ref(&b, exp_digits, c->err))
        goto done;
    int ex = rule_from(c, "number", &b);
    if (ex < 0 || gbody_ref(&b, in, c->err) || gbody_ref(&b, frac, c->err) || gbody_ref(&b, ex, c->err)) goto done;
    r = c->number = rule_from(c, "number", &b);
done:
    gbody_free(&b);
    return r;
}

/* string ::= '"' <string content and closing quote> */
static int string_rule(Compiler *c) {
    if (c->string >= 0) return c->string;
    GBody b = {0};
    if (!body_lit(c, &b, "\"") && !gbody_push(&b, GE_STRING, 0, c->err)) c->string = rule_from(c, "string", &b);
    gbody_free(&b);
    return c->string;
}

/* A rule whose alternatives are the given literal texts. */
static int literals_rule(Compiler *c, const char *origin, const char *const *lits, int n) {
    GBody b = {0};
    int r = -1;
    for (int i = 0; i < n; i++)
        if ((i && gbody_alt(&b, c->err)) || body_lit(c, &b, lits[i])) goto done;
    r = rule_from(c, origin, &b);
done:
    gbody_free(&b);
    return r;
}

static int compile(Compiler *c, json_t *s, const char *path);

/* Resolves a local reference ("#", "#/$defs/name", any JSON pointer into the document). */
static json_t *resolve(Compiler *c, const char *ref) {
    if (ref[0] != '#') return NULL;
    json_t *at = c->doc;
    const char *p = ref + 1;
    while (*p == '/' && at) {
        p++;
        char key[PATH_MAX_LEN];
        size_t n = 0;
        for (; *p && *p != '/' && n + 1 < sizeof key; p++) {
            if (*p == '~' && (p[1] == '0' || p[1] == '1')) key[n++] = *++p == '0' ? '~' : '/';
            else key[n++] = *p;
        }
        key[n] = 0;
        if (json_is_object(at)) {
            at = json_object_get(at, key);
        } else if (json_is_array(at)) {
            char *end;
            long i = strtol(key, &end, 10);
            at = *key && !*end && i >= 0 ? json_array_get(at, (size_t)i) : NULL;
        } else {
            at = NULL;
        }
    }
    return *p ? NULL : at;
}

static int compile_ref(Compiler *c, const char *ref, const char *path) {
    for (int i = 0; i < c->n_refs; i++)
        if (strcmp(c->refs[i].ref, ref) == 0) return c->refs[i].rule;
    json_t *target = resolve(c, ref);
    if (!target)
        return err_set(c->err, ERR_ARG, "'$ref' at %s: '%.100s' does not point into this schema (only local "
                       "references such as '#/$defs/name' are supported)", path, ref);
    if (c->n_refs == c->cap_refs) {
        int cap = c->cap_refs ? 2 * c->cap_refs : 8;
        RefRule *r = realloc(c->refs, (size_t)cap * sizeof *r);
        if (!r) return err_set(c->err, ERR_NOMEM, "out of memory");
        c->refs = r;
        c->cap_refs = cap;
    }
    char origin[PATH_MAX_LEN + 16];
    snprintf(origin, sizeof origin, "'$ref' at %s", path);
    int rule = grammar_declare(c->g, origin, c->err);
    char *copy = strdup(ref);
    if (rule < 0 || !copy) {
        free(copy);
        return rule < 0 ? -1 : err_set(c->err, ERR_NOMEM, "out of memory");
    }
    c->refs[c->n_refs++] = (RefRule){copy, rule};
    char tpath[PATH_MAX_LEN];
    snprintf(tpath, sizeof tpath, "%s", ref);
    int depth = c->depth;
    c->depth = 0; /* a reference starts a fresh nesting count: recursion is bounded by the grammar */
    int inner = compile(c, target, tpath);
    c->depth = depth;
    GBody b = {0};
    int rc = inner < 0 || gbody_ref(&b, inner, c->err) || grammar_define(c->g, rule, &b, c->err) ? -1 : rule;
    gbody_free(&b);
    return rc;
}

static int compile_object(Compiler *c, json_t *s, const char *path) {
    json_t *props = json_object_get(s, "properties"), *req = json_object_get(s, "required"),
           *add = json_object_get(s, "additionalProperties");
    char sub[PATH_MAX_LEN];
    if (props && !json_is_object(props))
        return err_set(c->err, ERR_ARG, "'properties' at %s must be an object", path);
    if (add && !json_is_false(add))
        return unsupported(c, path, "additionalProperties", " unless it is false (every object's properties are "
                                                           "listed in 'properties')");
    if (c->strict && !add)
        return err_set(c->err, ERR_ARG, "In context=%s, 'additionalProperties' is required to be supplied and to be false "
                       "(strict mode)", path);
    if (req && !json_is_array(req)) return err_set(c->err, ERR_ARG, "'required' at %s must be an array", path);
    for (size_t i = 0; i < json_array_size(req); i++) {
        json_t *k = json_array_get(req, i);
        if (!json_is_string(k)) return err_set(c->err, ERR_ARG, "'required' at %s must hold strings", path);
        if (!props || !json_object_get(props, json_string_value(k)))
            return err_set(c->err, ERR_ARG, "'required' at %s names '%.100s', which is not in 'properties'", path,
                           json_string_value(k));
    }
    const char *key;
    json_t *v;
    if (c->strict) {
        json_object_foreach(props, key, v) {
            bool listed = false;
            for (size_t i = 0; i < json_array_size(req) && !listed; i++)
                listed = strcmp(json_string_value(json_array_get(req, i)), key) == 0;
            if (!listed)
                return err_set(c->err, ERR_ARG, "In context=%s, 'required' is required to be supplied and to be an array "
                               "including every key in properties (strict mode). Missing '%.100s'", path, key);
        }
    }
    int ws = ws_rule(c);
    if (ws < 0) return -1;
    GBody b = {0};
    int r = -1, i = 0;
    if (body_lit(c, &b, "{") || gbody_ref(&b, ws, c->err)) goto done;
    path_join(sub, path, "properties");
    json_object_foreach(props, key, v) { /* jansson keeps the insertion order: the schema's */
        char ppath[PATH_MAX_LEN];
        path_join(ppath, sub, key);
        int pr = compile(c, v, ppath);
        json_t *ks = json_string(key);
        char *kt = ks ? json_dumps(ks, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
        json_decref(ks);
        bool bad = pr < 0 || !kt || (i++ && (gbody_ref(&b, ws, c->err) || body_lit(c, &b, ",") || gbody_ref(&b, ws, c->err))) ||
                   body_lit(c, &b, kt) || gbody_ref(&b, ws, c->err) || body_lit(c, &b, ":") || gbody_ref(&b, ws, c->err) ||
                   gbody_ref(&b, pr, c->err);
        free(kt);
        if (bad) {
            if (pr >= 0 && !c->err->code) err_set(c->err, ERR_NOMEM, "out of memory");
            goto done;
        }
    }
    if ((i && gbody_ref(&b, ws, c->err)) || body_lit(c, &b, "}")) goto done;
    r = rule_from(c, path, &b);
done:
    gbody_free(&b);
    return r;
}

/* Reads minItems / maxItems: 0 absent (*v untouched), 1 read, -1 error. */
static int items_bound(Compiler *c, json_t *s, const char *key, const char *path, long *v) {
    json_t *x = json_object_get(s, key);
    if (!x) return 0;
    if (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) > SCHEMA_MAX_ITEMS_UNROLL)
        return err_set(c->err, ERR_UNSUPPORTED, "'%s' at %s must be an integer from 0 to %d", key, path,
                       SCHEMA_MAX_ITEMS_UNROLL);
    *v = (long)json_integer_value(x);
    return 1;
}

/* array ::= "[" ws "]" (when minItems is 0) | "[" ws I (ws "," ws I){min-1} rest ws "]", where rest is
 * an unbounded tail or a chain of up to max - min optional items. */
static int compile_array(Compiler *c, json_t *s, const char *path) {
    json_t *items = json_object_get(s, "items");
    char sub[PATH_MAX_LEN];
    if (!items) return err_set(c->err, ERR_ARG, "'items' is required at %s (an array schema says what its items are)", path);
    if (!json_is_object(items))
        return unsupported(c, path, "items", " unless it is one schema (tuple forms are not in the strict subset)");
    long lo = 0, hi = -1;
    if (items_bound(c, s, "minItems", path, &lo) < 0 || items_bound(c, s, "maxItems", path, &hi) < 0) return -1;
    if (hi >= 0 && hi < lo) return err_set(c->err, ERR_ARG, "'maxItems' at %s is below 'minItems'", path);
    path_join(sub, path, "items");
    int it = compile(c, items, sub), ws = ws_rule(c);
    if (it < 0 || ws < 0) return -1;
    GBody b = {0};
    int r = -1, rest = -1;
    long first = lo > 1 ? lo : 1;
    /* rest: tail ::= "" | ws "," ws I tail, or opt_k ::= "" | ws "," ws I opt_(k-1) */
    if (hi < 0) {
        if ((rest = grammar_declare(c->g, path, c->err)) < 0 || gbody_alt(&b, c->err) || gbody_ref(&b, ws, c->err) ||
            body_lit(c, &b, ",") || gbody_ref(&b, ws, c->err) || gbody_ref(&b, it, c->err) || gbody_ref(&b, rest, c->err) ||
            grammar_define(c->g, rest, &b, c->err))
            goto done;
    } else if (hi > 0) {
        if ((rest = rule_from(c, path, &b)) < 0) goto done;
        for (long k = first; k < hi; k++)
            if (gbody_alt(&b, c->err) || gbody_ref(&b, ws, c->err) || body_lit(c, &b, ",") || gbody_ref(&b, ws, c->err) ||
                gbody_ref(&b, it, c->err) || gbody_ref(&b, rest, c->err) || (rest = rule_from(c, path, &b)) < 0)
                goto done;
    }
    if (body_lit(c, &b, "[") || gbody_ref(&b, ws, c->err)) goto done;
    if (lo == 0 && (body_lit(c, &b, "]") || (hi != 0 && (gbody_alt(&b, c->err) || body_lit(c, &b, "[") ||
                                                           gbody_ref(&b, ws, c->err)))))
        goto done;
    if (hi != 0) {
        if (gbody_ref(&b, it, c->err)) goto done;
        for (long k = 1; k < first; k++)
            if (gbody_ref(&b, ws, c->err) || body_lit(c, &b, ",") || gbody_ref(&b, ws, c->err) || gbody_ref(&b, it, c->err))
                goto done;
        if (gbody_ref(&b, rest, c->err) || gbody_ref(&b, ws, c->err) || body_lit(c, &b, "]")) goto done;
    }
    r = rule_from(c, path, &b);
done:
    gbody_free(&b);
    return r;
}

static int compile_type(Compiler *c, json_t *s, const char *type, const char *path) {
    if (strcmp(type, "object") == 0) return compile_object(c, s, path);
    if (strcmp(type, "array") == 0) return compile_array(c, s, path);
    if (strcmp(type, "string") == 0) return string_rule(c);
    if (strcmp(type, "number") == 0) return number_rule(c, false);
    if (strcmp(type, "integer") == 0) return number_rule(c, true);
    if (strcmp(type, "boolean") == 0) {
        if (c->boolean < 0) c->boolean = literals_rule(c, "boolean", (const char *const[]){"true", "false"}, 2);
        return c->boolean;
    }
    if (strcmp(type, "null") == 0) {
        if (c->null < 0) c->null = literals_rule(c, "null", (const char *const[]){"null"}, 1);
        return c->null;
    }
    return err_set(c->err, ERR_ARG, "'type' at %s: '%.40s' is not a JSON Schema type", path, type);
}

/* enum / const: the values' compact JSON texts as alternatives. */
static int compile_enum(Compiler *c, json_t *values, bool is_const, const char *path) {
    if (!is_const && (!json_is_array(values) || json_array_size(values) == 0))
        return err_set(c->err, ERR_ARG, "'enum' at %s must be a non-empty array", path);
    size_t n = is_const ? 1 : json_array_size(values);
    char **lits = calloc(n, sizeof *lits);
    int r = -1;
    if (!lits) return err_set(c->err, ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        if (!(lits[i] = json_dumps(is_const ? values : json_array_get(values, i), JSON_ENCODE_ANY | JSON_COMPACT))) {
            err_set(c->err, ERR_NOMEM, "out of memory");
            goto done;
        }
    r = literals_rule(c, path, (const char *const *)lits, (int)n);
done:
    for (size_t i = 0; i < n; i++) free(lits[i]);
    free(lits);
    return r;
}

static int compile(Compiler *c, json_t *s, const char *path) {
    if (!json_is_object(s))
        return err_set(c->err, ERR_UNSUPPORTED, "the schema at %s is not an object (boolean schemas are not supported)", path);
    if (++c->depth > SCHEMA_MAX_DEPTH) {
        c->depth--;
        return err_set(c->err, ERR_UNSUPPORTED, "the schema at %s nests deeper than %d levels", path, SCHEMA_MAX_DEPTH);
    }
    const char *key;
    json_t *v;
    int r = -1;
    json_object_foreach(s, key, v) {
        bool known = false;
        for (size_t i = 0; i < sizeof KNOWN / sizeof KNOWN[0] && !known; i++) known = strcmp(key, KNOWN[i]) == 0;
        if (!known) {
            unsupported(c, path, key, " by ftune's structured outputs (OpenAI's strict subset: type, properties, "
                                      "required, additionalProperties, items, minItems, maxItems, enum, const, "
                                      "anyOf, $ref, $defs)");
            goto out;
        }
    }
    json_t *ref = json_object_get(s, "$ref"), *any = json_object_get(s, "anyOf"), *type = json_object_get(s, "type"),
           *en = json_object_get(s, "enum"), *cst = json_object_get(s, "const");
    int kinds = !!ref + !!any + !!(en || cst);
    if (kinds > 1 || (kinds && type && !en && !cst)) {
        unsupported(c, path, ref ? "$ref" : "anyOf", " together with other keywords that constrain the value");
        goto out;
    }
    if (ref) {
        if (!json_is_string(ref)) err_set(c->err, ERR_ARG, "'$ref' at %s must be a string", path);
        else r = compile_ref(c, json_string_value(ref), path);
    } else if (any) {
        if (!json_is_array(any) || json_array_size(any) == 0) {
            err_set(c->err, ERR_ARG, "'anyOf' at %s must be a non-empty array", path);
            goto out;
        }
        GBody b = {0};
        char sub[PATH_MAX_LEN], apath[PATH_MAX_LEN];
        path_join(sub, path, "anyOf");
        for (size_t i = 0; i < json_array_size(any); i++) {
            char idx[24];
            snprintf(idx, sizeof idx, "%zu", i);
            path_join(apath, sub, idx);
            int a = compile(c, json_array_get(any, i), apath);
            if (a < 0 || (i && gbody_alt(&b, c->err)) || gbody_ref(&b, a, c->err)) {
                gbody_free(&b);
                goto out;
            }
        }
        r = rule_from(c, path, &b);
        gbody_free(&b);
    } else if (en || cst) {
        if (en && cst) unsupported(c, path, "const", " together with 'enum'");
        else r = compile_enum(c, en ? en : cst, !en, path);
    } else if (json_is_string(type)) {
        r = compile_type(c, s, json_string_value(type), path);
    } else if (json_is_array(type) && json_array_size(type) > 0) {
        GBody b = {0};
        for (size_t i = 0; i < json_array_size(type); i++) {
            json_t *t = json_array_get(type, i);
            int a = json_is_string(t) ? compile_type(c, s, json_string_value(t), path)
                                      : err_set(c->err, ERR_ARG, "'type' at %s must hold type names", path);
            if (a < 0 || (i && gbody_alt(&b, c->err)) || gbody_ref(&b, a, c->err)) {
                gbody_free(&b);
                goto out;
            }
        }
        r = rule_from(c, path, &b);
        gbody_free(&b);
    } else if (type) {
        err_set(c->err, ERR_ARG, "'type' at %s must be a type name or an array of them", path);
    } else {
        err_set(c->err, ERR_UNSUPPORTED, "the schema at %s says nothing of its value: give it a 'type', 'enum', "
                "'const', 'anyOf' or '$ref'", path);
    }
out:
    c->depth--;
    return r;
}

static void compiler_init(Compiler *c, Grammar *g, json_t *doc, bool strict, Err *err) {
    memset(c, 0, sizeof *c);
    *c = (Compiler){.g = g, .doc = doc, .strict = strict, .err = err, .ws = -1, .string = -1, .number = -1,
                    .integer = -1, .boolean = -1, .null = -1};
}

static void compiler_free(Compiler *c) {
    for (int i = 0; i < c->n_refs; i++) free(c->refs[i].ref);
    free(c->refs);
}

int json_schema_compile(const char *text, size_t len, bool strict, Grammar *out, Err *err) {
    Err local = {0};
    if (!err) err = &local;
    grammar_init(out);
    json_error_t je;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!doc) return err_set(err, ERR_ARG, "the schema is not valid JSON: %s (line %d)", je.text, je.line);
    Compiler c;
    compiler_init(&c, out, doc, strict, err);
    int rc = -1;
    if (strict && !json_is_object(doc))
        err_set(err, ERR_ARG, "the schema must be a JSON Schema object");
    else if (strict && !(json_is_string(json_object_get(doc, "type")) &&
                         strcmp(json_string_value(json_object_get(doc, "type")), "object") == 0))
        err_set(err, ERR_ARG, "schema must be a JSON Schema of 'type: \"object\"' (strict mode; not anyOf, $ref or "
                              "another type at the root)");
    else if ((out->root = compile(&c, doc, "#")) >= 0)
        rc = grammar_check(out, err);
    compiler_free(&c);
    json_decref(doc);
    return rc;
}

int json_object_grammar(Grammar *out, Err *err) {
    grammar_init(out);
    Compiler c;
    compiler_init(&c, out, NULL, false, err);
    GBody b = {0};
    int rc = -1, ws = ws_rule(&c), str = string_rule(&c), num = number_rule(&c, false);
    int value = grammar_declare(out, "value", err), members = grammar_declare(out, "object", err),
        values = grammar_declare(out, "array", err);
    int lits = literals_rule(&c, "literal", (const char *const[]){"true", "false", "null"}, 3);
    if (ws < 0 || str < 0 || num < 0 || value < 0 || members < 0 || values < 0 || lits < 0) goto done;
    /* member ::= string ws ":" ws value;  members ::= "" | ws "," ws member members */
    if (gbody_ref(&b, str, err) || gbody_ref(&b, ws, err) || body_lit(&c, &b, ":") || gbody_ref(&b, ws, err) ||
        gbody_ref(&b, value, err))
        goto done;
    int member = rule_from(&c, "object", &b);
    if (member < 0 || gbody_alt(&b, err) || gbody_ref(&b, ws, err) || body_lit(&c, &b, ",") || gbody_ref(&b, ws, err) ||
        gbody_ref(&b, member, err) || gbody_ref(&b, members, err) || grammar_define(out, members, &b, err))
        goto done;
    /* object ::= "{" ws "}" | "{" ws member members ws "}" */
    if (body_lit(&c, &b, "{") || gbody_ref(&b, ws, err) || body_lit(&c, &b, "}") || gbody_alt(&b, err) ||
        body_lit(&c, &b, "{") || gbody_ref(&b, ws, err) || gbody_ref(&b, member, err) || gbody_ref(&b, members, err) ||
        gbody_ref(&b, ws, err) || body_lit(&c, &b, "}"))
        goto done;
    int object = rule_from(&c, "object", &b);
    /* values ::= "" | ws "," ws value values;  array ::= "[" ws "]" | "[" ws value values ws "]" */
    if (object < 0 || gbody_alt(&b, err) || gbody_ref(&b, ws, err) || body_lit(&c, &b, ",") || gbody_ref(&b, ws, err) ||
        gbody_ref(&b, value, err) || gbody_ref(&b, values, err) || grammar_define(out, values, &b, err))
        goto done;
    if (body_lit(&c, &b, "[") || gbody_ref(&b, ws, err) || body_lit(&c, &b, "]") || gbody_alt(&b, err) ||
        body_lit(&c, &b, "[") || gbody_ref(&b, ws, err) || gbody_ref(&b, value, err) || gbody_ref(&b, values, err) ||
        gbody_ref(&b, ws, err) || body_lit(&c, &b, "]"))
        goto done;
    int array = rule_from(&c, "array", &b);
    /* value ::= object | array | string | number | true | false | null */
    if (array < 0 || gbody_ref(&b, object, err) || gbody_alt(&b, err) || gbody_ref(&b, array, err) || gbody_alt(&b, err) ||
        gbody_ref(&b, str, err) || gbody_alt(&b, err) || gbody_ref(&b, num, err) || gbody_alt(&b, err) ||
        gbody_ref(&b, lits, err) || grammar_define(out, value, &b, err))
        goto done;
    out->root = object;
    rc = grammar_check(out, err);
done:
    gbody_free(&b);
    compiler_free(&c);
    return rc;
}
