/* bench_label_accuracy.c: exact-match accuracy of a model (optionally with a LoRA adapter) on a
 * held-out chat JSONL file: each example's last assistant message is the expected answer and the
 * messages before it are the prompt (its system message optionally replaced from a file, for a
 * prompted baseline). Greedy decoding; answers compared after trimming whitespace. Prints one JSON
 * object with accuracy, mean prompt tokens and mean latency. A precursor of `ftune eval`.
 * Usage: bench_label_accuracy MODEL FILE [--adapter DIR] [--system-file FILE]
 *        [--precision auto|fp32|bf16] [--outputs FILE (each reply, one per line, for comparing runs)] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/fileio.h"
#include "data/example_messages.h"
#include "data/jdoc.h"
#include "data/jsonl_reader.h"
#include "data/validate.h"
#include "model/generate.h"
#include "model/peft.h"

static void trim(const char *s, size_t n, const char **out, size_t *out_n) {
    while (n && (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r')) s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\t' || s[n - 1] == '\r')) n--;
    *out = s;
    *out_n = n;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bench_label_accuracy MODEL FILE [--adapter DIR] [--system-file FILE] [--precision P] "
                        "[--outputs FILE]\n");
        return 2;
    }
    const char *adapter = NULL, *system_file = NULL, *precision = "fp32", *outputs = NULL;
    for (int i = 3; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--adapter") == 0) adapter = argv[i + 1];
        else if (strcmp(argv[i], "--system-file") == 0) system_file = argv[i + 1];
        else if (strcmp(argv[i], "--precision") == 0) precision = argv[i + 1];
        else if (strcmp(argv[i], "--outputs") == 0) outputs = argv[i + 1];
    }
    Err err = {0};
    Model *m;
    InferState *st;
    Lora *lora = NULL;
    char *system = NULL;
    size_t system_len;
    Precision prec;
    char why[PRECISION_WHY_MAX];
    FILE *out = NULL;
    if (precision_parse(precision, &prec, &err) || model_load(argv[1], &m, &err) ||
        model_set_precision(m, prec, why, &err) || infer_new(m, 4096, 0, &st, &err) ||
        (adapter && (peft_load(m, adapter, &lora, &err) || infer_set_lora(st, lora, &err))) ||
        (system_file && file_read_all(system_file, 1 << 20, &system, &system_len, &err))) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    if (outputs && !(out = fopen(outputs, "w"))) {
        fprintf(stderr, "%s: cannot write\n", outputs);
        return 1;
    }
    if (system) {
        while (system_len && (system[system_len - 1] == '\n' || system[system_len - 1] == ' ')) system[--system_len] = 0;
    }
    JsonlReader *r;
    if (jsonl_open(argv[2], VALIDATE_LINE_MAX, &r, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    JDoc doc;
    jdoc_init(&doc, VALIDATE_VALUES_MAX);
    ExampleMessages em;
    example_messages_init(&em);
    GenParams gp;
    gen_params_default(m, &gp);
    gp.max_tokens = 16;
    JsonlLine line;
    long n = 0, correct = 0, prompt_tokens = 0;
    double latency = 0;
    while (jsonl_next(r, &line, &err) == 1) {
        if (!line.len || jdoc_parse(&doc, line.text, line.len) != JDOC_OK) continue;
        example_messages_reset(&em);
        if (example_messages_add_list(&em, &doc, jdoc_get(&doc, 0, "messages"), EXAMPLE_TRAIN_ALL, &err) || em.n < 2)
            continue;
        ChatMessage msgs[64];
        int k = 0;
        for (int i = 0; i < em.n - 1 && k < 64; i++) {
            msgs[k] = em.msgs[i];
            if (system && strcmp(msgs[k].role, "system") == 0) msgs[k].content = system;
            k++;
        }
        const char *expected = em.msgs[em.n - 1].content;
        GenResult res;
        double t0 = clock_now_s();
        if (generate_chat(st, msgs, k, &gp, NULL, NULL, &res, &err)) {
            fprintf(stderr, "line %ld: %s\n", line.number, err.msg);
            continue;
        }
        latency += clock_now_s() - t0;
        const char *a, *b;
        size_t na, nb;
        trim(res.text, res.len, &a, &na);
        trim(expected, strlen(expected), &b, &nb);
        correct += na == nb && memcmp(a, b, na) == 0;
        if (out) { /* one line per reply, newlines inside it written as \n */
            for (size_t i = 0; i < na; i++) a[i] == '\n' ? fputs("\\n", out) : fputc(a[i], out);
            fputc('\n', out);
        }
        prompt_tokens += res.n_prompt;
        n++;
        gen_result_free(&res);
    }
    if (out) fclose(out);
    printf("{\"model\": \"%s\", \"precision\": \"%s\", \"adapter\": %s%s%s, \"system_file\": %s%s%s, \"examples\": %ld, \"correct\": %ld, "
           "\"accuracy\": %.4f, \"mean_prompt_tokens\": %.1f, \"mean_latency_s\": %.3f}\n",
           argv[1], why, adapter ? "\"" : "", adapter ? adapter : "null", adapter ? "\"" : "", system_file ? "\"" : "",
           system_file ? system_file : "null", system_file ? "\"" : "", n, correct, n ? (double)correct / n : 0,
           n ? (double)prompt_tokens / n : 0, n ? latency / n : 0);
    example_messages_free(&em);
    jdoc_free(&doc);
    jsonl_close(r);
    free(system);
    lora_free(lora);
    infer_free(st);
    model_free(m);
    return 0;
}
