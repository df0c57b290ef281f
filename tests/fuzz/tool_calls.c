/* fuzz tool_calls: mutated model replies through the tool-call reader (src/text/tool_calls.c) and
 * mutated JSON through the Python-style writer (src/text/json_py.c), under ASan/UBSan, on
 * exact-size buffers. Checked: a reply read as text is the reply itself; read as calls, each has a
 * name and arguments that parse as a JSON object, and the content is a prefix of the reply; the streaming
 * hold-back never passes the reply's end; written JSON parses back to a value equal to the input
 * (json_equal), in all three layouts (spaced, compact, indent=4). Both call syntaxes: Hermes and
 * Llama 3.1+'s bare call (at most one). Usage: build/fuzz_tool_calls [ITERATIONS] (default 2000). */
#include <jansson.h>

#include "fuzz_util.h"
#include "text/json_py.h"
#include "text/tool_calls.h"

#define SEED 0x7001cu
#define TEXT_MAX 2048

static const char *const SEEDS[] = {
    "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": [1, 2.5, -0.0, 1e-7]}}\n"
    "</tool_call>",
    "Let me check.\n<tool_call>\n{\"name\": \"a\", \"arguments\": {}}\n</tool_call>\n<tool_call>\n{\"name\": \"b\", "
    "\"arguments\": \"{\\\"x\\\": null}\"}\n</tool_call>",
    "plain text with a < sign and <tool_ in it",
    "<|python_tag|>{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\", \"days\": [1, 2.5]}}",
    " {\"parameters\": \"{\\\"x\\\": null}\", \"name\": \"now\"}\n",
    "{\"k\": [true, false, null, \"caf\\u00e9 \\ud83d\\ude00 \\u0001\", 12345678901234, 1.7976931348623157e308, "
    "{\"\": {}}]}",
};
#define N_SEEDS (sizeof SEEDS / sizeof SEEDS[0])

static void fail(const char *what, const char *text, size_t len) {
    fprintf(stderr, "%s: %.*s\n", what, (int)len, text);
    exit(1);
}

static void run_reply_in(const ToolSyntax *syn, const char *text, size_t len) {
    ToolReply r;
    Err e = {0};
    if (tool_reply_parse(syn, text, len, 1 + (int)(len % 4), &r, &e)) fail("out of memory", text, len);
    if (r.content_len > len || memcmp(r.content, text, r.content_len) != 0) fail("content not a prefix", text, len);
    if (r.n_calls == 0 && r.content_len != len) fail("text reply not the whole reply", text, len);
    if (syn->bare && r.n_calls > 1) fail("more than one bare call", text, len);
    for (int k = 0; k < r.n_calls; k++) {
        json_error_t je;
        json_t *a = json_loads(r.calls[k].arguments, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
        if (!r.calls[k].name[0] || !json_is_object(a)) fail("bad call", text, len);
        json_decref(a);
    }
    tool_reply_free(&r);
    if (tool_text_safe_len(syn, text, len) > len) fail("safe length past the end", text, len);
}

/* Both syntaxes: Hermes (Qwen2.5) and Llama 3.1+'s bare JSON call. */
static void run_reply(const char *text, size_t len) {
    run_reply_in(&tool_syntax_hermes, text, len);
    run_reply_in(&tool_syntax_llama3_json, text, len);
}

static void run_json(const char *text, size_t len) {
    json_error_t je;
    json_t *in = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    for (int layout = 0; layout < 3; layout++) { /* spaced, compact, indented */
        char *out = NULL;
        size_t n = 0;
        Err e = {0};
        int rc = layout < 2 ? json_py_dumps(text, len, layout == 1, &out, &n, &e)
                            : json_py_dumps_indent(text, len, 4, &out, &n, &e);
        if (rc == 0) {
            json_t *back = json_loadb(out, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
            if (!in || !back || !json_equal(in, back)) fail("written JSON differs", text, len);
            json_decref(back);
            free(out);
        } else if (e.code != ERR_ARG) {
            fail("unexpected error", text, len);
        }
    }
    json_decref(in);
}

int main(int argc, char **argv) {
    long iters = fuzz_iterations(argc, argv);
    Rng r;
    rng_seed(&r, SEED);
    unsigned char buf[TEXT_MAX + 1];
    for (long it = 0; it < iters; it++) {
        const char *seed = SEEDS[it % N_SEEDS];
        size_t len = strlen(seed);
        memcpy(buf, seed, len);
        len = fuzz_mutate(&r, buf, len, TEXT_MAX, 0);
        char *text = malloc(len ? len : 1); /* exact size, no NUL: ASan sees any read past the end */
        memcpy(text, buf, len);
        run_reply(text, len);
        run_json(text, len);
        free(text);
    }
    printf("fuzz_tool_calls: %ld inputs\n", iters);
    return 0;
}
