/* cmd_tokenize.c: `ftune tokenize`: prints the token ids of a text as a JSON array, using the
 * tokenizer of a GGUF file, a Hugging Face directory, or a tokenizer.json file. Loads no weights. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/fileio.h"
#include "../model/gguf.h"
#include "../text/tokenizer.h"
#include "args.h"
#include "cli.h"

static const char *const TOKENIZE_OPTIONS[] = {"model", "no-special", "no-parse-special", NULL};

/* Loads only the tokenizer of a model path. */
static int load_tokenizer(const char *path, Tokenizer **tok, Err *err) {
    char a[4096], b[4096];
    if (file_is_dir(path)) {
        snprintf(a, sizeof a, "%s/tokenizer.json", path);
        snprintf(b, sizeof b, "%s/tokenizer_config.json", path);
        return tok_load_hf(a, file_exists(b) ? b : NULL, tok, err);
    }
    size_t n = strlen(path);
    if (n >= 5 && strcmp(path + n - 5, ".json") == 0) return tok_load_hf(path, NULL, tok, err);
    Gguf *g;
    if (gguf_open(path, &g, err)) return -1;
    int rc = tok_load_gguf(g, tok, err);
    if (rc) err_prefix(err, "%s", path);
    gguf_close(g);
    return rc;
}

static void usage(void) {
    fprintf(stderr, "usage: ftune tokenize --model PATH [--no-special] [--no-parse-special] TEXT\n"
                    "Prints the ids as a JSON array. --no-special: do not add BOS/EOS;\n"
                    "--no-parse-special: special-token text is tokenized as plain text.\n");
}

int cmd_tokenize(int argc, char **argv) {
    static const char *const flags[] = {"no-special", "no-parse-special", NULL};
    Args a;
    int status;
    if (args_parse_command(&a, argc, argv, "tokenize", flags, TOKENIZE_OPTIONS, usage, &status)) return status;
    if (!args_get(&a, "model") || a.n_positional != 1) {
        usage();
        return EXIT_BAD_INPUT;
    }
    Err err = {0};
    Tokenizer *tok;
    if (load_tokenizer(args_get(&a, "model"), &tok, &err)) {
        fprintf(stderr, "ftune tokenize: %s\n", err.msg);
        return EXIT_BAD_INPUT;
    }
    const char *text = a.positional[0];
    int32_t *ids;
    int n;
    if (tok_encode(tok, text, strlen(text), !args_has(&a, "no-special"), !args_has(&a, "no-parse-special"), &ids, &n,
                   &err)) {
        fprintf(stderr, "ftune tokenize: %s\n", err.msg);
        tok_free(tok);
        return 1;
    }
    printf("[");
    for (int i = 0; i < n; i++) printf(i ? ", %d" : "%d", ids[i]);
    printf("]\n");
    free(ids);
    tok_free(tok);
    return 0;
}
