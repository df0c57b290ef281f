/* cmd_embed.c: `ftune embed`: sentence embeddings of texts read one per line (or from JSONL lines
 * with a "text" field, or JSON strings), written as JSONL lines {"index", "tokens", "embedding"} in
 * input order. Texts are embedded --batch at a time (packed, one forward pass per batch). A text
 * longer than the model's window is cut as sentence-transformers cuts it, with a note on stderr.
 * A client of the public engine API (ftune.h): ft_encoder_*. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../data/utf8_check.h"
#include "../ftune.h"
#include "args.h"
#include "cli.h"
#include "cli_precision.h"

#define EMBED_DEFAULT_BATCH 64
#define EMBED_MAX_LINE ((size_t)64 << 20) /* bytes of one input line */

static const char *const EMBED_OPTIONS[] = {"model", "input", "output", "format", "batch", "threads", "precision", NULL};

static void usage(void) {
    fprintf(stderr,
            "usage: ftune embed --model DIR [--input FILE|-] [--output FILE|-] [--format text|jsonl]\n"
            "                   [--batch N] [--threads N] [" CLI_PRECISION_USAGE "]\n"
            "Embeds each input (text: one per line; jsonl: one JSON object with a \"text\" field, or a JSON\n"
            "string, per line) with a sentence-embedding model folder (e.g. models/all-MiniLM-L6-v2) and\n"
            "writes one JSON line per input: {\"index\": i, \"tokens\": n, \"embedding\": [...]}.\n"
            "Input and output default to stdin and stdout; --batch texts per forward pass (default %d);\n"
            "--precision of the layers' products (default auto: bf16 where the CPU has AMX, else fp32).\n",
            EMBED_DEFAULT_BATCH);
}

typedef struct {
    int32_t **ids;
    int *n_ids;
    int n;
} Batch;

static void batch_clear(Batch *b) {
    for (int i = 0; i < b->n; i++) ft_free(b->ids[i]);
    b->n = 0;
}

/* The text of one input line (heap) or NULL after printing why. */
static char *line_text(const char *line, size_t len, bool jsonl, long lineno, size_t *out_len) {
    if (utf8_find_invalid(line, len) != len) {
        fprintf(stderr, "ftune embed: line %ld: not valid UTF-8 (byte %zu)\n", lineno, utf8_find_invalid(line, len) + 1);
        return NULL;
    }
    if (!jsonl) {
        char *t = malloc(len + 1);
        if (t) memcpy(t, line, len), t[len] = 0;
        *out_len = len;
        return t;
    }
    json_error_t je;
    json_t *v = json_loadb(line, len, JSON_DECODE_ANY, &je);
    json_t *text = json_is_object(v) ? json_object_get(v, "text") : v;
    if (!json_is_string(text)) {
        fprintf(stderr, "ftune embed: line %ld: %s\n", lineno,
                !v ? je.text : json_is_object(v) ? "no string field \"text\"" : "neither an object nor a string");
        json_decref(v);
        return NULL;
    }
    *out_len = json_string_length(text);
    char *t = malloc(*out_len + 1);
    if (t) memcpy(t, json_string_value(text), *out_len + 1);
    json_decref(v);
    return t;
}

static int flush(const FtEncoder *enc, Batch *b, long first_index, int threads, int dim, float *vecs, FILE *out) {
    FtError err = {0};
    if (ft_encoder_embed(enc, (const int32_t *const *)b->ids, b->n_ids, b->n, threads, vecs, &err)) {
        fprintf(stderr, "ftune embed: %s\n", err.msg);
        return -1;
    }
    for (int i = 0; i < b->n; i++) {
        fprintf(out, "{\"index\":%ld,\"tokens\":%d,\"embedding\":[", first_index + i, b->n_ids[i]);
        for (int k = 0; k < dim; k++) fprintf(out, k ? ",%.9g" : "%.9g", vecs[(size_t)i * dim + k]);
        fputs("]}\n", out);
    }
    batch_clear(b);
    return ferror(out) ? -1 : 0;
}

int cmd_embed(int argc, char **argv) {
    Args a;
    int status;
    if (args_parse_command(&a, argc, argv, "embed", NULL, EMBED_OPTIONS, usage, &status)) return status;
    long batch = EMBED_DEFAULT_BATCH, threads = 0;
    const char *format = args_get(&a, "format") ? args_get(&a, "format") : "text";
    if (!args_get(&a, "model") || a.n_positional || args_int(&a, "batch", &batch, 1, 1 << 16) ||
        args_int(&a, "threads", &threads, 0, 1024)) {
        usage();
        return EXIT_BAD_INPUT;
    }
    if (strcmp(format, "text") && strcmp(format, "jsonl")) {
        fprintf(stderr, "ftune embed: --format must be text or jsonl, not '%s'\n", format);
        return EXIT_BAD_INPUT;
    }
    FtPrecision precision;
    if (cli_precision_parse(&a, &precision)) return EXIT_BAD_INPUT;
    const char *in_path = args_get(&a, "input"), *out_path = args_get(&a, "output");
    FILE *in = !in_path || !strcmp(in_path, "-") ? stdin : fopen(in_path, "rb");
    if (!in) {
        fprintf(stderr, "ftune embed: cannot open --input %s\n", in_path);
        return EXIT_BAD_INPUT;
    }
    FtError err = {0};
    FtEncoder *enc = NULL;
    if (ft_encoder_load(args_get(&a, "model"), &enc, &err)) {
        fprintf(stderr, "ftune embed: %s\n", err.msg);
        if (in != stdin) fclose(in);
        return EXIT_BAD_INPUT;
    }
    if ((status = cli_precision_apply_encoder(enc, precision))) {
        ft_encoder_free(enc);
        if (in != stdin) fclose(in);
        return status;
    }
    FILE *out = !out_path || !strcmp(out_path, "-") ? stdout : fopen(out_path, "wb");
    FtEncoderInfo info;
    ft_encoder_info(enc, &info);
    Batch b = {calloc((size_t)batch, sizeof(int32_t *)), calloc((size_t)batch, sizeof(int)), 0};
    float *vecs = malloc((size_t)batch * info.dim * sizeof(float));
    int rc = out && b.ids && b.n_ids && vecs ? 0 : 1;
    if (!out) fprintf(stderr, "ftune embed: cannot open --output %s\n", out_path);
    char *line = NULL;
    size_t cap = 0;
    long lineno = 0, index = 0, first = 0;
    ssize_t got;
    while (!rc && (got = getline(&line, &cap, in)) >= 0) {
        lineno++;
        size_t len = (size_t)got;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
        if (len > EMBED_MAX_LINE) {
            fprintf(stderr, "ftune embed: line %ld: longer than %zu bytes\n", lineno, EMBED_MAX_LINE);
            rc = EXIT_BAD_INPUT;
            break;
        }
        size_t tlen;
        char *text = line_text(line, len, !strcmp(format, "jsonl"), lineno, &tlen);
        if (!text) {
            rc = EXIT_BAD_INPUT;
            break;
        }
        int n;
        if (ft_encoder_tokenize(enc, text, tlen, &b.ids[b.n], &n, &err)) {
            fprintf(stderr, "ftune embed: line %ld: %s\n", lineno, err.msg);
            free(text);
            rc = 1;
            break;
        }
        free(text);
        if (n > info.max_tokens)
            fprintf(stderr, "ftune embed: line %ld: %d tokens; the model sees the first %d\n", lineno, n, info.max_tokens);
        b.n_ids[b.n++] = n;
        index++;
        if (b.n == batch) {
            if (flush(enc, &b, first, (int)threads, info.dim, vecs, out)) rc = 1;
            first = index;
        }
    }
    if (!rc && b.n && flush(enc, &b, first, (int)threads, info.dim, vecs, out)) rc = 1;
    if (!rc && ferror(in)) {
        fprintf(stderr, "ftune embed: error reading the input\n");
        rc = 1;
    }
    batch_clear(&b);
    free(b.ids);
    free(b.n_ids);
    free(vecs);
    free(line);
    if (in != stdin) fclose(in);
    if (out && out != stdout && fclose(out)) {
        fprintf(stderr, "ftune embed: cannot write --output %s\n", out_path);
        rc = 1;
    }
    ft_encoder_free(enc);
    return rc;
}
