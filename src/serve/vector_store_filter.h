/* vector_store_filter.h: the `filters` of POST /v1/vector_stores/{id}/search, OpenAI's attribute
 * filters, checked once when the request is parsed and then evaluated against each file's
 * attributes. A comparison filter {"type": eq|ne|gt|gte|lt|lte|in|nin, "key", "value"} compares
 * the file's attribute `key` with value; a compound filter {"type": and|or, "filters": [...]}
 * combines filters of either kind (nested at most VS_FILTER_DEPTH deep, VS_FILTER_NODES filters in
 * all). Semantics (the spec leaves some open; these are ftune's):
 * - eq / ne: value a string, number or boolean; equal when the attribute has the same JSON type
 *   and value (numbers compared as numbers: 1 equals 1.0). ne is the negation of eq.
 * - gt / gte / lt / lte: value a number or a string; the attribute must be of the same type
 *   (numbers by value, strings by their UTF-8 bytes, so ISO dates order correctly), else no match.
 * - in / nin: value an array of strings and numbers; in matches when eq matches one of them, nin
 *   is its negation.
 * - A file without the key matches only ne and nin. and of no filters matches every file, or of
 *   none no file.
 * Also the attributes themselves (OpenAI's limits: at most 16 keys of up to 64 characters, values
 * strings of up to 512 characters, numbers or booleans), checked where files are attached. */
#ifndef FTUNE_VECTOR_STORE_FILTER_H
#define FTUNE_VECTOR_STORE_FILTER_H

#include <jansson.h>
#include <stdbool.h>

#include "api.h"

#define VS_FILTER_DEPTH 8    /* compound filters nested */
#define VS_FILTER_NODES 256  /* filters in one request */

/* 0 when f is a well-formed filter; -1 with a 400 naming the bad field under param ("filters",
 * "filters.filters[1].value", ...). */
int vs_filter_check(json_t *f, const char *param, ApiError *e);
/* Whether attributes (an object, or NULL for none) pass f (checked by vs_filter_check). */
bool vs_filter_match(json_t *f, json_t *attributes);
/* Attributes as OpenAI takes them: absent, null, or an object within the limits above; -1 with a
 * 400 naming param (or param.KEY) otherwise. */
int vs_check_attributes(json_t *attributes, const char *param, ApiError *e);

#endif
