/* cmd_tokenize.c: `ftune tokenize`: prints the token ids of a text as a JSON array, using the
 * tokenizer of a GGUF file, a Hugging Face directory, or a tokenizer.json file. Loads no weights.
 * A client of the public engine API (ftune.h): ft_tokenizer_load and ft_tokenizer_encode. */
#include <stdio.h>
#include <string.h>

#include "../ftune.h"
#include "args.h"
#include "cli.h"

static const char *const TOKENIZE_OPTIONS[] = {"model", "no-special", "no-parse-special", NULL};

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
    FtError err = {0};
    FtTokenizer *tok;
    if (ft_tokenizer_load(args_get(&a, "model"), &tok, &err)) {
        fprintf(stderr, "ftune tokenize: %s\n", err.msg);
        return EXIT_BAD_INPUT;
    }
    const char *text = a.positional[0];
    int32_t *ids;
    int n;
    if (ft_tokenizer_encode(tok, text, strlen(text), !args_has(&a, "no-special"), !args_has(&a, "no-parse-special"),
                            &ids, &n, &err)) {
        fprintf(stderr, "ftune tokenize: %s\n", err.msg);
        ft_tokenizer_free(tok);
        return 1;
    }
    printf("[");
    for (int i = 0; i < n; i++) printf(i ? ", %d" : "%d", ids[i]);
    printf("]\n");
    ft_free(ids);
    ft_tokenizer_free(tok);
    return 0;
}
