/* vector_store_filter.c: attribute filters of vector store searches and the attributes they read
 * (see vector_store_filter.h). Pure functions of the JSON: no store, no HTTP. */
#include "vector_store_filter.h"

#include <stdio.h>
#include <string.h>

static const char *const COMPARISONS[] = {"eq", "ne", "gt", "gte", "lt", "lte", "in", "nin"};
#define N_COMPARISONS (sizeof COMPARISONS / sizeof COMPARISONS[0])

static bool is_scalar(json_t *v) { return json_is_string(v) || json_is_number(v) || json_is_boolean(v); }

static int check_node(json_t *f, const char *param, int depth, int *nodes, ApiError *e) {
    char at[96];
    if (++*nodes > VS_FILTER_NODES)
        return api_bad_param(e, param, "a filter may hold at most %d filters in all.", VS_FILTER_NODES);
    if (!json_is_object(f))
        return api_bad_param(e, param, "expected a comparison filter {\"type\", \"key\", \"value\"} or a compound filter "
                                       "{\"type\": \"and\" | \"or\", \"filters\"}.");
    const char *type = json_string_value(json_object_get(f, "type"));
    snprintf(at, sizeof at, "%s.type", param);
    if (!json_object_get(f, "type")) return api_missing_param(e, at);
    if (!type) return api_bad_param(e, at, "expected a string.");
    if (!strcmp(type, "and") || !strcmp(type, "or")) {
        static const char *const FIELDS[] = {"type", "filters"};
        if (api_check_fields_at(f, param, FIELDS, 2, e)) return -1;
        json_t *list = json_object_get(f, "filters");
        snprintf(at, sizeof at, "%s.filters", param);
        if (!list) return api_missing_param(e, at);
        if (!json_is_array(list)) return api_bad_param(e, at, "expected an array of filters.");
        if (depth >= VS_FILTER_DEPTH)
            return api_bad_param(e, at, "compound filters nest at most %d deep.", VS_FILTER_DEPTH);
        size_t i;
        json_t *sub;
        json_array_foreach(list, i, sub) {
            snprintf(at, sizeof at, "%s.filters[%zu]", param, i);
            if (check_node(sub, at, depth + 1, nodes, e)) return -1;
        }
        return 0;
    }
    size_t k = 0;
    while (k < N_COMPARISONS && strcmp(type, COMPARISONS[k])) k++;
    if (k == N_COMPARISONS)
        return api_bad_param(e, at, "expected one of eq, ne, gt, gte, lt, lte, in, nin (a comparison) or and, or "
                                    "(a compound filter), but got '%.40s'.", type);
    static const char *const FIELDS[] = {"type", "key", "value"};
    if (api_check_fields_at(f, param, FIELDS, 3, e)) return -1;
    json_t *key = json_object_get(f, "key"), *value = json_object_get(f, "value");
    snprintf(at, sizeof at, "%s.key", param);
    if (!key) return api_missing_param(e, at);
    if (!json_is_string(key)) return api_bad_param(e, at, "expected a string.");
    snprintf(at, sizeof at, "%s.value", param);
    if (!value) return api_missing_param(e, at);
    bool list = !strcmp(type, "in") || !strcmp(type, "nin"), order = type[0] == 'g' || type[0] == 'l';
    if (list) {
        if (!json_is_array(value)) return api_bad_param(e, at, "%s takes an array of strings and numbers.", type);
        size_t i;
        json_t *v;
        json_array_foreach(value, i, v) {
            if (!json_is_string(v) && !json_is_number(v)) {
                snprintf(at, sizeof at, "%s.value[%zu]", param, i);
                return api_bad_param(e, at, "expected a string or a number.");
            }
        }
    } else if (order ? !json_is_string(value) && !json_is_number(value) : !is_scalar(value)) {
        return api_bad_param(e, at, order ? "%s takes a number or a string." : "%s takes a string, a number or a boolean.",
                             type);
    }
    return 0;
}

int vs_filter_check(json_t *f, const char *param, ApiError *e) {
    int nodes = 0;
    return check_node(f, param, 0, &nodes, e);
}

static bool equal(json_t *a, json_t *b) {
    if (json_is_number(a) && json_is_number(b)) return json_number_value(a) == json_number_value(b);
    if (json_is_string(a) && json_is_string(b))
        return json_string_length(a) == json_string_length(b) &&
               !memcmp(json_string_value(a), json_string_value(b), json_string_length(a));
    if (json_is_boolean(a) && json_is_boolean(b)) return json_is_true(a) == json_is_true(b);
    return false;
}

/* -1, 0, 1 comparing a with b of the same type (number or string); 2 when they cannot be ordered. */
static int order(json_t *a, json_t *b) {
    if (json_is_number(a) && json_is_number(b)) {
        double x = json_number_value(a), y = json_number_value(b);
        return x < y ? -1 : x > y;
    }
    if (json_is_string(a) && json_is_string(b)) {
        size_t la = json_string_length(a), lb = json_string_length(b);
        int c = memcmp(json_string_value(a), json_string_value(b), la < lb ? la : lb);
        return c ? (c < 0 ? -1 : 1) : la < lb ? -1 : la > lb;
    }
    return 2;
}

bool vs_filter_match(json_t *f, json_t *attributes) {
    const char *type = json_string_value(json_object_get(f, "type"));
    if (!type) return false;
    if (!strcmp(type, "and") || !strcmp(type, "or")) {
        bool all = type[0] == 'a';
        size_t i;
        json_t *sub;
        json_array_foreach(json_object_get(f, "filters"), i, sub) {
            if (vs_filter_match(sub, attributes) != all) return !all;
        }
        return all;
    }
    json_t *have = json_object_get(attributes, json_string_value(json_object_get(f, "key")));
    json_t *value = json_object_get(f, "value");
    bool negated = !strcmp(type, "ne") || !strcmp(type, "nin");
    if (!have) return negated;
    if (!strcmp(type, "eq") || !strcmp(type, "ne")) return equal(have, value) != negated;
    if (!strcmp(type, "in") || !strcmp(type, "nin")) {
        size_t i;
        json_t *v;
        json_array_foreach(value, i, v) {
            if (equal(have, v)) return !negated;
        }
        return negated;
    }
    int c = order(have, value);
    if (c == 2) return false;
    return !strcmp(type, "gt") ? c > 0 : !strcmp(type, "gte") ? c >= 0 : !strcmp(type, "lt") ? c < 0 : c <= 0;
}

int vs_check_attributes(json_t *attributes, const char *param, ApiError *e) {
    if (!attributes || json_is_null(attributes)) return 0;
    if (!json_is_object(attributes))
        return api_bad_param(e, param, "expected an object of strings, numbers and booleans.");
    if (json_object_size(attributes) > API_METADATA_PAIRS)
        return api_bad_param(e, param, "at most %d key-value pairs are allowed.", API_METADATA_PAIRS);
    const char *key;
    json_t *v;
    json_object_foreach(attributes, key, v) {
        if (strlen(key) > API_METADATA_KEY_MAX)
            return api_bad_param(e, param, "keys are at most %d characters ('%.40s...').", API_METADATA_KEY_MAX, key);
        char at[96];
        snprintf(at, sizeof at, "%s.%s", param, key);
        if (!is_scalar(v)) return api_bad_param(e, at, "expected a string, a number or a boolean.");
        if (json_is_string(v) && json_string_length(v) > API_METADATA_VALUE_MAX)
            return api_bad_param(e, at, "strings are at most %d characters.", API_METADATA_VALUE_MAX);
    }
    return 0;
}
