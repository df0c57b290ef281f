/* test_eval_template.c: the Evals API's templates (eval_template.c): nested item fields, array
 * indexes, sample fields, spaces in braces, strings put in as they are, other values as compact
 * JSON, null as nothing; a missing field, an unclosed brace and a reference to neither namespace
 * are errors that name the reference. */
#include <stdlib.h>
#include <string.h>

#include "eval/eval_template.h"
#include "test.h"

static void check_render(json_t *item, json_t *sample, const char *tmpl, const char *want) {
    char *out = NULL;
    Err err = {0};
    if (eval_template_render(tmpl, item, sample, &out, &err)) {
        test_fail(__FILE__, __LINE__, "%s: %s", tmpl, err.msg);
        return;
    }
    if (strcmp(out, want) != 0) test_fail(__FILE__, __LINE__, "%s: got '%s', want '%s'", tmpl, out, want);
    free(out);
}

static void check_fails(json_t *item, json_t *sample, const char *tmpl, const char *needle) {
    char *out = NULL;
    Err err = {0};
    if (eval_template_render(tmpl, item, sample, &out, &err) == 0) {
        test_fail(__FILE__, __LINE__, "%s: rendered '%s', want an error", tmpl, out);
        free(out);
    } else if (!strstr(err.msg, needle)) {
        test_fail(__FILE__, __LINE__, "%s: error '%s' lacks '%s'", tmpl, err.msg, needle);
    }
}

TEST(eval_template_renders_references) {
    json_t *item = json_loads("{\"q\": \"Hi {{there}}\", \"n\": 3, \"f\": 0.5, \"b\": true, \"z\": null,"
                              " \"o\": {\"a\": {\"b\": \"deep\"}}, \"l\": [\"x\", {\"y\": 2}]}", 0, NULL);
    json_t *sample = json_loads("{\"output_text\": \"yes\", \"output_json\": {\"label\": \"card\"}}", 0, NULL);
    REQUIRE(item && sample);
    check_render(item, sample, "", "");
    check_render(item, sample, "plain text", "plain text");
    check_render(item, sample, "Q: {{item.q}}!", "Q: Hi {{there}}!"); /* a value is not rendered again */
    check_render(item, sample, "{{ item.n }}/{{item.f}}/{{item.b}}/[{{item.z}}]", "3/0.5/true/[]");
    check_render(item, sample, "{{item.o.a.b}} {{item.l.0}} {{item.l.1.y}}", "deep x 2");
    check_render(item, sample, "{{item.o.a}}", "{\"b\":\"deep\"}");
    check_render(item, sample, "{{sample.output_text}}={{sample.output_json.label}}", "yes=card");
    check_fails(item, sample, "{{item.missing}}", "{{item.missing}}");
    check_fails(item, sample, "{{item.l.7}}", "item.l.7");
    check_fails(item, NULL, "{{sample.output_text}}", "no such namespace");
    check_fails(item, sample, "{{item.q", "not closed");
    check_fails(item, sample, "{{other.x}}", "neither item nor sample");
    check_fails(item, sample, "{{item.a b}}", "not a reference");
    Err err = {0};
    CHECK(eval_template_check("{{item.a}} and {{ sample.output_text }}", &err) == 0);
    CHECK(eval_template_check("{{input.x}}", &err) != 0);
    json_decref(item);
    json_decref(sample);
}
