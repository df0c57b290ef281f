/* fuzz validate: mutated JSONL datasets (chat, tools, DPO, broken lines) through validate_file,
 * supervised and DPO in turn, with token counting when models/tiny-qwen2 is here, under
 * ASan/UBSan. Also differential: every mutated line must be accepted by the line JSON reader
 * (jdoc) exactly when Jansson accepts it. Never crashes; exits 1 on a disagreement or a report
 * that breaks its own invariants. Usage: build/fuzz_validate [ITERATIONS] (default 2000). */
#include <jansson.h>

#include "data/jdoc.h"
#include "model/text_model.h"
#include "data/validate.h"
#include "fuzz_util.h"

#define SEED 0xda7a5e7u
#define SPLICE_MAX 256
#define FUZZ_MAX_PROBLEMS 8
#define FUZZ_MODEL "models/tiny-qwen2"

static const char CORPUS[] =
    "{\"messages\":[{\"role\":\"system\",\"content\":\"Classify.\"},{\"role\":\"user\",\"content\":\"I was charged "
    "twice\"},"
    "{\"role\":\"assistant\",\"content\":\"billing\"}]}\n"
    "{\"messages\":[{\"role\":\"developer\",\"content\":[{\"type\":\"text\",\"text\":\"Be "
    "brief\"}]},{\"role\":\"user\","
    "\"content\":\"caf\\u00e9 "
    "\xF0\x9F\x98\x80\",\"name\":\"al\"},{\"role\":\"assistant\",\"content\":\"ok\",\"weight\":0},"
    "{\"role\":\"user\",\"content\":\"again\"},{\"role\":\"assistant\",\"content\":\"sure\",\"weight\":1}]}\n"
    "{\"messages\":[{\"role\":\"user\",\"content\":\"Weather?\"},{\"role\":\"assistant\",\"content\":null,\"tool_"
    "calls\":"
    "[{\"id\":\"c1\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":"
    "\\\"Paris\\\"}\"}},"
    "{\"id\":\"c2\",\"type\":\"function\",\"function\":{\"name\":\"get_time\",\"arguments\":\"{}\"}}]},"
    "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"sunny\"},{\"role\":\"tool\",\"tool_call_id\":\"c2\","
    "\"content\":\"noon\"},"
    "{\"role\":\"assistant\",\"content\":\"Sunny at noon.\"}],\"tools\":[{\"type\":\"function\",\"function\":{\"name\":"
    "\"get_weather\",\"parameters\":{\"type\":\"object\"}}}],\"parallel_tool_calls\":true}\n"
    "{\"messages\":[{\"role\":\"user\",\"content\":\"6*7\"},{\"role\":\"assistant\",\"function_call\":{\"name\":"
    "\"calc\","
    "\"arguments\":\"6*7\"}},{\"role\":\"function\",\"name\":\"calc\",\"content\":\"42\"},{\"role\":\"assistant\","
    "\"content\":\"42\"}],"
    "\"functions\":[{\"name\":\"calc\"}]}\n"
    "{\"input\":{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]},\"preferred_output\":[{\"role\":\"assistant\","
    "\"content\":\"Hello!\"}],\"non_preferred_output\":[{\"role\":\"assistant\",\"content\":\"hey\"}]}\n"
    "{\"prompt\":\"2+2=\",\"completion\":\"4\"}\n"
    "\n"
    "[1,2,{\"a\":[true,false,null,-1.5e3]}]\n"
    "{\"messages\":[{\"role\":\"assistnat\",\"content\":\"x\",\"weight\":0.5}]}\n"
    "{\"messages\":[{\"role\":\"user\",\"content\":\"\\ud83d\\ude00 "
    "\\n\\t\\\"q\\\"\"},{\"role\":\"assistant\",\"content\":\"a\"}]}\r\n"
    "{\"messages\":[{\"role\":\"user\",\"content\":\"dup\"},{\"role\":\"assistant\",\"content\":\"a\"}]}\n"
    "{\"messages\":[{\"role\":\"user\",\"content\":\"dup\"},{\"role\":\"assistant\",\"content\":\"b\"}]}\n";

/* Checks every line of buf[0..n) with both parsers; returns the number of disagreements. */
static int differential(JDoc *d, const unsigned char *buf, size_t n, char *line) {
    int bad = 0;
    for (size_t s = 0; s < n;) {
        const unsigned char *nl = memchr(buf + s, '\n', n - s);
        size_t e = nl ? (size_t)(nl - buf) : n, len = e - s;
        memcpy(line, buf + s, len);
        line[len] = 0;
        json_error_t je;
        json_t *j = json_loadb(line, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
        int rc = jdoc_parse(d, line, len);
        if ((j != NULL) != (rc == JDOC_OK) && rc != JDOC_TOO_MANY) {
            fprintf(stderr, "fuzz validate: jdoc %s, Jansson %s: %.*s\n", rc == JDOC_OK ? "accepts" : d->err_msg,
                    j ? "accepts" : je.text, (int)(len < 300 ? len : 300), line);
            bad++;
        }
        json_decref(j);
        s = e + 1;
    }
    return bad;
}

int main(int argc, char **argv) {
    long iters = fuzz_iterations(argc, argv);
    size_t base = sizeof CORPUS - 1, cap = base + SPLICE_MAX;
    unsigned char *buf = malloc(cap);
    char *line = malloc(cap + 1);
    char path[64];
    snprintf(path, sizeof path, "/tmp/ftune_fuzz_validate_%d.jsonl", (int)getpid());
    TextModel *tm = NULL;
    Err err = {0};
    if (access(FUZZ_MODEL, R_OK) == 0 && text_model_load(FUZZ_MODEL, &tm, &err)) {
        fprintf(stderr, "fuzz validate: %s\n", err.msg);
        return 1;
    }
    if (!tm) printf("fuzz validate: %s is missing: no token counting\n", FUZZ_MODEL);
    JDoc d;
    jdoc_init(&d, VALIDATE_VALUES_MAX);
    Rng r;
    rng_seed(&r, SEED);
    long valid = 0, problems = 0;
    int disagreements = 0, broken = 0;
    for (long i = 0; i < iters; i++) {
        memcpy(buf, CORPUS, base);
        size_t n = fuzz_mutate(&r, buf, base, cap, 0);
        disagreements += differential(&d, buf, n, line);
        fuzz_write(path, buf, n);
        ValidateOptions opt;
        validate_options_default(&opt);
        opt.method = i % 2 ? VALIDATE_DPO : VALIDATE_SUPERVISED;
        opt.max_problems = FUZZ_MAX_PROBLEMS;
        opt.min_examples = 1 + i % 12;
        opt.model = i % 3 ? tm : NULL;
        opt.max_length = i % 5 == 0 ? 16 : 0;
        ValidateReport rep;
        if (validate_file(path, &opt, &rep, &err) == 0) {
            valid += rep.errors == 0;
            problems += rep.errors + rep.warnings;
            if (rep.n_problems > FUZZ_MAX_PROBLEMS || rep.valid_examples > rep.examples ||
                rep.errors + rep.warnings < rep.n_problems) {
                fprintf(stderr, "fuzz validate: inconsistent report at iteration %ld\n", i);
                broken++;
            }
            json_t *j = validate_report_to_json(&rep);
            char *s = j ? json_dumps(j, 0) : NULL;
            if (!s) broken++;
            free(s);
            json_decref(j);
        }
        validate_report_free(&rep);
    }
    unlink(path);
    printf("fuzz validate: %ld inputs, %ld valid datasets, %ld problems, %d parser disagreements\n", iters, valid,
           problems, disagreements);
    jdoc_free(&d);
    text_model_free(tm);
    free(buf);
    free(line);
    return disagreements || broken ? 1 : 0;
}
