/* output_format.c: json_schema and json_object formats compiled for constrained decoding (see
 * output_format.h). */
#include "output_format.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int output_format_json_object(FtGrammar **grammar, ApiError *e) {
    FtError err = {0};
    if (ft_grammar_json_object(grammar, &err)) return api_fail(e, 500, "server_error", NULL, NULL, "%s", err.msg);
    return 0;
}

int output_format_compile_schema(json_t *obj, const char *prefix, const char *schema_param, FtGrammar **grammar,
                                 ApiError *e) {
    char param[96];
    json_t *name = json_object_get(obj, "name"), *schema = json_object_get(obj, "schema"),
           *strict = json_object_get(obj, "strict"), *desc = json_object_get(obj, "description");
    snprintf(param, sizeof param, "%s.name", prefix);
    if (!name)
        return api_missing_param(e, param);
    const char *nm = json_is_string(name) ? json_string_value(name) : "";
    size_t nl = strlen(nm);
    if (nl == 0 || nl > OUTPUT_FORMAT_NAME_MAX ||
        strspn(nm, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != nl)
        return api_bad_param(e, param, "expected a name of 1 to %d letters, digits, underscores and dashes.",
                             OUTPUT_FORMAT_NAME_MAX);
    snprintf(param, sizeof param, "%s.description", prefix);
    if (desc && !json_is_null(desc) && !json_is_string(desc)) return api_bad_param(e, param, "expected a string.");
    snprintf(param, sizeof param, "%s.strict", prefix);
    if (strict && !json_is_null(strict) && !json_is_boolean(strict)) return api_bad_param(e, param, "expected a boolean.");
    if (!schema || json_is_null(schema)) return output_format_json_object(grammar, e); /* no schema: any object */
    snprintf(param, sizeof param, "%s.schema", prefix);
    if (!json_is_object(schema)) return api_bad_param(e, param, "expected an object.");
    char *text = json_dumps(schema, JSON_COMPACT); /* jansson keeps the properties' order */
    if (!text) return api_fail(e, 500, "server_error", NULL, NULL, "out of memory");
    FtError err = {0};
    int rc = ft_grammar_from_json_schema(text, strlen(text), json_is_true(strict), grammar, &err);
    free(text);
    if (rc)
        return err.code == FT_ERR_NOMEM ? api_fail(e, 500, "server_error", NULL, NULL, "out of memory")
                                        : api_fail(e, 400, "invalid_request_error", schema_param, NULL,
                                                   "Invalid schema for response_format '%s': %s.", nm, err.msg);
    return 0;
}

bool output_format_mentions_json(const char *text) { return strcasestr(text, "json") != NULL; }
