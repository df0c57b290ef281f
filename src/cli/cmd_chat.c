/* cmd_chat.c: `ftune chat`: one reply to a message given on the command line (or on standard
 * input when it is not a terminal), or a REPL on a terminal that keeps the conversation. A client
 * of the public engine API (ftune.h): each reply is one ft_generate_chat over the whole
 * conversation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/fileio.h"
#include "../ftune.h"
#include "args.h"
#include "cli.h"
#include "cli_precision.h"

#define CHAT_MAX_TURNS 256
#define CHAT_MAX_STDIN (16u << 20)

static const char *const CHAT_OPTIONS[] = {"model", "adapter", "system", "temperature", "top-p", "top-k", "seed",
                                           "max-tokens", "threads", "ctx", "stop", "precision", "json-schema",
                                           NULL};

static void usage(void) {
    fprintf(stderr,
            "usage: ftune chat --model PATH [--adapter DIR] [--system TEXT] [--temperature T] [--top-p P] [--top-k K]\n"
            "                  [--seed N] [--max-tokens N] [--stop TEXT] [--threads N] [--ctx N]\n"
            "                  [" CLI_PRECISION_USAGE "] [--json-schema FILE] [MESSAGE]\n"
            "Prints the model's reply to MESSAGE; with no MESSAGE, reads it from standard input, or\n"
            "starts a conversation on a terminal (an empty line or Ctrl-D ends it). --adapter applies a\n"
            "LoRA adapter in the PEFT layout (adapter_config.json, adapter_model.safetensors) unmerged.\n"
            "--json-schema constrains each reply to a JSON document of the schema in FILE (the subset of\n"
            "OpenAI's structured outputs, as the server's response_format json_schema without strict).\n");
}

static int print_piece(const char *piece, size_t len, void *user) {
    (void)user;
    fwrite(piece, 1, len, stdout);
    fflush(stdout);
    return 0;
}

typedef struct {
    FtChatMessage msgs[CHAT_MAX_TURNS];
    char *owned[CHAT_MAX_TURNS];
    int n;
} Conversation;

static int add_turn(Conversation *c, const char *role, char *content_owned) {
    if (c->n == CHAT_MAX_TURNS) {
        free(content_owned);
        return -1;
    }
    c->owned[c->n] = content_owned;
    c->msgs[c->n] = (FtChatMessage){.role = role, .content = content_owned};
    c->n++;
    return 0;
}

/* The model, adapter (or NULL) and parameters every reply uses. */
typedef struct {
    const FtModel *model;
    const FtAdapter *adapter;
    FtGenParams params;
} ChatSetup;

static int reply(const ChatSetup *cs, Conversation *conv) {
    FtGenResult res;
    FtError err = {0};
    if (ft_generate_chat(cs->model, cs->adapter, conv->msgs, conv->n, &cs->params, print_piece, NULL, &res, &err)) {
        fprintf(stderr, "\nftune chat: %s\n", err.msg);
        return 1;
    }
    printf("\n");
    fflush(stdout);
    int rc = add_turn(conv, "assistant", res.text);
    return rc ? 1 : 0;
}

static int repl(const ChatSetup *cs, Conversation *conv) {
    char *line = NULL;
    size_t cap = 0;
    for (;;) {
        fprintf(stderr, "> ");
        ssize_t n = getline(&line, &cap, stdin);
        if (n <= 0) break;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
        if (n == 0) break;
        if (add_turn(conv, "user", strdup(line)) || reply(cs, conv)) {
            fprintf(stderr, "ftune chat: the conversation is too long\n");
            break;
        }
    }
    free(line);
    return 0;
}

int cmd_chat(int argc, char **argv) {
    Args a;
    int status;
    if (args_parse_command(&a, argc, argv, "chat", NULL, CHAT_OPTIONS, usage, &status)) return status;
    const char *model_path = args_get(&a, "model");
    if (!model_path || a.n_positional > 1) {
        usage();
        return EXIT_BAD_INPUT;
    }
    double temperature = 0, top_p = 1;
    long top_k = 0, seed = 0, max_tokens = 256, threads = 0, ctx = 4096;
    if (args_float(&a, "temperature", &temperature, 0, 100) || args_float(&a, "top-p", &top_p, 1e-9, 1) ||
        args_int(&a, "top-k", &top_k, 0, 1 << 24) || args_int(&a, "seed", &seed, 0, 0x7fffffffffffffffl) ||
        args_int(&a, "max-tokens", &max_tokens, 1, 1 << 24) || args_int(&a, "threads", &threads, 0, 1024) ||
        args_int(&a, "ctx", &ctx, 16, 1 << 20))
        return EXIT_BAD_INPUT;
    FtPrecision precision;
    if (cli_precision_parse(&a, &precision)) return EXIT_BAD_INPUT;

    FtError err = {0};
    FtModel *m;
    if (ft_model_load(model_path, &m, &err)) {
        fprintf(stderr, "ftune chat: %s\n", err.msg);
        return EXIT_BAD_INPUT;
    }
    if ((status = cli_precision_apply(m, precision))) {
        ft_model_free(m);
        return status;
    }
    FtModelInfo info;
    ft_model_info(m, &info);
    if (info.template_warning)
        fprintf(stderr, "ftune chat: warning: %s; using the plain chat format\n", info.template_warning);
    if (ctx > info.context_length) ctx = info.context_length;
    FtAdapter *lora = NULL;
    const char *adapter = args_get(&a, "adapter");
    if (adapter && ft_adapter_load(m, adapter, &lora, &err)) {
        fprintf(stderr, "ftune chat: %s\n", err.msg);
        ft_model_free(m);
        return EXIT_BAD_INPUT;
    }
    FtGrammar *grammar = NULL;
    const char *schema_path = args_get(&a, "json-schema");
    if (schema_path) {
        char *text;
        size_t len;
        Err ferr = {0};
        if (file_read_all(schema_path, CHAT_MAX_STDIN, &text, &len, &ferr)) {
            fprintf(stderr, "ftune chat: --json-schema: %s\n", ferr.msg);
        } else {
            if (ft_grammar_from_json_schema(text, len, false, &grammar, &err))
                fprintf(stderr, "ftune chat: --json-schema %s: %s\n", schema_path, err.msg);
            free(text);
        }
        if (!grammar) {
            ft_adapter_free(lora);
            ft_model_free(m);
            return EXIT_BAD_INPUT;
        }
    }
    ChatSetup cs = {m, lora, {0}};
    FtGenParams *gp = &cs.params;
    ft_gen_params_default(m, gp);
    gp->max_tokens = (int)max_tokens;
    gp->temperature = (float)temperature;
    gp->top_p = (float)top_p;
    gp->top_k = (int)top_k;
    gp->seed = (uint64_t)seed;
    gp->n_ctx = (int)ctx;
    gp->n_threads = (int)threads;
    const char *stop = args_get(&a, "stop");
    if (stop && *stop) gp->stop[gp->n_stop++] = stop;
    gp->grammar = grammar;

    Conversation conv = {0};
    const char *system = args_get(&a, "system");
    if (system) add_turn(&conv, "system", strdup(system));
    int rc = 0;
    if (a.n_positional == 1) {
        add_turn(&conv, "user", strdup(a.positional[0]));
        rc = reply(&cs, &conv);
    } else if (isatty(STDIN_FILENO)) {
        rc = repl(&cs, &conv);
    } else {
        char *text;
        size_t len;
        Err ferr = {0};
        if (file_read_all("/dev/stdin", CHAT_MAX_STDIN, &text, &len, &ferr)) {
            fprintf(stderr, "ftune chat: %s\n", ferr.msg);
            rc = EXIT_BAD_INPUT;
        } else {
            while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r')) text[--len] = 0;
            add_turn(&conv, "user", text);
            rc = reply(&cs, &conv);
        }
    }
    for (int i = 0; i < conv.n; i++) free(conv.owned[i]);
    ft_grammar_free(grammar);
    ft_adapter_free(lora);
    ft_model_free(m);
    return rc;
}
