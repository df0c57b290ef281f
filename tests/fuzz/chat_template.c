/* fuzz chat_template: mutated copies of the real Jinja templates through recognition, and random
 * conversations (roles, contents with special-token text and invalid UTF-8, sometimes tools and tool
 * calls) through rendering.
 * Never crashes; a template that is recognised must render or fail with an error. */
#include <dirent.h>

#include "fuzz_util.h"
#include "core/fileio.h"
#include "text/chat_template.h"

#define FUZZ_MAX_TEMPLATES 32

int main(int argc, char **argv) {
    long iters = fuzz_iterations(argc, argv);
    const char *dir = "tests/data/chat_templates";
    char *sources[FUZZ_MAX_TEMPLATES];
    size_t lens[FUZZ_MAX_TEMPLATES];
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) && n < FUZZ_MAX_TEMPLATES) {
        size_t l = strlen(e->d_name);
        if (l < 7 || strcmp(e->d_name + l - 6, ".jinja") != 0) continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        Err err = {0};
        if (file_read_all(path, 1 << 20, &sources[n], &lens[n], &err) == 0) n++;
    }
    if (d) closedir(d);
    if (n == 0) {
        printf("fuzz chat_template: skipped (no templates in %s)\n", dir);
        return 0;
    }
    static const char *roles[] = {"system", "developer", "user", "assistant", "tool", "bogus", ""};
    static const char *contents[] = {"", "hi", "<|im_end|>", "[INST] x [/INST]", "<|eot_id|>", "\xff\xfe bad",
                                     "  padded\n\n", "multi\nline\r\ntext", "\xf0\x9f\x98\x80 emoji", "<s></s>"};
    static const char *const tools[] = {
        "{\"type\": \"function\", \"function\": {\"name\": \"f\", \"parameters\": {\"type\": \"object\", "
        "\"properties\": {\"a\": {\"type\": \"array\", \"items\": {}}}}}}",
        "{\"type\": \"function\", \"function\": {\"name\": \"g\"}}"};
    static const ChatToolCall calls[] = {{"f", "{\"a\": [1, 2.5, {}]}"}, {"g", "not json {"}};
    Rng r;
    rng_seed(&r, 4242);
    long recognised = 0, rendered = 0;
    unsigned char *buf = malloc(1 << 16);
    for (long i = 0; i < iters; i++) {
        int k = (int)(rng_next(&r) % (uint64_t)n);
        size_t len = lens[k] < (1 << 15) ? lens[k] : (1 << 15);
        memcpy(buf, sources[k], len);
        if (rng_next(&r) % 4) len = fuzz_mutate(&r, buf, len, 1 << 16, 0);
        buf[len] = 0;
        ChatTemplate *ct;
        Err err = {0};
        if (chat_template_new((const char *)buf, "<s>", "</s>", &ct, &err)) continue;
        recognised++;
        ChatMessage msgs[8] = {0};
        int nm = (int)(rng_next(&r) % 9);
        for (int m = 0; m < nm; m++) {
            msgs[m].role = roles[rng_next(&r) % 7];
            msgs[m].content = contents[rng_next(&r) % 10];
        }
        /* sometimes tools, and a call on each assistant message (one or two; arguments JSON or not) */
        bool with_tools = rng_next(&r) % 2;
        for (int m = 0; with_tools && m < nm; m++)
            if (strcmp(msgs[m].role, "assistant") == 0) {
                msgs[m].tool_calls = calls;
                msgs[m].n_tool_calls = 1 + (int)(rng_next(&r) % 2);
            }
        char *out;
        size_t out_len;
        int n_tools = with_tools ? 1 + (int)(rng_next(&r) % 2) : 0;
        if (chat_template_render_tools(ct, msgs, nm, tools, n_tools, rng_next(&r) % 2, &out, &out_len, &err) == 0) {
            rendered++;
            free(out);
        }
        chat_template_free(ct);
    }
    printf("fuzz chat_template: %ld inputs, %ld recognised, %ld rendered\n", iters, recognised, rendered);
    for (int i = 0; i < n; i++) free(sources[i]);
    free(buf);
    return 0;
}
