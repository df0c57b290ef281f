/* json_schema.h: response formats compiled to byte grammars (grammar.h) for constrained decoding:
 * a JSON Schema in the subset OpenAI's strict structured outputs accept, or "any JSON object"
 * (json_object mode). Objects produce every property, in the schema's order, with bounded
 * whitespace between tokens (none, one space, or a newline and up to SCHEMA_MAX_INDENT spaces), so
 * that a model cannot loop on blanks. Numbers have at most SCHEMA_MAX_DIGITS digits per part.
 * Anything outside the subset is refused with an ERR_UNSUPPORTED naming the keyword and its place
 * in the schema as a JSON pointer ("'minLength' at #/properties/name ..."); a schema that breaks
 * the strict rules with ERR_ARG. It does not validate documents: the grammar only produces valid
 * ones. */
#ifndef FTUNE_JSON_SCHEMA_H
#define FTUNE_JSON_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include "grammar.h"

#define SCHEMA_MAX_INDENT 16      /* spaces after a newline between tokens */
#define SCHEMA_MAX_DIGITS 16      /* digits of an integer part, of a fraction; exponents 3 */
#define SCHEMA_MAX_ITEMS_UNROLL 256 /* largest minItems / maxItems */
#define SCHEMA_MAX_DEPTH 64  /* nesting of schemas (not of $ref recursion, which is free) */

/* Compiles the JSON text of a schema into *out (grammar_free it, also on failure). strict:
 * OpenAI's strict mode rules: the root is an object, every object says additionalProperties:
 * false and lists every property in required. Without strict an absent additionalProperties is
 * taken as false and every property is still produced (so the output still validates). */
int json_schema_compile(const char *text, size_t len, bool strict, Grammar *out, Err *err);

/* The grammar of any JSON object (json_object mode). */
int json_object_grammar(Grammar *out, Err *err);

#endif
