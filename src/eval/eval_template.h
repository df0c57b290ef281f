/* eval_template.h: the Evals API's templates: text with variable references in double braces,
 * `{{item.field}}` (a field of the data source's item, nested with dots: `{{item.a.b}}`) and
 * `{{sample.output_text}}` / `{{sample.output_json.field}}` / `{{sample.field}}` (the model's
 * answer, or the sample a JSONL data source supplies). Spaces inside the braces are allowed. A
 * string value is put in as it is, null as nothing, any other value as its compact JSON text.
 * Pure functions, no I/O. */
#ifndef FTUNE_EVAL_TEMPLATE_H
#define FTUNE_EVAL_TEMPLATE_H

#include <jansson.h>

#include "../core/err.h"

/* Checks a template's syntax: every "{{" closed by "}}", each reference a dotted path beginning
 * with item or sample. ERR_ARG saying which reference is wrong. */
int eval_template_check(const char *tmpl, Err *err);

/* Renders tmpl with the namespaces item and sample (either may be NULL: then a reference to it is
 * an error). *out is heap (caller frees). A path that names nothing is ERR_ARG naming it (OpenAI's
 * invalid variable). */
int eval_template_render(const char *tmpl, json_t *item, json_t *sample, char **out, Err *err);

/* The value at a dotted path below root ("a.b.c"; a number part indexes an array), or NULL. */
json_t *eval_template_lookup(json_t *root, const char *path);

#endif
