/* validate_json.c: the validation report as JSON (what `ftune validate --json` prints and what the
 * server can store), built with Jansson. It does not decide anything the report does not say. */
#include <math.h>

#include "validate.h"

/* Adds value under key, stealing the reference; remembers a failure in *ok. */
static void put(json_t *obj, const char *key, json_t *value, bool *ok) {
    if (!value || json_object_set_new(obj, key, value)) *ok = false;
}

static json_t *dist_json(const ValidateDist *d) {
    if (d->n == 0) return json_null();
    return json_pack("{s:f, s:f, s:f, s:f, s:f}", "min", d->min, "mean", round(d->mean * 100) / 100, "median",
                     d->median, "p90", round(d->p90 * 100) / 100, "max", d->max);
}

static json_t *problem_json(const ValidateProblem *p) {
    char text[VALIDATE_PATH_MAX + VALIDATE_MESSAGE_MAX + 32];
    return json_pack("{s:I, s:s, s:s, s:s, s:s, s:s}", "line", (json_int_t)p->line, "severity",
                     p->severity == VALIDATE_ERROR ? "error" : "warning", "code", p->code, "path", p->path, "message",
                     p->message, "text", validate_problem_format(p, text, sizeof text));
}

/* {"line", "tokens", "segments": [{"text", "trained"}, ...]} */
static json_t *preview_json(const ValidatePreview *p) {
    json_t *segs = json_array();
    bool ok = segs != NULL;
    for (int i = 0; i < p->n_segments && ok; i++)
        if (json_array_append_new(segs, json_pack("{s:s, s:b}", "text", p->text[i], "trained", p->trained[i])))
            ok = false;
    if (!ok) {
        json_decref(segs);
        return NULL;
    }
    return json_pack("{s:I, s:I, s:o}", "line", (json_int_t)p->line, "tokens", (json_int_t)p->n_tokens, "segments",
                     segs);
}

json_t *validate_report_to_json(const ValidateReport *rep) {
    json_t *o = json_object(), *problems = json_array(), *stats = json_object();
    bool ok = o && problems && stats;
    char verdict[256];
    if (!ok) goto fail;
    put(o, "file", json_string(rep->path ? rep->path : ""), &ok);
    put(o, "method", json_string(validate_method_name(rep->method)), &ok);
    put(o, "valid", json_boolean(rep->errors == 0), &ok);
    put(o, "verdict", json_string(validate_verdict(rep, verdict, sizeof verdict)), &ok);
    put(o, "bytes", json_integer((json_int_t)rep->bytes), &ok);
    put(o, "lines", json_integer(rep->lines), &ok);
    put(o, "examples", json_integer(rep->examples), &ok);
    put(o, "valid_examples", json_integer(rep->valid_examples), &ok);
    put(o, "errors", json_integer(rep->errors), &ok);
    put(o, "warnings", json_integer(rep->warnings), &ok);
    for (long i = 0; i < rep->n_problems; i++)
        if (json_array_append_new(problems, problem_json(&rep->problems[i]))) ok = false;
    put(o, "problems", problems, &ok);
    put(o, "problems_not_listed", json_integer(rep->errors + rep->warnings - rep->n_problems), &ok);

    put(stats, "messages_per_example", dist_json(&rep->messages), &ok);
    put(stats, "tokens_per_example", rep->have_tokens ? dist_json(&rep->tokens) : json_null(), &ok);
    put(stats, "assistant_tokens_per_example", rep->have_tokens ? dist_json(&rep->assistant_tokens) : json_null(), &ok);
    put(stats, "max_length", rep->have_tokens && rep->max_length ? json_integer(rep->max_length) : json_null(), &ok);
    put(stats, "examples_over_max_length", rep->have_tokens ? json_integer(rep->over_max_length) : json_null(), &ok);
    put(stats, "examples_without_system_message", json_integer(rep->without_system), &ok);
    put(stats, "examples_without_user_message", json_integer(rep->without_user), &ok);
    put(stats, "duplicate_examples", json_integer(rep->duplicates), &ok);
    put(stats, "conflicting_examples", json_integer(rep->conflicts), &ok);
    put(stats, "n_epochs", rep->n_epochs ? json_integer(rep->n_epochs) : json_null(), &ok);
    put(stats, "dataset_tokens", rep->have_tokens ? json_integer(rep->dataset_tokens) : json_null(), &ok);
    put(stats, "trained_tokens", rep->have_tokens ? json_integer(rep->trained_tokens) : json_null(), &ok);
    put(stats, "assistant_tokens", rep->have_tokens ? json_integer(rep->assistant_tokens_total) : json_null(), &ok);
    put(o, "statistics", stats, &ok);
    stats = NULL;
    problems = NULL;
    if (rep->model_path) {
        put(o, "model",
            json_pack("{s:s, s:s, s:I, s:s?}", "path", rep->model_path, "chat_template",
                      rep->model_template ? rep->model_template : "", "context_length", (json_int_t)rep->model_context,
                      "note", rep->model_note),
            &ok);
    } else {
        put(o, "model", json_null(), &ok);
        put(o, "token_counts", json_string("not computed: no model given"), &ok);
    }
    if (rep->n_previews > 0) { /* only when asked for (ValidateOptions.preview_examples) */
        json_t *pv = json_array();
        put(o, "preview", pv, &ok);
        for (long i = 0; ok && i < rep->n_previews; i++)
            if (json_array_append_new(pv, preview_json(&rep->previews[i]))) ok = false;
    }
    if (ok) return o;
fail:
    json_decref(o);
    json_decref(problems);
    json_decref(stats);
    return NULL;
}
