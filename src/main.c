/* main.c: command-line dispatch only; the commands live in src/cli/. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} Command;

static const Command COMMANDS[] = {
    {"chat", cmd_chat, "talk to a model"},
    {"tokenize", cmd_tokenize, "print the token ids of a text"},
    {"embed", cmd_embed, "write sentence embeddings of texts (JSONL)"},
    {"info", cmd_info, "describe a model file"},
    {"train", cmd_train, "fine-tune a LoRA adapter on a chat JSONL file"},
    {"pull", cmd_pull, "download a model from the Hugging Face Hub into the models directory"},
    {"export", cmd_export, "merge an adapter into its model, as a Hugging Face directory"},
    {"validate", cmd_validate, "check a fine-tuning dataset (JSONL) and describe it"},
    {"dataset", cmd_dataset, "add retrieved examples to a chat JSONL (dataset add-context)"},
    {"eval", cmd_eval, "compare models on a held-out chat set (accuracy, tokens, latency)"},
    {"serve", cmd_serve, "run the OpenAI-compatible fine-tuning and chat server"},
    {"worker", cmd_worker, "validate and train the jobs of `serve --no-worker` nodes (several machines)"},
    {"alias", cmd_alias, "set, remove or list model aliases in a server's data directory"},
    {"keys", cmd_keys, "create, list and revoke the server's API keys and projects"},
};

static void usage(void) {
    fprintf(stderr, "usage: ftune <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        fprintf(stderr, "  %-10s %s\n", COMMANDS[i].name, COMMANDS[i].help);
    fprintf(stderr, "\n`ftune <command> --help` describes a command's options.\n");
}

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage();
        return argc < 2 ? EXIT_BAD_INPUT : 0;
    }
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        if (strcmp(argv[1], COMMANDS[i].name) == 0) return COMMANDS[i].run(argc - 2, argv + 2);
    fprintf(stderr, "ftune: unknown command '%s'\n", argv[1]);
    usage();
    return EXIT_BAD_INPUT;
}
