/* output_format.h: structured outputs as both APIs ask for them: chat's response_format
 * ({"type": "json_schema", "json_schema": {...}}) and the Responses API's text.format ({"type":
 * "json_schema", "name", "schema", ...} flat). One place checks a schema's name, description and
 * strict flag and compiles the schema into a grammar for constrained decoding (OpenAI's strict
 * subset: src/model/json_schema.c), and says whether a prompt mentions JSON, which json_object
 * needs. Pure functions of their JSON: no store, no model. */
#ifndef FTUNE_OUTPUT_FORMAT_H
#define FTUNE_OUTPUT_FORMAT_H

#include <jansson.h>
#include <stdbool.h>

#include "../ftune.h"
#include "api.h"

#define OUTPUT_FORMAT_NAME_MAX 64

/* Checks obj's "name" (required: 1 to 64 of [A-Za-z0-9_-]), "description" (a string) and
 * "strict" (a boolean), then compiles "schema" (absent or null: any JSON object) into *grammar.
 * Errors name prefix + "." + the field (prefix "response_format.json_schema" or "text.format");
 * a schema outside the subset is a 400 with param schema_param saying which keyword and where
 * ("Invalid schema for response_format 'NAME': ..."). Unknown fields of obj are the caller's. */
int output_format_compile_schema(json_t *obj, const char *prefix, const char *schema_param, FtGrammar **grammar,
                                 ApiError *e);
/* Any JSON object (json_object), into *grammar (500 only when out of memory). */
int output_format_json_object(FtGrammar **grammar, ApiError *e);
/* Whether text mentions "json" in any case (json_object needs an instruction to write JSON: without
 * one a model may emit whitespace until its token limit). */
bool output_format_mentions_json(const char *text);

#endif
