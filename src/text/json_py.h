/* json_py.h: JSON written the way Python's json.dumps writes it, which is what the chat templates'
 * `tojson` filter produces under transformers' apply_chat_template (json.dumps with
 * ensure_ascii=False, sort_keys=False): ", " and ": " between items, object keys in their given
 * order, non-ASCII characters as they are, control characters as \n, \t, ... or \u00XX, and
 * numbers as Python prints them (integers as written, reals as repr(float): the shortest digits
 * that read back to the same double, "1e-05", "1e+16", "100.0"). A compact form (",", ":") serves
 * OpenAI's tool-call arguments strings, an indented form Llama 3.1's tool definitions. It reads JSON text (Jansson) and writes text; it does not
 * validate schemas or know about templates. */
#ifndef FTUNE_JSON_PY_H
#define FTUNE_JSON_PY_H

#include <stdbool.h>
#include <stddef.h>

#include "../core/err.h"

#define JSON_PY_MAX_DEPTH 256 /* nesting of arrays and objects written */
#define JSON_PY_MAX_INDENT 16 /* spaces per level json_py_dumps_indent accepts */

/* json.dumps(json.loads(text)) for the JSON text[0..len): *out heap, NUL-terminated (caller
 * frees), *out_len its length (may be NULL). compact: separators (",", ":"). ERR_ARG for text that
 * is not one JSON value (naming where), an integer beyond 64 bits or nesting deeper than
 * JSON_PY_MAX_DEPTH; ERR_NOMEM. */
int json_py_dumps(const char *text, size_t len, bool compact, char **out, size_t *out_len, Err *err);

/* json.dumps(json.loads(text), indent=indent) (Llama 3.1's `tojson(indent=4)`): each item on its
 * own line indented by indent spaces per level, separators (",", ": "), empty containers as {} and
 * []. indent 1..JSON_PY_MAX_INDENT; errors as json_py_dumps. */
int json_py_dumps_indent(const char *text, size_t len, int indent, char **out, size_t *out_len, Err *err);

/* json.dumps of the string s[0..len) (UTF-8): a quoted, escaped JSON string. ERR_NOMEM. */
int json_py_dumps_string(const char *s, size_t len, char **out, size_t *out_len, Err *err);

#endif
